//! HTTP fetching. (API skeleton; the implementation lands with the foundation issue.)

use std::time::Duration;

use serde::Deserialize;

/// The `[fetch]` section of the config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FetchConfig {
    /// User-Agent header.
    pub user_agent: String,
    /// Requests in flight, all hosts together.
    pub concurrency: usize,
    /// Requests per second per host.
    pub per_host_per_second: f64,
    /// Total time for one request, seconds.
    pub timeout_secs: u64,
    /// Attempts per URL.
    pub max_attempts: u32,
    /// Longest Retry-After honoured, seconds.
    pub max_retry_after_secs: u64,
    /// Body size cap after decompression.
    pub max_body_bytes: usize,
    /// Obey robots.txt.
    pub respect_robots: bool,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            user_agent: default_user_agent(),
            concurrency: 16,
            per_host_per_second: 1.0,
            timeout_secs: 30,
            max_attempts: 4,
            max_retry_after_secs: 120,
            max_body_bytes: 10 * 1024 * 1024,
            respect_robots: true,
        }
    }
}

impl FetchConfig {
    /// Total request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}

/// The default user agent: names gleaner, its version and where to read about it.
pub fn default_user_agent() -> String {
    format!("gleaner/{} (+https://github.com/gleaner-news/gleaner)", env!("CARGO_PKG_VERSION"))
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
    /// True when the body was cut at `max_body_bytes`.
    pub truncated: bool,
}

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

/// What went wrong fetching a URL.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Not an http(s) URL.
    #[error("{url}: refused: {reason}")]
    Refused {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
}

/// The HTTP client.
#[derive(Debug, Clone)]
pub struct Fetcher {
    config: FetchConfig,
}

impl Fetcher {
    /// Build a fetcher from its config.
    pub fn new(config: FetchConfig) -> Result<Self, FetchError> {
        Ok(Fetcher { config })
    }

    /// The config in force.
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// Fetch one URL.
    pub async fn fetch(&self, url: &str, validators: &Validators) -> Result<FetchOutcome, FetchError> {
        let _ = validators;
        Err(FetchError::Refused { url: url.to_string(), reason: "not implemented".into() })
    }
}
