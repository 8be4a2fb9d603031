/** The exactly-once flavour (`--gen rust:exactly_once`): durable traits and servers next to the plain ones, extends included. */
namespace rs bank

exception InsufficientFunds {
  1: i64 balance,
  2: i64 wanted,
}

/** Read-only view of the accounts. */
service Ledger {
  i64 balance(1: string account),
}

service Bank extends Ledger {
  /** Adds `amount` and returns the new balance. */
  i64 deposit(1: string account, 2: i64 amount),
  void transfer(1: string source, 2: string target, 3: i64 amount) throws (1: InsufficientFunds insufficient),
  oneway void audit(1: string note),
}
