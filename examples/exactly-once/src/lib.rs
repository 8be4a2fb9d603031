//! A counter and a bank whose every call runs exactly once, however often
//! a client retries it and wherever the server crashes: the handlers
//! implement the generated `CounterDurable` and `BankDurable` traits, and
//! every read, write, clock reading and random id goes through their `Ctx`.
//!
//! [`serve`] runs both services over one store in one process, with a
//! collector that finishes calls whose client gave up and a garbage
//! collector; `bank-demo` drives them, `bank-server` serves them for the
//! kill -9 tests.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use mu2sls::{Ctx, DispatchRedriver, Engine, EngineConfig, ServiceError, Store, SystemClock, TxError};

pub mod chain;
pub mod gate;
pub mod loadgen;

/// The generated modules, one per IDL file.
pub mod generated {
    include!(concat!(env!("OUT_DIR"), "/mod.rs"));
}

pub use generated::bank::{
    Account, BankClient, BankDurable, BankDurableServer, BankTransferException, Counter, CounterClient, CounterDurable,
    CounterDurableServer, CounterServer, InsufficientFunds,
};

/// Named counters, one store entry each.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters;

impl CounterDurable for Counters {
    async fn increment(&self, ctx: &mut Ctx, name: String, by: i64) -> Result<i64, ServiceError<mu2sls::NoException>> {
        let total = ctx
            .update(&name, |old: Option<i64>| {
                let new = old.unwrap_or(0).saturating_add(by);
                (new, new)
            })
            .await?;
        Ok(total)
    }

    async fn read(&self, ctx: &mut Ctx, name: String) -> Result<i64, ServiceError<mu2sls::NoException>> {
        Ok(ctx.get::<i64>(&name).await?.unwrap_or(0))
    }

    async fn set(&self, ctx: &mut Ctx, name: String, value: i64) -> Result<(), ServiceError<mu2sls::NoException>> {
        ctx.put(&name, &value).await?;
        Ok(())
    }
}

/// Accounts and their balances: balances are keys `balance/<account>`,
/// accounts entries of the persistent map `accounts`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bank;

fn balance_key(account: &str) -> String {
    format!("balance/{account}")
}

impl BankDurable for Bank {
    async fn open(&self, ctx: &mut Ctx, owner: String) -> Result<Account, ServiceError<mu2sls::NoException>> {
        // Logged nondeterminism: a retry or a replay sees the same id and time.
        let id = ctx.uuid().await?.to_string();
        let opened = ctx.now().await?;
        let opened_ms = opened.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let account = Account { id: id.clone(), owner, opened_ms };
        ctx.map::<Account>("accounts").insert(&id, &account).await?;
        Ok(account)
    }

    async fn deposit(
        &self,
        ctx: &mut Ctx,
        account: String,
        amount: i64,
    ) -> Result<i64, ServiceError<mu2sls::NoException>> {
        let total = ctx
            .update(&balance_key(&account), |old: Option<i64>| {
                let new = old.unwrap_or(0).saturating_add(amount);
                (new, new)
            })
            .await?;
        Ok(total)
    }

    async fn transfer(
        &self,
        ctx: &mut Ctx,
        source: String,
        target: String,
        amount: i64,
    ) -> Result<(), ServiceError<BankTransferException>> {
        let (from_key, to_key) = (balance_key(&source), balance_key(&target));
        let moved = ctx
            .transaction(|tx| {
                let from: i64 = tx.get(&from_key)?.unwrap_or(0);
                if from < amount {
                    let e = InsufficientFunds { account: source.clone(), balance: from, wanted: amount };
                    return Err(TxError::Abort(e));
                }
                let to: i64 = tx.get(&to_key)?.unwrap_or(0);
                tx.put(&from_key, &(from - amount));
                tx.put(&to_key, &(to + amount));
                Ok(())
            })
            .await?;
        // An abort is the call's recorded result: its retries get it too.
        moved.map_err(ServiceError::from)
    }

    async fn balance(&self, ctx: &mut Ctx, account: String) -> Result<i64, ServiceError<mu2sls::NoException>> {
        Ok(ctx.get::<i64>(&balance_key(&account)).await?.unwrap_or(0))
    }
}

/// How often the background collector and garbage collector run.
pub const MAINTENANCE_EVERY: Duration = Duration::from_secs(1);

/// Serves `Counter` on `counter` and `Bank` on `bank` exactly once over
/// `store` until `shutdown` completes, with a collector (re-drives calls
/// whose clients gave up after `config`'s re-drive delay) and a garbage
/// collector running every [`MAINTENANCE_EVERY`].
pub async fn serve<S: Store + Clone + 'static>(
    store: S,
    config: EngineConfig,
    counter: tokio::net::TcpListener,
    bank: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let counters =
        CounterDurableServer::new(Counters, Engine::new("Counter", store.clone(), SystemClock, config.clone()));
    let bank_server = BankDurableServer::new(Bank, Engine::new("Bank", store, SystemClock, config));
    let maintenance = tokio::spawn(maintain(Arc::new(counters.clone()), Arc::new(bank_server.clone())));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let server = mu2sls::Server::builder().build();
    let counting = server.serve(counter, counters, stopped(stop_rx.clone()));
    let banking = server.serve(bank, bank_server, stopped(stop_rx));
    let stop = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    let (a, b, ()) = tokio::join!(counting, banking, stop);
    maintenance.abort();
    a.and(b)
}

type Counting<S> = CounterDurableServer<Counters, S, SystemClock>;
type Banking<S> = BankDurableServer<Bank, S, SystemClock>;

/// Runs the collector and GC of both services forever.
async fn maintain<S: Store + 'static>(counters: Arc<Counting<S>>, bank: Arc<Banking<S>>) {
    let counter_collector = mu2sls::Collector::new(counters.engine().clone(), DispatchRedriver::new(counters.clone()));
    let bank_collector = mu2sls::Collector::new(bank.engine().clone(), DispatchRedriver::new(bank.clone()));
    let mut tick = tokio::time::interval(MAINTENANCE_EVERY);
    loop {
        tick.tick().await;
        let now = counters.engine().now_ms();
        for (service, result) in [
            ("Counter", counter_collector.run_once(now).await.map(|r| r.redriven)),
            ("Bank", bank_collector.run_once(now).await.map(|r| r.redriven)),
        ] {
            match result {
                Ok(0) => {}
                Ok(n) => tracing::info!(service, redriven = n, "collector re-drove calls"),
                Err(error) => tracing::warn!(service, %error, "collector pass failed"),
            }
        }
        for engine_gc in [counters.engine().collect_garbage(now).await, bank.engine().collect_garbage(now).await] {
            if let Err(error) = engine_gc {
                tracing::warn!(%error, "garbage collection failed");
            }
        }
    }
}
