# A constant of every base type (uuid: see the uuid case), and of a
# typedef of one.
const bool FLAG = true
const i8 TINY = -128
const i16 SMALL = 32767
const i32 MEDIUM = -2147483648
const i64 LARGE = 9223372036854775807
const double REAL = 3.25
const string TEXT = "text"
const binary BLOB = "raw bytes"

typedef i16 Port
const Port HTTP = 80
