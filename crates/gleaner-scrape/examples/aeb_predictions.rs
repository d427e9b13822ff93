//! Turn `gleaner extract` output into predictions for `shared/eval/score_extraction.py`.
//!
//! `gleaner extract FILE…` prints one article per line with `"id": null` (an article not
//! stored yet) and the page's address in `"url"` (`file:///…/<id>.html.gz` when no `--url`
//! is given). The scorer keys predictions by `"id"`, the file name up to its first dot, so
//! this reads the articles on stdin and prints `{"id": "<file stem>", "body": …}` lines:
//!
//! ```text
//! ./target/release/gleaner extract ../shared/eval/aeb-dev/html/*.html.gz \
//!   | cargo run -q -p gleaner-scrape --example aeb_predictions > pred.jsonl
//! python3 ../shared/eval/score_extraction.py ../shared/eval/aeb-dev/ground-truth.json pred.jsonl
//! ```
//!
//! Lines that are not JSON objects with a `url` are reported on stderr and skipped.

use std::io::{BufRead, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let (mut written, mut skipped) = (0usize, 0usize);
    for (n, line) in stdin.lines().enumerate() {
        let Ok(line) = line else {
            skipped += 1;
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        let article: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("aeb_predictions: line {}: not JSON: {e}", n + 1);
                skipped += 1;
                continue;
            }
        };
        let Some(url) = article.get("url").and_then(|u| u.as_str()) else {
            eprintln!("aeb_predictions: line {}: no url", n + 1);
            skipped += 1;
            continue;
        };
        // The file name without directories, query or extensions: `<id>.html.gz` → `<id>`.
        let name = url.rsplit('/').next().unwrap_or(url);
        let id = name.split(['.', '?', '#']).next().unwrap_or(name);
        let body = article.get("body").and_then(|b| b.as_str()).unwrap_or("");
        let row = serde_json::json!({ "id": id, "body": body });
        if writeln!(out, "{row}").is_err() {
            return ExitCode::FAILURE;
        }
        written += 1;
    }
    if out.flush().is_err() {
        return ExitCode::FAILURE;
    }
    eprintln!("aeb_predictions: {written} predictions, {skipped} lines skipped");
    ExitCode::SUCCESS
}
