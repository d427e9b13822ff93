//! `AnyStore::integrity` on both backends: a database written by the store is clean, and
//! each kind of damage done by raw SQL (as a hand edit with foreign keys off would) is
//! reported by its own check and by no other.
//!
//! One suite, instantiated on SQLite and on PostgreSQL (`GLEANER_TEST_POSTGRES`; without it
//! the PostgreSQL cases say they were skipped, and pass).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gleaner_model::{Article, Entity, EntityKind, SourceKind};
use gleaner_store::{AnyStore, IntegrityReport};

mod support;
use support::both;

struct TestDb {
    store: AnyStore,
    _dir: Option<tempfile::TempDir>,
    schema: Option<support::PgSchema>,
    /// Ids of the two seeded articles.
    ids: [i64; 2],
}

impl TestDb {
    /// Run raw SQL on the database, outside the store's rules: `sqlite` on SQLite, `postgres`
    /// on PostgreSQL (as a superuser, in the test's schema).
    fn corrupt(&self, sqlite: &str, postgres: &str) {
        match &self.schema {
            None => self
                .store
                .as_sqlite()
                .unwrap()
                .connection()
                .execute_batch(sqlite)
                .unwrap(),
            Some(s) => support::admin(
                &s.base,
                &format!("SET search_path TO {}; {postgres}", s.name),
            )
            .unwrap(),
        }
    }

    fn check(&mut self) -> IntegrityReport {
        self.store.integrity().unwrap()
    }
}

fn seeded(mut store: AnyStore) -> ([i64; 2], AnyStore) {
    let source = store
        .ensure_source(SourceKind::Blogger, "https://example.blogspot.com/", None)
        .unwrap();
    let a = store
        .upsert_article(
            &article(1, "Vladimir Putin met Ebrahim Raisi in Moscow."),
            Some(source),
        )
        .unwrap()
        .id;
    let b = store
        .upsert_article(
            &article(2, "Ebrahim Raisi left Moscow on Thursday."),
            Some(source),
        )
        .unwrap()
        .id;
    ([a, b], store)
}

fn sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gleaner.db");
    let (ids, store) = seeded(AnyStore::open(path.to_str().unwrap()).unwrap());
    TestDb {
        store,
        _dir: Some(dir),
        schema: None,
        ids,
    }
}

fn postgres_db(test: &str) -> Option<TestDb> {
    let schema = support::PgSchema::new(test)?;
    let (ids, store) = seeded(AnyStore::open(&schema.url).unwrap());
    Some(TestDb {
        store,
        _dir: None,
        schema: Some(schema),
        ids,
    })
}

both!(
    a_database_the_store_wrote_is_clean,
    a_second_row_for_one_post_is_reported,
    mentions_that_do_not_slice_the_body_are_reported,
    counters_that_disagree_with_the_mentions_are_reported,
    rows_of_a_deleted_article_are_orphans,
    a_full_text_index_out_of_step_is_reported,
    leases_that_would_hold_work_forever_are_reported,
);

/// An article of the blog with every person and place of `body` tagged.
fn article(n: u32, body: &str) -> Article {
    let mut entities = Vec::new();
    for (text, kind) in [
        ("Vladimir Putin", EntityKind::Person),
        ("Ebrahim Raisi", EntityKind::Person),
        ("Moscow", EntityKind::Location),
    ] {
        if let Some(byte) = body.find(text) {
            let start = body[..byte].chars().count();
            entities.push(Entity {
                kind,
                text: text.into(),
                name: text.into(),
                start,
                end: start + text.chars().count(),
            });
        }
    }
    entities.sort_by_key(|e| e.start);
    Article {
        url: format!("https://example.blogspot.com/2022/01/post-{n}.html"),
        blogger_post_id: Some(format!("10{n}")),
        title: format!("Post {n}"),
        body: body.into(),
        word_count: 7,
        content_hash: format!("hash-{n}"),
        labels: vec!["Iran".into()],
        entities,
        ..Article::default()
    }
}

/// The names of the checks that found something, and all their problems.
fn failing(report: &IntegrityReport) -> (Vec<&'static str>, String) {
    let names = report
        .checks
        .iter()
        .filter(|c| !c.problems.is_empty())
        .map(|c| c.name)
        .collect();
    let all = report
        .checks
        .iter()
        .flat_map(|c| c.problems.iter().map(move |p| format!("{}: {p}", c.name)))
        .collect::<Vec<_>>()
        .join("\n");
    (names, all)
}

fn a_database_the_store_wrote_is_clean(mut db: TestDb) {
    let report = db.check();
    assert!(report.is_clean(), "{:?}", failing(&report));
    let names: Vec<_> = report.checks.iter().map(|c| c.name).collect();
    for name in [
        "one_row_per_article",
        "mention_offsets",
        "entity_counters",
        "orphans",
        "full_text",
    ] {
        assert!(names.contains(&name), "{name} not run: {names:?}");
    }
    assert_eq!(
        names.contains(&"leases"),
        db.store.is_shared(),
        "leases are checked where workers share the store"
    );
}

fn a_second_row_for_one_post_is_reported(mut db: TestDb) {
    let sql = format!(
        "INSERT INTO articles (url, source_id, blogger_post_id, title, body, word_count,
                               content_hash, stored_at, changed_at)
         SELECT url || '?m=1', source_id, blogger_post_id, title, body, word_count,
                content_hash, stored_at, changed_at
           FROM articles WHERE id = {}",
        db.ids[0]
    );
    db.corrupt(&sql, &sql);
    let (names, all) = failing(&db.check());
    assert_eq!(names, ["one_row_per_article"], "{all}");
    assert!(
        all.contains("Blogger post 101 of source") && all.contains("has 2 rows"),
        "{all}"
    );
}

fn mentions_that_do_not_slice_the_body_are_reported(mut db: TestDb) {
    // One mention's text changed, another's end moved past the body.
    let sql = format!(
        "UPDATE mentions SET text = 'Boris Yeltsin'
          WHERE article_id = {a} AND text = 'Vladimir Putin';
         UPDATE mentions SET \"end\" = \"end\" + 1000 WHERE article_id = {b} AND text = 'Moscow';",
        a = db.ids[0],
        b = db.ids[1]
    );
    db.corrupt(&sql, &sql);
    let report = db.check();
    let (names, all) = failing(&report);
    assert_eq!(names, ["mention_offsets"], "{all}");
    assert!(
        all.contains("says Boris Yeltsin but the body holds Vladimir Putin"),
        "{all}"
    );
    assert!(all.contains("past the end of a body"), "{all}");
    assert_eq!(report.problem_count(), 2, "{all}");
}

fn counters_that_disagree_with_the_mentions_are_reported(mut db: TestDb) {
    let sql = "UPDATE entities SET mention_count = mention_count + 3 WHERE name = 'Moscow'";
    db.corrupt(sql, sql);
    let (names, all) = failing(&db.check());
    assert_eq!(names, ["entity_counters"], "{all}");
    assert!(
        all.contains("(location Moscow) counts 5 mentions in 2 articles; the rows say 2 in 2"),
        "{all}"
    );
}

fn rows_of_a_deleted_article_are_orphans(mut db: TestDb) {
    // Deleted with the foreign keys off (sqlite3's default; on PostgreSQL, as a replica
    // applies changes): its labels and mentions stay.
    let delete = format!("DELETE FROM articles WHERE id = {}", db.ids[1]);
    db.corrupt(
        &format!("PRAGMA foreign_keys = OFF; {delete}; PRAGMA foreign_keys = ON;"),
        &format!("SET session_replication_role = replica; {delete};"),
    );
    let (names, all) = failing(&db.check());
    assert_eq!(names, ["orphans"], "{all}");
    let gone = db.ids[1];
    assert!(
        all.contains(&format!("mention of missing article {gone}")),
        "{all}"
    );
    assert!(
        all.contains(&format!("label Iran of missing article {gone}")),
        "{all}"
    );
}

fn a_full_text_index_out_of_step_is_reported(mut db: TestDb) {
    // SQLite: the article's terms taken out of the index (as a trigger dropped by hand would
    // leave it); PostgreSQL: the GIN index dropped.
    db.corrupt(
        &format!(
            "INSERT INTO articles_fts (articles_fts, rowid, title, body)
             SELECT 'delete', id, title, body FROM articles WHERE id = {}",
            db.ids[0]
        ),
        "DROP INDEX articles_fts",
    );
    let (names, all) = failing(&db.check());
    assert_eq!(names, ["full_text"], "{all}");
    let expected = if db.store.is_shared() {
        "the GIN index articles_fts over articles.fts is missing".to_string()
    } else {
        format!("article {} is not in the full-text index", db.ids[0])
    };
    assert!(all.contains(&expected), "{all}");
}

fn leases_that_would_hold_work_forever_are_reported(mut db: TestDb) {
    if !db.store.is_shared() {
        // SQLite has one process at a time and no leases.
        return;
    }
    db.corrupt(
        "",
        "INSERT INTO leases (key, holder, expires_at)
         VALUES ('page:https://example.blogspot.com/held.html', 'w1', now() + interval '1 day');
         INSERT INTO leases (key, holder, expires_at, done)
         VALUES ('page:https://example.blogspot.com/never.html', 'w1', now(), TRUE);
         INSERT INTO leases (key, holder, expires_at)
         VALUES ('page:https://example.blogspot.com/fine.html', 'w2', now() + interval '1 minute');",
    );
    let report = db.check();
    let (names, all) = failing(&report);
    assert_eq!(names, ["leases"], "{all}");
    assert!(
        all.contains("lease page:https://example.blogspot.com/held.html runs until"),
        "{all}"
    );
    assert!(
        all.contains(
            "page https://example.blogspot.com/never.html is marked done with no fetch state"
        ),
        "{all}"
    );
    assert_eq!(report.problem_count(), 2, "{all}");
}
