# expect: TG0002
const string GREETING = "hello
const i32 AFTER = 1
