# expect: TG0001
struct Money {
  1: i32 amount $
}
