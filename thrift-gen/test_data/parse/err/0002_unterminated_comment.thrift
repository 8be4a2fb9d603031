# expect: TG0003
struct Before {
  1: i32 n
}

/* this comment never ends
struct After {
  1: i32 n
}
