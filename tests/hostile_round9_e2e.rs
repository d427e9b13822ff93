//! End to end, the ninth round of hostile sources: the fault the eighth round left (a feed
//! that gives its linkless items a new id on every read), and what an adversarial review
//! found after it. Each test is a source or a server behaving as real ones do, served from
//! 127.0.0.1, with the real binary and a real SQLite file.
//!
//! `GLEANER_TEST_BIN=/path/to/gleaner` runs these tests against another build (the session's
//! start, to see the faults); by default they run the binary of this tree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestServer;
use common::hostile::{
    assert_exit, config, db_number, news_page, rss_channel, run, stored_articles, text_about,
};
use common::stderr;

// ---------------------------------------------------------------- linkless items, new ids

/// A linkless RSS item: its text in the description, its id `guid`, published at `minute`.
fn linkless_item(title: &str, text: &str, guid: &str, minute: u32) -> String {
    format!(
        "<item><title>{title}</title><guid isPermaLink='false'>{guid}</guid>\
         <pubDate>Fri, 01 Mar 2024 09:{minute:02}:00 GMT</pubDate>\
         <description>{text}</description></item>"
    )
}

/// A feed whose items have no link and a new random `<guid>` on every read (a CMS that
/// makes the id from the request time, a feed generator that numbers items per response).
/// main stored every post again on every run (3 posts, 3 runs: 9 rows, round 8's open
/// item). Now a linkless item whose address is new is the stored post of the same feed and
/// source published at the same moment with the same title and text. Two posts with equal
/// titles and other text stay two; a new post is one new row; an edit (new text) of such
/// a post cannot be told from a new post and is a new row.
#[test]
fn linkless_items_with_new_ids_on_every_read_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    linkless_items_read_three_times(dir.path(), run, |d| {
        (
            db_number(d, "SELECT count(*) FROM articles"),
            db_number(d, HARBOUR_UPDATES),
        )
    });
}

/// The same on PostgreSQL (`GLEANER_TEST_POSTGRES`; skipped, saying so, without).
#[test]
fn postgres_linkless_items_with_new_ids_on_every_read_are_stored_once() {
    let Some(pg) = common::hostile::PgSchema::fresh("gleaner_round9_linkless") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = pg.url.clone();
    linkless_items_read_three_times(
        dir.path(),
        |d| common::hostile::output_within(common::hostile::spawn_run_on(d, &db, &[]), 60, "run"),
        |_| {
            (
                pg.number("SELECT count(*) FROM articles"),
                pg.number(HARBOUR_UPDATES),
            )
        },
    );
}

/// The stored "Harbour update" posts with text of their own.
const HARBOUR_UPDATES: &str =
    "SELECT count(DISTINCT body) FROM articles WHERE title = 'Harbour update'";

/// Three reads of a feed of linkless posts whose ids are new on every read, a post added on
/// the third; `counts` gives the rows stored and the [`HARBOUR_UPDATES`].
fn linkless_items_read_three_times(
    dir: &std::path::Path,
    run: impl Fn(&std::path::Path) -> std::process::Output,
    counts: impl Fn(&std::path::Path) -> (i64, i64),
) {
    let site = TestServer::start();
    let posts = [
        (
            "Tide table",
            "High water at the north quay is at six in the morning all week.",
            1,
        ),
        (
            "Harbour update",
            "The ferry to the islands runs to the summer timetable from Monday.",
            2,
        ),
        (
            "Harbour update",
            "The fish market opens an hour later while the roof is repaired.",
            2,
        ),
    ];
    let feed = |read: usize| {
        let mut items = String::new();
        if read == 2 {
            items.push_str(&linkless_item(
                "Dredging",
                "Dredging of the inner basin starts in April and lasts three weeks.",
                &format!("urn:uuid:{read}-new"),
                5,
            ));
        }
        for (i, (title, text, minute)) in posts.iter().enumerate() {
            items.push_str(&linkless_item(
                title,
                text,
                &format!("urn:uuid:{read}-{i}"),
                *minute,
            ));
        }
        rss_channel(&items, None)
    };
    config(dir, "", &[("feed", site.url("/feed.xml"))]);
    for read in 0..3 {
        site.set("/feed.xml", feed(read));
        let out = run(dir);
        assert_exit(&out, 0, "run");
        let want = if read == 2 { 4 } else { 3 };
        // The two "Harbour update" posts, with other text, are two rows.
        assert_eq!(
            counts(dir),
            (want, 2),
            "after read {read}\n{}",
            stderr(&out)
        );
    }
}

// ---------------------------------------------------------------- probes

fn summary_item(title: &str, link: &str, guid: &str, minute: u32) -> String {
    format!(
        "<item><title>{title}</title><link>{link}</link><guid>{guid}</guid>\
         <pubDate>Fri, 01 Mar 2024 09:{minute:02}:00 GMT</pubDate>\
         <description>{title}.</description></item>"
    )
}

fn redirect(to: &str) -> common::Response {
    let mut r = common::Response::with_type(301, "text/html", "moved");
    r.headers.push(("Location".into(), to.into()));
    r
}

/// A post whose permalink is edited on an ordinary site (a WordPress slug changed with the
/// title, a CMS that changed its address scheme): the old address answers 301 to the new
/// one, and the feed lists the new one with the post's unchanged publication date. main
/// stored it again under the new address: two rows of one post. Now a page not found by
/// its address is the stored post of its site published at the same second with the same
/// text, or the same title and opening: one row (kept under its first address).
#[test]
fn a_post_moved_to_a_new_address_is_one_row() {
    let site = TestServer::start();
    let old = site.url("/2024/03/quay-works.html");
    let new = site.url("/2024/03/quay-works-begin-on-monday.html");
    let page = |title: &str| {
        common::Response::html(format!(
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>\
             <meta property='article:published_time' content='2024-03-01T09:01:00Z'></head>\
             <body><main><article><h1>{title}</h1><p>{}</p><p>{}</p></article></main></body></html>",
            text_about("The quay works"),
            text_about("The second berth")
        ))
    };
    site.set("/2024/03/quay-works.html", page("Quay works begin"));
    site.set(
        "/feed.xml",
        rss_channel(&summary_item("Quay works begin", &old, &old, 1), None),
    );
    // Another post of the site published at the same second, with other text: its own row.
    let other = site.url("/2024/03/ferry.html");
    site.set(
        "/2024/03/ferry.html",
        common::Response::html(format!(
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Ferry times</title>\
             <meta property='article:published_time' content='2024-03-01T09:01:00Z'></head>\
             <body><main><article><h1>Ferry times</h1><p>{}</p></article></main></body></html>",
            text_about("The ferry timetable")
        )),
    );
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", site.url("/feed.xml"))]);
    assert_exit(&run(dir.path()), 0, "first run");
    // The slug edited with the title: the old address moves, the feed lists the new one.
    site.set(
        "/2024/03/quay-works-begin-on-monday.html",
        page("Quay works begin on Monday"),
    );
    site.set("/2024/03/quay-works.html", redirect(&new));
    let items = summary_item("Quay works begin on Monday", &new, &new, 1)
        + &summary_item("Ferry times", &other, &other, 1);
    site.set("/feed.xml", rss_channel(&items, None));
    let out = run(dir.path());
    assert_exit(&out, 0, "second run");
    let rows = stored_articles(dir.path());
    let urls: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(urls, [other.as_str(), old.as_str()], "{}", stderr(&out));
    // The row holds the post as it is now.
    assert_eq!(rows[1].1, "Quay works begin on Monday");
}

/// A feed that puts a session id or a cache-buster into every item's link, new on every
/// read (`…/quay.html?sid=a0b`, then `?sid=a1b`), its `<guid>` the bare permalink; the page
/// names no canonical address. main stored the post again under each link: a row per run.
/// Now a link that is the item's own permalink id plus query parameters is read under the
/// permalink: one row. Two items that share one id (a feed whose every guid is the site's
/// address) keep their own links.
#[test]
fn a_session_id_in_feed_links_stores_no_post_twice() {
    let site = TestServer::start();
    site.set(
        "/2024/03/quay.html",
        news_page("Quay works begin", &text_about("The quay works")),
    );
    let permalink = site.url("/2024/03/quay.html");
    // Two posts under one script, told apart by a parameter, both with the script's bare
    // address as their id: not the post's permalink.
    for id in ["7", "8"] {
        site.set(
            &format!("/story.php?id={id}"),
            news_page(&format!("Story {id}"), &text_about(&format!("Story {id}"))),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", site.url("/feed.xml"))]);
    for read in 0..3u32 {
        let link = site.url(&format!("/2024/03/quay.html?sid=a{read}b"));
        let script = site.url("/story.php");
        let items = summary_item("Quay works begin", &link, &permalink, 1 + read)
            + &summary_item("Story 7", &site.url("/story.php?id=7"), &script, 1)
            + &summary_item("Story 8", &site.url("/story.php?id=8"), &script, 1);
        site.set("/feed.xml", rss_channel(&items, None));
        let out = run(dir.path());
        assert_exit(&out, 0, "run");
        let urls: Vec<String> = stored_articles(dir.path())
            .into_iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(
            urls,
            [
                permalink.clone(),
                site.url("/story.php?id=7"),
                site.url("/story.php?id=8")
            ],
            "read {read}\n{}",
            stderr(&out)
        );
    }
}

/// A CMS whose permalinks gain (or lose) their trailing slash between two reads (a setting
/// changed, a plugin updated), the page answering under both and naming no canonical
/// address. main stored every post again under the other spelling. Now a row under the same
/// address with(out) the trailing `/` is the article (as one on the other scheme or
/// with(out) `www.` already was).
#[test]
fn a_permalink_that_gains_a_trailing_slash_is_one_row() {
    let site = TestServer::start();
    let page = news_page("Quay works begin", &text_about("The quay works"));
    site.set("/2024/03/quay/", page.clone());
    site.set("/2024/03/quay", page);
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", site.url("/feed.xml"))]);
    for (read, path) in ["/2024/03/quay/", "/2024/03/quay"].iter().enumerate() {
        let link = site.url(path);
        let minute = 1 + u32::try_from(read).unwrap();
        site.set(
            "/feed.xml",
            rss_channel(
                &summary_item("Quay works begin", &link, &link, minute),
                None,
            ),
        );
        let out = run(dir.path());
        assert_exit(&out, 0, "run");
        let urls: Vec<String> = stored_articles(dir.path())
            .into_iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(
            urls,
            [site.url("/2024/03/quay/")],
            "read {read}\n{}",
            stderr(&out)
        );
    }
}

/// Two `gleaner run`s at once on one database, one given the file's path and one a
/// symbolic link to it (a cron job's `/var/lib/gleaner/news.db` linked to the data disk, and
/// a run started by hand). The run lock was `<path as given>.lock`: two locks, both runs
/// read every source and fetched every page (each page asked for twice), racing each other
/// on the database. Now the lock is next to the real file: the second run exits 3 at once.
#[test]
fn two_runs_through_a_symbolic_link_take_one_lock() {
    const PAGES: u32 = 40;
    let site = TestServer::start();
    let mut items = String::new();
    for i in 0..PAGES {
        let path = format!("/n/{i}.html");
        site.set(
            &path,
            news_page(&format!("Notice {i}"), &text_about(&format!("Notice {i}"))),
        );
        items.push_str(&summary_item(
            &format!("Notice {i}"),
            &site.url(&path),
            &site.url(&path),
            i,
        ));
    }
    site.set("/feed.xml", rss_channel(&items, None));
    let dir = tempfile::tempdir().unwrap();
    // 20 pages a second: the run takes two seconds.
    config(
        dir.path(),
        "per_host_per_second = 20.0\n",
        &[("feed", site.url("/feed.xml"))],
    );
    // The link made before the database exists (a dangling link, the first run creates it).
    std::os::unix::fs::symlink(dir.path().join("news.db"), dir.path().join("link.db")).unwrap();
    let a = common::hostile::spawn_run_on(dir.path(), "news.db", &[]);
    let b = common::hostile::spawn_run_on(dir.path(), "link.db", &[]);
    let a = common::hostile::output_within(a, 60, "the run on the path");
    let b = common::hostile::output_within(b, 60, "the run on the link");
    let mut codes = [a.status.code(), b.status.code()];
    codes.sort();
    assert_eq!(
        codes,
        [Some(0), Some(3)],
        "--- a ---\n{}\n--- b ---\n{}",
        stderr(&a),
        stderr(&b)
    );
    for i in 0..PAGES {
        assert_eq!(site.hits(&format!("/n/{i}.html")), 1, "page {i}");
    }
    assert_eq!(stored_articles(dir.path()).len(), 40);
}

/// A feed of short notices, each item a `<description>` and a date only (RSS needs a title
/// or a description, nothing more: a status feed, a "latest notices" box). main made every
/// such item's address from its empty title: one address for all, the first notice stored,
/// the others dropped as "listed twice" (run `ok`). Now an item with neither id nor title
/// is told apart by its text: every notice its own row, a re-read adds none.
#[test]
fn untitled_items_without_ids_are_each_stored() {
    let site = TestServer::start();
    let notices = [
        "The north quay is closed to cars on Saturday for the market.",
        "Water will be off along the harbour front on Tuesday morning.",
        "The ferry office moves to the old customs house from Monday.",
    ];
    let items: String = notices
        .iter()
        .enumerate()
        .map(|(i, text)| {
            format!(
                "<item><pubDate>Fri, 01 Mar 2024 09:{i:02}:00 GMT</pubDate>\
                 <description>{text}</description></item>"
            )
        })
        .collect();
    site.set("/feed.xml", rss_channel(&items, None));
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", site.url("/feed.xml"))]);
    for read in 0..2 {
        let out = run(dir.path());
        assert_exit(&out, 0, "run");
        let mut bodies: Vec<String> = stored_articles(dir.path())
            .into_iter()
            .map(|r| r.2)
            .collect();
        bodies.sort();
        let mut want: Vec<String> = notices.iter().map(|n| (*n).to_string()).collect();
        want.sort();
        assert_eq!(bodies, want, "read {read}\n{}", stderr(&out));
    }
}
