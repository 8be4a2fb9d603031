service Base {
  void version()
}
