//! End to end, the third round of hostile sources: faults found by attacking the landed main
//! after the first two rounds (`hostile_e2e.rs`, `hostile_kill_e2e.rs`). Each test is a
//! source, a server or a database that behaves as real ones do, served from 127.0.0.1 with the
//! real binary and a real SQLite file, and the promise it tests: nothing listed is lost while
//! the run says ok, nothing of a broken answer is stored as a post, and a run's exit code says
//! what happened.
//!
//! `GLEANER_TEST_BIN=/path/to/gleaner` runs these tests against another build (the session's
//! start, to see the faults); by default they run the binary of this tree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod blogsim;
mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use blogsim::{BlogServer, FeedMode};
use common::hostile::{
    assert_exit, assert_says, config, db, gleaner_bin, news_page, rss_channel, run, sitemap,
    stored_urls,
};
use common::{Response, TestServer, stderr};

fn column_of(dir: &Path, column: &str, url: &str) -> Option<String> {
    db(dir)
        .query_row(
            &format!("SELECT {column} FROM articles WHERE url = ?1"),
            [url],
            |r| r.get(0),
        )
        .ok()
}

/// A server whose ETag never changes (a template version, a cache keyed on the URL) and
/// that answers 304 to it: the sitemap says the page changed, the page says it did not.
/// main sent the old ETag, took the 304 as "unchanged", said ok, and the edit was never
/// stored. A listing that dates the page after it was last fetched now gets it whole.
#[test]
fn an_edit_behind_an_etag_that_never_changes_is_stored() {
    let site = TestServer::start();
    site.honour_etags();
    let a = site.url("/news/fees.html");
    let page = |lead: &str| {
        let mut r = news_page("Harbour fees", lead);
        r.headers.push(("ETag".into(), "\"v1\"".into()));
        r
    };
    site.set(
        "/sitemap.xml",
        sitemap(&[(a.clone(), "2024-03-01T09:00:00Z")]),
    );
    site.set("/news/fees.html", page("Fees rise by four per cent."));
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("sitemap", site.url("/sitemap.xml"))]);
    assert_exit(&run(dir.path()), 0, "first run");
    assert!(
        column_of(dir.path(), "body", &a)
            .unwrap()
            .contains("four per cent")
    );

    // Edited after that fetch: the sitemap dates it so, the ETag stays.
    std::thread::sleep(Duration::from_millis(1100));
    let lastmod = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    site.set("/sitemap.xml", sitemap(&[(a.clone(), lastmod.as_str())]));
    site.set(
        "/news/fees.html",
        page("Correction: fees rise by fourteen per cent."),
    );
    let second = run(dir.path());
    assert_exit(&second, 0, "second run");
    let body = column_of(dir.path(), "body", &a).unwrap();
    assert!(
        body.contains("fourteen per cent"),
        "the edit: {body}\n{}",
        stderr(&second)
    );

    // Unchanged since: the conditional GET again (a 304, nothing downloaded).
    let third = run(dir.path());
    assert_exit(&third, 0, "third run");
    assert_says(&third, "not_modified=1");
}

/// A blog whose robots.txt keeps crawlers out of `/feeds/` is read through its sitemaps,
/// the ones robots.txt names included. A `Sitemap:` line left from an old theme answers 404:
/// main failed the source on it, so every run ended `partial` (exit 1) for good, with every
/// post stored. A named sitemap that is not there is said, and owed nothing.
#[test]
fn a_stale_sitemap_line_in_robots_txt_does_not_make_every_run_partial() {
    let blog = BlogServer::start("Quay Notes", 46, FeedMode::Summary, 4, Duration::ZERO);
    let posts = blog.posts();
    let entries: String = posts
        .iter()
        .map(|p| {
            format!(
                "<url><loc>{}</loc><lastmod>{}</lastmod></url>",
                blog.url(&p.path),
                blogsim::stamp(p.updated)
            )
        })
        .collect();
    blog.set_route(
        "/sitemap.xml",
        "application/xml",
        format!(
            "<?xml version='1.0' encoding='UTF-8'?><urlset \
             xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{entries}</urlset>"
        ),
    );
    blog.set_route(
        "/robots.txt",
        "text/plain",
        format!(
            "User-agent: *\nDisallow: /feeds/\nAllow: /\n\nSitemap: {}\nSitemap: {}\n",
            blog.url("/sitemap.xml"),
            blog.url("/old-theme-sitemap.xml"),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("blogger", blog.home())]);
    for n in 1..=2 {
        let out = run(dir.path());
        assert_eq!(stored_urls(dir.path()).len(), 4, "{}", stderr(&out));
        assert_exit(&out, 0, &format!("run {n}"));
        assert_says(&out, "old-theme-sitemap.xml");
    }
}

/// An RSS feed that writes HTML's names for characters (`&nbsp;`, `&rsquo;`, `&eacute;`),
/// which XML does not define, in its titles (a CMS that escapes titles for HTML): main
/// stored "Harbour&nbsp;fees" literally. They are the characters they name.
#[test]
fn html_entity_names_in_feed_titles_are_their_characters() {
    let site = TestServer::start();
    let a = site.url("/news/caf.html");
    site.set(
        "/rss.xml",
        Response::with_type(
            200,
            "application/rss+xml",
            format!(
                "<?xml version='1.0' encoding='UTF-8'?><rss version='2.0' \
                 xmlns:content='http://purl.org/rss/1.0/modules/content/'><channel>\
                 <title>Harbour&nbsp;Post</title><link>{root}</link><description>News</description>\
                 <item><title>Caf&eacute;&nbsp;owners&rsquo; fees &ndash; a review</title>\
                 <link>{a}</link><guid>{a}</guid><pubDate>Mon, 13 Mar 2023 09:00:00 +0000</pubDate>\
                 <content:encoded><![CDATA[<p>Caf\u{e9} owners on the quay pay the new harbour \
                 fees from April, the port office said on Monday.</p><p>The fees were set \
                 after a review of the costs of the quay's upkeep over the last five \
                 years.</p>]]></content:encoded></item></channel></rss>",
                root = site.url("/"),
            ),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", site.url("/rss.xml"))]);
    let out = run(dir.path());
    assert_exit(&out, 0, "run");
    let title = column_of(dir.path(), "title", &a);
    assert_eq!(
        title.as_deref(),
        Some("Caf\u{e9} owners\u{2019} fees \u{2013} a review"),
        "{}",
        stderr(&out)
    );
}

/// A post deleted at the source after it was stored answers 410 (or 404) whenever it is
/// looked at again (its sitemap still lists it with a new date, or its retry comes due):
/// main failed it each time, so the source's runs ended `partial` for good. The stored
/// article is kept; the page is said to be gone, looked at again later, and owed nothing.
#[test]
fn a_stored_post_deleted_at_the_source_is_kept_and_the_run_stays_ok() {
    let site = TestServer::start();
    let a = site.url("/news/gone.html");
    let b = site.url("/news/new.html");
    site.set(
        "/sitemap.xml",
        sitemap(&[(a.clone(), "2024-03-01T09:00:00Z")]),
    );
    site.set(
        "/news/gone.html",
        news_page("Ferry timetable", "The winter ferry timetable starts."),
    );
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("sitemap", site.url("/sitemap.xml"))]);
    assert_exit(&run(dir.path()), 0, "first run");

    let lastmod = (chrono::Utc::now() - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    site.set(
        "/sitemap.xml",
        sitemap(&[(a.clone(), lastmod.as_str()), (b.clone(), lastmod.as_str())]),
    );
    site.set(
        "/news/gone.html",
        Response::with_type(410, "text/html", "<h1>Gone</h1>"),
    );
    site.set(
        "/news/new.html",
        news_page("Pilot boats", "Two pilot boats were renamed."),
    );
    let second = run(dir.path());
    assert_exit(&second, 0, "second run");
    assert_says(&second, "gone at the source");
    assert_eq!(stored_urls(dir.path()), [a.clone(), b.clone()]);
    // Its retry comes due: still gone, still kept, still ok.
    db(dir.path())
        .execute(
            "UPDATE fetch_state SET next_retry_at = '2000-01-01T00:00:00Z' WHERE url = ?1",
            [&a],
        )
        .unwrap();
    let third = run(dir.path());
    assert_exit(&third, 0, "third run");
    assert_eq!(site.hits("/news/gone.html"), 3, "looked at again when due");
    assert_eq!(stored_urls(dir.path()), [a, b]);
}

/// Another process holds the database locked past the busy timeout when a run starts (a
/// long write, a backup, an `sqlite3` shell left in a transaction): nothing can be fetched
/// or stored. main exited 1, "some items failed, the rest stored"; it is exit 3 now, the
/// code for "another holds the lock, the next run tries again", and nothing is half done.
#[test]
fn a_database_locked_by_another_process_at_start_is_exit_3() {
    let site = TestServer::start();
    let a = site.url("/news/fees.html");
    site.set(
        "/sitemap.xml",
        sitemap(&[(a.clone(), "2024-03-01T09:00:00Z")]),
    );
    site.set("/news/fees.html", news_page("Harbour fees", "Fees rise."));
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("sitemap", site.url("/sitemap.xml"))]);
    assert_exit(&run(dir.path()), 0, "first run");
    let hits = site.all_hits().len();

    let holder = db(dir.path());
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let started = Instant::now();
    let out = run(dir.path());
    let took = started.elapsed();
    holder.execute_batch("ROLLBACK").unwrap();
    assert_exit(&out, 3, "a run on a locked database");
    assert_says(&out, "locked");
    assert!(took < Duration::from_secs(60), "gave up in {took:?}");
    assert_eq!(site.all_hits().len(), hits, "nothing fetched");
    let runs: i64 = db(dir.path())
        .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(runs, 1, "no run recorded");
    assert_exit(&run(dir.path()), 0, "the next run");
}

/// A database the run cannot write (a file owned by another user, a read-only mount or
/// bind): the run says so and exits non-zero at once, fetching nothing and recording
/// nothing; it never says ok. (Tests run as root, whom permissions do not stop: the run is
/// made as `nobody` with `setpriv`; skipped where that is not possible.)
#[test]
fn a_read_only_database_fails_loudly_and_changes_nothing() {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if !root || Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: needs root and setpriv to run as another user");
        return;
    }
    let site = TestServer::start();
    let a = site.url("/news/fees.html");
    site.set(
        "/sitemap.xml",
        sitemap(&[(a.clone(), "2024-03-01T09:00:00Z")]),
    );
    site.set("/news/fees.html", news_page("Harbour fees", "Fees rise."));
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("sitemap", site.url("/sitemap.xml"))]);
    assert_exit(&run(dir.path()), 0, "first run");
    site.set(
        "/news/fees.html",
        news_page("Harbour fees", "Fees rise again."),
    );
    let before = std::fs::read(dir.path().join("news.db")).unwrap();
    let hits = site.all_hits().len();
    // The directory is the user's (lock file, WAL), the database is not.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::remove_file(dir.path().join("news.db.lock")).ok();
    for f in ["news.db", "gleaner.toml"] {
        std::fs::set_permissions(dir.path().join(f), std::fs::Permissions::from_mode(0o644))
            .unwrap();
    }
    let bin = std::path::PathBuf::from(gleaner_bin());
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(&bin)
        .args(["--config", "gleaner.toml", "--db", "news.db", "run"])
        .current_dir(dir.path())
        .env_remove("GLEANER_DB")
        .env_remove("GLEANER_CONFIG")
        .env_remove("GLEANER_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    if stderr(&out).contains("Permission denied") && stderr(&out).contains("gleaner.toml") {
        eprintln!("skipped: nobody cannot read the test directory");
        return;
    }
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_says(&out, "readonly");
    assert_eq!(site.all_hits().len(), hits, "nothing fetched");
    assert_eq!(
        std::fs::read(dir.path().join("news.db")).unwrap(),
        before,
        "the database is untouched"
    );
}

/// A server that sends a post's bytes under `text/html` when they are not text: an image
/// behind a rewrite rule, or a page compressed on disk sent without its `Content-Encoding`.
/// main decoded them as text and stored an article of mojibake, said ok, and kept the
/// page's validators, so a 304 kept the garbage for good. It is a failure to try again.
#[test]
fn a_binary_body_under_a_text_type_is_not_stored_as_an_article() {
    let site = TestServer::start();
    let a = site.url("/news/fees.html");
    let b = site.url("/news/cranes.html");
    site.set(
        "/sitemap.xml",
        sitemap(&[
            (a.clone(), "2024-03-01T09:00:00Z"),
            (b.clone(), "2024-03-01T09:00:00Z"),
        ]),
    );
    // Bytes as compressed data has them: every value about as often.
    let mut x: u32 = 2_463_534_242;
    let noise: Vec<u8> = (0..20_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect();
    let mut binary = Response::with_type(200, "text/html; charset=utf-8", noise);
    binary.headers.push(("ETag".into(), "\"z\"".into()));
    site.set("/news/fees.html", binary);
    site.set("/news/cranes.html", news_page("Four new cranes", "Cranes."));
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("sitemap", site.url("/sitemap.xml"))]);
    let out = run(dir.path());
    assert_exit(&out, 1, "a page that could not be read");
    assert_says(&out, "binary data");
    assert_eq!(stored_urls(dir.path()), std::slice::from_ref(&b));

    // Served right later: stored then.
    site.set(
        "/news/fees.html",
        news_page("Harbour fees", "Fees rise by four per cent."),
    );
    db(dir.path())
        .execute(
            "UPDATE fetch_state SET next_retry_at = '2000-01-01T00:00:00Z' WHERE url = ?1",
            [&a],
        )
        .unwrap();
    let second = run(dir.path());
    assert_exit(&second, 0, "second run");
    assert_eq!(stored_urls(dir.path()), [b, a]);
}

/// An RSS feed page with full-content items (link, title) and a `next` link.
fn rss_page(items: &[(String, String)], next: Option<String>) -> Response {
    let items: String = items
        .iter()
        .map(|(link, title)| {
            format!(
                "<item><title>{title}</title><link>{link}</link><guid>{link}</guid>\
                 <pubDate>Mon, 13 Mar 2023 09:00:00 +0000</pubDate><content:encoded><![CDATA[\
                 <p>{title}: the harbour office said so on Monday, and the port's board \
                 agreed.</p><p>Shipping lines were told of it in a letter, and most said they \
                 expected little effect on their schedules.</p>]]></content:encoded></item>"
            )
        })
        .collect();
    rss_channel(&items, next.as_deref())
}

/// A feed whose `next` links go on and on, every page with items never seen (a generator,
/// an archive of a hundred thousand posts): main followed them up to 10,000 pages in one
/// run, fetching every item, so one source held a cron run for a day. At most 100 pages
/// with something new are read a run; the next run reads the top of the feed, then goes
/// on from where the last stopped, and nothing listed is passed over.
#[test]
fn a_feed_that_pages_on_and_on_is_read_a_hundred_pages_a_run() {
    let site = TestServer::start();
    let pages = 130;
    let page_url = |n: usize| {
        if n == 1 {
            site.url("/feed.xml")
        } else {
            site.url(&format!("/feed.xml?page={n}"))
        }
    };
    for n in 1..=pages {
        let items: Vec<(String, String)> = (0..2)
            .map(|i| {
                (
                    site.url(&format!("/news/{n}-{i}.html")),
                    format!("Harbour notice {n}-{i}"),
                )
            })
            .collect();
        let next = (n < pages).then(|| page_url(n + 1));
        let path = if n == 1 {
            "/feed.xml".to_string()
        } else {
            format!("/feed.xml?page={n}")
        };
        site.set(&path, rss_page(&items, next));
    }
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", site.url("/feed.xml"))]);
    let first = run(dir.path());
    assert_says(&first, "more new pages than are read in one run");
    assert_exit(&first, 1, "a read stopped at the cap is owed");
    assert_eq!(
        site.hits("/feed.xml"),
        100,
        "feed pages read by the first run"
    );
    assert_eq!(stored_urls(dir.path()).len(), 200);

    let second = run(dir.path());
    assert_exit(&second, 0, "the second run reads the rest");
    assert_eq!(stored_urls(dir.path()).len(), 2 * pages);
    // The top (page 1), then pages 101..=130 from where the first run stopped.
    assert_eq!(site.hits("/feed.xml"), 100 + 1 + 30, "{}", stderr(&second));
}

/// A listed page that redirects to an address no web page has (`ftp:`, `mailto:`; a post
/// moved to a download server): main failed it on every retry, so its source's runs ended
/// `partial` for good. Like a listed `mailto:` link, it is said and skipped, and looked at
/// again later (the redirect may change), never owed.
#[test]
fn a_page_that_redirects_to_a_non_web_address_is_skipped_not_owed() {
    let site = TestServer::start();
    let a = site.url("/news/moved.html");
    let b = site.url("/news/cranes.html");
    site.set(
        "/sitemap.xml",
        sitemap(&[
            (a.clone(), "2024-03-01T09:00:00Z"),
            (b.clone(), "2024-03-01T09:00:00Z"),
        ]),
    );
    let mut moved = Response::with_type(301, "text/html", "moved");
    moved
        .headers
        .push(("Location".into(), "ftp://files.example/moved.html".into()));
    site.set("/news/moved.html", moved);
    site.set("/news/cranes.html", news_page("Four new cranes", "Cranes."));
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("sitemap", site.url("/sitemap.xml"))]);
    for n in 1..=2 {
        let out = run(dir.path());
        assert_exit(&out, 0, &format!("run {n}"));
        assert_says(&out, "only http and https URLs are fetched");
        assert_eq!(stored_urls(dir.path()), std::slice::from_ref(&b));
        db(dir.path())
            .execute(
                "UPDATE fetch_state SET next_retry_at = '2000-01-01T00:00:00Z' WHERE url = ?1",
                [&a],
            )
            .unwrap();
    }
}

/// A database from before tracking parameters were dropped from listed addresses holds a
/// post under `…/a.html?utm_source=rss&utm_medium=feed` (here stored by `gleaner scrape` of
/// that address, which keeps what it is given). Its feed now lists it bare: main stored a
/// twin, one more row for every such post. It is the same row.
#[test]
fn a_post_stored_under_a_tracked_address_gets_no_twin() {
    let site = TestServer::start();
    let a = site.url("/news/dredging.html");
    site.set(
        "/sitemap.xml",
        sitemap(&[(a.clone(), "2024-03-01T09:00:00Z")]),
    );
    site.set(
        "/news/dredging.html",
        news_page("Dredging starts", "Dredging of the inner harbour starts."),
    );
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("sitemap", site.url("/sitemap.xml"))]);
    let tracked = format!("{a}?utm_source=rss&utm_medium=feed");
    let scraped = Command::new(gleaner_bin())
        .current_dir(dir.path())
        .args([
            "--config",
            "gleaner.toml",
            "--db",
            "news.db",
            "scrape",
            &tracked,
        ])
        .env_remove("GLEANER_DB")
        .env_remove("GLEANER_CONFIG")
        .env_remove("GLEANER_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_exit(&scraped, 0, "scrape of the tracked address");
    assert_eq!(stored_urls(dir.path()), std::slice::from_ref(&tracked));
    for n in 1..=2 {
        let out = run(dir.path());
        assert_exit(&out, 0, &format!("run {n}"));
        assert_eq!(
            stored_urls(dir.path()).len(),
            1,
            "{:?}\n{}",
            stored_urls(dir.path()),
            stderr(&out)
        );
    }
}

/// The database file is deleted (or replaced: a restore, a sync tool's rename) while a run
/// writes to it: SQLite goes on writing to the file it opened, which no path names any more.
/// main said `ok stored=N` and then created a new, empty database at the path to record the
/// run's end in; nothing it stored was anywhere. The run now says what happened and fails,
/// writing nothing into whatever is at the path; the next run reads everything again.
#[test]
fn a_database_deleted_during_the_run_is_reported_not_ok() {
    let blog = BlogServer::start(
        "Slip Notes",
        47,
        FeedMode::Summary,
        12,
        Duration::from_millis(250),
    );
    let dir = tempfile::tempdir().unwrap();
    config(
        dir.path(),
        "per_host_per_second = 4.0",
        &[("blogger", blog.home())],
    );
    let child = Command::new(gleaner_bin())
        .current_dir(dir.path())
        .args(["--config", "gleaner.toml", "--db", "news.db", "run"])
        .env_remove("GLEANER_DB")
        .env_remove("GLEANER_CONFIG")
        .env_remove("GLEANER_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let db_file = dir.path().join("news.db");
    let deadline = Instant::now() + Duration::from_secs(20);
    while blog.hits().iter().filter(|h| h.is_post()).count() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::remove_file(&db_file).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 1, "a run whose database was deleted");
    assert_says(&out, "deleted or replaced during the run");
    let again = run(dir.path());
    assert_exit(&again, 0, "the next run");
    assert_eq!(stored_urls(dir.path()).len(), 12, "{}", stderr(&again));
}

/// A server whose clock was set years ahead sends `Last-Modified: … 2031`; gleaner kept it
/// and sent it back as `If-Modified-Since`, and once the clock was put right every later
/// edit (dated before 2031) was answered 304: main stored none of them, saying ok. A
/// Last-Modified in the future is not kept.
#[test]
fn a_last_modified_in_the_future_does_not_hide_later_edits() {
    let site = TestServer::start();
    site.honour_etags();
    let a = site.url("/news/fees.html");
    // No lastmod: the page's validators are all there is to go by.
    site.set(
        "/sitemap.xml",
        Response::with_type(
            200,
            "application/xml",
            format!(
                "<?xml version='1.0' encoding='UTF-8'?><urlset \
                 xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'><url><loc>{a}</loc></url>\
                 </urlset>"
            ),
        ),
    );
    let page = |lead: &str, last_modified: &str| {
        let mut r = news_page("Harbour fees", lead);
        r.headers
            .push(("Last-Modified".into(), last_modified.to_string()));
        r
    };
    site.set(
        "/news/fees.html",
        page(
            "Fees rise by four per cent.",
            "Wed, 01 Jan 2031 00:00:00 GMT",
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("sitemap", site.url("/sitemap.xml"))]);
    assert_exit(&run(dir.path()), 0, "first run");

    // The clock put right; the page edited.
    let now = chrono::Utc::now().to_rfc2822().replace("+0000", "GMT");
    site.set(
        "/news/fees.html",
        page("Correction: fees rise by fourteen per cent.", &now),
    );
    let second = run(dir.path());
    assert_exit(&second, 0, "second run");
    let body = column_of(dir.path(), "body", &a).unwrap();
    assert!(
        body.contains("fourteen per cent"),
        "the edit: {body}\n{}",
        stderr(&second)
    );
    // A right Last-Modified is kept and used: the next run gets a 304.
    let third = run(dir.path());
    assert_exit(&third, 0, "third run");
    assert_says(&third, "not_modified=1");
}
