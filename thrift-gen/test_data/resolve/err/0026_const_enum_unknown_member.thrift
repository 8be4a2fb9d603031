# expect: TG0042
enum Level {
  LOW = 1,
  HIGH = 5
}

const Level MIDDLE = Level.MEDIUM
