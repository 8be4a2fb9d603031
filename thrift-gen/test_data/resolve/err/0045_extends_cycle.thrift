# expect: TG0057 TG0057
service Ping extends Pong {
  void ping()
}

service Pong extends Ping {
  void pong()
}
