service Root {
  void root(),
  i32 version()
}
