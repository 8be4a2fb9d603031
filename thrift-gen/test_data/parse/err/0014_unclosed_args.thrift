# expect: TG0011 TG0011
# Both the argument list and the service body are left open.
service Calls {
  void call(1: i32 a, 2: i32 b
