//! The closed-loop load generator of the benchmarks (`eo-bench`,
//! `chain-bench`): `concurrency` tasks each make one call after another;
//! calls started after the warm-up are timed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Throughput and latency of one benchmark cell.
#[derive(Clone, Copy, Debug)]
pub struct Cell {
    /// Calls per second during the measured time.
    pub rps: f64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 99th percentile latency, µs.
    pub p99_us: f64,
    /// The process's CPU time (all threads: client and server when both run
    /// here) over the measured time per call completed, µs; `None` where
    /// the system does not report it (`/proc/self/task/*/schedstat`).
    pub cpu_us_per_call: Option<f64>,
}

/// CPU time of every thread of this process so far, ns (Linux).
fn process_cpu_ns() -> Option<u64> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        // A thread that exited meanwhile is skipped.
        let Ok(stat) = std::fs::read_to_string(task.ok()?.path().join("schedstat")) else { continue };
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// Runs `concurrency` closed-loop tasks for `warmup + measure`; `call(task,
/// n)` makes task `task`'s `n`th call. With several tasks, each yields after
/// every call, so tasks whose calls never wait (the memory store) still
/// interleave.
pub async fn drive<F, Fut>(concurrency: usize, warmup: Duration, measure: Duration, call: F) -> Cell
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let call = Arc::new(call);
    let start = Instant::now();
    let (from, until) = (start + warmup, start + warmup + measure);
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..concurrency {
        let call = call.clone();
        tasks.spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("histogram");
            let mut n = 0u64;
            loop {
                let started = Instant::now();
                if started >= until {
                    return hist;
                }
                call(task, n).await;
                n += 1;
                if started >= from {
                    let _ = hist.record(started.elapsed().as_nanos().max(1) as u64);
                }
                if concurrency > 1 {
                    tokio::task::yield_now().await;
                }
            }
        });
    }
    tokio::time::sleep_until(from.into()).await;
    let cpu_from = process_cpu_ns();
    tokio::time::sleep_until(until.into()).await;
    let cpu_until = process_cpu_ns();
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("histogram");
    while let Some(h) = tasks.join_next().await {
        all.add(h.expect("task")).expect("merge");
    }
    Cell {
        rps: all.len() as f64 / measure.as_secs_f64(),
        p50_us: all.value_at_quantile(0.5) as f64 / 1000.0,
        p99_us: all.value_at_quantile(0.99) as f64 / 1000.0,
        cpu_us_per_call: match (cpu_from, cpu_until) {
            (Some(a), Some(b)) if !all.is_empty() => Some(b.saturating_sub(a) as f64 / 1000.0 / all.len() as f64),
            _ => None,
        },
    }
}

/// The median of `values` (the upper one of an even count; NaN if there
/// are none).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// A fresh directory name under the system's temp dir.
pub fn tempdir(tag: &str) -> std::path::PathBuf {
    let n: u64 = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    std::env::temp_dir().join(format!("mu2sls-{tag}-{}-{n}", std::process::id()))
}

/// The PostgreSQL server benchmarks also run on, if any: the URL in
/// `MU2SLS_BENCH_POSTGRES`.
pub fn postgres_url() -> Option<String> {
    std::env::var("MU2SLS_BENCH_POSTGRES").ok().filter(|u| !u.is_empty())
}

/// Runs `run` on a `PostgresStore` in a fresh schema of the server at
/// `url`, and drops the schema afterwards.
#[cfg(feature = "postgres")]
pub async fn on_fresh_schema<T, Fut: std::future::Future<Output = T>>(
    url: &str,
    run: impl FnOnce(mu2sls::PostgresStore) -> Fut,
) -> T {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SCHEMAS: AtomicU64 = AtomicU64::new(0);
    let schema = format!("mu2sls_bench_{}_{}", std::process::id(), SCHEMAS.fetch_add(1, Ordering::Relaxed));
    let options = mu2sls::PostgresOptions::new().schema(schema.clone()).pool_size(32);
    let store = mu2sls::PostgresStore::connect_with(url, options).await.expect("open postgres store");
    let result = run(store.clone()).await;
    store.close();
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect");
    let connection = tokio::spawn(connection);
    client.batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE")).await.expect("drop the bench schema");
    drop(client);
    let _ = connection.await;
    result
}
