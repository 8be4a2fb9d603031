# Constants have a namespace of their own (as in Apache): a constant may
# share its name with a type.
struct Limit {
  1: i32 value
}

const i32 Limit = 10

struct Holder {
  1: i32 limit = Limit
}
