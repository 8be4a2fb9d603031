/** The example's service, compiled by Apache's `thrift --gen rs` (not by us). */
exception Oops {
  1: string why,
}

struct Msg {
  1: string text,
  2: i64 n,
}

service Echo {
  Msg echo(1: Msg m) throws (1: Oops oops),
  oneway void note(1: string s),
  i64 notes(),
}
