# expect: TG0055
enum Edge {
  LAST = 2147483647,
  BEYOND
}
