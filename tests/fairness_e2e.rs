//! One slow host must not starve the others (issue 16, item 19). A sitemap lists the posts of
//! a blog whose robots.txt asks for a 2 s Crawl-delay first, then the posts of a blog with no
//! delay; `gleaner run` has two slots (`concurrency = 2`). Waiting for a host's turn must not
//! hold a slot, so the fast blog's pages are all fetched within seconds while the slow one
//! gets its page every 2 s; before, the slow blog's queued pages held both slots while they
//! waited and the fast blog got nothing until the slow one was done (a minute here; the run
//! stops after 15 s).
//!
//! Both blogs are on 127.0.0.1 on different ports: the fetcher keeps hosts apart by host name
//! and port, so they are two hosts with their own rates.

mod blogsim;
mod common;

use std::time::{Duration, Instant};

use blogsim::{BlogServer, FeedMode};
use common::{Response, TestServer, gleaner, stderr};

const POSTS: usize = 30;
const CRAWL_DELAY_SECS: u64 = 2;

#[test]
fn a_slow_host_does_not_starve_a_fast_one() {
    let slow = BlogServer::start("Slow Harbour", 11, FeedMode::Summary, POSTS, Duration::ZERO);
    slow.set_route(
        "/robots.txt",
        "text/plain",
        format!("User-agent: *\nCrawl-delay: {CRAWL_DELAY_SECS}\n"),
    );
    let fast = BlogServer::start("Fast Quay", 12, FeedMode::Summary, POSTS, Duration::ZERO);
    let listing = TestServer::start();
    let mut sitemap = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    // The slow host's pages first: they reach the dispatcher before any of the fast one's.
    for blog in [&slow, &fast] {
        for n in 0..POSTS {
            sitemap.push_str(&format!("<url><loc>{}</loc></url>\n", blog.post_url(n)));
        }
    }
    sitemap.push_str("</urlset>\n");
    listing.set(
        "/sitemap.xml",
        Response::with_type(200, "application/xml", sitemap),
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gleaner.toml"),
        format!(
            "[fetch]\nconcurrency = 2\nper_host_per_second = 200.0\nrespect_robots = true\n\
             timeout_secs = 20\n\n[[sources]]\nurl = \"{}\"\nkind = \"sitemap\"\nname = \"Both\"\n",
            listing.url("/sitemap.xml")
        ),
    )
    .unwrap();

    let started = Instant::now();
    let out = gleaner(
        dir.path(),
        &[
            "--config",
            "gleaner.toml",
            "--db",
            "g.db",
            "run",
            "--max-duration",
            "15s",
        ],
    );
    let took = started.elapsed();
    let posts = |blog: &BlogServer| {
        blog.hits()
            .into_iter()
            .filter(|h| h.is_post())
            .map(|h| h.at)
            .collect::<Vec<Instant>>()
    };
    let fast_hits = posts(&fast);
    let slow_hits = posts(&slow);
    assert_eq!(
        fast_hits.len(),
        POSTS,
        "the fast blog got {} of its {POSTS} pages in {took:?} (the slow one {}): {}",
        fast_hits.len(),
        slow_hits.len(),
        stderr(&out)
    );
    // The slow host was still served, politely: at most one page per Crawl-delay.
    assert!(!slow_hits.is_empty(), "{}", stderr(&out));
    assert!(
        slow_hits.len() <= 9,
        "{} slow pages in 15 s",
        slow_hits.len()
    );
    for pair in slow_hits.windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        assert!(
            gap >= Duration::from_millis(CRAWL_DELAY_SECS * 1000 - 150),
            "Crawl-delay not kept: {gap:?}"
        );
    }
    // The stop was honoured in time (15 s, plus the stop grace at most).
    assert!(took < Duration::from_secs(40), "{took:?}");
}
