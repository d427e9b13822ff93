//! SQLite storage for gleaner: the database that is gleaner's product.
//!
//! This crate owns the database file and everything about it: the schema (created and
//! upgraded by numbered migrations under `migrations/`, tracked with `PRAGMA user_version`),
//! the connection settings (WAL, foreign keys, a busy timeout, `synchronous=NORMAL`), the
//! idempotent article upserts, the FTS5 full-text index (kept in sync by triggers), the
//! entity queries, the run log, the per-source state and the per-URL fetch state that make
//! runs incremental.
//!
//! What it is **not** for: it does no HTTP, no HTML parsing, no cleaning and no tagging. It
//! takes finished [`Article`](gleaner_model::Article)s and gives them back. With `gleaner-fetch` it is one of the two
//! crates that do I/O; this one only touches the SQLite file.
//!
//! # Guarantees
//!
//! - One article (its row, labels, mentions, full-text row) is written whole or not at all.
//!   [`Store::upsert_article`] writes one article in one transaction; a batch is one
//!   transaction, either atomic ([`Store::upsert_articles`]) or with one savepoint per
//!   article, keeping the good ones and reporting each outcome ([`Store::upsert_batch`]).
//! - Idempotent: an article is found by its URL, then through its canonical URL and Blogger
//!   post id when the row they lead to is plausibly the same article (same site, and the same
//!   post id, content, title and opening, or a `?m=1`-style variant address); the same content
//!   hash leaves the row untouched ([`UpsertOutcome::Unchanged`]), a different one replaces its
//!   fields, labels and mentions ([`UpsertOutcome::Updated`]). A canonical URL never lets one
//!   page replace another, and a source off the article's site never replaces another
//!   source's article.
//! - Every user-given value reaches SQLite as a bound parameter, never as SQL text. A
//!   full-text expression FTS5 cannot parse is [`StoreError::BadQuery`].
//! - Readers on other connections (`gleaner query`, `sqlite3`) run while one writer writes.
//!
//! ```no_run
//! use gleaner_store::{SearchQuery, Store};
//! # fn main() -> Result<(), gleaner_store::StoreError> {
//! let store = Store::open(std::path::Path::new("gleaner.db"))?;
//! let hits = store.search(&SearchQuery {
//!     terms: Some("nuclear".into()),
//!     entities: vec!["Putin".into()],
//!     limit: 10,
//!     ..SearchQuery::default()
//! })?;
//! for hit in hits {
//!     println!("{} {}", hit.id, hit.title);
//! }
//! # Ok(())
//! # }
//! ```

use std::path::Path;

use chrono::{DateTime, Utc};
use gleaner_model::{EntityKind, SourceKind};

mod backend;
mod browse;
mod convert;
mod copy;
mod identity;
mod integrity;
pub use integrity::{Check, IntegrityReport};
pub mod pg;
mod pg_browse;
mod pg_work;
pub use pg_work::{HostTurn, lease_ttl, run_started, worker_id};
mod query;
mod schema;
mod state;
#[cfg(test)]
mod test_support;
mod write;

pub use backend::{AnyStore, RobotsTxtLookup, TakenOver};
pub use browse::{
    ArticleFacts, CoMentions, EntityDetail, EntityKinds, FailingPage, MonthIndex, SearchFacets,
    SearchOrder, SourceHealth, is_interrupted,
};
pub use copy::{CopyReport, copy_sqlite_to_postgres};
pub use schema::SCHEMA_VERSION;
pub use state::SavedSweep;
pub use write::ArticleTransaction;
/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An SQLite error, with what the store was doing.
    #[error("{context}: {source}")]
    Sqlite {
        /// What the store was doing.
        context: String,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// A PostgreSQL error, with what the store was doing.
    #[error("{context}: {source}")]
    Postgres {
        /// What the store was doing.
        context: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A stored value could not be read back (or a connection could not be started).
    #[error("{context}: {message}")]
    Data {
        /// What the store was doing.
        context: String,
        /// What is wrong.
        message: String,
    },
    /// The full-text query could not be parsed by FTS5.
    #[error("bad search syntax in {query:?}: {message}")]
    BadQuery {
        /// The query as given.
        query: String,
        /// SQLite's message.
        message: String,
    },
    /// An article was refused before anything was written (e.g. an entity offset outside the body).
    #[error("article {url} cannot be stored: {reason}")]
    InvalidArticle {
        /// The article's URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Storing one article of a batch failed. Nothing of that article was written, and from
    /// [`Store::upsert_articles`] nothing of its batch either.
    #[error("article {url} (#{index} of the batch) was not stored: {source}")]
    Article {
        /// Position in the batch.
        index: usize,
        /// The article's URL.
        url: String,
        /// Why.
        #[source]
        source: Box<StoreError>,
    },
    /// The database was written by a newer gleaner.
    #[error("database schema version {found} is newer than this gleaner supports ({supported})")]
    TooNew {
        /// Version in the file.
        found: u32,
        /// Newest version this build knows.
        supported: u32,
    },
    /// A caller's callback (`search_each`, `for_each_article`) stopped the iteration.
    #[error("stopped by the caller: {reason}")]
    Stopped {
        /// What the caller said.
        reason: String,
    },
}

/// Result alias for the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertOutcome {
    /// A new row.
    Inserted,
    /// An existing row whose content hash changed.
    Updated,
    /// An existing row with the same content hash: left alone.
    Unchanged,
    /// An existing row that this article may not replace (a feed on another site supplied
    /// it, see [`Origin`]): left alone. Its page's validators must not be saved either, or
    /// the next run would get a 304 for content that was never stored.
    Kept,
}

/// Where an article's content came from, which decides whether it may replace a stored row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origin {
    /// Fetched from the article's own address: it is what that address holds and may always
    /// replace the row stored under that address.
    Page,
    /// Supplied by a feed (a full-content entry naming the address as its link): it may
    /// replace a stored row only when the feed's source is on the article's own site.
    #[default]
    Feed,
}

/// The row id and what happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upserted {
    /// `articles.id`.
    pub id: i64,
    /// Inserted, updated or unchanged.
    pub outcome: UpsertOutcome,
}

/// Filters for `gleaner query` / `gleaner export`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchQuery {
    /// FTS5 query over title and body (phrases, `OR`, `NOT`, `prefix*`, `title:word`); `None`
    /// or blank lists by date, newest first. Syntax FTS5 rejects is [`StoreError::BadQuery`].
    pub terms: Option<String>,
    /// Entity names that must all be mentioned. Each matches, case-insensitively, an entity's
    /// canonical name or any surface form it was seen under ("putin" finds "Vladimir Putin").
    pub entities: Vec<String>,
    /// Restrict `entities` matching (or, alone, require a mention of this kind).
    pub kind: Option<EntityKind>,
    /// Source: its URL (exactly as configured) or its name.
    pub source: Option<String>,
    /// Label, case-insensitively.
    pub label: Option<String>,
    /// Author, case-insensitively.
    pub author: Option<String>,
    /// Published at or after (inclusive).
    pub since: Option<DateTime<Utc>>,
    /// Published before (exclusive).
    pub until: Option<DateTime<Utc>>,
    /// At most this many hits; 0 means no limit.
    pub limit: usize,
    /// Skip this many hits.
    pub offset: usize,
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// `articles.id`.
    pub id: i64,
    /// The article URL.
    pub url: String,
    /// The title.
    pub title: String,
    /// The author.
    pub author: Option<String>,
    /// Published time.
    pub published_at: Option<DateTime<Utc>>,
    /// FTS5 snippet of the body around the match (`None` without terms).
    pub snippet: Option<String>,
    /// bm25 rank (lower is better; `None` without terms).
    pub rank: Option<f64>,
}

/// Filters for `gleaner entities`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntityQuery {
    /// Only this kind.
    pub kind: Option<EntityKind>,
    /// How many; 0 means all.
    pub top: usize,
    /// Only mentions in articles published since.
    pub since: Option<DateTime<Utc>>,
    /// Only entities mentioned in articles that also mention this name (canonical or surface
    /// form, case-insensitively), ranked by the number of such articles; the name itself is
    /// left out.
    pub with: Option<String>,
}

/// An entity and how often it is mentioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityCount {
    /// Kind.
    pub kind: EntityKind,
    /// Canonical name.
    pub name: String,
    /// Mentions in all.
    pub mentions: u64,
    /// Articles mentioning it.
    pub articles: u64,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    /// Still going (or killed: a run never finished stays `running`).
    Running,
    /// Everything went well.
    Ok,
    /// Some items failed; the rest were stored.
    Partial,
    /// Stopped by a signal or `--max-duration`.
    Interrupted,
    /// Nothing could be done.
    Failed,
}

/// Counts kept for a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCounts {
    /// URLs discovered.
    pub discovered: u64,
    /// Pages fetched (200).
    pub fetched: u64,
    /// 304 answers.
    pub not_modified: u64,
    /// New articles.
    pub stored: u64,
    /// Changed articles.
    pub updated: u64,
    /// Articles seen and left alone.
    pub unchanged: u64,
    /// Skipped on purpose (robots, content type, …).
    pub skipped: u64,
    /// Failed.
    pub failed: u64,
}

/// One row of `runs`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// `runs.id`.
    pub id: i64,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End, if it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Status.
    pub status: RunStatus,
    /// Counts.
    pub counts: RunCounts,
}

/// Database-wide counts for `gleaner stats`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Articles.
    pub articles: u64,
    /// Distinct entities.
    pub entities: u64,
    /// Mentions.
    pub mentions: u64,
    /// (source URL or "(none)", articles).
    pub per_source: Vec<(String, u64)>,
    /// ("YYYY-MM" of publication, articles), newest first.
    pub per_month: Vec<(String, u64)>,
    /// (kind, distinct entities).
    pub per_kind: Vec<(EntityKind, u64)>,
    /// The last runs, newest first.
    pub recent_runs: Vec<RunRecord>,
}

/// Per-URL fetch state for conditional GET and retries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchState {
    /// The URL.
    pub url: String,
    /// Last ETag.
    pub etag: Option<String>,
    /// Last Last-Modified.
    pub last_modified: Option<String>,
    /// Last HTTP status (or none for a transport error).
    pub last_status: Option<u16>,
    /// Consecutive failures.
    pub failures: u32,
    /// Last error message.
    pub last_error: Option<String>,
    /// Do not retry before this time.
    pub next_retry_at: Option<DateTime<Utc>>,
    /// When it was last fetched.
    pub fetched_at: Option<DateTime<Utc>>,
}

/// A configured source as the database knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    /// `sources.id`.
    pub id: i64,
    /// Kind.
    pub kind: SourceKind,
    /// URL.
    pub url: String,
    /// Display name.
    pub name: Option<String>,
    /// Newest `updated` seen in its feed (for `updated-min`).
    pub last_updated_seen: Option<DateTime<Utc>>,
    /// Last time it was read.
    pub last_run_at: Option<DateTime<Utc>>,
    /// Articles stored from it.
    pub articles: u64,
}

/// Look an article up by id or URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArticleKey<'a> {
    /// `articles.id`.
    Id(i64),
    /// URL or canonical URL.
    Url(&'a str),
}

/// The database: one connection to one SQLite file.
///
/// Open one `Store` per thread. One of them writes (the pipeline's writer task); any number
/// of others may read at the same time.
#[derive(Debug)]
pub struct Store {
    conn: rusqlite::Connection,
}

impl Store {
    /// Open (creating and migrating as needed) the database at `path`.
    ///
    /// Refuses, with [`StoreError::TooNew`], a database written by a newer gleaner.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = rusqlite::Connection::open(path)
            .map_err(|source| StoreError::sqlite(format!("opening {}", path.display()), source))?;
        Self::from_connection(conn)
    }

    /// A private in-memory database (tests).
    pub fn open_in_memory() -> Result<Self> {
        let conn = rusqlite::Connection::open_in_memory()
            .map_err(|source| StoreError::sqlite("opening an in-memory database", source))?;
        Self::from_connection(conn)
    }

    fn from_connection(mut conn: rusqlite::Connection) -> Result<Self> {
        // The writer alone keeps about 20 statements prepared (lookups, inserts, the mention
        // inserts of several sizes); the default of 16 would re-prepare them again and again.
        conn.set_prepared_statement_cache_capacity(64);
        schema::configure(&conn)?;
        schema::migrate(&mut conn)?;
        Ok(Store { conn })
    }

    /// The schema version (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<u32> {
        schema::user_version(&self.conn)
    }

    /// The underlying connection, for callers that need plain SQL (read-only use please).
    pub fn connection(&self) -> &rusqlite::Connection {
        &self.conn
    }
}

impl StoreError {
    /// Whether another connection held the database locked past the busy timeout (SQLite's
    /// `SQLITE_BUSY` or `SQLITE_LOCKED`): the same call may well work later.
    pub fn is_busy(&self) -> bool {
        match self {
            StoreError::Sqlite {
                source: rusqlite::Error::SqliteFailure(e, _),
                ..
            } => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            StoreError::Article { source, .. } => source.is_busy(),
            _ => false,
        }
    }

    pub(crate) fn sqlite(context: impl Into<String>, source: rusqlite::Error) -> Self {
        StoreError::Sqlite {
            context: context.into(),
            source,
        }
    }
}

/// Attach what the store was doing to a rusqlite error.
pub(crate) trait Context<T> {
    /// Wrap the error with a fixed context.
    fn context(self, context: &str) -> Result<T>;
    /// Wrap the error with a context built only on error.
    fn with_context(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for rusqlite::Result<T> {
    fn context(self, context: &str) -> Result<T> {
        self.map_err(|source| StoreError::sqlite(context, source))
    }
    fn with_context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| StoreError::sqlite(context(), source))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::test_support::{numbered_article, temp_store};

    #[test]
    fn reader_sees_no_error_while_a_writer_inserts_1000_articles() {
        let (_dir, path, _store) = temp_store();
        let done = Arc::new(AtomicBool::new(false));
        let writer = {
            let path = path.clone();
            let done = Arc::clone(&done);
            std::thread::spawn(move || -> Result<()> {
                let mut store = Store::open(&path)?;
                let result = (|| {
                    // Batches of 50, and some single upserts, like the pipeline's writer.
                    for chunk in (0..1000).collect::<Vec<_>>().chunks(50) {
                        let batch: Vec<_> =
                            chunk.iter().map(|&n| (numbered_article(n), None)).collect();
                        store.upsert_articles(&batch)?;
                    }
                    for n in 0..20 {
                        store.upsert_article(&numbered_article(n), None)?;
                    }
                    Ok(())
                })();
                done.store(true, Ordering::SeqCst);
                result
            })
        };
        let reader = Store::open(&path).unwrap();
        let mut reads = 0;
        let mut last_seen = 0;
        while !done.load(Ordering::SeqCst) {
            let q = SearchQuery {
                terms: Some("Brussels".into()),
                entities: vec!["Ali Bagheri".into()],
                limit: 20,
                ..SearchQuery::default()
            };
            reader.search(&q).unwrap();
            reader
                .top_entities(&EntityQuery {
                    top: 20,
                    ..EntityQuery::default()
                })
                .unwrap();
            let stats = reader.stats().unwrap();
            assert!(
                stats.articles >= last_seen,
                "a reader never sees rows disappear"
            );
            last_seen = stats.articles;
            reads += 1;
        }
        writer.join().unwrap().unwrap();
        assert_eq!(reader.stats().unwrap().articles, 1000);
        assert!(reads > 0);
    }
}
