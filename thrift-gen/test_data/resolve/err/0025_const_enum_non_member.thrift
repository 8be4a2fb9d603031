# expect: TG0043
enum Level {
  LOW = 1,
  HIGH = 5
}

const Level MIDDLE = 3
