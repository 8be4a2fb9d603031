//! Test fixtures on a real PostgreSQL: a fresh schema per test, dropped
//! when the fixture goes.
//!
//! The server's address comes from `MU2SLS_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/test`). An unreachable server fails
//! the test with the address and how to start one; it never skips.

use std::time::Duration;

use super::{PostgresOptions, PostgresStore};
use crate::store::StoreError;

/// The variable naming the test server.
pub(crate) const URL_VARIABLE: &str = "MU2SLS_TEST_POSTGRES";
/// The test server when the variable is unset.
pub(crate) const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The test server's connection string.
pub(crate) fn test_url() -> String {
    std::env::var(URL_VARIABLE).unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// A schema of its own for one test, dropped (with everything in it) when
/// the fixture is dropped.
pub(crate) struct TestSchema {
    url: String,
    name: String,
}

impl TestSchema {
    /// A fresh, not yet created schema `mu2sls_test_<random>`.
    pub(crate) fn new() -> TestSchema {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).expect("OS randomness");
        TestSchema { url: test_url(), name: format!("mu2sls_test_{:016x}", u64::from_le_bytes(random)) }
    }

    /// The schema's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The server's connection string.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The options naming this schema, with a small pool.
    pub(crate) fn options(&self) -> PostgresOptions {
        PostgresOptions::new().schema(self.name.clone()).pool_size(8)
    }

    /// A store on this schema (created on first open).
    pub(crate) async fn open(&self) -> PostgresStore {
        match PostgresStore::connect_with(&self.url, self.options()).await {
            Ok(store) => store,
            Err(error) => panic!("{}", unreachable_message(&self.url, &error)),
        }
    }
}

/// What a test says when the server cannot be used.
pub(crate) fn unreachable_message(url: &str, error: &StoreError) -> String {
    let mut causes = String::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        causes.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    let context =
        if std::env::var_os("CI").is_some() { "CI needs it (.ci/run starts it)" } else { "these tests need it" };
    format!(
        "PostgreSQL at {url} (set {URL_VARIABLE} to use another) is not usable: {error}{causes}. {context}: \
         start it with `pg_ctlcluster --skip-systemctl-redirect 15 main start` (Debian: apt-get install postgresql), \
         with trust auth for 127.0.0.1 and a database `test`"
    )
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Drop may run inside a runtime, which cannot block on another; a
        // thread with its own runtime can, and joining it keeps the test
        // from ending before its schema is gone.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let mut config: tokio_postgres::Config = url.parse().ok()?;
                config.connect_timeout(Duration::from_secs(5));
                let (client, connection) = config.connect(tokio_postgres::NoTls).await.ok()?;
                let connection = tokio::spawn(connection);
                let dropped = client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE")).await;
                drop(client);
                let _ = connection.await;
                dropped.ok()
            })
        });
        if !matches!(dropped.join(), Ok(Some(()))) {
            tracing::warn!(schema = %self.name, "could not drop a test schema");
        }
    }
}
