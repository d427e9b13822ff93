//! HTML → article fields, for gleaner.
//!
//! This crate reads what a page or a feed *says*: the title, author, dates, labels, comment
//! count, Blogger ids and the body as a list of [`TextBlock`]s. It is for:
//!
//! * [`extract`]: one page's HTML → a [`ScrapedArticle`]. Blogger pages are recognised by
//!   their markup on any host (custom domains included) and read with Blogger's own structure
//!   (classic layouts such as Simple, Minima and Watermark; the current ones such as Contempo;
//!   third-party templates that keep Blogger's class names). Any other page goes through a
//!   generic extractor: JSON-LD / OpenGraph / meta tags for metadata, content scoring for the
//!   body. Publication times are read machine-readable first (`abbr[title]`, `time[datetime]`,
//!   JSON-LD, meta tags); the date as the page writes it ("jueves, 13 de enero de 2011",
//!   "13. Januar 2011", "January 13, 2011 at 8:05 PM EST") is the last resort.
//! * [`blogger_feed`]: one page of a Blogger posts feed (Atom, RSS or `alt=json`) → entries
//!   with exact metadata; and the URLs to page through a blog's feed.
//! * [`discovery`]: sources that are not Blogger blogs: any RSS/Atom/JSON Feed, sitemaps
//!   (index and urlset, gzip too).
//! * [`extract_index`]: the posts a Blogger index page (home, label, archive) lists.
//! * URL rules: [`canonical_blogger_url`], [`blogger_post_feed_url`].
//!
//! It is **not** for fetching (that is `gleaner-fetch`), cleaning or normalising text,
//! telling languages apart, or removing boilerplate inside the body text (`gleaner-clean`),
//! tagging (`gleaner-tag`) or storing (`gleaner-store`). Every function here is pure,
//! synchronous and deterministic: no I/O, no clock, no randomness, the same output for the
//! same input, and no panic on any input. HTML extraction never fails: a page it cannot read
//! gives an article with empty fields. Only feed parsing returns errors ([`ScrapeError`]).
//!
//! # Dynamic Views
//!
//! Blogger's Dynamic Views pages carry no post in their HTML. [`extract`] returns their title
//! and ids with no blocks; the caller fetches [`blogger_post_feed_url`] (or uses
//! [`dynamic_views_feed_url`] on the article) and reads it with [`blogger_feed::parse_feed`].
//!
//! ```
//! let html = r#"<html><head><meta name="generator" content="blogger"></head><body>
//!   <div class="post hentry"><h3 class="post-title">Hello</h3>
//!   <div class="post-body" id="post-body-4975188933883288645">First.<br><br>Second.</div></div></body></html>"#;
//! let a = gleaner_scrape::extract(html, "https://x.blogspot.de/2024/01/hello.html?m=1");
//! assert_eq!(a.title.as_deref(), Some("Hello"));
//! assert_eq!(a.blogger_post_id.as_deref(), Some("4975188933883288645"));
//! assert_eq!(a.blocks.len(), 2);
//! assert_eq!(a.canonical_url.as_deref(), Some("https://x.blogspot.com/2024/01/hello.html"));
//! ```

use gleaner_model::ScrapedArticle;
pub use gleaner_model::TextBlock;
use regex::Regex;

mod blocks;
mod blogger;
pub mod blogger_feed;
mod dates;
pub mod discovery;
mod dom;
mod entities;
mod generic;
#[doc(hidden)]
pub use generic::explain;
mod limits;
mod rawtext;
mod stats;
mod urls;
mod xml;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod shape_tests;

pub use blocks::html_to_blocks;
pub use blogger::{
    BloggerPageInfo, IndexedPost, blogger_page_info, extract_index, is_blogger_html,
};
pub use urls::{
    blogger_post_feed_url, canonical_blogger_url, listed_page_key, without_invisible,
    without_tracking,
};

/// What went wrong reading a feed or sitemap. HTML extraction itself never fails.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// The document is not a feed this crate understands.
    #[error("not a feed: {0}")]
    NotAFeed(String),
    /// The document looked like XML but is not well-formed.
    #[error("malformed XML feed: {0}")]
    Xml(String),
    /// The document looked like JSON but does not parse.
    #[error("malformed JSON feed: {0}")]
    Json(String),
}

/// Compile a regex literal of this crate. These are constants, never input, and every one is
/// compiled by the tests, so the `expect` cannot fire at run time.
#[allow(clippy::expect_used)]
pub(crate) fn regex_literal(pattern: &str) -> Regex {
    Regex::new(pattern).expect("regex literals in gleaner-scrape are valid")
}

/// Extract an article from a page's HTML. Never panics, whatever the input.
///
/// `url` is the address the page was fetched from (after redirects); it is kept as
/// [`ScrapedArticle::url`] and used when the page names no canonical URL.
pub fn extract(html: &str, url: &str) -> ScrapedArticle {
    let doc = limits::parse_document(html);
    let blogger = html.contains("www.blogger.com/static/v1")
        || html.contains("_WidgetManager._SetDataContext")
        || blogger::is_blogger_doc(&doc);
    if blogger {
        blogger::extract_blogger(html, &doc, url)
    } else {
        generic::extract_generic(&doc, url)
    }
}

/// For a Blogger article extracted from a page without its body (Dynamic Views, or a post
/// that is only an image), the per-post feed URL to fetch and read with
/// [`blogger_feed::parse_feed`]; `None` when the article has blocks already or its ids are
/// unknown. The feed entry's metadata is exact; keep the page's `url`, `canonical_url`,
/// `site_name` and `language_hint`.
pub fn dynamic_views_feed_url(article: &ScrapedArticle) -> Option<String> {
    if !article.blocks.is_empty() {
        return None;
    }
    match (&article.blog_id, &article.blogger_post_id) {
        (Some(blog), Some(post)) => Some(blogger_post_feed_url(blog, post)),
        _ => None,
    }
}
