//! The canonical encoding of a struct value (exactly-once.md §2.2: request
//! fingerprints hash canonically encoded arguments): the binary protocol,
//! struct fields in ascending id order, set elements and map entries
//! sorted by their canonical bytes, an empty map without key and value
//! types. The same value has the same canonical bytes whichever protocol
//! carried it and in whatever order the sender wrote its fields, sets and
//! maps; different values have different ones.
//!
//! Only for fingerprints: the output is not meant to be decoded.

use super::{Binary, DecodeError, Limits, Protocol, Reader, TType, Writer};

/// The canonical bytes of the struct value at the start of `bytes`,
/// encoded in protocol `P`: what exactly-once request fingerprints hash.
///
/// ```
/// use mu2sls::codec::{Binary, Compact, TType, Writer, canonical_struct};
///
/// fn set_of<P: mu2sls::codec::Protocol>(items: &[i32]) -> Vec<u8> {
///     let mut w = Writer::<P, Vec<u8>>::new(Vec::new());
///     w.struct_begin();
///     w.field_begin(TType::Set, 1);
///     w.set_begin(TType::I32, items.len());
///     items.iter().for_each(|i| w.i32(*i));
///     w.struct_end();
///     w.into_inner()
/// }
/// let a = canonical_struct::<Binary>(&set_of::<Binary>(&[1, 2])).unwrap();
/// let b = canonical_struct::<Compact>(&set_of::<Compact>(&[2, 1])).unwrap();
/// assert_eq!(a, b);
/// ```
pub fn canonical_struct<P: Protocol>(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut r = Reader::<P>::from_slice(bytes, Limits::default());
    value(&mut r, TType::Struct)
}

/// One value of type `t`, canonically encoded.
fn value<P: Protocol>(r: &mut Reader<'_, P>, t: TType) -> Result<Vec<u8>, DecodeError> {
    let mut w = Writer::<Binary, Vec<u8>>::new(Vec::new());
    match t {
        TType::Stop => {
            // `skip` reports the invalid type with its position.
            r.skip(t)?;
        }
        TType::Bool => w.bool(r.bool()?),
        TType::I8 => w.i8(r.i8()?),
        TType::I16 => w.i16(r.i16()?),
        TType::I32 => w.i32(r.i32()?),
        TType::I64 => w.i64(r.i64()?),
        TType::Double => w.double(r.double()?),
        TType::Uuid => w.uuid(&r.uuid()?),
        TType::Binary => w.binary(&r.binary()?),
        TType::Struct => {
            r.struct_begin()?;
            let mut fields = Vec::new();
            while let Some((ft, id)) = r.field_begin()? {
                fields.push((id, ft, value(r, ft)?));
            }
            r.struct_end();
            fields.sort_by_key(|(id, _, _)| *id);
            w.struct_begin();
            for (id, ft, bytes) in &fields {
                w.field_begin(*ft, *id);
                w.raw(bytes);
            }
            w.struct_end();
        }
        TType::List | TType::Set => {
            let (et, n) = r.list_begin()?;
            let mut elements = Vec::with_capacity(n);
            for _ in 0..n {
                elements.push(value(r, et)?);
            }
            r.list_end();
            if t == TType::Set {
                elements.sort();
            }
            if t == TType::Set {
                w.set_begin(et, n);
            } else {
                w.list_begin(et, n);
            }
            elements.iter().for_each(|e| w.raw(e));
        }
        TType::Map => {
            let (types, n) = r.map_begin()?;
            let mut entries = Vec::with_capacity(n);
            if let Some((kt, vt)) = types {
                for _ in 0..n {
                    entries.push((value(r, kt)?, value(r, vt)?));
                }
            }
            r.map_end();
            entries.sort();
            match types.filter(|_| n > 0) {
                Some((kt, vt)) => w.map_begin(kt, vt, n),
                // Compact writes no types for an empty map; binary does.
                None => w.map_begin(TType::Stop, TType::Stop, 0),
            }
            for (k, v) in &entries {
                w.raw(k);
                w.raw(v);
            }
        }
    }
    Ok(w.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Compact;

    /// `{1: i32 = 7, 2: map<string, list<i64>>, 3: set<string>}`, with the
    /// fields, the map entries and the set elements in the given orders.
    fn sample<P: Protocol>(field_order: &[i16], map_order: &[&str], set_order: &[&str], seven: i32) -> Vec<u8> {
        let mut w = Writer::<P, Vec<u8>>::new(Vec::new());
        w.struct_begin();
        for id in field_order {
            match id {
                1 => {
                    w.field_begin(TType::I32, 1);
                    w.i32(seven);
                }
                2 => {
                    w.field_begin(TType::Map, 2);
                    w.map_begin(TType::Binary, TType::List, map_order.len());
                    for k in map_order {
                        w.string(k);
                        w.list_begin(TType::I64, 2);
                        w.i64(k.len() as i64);
                        w.i64(-1);
                    }
                }
                _ => {
                    w.field_begin(TType::Set, 3);
                    w.set_begin(TType::Binary, set_order.len());
                    for e in set_order {
                        w.string(e);
                    }
                }
            }
        }
        w.struct_end();
        w.into_inner()
    }

    #[test]
    fn one_value_has_one_canonical_encoding() {
        let a = canonical_struct::<Binary>(&sample::<Binary>(&[1, 2, 3], &["a", "bb"], &["x", "y"], 7)).unwrap();
        let b = canonical_struct::<Compact>(&sample::<Compact>(&[3, 2, 1], &["bb", "a"], &["y", "x"], 7)).unwrap();
        assert_eq!(a, b, "protocol, field, entry and element order do not matter");
        let c = canonical_struct::<Binary>(&sample::<Binary>(&[1, 2, 3], &["a", "bb"], &["x", "y"], 8)).unwrap();
        assert_ne!(a, c, "another value, other bytes");
        // List order is part of the value.
        let list = |items: &[i32]| {
            let mut w = Writer::<Binary, Vec<u8>>::new(Vec::new());
            w.struct_begin();
            w.field_begin(TType::List, 1);
            w.list_begin(TType::I32, items.len());
            items.iter().for_each(|i| w.i32(*i));
            w.struct_end();
            canonical_struct::<Binary>(&w.into_inner()).unwrap()
        };
        assert_ne!(list(&[1, 2]), list(&[2, 1]));
    }

    /// A struct whose field 1 is an empty `map<i32, i64>`, canonically.
    fn empty_map<P: Protocol>() -> Vec<u8> {
        let mut w = Writer::<P, Vec<u8>>::new(Vec::new());
        w.struct_begin();
        w.field_begin(TType::Map, 1);
        w.map_begin(TType::I32, TType::I64, 0);
        w.struct_end();
        canonical_struct::<P>(&w.into_inner()).unwrap()
    }

    #[test]
    fn empty_maps_are_alike_in_both_protocols() {
        // Compact writes no key and value types for an empty map.
        assert_eq!(empty_map::<Binary>(), empty_map::<Compact>());
    }

    proptest::proptest! {
        /// Whatever the bytes, an answer and no panic (the walk is bounded
        /// by the reader's depth and length checks).
        #[test]
        fn any_bytes_are_walked_safely(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = canonical_struct::<Binary>(&bytes);
            let _ = canonical_struct::<Compact>(&bytes);
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        for bad in [&b""[..], &[0x0b, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff][..], &[0x0c; 200][..]] {
            assert!(canonical_struct::<Binary>(bad).is_err(), "{bad:?}");
        }
    }
}
