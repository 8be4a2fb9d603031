# expect: TG0043
const i32 PORT = "8080"
