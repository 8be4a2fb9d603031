struct FromFirst {
  1: i32 n
}
