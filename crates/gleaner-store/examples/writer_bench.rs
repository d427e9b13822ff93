//! Writer benchmark: write the articles of an existing database into a fresh one, the way
//! the pipeline's writer does (groups written into one open transaction, a commit every
//! `TX` articles), and report the writer's CPU time, bytes written and database size.
//!
//! ```text
//! cargo run --release -p gleaner-store --example writer_bench -- SOURCE_DB OUT_DB [GROUP] [TX]
//! ```
//!
//! `SOURCE_DB` is any gleaner database (e.g. one kept by `xtask bench run --keep-db`; it is
//! opened, so an older one is migrated); `OUT_DB` must not exist. `GROUP` articles (default
//! 150, about the pipeline's 2 MB group) go into each [`gleaner_store::ArticleTransaction`]
//! call, and the transaction is committed every `TX` articles (default 1,000, the pipeline's
//! batch). For instruction counts, run it under callgrind with
//! `--toggle-collect='writer_bench::write_all'`: only the writing is counted, not the reading.

use std::path::{Path, PathBuf};
use std::time::Instant;

use gleaner_model::{Article, SourceKind};
use gleaner_store::{ArticleKey, Origin, Store};

fn main() {
    if let Err(e) = run() {
        eprintln!("writer_bench: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(source), Some(out)) = (args.first(), args.get(1)) else {
        return Err("usage: writer_bench SOURCE_DB OUT_DB [GROUP] [TX]".into());
    };
    let group: usize = args.get(2).map_or(Ok(150), |s| s.parse())?;
    let tx: usize = args.get(3).map_or(Ok(1000), |s| s.parse())?;
    let out = PathBuf::from(out);
    if out.exists() {
        return Err(format!("{} exists", out.display()).into());
    }
    let articles = read_all(Path::new(source))?;
    let mentions: usize = articles.iter().map(|a| a.entities.len()).sum();
    let mut store = Store::open(&out)?;
    let source_id = store.ensure_source(SourceKind::Blogger, "https://bench.example/", None)?;
    let batch: Vec<(Article, Option<i64>)> =
        articles.into_iter().map(|a| (a, Some(source_id))).collect();
    let (cpu0, io0, t0) = (cpu_seconds(), bytes_written(), Instant::now());
    write_all(&mut store, &batch, group.max(1), tx.max(1))?;
    let (cpu1, io1, wall) = (cpu_seconds(), bytes_written(), t0.elapsed());
    drop(store);
    let size: u64 = ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", out.display())).ok())
        .map(|m| m.len())
        .sum();
    let n = batch.len().max(1) as f64;
    println!(
        "{} articles, {mentions} mentions: {:.3} CPU ms/article, {:.3} ms wall/article, {:.1} KB written/article, database {:.1} KB/article ({:.2}x)",
        batch.len(),
        (cpu1 - cpu0) * 1000.0 / n,
        wall.as_secs_f64() * 1000.0 / n,
        io1.saturating_sub(io0) as f64 / 1e3 / n,
        size as f64 / 1e3 / n,
        io1.saturating_sub(io0) as f64 / size.max(1) as f64,
    );
    Ok(())
}

/// Every article of `path`, in id order, as the pipeline would hand it over (no id).
fn read_all(path: &Path) -> Result<Vec<Article>, Box<dyn std::error::Error>> {
    let store = Store::open(path)?;
    let ids: Vec<i64> = store
        .connection()
        .prepare("SELECT id FROM articles ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut articles = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(mut a) = store.article(ArticleKey::Id(id))? {
            a.id = None;
            articles.push(a);
        }
    }
    Ok(articles)
}

/// The part counted: groups into one open transaction, a commit every `tx` articles.
#[inline(never)]
fn write_all(
    store: &mut Store,
    batch: &[(Article, Option<i64>)],
    group: usize,
    tx: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let origins = vec![Origin::Page; group];
    for part in batch.chunks(tx) {
        let mut t = store.begin_articles();
        for g in part.chunks(group) {
            t.upsert(g, &origins[..g.len()])?;
        }
        t.commit()?;
    }
    Ok(())
}

/// CPU seconds (user + system) of this process, on Linux.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

/// Bytes this process handed to `write()` (`/proc/self/io` `wchar`).
fn bytes_written() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|io| {
            io.lines()
                .find_map(|l| l.strip_prefix("wchar:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}
