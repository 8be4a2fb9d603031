# expect: TG0041
typedef T T
