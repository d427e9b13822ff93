//! Run [`gleaner_scrape::extract`] over every `*.html` / `*.html.gz` file of a directory and
//! print one JSON line per file: `{"id": "<file name up to its first dot>", "title": …,
//! "body": "<blocks joined by blank lines>"}`.
//! The output is what `shared/eval/score_extraction.py` reads as predictions.
//!
//! ```text
//! cargo run --release -p gleaner-scrape --example extract_dir DIR > predictions.jsonl
//! ```
//!
//! `*.html` and `*.html.gz` files are read (gzip unpacked) as UTF-8, invalid bytes replaced.
//! An empty or missing folder is reported on stderr.

use std::io::Read;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: extract_dir DIR");
        return ExitCode::from(2);
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("extract_dir: cannot read {dir}: {e}");
            return ExitCode::from(2);
        }
    };
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.to_string_lossy();
            name.ends_with(".html") || name.ends_with(".html.gz")
        })
        .collect();
    paths.sort();
    let pages: Vec<(String, String)> = paths
        .iter()
        .filter_map(|p| {
            let mut bytes = std::fs::read(p).ok()?;
            if bytes.starts_with(&[0x1f, 0x8b]) {
                let mut raw = Vec::new();
                flate2::read::MultiGzDecoder::new(&bytes[..])
                    .read_to_end(&mut raw)
                    .ok()?;
                bytes = raw;
            }
            // The file name up to its first dot: `<id>.html.gz` → `<id>`.
            let name = p.file_name()?.to_string_lossy().into_owned();
            let id = name.split('.').next().unwrap_or(&name).to_string();
            Some((id, String::from_utf8_lossy(&bytes).into_owned()))
        })
        .collect();
    if pages.is_empty() {
        eprintln!("extract_dir: no .html or .html.gz files in {dir}");
        return ExitCode::from(2);
    }
    let start = Instant::now();
    let mut lines = Vec::with_capacity(pages.len());
    for (id, html) in &pages {
        let a = gleaner_scrape::extract(html, "");
        let body = a
            .blocks
            .iter()
            .map(|b| b.text.as_str())
            .collect::<Vec<_>>()
            .join("\n\n");
        lines.push(serde_json::json!({"id": id, "title": a.title, "body": body}).to_string());
    }
    let secs = start.elapsed().as_secs_f64();
    for l in lines {
        println!("{l}");
    }
    eprintln!(
        "extract_dir: {} pages in {:.3} s ({:.0} pages/s)",
        pages.len(),
        secs,
        pages.len() as f64 / secs.max(1e-9)
    );
    ExitCode::SUCCESS
}
