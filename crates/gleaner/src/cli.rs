//! The command line (DESIGN.md, "Command-line contract").

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use gleaner_model::EntityKind;

/// gleaner: ingest news and blog articles (Blogger first) into SQLite, with entities tagged.
#[derive(Debug, Parser)]
#[command(name = "gleaner", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// The database: a SQLite file or a postgres:// address [default: GLEANER_DB, else the config's `db`, else ./gleaner.db]
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// The config file [default: GLEANER_CONFIG, else ./config/gleaner.toml if present]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// More log output (-v: debug, -vv: trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Log format on stderr
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// What to do
    #[command(subcommand)]
    pub command: Command,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Output format for one article.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ArticleFormat {
    /// A readable summary.
    Text,
    /// The JSON article of DESIGN.md.
    Json,
}

/// Output format for lists of results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// An aligned table that fits the terminal.
    Table,
    /// One JSON array.
    Json,
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

/// Output format for `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One JSON article per line.
    Ndjson,
    /// Comma-separated values with a header row (entities as `kind:name` joined by `; `).
    Csv,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch, process and store pages (a Blogger post, or a whole blog given its home URL)
    Scrape(ScrapeArgs),
    /// Ingest every source in the config (for cron: exit codes, lock, quiet)
    Run(RunArgs),
    /// Full-text search over stored articles
    Query(QueryArgs),
    /// One stored article with its entities
    Show(ShowArgs),
    /// Most-mentioned entities
    Entities(EntitiesArgs),
    /// Counts, sources and recent runs
    Stats,
    /// The configured sources and their state
    Sources,
    /// Scrape, clean and tag saved HTML (no network, no database); one JSON article per line
    Extract(ExtractArgs),
    /// Tag plain text and print the entities as JSON (or tag CoNLL columns with --conll)
    Tag(TagArgs),
    /// Stream matching articles as ndjson or csv
    Export(ExportArgs),
    /// Read-only web pages and a JSON API over the database
    Serve(ServeArgs),
    /// Copy a SQLite database into PostgreSQL, ids and all (safe to run again)
    Copy(CopyArgs),
    /// Check the database against the store's guarantees (exit 1 when something is wrong)
    Integrity,
}

/// `gleaner copy`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The SQLite database file to copy
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// The PostgreSQL database (`postgres://user@host:port/db`)
    #[arg(long, value_name = "URL")]
    pub to: String,
}

/// `gleaner serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback unless told otherwise; port 0 picks a free one)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub bind: std::net::SocketAddr,
}

/// `gleaner scrape`.
#[derive(Debug, Args)]
pub struct ScrapeArgs {
    /// Post URLs, or a blog's home URL to read the whole blog
    #[arg(required = true, value_name = "URL")]
    pub urls: Vec<String>,
    /// How to print what was stored
    #[arg(long, value_enum, default_value_t = ArticleFormat::Text)]
    pub format: ArticleFormat,
}

/// `gleaner run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Stop taking new work after this long (e.g. 10m, 1h) and finish what is in flight
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub max_duration: Option<std::time::Duration>,
}

/// Filters shared by `query` and `export`.
#[derive(Debug, Args, Clone, Default)]
pub struct Filters {
    /// Only articles mentioning this entity (canonical name or text); repeat for all of several
    #[arg(long, value_name = "NAME")]
    pub entity: Vec<String>,
    /// Only entities of this kind (with --entity), or articles mentioning any entity of it
    #[arg(long, value_name = "KIND")]
    pub kind: Option<EntityKind>,
    /// Only articles from this source URL
    #[arg(long, value_name = "URL")]
    pub source: Option<String>,
    /// Only articles with this label
    #[arg(long, value_name = "LABEL")]
    pub label: Option<String>,
    /// Only articles by this author
    #[arg(long, value_name = "NAME")]
    pub author: Option<String>,
    /// Published on or after (2022-01-31, 2022-01-31T08:00:00Z, or relative: 7d, 12h)
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Published before (same forms as --since)
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
}

/// `gleaner query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// FTS5 query: words, "phrases", OR, NOT, prefix*; none lists the newest articles
    #[arg(value_name = "TERMS")]
    pub terms: Vec<String>,
    /// Filters
    #[command(flatten)]
    pub filters: Filters,
    /// At most this many results
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Skip this many results
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

/// `gleaner show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Article id or URL
    #[arg(value_name = "ID|URL")]
    pub article: String,
    /// Output format
    #[arg(long, value_enum, default_value_t = ArticleFormat::Text)]
    pub format: ArticleFormat,
}

/// `gleaner entities`.
#[derive(Debug, Args)]
pub struct EntitiesArgs {
    /// Only this kind (person, location, organization, group, date, money, percent)
    #[arg(long, value_name = "KIND")]
    pub kind: Option<EntityKind>,
    /// How many
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Only mentions in articles published since (date or relative: 7d)
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Entities mentioned most often in the same articles as NAME
    #[arg(long, value_name = "NAME")]
    pub with: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

/// `gleaner extract`.
#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// Saved HTML files, or - for stdin
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The page's address (used for canonical URLs and relative links); with several files,
    /// each file's own path is used when this is not given
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The publication date to resolve relative dates against, when the page has none
    #[arg(long, value_name = "DATE")]
    pub reference_date: Option<chrono::NaiveDate>,
}

/// `gleaner tag`.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// Plain text file, or - for stdin (the default)
    #[arg(value_name = "FILE", conflicts_with = "conll")]
    pub file: Option<PathBuf>,
    /// Read CoNLL-2003 columns and print each line with the predicted tag (IOB2) appended
    #[arg(long, value_name = "FILE")]
    pub conll: Option<PathBuf>,
    /// The date relative dates are resolved against (YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    pub reference_date: Option<chrono::NaiveDate>,
}

/// `gleaner export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Optional FTS5 query
    #[arg(value_name = "TERMS")]
    pub terms: Vec<String>,
    /// Filters
    #[command(flatten)]
    pub filters: Filters,
    /// Output format
    #[arg(long, value_enum, default_value_t = ExportFormat::Ndjson)]
    pub format: ExportFormat,
}
