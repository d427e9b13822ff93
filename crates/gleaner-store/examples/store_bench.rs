//! Store benchmark: insert N synthetic articles, then time the queries people run.
//!
//! ```text
//! cargo run --release -p gleaner-store --example store_bench -- 100000 [DB_PATH]
//! ```
//!
//! Articles are about 600 words in 10 paragraphs, from a 20,000-word vocabulary with a
//! Zipf-like spread, with 20 entity mentions each drawn (also Zipf-like) from 50,000 entities.
//! Prints the insert rate, the database size per article, the full-text index's segments (for
//! an existing file too), and the median and 95th percentile
//! latency of: a full-text query with an entity filter, an entity-filtered listing without
//! terms, `entities --top 20`, and `entities --top 20 --with NAME`.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use gleaner_model::{Article, Entity, EntityKind};
use gleaner_store::{EntityQuery, SearchQuery, Store};

/// A small deterministic generator (xorshift64*), so every run inserts the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// A rank in `0..n`, small ranks far more likely (log-uniform, close to Zipf).
    fn zipf(&mut self, n: usize) -> usize {
        let r = (n as f64).powf(self.unit()) as usize;
        r.saturating_sub(1).min(n - 1)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SYLLABLES: [&str; 24] = [
    "ka", "lo", "mi", "ten", "ra", "sul", "vor", "den", "pe", "tra", "mon", "sa", "gri", "lu",
    "ber", "no", "vin", "cha", "ost", "el", "dar", "fi", "gen", "ul",
];

/// Word number `i` of the vocabulary: distinct, pronounceable, lowercase.
fn word(mut i: usize) -> String {
    let mut w = String::new();
    loop {
        w.push_str(SYLLABLES[i % SYLLABLES.len()]);
        i /= SYLLABLES.len();
        if i == 0 {
            break;
        }
        i -= 1;
    }
    w
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Entity number `i`: (kind, canonical name, short surface form).
fn entity(i: usize) -> (EntityKind, String, String) {
    let kinds = [
        EntityKind::Person,
        EntityKind::Location,
        EntityKind::Organization,
        EntityKind::Person,
        EntityKind::Group,
        EntityKind::Location,
    ];
    let kind = kinds[i % kinds.len()];
    let a = capitalised(&word(7000 + i * 3));
    let b = capitalised(&word(9000 + i * 7));
    match kind {
        EntityKind::Person => (kind, format!("{a} {b}"), b),
        EntityKind::Organization => (kind, format!("{a} Institute"), a.clone()),
        _ => (kind, a.clone(), a),
    }
}

const VOCABULARY: usize = 20_000;
const ENTITIES: usize = 50_000;
const WORDS: usize = 600;
const MENTIONS: usize = 20;

fn synthetic_article(
    n: usize,
    rng: &mut Rng,
    entities: &[(EntityKind, String, String)],
) -> Article {
    let mut body = String::with_capacity(WORDS * 8);
    let mut chars = 0usize;
    let mut found = Vec::with_capacity(MENTIONS);
    let mention_at: Vec<usize> = (0..MENTIONS).map(|_| rng.below(WORDS)).collect();
    let push = |s: &str, body: &mut String, chars: &mut usize| {
        body.push_str(s);
        *chars += s.chars().count();
    };
    for w in 0..WORDS {
        if w > 0 {
            let sep = if w % 60 == 0 {
                ".\n\n"
            } else if w % 12 == 0 {
                ". "
            } else {
                " "
            };
            push(sep, &mut body, &mut chars);
        }
        if mention_at.contains(&w) {
            let (kind, name, short) = &entities[rng.zipf(ENTITIES)];
            // A first mention by full name, later ones often by the short form.
            let text = if rng.below(3) == 0 { short } else { name };
            found.push(Entity {
                kind: *kind,
                text: text.clone(),
                name: name.clone(),
                start: chars,
                end: chars + text.chars().count(),
            });
            push(text, &mut body, &mut chars);
        } else {
            push(&word(rng.zipf(VOCABULARY)), &mut body, &mut chars);
        }
    }
    body.push('.');
    let title = format!(
        "{} {} {}",
        capitalised(&word(rng.zipf(VOCABULARY))),
        word(rng.zipf(VOCABULARY)),
        n
    );
    let published = Utc
        .with_ymd_and_hms(2020, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
        + chrono::Duration::minutes(i64::try_from(n).unwrap_or(0) * 17);
    Article {
        url: format!(
            "https://bench{}.blogspot.com/{}/post-{n}.html",
            n % 50,
            published.format("%Y/%m")
        ),
        canonical_url: None,
        blogger_post_id: Some(format!("{}", 1_000_000_000_000 + n)),
        title,
        author: Some(format!("Author {}", n % 40)),
        published_at: Some(published),
        fetched_at: Some(Utc::now()),
        language: Some("en".into()),
        labels: vec![format!("label{}", n % 30), "news".into()],
        comments_count: Some(u32::try_from(n % 7).unwrap_or(0)),
        word_count: u32::try_from(WORDS).unwrap_or(0),
        content_hash: format!("{:016x}", {
            let mut h = Rng(n as u64 * 2 + 1);
            h.next()
        }),
        body,
        entities: found,
        ..Article::default()
    }
}

/// CPU seconds (user + system) this process has used, on Linux; the machine is shared, so
/// this is steadier than the wall clock.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Bytes this process has handed to `write()` (Linux `/proc/self/io`, `wchar`): the WAL
/// frames and checkpoint copies an insert costs, the same on every run however busy the
/// machine.
fn bytes_written() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("wchar:"))
        .and_then(|v| v.trim().parse().ok())
}

fn percentiles(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    (at(0.5), at(0.95))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn time_queries<T>(
    label: &str,
    rounds: usize,
    mut run: impl FnMut(usize) -> T,
    size: impl Fn(&T) -> usize,
) {
    let mut times = Vec::with_capacity(rounds);
    let mut results = 0;
    for i in 0..rounds {
        let t = Instant::now();
        let out = run(i);
        times.push(t.elapsed());
        results += size(&out);
    }
    let (p50, p95) = percentiles(times);
    println!(
        "{label:<52} median {:>10}  p95 {:>10}  ({:.1} results/query)",
        ms(p50),
        ms(p95),
        results as f64 / rounds as f64
    );
}

/// A varint of FTS5's records (SQLite's: 7 bits a byte, high bit set on all but the last,
/// the ninth byte whole) at `*at`, which moves past it.
fn varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..9 {
        let b = *bytes.get(*at)?;
        *at += 1;
        if i == 8 {
            return Some((v << 8) | u64::from(b));
        }
        v = (v << 7) | u64::from(b & 0x7f);
        if b < 0x80 {
            return Some(v);
        }
    }
    Some(v)
}

/// The full-text index's segments on each level, from FTS5's structure record (row 10 of
/// `articles_fts_data`): a 4-byte cookie (then `ff 00 00 01` in version 2), then varints: the
/// levels, the segments, a write counter, and for each level the segments being merged, its
/// segments, and for each segment its id, first and last leaf page (in version 2 three more).
/// Every term look-up of a search visits each segment.
fn fts_segments(store: &Store) -> Result<Vec<usize>, Box<dyn std::error::Error>> {
    let record: Vec<u8> = store.connection().query_row(
        "SELECT block FROM articles_fts_data WHERE id = 10",
        [],
        |r| r.get(0),
    )?;
    let v2 = record.get(4..8) == Some(&[0xff, 0, 0, 1][..]);
    let mut at = if v2 { 8 } else { 4 };
    let bad = || "a structure record this reader does not know";
    let next = |at: &mut usize| varint(&record, at).ok_or_else(bad);
    let levels = next(&mut at)?;
    let _segments = next(&mut at)?;
    let _writes = next(&mut at)?;
    let mut per_level = Vec::new();
    for _ in 0..levels {
        let _merging = next(&mut at)?;
        let segments = next(&mut at)?;
        for _ in 0..segments * if v2 { 6 } else { 3 } {
            next(&mut at)?;
        }
        per_level.push(usize::try_from(segments)?);
    }
    Ok(per_level)
}

/// Insert `n` synthetic articles in batches; print the rate and the size.
fn insert(
    store: &mut Store,
    path: &std::path::Path,
    n: usize,
    entities: &[(EntityKind, String, String)],
) -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);

    // Insert in batches of 200, each its own transaction, as the pipeline's writer does (it
    // commits what arrived in 2 s, about 180 posts at a fast blog's 90 a second): the
    // full-text index then has the segments a run leaves (one per batch, merged 16 at a
    // time). Generation is not timed.
    let batch_size: usize = std::env::var("STORE_BENCH_BATCH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let mut insert_time = Duration::ZERO;
    let mut body_bytes = 0usize;
    let mut done = 0;
    let cpu_start = cpu_seconds();
    let written_start = bytes_written();
    while done < n {
        let batch: Vec<_> = (done..n.min(done + batch_size))
            .map(|i| (synthetic_article(i, &mut rng, entities), None))
            .collect();
        body_bytes += batch.iter().map(|(a, _)| a.body.len()).sum::<usize>();
        let t = Instant::now();
        store.upsert_articles(&batch)?;
        insert_time += t.elapsed();
        done += batch.len();
    }
    let cpu = cpu_start.zip(cpu_seconds()).map(|(a, b)| b - a);
    let written = written_start
        .zip(bytes_written())
        .map(|(a, b)| b.saturating_sub(a));
    store
        .connection()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    let bytes = std::fs::metadata(path)?.len();
    println!("articles                 {n}");
    println!(
        "average body             {} bytes, {WORDS} words, {MENTIONS} mentions",
        body_bytes / n.max(1)
    );
    println!(
        "insert                   {:.1} s, {:.0} articles/s",
        insert_time.as_secs_f64(),
        n as f64 / insert_time.as_secs_f64()
    );
    if let Some(cpu) = cpu {
        println!(
            "insert CPU               {cpu:.1} s, {:.0} articles per CPU second",
            n as f64 / cpu
        );
    }
    if let Some(written) = written {
        println!(
            "insert writes            {:.0} MB, {} bytes/article",
            written as f64 / 1e6,
            written / n.max(1) as u64
        );
    }
    println!(
        "database                 {:.1} MB, {} bytes/article",
        bytes as f64 / 1e6,
        bytes / n.max(1) as u64
    );
    match fts_segments(store) {
        Ok(levels) => println!(
            "full-text segments       {} (per level: {})",
            levels.iter().sum::<usize>(),
            levels
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Err(e) => println!("full-text segments       unknown ({e})"),
    }

    // Re-upsert a sample: all unchanged.
    let mut rng2 = Rng(0x9E37_79B9_7F4A_7C15);
    let sample: Vec<_> = (0..n.min(1000))
        .map(|i| (synthetic_article(i, &mut rng2, entities), None))
        .collect();
    let t = Instant::now();
    store.upsert_articles(&sample)?;
    println!(
        "re-upsert unchanged      {:.0} articles/s",
        sample.len() as f64 / t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    let path = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("bench.db"));
    let entities: Vec<_> = (0..ENTITIES).map(entity).collect();
    let reuse = path.exists();
    let mut store = Store::open(&path)?;
    // For experiments: SQL run after opening (e.g. to drop an index and see what it costs).
    if let Some(sql) = std::env::var_os("STORE_BENCH_SQL") {
        store.connection().execute_batch(&sql.to_string_lossy())?;
    }
    let n = if reuse {
        // An existing file: time the queries only.
        let n: i64 = store
            .connection()
            .query_row("SELECT count(*) FROM articles", [], |r| r.get(0))?;
        println!("reusing {} with {n} articles", path.display());
        if let Ok(levels) = fts_segments(&store) {
            println!(
                "full-text segments       {} on {} levels",
                levels.iter().sum::<usize>(),
                levels.len()
            );
        }
        usize::try_from(n)?
    } else {
        insert(&mut store, &path, n, &entities)?;
        n
    };

    if std::env::var_os("STORE_BENCH_INSERT_ONLY").is_some() {
        return Ok(());
    }
    let top = store.top_entities(&EntityQuery {
        top: 50,
        ..EntityQuery::default()
    })?;
    let names: Vec<String> = top.iter().map(|e| e.name.clone()).collect();
    let rounds = 60;
    // Terms: mid-frequency words (ranks 300..3000 of the vocabulary), as in "nuclear".
    let terms = |i: usize| word(300 + (i * 97) % 2700);
    println!();
    if std::env::var_os("STORE_BENCH_PLAN").is_some() {
        let q = SearchQuery {
            terms: Some(word(5)),
            entities: vec![names[0].clone()],
            limit: 20,
            ..SearchQuery::default()
        };
        for line in store.search_plan(&q)? {
            println!("plan: {line}");
        }
    }
    time_queries(
        "query TERM --entity NAME --limit 20",
        rounds,
        |i| {
            store.search(&SearchQuery {
                terms: Some(terms(i)),
                entities: vec![names[i % names.len()].clone()],
                limit: 20,
                ..SearchQuery::default()
            })
        },
        |r| r.as_ref().map_or(0, Vec::len),
    );
    time_queries(
        "query TERM --limit 20",
        rounds,
        |i| {
            store.search(&SearchQuery {
                terms: Some(terms(i)),
                limit: 20,
                ..SearchQuery::default()
            })
        },
        |r| r.as_ref().map_or(0, Vec::len),
    );
    time_queries(
        "query COMMON-TERM --entity NAME --limit 20",
        rounds,
        |i| {
            store.search(&SearchQuery {
                terms: Some(word(5 + i % 20)),
                entities: vec![names[i % names.len()].clone()],
                limit: 20,
                ..SearchQuery::default()
            })
        },
        |r| r.as_ref().map_or(0, Vec::len),
    );
    time_queries(
        "query --entity NAME --limit 20 (newest first)",
        rounds,
        |i| {
            store.search(&SearchQuery {
                entities: vec![names[i % names.len()].clone()],
                limit: 20,
                ..SearchQuery::default()
            })
        },
        |r| r.as_ref().map_or(0, Vec::len),
    );
    let rare: Vec<String> = store
        .connection()
        .prepare(
            "SELECT name FROM entities WHERE article_count BETWEEN 3 AND 50 ORDER BY id LIMIT 60",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if !rare.is_empty() {
        time_queries(
            "query --entity RARE-NAME --limit 20 (newest first)",
            rounds,
            |i| {
                store.search(&SearchQuery {
                    entities: vec![rare[i % rare.len()].clone()],
                    limit: 20,
                    ..SearchQuery::default()
                })
            },
            |r| r.as_ref().map_or(0, Vec::len),
        );
        time_queries(
            "query TERM --entity RARE-NAME --limit 20",
            rounds,
            |i| {
                store.search(&SearchQuery {
                    terms: Some(terms(i)),
                    entities: vec![rare[i % rare.len()].clone()],
                    limit: 20,
                    ..SearchQuery::default()
                })
            },
            |r| r.as_ref().map_or(0, Vec::len),
        );
    }
    time_queries(
        "entities --top 20",
        rounds,
        |_| {
            store.top_entities(&EntityQuery {
                top: 20,
                ..EntityQuery::default()
            })
        },
        |r| r.as_ref().map_or(0, Vec::len),
    );
    time_queries(
        "entities --top 20 --kind person",
        rounds,
        |_| {
            store.top_entities(&EntityQuery {
                top: 20,
                kind: Some(EntityKind::Person),
                ..EntityQuery::default()
            })
        },
        |r| r.as_ref().map_or(0, Vec::len),
    );
    time_queries(
        "entities --top 20 --with NAME",
        rounds.min(20),
        |i| {
            store.top_entities(&EntityQuery {
                top: 20,
                with: Some(names[10 + i % 40].clone()),
                ..EntityQuery::default()
            })
        },
        |r| r.as_ref().map_or(0, Vec::len),
    );
    time_queries(
        "entities --top 20 --since (last 30 days)",
        rounds.min(20),
        |_| {
            let newest = Utc
                .with_ymd_and_hms(2020, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or_default()
                + chrono::Duration::minutes(i64::try_from(n).unwrap_or(0) * 17);
            store.top_entities(&EntityQuery {
                top: 20,
                since: Some(newest - chrono::Duration::days(30)),
                ..EntityQuery::default()
            })
        },
        |r| r.as_ref().map_or(0, Vec::len),
    );
    time_queries("stats", 5, |_| store.stats(), |_| 1);
    Ok(())
}
