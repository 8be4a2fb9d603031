//! The store layout (spec §2.3): keys and the records stored under them.
//!
//! Records are encoded with our codec (`Binary`) as a format byte followed by
//! their fields in a fixed order; a record that does not decode is
//! `EngineError::Corrupt`, never a panic.

use bytes::{Bytes, BytesMut};

use crate::codec::{Binary, DecodeError, DecodeErrorKind, Reader, Writer};
use crate::store::{Key, KeyPart};

use super::call_id::CallId;
use super::error::StepKind;
use super::fingerprint::Fingerprint;

/// The format byte every record starts with.
const FORMAT: i8 = 1;

pub(crate) fn call_key(id: &CallId) -> Key {
    Key::from(("call", id.as_str()))
}

pub(crate) fn tomb_key(id: &CallId) -> Key {
    Key::from(("tomb", id.as_str()))
}

pub(crate) fn intent_key(id: &CallId) -> Key {
    Key::from(("intent", id.as_str()))
}

pub(crate) fn log_key(id: &CallId, step: u64) -> Key {
    Key::from(("log", id.as_str(), step))
}

/// Every step record of a call: an exact tuple prefix, so `t1` never
/// matches `t10` (fixes B8).
pub(crate) fn log_prefix(id: &CallId) -> Key {
    Key::from(("log", id.as_str()))
}

pub(crate) fn state_key(service: &str, key: &str) -> Key {
    Key::from(("state", service, key))
}

pub(crate) fn done_key(done_at_ms: u64, id: &CallId) -> Key {
    Key::from(("done", done_at_ms, id.as_str()))
}

/// The `done_at` and call id of a done-index key.
pub(crate) fn parse_done_key(key: &Key) -> Option<(u64, CallId)> {
    let mut parts = key.parts().skip(1);
    let (Some(KeyPart::U64(done_at)), Some(KeyPart::Str(id))) = (parts.next(), parts.next()) else {
        return None;
    };
    Some((done_at, id.parse().ok()?))
}

/// The call id a `(kind, id)` key names.
pub(crate) fn parse_id_key(key: &Key) -> Option<CallId> {
    match key.parts().nth(1)? {
        KeyPart::Str(id) => id.parse().ok(),
        _ => None,
    }
}

fn invalid(what: &'static str) -> DecodeError {
    DecodeError::new(DecodeErrorKind::InvalidValue(what), 0)
}

/// Writes fields in order with the codec.
struct Fields(Writer<Binary, BytesMut>);

impl Fields {
    /// Fields in a buffer of `len` bytes: a record's exact encoded size
    /// makes its `Bytes` one allocation.
    fn new(len: usize) -> Fields {
        let mut w = Writer::new(BytesMut::with_capacity(len));
        w.i8(FORMAT);
        Fields(w)
    }
    fn u64(&mut self, v: u64) -> &mut Fields {
        self.0.i64(v as i64);
        self
    }
    fn u128(&mut self, v: u128) -> &mut Fields {
        self.u64((v >> 64) as u64).u64(v as u64)
    }
    fn u8(&mut self, v: u8) -> &mut Fields {
        self.0.i8(v as i8);
        self
    }
    fn bytes(&mut self, v: &[u8]) -> &mut Fields {
        self.0.binary(v);
        self
    }
    fn str(&mut self, v: &str) -> &mut Fields {
        self.0.string(v);
        self
    }
    fn opt_u64(&mut self, v: Option<u64>) -> &mut Fields {
        self.0.bool(v.is_some());
        self.u64(v.unwrap_or(0))
    }
    fn opt_bytes(&mut self, v: Option<&Bytes>) -> &mut Fields {
        self.0.bool(v.is_some());
        self.bytes(v.map_or(&[][..], |b| &b[..]))
    }
    fn done(self) -> Bytes {
        let buf = self.0.into_inner();
        debug_assert_eq!(buf.len(), buf.capacity(), "a record's size was miscounted");
        buf.freeze()
    }
}

/// Reads fields in order with the codec.
struct Read<'a>(Reader<'a, Binary>);

impl<'a> Read<'a> {
    fn new(bytes: &'a Bytes) -> Result<Read<'a>, DecodeError> {
        let mut r = Reader::new(bytes);
        if r.i8()? != FORMAT {
            return Err(invalid("unknown record format"));
        }
        Ok(Read(r))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(self.0.i64()? as u64)
    }
    fn u128(&mut self) -> Result<u128, DecodeError> {
        Ok((u128::from(self.u64()?) << 64) | u128::from(self.u64()?))
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.0.i8()? as u8)
    }
    fn bytes(&mut self) -> Result<Bytes, DecodeError> {
        self.0.binary()
    }
    fn str(&mut self) -> Result<String, DecodeError> {
        self.0.string()
    }
    fn opt_u64(&mut self) -> Result<Option<u64>, DecodeError> {
        let present = self.0.bool()?;
        let v = self.u64()?;
        Ok(present.then_some(v))
    }
    fn opt_bytes(&mut self) -> Result<Option<Bytes>, DecodeError> {
        let present = self.0.bool()?;
        let v = self.bytes()?;
        Ok(present.then_some(v))
    }
}

/// `(call, id)`: where a call stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallRecord {
    pub(crate) fp: Fingerprint,
    pub(crate) origin_ms: u64,
    pub(crate) status: CallStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallStatus {
    /// Started; `owner` holds a lease until `lease_expiry_ms`.
    Running { owner: u64, lease_expiry_ms: u64 },
    /// Finished with `result`, the encoded reply.
    Done { result: Bytes, done_at_ms: u64 },
}

impl CallRecord {
    pub(crate) fn encode(&self) -> Bytes {
        let len = match &self.status {
            CallStatus::Running { .. } => 16,
            CallStatus::Done { result, .. } => 12 + result.len(),
        };
        let mut f = Fields::new(26 + len);
        f.u128(self.fp.0).u64(self.origin_ms);
        match &self.status {
            CallStatus::Running { owner, lease_expiry_ms } => f.u8(0).u64(*owner).u64(*lease_expiry_ms),
            CallStatus::Done { result, done_at_ms } => f.u8(1).bytes(result).u64(*done_at_ms),
        };
        f.done()
    }

    pub(crate) fn decode(bytes: &Bytes) -> Result<CallRecord, DecodeError> {
        let mut r = Read::new(bytes)?;
        let fp = Fingerprint(r.u128()?);
        let origin_ms = r.u64()?;
        let status = match r.u8()? {
            0 => CallStatus::Running { owner: r.u64()?, lease_expiry_ms: r.u64()? },
            1 => CallStatus::Done { result: r.bytes()?, done_at_ms: r.u64()? },
            _ => return Err(invalid("unknown call status")),
        };
        Ok(CallRecord { fp, origin_ms, status })
    }
}

/// `(tomb, id)`: a collected call's fingerprint and result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TombRecord {
    pub(crate) fp: Fingerprint,
    pub(crate) result: Bytes,
    pub(crate) expires_at_ms: u64,
}

impl TombRecord {
    pub(crate) fn encode(&self) -> Bytes {
        let mut f = Fields::new(29 + self.result.len());
        f.u128(self.fp.0).bytes(&self.result).u64(self.expires_at_ms);
        f.done()
    }

    pub(crate) fn decode(bytes: &Bytes) -> Result<TombRecord, DecodeError> {
        let mut r = Read::new(bytes)?;
        Ok(TombRecord { fp: Fingerprint(r.u128()?), result: r.bytes()?, expires_at_ms: r.u64()? })
    }
}

/// `(log, id, step)`: one step's operation and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogRecord {
    pub(crate) kind: StepKind,
    pub(crate) fp: Fingerprint,
    pub(crate) value: Option<Bytes>,
}

impl LogRecord {
    /// An invoke step's record with its result.
    pub(crate) fn invoke(fp: Fingerprint, result: Bytes) -> LogRecord {
        LogRecord { kind: StepKind::Invoke, fp, value: Some(result) }
    }

    pub(crate) fn encode(&self) -> Bytes {
        let mut f = Fields::new(23 + self.value.as_ref().map_or(0, Bytes::len));
        f.u8(self.kind.code()).u128(self.fp.0).opt_bytes(self.value.as_ref());
        f.done()
    }

    pub(crate) fn decode(bytes: &Bytes) -> Result<LogRecord, DecodeError> {
        let mut r = Read::new(bytes)?;
        Ok(LogRecord { kind: StepKind::from_code(r.u8()?), fp: Fingerprint(r.u128()?), value: r.opt_bytes()? })
    }
}

/// `(intent, id)`: what the collector needs to re-drive a root call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IntentRecord {
    pub(crate) call_id: CallId,
    pub(crate) origin_ms: u64,
    pub(crate) method: String,
    pub(crate) body: Bytes,
    pub(crate) attempts: u32,
    pub(crate) next_due_ms: u64,
    pub(crate) parked: bool,
    /// For an asynchronous call: the calling service (whose collector
    /// re-drives it) and the called one (its peer). `None` for a root,
    /// which its own service re-drives.
    pub(crate) target: Option<(String, String)>,
}

impl IntentRecord {
    pub(crate) fn encode(&self) -> Bytes {
        let target = self.target.as_ref().map_or(0, |(owner, target)| 8 + owner.len() + target.len());
        let len = 46 + self.call_id.as_str().len() + self.method.len() + self.body.len() + target;
        let mut f = Fields::new(len);
        f.str(self.call_id.as_str())
            .u64(self.origin_ms)
            .str(&self.method)
            .bytes(&self.body)
            .u64(u64::from(self.attempts))
            .u64(self.next_due_ms)
            .opt_u64(self.parked.then_some(1));
        // Appended in a later version: absent from older records.
        if let Some((owner, target)) = &self.target {
            f.str(owner).str(target);
        }
        f.done()
    }

    pub(crate) fn decode(bytes: &Bytes) -> Result<IntentRecord, DecodeError> {
        let mut r = Read::new(bytes)?;
        Ok(IntentRecord {
            call_id: r.str()?.parse().map_err(|_| invalid("intent call id"))?,
            origin_ms: r.u64()?,
            method: r.str()?,
            body: r.bytes()?,
            attempts: u32::try_from(r.u64()?).map_err(|_| invalid("intent attempts"))?,
            next_due_ms: r.u64()?,
            parked: r.opt_u64()?.is_some(),
            target: if r.0.remaining() > 0 { Some((r.str()?, r.str()?)) } else { None },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_garbage_is_an_error() {
        let id = CallId::root("svc", "m", "k");
        let call = CallRecord {
            fp: Fingerprint(u128::MAX - 5),
            origin_ms: 7,
            status: CallStatus::Done { result: Bytes::from_static(b"r"), done_at_ms: 9 },
        };
        assert_eq!(CallRecord::decode(&call.encode()).unwrap(), call);
        let log = LogRecord { kind: StepKind::Update, fp: Fingerprint(3), value: None };
        assert_eq!(LogRecord::decode(&log.encode()).unwrap(), log);
        let intent = IntentRecord {
            call_id: id.clone(),
            origin_ms: 1,
            method: "m".into(),
            body: Bytes::from_static(b"\x00\x01"),
            attempts: 2,
            next_due_ms: 3,
            parked: true,
            target: None,
        };
        assert_eq!(IntentRecord::decode(&intent.encode()).unwrap(), intent);
        let child = IntentRecord { target: Some(("Front".into(), "Counter".into())), ..intent.clone() };
        assert_eq!(IntentRecord::decode(&child.encode()).unwrap(), child);
        for garbage in [&b""[..], b"\x02", b"\x01\x00"] {
            assert!(CallRecord::decode(&Bytes::copy_from_slice(garbage)).is_err());
            assert!(LogRecord::decode(&Bytes::copy_from_slice(garbage)).is_err());
        }
        assert_eq!(parse_done_key(&done_key(5, &id)), Some((5, id.clone())));
        assert_eq!(parse_id_key(&intent_key(&id)), Some(id));
    }
}
