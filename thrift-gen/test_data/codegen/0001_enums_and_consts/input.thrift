/**
 * Every constant shape the skeleton generator emits, and enums with
 * implicit, explicit, negative and hexadecimal values.
 */
namespace rs consts_demo

/** Colours, in no particular order. */
enum Color {
  /** The first one. */
  RED = 1,
  GREEN,
  BLUE = 0x10,
  DARK = -3,
  DARKER,
}

enum Empty {}

/** Names that are Rust keywords or conventions collide with. */
enum match {
  self,
  type = 7,
  gen
}

typedef i64 Timestamp
typedef Timestamp When
typedef list<Color> Palette
typedef map<string, set<i16>> Index
typedef i32 Self

const bool YES = true
const bool ON = 1
const i8 SMALL = -128
const i16 MEDIUM = 0x7fff
const i32 LARGE = -2147483648
const i64 HUGE = -9223372036854775808
const double RATIO = 2.5e-3
const double WIDENED = 3
const string GREETING = "tab\there \"quoted\" ünïcode"
const binary MAGIC = "\n\r"
const Timestamp EPOCH = 0
const When LATER = EPOCH
const Color FAVOURITE = Color.BLUE
const Color BY_VALUE = 2
const Palette RAINBOW = [Color.RED, Color.GREEN, 16]
const Index LOOKUP = {"a": [1, 2], "b": []}
const list<list<double>> GRID = [[1, 2.5], [], [-0.5]]
const set<string> TAGS = ["x", "y"]
const map<Color, string> NAMES = {Color.RED: "red", Color.DARK: "dark"}
const list<binary> BLOBS = ["\\0"]
const Self ME = 5
const i32 type = 1
