//! Load figures for `gleaner serve`: search and entity pages under 32 concurrent clients
//! while a writer adds articles to the same file.
//!
//! ```text
//! # a database of 100,000 synthetic articles (600 words, 20 mentions each, Zipf-like words
//! # and entities), built by the store's own benchmark:
//! cargo run --release -p gleaner-store --example store_bench -- 100000 target/serve_load.db
//! # then (needs `wrk`: apt-get install wrk):
//! cargo run --release -p gleaner-serve --example serve_load -- target/serve_load.db [SECONDS]
//! ```
//!
//! The server runs in this process (the library `gleaner serve` runs) on 127.0.0.1; `wrk`
//! drives it with one connection and then 32, one run per page type, each request a path picked at
//! random from a list drawn from the database: search terms of every frequency (from the
//! full-text index's vocabulary), terms with an entity filter, entity-only filters, and entity
//! pages of entities from the most to the rarely mentioned. Meanwhile a writer thread stores
//! a batch of 50 new articles every 100 ms, as `gleaner run`'s writer does. Prints wrk's
//! latency percentiles (p50, p95, p99) per page type and the writer's articles per second.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use gleaner_model::{Article, Entity, EntityKind};
use gleaner_serve::ServeOptions;
use gleaner_store::Store;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(db) = args.first().map(PathBuf::from) else {
        eprintln!("usage: serve_load DB_PATH [SECONDS]  (see the file's doc comment)");
        return ExitCode::from(2);
    };
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    if !db.exists() {
        eprintln!(
            "{} does not exist: build it with\n  cargo run --release -p gleaner-store --example store_bench -- 100000 {}",
            db.display(),
            db.display()
        );
        return ExitCode::from(2);
    }
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("wrk is not installed (apt-get install wrk)");
        return ExitCode::from(2);
    }
    match run(&db, seconds) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("serve_load: {e}");
            ExitCode::FAILURE
        }
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

fn run(db: &Path, seconds: u64) -> Result<(), Error> {
    let (articles, search_paths, entity_paths, names) = workload(db)?;
    println!(
        "database: {} ({articles} articles); {} search paths, {} entity paths",
        db.display(),
        search_paths.len(),
        entity_paths.len()
    );

    // The server, in this process, on a free loopback port.
    let options = ServeOptions::new(db.to_path_buf());
    println!(
        "server: {} read-only connections, {:?} query limit, {} CPUs",
        options.connections,
        options.query_time_limit,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(async move {
        gleaner_serve::serve(listener, &options, async {
            let _ = stop_rx.await;
        })
        .await
    });

    // The writer.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writer = {
        let (db, stop, written) = (db.to_path_buf(), Arc::clone(&stop), Arc::clone(&written));
        std::thread::spawn(move || write_while(&db, &stop, &written, &names))
    };

    for (label, paths) in [("search", &search_paths), ("entity", &entity_paths)] {
        // One client first (each request's own cost), then 32 at once.
        for clients in [1, 32] {
            let before = written.load(Ordering::Relaxed);
            let started = Instant::now();
            let cpu_before = cpu_seconds();
            let (figures, requests) = wrk(&base, paths, seconds, clients)?;
            let cpu = cpu_seconds() - cpu_before;
            let rate =
                (written.load(Ordering::Relaxed) - before) as f64 / started.elapsed().as_secs_f64();
            println!(
                "{label:>7}, {clients:>2} clients: {figures}; writer meanwhile: {rate:.0} articles/s; \
                 this process (server and writer) used {cpu:.1} CPU s, {:.1} ms per request",
                cpu * 1000.0 / requests.max(1.0)
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    let writer_result = writer.join().map_err(|_| "the writer panicked")?;
    writer_result?;
    let _ = stop_tx.send(());
    runtime.block_on(server)??;
    println!(
        "writer stored {} articles in all (batches of 50 every 100 ms)",
        written.load(Ordering::Relaxed)
    );
    Ok(())
}

/// Article count, search paths, entity paths, and entity names for the writer, drawn from
/// the database.
#[allow(clippy::type_complexity)]
fn workload(
    db: &Path,
) -> Result<(i64, Vec<String>, Vec<String>, Vec<(EntityKind, String)>), Error> {
    let store = Store::open(db)?;
    let c = store.connection();
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
    let entities: Vec<(String, String, i64)> = c
        .prepare(
            "SELECT kind, name, article_count FROM (
                 SELECT kind, name, article_count, row_number() OVER (ORDER BY article_count DESC) AS r
                   FROM entities)
              WHERE r <= 100 OR (r <= 5100 AND r % 50 = 0)",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    if terms.is_empty() || entities.is_empty() {
        return Err("the database has no terms or entities".into());
    }
    let enc = |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let seg = |s: &str| enc(s).replace('+', "%20");
    let mut search = Vec::new();
    for (i, term) in terms.iter().enumerate() {
        search.push(format!("/?q={}", enc(term)));
        let (_, name, _) = &entities[i % entities.len()];
        search.push(format!("/?q={}&entity={}", enc(term), enc(name)));
        if i % 2 == 0 {
            search.push(format!("/?entity={}", enc(name)));
        }
        if let Some(next) = terms.get(i + 1) {
            search.push(format!("/?q={}+{}", enc(term), enc(next)));
        }
    }
    let entity_paths = entities
        .iter()
        .map(|(kind, name, _)| format!("/entities/{kind}/{}", seg(name)))
        .collect();
    let names = entities
        .iter()
        .filter_map(|(kind, name, _)| Some((kind.parse().ok()?, name.clone())))
        .collect();
    Ok((articles, search, entity_paths, names))
}

/// Run wrk with `clients` connections over `paths` (random order) for `seconds`; its
/// percentiles.
fn wrk(base: &str, paths: &[String], seconds: u64, clients: usize) -> Result<(String, f64), Error> {
    let mut script = tempfile_path("serve_load", "lua");
    {
        let mut f = std::fs::File::create(&script)?;
        writeln!(f, "local paths = {{")?;
        for p in paths {
            // Paths are percent-encoded: no quote or backslash can be in them.
            writeln!(f, "  \"{p}\",")?;
        }
        writeln!(
            f,
            r#"}}
init = function(args) math.randomseed(os.time() + math.floor(os.clock() * 1e6)) end
request = function() return wrk.format("GET", paths[math.random(#paths)]) end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d\n",
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    summary.requests, e.connect + e.read + e.write + e.timeout, e.status))
end"#
        )?;
    }
    let out = Command::new("wrk")
        .args([
            "-t",
            &clients.min(4).to_string(),
            "-c",
            &clients.to_string(),
        ])
        .args(["-d", &format!("{seconds}s"), "--timeout", "10s", "-s"])
        .arg(&script)
        .arg(base)
        .output()?;
    let _ = std::fs::remove_file(&script);
    script.clear();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or_else(|| format!("wrk said: {text}{}", String::from_utf8_lossy(&out.stderr)))?;
    let n: Vec<f64> = line
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let ms = |us: f64| us / 1000.0;
    let text = format!(
        "p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {:.0} requests/s ({} requests, {} socket errors, {} non-2xx)",
        ms(n[0]),
        ms(n[1]),
        ms(n[2]),
        ms(n[3]),
        n[4] / seconds as f64,
        n[4],
        n[5],
        n[6]
    );
    Ok((text, n[4]))
}

/// CPU seconds (user + system) this process has used (Linux `/proc/self/stat`; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
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

fn tempfile_path(stem: &str, ext: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{stem}-{}.{ext}", std::process::id()))
}

/// Store batches of 50 new articles every 100 ms until `stop`, each with 20 mentions of
/// entities from `names`.
fn write_while(
    db: &Path,
    stop: &AtomicBool,
    written: &AtomicU64,
    names: &[(EntityKind, String)],
) -> Result<(), Error> {
    let mut store = Store::open(db)?;
    let mut n: u64 = 0;
    let run = Utc::now().timestamp();
    while !stop.load(Ordering::Relaxed) {
        let batch: Vec<(Article, Option<i64>)> = (0..50)
            .map(|_| {
                n += 1;
                (new_article(run, n, names), None)
            })
            .collect();
        store.upsert_articles(&batch)?;
        written.fetch_add(50, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// A new article of about 600 words mentioning 20 of `names`.
fn new_article(run: i64, n: u64, names: &[(EntityKind, String)]) -> Article {
    const WORDS: [&str; 16] = [
        "minister", "talks", "market", "rates", "election", "court", "report", "energy", "border",
        "council", "budget", "strike", "harbour", "vaccine", "trade", "summit",
    ];
    let mut body = String::new();
    let mut chars = 0;
    let mut entities = Vec::new();
    let mut seed = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ run as u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for w in 0..600 {
        let sep = if w == 0 {
            ""
        } else if w % 60 == 0 {
            ".\n\n"
        } else {
            " "
        };
        body.push_str(sep);
        chars += sep.chars().count();
        if w % 30 == 5 && !names.is_empty() {
            let (kind, name) = &names[(next() % names.len() as u64) as usize];
            entities.push(Entity {
                kind: *kind,
                text: name.clone(),
                name: name.clone(),
                start: chars,
                end: chars + name.chars().count(),
            });
            body.push_str(name);
            chars += name.chars().count();
        } else {
            let word = WORDS[(next() % WORDS.len() as u64) as usize];
            body.push_str(word);
            chars += word.chars().count();
        }
    }
    Article {
        url: format!("https://load.example/{run}/{n}.html"),
        title: format!("Load article {n} of run {run}"),
        published_at: Some(Utc::now()),
        fetched_at: Some(Utc::now()),
        labels: vec!["load".into()],
        word_count: 600,
        content_hash: format!("{run}-{n}"),
        body,
        entities,
        ..Article::default()
    }
}
