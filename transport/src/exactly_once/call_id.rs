//! Call identity (spec §2.1): [`CallId`] and the metadata every call carries,
//! [`CallMeta`].
//!
//! A root id is `esc(service) "." esc(method) ":" esc(key)`; a child id is
//! `caller_id "/" step`. `esc` percent-encodes `/ : . %` and every byte
//! outside `0x21..=0x7E`, so the separators are unambiguous and every id has
//! exactly one spelling. Store keys hold the id as one tuple component and
//! never split it (fixes Beldi's B6 and B8).

use std::fmt;
use std::str::FromStr;

/// The identity shared by every execution of one call.
///
/// ```
/// use mu2sls::CallId;
///
/// let root = CallId::root("Counter", "add", "user/42");
/// assert_eq!(root.as_str(), "Counter.add:user%2F42");
/// let child = root.child(3);
/// assert_eq!(child.to_string(), "Counter.add:user%2F42/3");
/// assert_eq!(child.caller(), Some((root.clone(), 3)));
/// assert_eq!(child.root_id().key(), b"user/42");
/// assert_eq!("Counter.add:user%2F42/3".parse::<CallId>().unwrap(), child);
/// assert!("Counter.add:user/x".parse::<CallId>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallId {
    // Invariant: canonical, checked by `parse`; `root_len` is the byte length
    // of the root part (`service.method:key`).
    text: String,
    root_len: usize,
}

/// Why a string is not a [`CallId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid call id {id:?} at byte {offset}: {problem}")]
pub struct CallIdError {
    /// The rejected text.
    pub id: String,
    /// Where the problem is.
    pub offset: usize,
    /// What is wrong.
    pub problem: CallIdProblem,
}

/// What is wrong with a rejected call id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallIdProblem {
    /// A byte outside `0x21..=0x7E`, which must be percent-encoded.
    #[error("byte must be percent-encoded")]
    UnescapedByte,
    /// `%` not followed by two uppercase hex digits naming a byte that needs
    /// escaping (so every id has one spelling).
    #[error("bad or non-canonical percent escape")]
    BadEscape,
    /// The root part is not `service.method:key` with a non-empty service
    /// and method.
    #[error("expected service.method:key")]
    BadRoot,
    /// A child step is not a canonical decimal `u64`.
    #[error("expected a decimal step after '/'")]
    BadStep,
    /// A child call's id is not its caller's id, `/`, and the caller's step.
    #[error("child call id does not match its caller and step")]
    CallerMismatch,
    /// A root call carries a child id, or the other way round.
    #[error("call id shape does not match the caller fields")]
    ShapeMismatch,
}

fn needs_escape(b: u8) -> bool {
    !(0x21..=0x7E).contains(&b) || matches!(b, b'/' | b':' | b'.' | b'%')
}

fn escape_into(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(bytes.len());
    let mut rest = bytes;
    loop {
        let plain = rest.iter().position(|&b| needs_escape(b)).unwrap_or(rest.len());
        // Bytes that need no escape are printable ASCII: copied as a run.
        out.extend(rest[..plain].iter().map(|&b| char::from(b)));
        let Some(&b) = rest.get(plain) else { return };
        out.extend(['%', char::from(HEX[usize::from(b >> 4)]), char::from(HEX[usize::from(b & 0x0F)])]);
        rest = &rest[plain + 1..];
    }
}

fn unescape(text: &str) -> Vec<u8> {
    // Only called on checked components: every `%` starts a valid escape.
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(hex.unwrap_or(b'%'));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// Checks one escaped component; `base` is its offset in the whole id.
fn check_component(text: &str, base: usize) -> Result<(), (usize, CallIdProblem)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let canonical = bytes.get(i + 1..i + 3).is_some_and(|h| {
                h.iter().all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
                    && u8::from_str_radix(&text[i + 1..i + 3], 16).is_ok_and(needs_escape)
            });
            if !canonical {
                return Err((base + i, CallIdProblem::BadEscape));
            }
            i += 3;
        } else if needs_escape(b) {
            return Err((base + i, CallIdProblem::UnescapedByte));
        } else {
            i += 1;
        }
    }
    Ok(())
}

impl CallId {
    /// The id of a root call: `service.method:key`, each part escaped. `key`
    /// is the caller's idempotency key, or see [`CallId::fresh`].
    pub fn root(service: &str, method: &str, key: impl AsRef<[u8]>) -> CallId {
        let key = key.as_ref();
        let mut text = String::with_capacity(service.len() + method.len() + key.len() + 2);
        escape_into(&mut text, service.as_bytes());
        text.push('.');
        escape_into(&mut text, method.as_bytes());
        text.push(':');
        escape_into(&mut text, key);
        let root_len = text.len();
        CallId { text, root_len }
    }

    /// A root id whose key is a new UUIDv7 for the time `now_ms` (ms since
    /// the Unix epoch): for a logical call without an idempotency key. Mint it
    /// once per logical call and reuse it for every retry.
    pub fn fresh(service: &str, method: &str, now_ms: u64) -> CallId {
        let uuid = uuid::Builder::from_unix_timestamp_millis(now_ms, &super::entropy::bytes::<10>()).into_uuid();
        CallId::root(service, method, uuid.hyphenated().to_string())
    }

    /// The id of the call this call makes at `step`: `self "/" step`.
    pub fn child(&self, step: u64) -> CallId {
        CallId { text: format!("{}/{step}", self.text), root_len: self.root_len }
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether this is a root id (no caller).
    pub fn is_root(&self) -> bool {
        self.text.len() == self.root_len
    }

    /// The caller's id and step, for a child id.
    pub fn caller(&self) -> Option<(CallId, u64)> {
        let slash = self.text.rfind('/').filter(|&i| i >= self.root_len)?;
        let step = self.text[slash + 1..].parse().ok()?;
        Some((CallId { text: self.text[..slash].to_owned(), root_len: self.root_len }, step))
    }

    /// The root call of this call's tree (itself for a root id).
    pub fn root_id(&self) -> CallId {
        CallId { text: self.text[..self.root_len].to_owned(), root_len: self.root_len }
    }

    fn root_parts(&self) -> (&str, &str, &str) {
        let root = &self.text[..self.root_len];
        // Checked by `parse` or built by `root`: one '.' before one ':'.
        let (service, rest) = root.split_once('.').unwrap_or((root, ""));
        let (method, key) = rest.split_once(':').unwrap_or((rest, ""));
        (service, method, key)
    }

    /// Whether this call's root names `service` and `method` (unescaped),
    /// without allocating for names that needed no escape.
    pub(crate) fn names(&self, service: &str, method: &str) -> bool {
        let (s, m, _) = self.root_parts();
        let same = |escaped: &str, raw: &str| {
            if escaped.contains('%') { unescape(escaped) == raw.as_bytes() } else { escaped == raw }
        };
        same(s, service) && same(m, method)
    }

    /// The root's service name, unescaped.
    pub fn service(&self) -> String {
        String::from_utf8_lossy(&unescape(self.root_parts().0)).into_owned()
    }

    /// The root's method name, unescaped.
    pub fn method(&self) -> String {
        String::from_utf8_lossy(&unescape(self.root_parts().1)).into_owned()
    }

    /// The root's key, unescaped.
    pub fn key(&self) -> Vec<u8> {
        unescape(self.root_parts().2)
    }

    fn parse(text: &str) -> Result<CallId, (usize, CallIdProblem)> {
        let root_len = text.find('/').unwrap_or(text.len());
        let root = &text[..root_len];
        let dot = root.find('.').ok_or((0, CallIdProblem::BadRoot))?;
        let colon = root.find(':').filter(|&c| c > dot + 1).ok_or((dot, CallIdProblem::BadRoot))?;
        if dot == 0 {
            return Err((0, CallIdProblem::BadRoot));
        }
        check_component(&root[..dot], 0)?;
        check_component(&root[dot + 1..colon], dot + 1)?;
        check_component(&root[colon + 1..], colon + 1)?;
        let mut offset = root_len;
        while offset < text.len() {
            // `offset` is at a '/'.
            let start = offset + 1;
            let end = text[start..].find('/').map_or(text.len(), |i| start + i);
            let step = &text[start..end];
            let canonical = !step.is_empty()
                && step.bytes().all(|b| b.is_ascii_digit())
                && (step == "0" || !step.starts_with('0'))
                && step.parse::<u64>().is_ok();
            if !canonical {
                return Err((start, CallIdProblem::BadStep));
            }
            offset = end;
        }
        Ok(CallId { text: text.to_owned(), root_len })
    }
}

impl FromStr for CallId {
    type Err = CallIdError;

    fn from_str(text: &str) -> Result<CallId, CallIdError> {
        CallId::parse(text).map_err(|(offset, problem)| CallIdError { id: text.to_owned(), offset, problem })
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CallId({})", self.text)
    }
}

/// What travels with every call (spec §2.1): its id, its caller and step for
/// a child, the root's first-attempt time, and this attempt's deadline.
///
/// ```
/// use mu2sls::{CallId, CallMeta};
///
/// let root = CallMeta::root(CallId::root("Bank", "transfer", "req-7"), 1_000).with_deadline(5_000);
/// let child = CallMeta::child(&root, 2);
/// assert_eq!(child.call_id().as_str(), "Bank.transfer:req-7/2");
/// assert_eq!(child.caller(), Some((root.call_id(), 2)));
/// assert_eq!(child.origin_ms(), 1_000);
/// // Rebuilt from wire fields, a child must name its caller's step.
/// let wrong = CallMeta::new(root.call_id().child(3), Some((root.call_id().clone(), 2)), 1_000, None);
/// assert!(wrong.is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallMeta {
    call_id: CallId,
    caller: Option<(CallId, u64)>,
    origin_ms: u64,
    deadline_ms: Option<u64>,
    callback: Option<String>,
}

impl CallMeta {
    /// Metadata of a root call first attempted at `origin_ms`.
    pub fn root(call_id: CallId, origin_ms: u64) -> CallMeta {
        let call_id = if call_id.is_root() { call_id } else { call_id.root_id() };
        CallMeta { call_id, caller: None, origin_ms, deadline_ms: None, callback: None }
    }

    /// Metadata of the call `caller` makes at `step`: id `caller/step`,
    /// origin and deadline inherited.
    pub fn child(caller: &CallMeta, step: u64) -> CallMeta {
        CallMeta {
            call_id: caller.call_id.child(step),
            caller: Some((caller.call_id.clone(), step)),
            origin_ms: caller.origin_ms,
            deadline_ms: caller.deadline_ms,
            callback: None,
        }
    }

    /// Metadata as received from the wire, checked: a child's id must be its
    /// caller's id `/` step, and a root has no caller.
    pub fn new(
        call_id: CallId,
        caller: Option<(CallId, u64)>,
        origin_ms: u64,
        deadline_ms: Option<u64>,
    ) -> Result<CallMeta, CallIdError> {
        let reject = |problem| CallIdError { id: call_id.text.clone(), offset: 0, problem };
        match &caller {
            None if !call_id.is_root() => return Err(reject(CallIdProblem::ShapeMismatch)),
            Some(expected) if call_id.caller().as_ref() != Some(expected) => {
                return Err(reject(CallIdProblem::CallerMismatch));
            }
            _ => {}
        }
        Ok(CallMeta { call_id, caller, origin_ms, deadline_ms, callback: None })
    }

    /// Where the callee reports its result to its caller (spec §2.6):
    /// `store:<id>` when both share the store with that id (the callee's
    /// Done batch writes the caller's step record), else an address.
    pub fn with_callback(mut self, callback: impl Into<String>) -> CallMeta {
        self.callback = Some(callback.into());
        self
    }

    /// The callback, if the caller asked for one.
    pub fn callback(&self) -> Option<&str> {
        self.callback.as_deref()
    }

    /// This attempt's deadline (ms since the Unix epoch): an execution never
    /// starts after it.
    pub fn with_deadline(mut self, deadline_ms: u64) -> CallMeta {
        self.deadline_ms = Some(deadline_ms);
        self
    }

    /// The same metadata without a deadline.
    pub fn without_deadline(mut self) -> CallMeta {
        self.deadline_ms = None;
        self
    }

    /// The call id.
    pub fn call_id(&self) -> &CallId {
        &self.call_id
    }

    /// The caller's id and step, for a child call.
    pub fn caller(&self) -> Option<(&CallId, u64)> {
        self.caller.as_ref().map(|(id, step)| (id, *step))
    }

    /// When the root was first attempted (ms since the Unix epoch).
    pub fn origin_ms(&self) -> u64 {
        self.origin_ms
    }

    /// This attempt's deadline, if any.
    pub fn deadline_ms(&self) -> Option<u64> {
        self.deadline_ms
    }
}

/// Exactly-once metadata as a caller sends it with a request (spec §2.1),
/// before the server knows which engine serves the call.
///
/// A stock client sends none (its call gets a fresh id); our client sends
/// an idempotency key, from which the server names the root call
/// `service.method:key`; nested calls and re-drives send the whole id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerMeta {
    /// A complete call id with its caller, origin and deadline.
    Call(CallMeta),
    /// A root call's idempotency key, shared by every retry of the call.
    Key {
        /// The key.
        key: String,
        /// When the call was first attempted (ms since the Unix epoch).
        origin_ms: u64,
        /// This attempt's deadline, if any.
        deadline_ms: Option<u64>,
    },
}

impl CallerMeta {
    /// The metadata of this call as served by `service`'s engine: a key
    /// becomes the root id `service.method:key`.
    pub fn resolve(&self, service: &str, method: &str) -> CallMeta {
        match self {
            CallerMeta::Call(meta) => meta.clone(),
            CallerMeta::Key { key, origin_ms, deadline_ms } => {
                let meta = CallMeta::root(CallId::root(service, method, key.as_bytes()), *origin_ms);
                match deadline_ms {
                    Some(d) => meta.with_deadline(*d),
                    None => meta,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CallId;

    #[test]
    fn escaping_round_trips_every_byte() {
        let key: Vec<u8> = (0..=255u8).collect();
        let id = CallId::root("Svc.x", "m:/%", &key);
        assert_eq!(id.as_str().parse::<CallId>().as_ref(), Ok(&id));
        assert_eq!(id.key(), key);
        assert_eq!((id.service(), id.method()), ("Svc.x".to_owned(), "m:/%".to_owned()));
        assert!(id.as_str().starts_with("Svc%2Ex.m%3A%2F%25:%00%01"));
    }

    #[test]
    fn names_compares_unescaped_names() {
        let plain = CallId::root("Counter", "add", "k");
        assert!(plain.names("Counter", "add"));
        assert!(!plain.names("Counter", "ad"));
        assert!(!plain.names("Count", "add"));
        let escaped = CallId::root("a.b", "c d", "k");
        assert!(escaped.names("a.b", "c d"));
        assert!(!escaped.names("a%2Eb", "c%20d"));
        assert!(!escaped.names("a.b", "c"));
    }
}
