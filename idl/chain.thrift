/**
 * Services that call each other exactly once (`examples/exactly-once`):
 * Front calls Relay, which calls Tally (a chain of three), and Front fans
 * calls out to Tally asynchronously.
 */
namespace rs chain

/** A call the relay refuses: a declared exception, so a recorded result. */
exception Refused {
  1: string reason,
}

/** The last hop: named tallies, one store entry each. */
service Tally {
  /** Adds `amount` to `name` and returns the new total. */
  i64 add(1: string name, 2: i64 amount),
  i64 total(1: string name),
}

/** The middle hop: counts what it forwards, then adds to Tally. */
service Relay {
  i64 forward(1: string name, 2: i64 amount) throws (1: Refused refused),
}

/** The entry. */
service Front {
  /** Front → Relay → Tally: the new total of `name`. */
  i64 order(1: string name, 2: i64 amount) throws (1: Refused refused),
  /** Adds `amount` to every name, the calls made concurrently: the new totals, in order. */
  list<i64> spread(1: list<string> names, 2: i64 amount),
  /** Adds `amount` to `name` without waiting (fire and forget): the collector sees it done. */
  void notify(1: string name, 2: i64 amount),
}
