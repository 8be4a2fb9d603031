# Typedef chains resolve to their base type; constants and defaults typed
# through a chain are checked against the end of the chain.
typedef i32 Base
typedef Base Middle
typedef Middle Top
typedef list<Top> TopList
typedef map<Middle, TopList> Index
typedef Record RecordAlias
typedef RecordAlias RecordAlias2

struct Record {
  1: Top value = 5,
  2: TopList values = [1, 2],
  3: Index index = {1: [2, 3]}
}

const Top TOP = 10
const TopList TOPS = [TOP, 11]
const RecordAlias2 RECORD = {"value": 1}
