//! Polite, robust HTTP fetching for gleaner.
//!
//! `gleaner-fetch` turns a URL into a decoded page, the way a careful person with a browser
//! would: it is one of only two gleaner crates that do I/O (the other is `gleaner-store`), and it
//! does only this. It does **not** parse HTML, discover URLs, schedule crawls or store anything:
//! the caller (the `gleaner` binary) decides what to fetch and what to do with the result.
//!
//! What one [`Fetcher::fetch`] call does:
//!
//! - refuses anything but `http`/`https` (and, with `allow_private_addresses = false`, private and
//!   loopback addresses, checked on IP literals and on every DNS answer);
//! - reads the host's robots.txt once per run (per [`Fetcher`], or once for several processes
//!   through [`Fetcher::share_robots`]), obeys it for gleaner's product
//!   token, and slows down to its `Crawl-delay`; a disallowed URL is [`FetchOutcome::Skipped`]
//!   and never requested; a robots.txt that answers 4xx allows everything, one that stays 5xx or
//!   silent through the retries makes the host [`FetchError::HostUnavailable`] for this run,
//!   and so do [`HOST_GIVE_UP_AFTER`] pages in a row given up on ([`FetchError::HostGivenUp`]);
//! - treats `http://` and `https://` of one host name as one host (one rate, one robots.txt);
//! - waits its turn: a global limit of requests in flight (`concurrency`) and a per-host rate
//!   (`per_host_per_second`: at least 1/rate between two requests to a host), waited for
//!   without holding a slot; [`Fetcher::ready`] lets a scheduler wait for a host's turn before
//!   it gives the task a slot of its own;
//! - sends the stored [`Validators`] as `If-None-Match` / `If-Modified-Since`, so an unchanged
//!   page costs a 304 ([`FetchOutcome::NotModified`]); a 304 to a request that sent none (a
//!   cache answering 304 to anybody) stands for no copy and is an error, never `NotModified`;
//! - follows redirects itself (each hop checked as above), up to `max_redirects`, detecting loops;
//! - retries connection failures, timeouts and 408/429/500/502/503/504 with exponential backoff
//!   and jitter, honouring `Retry-After` (seconds or HTTP date) up to `max_retry_after_secs`;
//! - skips non-text responses (images, PDF, octet-stream, …) before reading their bodies, and
//!   bodies with no `Content-Type` whose first bytes show they are binary; gzip files
//!   (`sitemap.xml.gz` served as `application/gzip`, `application/x-gzip`, octet-stream, or as
//!   text with no `Content-Encoding`) are decompressed, their content capped like any body;
//! - streams the body and stops at `max_body_bytes` counted after decompression (a gzip bomb costs
//!   no memory), saying so in [`FetchedPage::truncated`];
//! - enforces a connect timeout, an idle-read timeout and a total timeout on every attempt;
//! - decodes the body: BOM, `Content-Type` charset, XML declaration, `<meta>` prescan, then a
//!   chardetng guess (see [`charset`] for the order and for the ISO-8859-1 choice), recording the
//!   encoding and why ([`FetchedPage::encoding_source`]).
//!
//! [`Fetcher`] is an `Arc` inside: clone it into as many tasks as you like; they share the
//! connection pool, the limits and the robots.txt cache. Nothing here panics on any input.
//!
//! Throughput and memory: `cargo run --release -p gleaner-fetch --example fetch_bench` fetches
//! 2,000 pages from 16 loopback hosts answering in 50 ms, with concurrency 64 (see the example).
//!
//! ```no_run
//! # async fn demo() -> Result<(), gleaner_fetch::FetchError> {
//! use gleaner_fetch::{FetchConfig, FetchOutcome, Fetcher, Validators};
//! let fetcher = Fetcher::new(FetchConfig::default())?;
//! match fetcher.fetch("https://example.blogspot.com/2022/01/post.html", &Validators::default()).await? {
//!     FetchOutcome::Page(page) => println!("{} bytes of {}", page.body.len(), page.encoding),
//!     FetchOutcome::NotModified { url } => println!("{url} unchanged"),
//!     FetchOutcome::Skipped { url, reason } => println!("{url} skipped: {reason}"),
//! }
//! # Ok(()) }
//! ```

pub mod charset;

mod address;
mod retry;
mod robots;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use futures_util::StreamExt;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{StatusCode, redirect};
use serde::Deserialize;
use tokio::sync::{Notify, OnceCell, Semaphore};
use url::Url;

pub use charset::EncodingSource;
use robots::RobotsPolicy;

/// The `[fetch]` section of the config. Every key has a default; see [`FetchConfig::default`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FetchConfig {
    /// User-Agent header; its first word (up to `/`) is the robots.txt product token.
    pub user_agent: String,
    /// Requests in flight, all hosts together (default 16).
    pub concurrency: usize,
    /// Requests per second per host (default 1.0); a robots.txt Crawl-delay can only lower it.
    pub per_host_per_second: f64,
    /// Total time for one attempt — connecting, headers and the whole body — in seconds (default 30).
    pub timeout_secs: u64,
    /// Time to establish a connection (TCP and TLS), in seconds (default 10).
    pub connect_timeout_secs: u64,
    /// Longest silence while reading a response before the attempt is abandoned, in seconds
    /// (default 15).
    pub read_timeout_secs: u64,
    /// Attempts per URL, the first included (default 4).
    pub max_attempts: u32,
    /// First retry delay in milliseconds; doubled on each further retry, with jitter (default 1000).
    pub retry_base_delay_ms: u64,
    /// Longest retry delay of the backoff (not of Retry-After), in seconds (default 60).
    pub retry_max_delay_secs: u64,
    /// Longest `Retry-After` honoured, in seconds (default 120); a longer one gives the URL up
    /// for this run. Also the longest robots.txt `Crawl-delay` honoured (a longer one is
    /// taken as this).
    pub max_retry_after_secs: u64,
    /// Body size cap in bytes, counted after decompression (default 10 MiB); longer bodies are cut
    /// and marked `truncated`.
    pub max_body_bytes: usize,
    /// Redirects followed before giving up (default 10).
    pub max_redirects: usize,
    /// Obey robots.txt (default true).
    pub respect_robots: bool,
    /// Allow loopback, private and link-local addresses (default true). Set it to false when
    /// people other than you choose the URLs gleaner fetches, so they cannot reach your network.
    /// With false, the system's proxy settings (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`) are
    /// ignored: a proxy resolves host names itself, out of reach of the check. Name one in
    /// `proxy` to use it anyway.
    pub allow_private_addresses: bool,
    /// An HTTP(S) proxy for every request, e.g. `"http://proxy.internal:3128"` (default none:
    /// the system's proxy settings when `allow_private_addresses` is true, no proxy when it is
    /// false). Through a proxy, host names are resolved by the proxy, so only IP literals in
    /// URLs are checked against `allow_private_addresses`.
    pub proxy: Option<String>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            user_agent: default_user_agent(),
            concurrency: 16,
            per_host_per_second: 1.0,
            timeout_secs: 30,
            connect_timeout_secs: 10,
            read_timeout_secs: 15,
            max_attempts: 4,
            retry_base_delay_ms: 1000,
            retry_max_delay_secs: 60,
            max_retry_after_secs: 120,
            max_body_bytes: 10 * 1024 * 1024,
            max_redirects: 10,
            respect_robots: true,
            allow_private_addresses: true,
            proxy: None,
        }
    }
}

impl FetchConfig {
    /// Total timeout of one attempt.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// Check the values make sense; the error says which key is wrong.
    pub fn validate(&self) -> Result<(), FetchError> {
        let bad = |reason: String| Err(FetchError::Config { reason });
        if self.user_agent.trim().is_empty() || HeaderValue::from_str(&self.user_agent).is_err() {
            return bad(format!(
                "user_agent {:?} is not a valid header value",
                self.user_agent
            ));
        }
        if self.concurrency == 0 || self.concurrency > Semaphore::MAX_PERMITS {
            return bad(format!(
                "concurrency must be at least 1, not {}",
                self.concurrency
            ));
        }
        if !(self.per_host_per_second.is_finite() && self.per_host_per_second >= MIN_RATE) {
            return bad(format!(
                "per_host_per_second must be a number of at least {MIN_RATE} (one request a day), not {}",
                self.per_host_per_second
            ));
        }
        if self.max_attempts == 0 || self.max_attempts > MAX_ATTEMPTS {
            return bad(format!(
                "max_attempts must be between 1 and {MAX_ATTEMPTS}, not {}",
                self.max_attempts
            ));
        }
        // Waits past these are typos or hostile values: 4 billion attempts or a Retry-After of
        // 10^12 s honoured held a run (and the lock every later cron run needs) for good.
        for (key, value, max) in [
            (
                "retry_base_delay_ms",
                self.retry_base_delay_ms,
                MAX_TIMEOUT_SECS * 1000,
            ),
            (
                "retry_max_delay_secs",
                self.retry_max_delay_secs,
                MAX_TIMEOUT_SECS,
            ),
            (
                "max_retry_after_secs",
                self.max_retry_after_secs,
                MAX_RETRY_AFTER_SECS,
            ),
        ] {
            if value > max {
                return bad(format!("{key} must be at most {max}, not {value}"));
            }
        }
        for (key, value) in [
            ("timeout_secs", self.timeout_secs),
            ("connect_timeout_secs", self.connect_timeout_secs),
            ("read_timeout_secs", self.read_timeout_secs),
        ] {
            if value == 0 || value > MAX_TIMEOUT_SECS {
                return bad(format!(
                    "{key} must be between 1 and {MAX_TIMEOUT_SECS}, not {value}"
                ));
            }
        }
        if let Some(proxy) = &self.proxy {
            let scheme_ok = Url::parse(proxy)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !scheme_ok || reqwest::Proxy::all(proxy.as_str()).is_err() {
                return bad(format!(
                    "proxy {proxy:?} is not an http:// or https:// URL with a host"
                ));
            }
        }
        Ok(())
    }

    /// The per-host interval between requests before any Crawl-delay.
    fn host_interval(&self) -> Duration {
        Duration::try_from_secs_f64(1.0 / self.per_host_per_second)
            .unwrap_or(Duration::from_secs(1))
    }
}

/// Pages of one host given up on in a row (every attempt failed) after which its other pages
/// fail at once for the rest of the run ([`FetchError::HostGivenUp`]): a host that stalls
/// every request costs a few pages' timeouts, not hours. Any other answer resets the count.
pub const HOST_GIVE_UP_AFTER: u32 = 8;
/// The lowest `per_host_per_second` accepted: one request a day.
const MIN_RATE: f64 = 1.0 / 86_400.0;
/// The longest timeout accepted, in seconds (an hour).
const MAX_TIMEOUT_SECS: u64 = 3600;
/// The most attempts per URL `max_attempts` may ask for.
const MAX_ATTEMPTS: u32 = 20;
/// The longest `max_retry_after_secs`: a day (RFC 9309 lets a robots.txt be kept that long).
const MAX_RETRY_AFTER_SECS: u64 = 86_400;
/// The longest interval a host's limiter is given (a day), whatever its Crawl-delay says.
const MAX_HOST_INTERVAL: Duration = Duration::from_secs(86_400);

/// The default user agent: names gleaner, its version and where to read about it.
pub fn default_user_agent() -> String {
    format!(
        "gleaner/{} (+https://github.com/gleaner-news/gleaner)",
        env!("CARGO_PKG_VERSION")
    )
}

/// Stored validators for a conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// The `ETag` last seen.
    pub etag: Option<String>,
    /// The `Last-Modified` last seen.
    pub last_modified: Option<String>,
}

/// A page fetched and decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedPage {
    /// The URL asked for.
    pub url: String,
    /// The URL after redirects.
    pub final_url: String,
    /// HTTP status.
    pub status: u16,
    /// Content-Type header.
    pub content_type: Option<String>,
    /// Validators to store for the next conditional GET.
    pub validators: Validators,
    /// The decoded body.
    pub body: String,
    /// The encoding used to decode it (WHATWG name).
    pub encoding: &'static str,
    /// Why that encoding was chosen.
    pub encoding_source: EncodingSource,
    /// True when the body was cut at `max_body_bytes`.
    pub truncated: bool,
}

/// How the reason of a [`FetchOutcome::Skipped`] begins when robots.txt disallows the URL
/// (what a caller matches to tell it from a skip for the content type).
pub const ROBOTS_DISALLOWED: &str = "disallowed by robots.txt";

/// The result of a fetch that did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// A page.
    Page(FetchedPage),
    /// 304: the stored copy is current.
    NotModified {
        /// The URL asked for.
        url: String,
    },
    /// Not fetched on purpose (robots.txt, content type, …).
    Skipped {
        /// The URL asked for.
        url: String,
        /// Why.
        reason: String,
    },
}

/// What went wrong fetching a URL. `url` is always the URL asked for.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Not allowed: not http(s), or a private address with `allow_private_addresses = false`.
    #[error("{url}: refused: {reason}")]
    Refused {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// Not a URL at all.
    #[error("{url}: not a valid URL: {reason}")]
    InvalidUrl {
        /// What was given.
        url: String,
        /// What the parser said.
        reason: String,
    },
    /// The server answered with an error status that another attempt would not change (404, 410, 403, …).
    #[error("{url}: HTTP {status}{}", if final_url != url { format!(" at {final_url}") } else { String::new() })]
    Status {
        /// The URL.
        url: String,
        /// The URL that answered, after redirects.
        final_url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// Every attempt failed (connection error, timeout, 408/429/5xx).
    #[error("{url}: gave up after {attempts} attempt(s): {last}")]
    GaveUp {
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// What the last attempt ran into.
        last: String,
    },
    /// The server asked to come back later than `max_retry_after_secs` allows.
    #[error(
        "{url}: server asked to retry after {retry_after_secs} s, more than max_retry_after_secs = {max_secs}; given up for this run"
    )]
    RetryAfterTooLong {
        /// The URL.
        url: String,
        /// What Retry-After asked for.
        retry_after_secs: u64,
        /// The configured cap.
        max_secs: u64,
    },
    /// robots.txt could not be read (5xx, 429, timeout): the host is not crawled this run.
    #[error("{url}: not crawling {origin} this run: its robots.txt is unavailable ({reason})")]
    HostUnavailable {
        /// The URL.
        url: String,
        /// The host's origin (scheme://host:port).
        origin: String,
        /// What happened to robots.txt.
        reason: String,
    },
    /// The host's last [`HOST_GIVE_UP_AFTER`] pages were given up on (timeouts, connection
    /// errors or 5xx through every attempt, or a Retry-After past the cap): its other pages
    /// are not asked for in this run, so a host that stalls cannot hold a run for hours.
    #[error(
        "{url}: not crawling {origin} further this run: its last {pages} pages could not be fetched"
    )]
    HostGivenUp {
        /// The URL.
        url: String,
        /// The host's origin (scheme://host:port).
        origin: String,
        /// Pages given up on in a row.
        pages: u32,
    },
    /// More redirects than `max_redirects`.
    #[error("{url}: more than {limit} redirects")]
    TooManyRedirects {
        /// The URL.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// A redirect led back to a URL already visited.
    #[error("{url}: redirect loop at {at}")]
    RedirectLoop {
        /// The URL.
        url: String,
        /// The URL visited twice.
        at: String,
    },
    /// A redirect without a usable `Location`.
    #[error("{url}: bad redirect from {at}: {reason}")]
    BadRedirect {
        /// The URL.
        url: String,
        /// The URL that redirected.
        at: String,
        /// What was wrong.
        reason: String,
    },
    /// A failure another attempt would not fix (e.g. a corrupt compressed body).
    #[error("{url}: {reason}")]
    Transport {
        /// The URL.
        url: String,
        /// What happened.
        reason: String,
    },
    /// The configuration cannot work.
    #[error("invalid [fetch] config: {reason}")]
    Config {
        /// Which key and why.
        reason: String,
    },
}

impl FetchError {
    /// The URL asked for (none for a config error).
    pub fn url(&self) -> Option<&str> {
        match self {
            FetchError::Refused { url, .. }
            | FetchError::InvalidUrl { url, .. }
            | FetchError::Status { url, .. }
            | FetchError::GaveUp { url, .. }
            | FetchError::RetryAfterTooLong { url, .. }
            | FetchError::HostUnavailable { url, .. }
            | FetchError::HostGivenUp { url, .. }
            | FetchError::TooManyRedirects { url, .. }
            | FetchError::RedirectLoop { url, .. }
            | FetchError::BadRedirect { url, .. }
            | FetchError::Transport { url, .. } => Some(url),
            FetchError::Config { .. } => None,
        }
    }

    /// True when a later run may well succeed (retries exhausted, Retry-After too long, robots.txt
    /// unavailable); false when the URL itself is the problem.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            FetchError::GaveUp { .. }
                | FetchError::RetryAfterTooLong { .. }
                | FetchError::HostUnavailable { .. }
                | FetchError::HostGivenUp { .. }
        )
    }
}

/// The HTTP client: cheap to clone, shared by all the tasks of a run.
#[derive(Clone)]
pub struct Fetcher {
    inner: Arc<Inner>,
}

struct Inner {
    config: FetchConfig,
    /// Every request (pages and robots.txt): redirects are followed by hand, hop by hop, so
    /// each hop goes through the same address check.
    client: reqwest::Client,
    permits: Semaphore,
    robots_agent: String,
    hosts: Mutex<HashMap<String, Arc<OnceCell<Arc<HostState>>>>>,
    /// robots.txt files shared with other fetchers (other processes on one crawl), if set.
    shared_robots: std::sync::OnceLock<Arc<dyn SharedRobots>>,
}

/// robots.txt files and request turns kept for several fetchers at once (cooperating
/// processes on one crawl), so that a host's file is read once for all of them, all obey the
/// same rules, and the per-host rate holds for all of them together. Hosts are named as the
/// fetcher keys them: the host name, and the port when it is not the default one. The calls
/// are short and may block briefly (a database round trip).
pub trait SharedRobots: Send + Sync {
    /// What is known of `host`'s robots.txt.
    fn lookup(&self, host: &str) -> SharedRobotsTxt;
    /// This fetcher read `host`'s robots.txt: `Some((status, body))` (200 and the file, or
    /// 404 and nothing for no rules) to keep for the others, or `None` when it could not be
    /// read (the host is unavailable to this fetcher; another may try).
    fn store(&self, host: &str, answer: Option<(u16, &[u8])>);
    /// Take `host`'s request turn among all the fetchers, for a request this fetcher sends
    /// at once: `None` when taken (no other fetcher's turn for the host may come less than
    /// `interval` after it), or how long until it is due (the fetcher asks again then). A
    /// turn is only ever taken when due, never booked ahead: a request that went out late
    /// then cannot crowd the turns after it, so requests arrive at most one per `interval`
    /// up to how much the time from taking a turn to sending varies. Always taken by default,
    /// and when the shared schedule cannot be read (the fetcher's own pacing still holds).
    fn take_turn(&self, host: &str, interval: Duration) -> Option<Duration> {
        let _ = (host, interval);
        None
    }
}

/// An answer of [`SharedRobots::lookup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SharedRobotsTxt {
    /// Another fetcher read it: its status (2xx: the body holds the rules; else none).
    Known {
        /// HTTP status it answered with.
        status: u16,
        /// The file.
        body: Vec<u8>,
    },
    /// Nobody has: this fetcher reads it (and [`SharedRobots::store`]s it).
    ReadIt,
    /// Another fetcher is reading it now: ask again shortly.
    Wait,
}

/// How long a fetcher waits for another to read a shared robots.txt before reading it itself.
const SHARED_ROBOTS_PATIENCE: Duration = Duration::from_secs(120);
/// How often it asks meanwhile.
const SHARED_ROBOTS_POLL: Duration = Duration::from_millis(100);
/// The least wait before asking again for a shared request turn that is not due.
const SHARED_TURN_POLL: Duration = Duration::from_millis(1);

/// A robots.txt answer worth keeping for other fetchers: status and body.
type RobotsText = Option<(u16, Vec<u8>)>;

/// What is known about one origin during a run.
struct HostState {
    /// The host's key (see [`HostKey::host`]).
    key: String,
    robots: RobotsPolicy,
    /// The least time between two requests to this host.
    interval: Duration,
    /// Tasks for this host take turns waiting for the schedule, so only one of them polls it.
    turn: tokio::sync::Mutex<()>,
    /// When the next request may go, and who was told it is their turn.
    schedule: Mutex<Schedule>,
    /// Woken when the schedule changes (a request went out, a turn was handed back).
    changed: Notify,
    /// Pages given up on in a row (every attempt failed, or a Retry-After past the cap);
    /// any answer the host gives otherwise sets it back to zero. At
    /// [`HOST_GIVE_UP_AFTER`] the host's other pages fail at once for the rest of the run.
    given_up: std::sync::atomic::AtomicU32,
}

/// A host's request schedule.
#[derive(Debug)]
struct Schedule {
    /// No request before this.
    next: Instant,
    /// The [`HostReady`] that holds the next turn, if one does: [`Fetcher::ready`] hands out
    /// one turn at a time; the holder's next request to the host takes it.
    promised: Option<u64>,
    /// Turns handed out so far (to tell them apart).
    promises: u64,
}

impl HostState {
    fn schedule(&self) -> std::sync::MutexGuard<'_, Schedule> {
        self.schedule
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Which host a URL belongs to, for one [`Fetcher`]: what its rate limit and robots.txt are
/// kept by. Two fetchers (a source with its own `[fetch]` keys) never share a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostKey {
    fetcher: usize,
    host: String,
}

impl HostKey {
    /// The host's name, with its port when that is not the scheme's default: how hosts are
    /// told apart (two servers on one address are two hosts), and the name a shared store
    /// keeps a host's request slots and robots.txt by.
    pub fn host(&self) -> &str {
        &self.host
    }
}

/// A host's turn, from [`Fetcher::ready`]: while it is held, no other `ready` call for that
/// host returns, and the holder's next request to the host goes without waiting (unless a
/// request from elsewhere, such as a redirect, took the turn first). Dropping it unused hands
/// the turn back.
#[derive(Debug)]
pub struct HostReady {
    held: Option<(Arc<HostState>, u64)>,
}

impl fmt::Debug for HostState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostState")
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl Drop for HostReady {
    fn drop(&mut self) {
        if let Some((host, id)) = self.held.take() {
            let mut schedule = host.schedule();
            if schedule.promised == Some(id) {
                schedule.promised = None;
                drop(schedule);
                host.changed.notify_waiters();
            }
        }
    }
}

impl fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetcher")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Why a robots.txt attempt failed in a way worth retrying, and the server's Retry-After.
type RobotsRetry = (String, Option<Duration>);

/// What one attempt at one URL came to.
enum Attempt {
    Redirect(Option<String>),
    NotModified,
    Skipped(String),
    Body {
        status: u16,
        content_type: Option<String>,
        validators: Validators,
        bytes: Vec<u8>,
        truncated: bool,
    },
    Status {
        status: StatusCode,
        retry_after: Option<Duration>,
    },
}

/// Why one attempt failed.
enum AttemptError {
    /// Worth another attempt.
    Retryable(String),
    /// Not worth another attempt.
    Fatal(String),
    /// The address is refused by policy.
    Refused(String),
}

/// The environment variables through which reqwest picks up system proxies.
const PROXY_VARIABLES: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Redirects followed for robots.txt (RFC 9309 asks for at least five); past them the file
/// counts as absent.
const MAX_ROBOTS_REDIRECTS: usize = 5;

const ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,application/json;q=0.9,*/*;q=0.5";

impl Fetcher {
    /// Build a fetcher from its config.
    pub fn new(config: FetchConfig) -> Result<Self, FetchError> {
        config.validate()?;
        let mut builder = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .redirect(redirect::Policy::none())
            .connect_timeout(Duration::from_secs(config.connect_timeout_secs))
            .read_timeout(Duration::from_secs(config.read_timeout_secs))
            .timeout(config.timeout())
            .pool_idle_timeout(Duration::from_secs(30));
        if !config.allow_private_addresses {
            builder = builder.dns_resolver(Arc::new(address::PublicOnlyResolver));
        }
        if let Some(proxy) = &config.proxy {
            let proxy = reqwest::Proxy::all(proxy.as_str()).map_err(|e| FetchError::Config {
                reason: format!("proxy {proxy:?}: {}", chain(&e)),
            })?;
            tracing::info!("all requests go through the configured proxy");
            builder = builder.proxy(proxy);
        } else if !config.allow_private_addresses {
            // A proxy would resolve host names itself, past the resolver's check.
            let ignored: Vec<&str> = PROXY_VARIABLES
                .iter()
                .copied()
                .filter(|v| std::env::var_os(v).is_some_and(|value| !value.is_empty()))
                .collect();
            static SAID: std::sync::Once = std::sync::Once::new();
            if !ignored.is_empty() {
                SAID.call_once(|| {
                    tracing::info!(
                        variables = %ignored.join(", "),
                        "allow_private_addresses is false: ignoring the system proxy settings \
                         (a proxy resolves host names out of reach of the address check); \
                         set [fetch] proxy to use one"
                    );
                });
            }
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(|e| FetchError::Config {
            reason: format!("cannot build the HTTP client: {}", chain(&e)),
        })?;
        Ok(Fetcher {
            inner: Arc::new(Inner {
                robots_agent: robots::product_token(&config.user_agent),
                permits: Semaphore::new(config.concurrency),
                client,
                hosts: Mutex::new(HashMap::new()),
                shared_robots: std::sync::OnceLock::new(),
                config,
            }),
        })
    }

    /// Read and keep robots.txt files through `shared` (other processes on one crawl) from
    /// now on, instead of this fetcher alone. Set once: false if it was set already.
    pub fn share_robots(&self, shared: Arc<dyn SharedRobots>) -> bool {
        self.inner.shared_robots.set(shared).is_ok()
    }

    /// The config in force.
    pub fn config(&self) -> &FetchConfig {
        &self.inner.config
    }

    /// Fetch one URL, sending `validators` for a conditional GET.
    ///
    /// `Ok` is a page, a 304 or a deliberate skip (robots.txt, content type); `Err` says what went
    /// wrong with which URL.
    pub async fn fetch(
        &self,
        url: &str,
        validators: &Validators,
    ) -> Result<FetchOutcome, FetchError> {
        let asked = url.to_string();
        let mut current = Url::parse(url.trim()).map_err(|e| FetchError::InvalidUrl {
            url: asked.clone(),
            reason: e.to_string(),
        })?;
        let mut visited: HashSet<String> = HashSet::new();
        let mut redirects = 0usize;
        loop {
            current.set_fragment(None);
            if let Some(reason) =
                address::refusal(&current, self.inner.config.allow_private_addresses)
            {
                return Err(FetchError::Refused { url: asked, reason });
            }
            if !visited.insert(current.as_str().to_string()) {
                return Err(FetchError::RedirectLoop {
                    url: asked,
                    at: current.to_string(),
                });
            }
            let host = self.host_state(&current).await;
            match &host.robots {
                RobotsPolicy::Unreachable(reason) => {
                    return Err(FetchError::HostUnavailable {
                        url: asked,
                        origin: current.origin().ascii_serialization(),
                        reason: reason.clone(),
                    });
                }
                RobotsPolicy::Refused(reason) => {
                    return Err(FetchError::Refused {
                        url: asked,
                        reason: reason.clone(),
                    });
                }
                RobotsPolicy::AllowAll | RobotsPolicy::Rules(_) => {}
            }
            if !host.robots.allows(current.as_str()) {
                return Ok(FetchOutcome::Skipped {
                    url: asked,
                    reason: format!("{ROBOTS_DISALLOWED}: {current}"),
                });
            }
            let given_up = host.given_up.load(std::sync::atomic::Ordering::Relaxed);
            if given_up >= HOST_GIVE_UP_AFTER {
                return Err(FetchError::HostGivenUp {
                    url: asked,
                    origin: current.origin().ascii_serialization(),
                    pages: given_up,
                });
            }
            let attempt = self.with_retries(&asked, &current, &host, validators).await;
            match &attempt {
                Err(FetchError::GaveUp { .. } | FetchError::RetryAfterTooLong { .. }) => {
                    host.given_up
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Ok(_) | Err(FetchError::Status { .. }) => {
                    host.given_up.store(0, std::sync::atomic::Ordering::Relaxed);
                }
                Err(_) => {}
            }
            match attempt? {
                Attempt::Redirect(location) => {
                    let location = location.ok_or_else(|| FetchError::BadRedirect {
                        url: asked.clone(),
                        at: current.to_string(),
                        reason: "no Location header".to_string(),
                    })?;
                    let next =
                        current
                            .join(location.trim())
                            .map_err(|e| FetchError::BadRedirect {
                                url: asked.clone(),
                                at: current.to_string(),
                                reason: format!("Location {location:?}: {e}"),
                            })?;
                    redirects += 1;
                    if redirects > self.inner.config.max_redirects {
                        return Err(FetchError::TooManyRedirects {
                            url: asked,
                            limit: self.inner.config.max_redirects,
                        });
                    }
                    tracing::debug!(from = %current, to = %next, "redirect");
                    current = next;
                }
                Attempt::NotModified => return Ok(FetchOutcome::NotModified { url: asked }),
                Attempt::Skipped(reason) => {
                    return Ok(FetchOutcome::Skipped { url: asked, reason });
                }
                Attempt::Status { status, .. } => {
                    return Err(FetchError::Status {
                        url: asked,
                        final_url: current.to_string(),
                        status: status.as_u16(),
                    });
                }
                Attempt::Body {
                    status,
                    content_type,
                    validators,
                    bytes,
                    truncated,
                } => {
                    let (body, encoding, encoding_source) =
                        charset::decode(&bytes, content_type.as_deref(), current.host_str());
                    return Ok(FetchOutcome::Page(FetchedPage {
                        url: asked,
                        final_url: current.to_string(),
                        status,
                        content_type,
                        validators,
                        body,
                        encoding,
                        encoding_source,
                        truncated,
                    }));
                }
            }
        }
    }

    /// Attempts at one URL (one redirect hop) until one is conclusive or the attempts run out.
    async fn with_retries(
        &self,
        asked: &str,
        url: &Url,
        host: &HostState,
        validators: &Validators,
    ) -> Result<Attempt, FetchError> {
        let config = &self.inner.config;
        let base = Duration::from_millis(config.retry_base_delay_ms);
        let max_delay = Duration::from_secs(config.retry_max_delay_secs);
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let (failure, retry_after) = match self.attempt(url, host, validators).await {
                Ok(Attempt::Status {
                    status,
                    retry_after,
                }) if retry::is_retryable_status(status) => {
                    (format!("HTTP {status} from {url}"), retry_after)
                }
                Ok(attempt) => return Ok(attempt),
                Err(AttemptError::Refused(reason)) => {
                    return Err(FetchError::Refused {
                        url: asked.to_string(),
                        reason,
                    });
                }
                Err(AttemptError::Fatal(reason)) => {
                    return Err(FetchError::Transport {
                        url: asked.to_string(),
                        reason,
                    });
                }
                Err(AttemptError::Retryable(reason)) => (reason, None),
            };
            let cap = Duration::from_secs(config.max_retry_after_secs);
            if let Some(wait) = retry_after.filter(|wait| *wait > cap) {
                return Err(FetchError::RetryAfterTooLong {
                    url: asked.to_string(),
                    retry_after_secs: wait.as_secs(),
                    max_secs: config.max_retry_after_secs,
                });
            }
            if attempts >= config.max_attempts {
                return Err(FetchError::GaveUp {
                    url: asked.to_string(),
                    attempts,
                    last: failure,
                });
            }
            let wait = retry_after.unwrap_or_else(|| retry::backoff(attempts, base, max_delay));
            tracing::debug!(%url, attempt = attempts, ?wait, %failure, "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// One request: wait for the host's rate and a global slot, send, read the body.
    async fn attempt(
        &self,
        url: &Url,
        host: &HostState,
        validators: &Validators,
    ) -> Result<Attempt, AttemptError> {
        let _permit = self.wait_turn(host).await?;
        let config = &self.inner.config;
        let mut request = self
            .inner
            .client
            .get(url.clone())
            .header(header::ACCEPT, ACCEPT);
        // Whether the request names a copy of the page: only then can a 304 stand for it.
        let mut conditional = false;
        if let Some(etag) = validators
            .etag
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            request = request.header(header::IF_NONE_MATCH, etag);
            conditional = true;
        }
        if let Some(date) = validators
            .last_modified
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            request = request.header(header::IF_MODIFIED_SINCE, date);
            conditional = true;
        }
        let exchange = async {
            let response = request.send().await.map_err(|e| classify(&e))?;
            let status = response.status();
            let headers = response.headers();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                if matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
                    return Ok(Attempt::Redirect(header_str(headers, header::LOCATION)));
                }
                return Ok(Attempt::Status {
                    status,
                    retry_after: None,
                });
            }
            if status == StatusCode::NOT_MODIFIED {
                if !conditional {
                    // A cache or server that answers 304 to anybody: there is no copy it
                    // could stand for, and taking it as "unchanged" would lose the page.
                    return Err(AttemptError::Fatal(
                        "answered 304 Not Modified to a request that named no copy of the page \
                         (no If-None-Match or If-Modified-Since)"
                            .to_string(),
                    ));
                }
                return Ok(Attempt::NotModified);
            }
            if !status.is_success() {
                let retry_after = header_str(headers, header::RETRY_AFTER)
                    .and_then(|v| retry::parse_retry_after(&v, SystemTime::now()));
                return Ok(Attempt::Status {
                    status,
                    retry_after,
                });
            }
            let content_type = header_str(headers, header::CONTENT_TYPE);
            let gzip_file = content_type
                .as_deref()
                .is_some_and(|ct| may_be_gzip_file(ct, url.path()));
            if let Some(ct) = content_type
                .as_deref()
                .filter(|ct| !is_textual(ct) && !gzip_file)
            {
                let reason = format!("content type {} is not text", charset::media_type(ct));
                return Ok(Attempt::Skipped(reason));
            }
            let validators = Validators {
                etag: header_str(headers, header::ETAG),
                last_modified: header_str(headers, header::LAST_MODIFIED),
            };
            let (bytes, truncated) = read_capped(response, config.max_body_bytes).await?;
            // A gzip file (`sitemap.xml.gz`) rather than a gzip-encoded response (which reqwest
            // has already decoded): the bytes still start with the gzip magic.
            let unzipped = bytes.starts_with(GZIP_MAGIC);
            let (bytes, truncated) = if unzipped {
                gunzip_capped(&bytes, truncated, config.max_body_bytes)?
            } else {
                (bytes, truncated)
            };
            // Sniffed only when the answer is used (a typed, plain response is not).
            if let Some(kind) = (content_type.is_none() || unzipped || gzip_file)
                .then(|| sniff_binary(&bytes))
                .flatten()
            {
                return Ok(Attempt::Skipped(format!(
                    "no content type, and the body is {kind}"
                )));
            }
            if let Some(ct) = content_type.as_deref()
                && let Some(kind) = binary_despite_type(&bytes, ct)
            {
                // An image, or a compressed body sent without its Content-Encoding, under a
                // text type: decoded as text it was stored as an article of mojibake, with
                // validators that let a 304 keep it so. A failure to try again instead.
                return Err(AttemptError::Fatal(format!(
                    "the body is {kind}, not the {} its Content-Type says",
                    charset::media_type(ct)
                )));
            }
            Ok(Attempt::Body {
                status: status.as_u16(),
                content_type,
                validators,
                bytes,
                truncated,
            })
        };
        match tokio::time::timeout(config.timeout(), exchange).await {
            Ok(result) => result,
            Err(_) => Err(AttemptError::Retryable(format!(
                "timed out: no complete response within {} s",
                config.timeout_secs
            ))),
        }
    }

    /// Wait until this host may be sent a request and a global slot is free; return the slot.
    ///
    /// The host's time is waited for holding no slot; the slot is then taken and the time
    /// checked again with it in hand, so a request goes out no earlier than the schedule allows
    /// (never early because the slot came late). On a shared schedule the host's turn among
    /// all the fetchers is then taken, last, so the request goes right after it (the slot is
    /// held meanwhile: one task per host at a time). Taking the turn moves the schedule on by
    /// the host's interval and ends any turn promised by [`Fetcher::ready`].
    async fn wait_turn(
        &self,
        host: &HostState,
    ) -> Result<tokio::sync::SemaphorePermit<'_>, AttemptError> {
        let _turn = host.turn.lock().await;
        loop {
            let next = host.schedule().next;
            if Instant::now() < next {
                tokio::time::sleep_until(next).await;
                continue;
            }
            let permit = self
                .inner
                .permits
                .acquire()
                .await
                .map_err(|_| AttemptError::Fatal("the fetcher is shutting down".to_string()))?;
            if Instant::now() < host.schedule().next {
                continue;
            }
            // Only this task moves the schedule (it holds the host's turn lock).
            self.take_shared_turn(&host.key, host.interval).await;
            let mut schedule = host.schedule();
            schedule.next = Instant::now() + host.interval;
            schedule.promised = None;
            drop(schedule);
            host.changed.notify_waiters();
            return Ok(permit);
        }
    }

    /// On a shared schedule ([`Fetcher::share_robots`]), wait until this fetcher has taken
    /// `host`'s request turn among all the fetchers; the request must go at once. Nothing to
    /// wait for otherwise.
    async fn take_shared_turn(&self, host: &str, interval: Duration) {
        let Some(shared) = self.inner.shared_robots.get() else {
            return;
        };
        while let Some(wait) = shared.take_turn(host, interval) {
            tokio::time::sleep(wait.max(SHARED_TURN_POLL)).await;
        }
    }

    /// The key of `url`'s host for this fetcher (what its rate and robots.txt are kept by), or
    /// none for a string that is not a URL with a host.
    pub fn host_key(&self, url: &str) -> Option<HostKey> {
        let parsed = Url::parse(url.trim()).ok()?;
        parsed.host_str()?;
        Some(HostKey {
            fetcher: Arc::as_ptr(&self.inner) as usize,
            host: host_key(&parsed),
        })
    }

    /// Wait, holding no request slot, until `url`'s host may be sent its next request, and
    /// keep that turn for the caller until its next request to the host (or until the returned
    /// [`HostReady`] is dropped). Reads the host's robots.txt first if it was not read yet.
    ///
    /// This is for a scheduler that should not give a task one of its own slots while the task
    /// would only wait for politeness: `ready` first, then the slot, then [`Fetcher::fetch`].
    /// Returns at once (holding no turn) for a URL that will not be requested: not a URL, a
    /// refused address, a host whose robots.txt is unavailable or that is given up on for
    /// this run ([`FetchError::HostGivenUp`]), or a path it disallows.
    pub async fn ready(&self, url: &str) -> HostReady {
        let none = HostReady { held: None };
        let Ok(parsed) = Url::parse(url.trim()) else {
            return none;
        };
        if address::refusal(&parsed, self.inner.config.allow_private_addresses).is_some() {
            return none;
        }
        let host = self.host_state(&parsed).await;
        if !matches!(host.robots, RobotsPolicy::AllowAll | RobotsPolicy::Rules(_))
            || !host.robots.allows(parsed.as_str())
            || host.given_up.load(std::sync::atomic::Ordering::Relaxed) >= HOST_GIVE_UP_AFTER
        {
            return none;
        }
        loop {
            let changed = host.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let until = {
                let mut schedule = host.schedule();
                if schedule.promised.is_none() {
                    if Instant::now() >= schedule.next {
                        schedule.promises += 1;
                        let id = schedule.promises;
                        schedule.promised = Some(id);
                        return HostReady {
                            held: Some((Arc::clone(&host), id)),
                        };
                    }
                    Some(schedule.next)
                } else {
                    None
                }
            };
            match until {
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = &mut changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    /// The sitemaps the robots.txt of `url`'s origin names (`Sitemap:` lines) on that origin
    /// and allowed by it, as absolute URLs, in file order; reads the robots.txt if it was not
    /// read yet. Empty when there is none, the file could not be read, or robots.txt is not
    /// respected.
    pub async fn robots_sitemaps(&self, url: &str) -> Vec<String> {
        let Ok(parsed) = Url::parse(url.trim()) else {
            return Vec::new();
        };
        if address::refusal(&parsed, self.inner.config.allow_private_addresses).is_some() {
            return Vec::new();
        }
        let host = self.host_state(&parsed).await;
        host.robots
            .sitemaps()
            .iter()
            .filter_map(|s| parsed.join(s).ok())
            .filter(|s| {
                matches!(s.scheme(), "http" | "https")
                    && host_key(s) == host.key
                    && host.robots.allows(s.as_str())
            })
            .map(String::from)
            .collect()
    }

    /// The state of `url`'s origin, reading its robots.txt the first time it is asked for.
    ///
    /// Hosts are told apart by name and explicit port, not by scheme: `http://` and `https://`
    /// on the default ports share one rate limit and one robots.txt (read over the scheme of the
    /// first URL seen), so an http → https redirect does not double the rate at a site.
    async fn host_state(&self, url: &Url) -> Arc<HostState> {
        let key = host_key(url);
        let cell = {
            let mut hosts = self
                .inner
                .hosts
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            hosts.entry(key.clone()).or_default().clone()
        };
        cell.get_or_init(|| async {
            let config = &self.inner.config;
            let mut interval = config.host_interval();
            let robots = if config.respect_robots {
                self.read_robots(url).await
            } else {
                RobotsPolicy::AllowAll
            };
            if let Some(delay) = robots.crawl_delay() {
                // A wait the server asks for is honoured up to `max_retry_after_secs`, like a
                // Retry-After: `Crawl-delay: 86400` held a run a day per page (and every later
                // cron run exited 3 on the lock, so no source was read for days).
                let cap = Duration::from_secs(config.max_retry_after_secs);
                if delay > cap {
                    tracing::warn!(
                        host = %key,
                        crawl_delay_secs = delay.as_secs(),
                        max_retry_after_secs = config.max_retry_after_secs,
                        "robots.txt asks for a longer Crawl-delay than max_retry_after_secs: \
                         waiting that long between requests instead"
                    );
                }
                interval = interval.max(delay.min(cap));
            }
            let interval = interval.min(MAX_HOST_INTERVAL);
            // The robots.txt request was this host's first: the first page waits its interval.
            let next = if config.respect_robots {
                Instant::now() + interval
            } else {
                Instant::now()
            };
            tracing::debug!(host = %key, ?interval, robots = ?robots_summary(&robots), "host ready");
            Arc::new(HostState {
                key: key.clone(),
                robots,
                interval,
                turn: tokio::sync::Mutex::new(()),
                schedule: Mutex::new(Schedule {
                    next,
                    promised: None,
                    promises: 0,
                }),
                changed: Notify::new(),
                given_up: std::sync::atomic::AtomicU32::new(0),
            })
        })
        .await
        .clone()
    }

    /// The origin's robots.txt as a policy: read by this fetcher, or, when it shares them
    /// ([`Fetcher::share_robots`]), as another fetcher read it (waiting while one does).
    async fn read_robots(&self, url: &Url) -> RobotsPolicy {
        let Some(shared) = self.inner.shared_robots.get() else {
            return self.read_robots_here(url).await.0;
        };
        let key = host_key(url);
        let patience = Instant::now() + SHARED_ROBOTS_PATIENCE;
        loop {
            match shared.lookup(&key) {
                SharedRobotsTxt::Known { status, body } => {
                    tracing::debug!(host = %key, status, "robots.txt as another worker read it");
                    return if (200..300).contains(&status) {
                        RobotsPolicy::parse(&self.inner.robots_agent, &body, false)
                    } else {
                        RobotsPolicy::AllowAll
                    };
                }
                SharedRobotsTxt::Wait if Instant::now() < patience => {
                    tokio::time::sleep(SHARED_ROBOTS_POLL).await;
                }
                SharedRobotsTxt::ReadIt | SharedRobotsTxt::Wait => break,
            }
        }
        let (policy, text) = self.read_robots_here(url).await;
        shared.store(
            &key,
            text.as_ref()
                .map(|(status, body)| (*status, body.as_slice())),
        );
        policy
    }

    /// GET the origin's robots.txt and make a policy of it, retrying like a page (connection
    /// failures, timeouts, 429 and 5xx) before deciding the host cannot be crawled this run.
    /// With it, what to keep for other fetchers (nothing when it could not be read).
    async fn read_robots_here(&self, url: &Url) -> (RobotsPolicy, RobotsText) {
        let mut robots_url = url.clone();
        robots_url.set_path("/robots.txt");
        robots_url.set_query(None);
        robots_url.set_fragment(None);
        let config = &self.inner.config;
        let cap = Duration::from_secs(config.max_retry_after_secs);
        let base = Duration::from_millis(config.retry_base_delay_ms);
        let max_delay = Duration::from_secs(config.retry_max_delay_secs);
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let (reason, retry_after) = match self.robots_attempt(&robots_url).await {
                Ok(answer) => return answer,
                Err(failure) => failure,
            };
            if let Some(wait) = retry_after.filter(|wait| *wait > cap) {
                let policy = RobotsPolicy::Unreachable(format!(
                    "{reason}, Retry-After {} s is more than max_retry_after_secs",
                    wait.as_secs()
                ));
                return (policy, None);
            }
            if attempts >= config.max_attempts {
                let policy =
                    RobotsPolicy::Unreachable(format!("{reason}, after {attempts} attempt(s)"));
                return (policy, None);
            }
            let wait = retry_after.unwrap_or_else(|| retry::backoff(attempts, base, max_delay));
            tracing::debug!(%robots_url, attempt = attempts, ?wait, %reason, "retrying robots.txt");
            tokio::time::sleep(wait).await;
        }
    }

    /// One robots.txt request: a policy and what of it to keep for other fetchers, or (to
    /// try again) why it failed and any Retry-After.
    async fn robots_attempt(
        &self,
        robots_url: &Url,
    ) -> Result<(RobotsPolicy, RobotsText), RobotsRetry> {
        let config = &self.inner.config;
        let no_rules = || (RobotsPolicy::AllowAll, Some((404, Vec::new())));
        let Ok(_permit) = self.inner.permits.acquire().await else {
            return Ok((
                RobotsPolicy::Unreachable("the fetcher is shutting down".to_string()),
                None,
            ));
        };
        // A robots.txt request counts against the host's rate shared with other fetchers
        // (each attempt; its own pacing starts after it).
        self.take_shared_turn(&host_key(robots_url), config.host_interval())
            .await;
        let allow_private = config.allow_private_addresses;
        let exchange = async {
            let mut current = robots_url.clone();
            let mut visited: HashSet<String> = HashSet::new();
            loop {
                // Every hop goes through the check a page's hops go through.
                if let Some(reason) = address::refusal(&current, allow_private) {
                    let reason = if current == *robots_url {
                        reason
                    } else {
                        format!("robots.txt redirects to {current}: {reason}")
                    };
                    return Ok(Ok((RobotsPolicy::Refused(reason), None)));
                }
                if !visited.insert(current.as_str().to_string())
                    || visited.len() > MAX_ROBOTS_REDIRECTS + 1
                {
                    // A loop, or more than five redirects: RFC 9309 lets a crawler take that
                    // as "no robots.txt".
                    return Ok(Ok(no_rules()));
                }
                let response = self
                    .inner
                    .client
                    .get(current.clone())
                    .send()
                    .await
                    .map_err(|e| classify(&e))?;
                let status = response.status();
                if matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
                    let next = header_str(response.headers(), header::LOCATION)
                        .and_then(|location| current.join(&location).ok());
                    match next {
                        Some(mut next) => {
                            next.set_fragment(None);
                            tracing::debug!(from = %current, to = %next, "robots.txt redirect");
                            current = next;
                            continue;
                        }
                        // A redirect to nowhere: no usable robots.txt.
                        None => return Ok(Ok(no_rules())),
                    }
                }
                if status.is_success() {
                    let (bytes, cut) = read_capped(response, robots::MAX_ROBOTS_BYTES).await?;
                    let agent = &self.inner.robots_agent;
                    let policy = RobotsPolicy::parse(agent, &bytes, cut);
                    // A file cut at the cap is kept by no other fetcher (it would be read
                    // as whole there).
                    return Ok(Ok((policy, (!cut).then_some((200, bytes)))));
                }
                if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                    let retry_after = header_str(response.headers(), header::RETRY_AFTER)
                        .and_then(|v| retry::parse_retry_after(&v, SystemTime::now()));
                    return Ok(Err((format!("HTTP {status}"), retry_after)));
                }
                // 4xx (and anything else unexpected) means there are no rules.
                return Ok(Ok(no_rules()));
            }
        };
        match tokio::time::timeout(config.timeout(), exchange).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(AttemptError::Retryable(reason))) => Err((reason, None)),
            Ok(Err(AttemptError::Fatal(reason))) => Ok((RobotsPolicy::Unreachable(reason), None)),
            Ok(Err(AttemptError::Refused(reason))) => Ok((RobotsPolicy::Refused(reason), None)),
            Err(_) => Err((format!("timed out after {} s", config.timeout_secs), None)),
        }
    }
}

/// The key of a URL's host state: the host name, and the port when it is not the default.
fn host_key(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

fn robots_summary(robots: &RobotsPolicy) -> String {
    match robots {
        RobotsPolicy::AllowAll => "allow all".to_string(),
        RobotsPolicy::Rules(_) => "rules".to_string(),
        RobotsPolicy::Unreachable(reason) => format!("unreachable: {reason}"),
        RobotsPolicy::Refused(reason) => format!("refused: {reason}"),
    }
}

/// Read a body up to `cap` bytes (after decompression); true when more was there.
async fn read_capped(
    response: reqwest::Response,
    cap: usize,
) -> Result<(Vec<u8>, bool), AttemptError> {
    let mut stream = response.bytes_stream();
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| classify(&e))?;
        let room = cap - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// The first bytes of gzip data (magic and the deflate method).
const GZIP_MAGIC: &[u8] = b"\x1f\x8b\x08";

/// Whether a response of this type may be a gzip file to read through: `application/gzip`
/// (and its `x-` and `gzip-compressed` spellings), or `application/octet-stream` at a path
/// ending in `.gz`. Only bodies that start with the gzip magic are then decompressed.
fn may_be_gzip_file(content_type: &str, path: &str) -> bool {
    let media = charset::media_type(content_type);
    matches!(
        media.as_str(),
        "application/gzip"
            | "application/x-gzip"
            | "application/x-gunzip"
            | "application/gzip-compressed"
    ) || (media == "application/octet-stream" && path.to_ascii_lowercase().ends_with(".gz"))
}

/// Decompress a gzip file, keeping at most `cap` bytes of what it holds (a gzip bomb costs
/// no more than the cap). `cut` says the compressed bytes were already cut at the cap: their
/// end is then missing, and what decompresses is kept as a truncated body. Corrupt data is a
/// fatal error (the same next time).
fn gunzip_capped(
    compressed: &[u8],
    cut: bool,
    cap: usize,
) -> Result<(Vec<u8>, bool), AttemptError> {
    use std::io::Read;
    let mut out = Vec::new();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    let mut reader = flate2::read::MultiGzDecoder::new(compressed).take(limit);
    match reader.read_to_end(&mut out) {
        Ok(_) => {}
        Err(_) if cut => return Ok((out, true)),
        Err(e) => return Err(AttemptError::Fatal(format!("corrupt gzip file: {e}"))),
    }
    if out.len() > cap {
        out.truncate(cap);
        return Ok((out, true));
    }
    Ok((out, cut))
}

/// Sort a client error into retryable, fatal, or refused by address policy.
fn classify(err: &reqwest::Error) -> AttemptError {
    if let Some(reason) = address::private_address_in_chain(err) {
        return AttemptError::Refused(reason);
    }
    let text = chain(err);
    if err.is_timeout() {
        AttemptError::Retryable(format!("timed out: {text}"))
    } else if err.is_builder() || err.is_redirect() || (err.is_decode() && is_corrupt_data(err)) {
        // A malformed request, or a body that is corrupt (bad gzip): the same next time.
        AttemptError::Fatal(text)
    } else {
        // Connection refused or reset, TLS failure, a body cut short: may well work next time.
        AttemptError::Retryable(text)
    }
}

/// Whether the chain holds the I/O error a decompressor reports for bad input (kind
/// `InvalidData` or `Other`), rather than one of a broken connection.
fn is_corrupt_data(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::Other
            );
        }
        current = e.source();
    }
    false
}

/// An error and its sources, joined: "error sending request: connection refused".
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let more = e.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = e.source();
    }
    text
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Whether a `Content-Type` names something gleaner can read as text: `text/*`, XML, JSON,
/// XHTML and JavaScript; not images, audio, video, fonts, PDF, archives or octet-stream.
pub fn is_textual(content_type: &str) -> bool {
    let media = charset::media_type(content_type);
    let Some((kind, subtype)) = media.split_once('/') else {
        // Unparsable: let the body speak for itself.
        return true;
    };
    kind == "text"
        || subtype == "xml"
        || subtype.ends_with("+xml")
        || subtype == "json"
        || subtype.ends_with("+json")
        || subtype == "javascript"
        || subtype == "ecmascript"
}

/// Bytes of the head of a body looked at by [`binary_despite_type`].
const BINARY_HEAD: usize = 1024;
/// Control bytes in [`BINARY_HEAD`] that make a body declared as text binary: random or
/// compressed bytes have one in ten; a text page with a stray control character has one or two.
const BINARY_CONTROLS: usize = 16;

/// What a body whose `Content-Type` says text really is, when its first bytes show it is
/// binary: a known file signature, or many control bytes (compressed data sent without its
/// `Content-Encoding`, an image under `text/html`). A body that declares a UTF-16 or UTF-32
/// charset, or starts with a byte order mark, is text whatever its bytes.
fn binary_despite_type(body: &[u8], content_type: &str) -> Option<&'static str> {
    let lower = content_type.to_ascii_lowercase();
    if lower.contains("utf-16") || lower.contains("utf-32") || lower.contains("ucs-2") {
        return None;
    }
    // A BOM, or markup in UTF-16 without one (`<\0` or `\0<`): text in a wide encoding.
    if encoding_rs::Encoding::for_bom(body).is_some()
        || body.starts_with(b"<\0")
        || body.starts_with(b"\0<")
    {
        return None;
    }
    if let Some(kind) = signature(body) {
        return Some(kind);
    }
    let head = &body[..body.len().min(BINARY_HEAD)];
    let controls: usize = head.iter().map(|b| usize::from(is_binary_byte(*b))).sum();
    (controls >= BINARY_CONTROLS).then_some("binary data")
}

/// The control bytes WHATWG MIME sniffing takes as a sign of binary data.
fn is_binary_byte(b: u8) -> bool {
    matches!(b, 0x00..=0x08 | 0x0b | 0x0e..=0x1a | 0x1c..=0x1f)
}

/// What a body with no `Content-Type` is, if its first bytes show it is not text: a known
/// file signature, or the control bytes that WHATWG MIME sniffing takes as binary.
fn sniff_binary(body: &[u8]) -> Option<&'static str> {
    if let Some(kind) = signature(body) {
        return Some(kind);
    }
    if encoding_rs::Encoding::for_bom(body).is_some() {
        return None;
    }
    let head = &body[..body.len().min(512)];
    head.iter()
        .any(|b| is_binary_byte(*b))
        .then_some("binary data")
}

/// The kind of file a body's first bytes say it is, by a known signature.
fn signature(body: &[u8]) -> Option<&'static str> {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"\x89PNG\r\n\x1a\n", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"GIF87a", "a GIF image"),
        (b"GIF89a", "a GIF image"),
        (b"%PDF-", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive"),
        (b"\x1f\x8b\x08", "gzip data"),
    ];
    SIGNATURES
        .iter()
        .find(|(magic, _)| body.starts_with(magic))
        .map(|(_, kind)| *kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_bodies_are_recognised() {
        assert_eq!(sniff_binary(b"\x89PNG\r\n\x1a\n...."), Some("a PNG image"));
        assert_eq!(sniff_binary(b"%PDF-1.7"), Some("a PDF document"));
        assert_eq!(sniff_binary(b"abc\x00def"), Some("binary data"));
        assert_eq!(sniff_binary(b"<html>caf\xc3\xa9\r\n\t</html>"), None);
        assert_eq!(
            sniff_binary(b"\xff\xfe<\x00h\x00"),
            None,
            "UTF-16 with a BOM is text"
        );
        assert_eq!(sniff_binary(b""), None);
    }

    #[test]
    fn a_binary_body_under_a_text_type_is_recognised() {
        let html = "text/html; charset=utf-8";
        assert_eq!(
            binary_despite_type(b"\x89PNG\r\n\x1a\n....", html),
            Some("a PNG image")
        );
        let noise: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert_eq!(binary_despite_type(&noise, html), Some("binary data"));
        assert_eq!(
            binary_despite_type(&noise, "text/html; charset=UTF-16"),
            None
        );
        // A page with a stray control character or two is text.
        let page = b"<html><body>\x00one\x0b stray\x1a bytes</body></html>";
        assert_eq!(binary_despite_type(page, html), None);
        assert_eq!(binary_despite_type(b"\xff\xfe<\x00h\x00", html), None);
        let utf16: Vec<u8> = "<?xml version='1.0' encoding='UTF-16LE'?><urlset></urlset>"
            .bytes()
            .flat_map(|b| [b, 0])
            .collect();
        assert_eq!(binary_despite_type(&utf16, "application/xml"), None);
    }

    #[test]
    fn host_keys_ignore_scheme_and_default_ports() {
        let key = |s: &str| host_key(&Url::parse(s).unwrap());
        assert_eq!(key("http://Example.com/a"), key("https://example.com/b"));
        assert_eq!(key("http://example.com:80/"), "example.com");
        assert_ne!(key("http://127.0.0.1:8080/"), key("http://127.0.0.1:8081/"));
    }

    #[test]
    fn textual_content_types() {
        for ct in [
            "text/html; charset=utf-8",
            "TEXT/PLAIN",
            "application/xhtml+xml",
            "application/rss+xml",
            "application/atom+xml",
            "application/xml",
            "application/json",
            "application/feed+json",
            "text/xml",
            "garbage",
        ] {
            assert!(is_textual(ct), "{ct}");
        }
        for ct in [
            "image/png",
            "application/pdf",
            "application/octet-stream",
            "video/mp4",
            "audio/mpeg",
            "font/woff2",
            "application/zip",
        ] {
            assert!(!is_textual(ct), "{ct}");
        }
    }

    #[test]
    fn config_defaults_match_design_and_validate() {
        let config = FetchConfig::default();
        assert_eq!(config.concurrency, 16);
        assert_eq!(config.per_host_per_second, 1.0);
        assert_eq!(config.timeout_secs, 30);
        assert_eq!(config.max_attempts, 4);
        assert_eq!(config.max_retry_after_secs, 120);
        assert_eq!(config.max_body_bytes, 10_485_760);
        assert_eq!(config.max_redirects, 10);
        assert!(config.respect_robots);
        assert!(config.allow_private_addresses);
        assert!(config.user_agent.starts_with("gleaner/"));
        assert!(config.validate().is_ok());
    }

    #[test]
    fn bad_config_is_an_error_not_a_panic() {
        for config in [
            FetchConfig {
                concurrency: 0,
                ..FetchConfig::default()
            },
            FetchConfig {
                per_host_per_second: 0.0,
                ..FetchConfig::default()
            },
            FetchConfig {
                per_host_per_second: f64::NAN,
                ..FetchConfig::default()
            },
            FetchConfig {
                max_attempts: 0,
                ..FetchConfig::default()
            },
            FetchConfig {
                max_attempts: u32::MAX,
                ..FetchConfig::default()
            },
            FetchConfig {
                max_retry_after_secs: 1 << 62,
                ..FetchConfig::default()
            },
            FetchConfig {
                retry_base_delay_ms: u64::MAX,
                ..FetchConfig::default()
            },
            FetchConfig {
                retry_max_delay_secs: 86_400,
                ..FetchConfig::default()
            },
            FetchConfig {
                timeout_secs: 0,
                ..FetchConfig::default()
            },
            FetchConfig {
                user_agent: "bad\nagent".into(),
                ..FetchConfig::default()
            },
        ] {
            assert!(matches!(
                Fetcher::new(config),
                Err(FetchError::Config { .. })
            ));
        }
    }

    #[test]
    fn fetcher_is_shareable() {
        fn assert_shareable<T: Clone + Send + Sync + 'static>() {}
        assert_shareable::<Fetcher>();
    }

    #[tokio::test]
    async fn unparsable_url_is_an_error() {
        let fetcher = Fetcher::new(FetchConfig::default()).unwrap();
        let err = fetcher
            .fetch("not a url", &Validators::default())
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::InvalidUrl { .. }), "{err}");
        assert_eq!(err.url(), Some("not a url"));
    }
}
