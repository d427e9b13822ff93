//! End to end: the real `gleaner` binary against Blogger pages served from 127.0.0.1, checked
//! in its output and in the SQLite file it writes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{
    Response, TestServer, assert_exit, char_slice, fixture, gleaner, gleaner_with_stdin, stderr,
    stdout,
};
use serde_json::Value;

const CLASSIC_PATH: &str = "/2022/01/iran-wants-strategic-ties-with-russia.html";
const CONTEMPO_PATH: &str = "/2022/05/kenya-central-bank-raises-key-rate.html";

/// Lines a Blogger page carries around a post that must never reach the stored body.
const BOILERPLATE: &[&str] = &[
    "No comments",
    "Post a Comment",
    "Only a member of this blog",
    "Powered by Blogger",
    "Newer Post",
    "Older Post",
    "Subscribe to",
    "Post Comments (Atom)",
    "Email This",
    "BlogThis",
    "Share to",
    "Get link",
    "Popular Posts",
    "Blog Archive",
    "About Me",
    "View my complete profile",
    "Labels:",
    "Sign In",
    "Followers",
    "Search This Blog",
    "Report Abuse",
];

fn serve_fixtures() -> TestServer {
    let server = TestServer::start();
    server.set(
        CLASSIC_PATH,
        Response::html(fixture("blogger/classic_minima_seed_post.html")),
    );
    server.set(
        CONTEMPO_PATH,
        Response::html(fixture("blogger/contempo_post.html")),
    );
    server
}

fn scrape_json(dir: &Path, url: &str) -> Value {
    let out = gleaner(dir, &["--db", "news.db", "scrape", "--format", "json", url]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    let line = text
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no output; stderr: {}", stderr(&out)));
    serde_json::from_str(line).unwrap()
}

fn entities_of<'a>(article: &'a Value, kind: &str) -> Vec<&'a Value> {
    article["entities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

fn has_entity(article: &Value, kind: &str, text: &str) -> bool {
    entities_of(article, kind).iter().any(|e| e["text"] == text)
}

fn assert_offsets_slice_the_body(article: &Value) {
    let body = article["body"].as_str().unwrap();
    for e in article["entities"].as_array().unwrap() {
        let (start, end) = (
            e["start"].as_u64().unwrap() as usize,
            e["end"].as_u64().unwrap() as usize,
        );
        assert_eq!(
            char_slice(body, start, end),
            e["text"].as_str().unwrap(),
            "offsets of {e}"
        );
    }
}

fn assert_clean_body(body: &str) {
    for phrase in BOILERPLATE {
        assert!(
            !body.contains(phrase),
            "boilerplate {phrase:?} in the body:\n{body}"
        );
    }
    assert!(
        !body.contains('\u{a0}'),
        "no-break spaces survive in the body"
    );
    assert!(
        !body.contains("\n\n\n"),
        "paragraphs are separated by exactly one blank line"
    );
    assert_eq!(body.trim(), body, "no leading or trailing whitespace");
    for paragraph in body.split("\n\n") {
        assert!(!paragraph.trim().is_empty(), "empty paragraph in {body:?}");
        assert!(
            !paragraph.contains("  "),
            "runs of spaces collapsed: {paragraph:?}"
        );
    }
}

#[test]
fn classic_blogger_post_from_the_seed_is_scraped_stored_and_printed() {
    let server = serve_fixtures();
    let dir = tempfile::tempdir().unwrap();
    let url = server.url(CLASSIC_PATH);
    let a = scrape_json(dir.path(), &url);

    assert_eq!(a["title"], "Iran wants strategic ties with Russia");
    assert_eq!(a["author"], "Khalid Bhatti");
    assert_eq!(a["published_at"], "2022-01-22T04:15:00Z");
    assert_eq!(
        a["labels"],
        serde_json::json!(["Iran", "Middle East", "Russia"])
    );
    assert_eq!(a["comments_count"], 0);
    assert_eq!(a["blogger_post_id"], "6419920375815262891");
    assert_eq!(a["url"], url.as_str());
    assert_eq!(
        a["canonical_url"],
        "http://worldaffairs-review.example/2022/01/iran-wants-strategic-ties-with-russia.html"
    );
    assert_eq!(a["language"], "en");
    assert!(a["id"].as_i64().unwrap() > 0);
    assert!(a["fetched_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(a["content_hash"].as_str().unwrap().len(), 64);

    let body = a["body"].as_str().unwrap();
    assert_clean_body(body);
    assert!(
        body.starts_with("Iran is discussing construction of two nuclear power plant with Russia"),
        "{body}"
    );
    assert!(body.contains(
        "Iran and Russia wants to have closer ties and Iranian president Ibrahim Raisi recently"
    ));
    assert!(body.contains("Raisi said Iran had \"no limits for expanding ties with Russia.\""));
    assert!(body.contains("was handed over to Iran one year later."));
    assert!(
        body.split("\n\n").count() >= 15,
        "the post's paragraphs are kept"
    );
    for sidebar in [
        "Saudi Arabia and China",
        "Vienna talks",
        "World Affairs Review",
        "Geopolitics, energy",
    ] {
        assert!(
            !body.contains(sidebar),
            "sidebar or header text {sidebar:?} in the body"
        );
    }
    let words = a["word_count"].as_u64().unwrap();
    assert!((600..800).contains(&words), "word count {words}");

    // The entities the foundation promises, with offsets that slice the body.
    for person in ["Raisi", "Putin", "Lavrov"] {
        assert!(
            entities_of(&a, "person")
                .iter()
                .any(|e| e["text"].as_str().unwrap().contains(person)),
            "person {person} not found in {:#}",
            a["entities"]
        );
    }
    assert!(
        entities_of(&a, "person")
            .iter()
            .any(|e| e["text"] == "Raisi" && e["name"] == "Ibrahim Raisi")
    );
    assert!(
        entities_of(&a, "person")
            .iter()
            .any(|e| e["name"] == "Sergey Lavrov")
    );
    for place in ["Iran", "Russia", "Moscow"] {
        assert!(
            has_entity(&a, "location", place),
            "location {place} not found"
        );
    }
    assert!(
        has_entity(&a, "organization", "Kremlin"),
        "the Kremlin is an organization"
    );
    assert!(
        entities_of(&a, "date")
            .iter()
            .any(|e| e["text"] == "January 19" && e["name"] == "2022-01-19"),
        "January 19 resolves against the publication year"
    );
    assert_offsets_slice_the_body(&a);

    // The SQLite file holds the same, queryable with plain SQL.
    let db = rusqlite::Connection::open(dir.path().join("news.db")).unwrap();
    let journal: String = db
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    let (n, title, author, published, comments, post_id): (i64, String, String, String, i64, String) = db
        .query_row(
            "SELECT count(*), title, author, published_at, comments_count, blogger_post_id FROM articles",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(title, "Iran wants strategic ties with Russia");
    assert_eq!(author, "Khalid Bhatti");
    assert!(published.starts_with("2022-01-22T04:15:00"), "{published}");
    assert_eq!(comments, 0);
    assert_eq!(post_id, "6419920375815262891");
    let stored_body: String = db
        .query_row("SELECT body FROM articles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored_body, body);
    let labels: Vec<String> = db
        .prepare("SELECT label FROM article_labels ORDER BY label")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(labels, ["Iran", "Middle East", "Russia"]);
    // DESIGN.md: substr(body, start + 1, end - start) gives the mention's text.
    let mismatches: i64 = db
        .query_row(
            "SELECT count(*) FROM mentions m JOIN articles a ON a.id = m.article_id
             WHERE substr(a.body, m.start + 1, m.end - m.start) != m.text",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(mismatches, 0);
    let kremlin: i64 = db
        .query_row(
            "SELECT count(*) FROM mentions m JOIN entities e ON e.id = m.entity_id
             WHERE e.kind = 'organization' AND m.text = 'Kremlin'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kremlin, 1);
}

#[test]
fn contempo_post_reads_json_ld_time_and_comment_count() {
    let server = serve_fixtures();
    let dir = tempfile::tempdir().unwrap();
    let a = scrape_json(dir.path(), &server.url(CONTEMPO_PATH));

    assert_eq!(
        a["title"],
        "Kenya's central bank raises its key rate to 8.75%"
    );
    assert_eq!(
        a["author"], "Wanjiru Kamau",
        "the author is only in the JSON-LD"
    );
    assert_eq!(
        a["published_at"], "2022-05-30T15:05:00Z",
        "the main post's time, not a related post's"
    );
    assert_eq!(a["updated_at"], "2022-05-31T04:40:12Z");
    assert_eq!(a["labels"], serde_json::json!(["banks", "Kenya", "rates"]));
    assert_eq!(a["comments_count"], 3);
    assert_eq!(a["blogger_post_id"], "3394817265503920017");
    assert_eq!(
        a["canonical_url"],
        "https://markets-notebook.blogspot.com/2022/05/kenya-central-bank-raises-key-rate.html"
    );

    let body = a["body"].as_str().unwrap();
    assert_clean_body(body);
    assert!(
        body.starts_with("The Central Bank of Kenya raised its benchmark lending rate"),
        "{body}"
    );
    assert!(
        body.contains("\n\nShilling under pressure\n\n"),
        "headings are paragraphs of their own: {body}"
    );
    assert!(
        body.contains("Benchmark rate: 8.75%, up from 7%\nInflation in April: 6.5%"),
        "list items are lines: {body}"
    );
    assert!(
        body.ends_with("led by Safaricom and Equity Group."),
        "{body}"
    );
    for other in [
        "Uganda",
        "M-Pesa",
        "Long overdue",
        "mortgage",
        "Otieno",
        "Contributors",
        "Nairobi Markets Notebook",
    ] {
        assert!(
            !body.contains(other),
            "text outside the post ({other:?}) in the body"
        );
    }

    assert!(has_entity(&a, "percent", "8.75%"));
    assert!(has_entity(&a, "money", "$500 million"));
    assert!(has_entity(&a, "location", "Nairobi"));
    assert!(
        entities_of(&a, "person")
            .iter()
            .any(|e| e["text"] == "Njoroge" && e["name"] == "Patrick Njoroge")
    );
    assert_offsets_slice_the_body(&a);
}

#[test]
fn scraping_again_updates_in_place_never_a_second_row() {
    let server = serve_fixtures();
    let dir = tempfile::tempdir().unwrap();
    let url = server.url(CLASSIC_PATH);
    let first = scrape_json(dir.path(), &url);

    let again = gleaner(dir.path(), &["--db", "news.db", "scrape", &url]);
    assert_exit(&again, 0);
    assert!(
        stdout(&again).starts_with(&format!("unchanged #{}", first["id"])),
        "{}",
        stdout(&again)
    );

    // The author edits the post: the same row is updated, its mentions replaced.
    let edited = fixture("blogger/classic_minima_seed_post.html")
        .replace("for the next two decades", "for the next three decades")
        .replace("Sergey Lavrov", "Sergei Lavrov");
    server.set(CLASSIC_PATH, Response::html(edited));
    let third = gleaner(
        dir.path(),
        &["--db", "news.db", "scrape", "--format", "json", &url],
    );
    assert_exit(&third, 0);
    let updated: Value = serde_json::from_str(stdout(&third).lines().next().unwrap()).unwrap();
    assert_eq!(updated["id"], first["id"]);
    assert!(updated["body"].as_str().unwrap().contains("three decades"));
    assert_ne!(updated["content_hash"], first["content_hash"]);

    let db = rusqlite::Connection::open(dir.path().join("news.db")).unwrap();
    let rows: i64 = db
        .query_row("SELECT count(*) FROM articles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
    let old_name: i64 = db
        .query_row(
            "SELECT count(*) FROM mentions WHERE text = 'Sergey Lavrov'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(old_name, 0, "mentions of the old text are replaced");
}

#[test]
fn query_show_entities_and_stats_read_what_was_stored() {
    let server = serve_fixtures();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let classic = scrape_json(d, &server.url(CLASSIC_PATH));
    let _contempo = scrape_json(d, &server.url(CONTEMPO_PATH));
    let id = classic["id"].as_i64().unwrap().to_string();

    let q = gleaner(d, &["--db", "news.db", "query", "nuclear"]);
    assert_exit(&q, 0);
    let table = stdout(&q);
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.contains("Iran wants strategic ties with Russia"),
        "{table}"
    );
    assert!(!table.contains("Kenya"), "only matching articles: {table}");

    let q = gleaner(
        d,
        &["--db", "news.db", "query", "--format", "json", "shilling"],
    );
    assert_exit(&q, 0);
    let hits: Value = serde_json::from_str(&stdout(&q)).unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 1);
    assert_eq!(
        hits[0]["title"],
        "Kenya's central bank raises its key rate to 8.75%"
    );

    let q = gleaner(
        d,
        &[
            "--db",
            "news.db",
            "query",
            "--entity",
            "Ibrahim Raisi",
            "--format",
            "ndjson",
        ],
    );
    assert_exit(&q, 0);
    assert_eq!(stdout(&q).lines().count(), 1);

    let show = gleaner(d, &["--db", "news.db", "show", &id, "--format", "json"]);
    assert_exit(&show, 0);
    let shown: Value = serde_json::from_str(&stdout(&show)).unwrap();
    assert_eq!(
        shown, classic,
        "show prints the stored article exactly as scrape did"
    );

    let show = gleaner(d, &["--db", "news.db", "show", &server.url(CLASSIC_PATH)]);
    assert_exit(&show, 0);
    assert!(stdout(&show).contains("Hard-liners in Tehran"));

    let ents = gleaner(
        d,
        &[
            "--db", "news.db", "entities", "--kind", "person", "--format", "json",
        ],
    );
    assert_exit(&ents, 0);
    let ents: Value = serde_json::from_str(&stdout(&ents)).unwrap();
    assert_eq!(
        ents[0]["name"], "Ibrahim Raisi",
        "the most-mentioned person: {ents:#}"
    );
    assert!(
        ents.as_array()
            .unwrap()
            .iter()
            .all(|e| e["kind"] == "person")
    );

    // Bad FTS5 syntax is a usage error with a clear message, not a crash.
    let bad = gleaner(d, &["--db", "news.db", "query", "\"unbalanced"]);
    assert_exit(&bad, 2);
    assert!(stderr(&bad).contains("search syntax"), "{}", stderr(&bad));

    // export streams whole articles, all of them or those matching the filters.
    let export = gleaner(d, &["--db", "news.db", "export"]);
    assert_exit(&export, 0);
    let exported: Vec<Value> = stdout(&export)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(exported.len(), 2);
    assert!(
        exported.contains(&classic),
        "export prints the stored article whole"
    );
    let csv = gleaner(
        d,
        &[
            "--db", "news.db", "export", "--format", "csv", "--label", "Kenya",
        ],
    );
    assert_exit(&csv, 0);
    let csv = stdout(&csv);
    assert!(
        csv.starts_with("id,url,canonical_url,source,blogger_post_id,title,"),
        "{csv}"
    );
    assert!(csv.contains("Kenya's central bank raises its key rate to 8.75%"));
    assert!(
        !csv.contains("Iran wants strategic ties"),
        "the label filter applies"
    );

    let stats = gleaner(d, &["--db", "news.db", "stats"]);
    assert_exit(&stats, 0);
    assert!(
        stdout(&stats).contains("articles:  2"),
        "{}",
        stdout(&stats)
    );
}

#[test]
fn extract_reads_saved_html_from_files_and_stdin_without_network_or_database() {
    let dir = tempfile::tempdir().unwrap();
    let page = common::fixtures().join("blogger/classic_minima_seed_post.html");
    let page = page.to_str().unwrap();
    let url =
        "http://worldaffairs-review.example/2022/01/iran-wants-strategic-ties-with-russia.html";
    let out = gleaner(dir.path(), &["extract", "--url", url, page]);
    assert_exit(&out, 0);
    let a: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(a["title"], "Iran wants strategic ties with Russia");
    assert_eq!(a["id"], Value::Null);
    assert_eq!(a["url"], url);
    assert!(has_entity(&a, "organization", "Kremlin"));
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "extract writes no database"
    );

    let html = fixture("blogger/contempo_post.html");
    let out = gleaner_with_stdin(dir.path(), &["extract", "-", page], Some(html.as_bytes()));
    assert_exit(&out, 0);
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "one JSON article per input");
    assert_eq!(lines[0]["author"], "Wanjiru Kamau");
    assert_eq!(lines[1]["author"], "Khalid Bhatti");
}

#[test]
fn tag_prints_entities_with_offsets_that_slice_the_text() {
    let dir = tempfile::tempdir().unwrap();
    let text = "On January 19, Chancellor Olaf Scholz met Emmanuel Macron in Paris. \
                Scholz said the European Union would spend 2.5 billion euros.";
    let out = gleaner_with_stdin(
        dir.path(),
        &["tag", "--reference-date", "2022-03-01"],
        Some(text.as_bytes()),
    );
    assert_exit(&out, 0);
    let entities: Vec<Value> = serde_json::from_str(&stdout(&out)).unwrap();
    let find = |kind: &str, surface: &str| {
        entities
            .iter()
            .find(|e| e["kind"] == kind && e["text"] == surface)
            .unwrap_or_else(|| panic!("no {kind} {surface:?} in {entities:#?}"))
    };
    for e in &entities {
        let (start, end) = (
            e["start"].as_u64().unwrap() as usize,
            e["end"].as_u64().unwrap() as usize,
        );
        assert_eq!(char_slice(text, start, end), e["text"].as_str().unwrap());
    }
    assert_eq!(find("person", "Olaf Scholz")["name"], "Olaf Scholz");
    assert_eq!(
        find("person", "Scholz")["name"],
        "Olaf Scholz",
        "short mention resolved"
    );
    find("person", "Emmanuel Macron");
    find("location", "Paris");
    find("organization", "European Union");
    assert_eq!(find("date", "January 19")["name"], "2022-01-19");
}

/// CoNLL columns in, the same lines out with one more column (IOB2), blank and `-DOCSTART-`
/// lines kept; each document is tagged as a whole, so a surname met alone in a later sentence
/// is still that person.
#[test]
fn tag_conll_adds_a_tag_column_and_reads_documents_whole() {
    let dir = tempfile::tempdir().unwrap();
    let sentence = |words: &str| -> String {
        words
            .split(' ')
            .map(|w| format!("{w} X X O\n"))
            .collect::<String>()
    };
    let input = format!(
        "-DOCSTART- -X- -X- O\n\n{}\n{}\n-DOCSTART- -X- -X- O\n\n{}\n",
        sentence("Prime Minister Jacinda Ardern visited Wellington on Monday ."),
        sentence("Ardern spoke for an hour ."),
        sentence("The Red Cross opened an office in Nairobi ."),
    );
    let path = dir.path().join("in.conll");
    std::fs::write(&path, &input).unwrap();
    let out = gleaner(dir.path(), &["tag", "--conll", path.to_str().unwrap()]);
    assert_exit(&out, 0);
    let printed = stdout(&out);
    let in_lines: Vec<&str> = input.lines().collect();
    let out_lines: Vec<&str> = printed.lines().collect();
    assert_eq!(in_lines.len(), out_lines.len(), "{printed}");
    let mut tags = Vec::new();
    for (i, o) in in_lines.iter().zip(&out_lines) {
        if i.is_empty() || i.starts_with("-DOCSTART-") {
            assert_eq!(i, o, "kept as it was");
            continue;
        }
        let (kept, tag) = o.rsplit_once(' ').unwrap();
        assert_eq!(*i, kept, "the input line, then one column");
        assert!(
            tag == "O" || ["B-", "I-"].iter().any(|p| tag.starts_with(p)),
            "{tag}"
        );
        tags.push((i.split(' ').next().unwrap().to_string(), tag.to_string()));
    }
    let tag_of = |word: &str, nth: usize| -> &str {
        tags.iter()
            .filter(|(w, _)| w == word)
            .nth(nth)
            .map(|(_, t)| t.as_str())
            .unwrap_or_else(|| panic!("{word} #{nth} not printed"))
    };
    assert_eq!(tag_of("Jacinda", 0), "B-PER");
    assert_eq!(tag_of("Ardern", 0), "I-PER");
    assert_eq!(
        tag_of("Ardern", 1),
        "B-PER",
        "the same person later in the document"
    );
    assert_eq!(tag_of("Wellington", 0), "B-LOC");
    assert_eq!(tag_of("Monday", 0), "O");
    assert_eq!(tag_of("Red", 0), "B-ORG");
    assert_eq!(tag_of("Cross", 0), "I-ORG");
    assert_eq!(tag_of("Nairobi", 0), "B-LOC");
}

#[test]
fn failures_are_clear_and_store_nothing() {
    let server = serve_fixtures();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let missing = gleaner(
        d,
        &[
            "--db",
            "news.db",
            "scrape",
            &server.url("/2022/01/deleted-post.html"),
        ],
    );
    assert_exit(&missing, 1);
    assert!(stderr(&missing).contains("404"), "{}", stderr(&missing));
    let db = rusqlite::Connection::open(d.join("news.db")).unwrap();
    let rows: i64 = db
        .query_row("SELECT count(*) FROM articles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0);

    let refused = gleaner(d, &["--db", "news.db", "scrape", "file:///etc/passwd"]);
    assert_exit(&refused, 2);
    assert!(
        stderr(&refused).contains("only http and https"),
        "{}",
        stderr(&refused)
    );

    let no_db = gleaner(d, &["--db", "nothing-here.db", "query", "nuclear"]);
    assert_exit(&no_db, 2);
    assert!(
        stderr(&no_db).contains("does not exist"),
        "{}",
        stderr(&no_db)
    );
    assert!(
        !d.join("nothing-here.db").exists(),
        "reading commands create no database"
    );
}

/// A Dynamic Views page is only a shell: when its post's feed entry cannot be read, nothing is
/// stored (not an empty post), the page keeps no validators, and the next scrape fetches it
/// again and stores the post.
#[test]
fn a_dynamic_views_page_whose_feed_entry_fails_is_retried_not_stored_empty() {
    const PATH: &str = "/2024/03/wanderung-am-bodensee.html";
    const FEED: &str = "/feeds/posts/default/2718281828459045235";
    let server = TestServer::start();
    let origin = server.url("");
    let origin = origin.trim_end_matches('/').to_string();
    let mut page =
        Response::html(fixture("blogger/dynamic_views_post.html").replace("@ORIGIN@", &origin));
    page.headers.push(("ETag".into(), "\"v1\"".into()));
    server.set(PATH, page);
    server.set(FEED, Response::with_type(503, "text/plain", "busy"));
    let dir = tempfile::tempdir().unwrap();
    // One attempt per URL; the www.blogger.com fallback goes to a closed local port (a proxy
    // that is not there), so the test never leaves the machine.
    std::fs::write(
        dir.path().join("gleaner.toml"),
        "[fetch]\nmax_attempts = 1\n",
    )
    .unwrap();
    let url = server.url(PATH);
    let scrape = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_gleaner"))
            .current_dir(dir.path())
            .args([
                "--config",
                "gleaner.toml",
                "--db",
                "news.db",
                "scrape",
                &url,
            ])
            .env_remove("GLEANER_DB")
            .env_remove("GLEANER_CONFIG")
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .output()
            .unwrap()
    };
    let out = scrape();
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("feed entry could not be read"),
        "{}",
        stderr(&out)
    );
    let conn = rusqlite::Connection::open(dir.path().join("news.db")).unwrap();
    let articles: i64 = conn
        .query_row("SELECT count(*) FROM articles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(articles, 0, "no empty post stored");
    let (etag, failures, retry): (Option<String>, i64, Option<String>) = conn
        .query_row(
            "SELECT etag, failures, next_retry_at FROM fetch_state WHERE url = ?1",
            [&url],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (etag, failures),
        (None, 1),
        "no validators kept, one failure"
    );
    assert!(retry.is_some(), "a retry is scheduled");

    server.set(
        FEED,
        Response::with_type(
            200,
            "application/json; charset=UTF-8",
            fixture("blogger/dynamic_views_post_entry.json").replace("@ORIGIN@", &origin),
        ),
    );
    let out = scrape();
    assert_exit(&out, 0);
    let (n, body_len): (i64, i64) = conn
        .query_row(
            "SELECT count(*), max(length(body)) FROM articles",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(n, 1);
    assert!(
        body_len > 200,
        "the post's text was stored ({body_len} chars)"
    );
    let page_hits = server
        .all_hits()
        .iter()
        .filter(|h| h.as_str() == PATH)
        .count();
    assert_eq!(
        page_hits, 2,
        "the page was fetched again, not answered from validators"
    );
}

#[test]
fn a_dynamic_views_post_is_read_from_its_post_feed() {
    const PATH: &str = "/2024/03/wanderung-am-bodensee.html";
    const FEED: &str = "/feeds/posts/default/2718281828459045235";
    let server = TestServer::start();
    let origin = server.url("");
    let origin = origin.trim_end_matches('/');
    let page = fixture("blogger/dynamic_views_post.html").replace("@ORIGIN@", origin);
    // The page is a JavaScript shell: no post in its HTML.
    assert!(!page.contains("Konstanz"));
    server.set(PATH, Response::html(page));
    server.set(
        FEED,
        Response::with_type(
            200,
            "application/json; charset=UTF-8",
            fixture("blogger/dynamic_views_post_entry.json").replace("@ORIGIN@", origin),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let url = server.url(PATH);
    let article = scrape_json(dir.path(), &url);

    assert_eq!(server.hits(FEED), 1, "the post feed entry was read");
    assert_eq!(article["url"], url.as_str());
    assert_eq!(article["title"], "Wanderung am Bodensee");
    assert_eq!(article["author"], "Hanna Albrecht");
    assert_eq!(article["blogger_post_id"], "2718281828459045235");
    assert_eq!(article["published_at"], "2024-03-17T17:42:00Z");
    assert_eq!(article["comments_count"], 3);
    assert_eq!(article["language"], "de");
    let labels: Vec<&str> = article["labels"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        labels.contains(&"Wandern") && labels.contains(&"Bodensee"),
        "{labels:?}"
    );
    let body = article["body"].as_str().unwrap();
    let paragraphs: Vec<&str> = body.split("\n\n").collect();
    assert_eq!(paragraphs.len(), 3, "{body}");
    assert!(
        paragraphs[0].starts_with("Am Samstag sind wir früh in Konstanz"),
        "{body}"
    );
    assert!(paragraphs[2].contains("23 Kilometer"), "{body}");
    for shell in ["Wird geladen", "JavaScript", "Flipcard", "Suchen"] {
        assert!(!body.contains(shell), "{shell:?} in {body}");
    }
    assert_offsets_slice_the_body(&article);

    // Stored once, under the page's URL.
    let conn = rusqlite::Connection::open(dir.path().join("news.db")).unwrap();
    let (n, stored_url): (i64, String) = conn
        .query_row("SELECT count(*), max(url) FROM articles", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((n, stored_url.as_str()), (1, url.as_str()));
}
