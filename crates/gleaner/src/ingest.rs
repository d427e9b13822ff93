//! `gleaner scrape` and `gleaner run`: the commands that fetch and store.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, anyhow};
use chrono::{DateTime, Utc};
use gleaner_fetch::Fetcher;
use gleaner_model::SourceKind;
use gleaner_store::{AnyStore, ArticleKey, RunStatus};
use gleaner_tag::Tagger;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::cli::{ArticleFormat, RunArgs, ScrapeArgs};
use crate::config::{LoadedConfig, guess_source_kind};
use crate::output;
use crate::pipeline::{self, Ingest, IngestReport, MAX_LISTED_PROBLEMS, SourceRef, Target};
use crate::progress::{self, Progress};
use crate::source_state;
use crate::{Exit, ExitError};

/// The runtime: async workers for sockets and channels, and a small blocking pool for the few
/// blocking calls left on it (joining the writer, saving source state); scraping, cleaning and
/// tagging run on the CPU pool (`cpu_pool`, one thread a core), not here.
fn runtime() -> Result<tokio::runtime::Runtime, ExitError> {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("gleaner-io")
        .max_blocking_threads((cores * 2).max(4))
        .build()
        .context("starting the async runtime")
        .map_err(ExitError::from)
}

fn open_store(db: &Path) -> Result<AnyStore, ExitError> {
    let store = AnyStore::open_path(db)
        .with_context(|| format!("opening database {}", crate::read::shown(db)))
        .map_err(ExitError::from)?;
    // Memory that does not grow with the database (see the pipeline's connections).
    store.bound_memory(pipeline::READER_CACHE_KIB);
    Ok(store)
}

fn check_http_url(url: &str) -> Result<(), ExitError> {
    let parsed =
        url::Url::parse(url).map_err(|e| ExitError::usage(anyhow!("{url:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ExitError::usage(anyhow!(
            "{url:?}: only http and https URLs can be scraped"
        )));
    }
    Ok(())
}

fn build_ingest(
    loaded: &LoadedConfig,
    db: &Path,
    cancel: CancellationToken,
    honour_backoff: bool,
    list_stored: bool,
) -> Result<Ingest, ExitError> {
    let fetcher =
        Fetcher::new(loaded.config.fetch.clone()).context("setting up the HTTP client")?;
    Ok(Ingest {
        fetcher,
        tagger: Arc::new(Tagger::new()),
        db_path: PathBuf::from(db),
        concurrency: loaded.config.fetch.concurrency,
        cancel,
        honour_backoff,
        counters: Arc::default(),
        list_stored,
    })
}

/// Stop taking new work on SIGINT / SIGTERM; the pipeline then finishes what is in flight.
fn cancel_on_signals(cancel: &CancellationToken) {
    let token = cancel.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut term) = signal(SignalKind::terminate()) else {
                return;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        warn!("stop requested: finishing what is in flight, taking no new work");
        token.cancel();
    });
}

/// Runs left `running` by a process that was killed (we hold the lock, so none is live)
/// are marked `interrupted`.
fn close_abandoned_runs(store: &AnyStore) {
    if let Err(e) = store.close_abandoned_runs() {
        warn!("could not close the runs a killed process left open: {e}");
    }
}

/// Pages that failed on an earlier run and whose `next_retry_at` has come. Listing
/// documents (feed pages, sitemaps) are recorded with no `next_retry_at` and are not
/// among them: every run reads them again anyway.
fn due_retries(store: &AnyStore) -> Result<Vec<String>, ExitError> {
    store
        .due_retries(chrono::Utc::now())
        .context("reading the pages due for another try")
        .map_err(ExitError::from)
}

/// Pages of a blog (on its home's origin) that failed before, due or not: `gleaner scrape`
/// of the blog's home tries them again now (the user asked now), even when the feed pages
/// that list them are unchanged.
fn failed_pages_of(store: &AnyStore, home: &str) -> Result<Vec<String>, ExitError> {
    let Ok(parsed) = url::Url::parse(home) else {
        return Ok(Vec::new());
    };
    let prefix = format!("{}/", parsed.origin().ascii_serialization());
    store
        .failed_pages_under(&prefix)
        .context("reading the blog's pages that failed before")
        .map_err(ExitError::from)
}

/// A blog's feed read that an earlier run left unfinished (see [`pipeline::Sweep`]).
fn saved_sweep(store: &AnyStore, source_id: i64) -> Result<Option<pipeline::Sweep>, ExitError> {
    let saved = store
        .source_sweep(source_id)
        .context("reading a source's unfinished feed read")?;
    Ok(saved.and_then(|s| pipeline::Sweep::from_saved(&s.cursor, s.started_at, s.newest)))
}

/// The `updated-min` a blog is read from in this run, `None` for a whole read (every post,
/// newest published first; posts the database knows and that were not updated since the
/// cut-off cost nothing but their share of a feed page).
///
/// An incremental read asks for the posts updated since the cut-off, and its published-since
/// read for those published since: a post that first appears with both times older (a draft
/// or a post backdated by its author made public late, a post restored from the trash, one
/// imported from another blog) is in neither, however many runs go by. So the first run of
/// each UTC day reads the blog whole (a feed page per 150 posts a day), and a whole read that
/// an earlier run left unfinished is taken up before any incremental one.
fn blog_updated_min(
    last_seen: Option<DateTime<Utc>>,
    last_run_at: Option<DateTime<Utc>>,
    sweep: Option<&pipeline::Sweep>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let whole_read_unfinished =
        sweep.is_some_and(|s| s.order == gleaner_scrape::blogger_feed::FeedOrder::Published);
    let new_day = last_run_at.is_none_or(|t| t.date_naive() < now.date_naive());
    if whole_read_unfinished || new_day {
        return None;
    }
    last_seen
}

/// The configured source a retried page most likely came from: the first on its origin.
fn source_for_url(sources: &[SourceRef], url: &str) -> Option<SourceRef> {
    let urls: Vec<&str> = sources.iter().map(|s| s.url.as_str()).collect();
    source_state::source_index_for(&urls, url).and_then(|i| sources.get(i).cloned())
}

/// Every skip and failure once, together at the end of the run, in the log's format (so
/// `--log-format json` stays machine-readable and cron mail lists them in one place).
/// Each list holds at most `MAX_LISTED_PROBLEMS`; the rest are only counted.
fn log_problems(report: &IngestReport) {
    for p in &report.skipped {
        info!(url = %p.url, reason = %p.reason, "skipped");
    }
    let more_skipped = report
        .counts
        .skipped
        .saturating_sub(report.skipped.len() as u64);
    if report.skipped.len() >= MAX_LISTED_PROBLEMS && more_skipped > 0 {
        info!(more = more_skipped, "more skipped, not listed");
    }
    for p in &report.failed {
        warn!(url = %p.url, reason = %p.reason, "failed");
    }
    let more_failed = report
        .counts
        .failed
        .saturating_sub(report.failed.len() as u64);
    if report.failed.len() >= MAX_LISTED_PROBLEMS && more_failed > 0 {
        warn!(more = more_failed, "more failed, not listed");
    }
}

/// `gleaner scrape URL...`
pub fn scrape(loaded: &LoadedConfig, db: &Path, args: &ScrapeArgs) -> Result<Exit, ExitError> {
    for url in &args.urls {
        check_http_url(url)?;
    }
    let mut store = open_store(db)?;
    let mut targets = Vec::new();
    let mut blogs: Vec<SourceRef> = Vec::new();
    for url in &args.urls {
        if guess_source_kind(url) == SourceKind::Blogger {
            let id = store
                .ensure_source(SourceKind::Blogger, url, None)
                .context("recording the blog as a source")?;
            let source = SourceRef {
                id,
                url: url.clone(),
                labels: Arc::new(Vec::new()),
                fetcher: None,
                last_seen: None,
                sweep: saved_sweep(&store, id)?,
            };
            blogs.push(source.clone());
            for page in failed_pages_of(&store, url)? {
                targets.push(Target::Retry {
                    url: page,
                    source: Some(source.clone()),
                });
            }
            targets.push(Target::Blog {
                home: url.clone(),
                source,
                updated_min: None,
            });
        } else {
            targets.push(Target::Page {
                url: url.clone(),
                source: None,
            });
        }
    }
    drop(store);

    let rt = runtime()?;
    let cancel = CancellationToken::new();
    let ingest = build_ingest(loaded, db, cancel.clone(), false, true)?;
    let progress = Progress::start(Arc::clone(&ingest.counters), progress::wanted());
    let report = rt.block_on(async {
        cancel_on_signals(&cancel);
        ingest.run(targets).await
    });
    progress.finish();
    let report = report?;

    let store = open_store(db)?;
    let mut stdout = std::io::stdout().lock();
    for item in &report.stored {
        let Some(article) = store
            .article(ArticleKey::Id(item.id))
            .context("reading back a stored article")?
        else {
            continue;
        };
        match args.format {
            ArticleFormat::Json => {
                output::write_json_line(&mut stdout, &article)?;
                // The article is printed every time; what happened to it goes to stderr,
                // so stdout stays the contract's JSON shape.
                info!(
                    id = item.id,
                    url = %article.url,
                    outcome = output::outcome_word(item.outcome),
                    "article"
                );
            }
            ArticleFormat::Text => {
                output::write_article_summary(&mut stdout, &article, Some(item.outcome))?
            }
        }
    }
    log_problems(&report);
    if report.interrupted {
        return Err(ExitError {
            code: Exit::Partial,
            error: anyhow!("interrupted before every page was read"),
        });
    }
    warn_incomplete_reads(&report, &blogs);
    Ok(if report.counts.failed == 0 && all_read(&report) {
        Exit::Ok
    } else {
        Exit::Partial
    })
}

/// Every source's listing was read to its end (nothing is owed to a later run).
fn all_read(report: &IngestReport) -> bool {
    report.sources.iter().all(|r| r.complete)
}

/// One warning per source whose listing was read only in part.
fn warn_incomplete_reads(report: &IngestReport, refs: &[SourceRef]) {
    for read in report.sources.iter().filter(|r| !r.complete) {
        let url = refs
            .iter()
            .find(|s| s.id == read.id)
            .map_or("", |s| s.url.as_str());
        warn!(
            url = %url,
            "source read in part: the next run goes on from where this one stopped"
        );
    }
}

/// Hold `<db>.lock` for the whole run. The OS drops the lock when the process dies, so a
/// killed run never leaves it stuck. The lock is next to the file the path leads to, links
/// followed: a run given a symbolic link to the database (or to its folder) and one given the
/// real path take one lock, not two.
fn take_run_lock(db: &Path) -> Result<std::fs::File, ExitError> {
    let db = real_path(db);
    let mut lock_path = db.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening lock file {}", lock_path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(ExitError {
            code: Exit::Locked,
            error: anyhow!(
                "another gleaner run holds {}; not starting a second one",
                lock_path.display()
            ),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(ExitError::from(
            anyhow!(e).context(format!("locking {}", lock_path.display())),
        )),
    }
}

/// The file `path` leads to, symbolic links followed: the path itself when it exists, else
/// (a database not created yet, or a link to one) the link's target or its folder's real path
/// with the file name; `path` as given when neither can be resolved.
fn real_path(path: &Path) -> PathBuf {
    let mut path = path.to_path_buf();
    // A link to a link …: followed a few times, as the OS does (without looping for ever).
    for _ in 0..8 {
        if let Ok(real) = std::fs::canonicalize(&path) {
            return real;
        }
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        match std::fs::read_link(&path) {
            // A dangling link: where it points.
            Ok(target) => path = folder.join(target),
            Err(_) => {
                return match (std::fs::canonicalize(&folder), path.file_name()) {
                    (Ok(folder), Some(name)) => folder.join(name),
                    _ => path,
                };
            }
        }
    }
    path
}

/// A database another process holds locked past the busy timeout when a run starts (a
/// long write, a backup, an `sqlite3` shell in a transaction) is exit 3, like another run's
/// lock: nothing was fetched or stored, and the next run simply tries again (it was exit 1,
/// "some items failed", which a cron wrapper reads as a run that stored the rest).
fn locked_elsewhere(e: ExitError) -> ExitError {
    let busy = e.error.chain().any(|cause| {
        cause
            .downcast_ref::<gleaner_store::StoreError>()
            .is_some_and(gleaner_store::StoreError::is_busy)
    });
    if !busy {
        return e;
    }
    ExitError {
        code: Exit::Locked,
        error: e.error.context(
            "another process holds the database locked; not starting (the next run tries again)",
        ),
    }
}

/// Pages claimed per round of [`take_over_work`] (at most [`pipeline::MAX_UNCOMMITTED_PAGES`]
/// are fetched and not yet committed at a time anyway).
const TAKE_OVER_BATCH: usize = 32;

/// Cooperative workers (PostgreSQL): once this worker's own reading is done, take the work
/// left open by others: pages the sources' readers queued for everyone, pages of workers that
/// died holding them and listings whose reader died (their leases ran out), until nothing of
/// the crawl is open. Work other workers hold is waited for: one of them may still die.
/// Counts of the takeover runs are added to the report (stored, updated; fetches are
/// counted by the shared counters already).
async fn take_over_work(
    ingest: &Ingest,
    db: &Path,
    refs: &[SourceRef],
    sources: &[Target],
    cancel: &CancellationToken,
    report: anyhow::Result<IngestReport>,
) -> anyhow::Result<IngestReport> {
    let mut report = report?;
    if report.interrupted {
        return Ok(report);
    }
    let mut store = open_store(db).map_err(|e| e.error)?;
    let patience = gleaner_store::lease_ttl() * 3;
    let mut idle_since = Instant::now();
    let mut last_open = u64::MAX;
    while !cancel.is_cancelled() {
        let taken = store
            .take_over_work(TAKE_OVER_BATCH)
            .context("taking over work")?;
        if taken.open == 0 {
            break;
        }
        if taken.pages.is_empty() && taken.listings.is_empty() {
            if taken.open < last_open {
                idle_since = Instant::now();
                last_open = taken.open;
            } else if idle_since.elapsed() > patience {
                warn!(
                    open = taken.open,
                    "work other workers hold is not finishing; leaving it to the next run"
                );
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            continue;
        }
        if !taken.listings.is_empty() {
            info!(
                sources = taken.listings.len(),
                "reading listings a stopped worker left"
            );
        }
        debug!(
            pages = taken.pages.len(),
            "taking pages from the shared queue"
        );
        let mut targets: Vec<Target> = taken
            .listings
            .iter()
            .filter_map(|url| {
                sources
                    .iter()
                    .find(|t| t.listing_source_url() == Some(url.as_str()))
            })
            .cloned()
            .collect();
        targets.extend(taken.pages.into_iter().map(|url| {
            let source = source_for_url(refs, &url);
            Target::Page { url, source }
        }));
        let more = ingest.run(targets).await?;
        report.counts.stored += more.counts.stored;
        report.counts.updated += more.counts.updated;
        report.counts.unchanged += more.counts.unchanged;
        report.counts.fetched = more.counts.fetched;
        report.counts.not_modified = more.counts.not_modified;
        report.counts.failed = report.counts.failed.max(more.counts.failed);
        report.failed.extend(more.failed);
        report.sources.extend(more.sources);
        report.interrupted |= more.interrupted;
        idle_since = Instant::now();
    }
    Ok(report)
}

/// The worker's heartbeat (PostgreSQL): every third of the lease time, on a connection of
/// its own, extend every lease this worker holds, so a live worker never loses its work to
/// another however long a page or a commit takes; a dead one stops renewing and its leases
/// run out. Stops when the returned sender is dropped.
fn start_heartbeat(db: &Path) -> anyhow::Result<std::sync::mpsc::Sender<()>> {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let mut store = open_store(db).map_err(|e| e.error)?;
    let beat = gleaner_store::lease_ttl() / 3;
    std::thread::Builder::new()
        .name("gleaner-heartbeat".into())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(beat) {
                match store.renew_leases() {
                    Ok(n) => debug!(leases = n, "leases renewed"),
                    Err(e) => warn!("could not renew this worker's leases: {e}"),
                }
            }
        })
        .context("starting the lease heartbeat")?;
    Ok(stop)
}

/// The `[[sources]]` entries, each source once: an entry of the kind of an earlier one whose
/// address differs only in scheme, host case, a trailing `/` or `?m=1`
/// ([`source_state::same_source_key`]) is left out, with a warning (its name, labels and
/// fetch settings unused). Read twice, every page of the source was fetched once per entry.
fn distinct_sources(sources: &[crate::config::SourceConfig]) -> Vec<crate::config::SourceConfig> {
    let mut seen: std::collections::HashMap<(SourceKind, String), &str> =
        std::collections::HashMap::with_capacity(sources.len());
    let mut out = Vec::with_capacity(sources.len());
    for source in sources {
        let kind = source.effective_kind();
        // An address that does not parse is its own key (it fails alone, as before).
        let key = source_state::same_source_key(&source.url).unwrap_or_else(|| source.url.clone());
        match seen.entry((kind, key)) {
            std::collections::hash_map::Entry::Occupied(first) => {
                warn!(
                    url = %source.url,
                    first = %first.get(),
                    "a [[sources]] entry repeats an earlier one: read once, under the first's address and settings"
                );
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(source.url.as_str());
                out.push(source.clone());
            }
        }
    }
    out
}

/// `gleaner run`
pub fn run(loaded: &LoadedConfig, db: &Path, args: &RunArgs) -> Result<Exit, ExitError> {
    let sources = &distinct_sources(&loaded.config.sources);
    if sources.is_empty() {
        let where_ = loaded
            .path
            .as_ref()
            .map_or("built-in defaults".to_string(), |p| p.display().to_string());
        return Err(ExitError::usage(anyhow!(
            "no [[sources]] in the config ({where_}): nothing to run"
        )));
    }
    // The lock (exit 3) is per SQLite file; on PostgreSQL concurrent runs are the point.
    let _lock = if AnyStore::path_is_postgres(db) {
        None
    } else {
        Some(take_run_lock(db)?)
    };
    let started = Instant::now();
    // Pages recorded by other workers since now are theirs; earlier ones a past run's.
    gleaner_store::run_started();
    let mut store = open_store(db).map_err(locked_elsewhere)?;
    close_abandoned_runs(&store);
    // Workers sharing a store read each host's robots.txt once for all of them.
    let robots: Option<Arc<dyn gleaner_fetch::SharedRobots>> = if store.is_shared() {
        Some(Arc::new(crate::shared_robots::StoreRobots::new(
            open_store(db)?,
        )))
    } else {
        None
    };
    let share_robots = |fetcher: &Fetcher| {
        if let Some(robots) = &robots {
            fetcher.share_robots(Arc::clone(robots));
        }
    };
    let file = pipeline::DbFile::of(db);
    let run_id = store
        .begin_run()
        .context("recording the run")
        .map_err(|e| locked_elsewhere(e.into()))?;
    let known = store.sources().context("reading source state")?;
    let mut targets = Vec::new();
    let mut refs: Vec<SourceRef> = Vec::new();
    for source in sources {
        let kind = source.effective_kind();
        let id = store
            .ensure_source(kind, &source.url, source.name.as_deref())
            .context("recording a source")?;
        let fetcher = match &source.fetch_config {
            Some(config) => Some(
                Fetcher::new(config.clone())
                    .with_context(|| format!("setting up the HTTP client of {}", source.url))?,
            ),
            None => None,
        };
        if let Some(fetcher) = &fetcher {
            share_robots(fetcher);
        }
        // A cut-off in the future (a wrong date saved by an older version) would hide every
        // new post: treated as absent, so the blog is read whole and the cut-off replaced.
        let last_seen = known
            .iter()
            .find(|k| k.id == id)
            .and_then(|k| k.last_updated_seen)
            .filter(|t| *t <= chrono::Utc::now() - crate::pipeline::CLOCK_SKEW);
        let sweep = saved_sweep(&store, id)?;
        let last_run_at = known
            .iter()
            .find(|k| k.id == id)
            .and_then(|k| k.last_run_at);
        let updated_min = blog_updated_min(last_seen, last_run_at, sweep.as_ref(), Utc::now());
        let source_ref = SourceRef {
            id,
            url: source.url.clone(),
            labels: Arc::new(source.labels.clone()),
            fetcher,
            last_seen,
            sweep,
        };
        refs.push(source_ref.clone());
        targets.push(match kind {
            SourceKind::Blogger => Target::Blog {
                home: source.url.clone(),
                source: source_ref,
                updated_min,
            },
            SourceKind::Feed => Target::Feed {
                url: source.url.clone(),
                source: source_ref,
            },
            SourceKind::Sitemap => Target::Sitemap {
                url: source.url.clone(),
                source: source_ref,
            },
            SourceKind::Page => Target::Page {
                url: source.url.clone(),
                source: Some(source_ref),
            },
        });
    }
    for url in due_retries(&store)? {
        let source = source_for_url(&refs, &url);
        targets.push(Target::Retry { url, source });
    }
    let shared = store.is_shared();
    drop(store);
    let listing_targets: Vec<Target> = targets
        .iter()
        .filter(|t| t.listing_source_url().is_some())
        .cloned()
        .collect();
    let _heartbeat = if shared {
        Some(start_heartbeat(db)?)
    } else {
        None
    };

    let rt = runtime()?;
    let cancel = CancellationToken::new();
    let ingest = build_ingest(loaded, db, cancel.clone(), true, false)?;
    share_robots(&ingest.fetcher);
    let counters_handle = Arc::clone(&ingest.counters);
    let progress = Progress::start(Arc::clone(&ingest.counters), progress::wanted());
    let report = rt.block_on(async {
        cancel_on_signals(&cancel);
        if let Some(limit) = args.max_duration {
            let token = cancel.clone();
            tokio::spawn(async move {
                tokio::time::sleep(limit).await;
                warn!("--max-duration reached: finishing what is in flight");
                token.cancel();
            });
        }
        let report = ingest.run(targets).await;
        if shared {
            take_over_work(&ingest, db, &refs, &listing_targets, &cancel, report).await
        } else {
            report
        }
    });
    progress.finish();

    let report = match report {
        Ok(r) => r,
        Err(e) => {
            // Not into a file that replaced the run's own (it holds other runs).
            if file.check(db).is_ok() {
                let mut store = open_store(db)?;
                let _ = store.finish_run(run_id, RunStatus::Failed, &Default::default());
            }
            return Err(e.into());
        }
    };
    let mut store = open_store(db)?;
    let counts = report.counts;
    // Ok only when nothing is owed: no page failed and every source was read to its end.
    let status = if report.interrupted {
        RunStatus::Interrupted
    } else if counts.failed > 0 || !all_read(&report) {
        RunStatus::Partial
    } else {
        RunStatus::Ok
    };
    store
        .finish_run(run_id, status, &counts)
        .context("recording the run's end")?;
    log_problems(&report);
    if !report.interrupted {
        warn_incomplete_reads(&report, &refs);
    }
    info!(
        run = run_id,
        status = status.as_str(),
        discovered = counts.discovered,
        fetched = counts.fetched,
        not_modified = counts.not_modified,
        stored = counts.stored,
        updated = counts.updated,
        unchanged = counts.unchanged,
        skipped = counts.skipped,
        failed = counts.failed,
        seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
        "run finished"
    );
    let busy = |n: &std::sync::atomic::AtomicU64| {
        format!(
            "{:.2}",
            n.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e9
        )
    };
    debug!(
        discover_secs = busy(&counters_handle.discover_nanos),
        fetch_secs = busy(&counters_handle.fetch_nanos),
        process_secs = busy(&counters_handle.process_nanos),
        write_secs = busy(&counters_handle.write_nanos),
        "time per stage, summed over tasks (discover: fetching and parsing feed pages and sitemaps; fetch: waiting for HTTP for pages, limits included; process: scrape, clean and tag on the CPU pool; write: the writer in SQLite)"
    );
    Ok(match status {
        RunStatus::Ok => Exit::Ok,
        _ => Exit::Partial,
    })
}

/// What an error page served with status 200 stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServedError {
    /// A server error, a maintenance page or a bot check: the page is there, try again later.
    Temporary,
    /// "Page not found": like a 404.
    Gone,
}

/// Most words an error page has; a longer page is an article whatever its title says.
const ERROR_PAGE_MAX_WORDS: u32 = 120;

/// Whether a page answered 200 is in fact an error page: its title is an HTTP error's
/// ("503 Service Unavailable", "Error 404", "Page not found"), a bot check's ("Just a
/// moment...", "Attention Required! | Cloudflare") or a CMS's that lost its database or is in
/// maintenance, or its few words are such a message, and it has at most
/// [`ERROR_PAGE_MAX_WORDS`] words. Stored, it replaced the post at that address (`updated`,
/// run `ok`), and the real post, no longer listed as changed, was never fetched again.
pub(crate) fn served_error_page(title: &str, body: &str, words: u32) -> Option<ServedError> {
    if words > ERROR_PAGE_MAX_WORDS {
        return None;
    }
    let title = title
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let body = body.to_lowercase();
    const TEMPORARY: [&str; 13] = [
        "service unavailable",
        "service temporarily unavailable",
        "internal server error",
        "bad gateway",
        "gateway timeout",
        "gateway time-out",
        "too many requests",
        "database error",
        "error establishing a database connection",
        "briefly unavailable for scheduled maintenance",
        "just a moment...",
        "attention required! | cloudflare",
        "access denied",
    ];
    const GONE: [&str; 4] = ["page not found", "not found", "404 not found", "410 gone"];
    // A title that is an HTTP status: "503", "503 Service Unavailable", "Error 502",
    // "HTTP Error 500", "404 - File or directory not found."
    let status = {
        let t = title
            .strip_prefix("http error ")
            .or_else(|| title.strip_prefix("error "))
            .unwrap_or(&title);
        let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
        let rest = t[digits.len()..].trim_start();
        const PHRASES: [&str; 11] = [
            "not found",
            "forbidden",
            "gone",
            "service",
            "internal server error",
            "bad gateway",
            "gateway",
            "too many requests",
            "unauthorized",
            "bad request",
            "error",
        ];
        let status_line = rest.is_empty()
            || rest.starts_with(['|', '-', '–', '—', ':', '.'])
            || PHRASES.iter().any(|p| rest.starts_with(p));
        (digits.len() == 3 && status_line)
            .then(|| digits.parse::<u16>().ok())
            .flatten()
            .filter(|s| (400..600).contains(s))
    };
    match status {
        Some(404 | 410) => return Some(ServedError::Gone),
        Some(_) => return Some(ServedError::Temporary),
        None => {}
    }
    // The message alone, or followed by the site's name after a separator.
    let titled = |t: &str| {
        title.strip_prefix(t).is_some_and(|rest| {
            rest.is_empty() || rest.trim_start().starts_with(['|', '-', '–', '—', ':'])
        })
    };
    const BODY: [&str; 3] = [
        "error establishing a database connection",
        "briefly unavailable for scheduled maintenance",
        "checking if the site connection is secure",
    ];
    if TEMPORARY.iter().any(|t| titled(t)) || BODY.iter().any(|t| body.contains(t)) {
        return Some(ServedError::Temporary);
    }
    // A title that is only "Not Found" is a soft 404 when the page says so, or says next to
    // nothing: a short post of that name (a column, a poem, an album review) says neither,
    // and was retried for good, never stored.
    let bare_title = title.trim_end_matches(['.', '!']);
    if GONE.contains(&bare_title) {
        // The title repeated as the heading is not the page saying so.
        let said = body.trim_start();
        let said = said.strip_prefix(bare_title).unwrap_or(said);
        if words <= BARE_PAGE_WORDS || NOT_FOUND_SAID.iter().any(|p| said.contains(p)) {
            return Some(ServedError::Gone);
        }
    }
    None
}

/// Most words of a page that says nothing but its title ("Not Found" and a search box).
const BARE_PAGE_WORDS: u32 = 20;

/// What a "not found" page says besides its title (lower case).
const NOT_FOUND_SAID: [&str; 17] = [
    "not found",
    "not be found",
    "can't be found",
    "can’t be found",
    "couldn't be found",
    "couldn’t be found",
    "nothing was found",
    "nothing found",
    "does not exist",
    "doesn't exist",
    "doesn’t exist",
    "no longer exist",
    "no longer available",
    "page you",
    "been removed",
    "been deleted",
    "404",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_pages_served_as_200_are_told_from_articles() {
        let short = "The server is temporarily unable to service your request.";
        for (title, body) in [
            ("503 Service Unavailable", short),
            ("Service Unavailable", short),
            ("Error 502", short),
            ("HTTP Error 500", short),
            ("Database Error", "Error establishing a database connection"),
            ("", "Error establishing a database connection"),
            (
                "Maintenance",
                "Briefly unavailable for scheduled maintenance. Check back in a minute.",
            ),
            (
                "Just a moment...",
                "Checking if the site connection is secure.",
            ),
            (
                "Attention Required! | Cloudflare",
                "Sorry, you have been blocked.",
            ),
        ] {
            assert_eq!(
                served_error_page(title, body, 12),
                Some(ServedError::Temporary),
                "{title}"
            );
        }
        for title in [
            "404 Not Found",
            "Page not found",
            "Not Found",
            "404 - File or directory not found.",
            "Error 404",
        ] {
            assert_eq!(
                served_error_page(title, "", 3),
                Some(ServedError::Gone),
                "{title}"
            );
        }
        for (title, words) in [
            ("Harbour fees rise", 12),
            ("503 Service Unavailable", 400),
            ("2024 in review", 12),
            ("404 days at sea", 12),
            ("Access denied to the quay for lorries", 80),
            ("Not found: the missing ferry", 60),
        ] {
            assert_eq!(served_error_page(title, "Text.", words), None, "{title}");
        }
        // A soft 404 says so, or says next to nothing; a short post of that title does not.
        for body in [
            "Sorry, the page you were looking for could not be found.",
            "Oops! That page can’t be found. Try a search instead.",
            "It looks like nothing was found at this location.",
            "The requested URL was not found on this server.",
        ] {
            assert_eq!(
                served_error_page("Not Found", body, 60),
                Some(ServedError::Gone),
                "{body}"
            );
        }
        let post = "We searched the harbour for the old bell all winter, and in the spring the \
                    divers gave up; the bell is still somewhere under the north quay.";
        assert_eq!(served_error_page("Not Found", post, 60), None);
        let headed = format!("Not Found. {post}");
        assert_eq!(served_error_page("Not Found", &headed, 62), None);
        assert_eq!(served_error_page("Not found.", post, 30), None);
    }
}
