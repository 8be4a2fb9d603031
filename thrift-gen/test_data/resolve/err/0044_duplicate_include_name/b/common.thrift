struct FromB {
  1: i32 n
}
