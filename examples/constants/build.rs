//! Compiles `idl/echo.thrift` into `OUT_DIR` on every build where it changed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    thrift_gen::Builder::new().compile(&["../../idl/echo.thrift"])?;
    Ok(())
}
