//! One method of a generated service, as the generated server runs it: the
//! steps every dispatch arm would otherwise repeat (decode the arguments,
//! call the handler, turn its result into the reply), written once here so
//! the generated `dispatch` is one line per method.

use std::future::Future;

use bytes::Bytes;

use crate::codec::{Decode, Encode, Protocol};
use crate::protocol::ServiceError;
use crate::service::{CallContext, decode_args, exception_reply, protocol_error_reply, reply};

/// A method's result struct (`SMResult`): field 0 for success, one field
/// per declared exception.
pub trait MethodResult: Encode {
    /// What the handler returns on success (`()` for `void`).
    type Success;
    /// The method's exception enum, or `NoException`.
    type Exception;
    /// The result of a successful call.
    fn success(value: Self::Success) -> Self;
    /// The result of a call that threw a declared exception.
    fn exception(e: Self::Exception) -> Self;
}

/// What a handler method's future yields for result struct `R`.
pub type Outcome<R> = Result<<R as MethodResult>::Success, ServiceError<<R as MethodResult>::Exception>>;

/// A method's decoded arguments (`SMArgs`), which know the handler method
/// they are for.
pub trait Call<H>: Decode + Send {
    /// The method's result struct.
    type Result: MethodResult;
    /// Calls the method of `handler` with these arguments.
    fn call(self, handler: &H, cx: &CallContext) -> impl Future<Output = Outcome<Self::Result>> + Send;
}

/// Serves one call of a method with a reply: decodes `A` from `frame` (at
/// `at`), calls the handler and encodes the reply: the result struct, or an
/// EXCEPTION message for an undeclared failure or undecodable arguments.
pub async fn serve<P: Protocol, H, A: Call<H>>(
    handler: &H,
    cx: &CallContext,
    frame: &Bytes,
    at: usize,
) -> Option<Bytes> {
    let args = match decode_args::<P, A>(frame, at) {
        Ok(a) => a,
        Err(e) => return Some(protocol_error_reply::<P>(cx, &e)),
    };
    Some(match args.call(handler, cx).await {
        Ok(v) => reply::<P, A::Result>(cx, &<A::Result as MethodResult>::success(v)),
        Err(ServiceError::Exception(e)) => reply::<P, A::Result>(cx, &<A::Result as MethodResult>::exception(e)),
        Err(ServiceError::Application(e)) => exception_reply::<P>(cx, &e),
    })
}

/// Serves one call of a `oneway` method: like [`serve`], but nothing is
/// sent back, whatever happens (undecodable arguments skip the call).
pub async fn serve_oneway<P: Protocol, H, A: Call<H>>(
    handler: &H,
    cx: &CallContext,
    frame: &Bytes,
    at: usize,
) -> Option<Bytes> {
    if let Ok(args) = decode_args::<P, A>(frame, at) {
        let _ = args.call(handler, cx).await;
    }
    None
}
