//! End to end: `gleaner run` killed with SIGKILL part-way leaves a consistent database that
//! the next run completes; SIGTERM stops it gracefully (in-flight work committed, the run
//! recorded as interrupted, a non-zero exit).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod blogsim;
mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use blogsim::{BlogServer, FeedMode};
use common::hostile::spawn_run;
use common::{assert_exit, gleaner};

const FULL_POSTS: usize = 300;
const SLOW_POSTS: usize = 200;

fn setup() -> (BlogServer, BlogServer, tempfile::TempDir) {
    let full = BlogServer::start(
        "Harbour Notes",
        3,
        FeedMode::Full,
        FULL_POSTS,
        Duration::from_millis(40),
    );
    let slow = BlogServer::start(
        "Quay Reports",
        4,
        FeedMode::Summary,
        SLOW_POSTS,
        Duration::from_millis(40),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(
        "[fetch]\nconcurrency = 2\nper_host_per_second = 2000.0\nmax_attempts = 2\nretry_base_delay_ms = 20\n",
    );
    for (blog, label) in [(&full, "harbour"), (&slow, "quay")] {
        text.push_str(&format!(
            "\n[[sources]]\nurl = \"{}\"\nkind = \"blogger\"\nlabels = [\"{label}\"]\n",
            blog.home()
        ));
    }
    std::fs::write(dir.path().join("gleaner.toml"), text).unwrap();
    (full, slow, dir)
}

fn articles(dir: &Path) -> i64 {
    let path = dir.join("news.db");
    if !path.exists() {
        return 0;
    }
    let Ok(db) = rusqlite::Connection::open(path) else {
        return 0;
    };
    db.busy_timeout(Duration::from_secs(5)).ok();
    db.query_row("SELECT count(*) FROM articles", [], |r| r.get(0))
        .unwrap_or(0)
}

/// Wait until at least `n` articles are committed (the run still going).
fn wait_for_articles(dir: &Path, child: &mut Child, n: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let count = articles(dir);
        if count >= n {
            return count;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before {n} articles were stored"
        );
        assert!(Instant::now() < deadline, "no progress: {count} articles");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the run did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Checks that hold whatever happened: the file is sound, nothing twice, every article whole.
fn assert_consistent(dir: &Path) {
    let db = rusqlite::Connection::open(dir.join("news.db")).unwrap();
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    db.execute(
        "INSERT INTO articles_fts (articles_fts) VALUES ('integrity-check')",
        [],
    )
    .expect("the full-text index matches the articles");
    let q = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        q(
            "SELECT count(*) FROM (SELECT blogger_post_id FROM articles GROUP BY blogger_post_id HAVING count(*) > 1)"
        ),
        0,
        "no post twice"
    );
    // Every post has two labels of its own and its source's.
    assert_eq!(
        q(
            "SELECT count(*) FROM articles a WHERE (SELECT count(*) FROM article_labels l WHERE l.article_id = a.id) <> 3"
        ),
        0,
        "labels written with their article"
    );
    // Every post names a person, so every whole article has mentions.
    assert_eq!(
        q(
            "SELECT count(*) FROM articles a WHERE NOT EXISTS (SELECT 1 FROM mentions m WHERE m.article_id = a.id)"
        ),
        0,
        "mentions written with their article"
    );
    assert_eq!(q("SELECT count(*) FROM pragma_foreign_key_check"), 0);
}

#[test]
fn kill_9_part_way_then_run_again_completes_a_consistent_database() {
    let (_full, _slow, dir) = setup();
    let total = (FULL_POSTS + SLOW_POSTS) as i64;
    let mut last = 0;
    for round in 0..2 {
        let mut child = spawn_run(dir.path());
        let seen = wait_for_articles(dir.path(), &mut child, last + 30);
        child.kill().unwrap(); // SIGKILL
        let status = wait_exit(&mut child);
        assert!(status.code().is_none(), "round {round}: killed by a signal");
        let after = articles(dir.path());
        assert!(
            after >= seen && after < total,
            "round {round}: {after} articles"
        );
        assert_consistent(dir.path());
        last = after;
    }
    let out = gleaner(
        dir.path(),
        &["--config", "gleaner.toml", "--db", "news.db", "run"],
    );
    assert_exit(&out, 0);
    assert_consistent(dir.path());
    assert_eq!(articles(dir.path()), total, "every post present");
    let db = rusqlite::Connection::open(dir.path().join("news.db")).unwrap();
    let runs: Vec<String> = db
        .prepare("SELECT status FROM runs ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(runs, ["interrupted", "interrupted", "ok"]);
}

#[test]
fn sigterm_finishes_in_flight_work_records_interrupted_and_exits_non_zero() {
    let (_full, _slow, dir) = setup();
    let total = (FULL_POSTS + SLOW_POSTS) as i64;
    let mut child = spawn_run(dir.path());
    wait_for_articles(dir.path(), &mut child, 20);
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = wait_exit(&mut child);
    assert_eq!(status.code(), Some(1), "interrupted is not success");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("stop requested"), "{err}");
    assert!(err.contains("run finished"), "{err}");
    assert_consistent(dir.path());
    let stored = articles(dir.path());
    assert!(stored < total, "stopped part-way: {stored}");
    let db = rusqlite::Connection::open(dir.path().join("news.db")).unwrap();
    let (status, finished, stored_count): (String, Option<String>, i64) = db
        .query_row(
            "SELECT status, finished_at, stored FROM runs ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(status, "interrupted");
    assert!(finished.is_some());
    assert_eq!(
        stored_count, stored,
        "the run row counts what was committed"
    );
    // The sources were not marked read, so the next run takes in the rest.
    let out = gleaner(
        dir.path(),
        &["--config", "gleaner.toml", "--db", "news.db", "run"],
    );
    assert_exit(&out, 0);
    assert_eq!(articles(dir.path()), total);
    assert_consistent(dir.path());
}

#[test]
fn max_duration_ends_the_run_like_a_stop_request() {
    let (_full, _slow, dir) = setup();
    let started = Instant::now();
    let out = gleaner(
        dir.path(),
        &[
            "--config",
            "gleaner.toml",
            "--db",
            "news.db",
            "run",
            "--max-duration",
            "1s",
        ],
    );
    assert_exit(&out, 1);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert!(
        common::stderr(&out).contains("--max-duration reached"),
        "{}",
        common::stderr(&out)
    );
    assert_consistent(dir.path());
    assert!(articles(dir.path()) < (FULL_POSTS + SLOW_POSTS) as i64);
    let db = rusqlite::Connection::open(dir.path().join("news.db")).unwrap();
    let status: String = db
        .query_row(
            "SELECT status FROM runs ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(status, "interrupted");
}

/// A stop does not wait out a listing's retries: a feed that answers 503 with a long
/// Retry-After holds the run for at most a moment after SIGTERM, not for minutes.
#[test]
fn sigterm_during_a_long_retry_wait_on_a_feed_stops_at_once() {
    let blog = BlogServer::start("Slow Tides", 6, FeedMode::Full, 10, Duration::ZERO);
    blog.fault_feed_page(1, long_retry_after());
    let elapsed = stop_while_waiting(&blog, |h| h.is_feed());
    assert!(
        elapsed < Duration::from_secs(10),
        "stopped after {elapsed:?}"
    );
}

/// The same for a page fetch: in-flight pages get a short grace (5 s), then the run stops;
/// nothing is recorded for the page given up, so the next run fetches it.
#[test]
fn sigterm_during_a_long_retry_wait_on_a_page_stops_after_a_short_grace() {
    let blog = BlogServer::start("Slow Quays", 7, FeedMode::Summary, 3, Duration::ZERO);
    blog.fault_post(0, long_retry_after());
    let page = blog.post(0).path;
    let elapsed = stop_while_waiting(&blog, |h| h.target == page);
    assert!(
        elapsed < Duration::from_secs(15),
        "stopped after {elapsed:?}"
    );
}

fn long_retry_after() -> blogsim::Fault {
    blogsim::Fault::Fail {
        status: 503,
        times: u32::MAX,
        retry_after: Some(100),
    }
}

/// Runs `gleaner run` on `blog`, sends SIGTERM once a request `asked` matches has been
/// answered (the run then waits out a 100 s Retry-After), and returns how long the run took to
/// stop; checks the run is recorded as interrupted with a non-zero exit.
fn stop_while_waiting(blog: &BlogServer, asked: impl Fn(&blogsim::Hit) -> bool) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gleaner.toml"),
        format!(
            "[fetch]\nmax_attempts = 4\nmax_retry_after_secs = 120\nper_host_per_second = 100.0\n\n\
             [[sources]]\nurl = \"{}\"\nkind = \"blogger\"\n",
            blog.home()
        ),
    )
    .unwrap();
    let mut child = spawn_run(dir.path());
    let started = Instant::now();
    while !blog.hits().iter().any(&asked) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never asked for"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let stopped = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = wait_exit(&mut child);
    let elapsed = stopped.elapsed();
    assert!(!status.success());
    let db = rusqlite::Connection::open(dir.path().join("news.db")).unwrap();
    let run: String = db
        .query_row(
            "SELECT status FROM runs ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(run, "interrupted");
    elapsed
}

#[test]
fn a_second_run_while_the_first_is_going_exits_3_at_once_and_changes_nothing() {
    let (_full, _slow, dir) = setup();
    let mut first = spawn_run(dir.path());
    wait_for_articles(dir.path(), &mut first, 1);
    let started = Instant::now();
    let second = gleaner(
        dir.path(),
        &["--config", "gleaner.toml", "--db", "news.db", "run"],
    );
    assert_exit(&second, 3);
    assert!(
        common::stderr(&second).contains("another gleaner run"),
        "{}",
        common::stderr(&second)
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(first.try_wait().unwrap().is_none(), "the first run goes on");
    let status = wait_exit(&mut first);
    assert_eq!(status.code(), Some(0));
    assert_eq!(articles(dir.path()), (FULL_POSTS + SLOW_POSTS) as i64);
    let db = rusqlite::Connection::open(dir.path().join("news.db")).unwrap();
    let runs: i64 = db
        .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(runs, 1, "the refused run left no trace");
    assert_consistent(dir.path());
}

/// Issue 16 item 20: a Dynamic Views page's post is read from its feed entry; that fetch,
/// like a page fetch, gets a short grace after a stop request, not a 100 s Retry-After.
#[test]
fn sigterm_while_a_dynamic_views_post_feed_waits_stops_after_a_short_grace() {
    const PATH: &str = "/2024/03/wanderung-am-bodensee.html";
    const FEED: &str = "/feeds/posts/default/2718281828459045235";
    let server = common::TestServer::start();
    let origin = server.url("");
    let origin = origin.trim_end_matches('/').to_string();
    server.set(
        PATH,
        common::Response::html(
            common::fixture("blogger/dynamic_views_post.html").replace("@ORIGIN@", &origin),
        ),
    );
    let mut busy = common::Response::with_type(503, "text/plain", "busy");
    busy.headers.push(("Retry-After".into(), "100".into()));
    server.set(FEED, busy);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gleaner.toml"),
        "[fetch]\nmax_attempts = 4\nmax_retry_after_secs = 120\n",
    )
    .unwrap();
    let url = server.url(PATH);
    // The www.blogger.com fallback would go to a closed local port (a proxy that is not
    // there): the test never leaves the machine.
    let mut child = Command::new(env!("CARGO_BIN_EXE_gleaner"))
        .current_dir(dir.path())
        .args([
            "--config",
            "gleaner.toml",
            "--db",
            "news.db",
            "scrape",
            &url,
        ])
        .env_remove("GLEANER_DB")
        .env_remove("GLEANER_CONFIG")
        .env_remove("GLEANER_LOG")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while server.hits(FEED) == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "never asked");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let stopped = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = wait_exit(&mut child);
    let elapsed = stopped.elapsed();
    assert!(
        elapsed < Duration::from_secs(15),
        "stopped after {elapsed:?}"
    );
    assert_eq!(status.code(), Some(1), "interrupted");
    // Nothing recorded for the page given up: the next scrape fetches it as new.
    let db = rusqlite::Connection::open(dir.path().join("news.db")).unwrap();
    let rows: i64 = db
        .query_row(
            "SELECT count(*) FROM fetch_state WHERE url = ?1",
            [&url],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 0);
}
