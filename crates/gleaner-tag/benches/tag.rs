//! Tagging speed on one core, tokenisation included: `cargo bench -p gleaner-tag --bench tag`.
//!
//! The input is the seed article (`testdata/seed_000.txt`, about 1,100 tokens) as a whole body
//! through [`Tagger::tag`] (tokenise, name model, rules for dates, money and percentages,
//! resolution), and its sentences as word lists through [`Tagger::tag_tokens`] one by one and
//! through [`Tagger::tag_document`] as one document (the CoNLL paths). Throughput is reported in tokens (the tokenizer's tokens) per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gleaner_tag::{Tagger, tokenize};
use std::hint::black_box;

const SEED: &str = include_str!("../testdata/seed_000.txt");

fn bench(c: &mut Criterion) {
    let tagger = Tagger::new();
    let date = chrono::NaiveDate::from_ymd_opt(2022, 1, 20);
    let tokens = tokenize(SEED).len() as u64;
    let mut group = c.benchmark_group("tag");
    group.throughput(Throughput::Elements(tokens));
    group.bench_function("article", |b| {
        b.iter(|| tagger.tag(black_box(SEED), date));
    });
    let sentences: Vec<Vec<&str>> = SEED
        .split(['.', '\n'])
        .map(|s| tokenize(s).into_iter().map(|t| t.text).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect();
    let words: u64 = sentences.iter().map(|s| s.len() as u64).sum();
    group.throughput(Throughput::Elements(words));
    group.bench_function("conll_sentences", |b| {
        b.iter(|| {
            for s in &sentences {
                black_box(tagger.tag_tokens(black_box(s)));
            }
        });
    });
    let document: Vec<&[&str]> = sentences.iter().map(Vec::as_slice).collect();
    group.bench_function("conll_document", |b| {
        b.iter(|| black_box(tagger.tag_document(black_box(&document))));
    });
    group.finish();
    c.bench_function("tagger_new", |b| b.iter(Tagger::new));
}

criterion_group!(benches, bench);
criterion_main!(benches);
