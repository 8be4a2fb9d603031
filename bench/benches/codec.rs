//! Codec benchmark: thrift-mu2sls against Apache `thrift` and pilota on
//! the same IDL and the same values (BENCHMARKS.md, "Codec").
//!
//! Rows are named `{encode,decode}/{binary,compact}/{ours,pilota,apache}/{post,echo}`.
//! Before anything is timed, each peer's encoding is compared byte for byte
//! with ours, and each peer's decoded value with the original; a peer that
//! cannot decode the bytes correctly is reported (pilota's compact reader:
//! cloudwego/pilota#371) and that row is not timed.
//!
//! Every peer does the same work per iteration (`mu2sls_bench::wire`):
//! encode into a reused buffer (cleared first, capacity kept) with a
//! protocol object made per message; decode from one shared frame into
//! owned values that are dropped inside the timed loop.
//!
//!   cd bench && cargo bench --bench codec -- --save-baseline NAME
//!   cd bench && cargo bench --bench codec -- post        # one payload

use std::fmt::Debug;
use std::hint::black_box;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mu2sls::codec::{Decode, Encode};
use mu2sls_bench::wire::{BinaryWire, CompactWire, Wire, ours_encode};
use mu2sls_bench::{apache, payload, pilota_gen};
use pilota::thrift::Message;
use thrift::protocol::TSerializable;

/// A buffer far larger than any payload, so no run measures growth.
const BUF_CAPACITY: usize = 16 * 1024;

/// Checks, then times, one payload in one protocol for all three peers.
fn bench_payload<W, O, A, P>(c: &mut Criterion, name: &str, value: &O)
where
    W: Wire,
    O: Encode + Decode + PartialEq + Debug + for<'a> From<&'a A> + for<'a> From<&'a P>,
    A: TSerializable + for<'a> From<&'a O>,
    P: Message + for<'a> From<&'a O>,
{
    let apache_value = A::from(value);
    let pilota_value = P::from(value);

    // What each peer writes; ours is the reference.
    let mut ours_buf = BytesMut::with_capacity(BUF_CAPACITY);
    ours_encode::<W::Ours, O>(value, &mut ours_buf);
    let frame = ours_buf.clone().freeze();
    assert_eq!(frame.len(), mu2sls::codec::encoded_len::<W::Ours, O>(value), "{name}: encoded_len");
    let mut apache_buf = Vec::with_capacity(BUF_CAPACITY);
    W::apache_encode(&apache_value, &mut apache_buf);
    let mut pilota_buf = BytesMut::with_capacity(BUF_CAPACITY);
    W::pilota_encode(&pilota_value, &mut pilota_buf);
    assert_eq!(apache_buf[..], frame[..], "{name}/{}: Apache's bytes differ from ours", W::NAME);
    assert_eq!(pilota_buf[..], frame[..], "{name}/{}: pilota's bytes differ from ours", W::NAME);
    println!("{name}/{}: {} bytes, identical from all three encoders", W::NAME, frame.len());

    // What each peer reads back from those bytes.
    let ours_back: O = mu2sls::codec::decode::<W::Ours, O>(&frame).expect("ours decodes its own bytes");
    assert_eq!(&ours_back, value, "{name}/{}: ours decoded a different value", W::NAME);
    let apache_back = W::apache_decode::<A>(&frame).expect("Apache decodes the bytes");
    assert_eq!(&O::from(&apache_back), value, "{name}/{}: Apache decoded a different value", W::NAME);
    let pilota_ok = match catch_unwind(AssertUnwindSafe(|| W::pilota_decode::<P>(&frame))) {
        Ok(Ok(v)) if O::from(&v) == *value => true,
        Ok(Ok(v)) => {
            println!("{name}/{}: pilota decode FAILS (#371): wrong value {:?}", W::NAME, O::from(&v));
            false
        }
        Ok(Err(e)) => {
            println!("{name}/{}: pilota decode FAILS (#371): error: {e}", W::NAME);
            false
        }
        Err(_) => {
            println!("{name}/{}: pilota decode FAILS (#371): panicked", W::NAME);
            false
        }
    };

    let throughput = Throughput::Bytes(frame.len() as u64);

    let mut g = c.benchmark_group(format!("encode/{}", W::NAME));
    g.throughput(throughput.clone());
    g.bench_function(format!("ours/{name}"), |b| {
        b.iter(|| {
            ours_buf.clear();
            ours_encode::<W::Ours, O>(black_box(value), &mut ours_buf);
            black_box(&ours_buf);
        })
    });
    g.bench_function(format!("pilota/{name}"), |b| {
        b.iter(|| {
            pilota_buf.clear();
            W::pilota_encode(black_box(&pilota_value), &mut pilota_buf);
            black_box(&pilota_buf);
        })
    });
    g.bench_function(format!("apache/{name}"), |b| {
        b.iter(|| {
            apache_buf.clear();
            W::apache_encode(black_box(&apache_value), &mut apache_buf);
            black_box(&apache_buf);
        })
    });
    g.finish();

    let mut g = c.benchmark_group(format!("decode/{}", W::NAME));
    g.throughput(throughput);
    g.bench_function(format!("ours/{name}"), |b| {
        b.iter(|| mu2sls::codec::decode::<W::Ours, O>(black_box(&frame)).expect("checked above"))
    });
    if pilota_ok {
        g.bench_function(format!("pilota/{name}"), |b| {
            b.iter(|| W::pilota_decode::<P>(black_box(&frame)).expect("checked above"))
        });
    }
    g.bench_function(format!("apache/{name}"), |b| {
        b.iter(|| W::apache_decode::<A>(black_box(&frame)).expect("checked above"))
    });
    g.finish();
}

fn codec(c: &mut Criterion) {
    let post = payload::post();
    let echo = payload::echo();
    bench_payload::<BinaryWire, _, apache::Post, pilota_gen::bench::bench::Post>(c, "post", &post);
    bench_payload::<CompactWire, _, apache::Post, pilota_gen::bench::bench::Post>(c, "post", &post);
    bench_payload::<BinaryWire, _, apache::EchoRequest, pilota_gen::bench::bench::EchoRequest>(c, "echo", &echo);
    bench_payload::<CompactWire, _, apache::EchoRequest, pilota_gen::bench::bench::EchoRequest>(c, "echo", &echo);
}

criterion_group! {
    name = benches;
    // The method's settings (BENCHMARKS.md): identical for every peer.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(3))
        .measurement_time(Duration::from_secs(10))
        .sample_size(100);
    targets = codec
}
criterion_main!(benches);
