# expect: TG0010
# Types nest at most 128 levels deep: here are 129.
const
  list<list<list<list<list<list<list<list<list<list<list<list<list<list<list<list<
  list<list<list<list<list<list<list<list<list<list<list<list<list<list<list<list<
  list<list<list<list<list<list<list<list<list<list<list<list<list<list<list<list<
  list<list<list<list<list<list<list<list<list<list<list<list<list<list<list<list<
  list<list<list<list<list<list<list<list<list<list<list<list<list<list<list<list<
  list<list<list<list<list<list<list<list<list<list<list<list<list<list<list<list<
  list<list<list<list<list<list<list<list<list<list<list<list<list<list<list<list<
  list<list<list<list<list<list<list<list<list<list<list<list<list<list<list<list<
  i32
  >>>>>>>>>>>>>>>>
  >>>>>>>>>>>>>>>>
  >>>>>>>>>>>>>>>>
  >>>>>>>>>>>>>>>>
  >>>>>>>>>>>>>>>>
  >>>>>>>>>>>>>>>>
  >>>>>>>>>>>>>>>>
  >>>>>>>>>>>>>>>>
  DEEP = []
