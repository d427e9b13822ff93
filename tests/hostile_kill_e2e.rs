//! End to end: `gleaner run` killed again and again at random moments (SIGKILL, and once
//! SIGINT) while two blogs of 1,100 posts in all are read and change under it (posts edited,
//! posts published), then left to finish: every post is stored exactly once, in its latest
//! version, `gleaner integrity` finds nothing wrong, and no run is left `running`.
//!
//! The kill moments come from a seed printed by the test (set `HOSTILE_KILL_SEED` to replay
//! one); they fall anywhere from before the first feed page to the writer's last commits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod blogsim;
mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use blogsim::{BlogServer, Change, FeedMode};
use chrono::Utc;
use common::hostile::{Moments, gleaner_bin};

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(gleaner_bin());
    cmd.current_dir(dir)
        .args(["--config", "gleaner.toml", "--db", "news.db"])
        .args(args)
        .env_remove("GLEANER_DB")
        .env_remove("GLEANER_CONFIG")
        .env_remove("GLEANER_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the run did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn articles(dir: &Path) -> i64 {
    let Ok(db) = rusqlite::Connection::open(dir.join("news.db")) else {
        return 0;
    };
    db.query_row("SELECT count(*) FROM articles", [], |r| r.get(0))
        .unwrap_or(0)
}

#[test]
fn killed_at_random_moments_then_left_to_finish_stores_every_post_once() {
    let mut moments = Moments::from_env("HOSTILE_KILL_SEED");
    let seed = moments.seed;
    let summary = BlogServer::start(
        "Pier Ledger",
        31,
        FeedMode::Summary,
        800,
        Duration::from_millis(2),
    );
    let full = BlogServer::start(
        "Buoy Log",
        32,
        FeedMode::Full,
        300,
        Duration::from_millis(2),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(
        "[fetch]\nconcurrency = 8\nper_host_per_second = 2000.0\nmax_attempts = 2\n\
         retry_base_delay_ms = 20\n",
    );
    for blog in [&summary, &full] {
        text.push_str(&format!(
            "\n[[sources]]\nurl = \"{}\"\nkind = \"blogger\"\n",
            blog.home()
        ));
    }
    std::fs::write(dir.path().join("gleaner.toml"), text).unwrap();

    let mut edited: Vec<(BlogServer, usize, String)> = Vec::new();
    for round in 0..6 {
        // The blogs change between runs: an edit and a new post on each, now and then.
        if round % 2 == 1 {
            for (blog, n) in [(&summary, 100 * round), (&full, 40 * round)] {
                let line = format!("Update {round}: the pier reopens on Saturday.");
                blog.edit_post(n, &line);
                edited.push((blog.clone(), n, line));
                // Published now, as a post is (its `updated` no older than its `published`).
                let at = Utc::now();
                blog.change(Change::Publish {
                    published: at,
                    updated: at,
                });
            }
        }
        let mut child = command(dir.path(), &["run"]).spawn().unwrap();
        let wait = moments.next_ms(50, 12_000);
        std::thread::sleep(Duration::from_millis(wait));
        let interrupt = round == 3;
        if interrupt {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
        } else {
            let _ = child.kill();
        }
        let status = wait_exit(&mut child);
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        match status.code() {
            // Killed (no code), or finished before the signal came.
            None | Some(0) | Some(1) => {}
            other => panic!("round {round} (after {wait} ms): exit {other:?}\n{err}"),
        }
        println!(
            "round {round}: {} after {wait} ms, {} articles",
            if interrupt { "SIGINT" } else { "SIGKILL" },
            articles(dir.path())
        );
        if interrupt && status.code().is_some() {
            assert!(
                status.code() == Some(0) || err.contains("interrupted") || err.contains("stop"),
                "SIGINT stops the run cleanly: {err}"
            );
        }
    }

    // Left alone, the next runs finish the work; the last one owes nothing.
    let mut last = None;
    for _ in 0..2 {
        let out = command(dir.path(), &["run"])
            .stdout(Stdio::piped())
            .output()
            .unwrap();
        last = out.status.code();
        if last == Some(0) {
            break;
        }
    }
    assert_eq!(last, Some(0), "a run that owes nothing (seed {seed})");

    let db = rusqlite::Connection::open(dir.path().join("news.db")).unwrap();
    let q = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    let posts = (summary.posts().len() + full.posts().len()) as i64;
    assert_eq!(q("SELECT count(*) FROM articles"), posts, "seed {seed}");
    assert_eq!(
        q("SELECT count(DISTINCT blogger_post_id) FROM articles"),
        posts,
        "each post once (seed {seed})"
    );
    for (blog, n, line) in &edited {
        let body: String = db
            .query_row(
                "SELECT body FROM articles WHERE url = ?1",
                [blog.post_url(*n)],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            body.contains(line.as_str()),
            "post {n}'s edit (seed {seed})"
        );
    }
    assert_eq!(q("SELECT count(*) FROM runs WHERE status = 'running'"), 0);
    let integrity = command(dir.path(), &["integrity"])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(
        integrity.status.code(),
        Some(0),
        "gleaner integrity (seed {seed}): {}",
        String::from_utf8_lossy(&integrity.stdout)
    );
}
