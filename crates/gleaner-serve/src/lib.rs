//! gleaner's web pages and JSON API over the database: `gleaner serve`.
//!
//! A read-only web application on axum (tokio): server-rendered HTML (maud templates,
//! compiled in, escaping every value) that works without JavaScript, and a JSON API under
//! `/api/` with the same filters and the article shape of DESIGN.md, described by an OpenAPI
//! document at `/api/openapi.json`.
//!
//! | Page | What for |
//! |---|---|
//! | `/` | search: the query language and every filter of `gleaner query`, snippets, counts per kind / source / label, pages |
//! | `/articles/{id}` | one article, each entity mention highlighted by kind and linked to its entity |
//! | `/entities` | most-mentioned entities, by kind and since a date |
//! | `/entities/{kind}/{name}` | one entity: mentions over time (SVG), the company it keeps, its articles, its aliases |
//! | `/sources` | counts, sources with their health (last run, newest post, failing pages), recent runs |
//!
//! What it is **not** for: writing. The database is opened read-only (see
//! [`gleaner_store::Store::open_read_only`]) and runs beside a writing `gleaner run`.
//!
//! # Safety
//!
//! - Every byte of article data is untrusted. It reaches HTML only through maud's escaping
//!   (text, attributes, inline SVG); URLs built from it are percent-encoded; an article URL
//!   becomes a link only if it is absolute `http`/`https`. No data is put into a script.
//! - Every response carries a Content-Security-Policy that allows no script at all, no
//!   framing, and styles only from this server; pages need no script.
//! - Bad parameters are a 400 with a message, unknown ids and paths a 404 page; a panic in a
//!   handler is a 500, never a dropped server.
//! - Queries run on blocking threads (a pool of read-only connections), each stopped by a
//!   progress handler once past a time limit (503).
//!
//! # Load
//!
//! Searches, entity pages, the entity list and the sources page are kept in memory per
//! parameters until the database changes (`PRAGMA data_version`); under load an out-of-date
//! answer up to 60 s old may be served while it is recomputed in the background (see
//! `cache.rs`). A lone request always sees the database as it is. Beside the answers, the
//! articles' labels and mentioned entities read for facets and an entity's company are kept
//! while each article's `changed_at` stays the same ([`gleaner_store::ArticleFacts`]), and
//! the entities' kinds once read (a kind never changes).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

mod api;
mod cache;
mod data;
mod db;
mod pages;
mod params;
mod render;

pub use db::{Database, DbError, Pool};

/// The Content-Security-Policy of every response: nothing runs, nothing is framed, styles
/// and images come from here only (inline SVG is part of the page, not an image load).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// How `serve` runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The database: a SQLite file (must exist) or a `postgres://` address.
    pub db: PathBuf,
    /// Connections (queries at once).
    pub connections: usize,
    /// Longest a query may run.
    pub query_time_limit: Duration,
}

impl ServeOptions {
    /// Defaults for `db`: two connections per CPU (4 to 16), two seconds per query.
    pub fn new(db: PathBuf) -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        ServeOptions {
            db,
            connections: (cpus * 2).clamp(4, 16),
            query_time_limit: Duration::from_secs(2),
        }
    }
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The database could not be opened.
    #[error("cannot open the database {db:?}: {source}")]
    Database {
        /// The file or address (password hidden).
        db: Database,
        /// Why.
        #[source]
        source: gleaner_store::StoreError,
    },
    /// The database file does not exist (serving never creates one).
    #[error(
        "database {} does not exist yet: `gleaner scrape URL` or `gleaner run` creates it",
        .0.display()
    )]
    Missing(PathBuf),
    /// Serving failed.
    #[error("serving HTTP: {0}")]
    Io(#[from] std::io::Error),
}

/// What every handler shares.
#[derive(Debug)]
pub struct App {
    pool: Arc<Pool>,
    cache: Arc<cache::Cache>,
    /// Articles' labels and entity kinds for search facets, kept while they stay true.
    facts: Arc<gleaner_store::ArticleFacts>,
    /// The entities' kinds, extended as entities are stored.
    kinds: Arc<data::SharedKinds>,
}

/// The application: every page, the API, the stylesheet, the headers.
pub fn router(options: &ServeOptions) -> Result<Router, ServeError> {
    let db = Database::from_path(&options.db);
    let failed = |source| ServeError::Database {
        db: db.clone(),
        source,
    };
    let pool = Pool::open(&db, options.connections, options.query_time_limit).map_err(failed)?;
    let cache = cache::Cache::open(&db).map_err(failed)?;
    let app = Arc::new(App {
        pool: Arc::new(pool),
        cache: Arc::new(cache),
        facts: Arc::new(gleaner_store::ArticleFacts::new()),
        kinds: Arc::new(data::SharedKinds::default()),
    });
    Ok(Router::new()
        .route("/", get(pages::search))
        .route("/articles/{id}", get(pages::article))
        .route("/entities", get(pages::entities))
        .route("/entities/{kind}/{name}", get(pages::entity))
        .route("/sources", get(pages::sources))
        .route("/static/style.css", get(stylesheet))
        .route("/api/search", get(api::search))
        .route("/api/articles/{id}", get(api::article))
        .route("/api/entities", get(api::entities))
        .route("/api/entities/{kind}/{name}", get(api::entity))
        .route("/api/sources", get(api::sources))
        .route("/api/openapi.json", get(api::openapi))
        .fallback(not_found)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(on_panic))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(app))
}

/// Serve on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    options: &ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let app = router(options)?;
    axum::serve(listener, app.into_make_service())
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn on_panic(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    pages::error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong on our side.",
    )
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../assets/style.css"),
    )
}

async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        api::error(
            StatusCode::NOT_FOUND,
            "no such endpoint; see /api/openapi.json",
        )
    } else {
        pages::error_page(StatusCode::NOT_FOUND, "There is no page at this address.")
    }
}

/// A request that ends in an error: how it is told depends on whether the client asked for
/// a page or the API.
#[derive(Debug)]
pub(crate) enum Failure {
    /// 400 with the message.
    BadRequest(String),
    /// 404 with the message.
    NotFound(String),
    /// From the database.
    Db(DbError),
}

impl From<params::BadParam> for Failure {
    fn from(e: params::BadParam) -> Self {
        Failure::BadRequest(e.0)
    }
}

impl From<DbError> for Failure {
    fn from(e: DbError) -> Self {
        match e {
            DbError::BadQuery(m) => Failure::BadRequest(m),
            e => Failure::Db(e),
        }
    }
}

impl Failure {
    /// Status and the message a user may see (internal details are logged instead).
    fn status_and_message(&self) -> (StatusCode, String) {
        match self {
            Failure::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            Failure::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
            Failure::Db(e @ DbError::TimedOut(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
            Failure::Db(e) => {
                tracing::error!(error = %e, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the database could not answer; the server log says why".into(),
                )
            }
        }
    }
}

/// `gleaner serve`: open `db` read-only, listen on `bind`, print the address on stdout
/// (`listening on http://ADDR/`; port 0 picks a free one) and serve until Ctrl-C or
/// SIGTERM. A bind address that is not loopback is served, with a warning.
pub fn run(db: &std::path::Path, bind: SocketAddr) -> Result<(), ServeError> {
    if let Database::File(db) = Database::from_path(db)
        && !db.exists()
    {
        return Err(ServeError::Missing(db.to_path_buf()));
    }
    let options = ServeOptions::new(db.to_path_buf());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let address = listener.local_addr()?;
        if !address.ip().is_loopback() {
            tracing::warn!(%address, "serving beyond this machine: anyone who can reach it can read the database");
        }
        let app = router(&options)?;
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on http://{address}/")?;
            out.flush()?;
        }
        tracing::info!(%address, db = %Database::from_path(&options.db).shown(), "serving read-only");
        axum::serve(listener, app.into_make_service())
            .with_graceful_shutdown(stop_signal())
            .await?;
        Ok(())
    })
}

async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
