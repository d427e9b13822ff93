//! SQLite storage for gleaner. (API skeleton: bodies land with the foundation issue.)

use std::path::Path;

use chrono::{DateTime, Utc};
use gleaner_model::{Article, EntityKind, SourceKind};

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
    /// The full-text query could not be parsed by FTS5.
    #[error("bad search syntax in {query:?}: {message}")]
    BadQuery {
        /// The query as given.
        query: String,
        /// SQLite's message.
        message: String,
    },
    /// The database was written by a newer gleaner.
    #[error("database schema version {found} is newer than this gleaner supports ({supported})")]
    TooNew {
        /// Version in the file.
        found: u32,
        /// Newest version this build knows.
        supported: u32,
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
    /// FTS5 query over title and body; `None` lists by date.
    pub terms: Option<String>,
    /// Entity names (canonical or surface) that must all be mentioned.
    pub entities: Vec<String>,
    /// Restrict `entities` matching (or, alone, require a mention of this kind).
    pub kind: Option<EntityKind>,
    /// Source URL.
    pub source: Option<String>,
    /// Label.
    pub label: Option<String>,
    /// Author.
    pub author: Option<String>,
    /// Published at or after.
    pub since: Option<DateTime<Utc>>,
    /// Published before.
    pub until: Option<DateTime<Utc>>,
    /// At most this many hits.
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
    /// How many.
    pub top: usize,
    /// Only mentions in articles published since.
    pub since: Option<DateTime<Utc>>,
    /// Only entities mentioned in articles that also mention this name.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// The database.
#[derive(Debug)]
pub struct Store {
    conn: rusqlite::Connection,
}

#[allow(clippy::todo, unused_variables)]
impl Store {
    /// Open (creating and migrating as needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        todo!()
    }
    /// A private in-memory database (tests).
    pub fn open_in_memory() -> Result<Self> {
        todo!()
    }
    /// The schema version (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<u32> {
        todo!()
    }
    /// The underlying connection, for callers that need plain SQL (read-only use please).
    pub fn connection(&self) -> &rusqlite::Connection {
        &self.conn
    }
    /// Find or create a source row; updates kind/name if they changed.
    pub fn ensure_source(&mut self, kind: SourceKind, url: &str, name: Option<&str>) -> Result<i64> {
        todo!()
    }
    /// Sources with their state.
    pub fn sources(&self) -> Result<Vec<SourceRecord>> {
        todo!()
    }
    /// Record the newest `updated` seen in a source's feed and the run time.
    pub fn mark_source_read(&mut self, source_id: i64, last_updated_seen: Option<DateTime<Utc>>) -> Result<()> {
        todo!()
    }
    /// Insert or update one article (row, labels, mentions, FTS row) in one transaction.
    pub fn upsert_article(&mut self, article: &Article, source_id: Option<i64>) -> Result<Upserted> {
        todo!()
    }
    /// Upsert many articles in one transaction (each one whole or not at all).
    pub fn upsert_articles(&mut self, batch: &[(Article, Option<i64>)]) -> Result<Vec<Upserted>> {
        todo!()
    }
    /// One article with labels and entities.
    pub fn article(&self, key: ArticleKey<'_>) -> Result<Option<Article>> {
        todo!()
    }
    /// Full-text search with filters.
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        todo!()
    }
    /// Most-mentioned entities.
    pub fn top_entities(&self, query: &EntityQuery) -> Result<Vec<EntityCount>> {
        todo!()
    }
    /// Counts for `gleaner stats`.
    pub fn stats(&self) -> Result<Stats> {
        todo!()
    }
    /// Start a run; returns its id.
    pub fn begin_run(&mut self) -> Result<i64> {
        todo!()
    }
    /// Finish a run.
    pub fn finish_run(&mut self, run_id: i64, status: RunStatus, counts: &RunCounts) -> Result<()> {
        todo!()
    }
    /// Fetch state of a URL.
    pub fn fetch_state(&self, url: &str) -> Result<Option<FetchState>> {
        todo!()
    }
    /// Save the fetch state of a URL.
    pub fn record_fetch(&mut self, state: &FetchState) -> Result<()> {
        todo!()
    }
}
