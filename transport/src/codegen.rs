//! What generated code uses, re-exported from one place so the runtime can
//! change underneath the stubs. Generated code refers to these items by fully
//! qualified path (`::mu2sls::codegen::...`); user code should use the
//! public modules instead.

#[doc(hidden)]
pub use bytes::Bytes;
#[doc(hidden)]
pub use uuid::Uuid;

#[doc(hidden)]
pub use crate::client::{CallError, Channel, Reply, missing_result};
#[doc(hidden)]
pub use crate::codec::fields::{decode_field, decode_some, encode_field, encode_optional, required};
#[doc(hidden)]
pub use crate::codec::{BinaryRef, Decode, DecodeError, Encode, Output, Protocol, Reader, TType, Writer};
#[doc(hidden)]
pub use crate::exactly_once::{Clock, Ctx, DurableCall, Engine, ServiceClient, serve_durable};
#[doc(hidden)]
pub use crate::method::{Call, MethodResult, Outcome, serve, serve_oneway};
#[doc(hidden)]
pub use crate::protocol::{ApplicationException, ApplicationExceptionKind, NoException, ServiceError};
#[doc(hidden)]
pub use crate::service::{
    CallContext, Dispatch, MethodKind, decode_args, exception_reply, protocol_error_reply, reply,
};
#[doc(hidden)]
pub use crate::store::Store;

/// What a dispatcher's `receive_callback` answers: `None` if it takes no
/// callbacks, else whether it took this one.
#[doc(hidden)]
pub type CallbackReceived = Option<Result<(), String>>;

/// A durable server's `receive_callback`: its engine takes the callback.
#[doc(hidden)]
pub async fn receive_callback<S: Store + 'static, C: Clock>(
    engine: &Engine<S, C>,
    cx: &CallContext,
    message: Bytes,
) -> CallbackReceived {
    Some(crate::exactly_once::receive_callback(engine, cx, message).await.map_err(|e| e.to_string()))
}

/// What code generated with `--gen rust:apache_compat` uses.
#[cfg(feature = "apache-compat")]
#[doc(hidden)]
pub mod apache {
    pub use crate::compat::{read, write};
    pub use thrift::Result;
    pub use thrift::protocol::{TInputProtocol, TOutputProtocol, TSerializable};
}

/// Serde, for code generated with `--gen rust:serde` (feature `serde`).
#[cfg(feature = "serde")]
#[doc(hidden)]
pub use serde;
