//! `MessageCodec` cutting a byte stream into messages, for both framings
//! and both protocols, with the stream arriving in two chunks.
//!
//! Input layout: the first byte says where the rest is split
//! (`data[0] / 255` of the way in); the rest is the stream.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mu2sls_fuzz::frames_target(data));
