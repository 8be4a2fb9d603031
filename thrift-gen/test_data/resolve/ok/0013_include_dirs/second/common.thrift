# Shadowed by first/common.thrift: nothing here may be used.
struct FromSecond {
  1: i32 n
}
