/** A user, as stored. */
struct User {
  1: required i64 id,
  2: optional string name = "anon" (go.tag = "json:\"name\""),
  3: list<string> tags = [],
  4: map<string, i32> scores = {"a": 1, "b": -2};
  5: set<binary> keys
  6: User &next,
  -1: bool flag = true
  7: uuid token
} (final)
