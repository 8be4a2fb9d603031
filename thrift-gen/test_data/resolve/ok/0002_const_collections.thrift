# Nested list, set, map and struct constants; `{}` is also an empty list or
# set, as in Apache; trailing separators are fine.
struct Inner {
  1: i32 n,
  2: optional string label
}

struct Outer {
  1: Inner inner,
  2: list<Inner> inners,
  3: map<string, list<i32>> table
}

const list<i32> NUMBERS = [1, 2, 3,]
const set<string> WORDS = ["a", "b"]
const list<string> EMPTY_LIST = []
const list<string> EMPTY_LIST_BRACES = {}
const set<i64> EMPTY_SET = {}
const map<i32, string> EMPTY_MAP = {}
const map<string, map<i32, list<set<i16>>>> DEEP = {
  "outer": { 1: [[1, 2], [3]], 2: [] },
}
const list<map<string, i32>> LIST_OF_MAPS = [{"a": 1}, {"b": 2, "c": 3}]
const Inner ONE = {"n": 1, "label": "one"}
const Outer NESTED = {
  "inner": {"n": 2},
  "inners": [{"n": 3}, {"n": 4, "label": "four"}],
  "table": {"k": [5, 6]},
}
const map<Inner, list<Outer>> KEYED = {{"n": 8}: [{"inner": {"n": 9}}]}
