# expect: TG0030
struct Thing {
  1: i32 n
}

enum Thing {
  A
}
