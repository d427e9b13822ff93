//! Decoding saved pages: the time `charset::decode` takes, and what it decides, per file.
//!
//! ```text
//! cargo run --release -p gleaner-fetch --example charset_bench -- [--out FILE.tsv] PATH...
//! ```
//!
//! PATHs are files or directories (their files, not recursing; `.gz` files are decompressed
//! first). Each file is decoded as
//! `gleaner extract` decodes a saved page (no Content-Type, no host), 10 times over; the
//! median pass is printed (ms for all files, MB/s), and with `--out` one line per file:
//! path, encoding, why, and a hash of the decoded text, to compare two builds with `diff`.
//! With no PATH it reads /work/shared/eval/*/html and /work/shared/eval/blogger when they
//! exist (and says so when they do not).

use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::time::Instant;

use gleaner_fetch::charset;

const PASSES: usize = 10;

/// The content of a gzip file (`page.html.gz`, as `gleaner extract` reads it), else the bytes.
fn gunzip(bytes: Vec<u8>) -> Vec<u8> {
    use std::io::Read;
    if !bytes.starts_with(b"\x1f\x8b") {
        return bytes;
    }
    let mut out = Vec::new();
    match flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut out) {
        Ok(_) => out,
        Err(_) => bytes,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let out = match args.iter().position(|a| a == "--out") {
        Some(i) if i + 1 < args.len() => {
            let file = args.remove(i + 1);
            args.remove(i);
            Some(file)
        }
        _ => None,
    };
    if args.is_empty() {
        for dir in [
            "/work/shared/eval/aeb-dev/html",
            "/work/shared/eval/modern-dev/html",
            "/work/shared/eval/readability-dev/html",
            "/work/shared/eval/blogger",
        ] {
            if std::path::Path::new(dir).is_dir() {
                args.push(dir.to_string());
            } else {
                eprintln!("{dir} is missing: skipped");
            }
        }
    }
    let mut files: Vec<PathBuf> = Vec::new();
    for arg in &args {
        let path = PathBuf::from(arg);
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&path)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(path);
        }
    }
    let bodies: Vec<(PathBuf, Vec<u8>)> = files
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, gunzip(b))))
        .collect();
    if bodies.is_empty() {
        eprintln!("no files to decode");
        return Ok(());
    }
    let bytes: usize = bodies.iter().map(|(_, b)| b.len()).sum();
    let mut times = Vec::new();
    let mut lines = Vec::new();
    for pass in 0..PASSES {
        let started = Instant::now();
        for (path, body) in &bodies {
            let (text, encoding, source) = charset::decode(body, None, None);
            if pass == 0 {
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                text.hash(&mut hasher);
                lines.push(format!(
                    "{}\t{encoding}\t{source}\t{:016x}",
                    path.display(),
                    hasher.finish()
                ));
            }
            std::hint::black_box(text);
        }
        times.push(started.elapsed());
    }
    times.sort();
    let median = times[PASSES / 2];
    let mut by_source = std::collections::BTreeMap::new();
    for line in &lines {
        let source = line.split('\t').nth(2).unwrap_or("?").to_string();
        *by_source.entry(source).or_insert(0usize) += 1;
    }
    println!(
        "{} files, {:.1} MB: median of {PASSES} passes {:.1} ms ({:.0} MB/s); by source: {by_source:?}",
        bodies.len(),
        bytes as f64 / 1e6,
        median.as_secs_f64() * 1000.0,
        bytes as f64 / 1e6 / median.as_secs_f64(),
    );
    if let Some(out) = out {
        std::fs::write(out, lines.join("\n") + "\n")?;
    }
    Ok(())
}
