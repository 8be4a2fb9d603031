# expect: TG0052
struct Problem {
  1: string what
}

service Api {
  void call() throws (1: Problem problem)
}
