//! `PostgresStore` against the shared conformance suite, plus what only
//! this backend has: schema creation, corrupt rows, unreachable servers.

use std::time::Duration;

use super::testing::{TestSchema, test_url};
use super::{PostgresOptions, PostgresStore};
use crate::store::conformance::{self, durable::Reopen};
use crate::store::{Batch, Corruption, Key, Page, Store, StoreBackend, StoreError, StoreOperation};

async fn fixture() -> (TestSchema, PostgresStore) {
    let schema = TestSchema::new();
    let store = schema.open().await;
    (schema, store)
}

conformance::conformance_tests!(fixture().await);

/// A schema a store can be opened on again; a crash image is another store
/// on the same schema while the first is still open, since whatever
/// PostgreSQL acknowledged is on its disk (a real server restart is in the
/// example crate's chaos test).
struct Reopening(TestSchema);

impl Reopen for Reopening {
    type Store = PostgresStore;

    async fn open(&self) -> PostgresStore {
        self.0.open().await
    }

    async fn close(&self, store: PostgresStore) {
        store.close();
    }

    async fn open_crash_image(&self) -> PostgresStore {
        self.0.open().await
    }
}

conformance::durable::durable_conformance_tests!(Reopening(TestSchema::new()));

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]
    #[test]
    fn matches_model(steps in conformance::model_steps()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        let (_schema, store) = runtime.block_on(fixture());
        conformance::run_model_check_on(&runtime, store, steps)?;
    }
}

/// Runs SQL on the test server outside any store.
async fn sql(statements: &str) {
    let (client, connection) = tokio_postgres::connect(&test_url(), tokio_postgres::NoTls).await.expect("connect");
    let connection = tokio::spawn(connection);
    client.batch_execute(statements).await.expect("run SQL");
    drop(client);
    connection.await.expect("connection task").expect("connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_twice_at_once_creates_the_schema_once() {
    let schema = TestSchema::new();
    let (a, b) = tokio::join!(schema.open(), schema.open());
    let key = Key::from(("state", "shared"));
    assert!(a.apply(Batch::new().absent(key.clone()).put(key.clone(), "a")).await.expect("apply").is_applied());
    // Both handles see one table and one commit sequence.
    assert!(!b.apply(Batch::new().absent(key.clone()).put(key.clone(), "b")).await.expect("apply").is_applied());
    let first = a.get(&key).await.expect("get").expect("present");
    let next = b.apply(Batch::new().put(key.clone(), "b")).await.expect("apply");
    assert!(matches!(next, crate::Outcome::Applied { version } if version > first.version), "{next:?}");
    // Opening an existing schema again is a no-op.
    let c = schema.open().await;
    assert_eq!(c.get(&key).await.expect("get").map(|v| v.value), Some("b".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_rows_are_typed_errors() {
    let (schema, store) = fixture().await;
    let name = schema.name();
    sql(&format!(
        "ALTER TABLE \"{name}\".entries DROP CONSTRAINT entries_version_check;
         INSERT INTO \"{name}\".entries VALUES ('\\x02626164'::bytea, 5, 'x'),
             ('\\x02737461746500'::bytea, -3, 'x'), ('\\x027a65726f00'::bytea, 0, 'x');"
    ))
    .await;
    let negative = Key::from(("state",));
    let zero = Key::from(("zero",));
    let error = store.get(&negative).await.expect_err("negative version");
    assert!(
        matches!(error, StoreError::Corrupt { problem: Corruption::NegativeVersion { version: -3 }, .. }),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        r#"postgres store: corrupt record at key ("state",): record carries negative version -3"#
    );
    let error = store.multi_get(std::slice::from_ref(&zero)).await.expect_err("version 0");
    assert!(matches!(error, StoreError::Corrupt { problem: Corruption::ZeroVersion, .. }), "{error}");
    let error = store.apply(Batch::new().absent(zero.clone()).put(zero, "y")).await.expect_err("condition read");
    assert!(matches!(error, StoreError::Corrupt { problem: Corruption::ZeroVersion, .. }), "{error}");
    let error = store.scan_prefix(&Key::new(), Page::first(10)).await.expect_err("bad key");
    assert!(matches!(error, StoreError::Corrupt { problem: Corruption::Key(_), .. }), "{error}");
    assert_eq!(
        error.to_string(),
        r#"postgres store: corrupt record at key b"\x02bad": invalid key: unterminated component starting at byte 0"#
    );
    // Healthy keys still work next to corrupt ones.
    let fine = Key::from(("fine",));
    assert!(store.apply(Batch::new().put(fine.clone(), "ok")).await.expect("apply").is_applied());
    assert_eq!(store.get(&fine).await.expect("get").map(|v| v.value), Some("ok".into()));

    // A schema from a newer build is refused on open.
    sql(&format!("UPDATE \"{name}\".meta SET schema_version = 99")).await;
    let error = PostgresStore::connect_with(schema.url(), schema.options()).await.expect_err("newer schema");
    assert!(
        matches!(error, StoreError::UnsupportedSchema { backend: StoreBackend::Postgres, found: 99, supported: 1 }),
        "{error}"
    );
}

#[tokio::test]
async fn bad_options_and_unreachable_servers_are_errors() {
    let error = PostgresStore::connect_with(&test_url(), PostgresOptions::new().schema("Bad-Name")).await;
    let error = error.expect_err("invalid schema name");
    assert!(matches!(&error, StoreError::Postgres { operation: StoreOperation::Connect, .. }), "{error}");
    assert!(
        std::error::Error::source(&error).expect("source").to_string().contains("invalid schema name \"Bad-Name\"")
    );

    let error = PostgresStore::connect("not a url=").await.expect_err("bad connection string");
    assert!(std::error::Error::source(&error).expect("source").to_string().contains("invalid connection string"));

    // Port 1 refuses connections: retried for the reconnect window, then
    // reported as a connection error naming the operation.
    let options = PostgresOptions::new().reconnect_for(Duration::from_millis(100));
    let error = PostgresStore::connect_with("postgres://postgres@127.0.0.1:1/test", options).await;
    let error = error.expect_err("nothing listens on port 1");
    let StoreError::Postgres { operation, ref source, .. } = error else { panic!("unexpected error: {error}") };
    assert_eq!(operation, StoreOperation::Migrate);
    assert!(source.is_connection(), "{source}");
    assert_eq!(error.to_string(), "postgres store (schema mu2sls): schema migration failed");
    // What a test on an unreachable server says: the address and the cure.
    let message = super::testing::unreachable_message("postgres://postgres@127.0.0.1:1/test", &error);
    assert!(message.starts_with("PostgreSQL at postgres://postgres@127.0.0.1:1/test"), "{message}");
    assert!(message.contains("pg_ctlcluster --skip-systemctl-redirect 15 main start"), "{message}");
}

#[tokio::test]
async fn a_closed_store_refuses_requests() {
    let (_schema, store) = fixture().await;
    let key = Key::from(("k",));
    store.apply(Batch::new().put(key.clone(), "v")).await.expect("apply");
    store.close();
    let error = store.get(&key).await.expect_err("closed");
    assert!(matches!(error, StoreError::Closed { backend: StoreBackend::Postgres }), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_apply_leaves_no_transaction_behind() {
    let (schema, store) = fixture().await;
    let key = Key::from(("state", "contended"));
    let v1 = store.apply(Batch::new().put(key.clone(), "one")).await.expect("apply");
    // Another session holds the key's lock, as a batch in flight would.
    let (holder, connection) = tokio_postgres::connect(&test_url(), tokio_postgres::NoTls).await.expect("connect");
    let connection = tokio::spawn(connection);
    holder.batch_execute("BEGIN").await.expect("begin");
    holder
        .execute("SELECT pg_advisory_xact_lock($1)", &[&super::lock_id(schema.name(), key.as_bytes())])
        .await
        .expect("lock");
    // The batch waits for the lock inside its transaction; dropping its
    // future there must not hand that transaction back to the pool.
    let blocked = store.apply(Batch::new().put(key.clone(), "dropped"));
    assert!(tokio::time::timeout(Duration::from_millis(200), blocked).await.is_err(), "the lock must block the batch");
    holder.batch_execute("COMMIT").await.expect("commit");
    drop(holder);
    connection.await.expect("connection task").expect("connection");
    // Every pooled connection is usable and outside any transaction: a
    // reused one still inside the dropped batch's transaction would see its
    // writes uncommitted and hold its locks.
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let own = Key::from(("state", "own", i as u64));
                store.apply(Batch::new().absent(own.clone()).put(own.clone(), "x")).await.expect("apply").is_applied()
            })
        })
        .collect();
    for handle in handles {
        assert!(handle.await.expect("task"));
    }
    let crate::Outcome::Applied { version } = v1 else { panic!("first write failed: {v1:?}") };
    assert_eq!(store.get(&key).await.expect("get").map(|v| (v.version, v.value)), Some((version, "one".into())));
    // A connection left in the dropped transaction would still hold the
    // key's lock, and this batch would wait for it forever.
    let next = store.apply(Batch::new().version_is(key.clone(), version).put(key.clone(), "two"));
    let next = tokio::time::timeout(Duration::from_secs(10), next).await.expect("the key's lock was released");
    let next = next.expect("apply");
    assert!(next.is_applied(), "{next:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_connections_are_replaced() {
    let (schema, store) = fixture().await;
    let key = Key::from(("state", "k"));
    // Fill the pool with several connections.
    let writes: Vec<_> = (0..4u64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.apply(Batch::new().put(Key::from(("state", i)), "x")).await })
        })
        .collect();
    for write in writes {
        write.await.expect("task").expect("apply");
    }
    // What a server restart does to them: every backend of this store ends.
    sql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mu2sls {}'",
        schema.name()
    ))
    .await;
    // Reads and batches retry on fresh connections.
    assert!(store.apply(Batch::new().absent(key.clone()).put(key.clone(), "v")).await.expect("apply").is_applied());
    assert_eq!(store.get(&key).await.expect("get").map(|v| v.value), Some("v".into()));
    let both = store.multi_get(&[key.clone(), Key::from(("state", 0u64))]).await.expect("multi_get");
    assert_eq!(both.into_iter().map(|v| v.map(|v| v.value)).collect::<Vec<_>>(), [Some("v".into()), Some("x".into())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlocks_are_retried_inside_apply() {
    let (schema, store) = fixture().await;
    let (a, b) = (Key::from(("state", "a")), Key::from(("state", "b")));
    let ids = [super::lock_id(schema.name(), a.as_bytes()), super::lock_id(schema.name(), b.as_bytes())];
    let (low, high) = (ids[0].min(ids[1]), ids[0].max(ids[1]));
    // Another session takes the locks in the other order than a batch does:
    // the higher one first.
    let (other, connection) = tokio_postgres::connect(&test_url(), tokio_postgres::NoTls).await.expect("connect");
    let connection = tokio::spawn(connection);
    other.batch_execute("BEGIN").await.expect("begin");
    other.execute("SELECT pg_advisory_xact_lock($1)", &[&high]).await.expect("lock the higher key");
    let batch = {
        let (store, a, b) = (store.clone(), a.clone(), b.clone());
        tokio::spawn(async move { store.apply(Batch::new().put(a, "A").put(b, "B")).await })
    };
    // Wait (polling the server) until the batch holds the lower lock and
    // waits for the higher one.
    let waiting = format!(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity s USING (pid) \
         WHERE l.locktype = 'advisory' AND NOT l.granted AND s.application_name = 'mu2sls {}'",
        schema.name()
    );
    let mut polls = 0;
    while other.query_one(&waiting, &[]).await.expect("poll pg_locks").get::<_, i64>(0) == 0 {
        polls += 1;
        assert!(polls < 500, "the batch never waited for the lock");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Now the cycle: the batch's transaction waited first, so its deadlock
    // check runs first and aborts it; the store must retry it.
    other.execute("SELECT pg_advisory_xact_lock($1)", &[&low]).await.expect("the batch is the deadlock victim");
    other.batch_execute("COMMIT").await.expect("commit");
    drop(other);
    connection.await.expect("connection task").expect("connection");
    let outcome = batch.await.expect("task").expect("a deadlock is retried, not returned");
    let crate::Outcome::Applied { version } = outcome else { panic!("unconditional batch failed: {outcome:?}") };
    let read = store.multi_get(&[a, b]).await.expect("multi_get");
    assert_eq!(read.iter().map(|v| v.as_ref().map(|v| v.version)).collect::<Vec<_>>(), [Some(version); 2]);
}
