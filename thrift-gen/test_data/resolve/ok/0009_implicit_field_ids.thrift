# expect: TW0001 TW0001 TW0001 TW0001
# A field or argument without an id gets -1, -2, ... per list, with a
# warning; explicit ids in the same list are unaffected.
struct Legacy {
  i32 first,
  2: i32 second,
  string third
}

service OldStyle {
  void call(string name, 1: i32 count),
  void other(i32 a)
}
