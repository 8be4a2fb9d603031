# A struct constant used by name inside other constants (Apache 0.17 only
# takes a literal map where a struct is expected).
struct Inner {
  1: i32 n
}

struct Outer {
  1: Inner inner,
  2: list<Inner> inners
}

const Inner ONE = {"n": 1}
const list<Inner> INNERS = [ONE, {"n": 2}]
const Outer OUTER = {"inner": ONE, "inners": INNERS}
