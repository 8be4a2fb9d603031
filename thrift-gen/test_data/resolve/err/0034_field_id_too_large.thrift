# expect: TG0035
struct Large {
  32768: i32 n
}
