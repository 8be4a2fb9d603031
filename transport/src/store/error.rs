//! The store error type: what went wrong, in which backend, at which key.

use std::fmt;
#[cfg(feature = "sled")]
use std::path::PathBuf;
#[cfg(any(feature = "sled", feature = "postgres"))]
use std::sync::Arc;

use bytes::Bytes;

#[cfg(any(feature = "sled", feature = "postgres"))]
use super::Key;
use super::Version;
use super::key::{KeyDecodeError, RawKey};

/// A store request that failed to run.
///
/// A batch whose condition does not hold is not an error but an
/// [`Outcome::Failed`](crate::Outcome::Failed). After an error the effect of an
/// [`apply`](crate::Store::apply) is unknown: the caller may retry the same
/// batch, whose conditions make the retry safe.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Opening a store at a path failed.
    #[cfg(feature = "sled")]
    #[error("{backend} store: cannot open {}", path.display())]
    Open {
        /// The backend.
        backend: StoreBackend,
        /// The directory given to `open`.
        path: PathBuf,
        /// The backend's error.
        #[source]
        source: Arc<sled::Error>,
    },
    /// The sled backend reported an error.
    #[cfg(feature = "sled")]
    #[error("sled store: {operation} failed{}", at_key(key.as_ref()))]
    Sled {
        /// The store operation that failed.
        operation: StoreOperation,
        /// The key being read, if the operation reads one key.
        key: Option<Key>,
        /// The backend's error, shared by every batch of a failed group.
        #[source]
        source: Arc<sled::Error>,
    },
    /// The PostgreSQL backend reported an error, or could not be reached.
    #[cfg(feature = "postgres")]
    #[error("postgres store (schema {schema}): {operation} failed{}", at_key(key.as_ref()))]
    Postgres {
        /// The schema the store keeps its tables in.
        schema: String,
        /// The store operation that failed.
        operation: StoreOperation,
        /// The key being read, if the operation reads one key.
        key: Option<Key>,
        /// The client's or the server's error.
        #[source]
        source: Arc<super::postgres::PostgresError>,
    },
    /// The store's schema was written by a newer version of this crate.
    #[error("{backend} store: schema version {found} is newer than the {supported} this build knows; upgrade mu2sls")]
    UnsupportedSchema {
        /// The backend.
        backend: StoreBackend,
        /// The version recorded in the store.
        found: i64,
        /// The newest version this build reads and writes.
        supported: i64,
    },
    /// The store holds a record that does not decode.
    #[error("{backend} store: corrupt record at key {}: {problem}", RawKey(raw_key))]
    Corrupt {
        /// The backend.
        backend: StoreBackend,
        /// The record's key as stored (it may itself be the corrupt part).
        raw_key: Bytes,
        /// What is wrong with it.
        problem: Corruption,
    },
    /// A write or flush failed earlier, so the store no longer knows which
    /// writes are durable and refuses further requests; reopen it.
    #[error("{backend} store is stopped after a failed write or flush; reopen it")]
    Poisoned {
        /// The backend.
        backend: StoreBackend,
    },
    /// The store was closed, or the runtime serving it shut down.
    #[error("{backend} store is closed")]
    Closed {
        /// The backend.
        backend: StoreBackend,
    },
    /// The commit sequence has no version left.
    #[error("{backend} store: commit versions exhausted after {last}")]
    VersionsExhausted {
        /// The backend.
        backend: StoreBackend,
        /// The last version handed out.
        last: Version,
    },
}

/// Where a corrupt record went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Corruption {
    /// The key is not a valid tuple encoding.
    #[error("invalid key: {0}")]
    Key(#[from] KeyDecodeError),
    /// The record is shorter than its version header.
    #[error("record of {len} bytes is shorter than its 8-byte version header")]
    ShortRecord {
        /// The record's length.
        len: usize,
    },
    /// The record carries version 0, which no commit is ever given.
    #[error("record carries version 0")]
    ZeroVersion,
    /// The record carries a negative version (PostgreSQL stores versions as
    /// signed 64-bit integers).
    #[error("record carries negative version {version}")]
    NegativeVersion {
        /// The stored version.
        version: i64,
    },
    /// The persisted commit high-water mark is not an 8-byte integer.
    #[error("commit high-water mark of {len} bytes, expected 8")]
    HighWaterMark {
        /// The stored length.
        len: usize,
    },
}

/// A store backend, as named in errors and traces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreBackend {
    /// [`MemoryStore`](crate::MemoryStore).
    Memory,
    /// `SledStore`.
    Sled,
    /// `PostgresStore`.
    Postgres,
}

impl StoreBackend {
    /// The lowercase name used in messages and trace fields.
    pub fn name(self) -> &'static str {
        match self {
            StoreBackend::Memory => "memory",
            StoreBackend::Sled => "sled",
            StoreBackend::Postgres => "postgres",
        }
    }
}

impl fmt::Display for StoreBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A store operation, as named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreOperation {
    /// [`Store::get`](crate::Store::get).
    Get,
    /// [`Store::multi_get`](crate::Store::multi_get).
    MultiGet,
    /// [`Store::scan_prefix`](crate::Store::scan_prefix).
    ScanPrefix,
    /// Checking a batch's conditions (reading the current records).
    CheckConditions,
    /// Writing a group of batches.
    Write,
    /// Flushing written batches to disk.
    Flush,
    /// Reading the commit high-water mark when opening.
    Recover,
    /// Connecting to the server, or taking a connection from the pool.
    Connect,
    /// Creating or checking the store's schema when opening.
    Migrate,
    /// Committing a batch's transaction.
    Commit,
}

impl fmt::Display for StoreOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreOperation::Get => "get",
            StoreOperation::MultiGet => "multi_get",
            StoreOperation::ScanPrefix => "scan_prefix",
            StoreOperation::CheckConditions => "condition check",
            StoreOperation::Write => "write",
            StoreOperation::Flush => "flush",
            StoreOperation::Recover => "recovery",
            StoreOperation::Connect => "connect",
            StoreOperation::Migrate => "schema migration",
            StoreOperation::Commit => "commit",
        })
    }
}

#[cfg(any(feature = "sled", feature = "postgres"))]
fn at_key(key: Option<&Key>) -> String {
    key.map(|key| format!(" at key {key}")).unwrap_or_default()
}
