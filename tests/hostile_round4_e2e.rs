//! End to end, the fourth round of hostile sources: what round three left open. Each test is
//! a source, a server or a database behaving as real ones do, served from 127.0.0.1, with the
//! real binary and a real SQLite file (or the real PostgreSQL server in
//! `GLEANER_TEST_POSTGRES`, a fresh schema per test; skipped, saying so, without it).
//!
//! `GLEANER_TEST_BIN=/path/to/gleaner` runs these tests against another build (the session's
//! start, to see the faults); by default they run the binary of this tree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::hostile::{
    PgSchema, assert_exit, assert_says, config, db, gleaner_on, news_page, run, sitemap,
};
use common::{Response, TestServer, stderr};

/// (url, title) of every stored article, by url.
fn stored(dir: &Path) -> Vec<(String, String)> {
    let conn = db(dir);
    let mut st = conn
        .prepare("SELECT url, title FROM articles ORDER BY url")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The site's home page: the latest posts, each a heading and its opening paragraphs.
fn home_page() -> Response {
    let posts: String = [
        ("Harbour fees", "Fees rise by four per cent from April."),
        (
            "Four new cranes",
            "Four cranes arrive on the quay this week.",
        ),
        ("Pilot boats", "Two pilot boats were renamed after a vote."),
    ]
    .iter()
    .map(|(title, lead)| {
        format!(
            "<div class='post'><h2><a href='/news/x.html'>{title}</a></h2><p>{lead} Port \
             officials said the change had been planned since the autumn and would be \
             reviewed after the first six months, when the season's traffic figures are in.</p>\
             </div>"
        )
    })
    .collect();
    Response::html(format!(
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>\
         <title>Harbour Post</title></head><body><header><h1>Harbour Post</h1></header>\
         <main>{posts}</main><footer>Copyright Harbour Post</footer></body></html>"
    ))
}

fn redirect(status: u16, to: &str) -> Response {
    let mut r = Response::with_type(status, "text/html", "moved");
    r.headers.push(("Location".into(), to.into()));
    r
}

fn recently() -> String {
    (chrono::Utc::now() - chrono::Duration::minutes(30))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A deleted post on many hosts answers a redirect to the blog's home page (or to a label or
/// archive listing) instead of a 404: a "soft 404". main followed it and stored the home page
/// as that post (overwriting the stored post with it, or a new row of the home page for a
/// post deleted before it was read), saying ok. It is gone, like a 404: the stored copy is
/// kept, nothing of the home page is stored, nothing owed.
#[test]
fn a_post_that_redirects_to_the_home_page_is_gone_not_the_home_page() {
    let site = TestServer::start();
    let a = site.url("/news/fees.html");
    let b = site.url("/news/cranes.html");
    let c = site.url("/news/boats.html");
    let old = "2024-03-01T09:00:00Z".to_string();
    site.set("/", home_page());
    site.set("/search/label/port", home_page());
    site.set("/sitemap.xml", sitemap(&[(a.clone(), old.clone())]));
    site.set(
        "/news/fees.html",
        news_page("Harbour fees", "Fees rise by four per cent."),
    );
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("sitemap", site.url("/sitemap.xml"))]);
    assert_exit(&run(dir.path()), 0, "first run");
    let first = stored(dir.path());
    assert_eq!(first, [(a.clone(), "Harbour fees".to_string())]);

    // Deleted: a stored post redirects to the home page, a post never read to a label
    // listing, and a live one is published.
    let now = recently();
    site.set(
        "/sitemap.xml",
        sitemap(&[
            (a.clone(), now.clone()),
            (b.clone(), now.clone()),
            (c.clone(), now.clone()),
        ]),
    );
    site.set("/news/fees.html", redirect(301, &site.url("/")));
    site.set("/news/boats.html", redirect(302, "/search/label/port"));
    site.set(
        "/news/cranes.html",
        news_page("Four new cranes", "Cranes arrive."),
    );
    let second = run(dir.path());
    assert_exit(&second, 0, "second run");
    assert_says(&second, "gone at the source");
    assert_eq!(
        stored(dir.path()),
        [
            (b.clone(), "Four new cranes".to_string()),
            (a.clone(), "Harbour fees".to_string()),
        ],
        "{}",
        stderr(&second)
    );
    // Its retry comes due: still gone, still kept, still ok.
    db(dir.path())
        .execute(
            "UPDATE fetch_state SET next_retry_at = '2000-01-01T00:00:00Z'",
            [],
        )
        .unwrap();
    let third = run(dir.path());
    assert_exit(&third, 0, "third run");
    assert_eq!(stored(dir.path()).len(), 2, "{}", stderr(&third));
}

/// The round-3 fix for a post stored under `…?utm_source=rss&utm_medium=feed` by an older
/// gleaner, now listed bare, was SQLite's only: on PostgreSQL main stored a twin row for
/// every such post. Both backends find the stored row.
#[test]
fn a_post_stored_under_a_tracked_address_gets_no_twin_on_postgres() {
    let Some(pg) = PgSchema::fresh("gleaner_round4") else {
        return;
    };
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
    let scraped = gleaner_on(dir.path(), &pg.url, &["scrape", &tracked]);
    assert_exit(&scraped, 0, "scrape of the tracked address");
    for n in 1..=2 {
        let out = gleaner_on(dir.path(), &pg.url, &["run"]);
        assert_exit(&out, 0, &format!("run {n}"));
        let rows = pg.number("SELECT count(*) FROM articles");
        assert_eq!(rows, 1, "run {n}: rows\n{}", stderr(&out));
    }
}

/// A small tmpfs mounted for a test, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// None (saying why) where mounting is not possible (not root, no `mount`).
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: cannot mount a tmpfs (needs root)");
            return None;
        }
        Some(Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Fill the file system of `dir` with `filler`, then give back `slack` bytes.
fn fill_disk(filler: &Path, slack: u64) {
    use std::io::Write;
    let mut f = std::fs::File::create(filler).unwrap();
    let chunk = vec![0x5au8; 4096];
    let mut written = 0u64;
    while f.write_all(&chunk).is_ok() {
        written += chunk.len() as u64;
    }
    let _ = f.flush();
    drop(f);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(filler)
        .unwrap();
    f.set_len(written.saturating_sub(slack)).unwrap();
}

/// The disk fills during a run (on a small tmpfs): the batch is rolled back and every page
/// is owed. main gave the pages an hour's backoff, as if their source had failed, so the
/// next run (space freed) said `ok` and stored nothing; they waited for a later run. A page
/// owed because the store failed is due at the next run.
#[test]
fn pages_a_full_disk_could_not_store_are_stored_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mnt) = Tmpfs::mount(&dir.path().join("small"), "3m") else {
        return;
    };
    let work = mnt.0.clone();
    let site = TestServer::start();
    let seed = site.url("/news/seed.html");
    site.set("/news/seed.html", news_page("Harbour fees", "Fees rise."));
    site.set(
        "/sitemap.xml",
        sitemap(&[(seed.clone(), "2024-03-01T09:00:00Z")]),
    );
    config(&work, "", &[("sitemap", site.url("/sitemap.xml"))]);
    assert_exit(&run(&work), 0, "first run");

    // Forty new posts, each some 14 KB of text: more than the disk has left.
    let filler_text: String = (0..200)
        .map(|i| format!("Paragraph {i} of the harbour board's minutes, read into the record. "))
        .collect();
    let mut entries = vec![(seed.clone(), "2024-03-01T09:00:00Z".to_string())];
    for n in 0..40 {
        let path = format!("/news/minutes-{n}.html");
        site.set(
            &path,
            news_page(
                &format!("Board minutes {n}"),
                &format!("{n}: {filler_text}"),
            ),
        );
        entries.push((site.url(&path), recently()));
    }
    site.set("/sitemap.xml", sitemap(&entries));
    let filler = work.join("filler");
    fill_disk(&filler, 256 * 1024);
    let full = run(&work);
    assert_ne!(
        full.status.code(),
        Some(0),
        "a run that could not store: {}",
        stderr(&full)
    );
    let stored_then: i64 = rusqlite::Connection::open(work.join("news.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM articles", [], |r| r.get(0))
        .unwrap();
    assert!(stored_then < 41, "the disk was not full: {}", stderr(&full));

    // Space again: the next run stores every post, and says so.
    std::fs::remove_file(&filler).unwrap();
    let next = run(&work);
    let stored_now: i64 = rusqlite::Connection::open(work.join("news.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM articles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored_now, 41, "{}", stderr(&next));
    assert_exit(&next, 0, "the run after space was freed");
}

/// An RSS feed whose items all link the site's home page (a CMS that fills `<link>` with the
/// channel's link; the posts told apart only by their `<guid>`), each with its whole text:
/// main stored the first and dropped the others without a word, saying ok. Round 4 said they
/// were lost; since round 5 each is its own row (`tests/hostile_round5_e2e.rs`), and an item
/// that repeats another's link *and* guid with other text is one post listed twice: the first
/// is stored, and the run says the other is not.
#[test]
fn feed_items_sharing_one_link_are_not_dropped_silently() {
    let site = TestServer::start();
    let root = site.url("/");
    let items: String = [
        "Harbour fees rise",
        "Four new cranes",
        "Pilot boats renamed",
        "Harbour fees rise again",
    ]
    .iter()
    .enumerate()
    .map(|(i, title)| {
        let i = i % 3;
        format!(
            "<item><title>{title}</title><link>{root}</link>\
                 <guid isPermaLink='false'>post-{i}</guid>\
                 <pubDate>Mon, 13 Mar 2023 0{i}:00:00 +0000</pubDate><content:encoded><![CDATA[\
                 <p>{title}: the harbour office said so on Monday, and the port's board \
                 agreed.</p><p>Shipping lines were told of it in a letter, and most said they \
                 expected little effect on their schedules.</p>]]></content:encoded></item>"
        )
    })
    .collect();
    site.set(
        "/rss.xml",
        Response::with_type(
            200,
            "application/rss+xml",
            format!(
                "<?xml version='1.0' encoding='UTF-8'?><rss version='2.0' \
                 xmlns:content='http://purl.org/rss/1.0/modules/content/'><channel>\
                 <title>Harbour Post</title><link>{root}</link><description>News</description>\
                 {items}</channel></rss>"
            ),
        ),
    );
    site.set("/", home_page());
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", site.url("/rss.xml"))]);
    let out = run(dir.path());
    assert_says(&out, "repeat another item's link and id");
    let titles: Vec<String> = stored(dir.path()).into_iter().map(|(_, t)| t).collect();
    assert_eq!(titles.len(), 3, "{titles:?}\n{}", stderr(&out));
    assert!(!titles.contains(&"Harbour fees rise again".to_string()));
}
