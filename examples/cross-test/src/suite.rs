//! The client side of the suite: one test per `ThriftTest` method, each
//! checking exact results, and Apache's failure bits for the exit code.

use std::collections::{HashMap, HashSet};
use std::fmt::{self, Debug};
use std::time::{Duration, Instant};

use mu2sls::{CallError, TransportError};

use crate::expected::{insanity_result, map_map_result, multi_exception_outcome, multi_result};
use crate::generated::thrift_test::{
    Insanity, Numberz, SecondServiceClient, ThriftTestClient, ThriftTestTestExceptionException, Xception, Xtruct,
    Xtruct2,
};

/// The groups of Apache's exit code (`test/README.md`): each failed test
/// sets its group's bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// 1: void, strings, numbers, binary, oneway.
    BaseTypes,
    /// 2: structs, enums, typedefs, `testInsanity`, `testMulti`.
    Structs,
    /// 4: maps, sets, lists.
    Containers,
    /// 8: declared and undeclared exceptions.
    Exceptions,
}

impl Category {
    /// The exit-code bit.
    pub fn bit(self) -> u8 {
        match self {
            Category::BaseTypes => 1,
            Category::Structs => 2,
            Category::Containers => 4,
            Category::Exceptions => 8,
        }
    }
}

/// Why a test failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A wrong answer: a value, an exception, or a bad reply.
    Wrong(String),
    /// No reply within the deadline (exit bit 128).
    Timeout(String),
    /// The server could not be reached, or the connection broke (exit
    /// bit 64, Apache's "unknown or setup").
    Unreachable(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Wrong(m) => f.write_str(m),
            Failure::Timeout(m) => write!(f, "timed out: {m}"),
            Failure::Unreachable(m) => write!(f, "no connection: {m}"),
        }
    }
}

/// One test's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The method tested (`testString`).
    pub name: &'static str,
    /// Its exit-code group.
    pub category: Category,
    /// Passed, or why not.
    pub result: Result<(), Failure>,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.result {
            Ok(()) => write!(f, "{} ... ok", self.name),
            Err(e) => write!(f, "{} ... FAILED: {e}", self.name),
        }
    }
}

/// The results of one or more runs of the suite.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    outcomes: Vec<Outcome>,
}

impl Summary {
    /// Records a result.
    pub fn add(&mut self, outcome: Outcome) {
        self.outcomes.push(outcome);
    }

    /// Tests passed.
    pub fn passed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.result.is_ok()).count()
    }

    /// Tests failed.
    pub fn failed(&self) -> usize {
        self.outcomes.len() - self.passed()
    }

    /// Apache's exit code: 0 when every test passed, else the OR of the
    /// failed tests' group bits, 64 for connection trouble, 128 for a
    /// timeout.
    pub fn exit_code(&self) -> u8 {
        self.outcomes.iter().fold(0, |code, o| match &o.result {
            Ok(()) => code,
            Err(Failure::Wrong(_)) => code | o.category.bit(),
            Err(Failure::Timeout(_)) => code | o.category.bit() | 128,
            Err(Failure::Unreachable(_)) => code | o.category.bit() | 64,
        })
    }
}

type Check = Result<(), Failure>;

/// Runs every test once against `client`, in Apache's order, handing each
/// result to `report` as it comes.
pub async fn run_suite(client: &ThriftTestClient, mut report: impl FnMut(Outcome)) {
    use Category::*;
    let mut record = |name, category, result| report(Outcome { name, category, result });
    record("testVoid", BaseTypes, test_void(client).await);
    record("testString", BaseTypes, test_string(client).await);
    record("testBool", BaseTypes, test_bool(client).await);
    record("testByte", BaseTypes, test_byte(client).await);
    record("testI32", BaseTypes, test_i32(client).await);
    record("testI64", BaseTypes, test_i64(client).await);
    record("testDouble", BaseTypes, test_double(client).await);
    record("testBinary", BaseTypes, test_binary(client).await);
    record("testStruct", Structs, test_struct(client).await);
    record("testNest", Structs, test_nest(client).await);
    record("testMap", Containers, test_map(client).await);
    record("testStringMap", Containers, test_string_map(client).await);
    record("testSet", Containers, test_set(client).await);
    record("testList", Containers, test_list(client).await);
    record("testEnum", Structs, test_enum(client).await);
    record("testTypedef", Structs, test_typedef(client).await);
    record("testMapMap", Containers, test_map_map(client).await);
    record("testInsanity", Structs, test_insanity(client).await);
    record("testMulti", Structs, test_multi(client).await);
    record("testException", Exceptions, test_exception(client).await);
    record("testMultiException", Exceptions, test_multi_exception(client).await);
    record("testOneway", BaseTypes, test_oneway(client).await);
}

/// Runs the test of `SecondService` (multiplexed beside `ThriftTest`,
/// `--protocol=multi*`) against `client`.
pub async fn run_second_service(client: &SecondServiceClient, mut report: impl FnMut(Outcome)) {
    report(Outcome { name: "secondtestString", category: Category::BaseTypes, result: test_second(client).await });
}

async fn test_second(c: &SecondServiceClient) -> Check {
    for s in ["", "Test", "Ünïcödé 日本"] {
        let want = crate::handler::second_test_string(s);
        returns(format!("secondtestString({s:?})"), &want, c.secondtest_string(s).await)?;
    }
    Ok(())
}

/// A failed call: transport trouble keeps its own kind, anything else is
/// a wrong answer.
fn unexpected<T: Debug, E: Debug>(call: &str, expected: &dyn Debug, got: Result<T, CallError<E>>) -> Failure {
    match got {
        Err(CallError::Transport(e @ TransportError::Timeout(_))) => Failure::Timeout(format!("{call}: {e}")),
        Err(CallError::Transport(e @ (TransportError::Connect { .. } | TransportError::Closed(_)))) => {
            Failure::Unreachable(format!("{call}: {e}"))
        }
        other => Failure::Wrong(format!("{call}: expected {}, got {}", brief(expected), brief(&other))),
    }
}

/// `value`'s debug form, cut short: a mebibyte of binary is no message.
fn brief(value: &dyn Debug) -> String {
    const LIMIT: usize = 300;
    let text = format!("{value:?}");
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}… ({} more bytes)", &text[..cut], text.len() - cut),
        None => text,
    }
}

/// Checks that a call returned `want`.
fn returns<T: PartialEq + Debug, E: Debug>(call: impl fmt::Display, want: &T, got: Result<T, CallError<E>>) -> Check {
    match got {
        Ok(v) if v == *want => Ok(()),
        other => Err(unexpected(&call.to_string(), want, other)),
    }
}

async fn test_void(c: &ThriftTestClient) -> Check {
    returns("testVoid()", &(), c.test_void().await)
}

async fn test_string(c: &ThriftTestClient) -> Check {
    let long = "Thrift ".repeat(200);
    let unicode = "Jährliche Übung · Ελληνικά · Русский · 日本語 · 🦀👍🏽";
    for s in ["", "Test", unicode, "nul\0inside", &long] {
        returns(format_args!("testString({s:?})"), &s.to_string(), c.test_string(s).await)?;
    }
    Ok(())
}

async fn test_bool(c: &ThriftTestClient) -> Check {
    for b in [true, false] {
        returns(format_args!("testBool({b})"), &b, c.test_bool(b).await)?;
    }
    Ok(())
}

async fn test_byte(c: &ThriftTestClient) -> Check {
    for b in [1, 0, -1, i8::MIN, i8::MAX] {
        returns(format_args!("testByte({b})"), &b, c.test_byte(b).await)?;
    }
    Ok(())
}

async fn test_i32(c: &ThriftTestClient) -> Check {
    for i in [-1, 0, 1, i32::MIN, i32::MAX] {
        returns(format_args!("testI32({i})"), &i, c.test_i32(i).await)?;
    }
    Ok(())
}

async fn test_i64(c: &ThriftTestClient) -> Check {
    for i in [-34359738368, 0, -1, 1 << 40, i64::MIN, i64::MAX] {
        returns(format_args!("testI64({i})"), &i, c.test_i64(i).await)?;
    }
    Ok(())
}

async fn test_double(c: &ThriftTestClient) -> Check {
    let values =
        [-5.2098523, 0.0, -0.0, -0.000_341_012_439_638_598_3, 1e300, f64::MIN_POSITIVE, f64::MAX, f64::NEG_INFINITY];
    for d in values {
        // Bit for bit: 0.0 and -0.0 differ.
        returns(format_args!("testDouble({d:e})"), &d.to_bits(), c.test_double(d).await.map(f64::to_bits))?;
    }
    Ok(())
}

async fn test_binary(c: &ThriftTestClient) -> Check {
    let every_byte: Vec<u8> = (0..=255).collect();
    // A mebibyte: unframed, it arrives in many reads, and a length that
    // reaches past what has arrived must mean "read more".
    let large: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    for b in [&[][..], &every_byte[..], &large[..]] {
        let call = format!("testBinary({} bytes)", b.len());
        returns(call, &b.to_vec(), c.test_binary(b).await.map(|got| got.to_vec()))?;
    }
    Ok(())
}

fn xtruct(s: &str, byte: i8, i32_thing: i32, i64_thing: i64) -> Xtruct {
    Xtruct { string_thing: s.to_string(), byte_thing: byte, i32_thing, i64_thing }
}

async fn test_struct(c: &ThriftTestClient) -> Check {
    for x in [xtruct("Zero", 1, -3, -5), xtruct("Ünïcödé", i8::MIN, i32::MAX, i64::MIN), Xtruct::default()] {
        returns(format_args!("testStruct({x:?})"), &x, c.test_struct(&x).await)?;
    }
    Ok(())
}

async fn test_nest(c: &ThriftTestClient) -> Check {
    let x = Xtruct2 { byte_thing: 1, struct_thing: xtruct("Zero", 1, -3, -5), i32_thing: 5 };
    returns(format_args!("testNest({x:?})"), &x, c.test_nest(&x).await)
}

async fn test_map(c: &ThriftTestClient) -> Check {
    for m in [(0..5).map(|i| (i, i - 10)).collect::<HashMap<i32, i32>>(), HashMap::new()] {
        returns(format_args!("testMap({m:?})"), &m, c.test_map(&m).await)?;
    }
    Ok(())
}

async fn test_string_map(c: &ThriftTestClient) -> Check {
    let pairs = [("a", "2"), ("b", "blah"), ("some", "thing"), ("Ünï", "cödé 日本")];
    let full: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    for m in [full, HashMap::new()] {
        returns(format_args!("testStringMap({m:?})"), &m, c.test_string_map(&m).await)?;
    }
    Ok(())
}

async fn test_set(c: &ThriftTestClient) -> Check {
    for s in [(-2..3).collect::<HashSet<i32>>(), HashSet::new()] {
        returns(format_args!("testSet({s:?})"), &s, c.test_set(&s).await)?;
    }
    Ok(())
}

async fn test_list(c: &ThriftTestClient) -> Check {
    for l in [(-2..3).collect::<Vec<i32>>(), vec![7, 7, -1, 7], Vec::new()] {
        returns(format_args!("testList({l:?})"), &l, c.test_list(&l).await)?;
    }
    Ok(())
}

async fn test_enum(c: &ThriftTestClient) -> Check {
    for &n in Numberz::VALUES {
        returns(format_args!("testEnum({n:?})"), &n, c.test_enum(n).await)?;
    }
    Ok(())
}

async fn test_typedef(c: &ThriftTestClient) -> Check {
    returns("testTypedef(309858235082523)", &309858235082523, c.test_typedef(309858235082523).await)
}

async fn test_map_map(c: &ThriftTestClient) -> Check {
    returns("testMapMap(1)", &map_map_result(), c.test_map_map(1).await)
}

async fn test_insanity(c: &ThriftTestClient) -> Check {
    let argument = Insanity {
        user_map: HashMap::from([(Numberz::FIVE, 5000), (Numberz::EIGHT, 8)]),
        xtructs: vec![xtruct("Goodbye4", 4, 4, 4), xtruct("Hello2", 2, 2, 2)],
    };
    returns("testInsanity(…)", &insanity_result(&argument), c.test_insanity(&argument).await)
}

async fn test_multi(c: &ThriftTestClient) -> Check {
    let arg3 = HashMap::from([(1, "abc".to_string()), (-1, "ü".to_string())]);
    let got = c.test_multi(1, 2, 3, &arg3, Numberz::FIVE, 5).await;
    returns("testMulti(1, 2, 3, …)", &multi_result(1, 2, 3), got)
}

async fn test_exception(c: &ThriftTestClient) -> Check {
    let call = "testException(\"Xception\")";
    let want = Xception { error_code: 1001, message: "Xception".to_string() };
    match c.test_exception("Xception").await {
        Err(CallError::Exception(ThriftTestTestExceptionException::Err1(x))) if x == want => {}
        other => return Err(unexpected(call, &want, other)),
    }
    // An undeclared failure on the server: an application exception, and
    // the connection stays usable.
    let call = "testException(\"TException\")";
    match c.test_exception("TException").await {
        Err(CallError::Application(_)) => {}
        other => return Err(unexpected(call, &"an application exception", other)),
    }
    returns("testException(\"success\")", &(), c.test_exception("success").await)
}

async fn test_multi_exception(c: &ThriftTestClient) -> Check {
    for (arg0, arg1) in [("Xception", "test 1"), ("Xception2", "test 2"), ("success", "test 3")] {
        let call = format!("testMultiException({arg0:?}, {arg1:?})");
        let want = multi_exception_outcome(arg0, arg1);
        let got = c.test_multi_exception(arg0, arg1).await;
        match (&want, got) {
            (Ok(w), Ok(g)) if *w == g => {}
            (Err(w), Err(CallError::Exception(g))) if *w == g => {}
            (_, other) => return Err(unexpected(&call, &want, other)),
        }
    }
    Ok(())
}

/// How soon a oneway call must return: it waits for no reply, while the
/// server sleeps a third of a second. (Apache's C++ client allows 200 ms,
/// its Python client 3 s.)
const ONEWAY_RETURNS_WITHIN: Duration = Duration::from_secs(1);

async fn test_oneway(c: &ThriftTestClient) -> Check {
    let started = Instant::now();
    let sent = c.test_oneway(1).await;
    let took = started.elapsed();
    if let Err(e) = sent {
        return Err(unexpected("testOneway(1)", &(), Err::<(), _>(e)));
    }
    if took > ONEWAY_RETURNS_WITHIN {
        return Err(Failure::Wrong(format!("testOneway(1) took {took:?}: a oneway call waits for nothing")));
    }
    // A normal call still gets its own reply.
    returns("testI32(-1) after testOneway", &-1, c.test_i32(-1).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(category: Category, result: Check) -> Outcome {
        Outcome { name: "testX", category, result }
    }

    #[test]
    fn exit_code_ors_apache_bits() {
        let mut s = Summary::default();
        s.add(outcome(Category::BaseTypes, Ok(())));
        assert_eq!((s.exit_code(), s.passed(), s.failed()), (0, 1, 0));
        s.add(outcome(Category::Structs, Err(Failure::Wrong("x".into()))));
        s.add(outcome(Category::Exceptions, Err(Failure::Wrong("x".into()))));
        assert_eq!(s.exit_code(), 2 | 8);
        s.add(outcome(Category::Containers, Err(Failure::Timeout("x".into()))));
        assert_eq!(s.exit_code(), 2 | 4 | 8 | 128);
        s.add(outcome(Category::BaseTypes, Err(Failure::Unreachable("x".into()))));
        assert_eq!(s.exit_code(), 1 | 2 | 4 | 8 | 64 | 128);
        assert_eq!((s.passed(), s.failed()), (1, 4));
    }

    #[test]
    fn outcomes_read_as_one_line() {
        assert_eq!(outcome(Category::BaseTypes, Ok(())).to_string(), "testX ... ok");
        let failed = outcome(Category::BaseTypes, Err(Failure::Timeout("testX(1): no reply".into())));
        assert_eq!(failed.to_string(), "testX ... FAILED: timed out: testX(1): no reply");
    }
}
