//! The IDL as written: every node keeps its span, doc comment and
//! annotations. Produced by the parser, read by the resolver and the
//! pretty-printer; nothing here is checked beyond syntax.

use crate::diagnostics::Span;

/// A name as written, with its span. May be dotted (`base.Type`).
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    /// The text.
    pub name: String,
    /// Where.
    pub span: Span,
}

/// One `key = "value"` of a `( ... )` annotation list (a bare key means "1").
#[derive(Clone, Debug, PartialEq)]
pub struct Annotation {
    /// The key (may be dotted).
    pub key: String,
    /// The value.
    pub value: String,
    /// Where.
    pub span: Span,
}

/// A parsed `.thrift` file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Document {
    /// `include`, `cpp_include` and `namespace`, in order.
    pub headers: Vec<Header>,
    /// Everything else, in order.
    pub definitions: Vec<Definition>,
}

/// A header.
#[derive(Clone, Debug, PartialEq)]
pub enum Header {
    /// `include "path"`.
    Include {
        /// The path as written.
        path: String,
        /// Where.
        span: Span,
    },
    /// `cpp_include "path"` (kept, unused by the Rust generator).
    CppInclude {
        /// The path as written.
        path: String,
        /// Where.
        span: Span,
    },
    /// `namespace scope name`.
    Namespace {
        /// Language scope (`rs`, `py`, `*`, ...).
        scope: String,
        /// The namespace.
        name: String,
        /// Annotations after it.
        annotations: Vec<Annotation>,
        /// Where.
        span: Span,
    },
}

/// A top-level definition.
#[derive(Clone, Debug, PartialEq)]
pub enum Definition {
    /// `const T NAME = value`.
    Const(Const),
    /// `typedef T Name`.
    Typedef(Typedef),
    /// `enum`.
    Enum(Enum),
    /// `senum` (deprecated string enum).
    Senum(Senum),
    /// `struct`, `union` or `exception`.
    Struct(Struct),
    /// `service`.
    Service(Service),
}

impl Definition {
    /// The defined name.
    pub fn name(&self) -> &Ident {
        match self {
            Definition::Const(d) => &d.name,
            Definition::Typedef(d) => &d.name,
            Definition::Enum(d) => &d.name,
            Definition::Senum(d) => &d.name,
            Definition::Struct(d) => &d.name,
            Definition::Service(d) => &d.name,
        }
    }
}

/// `const T NAME = value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Const {
    /// Doc comment.
    pub doc: Option<String>,
    /// Declared type.
    pub ty: Type,
    /// Name.
    pub name: Ident,
    /// Value.
    pub value: ConstValue,
    /// Annotations.
    pub annotations: Vec<Annotation>,
}

/// `typedef T Name`.
#[derive(Clone, Debug, PartialEq)]
pub struct Typedef {
    /// Doc comment.
    pub doc: Option<String>,
    /// Target type.
    pub ty: Type,
    /// New name.
    pub name: Ident,
    /// Annotations.
    pub annotations: Vec<Annotation>,
}

/// `enum Name { A, B = 2 }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Enum {
    /// Doc comment.
    pub doc: Option<String>,
    /// Name.
    pub name: Ident,
    /// Members.
    pub values: Vec<EnumValue>,
    /// Annotations.
    pub annotations: Vec<Annotation>,
}

/// One enum member.
#[derive(Clone, Debug, PartialEq)]
pub struct EnumValue {
    /// Doc comment.
    pub doc: Option<String>,
    /// Name.
    pub name: Ident,
    /// Explicit value (`None` when it overflowed i64) and its span.
    pub value: Option<(Option<i64>, Span)>,
    /// Annotations.
    pub annotations: Vec<Annotation>,
}

/// `senum Name { "a", "b" }` (deprecated).
#[derive(Clone, Debug, PartialEq)]
pub struct Senum {
    /// Doc comment.
    pub doc: Option<String>,
    /// Name.
    pub name: Ident,
    /// Members.
    pub values: Vec<String>,
    /// Annotations.
    pub annotations: Vec<Annotation>,
    /// Where the `senum` keyword is.
    pub keyword: Span,
}

/// Which of the three struct-like definitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StructKind {
    /// `struct`.
    Struct,
    /// `union`.
    Union,
    /// `exception`.
    Exception,
}

impl StructKind {
    /// The keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            StructKind::Struct => "struct",
            StructKind::Union => "union",
            StructKind::Exception => "exception",
        }
    }
}

/// A struct, union or exception.
#[derive(Clone, Debug, PartialEq)]
pub struct Struct {
    /// Doc comment.
    pub doc: Option<String>,
    /// Which kind.
    pub kind: StructKind,
    /// Name.
    pub name: Ident,
    /// Fields.
    pub fields: Vec<Field>,
    /// Annotations.
    pub annotations: Vec<Annotation>,
}

/// Field requiredness as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Requiredness {
    /// Nothing written ("opt-in, req-out").
    Default,
    /// `required`.
    Required,
    /// `optional`.
    Optional,
}

/// A field of a struct, or an argument or `throws` entry of a function.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// Doc comment.
    pub doc: Option<String>,
    /// Explicit id as written (`None` inside when it overflowed i64) and its span.
    pub id: Option<(Option<i64>, Span)>,
    /// Requiredness.
    pub requiredness: Requiredness,
    /// Type.
    pub ty: Type,
    /// Whether `&` (C++ reference) was written; parsed and ignored.
    pub reference: bool,
    /// Name.
    pub name: Ident,
    /// Default value.
    pub default: Option<ConstValue>,
    /// Annotations.
    pub annotations: Vec<Annotation>,
    /// From the id (or type) to the end of the field.
    pub span: Span,
}

/// `service Name extends Base { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    /// Doc comment.
    pub doc: Option<String>,
    /// Name.
    pub name: Ident,
    /// The extended service.
    pub extends: Option<Ident>,
    /// Methods.
    pub functions: Vec<Function>,
    /// Annotations.
    pub annotations: Vec<Annotation>,
}

/// A method of a service.
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    /// Doc comment.
    pub doc: Option<String>,
    /// Where `oneway` (or `async`) was written, if it was.
    pub oneway: Option<Span>,
    /// Result type; `None` for `void`.
    pub returns: Option<Type>,
    /// Where the result type (or `void`) is.
    pub returns_span: Span,
    /// Name.
    pub name: Ident,
    /// Arguments.
    pub args: Vec<Field>,
    /// `throws (...)` entries, with the span of the `throws` keyword.
    pub throws: Option<(Vec<Field>, Span)>,
    /// Annotations.
    pub annotations: Vec<Annotation>,
}

/// Built-in types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BaseType {
    /// `bool`.
    Bool,
    /// `i8` (also the deprecated `byte`).
    I8,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `double`.
    Double,
    /// `string`.
    String,
    /// `binary`.
    Binary,
    /// `uuid`.
    Uuid,
}

impl BaseType {
    /// The IDL keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            BaseType::Bool => "bool",
            BaseType::I8 => "i8",
            BaseType::I16 => "i16",
            BaseType::I32 => "i32",
            BaseType::I64 => "i64",
            BaseType::Double => "double",
            BaseType::String => "string",
            BaseType::Binary => "binary",
            BaseType::Uuid => "uuid",
        }
    }
}

/// A type as written.
#[derive(Clone, Debug, PartialEq)]
pub struct Type {
    /// Which type.
    pub kind: TypeKind,
    /// Annotations written after it.
    pub annotations: Vec<Annotation>,
    /// Where.
    pub span: Span,
}

/// The shapes a written type takes.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeKind {
    /// A built-in type.
    Base(BaseType),
    /// A name, possibly qualified (`base.Id`).
    Named(String),
    /// `list<T>`.
    List(Box<Type>),
    /// `set<T>`.
    Set(Box<Type>),
    /// `map<K, V>`.
    Map(Box<Type>, Box<Type>),
}

/// A constant value as written.
#[derive(Clone, Debug, PartialEq)]
pub struct ConstValue {
    /// The value.
    pub kind: ConstValueKind,
    /// Where.
    pub span: Span,
}

/// The shapes of a written constant.
#[derive(Clone, Debug, PartialEq)]
pub enum ConstValueKind {
    /// Integer (also `true`/`false`); `None` when it overflowed i64.
    Int(Option<i64>),
    /// Floating point.
    Double(f64),
    /// String literal.
    String(String),
    /// A constant or enum value name.
    Ident(String),
    /// `[a, b]`.
    List(Vec<ConstValue>),
    /// `{k: v}`.
    Map(Vec<(ConstValue, ConstValue)>),
}
