# expect: TG0010 TG0010 TG0010 TG0002
# Parsing resumes at the next field, function or definition, so every one
# of these is reported in one run.
struct A {
  1: i32 good,
  2: i32 = 3,
  3: string fine
}

enum E {
  ONE = "one",
  TWO = 2
}

service S {
  void ok(),
  void (1: i32 missing_name),
  void alsoOk()
}

const string S2 = "unterminated
