# Includes relative to the including file (also from a subdirectory, which
# includes its own sibling); qualified names `inc.Type`, `inc.CONST`,
# `inc.Enum.VALUE`; a service extending an included one.
include "0012_include_relative/geometry/shapes.thrift"

struct Drawing {
  1: list<shapes.Shape> shapes,
  2: shapes.Kind kind = shapes.Kind.SQUARE,
  3: shapes.Size size = shapes.DEFAULT_SIZE,
  4: shapes.Shape origin = {"kind": shapes.Kind.CIRCLE, "side": shapes.DEFAULT_SIDE}
}

const shapes.Kind DEFAULT_KIND = shapes.Kind.CIRCLE
const i32 DEFAULT_SIDE = shapes.DEFAULT_SIDE
const list<shapes.Shape> SHAPES = [{"kind": shapes.Kind.SQUARE, "side": 2}]

service Renderer extends shapes.ShapeService {
  void render(1: Drawing drawing) throws (1: shapes.BadShape bad)
}
