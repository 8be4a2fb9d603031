# Thrift keywords as field and argument names (Thrift 0.18+, THRIFT-5626;
# 0.17 rejects them).
struct KeywordFields {
  1: i32 list,
  2: string map,
  3: bool include,
  4: i64 namespace,
  5: double const,
  6: optional binary optional,
  7: required i32 required,
  8: i32 oneway,
  9: i32 void,
  10: i32 throws,
  11: i32 struct,
  12: i32 service,
  13: i32 enum,
  14: uuid uuid
}

service KeywordArguments {
  void call(1: i32 typedef, 2: string exception, 3: i32 union, 4: i32 extends)
}
