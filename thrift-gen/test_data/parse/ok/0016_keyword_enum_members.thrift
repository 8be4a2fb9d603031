# Keywords as enum member names: a definition keyword inside a body starts a
# new definition only when a name follows it.
enum Keyword {
  struct = 1,
  const,
  service
}

const Keyword FIRST = Keyword.struct
