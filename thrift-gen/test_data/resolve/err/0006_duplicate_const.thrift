# expect: TG0030
const i32 LIMIT = 10
const i32 LIMIT = 20
