//! Server middleware, one per file: each is a [`Layer`](crate::Layer) and
//! the [`Service`](crate::Service) it wraps around an inner one.

mod timeout;

pub use timeout::{Timeout, TimeoutLayer};
