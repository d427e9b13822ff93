//! The hostile-source suite of issue 16 for the tagger, timed by criterion:
//! `cargo bench -p gleaner-tag --bench hostile`.
//!
//! Each shape of `examples/common/hostile.rs` (a run of capitals with no end, one giant token,
//! a million short sentences, all punctuation, capitals between commas, dates, prose) at
//! `GLEANER_HOSTILE_MIB` MiB (default 10, the pipeline's largest body) through
//! [`Tagger::tag`]. Throughput is in bytes. Peak memory is reported by the `hostile` example
//! (`cargo run --release -p gleaner-tag --example hostile`), which runs each shape in a process
//! of its own.

#[path = "../examples/common/hostile.rs"]
mod hostile;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gleaner_tag::Tagger;
use std::hint::black_box;

const SEED: &str = include_str!("../testdata/seed_000.txt");

fn bench(c: &mut Criterion) {
    let mib: f64 = std::env::var("GLEANER_HOSTILE_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10.0);
    let bytes = (mib * 1024.0 * 1024.0) as usize;
    let tagger = Tagger::new();
    let date = chrono::NaiveDate::from_ymd_opt(2022, 1, 20);
    let mut group = c.benchmark_group("hostile");
    group.sample_size(10);
    for name in hostile::NAMES {
        let Some(text) = hostile::shape(name, bytes, SEED) else {
            continue;
        };
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| tagger.tag(black_box(&text), date));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
