//! Differential tests of our codec (`mu2sls::codec`, with the types
//! `thrift_gen::Builder` generates from `tests/idl/interop.thrift`) against
//! two independent implementations of the same wire formats, in both
//! protocols and both directions:
//!
//! - Apache's Python library (Debian's `python3-thrift` 0.17), pure Python
//!   and C-accelerated, driven through `tests/py/interop.py`;
//! - Apache's Rust crate `thrift` 0.25, through a schema-free walker over
//!   its protocol traits (`apache_crate.rs`).
//!
//! Every sample (`samples.rs`, twinned in `interop.py`) is checked for: a
//! peer's bytes decode with our codec into the expected value, consuming
//! every byte; our bytes decode in the peer into the expected value; and,
//! where the encoding is canonical, our bytes equal the peer's.

mod apache_crate;
mod python;
mod samples;
mod wire;

use std::collections::BTreeSet;

use bytes::Bytes;
use mu2sls::codec::{Binary, Compact, Decode, DecodeErrorKind, Encode, Protocol, Reader, encode};

use samples::{Sample, brief};
use wire::AsWire;

/// The types generated from `tests/idl/interop.thrift` by `build.rs`.
mod generated {
    include!(concat!(env!("OUT_DIR"), "/mod.rs"));
}

/// Our two protocols, as a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proto {
    Binary,
    Compact,
}

impl Proto {
    /// As `interop.py` names it.
    fn name(self) -> &'static str {
        match self {
            Proto::Binary => "binary",
            Proto::Compact => "compact",
        }
    }

    fn encode<T: Encode>(self, value: &T) -> Bytes {
        match self {
            Proto::Binary => encode::<Binary, T>(value),
            Proto::Compact => encode::<Compact, T>(value),
        }
    }

    /// Decodes with our codec, which must consume every byte.
    fn decode_all<T: Decode>(self, bytes: &Bytes) -> Result<T, String> {
        fn run<P: Protocol, T: Decode>(bytes: &Bytes) -> Result<T, String> {
            let mut reader = Reader::<P>::new(bytes);
            let value = T::decode(&mut reader).map_err(|e| format!("our decoder failed: {e}"))?;
            match reader.remaining() {
                0 => Ok(value),
                n => Err(format!("our decoder left {n} of {} bytes unread", bytes.len())),
            }
        }
        match self {
            Proto::Binary => run::<Binary, T>(bytes),
            Proto::Compact => run::<Compact, T>(bytes),
        }
    }
}

/// Collects every mismatch so that one run reports all of them.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    fn check(&mut self, what: impl FnOnce() -> String, result: Result<(), String>) {
        if let Err(e) = result {
            self.0.push(format!("{}: {e}", what()));
        }
    }

    fn same_bytes(&mut self, what: impl FnOnce() -> String, ours: &[u8], theirs: &[u8]) {
        if ours != theirs {
            self.0.push(format!("{}: bytes differ\n  ours   {}\n  theirs {}", what(), hex(ours), hex(theirs)));
        }
    }

    fn assert_none(self, peer: &str) {
        assert!(self.0.is_empty(), "{} mismatches with {peer}:\n\n{}", self.0.len(), self.0.join("\n\n"));
    }
}

/// Hex, cut short after 160 bytes.
fn hex(bytes: &[u8]) -> String {
    let shown: String = bytes.iter().take(160).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > 160 { format!("{shown}... ({} bytes)", bytes.len()) } else { shown }
}

// ---- Apache's Rust crate -------------------------------------------------

/// Our bytes, read by the crate, give the tree of the written value.
fn crate_reads_ours(proto: Proto) {
    let mut failures = Failures::default();
    for sample in samples::all() {
        let Some(ours) = sample.encode(proto) else { continue };
        let what = || format!("{} ({}, ours -> crate)", sample.name, proto.name());
        let result = match apache_crate::read(proto, &ours) {
            Err(e) => Err(format!("the crate cannot read our bytes: {e}; ours {}", hex(&ours))),
            Ok((_, unread @ 1..)) => Err(format!("the crate left {unread} bytes unread")),
            Ok((tree, 0)) if tree != sample.written => {
                Err(format!("the crate read\n  {}\nwe wrote\n  {}", brief(&tree), brief(&sample.written)))
            }
            Ok(_) => Ok(()),
        };
        failures.check(what, result);
    }
    failures.assert_none("the thrift crate");
}

/// The crate's bytes decode with our codec into the expected value, and
/// equal ours where the encoding is canonical.
fn crate_writes_we_read(proto: Proto) {
    let mut failures = Failures::default();
    for sample in samples::all() {
        let what = || format!("{} ({}, crate -> ours)", sample.name, proto.name());
        let theirs = match apache_crate::write(proto, &sample.written) {
            Ok(bytes) => Bytes::from(bytes),
            Err(e) => {
                failures.check(what, Err(format!("the crate cannot write it: {e}")));
                continue;
            }
        };
        failures.check(what, sample.check(proto, &theirs));
        let canonical =
            sample.canonical && (proto == Proto::Binary || apache_crate::compact_is_canonical(&sample.written));
        if let Some(ours) = sample.encode(proto).filter(|_| canonical) {
            failures.same_bytes(what, &ours, &theirs);
        }
    }
    failures.assert_none("the thrift crate");
}

#[test]
fn apache_crate_reads_our_binary() {
    crate_reads_ours(Proto::Binary);
}

#[test]
fn apache_crate_reads_our_compact() {
    crate_reads_ours(Proto::Compact);
}

#[test]
fn apache_crate_writes_binary_we_read() {
    crate_writes_we_read(Proto::Binary);
}

#[test]
fn apache_crate_writes_compact_we_read() {
    crate_writes_we_read(Proto::Compact);
}

/// The limit of 64 nested structs and containers: 64 structs deep decode,
/// 65 do not, in our codec and in the crate alike.
#[test]
fn nesting_limit_agrees_with_the_crate() {
    use generated::interop::Chain;
    use mu2sls::codec::decode;
    use thrift::{Error, ProtocolErrorKind};

    for proto in [Proto::Binary, Proto::Compact] {
        let at_limit = proto.encode(&samples::chain(1, 64));
        assert_eq!(proto.decode_all::<Chain>(&at_limit), Ok(samples::chain(1, 64)), "{proto:?}");
        assert!(apache_crate::read(proto, &at_limit).is_ok(), "{proto:?}");

        let over = proto.encode(&samples::chain(0, 64));
        let ours = match proto {
            Proto::Binary => decode::<Binary, Chain>(&over),
            Proto::Compact => decode::<Compact, Chain>(&over),
        };
        assert_eq!(ours.map_err(|e| e.kind().clone()), Err(DecodeErrorKind::DepthLimit(64)), "{proto:?}");
        match apache_crate::read(proto, &over) {
            Err(Error::Protocol(e)) if e.kind == ProtocolErrorKind::DepthLimit => {}
            other => panic!("{proto:?}: the crate read 65 nested structs: {other:?}"),
        }
    }
}

/// Compact containers with nothing in them, byte by byte: a list or set
/// keeps its element type (bool as 1), a map is the single byte 0.
#[test]
fn compact_empty_containers_have_the_specified_bytes() {
    let expected: &[u8] = &[
        0x19, 0x05, // 1: list<i32>
        0x1a, 0x08, // 2: set<string>
        0x1b, 0x00, // 3: map<string, i64>
        0x1b, 0x00, // 4: map<i32, Point>
        0x19, 0x01, // 5: list<bool>
        0x19, 0x0c, // 6: list<Point>
        0x19, 0x0b, // 7: list<map<...>>
        0x1b, 0x00, // 8: map<string, map<...>>
        0x1a, 0x05, // 9: set<Color>
        0x19, 0x08, // 10: list<binary>
        0x19, 0x07, // 11: list<double>
        0x1b, 0x00, // 12: map<i8, bool>
        0x19, 0x09, // 13: list<list<bool>>
        0x19, 0x0c, // 14: list<Value>
        0x19, 0x0c, // 15: list<Oops>
        0x1a, 0x01, // 16: set<bool>
        0x00, // stop
    ];
    let empty = generated::interop::Containers::default();
    assert_eq!(hex(&encode::<Compact, _>(&empty)), hex(expected), "ours");
    let theirs = apache_crate::write(Proto::Compact, &empty.as_wire()).expect("the crate writes it");
    assert_eq!(hex(&theirs), hex(expected), "the thrift crate");
}

/// Compact field headers, byte by byte: one byte for an id 1 to 15 above
/// the previous one (15 included), else the type and the zigzag id; a bool
/// field's value is its type nibble (2 for false).
#[test]
fn compact_field_headers_have_the_specified_bytes() {
    let expected: &[u8] = &[
        0x15, 0x00, // 1: i32, delta 1
        0x12, // 2: bool false, delta 1
        0x08, 0x28, 0x00, // 20: string, long header (zigzag 20 = 0x28), empty
        0x12, // 21: bool false, delta 1
        0xf4, 0x00, // 36: i16, delta 15
        0x02, 0xc8, 0x01, // 100: bool false, long header (zigzag 100 = 200)
        0xf6, 0x00, // 115: i64, delta 15
        0x09, 0xd8, 0x04, 0x0c, // 300: list<Point>, long header (zigzag 600), empty
        0x12, // 301: bool false, delta 1
        0x0c, 0xd0, 0x0f, // 1000: Point, long header (zigzag 2000)
        0x15, 0x00, 0x15, 0x00, 0x00, // {1: 0, 2: 0}: ids restart at 0 inside
        0x03, 0xf0, 0x0f, 0x00, // 1016: i8, delta 16 so long header, after the struct
        0x02, 0xfe, 0xff, 0x03, // 32767: bool false, long header (zigzag 65534)
        0x00, // stop
    ];
    let sparse = generated::interop::Sparse::default();
    assert_eq!(hex(&encode::<Compact, _>(&sparse)), hex(expected));
}

// ---- Apache's Python library ---------------------------------------------

/// The sample names of both lists must agree, so neither side's twin can
/// go missing unnoticed.
fn assert_same_names(samples: &[Sample], python_names: BTreeSet<&str>) {
    let ours: BTreeSet<&str> = samples.iter().map(|s| s.name).collect();
    assert_eq!(ours, python_names, "samples.rs and interop.py list different samples");
}

/// Python's bytes (pure and accelerated agree) decode with our codec into
/// the expected value, and equal ours where the encoding is canonical.
fn python_writes_we_read(proto: Proto) {
    let Some(python) = python::Python::setup() else { return };
    let written = python.write_all();
    let samples = samples::all();
    let names = written.keys().filter_map(|stem| stem.split('.').next()).collect();
    assert_same_names(&samples, names);

    let mut failures = Failures::default();
    for sample in &samples {
        let file = |implementation: &str| {
            let stem = format!("{}.{}.{implementation}", sample.name, proto.name());
            Bytes::from(written.get(&stem).unwrap_or_else(|| panic!("interop.py wrote no {stem}")).clone())
        };
        let (pure, accel) = (file("pure"), file("accel"));
        let what = |who: &str| format!("{} ({}, Python {who} -> ours)", sample.name, proto.name());
        failures.same_bytes(|| what("pure vs accel"), &pure, &accel);
        failures.check(|| what("pure"), sample.check(proto, &pure));
        failures.check(|| what("accel"), sample.check(proto, &accel));
        if let Some(ours) = sample.encode(proto).filter(|_| sample.canonical) {
            failures.same_bytes(|| what("pure"), &ours, &pure);
        }
    }
    failures.assert_none("Apache Python");
}

/// Our bytes decode in Python (pure and accelerated) into the expected
/// value; what Python writes back decodes with our codec into it too and,
/// where the encoding is canonical, equals ours.
fn we_write_python_reads(proto: Proto) {
    let Some(python) = python::Python::setup() else { return };
    let samples = samples::all();
    let inputs: Vec<(&str, Vec<u8>)> =
        samples.iter().filter_map(|s| Some((s.name, s.encode(proto)?.to_vec()))).collect();
    let (checked, rewritten) = python.read(proto, &inputs);

    let mut failures = Failures::default();
    failures.check(|| format!("Python decoding our {} bytes", proto.name()), checked);
    for sample in samples.iter().filter(|s| s.encode(proto).is_some()) {
        let expected = sample.encode_expected(proto);
        for implementation in ["pure", "accel"] {
            let what = || format!("{} ({}, ours -> Python {implementation} -> ours)", sample.name, proto.name());
            let Some(again) = rewritten.get(&format!("{}.{implementation}", sample.name)) else {
                failures.check(what, Err("Python wrote nothing back".to_owned()));
                continue;
            };
            failures.check(what, sample.check(proto, &Bytes::from(again.clone())));
            if sample.canonical {
                failures.same_bytes(what, &expected, again);
            }
        }
    }
    failures.assert_none("Apache Python");
}

#[test]
fn python_writes_binary_we_read() {
    python_writes_we_read(Proto::Binary);
}

#[test]
fn python_writes_compact_we_read() {
    python_writes_we_read(Proto::Compact);
}

#[test]
fn we_write_binary_python_reads() {
    we_write_python_reads(Proto::Binary);
}

#[test]
fn we_write_compact_python_reads() {
    we_write_python_reads(Proto::Compact);
}
