# expect: TG0010
struct Complete {
  1: i32 n
}

garbage after the last definition
