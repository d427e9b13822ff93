//! End to end on PostgreSQL (the server in `GLEANER_TEST_POSTGRES`, a fresh schema per test;
//! skipped, saying so, without it):
//!
//! - `gleaner run` into SQLite, `gleaner copy` into PostgreSQL (twice: safe to run again),
//!   and `query`, `entities` and `export` answer the same on both;
//! - `gleaner run` against the copy then continues incrementally from the copied state:
//!   no post page is downloaded again;
//! - `gleaner run` straight into PostgreSQL stores the same articles as into SQLite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod blogsim;
mod common;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use blogsim::{BlogServer, FeedMode};
use common::{assert_exit, gleaner, stdout};

const ENV: &str = "GLEANER_TEST_POSTGRES";
const POSTS: usize = 120;

/// A fresh schema on the test server (dropped afterwards), or `None` without a server.
struct Schema {
    base: String,
    name: String,
    url: String,
}

impl Schema {
    fn new(test: &str) -> Option<Schema> {
        let Ok(base) = std::env::var(ENV) else {
            let _ = std::io::stderr().write_all(
                format!("skipped {test}: {ENV} is not set (e.g. {ENV}=postgres://postgres@127.0.0.1:5432/test)\n")
                    .as_bytes(),
            );
            return None;
        };
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "gleaner_e2e_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        admin(
            &base,
            &format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"),
        );
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{name}");
        Some(Schema { base, name, url })
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if std::env::var_os("GLEANER_E2E_KEEP").is_some() {
            return;
        }
        admin(
            &self.base,
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        );
    }
}

fn admin(base: &str, sql: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("{ENV}={base} does not answer: {e}"));
        let task = tokio::spawn(conn);
        client.batch_execute(sql).await.unwrap();
        drop(client);
        let _ = task.await;
    });
}

fn write_config(dir: &std::path::Path, blog: &BlogServer) {
    let text = format!(
        "[fetch]\nconcurrency = 8\nper_host_per_second = 2000.0\nmax_attempts = 2\n\
         retry_base_delay_ms = 20\nretry_max_delay_secs = 1\ntimeout_secs = 20\n\
         read_timeout_secs = 10\n\n[[sources]]\nurl = \"{}\"\nkind = \"blogger\"\nname = \"{}\"\n",
        blog.home(),
        blog.name
    );
    std::fs::write(dir.join("gleaner.toml"), text).unwrap();
}

fn run_into(dir: &std::path::Path, db: &str) {
    let out = gleaner(dir, &["--config", "gleaner.toml", "--db", db, "run"]);
    assert_exit(&out, 0);
}

/// What the reading commands print for `db`.
fn answers(dir: &std::path::Path, db: &str) -> Vec<(String, String)> {
    let cmds: Vec<Vec<&str>> = vec![
        vec!["query", "--format", "json", "--limit", "1000"],
        vec!["query", "--format", "json", "--limit", "7", "--offset", "5"],
        vec![
            "query",
            "--format",
            "json",
            "--since",
            "2022-01-01",
            "--limit",
            "1000",
        ],
        vec!["entities", "--format", "json", "--top", "0"],
        vec!["entities", "--format", "json", "--kind", "person"],
        vec!["export"],
        vec!["export", "--format", "csv"],
    ];
    cmds.into_iter()
        .map(|args| {
            let mut all = vec!["--db", db];
            all.extend(args.iter().copied());
            let out = gleaner(dir, &all);
            assert_exit(&out, 0);
            (args.join(" "), stdout(&out))
        })
        .collect()
}

/// The ids of the hits of a term search, sorted (ranks and snippets differ by engine).
fn term_hits(dir: &std::path::Path, db: &str, terms: &str) -> Vec<i64> {
    let out = gleaner(
        dir,
        &[
            "--db", db, "query", "--format", "json", "--limit", "0", terms,
        ],
    );
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let mut ids: Vec<i64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

#[test]
fn copy_round_trip_answers_the_same() {
    let Some(schema) = Schema::new("copy_round_trip_answers_the_same") else {
        return;
    };
    let blog = BlogServer::start("Copy Harbour", 31, FeedMode::Summary, POSTS, Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &blog);
    run_into(dir.path(), "news.db");
    for _ in 0..2 {
        let out = gleaner(
            dir.path(),
            &["copy", "--from", "news.db", "--to", &schema.url],
        );
        assert_exit(&out, 0);
        assert!(
            stdout(&out).contains(&format!("articles\t{POSTS}")),
            "{}",
            stdout(&out)
        );
    }
    let sqlite = answers(dir.path(), "news.db");
    let pg = answers(dir.path(), &schema.url);
    for ((cmd, a), (_, b)) in sqlite.iter().zip(&pg) {
        assert!(
            !a.trim().is_empty() && a.trim() != "[]",
            "{cmd}: nothing to compare"
        );
        assert_eq!(
            a, b,
            "`gleaner {cmd}` differs between SQLite and PostgreSQL"
        );
    }
    let hits = term_hits(dir.path(), "news.db", "harbour");
    assert_eq!(hits, term_hits(dir.path(), &schema.url, "harbour"));
    // A bad query is a usage error on both.
    for db in ["news.db", schema.url.as_str()] {
        let out = gleaner(dir.path(), &["--db", db, "query", "\"unclosed"]);
        assert_exit(&out, 2);
    }

    // Incremental from the copied state: the run on the copy downloads what a second run
    // on the file downloads (the top of the feed, no post page it already has).
    let on_pg = downloads(&blog, || run_into(dir.path(), &schema.url));
    let on_sqlite = downloads(&blog, || run_into(dir.path(), "news.db"));
    assert_eq!(
        on_pg, on_sqlite,
        "a run on the copy is not incremental like one on the file"
    );
    assert!(on_pg.0 <= 1, "posts downloaded again: {on_pg:?}");
    let sources = |db: &str| {
        let out = gleaner(
            dir.path(),
            &["--config", "gleaner.toml", "--db", db, "sources"],
        );
        assert_exit(&out, 0);
        // All but the last-run time (the two runs were a second apart).
        stdout(&out)
            .lines()
            .map(|l| {
                let mut f: Vec<&str> = l.split_whitespace().collect();
                if f.len() > 2 {
                    f.remove(2);
                }
                f.join(" ")
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(sources("news.db"), sources(&schema.url));
    let out = gleaner(dir.path(), &["--db", &schema.url, "stats"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains(&POSTS.to_string()),
        "{}",
        stdout(&out)
    );
}

#[test]
fn run_into_postgres_stores_what_sqlite_stores() {
    let Some(schema) = Schema::new("run_into_postgres_stores_what_sqlite_stores") else {
        return;
    };
    let blog = BlogServer::start("Direct Quay", 32, FeedMode::Summary, POSTS, Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &blog);
    run_into(dir.path(), "news.db");
    run_into(dir.path(), &schema.url);
    let articles = |db: &str| {
        let out = gleaner(dir.path(), &["--db", db, "export"]);
        assert_exit(&out, 0);
        let mut rows: Vec<(String, String, String)> = stdout(&out)
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let s = |k: &str| v[k].to_string();
                (s("url"), s("content_hash"), s("entities"))
            })
            .collect();
        rows.sort();
        rows
    };
    let a = articles("news.db");
    assert_eq!(a.len(), POSTS);
    assert_eq!(a, articles(&schema.url));
    // Second runs: PostgreSQL is as incremental as SQLite.
    let on_pg = downloads(&blog, || run_into(dir.path(), &schema.url));
    let on_sqlite = downloads(&blog, || run_into(dir.path(), "news.db"));
    assert_eq!(on_pg, on_sqlite);
    assert!(on_pg.0 <= 1, "posts downloaded again: {on_pg:?}");
}

/// (post pages, feed pages) requested while `f` runs.
fn downloads(blog: &BlogServer, f: impl FnOnce()) -> (usize, usize) {
    let count = || {
        let hits = blog.hits();
        (
            hits.iter().filter(|h| h.is_post()).count(),
            hits.iter().filter(|h| h.is_feed()).count(),
        )
    };
    let before = count();
    f();
    let after = count();
    (after.0 - before.0, after.1 - before.1)
}

/// `gleaner integrity` on both backends: clean after a run (and after a copy), exit 1 with
/// each problem printed after a hand edit, exit 2 for a SQLite file that does not exist
/// (and none created). The SQLite half runs without a PostgreSQL server.
#[test]
fn integrity_reports_damage_with_its_exit_code() {
    let blog = BlogServer::start(
        "Integrity Harbour",
        32,
        FeedMode::Summary,
        30,
        Duration::ZERO,
    );
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &blog);
    let out = gleaner(dir.path(), &["--db", "missing.db", "integrity"]);
    assert_exit(&out, 2);
    assert!(!dir.path().join("missing.db").exists());

    run_into(dir.path(), "news.db");
    let out = gleaner(dir.path(), &["--db", "news.db", "integrity"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("no problems"), "{}", stdout(&out));

    if let Some(schema) = Schema::new("integrity_reports_damage_with_its_exit_code") {
        let out = gleaner(
            dir.path(),
            &["copy", "--from", "news.db", "--to", &schema.url],
        );
        assert_exit(&out, 0);
        let out = gleaner(dir.path(), &["--db", &schema.url, "integrity"]);
        assert_exit(&out, 0);
        admin(
            &schema.base,
            &format!(
                "SET search_path TO {}; UPDATE entities SET mention_count = mention_count + 1
                  WHERE id = (SELECT min(entity_id) FROM mentions)",
                schema.name
            ),
        );
        let out = gleaner(dir.path(), &["--db", &schema.url, "integrity"]);
        assert_exit(&out, 1);
        let text = stdout(&out);
        assert!(text.contains("entity_counters: entity "), "{text}");
        assert!(
            text.contains("1 of 6 checks found problems: entity_counters"),
            "{text}"
        );
    }

    let conn = rusqlite::Connection::open(dir.path().join("news.db")).unwrap();
    conn.execute_batch(
        "UPDATE mentions SET text = 'nonsense'
          WHERE article_id = (SELECT min(article_id) FROM mentions)",
    )
    .unwrap();
    drop(conn);
    let out = gleaner(dir.path(), &["--db", "news.db", "integrity"]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(text.contains("mention_offsets: mention "), "{text}");
    assert!(
        text.contains(" says nonsense but the body holds "),
        "{text}"
    );
    assert!(
        text.contains("1 of 6 checks found problems: mention_offsets"),
        "{text}"
    );
}
