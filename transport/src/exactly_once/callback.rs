//! Callbacks between services on different stores (spec §2.6).
//!
//! A caller names where its callee reports back in the call's metadata:
//! `store:<id>` (the callee's Done batch writes the caller's step record
//! when it runs on that store), and, when its engine has a
//! [`callback_address`](crate::EngineConfig::callback_address), that
//! address too, and `service:<name>` (the tokens are separated by
//! spaces; the service names the caller behind a multiplexer: the callback
//! message is named `Service:method`). A callee on another
//! store delivers its result there once its Done batch committed: a REPLY
//! message (the result struct, in binary) over THeader to a `host:port`
//! address, or posted to an `http://` URL (feature `http`), whose headers
//! carry the child's call id (`mu2sls-call-id`; over HTTP `X-Call-Id`),
//! its step fingerprint (`mu2sls-step-fp`) and the signature
//! (`mu2sls-signature`; over HTTP `X-Mu2sls-Signature`)
//! `v1;kid=<key id>;sig=<hex HMAC-SHA256(secret, len‖call_id‖len‖message)>`
//! (lengths as u64 big-endian; the message as it is with sequence id 0,
//! since a client renumbers the messages it sends).
//!
//! The receiver (a durable server; the transport hands it REPLY messages
//! that carry a signature) verifies the signature in constant time with
//! its current or previous key, derives the caller and step from the signed
//! id, and writes the step record only if the caller is still running and
//! the step has no result yet; a replayed callback changes nothing, and a
//! bad or missing signature is rejected with nothing stored. A lost
//! callback is harmless: the caller's retry resends the child id and the
//! callee answers from its Done record.

use std::fmt;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::client::{Channel, RawBody};
use crate::codec::{Binary, Compact, MessageType, Reader, canonical_struct};
use crate::service::{CallContext, encode_message};
use crate::store::{Batch, Outcome, Store};
use crate::transport::{Framing, ProtocolKind};

use super::call_id::{CallId, CallMeta};
use super::clock::Clock;
use super::engine::{Engine, corrupt, unavailable};
use super::error::{EngineError, StepKind};
use super::fingerprint::Fingerprint;
use super::record::{CallRecord, CallStatus, LogRecord, call_key, intent_key, log_key};

/// A key callbacks are signed with: an id (so receivers can hold the
/// current and the previous key while keys rotate) and a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct CallbackKey {
    kid: String,
    secret: Vec<u8>,
}

impl fmt::Debug for CallbackKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl CallbackKey {
    /// The key `kid` with `secret` (share it with every service that calls
    /// or is called; use at least 32 random bytes).
    pub fn new(kid: impl Into<String>, secret: impl Into<Vec<u8>>) -> CallbackKey {
        CallbackKey { kid: kid.into(), secret: secret.into() }
    }

    fn mac(&self, call_id: &str, message: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        mac.update(&(call_id.len() as u64).to_be_bytes());
        mac.update(call_id.as_bytes());
        mac.update(&(message.len() as u64).to_be_bytes());
        mac.update(message);
        mac
    }

    /// The signature header of a callback for `call_id` carrying `message`.
    pub fn sign(&self, call_id: &str, message: &[u8]) -> String {
        let sig = self.mac(call_id, message).finalize().into_bytes();
        let hex: String = sig.iter().map(|b| format!("{b:02x}")).collect();
        format!("v1;kid={};sig={hex}", self.kid)
    }
}

/// Whether `header` is a valid signature of (`call_id`, `message`) by one of
/// `keys` (compared in constant time).
pub fn verify_signature(keys: &[CallbackKey], header: &str, call_id: &str, message: &[u8]) -> bool {
    let mut parts = header.split(';');
    if parts.next() != Some("v1") {
        return false;
    }
    let (mut kid, mut sig) = (None, None);
    for part in parts {
        match part.split_once('=') {
            Some(("kid", v)) => kid = Some(v),
            Some(("sig", v)) => sig = Some(v),
            _ => return false,
        }
    }
    let (Some(kid), Some(sig)) = (kid, sig) else { return false };
    let Some(sig) = unhex(sig) else { return false };
    keys.iter().filter(|k| k.kid == kid).any(|k| k.mac(call_id, message).verify_slice(&sig).is_ok())
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || text.len() > 128 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// The tokens of a callback field.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Callback<'a> {
    /// `store:<id>`: the caller's store.
    pub(crate) store: Option<&'a str>,
    /// `host:port` or an `http://` URL: where the caller takes callbacks.
    pub(crate) address: Option<&'a str>,
    /// `service:<name>`: the caller's service, which names it behind a
    /// multiplexer.
    pub(crate) service: Option<&'a str>,
}

impl<'a> Callback<'a> {
    pub(crate) fn parse(callback: &'a str) -> Callback<'a> {
        let mut parsed = Callback::default();
        for token in callback.split_ascii_whitespace() {
            if let Some(id) = token.strip_prefix("store:") {
                parsed.store = Some(id);
            } else if let Some(service) = token.strip_prefix("service:") {
                parsed.service = Some(service);
            } else {
                parsed.address = Some(token);
            }
        }
        parsed
    }
}

/// Why a callback was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// No signature, or one that does not verify: nothing was stored.
    #[error("callback for {call_id:?}: missing or bad signature")]
    BadSignature {
        /// The call id the callback named.
        call_id: String,
    },
    /// The callback is malformed (no call id, not a child id, a bad
    /// fingerprint header or message).
    #[error("callback: {0}")]
    Malformed(String),
    /// The store failed; the sender may deliver again.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

fn header<'a>(cx: &'a CallContext, field: &str) -> Option<&'a str> {
    cx.header(&format!("mu2sls-{field}")).or_else(|| cx.header(&format!("x-mu2sls-{field}")))
}

/// Whether a message carries a callback signature (the transport routes
/// REPLY messages that do to [`Dispatch::receive_callback`](crate::Dispatch::receive_callback)).
pub(crate) fn is_callback(cx: &CallContext) -> bool {
    header(cx, "signature").is_some()
}

/// Receives a callback (spec §2.6) for a caller served by `engine`: see the
/// module docs. `message` is the REPLY message as received.
pub async fn receive_callback<S: Store + 'static, C: Clock>(
    engine: &Engine<S, C>,
    cx: &CallContext,
    message: Bytes,
) -> Result<(), CallbackError> {
    let call_id = header(cx, "call-id")
        .or_else(|| cx.header("x-call-id"))
        .ok_or_else(|| CallbackError::Malformed("no mu2sls-call-id (or X-Call-Id) header".into()))?;
    let signature = header(cx, "signature").unwrap_or_default();
    let signed = match cx.protocol() {
        ProtocolKind::Binary => with_seq_0::<Binary>(&message)?,
        ProtocolKind::Compact => with_seq_0::<Compact>(&message)?,
    };
    if !verify_signature(engine.config().callback_keys_ref(), signature, call_id, &signed) {
        return Err(CallbackError::BadSignature { call_id: call_id.to_owned() });
    }
    let child: CallId = call_id.parse().map_err(|e| CallbackError::Malformed(format!("{e}")))?;
    let (caller, step) = child.caller().ok_or_else(|| CallbackError::Malformed(format!("{child} names no caller")))?;
    let fp = header(cx, "step-fp")
        .and_then(|v| u128::from_str_radix(v, 16).ok())
        .map(Fingerprint)
        .ok_or_else(|| CallbackError::Malformed("no valid mu2sls-step-fp header".into()))?;
    let result = match cx.protocol() {
        ProtocolKind::Binary => result_of::<Binary>(&message)?,
        ProtocolKind::Compact => result_of::<Compact>(&message)?,
    };
    let Some(result) = result else { return Ok(()) };
    let inner = engine.inner();
    let (ckey, lkey) = (call_key(&caller), log_key(&caller, step));
    let found = inner.store.multi_get(&[ckey.clone(), lkey.clone()]).await.map_err(unavailable(&child, None))?;
    let mut found = found.into_iter();
    let (record, log) = (found.next().flatten(), found.next().flatten());
    // Only while the caller runs: a finished caller has its result.
    let running = match record {
        Some(v) => {
            let record = CallRecord::decode(&v.value).map_err(corrupt(Some(&caller), None, &ckey))?;
            matches!(record.status, CallStatus::Running { .. })
        }
        None => false,
    };
    if !running {
        return Ok(());
    }
    let batch = match log {
        None => Batch::new().absent(lkey.clone()).put(lkey, LogRecord::invoke(fp, result).encode()),
        Some(found) => {
            let logged = LogRecord::decode(&found.value).map_err(corrupt(Some(&caller), Some(step), &lkey))?;
            if logged.kind != StepKind::Invoke || logged.value.is_some() {
                // Recorded already (by the callee's Done batch on a shared
                // store, or a reply): wake a caller waiting for it.
                inner.wake(&caller, step);
                return Ok(());
            }
            Batch::new()
                .version_is(lkey.clone(), found.version)
                .put(lkey, LogRecord::invoke(logged.fp, result).encode())
                .delete(intent_key(&child))
        }
    };
    match inner.store.apply(batch).await.map_err(unavailable(&child, None))? {
        // Written, or someone recorded the step first: either way done.
        Outcome::Applied { .. } | Outcome::Failed { .. } => {}
    }
    inner.wake(&caller, step);
    Ok(())
}

/// `message` as its sender signed it: with sequence id 0.
fn with_seq_0<P: crate::codec::Protocol>(message: &Bytes) -> Result<Bytes, CallbackError> {
    let mut r = Reader::<P>::new(message);
    let head = r.message_begin().map_err(|e| CallbackError::Malformed(e.to_string()))?;
    let body = &message[r.position()..];
    Ok(encode_message::<P, RawBody<'_>>(&head.name, head.kind, 0, &RawBody(body)))
}

/// The result struct (binary) of a REPLY message; `None` for an EXCEPTION
/// message, which is not a result.
fn result_of<P: crate::codec::Protocol>(message: &Bytes) -> Result<Option<Bytes>, CallbackError> {
    let mut r = Reader::<P>::new(message);
    let head = r.message_begin().map_err(|e| CallbackError::Malformed(e.to_string()))?;
    match head.kind {
        MessageType::Reply => {}
        MessageType::Exception => return Ok(None),
        other => return Err(CallbackError::Malformed(format!("a {other:?} message"))),
    }
    let body = &message[r.position()..];
    let canonical = canonical_struct::<P>(body).map_err(|e| CallbackError::Malformed(e.to_string()))?;
    Ok(Some(Bytes::from(canonical)))
}

/// Delivers a child call's result to its caller's callback address, signed
/// with `key`, within `timeout`. Failures are logged, not returned: the
/// caller's retry gets the result from the callee's Done record anyway.
pub(crate) async fn deliver(
    address: &str,
    key: &CallbackKey,
    meta: &CallMeta,
    method: &str,
    step_fp: Fingerprint,
    result: &Bytes,
    timeout: std::time::Duration,
) {
    // Named `CallerService:method` when the caller named its service, so
    // a multiplexer in front of the caller routes it.
    let name = match Callback::parse(meta.callback().unwrap_or_default()).service {
        Some(service) => format!("{service}:{method}"),
        None => method.to_owned(),
    };
    let message = encode_message::<Binary, RawBody<'_>>(&name, MessageType::Reply, 0, &RawBody(result));
    let id = meta.call_id().as_str();
    let (signature, fp) = (key.sign(id, &message), format!("{:032x}", step_fp.0));
    let channel = if address.starts_with("http://") {
        #[cfg(feature = "http")]
        {
            Channel::builder(address)
                .framing(Framing::Http)
                .timeout(timeout)
                .header("x-call-id", id)
                .header("x-mu2sls-step-fp", fp)
                .header("x-mu2sls-signature", signature)
                .build()
        }
        #[cfg(not(feature = "http"))]
        {
            let _ = (signature, fp, timeout);
            tracing::warn!(call = %meta.call_id(), address, "an HTTP callback needs feature `http`: not delivered");
            return;
        }
    } else {
        Channel::builder(address)
            .framing(Framing::Header)
            .timeout(timeout)
            .header("mu2sls-call-id", id)
            .header("mu2sls-step-fp", fp)
            .header("mu2sls-signature", signature)
            .build()
    };
    match channel.call_raw(message).await {
        Ok(Some(ack)) if is_ack(&ack) => tracing::debug!(call = %meta.call_id(), address, "callback delivered"),
        Ok(_) => tracing::warn!(call = %meta.call_id(), address, "callback refused"),
        Err(error) => tracing::warn!(call = %meta.call_id(), address, %error, "callback not delivered"),
    }
}

fn is_ack(message: &Bytes) -> bool {
    Reader::<Binary>::new(message).message_begin().is_ok_and(|h| h.kind == MessageType::Reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_tampering_does_not() {
        let current = CallbackKey::new("k2", b"a secret of thirty-two bytes....".to_vec());
        let previous = CallbackKey::new("k1", b"the previous secret".to_vec());
        let keys = [current.clone(), previous.clone()];
        let sig = current.sign("Front.order:o/1", b"message");
        assert!(verify_signature(&keys, &sig, "Front.order:o/1", b"message"));
        assert!(verify_signature(&keys, &previous.sign("Front.order:o/1", b"message"), "Front.order:o/1", b"message"));
        assert!(!verify_signature(&keys, &sig, "Front.order:o/2", b"message"), "another call");
        assert!(!verify_signature(&keys, &sig, "Front.order:o/1", b"messagf"), "another body");
        // Length framing: moving a byte from the id to the body changes the MAC.
        assert!(!verify_signature(&keys, &sig, "Front.order:o/", b"1message"));
        let stranger = CallbackKey::new("k2", b"not the secret".to_vec());
        assert!(!verify_signature(&keys, &stranger.sign("Front.order:o/1", b"message"), "Front.order:o/1", b"message"));
        for bad in ["", "v1", "v2;kid=k2;sig=00", "v1;kid=k2", "v1;kid=k2;sig=zz", "v1;kid=k9;sig=00", "v1;x=1"] {
            assert!(!verify_signature(&keys, bad, "Front.order:o/1", b"message"), "{bad:?}");
        }
    }

    proptest::proptest! {
        /// Any header text is a verdict, never a panic, and forged ones fail.
        #[test]
        fn arbitrary_signature_headers_never_verify(header in ".{0,200}", id in ".{0,40}") {
            let key = CallbackKey::new("k1", b"secret".to_vec());
            proptest::prop_assert!(!verify_signature(&[key], &header, &id, b"message"));
        }
    }

    #[test]
    fn callback_tokens_parse() {
        let store = Callback::parse("store:abc");
        assert_eq!((store.store, store.address), (Some("abc"), None));
        let both = Callback::parse("store:abc 127.0.0.1:9000");
        assert_eq!((both.store, both.address), (Some("abc"), Some("127.0.0.1:9000")));
        let address = Callback::parse("127.0.0.1:9000");
        assert_eq!((address.store, address.address), (None, Some("127.0.0.1:9000")));
        let all = Callback::parse("store:abc http://h:1/cb service:Front");
        assert_eq!(all, Callback { store: Some("abc"), address: Some("http://h:1/cb"), service: Some("Front") });
    }
}
