# expect: TG0034
enum Colour {
  RED = 1,
  GREEN = 2,
  RED = 3
}
