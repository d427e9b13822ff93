//! End to end: `gleaner serve` over a database the binary built from Blogger pages served on
//! 127.0.0.1 — every endpoint of the JSON API, every filter, paging, bad input, the OpenAPI
//! document, the HTML pages' status and headers, and reading beside a writer.
//!
//! Each test runs on SQLite and on PostgreSQL (the server in `GLEANER_TEST_POSTGRES`, a fresh
//! schema per test, the database moved there by `gleaner copy`; skipped there, saying so,
//! without it), and the two backends' answers are compared.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod serve_support;

use std::path::Path;

use common::{assert_exit, gleaner, stderr, stdout};
use serde_json::Value;
use serve_support::{
    Backend, CLASSIC_PATH, CONTEMPO_PATH, Served, backends, db_path, enc, fixture_pages, scrape,
    scrape_into,
};

/// A database with the two fixture posts; the second one's source recorded, with a failing
/// page on its origin and a run, as `gleaner run` would leave them.
fn news(dir: &Path) -> common::TestServer {
    let pages = fixture_pages();
    scrape(dir, &pages.url(CLASSIC_PATH));
    scrape(dir, &pages.url(CONTEMPO_PATH));
    let conn = rusqlite::Connection::open(db_path(dir)).unwrap();
    let origin = pages.url("/");
    conn.execute_batch(&format!(
        "INSERT INTO sources (id, kind, url, name, last_run_at, created_at)
              VALUES (7, 'blogger', '{origin}', 'Kenya Blog', '2022-06-01T00:00:00Z', '2022-06-01T00:00:00Z');
         UPDATE articles SET source_id = 7 WHERE id = 2;
         INSERT INTO fetch_state (url, last_status, failures, last_error)
              VALUES ('{origin}2022/06/gone.html', 503, 3, 'HTTP 503');
         INSERT INTO runs (started_at, finished_at, status, fetched, stored, failed)
              VALUES ('2022-06-01T00:00:00Z', '2022-06-01T00:01:00Z', 'partial', 3, 2, 1);"
    ))
    .unwrap();
    pages
}

fn ids(v: &Value) -> Vec<i64> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn search_endpoint_takes_every_filter_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let pages = news(dir.path());
    for backend in backends("search_endpoint_takes_every_filter_and_pages") {
        eprintln!("on {}", backend.name());
        backend.load(dir.path());
        let s = backend.serve(dir.path());
        search_endpoint_checks(dir.path(), &backend, &pages, &s);
    }
}

fn search_endpoint_checks(dir: &Path, backend: &Backend, pages: &common::TestServer, s: &Served) {
    let all = s.get("/api/search").json();
    assert_eq!(all["total"], 2);
    assert_eq!(all["total_capped"], false);
    assert_eq!(ids(&all), [2, 1], "newest first without terms");
    assert!(all["results"][0]["snippet"].is_null());

    let nuclear = s.get("/api/search?q=nuclear").json();
    assert_eq!(ids(&nuclear), [1]);
    let snippet = nuclear["results"][0]["snippet"].as_str().unwrap();
    assert!(snippet.contains("[nuclear]"), "{snippet}");
    assert_eq!(nuclear["filters"]["q"], "nuclear");
    let labels: Vec<&str> = nuclear["facets"]["label"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["value"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Iran", "Middle East", "Russia"]);
    assert!(
        nuclear["facets"]["kind"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["value"] == "person" && f["articles"] == 1)
    );

    // The same hits and snippets as `gleaner query --format json`.
    let cli = gleaner(
        dir,
        &[
            "--db",
            &backend.db(),
            "query",
            "--format",
            "json",
            "nuclear",
        ],
    );
    assert_exit(&cli, 0);
    let cli: Value = serde_json::from_str(&stdout(&cli)).unwrap();
    assert_eq!(cli, nuclear["results"]);

    for (query, expected) in [
        ("entity=putin", vec![1]),
        ("entity=Putin&kind=person", vec![1]),
        ("entity=Putin&kind=location", vec![]),
        ("entity=Putin&entity=Njoroge", vec![]),
        ("entity=Kenya&entity=Njoroge", vec![2]),
        ("kind=money", vec![2]),
        ("label=middle+east", vec![1]),
        ("author=khalid+bhatti", vec![1]),
        ("since=2022-02-01", vec![2]),
        ("until=2022-02-01", vec![1]),
        ("since=2022-01-01T00:00:00Z&until=2022-12-31", vec![2, 1]),
        ("q=rate&label=Kenya", vec![2]),
        ("q=%22key+rate%22", vec![2]),
        ("q=russia+OR+kenya", vec![1, 2]),
    ] {
        let v = s.get(&format!("/api/search?{query}")).json();
        let mut got = ids(&v);
        let mut want = expected.clone();
        if query.starts_with("q=russia") {
            got.sort_unstable();
            want.sort_unstable();
        }
        assert_eq!(got, want, "{query}");
        assert_eq!(
            v["total"].as_u64().unwrap(),
            expected.len() as u64,
            "{query}"
        );
    }
    let source = pages.url("/");
    let by_source = s
        .get(&format!("/api/search?source={}", enc(&source)))
        .json();
    assert_eq!(ids(&by_source), [2]);
    assert_eq!(by_source["facets"]["source"][0]["value"], source.as_str());
    assert_eq!(ids(&s.get("/api/search?source=Kenya+Blog").json()), [2]);

    // Paging: one per page.
    let p1 = s.get("/api/search?per_page=1").json();
    let p2 = s.get("/api/search?per_page=1&page=2").json();
    let p3 = s.get("/api/search?per_page=1&page=3").json();
    assert_eq!((ids(&p1), ids(&p2), ids(&p3)), (vec![2], vec![1], vec![]));
    assert_eq!(
        (p2["page"].as_u64(), p2["per_page"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(p3["total"], 2);

    // Blank form fields are no filter.
    let blank = s.get("/api/search?q=&entity=&kind=&since=&page=").json();
    assert_eq!(ids(&blank), [2, 1]);
}

#[test]
fn bad_input_is_a_400_with_a_message_and_unknown_ids_are_404() {
    let dir = tempfile::tempdir().unwrap();
    let _pages = news(dir.path());
    for backend in backends("bad_input_is_a_400_with_a_message_and_unknown_ids_are_404") {
        eprintln!("on {}", backend.name());
        backend.load(dir.path());
        bad_input_checks(&backend.serve(dir.path()));
    }
}

fn bad_input_checks(s: &Served) {
    for (path, status, says) in [
        ("/api/search?kind=wizard", 400, "unknown kind"),
        ("/api/search?since=someday", 400, "cannot read since"),
        ("/api/search?until=2022-13-45", 400, "cannot read until"),
        ("/api/search?page=0", 400, "page must be"),
        ("/api/search?page=x", 400, "page must be"),
        ("/api/search?per_page=101", 400, "per_page must be"),
        (
            "/api/search?colour=red",
            400,
            "unknown parameter \\\"colour\\\"",
        ),
        ("/api/search?q=%22unclosed", 400, "cannot read the search"),
        ("/api/search?q=AND", 400, "cannot read the search"),
        ("/api/articles/abc", 400, "an article id is a number"),
        ("/api/articles/1?x=1", 400, "unknown parameter"),
        ("/api/articles/999", 404, "there is no article 999"),
        ("/api/entities?kind=wizard", 400, "unknown kind"),
        ("/api/entities?top=3", 400, "unknown parameter"),
        (
            "/api/entities/person/Nobody",
            404,
            "there is no person called",
        ),
        ("/api/entities/wizard/Putin", 404, "there is no entity kind"),
        (
            "/api/entities/person/Vladimir%20Putin?page=0",
            400,
            "page must be",
        ),
        ("/api/sources?x=1", 400, "unknown parameter"),
        ("/api/nothing-here", 404, "no such endpoint"),
    ] {
        let r = s.get(path);
        assert_eq!(r.status, status, "{path}: {}", r.body);
        let v = r.json();
        let message = v["error"].as_str().unwrap();
        assert!(
            serde_json::to_string(message).unwrap().contains(says),
            "{path}: {message}"
        );
    }
    // The HTML pages answer the same with a page.
    for (path, status) in [
        ("/?kind=wizard", 400),
        ("/articles/999", 404),
        ("/articles/abc", 400),
        ("/entities/person/Nobody", 404),
        ("/no/such/page", 404),
        ("/entities?since=never", 400),
    ] {
        let r = s.get(path);
        assert_eq!(r.status, status, "{path}");
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
        assert!(r.body.contains("Back to the search"), "{path}");
    }
}

#[test]
fn article_entity_entities_sources_and_openapi_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let pages = news(dir.path());
    for backend in backends("article_entity_entities_sources_and_openapi_endpoints") {
        eprintln!("on {}", backend.name());
        backend.load(dir.path());
        let s = backend.serve(dir.path());
        endpoint_checks(dir.path(), &backend, &pages, &s);
    }
}

fn endpoint_checks(dir: &Path, backend: &Backend, pages: &common::TestServer, s: &Served) {
    // The article is DESIGN.md's JSON, the same as `gleaner show --format json`.
    let article = s.get("/api/articles/1").json();
    let cli = gleaner(
        dir,
        &["--db", &backend.db(), "show", "--format", "json", "1"],
    );
    assert_exit(&cli, 0);
    assert_eq!(
        article,
        serde_json::from_str::<Value>(&stdout(&cli)).unwrap()
    );
    for field in gleaner_model::Article::FIELDS {
        assert!(article.get(field).is_some(), "field {field}");
    }

    let putin = s.get("/api/entities/person/Vladimir%20Putin").json();
    assert_eq!(putin["kind"], "person");
    assert_eq!(putin["name"], "Vladimir Putin");
    assert_eq!(putin["articles"], 1);
    assert!(
        putin["aliases"]
            .as_array()
            .unwrap()
            .contains(&Value::from("Putin"))
    );
    assert_eq!(
        putin["months"],
        serde_json::json!([{ "month": "2022-01", "articles": 1 }])
    );
    let company: Vec<&str> = putin["co_mentioned"]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(company.contains(&"Ibrahim Raisi"), "{company:?}");
    assert!(!company.contains(&"Vladimir Putin"));
    assert_eq!(putin["article_page"]["results"][0]["id"], 1);
    let none = s.get("/api/entities/person/Vladimir%20Putin?page=2").json();
    assert_eq!(none["article_page"]["results"], serde_json::json!([]));

    // The list: the same as `gleaner entities --format json`, paged.
    let top = s.get("/api/entities?per_page=5").json();
    let cli = gleaner(
        dir,
        &[
            "--db",
            &backend.db(),
            "entities",
            "--format",
            "json",
            "--top",
            "10",
        ],
    );
    let cli: Value = serde_json::from_str(&stdout(&cli)).unwrap();
    assert_eq!(
        top["results"].as_array().unwrap()[..],
        cli.as_array().unwrap()[..5]
    );
    assert_eq!(top["more"], true);
    let second = s.get("/api/entities?per_page=5&page=2").json();
    assert_eq!(
        second["results"].as_array().unwrap()[..],
        cli.as_array().unwrap()[5..10]
    );
    let money = s.get("/api/entities?kind=money").json();
    assert!(
        money["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["kind"] == "money")
    );
    let since = s.get("/api/entities?since=2022-02-01").json();
    let names: Vec<&str> = since["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Kenya") && !names.contains(&"Iran"),
        "{names:?}"
    );

    let src = s.get("/api/sources").json();
    assert_eq!(src["articles"], 2);
    let source = &src["sources"][0];
    assert_eq!(source["url"], pages.url("/").as_str());
    assert_eq!(source["name"], "Kenya Blog");
    assert_eq!(source["articles"], 1);
    assert_eq!(source["failing"], 1);
    assert_eq!(source["failing_pages"][0]["last_status"], 503);
    assert_eq!(source["newest_published"], "2022-05-30T15:05:00Z");
    assert_eq!(source["last_run_at"], "2022-06-01T00:00:00Z");
    assert_eq!(src["runs"][0]["status"], "partial");
    assert_eq!(src["runs"][0]["failed"], 1);

    let doc = s.get("/api/openapi.json").json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/search",
        "/api/articles/{id}",
        "/api/entities",
        "/api/entities/{kind}/{name}",
        "/api/sources",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
}

#[test]
fn pages_carry_the_security_headers_and_read_beside_a_writer() {
    let pages = fixture_pages();
    for backend in backends("pages_carry_the_security_headers_and_read_beside_a_writer") {
        eprintln!("on {}", backend.name());
        let dir = tempfile::tempdir().unwrap();
        let db = backend.db();
        scrape_into(dir.path(), &db, &pages.url(CLASSIC_PATH));
        let s = backend.serve(dir.path());
        headers_and_writer_checks(dir.path(), &backend, &pages, &s);
    }
}

fn headers_and_writer_checks(
    dir: &Path,
    backend: &Backend,
    pages: &common::TestServer,
    s: &Served,
) {
    for path in [
        "/",
        "/?q=nuclear",
        "/articles/1",
        "/entities",
        "/entities/person/Vladimir%20Putin",
        "/sources",
        "/api/search",
        "/static/style.css",
    ] {
        let r = s.get(path);
        assert_eq!(r.status, 200, "{path}");
        let csp = r.header("content-security-policy").unwrap();
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
    let page = s.get("/?q=nuclear").body;
    assert!(page.contains("<mark>nuclear</mark>"));
    assert!(!page.contains("<script"), "pages carry no script");

    // A writer (the binary) adds an article while the server holds its connections open:
    // it is not blocked, and the server sees the new article.
    scrape_into(dir, &backend.db(), &pages.url(CONTEMPO_PATH));
    assert_eq!(s.get("/api/search").json()["total"], 2);
    let id = backend.add_hostile_article(dir);
    assert_eq!(s.get(&format!("/api/articles/{id}")).status, 200);
}

#[test]
fn serve_refuses_a_missing_database_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = gleaner(
        dir.path(),
        &["--db", "absent.db", "serve", "--bind", "127.0.0.1:0"],
    );
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("does not exist yet"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("absent.db").exists());
}

#[test]
fn the_server_never_writes_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let pages = fixture_pages();
    scrape(dir.path(), &pages.url(CLASSIC_PATH));
    let db = db_path(dir.path());
    // Checkpoint, so that the main file holds everything and the WAL is empty.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let before = std::fs::read(&db).unwrap();
    {
        let s = Served::start(dir.path(), "news.db");
        for path in [
            "/",
            "/?q=iran",
            "/articles/1",
            "/entities",
            "/sources",
            "/api/search",
        ] {
            assert_eq!(s.get(path).status, 200);
        }
    }
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "the database file is unchanged"
    );
}

/// 1,050 articles with the word "harbour": relevance ranks only the newest 1,000 matches (the
/// 50 oldest, far better matches, are left out of a plain search but found once a filter
/// leaves fewer than 1,000) and counted only that far, facets count the newest 100, and
/// `sort=date` is exact over all matches.
#[test]
fn relevance_ranks_the_newest_1000_matches_and_date_order_is_exact() {
    const N: usize = 1_050;
    const STRONG: usize = 50;
    let dir = tempfile::tempdir().unwrap();
    let db = db_path(dir.path());
    let base = chrono::DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    // Publication hours: a permutation of 0..N that is not id order; article 3 (among the
    // oldest ids) is the newest by date.
    let hour = |n: usize| -> i64 {
        if n == 3 {
            N as i64 + 10
        } else {
            ((n * 7919) % N) as i64
        }
    };
    {
        let mut store = gleaner_store::Store::open(&db).unwrap();
        let batch: Vec<(gleaner_model::Article, Option<i64>)> = (1..=N)
            .map(|n| {
                let strong = n <= STRONG;
                let body = if strong {
                    format!("Harbour harbour harbour. The harbour of story {n}.")
                } else {
                    format!(
                        "Story {n} tells of ships, cranes, quays, tides, ferries, pilots, \
                         weather, cargo, trade and, once, the harbour."
                    )
                };
                let article = gleaner_model::Article {
                    url: format!("https://news.example/{n}.html"),
                    title: if strong {
                        format!("Harbour harbour {n}")
                    } else {
                        format!("Story {n}")
                    },
                    published_at: Some(base + chrono::Duration::hours(hour(n))),
                    labels: vec![if strong { "strong" } else { "plain" }.to_string()],
                    content_hash: format!("h{n}"),
                    body,
                    ..gleaner_model::Article::default()
                };
                (article, None)
            })
            .collect();
        let stored = store.upsert_articles(&batch).unwrap();
        assert_eq!(stored.first().map(|u| u.id), Some(1));
        assert_eq!(stored.last().map(|u| u.id), Some(N as i64));
    }
    for backend in backends("relevance_ranks_the_newest_1000_matches_and_date_order_is_exact") {
        eprintln!("on {}", backend.name());
        backend.load(dir.path());
        let s = backend.serve(dir.path());
        ranking_checks(&s, &hour);
    }
}

fn ranking_checks(s: &Served, hour: &dyn Fn(usize) -> i64) {
    const N: usize = 1_050;
    const STRONG: usize = 50;

    let best = s.get("/api/search?q=harbour").json();
    // Relevance counts as far as the ranked window: "more than 1,000".
    assert_eq!(best["total"], 1_000);
    assert_eq!(best["total_capped"], true);
    assert_eq!(best["sort"], "relevance");
    assert_eq!(best["ranked"], 1_000, "the newest 1,000 are ranked");
    let hits = ids(&best);
    assert_eq!(hits.len(), 20);
    assert!(
        hits.iter().all(|&id| id > (N - 1_000) as i64),
        "only the newest 1,000 matches are ranked, so the 50 oldest (best) are not listed: {hits:?}"
    );
    let ranks: Vec<f64> = best["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["rank"].as_f64().unwrap())
        .collect();
    assert!(ranks.is_sorted(), "best (lowest bm25) first: {ranks:?}");
    // Facets: the newest 100 matches, none of them labelled "strong".
    assert_eq!(best["facets"]["sampled"], 100);
    let labels = best["facets"]["label"].as_array().unwrap();
    assert_eq!(labels.len(), 1, "{labels:?}");
    assert_eq!(labels[0]["value"], "plain");
    assert_eq!(labels[0]["articles"], 100);

    // Fewer matches than the window: all ranked, and the strong ones are the best.
    let strong = s.get("/api/search?q=harbour&label=strong").json();
    assert_eq!(strong["ranked"], STRONG);
    let got = ids(&strong);
    assert_eq!(got.len(), 20);
    assert!(got.iter().all(|&id| id <= STRONG as i64), "{got:?}");

    // Newest first by date, exactly, over all 1,050 matches (article 3 is newest).
    let mut expected: Vec<(i64, i64)> = (1..=N).map(|n| (hour(n), n as i64)).collect();
    expected.sort_by(|a, b| b.cmp(a));
    let dated = s
        .get("/api/search?q=harbour&sort=date&page=2&per_page=7")
        .json();
    assert_eq!(dated["sort"], "date");
    assert!(dated["ranked"].is_null());
    // Date order counts every match (up to 10,000).
    assert_eq!(dated["total"], N);
    assert_eq!(dated["total_capped"], false);
    assert_eq!(
        ids(&dated),
        expected[7..14].iter().map(|e| e.1).collect::<Vec<_>>()
    );
    let first = s.get("/api/search?q=harbour&sort=date&per_page=3").json();
    assert_eq!(
        ids(&first)[0],
        3,
        "the newest by date, among the oldest ids"
    );
    assert!(first["results"][0]["rank"].is_null());

    // The page says what relevance means here, and links the other order.
    let page = s.get("/?q=harbour");
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("Best first among the newest 1000 matches (the most recently stored)."),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("More than 1000 articles"),
        "{}",
        page.body
    );
    assert!(page.body.contains("sort=date"));
    // Relevance has 50 pages of 20 (the ranked 1,000), not 53.
    assert!(page.body.contains("page 1 of 50"), "{}", page.body);
    let last = s.get("/?q=harbour&page=50");
    assert!(!last.body.contains("rel=\"next\""));
    assert_eq!(
        s.get("/api/search?q=harbour&page=50").json()["results"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
    assert!(s.get("/?q=harbour&sort=date").body.contains("page 1 of 53"));
    let page = s.get("/?q=harbour&label=strong");
    assert!(!page.body.contains("Best first among the newest"));
    assert_eq!(s.get("/api/search?q=harbour&sort=worst").status, 400);
}

/// Every endpoint answers the same on PostgreSQL as on SQLite over the same data (a search's
/// rank and snippet aside: bm25 and FTS5 snippets there, `ts_rank` and `ts_headline` here;
/// the hits' order is compared wherever the order is not by rank).
#[test]
fn both_backends_answer_alike() {
    let dir = tempfile::tempdir().unwrap();
    let _pages = news(dir.path());
    let all = backends("both_backends_answer_alike");
    if all.len() < 2 {
        return;
    }
    let served: Vec<Served> = all
        .iter()
        .map(|b| {
            b.load(dir.path());
            b.serve(dir.path())
        })
        .collect();
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.remove("rank");
                map.remove("snippet");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    for path in [
        "/api/search",
        "/api/search?per_page=1&page=2",
        "/api/search?q=iran&sort=date",
        "/api/search?q=%22key+rate%22",
        "/api/search?q=nuclear&entity=putin",
        "/api/search?kind=money",
        "/api/search?label=middle+east&author=khalid+bhatti",
        "/api/search?since=2022-02-01&until=2022-12-31",
        "/api/articles/1",
        "/api/articles/2",
        "/api/entities",
        "/api/entities?kind=person&since=2022-01-01",
        "/api/entities/person/Vladimir%20Putin",
        "/api/entities/location/Kenya",
        "/api/sources",
    ] {
        let answers: Vec<Value> = served
            .iter()
            .map(|s| {
                let r = s.get(path);
                assert_eq!(r.status, 200, "{path}: {}", r.body);
                let mut v = r.json();
                strip(&mut v);
                v
            })
            .collect();
        assert_eq!(answers[0], answers[1], "{path}: SQLite, then PostgreSQL");
    }
}

/// A search's facets and an entity's company come from what the server keeps of each
/// article (its labels and entities, while its `changed_at` stays the same): an article
/// rewritten by a writer is counted with its new labels and entities at once.
#[test]
fn facets_and_company_follow_a_rewritten_article() {
    const N: usize = 30;
    let dir = tempfile::tempdir().unwrap();
    let db = db_path(dir.path());
    let article = |n: usize, label: &str, other: (gleaner_model::EntityKind, &str)| {
        let body = format!("Story {n} of the harbour. Ada met {} there.", other.1);
        let at = |text: &str| body.find(text).map(|b| body[..b].chars().count()).unwrap();
        let entities = [(gleaner_model::EntityKind::Person, "Ada"), other]
            .into_iter()
            .map(|(kind, name)| gleaner_model::Entity {
                kind,
                text: name.to_string(),
                name: name.to_string(),
                start: at(name),
                end: at(name) + name.chars().count(),
            })
            .collect();
        gleaner_model::Article {
            url: format!("https://news.example/{n}.html"),
            title: format!("Story {n}"),
            labels: vec![label.to_string()],
            content_hash: format!("h{n} {label}"),
            entities,
            body,
            ..gleaner_model::Article::default()
        }
    };
    let oslo = (gleaner_model::EntityKind::Location, "Oslo");
    let mut store = gleaner_store::Store::open(&db).unwrap();
    for n in 1..=N {
        store
            .upsert_article(&article(n, "old", oslo), None)
            .unwrap();
    }
    // Stored long ago: what the server reads of them, it keeps.
    store
        .connection()
        .execute(
            "UPDATE articles SET changed_at = '2020-01-01T00:00:00Z'",
            [],
        )
        .unwrap();
    let s = Served::start(dir.path(), "news.db");
    let labels = |v: &Value| -> Vec<(String, u64)> {
        v["facets"]["label"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["value"].as_str().unwrap().into(),
                    l["articles"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let company = |v: &Value| -> Vec<(String, u64)> {
        v["co_mentioned"]["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["name"].as_str().unwrap().into(),
                    e["articles"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let before = s.get("/api/search?q=harbour").json();
    assert_eq!(labels(&before), vec![("old".to_string(), N as u64)]);
    assert_eq!(
        company(&s.get("/api/entities/person/Ada").json()),
        vec![("Oslo".to_string(), N as u64)]
    );

    let acme = (gleaner_model::EntityKind::Organization, "Acme");
    store
        .upsert_article(&article(7, "new", acme), None)
        .unwrap();
    let after = s.get("/api/search?q=harbour").json();
    assert_eq!(
        labels(&after),
        vec![("old".to_string(), N as u64 - 1), ("new".to_string(), 1)]
    );
    let kinds: Vec<&str> = after["facets"]["kind"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["value"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["person", "location", "organization"]);
    assert_eq!(
        company(&s.get("/api/entities/person/Ada").json()),
        vec![("Oslo".to_string(), N as u64 - 1), ("Acme".to_string(), 1)]
    );
}
