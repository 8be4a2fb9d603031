/** Services: results, void, oneway, declared exceptions, borrowed arguments, extends across includes. */
include "base.thrift"

namespace rs calc

exception DivideByZero {
  1: string message,
}

exception Overflow {
  1: i64 limit,
}

struct Pair {
  1: i64 a,
  2: i64 b,
}

service Calculator extends base.Base {
  i64 add(1: i64 a, 2: i64 b),
  /** Integer division. */
  i64 divide(1: i64 a, 2: i64 b) throws (1: DivideByZero zero, 2: Overflow overflow),
  void reset(),
  oneway void log(1: string line),
  binary echo_bytes(1: binary data, 2: optional binary extra),
  list<i64> sums(1: list<Pair> pairs),
  void type(1: bool match),
}
