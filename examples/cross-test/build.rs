//! Compiles `idl/thrift_test.thrift` (Apache's cross-test service) into
//! `OUT_DIR`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    thrift_gen::Builder::new().compile(&["../../idl/thrift_test.thrift"])?;
    Ok(())
}
