# Syntax Apache still parses but that means nothing to the Rust generator:
# `&` references, `cpp_type`, and the `xsd_*` modifiers.
struct Node {
  1: optional Node &child,
  2: map cpp_type "std::unordered_map<int, int>" <i32, i32> table,
  3: set cpp_type "std::unordered_set<int>" <i32> members,
  4: list<i32> cpp_type "std::deque<int>" queue
}

struct Xsd xsd_all {
  1: i32 plain xsd_optional,
  2: i32 nillable xsd_nillable,
  3: i32 attributed xsd_attrs { 1: string lang },
}
