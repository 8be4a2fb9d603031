# expect: TG0033
include "0049_duplicate_method_across_includes/base.thrift"

service Derived extends base.Base {
  void version()
}
