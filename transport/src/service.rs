//! The server side of a call: its context, and the [`Dispatch`] trait that
//! generated `XServer` types implement.

use std::future::Future;
use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};

use crate::codec::{Decode, DecodeError, Encode, LenCounter, MessageType, Protocol, Reader, Writer};
use crate::protocol::{ApplicationException, ApplicationExceptionKind};
use crate::transport::ProtocolKind;

/// What a handler knows about the call it serves.
#[derive(Clone, Debug)]
pub struct CallContext {
    method: String,
    seq: i32,
    peer: Option<SocketAddr>,
    protocol: ProtocolKind,
}

impl CallContext {
    /// A context for a call of `method` (without any `Service:` prefix).
    pub fn new(method: impl Into<String>, seq: i32, peer: Option<SocketAddr>, protocol: ProtocolKind) -> CallContext {
        CallContext { method: method.into(), seq, peer, protocol }
    }

    /// The method called.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The client's sequence id.
    pub fn seq(&self) -> i32 {
        self.seq
    }

    /// The client's address, when known.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The protocol of the call.
    pub fn protocol(&self) -> ProtocolKind {
        self.protocol
    }
}

/// Whether a method expects a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodKind {
    /// A normal call: the server replies.
    Call,
    /// `oneway`: the server writes nothing back.
    Oneway,
}

/// Routes calls to a service's handler: implemented by generated
/// `XServer` types, served by [`crate::Server`].
pub trait Dispatch: Send + Sync + 'static {
    /// Whether `method` exists, and whether it is `oneway`.
    fn method_kind(&self, method: &str) -> Option<MethodKind>;

    /// Serves one call. `frame` is the whole request message and its
    /// arguments start at `args_at`. Returns the whole reply message, or
    /// `None` for a oneway call.
    fn dispatch<P: Protocol>(
        &self,
        cx: CallContext,
        frame: Bytes,
        args_at: usize,
    ) -> impl Future<Output = Option<Bytes>> + Send;
}

/// Encodes a whole message (header and body) into one buffer of exactly
/// the right size.
pub(crate) fn encode_message<P: Protocol, T: Encode + ?Sized>(
    name: &str,
    kind: MessageType,
    seq: i32,
    body: &T,
) -> Bytes {
    let mut counter = Writer::<P, LenCounter>::new(LenCounter(0));
    counter.message_begin(name, kind, seq);
    body.encode(&mut counter);
    let mut w = Writer::<P, BytesMut>::new(BytesMut::with_capacity(counter.into_inner().0));
    w.message_begin(name, kind, seq);
    body.encode(&mut w);
    w.into_inner().freeze()
}

/// A REPLY carrying `result` (a method's result struct).
pub fn reply<P: Protocol, R: Encode>(cx: &CallContext, result: &R) -> Bytes {
    encode_message::<P, R>(&cx.method, MessageType::Reply, cx.seq, result)
}

/// An EXCEPTION message carrying `e`.
pub fn exception_reply<P: Protocol>(cx: &CallContext, e: &ApplicationException) -> Bytes {
    encode_message::<P, ApplicationException>(&cx.method, MessageType::Exception, cx.seq, e)
}

/// Decodes a call's arguments struct from `frame` at `at`.
pub fn decode_args<P: Protocol, A: Decode>(frame: &Bytes, at: usize) -> Result<A, DecodeError> {
    let mut r = Reader::<P>::new(frame);
    r.skip_to(at);
    A::decode(&mut r)
}

/// The PROTOCOL_ERROR reply for arguments that did not decode.
pub fn protocol_error_reply<P: Protocol>(cx: &CallContext, e: &DecodeError) -> Bytes {
    let e = ApplicationException::new(
        ApplicationExceptionKind::PROTOCOL_ERROR,
        format!("cannot decode the arguments of `{}`: {e}", cx.method),
    );
    exception_reply::<P>(cx, &e)
}
