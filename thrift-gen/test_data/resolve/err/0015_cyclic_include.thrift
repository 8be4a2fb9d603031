# expect: TG0021
include "0015_cyclic_include/a.thrift"
