# expect: TG0045
# A field default, like a constant, may only use constants defined above it.
struct Config {
  1: i32 retries = DEFAULT_RETRIES
}

const i32 DEFAULT_RETRIES = 3
