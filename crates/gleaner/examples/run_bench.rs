//! End-to-end benchmark of `gleaner run`: a Blogger-like blog on 127.0.0.1 (the test
//! simulator, `tests/blogsim`) with a summary feed, so every post page is fetched, answering
//! each request after a fixed latency; the per-host limit is raised in the bench's config.
//! For each size it runs the release binary on a fresh database three times and prints the
//! median posts/s end to end, the peak RSS of the gleaner process (VmHWM), and each stage's
//! share of the time the stages spent, as gleaner measures it (its `time per stage` log line):
//! discover (fetching and parsing feed pages), fetch (waiting for post pages over HTTP, summed
//! over the concurrent fetch tasks), process (scrape + clean + tag on the CPU pool) and
//! store (the writer thread in SQLite). Fetch time is summed over up to `--concurrency` tasks
//! waiting at once, so its share says where tasks wait, not where the CPU goes.
//!
//! ```text
//! cargo build --release -p gleaner
//! cargo run --release -p gleaner --example run_bench [-- --sizes 1000,5000 --latency-ms 20 --repeat 3 --concurrency 32 --trace]
//! ```
//!
//! `--trace` also prints the RSS of the first run of each size over time (is memory flat, or
//! still growing when the run ends?). `GLEANER_BENCH_WRAPPER=heaptrack` (or any program that
//! takes a command line) runs gleaner under a profiler; the peak then measures the wrapper.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../tests/blogsim/mod.rs"]
mod blogsim;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use blogsim::{BlogServer, FeedMode};

struct Sample {
    secs: f64,
    db_mib: f64,
    peak_kib: u64,
    stored: u64,
    stages: [f64; 4],
    /// (seconds since start, VmRSS KiB, articles stored so far is not known: RSS only).
    trace: Vec<(f64, u64)>,
}

fn gleaner_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/examples/run_bench -> target/<profile>/gleaner
    let bin = exe
        .parent()
        .and_then(|p| p.parent())
        .unwrap()
        .join(format!("gleaner{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} not found: run `cargo build --release -p gleaner` first",
        bin.display()
    );
    bin
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    proc_status_kib(pid, "VmHWM:")
}

fn proc_status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn field(line: &str, name: &str) -> Option<f64> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let f = v.get("fields")?.get(name)?;
    f.as_f64()
        .or_else(|| f.as_str().and_then(|s| s.parse().ok()))
}

fn run_once(posts: usize, latency: Duration, concurrency: usize) -> Sample {
    let blog = BlogServer::start("Bench Blog", 9, FeedMode::Summary, posts, latency);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bench.toml"),
        format!(
            "[fetch]\nconcurrency = {concurrency}\nper_host_per_second = 100000.0\n\n\
             [[sources]]\nurl = \"{}\"\nkind = \"blogger\"\n",
            blog.home()
        ),
    )
    .unwrap();
    let started = Instant::now();
    let mut command = match std::env::var_os("GLEANER_BENCH_WRAPPER") {
        // A profiler to run gleaner under (e.g. heaptrack); its output lands in the
        // bench's working directory.
        Some(wrapper) => {
            let mut c = Command::new(wrapper);
            c.arg(gleaner_binary());
            c
        }
        None => Command::new(gleaner_binary()),
    };
    let mut child = command
        .current_dir(dir.path())
        .args([
            "--config",
            "bench.toml",
            "--db",
            "bench.db",
            "--log-format",
            "json",
            "run",
        ])
        .env("GLEANER_LOG", "warn,gleaner=info,gleaner::ingest=debug")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut peak = 0;
    let mut trace = Vec::new();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::BufReader::new(stderr), &mut s).unwrap();
        s
    });
    loop {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak = peak.max(kib);
        }
        if let Some(kib) = proc_status_kib(pid, "VmRSS:") {
            trace.push((started.elapsed().as_secs_f64(), kib));
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let secs = started.elapsed().as_secs_f64();
    let log = reader.join().unwrap();
    let summary = log
        .lines()
        .find(|l| l.contains("run finished"))
        .unwrap_or_else(|| panic!("no summary line in: {log}"));
    let stored = field(summary, "stored").unwrap_or(0.0) as u64;
    let stages_line = log
        .lines()
        .find(|l| l.contains("time per stage"))
        .unwrap_or("");
    let stages = [
        field(stages_line, "discover_secs").unwrap_or(0.0),
        field(stages_line, "fetch_secs").unwrap_or(0.0),
        field(stages_line, "process_secs").unwrap_or(0.0),
        field(stages_line, "write_secs").unwrap_or(0.0),
    ];
    let db_bytes: u64 = ["bench.db", "bench.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.path().join(f)).ok())
        .map(|m| m.len())
        .sum();
    Sample {
        secs,
        db_mib: db_bytes as f64 / (1024.0 * 1024.0),
        peak_kib: peak,
        stored,
        stages,
        trace,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let sizes: Vec<usize> = arg("--sizes")
        .unwrap_or_else(|| "1000,5000".into())
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let latency = Duration::from_millis(
        arg("--latency-ms")
            .map(|s| s.parse().unwrap())
            .unwrap_or(20),
    );
    let repeat: usize = arg("--repeat").map(|s| s.parse().unwrap()).unwrap_or(3);
    let concurrency: usize = arg("--concurrency")
        .map(|s| s.parse().unwrap())
        .unwrap_or(32);
    let trace = args.iter().any(|a| a == "--trace");
    println!(
        "gleaner run bench: summary feed, {} ms per request, concurrency {concurrency}, median of {repeat}",
        latency.as_millis()
    );
    println!(
        "{:>6}  {:>8}  {:>8}  {:>9}  {:>9}  {:>8}  {:>8}  {:>8}",
        "posts", "secs", "posts/s", "peak MiB", "discover%", "fetch%", "process%", "store%"
    );
    for &n in &sizes {
        let samples: Vec<Sample> = (0..repeat)
            .map(|_| run_once(n, latency, concurrency))
            .collect();
        for s in &samples {
            assert_eq!(s.stored as usize, n, "every post stored");
        }
        let secs = median(samples.iter().map(|s| s.secs).collect());
        let peak = median(samples.iter().map(|s| s.peak_kib as f64).collect()) / 1024.0;
        let share = |i: usize| {
            median(
                samples
                    .iter()
                    .map(|s| {
                        let total: f64 = s.stages.iter().sum();
                        if total > 0.0 {
                            100.0 * s.stages[i] / total
                        } else {
                            0.0
                        }
                    })
                    .collect(),
            )
        };
        println!(
            "{n:>6}  {secs:>8.2}  {:>8.0}  {peak:>9.1}  {:>9.1}  {:>8.1}  {:>8.1}  {:>8.1}",
            n as f64 / secs,
            share(0),
            share(1),
            share(2),
            share(3)
        );
        if trace {
            let t = &samples[0].trace;
            let step = (t.len() / 12).max(1);
            let points: Vec<String> = t
                .iter()
                .step_by(step)
                .chain(t.last())
                .map(|(secs, kib)| format!("{secs:.1}s {:.1}", *kib as f64 / 1024.0))
                .collect();
            println!("        RSS MiB over the first run: {}", points.join(", "));
        }
        for s in &samples {
            println!(
                "        run: {:.2} s, {:.0} posts/s, peak {:.1} MiB, database {:.1} MiB, stage seconds discover {:.2} fetch {:.1} process {:.1} store {:.1}",
                s.secs,
                n as f64 / s.secs,
                s.peak_kib as f64 / 1024.0,
                s.db_mib,
                s.stages[0],
                s.stages[1],
                s.stages[2],
                s.stages[3]
            );
        }
    }
}
