# expect: TG0005
const i32 INT = 0x80000000
