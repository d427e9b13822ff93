//! Extraction speed on one core: `cargo bench -p gleaner-scrape --bench extract`.
//!
//! The input is the aeb-dev evaluation set (`../shared/eval/aeb-dev/html/*.html.gz`, relative
//! to the workspace root, or `$GLEANER_EVAL_DIR/aeb-dev/html`: 88 news and blog pages), each page through [`gleaner_scrape::extract`]
//! (HTML parsing, metadata, content scoring, block splitting). When that folder is missing the
//! bench says so on stderr and uses the crate's own Blogger fixtures instead, so the figure is
//! then not comparable. Throughput is reported in pages per second; the median is in
//! `target/criterion/extract/aeb-dev/new/estimates.json`.

use std::hint::black_box;
use std::io::Read;
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const FIXTURES: &[&str] = &[
    include_str!("../tests/fixtures/classic_minima_post.html"),
    include_str!("../tests/fixtures/contempo_post.html"),
    include_str!("../tests/fixtures/classic_index.html"),
    include_str!("../tests/fixtures/dynamic_views_post.html"),
];

/// The aeb-dev pages, unpacked and decoded (lossy UTF-8), sorted by file name.
fn aeb_dev_pages(dir: &Path) -> Option<Vec<String>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".html.gz"))
        .collect();
    paths.sort();
    let pages: Vec<String> = paths
        .iter()
        .filter_map(|p| {
            let bytes = std::fs::read(p).ok()?;
            let mut raw = Vec::new();
            flate2::read::MultiGzDecoder::new(&bytes[..])
                .read_to_end(&mut raw)
                .ok()?;
            Some(String::from_utf8_lossy(&raw).into_owned())
        })
        .collect();
    (!pages.is_empty()).then_some(pages)
}

fn bench(c: &mut Criterion) {
    // `$GLEANER_EVAL_DIR`, else `../shared/eval` beside the checkout (or two levels up, for a
    // worktree under `wt/NAME`).
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let eval = std::env::var_os("GLEANER_EVAL_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            [root.join("../shared/eval"), root.join("../../shared/eval")]
                .into_iter()
                .find(|p| p.is_dir())
        })
        .unwrap_or_else(|| root.join("../shared/eval"));
    let dir = eval.join("aeb-dev/html");
    let (name, pages) = match aeb_dev_pages(&dir) {
        Some(p) => ("aeb-dev", p),
        None => {
            eprintln!(
                "extract bench: {} is missing or empty; measuring the crate's own fixtures \
                 instead (NOT comparable with the aeb-dev figure)",
                dir.display()
            );
            ("fixtures", FIXTURES.iter().map(|s| s.to_string()).collect())
        }
    };
    let mut group = c.benchmark_group("extract");
    group.throughput(Throughput::Elements(pages.len() as u64));
    group.sample_size(20);
    group.bench_function(name, |b| {
        b.iter(|| {
            for html in &pages {
                black_box(gleaner_scrape::extract(
                    black_box(html),
                    "https://example.com/a",
                ));
            }
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
