//! The store's behaviour, one suite run on both backends.
//!
//! Every test is written once against [`AnyStore`] and instantiated twice by `both!`: on a
//! SQLite file in a temporary directory, and on PostgreSQL in a fresh schema of its own (so
//! the tests run in parallel) on the server named by `GLEANER_TEST_POSTGRES`
//! (e.g. `postgres://postgres@127.0.0.1:5432/test`). Without that variable the PostgreSQL
//! cases print that they were skipped and why, and pass.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use gleaner_model::{Article, Entity, EntityKind, SourceKind};
use gleaner_store::{
    AnyStore, ArticleKey, EntityQuery, FetchState, Origin, RunCounts, RunStatus, SearchQuery,
    StoreError, UpsertOutcome,
};

mod support;
use support::both;

/// A database for one test, dropped (schema and all) with it.
struct TestDb {
    store: AnyStore,
    _dir: Option<tempfile::TempDir>,
    _schema: Option<support::PgSchema>,
    url: String,
}

fn sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gleaner.db");
    let url = path.to_str().unwrap().to_string();
    TestDb {
        store: AnyStore::open(&url).unwrap(),
        _dir: Some(dir),
        _schema: None,
        url,
    }
}

/// A fresh schema on the test server, or `None` (and a line saying why) without one.
fn postgres_db(test: &str) -> Option<TestDb> {
    let schema = support::PgSchema::new(test)?;
    let url = schema.url.clone();
    Some(TestDb {
        store: AnyStore::open(&url).unwrap(),
        _dir: None,
        _schema: Some(schema),
        url,
    })
}

both!(
    upsert_inserts_then_leaves_alone_then_updates,
    a_batch_is_atomic,
    search_filters_and_syntax,
    bad_search_syntax_is_a_bad_query,
    entity_counts_follow_updates,
    entities_with_and_since,
    one_article_by_id_and_url,
    a_feed_elsewhere_does_not_replace_a_stored_page,
    hints_find_the_same_article,
    source_state_and_sweeps,
    fetch_state_and_listing_pages,
    runs_and_stats,
    reopening_keeps_schema_and_data,
);

fn hash(title: &str, body: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (title, body).hash(&mut h);
    format!("{:016x}", h.finish())
}

/// An article with each `(surface, kind, name)` tagged wherever it occurs in the body.
fn tagged(url: &str, title: &str, body: &str, tags: &[(&str, EntityKind, &str)]) -> Article {
    let mut entities = Vec::new();
    for (text, kind, name) in tags {
        let mut from = 0;
        while let Some(i) = body[from..].find(text) {
            let byte = from + i;
            let start = body[..byte].chars().count();
            entities.push(Entity {
                kind: *kind,
                text: text.to_string(),
                name: name.to_string(),
                start,
                end: start + text.chars().count(),
            });
            from = byte + text.len();
        }
    }
    entities.sort_by_key(|e| (e.start, e.end));
    Article {
        url: url.into(),
        title: title.into(),
        body: body.into(),
        word_count: u32::try_from(body.split_whitespace().count()).unwrap(),
        content_hash: hash(title, body),
        entities,
        ..Article::default()
    }
}

fn report(n: u32) -> Article {
    use EntityKind::*;
    let body = format!(
        "Report {n}: officials in Tehran met envoys from Brussels about sanctions. Ali Bagheri \
         told reporters the talks number {n} went well, and the European Union agreed to meet."
    );
    let mut a = tagged(
        &format!("https://news.example.org/2021/report-{n}.html"),
        &format!("Talks report {n}"),
        &body,
        &[
            ("Tehran", Location, "Tehran"),
            ("Brussels", Location, "Brussels"),
            ("Ali Bagheri", Person, "Ali Bagheri"),
            ("European Union", Organization, "European Union"),
        ],
    );
    a.published_at = Some(
        Utc.with_ymd_and_hms(2021, 1 + n % 12, 1 + n % 28, 9, 0, 0)
            .unwrap(),
    );
    a.labels = vec!["Iran".into(), format!("batch {}", n % 2)];
    a.author = Some(
        if n.is_multiple_of(2) {
            "Jane Roe"
        } else {
            "John Doe"
        }
        .into(),
    );
    a
}

fn raisi() -> Article {
    use EntityKind::*;
    let body = "Iranian President Ebrahim Raisi arrived in Moscow on Wednesday for talks with \
                Vladimir Putin, seeking strategic ties with Russia. Raisi said Iran wants a \
                long-term agreement; Putin and Raisi would discuss the nuclear deal.";
    let mut a = tagged(
        "https://example.blogspot.com/2022/01/iran-ties.html",
        "Iran wants strategic ties with Russia",
        body,
        &[
            ("Ebrahim Raisi", Person, "Ebrahim Raisi"),
            ("Raisi", Person, "Ebrahim Raisi"),
            ("Moscow", Location, "Moscow"),
            ("Vladimir Putin", Person, "Vladimir Putin"),
            ("Putin", Person, "Vladimir Putin"),
            ("Russia", Location, "Russia"),
        ],
    );
    // "Raisi" inside "Ebrahim Raisi" is tagged twice; keep the longer one only.
    a.entities.retain(|e| {
        let before: String = body.chars().take(e.start).collect();
        let inside_full_name = (e.text == "Raisi" && before.ends_with("Ebrahim "))
            || (e.text == "Putin" && before.ends_with("Vladimir "));
        !inside_full_name
    });
    a.blogger_post_id = Some("123456789".into());
    a.published_at = Some(Utc.with_ymd_and_hms(2022, 1, 20, 8, 30, 0).unwrap());
    a.labels = vec!["Iran".into(), "Russia".into()];
    a
}

fn upsert_inserts_then_leaves_alone_then_updates(mut db: TestDb) {
    let s = &mut db.store;
    let a = raisi();
    let first = s.upsert_article(&a, None).unwrap();
    assert_eq!(first.outcome, UpsertOutcome::Inserted);
    let again = s.upsert_article(&a, None).unwrap();
    assert_eq!(again.outcome, UpsertOutcome::Unchanged);
    assert_eq!(again.id, first.id);
    let mut changed = a.clone();
    changed.body.push_str(" Lavrov joined them.");
    changed.content_hash = hash(&changed.title, &changed.body);
    let up = s.upsert_article(&changed, None).unwrap();
    assert_eq!(up.outcome, UpsertOutcome::Updated);
    assert_eq!(up.id, first.id);
    let stored = s.article(ArticleKey::Id(first.id)).unwrap().unwrap();
    assert!(stored.body.ends_with("Lavrov joined them."));
    assert_eq!(stored.labels, vec!["Iran", "Russia"]);
    assert_eq!(s.stats().unwrap().articles, 1);
}

fn a_batch_is_atomic(mut db: TestDb) {
    let s = &mut db.store;
    let mut bad = report(2);
    bad.entities.push(Entity {
        kind: EntityKind::Person,
        text: "x".into(),
        name: "x".into(),
        start: 10_000,
        end: 10_001,
    });
    let batch = vec![(report(1), None), (bad, None), (report(3), None)];
    match s.upsert_articles(&batch) {
        Err(StoreError::Article { index, .. }) => assert_eq!(index, 1),
        other => panic!("expected the second article to fail the batch: {other:?}"),
    }
    assert_eq!(s.stats().unwrap().articles, 0, "nothing of a failed batch");
    let good: Vec<_> = (0..40).map(|n| (report(n), None)).collect();
    let done = s.upsert_articles(&good).unwrap();
    assert!(done.iter().all(|d| d.outcome == UpsertOutcome::Inserted));
    assert_eq!(s.stats().unwrap().articles, 40);
    let per = s.upsert_batch(&batch).unwrap();
    assert!(per[0].is_ok() && per[1].is_err() && per[2].is_ok());
}

fn ids(hits: &[gleaner_store::SearchHit]) -> Vec<i64> {
    hits.iter().map(|h| h.id).collect()
}

fn search_filters_and_syntax(mut db: TestDb) {
    let s = &mut db.store;
    let batch: Vec<_> = (0..20).map(|n| (report(n), None)).collect();
    s.upsert_articles(&batch).unwrap();
    let r = s.upsert_article(&raisi(), None).unwrap().id;
    let q = |terms: &str| SearchQuery {
        terms: Some(terms.into()),
        ..SearchQuery::default()
    };
    assert_eq!(ids(&s.search(&q("nuclear")).unwrap()), vec![r]);
    assert_eq!(ids(&s.search(&q("\"strategic ties\"")).unwrap()), vec![r]);
    assert!(s.search(&q("\"ties strategic\"")).unwrap().is_empty());
    assert_eq!(ids(&s.search(&q("nucl*")).unwrap()), vec![r]);
    assert_eq!(ids(&s.search(&q("title:russia")).unwrap()), vec![r]);
    assert!(s.search(&q("title:nuclear")).unwrap().is_empty());
    assert_eq!(s.search(&q("sanctions OR nuclear")).unwrap().len(), 21);
    assert_eq!(s.search(&q("sanctions NOT report")).unwrap().len(), 0);
    let hit = &s.search(&q("nuclear")).unwrap()[0];
    assert!(
        hit.snippet.as_deref().unwrap().contains("[nuclear]"),
        "{hit:?}"
    );
    assert!(hit.rank.is_some());
    // Filters without terms: newest first.
    let all = s.search(&SearchQuery::default()).unwrap();
    assert_eq!(all.len(), 21);
    assert_eq!(all[0].id, r);
    let dates: Vec<_> = all.iter().map(|h| h.published_at).collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]));
    let f = |q: SearchQuery| s.search(&q).unwrap().len();
    assert_eq!(
        f(SearchQuery {
            entities: vec!["putin".into()],
            ..Default::default()
        }),
        1
    );
    assert_eq!(
        f(SearchQuery {
            entities: vec!["ali bagheri".into()],
            ..Default::default()
        }),
        20
    );
    assert_eq!(
        f(SearchQuery {
            entities: vec!["Tehran".into()],
            kind: Some(EntityKind::Person),
            ..Default::default()
        }),
        0
    );
    assert_eq!(
        f(SearchQuery {
            kind: Some(EntityKind::Organization),
            ..Default::default()
        }),
        20
    );
    assert_eq!(
        f(SearchQuery {
            label: Some("batch 1".into()),
            ..Default::default()
        }),
        10
    );
    assert_eq!(
        f(SearchQuery {
            author: Some("jane roe".into()),
            ..Default::default()
        }),
        10
    );
    let since = Utc.with_ymd_and_hms(2021, 7, 1, 0, 0, 0).unwrap();
    let until = Utc.with_ymd_and_hms(2022, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(
        f(SearchQuery {
            since: Some(since),
            until: Some(until),
            ..Default::default()
        }),
        (0..20).filter(|n| 1 + n % 12 >= 7).count()
    );
    let page = s
        .search(&SearchQuery {
            limit: 5,
            offset: 3,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ids(&page), ids(&all[3..8]));
    let mut seen = 0;
    s.for_each_article(
        &SearchQuery {
            terms: Some("sanctions".into()),
            ..Default::default()
        },
        |a| {
            assert_eq!(a.entities.len(), 4);
            seen += 1;
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(seen, 20);
}

fn bad_search_syntax_is_a_bad_query(mut db: TestDb) {
    let s = &mut db.store;
    for terms in ["\"unclosed", "(a OR", "OR b"] {
        let q = SearchQuery {
            terms: Some(terms.into()),
            ..SearchQuery::default()
        };
        // On an empty database and on a full one alike.
        assert!(
            matches!(s.search(&q), Err(StoreError::BadQuery { .. })),
            "{terms}"
        );
        s.upsert_article(&raisi(), None).unwrap();
        assert!(
            matches!(s.search(&q), Err(StoreError::BadQuery { .. })),
            "{terms}"
        );
    }
}

fn entity_counts_follow_updates(mut db: TestDb) {
    let s = &mut db.store;
    let a = raisi();
    s.upsert_article(&a, None).unwrap();
    let top = s.top_entities(&EntityQuery::default()).unwrap();
    let putin = top.iter().find(|e| e.name == "Vladimir Putin").unwrap();
    assert_eq!((putin.mentions, putin.articles), (2, 1));
    let mut b = a.clone();
    b.body = "Vladimir Putin spoke.".into();
    b.content_hash = hash(&b.title, &b.body);
    b.entities = vec![Entity {
        kind: EntityKind::Person,
        text: "Vladimir Putin".into(),
        name: "Vladimir Putin".into(),
        start: 0,
        end: 14,
    }];
    s.upsert_article(&b, None).unwrap();
    let top = s.top_entities(&EntityQuery::default()).unwrap();
    assert_eq!(top.len(), 1, "{top:?}");
    assert_eq!((top[0].mentions, top[0].articles), (1, 1));
    let stats = s.stats().unwrap();
    assert_eq!((stats.entities, stats.mentions), (1, 1));
}

fn entities_with_and_since(mut db: TestDb) {
    let s = &mut db.store;
    let batch: Vec<_> = (0..6).map(|n| (report(n), None)).collect();
    s.upsert_articles(&batch).unwrap();
    s.upsert_article(&raisi(), None).unwrap();
    let top = s
        .top_entities(&EntityQuery {
            top: 2,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(top.len(), 2);
    assert!(top[0].mentions >= top[1].mentions);
    let with = s
        .top_entities(&EntityQuery {
            with: Some("putin".into()),
            ..Default::default()
        })
        .unwrap();
    let names: Vec<_> = with.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, vec!["Ebrahim Raisi", "Moscow", "Russia"]);
    let since = s
        .top_entities(&EntityQuery {
            since: Some(Utc.with_ymd_and_hms(2022, 1, 1, 0, 0, 0).unwrap()),
            kind: Some(EntityKind::Person),
            ..Default::default()
        })
        .unwrap();
    let names: Vec<_> = since.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, vec!["Ebrahim Raisi", "Vladimir Putin"]);
}

fn one_article_by_id_and_url(mut db: TestDb) {
    let s = &mut db.store;
    let mut a = raisi();
    a.canonical_url = Some("https://example.blogspot.com/2022/01/iran-ties-canonical.html".into());
    let id = s.upsert_article(&a, None).unwrap().id;
    let by_url = s.article(ArticleKey::Url(&a.url)).unwrap().unwrap();
    let by_canonical = s
        .article(ArticleKey::Url(a.canonical_url.as_deref().unwrap()))
        .unwrap()
        .unwrap();
    let by_id = s.article(ArticleKey::Id(id)).unwrap().unwrap();
    assert_eq!(by_url, by_id);
    assert_eq!(by_canonical, by_id);
    assert_eq!(by_id.entities.len(), a.entities.len());
    assert_eq!(by_id.published_at, a.published_at);
    assert!(s.article(ArticleKey::Id(id + 1000)).unwrap().is_none());
    assert_eq!(db.store.stored_article_id(&a.url).unwrap(), Some(id));
}

fn a_feed_elsewhere_does_not_replace_a_stored_page(mut db: TestDb) {
    let s = &mut db.store;
    let own = s
        .ensure_source(SourceKind::Blogger, "https://example.blogspot.com/", None)
        .unwrap();
    let other = s
        .ensure_source(
            SourceKind::Feed,
            "https://aggregator.example.net/feed",
            None,
        )
        .unwrap();
    let a = raisi();
    let id = s
        .upsert_article_from(&a, Some(own), Origin::Page)
        .unwrap()
        .id;
    let mut copy = a.clone();
    copy.body = "Something else entirely, said the aggregator.".into();
    copy.content_hash = hash(&copy.title, &copy.body);
    copy.entities.clear();
    let kept = s
        .upsert_article_from(&copy, Some(other), Origin::Feed)
        .unwrap();
    assert_eq!(kept.outcome, UpsertOutcome::Kept);
    assert_eq!(kept.id, id);
    // The page itself, fetched from its address, replaces it whatever source listed it.
    let page = s
        .upsert_article_from(&copy, Some(other), Origin::Page)
        .unwrap();
    assert_eq!(page.outcome, UpsertOutcome::Updated);
}

fn hints_find_the_same_article(mut db: TestDb) {
    let s = &mut db.store;
    let src = s
        .ensure_source(SourceKind::Blogger, "https://example.blogspot.com/", None)
        .unwrap();
    let a = raisi();
    let id = s.upsert_article(&a, Some(src)).unwrap().id;
    // The mobile variant of the same post.
    let mut m = a.clone();
    m.url = format!("{}?m=1", a.url);
    assert_eq!(s.upsert_article(&m, Some(src)).unwrap().id, id);
    // The blog moved to its own domain: same post id, same path, same source.
    let mut moved = a.clone();
    moved.url = "https://www.example-news.com/2022/01/iran-ties.html".into();
    moved.body.push_str(" Updated.");
    moved.content_hash = hash(&moved.title, &moved.body);
    let up = s.upsert_article(&moved, Some(src)).unwrap();
    assert_eq!((up.id, up.outcome), (id, UpsertOutcome::Updated));
    // A different post is a new row.
    assert_ne!(s.upsert_article(&report(1), Some(src)).unwrap().id, id);
    assert_eq!(s.stats().unwrap().articles, 2);
}

fn source_state_and_sweeps(mut db: TestDb) {
    let s = &mut db.store;
    let id = s
        .ensure_source(
            SourceKind::Blogger,
            "https://example.blogspot.com/",
            Some("Example"),
        )
        .unwrap();
    assert_eq!(
        s.ensure_source(SourceKind::Blogger, "https://example.blogspot.com/", None)
            .unwrap(),
        id
    );
    let t1 = Utc.with_ymd_and_hms(2022, 1, 20, 8, 30, 0).unwrap();
    let t0 = Utc.with_ymd_and_hms(2021, 1, 20, 8, 30, 0).unwrap();
    s.mark_source_read(id, Some(t1)).unwrap();
    s.mark_source_read(id, Some(t0)).unwrap();
    s.mark_source_read(id, None).unwrap();
    let src = &s.sources().unwrap()[0];
    assert_eq!(src.name.as_deref(), Some("Example"));
    assert_eq!(
        src.last_updated_seen,
        Some(t1),
        "the cut-off only moves forward"
    );
    assert!(src.last_run_at.is_some());
    assert!(s.source_sweep(id).unwrap().is_none());
    s.save_source_sweep(id, "cursor 51", t0, Some(t1)).unwrap();
    let sweep = s.source_sweep(id).unwrap().unwrap();
    assert_eq!(
        (sweep.cursor.as_str(), sweep.started_at, sweep.newest),
        ("cursor 51", t0, Some(t1))
    );
    s.clear_source_sweep(id).unwrap();
    assert!(s.source_sweep(id).unwrap().is_none());
}

fn fetch_state_and_listing_pages(mut db: TestDb) {
    let s = &mut db.store;
    let due = Utc.with_ymd_and_hms(2022, 1, 1, 0, 0, 0).unwrap();
    let later = Utc.with_ymd_and_hms(2099, 1, 1, 0, 0, 0).unwrap();
    let st = |url: &str, failures, next| FetchState {
        url: url.into(),
        etag: Some("\"e1\"".into()),
        last_modified: None,
        last_status: Some(if failures > 0 { 503 } else { 200 }),
        failures,
        last_error: (failures > 0).then(|| "busy".to_string()),
        next_retry_at: next,
        fetched_at: Some(due),
    };
    let a = st(
        "https://b.example/feeds/posts/default?start-index=1",
        0,
        None,
    );
    s.record_fetch(&a).unwrap();
    assert_eq!(s.fetch_state(&a.url).unwrap(), Some(a.clone()));
    s.record_fetches(&[
        st("https://b.example/p/1.html", 2, Some(due)),
        st("https://b.example/p/2.html", 1, Some(later)),
    ])
    .unwrap();
    assert_eq!(
        s.due_retries(Utc::now()).unwrap(),
        vec!["https://b.example/p/1.html"]
    );
    assert_eq!(s.failed_pages_under("https://b.example/").unwrap().len(), 2);
    assert_eq!(s.failing_urls().unwrap().len(), 2);
    assert!(s.listing_next(&a.url).unwrap().is_none());
    s.record_listing_next(
        &a.url,
        Some("https://b.example/feeds/posts/default?start-index=26"),
    )
    .unwrap();
    s.record_listing_next("https://b.example/feeds/posts/default?start-index=26", None)
        .unwrap();
    assert_eq!(
        s.listing_next("https://b.example/feeds/posts/default?start-index=26")
            .unwrap(),
        Some(None)
    );
    let mut under = s.listing_pages_under("https://b.example/feeds/").unwrap();
    under.sort();
    assert_eq!(under.len(), 2);
    s.forget_listing_page(&a.url).unwrap();
    assert!(s.fetch_state(&a.url).unwrap().is_none());
    assert!(s.listing_next(&a.url).unwrap().is_none());
}

fn runs_and_stats(mut db: TestDb) {
    let s = &mut db.store;
    let r1 = s.begin_run().unwrap();
    let counts = RunCounts {
        discovered: 5,
        fetched: 4,
        stored: 3,
        failed: 1,
        ..RunCounts::default()
    };
    s.finish_run(r1, RunStatus::Partial, &counts).unwrap();
    let r2 = s.begin_run().unwrap();
    let src = s
        .ensure_source(SourceKind::Feed, "https://news.example.org/feed", None)
        .unwrap();
    let batch: Vec<_> = (0..3).map(|n| (report(n), Some(src))).collect();
    s.upsert_articles(&batch).unwrap();
    let mut undated = raisi();
    undated.published_at = None;
    s.upsert_article(&undated, None).unwrap();
    s.close_abandoned_runs().unwrap();
    let stats = s.stats().unwrap();
    assert_eq!(stats.articles, 4);
    assert_eq!(
        stats.per_source[0],
        ("https://news.example.org/feed".to_string(), 3)
    );
    assert_eq!(stats.per_source[1], ("(none)".to_string(), 1));
    assert_eq!(stats.per_month.last().unwrap().0, "(unknown)");
    assert_eq!(stats.per_month[0].0, "2021-03");
    assert_eq!(stats.recent_runs[1].id, r1);
    assert_eq!(stats.recent_runs[1].status, RunStatus::Partial);
    assert_eq!(stats.recent_runs[1].counts, counts);
    assert_eq!(stats.recent_runs[0].id, r2);
    assert_eq!(s.sources().unwrap()[0].articles, 3);
}

fn reopening_keeps_schema_and_data(mut db: TestDb) {
    let v = db.store.schema_version().unwrap();
    assert!(v >= 1);
    db.store.upsert_article(&raisi(), None).unwrap();
    let again = AnyStore::open(&db.url).unwrap();
    assert_eq!(again.schema_version().unwrap(), v);
    assert_eq!(again.stats().unwrap().articles, 1);
}
