/**
 * Differential codec tests (tests/e2e/codec_interop.rs): every type shape
 * the wire has, written and read by our codec, by Apache's Python library
 * (0.17, pure and C-accelerated) and by Apache's Rust crate (0.25).
 *
 * Apache 0.17 has no `uuid`, so none appears here. Fields are declared in
 * id order, the order every Apache writer uses, so that encodings of the
 * same value can be compared byte for byte.
 */
namespace py interop
namespace rs interop

/** An enum with negative, sparse and extreme values. */
enum Color {
  RED = 1,
  GREEN = 2,
  BLUE = 3,
  NEGATIVE = -7,
  LARGEST = 2147483647,
}

/** Every base type once. */
struct Scalars {
  1: bool flag,
  2: i8 octet,
  3: i8 tiny,
  4: i16 small,
  5: i32 medium,
  6: i64 large,
  7: double real,
  8: string text,
  9: binary blob,
  10: Color color,
}

struct Point {
  1: i32 x,
  2: i32 y,
}

/** Structs inside structs, alone and in a list. */
struct Shape {
  1: string name,
  2: Point origin,
  3: list<Point> vertices,
  4: optional Point center,
}

/** A recursive union (through `items`). */
union Value {
  1: bool flag,
  2: i64 number,
  3: string text,
  4: Point point,
  5: list<Value> items,
}

exception Oops {
  1: string message,
  2: i32 code,
  3: optional Point origin,
}

/** Every container shape, including containers of containers. */
struct Containers {
  1: list<i32> ints,
  2: set<string> names,
  3: map<string, i64> counts,
  4: map<i32, Point> points,
  5: list<bool> flags,
  6: list<Point> path,
  7: list<map<string, list<i32>>> nested,
  8: map<string, map<i32, set<i16>>> deep,
  9: set<Color> colors,
  10: list<binary> blobs,
  11: list<double> reals,
  12: map<i8, bool> bits,
  13: list<list<bool>> grid,
  14: list<Value> values,
  15: list<Oops> errors,
  16: set<bool> truths,
}

/** required, optional and default requiredness, with and without IDL defaults. */
struct Requiredness {
  1: required i32 req_int,
  2: required string req_text,
  3: optional i32 opt_int,
  4: optional string opt_text,
  5: i32 def_int = 42,
  6: string def_text = "hello",
  7: optional bool opt_flag = true,
  8: list<i32> def_list = [1, 2, 3],
  9: Color def_color = Color.GREEN,
  10: double def_real = 2.5,
  11: optional Point opt_point,
  12: required Point req_point,
}

/**
 * Ids that are not consecutive: compact writes a one-byte header when the
 * id is 1 to 15 above the previous one and a long header (type, zigzag id)
 * otherwise, for bool fields too.
 */
struct Sparse {
  1: i32 a,
  2: bool b,
  20: string c,
  21: bool d,
  36: i16 e,
  100: bool f,
  115: i64 g,
  300: list<Point> h,
  301: bool i,
  1000: Point j,
  1016: i8 k,
  32767: bool last,
}

/** The older schema of a record. */
struct RecordV1 {
  1: i32 id,
  2: string name,
  5: bool active,
  12: double score,
}

/**
 * The newer schema: the same ids as V1 plus fields V1 must skip, of every
 * wire type, before, between and after the ones it knows.
 */
struct RecordV2 {
  1: i32 id,
  2: string name,
  3: Point origin,
  4: list<map<string, Point>> extra,
  5: bool active,
  6: bool archived,
  7: i8 level,
  8: i16 rank,
  9: i64 stamp,
  10: set<string> tags,
  11: binary data,
  12: double score,
  13: Value value,
  14: map<i32, list<bool>> checks,
  40: bool far_flag,
  41: double far_real,
  200: list<list<Point>> grid,
}

/** The ids of RecordV1 with other wire types: a V1 reader skips them all. */
struct RecordRetyped {
  1: string id,
  2: list<i32> name,
  5: i32 active,
  12: bool score,
}

struct Inner {
  1: i32 value,
  2: bool inner_flag,
}

/**
 * A bool field right after a nested struct (pilota#371): in compact its
 * header's id delta is relative to the field before the struct, so a
 * writer or reader that forgets to restore the last id at struct end gets
 * it wrong.
 */
struct BoolAfterStruct {
  1: Inner inner,
  2: bool flag,
  3: list<Inner> inners,
  4: bool flag2,
  5: map<i32, Inner> by_id,
  6: bool flag3,
  30: Inner far,
  31: bool flag4,
  32: Value value,
  33: bool flag5,
}

/** A tree: recursion through a list. */
struct Tree {
  1: i32 value,
  2: list<Tree> children,
}

/** A chain: recursion through an optional field, one struct per level. */
struct Chain {
  1: i32 depth,
  2: optional Chain next,
}

struct Empty {}

/** Empty structs and unions as fields. */
struct Holder {
  1: Empty empty,
  2: Value unset,
  3: list<Empty> empties,
}
