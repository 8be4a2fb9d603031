//! Apache's THeader transport (magic `0x0FFF`): a framed message wrapped in
//! a header that names its protocol, transforms and key/value info.
//!
//! ```text
//! u32 length | u16 0x0FFF | u16 flags | u32 seqid | u16 header size / 4
//! varint protocol id (0 binary, 2 compact) | varint n transforms, ids
//! info blocks: varint id (1 = key/value: varint count, then varint-length
//! strings), stopping at id 0 (padding) | padding to 4 bytes | payload
//! ```
//!
//! No transforms are supported (zlib would be the one in use); a frame with
//! one is refused, as is a protocol other than the connection's.

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::ProtocolKind;

/// The magic number after the length.
pub(crate) const MAGIC: u16 = 0x0fff;

/// Why a THeader frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The frame ends inside its header.
    #[error("THeader frame ends inside its header")]
    Truncated,
    /// The magic number is not `0x0FFF`.
    #[error("not a THeader frame (magic {0:#06x})")]
    BadMagic(u16),
    /// A protocol id other than binary (0) or compact (2).
    #[error("THeader protocol id {0} is not supported (binary 0 and compact 2 are)")]
    UnsupportedProtocol(u64),
    /// A transform (such as zlib) was applied to the payload.
    #[error("THeader transform {0} is not supported")]
    UnsupportedTransform(u64),
}

/// What a THeader frame says besides its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeaderInfo {
    pub(crate) flags: u16,
    pub(crate) seq: u32,
    pub(crate) protocol: ProtocolKind,
    /// Key/value info headers, in order.
    pub(crate) headers: Vec<(String, String)>,
}

fn varint(b: &[u8], pos: &mut usize) -> Result<u64, HeaderError> {
    let mut v = 0u64;
    for i in 0..10 {
        let byte = *b.get(*pos).ok_or(HeaderError::Truncated)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(HeaderError::Truncated)
}

fn protocol_of(id: u64) -> Result<ProtocolKind, HeaderError> {
    match id {
        0 => Ok(ProtocolKind::Binary),
        2 => Ok(ProtocolKind::Compact),
        other => Err(HeaderError::UnsupportedProtocol(other)),
    }
}

/// The protocol named by the start of a connection's first THeader frame
/// (`b` includes the length prefix); `None` if more bytes are needed.
pub(crate) fn sniff_protocol(b: &[u8]) -> Option<Result<ProtocolKind, HeaderError>> {
    let mut pos = 14;
    if b.len() <= pos {
        return None;
    }
    match varint(b, &mut pos) {
        Ok(id) => Some(protocol_of(id)),
        Err(_) => None,
    }
}

/// Parses a frame (without its length prefix): the header and where the
/// payload starts.
pub(crate) fn parse(frame: &[u8]) -> Result<(HeaderInfo, usize), HeaderError> {
    if frame.len() < 10 {
        return Err(HeaderError::Truncated);
    }
    let magic = u16::from_be_bytes([frame[0], frame[1]]);
    if magic != MAGIC {
        return Err(HeaderError::BadMagic(magic));
    }
    let flags = u16::from_be_bytes([frame[2], frame[3]]);
    let seq = u32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let header_len = usize::from(u16::from_be_bytes([frame[8], frame[9]])) * 4;
    let end = 10 + header_len;
    let header = frame.get(10..end).ok_or(HeaderError::Truncated)?;
    let mut pos = 0;
    let protocol = protocol_of(varint(header, &mut pos)?)?;
    let transforms = varint(header, &mut pos)?;
    if transforms > 0 {
        return Err(HeaderError::UnsupportedTransform(varint(header, &mut pos)?));
    }
    let mut headers = Vec::new();
    // Info blocks until padding (id 0), the end, or an id we do not know.
    while pos < header.len() {
        match varint(header, &mut pos)? {
            1 => {
                let count = varint(header, &mut pos)?;
                for _ in 0..count {
                    let k = string(header, &mut pos)?;
                    let v = string(header, &mut pos)?;
                    headers.push((k, v));
                }
            }
            _ => break,
        }
    }
    Ok((HeaderInfo { flags, seq, protocol, headers }, end))
}

fn string(b: &[u8], pos: &mut usize) -> Result<String, HeaderError> {
    let len = usize::try_from(varint(b, pos)?).map_err(|_| HeaderError::Truncated)?;
    let end = pos.checked_add(len).ok_or(HeaderError::Truncated)?;
    let s = b.get(*pos..end).ok_or(HeaderError::Truncated)?;
    *pos = end;
    Ok(String::from_utf8_lossy(s).into_owned())
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Writes `payload` as one THeader frame, length prefix included, with
/// these flags, sequence id, protocol id and key/value info headers.
pub(crate) fn write(
    buf: &mut BytesMut,
    flags: u16,
    seq: u32,
    protocol: ProtocolKind,
    headers: &[(String, String)],
    payload: &Bytes,
) {
    let mut header = Vec::with_capacity(16);
    put_varint(&mut header, if protocol == ProtocolKind::Binary { 0 } else { 2 });
    put_varint(&mut header, 0);
    if !headers.is_empty() {
        put_varint(&mut header, 1);
        put_varint(&mut header, headers.len() as u64);
        for (k, v) in headers {
            put_varint(&mut header, k.len() as u64);
            header.extend_from_slice(k.as_bytes());
            put_varint(&mut header, v.len() as u64);
            header.extend_from_slice(v.as_bytes());
        }
    }
    while header.len() % 4 != 0 {
        header.push(0);
    }
    let frame_len = 10 + header.len() + payload.len();
    buf.reserve(4 + frame_len);
    buf.put_u32(frame_len as u32);
    buf.put_u16(MAGIC);
    buf.put_u16(flags);
    buf.put_u32(seq);
    buf.put_u16((header.len() / 4) as u16);
    buf.extend_from_slice(&header);
    buf.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_with_info_headers() {
        let info = HeaderInfo {
            flags: 1,
            seq: 42,
            protocol: ProtocolKind::Compact,
            headers: vec![("mu2sls-call-id".into(), "svc.m:k".into())],
        };
        let payload = Bytes::from_static(b"\x82\x21\x2a\x04ping\x00");
        let mut buf = BytesMut::new();
        write(&mut buf, info.flags, info.seq, info.protocol, &info.headers, &payload);
        assert_eq!(u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize, buf.len() - 4);
        assert_eq!(sniff_protocol(&buf), Some(Ok(ProtocolKind::Compact)));
        let (parsed, at) = parse(&buf[4..]).unwrap();
        assert_eq!(parsed, info);
        assert_eq!(&buf[4 + at..], &payload[..]);
    }

    #[test]
    fn transforms_and_unknown_protocols_are_refused() {
        // protocol 0, one transform (zlib = 1), padded to 4 bytes.
        let frame = [0x0f, 0xff, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 1, 0];
        assert_eq!(parse(&frame), Err(HeaderError::UnsupportedTransform(1)));
        let frame = [0x0f, 0xff, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0];
        assert_eq!(parse(&frame), Err(HeaderError::UnsupportedProtocol(1)));
        assert_eq!(parse(&[0x0f, 0xff, 0, 0]), Err(HeaderError::Truncated));
        let frame = [0x0f, 0xff, 0, 0, 0, 0, 0, 1, 0, 9, 0, 0];
        assert_eq!(parse(&frame), Err(HeaderError::Truncated), "a header size past the frame");
    }
}
