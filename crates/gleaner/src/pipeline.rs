//! The async pipeline of DESIGN.md, shared by `gleaner scrape` and `gleaner run`:
//!
//! ```text
//! targets ──► discover (Blogger feed pages) ──► jobs (bounded) ──► fetch tasks (≤ concurrency)
//!   ──► [blocking pool] scrape ─► clean ─► tag ──► writer channel (bounded) ──► one writer thread
//! ```
//!
//! Every channel is bounded, so memory does not grow with the size of the crawl; CPU work runs
//! on the blocking pool, never on the async workers; one thread owns the writing connection.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use gleaner_fetch::{FetchOutcome, Fetcher, Validators};
use gleaner_model::{Article, ScrapedArticle};
use gleaner_scrape::blogger_feed;
use gleaner_store::{FetchState, RunCounts, Store, UpsertOutcome};
use gleaner_tag::Tagger;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::process;

/// Posts asked for per feed page (Blogger's maximum is 150).
const FEED_PAGE_SIZE: u64 = 150;
/// Articles written per transaction at most.
const WRITE_BATCH: usize = 64;

/// The source a job belongs to.
#[derive(Debug, Clone)]
pub struct SourceRef {
    /// `sources.id`.
    pub id: i64,
    /// The source URL.
    pub url: String,
    /// Labels added to its articles.
    pub labels: Arc<Vec<String>>,
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
    /// One page.
    Page {
        /// The page URL.
        url: String,
        /// Its source row, if it is a configured source.
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
    },
    /// A whole post from a full-content feed: process it without fetching.
    Ready {
        scraped: Box<ScrapedArticle>,
        source: Option<SourceRef>,
    },
}

/// Messages to the writer thread.
enum WriterMsg {
    Article {
        article: Box<Article>,
        source_id: Option<i64>,
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

/// What an ingest did.
#[derive(Debug, Default)]
pub struct IngestReport {
    /// The counts kept in `runs`.
    pub counts: RunCounts,
    /// Articles written or left alone, in the order the writer saw them.
    pub stored: Vec<StoredItem>,
    /// Failures.
    pub failed: Vec<Problem>,
    /// Skips (robots.txt, content type, …).
    pub skipped: Vec<Problem>,
    /// Newest feed `updated` seen per source id, for sources read without failures.
    pub sources_read: Vec<(i64, Option<DateTime<Utc>>)>,
    /// True when the run was stopped before it finished.
    pub interrupted: bool,
}

#[derive(Default)]
struct Counters {
    discovered: AtomicU64,
    fetched: AtomicU64,
    not_modified: AtomicU64,
    skipped: AtomicU64,
    failed: AtomicU64,
}

struct Shared {
    fetcher: Fetcher,
    tagger: Arc<Tagger>,
    reader: Mutex<Store>,
    counters: Counters,
    failed: Mutex<Vec<Problem>>,
    skipped: Mutex<Vec<Problem>>,
    writer: mpsc::Sender<WriterMsg>,
}

impl Shared {
    fn fail(&self, url: &str, reason: String) {
        warn!(url, %reason, "failed");
        self.counters.failed.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut v) = self.failed.lock() {
            v.push(Problem {
                url: url.to_string(),
                reason,
            });
        }
    }

    fn skip(&self, url: &str, reason: String) {
        info!(url, %reason, "skipped");
        self.counters.skipped.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut v) = self.skipped.lock() {
            v.push(Problem {
                url: url.to_string(),
                reason,
            });
        }
    }

    fn validators(&self, url: &str) -> Option<FetchState> {
        let reader = self.reader.lock().ok()?;
        reader.fetch_state(url).ok().flatten()
    }
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
}

impl Ingest {
    /// Run the pipeline over `targets` to the end (or until cancelled).
    pub async fn run(&self, targets: Vec<Target>) -> Result<IngestReport> {
        let writer_store = Store::open(&self.db_path)
            .with_context(|| format!("opening database {}", self.db_path.display()))?;
        let reader = Store::open(&self.db_path)
            .with_context(|| format!("opening database {}", self.db_path.display()))?;
        let (writer_tx, writer_rx) = mpsc::channel::<WriterMsg>(WRITE_BATCH * 2);
        let writer = std::thread::Builder::new()
            .name("gleaner-writer".into())
            .spawn(move || write_loop(writer_store, writer_rx))
            .context("starting the writer thread")?;

        let shared = Arc::new(Shared {
            fetcher: self.fetcher.clone(),
            tagger: Arc::clone(&self.tagger),
            reader: Mutex::new(reader),
            counters: Counters::default(),
            failed: Mutex::new(Vec::new()),
            skipped: Mutex::new(Vec::new()),
            writer: writer_tx,
        });

        let (jobs_tx, mut jobs_rx) = mpsc::channel::<Job>(256);
        let discover_shared = Arc::clone(&shared);
        let discover_cancel = self.cancel.clone();
        let discovery = tokio::spawn(async move {
            let mut sources_read = Vec::new();
            for target in targets {
                if discover_cancel.is_cancelled() {
                    break;
                }
                match target {
                    Target::Page { url, source } => {
                        discover_shared
                            .counters
                            .discovered
                            .fetch_add(1, Ordering::Relaxed);
                        if jobs_tx.send(Job::Fetch { url, source }).await.is_err() {
                            break;
                        }
                    }
                    Target::Blog {
                        home,
                        source,
                        updated_min,
                    } => {
                        let newest = discover_blog(
                            &discover_shared,
                            &jobs_tx,
                            &home,
                            &source,
                            updated_min,
                            &discover_cancel,
                        )
                        .await;
                        if let Some(newest) = newest {
                            sources_read.push((source.id, newest));
                        }
                    }
                }
            }
            sources_read
        });

        let semaphore = Arc::new(Semaphore::new(self.concurrency.max(1)));
        let mut tasks = JoinSet::new();
        loop {
            let job = tokio::select! {
                biased;
                () = self.cancel.cancelled() => None,
                job = jobs_rx.recv() => job,
            };
            let Some(job) = job else { break };
            let permit = Arc::clone(&semaphore)
                .acquire_owned()
                .await
                .context("semaphore closed")?;
            let task_shared = Arc::clone(&shared);
            tasks.spawn(async move {
                handle_job(&task_shared, job).await;
                drop(permit);
            });
            // Reap finished tasks as we go so the set does not grow.
            while let Some(done) = tasks.try_join_next() {
                if let Err(e) = done {
                    warn!("a fetch task failed: {e}");
                }
            }
        }
        drop(jobs_rx);
        while let Some(done) = tasks.join_next().await {
            if let Err(e) = done {
                warn!("a fetch task failed: {e}");
            }
        }
        let sources_read = discovery.await.unwrap_or_default();
        let shared = match Arc::try_unwrap(shared) {
            Ok(s) => s,
            Err(_) => anyhow::bail!("pipeline tasks still running after the join"),
        };
        let Shared {
            counters,
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

        let failed = failed.into_inner().unwrap_or_default();
        let mut counts = written.counts;
        counts.discovered = counters.discovered.load(Ordering::Relaxed);
        counts.fetched = counters.fetched.load(Ordering::Relaxed);
        counts.not_modified = counters.not_modified.load(Ordering::Relaxed);
        counts.skipped = counters.skipped.load(Ordering::Relaxed);
        counts.failed = counters.failed.load(Ordering::Relaxed) + written.failed.len() as u64;
        let mut all_failed = failed;
        all_failed.extend(written.failed);
        let interrupted = self.cancel.is_cancelled();
        Ok(IngestReport {
            counts,
            stored: written.stored,
            sources_read: if all_failed.is_empty() && !interrupted {
                sources_read
            } else {
                Vec::new()
            },
            failed: all_failed,
            skipped: skipped.into_inner().unwrap_or_default(),
            interrupted,
        })
    }
}

/// Read a Blogger blog's feed page by page, queueing full posts and page fetches.
/// Returns the newest `updated` seen (`Some(None)` when the feed was read but empty),
/// or `None` when the feed could not be read.
async fn discover_blog(
    shared: &Shared,
    jobs: &mpsc::Sender<Job>,
    home: &str,
    source: &SourceRef,
    updated_min: Option<DateTime<Utc>>,
    cancel: &CancellationToken,
) -> Option<Option<DateTime<Utc>>> {
    let mut start: u64 = 1;
    let mut newest: Option<DateTime<Utc>> = None;
    loop {
        if cancel.is_cancelled() {
            return None;
        }
        let feed_url = blogger_feed::feed_url(home, start, FEED_PAGE_SIZE, updated_min);
        debug!(url = %feed_url, "reading feed page");
        let page = match shared
            .fetcher
            .fetch(&feed_url, &Validators::default())
            .await
        {
            Ok(FetchOutcome::Page(page)) => page,
            Ok(FetchOutcome::NotModified { .. }) => return Some(newest),
            Ok(FetchOutcome::Skipped { url, reason }) => {
                shared.skip(&url, reason);
                return None;
            }
            Err(e) => {
                shared.fail(&feed_url, format!("reading the blog feed: {e}"));
                return None;
            }
        };
        let body = page.body;
        let parsed = tokio::task::spawn_blocking(move || blogger_feed::parse_feed(&body)).await;
        let feed = match parsed {
            Ok(Ok(feed)) => feed,
            Ok(Err(e)) => {
                shared.fail(&feed_url, format!("reading the blog feed: {e}"));
                return None;
            }
            Err(e) => {
                shared.fail(&feed_url, format!("feed parser task: {e}"));
                return None;
            }
        };
        let count = feed.entries.len() as u64;
        for entry in feed.entries {
            shared.counters.discovered.fetch_add(1, Ordering::Relaxed);
            if let Some(updated) = entry.updated_at.map(|t| t.with_timezone(&Utc)) {
                newest = Some(newest.map_or(updated, |n| n.max(updated)));
            }
            let job = if entry.full_content {
                let mut scraped = entry.article;
                if scraped.url.is_empty() {
                    scraped.url = entry.url.clone();
                }
                Job::Ready {
                    scraped: Box::new(scraped),
                    source: Some(source.clone()),
                }
            } else {
                Job::Fetch {
                    url: entry.url,
                    source: Some(source.clone()),
                }
            };
            if jobs.send(job).await.is_err() {
                return None;
            }
        }
        if count == 0 || feed.next.is_none() {
            return Some(newest);
        }
        start += count;
    }
}

async fn handle_job(shared: &Shared, job: Job) {
    match job {
        Job::Ready { scraped, source } => {
            let url = scraped.url.clone();
            process_and_send(shared, *scraped, source, &url).await;
        }
        Job::Fetch { url, source } => fetch_and_process(shared, url, source).await,
    }
}

async fn fetch_and_process(shared: &Shared, url: String, source: Option<SourceRef>) {
    let previous = shared.validators(&url);
    let validators = previous
        .as_ref()
        .map(|s| Validators {
            etag: s.etag.clone(),
            last_modified: s.last_modified.clone(),
        })
        .unwrap_or_default();
    let now = Utc::now();
    let mut state = previous.unwrap_or_else(|| FetchState {
        url: url.clone(),
        ..FetchState::default()
    });
    state.fetched_at = Some(now);
    match shared.fetcher.fetch(&url, &validators).await {
        Ok(FetchOutcome::Page(page)) => {
            shared.counters.fetched.fetch_add(1, Ordering::Relaxed);
            state.etag = page.validators.etag.clone();
            state.last_modified = page.validators.last_modified.clone();
            state.last_status = Some(page.status);
            state.failures = 0;
            state.last_error = None;
            state.next_retry_at = None;
            let _ = shared.writer.send(WriterMsg::FetchState(state)).await;
            if page.truncated {
                warn!(url = %url, "page cut at the size limit; processing what arrived");
            }
            let final_url = page.final_url.clone();
            let body = page.body;
            let scrape_url = final_url.clone();
            let scraped = match tokio::task::spawn_blocking(move || {
                process::scrape(&body, &scrape_url)
            })
            .await
            {
                Ok(s) => s,
                Err(e) => {
                    shared.fail(&url, format!("scraper task: {e}"));
                    return;
                }
            };
            let scraped = complete_from_feed(shared, scraped).await;
            process_and_send(shared, scraped, source, &url).await;
        }
        Ok(FetchOutcome::NotModified { .. }) => {
            shared.counters.not_modified.fetch_add(1, Ordering::Relaxed);
            state.last_status = Some(304);
            let _ = shared.writer.send(WriterMsg::FetchState(state)).await;
        }
        Ok(FetchOutcome::Skipped {
            url: skipped_url,
            reason,
        }) => shared.skip(&skipped_url, reason),
        Err(e) => {
            state.failures = state.failures.saturating_add(1);
            state.last_error = Some(e.to_string());
            // Back off across runs: 1 h, 2 h, 4 h, … capped at a week.
            let hours = 1i64 << state.failures.min(7).saturating_sub(1);
            state.next_retry_at = Some(now + ChronoDuration::hours(hours.min(168)));
            let _ = shared.writer.send(WriterMsg::FetchState(state)).await;
            shared.fail(&url, e.to_string());
        }
    }
}

/// Dynamic Views pages carry no post in their HTML: take it from the post's feed entry.
async fn complete_from_feed(shared: &Shared, scraped: ScrapedArticle) -> ScrapedArticle {
    let Some(feed_url) = gleaner_scrape::dynamic_views_feed_url(&scraped) else {
        return scraped;
    };
    debug!(url = %scraped.url, feed = %feed_url, "no body in the page's HTML: reading the post's feed entry");
    let Ok(FetchOutcome::Page(page)) = shared
        .fetcher
        .fetch(&feed_url, &Validators::default())
        .await
    else {
        return scraped;
    };
    let Ok(Ok(feed)) =
        tokio::task::spawn_blocking(move || blogger_feed::parse_feed(&page.body)).await
    else {
        return scraped;
    };
    let Some(entry) = feed.entries.into_iter().next() else {
        return scraped;
    };
    let mut from_feed = entry.article;
    from_feed.url = scraped.url.clone();
    from_feed.canonical_url = scraped.canonical_url.clone().or(from_feed.canonical_url);
    from_feed.title = from_feed.title.or(scraped.title);
    from_feed.site_name = scraped.site_name.or(from_feed.site_name);
    from_feed.language_hint = scraped.language_hint.or(from_feed.language_hint);
    from_feed.blog_id = from_feed.blog_id.or(scraped.blog_id);
    from_feed.blogger_post_id = from_feed.blogger_post_id.or(scraped.blogger_post_id);
    from_feed
}

async fn process_and_send(
    shared: &Shared,
    scraped: ScrapedArticle,
    source: Option<SourceRef>,
    url: &str,
) {
    let tagger = Arc::clone(&shared.tagger);
    let fetched_at = Utc::now();
    let source_url = source.as_ref().map(|s| s.url.clone());
    let labels = source.as_ref().map(|s| Arc::clone(&s.labels));
    let done = tokio::task::spawn_blocking(move || {
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
            };
            if shared.writer.send(msg).await.is_err() {
                shared.fail(url, "the writer stopped".into());
            }
        }
        Ok(Err(no_article)) => shared.fail(url, no_article.to_string()),
        Err(e) => shared.fail(url, format!("processing task: {e}")),
    }
}

struct Written {
    counts: RunCounts,
    stored: Vec<StoredItem>,
    failed: Vec<Problem>,
}

/// The one writer: batches what arrives into transactions until every sender is gone.
fn write_loop(mut store: Store, mut rx: mpsc::Receiver<WriterMsg>) -> Result<Written> {
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
        let mut articles = Vec::new();
        for msg in batch {
            match msg {
                WriterMsg::Article { article, source_id } => articles.push((*article, source_id)),
                WriterMsg::FetchState(state) => {
                    if let Err(e) = store.record_fetch(&state) {
                        warn!(url = %state.url, "could not record fetch state: {e}");
                    }
                }
            }
        }
        if articles.is_empty() {
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
        for (url, result) in results {
            match result {
                Ok(up) => {
                    match up.outcome {
                        UpsertOutcome::Inserted => written.counts.stored += 1,
                        UpsertOutcome::Updated => written.counts.updated += 1,
                        UpsertOutcome::Unchanged => written.counts.unchanged += 1,
                    }
                    debug!(url = %url, id = up.id, outcome = ?up.outcome, "written");
                    written.stored.push(StoredItem {
                        id: up.id,
                        outcome: up.outcome,
                    });
                }
                Err(e) => {
                    warn!(url = %url, "could not store: {e}");
                    written.failed.push(Problem {
                        url,
                        reason: format!("storing: {e}"),
                    });
                }
            }
        }
    }
    Ok(written)
}
