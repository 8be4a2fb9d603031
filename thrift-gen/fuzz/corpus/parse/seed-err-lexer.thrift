const i64 TOO_BIG = 9223372036854775808
const i64 HEX_BIG = 0x10000000000000000
const double HUGE = 1e999
const i32 SIGN = - 
const string BAD = "bad \q escape"
const string OPEN = "never closed
typedef i32 $Dollar @ ! ~ ?
struct S { 1: i32 a. }
/* never closed
