# `,`, `;` or nothing after fields, arguments, functions, enum values,
# typedefs, consts, annotation entries and constant list/map items.
typedef i32 Comma,
typedef i32 Semi;
typedef i32 Nothing

const list<i32> NO_SEPARATORS = [1 2 3]
const list<i32> MIXED = [1, 2; 3,],
const map<string, i32> MAP_ITEMS = {"a": 1; "b": 2 "c": 3,};

enum Sep {
  COMMA = 1,
  SEMI = 2;
  NOTHING = 3
}

struct S {
  1: i32 comma,
  2: i32 semi;
  3: i32 nothing
  4: i32 annotated (a = "1", b = "2"; c = "3" d)
}

service Separated {
  void comma(1: i32 a, 2: i32 b),
  void semi(1: i32 a; 2: i32 b);
  void nothing(1: i32 a 2: i32 b)
}
