//! End to end, the eighth round of hostile sources: three faults the seventh round left, and
//! what an adversarial review found after them. Each test is a source or a server behaving
//! as real ones do, served from 127.0.0.1, with the real binary and a real SQLite file (or a
//! real PostgreSQL server, `GLEANER_TEST_POSTGRES`).
//!
//! `GLEANER_TEST_BIN=/path/to/gleaner` runs these tests against another build (the session's
//! start, to see the faults); by default they run the binary of this tree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::hostile::{
    assert_exit, config, db_number, news_page, output_within, rss_channel, run, sitemap,
    spawn_run_on, stored_articles, text_about,
};
use common::{Response, TestServer, stderr};

// ---------------------------------------------------------------- a post titled "Not Found"

/// A real short post whose title is exactly an error page's ("Not Found": a column, a poem,
/// an album review) and whose text says nothing of a missing page. main took it for a soft
/// 404: never stored, a failure on every run (`partial` for good). A soft 404 that says so
/// ("the page you were looking for could not be found") is still not stored.
#[test]
fn a_short_post_titled_not_found_is_stored() {
    let site = TestServer::start();
    let post = site.url("/columns/not-found.html");
    let gone = site.url("/columns/deleted.html");
    site.set(
        "/columns/not-found.html",
        news_page(
            "Not Found",
            "We searched the harbour for the old bell all winter, and in the spring the divers \
             gave up; the bell is still somewhere under the north quay.",
        ),
    );
    site.set(
        "/columns/deleted.html",
        Response::html(
            "<html><head><title>Not Found</title></head><body><h1>Not Found</h1>\
             <p>Sorry, the page you were looking for could not be found.</p></body></html>",
        ),
    );
    site.set(
        "/sitemap.xml",
        sitemap(&[
            (post.clone(), "2024-03-01T09:00:00Z"),
            (gone.clone(), "2024-03-01T09:00:00Z"),
        ]),
    );
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("sitemap", site.url("/sitemap.xml"))]);
    let out = run(dir.path());
    let rows = stored_articles(dir.path());
    let urls: Vec<&str> = rows.iter().map(|(u, _, _)| u.as_str()).collect();
    assert_eq!(urls, [post.as_str()], "{}", stderr(&out));
    assert_eq!(rows[0].1, "Not Found");
    assert!(rows[0].2.contains("old bell"), "{}", rows[0].2);
}

// ---------------------------------------------------------------- one source, listed twice

/// One sitemap configured five times: the same address again, with `?m=1`, with a trailing
/// `/`, and under `https` (a config grown by hand, or merged from two files). main read it
/// once per entry: every page fetched five times, the `https` and `/` entries failing (run
/// `partial` for good), a source row per spelling. Now the repeats are said and left out:
/// each page fetched once, stored once, counted once.
#[test]
fn one_source_configured_several_ways_is_read_once() {
    const PAGES: usize = 5;
    let site = TestServer::start();
    let mut entries = Vec::new();
    for i in 0..PAGES {
        let path = format!("/news/{i}.html");
        site.set(
            &path,
            news_page(
                &format!("Quay notice {i}"),
                &text_about(&format!("Quay {i}")),
            ),
        );
        entries.push((site.url(&path), "2024-03-01T09:00:00Z"));
    }
    site.set("/sitemap.xml", sitemap(&entries));
    let dir = tempfile::tempdir().unwrap();
    let first = site.url("/sitemap.xml");
    config(
        dir.path(),
        "",
        &[
            ("sitemap", first.clone()),
            ("sitemap", first.clone()),
            ("sitemap", site.url("/sitemap.xml?m=1")),
            ("sitemap", site.url("/sitemap.xml/")),
            ("sitemap", first.replacen("http://", "https://", 1)),
        ],
    );
    let out = run(dir.path());
    let err = stderr(&out);
    assert_exit(&out, 0, "run");
    assert!(err.contains("repeats an earlier one"), "{err}");
    for i in 0..PAGES {
        assert_eq!(site.hits(&format!("/news/{i}.html")), 1, "page {i}\n{err}");
    }
    assert_eq!(site.hits("/sitemap.xml"), 1, "{err}");
    assert_eq!(stored_articles(dir.path()).len(), PAGES);
    assert_eq!(db_number(dir.path(), "SELECT count(*) FROM sources"), 1);
    let pages = i64::try_from(PAGES).unwrap();
    assert_eq!(
        db_number(
            dir.path(),
            "SELECT count(*) FROM runs WHERE status = 'ok' AND discovered = 5 AND fetched = 5 \
             AND stored = 5 AND failed = 0"
        ),
        1,
        "one run, counted once ({pages} pages)\n{err}"
    );
}

/// A site read through its feed and its sitemap, both listing the same posts (a common
/// config: the feed for news, the sitemap for what the feed no longer lists). main fetched
/// every page once per source in each run (`discovered=8 fetched=8 unchanged=4` for four
/// posts): twice the requests the site is asked for. Now a page queued by one source in a
/// run is not queued again by another: fetched once, stored once, counted once.
#[test]
fn a_page_listed_by_two_sources_is_fetched_once_a_run() {
    const PAGES: usize = 4;
    let site = TestServer::start();
    let mut entries = Vec::new();
    let mut items = String::new();
    for i in 0..PAGES {
        let path = format!("/news/{i}.html");
        site.set(
            &path,
            news_page(
                &format!("Dock notice {i}"),
                &text_about(&format!("Dock {i}")),
            ),
        );
        entries.push((site.url(&path), "2024-03-01T09:00:00Z"));
        items.push_str(&summary_item(i, &site.url(&path)));
    }
    site.set("/sitemap.xml", sitemap(&entries));
    site.set("/feed.xml", rss_channel(&items, None));
    let dir = tempfile::tempdir().unwrap();
    config(
        dir.path(),
        "",
        &[
            ("feed", site.url("/feed.xml")),
            ("sitemap", site.url("/sitemap.xml")),
        ],
    );
    let out = run(dir.path());
    let err = stderr(&out);
    assert_exit(&out, 0, "run");
    for i in 0..PAGES {
        assert_eq!(site.hits(&format!("/news/{i}.html")), 1, "page {i}\n{err}");
    }
    assert_eq!(stored_articles(dir.path()).len(), PAGES);
    assert_eq!(
        db_number(
            dir.path(),
            "SELECT count(*) FROM runs WHERE status = 'ok' AND discovered = 4 AND fetched = 4 \
             AND stored = 4 AND unchanged = 0 AND failed = 0"
        ),
        1,
        "{err}"
    );
}

// ---------------------------------------------------------------- PostgreSQL: every connection lost

/// An RSS item linking `link`, with a summary only (its page is fetched).
fn summary_item(i: usize, link: &str) -> String {
    format!(
        "<item><title>Harbour notice number {i}</title><link>{link}</link>\
         <guid>{link}</guid><pubDate>Fri, 01 Mar 2024 09:{:02}:00 GMT</pubDate>\
         <description>Notice {i}.</description></item>",
        59 - i % 60
    )
}

/// Ends every connection of the run named `app` on the server at `base` (as an
/// administrator's `pg_terminate_backend`, a failover or a restart does): how many.
fn end_connections(base: &str, app: &str) -> i64 {
    common::hostile::pg_number(
        base,
        None,
        &format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
              WHERE application_name = '{app}' AND pid <> pg_backend_pid()"
        ),
    )
}

/// Every connection of a run ended by the server twice: while its feed is still being read
/// (the writer's, the reader's, the lease heartbeat's, the shared robots.txt and request
/// turns'), and again while it waits, its own pages done, for a page another worker holds
/// (a worker that died: its lease runs out a few seconds later). main connected again for
/// the writer's writes only: the wait's next lease call failed, "taking over work: connection
/// closed", and the run ended `failed` (exit 1) with that page never fetched. Now every call
/// connects again: the run takes the page over once its lease runs out, stores it, and ends
/// `ok` with every post stored once.
#[test]
fn postgres_run_survives_losing_every_connection_twice() {
    const FEED_PAGES: usize = 6;
    const PER_PAGE: usize = 6;
    let Some(pg) = common::hostile::PgSchema::fresh("gleaner_round8_conns") else {
        return;
    };
    let base = std::env::var(common::hostile::PG_ENV).unwrap();
    let site = TestServer::start();
    for p in 0..FEED_PAGES {
        let mut items = String::new();
        for j in 0..PER_PAGE {
            let i = p * PER_PAGE + j;
            let path = format!("/notices/{i}.html");
            site.set(
                &path,
                news_page(
                    &format!("Harbour notice number {i}"),
                    &text_about(&format!("Notice {i}")),
                ),
            );
            items.push_str(&summary_item(i, &site.url(&path)));
        }
        let next = (p + 1 < FEED_PAGES).then(|| site.url(&format!("/feed.xml?page={}", p + 1)));
        let route = if p == 0 {
            "/feed.xml".to_string()
        } else {
            format!("/feed.xml?page={p}")
        };
        site.set(&route, rss_channel(&items, next.as_deref()));
    }
    // The page a dead worker holds.
    site.set(
        "/notices/held.html",
        news_page("Harbour notice held", &text_about("The held notice")),
    );
    let held = site.url("/notices/held.html");
    let dir = tempfile::tempdir().unwrap();
    // Ten requests a second: the feed's pages are read over a few seconds, between its posts.
    config(
        dir.path(),
        "per_host_per_second = 10.0\n",
        &[("feed", site.url("/feed.xml"))],
    );
    // Every connection of this run carries a name of its own (other tests share the server).
    let app = format!("gleaner_round8_{}", std::process::id());
    let db = format!("{}&application_name={app}", pg.url);
    let child = spawn_run_on(dir.path(), &db, &[("GLEANER_LEASE_SECS", "600")]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let waiting = || {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never got there"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    // The dead worker's lease: it runs out 12 s from now.
    while pg.number("SELECT count(to_regclass('leases'))") == 0 {
        waiting();
    }
    pg.number(&format!(
        "INSERT INTO leases (key, holder, expires_at) \
         VALUES ('page:{held}', 'a-dead-worker', clock_timestamp() + interval '12 seconds')"
    ));
    // First: once the feed's second page is read and its last is not.
    let last_page = format!("/feed.xml?page={}", FEED_PAGES - 1);
    while !site.all_hits().iter().any(|h| h == "/feed.xml?page=1") {
        waiting();
    }
    assert!(
        !site.all_hits().contains(&last_page),
        "the feed was read before its connections could be ended"
    );
    let first = end_connections(&base, &app);
    // Then: once the run waits for the held page (asking how much work is left).
    let posts = i64::try_from(FEED_PAGES * PER_PAGE).unwrap();
    loop {
        waiting();
        let asking = common::hostile::pg_number(
            &base,
            None,
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}' \
                   AND query ILIKE '%FROM leases WHERE NOT done%'"
            ),
        );
        if asking > 0 && pg.number("SELECT count(*) FROM articles") == posts {
            break;
        }
    }
    let second = end_connections(&base, &app);
    let out = output_within(child, 120, "the run");
    let err = stderr(&out);
    assert!(
        first >= 3 && second >= 1,
        "{first} and {second} connections ended\n{err}"
    );
    assert_exit(&out, 0, "run");
    assert_eq!(
        pg.number("SELECT count(*) FROM articles"),
        posts + 1,
        "{err}"
    );
    assert_eq!(
        pg.number("SELECT count(DISTINCT url) FROM articles"),
        posts + 1
    );
    assert_eq!(
        pg.number(&format!(
            "SELECT count(*) FROM articles WHERE url = '{held}'"
        )),
        1,
        "{err}"
    );
    assert_eq!(
        pg.number("SELECT count(*) FROM runs WHERE status = 'ok' AND failed = 0"),
        1,
        "{err}"
    );
    assert_eq!(
        pg.number("SELECT count(*) FROM leases WHERE NOT done"),
        0,
        "{err}"
    );
}

// ---------------------------------------------------------------- absurd settings

/// Settings no one means (a typo, a value pasted into the wrong key, a config written by a
/// script): 4,294,967,295 attempts per page, or a `Retry-After` honoured up to 2^62 s, with a
/// page that answers 503 (and asks for 10^12 s). main took them: the run never ended, and held
/// the lock every later cron run needs (each exited 3). Now the config is refused at once,
/// naming the key (exit 2), before anything is fetched or recorded.
#[test]
fn absurd_retry_settings_are_refused_not_waited_out() {
    let site = TestServer::start();
    site.set(
        "/news/ok.html",
        news_page("Quay open", &text_about("The quay")),
    );
    site.set(
        "/news/busy.html",
        Response::with_type(503, "text/html", "busy"),
    );
    let mut wait = Response::with_type(503, "text/html", "busy");
    wait.headers
        .push(("Retry-After".into(), "1000000000000".into()));
    site.set("/news/wait.html", wait);
    for page in ["busy", "wait"] {
        site.set(
            &format!("/sitemap-{page}.xml"),
            sitemap(&[
                (site.url("/news/ok.html"), "2024-03-01T09:00:00Z"),
                (
                    site.url(&format!("/news/{page}.html")),
                    "2024-03-01T09:00:00Z",
                ),
            ]),
        );
    }
    for (fetch, page, key) in [
        (
            "max_attempts = 4294967295\nretry_max_delay_secs = 1\n",
            "busy",
            "max_attempts",
        ),
        (
            "max_attempts = 2\nmax_retry_after_secs = 4611686018427387904\n",
            "wait",
            "max_retry_after_secs",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        config(
            dir.path(),
            fetch,
            &[("sitemap", site.url(&format!("/sitemap-{page}.xml")))],
        );
        let child = spawn_run_on(dir.path(), "news.db", &[]);
        let out = output_within(child, 20, key);
        assert_exit(&out, 2, key);
        assert!(stderr(&out).contains(key), "{}", stderr(&out));
    }
}
