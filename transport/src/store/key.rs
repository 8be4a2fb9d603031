//! Tuple-encoded store keys.
//!
//! A [`Key`] is a tuple of typed components (`("log", call_id, step)`) kept in
//! an encoding whose byte order is the tuple order and in which no component
//! can be mistaken for a delimiter (spec §2.1, §2.3: fixes Beldi's B6 and B8).
//!
//! Each component is a tag byte followed by its payload:
//!
//! - `0x01` bytes and `0x02` UTF-8 text: the content with every `0x00`
//!   written as `0x00 0xFF`, then a terminating `0x00`;
//! - `0x03` unsigned integer: eight bytes, big-endian.
//!
//! No tag is `0xFF`, so inside a key a `0x00` followed by `0xFF` is always an
//! escaped content byte and a `0x00` followed by anything else (or by the end)
//! is a terminator. A tuple `p` is a prefix of a key `k` exactly when the bytes
//! of `p` are a prefix of `k` and the next byte of `k`, if any, is not `0xFF`;
//! equivalently, the keys under `p` are the byte range `[p, p ++ 0xFF)`.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;

const TAG_BYTES: u8 = 0x01;
const TAG_STR: u8 = 0x02;
const TAG_U64: u8 = 0x03;
const ESCAPE: u8 = 0xFF;

/// A store key: a tuple of typed components in an order-preserving, prefix-safe
/// byte encoding.
///
/// Keys compare in tuple order (component by component; text and bytes
/// bytewise, integers numerically, a tuple before its extensions), and a key
/// is under a prefix only if the prefix's components are its leading
/// components: `("log", "t1")` is not a prefix of `("log", "t10", 0)`, and a
/// component may contain `-`, `/`, `0x00` or any other byte.
///
/// ```
/// use mu2sls::{Key, KeyPart};
///
/// let key = Key::from(("log", "t1", 3u64));
/// assert!(key.starts_with(&Key::from(("log", "t1"))));
/// assert!(!Key::from(("log", "t10", 0u64)).starts_with(&Key::from(("log", "t1"))));
/// assert_eq!(key.parts().collect::<Vec<_>>(), ["log".into(), "t1".into(), KeyPart::U64(3)]);
/// assert_eq!(key.to_string(), r#"("log", "t1", 3)"#);
/// assert!(Key::from(("log", "t1", 2u64)) < key);
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    // Invariant: a complete, valid encoding (checked by `from_encoded`).
    encoded: Bytes,
}

/// One component of a [`Key`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum KeyPart<'a> {
    /// Arbitrary bytes.
    Bytes(Cow<'a, [u8]>),
    /// UTF-8 text.
    Str(Cow<'a, str>),
    /// An unsigned integer (ordered numerically).
    U64(u64),
}

/// Why a byte string is not a valid [`Key`] encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyDecodeError {
    /// A component starts with a byte that is no known tag.
    #[error("unknown component tag {tag:#04x} at byte {offset}")]
    UnknownTag {
        /// Position of the tag in the encoded key.
        offset: usize,
        /// The tag byte found.
        tag: u8,
    },
    /// A text or bytes component has no terminating `0x00`.
    #[error("unterminated component starting at byte {offset}")]
    Unterminated {
        /// Position of the component's tag.
        offset: usize,
    },
    /// An integer component has fewer than eight bytes.
    #[error("truncated integer component starting at byte {offset}")]
    TruncatedInteger {
        /// Position of the component's tag.
        offset: usize,
    },
    /// A text component is not valid UTF-8.
    #[error("text component starting at byte {offset} is not UTF-8")]
    InvalidUtf8 {
        /// Position of the component's tag.
        offset: usize,
    },
}

impl Key {
    /// The empty tuple: a prefix of every key.
    pub fn new() -> Key {
        Key::default()
    }

    /// This key with one more component appended.
    ///
    /// ```
    /// use mu2sls::Key;
    ///
    /// let prefix = Key::from(("log", "t1"));
    /// assert_eq!(prefix.with(7u64), Key::from(("log", "t1", 7u64)));
    /// ```
    pub fn with<'a>(&self, part: impl Into<KeyPart<'a>>) -> Key {
        let part = part.into();
        let mut out = Vec::with_capacity(self.encoded.len() + encoded_len(&part));
        out.extend_from_slice(&self.encoded);
        encode_part(&mut out, &part);
        Key { encoded: Bytes::from(out) }
    }

    /// Checks that `encoded` is a complete key encoding, as read back from a
    /// backend, and wraps it.
    pub fn from_encoded(encoded: Bytes) -> Result<Key, KeyDecodeError> {
        let mut parts = Parts { rest: &encoded, offset: 0 };
        for part in &mut parts {
            part?;
        }
        Ok(Key { encoded })
    }

    /// The encoded bytes; their order is the tuple order.
    pub fn as_bytes(&self) -> &[u8] {
        &self.encoded
    }

    /// The encoded bytes as a cheaply cloned buffer.
    pub fn to_bytes(&self) -> Bytes {
        self.encoded.clone()
    }

    /// The components, in order.
    pub fn parts(&self) -> impl Iterator<Item = KeyPart<'_>> + '_ {
        // A `Key` always holds a valid encoding, so decoding cannot fail;
        // were it ever to, the iteration would just end early.
        Parts { rest: &self.encoded, offset: 0 }.map_while(Result::ok)
    }

    /// Whether `prefix`'s components are the leading components of this key
    /// (a key is a prefix of itself).
    pub fn starts_with(&self, prefix: &Key) -> bool {
        is_tuple_prefix(&self.encoded, &prefix.encoded)
    }

    /// The exclusive upper bound of the byte range holding every key under
    /// this prefix: the encoding followed by `0xFF`.
    #[cfg(any(feature = "sled", feature = "postgres", test))]
    pub(crate) fn prefix_end(&self) -> Vec<u8> {
        let mut end = Vec::with_capacity(self.encoded.len() + 1);
        end.extend_from_slice(&self.encoded);
        end.push(ESCAPE);
        end
    }
}

/// Whether the encoded tuple `prefix` is a leading run of components of the
/// encoded key `key`.
pub(crate) fn is_tuple_prefix(key: &[u8], prefix: &[u8]) -> bool {
    // A byte prefix that is followed by 0xFF ended inside a text or bytes
    // component of `key` (the 0x00 was an escape, not a terminator).
    key.starts_with(prefix) && key.get(prefix.len()) != Some(&ESCAPE)
}

/// The encoded length of `part`: keys are built in one allocation of
/// exactly their size (a `Bytes` from a full `Vec` needs no second one).
fn encoded_len(part: &KeyPart<'_>) -> usize {
    let escaped = |content: &[u8]| {
        let zeros = if content.contains(&0) { content.iter().filter(|&&b| b == 0).count() } else { 0 };
        content.len() + zeros + 2
    };
    match part {
        KeyPart::Bytes(bytes) => escaped(bytes),
        KeyPart::Str(text) => escaped(text.as_bytes()),
        KeyPart::U64(_) => 9,
    }
}

fn encode_part(out: &mut Vec<u8>, part: &KeyPart<'_>) {
    match part {
        KeyPart::Bytes(bytes) => encode_escaped(out, TAG_BYTES, bytes),
        KeyPart::Str(text) => encode_escaped(out, TAG_STR, text.as_bytes()),
        KeyPart::U64(n) => {
            out.push(TAG_U64);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

fn encode_escaped(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    if !content.contains(&0) {
        // The common case: nothing to escape.
        out.extend_from_slice(content);
        out.push(0);
        return;
    }
    for chunk in content.split_inclusive(|&b| b == 0) {
        out.extend_from_slice(chunk);
        if chunk.last() == Some(&0) {
            out.push(ESCAPE);
        }
    }
    out.push(0);
}

/// Decodes components one at a time; yields an error once and then stops.
struct Parts<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for Parts<'a> {
    type Item = Result<KeyPart<'a>, KeyDecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&tag, payload) = self.rest.split_first()?;
        let start = self.offset;
        let decoded = match tag {
            TAG_U64 => match payload.split_first_chunk::<8>() {
                Some((n, _)) => Ok((KeyPart::U64(u64::from_be_bytes(*n)), 9)),
                None => Err(KeyDecodeError::TruncatedInteger { offset: start }),
            },
            TAG_BYTES => decode_escaped(payload, start).map(|(content, used)| (KeyPart::Bytes(content), used + 1)),
            TAG_STR => decode_escaped(payload, start).and_then(|(content, used)| {
                let text = match content {
                    Cow::Borrowed(b) => std::str::from_utf8(b).map(Cow::Borrowed).ok(),
                    Cow::Owned(b) => String::from_utf8(b).map(Cow::Owned).ok(),
                };
                match text {
                    Some(text) => Ok((KeyPart::Str(text), used + 1)),
                    None => Err(KeyDecodeError::InvalidUtf8 { offset: start }),
                }
            }),
            tag => Err(KeyDecodeError::UnknownTag { offset: start, tag }),
        };
        match decoded {
            Ok((part, used)) => {
                self.rest = &self.rest[used..];
                self.offset += used;
                Some(Ok(part))
            }
            Err(error) => {
                self.rest = &[];
                Some(Err(error))
            }
        }
    }
}

/// Decodes an escaped payload; returns the content and the number of payload
/// bytes used, terminator included.
fn decode_escaped(payload: &[u8], start: usize) -> Result<(Cow<'_, [u8]>, usize), KeyDecodeError> {
    let mut owned: Option<Vec<u8>> = None;
    let mut i = 0;
    loop {
        let Some(zero) = payload[i..].iter().position(|&b| b == 0).map(|p| p + i) else {
            return Err(KeyDecodeError::Unterminated { offset: start });
        };
        if payload.get(zero + 1) == Some(&ESCAPE) {
            // An escaped 0x00 inside the content.
            owned.get_or_insert_with(Vec::new).extend_from_slice(&payload[i..=zero]);
            i = zero + 2;
            continue;
        }
        let content = match owned {
            Some(mut content) => {
                content.extend_from_slice(&payload[i..zero]);
                Cow::Owned(content)
            }
            None => Cow::Borrowed(&payload[..zero]),
        };
        return Ok((content, zero + 1));
    }
}

impl fmt::Display for KeyPart<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyPart::Bytes(bytes) => write!(f, "b\"{}\"", bytes.escape_ascii()),
            KeyPart::Str(text) => write!(f, "{text:?}"),
            KeyPart::U64(n) => write!(f, "{n}"),
        }
    }
}

impl fmt::Display for Key {
    /// Renders the tuple, for example `("log", "t1", 3)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        render_tuple(f, &self.encoded)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key")?;
        render_tuple(f, &self.encoded)
    }
}

/// Renders encoded key bytes as a tuple, or as escaped bytes if they do not
/// decode (corrupt store contents).
pub(crate) struct RawKey<'a>(pub(crate) &'a [u8]);

impl fmt::Display for RawKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if (Parts { rest: self.0, offset: 0 }).all(|part| part.is_ok()) {
            render_tuple(f, self.0)
        } else {
            write!(f, "b\"{}\"", self.0.escape_ascii())
        }
    }
}

fn render_tuple(f: &mut fmt::Formatter<'_>, encoded: &[u8]) -> fmt::Result {
    f.write_str("(")?;
    let mut count = 0;
    for part in (Parts { rest: encoded, offset: 0 }).map_while(Result::ok) {
        if count > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{part}")?;
        count += 1;
    }
    if count == 1 {
        f.write_str(",")?;
    }
    f.write_str(")")
}

impl<'a> From<&'a str> for KeyPart<'a> {
    fn from(text: &'a str) -> Self {
        KeyPart::Str(Cow::Borrowed(text))
    }
}

impl<'a> From<&'a String> for KeyPart<'a> {
    fn from(text: &'a String) -> Self {
        KeyPart::Str(Cow::Borrowed(text))
    }
}

impl From<String> for KeyPart<'static> {
    fn from(text: String) -> Self {
        KeyPart::Str(Cow::Owned(text))
    }
}

impl<'a> From<&'a [u8]> for KeyPart<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        KeyPart::Bytes(Cow::Borrowed(bytes))
    }
}

impl From<Vec<u8>> for KeyPart<'static> {
    fn from(bytes: Vec<u8>) -> Self {
        KeyPart::Bytes(Cow::Owned(bytes))
    }
}

impl From<u64> for KeyPart<'_> {
    fn from(n: u64) -> Self {
        KeyPart::U64(n)
    }
}

impl From<u32> for KeyPart<'_> {
    fn from(n: u32) -> Self {
        KeyPart::U64(n.into())
    }
}

/// Keys from tuples of up to six components, each anything that converts into
/// a [`KeyPart`].
macro_rules! key_from_tuple {
    ($($name:ident)+) => {
        impl<'a, $($name: Into<KeyPart<'a>>),+> From<($($name,)+)> for Key {
            #[allow(non_snake_case)]
            fn from(($($name,)+): ($($name,)+)) -> Key {
                $(let $name = $name.into();)+
                let len = 0 $(+ encoded_len(&$name))+;
                let mut out = Vec::with_capacity(len);
                $(encode_part(&mut out, &$name);)+
                debug_assert_eq!(out.len(), len);
                Key { encoded: Bytes::from(out) }
            }
        }
    };
}

key_from_tuple!(A);
key_from_tuple!(A B);
key_from_tuple!(A B C);
key_from_tuple!(A B C D);
key_from_tuple!(A B C D E);
key_from_tuple!(A B C D E F);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn part_strategy() -> impl Strategy<Value = KeyPart<'static>> {
        prop_oneof![
            proptest::collection::vec(prop_oneof![Just(0u8), Just(0xFF), Just(b'-'), any::<u8>()], 0..6)
                .prop_map(KeyPart::from),
            "[a-c0-1/\\-\\x00\\u{ff}]{0,5}".prop_map(KeyPart::from),
            prop_oneof![Just(0u64), Just(u64::MAX), 0u64..300].prop_map(KeyPart::U64),
        ]
    }

    fn key_of(parts: &[KeyPart<'static>]) -> Key {
        parts.iter().fold(Key::new(), |key, part| key.with(part.clone()))
    }

    #[test]
    fn tuple_prefixes_respect_component_boundaries() {
        let t1 = Key::from(("log", "t1"));
        assert!(Key::from(("log", "t1", 0u64)).starts_with(&t1));
        assert!(t1.starts_with(&t1));
        assert!(!Key::from(("log", "t10")).starts_with(&t1));
        assert!(!Key::from(("log", "t1-0")).starts_with(&t1));
        assert!(!Key::from(("log", "t1/0")).starts_with(&t1));
        assert!(!Key::from(("log", "t1\0")).starts_with(&t1));
        assert!(!Key::from(("log", "t1\0", 0u64)).starts_with(&t1));
        assert!(Key::from(("log", "t1", "\0")).starts_with(&t1));
        assert!(Key::from(("log",)).starts_with(&Key::new()));
    }

    #[test]
    fn display_shows_the_tuple() {
        assert_eq!(Key::new().to_string(), "()");
        assert_eq!(Key::from(("call",)).to_string(), r#"("call",)"#);
        let key = Key::from(("state", "svc-a/b", &b"\x00\xff"[..], 7u32));
        assert_eq!(key.to_string(), r#"("state", "svc-a/b", b"\x00\xff", 7)"#);
        assert_eq!(format!("{key:?}"), r#"Key("state", "svc-a/b", b"\x00\xff", 7)"#);
        assert_eq!(RawKey(&[0x02, b'a']).to_string(), r#"b"\x02a""#);
    }

    #[test]
    fn malformed_encodings_are_rejected_with_their_position() {
        let cases: [(&[u8], KeyDecodeError); 5] = [
            (&[0x07], KeyDecodeError::UnknownTag { offset: 0, tag: 0x07 }),
            (&[0x02, b'a'], KeyDecodeError::Unterminated { offset: 0 }),
            (&[0x02, b'a', 0, 0x03, 1, 2], KeyDecodeError::TruncatedInteger { offset: 3 }),
            (&[0x02, 0xC3, 0], KeyDecodeError::InvalidUtf8 { offset: 0 }),
            (&[0x01, 0, 0xFF], KeyDecodeError::Unterminated { offset: 0 }),
        ];
        for (bytes, expected) in cases {
            assert_eq!(Key::from_encoded(Bytes::copy_from_slice(bytes)), Err(expected), "{bytes:?}");
        }
    }

    proptest! {
        #[test]
        fn encoding_round_trips(parts in proptest::collection::vec(part_strategy(), 0..4)) {
            let key = key_of(&parts);
            prop_assert_eq!(key.parts().collect::<Vec<_>>(), parts);
            prop_assert_eq!(Key::from_encoded(key.to_bytes()), Ok(key));
        }

        #[test]
        fn byte_order_is_tuple_order(
            a in proptest::collection::vec(part_strategy(), 0..4),
            b in proptest::collection::vec(part_strategy(), 0..4),
        ) {
            // Vec<KeyPart> compares lexicographically, variant order Bytes < Str < U64.
            prop_assert_eq!(key_of(&a).cmp(&key_of(&b)), a.cmp(&b));
        }

        #[test]
        fn prefix_holds_exactly_for_leading_components(
            a in proptest::collection::vec(part_strategy(), 0..4),
            b in proptest::collection::vec(part_strategy(), 0..4),
        ) {
            let (ka, kb) = (key_of(&a), key_of(&b));
            prop_assert_eq!(ka.starts_with(&kb), a.starts_with(&b));
            let in_range = kb.as_bytes() <= ka.as_bytes() && ka.as_bytes() < kb.prefix_end().as_slice();
            prop_assert_eq!(in_range, a.starts_with(&b));
        }
    }
}
