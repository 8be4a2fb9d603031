# expect: TG0043
enum Colour {
  RED
}

enum Size {
  SMALL
}

const Colour FAVOURITE = Size.SMALL
