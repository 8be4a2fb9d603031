//! The sample values every peer writes and reads. Each has a twin of the
//! same name in `tests/py/interop.py`; the Python tests check that the two
//! lists name the same samples.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;

use bytes::Bytes;
use mu2sls::codec::{Decode, Encode};

use super::Proto;
use super::generated::interop as idl;
use super::wire::{AsWire, Wire};

/// Our encoding of a value, in the protocol asked for.
type Encoder = Box<dyn Fn(Proto) -> Bytes>;
/// Decodes bytes with our codec and compares the value with the expected
/// one.
type Checker = Box<dyn Fn(Proto, &Bytes) -> Result<(), String>>;

/// A value written by one side and read by the other.
pub(super) struct Sample {
    pub(super) name: &'static str,
    /// Whether every correct writer gives the same bytes: no set or map
    /// with two or more elements (whose order is the writer's choice), and
    /// the same fields on the wire.
    pub(super) canonical: bool,
    /// The written value as a wire tree.
    pub(super) written: Wire,
    /// Our encoding of the written value; `None` when our types cannot
    /// express it (a value with default-requiredness fields off the wire).
    encode: Option<Encoder>,
    /// Our encoding of the expected value.
    encode_expected: Encoder,
    /// Decodes bytes as the read type and compares with the expected value.
    check: Checker,
}

impl Sample {
    /// Our encoding of the written value, if our types can express it.
    pub(super) fn encode(&self, proto: Proto) -> Option<Bytes> {
        self.encode.as_ref().map(|encode| encode(proto))
    }

    /// Our encoding of the value the reader should get.
    pub(super) fn encode_expected(&self, proto: Proto) -> Bytes {
        (self.encode_expected)(proto)
    }

    /// Decodes `bytes` with our codec (all of them) and compares the value
    /// with the expected one.
    pub(super) fn check(&self, proto: Proto, bytes: &Bytes) -> Result<(), String> {
        (self.check)(proto, bytes)
    }
}

/// What a sample's types need.
pub(super) trait SampleType: Encode + Decode + AsWire + PartialEq + Debug + 'static {}

impl<T: Encode + Decode + AsWire + PartialEq + Debug + 'static> SampleType for T {}

/// Written and read as the same type.
fn same<T: SampleType + Clone>(name: &'static str, canonical: bool, value: T) -> Sample {
    projected(name, canonical, value.clone(), value)
}

/// Written as `W`, read as `R` (another version of the schema).
fn projected<W: SampleType, R: SampleType>(name: &'static str, canonical: bool, written: W, expected: R) -> Sample {
    let tree = written.as_wire();
    let mut sample = peer_written(name, tree, expected);
    sample.canonical = canonical;
    sample.encode = Some(Box::new(move |proto| proto.encode(&written)));
    sample
}

/// Written only by peers (as the tree `written`), read as `R`.
fn peer_written<R: SampleType>(name: &'static str, written: Wire, expected: R) -> Sample {
    let expected = std::rc::Rc::new(expected);
    let for_encode = expected.clone();
    Sample {
        name,
        canonical: false,
        written,
        encode: None,
        encode_expected: Box::new(move |proto| proto.encode(&*for_encode)),
        check: Box::new(move |proto, bytes| {
            let decoded: R = proto.decode_all(bytes)?;
            compare(&decoded, &expected)
        }),
    }
}

/// Equal as wire trees (doubles by bits) and, unless a NaN makes
/// `PartialEq` useless, as values.
pub(super) fn compare<T: AsWire + PartialEq + Debug>(got: &T, want: &T) -> Result<(), String> {
    let want_tree = want.as_wire();
    if got.as_wire() != want_tree || (!want_tree.has_nan() && got != want) {
        return Err(format!("decoded\n  {}\nexpected\n  {}", brief(got), brief(want)));
    }
    Ok(())
}

/// A value's `Debug` text, cut short (a sample holds a 1 MiB binary).
pub(super) fn brief(value: &impl Debug) -> String {
    let text = format!("{value:?}");
    match text.char_indices().nth(1500) {
        Some((cut, _)) => format!("{}... ({} chars)", &text[..cut], text.len()),
        None => text,
    }
}

/// Multi-byte UTF-8 of every length, an emoji with a modifier, and a NUL.
const UNICODE: &str = "h\u{e9}llo w\u{f6}rld \u{b7} \u{395}\u{3bb}\u{3bb}\u{3b7}\u{3bd}\u{3b9}\u{3ba}\u{3ac} \u{b7} \
                       \u{65e5}\u{672c}\u{8a9e} \u{b7} \u{1f980}\u{1f44d}\u{1f3fd} \u{b7} nul\u{0}end";

fn nan() -> f64 {
    f64::from_bits(0x7ff8_0000_0000_0000)
}

/// A negative quiet NaN with a payload: bits must survive, not just
/// NaN-ness.
fn nan_payload() -> f64 {
    f64::from_bits(0xfff8_0000_0000_0001)
}

fn big_blob() -> Bytes {
    (0..1usize << 20).map(|i| ((i * 31 + 7) % 256) as u8).collect()
}

fn point(x: i32, y: i32) -> idl::Point {
    idl::Point { x, y }
}

fn text(s: &str) -> String {
    s.to_owned()
}

#[allow(clippy::too_many_arguments, reason = "one argument per field of Scalars, as in interop.py")]
fn scalars(
    flag: bool,
    octet: i8,
    tiny: i8,
    small: i16,
    medium: i32,
    large: i64,
    real: f64,
    text: &str,
    blob: impl Into<Bytes>,
    color: idl::Color,
) -> idl::Scalars {
    idl::Scalars { flag, octet, tiny, small, medium, large, real, text: text.to_owned(), blob: blob.into(), color }
}

fn containers() -> idl::Containers {
    idl::Containers::default()
}

fn set<T: Eq + std::hash::Hash, const N: usize>(items: [T; N]) -> HashSet<T> {
    HashSet::from(items)
}

fn map<K: Eq + std::hash::Hash, V, const N: usize>(entries: [(K, V); N]) -> HashMap<K, V> {
    HashMap::from(entries)
}

fn oops(message: &str, code: i32, origin: Option<idl::Point>) -> idl::Oops {
    idl::Oops { message: message.to_owned(), code, origin }
}

fn record_v2(active: bool, archived: bool, far_flag: bool) -> idl::RecordV2 {
    idl::RecordV2 {
        id: 7,
        name: text("seven"),
        origin: point(1, 2),
        extra: vec![map([(text("p"), point(3, 4))])],
        active,
        archived,
        level: -1,
        rank: -2,
        stamp: -3,
        tags: set([text("t")]),
        // Valid UTF-8 on purpose: see `record_v2` in interop.py.
        data: Bytes::from_static(b"\x00\x7f"),
        score: 0.5,
        value: idl::Value::Items(vec![idl::Value::Point(point(5, 6))]),
        checks: map([(1, vec![true, false])]),
        far_flag,
        far_real: -1.5,
        grid: vec![vec![point(7, 8)], vec![]],
    }
}

fn inner(value: i32, inner_flag: bool) -> idl::Inner {
    idl::Inner { value, inner_flag }
}

fn bool_after_struct(b: bool) -> idl::BoolAfterStruct {
    idl::BoolAfterStruct {
        inner: inner(5, b),
        flag: b,
        inners: vec![inner(1, !b), inner(2, b)],
        flag2: !b,
        by_id: map([(9, inner(9, b))]),
        flag3: b,
        far: inner(-1, !b),
        flag4: !b,
        value: idl::Value::Point(point(1, 1)),
        flag5: b,
    }
}

fn tree(depth: i32) -> idl::Tree {
    let children =
        if depth > 1 { vec![tree(depth - 1), idl::Tree { value: -depth, children: vec![] }] } else { vec![] };
    idl::Tree { value: depth, children }
}

/// Structs nested `last - depth + 1` deep.
pub(super) fn chain(depth: i32, last: i32) -> idl::Chain {
    idl::Chain { depth, next: (depth < last).then(|| Box::new(chain(depth + 1, last))) }
}

/// Every sample, in the order of `interop.py`.
pub(super) fn all() -> Vec<Sample> {
    use idl::Color;
    use idl::Value as V;
    let c = containers;
    vec![
        same("scalars_zero", true, scalars(false, 0, 0, 0, 0, 0, 0.0, "", &b""[..], Color::RED)),
        same(
            "scalars_min",
            true,
            scalars(
                false,
                i8::MIN,
                i8::MIN,
                i16::MIN,
                i32::MIN,
                i64::MIN,
                f64::NEG_INFINITY,
                "",
                &b"\x00"[..],
                Color::NEGATIVE,
            ),
        ),
        same(
            "scalars_max",
            true,
            scalars(
                true,
                i8::MAX,
                i8::MAX,
                i16::MAX,
                i32::MAX,
                i64::MAX,
                f64::INFINITY,
                "max",
                &b"\xff\xff\xff"[..],
                Color::LARGEST,
            ),
        ),
        same(
            "scalars_negative",
            true,
            scalars(
                true,
                -1,
                -2,
                -300,
                -70000,
                -5_000_000_000,
                -0.0,
                UNICODE,
                (0..=255).collect::<Vec<u8>>(),
                Color(99),
            ),
        ),
        same(
            "scalars_varint_edges",
            true,
            scalars(false, 63, -64, -8193, 1 << 27, -(1 << 62), 5e-324, &"a".repeat(127), vec![b'b'; 128], Color::BLUE),
        ),
        same("scalars_nan", true, scalars(false, 1, 2, 3, 4, 5, nan(), "nan", &b""[..], Color::GREEN)),
        same("scalars_nan_payload", true, scalars(true, 1, 2, 3, 4, 5, nan_payload(), "", &b""[..], Color::GREEN)),
        same(
            "scalars_big",
            true,
            scalars(true, 0x55, -0x56, 1, 2, 3, f64::MAX, &UNICODE.repeat(500), big_blob(), Color::BLUE),
        ),
        same("containers_empty", true, c()),
        same(
            "containers_one",
            true,
            idl::Containers {
                ints: vec![7],
                names: set([text("a")]),
                counts: map([(text("k"), -1)]),
                points: map([(3, point(1, 2))]),
                flags: vec![true],
                path: vec![point(0, 0)],
                nested: vec![map([(text("m"), vec![1])])],
                deep: map([(text("d"), map([(1, set([2]))]))]),
                colors: set([Color::BLUE]),
                blobs: vec![Bytes::from_static(b"\x00\x01")],
                reals: vec![-0.0],
                bits: map([(-1, false)]),
                grid: vec![vec![false]],
                values: vec![V::Flag(false)],
                errors: vec![oops("e", 1, None)],
                truths: set([true]),
            },
        ),
        same(
            "containers_many",
            false,
            idl::Containers {
                ints: [i32::MIN, i32::MAX].into_iter().chain(-9..9).collect(),
                names: set([text("a"), text("b\u{e9}"), text("\u{1f980}")]),
                counts: map([(text("x"), 1), (text("y"), i64::MIN), (text("z"), i64::MAX)]),
                points: map([(-1, point(1, 1)), (i32::MAX, point(-5, 5))]),
                flags: (0..20).map(|i| i % 3 == 0).collect(),
                path: (0..14).map(|i| point(i, -i)).collect(),
                nested: vec![map([(text("a"), vec![1, 2]), (text("b"), vec![])]), map([])],
                deep: map([(text("x"), map([(1, set([1, 2, 3])), (-1, set([]))])), (text("y"), map([]))]),
                colors: set([Color::RED, Color::NEGATIVE, Color(99)]),
                blobs: vec![Bytes::new(), Bytes::from_static(b"abc"), Bytes::from(vec![0; 300])],
                reals: vec![1.5, -2.25, f64::INFINITY, f64::NEG_INFINITY, 5e-324, f64::MAX],
                bits: map([(-128, true), (0, false), (127, true)]),
                grid: vec![vec![], vec![true, false, true], vec![false; 15]],
                values: vec![
                    V::Flag(true),
                    V::Number(-1),
                    V::Text(text("v")),
                    V::Point(point(2, 3)),
                    V::Items(vec![V::Number(1), V::Items(vec![])]),
                ],
                errors: vec![oops("a", -1, Some(point(1, 1))), oops("", 0, None)],
                truths: set([true, false]),
            },
        ),
        // Lists of 14 and 15 elements: the longest short and the shortest
        // long compact list header.
        same(
            "containers_lists",
            true,
            idl::Containers {
                ints: (-7..7).collect(),
                flags: (0..15).map(|i| i % 2 == 0).collect(),
                path: (0..15).map(|i| point(i, i)).collect(),
                blobs: vec![Bytes::from_static(b"x"); 14],
                reals: (-7..8).map(|i| f64::from(i) / 4.0).collect(),
                grid: vec![vec![true; 14], vec![false; 15]],
                values: (0..15).map(V::Number).collect(),
                ..c()
            },
        ),
        same("containers_nan", true, idl::Containers { reals: vec![nan(), nan_payload(), -0.0, 0.0], ..c() }),
        same(
            "shape",
            true,
            idl::Shape {
                name: text("triangle \u{25b2}"),
                origin: point(0, 0),
                vertices: vec![point(0, 0), point(4, 0), point(0, 3)],
                center: Some(point(1, 1)),
            },
        ),
        same(
            "shape_no_center",
            true,
            idl::Shape { name: text(""), origin: point(-1, -1), vertices: vec![], center: None },
        ),
        same("union_flag", true, V::Flag(false)),
        same("union_number", true, V::Number(i64::MIN)),
        same("union_text", true, V::Text(text(UNICODE))),
        same("union_point", true, V::Point(point(-1, 1))),
        same(
            "union_items",
            true,
            V::Items(vec![V::Number(1), V::Items(vec![V::Text(text("deep")), V::Items(vec![])]), V::Flag(true)]),
        ),
        same("union_empty", true, V::Unknown(None)),
        same("oops", true, oops(UNICODE, -1, Some(point(5, 5)))),
        same("oops_no_origin", true, oops("", i32::MAX, None)),
        same(
            "requiredness_full",
            true,
            idl::Requiredness {
                req_int: -1,
                req_text: text("r"),
                opt_int: Some(0),
                opt_text: Some(text("")),
                def_int: 0,
                def_text: text(""),
                opt_flag: Some(false),
                def_list: vec![],
                def_color: Color::NEGATIVE,
                def_real: -0.0,
                opt_point: Some(point(0, 0)),
                req_point: point(1, 2),
            },
        ),
        same(
            "requiredness_minimal",
            true,
            idl::Requiredness { req_int: 1, req_text: text("x"), req_point: point(3, 4), ..Default::default() },
        ),
        // Only the required fields on the wire: we fill in the IDL defaults
        // and leave optional fields unset, opt_flag included.
        peer_written(
            "requiredness_absent",
            Wire::Struct(vec![(1, Wire::I32(1)), (2, Wire::Binary(b"x".to_vec())), (12, point(3, 4).as_wire())]),
            idl::Requiredness {
                req_int: 1,
                req_text: text("x"),
                opt_int: None,
                opt_text: None,
                def_int: 42,
                def_text: text("hello"),
                opt_flag: None,
                def_list: vec![1, 2, 3],
                def_color: Color::GREEN,
                def_real: 2.5,
                opt_point: None,
                req_point: point(3, 4),
            },
        ),
        same(
            "sparse",
            true,
            idl::Sparse {
                a: 1,
                b: true,
                c: text("twenty"),
                d: false,
                e: -36,
                f: true,
                g: 1 << 40,
                h: vec![point(1, 1)],
                i: false,
                j: point(-1, -1),
                k: -16,
                last: true,
            },
        ),
        same("sparse_defaults", true, idl::Sparse::default()),
        projected(
            "record_v2_as_v1",
            true,
            record_v2(true, true, false),
            idl::RecordV1 { id: 7, name: text("seven"), active: true, score: 0.5 },
        ),
        projected(
            "record_v2_as_v1_flipped",
            true,
            record_v2(false, false, true),
            idl::RecordV1 { id: 7, name: text("seven"), active: false, score: 0.5 },
        ),
        // An old writer, a new reader: the fields it does not send keep
        // their defaults (Python leaves them None, so its bytes differ).
        projected(
            "record_v1_as_v2",
            false,
            idl::RecordV1 { id: 1, name: text("one"), active: true, score: 2.0 },
            idl::RecordV2 { id: 1, name: text("one"), active: true, score: 2.0, ..Default::default() },
        ),
        // Known ids with other wire types are skipped, a compact bool field
        // where a double is expected included (Python leaves the fields
        // None, so its bytes differ).
        projected(
            "record_retyped_as_v1",
            false,
            idl::RecordRetyped { id: text("7"), name: vec![1, 2], active: 1, score: true },
            idl::RecordV1::default(),
        ),
        same("bool_after_struct", true, bool_after_struct(true)),
        same("bool_after_struct_flipped", true, bool_after_struct(false)),
        same("tree_deep", true, tree(20)),
        same("chain_64", true, chain(1, 64)),
        same(
            "holder",
            true,
            idl::Holder { empty: idl::Empty {}, unset: V::Unknown(None), empties: vec![idl::Empty {}, idl::Empty {}] },
        ),
        same("empty", true, idl::Empty {}),
    ]
}
