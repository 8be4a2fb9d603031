# expect: TG0013
struct Old {
  1: slist names
}
