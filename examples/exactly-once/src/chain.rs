//! Services calling services exactly once (`idl/chain.thrift`): `Front`
//! calls `Relay`, which calls `Tally`; `Front` also fans calls out to
//! `Tally` asynchronously and fires one and forgets it.
//!
//! Every call a handler makes through `ctx.client::<XClient>()` or
//! `ctx.invoke_async` is a logged step: the callee runs it once under the
//! id `caller/step`, and a retry or replay of the caller gets the recorded
//! result instead of calling again.

use std::sync::Arc;

use mu2sls::{CallError, Ctx, Engine, EngineConfig, Peer, ServiceError, Store, SystemClock};

pub use crate::generated::chain::{
    FrontClient, FrontDurable, FrontDurableServer, FrontOrderException, Refused, RelayClient, RelayDurable,
    RelayDurableServer, RelayForwardException, TallyClient, TallyDurable, TallyDurableServer,
};

/// A callee's failure as the caller's handler reports it: a declared
/// exception maps through `exception`; anything else is not a result (an
/// undeclared failure: the caller's call is retried under the same ids).
fn failed<E, F>(e: CallError<E>, exception: impl FnOnce(E) -> F) -> ServiceError<F> {
    match e {
        CallError::Exception(e) => ServiceError::Exception(exception(e)),
        CallError::Application(e) => ServiceError::Application(e),
        CallError::Transport(e) => ServiceError::Application(mu2sls::ApplicationException::internal(e.to_string())),
    }
}

/// Named tallies.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally;

impl TallyDurable for Tally {
    async fn add(&self, ctx: &mut Ctx, name: String, amount: i64) -> Result<i64, ServiceError<mu2sls::NoException>> {
        Ok(ctx
            .update(&name, |old: Option<i64>| {
                let new = old.unwrap_or(0).saturating_add(amount);
                (new, new)
            })
            .await?)
    }

    async fn total(&self, ctx: &mut Ctx, name: String) -> Result<i64, ServiceError<mu2sls::NoException>> {
        Ok(ctx.get::<i64>(&name).await?.unwrap_or(0))
    }
}

/// Counts what it forwards per name (key `forwarded/<name>`), refuses
/// amounts below 1.
#[derive(Clone, Copy, Debug, Default)]
pub struct Relay;

impl RelayDurable for Relay {
    async fn forward(
        &self,
        ctx: &mut Ctx,
        name: String,
        amount: i64,
    ) -> Result<i64, ServiceError<RelayForwardException>> {
        if amount < 1 {
            let refused = Refused { reason: format!("amount {amount} is below 1") };
            return Err(ServiceError::Exception(RelayForwardException::Refused(refused)));
        }
        ctx.update(&forwarded_key(&name), |old: Option<i64>| (old.unwrap_or(0) + 1, ())).await?;
        let tally = ctx.client::<TallyClient>()?;
        tally.add(&name, amount).await.map_err(|e| failed(e, |never| match never {}))
    }
}

/// Where [`Relay`] counts the calls it forwarded for `name`.
pub fn forwarded_key(name: &str) -> String {
    format!("forwarded/{name}")
}

/// The entry service.
#[derive(Clone, Copy, Debug, Default)]
pub struct Front;

impl FrontDurable for Front {
    async fn order(&self, ctx: &mut Ctx, name: String, amount: i64) -> Result<i64, ServiceError<FrontOrderException>> {
        // Logged nondeterminism between the calls: replays see the same id.
        let _order_id = ctx.uuid().await?;
        let relay = ctx.client::<RelayClient>()?;
        relay
            .forward(&name, amount)
            .await
            .map_err(|e| failed(e, |RelayForwardException::Refused(refused)| FrontOrderException::Refused(refused)))
    }

    async fn spread(
        &self,
        ctx: &mut Ctx,
        names: Vec<String>,
        amount: i64,
    ) -> Result<Vec<i64>, ServiceError<mu2sls::NoException>> {
        let mut calls = Vec::with_capacity(names.len());
        for name in names {
            let call = ctx
                .invoke_async(move |tally: TallyClient| {
                    let name = name.clone();
                    async move { tally.add(&name, amount).await }
                })
                .await?;
            calls.push(call);
        }
        // Joined in any order, each resolves to its own step's result.
        let mut totals = Vec::with_capacity(calls.len());
        for result in futures_util::future::join_all(calls).await {
            totals.push(result.map_err(|e| failed(e, |never| match never {}))?);
        }
        Ok(totals)
    }

    async fn notify(&self, ctx: &mut Ctx, name: String, amount: i64) -> Result<(), ServiceError<mu2sls::NoException>> {
        let call = ctx
            .invoke_async(move |tally: TallyClient| {
                let name = name.clone();
                async move { tally.add(&name, amount).await }
            })
            .await?;
        // Dropped without awaiting: the intent makes it run anyway.
        drop(call);
        Ok(())
    }
}

/// The three servers of the chain.
pub type FrontServer<S> = FrontDurableServer<Front, S, SystemClock>;
/// See [`FrontServer`].
pub type RelayServer<S> = RelayDurableServer<Relay, S, SystemClock>;
/// See [`FrontServer`].
pub type TallyServer<S> = TallyDurableServer<Tally, S, SystemClock>;

/// The chain's three servers.
#[derive(Debug)]
pub struct Chain<S> {
    /// The entry.
    pub front: Arc<FrontServer<S>>,
    /// The middle hop.
    pub relay: Arc<RelayServer<S>>,
    /// The last hop.
    pub tally: Arc<TallyServer<S>>,
}

/// The chain's servers over one store, in one process, calling each other
/// in process (`Peer::local`).
pub fn local_chain<S: Store + Clone + 'static>(store: S, config: EngineConfig) -> Chain<S> {
    let tally =
        Arc::new(TallyDurableServer::new(Tally, Engine::new("Tally", store.clone(), SystemClock, config.clone())));
    let relay =
        Arc::new(RelayDurableServer::new(Relay, Engine::new("Relay", store.clone(), SystemClock, config.clone())));
    let front = Arc::new(FrontDurableServer::new(Front, Engine::new("Front", store, SystemClock, config)));
    relay.engine().add_peer("Tally", Peer::local(tally.clone()));
    front.engine().add_peer("Relay", Peer::local(relay.clone()));
    front.engine().add_peer("Tally", Peer::local(tally.clone()));
    Chain { front, relay, tally }
}
