# expect: TG0053
service Child extends Parent {
  void call()
}
