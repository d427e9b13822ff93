//! End to end, the fifth round of hostile sources: what round four left open (posts that
//! share one link, one blog under two host names) and what an adversarial look found next.
//! Each test is a source or a server behaving as real ones do, served from 127.0.0.1, with
//! the real binary and a real SQLite file (or the real PostgreSQL server in
//! `GLEANER_TEST_POSTGRES`, a fresh schema per test; skipped, saying so, without it).
//!
//! `GLEANER_TEST_BIN=/path/to/gleaner` runs these tests against another build (the session's
//! start, to see the faults); by default they run the binary of this tree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod blogsim;
mod common;

use std::path::Path;
use std::time::Duration;

use blogsim::{BlogServer, FeedMode};
use common::hostile::{
    assert_exit, config, db, gleaner_on, news_page, rss_channel, run, sitemap, stored_articles,
    text_about,
};
use common::{Response, TestServer, stderr};

/// (id, url) of every stored article, by id.
fn ids(dir: &Path) -> Vec<(i64, String)> {
    let conn = db(dir);
    let mut st = conn
        .prepare("SELECT id, url FROM articles ORDER BY id")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// An RSS item: title, link, guid (when given), date, and the text as `content:encoded`
/// (`full`) or as `<description>` only.
fn item(title: &str, link: &str, guid: Option<&str>, date: &str, text: &str, full: bool) -> String {
    let guid = guid
        .map(|g| format!("<guid isPermaLink='false'>{g}</guid>"))
        .unwrap_or_default();
    let body = if full {
        format!(
            "<description>{title}</description><content:encoded><![CDATA[<p>{text}</p>]]></content:encoded>"
        )
    } else {
        format!("<description>{text}</description>")
    };
    format!(
        "<item><title>{title}</title><link>{link}</link>{guid}<pubDate>{date}</pubDate>{body}</item>"
    )
}

/// A CMS that fills every item's `<link>` with the site's address, telling its posts apart
/// only by `<guid>`: main stored the first item and dropped the rest (round 4 only warned).
/// Every post is its own row, under an address made from its guid (a guid that is a web
/// address on the site is that address), the same on every run: a re-read adds nothing, an
/// edit updates its own row, a new post is one new row.
#[test]
fn posts_that_share_one_link_are_each_stored_once() {
    let site = TestServer::start();
    let home = site.url("/");
    let p4 = site.url("/?p=4");
    let feed = |items: &[String]| rss_channel(&items.concat(), None);
    let first = [
        item(
            "Harbour fees rise",
            &home,
            Some("tag:harbour.example,2024:post-1"),
            "Fri, 01 Mar 2024 09:00:00 GMT",
            &text_about("The rise in harbour fees"),
            true,
        ),
        item(
            "Four new cranes",
            &home,
            Some("tag:harbour.example,2024:post-2"),
            "Thu, 29 Feb 2024 09:00:00 GMT",
            &text_about("The delivery of four new cranes"),
            true,
        ),
        item(
            "Pilot boats renamed",
            &home,
            Some("tag:harbour.example,2024:post-3"),
            "Wed, 28 Feb 2024 09:00:00 GMT",
            &text_about("Renaming the pilot boats"),
            true,
        ),
        // Summary only, its guid a web address on the site.
        item(
            "Dredging starts",
            &home,
            Some(&p4),
            "Tue, 27 Feb 2024 09:00:00 GMT",
            &text_about("Dredging of the inner harbour"),
            false,
        ),
    ];
    site.set("/feed.xml", feed(&first));
    site.set(
        "/",
        news_page("Harbour Post", "The latest news from the harbour."),
    );
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", site.url("/feed.xml"))]);
    let out = run(dir.path());
    assert_exit(&out, 0, "first run");
    let rows = stored_articles(dir.path());
    let titles: Vec<&str> = rows.iter().map(|(_, t, _)| t.as_str()).collect();
    assert_eq!(rows.len(), 4, "{titles:?}\n{}", stderr(&out));
    for title in [
        "Harbour fees rise",
        "Four new cranes",
        "Pilot boats renamed",
        "Dredging starts",
    ] {
        assert!(titles.contains(&title), "{title} lost: {titles:?}");
    }
    let dredging = rows
        .iter()
        .find(|(_, t, _)| t == "Dredging starts")
        .unwrap();
    assert_eq!(
        dredging.0, p4,
        "a guid that is the site's address is the post's"
    );
    assert!(dredging.2.contains("inner harbour"), "{}", dredging.2);
    let before = ids(dir.path());
    assert!(
        before.iter().all(|(_, u)| u != &home),
        "no post stored as the home page: {before:?}"
    );

    // Read again: nothing new. Then one post edited and a new one on top, same link.
    assert_exit(&run(dir.path()), 0, "second run");
    assert_eq!(ids(dir.path()), before, "a re-read adds or moves no row");
    let mut second = vec![item(
        "Tug strike ends",
        &home,
        Some("tag:harbour.example,2024:post-5"),
        "Sat, 02 Mar 2024 09:00:00 GMT",
        &text_about("The end of the tug strike"),
        true,
    )];
    second.extend(first.iter().cloned());
    // (Dated anew: an item edited under its old date is passed over, as any feed item is.)
    second[2] = item(
        "Four new cranes",
        &home,
        Some("tag:harbour.example,2024:post-2"),
        "Sun, 03 Mar 2024 09:00:00 GMT",
        &text_about("The delivery of four new cranes (corrected: five)"),
        true,
    );
    site.set("/feed.xml", feed(&second));
    let out = run(dir.path());
    assert_exit(&out, 0, "third run");
    let after = ids(dir.path());
    assert_eq!(after.len(), 5, "{after:?}\n{}", stderr(&out));
    assert_eq!(
        after[..4],
        before[..],
        "the old rows keep their ids and addresses"
    );
    let rows = stored_articles(dir.path());
    let cranes = rows
        .iter()
        .find(|(_, t, _)| t == "Four new cranes")
        .unwrap();
    assert!(cranes.2.contains("corrected: five"), "{}", cranes.2);
    assert!(rows.iter().any(|(_, t, _)| t == "Tug strike ends"));

    // A post owed from an earlier run (say its store failed) that the feed no longer lists
    // is not fetched at its address, which would store the home page as the post; and an
    // item under the shared link with no text (a photo) is a skip, not a failure for good.
    let boats = rows
        .iter()
        .find(|(_, t, _)| t == "Pilot boats renamed")
        .unwrap()
        .clone();
    db(dir.path())
        .execute(
            "INSERT OR REPLACE INTO fetch_state (url, failures, last_error, next_retry_at) \
             VALUES (?1, 1, 'database or disk is full', '2020-01-01T00:00:00Z')",
            [&boats.0],
        )
        .unwrap();
    let mut third: Vec<String> = second
        .iter()
        .filter(|i| !i.contains("Pilot boats renamed"))
        .cloned()
        .collect();
    third.push(format!(
        "<item><title>Photo of the day</title><link>{home}</link>\
         <guid>tag:harbour.example,2024:post-6</guid><pubDate>Sun, 03 Mar 2024 10:00:00 GMT\
         </pubDate><content:encoded><![CDATA[<img src='/quay.jpg'>]]></content:encoded></item>"
    ));
    site.set("/feed.xml", feed(&third));
    let out = run(dir.path());
    assert_exit(&out, 0, "fourth run");
    let now = stored_articles(dir.path());
    assert_eq!(now.len(), 5, "{}", stderr(&out));
    assert!(
        now.contains(&boats),
        "the owed post keeps its text: {now:?}\n{}",
        stderr(&out)
    );
}

/// The posts of [`two_host_names`].
const POSTS: [(&str, &str); 3] = [
    ("/news/fees.html", "Harbour fees rise"),
    ("/news/cranes.html", "Four new cranes"),
    ("/news/boats.html", "Pilot boats renamed"),
];

/// A site under two host names, served by a test server that is the run's HTTP proxy (so
/// any host name reaches it): its feed writes links without `www.` (whole posts), its
/// sitemap lists two of them with it and the third without, which redirects to it. The
/// `[fetch]` line naming the proxy, and the two sources.
fn two_host_names(proxy: &TestServer) -> (String, Vec<(&'static str, String)>) {
    let bare = "http://harbour.example";
    let www = "http://www.harbour.example";
    let items: String = POSTS
        .iter()
        .map(|(path, title)| {
            item(
                title,
                &format!("{bare}{path}"),
                None,
                "Fri, 01 Mar 2024 09:00:00 GMT",
                &text_about(title),
                true,
            )
        })
        .collect();
    proxy.set(&format!("{bare}/feed.xml"), rss_channel(&items, None));
    for (path, title) in POSTS {
        proxy.set(
            &format!("{www}{path}"),
            news_page(title, &text_about(title)),
        );
    }
    let mut entries: Vec<(String, &str)> = POSTS[..2]
        .iter()
        .map(|(path, _)| (format!("{www}{path}"), "2024-03-01T09:00:00Z"))
        .collect();
    entries.push((format!("{bare}{}", POSTS[2].0), "2024-03-01T09:00:00Z"));
    proxy.set(&format!("{www}/sitemap.xml"), sitemap(&entries));
    let mut moved = Response::with_type(301, "text/html", "moved");
    moved
        .headers
        .push(("Location".into(), format!("{www}{}", POSTS[2].0)));
    proxy.set(&format!("{bare}{}", POSTS[2].0), moved);
    (
        format!("proxy = \"http://127.0.0.1:{}\"", proxy.port),
        vec![
            ("feed", format!("{bare}/feed.xml")),
            ("sitemap", format!("{www}/sitemap.xml")),
        ],
    )
}

/// A site read under two of its host names (with and without `www.`; a link without it
/// redirecting to it), see [`two_host_names`]. main stored every post twice, once per host
/// name. One row per post; a re-read, or a source moved to the other host name between
/// runs, adds none.
#[test]
fn one_site_under_two_host_names_is_one_row_per_post() {
    let proxy = TestServer::start();
    let (fetch, sources) = two_host_names(&proxy);
    let dir = tempfile::tempdir().unwrap();
    for n in 1..=4 {
        // Both sources; then a re-read; then the configuration edited between runs to the
        // feed alone, then to the sitemap alone (a source moved to its other host name).
        let only = match n {
            3 => &sources[..1],
            4 => &sources[1..],
            _ => &sources[..],
        };
        config(dir.path(), &fetch, only);
        let out = run(dir.path());
        assert_exit(&out, 0, &format!("run {n}"));
        let rows = stored_articles(dir.path());
        let urls: Vec<&str> = rows.iter().map(|(u, _, _)| u.as_str()).collect();
        assert_eq!(rows.len(), 3, "run {n}: {urls:?}\n{}", stderr(&out));
        for (_, title) in POSTS {
            assert_eq!(
                rows.iter().filter(|(_, t, _)| t == title).count(),
                1,
                "run {n}: {title}: {urls:?}"
            );
        }
    }
}

/// One Blogger blog configured twice, under its blogspot address and its own domain (here
/// two servers of one blog: the same blog id, post ids, paths and posts). main stored every
/// post twice: the post id leads to the other host's row only for the source that stored it.
/// One row per post, and a re-read adds none.
#[test]
fn one_blog_under_two_host_names_is_one_row_per_post() {
    let blogspot = BlogServer::start("Harbour Notes", 51, FeedMode::Summary, 6, Duration::ZERO);
    let own = BlogServer::start("Harbour Notes", 51, FeedMode::Summary, 6, Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    config(
        dir.path(),
        "",
        &[("blogger", blogspot.home()), ("blogger", own.home())],
    );
    for n in 1..=2 {
        let out = run(dir.path());
        assert_exit(&out, 0, &format!("run {n}"));
        let rows = ids(dir.path());
        assert_eq!(rows.len(), 6, "run {n}: {rows:?}\n{}", stderr(&out));
    }
}

/// Both rules on PostgreSQL (they live in `pg.rs` as well): a Blogger blog under two hosts
/// (whole posts in its feed) and a site under two host names.
#[test]
fn one_post_under_two_host_names_is_one_row_on_postgres() {
    let Some(pg) = common::hostile::PgSchema::fresh("gleaner_round5_hosts") else {
        return;
    };
    let blogspot = BlogServer::start("Quay Notes", 52, FeedMode::Full, 5, Duration::ZERO);
    let own = BlogServer::start("Quay Notes", 52, FeedMode::Full, 5, Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    config(
        dir.path(),
        "",
        &[("blogger", blogspot.home()), ("blogger", own.home())],
    );
    let proxy = TestServer::start();
    let (fetch, sources) = two_host_names(&proxy);
    for n in 1..=4 {
        if n == 3 {
            // The site under two host names, read through the proxy, into the same database.
            config(dir.path(), &fetch, &sources);
        }
        let out = gleaner_on(dir.path(), &pg.url, &["run"]);
        assert_exit(&out, 0, &format!("run {n}"));
        let want = if n < 3 { 5 } else { 5 + 3 };
        assert_eq!(
            pg.number("SELECT count(*) FROM articles"),
            want,
            "run {n}\n{}",
            stderr(&out)
        );
    }
}

/// Posts a feed gives whole but with no link (an Atom entry with an id and content only, an
/// RSS item with a description and no `<link>`): main dropped them without a word. Whole
/// posts linked `javascript:void(0)`: main kept one, under that "address". Each is stored
/// under the feed's address and a fragment made from its id (or title), the same on every
/// run (an item with neither link nor text is still nothing to store).
#[test]
fn posts_without_a_link_are_stored_under_the_feed() {
    let site = TestServer::start();
    let atom = format!(
        "<?xml version='1.0' encoding='UTF-8'?><feed xmlns='http://www.w3.org/2005/Atom'>\
         <title>Harbour Post</title><id>tag:harbour.example,2024:feed</id>\
         <updated>2024-03-01T09:00:00Z</updated>\
         <entry><title>Harbour fees rise</title><id>tag:harbour.example,2024:post-1</id>\
         <updated>2024-03-01T09:00:00Z</updated>\
         <content type='html'>&lt;p&gt;{}&lt;/p&gt;</content></entry>\
         <entry><title>Four new cranes</title><id>tag:harbour.example,2024:post-2</id>\
         <updated>2024-02-29T09:00:00Z</updated><link rel='alternate' href='{}'/>\
         <content type='html'>&lt;p&gt;{}&lt;/p&gt;</content></entry>\
         <entry><title>Nothing here</title><id>tag:harbour.example,2024:post-3</id>\
         <updated>2024-02-28T09:00:00Z</updated></entry>\
         </feed>",
        text_about("The rise in harbour fees"),
        site.url("/news/cranes.html"),
        text_about("The delivery of four new cranes"),
    );
    site.set(
        "/atom.xml",
        Response::with_type(200, "application/atom+xml", atom),
    );
    // An item with a description and no link, and two whole posts linked
    // `javascript:void(0)` (a theme's "read more" button), told apart by their guids.
    let rss = rss_channel(
        &format!(
            "<item><title>Pilot boats renamed</title><pubDate>Wed, 28 Feb 2024 09:00:00 GMT\
             </pubDate><description>{}</description></item>{}{}",
            text_about("Renaming the pilot boats"),
            item(
                "Tug strike ends",
                "javascript:void(0)",
                Some("post-7"),
                "Tue, 27 Feb 2024 09:00:00 GMT",
                &text_about("The end of the tug strike"),
                true,
            ),
            item(
                "Quay wall repaired",
                "javascript:void(0)",
                Some("post-8"),
                "Mon, 26 Feb 2024 09:00:00 GMT",
                &text_about("Repairs to the quay wall"),
                true,
            ),
        ),
        None,
    );
    site.set("/rss.xml", rss);
    let dir = tempfile::tempdir().unwrap();
    config(
        dir.path(),
        "",
        &[
            ("feed", site.url("/atom.xml")),
            ("feed", site.url("/rss.xml")),
        ],
    );
    let out = run(dir.path());
    assert_exit(&out, 0, "first run");
    let rows = stored_articles(dir.path());
    let titles: Vec<&str> = rows.iter().map(|(_, t, _)| t.as_str()).collect();
    assert_eq!(titles.len(), 5, "{titles:?}\n{}", stderr(&out));
    for (title, feed) in [
        ("Harbour fees rise", "/atom.xml#item-"),
        ("Pilot boats renamed", "/rss.xml#item-"),
        ("Tug strike ends", "/rss.xml#item-"),
        ("Quay wall repaired", "/rss.xml#item-"),
    ] {
        let row = rows.iter().find(|(_, t, _)| t == title).unwrap();
        assert!(row.0.starts_with(&site.url(feed)), "{title}: {}", row.0);
    }
    let before = ids(dir.path());
    assert_exit(&run(dir.path()), 0, "second run");
    assert_eq!(ids(dir.path()), before, "a re-read adds or moves no row");
}
