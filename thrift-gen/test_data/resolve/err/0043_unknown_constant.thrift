# expect: TG0042
const i32 LIMIT = 10
const i32 DOUBLE_LIMIT = LIMTI
