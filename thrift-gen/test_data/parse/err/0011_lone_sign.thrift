# expect: TG0006
const i32 SIGN = - 5
