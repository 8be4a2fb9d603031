# Containers nest arbitrarily; `>>` needs no space.
struct Nested {
  1: list<list<i32>> grid,
  2: map<string, list<map<i32, set<string>>>> deep,
  3: set<list<binary>> blobs,
  4: map<list<i32>, map<set<i64>, double>> keyed,
  5: list<list<list<list<list<list<list<list<bool>>>>>>>> eight
}
