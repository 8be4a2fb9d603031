# expect: TG0040 TG0032 TG0043
# Errors in included files are reported too, in the file they are in.
include "0048_errors_across_includes/lib.thrift"

struct Main {
  1: lib.Good good,
  2: lib.Bad bad,
  3: lib.Missing missing
}

const i32 WRONG = lib.NAME
