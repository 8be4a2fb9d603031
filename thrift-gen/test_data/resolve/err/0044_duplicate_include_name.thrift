# expect: TG0022
include "0044_duplicate_include_name/a/common.thrift"
include "0044_duplicate_include_name/b/common.thrift"
