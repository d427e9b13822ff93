//! Tag many articles in one process, for profiling the tagger (callgrind, perf) on real text.
//!
//! ```text
//! gleaner extract ../shared/eval/aeb-dev/html/*.html.gz > /tmp/aeb.jsonl
//! cargo run --release -p gleaner-tag --example tag_many -- /tmp/aeb.jsonl [--rounds N]
//! valgrind --tool=callgrind target/release/examples/tag_many /tmp/aeb.jsonl
//! ```
//!
//! Each input line is a JSON object with a `body` (as `gleaner extract` and `gleaner export`
//! print them; `language` and the date part of `published` are used when present); a file that
//! is not JSON lines is tagged as one plain-text article. Prints the articles, entities (with a
//! checksum of their offsets and names, to compare two builds), and the time spent tagging
//! (wall and CPU time of the thread).

use std::process::ExitCode;
use std::time::Instant;

use gleaner_tag::Tagger;

struct Article {
    body: String,
    language: Option<String>,
    date: Option<chrono::NaiveDate>,
}

fn read(path: &str) -> Result<Vec<Article>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            return Ok(vec![Article {
                body: text,
                language: None,
                date: None,
            }]);
        };
        let Some(body) = v.get("body").and_then(|b| b.as_str()) else {
            continue;
        };
        out.push(Article {
            body: body.to_string(),
            language: v.get("language").and_then(|l| l.as_str()).map(String::from),
            date: v
                .get("published")
                .and_then(|p| p.as_str())
                .and_then(|p| p.get(..10))
                .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
        });
    }
    Ok(out)
}

/// CPU time of this thread so far, in nanoseconds (Linux: `/proc/thread-self/schedstat`), so
/// that a loaded machine's waiting is not counted.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(1);
    let files: Vec<&String> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| {
            !a.starts_with("--") && (*i == 0 || args.get(i - 1).is_none_or(|p| p != "--rounds"))
        })
        .map(|(_, a)| a)
        .collect();
    if files.is_empty() {
        eprintln!("usage: tag_many FILE... [--rounds N]");
        return ExitCode::from(2);
    }
    let mut articles = Vec::new();
    for f in files {
        match read(f) {
            Ok(mut a) => articles.append(&mut a),
            Err(e) => {
                eprintln!("tag_many: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let load = Instant::now();
    let tagger = Tagger::new();
    let load = load.elapsed();
    let started = Instant::now();
    let cpu_start = thread_cpu_ns();
    let (mut entities, mut sum) = (0usize, 0u64);
    for _ in 0..rounds {
        for a in &articles {
            for e in tagger.tag_in_language(&a.body, a.date, a.language.as_deref()) {
                entities += 1;
                // FNV-1a over what an entity is: two builds that agree print the same sum.
                for b in format!("{:?}{}{}{}", e.kind, e.start, e.end, e.name).bytes() {
                    sum = (sum ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
                }
            }
        }
    }
    let took = started.elapsed();
    let cpu = thread_cpu_ns()
        .zip(cpu_start)
        .map(|(b, a)| b.saturating_sub(a));
    let bytes: usize = articles.iter().map(|a| a.body.len()).sum::<usize>() * rounds;
    println!(
        "{} articles x {rounds}, {entities} entities (checksum {sum:016x}); tables {:.0} ms; tagging {:.1} ms ({} ms on the CPU), {:.3} ms/article, {:.1} MB/s",
        articles.len(),
        load.as_secs_f64() * 1e3,
        took.as_secs_f64() * 1e3,
        cpu.map_or_else(|| "?".to_string(), |ns| format!("{:.1}", ns as f64 / 1e6)),
        took.as_secs_f64() * 1e3 / (articles.len() * rounds).max(1) as f64,
        bytes as f64 / took.as_secs_f64().max(1e-9) / 1e6,
    );
    ExitCode::SUCCESS
}
