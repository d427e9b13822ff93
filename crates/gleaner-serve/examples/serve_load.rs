//! Load figures for `gleaner serve`: search and entity pages under 32 concurrent clients
//! while a real `gleaner run` writes to the same file, for two builds in the same session.
//!
//! ```text
//! # a database of 100,000 synthetic articles (600 words, 20 mentions each, Zipf-like words
//! # and entities), built by the store's own benchmark:
//! cargo run --release -p gleaner-store --example store_bench -- 100000 target/serve_load.db
//! cargo build --release -p gleaner
//! cargo run --release -p gleaner-serve --example serve_load -- target/serve_load.db \
//!     [--new target/release/gleaner] [--base /tmp/gleaner-base] [--seconds 20] [--rounds 1] \
//!     [--clients 32] [--rate 100]
//! ```
//!
//! Every measurement starts from a fresh copy of the database, so that neither build sees
//! the other's writes or a warm page cache of its own making. For each build (base and new
//! alternate, the first build changing every round) it starts, as child processes:
//!
//! - `gleaner serve` of that build on the copy (`--bind 127.0.0.1:0`);
//! - a writer: `gleaner run` of the new build on the same copy, fetching a Blogger-like blog
//!   served from this process (`tests/blogsim`, summary feed, so every post is a page fetch)
//!   at `--rate` pages per second (the politeness limit), storing a post at a time as a real
//!   run does.
//!
//! Then for search pages and then entity pages (paths drawn once from the original database:
//! search terms of every frequency from the full-text vocabulary, with and without an entity
//! filter, entity-only filters, and entity pages from the most to the rarely mentioned):
//!
//! - **cold**: every path once, in a shuffled order, by `--clients` clients at once: each
//!   request is the first for its page, so the server computes it;
//! - **warm**: `--seconds` of random paths from the same list by `--clients` clients.
//!
//! `--interleaved` instead starts both builds on one copy without a writer and sends every
//! path once to each, one client, base then new: the time per kind of page, both builds
//! meeting the same moment of a loaded machine.
//!
//! The clients are threads of this process on keep-alive HTTP/1.1 connections, each sending
//! its next request when the last answer is read (as `wrk` does). Printed per phase: p50, p95,
//! p99 and max latency, requests, failures, the server's CPU milliseconds per request (from
//! `/proc/PID/stat`, Linux), the writer's CPU and posts stored meanwhile, this process's CPU
//! (the clients), and the load average when the phase started.

#[path = "../../../tests/blogsim/mod.rs"]
mod blogsim;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Options {
    db: PathBuf,
    new: PathBuf,
    base: Option<PathBuf>,
    seconds: u64,
    rounds: usize,
    clients: usize,
    rate: f64,
    interleaved: bool,
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1).collect()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!(
                "serve_load: {e}\nusage: serve_load DB [--new PATH] [--base PATH|none] [--seconds N] [--rounds N] [--clients N] [--rate N]  (see the file's doc comment)"
            );
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("serve_load: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: Vec<String>) -> Result<Options, Error> {
    let mut o = Options {
        db: PathBuf::new(),
        new: PathBuf::from("target/release/gleaner"),
        base: Some(PathBuf::from("/tmp/gleaner-base")),
        seconds: 20,
        rounds: 1,
        clients: 32,
        rate: 100.0,
        interleaved: false,
    };
    let mut it = args.into_iter();
    let mut db = None;
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--new" => o.new = PathBuf::from(value()?),
            "--base" => {
                let v = value()?;
                o.base = (v != "none").then(|| PathBuf::from(v));
            }
            "--seconds" => o.seconds = value()?.parse()?,
            "--rounds" => o.rounds = value()?.parse()?,
            "--clients" => o.clients = value()?.parse()?,
            "--rate" => o.rate = value()?.parse()?,
            "--interleaved" => o.interleaved = true,
            _ if db.is_none() && !a.starts_with("--") => db = Some(PathBuf::from(a)),
            _ => return Err(format!("unknown argument {a:?}").into()),
        }
    }
    o.db = db.ok_or("no database given")?;
    if !o.db.exists() {
        return Err(format!(
            "{} does not exist: build it with\n  cargo run --release -p gleaner-store --example store_bench -- 100000 {}",
            o.db.display(),
            o.db.display()
        )
        .into());
    }
    // Absolute: the writer runs in another directory.
    o.new = std::fs::canonicalize(&o.new)
        .map_err(|e| format!("no gleaner binary at {}: {e}", o.new.display()))?;
    if let Some(base) = &o.base {
        o.base = Some(
            std::fs::canonicalize(base)
                .map_err(|e| format!("no gleaner binary at {}: {e}", base.display()))?,
        );
    }
    Ok(o)
}

fn run(o: &Options) -> Result<(), Error> {
    let (articles, search, entity) = workload(&o.db)?;
    println!(
        "database: {} ({articles} articles); {} search paths, {} entity paths; {} clients, warm phases {} s, writer at {} posts/s; {} CPUs",
        o.db.display(),
        search.len(),
        entity.len(),
        o.clients,
        o.seconds,
        o.rate,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if o.interleaved {
        let base = o.base.as_deref().ok_or("--interleaved needs --base")?;
        return interleaved(o, base, &search, &entity);
    }
    let mut builds: Vec<(&str, &Path)> = Vec::new();
    if let Some(base) = &o.base {
        builds.push(("base", base));
    }
    builds.push(("new", &o.new));
    for round in 0..o.rounds {
        let mut order = builds.clone();
        if round % 2 == 1 {
            order.reverse();
        }
        for (label, bin) in order {
            println!("round {} — {label}: {}", round + 1, bin.display());
            measure(o, bin, &search, &entity)?;
        }
    }
    Ok(())
}

/// Article count, search paths and entity paths, drawn from the database.
fn workload(db: &Path) -> Result<(i64, Vec<String>, Vec<String>), Error> {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let articles: i64 = c.query_row("SELECT count(*) FROM articles", [], |r| r.get(0))?;
    c.execute_batch(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.vocab USING fts5vocab(main, articles_fts, 'row')",
    )?;
    // Terms by the number of articles holding them: every 50th of the 2,000 most common
    // (in 60% down to 1% of the articles), and 40 rarer ones.
    let terms: Vec<String> = c
        .prepare(
            "SELECT term FROM (SELECT term, row_number() OVER (ORDER BY doc DESC) AS r FROM temp.vocab
                                WHERE length(term) > 2)
              WHERE (r <= 2000 AND r % 50 = 0) OR (r > 2000 AND r % 500 = 0) LIMIT 80",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    // Entities by articles mentioning them: the top 100 and every 50th of the next 5,000.
    let entities: Vec<(String, String)> = c
        .prepare(
            "SELECT kind, name FROM (
                 SELECT kind, name, row_number() OVER (ORDER BY article_count DESC, id) AS r
                   FROM entities)
              WHERE r <= 100 OR (r <= 5100 AND r % 50 = 0)",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    if terms.is_empty() || entities.is_empty() {
        return Err("the database has no terms or entities".into());
    }
    let enc = |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let seg = |s: &str| enc(s).replace('+', "%20");
    let mut search = Vec::new();
    for (i, term) in terms.iter().enumerate() {
        search.push(format!("/?q={}", enc(term)));
        let (_, name) = &entities[i % entities.len()];
        search.push(format!("/?q={}&entity={}", enc(term), enc(name)));
        if i % 2 == 0 {
            search.push(format!("/?entity={}", enc(name)));
        }
        if let Some(next) = terms.get(i + 1) {
            search.push(format!("/?q={}+{}", enc(term), enc(next)));
        }
    }
    let entity = entities
        .iter()
        .map(|(kind, name)| format!("/entities/{kind}/{}", seg(name)))
        .collect();
    Ok((articles, search, entity))
}

/// Kills (SIGKILL) and reaps a child process when dropped.
struct Kid(Child);

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One build's figures: fresh copy, its server, the writer, the four phases.
fn measure(o: &Options, bin: &Path, search: &[String], entity: &[String]) -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("load.db");
    std::fs::copy(&o.db, &db)?;
    let wal = PathBuf::from(format!("{}-wal", o.db.display()));
    if wal.exists() {
        std::fs::copy(&wal, dir.path().join("load.db-wal"))?;
    }

    // Enough posts for the writer never to run out before the phases are done.
    let posts = ((o.rate * (2 * o.seconds + 240) as f64) as usize).max(10);
    let blog = blogsim::BlogServer::start(
        "Load Blog",
        7,
        blogsim::FeedMode::Summary,
        posts,
        Duration::ZERO,
    );
    for n in 0..posts {
        let text = post_text(n);
        let refs: Vec<&str> = text.iter().map(String::as_str).collect();
        blog.set_paragraphs(n, &refs);
    }
    std::fs::write(
        dir.path().join("load.toml"),
        format!(
            "[fetch]\nconcurrency = 8\nper_host_per_second = {}\n\n[[sources]]\nurl = \"{}\"\nkind = \"blogger\"\n",
            o.rate,
            blog.home()
        ),
    )?;

    let mut server = Kid(Command::new(bin)
        .args(["--db"])
        .arg(&db)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?);
    let address = {
        let out = server.0.stdout.take().ok_or("no stdout from the server")?;
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line)?;
        line.trim()
            .strip_prefix("listening on http://")
            .map(|a| a.trim_end_matches('/').to_string())
            .ok_or_else(|| format!("the server said {line:?}"))?
    };
    // `--rate 0`: no writer (to tell what the writer changes).
    let writer = if o.rate > 0.0 {
        Some(Kid(Command::new(&o.new)
            .current_dir(dir.path())
            .args(["--config", "load.toml", "--db", "load.db", "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?))
    } else {
        None
    };
    let writer_pid = writer.as_ref().map_or(0, |w| w.0.id());
    // Let the writer list the feed and start storing.
    std::thread::sleep(Duration::from_secs(3));
    let stored = || -> i64 {
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|c| {
                c.query_row(
                    "SELECT count(*) FROM articles WHERE url LIKE 'http://127.0.0.1:%'",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap_or(-1)
    };

    for (page, paths) in [("search", search), ("entity", entity)] {
        for warm in [false, true] {
            let load = std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|l| l.split_whitespace().next().map(str::to_string))
                .unwrap_or_default();
            let (server_cpu, writer_cpu, own_cpu) = (
                cpu_seconds(server.0.id()),
                cpu_seconds(writer_pid),
                cpu_seconds(std::process::id()),
            );
            let stored_before = stored();
            let started = Instant::now();
            let result = drive(
                &address,
                paths,
                o.clients,
                warm.then(|| Duration::from_secs(o.seconds)),
            );
            let wall = started.elapsed().as_secs_f64();
            let server_cpu = cpu_seconds(server.0.id()) - server_cpu;
            let writer_cpu = cpu_seconds(writer_pid) - writer_cpu;
            let own_cpu = cpu_seconds(std::process::id()) - own_cpu;
            let stored_now = stored();
            let n = result.latencies.len().max(1) as f64;
            println!(
                "  {page} {}: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} requests in {wall:.1} s, {} failed; server {:.2} CPU ms/request; writer {:.1} CPU s, {} posts stored; clients {:.1} CPU s; load {load}",
                if warm { "warm" } else { "cold" },
                result.percentile(50.0),
                result.percentile(95.0),
                result.percentile(99.0),
                result.percentile(100.0),
                result.latencies.len(),
                result.failed,
                server_cpu * 1000.0 / n,
                writer_cpu,
                stored_now - stored_before,
                own_cpu,
            );
        }
    }
    drop(writer);
    drop(server);
    Ok(())
}

/// `--interleaved`: both builds serve one fresh copy (no writer); one client sends every path
/// once to each, base then new, so that both meet the same moment of the machine's load.
/// Prints the time summed and the median per kind of page.
fn interleaved(
    o: &Options,
    base: &Path,
    search: &[String],
    entity: &[String],
) -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("load.db");
    std::fs::copy(&o.db, &db)?;
    let start = |bin: &Path| -> Result<(Kid, String), Error> {
        let mut kid = Kid(Command::new(bin)
            .arg("--db")
            .arg(&db)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?);
        let out = kid.0.stdout.take().ok_or("no stdout from the server")?;
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line)?;
        let address = line
            .trim()
            .strip_prefix("listening on http://")
            .map(|a| a.trim_end_matches('/').to_string())
            .ok_or_else(|| format!("the server said {line:?}"))?;
        Ok((kid, address))
    };
    let servers = [start(base)?, start(&o.new)?];
    let kind = |p: &str| {
        if p.starts_with("/entities/") {
            "entity pages"
        } else if p.contains("q=") && p.contains("entity=") {
            "terms + entity"
        } else if p.contains("entity=") {
            "entity only"
        } else if p.contains('+') {
            "two terms"
        } else {
            "terms"
        }
    };
    let mut times: std::collections::BTreeMap<(&str, usize), Vec<f64>> = Default::default();
    let mut conns: [Option<TcpStream>; 2] = [None, None];
    for path in search.iter().chain(entity) {
        for (i, (_, address)) in servers.iter().enumerate() {
            let started = Instant::now();
            let status = get(&mut conns[i], address, path)?;
            if status != 200 {
                return Err(format!("{path}: status {status}").into());
            }
            times
                .entry((kind(path), i))
                .or_default()
                .push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "one client, each path to base then new; load {}",
        load.trim()
    );
    for k in [
        "terms",
        "terms + entity",
        "entity only",
        "two terms",
        "entity pages",
    ] {
        let line: Vec<String> = (0..2)
            .map(|i| {
                let mut v = times.get(&(k, i)).cloned().unwrap_or_default();
                v.sort_by(f64::total_cmp);
                let median = v.get(v.len() / 2).copied().unwrap_or(f64::NAN);
                format!(
                    "{}: {:.0} ms in all, median {median:.1} ms",
                    ["base", "new"][i],
                    v.iter().sum::<f64>()
                )
            })
            .collect();
        println!(
            "  {k:>14} ({} paths): {}",
            times.get(&(k, 0)).map_or(0, Vec::len),
            line.join("; ")
        );
    }
    Ok(())
}

/// What the clients saw.
struct Outcome {
    /// Milliseconds, sorted.
    latencies: Vec<f64>,
    failed: usize,
}

impl Outcome {
    /// Nearest-rank percentile in milliseconds.
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }
}

/// `clients` clients on keep-alive connections: each path once (shuffled) when `warm` is
/// `None`, else random paths for that long.
fn drive(address: &str, paths: &[String], clients: usize, warm: Option<Duration>) -> Outcome {
    let mut order: Vec<usize> = (0..paths.len()).collect();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(std::process::id());
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in (1..order.len()).rev() {
        order.swap(i, (next() % (i as u64 + 1)) as usize);
    }
    let order = Arc::new(order);
    let taken = Arc::new(AtomicUsize::new(0));
    let paths: Arc<Vec<String>> = Arc::new(paths.to_vec());
    let deadline = warm.map(|d| Instant::now() + d);
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (order, taken, paths, address) = (
                Arc::clone(&order),
                Arc::clone(&taken),
                Arc::clone(&paths),
                address.to_string(),
            );
            let mut seed = next() | 1;
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                let mut failed = 0;
                let mut conn: Option<TcpStream> = None;
                loop {
                    let path = match deadline {
                        None => match order.get(taken.fetch_add(1, Ordering::Relaxed)) {
                            Some(&i) => &paths[i],
                            None => break,
                        },
                        Some(d) => {
                            if Instant::now() >= d {
                                break;
                            }
                            seed ^= seed << 13;
                            seed ^= seed >> 7;
                            seed ^= seed << 17;
                            &paths[(seed % paths.len() as u64) as usize]
                        }
                    };
                    let started = Instant::now();
                    let ok = get(&mut conn, &address, path);
                    let ms = started.elapsed().as_secs_f64() * 1000.0;
                    match ok {
                        Ok(200) => latencies.push(ms),
                        Ok(status) => {
                            failed += 1;
                            if c == 0 && failed < 3 {
                                eprintln!("  {path}: status {status}");
                            }
                        }
                        Err(e) => {
                            failed += 1;
                            conn = None;
                            if failed < 3 {
                                eprintln!("  {path}: {e}");
                            }
                        }
                    }
                }
                (latencies, failed)
            })
        })
        .collect();
    let mut out = Outcome {
        latencies: Vec::new(),
        failed: 0,
    };
    for t in threads {
        match t.join() {
            Ok((l, f)) => {
                out.latencies.extend(l);
                out.failed += f;
            }
            Err(_) => out.failed += 1,
        }
    }
    out.latencies.sort_by(f64::total_cmp);
    out
}

/// One GET on a kept-alive connection (opened when there is none); the status. The body is
/// read whole (`Content-Length` or chunked).
fn get(conn: &mut Option<TcpStream>, address: &str, path: &str) -> Result<u16, Error> {
    if conn.is_none() {
        let s = TcpStream::connect(address)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        *conn = Some(s);
    }
    let s = conn.as_mut().ok_or("no connection")?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n")?;
    let mut reader = BufReader::new(s);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {line:?}"))?;
    let (mut length, mut chunked, mut close) = (None, false, false);
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err("connection closed in the headers".into());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            match name.as_str() {
                "content-length" => length = value.parse::<usize>().ok(),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
    }
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim(), 16)?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
        }
    } else {
        let mut body = vec![0; length.ok_or("no length")?];
        reader.read_exact(&mut body)?;
    }
    if !reader.buffer().is_empty() {
        return Err("bytes after the response".into());
    }
    if close {
        *conn = None;
    }
    Ok(status)
}

/// CPU seconds (user + system) process `pid` has used (Linux `/proc`; 0 elsewhere).
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Eight paragraphs of news prose for post `n` (about 500 words), with people, places and
/// organisations for the tagger.
fn post_text(n: usize) -> Vec<String> {
    const PEOPLE: [&str; 6] = [
        "Elena Varga",
        "Tomasz Nowak",
        "Amara Okafor",
        "Daniel Brooks",
        "Mei Lin Chen",
        "Rafael Ortiz",
    ];
    const PLACES: [&str; 6] = [
        "Lisbon",
        "Nairobi",
        "Gdansk",
        "Osaka",
        "Valparaiso",
        "Tromso",
    ];
    (0..8)
        .map(|i| {
            let k = n * 7 + i;
            format!(
                "{} said on Tuesday that the harbour project in {} would need another {} million \
                 euros before March, a rise of {}% on the first estimate. The council approved \
                 the plan after a long debate, and work on the northern quay should start within \
                 weeks if the weather allowed, officials in {} added.",
                PEOPLE[k % PEOPLE.len()],
                PLACES[k % PLACES.len()],
                k % 90 + 10,
                k % 30 + 2,
                PLACES[(k + 3) % PLACES.len()],
            )
        })
        .collect()
}
