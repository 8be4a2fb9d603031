//! A protocol-neutral tree of what travels on the wire (field ids, wire
//! types, values; never names), and a hand-written mapping from our
//! generated types to it.
//!
//! The mapping restates `tests/idl/interop.thrift` (ids, wire types,
//! requiredness) independently of the code generator, so a generator that
//! picked a wrong id or type, or dropped a field, disagrees with it.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use thrift::protocol::TType;

use super::generated::interop as idl;

/// A value as it travels: what Apache's `thrift` crate reads and writes
/// through its protocol traits.
///
/// Sets and maps are kept sorted, so equality ignores their order on the
/// wire. Doubles compare by bit pattern: NaN equals the same NaN, and -0.0
/// differs from 0.0.
#[derive(Clone, Debug)]
pub(super) enum Wire {
    Bool(bool),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    Double(f64),
    /// `string` or `binary`: the wire does not tell them apart.
    Binary(Vec<u8>),
    /// Fields in wire order. Structs, unions and exceptions alike.
    Struct(Vec<(i16, Wire)>),
    List(TType, Vec<Wire>),
    Set(TType, Vec<Wire>),
    /// Key and value types: `None` for an empty compact map, which carries
    /// none.
    Map(Option<(TType, TType)>, Vec<(Wire, Wire)>),
}

impl Wire {
    pub(super) fn set(elem: TType, mut items: Vec<Wire>) -> Wire {
        items.sort();
        Wire::Set(elem, items)
    }

    pub(super) fn map(types: Option<(TType, TType)>, mut entries: Vec<(Wire, Wire)>) -> Wire {
        entries.sort();
        Wire::Map(types, entries)
    }

    /// The wire type of this value.
    pub(super) fn ttype(&self) -> TType {
        match self {
            Wire::Bool(_) => TType::Bool,
            Wire::I8(_) => TType::I08,
            Wire::I16(_) => TType::I16,
            Wire::I32(_) => TType::I32,
            Wire::I64(_) => TType::I64,
            Wire::Double(_) => TType::Double,
            Wire::Binary(_) => TType::String,
            Wire::Struct(_) => TType::Struct,
            Wire::List(..) => TType::List,
            Wire::Set(..) => TType::Set,
            Wire::Map(..) => TType::Map,
        }
    }

    /// Whether a NaN occurs anywhere inside (then `PartialEq` on our
    /// generated types cannot say "equal", and only this tree can).
    pub(super) fn has_nan(&self) -> bool {
        match self {
            Wire::Double(d) => d.is_nan(),
            Wire::Struct(fields) => fields.iter().any(|(_, v)| v.has_nan()),
            Wire::List(_, items) | Wire::Set(_, items) => items.iter().any(Wire::has_nan),
            Wire::Map(_, entries) => entries.iter().any(|(k, v)| k.has_nan() || v.has_nan()),
            _ => false,
        }
    }
}

/// A total order on wire types, for sorting (the crate's `TType` has none).
fn type_rank(t: TType) -> u8 {
    match t {
        TType::Stop => 0,
        TType::Void => 1,
        TType::Bool => 2,
        TType::I08 => 3,
        TType::Double => 4,
        TType::I16 => 6,
        TType::I32 => 8,
        TType::I64 => 10,
        TType::String => 11,
        TType::Struct => 12,
        TType::Map => 13,
        TType::Set => 14,
        TType::List => 15,
        TType::Uuid => 16,
        TType::Utf7 => 17,
    }
}

impl Ord for Wire {
    fn cmp(&self, other: &Wire) -> Ordering {
        use Wire::*;
        match (self, other) {
            (Bool(a), Bool(b)) => a.cmp(b),
            (I8(a), I8(b)) => a.cmp(b),
            (I16(a), I16(b)) => a.cmp(b),
            (I32(a), I32(b)) => a.cmp(b),
            (I64(a), I64(b)) => a.cmp(b),
            (Double(a), Double(b)) => a.to_bits().cmp(&b.to_bits()),
            (Binary(a), Binary(b)) => a.cmp(b),
            (Struct(a), Struct(b)) => a.cmp(b),
            (List(t, a), List(u, b)) | (Set(t, a), Set(u, b)) => {
                type_rank(*t).cmp(&type_rank(*u)).then_with(|| a.cmp(b))
            }
            (Map(t, a), Map(u, b)) => {
                // An empty map's declared types are not part of its value:
                // compact drops them. (Byte comparisons check them.)
                let types = if a.is_empty() && b.is_empty() {
                    Ordering::Equal
                } else {
                    let rank = |t: &Option<(TType, TType)>| t.map(|(k, v)| (type_rank(k), type_rank(v)));
                    rank(t).cmp(&rank(u))
                };
                types.then_with(|| a.cmp(b))
            }
            _ => type_rank(self.ttype()).cmp(&type_rank(other.ttype())),
        }
    }
}

impl PartialOrd for Wire {
    fn partial_cmp(&self, other: &Wire) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Wire {
    fn eq(&self, other: &Wire) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Wire {}

/// Our generated types (and the Rust types they are built from) as wire
/// trees.
pub(super) trait AsWire {
    /// The wire type, also for containers' element types when empty.
    const TYPE: TType;
    fn as_wire(&self) -> Wire;
}

macro_rules! scalar {
    ($ty:ty, $ttype:ident, $variant:ident) => {
        impl AsWire for $ty {
            const TYPE: TType = TType::$ttype;
            fn as_wire(&self) -> Wire {
                Wire::$variant(*self)
            }
        }
    };
}

scalar!(bool, Bool, Bool);
scalar!(i8, I08, I8);
scalar!(i16, I16, I16);
scalar!(i32, I32, I32);
scalar!(i64, I64, I64);
scalar!(f64, Double, Double);

impl AsWire for String {
    const TYPE: TType = TType::String;
    fn as_wire(&self) -> Wire {
        Wire::Binary(self.as_bytes().to_vec())
    }
}

impl AsWire for Bytes {
    const TYPE: TType = TType::String;
    fn as_wire(&self) -> Wire {
        Wire::Binary(self.to_vec())
    }
}

impl<T: AsWire> AsWire for Box<T> {
    const TYPE: TType = T::TYPE;
    fn as_wire(&self) -> Wire {
        (**self).as_wire()
    }
}

impl<T: AsWire> AsWire for Vec<T> {
    const TYPE: TType = TType::List;
    fn as_wire(&self) -> Wire {
        Wire::List(T::TYPE, self.iter().map(AsWire::as_wire).collect())
    }
}

impl<T: AsWire> AsWire for HashSet<T> {
    const TYPE: TType = TType::Set;
    fn as_wire(&self) -> Wire {
        Wire::set(T::TYPE, self.iter().map(AsWire::as_wire).collect())
    }
}

impl<K: AsWire, V: AsWire> AsWire for HashMap<K, V> {
    const TYPE: TType = TType::Map;
    fn as_wire(&self) -> Wire {
        Wire::map(Some((K::TYPE, V::TYPE)), self.iter().map(|(k, v)| (k.as_wire(), v.as_wire())).collect())
    }
}

impl AsWire for idl::Color {
    const TYPE: TType = TType::I32;
    fn as_wire(&self) -> Wire {
        Wire::I32(self.0)
    }
}

/// `AsWire` for a generated struct, its fields listed as in the IDL:
/// `id: requiredness name`. `req` and `def` fields are always on the wire
/// (our codegen writes default-requiredness fields, as Apache C++ does);
/// `opt` fields only when set.
macro_rules! wire_struct {
    ($ty:ty { $($id:literal : $req:ident $field:ident),* $(,)? }) => {
        impl AsWire for $ty {
            const TYPE: TType = TType::Struct;
            fn as_wire(&self) -> Wire {
                let fields: Vec<Option<(i16, Wire)>> = vec![$(wire_struct!(@$req $id, self.$field)),*];
                Wire::Struct(fields.into_iter().flatten().collect())
            }
        }
    };
    (@req $id:literal, $v:expr) => { Some(($id, $v.as_wire())) };
    (@def $id:literal, $v:expr) => { Some(($id, $v.as_wire())) };
    (@opt $id:literal, $v:expr) => { $v.as_ref().map(|v| ($id, v.as_wire())) };
}

wire_struct!(idl::Scalars {
    1: def flag, 2: def octet, 3: def tiny, 4: def small, 5: def medium,
    6: def large, 7: def real, 8: def text, 9: def blob, 10: def color,
});
wire_struct!(idl::Point { 1: def x, 2: def y });
wire_struct!(idl::Shape { 1: def name, 2: def origin, 3: def vertices, 4: opt center });
wire_struct!(idl::Oops { 1: def message, 2: def code, 3: opt origin });
wire_struct!(idl::Containers {
    1: def ints, 2: def names, 3: def counts, 4: def points, 5: def flags, 6: def path,
    7: def nested, 8: def deep, 9: def colors, 10: def blobs, 11: def reals, 12: def bits,
    13: def grid, 14: def values, 15: def errors, 16: def truths,
});
wire_struct!(idl::Requiredness {
    1: req req_int, 2: req req_text, 3: opt opt_int, 4: opt opt_text, 5: def def_int,
    6: def def_text, 7: opt opt_flag, 8: def def_list, 9: def def_color, 10: def def_real,
    11: opt opt_point, 12: req req_point,
});
wire_struct!(idl::Sparse {
    1: def a, 2: def b, 20: def c, 21: def d, 36: def e, 100: def f, 115: def g,
    300: def h, 301: def i, 1000: def j, 1016: def k, 32767: def last,
});
wire_struct!(idl::RecordV1 { 1: def id, 2: def name, 5: def active, 12: def score });
wire_struct!(idl::RecordV2 {
    1: def id, 2: def name, 3: def origin, 4: def extra, 5: def active, 6: def archived,
    7: def level, 8: def rank, 9: def stamp, 10: def tags, 11: def data, 12: def score,
    13: def value, 14: def checks, 40: def far_flag, 41: def far_real, 200: def grid,
});
wire_struct!(idl::RecordRetyped { 1: def id, 2: def name, 5: def active, 12: def score });
wire_struct!(idl::Inner { 1: def value, 2: def inner_flag });
wire_struct!(idl::BoolAfterStruct {
    1: def inner, 2: def flag, 3: def inners, 4: def flag2, 5: def by_id, 6: def flag3,
    30: def far, 31: def flag4, 32: def value, 33: def flag5,
});
wire_struct!(idl::Tree { 1: def value, 2: def children });
wire_struct!(idl::Chain { 1: def depth, 2: opt next });
wire_struct!(idl::Empty {});
wire_struct!(idl::Holder { 1: def empty, 2: def unset, 3: def empties });

/// A union is a struct with at most one field on the wire.
impl AsWire for idl::Value {
    const TYPE: TType = TType::Struct;
    fn as_wire(&self) -> Wire {
        let field = match self {
            idl::Value::Flag(v) => Some((1, v.as_wire())),
            idl::Value::Number(v) => Some((2, v.as_wire())),
            idl::Value::Text(v) => Some((3, v.as_wire())),
            idl::Value::Point(v) => Some((4, v.as_wire())),
            idl::Value::Items(v) => Some((5, v.as_wire())),
            idl::Value::Unknown(_) => None,
        };
        Wire::Struct(field.into_iter().collect())
    }
}
