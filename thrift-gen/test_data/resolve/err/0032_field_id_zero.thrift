# expect: TG0035
struct Zero {
  0: i32 n
}
