//! `cargo xtask bench workers`: cooperating `gleaner run` workers on one PostgreSQL database.
//!
//! ```text
//! cargo xtask bench workers [--workers 1,2,4] [--posts 2000] [--hosts 3] [--latency-ms 50]
//!                           [--rate 100] [--concurrency 4] [--repeat 1] [--gleaner PATH]
//!                           [--postgres URL]
//! ```
//!
//! Serves `--posts` posts spread over `--hosts` Blogger-like blogs from 127.0.0.1 (one port
//! each: `tests/blogsim`, summary feeds, so every post page is fetched, each answer after
//! `--latency-ms`), and for each worker count starts that many `gleaner run` processes at
//! once on a fresh schema of `--postgres` (default `GLEANER_TEST_POSTGRES`, else
//! `postgres://postgres@127.0.0.1:5432/test`; the schema is made and dropped with `psql`).
//! The per-host limit (`--rate` requests a second, shared by all workers) is set high enough
//! to let more workers go faster; `--concurrency` is each worker's requests in flight.
//!
//! Prints, per worker count: posts/s (all posts over the wall time until the last worker
//! ends), CPU ms per post of the workers together and of the PostgreSQL server (its
//! processes' CPU time, children included, before and after), and what bounds the rate:
//! the per-host limit (`hosts × rate`), the workers' latency bound
//! (`workers × concurrency / latency`), or the machine's cores at the measured CPU per post.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{Options, Usage, blogsim, gleaner_binary, measure, median, post_text};

/// `cargo xtask bench workers`.
pub fn bench_workers(opts: &Options) -> Result<()> {
    // Absolute: the workers run in a directory of their own.
    let gleaner = std::fs::canonicalize(gleaner_binary(opts)?).context("finding the binary")?;
    let counts: Vec<usize> = opts
        .named
        .get("workers")
        .map_or("1,2,4".into(), String::clone)
        .split(',')
        .map(|s| s.trim().parse().context("--workers"))
        .collect::<Result<_>>()?;
    let posts: usize = opts.get("posts", 2000)?;
    let hosts: usize = opts.get("hosts", 3)?.max(1);
    let latency = Duration::from_millis(opts.get("latency-ms", 50)?);
    let rate: f64 = opts.get("rate", 100.0)?;
    let concurrency: usize = opts.get("concurrency", 4)?;
    let repeat: usize = opts.get("repeat", 1)?.max(1);
    let base = opts.named.get("postgres").cloned().unwrap_or_else(|| {
        std::env::var("GLEANER_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
    });
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "gleaner run workers: {} on {base}; {posts} posts on {hosts} hosts at 127.0.0.1 \
         (summary feeds, {} ms a response), {rate} requests/s per host for all workers, \
         concurrency {concurrency} per worker, {cores} cores, median of {repeat}",
        gleaner.display(),
        latency.as_millis(),
    );
    for &workers in &counts {
        let mut rates = Vec::new();
        let mut cpu = Vec::new();
        let mut server_cpu = Vec::new();
        for round in 0..repeat {
            let run = one_run(&Run {
                gleaner: &gleaner,
                base: &base,
                workers,
                posts,
                hosts,
                latency,
                rate,
                concurrency,
                round,
            })?;
            println!(
                "  {workers} worker(s): {:.2} s, {:.0} posts/s, workers {:.2} CPU ms/post, \
                 PostgreSQL {:.2} CPU ms/post, {} post pages fetched, load {}",
                run.wall,
                posts as f64 / run.wall,
                run.cpu * 1000.0 / posts as f64,
                run.server_cpu * 1000.0 / posts as f64,
                run.post_hits,
                load_average()
            );
            rates.push(posts as f64 / run.wall);
            cpu.push(run.cpu * 1000.0 / posts as f64);
            server_cpu.push(run.server_cpu * 1000.0 / posts as f64);
        }
        let rate_now = median(rates);
        let cpu_ms = median(cpu);
        let server_ms = median(server_cpu);
        let host_bound = hosts as f64 * rate;
        let latency_bound = workers as f64 * concurrency as f64 / latency.as_secs_f64().max(1e-3);
        let cpu_bound = cores as f64 * 1000.0 / (cpu_ms + server_ms).max(1e-3);
        let bounds = [
            ("the per-host limit", host_bound),
            (
                "the workers' requests in flight over the latency",
                latency_bound,
            ),
            ("the machine's cores", cpu_bound),
        ];
        let (limit, bound) = bounds
            .iter()
            .copied()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or(("nothing", 0.0));
        println!(
            "{workers} worker(s): {rate_now:.0} posts/s, {cpu_ms:.2} CPU ms/post in the workers \
             + {server_ms:.2} in PostgreSQL; bounds: per-host limit {host_bound:.0}/s, latency \
             {latency_bound:.0}/s, cores {cpu_bound:.0}/s: limited by {limit} ({bound:.0}/s)"
        );
    }
    Ok(())
}

struct Run<'a> {
    gleaner: &'a Path,
    base: &'a str,
    workers: usize,
    posts: usize,
    hosts: usize,
    latency: Duration,
    rate: f64,
    concurrency: usize,
    round: usize,
}

struct Measured {
    wall: f64,
    /// CPU seconds of the workers together.
    cpu: f64,
    /// CPU seconds of the PostgreSQL server's processes.
    server_cpu: f64,
    post_hits: usize,
}

fn one_run(run: &Run<'_>) -> Result<Measured> {
    let blogs: Vec<blogsim::BlogServer> = (0..run.hosts)
        .map(|i| {
            let n = run.posts / run.hosts + usize::from(i < run.posts % run.hosts);
            let blog = blogsim::BlogServer::start(
                &format!("Workers Blog {i}"),
                70 + u32::try_from(i).unwrap_or(0),
                blogsim::FeedMode::Summary,
                n,
                run.latency,
            );
            for p in 0..n {
                let text = post_text(p, 8);
                let refs: Vec<&str> = text.iter().map(String::as_str).collect();
                blog.set_paragraphs(p, &refs);
            }
            blog
        })
        .collect();
    let schema = format!(
        "gleaner_bench_{}_{}_{}",
        std::process::id(),
        run.workers,
        run.round
    );
    psql(
        run.base,
        &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"),
    )?;
    let sep = if run.base.contains('?') { '&' } else { '?' };
    let url = format!("{}{sep}options=-csearch_path%3D{schema}", run.base);
    let dir = tempfile::tempdir()?;
    let mut config = format!(
        "[fetch]\nconcurrency = {}\nper_host_per_second = {}\n",
        run.concurrency, run.rate
    );
    for b in &blogs {
        config.push_str(&format!(
            "\n[[sources]]\nurl = \"{}\"\nkind = \"blogger\"\n",
            b.home()
        ));
    }
    std::fs::write(dir.path().join("bench.toml"), config)?;
    // The schema is created before the clock starts, as a deployment would have it.
    let status = Command::new(run.gleaner)
        .current_dir(dir.path())
        .args(["--db", &url, "stats"])
        .stdout(std::process::Stdio::null())
        .status()
        .context("creating the schema")?;
    if !status.success() {
        bail!("gleaner stats on {url} failed");
    }
    let server_before = server_cpu_secs();
    let started = Instant::now();
    let handles: Vec<std::thread::JoinHandle<Result<Usage>>> = (0..run.workers)
        .map(|_| {
            let mut command = Command::new(run.gleaner);
            command
                .current_dir(dir.path())
                .args(["--config", "bench.toml", "--db", &url, "run"])
                .env("GLEANER_LOG", "warn");
            std::thread::spawn(move || measure(command))
        })
        .collect();
    let mut cpu = 0.0;
    for h in handles {
        let usage = h
            .join()
            .map_err(|_| anyhow::anyhow!("a measuring thread panicked"))??;
        if !usage.success {
            bail!("a worker failed:\n{}", usage.stderr);
        }
        cpu += usage.cpu;
    }
    let wall = started.elapsed().as_secs_f64();
    let server_cpu = (server_cpu_secs() - server_before).max(0.0);
    let stored = psql(run.base, &format!("SELECT count(*) FROM {schema}.articles"))?;
    psql(run.base, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))?;
    if stored.trim() != run.posts.to_string() {
        bail!("{} of {} posts stored", stored.trim(), run.posts);
    }
    let post_hits = blogs
        .iter()
        .map(|b| b.hits().iter().filter(|h| h.is_post()).count())
        .sum();
    Ok(Measured {
        wall,
        cpu,
        server_cpu,
        post_hits,
    })
}

/// Run `sql` with `psql` (quiet, unaligned): its output.
fn psql(base: &str, sql: &str) -> Result<String> {
    let out = Command::new("psql")
        .args([base, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .context("running psql (the bench makes its schema with it)")?;
    if !out.status.success() {
        bail!("psql: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// CPU seconds of every `postgres` process now, the children they reaped included.
fn server_cpu_secs() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    let mut total = 0.0;
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Some((comm, f)) = crate::stat_fields(&format!("/proc/{pid}/stat")) else {
            continue;
        };
        if comm != "postgres" {
            continue;
        }
        // utime, stime, cutime, cstime: fields 14-17 (11-14 after the command name).
        let ticks: f64 = (11..=14)
            .filter_map(|i| f.get(i).and_then(|v| v.parse::<f64>().ok()))
            .sum();
        total += ticks / crate::TICKS;
    }
    total
}

/// The 1-minute load average.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}
