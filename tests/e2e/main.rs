//! End-to-end tests.

mod codec_interop;
mod synth;
