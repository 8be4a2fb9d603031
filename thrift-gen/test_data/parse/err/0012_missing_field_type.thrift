# expect: TG0010
struct NoType {
  1: i32 ok,
  2: = 5,
  3: string fine
}
