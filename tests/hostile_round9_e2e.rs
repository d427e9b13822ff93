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
use common::hostile::{assert_exit, config, db_number, rss_channel, run, stored_articles};
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
    let feed = |read: usize, extra: bool| {
        let mut items = String::new();
        if extra {
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
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", site.url("/feed.xml"))]);
    for read in 0..3 {
        site.set("/feed.xml", feed(read, read == 2));
        let out = run(dir.path());
        assert_exit(&out, 0, "run");
        let rows = stored_articles(dir.path());
        let want = if read == 2 { 4 } else { 3 };
        assert_eq!(
            rows.len(),
            want,
            "after read {read}: {:#?}\n{}",
            rows.iter().map(|r| (&r.0, &r.1)).collect::<Vec<_>>(),
            stderr(&out)
        );
    }
    // The two "Harbour update" posts are two rows with their own text.
    assert_eq!(
        db_number(
            dir.path(),
            "SELECT count(DISTINCT body) FROM articles WHERE title = 'Harbour update'"
        ),
        2
    );
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

#[test]
fn probe_post_moved_by_301() {
    let site = TestServer::start();
    let old = site.url("/2024/03/old-slug.html");
    let new = site.url("/2024/03/new-slug.html");
    let page = common::hostile::news_page(
        "Quay works begin",
        &common::hostile::text_about("The quay works"),
    );
    site.set("/2024/03/old-slug.html", page.clone());
    site.set(
        "/feed.xml",
        rss_channel(&summary_item("Quay works begin", &old, &old, 1), None),
    );
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", site.url("/feed.xml"))]);
    assert_exit(&run(dir.path()), 0, "first");
    site.set("/2024/03/new-slug.html", page);
    site.set("/2024/03/old-slug.html", redirect(&new));
    site.set(
        "/feed.xml",
        rss_channel(&summary_item("Quay works begin", &new, &new, 9), None),
    );
    let out = run(dir.path());
    let rows = stored_articles(dir.path());
    eprintln!(
        "PROBE 301: exit {:?} rows {:?}\n{}",
        out.status.code(),
        rows.iter().map(|r| &r.0).collect::<Vec<_>>(),
        stderr(&out)
    );
}

#[test]
fn probe_link_with_session_id() {
    let site = TestServer::start();
    let page = common::hostile::news_page(
        "Quay works begin",
        &common::hostile::text_about("The quay works"),
    );
    site.set("/2024/03/quay.html", page);
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", site.url("/feed.xml"))]);
    for r in 0..3 {
        let link = site.url(&format!("/2024/03/quay.html?sid=a{r}b"));
        let guid = site.url("/2024/03/quay.html");
        site.set(
            "/feed.xml",
            rss_channel(&summary_item("Quay works begin", &link, &guid, 1 + r), None),
        );
        let out = run(dir.path());
        let rows = stored_articles(dir.path());
        eprintln!(
            "PROBE sid {r}: exit {:?} rows {:?}",
            out.status.code(),
            rows.iter().map(|r| &r.0).collect::<Vec<_>>()
        );
    }
}

#[test]
fn probe_two_runs_through_a_symlink() {
    let site = TestServer::start();
    let mut items = String::new();
    for i in 0..40u32 {
        let path = format!("/n/{i}.html");
        site.set(
            &path,
            common::hostile::news_page(
                &format!("Notice {i}"),
                &common::hostile::text_about(&format!("Notice {i}")),
            ),
        );
        items.push_str(&summary_item(
            &format!("Notice {i}"),
            &site.url(&path),
            &site.url(&path),
            i % 60,
        ));
    }
    site.set("/feed.xml", rss_channel(&items, None));
    let dir = tempfile::tempdir().unwrap();
    config(
        dir.path(),
        "per_host_per_second = 20.0\n",
        &[("feed", site.url("/feed.xml"))],
    );
    // Create the db first.
    std::os::unix::fs::symlink(dir.path().join("news.db"), dir.path().join("link.db")).unwrap();
    let a = common::hostile::spawn_run_on(dir.path(), "news.db", &[]);
    let b = common::hostile::spawn_run_on(dir.path(), "link.db", &[]);
    let a = common::hostile::output_within(a, 60, "a");
    let b = common::hostile::output_within(b, 60, "b");
    eprintln!(
        "PROBE symlink: a {:?} b {:?} hits n/0 {} rows {}\n--a--\n{}\n--b--\n{}",
        a.status.code(),
        b.status.code(),
        site.hits("/n/0.html"),
        stored_articles(dir.path()).len(),
        stderr(&a),
        stderr(&b)
    );
}

#[test]
fn probe_feed_html_error_page() {
    let site = TestServer::start();
    let page = common::hostile::news_page(
        "Quay works begin",
        &common::hostile::text_about("The quay works"),
    );
    site.set("/a.html", page);
    site.set("/feed.xml", common::Response::html(format!(
        "<html><head><title>Service Unavailable</title><link rel='alternate' type='application/rss+xml' href='{}'></head><body><h1>503 Service Unavailable</h1></body></html>", site.url("/feed.xml"))));
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", site.url("/feed.xml"))]);
    let out = run(dir.path());
    eprintln!("PROBE html: exit {:?}\n{}", out.status.code(), stderr(&out));
    site.set(
        "/feed.xml",
        rss_channel(
            &summary_item(
                "Quay works begin",
                &site.url("/a.html"),
                &site.url("/a.html"),
                1,
            ),
            None,
        ),
    );
    let out = run(dir.path());
    eprintln!(
        "PROBE html 2: exit {:?} rows {}\n{}",
        out.status.code(),
        stored_articles(dir.path()).len(),
        stderr(&out)
    );
}

#[test]
fn probe_megabyte_entry() {
    let site = TestServer::start();
    let para = "The harbour board met again on Tuesday to hear the dredging report and the traffic figures. ";
    let big = format!("<p>{}</p>", para.repeat(60_000));
    let item = format!(
        "<item><title>Long report</title><guid isPermaLink='false'>r1</guid>\
         <pubDate>Fri, 01 Mar 2024 09:00:00 GMT</pubDate>\
         <content:encoded><![CDATA[{big}]]></content:encoded></item>"
    );
    site.set("/feed.xml", rss_channel(&item, None));
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", site.url("/feed.xml"))]);
    let t = std::time::Instant::now();
    let out = run(dir.path());
    let rows = stored_articles(dir.path());
    eprintln!(
        "PROBE big: exit {:?} in {:?} rows {} body {}\n{}",
        out.status.code(),
        t.elapsed(),
        rows.len(),
        rows.first().map_or(0, |r| r.2.len()),
        stderr(&out)
    );
}

#[test]
fn probe_trailing_slash_toggle() {
    let site = TestServer::start();
    let page = common::hostile::news_page(
        "Quay works begin",
        &common::hostile::text_about("The quay works"),
    );
    site.set("/2024/03/quay/", page.clone());
    site.set("/2024/03/quay", page);
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", site.url("/feed.xml"))]);
    for (r, path) in ["/2024/03/quay/", "/2024/03/quay"].iter().enumerate() {
        let link = site.url(path);
        site.set(
            "/feed.xml",
            rss_channel(
                &summary_item("Quay works begin", &link, &link, 1 + r as u32),
                None,
            ),
        );
        let out = run(dir.path());
        let rows = stored_articles(dir.path());
        eprintln!(
            "PROBE slash {r}: exit {:?} rows {:?}",
            out.status.code(),
            rows.iter().map(|r| &r.0).collect::<Vec<_>>()
        );
    }
}

#[test]
fn probe_sitemap_html_error_page() {
    let site = TestServer::start();
    let page = common::hostile::news_page(
        "Quay works begin",
        &common::hostile::text_about("The quay works"),
    );
    site.set("/a.html", page);
    site.set("/sitemap.xml", common::Response::html(
        "<html><head><title>Service Unavailable</title></head><body><h1>503 Service Unavailable</h1><p>Try again later.</p></body></html>"));
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("sitemap", site.url("/sitemap.xml"))]);
    let out = run(dir.path());
    eprintln!(
        "PROBE sm html: exit {:?}\n{}",
        out.status.code(),
        stderr(&out)
    );
    site.set(
        "/sitemap.xml",
        common::hostile::sitemap(&[(site.url("/a.html"), "2024-03-01T09:00:00Z")]),
    );
    let out = run(dir.path());
    eprintln!(
        "PROBE sm html 2: exit {:?} rows {}\n{}",
        out.status.code(),
        stored_articles(dir.path()).len(),
        stderr(&out)
    );
}
