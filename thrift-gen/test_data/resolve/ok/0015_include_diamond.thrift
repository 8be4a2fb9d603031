# Two includes sharing a third: the shared file is read once, and its types
# are the same type through both paths.
include "0015_include_diamond/left.thrift"
include "0015_include_diamond/right.thrift"

struct Both {
  1: left.Wrapper l,
  2: right.Wrapper r
}

const left.Wrapper FROM_LEFT = {"id": right.SHARED_ID}
