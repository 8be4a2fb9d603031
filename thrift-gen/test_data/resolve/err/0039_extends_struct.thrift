# expect: TG0054
struct Parent {
  1: i32 n
}

service Child extends Parent {
  void call()
}
