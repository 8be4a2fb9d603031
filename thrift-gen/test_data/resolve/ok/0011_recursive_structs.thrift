# Recursive types: a struct holding itself (optional, or through a
# container), mutual recursion by value and through typedefs and unions.
struct Tree {
  1: i32 value,
  2: optional Tree left,
  3: optional Tree right,
  4: list<Tree> children
}

struct Ping {
  1: optional Pong pong
}

struct Pong {
  1: optional Ping ping
}

typedef Chain ChainAlias

struct Chain {
  1: optional ChainAlias link,
  2: map<string, Chain> named
}

union Json {
  1: string text,
  2: double number,
  3: list<Json> array,
  4: map<string, Json> object,
  5: bool boolean,
  6: JsonNull null
}

struct JsonNull {
}

exception Nested {
  1: optional Nested cause
}
