/**
 * The service of Apache Thrift's cross-language test suite, written for
 * thrift-mu2sls: the same service, method and type names, argument and
 * field ids and wire types as Apache's `ThriftTest`, so that our
 * cross-test binaries (`examples/cross-test`) talk to Apache's test
 * clients and servers. What each method must do is described beside it.
 */

namespace rs thrift_test
namespace py thrift_test

/** The enum of the suite; values travel as i32. */
enum Numberz {
  /** 1 */
  ONE = 1,
  /** 2 */
  TWO,
  /** 3 */
  THREE,
  /** 5 */
  FIVE = 5,
  /** 6 */
  SIX,
  /** 8 */
  EIGHT = 8,
}

/** A user id: an i64 under another name. */
typedef i64 UserId

/** A struct of the base types, with gaps between its field ids. */
struct Xtruct {
  /** A string, possibly non-ASCII. */
  1: string string_thing,
  /** An i8 (Apache's IDL says `byte`). */
  4: i8 byte_thing,
  /** An i32. */
  9: i32 i32_thing,
  /** An i64. */
  11: i64 i64_thing,
}

/** A struct holding a struct between two scalars. */
struct Xtruct2 {
  /** An i8. */
  1: i8 byte_thing,
  /** The nested struct. */
  2: Xtruct struct_thing,
  /** An i32 after the nested struct (compact: delta from field 2). */
  3: i32 i32_thing,
}

/** Containers of enums, typedefs and structs. */
struct Insanity {
  /** Users by number. */
  1: map<Numberz, UserId> userMap,
  /** Some structs. */
  2: list<Xtruct> xtructs,
}

/** The declared exception of `testException` and `testMultiException`. */
exception Xception {
  /** 1001 from the test server. */
  1: i32 errorCode,
  /** The argument, or a fixed text. */
  2: string message,
}

/** The second declared exception of `testMultiException`. */
exception Xception2 {
  /** 2002 from the test server. */
  1: i32 errorCode,
  /** Carries a fixed text in `string_thing`. */
  2: Xtruct struct_thing,
}

/** The methods of the cross-language suite. */
service ThriftTest {
  /** Returns nothing. */
  void testVoid(),
  /** Returns `thing`. */
  string testString(1: string thing),
  /** Returns `thing`. */
  bool testBool(1: bool thing),
  /** Returns `thing`. */
  i8 testByte(1: i8 thing),
  /** Returns `thing`. */
  i32 testI32(1: i32 thing),
  /** Returns `thing`. */
  i64 testI64(1: i64 thing),
  /** Returns `thing`, bit for bit. */
  double testDouble(1: double thing),
  /** Returns `thing`. */
  binary testBinary(1: binary thing),
  /** Returns `thing`. */
  Xtruct testStruct(1: Xtruct thing),
  /** Returns `thing`. */
  Xtruct2 testNest(1: Xtruct2 thing),
  /** Returns `thing`. */
  map<i32, i32> testMap(1: map<i32, i32> thing),
  /** Returns `thing`. */
  map<string, string> testStringMap(1: map<string, string> thing),
  /** Returns `thing`. */
  set<i32> testSet(1: set<i32> thing),
  /** Returns `thing`. */
  list<i32> testList(1: list<i32> thing),
  /** Returns `thing`. */
  Numberz testEnum(1: Numberz thing),
  /** Returns `thing`. */
  UserId testTypedef(1: UserId thing),
  /**
   * Ignores `hello`; returns
   * `{-4: {-4: -4, -3: -3, -2: -2, -1: -1}, 4: {1: 1, 2: 2, 3: 3, 4: 4}}`.
   */
  map<i32, map<i32, i32>> testMapMap(1: i32 hello),
  /**
   * Returns `{1: {TWO: argument, THREE: argument}, 2: {SIX: an empty
   * Insanity}}`.
   */
  map<UserId, map<Numberz, Insanity>> testInsanity(1: Insanity argument),
  /** Returns `Xtruct { "Hello2", arg0, arg1, arg2 }`. */
  Xtruct testMulti(1: i8 arg0, 2: i32 arg1, 3: i64 arg2, 4: map<i16, string> arg3, 5: Numberz arg4, 6: UserId arg5),
  /**
   * `"Xception"`: throws `Xception { 1001, arg }`; `"TException"`: fails
   * with an undeclared error (an application exception); otherwise returns.
   */
  void testException(1: string arg) throws (1: Xception err1),
  /**
   * `"Xception"`: throws `Xception { 1001, "This is an Xception" }`;
   * `"Xception2"`: throws `Xception2 { 2002, { string_thing: "This is an
   * Xception2" } }`; otherwise returns `Xtruct { string_thing: arg1 }`.
   */
  Xtruct testMultiException(1: string arg0, 2: string arg1) throws (1: Xception err1, 2: Xception2 err2),
  /** Sleeps `secondsToSleep / 3` seconds; sends no reply. */
  oneway void testOneway(1: i32 secondsToSleep),
}

/** The second service of the multiplexed tests. */
service SecondService {
  /** Returns `testString("<thing>")`. */
  string secondtestString(1: string thing),
}
