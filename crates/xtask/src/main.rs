//! Developer commands for gleaner, run as `cargo xtask COMMAND` (the alias is in
//! `.cargo/config.toml`). Not part of the product: nothing here is shipped or tested by CI.
//!
//! ```text
//! cargo xtask bench run     [--posts 1000,10000] [--repeat 3] [--paragraphs 8] [--latency-ms 20] [--concurrency 32] [--gleaner PATH] [--keep-db DIR]
//! cargo xtask bench extract [--repeat 3] [--gleaner PATH] [--python PATH] [FILE...]
//! cargo xtask bench workers [--workers 1,2,4] [--posts 2000] [--latency-ms 50] [--rate 100] …
//! ```
//!
//! `bench workers` (see `workers.rs`) runs 1, 2, 4 cooperating `gleaner run` processes on one
//! PostgreSQL database against blogs on several local hosts.
//!
//! Both run the release binary (built first unless `--gleaner PATH` names one, e.g. a build of
//! an older commit to compare with) as a child process and watch it through `/proc` (Linux):
//! wall time, CPU time (user + system, read from the finished process before it is reaped),
//! peak resident memory (VmHWM, and the peak of RssAnon sampled every 10 ms), bytes written to disk (`/proc/PID/io`), and the CPU time of
//! each group of threads — `gleaner-io` (async: HTTP, listings), `gleaner-cpu-*` (the CPU pool:
//! scrape, clean, tag), `gleaner-writer` (SQLite), the rest. Binaries that log `resources
//! used` (debug) also give the CPU time of scrape, clean and tag themselves.
//!
//! `bench run` serves a Blogger-like blog (several of at most 10,000 posts each past that: a
//! run reads at most 100 feed pages of a blog) from 127.0.0.1 (`tests/blogsim`, summary feed, so
//! every post page is fetched, each answer after `--latency-ms`; each post `--paragraphs` of
//! about 60 words of news prose) and runs `gleaner run` on a
//! fresh database; it prints CPU milliseconds per post, posts per second, peak RSS and bytes
//! written per post, medians of `--repeat` runs. `--keep-db DIR` keeps each run's database as
//! `DIR/bench-POSTS-RUN.db` (to compare what two builds stored).
//!
//! `bench extract` runs `gleaner extract` over saved pages (default: `../shared/eval/aeb-dev/html`,
//! which a clone of the project does not have: pass files then), and trafilatura over the same
//! files in the same session when `--python` (default `/work/venv-traf/bin/python3` if it
//! exists) has it installed.

#![allow(clippy::unwrap_used)]

#[path = "../../../tests/blogsim/mod.rs"]
mod blogsim;
mod post_text;
mod workers;

use post_text::post_text;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["bench", "run", rest @ ..] => bench_run(&Options::parse(rest)),
        ["bench", "extract", rest @ ..] => bench_extract(&Options::parse(rest)),
        ["bench", "workers", rest @ ..] => workers::bench_workers(&Options::parse(rest)),
        _ => {
            eprintln!(
                "usage: cargo xtask bench run [--posts N,N] [--repeat N] [--paragraphs N] [--latency-ms N] [--concurrency N] [--gleaner PATH] [--keep-db DIR]\n       cargo xtask bench extract [--repeat N] [--gleaner PATH] [--python PATH] [FILE...]\n       cargo xtask bench workers [--workers 1,2,4] [--posts N] [--hosts N] [--latency-ms N] [--rate N] [--concurrency N] [--repeat N] [--gleaner PATH] [--postgres URL]"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `--name value` options and the remaining positional arguments.
struct Options {
    named: BTreeMap<String, String>,
    positional: Vec<String>,
}

impl Options {
    fn parse(args: &[&str]) -> Self {
        let mut named = BTreeMap::new();
        let mut positional = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.strip_prefix("--") {
                Some(name) => {
                    named.insert(name.to_string(), it.next().unwrap_or(&"").to_string());
                }
                None => positional.push((*a).to_string()),
            }
        }
        Options { named, positional }
    }

    fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T> {
        match self.named.get(name) {
            Some(v) => v
                .parse()
                .map_err(|_| anyhow!("--{name} {v}: not a valid value")),
            None => Ok(default),
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The binary to measure: `--gleaner PATH`, else a fresh release build of this tree.
fn gleaner_binary(opts: &Options) -> Result<PathBuf> {
    if let Some(path) = opts.named.get("gleaner") {
        return Ok(PathBuf::from(path));
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace_root())
        .args(["build", "--release", "--quiet", "--package", "gleaner"])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --release -p gleaner failed");
    }
    Ok(workspace_root().join("target/release/gleaner"))
}

/// What one process used, read from `/proc` while it ran and when it ended.
#[derive(Default, Clone)]
struct Usage {
    wall: f64,
    /// User + system CPU seconds, all threads.
    cpu: f64,
    peak_kib: u64,
    /// Peak anonymous resident memory (`RssAnon`, sampled): the heap and stacks without the
    /// mapped binary and database file pages that VmHWM also counts.
    peak_anon_kib: u64,
    write_bytes: u64,
    /// CPU seconds per thread group (last value seen of each thread).
    groups: BTreeMap<&'static str, f64>,
    /// The child's `resources used` fields (scrape/clean/tag CPU seconds), when it logs them.
    steps: BTreeMap<String, f64>,
    stdout_lines: usize,
    stderr: String,
    success: bool,
}

/// Clock ticks per second of `/proc/PID/stat` times (USER_HZ: 100 on Linux).
const TICKS: f64 = 100.0;

fn stat_fields(path: &str) -> Option<(String, Vec<String>)> {
    let text = std::fs::read_to_string(path).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest = text.get(close + 1..)?;
    Some((comm, rest.split_whitespace().map(str::to_string).collect()))
}

/// (state, CPU seconds) from fields after the command name: state is field 3, utime 14,
/// stime 15.
fn state_and_cpu(fields: &[String]) -> Option<(char, f64)> {
    let state = fields.first()?.chars().next()?;
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((state, (utime + stime) / TICKS))
}

fn proc_value(path: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line.get(key.len()..)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn thread_group(comm: &str) -> &'static str {
    if comm.starts_with("gleaner-cpu") {
        "cpu pool"
    } else if comm.starts_with("gleaner-io") {
        "io"
    } else if comm.starts_with("gleaner-writer") {
        "writer"
    } else {
        "other"
    }
}

/// Run `command` to the end and measure it.
fn measure(mut command: Command) -> Result<Usage> {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the measured command")?;
    let pid = child.id();
    let mut out = child.stdout.take().context("stdout")?;
    let mut err = child.stderr.take().context("stderr")?;
    let out_reader = std::thread::spawn(move || {
        let mut lines = 0usize;
        let mut buf = [0u8; 65536];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            lines += buf.iter().take(n).filter(|b| **b == b'\n').count();
        }
        lines
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut usage = Usage::default();
    let mut threads: BTreeMap<String, (String, f64)> = BTreeMap::new();
    loop {
        if let Some(kib) = proc_value(&format!("/proc/{pid}/status"), "VmHWM:") {
            usage.peak_kib = usage.peak_kib.max(kib);
        }
        if let Some(kib) = proc_value(&format!("/proc/{pid}/status"), "RssAnon:") {
            usage.peak_anon_kib = usage.peak_anon_kib.max(kib);
        }
        if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for task in dir.flatten() {
                let tid = task.file_name().to_string_lossy().into_owned();
                if let Some((comm, f)) = stat_fields(&format!("/proc/{pid}/task/{tid}/stat"))
                    && let Some((_, cpu)) = state_and_cpu(&f)
                {
                    threads.insert(tid, (comm, cpu));
                }
            }
        }
        let stat = stat_fields(&format!("/proc/{pid}/stat"));
        match stat.as_ref().and_then(|(_, f)| state_and_cpu(f)) {
            // Ended, not yet reaped: its totals are final.
            Some(('Z', cpu)) => {
                usage.cpu = cpu;
                usage.write_bytes =
                    proc_value(&format!("/proc/{pid}/io"), "write_bytes:").unwrap_or(0);
                break;
            }
            Some(_) => {
                usage.write_bytes = proc_value(&format!("/proc/{pid}/io"), "write_bytes:")
                    .unwrap_or(usage.write_bytes);
            }
            None => break,
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = child.wait().context("waiting for the measured command")?;
    usage.wall = started.elapsed().as_secs_f64();
    usage.success = status.success() || status.code() == Some(1);
    for (comm, cpu) in threads.values() {
        *usage.groups.entry(thread_group(comm)).or_default() += cpu;
    }
    usage.stdout_lines = out_reader.join().unwrap_or(0);
    usage.stderr = err_reader.join().unwrap_or_default();
    if let Some(line) = usage.stderr.lines().find(|l| l.contains("resources used"))
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(line)
        && let Some(fields) = v.get("fields").and_then(|f| f.as_object())
    {
        for (k, val) in fields {
            let n = val
                .as_f64()
                .or_else(|| val.as_str().and_then(|s| s.parse().ok()));
            if let Some(n) = n {
                usage.steps.insert(k.clone(), n);
            }
        }
    }
    Ok(usage)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Median of `f` over the samples.
fn med(samples: &[Usage], f: impl Fn(&Usage) -> f64) -> f64 {
    median(samples.iter().map(f).collect())
}

fn print_breakdown(samples: &[Usage], items: f64, unit: &str) {
    let groups: Vec<&'static str> = ["io", "cpu pool", "writer", "other"].to_vec();
    let parts: Vec<String> = groups
        .iter()
        .map(|g| {
            let ms = med(samples, |s| s.groups.get(g).copied().unwrap_or(0.0)) * 1000.0 / items;
            format!("{g} {ms:.2}")
        })
        .collect();
    println!("  CPU ms per {unit} by thread group: {}", parts.join(", "));
    if samples.iter().all(|s| s.steps.contains_key("tag_cpu_secs")) {
        let parts: Vec<String> = ["scrape", "clean", "tag"]
            .iter()
            .map(|step| {
                let key = format!("{step}_cpu_secs");
                let ms =
                    med(samples, |s| s.steps.get(&key).copied().unwrap_or(0.0)) * 1000.0 / items;
                format!("{step} {ms:.3}")
            })
            .collect();
        println!(
            "  CPU ms per {unit} by step (thread CPU time): {}",
            parts.join(", ")
        );
    }
}

fn bench_run(opts: &Options) -> Result<()> {
    let gleaner = gleaner_binary(opts)?;
    let sizes: Vec<usize> = opts
        .named
        .get("posts")
        .map_or("1000".into(), String::clone)
        .split(',')
        .map(|s| s.trim().parse().context("--posts"))
        .collect::<Result<_>>()?;
    let repeat: usize = opts.get("repeat", 3)?;
    let latency = Duration::from_millis(opts.get("latency-ms", 20)?);
    let concurrency: usize = opts.get("concurrency", 32)?;
    let paragraphs: usize = opts.get("paragraphs", 8)?;
    println!(
        "gleaner run: {} on a Blogger-like blog at 127.0.0.1 (summary feed, {} ms a response, concurrency {concurrency}, posts of {paragraphs} paragraphs, ~{} words), median of {repeat}",
        gleaner.display(),
        latency.as_millis(),
        paragraphs * 60
    );
    let keep_db = opts.named.get("keep-db").map(PathBuf::from);
    for &posts in &sizes {
        let mut samples = Vec::new();
        for run in 0..repeat {
            // A run reads at most 100 feed pages (~14,900 posts) of a blog: more posts are
            // served as several blogs of at most POSTS_PER_BLOG, one source each.
            let blogs: Vec<blogsim::BlogServer> = split_posts(posts)
                .iter()
                .enumerate()
                .map(|(b, &(first, count))| {
                    let blog = blogsim::BlogServer::start(
                        "Bench Blog",
                        9 + b as u32,
                        blogsim::FeedMode::Summary,
                        count,
                        latency,
                    );
                    for n in 0..count {
                        let text = post_text(first + n, paragraphs);
                        let refs: Vec<&str> = text.iter().map(String::as_str).collect();
                        blog.set_paragraphs(n, &refs);
                    }
                    blog
                })
                .collect();
            if run == 0 && blogs.len() > 1 {
                println!("  {posts} posts served as {} blogs", blogs.len());
            }
            let sources: String = blogs
                .iter()
                .map(|blog| {
                    format!(
                        "\n[[sources]]\nurl = \"{}\"\nkind = \"blogger\"\n",
                        blog.home()
                    )
                })
                .collect();
            let dir = tempfile::tempdir()?;
            std::fs::write(
                dir.path().join("bench.toml"),
                format!(
                    "[fetch]\nconcurrency = {concurrency}\nper_host_per_second = 100000.0\n{sources}"
                ),
            )?;
            let mut command = Command::new(&gleaner);
            command
                .current_dir(dir.path())
                .args(["--config", "bench.toml", "--db", "bench.db"])
                .args(["--log-format", "json", "run"])
                .env("GLEANER_LOG", "warn,gleaner=info,gleaner::resources=debug");
            let usage = measure(command)?;
            let stored = usage
                .stderr
                .lines()
                .find(|l| l.contains("run finished"))
                .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .and_then(|v| v["fields"]["stored"].as_u64())
                .unwrap_or(0);
            if stored as usize != posts {
                bail!("{stored} of {posts} posts stored:\n{}", usage.stderr);
            }
            if let Some(keep) = &keep_db {
                std::fs::create_dir_all(keep)?;
                let to = keep.join(format!("bench-{posts}-{run}.db"));
                std::fs::copy(dir.path().join("bench.db"), &to)
                    .with_context(|| format!("keeping the database as {}", to.display()))?;
            }
            let db_bytes: u64 = ["bench.db", "bench.db-wal"]
                .iter()
                .filter_map(|f| std::fs::metadata(dir.path().join(f)).ok())
                .map(|m| m.len())
                .sum();
            println!(
                "  run: {:.2} s, {:.2} CPU s, {:.0} posts/s, peak {:.1} MiB, wrote {:.1} MB for a {:.1} MB database, peak RssAnon {:.1} MiB",
                usage.wall,
                usage.cpu,
                posts as f64 / usage.wall,
                usage.peak_kib as f64 / 1024.0,
                usage.write_bytes as f64 / 1e6,
                db_bytes as f64 / 1e6,
                usage.peak_anon_kib as f64 / 1024.0
            );
            samples.push(usage);
        }
        let n = posts as f64;
        println!(
            "{posts} posts: {:.2} CPU ms/post, {:.0} posts/s, {:.2} s wall, peak RSS {:.1} MiB, {:.1} KB written/post, peak RssAnon {:.1} MiB",
            med(&samples, |s| s.cpu) * 1000.0 / n,
            med(&samples, |s| n / s.wall),
            med(&samples, |s| s.wall),
            med(&samples, |s| s.peak_kib as f64) / 1024.0,
            med(&samples, |s| s.write_bytes as f64) / 1e3 / n,
            med(&samples, |s| s.peak_anon_kib as f64) / 1024.0,
        );
        print_breakdown(&samples, n, "post");
    }
    Ok(())
}

/// The most posts one bench blog serves: a run reads at most 100 feed pages of 150 posts
/// of a blog.
const POSTS_PER_BLOG: usize = 10_000;

/// (first post number, posts) of each blog serving `posts` posts, in as few blogs as
/// [`POSTS_PER_BLOG`] allows, evenly.
fn split_posts(posts: usize) -> Vec<(usize, usize)> {
    let blogs = posts.div_ceil(POSTS_PER_BLOG).max(1);
    (0..blogs)
        .map(|b| {
            let first = posts * b / blogs;
            (first, posts * (b + 1) / blogs - first)
        })
        .collect()
}

fn default_pages() -> Result<Vec<String>> {
    let dir = workspace_root().join("../shared/eval/aeb-dev/html");
    let dir = if dir.is_dir() {
        dir
    } else {
        PathBuf::from("/work/shared/eval/aeb-dev/html")
    };
    let entries = std::fs::read_dir(&dir).map_err(|_| {
        anyhow!(
            "no pages given and {} does not exist (../shared is not part of a clone): pass saved pages as arguments",
            dir.display()
        )
    })?;
    let mut files: Vec<String> = entries
        .flatten()
        .map(|e| e.path().display().to_string())
        .collect();
    files.sort();
    Ok(files)
}

/// Extracts every file named on its command line with trafilatura's defaults.
const TRAFILATURA: &str = r#"
import gzip, sys, trafilatura
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    text = trafilatura.extract(data)
    print(len(text or ""))
"#;

fn bench_extract(opts: &Options) -> Result<()> {
    let gleaner = gleaner_binary(opts)?;
    let files = if opts.positional.is_empty() {
        default_pages()?
    } else {
        opts.positional.clone()
    };
    let repeat: usize = opts.get("repeat", 3)?;
    let python = opts.named.get("python").cloned().or_else(|| {
        Path::new("/work/venv-traf/bin/python3")
            .exists()
            .then(|| "/work/venv-traf/bin/python3".to_string())
    });
    let has_trafilatura = python.as_ref().is_some_and(|p| {
        Command::new(p)
            .args(["-c", "import trafilatura"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    let n = files.len() as f64;
    println!(
        "gleaner extract: {} over {} pages, median of {repeat} (trafilatura: {})",
        gleaner.display(),
        files.len(),
        if has_trafilatura {
            python.as_deref().unwrap_or("")
        } else {
            "not installed; pass --python PATH to a Python that has it"
        }
    );
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..repeat {
        let mut command = Command::new(&gleaner);
        command
            .args(["--log-format", "json", "extract"])
            .args(&files)
            .env("GLEANER_LOG", "warn,gleaner::resources=debug");
        let usage = measure(command)?;
        if !usage.success || usage.stdout_lines != files.len() {
            bail!(
                "gleaner extract printed {} lines for {} files:\n{}",
                usage.stdout_lines,
                files.len(),
                usage.stderr
            );
        }
        println!(
            "  gleaner: {:.2} s, {:.2} CPU s ({:.0}% of a core), peak {:.1} MiB",
            usage.wall,
            usage.cpu,
            100.0 * usage.cpu / usage.wall,
            usage.peak_kib as f64 / 1024.0
        );
        ours.push(usage);
        if has_trafilatura && let Some(python) = &python {
            let mut command = Command::new(python);
            command.args(["-c", TRAFILATURA]).args(&files);
            let usage = measure(command)?;
            println!(
                "  trafilatura: {:.2} s, {:.2} CPU s ({:.0}% of a core), peak {:.1} MiB",
                usage.wall,
                usage.cpu,
                100.0 * usage.cpu / usage.wall,
                usage.peak_kib as f64 / 1024.0
            );
            theirs.push(usage);
        }
    }
    let report = |name: &str, samples: &[Usage]| {
        println!(
            "{name}: {:.2} CPU ms/page, {:.0} pages/s, {:.2} s wall, {:.0}% CPU, peak RSS {:.1} MiB",
            med(samples, |s| s.cpu) * 1000.0 / n,
            med(samples, |s| n / s.wall),
            med(samples, |s| s.wall),
            med(samples, |s| 100.0 * s.cpu / s.wall),
            med(samples, |s| s.peak_kib as f64) / 1024.0
        );
    };
    report("gleaner", &ours);
    print_breakdown(&ours, n, "page");
    if !theirs.is_empty() {
        report("trafilatura", &theirs);
        println!(
            "gleaner is {:.1}x faster in wall time, {:.1}x in CPU time (medians)",
            med(&theirs, |s| s.wall) / med(&ours, |s| s.wall),
            med(&theirs, |s| s.cpu) / med(&ours, |s| s.cpu)
        );
    }
    Ok(())
}
