/**
 * The exactly-once examples: a counter and a bank, each call run once
 * however often it is retried (compile with `--gen rust:exactly_once`).
 */
namespace rs bank
namespace py bank

/** A transfer asked for more than the source account holds. */
exception InsufficientFunds {
  1: string account,
  2: i64 balance,
  3: i64 wanted,
}

/** Named counters. */
service Counter {
  /** Adds `by` to counter `name` and returns its new value. */
  i64 increment(1: string name, 2: i64 by),
  /** The value of counter `name` (0 if never incremented). */
  i64 read(1: string name),
  /** Sets counter `name` to `value`. */
  void set(1: string name, 2: i64 value),
}

/** An account opened by `open`. */
struct Account {
  1: string id,
  2: string owner,
  /** When it was opened, in ms since the Unix epoch. */
  3: i64 opened_ms,
}

/** Accounts with balances; money moves between them atomically. */
service Bank {
  /** Opens an account with a fresh id. */
  Account open(1: string owner),
  /** Adds `amount` to `account` and returns the new balance. */
  i64 deposit(1: string account, 2: i64 amount),
  /** Moves `amount` from `source` to `target`, all or nothing. */
  void transfer(1: string source, 2: string target, 3: i64 amount) throws (1: InsufficientFunds insufficient),
  /** The balance of `account` (0 if it has none). */
  i64 balance(1: string account),
}
