//! Compiles the IDL of the differential codec tests
//! (`e2e/codec_interop.rs`) into `OUT_DIR`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    thrift_gen::Builder::new().compile(&["idl/interop.thrift"])?;
    Ok(())
}
