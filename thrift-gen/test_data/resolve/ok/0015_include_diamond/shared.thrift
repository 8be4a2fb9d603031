typedef i64 Id
