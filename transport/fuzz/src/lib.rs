//! What the fuzz targets check besides "no panic, no hang, no OOM": the
//! properties every input must keep when it meets the codec and the stream
//! framing.
//!
//! The types under test are generated from `tests/idl/interop.thrift`
//! twice (see `build.rs`): [`hash`] with `HashMap`/`HashSet`, as users get
//! by default, and [`btree`] with `BTreeMap`/`BTreeSet`. Both read and
//! write the same wire format; the B-tree twin writes containers in key
//! order, so it gives a canonical encoding to compare bytes with.

use bytes::{Bytes, BytesMut};
use mu2sls::codec::{
    Binary, Compact, Decode, DecodeError, Encode, MessageHeader, Protocol, Reader, TType, Writer, canonical_struct,
    decode, encode, encoded_len,
};
use mu2sls::{FrameError, Framing, MessageCodec, ProtocolKind};
use tokio_util::codec::{Decoder, Encoder};

/// The interop IDL with `HashMap`/`HashSet` containers.
pub mod hash {
    include!(concat!(env!("OUT_DIR"), "/hash/mod.rs"));
}

/// The interop IDL with `BTreeMap`/`BTreeSet` containers.
pub mod btree {
    include!(concat!(env!("OUT_DIR"), "/btree/mod.rs"));
}

/// One entry per generated type: its name and the check for protocol `P`,
/// the hash-container type paired with its B-tree twin.
macro_rules! type_table {
    ($($name:ident),* $(,)?) => {
        /// The generated types the first input byte chooses from.
        pub const TYPE_NAMES: &[&str] = &[$(stringify!($name)),*];

        fn type_checks<P: Protocol>() -> &'static [fn(&Bytes)] {
            &[$(check_value::<P, hash::interop::$name, btree::interop::$name>),*]
        }
    };
}

type_table![
    Scalars,
    Point,
    Shape,
    Value,
    Oops,
    Containers,
    Requiredness,
    Sparse,
    RecordV1,
    RecordV2,
    RecordRetyped,
    Inner,
    BoolAfterStruct,
    Tree,
    Chain,
    Empty,
    Holder,
];

/// The `decode_binary` / `decode_compact` target: `data[0]` picks a type
/// from [`TYPE_NAMES`] (modulo its length), the rest is decoded as that
/// type in protocol `P`, walked with `Reader::skip` and read as a message
/// header.
pub fn decode_target<P: Protocol>(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let input = Bytes::copy_from_slice(rest);
    let checks = type_checks::<P>();
    checks[usize::from(selector) % checks.len()](&input);
    check_skip::<P>(&input);
    check_message_header::<P>(&input);
}

/// Decoding `input` as `T` (hash containers) and as `C` (its B-tree twin)
/// agrees; a decoded value re-encodes to bytes that decode again, exactly
/// consumed, with `encoded_len` equal to the length written; and the
/// canonical (B-tree) encoding is the same for the value, its re-encoding
/// and the re-encoding of that, byte for byte. Comparing bytes rather than
/// values keeps NaN doubles (`NaN != NaN`) from failing the check.
fn check_value<P: Protocol, T: Encode + Decode, C: Encode + Decode>(input: &Bytes) {
    let decoded = decode::<P, T>(input);
    let twin = decode::<P, C>(input);
    let (value, twin) = match (decoded, twin) {
        (Ok(value), Ok(twin)) => (value, twin),
        (Err(e), Err(twin_e)) => {
            check_error(&e, input.len());
            assert_eq!(e, twin_e, "hash and B-tree containers fail differently");
            return;
        }
        (Ok(_), Err(e)) => panic!("only the B-tree twin fails: {e}"),
        (Err(e), Ok(_)) => panic!("only the hash type fails: {e}"),
    };

    // Where decoding stopped is where a skip over the same bytes stops.
    let end = decoded_end::<P, T>(input).expect("decodes a second time");
    let mut walker = Reader::<P>::new(input);
    if let Err(e) = walker.skip(TType::Struct) {
        panic!("decodes as a value but cannot be skipped: {e}");
    }
    assert_eq!(walker.position(), end, "skip and decode end at different bytes");

    let first = encode_checked::<P, T>(&value);
    let canonical = encode_checked::<P, C>(&twin);
    assert_eq!(first.len(), canonical.len(), "the container type changes the encoded length");

    let again: T = decode_exact::<P, T>(&first);
    let second = encode_checked::<P, T>(&again);
    assert_eq!(second.len(), first.len(), "re-encoding changes the length");

    // One value, one canonical encoding (the exactly-once request
    // fingerprint): whichever protocol carries it, whichever order its hash
    // containers iterate in. And the walk never fails where decoding did not.
    let canonical_value = canonical_struct::<Binary>(&encode::<Binary, C>(&twin)).expect("canonical of our binary");
    for other in [
        canonical_struct::<Binary>(&encode::<Binary, T>(&value)),
        canonical_struct::<Compact>(&encode::<Compact, T>(&value)),
        canonical_struct::<Compact>(&encode::<Compact, C>(&twin)),
    ] {
        assert_eq!(other.expect("canonical of our encoding"), canonical_value, "one value, two canonical encodings");
    }
    if let Err(e) = canonical_struct::<P>(input) {
        panic!("decodes, but its canonical walk fails: {e}");
    }

    // Byte-level idempotence, on the encoding with a fixed container order.
    for bytes in [&first, &second, &canonical] {
        let twin_again = decode_exact::<P, C>(bytes);
        let canonical_again = encode_checked::<P, C>(&twin_again);
        assert!(canonical_again == canonical, "re-encoding is not idempotent:\n{canonical:?}\n{canonical_again:?}");
    }
}

/// Encodes `value` and checks that `encoded_len` predicted the size.
fn encode_checked<P: Protocol, T: Encode>(value: &T) -> Bytes {
    let bytes = encode::<P, T>(value);
    assert_eq!(encoded_len::<P, T>(value), bytes.len(), "encoded_len disagrees with encode");
    bytes
}

/// Decodes our own encoding, which must succeed and use every byte.
fn decode_exact<P: Protocol, T: Decode>(bytes: &Bytes) -> T {
    let mut r = Reader::<P>::new(bytes);
    let value = match T::decode(&mut r) {
        Ok(value) => value,
        Err(e) => panic!("our own encoding does not decode: {e}\n{bytes:?}"),
    };
    assert_eq!(r.position(), bytes.len(), "our own encoding is not read to its end");
    value
}

/// The byte offset where decoding a `T` from `input` ends.
fn decoded_end<P: Protocol, T: Decode>(input: &Bytes) -> Result<usize, DecodeError> {
    let mut r = Reader::<P>::new(input);
    T::decode(&mut r)?;
    Ok(r.position())
}

/// An error renders, and points inside the input.
fn check_error(e: &DecodeError, input_len: usize) {
    let text = e.to_string();
    assert!(!text.is_empty());
    assert!(e.offset() <= input_len, "{text}: offset past the end of {input_len} bytes");
}

/// Skipping a struct never panics; where it fails, the error is sound.
fn check_skip<P: Protocol>(input: &Bytes) {
    let mut r = Reader::<P>::new(input);
    match r.skip(TType::Struct) {
        Ok(()) => assert!(r.position() <= input.len()),
        Err(e) => check_error(&e, input.len()),
    }
}

/// Reading a message header never panics; a header that reads writes back
/// (strict, in binary) to one that reads the same, and the body after it
/// can be walked as the unframed transport does.
fn check_message_header<P: Protocol>(input: &Bytes) {
    let mut r = Reader::<P>::new(input);
    let header = match r.message_begin() {
        Ok(header) => header,
        Err(e) => return check_error(&e, input.len()),
    };
    match r.skip(TType::Struct) {
        Ok(()) => assert!(r.position() <= input.len()),
        Err(e) => check_error(&e, input.len()),
    }
    let mut w = Writer::<P, Vec<u8>>::new(Vec::new());
    w.message_begin(&header.name, header.kind, header.seq);
    let written = Bytes::from(w.into_inner());
    let mut r = Reader::<P>::new(&written);
    let reread = r.message_begin().expect("a written header reads");
    assert_eq!(reread, header);
    assert_eq!(r.position(), written.len());
}

/// The largest frame the `frames` target's codecs accept.
pub const MAX_FRAME: usize = 4096;

/// The `frames` target: `data[0]` picks where the rest is split in two
/// chunks (`data[0] / 255` of the way in). For each framing and protocol,
/// the chunks are fed to a [`MessageCodec`] one after the other, draining
/// frames after each; then the whole input is fed at once. Both ways must
/// cut the same frames and end the same way.
pub fn frames_target(data: &[u8]) {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = usize::from(split) * rest.len() / 255;
    for framing in [Framing::Framed, Framing::Buffered] {
        for protocol in [ProtocolKind::Binary, ProtocolKind::Compact] {
            let (chunked_frames, chunked_end) = cut_frames(framing, protocol, &[&rest[..at], &rest[at..]]);
            let (whole_frames, whole_end) = cut_frames(framing, protocol, &[rest]);
            assert_eq!(chunked_frames, whole_frames, "{framing:?} {protocol:?}: the split at {at} changes the frames");
            assert!(
                chunked_end.same_outcome(&whole_end),
                "{framing:?} {protocol:?}: the split at {at} changes how the stream ends: {chunked_end:?} / {whole_end:?}",
            );
        }
    }
}

/// How a stream ended, for comparing two ways of feeding it.
#[derive(Debug, PartialEq)]
enum StreamEnd {
    /// Every byte became a frame.
    Clean,
    /// Bytes were left over at end of stream (an incomplete message).
    Incomplete,
    /// A frame over the limit. Its size is left out: it is "at least" the
    /// bytes seen so far, which depends on how they arrived.
    TooLarge,
    /// An unframed message that is not a Thrift message.
    Invalid(DecodeError),
}

impl StreamEnd {
    /// Whether two ways of feeding the same bytes ended alike. An unframed
    /// message that is both over the limit and malformed may be refused
    /// for either reason: with fewer bytes in hand the codec sees the size
    /// first (a declared length, or the bytes so far, past the limit), with
    /// more it may reach the malformed byte first. Both refuse the stream.
    fn same_outcome(&self, other: &StreamEnd) -> bool {
        use StreamEnd::{Invalid, TooLarge};
        self == other || matches!((self, other), (TooLarge, Invalid(_)) | (Invalid(_), TooLarge))
    }
}

/// Feeds `chunks` to a fresh codec, draining frames after each, then ends
/// the stream. Returns the frames and how the stream ended.
fn cut_frames(framing: Framing, protocol: ProtocolKind, chunks: &[&[u8]]) -> (Vec<Bytes>, StreamEnd) {
    let mut codec = MessageCodec::new(framing, protocol, MAX_FRAME);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        if let Err(e) = drain(&mut codec, &mut buf, &mut frames, protocol, framing) {
            return (frames, e);
        }
    }
    let end = match codec.decode_eof(&mut buf) {
        Ok(None) => StreamEnd::Clean,
        // decode_eof calls decode once more; drain already took every frame.
        Ok(Some(frame)) => panic!("a frame ({} bytes) appeared only at end of stream", frame.len()),
        Err(FrameError::Io(e)) => {
            assert!(!e.to_string().is_empty());
            assert!(!buf.is_empty(), "end of stream reported as an error with nothing left");
            StreamEnd::Incomplete
        }
        Err(e) => stream_error(e),
    };
    (frames, end)
}

/// Takes frames until the codec wants more bytes or fails.
fn drain(
    codec: &mut MessageCodec,
    buf: &mut BytesMut,
    frames: &mut Vec<Bytes>,
    protocol: ProtocolKind,
    framing: Framing,
) -> Result<(), StreamEnd> {
    loop {
        let before = buf.len();
        match codec.decode(buf) {
            Ok(None) => {
                assert_eq!(buf.len(), before, "waiting for more bytes consumed some");
                return Ok(());
            }
            Ok(Some(frame)) => {
                assert!(frame.len() <= MAX_FRAME, "a frame of {} bytes passed the limit of {MAX_FRAME}", frame.len());
                assert!(buf.len() < before, "a frame was cut without consuming input");
                check_frame(codec, &frame, protocol, framing);
                frames.push(frame);
            }
            Err(e) => return Err(stream_error(e)),
        }
    }
}

fn stream_error(e: FrameError) -> StreamEnd {
    assert!(!e.to_string().is_empty());
    match e {
        FrameError::TooLarge { size, limit } => {
            assert_eq!(limit, MAX_FRAME);
            assert!(size > limit, "refused {size} bytes as over the limit of {limit}");
            StreamEnd::TooLarge
        }
        FrameError::Invalid(e) => StreamEnd::Invalid(e),
        other => panic!("unexpected error cutting frames: {other}"),
    }
}

/// A frame's message header decodes without panicking (an unframed frame
/// was found by walking a header and a struct, so its header must read and
/// the walk must end at the frame's end), and writing the frame back with
/// the same codec gives a stream that cuts into that frame again.
fn check_frame(codec: &mut MessageCodec, frame: &Bytes, protocol: ProtocolKind, framing: Framing) {
    let walked = match protocol {
        ProtocolKind::Binary => walk_message::<Binary>(frame),
        ProtocolKind::Compact => walk_message::<Compact>(frame),
    };
    if framing == Framing::Buffered {
        match walked {
            Ok((_, end)) => assert_eq!(end, frame.len(), "an unframed frame does not end where its message does"),
            Err(e) => panic!("an unframed frame is not a message: {e}"),
        }
    }
    let mut out = BytesMut::new();
    codec.encode(frame.clone(), &mut out).expect("a frame within the limit encodes");
    let again = codec.decode(&mut out).expect("a written frame cuts again");
    assert_eq!(again.as_ref(), Some(frame));
    assert!(out.is_empty());
}

/// Reads a message header and walks the struct after it, returning the
/// header and where the struct ended.
fn walk_message<P: Protocol>(frame: &Bytes) -> Result<(MessageHeader, usize), DecodeError> {
    let mut r = Reader::<P>::new(frame);
    let result = r.message_begin().and_then(|header| r.skip(TType::Struct).map(|()| header));
    match result {
        Ok(header) => Ok((header, r.position())),
        Err(e) => {
            check_error(&e, frame.len());
            Err(e)
        }
    }
}
