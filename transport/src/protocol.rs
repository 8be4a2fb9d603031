//! What travels around the codec: Apache's `TApplicationException`, and the
//! error types of generated handlers and clients.

use std::fmt;

use crate::codec::{Decode, DecodeError, Encode, Output, Protocol, Reader, TType, Writer};

/// The kind of an [`ApplicationException`]: Apache's numbering, kept as an
/// open `i32` (fbthrift adds codes 11 to 15; unknown codes round-trip).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApplicationExceptionKind(pub i32);

impl ApplicationExceptionKind {
    /// Anything else.
    pub const UNKNOWN: Self = Self(0);
    /// No such method.
    pub const UNKNOWN_METHOD: Self = Self(1);
    /// A message type the receiver does not expect (a REPLY sent to a server).
    pub const INVALID_MESSAGE_TYPE: Self = Self(2);
    /// The reply names another method than the call.
    pub const WRONG_METHOD_NAME: Self = Self(3);
    /// The reply's sequence id is not the call's.
    pub const BAD_SEQUENCE_ID: Self = Self(4);
    /// A non-void reply without a result.
    pub const MISSING_RESULT: Self = Self(5);
    /// The handler failed with an undeclared error, or panicked.
    pub const INTERNAL_ERROR: Self = Self(6);
    /// The request could not be decoded.
    pub const PROTOCOL_ERROR: Self = Self(7);
    /// THeader: an unknown transform.
    pub const INVALID_TRANSFORM: Self = Self(8);
    /// THeader: an unknown protocol.
    pub const INVALID_PROTOCOL: Self = Self(9);
    /// THeader: a client type the server does not serve.
    pub const UNSUPPORTED_CLIENT_TYPE: Self = Self(10);

    /// Apache's name for the kind, if it is one of the standard codes.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "UNKNOWN",
            1 => "UNKNOWN_METHOD",
            2 => "INVALID_MESSAGE_TYPE",
            3 => "WRONG_METHOD_NAME",
            4 => "BAD_SEQUENCE_ID",
            5 => "MISSING_RESULT",
            6 => "INTERNAL_ERROR",
            7 => "PROTOCOL_ERROR",
            8 => "INVALID_TRANSFORM",
            9 => "INVALID_PROTOCOL",
            10 => "UNSUPPORTED_CLIENT_TYPE",
            _ => return None,
        })
    }
}

impl fmt::Debug for ApplicationExceptionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "ApplicationExceptionKind({})", self.0),
        }
    }
}

/// Apache's `TApplicationException`: a failure that is not one of the
/// method's declared exceptions. Sent as an EXCEPTION message
/// `{1: string message, 2: i32 type}`.
///
/// ```
/// use mu2sls::{ApplicationException, ApplicationExceptionKind};
/// use mu2sls::codec::{Binary, decode, encode};
///
/// let e = ApplicationException::new(ApplicationExceptionKind::UNKNOWN_METHOD, "no method `frob`");
/// let back: ApplicationException = decode::<Binary, _>(&encode::<Binary, _>(&e)).unwrap();
/// assert_eq!(back, e);
/// assert_eq!(e.to_string(), "UNKNOWN_METHOD: no method `frob`");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationException {
    /// What went wrong, for people.
    pub message: String,
    /// What went wrong, for programs.
    pub kind: ApplicationExceptionKind,
}

impl ApplicationException {
    /// An exception of `kind` with `message`.
    pub fn new(kind: ApplicationExceptionKind, message: impl Into<String>) -> ApplicationException {
        ApplicationException { message: message.into(), kind }
    }

    /// An INTERNAL_ERROR: the handler failed with an undeclared error.
    pub fn internal(message: impl Into<String>) -> ApplicationException {
        ApplicationException::new(ApplicationExceptionKind::INTERNAL_ERROR, message)
    }
}

impl fmt::Display for ApplicationException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for ApplicationException {}

impl Encode for ApplicationException {
    const TTYPE: TType = TType::Struct;
    fn encode<P: Protocol, O: Output>(&self, w: &mut Writer<P, O>) {
        w.struct_begin();
        w.field_begin(TType::Binary, 1);
        w.string(&self.message);
        w.field_begin(TType::I32, 2);
        w.i32(self.kind.0);
        w.struct_end();
    }
}

impl Decode for ApplicationException {
    fn decode<P: Protocol>(r: &mut Reader<'_, P>) -> Result<Self, DecodeError> {
        let mut e = ApplicationException::new(ApplicationExceptionKind::UNKNOWN, "");
        r.struct_begin()?;
        while let Some((t, id)) = r.field_begin()? {
            match (id, t) {
                (1, TType::Binary) => e.message = r.string()?,
                (2, TType::I32) => e.kind = ApplicationExceptionKind(r.i32()?),
                _ => r.skip(t)?,
            }
        }
        r.struct_end();
        Ok(e)
    }
}

/// What a generated handler method returns on failure: one of the
/// method's declared exceptions (`E`, sent in a REPLY), or anything else
/// (sent as an EXCEPTION message).
#[derive(Debug, PartialEq)]
pub enum ServiceError<E> {
    /// A declared exception.
    Exception(E),
    /// An undeclared failure.
    Application(ApplicationException),
}

impl<E> ServiceError<E> {
    /// An undeclared failure with INTERNAL_ERROR and `message`.
    pub fn internal(message: impl Into<String>) -> ServiceError<E> {
        ServiceError::Application(ApplicationException::internal(message))
    }
}

impl<E> From<ApplicationException> for ServiceError<E> {
    fn from(e: ApplicationException) -> Self {
        ServiceError::Application(e)
    }
}

impl<E: fmt::Display> fmt::Display for ServiceError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceError::Exception(e) => write!(f, "declared exception: {e}"),
            ServiceError::Application(e) => write!(f, "application exception: {e}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for ServiceError<E> {}

/// The exception type of a method without `throws`: it has no values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NoException {}

impl fmt::Display for NoException {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}

impl std::error::Error for NoException {}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::codec::{Binary, Compact, decode, encode};

    #[test]
    fn wire_form_matches_apache() {
        let e = ApplicationException::new(ApplicationExceptionKind::PROTOCOL_ERROR, "bad");
        let bytes = encode::<Binary, _>(&e);
        assert_eq!(&bytes[..], &[11, 0, 1, 0, 0, 0, 3, b'b', b'a', b'd', 8, 0, 2, 0, 0, 0, 7, 0]);
        assert_eq!(decode::<Compact, ApplicationException>(&encode::<Compact, _>(&e)).unwrap(), e);
    }

    #[test]
    fn unknown_kinds_and_fields_are_kept_or_skipped() {
        // kind 13 (fbthrift) and an extra field 3.
        let b = Bytes::from_static(&[8, 0, 2, 0, 0, 0, 13, 8, 0, 3, 0, 0, 0, 1, 0]);
        let e: ApplicationException = decode::<Binary, _>(&b).unwrap();
        assert_eq!(e.kind, ApplicationExceptionKind(13));
        assert_eq!(format!("{:?}", e.kind), "ApplicationExceptionKind(13)");
    }
}
