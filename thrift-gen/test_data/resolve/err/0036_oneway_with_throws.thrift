# expect: TG0051
exception Full {
  1: i32 size
}

service Events {
  oneway void publish(1: string event) throws (1: Full full)
}
