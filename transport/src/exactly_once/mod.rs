//! Exactly-once execution of one service's handler calls (spec §2): call
//! identity, the engine that serves a call once, the handler context whose
//! every operation is a logged step, intents and their collector, and
//! garbage collection with tombstones.
//!
//! The state machine is pure in the STYLE sense: it reaches the world only
//! through the [`Store`](crate::Store) trait and an injected [`Clock`].

mod call_id;
mod callback;
mod clock;
mod collector;
mod ctx;
mod engine;
mod entropy;
mod error;
mod fingerprint;
mod invoke;
mod record;
mod serve;

#[cfg(test)]
mod tests;

pub use self::call_id::{CallId, CallIdError, CallIdProblem, CallMeta, CallerMeta};
pub(crate) use self::callback::is_callback;
pub use self::callback::{CallbackError, CallbackKey, receive_callback, verify_signature};
pub(crate) use self::clock::millis;
pub use self::clock::{Clock, ManualClock, SystemClock};
pub use self::collector::{Collector, CollectorReport, Intent, Redriver};
pub use self::ctx::{Ctx, PMap, StepValue, Tx, TxError, TxInterrupt};
pub use self::engine::{Engine, EngineConfig, GcReport, Request};
pub use self::error::{BoxError, EngineError, StepKind};
pub use self::invoke::{DurableFuture, LocalService, Peer, ServiceClient};
pub use self::serve::{DispatchRedriver, DurableCall, serve_durable};
