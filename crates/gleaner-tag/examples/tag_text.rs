//! Tag a plain-text file and print one entity per line: kind, start..end, text, canonical name
//! (and "OFFSET MISMATCH" should an offset ever fail to slice the body to the text).
//!
//! ```text
//! cargo run -p gleaner-tag --example tag_text -- FILE [--date YYYY-MM-DD] [--clean]
//! ```
//!
//! `--date` is the reference (publication) date for relative dates; `--clean` first runs the
//! text through `gleaner-clean` as one paragraph block per blank-line separated chunk (the first
//! chunk being the title), which is how the pipeline stores a body.

use std::process::ExitCode;

use gleaner_model::{ScrapedArticle, TextBlock};
use gleaner_tag::Tagger;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let date_at = args.iter().position(|a| a == "--date");
    let path = args
        .iter()
        .enumerate()
        .find(|(i, a)| !a.starts_with("--") && date_at.is_none_or(|d| d + 1 != *i))
        .map(|(_, a)| a);
    let Some(path) = path else {
        eprintln!("usage: tag_text FILE [--date YYYY-MM-DD] [--clean]");
        return ExitCode::from(2);
    };
    let date = date_at
        .and_then(|i| args.get(i + 1))
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("tag_text: cannot read {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let body = if args.iter().any(|a| a == "--clean") {
        let mut chunks = text.split("\n\n");
        let title = chunks.next().map(str::to_string);
        let scraped = ScrapedArticle {
            title,
            blocks: chunks.map(TextBlock::paragraph).collect(),
            ..ScrapedArticle::default()
        };
        gleaner_clean::clean(&scraped).body
    } else {
        text
    };
    // Byte offset of every char (and of the end), to check offsets without rescanning the body.
    let bytes: Vec<usize> = body
        .char_indices()
        .map(|(b, _)| b)
        .chain(std::iter::once(body.len()))
        .collect();
    let slice = |s: usize, e: usize| body.get(*bytes.get(s)?..*bytes.get(e)?);
    for e in Tagger::new().tag(&body, date) {
        let ok = if slice(e.start, e.end) == Some(e.text.as_str()) {
            ""
        } else {
            "  OFFSET MISMATCH"
        };
        println!(
            "{:<12} {:>5}..{:<5} {:<28} {}{ok}",
            e.kind.as_str(),
            e.start,
            e.end,
            e.text,
            e.name
        );
    }
    ExitCode::SUCCESS
}
