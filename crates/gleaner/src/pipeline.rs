//! The async pipeline of DESIGN.md, shared by `gleaner scrape` and `gleaner run`:
//!
//! ```text
//! targets ──► discover (Blogger feed pages, feeds, sitemaps) ──► jobs (bounded)
//!   ──► fetch tasks (≤ concurrency) ──► [blocking pool] scrape ─► clean ─► tag
//!   ──► writer channel (bounded) ──► one writer thread
//! ```
//!
//! Every channel is bounded, so memory does not grow with the size of the crawl; CPU work runs
//! on the blocking pool, never on the async workers; one thread owns the writing connection.
//!
//! What makes runs incremental and safe to kill:
//!
//! - A source's listing (feed pages, sitemaps) is fetched with the validators saved by the
//!   last *complete* read of it; the new validators, and the source's newest `updated` (the
//!   next `updated-min`), are saved only after every article of the run is committed, and
//!   only when the run was not stopped. A killed or stopped run therefore leaves nothing
//!   that would make the next run skip a post it did not store.
//! - A page's validators are written after its article's transaction, never before.
//! - A page that fails gets `failures + 1` and a `next_retry_at` (1 h, 2 h, 4 h, … a week);
//!   until then it is left alone unless its listing says it changed after the failure
//!   (`updated` later than the newest the source listed in its last complete read);
//!   `gleaner run` queues the pages whose time has come ([`Target::Retry`]). Listing
//!   documents that fail are recorded with no `next_retry_at`: every run reads them anyway.
//! - A failed feed page, page or source never stops the others; a blog whose feed said how
//!   many posts it has is read past a failed page.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use futures_util::StreamExt;
use gleaner_fetch::{FetchOutcome, Fetcher, Validators};
use gleaner_model::{Article, ScrapedArticle};
use gleaner_scrape::blogger_feed;
use gleaner_scrape::discovery::SitemapKind;
use gleaner_store::{FetchState, RunCounts, Store, UpsertOutcome};
use gleaner_tag::Tagger;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::process;

/// Posts asked for per feed page (Blogger's maximum is 150).
const FEED_PAGE_SIZE: u64 = 150;

/// After a stop request, how long a page fetch already under way may still take before it is
/// given up (nothing is recorded for it: the next run fetches the page).
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);
/// Articles written per transaction at most.
const WRITE_BATCH: usize = 64;
/// Page cache of the pipeline's reading connection, and of the other connections of a run
/// (negative: KiB).
pub const READER_CACHE_KIB: i64 = -512;
/// Page cache of the writer's connection (negative: KiB). The store's default (32 MiB) fills
/// as the database grows, so a run's memory would grow with the crawl; the writer's inserts
/// touch the right edge of the indexes and the OS page cache holds the rest.
const WRITER_CACHE_KIB: i64 = -1024;
/// Listing documents (feed pages, sitemaps) read per source at most.
const MAX_LISTING_PAGES: usize = 10_000;
/// Failures (and, apart, skips) listed by URL at the end of a run at most; the run's counts
/// hold them all.
pub const MAX_LISTED_PROBLEMS: usize = 1000;
/// Sources whose listings are read at the same time at most.
const DISCOVERY_CONCURRENCY: usize = 4;

/// The source a job belongs to.
#[derive(Debug, Clone)]
pub struct SourceRef {
    /// `sources.id`.
    pub id: i64,
    /// The source URL.
    pub url: String,
    /// Labels added to its articles.
    pub labels: Arc<Vec<String>>,
    /// The source's own HTTP client when it overrides `[fetch]` keys; else the run's.
    pub fetcher: Option<Fetcher>,
    /// Newest `updated` seen in the source by an earlier complete read: feed items and
    /// sitemap entries older than this are left alone.
    pub last_seen: Option<DateTime<Utc>>,
}

/// Something to ingest.
#[derive(Debug, Clone)]
pub enum Target {
    /// A Blogger blog, read feed-first from its home URL.
    Blog {
        /// Home page URL.
        home: String,
        /// Its source row.
        source: SourceRef,
        /// Only posts updated since (incremental runs).
        updated_min: Option<DateTime<Utc>>,
    },
    /// An RSS, Atom or JSON Feed, followed through its `next` links.
    Feed {
        /// The feed URL.
        url: String,
        /// Its source row.
        source: SourceRef,
    },
    /// A sitemap (or sitemap index).
    Sitemap {
        /// The sitemap URL.
        url: String,
        /// Its source row.
        source: SourceRef,
    },
    /// One page.
    Page {
        /// The page URL.
        url: String,
        /// Its source row, if it is a configured source.
        source: Option<SourceRef>,
    },
    /// A page that failed on an earlier run and is due for another try; dropped when a
    /// source lists it in this run anyway.
    Retry {
        /// The page URL.
        url: String,
        /// The source it most likely belongs to.
        source: Option<SourceRef>,
    },
}

/// One unit of work for the fetch stage.
#[derive(Debug)]
enum Job {
    /// Fetch a page, then process it.
    Fetch {
        url: String,
        source: Option<SourceRef>,
        /// When the listing (feed, sitemap) says the page last changed.
        listed_updated: Option<DateTime<Utc>>,
    },
    /// A whole post from a full-content feed: process it without fetching.
    Ready {
        scraped: Box<ScrapedArticle>,
        source: Option<SourceRef>,
    },
}

/// Messages to the writer thread.
enum WriterMsg {
    /// An article, and the fetch state of the page it came from: the state (with its
    /// validators) is written only after the article is committed, so a run killed in
    /// between never leaves a validator that would hide an unstored article behind a 304.
    Article {
        article: Box<Article>,
        source_id: Option<i64>,
        fetch_state: Option<FetchState>,
    },
    FetchState(FetchState),
}

/// An article the run stored or found unchanged.
#[derive(Debug, Clone)]
pub struct StoredItem {
    /// `articles.id`.
    pub id: i64,
    /// Inserted, updated or unchanged.
    pub outcome: UpsertOutcome,
}

/// A URL that failed or was skipped, and why.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The URL.
    pub url: String,
    /// What happened.
    pub reason: String,
}

/// What reading one source's listing (feed pages, sitemaps) came to.
#[derive(Debug, Clone)]
pub struct SourceRead {
    /// `sources.id`.
    pub id: i64,
    /// Every listing document was read (200 or 304).
    pub complete: bool,
    /// Newest `updated` / `lastmod` seen.
    pub newest: Option<DateTime<Utc>>,
    /// For a blog: the start of its feed-page URLs. Each incremental run asks for new ones
    /// (a new `updated-min`), so after a complete read the fetch state of other feed pages
    /// (older ones, failed ones now read) is dropped: `fetch_state` does not grow by a row
    /// per run.
    pub feed_prefix: Option<String>,
}

/// What an ingest did.
#[derive(Debug, Default)]
pub struct IngestReport {
    /// The counts kept in `runs`.
    pub counts: RunCounts,
    /// Articles written or left alone, in the order the writer saw them (only when
    /// [`Ingest::list_stored`]).
    pub stored: Vec<StoredItem>,
    /// Failures.
    pub failed: Vec<Problem>,
    /// Skips (robots.txt, content type, …).
    pub skipped: Vec<Problem>,
    /// Per source: whether its listing was read completely, and the newest time seen.
    pub sources: Vec<SourceRead>,
    /// True when the run was stopped before it finished.
    pub interrupted: bool,
}

/// Live counters of a run, for the progress display and the summary.
#[derive(Debug, Default)]
pub struct Counters {
    /// URLs or whole posts listed by discovery (or given).
    pub discovered: AtomicU64,
    /// Pages fetched (200).
    pub fetched: AtomicU64,
    /// 304 answers.
    pub not_modified: AtomicU64,
    /// Skipped on purpose (robots.txt, content type, backoff).
    pub skipped: AtomicU64,
    /// Failed (fetch, processing or storing).
    pub failed: AtomicU64,
    /// Articles written or found unchanged by the writer.
    pub stored: AtomicU64,
    /// Listed items older than what the source already gave (not fetched).
    pub listed_unchanged: AtomicU64,
    /// Nanoseconds discovery spent reading listings (feed pages, sitemaps): fetching and
    /// parsing them, not waiting for room in the job channel.
    pub discover_nanos: AtomicU64,
    /// Nanoseconds spent waiting for HTTP for pages (summed over tasks; limits included).
    pub fetch_nanos: AtomicU64,
    /// Nanoseconds spent scraping, cleaning and tagging (summed over tasks; measured on the
    /// blocking pool, so not counting the wait for a free thread).
    pub process_nanos: AtomicU64,
    /// Nanoseconds the writer spent in SQLite.
    pub write_nanos: AtomicU64,
}

struct Shared {
    fetcher: Fetcher,
    tagger: Arc<Tagger>,
    reader: Mutex<Store>,
    counters: Arc<Counters>,
    failed: Mutex<Vec<Problem>>,
    skipped: Mutex<Vec<Problem>>,
    writer: mpsc::Sender<WriterMsg>,
    honour_backoff: bool,
    /// The run's stop request: a page fetch still waiting STOP_GRACE after it is given up.
    cancel: CancellationToken,
}

impl Shared {
    fn fail(&self, url: &str, reason: String) {
        // Listed once at the end of the run (ingest::log_problems); here only for -v.
        debug!(url, %reason, "failed");
        self.counters.failed.fetch_add(1, Ordering::Relaxed);
        keep_problem(&self.failed, url, reason);
    }

    fn skip(&self, url: &str, reason: String) {
        debug!(url, %reason, "skipped");
        self.counters.skipped.fetch_add(1, Ordering::Relaxed);
        keep_problem(&self.skipped, url, reason);
    }

    /// The smallest start-index above `after` of a feed page of this blog (publication order,
    /// FEED_PAGE_SIZE a page) that a previous read saved validators for.
    fn next_saved_feed_page(&self, home: &str, after: u64) -> Option<u64> {
        let first = blogger_feed::feed_url(home, 1, FEED_PAGE_SIZE, None);
        let (head, _) = first.split_once("start-index=")?;
        let prefix = format!("{head}start-index=");
        let max_results = format!(
            "max-results={}",
            FEED_PAGE_SIZE.min(blogger_feed::MAX_RESULTS_CAP)
        );
        let reader = self.reader.lock().ok()?;
        let mut stmt = reader
            .connection()
            .prepare_cached("SELECT url FROM fetch_state WHERE substr(url, 1, length(?1)) = ?1")
            .ok()?;
        let urls: Vec<String> = stmt
            .query_map([&prefix], |r| r.get::<_, String>(0))
            .ok()?
            .filter_map(Result::ok)
            .collect();
        urls.iter()
            .filter_map(|u| {
                // "<start>&max-results=<size>" and nothing else (no updated-min: that is the
                // other order).
                let (start, rest) = u.strip_prefix(&prefix)?.split_once('&')?;
                (rest == max_results).then(|| start.parse::<u64>().ok())?
            })
            .filter(|&n| n > after)
            .min()
    }

    /// Resolves STOP_GRACE after a stop request: how long in-flight page fetches may still
    /// take (a fetch waiting out retries or a long Retry-After would otherwise hold a stop
    /// for minutes, past systemd's stop timeout).
    async fn stop_grace_over(&self) {
        self.cancel.cancelled().await;
        tokio::time::sleep(STOP_GRACE).await;
    }

    fn fetch_state(&self, url: &str) -> Option<FetchState> {
        let reader = self.reader.lock().ok()?;
        reader.fetch_state(url).ok().flatten()
    }

    fn fetcher_for<'a>(&'a self, source: Option<&'a SourceRef>) -> &'a Fetcher {
        source
            .and_then(|s| s.fetcher.as_ref())
            .unwrap_or(&self.fetcher)
    }

    /// Fetch, charging the time to `stage` (one of the counters' `*_nanos`).
    async fn timed_fetch(
        &self,
        fetcher: &Fetcher,
        url: &str,
        validators: &Validators,
        stage: &AtomicU64,
    ) -> Result<FetchOutcome, gleaner_fetch::FetchError> {
        let t = Instant::now();
        let out = fetcher.fetch(url, validators).await;
        stage.fetch_add(nanos(t.elapsed()), Ordering::Relaxed);
        out
    }
}

/// Keep a problem for the end-of-run list, up to [`MAX_LISTED_PROBLEMS`] (the counters count
/// them all).
fn keep_problem(list: &Mutex<Vec<Problem>>, url: &str, reason: String) {
    if let Ok(mut v) = list.lock()
        && v.len() < MAX_LISTED_PROBLEMS
    {
        v.push(Problem {
            url: url.to_string(),
            reason,
        });
    }
}

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The stages CPU work on the blocking pool is charged to.
#[derive(Debug, Clone, Copy)]
enum Stage {
    /// Parsing listings (feed pages, sitemaps).
    Discover,
    /// Scrape, clean, tag.
    Process,
}

/// Run `work` on the blocking pool, charging the time it runs there (not the wait for a
/// free thread) to `stage`.
async fn on_blocking_pool<T, F>(
    counters: &Arc<Counters>,
    stage: Stage,
    work: F,
) -> Result<T, tokio::task::JoinError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let counters = Arc::clone(counters);
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let out = work();
        let spent = nanos(started.elapsed());
        match stage {
            Stage::Discover => &counters.discover_nanos,
            Stage::Process => &counters.process_nanos,
        }
        .fetch_add(spent, Ordering::Relaxed);
        out
    })
    .await
}

/// Everything an ingest needs.
pub struct Ingest {
    /// The HTTP client (its own limits apply on top of `concurrency`).
    pub fetcher: Fetcher,
    /// The tagger, shared by the processing tasks.
    pub tagger: Arc<Tagger>,
    /// The database file.
    pub db_path: PathBuf,
    /// Fetch tasks in flight at most.
    pub concurrency: usize,
    /// Cancelled to stop taking new work; in-flight work is finished and written.
    pub cancel: CancellationToken,
    /// Leave pages that failed before alone until their `next_retry_at` (`gleaner run`);
    /// false fetches whatever is asked (`gleaner scrape`).
    pub honour_backoff: bool,
    /// Live counters (shared with a progress display).
    pub counters: Arc<Counters>,
    /// Keep the id of every article written in [`IngestReport::stored`] (`gleaner scrape`
    /// prints them); false keeps only the counts, so a long run holds nothing per article.
    pub list_stored: bool,
}

impl Ingest {
    /// Run the pipeline over `targets` to the end (or until cancelled).
    ///
    /// When the run was not interrupted, every source whose listing was read completely is
    /// marked read (newest `updated` seen, for the next run's `updated-min`) and the
    /// validators of its listing documents are saved, after every article is committed.
    pub async fn run(&self, targets: Vec<Target>) -> Result<IngestReport> {
        let writer_store = Store::open(&self.db_path)
            .with_context(|| format!("opening database {}", self.db_path.display()))?;
        bound_connection_memory(&writer_store, WRITER_CACHE_KIB);
        let reader = Store::open(&self.db_path)
            .with_context(|| format!("opening database {}", self.db_path.display()))?;
        // The reader only looks up fetch state by URL: a small page cache is plenty.
        bound_connection_memory(&reader, READER_CACHE_KIB);
        let (writer_tx, writer_rx) = mpsc::channel::<WriterMsg>(WRITE_BATCH * 2);
        let writer_counters = Arc::clone(&self.counters);
        let list_stored = self.list_stored;
        let writer = std::thread::Builder::new()
            .name("gleaner-writer".into())
            .spawn(move || write_loop(writer_store, writer_rx, &writer_counters, list_stored))
            .context("starting the writer thread")?;

        let shared = Arc::new(Shared {
            fetcher: self.fetcher.clone(),
            tagger: Arc::clone(&self.tagger),
            reader: Mutex::new(reader),
            counters: Arc::clone(&self.counters),
            failed: Mutex::new(Vec::new()),
            skipped: Mutex::new(Vec::new()),
            writer: writer_tx,
            honour_backoff: self.honour_backoff,
            cancel: self.cancel.clone(),
        });

        let (jobs_tx, mut jobs_rx) = mpsc::channel::<Job>(256);
        let discover_shared = Arc::clone(&shared);
        let discover_cancel = self.cancel.clone();
        let discovery = tokio::spawn(async move {
            discover_all(&discover_shared, &jobs_tx, &discover_cancel, targets).await
        });

        // Fair dispatch: a job waits for its host's turn before it takes one of the
        // `concurrency` slots, so a slow host (a long Crawl-delay) cannot hold them all.
        let lane_shared = Arc::clone(&shared);
        let work_shared = Arc::clone(&shared);
        crate::dispatch::run(
            &mut jobs_rx,
            &self.cancel,
            self.concurrency.max(1),
            move |job: &Job| match job {
                Job::Fetch { url, source, .. } => Some((
                    lane_shared.fetcher_for(source.as_ref()).clone(),
                    url.clone(),
                )),
                Job::Ready { .. } => None,
            },
            move |job| {
                let shared = Arc::clone(&work_shared);
                async move { handle_job(&shared, job).await }
            },
        )
        .await;
        drop(jobs_rx);
        let (source_reads, listing_states) = discovery.await.unwrap_or_default();
        let shared = match Arc::try_unwrap(shared) {
            Ok(s) => s,
            Err(_) => anyhow::bail!("pipeline tasks still running after the join"),
        };
        let Shared {
            failed,
            skipped,
            writer: writer_tx,
            ..
        } = shared;
        drop(writer_tx);
        let written = tokio::task::spawn_blocking(move || writer.join())
            .await
            .context("joining the writer")?
            .map_err(|_| anyhow::anyhow!("the writer thread panicked"))??;

        let interrupted = self.cancel.is_cancelled();
        if !interrupted {
            let db_path = self.db_path.clone();
            let reads = source_reads.clone();
            tokio::task::spawn_blocking(move || {
                mark_sources_read(&db_path, &reads, &listing_states)
            })
            .await
            .context("joining the source-state writer")??;
        }

        let counters = &self.counters;
        let failed = failed.into_inner().unwrap_or_default();
        let mut counts = written.counts;
        counts.discovered = counters.discovered.load(Ordering::Relaxed);
        counts.fetched = counters.fetched.load(Ordering::Relaxed);
        counts.not_modified = counters.not_modified.load(Ordering::Relaxed);
        counts.skipped = counters.skipped.load(Ordering::Relaxed);
        counts.unchanged += counters.listed_unchanged.load(Ordering::Relaxed);
        // The writer counts its failures in `written.counts.failed` and lists at most
        // MAX_LISTED_PROBLEMS of them; the combined list keeps that cap.
        counts.failed += counters.failed.load(Ordering::Relaxed);
        let mut all_failed = failed;
        let room = MAX_LISTED_PROBLEMS.saturating_sub(all_failed.len());
        all_failed.extend(written.failed.into_iter().take(room));
        Ok(IngestReport {
            counts,
            stored: written.stored,
            sources: source_reads,
            failed: all_failed,
            skipped: skipped.into_inner().unwrap_or_default(),
            interrupted,
        })
    }
}

/// Keep a pipeline connection's memory fixed however large the database grows: a page cache
/// of `cache_kib` (negative: KiB) instead of the store's default, and no memory map (pages
/// read through a map count in the process's resident memory, so a run would grow with the
/// database file; `gleaner query` keeps the map, where it pays).
pub fn bound_connection_memory(store: &Store, cache_kib: i64) {
    let conn = store.connection();
    if let Err(e) = conn.pragma_update(None, "cache_size", cache_kib) {
        debug!("could not shrink a page cache: {e}");
    }
    if let Err(e) = conn.pragma_update(None, "mmap_size", 0) {
        debug!("could not turn the memory map off: {e}");
    }
}

/// Record the sources whose listings were read completely, with the validators of their
/// listing documents; sources read in part get only their last-run time.
fn mark_sources_read(db: &Path, reads: &[SourceRead], states: &[FetchState]) -> Result<()> {
    let mut store =
        Store::open(db).with_context(|| format!("opening database {}", db.display()))?;
    bound_connection_memory(&store, READER_CACHE_KIB);
    for read in reads {
        let newest = if read.complete { read.newest } else { None };
        store
            .mark_source_read(read.id, newest)
            .context("recording source state")?;
    }
    for state in states {
        store
            .record_fetch(state)
            .context("recording listing validators")?;
    }
    let kept: HashSet<&str> = states.iter().map(|s| s.url.as_str()).collect();
    for prefix in reads
        .iter()
        .filter(|r| r.complete)
        .filter_map(|r| r.feed_prefix.as_deref())
    {
        let stale: Vec<String> = {
            let mut stmt = store
                .connection()
                .prepare_cached(
                    "SELECT url FROM fetch_state
                      WHERE substr(url, 1, length(?1)) = ?1",
                )
                .context("finding old feed pages")?;
            stmt.query_map([prefix], |r| r.get::<_, String>(0))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .context("finding old feed pages")?
        };
        for url in stale.iter().filter(|u| !kept.contains(u.as_str())) {
            store
                .connection()
                .execute("DELETE FROM fetch_state WHERE url = ?1", [url])
                .context("dropping the state of an old feed page")?;
        }
    }
    Ok(())
}

/// Discovery: turns targets into jobs. Sources are read concurrently (at most
/// [`DISCOVERY_CONCURRENCY`] at a time), so a slow or broken source does not hold up the
/// others; pages due for a retry are queued last, once every source had the chance to list
/// them (a listed page is fetched as part of its source, not twice).
///
/// Returns each source's read state and the validators of the listing documents of the
/// sources read completely.
async fn discover_all(
    shared: &Shared,
    jobs: &mpsc::Sender<Job>,
    cancel: &CancellationToken,
    targets: Vec<Target>,
) -> (Vec<SourceRead>, Vec<FetchState>) {
    let retry_pending: Mutex<HashSet<String>> = Mutex::new(
        targets
            .iter()
            .filter_map(|t| match t {
                Target::Retry { url, .. } => Some(url.clone()),
                _ => None,
            })
            .collect(),
    );
    let (retries, sources): (Vec<Target>, Vec<Target>) = targets
        .into_iter()
        .partition(|t| matches!(t, Target::Retry { .. }));
    let one = |target: Target| {
        let retry_pending = &retry_pending;
        async move {
            if cancel.is_cancelled() {
                return (None, Vec::new(), true);
            }
            let mut d = Discovery {
                shared,
                jobs,
                cancel,
                retry_pending,
                listing_states: Vec::new(),
            };
            let (read, ok) = d.target(target).await;
            (read, d.listing_states, ok)
        }
    };
    let mut reads = Vec::new();
    let mut states = Vec::new();
    let mut sources = futures_util::stream::iter(sources)
        .map(one)
        .buffer_unordered(DISCOVERY_CONCURRENCY);
    let mut open = true;
    while let Some((read, listing, ok)) = sources.next().await {
        if let Some(read) = read {
            if read.complete {
                states.extend(listing);
            }
            reads.push(read);
        }
        open &= ok;
    }
    drop(sources);
    if open {
        for target in retries {
            if cancel.is_cancelled() {
                break;
            }
            if !one(target).await.2 {
                break;
            }
        }
    }
    (reads, states)
}

/// One post as a feed (Blogger's or any other) lists it.
struct Listed {
    url: String,
    updated: Option<DateTime<Utc>>,
    full_content: bool,
    article: ScrapedArticle,
}

/// The discovery of one target.
struct Discovery<'a> {
    shared: &'a Shared,
    jobs: &'a mpsc::Sender<Job>,
    cancel: &'a CancellationToken,
    /// Retry targets not yet listed by a source in this run (shared by every source).
    retry_pending: &'a Mutex<HashSet<String>>,
    /// Validators of the listing documents of the source being read (saved only if it is
    /// read completely).
    listing_states: Vec<FetchState>,
}

/// What fetching one listing document (feed page, sitemap) came to.
enum Listing {
    Page(gleaner_fetch::FetchedPage),
    NotModified,
    Failed,
}

impl Discovery<'_> {
    /// Returns the source's read state (for sources) and false when the job channel closed.
    async fn target(&mut self, target: Target) -> (Option<SourceRead>, bool) {
        match target {
            Target::Page { url, source } => {
                let ok = self.send_fetch(url, source, None).await;
                (None, ok)
            }
            Target::Retry { url, source } => {
                if !self.listed_for_retry(&url) {
                    return (None, true);
                }
                debug!(url = %url, "retrying a page that failed on an earlier run");
                let ok = self.send_fetch(url, source, None).await;
                (None, ok)
            }
            Target::Blog {
                home,
                source,
                updated_min,
            } => self.blog(&home, source, updated_min).await,
            Target::Feed { url, source } => self.feed(&url, source).await,
            Target::Sitemap { url, source } => self.sitemap(&url, source).await,
        }
    }

    /// Takes `url` off the pending retries; true if it was there.
    fn listed_for_retry(&self, url: &str) -> bool {
        self.retry_pending
            .lock()
            .map(|mut pending| pending.remove(url))
            .unwrap_or(false)
    }

    async fn send(&self, job: Job) -> bool {
        self.shared
            .counters
            .discovered
            .fetch_add(1, Ordering::Relaxed);
        self.jobs.send(job).await.is_ok()
    }

    async fn send_fetch(
        &mut self,
        url: String,
        source: Option<SourceRef>,
        listed_updated: Option<DateTime<Utc>>,
    ) -> bool {
        self.listed_for_retry(&url);
        self.send(Job::Fetch {
            url,
            source,
            listed_updated,
        })
        .await
    }

    /// Whether a listed item is older than what the source gave before (left alone).
    /// Queue one post a feed listed: the whole post when the feed carries it, else its page
    /// to fetch; nothing when the source's last complete read already covered it. Records
    /// the newest `updated` seen. False when the pipeline stopped taking jobs.
    async fn offer(&mut self, source: &SourceRef, read: &mut SourceRead, listed: Listed) -> bool {
        if let Some(u) = listed.updated {
            read.newest = Some(read.newest.map_or(u, |n| n.max(u)));
        }
        if self.seen_before(source, listed.updated) {
            return true;
        }
        if listed.full_content {
            let mut scraped = listed.article;
            if scraped.url.is_empty() {
                scraped.url = listed.url;
            }
            self.listed_for_retry(&scraped.url);
            self.send(Job::Ready {
                scraped: Box::new(scraped),
                source: Some(source.clone()),
            })
            .await
        } else {
            self.send_fetch(listed.url, Some(source.clone()), listed.updated)
                .await
        }
    }

    fn seen_before(&self, source: &SourceRef, updated: Option<DateTime<Utc>>) -> bool {
        let old = matches!((source.last_seen, updated), (Some(seen), Some(u)) if u < seen);
        if old {
            self.shared
                .counters
                .listed_unchanged
                .fetch_add(1, Ordering::Relaxed);
        }
        old
    }

    /// Fetch a listing document, conditionally when `conditional`; its new validators are
    /// kept aside, a failure is recorded at once (with no backoff: listings are read every
    /// run).
    async fn listing(&mut self, source: &SourceRef, url: &str, conditional: bool) -> Listing {
        let previous = self.shared.fetch_state(url);
        let validators = previous
            .as_ref()
            .filter(|_| conditional)
            .map(|s| Validators {
                etag: s.etag.clone(),
                last_modified: s.last_modified.clone(),
            })
            .unwrap_or_default();
        let now = Utc::now();
        let fetcher = self.shared.fetcher_for(Some(source));
        let stage = &self.shared.counters.discover_nanos;
        // A stop (SIGTERM, --max-duration) must not wait out a listing's retries and
        // Retry-After pauses: the read is left incomplete and nothing is recorded for it.
        let fetched = tokio::select! {
            biased;
            () = self.cancel.cancelled() => {
                debug!(url = %url, "stopping: listing not read");
                return Listing::Failed;
            }
            fetched = self.shared.timed_fetch(fetcher, url, &validators, stage) => fetched,
        };
        match fetched {
            Ok(FetchOutcome::Page(page)) => {
                self.listing_states.push(FetchState {
                    url: url.to_string(),
                    etag: page.validators.etag.clone(),
                    last_modified: page.validators.last_modified.clone(),
                    last_status: Some(page.status),
                    failures: 0,
                    last_error: None,
                    next_retry_at: None,
                    fetched_at: Some(now),
                });
                Listing::Page(page)
            }
            Ok(FetchOutcome::NotModified { .. }) => {
                self.shared
                    .counters
                    .not_modified
                    .fetch_add(1, Ordering::Relaxed);
                self.listing_states.push(FetchState {
                    url: url.to_string(),
                    last_status: Some(304),
                    failures: 0,
                    fetched_at: Some(now),
                    ..previous.unwrap_or_default()
                });
                Listing::NotModified
            }
            Ok(FetchOutcome::Skipped {
                url: skipped,
                reason,
            }) => {
                self.shared.skip(&skipped, reason);
                Listing::Failed
            }
            Err(e) => {
                let mut state = previous.unwrap_or_else(|| FetchState {
                    url: url.to_string(),
                    ..FetchState::default()
                });
                state.failures = state.failures.saturating_add(1);
                state.last_error = Some(e.to_string());
                state.last_status = status_of(&e);
                state.next_retry_at = None;
                state.fetched_at = Some(now);
                let _ = self.shared.writer.send(WriterMsg::FetchState(state)).await;
                self.shared.fail(url, format!("reading the listing: {e}"));
                Listing::Failed
            }
        }
    }

    /// A Blogger blog, feed page by feed page. A page that fails is passed over when the feed
    /// said how many posts there are, so one bad page does not hide the rest.
    async fn blog(
        &mut self,
        home: &str,
        source: SourceRef,
        updated_min: Option<DateTime<Utc>>,
    ) -> (Option<SourceRead>, bool) {
        let first_page = blogger_feed::feed_url(home, 1, 1, None);
        let mut read = SourceRead {
            id: source.id,
            complete: true,
            newest: None,
            feed_prefix: first_page
                .find('?')
                .and_then(|q| first_page.get(..=q))
                .map(str::to_string),
        };
        let mut start: u64 = 1;
        let mut total: Option<u64> = None;
        for _ in 0..MAX_LISTING_PAGES {
            if self.cancel.is_cancelled() {
                read.complete = false;
                return (Some(read), true);
            }
            let feed_url = blogger_feed::feed_url(home, start, FEED_PAGE_SIZE, updated_min);
            debug!(url = %feed_url, "reading feed page");
            let page = match self.listing(&source, &feed_url, true).await {
                Listing::Page(page) => page,
                Listing::NotModified => {
                    // Ordered by update time, an unchanged first page means nothing changed;
                    // in publication order, later pages may still have, up to the last page
                    // the previous complete read saw (the only feed pages with a saved state).
                    // Feed pages may hold fewer than FEED_PAGE_SIZE posts (Blogger caps some
                    // blogs lower), so the next page is the next start-index the last read
                    // saved, not start + FEED_PAGE_SIZE.
                    if updated_min.is_some() {
                        break;
                    }
                    match self.shared.next_saved_feed_page(home, start) {
                        Some(next) => {
                            start = next;
                            continue;
                        }
                        None => break,
                    }
                }
                Listing::Failed => {
                    read.complete = false;
                    match total {
                        Some(t) if start + FEED_PAGE_SIZE <= t => {
                            start += FEED_PAGE_SIZE;
                            continue;
                        }
                        _ => break,
                    }
                }
            };
            let body = page.body;
            let parsed = on_blocking_pool(&self.shared.counters, Stage::Discover, move || {
                blogger_feed::parse_feed(&body).map(with_feed_language)
            })
            .await;
            let feed = match parsed {
                Ok(Ok(feed)) => feed,
                Ok(Err(e)) => {
                    self.shared
                        .fail(&feed_url, format!("reading the blog feed: {e}"));
                    read.complete = false;
                    break;
                }
                Err(e) => {
                    self.shared
                        .fail(&feed_url, format!("feed parser task: {e}"));
                    read.complete = false;
                    break;
                }
            };
            total = feed.total_results.or(total);
            let count = feed.entries.len() as u64;
            for entry in feed.entries {
                let updated = entry.updated_at.map(|t| t.with_timezone(&Utc));
                let listed = Listed {
                    url: entry.url,
                    updated,
                    full_content: entry.full_content,
                    article: entry.article,
                };
                if !self.offer(&source, &mut read, listed).await {
                    return (None, false);
                }
            }
            if count == 0 || feed.next.is_none() {
                break;
            }
            start += count;
        }
        (Some(read), true)
    }

    /// An RSS, Atom or JSON Feed source, following `rel=next` pages.
    async fn feed(&mut self, url: &str, source: SourceRef) -> (Option<SourceRead>, bool) {
        let mut read = SourceRead {
            id: source.id,
            complete: true,
            newest: None,
            feed_prefix: None,
        };
        let mut next = Some(url.to_string());
        let mut visited = HashSet::new();
        while let Some(page_url) = next.take() {
            if self.cancel.is_cancelled() {
                read.complete = false;
                break;
            }
            if !visited.insert(page_url.clone()) || visited.len() > MAX_LISTING_PAGES {
                break;
            }
            let page = match self.listing(&source, &page_url, true).await {
                Listing::Page(page) => page,
                Listing::NotModified => break,
                Listing::Failed => {
                    read.complete = false;
                    break;
                }
            };
            let body = page.body;
            let parsed = on_blocking_pool(&self.shared.counters, Stage::Discover, move || {
                gleaner_scrape::discovery::parse_generic_feed(xml_declared_utf8(&body).as_bytes())
            })
            .await;
            let feed = match parsed {
                Ok(Ok(feed)) => feed,
                Ok(Err(e)) => {
                    self.shared
                        .fail(&page_url, format!("reading the feed: {e}"));
                    read.complete = false;
                    break;
                }
                Err(e) => {
                    self.shared
                        .fail(&page_url, format!("feed parser task: {e}"));
                    read.complete = false;
                    break;
                }
            };
            for item in feed.items {
                let updated = item
                    .article
                    .updated_at
                    .or(item.article.published_at)
                    .map(|t| t.with_timezone(&Utc));
                let listed = Listed {
                    url: item.url,
                    updated,
                    full_content: item.full_content,
                    article: item.article,
                };
                if !self.offer(&source, &mut read, listed).await {
                    return (None, false);
                }
            }
            next = feed.next.and_then(|n| {
                url::Url::parse(&page_url)
                    .and_then(|base| base.join(&n))
                    .ok()
                    .map(String::from)
            });
        }
        (Some(read), true)
    }

    /// A sitemap source: a `<urlset>`, or an index whose sitemaps are read in turn. The
    /// source's own URL is always fetched whole (an index answered with 304 would hide its
    /// children, which change on their own); child sitemaps are fetched conditionally.
    async fn sitemap(&mut self, url: &str, source: SourceRef) -> (Option<SourceRead>, bool) {
        let mut read = SourceRead {
            id: source.id,
            complete: true,
            newest: None,
            feed_prefix: None,
        };
        let mut queue = std::collections::VecDeque::from([url.to_string()]);
        let mut visited = HashSet::new();
        while let Some(map_url) = queue.pop_front() {
            if self.cancel.is_cancelled() {
                read.complete = false;
                break;
            }
            if !visited.insert(map_url.clone()) || visited.len() > MAX_LISTING_PAGES {
                continue;
            }
            let conditional = map_url != url;
            let page = match self.listing(&source, &map_url, conditional).await {
                Listing::Page(page) => page,
                Listing::NotModified => continue,
                Listing::Failed => {
                    read.complete = false;
                    continue;
                }
            };
            let body = page.body;
            let parsed = on_blocking_pool(&self.shared.counters, Stage::Discover, move || {
                gleaner_scrape::discovery::parse_sitemap(body.as_bytes())
            })
            .await;
            let map = match parsed {
                Ok(Ok(map)) => map,
                Ok(Err(e)) => {
                    self.shared
                        .fail(&map_url, format!("reading the sitemap: {e}"));
                    read.complete = false;
                    continue;
                }
                Err(e) => {
                    self.shared
                        .fail(&map_url, format!("sitemap parser task: {e}"));
                    read.complete = false;
                    continue;
                }
            };
            for entry in map.entries {
                let lastmod = entry.lastmod.map(|t| t.with_timezone(&Utc));
                match map.kind {
                    SitemapKind::Index => queue.push_back(entry.loc),
                    SitemapKind::UrlSet => {
                        if let Some(u) = lastmod {
                            read.newest = Some(read.newest.map_or(u, |n| n.max(u)));
                        }
                        if self.seen_before(&source, lastmod) {
                            continue;
                        }
                        if !self
                            .send_fetch(entry.loc, Some(source.clone()), lastmod)
                            .await
                        {
                            return (None, false);
                        }
                    }
                }
            }
        }
        (Some(read), true)
    }
}

/// The fetcher has already decoded the body to UTF-8; a feed parser that reads the XML
/// declaration would decode it a second time as what the declaration says (windows-1252,
/// ISO-8859-1, …), so the declaration is made to say UTF-8.
fn xml_declared_utf8(body: &str) -> std::borrow::Cow<'_, str> {
    let start = body.len()
        - body
            .trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n'])
            .len();
    let rest = &body[start..];
    if !rest.starts_with("<?xml") {
        return body.into();
    }
    let Some(end) = rest.find("?>") else {
        return body.into();
    };
    let decl = &rest[..end];
    let Some(at) = decl.find("encoding") else {
        return body.into();
    };
    let after = &decl[at + "encoding".len()..];
    let value_start = after.find(['"', '\'']).map(|i| (i, after.as_bytes()[i]));
    let Some((open, quote)) = value_start else {
        return body.into();
    };
    let Some(len) = after[open + 1..].find(char::from(quote)) else {
        return body.into();
    };
    let value = &after[open + 1..open + 1 + len];
    if value.eq_ignore_ascii_case("utf-8") {
        return body.into();
    }
    let value_at = start + at + "encoding".len() + open + 1;
    let mut out = String::with_capacity(body.len());
    out.push_str(&body[..value_at]);
    out.push_str("UTF-8");
    out.push_str(&body[value_at + len..]);
    out.into()
}

/// The HTTP status a fetch error carries, if any.
fn status_of(e: &gleaner_fetch::FetchError) -> Option<u16> {
    match e {
        gleaner_fetch::FetchError::Status { status, .. } => Some(*status),
        _ => None,
    }
}

/// When to try a failed page again: 1 h after the first failure, doubling, at most a week.
fn next_retry(now: DateTime<Utc>, failures: u32) -> DateTime<Utc> {
    let hours = 1i64 << failures.clamp(1, 8).saturating_sub(1);
    now + ChronoDuration::hours(hours.min(168))
}

async fn handle_job(shared: &Shared, job: Job) {
    match job {
        Job::Ready { scraped, source } => {
            let url = scraped.url.clone();
            process_and_send(shared, *scraped, source, &url, None).await;
        }
        Job::Fetch {
            url,
            source,
            listed_updated,
        } => fetch_and_process(shared, url, source, listed_updated).await,
    }
}

async fn fetch_and_process(
    shared: &Shared,
    url: String,
    source: Option<SourceRef>,
    listed_updated: Option<DateTime<Utc>>,
) {
    let previous = shared.fetch_state(&url);
    let now = Utc::now();
    if shared.honour_backoff
        && let Some(prev) = &previous
        && prev.failures > 0
        && let Some(retry_at) = prev.next_retry_at.filter(|t| *t > now)
    {
        // Backing off after a failure, unless the listing says the page changed since: its
        // `updated` is later than the newest the source listed when last read completely
        // (the failure came after that read listed it), else later than the failed attempt.
        let since = source
            .as_ref()
            .and_then(|s| s.last_seen)
            .or(prev.fetched_at);
        let changed = matches!((listed_updated, since), (Some(u), Some(s)) if u > s);
        if !changed {
            debug!(url = %url, failures = prev.failures, %retry_at, "failed before; not retrying yet");
            shared.counters.skipped.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
    let validators = previous
        .as_ref()
        .map(|s| Validators {
            etag: s.etag.clone(),
            last_modified: s.last_modified.clone(),
        })
        .unwrap_or_default();
    let mut state = previous.unwrap_or_else(|| FetchState {
        url: url.clone(),
        ..FetchState::default()
    });
    state.fetched_at = Some(now);
    let fetcher = shared.fetcher_for(source.as_ref());
    let fetched = tokio::select! {
        fetched = shared.timed_fetch(fetcher, &url, &validators, &shared.counters.fetch_nanos) => fetched,
        () = shared.stop_grace_over() => {
            debug!(url = %url, "stopping: page fetch given up");
            return;
        }
    };
    match fetched {
        Ok(FetchOutcome::Page(page)) => {
            shared.counters.fetched.fetch_add(1, Ordering::Relaxed);
            let failures_before = state.failures;
            state.etag = page.validators.etag.clone();
            state.last_modified = page.validators.last_modified.clone();
            state.last_status = Some(page.status);
            state.failures = 0;
            state.last_error = None;
            state.next_retry_at = None;
            if page.truncated {
                warn!(url = %url, "page cut at the size limit; processing what arrived");
            }
            let final_url = page.final_url.clone();
            let body = page.body;
            let scrape_url = final_url.clone();
            let scraped = on_blocking_pool(&shared.counters, Stage::Process, move || {
                process::scrape(&body, &scrape_url)
            })
            .await;
            let scraped = match scraped {
                Ok(s) => s,
                Err(e) => {
                    shared.fail(&url, format!("scraper task: {e}"));
                    return;
                }
            };
            let scraped = match complete_from_feed(shared, fetcher, scraped).await {
                Ok(s) => s,
                Err(reason) => {
                    // The page is only a shell and its post could not be read: nothing is
                    // stored, and the page keeps no validators, so a later run fetches it
                    // again (a 304 would otherwise hide the post for good).
                    state.etag = None;
                    state.last_modified = None;
                    state.failures = failures_before.saturating_add(1);
                    state.last_error = Some(reason.clone());
                    state.next_retry_at = Some(next_retry(now, state.failures));
                    let _ = shared.writer.send(WriterMsg::FetchState(state)).await;
                    shared.fail(&url, reason);
                    return;
                }
            };
            process_and_send(shared, scraped, source, &url, Some(state)).await;
        }
        Ok(FetchOutcome::NotModified { .. }) => {
            shared.counters.not_modified.fetch_add(1, Ordering::Relaxed);
            state.last_status = Some(304);
            state.failures = 0;
            state.last_error = None;
            state.next_retry_at = None;
            let _ = shared.writer.send(WriterMsg::FetchState(state)).await;
        }
        Ok(FetchOutcome::Skipped {
            url: skipped_url,
            reason,
        }) => shared.skip(&skipped_url, reason),
        Err(e) => {
            state.failures = state.failures.saturating_add(1);
            state.last_error = Some(e.to_string());
            state.last_status = status_of(&e);
            state.next_retry_at = Some(next_retry(now, state.failures));
            let _ = shared.writer.send(WriterMsg::FetchState(state)).await;
            shared.fail(&url, e.to_string());
        }
    }
}

/// Dynamic Views pages carry no post in their HTML: take it from the post's feed entry, read
/// first on the blog's own host (`/feeds/posts/default/<postId>`: the same host, rate limit and
/// robots.txt as the page, and what widget code uses), else from www.blogger.com (the form the
/// feeds themselves give as an entry's `self` link).
///
/// An error (the reason) when the page needed its feed entry and neither could be read.
async fn complete_from_feed(
    shared: &Shared,
    fetcher: &Fetcher,
    scraped: ScrapedArticle,
) -> Result<ScrapedArticle, String> {
    let Some(blogger_feed_url) = gleaner_scrape::dynamic_views_feed_url(&scraped) else {
        return Ok(scraped);
    };
    let same_host = scraped
        .blogger_post_id
        .as_deref()
        .and_then(|post| same_host_post_feed_url(&scraped.url, post));
    let mut entry = None;
    let mut tried = 0;
    for feed_url in same_host.into_iter().chain([blogger_feed_url]) {
        tried += 1;
        debug!(url = %scraped.url, feed = %feed_url, "no body in the page's HTML: reading the post's feed entry");
        entry = read_post_entry(shared, fetcher, &feed_url).await;
        if entry.is_some() {
            break;
        }
    }
    let Some(entry) = entry else {
        return Err(format!(
            "a Dynamic Views page without its post, whose feed entry could not be read \
             (tried {} feed URL(s))",
            tried
        ));
    };
    let mut from_feed = entry.article;
    from_feed.url = scraped.url.clone();
    from_feed.canonical_url = scraped.canonical_url.clone().or(from_feed.canonical_url);
    from_feed.title = from_feed.title.or(scraped.title);
    from_feed.site_name = scraped.site_name.or(from_feed.site_name);
    from_feed.language_hint = scraped.language_hint.or(from_feed.language_hint);
    from_feed.blog_id = from_feed.blog_id.or(scraped.blog_id);
    from_feed.blogger_post_id = from_feed.blogger_post_id.or(scraped.blogger_post_id);
    Ok(from_feed)
}

/// `https://host/feeds/posts/default/<postId>?alt=json` on the page's own origin.
fn same_host_post_feed_url(page_url: &str, post_id: &str) -> Option<String> {
    let mut url = url::Url::parse(page_url).ok()?;
    if !post_id.bytes().all(|b| b.is_ascii_digit()) || post_id.is_empty() {
        return None;
    }
    url.set_path(&format!("/feeds/posts/default/{post_id}"));
    url.set_query(Some("alt=json"));
    url.set_fragment(None);
    Some(url.into())
}

/// The first entry of a post feed that holds the post's content.
async fn read_post_entry(
    shared: &Shared,
    fetcher: &Fetcher,
    feed_url: &str,
) -> Option<blogger_feed::FeedEntry> {
    let outcome = shared
        .timed_fetch(
            fetcher,
            feed_url,
            &Validators::default(),
            &shared.counters.fetch_nanos,
        )
        .await;
    let page = match outcome {
        Ok(FetchOutcome::Page(page)) => page,
        Ok(other) => {
            debug!(feed = %feed_url, ?other, "no post feed entry");
            return None;
        }
        Err(e) => {
            debug!(feed = %feed_url, "no post feed entry: {e}");
            return None;
        }
    };
    let feed = on_blocking_pool(&shared.counters, Stage::Process, move || {
        blogger_feed::parse_feed(&page.body)
    })
    .await
    .ok()?
    .ok()?;
    feed.entries
        .into_iter()
        .next()
        // An entry with a content element is the post, even a post that is only a photo.
        .filter(|e| e.full_content || !e.article.blocks.is_empty())
}

async fn process_and_send(
    shared: &Shared,
    scraped: ScrapedArticle,
    source: Option<SourceRef>,
    url: &str,
    fetch_state: Option<FetchState>,
) {
    let tagger = Arc::clone(&shared.tagger);
    let fetched_at = Utc::now();
    let source_url = source.as_ref().map(|s| s.url.clone());
    let labels = source.as_ref().map(|s| Arc::clone(&s.labels));
    let done = on_blocking_pool(&shared.counters, Stage::Process, move || {
        let extra: &[String] = labels.as_deref().map_or(&[], |l| l.as_slice());
        process::finish_required(
            scraped,
            Some(fetched_at),
            source_url.as_deref(),
            extra,
            &tagger,
        )
    })
    .await;
    match done {
        Ok(Ok(article)) => {
            let msg = WriterMsg::Article {
                article: Box::new(article),
                source_id: source.map(|s| s.id),
                fetch_state,
            };
            if shared.writer.send(msg).await.is_err() {
                shared.fail(url, "the writer stopped".into());
            }
        }
        Ok(Err(no_article)) => {
            // The page was read: keep its validators, so an unchanged page costs a 304.
            if let Some(state) = fetch_state {
                let _ = shared.writer.send(WriterMsg::FetchState(state)).await;
            }
            shared.fail(url, no_article.to_string());
        }
        Err(e) => shared.fail(url, format!("processing task: {e}")),
    }
}

struct Written {
    counts: RunCounts,
    stored: Vec<StoredItem>,
    failed: Vec<Problem>,
}

/// The one writer: batches what arrives into transactions until every sender is gone.
/// Fetch states that come with articles are written after the articles' transaction.
fn write_loop(
    mut store: Store,
    mut rx: mpsc::Receiver<WriterMsg>,
    counters: &Counters,
    list_stored: bool,
) -> Result<Written> {
    let mut written = Written {
        counts: RunCounts::default(),
        stored: Vec::new(),
        failed: Vec::new(),
    };
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < WRITE_BATCH {
            match rx.try_recv() {
                Ok(msg) => batch.push(msg),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let mut articles = Vec::new();
        let mut after = Vec::new();
        // Fetch states of the batch, saved together in one transaction after the articles
        // (a page's validators never before its article is committed).
        let mut states: Vec<FetchState> = Vec::new();
        for msg in batch {
            match msg {
                WriterMsg::Article {
                    article,
                    source_id,
                    fetch_state,
                } => {
                    articles.push((*article, source_id));
                    after.push(fetch_state);
                }
                WriterMsg::FetchState(state) => states.push(state),
            }
        }
        if articles.is_empty() {
            record_states(&mut store, &states);
            counters
                .write_nanos
                .fetch_add(nanos(started.elapsed()), Ordering::Relaxed);
            continue;
        }
        let results: Vec<(String, Result<gleaner_store::Upserted, String>)> =
            match store.upsert_articles(&articles) {
                Ok(ups) => articles
                    .iter()
                    .zip(ups)
                    .map(|((a, _), u)| (a.url.clone(), Ok(u)))
                    .collect(),
                Err(batch_err) => {
                    debug!("batch write failed ({batch_err}); writing one by one");
                    articles
                        .iter()
                        .map(|(a, sid)| {
                            (
                                a.url.clone(),
                                store.upsert_article(a, *sid).map_err(|e| e.to_string()),
                            )
                        })
                        .collect()
                }
            };
        for ((url, result), state) in results.into_iter().zip(after) {
            match result {
                Ok(up) => {
                    match up.outcome {
                        UpsertOutcome::Inserted => written.counts.stored += 1,
                        UpsertOutcome::Updated => written.counts.updated += 1,
                        UpsertOutcome::Unchanged => written.counts.unchanged += 1,
                    }
                    counters.stored.fetch_add(1, Ordering::Relaxed);
                    debug!(url = %url, id = up.id, outcome = ?up.outcome, "written");
                    if list_stored {
                        written.stored.push(StoredItem {
                            id: up.id,
                            outcome: up.outcome,
                        });
                    }
                    states.extend(state);
                }
                Err(e) => {
                    warn!(url = %url, "could not store: {e}");
                    // Try the page again on a later run.
                    let now = Utc::now();
                    let failures = state.as_ref().map_or(0, |s| s.failures) + 1;
                    let retry = FetchState {
                        url: url.clone(),
                        failures,
                        last_error: Some(format!("storing: {e}")),
                        next_retry_at: Some(next_retry(now, failures)),
                        fetched_at: Some(now),
                        ..FetchState::default()
                    };
                    states.push(retry);
                    written.counts.failed += 1;
                    if written.failed.len() < MAX_LISTED_PROBLEMS {
                        written.failed.push(Problem {
                            url,
                            reason: format!("storing: {e}"),
                        });
                    }
                }
            }
        }
        record_states(&mut store, &states);
        counters
            .write_nanos
            .fetch_add(nanos(started.elapsed()), Ordering::Relaxed);
    }
    Ok(written)
}

/// Saves a batch's fetch states in one transaction; if that fails, one by one, so one bad
/// state costs only itself (each failure is logged; the page is simply fetched again later).
fn record_states(store: &mut Store, states: &[FetchState]) {
    if states.is_empty() || store.record_fetches(states).is_ok() {
        return;
    }
    for state in states {
        if let Err(e) = store.record_fetch(state) {
            warn!(url = %state.url, "could not record fetch state: {e}");
        }
    }
}

/// How much of a feed page's text is read to find its language.
const FEED_LANGUAGE_SAMPLE_BYTES: usize = 16 * 1024;

/// Gives the entries of a feed page that carry no language hint the language of the page's
/// text taken together (titles, bodies, summaries). A blog writes in one language far more often
/// than not, and a post of a few lines is too short to detect on its own: without this, most
/// short entries of a Spanish blog's feed would be stored with no language at all. Entries long
/// enough are still detected on their own text by `gleaner-clean`; the hint only decides the
/// short ones.
fn with_feed_language(mut feed: blogger_feed::FeedPage) -> blogger_feed::FeedPage {
    if feed
        .entries
        .iter()
        .all(|e| e.article.language_hint.is_some())
    {
        return feed;
    }
    let mut sample = String::new();
    let texts = feed.entries.iter().flat_map(|e| {
        let a = &e.article;
        a.title
            .iter()
            .chain(a.blocks.iter().map(|b| &b.text))
            .chain(e.summary.iter())
    });
    for text in texts {
        if sample.len() >= FEED_LANGUAGE_SAMPLE_BYTES {
            break;
        }
        sample.push_str(text);
        sample.push('\n');
    }
    if let Some(language) = gleaner_clean::detect_language(&sample) {
        for entry in &mut feed.entries {
            entry
                .article
                .language_hint
                .get_or_insert_with(|| language.clone());
        }
    }
    feed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A feed entry of one line gets the language of the feed it came in; a long entry in
    /// another language keeps its own.
    #[test]
    fn short_feed_entries_take_the_feed_language() {
        let entry = |id: u32, title: &str, content: &str| {
            format!(
                "<entry><id>tag:blogger.com,1999:blog-1.post-{id}</id>\
                 <published>2023-05-0{id}T10:00:00Z</published><updated>2023-05-0{id}T10:00:00Z</updated>\
                 <title type='text'>{title}</title><content type='html'>{content}</content>\
                 <link rel='alternate' type='text/html' href='https://ejemplo.blogspot.com/2023/05/p{id}.html'/>\
                 </entry>"
            )
        };
        let spanish = "Esta mañana fuimos con mi abuelo al mercado del pueblo para comprar \
                       tomates, pimientos y un queso que según él es el mejor de toda la comarca. \
                       Después nos sentamos en la plaza a mirar cómo los niños jugaban a la pelota.";
        let english = "This morning my grandfather and I walked to the market in the village to \
                       buy tomatoes, peppers and a cheese he says is the best in the whole valley, \
                       and then we sat in the square watching the children play football for hours.";
        let xml = format!(
            "<?xml version='1.0' encoding='UTF-8'?><feed xmlns='http://www.w3.org/2005/Atom'>\
             <id>tag:blogger.com,1999:blog-1</id><title>El blog</title>{}{}{}</feed>",
            entry(1, "El mercado", spanish),
            entry(2, "Hoy", "¡Qué día!"),
            entry(3, "In English", english),
        );
        let feed = with_feed_language(blogger_feed::parse_feed(&xml).unwrap());
        let cleaned: Vec<Option<String>> = feed
            .entries
            .iter()
            .map(|e| gleaner_clean::clean(&e.article).language)
            .collect();
        assert_eq!(
            cleaned,
            [Some("es".into()), Some("es".into()), Some("en".into())],
            "the short entry takes the feed's language; long ones are detected on their own"
        );
        // Without the feed's language the short entry has none.
        let bare = blogger_feed::parse_feed(&xml).unwrap();
        assert_eq!(
            gleaner_clean::clean(&bare.entries[1].article).language,
            None
        );
    }

    #[test]
    fn problems_are_listed_up_to_a_cap() {
        let list = Mutex::new(Vec::new());
        for n in 0..MAX_LISTED_PROBLEMS + 5 {
            keep_problem(&list, &format!("https://a.example/{n}"), "HTTP 500".into());
        }
        let list = list.into_inner().unwrap();
        assert_eq!(list.len(), MAX_LISTED_PROBLEMS);
        assert_eq!(list[0].url, "https://a.example/0");
    }

    #[test]
    fn the_post_feed_on_the_blogs_own_host() {
        assert_eq!(
            same_host_post_feed_url(
                "https://hanna.blogspot.com/2024/03/a.html?m=1#more",
                "2718281828459045235"
            )
            .as_deref(),
            Some("https://hanna.blogspot.com/feeds/posts/default/2718281828459045235?alt=json")
        );
        assert_eq!(
            same_host_post_feed_url("http://127.0.0.1:8080/x.html", "12").as_deref(),
            Some("http://127.0.0.1:8080/feeds/posts/default/12?alt=json")
        );
        assert_eq!(
            same_host_post_feed_url("https://a.example/x", "1/../2"),
            None
        );
        assert_eq!(same_host_post_feed_url("https://a.example/x", ""), None);
        assert_eq!(same_host_post_feed_url("not a url", "12"), None);
    }

    #[test]
    fn a_decoded_feed_declares_utf8_so_it_is_not_decoded_twice() {
        let feed = "<?xml version=\"1.0\" encoding=\"windows-1252\"?>\n<rss version=\"2.0\"><channel>\
                    <title>Caf\u{e9} \u{20ac}</title><item><title>Cr\u{e8}me</title>\
                    <link>https://example.com/a</link></item></channel></rss>";
        // As it is, the parser decodes the (already UTF-8) bytes as windows-1252.
        let twice = gleaner_scrape::discovery::parse_generic_feed(feed.as_bytes())
            .ok()
            .and_then(|f| f.title);
        assert_ne!(twice.as_deref(), Some("Caf\u{e9} \u{20ac}"));
        let fixed = xml_declared_utf8(feed);
        assert!(
            fixed.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
            "{fixed}"
        );
        let parsed = gleaner_scrape::discovery::parse_generic_feed(fixed.as_bytes()).unwrap();
        assert_eq!(parsed.title.as_deref(), Some("Caf\u{e9} \u{20ac}"));
        assert_eq!(parsed.items[0].article.title.as_deref(), Some("Cr\u{e8}me"));
        for same in [
            "<rss/>",
            "<?xml version='1.0'?><rss/>",
            "<?xml version='1.0' encoding='utf-8'?><rss/>",
            "<?xml version='1.0' encoding='x",
            "",
        ] {
            assert_eq!(xml_declared_utf8(same), same);
        }
        assert_eq!(
            xml_declared_utf8("\u{feff} <?xml version='1.0' encoding='ISO-8859-1'?><a/>"),
            "\u{feff} <?xml version='1.0' encoding='UTF-8'?><a/>"
        );
    }
}
