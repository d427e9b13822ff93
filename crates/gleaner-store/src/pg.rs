//! The PostgreSQL backend: the same store on a server that many processes share.
//!
//! # Design
//!
//! The store's interface is synchronous (the pipeline's writer is a thread, the read
//! commands are plain functions), and so is this backend's. It is built on `tokio-postgres`:
//! each [`PgStore`] has one connection, whose I/O task runs on a small runtime private to
//! this module (one thread, [`io_runtime`]). A call sends its request to that task and waits
//! for the answer with `futures_executor::block_on`, which needs no tokio context. So a
//! store may be called from any thread, including a tokio worker (where the sync `postgres`
//! crate would panic: it starts a runtime of its own inside the caller's). Like a SQLite
//! [`crate::Store`], one `PgStore` is one connection: open one per thread that needs one.
//!
//! The schema is the SQLite one (times as RFC 3339 text, the same columns), created and
//! upgraded by the numbered files under `migrations/pg/`, tracked in `gleaner_schema`.
//! Full-text search uses a generated `tsvector` column with a GIN index; see [`tsquery`] for
//! how the query syntax maps.
//!
//! Several processes may write at once (the cooperative workers of `gleaner run`): an
//! article's row is found or inserted under `INSERT … ON CONFLICT DO NOTHING`, and a write
//! that loses a race (a unique violation, a deadlock, a serialization failure) is retried
//! whole, so there is exactly one row per article whatever the interleaving.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use gleaner_model::{Article, Entity, EntityKind, SourceKind};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient, NoTls, Row, Statement, Transaction};

use crate::convert::{int, now_text, opt_time_text, time_text, url_path};
use crate::write::{batch_error, canonical_of, non_empty, validate_batch};
use crate::{
    ArticleKey, Context, EntityCount, EntityQuery, FetchState, Origin, Result, RunCounts,
    RunRecord, RunStatus, SavedSweep, SearchHit, SearchQuery, SourceRecord, Stats, StoreError,
    UpsertOutcome, Upserted, identity,
};

/// One step of the PostgreSQL schema.
struct PgMigration {
    version: u32,
    name: &'static str,
    sql: &'static str,
}

/// Every PostgreSQL migration, oldest first; `PG_MIGRATIONS[i].version == i + 1`.
const PG_MIGRATIONS: &[PgMigration] = &[
    PgMigration {
        version: 1,
        name: "initial schema (the SQLite schema at version 4, tsvector search, worker leases)",
        sql: include_str!("../migrations/pg/0001_initial.sql"),
    },
    PgMigration {
        version: 2,
        name: "a byte-order index on article URLs (the tracked-address lookup)",
        sql: include_str!("../migrations/pg/0002_url_bytewise_index.sql"),
    },
    PgMigration {
        version: 3,
        name: "feed posts without a page of their own found by their text",
        sql: include_str!("../migrations/pg/0003_feed_item_text.sql"),
    },
];

/// The PostgreSQL schema version this build creates and understands.
pub const PG_SCHEMA_VERSION: u32 = PG_MIGRATIONS.len() as u32;

/// The key of the advisory lock held while migrating (so that workers starting together
/// migrate once).
const MIGRATION_LOCK: i64 = 0x0067_6c65_616e_6572; // "gleaner"

/// Rows looked at through one hint (see `write.rs`).
const MAX_CANDIDATES: i64 = 64;

/// How often a write that lost a race with another writer is tried again.
const WRITE_ATTEMPTS: usize = 16;

/// Connections made again, at most, for one write whose connection was lost (a server
/// restart, `pg_terminate_backend`, a proxy's idle cut) before the write fails.
const RECONNECTS_PER_WRITE: usize = 3;

/// Attempts to connect again after a lost connection, and the wait after the first failed
/// one (doubled after each: 0.1 s to 3.2 s, about 6 s in all), before giving up.
const CONNECT_ATTEMPTS: u32 = 7;
const CONNECT_FIRST_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// The runtime that drives every connection's I/O.
fn io_runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("gleaner-pg-io")
            .enable_all()
            .build()
            // Without a runtime no connection can be made; nothing sensible to fall back to.
            .unwrap_or_else(|e| panic!("cannot start the PostgreSQL I/O thread: {e}"))
    })
}

/// Wait for a future on the calling thread (any thread: no tokio context is needed).
fn wait<F: Future>(f: F) -> F::Output {
    futures_executor::block_on(f)
}

/// Whether a database address names PostgreSQL.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

impl<T> Context<T> for std::result::Result<T, tokio_postgres::Error> {
    fn context(self, context: &str) -> Result<T> {
        self.map_err(|source| StoreError::Postgres {
            context: context.to_string(),
            source,
        })
    }
    fn with_context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| StoreError::Postgres {
            context: context(),
            source,
        })
    }
}

fn bad_data(context: &str, message: impl std::fmt::Display) -> StoreError {
    StoreError::Data {
        context: context.to_string(),
        message: message.to_string(),
    }
}

fn parse_time(text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| bad_data("reading a stored time", format!("{text:?}: {e}")))
}

fn opt_time(row: &Row, idx: usize) -> Result<Option<DateTime<Utc>>> {
    let text: Option<String> = row.try_get(idx).context("reading a time column")?;
    text.as_deref().map(parse_time).transpose()
}

fn entity_kind(text: &str) -> Result<EntityKind> {
    text.parse()
        .map_err(|e| bad_data("reading an entity kind", format!("{text:?}: {e}")))
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The PostgreSQL error behind `e`, if any.
fn pg_source(e: &StoreError) -> Option<&tokio_postgres::Error> {
    match e {
        StoreError::Postgres { source, .. } => Some(source),
        StoreError::Article { source, .. } => pg_source(source),
        _ => None,
    }
}

/// Whether an error says the connection is gone (the server ended the session or the socket
/// closed): the statement may be sent again on a new connection.
fn lost_connection(e: &StoreError) -> bool {
    use tokio_postgres::error::SqlState;
    pg_source(e).is_some_and(|source| {
        source.is_closed()
            || source.code().is_some_and(|c| {
                *c == SqlState::ADMIN_SHUTDOWN
                    || *c == SqlState::CRASH_SHUTDOWN
                    || *c == SqlState::CANNOT_CONNECT_NOW
            })
    })
}

/// Connect to the server, the connection driven on the I/O thread.
fn connect(config: &tokio_postgres::Config, shown: &str) -> Result<Client> {
    let config = config.clone();
    let connecting = io_runtime().spawn(async move { config.connect(NoTls).await });
    let (client, connection) = wait(connecting)
        .map_err(|e| bad_data("connecting", e))?
        .with_context(|| format!("connecting to {shown}"))?;
    let shown_for_task = shown.to_string();
    io_runtime().spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(db = %shown_for_task, "PostgreSQL connection closed: {e}");
        }
    });
    Ok(client)
}

/// Whether an error is another writer winning a race: worth trying the write again.
fn lost_race(e: &StoreError) -> bool {
    use tokio_postgres::error::SqlState;
    let source = match e {
        StoreError::Postgres { source, .. } => source,
        StoreError::Article { source, .. } => return lost_race(source),
        _ => return false,
    };
    source.code().is_some_and(|c| {
        *c == SqlState::UNIQUE_VIOLATION
            || *c == SqlState::T_R_DEADLOCK_DETECTED
            || *c == SqlState::T_R_SERIALIZATION_FAILURE
    })
}

/// Parameters of a query assembled from fragments.
#[derive(Default)]
pub(crate) struct Sql {
    pub(crate) text: String,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Sql {
    pub(crate) fn push(&mut self, fragment: &str) -> &mut Self {
        self.text.push_str(fragment);
        self
    }
    /// Append `$n` bound to `value`.
    pub(crate) fn bind(&mut self, value: impl ToSql + Sync + Send + 'static) -> &mut Self {
        self.params.push(Box::new(value));
        let n = self.params.len();
        self.text.push_str(&format!("${n}"));
        self
    }
    pub(crate) fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// The statements a connection has prepared, by their SQL (the writer's few fixed ones).
type Statements = std::sync::Mutex<HashMap<String, Statement>>;

/// Statements kept per connection at most (the writer uses about a dozen; anything past this
/// is prepared each time, as without the cache).
const MAX_STATEMENTS: usize = 64;

/// A transaction whose statements are prepared once per connection and then only bound and
/// run: one round trip per statement instead of two, and no parsing or planning on the
/// server each time (`client.query(&str)` prepares an unnamed statement for every call).
struct Tx<'a> {
    tx: &'a Transaction<'a>,
    statements: &'a Statements,
}

impl Tx<'_> {
    async fn statement(&self, sql: &str) -> std::result::Result<Statement, tokio_postgres::Error> {
        let known = self
            .statements
            .lock()
            .ok()
            .and_then(|cache| cache.get(sql).cloned());
        if let Some(statement) = known {
            return Ok(statement);
        }
        let statement = self.tx.prepare(sql).await?;
        if let Ok(mut cache) = self.statements.lock()
            && cache.len() < MAX_STATEMENTS
        {
            cache.insert(sql.to_string(), statement.clone());
        }
        Ok(statement)
    }

    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> std::result::Result<Vec<Row>, tokio_postgres::Error> {
        let statement = self.statement(sql).await?;
        self.tx.query(&statement, params).await
    }

    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> std::result::Result<Option<Row>, tokio_postgres::Error> {
        let statement = self.statement(sql).await?;
        self.tx.query_opt(&statement, params).await
    }

    async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> std::result::Result<u64, tokio_postgres::Error> {
        let statement = self.statement(sql).await?;
        self.tx.execute(&statement, params).await
    }
}

/// The database on a PostgreSQL server: one connection.
pub struct PgStore {
    /// The connection; replaced by a new one when it is lost (by a read too, hence the lock:
    /// only [`PgStore::reconnect`] takes it for writing).
    client: std::sync::RwLock<Client>,
    /// How to connect again when the connection is lost (boxed: the store enum stays small).
    config: Box<tokio_postgres::Config>,
    /// The writer's statements, prepared once on this connection.
    statements: Statements,
    /// Entity ids and aliases this connection has seen committed (boxed: the store enum
    /// stays small).
    known: Box<KnownEntities>,
    /// The address it was opened with, password hidden (for messages).
    shown: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("db", &self.shown).finish()
    }
}

/// A database address with its password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

impl PgStore {
    /// Connect to `url` (`postgres://user@host:port/db`, libpq's keywords as query
    /// parameters, e.g. `?options=-csearch_path%3Dmine`), creating and migrating the schema.
    ///
    /// Refuses, with [`StoreError::TooNew`], a schema written by a newer gleaner.
    pub fn open(url: &str) -> Result<Self> {
        let shown = redact_url(url);
        let config = url
            .parse::<tokio_postgres::Config>()
            .with_context(|| format!("reading {shown}"))?;
        let client = connect(&config, &shown)?;
        let mut store = PgStore {
            client: std::sync::RwLock::new(client),
            config: Box::new(config),
            shown,
            statements: Statements::default(),
            known: Box::default(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// The address it was opened with, password hidden.
    pub fn shown_url(&self) -> &str {
        &self.shown
    }

    /// The connection, for a read (see [`PgStore::reading`]).
    fn client(&self) -> std::sync::RwLockReadGuard<'_, Client> {
        self.client
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Connect again, after the connection was lost: [`CONNECT_ATTEMPTS`] attempts with a
    /// doubling wait, then the last attempt's error. Statements prepared on the old
    /// connection are forgotten; what this connection saw committed stays known. Called
    /// with no guard of [`PgStore::client`] held.
    fn reconnect(&self) -> Result<()> {
        let mut pause = CONNECT_FIRST_WAIT;
        let mut attempt = 1;
        loop {
            match connect(&self.config, &self.shown) {
                Ok(client) => {
                    *self
                        .client
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = client;
                    if let Ok(mut statements) = self.statements.lock() {
                        statements.clear();
                    }
                    tracing::warn!(db = %self.shown, attempt, "connected to PostgreSQL again");
                    return Ok(());
                }
                Err(e) if attempt < CONNECT_ATTEMPTS => {
                    tracing::warn!(db = %self.shown, attempt, "connecting again failed: {e}");
                    std::thread::sleep(pause);
                    pause = pause.saturating_mul(2);
                    attempt += 1;
                }
                Err(e) => {
                    return Err(bad_data(
                        &format!(
                            "connecting again to {} after the connection was lost",
                            self.shown
                        ),
                        format!("gave up after {attempt} attempts: {e}"),
                    ));
                }
            }
        }
    }

    /// Run `write` (all or nothing: a transaction, or one statement); if it failed because
    /// the connection was lost, connect again and run it again, up to
    /// [`RECONNECTS_PER_WRITE`] times. A write whose commit was sent when the connection
    /// went may have been committed: every write sent again here is an upsert, which finds
    /// its rows written and leaves them be.
    pub(crate) fn reconnecting<T>(
        &mut self,
        mut write: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<T> {
        let mut reconnects = 0;
        loop {
            match write(self) {
                Err(e) if reconnects < RECONNECTS_PER_WRITE && lost_connection(&e) => {
                    tracing::warn!(db = %self.shown, "the PostgreSQL connection was lost ({e}); connecting again");
                    self.reconnect()?;
                    reconnects += 1;
                }
                other => return other,
            }
        }
    }

    /// Run `read` (a read, or one statement that may be sent twice: an upsert, an update to
    /// fixed values); if it failed because the connection was lost (a server restart,
    /// `pg_terminate_backend`, a failover), connect again and run it again, up to
    /// [`RECONNECTS_PER_WRITE`] times. Takes `&self`: the run's reader, heartbeat and shared
    /// robots.txt connections are long-lived too, and a lost one failed every later call (a
    /// lease never renewed or claimed, every lookup missed) until the run ended.
    pub(crate) fn reading<T>(&self, read: impl Fn(&Client) -> Result<T>) -> Result<T> {
        let mut reconnects = 0;
        loop {
            let result = read(&self.client());
            match result {
                Err(e) if reconnects < RECONNECTS_PER_WRITE && lost_connection(&e) => {
                    tracing::warn!(db = %self.shown, "the PostgreSQL connection was lost ({e}); connecting again");
                    self.reconnect()?;
                    reconnects += 1;
                }
                other => return other,
            }
        }
    }

    /// [`PgStore::reconnecting`] for one call on the connection (the lease calls of
    /// `pg_work.rs`, each one statement that may be sent again).
    pub(crate) fn retried<T>(&mut self, f: impl AsyncFn(&mut Client) -> Result<T>) -> Result<T> {
        self.reconnecting(|store| wait(f(store.client_mut())))
    }

    /// The schema version (`gleaner_schema.version`). Read again on a new connection if the
    /// server ends this one (a connection opened while an administrator's
    /// `pg_terminate_backend` or a restart ends the run's others failed the run, "opening
    /// database: reading the schema version: terminating connection").
    pub fn schema_version(&self) -> Result<u32> {
        self.reading(|c| wait(schema_version(c)))
    }

    fn migrate(&mut self) -> Result<()> {
        let found = self.schema_version()?;
        if found > PG_SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                found,
                supported: PG_SCHEMA_VERSION,
            });
        }
        if found == PG_SCHEMA_VERSION {
            return Ok(());
        }
        wait(async {
            let tx = self
                .client_mut()
                .transaction()
                .await
                .context("starting a migration")?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await
                .context("waiting for the migration lock")?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS gleaner_schema (
                     version    INTEGER NOT NULL,
                     applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            )
            .await
            .context("creating the schema table")?;
            // Another process may have migrated while this one waited for the lock.
            let now_at = schema_version(&tx).await?;
            for m in PG_MIGRATIONS.iter().filter(|m| m.version > now_at) {
                tracing::info!(
                    version = m.version,
                    "migrating the PostgreSQL schema: {}",
                    m.name
                );
                tx.batch_execute(m.sql)
                    .await
                    .with_context(|| format!("migration {} ({})", m.version, m.name))?;
                tx.execute(
                    "INSERT INTO gleaner_schema (version) VALUES ($1)",
                    &[&i32::try_from(m.version).unwrap_or(i32::MAX)],
                )
                .await
                .context("recording a migration")?;
            }
            tx.commit().await.context("committing the migrations")
        })
    }

    // ----- writing -----

    /// Insert or update one article; see [`crate::Store::upsert_article`].
    pub fn upsert_article(
        &mut self,
        article: &Article,
        source_id: Option<i64>,
    ) -> Result<Upserted> {
        self.upsert_article_from(article, source_id, Origin::Feed)
    }

    /// See [`crate::Store::upsert_article_from`].
    pub fn upsert_article_from(
        &mut self,
        article: &Article,
        source_id: Option<i64>,
        origin: Origin,
    ) -> Result<Upserted> {
        let batch = [(article.clone(), source_id)];
        let mut done = self
            .upsert_articles_from(&batch, &[origin])
            .map_err(|e| match e {
                StoreError::Article { source, .. } => *source,
                e => e,
            })?;
        done.pop().ok_or_else(|| StoreError::InvalidArticle {
            url: article.url.clone(),
            reason: "internal error: no outcome recorded".into(),
        })
    }

    /// See [`crate::Store::upsert_articles`] (atomic batch).
    pub fn upsert_articles(&mut self, batch: &[(Article, Option<i64>)]) -> Result<Vec<Upserted>> {
        self.upsert_articles_from(batch, &[])
    }

    /// See [`crate::Store::upsert_articles_from`]: one transaction, all or nothing, tried
    /// again whole when it lost a race with another writer.
    pub fn upsert_articles_from(
        &mut self,
        batch: &[(Article, Option<i64>)],
        origins: &[Origin],
    ) -> Result<Vec<Upserted>> {
        validate_batch(batch)?;
        self.reconnecting(|store| store.upsert_articles_once(batch, origins))
    }

    /// [`PgStore::upsert_articles_from`] on the connection as it is.
    fn upsert_articles_once(
        &mut self,
        batch: &[(Article, Option<i64>)],
        origins: &[Origin],
    ) -> Result<Vec<Upserted>> {
        let now = now_text();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (client, statements, known) = (
                self.client
                    .get_mut()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
                &self.statements,
                &self.known,
            );
            let result = wait(async {
                let tx = client
                    .transaction()
                    .await
                    .context("starting a batch transaction")?;
                let mut mentions = MentionCounts::new(known);
                let tx_ref = &tx;
                let tx_cached = Tx {
                    tx: tx_ref,
                    statements,
                };
                // Rows are written in URL order, whatever the batch's order: writers that
                // store the same articles then take their row locks in one order and do not
                // deadlock each other (four writers in opposite orders ran out of retries).
                let mut order: Vec<usize> = (0..batch.len()).collect();
                order.sort_by(|&a, &b| batch[a].0.url.cmp(&batch[b].0.url));
                let mut done = vec![None; batch.len()];
                for index in order {
                    let (article, source_id) = &batch[index];
                    let origin = origins.get(index).copied().unwrap_or_default();
                    let d =
                        upsert_one(&tx_cached, article, *source_id, origin, &now, &mut mentions)
                            .await
                            .map_err(|e| batch_error(batch, index, e))?;
                    done[index] = Some(d);
                }
                mentions.apply(&tx_cached).await?;
                tx.commit().await.context("committing a batch")?;
                let done: Vec<Upserted> = done.into_iter().flatten().collect();
                Ok((done, mentions.ids, mentions.aliases))
            });
            let result = result.map(|(done, ids, aliases)| {
                self.known.learn(ids, aliases);
                done
            });
            match result {
                Err(e) if attempt < WRITE_ATTEMPTS && lost_race(&e) => {
                    tracing::debug!("a batch lost a race with another writer, trying again: {e}");
                    // Two writers taking the same rows in other orders deadlock again if
                    // both retry at once: wait a while, longer each time, and not in step.
                    let jitter = u64::from(chrono::Utc::now().timestamp_subsec_micros() % 50_000);
                    let attempt = u64::try_from(attempt).unwrap_or(u64::MAX);
                    std::thread::sleep(std::time::Duration::from_micros(
                        attempt.saturating_mul(20_000).saturating_add(jitter),
                    ));
                }
                other => return other,
            }
        }
    }

    /// See [`crate::Store::upsert_batch`]: each article in its own savepoint.
    pub fn upsert_batch(
        &mut self,
        batch: &[(Article, Option<i64>)],
    ) -> Result<Vec<Result<Upserted>>> {
        // Each article on its own: a lost race is then retried for that article alone.
        Ok(batch
            .iter()
            .map(|(article, source_id)| self.upsert_article_from(article, *source_id, Origin::Feed))
            .collect())
    }

    // ----- reading -----

    /// See [`crate::Store::article`].
    pub fn article(&self, key: ArticleKey<'_>) -> Result<Option<Article>> {
        self.reading(|c| {
            wait(async {
                let id = match key {
                    ArticleKey::Id(id) => id,
                    ArticleKey::Url(url) => match stored_article_id(c, url).await? {
                        Some(id) => id,
                        None => return Ok(None),
                    },
                };
                load_article(c, id).await
            })
        })
    }

    /// The id of the stored article at `url` (or declaring it its canonical URL).
    pub fn stored_article_id(&self, url: &str) -> Result<Option<i64>> {
        self.reading(|c| wait(stored_article_id(c, url)))
    }

    /// See [`crate::Store::search`].
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        let mut hits = Vec::new();
        self.search_each(query, |hit| {
            hits.push(hit);
            Ok(())
        })?;
        Ok(hits)
    }

    /// See [`crate::Store::search_each`]. Results are read in pages of 500 (keyset on the
    /// sort order would need the rank; an offset is simple and each page is cheap).
    pub fn search_each(
        &self,
        query: &SearchQuery,
        mut f: impl FnMut(SearchHit) -> Result<()>,
    ) -> Result<()> {
        let terms = query
            .terms
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let ts = terms.map(tsquery).transpose()?;
        const PAGE: usize = 500;
        let mut offset = query.offset;
        let mut left = if query.limit == 0 {
            usize::MAX
        } else {
            query.limit
        };
        while left > 0 {
            let take = left.min(PAGE);
            let sql = search_sql(query, ts.as_deref(), take, offset);
            let rows = wait(self.client().query(&sql.text, &sql.refs())).map_err(|e| {
                match (terms, e.code()) {
                    (Some(t), Some(c)) if *c == tokio_postgres::error::SqlState::SYNTAX_ERROR => {
                        StoreError::BadQuery {
                            query: t.to_string(),
                            message: e.to_string(),
                        }
                    }
                    _ => StoreError::Postgres {
                        context: "running a search".into(),
                        source: e,
                    },
                }
            })?;
            let n = rows.len();
            for row in rows {
                let hit = SearchHit {
                    id: row.try_get(0).context("reading a search hit")?,
                    url: row.try_get(1).context("reading a search hit")?,
                    title: row.try_get(2).context("reading a search hit")?,
                    author: row.try_get(3).context("reading a search hit")?,
                    published_at: opt_time(&row, 4)?,
                    snippet: row.try_get(5).context("reading a search hit")?,
                    rank: row.try_get(6).context("reading a search hit")?,
                };
                f(hit)?;
            }
            if n < take {
                break;
            }
            left -= n;
            offset += n;
        }
        Ok(())
    }

    /// See [`crate::Store::for_each_article`].
    pub fn for_each_article(
        &self,
        query: &SearchQuery,
        mut f: impl FnMut(Article) -> Result<()>,
    ) -> Result<()> {
        self.search_each(query, |hit| {
            match wait(load_article(&*self.client(), hit.id))? {
                Some(article) => f(article),
                None => Ok(()),
            }
        })
    }

    /// See [`crate::Store::top_entities`].
    pub fn top_entities(&self, query: &EntityQuery) -> Result<Vec<EntityCount>> {
        let mut sql = Sql::default();
        let kind = query.kind.map(|k| k.as_str().to_string());
        let with = query
            .with
            .as_deref()
            .map(str::trim)
            .filter(|w| !w.is_empty());
        if let Some(with) = with {
            sql.push("WITH w AS (");
            push_entity_ids(&mut sql, with, None);
            sql.push(
                "), arts AS (SELECT DISTINCT article_id FROM mentions
                             WHERE entity_id IN (SELECT id FROM w)",
            );
            if let Some(since) = &query.since {
                sql.push(" AND article_id IN (SELECT id FROM articles WHERE published_at >= ")
                    .bind(time_text(since))
                    .push(")");
            }
            sql.push(
                ")
                 SELECT e.kind, e.name, count(*), count(DISTINCT m.article_id)
                   FROM arts JOIN mentions m ON m.article_id = arts.article_id
                   JOIN entities e ON e.id = m.entity_id
                  WHERE m.entity_id NOT IN (SELECT id FROM w)",
            );
            if let Some(kind) = kind {
                sql.push(" AND e.kind = ").bind(kind);
            }
            sql.push(
                " GROUP BY e.id, e.kind, e.name
                  ORDER BY 4 DESC, 3 DESC, e.name COLLATE \"C\", e.id",
            );
        } else if let Some(since) = &query.since {
            sql.push(
                "WITH counts (entity_id, mentions, articles) AS (
                     SELECT m.entity_id, count(*), count(DISTINCT m.article_id)
                       FROM articles a JOIN mentions m ON m.article_id = a.id
                      WHERE a.published_at >= ",
            )
            .bind(time_text(since))
            .push(
                " GROUP BY m.entity_id)
                 SELECT e.kind, e.name, c.mentions, c.articles
                   FROM counts c JOIN entities e ON e.id = c.entity_id WHERE TRUE",
            );
            if let Some(kind) = kind {
                sql.push(" AND e.kind = ").bind(kind);
            }
            sql.push(" ORDER BY c.mentions DESC, c.articles DESC, e.name COLLATE \"C\"");
        } else {
            sql.push(
                "SELECT kind, name, mention_count, article_count FROM entities
                  WHERE mention_count > 0",
            );
            if let Some(kind) = kind {
                sql.push(" AND kind = ").bind(kind);
            }
            sql.push(" ORDER BY mention_count DESC, article_count DESC, name COLLATE \"C\"");
        }
        let limit = (query.top > 0).then(|| int(query.top));
        sql.push(" LIMIT ").bind(limit);
        let rows =
            wait(self.client().query(&sql.text, &sql.refs())).context("counting entities")?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get(0).context("reading entity counts")?;
                Ok(EntityCount {
                    kind: entity_kind(&kind)?,
                    name: r.try_get(1).context("reading entity counts")?,
                    mentions: count(r.try_get(2).context("reading entity counts")?),
                    articles: count(r.try_get(3).context("reading entity counts")?),
                })
            })
            .collect()
    }

    /// See [`crate::Store::stats`].
    pub fn stats(&self) -> Result<Stats> {
        let client = self.client();
        let c = &*client;
        wait(async {
            let one = |sql: &'static str| async move {
                c.query_one(sql, &[])
                    .await
                    .and_then(|r| r.try_get::<_, i64>(0))
                    .map(count)
                    .with_context(|| format!("counting: {sql}"))
            };
            let pairs = |sql: &'static str| async move {
                let rows = c
                    .query(sql, &[])
                    .await
                    .with_context(|| format!("running: {sql}"))?;
                rows.iter()
                    .map(|r| {
                        Ok((
                            r.try_get::<_, String>(0).context("reading counts")?,
                            count(r.try_get(1).context("reading counts")?),
                        ))
                    })
                    .collect::<Result<Vec<_>>>()
            };
            let per_kind = {
                let rows = c
                    .query(
                        "SELECT kind, count(*) FROM entities WHERE mention_count > 0
                          GROUP BY kind ORDER BY 2 DESC, kind COLLATE \"C\"",
                        &[],
                    )
                    .await
                    .context("counting entities per kind")?;
                rows.iter()
                    .map(|r| {
                        let kind: String = r.try_get(0).context("reading per-kind counts")?;
                        Ok((
                            entity_kind(&kind)?,
                            count(r.try_get(1).context("reading per-kind counts")?),
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?
            };
            Ok(Stats {
                articles: one("SELECT count(*) FROM articles").await?,
                entities: one("SELECT count(*) FROM entities WHERE mention_count > 0").await?,
                mentions: one("SELECT coalesce(sum(mention_count), 0)::bigint FROM entities")
                    .await?,
                per_source: pairs(
                    "SELECT u, n FROM (
                         SELECT coalesce(s.url, '(none)') AS u, count(*) AS n FROM articles a
                           LEFT JOIN sources s ON s.id = a.source_id
                          GROUP BY a.source_id, s.url) x
                      ORDER BY n DESC, u COLLATE \"C\"",
                )
                .await?,
                per_month: pairs(
                    "SELECT coalesce(m, '(unknown)'), n FROM (
                         SELECT substr(published_at, 1, 7) AS m, count(*) AS n FROM articles
                          GROUP BY 1) x
                      ORDER BY m IS NULL, m COLLATE \"C\" DESC",
                )
                .await?,
                per_kind,
                recent_runs: recent_runs(c, 10).await?,
            })
        })
    }

    // ----- incremental state -----

    /// See [`crate::Store::ensure_source`].
    pub fn ensure_source(
        &mut self,
        kind: SourceKind,
        url: &str,
        name: Option<&str>,
    ) -> Result<i64> {
        self.reading(|c| {
            wait(c.query_one(
                "INSERT INTO sources (kind, url, name, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (url) DO UPDATE
                    SET kind = excluded.kind, name = coalesce(excluded.name, sources.name)
                 RETURNING id",
                &[&kind.as_str(), &url, &name, &now_text()],
            ))
            .and_then(|r| r.try_get(0))
            .with_context(|| format!("recording source {url}"))
        })
    }

    /// See [`crate::Store::sources`].
    pub fn sources(&self) -> Result<Vec<SourceRecord>> {
        let rows = self.reading(|c| {
            wait(c.query(
                "SELECT s.id, s.kind, s.url, s.name, s.last_updated_seen, s.last_run_at,
                        (SELECT count(*) FROM articles a WHERE a.source_id = s.id)
                   FROM sources s ORDER BY s.id",
                &[],
            ))
            .context("listing sources")
        })?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get(1).context("reading a source")?;
                Ok(SourceRecord {
                    id: r.try_get(0).context("reading a source")?,
                    kind: kind
                        .parse()
                        .map_err(|e| bad_data("reading a source kind", e))?,
                    url: r.try_get(2).context("reading a source")?,
                    name: r.try_get(3).context("reading a source")?,
                    last_updated_seen: opt_time(r, 4)?,
                    last_run_at: opt_time(r, 5)?,
                    articles: count(r.try_get(6).context("reading a source")?),
                })
            })
            .collect()
    }

    /// See [`crate::Store::mark_source_read`].
    pub fn mark_source_read(
        &mut self,
        source_id: i64,
        last_updated_seen: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let seen = opt_time_text(last_updated_seen.as_ref());
        self.reading(|c| {
            wait(c.execute(
                "UPDATE sources
                    SET last_updated_seen = CASE
                            WHEN $2::text IS NULL THEN last_updated_seen
                            WHEN last_updated_seen IS NULL OR $2 > last_updated_seen COLLATE \"C\"
                                 OR last_updated_seen > $3 COLLATE \"C\" THEN $2
                            ELSE last_updated_seen END,
                        last_run_at = $3
                  WHERE id = $1",
                &[&source_id, &seen, &now_text()],
            ))
            .with_context(|| format!("marking source {source_id} read"))
        })?;
        Ok(())
    }

    /// See [`crate::Store::source_sweep`].
    pub fn source_sweep(&self, source_id: i64) -> Result<Option<SavedSweep>> {
        let row = self.reading(|c| {
            wait(c.query_opt(
                "SELECT sweep_cursor, sweep_started_at, sweep_newest FROM sources
                  WHERE id = $1 AND sweep_cursor IS NOT NULL AND sweep_started_at IS NOT NULL",
                &[&source_id],
            ))
            .with_context(|| format!("reading the unfinished read of source {source_id}"))
        })?;
        let Some(row) = row else { return Ok(None) };
        let cursor: String = row.try_get(0).context("reading a feed read")?;
        let Some(started_at) = opt_time(&row, 1)? else {
            return Ok(None);
        };
        Ok(Some(SavedSweep {
            cursor,
            started_at,
            newest: opt_time(&row, 2)?,
        }))
    }

    /// See [`crate::Store::save_source_sweep`].
    pub fn save_source_sweep(
        &mut self,
        source_id: i64,
        cursor: &str,
        started_at: DateTime<Utc>,
        newest: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.write_sweep(source_id, Some(cursor), Some(started_at), newest)
    }

    /// See [`crate::Store::clear_source_sweep`].
    pub fn clear_source_sweep(&mut self, source_id: i64) -> Result<()> {
        self.write_sweep(source_id, None, None, None)
    }

    fn write_sweep(
        &mut self,
        source_id: i64,
        cursor: Option<&str>,
        started: Option<DateTime<Utc>>,
        newest: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let (started, newest) = (
            opt_time_text(started.as_ref()),
            opt_time_text(newest.as_ref()),
        );
        self.reading(|c| {
            wait(c.execute(
                "UPDATE sources SET sweep_cursor = $2, sweep_started_at = $3, sweep_newest = $4
                  WHERE id = $1",
                &[&source_id, &cursor, &started, &newest],
            ))
            .with_context(|| format!("saving the unfinished read of source {source_id}"))
        })?;
        Ok(())
    }

    /// See [`crate::Store::listing_next`].
    pub fn listing_next(&self, url: &str) -> Result<Option<Option<String>>> {
        let row = self.reading(|c| {
            wait(c.query_opt("SELECT next_url FROM listing_next WHERE url = $1", &[&url]))
                .with_context(|| format!("reading the page after {url}"))
        })?;
        row.map(|r| r.try_get(0))
            .transpose()
            .with_context(|| format!("reading the page after {url}"))
    }

    /// See [`crate::Store::record_listing_next`].
    pub fn record_listing_next(&mut self, url: &str, next: Option<&str>) -> Result<()> {
        self.reading(|c| {
            wait(c.execute(
                "INSERT INTO listing_next (url, next_url) VALUES ($1, $2)
                 ON CONFLICT (url) DO UPDATE SET next_url = excluded.next_url",
                &[&url, &next],
            ))
            .with_context(|| format!("recording the page after {url}"))
        })?;
        Ok(())
    }

    /// See [`crate::Store::forget_listing_page`].
    pub fn forget_listing_page(&mut self, url: &str) -> Result<()> {
        for sql in [
            "DELETE FROM fetch_state WHERE url = $1",
            "DELETE FROM listing_next WHERE url = $1",
        ] {
            self.reading(|c| {
                wait(c.execute(sql, &[&url]))
                    .with_context(|| format!("forgetting listing page {url}"))
            })?;
        }
        Ok(())
    }

    /// The listing pages whose address starts with `prefix` that have saved state (fetch
    /// state or a known next page).
    pub fn listing_pages_under(&self, prefix: &str) -> Result<Vec<String>> {
        let rows = wait(self.client().query(
            "SELECT url FROM fetch_state WHERE starts_with(url, $1)
             UNION SELECT url FROM listing_next WHERE starts_with(url, $1)",
            &[&prefix],
        ))
        .context("finding old feed pages")?;
        rows.iter()
            .map(|r| r.try_get(0).context("finding old feed pages"))
            .collect()
    }

    /// Run `f` on the connection and wait for it (the crate's other PostgreSQL modules).
    pub(crate) fn block<T>(&mut self, f: impl AsyncFnOnce(&mut Client) -> T) -> T {
        wait(f(self.client_mut()))
    }

    /// The connection (for the crate's other PostgreSQL modules).
    pub(crate) fn client_mut(&mut self) -> &mut Client {
        self.client
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A column of URLs from `sql`, which takes one text parameter.
    pub(crate) fn urls(&self, sql: &str, param: &str, context: &str) -> Result<Vec<String>> {
        let rows = self.reading(|c| wait(c.query(sql, &[&param])).context(context))?;
        rows.iter().map(|r| r.try_get(0).context(context)).collect()
    }

    /// See [`crate::Store::begin_run`].
    pub fn begin_run(&mut self) -> Result<i64> {
        wait(self.client().query_one(
            "INSERT INTO runs (started_at, status) VALUES ($1, 'running') RETURNING id",
            &[&now_text()],
        ))
        .and_then(|r| r.try_get(0))
        .context("starting a run")
    }

    /// See [`crate::Store::finish_run`].
    pub fn finish_run(&mut self, run_id: i64, status: RunStatus, counts: &RunCounts) -> Result<()> {
        self.reconnecting(|store| store.finish_run_once(run_id, status, counts))
    }

    fn finish_run_once(
        &mut self,
        run_id: i64,
        status: RunStatus,
        counts: &RunCounts,
    ) -> Result<()> {
        let changed = wait(self.client_mut().execute(
            "UPDATE runs SET finished_at = $2, status = $3, discovered = $4, fetched = $5,
                    not_modified = $6, stored = $7, updated = $8, unchanged = $9,
                    skipped = $10, failed = $11
              WHERE id = $1",
            &[
                &run_id,
                &now_text(),
                &status.as_str(),
                &int(counts.discovered),
                &int(counts.fetched),
                &int(counts.not_modified),
                &int(counts.stored),
                &int(counts.updated),
                &int(counts.unchanged),
                &int(counts.skipped),
                &int(counts.failed),
            ],
        ))
        .with_context(|| format!("finishing run {run_id}"))?;
        if changed == 0 {
            tracing::warn!(run_id, "finish_run: no such run");
        }
        Ok(())
    }

    /// See [`crate::Store::fetch_state`].
    pub fn fetch_state(&self, url: &str) -> Result<Option<FetchState>> {
        let row = self.reading(|c| {
            wait(c.query_opt(
                "SELECT url, etag, last_modified, last_status, failures, last_error,
                        next_retry_at, fetched_at
                   FROM fetch_state WHERE url = $1",
                &[&url],
            ))
            .with_context(|| format!("reading the fetch state of {url}"))
        })?;
        let Some(r) = row else { return Ok(None) };
        let ctx = || format!("reading the fetch state of {url}");
        let status: Option<i64> = r.try_get(3).with_context(ctx)?;
        let failures: i64 = r.try_get(4).with_context(ctx)?;
        Ok(Some(FetchState {
            url: r.try_get(0).with_context(ctx)?,
            etag: r.try_get(1).with_context(ctx)?,
            last_modified: r.try_get(2).with_context(ctx)?,
            last_status: status.and_then(|s| u16::try_from(s).ok()),
            failures: u32::try_from(failures).unwrap_or(u32::MAX),
            last_error: r.try_get(5).with_context(ctx)?,
            next_retry_at: opt_time(&r, 6)?,
            fetched_at: opt_time(&r, 7)?,
        }))
    }

    /// See [`crate::Store::record_fetch`].
    pub fn record_fetch(&mut self, state: &FetchState) -> Result<()> {
        self.record_fetches(std::slice::from_ref(state))
    }

    /// See [`crate::Store::record_fetches`]: all or none.
    pub fn record_fetches(&mut self, states: &[FetchState]) -> Result<()> {
        self.reconnecting(|store| store.record_fetches_once(states))
    }

    fn record_fetches_once(&mut self, states: &[FetchState]) -> Result<()> {
        wait(async {
            let tx = self
                .client_mut()
                .transaction()
                .await
                .context("starting a fetch-state transaction")?;
            for s in states {
                tx.execute(
                    "INSERT INTO fetch_state (url, etag, last_modified, last_status, failures,
                                              last_error, next_retry_at, fetched_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (url) DO UPDATE SET
                        etag = excluded.etag, last_modified = excluded.last_modified,
                        last_status = excluded.last_status, failures = excluded.failures,
                        last_error = excluded.last_error, next_retry_at = excluded.next_retry_at,
                        fetched_at = excluded.fetched_at",
                    &[
                        &s.url,
                        &s.etag,
                        &s.last_modified,
                        &s.last_status.map(i64::from),
                        &i64::from(s.failures),
                        &s.last_error,
                        &opt_time_text(s.next_retry_at.as_ref()),
                        &opt_time_text(s.fetched_at.as_ref()),
                    ],
                )
                .await
                .with_context(|| format!("saving the fetch state of {}", s.url))?;
            }
            tx.commit().await.context("committing fetch states")
        })
    }
}

async fn schema_version(c: &impl GenericClient) -> Result<u32> {
    let exists: bool = c
        .query_one("SELECT to_regclass('gleaner_schema') IS NOT NULL", &[])
        .await
        .and_then(|r| r.try_get(0))
        .context("reading the schema version")?;
    if !exists {
        return Ok(0);
    }
    let v: Option<i32> = c
        .query_one("SELECT max(version) FROM gleaner_schema", &[])
        .await
        .and_then(|r| r.try_get(0))
        .context("reading the schema version")?;
    Ok(v.and_then(|v| u32::try_from(v).ok()).unwrap_or(0))
}

async fn stored_article_id(c: &impl GenericClient, url: &str) -> Result<Option<i64>> {
    let row = c
        .query_opt(
            "SELECT id FROM (SELECT id, 0 AS pref FROM articles WHERE url = $1
                             UNION ALL
                             SELECT id, 1 FROM articles WHERE canonical_url = $1) x
              ORDER BY pref, id LIMIT 1",
            &[&url],
        )
        .await
        .with_context(|| format!("looking up article {url}"))?;
    row.map(|r| r.try_get(0))
        .transpose()
        .with_context(|| format!("looking up article {url}"))
}

/// A stored row, as far as finding an article needs it (see `write.rs`).
struct StoredRow {
    id: i64,
    content_hash: String,
    url: String,
    canonical_url: Option<String>,
    post_id: Option<String>,
    title: String,
    opening: String,
    source_id: Option<i64>,
}

const ROW_COLUMNS: &str = "id, content_hash, url, canonical_url, blogger_post_id, title, \
                           substr(body, 1, 200), source_id";

impl StoredRow {
    fn read(r: &Row) -> Result<Self> {
        let ctx = "reading an article row";
        Ok(StoredRow {
            id: r.try_get(0).context(ctx)?,
            content_hash: r.try_get(1).context(ctx)?,
            url: r.try_get(2).context(ctx)?,
            canonical_url: r.try_get(3).context(ctx)?,
            post_id: r.try_get(4).context(ctx)?,
            title: r.try_get(5).context(ctx)?,
            opening: r.try_get(6).context(ctx)?,
            source_id: r.try_get(7).context(ctx)?,
        })
    }

    fn shape(&self) -> identity::Shape<'_> {
        identity::Shape {
            url: &self.url,
            post_id: non_empty(self.post_id.as_deref()),
            content_hash: &self.content_hash,
            title: &self.title,
            opening: &self.opening,
        }
    }
}

struct Found {
    row: StoredRow,
    exact: bool,
    own_post: bool,
}

/// The row this article already is, if any: the rules of `write.rs::find_existing`.
async fn find_existing(
    c: &Tx<'_>,
    article: &Article,
    source_id: Option<i64>,
) -> Result<Option<Found>> {
    let url = article.url.as_str();
    let exact = c
        .query_opt(
            &format!("SELECT {ROW_COLUMNS} FROM articles WHERE url = $1"),
            &[&url],
        )
        .await
        .context("looking the article up by URL")?;
    if let Some(row) = exact {
        return Ok(Some(Found {
            row: StoredRow::read(&row)?,
            exact: true,
            own_post: false,
        }));
    }
    let new = identity::Shape {
        url,
        post_id: non_empty(article.blogger_post_id.as_deref()),
        content_hash: &article.content_hash,
        title: &article.title,
        opening: identity::opening(&article.body),
    };
    // A feed post with no page of its own under a new address (as in write.rs).
    if identity::feed_item_base(url).is_some() {
        let published = opt_time_text(article.published_at.as_ref());
        let rows = c
            .query(
                &format!(
                    "SELECT {ROW_COLUMNS} FROM articles
                      WHERE content_hash = $1 AND published_at IS NOT DISTINCT FROM $2
                        AND url LIKE '%#item-%'
                      ORDER BY id LIMIT $3"
                ),
                &[&article.content_hash, &published, &MAX_CANDIDATES],
            )
            .await
            .context("looking a feed post up by its date and text")?;
        for row in &rows {
            let row = StoredRow::read(row)?;
            if identity::same_feed_post(&new, source_id, &row.shape(), row.source_id) {
                return Ok(Some(Found {
                    row,
                    exact: false,
                    own_post: false,
                }));
            }
        }
    }
    let canonical = canonical_of(article).filter(|c| *c != url);
    let key = canonical.unwrap_or(url);
    let rows = c
        .query(
            &format!(
                "SELECT {ROW_COLUMNS} FROM articles
                  WHERE url = $1 OR canonical_url = $1 OR canonical_url = $2
                  ORDER BY url = $1 DESC, canonical_url = $1 DESC NULLS LAST, id
                  LIMIT $3"
            ),
            &[&key, &url, &MAX_CANDIDATES],
        )
        .await
        .context("looking the article up by canonical URL")?;
    for row in &rows {
        let row = StoredRow::read(row)?;
        if identity::same_article(&new, &row.shape()) {
            return Ok(Some(Found {
                row,
                exact: false,
                own_post: false,
            }));
        }
    }
    // A row stored under this address plus tracking parameters (`…?utm_source=rss`: kept
    // by gleaner before they were dropped from listed addresses) is this page. Compared
    // byte by byte (`COLLATE "C"`, indexed by migration 2) whatever the database's collation.
    let (open, close) = if url.contains('?') {
        ('&', '\'')
    } else {
        ('?', '@')
    };
    let (low, high) = (format!("{url}{open}"), format!("{url}{close}"));
    let rows = c
        .query(
            &format!(
                "SELECT {ROW_COLUMNS} FROM articles
                  WHERE url COLLATE \"C\" > $1 AND url COLLATE \"C\" < $2
                  ORDER BY id LIMIT $3"
            ),
            &[&low, &high, &MAX_CANDIDATES],
        )
        .await
        .context("looking the article up by a tracked address")?;
    for row in &rows {
        let row = StoredRow::read(row)?;
        if identity::page_key(&row.url).is_some_and(|k| Some(k) == identity::page_key(url)) {
            return Ok(Some(Found {
                row,
                exact: false,
                own_post: false,
            }));
        }
    }
    // The same address on the other scheme or with(out) `www.` (as in write.rs).
    let variants = identity::host_variants(url);
    if !variants.is_empty() {
        let row = c
            .query_opt(
                &format!(
                    "SELECT {ROW_COLUMNS} FROM articles WHERE url = ANY($1) ORDER BY id LIMIT 1"
                ),
                &[&variants],
            )
            .await
            .context("looking the article up on its other host names")?;
        if let Some(row) = row {
            return Ok(Some(Found {
                row: StoredRow::read(&row)?,
                exact: false,
                own_post: false,
            }));
        }
    }
    // A post moved to a new address on its site (as in write.rs).
    if let Some(published) = opt_time_text(article.published_at.as_ref())
        && identity::feed_item_base(url).is_none()
    {
        let rows = c
            .query(
                &format!(
                    "SELECT {ROW_COLUMNS} FROM articles WHERE published_at = $1 ORDER BY id LIMIT $2"
                ),
                &[&published, &MAX_CANDIDATES],
            )
            .await
            .context("looking the article up by its publication time")?;
        for row in &rows {
            let row = StoredRow::read(row)?;
            let moved = match identity::moved_post(&new, &row.shape()) {
                identity::Moved::Yes => true,
                identity::Moved::IfSameBody => {
                    let body: Option<String> = c
                        .query_opt("SELECT body FROM articles WHERE id = $1", &[&row.id])
                        .await
                        .context("reading a stored body")?
                        .map(|r| r.try_get(0))
                        .transpose()
                        .context("reading a stored body")?;
                    body.as_deref() == Some(article.body.as_str())
                }
                identity::Moved::No => false,
            };
            if moved {
                return Ok(Some(Found {
                    row,
                    exact: false,
                    own_post: false,
                }));
            }
        }
    }
    let Some(post_id) = new.post_id else {
        return Ok(None);
    };
    let wanted = [url_path(key), url_path(url)];
    let rows = c
        .query(
            &format!(
                "SELECT {ROW_COLUMNS} FROM articles WHERE blogger_post_id = $1 ORDER BY id LIMIT $2"
            ),
            &[&post_id, &MAX_CANDIDATES],
        )
        .await
        .context("looking the article up by post id")?;
    for row in &rows {
        let row = StoredRow::read(row)?;
        let same_path = wanted.contains(&url_path(&row.url))
            || row
                .canonical_url
                .as_deref()
                .is_some_and(|c| wanted.contains(&url_path(c)));
        let own_post = source_id.is_some() && row.source_id == source_id;
        // A post whose permalink was edited keeps its id, in its own blog (as in write.rs).
        let moved = own_post && identity::same_site(url, &row.url);
        // The same blog under another host name (as in write.rs).
        let elsewhere = same_path && identity::same_post_elsewhere(&new, &row.shape());
        if (same_path || moved)
            && (own_post || elsewhere || identity::same_article(&new, &row.shape()))
        {
            return Ok(Some(Found {
                row,
                exact: false,
                own_post,
            }));
        }
    }
    Ok(None)
}

async fn may_overwrite(c: &Tx<'_>, article: &Article, source_id: Option<i64>) -> Result<bool> {
    let Some(claimant) = source_id else {
        return Ok(article
            .source
            .as_deref()
            .is_none_or(|s| identity::same_site(s, &article.url)));
    };
    let claimant_url: Option<String> = c
        .query_opt("SELECT url FROM sources WHERE id = $1", &[&claimant])
        .await
        .and_then(|r| r.map(|r| r.try_get(0)).transpose())
        .context("looking up an article's source")?;
    let claimant_url = claimant_url.or_else(|| article.source.clone());
    Ok(claimant_url.is_some_and(|s| identity::same_site(&s, &article.url)))
}

/// Write one article inside the caller's transaction: the rules of `write.rs::plan`.
async fn upsert_one(
    tx: &Tx<'_>,
    article: &Article,
    source_id: Option<i64>,
    origin: Origin,
    now: &str,
    mentions: &mut MentionCounts<'_>,
) -> Result<Upserted> {
    // Two tries: an insert that finds its URL taken by a writer that committed meanwhile
    // looks the article up again (and then finds that row).
    for _ in 0..2 {
        let found = find_existing(tx, article, source_id).await?;
        if let Some(found) = found {
            let own_page = origin == Origin::Page && found.exact;
            if !own_page && !found.own_post && !may_overwrite(tx, article, source_id).await? {
                tracing::info!(
                    url = %article.url,
                    stored = %found.row.url,
                    "an article from another source claims a stored article's address; \
                     the stored one is kept"
                );
                if found.exact {
                    return Ok(Upserted {
                        id: found.row.id,
                        outcome: UpsertOutcome::Kept,
                    });
                }
            } else if found.row.content_hash == article.content_hash {
                return Ok(Upserted {
                    id: found.row.id,
                    outcome: UpsertOutcome::Unchanged,
                });
            } else {
                let id = found.row.id;
                update_row(tx, id, article, source_id, now).await?;
                tx.execute("DELETE FROM article_labels WHERE article_id = $1", &[&id])
                    .await
                    .context("removing old labels")?;
                tx.execute("DELETE FROM mentions WHERE article_id = $1", &[&id])
                    .await
                    .context("removing old mentions")?;
                insert_labels(tx, id, &article.labels).await?;
                mentions.write(tx, id, article).await?;
                return Ok(Upserted {
                    id,
                    outcome: UpsertOutcome::Updated,
                });
            }
        }
        if let Some(id) = insert_row(tx, article, source_id, now).await? {
            insert_labels(tx, id, &article.labels).await?;
            mentions.write(tx, id, article).await?;
            return Ok(Upserted {
                id,
                outcome: UpsertOutcome::Inserted,
            });
        }
    }
    Err(StoreError::InvalidArticle {
        url: article.url.clone(),
        reason: "its address was taken and released again while it was being stored".into(),
    })
}

/// The values of an article's row that insert and update both write, in the order of
/// `ArticleRow::params`: canonical URL, source, post id, title, author, published, updated,
/// fetched, language, body, word count, comments, content hash, and the time now.
struct ArticleRow<'a> {
    a: &'a Article,
    canonical: Option<&'a str>,
    source_id: Option<i64>,
    post_id: Option<&'a str>,
    published: Option<String>,
    updated: Option<String>,
    fetched: Option<String>,
    word_count: i64,
    comments: Option<i64>,
    now: &'a str,
}

impl<'a> ArticleRow<'a> {
    fn new(a: &'a Article, source_id: Option<i64>, now: &'a str) -> Self {
        Self {
            a,
            canonical: canonical_of(a),
            source_id,
            post_id: non_empty(a.blogger_post_id.as_deref()),
            published: opt_time_text(a.published_at.as_ref()),
            updated: opt_time_text(a.updated_at.as_ref()),
            fetched: opt_time_text(a.fetched_at.as_ref()),
            word_count: i64::from(a.word_count),
            comments: a.comments_count.map(i64::from),
            now,
        }
    }

    /// `first` (the url for an insert, the id for an update) as `$1`, then the 14 values.
    fn params<'b>(&'b self, first: &'b (dyn ToSql + Sync)) -> [&'b (dyn ToSql + Sync); 15] {
        [
            first,
            &self.canonical,
            &self.source_id,
            &self.post_id,
            &self.a.title,
            &self.a.author,
            &self.published,
            &self.updated,
            &self.fetched,
            &self.a.language,
            &self.a.body,
            &self.word_count,
            &self.comments,
            &self.a.content_hash,
            &self.now,
        ]
    }
}

/// Insert the row; `None` when another writer holds the address (a committed row, which a
/// new lookup then finds).
async fn insert_row(
    tx: &Tx<'_>,
    a: &Article,
    source_id: Option<i64>,
    now: &str,
) -> Result<Option<i64>> {
    let row = ArticleRow::new(a, source_id, now);
    let row = tx
        .query_opt(
            "INSERT INTO articles (url, canonical_url, source_id, blogger_post_id, title, author,
                                   published_at, updated_at, fetched_at, language, body,
                                   word_count, comments_count, content_hash, stored_at, changed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)
             ON CONFLICT (url) DO NOTHING
             RETURNING id",
            &row.params(&a.url),
        )
        .await
        .with_context(|| format!("inserting article {}", a.url))?;
    row.map(|r| r.try_get(0))
        .transpose()
        .with_context(|| format!("inserting article {}", a.url))
}

async fn update_row(
    tx: &Tx<'_>,
    id: i64,
    a: &Article,
    source_id: Option<i64>,
    now: &str,
) -> Result<()> {
    let row = ArticleRow::new(a, source_id, now);
    tx.execute(
        "UPDATE articles SET
             canonical_url = coalesce($2, canonical_url),
             source_id = coalesce($3, source_id),
             blogger_post_id = coalesce($4, blogger_post_id),
             title = $5,
             author = coalesce($6, author),
             published_at = coalesce($7, published_at),
             updated_at = coalesce($8, updated_at),
             fetched_at = coalesce($9, fetched_at),
             language = coalesce($10, language),
             body = $11,
             word_count = $12,
             comments_count = coalesce($13, comments_count),
             content_hash = $14,
             changed_at = $15
         WHERE id = $1",
        &row.params(&id),
    )
    .await
    .with_context(|| format!("updating article {}", a.url))?;
    Ok(())
}

async fn insert_labels(tx: &Tx<'_>, article_id: i64, labels: &[String]) -> Result<()> {
    let labels: Vec<&str> = labels
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    if labels.is_empty() {
        return Ok(());
    }
    let positions: Vec<i64> = (0..labels.len()).map(int).collect();
    tx.execute(
        "INSERT INTO article_labels (article_id, label, position)
         SELECT $1, l, p FROM unnest($2::text[], $3::bigint[]) AS x (l, p)
         ON CONFLICT DO NOTHING",
        &[&article_id, &labels, &positions],
    )
    .await
    .with_context(|| format!("inserting the labels of article {article_id}"))?;
    Ok(())
}

/// Entity ids and aliases known to be committed, kept per connection so a writer looks up
/// each entity once, not once per batch (entities are never deleted, so an id stays true).
/// Bounded: emptied when it grows past [`MAX_KNOWN_ENTITIES`].
#[derive(Default)]
struct KnownEntities {
    ids: HashMap<(EntityKind, String), i64>,
    aliases: HashSet<(i64, String)>,
}

/// Entity ids and aliases a connection keeps at most.
const MAX_KNOWN_ENTITIES: usize = 200_000;

impl KnownEntities {
    /// Add what a committed transaction found.
    fn learn(&mut self, ids: HashMap<(EntityKind, String), i64>, aliases: HashSet<(i64, String)>) {
        if self.ids.len() + ids.len() > MAX_KNOWN_ENTITIES {
            self.ids.clear();
        }
        if self.aliases.len() + aliases.len() > MAX_KNOWN_ENTITIES {
            self.aliases.clear();
        }
        self.ids.extend(ids);
        self.aliases.extend(aliases);
    }
}

/// The canonical name an entity is stored under (its text when it has no name).
fn entity_name(entity: &Entity) -> &str {
    let name = entity.name.trim();
    if name.is_empty() {
        entity.text.trim()
    } else {
        name
    }
}

/// The entities of a transaction's mentions and what to add to their counters, added once
/// per entity in id order just before the commit (the same order in every writer, so two
/// writers' counter updates cannot deadlock). Ids and aliases new to the connection are
/// looked up or created a whole article at a time, and kept (`ids`, `aliases`) for
/// [`KnownEntities`] once the transaction commits.
struct MentionCounts<'k> {
    known: &'k KnownEntities,
    ids: HashMap<(EntityKind, String), i64>,
    aliases: HashSet<(i64, String)>,
    counts: HashMap<i64, (i64, i64)>,
}

impl<'k> MentionCounts<'k> {
    fn new(known: &'k KnownEntities) -> Self {
        MentionCounts {
            known,
            ids: HashMap::new(),
            aliases: HashSet::new(),
            counts: HashMap::new(),
        }
    }

    fn id(&self, kind: EntityKind, name: &str) -> Option<i64> {
        let key = (kind, name.to_string());
        self.known
            .ids
            .get(&key)
            .or_else(|| self.ids.get(&key))
            .copied()
    }

    /// Look up (creating the missing ones) the ids of an article's entities not known yet,
    /// in one statement (two when another writer created some of them meanwhile), and record
    /// their new aliases in one more.
    async fn resolve(&mut self, tx: &Tx<'_>, article: &Article) -> Result<()> {
        let mut missing: Vec<(&str, &str)> = article
            .entities
            .iter()
            .map(|e| (e.kind.as_str(), entity_name(e)))
            .filter(|(kind, name)| entity_kind(kind).map_or(true, |k| self.id(k, name).is_none()))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            let kinds: Vec<&str> = missing.iter().map(|m| m.0).collect();
            let names: Vec<&str> = missing.iter().map(|m| m.1).collect();
            // Rows another writer commits while this statement runs are neither inserted
            // (a conflict) nor seen by its snapshot: the plain lookup after it finds them.
            // Only entities not there are inserted (no id is spent on a conflict).
            let create = "WITH input AS (SELECT k, n FROM unnest($1::text[], $2::text[]) AS x (k, n)),
                          old AS (SELECT e.id, e.kind, e.name FROM entities e
                                    JOIN input ON e.kind = input.k AND e.name = input.n),
                          ins AS (INSERT INTO entities (kind, name)
                                  SELECT k, n FROM input
                                   WHERE NOT EXISTS (SELECT 1 FROM old
                                                      WHERE old.kind = input.k AND old.name = input.n)
                                  ORDER BY k, n
                                  ON CONFLICT DO NOTHING RETURNING id, kind, name)
                          SELECT id, kind, name FROM old
                          UNION ALL
                          SELECT id, kind, name FROM ins";
            let lookup = "SELECT e.id, e.kind, e.name FROM entities e
                            JOIN unnest($1::text[], $2::text[]) AS x (k, n)
                              ON e.kind = x.k AND e.name = x.n";
            let mut found = 0;
            for sql in [create, lookup] {
                if found == missing.len() {
                    break;
                }
                let rows = tx
                    .query(sql, &[&kinds, &names])
                    .await
                    .context("looking up entities")?;
                for r in rows {
                    let id: i64 = r.try_get(0).context("reading an entity id")?;
                    let kind: String = r.try_get(1).context("reading an entity id")?;
                    let name: String = r.try_get(2).context("reading an entity id")?;
                    if self.ids.insert((entity_kind(&kind)?, name), id).is_none() {
                        found += 1;
                    }
                }
            }
            if found < missing.len() {
                return Err(bad_data(
                    "creating entities",
                    format!("{} of {} vanished", missing.len() - found, missing.len()),
                ));
            }
        }
        let mut alias_ids = Vec::new();
        let mut alias_texts = Vec::new();
        for entity in &article.entities {
            let name = entity_name(entity);
            if entity.text == name || entity.text.trim().is_empty() {
                continue;
            }
            let Some(id) = self.id(entity.kind, name) else {
                continue;
            };
            let key = (id, entity.text.clone());
            if !self.known.aliases.contains(&key) && self.aliases.insert(key) {
                alias_ids.push(id);
                alias_texts.push(entity.text.as_str());
            }
        }
        if !alias_ids.is_empty() {
            tx.execute(
                "INSERT INTO entity_aliases (entity_id, alias)
                 SELECT * FROM unnest($1::bigint[], $2::text[]) ON CONFLICT DO NOTHING",
                &[&alias_ids, &alias_texts],
            )
            .await
            .context("recording aliases")?;
        }
        Ok(())
    }

    fn entity_id(&self, entity: &Entity) -> Result<i64> {
        let name = entity_name(entity);
        self.id(entity.kind, name).ok_or_else(|| {
            bad_data(
                "looking up an entity",
                format!("{} {name:?} not resolved", entity.kind.as_str()),
            )
        })
    }

    /// Insert an article's mentions (a mention given twice is kept and counted once).
    async fn write(&mut self, tx: &Tx<'_>, article_id: i64, article: &Article) -> Result<()> {
        let mut seen: HashSet<(usize, usize, i64)> = HashSet::new();
        let mut in_article: HashSet<i64> = HashSet::new();
        let (mut ents, mut starts, mut ends, mut texts) = (vec![], vec![], vec![], vec![]);
        self.resolve(tx, article).await?;
        for entity in &article.entities {
            let id = self.entity_id(entity)?;
            if !seen.insert((entity.start, entity.end, id)) {
                continue;
            }
            ents.push(id);
            starts.push(int(entity.start));
            ends.push(int(entity.end));
            texts.push(entity.text.as_str());
            let c = self.counts.entry(id).or_insert((0, 0));
            c.0 += 1;
            if in_article.insert(id) {
                c.1 += 1;
            }
        }
        if ents.is_empty() {
            return Ok(());
        }
        tx.execute(
            r#"INSERT INTO mentions (article_id, entity_id, start, "end", text)
               SELECT $1, e, s, en, t
                 FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[]) AS x (e, s, en, t)"#,
            &[&article_id, &ents, &starts, &ends, &texts],
        )
        .await
        .with_context(|| format!("inserting the mentions of article {article_id}"))?;
        Ok(())
    }

    async fn apply(&mut self, tx: &Tx<'_>) -> Result<()> {
        let mut counts: Vec<(i64, (i64, i64))> = self.counts.drain().collect();
        if counts.is_empty() {
            return Ok(());
        }
        counts.sort_unstable_by_key(|&(id, _)| id);
        let ids: Vec<i64> = counts.iter().map(|c| c.0).collect();
        let m: Vec<i64> = counts.iter().map(|c| c.1.0).collect();
        let a: Vec<i64> = counts.iter().map(|c| c.1.1).collect();
        tx.execute(
            "UPDATE entities e SET mention_count = e.mention_count + x.m,
                                   article_count = e.article_count + x.a
               FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS x (id, m, a)
              WHERE e.id = x.id",
            &[&ids, &m, &a],
        )
        .await
        .context("counting mentions")?;
        Ok(())
    }
}

/// `SELECT` the ids of entities called NAME (canonical name or alias, any case) [of KIND].
fn push_entity_ids(sql: &mut Sql, name: &str, kind: Option<&str>) {
    sql.push("SELECT e.id FROM entities e WHERE lower(e.name) = lower(")
        .bind(name.trim().to_string())
        .push(")");
    if let Some(kind) = kind {
        sql.push(" AND e.kind = ").bind(kind.to_string());
    }
    sql.push(
        " UNION SELECT al.entity_id FROM entity_aliases al JOIN entities e ON e.id = al.entity_id
           WHERE lower(al.alias) = lower(",
    )
    .bind(name.trim().to_string())
    .push(")");
    if let Some(kind) = kind {
        sql.push(" AND e.kind = ").bind(kind.to_string());
    }
}

/// ` AND …` for every filter of `query` but its terms, on the article `a` (search pages of
/// `gleaner query` and of `gleaner serve`).
pub(crate) fn push_filters(sql: &mut Sql, query: &SearchQuery) {
    let kind = query.kind.map(|k| k.as_str());
    let names: Vec<&str> = query
        .entities
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .collect();
    for name in &names {
        sql.push(" AND a.id IN (SELECT m.article_id FROM mentions m WHERE m.entity_id IN (");
        push_entity_ids(sql, name, kind);
        sql.push("))");
    }
    if let (Some(kind), true) = (kind, names.is_empty()) {
        sql.push(
            " AND EXISTS (SELECT 1 FROM mentions m JOIN entities e ON e.id = m.entity_id
                           WHERE m.article_id = a.id AND e.kind = ",
        )
        .bind(kind.to_string())
        .push(")");
    }
    if let Some(source) = query.source.as_deref() {
        sql.push(" AND a.source_id IN (SELECT id FROM sources WHERE url = ")
            .bind(source.trim().to_string())
            .push(" OR name = ")
            .bind(source.trim().to_string())
            .push(")");
    }
    if let Some(label) = query.label.as_deref() {
        sql.push(" AND a.id IN (SELECT article_id FROM article_labels WHERE lower(label) = lower(")
            .bind(label.trim().to_string())
            .push("))");
    }
    if let Some(author) = query.author.as_deref() {
        sql.push(" AND lower(a.author) = lower(")
            .bind(author.trim().to_string())
            .push(")");
    }
    if let Some(since) = opt_time_text(query.since.as_ref()) {
        sql.push(" AND a.published_at >= ").bind(since);
    }
    if let Some(until) = opt_time_text(query.until.as_ref()) {
        sql.push(" AND a.published_at < ").bind(until);
    }
}

/// The SQL of one page of a search.
fn search_sql(query: &SearchQuery, ts: Option<&str>, limit: usize, offset: usize) -> Sql {
    let mut sql = Sql::default();
    if let Some(ts) = ts {
        sql.push("WITH q AS (SELECT to_tsquery('english', ")
            .bind(ts.to_string())
            .push(
                ") AS q),
                 hits AS (SELECT a.id, -ts_rank(a.fts, q.q, 1)::float8 AS score
                            FROM articles a, q WHERE a.fts @@ q.q",
            );
    } else {
        sql.push(
            "SELECT a.id, a.url, a.title, a.author, a.published_at, NULL::text, NULL::float8
               FROM articles a WHERE TRUE",
        );
    }
    push_filters(&mut sql, query);
    if ts.is_some() {
        sql.push(" ORDER BY score, a.id");
    } else {
        // SQLite sorts NULL first, so last in descending order.
        sql.push(" ORDER BY a.published_at COLLATE \"C\" DESC NULLS LAST, a.id DESC");
    }
    sql.push(" LIMIT ")
        .bind(int(limit))
        .push(" OFFSET ")
        .bind(int(offset));
    if ts.is_some() {
        sql.push(
            ")
             SELECT a.id, a.url, a.title, a.author, a.published_at,
                    ts_headline('english', a.body, q.q,
                                'StartSel=[, StopSel=], MaxWords=12, MinWords=4, MaxFragments=1, FragmentDelimiter=…'),
                    hits.score
               FROM hits JOIN articles a ON a.id = hits.id, q
              ORDER BY hits.score, hits.id",
        );
    }
    sql
}

/// One article, whole.
async fn load_article(c: &impl GenericClient, id: i64) -> Result<Option<Article>> {
    let ctx = || format!("reading article {id}");
    let Some(r) = c
        .query_opt(
            "SELECT a.id, a.url, a.canonical_url, s.url, a.blogger_post_id, a.title, a.author,
                    a.published_at, a.updated_at, a.fetched_at, a.language, a.comments_count,
                    a.word_count, a.content_hash, a.body
               FROM articles a LEFT JOIN sources s ON s.id = a.source_id
              WHERE a.id = $1",
            &[&id],
        )
        .await
        .with_context(ctx)?
    else {
        return Ok(None);
    };
    let comments: Option<i64> = r.try_get(11).with_context(ctx)?;
    let words: i64 = r.try_get(12).with_context(ctx)?;
    let mut article = Article {
        id: Some(r.try_get(0).with_context(ctx)?),
        url: r.try_get(1).with_context(ctx)?,
        canonical_url: r.try_get(2).with_context(ctx)?,
        source: r.try_get(3).with_context(ctx)?,
        blogger_post_id: r.try_get(4).with_context(ctx)?,
        title: r.try_get(5).with_context(ctx)?,
        author: r.try_get(6).with_context(ctx)?,
        published_at: opt_time(&r, 7)?,
        updated_at: opt_time(&r, 8)?,
        fetched_at: opt_time(&r, 9)?,
        language: r.try_get(10).with_context(ctx)?,
        labels: Vec::new(),
        comments_count: comments.and_then(|c| u32::try_from(c).ok()),
        word_count: u32::try_from(words).unwrap_or(u32::MAX),
        content_hash: r.try_get(13).with_context(ctx)?,
        body: r.try_get(14).with_context(ctx)?,
        entities: Vec::new(),
    };
    let labels = c
        .query(
            "SELECT label FROM article_labels WHERE article_id = $1
              ORDER BY position, label COLLATE \"C\"",
            &[&id],
        )
        .await
        .with_context(ctx)?;
    article.labels = labels
        .iter()
        .map(|r| r.try_get(0).with_context(ctx))
        .collect::<Result<_>>()?;
    let ents = c
        .query(
            r#"SELECT e.kind, m.text, e.name, m.start, m."end"
                 FROM mentions m JOIN entities e ON e.id = m.entity_id
                WHERE m.article_id = $1
                ORDER BY m.start, m."end", e.kind COLLATE "C""#,
            &[&id],
        )
        .await
        .with_context(ctx)?;
    article.entities = ents
        .iter()
        .map(|r| {
            let kind: String = r.try_get(0).with_context(ctx)?;
            let start: i64 = r.try_get(3).with_context(ctx)?;
            let end: i64 = r.try_get(4).with_context(ctx)?;
            Ok(Entity {
                kind: entity_kind(&kind)?,
                text: r.try_get(1).with_context(ctx)?,
                name: r.try_get(2).with_context(ctx)?,
                start: usize::try_from(start).unwrap_or(0),
                end: usize::try_from(end).unwrap_or(0),
            })
        })
        .collect::<Result<_>>()?;
    Ok(Some(article))
}

async fn recent_runs(c: &impl GenericClient, n: i64) -> Result<Vec<RunRecord>> {
    let rows = c
        .query(
            "SELECT id, started_at, finished_at, status, discovered, fetched, not_modified,
                    stored, updated, unchanged, skipped, failed
               FROM runs ORDER BY id DESC LIMIT $1",
            &[&n],
        )
        .await
        .context("reading recent runs")?;
    rows.iter()
        .map(|r| {
            let ctx = "reading recent runs";
            let started: String = r.try_get(1).context(ctx)?;
            let status: String = r.try_get(3).context(ctx)?;
            let n = |i: usize| -> Result<u64> { Ok(count(r.try_get(i).context(ctx)?)) };
            Ok(RunRecord {
                id: r.try_get(0).context(ctx)?,
                started_at: parse_time(&started)?,
                finished_at: opt_time(r, 2)?,
                status: RunStatus::from_db(&status)
                    .ok_or_else(|| bad_data(ctx, format!("unknown run status {status:?}")))?,
                counts: RunCounts {
                    discovered: n(4)?,
                    fetched: n(5)?,
                    not_modified: n(6)?,
                    stored: n(7)?,
                    updated: n(8)?,
                    unchanged: n(9)?,
                    skipped: n(10)?,
                    failed: n(11)?,
                },
            })
        })
        .collect()
}

/// Translate gleaner's search syntax (FTS5's) into a `to_tsquery` expression.
///
/// | gleaner `query`      | tsquery                      |
/// |----------------------|------------------------------|
/// | `word other`         | `'word' & 'other'`           |
/// | `a AND b`            | `'a' & 'b'`                  |
/// | `a OR b`             | `'a' \| 'b'`                 |
/// | `a NOT b`            | `'a' & !'b'`                 |
/// | `"exact phrase"`     | `('exact' <-> 'phrase')`     |
/// | `nucl*`              | `'nucl':*`                   |
/// | `title:word`         | `'word':A` (title weight)    |
/// | `body:word`          | `'word':B`                   |
/// | `(a OR b) c`         | `( 'a' \| 'b' ) & 'c'`       |
///
/// Words are then stemmed by the `english` configuration, as the indexed text is; stop
/// words drop out. Anything else that FTS5 would reject — an unclosed quote or parenthesis,
/// an operator with nothing on one side, a leading `NOT`, an unknown column — is
/// [`StoreError::BadQuery`].
pub fn tsquery(terms: &str) -> Result<String> {
    let bad = |message: &str| StoreError::BadQuery {
        query: terms.to_string(),
        message: message.to_string(),
    };
    #[derive(PartialEq)]
    enum Tok {
        Open,
        Close,
        And,
        Or,
        Not,
        Operand(String),
    }
    let lexeme = |word: &str, weight: &str, prefix: bool| {
        let escaped = word.replace('\\', "\\\\").replace('\'', "''");
        let mut s = format!("'{escaped}'");
        if prefix || !weight.is_empty() {
            s.push(':');
            if prefix {
                s.push('*');
            }
            s.push_str(weight);
        }
        s
    };
    let mut toks = Vec::new();
    let chars: Vec<char> = terms.chars().collect();
    let mut i = 0;
    let mut weight = String::new();
    while i < chars.len() {
        let ch = chars[i];
        if ch.is_whitespace() {
            i += 1;
            continue;
        }
        match ch {
            '(' => {
                if !weight.is_empty() {
                    return Err(bad("a column filter applies to a word or a phrase"));
                }
                toks.push(Tok::Open);
                i += 1;
            }
            ')' => {
                toks.push(Tok::Close);
                i += 1;
            }
            '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '"')
                    .ok_or_else(|| bad("unterminated string"))?;
                let phrase: String = chars[i + 1..i + 1 + end].iter().collect();
                i += end + 2;
                let prefix = chars.get(i) == Some(&'*');
                if prefix {
                    i += 1;
                }
                let words: Vec<&str> = phrase
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .collect();
                if words.is_empty() {
                    return Err(bad("an empty phrase"));
                }
                let last = words.len() - 1;
                let parts: Vec<String> = words
                    .iter()
                    .enumerate()
                    .map(|(n, w)| lexeme(w, &weight, prefix && n == last))
                    .collect();
                toks.push(Tok::Operand(format!("( {} )", parts.join(" <-> "))));
                weight.clear();
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(chars[i], '(' | ')' | '"' | '*' | ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if word.is_empty() {
                    return Err(bad(&format!("syntax error near \"{ch}\"")));
                }
                if chars.get(i) == Some(&':') {
                    i += 1;
                    weight = match word.to_lowercase().as_str() {
                        "title" => "A".into(),
                        "body" => "B".into(),
                        _ => return Err(bad(&format!("no such column: {word}"))),
                    };
                    continue;
                }
                let prefix = chars.get(i) == Some(&'*');
                if prefix {
                    i += 1;
                }
                if weight.is_empty() && !prefix {
                    match word.as_str() {
                        "AND" => {
                            toks.push(Tok::And);
                            continue;
                        }
                        "OR" => {
                            toks.push(Tok::Or);
                            continue;
                        }
                        "NOT" => {
                            toks.push(Tok::Not);
                            continue;
                        }
                        _ => {}
                    }
                }
                // A word with punctuation inside (`U.S.`, `e-mail`) is a phrase of its parts,
                // as FTS5's tokenizer reads it.
                let parts: Vec<&str> = word
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .collect();
                if parts.is_empty() {
                    return Err(bad(&format!("syntax error near \"{word}\"")));
                }
                let last = parts.len() - 1;
                let lex: Vec<String> = parts
                    .iter()
                    .enumerate()
                    .map(|(n, w)| lexeme(w, &weight, prefix && n == last))
                    .collect();
                toks.push(Tok::Operand(if lex.len() == 1 {
                    lex.into_iter().next().unwrap_or_default()
                } else {
                    format!("( {} )", lex.join(" <-> "))
                }));
                weight.clear();
            }
        }
    }
    if !weight.is_empty() {
        return Err(bad("a column filter with nothing after it"));
    }
    // Check the shape and write it out: operands joined by operators, implicit AND.
    let mut out = String::new();
    let mut depth = 0usize;
    let mut expect_operand = true;
    for tok in toks {
        match tok {
            Tok::Operand(s) => {
                if !expect_operand {
                    out.push_str(" & ");
                }
                out.push_str(&s);
                expect_operand = false;
            }
            Tok::Open => {
                if !expect_operand {
                    out.push_str(" & ");
                }
                out.push_str("( ");
                depth += 1;
                expect_operand = true;
            }
            Tok::Close => {
                if expect_operand || depth == 0 {
                    return Err(bad("syntax error near \")\""));
                }
                depth -= 1;
                out.push_str(" )");
            }
            Tok::And | Tok::Or | Tok::Not => {
                if expect_operand {
                    return Err(bad("an operator with nothing before it"));
                }
                out.push_str(match tok {
                    Tok::And => " & ",
                    Tok::Or => " | ",
                    _ => " & !",
                });
                expect_operand = true;
            }
        }
    }
    if expect_operand || depth != 0 {
        return Err(bad("incomplete query"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::tsquery;

    #[test]
    fn the_query_syntax_maps_to_tsquery() {
        assert_eq!(tsquery("nuclear deal").unwrap(), "'nuclear' & 'deal'");
        assert_eq!(tsquery("a OR b").unwrap(), "'a' | 'b'");
        assert_eq!(tsquery("a NOT b").unwrap(), "'a' & !'b'");
        assert_eq!(
            tsquery("\"strategic ties\"").unwrap(),
            "( 'strategic' <-> 'ties' )"
        );
        assert_eq!(tsquery("nucl*").unwrap(), "'nucl':*");
        assert_eq!(tsquery("title:iran").unwrap(), "'iran':A");
        assert_eq!(tsquery("(a OR b) c").unwrap(), "( 'a' | 'b' ) & 'c'");
        assert_eq!(tsquery("o'brien").unwrap(), "( 'o' <-> 'brien' )");
        for bad in [
            "\"open", "(a", "a)", "OR a", "a AND", "NOT a", "foo:bar", "title:",
        ] {
            assert!(tsquery(bad).is_err(), "{bad} should be refused");
        }
    }
}
