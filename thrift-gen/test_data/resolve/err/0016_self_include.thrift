# expect: TG0021
include "0016_self_include.thrift"

struct Me {
  1: i32 n
}
