//! Interoperation with Apache's `thrift` crate (feature `apache-compat`).
//!
//! - [`serve_processor`] serves an Apache-generated `TProcessor` (from
//!   `thrift --gen rs`) with our tokio server: the app keeps its handlers.
//! - [`MuChannel`] is a `TIoChannel` for Apache-generated clients that sends
//!   their calls through our [`Channel`](crate::Channel).
//!
//! [`write()`] and [`read()`] move any type with our [`Encode`]/[`Decode`]
//! impls through Apache's `TOutputProtocol`/`TInputProtocol`, whatever the
//! protocol behind them: the value is encoded with our binary codec, and
//! the bytes are replayed event by event into the Apache protocol (and the
//! reverse for reading). Code generated with `--gen rust:apache_compat`
//! implements Apache's `TSerializable` with these, so existing Apache-based
//! Rust code can use the generated types.
//!
//! ```
//! use mu2sls::compat::{read, write};
//! use thrift::protocol::{TCompactInputProtocol, TCompactOutputProtocol};
//!
//! let value: Vec<i32> = vec![1, 2, 3];
//! let mut buf = Vec::new();
//! // Apache protocols exchange structs; wrap a list in a one-field struct
//! // in real code. Here the bridge copies the list on its own.
//! write(&StructOf(value.clone()), &mut TCompactOutputProtocol::new(&mut buf)).unwrap();
//! let back: StructOf = read(&mut TCompactInputProtocol::new(&buf[..])).unwrap();
//! assert_eq!(back.0, value);
//! # use mu2sls::codec::{Decode, DecodeError, Encode, Output, Protocol, Reader, TType, Writer};
//! # #[derive(Debug, PartialEq)]
//! # struct StructOf(Vec<i32>);
//! # impl Encode for StructOf {
//! #     const TTYPE: TType = TType::Struct;
//! #     fn encode<P: Protocol, O: Output>(&self, w: &mut Writer<P, O>) {
//! #         w.struct_begin(); w.field_begin(TType::List, 1); self.0.encode(w); w.struct_end();
//! #     }
//! # }
//! # impl Decode for StructOf {
//! #     fn decode<P: Protocol>(r: &mut Reader<'_, P>) -> Result<Self, DecodeError> {
//! #         r.struct_begin()?;
//! #         let mut v = Vec::new();
//! #         while let Some((t, id)) = r.field_begin()? {
//! #             if (id, t) == (1, TType::List) { v = Vec::decode(r)?; } else { r.skip(t)?; }
//! #         }
//! #         r.struct_end();
//! #         Ok(StructOf(v))
//! #     }
//! # }
//! ```

use bytes::Bytes;
use thrift::protocol::{
    TBinaryInputProtocol, TBinaryOutputProtocol, TFieldIdentifier, TInputProtocol, TListIdentifier, TMapIdentifier,
    TOutputProtocol, TSetIdentifier, TStructIdentifier, TType as ApacheType,
};
use thrift::{ProtocolError, ProtocolErrorKind};

use crate::codec::{Binary, Decode, DecodeError, Encode, decode, encode};

mod processor;

pub use processor::{MuChannel, ProcessorService, serve_processor};

/// How deeply a replayed value may nest, as Apache's own skip limit.
const MAX_DEPTH: usize = 64;

/// Writes `value` (a struct, union or exception) to an Apache output protocol.
pub fn write<T: Encode>(value: &T, o: &mut dyn TOutputProtocol) -> thrift::Result<()> {
    let bytes = encode::<Binary, T>(value);
    let mut i = TBinaryInputProtocol::new(&bytes[..], true);
    copy(&mut i, o, ApacheType::Struct, 0)
}

/// Reads a `T` (a struct, union or exception) from an Apache input protocol.
pub fn read<T: Decode>(i: &mut dyn TInputProtocol) -> thrift::Result<T> {
    let mut buf = Vec::new();
    {
        let mut o = TBinaryOutputProtocol::new(&mut buf, true);
        copy(i, &mut o, ApacheType::Struct, 0)?;
    }
    decode::<Binary, T>(&Bytes::from(buf)).map_err(protocol_error)
}

fn protocol_error(e: DecodeError) -> thrift::Error {
    thrift::Error::Protocol(ProtocolError::new(ProtocolErrorKind::InvalidData, e.to_string()))
}

fn depth_error() -> thrift::Error {
    thrift::Error::Protocol(ProtocolError::new(ProtocolErrorKind::DepthLimit, "value nested too deeply"))
}

/// Copies one value of type `t` from `i` to `o`, event by event.
fn copy(i: &mut dyn TInputProtocol, o: &mut dyn TOutputProtocol, t: ApacheType, depth: usize) -> thrift::Result<()> {
    if depth > MAX_DEPTH {
        return Err(depth_error());
    }
    match t {
        ApacheType::Bool => o.write_bool(i.read_bool()?),
        ApacheType::I08 => o.write_i8(i.read_i8()?),
        ApacheType::I16 => o.write_i16(i.read_i16()?),
        ApacheType::I32 => o.write_i32(i.read_i32()?),
        ApacheType::I64 => o.write_i64(i.read_i64()?),
        ApacheType::Double => o.write_double(i.read_double()?),
        ApacheType::String => o.write_bytes(&i.read_bytes()?),
        ApacheType::Uuid => o.write_uuid(&i.read_uuid()?),
        ApacheType::Struct => {
            i.read_struct_begin()?;
            o.write_struct_begin(&TStructIdentifier::new(""))?;
            loop {
                let f = i.read_field_begin()?;
                if f.field_type == ApacheType::Stop {
                    break;
                }
                o.write_field_begin(&TFieldIdentifier::new::<Option<String>, String, Option<i16>>(
                    None,
                    f.field_type,
                    f.id,
                ))?;
                copy(i, o, f.field_type, depth + 1)?;
                i.read_field_end()?;
                o.write_field_end()?;
            }
            i.read_struct_end()?;
            o.write_field_stop()?;
            o.write_struct_end()
        }
        ApacheType::List => {
            let l = i.read_list_begin()?;
            o.write_list_begin(&TListIdentifier::new(l.element_type, l.size))?;
            for _ in 0..l.size {
                copy(i, o, l.element_type, depth + 1)?;
            }
            i.read_list_end()?;
            o.write_list_end()
        }
        ApacheType::Set => {
            let s = i.read_set_begin()?;
            o.write_set_begin(&TSetIdentifier::new(s.element_type, s.size))?;
            for _ in 0..s.size {
                copy(i, o, s.element_type, depth + 1)?;
            }
            i.read_set_end()?;
            o.write_set_end()
        }
        ApacheType::Map => {
            let m = i.read_map_begin()?;
            match (m.key_type, m.value_type) {
                (Some(k), Some(v)) => {
                    o.write_map_begin(&TMapIdentifier::new(k, v, m.size))?;
                    for _ in 0..m.size {
                        copy(i, o, k, depth + 1)?;
                        copy(i, o, v, depth + 1)?;
                    }
                }
                // An empty compact map carries no types, and Apache's binary
                // writer insists on some: any will do for no entries.
                _ if m.size == 0 => {
                    o.write_map_begin(&TMapIdentifier::new(ApacheType::I08, ApacheType::I08, 0))?;
                }
                _ => {
                    return Err(thrift::Error::Protocol(ProtocolError::new(
                        ProtocolErrorKind::InvalidData,
                        "a non-empty map without key and value types",
                    )));
                }
            }
            i.read_map_end()?;
            o.write_map_end()
        }
        other => Err(thrift::Error::Protocol(ProtocolError::new(
            ProtocolErrorKind::InvalidData,
            format!("cannot copy a value of type {other}"),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use thrift::protocol::{TCompactInputProtocol, TCompactOutputProtocol};

    use super::*;
    use crate::codec::{Compact, Output, Protocol, Reader, TType, Writer};

    /// A struct holding every shape, written by hand as generated code would.
    #[derive(Debug, PartialEq, Default)]
    struct Sample {
        flag: bool,
        n: i64,
        name: String,
        data: Bytes,
        nested: Vec<BTreeMap<String, Vec<bool>>>,
        ratio: f64,
    }

    impl Encode for Sample {
        const TTYPE: TType = TType::Struct;
        fn encode<P: Protocol, O: Output>(&self, w: &mut Writer<P, O>) {
            w.struct_begin();
            w.field_begin(TType::Bool, 1);
            self.flag.encode(w);
            w.field_begin(TType::I64, 2);
            self.n.encode(w);
            w.field_begin(TType::Binary, 3);
            self.name.encode(w);
            w.field_begin(TType::Binary, 20);
            self.data.encode(w);
            w.field_begin(TType::List, 21);
            self.nested.encode(w);
            w.field_begin(TType::Double, 22);
            self.ratio.encode(w);
            w.struct_end();
        }
    }

    impl Decode for Sample {
        fn decode<P: Protocol>(r: &mut Reader<'_, P>) -> Result<Self, DecodeError> {
            let mut s = Sample::default();
            r.struct_begin()?;
            while let Some((t, id)) = r.field_begin()? {
                match (id, t) {
                    (1, TType::Bool) => s.flag = Decode::decode(r)?,
                    (2, TType::I64) => s.n = Decode::decode(r)?,
                    (3, TType::Binary) => s.name = Decode::decode(r)?,
                    (20, TType::Binary) => s.data = Decode::decode(r)?,
                    (21, TType::List) => s.nested = Decode::decode(r)?,
                    (22, TType::Double) => s.ratio = Decode::decode(r)?,
                    _ => r.skip(t)?,
                }
            }
            r.struct_end();
            Ok(s)
        }
    }

    fn sample() -> Sample {
        let mut m = BTreeMap::new();
        m.insert("k".to_string(), vec![true, false, true]);
        Sample {
            flag: true,
            n: i64::MIN,
            name: "héllo".into(),
            data: Bytes::from_static(b"\0\x01\xff"),
            nested: vec![m, BTreeMap::new()],
            ratio: -0.5,
        }
    }

    #[test]
    fn apache_compact_protocol_round_trips_and_matches_our_bytes() {
        let mut buf = Vec::new();
        write(&sample(), &mut TCompactOutputProtocol::new(&mut buf)).unwrap();
        // Apache's compact writer and ours agree byte for byte.
        assert_eq!(&buf[..], &encode::<Compact, Sample>(&sample())[..]);
        let back: Sample = read(&mut TCompactInputProtocol::new(&buf[..])).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn apache_binary_protocol_round_trips_and_matches_our_bytes() {
        let mut buf = Vec::new();
        write(&sample(), &mut TBinaryOutputProtocol::new(&mut buf, true)).unwrap();
        assert_eq!(&buf[..], &encode::<Binary, Sample>(&sample())[..]);
        let back: Sample = read(&mut TBinaryInputProtocol::new(&buf[..], true)).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let junk = [0x0c, 0x00, 0x01, 0x0c, 0x00, 0x01, 0xff];
        assert!(read::<Sample>(&mut TBinaryInputProtocol::new(&junk[..], true)).is_err());
    }
}
