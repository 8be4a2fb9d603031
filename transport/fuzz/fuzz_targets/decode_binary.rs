//! The binary decoder on arbitrary bytes, as every generated type.
//!
//! Input layout: the first byte selects the type (`mu2sls_fuzz::TYPE_NAMES`,
//! modulo its length); the rest is the encoded value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mu2sls::codec::Binary;

fuzz_target!(|data: &[u8]| mu2sls_fuzz::decode_target::<Binary>(data));
