# expect: TG0043
# Argument defaults are checked against the argument's type, like field
# defaults.
service Api {
  void call(1: i32 retries = "three")
}
