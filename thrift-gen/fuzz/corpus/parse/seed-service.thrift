exception NotFound { 1: string what }
service Base { void ping() }
/** Users. */
service Users extends Base {
  User get(1: i64 id, 2: bool fresh = false) throws (1: NotFound nf),
  oneway void log(1: string line);
  async void old(),
  list<map<i32, User>> many(1: set<i64> ids) (idempotent)
  i32 service(1: i32 throws)
} (version = "2")
