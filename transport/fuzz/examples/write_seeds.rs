//! Writes the seed corpus: `corpus/<target>/seed-*`, from sample values of
//! the interop types encoded by our codec, plus truncated and malformed
//! variants. Deterministic (the B-tree types fix container order), so
//! running it again rewrites the same bytes.
//!
//! ```sh
//! cargo run --example write_seeds   # from transport/fuzz/
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use bytes::Bytes;
use mu2sls::codec::{Binary, Compact, Encode, MessageType, Protocol, Writer, encode};
use mu2sls_fuzz::TYPE_NAMES;
use mu2sls_fuzz::btree::interop::*;

fn point(x: i32, y: i32) -> Point {
    Point { x, y }
}

fn scalars() -> Scalars {
    Scalars {
        flag: true,
        octet: -1,
        tiny: 127,
        small: -300,
        medium: 70_000,
        large: i64::MIN,
        real: -0.5,
        text: "héllo, wörld".into(),
        blob: Bytes::from_static(&[0, 0xff, 0x80, 0x7f]),
        color: Color::NEGATIVE,
    }
}

fn shape() -> Shape {
    Shape {
        name: "triangle".into(),
        origin: point(-1, 1),
        vertices: vec![point(0, 0), point(10, 0), point(5, i32::MAX)],
        center: Some(point(5, 3)),
    }
}

fn value() -> Value {
    Value::Items(vec![
        Value::Flag(false),
        Value::Number(-1),
        Value::Text("x".into()),
        Value::Point(point(1, 2)),
        Value::Items(vec![Value::Items(vec![]), Value::Flag(true)]),
        Value::Unknown(None),
    ])
}

fn oops() -> Oops {
    Oops { message: "out of range".into(), code: 404, origin: Some(point(7, 8)) }
}

fn containers() -> Containers {
    Containers {
        ints: vec![1, -2, 300, i32::MIN],
        names: BTreeSet::from(["a".into(), "bb".into()]),
        counts: BTreeMap::from([("x".into(), 1), ("y".into(), -1_000_000_000_000)]),
        points: BTreeMap::from([(1, point(1, 1)), (-5, point(0, -5))]),
        flags: vec![true, false, true],
        path: vec![point(0, 0); 16],
        nested: vec![BTreeMap::from([("k".into(), vec![1, 2])]), BTreeMap::new()],
        deep: BTreeMap::from([("d".into(), BTreeMap::from([(3, BTreeSet::from([1, -1]))]))]),
        colors: BTreeSet::from([Color::RED, Color::LARGEST, Color(99)]),
        blobs: vec![Bytes::new(), Bytes::from_static(b"\x00\x01")],
        reals: vec![0.0, f64::NAN, f64::NEG_INFINITY, 1e300],
        bits: BTreeMap::from([(-128, true), (127, false)]),
        grid: vec![vec![true; 15], vec![]],
        values: vec![Value::Number(9), Value::Unknown(None)],
        errors: vec![oops()],
        truths: BTreeSet::from([false, true]),
    }
}

fn requiredness() -> Requiredness {
    Requiredness {
        req_int: 1,
        req_text: "required".into(),
        opt_int: Some(3),
        opt_text: None,
        opt_flag: Some(false),
        opt_point: Some(point(2, 2)),
        req_point: point(-3, 4),
        ..Requiredness::default()
    }
}

fn sparse() -> Sparse {
    Sparse {
        a: 1,
        b: true,
        c: "twenty".into(),
        d: false,
        e: -36,
        f: true,
        g: 115,
        h: vec![point(3, 0), point(0, 3)],
        i: true,
        j: point(1000, 1000),
        k: -16,
        last: true,
    }
}

fn record_v2() -> RecordV2 {
    RecordV2 {
        id: 12,
        name: "v2".into(),
        origin: point(1, -1),
        extra: vec![BTreeMap::from([("p".into(), point(4, 4))])],
        active: true,
        archived: true,
        level: 3,
        rank: -2,
        stamp: 1 << 40,
        tags: BTreeSet::from(["new".into()]),
        data: Bytes::from_static(b"payload"),
        score: 99.5,
        value: Value::Text("t".into()),
        checks: BTreeMap::from([(1, vec![true, false])]),
        far_flag: true,
        far_real: -1e-9,
        grid: vec![vec![point(0, 1)], vec![]],
    }
}

fn bool_after_struct() -> BoolAfterStruct {
    let inner = Inner { value: 5, inner_flag: true };
    BoolAfterStruct {
        inner: inner.clone(),
        flag: true,
        inners: vec![inner.clone(), Inner { value: -5, inner_flag: false }],
        flag2: false,
        by_id: BTreeMap::from([(1, inner.clone())]),
        flag3: true,
        far: inner,
        flag4: true,
        value: Value::Flag(true),
        flag5: false,
    }
}

fn tree(depth: u32) -> Tree {
    let children = if depth == 0 { vec![] } else { vec![tree(depth - 1), tree(depth - 1)] };
    Tree { value: depth as i32, children }
}

fn chain(depth: i32) -> Chain {
    (0..depth).fold(Chain { depth: 0, next: None }, |next, d| Chain { depth: d + 1, next: Some(Box::new(next)) })
}

fn holder() -> Holder {
    Holder { empty: Empty {}, unset: Value::Unknown(None), empties: vec![Empty {}, Empty {}] }
}

/// The index of `name` in the target's type table: the seed's first byte.
fn selector(name: &str) -> u8 {
    let i = TYPE_NAMES.iter().position(|n| *n == name).unwrap_or_else(|| panic!("no type {name}"));
    u8::try_from(i).expect("fewer than 256 types")
}

/// A message: header, then `body` as the argument struct.
fn message<P: Protocol>(name: &str, kind: MessageType, seq: i32, body: &impl Encode) -> Vec<u8> {
    let mut w = Writer::<P, Vec<u8>>::new(Vec::new());
    w.message_begin(name, kind, seq);
    body.encode(&mut w);
    w.into_inner()
}

struct Seeds<'a> {
    dir: &'a Path,
    count: usize,
}

impl Seeds<'_> {
    fn write(&mut self, name: &str, first: u8, body: &[u8]) {
        let mut bytes = vec![first];
        bytes.extend_from_slice(body);
        std::fs::write(self.dir.join(format!("seed-{name}")), bytes).expect("write seed");
        self.count += 1;
    }
}

/// Seeds for `decode_binary` or `decode_compact`.
fn decode_seeds<P: Protocol>(dir: &Path) -> usize {
    std::fs::create_dir_all(dir).expect("create corpus dir");
    let mut s = Seeds { dir, count: 0 };
    macro_rules! sample {
        ($ty:ident, $value:expr) => {{
            let bytes = encode::<P, _>(&$value);
            s.write(&stringify!($ty).to_lowercase(), selector(stringify!($ty)), &bytes);
            bytes
        }};
    }
    let scalars = sample!(Scalars, scalars());
    sample!(Point, point(i32::MIN, -1));
    sample!(Shape, shape());
    sample!(Value, value());
    sample!(Oops, oops());
    let containers = sample!(Containers, containers());
    sample!(Requiredness, requiredness());
    sample!(Sparse, sparse());
    sample!(RecordV1, RecordV1 { id: 1, name: "v1".into(), active: true, score: 0.25 });
    let v2 = sample!(RecordV2, record_v2());
    let retyped = sample!(RecordRetyped, RecordRetyped { id: "1".into(), name: vec![2], active: 5, score: true });
    sample!(Inner, Inner { value: 1, inner_flag: true });
    sample!(BoolAfterStruct, bool_after_struct());
    sample!(Tree, tree(4));
    sample!(Chain, chain(20));
    sample!(Empty, Empty {});
    sample!(Holder, holder());

    // An old reader skipping every field of a newer or retyped schema.
    s.write("recordv2-as-v1", selector("RecordV1"), &v2);
    s.write("retyped-as-v1", selector("RecordV1"), &retyped);
    // Past the depth limit (64): a chain of 70 structs.
    s.write("chain-too-deep", selector("Chain"), &encode::<P, _>(&chain(70)));
    // Truncated, and the required fields missing.
    s.write("containers-truncated", selector("Containers"), &containers[..containers.len() / 2]);
    s.write("scalars-truncated", selector("Scalars"), &scalars[..scalars.len() - 3]);
    s.write("requiredness-missing", selector("Requiredness"), &encode::<P, _>(&Empty {}));
    // A list field claiming far more elements than there are bytes.
    let mut w = Writer::<P, Vec<u8>>::new(Vec::new());
    w.struct_begin();
    w.field_begin(mu2sls::codec::TType::List, 1);
    w.list_begin(mu2sls::codec::TType::I32, 0x7fff_ffff);
    w.i32(1);
    s.write("huge-list", selector("Containers"), &w.into_inner());
    // Messages, for the header reader (the body is a struct).
    s.write("message-call", selector("Point"), &message::<P>("getShape", MessageType::Call, 7, &shape()));
    s.write("message-oneway", selector("Empty"), &message::<P>("log", MessageType::Oneway, -1, &oops()));
    s.count
}

/// Seeds for `frames`: a split byte, then a stream.
fn frame_seeds(dir: &Path) -> usize {
    std::fs::create_dir_all(dir).expect("create corpus dir");
    let mut s = Seeds { dir, count: 0 };
    let framed = |m: &[u8]| {
        let mut f = (m.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(m);
        f
    };
    let bin_call = message::<Binary>("ping", MessageType::Call, 1, &point(1, 2));
    let bin_reply = message::<Binary>("ping", MessageType::Reply, 1, &oops());
    let compact_call = message::<Compact>("getShape", MessageType::Call, 2, &shape());
    let compact_reply = message::<Compact>("getShape", MessageType::Exception, 2, &oops());

    s.write("binary-framed", 128, &[framed(&bin_call), framed(&bin_reply)].concat());
    s.write("compact-framed", 40, &[framed(&compact_call), framed(&compact_reply)].concat());
    s.write("binary-buffered", 100, &[bin_call.clone(), bin_reply.clone()].concat());
    s.write("compact-buffered", 200, &[compact_call.clone(), compact_reply].concat());
    // A whole message, then half of the next one.
    s.write("binary-buffered-partial", 255, &[&bin_call[..], &bin_call[..bin_call.len() / 2]].concat());
    // Apache's old non-strict binary header: name length, name, type byte.
    let mut old = 4i32.to_be_bytes().to_vec();
    old.extend_from_slice(b"ping\x01\x00\x00\x00\x09\x00");
    s.write("binary-nonstrict", 0, &old);
    // A frame length over the limit, and one of zero.
    s.write("framed-too-large", 10, &[0x00, 0x00, 0x10, 0x01, 0x80, 0x01, 0x00, 0x01]);
    s.write("framed-empty", 10, &[0, 0, 0, 0, 0, 0, 0, 0]);
    // A buffered binary message whose header names a bad version.
    s.write("binary-bad-version", 77, &[0x80, 0x02, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    s.count
}

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let n = decode_seeds::<Binary>(&corpus.join("decode_binary"))
        + decode_seeds::<Compact>(&corpus.join("decode_compact"))
        + frame_seeds(&corpus.join("frames"));
    // An example is a binary: printing is its interface.
    #[allow(clippy::print_stdout)]
    {
        println!("wrote {n} seeds under {}", corpus.display());
    }
}
