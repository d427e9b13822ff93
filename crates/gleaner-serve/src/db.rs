//! A small pool of read-only connections, used off the async workers, each query under a
//! time limit; on either backend.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gleaner_model::{Article, EntityKind};
use gleaner_store::pg::PgStore;
use gleaner_store::{
    AnyStore, ArticleFacts, ArticleKey, CoMentions, EntityCount, EntityDetail, EntityKinds,
    EntityQuery, MonthIndex, SearchFacets, SearchHit, SearchOrder, SearchQuery, SourceHealth,
    SourceRecord, Stats, Store, StoreError,
};
use tokio::sync::Semaphore;

/// What a database call can end in, besides its answer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The search expression could not be parsed: the user's to fix (400).
    #[error("{0}")]
    BadQuery(String),
    /// The query ran past the time limit and was stopped (503).
    #[error("the query took longer than {0:?} and was stopped; narrow it down")]
    TimedOut(Duration),
    /// Anything else (500); the message is logged, not shown.
    #[error("database error: {0}")]
    Store(#[from] StoreError),
    /// The work itself failed (a panic in a blocking task): logged, 500.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The database a server reads: a SQLite file or a PostgreSQL address (`--db` as every
/// command takes it).
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (must exist).
    File(PathBuf),
    /// A `postgres://` or `postgresql://` address.
    Postgres(String),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown())
    }
}

impl Database {
    /// The database `--db` names.
    pub fn from_path(db: &Path) -> Self {
        match db.to_str() {
            Some(url) if AnyStore::is_postgres(url) => Database::Postgres(url.to_string()),
            _ => Database::File(db.to_path_buf()),
        }
    }

    /// For messages: the path, or the address with its password hidden.
    pub fn shown(&self) -> String {
        match self {
            Database::File(path) => path.display().to_string(),
            Database::Postgres(url) => gleaner_store::pg::redact_url(url),
        }
    }
}

/// One read-only connection, to either backend.
#[derive(Debug)]
pub enum Conn {
    /// SQLite, opened read-only.
    Sqlite(Store),
    /// PostgreSQL, with read-only transactions and a `statement_timeout`.
    Postgres(PgStore),
}

/// The reads the pages make, on whichever backend.
impl Conn {
    /// Open a reader on `db`.
    pub fn open(db: &Database, time_limit: Duration) -> Result<Self, StoreError> {
        match db {
            Database::File(path) => Store::open_read_only(path).map(Conn::Sqlite),
            Database::Postgres(url) => {
                let mut store = PgStore::open(url)?;
                store.make_read_only(time_limit)?;
                Ok(Conn::Postgres(store))
            }
        }
    }

    /// A search page: its hits in `order` (see [`Store::search_ordered`]) and its facets
    /// (see [`Store::search_facets_with`]). On SQLite in one call
    /// ([`Store::search_page`], facets from `facts`); PostgreSQL counts the kinds in SQL.
    #[allow(clippy::too_many_arguments)]
    pub fn search_page(
        &mut self,
        query: &SearchQuery,
        order: SearchOrder,
        window: usize,
        count_cap: usize,
        facet_cap: usize,
        kinds: Option<&EntityKinds>,
        facts: &ArticleFacts,
    ) -> Result<(Vec<SearchHit>, SearchFacets), StoreError> {
        match self {
            Conn::Sqlite(s) => {
                s.search_page(query, order, window, count_cap, facet_cap, kinds, facts)
            }
            Conn::Postgres(p) => {
                let hits = p.search_ordered(query, order, window)?;
                let facets = p.search_facets(query, count_cap, facet_cap)?;
                Ok((hits, facets))
            }
        }
    }

    /// See [`Store::entity_kinds_after`]; `None` on PostgreSQL, which needs none.
    pub fn entity_kinds_after(
        &mut self,
        known: &EntityKinds,
    ) -> Result<Option<EntityKinds>, StoreError> {
        match self {
            Conn::Sqlite(s) => s.entity_kinds_after(known),
            Conn::Postgres(_) => Ok(None),
        }
    }

    /// See [`Store::month_index`]; `None` on PostgreSQL, which needs none.
    pub fn month_index(&mut self) -> Result<Option<MonthIndex>, StoreError> {
        match self {
            Conn::Sqlite(s) => s.month_index(),
            Conn::Postgres(_) => Ok(None),
        }
    }

    /// An entity's months, from `index` when there is one.
    pub fn entity_months(
        &mut self,
        id: i64,
        index: Option<&MonthIndex>,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        match (self, index) {
            (Conn::Sqlite(s), Some(index)) => s.entity_months_in(id, index),
            (Conn::Sqlite(s), None) => s.entity_months(id),
            (Conn::Postgres(p), _) => p.entity_months(id),
        }
    }

    /// See [`Store::article`].
    pub fn article(&mut self, key: ArticleKey<'_>) -> Result<Option<Article>, StoreError> {
        match self {
            Conn::Sqlite(s) => s.article(key),
            Conn::Postgres(p) => p.article(key),
        }
    }

    /// See [`Store::search`].
    pub fn search(&mut self, query: &SearchQuery) -> Result<Vec<SearchHit>, StoreError> {
        match self {
            Conn::Sqlite(s) => s.search(query),
            Conn::Postgres(p) => p.search(query),
        }
    }

    /// See [`Store::top_entities`].
    pub fn top_entities(&mut self, query: &EntityQuery) -> Result<Vec<EntityCount>, StoreError> {
        match self {
            Conn::Sqlite(s) => s.top_entities(query),
            Conn::Postgres(p) => p.top_entities(query),
        }
    }

    /// See [`Store::entity_detail`].
    pub fn entity_detail(
        &mut self,
        kind: EntityKind,
        name: &str,
    ) -> Result<Option<EntityDetail>, StoreError> {
        match self {
            Conn::Sqlite(s) => s.entity_detail(kind, name),
            Conn::Postgres(p) => p.entity_detail(kind, name),
        }
    }

    /// See [`Store::co_mentions_in`] (on SQLite the articles' mentions from `facts`) and
    /// [`Store::co_mentions`].
    pub fn co_mentions(
        &mut self,
        id: i64,
        sample: usize,
        top: usize,
        kinds: Option<&EntityKinds>,
        facts: &ArticleFacts,
    ) -> Result<CoMentions, StoreError> {
        match self {
            Conn::Sqlite(s) => s.co_mentions_in(id, sample, top, kinds, facts),
            Conn::Postgres(p) => p.co_mentions(id, sample, top),
        }
    }

    /// See [`Store::stats`].
    pub fn stats(&mut self) -> Result<Stats, StoreError> {
        match self {
            Conn::Sqlite(s) => s.stats(),
            Conn::Postgres(p) => p.stats(),
        }
    }

    /// See [`Store::sources`].
    pub fn sources(&mut self) -> Result<Vec<SourceRecord>, StoreError> {
        match self {
            Conn::Sqlite(s) => s.sources(),
            Conn::Postgres(p) => p.sources(),
        }
    }

    /// See [`Store::source_health`].
    pub fn source_health(&mut self, pages: usize) -> Result<Vec<SourceHealth>, StoreError> {
        match self {
            Conn::Sqlite(s) => s.source_health(pages),
            Conn::Postgres(p) => p.source_health(pages),
        }
    }
}

/// Read-only connections to one database.
///
/// At most `size` queries run at once, each on a blocking thread of tokio's pool with its own
/// connection; the others wait for a connection. On SQLite each connection has a progress
/// handler that stops a statement once the call's deadline has passed; on PostgreSQL each
/// statement has the time limit as its `statement_timeout`, and a call is one read-only
/// transaction.
#[derive(Debug)]
pub struct Pool {
    db: Database,
    idle: Mutex<Vec<Reader>>,
    permits: Semaphore,
    time_limit: Duration,
    epoch: Instant,
}

/// One connection and its deadline (milliseconds since the pool's epoch, 0 for none; SQLite).
#[derive(Debug)]
struct Reader {
    conn: Conn,
    deadline: Arc<AtomicU64>,
}

impl Pool {
    /// A pool over `db` of `size` connections. One connection is opened now, so that a
    /// missing or foreign database is reported at start.
    pub fn open(db: &Database, size: usize, time_limit: Duration) -> Result<Self, StoreError> {
        let pool = Pool {
            db: db.clone(),
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size.max(1)),
            time_limit,
            epoch: Instant::now(),
        };
        let first = pool.connect()?;
        pool.put_back(first);
        Ok(pool)
    }

    fn connect(&self) -> Result<Reader, StoreError> {
        let conn = Conn::open(&self.db, self.time_limit)?;
        let deadline = Arc::new(AtomicU64::new(0));
        if let Conn::Sqlite(store) = &conn {
            let (watched, epoch) = (Arc::clone(&deadline), self.epoch);
            // Called every 1,000 virtual machine steps (a few microseconds): returning true
            // interrupts the statement with SQLITE_INTERRUPT.
            store
                .connection()
                .progress_handler(
                    1_000,
                    Some(move || {
                        let d = watched.load(Ordering::Relaxed);
                        d != 0 && millis_since(epoch) >= d
                    }),
                )
                .map_err(|source| StoreError::Sqlite {
                    context: "setting the query time limit".into(),
                    source,
                })?;
        }
        Ok(Reader { conn, deadline })
    }

    fn take(&self) -> Option<Reader> {
        self.idle.lock().map(|mut idle| idle.pop()).unwrap_or(None)
    }

    fn put_back(&self, reader: Reader) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(reader);
        }
    }

    /// Run `f` with a connection on a blocking thread, under the time limit.
    pub async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| DbError::Internal(e.to_string()))?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut reader = match pool.take() {
                Some(r) => r,
                None => pool.connect()?,
            };
            let limit = u64::try_from(pool.time_limit.as_millis()).unwrap_or(u64::MAX);
            reader.deadline.store(
                millis_since(pool.epoch).saturating_add(limit).max(1),
                Ordering::Relaxed,
            );
            let (result, fit) = in_transaction(&mut reader.conn, f);
            reader.deadline.store(0, Ordering::Relaxed);
            // A connection goes back only after its call returned: a panic drops it, and
            // the next call opens a fresh one; so does a PostgreSQL transaction that could
            // not be started or ended.
            if fit {
                pool.put_back(reader);
            }
            result.map_err(|e| classify(e, pool.time_limit))
        })
        .await
        .map_err(|e| DbError::Internal(e.to_string()))?
    }
}

/// `f` on `conn`, on PostgreSQL in one read-only transaction (one snapshot for the whole
/// call); and whether the connection is fit to be used again.
fn in_transaction<T>(
    conn: &mut Conn,
    f: impl FnOnce(&mut Conn) -> Result<T, StoreError>,
) -> (Result<T, StoreError>, bool) {
    let Conn::Postgres(p) = conn else {
        return sqlite_read(conn, f);
    };
    if let Err(e) = p.begin_read() {
        return (Err(e), false);
    }
    let result = f(conn);
    let ended = match conn {
        Conn::Postgres(p) => p.end_read(),
        Conn::Sqlite(_) => Ok(()),
    };
    match (result, ended) {
        (Ok(v), Ok(())) => (Ok(v), true),
        (Ok(_), Err(e)) => (Err(e), false),
        (Err(e), ended) => (Err(e), ended.is_ok()),
    }
}

/// `f` on a SQLite `conn` in one read transaction: a page's statements see one snapshot,
/// and a reader's page cache, which SQLite empties when a statement starts after another
/// connection committed, is emptied at most once per call instead of once per statement
/// while a `gleaner run` commits beside it.
fn sqlite_read<T>(
    conn: &mut Conn,
    f: impl FnOnce(&mut Conn) -> Result<T, StoreError>,
) -> (Result<T, StoreError>, bool) {
    let sql = |conn: &Conn, text: &str| match conn {
        // Cached: preparing BEGIN and COMMIT anew was a few microseconds of every call.
        Conn::Sqlite(s) if text == "BEGIN" || !s.connection().is_autocommit() => s
            .connection()
            .prepare_cached(text)
            .and_then(|mut st| st.execute([]))
            .map(|_| ())
            .map_err(|e| StoreError::Sqlite {
                context: format!("{text} (a read)"),
                source: e,
            }),
        _ => Ok(()),
    };
    if let Err(e) = sql(conn, "BEGIN") {
        return (Err(e), false);
    }
    let result = f(conn);
    match (result, sql(conn, "COMMIT")) {
        (Ok(v), Ok(())) => (Ok(v), true),
        (Ok(_), Err(e)) => (Err(e), false),
        (Err(e), ended) => (Err(e), ended.is_ok()),
    }
}

fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn classify(e: StoreError, limit: Duration) -> DbError {
    if gleaner_store::is_interrupted(&e) {
        DbError::TimedOut(limit)
    } else if let StoreError::BadQuery { query, message } = &e {
        DbError::BadQuery(format!("cannot read the search {query:?}: {message}"))
    } else {
        DbError::Store(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        Store::open(&path).unwrap();
        (dir, path)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_query_past_the_time_limit_is_stopped_and_the_connection_reused() {
        let (_dir, path) = database();
        let pool = Arc::new(
            Pool::open(&Database::File(path.clone()), 1, Duration::from_millis(50)).unwrap(),
        );
        let started = Instant::now();
        let slow = pool
            .run(|conn| {
                let Conn::Sqlite(store) = conn else {
                    unreachable!("a SQLite pool")
                };
                store
                    .connection()
                    .query_row(
                        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)
                         SELECT count(*) FROM n",
                        [],
                        |r| r.get::<_, i64>(0),
                    )
                    .map_err(|e| StoreError::Sqlite {
                        context: "counting forever".into(),
                        source: e,
                    })
            })
            .await;
        assert!(matches!(slow, Err(DbError::TimedOut(_))), "{slow:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        // The same (only) connection answers the next call, with no deadline left over.
        let n = pool.run(|conn| Ok(conn.stats()?.articles)).await.unwrap();
        assert_eq!(n, 0);
    }

    #[tokio::test]
    async fn a_panic_in_a_call_is_an_error_and_the_pool_goes_on() {
        let (_dir, path) = database();
        let pool =
            Arc::new(Pool::open(&Database::File(path.clone()), 1, Duration::from_secs(1)).unwrap());
        let r: Result<(), _> = pool
            .run(|_| -> Result<(), StoreError> { panic!("boom") })
            .await;
        assert!(matches!(r, Err(DbError::Internal(_))));
        assert_eq!(
            pool.run(|s| Ok(s.stats()?.articles)).await.unwrap(),
            0,
            "a new connection replaces the lost one"
        );
    }

    #[test]
    fn a_missing_file_is_refused_and_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.db");
        assert!(Pool::open(&Database::File(path.clone()), 2, Duration::from_secs(1)).is_err());
        assert!(!path.exists());
    }
}
