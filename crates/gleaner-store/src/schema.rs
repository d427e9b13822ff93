//! Connection settings and schema migrations.
//!
//! The schema is a list of SQL files under `migrations/`, applied in order, each in its own
//! transaction that also sets `PRAGMA user_version` to the file's number. A database at
//! version N gets the files after N; one newer than the build is refused. To change the
//! schema, append a file and a [`Migration`] to [`MIGRATIONS`]; never edit a released one.

use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use crate::{Context, Result, StoreError};

/// One step of the schema.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// The `user_version` after this step.
    pub(crate) version: u32,
    /// What the step does, for logs.
    pub(crate) name: &'static str,
    /// The SQL, run as one batch.
    pub(crate) sql: &'static str,
}

/// Every migration, oldest first; `MIGRATIONS[i].version == i + 1`.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial schema",
        sql: include_str!("../migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "views read by name",
        sql: include_str!("../migrations/0002_views_by_name.sql"),
    },
    Migration {
        version: 3,
        name: "full-text segments merged 16 at a time",
        sql: include_str!("../migrations/0003_fts_automerge.sql"),
    },
    Migration {
        version: 4,
        name: "blog feed reads taken up where they stopped",
        sql: include_str!("../migrations/0004_feed_reads.sql"),
    },
    Migration {
        version: 5,
        name: "feed posts without a page of their own found by their text",
        sql: include_str!("../migrations/0005_feed_item_text.sql"),
    },
];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// WAL pages after which a commit copies the WAL back into the database file.
pub(crate) const WAL_AUTOCHECKPOINT: i64 = 16_384;

/// How much of the database file is read through a memory map.
pub(crate) const MMAP_SIZE: i64 = 1 << 30;

/// How long a connection waits for a lock before it reports "database is locked".
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Set the per-connection pragmas: busy timeout, foreign keys, WAL, `synchronous=NORMAL`.
pub(crate) fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)
        .context("setting the busy timeout")?;
    // 8 KiB pages for a new file (an existing one keeps its own): most article rows then fit
    // in one page, and the file is 7% smaller than with 4 KiB. Must precede the first table.
    conn.pragma_update(None, "page_size", 8192)
        .context("setting the page size")?;
    conn.pragma_update(None, "foreign_keys", true)
        .context("turning foreign keys on")?;
    let mode = switch_to_wal(conn)?;
    tracing::debug!(journal_mode = %mode, "sqlite connection configured");
    conn.pragma_update(None, "synchronous", "NORMAL")
        .context("setting synchronous=NORMAL")?;
    // Statement journals (every statement with a trigger opens one) in memory, not in a
    // temporary file: a third of the insert time otherwise.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .context("setting temp_store=MEMORY")?;
    // Checkpoint the WAL every 16,384 pages (128 MiB with 8 KiB pages) instead of 1,000.
    // A batch of articles dirties pages all over the indexes (a mention's entity index entry
    // goes next to the entity's others), and the same pages again in the next batch: a
    // checkpoint copies each page back once however many batches changed it, so with rare
    // checkpoints a third less is written (measured at 100,000 articles: 161 KB written per
    // article with 2,000 pages, 104 KB with 40,000).
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT)
        .context("setting wal_autocheckpoint")?;
    // A 32 MiB page cache (the default is 2 MiB): the indexes of a large database stay in
    // memory instead of being re-read from the OS for every insert.
    conn.pragma_update(None, "cache_size", -32_768)
        .context("setting the page cache size")?;
    // Read the file through a memory map (up to 1 GiB of it): a page the cache does not hold
    // is then read in place instead of copied out of the OS by a system call. A fresh
    // `gleaner query` process starts with an empty cache, so this is most of its reading.
    // Writes still go through the WAL file.
    conn.pragma_update(None, "mmap_size", MMAP_SIZE)
        .context("setting mmap_size")?;
    Ok(())
}

/// Put the file in WAL mode (once per file; later connections find it so) and return the
/// journal mode: an in-memory database answers "memory", a file "wal".
///
/// Switching a fresh file needs an exclusive lock, and SQLite reports "database is locked"
/// at once instead of calling the busy handler when another process is opening the same new
/// file: that is retried here for up to [`BUSY_TIMEOUT`], like any other lock.
fn switch_to_wal(conn: &Connection) -> Result<String> {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(2);
    loop {
        let current: rusqlite::Result<String> =
            conn.pragma_query_value(None, "journal_mode", |row| row.get(0));
        let attempt = match current {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => Ok(mode),
            Ok(_) => conn.pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0)),
            Err(e) => Err(e),
        };
        match attempt {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            other => return other.context("switching to WAL"),
        }
    }
}

/// `PRAGMA user_version`.
pub(crate) fn user_version(conn: &Connection) -> Result<u32> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .context("reading the schema version")
}

/// Bring the schema to [`SCHEMA_VERSION`].
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    migrate_to(conn, SCHEMA_VERSION)
}

/// Bring the schema to `target` (tests use a lower target to build old databases).
pub(crate) fn migrate_to(conn: &mut Connection, target: u32) -> Result<()> {
    let too_new = |found| StoreError::TooNew {
        found,
        supported: SCHEMA_VERSION,
    };
    let current = user_version(conn)?;
    if current > SCHEMA_VERSION {
        return Err(too_new(current));
    }
    for step in MIGRATIONS
        .iter()
        .filter(|m| m.version > current && m.version <= target)
    {
        // IMMEDIATE takes the write lock now, so two processes opening a fresh file at the
        // same time apply each step once: the second one sees the new version and skips it.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .with_context(|| format!("starting migration {} ({})", step.version, step.name))?;
        let now = user_version(&tx)?;
        if now > SCHEMA_VERSION {
            return Err(too_new(now));
        }
        if now >= step.version {
            continue;
        }
        tx.execute_batch(step.sql)
            .with_context(|| format!("applying migration {} ({})", step.version, step.name))?;
        tx.pragma_update(None, "user_version", step.version)
            .context("setting the schema version")?;
        tx.commit()
            .with_context(|| format!("committing migration {} ({})", step.version, step.name))?;
        // A new file is created, not upgraded: one line for it, not one per step.
        if current == 0 {
            tracing::debug!(
                version = step.version,
                name = step.name,
                "schema step applied"
            );
        } else {
            tracing::info!(
                version = step.version,
                name = step.name,
                "database schema migrated"
            );
        }
    }
    let now = user_version(conn)?;
    if current == 0 && now > 0 {
        tracing::info!(version = now, "new database created");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{seed_article, temp_store};
    use crate::{ArticleKey, SearchQuery, Store};

    fn pragma<T: rusqlite::types::FromSql>(store: &Store, name: &str) -> T {
        store
            .connection()
            .pragma_query_value(None, name, |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn migrations_are_numbered_from_one_without_gaps() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{}", m.name);
            assert!(!m.sql.trim().is_empty());
        }
        assert_eq!(SCHEMA_VERSION as usize, MIGRATIONS.len());
    }

    #[test]
    fn empty_file_is_migrated_and_reopening_changes_nothing() {
        let (_dir, path, mut store) = temp_store();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let tables: Vec<String> = store
            .connection()
            .prepare("SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for t in [
            "article_entities",
            "article_labels",
            "articles",
            "articles_fts",
            "entities",
            "entity_aliases",
            "entity_cooccurrence",
            "fetch_state",
            "mentions",
            "runs",
            "sources",
        ] {
            assert!(tables.iter().any(|x| x == t), "missing {t} in {tables:?}");
        }
        let id = store.upsert_article(&seed_article(), None).unwrap().id;
        drop(store);
        for _ in 0..2 {
            let store = Store::open(&path).unwrap();
            assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
            assert!(store.article(ArticleKey::Id(id)).unwrap().is_some());
        }
    }

    #[test]
    fn connection_has_foreign_keys_wal_busy_timeout_and_normal_sync() {
        let (_dir, _path, store) = temp_store();
        assert_eq!(pragma::<i64>(&store, "foreign_keys"), 1);
        assert_eq!(pragma::<String>(&store, "journal_mode"), "wal");
        assert_eq!(pragma::<i64>(&store, "busy_timeout"), 5000);
        assert_eq!(pragma::<i64>(&store, "synchronous"), 1); // NORMAL
        assert_eq!(pragma::<i64>(&store, "temp_store"), 2); // MEMORY
        assert_eq!(
            pragma::<i64>(&store, "wal_autocheckpoint"),
            WAL_AUTOCHECKPOINT
        );
        assert_eq!(pragma::<i64>(&store, "mmap_size"), MMAP_SIZE);
        assert_eq!(pragma::<i64>(&store, "page_size"), 8192);
        // Foreign keys are enforced: a mention of a missing article is refused.
        let err = store
            .connection()
            .execute(
                r#"INSERT INTO mentions (article_id, entity_id, start, "end", text) VALUES (999, 999, 0, 1, 'x')"#,
                [],
            )
            .unwrap_err();
        assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
    }

    #[test]
    fn processes_opening_a_new_file_at_once_migrate_it_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("race.db");
        let openers: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || Store::open(&path).map(|s| s.schema_version()))
            })
            .collect();
        for opener in openers {
            assert_eq!(opener.join().unwrap().unwrap().unwrap(), SCHEMA_VERSION);
        }
    }

    #[test]
    fn database_from_a_newer_gleaner_is_refused() {
        let (_dir, path, store) = temp_store();
        store
            .connection()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(store);
        match Store::open(&path) {
            Err(StoreError::TooNew { found, supported }) => {
                assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            }
            other => panic!("expected TooNew, got {other:?}"),
        }
    }

    /// Data as a gleaner at schema `version` wrote it, in that version's own SQL.
    ///
    /// When migration N+1 lands, add the arm for N+1 (data in the new shape) and keep the
    /// older arms: the test below then opens a database of every past version with today's
    /// code and checks that the data survived.
    fn fixture_for_version(version: u32) -> String {
        // An article with a label and a mention, and a run: the same rows in every version.
        const ARTICLE_ROWS: &str = r#"
                INSERT INTO articles (id, url, canonical_url, source_id, blogger_post_id, title, author,
                                      published_at, body, word_count, content_hash, stored_at, changed_at)
                VALUES (7, 'https://example.blogspot.com/2022/01/old.html', NULL, 1, '42', 'An old post',
                        'Someone', '2022-01-19T18:05:00Z', 'Putin spoke about uranium.', 4, 'abc',
                        '2022-01-20T00:00:00Z', '2022-01-20T00:00:00Z');
                INSERT INTO article_labels (article_id, label, position) VALUES (7, 'Russia', 0);
                INSERT INTO entities (id, kind, name, mention_count, article_count)
                VALUES (3, 'person', 'Vladimir Putin', 1, 1);
                INSERT INTO mentions (article_id, entity_id, start, "end", text) VALUES (7, 3, 0, 5, 'Putin');
                INSERT INTO runs (started_at, finished_at, status, stored)
                VALUES ('2022-01-20T00:00:00Z', '2022-01-20T00:01:00Z', 'ok', 1);
                "#;
        match version {
            1 => format!(
                "{}{ARTICLE_ROWS}",
                r#"
                INSERT INTO sources (id, kind, url, name, created_at)
                VALUES (1, 'blogger', 'https://example.blogspot.com/', 'Example', '2022-01-01T00:00:00Z');
                "#
            ),
            // Versions 2 and 3 changed views and an FTS5 setting only: the tables, and so the
            // data, are as in version 1.
            2 | 3 => fixture_for_version(1),
            // Version 4 added columns to `sources` (NULL for old rows) and a table of its own.
            4 => format!(
                "{}{ARTICLE_ROWS}{}",
                r#"
                INSERT INTO sources (id, kind, url, name, created_at, sweep_cursor, sweep_started_at)
                VALUES (1, 'blogger', 'https://example.blogspot.com/', 'Example', '2022-01-01T00:00:00Z',
                        'published 2022-01-19T18:05:01Z 0', '2022-01-20T00:00:00Z');
                "#,
                r#"
                INSERT INTO listing_next (url, next_url)
                VALUES ('https://example.blogspot.com/feeds/posts/default?alt=json', NULL);
                "#
            ),
            // Version 5 added an index only: the data is as in version 4.
            5 => fixture_for_version(4),
            _ => panic!("no fixture for schema version {version}: add one"),
        }
    }

    #[test]
    fn database_of_every_past_version_is_migrated_and_keeps_its_data() {
        for version in 1..=SCHEMA_VERSION {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("old.db");
            {
                let mut conn = Connection::open(&path).unwrap();
                // Files of the first builds had SQLite's default 4 KiB pages.
                conn.pragma_update(None, "page_size", 4096).unwrap();
                conn.pragma_update(None, "journal_mode", "wal").unwrap();
                configure(&conn).unwrap();
                migrate_to(&mut conn, version).unwrap();
                assert_eq!(user_version(&conn).unwrap(), version);
                conn.execute_batch(&fixture_for_version(version)).unwrap();
            }
            let store = Store::open(&path).unwrap();
            assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
            assert_eq!(pragma::<i64>(&store, "page_size"), 4096);
            let a = store
                .article(ArticleKey::Id(7))
                .unwrap()
                .expect("old article kept");
            assert_eq!(a.title, "An old post");
            assert_eq!(a.source.as_deref(), Some("https://example.blogspot.com/"));
            assert_eq!(a.labels, vec!["Russia".to_string()]);
            assert_eq!(a.entities.len(), 1);
            assert_eq!(a.entities[0].name, "Vladimir Putin");
            let hits = store
                .search(&SearchQuery {
                    terms: Some("uranium".into()),
                    ..SearchQuery::default()
                })
                .unwrap();
            assert_eq!(
                hits.len(),
                1,
                "full-text index of version {version} still answers"
            );
            assert_eq!(store.stats().unwrap().recent_runs.len(), 1);
            let top = store.top_entities(&crate::EntityQuery::default()).unwrap();
            assert_eq!(
                (top[0].name.as_str(), top[0].mentions),
                ("Vladimir Putin", 1)
            );
            // The views of the current version answer over the old data.
            let (kind, mentions): (String, i64) = store
                .connection()
                .query_row(
                    "SELECT kind, mentions FROM article_entities
                      WHERE article_id = 7 AND name = 'Vladimir Putin'",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!((kind.as_str(), mentions), ("person", 1));
            let pairs: i64 = store
                .connection()
                .query_row("SELECT count(*) FROM entity_cooccurrence", [], |r| r.get(0))
                .unwrap();
            assert_eq!(pairs, 0, "one entity, no pairs");
            let automerge: i64 = store
                .connection()
                .query_row(
                    "SELECT v FROM articles_fts_config WHERE k = 'automerge'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(automerge, 16);
        }
    }
}
