# expect: TG0011
struct Open {
  1: i32 a,
  2: string b
