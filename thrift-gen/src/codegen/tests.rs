//! Golden tests of generated code: each directory under
//! `test_data/codegen/` holds `input.thrift` (plus the files it includes)
//! and `expected/`, the files `generate` writes for it with `-r`.
//! `UPDATE_EXPECT=1 cargo test -p thrift-gen` rewrites `expected/`.
//! The expected files are also compiled, by the `compiled` module below.

use std::path::{Path, PathBuf};

use crate::{FsLoader, Options, generate};

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/codegen");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("input.thrift").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// `-r`, plus the generator options listed in the case's `options` file
/// (one `--gen rust:` option per line), if it has one.
fn case_options(case: &Path) -> Options {
    let mut options = Options { recurse: true, ..Options::default() };
    if let Ok(text) = std::fs::read_to_string(case.join("options")) {
        for opt in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            options.rust.set(opt).unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        }
    }
    options
}

#[test]
fn generated_code_matches_the_goldens() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let cases = cases();
    assert!(cases.len() >= 2, "golden cases missing");
    let mut failures = Vec::new();
    for case in cases {
        let options = case_options(&case);
        let out = generate(&FsLoader, &[case.join("input.thrift")], &options);
        assert!(!out.diagnostics.has_errors(), "{}:\n{}", case.display(), out.render_diagnostics(true, false));
        let expected_dir = case.join("expected");
        if update {
            let _ = std::fs::remove_dir_all(&expected_dir);
            crate::write_files(&expected_dir, &out.files).expect("write goldens");
            continue;
        }
        let mut expected: Vec<String> = std::fs::read_dir(&expected_dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned())).collect())
            .unwrap_or_default();
        expected.sort();
        let mut actual: Vec<String> = out.files.iter().map(|f| f.path.display().to_string()).collect();
        actual.sort();
        if expected != actual {
            failures.push(format!("{}: files {actual:?}, expected {expected:?}", case.display()));
            continue;
        }
        for f in &out.files {
            let want = std::fs::read_to_string(expected_dir.join(&f.path)).unwrap_or_default();
            if want != f.contents {
                failures.push(format!("{}: {} differs from the golden", case.display(), f.path.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{}\n(run with UPDATE_EXPECT=1 to accept the new output)", failures.join("\n"));
}

#[test]
fn generation_is_deterministic() {
    for case in cases() {
        let options = case_options(&case);
        let a = generate(&FsLoader, &[case.join("input.thrift")], &options);
        let b = generate(&FsLoader, &[case.join("input.thrift")], &options);
        assert_eq!(a.files, b.files, "{}", case.display());
    }
}

/// The goldens are exactly what `rustfmt --edition 2024` (default
/// configuration, `max_width` 100) makes of them: the generator writes
/// rustfmt's layout itself. Runs where `rustfmt` is on PATH (it is in CI).
#[test]
#[allow(clippy::print_stderr)] // a skip is said out loud
fn goldens_are_rustfmt_clean() {
    use std::process::Command;

    if Command::new("rustfmt").arg("--version").output().is_err() {
        eprintln!("rustfmt is not on PATH: goldens_are_rustfmt_clean checks nothing");
        return;
    }
    let mut failures = Vec::new();
    for case in cases() {
        // Outside the repository, so its rustfmt.toml does not apply.
        let dir = tempfile::tempdir().expect("temp dir");
        let mut files = Vec::new();
        for entry in std::fs::read_dir(case.join("expected")).expect("expected/") {
            let path = entry.expect("dir entry").path();
            let name = path.file_name().expect("file name").to_owned();
            std::fs::copy(&path, dir.path().join(&name)).expect("copy golden");
            files.push(name);
        }
        files.sort();
        let out = Command::new("rustfmt")
            .args(["--edition", "2024", "--check", "--color", "never"])
            .args(&files)
            .current_dir(dir.path())
            .output()
            .expect("run rustfmt");
        if !out.status.success() {
            failures.push(format!(
                "{}:\n{}{}",
                case.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "generated code is not rustfmt-clean:\n{}", failures.join("\n"));
}

// The goldens compile, against the real runtime crate.
#[path = "../../test_data/codegen/0001_enums_and_consts/expected/mod.rs"]
mod case_0001;
#[path = "../../test_data/codegen/0002_includes_and_namespaces/expected/mod.rs"]
mod case_0002;
#[path = "../../test_data/codegen/0003_structs_unions_exceptions/expected/mod.rs"]
mod case_0003;
#[path = "../../test_data/codegen/0004_btree_apache_compat/expected/mod.rs"]
mod case_0004;
#[path = "../../test_data/codegen/0005_services/expected/mod.rs"]
mod case_0005;
#[path = "../../test_data/codegen/0006_exactly_once/expected/mod.rs"]
mod case_0006;

#[test]
fn generated_values_are_the_idl_values() {
    use case_0001::consts_demo as c;
    assert_eq!(c::Color::VALUES.iter().map(|v| v.0).collect::<Vec<_>>(), [1, 2, 16, -3, -2]);
    assert_eq!(c::Color::default(), c::Color::RED);
    assert_eq!(c::Empty::VALUES.len(), 0);
    assert_eq!(c::Match::SELF.0, 0);
    assert_eq!(c::Match::TYPE.0, 7);
    assert_eq!(c::Match::GEN.0, 8);
    assert_eq!(c::Match::GEN.name(), Some("gen"));
    assert_eq!((c::YES, c::ON), (true, true));
    assert_eq!((c::SMALL, c::MEDIUM, c::LARGE, c::HUGE), (i8::MIN, i16::MAX, i32::MIN, i64::MIN));
    assert_eq!(c::RATIO, 0.0025);
    assert_eq!(c::WIDENED, 3.0);
    assert_eq!(c::GREETING, "tab\there \"quoted\" ünïcode");
    assert_eq!(c::MAGIC, b"\n\r");
    assert_eq!(c::LATER, 0);
    assert_eq!(c::FAVOURITE, c::Color::BLUE);
    assert_eq!(c::BY_VALUE, c::Color::GREEN);
    assert_eq!(*c::RAINBOW, vec![c::Color::RED, c::Color::GREEN, c::Color::BLUE]);
    assert_eq!(c::LOOKUP["a"].len(), 2);
    assert!(c::LOOKUP["b"].is_empty());
    assert_eq!(*c::GRID, vec![vec![1.0, 2.5], vec![], vec![-0.5]]);
    assert!(c::TAGS.contains("y"));
    assert_eq!(c::NAMES[&c::Color::DARK], "dark");
    assert_eq!(c::BLOBS[0].as_ref(), b"\\0");
    let me: c::Self_ = c::ME;
    assert_eq!(me, 5);
    assert_eq!(c::TYPE, 1);
}

#[test]
fn included_programs_are_sibling_modules() {
    use case_0002::{accounts_api as api, shared_types as shared};
    assert_eq!(api::FIRST_OWNER, shared::ROOT);
    assert_eq!(api::ADMIN, shared::Role::ADMIN);
    assert_eq!(*api::EVERYONE, vec![shared::Role::ADMIN, shared::Role::MEMBER]);
    assert_eq!(api::SEED[&2], shared::Role::MEMBER);
    let owner: api::Owner = 7;
    let id: shared::UserId = owner;
    assert_eq!(id, 7);
}

#[test]
fn structs_round_trip_through_both_protocols() {
    use case_0003::shapes::*;
    use mu2sls::codec::{Binary, Compact, decode, encode};

    let p = Point { x: 1.0, y: -2.0, label: Some("p".into()), kind: Kind::LINE };
    assert_eq!(decode::<Binary, Point>(&encode::<Binary, _>(&p)).unwrap(), p);
    assert_eq!(decode::<Compact, Point>(&encode::<Compact, _>(&p)).unwrap(), p);

    let defaults = Point::default();
    assert_eq!((defaults.x, defaults.y, defaults.label.clone(), defaults.kind), (0.0, 1.5, None, Kind::POINT));
    assert_eq!(ORIGIN.label.as_deref(), Some("origin"));
    assert_eq!(Tags::default().flags, vec![true, false]);
    assert_eq!(Tags::default().big, Some(9_000_000_000));

    let list = Node { value: 1, next: Some(Box::new(Node { value: 2, next: None })) };
    assert_eq!(decode::<Compact, Node>(&encode::<Compact, _>(&list)).unwrap(), list);

    // Every by-value edge inside the `Expr`/`Sum` cycle is boxed.
    let e = Expr::Sum(Box::new(Sum {
        left: Box::new(Expr::Literal(1)),
        right: Box::new(Expr::Many(vec![Expr::Literal(2), Expr::default()])),
    }));
    assert_eq!(decode::<Binary, Expr>(&encode::<Binary, _>(&e)).unwrap(), e);
    assert_eq!(decode::<Compact, Expr>(&encode::<Compact, _>(&e)).unwrap(), e);
    assert_eq!(*ONE, Expr::Literal(1));

    let err = NotFound { message: "gone".into(), code: 410 };
    let as_error: &dyn std::error::Error = &err;
    assert!(as_error.to_string().contains("gone"));

    let k = Keywords { r#type: 1, r#match: "m".into(), self_: true, r#gen: 2 };
    assert_eq!(decode::<Compact, Keywords>(&encode::<Compact, _>(&k)).unwrap(), k);
}

#[test]
fn missing_required_fields_and_unknown_union_members() {
    use case_0003::shapes::*;
    use mu2sls::codec::{Binary, DecodeErrorKind, decode};

    // An empty struct: `x` and `y` are required.
    let e = decode::<Binary, Point>(&bytes::Bytes::from_static(&[0])).unwrap_err();
    assert_eq!(e.kind(), &DecodeErrorKind::MissingRequired("Point.x"));
    // A union member from a newer schema (id 9, an i32) is kept as Unknown.
    let newer = bytes::Bytes::from_static(&[8, 0, 9, 0, 0, 0, 7, 0]);
    assert_eq!(decode::<Binary, Expr>(&newer).unwrap(), Expr::Unknown(Some(9)));
    // Errors name the field path.
    let bad = bytes::Bytes::from_static(&[11, 0, 3, 0, 0, 0, 1, 0xff, 0]);
    let e = decode::<Binary, Point>(&bad).unwrap_err();
    assert_eq!(e.path(), "Point.label");
}

#[test]
fn btree_types_order_and_apache_protocols_carry_them() {
    use case_0004::ordered::*;
    use thrift::protocol::{TCompactInputProtocol, TCompactOutputProtocol, TSerializable};

    let mut set = std::collections::BTreeSet::new();
    set.insert(Pair { a: 2, b: "x".into() });
    set.insert(Pair { a: 1, b: "y".into() });
    assert_eq!(set.iter().next().map(|p| p.a), Some(1), "structs order field by field");
    let bag = Bag { pairs: set, by_name: [("k".to_string(), Pair::default())].into_iter().collect() };

    let mut buf = Vec::new();
    bag.write_to_out_protocol(&mut TCompactOutputProtocol::new(&mut buf)).unwrap();
    assert_eq!(&buf[..], &mu2sls::codec::encode::<mu2sls::codec::Compact, Bag>(&bag)[..]);
    let back = Bag::read_from_in_protocol(&mut TCompactInputProtocol::new(&buf[..])).unwrap();
    assert_eq!(back, bag);

    // `serde`: the generated types serialise without a serde dependency of their own.
    let json = serde_json::to_string(&bag).unwrap();
    assert!(json.contains(r#""b":"y""#), "{json}");
    assert_eq!(serde_json::from_str::<Bag>(&json).unwrap(), bag);
    assert_eq!(serde_json::to_string(&Level::HIGH).unwrap(), "2");
}

mod generated_round_trips {
    //! Property tests: random values of generated types (every field shape:
    //! required, default, optional, boxed, enums, unions, containers) survive
    //! both protocols, and the exact size matches the bytes written.

    use proptest::prelude::*;

    use super::case_0003::shapes::*;
    use mu2sls::codec::{Binary, Compact, Decode, Encode, decode, encode, encoded_len};

    fn kind() -> impl Strategy<Value = Kind> {
        any::<i32>().prop_map(Kind::from)
    }

    fn point() -> impl Strategy<Value = Point> {
        (any::<f64>(), any::<f64>(), proptest::option::of(".{0,12}"), kind()).prop_map(|(x, y, label, kind)| Point {
            x,
            y,
            label,
            kind,
        })
    }

    fn tags() -> impl Strategy<Value = Tags> {
        (
            proptest::collection::hash_set(".{0,6}", 0..4),
            proptest::collection::hash_map(any::<i32>(), proptest::collection::vec(any::<Vec<u8>>(), 0..3), 0..3),
            proptest::collection::vec(any::<bool>(), 0..20),
            any::<u128>(),
            any::<i8>(),
            proptest::option::of(any::<i64>()),
        )
            .prop_map(|(names, blobs, flags, id, tiny, big)| Tags {
                names,
                blobs: blobs.into_iter().map(|(k, v)| (k, v.into_iter().map(bytes::Bytes::from).collect())).collect(),
                flags,
                id: mu2sls::codegen::Uuid::from_u128(id),
                tiny,
                big,
            })
    }

    fn node() -> impl Strategy<Value = Node> {
        proptest::collection::vec(any::<i32>(), 1..30)
            .prop_map(|values| {
                values
                    .into_iter()
                    .rev()
                    .fold(None, |next: Option<Box<Node>>, value| Some(Box::new(Node { value, next })))
            })
            .prop_map(|n| *n.unwrap_or_default())
    }

    fn expr() -> impl Strategy<Value = Expr> {
        let leaf = prop_oneof![any::<i64>().prop_map(Expr::Literal), Just(Expr::Unknown(None))];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone())
                    .prop_map(|(l, r)| Expr::Sum(Box::new(Sum { left: Box::new(l), right: Box::new(r) }))),
                proptest::collection::vec(inner, 0..4).prop_map(Expr::Many),
            ]
        })
    }

    fn same<T: Encode + Decode + std::fmt::Debug>(v: &T, eq: impl Fn(&T, &T) -> bool) -> Result<(), TestCaseError> {
        for (bytes, len) in [
            (encode::<Binary, T>(v), encoded_len::<Binary, T>(v)),
            (encode::<Compact, T>(v), encoded_len::<Compact, T>(v)),
        ] {
            prop_assert_eq!(bytes.len(), len);
        }
        let b: T = decode::<Binary, T>(&encode::<Binary, T>(v)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let c: T = decode::<Compact, T>(&encode::<Compact, T>(v)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(eq(&b, v), "binary: {:?} != {:?}", b, v);
        prop_assert!(eq(&c, v), "compact: {:?} != {:?}", c, v);
        Ok(())
    }

    /// Doubles compare by bits, so NaN round-trips are checked exactly.
    fn same_point(a: &Point, b: &Point) -> bool {
        a.x.to_bits() == b.x.to_bits() && a.y.to_bits() == b.y.to_bits() && a.label == b.label && a.kind == b.kind
    }

    proptest! {
        #[test]
        fn points(p in point()) { same(&p, same_point)?; }

        #[test]
        fn tags_round_trip(t in tags()) { same(&t, |a, b| a == b)?; }

        #[test]
        fn linked_lists(n in node()) { same(&n, |a, b| a == b)?; }

        #[test]
        fn expressions(e in expr()) { same(&e, |a, b| a == b)?; }
    }
}

mod services {
    //! Generated servers and clients talk over loopback, in every framing
    //! and protocol.

    use std::sync::Mutex;
    use std::sync::atomic::{AtomicI64, Ordering};

    use super::case_0005::base_service::Base;
    use super::case_0005::calc::*;
    use mu2sls::{
        ApplicationExceptionKind, CallContext, CallError, Channel, Framing, ProtocolKind, Server, ServiceError,
    };
    use tokio::sync::oneshot;

    #[derive(Default)]
    struct Calc {
        resets: AtomicI64,
        log: Mutex<Vec<String>>,
        logged: Mutex<Option<tokio::sync::mpsc::UnboundedSender<String>>>,
        /// `log("wait")` blocks until this is released.
        gate: tokio::sync::Mutex<Option<oneshot::Receiver<()>>>,
    }

    impl Base for Calc {
        async fn ping(&self, _cx: &CallContext, who: String) -> Result<String, ServiceError<mu2sls::NoException>> {
            Ok(format!("pong {who}"))
        }
    }

    impl Calculator for Calc {
        async fn add(&self, _: &CallContext, a: i64, b: i64) -> Result<i64, ServiceError<mu2sls::NoException>> {
            if a == 666 {
                panic!("the handler broke");
            }
            Ok(a + b)
        }

        async fn divide(
            &self,
            _: &CallContext,
            a: i64,
            b: i64,
        ) -> Result<i64, ServiceError<CalculatorDivideException>> {
            if b == 0 {
                return Err(DivideByZero { message: format!("{a} / 0") }.into());
            }
            if a == i64::MIN && b == -1 {
                return Err(Overflow { limit: i64::MAX }.into());
            }
            if b == 7 {
                return Err(ServiceError::internal("seven is unlucky"));
            }
            Ok(a / b)
        }

        async fn reset(&self, _: &CallContext) -> Result<(), ServiceError<mu2sls::NoException>> {
            self.resets.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }

        async fn log(&self, _: &CallContext, line: String) -> Result<(), ServiceError<mu2sls::NoException>> {
            if line == "wait" {
                let gate = self.gate.lock().await.take();
                if let Some(gate) = gate {
                    let _ = gate.await;
                }
            }
            self.log.lock().unwrap().push(line.clone());
            if let Some(tx) = self.logged.lock().unwrap().as_ref() {
                let _ = tx.send(line);
            }
            Ok(())
        }

        async fn echo_bytes(
            &self,
            _: &CallContext,
            data: mu2sls::codegen::Bytes,
            extra: Option<mu2sls::codegen::Bytes>,
        ) -> Result<mu2sls::codegen::Bytes, ServiceError<mu2sls::NoException>> {
            let mut v = data.to_vec();
            v.extend_from_slice(extra.as_deref().unwrap_or_default());
            Ok(v.into())
        }

        async fn sums(&self, _: &CallContext, pairs: Vec<Pair>) -> Result<Vec<i64>, ServiceError<mu2sls::NoException>> {
            Ok(pairs.iter().map(|p| p.a + p.b).collect())
        }

        async fn r#type(&self, _: &CallContext, m: bool) -> Result<(), ServiceError<mu2sls::NoException>> {
            if m { Ok(()) } else { Err(ServiceError::internal("no match")) }
        }
    }

    async fn exercise(framing: Framing, protocol: ProtocolKind) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (logged_tx, mut logged_rx) = tokio::sync::mpsc::unbounded_channel();
        let (gate_tx, gate_rx) = oneshot::channel();
        let calc = Calc {
            logged: Mutex::new(Some(logged_tx)),
            gate: tokio::sync::Mutex::new(Some(gate_rx)),
            ..Calc::default()
        };
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            Server::builder()
                .layer(mu2sls::layer::TimeoutLayer::new(std::time::Duration::from_secs(60)))
                .build()
                .serve(listener, CalculatorServer::new(calc), async {
                    let _ = stop_rx.await;
                })
                .await
        });
        let channel = Channel::builder(addr.to_string()).framing(framing).protocol(protocol).build();
        let client = CalculatorClient::new(channel.clone());

        assert_eq!(client.add(2, 3).await.unwrap(), 5);
        assert_eq!(client.divide(9, 2).await.unwrap(), 4);
        match client.divide(1, 0).await {
            Err(CallError::Exception(CalculatorDivideException::Zero(e))) => assert_eq!(e.message, "1 / 0"),
            other => panic!("expected DivideByZero, got {other:?}"),
        }
        match client.divide(i64::MIN, -1).await {
            Err(CallError::Exception(CalculatorDivideException::Overflow(e))) => assert_eq!(e.limit, i64::MAX),
            other => panic!("expected Overflow, got {other:?}"),
        }
        match client.divide(1, 7).await {
            Err(CallError::Application(e)) => {
                assert_eq!(e.kind, ApplicationExceptionKind::INTERNAL_ERROR);
                assert_eq!(e.message, "seven is unlucky");
            }
            other => panic!("expected an application exception, got {other:?}"),
        }
        match client.add(666, 0).await {
            Err(CallError::Application(e)) => {
                assert_eq!(e.kind, ApplicationExceptionKind::INTERNAL_ERROR);
                assert!(e.message.contains("the handler broke"), "{}", e.message);
            }
            other => panic!("a panic becomes INTERNAL_ERROR, got {other:?}"),
        }
        client.reset().await.unwrap();
        client.log("hello").await.unwrap();
        assert_eq!(logged_rx.recv().await.as_deref(), Some("hello"));
        // A normal call after a oneway one gets its own reply, not a stray one.
        assert_eq!(client.ping("me").await.unwrap(), "pong me");
        // A oneway handler that has not finished does not hold up the replies
        // of later calls on the connection: it waits for a gate this test
        // opens only after the next call's reply arrived.
        client.log("wait").await.unwrap();
        assert_eq!(client.ping("again").await.unwrap(), "pong again");
        gate_tx.send(()).unwrap();
        assert_eq!(logged_rx.recv().await.as_deref(), Some("wait"));
        assert_eq!(&client.echo_bytes(b"ab", Some(b"cd")).await.unwrap()[..], b"abcd");
        assert_eq!(&client.echo_bytes(b"", None).await.unwrap()[..], b"");
        let pairs = vec![Pair { a: 1, b: 2 }, Pair { a: -5, b: 5 }];
        assert_eq!(client.sums(&pairs).await.unwrap(), vec![3, 0]);
        client.r#type(true).await.unwrap();
        assert!(matches!(client.r#type(false).await, Err(CallError::Application(_))));

        // Concurrent calls share the connection and each gets its own reply.
        let calls = (0..50i64).map(|i| {
            let c = client.clone();
            tokio::spawn(async move { (i, c.add(i, i).await.unwrap()) })
        });
        for call in calls {
            let (i, sum) = call.await.unwrap();
            assert_eq!(sum, 2 * i);
        }

        // An unknown method is an UNKNOWN_METHOD exception.
        let reply = channel.call("frobnicate", &AddArgsForUnknown).await.unwrap();
        match reply.result::<CalculatorAddResult, mu2sls::NoException>() {
            Err(CallError::Application(e)) => assert_eq!(e.kind, ApplicationExceptionKind::UNKNOWN_METHOD),
            other => panic!("expected UNKNOWN_METHOD, got {other:?}"),
        }

        stop_tx.send(()).unwrap();
        server.await.unwrap().unwrap();
    }

    /// An empty arguments struct, for calling a method the server lacks.
    struct AddArgsForUnknown;

    impl mu2sls::codec::Encode for AddArgsForUnknown {
        const TTYPE: mu2sls::codec::TType = mu2sls::codec::TType::Struct;
        fn encode<P: mu2sls::codec::Protocol, O: mu2sls::codec::Output>(&self, w: &mut mu2sls::codec::Writer<P, O>) {
            w.struct_begin();
            w.struct_end();
        }
    }

    #[tokio::test]
    async fn framed_binary() {
        exercise(Framing::Framed, ProtocolKind::Binary).await;
    }

    #[tokio::test]
    async fn framed_compact() {
        exercise(Framing::Framed, ProtocolKind::Compact).await;
    }

    #[tokio::test]
    async fn buffered_binary() {
        exercise(Framing::Buffered, ProtocolKind::Binary).await;
    }

    #[tokio::test]
    async fn buffered_compact() {
        exercise(Framing::Buffered, ProtocolKind::Compact).await;
    }

    #[tokio::test]
    async fn header_binary() {
        exercise(Framing::Header, ProtocolKind::Binary).await;
    }

    #[tokio::test]
    async fn header_compact() {
        exercise(Framing::Header, ProtocolKind::Compact).await;
    }

    #[tokio::test]
    async fn http_binary() {
        exercise(Framing::Http, ProtocolKind::Binary).await;
    }

    #[tokio::test]
    async fn http_compact() {
        exercise(Framing::Http, ProtocolKind::Compact).await;
    }
}

#[test]
fn file_names_that_are_not_rust_names_give_valid_module_names() {
    let mut files = crate::MemoryLoader::new();
    files.add("²x-y.thrift", "const i32 A = 1");
    files.add("٣z.thrift", "const i32 B = 2");
    let out = generate(&files, &["²x-y.thrift".into(), "٣z.thrift".into()], &Options::default());
    assert!(!out.diagnostics.has_errors(), "{}", out.render_diagnostics(true, false));
    let mut paths: Vec<String> = out.files.iter().map(|f| f.path.display().to_string()).collect();
    paths.sort();
    for p in &paths {
        let stem = p.trim_end_matches(".rs");
        assert!(stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{p}");
        assert!(!stem.starts_with(|c: char| c.is_ascii_digit()), "{p}");
    }
    assert_eq!(paths.len(), 3, "two modules and mod.rs: {paths:?}");
}

mod durable {
    //! The exactly-once flavour: a generated durable server runs each call
    //! id once, replies to retries with the recorded result, and its
    //! intents are re-driven through the same dispatcher.

    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::case_0006::bank::*;
    use bytes::Bytes;
    use mu2sls::codec::{Binary, Compact, MessageType, Protocol, Reader, Writer};
    use mu2sls::{
        CallId, CallMeta, Collector, Ctx, Dispatch, DispatchRedriver, Engine, EngineConfig, ManualClock, MemoryStore,
        ProtocolKind, ServiceError, TxError,
    };

    const T0: u64 = 1_700_000_000_000;

    #[derive(Default)]
    struct Bank {
        /// Fail the next call after its first step, as a crash would.
        fail_next: AtomicBool,
    }

    impl LedgerDurable for Bank {
        async fn balance(&self, ctx: &mut Ctx, account: String) -> Result<i64, ServiceError<mu2sls::NoException>> {
            Ok(ctx.get::<i64>(&account).await?.unwrap_or(0))
        }
    }

    impl BankDurable for Bank {
        async fn deposit(
            &self,
            ctx: &mut Ctx,
            account: String,
            amount: i64,
        ) -> Result<i64, ServiceError<mu2sls::NoException>> {
            let total = ctx
                .update(&account, |old: Option<i64>| {
                    let new = old.unwrap_or(0) + amount;
                    (new, new)
                })
                .await?;
            if self.fail_next.swap(false, Ordering::SeqCst) {
                return Err(ServiceError::internal("lost after the deposit step"));
            }
            Ok(total)
        }

        async fn transfer(
            &self,
            ctx: &mut Ctx,
            source: String,
            target: String,
            amount: i64,
        ) -> Result<(), ServiceError<BankTransferException>> {
            let moved = ctx
                .transaction(|tx| {
                    let from: i64 = tx.get(&source)?.unwrap_or(0);
                    if from < amount {
                        return Err(TxError::Abort(InsufficientFunds { balance: from, wanted: amount }));
                    }
                    let to: i64 = tx.get(&target)?.unwrap_or(0);
                    tx.put(&source, &(from - amount));
                    tx.put(&target, &(to + amount));
                    Ok(())
                })
                .await?;
            moved.map_err(ServiceError::from)
        }

        async fn audit(&self, ctx: &mut Ctx, note: String) -> Result<(), ServiceError<mu2sls::NoException>> {
            ctx.update("audits", |old: Option<Vec<String>>| {
                let mut notes = old.unwrap_or_default();
                notes.push(note.clone());
                (notes, ())
            })
            .await?;
            Ok(())
        }
    }

    type Server = BankDurableServer<Bank, MemoryStore, ManualClock>;

    fn server(clock: &ManualClock) -> std::sync::Arc<Server> {
        server_with(clock, EngineConfig::default())
    }

    fn server_with(clock: &ManualClock, config: EngineConfig) -> std::sync::Arc<Server> {
        let engine = Engine::new("Bank", MemoryStore::new(), clock.clone(), config);
        std::sync::Arc::new(BankDurableServer::new(Bank::default(), engine))
    }

    fn message<P: Protocol, A: mu2sls::codec::Encode>(method: &str, kind: MessageType, seq: i32, args: &A) -> Bytes {
        let mut w = Writer::<P, bytes::BytesMut>::new(bytes::BytesMut::new());
        w.message_begin(method, kind, seq);
        args.encode(&mut w);
        w.into_inner().freeze()
    }

    /// Serves one call message (with `key` as the idempotency key, if any)
    /// and returns the reply message.
    async fn call<P: Protocol, A: mu2sls::codec::Encode>(
        server: &Server,
        method: &str,
        args: &A,
        key: Option<&str>,
        oneway: bool,
    ) -> Option<Bytes> {
        let kind = if oneway { MessageType::Oneway } else { MessageType::Call };
        let frame = message::<P, A>(method, kind, 7, args);
        let mut r = Reader::<P>::new(&frame);
        r.message_begin().unwrap();
        let at = r.position();
        let mut cx = mu2sls::CallContext::new(method, 7, None, P::KIND);
        if let Some(key) = key {
            cx = cx.with_call_meta(CallMeta::root(CallId::root("Bank", method, key), T0));
        }
        server.dispatch::<P>(&cx, frame, at).await
    }

    fn result<P: Protocol, R: mu2sls::codec::Decode>(reply: &Bytes) -> Result<R, String> {
        let mut r = Reader::<P>::new(reply);
        let header = r.message_begin().unwrap();
        if header.kind == MessageType::Exception {
            let e: mu2sls::ApplicationException = mu2sls::codec::Decode::decode(&mut r).unwrap();
            return Err(e.message);
        }
        assert_eq!((header.kind, header.seq), (MessageType::Reply, 7));
        Ok(R::decode(&mut r).unwrap())
    }

    async fn balance(server: &Server, account: &str) -> i64 {
        let reply = call::<Binary, _>(server, "balance", &LedgerBalanceArgsRef { account }, None, false).await;
        match result::<Binary, LedgerBalanceResult>(&reply.unwrap()) {
            Ok(LedgerBalanceResult::Success(v)) => v,
            other => panic!("balance: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_retried_call_id_runs_once_and_gets_the_same_reply() {
        let clock = ManualClock::new(T0);
        let server = server(&clock);
        let args = BankDepositArgsRef { account: "alice", amount: 40 };
        let first = call::<Binary, _>(&server, "deposit", &args, Some("d-1"), false).await.unwrap();
        let retry = call::<Binary, _>(&server, "deposit", &args, Some("d-1"), false).await.unwrap();
        assert_eq!(first, retry, "a retry gets the recorded reply byte for byte");
        assert!(matches!(result::<Binary, BankDepositResult>(&first), Ok(BankDepositResult::Success(40))));
        assert_eq!(balance(&server, "alice").await, 40, "the deposit applied once");
        // A new id is a new call.
        call::<Binary, _>(&server, "deposit", &args, Some("d-2"), false).await.unwrap();
        assert_eq!(balance(&server, "alice").await, 80);
        // Without metadata every call is its own.
        call::<Binary, _>(&server, "deposit", &args, None, false).await.unwrap();
        call::<Binary, _>(&server, "deposit", &args, None, false).await.unwrap();
        assert_eq!(balance(&server, "alice").await, 160);
    }

    #[tokio::test]
    async fn a_declared_exception_is_the_recorded_result() {
        let clock = ManualClock::new(T0);
        let server = server(&clock);
        let args = BankTransferArgsRef { source: "alice", target: "bob", amount: 30 };
        let first = call::<Compact, _>(&server, "transfer", &args, Some("t-1"), false).await.unwrap();
        match result::<Compact, BankTransferResult>(&first) {
            Ok(BankTransferResult::Insufficient(e)) => assert_eq!((e.balance, e.wanted), (0, 30)),
            other => panic!("expected InsufficientFunds, got {other:?}"),
        }
        let deposit = BankDepositArgsRef { account: "alice", amount: 100 };
        call::<Compact, _>(&server, "deposit", &deposit, Some("d-1"), false).await.unwrap();
        // The retry does not run again, although it would succeed now.
        let retry = call::<Compact, _>(&server, "transfer", &args, Some("t-1"), false).await.unwrap();
        assert_eq!(first, retry);
        assert_eq!((balance(&server, "alice").await, balance(&server, "bob").await), (100, 0));
        // A fresh id moves the money, once.
        let again = call::<Compact, _>(&server, "transfer", &args, Some("t-2"), false).await.unwrap();
        assert!(matches!(result::<Compact, BankTransferResult>(&again), Ok(BankTransferResult::Empty)));
        call::<Compact, _>(&server, "transfer", &args, Some("t-2"), false).await.unwrap();
        assert_eq!((balance(&server, "alice").await, balance(&server, "bob").await), (70, 30));
    }

    #[tokio::test]
    async fn a_retry_through_the_other_protocol_is_the_same_call() {
        let clock = ManualClock::new(T0);
        let server = server(&clock);
        let args = BankDepositArgsRef { account: "frank", amount: 9 };
        let first = call::<Binary, _>(&server, "deposit", &args, Some("x-1"), false).await.unwrap();
        let retry = call::<Compact, _>(&server, "deposit", &args, Some("x-1"), false).await.unwrap();
        assert!(matches!(result::<Binary, BankDepositResult>(&first), Ok(BankDepositResult::Success(9))));
        assert!(matches!(result::<Compact, BankDepositResult>(&retry), Ok(BankDepositResult::Success(9))));
        assert_eq!(balance(&server, "frank").await, 9, "fingerprinted canonically: one deposit");
    }

    #[tokio::test]
    async fn ids_that_do_not_match_the_call_are_refused() {
        let clock = ManualClock::new(T0);
        let server = server(&clock);
        let args = BankDepositArgsRef { account: "alice", amount: 5 };
        call::<Binary, _>(&server, "deposit", &args, Some("k"), false).await.unwrap();
        // Other arguments under the same id: a conflict, nothing runs.
        let other = BankDepositArgsRef { account: "alice", amount: 6 };
        let reply = call::<Binary, _>(&server, "deposit", &other, Some("k"), false).await.unwrap();
        let refused = result::<Binary, BankDepositResult>(&reply).unwrap_err();
        assert!(refused.contains("call id already used by a different request"), "{refused}");
        // An id minted for another method.
        let frame = message::<Binary, _>("deposit", MessageType::Call, 7, &args);
        let cx = mu2sls::CallContext::new("deposit", 7, None, ProtocolKind::Binary)
            .with_call_meta(CallMeta::root(CallId::root("Bank", "transfer", "k"), T0));
        let mut r = Reader::<Binary>::new(&frame);
        r.message_begin().unwrap();
        let at = r.position();
        let reply = server.dispatch::<Binary>(&cx, frame.clone(), at).await;
        let refused = result::<Binary, BankDepositResult>(&reply.unwrap()).unwrap_err();
        assert!(refused.contains("does not name this call"), "{refused}");
        assert_eq!(balance(&server, "alice").await, 5);
    }

    #[tokio::test]
    async fn oneway_calls_run_once_per_id() {
        let clock = ManualClock::new(T0);
        let server = server(&clock);
        for _ in 0..3 {
            let reply = call::<Binary, _>(&server, "audit", &BankAuditArgsRef { note: "n1" }, Some("a-1"), true).await;
            assert!(reply.is_none(), "a oneway call gets no reply");
        }
        let store = server.engine().store();
        let found = mu2sls::Store::get(store, &mu2sls::Key::from(("state", "Bank", "audits"))).await.unwrap();
        let notes: Vec<String> = mu2sls::codec::decode::<Binary, _>(&found.unwrap().value).unwrap();
        assert_eq!(notes, vec!["n1".to_owned()]);
    }

    #[tokio::test]
    async fn a_failed_leaf_call_leaves_nothing_behind() {
        let clock = ManualClock::new(T0);
        let server = server(&clock);
        server.handler().fail_next.store(true, Ordering::SeqCst);
        let args = BankDepositArgsRef { account: "carol", amount: 25 };
        let reply = call::<Compact, _>(&server, "deposit", &args, Some("lost"), false).await.unwrap();
        assert!(result::<Compact, BankDepositResult>(&reply).is_err());
        assert_eq!(balance(&server, "carol").await, 0, "a leaf's effects commit with its result or not at all");
        let retry = call::<Compact, _>(&server, "deposit", &args, Some("lost"), false).await.unwrap();
        assert!(matches!(result::<Compact, BankDepositResult>(&retry), Ok(BankDepositResult::Success(25))));
        assert_eq!(balance(&server, "carol").await, 25);
    }

    #[tokio::test]
    async fn the_collector_finishes_a_failed_call_through_the_dispatcher() {
        let clock = ManualClock::new(T0);
        // Step mode: the deposit step is logged (and applied) before the failure.
        let server = server_with(&clock, EngineConfig::default().leaf_fast_path(false));
        server.handler().fail_next.store(true, Ordering::SeqCst);
        let args = BankDepositArgsRef { account: "carol", amount: 25 };
        let reply = call::<Compact, _>(&server, "deposit", &args, Some("lost"), false).await.unwrap();
        let message = result::<Compact, BankDepositResult>(&reply).unwrap_err();
        assert!(message.contains("lost after the deposit step"), "{message}");
        assert_eq!(balance(&server, "carol").await, 25, "the logged step applied");

        let collector = Collector::new(server.engine().clone(), DispatchRedriver::new(server.clone()));
        clock.advance(Duration::from_secs(3600));
        let report = collector.run_once(T0 + 3_600_000).await.unwrap();
        assert_eq!((report.redriven, report.completed, report.failed), (1, 1, 0), "{report:?}");
        assert_eq!(balance(&server, "carol").await, 25, "the re-drive adopted the logged deposit");
        // The client's retry gets the re-driven result.
        let retry = call::<Compact, _>(&server, "deposit", &args, Some("lost"), false).await.unwrap();
        assert!(matches!(result::<Compact, BankDepositResult>(&retry), Ok(BankDepositResult::Success(25))));
        let report = collector.run_once(T0 + 7_200_000).await.unwrap();
        assert_eq!(report.redriven, 0, "no intent is left");
    }

    /// A durable Bank server on a free loopback port, over a memory store:
    /// its address, the sender that stops it, and its task.
    async fn serve_bank()
    -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let engine = Engine::new("Bank", MemoryStore::new(), mu2sls::SystemClock, EngineConfig::default());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            mu2sls::Server::builder()
                .build()
                .serve(listener, BankDurableServer::new(Bank::default(), engine), async {
                    let _ = stop_rx.await;
                })
                .await
        });
        (addr, stop_tx, server)
    }

    /// Our client's idempotency key crosses every framing and protocol in
    /// its envelope: the retries of a keyed call run it once.
    async fn keyed_retries_run_once(framing: mu2sls::Framing, protocol: ProtocolKind) {
        let (addr, stop_tx, server) = serve_bank().await;
        let channel = mu2sls::Channel::builder(addr.to_string()).framing(framing).protocol(protocol).build();
        let client = BankClient::new(channel.clone());
        let once = BankClient::new(channel.with_idempotency_key("deposit-1"));
        for _ in 0..3 {
            assert_eq!(once.deposit("dave", 10).await.unwrap(), 10, "{framing:?} {protocol:?}");
        }
        assert_eq!(client.balance("dave").await.unwrap(), 10, "{framing:?} {protocol:?}: one deposit");
        // Unkeyed calls are each their own.
        client.deposit("dave", 1).await.unwrap();
        client.deposit("dave", 1).await.unwrap();
        assert_eq!(client.balance("dave").await.unwrap(), 12);
        // The same key with other arguments is refused, not run.
        match once.deposit("dave", 99).await {
            Err(mu2sls::CallError::Application(e)) => {
                assert!(e.message.contains("different request"), "{}", e.message);
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert_eq!(client.balance("dave").await.unwrap(), 12);
        let _ = stop_tx.send(());
        server.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn keyed_retries_framed_binary() {
        keyed_retries_run_once(mu2sls::Framing::Framed, ProtocolKind::Binary).await;
    }

    #[tokio::test]
    async fn keyed_retries_buffered_compact() {
        keyed_retries_run_once(mu2sls::Framing::Buffered, ProtocolKind::Compact).await;
    }

    #[tokio::test]
    async fn keyed_retries_buffered_binary() {
        keyed_retries_run_once(mu2sls::Framing::Buffered, ProtocolKind::Binary).await;
    }

    #[tokio::test]
    async fn keyed_retries_header_compact() {
        keyed_retries_run_once(mu2sls::Framing::Header, ProtocolKind::Compact).await;
    }

    /// Stock callers send the metadata as headers instead: THeader info
    /// headers `mu2sls-*`, HTTP `X-Mu2sls-*` or OpenFaaS's `X-Call-Id`.
    #[tokio::test]
    async fn metadata_in_headers_names_the_call() {
        let (addr, stop_tx, server) = serve_bank().await;
        let addr = addr.to_string();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
        let origin = now.to_string();
        let header_channel = |framing: mu2sls::Framing, headers: &[(&str, &str)]| {
            let mut b = mu2sls::Channel::builder(addr.clone()).framing(framing).protocol(ProtocolKind::Compact);
            for (k, v) in headers {
                b = b.header(*k, *v);
            }
            BankClient::new(b.build())
        };
        let plain = BankClient::new(mu2sls::Channel::new(addr.clone()));
        let thead = header_channel(mu2sls::Framing::Header, &[("mu2sls-key", "h-1"), ("mu2sls-origin-ms", &origin)]);
        let http = header_channel(mu2sls::Framing::Http, &[("X-Mu2sls-Key", "h-2"), ("X-Mu2sls-Origin-Ms", &origin)]);
        // OpenFaaS keeps a caller's X-Call-Id; a UUIDv7 key carries its origin.
        let id = CallId::fresh("Bank", "deposit", now);
        let faas = header_channel(mu2sls::Framing::Http, &[("X-Call-Id", id.as_str())]);
        for _ in 0..2 {
            assert_eq!(thead.deposit("erin", 5).await.unwrap(), 5);
            http.deposit("erin", 5).await.unwrap();
            faas.deposit("erin", 5).await.unwrap();
        }
        assert_eq!(plain.balance("erin").await.unwrap(), 15, "each header-named call ran once");
        // Metadata that does not add up is refused before anything runs.
        for headers in [
            &[("mu2sls-key", "k")][..],
            &[("mu2sls-key", "k"), ("mu2sls-origin-ms", "soon")][..],
            &[("mu2sls-call-id", "Bank.deposit:not-a-uuid")][..],
        ] {
            match header_channel(mu2sls::Framing::Header, headers).deposit("erin", 1).await {
                Err(mu2sls::CallError::Application(e)) => {
                    assert_eq!(e.kind, mu2sls::ApplicationExceptionKind::PROTOCOL_ERROR, "{headers:?}: {}", e.message);
                }
                other => panic!("{headers:?}: expected PROTOCOL_ERROR, got {other:?}"),
            }
        }
        assert_eq!(plain.balance("erin").await.unwrap(), 15);
        let _ = stop_tx.send(());
        server.await.unwrap().unwrap();
    }
}
