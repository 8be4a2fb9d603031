//! Compiles `idl/bank.thrift` and `idl/chain.thrift` with the exactly-once
//! flavour.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    thrift_gen::Builder::new().exactly_once(true).compile(&["../../idl/bank.thrift", "../../idl/chain.thrift"])?;
    Ok(())
}
