//! What one iteration of each benchmark row does, shared by the criterion
//! bench (`benches/codec.rs`) and the instruction counter
//! (`src/bin/instructions.rs`): one protocol as each of the three stacks
//! spells it.
//!
//! Every peer does the same work: encode into a caller's buffer with a
//! protocol object made per message; decode from one whole frame into
//! owned values.

use bytes::{Bytes, BytesMut};
use mu2sls::codec::{Encode, Protocol, Writer};
use pilota::thrift::{Message, ThriftException};
use thrift::protocol::{
    TBinaryInputProtocol, TBinaryOutputProtocol, TCompactInputProtocol, TCompactOutputProtocol, TSerializable,
};

/// One protocol, as each of the three stacks spells it.
pub trait Wire {
    const NAME: &'static str;
    type Ours: Protocol;
    fn apache_encode<T: TSerializable>(v: &T, buf: &mut Vec<u8>);
    fn apache_decode<T: TSerializable>(frame: &[u8]) -> thrift::Result<T>;
    fn pilota_encode<T: Message>(v: &T, buf: &mut BytesMut);
    fn pilota_decode<T: Message>(frame: &Bytes) -> Result<T, ThriftException>;
}

/// The binary protocol.
pub struct BinaryWire;
/// The compact protocol.
pub struct CompactWire;

impl Wire for BinaryWire {
    const NAME: &'static str = "binary";
    type Ours = mu2sls::codec::Binary;
    #[inline]
    fn apache_encode<T: TSerializable>(v: &T, buf: &mut Vec<u8>) {
        let mut o = TBinaryOutputProtocol::new(buf, true);
        v.write_to_out_protocol(&mut o).expect("writing into a Vec cannot fail");
    }
    #[inline]
    fn apache_decode<T: TSerializable>(frame: &[u8]) -> thrift::Result<T> {
        T::read_from_in_protocol(&mut TBinaryInputProtocol::new(frame, true))
    }
    #[inline]
    fn pilota_encode<T: Message>(v: &T, buf: &mut BytesMut) {
        let mut o = pilota::thrift::binary::TBinaryProtocol::new(buf, true);
        v.encode(&mut o).expect("writing into a BytesMut cannot fail");
    }
    #[inline]
    fn pilota_decode<T: Message>(frame: &Bytes) -> Result<T, ThriftException> {
        // pilota's reader consumes its `Bytes`: a reference-counted clone.
        let mut frame = frame.clone();
        T::decode(&mut pilota::thrift::binary::TBinaryProtocol::new(&mut frame, true))
    }
}

impl Wire for CompactWire {
    const NAME: &'static str = "compact";
    type Ours = mu2sls::codec::Compact;
    #[inline]
    fn apache_encode<T: TSerializable>(v: &T, buf: &mut Vec<u8>) {
        let mut o = TCompactOutputProtocol::new(buf);
        v.write_to_out_protocol(&mut o).expect("writing into a Vec cannot fail");
    }
    #[inline]
    fn apache_decode<T: TSerializable>(frame: &[u8]) -> thrift::Result<T> {
        T::read_from_in_protocol(&mut TCompactInputProtocol::new(frame))
    }
    #[inline]
    fn pilota_encode<T: Message>(v: &T, buf: &mut BytesMut) {
        let mut o = pilota::thrift::compact::TCompactOutputProtocol::new(buf, true);
        v.encode(&mut o).expect("writing into a BytesMut cannot fail");
    }
    #[inline]
    fn pilota_decode<T: Message>(frame: &Bytes) -> Result<T, ThriftException> {
        let mut frame = frame.clone();
        T::decode(&mut pilota::thrift::compact::TCompactInputProtocol::new(&mut frame))
    }
}

/// Our encode into a reused buffer.
#[inline]
pub fn ours_encode<P: Protocol, T: Encode>(v: &T, buf: &mut BytesMut) {
    // `Writer` owns its output: move the buffer in and back out, keeping
    // its allocation.
    let mut w = Writer::<P, BytesMut>::new(std::mem::take(buf));
    v.encode(&mut w);
    *buf = w.into_inner();
}
