//! Intents and the collector (spec §2.7): every root call leaves a durable
//! intent before its first effect and its Done batch deletes it; the
//! collector re-drives intents that stay due, with the same call id.

use std::future::Future;

use bytes::Bytes;
use tracing::Instrument as _;

use crate::store::{Batch, Key, Outcome, Page, Store};

use super::call_id::{CallId, CallMeta};
use super::clock::Clock;
use super::engine::{Engine, Request, corrupt, unavailable};
use super::error::EngineError;
use super::record::{CallRecord, CallStatus, IntentRecord, call_key, parse_id_key};

/// A root call left unfinished, as the collector re-drives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    meta: CallMeta,
    request: Request,
    attempts: u32,
}

impl Intent {
    /// The call's metadata, with a fresh deadline for this attempt.
    pub fn meta(&self) -> &CallMeta {
        &self.meta
    }

    /// The stored request.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Re-drives so far, this one included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

/// Sends a claimed intent's call again, with its call id: typically through
/// [`Engine::serve`] with the method's handler, or as an RPC to the service.
pub trait Redriver: Send + Sync {
    /// Re-drives one call; the engine deduplicates, so a double re-drive is
    /// harmless.
    fn redrive(&self, intent: Intent) -> impl Future<Output = Result<Bytes, EngineError>> + Send;
}

/// What one [`Collector::run_once`] pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CollectorReport {
    /// Intents claimed and re-driven.
    pub redriven: usize,
    /// Re-drives that returned a result.
    pub completed: usize,
    /// Re-drives that failed (retried at the next due time).
    pub failed: usize,
    /// Claims another collector won first (skipped).
    pub lost_claims: usize,
    /// Intents skipped because an execution holds a live lease.
    pub live_leases: usize,
    /// Intents parked in this pass after `max_attempts` re-drives.
    pub parked: Vec<CallId>,
}

/// Re-drives due intents of one engine's service.
///
/// Several collectors may run at once: each claim is a conditional write on
/// the intent's version, so a lost claim skips, and a double re-drive is
/// deduplicated by the engine.
#[derive(Debug)]
pub struct Collector<S, C, D> {
    engine: Engine<S, C>,
    redriver: D,
}

impl<S: Store + 'static, C: Clock, D: Redriver> Collector<S, C, D> {
    /// A collector for `engine`'s intents, re-driving through `redriver`.
    pub fn new(engine: Engine<S, C>, redriver: D) -> Collector<S, C, D> {
        Collector { engine, redriver }
    }

    /// One pass at time `now_ms`. Each intent due by then is claimed (one
    /// more attempt, next due `now + T·2^min(attempts, 6)`) and re-driven;
    /// an intent already re-driven `max_attempts` times is parked instead,
    /// and reported, never dropped.
    pub async fn run_once(&self, now_ms: u64) -> Result<CollectorReport, EngineError> {
        let span = tracing::info_span!("exactly_once.collector", service = %self.engine.service());
        async move {
            let inner = self.engine.inner();
            let chunk = inner.config.chunk();
            let prefix = Key::from(("intent",));
            let mut report = CollectorReport::default();
            let mut page = Page::first(chunk);
            loop {
                let entries = inner
                    .store
                    .scan_prefix(&prefix, page.clone())
                    .await
                    .map_err(|source| EngineError::StoreUnavailable { call: None, step: None, source })?;
                for (key, found) in &entries {
                    let call = parse_id_key(key);
                    let intent = IntentRecord::decode(&found.value).map_err(corrupt(call.as_ref(), None, key))?;
                    // Services may share a store: only this engine's calls are its to re-drive.
                    // A root is its own service's to re-drive, an asynchronous
                    // call its caller's.
                    let mine = match &intent.target {
                        None => intent.call_id.service() == self.engine.service(),
                        Some((owner, _)) => owner == self.engine.service(),
                    };
                    if intent.parked || intent.next_due_ms > now_ms || !mine {
                        continue;
                    }
                    self.handle(key, found.version, intent, now_ms, &mut report).await?;
                }
                match entries.last() {
                    Some((key, _)) if entries.len() == page.limit() => page = Page::after(key.clone(), chunk),
                    _ => return Ok(report),
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn handle(
        &self,
        key: &Key,
        version: crate::store::Version,
        mut intent: IntentRecord,
        now_ms: u64,
        report: &mut CollectorReport,
    ) -> Result<(), EngineError> {
        let inner = self.engine.inner();
        let call = intent.call_id.clone();
        // Skip calls an execution is still running under a live lease.
        let ckey = call_key(&call);
        if let Some(current) = inner.store.get(&ckey).await.map_err(unavailable(&call, None))? {
            let record = CallRecord::decode(&current.value).map_err(corrupt(Some(&call), None, &ckey))?;
            if let CallStatus::Running { lease_expiry_ms, .. } = record.status {
                if lease_expiry_ms > now_ms {
                    report.live_leases += 1;
                    return Ok(());
                }
            }
        }
        let park = intent.attempts >= inner.config.max_attempts_value();
        if park {
            intent.parked = true;
        } else {
            let backoff = inner.config.redrive_after_ms().saturating_mul(1 << intent.attempts.min(6));
            intent.attempts += 1;
            intent.next_due_ms = now_ms.saturating_add(backoff);
        }
        let claim = Batch::new().version_is(key.clone(), version).put(key.clone(), intent.encode());
        match inner.store.apply(claim).await.map_err(unavailable(&call, None))? {
            Outcome::Failed { .. } => {
                report.lost_claims += 1;
                return Ok(());
            }
            Outcome::Applied { .. } => {}
        }
        if park {
            tracing::warn!(%call, attempts = intent.attempts, "intent parked");
            report.parked.push(call);
            return Ok(());
        }
        let deadline_ms = now_ms.saturating_add(inner.config.redrive_after_ms());
        if intent.target.is_some() {
            report.redriven += 1;
            match super::invoke::redrive_child(inner, &intent, deadline_ms).await {
                Ok(()) => report.completed += 1,
                Err(error) => {
                    tracing::warn!(%call, %error, "re-drive of an asynchronous call failed");
                    report.failed += 1;
                }
            }
            return Ok(());
        }
        let meta = CallMeta::root(call.clone(), intent.origin_ms).with_deadline(deadline_ms);
        let redrive = Intent { meta, request: Request::new(intent.method, intent.body), attempts: intent.attempts };
        report.redriven += 1;
        match self.redriver.redrive(redrive).await {
            Ok(_) => report.completed += 1,
            Err(error) => {
                tracing::warn!(%call, %error, "re-drive failed");
                report.failed += 1;
            }
        }
        Ok(())
    }
}
