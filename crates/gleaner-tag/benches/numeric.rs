//! The number rules (dates, money, percentages) alone: `cargo bench -p gleaner-tag --bench numeric`.
//!
//! Inputs: the bodies `xtask bench run` serves (8 paragraphs of news prose, every other one
//! outside ASCII), the seed article, and hostile texts (a megabyte of digits, of currency signs,
//! of month names). With `NUMERIC_LOOP=N` in the environment the bench instead runs
//! `numeric::find` once over the bodies of posts `0..N` and exits (for callgrind:
//! `NUMERIC_LOOP=1000 valgrind --tool=callgrind target/release/deps/numeric-*`).

use criterion::{Criterion, Throughput, criterion_group};
use gleaner_tag::numeric;
use std::hint::black_box;

const SEED: &str = include_str!("../testdata/seed_000.txt");

#[path = "../../xtask/src/post_text.rs"]
mod post_text;

/// The body of post `n` as `xtask bench run` writes it, paragraphs joined by blank lines.
fn post_body(n: usize, count: usize) -> String {
    post_text::post_text(n, count).join("\n\n")
}

/// A text of about `bytes` bytes: `piece` repeated.
fn repeated(piece: &str, bytes: usize) -> String {
    piece.repeat(bytes / piece.len().max(1) + 1)
}

fn bench(c: &mut Criterion) {
    let date = chrono::NaiveDate::from_ymd_opt(2022, 1, 20);
    let posts: Vec<String> = (0..64).map(|n| post_body(n, 8)).collect();
    let bytes: usize = posts.iter().map(String::len).sum();
    let mut group = c.benchmark_group("numeric");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("bench_posts", |b| {
        b.iter(|| {
            for p in &posts {
                black_box(numeric::find(black_box(p), date));
            }
        });
    });
    group.throughput(Throughput::Bytes(SEED.len() as u64));
    group.bench_function("seed", |b| b.iter(|| numeric::find(black_box(SEED), date)));
    for (name, piece) in [
        ("digits_1mb", "0123456789"),
        ("digit_words_1mb", "in 2014 $5 12% 3 May 2021 "),
        ("currency_1mb", "€$£¥"),
        ("months_1mb", "May March in June Jan. "),
    ] {
        let text = repeated(piece, 1 << 20);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.sample_size(10);
        group.bench_function(name, |b| b.iter(|| numeric::find(black_box(&text), date)));
    }
    group.finish();
}

criterion_group!(benches, bench);

fn main() {
    if let Some(n) = std::env::var("NUMERIC_LOOP")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let date = chrono::NaiveDate::from_ymd_opt(2022, 1, 20);
        let posts: Vec<String> = (0..n).map(|k| post_body(k, 8)).collect();
        let mut found = 0;
        for p in &posts {
            found += black_box(numeric::find(black_box(p), date)).len();
        }
        println!("{n} posts, {found} matches");
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
