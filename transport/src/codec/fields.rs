//! Struct fields, for generated code: the few steps every generated
//! `encode` and `decode` repeats per field, written once here so the
//! generated code stays short (`::mu2sls::codegen::encode_field(w, 1, &self.x);`).

use super::{Decode, DecodeError, Encode, Output, Protocol, Reader, Writer};

/// Writes field `id` holding `value`, with `T`'s wire type.
#[inline]
pub fn encode_field<P: Protocol, O: Output, T: Encode + ?Sized>(w: &mut Writer<P, O>, id: i16, value: &T) {
    w.field_begin(T::TTYPE, id);
    value.encode(w);
}

/// Writes field `id` if `value` is set; an unset optional field is absent.
#[inline]
pub fn encode_optional<P: Protocol, O: Output, T: Encode>(w: &mut Writer<P, O>, id: i16, value: &Option<T>) {
    if let Some(v) = value {
        encode_field(w, id, v);
    }
}

/// Decodes a field's value; an error names the field (`path`:
/// `Struct.field`).
#[inline]
pub fn decode_field<P: Protocol, T: Decode>(r: &mut Reader<'_, P>, path: &'static str) -> Result<T, DecodeError> {
    T::decode(r).map_err(|e| e.within(path))
}

/// [`decode_field`], as the `Some` a generated decoder keeps until the
/// struct ends.
#[inline]
pub fn decode_some<P: Protocol, T: Decode>(
    r: &mut Reader<'_, P>,
    path: &'static str,
) -> Result<Option<T>, DecodeError> {
    decode_field(r, path).map(Some)
}

/// The value of the required field `path`, or a `MissingRequired` error at
/// the reader's position (the end of the struct) if the input had none.
#[inline]
pub fn required<P: Protocol, T>(value: Option<T>, r: &Reader<'_, P>, path: &'static str) -> Result<T, DecodeError> {
    match value {
        Some(v) => Ok(v),
        None => Err(DecodeError::missing_required(path, r.position())),
    }
}
