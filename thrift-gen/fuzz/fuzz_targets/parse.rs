//! Lexer and parser on arbitrary text, then diagnostic rendering.
//!
//! Input: any bytes, read as UTF-8 with invalid sequences replaced (the
//! front end only ever sees `&str`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (_document, sources, diagnostics) = thrift_gen::parse_str("fuzz.thrift", &text);
    thrift_gen_fuzz::assert_spans_in_bounds(&sources, &diagnostics);
    thrift_gen_fuzz::render_all(&sources, &diagnostics);
});
