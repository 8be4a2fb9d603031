struct Extra {
  1: string s
}
