//! End to end: `gleaner run` over two Blogger-like blogs with hundreds of posts served from
//! 127.0.0.1 (`tests/blogsim`): paged feeds (one full-content, one summary so post pages are
//! fetched), pages that fail once, one that always fails, one in windows-1252, one cut short;
//! then incremental runs that download only what changed, and a retry of a failed page.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod blogsim;
mod common;

use std::collections::HashMap;
use std::time::Duration;

use blogsim::{BlogServer, Fault, FeedMode, Hit};
use chrono::{SecondsFormat, Utc};
use common::{assert_exit, gleaner, stderr};

const FULL_POSTS: usize = 400;
const SUMMARY_POSTS: usize = 180;

fn write_config(dir: &std::path::Path, blogs: &[(&BlogServer, &str)]) {
    let mut text = String::from(
        "[fetch]\nconcurrency = 16\nper_host_per_second = 2000.0\nmax_attempts = 3\n\
         retry_base_delay_ms = 20\nretry_max_delay_secs = 1\ntimeout_secs = 20\n\
         read_timeout_secs = 10\n",
    );
    for (blog, label) in blogs {
        text.push_str(&format!(
            "\n[[sources]]\nurl = \"{}\"\nkind = \"blogger\"\nname = \"{}\"\nlabels = [\"{label}\"]\n",
            blog.home(),
            blog.name
        ));
    }
    std::fs::write(dir.join("gleaner.toml"), text).unwrap();
}

fn run(dir: &std::path::Path) -> std::process::Output {
    gleaner(dir, &["--config", "gleaner.toml", "--db", "news.db", "run"])
}

fn db(dir: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("news.db")).unwrap()
}

fn count(db: &rusqlite::Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn post_hits(hits: &[Hit]) -> Vec<&Hit> {
    hits.iter().filter(|h| h.is_post()).collect()
}

fn hits_of(hits: &[Hit], path: &str) -> usize {
    hits.iter().filter(|h| h.path() == path).count()
}

/// The last run's (status, discovered, fetched, not_modified, stored, updated, unchanged, failed).
fn last_run(db: &rusqlite::Connection) -> (String, [i64; 7]) {
    db.query_row(
        "SELECT status, discovered, fetched, not_modified, stored, updated, unchanged, failed
           FROM runs ORDER BY id DESC LIMIT 1",
        [],
        |r| {
            Ok((
                r.get(0)?,
                [
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ],
            ))
        },
    )
    .unwrap()
}

struct Row {
    title: String,
    author: Option<String>,
    published_at: Option<String>,
    post_id: Option<String>,
    body: String,
    labels: Vec<String>,
}

fn rows(db: &rusqlite::Connection) -> HashMap<String, Row> {
    let mut st = db
        .prepare(
            "SELECT a.url, a.title, a.author, a.published_at, a.blogger_post_id, a.body,
                    (SELECT group_concat(label, '|') FROM
                        (SELECT label FROM article_labels l WHERE l.article_id = a.id ORDER BY position))
               FROM articles a",
        )
        .unwrap();
    st.query_map([], |r| {
        let labels: Option<String> = r.get(6)?;
        Ok((
            r.get::<_, String>(0)?,
            Row {
                title: r.get(1)?,
                author: r.get(2)?,
                published_at: r.get(3)?,
                post_id: r.get(4)?,
                body: r.get(5)?,
                labels: labels
                    .map(|l| l.split('|').map(str::to_string).collect())
                    .unwrap_or_default(),
            },
        ))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

#[test]
fn run_ingests_paged_blogs_survives_faults_and_then_downloads_only_what_changed() {
    let full = BlogServer::start(
        "Harbour Notes",
        1,
        FeedMode::Full,
        FULL_POSTS,
        Duration::ZERO,
    );
    let summary = BlogServer::start(
        "Quay Reports",
        2,
        FeedMode::Summary,
        SUMMARY_POSTS,
        Duration::ZERO,
    );
    // Feed pages that fail once: a 500 on the full blog's second page, a 429 on the first
    // page of the summary blog.
    full.fault_feed_page(
        151,
        Fault::Fail {
            status: 500,
            times: 1,
            retry_after: None,
        },
    );
    summary.fault_feed_page(
        1,
        Fault::Fail {
            status: 429,
            times: 1,
            retry_after: Some(1),
        },
    );
    summary.fault_post(
        10,
        Fault::Fail {
            status: 500,
            times: 1,
            retry_after: None,
        },
    );
    summary.fault_post(
        11,
        Fault::Fail {
            status: 429,
            times: 1,
            retry_after: Some(1),
        },
    );
    summary.fault_post(
        12,
        Fault::Fail {
            status: 503,
            times: u32::MAX,
            retry_after: None,
        },
    );
    summary.set_paragraphs(
        13,
        &[
            "Caf\u{e9} owners on the quay in Lisbon paid \u{20ac}40 more for a permit, the council said.",
            "\u{201c}We will appeal,\u{201d} said Pedro Alves, who runs the Caf\u{e9} S\u{e3}o Bento.",
        ],
    );
    summary.fault_post(13, Fault::Windows1252);
    summary.fault_post(14, Fault::Truncate);
    let failing = [summary.post_url(12), summary.post_url(14)];

    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &[(&full, "harbour"), (&summary, "quay")]);

    // ---- Run 1: everything, with faults.
    let first = run(dir.path());
    assert_exit(&first, 1);
    assert!(
        stderr(&first).contains("run finished"),
        "{}",
        stderr(&first)
    );
    // The 400-post blog is read completely, in feed pages of 150, each page asking for the
    // posts published before the oldest of the page above it (keyset paging, no offsets).
    let mut starts: Vec<String> = full
        .hits()
        .iter()
        .filter(|h| h.is_feed() && h.status == 200)
        .map(|h| {
            assert!(h.target.contains("max-results=150"), "{}", h.target);
            assert!(h.target.contains("orderby=published"), "{}", h.target);
            assert!(!h.target.contains("start-index"), "{}", h.target);
            h.target
                .split(['?', '&'])
                .find_map(|p| p.strip_prefix("published-max="))
                .unwrap_or("-")
                .to_string()
        })
        .collect();
    starts.sort();
    starts.dedup();
    // Page 1 holds posts 399..250; page 2 asks for those before the second after post 250's,
    // so it lists post 250 again (dropped) and 249..101; page 3 the rest.
    let second_after = |n: usize| {
        (full.post(n).published + chrono::Duration::seconds(1))
            .to_rfc3339_opts(SecondsFormat::Secs, true)
            .replace(".250", "")
    };
    let mut expected = vec!["-".to_string(), second_after(250), second_after(101)];
    expected.sort();
    assert_eq!(starts, expected, "feed pages of the full blog");

    let conn = db(dir.path());
    let stored = rows(&conn);
    let good = FULL_POSTS + SUMMARY_POSTS - failing.len();
    assert_eq!(stored.len(), good, "every good post, once");
    assert_eq!(
        count(
            &conn,
            "SELECT count(DISTINCT blogger_post_id) FROM articles"
        ),
        good as i64
    );
    for (blog, label) in [(&full, "harbour"), (&summary, "quay")] {
        for post in blog.posts() {
            let url = blog.url(&post.path);
            if failing.contains(&url) {
                assert!(!stored.contains_key(&url), "{url} failed, nothing stored");
                continue;
            }
            let row = stored.get(&url).unwrap_or_else(|| panic!("{url} stored"));
            assert_eq!(row.title, post.title, "{url}");
            assert_eq!(row.author.as_deref(), Some(post.author.as_str()), "{url}");
            assert_eq!(
                row.published_at.as_deref(),
                Some(
                    post.published
                        .to_rfc3339_opts(SecondsFormat::Secs, true)
                        .as_str()
                ),
                "{url}"
            );
            assert_eq!(row.post_id.as_deref(), Some(post.post_id.as_str()), "{url}");
            let mut labels = post.labels.clone();
            labels.push(label.to_string());
            assert_eq!(row.labels, labels, "{url}");
            for paragraph in &post.paragraphs {
                assert!(row.body.contains(paragraph.as_str()), "{url}: {}", row.body);
            }
            assert!(
                !row.body.contains("Powered by") && !row.body.contains("Only a member"),
                "{url}: {}",
                row.body
            );
        }
    }
    let w1252 = &stored[&summary.post_url(13)];
    assert!(
        w1252.body.contains("Caf\u{e9} S\u{e3}o Bento") && w1252.body.contains("\u{20ac}40"),
        "windows-1252 decoded from the <meta>: {}",
        w1252.body
    );
    // The failures are recorded, with a time to try again.
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    for url in &failing {
        let (failures, error, retry_at): (i64, String, String) = conn
            .query_row(
                "SELECT failures, last_error, next_retry_at FROM fetch_state WHERE url = ?1",
                [url],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(failures, 1, "{url}: {error}");
        assert!(retry_at > now, "{url}: retry at {retry_at}");
    }
    let (status, c) = last_run(&conn);
    assert_eq!(status, "partial");
    assert_eq!((c[3], c[6]), (good as i64, 2), "stored, failed: {c:?}");
    // Failed-once pages were retried within the run; the 503 one up to max_attempts.
    let hits = summary.hits();
    assert_eq!(hits_of(&hits, &summary.post(10).path), 2);
    assert_eq!(hits_of(&hits, &summary.post(11).path), 2);
    assert_eq!(hits_of(&hits, &summary.post(12).path), 3);
    assert_eq!(hits_of(&hits, &summary.post(20).path), 1);
    assert_eq!(
        post_hits(&full.hits()).len(),
        0,
        "full feed: no page fetched"
    );
    assert_eq!(
        post_hits(&hits).len(),
        SUMMARY_POSTS - 4 + 2 + 2 + 3 + hits_of(&hits, &summary.post(14).path)
    );

    // ---- Run 2: one post edited in each blog.
    full.edit_post(
        5,
        "Update: the harbour master confirmed the figures on Friday.",
    );
    summary.edit_post(20, "Update: the quay reopened to lorries on Thursday.");
    full.clear_hits();
    summary.clear_hits();
    let second = run(dir.path());
    assert_exit(&second, 0);
    let (fh, sh) = (full.hits(), summary.hits());
    let feeds: Vec<&Hit> = fh.iter().chain(&sh).filter(|h| h.is_feed()).collect();
    // Per blog: the page of posts updated since the cut-off, and the page of posts published
    // since it (a scheduled post goes live with an older `updated`).
    assert_eq!(feeds.len(), 4, "two feed pages per blog: {feeds:?}");
    let by_updated = feeds
        .iter()
        .filter(|h| h.target.contains("updated-min="))
        .count();
    let by_published = feeds
        .iter()
        .filter(|h| h.target.contains("published-min="))
        .count();
    assert_eq!((by_updated, by_published), (2, 2), "{feeds:?}");
    assert!(post_hits(&fh).is_empty());
    // The edited post is fetched again (200); the post at the updated-min boundary is asked
    // for with its ETag and answered 304; the failing pages are left alone until their time.
    let mut pages: Vec<(String, u16, bool)> = post_hits(&sh)
        .iter()
        .map(|h| (h.path().to_string(), h.status, h.conditional))
        .collect();
    pages.sort();
    let mut expected = vec![
        (summary.post(20).path, 200, true),
        (summary.post(SUMMARY_POSTS - 1).path, 304, true),
    ];
    expected.sort();
    assert_eq!(pages, expected);
    let stored = rows(&conn);
    assert_eq!(stored.len(), good, "nothing stored twice");
    assert!(
        stored[&full.post_url(5)]
            .body
            .contains("harbour master confirmed")
    );
    assert!(stored[&summary.post_url(20)].body.contains("quay reopened"));
    let (status, c) = last_run(&conn);
    assert_eq!(status, "ok");
    // discovered, fetched, not_modified, stored, updated, unchanged, failed
    assert_eq!(c[1..], [1, 1, 0, 2, 1, 0], "{c:?}");

    // ---- Run 3: the 503 page's retry time has come and it works now; the cut-short page
    // is not due, but its post was edited after the failure, so the feed brings it back.
    conn.execute(
        "UPDATE fetch_state SET next_retry_at = '2001-01-01T00:00:00Z' WHERE url = ?1",
        [&failing[0]],
    )
    .unwrap();
    summary.clear_fault_post(12);
    summary.clear_fault_post(14);
    summary.edit_post(14, "Update: the full report is now online.");
    full.clear_hits();
    summary.clear_hits();
    let third = run(dir.path());
    assert_exit(&third, 0);
    let sh = summary.hits();
    assert_eq!(hits_of(&sh, &summary.post(12).path), 1, "retry queue");
    assert_eq!(hits_of(&sh, &summary.post(14).path), 1, "listed as changed");
    let stored = rows(&conn);
    assert_eq!(stored.len(), good + 2);
    assert!(
        stored[&failing[1]]
            .body
            .contains("full report is now online")
    );
    for url in &failing {
        let (failures, retry_at): (i64, Option<String>) = conn
            .query_row(
                "SELECT failures, next_retry_at FROM fetch_state WHERE url = ?1",
                [url],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((failures, retry_at), (0, None), "{url}");
    }

    // ---- Run 4: nothing changed since run 3. The full blog's feed URL is the one run 3
    // asked for (same updated-min): 304. The summary blog's newest post changed in run 3, so
    // its updated-min is new: 200, listing only the boundary post, which answers 304.
    full.clear_hits();
    summary.clear_hits();
    let fourth = run(dir.path());
    assert_exit(&fourth, 0);
    let (fh, sh) = (full.hits(), summary.hits());
    let statuses = |hits: &[Hit], feed: bool| -> Vec<u16> {
        hits.iter()
            .filter(|h| if feed { h.is_feed() } else { h.is_post() })
            .filter(|h| !h.target.contains("published-min="))
            .map(|h| h.status)
            .collect()
    };
    let published_since = |hits: &[Hit]| -> Vec<u16> {
        hits.iter()
            .filter(|h| h.target.contains("published-min="))
            .map(|h| h.status)
            .collect()
    };
    assert_eq!(statuses(&fh, true), [304], "{fh:?}");
    assert_eq!(published_since(&fh), [304], "{fh:?}");
    assert_eq!(statuses(&fh, false), [0u16; 0], "{fh:?}");
    assert_eq!(statuses(&sh, true), [200], "{sh:?}");
    assert_eq!(published_since(&sh), [200], "{sh:?}");
    assert_eq!(statuses(&sh, false), [304], "{sh:?}");

    // ---- Run 5: still nothing changed: both feeds answer 304, no post page is asked for.
    full.clear_hits();
    summary.clear_hits();
    let fifth = run(dir.path());
    assert_exit(&fifth, 0);
    let all: Vec<Hit> = full.hits().into_iter().chain(summary.hits()).collect();
    assert!(post_hits(&all).is_empty(), "{all:?}");
    let feeds: Vec<&Hit> = all.iter().filter(|h| h.is_feed()).collect();
    assert_eq!(feeds.len(), 4, "{feeds:?}");
    assert!(
        feeds.iter().all(|h| h.status == 304 && h.conditional),
        "{feeds:?}"
    );
    assert_eq!(rows(&conn).len(), good + 2);
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM (SELECT url FROM articles GROUP BY url HAVING count(*) > 1)"
        ),
        0
    );
    // Only the feed pages of the last read keep their state (not one row per run).
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM fetch_state WHERE url LIKE '%/feeds/posts/default?%'"
        ),
        4
    );
}

/// A plain news page (no Blogger markup) for the generic extractor.
fn news_page(title: &str, paragraphs: &[&str]) -> String {
    let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>\n")).collect();
    format!(
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title} | Dock Daily</title>\
         <meta property='og:title' content='{title}'><meta property='og:site_name' content='Dock Daily'></head>\
         <body><header><nav><a href='/'>Home</a> <a href='/about'>About</a></nav></header>\
         <main><article><h1>{title}</h1>{body}</article></main>\
         <footer>Copyright Dock Daily</footer></body></html>"
    )
}

fn rss(server: &BlogServer, items: &[(&str, &str, &str, Option<&str>)]) -> String {
    let items: String = items
        .iter()
        .map(|(slug, title, date, content)| {
            let content = content
                .map(|c| format!("<content:encoded><![CDATA[{c}]]></content:encoded>"))
                .unwrap_or_default();
            format!(
                "<item><title>{title}</title><link>{}</link><guid>{}</guid><pubDate>{date}</pubDate>\
                 <description>A short summary.</description>{content}</item>",
                server.url(&format!("/news/{slug}.html")),
                server.url(&format!("/news/{slug}.html")),
            )
        })
        .collect();
    format!(
        "<?xml version='1.0' encoding='UTF-8'?><rss version='2.0' xmlns:content='http://purl.org/rss/1.0/modules/content/'>\
         <channel><title>Dock Daily</title><link>{}</link><description>News from the docks</description>{items}</channel></rss>",
        server.home()
    )
}

const LONG_1: &str = "Dock workers in Rotterdam voted on Tuesday to accept a new wage offer from the port employers, ending a dispute that had lasted since the spring.";
const LONG_2: &str = "The agreement raises pay by 6% over two years, union leader Jonas Berg told reporters outside the hall, and adds a second rest day in the busy season.";
const LONG_3: &str = "Shipping lines had warned that further strikes would push cargo towards Antwerp and Hamburg, where terminals have spare capacity this year.";

#[test]
fn feed_and_sitemap_sources_are_read_incrementally_with_their_own_fetch_settings() {
    let site = BlogServer::start("Dock Daily", 5, FeedMode::Full, 0, Duration::ZERO);
    let mut feed_items = vec![
        (
            "wage-deal",
            "Rotterdam dock workers accept wage deal",
            "Tue, 14 Mar 2023 09:00:00 +0000",
            Some(
                "<p>Dock workers in Rotterdam voted on Tuesday to accept a new wage offer.</p><p>The agreement raises pay by 6% over two years.</p>",
            ),
        ),
        (
            "ferry-fares",
            "Ferry fares to rise in April",
            "Wed, 15 Mar 2023 09:00:00 +0000",
            None,
        ),
    ];
    site.set_route("/rss.xml", "application/rss+xml", rss(&site, &feed_items));
    site.set_route(
        "/news/ferry-fares.html",
        "text/html; charset=utf-8",
        news_page(
            "Ferry fares to rise in April",
            &[
                "Ferry operators between Gothenburg and Frederikshavn will raise fares by 4% in April, citing fuel costs and new port fees announced last month.",
                LONG_2,
                LONG_3,
            ],
        ),
    );
    let other = BlogServer::start("Quay Maps", 6, FeedMode::Full, 0, Duration::ZERO);
    other.set_route(
        "/sitemap.xml",
        "application/xml",
        sitemap_index(&[other.url("/sitemap-news.xml")]),
    );
    other.set_route(
        "/sitemap-news.xml",
        "application/xml",
        sitemap_urlset(&[
            (other.url("/news/pilots.html"), "2023-03-10"),
            (other.url("/news/cranes.html"), "2023-03-11"),
            (other.url("/news/broken.html"), "2023-03-12"),
        ]),
    );
    other.set_route(
        "/news/pilots.html",
        "text/html; charset=utf-8",
        news_page("Pilot shortage eases", &[LONG_1, LONG_3, LONG_2]),
    );
    other.set_route(
        "/news/cranes.html",
        "text/html; charset=utf-8",
        news_page(
            "New cranes for Gdansk",
            &[
                "The container terminal in Gdansk took delivery of four ship-to-shore cranes on Monday, each taller than the old lighthouse at the harbour mouth.",
                LONG_3,
                LONG_2,
            ],
        ),
    );
    // The broken page: always 500. The sitemap source allows one attempt, the feed three.
    other.fault_path("/news/broken.html", 500);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gleaner.toml"),
        format!(
            "[fetch]\nper_host_per_second = 2000.0\nmax_attempts = 3\nretry_base_delay_ms = 20\n\n\
             [[sources]]\nurl = \"{}\"\nname = \"Dock Daily\"\n\n\
             [[sources]]\nurl = \"{}\"\nlabels = [\"maps\"]\n[sources.fetch]\nmax_attempts = 1\n",
            site.url("/rss.xml"),
            other.url("/sitemap.xml"),
        ),
    )
    .unwrap();

    let first = run(dir.path());
    assert_exit(&first, 1);
    assert_eq!(
        hits_of(&other.hits(), "/news/broken.html"),
        1,
        "the source's own max_attempts"
    );
    let conn = db(dir.path());
    let stored = rows(&conn);
    assert_eq!(stored.len(), 4, "{:?}", stored.keys().collect::<Vec<_>>());
    let deal = &stored[&site.url("/news/wage-deal.html")];
    assert_eq!(deal.title, "Rotterdam dock workers accept wage deal");
    assert!(deal.body.contains("raises pay by 6%"), "{}", deal.body);
    let fares = &stored[&site.url("/news/ferry-fares.html")];
    assert!(fares.body.contains("Frederikshavn"), "{}", fares.body);
    assert!(!fares.body.contains("Copyright"), "{}", fares.body);
    let cranes = &stored[&other.url("/news/cranes.html")];
    assert_eq!(cranes.labels, ["maps"]);

    // Nothing changed: the feed answers 304, the index is read again, the child sitemap
    // answers 304, and no page is asked for (the broken one waits for its retry time).
    site.clear_hits();
    other.clear_hits();
    let second = run(dir.path());
    assert_exit(&second, 0);
    let hits: Vec<Hit> = site.hits().into_iter().chain(other.hits()).collect();
    let seen: Vec<(String, u16)> = hits
        .iter()
        .filter(|h| h.path() != "/robots.txt")
        .map(|h| (h.path().to_string(), h.status))
        .collect();
    assert_eq!(
        seen.len(),
        3,
        "feed 304, sitemap index, child sitemap 304: {seen:?}"
    );
    assert!(seen.contains(&("/rss.xml".to_string(), 304)), "{seen:?}");
    assert!(
        seen.contains(&("/sitemap.xml".to_string(), 200)),
        "{seen:?}"
    );
    assert!(
        seen.contains(&("/sitemap-news.xml".to_string(), 304)),
        "{seen:?}"
    );

    // A new summary item: its page is fetched; items older than the newest seen are left
    // alone, the one at the boundary is asked for with its validators (304).
    feed_items.push((
        "new-berth",
        "A new berth for cruise ships",
        "Thu, 16 Mar 2023 09:00:00 +0000",
        None,
    ));
    site.set_route("/rss.xml", "application/rss+xml", rss(&site, &feed_items));
    site.set_route(
        "/news/new-berth.html",
        "text/html; charset=utf-8",
        news_page(
            "A new berth for cruise ships",
            &[
                "Bergen will open a new berth for cruise ships in June, the harbour authority said, with shore power for two vessels at a time.",
                LONG_1,
                LONG_3,
            ],
        ),
    );
    site.clear_hits();
    let third = run(dir.path());
    assert_exit(&third, 0);
    let mut pages: Vec<(String, u16)> = site
        .hits()
        .iter()
        .filter(|h| h.path().starts_with("/news/"))
        .map(|h| (h.path().to_string(), h.status))
        .collect();
    pages.sort();
    assert_eq!(
        pages,
        [
            ("/news/ferry-fares.html".to_string(), 304),
            ("/news/new-berth.html".to_string(), 200)
        ]
    );
    assert_eq!(rows(&conn).len(), 5);

    // `gleaner sources` shows each source's state.
    let out = gleaner(
        dir.path(),
        &["--config", "gleaner.toml", "--db", "news.db", "sources"],
    );
    assert_exit(&out, 0);
    let text = common::stdout(&out);
    assert!(
        text.contains("NEWEST SEEN") && text.contains("FAILING"),
        "{text}"
    );
    let feed_line = text.lines().find(|l| l.contains("rss.xml")).unwrap();
    let cells: Vec<&str> = feed_line.split_whitespace().collect();
    assert_eq!(&cells[..2], ["feed", "3"], "{feed_line}");
    assert!(feed_line.contains("2023-03-16T09:00:00Z"), "{feed_line}");
    let map_line = text.lines().find(|l| l.contains("sitemap.xml")).unwrap();
    let cells: Vec<&str> = map_line.split_whitespace().collect();
    assert_eq!(&cells[..2], ["sitemap", "2"], "{map_line}");
    assert_eq!(cells[4], "1", "one failing page: {map_line}");
}

#[test]
fn on_a_terminal_the_run_shows_progress_per_stage() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("`script` (util-linux) is not installed: no pseudo-terminal to test with");
        return;
    }
    let blog = BlogServer::start(
        "Quay Reports",
        7,
        FeedMode::Summary,
        40,
        Duration::from_millis(25),
    );
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &[(&blog, "quay")]);
    let command = format!(
        "'{}' --config gleaner.toml --db news.db run",
        env!("CARGO_BIN_EXE_gleaner")
    );
    let out = std::process::Command::new("script")
        .current_dir(dir.path())
        .args(["-qec", &command, "/dev/null"])
        .env("TERM", "xterm")
        .env_remove("GLEANER_LOG")
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{screen}");
    // The display's own words (the summary line says `fetched=…`, not these).
    for line in [
        " listed",
        " unchanged (304)",
        " stored or up to date",
        " skipped",
    ] {
        assert!(screen.contains(line), "{line:?} on the terminal: {screen}");
    }
    assert!(screen.contains("run finished"), "{screen}");
    assert_eq!(rows(&db(dir.path())).len(), 40);
}

#[test]
fn a_source_that_is_down_does_not_stop_the_others() {
    let blog = BlogServer::start("Quay Reports", 8, FeedMode::Full, 30, Duration::ZERO);
    let down = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        format!("http://127.0.0.1:{port}/")
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gleaner.toml"),
        format!(
            "[fetch]\nper_host_per_second = 2000.0\nmax_attempts = 2\nretry_base_delay_ms = 20\n\n\
             [[sources]]\nurl = \"{down}\"\nkind = \"blogger\"\n\n\
             [[sources]]\nurl = \"{}\"\nkind = \"blogger\"\nlabels = [\"quay\"]\n",
            blog.home()
        ),
    )
    .unwrap();
    let out = run(dir.path());
    assert_exit(&out, 1);
    assert!(stderr(&out).contains(&down), "{}", stderr(&out));
    let conn = db(dir.path());
    assert_eq!(rows(&conn).len(), 30, "the good source is read whole");
    let (failures, retry_at): (i64, Option<String>) = conn
        .query_row(
            "SELECT failures, next_retry_at FROM fetch_state WHERE url LIKE ?1",
            [format!("{down}feeds/posts/default?%")],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (failures, retry_at),
        (1, None),
        "a listing is read again next run"
    );
    // The good source is marked read (the next run is incremental); the bad one is not.
    let seen: Vec<(String, Option<String>)> = conn
        .prepare("SELECT url, last_updated_seen FROM sources ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(seen[0], (down.clone(), None));
    assert!(seen[1].1.is_some(), "{seen:?}");
    let listed = gleaner(
        dir.path(),
        &["--config", "gleaner.toml", "--db", "news.db", "sources"],
    );
    let text = common::stdout(&listed);
    let line = text.lines().find(|l| l.contains(&down)).unwrap();
    let cells: Vec<&str> = line.split_whitespace().collect();
    // Kind, articles, last run (it was tried), newest seen (none), failing URLs.
    assert_eq!(
        (cells[0], cells[1], cells[3], cells[4]),
        ("blogger", "0", "-", "1"),
        "{line}"
    );
    assert!(cells[2].starts_with("20"), "{line}");
}

#[test]
fn sources_are_discovered_at_once_so_a_slow_or_broken_one_holds_up_nothing() {
    // Listed first: a blog that takes 2 s to answer anything (robots.txt, then the feed).
    let slow_latency = Duration::from_secs(2);
    let slow = BlogServer::start("Slow Harbour", 11, FeedMode::Full, 5, slow_latency);
    // Then a "feed" that is no feed at all, and a quick blog.
    let broken = BlogServer::start("Broken Feed", 12, FeedMode::Full, 0, Duration::ZERO);
    broken.set_route(
        "/news.xml",
        "application/rss+xml",
        "<html><body>this is not a feed</body></html>",
    );
    let quick = BlogServer::start("Quick Quay", 13, FeedMode::Full, 30, Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gleaner.toml"),
        format!(
            "[fetch]\nper_host_per_second = 2000.0\nmax_attempts = 2\nretry_base_delay_ms = 20\n\n\
             [[sources]]\nurl = \"{}\"\nkind = \"blogger\"\n\n\
             [[sources]]\nurl = \"{}\"\nkind = \"feed\"\n\n\
             [[sources]]\nurl = \"{}\"\nkind = \"blogger\"\n",
            slow.home(),
            broken.url("/news.xml"),
            quick.home()
        ),
    )
    .unwrap();
    let out = run(dir.path());
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains(&broken.url("/news.xml")),
        "{}",
        stderr(&out)
    );
    let conn = db(dir.path());
    assert_eq!(rows(&conn).len(), 35, "both blogs are read whole");

    // The quick blog was read while the slow one was still answering its first feed page.
    let slow_feed_answered = slow
        .hits()
        .iter()
        .filter(|h| h.is_feed())
        .map(|h| h.at)
        .min()
        .expect("the slow blog's feed was read");
    let quick_hits = quick.hits();
    assert!(quick_hits.iter().any(Hit::is_feed), "{quick_hits:?}");
    let quick_done = quick_hits.iter().map(|h| h.at).max().unwrap();
    assert!(
        quick_done < slow_feed_answered,
        "the quick blog waited for the slow one: done {:?} after the slow feed",
        quick_done.saturating_duration_since(slow_feed_answered)
    );

    // Only the sources read completely are marked read.
    let seen: Vec<(String, Option<String>)> = conn
        .prepare("SELECT url, last_updated_seen FROM sources ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen[0].1.is_some(), "{seen:?}");
    assert_eq!(seen[1].1, None, "{seen:?}");
    assert!(seen[2].1.is_some(), "{seen:?}");
}

#[test]
fn a_gzip_sitemap_is_read_through() {
    let site = BlogServer::start("Gzip Maps", 14, FeedMode::Full, 0, Duration::ZERO);
    let gz = |text: String| {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    // An index (gzip, application/gzip) naming a child sitemap (gzip, application/x-gzip).
    site.set_route(
        "/sitemap.xml.gz",
        "application/gzip",
        gz(sitemap_index(&[site.url("/sitemap-1.xml.gz")])),
    );
    site.set_route(
        "/sitemap-1.xml.gz",
        "application/x-gzip",
        gz(sitemap_urlset(&[
            (site.url("/news/pilots.html"), "2023-03-10"),
            (site.url("/news/tides.html"), "2023-03-11"),
        ])),
    );
    site.set_route(
        "/news/pilots.html",
        "text/html; charset=utf-8",
        news_page("Pilot shortage eases", &[LONG_1, LONG_3, LONG_2]),
    );
    site.set_route(
        "/news/tides.html",
        "text/html; charset=utf-8",
        news_page("Spring tides expected", &[LONG_2, LONG_1, LONG_3]),
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gleaner.toml"),
        format!(
            "[fetch]\nper_host_per_second = 2000.0\n\n[[sources]]\nurl = \"{}\"\n",
            site.url("/sitemap.xml.gz")
        ),
    )
    .unwrap();
    let out = run(dir.path());
    assert_exit(&out, 0);
    let titles: Vec<String> = {
        let conn = db(dir.path());
        let mut stmt = conn
            .prepare("SELECT title FROM articles ORDER BY title")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(titles, ["Pilot shortage eases", "Spring tides expected"]);
}

#[test]
fn scrape_of_a_blog_home_reads_every_post_once_and_then_almost_nothing() {
    scrape_blog_home_twice_then_edit(150);
}

/// The same with feed pages of at most 100 posts: after an unchanged first page, the next
/// page is the one the last read saw (start-index 101), not start + 150.
#[test]
fn scrape_of_a_blog_whose_feed_pages_hold_fewer_posts_still_sees_every_page() {
    scrape_blog_home_twice_then_edit(100);
}

fn scrape_blog_home_twice_then_edit(page_cap: usize) {
    let blog = BlogServer::start("Pier Notes", 15, FeedMode::Summary, 200, Duration::ZERO);
    blog.set_page_cap(page_cap);
    let dir = tempfile::tempdir().unwrap();
    // No sources: only the politeness limit raised, so 200 pages take no 200 s.
    std::fs::write(
        dir.path().join("gleaner.toml"),
        "[fetch]\nper_host_per_second = 2000.0\n",
    )
    .unwrap();
    let scrape = || {
        gleaner(
            dir.path(),
            &[
                "--config",
                "gleaner.toml",
                "--db",
                "news.db",
                "--log-format",
                "json",
                "-v",
                "scrape",
                "--format",
                "json",
                &blog.home(),
            ],
        )
    };
    let first = scrape();
    assert_exit(&first, 0);
    let printed: Vec<serde_json::Value> = common::stdout(&first)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(printed.len(), 200, "every post printed once");
    assert_eq!(rows(&db(dir.path())).len(), 200);
    let hits = blog.hits();
    assert_eq!(post_hits(&hits).len(), 200, "each post page fetched once");
    // Each page asks for the posts before the second after the oldest of the page above:
    // with pages of 100, the third page holds only the two posts at that boundary.
    let feed_pages: Vec<&Hit> = hits.iter().filter(|h| h.is_feed()).collect();
    let expected_pages = if page_cap == 150 { 2 } else { 3 };
    assert_eq!(
        feed_pages.len(),
        expected_pages,
        "200 posts in feed pages of {page_cap}: {feed_pages:?}"
    );

    // Logs: JSON, one object a line, on stderr; no progress drawing when stderr is a pipe.
    let err = stderr(&first);
    assert!(!err.trim().is_empty(), "-v logs something");
    for line in err.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert!(
            v.get("level").is_some() && v.get("fields").is_some(),
            "{line}"
        );
    }
    assert!(!err.contains('\r') && !err.contains('\u{1b}'), "{err:?}");

    // Again: the feed pages answer 304, no post page is asked for.
    blog.clear_hits();
    let second = scrape();
    assert_exit(&second, 0);
    let hits = blog.hits();
    assert!(post_hits(&hits).is_empty(), "{hits:?}");
    assert!(
        hits.iter()
            .filter(|h| h.is_feed())
            .all(|h| h.conditional && h.status == 304),
        "{hits:?}"
    );
    assert_eq!(
        hits.len(),
        1 + expected_pages,
        "robots.txt and the feed pages: {hits:?}"
    );
    assert_eq!(rows(&db(dir.path())).len(), 200);

    // One post edited: the feed pages change (the feed's own `updated` with them); their
    // posts are asked for conditionally, and only the edited one is sent again. Every post
    // looked at is printed, its outcome on stderr: one updated, the rest unchanged.
    blog.edit_post(
        199,
        "A late correction: the pier reopens on Friday, not Thursday.",
    );
    blog.clear_hits();
    let third = scrape();
    assert_exit(&third, 0);
    let hits = blog.hits();
    let sent = post_hits(&hits).iter().filter(|h| h.status == 200).count();
    assert_eq!(sent, 1, "{hits:?}");
    assert!(post_hits(&hits).iter().all(|h| h.conditional), "{hits:?}");
    let printed: Vec<serde_json::Value> = common::stdout(&third)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(printed.len(), 200);
    let outcomes: Vec<(String, i64)> = stderr(&third)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "article")
        .map(|v| {
            (
                v["fields"]["outcome"].as_str().unwrap().to_string(),
                v["fields"]["id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(outcomes.len(), 200, "{}", stderr(&third));
    let updated: Vec<&(String, i64)> = outcomes.iter().filter(|(o, _)| o == "updated").collect();
    assert_eq!(updated.len(), 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|(o, _)| o == "updated" || o == "unchanged")
    );
    let edited = printed
        .iter()
        .find(|a| a["id"].as_i64() == Some(updated[0].1))
        .unwrap();
    assert!(
        edited["body"].as_str().unwrap().contains("late correction"),
        "{edited:?}"
    );
}

/// A sitemap index naming these child sitemaps.
fn sitemap_index(children: &[String]) -> String {
    let entries: String = children
        .iter()
        .map(|c| format!("<sitemap><loc>{c}</loc></sitemap>"))
        .collect();
    format!(
        "<?xml version='1.0' encoding='UTF-8'?><sitemapindex \
         xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{entries}</sitemapindex>"
    )
}

/// A sitemap listing these pages, each with its last-modified date.
fn sitemap_urlset(pages: &[(String, &str)]) -> String {
    let entries: String = pages
        .iter()
        .map(|(url, lastmod)| format!("<url><loc>{url}</loc><lastmod>{lastmod}</lastmod></url>"))
        .collect();
    format!(
        "<?xml version='1.0' encoding='UTF-8'?><urlset \
         xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{entries}</urlset>"
    )
}

/// A config with these sources (`kind`, URL) and fast, local fetch settings.
fn config_with(dir: &std::path::Path, extra_fetch: &str, sources: &[(&str, String)]) {
    let mut text = format!(
        "[fetch]\nper_host_per_second = 2000.0\nmax_attempts = 1\nretry_base_delay_ms = 20\n{extra_fetch}\n"
    );
    for (kind, url) in sources {
        text.push_str(&format!(
            "\n[[sources]]\nurl = \"{url}\"\nkind = \"{kind}\"\n"
        ));
    }
    std::fs::write(dir.join("gleaner.toml"), text).unwrap();
}

fn last_status(db: &rusqlite::Connection) -> String {
    last_run(db).0
}

/// Issue 16 item 13: a post deleted, and one published, while the blog is being read. With
/// offsets, deleting a post of page 1 while page 2 is asked for moves the first post of page
/// 2 onto page 1, and it is never read; the post published meanwhile, and a post edited
/// after it, must both come in with the next run (the cut-off may not pass the new post just
/// because an edit read later in the same read is newer).
#[test]
fn posts_deleted_published_or_edited_during_a_read_lose_nothing() {
    let blog = BlogServer::start("Tide Tables", 21, FeedMode::Full, 400, Duration::ZERO);
    let now = Utc::now();
    // Page 1 holds posts 399..250. Before page 2 is answered: post 300 (already read) is
    // deleted, a post is published among the newest, and post 50 (on page 3) is edited.
    blog.before_feed_request(2, blogsim::Change::Delete(300));
    blog.before_feed_request(
        2,
        blogsim::Change::Publish {
            published: blog.post(398).published + chrono::Duration::minutes(30),
            updated: now,
        },
    );
    blog.before_feed_request(
        2,
        blogsim::Change::Edit {
            n: 50,
            paragraph: "Correction: the spring tide peaks on Sunday evening.".into(),
            updated: now + chrono::Duration::minutes(2),
        },
    );
    let dir = tempfile::tempdir().unwrap();
    config_with(dir.path(), "", &[("blogger", blog.home())]);
    let first = run(dir.path());
    assert_exit(&first, 0);
    let conn = db(dir.path());
    let stored = rows(&conn);
    for n in 0..400 {
        let url = blog.url(&blog.post(n).path);
        assert!(stored.contains_key(&url), "post {n} was never stored");
    }
    assert_eq!(
        stored.len(),
        400,
        "the deleted post was stored before it went"
    );
    assert!(
        stored[&blog.post_url(50)]
            .body
            .contains("spring tide peaks"),
        "post 50 read after its edit"
    );
    let late = blog.url(&blog.post(400).path);
    assert!(!stored.contains_key(&late), "published above the part read");

    // The next run (by update time) brings the post published during the first read.
    let second = run(dir.path());
    assert_exit(&second, 0);
    let stored = rows(&conn);
    assert!(
        stored.contains_key(&late),
        "the post published during the first read"
    );
    assert_eq!(stored.len(), 401);
}

/// Issue 16 item 7: a feed must not be paged by what it claims. A "blog" whose feed says it
/// has a billion posts and gives the same page whatever is asked costs a few requests, and
/// the run says it owes something (partial) rather than ok; the source is not marked read.
#[test]
fn a_feed_claiming_a_billion_posts_costs_a_few_requests_and_says_so() {
    let server = common::TestServer::start();
    let entries: Vec<serde_json::Value> = (0..25)
        .map(|n| {
            serde_json::json!({
                "id": {"$t": format!("tag:blogger.com,1999:blog-99.post-{n}")},
                "published": {"$t": format!("2024-01-{:02}T10:00:00.000Z", n + 1)},
                "updated": {"$t": format!("2024-01-{:02}T10:00:00.000Z", n + 1)},
                "title": {"$t": format!("Post {n}")},
                "content": {"type": "html", "$t": format!("<p>Harbour note number {n}: the ferry to Bergen left on time and the crew of the Nordlys waved from the deck.</p>")},
                "link": [{"rel": "alternate", "type": "text/html", "href": server.url(&format!("/2024/01/post-{n}.html"))}]
            })
        })
        .collect();
    let feed = serde_json::json!({"feed": {
        "id": {"$t": "tag:blogger.com,1999:blog-99"},
        "title": {"$t": "Endless"},
        "openSearch$totalResults": {"$t": "1000000000"},
        "openSearch$startIndex": {"$t": "1"},
        "openSearch$itemsPerPage": {"$t": "25"},
        "link": [{"rel": "next", "href": server.url("/feeds/posts/default?start-index=26")}],
        "entry": entries
    }});
    server.set(
        "/feeds/posts/default",
        common::Response::with_type(200, "application/json", feed.to_string()),
    );
    let dir = tempfile::tempdir().unwrap();
    config_with(dir.path(), "", &[("blogger", server.url("/"))]);
    for round in 0..2 {
        let before = server.hits("/feeds/posts/default");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gleaner"))
            .current_dir(dir.path())
            .args(["--config", "gleaner.toml", "--db", "news.db", "run"])
            .env_remove("GLEANER_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                child.wait().unwrap();
                panic!(
                    "round {round}: still paging after 60 s ({} feed requests)",
                    server.hits("/feeds/posts/default")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let asked = server.hits("/feeds/posts/default") - before;
        assert!(asked <= 4, "round {round}: {asked} feed requests");
        assert_eq!(status.code(), Some(1), "round {round}: something is owed");
        let conn = db(dir.path());
        assert_eq!(last_status(&conn), "partial");
        assert_eq!(count(&conn, "SELECT count(*) FROM articles"), 25);
        assert_eq!(
            count(
                &conn,
                "SELECT count(*) FROM sources WHERE last_updated_seen IS NULL AND sweep_cursor IS NOT NULL"
            ),
            1,
            "not marked read; the unfinished read is kept"
        );
    }
}

/// Issue 16 item 7, the other half: a long blog is read at most 100 feed pages a run; the
/// run says it owes the rest (partial), and the next run goes on from where it stopped
/// rather than from the top, and then ends ok with every post.
#[test]
fn a_long_blog_is_read_over_several_runs_from_where_each_stopped() {
    let blog = BlogServer::start("Long Quay", 22, FeedMode::Full, 600, Duration::ZERO);
    blog.set_page_cap(5);
    let dir = tempfile::tempdir().unwrap();
    config_with(dir.path(), "", &[("blogger", blog.home())]);
    let first = run(dir.path());
    assert_exit(&first, 1);
    let conn = db(dir.path());
    assert_eq!(last_status(&conn), "partial");
    let feed_hits = |b: &BlogServer| b.hits().iter().filter(|h| h.is_feed()).count();
    assert_eq!(feed_hits(&blog), 100, "at most 100 feed pages a run");
    // Pages of 5, each repeating the post at its top boundary: 4 new posts a page after
    // the first.
    let after_first = rows(&conn).len();
    assert_eq!(after_first, 5 + 99 * 4);
    let seen: Option<String> = conn
        .query_row("SELECT last_updated_seen FROM sources", [], |r| r.get(0))
        .unwrap();
    assert_eq!(seen, None, "not marked read");
    blog.clear_hits();
    let second = run(dir.path());
    assert_exit(&second, 0);
    assert_eq!(last_status(&conn), "ok");
    let hits = blog.hits();
    // The top of the feed first (new posts since the read began), then where it stopped.
    let feeds: Vec<&Hit> = hits.iter().filter(|h| h.is_feed()).collect();
    assert!(
        !feeds[0].target.contains("published-max="),
        "the top first: {}",
        feeds[0].target
    );
    assert!(
        feeds[1].target.contains("published-max="),
        "taken up where it stopped: {}",
        feeds[1].target
    );
    assert_eq!(
        feeds
            .iter()
            .filter(|h| !h.target.contains("published-max="))
            .count(),
        1,
        "the top is read once"
    );
    assert_eq!(rows(&conn).len(), 600);
    let seen: Option<String> = conn
        .query_row("SELECT last_updated_seen FROM sources", [], |r| r.get(0))
        .unwrap();
    assert!(seen.is_some(), "marked read once the read reached the end");
    let sweep: Option<String> = conn
        .query_row("SELECT sweep_cursor FROM sources", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sweep, None);
}

/// A feed page that always fails leaves a hole the next runs owe, but it must not stop the
/// blog's new posts from coming in: every run reads the top of the feed first, then goes on
/// where the unfinished read stopped, stepping past the bad page even when it is the first
/// page that read asks for.
#[test]
fn a_feed_page_that_always_fails_does_not_stop_new_posts() {
    let blog = BlogServer::start("Stuck Page", 23, FeedMode::Full, 20, Duration::ZERO);
    blog.set_page_cap(5);
    // The second page: below the oldest post of the first (posts 19..=15).
    let oldest_on_top = blog.post(15).published;
    let second_page = chrono::DateTime::from_timestamp(oldest_on_top.timestamp() + 1, 0).unwrap();
    blog.fault_feed_before(
        second_page,
        Fault::Fail {
            status: 500,
            times: u32::MAX,
            retry_after: None,
        },
    );
    let dir = tempfile::tempdir().unwrap();
    config_with(dir.path(), "", &[("blogger", blog.home())]);
    let first = run(dir.path());
    assert_exit(&first, 1);
    let conn = db(dir.path());
    assert_eq!(last_status(&conn), "partial");
    let after_first = rows(&conn).len();
    assert!(after_first >= 5, "the top page came in: {after_first}");
    let hole: Option<String> = conn
        .query_row("SELECT sweep_cursor FROM sources", [], |r| r.get(0))
        .unwrap();
    assert!(hole.is_some(), "the hole is remembered");

    let now = Utc::now();
    blog.change(blogsim::Change::Publish {
        published: now,
        updated: now,
    });
    blog.clear_hits();
    let second = run(dir.path());
    assert_exit(&second, 1);
    assert_eq!(last_status(&conn), "partial", "the hole is still owed");
    let hits = blog.hits();
    assert!(
        hits.iter()
            .any(|h| h.is_feed() && !h.target.contains("published-max=")),
        "the top of the feed is read: {:?}",
        hits.iter().map(|h| &h.target).collect::<Vec<_>>()
    );
    let urls = rows(&conn);
    assert!(
        urls.keys().any(|u| u.contains("late-news-20")),
        "the post published after the hole came in: {:?}",
        urls.keys().collect::<Vec<_>>()
    );
    let hole_again: Option<String> = conn
        .query_row("SELECT sweep_cursor FROM sources", [], |r| r.get(0))
        .unwrap();
    assert!(hole_again.is_some(), "the hole is still remembered");
}

/// A cut-off already poisoned by a future date (saved by an older version) heals: it is
/// treated as absent, so the next run reads the blog whole and a new post comes in.
#[test]
fn a_stored_cut_off_in_the_future_hides_no_new_post() {
    let blog = BlogServer::start("Future Cut", 24, FeedMode::Full, 12, Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    config_with(dir.path(), "", &[("blogger", blog.home())]);
    assert_exit(&run(dir.path()), 0);
    let conn = db(dir.path());
    assert_eq!(rows(&conn).len(), 12);
    conn.execute(
        "UPDATE sources SET last_updated_seen = '2099' || substr(last_updated_seen, 5)",
        [],
    )
    .unwrap();
    let now = Utc::now();
    blog.change(blogsim::Change::Publish {
        published: now,
        updated: now,
    });
    assert_exit(&run(dir.path()), 0);
    let urls = rows(&conn);
    assert!(
        urls.keys().any(|u| u.contains("late-news-12")),
        "{:?}",
        urls.keys().collect::<Vec<_>>()
    );
    let seen: String = conn
        .query_row("SELECT last_updated_seen FROM sources", [], |r| r.get(0))
        .unwrap();
    assert!(!seen.starts_with("2099"), "the cut-off healed: {seen}");
}

/// An unparseable feed page's validators are not saved next to the continuation of an
/// older read: the next run must not take a 304 for it and jump past it as if read.
#[test]
fn an_unparseable_feed_page_is_not_skipped_by_a_later_304() {
    let blog = BlogServer::start("Bad Page", 25, FeedMode::Full, 20, Duration::ZERO);
    blog.set_page_cap(5);
    let dir = tempfile::tempdir().unwrap();
    config_with(dir.path(), "", &[("blogger", blog.home())]);
    assert_exit(&run(dir.path()), 0);
    let conn = db(dir.path());
    assert_eq!(rows(&conn).len(), 20);
    blog.fault_feed_top(Fault::Garbage);
    assert_exit(&run(dir.path()), 1);
    assert_eq!(last_status(&conn), "partial");
    // The same bad page again: still unread, so still owed.
    blog.clear_hits();
    assert_exit(&run(dir.path()), 1);
    assert_eq!(last_status(&conn), "partial", "{:?}", blog.hits());
    assert!(
        !blog.hits().iter().any(|h| h.is_feed()
            && h.status == 304
            && !h.target.contains("published-max=")
            && !h.target.contains("start-index=")),
        "no 304 for the page never read: {:?}",
        blog.hits()
            .iter()
            .map(|h| (h.status, h.conditional, &h.target))
            .collect::<Vec<_>>()
    );
}

/// Issue 16 item 9: one item dated 2099 (a wrong year) must not become the source's cut-off
/// and hide every later item.
#[test]
fn an_item_dated_in_the_future_hides_no_later_item() {
    let site = BlogServer::start("Dock Daily", 23, FeedMode::Full, 0, Duration::ZERO);
    let body = |n: u32| {
        format!(
            "<p>Dock report {n}: cranes in Gdansk moved a record number of containers on Tuesday, the port authority said.</p><p>{LONG_1}</p>"
        )
    };
    let mut items = vec![
        (
            "typo",
            "Wrong year",
            "Fri, 03 Jul 2099 09:00:00 +0000",
            body(1),
        ),
        (
            "monday",
            "Monday",
            "Mon, 13 Mar 2023 09:00:00 +0000",
            body(2),
        ),
    ];
    let feed = |items: &[(&str, &str, &str, String)]| {
        let refs: Vec<(&str, &str, &str, Option<&str>)> = items
            .iter()
            .map(|(s, t, d, b)| (*s, *t, *d, Some(b.as_str())))
            .collect();
        rss(&site, &refs)
    };
    site.set_route("/rss.xml", "application/rss+xml", feed(&items));
    let dir = tempfile::tempdir().unwrap();
    config_with(dir.path(), "", &[("feed", site.url("/rss.xml"))]);
    assert_exit(&run(dir.path()), 0);
    let conn = db(dir.path());
    assert_eq!(rows(&conn).len(), 2);
    let seen: String = conn
        .query_row("SELECT last_updated_seen FROM sources", [], |r| r.get(0))
        .unwrap();
    assert!(seen.starts_with("2023-"), "cut-off {seen}");

    items.push((
        "tuesday",
        "Tuesday",
        "Tue, 14 Mar 2023 09:00:00 +0000",
        body(3),
    ));
    site.set_route("/rss.xml", "application/rss+xml", feed(&items));
    assert_exit(&run(dir.path()), 0);
    assert!(
        rows(&conn).contains_key(&site.url("/news/tuesday.html")),
        "the item after the misdated one is stored"
    );
}

/// Issue 16 item 11: pages skipped by robots.txt or for their content type are remembered
/// with a time to look again; when that time comes and the site allows them, they are
/// stored, although the source's cut-off moved past them.
#[test]
fn pages_skipped_by_robots_or_content_type_are_looked_at_again() {
    let site = BlogServer::start("Quay Maps", 24, FeedMode::Full, 0, Duration::ZERO);
    site.set_route(
        "/robots.txt",
        "text/plain",
        "User-agent: *\nDisallow: /news/embargo\n",
    );
    site.set_route(
        "/sitemap.xml",
        "application/xml",
        sitemap_urlset(&[
            (site.url("/news/open.html"), "2023-03-10"),
            (site.url("/news/embargo.html"), "2023-03-11"),
            (site.url("/news/report.html"), "2023-03-12"),
        ]),
    );
    site.set_route(
        "/news/open.html",
        "text/html; charset=utf-8",
        news_page("Pilot shortage eases", &[LONG_1, LONG_3, LONG_2]),
    );
    site.set_route(
        "/news/embargo.html",
        "text/html; charset=utf-8",
        news_page("Embargoed: new cranes", &[LONG_2, LONG_1, LONG_3]),
    );
    site.set_route("/news/report.html", "application/pdf", "%PDF-1.4 not yet");
    let dir = tempfile::tempdir().unwrap();
    config_with(dir.path(), "", &[("sitemap", site.url("/sitemap.xml"))]);
    let first = run(dir.path());
    assert_exit(&first, 0);
    let conn = db(dir.path());
    assert_eq!(rows(&conn).len(), 1);
    for path in ["/news/embargo.html", "/news/report.html"] {
        let (failures, retry, etag): (i64, Option<String>, Option<String>) = conn
            .query_row(
                "SELECT failures, next_retry_at, etag FROM fetch_state WHERE url = ?1",
                [site.url(path)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap_or_else(|e| panic!("{path} not remembered: {e}"));
        assert_eq!((failures, etag), (1, None), "{path}");
        assert!(retry.is_some(), "{path}: a time to look again");
    }

    // The embargo is lifted and the report is online; their time to look again has come.
    site.set_route("/robots.txt", "text/plain", "User-agent: *\nDisallow:\n");
    site.set_route(
        "/news/report.html",
        "text/html; charset=utf-8",
        news_page("Spring tides expected", &[LONG_3, LONG_2, LONG_1]),
    );
    conn.execute(
        "UPDATE fetch_state SET next_retry_at = '2001-01-01T00:00:00Z' WHERE failures > 0",
        [],
    )
    .unwrap();
    assert_exit(&run(dir.path()), 0);
    let stored = rows(&conn);
    assert_eq!(stored.len(), 3, "{:?}", stored.keys().collect::<Vec<_>>());
}

/// Issue 16 item 12: a page that gives no article text is a failure to try again, with no
/// validators kept: the next request for it is unconditional (a 304 would hide the article
/// for good), and once it has text it is stored.
#[test]
fn a_page_without_article_text_is_retried_not_answered_304() {
    let site = BlogServer::start("Quay Notes", 25, FeedMode::Full, 0, Duration::ZERO);
    let shell = "<!DOCTYPE html><html><head><title>Loading</title></head><body><div id='app'></div></body></html>";
    site.set_route("/news/shell.html", "text/html; charset=utf-8", shell);
    let dir = tempfile::tempdir().unwrap();
    config_with(dir.path(), "", &[]);
    let url = site.url("/news/shell.html");
    let scrape = || {
        gleaner(
            dir.path(),
            &[
                "--config",
                "gleaner.toml",
                "--db",
                "news.db",
                "scrape",
                &url,
            ],
        )
    };
    assert_exit(&scrape(), 1);
    let conn = db(dir.path());
    let (failures, retry, etag): (i64, Option<String>, Option<String>) = conn
        .query_row(
            "SELECT failures, next_retry_at, etag FROM fetch_state WHERE url = ?1",
            [&url],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((failures, etag), (1, None), "a failure, no validators");
    assert!(retry.is_some());
    // Unchanged, the page is asked for whole again (not answered 304).
    site.clear_hits();
    assert_exit(&scrape(), 1);
    let asked: Vec<Hit> = site
        .hits()
        .into_iter()
        .filter(|h| h.path() == "/news/shell.html")
        .collect();
    assert_eq!(asked.len(), 1);
    assert!(!asked[0].conditional && asked[0].status == 200, "{asked:?}");
    // With text, it is stored.
    site.set_route(
        "/news/shell.html",
        "text/html; charset=utf-8",
        news_page("Ferry fares to rise", &[LONG_1, LONG_2, LONG_3]),
    );
    assert_exit(&scrape(), 0);
    assert_eq!(rows(&conn).len(), 1);
}

/// Issue 16 item 14: `gleaner scrape BLOG_HOME` tries the blog's failed posts again, even
/// when the feed pages that list them are unchanged (304) and their retry time has not come.
#[test]
fn scrape_of_a_blog_home_retries_its_failed_posts() {
    let blog = BlogServer::start("Pier Notes", 26, FeedMode::Summary, 20, Duration::ZERO);
    blog.fault_post(
        3,
        Fault::Fail {
            status: 500,
            times: u32::MAX,
            retry_after: None,
        },
    );
    let dir = tempfile::tempdir().unwrap();
    config_with(dir.path(), "", &[]);
    let scrape = || {
        gleaner(
            dir.path(),
            &[
                "--config",
                "gleaner.toml",
                "--db",
                "news.db",
                "scrape",
                &blog.home(),
            ],
        )
    };
    assert_exit(&scrape(), 1);
    assert_eq!(rows(&db(dir.path())).len(), 19);
    blog.clear_fault_post(3);
    blog.clear_hits();
    assert_exit(&scrape(), 0);
    let hits = blog.hits();
    assert!(
        hits.iter().filter(|h| h.is_feed()).all(|h| h.status == 304),
        "{hits:?}"
    );
    assert_eq!(hits_of(&hits, &blog.post(3).path), 1);
    assert_eq!(rows(&db(dir.path())).len(), 20);
}

/// Issue 11: `gleaner scrape URL --format json` prints the article every time, also when the
/// page is unchanged (304); what happened to it is on stderr.
#[test]
fn scrape_json_prints_an_unchanged_article_too() {
    let blog = BlogServer::start("Pier Notes", 27, FeedMode::Summary, 3, Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    config_with(dir.path(), "", &[]);
    let url = blog.post_url(1);
    let scrape = || {
        gleaner(
            dir.path(),
            &[
                "--config",
                "gleaner.toml",
                "--db",
                "news.db",
                "--log-format",
                "json",
                "scrape",
                "--format",
                "json",
                &url,
            ],
        )
    };
    let mut ids = Vec::new();
    for (round, outcome) in [(0, "stored"), (1, "unchanged")] {
        let out = scrape();
        assert_exit(&out, 0);
        let printed: Vec<serde_json::Value> = common::stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(printed.len(), 1, "round {round}");
        assert_eq!(printed[0]["url"], url.as_str());
        ids.push(printed[0]["id"].clone());
        let said: Vec<serde_json::Value> = stderr(&out)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["fields"]["message"] == "article")
            .collect();
        assert_eq!(said.len(), 1, "{}", stderr(&out));
        assert_eq!(said[0]["fields"]["outcome"], outcome);
    }
    assert_eq!(ids[0], ids[1]);
    let page = blog.post(1).path;
    let hits: Vec<Hit> = blog
        .hits()
        .into_iter()
        .filter(|h| h.path() == page)
        .collect();
    assert_eq!(hits.last().map(|h| h.status), Some(304), "{hits:?}");
}

/// Peak resident memory of a process so far, in KiB (Linux: `VmHWM` in /proc).
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Issue 16 item 3: a sitemap index of 50,000 sitemaps, each of them the same index again.
/// Every entry used to be queued before the limits were checked (2.6 GB in 50 s); now the
/// limit is checked first and memory stays flat while the run reads index after index.
#[test]
fn a_sitemap_index_of_indexes_keeps_memory_bounded() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("no /proc: cannot watch the process's memory here");
        return;
    }
    let server = common::TestServer::start();
    let entries: String = (0..50_000)
        .map(|n| {
            format!(
                "<sitemap><loc>{}</loc></sitemap>",
                server.url(&format!("/idx.xml?n={n}"))
            )
        })
        .collect();
    server.set(
        "/idx.xml",
        common::Response::with_type(
            200,
            "application/xml",
            format!(
                "<?xml version='1.0' encoding='UTF-8'?><sitemapindex \
                 xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{entries}</sitemapindex>"
            ),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    config_with(dir.path(), "", &[("sitemap", server.url("/idx.xml"))]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gleaner"))
        .current_dir(dir.path())
        .args([
            "--config",
            "gleaner.toml",
            "--db",
            "news.db",
            "run",
            "--max-duration",
            "300s",
        ])
        .env_remove("GLEANER_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The peak memory as each index is requested, for 15 indexes; then the run is stopped.
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    let mut peak = 0;
    // peak_at[k]: the peak when the (k+1)-th index was requested.
    let mut peak_at: Vec<u64> = Vec::new();
    loop {
        if let Some(kib) = peak_kib(child.id()) {
            peak = peak.max(kib);
        }
        let read = server.hits("/idx.xml");
        while peak_at.len() < read {
            peak_at.push(peak);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if read >= 15 || std::time::Instant::now() > deadline || peak > 1_500_000 {
            std::process::Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .unwrap();
            child.wait().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let read = peak_at.len();
    eprintln!(
        "{read} indexes read; peak MiB as each was requested: {:?}",
        peak_at.iter().map(|kib| kib / 1024).collect::<Vec<_>>()
    );
    assert!(read >= 8, "the run read index after index ({read})");
    // Each index queued 50,000 more URLs before (measured: 7 to 9 MiB more per index read,
    // every index); now none. The peak does step up once in a while (the allocator taking
    // a new arena for a pool thread: 100 -> 135 MiB once, at any point of the run), so the
    // test looks at the typical step from one index to the next after the first two, the
    // median, not at the sum, which one such step made fail one run in six.
    let mut steps: Vec<u64> = peak_at
        .windows(2)
        .skip(2)
        .map(|w| w[1].saturating_sub(w[0]))
        .collect();
    steps.sort_unstable();
    let median = steps[steps.len() / 2];
    assert!(
        median < 3 * 1024,
        "memory grew a median {} MiB per index over {read} indexes",
        median / 1024
    );
}
