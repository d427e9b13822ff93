//! End to end: what careless or hostile sources do to `gleaner run`, found by attacking the
//! landed main after issue 16's fixes. Each test is a source that behaves as real ones do
//! (a backdated item, a cache that answers 304 to anybody, relative links, a feed whose `next`
//! never ends, a host that keeps asking to come back later) served from 127.0.0.1, and the
//! promise it tests: nothing listed is lost while the run says ok, and one bad source does not
//! hold up the others.
//!
//! `GLEANER_TEST_BIN=/path/to/gleaner` runs these tests against another build (main's, to see
//! the faults); by default they run the binary of this tree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod blogsim;
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use blogsim::{BlogServer, Change, FeedMode};
use chrono::Utc;
use common::hostile::{
    assert_exit, assert_says, config, db, gleaner_in, news_page, rss_channel, run, sitemap,
    stored_urls,
};
use common::{Response, TestServer, stderr};

fn body_of(dir: &Path, url: &str) -> Option<String> {
    db(dir)
        .query_row("SELECT body FROM articles WHERE url = ?1", [url], |r| {
            r.get(0)
        })
        .ok()
}

/// An RSS feed of (link, title, pubDate, full content if any) items, with an optional
/// `rel=next` link.
fn rss(items: &[(&str, &str, &str, Option<&str>)], next: Option<&str>) -> Response {
    let items: String = items
        .iter()
        .map(|(link, title, date, content)| {
            let content = content
                .map(|c| format!("<content:encoded><![CDATA[{c}]]></content:encoded>"))
                .unwrap_or_default();
            format!(
                "<item><title>{title}</title><link>{link}</link><guid>{link}</guid>\
                 <pubDate>{date}</pubDate><description>A short summary.</description>{content}</item>"
            )
        })
        .collect();
    rss_channel(&items, next)
}

/// A feed item or sitemap entry new to gleaner but dated before the newest one it saw (a
/// post backdated by its author, a page added to a sitemap with its first publication date,
/// a feed that gives the date a draft was started) is a new post all the same. main passed
/// it over as "seen" because of its date alone, on every run, while each run said ok.
#[test]
fn a_new_item_dated_before_the_cut_off_is_fetched_not_passed_over() {
    let site = TestServer::start();
    let url = |p: &str| site.url(p);
    let mut items = vec![
        (
            url("/news/fees.html"),
            "New harbour fees",
            "Mon, 13 Mar 2023 09:00:00 +0000",
        ),
        (
            url("/news/old.html"),
            "An older story",
            "Sun, 12 Mar 2023 09:00:00 +0000",
        ),
    ];
    let feed_of = |items: &[(String, &str, &str)]| {
        let items: Vec<(&str, &str, &str, Option<&str>)> = items
            .iter()
            .map(|(u, t, d)| (u.as_str(), *t, *d, None))
            .collect();
        rss(&items, None)
    };
    site.set("/rss.xml", feed_of(&items));
    let mut entries = vec![
        (url("/maps/cranes.html"), "2023-03-13"),
        (url("/maps/old.html"), "2023-03-12"),
    ];
    site.set("/sitemap.xml", sitemap(&entries));
    for (path, title) in [
        ("/news/fees.html", "New harbour fees"),
        ("/news/old.html", "An older story"),
        ("/maps/cranes.html", "Four new cranes"),
        ("/maps/old.html", "An older map"),
        ("/news/late.html", "A report filed late"),
        ("/maps/pilots.html", "Pilot boats renamed"),
    ] {
        site.set(
            path,
            news_page(
                title,
                &format!("{title}: the harbour office said so today."),
            ),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    config(
        dir.path(),
        "",
        &[("feed", url("/rss.xml")), ("sitemap", url("/sitemap.xml"))],
    );
    assert_exit(&run(dir.path()), 0, "first run");
    assert_eq!(stored_urls(dir.path()).len(), 4);

    // Each source lists one more page, dated days before the newest it listed before.
    items.push((
        url("/news/late.html"),
        "A report filed late",
        "Fri, 10 Mar 2023 09:00:00 +0000",
    ));
    site.set("/rss.xml", feed_of(&items));
    entries.push((url("/maps/pilots.html"), "2023-03-10"));
    site.set("/sitemap.xml", sitemap(&entries));
    let second = run(dir.path());
    assert_exit(&second, 0, "second run");
    let stored = stored_urls(dir.path());
    assert!(
        stored.contains(&url("/news/late.html")),
        "the backdated feed item: {stored:?}\n{}",
        stderr(&second)
    );
    assert!(
        stored.contains(&url("/maps/pilots.html")),
        "the backdated sitemap entry: {stored:?}"
    );
    assert_eq!(stored.len(), 6);

    // Stored items older than the cut-off are still passed over by their date, and the new
    // ones are now among them: one request each, ever.
    assert_exit(&run(dir.path()), 0, "third run");
    for path in [
        "/news/old.html",
        "/maps/old.html",
        "/news/late.html",
        "/maps/pilots.html",
    ] {
        assert_eq!(site.hits(path), 1, "{path}");
    }
}

/// A 304 stands for the copy a conditional request named; to a request that named none (a
/// misconfigured cache or CDN in front of the site) it stands for nothing. main counted it
/// "not modified", kept no article, said ok, and the next runs passed the page over for good.
#[test]
fn a_304_to_a_request_without_validators_is_a_failure_to_retry() {
    let site = TestServer::start();
    let url = |p: &str| site.url(p);
    site.set(
        "/sitemap.xml",
        sitemap(&[
            (url("/news/cached.html"), "2023-03-10"),
            (url("/news/plain.html"), "2023-03-12"),
        ]),
    );
    site.set(
        "/news/cached.html",
        Response::with_type(304, "text/html", ""),
    );
    site.set(
        "/news/plain.html",
        news_page("Plain page", "The plain page is served as it should be."),
    );
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("sitemap", url("/sitemap.xml"))]);
    let first = run(dir.path());
    assert_exit(&first, 1, "a page not stored is owed");
    assert_eq!(stored_urls(dir.path()), [url("/news/plain.html")]);
    let (failures, etag, retry, error): (i64, Option<String>, Option<String>, Option<String>) =
        db(dir.path())
            .query_row(
                "SELECT failures, etag, next_retry_at, last_error FROM fetch_state WHERE url = ?1",
                [url("/news/cached.html")],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
    assert_eq!(failures, 1);
    assert_eq!(etag, None);
    assert!(retry.is_some(), "a time to try again");
    assert!(error.unwrap_or_default().contains("304"), "says why");

    // The cache is fixed; once the page's time comes, it is fetched and stored.
    site.set(
        "/news/cached.html",
        news_page("Cached page", "The cached page is served at last."),
    );
    db(dir.path())
        .execute(
            "UPDATE fetch_state SET next_retry_at = '2000-01-01T00:00:00Z' WHERE url = ?1",
            [url("/news/cached.html")],
        )
        .unwrap();
    assert_exit(&run(dir.path()), 0, "second run");
    assert_eq!(stored_urls(dir.path()).len(), 2);
}

/// Relative links in a feed (RSS asks for absolute ones; many feeds are written by hand or
/// by templates that forget): an item's page is at its link resolved against the feed's
/// address, as a feed reader reads it. main tried to fetch "news/two.html" as it stood (a
/// failure on every run, the post never stored) and stored a full-content item under the
/// address "/news/one.html", which then no feed could update (it is on no site).
#[test]
fn relative_item_links_are_resolved_against_the_feed() {
    let site = TestServer::start();
    let url = |p: &str| site.url(p);
    let one = |extra: &str| {
        format!(
            "<p>The harbour master opened the new pier on Friday morning before a small crowd.</p>\
             <p>It will take the ferries from Monday, and the old pier will close for repairs.</p>{extra}"
        )
    };
    let feed = |content: &str| {
        rss(
            &[
                (
                    "/news/one.html",
                    "The new pier opens",
                    "Mon, 13 Mar 2023 09:00:00 +0000",
                    Some(content),
                ),
                (
                    "two.html",
                    "Ferry timetable changes",
                    "Mon, 13 Mar 2023 08:00:00 +0000",
                    None,
                ),
            ],
            None,
        )
    };
    site.set("/news/rss.xml", feed(&one("")));
    site.set(
        "/news/two.html",
        news_page(
            "Ferry timetable changes",
            "The ferry timetable changes on Monday.",
        ),
    );
    site.set(
        "/sitemap.xml",
        sitemap(&[("/maps/three.html".to_string(), "2023-03-13")]),
    );
    site.set(
        "/maps/three.html",
        news_page("A map of the new pier", "The map of the new pier is out."),
    );
    let dir = tempfile::tempdir().unwrap();
    config(
        dir.path(),
        "",
        &[
            ("feed", url("/news/rss.xml")),
            ("sitemap", url("/sitemap.xml")),
        ],
    );
    let first = run(dir.path());
    assert_exit(&first, 0, "first run");
    assert_eq!(
        stored_urls(dir.path()),
        [
            url("/maps/three.html"),
            url("/news/one.html"),
            url("/news/two.html")
        ]
    );

    // The full-content item is corrected in the feed: the stored article follows.
    site.set(
        "/news/rss.xml",
        feed(&one(
            "<p>Correction: the ferries move to the new pier on Tuesday.</p>",
        )),
    );
    // (Its date is the feed's newest, which the cut-off does not pass over.)
    assert_exit(&run(dir.path()), 0, "second run");
    let body = body_of(dir.path(), &url("/news/one.html")).unwrap();
    assert!(body.contains("Correction"), "{body}");
}

/// A feed's `next` link that always leads on (a server that ignores the page asked for and
/// links the one after it, or empty pages that still link a next one): main read up to
/// 10,000 pages a run, an hour and more at one request a second. A page that lists nothing
/// new ends the read.
#[test]
fn a_feed_whose_next_link_never_ends_costs_a_few_requests() {
    let site = TestServer::start();
    let url = |p: &str| site.url(p);
    let items = [
        (
            url("/news/a.html"),
            "Harbour dredging starts",
            "Mon, 13 Mar 2023 09:00:00 +0000",
        ),
        (
            url("/news/b.html"),
            "Lighthouse repainted",
            "Mon, 13 Mar 2023 08:00:00 +0000",
        ),
    ];
    let items: Vec<(&str, &str, &str, Option<&str>)> = items
        .iter()
        .map(|(u, t, d)| (u.as_str(), *t, *d, None))
        .collect();
    const PAGES: usize = 60;
    site.set("/feed.xml", rss(&items, Some("/feed.xml?page=2")));
    for page in 2..=PAGES {
        let next = format!("/feed.xml?page={}", page + 1);
        // The second half of the chain: empty pages that still link a next one.
        let listed = if page <= PAGES / 2 {
            &items[..]
        } else {
            &[][..]
        };
        site.set(&format!("/feed.xml?page={page}"), rss(listed, Some(&next)));
    }
    for (path, title) in [
        ("/news/a.html", "Harbour dredging starts"),
        ("/news/b.html", "Lighthouse repainted"),
    ] {
        site.set(path, news_page(title, &format!("{title}, the port said.")));
    }
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", url("/feed.xml"))]);
    let out = run(dir.path());
    assert_eq!(stored_urls(dir.path()).len(), 2);
    let feed_requests = site.hits("/feed.xml");
    assert!(
        feed_requests <= 3,
        "{feed_requests} feed pages read for two posts"
    );
    assert_exit(&out, 0, "the feed was read to where it repeats itself");

    // Empty pages that link on are read no further either.
    let site2 = TestServer::start();
    site2.set("/feed.xml", rss(&[], Some("/feed.xml?page=2")));
    for page in 2..=PAGES {
        let next = format!("/feed.xml?page={}", page + 1);
        site2.set(&format!("/feed.xml?page={page}"), rss(&[], Some(&next)));
    }
    let dir2 = tempfile::tempdir().unwrap();
    config(dir2.path(), "", &[("feed", site2.url("/feed.xml"))]);
    assert_exit(&run(dir2.path()), 0, "an empty feed");
    assert_eq!(site2.hits("/feed.xml"), 1, "an empty page ends the read");
}

/// A host that answers every page "503, come back in a few seconds" (or that answers slowly)
/// must not take every fetch slot while it is waited for: main let it hold them all, one
/// job after another, so the healthy host listed after it got a page every few seconds. Each
/// host now takes at most its share of the slots while others have work.
#[test]
fn a_host_that_keeps_asking_to_wait_does_not_hold_every_slot() {
    const PAGES: usize = 12;
    let busy = TestServer::start();
    let healthy = TestServer::start();
    let listing = TestServer::start();
    let mut entries = Vec::new();
    for n in 0..PAGES {
        let path = format!("/busy/{n}.html");
        let mut answer = Response::with_type(503, "text/html", "<h1>Busy</h1>");
        answer.headers.push(("Retry-After".into(), "3".into()));
        busy.set(&path, answer);
        entries.push((busy.url(&path), "2023-03-10"));
    }
    for n in 0..PAGES {
        let path = format!("/fine/{n}.html");
        healthy.set(
            &path,
            news_page(
                &format!("Healthy page {n}"),
                &format!("Healthy page number {n} is served at once."),
            ),
        );
        entries.push((healthy.url(&path), "2023-03-11"));
    }
    listing.set("/sitemap.xml", sitemap(&entries));
    let dir = tempfile::tempdir().unwrap();
    config(
        dir.path(),
        "concurrency = 2\nmax_attempts = 3\nmax_retry_after_secs = 10\n",
        &[("sitemap", listing.url("/sitemap.xml"))],
    );
    let started = Instant::now();
    let out = gleaner_in(dir.path(), &["run", "--max-duration", "8s"]);
    let took = started.elapsed();
    let stored = stored_urls(dir.path());
    assert_eq!(
        stored.len(),
        PAGES,
        "every healthy page within the run's 8 s (took {took:?}): {stored:?}\n{}",
        stderr(&out)
    );
    assert!(took < Duration::from_secs(60), "{took:?}");
}

/// A Blogger post written (last updated) long ago and scheduled to go live later keeps the
/// `updated` of its last edit, from before the blog's cut-off: an incremental read asks for
/// posts updated since the cut-off (`orderby=updated&updated-min=`), which never lists it.
/// main stored every post but that one and said ok, on every run.
#[test]
fn a_scheduled_post_that_goes_live_with_an_old_updated_time_is_stored() {
    let blog = BlogServer::start("Tug Notes", 41, FeedMode::Summary, 30, Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("blogger", blog.home())]);
    assert_exit(&run(dir.path()), 0, "first run");
    assert_eq!(stored_urls(dir.path()).len(), 30);

    let written = blog.post(5).updated;
    blog.change(Change::Publish {
        published: Utc::now() - chrono::Duration::hours(1),
        updated: written,
    });
    let scheduled = blog.post_url(30);
    let second = run(dir.path());
    assert_exit(&second, 0, "second run");
    let stored = stored_urls(dir.path());
    assert!(
        stored.contains(&scheduled),
        "the scheduled post: {} stored\n{}",
        stored.len(),
        stderr(&second)
    );
    assert_eq!(stored.len(), 31);
    assert_exit(&run(dir.path()), 0, "third run");
    let path = blog.post(30).path;
    assert_eq!(
        blog.hits().iter().filter(|h| h.path() == path).count(),
        1,
        "its page fetched once"
    );
}

/// A server that takes every connection and answers only robots.txt (404): page requests
/// are read and then left hanging, as a tarpit or a wedged backend does.
fn stalling_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                if head.starts_with(b"GET /robots.txt ") {
                    let _ = stream.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    return;
                }
                std::thread::sleep(Duration::from_secs(60));
            });
        }
    });
    port
}

/// A host that accepts every request and never answers: each page costs the whole timeout
/// of every attempt. main waited out every page of it (40 pages × 1 s over 2 slots here; at
/// the default 30 s × 4 attempts, about two minutes a page: hours for a blog), while the
/// lock kept the next cron runs out. After a few pages given up in a row the host's other
/// pages fail at once for the run, recorded to be tried again later.
#[test]
fn a_host_that_never_answers_is_given_up_after_a_few_pages() {
    const PAGES: usize = 40;
    let port = stalling_server();
    let listing = TestServer::start();
    let pages: Vec<String> = (0..PAGES)
        .map(|n| format!("http://127.0.0.1:{port}/post/{n}.html"))
        .collect();
    let entries: Vec<(String, &str)> = pages.iter().map(|u| (u.clone(), "2023-03-10")).collect();
    listing.set("/sitemap.xml", sitemap(&entries));
    let dir = tempfile::tempdir().unwrap();
    config(
        dir.path(),
        "concurrency = 2\ntimeout_secs = 1\nread_timeout_secs = 1\nconnect_timeout_secs = 1\n",
        &[("sitemap", listing.url("/sitemap.xml"))],
    );
    let started = Instant::now();
    let out = run(dir.path());
    let took = started.elapsed();
    assert_exit(&out, 1, "pages owed");
    assert!(
        took < Duration::from_secs(14),
        "{took:?} for {PAGES} pages of a host that never answers\n{}",
        stderr(&out)
    );
    // Every page is owed: a failure with a time to try again.
    let owed: i64 = db(dir.path())
        .query_row(
            "SELECT count(*) FROM fetch_state WHERE url LIKE '%/post/%' \
             AND failures = 1 AND next_retry_at IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(owed, PAGES as i64);
}

/// A sitemap and a feed written by hand, as many are: a bare `&` in a URL's query, a stray
/// `<` in a date. main refused the whole document on the first bad character (nothing of
/// the source stored, on every run); a stray `<` it read as an element that swallowed the
/// entries after it, which were then lost while the run said ok. The bad characters are
/// made good and a damaged sitemap is read entry by entry.
#[test]
fn a_careless_sitemap_or_feed_is_read_whole() {
    let site = TestServer::start();
    let url = |p: &str| site.url(p);
    let mut entries = String::new();
    for n in 0..6 {
        let path = format!("/maps/{n}.html");
        site.set(
            &path,
            news_page(
                &format!("Harbour map {n}"),
                &format!("Harbour map number {n} shows the new berths."),
            ),
        );
        // Entry 1 has a bare `&` in its address; entry 2 a stray `<` in its date.
        let loc = if n == 1 {
            format!("{}?from=sitemap&amp;x=1&y=2", url(&path))
        } else {
            url(&path)
        };
        let lastmod = if n == 2 { "2023 < 03" } else { "2023-03-10" };
        entries.push_str(&format!(
            "<url><loc>{loc}</loc><lastmod>{lastmod}</lastmod></url>"
        ));
    }
    site.set(
        "/sitemap.xml",
        Response::with_type(
            200,
            "application/xml",
            format!(
                "<?xml version='1.0' encoding='UTF-8'?><urlset \
                 xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{entries}</urlset>"
            ),
        ),
    );
    let feed_item = |n: usize| {
        format!(
            "<item><title>Q&A number {n}</title><link>{}</link>\
             <pubDate>Mon, 13 Mar 2023 09:00:00 +0000</pubDate></item>",
            url(&format!("/qa/{n}.html?a=1&b={n}"))
        )
    };
    site.set(
        "/rss.xml",
        Response::with_type(
            200,
            "application/rss+xml",
            format!(
                "<?xml version='1.0'?><rss version='2.0'><channel><title>Harbour Q&A</title>\
                 <link>{}</link><description>News</description>{}{}</channel></rss>",
                url("/"),
                feed_item(1),
                feed_item(2)
            ),
        ),
    );
    for n in 1..=2 {
        site.set(
            &format!("/qa/{n}.html"),
            news_page(
                &format!("Questions and answers {n}"),
                &format!("The harbour master answers reader question {n}."),
            ),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    config(
        dir.path(),
        "",
        &[("sitemap", url("/sitemap.xml")), ("feed", url("/rss.xml"))],
    );
    let out = run(dir.path());
    let stored = stored_urls(dir.path());
    assert_eq!(stored.len(), 8, "{stored:?}\n{}", stderr(&out));
    assert!(stored.contains(&format!("{}?from=sitemap&x=1&y=2", url("/maps/1.html"))));
    assert!(stored.contains(&url("/qa/2.html?a=1&b=2")));
    assert_exit(&out, 0, "every entry read");
}

/// A sitemap larger than `max_body_bytes` (the protocol allows 50 MB; gleaner's default cap
/// is 10 MiB): main read the cut document as if it were whole, stored the entries before the
/// cut and said ok, the rest lost for good (cut inside a tag, it stored none of them, on every
/// run; cut inside a `<loc>`, it fetched a cut-off URL). The entries before the cut are
/// read, none cut short, and the run says the rest is owed and how to get it.
#[test]
fn a_sitemap_larger_than_the_body_limit_gives_the_entries_before_it() {
    let site = TestServer::start();
    let url = |p: &str| site.url(p);
    let mut entries = String::new();
    for n in 0..40 {
        let path = format!("/maps/{n}.html");
        site.set(
            &path,
            news_page(
                &format!("Harbour map {n}"),
                &format!("Harbour map number {n} shows the new berths."),
            ),
        );
        entries.push_str(&format!(
            "<url><loc>{}</loc><lastmod>2023-03-10</lastmod></url>",
            url(&path)
        ));
    }
    let body = format!(
        "<?xml version='1.0' encoding='UTF-8'?><urlset \
         xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{entries}</urlset>"
    );
    // The limit falls in the 30th entry or so.
    let limit = body.len() * 3 / 4;
    site.set(
        "/sitemap.xml",
        Response::with_type(200, "application/xml", body),
    );
    let dir = tempfile::tempdir().unwrap();
    config(
        dir.path(),
        &format!("max_body_bytes = {limit}\n"),
        &[("sitemap", url("/sitemap.xml"))],
    );
    let out = run(dir.path());
    let stored = stored_urls(dir.path());
    assert!(
        (25..40).contains(&stored.len()),
        "{} stored\n{}",
        stored.len(),
        stderr(&out)
    );
    assert_exit(&out, 1, "the entries past the limit are owed");
    assert_says(&out, "max_body_bytes");
}

/// A sitemap index whose every copy names another (a session id or a page counter in its
/// URLs, or an index that lists itself under a new query): main followed it to 10,000
/// sitemaps a run, hours at one request a second. Indexes nested deeper than three are not
/// followed, and the run says so.
#[test]
fn a_sitemap_index_that_names_a_new_one_each_time_costs_a_few_requests() {
    let site = TestServer::start();
    let url = |p: &str| site.url(p);
    const CHAIN: usize = 200;
    for n in 0..CHAIN {
        site.set(
            &format!("/index.xml?n={n}"),
            Response::with_type(
                200,
                "application/xml",
                format!(
                    "<?xml version='1.0'?><sitemapindex \
                     xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>\
                     <sitemap><loc>{}</loc></sitemap><sitemap><loc>{}</loc></sitemap>\
                     </sitemapindex>",
                    url(&format!("/index.xml?n={}", n + 1)),
                    url("/pages.xml")
                ),
            ),
        );
    }
    site.set(
        "/pages.xml",
        sitemap(&[(url("/news/one.html"), "2023-03-10")]),
    );
    site.set(
        "/news/one.html",
        news_page("One story", "The one story of the site."),
    );
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("sitemap", url("/index.xml?n=0"))]);
    let out = run(dir.path());
    assert_eq!(stored_urls(dir.path()), [url("/news/one.html")]);
    let requests = site.hits("/index.xml");
    assert!(requests <= 5, "{requests} index requests");
    assert_exit(&out, 1, "the sitemaps below the cap are owed");
    assert_says(&out, "nested");
}

/// One post listed under several addresses in one feed: again, with tracking parameters
/// (`utm_*`), Blogger's mobile switch (`m=1`), a fragment, or a zero-width space pasted into
/// the link. main fetched and stored the page once per address (three rows of one post, with
/// no canonical link on the page to tie them), and the zero-width space made an address no
/// server has, failed on every run.
#[test]
fn one_page_listed_under_variant_addresses_is_stored_once() {
    let site = TestServer::start();
    let url = |p: &str| site.url(p);
    let a = url("/news/a.html");
    let b = url("/news/b.html");
    let items = [
        (a.clone(), "Dredging starts"),
        (a.clone(), "Dredging starts"),
        (
            format!("{a}?utm_source=rss&amp;utm_medium=feed"),
            "Dredging starts",
        ),
        (format!("{a}#more"), "Dredging starts"),
        (format!("{a}\u{200b}"), "Dredging starts"),
        (format!("{b}?m=1"), "Lighthouse repainted"),
        (format!("{b}\u{200f}"), "Lighthouse repainted"),
    ];
    let listed: Vec<(&str, &str, &str, Option<&str>)> = items
        .iter()
        .map(|(u, t)| (u.as_str(), *t, "Mon, 13 Mar 2023 09:00:00 +0000", None))
        .collect();
    site.set("/rss.xml", rss(&listed, None));
    site.set(
        "/news/a.html",
        news_page("Dredging starts", "Dredging of the inner harbour starts."),
    );
    site.set(
        "/news/b.html",
        news_page("Lighthouse repainted", "The lighthouse is red again."),
    );
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", url("/rss.xml"))]);
    let out = run(dir.path());
    assert_exit(&out, 0, "nothing failed");
    let stored = stored_urls(dir.path());
    assert_eq!(stored, [a.clone(), format!("{b}?m=1")], "{}", stderr(&out));
    assert_eq!(site.hits("/news/a.html"), 1, "{:?}", site.all_hits());
}

/// A blog whose robots.txt disallows `/feeds/` (a custom robots.txt): main read nothing,
/// said "source read in part: the next run goes on from where this one stopped" (it never
/// does) and ended partial on every run. The blog is read through its sitemap, as robots.txt
/// allows.
#[test]
fn a_blog_whose_robots_txt_disallows_its_feed_is_read_through_its_sitemap() {
    let blog = BlogServer::start("Quay Notes", 43, FeedMode::Summary, 12, Duration::ZERO);
    blog.set_route(
        "/robots.txt",
        "text/plain",
        "User-agent: *\nDisallow: /feeds/\nDisallow: /search\nAllow: /\n",
    );
    let entries: String = blog
        .posts()
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
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("blogger", blog.home())]);
    let out = run(dir.path());
    assert_eq!(stored_urls(dir.path()).len(), 12, "{}", stderr(&out));
    assert_exit(&out, 0, "read through the sitemap");
    assert_says(&out, "robots.txt disallows the blog's feed");
    assert_eq!(
        blog.hits().iter().filter(|h| h.is_feed()).count(),
        0,
        "no feed request"
    );
}

/// A post that appears with both its publication and its update time before the blog's
/// cut-off (a draft or a backdated post made public late, a post restored from the trash or
/// imported): neither the updated-since read nor the published-since read lists it. main
/// never stored it, on any run, and said ok. The first run of each UTC day reads the blog
/// whole (one feed page per 150 posts; known posts cost nothing more), and stores it.
#[test]
fn a_post_that_first_appears_with_old_dates_is_stored_by_the_days_whole_read() {
    let blog = BlogServer::start("Slip Notes", 44, FeedMode::Summary, 40, Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("blogger", blog.home())]);
    assert_exit(&run(dir.path()), 0, "first run");
    assert_eq!(stored_urls(dir.path()).len(), 40);

    let old = blog.post(10).published + chrono::Duration::minutes(30);
    blog.change(Change::Publish {
        published: old,
        updated: old,
    });
    let late = blog.post_url(40);
    // The same day: an incremental read, which cannot see it.
    assert_exit(&run(dir.path()), 0, "second run");
    // A day later.
    db(dir.path())
        .execute(
            "UPDATE sources SET last_run_at = '2000-01-01T00:00:00Z'",
            [],
        )
        .unwrap();
    blog.clear_hits();
    let third = run(dir.path());
    assert_exit(&third, 0, "third run");
    let stored = stored_urls(dir.path());
    assert!(
        stored.contains(&late),
        "{}\n{}",
        stored.len(),
        stderr(&third)
    );
    assert_eq!(stored.len(), 41);
    // Its cost: one feed page (41 posts), and the one new page; no known post downloaded
    // (the newest, at the cut-off, is asked for conditionally and answered 304).
    let hits = blog.hits();
    assert_eq!(hits.iter().filter(|h| h.is_feed()).count(), 1, "{hits:?}");
    assert_eq!(
        hits.iter()
            .filter(|h| h.is_post() && h.status == 200)
            .count(),
        1,
        "{hits:?}"
    );
}

/// After a week without a run, or on a busy blog, more than a page (150) of posts is
/// published since the cut-off; a scheduled post (live now, last updated long ago) among
/// the older of them is not on the first page of the published-since read. main read that
/// one page only and missed the post for good while saying ok.
#[test]
fn a_scheduled_post_on_the_second_page_published_since_the_cut_off_is_stored() {
    let blog = BlogServer::start("Berth Notes", 45, FeedMode::Summary, 10, Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("blogger", blog.home())]);
    assert_exit(&run(dir.path()), 0, "first run");
    let written = blog.post(3).updated;
    let now = Utc::now();
    // The scheduled post went live first, then 200 ordinary posts.
    blog.change(Change::Publish {
        published: now - chrono::Duration::hours(5),
        updated: written,
    });
    let scheduled = blog.post_url(10);
    for n in 0..200 {
        let at = now - chrono::Duration::hours(4) + chrono::Duration::seconds(n * 60);
        blog.change(Change::Publish {
            published: at,
            updated: at,
        });
    }
    let second = run(dir.path());
    assert_exit(&second, 0, "second run");
    let stored = stored_urls(dir.path());
    assert!(
        stored.contains(&scheduled),
        "{} stored\n{}",
        stored.len(),
        stderr(&second)
    );
    assert_eq!(stored.len(), 211);
}

/// A blog feed entry with an id but no link to a page (a post without a permalink). main
/// failed it under the empty address on the first run, then said ok on every later one, the
/// post never mentioned again. It is reported as skipped, with its post id, on every run it
/// is listed, and nothing is recorded under an empty address.
#[test]
fn a_blog_entry_with_an_id_but_no_link_is_reported_every_run() {
    let site = TestServer::start();
    let url = |p: &str| site.url(p);
    let entry = |n: u32, link: bool| {
        let mut e = serde_json::json!({
            "id": {"$t": format!("tag:blogger.com,1999:blog-5501.post-88{n}")},
            "published": {"$t": format!("2023-03-1{n}T09:00:00.000+00:00")},
            "updated": {"$t": format!("2023-03-1{n}T09:00:00.000+00:00")},
            "title": {"$t": format!("Post {n}")},
            "content": {"type": "html", "$t": format!(
                "<p>Post {n}: the harbour office reported on the dredging in Gdansk this week.</p>\
                 <p>More of post {n}, with enough words in it to be an article of its own.</p>")},
            "author": [{"name": {"$t": "Quay Desk"}}]
        });
        if link {
            e["link"] = serde_json::json!([{"rel": "alternate", "type": "text/html",
                "href": url(&format!("/2023/03/post-{n}.html"))}]);
        }
        e
    };
    let feed = serde_json::json!({"feed": {
        "id": {"$t": "tag:blogger.com,1999:blog-5501"},
        "title": {"$t": "Quay"},
        "entry": [entry(3, true), entry(2, false)]
    }});
    site.set(
        "/feeds/posts/default",
        Response::with_type(200, "application/json", feed.to_string()),
    );
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("blogger", url("/"))]);
    for n in 1..=2 {
        let out = run(dir.path());
        assert_exit(&out, 0, "a skip is not a failure");
        assert!(
            stderr(&out).contains("post 882") && stderr(&out).contains("no link"),
            "run {n}: {}",
            stderr(&out)
        );
    }
    assert_eq!(stored_urls(dir.path()), [url("/2023/03/post-3.html")]);
    let empty: i64 = db(dir.path())
        .query_row("SELECT count(*) FROM fetch_state WHERE url = ''", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(empty, 0);
}

/// A feed address that answers an HTML page (a site that moved its feed and serves its home
/// page at the old address, or a home page configured as a feed): main failed it on every
/// run and stored nothing. The feed the page names (`<link rel="alternate"
/// type="application/rss+xml">`) is read instead, as a feed reader does, and the run says
/// so; on the next run the named feed is asked for again (the page's 304 does not stand for
/// it).
#[test]
fn a_feed_address_that_answers_html_is_followed_to_the_feed_it_names() {
    let site = TestServer::start();
    let url = |p: &str| site.url(p);
    site.set(
        "/feed",
        Response::html(
            "<!DOCTYPE html><html><head><title>Harbour Post</title>\
             <link rel='alternate' type='application/rss+xml' title='Harbour Post' href='/news/rss.xml'>\
             </head><body><p>Our feed has moved.</p></body></html>",
        ),
    );
    let item = |n: u32| {
        (
            url(&format!("/news/{n}.html")),
            format!("Harbour story {n}"),
            format!("Mon, 1{n} Mar 2023 09:00:00 +0000"),
        )
    };
    let feed_of = |items: &[(String, String, String)]| {
        let listed: Vec<(&str, &str, &str, Option<&str>)> = items
            .iter()
            .map(|(u, t, d)| (u.as_str(), t.as_str(), d.as_str(), None))
            .collect();
        rss(&listed, None)
    };
    for n in 1..=3 {
        site.set(
            &format!("/news/{n}.html"),
            news_page(
                &format!("Harbour story {n}"),
                &format!("Harbour story {n}: the harbour office said so."),
            ),
        );
    }
    site.set("/news/rss.xml", feed_of(&[item(2), item(1)]));
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", url("/feed"))]);
    let out = run(dir.path());
    assert_exit(&out, 0, "the named feed read");
    assert_says(&out, "answers an HTML page");
    assert_eq!(stored_urls(dir.path()).len(), 2);
    site.set("/news/rss.xml", feed_of(&[item(3), item(2), item(1)]));
    assert_exit(&run(dir.path()), 0, "second run");
    assert_eq!(stored_urls(dir.path()).len(), 3);
}

/// Feed items and sitemap entries whose links are no web page's address (`mailto:`,
/// `javascript:`, `file:`, `data:`, an address that does not parse): main failed each on every
/// retry, hourly to weekly, so the source's runs ended partial for good and `gleaner sources`
/// counted them failing. They are skipped (said each run), never owed.
#[test]
fn listed_links_that_are_no_web_address_are_skipped_not_owed() {
    let site = TestServer::start();
    let url = |p: &str| site.url(p);
    let links = [
        url("/news/a.html"),
        "mailto:desk@harbour.example".to_string(),
        "javascript:alert(1)".to_string(),
        "file:///etc/passwd".to_string(),
        "data:text/html,hello".to_string(),
        "http://[::1:bad/x".to_string(),
    ];
    let listed: Vec<(&str, &str, &str, Option<&str>)> = links
        .iter()
        .map(|l| {
            (
                l.as_str(),
                "An item",
                "Mon, 13 Mar 2023 09:00:00 +0000",
                None,
            )
        })
        .collect();
    site.set("/rss.xml", rss(&listed, None));
    let entries: Vec<(String, &str)> = links.iter().map(|l| (l.clone(), "2023-03-10")).collect();
    site.set("/sitemap.xml", sitemap(&entries));
    site.set(
        "/news/a.html",
        news_page("Dredging starts", "Dredging of the inner harbour starts."),
    );
    let dir = tempfile::tempdir().unwrap();
    config(
        dir.path(),
        "",
        &[("feed", url("/rss.xml")), ("sitemap", url("/sitemap.xml"))],
    );
    let out = run(dir.path());
    assert_exit(&out, 0, "nothing owed");
    assert_says(&out, "mailto:");
    assert_eq!(stored_urls(dir.path()), [url("/news/a.html")]);
    let owed: i64 = db(dir.path())
        .query_row(
            "SELECT count(*) FROM fetch_state WHERE failures > 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(owed, 0);
}

/// A Blogger post whose permalink is edited after it was stored: the feed lists it (same post
/// id, a later `updated`) at a new address. main stored it a second time, two rows of one post
/// of one blog, which `gleaner integrity` then reported. It stays one row, updated.
#[test]
fn a_post_whose_permalink_changes_stays_one_row() {
    let site = TestServer::start();
    let url = |p: &str| site.url(p);
    let feed = |path: &str, updated: &str, extra: &str| {
        let entry = serde_json::json!({
            "id": {"$t": "tag:blogger.com,1999:blog-5502.post-991"},
            "published": {"$t": "2023-03-12T09:00:00.000+00:00"},
            "updated": {"$t": updated},
            "title": {"$t": "Dredging in Gdansk"},
            "content": {"type": "html", "$t": format!(
                "<p>The harbour office reported on the dredging work in Gdansk this week.</p>\
                 <p>More of the post, with enough words in it to be an article of its own.</p>{extra}")},
            "link": [{"rel": "alternate", "type": "text/html", "href": url(path)}],
            "author": [{"name": {"$t": "Quay Desk"}}]
        });
        let feed = serde_json::json!({"feed": {
            "id": {"$t": "tag:blogger.com,1999:blog-5502"},
            "title": {"$t": "Quay"},
            "entry": [entry]
        }});
        Response::with_type(200, "application/json", feed.to_string())
    };
    site.set(
        "/feeds/posts/default",
        feed("/2023/03/post-1.html", "2023-03-12T09:00:00.000+00:00", ""),
    );
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("blogger", url("/"))]);
    assert_exit(&run(dir.path()), 0, "first run");
    site.set(
        "/feeds/posts/default",
        feed(
            "/2023/03/dredging-in-gdansk.html",
            "2024-01-02T09:00:00.000+00:00",
            "<p>Update: the work is finished.</p>",
        ),
    );
    assert_exit(&run(dir.path()), 0, "second run");
    let rows: Vec<(String, String)> = {
        let conn = db(dir.path());
        let mut st = conn
            .prepare("SELECT url, body FROM articles WHERE blogger_post_id = '991'")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].1.contains("the work is finished"), "{rows:?}");
    assert_exit(
        &gleaner_in(dir.path(), &["integrity"]),
        0,
        "integrity holds",
    );
}

/// An RSS feed with a stray `<` in one item's title (an unescaped "x<y", "<3"): main's
/// parser refused the whole document, so none of the feed's items was stored while the
/// source failed on every run. The feed is read entry by entry: the items before and after
/// the damage whole, the damaged one by its link, with a warning.
#[test]
fn a_feed_with_a_stray_less_than_sign_keeps_its_other_items() {
    let site = TestServer::start();
    let url = |p: &str| site.url(p);
    let items: String = (1..=3)
        .map(|n| {
            let title = if n == 2 {
                "Tides x<y rising".to_string()
            } else {
                format!("Tides {n}")
            };
            format!(
                "<item><title>{title}</title><link>{}</link>\
                 <pubDate>Mon, 13 Mar 2023 09:00:00 +0000</pubDate></item>",
                url(&format!("/tides/{n}.html"))
            )
        })
        .collect();
    site.set(
        "/rss.xml",
        Response::with_type(
            200,
            "application/rss+xml",
            format!(
                "<?xml version='1.0'?><rss version='2.0'><channel><title>Tide Tables</title>\
                 <link>{}</link><description>News</description>{items}</channel></rss>",
                url("/")
            ),
        ),
    );
    for n in 1..=3 {
        site.set(
            &format!("/tides/{n}.html"),
            news_page(
                &format!("Tide table {n}"),
                &format!("The harbour master published tide table number {n}."),
            ),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", url("/rss.xml"))]);
    let out = run(dir.path());
    let stored = stored_urls(dir.path());
    assert_eq!(
        stored,
        (1..=3)
            .map(|n| url(&format!("/tides/{n}.html")))
            .collect::<Vec<_>>(),
        "{}",
        stderr(&out)
    );
    assert_exit(&out, 0, "every item read");
    assert_says(&out, "not well-formed XML: read entry by entry");
}

/// A page whose `<title>` and heading are a megabyte (a body pasted into the title field, a
/// hostile page), and a feed item whose author and category are a megabyte each: main stored
/// them whole, in the row and every listing of it. They are cut at 1 KiB (title) and 256
/// bytes (author, each label) on a character boundary.
#[test]
fn a_megabyte_title_author_or_label_is_capped() {
    let site = TestServer::start();
    let url = |p: &str| site.url(p);
    let huge_title = "Très longue marée ".repeat(60_000);
    site.set(
        "/news/long.html",
        news_page(&huge_title, "The harbour master explains the long tide."),
    );
    let huge_name = "Ö".repeat(500_000);
    site.set(
        "/rss.xml",
        Response::with_type(
            200,
            "application/rss+xml",
            format!(
                "<?xml version='1.0'?><rss version='2.0' \
                 xmlns:content='http://purl.org/rss/1.0/modules/content/' \
                 xmlns:dc='http://purl.org/dc/elements/1.1/'><channel><title>Tides</title>\
                 <link>{home}</link><description>News</description>\
                 <item><title>{huge_title}</title><link>{long}</link>\
                 <pubDate>Mon, 13 Mar 2023 09:00:00 +0000</pubDate></item>\
                 <item><title>Short title</title><link>{full}</link><dc:creator>{huge_name}</dc:creator>\
                 <category>{huge_name}</category><category>Tides</category>\
                 <pubDate>Mon, 13 Mar 2023 09:00:00 +0000</pubDate>\
                 <content:encoded><![CDATA[<p>The whole text of the post is in the feed, \
                 long enough to be an article of its own about the harbour and its tides.</p>\
                 <p>A second paragraph says more about the tides of the season.</p>]]>\
                 </content:encoded></item></channel></rss>",
                home = url("/"),
                long = url("/news/long.html"),
                full = url("/news/full.html"),
            ),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    config(
        dir.path(),
        "max_body_bytes = 16000000\n",
        &[("feed", url("/rss.xml"))],
    );
    let out = run(dir.path());
    assert_exit(&out, 0, "both stored");
    let conn = db(dir.path());
    let row = |u: &str| -> (String, Option<String>) {
        conn.query_row(
            "SELECT title, author FROM articles WHERE url = ?1",
            [u],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or_else(|e| panic!("{u}: {e}\n{}", stderr(&out)))
    };
    let (title, _) = row(&url("/news/long.html"));
    assert!(
        (1..=1024).contains(&title.len()),
        "title of {} bytes",
        title.len()
    );
    assert!(title.starts_with("Très longue marée"), "{title}");
    let (_, author) = row(&url("/news/full.html"));
    let author = author.unwrap_or_default();
    assert!(
        (1..=256).contains(&author.len()),
        "author of {} bytes",
        author.len()
    );
    let longest_label: i64 = conn
        .query_row(
            "SELECT max(length(CAST(label AS BLOB))) FROM article_labels",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        (1..=256).contains(&longest_label),
        "label of {longest_label} bytes"
    );
}

/// A blog whose robots.txt disallows `/feeds/` and names its sitemaps (`Sitemap:` lines, one
/// of them the blog's Atom feed under another address, as Blogger's custom robots.txt guides
/// have it): main read only `/sitemap.xml`, and the posts listed only in the named sitemaps
/// were never stored while the run said ok. The named sitemaps on the blog's host are read too.
#[test]
fn the_sitemaps_robots_txt_names_are_read_when_the_feed_is_disallowed() {
    let blog = BlogServer::start("Dock Notes", 45, FeedMode::Summary, 12, Duration::ZERO);
    let posts = blog.posts();
    let urlset = |posts: &[blogsim::Post]| {
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
        format!(
            "<?xml version='1.0' encoding='UTF-8'?><urlset \
             xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{entries}</urlset>"
        )
    };
    let atom_entries: String = posts[8..]
        .iter()
        .map(|p| {
            format!(
                "<entry><title>Post</title><link rel='alternate' href='{}'/>\
                 <updated>{}</updated></entry>",
                blog.url(&p.path),
                blogsim::stamp(p.updated)
            )
        })
        .collect();
    blog.set_route("/sitemap.xml", "application/xml", urlset(&posts[..4]));
    blog.set_route("/sitemap-more.xml", "application/xml", urlset(&posts[4..8]));
    blog.set_route(
        "/atom.xml",
        "application/atom+xml",
        format!(
            "<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><title>Dock \
             Notes</title>{atom_entries}</feed>"
        ),
    );
    blog.set_route(
        "/robots.txt",
        "text/plain",
        format!(
            "User-agent: *\nDisallow: /feeds/\nDisallow: /search\nAllow: /\n\n\
             Sitemap: {}\nSitemap: {}\nSitemap: {}\nSitemap: http://elsewhere.invalid/sitemap.xml\n",
            blog.url("/sitemap.xml"),
            blog.url("/sitemap-more.xml"),
            blog.url("/atom.xml?redirect=false&start-index=1&max-results=500"),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("blogger", blog.home())]);
    let out = run(dir.path());
    assert_eq!(stored_urls(dir.path()).len(), 12, "{}", stderr(&out));
    assert_exit(&out, 0, "read through the sitemaps");
    assert_eq!(
        blog.hits().iter().filter(|h| h.is_feed()).count(),
        0,
        "no feed request"
    );
}

/// A feed that lists a post as `…/a.html?utm_source=rss&utm_medium=feed` one run and as
/// `…/a.html` the next (an item edited, a feed service switched off), with no canonical link
/// on the page: main stored it twice, one row per address. Tracking parameters are no part
/// of the address a listed page is fetched and stored under.
#[test]
fn a_post_listed_with_tracking_parameters_then_without_is_one_row() {
    let site = TestServer::start();
    let url = |p: &str| site.url(p);
    let a = url("/news/a.html");
    let tracked = format!("{a}?utm_source=rss&amp;utm_medium=feed");
    site.set(
        "/rss.xml",
        rss(
            &[(
                tracked.as_str(),
                "Dredging starts",
                "Mon, 13 Mar 2023 09:00:00 +0000",
                None,
            )],
            None,
        ),
    );
    site.set(
        "/news/a.html",
        news_page("Dredging starts", "Dredging of the inner harbour starts."),
    );
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", url("/rss.xml"))]);
    let first = run(dir.path());
    assert_exit(&first, 0, "first run");
    site.set(
        "/rss.xml",
        rss(
            &[(
                a.as_str(),
                "Dredging starts",
                "Tue, 14 Mar 2023 09:00:00 +0000",
                None,
            )],
            None,
        ),
    );
    let second = run(dir.path());
    assert_exit(&second, 0, "second run");
    assert_eq!(stored_urls(dir.path()), [a], "{}", stderr(&second));
}
