# expect: TG0045
const i32 TOTAL = PART
const i32 PART = 5
