//! The errors of exactly-once execution (spec §2.8, class `Infra`), each
//! naming the call and, where there is one, the step.

use std::fmt;

use crate::codec::DecodeError;
use crate::store::{Key, StoreError};

use super::call_id::CallId;

/// A boxed error a handler reports as [`EngineError::HandlerFailed`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why exactly-once execution did not produce (or replay) a result.
///
/// A declared Thrift exception is not an `EngineError`: it is part of the
/// result bytes, recorded and replayed like any reply. Of these errors, only
/// [`is_retryable`](EngineError::is_retryable) ones may be retried, always
/// with the same call id.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// This execution issued a different operation at `step` than the one
    /// the log holds: the handler is not deterministic over its logged
    /// inputs. Raised before any effect at that step; a root's intent is
    /// parked.
    #[error("call {call}: divergence at step {step}: issued {issued}, log holds {logged}")]
    Divergence {
        /// The call.
        call: CallId,
        /// The step.
        step: u64,
        /// The operation this execution issued.
        issued: StepKind,
        /// The operation the log holds at that step.
        logged: StepKind,
    },
    /// The call id already belongs to a call with a different request.
    #[error("call {call}: call id already used by a different request")]
    CallIdConflict {
        /// The call.
        call: CallId,
    },
    /// No record of the call exists and its origin is older than the
    /// expiry window W: it may have run and been collected, so it never
    /// runs (again).
    #[error("call {call}: call id expired (origin {origin_ms} ms, window ends {window_end_ms} ms)")]
    ExpiredCallId {
        /// The call.
        call: CallId,
        /// The call's origin.
        origin_ms: u64,
        /// `origin + W`.
        window_end_ms: u64,
    },
    /// The attempt's deadline passed before the call started: it definitely
    /// did not run (class `NotExecuted`).
    #[error("call {call}: not executed, deadline {deadline_ms} ms passed at {now_ms} ms")]
    DeadlinePassed {
        /// The call.
        call: CallId,
        /// The attempt's deadline.
        deadline_ms: u64,
        /// The time it was checked.
        now_ms: u64,
    },
    /// A store request failed; the call may or may not have progressed.
    /// Retry with the same id.
    #[error("call {}: store unavailable{}", OrDash(call.as_ref()), AtStep(*step))]
    StoreUnavailable {
        /// The call, when the request was made for one.
        call: Option<CallId>,
        /// The step, when the request was made for one.
        step: Option<u64>,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// A stored record or value does not decode.
    #[error("call {}: corrupt record at {key}{}", OrDash(call.as_ref()), AtStep(*step))]
    Corrupt {
        /// The call the record belongs to, if known.
        call: Option<CallId>,
        /// The step, when the record is a step's.
        step: Option<u64>,
        /// The record's key.
        key: Key,
        /// The decoder's error (boxed to keep `EngineError` small).
        #[source]
        source: Box<DecodeError>,
    },
    /// The handler failed with an error that is not a result; nothing was
    /// recorded as the call's result. Retry with the same id.
    #[error("call {call}: handler failed")]
    HandlerFailed {
        /// The call.
        call: CallId,
        /// The handler's error.
        #[source]
        source: BoxError,
    },
    /// The handler called a service its engine has no peer for
    /// (`Engine::add_peer`).
    #[error("call {call}: no peer for service {service:?} (add one with Engine::add_peer)")]
    NoPeer {
        /// The call.
        call: CallId,
        /// The service the handler called.
        service: String,
    },
    /// The handler waited on a slow callee longer than
    /// `EngineConfig::suspend_after` and was dropped (spec, issue 8:
    /// suspension): not a failure. The call resumes, by replaying its log,
    /// once the callee's callback records the result at `step`.
    #[error("call {call}: suspended at step {step}, waiting for its callee's callback")]
    Suspended {
        /// The call.
        call: CallId,
        /// The step waiting for its result.
        step: u64,
    },
    /// The handler panicked; nothing was recorded as the call's result.
    #[error("call {call}: handler panicked: {message}")]
    HandlerPanicked {
        /// The call.
        call: CallId,
        /// The panic payload, if it was a string.
        message: String,
    },
}

impl EngineError {
    /// Whether a retry with the same call id may succeed (store faults and
    /// handler failures); the others are final for this call id.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            EngineError::StoreUnavailable { .. }
                | EngineError::HandlerFailed { .. }
                | EngineError::HandlerPanicked { .. }
        )
    }

    /// The call the error is about, if it names one.
    pub fn call_id(&self) -> Option<&CallId> {
        match self {
            EngineError::Divergence { call, .. }
            | EngineError::CallIdConflict { call }
            | EngineError::ExpiredCallId { call, .. }
            | EngineError::DeadlinePassed { call, .. }
            | EngineError::HandlerFailed { call, .. }
            | EngineError::NoPeer { call, .. }
            | EngineError::Suspended { call, .. }
            | EngineError::HandlerPanicked { call, .. } => Some(call),
            EngineError::StoreUnavailable { call, .. } | EngineError::Corrupt { call, .. } => call.as_ref(),
        }
    }
}

/// The kind of a logged step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StepKind {
    /// `Ctx::get`.
    Get,
    /// `Ctx::put`.
    Put,
    /// `Ctx::delete`.
    Delete,
    /// `Ctx::update`.
    Update,
    /// `Ctx::transaction`.
    Transaction,
    /// `Ctx::now`.
    Now,
    /// `Ctx::random`.
    Random,
    /// `Ctx::uuid`.
    Uuid,
    /// `PMap::entries`: a logged read of a persistent map's entries.
    Scan,
    /// A call of another service (`Ctx::client`, `Ctx::invoke_async`):
    /// its recorded result, or Pending for an asynchronous call not done.
    Invoke,
    /// `Ctx::external`: a call outside the framework, its result recorded.
    External,
    /// A kind this version does not know (a newer writer's record).
    Unknown(u8),
}

impl StepKind {
    pub(crate) fn code(self) -> u8 {
        match self {
            StepKind::Get => 1,
            StepKind::Put => 2,
            StepKind::Delete => 3,
            StepKind::Update => 4,
            StepKind::Transaction => 5,
            StepKind::Now => 6,
            StepKind::Random => 7,
            StepKind::Uuid => 8,
            StepKind::Scan => 9,
            StepKind::Invoke => 10,
            StepKind::External => 11,
            StepKind::Unknown(code) => code,
        }
    }

    pub(crate) fn from_code(code: u8) -> StepKind {
        match code {
            1 => StepKind::Get,
            2 => StepKind::Put,
            3 => StepKind::Delete,
            4 => StepKind::Update,
            5 => StepKind::Transaction,
            6 => StepKind::Now,
            7 => StepKind::Random,
            8 => StepKind::Uuid,
            9 => StepKind::Scan,
            10 => StepKind::Invoke,
            11 => StepKind::External,
            other => StepKind::Unknown(other),
        }
    }

    fn name(self) -> &'static str {
        match self {
            StepKind::Get => "get",
            StepKind::Put => "put",
            StepKind::Delete => "delete",
            StepKind::Update => "update",
            StepKind::Transaction => "transaction",
            StepKind::Now => "now",
            StepKind::Random => "random",
            StepKind::Uuid => "uuid",
            StepKind::Scan => "scan",
            StepKind::Invoke => "invoke",
            StepKind::External => "external",
            StepKind::Unknown(_) => "unknown",
        }
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepKind::Unknown(code) => write!(f, "unknown operation {code}"),
            kind => f.write_str(kind.name()),
        }
    }
}

struct OrDash<'a>(Option<&'a CallId>);

impl fmt::Display for OrDash<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(call) => write!(f, "{call}"),
            None => f.write_str("-"),
        }
    }
}

struct AtStep(Option<u64>);

impl fmt::Display for AtStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(step) => write!(f, " at step {step}"),
            None => Ok(()),
        }
    }
}
