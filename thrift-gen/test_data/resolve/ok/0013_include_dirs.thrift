# include-dir: 0013_include_dirs/first
# include-dir: 0013_include_dirs/second
# Includes found through -I directories, searched in order: `common.thrift`
# is in both and the first directory's copy wins; `extra.thrift` is only in
# the second.
include "common.thrift"
include "extra.thrift"

struct UsesBoth {
  1: common.FromFirst first,
  2: extra.Extra extra
}
