//! End to end, the sixth round of hostile sources: what an adversarial look found after round
//! five. Each test is a source or a server behaving as real ones do, served from 127.0.0.1,
//! with the real binary and a real SQLite file.
//!
//! `GLEANER_TEST_BIN=/path/to/gleaner` runs these tests against another build (the session's
//! start, to see the faults); by default they run the binary of this tree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Child;
use std::time::{Duration, Instant};

use common::hostile::{
    Moments, assert_exit, assert_says, config, db, gleaner_in, news_page, rss_channel, run,
    sitemap, spawn_run, stored_articles, text_about,
};
use common::{Response, TestServer, stderr};

/// The child's exit code, or `None` (after killing it) when it is still running at `limit`.
fn exit_within(child: &mut Child, limit: Duration) -> Option<Option<i32>> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status.code());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn recently() -> String {
    (chrono::Utc::now() - chrono::Duration::minutes(30))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A site whose robots.txt asks for a day between requests (`Crawl-delay: 86400`; hostile, or
/// a typo for 86.4). main honoured it up to a day: the run read robots.txt, then waited a day
/// before the sitemap and a day before each page, and every cron run after it exited 3 on
/// the lock, so no source at all was read for days. A Crawl-delay is honoured up to
/// `max_retry_after_secs` (like a `Retry-After`), with a warning.
#[test]
fn a_crawl_delay_of_a_day_does_not_hold_the_run() {
    let site = TestServer::start();
    site.set(
        "/robots.txt",
        Response::with_type(200, "text/plain", "User-agent: *\nCrawl-delay: 86400\n"),
    );
    let post = site.url("/news/fees.html");
    site.set(
        "/sitemap.xml",
        sitemap(&[(post.clone(), "2024-03-01T09:00:00Z")]),
    );
    site.set(
        "/news/fees.html",
        news_page(
            "Harbour fees rise",
            "Fees rise by four per cent from April.",
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    config(
        dir.path(),
        "max_retry_after_secs = 1",
        &[("sitemap", site.url("/sitemap.xml"))],
    );
    let mut child = spawn_run(dir.path());
    let code = exit_within(&mut child, Duration::from_secs(60));
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    assert_eq!(
        code,
        Some(Some(0)),
        "the run was still waiting on the Crawl-delay after 60 s (killed)\n{err}"
    );
    assert!(err.contains("Crawl-delay"), "said: {err}");
    let rows = stored_articles(dir.path());
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, post);
}

/// A stored post whose page, listed as changed, answers 200 with an error page: a "503
/// Service Unavailable" from a proxy, WordPress's "Error establishing a database connection",
/// a Cloudflare "Just a moment..." check, a soft "Page not found". main stored each as the
/// post (`updated`, run `ok`): the post's text was gone, and since its listing no longer
/// dated it as changed, the real page was never fetched again. The stored copy is kept; the
/// server errors are failures to retry (run `partial`), the "not found" a skip like a 404;
/// once the pages are back the next look stores nothing new and loses nothing.
#[test]
fn an_error_page_served_with_200_does_not_replace_the_post() {
    let site = TestServer::start();
    let pages = [
        ("/news/fees.html", "Harbour fees rise"),
        ("/news/cranes.html", "Four new cranes"),
        ("/news/boats.html", "Pilot boats renamed"),
        ("/news/quay.html", "Quay wall repaired"),
    ];
    let listed = |lastmod: &str| {
        sitemap(
            &pages
                .iter()
                .map(|(p, _)| (site.url(p), lastmod.to_string()))
                .collect::<Vec<_>>(),
        )
    };
    for (path, title) in pages {
        site.set(path, news_page(title, &text_about(title)));
    }
    site.set("/sitemap.xml", listed("2024-03-01T09:00:00Z"));
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("sitemap", site.url("/sitemap.xml"))]);
    assert_exit(&run(dir.path()), 0, "first run");
    let before = stored_articles(dir.path());
    assert_eq!(before.len(), 4, "{before:?}");

    // The site breaks; its sitemap says every page changed.
    site.set(
        "/news/fees.html",
        Response::html(
            "<html><head><title>503 Service Unavailable</title></head><body>\
             <h1>Service Unavailable</h1><p>The server is temporarily unable to service your \
             request due to maintenance downtime or capacity problems. Please try again \
             later.</p></body></html>",
        ),
    );
    site.set(
        "/news/cranes.html",
        Response::html(
            "<!DOCTYPE html><html><head><title>Database Error</title></head><body>\
             <h1>Error establishing a database connection</h1></body></html>",
        ),
    );
    site.set(
        "/news/boats.html",
        Response::html(
            "<html><head><title>Just a moment...</title></head><body><p>Checking if the site \
             connection is secure. harbour.example needs to review the security of your \
             connection before proceeding.</p></body></html>",
        ),
    );
    site.set(
        "/news/quay.html",
        Response::html(
            "<html><head><title>Page not found</title></head><body><h1>Page not found</h1>\
             <p>Sorry, the page you were looking for could not be found.</p></body></html>",
        ),
    );
    site.set("/sitemap.xml", listed(&recently()));
    let out = run(dir.path());
    assert_eq!(
        stored_articles(dir.path()),
        before,
        "the stored posts are kept\n{}",
        stderr(&out)
    );
    assert_exit(&out, 1, "the run with error pages");
    assert_says(&out, "error page");

    // The site is back: nothing lost, nothing twice.
    for (path, title) in pages {
        site.set(path, news_page(title, &text_about(title)));
    }
    db(dir.path())
        .execute(
            "UPDATE fetch_state SET next_retry_at = '2020-01-01T00:00:00Z' \
             WHERE next_retry_at IS NOT NULL",
            [],
        )
        .unwrap();
    assert_exit(&run(dir.path()), 0, "the run after the site is back");
    assert_eq!(stored_articles(dir.path()), before);
}

/// A sitemap that lists its child sitemaps as `<url>` entries (a `<urlset>` where a
/// `<sitemapindex>` belongs; seen in hand-made and plugin sitemaps), one of them gzipped, next
/// to a page. main fetched each child sitemap as a page and stored its raw XML as a title-less
/// "article" (run `ok`), and never read the posts they list. They are read as the sitemaps
/// they are; a re-read adds nothing.
#[test]
fn a_sitemap_listing_its_child_sitemaps_as_pages_is_read_through_them() {
    let site = TestServer::start();
    let posts = [
        ("/news/fees.html", "Harbour fees rise"),
        ("/news/cranes.html", "Four new cranes"),
        ("/news/boats.html", "Pilot boats renamed"),
    ];
    for (path, title) in posts {
        site.set(path, news_page(title, &text_about(title)));
    }
    site.set(
        "/about.html",
        news_page("About the Harbour Post", &text_about("The paper")),
    );
    let date = "2024-03-01T09:00:00Z";
    site.set(
        "/sitemap.xml",
        sitemap(&[
            (site.url("/post-sitemap.xml"), date),
            (site.url("/sitemap-posts-2.xml.gz"), date),
            (site.url("/about.html"), date),
        ]),
    );
    site.set(
        "/post-sitemap.xml",
        sitemap(&[(site.url(posts[0].0), date), (site.url(posts[1].0), date)]),
    );
    let second = sitemap(&[(site.url(posts[2].0), date)]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &second.body).unwrap();
    site.set(
        "/sitemap-posts-2.xml.gz",
        Response::with_type(200, "application/x-gzip", gz.finish().unwrap()),
    );
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("sitemap", site.url("/sitemap.xml"))]);
    for n in 1..=2 {
        let out = run(dir.path());
        assert_exit(&out, 0, &format!("run {n}"));
        let rows = stored_articles(dir.path());
        let titles: Vec<&str> = rows.iter().map(|(_, t, _)| t.as_str()).collect();
        assert!(
            rows.iter().all(|(u, _, _)| !u.contains("sitemap")),
            "run {n}: a sitemap stored as an article: {rows:?}"
        );
        assert_eq!(rows.len(), 4, "run {n}: {titles:?}\n{}", stderr(&out));
        for (_, title) in posts {
            assert!(
                titles.contains(&title),
                "run {n}: {title} not read: {titles:?}"
            );
        }
    }
}

/// `gleaner scrape` of a feed's or a sitemap's address (a user pasting the link the site
/// shows), and a sitemap that lists its feed as a page: main stored each document's raw XML
/// as an article with no title ("http://…/a.html2024-03-01T09:00:00Z…", exit 0). A listing
/// document is not a page: nothing stored, said.
#[test]
fn a_feed_or_sitemap_fetched_as_a_page_is_not_stored_as_an_article() {
    let site = TestServer::start();
    let post = site.url("/news/fees.html");
    site.set(
        "/news/fees.html",
        news_page("Harbour fees rise", &text_about("The rise in harbour fees")),
    );
    site.set(
        "/feed.xml",
        rss_channel(
            &format!(
                "<item><title>Harbour fees rise</title><link>{post}</link>\
                 <pubDate>Fri, 01 Mar 2024 09:00:00 GMT</pubDate>\
                 <description>Fees rise.</description></item>"
            ),
            None,
        ),
    );
    site.set(
        "/sitemap.xml",
        sitemap(&[
            (post.clone(), "2024-03-01T09:00:00Z"),
            (site.url("/feed.xml"), "2024-03-01T09:00:00Z"),
        ]),
    );
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("sitemap", site.url("/sitemap.xml"))]);
    for address in ["/feed.xml", "/sitemap.xml"] {
        let out = gleaner_in(dir.path(), &["scrape", &site.url(address)]);
        let rows = stored_articles(dir.path());
        assert!(
            rows.is_empty(),
            "scrape {address}: stored {rows:?}\n{}",
            stderr(&out)
        );
        assert_says(&out, "not a page");
    }
    let out = run(dir.path());
    assert_exit(&out, 0, "run");
    let rows = stored_articles(dir.path());
    let urls: Vec<&str> = rows.iter().map(|(u, _, _)| u.as_str()).collect();
    assert_eq!(urls, [post.as_str()], "{}", stderr(&out));
}

/// An RSS item: title, link, guid, date and the whole text.
fn whole_item(title: &str, link: Option<&str>, guid: Option<&str>, date: &str) -> String {
    let link = link
        .map(|l| format!("<link>{l}</link>"))
        .unwrap_or_default();
    let guid = guid
        .map(|g| format!("<guid isPermaLink='false'>{g}</guid>"))
        .unwrap_or_default();
    format!(
        "<item><title>{title}</title>{link}{guid}<pubDate>{date}</pubDate>\
         <description>{title}</description><content:encoded><![CDATA[<p>{}</p>]]>\
         </content:encoded></item>",
        text_about(title)
    )
}

/// A CMS that fills every item's `<link>` with the site's address, read first while its feed
/// listed one post. main stored that post under the site's address (the home page), then,
/// once a second post shared the link, again under an address of its own: the first post
/// twice. An item linking the home page (or a label or archive listing) has an address of
/// its own from the start: one row per post over every run.
#[test]
fn a_post_linked_to_the_home_page_is_one_row_when_more_posts_share_the_link() {
    let site = TestServer::start();
    let home = site.url("/");
    site.set(
        "/",
        news_page("Harbour Post", "The latest news from the harbour."),
    );
    let posts = [
        ("Harbour fees rise", "Fri, 01 Mar 2024 09:00:00 GMT"),
        ("Four new cranes", "Sat, 02 Mar 2024 09:00:00 GMT"),
        ("Pilot boats renamed", "Sun, 03 Mar 2024 09:00:00 GMT"),
    ];
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", site.url("/feed.xml"))]);
    for n in 1..=posts.len() + 1 {
        // Newest first, one more post a run (the last run re-reads).
        let items: String = posts[..n.min(posts.len())]
            .iter()
            .enumerate()
            .rev()
            .map(|(i, (title, date))| {
                whole_item(
                    title,
                    Some(&home),
                    Some(&format!("tag:harbour,2024:{i}")),
                    date,
                )
            })
            .collect();
        site.set("/feed.xml", rss_channel(&items, None));
        let out = run(dir.path());
        assert_exit(&out, 0, &format!("run {n}"));
        let rows = stored_articles(dir.path());
        let titles: Vec<&str> = rows.iter().map(|(_, t, _)| t.as_str()).collect();
        assert_eq!(
            rows.len(),
            n.min(posts.len()),
            "run {n}: {rows:?}\n{}",
            stderr(&out)
        );
        for (title, _) in &posts[..n.min(posts.len())] {
            assert_eq!(
                titles.iter().filter(|t| *t == title).count(),
                1,
                "run {n}: {title}: {titles:?}"
            );
        }
        assert!(
            rows.iter().all(|(u, _, _)| u != &home),
            "run {n}: no post under the home page's address: {rows:?}"
        );
    }
}

/// A feed of posts without links (each its whole text and a guid), paged three items a page
/// with `rel='next'`. main addressed such a post within the feed page it was listed on
/// (`…/feed.xml?page=2#item-…`): when a post was published on top, the last post of each
/// page moved to the next page and was stored again under that page's address. They are
/// addressed within the feed: a new post is one new row.
#[test]
fn linkless_posts_that_move_to_another_feed_page_stay_one_row() {
    let site = TestServer::start();
    let publish = |n: usize| {
        let items: Vec<String> = (0..n)
            .rev()
            .map(|i| {
                whole_item(
                    &format!("Harbour notice number {i}"),
                    None,
                    Some(&format!("notice-{i}")),
                    &format!("Fri, {:02} Mar 2024 09:00:00 GMT", i + 1),
                )
            })
            .collect();
        let pages: Vec<&[String]> = items.chunks(3).collect();
        for (p, chunk) in pages.iter().enumerate() {
            let path = if p == 0 {
                "/feed.xml".to_string()
            } else {
                format!("/feed.xml?page={}", p + 1)
            };
            let next =
                (p + 1 < pages.len()).then(|| site.url(&format!("/feed.xml?page={}", p + 2)));
            site.set(&path, rss_channel(&chunk.concat(), next.as_deref()));
        }
    };
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", site.url("/feed.xml"))]);
    for n in [5, 6, 7, 7] {
        publish(n);
        let out = run(dir.path());
        assert_exit(&out, 0, &format!("{n} posts"));
        let rows = stored_articles(dir.path());
        let urls: Vec<&str> = rows.iter().map(|(u, _, _)| u.as_str()).collect();
        assert_eq!(rows.len(), n, "{n} posts: {urls:?}\n{}", stderr(&out));
    }
}

/// A small generator for the kill moments (no dependency for so little).
/// The feed of [`killed_while_storing_posts_under_addresses_of_their_own`]: `n` posts newest
/// first over pages of 200 items (`atom:link rel='next'`), each post one of three kinds in
/// turn: items sharing the site's address as `<link>` told apart by `<guid>` (stored under
/// `…/#item-…`), items with no link at all (`…/feed.xml#item-…`, by guid or, with none, by
/// title), and items sharing the link whose guid is a web address on the site (stored under
/// the guid). Returns each post's title.
fn item_feed(site: &TestServer, n: usize) -> Vec<String> {
    let home = site.url("/");
    let mut titles = Vec::new();
    let mut items = Vec::new();
    for i in (0..n).rev() {
        let title = format!("Harbour notice number {i}");
        let date = (chrono::DateTime::parse_from_rfc3339("2024-03-01T09:00:00Z").unwrap()
            + chrono::Duration::minutes(i as i64))
        .to_rfc2822();
        let own = site.url(&format!("/?p={i}"));
        let item = match i % 3 {
            0 => whole_item(
                &title,
                Some(&home),
                Some(&format!("tag:harbour,2024:{i}")),
                &date,
            ),
            1 if i % 2 == 1 => whole_item(&title, None, None, &date),
            1 => whole_item(&title, None, Some(&format!("notice-{i}")), &date),
            _ => whole_item(&title, Some(&home), Some(&own), &date),
        };
        items.push(item);
        titles.push(title);
    }
    let pages: Vec<&[String]> = items.chunks(200).collect();
    for (p, chunk) in pages.iter().enumerate() {
        let path = if p == 0 {
            "/feed.xml".to_string()
        } else {
            format!("/feed.xml?page={}", p + 1)
        };
        let next = (p + 1 < pages.len()).then(|| site.url(&format!("/feed.xml?page={}", p + 2)));
        site.set(&path, rss_channel(&chunk.concat(), next.as_deref()));
    }
    titles
}

/// SIGKILL at random moments while a run stores feed posts that have no page of their own
/// (the round-5 addresses: `#item-` fragments from a guid or a title hash, items under one
/// shared link, linkless items), the feed gaining a post between runs; then runs left to
/// finish. Every post is stored once, with its text, no row is under the shared address, a
/// re-read adds nothing. The kill moments come from a printed seed (`HOSTILE6_KILL_SEED`
/// replays one) and fall within the measured length of an uninterrupted run.
#[test]
fn killed_while_storing_posts_under_addresses_of_their_own() {
    let mut moments = Moments::from_env("HOSTILE6_KILL_SEED");
    let seed = moments.seed;
    let site = TestServer::start();
    site.set(
        "/",
        news_page("Harbour Post", "The latest news from the harbour."),
    );
    let mut posts = 1200;
    item_feed(&site, posts);

    // How long an uninterrupted run takes here, on a scratch database.
    let scratch = tempfile::tempdir().unwrap();
    config(scratch.path(), "", &[("feed", site.url("/feed.xml"))]);
    let started = Instant::now();
    assert_exit(&run(scratch.path()), 0, "a whole run");
    let whole = started.elapsed().as_millis() as u64;

    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", site.url("/feed.xml"))]);
    for round in 0..6 {
        if round % 2 == 1 {
            posts += 1;
            item_feed(&site, posts);
        }
        let mut child = spawn_run(dir.path());
        let wait = moments.next_ms(whole / 10, whole.max(20));
        std::thread::sleep(Duration::from_millis(wait));
        let _ = child.kill();
        let code = exit_within(&mut child, Duration::from_secs(60)).expect("the run stops");
        assert!(
            matches!(code, None | Some(0 | 1)),
            "round {round}: exit {code:?}"
        );
        println!(
            "round {round}: SIGKILL after {wait} ms of ~{whole}: {} articles",
            stored_articles(dir.path()).len()
        );
    }
    let titles = item_feed(&site, posts);
    let mut last = None;
    for _ in 0..2 {
        last = run(dir.path()).status.code();
        if last == Some(0) {
            break;
        }
    }
    assert_eq!(last, Some(0), "a run that owes nothing (seed {seed})");
    let check = |when: &str| {
        let rows = stored_articles(dir.path());
        assert_eq!(rows.len(), posts, "{when}: one row per post (seed {seed})");
        let mut seen: Vec<&str> = rows.iter().map(|(_, t, _)| t.as_str()).collect();
        seen.sort_unstable();
        let mut want: Vec<&str> = titles.iter().map(String::as_str).collect();
        want.sort_unstable();
        assert_eq!(seen, want, "{when}: every post once (seed {seed})");
        for (url, title, body) in &rows {
            assert!(
                body.contains(&format!("{title} was the first matter")),
                "{when}: {url} holds another post's text (seed {seed})"
            );
            assert_ne!(
                url,
                &site.url("/"),
                "{when}: a post under the shared address"
            );
        }
    };
    check("after the kills");
    let out = run(dir.path());
    assert_exit(&out, 0, "a re-read");
    check("after a re-read");
    let integrity = gleaner_in(dir.path(), &["integrity"]);
    assert_exit(&integrity, 0, "gleaner integrity");
}
