# expect: TW0004
# Structs, unions and exceptions with every requiredness and default
# values of every kind; `required` on a union member is only a warning.
enum Shade {
  LIGHT = 1,
  DARK = 2
}

struct Point {
  1: required i32 x,
  2: required i32 y
}

struct Defaults {
  1: required bool flag = true,
  2: optional i8 tiny = -1,
  3: i16 small = 0x7fff,
  4: i32 medium = Shade.DARK,
  5: i64 large = -9223372036854775808,
  6: double real = 1,
  7: string text = "hello",
  8: binary blob = "bytes",
  9: Shade shade = Shade.LIGHT,
  10: list<i32> numbers = [1, 2],
  11: set<string> words = ["x"],
  12: map<string, Shade> shades = {"l": Shade.LIGHT},
  13: Point origin = {"x": 0, "y": 0},
  14: optional Point nowhere
}

union Value {
  1: i32 number,
  2: string text,
  3: required Point point
}

exception NotFound {
  1: string message,
  2: optional i32 code = 404
}

struct Empty {
}
