include "units.thrift"

enum Kind {
  CIRCLE = 1,
  SQUARE = 2
}

typedef units.Length Size

struct Shape {
  1: Kind kind,
  2: i32 side,
  3: optional units.Unit unit = units.Unit.MM
}

exception BadShape {
  1: string why
}

const i32 DEFAULT_SIDE = 10
const Size DEFAULT_SIZE = units.ONE_METRE
const Shape ORIGIN = {"kind": Kind.CIRCLE, "side": DEFAULT_SIDE}

service ShapeService {
  Shape describe(1: Kind kind)
}
