//! The async pipeline of DESIGN.md, shared by `gleaner scrape` and `gleaner run`:
//!
//! ```text
//! targets ──► discover (Blogger feed pages, feeds, sitemaps) ──► jobs (bounded)
//!   ──► fair dispatch ──► fetch tasks (≤ concurrency) ──► [CPU pool] scrape ─► clean ─► tag
//!   ──► writer channel (bounded) ──► one writer thread
//! ```
//!
//! Every channel is bounded, so memory does not grow with the size of the crawl; CPU work runs
//! on the CPU pool (`cpu_pool`), never on the async workers; one thread owns the writing connection.
//!
//! What makes runs incremental and safe to kill, and why a run never passes over a post:
//!
//! - A source's listing (feed pages, sitemaps) is fetched with the validators saved by the
//!   last read of it; the source's cut-off (its newest `updated`, the next `updated-min`) is
//!   saved only after every article of the run is committed, only when the read was complete
//!   and the run was not stopped, never from a date in the future and never past the read's
//!   start (less [`CLOCK_SKEW`]). A killed or stopped run therefore leaves nothing that would
//!   make the next run skip a post it did not store.
//! - A page's validators are written after its article's transaction, never before.
//! - A page the run listed and did not store is owed, and recorded: a failed fetch gets
//!   `failures + 1` and a `next_retry_at` (1 h, 2 h, 4 h, … a week); no article text, a panic
//!   in processing, a robots.txt or content-type skip get the same with no validators
//!   ([`owed_state`]). Until its time it is left alone unless its listing says it changed
//!   after the failure; `gleaner run` queues the pages whose time has come ([`Target::Retry`]),
//!   `gleaner scrape` of a blog all of the blog's. Listing documents that fail are recorded with
//!   no `next_retry_at`: every run reads them anyway.
//! - A blog's feed is paged by time (keyset), not offset, at most [`MAX_FEED_PAGES_PER_RUN`]
//!   pages a run; a read that stops short is saved ([`Sweep`]) and taken up by the next run.
//! - A failed feed page, page or source never stops the others.

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
use gleaner_store::{AnyStore as Store, FetchState, Origin, RunCounts, UpsertOutcome};
use gleaner_tag::Tagger;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::process;

/// Posts asked for per feed page (Blogger's maximum is 150).
const FEED_PAGE_SIZE: u64 = 150;

/// After a stop request, how long a page fetch already under way may still take before it is
/// given up (nothing is recorded for it: the next run fetches the page).
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);
/// Messages (articles and fetch states) written per transaction at most.
const WRITE_BATCH: usize = 1024;
/// A run's set of post ids or URLs seen, kept as 128-bit hashes under two keys drawn for the
/// set: 16 bytes a post instead of the string (a 15,000-post read held 1.5 MB of them), and two
/// strings taken for one with a chance of about n² / 2¹²⁹ that input cannot steer.
#[derive(Default)]
struct SeenSet {
    keys: (std::hash::RandomState, std::hash::RandomState),
    seen: HashSet<u128>,
}

impl SeenSet {
    /// Add `s`; false when it was there.
    fn insert(&mut self, s: &str) -> bool {
        use std::hash::BuildHasher;
        let key = (u128::from(self.keys.0.hash_one(s)) << 64) | u128::from(self.keys.1.hash_one(s));
        self.seen.insert(key)
    }
}

/// Messages queued for the writer at most.
const WRITE_QUEUE: usize = 128;
/// How long the writer gathers what arrives before it commits (unless the batch is full).
/// Every commit writes each page it changed to the WAL again (each index's newest leaf page,
/// the full-text segment, the database header): with a commit per article or two, as when
/// the writer is faster than the pages arrive, a run wrote 25 times the database's size.
const WRITE_GATHER: std::time::Duration = std::time::Duration::from_secs(2);
/// How long the writer gathers on a store shared with other workers (PostgreSQL): a page's
/// lease ends only when its outcome is committed, and other workers wait on what this one
/// holds, so commits come often; PostgreSQL has no WAL rewrite per commit to save.
const SHARED_WRITE_GATHER: std::time::Duration = std::time::Duration::from_millis(100);
/// Pages a worker on a shared store has claimed and not yet committed, at most: what a
/// `kill -9` can cost the others (fetched again when its leases run out).
pub const MAX_UNCOMMITTED_PAGES: usize = 32;
/// Pages listed by a source this worker reads that are offered to the other workers at once.
const SHARE_BATCH: usize = 50;
/// How often the gathering writer looks for new messages.
const WRITE_POLL: std::time::Duration = std::time::Duration::from_millis(5);
/// Page cache of the pipeline's reading connection, and of the other connections of a run
/// (negative: KiB).
pub const READER_CACHE_KIB: i64 = -512;
/// Page cache of the writer's connection (negative: KiB). The store's default (32 MiB) fills
/// as the database grows, so a run's memory would grow with the crawl; the writer's inserts
/// touch the right edge of the indexes and the OS page cache holds the rest. It must still
/// hold most of the pages one transaction changes: pages that do not fit are spilled to the
/// WAL before the commit and written again when changed again (store_bench, 5,000 articles in
/// transactions of 1,000: 191 MB written with 1 MiB, 68 MB with 4 MiB, for a 44.5 MB file).
const WRITER_CACHE_KIB: i64 = -4096;
/// Feed pages of one blog read in one run at most (150 posts a page); a longer read is taken
/// up by the next run where this one stopped.
const MAX_FEED_PAGES_PER_RUN: usize = 100;
/// Listing documents (feed pages, sitemaps) read per source at most.
const MAX_LISTING_PAGES: usize = 10_000;
/// Pages of an RSS/Atom feed that list something new to the database, read in one run at
/// most: a `next` chain of new items that never ends (10,000 pages of them, and their
/// fetches, held a cron run for a day) stops there, and the next run goes on from where it
/// stopped (see [`feed_resume_key`]).
const MAX_NEW_FEED_PAGES_PER_RUN: usize = 100;
/// Sitemap indexes followed below a sitemap source (the protocol allows none; sites nest one
/// or two).
const MAX_SITEMAP_NESTING: usize = 3;
/// Failures (and, apart, skips) listed by URL at the end of a run at most; the run's counts
/// hold them all.
pub const MAX_LISTED_PROBLEMS: usize = 1000;
/// How far in the future (by the clock of this machine) a listed `updated` may be and still
/// count for a source's cut-off, and how far before the start of a read the cut-off stays:
/// clocks and time zones are off by minutes, and a post may change while its listing is read.
pub(crate) const CLOCK_SKEW: ChronoDuration = ChronoDuration::minutes(15);
/// Longest URL read from a sitemap (the protocol's limit is 2,048 characters).
const MAX_LISTED_URL_BYTES: usize = 4096;
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
    /// A blog's feed read that an earlier run left unfinished, taken up where it stopped.
    pub sweep: Option<Sweep>,
}

/// An unfinished read of a blog's feed (saved in `sources.sweep_*`).
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// The order it reads in.
    pub order: blogger_feed::FeedOrder,
    /// Where its next page starts.
    pub at: blogger_feed::FeedPosition,
    /// When it began: its cut-off never passes this (less [`CLOCK_SKEW`]).
    pub started_at: DateTime<Utc>,
    /// The newest `updated` it has seen (not in the future).
    pub newest: Option<DateTime<Utc>>,
}

impl Sweep {
    /// The `sources.sweep_cursor` text: `<order> <time or -> <offset>`.
    pub fn cursor_text(&self) -> String {
        let before = self.at.before.map_or_else(
            || "-".to_string(),
            |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
        format!("{} {before} {}", self.order.as_str(), self.at.skip)
    }

    /// Read back what [`Sweep::cursor_text`] wrote (`None` if it is not that).
    pub fn from_saved(
        cursor: &str,
        started_at: DateTime<Utc>,
        newest: Option<DateTime<Utc>>,
    ) -> Option<Sweep> {
        let mut parts = cursor.split(' ');
        let order = match parts.next()? {
            "published" => blogger_feed::FeedOrder::Published,
            "updated" => blogger_feed::FeedOrder::Updated,
            _ => return None,
        };
        let before = match parts.next()? {
            "-" => None,
            t => Some(DateTime::parse_from_rfc3339(t).ok()?.with_timezone(&Utc)),
        };
        let skip = parts.next()?.parse().ok()?;
        Some(Sweep {
            order,
            at: blogger_feed::FeedPosition { before, skip },
            started_at,
            newest,
        })
    }
}

/// What a run leaves of a blog's unfinished feed read.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum SweepEnd {
    /// Leave what is saved (a run that changed nothing about it, or was stopped).
    #[default]
    Keep,
    /// The read reached the end: nothing left to take up.
    Clear,
    /// The read stopped part-way: the next run goes on from here.
    Save(Sweep),
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

impl Target {
    /// For a source's listing (blog, feed, sitemap), the configured source's URL: what
    /// cooperating workers lease the listing by. None for a page.
    pub fn listing_source_url(&self) -> Option<&str> {
        match self {
            Target::Blog { source, .. }
            | Target::Feed { source, .. }
            | Target::Sitemap { source, .. } => Some(&source.url),
            Target::Page { .. } | Target::Retry { .. } => None,
        }
    }
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
    /// For a blog: what is left of its feed read for the next run.
    pub sweep: SweepEnd,
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
    /// CPU pool, so not counting the wait for a free thread).
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
    /// Set when the outcome of a listed page could not be handed to the writer: the run then
    /// moves no source's cut-off (the page would otherwise be passed over for good).
    lost: std::sync::atomic::AtomicBool,
    /// Keep the articles of pages answered 304 for the report (`gleaner scrape` prints them).
    list_stored: bool,
    /// Articles of pages answered 304 (only when `list_stored`).
    unchanged: Mutex<Vec<StoredItem>>,
    /// On a store shared with other workers: the pages claimed and not yet committed.
    uncommitted: Option<Arc<UncommittedPages>>,
}

/// The pages a worker on a shared store has claimed whose outcome is not committed yet: at
/// most [`MAX_UNCOMMITTED_PAGES`]. A fetch takes a slot before it claims its page; the writer
/// gives the slot back once the page's outcome (article or failure) is committed.
pub(crate) struct UncommittedPages {
    slots: Arc<tokio::sync::Semaphore>,
    held: Mutex<std::collections::HashMap<String, tokio::sync::OwnedSemaphorePermit>>,
}

impl UncommittedPages {
    fn new() -> Self {
        UncommittedPages {
            slots: Arc::new(tokio::sync::Semaphore::new(MAX_UNCOMMITTED_PAGES)),
            held: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Wait for a free slot; `None` when the run stops first.
    async fn take(&self, cancel: &CancellationToken) -> Option<tokio::sync::OwnedSemaphorePermit> {
        tokio::select! {
            permit = Arc::clone(&self.slots).acquire_owned() => permit.ok(),
            () = cancel.cancelled() => None,
        }
    }

    /// The page at `url` is claimed: its slot is held until [`UncommittedPages::committed`].
    fn hold(&self, url: &str, permit: tokio::sync::OwnedSemaphorePermit) {
        if let Ok(mut held) = self.held.lock() {
            held.insert(url.to_string(), permit);
        }
    }

    /// The outcomes of the pages at `urls` are committed (or given up): their slots are free.
    fn committed<'a>(&self, urls: impl IntoIterator<Item = &'a str>) {
        if let Ok(mut held) = self.held.lock() {
            for url in urls {
                held.remove(url);
            }
        }
    }
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

    /// Hands a fetch state to the writer; if the writer is gone the outcome is lost, and the
    /// run then moves no source's cut-off.
    async fn send_state(&self, state: FetchState) {
        if self
            .writer
            .send(WriterMsg::FetchState(state))
            .await
            .is_err()
        {
            self.lost.store(true, Ordering::Relaxed);
        }
    }

    /// A page this run could not store, remembered so a later run looks at it again: one
    /// more failure, a time to try again, and no validators (a 304 must never stand for an
    /// article that was not stored). Counted as a skip or a failure.
    async fn owe(&self, url: &str, reason: String, how: Owed) {
        let previous = self.fetch_state(url);
        let state = owed_state(previous, url, &reason, Utc::now());
        let retry_at = state.next_retry_at;
        self.send_state(state).await;
        match how {
            Owed::Failed => self.fail(url, reason),
            Owed::Skipped => {
                let when = retry_at.map_or_else(String::new, |t| {
                    format!(
                        " (looked at again from {})",
                        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    )
                });
                self.skip(url, format!("{reason}{when}"));
            }
        }
    }

    /// The id of the stored article of a page, by URL or canonical URL.
    fn stored_article_id(&self, url: &str) -> Option<i64> {
        let reader = self.reader.lock().ok()?;
        reader.stored_article_id(url).ok().flatten()
    }

    /// Resolves STOP_GRACE after a stop request: how long in-flight page fetches may still
    /// take (a fetch waiting out retries or a long Retry-After would otherwise hold a stop
    /// for minutes, past systemd's stop timeout).
    async fn stop_grace_over(&self) {
        self.cancel.cancelled().await;
        tokio::time::sleep(STOP_GRACE).await;
    }

    /// The page that followed a feed page when it was last read whole (see
    /// [`Store::listing_next`]).
    fn listing_next(&self, url: &str) -> Option<Option<String>> {
        let reader = self.reader.lock().ok()?;
        reader.listing_next(url).ok().flatten()
    }

    fn fetch_state(&self, url: &str) -> Option<FetchState> {
        let reader = self.reader.lock().ok()?;
        reader.fetch_state(url).ok().flatten()
    }

    /// Whether the database knows the page at `url`: its fetch is recorded (stored, or owed
    /// with a time to try again) or an article is stored from it (a full-content feed item
    /// has no fetch state). A lookup that fails answers no (fetching again is safe).
    fn knows_page(&self, url: &str) -> bool {
        let Ok(reader) = self.reader.lock() else {
            return false;
        };
        matches!(reader.fetch_state(url), Ok(Some(_)))
            || matches!(reader.stored_article_id(url), Ok(Some(_)))
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
        // On a shared store the fetcher takes each request's turn among all workers itself.
        let t = Instant::now();
        let out = fetcher.fetch(url, validators).await;
        stage.fetch_add(nanos(t.elapsed()), Ordering::Relaxed);
        out
    }

    /// Take a source's listing for this worker before reading it: `false` when another
    /// worker (on a shared store) reads it or has read it in this run. A failure to ask is a
    /// yes (reading twice is safe, skipping is not).
    fn claim_listing(&self, source_url: &str) -> bool {
        off_the_runtime(|| match self.reader.lock() {
            Ok(mut reader) => reader.claim_listing(source_url).unwrap_or(true),
            Err(_) => true,
        })
    }

    /// The source's listing is read (`read`), or given up by a stop (free for another).
    fn listing_done(&self, source_url: &str, read: bool) {
        if let Ok(mut reader) = self.reader.lock()
            && let Err(e) = reader.listing_done(source_url, read)
        {
            debug!(url = %source_url, "could not mark a listing read for other workers: {e}");
        }
    }

    /// Offer listed pages to the other workers (a shared store).
    fn share_pages(&self, urls: &[String]) {
        if urls.is_empty() {
            return;
        }
        off_the_runtime(|| {
            if let Ok(mut reader) = self.reader.lock()
                && let Err(e) = reader.share_pages(urls)
            {
                debug!("could not offer pages to other workers: {e}");
            }
        });
    }

    /// Take a page for this worker before fetching it: `false` when another worker (on a
    /// shared store) holds it or has recorded it in this run. A failure to ask is a yes
    /// (fetching twice is safe, skipping is not).
    fn claim_page(&self, url: &str) -> bool {
        if self.uncommitted.is_none() {
            return true;
        }
        off_the_runtime(|| match self.reader.lock() {
            Ok(mut reader) => reader.claim_page(url).unwrap_or(true),
            Err(_) => true,
        })
    }
}

/// Run a blocking database call from async code without holding up the runtime's other tasks
/// (a worker's shared-store calls: a round trip to the server each, behind the reader's
/// lock): on the multi-threaded runtime the thread's other tasks move to another thread
/// meanwhile, so their timers (the host slots they sleep until) still fire on time.
pub(crate) fn off_the_runtime<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// How a page that is owed another look is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owed {
    /// Something went wrong (no article text, a processing panic, a storing error).
    Failed,
    /// Left alone on purpose this time (robots.txt, content type).
    Skipped,
}

/// The fetch state of a page owed another look: validators dropped, `failures + 1`, a
/// `next_retry_at` (the run's retry queue, and `gleaner scrape` of its blog, bring it back).
fn owed_state(
    previous: Option<FetchState>,
    url: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> FetchState {
    let failures = previous
        .as_ref()
        .map_or(0, |s| s.failures)
        .saturating_add(1);
    FetchState {
        url: url.to_string(),
        etag: None,
        last_modified: None,
        last_status: previous.and_then(|s| s.last_status),
        failures,
        last_error: Some(reason.to_string()),
        next_retry_at: Some(next_retry(now, failures)),
        fetched_at: Some(now),
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

/// The stages CPU work on the CPU pool is charged to.
#[derive(Debug, Clone, Copy)]
enum Stage {
    /// Parsing listings (feed pages, sitemaps).
    Discover,
    /// Scrape, clean, tag.
    Process,
}

/// Run `work` on the CPU pool ([`crate::cpu_pool`], one thread a core), charging the CPU
/// time it takes there (not the wait for a free thread) to `stage`. A panic in `work` is an
/// error for the caller to record; dropping the future before the work starts skips it.
async fn on_blocking_pool<T, F>(
    counters: &Arc<Counters>,
    stage: Stage,
    work: F,
) -> Result<T, crate::cpu_pool::PoolError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let counters = Arc::clone(counters);
    crate::cpu_pool::run(move || {
        let (out, spent) = crate::process::charged(work);
        let spent = nanos(spent);
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
        let writer_store = Store::open_path(&self.db_path)
            .with_context(|| format!("opening database {}", self.db_path.display()))?;
        let file = DbFile::of(&self.db_path);
        bound_connection_memory(&writer_store, WRITER_CACHE_KIB);
        let uncommitted = writer_store
            .is_shared()
            .then(|| Arc::new(UncommittedPages::new()));
        let writer_uncommitted = uncommitted.clone();
        let reader = Store::open_path(&self.db_path)
            .with_context(|| format!("opening database {}", self.db_path.display()))?;
        // The reader only looks up fetch state by URL: a small page cache is plenty.
        bound_connection_memory(&reader, READER_CACHE_KIB);
        let (writer_tx, writer_rx) = mpsc::channel::<WriterMsg>(WRITE_QUEUE);
        let writer_counters = Arc::clone(&self.counters);
        let list_stored = self.list_stored;
        let writer = std::thread::Builder::new()
            .name("gleaner-writer".into())
            .spawn(move || {
                write_loop(
                    writer_store,
                    writer_rx,
                    &writer_counters,
                    list_stored,
                    writer_uncommitted.as_deref(),
                )
            })
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
            lost: std::sync::atomic::AtomicBool::new(false),
            list_stored: self.list_stored,
            unchanged: Mutex::new(Vec::new()),
            uncommitted,
        });

        let (jobs_tx, mut jobs_rx) = mpsc::channel::<Job>(256);
        let discover_shared = Arc::clone(&shared);
        let discover_cancel = self.cancel.clone();
        let discovery = tokio::spawn(async move {
            discover_all(&discover_shared, &jobs_tx, &discover_cancel, targets).await
        });

        // Fair dispatch: a job waits for its host's turn before it takes one of the
        // `concurrency` slots, so a slow host (a long Crawl-delay) cannot hold them all.
        // The dispatcher runs as a task on the async workers, not in the caller's `block_on`:
        // there, each of the ~3 events a job sends it (its lane freed, its task ended) woke
        // the blocked calling thread through a futex, a context switch each (a sixth of a
        // run's switches); on a worker the wake-up is a push onto the run queue.
        let lane_shared = Arc::clone(&shared);
        let work_shared = Arc::clone(&shared);
        let dispatch_cancel = self.cancel.clone();
        let concurrency = self.concurrency.max(1);
        let dispatcher = tokio::spawn(async move {
            crate::dispatch::run(
                &mut jobs_rx,
                &dispatch_cancel,
                concurrency,
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
            jobs_rx
        });
        match dispatcher.await {
            Ok(jobs_rx) => drop(jobs_rx),
            // A panic in the dispatcher goes on as it did when it ran in this task.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => anyhow::bail!("the dispatcher stopped: {e}"),
        }
        let (mut source_reads, listing_save) = discovery.await.unwrap_or_default();
        let shared = match Arc::try_unwrap(shared) {
            Ok(s) => s,
            Err(_) => anyhow::bail!("pipeline tasks still running after the join"),
        };
        let Shared {
            failed,
            skipped,
            writer: writer_tx,
            lost,
            unchanged,
            ..
        } = shared;
        drop(writer_tx);
        let written = tokio::task::spawn_blocking(move || writer.join())
            .await
            .context("joining the writer")?
            .map_err(|_| anyhow::anyhow!("the writer thread panicked"))??;

        let interrupted = self.cancel.is_cancelled();
        // Every listed page's outcome is in the database (its article, or a failure with a
        // time to try again): only then may a source's cut-off and listing validators move.
        let unrecorded = lost.into_inner() || written.unrecorded > 0;
        if unrecorded {
            warn!("some outcomes could not be recorded: no source is marked read");
            // Nothing of this run's reads is kept: each is owed to the next run.
            for read in &mut source_reads {
                read.complete = false;
            }
        }
        // The file at the path must still be the one written: a database deleted or replaced
        // during the run (a restore, a sync tool's rename) does not hold what this run stored,
        // and this run's cut-offs written into it would cover posts it does not have.
        file.check(&self.db_path)?;
        if !interrupted && !unrecorded {
            let db_path = self.db_path.clone();
            let reads = source_reads.clone();
            tokio::task::spawn_blocking(move || mark_sources_read(&db_path, &reads, &listing_save))
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
        let mut stored = written.stored;
        stored.extend(unchanged.into_inner().unwrap_or_default());
        Ok(IngestReport {
            counts,
            stored,
            sources: source_reads,
            failed: all_failed,
            skipped: skipped.into_inner().unwrap_or_default(),
            interrupted,
        })
    }
}

/// Which file a SQLite database path named when a run began (device and inode), to tell at
/// its end whether the file was deleted or replaced meanwhile. Nothing for PostgreSQL, or
/// where the file cannot be looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DbFile(Option<(u64, u64)>);

impl DbFile {
    pub(crate) fn of(db: &Path) -> Self {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if Store::path_is_postgres(db) {
                return DbFile(None);
            }
            DbFile(std::fs::metadata(db).ok().map(|m| (m.dev(), m.ino())))
        }
        #[cfg(not(unix))]
        {
            let _ = db;
            DbFile(None)
        }
    }

    /// An error when the path no longer names the file it named at [`DbFile::of`].
    pub(crate) fn check(self, db: &Path) -> Result<()> {
        if self.0.is_none() || DbFile::of(db) == self {
            return Ok(());
        }
        anyhow::bail!(
            "the database file {} was deleted or replaced during the run: what this run stored \
             is not in it (the next run reads it again)",
            db.display()
        )
    }
}

/// Keep a pipeline connection's memory fixed however large the database grows: a page cache
/// of `cache_kib` (negative: KiB) instead of the store's default, and no memory map (pages
/// read through a map count in the process's resident memory, so a run would grow with the
/// database file; `gleaner query` keeps the map, where it pays).
pub fn bound_connection_memory(store: &Store, cache_kib: i64) {
    store.bound_memory(cache_kib);
}

/// Record the sources whose listings were read completely (their cut-off), what is left of
/// each blog's unfinished feed read, and the validators and continuations of the listing
/// documents; sources read in part get only their last-run time.
fn mark_sources_read(db: &Path, reads: &[SourceRead], save: &ListingSave) -> Result<()> {
    let mut store =
        Store::open_path(db).with_context(|| format!("opening database {}", db.display()))?;
    bound_connection_memory(&store, READER_CACHE_KIB);
    for read in reads {
        let newest = if read.complete { read.newest } else { None };
        store
            .mark_source_read(read.id, newest)
            .context("recording source state")?;
        match &read.sweep {
            SweepEnd::Keep => {}
            SweepEnd::Clear => store
                .clear_source_sweep(read.id)
                .context("clearing a finished feed read")?,
            SweepEnd::Save(sweep) => store
                .save_source_sweep(
                    read.id,
                    &sweep.cursor_text(),
                    sweep.started_at,
                    sweep.newest,
                )
                .context("saving an unfinished feed read")?,
        }
    }
    for state in &save.states {
        store
            .record_fetch(state)
            .context("recording listing validators")?;
    }
    for (url, next) in &save.next {
        store
            .record_listing_next(url, next.as_deref())
            .context("recording the page after a feed page")?;
    }
    let kept: HashSet<&str> = save.states.iter().map(|s| s.url.as_str()).collect();
    for prefix in reads
        .iter()
        .filter(|r| r.complete)
        .filter_map(|r| r.feed_prefix.as_deref())
    {
        let stale = store
            .listing_pages_under(prefix)
            .context("finding old feed pages")?;
        for url in stale.iter().filter(|u| !kept.contains(u.as_str())) {
            store
                .forget_listing_page(url)
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
/// Returns each source's read state and the listing documents whose validators may be
/// saved: those of sources read completely, and every feed page of a blog (a blog's feed
/// pages are read again through their saved continuations, never skipped on a 304 alone).
async fn discover_all(
    shared: &Shared,
    jobs: &mpsc::Sender<Job>,
    cancel: &CancellationToken,
    targets: Vec<Target>,
) -> (Vec<SourceRead>, ListingSave) {
    let retry_pending: Mutex<HashSet<String>> = Mutex::new(
        targets
            .iter()
            .filter_map(|t| match t {
                Target::Retry { url, .. } => Some(url.clone()),
                _ => None,
            })
            .collect(),
    );
    // Pages queued for a fetch in this run, by any source: a page that a site's feed and
    // its sitemap both list was fetched once per source.
    let queued: Mutex<SeenSet> = Mutex::default();
    let (retries, sources): (Vec<Target>, Vec<Target>) = targets
        .into_iter()
        .partition(|t| matches!(t, Target::Retry { .. }));
    let one = |target: Target| {
        let (retry_pending, queued) = (&retry_pending, &queued);
        async move {
            if cancel.is_cancelled() {
                return (None, ListingSave::default(), true);
            }
            let mut d = Discovery {
                shared,
                jobs,
                cancel,
                retry_pending,
                queued,
                listing_states: Vec::new(),
                listing_next: Vec::new(),
                to_share: Vec::new(),
                optional: HashSet::new(),
            };
            let (read, ok) = d.target(target).await;
            let listing = ListingSave {
                states: d.listing_states,
                next: d.listing_next,
            };
            (read, listing, ok)
        }
    };
    let mut reads = Vec::new();
    let mut save = ListingSave::default();
    let mut sources = futures_util::stream::iter(sources)
        .map(one)
        .buffer_unordered(DISCOVERY_CONCURRENCY);
    let mut open = true;
    while let Some((read, listing, ok)) = sources.next().await {
        if let Some(read) = read {
            if read.complete || read.feed_prefix.is_some() {
                save.states.extend(listing.states);
                save.next.extend(listing.next);
            } else {
                // A feed read stopped at its page cap: where to go on from (nothing else).
                save.next.extend(
                    listing
                        .next
                        .into_iter()
                        .filter(|(key, _)| key.ends_with(FEED_RESUME_SUFFIX)),
                );
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
    (reads, save)
}

/// Listing documents to record after the run: their validators, and for a blog's feed pages
/// the page that followed each.
#[derive(Debug, Default)]
struct ListingSave {
    states: Vec<FetchState>,
    next: Vec<(String, Option<String>)>,
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
    /// Pages queued for a fetch in this run (shared by every source): each is fetched once.
    queued: &'a Mutex<SeenSet>,
    /// Validators of the listing documents of the source being read (saved only if it is
    /// read completely, or is a blog).
    listing_states: Vec<FetchState>,
    /// For a blog's feed pages read whole: the page after each (`None`: the last).
    listing_next: Vec<(String, Option<String>)>,
    /// Listed pages not yet offered to the other workers (a shared store).
    to_share: Vec<String>,
    /// Listing documents the source can do without: the sitemaps its robots.txt names. One
    /// that answers 404 or 410 (a stale `Sitemap:` line) is [`Listing::Gone`], said and
    /// not owed (it made every run of the source `partial`).
    optional: HashSet<String>,
}

/// What fetching one listing document (feed page, sitemap) came to.
enum Listing {
    Page(gleaner_fetch::FetchedPage),
    NotModified,
    /// Not read; `answered`: the server answered with an HTTP status (it is up).
    Failed {
        answered: bool,
    },
    /// Not asked for: robots.txt disallows it (recorded as a skip).
    Disallowed,
    /// One of the source's [`Discovery::optional`] documents answered 404 or 410: not
    /// there, and nothing is owed for it.
    Gone,
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
                if is_feed_item_address(&url) {
                    // A post its feed gave, under an address of its own ([`item_address`]):
                    // fetching that address would get the shared page, not the post. Only
                    // its feed can give it again (it does when it lists it with a later date).
                    self.shared
                        .owe(
                            &url,
                            "a post its feed gave under an address of its own: only the feed \
                             can give it again"
                                .into(),
                            Owed::Skipped,
                        )
                        .await;
                    return (None, true);
                }
                debug!(url = %url, "retrying a page that failed on an earlier run");
                let ok = self.send_fetch(url, source, None).await;
                (None, ok)
            }
            listing @ (Target::Blog { .. } | Target::Feed { .. } | Target::Sitemap { .. }) => {
                self.leased_listing(listing).await
            }
        }
    }

    /// A source's listing, read by one worker of those sharing a store: the one that claims
    /// it (`listing:<source URL>`); the others leave it and take the pages it offers them
    /// (ingest's takeover loop). On SQLite the one process always reads it.
    async fn leased_listing(&mut self, target: Target) -> (Option<SourceRead>, bool) {
        let Some(source_url) = target.listing_source_url().map(str::to_owned) else {
            return (None, true);
        };
        if !self.shared.claim_listing(&source_url) {
            // Said at info, not debug: a `gleaner scrape BLOG_URL` on PostgreSQL that meets a
            // `run` worker reading that blog stores nothing itself, and must say why.
            info!(
                url = %source_url,
                "another worker is reading this source's listing; its pages are left to the workers"
            );
            return (None, true);
        }
        let (read, ok) = match target {
            Target::Blog {
                home,
                source,
                updated_min,
            } => self.blog(&home, source, updated_min).await,
            Target::Feed { url, source } => self.feed(&url, source).await,
            Target::Sitemap { url, source } => self.sitemap(&url, Vec::new(), source).await,
            Target::Page { .. } | Target::Retry { .. } => (None, true),
        };
        self.flush_shared();
        self.shared
            .listing_done(&source_url, ok && !self.cancel.is_cancelled());
        (read, ok)
    }

    /// Offer a listed page to the other workers (in batches of [`SHARE_BATCH`]).
    fn share_later(&mut self, url: &str) {
        if self.shared.uncommitted.is_none() {
            return;
        }
        self.to_share.push(url.to_string());
        if self.to_share.len() >= SHARE_BATCH {
            self.flush_shared();
        }
    }

    fn flush_shared(&mut self) {
        let urls = std::mem::take(&mut self.to_share);
        self.shared.share_pages(&urls);
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
        let first = self
            .queued
            .lock()
            .map_or(true, |mut queued| queued.insert(&url));
        if !first {
            return true;
        }
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
        Self::note_updated(read, listed.updated);
        if listed.url.trim().is_empty() {
            // An entry with an id but no link to a page (a post without a permalink): there
            // is no address to fetch or store it under. Said on every run it is listed (main
            // failed it under the empty address once, then said ok for good).
            let post = listed.article.blogger_post_id.as_deref().unwrap_or("?");
            self.shared.skip(
                &format!("{} (post {post})", source.url),
                "the feed lists this entry with no link to its page: nothing to store it under"
                    .into(),
            );
            return true;
        }
        // (A whole post the feed carries needs no fetch: it is stored under its link as is.)
        if !listed.full_content
            && let Some(problem) = not_a_web_page(&listed.url)
        {
            self.shared.skip(&listed.url, problem);
            return true;
        }
        // A whole post owed from an earlier run (its store failed) is given again by its
        // feed whatever its date: passed over, it was left to a retry that fetches its
        // address (for a post under an address of its own, the wrong page).
        let owed = listed.full_content && self.listed_for_retry(&listed.url);
        if !owed && self.seen_before(source, &listed.url, listed.updated) {
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
            self.share_later(&listed.url);
            self.send_fetch(listed.url, Some(source.clone()), listed.updated)
                .await
        }
    }

    /// Counts a listed item's `updated` towards the source's cut-off, unless it lies in the
    /// future: one item dated 2099 (a wrong year or time zone) must not hide every later post.
    fn note_updated(read: &mut SourceRead, updated: Option<DateTime<Utc>>) {
        if let Some(u) = updated.filter(|u| *u <= Utc::now() + CLOCK_SKEW) {
            read.newest = Some(read.newest.map_or(u, |n| n.max(u)));
        }
    }

    /// Whether a listed item is one the source gave before and is left alone: dated before
    /// the source's cut-off *and* known to the database (its article stored, or its page
    /// recorded). A date alone does not make an item seen: a post backdated by its author, a
    /// page added to a sitemap with its first publication date, or a feed that gives the
    /// time a draft was begun lists a new post under an old date.
    fn seen_before(&self, source: &SourceRef, url: &str, updated: Option<DateTime<Utc>>) -> bool {
        let old = matches!((source.last_seen, updated), (Some(seen), Some(u)) if u < seen);
        let seen = old && self.shared.knows_page(url);
        if seen {
            self.shared
                .counters
                .listed_unchanged
                .fetch_add(1, Ordering::Relaxed);
        }
        seen
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
                return Listing::Failed { answered: false };
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
                let disallowed = reason.starts_with(gleaner_fetch::ROBOTS_DISALLOWED);
                self.shared.skip(&skipped, reason);
                if disallowed {
                    Listing::Disallowed
                } else {
                    Listing::Failed { answered: false }
                }
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
                if let Some(status @ (404 | 410)) = status_of(&e)
                    && self.optional.contains(url)
                {
                    warn!(
                        url = %url,
                        status,
                        "a sitemap named by robots.txt is not there: passed over (a stale Sitemap: line)"
                    );
                    return Listing::Gone;
                }
                let answered = status_of(&e).is_some();
                self.shared.fail(url, format!("reading the listing: {e}"));
                Listing::Failed { answered }
            }
        }
    }

    /// A Blogger blog, newest first, page by page by time (keyset paging, see
    /// [`blogger_feed::FeedPosition`]): a post deleted or published while the blog is read
    /// shifts no page, so none is missed. The read ends at an empty page, or at a page short
    /// of what was asked with no `next` link; never on the feed's own claim of how many posts
    /// it has. At most [`MAX_FEED_PAGES_PER_RUN`] pages are read in a run: a longer read, or
    /// one stopped by a page that cannot be read, is saved and taken up by the next run where
    /// it stopped (and the run says it owes something), after that run has read the top of
    /// the feed down to where the saved read began, so new posts never wait on an old hole.
    /// A page that fails or cannot be parsed is stepped past by offset (once the feed's
    /// server has answered at all), even as the first page of a run. A page answered 304 goes on to the
    /// page that followed it when it was last read whole, and to nothing else.
    async fn blog(
        &mut self,
        home: &str,
        source: SourceRef,
        updated_min: Option<DateTime<Utc>>,
    ) -> (Option<SourceRead>, bool) {
        use blogger_feed::{FeedOrder, FeedPosition};
        let order = if updated_min.is_some() {
            FeedOrder::Updated
        } else {
            FeedOrder::Published
        };
        let first_page =
            blogger_feed::keyset_feed_url(home, order, None, FeedPosition::default(), 1);
        let resumed = source.sweep.clone().filter(|s| s.order == order);
        if let Some(sweep) = &resumed {
            debug!(home, cursor = %sweep.cursor_text(), "taking up an unfinished feed read");
        }
        let started = resumed.as_ref().map_or_else(Utc::now, |s| s.started_at);
        let mut read = SourceRead {
            id: source.id,
            complete: true,
            newest: resumed.as_ref().and_then(|s| s.newest),
            feed_prefix: first_page
                .find('?')
                .and_then(|q| first_page.get(..=q))
                .map(str::to_string),
            sweep: SweepEnd::Keep,
        };
        // An unfinished read is taken up only after the top of the feed has been read down
        // to where that read began (posts listed since then), so a page that keeps failing
        // further down never stops new posts from coming in.
        // (An unfinished read that stopped at the top itself is just read from the top.)
        let mut pending: Option<FeedPosition> = resumed
            .as_ref()
            .map(|s| s.at)
            .filter(|p| *p != FeedPosition::default());
        let top_until = started - CLOCK_SKEW;
        let mut at = FeedPosition::default();
        // Where the next run goes on when this one stops short: the first page that could not
        // be read, else the page after the last one read. Never set while reading the top
        // (the next run reads the top again whole).
        let mut hole: Option<FeedPosition> = None;
        // Posts listed in this run (post id, else URL): a page that repeats posts, as the
        // page after a second shared by several posts does, offers each once.
        let mut listed = SeenSet::default();
        let mut failed_in_a_row = 0;
        // The feed's server answered in this run (with a page or an HTTP error status).
        let mut answered = false;
        // Full pages in a row that brought no post not already listed.
        let mut stalled = 0;
        let mut saved_next: Option<String> = None;
        let mut pages = 0;
        let mut ended = false;
        // This stretch of the feed can be read no further: after the top, take up the
        // unfinished read; else stop.
        macro_rules! stop_stretch {
            () => {
                if let Some(resume) = pending.take() {
                    at = resume;
                    failed_in_a_row = 0;
                    stalled = 0;
                    continue;
                }
                break;
            };
        }
        while pages < MAX_FEED_PAGES_PER_RUN {
            if self.cancel.is_cancelled() {
                read.complete = false;
                return (Some(read), true);
            }
            pages += 1;
            let mut feed_url = saved_next.take().unwrap_or_else(|| {
                blogger_feed::keyset_feed_url(home, order, updated_min, at, FEED_PAGE_SIZE)
            });
            if let Some((_, position)) = blogger_feed::keyset_position(&feed_url) {
                at = position;
            }
            if pending.is_some() && at.before.is_some_and(|b| b <= top_until) {
                // The top is read down to where the unfinished read began: take it up.
                if let Some(resume) = pending.take() {
                    at = resume;
                    failed_in_a_row = 0;
                    stalled = 0;
                    feed_url =
                        blogger_feed::keyset_feed_url(home, order, updated_min, at, FEED_PAGE_SIZE);
                }
            }
            debug!(url = %feed_url, "reading feed page");
            let mut fetched = self.listing(&source, &feed_url, true).await;
            if matches!(fetched, Listing::NotModified) {
                // Unchanged since it was last read whole: its posts were handled then. Go on
                // to the page that followed it; if that is not known, read it whole.
                match self.shared.listing_next(&feed_url) {
                    Some(Some(next)) if blogger_feed::keyset_position(&next).is_some() => {
                        saved_next = Some(next);
                        continue;
                    }
                    Some(None) => {
                        if pending.is_none() {
                            ended = true;
                        }
                        stop_stretch!();
                    }
                    _ => fetched = self.listing(&source, &feed_url, false).await,
                }
            }
            let page = match fetched {
                Listing::Page(page) => page,
                Listing::NotModified => {
                    // A 304 to a request without validators: nothing to read.
                    read.complete = false;
                    if pending.is_none() {
                        hole.get_or_insert(at);
                    }
                    stop_stretch!();
                }
                Listing::Disallowed if pages == 1 => {
                    // The blog's robots.txt keeps crawlers out of its feed (a custom robots.txt
                    // with `Disallow: /feeds/`): its posts are read through its sitemap
                    // instead, which Blogger keeps of every blog, page by page, as robots.txt
                    // allows.
                    let Some(sitemap) = url::Url::parse(home)
                        .and_then(|h| h.join("/sitemap.xml"))
                        .ok()
                        .map(String::from)
                    else {
                        read.complete = false;
                        break;
                    };
                    // And the sitemaps robots.txt names (`Sitemap:` lines) on the blog's host.
                    let named = self
                        .shared
                        .fetcher_for(Some(&source))
                        .robots_sitemaps(home)
                        .await;
                    let also: Vec<String> = named.into_iter().filter(|s| *s != sitemap).collect();
                    warn!(
                        home,
                        sitemap = %sitemap,
                        also = ?also,
                        "robots.txt disallows the blog's feed: reading the blog through its sitemap"
                    );
                    return self.sitemap(&sitemap, also, source).await;
                }
                // (`Gone` is never answered for a feed page: it is not optional.)
                Listing::Disallowed | Listing::Gone => {
                    read.complete = false;
                    if pending.is_none() {
                        hole.get_or_insert(at);
                    }
                    stop_stretch!();
                }
                Listing::Failed { answered: up } => {
                    if self.cancel.is_cancelled() {
                        read.complete = false;
                        return (Some(read), true);
                    }
                    // Remembered as the place to go on from, and read past (by offset
                    // under the same time), even when it is the first page asked for in
                    // this run, so one bad page hides nothing else. A feed that never
                    // answered (the host is down) is not read past.
                    read.complete = false;
                    if pending.is_none() {
                        hole.get_or_insert(at);
                    }
                    failed_in_a_row += 1;
                    answered |= up;
                    if !answered || failed_in_a_row >= 3 {
                        stop_stretch!();
                    }
                    at.skip = at.skip.saturating_add(FEED_PAGE_SIZE);
                    continue;
                }
            };
            answered = true;
            let body = page.body;
            let parsed = on_blocking_pool(&self.shared.counters, Stage::Discover, move || {
                blogger_feed::parse_feed(&body).map(with_feed_language)
            })
            .await;
            let problem = match parsed {
                Ok(Ok(feed)) => Ok(feed),
                Ok(Err(e)) => Err(format!("reading the blog feed: {e}")),
                Err(e) => Err(format!("feed parser task: {e}")),
            };
            let feed = match problem {
                Ok(feed) => feed,
                Err(problem) => {
                    // Like a page that failed: remembered, and stepped past by offset. Its
                    // validators are not saved: next to the continuation of an older read
                    // they would let a later 304 skip this page as if it had been read.
                    self.listing_states.retain(|s| s.url != feed_url);
                    self.shared.fail(&feed_url, problem);
                    read.complete = false;
                    if pending.is_none() {
                        hole.get_or_insert(at);
                    }
                    failed_in_a_row += 1;
                    if failed_in_a_row >= 3 {
                        stop_stretch!();
                    }
                    at.skip = at.skip.saturating_add(FEED_PAGE_SIZE);
                    continue;
                }
            };
            failed_in_a_row = 0;
            let count = feed.entries.len() as u64;
            let has_next = feed.next.is_some();
            let mut oldest: Option<DateTime<Utc>> = None;
            let mut undated = false;
            let mut new = 0u64;
            for entry in feed.entries {
                let key = match order {
                    FeedOrder::Published => entry.article.published_at,
                    FeedOrder::Updated => entry.updated_at,
                }
                .map(|t| t.with_timezone(&Utc));
                match key {
                    Some(k) => oldest = Some(oldest.map_or(k, |o| o.min(k))),
                    None => undated = true,
                }
                let id = entry
                    .article
                    .blogger_post_id
                    .as_deref()
                    .unwrap_or(&entry.url);
                if !listed.insert(id) {
                    continue;
                }
                new += 1;
                let updated = entry.updated_at.map(|t| t.with_timezone(&Utc));
                let item = Listed {
                    url: entry.url,
                    updated,
                    full_content: entry.full_content,
                    article: entry.article,
                };
                if !self.offer(&source, &mut read, item).await {
                    return (None, false);
                }
            }
            if count == 0 || (!has_next && count < FEED_PAGE_SIZE) {
                self.listing_next.push((feed_url, None));
                if pending.is_none() {
                    ended = true;
                }
                stop_stretch!();
            }
            if new == 0 {
                // Nothing new on a full page: every post on it shares the second the page
                // starts from (step over them by offset once), or the feed ignores the
                // position asked for and repeats itself (stop: it cannot be read further).
                stalled += 1;
                if stalled >= 2 || at.before.is_none() {
                    self.shared.fail(
                        &feed_url,
                        "the blog feed repeats posts already read: paging stopped".into(),
                    );
                    read.complete = false;
                    if pending.is_none() {
                        hole.get_or_insert(at);
                    }
                    stop_stretch!();
                }
                at.skip = at.skip.saturating_add(count);
            } else {
                stalled = 0;
                let next_before = oldest.map(|o| {
                    let second = o.timestamp();
                    DateTime::from_timestamp(second, 0).unwrap_or(o) + ChronoDuration::seconds(1)
                });
                if undated || next_before.is_none() || next_before == at.before {
                    at.skip = at.skip.saturating_add(count);
                } else {
                    at = FeedPosition {
                        before: next_before,
                        skip: 0,
                    };
                }
            }
            let next_url =
                blogger_feed::keyset_feed_url(home, order, updated_min, at, FEED_PAGE_SIZE);
            self.listing_next.push((feed_url, Some(next_url)));
        }
        // A post scheduled ahead goes live with the `updated` of its last edit, from before
        // the cut-off: the updated-min read never lists it. The posts published since the
        // cut-off are asked for as well (one page, newest first; 304 when none is new).
        if let Some(since) = updated_min
            && !self.cancel.is_cancelled()
            && !self
                .published_since(home, &source, &mut read, &mut listed, since)
                .await
        {
            return (None, false);
        }
        if !ended {
            read.complete = false;
            if hole.is_none() {
                warn!(
                    home,
                    pages = MAX_FEED_PAGES_PER_RUN,
                    "the blog's feed has more pages than are read in one run"
                );
            }
        }
        if read.complete {
            read.newest = read.newest.map(|n| n.min(started - CLOCK_SKEW));
            read.sweep = SweepEnd::Clear;
        } else {
            read.sweep = SweepEnd::Save(Sweep {
                order,
                at: hole.or(pending).unwrap_or(at),
                started_at: started,
                newest: read.newest,
            });
        }
        (Some(read), true)
    }

    /// Offer the posts of a blog published since `since` that this read has not listed
    /// (feed pages by publication time, newest first, down by time as the main read goes): a
    /// scheduled post, live now but last updated before the cut-off. Every page is read, not
    /// only the first: after a week without a run, or on a busy blog, more than a page of
    /// posts is published since the cut-off, and a scheduled one may be on any of them. A
    /// page that cannot be read leaves the read incomplete, so the cut-off stays where it
    /// was. False when the pipeline stopped taking jobs.
    async fn published_since(
        &mut self,
        home: &str,
        source: &SourceRef,
        read: &mut SourceRead,
        listed: &mut SeenSet,
        since: DateTime<Utc>,
    ) -> bool {
        use blogger_feed::{FeedOrder, FeedPosition};
        let mut at = FeedPosition::default();
        // Posts this read listed, and full pages in a row that listed none it had not (a
        // server that ignores the position asked for).
        let mut here = SeenSet::default();
        let mut stalled = 0;
        for _ in 0..MAX_FEED_PAGES_PER_RUN {
            if self.cancel.is_cancelled() {
                read.complete = false;
                return true;
            }
            let url = format!(
                "{}&published-min={}",
                blogger_feed::keyset_feed_url(home, FeedOrder::Published, None, at, FEED_PAGE_SIZE),
                since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            let page = match self.listing(source, &url, true).await {
                Listing::Page(page) => page,
                // Unchanged since it was last read: its posts were offered then, and the
                // pages after it are the same.
                Listing::NotModified => return true,
                Listing::Failed { .. } | Listing::Disallowed | Listing::Gone => {
                    read.complete = false;
                    return true;
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
                    self.listing_states.retain(|s| s.url != url);
                    self.shared
                        .fail(&url, format!("reading the blog feed: {e}"));
                    read.complete = false;
                    return true;
                }
                Err(e) => {
                    self.listing_states.retain(|s| s.url != url);
                    self.shared.fail(&url, format!("feed parser task: {e}"));
                    read.complete = false;
                    return true;
                }
            };
            let count = feed.entries.len() as u64;
            let has_next = feed.next.is_some();
            let mut oldest: Option<DateTime<Utc>> = None;
            let mut new = 0;
            for entry in feed.entries {
                if let Some(p) = entry.article.published_at {
                    let p = p.with_timezone(&Utc);
                    oldest = Some(oldest.map_or(p, |o| o.min(p)));
                }
                let id = entry
                    .article
                    .blogger_post_id
                    .as_deref()
                    .unwrap_or(&entry.url);
                if here.insert(id) {
                    new += 1;
                }
                if !listed.insert(id) {
                    continue;
                }
                let item = Listed {
                    url: entry.url,
                    updated: entry.updated_at.map(|t| t.with_timezone(&Utc)),
                    full_content: entry.full_content,
                    article: entry.article,
                };
                if !self.offer(source, read, item).await {
                    return false;
                }
            }
            // The end, or a page reaching past `since` (a server that ignores
            // `published-min` would otherwise be read whole on every run).
            if count == 0
                || (!has_next && count < FEED_PAGE_SIZE)
                || oldest.is_some_and(|o| o < since)
            {
                return true;
            }
            stalled = if new == 0 { stalled + 1 } else { 0 };
            if stalled >= 2 {
                self.shared.fail(
                    &url,
                    "the blog feed repeats posts already read: paging stopped".into(),
                );
                read.complete = false;
                return true;
            }
            // The next page: the posts before the second after this page's oldest (those
            // sharing that second come again and are dropped above); by offset when the
            // page gives no usable time or the time did not move.
            let next_before = oldest.map(|o| {
                DateTime::from_timestamp(o.timestamp(), 0).unwrap_or(o) + ChronoDuration::seconds(1)
            });
            if next_before.is_none() || next_before == at.before {
                at.skip = at.skip.saturating_add(count);
            } else {
                at = FeedPosition {
                    before: next_before,
                    skip: 0,
                };
            }
        }
        // More pages of posts published since the cut-off than a run reads: the cut-off
        // stays, and the next run reads them again.
        read.complete = false;
        true
    }

    /// An RSS, Atom or JSON Feed source, following `rel=next` pages.
    async fn feed(&mut self, url: &str, source: SourceRef) -> (Option<SourceRead>, bool) {
        // Where a read stopped at MAX_NEW_FEED_PAGES_PER_RUN left off: taken up once the
        // read reaches a page that lists nothing new to the database.
        let resume_key = feed_resume_key(url);
        let mut resume = self.shared.listing_next(&resume_key).flatten();
        let had_resume = resume.is_some();
        let mut new_pages = 0usize;
        let mut read = SourceRead {
            id: source.id,
            complete: true,
            newest: None,
            feed_prefix: None,
            sweep: SweepEnd::Keep,
        };
        let started = Utc::now();
        let mut next = Some(url.to_string());
        let mut visited = HashSet::new();
        // Items listed in this read: a page that lists none not already listed (or none at
        // all) ends it, so a `next` link that always leads on (a server that ignores the page
        // asked for, empty pages that link another) costs a page or two, not thousands.
        let mut listed_here: HashSet<String> = HashSet::new();
        // Each listed page's first item (its id and text), to tell a page listed twice from
        // other posts listed under its link (a feed whose every item links the home page).
        let mut first_item: std::collections::HashMap<String, ItemMark> =
            std::collections::HashMap::new();
        while let Some(page_url) = next.take() {
            if self.cancel.is_cancelled() {
                read.complete = false;
                break;
            }
            if visited.contains(&page_url) {
                break;
            }
            if visited.len() >= MAX_LISTING_PAGES {
                warn!(url = %url, limit = MAX_LISTING_PAGES, "the feed has more pages than are read in one run");
                read.complete = false;
                break;
            }
            visited.insert(page_url.clone());
            let page = match self.listing(&source, &page_url, true).await {
                Listing::Page(page) => page,
                Listing::NotModified => break,
                Listing::Failed { .. } | Listing::Disallowed | Listing::Gone => {
                    read.complete = false;
                    break;
                }
            };
            let body = page.body;
            let parsed = on_blocking_pool(&self.shared.counters, Stage::Discover, move || {
                gleaner_scrape::discovery::parse_generic_feed(xml_declared_utf8(&body).as_bytes())
                    .map_err(|e| (e, gleaner_scrape::discovery::feed_links_in_html(&body)))
            })
            .await;
            let feed = match parsed {
                Ok(Ok(feed)) => feed,
                Ok(Err((e, links))) => {
                    // An HTML page where the feed was (a site that moved its feed, a home page
                    // configured as a feed): the feed it names is read instead, as a feed
                    // reader does, and the run says so.
                    let linked = links.first().and_then(|l| {
                        url::Url::parse(&page_url)
                            .and_then(|base| base.join(l))
                            .ok()
                            .map(String::from)
                    });
                    if let Some(linked) = linked.filter(|l| !visited.contains(l)) {
                        // The page's validators would let a 304 end the next read before the
                        // feed it names is asked for.
                        self.listing_states.retain(|s| s.url != page_url);
                        warn!(url = %page_url, feed = %linked, "the feed's address answers an HTML page: reading the feed it names (configure that address instead)");
                        next = Some(linked);
                        continue;
                    }
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
            if feed.damaged {
                warn!(url = %page_url, "the feed is not well-formed XML: read entry by entry");
            }
            let mut new = 0usize;
            // Items the database did not know before this read (not stored, not owed).
            let mut unknown = 0usize;
            // Items with text of their own listed under another item's link and id.
            let mut under_another = 0usize;
            // Links this page lists for several posts told apart by their ids: each of those
            // posts is its own row, under an address of its own ([`item_address`]).
            let shared_links = links_shared_by_posts(&page_url, &feed.items);
            let own_ids = ids_of_one_item(&feed.items);
            for item in feed.items {
                let updated = item
                    .article
                    .updated_at
                    .or(item.article.published_at)
                    .map(|t| t.with_timezone(&Utc));
                // An item with text but no link of its own is addressed within the feed: one
                // with no link and its whole text or a description, and one whose link is no
                // web page's address (`javascript:void(0)`, `mailto:`) with its whole text
                // (stored under that link, every such item was one row, the last one; with a
                // summary only it is skipped, said, as before).
                let listed = (!item.url.trim().is_empty())
                    .then(|| listed_address(&page_url, &item.url))
                    .flatten()
                    .map(|link| permalink_of(&page_url, link, item.id.as_deref(), &own_ids));
                let linkless = match listed.as_deref() {
                    None => item.full_content || item.summary.is_some(),
                    Some(l) => item.full_content && not_a_web_page(l).is_some(),
                };
                let link = if linkless {
                    // Addressed within the feed, not the page it is on: a post published on
                    // top moves items to the next page, and each moved post was stored again.
                    Some(url.to_string())
                } else {
                    listed
                };
                let Some(link) = link else {
                    continue;
                };
                // One page listed twice (again, or under a tracking or mobile variant of
                // its address, or with a fragment) is offered once, under the first.
                let link_key = gleaner_scrape::listed_page_key(&link);
                let mark = ItemMark::of(&item);
                // A post under a link another post of the feed lists (on this page, or on
                // one read before: then its first item keeps the link) has an address of
                // its own, so no post is lost to another's row.
                let own_address = linkless
                    || shared_links.contains(&link_key)
                    // A link to the site's home page or a listing is no post's own page (a
                    // CMS that fills `<link>` with the site's address, read while it listed
                    // one post: stored under the home page, then again under its own
                    // address once a second post shared the link).
                    || url::Url::parse(&link).is_ok_and(|u| is_listing(&u))
                    || first_item
                        .get(&link_key)
                        .is_some_and(|first| first.other_post(&mark));
                let (item_url, key) = if own_address {
                    // An item with neither an id nor a title (RSS asks for a title or a
                    // description only) is told apart by its text: made from the empty title,
                    // every such item had one address, and only the first was stored.
                    let id = item.id.as_deref().filter(|i| !i.trim().is_empty());
                    let by_text;
                    let name = if id.is_none() && mark.title.trim().is_empty() {
                        by_text = format!("text {:016x}", mark.text);
                        by_text.as_str()
                    } else {
                        mark.title.as_str()
                    };
                    let address = item_address(&link, id, name);
                    (address.clone(), address)
                } else {
                    (link.clone(), link_key.clone())
                };
                if !listed_here.insert(key.clone()) {
                    if first_item
                        .get(&key)
                        .is_some_and(|first| first.text != mark.text)
                    {
                        under_another += 1;
                    }
                    continue;
                }
                first_item.entry(link_key).or_insert(mark);
                if own_address && !first_item.contains_key(&key) {
                    first_item.insert(key.clone(), ItemMark::of(&item));
                }
                let mut article = item.article;
                let mut full_content = item.full_content;
                if own_address {
                    // The link is not this post's page (it is every post's): the post is
                    // what the feed gives of it, stored under its own address.
                    if !full_content {
                        article.blocks = item
                            .summary
                            .iter()
                            .map(|s| gleaner_model::TextBlock::paragraph(s.clone()))
                            .collect();
                        full_content = !article.blocks.is_empty();
                    }
                    let no_text = article.blocks.iter().all(|b| b.text.trim().is_empty());
                    if !full_content || no_text {
                        self.shared.skip(
                            &item_url,
                            "the feed gives this post no link of its own and no text of it: \
                             nothing to store"
                                .into(),
                        );
                        continue;
                    }
                    article.url.clone_from(&item_url);
                    article.canonical_url = None;
                } else if article.url.is_empty() || article.url == item.url {
                    article.url.clone_from(&item_url);
                }
                new += 1;
                if !self.shared.knows_page(&item_url) {
                    unknown += 1;
                }
                let listed = Listed {
                    url: item_url,
                    updated,
                    full_content,
                    article,
                };
                if !self.offer(&source, &mut read, listed).await {
                    return (None, false);
                }
            }
            if under_another > 0 {
                warn!(
                    url = %page_url,
                    items = under_another,
                    "feed items with text of their own repeat another item's link and id: \
                     taken for one post, only the first is stored (the feed should give each \
                     post its own id)"
                );
            }
            let following = feed.next.and_then(|n| {
                url::Url::parse(&page_url)
                    .and_then(|base| base.join(&n))
                    .ok()
                    .map(String::from)
            });
            if unknown == 0
                && let Some(at) = resume.take().filter(|r| !visited.contains(r))
            {
                // The top of the feed is read down to what the database knows: on from where
                // the last read stopped.
                debug!(url = %url, resume = %at, "going on from where the last read stopped");
                next = Some(at);
                continue;
            }
            if new == 0 {
                if following.is_some() {
                    debug!(url = %page_url, "feed page lists nothing new: not following its next link");
                }
                break;
            }
            if unknown > 0 {
                new_pages += 1;
            }
            if new_pages >= MAX_NEW_FEED_PAGES_PER_RUN
                && let Some(at) = following.as_ref().filter(|n| !visited.contains(*n))
            {
                warn!(
                    url = %url,
                    pages = new_pages,
                    "the feed lists more new pages than are read in one run: the next run goes on from here"
                );
                self.listing_next.push((resume_key, Some(at.clone())));
                read.complete = false;
                return (Some(read), true);
            }
            if following.is_none() && had_resume && resume.is_none() {
                // The feed read to its end from where the last read stopped: nothing is left
                // to go on from.
                self.listing_next.push((resume_key.clone(), None));
            }
            next = following;
        }
        if resume.is_some() {
            // Stopped (a 304, a failure, a repeated page) before the saved place was reached:
            // it is owed to the next run.
            read.complete = false;
        }
        cap_newest(&mut read, started);
        (Some(read), true)
    }

    /// A sitemap source: a `<urlset>`, or an index whose sitemaps are read in turn. The
    /// source's own URL is always fetched whole (an index answered with 304 would hide its
    /// children, which change on their own); child sitemaps are fetched conditionally.
    /// `also`: more sitemaps of the source, read like the ones an index names.
    async fn sitemap(
        &mut self,
        url: &str,
        also: Vec<String>,
        source: SourceRef,
    ) -> (Option<SourceRead>, bool) {
        let mut read = SourceRead {
            id: source.id,
            complete: true,
            newest: None,
            feed_prefix: None,
            sweep: SweepEnd::Keep,
        };
        let started = Utc::now();
        // Every sitemap URL queued or read, at most MAX_LISTING_PAGES: the limit is checked
        // before a URL is queued, so an index of indexes cannot grow the queue without bound.
        let mut known = HashSet::from([url.to_string()]);
        known.extend(also.iter().cloned());
        self.optional.extend(also.iter().cloned());
        // Each sitemap with how many indexes lead to it: indexes nested deeper than
        // MAX_SITEMAP_NESTING are not followed (an index whose every read names a new one, as
        // a session id in its URLs does, cost 10,000 requests a run).
        let mut queue = std::collections::VecDeque::from([(url.to_string(), 0usize)]);
        queue.extend(also.into_iter().map(|s| (s, 0usize)));
        let mut dropped: u64 = 0;
        let mut too_deep: u64 = 0;
        while let Some((map_url, depth)) = queue.pop_front() {
            if self.cancel.is_cancelled() {
                read.complete = false;
                break;
            }
            let conditional = map_url != url;
            let page = match self.listing(&source, &map_url, conditional).await {
                Listing::Page(page) => page,
                Listing::NotModified | Listing::Gone => continue,
                Listing::Failed { .. } | Listing::Disallowed => {
                    read.complete = false;
                    continue;
                }
            };
            if page.truncated {
                // Entries past the size limit are not read: said, and owed.
                self.shared.fail(
                    &map_url,
                    "the sitemap is larger than max_body_bytes: only the entries before the \
                     limit were read (raise max_body_bytes for this source)"
                        .into(),
                );
                read.complete = false;
            }
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
            if map.damaged && !page.truncated {
                warn!(url = %map_url, "the sitemap is not well-formed XML: read entry by entry");
            }
            for mut entry in map.entries {
                let lastmod = entry.lastmod.map(|t| t.with_timezone(&Utc));
                if entry.loc.len() > MAX_LISTED_URL_BYTES {
                    continue;
                }
                match listed_address(&map_url, &entry.loc) {
                    Some(loc) => entry.loc = loc,
                    None => continue,
                }
                // A child sitemap listed as a `<url>` (a careless sitemap) is read as one.
                let names_a_sitemap = map.kind == SitemapKind::Index
                    || gleaner_scrape::discovery::names_a_sitemap(&entry.loc);
                if names_a_sitemap {
                    if known.contains(&entry.loc) {
                        continue;
                    }
                    if depth >= MAX_SITEMAP_NESTING {
                        too_deep += 1;
                        continue;
                    }
                    if known.len() >= MAX_LISTING_PAGES {
                        dropped += 1;
                        continue;
                    }
                    known.insert(entry.loc.clone());
                    queue.push_back((entry.loc, depth + 1));
                } else {
                    Self::note_updated(&mut read, lastmod);
                    if let Some(problem) = not_a_web_page(&entry.loc) {
                        self.shared.skip(&entry.loc, problem);
                        continue;
                    }
                    if self.seen_before(&source, &entry.loc, lastmod) {
                        continue;
                    }
                    self.share_later(&entry.loc);
                    if !self
                        .send_fetch(entry.loc, Some(source.clone()), lastmod)
                        .await
                    {
                        return (None, false);
                    }
                }
            }
        }
        if dropped > 0 {
            warn!(
                url = %url,
                dropped,
                limit = MAX_LISTING_PAGES,
                "the sitemap names more sitemaps than are read in one run"
            );
            read.complete = false;
        }
        if too_deep > 0 {
            self.shared.fail(
                url,
                format!(
                    "sitemap indexes nested more than {MAX_SITEMAP_NESTING} deep: \
                     {too_deep} sitemap(s) below them not read"
                ),
            );
            read.complete = false;
        }
        cap_newest(&mut read, started);
        (Some(read), true)
    }
}

/// The key under which a feed's read stopped at [`MAX_NEW_FEED_PAGES_PER_RUN`] keeps the
/// page to go on from (in the store's table of the pages that follow listing pages).
fn feed_resume_key(feed_url: &str) -> String {
    format!("{feed_url}{FEED_RESUME_SUFFIX}")
}

/// What ends a [`feed_resume_key`] (a fragment: no listing page's own address has one).
const FEED_RESUME_SUFFIX: &str = "#gleaner-resume";

/// What tells one feed item from another listed under the same link: its id, and a hash of
/// its title and text.
struct ItemMark {
    id: Option<String>,
    title: String,
    text: u64,
}

impl ItemMark {
    fn of(item: &gleaner_scrape::discovery::FeedItem) -> ItemMark {
        let title = item.article.title.clone().unwrap_or_default();
        let mut text = Fnv64::new();
        text.write(title.as_bytes());
        for part in item
            .summary
            .iter()
            .map(String::as_str)
            .chain(item.article.blocks.iter().map(|b| b.text.as_str()))
        {
            text.write(b"\n");
            text.write(part.as_bytes());
        }
        ItemMark {
            id: item.id.clone(),
            title,
            text: text.finish(),
        }
    }

    /// Whether `other` is another post than this one: another id (or no id to tell) and
    /// other text. The same id is one post (listed twice, or edited between two listings);
    /// the same text under two ids is one post listed twice.
    fn other_post(&self, other: &ItemMark) -> bool {
        let same_id = self.id.is_some() && self.id == other.id;
        !same_id && self.text != other.text
    }
}

/// FNV-1a, 64 bits: a hash that stays the same across builds and platforms (an item's
/// address is made from it, so it must never change).
struct Fnv64(u64);

impl Fnv64 {
    fn new() -> Fnv64 {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The listed keys of links that one feed page gives to several posts (items with other
/// ids and other text: a CMS that fills every item's `<link>` with the site's address, a
/// podcast feed linking each episode to the show's page). Linear in the items.
fn links_shared_by_posts(
    page_url: &str,
    items: &[gleaner_scrape::discovery::FeedItem],
) -> HashSet<String> {
    let mut first: std::collections::HashMap<String, ItemMark> = std::collections::HashMap::new();
    let mut shared = HashSet::new();
    for item in items.iter().filter(|i| !i.url.trim().is_empty()) {
        let Some(link) = listed_address(page_url, &item.url) else {
            continue;
        };
        if not_a_web_page(&link).is_some() {
            continue;
        }
        let key = gleaner_scrape::listed_page_key(&link);
        let mark = ItemMark::of(item);
        match first.get(&key) {
            Some(f) => {
                if f.other_post(&mark) {
                    shared.insert(key);
                }
            }
            None => {
                first.insert(key, mark);
            }
        }
    }
    shared
}

/// The ids (`<guid>`, `<id>`) that one item of a feed page has alone: an id several items
/// share tells none of them apart. Linear in the items.
fn ids_of_one_item(items: &[gleaner_scrape::discovery::FeedItem]) -> HashSet<String> {
    let mut seen: std::collections::HashMap<&str, bool> = std::collections::HashMap::new();
    for id in items.iter().filter_map(|i| i.id.as_deref()) {
        seen.entry(id.trim())
            .and_modify(|once| *once = false)
            .or_insert(true);
    }
    seen.into_iter()
        .filter(|&(_, once)| once)
        .map(|(id, _)| id.to_string())
        .collect()
}

/// The address a feed item's post is read and stored under: its link, unless the item's id
/// (its `<guid>` permalink) is that link without some of its query parameters, every one of
/// them a session id or a cache-buster by name ([`SESSION_PARAMS`]), and no other item of
/// the page has that id. A feed that puts a session id or a cache-buster into every link
/// (`…/post.html?sid=8f3a…`, new on every read) has the post stored again under each; its
/// permalink names it on every read. Other parameters may name another page (`?id=5&lang=fr`
/// under the guid `?id=5` is the French post, not the default language's): the link stays.
fn permalink_of(
    page_url: &str,
    link: String,
    id: Option<&str>,
    own_ids: &HashSet<String>,
) -> String {
    let Some(id) = id.map(str::trim).filter(|i| own_ids.contains(*i)) else {
        return link;
    };
    let (Ok(linked), Ok(own)) = (url::Url::parse(&link), url::Url::parse(id)) else {
        return link;
    };
    let same_page = matches!(own.scheme(), "http" | "https")
        && own.scheme() == linked.scheme()
        && own.host_str() == linked.host_str()
        && own.port_or_known_default() == linked.port_or_known_default()
        && own.path() == linked.path();
    if !same_page {
        return link;
    }
    // Every parameter of the id's query is in the link's, and the link has more (counted,
    // so that a hostile address of many parameters costs linear time).
    let mut extra: std::collections::HashMap<(String, String), usize> =
        std::collections::HashMap::new();
    let mut left = 0usize;
    for pair in linked.query_pairs().into_owned() {
        *extra.entry(pair).or_default() += 1;
        left += 1;
    }
    for pair in own.query_pairs().into_owned() {
        match extra.get_mut(&pair) {
            Some(n) if *n > 0 => {
                *n -= 1;
                left -= 1;
            }
            _ => return link,
        }
    }
    if left == 0 {
        return link;
    }
    let only_session = extra
        .iter()
        .filter(|&(_, &n)| n > 0)
        .all(|((name, _), _)| is_session_param(name));
    if !only_session {
        return link;
    }
    listed_address(page_url, id).unwrap_or(link)
}

/// Query parameters that carry a session id or defeat caches, and never name another page.
const SESSION_PARAMS: &[&str] = &[
    "sid",
    "sessid",
    "sessionid",
    "session_id",
    "phpsessid",
    "jsessionid",
    "aspsessionid",
    "cfid",
    "cftoken",
    "_",
    "cb",
    "cachebuster",
    "cache_buster",
    "nocache",
    "rnd",
    "rand",
];

/// Whether a query parameter's name is one of [`SESSION_PARAMS`] (case aside).
fn is_session_param(name: &str) -> bool {
    SESSION_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(name))
}

/// Whether `url` is an address [`item_address`] made (`…#item-` and 16 hex digits): a post a
/// feed gave, with no page of its own to fetch.
fn is_feed_item_address(url: &str) -> bool {
    url.rsplit_once("#item-")
        .is_some_and(|(_, hash)| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The address a post is stored under when its link is another post's too: its id when
/// that is a web address on the link's host other than the link (an RSS `<guid>` such as
/// `https://example.org/?p=123`), else the link with a fragment made from the id (or, for an
/// item without one, the title): `…/#item-0123456789abcdef`. The same item gets the same
/// address on every run and every machine, so an edit updates its own row and a re-read
/// adds none.
fn item_address(link: &str, id: Option<&str>, title: &str) -> String {
    let host = |u: &url::Url| {
        u.host_str()
            .map(|h| h.trim_start_matches("www.").to_ascii_lowercase())
    };
    if let Some(id) = id
        && let Ok(own) = url::Url::parse(id.trim())
        && matches!(own.scheme(), "http" | "https")
        && let Ok(linked) = url::Url::parse(link)
        && host(&own).is_some()
        && host(&own) == host(&linked)
    {
        let own = gleaner_scrape::without_tracking(own.as_str()).into_owned();
        if gleaner_scrape::listed_page_key(&own) != gleaner_scrape::listed_page_key(link) {
            return own;
        }
    }
    let mut hash = Fnv64::new();
    hash.write(id.unwrap_or(title).as_bytes());
    let fragment = format!("item-{:016x}", hash.finish());
    match url::Url::parse(link) {
        Ok(mut u) => {
            u.set_fragment(Some(&fragment));
            u.into()
        }
        Err(_) => format!("{link}#{fragment}"),
    }
}

/// The address a feed or sitemap lists, as it stands when it is absolute (never rewritten:
/// stored articles are keyed by it), else resolved against the listing's own address, as a
/// feed reader resolves a relative link (feeds and sitemaps should carry absolute ones; many
/// do not). `None` for a relative one that cannot be resolved.
fn listed_address(listing_url: &str, href: &str) -> Option<String> {
    // Zero-width and bidirectional marks pasted into a link are no part of its address, nor
    // are tracking parameters (one page under `?utm_source=rss` one day and bare the next).
    let href = gleaner_scrape::without_invisible(href);
    let href = gleaner_scrape::without_tracking(href.as_ref());
    let href = href.as_ref();
    match url::Url::parse(href.trim()) {
        Err(url::ParseError::RelativeUrlWithoutBase) => url::Url::parse(listing_url)
            .ok()?
            .join(href.trim())
            .ok()
            .map(String::from),
        // Absolute, or not a URL at all: its fetch says what is wrong with it.
        _ => Some(href.to_string()),
    }
}

/// Why a listed link can never be fetched (a `mailto:`, `javascript:` or `file:` link, an
/// address that does not parse, an http one with no host), if it cannot: such an item is
/// skipped, said on every run, and never recorded as owed (main failed it on every retry,
/// hourly to weekly, so the source's runs ended partial for good).
fn not_a_web_page(url: &str) -> Option<String> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => None,
        Ok(u) => Some(format!(
            "listed link is not a web page's address ({}:)",
            u.scheme()
        )),
        Err(e) => Some(format!("listed link is not an address: {e}")),
    }
}

/// A source's cut-off never passes the start of its read (less the clock allowance): a post
/// published or edited while the listing was being read may be listed above the part already
/// read, and must still be newer than the cut-off for the next run.
fn cap_newest(read: &mut SourceRead, started: DateTime<Utc>) {
    read.newest = read.newest.map(|n| n.min(started - CLOCK_SKEW));
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

/// Whether an HTTP date (`Last-Modified`) lies past `now` by more than [`CLOCK_SKEW`]; an
/// unreadable one is not.
fn http_date_in_future(value: &str, now: DateTime<Utc>) -> bool {
    DateTime::parse_from_rfc2822(value.trim())
        .is_ok_and(|t| t.with_timezone(&Utc) > now + CLOCK_SKEW)
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

/// Fetch a page (conditionally, with its saved validators) and process it.
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
    // On a shared store: at most MAX_UNCOMMITTED_PAGES claimed and not yet committed.
    let slot = match &shared.uncommitted {
        Some(pages) => match pages.take(&shared.cancel).await {
            Some(slot) => Some(slot),
            None => return,
        },
        None => None,
    };
    if !shared.claim_page(&url) {
        debug!(url = %url, "another worker has this page");
        return;
    }
    if let (Some(pages), Some(slot)) = (&shared.uncommitted, slot) {
        pages.hold(&url, slot);
    }
    // A listing that says the page changed after it was last fetched outweighs the page's
    // validators: a server whose ETag or Last-Modified never changes (a template version, a
    // cache that keys on the URL) answers 304 to an edited page, and the edit was lost for
    // good. A date in the future proves nothing and keeps the conditional GET.
    let changed_since_fetch = matches!(
        (listed_updated, previous.as_ref().and_then(|p| p.fetched_at)),
        (Some(listed), Some(fetched)) if listed > fetched && listed <= now + CLOCK_SKEW
    );
    let validators = previous
        .as_ref()
        .filter(|_| !changed_since_fetch)
        .map(|s| Validators {
            etag: s.etag.clone(),
            last_modified: s.last_modified.clone(),
        })
        .unwrap_or_default();
    if changed_since_fetch {
        debug!(url = %url, "listed as changed since it was fetched: fetched whole");
    }
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
            state.etag = page.validators.etag.clone();
            // A Last-Modified in the future (a server clock set wrong) is not kept: sent back
            // as If-Modified-Since it got a 304 for every later edit dated before it.
            state.last_modified = page
                .validators
                .last_modified
                .clone()
                .filter(|lm| !http_date_in_future(lm, now));
            state.last_status = Some(page.status);
            state.failures = 0;
            state.last_error = None;
            state.next_retry_at = None;
            if page.truncated {
                warn!(url = %url, "page cut at the size limit; processing what arrived");
            }
            if redirected_to_a_listing(&url, &page.final_url) {
                // A "soft 404": a deleted post that redirects to the blog's home page or a
                // listing. Gone, like a 404: the home page is never stored as the post (nor
                // over its stored copy); looked at again later, nothing owed.
                state.etag = None;
                state.last_modified = None;
                state.failures = state.failures.saturating_add(1);
                let retry_at = next_retry(now, state.failures);
                state.last_error = Some(format!("redirected to a listing: {}", page.final_url));
                state.next_retry_at = Some(retry_at);
                shared.send_state(state).await;
                let kept = if shared.stored_article_id(&url).is_some() {
                    "; the stored copy is kept"
                } else {
                    ""
                };
                shared.skip(
                    &url,
                    format!(
                        "redirected to {}, a home or listing page: gone at the source{kept} \
                         (looked at again from {})",
                        page.final_url,
                        retry_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ),
                );
                return;
            }
            if let Some(kind) = gleaner_scrape::discovery::listing_document(&page.body) {
                // A sitemap or feed listed as a page: its raw XML was stored as an article.
                shared
                    .owe(
                        &url,
                        format!("{kind}, not a page: nothing stored (configure it as a source)"),
                        Owed::Skipped,
                    )
                    .await;
                return;
            }
            let final_url = page.final_url.clone();
            let body = page.body;
            let scrape_url = final_url.clone();
            // Scrape, clean and tag in one trip to the pool: each trip is a hand-over to a
            // pool thread and a wake-up of an async worker when it is done, a few context
            // switches; a page that needs its feed entry first goes back for it.
            let tagger = Arc::clone(&shared.tagger);
            let source_url = source.as_ref().map(|s| s.url.clone());
            let labels = source.as_ref().map(|s| Arc::clone(&s.labels));
            let processed = on_blocking_pool(&shared.counters, Stage::Process, move || {
                let scraped = match crate::cpu_pool::catch(|| process::scrape(&body, &scrape_url)) {
                    Ok(scraped) => scraped,
                    Err(e) => return Processed::ScrapeFailed(e),
                };
                drop(body);
                if gleaner_scrape::dynamic_views_feed_url(&scraped).is_some() {
                    return Processed::NeedsFeed(scraped);
                }
                let extra: &[String] = labels.as_deref().map_or(&[], |l| l.as_slice());
                Processed::Done(process::finish_required(
                    scraped,
                    Some(Utc::now()),
                    source_url.as_deref(),
                    extra,
                    &tagger,
                ))
            })
            .await;
            let done = match processed {
                Ok(Processed::NeedsFeed(scraped)) => Err(scraped),
                Ok(Processed::Done(done)) => Ok(Ok(done)),
                // Cleaning or tagging panicked: "processing failed", as `settle_processed`
                // says of it.
                Err(e) => Ok(Err(e)),
                Ok(Processed::ScrapeFailed(e)) => {
                    shared
                        .owe(&url, format!("scraping failed: {e}"), Owed::Failed)
                        .await;
                    return;
                }
            };
            let scraped = match done {
                Err(scraped) => scraped,
                Ok(done) => {
                    let source_id = source.map(|s| s.id);
                    settle_processed(shared, done, source_id, &url, Some(state)).await;
                    return;
                }
            };
            let scraped = match complete_from_feed(shared, fetcher, scraped).await {
                Ok(s) => s,
                Err(PostFeed::Stopped) => {
                    debug!(url = %url, "stopping: the post's feed entry given up");
                    return;
                }
                Err(PostFeed::Missing(reason)) => {
                    // The page is only a shell and its post could not be read: nothing is
                    // stored, and the page keeps no validators, so a later run fetches it
                    // again (a 304 would otherwise hide the post for good).
                    shared.owe(&url, reason, Owed::Failed).await;
                    return;
                }
            };
            process_and_send(shared, scraped, source, &url, Some(state)).await;
        }
        Ok(FetchOutcome::NotModified { .. }) => {
            // A 304 stands for the stored article: `gleaner scrape` prints it. (Validators
            // are kept only with a stored article; one stored under the address a redirect
            // led to is not found by the address asked for, and is not printed.)
            shared.counters.not_modified.fetch_add(1, Ordering::Relaxed);
            if shared.list_stored
                && let Some(id) = shared.stored_article_id(&url)
                && let Ok(mut unchanged) = shared.unchanged.lock()
            {
                unchanged.push(StoredItem {
                    id,
                    outcome: UpsertOutcome::Unchanged,
                });
            }
            state.last_status = Some(304);
            state.failures = 0;
            state.last_error = None;
            state.next_retry_at = None;
            shared.send_state(state).await;
        }
        Ok(FetchOutcome::Skipped {
            url: skipped_url,
            reason,
        }) => {
            // Remembered with a time to look again (robots.txt or the server may change),
            // so the source's cut-off can pass it without losing it.
            let reason = if skipped_url == url {
                reason
            } else {
                format!("{reason} ({skipped_url})")
            };
            shared.owe(&url, reason, Owed::Skipped).await;
        }
        Err(e @ gleaner_fetch::FetchError::Refused { .. }) => {
            // The page, or a redirect it answers with, is an address gleaner does not fetch
            // (`ftp:`, `mailto:`, a private address when those are refused): not a failure
            // another try would fix. Said on every look, kept with a time to look again (the
            // redirect may change), never owed (it made every run that retried it `partial`).
            shared.owe(&url, e.to_string(), Owed::Skipped).await;
        }
        Err(e) => {
            state.failures = state.failures.saturating_add(1);
            state.last_error = Some(e.to_string());
            state.last_status = status_of(&e);
            let retry_at = next_retry(now, state.failures);
            state.next_retry_at = Some(retry_at);
            shared.send_state(state).await;
            if matches!(status_of(&e), Some(404 | 410)) && shared.stored_article_id(&url).is_some()
            {
                // A post deleted (or unpublished) after it was stored: its article is kept,
                // and the page is looked at again later (it may come back), but nothing is
                // owed (a deleted post made every run that retried it `partial`, for good).
                shared.skip(
                    &url,
                    format!(
                        "{e}: gone at the source; the stored copy is kept (looked at again from {})",
                        retry_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ),
                );
                return;
            }
            shared.fail(&url, e.to_string());
        }
    }
}

/// Whether a page listed at `listed` was redirected to `landed`, a home or listing page (a
/// "soft 404": many hosts answer a deleted post so). Listing pages: the site's root (`/`,
/// `/index.html`, with no query but a listing's own), Blogger's `/search…` (labels, search,
/// older posts) and date archives (`/2024/`, `/2024/03/`), and the `category`, `tag`,
/// `label`, `author` and `page` listings of other blog engines. A listed page that is itself
/// such an address is left alone (a home page moving is not a deletion).
fn redirected_to_a_listing(listed: &str, landed: &str) -> bool {
    if listed == landed {
        return false;
    }
    let (Ok(from), Ok(to)) = (url::Url::parse(listed), url::Url::parse(landed)) else {
        return false;
    };
    if from.path() == to.path() && from.host_str() == to.host_str() {
        // The same page under another scheme, port or query (`?m=1`).
        return false;
    }
    !is_listing(&from) && is_listing(&to)
}

/// A home, label, search, archive or paging address (see [`redirected_to_a_listing`]).
fn is_listing(url: &url::Url) -> bool {
    const LISTING_QUERY: [&str; 10] = [
        "m",
        "updated-max",
        "updated-min",
        "max-results",
        "start",
        "by-date",
        "reverse-paginate",
        "page",
        "paged",
        "lang",
    ];
    let path = url.path().trim_end_matches('/');
    let lower = path.to_ascii_lowercase();
    let root = matches!(
        lower.as_str(),
        "" | "/index.html" | "/index.htm" | "/index.php" | "/home" | "/blog"
    );
    if root {
        return url
            .query_pairs()
            .all(|(k, _)| LISTING_QUERY.contains(&k.as_ref()) || k.starts_with("utm_"));
    }
    let parts: Vec<&str> = lower.split('/').filter(|s| !s.is_empty()).take(4).collect();
    let first = parts.first().copied().unwrap_or_default();
    if matches!(
        first,
        "search" | "category" | "tag" | "label" | "author" | "page"
    ) {
        return true;
    }
    // A date archive: /2024, /2024/03, /2024/03/15, and nothing after.
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    match parts.as_slice() {
        [y] => digits(y, 4),
        [y, m] => digits(y, 4) && digits(m, 2),
        [y, m, d] => digits(y, 4) && digits(m, 2) && digits(d, 2),
        _ => false,
    }
}

/// Dynamic Views pages carry no post in their HTML: take it from the post's feed entry, read
/// first on the blog's own host (`/feeds/posts/default/<postId>`: the same host, rate limit and
/// robots.txt as the page, and what widget code uses), else from www.blogger.com (the form the
/// feeds themselves give as an entry's `self` link).
///
/// An error when the page needed its feed entry and neither could be read (the reason), or
/// when a stop request's grace ran out while reading it.
async fn complete_from_feed(
    shared: &Shared,
    fetcher: &Fetcher,
    scraped: ScrapedArticle,
) -> Result<ScrapedArticle, PostFeed> {
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
        entry = read_post_entry(shared, fetcher, &feed_url).await?;
        if entry.is_some() {
            break;
        }
    }
    let Some(entry) = entry else {
        return Err(PostFeed::Missing(format!(
            "a Dynamic Views page without its post, whose feed entry could not be read \
             (tried {} feed URL(s))",
            tried
        )));
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

/// Why a Dynamic Views page's post could not be read from its feed.
#[derive(Debug)]
enum PostFeed {
    /// Neither feed URL gave the post (the reason).
    Missing(String),
    /// A stop request's grace ran out: nothing is recorded, the next run fetches the page.
    Stopped,
}

/// The first entry of a post feed that holds the post's content. Like a page fetch, the
/// fetch gets STOP_GRACE after a stop request (a long Retry-After must not hold a stop).
async fn read_post_entry(
    shared: &Shared,
    fetcher: &Fetcher,
    feed_url: &str,
) -> Result<Option<blogger_feed::FeedEntry>, PostFeed> {
    let none = Validators::default();
    let outcome = tokio::select! {
        outcome = shared.timed_fetch(
            fetcher,
            feed_url,
            &none,
            &shared.counters.fetch_nanos,
        ) => outcome,
        () = shared.stop_grace_over() => return Err(PostFeed::Stopped),
    };
    let page = match outcome {
        Ok(FetchOutcome::Page(page)) => page,
        Ok(other) => {
            debug!(feed = %feed_url, ?other, "no post feed entry");
            return Ok(None);
        }
        Err(e) => {
            debug!(feed = %feed_url, "no post feed entry: {e}");
            return Ok(None);
        }
    };
    let parsed = on_blocking_pool(&shared.counters, Stage::Process, move || {
        blogger_feed::parse_feed(&page.body)
    })
    .await;
    let Ok(Ok(feed)) = parsed else {
        return Ok(None);
    };
    Ok(feed
        .entries
        .into_iter()
        .next()
        // An entry with a content element is the post, even a post that is only a photo.
        .filter(|e| e.full_content || !e.article.blocks.is_empty()))
}

/// What one trip of a fetched page to the CPU pool came to.
enum Processed {
    /// Scraping panicked.
    ScrapeFailed(crate::cpu_pool::PoolError),
    /// A Dynamic Views shell: its post is read from its feed entry, then processed.
    NeedsFeed(ScrapedArticle),
    /// Scraped, cleaned and tagged (or no article on the page).
    Done(Result<Article, process::NoArticle>),
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
    settle_processed(shared, done, source.map(|s| s.id), url, fetch_state).await;
}

/// What processing a page came to: the article goes to the writer (with the page's fetch
/// state, saved after it); a page that gave no article, or whose processing panicked, is a
/// failure to try again later, with no validators kept (a 304 would otherwise hide the
/// article for good once the page, or gleaner, can read it).
async fn settle_processed<E: std::fmt::Display, P: std::fmt::Display>(
    shared: &Shared,
    done: Result<Result<Article, E>, P>,
    source_id: Option<i64>,
    url: &str,
    fetch_state: Option<FetchState>,
) {
    match done {
        Ok(Ok(article)) => {
            // A fetched page (not a feed's post) that is an error page served with 200 is
            // not the post: stored, it replaced the post for good.
            if let Some(error) = fetch_state.as_ref().and_then(|_| {
                crate::ingest::served_error_page(&article.title, &article.body, article.word_count)
            }) {
                let kept = shared.stored_article_id(url).is_some();
                let owed = if error == crate::ingest::ServedError::Gone && kept {
                    Owed::Skipped
                } else {
                    Owed::Failed
                };
                let kept = if kept {
                    "; the stored copy is kept"
                } else {
                    ""
                };
                let reason = format!(
                    "an error page served as 200 OK ({:?}): nothing stored{kept}",
                    article.title
                );
                shared.owe(url, reason, owed).await;
                return;
            }
            let msg = WriterMsg::Article {
                article: Box::new(article),
                source_id,
                fetch_state,
            };
            if shared.writer.send(msg).await.is_err() {
                shared.lost.store(true, Ordering::Relaxed);
                shared.fail(url, "the writer stopped".into());
            }
        }
        Ok(Err(no_article)) => {
            shared.owe(url, no_article.to_string(), Owed::Failed).await;
        }
        Err(e) => {
            shared
                .owe(url, format!("processing failed: {e}"), Owed::Failed)
                .await;
        }
    }
}

struct Written {
    counts: RunCounts,
    stored: Vec<StoredItem>,
    failed: Vec<Problem>,
    /// Fetch states that could not be saved.
    unrecorded: u64,
    /// Batches written (on SQLite, a transaction each).
    batches: u64,
    /// The most article data ([`held_bytes`]) the writer held at once.
    largest_group: usize,
}

/// The one writer: batches what arrives into transactions until every sender is gone.
/// Fetch states that come with articles are written after the articles' transaction.
///
/// A transaction takes what arrives within [`WRITE_GATHER`] (at most [`WRITE_BATCH`]
/// messages), but the articles are not held until its commit: every [`WRITE_GROUP_BYTES`]
/// of them are written into the open transaction and dropped (SQLite), so the writer's memory
/// does not grow with the transaction and commits stay as rare as before.
fn write_loop(
    mut store: Store,
    mut rx: mpsc::Receiver<WriterMsg>,
    counters: &Counters,
    list_stored: bool,
    uncommitted: Option<&UncommittedPages>,
) -> Result<Written> {
    let gather = if store.is_shared() {
        SHARED_WRITE_GATHER
    } else {
        WRITE_GATHER
    };
    let mut written = Written {
        counts: RunCounts::default(),
        stored: Vec::new(),
        failed: Vec::new(),
        unrecorded: 0,
        batches: 0,
        largest_group: 0,
    };
    while let Some(first) = rx.blocking_recv() {
        written.batches += 1;
        let gather_until = Instant::now() + gather;
        let mut busy = std::time::Duration::ZERO;
        let mut batch = BatchOutcome::default();
        {
            let mut sink = Sink::new(&mut store);
            let mut group = GroupIn::default();
            group.push(first, uncommitted.is_some());
            let mut messages = 1usize;
            let mut closed = false;
            loop {
                let full = messages >= WRITE_BATCH;
                let mut wait_over = false;
                if !full && group.bytes < WRITE_GROUP_BYTES {
                    match rx.try_recv() {
                        Ok(msg) => {
                            group.push(msg, uncommitted.is_some());
                            messages += 1;
                            continue;
                        }
                        Err(mpsc::error::TryRecvError::Empty) => {
                            let now = Instant::now();
                            if now < gather_until {
                                std::thread::sleep((gather_until - now).min(WRITE_POLL));
                                continue;
                            }
                            wait_over = true;
                        }
                        Err(mpsc::error::TryRecvError::Disconnected) => closed = true,
                    }
                }
                written.largest_group = written.largest_group.max(group.bytes);
                let started = Instant::now();
                sink.write(std::mem::take(&mut group), &mut batch);
                busy += started.elapsed();
                if full || wait_over || closed {
                    break;
                }
            }
            let started = Instant::now();
            sink.commit(&mut batch);
            busy += started.elapsed();
        }
        let started = Instant::now();
        let mut states = std::mem::take(&mut batch.states);
        for ((url, result), state) in batch.results.into_iter().zip(batch.after) {
            match result {
                Ok(up) => {
                    match up.outcome {
                        UpsertOutcome::Inserted => written.counts.stored += 1,
                        UpsertOutcome::Updated => written.counts.updated += 1,
                        UpsertOutcome::Unchanged | UpsertOutcome::Kept => {
                            written.counts.unchanged += 1
                        }
                    }
                    counters.stored.fetch_add(1, Ordering::Relaxed);
                    debug!(url = %url, id = up.id, outcome = ?up.outcome, "written");
                    if list_stored {
                        written.stored.push(StoredItem {
                            id: up.id,
                            outcome: up.outcome,
                        });
                    }
                    // A kept article was not stored: its page's validators are not saved, or
                    // the next run would get a 304 for content never stored.
                    if up.outcome != UpsertOutcome::Kept {
                        states.extend(state);
                    }
                }
                Err(e) => {
                    warn!(url = %url, "could not store: {e}");
                    // Try the page again on the next run: the store failed, not the source
                    // (a full disk, a lock), so no backoff (an hour of it let the next run
                    // say `ok` while the pages waited).
                    let now = Utc::now();
                    let failures = state.as_ref().map_or(0, |s| s.failures) + 1;
                    let retry = FetchState {
                        url: url.clone(),
                        failures,
                        last_error: Some(format!("storing: {e}")),
                        next_retry_at: Some(now),
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
        written.unrecorded += record_states(&mut store, &states);
        if let Some(u) = uncommitted {
            u.committed(batch.pages.iter().map(String::as_str));
        }
        busy += started.elapsed();
        counters
            .write_nanos
            .fetch_add(nanos(busy), Ordering::Relaxed);
    }
    Ok(written)
}

/// Article data (estimated heap bytes) the writer gathers before writing it into the open
/// transaction. A transaction of [`WRITE_BATCH`] articles held whole until its commit was
/// ~15 MB of a run's peak memory (an article of 480 words with its ~70 entity mentions is
/// ~14 KB in memory); committing that often instead wrote 3.3 times the database's growth.
const WRITE_GROUP_BYTES: usize = 2 * 1024 * 1024;

/// Estimated heap bytes a message holds (strings and vectors, by length).
fn held_bytes(msg: &WriterMsg) -> usize {
    const STRING: usize = std::mem::size_of::<String>() + 16;
    let state_bytes = |s: &FetchState| std::mem::size_of::<FetchState>() + s.url.len();
    match msg {
        WriterMsg::Article {
            article,
            fetch_state,
            ..
        } => {
            let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
            let entities: usize = article
                .entities
                .iter()
                .map(|e| e.text.len() + e.name.len() + 2 * 16)
                .sum();
            std::mem::size_of::<Article>()
                + article.url.len()
                + article.title.len()
                + article.body.len()
                + article.content_hash.len()
                + opt(&article.canonical_url)
                + opt(&article.source)
                + opt(&article.blogger_post_id)
                + opt(&article.author)
                + article
                    .labels
                    .iter()
                    .map(|l| STRING + l.len())
                    .sum::<usize>()
                + article.entities.len() * std::mem::size_of::<gleaner_model::Entity>()
                + entities
                + fetch_state.as_ref().map_or(0, state_bytes)
        }
        WriterMsg::FetchState(state) => state_bytes(state),
    }
}

/// Messages gathered for one write into the open transaction.
#[derive(Default)]
struct GroupIn {
    articles: Vec<(Article, Option<i64>)>,
    origins: Vec<Origin>,
    /// The fetch state of each article's page, saved after the commit.
    after: Vec<Option<FetchState>>,
    /// Fetch states that came alone.
    states: Vec<FetchState>,
    /// The fetched pages (their slots on a shared store are given back after the commit).
    pages: Vec<String>,
    /// [`held_bytes`] of what is held.
    bytes: usize,
}

impl GroupIn {
    fn push(&mut self, msg: WriterMsg, track_pages: bool) {
        self.bytes += held_bytes(&msg);
        if track_pages {
            match &msg {
                WriterMsg::Article {
                    fetch_state: Some(state),
                    ..
                }
                | WriterMsg::FetchState(state) => self.pages.push(state.url.clone()),
                WriterMsg::Article { .. } => {}
            }
        }
        match msg {
            WriterMsg::Article {
                article,
                source_id,
                fetch_state,
            } => {
                // A fetch state comes with a fetched page only: content from the article's
                // own address, which may replace its row.
                self.origins.push(if fetch_state.is_some() {
                    Origin::Page
                } else {
                    Origin::Feed
                });
                self.articles.push((*article, source_id));
                self.after.push(fetch_state);
            }
            WriterMsg::FetchState(state) => self.states.push(state),
        }
    }
}

/// What a transaction's messages came to, reported after its commit.
#[derive(Default)]
struct BatchOutcome {
    /// Each article's URL and outcome, in arrival order.
    results: Vec<(String, Result<gleaner_store::Upserted, String>)>,
    /// The fetch state of each article's page (same order as `results`).
    after: Vec<Option<FetchState>>,
    states: Vec<FetchState>,
    pages: Vec<String>,
}

/// Where the writer's groups of articles go: one SQLite transaction for the whole batch, or
/// (PostgreSQL, where a commit rewrites no WAL pages) a transaction per group.
enum Sink<'s> {
    /// SQLite; `.1` counts the results (the last ones of the batch's) written into the open
    /// transaction, which fail with it if it is rolled back.
    Sqlite(gleaner_store::ArticleTransaction<'s>, usize),
    /// PostgreSQL.
    Each(&'s mut Store),
}

impl<'s> Sink<'s> {
    fn new(store: &'s mut Store) -> Self {
        match store {
            Store::Sqlite(s) => Sink::Sqlite(s.begin_articles(), 0),
            other => Sink::Each(other),
        }
    }

    /// Write a group (its outcomes go to `batch`).
    fn write(&mut self, group: GroupIn, batch: &mut BatchOutcome) {
        let GroupIn {
            articles,
            origins,
            after,
            states,
            pages,
            bytes: _,
        } = group;
        batch.states.extend(states);
        batch.pages.extend(pages);
        batch.after.extend(after);
        if articles.is_empty() {
            return;
        }
        match self {
            Sink::Each(store) => {
                let results: Vec<Result<gleaner_store::Upserted, String>> =
                    match store.upsert_articles_from(&articles, &origins) {
                        Ok(ups) => ups.into_iter().map(Ok).collect(),
                        Err(batch_err) => {
                            debug!("batch write failed ({batch_err}); writing one by one");
                            articles
                                .iter()
                                .zip(&origins)
                                .map(|((a, sid), origin)| {
                                    store
                                        .upsert_article_from(a, *sid, *origin)
                                        .map_err(|e| e.to_string())
                                })
                                .collect()
                        }
                    };
                let urls = articles.iter().map(|(a, _)| a.url.clone());
                batch.results.extend(urls.zip(results));
            }
            Sink::Sqlite(tx, in_tx) => match tx.upsert(&articles, &origins) {
                Ok(ups) => {
                    *in_tx += ups.len();
                    let urls = articles.iter().map(|(a, _)| a.url.clone());
                    batch.results.extend(urls.zip(ups.into_iter().map(Ok)));
                }
                Err(group_err) => {
                    debug!("group write failed ({group_err}); writing one by one");
                    if !tx.is_open() {
                        // Rolled back: the groups written into it before are gone too.
                        lost(batch, in_tx, &group_err.to_string());
                    }
                    // One by one, each in a transaction of its own: one bad article costs
                    // only itself.
                    for (index, (article, _)) in articles.iter().enumerate() {
                        let one = articles.get(index..=index).unwrap_or_default();
                        let origin = origins.get(index..=index).unwrap_or_default();
                        let result = match tx.upsert(one, origin) {
                            Ok(mut ups) => match tx.commit() {
                                Ok(()) => {
                                    // Committed with whatever the transaction held.
                                    *in_tx = 0;
                                    ups.pop().ok_or_else(|| {
                                        gleaner_store::StoreError::InvalidArticle {
                                            url: article.url.clone(),
                                            reason: "internal error: no outcome recorded".into(),
                                        }
                                    })
                                }
                                Err(e) => {
                                    lost(batch, in_tx, &e.to_string());
                                    Err(e)
                                }
                            },
                            Err(e) => {
                                if !tx.is_open() {
                                    lost(batch, in_tx, &e.to_string());
                                }
                                Err(e)
                            }
                        };
                        batch
                            .results
                            .push((article.url.clone(), result.map_err(|e| e.to_string())));
                    }
                }
            },
        }
    }

    /// Commit the open transaction; if that fails, every article written into it failed.
    fn commit(self, batch: &mut BatchOutcome) {
        if let Sink::Sqlite(mut tx, mut in_tx) = self
            && let Err(e) = tx.commit()
        {
            lost(batch, &mut in_tx, &e.to_string());
        }
    }
}

/// The open transaction was rolled back: the last `in_tx` outcomes become failures.
fn lost(batch: &mut BatchOutcome, in_tx: &mut usize, error: &str) {
    let from = batch.results.len().saturating_sub(*in_tx);
    fail_from(batch, from, &format!("the batch was rolled back: {error}"));
    *in_tx = 0;
}

/// Turn the outcomes of `batch.results[from..]` into failures with `error`.
fn fail_from(batch: &mut BatchOutcome, from: usize, error: &str) {
    for (_, result) in batch.results.iter_mut().skip(from) {
        if result.is_ok() {
            *result = Err(error.to_string());
        }
    }
}

/// Saves a batch's fetch states in one transaction; if that fails, one by one, so one bad
/// state costs only itself. Returns how many could not be saved (each is logged).
fn record_states(store: &mut Store, states: &[FetchState]) -> u64 {
    if states.is_empty() {
        return 0;
    }
    if store.record_fetches(states).is_ok() {
        // Their outcomes are recorded: other workers (on a shared store) leave them alone.
        if let Err(e) = store.pages_done(states.iter().map(|s| s.url.as_str())) {
            debug!("could not mark pages done for other workers: {e}");
        }
        return 0;
    }
    let mut lost = 0;
    for state in states {
        if let Err(e) = store.record_fetch(state) {
            warn!(url = %state.url, "could not record fetch state: {e}");
            lost += 1;
        }
    }
    lost
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

    /// A post redirected to a home, label, search or archive page is a soft 404; to another
    /// post, to its mobile or https form, or a home page moving, is not.
    #[test]
    fn soft_404_redirects_are_told_from_moves() {
        let post = "http://blog.example/2024/03/fees.html";
        for landed in [
            "http://blog.example/",
            "https://blog.example",
            "http://blog.example/?m=1",
            "http://blog.example/index.html",
            "http://blog.example/search/label/port",
            "http://blog.example/search?updated-max=2024-03-01T00:00:00Z",
            "http://blog.example/2024/03/",
            "http://blog.example/category/news/",
            "http://new.example/",
        ] {
            assert!(redirected_to_a_listing(post, landed), "{landed}");
        }
        for landed in [
            post,
            "https://blog.example/2024/03/fees.html",
            "http://blog.example/2024/03/fees.html?m=1",
            "http://blog.example/2024/03/fees-rise.html",
            "http://blog.example/?p=123",
            "http://blog.example/2024/03/15/fees/",
        ] {
            assert!(!redirected_to_a_listing(post, landed), "{landed}");
        }
        assert!(!redirected_to_a_listing(
            "http://blog.example/",
            "https://www.blog.example/"
        ));
    }

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

    /// Issue 12: the writer's memory does not grow with its transaction. What arrives within
    /// one gathering window is committed once, but written into the open transaction every
    /// `WRITE_GROUP_BYTES`, not held until the commit.
    #[test]
    fn the_writer_holds_a_bounded_group_and_commits_a_batch_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_path(&dir.path().join("news.db")).unwrap();
        let posts = 600;
        let (tx, rx) = mpsc::channel(posts);
        let mut biggest = 0;
        for n in 0..posts {
            let body = format!("Post {n} says something new. ").repeat(300);
            let article = Article {
                url: format!("https://a.example/2024/01/post-{n}.html"),
                title: format!("Post {n}"),
                content_hash: format!("{n:064x}"),
                word_count: 1500,
                body,
                ..Article::default()
            };
            let msg = WriterMsg::Article {
                article: Box::new(article),
                source_id: None,
                fetch_state: None,
            };
            biggest = biggest.max(held_bytes(&msg));
            tx.try_send(msg).unwrap();
        }
        drop(tx);
        assert!(
            posts * biggest > 2 * WRITE_GROUP_BYTES,
            "more than two groups of data"
        );
        let written = write_loop(store, rx, &Counters::default(), false, None).unwrap();
        assert_eq!(written.counts.stored, posts as u64);
        assert_eq!(written.batches, 1, "one batch, one commit");
        assert!(
            written.largest_group < WRITE_GROUP_BYTES + biggest,
            "held {} bytes at once",
            written.largest_group
        );
        let reader = Store::open_path(&dir.path().join("news.db")).unwrap();
        assert!(
            reader
                .stored_article_id("https://a.example/2024/01/post-599.html")
                .unwrap()
                .is_some()
        );
    }

    /// A shared pipeline state over a new database, and the writer's end of its channel.
    fn test_shared(dir: &Path) -> (Shared, mpsc::Receiver<WriterMsg>) {
        let reader = Store::open_path(&dir.join("news.db")).unwrap();
        let (writer, rx) = mpsc::channel(8);
        let shared = Shared {
            fetcher: Fetcher::new(gleaner_fetch::FetchConfig::default()).unwrap(),
            tagger: Arc::new(Tagger::new()),
            reader: Mutex::new(reader),
            counters: Arc::default(),
            failed: Mutex::new(Vec::new()),
            skipped: Mutex::new(Vec::new()),
            writer,
            honour_backoff: true,
            cancel: CancellationToken::new(),
            lost: std::sync::atomic::AtomicBool::new(false),
            list_stored: false,
            unchanged: Mutex::new(Vec::new()),
            uncommitted: None,
        };
        (shared, rx)
    }

    /// Issue 16 item 12: processing that panics (or finds no article text) is a failure to
    /// try again, recorded with no validators, never a page silently dropped or kept as read.
    #[tokio::test]
    async fn a_panic_or_no_article_in_processing_is_a_failure_to_retry() {
        let dir = tempfile::tempdir().unwrap();
        let (shared, mut rx) = test_shared(dir.path());
        let url = "https://a.example/news/1.html";
        // The processing pool the pipeline really uses, with a closure that panics.
        let panicked = on_blocking_pool(
            &shared.counters,
            Stage::Process,
            || -> Result<Article, process::NoArticle> { panic!("a scraper bug") },
        )
        .await;
        assert!(
            matches!(panicked, Err(crate::cpu_pool::PoolError::Panicked(_))),
            "{panicked:?}"
        );
        let with_validators = FetchState {
            url: url.into(),
            etag: Some("\"v1\"".into()),
            last_status: Some(200),
            ..FetchState::default()
        };
        settle_processed(&shared, panicked, None, url, Some(with_validators.clone())).await;
        let Some(WriterMsg::FetchState(state)) = rx.recv().await else {
            panic!("no fetch state recorded for a panic");
        };
        assert_eq!((state.url.as_str(), state.failures), (url, 1));
        assert_eq!((state.etag, state.last_modified), (None, None));
        assert!(state.next_retry_at.is_some_and(|t| t > Utc::now()));
        assert!(
            state
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("processing failed")),
            "{:?}",
            state.last_error
        );

        let empty: Result<Result<Article, process::NoArticle>, crate::cpu_pool::PoolError> =
            Ok(Err(process::NoArticle::EmptyBody));
        settle_processed(&shared, empty, None, url, Some(with_validators)).await;
        let Some(WriterMsg::FetchState(state)) = rx.recv().await else {
            panic!("no fetch state recorded for a page without text");
        };
        assert_eq!((state.failures, state.etag), (1, None));
        assert!(state.next_retry_at.is_some());
        assert_eq!(shared.counters.failed.load(Ordering::Relaxed), 2);
        assert!(!shared.lost.load(Ordering::Relaxed));
    }

    #[test]
    fn a_saved_sweep_reads_back() {
        let sweep = Sweep {
            order: blogger_feed::FeedOrder::Updated,
            at: blogger_feed::FeedPosition {
                before: DateTime::parse_from_rfc3339("2024-03-01T09:00:01Z")
                    .ok()
                    .map(|t| t.with_timezone(&Utc)),
                skip: 150,
            },
            started_at: Utc::now(),
            newest: None,
        };
        assert_eq!(sweep.cursor_text(), "updated 2024-03-01T09:00:01Z 150");
        assert_eq!(
            Sweep::from_saved(&sweep.cursor_text(), sweep.started_at, None),
            Some(sweep.clone())
        );
        let top = Sweep {
            at: blogger_feed::FeedPosition::default(),
            ..sweep
        };
        assert_eq!(top.cursor_text(), "updated - 0");
        assert_eq!(
            Sweep::from_saved("updated - 0", top.started_at, None),
            Some(top)
        );
        assert_eq!(Sweep::from_saved("sideways - 0", Utc::now(), None), None);
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

    #[test]
    fn a_seen_set_tells_a_string_it_has_from_one_it_has_not() {
        let mut seen = SeenSet::default();
        assert!(seen.insert("http://e.com/a"));
        assert!(seen.insert("http://e.com/b"));
        assert!(seen.insert(""));
        assert!(!seen.insert("http://e.com/a"));
        assert!(!seen.insert(""));
        assert!((0..10_000).all(|n| seen.insert(&format!("post-{n}"))));
        assert!((0..10_000).all(|n| !seen.insert(&format!("post-{n}"))));
    }
}

/// Review: `permalink_of` takes a guid that is the link minus parameters as the post's
/// address even when a dropped parameter selects another page: a site's French and English
/// feeds (one per language, each item's guid the language-neutral `?id=5`, the link
/// `?id=5&lang=fr` / `&lang=en`) give two posts one address, the page at `?id=5` (the default
/// language) is fetched for both, and the French post is never stored.
#[cfg(test)]
mod review_tests {
    use super::*;

    #[test]
    fn a_guid_without_the_language_parameter_does_not_merge_two_translations() {
        let guid = "https://ex.org/article.php?id=5";
        let own: HashSet<String> = [guid.to_string()].into_iter().collect();
        let fr = permalink_of(
            "https://ex.org/feed.php?lang=fr",
            "https://ex.org/article.php?id=5&lang=fr".into(),
            Some(guid),
            &own,
        );
        let en = permalink_of(
            "https://ex.org/feed.php?lang=en",
            "https://ex.org/article.php?id=5&lang=en".into(),
            Some(guid),
            &own,
        );
        assert_ne!(fr, en, "both translations read and stored under {fr}");
    }
}
