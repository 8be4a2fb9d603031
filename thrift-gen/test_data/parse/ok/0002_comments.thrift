# Comments may appear wherever whitespace may.
namespace /* between */ rs /* tokens */ comments // to end of line

/** A documented struct. */
struct Documented {
  /** The first field. */
  1: i32 /* inside a field */ first, # trailing hash comment
  // a line comment between fields
  2: /* before the type */ string second /* before the separator */ ;
  /**
   * A multi-line doc comment
   * with leading stars.
   */
  3: list</* in a type */ i32> third
}

/** Documented enum. */
enum Colour {
  /** documented value */
  RED,
  GREEN /* after a value */ = /* before the number */ 2
}

/***/
const i32 EMPTY_DOC = 1

/** A documented service. */
service Commented {
  /** a documented method */
  void ping(/* no args */) // done
}
