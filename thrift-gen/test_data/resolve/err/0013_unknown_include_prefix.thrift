# expect: TG0040
struct Remote {
  1: other.Thing thing
}
