# expect: TG0050
service Events {
  oneway i32 publish(1: string event)
}
