//! What generated code uses, re-exported from one place so the runtime can
//! change underneath the stubs. Generated code refers to these items by fully
//! qualified path (`::mu2sls::codegen::...`); user code should use the
//! public modules instead.

#[doc(hidden)]
pub use bytes::Bytes;
#[doc(hidden)]
pub use uuid::Uuid;

#[doc(hidden)]
pub use crate::codec::{Decode, DecodeError, Encode, Output, Protocol, Reader, TType, Writer};
