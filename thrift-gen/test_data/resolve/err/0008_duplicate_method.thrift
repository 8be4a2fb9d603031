# expect: TG0033
service Api {
  void fetch(),
  i32 fetch(1: i32 id)
}
