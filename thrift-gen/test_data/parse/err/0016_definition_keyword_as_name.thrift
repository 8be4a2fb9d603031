# expect: TG0010
struct struct {
  1: i32 n
}
