//! Cross-test peers written with Apache's `thrift` crate, for the interop
//! matrix: mu2sls against the Apache Rust library, on the wire.
//!
//! The code comes from Debian's `thrift --gen rs` (0.17) on
//! `idl/thrift_test.thrift`, the IDL of the mu2sls cross-test binaries.
//! Two binaries front it with Apache's cross-test command line:
//!
//! - `apache-cross-server`: a `TServer` (one blocking worker per
//!   connection, one call at a time) serving [`Handler`].
//! - `apache-cross-client`: runs [`run_suite`] with Apache's generated sync
//!   client; prints one line per test and a summary, and exits 0 when every
//!   test passed, 1 otherwise (as Apache's Rust test client).
//!
//! ```sh
//! apache-cross-server --port=9090 --protocol=compact --transport=framed &
//! apache-cross-client --port=9090 --protocol=compact --transport=framed
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use clap::{Args, Parser, ValueEnum};
use thrift::protocol::{
    TBinaryInputProtocol, TBinaryInputProtocolFactory, TBinaryOutputProtocol, TBinaryOutputProtocolFactory,
    TCompactInputProtocol, TCompactInputProtocolFactory, TCompactOutputProtocol, TCompactOutputProtocolFactory,
    TInputProtocol, TInputProtocolFactory, TOutputProtocol, TOutputProtocolFactory,
};
use thrift::server::TServer;
use thrift::transport::{
    TBufferedReadTransport, TBufferedReadTransportFactory, TBufferedWriteTransport, TBufferedWriteTransportFactory,
    TFramedReadTransport, TFramedReadTransportFactory, TFramedWriteTransport, TFramedWriteTransportFactory, TIoChannel,
    TReadTransport, TReadTransportFactory, TTcpChannel, TWriteTransport, TWriteTransportFactory,
};
use thrift::{ApplicationError, ApplicationErrorKind, OrderedFloat};

/// Apache's generated code for `idl/thrift_test.thrift`.
#[allow(missing_docs, unreachable_pub, clippy::all, dead_code, non_camel_case_types, unused_imports)]
#[allow(rust_2018_idioms)]
pub mod thrift_test {
    include!(concat!(env!("OUT_DIR"), "/thrift_test_module.rs"));
}

use thrift_test::{
    Insanity, Numberz, TThriftTestSyncClient, ThriftTestSyncClient, ThriftTestSyncHandler, ThriftTestSyncProcessor,
    UserId, Xception, Xception2, Xtruct, Xtruct2,
};

/// `--protocol`: the ones Apache's Rust library speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    /// Strict binary.
    Binary,
    /// Compact.
    Compact,
}

/// `--transport`: the ones Apache's Rust library speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    /// Messages back to back.
    Buffered,
    /// A 4-byte length before each message.
    Framed,
}

/// What goes on the wire: the options both binaries take, in Apache's
/// forms (`--key=value` or `--key value`).
#[derive(Clone, Debug, Args)]
pub struct Wire {
    /// Port to serve on or connect to.
    #[arg(long, default_value_t = 9090)]
    pub port: u16,
    /// Host to serve on or connect to.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Protocol.
    #[arg(long, value_enum, default_value_t = Protocol::Binary)]
    pub protocol: Protocol,
    /// Transport.
    #[arg(long, value_enum, default_value_t = Transport::Buffered)]
    pub transport: Transport,
}

impl Wire {
    /// `host:port`, with an IPv6 address in brackets.
    pub fn address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// `apache-cross-server`'s command line.
#[derive(Clone, Debug, Parser)]
#[command(name = "apache-cross-server", about = "Serves ThriftTest on Apache's TServer")]
pub struct ServerOptions {
    /// Port, host, protocol and transport.
    #[command(flatten)]
    pub wire: Wire,
    /// Worker threads, each serving one connection at a time.
    #[arg(long, short = 'n', default_value_t = 4)]
    pub workers: usize,
    /// Apache's server type: ignored, `TServer` is a thread pool.
    #[arg(long, value_name = "TYPE")]
    pub server_type: Option<String>,
}

/// `apache-cross-client`'s command line.
#[derive(Clone, Debug, Parser)]
#[command(name = "apache-cross-client", about = "Runs the ThriftTest checks with Apache's generated client")]
pub struct ClientOptions {
    /// Port, host, protocol and transport.
    #[command(flatten)]
    pub wire: Wire,
    /// How many times to run the suite.
    #[arg(long, short = 'n', default_value_t = 1)]
    pub testloops: u32,
    /// Apache's client thread count: ignored, the suite runs on one
    /// connection.
    #[arg(long, short = 't', value_name = "N")]
    pub threads: Option<u32>,
}

/// `ThriftTest` with the suite's semantics (Apache `test/README.md`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Handler;

impl ThriftTestSyncHandler for Handler {
    fn handle_test_void(&self) -> thrift::Result<()> {
        Ok(())
    }
    fn handle_test_string(&self, thing: String) -> thrift::Result<String> {
        Ok(thing)
    }
    fn handle_test_bool(&self, thing: bool) -> thrift::Result<bool> {
        Ok(thing)
    }
    fn handle_test_byte(&self, thing: i8) -> thrift::Result<i8> {
        Ok(thing)
    }
    fn handle_test_i32(&self, thing: i32) -> thrift::Result<i32> {
        Ok(thing)
    }
    fn handle_test_i64(&self, thing: i64) -> thrift::Result<i64> {
        Ok(thing)
    }
    fn handle_test_double(&self, thing: OrderedFloat<f64>) -> thrift::Result<OrderedFloat<f64>> {
        Ok(thing)
    }
    fn handle_test_binary(&self, thing: Vec<u8>) -> thrift::Result<Vec<u8>> {
        Ok(thing)
    }
    fn handle_test_struct(&self, thing: Xtruct) -> thrift::Result<Xtruct> {
        Ok(thing)
    }
    fn handle_test_nest(&self, thing: Xtruct2) -> thrift::Result<Xtruct2> {
        Ok(thing)
    }
    fn handle_test_map(&self, thing: BTreeMap<i32, i32>) -> thrift::Result<BTreeMap<i32, i32>> {
        Ok(thing)
    }
    fn handle_test_string_map(&self, thing: BTreeMap<String, String>) -> thrift::Result<BTreeMap<String, String>> {
        Ok(thing)
    }
    fn handle_test_set(&self, thing: BTreeSet<i32>) -> thrift::Result<BTreeSet<i32>> {
        Ok(thing)
    }
    fn handle_test_list(&self, thing: Vec<i32>) -> thrift::Result<Vec<i32>> {
        Ok(thing)
    }
    fn handle_test_enum(&self, thing: Numberz) -> thrift::Result<Numberz> {
        Ok(thing)
    }
    fn handle_test_typedef(&self, thing: UserId) -> thrift::Result<UserId> {
        Ok(thing)
    }
    fn handle_test_map_map(&self, _hello: i32) -> thrift::Result<BTreeMap<i32, BTreeMap<i32, i32>>> {
        Ok(map_map_result())
    }
    fn handle_test_insanity(
        &self,
        argument: Insanity,
    ) -> thrift::Result<BTreeMap<UserId, BTreeMap<Numberz, Insanity>>> {
        Ok(insanity_result(&argument))
    }
    fn handle_test_multi(
        &self,
        arg0: i8,
        arg1: i32,
        arg2: i64,
        _arg3: BTreeMap<i16, String>,
        _arg4: Numberz,
        _arg5: UserId,
    ) -> thrift::Result<Xtruct> {
        Ok(Xtruct::new("Hello2".to_string(), arg0, arg1, arg2))
    }
    fn handle_test_exception(&self, arg: String) -> thrift::Result<()> {
        match arg.as_str() {
            "Xception" => Err(Xception { error_code: Some(1001), message: Some(arg) }.into()),
            "TException" => Err(ApplicationError::new(ApplicationErrorKind::Unknown, "TException").into()),
            _ => Ok(()),
        }
    }
    fn handle_test_multi_exception(&self, arg0: String, arg1: String) -> thrift::Result<Xtruct> {
        match arg0.as_str() {
            "Xception" => Err(Xception { error_code: Some(1001), message: Some("This is an Xception".into()) }.into()),
            "Xception2" => Err(Xception2 {
                error_code: Some(2002),
                struct_thing: Some(Xtruct::new("This is an Xception2".to_string(), None, None, None)),
            }
            .into()),
            _ => Ok(Xtruct::new(arg1, None, None, None)),
        }
    }
    fn handle_test_oneway(&self, _seconds_to_sleep: i32) -> thrift::Result<()> {
        // As Apache's C++ server: no sleep, so the suite stays fast.
        Ok(())
    }
}

/// `testMapMap`'s fixed result.
pub fn map_map_result() -> BTreeMap<i32, BTreeMap<i32, i32>> {
    BTreeMap::from([(-4, (-4..=-1).map(|i| (i, i)).collect()), (4, (1..=4).map(|i| (i, i)).collect())])
}

/// `testInsanity(argument)`'s result.
pub fn insanity_result(argument: &Insanity) -> BTreeMap<UserId, BTreeMap<Numberz, Insanity>> {
    let first = BTreeMap::from([(Numberz::TWO, argument.clone()), (Numberz::THREE, argument.clone())]);
    let second = BTreeMap::from([(Numberz::SIX, Insanity::default())]);
    BTreeMap::from([(1, first), (2, second)])
}

type ReadFactory = Box<dyn TReadTransportFactory + Send + Sync>;
type WriteFactory = Box<dyn TWriteTransportFactory + Send + Sync>;
type InputFactory = Box<dyn TInputProtocolFactory + Send + Sync>;
type OutputFactory = Box<dyn TOutputProtocolFactory + Send + Sync>;

/// Serves [`Handler`] on Apache's `TServer` until the process ends.
pub fn serve(options: &ServerOptions) -> thrift::Result<()> {
    let wire = &options.wire;
    let (read, write): (ReadFactory, WriteFactory) = match wire.transport {
        Transport::Framed => {
            (Box::new(TFramedReadTransportFactory::new()), Box::new(TFramedWriteTransportFactory::new()))
        }
        Transport::Buffered => {
            (Box::new(TBufferedReadTransportFactory::new()), Box::new(TBufferedWriteTransportFactory::new()))
        }
    };
    let (input, output): (InputFactory, OutputFactory) = match wire.protocol {
        Protocol::Binary => {
            (Box::new(TBinaryInputProtocolFactory::new()), Box::new(TBinaryOutputProtocolFactory::new()))
        }
        Protocol::Compact => {
            (Box::new(TCompactInputProtocolFactory::new()), Box::new(TCompactOutputProtocolFactory::new()))
        }
    };
    let processor = ThriftTestSyncProcessor::new(Handler);
    TServer::new(read, input, write, output, processor, options.workers.max(1)).listen(wire.address())
}

/// Apache's generated client over one TCP connection.
pub type Client = ThriftTestSyncClient<Box<dyn TInputProtocol + Send>, Box<dyn TOutputProtocol + Send>>;

/// Connects Apache's generated client to `wire.address()`.
pub fn connect(options: &Wire) -> thrift::Result<Client> {
    let mut channel = TTcpChannel::new();
    channel.open(options.address())?;
    let (r, w) = channel.split()?;
    let (r, w): (Box<dyn TReadTransport + Send>, Box<dyn TWriteTransport + Send>) = match options.transport {
        Transport::Framed => (Box::new(TFramedReadTransport::new(r)), Box::new(TFramedWriteTransport::new(w))),
        Transport::Buffered => (Box::new(TBufferedReadTransport::new(r)), Box::new(TBufferedWriteTransport::new(w))),
    };
    Ok(match options.protocol {
        Protocol::Binary => ThriftTestSyncClient::new(
            Box::new(TBinaryInputProtocol::new(r, true)),
            Box::new(TBinaryOutputProtocol::new(w, true)),
        ),
        Protocol::Compact => {
            ThriftTestSyncClient::new(Box::new(TCompactInputProtocol::new(r)), Box::new(TCompactOutputProtocol::new(w)))
        }
    })
}

/// The tests [`run_suite`] runs, in order.
pub const SUITE: [&str; 22] = [
    "testVoid",
    "testString",
    "testBool",
    "testByte",
    "testI32",
    "testI64",
    "testDouble",
    "testBinary",
    "testStruct",
    "testNest",
    "testMap",
    "testStringMap",
    "testSet",
    "testList",
    "testEnum",
    "testTypedef",
    "testMapMap",
    "testInsanity",
    "testMulti",
    "testException",
    "testMultiException",
    "testOneway",
];

/// Passes when `got` is `Ok(expected)`.
fn returns<T: PartialEq + Debug>(call: &str, expected: T, got: thrift::Result<T>) -> Result<(), String> {
    match got {
        Ok(v) if v == expected => Ok(()),
        other => Err(format!("{call}: expected {expected:?}, got {other:?}")),
    }
}

/// Passes when `got` failed with the declared exception `expected`.
fn throws<T: Debug, E: std::error::Error + PartialEq + 'static>(
    call: &str,
    expected: E,
    got: thrift::Result<T>,
) -> Result<(), String> {
    match got {
        Err(thrift::Error::User(e)) if e.downcast_ref::<E>() == Some(&expected) => Ok(()),
        other => Err(format!("{call}: expected {expected:?}, got {other:?}")),
    }
}

/// One test of the suite.
type Check<'a> = dyn FnMut(&mut dyn TThriftTestSyncClient) -> Result<(), String> + 'a;

fn string_thing(x: Option<&Xtruct>) -> Option<&str> {
    x.and_then(|x| x.string_thing.as_deref())
}

/// Runs every test once against `client`, in Apache's order, handing each
/// name and result to `report`.
pub fn run_suite(client: &mut impl TThriftTestSyncClient, mut report: impl FnMut(&'static str, Result<(), String>)) {
    let xtruct = Xtruct::new("Zero ünïcode ✓".to_string(), 1i8, -3, -5i64);
    let insanity = Insanity {
        user_map: Some(BTreeMap::from([(Numberz::FIVE, 5), (Numberz::EIGHT, 8)])),
        xtructs: Some(vec![xtruct.clone(), Xtruct::new("Goodbye4".to_string(), 4i8, 4, 4i64)]),
    };
    let binary: Vec<u8> = (0..=255).collect();
    let string_map = BTreeMap::from([("a".to_string(), "2".to_string()), ("ünï".to_string(), "✓".to_string())]);
    let checks: [&mut Check<'_>; 22] = [
        &mut |c| returns("testVoid()", (), c.test_void()),
        &mut |c| returns("testString", "Test ünïcode ✓".to_string(), c.test_string("Test ünïcode ✓".into())),
        &mut |c| {
            returns("testBool(true)", true, c.test_bool(true))?;
            returns("testBool(false)", false, c.test_bool(false))
        },
        &mut |c| returns("testByte(-1)", -1, c.test_byte(-1)),
        &mut |c| returns("testI32(i32::MIN)", i32::MIN, c.test_i32(i32::MIN)),
        &mut |c| returns("testI64(-34359738368)", -34_359_738_368, c.test_i64(-34_359_738_368)),
        &mut |c| returns("testDouble", OrderedFloat(-5.2098523), c.test_double(OrderedFloat(-5.2098523))),
        &mut |c| returns("testBinary(0..=255)", binary.clone(), c.test_binary(binary.clone())),
        &mut |c| returns("testStruct", xtruct.clone(), c.test_struct(xtruct.clone())),
        &mut |c| {
            let nest = Xtruct2::new(1i8, xtruct.clone(), 5);
            returns("testNest", nest.clone(), c.test_nest(nest))
        },
        &mut |c| {
            let map: BTreeMap<i32, i32> = (0..5).map(|i| (i, i - 10)).collect();
            returns("testMap", map.clone(), c.test_map(map))
        },
        &mut |c| returns("testStringMap", string_map.clone(), c.test_string_map(string_map.clone())),
        &mut |c| {
            let set: BTreeSet<i32> = (-2..3).collect();
            returns("testSet", set.clone(), c.test_set(set))
        },
        &mut |c| returns("testList", vec![-2, -1, 0, 1, 2], c.test_list(vec![-2, -1, 0, 1, 2])),
        &mut |c| {
            for e in [Numberz::ONE, Numberz::TWO, Numberz::EIGHT] {
                returns("testEnum", e, c.test_enum(e))?;
            }
            Ok(())
        },
        &mut |c| returns("testTypedef", 309_858_235_082_523, c.test_typedef(309_858_235_082_523)),
        &mut |c| returns("testMapMap(1)", map_map_result(), c.test_map_map(1)),
        &mut |c| returns("testInsanity", insanity_result(&insanity), c.test_insanity(insanity.clone())),
        &mut |c| {
            let expected = Xtruct::new("Hello2".to_string(), 9i8, 11, 12i64);
            let args = BTreeMap::from([(1, "2".to_string())]);
            returns("testMulti", expected, c.test_multi(9, 11, 12, args, Numberz::FIVE, 13))
        },
        &mut |c| {
            let xception = Xception { error_code: Some(1001), message: Some("Xception".into()) };
            throws("testException(Xception)", xception, c.test_exception("Xception".into()))?;
            match c.test_exception("TException".into()) {
                Err(thrift::Error::Application(_)) => {}
                other => {
                    return Err(format!("testException(TException): expected an application error, got {other:?}"));
                }
            }
            returns("testException(success)", (), c.test_exception("success".into()))
        },
        &mut |c| {
            let first = Xception { error_code: Some(1001), message: Some("This is an Xception".into()) };
            throws("testMultiException(Xception)", first, c.test_multi_exception("Xception".into(), "a".into()))?;
            // Servers whose fields are not optional send the unset ones as
            // zeros: only the fields the suite sets are compared.
            match c.test_multi_exception("Xception2".into(), "b".into()) {
                Err(thrift::Error::User(e))
                    if e.downcast_ref::<Xception2>().is_some_and(|x| {
                        x.error_code == Some(2002)
                            && string_thing(x.struct_thing.as_ref()) == Some("This is an Xception2")
                    }) => {}
                other => return Err(format!("testMultiException(Xception2): expected Xception2 2002, got {other:?}")),
            }
            match c.test_multi_exception("Normal".into(), "c".into()) {
                Ok(x) if string_thing(Some(&x)) == Some("c") => Ok(()),
                other => {
                    Err(format!("testMultiException(Normal): expected Xtruct {{ string_thing: \"c\" }}, got {other:?}"))
                }
            }
        },
        &mut |c| {
            returns("testOneway(1)", (), c.test_oneway(1))?;
            // No stray reply to the oneway call: the next call gets its own.
            returns("testI32(-1) after testOneway", -1, c.test_i32(-1))
        },
    ];
    for (name, check) in SUITE.into_iter().zip(checks) {
        report(name, check(&mut *client));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apache_forms_parse() {
        let o = ClientOptions::parse_from([
            "apache-cross-client",
            "--port=9091",
            "--protocol",
            "compact",
            "--transport=framed",
            "--host=::1",
            "-n",
            "3",
            "--threads=2",
        ]);
        assert_eq!((o.wire.protocol, o.wire.transport, o.testloops), (Protocol::Compact, Transport::Framed, 3));
        assert_eq!(o.wire.address(), "[::1]:9091");
        let o = ServerOptions::parse_from(["apache-cross-server", "--server-type=simple", "--workers=8"]);
        assert_eq!((o.wire.port, o.wire.protocol, o.wire.transport), (9090, Protocol::Binary, Transport::Buffered));
        assert_eq!((o.workers, o.wire.address()), (8, "127.0.0.1:9090".to_string()));
    }
}
