//! End to end, the seventh round of hostile sources: two faults the sixth round left. Each
//! test is a source or a server behaving as real ones do, served from 127.0.0.1, with the real
//! binary and a real SQLite file (or a real PostgreSQL server, `GLEANER_TEST_POSTGRES`).
//!
//! `GLEANER_TEST_BIN=/path/to/gleaner` runs these tests against another build (the session's
//! start, to see the faults); by default they run the binary of this tree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::hostile::{assert_exit, config, run, sitemap, stored_articles};
use common::{Response, TestServer, stderr};

/// `text` in windows-1252, the ISO-8859-1 of the web (every character of it is below U+0100
/// but the apostrophe).
fn latin1(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '’' => 0x92,
            c => u8::try_from(u32::from(c)).unwrap(),
        })
        .collect()
}

const TITLE: &str = "Café crème à l’été";
const LEAD: &str = "Le conseil du port a décidé mardi de prolonger l’accès au quai numéro \
     trois jusqu’à la fin de l’été. Les armateurs, prévenus par une lettre, ont salué une \
     décision « très attendue » : les bâtiments à quai pourront décharger sans délai.";
const MORE: &str = "Selon la capitainerie, les travaux prévus depuis l’automne seront \
     réexaminés après six mois, lorsque les chiffres de la saison seront connus. Déjà, \
     plusieurs compagnies ont modifié leurs itinéraires vers le nord de la région.";

/// A French news page: `meta` (e.g. `<meta charset='utf-8'>`) then the article.
fn page_text(meta: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang='fr'><head>{meta}<title>{TITLE}</title></head>\
         <body><nav><a href='/'>Accueil</a></nav><main><article><h1>{TITLE}</h1>\
         <p>{LEAD}</p><p>{MORE}</p></article></main><footer>Le Port</footer></body></html>"
    )
}

/// An RSS feed holding one French post with its whole text; `decl` is its XML declaration.
fn feed_text(decl: &str, link: &str) -> String {
    format!(
        "{decl}<rss version='2.0' xmlns:content='http://purl.org/rss/1.0/modules/content/'>\
         <channel><title>Le Port</title><link>http://port.example/</link>\
         <description>Nouvelles</description><item><title>{TITLE}</title><link>{link}</link>\
         <pubDate>Fri, 01 Mar 2024 09:00:00 GMT</pubDate><description>{TITLE}</description>\
         <content:encoded><![CDATA[<p>{LEAD}</p><p>{MORE}</p>]]></content:encoded></item>\
         </channel></rss>"
    )
}

/// Runs `gleaner run` over a feed and a sitemap, each source listing one post (the feed's
/// with its whole text, the sitemap's a page to fetch), and checks both are stored as
/// written: the French title and text, no U+FFFD, no "Ã".
fn stored_as_written(feed: impl Fn(&str) -> Response, page: Response) {
    let site = TestServer::start();
    let post = site.url("/nouvelles/feed-post.html");
    let fetched = site.url("/nouvelles/page.html");
    site.set("/feed.xml", feed(&post));
    site.set("/nouvelles/page.html", page);
    site.set(
        "/sitemap.xml",
        sitemap(&[(fetched.clone(), "2024-03-01T09:00:00Z")]),
    );
    let dir = tempfile::tempdir().unwrap();
    config(
        dir.path(),
        "",
        &[
            ("feed", site.url("/feed.xml")),
            ("sitemap", site.url("/sitemap.xml")),
        ],
    );
    let out = run(dir.path());
    assert_exit(&out, 0, "run");
    let rows = stored_articles(dir.path());
    let urls: Vec<&str> = rows.iter().map(|(u, _, _)| u.as_str()).collect();
    assert!(
        urls.contains(&fetched.as_str()) && urls.contains(&post.as_str()),
        "stored {urls:?}\n{}",
        stderr(&out)
    );
    for (url, title, body) in &rows {
        assert_eq!(title, TITLE, "{url}");
        for bad in ['\u{fffd}', 'Ã'] {
            assert!(
                !title.contains(bad) && !body.contains(bad),
                "{url}: {bad:?} in {title:?} / {body:?}"
            );
        }
        assert!(body.contains("jusqu’à la fin de l’été"), "{url}: {body}");
    }
}

/// Feed and page served as `charset=utf-8` (the page's meta says UTF-8 too) over
/// ISO-8859-1 bytes, the way a site whose database is latin-1 serves them. main stored
/// U+FFFD for every accented letter, for good.
#[test]
fn latin1_bytes_labelled_utf8_are_stored_as_written() {
    // The feed's own declaration says ISO-8859-1; the page has nothing but the wrong label.
    let feed = |link: &str| {
        Response::with_type(
            200,
            "application/rss+xml; charset=utf-8",
            latin1(&feed_text(
                "<?xml version='1.0' encoding='ISO-8859-1'?>",
                link,
            )),
        )
    };
    let page = Response::with_type(
        200,
        "text/html; charset=utf-8",
        latin1(&page_text("<meta charset='utf-8'>")),
    );
    stored_as_written(feed, page);
}

/// The same with no declaration in the feed at all: the bytes are detected.
#[test]
fn latin1_feed_labelled_utf8_without_a_declaration_is_detected() {
    let feed = |link: &str| {
        Response::with_type(
            200,
            "application/rss+xml; charset=UTF-8",
            latin1(&feed_text("", link)),
        )
    };
    let page = Response::with_type(200, "text/html;charset=UTF-8", latin1(&page_text("")));
    stored_as_written(feed, page);
}

/// Feed and page served as `charset=ISO-8859-1` (a server's default) over UTF-8 bytes. main
/// stored "CafÃ© crÃ¨me", for good.
#[test]
fn utf8_bytes_labelled_latin1_are_stored_as_written() {
    let feed = |link: &str| {
        Response::with_type(
            200,
            "application/rss+xml; charset=ISO-8859-1",
            feed_text("<?xml version='1.0' encoding='UTF-8'?>", link),
        )
    };
    let page = Response::with_type(
        200,
        "text/html; charset=iso-8859-1",
        page_text("<meta charset='utf-8'>"),
    );
    stored_as_written(feed, page);
}

/// The same with no declaration in the documents: UTF-8 because the bytes are.
#[test]
fn utf8_bytes_labelled_latin1_without_a_declaration_are_utf8() {
    let feed =
        |link: &str| Response::with_type(200, "text/xml; charset=latin1", feed_text("", link));
    let page = Response::with_type(200, "text/html; charset=windows-1252", page_text(""));
    stored_as_written(feed, page);
}

/// What was right stays right: latin-1 served as latin-1, UTF-8 as UTF-8.
#[test]
fn correctly_labelled_latin1_and_utf8_are_read_by_their_labels() {
    let feed = |link: &str| {
        Response::with_type(
            200,
            "application/rss+xml; charset=ISO-8859-1",
            latin1(&feed_text(
                "<?xml version='1.0' encoding='ISO-8859-1'?>",
                link,
            )),
        )
    };
    let page = Response::with_type(
        200,
        "text/html; charset=utf-8",
        page_text("<meta charset='utf-8'>"),
    );
    stored_as_written(feed, page);
}

// ---------------------------------------------------------------- PostgreSQL: a lost writer

/// A few sentences about post `i`: enough text to be an article.
fn harbour_page(i: usize) -> Response {
    common::hostile::news_page(
        &format!("Harbour notice number {i}"),
        &format!(
            "Notice {i} was the matter on the agenda of the harbour board on Tuesday. Members \
             heard that the work had been planned since the autumn and would be reviewed after \
             the first six months, when the season's traffic figures are in."
        ),
    )
}

/// The writer's connection ended by the server (`pg_terminate_backend`, as an administrator,
/// a failover or a restart does) in the middle of a run. main's writer did not connect again:
/// every page after that was fetched and then failed to store (`failed=N`, `partial`), left
/// to leases running out and a later run. Now the writer connects again and sends the batch
/// again: the run ends `ok` with every post stored once.
#[test]
fn postgres_writer_connects_again_after_its_connection_is_ended() {
    const PAGES: usize = 36;
    let Some(pg) = common::hostile::PgSchema::fresh("gleaner_round7_writer") else {
        return;
    };
    let base = std::env::var(common::hostile::PG_ENV).unwrap();
    let site = TestServer::start();
    let mut entries = Vec::new();
    for i in 0..PAGES {
        let path = format!("/notices/{i}.html");
        site.set(&path, harbour_page(i));
        entries.push((site.url(&path), "2024-03-01T09:00:00Z"));
    }
    site.set("/sitemap.xml", sitemap(&entries));
    let dir = tempfile::tempdir().unwrap();
    // Ten pages a second: the run lasts a few seconds, time to end its writer's connection
    // with most pages still to come.
    config(
        dir.path(),
        "per_host_per_second = 10.0\n",
        &[("sitemap", site.url("/sitemap.xml"))],
    );
    // Every connection of this run carries a name of its own, so that only its writer is
    // ended (other tests may share the server).
    let app = format!("gleaner_round7_{}", std::process::id());
    let db = format!("{}&application_name={app}", pg.url);
    let child = std::process::Command::new(common::hostile::gleaner_bin())
        .current_dir(dir.path())
        .args(["--config", "gleaner.toml", "--db", &db, "run"])
        .env_remove("GLEANER_DB")
        .env_remove("GLEANER_CONFIG")
        .env_remove("GLEANER_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The writer is the connection that stores articles, their fetch states and marks pages
    // done: end it once some articles are stored and most pages are still to come.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut ended = 0;
    while ended == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the writer was never seen"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
        if pg.number("SELECT count(to_regclass('articles'))") == 0
            || pg.number("SELECT count(*) FROM articles") < 3
        {
            continue;
        }
        ended = common::hostile::pg_number(
            &base,
            None,
            &format!(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                  WHERE application_name = '{app}' AND pid <> pg_backend_pid() \
                    AND (query ILIKE '%INSERT INTO articles%' \
                         OR query ILIKE '%INSERT INTO fetch_state%' \
                         OR query ILIKE '%UPDATE leases SET done%')"
            ),
        );
    }
    let stored_when_ended = pg.number("SELECT count(*) FROM articles");
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(
        stored_when_ended < i64::try_from(PAGES).unwrap() - 5,
        "the run was nearly over when its writer was ended ({stored_when_ended} stored):\n{err}"
    );
    assert_eq!(ended, 1, "one writer connection ended\n{err}");
    assert_exit(&out, 0, "run");
    assert_eq!(
        pg.number("SELECT count(*) FROM articles"),
        i64::try_from(PAGES).unwrap(),
        "{err}"
    );
    assert_eq!(
        pg.number("SELECT count(DISTINCT url) FROM articles"),
        i64::try_from(PAGES).unwrap()
    );
    assert_eq!(
        pg.number("SELECT count(*) FROM runs WHERE status = 'ok' AND failed = 0"),
        1,
        "{err}"
    );
    assert_eq!(
        pg.number("SELECT count(*) FROM fetch_state WHERE last_error IS NOT NULL"),
        0,
        "{err}"
    );
}
