# expect: TG0040
struct Basket {
  1: map<string, list<Fruit>> fruit
}
