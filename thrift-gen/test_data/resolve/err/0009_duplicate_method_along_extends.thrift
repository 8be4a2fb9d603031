# expect: TG0033
service Base {
  void ping()
}

service Middle extends Base {
  void other()
}

service Leaf extends Middle {
  void ping()
}
