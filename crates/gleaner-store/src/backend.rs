//! One interface, two backends: [`AnyStore`] is what every command of `gleaner` opens.
//!
//! `--db` (or `db =` in the config) is a file path for SQLite, the default, or a
//! `postgres://…` / `postgresql://…` address for PostgreSQL ([`crate::pg`]). Both backends
//! keep the same schema, answer with the same values and refuse the same input; what only
//! one of them has says so in its name ([`AnyStore::as_sqlite`]).
//!
//! An enum rather than a trait object: the set of backends is closed, the methods take
//! callbacks (`impl FnMut`), and a `match` per call costs nothing next to a query.

use std::path::Path;

use chrono::{DateTime, Utc};
use gleaner_model::{Article, SourceKind};

use crate::pg::{PgStore, is_postgres_url};
use crate::{
    ArticleKey, Context, EntityCount, EntityQuery, FetchState, Origin, Result, RunCounts,
    RunStatus, SavedSweep, SearchHit, SearchQuery, SourceRecord, Stats, Store, Upserted,
};

/// The lease key prefix of a page to fetch.
const PAGE: &str = "page:";
/// The lease key prefix of a source's listing (feed pages, sitemaps) to read.
const LISTING: &str = "listing:";

/// The lease key prefix of a host's robots.txt to read.
const ROBOTS: &str = "robots:";

/// What [`AnyStore::robots_txt_lookup`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RobotsTxtLookup {
    /// A worker read it: the HTTP status (2xx: `body` holds the rules; else there are none).
    Saved {
        /// HTTP status.
        status: u16,
        /// The file.
        body: String,
    },
    /// Nobody has: this worker reads it, then calls [`AnyStore::robots_txt_read`].
    ReadIt,
    /// Another worker is reading it now.
    Wait,
}

/// What [`AnyStore::take_over_work`] took.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TakenOver {
    /// Sources (their URLs) whose listings to read.
    pub listings: Vec<String>,
    /// Pages to fetch.
    pub pages: Vec<String>,
    /// Units still open (held or free), these included.
    pub open: u64,
}

/// The store on either backend.
#[derive(Debug)]
pub enum AnyStore {
    /// A SQLite file (one machine; one writer at a time).
    Sqlite(Store),
    /// A PostgreSQL database (shared by any number of processes).
    Postgres(PgStore),
}

/// Call the same method on whichever backend.
macro_rules! both {
    ($self:expr, $s:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($s) => $call,
            AnyStore::Postgres($s) => $call,
        }
    };
}

impl AnyStore {
    /// Open the database `db` names: a `postgres://` or `postgresql://` address, or else a
    /// SQLite file path. Creates and migrates the schema as needed.
    pub fn open(db: &str) -> Result<Self> {
        if is_postgres_url(db) {
            PgStore::open(db).map(AnyStore::Postgres)
        } else {
            Store::open(Path::new(db)).map(AnyStore::Sqlite)
        }
    }

    /// [`AnyStore::open`] of a path as the commands carry it (`--db` may hold a
    /// `postgres://` address).
    pub fn open_path(db: &Path) -> Result<Self> {
        match db.to_str() {
            Some(url) if is_postgres_url(url) => PgStore::open(url).map(AnyStore::Postgres),
            _ => Store::open(db).map(AnyStore::Sqlite),
        }
    }

    /// Whether a `--db` path is a PostgreSQL address.
    pub fn path_is_postgres(db: &Path) -> bool {
        db.to_str().is_some_and(is_postgres_url)
    }

    /// Whether `db` names a PostgreSQL database.
    pub fn is_postgres(db: &str) -> bool {
        is_postgres_url(db)
    }

    /// The SQLite store, if that is the backend.
    pub fn as_sqlite(&self) -> Option<&Store> {
        match self {
            AnyStore::Sqlite(s) => Some(s),
            AnyStore::Postgres(_) => None,
        }
    }

    /// The schema version of this backend.
    pub fn schema_version(&self) -> Result<u32> {
        both!(self, s => s.schema_version())
    }

    /// See [`Store::upsert_article`].
    pub fn upsert_article(
        &mut self,
        article: &Article,
        source_id: Option<i64>,
    ) -> Result<Upserted> {
        both!(self, s => s.upsert_article(article, source_id))
    }

    /// See [`Store::upsert_article_from`].
    pub fn upsert_article_from(
        &mut self,
        article: &Article,
        source_id: Option<i64>,
        origin: Origin,
    ) -> Result<Upserted> {
        both!(self, s => s.upsert_article_from(article, source_id, origin))
    }

    /// See [`Store::upsert_articles`].
    pub fn upsert_articles(&mut self, batch: &[(Article, Option<i64>)]) -> Result<Vec<Upserted>> {
        both!(self, s => s.upsert_articles(batch))
    }

    /// See [`Store::upsert_articles_from`].
    pub fn upsert_articles_from(
        &mut self,
        batch: &[(Article, Option<i64>)],
        origins: &[Origin],
    ) -> Result<Vec<Upserted>> {
        both!(self, s => s.upsert_articles_from(batch, origins))
    }

    /// See [`Store::upsert_batch`].
    pub fn upsert_batch(
        &mut self,
        batch: &[(Article, Option<i64>)],
    ) -> Result<Vec<Result<Upserted>>> {
        both!(self, s => s.upsert_batch(batch))
    }

    /// See [`Store::article`].
    pub fn article(&self, key: ArticleKey<'_>) -> Result<Option<Article>> {
        both!(self, s => s.article(key))
    }

    /// See [`Store::search`].
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        both!(self, s => s.search(query))
    }

    /// See [`Store::search_each`].
    pub fn search_each(
        &self,
        query: &SearchQuery,
        f: impl FnMut(SearchHit) -> Result<()>,
    ) -> Result<()> {
        both!(self, s => s.search_each(query, f))
    }

    /// See [`Store::for_each_article`].
    pub fn for_each_article(
        &self,
        query: &SearchQuery,
        f: impl FnMut(Article) -> Result<()>,
    ) -> Result<()> {
        both!(self, s => s.for_each_article(query, f))
    }

    /// See [`Store::top_entities`].
    pub fn top_entities(&self, query: &EntityQuery) -> Result<Vec<EntityCount>> {
        both!(self, s => s.top_entities(query))
    }

    /// See [`Store::stats`].
    pub fn stats(&self) -> Result<Stats> {
        both!(self, s => s.stats())
    }

    /// See [`Store::ensure_source`].
    pub fn ensure_source(
        &mut self,
        kind: SourceKind,
        url: &str,
        name: Option<&str>,
    ) -> Result<i64> {
        both!(self, s => s.ensure_source(kind, url, name))
    }

    /// See [`Store::sources`].
    pub fn sources(&self) -> Result<Vec<SourceRecord>> {
        both!(self, s => s.sources())
    }

    /// See [`Store::mark_source_read`].
    pub fn mark_source_read(
        &mut self,
        source_id: i64,
        last_updated_seen: Option<DateTime<Utc>>,
    ) -> Result<()> {
        both!(self, s => s.mark_source_read(source_id, last_updated_seen))
    }

    /// See [`Store::source_sweep`].
    pub fn source_sweep(&self, source_id: i64) -> Result<Option<SavedSweep>> {
        both!(self, s => s.source_sweep(source_id))
    }

    /// See [`Store::save_source_sweep`].
    pub fn save_source_sweep(
        &mut self,
        source_id: i64,
        cursor: &str,
        started_at: DateTime<Utc>,
        newest: Option<DateTime<Utc>>,
    ) -> Result<()> {
        both!(self, s => s.save_source_sweep(source_id, cursor, started_at, newest))
    }

    /// See [`Store::clear_source_sweep`].
    pub fn clear_source_sweep(&mut self, source_id: i64) -> Result<()> {
        both!(self, s => s.clear_source_sweep(source_id))
    }

    /// See [`Store::listing_next`].
    pub fn listing_next(&self, url: &str) -> Result<Option<Option<String>>> {
        both!(self, s => s.listing_next(url))
    }

    /// See [`Store::record_listing_next`].
    pub fn record_listing_next(&mut self, url: &str, next: Option<&str>) -> Result<()> {
        both!(self, s => s.record_listing_next(url, next))
    }

    /// See [`Store::forget_listing_page`].
    pub fn forget_listing_page(&mut self, url: &str) -> Result<()> {
        both!(self, s => s.forget_listing_page(url))
    }

    /// See [`Store::begin_run`].
    pub fn begin_run(&mut self) -> Result<i64> {
        both!(self, s => s.begin_run())
    }

    /// See [`Store::finish_run`].
    pub fn finish_run(&mut self, run_id: i64, status: RunStatus, counts: &RunCounts) -> Result<()> {
        both!(self, s => s.finish_run(run_id, status, counts))
    }

    /// See [`Store::fetch_state`].
    pub fn fetch_state(&self, url: &str) -> Result<Option<FetchState>> {
        both!(self, s => s.fetch_state(url))
    }

    /// See [`Store::record_fetch`].
    pub fn record_fetch(&mut self, state: &FetchState) -> Result<()> {
        both!(self, s => s.record_fetch(state))
    }

    /// See [`Store::record_fetches`].
    pub fn record_fetches(&mut self, states: &[FetchState]) -> Result<()> {
        both!(self, s => s.record_fetches(states))
    }

    // ----- what the commands used to ask in plain SQL -----

    /// The id of the stored article of a page, by URL or canonical URL.
    pub fn stored_article_id(&self, url: &str) -> Result<Option<i64>> {
        match self {
            AnyStore::Sqlite(s) => Ok(s.article_id_of(url)),
            AnyStore::Postgres(s) => s.stored_article_id(url),
        }
    }

    /// Listing pages (fetch state or a known next page) whose address starts with `prefix`.
    pub fn listing_pages_under(&self, prefix: &str) -> Result<Vec<String>> {
        match self {
            AnyStore::Sqlite(s) => strings(
                s,
                "SELECT url FROM fetch_state WHERE substr(url, 1, length(?1)) = ?1
                 UNION SELECT url FROM listing_next WHERE substr(url, 1, length(?1)) = ?1",
                &[prefix],
                "finding old feed pages",
            ),
            AnyStore::Postgres(s) => s.listing_pages_under(prefix),
        }
    }

    /// Pages that failed and whose `next_retry_at` has come (at most 100,000, soonest due
    /// first). Listing documents have no `next_retry_at` and are not among them.
    pub fn due_retries(&self, now: DateTime<Utc>) -> Result<Vec<String>> {
        let now = crate::convert::time_text(&now);
        match self {
            AnyStore::Sqlite(s) => strings(
                s,
                "SELECT url FROM fetch_state
                  WHERE failures > 0 AND next_retry_at IS NOT NULL AND next_retry_at <= ?1
                  ORDER BY next_retry_at LIMIT 100000",
                &[&now],
                "reading the pages due for another try",
            ),
            AnyStore::Postgres(s) => s.urls(
                "SELECT url FROM fetch_state
                  WHERE failures > 0 AND next_retry_at IS NOT NULL
                    AND next_retry_at <= $1 COLLATE \"C\"
                  ORDER BY next_retry_at COLLATE \"C\" LIMIT 100000",
                &now,
                "reading the pages due for another try",
            ),
        }
    }

    /// Pages under `prefix` that failed before, due or not (at most 100,000).
    pub fn failed_pages_under(&self, prefix: &str) -> Result<Vec<String>> {
        match self {
            AnyStore::Sqlite(s) => strings(
                s,
                "SELECT url FROM fetch_state
                  WHERE failures > 0 AND next_retry_at IS NOT NULL
                    AND substr(url, 1, length(?1)) = ?1
                  ORDER BY next_retry_at LIMIT 100000",
                &[prefix],
                "reading the blog's pages that failed before",
            ),
            AnyStore::Postgres(s) => s.urls(
                "SELECT url FROM fetch_state
                  WHERE failures > 0 AND next_retry_at IS NOT NULL AND starts_with(url, $1)
                  ORDER BY next_retry_at COLLATE \"C\" LIMIT 100000",
                prefix,
                "reading the blog's pages that failed before",
            ),
        }
    }

    /// Every URL whose last fetch failed.
    pub fn failing_urls(&self) -> Result<Vec<String>> {
        match self {
            AnyStore::Sqlite(s) => strings(
                s,
                "SELECT url FROM fetch_state WHERE failures > 0",
                &[],
                "reading failed fetches",
            ),
            AnyStore::Postgres(s) => s.urls(
                "SELECT url FROM fetch_state WHERE failures > 0 AND $1::text IS NOT NULL",
                "",
                "reading failed fetches",
            ),
        }
    }

    // ----- cooperative workers (PostgreSQL; on SQLite one process works alone) -----

    /// Whether this store is shared with other workers (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        matches!(self, AnyStore::Postgres(_))
    }

    /// Take the page at `url` for this worker before fetching it: `false` when another
    /// worker holds it or its outcome is already recorded. Always `true` on SQLite.
    pub fn claim_page(&mut self, url: &str) -> Result<bool> {
        match self {
            AnyStore::Sqlite(_) => Ok(true),
            AnyStore::Postgres(s) => s.claim_key(
                crate::pg_work::worker_id(),
                &format!("{PAGE}{url}"),
                crate::pg_work::lease_ttl(),
                Some(crate::pg_work::run_started()),
            ),
        }
    }

    /// The pages at `urls` have their outcome recorded: no worker takes them again.
    pub fn pages_done<'a>(&mut self, urls: impl IntoIterator<Item = &'a str>) -> Result<()> {
        if let AnyStore::Postgres(s) = self {
            let keys: Vec<String> = urls.into_iter().map(|u| format!("{PAGE}{u}")).collect();
            if !keys.is_empty() {
                s.finish(&keys)?;
            }
        }
        Ok(())
    }

    /// Work free for this worker to take, claimed for it: the listings of sources whose
    /// reader died (lease run out), and at most `n` pages that are queued or whose worker
    /// died before recording their outcome. And how many units (listings and pages) are
    /// still open, held by live workers or free. Always empty on SQLite.
    pub fn take_over_work(&mut self, n: usize) -> Result<TakenOver> {
        match self {
            AnyStore::Sqlite(_) => Ok(TakenOver::default()),
            AnyStore::Postgres(s) => {
                let holder = crate::pg_work::worker_id();
                let ttl = crate::pg_work::lease_ttl();
                let unprefixed = |keys: Vec<String>, prefix: &str| -> Vec<String> {
                    keys.into_iter()
                        .filter_map(|k| k.strip_prefix(prefix).map(str::to_string))
                        .collect()
                };
                let listings = unprefixed(s.claim(holder, LISTING, n, ttl)?, LISTING);
                let pages = unprefixed(s.claim(holder, PAGE, n, ttl)?, PAGE);
                let open = s.open_work(PAGE)? + s.open_work(LISTING)?;
                Ok(TakenOver {
                    listings,
                    pages,
                    open,
                })
            }
        }
    }

    /// Take the listing of the source at `url` (its feed or sitemap pages) for this worker
    /// before reading it: `false` when another worker reads it, or read it in this run.
    /// Always `true` on SQLite.
    pub fn claim_listing(&mut self, url: &str) -> Result<bool> {
        match self {
            AnyStore::Sqlite(_) => Ok(true),
            AnyStore::Postgres(s) => s.claim_key(
                crate::pg_work::worker_id(),
                &format!("{LISTING}{url}"),
                crate::pg_work::lease_ttl(),
                Some(crate::pg_work::run_started()),
            ),
        }
    }

    /// The listing of the source at `url` was read (`read`: to its end or as far as it
    /// could be; no worker reads it again in this run) or given up (a stop: free for another
    /// worker at once).
    pub fn listing_done(&mut self, url: &str, read: bool) -> Result<()> {
        if let AnyStore::Postgres(s) = self {
            let key = vec![format!("{LISTING}{url}")];
            if read {
                s.finish(&key)?;
            } else {
                s.release(crate::pg_work::worker_id(), &key)?;
            }
        }
        Ok(())
    }

    /// Offer the pages at `urls` (listed by a source this worker reads) to every worker:
    /// queued as free units unless known in this run (an earlier run's done pages are
    /// opened again). Nothing on SQLite.
    pub fn share_pages(&mut self, urls: &[String]) -> Result<()> {
        if let AnyStore::Postgres(s) = self
            && !urls.is_empty()
        {
            let keys: Vec<String> = urls.iter().map(|u| format!("{PAGE}{u}")).collect();
            s.enqueue_reopening(&keys, crate::pg_work::run_started())?;
        }
        Ok(())
    }

    /// What the workers sharing this store know of `host`'s robots.txt: saved by one of them
    /// within `max_age`, or to be read by this worker (it now holds `robots:<host>`), or
    /// being read by another (ask again shortly). On SQLite: always read it.
    pub fn robots_txt_lookup(
        &mut self,
        host: &str,
        max_age: std::time::Duration,
    ) -> Result<RobotsTxtLookup> {
        let AnyStore::Postgres(s) = self else {
            return Ok(RobotsTxtLookup::ReadIt);
        };
        if let Some((status, body)) = s.robots_txt(host, max_age)? {
            return Ok(RobotsTxtLookup::Saved { status, body });
        }
        let older = chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX);
        let reopen_before = Utc::now().checked_sub_signed(older);
        let mine = s.claim_key(
            crate::pg_work::worker_id(),
            &format!("{ROBOTS}{host}"),
            crate::pg_work::lease_ttl(),
            reopen_before,
        )?;
        Ok(if mine {
            RobotsTxtLookup::ReadIt
        } else {
            RobotsTxtLookup::Wait
        })
    }

    /// This worker read `host`'s robots.txt (after [`RobotsTxtLookup::ReadIt`]): keep
    /// `Some((status, body))` for the others, or, with `None` (it could not be read), let
    /// another worker try. Nothing on SQLite.
    pub fn robots_txt_read(&mut self, host: &str, answer: Option<(u16, &str)>) -> Result<()> {
        let AnyStore::Postgres(s) = self else {
            return Ok(());
        };
        let key = vec![format!("{ROBOTS}{host}")];
        match answer {
            Some((status, body)) => {
                s.save_robots_txt(host, status, body)?;
                s.finish(&key)?;
            }
            None => {
                s.release(crate::pg_work::worker_id(), &key)?;
            }
        }
        Ok(())
    }

    /// The worker's heartbeat: extend every lease it holds by the lease time. Nothing on
    /// SQLite.
    pub fn renew_leases(&mut self) -> Result<u64> {
        match self {
            AnyStore::Sqlite(_) => Ok(0),
            AnyStore::Postgres(s) => {
                s.renew_all(crate::pg_work::worker_id(), crate::pg_work::lease_ttl())
            }
        }
    }

    /// Take `host`'s next request turn, shared by every worker (turns `interval` apart), for
    /// a request sent at once: `None` when taken, else how long until it is due (ask again
    /// then). Always taken on SQLite (the fetcher's own per-host pacing applies).
    pub fn take_host_turn(
        &mut self,
        host: &str,
        interval: std::time::Duration,
    ) -> Result<Option<std::time::Duration>> {
        match self {
            AnyStore::Sqlite(_) => Ok(None),
            AnyStore::Postgres(s) => Ok(match s.take_host_turn(host, interval)? {
                crate::HostTurn::Taken { .. } => None,
                crate::HostTurn::NotYet { wait } => Some(wait),
            }),
        }
    }

    /// Mark runs left `running` as `interrupted`. Only for SQLite, whose caller holds the
    /// file's lock (so no run can be live); on PostgreSQL other workers' runs are live, and
    /// this does nothing.
    pub fn close_abandoned_runs(&self) -> Result<()> {
        if let AnyStore::Sqlite(s) = self {
            s.connection()
                .execute(
                    "UPDATE runs SET status = 'interrupted' WHERE status = 'running'",
                    [],
                )
                .context("closing the runs a killed process left open")?;
        }
        Ok(())
    }

    /// SQLite only: keep the connection's memory fixed (a page cache of `cache_kib`,
    /// negative: KiB; no memory map). PostgreSQL's memory is the server's.
    pub fn bound_memory(&self, cache_kib: i64) {
        if let AnyStore::Sqlite(s) = self {
            let conn = s.connection();
            if let Err(e) = conn.pragma_update(None, "cache_size", cache_kib) {
                tracing::debug!("could not shrink a page cache: {e}");
            }
            if let Err(e) = conn.pragma_update(None, "mmap_size", 0) {
                tracing::debug!("could not turn the memory map off: {e}");
            }
        }
    }
}

/// A column of text from a SQLite query with text parameters.
fn strings(s: &Store, sql: &str, params: &[&str], context: &str) -> Result<Vec<String>> {
    let mut st = s.connection().prepare_cached(sql).context(context)?;
    st.query_map(rusqlite::params_from_iter(params.iter()), |r| {
        r.get::<_, String>(0)
    })
    .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
    .context(context)
}

impl Store {
    /// The id of the stored article at `url` (or declaring it its canonical URL).
    fn article_id_of(&self, url: &str) -> Option<i64> {
        self.connection()
            .prepare_cached(
                "SELECT id FROM articles WHERE url = ?1
                 UNION ALL SELECT id FROM articles WHERE canonical_url = ?1 LIMIT 1",
            )
            .and_then(|mut st| st.query_row([url], |r| r.get::<_, i64>(0)))
            .ok()
    }
}
