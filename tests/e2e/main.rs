//! End-to-end tests.

mod synth;
