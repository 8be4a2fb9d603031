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

#[test]
fn generated_code_matches_the_goldens() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let cases = cases();
    assert!(cases.len() >= 2, "golden cases missing");
    let mut failures = Vec::new();
    for case in cases {
        let options = Options { recurse: true, ..Options::default() };
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
        let options = Options { recurse: true, ..Options::default() };
        let a = generate(&FsLoader, &[case.join("input.thrift")], &options);
        let b = generate(&FsLoader, &[case.join("input.thrift")], &options);
        assert_eq!(a.files, b.files, "{}", case.display());
    }
}

// The goldens compile, against the real runtime crate.
#[path = "../../test_data/codegen/0001_enums_and_consts/expected/mod.rs"]
mod case_0001;
#[path = "../../test_data/codegen/0002_includes_and_namespaces/expected/mod.rs"]
mod case_0002;
#[path = "../../test_data/codegen/0003_structs_unions_exceptions/expected/mod.rs"]
mod case_0003;

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
