//! IDL names to Rust names: case conversion and keyword escaping.
//!
//! Rust keywords become raw identifiers (`r#type`, `r#gen` for edition
//! 2024); the four that cannot be raw (`self`, `Self`, `super`, `crate`)
//! get a trailing `_`, as Apache's generator does.

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};

const STRICT_AND_RESERVED: &[&str] = &[
    "as", "break", "const", "continue", "else", "enum", "extern", "false", "fn", "for", "if", "impl", "in", "let",
    "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static", "struct", "trait", "true", "type",
    "unsafe", "use", "where", "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

const NOT_RAW: &[&str] = &["self", "Self", "super", "crate"];

/// A Rust identifier for `name`, escaped if it is a keyword.
pub(crate) fn ident(name: &str) -> String {
    let name = if name.is_empty() || name == "_" { "_unnamed" } else { name };
    if NOT_RAW.contains(&name) {
        format!("{name}_")
    } else if STRICT_AND_RESERVED.contains(&name) {
        format!("r#{name}")
    } else if name.as_bytes()[0].is_ascii_digit() {
        format!("_{name}")
    } else {
        name.to_string()
    }
}

/// The three cases of generated names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Case {
    Type,
    Snake,
    Const,
}

impl Case {
    pub(crate) fn convert(self, name: &str) -> String {
        match self {
            Case::Type => type_name(name),
            Case::Snake => snake_name(name),
            Case::Const => const_name(name),
        }
    }
}

/// Type names: `UpperCamelCase`, keeping names that already are.
pub(crate) fn type_name(name: &str) -> String {
    // Fast path (names are converted once per use): ASCII letters and
    // digits, a capital first and every other capital right after a small
    // letter is a name heck leaves as it is.
    let b = name.as_bytes();
    if b.first().is_some_and(u8::is_ascii_uppercase)
        && b.iter().all(u8::is_ascii_alphanumeric)
        && !b.windows(2).any(|w| w[1].is_ascii_uppercase() && !w[0].is_ascii_lowercase())
    {
        return name.to_string();
    }
    name.to_upper_camel_case()
}

/// Constant and enum member names: `SHOUTY_SNAKE_CASE`.
pub(crate) fn const_name(name: &str) -> String {
    if is_snake_like(name, u8::is_ascii_uppercase) {
        return name.to_string();
    }
    name.to_shouty_snake_case()
}

/// Module, field and function names: `snake_case`.
pub(crate) fn snake_name(name: &str) -> String {
    if is_snake_like(name, u8::is_ascii_lowercase) {
        return name.to_string();
    }
    name.to_snake_case()
}

/// Words of letters in one case (`letter`) and digits, joined by single
/// underscores: what heck's snake cases leave unchanged.
fn is_snake_like(name: &str, letter: fn(&u8) -> bool) -> bool {
    !name.is_empty()
        && name.split('_').all(|w| {
            !w.is_empty() && w.bytes().all(|c| letter(&c) || c.is_ascii_digit()) && w.bytes().any(|c| letter(&c))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_escaped() {
        assert_eq!(ident("type").to_string(), "r#type");
        assert_eq!(ident("gen").to_string(), "r#gen");
        assert_eq!(ident("match").to_string(), "r#match");
        assert_eq!(ident("self").to_string(), "self_");
        assert_eq!(ident("Self").to_string(), "Self_");
        assert_eq!(ident("crate").to_string(), "crate_");
        assert_eq!(ident("plain").to_string(), "plain");
    }

    #[test]
    fn fast_paths_agree_with_heck() {
        for name in [
            "field_3_note",
            "a1b",
            "x_1",
            "Base38",
            "BaseRecord38",
            "Op21Remove",
            "HTTPServer",
            "A1B",
            "QUOTA_6",
            "K_1",
            "_x",
            "x__y",
            "1_a",
            "a_1",
            "Ab",
            "aB",
            "AB_C",
            "abc_",
            "ab2cd",
            "Ü",
            "r2d2",
            "R2D2",
        ] {
            assert_eq!(type_name(name), name.to_upper_camel_case(), "{name}");
            assert_eq!(const_name(name), name.to_shouty_snake_case(), "{name}");
            assert_eq!(snake_name(name), name.to_snake_case(), "{name}");
        }
    }

    #[test]
    fn cases() {
        assert_eq!(type_name("user_info"), "UserInfo");
        assert_eq!(type_name("UserInfo"), "UserInfo");
        assert_eq!(const_name("maxSize"), "MAX_SIZE");
        assert_eq!(const_name("RED"), "RED");
        assert_eq!(snake_name("SocialGraph"), "social_graph");
    }
}
