# expect: TG0043
const list<i32> NUMBERS = [1, 2, "three", 4]
