# include-dir: 0014_include_precedence/idir
# An include is looked up relative to the including file before any -I
# directory: `middle.thrift` includes `leaf.thrift`, which exists both
# beside it and in the -I directory; the one beside it wins.
include "0014_include_precedence/middle.thrift"

const i32 VALUE = middle.LEAF_VALUE
