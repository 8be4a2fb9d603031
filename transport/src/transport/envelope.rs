//! The call-metadata envelope between our peers on plain framed and
//! buffered transports (spec §2.1): `4D 55` ("MU"), version `01`, a
//! big-endian `u32` length, then the metadata as a compact-encoded struct;
//! the Thrift message follows. Inside a frame for the framed transport,
//! before the message for the buffered one. Stock Thrift peers never send
//! one (no message starts with `4D`), so servers recognise it by its first
//! two bytes.
//!
//! The struct: `1: string call_id`, `2: string key`, `3: i64 origin_ms`,
//! `4: i64 deadline_ms`, `5: string caller_id`, `6: i64 caller_step`,
//! `7: string callback`; unknown fields are skipped.

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::{Compact, DecodeError, Limits, Reader, TType, Writer};
use crate::exactly_once::{CallId, CallMeta, CallerMeta};

/// The envelope's first bytes and version.
pub(crate) const MAGIC: [u8; 3] = [0x4D, 0x55, 0x01];
/// Magic, version and length.
pub(crate) const HEAD: usize = 7;
/// The largest metadata we accept: ids are short; this bounds what an
/// envelope can make a server read before its message.
pub(crate) const MAX_META: usize = 16 * 1024;

/// Whether `b` starts an envelope (as far as it goes).
pub(crate) fn starts(b: &[u8]) -> bool {
    b.len() >= 2 && b[..2] == MAGIC[..2]
}

/// The envelope's whole length (head and metadata) if `b` holds its head;
/// `None` if more bytes are needed.
pub(crate) fn len(b: &[u8]) -> Option<Result<usize, EnvelopeError>> {
    if b.len() < HEAD {
        return None;
    }
    if b[2] != MAGIC[2] {
        return Some(Err(EnvelopeError::Version(b[2])));
    }
    let n = u32::from_be_bytes([b[3], b[4], b[5], b[6]]) as usize;
    if n > MAX_META {
        return Some(Err(EnvelopeError::TooLarge(n)));
    }
    Some(Ok(HEAD + n))
}

/// Where the message starts in `b`: after its envelope, if it has one
/// whose length reads and fits, else at 0.
pub(crate) fn message_start(b: &[u8]) -> usize {
    match len(b) {
        Some(Ok(n)) if starts(b) && n <= b.len() => n,
        _ => 0,
    }
}

/// What is wrong with an envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// A version this server does not know.
    #[error("call-metadata envelope version {0} (this server knows version 1)")]
    Version(u8),
    /// Metadata over the limit.
    #[error("call-metadata envelope of {0} bytes (the limit is 16384)")]
    TooLarge(usize),
    /// The frame ends inside the envelope.
    #[error("the frame ends inside its call-metadata envelope")]
    Truncated,
    /// The metadata does not decode or is inconsistent.
    #[error("call metadata: {0}")]
    Invalid(String),
}

/// Writes `meta`'s envelope to `out`.
pub(crate) fn write(meta: &CallerMeta, out: &mut BytesMut) {
    let mut w = Writer::<Compact, Vec<u8>>::new(Vec::with_capacity(64));
    w.struct_begin();
    let (origin, deadline) = match meta {
        CallerMeta::Call(m) => {
            w.field_begin(TType::Binary, 1);
            w.string(m.call_id().as_str());
            (m.origin_ms(), m.deadline_ms())
        }
        CallerMeta::Key { key, origin_ms, deadline_ms } => {
            w.field_begin(TType::Binary, 2);
            w.string(key);
            (*origin_ms, *deadline_ms)
        }
    };
    w.field_begin(TType::I64, 3);
    w.i64(i64::try_from(origin).unwrap_or(i64::MAX));
    if let Some(d) = deadline {
        w.field_begin(TType::I64, 4);
        w.i64(i64::try_from(d).unwrap_or(i64::MAX));
    }
    if let CallerMeta::Call(m) = meta
        && let Some((caller, step)) = m.caller()
    {
        w.field_begin(TType::Binary, 5);
        w.string(caller.as_str());
        w.field_begin(TType::I64, 6);
        w.i64(i64::try_from(step).unwrap_or(i64::MAX));
    }
    if let CallerMeta::Call(m) = meta
        && let Some(callback) = m.callback()
    {
        w.field_begin(TType::Binary, 7);
        w.string(callback);
    }
    w.struct_end();
    let body = w.into_inner();
    out.reserve(HEAD + body.len());
    out.put_slice(&MAGIC);
    out.put_u32(body.len() as u32);
    out.put_slice(&body);
}

/// `meta` as the headers a THeader frame (`mu2sls-<field>` info headers)
/// or an HTTP request (`X-Call-Id` for a call id, `X-Mu2sls-<Field>` for
/// the rest) carries it in (spec §2.1), for servers that read headers.
pub(crate) fn to_headers(meta: &CallerMeta, http: bool) -> Vec<(String, String)> {
    let name = |field: &str| if http { format!("x-mu2sls-{field}") } else { format!("mu2sls-{field}") };
    let mut out = Vec::with_capacity(6);
    let (origin, deadline) = match meta {
        CallerMeta::Call(m) => {
            let id_header = if http { "x-call-id".to_owned() } else { name("call-id") };
            out.push((id_header, m.call_id().to_string()));
            if let Some((caller, step)) = m.caller() {
                out.push((name("caller-id"), caller.to_string()));
                out.push((name("caller-step"), step.to_string()));
            }
            if let Some(callback) = m.callback() {
                out.push((name("callback"), callback.to_owned()));
            }
            (m.origin_ms(), m.deadline_ms())
        }
        CallerMeta::Key { key, origin_ms, deadline_ms } => {
            out.push((name("key"), key.clone()));
            (*origin_ms, *deadline_ms)
        }
    };
    out.push((name("origin-ms"), origin.to_string()));
    if let Some(deadline) = deadline {
        out.push((name("deadline-ms"), deadline.to_string()));
    }
    out
}

/// Splits a request into its metadata and its message. A request without
/// an envelope is returned whole, with no metadata.
pub(crate) fn split(frame: Bytes) -> Result<(Option<CallerMeta>, Bytes), (EnvelopeError, Bytes)> {
    if !starts(&frame) {
        return Ok((None, frame));
    }
    let total = match len(&frame) {
        None => return Err((EnvelopeError::Truncated, Bytes::new())),
        Some(Err(e)) => return Err((e, Bytes::new())),
        Some(Ok(n)) if n > frame.len() => return Err((EnvelopeError::Truncated, Bytes::new())),
        Some(Ok(n)) => n,
    };
    let message = frame.slice(total..);
    match decode(&frame[HEAD..total]) {
        Ok(meta) => Ok((Some(meta), message)),
        Err(e) => Err((e, message)),
    }
}

fn decode(b: &[u8]) -> Result<CallerMeta, EnvelopeError> {
    let bad = |e: DecodeError| EnvelopeError::Invalid(e.to_string());
    let mut r = Reader::<Compact>::from_slice(b, Limits::default());
    let (mut id, mut key, mut origin, mut deadline, mut caller, mut step) = (None, None, None, None, None, None);
    let mut callback = None;
    r.struct_begin().map_err(bad)?;
    while let Some((t, field)) = r.field_begin().map_err(bad)? {
        match (field, t) {
            (1, TType::Binary) => id = Some(r.string().map_err(bad)?),
            (2, TType::Binary) => key = Some(r.string().map_err(bad)?),
            (3, TType::I64) => origin = Some(r.i64().map_err(bad)?),
            (4, TType::I64) => deadline = Some(r.i64().map_err(bad)?),
            (5, TType::Binary) => caller = Some(r.string().map_err(bad)?),
            (6, TType::I64) => step = Some(r.i64().map_err(bad)?),
            (7, TType::Binary) => callback = Some(r.string().map_err(bad)?),
            _ => r.skip(t).map_err(bad)?,
        }
    }
    r.struct_end();
    let ms =
        |v: i64, what: &str| u64::try_from(v).map_err(|_| EnvelopeError::Invalid(format!("{what} is negative ({v})")));
    let origin_ms = ms(origin.ok_or_else(|| EnvelopeError::Invalid("no origin_ms".into()))?, "origin_ms")?;
    let deadline_ms = deadline.map(|d| ms(d, "deadline_ms")).transpose()?;
    match (id, key) {
        (Some(id), None) => {
            let call_id: CallId = id.parse().map_err(|e| EnvelopeError::Invalid(format!("{e}")))?;
            let caller = match (caller, step) {
                (Some(c), Some(s)) => Some((
                    c.parse::<CallId>().map_err(|e| EnvelopeError::Invalid(format!("{e}")))?,
                    ms(s, "caller_step")?,
                )),
                (None, None) => None,
                _ => return Err(EnvelopeError::Invalid("caller_id and caller_step go together".into())),
            };
            let meta = CallMeta::new(call_id, caller, origin_ms, deadline_ms)
                .map_err(|e| EnvelopeError::Invalid(e.to_string()))?;
            Ok(CallerMeta::Call(match callback {
                Some(c) => meta.with_callback(c),
                None => meta,
            }))
        }
        (None, Some(key)) => Ok(CallerMeta::Key { key, origin_ms, deadline_ms }),
        (Some(_), Some(_)) => Err(EnvelopeError::Invalid("both call_id and key".into())),
        (None, None) => Err(EnvelopeError::Invalid("neither call_id nor key".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(meta: CallerMeta) {
        let mut out = BytesMut::new();
        write(&meta, &mut out);
        out.put_slice(b"\x80\x01rest");
        let (back, message) = split(out.freeze()).unwrap();
        assert_eq!(back, Some(meta));
        assert_eq!(&message[..], b"\x80\x01rest");
    }

    #[test]
    fn metadata_round_trips() {
        round_trip(CallerMeta::Key { key: "k-1/é".into(), origin_ms: 1_700_000_000_000, deadline_ms: Some(5) });
        round_trip(CallerMeta::Key { key: String::new(), origin_ms: 0, deadline_ms: None });
        let root = CallMeta::root(CallId::root("Bank", "transfer", "t"), 9).with_deadline(20);
        round_trip(CallerMeta::Call(root.clone()));
        round_trip(CallerMeta::Call(CallMeta::child(&root, 3)));
        round_trip(CallerMeta::Call(CallMeta::child(&root, 4).with_callback("store:abc")));
    }

    proptest::proptest! {
        /// Any bytes: an error or metadata, never a panic; and whatever
        /// decodes writes back to the same metadata.
        #[test]
        fn arbitrary_envelopes_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let mut frame = BytesMut::new();
            frame.put_slice(&MAGIC);
            frame.put_u32(body.len() as u32);
            frame.put_slice(&body);
            frame.put_slice(b"\x80\x01");
            if let Ok((Some(meta), message)) = split(frame.freeze()) {
                proptest::prop_assert_eq!(&message[..], b"\x80\x01");
                let mut again = BytesMut::new();
                write(&meta, &mut again);
                again.put_slice(b"\x80\x01");
                proptest::prop_assert_eq!(split(again.freeze()).map(|(m, _)| m).ok(), Some(Some(meta)));
            }
        }

        /// Metadata with any key, callback and numbers round-trips.
        #[test]
        fn metadata_round_trips_for_any_values(
            key in ".{0,40}",
            callback in "[ -~]{0,40}",
            origin in 0u64..(i64::MAX as u64),
            deadline in proptest::option::of(0u64..(i64::MAX as u64)),
            step in 0u64..1_000_000,
        ) {
            round_trip(CallerMeta::Key { key: key.clone(), origin_ms: origin, deadline_ms: deadline });
            let root = CallMeta::root(CallId::root("Svc", "m", key.as_bytes()), origin);
            let root = match deadline { Some(d) => root.with_deadline(d), None => root };
            round_trip(CallerMeta::Call(CallMeta::child(&root, step).with_callback(callback)));
        }
    }

    #[test]
    fn metadata_as_headers() {
        let root = CallMeta::root(CallId::root("Bank", "transfer", "t"), 9).with_deadline(20);
        let child = CallMeta::child(&root, 3).with_callback("store:abc 127.0.0.1:1");
        let theader = to_headers(&CallerMeta::Call(child.clone()), false);
        let get = |h: &[(String, String)], n: &str| h.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        assert_eq!(get(&theader, "mu2sls-call-id").as_deref(), Some("Bank.transfer:t/3"));
        assert_eq!(get(&theader, "mu2sls-caller-id").as_deref(), Some("Bank.transfer:t"));
        assert_eq!(get(&theader, "mu2sls-caller-step").as_deref(), Some("3"));
        assert_eq!(get(&theader, "mu2sls-callback").as_deref(), Some("store:abc 127.0.0.1:1"));
        assert_eq!(get(&theader, "mu2sls-origin-ms").as_deref(), Some("9"));
        assert_eq!(get(&theader, "mu2sls-deadline-ms").as_deref(), Some("20"));
        let http = to_headers(&CallerMeta::Call(child), true);
        assert_eq!(get(&http, "x-call-id").as_deref(), Some("Bank.transfer:t/3"));
        assert_eq!(get(&http, "x-mu2sls-caller-step").as_deref(), Some("3"));
        let key = to_headers(&CallerMeta::Key { key: "k".into(), origin_ms: 1, deadline_ms: None }, true);
        assert_eq!(
            key,
            [("x-mu2sls-key".to_owned(), "k".to_owned()), ("x-mu2sls-origin-ms".to_owned(), "1".to_owned())]
        );
    }

    #[test]
    fn bad_envelopes_are_errors_not_panics() {
        let whole = {
            let mut out = BytesMut::new();
            write(&CallerMeta::Key { key: "k".into(), origin_ms: 1, deadline_ms: None }, &mut out);
            out.put_slice(b"\x80\x01");
            out.freeze()
        };
        for cut in 0..whole.len() {
            let _ = split(whole.slice(..cut));
        }
        assert!(matches!(split(whole.slice(..5)), Err((EnvelopeError::Truncated, _))));
        let mut v2 = whole.to_vec();
        v2[2] = 2;
        assert!(matches!(split(Bytes::from(v2)), Err((EnvelopeError::Version(2), _))));
        let mut huge = whole.to_vec();
        huge[3] = 0xff;
        assert!(matches!(split(Bytes::from(huge)), Err((EnvelopeError::TooLarge(_), _))));
        // No origin.
        let mut out = BytesMut::new();
        out.put_slice(&MAGIC);
        out.put_u32(1);
        out.put_u8(0);
        let (e, message) = split(out.freeze()).unwrap_err();
        assert_eq!(e, EnvelopeError::Invalid("no origin_ms".into()));
        assert!(message.is_empty());
    }
}
