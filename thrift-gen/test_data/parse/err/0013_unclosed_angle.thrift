# expect: TG0010
struct Angles {
  1: list<i32 numbers,
  2: i32 next
}
