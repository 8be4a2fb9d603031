/** Structs, unions and exceptions: requiredness, defaults, recursion, keywords. */
namespace rs shapes

enum Kind { POINT = 1, LINE = 2 }

/** A point in the plane. */
struct Point {
  /** Horizontal. */
  1: required double x,
  2: required double y = 1.5,
  3: optional string label,
  4: Kind kind = Kind.POINT,
}

struct Tags {
  1: set<string> names,
  2: map<i32, list<binary>> blobs = {},
  3: list<bool> flags = [true, false],
  4: uuid id,
  5: i8 tiny = -1,
  6: optional i64 big = 9000000000,
}

/** A singly linked list: recursive through an optional field. */
struct Node {
  1: i32 value,
  2: optional Node next,
}

/** Mutually recursive through unions and structs. */
union Expr {
  1: i64 literal,
  2: Sum sum,
  3: list<Expr> many,
}

struct Sum {
  1: Expr left,
  2: Expr right,
}

exception NotFound {
  1: string message,
  2: i32 code = 404,
}

struct Keywords {
  1: i32 type,
  2: string match,
  3: bool self,
  4: i16 gen,
}

const Point ORIGIN = {"x": 0, "y": 0, "label": "origin"}
const Expr ONE = {"literal": 1}
