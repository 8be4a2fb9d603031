# expect: TG0043
const i64 COUNT = 2.5
