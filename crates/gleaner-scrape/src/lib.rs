//! HTML → article fields. (API skeleton; the implementation lands with the foundation issue.)

use gleaner_model::ScrapedArticle;

/// What went wrong reading a feed or sitemap. HTML extraction itself never fails.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// The document is not a feed this crate understands.
    #[error("not a feed: {0}")]
    NotAFeed(String),
}

/// Extract an article from a page's HTML. Never panics, whatever the input.
pub fn extract(html: &str, url: &str) -> ScrapedArticle {
    let _ = html;
    ScrapedArticle { url: url.to_string(), ..ScrapedArticle::default() }
}

/// Blogger feeds: parse one page of a blog's posts feed, build feed URLs.
pub mod blogger_feed {
    use chrono::{DateTime, FixedOffset, Utc};
    use gleaner_model::ScrapedArticle;

    /// One entry of a Blogger posts feed.
    #[derive(Debug, Clone, PartialEq)]
    pub struct FeedEntry {
        /// The post's page URL (`rel=alternate`).
        pub url: String,
        /// `<updated>` of the entry.
        pub updated_at: Option<DateTime<FixedOffset>>,
        /// The entry as an article. `blocks` is filled only when `full_content` is true.
        pub article: ScrapedArticle,
        /// True when the entry carries the whole post (`<content>`), false for a summary.
        pub full_content: bool,
    }

    /// One page of a Blogger posts feed.
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct FeedPage {
        /// The entries on this page, in feed order.
        pub entries: Vec<FeedEntry>,
        /// `openSearch:totalResults`, when given.
        pub total_results: Option<u64>,
        /// `openSearch:startIndex`, when given.
        pub start_index: Option<u64>,
        /// `openSearch:itemsPerPage`, when given.
        pub items_per_page: Option<u64>,
        /// The `rel=next` link, when there is a next page.
        pub next: Option<String>,
        /// The blog id from the feed's `<id>`, when given.
        pub blog_id: Option<String>,
    }

    /// Parse a Blogger posts feed page (Atom, RSS or `alt=json`).
    pub fn parse_feed(body: &str) -> Result<FeedPage, super::ScrapeError> {
        let _ = body;
        Err(super::ScrapeError::NotAFeed("not implemented".into()))
    }

    /// The URL of one page of a blog's posts feed.
    pub fn feed_url(
        home: &str,
        start_index: u64,
        max_results: u64,
        updated_min: Option<DateTime<Utc>>,
    ) -> String {
        let _ = (start_index, max_results, updated_min);
        home.to_string()
    }
}
