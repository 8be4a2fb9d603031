//! Fresh randomness for the values `Ctx::random` and `Ctx::uuid` log, and for
//! fresh call ids. Only first executions draw from it: replays read the log.

/// `N` bytes from the operating system's generator.
pub(crate) fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // As `Uuid::new_v4` and `rand` do, an operating system without a working
    // generator is a fatal environment fault, not a recoverable error.
    getrandom::fill(&mut out).expect("the operating system's random number generator failed");
    out
}
