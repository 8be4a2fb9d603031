//! The counter and the bank in one process, over a sled store in a
//! temporary directory: every call is sent with an idempotency key and
//! retried, and still runs once.

use std::process::ExitCode;

use example_exactly_once::{BankClient, BankTransferException, CounterClient};
use mu2sls::{CallError, Channel, EngineConfig, SledOptions, SledStore};

#[allow(clippy::print_stdout, clippy::print_stderr)] // a demo prints what it does
#[tokio::main]
async fn main() -> ExitCode {
    match demo().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bank-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::print_stdout)]
async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("mu2sls-bank-demo-{}", std::process::id()));
    let store = SledStore::open(&dir, SledOptions::default()).await?;
    let counter_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let bank_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let (counter_addr, bank_addr) = (counter_listener.local_addr()?, bank_listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(example_exactly_once::serve(
        store.clone(),
        EngineConfig::default(),
        counter_listener,
        bank_listener,
        async {
            let _ = stopped.await;
        },
    ));

    let counter = Channel::new(counter_addr.to_string());
    let bank = Channel::new(bank_addr.to_string());

    // A keyed call retried three times (as after lost replies) runs once.
    let hits = CounterClient::new(counter.with_idempotency_key("visit-1"));
    for attempt in 1..=3 {
        println!("increment visits (attempt {attempt}) -> {}", hits.increment("visits", 1).await?);
    }
    println!("visits = {}", CounterClient::new(counter.clone()).read("visits").await?);

    // Opening an account logs its random id and its time: a retry gets the same account.
    let opening = BankClient::new(bank.with_idempotency_key("open-alice"));
    let first = opening.open("alice").await?;
    let again = opening.open("alice").await?;
    println!("opened {} at {} ms; the retry got {}", first.id, first.opened_ms, again.id);
    assert_eq!(first, again, "a retried open returns the same account");

    let deposit = BankClient::new(bank.with_idempotency_key("deposit-1"));
    for _ in 0..3 {
        deposit.deposit(&first.id, 100).await?;
    }
    let client = BankClient::new(bank.clone());
    println!("balance after a deposit of 100 sent three times: {}", client.balance(&first.id).await?);

    // A declared exception is a result like any other: recorded, and returned to the retry.
    let overdraw = BankClient::new(bank.with_idempotency_key("transfer-1"));
    for _ in 0..2 {
        match overdraw.transfer(&first.id, "bob", 500).await {
            Err(CallError::Exception(BankTransferException::Insufficient(e))) => {
                println!("transfer of {} refused: {} holds {}", e.wanted, e.account, e.balance);
            }
            other => return Err(format!("expected InsufficientFunds, got {other:?}").into()),
        }
    }
    BankClient::new(bank.with_idempotency_key("transfer-2")).transfer(&first.id, "bob", 30).await?;
    println!("after moving 30: alice {} bob {}", client.balance(&first.id).await?, client.balance("bob").await?);

    let _ = stop.send(());
    server.await??;
    store.close().await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
