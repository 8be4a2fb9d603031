//! Codec tests: wire bytes pinned from the protocol specifications, round
//! trips of arbitrary nested values, and hostile input.

use bytes::Bytes;
use proptest::prelude::*;

use super::*;

/// A dynamically typed Thrift value: enough to exercise every wire shape.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Bool(bool),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    Double(u64), // bits, so NaN payloads compare exactly
    Binary(Vec<u8>),
    Uuid([u8; 16]),
    Struct(Vec<(i16, Value)>),
    List(TType, Vec<Value>),
    Map(TType, TType, Vec<(Value, Value)>),
}

impl Value {
    fn ttype(&self) -> TType {
        match self {
            Value::Bool(_) => TType::Bool,
            Value::I8(_) => TType::I8,
            Value::I16(_) => TType::I16,
            Value::I32(_) => TType::I32,
            Value::I64(_) => TType::I64,
            Value::Double(_) => TType::Double,
            Value::Binary(_) => TType::Binary,
            Value::Uuid(_) => TType::Uuid,
            Value::Struct(_) => TType::Struct,
            Value::List(..) => TType::List,
            Value::Map(..) => TType::Map,
        }
    }

    fn write<P: Protocol, O: Output>(&self, w: &mut Writer<P, O>) {
        match self {
            Value::Bool(v) => w.bool(*v),
            Value::I8(v) => w.i8(*v),
            Value::I16(v) => w.i16(*v),
            Value::I32(v) => w.i32(*v),
            Value::I64(v) => w.i64(*v),
            Value::Double(bits) => w.double(f64::from_bits(*bits)),
            Value::Binary(b) => w.binary(b),
            Value::Uuid(u) => w.uuid(&uuid::Uuid::from_bytes(*u)),
            Value::Struct(fields) => {
                w.struct_begin();
                for (id, v) in fields {
                    w.field_begin(v.ttype(), *id);
                    v.write(w);
                }
                w.struct_end();
            }
            Value::List(t, items) => {
                w.list_begin(*t, items.len());
                for i in items {
                    i.write(w);
                }
            }
            Value::Map(k, v, entries) => {
                w.map_begin(*k, *v, entries.len());
                for (a, b) in entries {
                    a.write(w);
                    b.write(w);
                }
            }
        }
    }

    fn read<P: Protocol>(r: &mut Reader<'_, P>, t: TType) -> Result<Value, DecodeError> {
        Ok(match t {
            TType::Bool => Value::Bool(r.bool()?),
            TType::I8 => Value::I8(r.i8()?),
            TType::I16 => Value::I16(r.i16()?),
            TType::I32 => Value::I32(r.i32()?),
            TType::I64 => Value::I64(r.i64()?),
            TType::Double => Value::Double(r.double()?.to_bits()),
            TType::Binary => Value::Binary(r.binary()?.to_vec()),
            TType::Uuid => Value::Uuid(*r.uuid()?.as_bytes()),
            TType::Struct => {
                r.struct_begin()?;
                let mut fields = Vec::new();
                while let Some((ft, id)) = r.field_begin()? {
                    fields.push((id, Value::read(r, ft)?));
                }
                r.struct_end();
                Value::Struct(fields)
            }
            TType::List | TType::Set => {
                let (et, n) = r.list_begin()?;
                let items = (0..n).map(|_| Value::read(r, et)).collect::<Result<_, _>>()?;
                r.list_end();
                Value::List(et, items)
            }
            TType::Map => {
                let (types, n) = r.map_begin()?;
                let (kt, vt) = types.unwrap_or((TType::I32, TType::I32));
                let mut entries = Vec::new();
                for _ in 0..n {
                    entries.push((Value::read(r, kt)?, Value::read(r, vt)?));
                }
                r.map_end();
                Value::Map(kt, vt, entries)
            }
            TType::Stop => return Err(r.error(DecodeErrorKind::InvalidType(0))),
        })
    }
}

fn write<P: Protocol>(v: &Value) -> Bytes {
    let mut w = Writer::<P, Vec<u8>>::new(Vec::new());
    v.write(&mut w);
    let mut c = Writer::<P, LenCounter>::new(LenCounter(0));
    v.write(&mut c);
    let bytes = w.into_inner();
    assert_eq!(c.into_inner().0, bytes.len(), "size computation disagrees");
    Bytes::from(bytes)
}

fn read<P: Protocol>(bytes: &Bytes, t: TType) -> Result<Value, DecodeError> {
    Value::read(&mut Reader::<P>::new(bytes), t)
}

#[test]
fn binary_struct_bytes() {
    // struct { 1: i32 = 1, 2: string = "hi", 3: bool = true }
    let v = Value::Struct(vec![(1, Value::I32(1)), (2, Value::Binary(b"hi".to_vec())), (3, Value::Bool(true))]);
    let expected: &[u8] = &[8, 0, 1, 0, 0, 0, 1, 11, 0, 2, 0, 0, 0, 2, b'h', b'i', 2, 0, 3, 1, 0];
    assert_eq!(&write::<Binary>(&v)[..], expected);
}

#[test]
fn compact_struct_bytes() {
    // Same struct: deltas 1, 1, 1; bool folded into its header (type 1 = true).
    let v = Value::Struct(vec![(1, Value::I32(1)), (2, Value::Binary(b"hi".to_vec())), (3, Value::Bool(true))]);
    let expected: &[u8] = &[0x15, 0x02, 0x18, 0x02, b'h', b'i', 0x11, 0x00];
    assert_eq!(&write::<Compact>(&v)[..], expected);
}

#[test]
fn compact_field_ids_are_per_nesting_level() {
    // 1: struct { 10: i32 }, then 2: i32. After the nested struct ends the
    // delta base is 1 again (the bug in pilota#371 used 10).
    let v = Value::Struct(vec![(1, Value::Struct(vec![(10, Value::I32(7))])), (2, Value::I32(5))]);
    let bytes = write::<Compact>(&v);
    assert_eq!(&bytes[..], &[0x1c, 0xa5, 0x0e, 0x00, 0x15, 0x0a, 0x00]);
    assert_eq!(read::<Compact>(&bytes, TType::Struct).unwrap(), v);
    // The same through a list of structs.
    let v = Value::Struct(vec![
        (1, Value::List(TType::Struct, vec![Value::Struct(vec![(20, Value::I64(1))])])),
        (2, Value::Bool(false)),
    ]);
    let bytes = write::<Compact>(&v);
    assert_eq!(read::<Compact>(&bytes, TType::Struct).unwrap(), v);
}

#[test]
fn compact_long_deltas_and_negative_ids() {
    let v = Value::Struct(vec![(-1, Value::I8(1)), (100, Value::I8(2)), (115, Value::I8(3))]);
    let bytes = write::<Compact>(&v);
    assert_eq!(&bytes[..], &[0x03, 0x01, 0x01, 0x03, 0xc8, 0x01, 0x02, 0xf3, 0x03, 0x00]);
    assert_eq!(read::<Compact>(&bytes, TType::Struct).unwrap(), v);
}

#[test]
fn compact_bools_in_lists_and_empty_maps() {
    let list = Value::List(TType::Bool, vec![Value::Bool(true), Value::Bool(false)]);
    assert_eq!(&write::<Compact>(&list)[..], &[0x21, 0x01, 0x02]);
    // Readers take 0 as false too, and a bool element type written as 2.
    let legacy = Bytes::from_static(&[0x22, 0x01, 0x00]);
    assert_eq!(read::<Compact>(&legacy, TType::List).unwrap(), list);
    let empty = Value::Map(TType::Binary, TType::I32, vec![]);
    assert_eq!(&write::<Compact>(&empty)[..], &[0x00]);
    let bad = Bytes::from_static(&[0x11, 0x07]);
    assert!(matches!(read::<Compact>(&bad, TType::List).unwrap_err().kind(), DecodeErrorKind::InvalidValue(_)));
}

#[test]
fn compact_doubles_are_little_endian() {
    assert_eq!(&write::<Compact>(&Value::Double(1.0f64.to_bits()))[..], &1.0f64.to_le_bytes());
    assert_eq!(&write::<Binary>(&Value::Double(1.0f64.to_bits()))[..], &1.0f64.to_be_bytes());
}

#[test]
fn message_headers() {
    let mut w = Writer::<Binary, Vec<u8>>::new(Vec::new());
    w.message_begin("ping", MessageType::Call, 7);
    let b = Bytes::from(w.into_inner());
    assert_eq!(&b[..], &[0x80, 0x01, 0x00, 0x01, 0, 0, 0, 4, b'p', b'i', b'n', b'g', 0, 0, 0, 7]);
    let h = Reader::<Binary>::new(&b).message_begin().unwrap();
    assert_eq!(h, MessageHeader { name: "ping".into(), kind: MessageType::Call, seq: 7 });

    // Non-strict binary: name length, name, type byte, seqid.
    let old = Bytes::from_static(&[0, 0, 0, 2, b'h', b'i', 4, 0, 0, 0, 9]);
    let h = Reader::<Binary>::new(&old).message_begin().unwrap();
    assert_eq!(h, MessageHeader { name: "hi".into(), kind: MessageType::Oneway, seq: 9 });

    let mut w = Writer::<Compact, Vec<u8>>::new(Vec::new());
    w.message_begin("ping", MessageType::Reply, -1);
    let b = Bytes::from(w.into_inner());
    assert_eq!(&b[..], &[0x82, 0x41, 0xff, 0xff, 0xff, 0xff, 0x0f, 4, b'p', b'i', b'n', b'g']);
    let h = Reader::<Compact>::new(&b).message_begin().unwrap();
    assert_eq!(h, MessageHeader { name: "ping".into(), kind: MessageType::Reply, seq: -1 });

    let bad = Bytes::from_static(&[0x80, 0x02, 0x00, 0x01]);
    assert!(matches!(
        Reader::<Binary>::new(&bad).message_begin().unwrap_err().kind(),
        DecodeErrorKind::BadMessageHeader(_)
    ));
}

#[test]
fn hostile_lengths_are_rejected_before_allocating() {
    // A list claiming 2^31 - 1 i64 elements in 5 bytes.
    let b = Bytes::from_static(&[10, 0x7f, 0xff, 0xff, 0xff]);
    let e = read::<Binary>(&b, TType::List).unwrap_err();
    assert!(matches!(e.kind(), DecodeErrorKind::LengthExceedsInput { .. }), "{e}");
    let b = Bytes::from_static(&[0, 0, 0, 5, b'a']);
    assert!(matches!(
        read::<Binary>(&b, TType::Binary).unwrap_err().kind(),
        DecodeErrorKind::LengthExceedsInput { .. }
    ));
    let b = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff]);
    assert!(matches!(read::<Binary>(&b, TType::Binary).unwrap_err().kind(), DecodeErrorKind::NegativeLength(-1)));
    let b = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert_eq!(read::<Compact>(&b, TType::I32).unwrap_err().kind(), &DecodeErrorKind::VarintTooLong);
    let b = Bytes::from_static(&[0x0f]);
    assert_eq!(read::<Compact>(&b, TType::Struct).unwrap_err().kind(), &DecodeErrorKind::InvalidType(15));
    assert_eq!(read::<Binary>(&Bytes::new(), TType::I32).unwrap_err().kind(), &DecodeErrorKind::UnexpectedEof);
}

#[test]
fn nesting_is_limited_in_reads_and_skips() {
    // 100 nested structs: field 1 of type struct, repeatedly.
    let mut deep = Vec::new();
    for _ in 0..100 {
        deep.extend_from_slice(&[12, 0, 1]);
    }
    let b = Bytes::from(deep);
    let mut r = Reader::<Binary>::new(&b);
    assert_eq!(r.skip(TType::Struct).unwrap_err().kind(), &DecodeErrorKind::DepthLimit(64));
    let e = read::<Binary>(&b, TType::Struct).unwrap_err();
    assert_eq!(e.kind(), &DecodeErrorKind::DepthLimit(64));
}

#[test]
fn oversized_messages_are_rejected_up_front() {
    let limits = Limits { max_message_size: 4, ..Limits::default() };
    let b = Bytes::from_static(&[0, 0, 0, 0, 0]);
    let e = decode_with_limits::<Binary, i32>(&b, limits).unwrap_err();
    assert_eq!(e.kind(), &DecodeErrorKind::MessageTooLarge { size: 5, limit: 4 });
    assert_eq!(decode_with_limits::<Binary, i32>(&b.slice(..4), limits).unwrap(), 0);
}

#[test]
fn invalid_utf8_strings_are_errors() {
    let b = Bytes::from_static(&[0, 0, 0, 2, 0xc3, 0x28]);
    let e = Reader::<Binary>::new(&b).string().unwrap_err();
    assert_eq!(e.kind(), &DecodeErrorKind::InvalidUtf8);
    assert_eq!(e.to_string(), "string is not valid UTF-8 at byte 4");
}

#[test]
fn error_paths_read_outermost_first() {
    let e = DecodeError::new(DecodeErrorKind::UnexpectedEof, 3).within("text").within("urls").within("Post");
    assert_eq!(e.path(), "Post.urls.text");
    assert_eq!(e.to_string(), "input ended inside a value at byte 3 in `Post.urls.text`");
}

#[test]
fn skipping_consumes_exactly_one_value() {
    let v = Value::Struct(vec![
        (
            1,
            Value::Map(
                TType::Binary,
                TType::List,
                vec![(Value::Binary(b"k".to_vec()), Value::List(TType::Bool, vec![Value::Bool(true)]))],
            ),
        ),
        (2, Value::Uuid([7; 16])),
    ]);
    for bytes in [write::<Binary>(&v), write::<Compact>(&v)] {
        let mut with_tail = bytes.to_vec();
        with_tail.push(0xAA);
        let with_tail = Bytes::from(with_tail);
        let (mut rb, mut rc) = (Reader::<Binary>::new(&with_tail), Reader::<Compact>::new(&with_tail));
        if bytes == write::<Binary>(&v) {
            rb.skip(TType::Struct).unwrap();
            assert_eq!(rb.remaining(), 1);
        } else {
            rc.skip(TType::Struct).unwrap();
            assert_eq!(rc.remaining(), 1);
        }
    }
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i8>().prop_map(Value::I8),
        any::<i16>().prop_map(Value::I16),
        any::<i32>().prop_map(Value::I32),
        any::<i64>().prop_map(Value::I64),
        any::<u64>().prop_map(Value::Double),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Binary),
        any::<[u8; 16]>().prop_map(Value::Uuid),
    ]
}

/// Values whose containers are homogeneous, as Thrift requires.
fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec((any::<i16>(), inner.clone()), 0..6).prop_map(|fields| {
                // Field ids are unique within a struct.
                let mut seen = std::collections::HashSet::new();
                Value::Struct(fields.into_iter().filter(|(id, _)| seen.insert(*id)).collect())
            }),
            (inner.clone(), 0..5usize).prop_map(|(v, n)| Value::List(v.ttype(), vec![v; n])),
            (leaf(), inner, 0..4usize).prop_map(|(k, v, n)| {
                let entries = vec![(k.clone(), v.clone()); n];
                if n == 0 {
                    Value::Map(k.ttype(), v.ttype(), vec![])
                } else {
                    Value::Map(k.ttype(), v.ttype(), entries)
                }
            }),
        ]
    })
}

fn normalise_empty_maps(v: Value) -> Value {
    // An empty compact map carries no types: compare those as equal.
    match v {
        Value::Map(_, _, e) if e.is_empty() => Value::Map(TType::I32, TType::I32, vec![]),
        Value::Map(k, t, e) => {
            Value::Map(k, t, e.into_iter().map(|(a, b)| (normalise_empty_maps(a), normalise_empty_maps(b))).collect())
        }
        Value::List(t, items) => Value::List(t, items.into_iter().map(normalise_empty_maps).collect()),
        Value::Struct(f) => Value::Struct(f.into_iter().map(|(i, v)| (i, normalise_empty_maps(v))).collect()),
        other => other,
    }
}

proptest! {
    #[test]
    fn round_trip_binary(v in value()) {
        let bytes = write::<Binary>(&v);
        let back = read::<Binary>(&bytes, v.ttype()).unwrap();
        prop_assert_eq!(normalise_empty_maps(back), normalise_empty_maps(v.clone()));
        let mut r = Reader::<Binary>::new(&bytes);
        r.skip(v.ttype()).unwrap();
        prop_assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn round_trip_compact(v in value()) {
        let bytes = write::<Compact>(&v);
        let back = read::<Compact>(&bytes, v.ttype()).unwrap();
        prop_assert_eq!(normalise_empty_maps(back), normalise_empty_maps(v.clone()));
        let mut r = Reader::<Compact>::new(&bytes);
        r.skip(v.ttype()).unwrap();
        prop_assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256), t in 0usize..11) {
        let types = [TType::Bool, TType::I8, TType::I16, TType::I32, TType::I64, TType::Double, TType::Binary,
                     TType::Struct, TType::List, TType::Map, TType::Uuid];
        let b = Bytes::from(bytes);
        let _ = read::<Binary>(&b, types[t]);
        let _ = read::<Compact>(&b, types[t]);
        let _ = Reader::<Binary>::new(&b).skip(types[t]);
        let _ = Reader::<Compact>::new(&b).skip(types[t]);
        let _ = Reader::<Binary>::new(&b).message_begin();
        let _ = Reader::<Compact>::new(&b).message_begin();
    }

    #[test]
    fn typed_containers_round_trip(v in proptest::collection::vec(any::<i64>(), 0..50),
                                   m in proptest::collection::btree_map(".{0,8}", any::<bool>(), 0..10)) {
        prop_assert_eq!(decode::<Compact, Vec<i64>>(&encode::<Compact, _>(&v)).unwrap(), v.clone());
        prop_assert_eq!(decode::<Binary, Vec<i64>>(&encode::<Binary, _>(&v)).unwrap(), v);
        let m2: std::collections::BTreeMap<String, bool> = m.into_iter().collect();
        prop_assert_eq!(decode::<Compact, std::collections::BTreeMap<String, bool>>(&encode::<Compact, _>(&m2)).unwrap(), m2.clone());
        prop_assert_eq!(decode::<Binary, std::collections::BTreeMap<String, bool>>(&encode::<Binary, _>(&m2)).unwrap(), m2);
    }
}
