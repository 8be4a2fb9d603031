//! Decoding errors: what was wrong, where in the input, and in which field.

use std::borrow::Cow;
use std::fmt;

/// What made a message undecodable.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended inside a value.
    UnexpectedEof,
    /// A length or count is negative.
    NegativeLength(i64),
    /// A length or count says more than the bytes that remain could hold.
    LengthExceedsInput {
        /// Declared length (elements or bytes).
        len: u64,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// Structs and containers nest deeper than the limit.
    DepthLimit(usize),
    /// A type id the protocol does not define.
    InvalidType(u8),
    /// A varint longer than its type allows.
    VarintTooLong,
    /// A string is not UTF-8.
    InvalidUtf8,
    /// A message header with an unknown protocol version or message type.
    BadMessageHeader(u32),
    /// A required field was absent.
    MissingRequired(&'static str),
    /// A value of the right wire type but outside its domain.
    InvalidValue(&'static str),
    /// The message is larger than [`Limits::max_message_size`](super::Limits).
    MessageTooLarge {
        /// The message's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

/// A message could not be decoded. Carries the byte offset where decoding
/// stopped and, when it happened inside generated types, the path of
/// fields (`Post.urls.text`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    kind: DecodeErrorKind,
    offset: usize,
    /// Innermost first; generated code appends as the error bubbles up.
    path: Vec<Cow<'static, str>>,
}

impl DecodeError {
    #[cold]
    pub(crate) fn new(kind: DecodeErrorKind, offset: usize) -> DecodeError {
        DecodeError { kind, offset, path: Vec::new() }
    }

    /// A required field was absent. Used by generated code.
    #[doc(hidden)]
    #[cold]
    pub fn missing_required(field: &'static str, offset: usize) -> DecodeError {
        DecodeError::new(DecodeErrorKind::MissingRequired(field), offset)
    }

    /// What was wrong.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.kind
    }

    /// Byte offset in the input where decoding stopped.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The field path, outermost first, joined with dots (empty outside
    /// generated types).
    pub fn path(&self) -> String {
        let parts: Vec<&str> = self.path.iter().rev().map(|c| c.as_ref()).collect();
        parts.join(".")
    }

    /// Adds an enclosing path segment (a struct or field name). Generated
    /// code calls this on the way out of each field.
    #[cold]
    #[must_use]
    pub fn within(mut self, segment: impl Into<Cow<'static, str>>) -> DecodeError {
        self.path.push(segment.into());
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DecodeErrorKind::UnexpectedEof => write!(f, "input ended inside a value")?,
            DecodeErrorKind::NegativeLength(n) => write!(f, "negative length {n}")?,
            DecodeErrorKind::LengthExceedsInput { len, remaining } => {
                write!(f, "length {len} exceeds the {remaining} bytes that remain")?
            }
            DecodeErrorKind::DepthLimit(d) => write!(f, "nesting deeper than {d} levels")?,
            DecodeErrorKind::InvalidType(t) => write!(f, "invalid type id {t}")?,
            DecodeErrorKind::VarintTooLong => write!(f, "varint too long")?,
            DecodeErrorKind::InvalidUtf8 => write!(f, "string is not valid UTF-8")?,
            DecodeErrorKind::BadMessageHeader(w) => write!(f, "bad message header {w:#010x}")?,
            DecodeErrorKind::MissingRequired(name) => write!(f, "required field `{name}` is missing")?,
            DecodeErrorKind::InvalidValue(what) => write!(f, "invalid value: {what}")?,
            DecodeErrorKind::MessageTooLarge { size, limit } => {
                write!(f, "message of {size} bytes exceeds the limit of {limit}")?
            }
        }
        write!(f, " at byte {}", self.offset)?;
        if !self.path.is_empty() {
            write!(f, " in `{}`", self.path())?;
        }
        Ok(())
    }
}

impl std::error::Error for DecodeError {}
