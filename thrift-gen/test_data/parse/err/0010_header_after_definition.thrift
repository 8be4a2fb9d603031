# expect: TG0012
struct First {
  1: i32 n
}

namespace rs late
