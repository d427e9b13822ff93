//! Hostile robots.txt files: time and peak memory of reading, parsing and obeying one.
//!
//! ```text
//! cargo run --release -p gleaner-fetch --example robots_bench
//! ```
//!
//! For each shape and size, a child process (this example again, `--case SHAPE BYTES`) serves
//! the file from a loopback server, builds a [`Fetcher`] and fetches one page of that host (the
//! robots.txt is read up to the fetcher's 512 KiB cap and parsed), then asks for CHECKS
//! disallowed or allowed URLs (each one a robots.txt check; allowed ones are fetched).
//! It prints the time to the first page, the time per check, and the child's peak resident
//! memory (VmHWM), so each case is measured alone. Sizes run from 64 KiB to 10 MiB (the
//! default `max_body_bytes`); beyond 512 KiB only the first 512 KiB is read.
//!
//! Shapes:
//! - `wild`:   `Disallow: /*a*a*…*a$` rules (24 wildcards each) — once ~290 MB per 500 KB;
//! - `huge`:   one `Disallow: /*a*a*a…$` rule as long as the file;
//! - `plain`:  plain prefix rules (`Disallow: /section-12345/`), the common real shape;
//! - `agents`: thousands of one-rule groups for other agents, then `*`.

use std::process::Command;
use std::time::Instant;

use gleaner_fetch::{FetchConfig, FetchOutcome, Fetcher, Validators};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const CHECKS: usize = 1000;
const SHAPES: &[&str] = &["wild", "huge", "plain", "agents"];
const SIZES: &[usize] = &[
    64 * 1024,
    128 * 1024,
    256 * 1024,
    512 * 1024,
    10 * 1024 * 1024,
];

fn robots(shape: &str, bytes: usize) -> Vec<u8> {
    let mut txt = String::from("User-agent: *\nDisallow: /private\n");
    match shape {
        "wild" => {
            let rule = format!("Disallow: /{}$\n", "*a".repeat(24));
            while txt.len() + rule.len() <= bytes {
                txt.push_str(&rule);
            }
        }
        "huge" => {
            txt.push_str("Disallow: /");
            while txt.len() + 3 <= bytes {
                txt.push_str("*a");
            }
            txt.push_str("$\n");
        }
        "plain" => {
            let mut i = 0u64;
            while txt.len() + 40 <= bytes {
                txt.push_str(&format!("Disallow: /section-{i}/\n"));
                i += 1;
            }
        }
        _ => {
            let mut groups = String::new();
            let mut i = 0u64;
            while groups.len() + txt.len() + 60 <= bytes {
                groups.push_str(&format!("User-agent: bot{i}\nDisallow: /only-{i}/\n\n"));
                i += 1;
            }
            txt = groups + &txt;
        }
    }
    txt.into_bytes()
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn case(shape: &str, bytes: usize) -> Result<(), Box<dyn std::error::Error>> {
    let body = robots(shape, bytes);
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let body: &'static [u8] = Box::leak(body.into_boxed_slice());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let robots = buf.starts_with(b"GET /robots.txt ");
                    buf.drain(..end + 4);
                    let payload: &[u8] = if robots { body } else { b"<p>page</p>" };
                    let kind = if robots { "text/plain" } else { "text/html" };
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n",
                        payload.len()
                    );
                    // One write: two small ones meet Nagle and delayed ACK (40 ms).
                    let mut response = head.into_bytes();
                    response.extend_from_slice(payload);
                    if stream.write_all(&response).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let fetcher = Fetcher::new(FetchConfig {
        per_host_per_second: 1_000_000.0,
        ..FetchConfig::default()
    })?;
    let base = format!("http://{addr}");
    let started = Instant::now();
    let first = fetcher
        .fetch(&format!("{base}/first"), &Validators::default())
        .await?;
    let first_time = started.elapsed();
    let first_ok = matches!(first, FetchOutcome::Page(_));
    let started = Instant::now();
    let mut skipped = 0;
    for i in 0..CHECKS {
        // Paths with many 'a's make every wildcard rule scan them.
        let url = if i % 2 == 0 {
            format!("{base}/private/{i}")
        } else {
            format!("{base}/{}{i}", "a".repeat(40))
        };
        if let FetchOutcome::Skipped { .. } = fetcher.fetch(&url, &Validators::default()).await? {
            skipped += 1;
        }
    }
    let per_check = started.elapsed() / u32::try_from(CHECKS)?;
    println!(
        "RESULT {shape} {bytes} first_ms={:.1} per_check_us={:.1} peak_mib={:.1} first_page={first_ok} skipped={skipped}",
        first_time.as_secs_f64() * 1000.0,
        per_check.as_secs_f64() * 1e6,
        peak_rss_kib() as f64 / 1024.0,
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--case") {
        let shape = args.get(1).cloned().unwrap_or_default();
        let bytes: usize = args.get(2).map_or(Ok(0), |b| b.parse())?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        return runtime.block_on(case(&shape, bytes));
    }
    let only: Vec<&String> = args.iter().collect();
    let exe = std::env::current_exe()?;
    println!(
        "{:<7} {:>9} {:>10} {:>12} {:>9}",
        "shape", "bytes", "first ms", "per check µs", "peak MiB"
    );
    for shape in SHAPES {
        if !only.is_empty() && !only.iter().any(|s| s.as_str() == *shape) {
            continue;
        }
        for &bytes in SIZES {
            let started = Instant::now();
            let output = Command::new(&exe)
                .args(["--case", shape, &bytes.to_string()])
                .output()?;
            let stdout = String::from_utf8_lossy(&output.stdout);
            let Some(line) = stdout.lines().find(|l| l.starts_with("RESULT ")) else {
                println!(
                    "{shape:<7} {bytes:>9} failed after {:?}: {}",
                    started.elapsed(),
                    String::from_utf8_lossy(&output.stderr).trim()
                );
                continue;
            };
            let field = |name: &str| {
                line.split_whitespace()
                    .find_map(|f| f.strip_prefix(name))
                    .unwrap_or("?")
                    .to_string()
            };
            println!(
                "{shape:<7} {bytes:>9} {:>10} {:>12} {:>9}   (first page: {}, skipped {}/{CHECKS})",
                field("first_ms="),
                field("per_check_us="),
                field("peak_mib="),
                field("first_page="),
                field("skipped="),
            );
        }
    }
    Ok(())
}
