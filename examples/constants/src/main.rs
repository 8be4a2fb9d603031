//! Uses code generated from `idl/echo.thrift` by `build.rs`: an open enum
//! and typed constants.

/// The generated modules, one per IDL file.
pub mod generated {
    include!(concat!(env!("OUT_DIR"), "/mod.rs"));
}

use generated::echo::{DEFAULT_VOLUME, MAX_MESSAGE_LEN, Text, Volume};

/// Describes a volume, including values this build does not know.
fn describe(v: Volume) -> String {
    match v.name() {
        Some(name) => format!("{name} ({})", v.0),
        None => format!("unknown volume {}", v.0),
    }
}

#[allow(clippy::print_stdout)] // an example program prints its result
fn main() {
    let greeting: Text = "hello".to_string();
    println!("{greeting}: default volume {}, max message {MAX_MESSAGE_LEN} bytes", describe(DEFAULT_VOLUME));
    for v in Volume::VALUES {
        println!("  {}", describe(*v));
    }
    println!("  {}", describe(Volume::from(7)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_have_the_idl_values() {
        assert_eq!(MAX_MESSAGE_LEN, 65536);
        assert_eq!(DEFAULT_VOLUME, Volume::NORMAL);
        assert_eq!(Volume::VALUES, &[Volume::QUIET, Volume::NORMAL, Volume::LOUD]);
    }

    #[test]
    fn unknown_enum_values_round_trip() {
        let v = Volume::from(42);
        assert_eq!(i32::from(v), 42);
        assert_eq!(v.name(), None);
        assert_eq!(format!("{v:?}"), "Volume(42)");
        assert_eq!(Volume::from_name("LOUD"), Some(Volume::LOUD));
        assert_eq!(describe(Volume::LOUD), "LOUD (3)");
    }
}
