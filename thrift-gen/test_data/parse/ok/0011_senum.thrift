# expect: TW0002
# `senum` is deprecated: it declares a string type (values unchecked).
senum Fruit {
  "apple",
  "banana";
  "cherry"
}

struct Basket {
  1: Fruit fruit
}
