//! The resolved IDL: everything the generators see, and nothing they must
//! check again. Built by the resolver. Architecture invariant: a
//! [`Model`] exists only for input without errors, so every [`DefId`] in it
//! points at a definition of the right kind, typedef chains end, constants
//! have the type they are declared with, and field ids are unique.
//!
//! The model holds no spans, so two parses of the same IDL laid out
//! differently give equal models; `--dump-model` prints it as JSON.

use std::collections::BTreeMap;

use serde::Serialize;

pub use crate::ast::{BaseType, Requiredness, StructKind};

/// All programs of one run: the root files and everything they include.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Model {
    /// Every program, included ones before the programs including them.
    pub programs: Vec<Program>,
    /// The programs named on the command line, in order.
    pub roots: Vec<usize>,
}

/// Names a definition: the program's index in [`Model::programs`] and the
/// definition's index in the vector of its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct DefId {
    /// Index into [`Model::programs`].
    pub program: usize,
    /// Index into the program's `structs`, `enums`, `typedefs`, `services` or `consts`.
    pub index: usize,
}

/// Annotations, in the order written.
pub type Annotations = Vec<(String, String)>;

/// One `.thrift` file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Program {
    /// The file's basename without `.thrift`: what other files qualify names with.
    pub name: String,
    /// The path the file was read from, as shown in diagnostics.
    pub path: String,
    /// `namespace` declarations by scope (`*` included).
    pub namespaces: BTreeMap<String, String>,
    /// Included programs, by index, in the order of the `include` lines.
    pub includes: Vec<usize>,
    /// `cpp_include` paths (unused by the Rust generator).
    pub cpp_includes: Vec<String>,
    /// Typedefs, in source order (senums appear here as `string` typedefs).
    pub typedefs: Vec<Typedef>,
    /// Enums, in source order.
    pub enums: Vec<Enum>,
    /// Structs, unions and exceptions, in source order.
    pub structs: Vec<Struct>,
    /// Services, in source order.
    pub services: Vec<Service>,
    /// Constants, in source order.
    pub consts: Vec<Const>,
}

impl Program {
    /// The namespace for `scope`, falling back to `*`.
    pub fn namespace(&self, scope: &str) -> Option<&str> {
        self.namespaces.get(scope).or_else(|| self.namespaces.get("*")).map(String::as_str)
    }
}

/// A type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Type {
    /// A built-in type.
    Base(BaseType),
    /// `list<T>`.
    List(Box<Type>),
    /// `set<T>`.
    Set(Box<Type>),
    /// `map<K, V>`.
    Map(Box<Type>, Box<Type>),
    /// A struct, union or exception.
    Struct(DefId),
    /// An enum.
    Enum(DefId),
    /// A typedef (kept so generators can use the alias).
    Typedef(DefId),
}

/// `typedef T Name`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Typedef {
    /// Doc comment.
    pub doc: Option<String>,
    /// Name.
    pub name: String,
    /// What it names.
    pub target: Type,
    /// Annotations.
    pub annotations: Annotations,
}

/// An enum.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Enum {
    /// Doc comment.
    pub doc: Option<String>,
    /// Name.
    pub name: String,
    /// Members, in source order.
    pub values: Vec<EnumValue>,
    /// Annotations.
    pub annotations: Annotations,
}

/// One enum member.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EnumValue {
    /// Doc comment.
    pub doc: Option<String>,
    /// Name.
    pub name: String,
    /// Value, explicit or implied.
    pub value: i32,
    /// Annotations.
    pub annotations: Annotations,
}

/// A struct, union or exception.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Struct {
    /// Doc comment.
    pub doc: Option<String>,
    /// Which kind.
    pub kind: StructKind,
    /// Name.
    pub name: String,
    /// Fields, in source order.
    pub fields: Vec<Field>,
    /// Annotations.
    pub annotations: Annotations,
}

/// A field, argument or `throws` entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Field {
    /// Doc comment.
    pub doc: Option<String>,
    /// Wire id.
    pub id: i16,
    /// Whether the id was left out and assigned (negative).
    pub implicit_id: bool,
    /// Name.
    pub name: String,
    /// Type.
    pub ty: Type,
    /// Requiredness (`required` on a union member is reported and dropped).
    pub requiredness: Requiredness,
    /// Default value, checked against `ty`.
    pub default: Option<Value>,
    /// Whether the field must be boxed: its type holds the enclosing struct
    /// by value (directly or through other structs), not through a container.
    pub recursive: bool,
    /// Annotations.
    pub annotations: Annotations,
}

/// A service.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Service {
    /// Doc comment.
    pub doc: Option<String>,
    /// Name.
    pub name: String,
    /// The service it extends.
    pub extends: Option<DefId>,
    /// Methods declared here (not inherited), in source order.
    pub functions: Vec<Function>,
    /// Annotations.
    pub annotations: Annotations,
}

/// A method.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Function {
    /// Doc comment.
    pub doc: Option<String>,
    /// Name.
    pub name: String,
    /// `oneway` (or the deprecated `async`).
    pub oneway: bool,
    /// Result type; `None` for `void`.
    pub returns: Option<Type>,
    /// Arguments.
    pub args: Vec<Field>,
    /// Declared exceptions.
    pub throws: Vec<Field>,
    /// Annotations.
    pub annotations: Annotations,
}

/// `const T NAME = value`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Const {
    /// Doc comment.
    pub doc: Option<String>,
    /// Name.
    pub name: String,
    /// Declared type.
    pub ty: Type,
    /// Value, of the declared type.
    pub value: Value,
    /// Annotations.
    pub annotations: Annotations,
}

/// A checked constant value; its shape follows the type it was checked
/// against (an integer literal in a `double` constant is a `Double`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    /// `bool`.
    Bool(bool),
    /// `i8`, `i16`, `i32` or `i64`, in range for its type.
    Int(i64),
    /// `double`.
    Double(f64),
    /// `string` or `binary` (binary constants are the UTF-8 bytes).
    String(String),
    /// `uuid`, in canonical lowercase hyphenated form.
    Uuid(String),
    /// An enum value: always a declared member.
    Enum {
        /// The enum.
        def: DefId,
        /// The member's name.
        name: String,
        /// The member's value.
        value: i32,
    },
    /// `list<T>`.
    List(Vec<Value>),
    /// `set<T>`.
    Set(Vec<Value>),
    /// `map<K, V>`, in source order.
    Map(Vec<(Value, Value)>),
    /// A struct, union or exception: field name and value, in source order.
    Struct {
        /// The struct.
        def: DefId,
        /// Fields given.
        fields: Vec<(String, Value)>,
    },
}

impl Model {
    /// The program at `index`.
    pub fn program(&self, index: usize) -> &Program {
        &self.programs[index]
    }

    /// The struct a [`DefId`] names.
    pub fn struct_def(&self, id: DefId) -> &Struct {
        &self.programs[id.program].structs[id.index]
    }

    /// The enum a [`DefId`] names.
    pub fn enum_def(&self, id: DefId) -> &Enum {
        &self.programs[id.program].enums[id.index]
    }

    /// The typedef a [`DefId`] names.
    pub fn typedef(&self, id: DefId) -> &Typedef {
        &self.programs[id.program].typedefs[id.index]
    }

    /// The service a [`DefId`] names.
    pub fn service(&self, id: DefId) -> &Service {
        &self.programs[id.program].services[id.index]
    }

    /// The constant a [`DefId`] names.
    pub fn const_def(&self, id: DefId) -> &Const {
        &self.programs[id.program].consts[id.index]
    }

    /// `ty` with typedefs followed to the type they name (containers keep
    /// their element types as written).
    pub fn resolve<'a>(&'a self, mut ty: &'a Type) -> &'a Type {
        // Typedef chains are acyclic in a model, and no longer than the number of typedefs.
        while let Type::Typedef(id) = ty {
            ty = &self.typedef(*id).target;
        }
        ty
    }
}
