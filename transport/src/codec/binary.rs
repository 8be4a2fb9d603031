//! The binary protocol: fixed-width big-endian numbers, i32 length
//! prefixes, strict message headers on write and both forms on read.

use super::{
    DecodeError, DecodeErrorKind, MessageHeader, MessageType, Output, Protocol, ProtocolKind, Reader, TType, sealed,
};

/// Apache's binary protocol (`TBinaryProtocol`, strict writes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Binary;

impl sealed::Sealed for Binary {}

const VERSION_1: u32 = 0x8001_0000;
const VERSION_MASK: u32 = 0xffff_0000;

#[inline]
fn type_id(t: TType) -> u8 {
    match t {
        TType::Stop => 0,
        TType::Bool => 2,
        TType::I8 => 3,
        TType::Double => 4,
        TType::I16 => 6,
        TType::I32 => 8,
        TType::I64 => 10,
        TType::Binary => 11,
        TType::Struct => 12,
        TType::Map => 13,
        TType::Set => 14,
        TType::List => 15,
        TType::Uuid => 16,
    }
}

#[inline]
fn ttype(r: &Reader<'_, Binary>, id: u8) -> Result<TType, DecodeError> {
    Ok(match id {
        2 => TType::Bool,
        3 => TType::I8,
        4 => TType::Double,
        6 => TType::I16,
        8 => TType::I32,
        10 => TType::I64,
        11 => TType::Binary,
        12 => TType::Struct,
        13 => TType::Map,
        14 => TType::Set,
        15 => TType::List,
        16 => TType::Uuid,
        other => return Err(r.error(DecodeErrorKind::InvalidType(other))),
    })
}

fn len_i32(len: usize) -> [u8; 4] {
    // Lengths above i32::MAX cannot be represented; Thrift frames are far
    // smaller (16 MB by default), so saturate rather than wrap.
    i32::try_from(len).unwrap_or(i32::MAX).to_be_bytes()
}

impl Protocol for Binary {
    const KIND: ProtocolKind = ProtocolKind::Binary;
    type WriteState = ();
    type ReadState = ();

    fn write_message_begin<O: Output>(o: &mut O, name: &str, kind: MessageType, seq: i32) {
        o.put_slice(&(VERSION_1 | kind.to_i8() as u32).to_be_bytes());
        Self::write_bytes(o, name.as_bytes());
        o.put_slice(&seq.to_be_bytes());
    }
    #[inline]
    fn write_struct_begin(_: &mut ()) {}
    #[inline]
    fn write_struct_end(_: &mut ()) {}
    #[inline]
    fn write_field_begin<O: Output>(o: &mut O, _: &mut (), t: TType, id: i16) {
        o.put_u8(type_id(t));
        o.put_slice(&id.to_be_bytes());
    }
    #[inline]
    fn write_field_stop<O: Output>(o: &mut O) {
        o.put_u8(0);
    }
    #[inline]
    fn write_bool<O: Output>(o: &mut O, _: &mut (), v: bool) {
        o.put_u8(u8::from(v));
    }
    #[inline]
    fn write_i16<O: Output>(o: &mut O, v: i16) {
        o.put_slice(&v.to_be_bytes());
    }
    #[inline]
    fn write_i32<O: Output>(o: &mut O, v: i32) {
        o.put_slice(&v.to_be_bytes());
    }
    #[inline]
    fn write_i64<O: Output>(o: &mut O, v: i64) {
        o.put_slice(&v.to_be_bytes());
    }
    #[inline]
    fn write_double<O: Output>(o: &mut O, v: f64) {
        o.put_slice(&v.to_bits().to_be_bytes());
    }
    #[inline]
    fn write_bytes<O: Output>(o: &mut O, v: &[u8]) {
        o.put_slice(&len_i32(v.len()));
        o.put_slice(v);
    }
    #[inline]
    fn write_list_begin<O: Output>(o: &mut O, elem: TType, len: usize) {
        o.put_u8(type_id(elem));
        o.put_slice(&len_i32(len));
    }
    #[inline]
    fn write_map_begin<O: Output>(o: &mut O, k: TType, v: TType, len: usize) {
        o.put_u8(type_id(k));
        o.put_u8(type_id(v));
        o.put_slice(&len_i32(len));
    }

    fn read_message_begin(r: &mut Reader<'_, Self>) -> Result<MessageHeader, DecodeError> {
        let first = i32::from_be_bytes(r.array()?);
        let (name, kind) = if first < 0 {
            // Strict: version word, then the name.
            let word = first as u32;
            if word & VERSION_MASK != VERSION_1 {
                return Err(r.error(DecodeErrorKind::BadMessageHeader(word)));
            }
            let kind = MessageType::from_i8((word & 0xff) as i8)
                .ok_or_else(|| r.error(DecodeErrorKind::BadMessageHeader(word)))?;
            (r.string()?, kind)
        } else {
            // Non-strict (old clients): the name's length, the name, the type byte.
            let range = r.range(i64::from(first))?;
            let name =
                std::str::from_utf8(&r.buf[range]).map_err(|_| r.error(DecodeErrorKind::InvalidUtf8))?.to_owned();
            let t = r.byte()?;
            let kind = MessageType::from_i8(t as i8)
                .ok_or_else(|| r.error(DecodeErrorKind::BadMessageHeader(u32::from(t))))?;
            (name, kind)
        };
        let seq = i32::from_be_bytes(r.array()?);
        Ok(MessageHeader { name, kind, seq })
    }
    #[inline]
    fn read_struct_begin(_: &mut Reader<'_, Self>) {}
    #[inline]
    fn read_struct_end(_: &mut Reader<'_, Self>) {}
    #[inline]
    fn read_field_begin(r: &mut Reader<'_, Self>) -> Result<Option<(TType, i16)>, DecodeError> {
        let t = r.byte()?;
        if t == 0 {
            return Ok(None);
        }
        let t = ttype(r, t)?;
        let id = i16::from_be_bytes(r.array()?);
        Ok(Some((t, id)))
    }
    #[inline]
    fn read_bool(r: &mut Reader<'_, Self>) -> Result<bool, DecodeError> {
        Ok(r.byte()? != 0)
    }
    #[inline]
    fn read_i16(r: &mut Reader<'_, Self>) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(r.array()?))
    }
    #[inline]
    fn read_i32(r: &mut Reader<'_, Self>) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(r.array()?))
    }
    #[inline]
    fn read_i64(r: &mut Reader<'_, Self>) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(r.array()?))
    }
    #[inline]
    fn read_double(r: &mut Reader<'_, Self>) -> Result<f64, DecodeError> {
        Ok(f64::from_bits(u64::from_be_bytes(r.array()?)))
    }
    #[inline]
    fn read_len(r: &mut Reader<'_, Self>) -> Result<i64, DecodeError> {
        Ok(i64::from(i32::from_be_bytes(r.array()?)))
    }
    fn read_list_begin(r: &mut Reader<'_, Self>) -> Result<(TType, i64), DecodeError> {
        let t = r.byte()?;
        let t = ttype(r, t)?;
        Ok((t, Self::read_len(r)?))
    }
    fn read_map_begin(r: &mut Reader<'_, Self>) -> Result<(Option<(TType, TType)>, i64), DecodeError> {
        let k = r.byte()?;
        let v = r.byte()?;
        let len = Self::read_len(r)?;
        // Types are written even for empty maps, but some writers put 0 there.
        if len == 0 {
            return Ok((None, 0));
        }
        Ok((Some((ttype(r, k)?, ttype(r, v)?)), len))
    }
    fn min_size(t: TType) -> usize {
        match t {
            TType::Stop | TType::Bool | TType::I8 | TType::Struct => 1,
            TType::I16 => 2,
            TType::I32 | TType::Binary => 4,
            TType::I64 | TType::Double => 8,
            TType::Set | TType::List => 5,
            TType::Map => 6,
            TType::Uuid => 16,
        }
    }
}
