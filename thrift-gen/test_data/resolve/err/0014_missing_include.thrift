# expect: TG0020
include "does_not_exist.thrift"

struct Local {
  1: i32 n
}
