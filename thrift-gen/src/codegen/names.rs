//! IDL names to Rust names: case conversion and keyword escaping.
//!
//! Rust keywords become raw identifiers (`r#type`, `r#gen` for edition
//! 2024); the four that cannot be raw (`self`, `Self`, `super`, `crate`)
//! get a trailing `_`, as Apache's generator does.

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span};

const STRICT_AND_RESERVED: &[&str] = &[
    "as", "break", "const", "continue", "else", "enum", "extern", "false", "fn", "for", "if", "impl", "in", "let",
    "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static", "struct", "trait", "true", "type",
    "unsafe", "use", "where", "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

const NOT_RAW: &[&str] = &["self", "Self", "super", "crate"];

/// A Rust identifier for `name`, escaped if it is a keyword.
pub(crate) fn ident(name: &str) -> Ident {
    let name = if name.is_empty() || name == "_" { "_unnamed" } else { name };
    if NOT_RAW.contains(&name) {
        Ident::new(&format!("{name}_"), Span::call_site())
    } else if STRICT_AND_RESERVED.contains(&name) {
        Ident::new_raw(name, Span::call_site())
    } else if name.as_bytes()[0].is_ascii_digit() {
        Ident::new(&format!("_{name}"), Span::call_site())
    } else {
        Ident::new(name, Span::call_site())
    }
}

/// Type names: `UpperCamelCase`, keeping names that already are.
pub(crate) fn type_name(name: &str) -> String {
    name.to_upper_camel_case()
}

/// Constant and enum member names: `SHOUTY_SNAKE_CASE`.
pub(crate) fn const_name(name: &str) -> String {
    name.to_shouty_snake_case()
}

/// Module, field and function names: `snake_case`.
pub(crate) fn snake_name(name: &str) -> String {
    name.to_snake_case()
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
    fn cases() {
        assert_eq!(type_name("user_info"), "UserInfo");
        assert_eq!(type_name("UserInfo"), "UserInfo");
        assert_eq!(const_name("maxSize"), "MAX_SIZE");
        assert_eq!(const_name("RED"), "RED");
        assert_eq!(snake_name("SocialGraph"), "social_graph");
    }
}
