//! Blogger feeds: parse one page of a blog's posts feed, build feed URLs.
//!
//! Blogger serves the same posts feed three ways, and [`parse_feed`] reads all three:
//! Atom (`/feeds/posts/default`), RSS (`?alt=rss`) and JSON (`?alt=json`, where text sits in
//! `$t` and namespace prefixes are joined with `$`). A single-entry feed (the per-post feed
//! `/feeds/<blogId>/posts/default/<postId>`) is a page with one entry.
//!
//! XML is read with `quick-xml` rather than `feed-rs` because the fields that matter here are
//! Blogger's extensions, which a generic feed model drops: `thr:total` (comment count),
//! `openSearch:*` (paging totals) and the category scheme that tells an entry's labels from the
//! blog-wide label list.
//!
//! [`feed_url`] builds `alt=json` URLs: JSON is the format Blogger documents for its feed API
//! and the smallest of the three; Atom and RSS are still accepted by [`parse_feed`].

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use gleaner_model::{Extractor, ScrapedArticle};
use serde_json::Value;

use crate::ScrapeError;
use crate::blocks::html_to_blocks;
use crate::dom::{collapse_ws, parse_date};
use crate::urls::canonical_blogger_url;
use crate::xml::{XmlNode, entry_blocks, parse_xml, parse_xml_checked};

/// Blogger's category scheme: categories with it are the entry's labels.
pub const BLOGGER_LABEL_SCHEME: &str = "http://www.blogger.com/atom/ns#";

/// The largest `max-results` Blogger honours.
pub const MAX_RESULTS_CAP: u64 = 150;

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
    /// The summary's text, for a summary entry (`<summary>`); `None` for full content.
    pub summary: Option<String>,
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
    /// The blog's title (`<title>` of the feed), when given.
    pub title: Option<String>,
    /// The document was not well-formed XML (a stray `<` in a title) and was read entry by
    /// entry: the entries before and after the damage are whole, the damaged one may not be.
    pub damaged: bool,
}

/// Parse a Blogger posts feed page (Atom, RSS or `alt=json`).
///
/// Fails with [`ScrapeError::NotAFeed`] when the body is none of those, and with
/// [`ScrapeError::Xml`] / [`ScrapeError::Json`] when it is malformed.
pub fn parse_feed(body: &str) -> Result<FeedPage, ScrapeError> {
    let trimmed = body.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') {
        return parse_json(trimmed).map(with_site_name);
    }
    if trimmed.starts_with('<') {
        let (parsed, damaged) = parse_xml_checked(trimmed)?;
        // A stray `<` swallows the entries after it into a bogus element: each entry is
        // read on its own instead.
        let root = match damaged.then(|| rebuild_by_entry(trimmed)).flatten() {
            Some(rebuilt) => rebuilt,
            None => parsed,
        };
        let page = match root.name.as_str() {
            "feed" => Ok(with_site_name(parse_atom_feed(&root))),
            "entry" => Ok(FeedPage {
                entries: vec![atom_entry(&root)],
                ..FeedPage::default()
            }),
            "rss" => Ok(with_site_name(parse_rss(&root))),
            other => Err(ScrapeError::NotAFeed(format!("root element <{other}>"))),
        };
        return page.map(|page| FeedPage { damaged, ..page });
    }
    Err(ScrapeError::NotAFeed("neither XML nor JSON".into()))
}

/// A damaged feed's tree rebuilt entry by entry ([`entry_blocks`]): the elements before the
/// first entry as the lenient parser reads them, then each entry parsed alone, in the
/// channel of an RSS feed. `None` when the text has no entries.
fn rebuild_by_entry(text: &str) -> Option<XmlNode> {
    let blocks = entry_blocks(text)?;
    let mut root = parse_xml(blocks.header).ok()?;
    let entries = blocks.entries.iter().filter_map(|block| {
        parse_xml(block)
            .ok()
            .filter(|e| e.name == "entry" || e.name == "item")
    });
    if root.name == "rss" {
        if !root.children.iter().any(|c| c.name == "channel") {
            root.children.push(XmlNode {
                name: "channel".into(),
                ..XmlNode::default()
            });
        }
        let channel = root.children.iter_mut().find(|c| c.name == "channel")?;
        channel.children.extend(entries);
    } else {
        root.children.extend(entries);
    }
    Some(root)
}

/// The URL of one page of a blog's posts feed, as JSON (`alt=json`).
///
/// `home` is the blog's home URL (any path or query on it is dropped); `start_index` is
/// 1-based; `max_results` is capped at [`MAX_RESULTS_CAP`]. With `updated_min`, the feed is
/// ordered by update time and limited to posts updated since then (Blogger ignores
/// `updated-min` without `orderby=updated`).
///
/// ```
/// use gleaner_scrape::blogger_feed::feed_url;
/// assert_eq!(
///     feed_url("https://x.blogspot.com/", 1, 500, None),
///     "https://x.blogspot.com/feeds/posts/default?alt=json&start-index=1&max-results=150"
/// );
/// ```
pub fn feed_url(
    home: &str,
    start_index: u64,
    max_results: u64,
    updated_min: Option<DateTime<Utc>>,
) -> String {
    let base = blog_base(home);
    let mut out = format!(
        "{base}/feeds/posts/default?alt=json&start-index={}&max-results={}",
        start_index.max(1),
        max_results.clamp(1, MAX_RESULTS_CAP)
    );
    if let Some(t) = updated_min {
        out.push_str("&orderby=updated&updated-min=");
        out.push_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    out
}

/// The order a blog's posts are read in, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedOrder {
    /// By publication time (`orderby=published`): a whole read of the blog.
    Published,
    /// By update time (`orderby=updated`), from an `updated-min`: an incremental read.
    Updated,
}

impl FeedOrder {
    /// `published` or `updated`, as in `orderby=`.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedOrder::Published => "published",
            FeedOrder::Updated => "updated",
        }
    }
}

/// Where one page of a keyset read of a blog's feed starts.
///
/// Offsets (`start-index`) shift when a post is deleted or published during a read, so a
/// read goes down by time instead: each page asks for the posts strictly before `before`
/// (`published-max` / `updated-max`, exclusive in Google's feed protocol), which the page
/// before it sets to the second after its oldest entry, so posts sharing that second are
/// listed again rather than missed (the reader drops what it already has). `skip` is an offset
/// below `before`, only for a page whose entries all share one second, or to step over a page
/// that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeedPosition {
    /// Only posts strictly before this time; `None` for the newest page.
    pub before: Option<DateTime<Utc>>,
    /// Posts below `before` passed over (0 but in the cases above).
    pub skip: u64,
}

/// The URL of one page of a keyset read (JSON): `orderby`, `max-results` (capped at
/// [`MAX_RESULTS_CAP`]), `updated-min` for an incremental read (Blogger ignores it without
/// `orderby=updated`), then the position's `published-max` / `updated-max` and `start-index`.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use gleaner_scrape::blogger_feed::{keyset_feed_url, FeedOrder, FeedPosition};
/// let at = FeedPosition { before: Some(Utc.with_ymd_and_hms(2024, 3, 1, 9, 0, 1).unwrap()), skip: 0 };
/// assert_eq!(
///     keyset_feed_url("https://x.blogspot.com/", FeedOrder::Published, None, at, 150),
///     "https://x.blogspot.com/feeds/posts/default?alt=json&orderby=published&max-results=150\
///      &published-max=2024-03-01T09:00:01Z"
/// );
/// ```
pub fn keyset_feed_url(
    home: &str,
    order: FeedOrder,
    updated_min: Option<DateTime<Utc>>,
    at: FeedPosition,
    max_results: u64,
) -> String {
    let base = blog_base(home);
    let mut out = format!(
        "{base}/feeds/posts/default?alt=json&orderby={}&max-results={}",
        order.as_str(),
        max_results.clamp(1, MAX_RESULTS_CAP)
    );
    if let (FeedOrder::Updated, Some(t)) = (order, updated_min) {
        out.push_str("&updated-min=");
        out.push_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    if let Some(t) = at.before {
        out.push_str(&format!(
            "&{}-max={}",
            order.as_str(),
            t.to_rfc3339_opts(SecondsFormat::Secs, true)
        ));
    }
    if at.skip > 0 {
        out.push_str(&format!("&start-index={}", at.skip.saturating_add(1)));
    }
    out
}

/// The position a [`keyset_feed_url`] names (`None` for another kind of URL).
pub fn keyset_position(url: &str) -> Option<(FeedOrder, FeedPosition)> {
    let parsed = url::Url::parse(url).ok()?;
    let mut order = None;
    let mut at = FeedPosition::default();
    for (k, v) in parsed.query_pairs() {
        match k.as_ref() {
            "orderby" if v == "published" => order = Some(FeedOrder::Published),
            "orderby" if v == "updated" => order = Some(FeedOrder::Updated),
            "published-max" | "updated-max" => {
                at.before = Some(DateTime::parse_from_rfc3339(&v).ok()?.with_timezone(&Utc));
            }
            "start-index" => at.skip = v.parse::<u64>().ok()?.saturating_sub(1),
            _ => {}
        }
    }
    Some((order?, at))
}

/// `scheme://host[:port]` of a home URL, or the trimmed input without a trailing slash.
fn blog_base(home: &str) -> String {
    let home = home.trim();
    match url::Url::parse(home) {
        Ok(u) if u.host_str().is_some() => {
            let mut s = format!("{}://{}", u.scheme(), u.host_str().unwrap_or_default());
            if let Some(port) = u.port() {
                s.push_str(&format!(":{port}"));
            }
            s
        }
        _ => home.trim_end_matches('/').to_string(),
    }
}

/// Blog id and post id from `tag:blogger.com,1999:blog-X.post-Y` (either may be absent).
pub fn parse_blogger_id(id: &str) -> (Option<String>, Option<String>) {
    let id = id.trim();
    let Some(pos) = id.find("blog-") else {
        return (None, None);
    };
    let rest = id.get(pos + 5..).unwrap_or_default();
    let blog: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let post = rest.find(".post-").map(|p| {
        rest.get(p + 6..)
            .unwrap_or_default()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
    });
    (
        Some(blog).filter(|b| !b.is_empty()),
        post.filter(|p| !p.is_empty()),
    )
}

// ---------------------------------------------------------------- Atom and RSS

fn parse_u64(s: Option<String>) -> Option<u64> {
    s.and_then(|v| v.trim().parse().ok())
}

/// Give every entry the blog's title as its site name (used to clean titles).
fn with_site_name(mut page: FeedPage) -> FeedPage {
    if let Some(title) = page.title.clone() {
        for e in &mut page.entries {
            e.article.site_name.get_or_insert_with(|| title.clone());
        }
    }
    page
}

fn parse_atom_feed(feed: &XmlNode) -> FeedPage {
    let blog_id = feed.child_text("id").and_then(|id| parse_blogger_id(&id).0);
    let next = feed
        .children_named("link")
        .find(|l| l.attr("rel") == Some("next"))
        .and_then(|l| l.attr("href"))
        .map(str::to_string);
    FeedPage {
        entries: feed.children_named("entry").map(atom_entry).collect(),
        total_results: parse_u64(feed.child_text("totalResults")),
        start_index: parse_u64(feed.child_text("startIndex")),
        items_per_page: parse_u64(feed.child_text("itemsPerPage")),
        next,
        blog_id,
        title: feed.child_text("title").map(|t| collapse_ws(&t)),
        damaged: false,
    }
}

fn labels_of<'a>(
    categories: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> Vec<String> {
    let mut labels: Vec<String> = Vec::new();
    for (scheme, term) in categories {
        if scheme.is_some_and(|s| s != BLOGGER_LABEL_SCHEME) {
            continue;
        }
        if let Some(term) = term.map(str::trim).filter(|t| !t.is_empty())
            && !labels.iter().any(|l| l == term)
        {
            labels.push(term.to_string());
        }
    }
    labels
}

struct RawEntry {
    id: Option<String>,
    url: Option<String>,
    title: Option<String>,
    author: Option<String>,
    published: Option<DateTime<FixedOffset>>,
    updated: Option<DateTime<FixedOffset>>,
    labels: Vec<String>,
    comments: Option<u32>,
    content: Option<String>,
    summary: Option<String>,
}

fn build_entry(raw: RawEntry, feed_blog_id: Option<&str>) -> FeedEntry {
    let (blog_id, post_id) = raw
        .id
        .as_deref()
        .map(parse_blogger_id)
        .unwrap_or((None, None));
    let url = raw.url.unwrap_or_default();
    let full_content = raw.content.is_some();
    let blocks = raw
        .content
        .as_deref()
        .map(html_to_blocks)
        .unwrap_or_default();
    let summary = if full_content {
        None
    } else {
        raw.summary
            .as_deref()
            .map(|s| {
                let frag = scraper::Html::parse_fragment(s);
                collapse_ws(&frag.root_element().text().collect::<String>())
            })
            .filter(|s| !s.is_empty())
    };
    let article = ScrapedArticle {
        canonical_url: Some(url.as_str())
            .filter(|u| !u.is_empty())
            .map(canonical_blogger_url),
        url: url.clone(),
        title: raw.title.map(|t| collapse_ws(&t)).filter(|t| !t.is_empty()),
        site_name: None,
        author: raw
            .author
            .map(|a| collapse_ws(&a))
            .filter(|a| !a.is_empty()),
        published_at: raw.published,
        updated_at: raw.updated,
        labels: raw.labels,
        comments_count: raw.comments,
        blogger_post_id: post_id,
        blog_id: blog_id.or_else(|| feed_blog_id.map(str::to_string)),
        language_hint: None,
        blocks,
        extractor: Some(Extractor::BloggerFeed),
    };
    FeedEntry {
        url,
        updated_at: raw.updated,
        article,
        full_content,
        summary,
    }
}

fn atom_entry(e: &XmlNode) -> FeedEntry {
    let url = e
        .children_named("link")
        .find(|l| l.attr("rel") == Some("alternate"))
        .and_then(|l| l.attr("href"))
        .map(str::to_string);
    let content = e.child("content").map(|c| c.text.clone());
    let raw = RawEntry {
        id: e.child_text("id"),
        url,
        title: e.child("title").map(|t| t.text.clone()),
        author: e.child("author").and_then(|a| a.child_text("name")),
        published: e.child_text("published").and_then(|d| parse_date(&d)),
        updated: e.child_text("updated").and_then(|d| parse_date(&d)),
        labels: labels_of(
            e.children_named("category")
                .map(|c| (c.attr("scheme"), c.attr("term"))),
        ),
        comments: e.child_text("total").and_then(|t| t.parse().ok()),
        content,
        summary: e.child("summary").map(|s| s.text.clone()),
    };
    build_entry(raw, None)
}

fn parse_rss(rss: &XmlNode) -> FeedPage {
    let Some(channel) = rss.child("channel") else {
        return FeedPage::default();
    };
    let blog_id = channel
        .child_text("id")
        .and_then(|id| parse_blogger_id(&id).0);
    let next = channel
        .children_named("link")
        .find(|l| l.attr("rel") == Some("next"))
        .and_then(|l| l.attr("href"))
        .map(str::to_string);
    let entries = channel
        .children_named("item")
        .map(|item| {
            let updated = item.child_text("updated").and_then(|d| parse_date(&d));
            // RSS pubDate is in UTC; show it in the blog's offset, taken from atom:updated.
            let published = item
                .child_text("pubDate")
                .and_then(|d| parse_date(&d))
                .map(|p| match updated {
                    Some(u) => p.with_timezone(u.offset()),
                    None => p,
                });
            let author = item
                .child_text("author")
                .map(|a| match (a.find('('), a.rfind(')')) {
                    (Some(open), Some(close)) if close > open => {
                        a.get(open + 1..close).unwrap_or_default().to_string()
                    }
                    _ => a,
                });
            let description = item.child("description").map(|d| d.text.clone());
            // Blogger's RSS has no content/summary split: HTML means the full post.
            let (content, summary) = match description {
                Some(d) if d.contains('<') => (Some(d), None),
                other => (None, other),
            };
            let raw = RawEntry {
                id: item.child_text("guid"),
                url: item
                    .children_named("link")
                    .find(|l| l.attr("href").is_none())
                    .and_then(|l| Some(l.text.trim().to_string()).filter(|t| !t.is_empty())),
                title: item.child("title").map(|t| t.text.clone()),
                author,
                published,
                updated,
                labels: labels_of(
                    item.children_named("category")
                        .map(|c| (c.attr("domain"), Some(c.text.as_str()))),
                ),
                comments: item.child_text("total").and_then(|t| t.parse().ok()),
                content,
                summary,
            };
            build_entry(raw, blog_id.as_deref())
        })
        .collect();
    FeedPage {
        entries,
        total_results: parse_u64(channel.child_text("totalResults")),
        start_index: parse_u64(channel.child_text("startIndex")),
        items_per_page: parse_u64(channel.child_text("itemsPerPage")),
        next,
        blog_id,
        title: channel.child_text("title").map(|t| collapse_ws(&t)),
        damaged: false,
    }
}

// ---------------------------------------------------------------- JSON

fn jt(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("$t").and_then(jt),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn jfield(obj: &Value, key: &str) -> Option<String> {
    obj.get(key)
        .and_then(jt)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn jlist(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(other @ Value::Object(_)) => vec![other],
        _ => Vec::new(),
    }
}

fn jlink<'a>(obj: &'a Value, rel: &str) -> Option<&'a str> {
    jlist(obj.get("link"))
        .into_iter()
        .find(|l| l.get("rel").and_then(Value::as_str) == Some(rel))
        .and_then(|l| l.get("href").and_then(Value::as_str))
}

fn json_entry(e: &Value, feed_blog_id: Option<&str>) -> FeedEntry {
    let author = jlist(e.get("author"))
        .into_iter()
        .find_map(|a| a.get("name").and_then(jt));
    let raw = RawEntry {
        id: jfield(e, "id"),
        url: jlink(e, "alternate").map(str::to_string),
        title: e.get("title").and_then(jt),
        author,
        published: jfield(e, "published").and_then(|d| parse_date(&d)),
        updated: jfield(e, "updated").and_then(|d| parse_date(&d)),
        labels: labels_of(jlist(e.get("category")).into_iter().map(|c| {
            (
                c.get("scheme").and_then(Value::as_str),
                c.get("term").and_then(Value::as_str),
            )
        })),
        comments: jfield(e, "thr$total").and_then(|t| t.parse().ok()),
        content: e.get("content").and_then(jt),
        summary: e.get("summary").and_then(jt),
    };
    build_entry(raw, feed_blog_id)
}

fn parse_json(body: &str) -> Result<FeedPage, ScrapeError> {
    let root: Value = serde_json::from_str(body).map_err(|e| ScrapeError::Json(e.to_string()))?;
    if let Some(feed) = root.get("feed") {
        let blog_id = jfield(feed, "id").and_then(|id| parse_blogger_id(&id).0);
        let entries = jlist(feed.get("entry"))
            .into_iter()
            .map(|e| json_entry(e, blog_id.as_deref()))
            .collect();
        return Ok(FeedPage {
            entries,
            total_results: parse_u64(jfield(feed, "openSearch$totalResults")),
            start_index: parse_u64(jfield(feed, "openSearch$startIndex")),
            items_per_page: parse_u64(jfield(feed, "openSearch$itemsPerPage")),
            next: jlink(feed, "next").map(str::to_string),
            blog_id,
            title: jfield(feed, "title").map(|t| collapse_ws(&t)),
            damaged: false,
        });
    }
    if let Some(entry) = root.get("entry") {
        let entry = json_entry(entry, None);
        return Ok(FeedPage {
            blog_id: entry.article.blog_id.clone(),
            entries: vec![entry],
            ..FeedPage::default()
        });
    }
    Err(ScrapeError::NotAFeed(
        "JSON without `feed` or `entry`".into(),
    ))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_damaged_feed_keeps_the_entries_after_the_damage() {
        let atom = "<feed xmlns='http://www.w3.org/2005/Atom'><title>Q</title>\
                    <entry><title>A</title><link rel='alternate' href='http://e.com/a'/></entry>\
                    <entry><title>1 < 2</title><link rel='alternate' href='http://e.com/b'/></entry>\
                    <entry><title>C</title><link rel='alternate' href='http://e.com/c'/></entry></feed>";
        let page = parse_feed(atom).unwrap();
        assert!(page.damaged);
        assert_eq!(page.title.as_deref(), Some("Q"));
        let urls: Vec<_> = page.entries.iter().map(|e| e.url.as_str()).collect();
        assert_eq!(urls.first(), Some(&"http://e.com/a"));
        assert_eq!(urls.last(), Some(&"http://e.com/c"));
        let rss = "<rss><channel><title>Q</title><item><title>A</title><link>http://e.com/a</link></item>\
                   <item><title>x<y</title><link>http://e.com/b</link></item>\
                   <item><title>C</title><link>http://e.com/c</link></item></channel></rss>";
        let page = parse_feed(rss).unwrap();
        let urls: Vec<_> = page.entries.iter().map(|e| e.url.as_str()).collect();
        assert_eq!(urls.last(), Some(&"http://e.com/c"));
        assert!(!parse_feed(&rss.replace("x<y", "x")).unwrap().damaged);
    }

    #[test]
    fn a_keyset_url_names_its_position() {
        let before = Utc.with_ymd_and_hms(2023, 1, 2, 8, 0, 1).unwrap();
        let since = Utc.with_ymd_and_hms(2022, 12, 1, 0, 0, 0).unwrap();
        for (order, min) in [
            (FeedOrder::Published, None),
            (FeedOrder::Updated, Some(since)),
        ] {
            for at in [
                FeedPosition::default(),
                FeedPosition {
                    before: Some(before),
                    skip: 0,
                },
                FeedPosition {
                    before: Some(before),
                    skip: 150,
                },
            ] {
                let url = keyset_feed_url("http://127.0.0.1:8080/", order, min, at, 500);
                assert!(url.contains("max-results=150"), "{url}");
                assert_eq!(url.contains("updated-min="), min.is_some(), "{url}");
                assert_eq!(keyset_position(&url), Some((order, at)), "{url}");
            }
        }
        let url = keyset_feed_url(
            "https://x.blogspot.com/",
            FeedOrder::Updated,
            Some(since),
            FeedPosition {
                before: Some(before),
                skip: 0,
            },
            150,
        );
        assert_eq!(
            url,
            "https://x.blogspot.com/feeds/posts/default?alt=json&orderby=updated&max-results=150\
             &updated-min=2022-12-01T00:00:00Z&updated-max=2023-01-02T08:00:01Z"
        );
        assert_eq!(keyset_position("https://x.example/feed?alt=json"), None);
        assert_eq!(keyset_position("not a url"), None);
    }
}
