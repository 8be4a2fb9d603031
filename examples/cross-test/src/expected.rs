//! The fixed results of the suite, as Apache's test servers compute them:
//! one copy that the handler returns and the client expects.

use std::collections::HashMap;

use crate::generated::thrift_test::{
    Insanity, Numberz, ThriftTestTestMultiExceptionException as MultiException, UserId, Xception, Xception2, Xtruct,
};

/// `testMapMap`: `{-4: {-4: -4, …, -1: -1}, 4: {1: 1, …, 4: 4}}`, whatever
/// the argument.
pub fn map_map_result() -> HashMap<i32, HashMap<i32, i32>> {
    let negative = (-4..=-1).map(|i| (i, i)).collect();
    let positive = (1..=4).map(|i| (i, i)).collect();
    HashMap::from([(-4, negative), (4, positive)])
}

/// `testInsanity(argument)`: user 1 maps TWO and THREE to the argument,
/// user 2 maps SIX to an empty `Insanity`.
pub fn insanity_result(argument: &Insanity) -> HashMap<UserId, HashMap<Numberz, Insanity>> {
    let first = HashMap::from([(Numberz::TWO, argument.clone()), (Numberz::THREE, argument.clone())]);
    let second = HashMap::from([(Numberz::SIX, Insanity::default())]);
    HashMap::from([(1, first), (2, second)])
}

/// `testMulti(arg0, arg1, arg2, …)`: `Xtruct { "Hello2", arg0, arg1, arg2 }`.
pub fn multi_result(arg0: i8, arg1: i32, arg2: i64) -> Xtruct {
    Xtruct { string_thing: "Hello2".to_string(), byte_thing: arg0, i32_thing: arg1, i64_thing: arg2 }
}

/// `testMultiException(arg0, arg1)`: the declared exception it throws, or
/// the struct it returns.
pub fn multi_exception_outcome(arg0: &str, arg1: &str) -> Result<Xtruct, MultiException> {
    match arg0 {
        "Xception" => {
            Err(MultiException::Err1(Xception { error_code: 1001, message: "This is an Xception".to_string() }))
        }
        "Xception2" => Err(MultiException::Err2(Xception2 {
            error_code: 2002,
            struct_thing: Xtruct { string_thing: "This is an Xception2".to_string(), ..Xtruct::default() },
        })),
        _ => Ok(Xtruct { string_thing: arg1.to_string(), ..Xtruct::default() }),
    }
}
