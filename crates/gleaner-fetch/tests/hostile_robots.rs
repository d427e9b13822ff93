//! A hostile robots.txt costs memory in proportion to its size, not hundreds of megabytes:
//! 500 KB of `Disallow: /*a*a*…*a$` rules once took ~290 MB per host (a regular expression per
//! rule), kept for the whole run. The fetch runs in a child process (this test binary again,
//! running the ignored `child_hostile_robots`) so that its peak resident memory (VmHWM) is its
//! own; the parent checks it.

#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use gleaner_fetch::{FetchConfig, FetchOutcome, Fetcher, Validators};
use support::{Reply, Server};

/// The hostile shape: as many wildcard rules with an end anchor as fit in `bytes`.
fn hostile_robots(bytes: usize) -> String {
    let mut txt = String::from("User-agent: *\nDisallow: /private\n");
    let rule = format!("Disallow: /{}$\n", "*a".repeat(24));
    while txt.len() + rule.len() <= bytes {
        txt.push_str(&rule);
    }
    txt
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
#[ignore = "run by hostile_robots_txt_costs_memory_in_proportion_to_its_size in a child process"]
fn child_hostile_robots() {
    if std::env::var_os("GLEANER_CHILD_HOSTILE").is_none() {
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let robots: &'static str = Box::leak(hostile_robots(500 * 1024).into_boxed_str());
        let fetcher = Fetcher::new(FetchConfig {
            per_host_per_second: 1000.0,
            ..FetchConfig::default()
        })
        .unwrap();
        // Four hosts, as in the report: the rules of each are kept for the run.
        let mut servers = Vec::new();
        for _ in 0..4 {
            servers.push(
                Server::start("127.0.0.1", move |r| {
                    if r.path == "/robots.txt" {
                        Reply::status(200)
                            .header("Content-Type", "text/plain")
                            .body(robots)
                    } else {
                        Reply::html("page")
                    }
                })
                .await,
            );
        }
        for server in &servers {
            for path in ["/public", "/private/x", "/aaaaaaaaaaaaaaaaaaaaaaaaa"] {
                let outcome = fetcher
                    .fetch(&server.url(path), &Validators::default())
                    .await
                    .unwrap();
                let said = match outcome {
                    FetchOutcome::Page(_) => "page",
                    FetchOutcome::Skipped { .. } => "skipped",
                    FetchOutcome::NotModified { .. } => "304",
                };
                println!("FETCHED {path} {said}");
            }
        }
        println!("PEAK_KIB {}", peak_rss_kib());
    });
}

#[tokio::test]
async fn hostile_robots_txt_costs_memory_in_proportion_to_its_size() {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "child_hostile_robots",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("GLEANER_CHILD_HOSTILE", "1");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "child failed: {stdout}");
    let said = |what: &str| {
        stdout
            .lines()
            .find_map(|l| l.split_once(what).map(|(_, rest)| rest.trim().to_string()))
            .unwrap_or_else(|| panic!("no {what} in {stdout}"))
    };
    // The rules are obeyed: the plain one, and the wildcard ones.
    assert_eq!(said("FETCHED /public "), "page");
    assert_eq!(said("FETCHED /private/x "), "skipped");
    assert_eq!(said("FETCHED /aaaaaaaaaaaaaaaaaaaaaaaaa "), "skipped");
    let peak_kib: u64 = said("PEAK_KIB ").parse().unwrap();
    // Four hosts' 500 KB files held at once, plus a test process (~10-20 MB): far below the
    // ~1.2 GB the regex-compiled rules took.
    assert!(
        peak_kib < 96 * 1024,
        "peak resident memory {peak_kib} KiB for four 500 KB robots.txt files"
    );
}
