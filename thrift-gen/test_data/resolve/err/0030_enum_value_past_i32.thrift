# expect: TG0055
enum Big {
  SMALL = 1,
  HUGE = 2147483648
}
