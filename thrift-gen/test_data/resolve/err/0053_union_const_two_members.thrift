# expect: TG0043
union Value {
  1: i32 number,
  2: string text
}

const Value ONE = {"number": 1}
const Value BOTH = {"number": 1, "text": "one"}
