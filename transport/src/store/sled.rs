//! `SledStore`: the embedded durable backend, with group commit (spec §2.11,
//! §4 "Why group commit").
//!
//! One committer thread owns every write. It takes all batches queued while
//! the previous flush ran (at most `max_group_size`), decides them in queue
//! order against the database plus the group's own earlier winners, writes the
//! winners and the commit high-water mark as one atomic sled batch, flushes
//! once, and only then answers every batch of the group. Groups are written
//! one after another, so a batch is never answered before the state it
//! observed is on disk.
//!
//! Readers use sled directly (on tokio's blocking pool), which can show a
//! group's writes between its sled batch and its flush. Before the committer
//! writes a group it records each key it touches in `unflushed`; a reader that
//! finds one of its keys there waits for that group's flush before answering,
//! so no caller acts on a record a crash could still take back. Each sled
//! read is atomic against sled batches one key at a time; `multi_get` and
//! `scan_prefix` read the high-water mark before and after their keys and
//! retry if a group landed in between, so they too see whole batches only.
//!
//! On disk: each key's tuple encoding maps to its 8-byte big-endian version
//! followed by the value; the last version handed out lives under a key
//! starting with `0xFF`, outside the tuple key space, and is written in the
//! same sled batch as the data it covers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use dashmap::DashMap;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::Instrument;

use super::{
    Batch, Corruption, Key, Op, Outcome, Page, Store, StoreBackend, StoreError, StoreOperation, Version, Versioned,
    record_outcome,
};

/// The key of the commit high-water mark; no tuple encoding starts with 0xFF.
const HIGH_WATER_KEY: &[u8] = b"\xFFmu2sls.commit-high-water";
const VERSION_HEADER: usize = 8;

/// When a `SledStore` flushes to disk.
///
/// Both modes answer a batch only once it is flushed; periodic flushing, which
/// may lose answered batches, is deliberately not offered (spec §2.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// Every batch queued while a flush runs shares the next flush.
    #[default]
    Group,
    /// Every batch is written and flushed on its own.
    PerBatch,
}

/// How a [`SledStore`] is opened.
///
/// ```
/// use mu2sls::{Durability, SledOptions};
///
/// let options = SledOptions::new().durability(Durability::PerBatch);
/// assert_eq!(options.max_group_size(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SledOptions {
    durability: Durability,
    max_group_size: usize,
    queue_capacity: usize,
}

impl Default for SledOptions {
    fn default() -> Self {
        SledOptions { durability: Durability::Group, max_group_size: 1024, queue_capacity: 4096 }
    }
}

impl SledOptions {
    /// Group commit of up to 1024 batches, up to 4096 batches queued.
    pub fn new() -> SledOptions {
        SledOptions::default()
    }

    /// Sets when batches are flushed.
    pub fn durability(mut self, durability: Durability) -> SledOptions {
        self.durability = durability;
        self
    }

    /// Sets the most batches one group commit takes (at least 1); ignored with
    /// [`Durability::PerBatch`].
    pub fn group_size(mut self, batches: usize) -> SledOptions {
        self.max_group_size = batches.max(1);
        self
    }

    /// Sets how many batches may wait for the committer before `apply` waits
    /// to queue (at least 1).
    pub fn queue_capacity(mut self, batches: usize) -> SledOptions {
        self.queue_capacity = batches.max(1);
        self
    }

    /// The most batches one flush covers.
    pub fn max_group_size(&self) -> usize {
        match self.durability {
            Durability::Group => self.max_group_size,
            Durability::PerBatch => 1,
        }
    }
}

/// A durable [`Store`] in a sled database directory: a batch is answered only
/// after it is flushed to disk, and concurrent batches share flushes (group
/// commit).
///
/// Handles are cheap clones of one store. Its methods need a tokio runtime:
/// sled calls run on the blocking pool or on the store's committer thread,
/// never on an async worker. Call [`close`](SledStore::close) to wait until the
/// committer has stopped and, once every handle is gone, the directory is
/// released for reopening; a store dropped without `close` lets its committer
/// finish the queued batches in the background.
///
/// ```
/// use mu2sls::{Batch, Key, Outcome, SledOptions, SledStore, Store};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mu2sls::StoreError> {
/// let dir = tempfile::tempdir().expect("temporary directory");
/// let key = Key::from(("call", "echo.ping:k1"));
/// let store = SledStore::open(dir.path(), SledOptions::new()).await?;
/// let outcome = store.apply(Batch::new().absent(key.clone()).put(key.clone(), "running")).await?;
/// assert!(outcome.is_applied());
/// store.close().await?;
///
/// let reopened = SledStore::open(dir.path(), SledOptions::new()).await?;
/// assert_eq!(reopened.get(&key).await?.map(|v| v.value), Some("running".into()));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SledStore {
    inner: Arc<SledInner>,
}

#[derive(Debug)]
struct SledInner {
    /// The read handle; `None` only while the last handle is dropped.
    db: Option<sled::Db>,
    commands: mpsc::Sender<Command>,
    progress: watch::Receiver<Progress>,
    /// Keys written to sled by a group whose flush has not finished, with the
    /// group's number.
    unflushed: Arc<DashMap<Key, u64>>,
    committer: Mutex<Option<JoinHandle<()>>>,
    path: PathBuf,
}

#[derive(Debug)]
enum Command {
    Apply {
        batch: Batch,
        reply: oneshot::Sender<Result<Outcome, StoreError>>,
    },
    /// A handle's database reference, so the last one (whose drop flushes and
    /// syncs files) is dropped on the committer thread.
    Release(sled::Db),
    Close(oneshot::Sender<()>),
}

/// What the committer has made durable, published to readers.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    /// Every group up to this one is flushed.
    durable_group: u64,
    /// A write or flush failed: nothing more is trusted.
    poisoned: bool,
}

impl SledStore {
    /// Opens (or creates) the store in directory `path` and starts its
    /// committer thread. Versions continue after the last one handed out
    /// before the store was last closed or crashed.
    pub async fn open(path: impl AsRef<Path>, options: SledOptions) -> Result<SledStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let span = tracing::debug_span!("store.open", backend = "sled", path = %path.display());
        blocking(move || open_blocking(path, options)).instrument(span).await?
    }

    /// Stops the committer once it has answered every batch queued before
    /// this call, waits for its thread to end, and drops this handle. When it
    /// was the last handle, the directory can be opened again on return;
    /// other handles still read but their `apply` fails with
    /// [`StoreError::Closed`].
    pub async fn close(self) -> Result<(), StoreError> {
        let span = tracing::debug_span!("store.close", backend = "sled");
        async move {
            let (done, stopped) = oneshot::channel();
            if self.inner.commands.send(Command::Close(done)).await.is_ok() {
                // An error only means the committer was already gone.
                let _stopped = stopped.await;
            }
            let inner = self.inner;
            blocking(move || {
                let committer = inner.committer.lock().unwrap_or_else(PoisonError::into_inner).take();
                if let Some(Err(panic)) = committer.map(JoinHandle::join) {
                    std::panic::resume_unwind(panic);
                }
                // Only the last handle releases the files. Its drop syncs
                // them, so it happens here on the blocking pool.
                if let Some(last) = Arc::into_inner(inner) {
                    let path = last.path.clone();
                    drop(last);
                    await_file_release(&path);
                }
            })
            .await
        }
        .instrument(span)
        .await
    }

    fn db(&self) -> Result<sled::Db, StoreError> {
        self.inner.db.clone().ok_or(StoreError::Closed { backend: StoreBackend::Sled })
    }

    /// The error for a committer that stopped answering.
    fn stopped(&self) -> StoreError {
        if self.inner.progress.borrow().poisoned {
            StoreError::Poisoned { backend: StoreBackend::Sled }
        } else {
            StoreError::Closed { backend: StoreBackend::Sled }
        }
    }

    /// The latest unflushed group that wrote one of `keys`.
    fn unflushed_group<'k>(&self, keys: impl IntoIterator<Item = &'k Key>) -> Option<u64> {
        keys.into_iter().filter_map(|key| self.inner.unflushed.get(key).map(|group| *group)).max()
    }

    /// The latest unflushed group that wrote a key under `prefix`.
    fn unflushed_group_under(&self, prefix: &Key) -> Option<u64> {
        self.inner.unflushed.iter().filter(|entry| entry.key().starts_with(prefix)).map(|entry| *entry.value()).max()
    }

    /// Returns once `group` (a group whose writes a reader may have seen) is
    /// flushed, so that no caller acts on a record a crash could take back.
    async fn settle(&self, group: Option<u64>) -> Result<(), StoreError> {
        let mut progress = self.inner.progress.clone();
        let poisoned = match group {
            None => progress.borrow().poisoned,
            Some(group) => match progress.wait_for(|p| p.durable_group >= group || p.poisoned).await {
                Ok(progress) => progress.poisoned,
                Err(_) => return Err(self.stopped()),
            },
        };
        if poisoned { Err(StoreError::Poisoned { backend: StoreBackend::Sled }) } else { Ok(()) }
    }
}

impl Store for SledStore {
    async fn get(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        let span = tracing::debug_span!("store.get", backend = "sled", %key);
        async {
            let (db, owned) = (self.db()?, key.clone());
            let found = blocking(move || read_record(&db, &owned, StoreOperation::Get)).await??;
            self.settle(self.unflushed_group([key])).await?;
            Ok(found)
        }
        .instrument(span)
        .await
    }

    async fn multi_get(&self, keys: &[Key]) -> Result<Vec<Option<Versioned>>, StoreError> {
        let span = tracing::debug_span!("store.multi_get", backend = "sled", keys = keys.len());
        async {
            let (db, owned) = (self.db()?, keys.to_vec());
            // sled reads are atomic one key at a time; `read_consistent`
            // makes the set of them atomic.
            let found = blocking(move || read_consistent(&db, &owned)).await??;
            self.settle(self.unflushed_group(keys)).await?;
            Ok(found)
        }
        .instrument(span)
        .await
    }

    async fn scan_prefix(&self, prefix: &Key, page: Page) -> Result<Vec<(Key, Versioned)>, StoreError> {
        let span = tracing::debug_span!("store.scan_prefix", backend = "sled", %prefix, limit = page.limit());
        async {
            let db = self.db()?;
            let (owned_prefix, owned_page) = (prefix.clone(), page.clone());
            let found = blocking(move || scan_blocking(&db, &owned_prefix, &owned_page)).await??;
            self.settle(self.unflushed_group_under(prefix)).await?;
            Ok(found)
        }
        .instrument(span)
        .await
    }

    async fn apply(&self, batch: Batch) -> Result<Outcome, StoreError> {
        let span = tracing::debug_span!(
            "store.apply",
            backend = "sled",
            conditions = batch.conditions().len(),
            ops = batch.ops().len(),
            version = tracing::field::Empty,
            failed_condition = tracing::field::Empty,
        );
        async {
            let (reply, answer) = oneshot::channel();
            self.inner.commands.send(Command::Apply { batch, reply }).await.map_err(|_| self.stopped())?;
            let outcome = answer.await.map_err(|_| self.stopped())??;
            record_outcome(&tracing::Span::current(), &outcome);
            Ok(outcome)
        }
        .instrument(span)
        .await
    }
}

impl Drop for SledInner {
    fn drop(&mut self) {
        if let Some(db) = self.db.take() {
            // If the committer is gone or its queue is full, the returned
            // command (and the database reference in it) drops right here.
            let _unsent = self.commands.try_send(Command::Release(db));
        }
    }
}

fn open_blocking(path: PathBuf, options: SledOptions) -> Result<SledStore, StoreError> {
    let open_error =
        |source| StoreError::Open { backend: StoreBackend::Sled, path: path.clone(), source: Arc::new(source) };
    // sled's own periodic flush is off: the committer decides when to flush.
    let db = sled::Config::new().path(&path).flush_every_ms(None).open().map_err(open_error)?;
    let last_version = read_high_water(&db)?;
    let (commands, queue) = mpsc::channel(options.queue_capacity);
    let (publish, progress) = watch::channel(Progress::default());
    let unflushed = Arc::new(DashMap::new());
    let committer = Committer {
        db: db.clone(),
        queue,
        publish,
        unflushed: Arc::clone(&unflushed),
        last_version,
        last_group: 0,
        max_group_size: options.max_group_size(),
        poisoned: false,
    };
    let thread = std::thread::Builder::new()
        .name("mu2sls-sled-commit".into())
        .spawn(move || committer.run())
        .map_err(|error| open_error(sled::Error::Io(error)))?;
    tracing::debug!(last_version, "sled store opened");
    Ok(SledStore {
        inner: Arc::new(SledInner {
            db: Some(db),
            commands,
            progress,
            unflushed,
            committer: Mutex::new(Some(thread)),
            path,
        }),
    })
}

fn read_high_water(db: &sled::Db) -> Result<u64, StoreError> {
    let stored = db.get(HIGH_WATER_KEY).map_err(|source| StoreError::Sled {
        operation: StoreOperation::Recover,
        key: None,
        source: Arc::new(source),
    })?;
    let Some(raw) = stored else { return Ok(0) };
    let bytes: [u8; 8] = raw.as_ref().try_into().map_err(|_| StoreError::Corrupt {
        backend: StoreBackend::Sled,
        raw_key: Bytes::from_static(HIGH_WATER_KEY),
        problem: Corruption::HighWaterMark { len: raw.len() },
    })?;
    Ok(u64::from_be_bytes(bytes))
}

fn read_record(db: &sled::Db, key: &Key, operation: StoreOperation) -> Result<Option<Versioned>, StoreError> {
    let raw = db.get(key.as_bytes()).map_err(|source| StoreError::Sled {
        operation,
        key: Some(key.clone()),
        source: Arc::new(source),
    })?;
    raw.map(|raw| decode_record(key.as_bytes(), raw)).transpose()
}

/// Reads `keys` as of one point in the commit sequence.
///
/// Each group is one atomic sled batch, which also rewrites the high-water
/// mark. Reading the mark before and after the keys and finding it unchanged
/// means no group landed in between, so the values belong together; otherwise
/// the reads are retried (groups land at most once per flush, so retries are
/// rare and short).
fn read_consistent(db: &sled::Db, keys: &[Key]) -> Result<Vec<Option<Versioned>>, StoreError> {
    loop {
        let before = read_high_water(db)?;
        let values =
            keys.iter().map(|key| read_record(db, key, StoreOperation::MultiGet)).collect::<Result<Vec<_>, _>>()?;
        if read_high_water(db)? == before {
            return Ok(values);
        }
    }
}

fn scan_blocking(db: &sled::Db, prefix: &Key, page: &Page) -> Result<Vec<(Key, Versioned)>, StoreError> {
    use std::ops::Bound;

    let end = prefix.prefix_end();
    let start = match page.resume_after() {
        Some(after) if after.as_bytes() >= end.as_slice() => return Ok(Vec::new()),
        Some(after) if after.as_bytes() >= prefix.as_bytes() => Bound::Excluded(after.as_bytes().to_vec()),
        _ => Bound::Included(prefix.as_bytes().to_vec()),
    };
    let end = Bound::Excluded(end);
    loop {
        let before = read_high_water(db)?;
        let mut found = Vec::with_capacity(page.limit().min(1024));
        for entry in db.range::<Vec<u8>, _>((start.clone(), end.clone())).take(page.limit()) {
            let (raw_key, raw) = entry.map_err(|source| StoreError::Sled {
                operation: StoreOperation::ScanPrefix,
                key: Some(prefix.clone()),
                source: Arc::new(source),
            })?;
            let versioned = decode_record(&raw_key, raw.clone())?;
            let key = Key::from_encoded(Bytes::copy_from_slice(&raw_key)).map_err(|error| StoreError::Corrupt {
                backend: StoreBackend::Sled,
                raw_key: Bytes::copy_from_slice(&raw_key),
                problem: error.into(),
            })?;
            found.push((key, versioned));
        }
        // As in `read_consistent`: an unchanged mark means no group landed
        // during the scan, so the page shows whole batches only.
        if read_high_water(db)? == before {
            return Ok(found);
        }
    }
}

fn decode_record(raw_key: &[u8], raw: sled::IVec) -> Result<Versioned, StoreError> {
    let corrupt = |problem| StoreError::Corrupt {
        backend: StoreBackend::Sled,
        raw_key: Bytes::copy_from_slice(raw_key),
        problem,
    };
    let Some((header, _)) = raw.split_first_chunk::<VERSION_HEADER>() else {
        return Err(corrupt(Corruption::ShortRecord { len: raw.len() }));
    };
    let version = u64::from_be_bytes(*header);
    if version == 0 {
        return Err(corrupt(Corruption::ZeroVersion));
    }
    let value = Bytes::from_owner(raw).slice(VERSION_HEADER..);
    Ok(Versioned { version: Version::new(version), value })
}

fn encode_record(versioned: &Versioned) -> Vec<u8> {
    let mut record = Vec::with_capacity(VERSION_HEADER + versioned.value.len());
    record.extend_from_slice(&versioned.version.get().to_be_bytes());
    record.extend_from_slice(&versioned.value);
    record
}

/// Waits (boundedly, on the blocking pool) until no one holds the lock on the
/// sled database in `dir`.
///
/// sled's own I/O threads can keep the database file, and the exclusive lock
/// on it, open for a moment after the last `Db` is dropped; without this wait
/// an `open` right after `close` occasionally fails to take the lock.
fn await_file_release(dir: &Path) {
    use fs2::FileExt;

    let Ok(file) = std::fs::File::open(dir.join("db")) else { return };
    let mut pause = Duration::from_micros(100);
    for _ in 0..30 {
        if file.try_lock_exclusive().is_ok() {
            // Closing `file` releases the lock again.
            return;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
    tracing::warn!(path = %dir.display(), "sled files still locked after close");
}

/// Runs `work` on tokio's blocking pool.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => Ok(value),
        Err(error) => match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            // Cancelled: the runtime is shutting down.
            Err(_) => Err(StoreError::Closed { backend: StoreBackend::Sled }),
        },
    }
}

type Reply = oneshot::Sender<Result<Outcome, StoreError>>;

/// The single writer: owns the commit sequence and the group loop.
struct Committer {
    db: sled::Db,
    queue: mpsc::Receiver<Command>,
    publish: watch::Sender<Progress>,
    unflushed: Arc<DashMap<Key, u64>>,
    /// The last version handed out (persisted with every group).
    last_version: u64,
    /// The last group written.
    last_group: u64,
    max_group_size: usize,
    poisoned: bool,
}

impl Committer {
    fn run(mut self) {
        let mut group: Vec<(Batch, Reply)> = Vec::new();
        while let Some(first) = self.queue.blocking_recv() {
            // Everything queued while the last flush ran joins this group.
            let mut next = Some(first);
            let mut close = None;
            while let Some(command) = next.take() {
                match command {
                    Command::Apply { batch, reply } => group.push((batch, reply)),
                    Command::Release(db) => drop(db),
                    Command::Close(done) => {
                        close = Some(done);
                        break;
                    }
                }
                if group.len() < self.max_group_size {
                    next = self.queue.try_recv().ok();
                }
            }
            if !group.is_empty() {
                self.commit_group(std::mem::take(&mut group));
            }
            if let Some(done) = close {
                // Drop the database (and the queue) before saying so.
                drop(self);
                let _closer_gone = done.send(());
                return;
            }
        }
    }

    fn commit_group(&mut self, group: Vec<(Batch, Reply)>) {
        let number = self.last_group + 1;
        let span = tracing::debug_span!(
            "store.commit_group",
            backend = "sled",
            group = number,
            batches = group.len(),
            applied = tracing::field::Empty,
        )
        .entered();
        if self.poisoned {
            for (_, reply) in group {
                let _caller_gone = reply.send(Err(StoreError::Poisoned { backend: StoreBackend::Sled }));
            }
            return;
        }
        let first_version = self.last_version;
        // The group's writes so far, by key (`None`: deleted); later batches
        // of the group check their conditions against these.
        let mut written: HashMap<Key, Option<Versioned>> = HashMap::new();
        let mut replies = Vec::with_capacity(group.len());
        let mut outcomes = Vec::with_capacity(group.len());
        for (batch, reply) in group {
            outcomes.push(self.decide(batch, &mut written));
            replies.push(reply);
        }
        let applied = self.last_version - first_version;
        span.record("applied", applied);
        if applied > 0 {
            match self.write_and_flush(number, written) {
                Ok(()) => {
                    self.last_group = number;
                    self.publish.send_modify(|progress| progress.durable_group = number);
                    self.unflushed.clear();
                }
                Err((operation, source)) => {
                    // After a failed write or fsync the durable state is
                    // unknown; refuse everything from now on.
                    tracing::error!(%operation, error = %source, "sled store poisoned");
                    self.poisoned = true;
                    self.publish.send_modify(|progress| progress.poisoned = true);
                    let source = Arc::new(source);
                    for outcome in &mut outcomes {
                        *outcome = Err(StoreError::Sled { operation, key: None, source: Arc::clone(&source) });
                    }
                }
            }
        }
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            let _caller_gone = reply.send(outcome);
        }
    }

    /// Checks a batch's conditions against the group's writes and the
    /// database; if they hold, gives it the next version and records its
    /// writes in `written`.
    fn decide(&mut self, batch: Batch, written: &mut HashMap<Key, Option<Versioned>>) -> Result<Outcome, StoreError> {
        let (conditions, ops) = batch.into_parts();
        for (index, condition) in conditions.iter().enumerate() {
            let current = match written.get(condition.key()) {
                Some(state) => state.clone(),
                None => read_record(&self.db, condition.key(), StoreOperation::CheckConditions)?,
            };
            if !condition.holds(current.as_ref()) {
                return Ok(Outcome::Failed { condition: index, current });
            }
        }
        let version = self.last_version.checked_add(1).ok_or(StoreError::VersionsExhausted {
            backend: StoreBackend::Sled,
            last: Version::new(self.last_version),
        })?;
        self.last_version = version;
        let version = Version::new(version);
        for op in ops {
            match op {
                Op::Put(key, value) => written.insert(key, Some(Versioned { version, value })),
                Op::Delete(key) => written.insert(key, None),
            };
        }
        Ok(Outcome::Applied { version })
    }

    fn write_and_flush(
        &self,
        number: u64,
        written: HashMap<Key, Option<Versioned>>,
    ) -> Result<(), (StoreOperation, sled::Error)> {
        let mut batch = sled::Batch::default();
        for (key, state) in written {
            match state {
                Some(versioned) => batch.insert(key.as_bytes(), encode_record(&versioned)),
                None => batch.remove(key.as_bytes()),
            }
            // Registered before sled shows the write to readers.
            self.unflushed.insert(key, number);
        }
        batch.insert(HIGH_WATER_KEY, &self.last_version.to_be_bytes()[..]);
        self.db.apply_batch(batch).map_err(|error| (StoreOperation::Write, error))?;
        self.db.flush().map_err(|error| (StoreOperation::Flush, error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Mutex;

    use super::{Durability, SledOptions, SledStore};
    use crate::store::conformance::{self, durable::Reopen};
    use tempfile::TempDir;

    async fn fixture(options: SledOptions) -> (TempDir, SledStore) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = SledStore::open(dir.path(), options).await.expect("open sled store");
        (dir, store)
    }

    /// A store directory, and the crash images copied from it.
    struct Reopening {
        dir: TempDir,
        options: SledOptions,
        images: Mutex<Vec<TempDir>>,
    }

    fn reopening(options: SledOptions) -> Reopening {
        Reopening { dir: tempfile::tempdir().expect("temporary directory"), options, images: Mutex::new(Vec::new()) }
    }

    fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            let target = to.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                copy_dir(&entry.path(), &target)?;
            } else {
                std::fs::copy(entry.path(), target)?;
            }
        }
        Ok(())
    }

    impl Reopen for Reopening {
        type Store = SledStore;

        async fn open(&self) -> SledStore {
            SledStore::open(self.dir.path(), self.options.clone()).await.expect("open sled store")
        }

        async fn close(&self, store: SledStore) {
            store.close().await.expect("close sled store");
        }

        async fn open_crash_image(&self) -> SledStore {
            let image = tempfile::tempdir().expect("temporary directory");
            let (from, to) = (self.dir.path().to_path_buf(), image.path().join("db"));
            let copied = tokio::task::spawn_blocking(move || copy_dir(&from, &to).map(|()| to));
            let path = copied.await.expect("copy task").expect("copy the store directory");
            self.images.lock().expect("images lock").push(image);
            SledStore::open(path, self.options.clone()).await.expect("open crash image")
        }
    }

    mod group {
        use super::*;

        conformance::conformance_tests!(fixture(SledOptions::new()).await);
        conformance::durable::durable_conformance_tests!(reopening(SledOptions::new()));
    }

    mod per_batch {
        use super::*;

        conformance::conformance_tests!(fixture(SledOptions::new().durability(Durability::PerBatch)).await);
        conformance::durable::durable_conformance_tests!(reopening(
            SledOptions::new().durability(Durability::PerBatch)
        ));
    }

    #[tokio::test]
    async fn corrupt_contents_are_typed_errors() {
        use crate::{Batch, Corruption, Key, Page, Store, StoreError};

        let dir = tempfile::tempdir().expect("temporary directory");
        let short = Key::from(("state", "short"));
        let zero = Key::from(("state", "zero"));
        let path = dir.path().to_path_buf();
        let written = tokio::task::spawn_blocking(move || -> sled::Result<()> {
            let db = sled::open(&path)?;
            db.insert(short.as_bytes(), &[1u8, 2, 3][..])?;
            db.insert(zero.as_bytes(), &[0u8; 9][..])?;
            db.insert(&[0x02, b'b', b'a', b'd'][..], &[0u8, 0, 0, 0, 0, 0, 0, 1][..])?;
            db.flush()?;
            drop(db);
            super::await_file_release(&path);
            Ok(())
        });
        written.await.expect("write task").expect("write raw records");
        let store = SledStore::open(dir.path(), SledOptions::new()).await.expect("open sled store");
        let (short, zero) = (Key::from(("state", "short")), Key::from(("state", "zero")));

        let error = store.get(&short).await.expect_err("short record");
        assert!(matches!(error, StoreError::Corrupt { problem: Corruption::ShortRecord { len: 3 }, .. }), "{error}");
        assert_eq!(
            error.to_string(),
            r#"sled store: corrupt record at key ("state", "short"): record of 3 bytes is shorter than its 8-byte version header"#
        );
        let error = store.multi_get(std::slice::from_ref(&zero)).await.expect_err("version 0");
        assert!(matches!(error, StoreError::Corrupt { problem: Corruption::ZeroVersion, .. }), "{error}");
        let error = store.apply(Batch::new().absent(zero.clone()).put(zero, "x")).await.expect_err("condition read");
        assert!(matches!(error, StoreError::Corrupt { problem: Corruption::ZeroVersion, .. }), "{error}");
        let error = store.scan_prefix(&Key::new(), Page::first(10)).await.expect_err("bad key");
        assert!(matches!(error, StoreError::Corrupt { problem: Corruption::Key(_), .. }), "{error}");
        assert_eq!(
            error.to_string(),
            r#"sled store: corrupt record at key b"\x02bad": invalid key: unterminated component starting at byte 0"#
        );
        // Healthy keys still work next to corrupt ones.
        let fine = Key::from(("state", "fine"));
        assert!(store.apply(Batch::new().put(fine.clone(), "ok")).await.expect("apply").is_applied());
        assert_eq!(store.get(&fine).await.expect("get").map(|v| v.value), Some("ok".into()));
        store.close().await.expect("close");

        let path = dir.path().to_path_buf();
        let written = tokio::task::spawn_blocking(move || -> sled::Result<()> {
            let db = sled::open(&path)?;
            db.insert(super::HIGH_WATER_KEY, &[1u8][..])?;
            db.flush()?;
            drop(db);
            super::await_file_release(&path);
            Ok(())
        });
        written.await.expect("write task").expect("write raw records");
        let error = SledStore::open(dir.path(), SledOptions::new()).await.expect_err("bad high-water mark");
        assert!(matches!(error, StoreError::Corrupt { problem: Corruption::HighWaterMark { len: 1 }, .. }), "{error}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn matches_model(steps in conformance::model_steps()) {
            let runtime = conformance::runtime();
            let (_dir, store) = runtime.block_on(fixture(SledOptions::new()));
            conformance::run_model_check_on(&runtime, store, steps)?;
        }
    }
}
