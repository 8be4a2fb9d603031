# expect: TW0003
# Enum values: implicit (previous + 1, from 0), explicit, negative, hex,
# the i32 extremes; a repeated number is only a warning.
enum Implicit {
  ZERO,
  ONE,
  TWO
}

enum Mixed {
  A,
  B = -3,
  C,
  D = 0x10,
  E,
  F = -0x7fffffff
}

enum Extremes {
  MIN = -2147483648,
  MAX = 2147483647
}

enum Alias {
  FIRST = 1,
  SECOND = 1
}

enum Empty {
}

const Mixed C_IS_MINUS_TWO = -2
const Mixed E_IS_SEVENTEEN = 17
