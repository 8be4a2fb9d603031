# expect: TW0002 TW0002
# `byte` is an alias of `i8`, `async` of `oneway`; both still parse, with
# a warning each.
struct Small {
  1: byte tiny
}

service Legacy {
  async void fire(1: i8 n)
}
