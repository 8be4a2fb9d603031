//! Several connections to one endpoint ([`ChannelBuilder::connections`]).
//!
//! Our servers run the calls pipelined on a connection concurrently, so one
//! connection is enough for them. Apache's servers answer a connection's
//! calls one at a time, in order: against them, calls run concurrently
//! only on separate connections. A pool holds a fixed number of slots,
//! each with at most one live connection; a call leases the slot with the
//! fewest calls in flight (taking turns among equals), and a slot whose
//! connection died connects again on its next call.
//!
//! [`ChannelBuilder::connections`]: super::ChannelBuilder::connections

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Connection;

/// The connection slots of a channel.
#[derive(Debug)]
pub(super) struct Pool {
    slots: Box<[Slot]>,
    /// Where the next search for the least-loaded slot starts.
    next: AtomicUsize,
}

/// One connection of a pool, made on first use and remade once dead.
#[derive(Debug, Default)]
pub(super) struct Slot {
    pub(super) conn: tokio::sync::Mutex<Option<Arc<Connection>>>,
    /// Calls leased to this slot and not yet done.
    load: AtomicUsize,
}

/// A call's claim on a slot, counted in its load until dropped.
#[derive(Debug)]
pub(super) struct Lease<'a> {
    pub(super) slot: &'a Slot,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.slot.load.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Pool {
    /// A pool of `n` slots (at least one), none connected yet.
    pub(super) fn new(n: usize) -> Pool {
        Pool { slots: (0..n.max(1)).map(|_| Slot::default()).collect(), next: AtomicUsize::new(0) }
    }

    /// The slot with the fewest calls in flight, counting this one.
    pub(super) fn lease(&self) -> Lease<'_> {
        let n = self.slots.len();
        let start = if n == 1 { 0 } else { self.next.fetch_add(1, Ordering::Relaxed) % n };
        let slot = (0..n)
            .map(|i| &self.slots[(start + i) % n])
            .min_by_key(|s| s.load.load(Ordering::Relaxed))
            .expect("a pool has a slot");
        slot.load.fetch_add(1, Ordering::Relaxed);
        Lease { slot }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use futures_util::{SinkExt, StreamExt};
    use tokio::net::TcpListener;
    use tokio::sync::Barrier;
    use tokio_util::codec::Framed;

    use super::*;
    use crate::client::{Channel, TransportError, read_header};
    use crate::codec::{Binary, MessageType};
    use crate::protocol::{ApplicationException, ApplicationExceptionKind};
    use crate::service::encode_message;
    use crate::transport::{Framing, MessageCodec, ProtocolKind};

    const BOUND: std::time::Duration = std::time::Duration::from_secs(60);

    fn body(text: &str) -> ApplicationException {
        ApplicationException::new(ApplicationExceptionKind::UNKNOWN, text)
    }

    /// What an Apache-like server saw.
    #[derive(Default)]
    struct Seen {
        accepted: AtomicUsize,
        running: AtomicUsize,
        most_running: AtomicUsize,
    }

    /// A server that, like Apache's, answers each connection's calls one
    /// at a time. Each call waits at `barrier` (if any) before its reply,
    /// and a call named `hang_up` closes its connection unanswered.
    async fn one_at_a_time(barrier: Option<Arc<Barrier>>) -> (String, Arc<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Seen::default());
        let counts = seen.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                counts.accepted.fetch_add(1, Ordering::SeqCst);
                let (counts, barrier) = (counts.clone(), barrier.clone());
                tokio::spawn(async move {
                    let codec = MessageCodec::new(Framing::Framed, ProtocolKind::Binary, 1 << 20);
                    let mut framed = Framed::new(stream, codec);
                    while let Some(Ok(call)) = framed.next().await {
                        let (header, _) = read_header::<Binary>(&call).unwrap();
                        if header.name == "hang_up" {
                            return;
                        }
                        let now = counts.running.fetch_add(1, Ordering::SeqCst) + 1;
                        counts.most_running.fetch_max(now, Ordering::SeqCst);
                        if let Some(b) = &barrier {
                            b.wait().await;
                        }
                        counts.running.fetch_sub(1, Ordering::SeqCst);
                        let reply =
                            encode_message::<Binary, _>(&header.name, MessageType::Reply, header.seq, &body("ok"));
                        framed.send(reply).await.unwrap();
                    }
                });
            }
        });
        (addr, seen)
    }

    async fn calls(channel: &Channel, n: usize) -> Vec<Result<crate::client::Reply, TransportError>> {
        let args = body("call");
        let calls = (0..n).map(|_| channel.call("work", &args));
        tokio::time::timeout(BOUND, futures_util::future::join_all(calls)).await.expect("the calls hang")
    }

    #[tokio::test]
    async fn calls_spread_over_the_connections_of_a_pool() {
        // The barrier opens only when four calls run at once: on a server
        // serving each connection one call at a time, only four
        // connections get there.
        let (addr, seen) = one_at_a_time(Some(Arc::new(Barrier::new(4)))).await;
        let channel = Channel::builder(addr).connections(4).build();
        for reply in calls(&channel, 4).await {
            assert_eq!(reply.expect("a reply").header().kind, MessageType::Reply);
        }
        assert_eq!(seen.most_running.load(Ordering::SeqCst), 4);
        assert_eq!(seen.accepted.load(Ordering::SeqCst), 4);
        // Later calls reuse the pool's connections.
        for _ in 0..2 {
            assert!(calls(&channel, 4).await.iter().all(Result::is_ok));
        }
        assert_eq!(seen.accepted.load(Ordering::SeqCst), 4, "no new connections");
    }

    #[tokio::test]
    async fn by_default_a_channel_has_one_connection() {
        let (addr, seen) = one_at_a_time(None).await;
        let channel = Channel::new(addr);
        assert!(calls(&channel, 8).await.iter().all(Result::is_ok));
        assert_eq!(seen.accepted.load(Ordering::SeqCst), 1);
        assert_eq!(seen.most_running.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn dead_connections_are_replaced() {
        let (addr, seen) = one_at_a_time(None).await;
        let channel = Channel::builder(addr).connections(2).build();
        assert!(calls(&channel, 2).await.iter().all(Result::is_ok));
        assert_eq!(seen.accepted.load(Ordering::SeqCst), 2);
        // The server drops both connections.
        let args = body("");
        let (first, second) = tokio::join!(channel.call("hang_up", &args), channel.call("hang_up", &args));
        for lost in [first, second] {
            assert!(matches!(lost, Err(TransportError::Closed(_))), "{lost:?}");
        }
        assert_eq!(seen.accepted.load(Ordering::SeqCst), 2);
        // The next calls connect again, one connection per slot.
        assert!(calls(&channel, 2).await.iter().all(Result::is_ok));
        assert_eq!(seen.accepted.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn leases_go_to_the_least_loaded_slot() {
        let pool = Pool::new(3);
        let index = |lease: &Lease<'_>| pool.slots.iter().position(|s| std::ptr::eq(s, lease.slot)).unwrap();
        let a = pool.lease();
        let b = pool.lease();
        let c = pool.lease();
        let mut taken = [index(&a), index(&b), index(&c)];
        taken.sort();
        assert_eq!(taken, [0, 1, 2], "one call per slot");
        let freed = index(&b);
        drop(b);
        assert_eq!(index(&pool.lease()), freed, "the idle slot is next");
        assert_eq!(Pool::new(0).slots.len(), 1, "at least one slot");
    }
}
