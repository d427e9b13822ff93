//! The commands that only read: `query`, `show`, `entities`, `stats`, `sources`, `export`,
//! and the offline ones, `extract` and `tag`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow};
use chrono::{DateTime, Utc};
use gleaner_model::{Article, ScrapedArticle};
use gleaner_store::{AnyStore, ArticleKey, EntityQuery, SearchQuery};
use gleaner_tag::Tagger;
use serde::Serialize;

use crate::cli::{
    ArticleFormat, EntitiesArgs, ExportArgs, ExportFormat, ExtractArgs, Filters, ListFormat,
    QueryArgs, ShowArgs, TagArgs,
};
use crate::config::LoadedConfig;
use crate::output::{self, time, write_json_line, write_json_pretty, write_table};
use crate::timespec::parse_since;
use crate::{Exit, ExitError, process};

/// Open an existing database; reading commands never create one.
fn open_existing(db: &Path) -> Result<AnyStore, ExitError> {
    if !AnyStore::path_is_postgres(db) && !db.exists() {
        return Err(ExitError::usage(anyhow!(
            "database {} does not exist yet: `gleaner scrape URL` or `gleaner run` creates it",
            db.display()
        )));
    }
    AnyStore::open_path(db)
        .with_context(|| format!("opening database {}", shown(db)))
        .map_err(ExitError::from)
}

/// A database path or address for messages (a password in an address hidden).
pub fn shown(db: &Path) -> String {
    gleaner_store::pg::redact_url(&db.to_string_lossy())
}

fn parse_time(value: Option<&str>) -> Result<Option<DateTime<Utc>>, ExitError> {
    value
        .map(|v| parse_since(v, Utc::now()))
        .transpose()
        .map_err(ExitError::usage)
}

fn search_query(
    terms: &[String],
    filters: &Filters,
    limit: usize,
    offset: usize,
) -> Result<SearchQuery, ExitError> {
    let joined = terms.join(" ");
    Ok(SearchQuery {
        terms: (!joined.trim().is_empty()).then_some(joined),
        entities: filters.entity.clone(),
        kind: filters.kind,
        source: filters.source.clone(),
        label: filters.label.clone(),
        author: filters.author.clone(),
        since: parse_time(filters.since.as_deref())?,
        until: parse_time(filters.until.as_deref())?,
        limit,
        offset,
    })
}

fn store_error(e: gleaner_store::StoreError) -> ExitError {
    match e {
        e @ gleaner_store::StoreError::BadQuery { .. } => ExitError::usage(e),
        e => ExitError::from(e),
    }
}

/// A search hit as JSON / CSV.
#[derive(Serialize)]
struct HitRow {
    id: i64,
    url: String,
    title: String,
    author: Option<String>,
    #[serde(with = "gleaner_model::rfc3339_opt")]
    published_at: Option<DateTime<Utc>>,
    snippet: Option<String>,
    rank: Option<f64>,
}

/// `gleaner query`
pub fn query(db: &Path, args: &QueryArgs) -> Result<Exit, ExitError> {
    let store = open_existing(db)?;
    let q = search_query(&args.terms, &args.filters, args.limit, args.offset)?;
    let hits = store.search(&q).map_err(store_error)?;
    let rows: Vec<HitRow> = hits
        .into_iter()
        .map(|h| HitRow {
            id: h.id,
            url: h.url,
            title: h.title,
            author: h.author,
            published_at: h.published_at,
            snippet: h.snippet,
            rank: h.rank,
        })
        .collect();
    let mut out = BufWriter::new(std::io::stdout().lock());
    match args.format {
        ListFormat::Json => write_json_pretty(&mut out, &rows)?,
        ListFormat::Ndjson => {
            for r in &rows {
                write_json_line(&mut out, r)?;
            }
        }
        ListFormat::Csv => {
            let mut csv = csv::Writer::from_writer(&mut out);
            csv.write_record(["id", "published_at", "title", "author", "url", "snippet"])
                .context("writing csv")?;
            for r in &rows {
                csv.write_record([
                    r.id.to_string(),
                    time(r.published_at),
                    r.title.clone(),
                    r.author.clone().unwrap_or_default(),
                    r.url.clone(),
                    r.snippet.clone().unwrap_or_default(),
                ])
                .context("writing csv")?;
            }
            csv.flush().context("writing csv")?;
        }
        ListFormat::Table => {
            if rows.is_empty() {
                writeln!(out, "no matching articles")?;
            } else {
                let table: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| {
                        let date = r
                            .published_at
                            .map_or("-".to_string(), |t| t.format("%Y-%m-%d").to_string());
                        let text = match &r.snippet {
                            Some(s) => format!("{} — {}", r.title, s),
                            None => r.title.clone(),
                        };
                        vec![r.id.to_string(), date, text]
                    })
                    .collect();
                write_table(
                    &mut out,
                    &["ID", "PUBLISHED", "TITLE — MATCH"],
                    &table,
                    output::terminal_width(),
                )?;
            }
        }
    }
    out.flush()?;
    Ok(Exit::Ok)
}

/// `gleaner show`
pub fn show(db: &Path, args: &ShowArgs) -> Result<Exit, ExitError> {
    let store = open_existing(db)?;
    let key = match args.article.parse::<i64>() {
        Ok(id) => ArticleKey::Id(id),
        Err(_) => ArticleKey::Url(&args.article),
    };
    let Some(article) = store.article(key).map_err(store_error)? else {
        return Err(ExitError::usage(anyhow!(
            "no article {} in {}",
            args.article,
            db.display()
        )));
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    match args.format {
        ArticleFormat::Json => write_json_pretty(&mut out, &article)?,
        ArticleFormat::Text => output::write_article_text(&mut out, &article)?,
    }
    out.flush()?;
    Ok(Exit::Ok)
}

#[derive(Serialize)]
struct EntityRow {
    kind: gleaner_model::EntityKind,
    name: String,
    mentions: u64,
    articles: u64,
}

/// `gleaner entities`
pub fn entities(db: &Path, args: &EntitiesArgs) -> Result<Exit, ExitError> {
    let store = open_existing(db)?;
    let q = EntityQuery {
        kind: args.kind,
        top: args.top,
        since: parse_time(args.since.as_deref())?,
        with: args.with.clone(),
    };
    let rows: Vec<EntityRow> = store
        .top_entities(&q)
        .map_err(store_error)?
        .into_iter()
        .map(|e| EntityRow {
            kind: e.kind,
            name: e.name,
            mentions: e.mentions,
            articles: e.articles,
        })
        .collect();
    let mut out = BufWriter::new(std::io::stdout().lock());
    match args.format {
        ListFormat::Json => write_json_pretty(&mut out, &rows)?,
        ListFormat::Ndjson => {
            for r in &rows {
                write_json_line(&mut out, r)?;
            }
        }
        ListFormat::Csv => {
            let mut csv = csv::Writer::from_writer(&mut out);
            csv.write_record(["kind", "name", "mentions", "articles"])
                .context("writing csv")?;
            for r in &rows {
                csv.write_record([
                    r.kind.as_str(),
                    &r.name,
                    &r.mentions.to_string(),
                    &r.articles.to_string(),
                ])
                .context("writing csv")?;
            }
            csv.flush().context("writing csv")?;
        }
        ListFormat::Table => {
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.mentions.to_string(),
                        r.articles.to_string(),
                        r.kind.to_string(),
                        r.name.clone(),
                    ]
                })
                .collect();
            write_table(
                &mut out,
                &["MENTIONS", "ARTICLES", "KIND", "NAME"],
                &table,
                output::terminal_width(),
            )?;
        }
    }
    out.flush()?;
    Ok(Exit::Ok)
}

/// `gleaner stats`
pub fn stats(db: &Path) -> Result<Exit, ExitError> {
    let store = open_existing(db)?;
    let s = store.stats().map_err(store_error)?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    writeln!(out, "database:  {}", db.display())?;
    writeln!(out, "articles:  {}", s.articles)?;
    writeln!(out, "entities:  {} ({} mentions)", s.entities, s.mentions)?;
    if !s.per_kind.is_empty() {
        let kinds: Vec<String> = s.per_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(out, "by kind:   {}", kinds.join(", "))?;
    }
    if !s.per_source.is_empty() {
        writeln!(out, "\nby source:")?;
        for (source, n) in &s.per_source {
            writeln!(out, "  {n:>7}  {source}")?;
        }
    }
    if !s.per_month.is_empty() {
        writeln!(out, "\nby month published:")?;
        for (month, n) in s.per_month.iter().take(12) {
            writeln!(out, "  {n:>7}  {month}")?;
        }
        if s.per_month.len() > 12 {
            writeln!(out, "  … {} older months", s.per_month.len() - 12)?;
        }
    }
    writeln!(out, "\nrecent runs:")?;
    if s.recent_runs.is_empty() {
        writeln!(out, "  none yet (`gleaner run` records them)")?;
    }
    for r in &s.recent_runs {
        let c = &r.counts;
        writeln!(
            out,
            "  #{} {} {}: {} discovered, {} fetched, {} not modified, {} stored, {} updated, {} unchanged, {} skipped, {} failed",
            r.id,
            time(Some(r.started_at)),
            run_status(r.status),
            c.discovered,
            c.fetched,
            c.not_modified,
            c.stored,
            c.updated,
            c.unchanged,
            c.skipped,
            c.failed
        )?;
    }
    out.flush()?;
    Ok(Exit::Ok)
}

fn run_status(status: gleaner_store::RunStatus) -> &'static str {
    use gleaner_store::RunStatus;
    match status {
        RunStatus::Running => "running (or killed)",
        RunStatus::Ok => "ok",
        RunStatus::Partial => "partial",
        RunStatus::Interrupted => "interrupted",
        RunStatus::Failed => "failed",
    }
}

/// `gleaner sources`
pub fn sources(loaded: &LoadedConfig, db: &Path) -> Result<Exit, ExitError> {
    let urls: Vec<&str> = loaded
        .config
        .sources
        .iter()
        .map(|s| s.url.as_str())
        .collect();
    let states = if AnyStore::path_is_postgres(db) || db.exists() {
        let store = AnyStore::open_path(db).with_context(|| format!("reading {}", shown(db)))?;
        crate::source_state::states(&store, &urls)?
    } else {
        vec![None; urls.len()]
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let config_name = loaded
        .path
        .as_ref()
        .map_or("built-in defaults".to_string(), |p| p.display().to_string());
    if loaded.config.sources.is_empty() {
        writeln!(out, "no sources configured in {config_name}")?;
    }
    let rows: Vec<Vec<String>> = loaded
        .config
        .sources
        .iter()
        .zip(&states)
        .map(|(s, state)| {
            vec![
                s.effective_kind().to_string(),
                state
                    .as_ref()
                    .map_or("0".to_string(), |k| k.articles.to_string()),
                state
                    .as_ref()
                    .and_then(|k| k.last_run_at)
                    .map_or("never".to_string(), |t| time(Some(t))),
                time(state.as_ref().and_then(|k| k.newest_seen)),
                state
                    .as_ref()
                    .map_or("0".to_string(), |k| k.failing.to_string()),
                format!(
                    "{}{}",
                    s.url,
                    s.name
                        .as_deref()
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default()
                ),
            ]
        })
        .collect();
    if !rows.is_empty() {
        writeln!(out, "sources in {config_name}:")?;
        write_table(
            &mut out,
            &[
                "KIND",
                "ARTICLES",
                "LAST RUN",
                "NEWEST SEEN",
                "FAILING",
                "URL",
            ],
            &rows,
            output::terminal_width(),
        )?;
    }
    out.flush()?;
    Ok(Exit::Ok)
}

/// `gleaner export`
pub fn export(db: &Path, args: &ExportArgs) -> Result<Exit, ExitError> {
    let store = open_existing(db)?;
    // limit 0: no limit. Articles are read and written one at a time, in constant memory.
    let q = search_query(&args.terms, &args.filters, 0, 0)?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut failure: Option<anyhow::Error> = None;
    let mut stop = |e: anyhow::Error| {
        let reason = e.to_string();
        failure = Some(e);
        gleaner_store::StoreError::Stopped { reason }
    };
    let result = match args.format {
        ExportFormat::Ndjson => {
            store.for_each_article(&q, |a| write_json_line(&mut out, &a).map_err(&mut stop))
        }
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record(Article::FIELDS).context("writing csv")?;
            let result = store.for_each_article(&q, |a| {
                w.write_record(csv_row(&a))
                    .map_err(|e| stop(anyhow::Error::from(e)))
            });
            w.flush().context("writing csv")?;
            result
        }
    };
    if let Some(e) = failure {
        return Err(e.into());
    }
    result.map_err(store_error)?;
    out.flush()?;
    Ok(Exit::Ok)
}

fn csv_row(a: &Article) -> Vec<String> {
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    let entities: Vec<String> = a
        .entities
        .iter()
        .map(|e| format!("{}:{}", e.kind, e.name))
        .collect();
    vec![
        a.id.map(|i| i.to_string()).unwrap_or_default(),
        a.url.clone(),
        opt(&a.canonical_url),
        opt(&a.source),
        opt(&a.blogger_post_id),
        a.title.clone(),
        opt(&a.author),
        time(a.published_at),
        time(a.updated_at),
        time(a.fetched_at),
        opt(&a.language),
        a.labels.join("; "),
        a.comments_count.map(|c| c.to_string()).unwrap_or_default(),
        a.word_count.to_string(),
        a.content_hash.clone(),
        a.body.clone(),
        entities.join("; "),
    ]
}

/// A saved page's bytes, at most `limit` of them (unpacked, for gzip): a larger file, or a
/// gzip file that unpacks to more (a gzip bomb), is an error, and memory stays bounded.
fn read_saved_page(path: &Path, limit: usize) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .take(cap)
            .read_to_end(&mut bytes)
            .context("reading stdin")?;
    } else {
        std::fs::File::open(path)
            .and_then(|f| {
                // Room for the whole file at once (at most the limit): no growing copies.
                let size = f.metadata().map_or(0, |m| m.len()).min(cap);
                bytes.reserve(usize::try_from(size).unwrap_or(0));
                f.take(cap).read_to_end(&mut bytes)
            })
            .with_context(|| format!("reading {}", path.display()))?;
    }
    if bytes.len() > limit {
        return Err(anyhow!(
            "{} is larger than {limit} bytes (the max_body_bytes limit of a fetched page); not read",
            path.display()
        ));
    }
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    // The gzip trailer's size of the (last) member, as a hint only, bounded by the limit:
    // room for the unpacked page at once instead of growing copies of it.
    let hint = bytes
        .last_chunk::<4>()
        .map_or(0, |size| u32::from_le_bytes(*size) as usize)
        .min(limit);
    let mut unpacked = Vec::with_capacity(hint.saturating_add(1));
    flate2::read::MultiGzDecoder::new(&bytes[..])
        .take(cap)
        .read_to_end(&mut unpacked)
        .with_context(|| format!("unpacking gzip in {}", path.display()))?;
    if unpacked.len() > limit {
        return Err(anyhow!(
            "{} unpacks to more than {limit} bytes (the max_body_bytes limit of a fetched page); not read",
            path.display()
        ));
    }
    Ok(unpacked)
}

fn read_input(path: &Path) -> Result<Vec<u8>, ExitError> {
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .context("reading stdin")?;
    } else {
        bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    }
    Ok(bytes)
}

/// A saved page's text: the charset is found as for a fetched page (BOM, `<meta charset>`,
/// then a guess).
fn decode_saved_page(raw: Vec<u8>, url: &str) -> String {
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string));
    gleaner_fetch::charset::decode_owned(raw, None, host.as_deref()).0
}

/// What one file of `gleaner extract` gave.
enum Extracted {
    /// An article (with an empty body when the page held no article text).
    Article(Box<Article>),
    /// The file could not be read.
    Unreadable(anyhow::Error),
}

/// Read and scrape one saved page (on a CPU pool thread): the first half of a file's work,
/// which needs no tagger.
fn scrape_file(file: &Path, url: &str, limit: usize) -> anyhow::Result<Box<ScrapedArticle>> {
    let raw = read_saved_page(file, limit)?;
    let html = decode_saved_page(raw, url);
    Ok(Box::new(process::scrape(&html, url)))
}

/// Clean and tag a scraped page (on a CPU pool thread), once the tagger is built.
fn finish_file(
    scraped: Box<ScrapedArticle>,
    reference_date: Option<chrono::NaiveDate>,
    tagger: &std::sync::OnceLock<Tagger>,
) -> Extracted {
    // Built by the time this runs (see `extract`); if building it failed, this tries again
    // here, where a panic is this file's error.
    let tagger = tagger.get_or_init(Tagger::new);
    // Only a reference for resolving dates in the text when the page has none; not stored
    // as published.
    let mut article = process::finish_dated(*scraped, None, None, &[], tagger, reference_date);
    article.id = None;
    Extracted::Article(Box::new(article))
}

/// Files read or processed ahead of the one being printed, per pool thread: output stays in
/// input order while every core works, and at most this many articles wait in memory.
const EXTRACT_AHEAD_PER_THREAD: usize = 8;

/// While the tagger's tables are being built, nothing can be printed, so the window above
/// would leave the pool idle once it has scraped its first few files (on two cores, a
/// third of the wall time of 88 pages). Until the tables are built the pool goes on
/// scraping, and the scraped articles wait, as long as their text stays under this many
/// bytes (a scraped article is its text, a small part of its page) and at most
/// [`EXTRACT_SCRAPED_AHEAD_MAX`] of them wait.
const EXTRACT_SCRAPED_AHEAD_BYTES: usize = 64 * 1024 * 1024;
/// Most scraped articles waiting for the tagger's tables.
const EXTRACT_SCRAPED_AHEAD_MAX: usize = 4096;

/// Bytes of text a scraped article holds (what it costs to keep it waiting), roughly.
fn scraped_bytes(scraped: &ScrapedArticle) -> usize {
    let blocks: usize = scraped.blocks.iter().map(|b| b.text.len() + 32).sum();
    let labels: usize = scraped.labels.iter().map(String::len).sum();
    let fields = [
        &scraped.canonical_url,
        &scraped.title,
        &scraped.site_name,
        &scraped.author,
        &scraped.blogger_post_id,
        &scraped.blog_id,
        &scraped.language_hint,
    ];
    let fields: usize = fields
        .iter()
        .map(|f| f.as_ref().map_or(0, String::len))
        .sum();
    std::mem::size_of::<ScrapedArticle>() + scraped.url.len() + blocks + labels + fields
}

/// What the pool threads and the tagger's builder tell `extract`'s loop.
enum ExtractEvent {
    /// File `index` was read and scraped (or could not be).
    Scraped(usize, Result<Box<ScrapedArticle>, anyhow::Error>),
    /// File `index` is done.
    Done(usize, Extracted),
    /// The tagger's tables are built (or building them failed).
    TaggerBuilt,
}

/// Sends [`ExtractEvent::TaggerBuilt`] when dropped: the builder says it is done even if it
/// panicked, so `extract` never waits for it forever.
struct SayBuilt(std::sync::mpsc::Sender<ExtractEvent>);

impl Drop for SayBuilt {
    fn drop(&mut self) {
        let _ = self.0.send(ExtractEvent::TaggerBuilt);
    }
}

/// `gleaner extract`: every file is processed on the CPU pool (one thread a core), and
/// printed in input order. A file that cannot be read (missing, too large, a gzip bomb) is
/// reported and the others go on; exit 1 when some file was unreadable or held no article.
///
/// The tagger's tables take a while to build on one core: they are built on a thread of
/// their own while the pool reads and scrapes the first files. A file is cleaned and tagged
/// only once they are built, so no pool thread waits for them while there are files to
/// scrape (a thread blocked on the tables left its core idle for most of the build); until
/// then the pool scrapes as far ahead as [`EXTRACT_SCRAPED_AHEAD_BYTES`] allows, not only
/// the printing window's few files.
pub fn extract(args: &ExtractArgs) -> Result<Exit, ExitError> {
    let tagger: Arc<std::sync::OnceLock<Tagger>> = Arc::new(std::sync::OnceLock::new());
    let (events_tx, events) = std::sync::mpsc::channel::<ExtractEvent>();
    {
        let tagger = Arc::clone(&tagger);
        let say_built = SayBuilt(events_tx.clone());
        // When the thread cannot start, the closure is dropped, which sends the message:
        // then the first file to be tagged builds the tables.
        let _ = std::thread::Builder::new()
            .name("gleaner-tagger-load".into())
            .spawn(move || {
                let _say_built = say_built;
                tagger.get_or_init(Tagger::new);
            });
    }
    let limit = gleaner_fetch::FetchConfig::default().max_body_bytes;
    let window = crate::cpu_pool::threads() * EXTRACT_AHEAD_PER_THREAD;
    let reference_date = args.reference_date;
    let finish = |index: usize, scraped: Box<ScrapedArticle>| -> Result<(), ExitError> {
        let (tagger, events_tx) = (Arc::clone(&tagger), events_tx.clone());
        crate::cpu_pool::spawn(
            move || finish_file(scraped, reference_date, &tagger),
            move |result| {
                let extracted = result
                    .unwrap_or_else(|e| Extracted::Unreadable(anyhow!("processing the page {e}")));
                let _ = events_tx.send(ExtractEvent::Done(index, extracted));
            },
        )
        .map_err(|e| anyhow!("{e}").into())
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut waiting: BTreeMap<usize, Extracted> = BTreeMap::new();
    // Scraped files waiting for the tagger's tables, in the order they came.
    let mut untagged: Vec<(usize, Box<ScrapedArticle>)> = Vec::new();
    let mut untagged_bytes = 0usize;
    let mut tagger_built = false;
    let (mut sent, mut printed, mut problems) = (0usize, 0usize, 0usize);
    // Files sent to be read and scraped whose answer has not come yet.
    let mut scraping = 0usize;
    while printed < args.files.len() {
        loop {
            let room = if tagger_built {
                sent < printed + window
            } else {
                // Only scraping can happen: keep every pool thread busy with it while the
                // scraped articles waiting stay small.
                scraping < window
                    && untagged.len() < EXTRACT_SCRAPED_AHEAD_MAX
                    && untagged_bytes < EXTRACT_SCRAPED_AHEAD_BYTES
            };
            if sent >= args.files.len() || !room {
                break;
            }
            let file = args.files.get(sent).cloned().unwrap_or_default();
            let url = args.url.clone().unwrap_or_else(|| file_url(&file));
            let (events_tx, index) = (events_tx.clone(), sent);
            crate::cpu_pool::spawn(
                move || scrape_file(&file, &url, limit),
                move |result| {
                    let scraped =
                        result.unwrap_or_else(|e| Err(anyhow!("processing the page {e}")));
                    let _ = events_tx.send(ExtractEvent::Scraped(index, scraped));
                },
            )
            .map_err(|e| anyhow!("{e}"))?;
            sent += 1;
            scraping += 1;
        }
        let event = events
            .recv()
            .map_err(|_| anyhow!("the processing threads stopped"))?;
        match event {
            ExtractEvent::Scraped(index, scraped) => {
                scraping = scraping.saturating_sub(1);
                match scraped {
                    Ok(scraped) if tagger_built => finish(index, scraped)?,
                    Ok(scraped) => {
                        untagged_bytes += scraped_bytes(&scraped);
                        untagged.push((index, scraped));
                    }
                    Err(e) => {
                        waiting.insert(index, Extracted::Unreadable(e));
                    }
                }
            }
            ExtractEvent::Done(index, extracted) => {
                waiting.insert(index, extracted);
            }
            ExtractEvent::TaggerBuilt => {
                tagger_built = true;
                untagged_bytes = 0;
                for (index, scraped) in std::mem::take(&mut untagged) {
                    finish(index, scraped)?;
                }
            }
        }
        while let Some(extracted) = waiting.remove(&printed) {
            let file = args.files.get(printed).map(|f| f.display().to_string());
            let file = file.unwrap_or_default();
            printed += 1;
            match extracted {
                Extracted::Article(article) => {
                    // The same rule as for stored articles: a Blogger post may be a photo
                    // with no text.
                    if article.body.is_empty() && article.blogger_post_id.is_none() {
                        problems += 1;
                        eprintln!("gleaner: {file}: no article text found");
                    }
                    write_json_line(&mut out, &article)?;
                }
                Extracted::Unreadable(e) => {
                    problems += 1;
                    // Printed in order with the articles around it.
                    out.flush()?;
                    eprintln!("gleaner: {file}: {e:#}");
                }
            }
        }
    }
    out.flush()?;
    Ok(if problems > 0 {
        Exit::Partial
    } else {
        Exit::Ok
    })
}

fn file_url(file: &Path) -> String {
    if file == Path::new("-") {
        return "stdin:".to_string();
    }
    let abs = std::fs::canonicalize(file).unwrap_or_else(|_| PathBuf::from(file));
    url::Url::from_file_path(&abs).map_or_else(|()| abs.display().to_string(), |u| u.to_string())
}

/// One line of CoNLL input held until its document is tagged.
enum ConllLine {
    /// A blank line, kept as it was.
    Raw(String),
    /// The token lines of one sentence.
    Sentence(Vec<String>),
}

/// The lines of one CoNLL document, waiting for `Tagger::tag_document`.
#[derive(Default)]
struct ConllDocument {
    lines: Vec<ConllLine>,
    /// The token lines of the sentence being read.
    current: Vec<String>,
    sentences: usize,
    /// Every line held (token and blank lines).
    held: usize,
}

impl ConllDocument {
    fn push_token_line(&mut self, line: String) {
        self.current.push(line);
        self.held += 1;
    }

    fn push_blank_line(&mut self, line: String) {
        self.end_sentence();
        self.lines.push(ConllLine::Raw(line));
        self.held += 1;
    }

    fn end_sentence(&mut self) {
        if !self.current.is_empty() {
            self.lines
                .push(ConllLine::Sentence(std::mem::take(&mut self.current)));
            self.sentences += 1;
        }
    }

    /// Tags every sentence of the document together and writes each token line with one more
    /// column, the predicted IOB2 tag; blank lines as they were.
    fn flush(&mut self, tagger: &Tagger, out: &mut dyn Write) -> Result<(), ExitError> {
        self.end_sentence();
        let token_lists: Vec<Vec<&str>> = self
            .lines
            .iter()
            .filter_map(|l| match l {
                ConllLine::Sentence(lines) => Some(
                    lines
                        .iter()
                        .map(|l| l.split_whitespace().next().unwrap_or(""))
                        .collect(),
                ),
                ConllLine::Raw(_) => None,
            })
            .collect();
        let sentences: Vec<&[&str]> = token_lists.iter().map(Vec::as_slice).collect();
        let mut tags = tagger.tag_document(&sentences).into_iter();
        for line in &self.lines {
            match line {
                ConllLine::Raw(raw) => writeln!(out, "{raw}")?,
                ConllLine::Sentence(lines) => {
                    let sentence_tags = tags.next().unwrap_or_default();
                    let padded = sentence_tags
                        .iter()
                        .map(String::as_str)
                        .chain(std::iter::repeat("O"));
                    for (l, tag) in lines.iter().zip(padded) {
                        writeln!(out, "{l} {tag}")?;
                    }
                }
            }
        }
        *self = Self::default();
        Ok(())
    }
}

/// `gleaner tag`
pub fn tag(args: &TagArgs) -> Result<Exit, ExitError> {
    let tagger = Tagger::new();
    let mut out = BufWriter::new(std::io::stdout().lock());
    if let Some(path) = &args.conll {
        let reader: Box<dyn BufRead> = if path == Path::new("-") {
            Box::new(std::io::stdin().lock())
        } else {
            let f =
                std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
            Box::new(std::io::BufReader::new(f))
        };
        // A document (up to a `-DOCSTART-` line) is tagged whole: the tagger reads how a word
        // is written elsewhere in it and keeps one type per name. A file without document
        // marks is cut every MAX_DOC_SENTENCES sentences, and anything at MAX_DOC_LINES held
        // lines (even inside one endless "sentence"), so memory and time stay bounded.
        const MAX_DOC_SENTENCES: usize = 2_000;
        const MAX_DOC_LINES: usize = 20_000;
        let mut doc = ConllDocument::default();
        for line in reader.lines() {
            let line = line.with_context(|| format!("reading {}", path.display()))?;
            let trimmed = line.trim();
            if trimmed.starts_with("-DOCSTART-") {
                doc.flush(&tagger, &mut out)?;
                writeln!(out, "{line}")?;
            } else if trimmed.is_empty() {
                doc.push_blank_line(line);
                if doc.sentences >= MAX_DOC_SENTENCES {
                    doc.flush(&tagger, &mut out)?;
                }
            } else {
                doc.push_token_line(line);
            }
            if doc.held >= MAX_DOC_LINES {
                doc.flush(&tagger, &mut out)?;
            }
        }
        doc.flush(&tagger, &mut out)?;
    } else {
        let path = args.file.clone().unwrap_or_else(|| PathBuf::from("-"));
        let bytes = read_input(&path)?;
        let text = String::from_utf8_lossy(&bytes);
        let entities = tagger.tag(&text, args.reference_date);
        write_json_pretty(&mut out, &entities)?;
    }
    out.flush()?;
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Exit;

    /// A database with the schema and nothing in it.
    fn empty_db() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("empty.db");
        gleaner_store::Store::open(&db).unwrap();
        (dir, db)
    }

    fn query_args(terms: &str, filters: Filters) -> QueryArgs {
        QueryArgs {
            terms: vec![terms.to_string()],
            filters,
            limit: 20,
            offset: 0,
            format: ListFormat::Json,
        }
    }

    #[test]
    fn bad_search_syntax_is_a_usage_error_even_on_an_empty_database() {
        let (_dir, db) = empty_db();
        let with_filters = Filters {
            entity: vec!["Putin".into()],
            label: Some("Iran".into()),
            ..Filters::default()
        };
        for filters in [Filters::default(), with_filters] {
            for bad in ["\"unbalanced", "AND OR", "nosuchcolumn:word"] {
                let err = query(&db, &query_args(bad, filters.clone())).unwrap_err();
                assert_eq!(err.code, Exit::Usage, "{bad}: {:#}", err.error);
                let message = format!("{:#}", err.error);
                assert!(message.contains("bad search syntax"), "{message}");
                let export_args = ExportArgs {
                    terms: vec![bad.to_string()],
                    filters: filters.clone(),
                    format: ExportFormat::Ndjson,
                };
                let err = export(&db, &export_args).unwrap_err();
                assert_eq!(err.code, Exit::Usage, "export {bad}: {:#}", err.error);
            }
        }
    }

    #[test]
    fn injection_shaped_arguments_are_plain_values() {
        let (_dir, db) = empty_db();
        let nasty = "'; DROP TABLE articles; --";
        let filters = Filters {
            entity: vec![nasty.into()],
            source: Some(nasty.into()),
            label: Some(nasty.into()),
            author: Some(nasty.into()),
            ..Filters::default()
        };
        let mut args = query_args("", filters.clone());
        args.terms.clear();
        assert_eq!(query(&db, &args).unwrap(), Exit::Ok);
        let export_args = ExportArgs {
            terms: Vec::new(),
            filters,
            format: ExportFormat::Csv,
        };
        assert_eq!(export(&db, &export_args).unwrap(), Exit::Ok);
        let entities_args = EntitiesArgs {
            kind: None,
            top: 5,
            since: None,
            with: Some(nasty.into()),
            format: ListFormat::Json,
        };
        assert_eq!(entities(&db, &entities_args).unwrap(), Exit::Ok);
        let show_args = ShowArgs {
            article: nasty.into(),
            format: ArticleFormat::Json,
        };
        // Not found (a usage error), and the tables are all still there.
        assert_eq!(show(&db, &show_args).unwrap_err().code, Exit::Usage);
        let store = gleaner_store::Store::open(&db).unwrap();
        assert_eq!(store.stats().unwrap().articles, 0);
    }
}
