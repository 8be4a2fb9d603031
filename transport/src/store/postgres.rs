//! `PostgresStore`: the store on PostgreSQL (spec §2.11), for services on
//! several processes or machines sharing one database.
//!
//! Layout, in one schema per store (`PostgresOptions::schema`, default
//! `mu2sls`), created by the store itself on open:
//!
//! ```sql
//! CREATE TABLE entries (key bytea PRIMARY KEY, version bigint NOT NULL CHECK (version > 0), value bytea NOT NULL);
//! CREATE SEQUENCE commit_version AS bigint MINVALUE 1 NO CYCLE;   -- the store-wide commit sequence
//! CREATE TABLE meta (id int PRIMARY KEY CHECK (id = 1), schema_version bigint NOT NULL, empty_commit bigint NOT NULL);
//! ```
//!
//! Keys are their tuple encoding as `bytea`, whose order is byte order, so a
//! prefix scan is the range `[p, p ++ 0xFF)` on the primary key.
//!
//! Every batch is one READ COMMITTED transaction:
//!
//! 1. `pg_advisory_xact_lock` on a 64-bit hash of (schema, key) for every key
//!    the batch names, in ascending order (so batches never deadlock each
//!    other). Every writer takes these locks, so from here to the commit no
//!    other batch changes these keys, whether the rows exist or not: `Absent`
//!    needs no predicate lock and no SERIALIZABLE.
//! 2. In the same round trip, one `SELECT` of the condition keys. Under READ
//!    COMMITTED each statement takes a fresh snapshot, and a transaction
//!    becomes visible before it releases its locks, so this read sees the last
//!    commit of every locked key. Conditions are checked in order in Rust; the
//!    first that fails rolls back and is reported with the row read.
//! 3. One statement takes `nextval` of the commit sequence, deletes the keys
//!    the batch deletes and upserts (`INSERT … ON CONFLICT DO UPDATE`) the
//!    keys it puts, each key's last operation winning. A batch that puts
//!    nothing also updates `meta.empty_commit`, so that its transaction writes
//!    WAL and its commit waits for the flush (below).
//! 4. `COMMIT`, pipelined behind the write (a failed write aborts the
//!    transaction and the server turns the `COMMIT` into a rollback), with
//!    `synchronous_commit = on` set for every session: the
//!    commit returns once its WAL record is flushed, and Postgres makes a
//!    transaction visible only after that, so whatever a batch or read
//!    observed is durable.
//!
//! Versions: the sequence never hands a value out twice, also across crashes
//! (a sequence logs ahead, and a transaction that used a logged value flushes
//! that record with its own commit; the empty-commit update in step 3 covers
//! batches that write nothing else). The version is drawn after the key locks
//! are held, so the batches that touch a common key get versions in their
//! commit order; batches with disjoint keys may commit in the other order than
//! their versions, which no `VersionIs` condition can observe (the engine only
//! compares a key's version with itself). Ordering every commit by a single
//! counter row would serialise all commits behind one lock held through the
//! WAL flush, and so lose the shared flushes below.
//!
//! Group commit: concurrent batches commit their own transactions, and
//! PostgreSQL flushes the WAL of all commits queued behind one flush together
//! (`commit_delay`/`commit_siblings` can widen the window); nothing here
//! batches by hand.
//!
//! Failures: a serialization failure or deadlock (SQLSTATE 40001, 40P01) is
//! retried inside `apply`; so is a lost connection or a server that is
//! restarting, but only while the transaction's `COMMIT` has not been sent,
//! and only for `PostgresOptions::reconnect_for`. A connection lost during
//! `COMMIT` leaves the outcome unknown and is returned as an error, as the
//! [`Store`] contract allows.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::Hasher;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};
use tracing::Instrument;

use super::{
    Batch, Corruption, Key, Op, Outcome, Page, Store, StoreBackend, StoreError, StoreOperation, Version, Versioned,
    record_outcome,
};

/// The schema version this build creates and reads.
const SCHEMA_VERSION: i64 = 1;
/// Serialization failures and deadlocks retried per batch before giving up.
const MAX_CONFLICT_RETRIES: u32 = 32;
/// The advisory lock that serialises schema creation across processes.
const MIGRATION_LOCK: i64 = 0x6d75_3273_6c73_0001;

/// How a [`PostgresStore`] connects and where it keeps its tables.
///
/// ```
/// use std::time::Duration;
/// use mu2sls::PostgresOptions;
///
/// let options = PostgresOptions::new().pool_size(32).schema("orders").reconnect_for(Duration::from_secs(5));
/// assert_eq!(options.schema_name(), "orders");
/// assert_eq!(options.max_pool_size(), 32);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    pool_size: usize,
    schema: String,
    reconnect_for: Duration,
    connect_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            pool_size: 16,
            schema: "mu2sls".to_owned(),
            reconnect_for: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

impl PostgresOptions {
    /// The defaults: 16 connections, schema `mu2sls`, reconnecting for 10 s.
    pub fn new() -> PostgresOptions {
        PostgresOptions::default()
    }

    /// The most connections the store's pool opens (at least 1); each
    /// request in flight holds one.
    pub fn pool_size(mut self, connections: usize) -> PostgresOptions {
        self.pool_size = connections.max(1);
        self
    }

    /// The schema holding the store's tables: a lowercase SQL identifier
    /// (`[a-z_][a-z0-9_]*`, at most 63 bytes). Stores on one database with
    /// different schemas are independent.
    pub fn schema(mut self, schema: impl Into<String>) -> PostgresOptions {
        self.schema = schema.into();
        self
    }

    /// How long a request keeps retrying while the server cannot be reached
    /// (restarting, or a connection was lost before the request could
    /// commit) before it returns the error.
    pub fn reconnect_for(mut self, window: Duration) -> PostgresOptions {
        self.reconnect_for = window;
        self
    }

    /// How long one connection attempt may take, unless the connection
    /// string sets `connect_timeout` itself.
    pub fn connect_timeout(mut self, timeout: Duration) -> PostgresOptions {
        self.connect_timeout = timeout;
        self
    }

    /// The configured schema.
    pub fn schema_name(&self) -> &str {
        &self.schema
    }

    /// The configured pool size.
    pub fn max_pool_size(&self) -> usize {
        self.pool_size
    }
}

/// An error from PostgreSQL or from the connection to it, inside
/// [`StoreError::Postgres`].
#[derive(Debug)]
pub struct PostgresError {
    kind: PostgresErrorKind,
}

#[derive(Debug)]
enum PostgresErrorKind {
    Client(tokio_postgres::Error),
    Pool(String),
    Options(String),
}

impl PostgresError {
    fn options(problem: impl Into<String>) -> PostgresError {
        PostgresError { kind: PostgresErrorKind::Options(problem.into()) }
    }

    /// The server's SQLSTATE code, if the server reported the error.
    pub fn code(&self) -> Option<&str> {
        match &self.kind {
            PostgresErrorKind::Client(error) => error.code().map(SqlState::code),
            _ => None,
        }
    }

    /// Whether the error is a lost or refused connection, or a server
    /// shutting down or starting up, rather than a rejected statement.
    pub fn is_connection(&self) -> bool {
        match &self.kind {
            PostgresErrorKind::Client(error) => is_connection_error(error),
            PostgresErrorKind::Pool(_) => true,
            PostgresErrorKind::Options(_) => false,
        }
    }
}

impl fmt::Display for PostgresError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            PostgresErrorKind::Client(error) => match error.as_db_error() {
                // The database error's own Display carries severity, message,
                // detail and hint.
                Some(db) => write!(f, "{db}"),
                None => write!(f, "{error}"),
            },
            PostgresErrorKind::Pool(problem) => write!(f, "connection pool: {problem}"),
            PostgresErrorKind::Options(problem) => f.write_str(problem),
        }
    }
}

impl std::error::Error for PostgresError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            PostgresErrorKind::Client(error) => error.source(),
            _ => None,
        }
    }
}

fn is_connection_error(error: &tokio_postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    match error.code() {
        // 08: connection exceptions; 57P01..57P03: admin shutdown, crash
        // shutdown, cannot connect now (starting up).
        Some(code) => code.code().starts_with("08") || matches!(code.code(), "57P01" | "57P02" | "57P03"),
        // No SQLSTATE: a connect or socket failure carries the I/O error.
        None => {
            std::error::Error::source(error).is_some_and(|source| source.downcast_ref::<std::io::Error>().is_some())
        }
    }
}

fn is_conflict(error: &tokio_postgres::Error) -> bool {
    matches!(error.code(), Some(code) if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED)
}

/// A [`Store`] on PostgreSQL: one SQL transaction per batch, durable once
/// committed (`synchronous_commit = on`), shared by every process that opens
/// the same schema.
///
/// See the module documentation in `ARCHITECTURE.md` for how conditions map
/// to SQL. Opening creates the schema if needed (safe when several processes
/// open it at once); a schema written by a newer version of this crate is
/// refused.
///
/// ```no_run
/// use mu2sls::{Batch, Key, PostgresOptions, PostgresStore, Store};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mu2sls::StoreError> {
/// let store = PostgresStore::connect("postgres://postgres@127.0.0.1:5432/test").await?;
/// let key = Key::from(("state", "counter", "a"));
/// assert!(store.apply(Batch::new().absent(key.clone()).put(key.clone(), "1")).await?.is_applied());
///
/// // Another service's tables, in the same database.
/// let orders = PostgresStore::connect_with(
///     "postgres://postgres@127.0.0.1:5432/test",
///     PostgresOptions::new().schema("orders").pool_size(8),
/// )
/// .await?;
/// assert_eq!(orders.get(&key).await?, None);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<PostgresInner>,
}

struct PostgresInner {
    pool: Pool,
    schema: String,
    reconnect_for: Duration,
    sql: Statements,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore").field("schema", &self.inner.schema).finish_non_exhaustive()
    }
}

/// The SQL text of every statement, with the schema filled in.
struct Statements {
    get: String,
    multi_get: String,
    scan_first: String,
    scan_after: String,
    lock: String,
    write: String,
    write_empty: String,
}

impl Statements {
    fn new(schema: &str) -> Statements {
        let entries = format!("\"{schema}\".entries");
        // Deletes and puts name disjoint keys (each key's last operation
        // wins), so the two data-modifying CTEs never touch the same row. `v`
        // is referenced twice and volatile, so it is evaluated once.
        let write = |touch_meta: bool| {
            let meta = if touch_meta {
                format!(", m AS (UPDATE \"{schema}\".meta SET empty_commit = (SELECT version FROM v) WHERE id = 1)")
            } else {
                String::new()
            };
            format!(
                "WITH v AS (SELECT nextval('\"{schema}\".commit_version') AS version), \
                 d AS (DELETE FROM {entries} WHERE key = ANY($1::bytea[])), \
                 i AS (INSERT INTO {entries} (key, version, value) \
                       SELECT u.key, v.version, u.value FROM unnest($2::bytea[], $3::bytea[]) AS u(key, value), v \
                       ON CONFLICT (key) DO UPDATE SET version = EXCLUDED.version, value = EXCLUDED.value){meta} \
                 SELECT version FROM v"
            )
        };
        Statements {
            get: format!("SELECT version, value FROM {entries} WHERE key = $1"),
            multi_get: format!("SELECT key, version, value FROM {entries} WHERE key = ANY($1::bytea[])"),
            scan_first: format!(
                "SELECT key, version, value FROM {entries} WHERE key >= $1 AND key < $2 ORDER BY key LIMIT $3"
            ),
            scan_after: format!(
                "SELECT key, version, value FROM {entries} WHERE key > $1 AND key < $2 ORDER BY key LIMIT $3"
            ),
            lock: "SELECT count(pg_advisory_xact_lock(id)) FROM unnest($1::int8[]) AS id".to_owned(),
            write: write(false),
            write_empty: write(true),
        }
    }
}

fn check_schema_name(schema: &str) -> Result<(), String> {
    let mut chars = schema.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if first_ok && rest_ok && schema.len() <= 63 {
        Ok(())
    } else {
        Err(format!(
            "invalid schema name {schema:?}: expected a lowercase SQL identifier ([a-z_][a-z0-9_]*, at most 63 bytes)"
        ))
    }
}

/// Whether `error` may go away by trying again, and whether trying again
/// is safe at the stage the request failed.
enum Failure {
    /// A serialization failure or deadlock: the transaction rolled back.
    Conflict(tokio_postgres::Error),
    /// The server could not be reached, before anything was committed.
    Unreachable(PostgresError),
    /// Anything else, or a connection lost during `COMMIT`.
    Fatal(StoreError),
}

impl PostgresStore {
    /// Connects with the default [`PostgresOptions`] (schema `mu2sls`).
    ///
    /// The connection string is libpq's, as a URL
    /// (`postgres://user:password@host:port/database`) or as `key=value`
    /// pairs.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::connect_with(url, PostgresOptions::new()).await
    }

    /// Connects with `options`, creating the schema if it does not exist.
    pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<PostgresStore, StoreError> {
        let schema = options.schema.clone();
        let open_error = |source: PostgresError| StoreError::Postgres {
            schema: schema.clone(),
            operation: StoreOperation::Connect,
            key: None,
            source: Arc::new(source),
        };
        check_schema_name(&schema).map_err(|problem| open_error(PostgresError::options(problem)))?;
        let mut config: tokio_postgres::Config = url.parse().map_err(|error: tokio_postgres::Error| {
            open_error(PostgresError::options(format!("invalid connection string: {error}")))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        // Durability and the isolation level the locking argument relies on
        // are set per session, whatever the server's defaults say.
        let mut session = config.get_options().map(str::to_owned).unwrap_or_default();
        session.push_str(" -c synchronous_commit=on -c default_transaction_isolation=read\\ committed");
        config.options(session.trim_start());
        // Names the schema, so an operator (or a test) can tell stores apart.
        let mut application = format!("mu2sls {schema}");
        application.truncate(63);
        config.application_name(&application);
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(options.pool_size)
            .build()
            .map_err(|error| open_error(PostgresError::options(format!("cannot build the pool: {error}"))))?;
        let store = PostgresStore {
            inner: Arc::new(PostgresInner {
                pool,
                sql: Statements::new(&schema),
                schema,
                reconnect_for: options.reconnect_for,
            }),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The schema holding the store's tables.
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    /// Closes the pool: connections in use are closed when they return, and
    /// every later request fails with [`StoreError::Closed`]. Other handles
    /// share the pool, so they are closed too.
    pub fn close(&self) {
        self.inner.pool.close();
    }

    fn error(&self, operation: StoreOperation, key: Option<&Key>, source: PostgresError) -> StoreError {
        StoreError::Postgres {
            schema: self.inner.schema.clone(),
            operation,
            key: key.cloned(),
            source: Arc::new(source),
        }
    }

    fn client_error(&self, operation: StoreOperation, key: Option<&Key>, error: tokio_postgres::Error) -> StoreError {
        self.error(operation, key, PostgresError { kind: PostgresErrorKind::Client(error) })
    }

    async fn connection(&self) -> Result<deadpool_postgres::Object, Failure> {
        match self.inner.pool.get().await {
            Ok(client) => Ok(client),
            Err(PoolError::Backend(error)) if is_connection_error(&error) => {
                Err(Failure::Unreachable(PostgresError { kind: PostgresErrorKind::Client(error) }))
            }
            Err(PoolError::Backend(error)) => {
                Err(Failure::Fatal(self.client_error(StoreOperation::Connect, None, error)))
            }
            Err(PoolError::Closed) => Err(Failure::Fatal(StoreError::Closed { backend: StoreBackend::Postgres })),
            Err(other) => Err(Failure::Unreachable(PostgresError { kind: PostgresErrorKind::Pool(other.to_string()) })),
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the server stays
    /// unreachable past the reconnect window; conflicts retry at once.
    async fn retrying<T, F, Fut>(
        &self,
        operation: StoreOperation,
        key: Option<&Key>,
        mut attempt: F,
    ) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let started = Instant::now();
        let mut conflicts = 0;
        let mut backoff = Duration::from_millis(10);
        loop {
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(Failure::Fatal(error)) => return Err(error),
                Err(Failure::Conflict(error)) => {
                    conflicts += 1;
                    if conflicts > MAX_CONFLICT_RETRIES {
                        return Err(self.client_error(operation, key, error));
                    }
                    tracing::debug!(conflicts, code = ?error.code().map(SqlState::code), "postgres store: retrying after a conflict");
                    tokio::task::yield_now().await;
                }
                Err(Failure::Unreachable(error)) => {
                    if started.elapsed() + backoff > self.inner.reconnect_for {
                        return Err(self.error(operation, key, error));
                    }
                    tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "postgres store: server unreachable");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                }
            }
        }
    }

    /// Classifies an error from a statement sent before `COMMIT`.
    fn before_commit(&self, operation: StoreOperation, key: Option<&Key>, error: tokio_postgres::Error) -> Failure {
        if is_conflict(&error) {
            Failure::Conflict(error)
        } else if is_connection_error(&error) {
            Failure::Unreachable(PostgresError { kind: PostgresErrorKind::Client(error) })
        } else {
            Failure::Fatal(self.client_error(operation, key, error))
        }
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let schema = &self.inner.schema;
        let found = self
            .retrying(StoreOperation::Migrate, None, || async {
                let fail = |error| self.before_commit(StoreOperation::Migrate, None, error);
                let mut client = self.connection().await?;
                let tx = client.transaction().await.map_err(fail)?;
                // Two processes opening a fresh database at once would both
                // try to create the schema; one waits here for the other.
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(fail)?;
                let create = format!(
                    "CREATE SCHEMA IF NOT EXISTS \"{schema}\";
                     CREATE TABLE IF NOT EXISTS \"{schema}\".meta (
                         id int PRIMARY KEY CHECK (id = 1),
                         schema_version bigint NOT NULL,
                         empty_commit bigint NOT NULL DEFAULT 0);
                     CREATE TABLE IF NOT EXISTS \"{schema}\".entries (
                         key bytea PRIMARY KEY,
                         version bigint NOT NULL CHECK (version > 0),
                         value bytea NOT NULL);
                     CREATE SEQUENCE IF NOT EXISTS \"{schema}\".commit_version AS bigint MINVALUE 1 NO CYCLE;
                     INSERT INTO \"{schema}\".meta (id, schema_version) VALUES (1, {SCHEMA_VERSION}) ON CONFLICT (id) DO NOTHING;"
                );
                tx.batch_execute(&create).await.map_err(fail)?;
                let row = tx
                    .query_one(&format!("SELECT schema_version FROM \"{schema}\".meta WHERE id = 1"), &[])
                    .await
                    .map_err(fail)?;
                let found: i64 = row.try_get(0).map_err(fail)?;
                match tx.commit().await {
                    Ok(()) => Ok(found),
                    // Creating a schema is idempotent, so a lost commit retries.
                    Err(error) => Err(fail(error)),
                }
            })
            .await?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::UnsupportedSchema {
                backend: StoreBackend::Postgres,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(())
    }

    fn decode_versioned(&self, raw_key: &[u8], version: i64, value: Vec<u8>) -> Result<Versioned, StoreError> {
        let corrupt = |problem| StoreError::Corrupt {
            backend: StoreBackend::Postgres,
            raw_key: Bytes::copy_from_slice(raw_key),
            problem,
        };
        let version = match u64::try_from(version) {
            Ok(0) => return Err(corrupt(Corruption::ZeroVersion)),
            Ok(version) => Version::new(version),
            Err(_) => return Err(corrupt(Corruption::NegativeVersion { version })),
        };
        Ok(Versioned { version, value: Bytes::from(value) })
    }

    /// A `(key, version, value)` row.
    fn decode_entry(&self, operation: StoreOperation, row: &Row) -> Result<(Key, Versioned), StoreError> {
        let raw: Vec<u8> = row.try_get(0).map_err(|error| self.client_error(operation, None, error))?;
        let version: i64 = row.try_get(1).map_err(|error| self.client_error(operation, None, error))?;
        let value: Vec<u8> = row.try_get(2).map_err(|error| self.client_error(operation, None, error))?;
        let versioned = self.decode_versioned(&raw, version, value)?;
        let key = Key::from_encoded(Bytes::from(raw.clone())).map_err(|problem| StoreError::Corrupt {
            backend: StoreBackend::Postgres,
            raw_key: Bytes::from(raw),
            problem: Corruption::Key(problem),
        })?;
        Ok((key, versioned))
    }

    /// One attempt at a batch, in its own transaction, in two round trips:
    /// `BEGIN`, the locks and the condition read go out together, then the
    /// write and `COMMIT`.
    async fn apply_once(&self, plan: &Plan) -> Result<Outcome, Failure> {
        let fail = |error| self.before_commit(StoreOperation::CheckConditions, None, error);
        let client = self.connection().await?;
        let lock = client.prepare_cached(&self.inner.sql.lock).await.map_err(fail)?;
        let read = client.prepare_cached(&self.inner.sql.multi_get).await.map_err(fail)?;
        let write_sql = if plan.puts.is_empty() { &self.inner.sql.write_empty } else { &self.inner.sql.write };
        let write = client.prepare_cached(write_sql).await.map_err(fail)?;
        let tx = OpenTransaction(Some(client));
        let c = tx.client();

        // The server runs pipelined statements in order, and the read's
        // snapshot is taken once the locks are held.
        let condition_keys: Vec<&[u8]> = plan.conditions.iter().map(|c| c.key().as_bytes()).collect();
        let (_, _, rows) = futures_util::future::try_join3(
            c.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED"),
            c.query_one(&lock, &[&plan.locks]),
            c.query(&read, &[&condition_keys]),
        )
        .await
        .map_err(fail)?;
        let mut current = BTreeMap::new();
        for row in &rows {
            let (key, versioned) = self.decode_entry(StoreOperation::CheckConditions, row).map_err(Failure::Fatal)?;
            current.insert(key, versioned);
        }
        for (index, condition) in plan.conditions.iter().enumerate() {
            let now = current.get(condition.key());
            if !condition.holds(now) {
                let outcome = Outcome::Failed { condition: index, current: now.cloned() };
                // Nothing was written: a lost rollback loses nothing (the
                // connection is then closed instead of reused).
                match c.batch_execute("ROLLBACK").await {
                    Ok(()) => tx.finish(),
                    Err(error) => tracing::debug!(%error, "postgres store: rollback after a failed condition"),
                }
                return Ok(outcome);
            }
        }

        let deletes: Vec<&[u8]> = plan.deletes.iter().map(Vec::as_slice).collect();
        let put_keys: Vec<&[u8]> = plan.puts.iter().map(|(key, _)| key.as_slice()).collect();
        let put_values: Vec<&[u8]> = plan.puts.iter().map(|(_, value)| value.as_ref()).collect();
        // `COMMIT` follows the write without waiting for it: if the write
        // fails, the transaction is aborted and the server turns the
        // `COMMIT` into a rollback.
        let (written, committed) = futures_util::future::join(
            c.query_one(&write, &[&deletes, &put_keys, &put_values]),
            c.batch_execute("COMMIT"),
        )
        .await;
        let row = match written {
            Ok(row) => row,
            // The server rejected the write, so nothing committed.
            Err(error) if error.code().is_some() => {
                return Err(self.before_commit(StoreOperation::Write, None, error));
            }
            // The connection failed with the COMMIT already sent: the batch
            // may or may not have committed.
            Err(error) => return Err(Failure::Fatal(self.client_error(StoreOperation::Commit, None, error))),
        };
        match committed {
            Ok(()) => {}
            // A serialization failure at commit rolled the transaction back.
            Err(error) if is_conflict(&error) => return Err(Failure::Conflict(error)),
            // Anything else during COMMIT: the batch may or may not have
            // committed, so it is not retried here.
            Err(error) => return Err(Failure::Fatal(self.client_error(StoreOperation::Commit, None, error))),
        }
        tx.finish();
        let version: i64 =
            row.try_get(0).map_err(|error| Failure::Fatal(self.client_error(StoreOperation::Write, None, error)))?;
        match u64::try_from(version) {
            Ok(version) if version > 0 => Ok(Outcome::Applied { version: Version::new(version) }),
            // The sequence has MINVALUE 1, so this means the schema was
            // tampered with; the batch did commit.
            _ => Err(Failure::Fatal(StoreError::Corrupt {
                backend: StoreBackend::Postgres,
                raw_key: Bytes::new(),
                problem: if version == 0 { Corruption::ZeroVersion } else { Corruption::NegativeVersion { version } },
            })),
        }
    }
}

/// A pooled connection inside a transaction. Dropped before `finish` (an
/// error, or the caller's future dropped mid-way), it closes the connection
/// instead of handing a connection in an unknown transaction state back to
/// the pool.
struct OpenTransaction(Option<deadpool_postgres::Object>);

impl OpenTransaction {
    fn client(&self) -> &deadpool_postgres::ClientWrapper {
        // Present until `finish` or drop, which both consume `self`.
        self.0.as_deref().unwrap_or_else(|| unreachable!("an open transaction has its connection"))
    }

    /// The transaction ended (committed or rolled back): the connection may
    /// be reused.
    fn finish(mut self) {
        drop(self.0.take());
    }
}

impl Drop for OpenTransaction {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

/// A batch prepared for SQL: its lock ids, its conditions, and its writes
/// reduced to each key's last operation.
struct Plan {
    locks: Vec<i64>,
    conditions: Vec<super::Condition>,
    deletes: Vec<Vec<u8>>,
    puts: Vec<(Vec<u8>, Bytes)>,
}

impl Plan {
    fn new(schema: &str, batch: Batch) -> Plan {
        let (conditions, ops) = batch.into_parts();
        let mut last: BTreeMap<Vec<u8>, Option<Bytes>> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Put(key, value) => last.insert(key.as_bytes().to_vec(), Some(value)),
                Op::Delete(key) => last.insert(key.as_bytes().to_vec(), None),
            };
        }
        let mut locks: Vec<i64> = conditions
            .iter()
            .map(|condition| condition.key().as_bytes())
            .chain(last.keys().map(Vec::as_slice))
            .map(|key| lock_id(schema, key))
            .collect();
        locks.sort_unstable();
        locks.dedup();
        let (mut deletes, mut puts) = (Vec::new(), Vec::new());
        for (key, value) in last {
            match value {
                Some(value) => puts.push((key, value)),
                None => deletes.push(key),
            }
        }
        Plan { locks, conditions, deletes, puts }
    }
}

/// The advisory lock guarding `key` in `schema`. Advisory locks are
/// database-wide, so the schema is part of the hash; a collision only makes
/// two batches wait for each other.
fn lock_id(schema: &str, key: &[u8]) -> i64 {
    let mut hasher = siphasher::sip::SipHasher13::new_with_keys(0x6d75_3273_6c73_2e70, 0x6773_746f_7265_2e6b);
    hasher.write(schema.as_bytes());
    hasher.write_u8(0xFF);
    hasher.write(key);
    hasher.finish() as i64
}

impl Store for PostgresStore {
    async fn get(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        let span = tracing::debug_span!("store.get", backend = "postgres", %key);
        async {
            self.retrying(StoreOperation::Get, Some(key), || async {
                let fail = |error| self.before_commit(StoreOperation::Get, Some(key), error);
                let client = self.connection().await?;
                let statement = client.prepare_cached(&self.inner.sql.get).await.map_err(fail)?;
                let row = client.query_opt(&statement, &[&key.as_bytes()]).await.map_err(fail)?;
                let Some(row) = row else { return Ok(None) };
                let version: i64 = row.try_get(0).map_err(fail)?;
                let value: Vec<u8> = row.try_get(1).map_err(fail)?;
                self.decode_versioned(key.as_bytes(), version, value).map(Some).map_err(Failure::Fatal)
            })
            .await
        }
        .instrument(span)
        .await
    }

    async fn multi_get(&self, keys: &[Key]) -> Result<Vec<Option<Versioned>>, StoreError> {
        let span = tracing::debug_span!("store.multi_get", backend = "postgres", keys = keys.len());
        async {
            let raw: Vec<&[u8]> = keys.iter().map(Key::as_bytes).collect();
            // One statement, so one snapshot.
            let rows = self
                .retrying(StoreOperation::MultiGet, None, || async {
                    let fail = |error| self.before_commit(StoreOperation::MultiGet, None, error);
                    let client = self.connection().await?;
                    let statement = client.prepare_cached(&self.inner.sql.multi_get).await.map_err(fail)?;
                    client.query(&statement, &[&raw]).await.map_err(fail)
                })
                .await?;
            let mut found = BTreeMap::new();
            for row in &rows {
                let (key, versioned) = self.decode_entry(StoreOperation::MultiGet, row)?;
                found.insert(key, versioned);
            }
            // Keys may repeat; each position gets its own copy.
            Ok(keys.iter().map(|key| found.get(key).cloned()).collect())
        }
        .instrument(span)
        .await
    }

    async fn scan_prefix(&self, prefix: &Key, page: Page) -> Result<Vec<(Key, Versioned)>, StoreError> {
        let span = tracing::debug_span!("store.scan_prefix", backend = "postgres", %prefix, limit = page.limit());
        async {
            let end = prefix.prefix_end();
            let limit = i64::try_from(page.limit()).unwrap_or(i64::MAX);
            let rows = self
                .retrying(StoreOperation::ScanPrefix, Some(prefix), || async {
                    let fail = |error| self.before_commit(StoreOperation::ScanPrefix, Some(prefix), error);
                    let client = self.connection().await?;
                    // Resuming after a key below the prefix starts at the
                    // prefix; `key > after` does the rest.
                    let (sql, start) = match page.resume_after() {
                        Some(after) if after.as_bytes() >= prefix.as_bytes() => {
                            (&self.inner.sql.scan_after, after.as_bytes())
                        }
                        _ => (&self.inner.sql.scan_first, prefix.as_bytes()),
                    };
                    let statement = client.prepare_cached(sql).await.map_err(fail)?;
                    client.query(&statement, &[&start, &end.as_slice(), &limit]).await.map_err(fail)
                })
                .await?;
            rows.iter().map(|row| self.decode_entry(StoreOperation::ScanPrefix, row)).collect()
        }
        .instrument(span)
        .await
    }

    async fn apply(&self, batch: Batch) -> Result<Outcome, StoreError> {
        let span = tracing::debug_span!(
            "store.apply",
            backend = "postgres",
            conditions = batch.conditions().len(),
            ops = batch.ops().len(),
            version = tracing::field::Empty,
            failed_condition = tracing::field::Empty,
        );
        async {
            let plan = Plan::new(&self.inner.schema, batch);
            let outcome = self.retrying(StoreOperation::Write, None, || self.apply_once(&plan)).await?;
            record_outcome(&tracing::Span::current(), &outcome);
            Ok(outcome)
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests;
