# A chain of services across files: a method name may be reused by
# services that are not on one chain.
include "0017_extends_across_includes/base.thrift"

service Middle extends base.Root {
  void middle()
}

service Leaf extends Middle {
  void leaf()
}

service Sibling extends base.Root {
  void middle()
}
