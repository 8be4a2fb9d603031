//! Frames over byte streams: Apache's framed (4-byte length) and buffered
//! (unframed) transports, and recognising what a connection speaks from
//! its first bytes.
//!
//! One [`MessageCodec`] serves clients and servers: it cuts a stream into
//! whole messages (`Bytes`, one per call or reply) and writes messages back
//! with the same framing. Unframed messages have no length, so their end is
//! found by walking the message with the codec (`Reader::skip`), without
//! copying it.

pub(crate) mod envelope;
mod header;

use std::io;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

pub use crate::codec::ProtocolKind;
use crate::codec::{Binary, Compact, DecodeErrorKind, Limits, Protocol, Reader, TType};

/// How messages are delimited on a connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Framing {
    /// `TFramedTransport`: a 4-byte big-endian length before each message.
    /// The default.
    #[default]
    Framed,
    /// `TBufferedTransport`: messages back to back.
    Buffered,
    /// Apache's `THeaderTransport`: framed, with a header naming the
    /// protocol and carrying key/value info (no transforms supported).
    Header,
    /// Thrift over HTTP/1.1 (feature `http`): each call is a POST whose
    /// body is one unframed message (`Content-Type: application/x-thrift`),
    /// answered by a 200 whose body is the reply. A [`MessageCodec`] with
    /// this framing reads and writes such bodies: unframed messages.
    #[cfg(feature = "http")]
    Http,
}

pub use envelope::EnvelopeError;
pub use header::HeaderError;

/// The content type of Thrift over HTTP, requests and answers alike.
#[cfg(feature = "http")]
pub(crate) const THRIFT_CONTENT_TYPE: &str = "application/x-thrift";

/// What the first bytes of a connection say it speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sniffed {
    /// Thrift messages with this framing and protocol.
    Thrift(Framing, ProtocolKind),
    /// An HTTP request.
    Http,
    /// Nothing we know.
    Unknown,
}

/// The protocol of a message starting at `b`, from its first two bytes.
pub(crate) fn protocol_at(b: &[u8]) -> Option<ProtocolKind> {
    match b {
        [0x80, 0x01, ..] => Some(ProtocolKind::Binary),
        [0x82, vt, ..] if vt & 0x1f == 1 => Some(ProtocolKind::Compact),
        _ => None,
    }
}

/// Recognises a connection from its first bytes, as Apache's C++ and Python
/// servers do; `None` means more bytes are needed.
pub(crate) fn sniff(b: &[u8], max_frame: usize) -> Option<Sniffed> {
    if b.len() < 2 {
        return None;
    }
    if let Some(p) = protocol_at(b) {
        return Some(Sniffed::Thrift(Framing::Buffered, p));
    }
    // Our peers' call-metadata envelope, then a message.
    if envelope::starts(b) {
        return sniff_enveloped(b, Framing::Buffered);
    }
    if b.len() < 4 {
        return None;
    }
    // HTTP methods: any of them read as a length would exceed every sane
    // frame limit, so they are told apart before the length is looked at.
    // A server answers the ones other than POST with 405.
    if [&b"POST"[..], b"GET ", b"PUT ", b"HEAD", b"DELE", b"OPTI", b"PATC"].iter().any(|m| b.starts_with(m)) {
        return Some(Sniffed::Http);
    }
    if b.len() < 6 {
        return None;
    }
    let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    if len == 0 || len > max_frame {
        return Some(Sniffed::Unknown);
    }
    if envelope::starts(&b[4..]) {
        return sniff_enveloped(&b[4..], Framing::Framed);
    }
    Some(match (protocol_at(&b[4..]), &b[4..6]) {
        (Some(p), _) => Sniffed::Thrift(Framing::Framed, p),
        (None, [0x0f, 0xff]) => match header::sniff_protocol(b)? {
            Ok(p) => Sniffed::Thrift(Framing::Header, p),
            Err(_) => Sniffed::Unknown,
        },
        _ => Sniffed::Unknown,
    })
}

/// The protocol of the message after the envelope `b` starts with; `None`
/// until its first two bytes have arrived.
fn sniff_enveloped(b: &[u8], framing: Framing) -> Option<Sniffed> {
    match envelope::len(b)? {
        Ok(n) if b.len() < n + 2 => None,
        Ok(n) => Some(protocol_at(&b[n..]).map_or(Sniffed::Unknown, |p| Sniffed::Thrift(framing, p))),
        Err(_) => Some(Sniffed::Unknown),
    }
}

/// Why a stream could not be cut into messages.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// Reading or writing failed.
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
    /// A frame (or an unframed message) is larger than the limit.
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The size seen so far (at least).
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// An unframed message is not a valid Thrift message.
    #[error("invalid unframed message: {0}")]
    Invalid(crate::codec::DecodeError),
    /// A call-metadata envelope we cannot read.
    #[error("{0}")]
    Envelope(#[from] EnvelopeError),
    /// A THeader frame we cannot serve.
    #[error("THeader: {0}")]
    Header(#[from] HeaderError),
    /// A THeader frame in another protocol than the connection's.
    #[error("THeader frame in {found:?}; this connection speaks {expected:?}")]
    ProtocolChanged {
        /// The connection's protocol.
        expected: ProtocolKind,
        /// The frame's.
        found: ProtocolKind,
    },
}

/// How much buffer a partly read frame reserves beyond its bytes so far.
const RESERVE_AHEAD: usize = 64 * 1024;

/// Cuts a byte stream into messages and writes messages with one framing.
#[derive(Clone, Debug)]
pub struct MessageCodec {
    framing: Framing,
    protocol: ProtocolKind,
    max_frame: usize,
    /// THeader: the flags of the last frame read, echoed in replies.
    header_flags: u16,
    /// THeader: the info headers of the last frame read, until taken.
    read_headers: Vec<(String, String)>,
    /// THeader: the info headers written with every frame.
    write_headers: Vec<(String, String)>,
}

impl MessageCodec {
    /// A codec for `framing` and `protocol`, accepting messages up to
    /// `max_frame` bytes.
    pub fn new(framing: Framing, protocol: ProtocolKind, max_frame: usize) -> MessageCodec {
        MessageCodec {
            framing,
            protocol,
            max_frame,
            header_flags: 0,
            read_headers: Vec::new(),
            write_headers: Vec::new(),
        }
    }

    /// The same codec writing `headers` (name, value) as THeader info
    /// headers into every frame; other framings have no room for them.
    pub fn with_info_headers(mut self, headers: Vec<(String, String)>) -> MessageCodec {
        self.write_headers = headers;
        self
    }

    /// THeader: the info headers of the message just decoded (empty for
    /// other framings, or when the frame had none).
    pub(crate) fn take_info_headers(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.read_headers)
    }

    fn unframed_len<P: Protocol>(&self, buf: &[u8]) -> Result<Option<usize>, FrameError> {
        let mut r = Reader::<P>::from_slice(buf, Limits { max_message_size: self.max_frame, ..Limits::default() });
        let walked = r.message_begin().and_then(|_| r.skip(TType::Struct));
        // The buffer holds what has arrived so far, not a whole message: a
        // length reaching past its end (`LengthExceedsInput`) means "read
        // more", exactly as running out of bytes does, unless the message
        // could then no longer fit the limit. A whole message over the
        // limit is refused as a frame over it would be.
        let at_least = match walked {
            Ok(()) if r.position() <= self.max_frame => return Ok(Some(r.position())),
            Ok(()) => r.position(),
            Err(e) => match *e.kind() {
                DecodeErrorKind::UnexpectedEof => buf.len(),
                DecodeErrorKind::LengthExceedsInput { len, .. } => {
                    usize::try_from(len).unwrap_or(usize::MAX).saturating_add(e.offset()).max(buf.len())
                }
                _ => return Err(FrameError::Invalid(e)),
            },
        };
        if at_least > self.max_frame {
            Err(FrameError::TooLarge { size: at_least, limit: self.max_frame })
        } else {
            Ok(None)
        }
    }
}

impl Decoder for MessageCodec {
    type Item = Bytes;
    type Error = FrameError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        match self.framing {
            Framing::Framed | Framing::Header => {
                if buf.len() < 4 {
                    return Ok(None);
                }
                let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
                if len > self.max_frame {
                    return Err(FrameError::TooLarge { size: len, limit: self.max_frame });
                }
                if buf.len() < 4 + len {
                    // Room for what is announced, but never more than a
                    // chunk ahead of what arrived: a peer that announces a
                    // large frame and sends nothing costs no memory.
                    buf.reserve((4 + len - buf.len()).min(RESERVE_AHEAD));
                    return Ok(None);
                }
                buf.advance(4);
                let frame = buf.split_to(len).freeze();
                if self.framing == Framing::Framed {
                    return Ok(Some(frame));
                }
                let (info, payload_at) = header::parse(&frame)?;
                if info.protocol != self.protocol {
                    return Err(FrameError::ProtocolChanged { expected: self.protocol, found: info.protocol });
                }
                self.header_flags = info.flags;
                self.read_headers = info.headers;
                Ok(Some(frame.slice(payload_at..)))
            }
            Framing::Buffered => self.decode_unframed(buf),
            #[cfg(feature = "http")]
            Framing::Http => self.decode_unframed(buf),
        }
    }
}

impl MessageCodec {
    fn decode_unframed(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        if buf.is_empty() {
            return Ok(None);
        }
        // An envelope before the message stays with it.
        let skip = if envelope::starts(buf) {
            match envelope::len(buf) {
                None => return Ok(None),
                Some(Err(e)) => return Err(FrameError::Envelope(e)),
                Some(Ok(n)) if buf.len() <= n => return Ok(None),
                Some(Ok(n)) => n,
            }
        } else {
            0
        };
        let len = match self.protocol {
            ProtocolKind::Binary => self.unframed_len::<Binary>(&buf[skip..])?,
            ProtocolKind::Compact => self.unframed_len::<Compact>(&buf[skip..])?,
        };
        Ok(len.map(|n| buf.split_to(skip + n).freeze()))
    }
}

impl MessageCodec {
    /// The sequence id of `message` (0 if its header does not read).
    fn seq_of(&self, message: &[u8]) -> u32 {
        match self.protocol {
            ProtocolKind::Binary => Reader::<Binary>::from_slice(message, Limits::default()).message_begin(),
            ProtocolKind::Compact => Reader::<Compact>::from_slice(message, Limits::default()).message_begin(),
        }
        .map(|h| h.seq as u32)
        .unwrap_or(0)
    }
}

impl Encoder<Bytes> for MessageCodec {
    type Error = FrameError;

    fn encode(&mut self, message: Bytes, buf: &mut BytesMut) -> Result<(), FrameError> {
        if message.len() > self.max_frame {
            return Err(FrameError::TooLarge { size: message.len(), limit: self.max_frame });
        }
        match self.framing {
            Framing::Framed => {
                buf.reserve(4 + message.len());
                buf.put_u32(message.len() as u32);
                buf.extend_from_slice(&message);
            }
            Framing::Buffered => buf.extend_from_slice(&message),
            #[cfg(feature = "http")]
            Framing::Http => buf.extend_from_slice(&message),
            Framing::Header => {
                // Call metadata travels as info headers (spec §2.1), not
                // as an envelope inside the frame.
                if envelope::starts(&message)
                    && let Ok((Some(meta), rest)) = envelope::split(message.clone())
                {
                    let mut headers = self.write_headers.clone();
                    headers.extend(envelope::to_headers(&meta, false));
                    let seq = self.seq_of(&rest);
                    header::write(buf, self.header_flags, seq, self.protocol, &headers, &rest);
                    return Ok(());
                }
                // The frame's sequence id is the message's (after the
                // call-metadata envelope, if the message has one).
                let at = envelope::message_start(&message);
                let seq = match self.protocol {
                    ProtocolKind::Binary => {
                        Reader::<Binary>::from_slice(&message[at..], Limits::default()).message_begin()
                    }
                    ProtocolKind::Compact => {
                        Reader::<Compact>::from_slice(&message[at..], Limits::default()).message_begin()
                    }
                }
                .map(|h| h.seq as u32)
                .unwrap_or(0);
                header::write(buf, self.header_flags, seq, self.protocol, &self.write_headers, &message);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{MessageType, Writer};

    fn message<P: Protocol>() -> Vec<u8> {
        let mut w = Writer::<P, Vec<u8>>::new(Vec::new());
        w.message_begin("ping", MessageType::Call, 1);
        w.struct_begin();
        w.field_begin(TType::Binary, 1);
        w.string("hello");
        w.struct_end();
        w.into_inner()
    }

    #[test]
    fn sniffing_follows_apache() {
        let bin = message::<Binary>();
        let compact = message::<Compact>();
        assert_eq!(sniff(&bin, 1 << 20), Some(Sniffed::Thrift(Framing::Buffered, ProtocolKind::Binary)));
        assert_eq!(sniff(&compact, 1 << 20), Some(Sniffed::Thrift(Framing::Buffered, ProtocolKind::Compact)));
        let mut framed = (bin.len() as u32).to_be_bytes().to_vec();
        framed.extend_from_slice(&bin);
        assert_eq!(sniff(&framed, 1 << 20), Some(Sniffed::Thrift(Framing::Framed, ProtocolKind::Binary)));
        assert_eq!(sniff(&framed[..5], 1 << 20), None, "needs six bytes to see the protocol");
        assert_eq!(sniff(&framed, 4), Some(Sniffed::Unknown), "a length over the limit is not a frame");
        for request in [&b"POST / HTTP/1.1\r\n"[..], b"GET / HTTP/1.0", b"HEAD /", b"PUT /", b"DELETE /", b"OPTIONS *"]
        {
            assert_eq!(sniff(request, u32::MAX as usize), Some(Sniffed::Http), "{}", String::from_utf8_lossy(request));
        }
        assert_eq!(sniff(&[0, 0, 0, 20, 0x0f, 0xff], 1 << 20), None, "THeader: the protocol id is at byte 14");
        let header = [0, 0, 0, 20, 0x0f, 0xff, 0, 0, 0, 0, 0, 1, 0, 1, 2, 0, 0, 0];
        assert_eq!(sniff(&header, 1 << 20), Some(Sniffed::Thrift(Framing::Header, ProtocolKind::Compact)));
        assert_eq!(sniff(b"\x16\x03\x01\x00\x00\x00", 1 << 20), Some(Sniffed::Unknown));
    }

    #[test]
    fn envelopes_are_sniffed_and_kept_with_their_message() {
        let meta = crate::exactly_once::CallerMeta::Key { key: "k".into(), origin_ms: 1, deadline_ms: None };
        let mut enveloped = BytesMut::new();
        envelope::write(&meta, &mut enveloped);
        let head = enveloped.len();
        enveloped.extend_from_slice(&message::<Compact>());
        let b = enveloped.to_vec();
        assert_eq!(sniff(&b, 1 << 20), Some(Sniffed::Thrift(Framing::Buffered, ProtocolKind::Compact)));
        assert_eq!(sniff(&b[..head + 1], 1 << 20), None, "the protocol byte is after the envelope");
        let mut framed = (b.len() as u32).to_be_bytes().to_vec();
        framed.extend_from_slice(&b);
        assert_eq!(sniff(&framed, 1 << 20), Some(Sniffed::Thrift(Framing::Framed, ProtocolKind::Compact)));
        let mut bad = b.clone();
        bad[2] = 9;
        assert_eq!(sniff(&bad, 1 << 20), Some(Sniffed::Unknown), "an unknown envelope version");

        let mut codec = MessageCodec::new(Framing::Buffered, ProtocolKind::Compact, 1 << 20);
        let mut stream = BytesMut::new();
        for cut in [1, 5, head, head + 3] {
            stream.extend_from_slice(&b[stream.len()..cut]);
            assert_eq!(codec.decode(&mut stream).unwrap(), None, "{cut} bytes");
        }
        stream.extend_from_slice(&b[stream.len()..]);
        stream.extend_from_slice(&message::<Compact>());
        assert_eq!(codec.decode(&mut stream).unwrap().as_deref(), Some(&b[..]), "the envelope stays with its message");
        assert_eq!(codec.decode(&mut stream).unwrap().as_deref(), Some(&message::<Compact>()[..]));
    }

    #[test]
    fn a_theader_frame_carries_call_metadata_as_info_headers() {
        let meta = crate::exactly_once::CallerMeta::Key { key: "k".into(), origin_ms: 1, deadline_ms: None };
        let mut enveloped = BytesMut::new();
        envelope::write(&meta, &mut enveloped);
        let mut w = Writer::<Compact, Vec<u8>>::new(Vec::new());
        w.message_begin("ping", MessageType::Call, 77);
        w.struct_begin();
        w.struct_end();
        enveloped.extend_from_slice(&w.into_inner());
        let mut codec = MessageCodec::new(Framing::Header, ProtocolKind::Compact, 1 << 20);
        let mut out = BytesMut::new();
        codec.encode(enveloped.freeze(), &mut out).unwrap();
        let (info, payload_at) = header::parse(&out[4..]).unwrap();
        assert_eq!(info.seq, 77);
        let get = |name: &str| info.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!((get("mu2sls-key"), get("mu2sls-origin-ms")), (Some("k"), Some("1")));
        assert_eq!(out[4 + payload_at], 0x82, "the payload is the message itself, no envelope");
    }

    #[test]
    fn unframed_messages_are_cut_where_they_end() {
        let mut codec = MessageCodec::new(Framing::Buffered, ProtocolKind::Compact, 1 << 20);
        let one = message::<Compact>();
        let mut stream = BytesMut::new();
        stream.extend_from_slice(&one);
        stream.extend_from_slice(&one[..3]);
        assert_eq!(codec.decode(&mut stream).unwrap().as_deref(), Some(&one[..]));
        assert_eq!(codec.decode(&mut stream).unwrap(), None, "a partial message waits");
        stream.extend_from_slice(&one[3..]);
        assert_eq!(codec.decode(&mut stream).unwrap().as_deref(), Some(&one[..]));
        assert!(stream.is_empty());
    }

    #[test]
    fn unframed_values_longer_than_what_arrived_wait_for_the_rest() {
        // A string (and a list) whose declared length reaches past the
        // bytes read so far: more must be read, not the stream rejected.
        fn long_message<P: Protocol>() -> Vec<u8> {
            let mut w = Writer::<P, Vec<u8>>::new(Vec::new());
            w.message_begin("testBinary", MessageType::Call, 1);
            w.struct_begin();
            w.field_begin(TType::Binary, 1);
            w.string(&"x".repeat(100_000));
            w.field_begin(TType::List, 2);
            w.list_begin(TType::I64, 1000);
            for i in 0..1000 {
                w.i64(i);
            }
            w.struct_end();
            w.into_inner()
        }
        for (protocol, whole) in
            [(ProtocolKind::Binary, long_message::<Binary>()), (ProtocolKind::Compact, long_message::<Compact>())]
        {
            let mut codec = MessageCodec::new(Framing::Buffered, protocol, 1 << 20);
            let mut stream = BytesMut::new();
            for cut in [30, 65_536, whole.len() - 100] {
                stream.extend_from_slice(&whole[stream.len()..cut]);
                assert_eq!(codec.decode(&mut stream).unwrap(), None, "{protocol:?}: {cut} of {} bytes", whole.len());
            }
            stream.extend_from_slice(&whole[stream.len()..]);
            assert_eq!(codec.decode(&mut stream).unwrap().as_deref(), Some(&whole[..]), "{protocol:?}");
        }
        // A declared length that cannot fit the limit fails at once.
        let mut codec = MessageCodec::new(Framing::Buffered, ProtocolKind::Binary, 1000);
        let mut stream = BytesMut::from(&long_message::<Binary>()[..40]);
        assert!(matches!(codec.decode(&mut stream), Err(FrameError::TooLarge { size, limit: 1000 }) if size > 100_000));
    }

    #[test]
    fn frames_over_the_limit_are_refused() {
        let mut codec = MessageCodec::new(Framing::Framed, ProtocolKind::Binary, 10);
        let mut stream = BytesMut::from(&[0, 0, 0, 11][..]);
        assert!(matches!(codec.decode(&mut stream), Err(FrameError::TooLarge { size: 11, limit: 10 })));
        let mut codec = MessageCodec::new(Framing::Buffered, ProtocolKind::Binary, 8);
        let mut stream = BytesMut::from(&message::<Binary>()[..]);
        assert!(matches!(codec.decode(&mut stream), Err(FrameError::TooLarge { .. })));
        let mut stream = BytesMut::from(&[0x80, 0x01, 0x00, 0x09, 0, 0, 0, 0][..]);
        let mut codec = MessageCodec::new(Framing::Buffered, ProtocolKind::Binary, 1 << 20);
        assert!(matches!(codec.decode(&mut stream), Err(FrameError::Invalid(_))));
    }

    #[test]
    fn an_announced_frame_is_not_allocated_before_it_arrives() {
        let mut codec = MessageCodec::new(Framing::Framed, ProtocolKind::Binary, 16_384_000);
        let mut stream = BytesMut::from(&16_384_000u32.to_be_bytes()[..]);
        stream.extend_from_slice(&[0x80, 0x01]);
        assert_eq!(codec.decode(&mut stream).unwrap(), None);
        assert!(stream.capacity() <= 2 * RESERVE_AHEAD, "reserved {} bytes", stream.capacity());
    }

    #[test]
    fn framed_round_trip() {
        let mut codec = MessageCodec::new(Framing::Framed, ProtocolKind::Binary, 1 << 20);
        let msg = Bytes::from(message::<Binary>());
        let mut out = BytesMut::new();
        codec.encode(msg.clone(), &mut out).unwrap();
        assert_eq!(&out[..4], &(msg.len() as u32).to_be_bytes());
        assert_eq!(codec.decode(&mut out).unwrap(), Some(msg));
    }
}
