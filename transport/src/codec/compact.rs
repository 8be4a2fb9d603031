//! The compact protocol: zigzag varints, field-id deltas, bools folded
//! into field headers, little-endian doubles.
//!
//! The last field id is kept per nesting level: pushed at struct begin and
//! popped at struct end, so fields after a nested struct (or after a
//! `list<struct>`) get the right delta base.

use super::{
    DecodeError, DecodeErrorKind, MessageHeader, MessageType, Output, Protocol, ProtocolKind, Reader, TType, sealed,
};

/// Apache's compact protocol (`TCompactProtocol`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Compact;

impl sealed::Sealed for Compact {}

const PROTOCOL_ID: u8 = 0x82;
const VERSION: u8 = 1;

#[doc(hidden)]
#[derive(Debug, Default)]
pub struct WriteState {
    last: i16,
    stack: Vec<i16>,
    /// A bool field whose header waits for its value.
    pending_bool: Option<i16>,
}

#[doc(hidden)]
#[derive(Debug, Default)]
pub struct ReadState {
    last: i16,
    stack: Vec<i16>,
    /// The value of a bool field, read with its header.
    pending_bool: Option<bool>,
}

fn nibble(t: TType) -> u8 {
    match t {
        TType::Stop => 0,
        TType::Bool => 1,
        TType::I8 => 3,
        TType::I16 => 4,
        TType::I32 => 5,
        TType::I64 => 6,
        TType::Double => 7,
        TType::Binary => 8,
        TType::List => 9,
        TType::Set => 10,
        TType::Map => 11,
        TType::Struct => 12,
        TType::Uuid => 13,
    }
}

#[inline]
fn ttype(r: &Reader<'_, Compact>, n: u8) -> Result<TType, DecodeError> {
    Ok(match n {
        1 | 2 => TType::Bool,
        3 => TType::I8,
        4 => TType::I16,
        5 => TType::I32,
        6 => TType::I64,
        7 => TType::Double,
        8 => TType::Binary,
        9 => TType::List,
        10 => TType::Set,
        11 => TType::Map,
        12 => TType::Struct,
        13 => TType::Uuid,
        other => return Err(r.error(DecodeErrorKind::InvalidType(other))),
    })
}

#[inline]
fn write_varint<O: Output>(o: &mut O, mut v: u64) {
    if v < 0x80 {
        // Most lengths, counts and small numbers: one byte, no slice copy.
        o.put_u8(v as u8);
        return;
    }
    let mut buf = [0u8; 10];
    let mut i = 0;
    while v >= 0x80 {
        buf[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    buf[i] = v as u8;
    o.put_slice(&buf[..=i]);
}

#[inline]
fn zigzag32(v: i32) -> u64 {
    u64::from(((v << 1) ^ (v >> 31)) as u32)
}

#[inline]
fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
fn read_varint(r: &mut Reader<'_, Compact>, max_bytes: usize) -> Result<u64, DecodeError> {
    let first = r.byte()?;
    if first < 0x80 {
        return Ok(u64::from(first));
    }
    read_varint_rest(r, first, max_bytes)
}

fn read_varint_rest(r: &mut Reader<'_, Compact>, first: u8, max_bytes: usize) -> Result<u64, DecodeError> {
    let mut result = u64::from(first & 0x7f);
    for i in 1..max_bytes {
        let b = r.byte()?;
        result |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(result);
        }
    }
    Err(r.error(DecodeErrorKind::VarintTooLong))
}

#[inline]
fn unzigzag32(v: u64) -> i32 {
    let v = v as u32;
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

#[inline]
fn unzigzag64(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn len_u64(len: usize) -> u64 {
    // Thrift lengths are i32 on the wire everywhere; saturate past that.
    len.min(i32::MAX as usize) as u64
}

#[inline]
fn write_field_header<O: Output>(o: &mut O, s: &mut WriteState, n: u8, id: i16) {
    let delta = i32::from(id) - i32::from(s.last);
    if (1..=15).contains(&delta) {
        o.put_u8(((delta as u8) << 4) | n);
    } else {
        o.put_u8(n);
        write_varint(o, zigzag32(i32::from(id)));
    }
    s.last = id;
}

impl Protocol for Compact {
    const KIND: ProtocolKind = ProtocolKind::Compact;
    type WriteState = WriteState;
    type ReadState = ReadState;

    fn write_message_begin<O: Output>(o: &mut O, name: &str, kind: MessageType, seq: i32) {
        o.put_u8(PROTOCOL_ID);
        o.put_u8(((kind.to_i8() as u8) << 5) | VERSION);
        write_varint(o, u64::from(seq as u32));
        Self::write_bytes(o, name.as_bytes());
    }
    #[inline]
    fn write_struct_begin(s: &mut WriteState) {
        s.stack.push(s.last);
        s.last = 0;
    }
    #[inline]
    fn write_struct_end(s: &mut WriteState) {
        s.last = s.stack.pop().unwrap_or(0);
    }
    #[inline]
    fn write_field_begin<O: Output>(o: &mut O, s: &mut WriteState, t: TType, id: i16) {
        if t == TType::Bool {
            s.pending_bool = Some(id);
        } else {
            write_field_header(o, s, nibble(t), id);
        }
    }
    #[inline]
    fn write_field_stop<O: Output>(o: &mut O) {
        o.put_u8(0);
    }
    #[inline]
    fn write_bool<O: Output>(o: &mut O, s: &mut WriteState, v: bool) {
        let n = if v { 1 } else { 2 };
        match s.pending_bool.take() {
            Some(id) => write_field_header(o, s, n, id),
            None => o.put_u8(n),
        }
    }
    #[inline]
    fn write_i16<O: Output>(o: &mut O, v: i16) {
        write_varint(o, zigzag32(i32::from(v)));
    }
    #[inline]
    fn write_i32<O: Output>(o: &mut O, v: i32) {
        write_varint(o, zigzag32(v));
    }
    #[inline]
    fn write_i64<O: Output>(o: &mut O, v: i64) {
        write_varint(o, zigzag64(v));
    }
    #[inline]
    fn write_double<O: Output>(o: &mut O, v: f64) {
        o.put_slice(&v.to_bits().to_le_bytes());
    }
    #[inline]
    fn write_bytes<O: Output>(o: &mut O, v: &[u8]) {
        write_varint(o, len_u64(v.len()));
        o.put_slice(v);
    }
    #[inline]
    fn write_list_begin<O: Output>(o: &mut O, elem: TType, len: usize) {
        if len <= 14 {
            o.put_u8(((len as u8) << 4) | nibble(elem));
        } else {
            o.put_u8(0xf0 | nibble(elem));
            write_varint(o, len_u64(len));
        }
    }
    #[inline]
    fn write_map_begin<O: Output>(o: &mut O, k: TType, v: TType, len: usize) {
        if len == 0 {
            o.put_u8(0);
        } else {
            write_varint(o, len_u64(len));
            o.put_u8((nibble(k) << 4) | nibble(v));
        }
    }

    fn read_message_begin(r: &mut Reader<'_, Self>) -> Result<MessageHeader, DecodeError> {
        let id = r.byte()?;
        let vt = r.byte()?;
        let word = (u32::from(id) << 8) | u32::from(vt);
        if id != PROTOCOL_ID || vt & 0x1f != VERSION {
            return Err(r.error(DecodeErrorKind::BadMessageHeader(word)));
        }
        let kind =
            MessageType::from_i8((vt >> 5) as i8).ok_or_else(|| r.error(DecodeErrorKind::BadMessageHeader(word)))?;
        let seq = read_varint(r, 5)? as u32 as i32;
        let name = r.string()?;
        Ok(MessageHeader { name, kind, seq })
    }
    #[inline]
    fn read_struct_begin(r: &mut Reader<'_, Self>) {
        let last = r.state.last;
        r.state.stack.push(last);
        r.state.last = 0;
    }
    #[inline]
    fn read_struct_end(r: &mut Reader<'_, Self>) {
        r.state.last = r.state.stack.pop().unwrap_or(0);
    }
    fn read_field_begin(r: &mut Reader<'_, Self>) -> Result<Option<(TType, i16)>, DecodeError> {
        let b = r.byte()?;
        if b == 0 {
            return Ok(None);
        }
        let n = b & 0x0f;
        let t = ttype(r, n)?;
        let delta = b >> 4;
        let id = if delta == 0 {
            unzigzag32(read_varint(r, 5)?) as i16
        } else {
            r.state.last.wrapping_add(i16::from(delta))
        };
        if t == TType::Bool {
            r.state.pending_bool = Some(n == 1);
        }
        r.state.last = id;
        Ok(Some((t, id)))
    }
    fn read_bool(r: &mut Reader<'_, Self>) -> Result<bool, DecodeError> {
        if let Some(v) = r.state.pending_bool.take() {
            return Ok(v);
        }
        match r.byte()? {
            1 => Ok(true),
            0 | 2 => Ok(false),
            _ => Err(r.error(DecodeErrorKind::InvalidValue("a compact bool is 1 (true) or 2 (false)"))),
        }
    }
    #[inline]
    fn read_i16(r: &mut Reader<'_, Self>) -> Result<i16, DecodeError> {
        Ok(unzigzag32(read_varint(r, 3)?) as i16)
    }
    #[inline]
    fn read_i32(r: &mut Reader<'_, Self>) -> Result<i32, DecodeError> {
        Ok(unzigzag32(read_varint(r, 5)?))
    }
    #[inline]
    fn read_i64(r: &mut Reader<'_, Self>) -> Result<i64, DecodeError> {
        Ok(unzigzag64(read_varint(r, 10)?))
    }
    #[inline]
    fn read_double(r: &mut Reader<'_, Self>) -> Result<f64, DecodeError> {
        Ok(f64::from_bits(u64::from_le_bytes(r.array()?)))
    }
    #[inline]
    fn read_len(r: &mut Reader<'_, Self>) -> Result<i64, DecodeError> {
        Ok(read_varint(r, 5)? as i64)
    }
    fn read_list_begin(r: &mut Reader<'_, Self>) -> Result<(TType, i64), DecodeError> {
        let b = r.byte()?;
        let t = ttype(r, b & 0x0f)?;
        let size = b >> 4;
        let len = if size == 15 { read_varint(r, 5)? as i64 } else { i64::from(size) };
        Ok((t, len))
    }
    fn read_map_begin(r: &mut Reader<'_, Self>) -> Result<(Option<(TType, TType)>, i64), DecodeError> {
        let len = read_varint(r, 5)? as i64;
        if len == 0 {
            return Ok((None, 0));
        }
        let kv = r.byte()?;
        Ok((Some((ttype(r, kv >> 4)?, ttype(r, kv & 0x0f)?)), len))
    }
    fn min_size(t: TType) -> usize {
        match t {
            TType::Double => 8,
            TType::Uuid => 16,
            _ => 1,
        }
    }
}
