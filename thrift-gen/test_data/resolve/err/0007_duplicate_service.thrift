# expect: TG0030
service Api {
  void a()
}

service Api {
  void b()
}
