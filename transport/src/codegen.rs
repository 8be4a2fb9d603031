//! What generated code uses, re-exported from one place so the runtime can
//! change underneath the stubs. Generated code refers to these items by fully
//! qualified path (`::mu2sls::codegen::...`) and user code should not.

#[doc(hidden)]
pub use bytes::Bytes;
#[doc(hidden)]
pub use uuid::Uuid;
