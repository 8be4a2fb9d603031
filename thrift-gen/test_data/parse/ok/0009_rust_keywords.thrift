# Names that are Rust keywords (the generator escapes them: `r#type`,
# `self_`, `r#gen`, ...). They are plain identifiers in Thrift.
struct match {
  1: i32 type,
  2: string fn,
  3: bool self,
  4: i64 gen,
  5: i32 async_,
  6: i32 move,
  7: i32 mod,
  8: i32 crate,
  9: i32 super,
  10: i32 Self,
  11: i32 dyn,
  12: i32 try,
  13: i32 await,
  14: i32 loop,
  15: i32 where,
  16: i32 impl,
  17: i32 trait,
  18: i32 use,
  19: i32 pub,
  20: i32 let
}

enum impl {
  ref,
  static,
  unsafe
}

typedef match loop

const impl where = impl.ref

service trait {
  match fn(1: loop type, 2: impl self),
  void gen(1: i32 mut)
}
