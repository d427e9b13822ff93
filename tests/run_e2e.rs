//! End to end: `gleaner run` over a Blogger-like blog served from 127.0.0.1, read feed-first.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Response, TestServer, assert_exit, gleaner, stderr};
use serde_json::{Value, json};

/// A Blogger `alt=json` posts feed with full content, as Blogger serialises it.
fn full_feed(server: &TestServer, posts: &[(&str, &str, &str, &str)]) -> String {
    let blog_id = "5512340987654321098";
    let entries: Vec<Value> = posts
        .iter()
        .enumerate()
        .map(|(i, (slug, title, published, html))| {
            let post_id = format!("70000000000000000{i:02}");
            let url = server.url(&format!("/2023/03/{slug}.html"));
            json!({
                "id": {"$t": format!("tag:blogger.com,1999:blog-{blog_id}.post-{post_id}")},
                "published": {"$t": published},
                "updated": {"$t": published},
                "category": [{"scheme": "http://www.blogger.com/atom/ns#", "term": "notes"}],
                "title": {"type": "text", "$t": title},
                "content": {"type": "html", "$t": html},
                "link": [
                    {"rel": "replies", "type": "application/atom+xml", "href": format!("{}/feeds/{post_id}/comments/default", server.url("")), "title": "Post Comments"},
                    {"rel": "replies", "type": "text/html", "href": format!("{url}#comment-form"), "title": "0 Comments"},
                    {"rel": "edit", "type": "application/atom+xml", "href": format!("https://www.blogger.com/feeds/{blog_id}/posts/default/{post_id}")},
                    {"rel": "self", "type": "application/atom+xml", "href": format!("https://www.blogger.com/feeds/{blog_id}/posts/default/{post_id}")},
                    {"rel": "alternate", "type": "text/html", "href": url, "title": title}
                ],
                "author": [{"name": {"$t": "Mara Lindqvist"}, "uri": {"$t": "https://www.blogger.com/profile/0123"}, "email": {"$t": "noreply@blogger.com"}}],
                "thr$total": {"$t": "0"}
            })
        })
        .collect();
    json!({
        "version": "1.0",
        "encoding": "UTF-8",
        "feed": {
            "xmlns": "http://www.w3.org/2005/Atom",
            "xmlns$openSearch": "http://a9.com/-/spec/opensearchrss/1.0/",
            "xmlns$blogger": "http://schemas.google.com/blogger/2008",
            "xmlns$georss": "http://www.georss.org/georss",
            "xmlns$gd": "http://schemas.google.com/g/2005",
            "xmlns$thr": "http://purl.org/syndication/thread/1.0",
            "id": {"$t": format!("tag:blogger.com,1999:blog-{blog_id}")},
            "updated": {"$t": "2023-03-20T10:00:00.000+01:00"},
            "category": [{"term": "notes"}],
            "title": {"type": "text", "$t": "Harbour Notes"},
            "subtitle": {"type": "html", "$t": ""},
            "link": [
                {"rel": "http://schemas.google.com/g/2005#feed", "type": "application/atom+xml", "href": server.url("/feeds/posts/default")},
                {"rel": "alternate", "type": "text/html", "href": server.url("/")}
            ],
            "author": [{"name": {"$t": "Mara Lindqvist"}}],
            "generator": {"version": "7.00", "uri": "http://www.blogger.com", "$t": "Blogger"},
            "openSearch$totalResults": {"$t": posts.len().to_string()},
            "openSearch$startIndex": {"$t": "1"},
            "openSearch$itemsPerPage": {"$t": "150"},
            "entry": entries
        }
    })
    .to_string()
}

fn config(dir: &std::path::Path, server: &TestServer) {
    let text = format!(
        "[fetch]\nper_host_per_second = 50.0\n\n[[sources]]\nurl = \"{}\"\nkind = \"blogger\"\nname = \"Harbour Notes\"\nlabels = [\"shipping\"]\n",
        server.url("/")
    );
    std::fs::write(dir.join("gleaner.toml"), text).unwrap();
}

const POSTS: &[(&str, &str, &str, &str)] = &[
    (
        "port-of-gothenburg-volumes",
        "Port of Gothenburg volumes fall",
        "2023-03-20T09:30:00.000+01:00",
        "<p>Container volumes at the Port of Gothenburg fell 4% in February, the port said on Monday.</p><p>Chief executive Elvir Dzanic blamed weaker demand from Germany and Poland.</p>",
    ),
    (
        "ice-in-the-bothnian-bay",
        "Ice in the Bothnian Bay",
        "2023-03-14T08:00:00.000+01:00",
        "<p>Icebreakers from Finland and Sweden escorted more than 200 ships through the Bothnian Bay this winter.</p>",
    ),
    (
        "a-new-ferry-for-gotland",
        "A new ferry for Gotland",
        "2023-03-02T17:45:00.000+01:00",
        "<div>Destination Gotland will take delivery of a new ferry in Visby next spring.<br /><br />The ship cost about $150 million.</div>",
    ),
];

#[test]
fn run_reads_a_blog_feed_first_stores_every_post_once_and_records_the_run() {
    let server = TestServer::start();
    server.set(
        "/feeds/posts/default",
        Response::with_type(
            200,
            "application/json; charset=UTF-8",
            full_feed(&server, POSTS),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &server);

    let first = gleaner(
        dir.path(),
        &["--config", "gleaner.toml", "--db", "news.db", "run"],
    );
    assert_exit(&first, 0);
    assert!(
        stderr(&first).contains("run finished"),
        "one summary line: {}",
        stderr(&first)
    );
    // A full-content feed gives whole posts: no post page is fetched.
    assert_eq!(
        server
            .all_hits()
            .iter()
            .filter(|p| p.starts_with("/2023/"))
            .count(),
        0,
        "{:?}",
        server.all_hits()
    );

    let db = rusqlite::Connection::open(dir.path().join("news.db")).unwrap();
    let n: i64 = db
        .query_row("SELECT count(*) FROM articles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3);
    let (title, author, post_id): (String, String, String) = db
        .query_row(
            "SELECT title, author, blogger_post_id FROM articles WHERE url LIKE '%port-of-gothenburg%'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (title.as_str(), author.as_str(), post_id.as_str()),
        (
            "Port of Gothenburg volumes fall",
            "Mara Lindqvist",
            "7000000000000000000"
        )
    );
    let labels: Vec<String> = db
        .prepare("SELECT label FROM article_labels l JOIN articles a ON a.id = l.article_id WHERE a.url LIKE '%gotland%' ORDER BY label")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        labels,
        ["notes", "shipping"],
        "the post's labels and the source's"
    );
    let (status, stored): (String, i64) = db
        .query_row(
            "SELECT status, stored FROM runs ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((status.as_str(), stored), ("ok", 3));

    // The second run asks only for what changed since, and stores nothing twice.
    let second = gleaner(
        dir.path(),
        &["--config", "gleaner.toml", "--db", "news.db", "run"],
    );
    assert_exit(&second, 0);
    let feed_requests: Vec<String> = server
        .all_hits()
        .into_iter()
        .filter(|p| p.starts_with("/feeds/"))
        .collect();
    // (The second run also asks for the posts published since, for scheduled posts.)
    assert!(
        feed_requests[1..]
            .iter()
            .any(|r| r.contains("updated-min=")),
        "incremental read: {feed_requests:?}"
    );
    let n: i64 = db
        .query_row("SELECT count(*) FROM articles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3);
    let runs: i64 = db
        .query_row("SELECT count(*) FROM runs WHERE status = 'ok'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(runs, 2);
}

#[test]
fn a_second_run_while_one_holds_the_lock_exits_3() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &server);
    let lock = std::fs::File::create(dir.path().join("news.db.lock")).unwrap();
    lock.lock().unwrap();
    let out = gleaner(
        dir.path(),
        &["--config", "gleaner.toml", "--db", "news.db", "run"],
    );
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("another gleaner run"),
        "{}",
        stderr(&out)
    );
    drop(lock);
}

#[test]
fn bad_config_is_exit_2_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), "[fetch]\nconcurency = 4\n").unwrap();
    let out = gleaner(dir.path(), &["--config", "bad.toml", "run"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("concurency"), "{}", stderr(&out));

    std::fs::write(dir.path().join("empty.toml"), "").unwrap();
    let out = gleaner(dir.path(), &["--config", "empty.toml", "run"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("no [[sources]]"), "{}", stderr(&out));
}
