struct FromA {
  1: i32 n
}
