# expect: TG0031
service Users {
  void rename(1: i64 id, 1: string name)
}
