enum Unit {
  MM,
  CM
}

typedef double Length

const Length ONE_METRE = 1000
