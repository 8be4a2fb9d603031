//! Runs one benchmark row a given number of times, outside criterion, for
//! counting its instructions: `bench/instructions.sh` runs this under
//! callgrind with N iterations and with none, and divides the difference
//! by N. Instruction counts do not depend on what else the machine runs,
//! so they back up the wall-clock ratios of a run on a busy machine.
//!
//!   instructions decode/binary/ours/post 20000

use std::hint::black_box;
use std::process::ExitCode;

use bytes::BytesMut;
use mu2sls::codec::{Decode, Encode};
use mu2sls_bench::wire::{BinaryWire, CompactWire, Wire, ours_encode};
use mu2sls_bench::{apache, payload, pilota_gen::bench::bench as pi};
use pilota::thrift::Message;
use thrift::protocol::TSerializable;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(row), Some(Ok(n))) = (args.first(), args.get(1).map(|n| n.parse::<u64>())) else {
        eprintln!(
            "usage: instructions {{encode,decode}}/{{binary,compact}}/{{ours,pilota,apache}}/{{post,echo}} ITERATIONS"
        );
        return ExitCode::from(2);
    };
    let parts: Vec<&str> = row.split('/').collect();
    let &[op, proto, peer, name] = parts.as_slice() else {
        eprintln!("instructions: `{row}` is not op/protocol/peer/payload");
        return ExitCode::from(2);
    };
    let row = Row { op, peer, n };
    let done = match (proto, name) {
        ("binary", "post") => row.run::<BinaryWire, _, apache::Post, pi::Post>(&payload::post()),
        ("compact", "post") => row.run::<CompactWire, _, apache::Post, pi::Post>(&payload::post()),
        ("binary", "echo") => row.run::<BinaryWire, _, apache::EchoRequest, pi::EchoRequest>(&payload::echo()),
        ("compact", "echo") => row.run::<CompactWire, _, apache::EchoRequest, pi::EchoRequest>(&payload::echo()),
        _ => false,
    };
    if done {
        ExitCode::SUCCESS
    } else {
        eprintln!("instructions: unknown row `{}`", args[0]);
        ExitCode::from(2)
    }
}

struct Row<'a> {
    op: &'a str,
    peer: &'a str,
    n: u64,
}

impl Row<'_> {
    /// The same loop bodies as `benches/codec.rs`.
    fn run<W, O, A, P>(&self, value: &O) -> bool
    where
        W: Wire,
        O: Encode + Decode,
        A: TSerializable + for<'a> From<&'a O>,
        P: Message + for<'a> From<&'a O>,
    {
        let apache_value = A::from(value);
        let pilota_value = P::from(value);
        let frame = mu2sls::codec::encode::<W::Ours, O>(value);
        let mut bytes_buf = BytesMut::with_capacity(16 * 1024);
        let mut vec_buf = Vec::with_capacity(16 * 1024);
        match (self.op, self.peer) {
            ("encode", "ours") => (0..self.n).for_each(|_| {
                bytes_buf.clear();
                ours_encode::<W::Ours, O>(black_box(value), &mut bytes_buf);
                black_box(&bytes_buf);
            }),
            ("encode", "pilota") => (0..self.n).for_each(|_| {
                bytes_buf.clear();
                W::pilota_encode(black_box(&pilota_value), &mut bytes_buf);
                black_box(&bytes_buf);
            }),
            ("encode", "apache") => (0..self.n).for_each(|_| {
                vec_buf.clear();
                W::apache_encode(black_box(&apache_value), &mut vec_buf);
                black_box(&vec_buf);
            }),
            ("decode", "ours") => (0..self.n).for_each(|_| {
                black_box(mu2sls::codec::decode::<W::Ours, O>(black_box(&frame)).ok());
            }),
            ("decode", "pilota") => (0..self.n).for_each(|_| {
                black_box(W::pilota_decode::<P>(black_box(&frame)).ok());
            }),
            ("decode", "apache") => (0..self.n).for_each(|_| {
                black_box(W::apache_decode::<A>(black_box(&frame)).ok());
            }),
            _ => return false,
        }
        true
    }
}
