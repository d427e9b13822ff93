//! `gleaner scrape` and `gleaner run`: the commands that fetch and store.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, anyhow};
use gleaner_fetch::Fetcher;
use gleaner_model::SourceKind;
use gleaner_store::{ArticleKey, RunStatus, Store};
use gleaner_tag::Tagger;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::cli::{ArticleFormat, RunArgs, ScrapeArgs};
use crate::config::{LoadedConfig, guess_source_kind};
use crate::output;
use crate::pipeline::{Ingest, IngestReport, SourceRef, Target};
use crate::{Exit, ExitError};

fn runtime() -> Result<tokio::runtime::Runtime, ExitError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("gleaner-io")
        .build()
        .context("starting the async runtime")
        .map_err(ExitError::from)
}

fn open_store(db: &Path) -> Result<Store, ExitError> {
    Store::open(db)
        .with_context(|| format!("opening database {}", db.display()))
        .map_err(ExitError::from)
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
) -> Result<Ingest, ExitError> {
    let fetcher =
        Fetcher::new(loaded.config.fetch.clone()).context("setting up the HTTP client")?;
    Ok(Ingest {
        fetcher,
        tagger: Arc::new(Tagger::new()),
        db_path: PathBuf::from(db),
        concurrency: loaded.config.fetch.concurrency,
        cancel,
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

fn print_problems(report: &IngestReport) {
    for p in &report.skipped {
        eprintln!("skipped {}: {}", p.url, p.reason);
    }
    for p in &report.failed {
        eprintln!("failed  {}: {}", p.url, p.reason);
    }
}

/// `gleaner scrape URL...`
pub fn scrape(loaded: &LoadedConfig, db: &Path, args: &ScrapeArgs) -> Result<Exit, ExitError> {
    for url in &args.urls {
        check_http_url(url)?;
    }
    let mut store = open_store(db)?;
    let mut targets = Vec::new();
    for url in &args.urls {
        if guess_source_kind(url) == SourceKind::Blogger {
            let id = store
                .ensure_source(SourceKind::Blogger, url, None)
                .context("recording the blog as a source")?;
            let source = SourceRef {
                id,
                url: url.clone(),
                labels: Arc::new(Vec::new()),
            };
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
    let ingest = build_ingest(loaded, db, cancel.clone())?;
    let report = rt.block_on(async {
        cancel_on_signals(&cancel);
        ingest.run(targets).await
    })?;

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
            ArticleFormat::Json => output::write_json_line(&mut stdout, &article)?,
            ArticleFormat::Text => {
                output::write_article_summary(&mut stdout, &article, Some(item.outcome))?
            }
        }
    }
    print_problems(&report);
    if report.interrupted {
        return Err(ExitError {
            code: Exit::Partial,
            error: anyhow!("interrupted before every page was read"),
        });
    }
    Ok(if report.failed.is_empty() {
        Exit::Ok
    } else {
        Exit::Partial
    })
}

/// Hold `<db>.lock` for the whole run. The OS drops the lock when the process dies, so a
/// killed run never leaves it stuck.
fn take_run_lock(db: &Path) -> Result<std::fs::File, ExitError> {
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

/// `gleaner run`
pub fn run(loaded: &LoadedConfig, db: &Path, args: &RunArgs) -> Result<Exit, ExitError> {
    let sources = &loaded.config.sources;
    if sources.is_empty() {
        let where_ = loaded
            .path
            .as_ref()
            .map_or("built-in defaults".to_string(), |p| p.display().to_string());
        return Err(ExitError::usage(anyhow!(
            "no [[sources]] in the config ({where_}): nothing to run"
        )));
    }
    let _lock = take_run_lock(db)?;
    let started = Instant::now();
    let mut store = open_store(db)?;
    let run_id = store.begin_run().context("recording the run")?;
    let known = store.sources().context("reading source state")?;
    let mut targets = Vec::new();
    let mut unsupported = Vec::new();
    for source in sources {
        let kind = source.effective_kind();
        let id = store
            .ensure_source(kind, &source.url, source.name.as_deref())
            .context("recording a source")?;
        let source_ref = SourceRef {
            id,
            url: source.url.clone(),
            labels: Arc::new(source.labels.clone()),
        };
        match kind {
            SourceKind::Blogger => {
                let updated_min = known
                    .iter()
                    .find(|k| k.id == id)
                    .and_then(|k| k.last_updated_seen);
                targets.push(Target::Blog {
                    home: source.url.clone(),
                    source: source_ref,
                    updated_min,
                });
            }
            SourceKind::Page => targets.push(Target::Page {
                url: source.url.clone(),
                source: Some(source_ref),
            }),
            SourceKind::Feed | SourceKind::Sitemap => unsupported.push((source.url.clone(), kind)),
        }
    }
    drop(store);
    for (url, kind) in &unsupported {
        warn!(
            url,
            "{kind} sources are not read yet in this version; skipping it"
        );
    }

    let rt = runtime()?;
    let cancel = CancellationToken::new();
    let ingest = build_ingest(loaded, db, cancel.clone())?;
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
        ingest.run(targets).await
    });

    let mut store = open_store(db)?;
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            let _ = store.finish_run(run_id, RunStatus::Failed, &Default::default());
            return Err(e.into());
        }
    };
    for (source_id, newest) in &report.sources_read {
        store
            .mark_source_read(*source_id, *newest)
            .context("recording source state")?;
    }
    let mut counts = report.counts;
    counts.skipped += unsupported.len() as u64;
    let status = if report.interrupted {
        RunStatus::Interrupted
    } else if counts.failed > 0 {
        RunStatus::Partial
    } else {
        RunStatus::Ok
    };
    store
        .finish_run(run_id, status, &counts)
        .context("recording the run's end")?;
    print_problems(&report);
    info!(
        run = run_id,
        status = ?status,
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
    Ok(match status {
        RunStatus::Ok => Exit::Ok,
        _ => Exit::Partial,
    })
}
