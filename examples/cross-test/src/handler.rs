//! The server side of the suite: echoes, fixed results and exceptions,
//! as Apache's reference test servers behave.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use mu2sls::{CallContext, NoException, ServiceError};

use crate::expected::{insanity_result, map_map_result, multi_exception_outcome, multi_result};
use crate::generated::thrift_test::{
    Insanity, Numberz, SecondService, ThriftTest, ThriftTestTestExceptionException,
    ThriftTestTestMultiExceptionException, UserId, Xception, Xtruct, Xtruct2,
};

/// Implements `ThriftTest` with the semantics every cross-test server
/// shares.
#[derive(Clone, Copy, Debug, Default)]
pub struct TestHandler;

type Answer<T> = Result<T, ServiceError<NoException>>;

impl ThriftTest for TestHandler {
    async fn test_void(&self, _: &CallContext) -> Answer<()> {
        Ok(())
    }

    async fn test_string(&self, _: &CallContext, thing: String) -> Answer<String> {
        Ok(thing)
    }

    async fn test_bool(&self, _: &CallContext, thing: bool) -> Answer<bool> {
        Ok(thing)
    }

    async fn test_byte(&self, _: &CallContext, thing: i8) -> Answer<i8> {
        Ok(thing)
    }

    async fn test_i32(&self, _: &CallContext, thing: i32) -> Answer<i32> {
        Ok(thing)
    }

    async fn test_i64(&self, _: &CallContext, thing: i64) -> Answer<i64> {
        Ok(thing)
    }

    async fn test_double(&self, _: &CallContext, thing: f64) -> Answer<f64> {
        Ok(thing)
    }

    async fn test_binary(&self, _: &CallContext, thing: mu2sls::codegen::Bytes) -> Answer<mu2sls::codegen::Bytes> {
        Ok(thing)
    }

    async fn test_struct(&self, _: &CallContext, thing: Xtruct) -> Answer<Xtruct> {
        Ok(thing)
    }

    async fn test_nest(&self, _: &CallContext, thing: Xtruct2) -> Answer<Xtruct2> {
        Ok(thing)
    }

    async fn test_map(&self, _: &CallContext, thing: HashMap<i32, i32>) -> Answer<HashMap<i32, i32>> {
        Ok(thing)
    }

    async fn test_string_map(
        &self,
        _: &CallContext,
        thing: HashMap<String, String>,
    ) -> Answer<HashMap<String, String>> {
        Ok(thing)
    }

    async fn test_set(&self, _: &CallContext, thing: HashSet<i32>) -> Answer<HashSet<i32>> {
        Ok(thing)
    }

    async fn test_list(&self, _: &CallContext, thing: Vec<i32>) -> Answer<Vec<i32>> {
        Ok(thing)
    }

    async fn test_enum(&self, _: &CallContext, thing: Numberz) -> Answer<Numberz> {
        Ok(thing)
    }

    async fn test_typedef(&self, _: &CallContext, thing: UserId) -> Answer<UserId> {
        Ok(thing)
    }

    async fn test_map_map(&self, _: &CallContext, _hello: i32) -> Answer<HashMap<i32, HashMap<i32, i32>>> {
        Ok(map_map_result())
    }

    async fn test_insanity(
        &self,
        _: &CallContext,
        argument: Insanity,
    ) -> Answer<HashMap<UserId, HashMap<Numberz, Insanity>>> {
        Ok(insanity_result(&argument))
    }

    async fn test_multi(
        &self,
        _: &CallContext,
        arg0: i8,
        arg1: i32,
        arg2: i64,
        _arg3: HashMap<i16, String>,
        _arg4: Numberz,
        _arg5: UserId,
    ) -> Answer<Xtruct> {
        Ok(multi_result(arg0, arg1, arg2))
    }

    async fn test_exception(
        &self,
        _: &CallContext,
        arg: String,
    ) -> Result<(), ServiceError<ThriftTestTestExceptionException>> {
        match arg.as_str() {
            "Xception" => Err(Xception { error_code: 1001, message: arg }.into()),
            // An undeclared failure: the client gets an application exception.
            "TException" => Err(ServiceError::internal("This is a TException")),
            _ => Ok(()),
        }
    }

    async fn test_multi_exception(
        &self,
        _: &CallContext,
        arg0: String,
        arg1: String,
    ) -> Result<Xtruct, ServiceError<ThriftTestTestMultiExceptionException>> {
        multi_exception_outcome(&arg0, &arg1).map_err(ServiceError::Exception)
    }

    async fn test_oneway(&self, _: &CallContext, seconds_to_sleep: i32) -> Answer<()> {
        // Apache's Python server sleeps a third of the time asked for. A
        // tokio timer, so the runtime's workers stay free meanwhile.
        let seconds = f64::from(seconds_to_sleep.max(0)) / 3.0;
        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
        Ok(())
    }
}

/// Implements `SecondService`, multiplexed beside `ThriftTest` for
/// `--protocol=multi*`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SecondHandler;

impl SecondService for SecondHandler {
    async fn secondtest_string(&self, _: &CallContext, thing: String) -> Answer<String> {
        Ok(second_test_string(&thing))
    }
}

/// What `secondtestString(thing)` returns: `testString("<thing>")`.
pub fn second_test_string(thing: &str) -> String {
    format!("testString(\"{thing}\")")
}
