//! The hostile-source suite of issue 16 for the tagger: time and peak heap memory of
//! `Tagger::tag` on each hostile shape, one run each.
//!
//! ```text
//! cargo run --release -p gleaner-tag --example hostile -- [--mib 10] [SHAPE...]
//! ```
//!
//! Shapes (all by default): capitals, giant_token, short_sentences, punctuation,
//! listed_capitals, dates, prose (see `common/hostile.rs`). Each shape runs in a process of its
//! own; "peak RSS+" is the process's peak resident memory (VmHWM, Linux) less its resident
//! memory just before `tag()` (the tagger and the input text are not counted), also shown as a
//! multiple of the input's size.

#[path = "common/hostile.rs"]
mod hostile;

use std::process::{Command, ExitCode};
use std::time::Instant;

use gleaner_tag::Tagger;

/// A field of `/proc/self/status` in KiB ("VmRSS:", "VmHWM:"); 0 where there is none.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

const SEED: &str = include_str!("../testdata/seed_000.txt");

/// Tag one shape in this process and print its row.
fn one(name: &str, bytes: usize) -> ExitCode {
    let tagger = Tagger::new();
    let date = chrono::NaiveDate::from_ymd_opt(2022, 1, 20);
    let Some(text) = hostile::shape(name, bytes, SEED) else {
        eprintln!("hostile: no shape {name}");
        return ExitCode::from(2);
    };
    let before = status_kib("VmRSS:");
    let started = Instant::now();
    let entities = tagger.tag(&text, date);
    let seconds = started.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM:").saturating_sub(before) * 1024;
    println!(
        "{:<16} {:>10} {:>9.2} {:>9.1} MB {:>8.1} {:>9}",
        name,
        text.len(),
        seconds,
        peak as f64 / 1e6,
        peak as f64 / text.len() as f64,
        entities.len()
    );
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mib = args
        .iter()
        .position(|a| a == "--mib")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(10.0);
    let bytes = (mib * 1024.0 * 1024.0) as usize;
    if let Some(name) = args
        .iter()
        .position(|a| a == "--one")
        .and_then(|i| args.get(i + 1))
    {
        return one(name, bytes);
    }
    let wanted: Vec<&String> = args
        .iter()
        .enumerate()
        .filter(|&(i, a)| {
            let after_mib = i > 0 && args.get(i - 1).is_some_and(|p| p == "--mib");
            !a.starts_with("--") && !after_mib
        })
        .map(|(_, a)| a)
        .collect();
    let Ok(me) = std::env::current_exe() else {
        eprintln!("hostile: cannot find its own executable");
        return ExitCode::from(2);
    };
    println!(
        "{:<16} {:>10} {:>9} {:>12} {:>8} {:>9}",
        "shape", "bytes", "seconds", "peak RSS+", "× input", "entities"
    );
    for name in hostile::NAMES {
        if !wanted.is_empty() && !wanted.iter().any(|w| *w == name) {
            continue;
        }
        // Each shape in a process of its own, so that one's peak is not another's.
        let status = Command::new(&me)
            .args(["--one", name, "--mib", &mib.to_string()])
            .status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("hostile: shape {name} failed");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
