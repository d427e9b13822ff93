//! Throughput and memory of the fetcher against a local server.
//!
//! ```text
//! cargo run --release -p gleaner-fetch --example fetch_bench [-- PAGES] [--robots] [--bare]
//! ```
//!
//! Serves PAGES (default 2,000) pages from 16 loopback hosts (127.0.0.1 … 127.0.0.16), each
//! response 50 ms late, and fetches them all with `concurrency = 64` and the per-host limit
//! raised to 10,000/s. The ideal is 64 / 0.05 s = 1,280 pages/s; 2,000 pages are 32 rounds of
//! 64, the last one partial, so even a perfect client reaches 97.7% of it. `--robots` turns
//! robots.txt on (each host answers 404): one more 50 ms round trip per host before its first
//! page, about 3% of a 2,000-page run.
//! `--bare` sends the same load through a plain reqwest client instead of the fetcher: the
//! ceiling of this harness on this machine, to compare with.
//! Prints pages/s, the share of the ideal, and the peak resident memory after the first quarter
//! of the pages and at the end (flat memory: the two are close, whatever PAGES is).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use gleaner_fetch::{FetchConfig, FetchOutcome, Fetcher, Validators};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const HOSTS: usize = 16;
const LATENCY: Duration = Duration::from_millis(50);
const CONCURRENCY: usize = 64;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bare_mode = args.iter().any(|a| a == "--bare");
    let respect_robots = !bare_mode && args.iter().any(|a| a == "--robots");
    let pages: usize = match args.iter().find(|a| !a.starts_with("--")) {
        Some(n) => n.parse()?,
        None => 2000,
    };
    let served = Arc::new(AtomicUsize::new(0));
    let mut hosts = Vec::new();
    for i in 1..=HOSTS {
        let listener = TcpListener::bind(("127.0.0.".to_string() + &i.to_string(), 0)).await?;
        hosts.push(listener.local_addr()?);
        let served = served.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let served = served.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, served).await;
                });
            }
        });
    }

    let fetcher = Fetcher::new(FetchConfig {
        concurrency: CONCURRENCY,
        per_host_per_second: 10_000.0,
        respect_robots,
        ..FetchConfig::default()
    })?;
    let urls: Vec<String> = (0..pages)
        .map(|n| format!("http://{}/{}/{n}.html", hosts[n % HOSTS], 2022 + n % 3))
        .collect();

    let started = Instant::now();
    let quarter = pages / 4;
    let mut done = 0usize;
    let mut failed = 0usize;
    let mut bytes = 0usize;
    let mut rss_at_quarter = None;
    // More fetches queued than can run, so the fetcher's own limits are what is measured; the
    // queue is bounded, so the driver's memory does not grow with `pages` either.
    // `--bare`: the same load through a plain reqwest client, exactly 64 at a time, no robots.txt
    // and no limits: the harness's own ceiling, to tell its costs from the fetcher's.
    let bare = reqwest::Client::new();
    let parallel = if bare_mode {
        CONCURRENCY
    } else {
        CONCURRENCY * 4
    };
    let mut results = futures_util::stream::iter(urls)
        .map(|url| {
            let (fetcher, bare) = (fetcher.clone(), bare.clone());
            async move {
                if bare_mode {
                    let response = bare.get(&url).send().await.map_err(|e| e.to_string())?;
                    return response
                        .text()
                        .await
                        .map(|t| t.len())
                        .map_err(|e| e.to_string());
                }
                match fetcher.fetch(&url, &Validators::default()).await {
                    Ok(FetchOutcome::Page(page)) => Ok(page.body.len()),
                    Ok(other) => Err(format!("unexpected: {other:?}")),
                    Err(err) => Err(err.to_string()),
                }
            }
        })
        .buffer_unordered(parallel);
    while let Some(result) = results.next().await {
        match result {
            Ok(len) => bytes += len,
            Err(err) => {
                failed += 1;
                eprintln!("{err}");
            }
        }
        done += 1;
        if done == quarter {
            rss_at_quarter = peak_rss_kib();
        }
    }
    let took = started.elapsed().as_secs_f64();
    let rate = pages as f64 / took;
    let ideal = CONCURRENCY as f64 / LATENCY.as_secs_f64();
    println!(
        "pages:            {pages} ({failed} failed, {} MiB of text)",
        bytes / (1 << 20)
    );
    println!(
        "hosts:            {HOSTS}, {} ms per response, concurrency {CONCURRENCY}, robots.txt {}{}",
        LATENCY.as_millis(),
        if respect_robots { "on" } else { "off" },
        if bare_mode {
            " (bare reqwest, not the fetcher)"
        } else {
            ""
        }
    );
    println!(
        "requests served:  {} (pages and robots.txt)",
        served.load(Ordering::SeqCst)
    );
    println!("time:             {took:.2} s");
    println!(
        "throughput:       {rate:.0} pages/s = {:.1}% of the ideal {ideal:.0}",
        100.0 * rate / ideal
    );
    println!(
        "peak RSS:         {} KiB after {quarter} pages, {} KiB after {pages}",
        rss_at_quarter.map_or("?".to_string(), |k| k.to_string()),
        peak_rss_kib().map_or("?".to_string(), |k| k.to_string())
    );
    Ok(())
}

/// A keep-alive HTTP/1.1 server: every response 50 ms late, robots.txt is 404.
async fn serve(mut stream: TcpStream, served: Arc<AtomicUsize>) -> std::io::Result<()> {
    let body = page_body();
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let head_end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let robots = buf.starts_with(b"GET /robots.txt ");
        buf.drain(..head_end + 4);
        tokio::time::sleep(LATENCY).await;
        served.fetch_add(1, Ordering::Relaxed);
        let (status, payload) = if robots {
            ("404 Not Found", &b""[..])
        } else {
            ("200 OK", body.as_bytes())
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
            payload.len()
        );
        // One write per response: two small writes would meet Nagle and delayed ACK (40 ms).
        let mut response = head.into_bytes();
        response.extend_from_slice(payload);
        stream.write_all(&response).await?;
    }
}

fn page_body() -> String {
    let para = "<p>Iran wants strategic ties with Russia, the president said in Moscow on Wednesday.</p>\n";
    format!(
        "<!DOCTYPE html><html><head><title>Post</title></head><body>{}</body></html>",
        para.repeat(40)
    )
}

/// The process's peak resident set size (VmHWM), in KiB, on Linux.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
