//! [`Encode`] and [`Decode`] for the types generated code is built from:
//! scalars, `String`, `Bytes`, `Uuid` and the standard containers.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, Hash};

use bytes::Bytes;

use super::{Decode, DecodeError, DecodeErrorKind, Encode, Output, Protocol, Reader, TType, Writer};

macro_rules! scalar {
    ($ty:ty, $ttype:ident, $write:ident, $read:ident) => {
        impl Encode for $ty {
            const TTYPE: TType = TType::$ttype;
            #[inline]
            fn encode<P: Protocol, O: Output>(&self, w: &mut Writer<P, O>) {
                w.$write(*self);
            }
        }
        impl Decode for $ty {
            #[inline]
            fn decode<P: Protocol>(r: &mut Reader<'_, P>) -> Result<Self, DecodeError> {
                r.$read()
            }
        }
    };
}

scalar!(bool, Bool, bool, bool);
scalar!(i8, I8, i8, i8);
scalar!(i16, I16, i16, i16);
scalar!(i32, I32, i32, i32);
scalar!(i64, I64, i64, i64);
scalar!(f64, Double, double, double);

impl Encode for String {
    const TTYPE: TType = TType::Binary;
    #[inline]
    fn encode<P: Protocol, O: Output>(&self, w: &mut Writer<P, O>) {
        w.string(self);
    }
}

impl Decode for String {
    #[inline]
    fn decode<P: Protocol>(r: &mut Reader<'_, P>) -> Result<Self, DecodeError> {
        r.string()
    }
}

impl Encode for str {
    const TTYPE: TType = TType::Binary;
    #[inline]
    fn encode<P: Protocol, O: Output>(&self, w: &mut Writer<P, O>) {
        w.string(self);
    }
}

impl Encode for Bytes {
    const TTYPE: TType = TType::Binary;
    #[inline]
    fn encode<P: Protocol, O: Output>(&self, w: &mut Writer<P, O>) {
        w.binary(self);
    }
}

impl Decode for Bytes {
    #[inline]
    fn decode<P: Protocol>(r: &mut Reader<'_, P>) -> Result<Self, DecodeError> {
        r.binary()
    }
}

impl Encode for uuid::Uuid {
    const TTYPE: TType = TType::Uuid;
    #[inline]
    fn encode<P: Protocol, O: Output>(&self, w: &mut Writer<P, O>) {
        w.uuid(self);
    }
}

impl Decode for uuid::Uuid {
    #[inline]
    fn decode<P: Protocol>(r: &mut Reader<'_, P>) -> Result<Self, DecodeError> {
        r.uuid()
    }
}

impl<T: Encode + ?Sized> Encode for Box<T> {
    const TTYPE: TType = T::TTYPE;
    #[inline]
    fn encode<P: Protocol, O: Output>(&self, w: &mut Writer<P, O>) {
        (**self).encode(w);
    }
}

impl<T: Decode> Decode for Box<T> {
    #[inline]
    fn decode<P: Protocol>(r: &mut Reader<'_, P>) -> Result<Self, DecodeError> {
        T::decode(r).map(Box::new)
    }
}

/// Checks that a container's declared element type is the one expected.
fn expect_type<P: Protocol>(r: &Reader<'_, P>, found: TType, want: TType) -> Result<(), DecodeError> {
    if found == want {
        Ok(())
    } else {
        Err(r.error(DecodeErrorKind::InvalidValue("container element type does not match the schema")))
    }
}

fn encode_seq<'a, T: Encode + 'a, P: Protocol, O: Output>(
    w: &mut Writer<P, O>,
    len: usize,
    items: impl Iterator<Item = &'a T>,
) {
    w.list_begin(T::TTYPE, len);
    for item in items {
        item.encode(w);
    }
}

impl<T: Encode> Encode for Vec<T> {
    const TTYPE: TType = TType::List;
    fn encode<P: Protocol, O: Output>(&self, w: &mut Writer<P, O>) {
        encode_seq(w, self.len(), self.iter());
    }
}

impl<T: Encode> Encode for [T] {
    const TTYPE: TType = TType::List;
    fn encode<P: Protocol, O: Output>(&self, w: &mut Writer<P, O>) {
        encode_seq(w, self.len(), self.iter());
    }
}

impl<T: Decode + Encode> Decode for Vec<T> {
    fn decode<P: Protocol>(r: &mut Reader<'_, P>) -> Result<Self, DecodeError> {
        let (t, n) = r.list_begin()?;
        if n > 0 {
            expect_type(r, t, T::TTYPE)?;
        }
        // `n` is bounded by the bytes that remain, so this cannot be abused
        // to allocate more than the input justifies.
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(T::decode(r)?);
        }
        r.list_end();
        Ok(v)
    }
}

impl<T: Encode, S> Encode for HashSet<T, S> {
    const TTYPE: TType = TType::Set;
    fn encode<P: Protocol, O: Output>(&self, w: &mut Writer<P, O>) {
        encode_seq(w, self.len(), self.iter());
    }
}

impl<T: Decode + Encode + Eq + Hash, S: BuildHasher + Default> Decode for HashSet<T, S> {
    fn decode<P: Protocol>(r: &mut Reader<'_, P>) -> Result<Self, DecodeError> {
        let (t, n) = r.set_begin()?;
        if n > 0 {
            expect_type(r, t, T::TTYPE)?;
        }
        let mut set = HashSet::with_capacity_and_hasher(n, S::default());
        for _ in 0..n {
            set.insert(T::decode(r)?);
        }
        r.set_end();
        Ok(set)
    }
}

impl<T: Encode> Encode for BTreeSet<T> {
    const TTYPE: TType = TType::Set;
    fn encode<P: Protocol, O: Output>(&self, w: &mut Writer<P, O>) {
        encode_seq(w, self.len(), self.iter());
    }
}

impl<T: Decode + Encode + Ord> Decode for BTreeSet<T> {
    fn decode<P: Protocol>(r: &mut Reader<'_, P>) -> Result<Self, DecodeError> {
        let (t, n) = r.set_begin()?;
        if n > 0 {
            expect_type(r, t, T::TTYPE)?;
        }
        let mut set = BTreeSet::new();
        for _ in 0..n {
            set.insert(T::decode(r)?);
        }
        r.set_end();
        Ok(set)
    }
}

fn encode_map<'a, K: Encode + 'a, V: Encode + 'a, P: Protocol, O: Output>(
    w: &mut Writer<P, O>,
    len: usize,
    entries: impl Iterator<Item = (&'a K, &'a V)>,
) {
    w.map_begin(K::TTYPE, V::TTYPE, len);
    for (k, v) in entries {
        k.encode(w);
        v.encode(w);
    }
}

fn decode_map<K: Decode + Encode, V: Decode + Encode, P: Protocol>(
    r: &mut Reader<'_, P>,
    mut insert: impl FnMut(K, V),
) -> Result<usize, DecodeError> {
    let (types, n) = r.map_begin()?;
    if let Some((kt, vt)) = types {
        expect_type(r, kt, K::TTYPE)?;
        expect_type(r, vt, V::TTYPE)?;
        for _ in 0..n {
            let k = K::decode(r)?;
            let v = V::decode(r)?;
            insert(k, v);
        }
    }
    r.map_end();
    Ok(n)
}

impl<K: Encode, V: Encode, S> Encode for HashMap<K, V, S> {
    const TTYPE: TType = TType::Map;
    fn encode<P: Protocol, O: Output>(&self, w: &mut Writer<P, O>) {
        encode_map(w, self.len(), self.iter());
    }
}

impl<K: Decode + Encode + Eq + Hash, V: Decode + Encode, S: BuildHasher + Default> Decode for HashMap<K, V, S> {
    fn decode<P: Protocol>(r: &mut Reader<'_, P>) -> Result<Self, DecodeError> {
        let mut map = HashMap::with_hasher(S::default());
        decode_map(r, |k, v| {
            map.insert(k, v);
        })?;
        Ok(map)
    }
}

impl<K: Encode, V: Encode> Encode for BTreeMap<K, V> {
    const TTYPE: TType = TType::Map;
    fn encode<P: Protocol, O: Output>(&self, w: &mut Writer<P, O>) {
        encode_map(w, self.len(), self.iter());
    }
}

impl<K: Decode + Encode + Ord, V: Decode + Encode> Decode for BTreeMap<K, V> {
    fn decode<P: Protocol>(r: &mut Reader<'_, P>) -> Result<Self, DecodeError> {
        let mut map = BTreeMap::new();
        decode_map(r, |k, v| {
            map.insert(k, v);
        })?;
        Ok(map)
    }
}

impl<T: Encode + ?Sized> Encode for &T {
    const TTYPE: TType = T::TTYPE;
    #[inline]
    fn encode<P: Protocol, O: Output>(&self, w: &mut Writer<P, O>) {
        (**self).encode(w);
    }
}

/// Borrowed bytes written as a Thrift `binary` (a `&[u8]` alone would be a
/// `list<i8>`). Generated clients take `binary` arguments as `&[u8]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BinaryRef<'a>(pub &'a [u8]);

impl Encode for BinaryRef<'_> {
    const TTYPE: TType = TType::Binary;
    #[inline]
    fn encode<P: Protocol, O: Output>(&self, w: &mut Writer<P, O>) {
        w.binary(self.0);
    }
}
