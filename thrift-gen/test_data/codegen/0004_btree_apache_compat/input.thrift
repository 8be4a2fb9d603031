/** `btree` containers (ordered, so structs derive `Ord`) and Apache's `TSerializable`. */
namespace rs ordered

struct Pair {
  1: i32 a,
  2: string b,
}

struct Bag {
  1: set<Pair> pairs,
  2: map<string, Pair> by_name,
}

enum Level { LOW = 1, HIGH = 2 }
