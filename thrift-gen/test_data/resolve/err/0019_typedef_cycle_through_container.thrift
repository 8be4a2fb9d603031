# expect: TG0041
typedef list<Rows> Table
typedef Table Rows
