//! `thrift-mu2sls`: compile Thrift IDL into Rust. See `thrift-mu2sls --help`.

fn main() {
    let code = thrift_gen::cli_main(std::env::args());
    std::process::exit(code);
}
