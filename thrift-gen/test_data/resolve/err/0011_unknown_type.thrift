# expect: TG0040
struct Order {
  1: Custmer customer
}

struct Customer {
  1: string name
}
