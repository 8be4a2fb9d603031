# expect: TG0035
struct Negative {
  -1: i32 n
}
