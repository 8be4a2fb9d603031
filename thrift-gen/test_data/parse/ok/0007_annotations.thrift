# Annotations on every construct, including types nested in containers.
# A bare key means "1"; keys may be dotted. (Constants take none in
# Apache's grammar: see 0015_const_annotations.)
typedef i64 (cpp.type = "int64_t") Timestamp (doc.unit = "ms")

enum Level {
  LOW = 1 (label = "low"),
  HIGH (label = "high", bare)
} (rust.derive = "Hash")

struct Point {
  1: required i32 (min = "0") x (json = "x"),
  2: optional list<i32 (unit = "px")> (max_len = "8") ys,
  3: map<string (key = "1"), set<double (inner = "1")> (container = "set")> (container = "map") zs,
  4: Timestamp at (dotted.key.name = "v", flag)
} (final, rust.name = "Pt")

union Either {
  1: i32 left (tag = "l")
  2: string right (tag = "r")
} (union.note = "u")

exception Failure {
  1: string why (why = "because")
} (message = "why")

service Annotated {
  list<Point> (ret = "1") points(
    1: i32 (arg.type = "1") count (arg = "1")
  ) throws (1: Failure failure (throw = "1")) (method = "1"),
  oneway void fire() (idempotent)
} (service.version = "2")
