//! Values to bytes and back: Thrift's binary and compact protocols.
//!
//! The protocol is a type parameter ([`Binary`] or [`Compact`], both zero
//! sized), so every encode and decode is monomorphised: no `dyn`, no
//! allocation per field. Writing goes into any [`Output`]; the exact encoded
//! size comes from running the same encoder into a [`LenCounter`], so a
//! message is written into one buffer of the right size. Reading works on a
//! whole frame held in [`Bytes`]: `binary` values are slices of it, not
//! copies.
//!
//! Architecture invariant: the codec never touches a socket, and no input
//! makes a decoder panic, allocate more than the input could justify, or
//! recurse past [`Limits::max_depth`]. Every length is checked against the
//! bytes that remain before anything is allocated.

mod binary;
mod canonical;
mod compact;
mod error;
pub(crate) mod fields;
#[cfg(test)]
mod tests;
mod values;

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

pub use binary::Binary;
pub use canonical::canonical_struct;
pub use compact::Compact;
pub use error::{DecodeError, DecodeErrorKind};
pub use values::BinaryRef;

/// Wire types, independent of the protocol's numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TType {
    /// End of a struct's fields.
    Stop,
    /// `bool`.
    Bool,
    /// `i8` (`byte`).
    I8,
    /// `double`.
    Double,
    /// `i16`.
    I16,
    /// `i32` and enums.
    I32,
    /// `i64`.
    I64,
    /// `string` and `binary`.
    Binary,
    /// Structs, unions and exceptions.
    Struct,
    /// `map`.
    Map,
    /// `set`.
    Set,
    /// `list`.
    List,
    /// `uuid`.
    Uuid,
}

/// The kind of a Thrift message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// A request expecting a reply.
    Call,
    /// A successful (or declared-exception) reply.
    Reply,
    /// An `ApplicationException` reply.
    Exception,
    /// A request expecting no reply.
    Oneway,
}

impl MessageType {
    /// The wire value (1 to 4).
    pub fn to_i8(self) -> i8 {
        match self {
            MessageType::Call => 1,
            MessageType::Reply => 2,
            MessageType::Exception => 3,
            MessageType::Oneway => 4,
        }
    }

    /// From the wire value.
    pub fn from_i8(v: i8) -> Option<MessageType> {
        Some(match v {
            1 => MessageType::Call,
            2 => MessageType::Reply,
            3 => MessageType::Exception,
            4 => MessageType::Oneway,
            _ => return None,
        })
    }
}

/// A message header: method name, kind and sequence id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageHeader {
    /// The method name (possibly `Service:method` when multiplexed).
    pub name: String,
    /// Call, reply, exception or oneway.
    pub kind: MessageType,
    /// The client's sequence id, echoed in the reply.
    pub seq: i32,
}

/// Which Thrift protocol a connection or message uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ProtocolKind {
    /// `TBinaryProtocol` (strict), the default.
    #[default]
    Binary,
    /// `TCompactProtocol`.
    Compact,
}

/// Bounds on what a [`Reader`] accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// How deeply structs and containers may nest (64, as Apache).
    pub max_depth: usize,
    /// The largest message accepted, in bytes (16,384,000 by default, as
    /// Apache's C++ and Python servers). Transports enforce it per frame.
    pub max_message_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_depth: 64, max_message_size: 16_384_000 }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A Thrift protocol: [`Binary`] or [`Compact`]. Sealed; the methods are
/// the primitives [`Writer`] and [`Reader`] dispatch to.
pub trait Protocol: sealed::Sealed + Copy + Default + Send + Sync + fmt::Debug + 'static {
    /// Which protocol this is, as a value.
    const KIND: ProtocolKind;
    #[doc(hidden)]
    type WriteState: Default + Send;
    #[doc(hidden)]
    type ReadState: Default + Send;

    #[doc(hidden)]
    fn write_message_begin<O: Output>(o: &mut O, name: &str, kind: MessageType, seq: i32);
    #[doc(hidden)]
    fn write_struct_begin(s: &mut Self::WriteState);
    #[doc(hidden)]
    fn write_struct_end(s: &mut Self::WriteState);
    #[doc(hidden)]
    fn write_field_begin<O: Output>(o: &mut O, s: &mut Self::WriteState, t: TType, id: i16);
    #[doc(hidden)]
    fn write_field_stop<O: Output>(o: &mut O);
    #[doc(hidden)]
    fn write_bool<O: Output>(o: &mut O, s: &mut Self::WriteState, v: bool);
    #[doc(hidden)]
    fn write_i16<O: Output>(o: &mut O, v: i16);
    #[doc(hidden)]
    fn write_i32<O: Output>(o: &mut O, v: i32);
    #[doc(hidden)]
    fn write_i64<O: Output>(o: &mut O, v: i64);
    #[doc(hidden)]
    fn write_double<O: Output>(o: &mut O, v: f64);
    #[doc(hidden)]
    fn write_bytes<O: Output>(o: &mut O, v: &[u8]);
    #[doc(hidden)]
    fn write_list_begin<O: Output>(o: &mut O, elem: TType, len: usize);
    #[doc(hidden)]
    fn write_map_begin<O: Output>(o: &mut O, k: TType, v: TType, len: usize);

    #[doc(hidden)]
    fn read_message_begin(r: &mut Reader<'_, Self>) -> Result<MessageHeader, DecodeError>;
    #[doc(hidden)]
    fn read_struct_begin(r: &mut Reader<'_, Self>);
    #[doc(hidden)]
    fn read_struct_end(r: &mut Reader<'_, Self>);
    #[doc(hidden)]
    fn read_field_begin(r: &mut Reader<'_, Self>) -> Result<Option<(TType, i16)>, DecodeError>;
    #[doc(hidden)]
    fn read_bool(r: &mut Reader<'_, Self>) -> Result<bool, DecodeError>;
    #[doc(hidden)]
    fn read_i16(r: &mut Reader<'_, Self>) -> Result<i16, DecodeError>;
    #[doc(hidden)]
    fn read_i32(r: &mut Reader<'_, Self>) -> Result<i32, DecodeError>;
    #[doc(hidden)]
    fn read_i64(r: &mut Reader<'_, Self>) -> Result<i64, DecodeError>;
    #[doc(hidden)]
    fn read_double(r: &mut Reader<'_, Self>) -> Result<f64, DecodeError>;
    /// Reads a length prefix (not yet checked against the input).
    #[doc(hidden)]
    fn read_len(r: &mut Reader<'_, Self>) -> Result<i64, DecodeError>;
    /// Reads a list or set header: element type and raw length.
    #[doc(hidden)]
    fn read_list_begin(r: &mut Reader<'_, Self>) -> Result<(TType, i64), DecodeError>;
    /// Reads a map header: key and value types (`None` for an empty
    /// compact map, which carries none) and raw length.
    #[doc(hidden)]
    fn read_map_begin(r: &mut Reader<'_, Self>) -> Result<(Option<(TType, TType)>, i64), DecodeError>;
    /// The fewest bytes a value of type `t` takes, for length checks.
    #[doc(hidden)]
    fn min_size(t: TType) -> usize;
}

/// Where a [`Writer`] puts bytes.
pub trait Output {
    /// Appends one byte.
    fn put_u8(&mut self, b: u8);
    /// Appends bytes.
    fn put_slice(&mut self, s: &[u8]);
}

impl Output for BytesMut {
    #[inline]
    fn put_u8(&mut self, b: u8) {
        BufMut::put_u8(self, b);
    }
    #[inline]
    fn put_slice(&mut self, s: &[u8]) {
        self.extend_from_slice(s);
    }
}

impl Output for Vec<u8> {
    #[inline]
    fn put_u8(&mut self, b: u8) {
        self.push(b);
    }
    #[inline]
    fn put_slice(&mut self, s: &[u8]) {
        self.extend_from_slice(s);
    }
}

/// An [`Output`] that only counts: encoding into it gives the exact size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LenCounter(pub usize);

impl Output for LenCounter {
    #[inline]
    fn put_u8(&mut self, _: u8) {
        self.0 += 1;
    }
    #[inline]
    fn put_slice(&mut self, s: &[u8]) {
        self.0 += s.len();
    }
}

/// Writes values in protocol `P` into `O`. Never fails: every value has
/// an encoding.
pub struct Writer<P: Protocol, O: Output> {
    out: O,
    state: P::WriteState,
}

impl<P: Protocol, O: Output> Writer<P, O> {
    /// A writer appending to `out`.
    pub fn new(out: O) -> Writer<P, O> {
        Writer { out, state: P::WriteState::default() }
    }

    /// The output, with everything written so far.
    pub fn into_inner(self) -> O {
        self.out
    }

    /// A message header.
    pub fn message_begin(&mut self, name: &str, kind: MessageType, seq: i32) {
        P::write_message_begin(&mut self.out, name, kind, seq);
    }
    /// Starts a struct.
    #[inline]
    pub fn struct_begin(&mut self) {
        P::write_struct_begin(&mut self.state);
    }
    /// Ends a struct: writes STOP.
    #[inline]
    pub fn struct_end(&mut self) {
        P::write_field_stop(&mut self.out);
        P::write_struct_end(&mut self.state);
    }
    /// A field header; the value follows.
    #[inline]
    pub fn field_begin(&mut self, t: TType, id: i16) {
        P::write_field_begin(&mut self.out, &mut self.state, t, id);
    }
    /// A `bool` (as a field value or an element).
    #[inline]
    pub fn bool(&mut self, v: bool) {
        P::write_bool(&mut self.out, &mut self.state, v);
    }
    /// An `i8`.
    #[inline]
    pub fn i8(&mut self, v: i8) {
        self.out.put_u8(v as u8);
    }
    /// An `i16`.
    #[inline]
    pub fn i16(&mut self, v: i16) {
        P::write_i16(&mut self.out, v);
    }
    /// An `i32`.
    #[inline]
    pub fn i32(&mut self, v: i32) {
        P::write_i32(&mut self.out, v);
    }
    /// An `i64`.
    #[inline]
    pub fn i64(&mut self, v: i64) {
        P::write_i64(&mut self.out, v);
    }
    /// A `double`.
    #[inline]
    pub fn double(&mut self, v: f64) {
        P::write_double(&mut self.out, v);
    }
    /// A `string`.
    #[inline]
    pub fn string(&mut self, v: &str) {
        P::write_bytes(&mut self.out, v.as_bytes());
    }
    /// A `binary`.
    #[inline]
    pub fn binary(&mut self, v: &[u8]) {
        P::write_bytes(&mut self.out, v);
    }
    /// A `uuid`: 16 raw bytes in both protocols.
    #[inline]
    pub fn uuid(&mut self, v: &uuid::Uuid) {
        self.out.put_slice(v.as_bytes());
    }
    /// Bytes already encoded in this protocol, copied as they are.
    #[doc(hidden)]
    pub fn raw(&mut self, bytes: &[u8]) {
        self.out.put_slice(bytes);
    }

    /// A list header; `len` elements follow.
    #[inline]
    pub fn list_begin(&mut self, elem: TType, len: usize) {
        P::write_list_begin(&mut self.out, elem, len);
    }
    /// A set header; `len` elements follow.
    #[inline]
    pub fn set_begin(&mut self, elem: TType, len: usize) {
        P::write_list_begin(&mut self.out, elem, len);
    }
    /// A map header; `len` key-value pairs follow.
    #[inline]
    pub fn map_begin(&mut self, k: TType, v: TType, len: usize) {
        P::write_map_begin(&mut self.out, k, v, len);
    }
}

/// Reads values in protocol `P` from one whole message held in [`Bytes`].
pub struct Reader<'a, P: Protocol> {
    buf: &'a [u8],
    /// The `Bytes` that `buf` is, when there is one: `binary` values are
    /// then slices of it instead of copies.
    owner: Option<&'a Bytes>,
    pos: usize,
    depth: usize,
    limits: Limits,
    pub(crate) state: P::ReadState,
}

impl<'a, P: Protocol> Reader<'a, P> {
    /// A reader over `buf` with the default [`Limits`].
    pub fn new(buf: &'a Bytes) -> Reader<'a, P> {
        Reader::with_limits(buf, Limits::default())
    }

    /// A reader over `buf` with explicit limits.
    pub fn with_limits(buf: &'a Bytes, limits: Limits) -> Reader<'a, P> {
        Reader { buf, owner: Some(buf), pos: 0, depth: 0, limits, state: P::ReadState::default() }
    }

    /// A reader over a plain slice (`binary` values are copied). For
    /// finding where a message ends in a stream without copying it first.
    pub fn from_slice(buf: &'a [u8], limits: Limits) -> Reader<'a, P> {
        Reader { buf, owner: None, pos: 0, depth: 0, limits, state: P::ReadState::default() }
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Moves to byte `pos` (clamped to the input): to start reading after
    /// a header that was already parsed.
    pub fn skip_to(&mut self, pos: usize) {
        self.pos = pos.min(self.buf.len());
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[cold]
    pub(crate) fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(kind, self.pos)
    }

    #[inline]
    pub(crate) fn byte(&mut self) -> Result<u8, DecodeError> {
        match self.buf.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.error(DecodeErrorKind::UnexpectedEof)),
        }
    }

    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let end = self.pos.checked_add(N).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let mut a = [0u8; N];
                a.copy_from_slice(&self.buf[self.pos..end]);
                self.pos = end;
                Ok(a)
            }
            None => Err(self.error(DecodeErrorKind::UnexpectedEof)),
        }
    }

    /// Checks a raw length against what remains and returns it as usize.
    fn checked_len(&self, len: i64, elem_size: usize) -> Result<usize, DecodeError> {
        if len < 0 {
            return Err(self.error(DecodeErrorKind::NegativeLength(len)));
        }
        let n = len as u64;
        let need = n.saturating_mul(elem_size as u64);
        if need > self.remaining() as u64 {
            return Err(self.error(DecodeErrorKind::LengthExceedsInput { len: n, remaining: self.remaining() }));
        }
        Ok(n as usize)
    }

    /// A byte range of `len` bytes, consumed.
    fn range(&mut self, len: i64) -> Result<std::ops::Range<usize>, DecodeError> {
        let n = self.checked_len(len, 1)?;
        let r = self.pos..self.pos + n;
        self.pos += n;
        Ok(r)
    }

    fn enter(&mut self) -> Result<(), DecodeError> {
        if self.depth >= self.limits.max_depth {
            return Err(self.error(DecodeErrorKind::DepthLimit(self.limits.max_depth)));
        }
        self.depth += 1;
        Ok(())
    }

    /// A message header.
    pub fn message_begin(&mut self) -> Result<MessageHeader, DecodeError> {
        P::read_message_begin(self)
    }
    /// Starts a struct (counts toward the depth limit).
    #[inline]
    pub fn struct_begin(&mut self) -> Result<(), DecodeError> {
        self.enter()?;
        P::read_struct_begin(self);
        Ok(())
    }
    /// Ends a struct (after [`Reader::field_begin`] returned `None`).
    #[inline]
    pub fn struct_end(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        P::read_struct_end(self);
    }
    /// The next field's type and id, or `None` at the struct's end.
    #[inline]
    pub fn field_begin(&mut self) -> Result<Option<(TType, i16)>, DecodeError> {
        P::read_field_begin(self)
    }
    /// A `bool`.
    #[inline]
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        P::read_bool(self)
    }
    /// An `i8`.
    #[inline]
    pub fn i8(&mut self) -> Result<i8, DecodeError> {
        Ok(self.byte()? as i8)
    }
    /// An `i16`.
    #[inline]
    pub fn i16(&mut self) -> Result<i16, DecodeError> {
        P::read_i16(self)
    }
    /// An `i32`.
    #[inline]
    pub fn i32(&mut self) -> Result<i32, DecodeError> {
        P::read_i32(self)
    }
    /// An `i64`.
    #[inline]
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        P::read_i64(self)
    }
    /// A `double`.
    #[inline]
    pub fn double(&mut self) -> Result<f64, DecodeError> {
        P::read_double(self)
    }
    /// A `string`, checked to be UTF-8.
    pub fn string(&mut self) -> Result<String, DecodeError> {
        let len = P::read_len(self)?;
        let start = self.pos;
        let r = self.range(len)?;
        match std::str::from_utf8(&self.buf[r]) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(DecodeError::new(DecodeErrorKind::InvalidUtf8, start)),
        }
    }
    /// A `binary`: a slice of the input, not a copy.
    pub fn binary(&mut self) -> Result<Bytes, DecodeError> {
        let len = P::read_len(self)?;
        let r = self.range(len)?;
        Ok(match self.owner {
            Some(owner) => owner.slice(r),
            None => Bytes::copy_from_slice(&self.buf[r]),
        })
    }
    /// A `uuid`.
    pub fn uuid(&mut self) -> Result<uuid::Uuid, DecodeError> {
        Ok(uuid::Uuid::from_bytes(self.array::<16>()?))
    }
    /// A list header: element type and count (checked against the input).
    pub fn list_begin(&mut self) -> Result<(TType, usize), DecodeError> {
        let (t, len) = P::read_list_begin(self)?;
        let n = self.checked_len(len, P::min_size(t))?;
        self.enter()?;
        Ok((t, n))
    }
    /// Ends a list.
    #[inline]
    pub fn list_end(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }
    /// A set header: element type and count (checked against the input).
    pub fn set_begin(&mut self) -> Result<(TType, usize), DecodeError> {
        self.list_begin()
    }
    /// Ends a set.
    #[inline]
    pub fn set_end(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }
    /// A map header: key and value types (`None` for an empty compact map)
    /// and the number of entries (checked against the input).
    pub fn map_begin(&mut self) -> Result<(Option<(TType, TType)>, usize), DecodeError> {
        let (types, len) = P::read_map_begin(self)?;
        let size = types.map_or(1, |(k, v)| P::min_size(k) + P::min_size(v));
        let n = self.checked_len(len, size)?;
        self.enter()?;
        Ok((types, n))
    }
    /// Ends a map.
    #[inline]
    pub fn map_end(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Skips a value of type `t`, however nested (within the depth limit).
    pub fn skip(&mut self, t: TType) -> Result<(), DecodeError> {
        match t {
            TType::Stop => Err(self.error(DecodeErrorKind::InvalidType(0))),
            TType::Bool => self.bool().map(drop),
            TType::I8 => self.byte().map(drop),
            TType::I16 => self.i16().map(drop),
            TType::I32 => self.i32().map(drop),
            TType::I64 => self.i64().map(drop),
            TType::Double => self.double().map(drop),
            TType::Uuid => self.array::<16>().map(drop),
            TType::Binary => {
                let len = P::read_len(self)?;
                self.range(len).map(drop)
            }
            TType::Struct => {
                self.struct_begin()?;
                while let Some((ft, _)) = self.field_begin()? {
                    self.skip(ft)?;
                }
                self.struct_end();
                Ok(())
            }
            TType::List | TType::Set => {
                let (et, n) = self.list_begin()?;
                for _ in 0..n {
                    self.skip(et)?;
                }
                self.list_end();
                Ok(())
            }
            TType::Map => {
                let (types, n) = self.map_begin()?;
                if let Some((kt, vt)) = types {
                    for _ in 0..n {
                        self.skip(kt)?;
                        self.skip(vt)?;
                    }
                }
                self.map_end();
                Ok(())
            }
        }
    }
}

/// A type that can be written in any protocol.
pub trait Encode {
    /// Its wire type.
    const TTYPE: TType;
    /// Writes the value.
    fn encode<P: Protocol, O: Output>(&self, w: &mut Writer<P, O>);
}

/// A type that can be read from any protocol.
pub trait Decode: Sized {
    /// Reads a value.
    fn decode<P: Protocol>(r: &mut Reader<'_, P>) -> Result<Self, DecodeError>;
}

/// The exact number of bytes `value` takes in protocol `P`.
pub fn encoded_len<P: Protocol, T: Encode + ?Sized>(value: &T) -> usize {
    let mut w = Writer::<P, LenCounter>::new(LenCounter(0));
    value.encode(&mut w);
    w.into_inner().0
}

/// Encodes `value` into a buffer of exactly the right size.
///
/// ```
/// use mu2sls::codec::{Binary, Compact, decode, encode};
///
/// let v: Vec<i32> = vec![1, -2, 300];
/// let wire = encode::<Compact, _>(&v);
/// assert_eq!(&wire[..], &[0x35, 0x02, 0x03, 0xd8, 0x04]);
/// assert_eq!(decode::<Compact, Vec<i32>>(&wire).unwrap(), v);
/// assert_eq!(encode::<Binary, _>(&v).len(), 5 + 3 * 4);
/// ```
pub fn encode<P: Protocol, T: Encode + ?Sized>(value: &T) -> Bytes {
    let len = encoded_len::<P, T>(value);
    let mut w = Writer::<P, BytesMut>::new(BytesMut::with_capacity(len));
    value.encode(&mut w);
    let out = w.into_inner();
    debug_assert_eq!(out.len(), len, "encoded_len disagrees with encode");
    out.freeze()
}

/// Decodes one value from the start of `bytes` (trailing bytes are
/// ignored), with the default [`Limits`].
pub fn decode<P: Protocol, T: Decode>(bytes: &Bytes) -> Result<T, DecodeError> {
    decode_with_limits::<P, T>(bytes, Limits::default())
}

/// Decodes one value from the start of `bytes` within `limits`.
pub fn decode_with_limits<P: Protocol, T: Decode>(bytes: &Bytes, limits: Limits) -> Result<T, DecodeError> {
    if bytes.len() > limits.max_message_size {
        return Err(DecodeError::new(
            DecodeErrorKind::MessageTooLarge { size: bytes.len(), limit: limits.max_message_size },
            0,
        ));
    }
    T::decode(&mut Reader::<P>::with_limits(bytes, limits))
}
