# expect: TG0031
exception NotFound {
  1: string what
}

exception Denied {
  1: string who
}

service Users {
  void remove(1: i64 id) throws (1: NotFound notFound, 1: Denied denied)
}
