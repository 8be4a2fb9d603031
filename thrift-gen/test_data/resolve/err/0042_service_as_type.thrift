# expect: TG0056
service Api {
  void call()
}

struct Holder {
  1: Api api
}
