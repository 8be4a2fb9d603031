struct Good {
  1: i32 n
}

struct Bad {
  1: i32 n,
  2: i32 n
}

const string NAME = "lib"
