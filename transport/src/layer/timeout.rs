//! A deadline per call: a call still running when it passes is answered
//! with an `ApplicationException` (INTERNAL_ERROR, "deadline exceeded"),
//! and its handler future is dropped.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;

use crate::protocol::ApplicationException;
use crate::service::{CallContext, Incoming, Layer, Service, exception_for};

/// Adds a [`Timeout`] around a service.
#[derive(Clone, Copy, Debug)]
pub struct TimeoutLayer {
    limit: Duration,
}

impl TimeoutLayer {
    /// Calls longer than `limit` are cut off.
    pub fn new(limit: Duration) -> TimeoutLayer {
        TimeoutLayer { limit }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;
    fn layer(&self, inner: S) -> Timeout<S> {
        Timeout { inner, limit: self.limit }
    }
}

/// Answers calls that outlive their deadline with an exception.
#[derive(Clone, Debug)]
pub struct Timeout<S> {
    inner: S,
    limit: Duration,
}

impl<S> Service<CallContext, Incoming> for Timeout<S>
where
    S: Service<CallContext, Incoming, Response = Option<Bytes>, Error = Infallible>,
{
    type Response = Option<Bytes>;
    type Error = Infallible;

    async fn call(&self, cx: &mut CallContext, req: Incoming) -> Result<Option<Bytes>, Infallible> {
        let snapshot = cx.clone();
        match tokio::time::timeout(self.limit, self.inner.call(cx, req)).await {
            Ok(reply) => reply,
            Err(_) => {
                tracing::warn!(limit_ms = self.limit.as_millis() as u64, "call exceeded its deadline");
                let e = ApplicationException::internal(format!("deadline of {:?} exceeded", self.limit));
                Ok(Some(exception_for(&snapshot, &e)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::codec::{Binary, MessageType, Reader};
    use crate::service::Identity;
    use crate::transport::ProtocolKind;
    use crate::{ApplicationExceptionKind, Stack};

    /// A scripted inner service: answers after `delay`, counting calls.
    struct Scripted {
        delay: Duration,
        calls: Arc<AtomicUsize>,
    }

    impl Service<CallContext, Incoming> for Scripted {
        type Response = Option<Bytes>;
        type Error = Infallible;
        fn call(
            &self,
            _: &mut CallContext,
            _: Incoming,
        ) -> impl std::future::Future<Output = Result<Option<Bytes>, Infallible>> + Send {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let delay = self.delay;
            async move {
                tokio::time::sleep(delay).await;
                Ok(Some(Bytes::from_static(b"done")))
            }
        }
    }

    fn cx() -> CallContext {
        CallContext::new("slow", 7, None, ProtocolKind::Binary)
    }

    #[tokio::test(start_paused = true)]
    async fn slow_calls_get_an_exception_and_fast_ones_pass() {
        let calls = Arc::new(AtomicUsize::new(0));
        let layers = Stack::new(TimeoutLayer::new(Duration::from_secs(1)), Identity);
        let slow = layers.layer(Scripted { delay: Duration::from_secs(5), calls: calls.clone() });
        let reply = slow.call(&mut cx(), Incoming::new(Bytes::new(), 0)).await.unwrap().unwrap();
        let mut r = Reader::<Binary>::new(&reply);
        let header = r.message_begin().unwrap();
        assert_eq!((header.name.as_str(), header.kind, header.seq), ("slow", MessageType::Exception, 7));
        let e: ApplicationException = crate::codec::Decode::decode(&mut r).unwrap();
        assert_eq!(e.kind, ApplicationExceptionKind::INTERNAL_ERROR);
        assert!(e.message.contains("deadline"), "{}", e.message);

        let fast = layers.layer(Scripted { delay: Duration::from_millis(10), calls: calls.clone() });
        let reply = fast.call(&mut cx(), Incoming::new(Bytes::new(), 0)).await.unwrap();
        assert_eq!(reply.as_deref(), Some(&b"done"[..]));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
