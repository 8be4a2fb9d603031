# expect: TG0043
struct Endpoint {
  1: string host,
  2: i32 port
}

const Endpoint LOCAL = {"host": "localhost", "port": "80"}
