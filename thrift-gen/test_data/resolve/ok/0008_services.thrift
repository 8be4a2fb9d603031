# Services: void, oneway, throws, extends, arguments of every kind.
exception Unavailable {
  1: string reason
}

exception Forbidden {
  1: string who
}

struct Item {
  1: i64 id
}

service Base {
  void ping(),
  oneway void notify(1: string event),
  i32 version()
}

service Store extends Base {
  Item get(1: i64 id) throws (1: Unavailable unavailable, 2: Forbidden forbidden),
  list<Item> scan(1: i64 start, 2: i32 limit = 10, 3: optional string prefix),
  void put(1: required Item item) throws (1: Unavailable unavailable),
  map<i64, Item> getMany(1: set<i64> ids) throws ()
}

service Cache extends Store {
  oneway void invalidate(1: i64 id)
}
