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

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use gleaner_model::{Extractor, ScrapedArticle};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

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
//
// The JSON feed is read straight into the few fields used (no `serde_json::Value` tree of the
// whole page: a 150-entry page's tree is over a megabyte of maps and strings, held while the
// entries are built). The readers below take any JSON where they look, as lookups in a `Value`
// would: a text field is a string, a number, or an object whose `$t` is one (`jt`); a list is
// an array or a single object (`jlist`); an entry or link that is not an object has no
// fields; a key given twice counts its last value. Everything else is skipped unread.

/// A map key, borrowed from the body unless it has escapes.
struct JKey<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for JKey<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JKey<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(JKey(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(JKey(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(JKey(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A value skipped unread. Not `serde::de::IgnoredAny`: serde_json skips that without its
/// nesting limit, and a document nested past the limit is an error here as it was when the
/// whole document was read into a `Value`.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Skip;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(Skip)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
                while map.next_entry::<JKey<'de>, Skip>()?.is_some() {}
                Ok(Skip)
            }
        }
        d.deserialize_any(V)
    }
}

/// A JSON object's fields read into `Self`; any other value reads as the default.
trait JObject<'de>: Default {
    /// Read one field's value (`key` is unescaped); skip fields not used.
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
}

/// Any JSON value read as `T`: an object through [`JObject`], anything else as the default.
struct Lenient<T>(T);

impl<'de, T: JObject<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: JObject<'de>> Visitor<'de> for V<T> {
            type Value = Lenient<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = T::default();
                while let Some(JKey(key)) = map.next_key::<JKey<'de>>()? {
                    out.field(&key, &mut map)?;
                }
                Ok(Lenient(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(Lenient(T::default()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Lenient(T::default()))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Lenient(T::default()))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Lenient(T::default()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Lenient(T::default()))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Lenient(T::default()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Lenient(T::default()))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A list as `jlist` reads it: an array's elements, a single object, or nothing.
struct JList<T>(Vec<T>);

impl<T> Default for JList<T> {
    fn default() -> Self {
        JList(Vec::new())
    }
}

impl<'de, T: JObject<'de>> Deserialize<'de> for JList<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: JObject<'de>> Visitor<'de> for V<T> {
            type Value = JList<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(Lenient(item)) = seq.next_element::<Lenient<T>>()? {
                    out.push(item);
                }
                Ok(JList(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let Lenient(item) =
                    Lenient::<T>::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(JList(vec![item]))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(JList::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(JList::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(JList::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(JList::default())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(JList::default())
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(JList::default())
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Text as `jt` reads it: a string, a number's digits, or an object's `$t` read the same way.
#[derive(Default)]
struct JText(Option<String>);

impl<'de> Deserialize<'de> for JText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(JText(Some(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(JText(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(JText(Some(serde_json::Number::from(v).to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(JText(Some(serde_json::Number::from(v).to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(JText(
                    serde_json::Number::from_f64(v).map(|n| n.to_string()),
                ))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(JText(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(JText(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(JText(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut text = JText(None);
                while let Some(JKey(key)) = map.next_key::<JKey<'de>>()? {
                    if key == "$t" {
                        text = map.next_value()?;
                    } else {
                        map.next_value::<Skip>()?;
                    }
                }
                Ok(text)
            }
        }
        d.deserialize_any(V)
    }
}

impl JText {
    /// `jfield`: the text trimmed, `None` when empty.
    fn field(self) -> Option<String> {
        self.0
            .map(|s| match s.trim() {
                t if t.len() == s.len() => s,
                t => t.to_string(),
            })
            .filter(|s| !s.is_empty())
    }
}

/// A string value (`Value::as_str`), borrowed unless it has escapes; `None` for any other.
#[derive(Default)]
struct JStr<'de>(Option<Cow<'de, str>>);

impl<'de> Deserialize<'de> for JStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(JStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(JStr(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(JStr(Some(Cow::Owned(v))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(JStr(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(JStr(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(JStr(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(JStr(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(JStr(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(JStr(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<JKey<'de>, Skip>()?.is_some() {}
                Ok(JStr(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A `link` element: `rel` and `href` when they are strings.
#[derive(Default)]
struct JLink<'de> {
    rel: Option<Cow<'de, str>>,
    href: Option<Cow<'de, str>>,
}

/// `jlink`: the `href` of the first link with this `rel` (`None` when that one has none).
fn first_link(links: &[JLink<'_>], rel: &str) -> Option<String> {
    links
        .iter()
        .find(|l| l.rel.as_deref() == Some(rel))
        .and_then(|l| l.href.as_deref())
        .map(str::to_string)
}

/// An `author` element: its `name` text.
#[derive(Default)]
struct JAuthor {
    name: JText,
}

/// A `category` element: `scheme` and `term` when they are strings.
#[derive(Default)]
struct JCategory<'de> {
    scheme: Option<Cow<'de, str>>,
    term: Option<Cow<'de, str>>,
}

/// The fields of an entry that are read.
#[derive(Default)]
struct JEntry<'de> {
    id: JText,
    links: JList<JLink<'de>>,
    title: JText,
    authors: JList<JAuthor>,
    published: JText,
    updated: JText,
    categories: JList<JCategory<'de>>,
    total: JText,
    content: JText,
    summary: JText,
}

/// The fields of a feed that are read.
#[derive(Default)]
struct JFeed<'de> {
    id: JText,
    entries: JList<JEntry<'de>>,
    total_results: JText,
    start_index: JText,
    items_per_page: JText,
    links: JList<JLink<'de>>,
    title: JText,
}

/// The document: `feed` (a page) or `entry` (one post), when present at all.
#[derive(Default)]
struct JRoot<'de> {
    feed: Option<JFeed<'de>>,
    entry: Option<JEntry<'de>>,
}

fn jstr<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Cow<'de, str>>, A::Error> {
    Ok(map.next_value::<JStr<'de>>()?.0)
}

fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<Skip>().map(|_| ())
}

impl<'de> JObject<'de> for JLink<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "rel" => self.rel = jstr(map)?,
            "href" => self.href = jstr(map)?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

impl<'de> JObject<'de> for JAuthor {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "name" => self.name = map.next_value()?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

impl<'de> JObject<'de> for JCategory<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "scheme" => self.scheme = jstr(map)?,
            "term" => self.term = jstr(map)?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

impl<'de> JObject<'de> for JEntry<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "id" => self.id = map.next_value()?,
            "link" => self.links = map.next_value()?,
            "title" => self.title = map.next_value()?,
            "author" => self.authors = map.next_value()?,
            "published" => self.published = map.next_value()?,
            "updated" => self.updated = map.next_value()?,
            "category" => self.categories = map.next_value()?,
            "thr$total" => self.total = map.next_value()?,
            "content" => self.content = map.next_value()?,
            "summary" => self.summary = map.next_value()?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

impl<'de> JObject<'de> for JFeed<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "id" => self.id = map.next_value()?,
            "entry" => self.entries = map.next_value()?,
            "openSearch$totalResults" => self.total_results = map.next_value()?,
            "openSearch$startIndex" => self.start_index = map.next_value()?,
            "openSearch$itemsPerPage" => self.items_per_page = map.next_value()?,
            "link" => self.links = map.next_value()?,
            "title" => self.title = map.next_value()?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

impl<'de> JObject<'de> for JRoot<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "feed" => self.feed = Some(map.next_value::<Lenient<JFeed<'de>>>()?.0),
            "entry" => self.entry = Some(map.next_value::<Lenient<JEntry<'de>>>()?.0),
            _ => skip(map)?,
        }
        Ok(())
    }
}

fn json_entry(e: JEntry<'_>, feed_blog_id: Option<&str>) -> FeedEntry {
    let author = e.authors.0.into_iter().find_map(|a| a.name.0);
    let raw = RawEntry {
        id: e.id.field(),
        url: first_link(&e.links.0, "alternate"),
        title: e.title.0,
        author,
        published: e.published.field().and_then(|d| parse_date(&d)),
        updated: e.updated.field().and_then(|d| parse_date(&d)),
        labels: labels_of(
            e.categories
                .0
                .iter()
                .map(|c| (c.scheme.as_deref(), c.term.as_deref())),
        ),
        comments: e.total.field().and_then(|t| t.parse().ok()),
        content: e.content.0,
        summary: e.summary.0,
    };
    build_entry(raw, feed_blog_id)
}

fn parse_json(body: &str) -> Result<FeedPage, ScrapeError> {
    let Lenient(root) = serde_json::from_str::<Lenient<JRoot<'_>>>(body)
        .map_err(|e| ScrapeError::Json(e.to_string()))?;
    if let Some(feed) = root.feed {
        let blog_id = feed.id.field().and_then(|id| parse_blogger_id(&id).0);
        let next = first_link(&feed.links.0, "next");
        let entries = feed
            .entries
            .0
            .into_iter()
            .map(|e| json_entry(e, blog_id.as_deref()))
            .collect();
        return Ok(FeedPage {
            entries,
            total_results: parse_u64(feed.total_results.field()),
            start_index: parse_u64(feed.start_index.field()),
            items_per_page: parse_u64(feed.items_per_page.field()),
            next,
            blog_id,
            title: feed.title.field().map(|t| collapse_ws(&t)),
            damaged: false,
        });
    }
    if let Some(entry) = root.entry {
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

/// The `serde_json::Value` reader the typed one replaced, kept to check that both read every
/// JSON document the same.
#[cfg(test)]
mod value_reference {
    use serde_json::Value;

    use super::*;
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

    pub(super) fn parse_json(body: &str) -> Result<FeedPage, ScrapeError> {
        let root: Value =
            serde_json::from_str(body).map_err(|e| ScrapeError::Json(e.to_string()))?;
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

    /// The typed JSON reader reads every document as the `Value` reader did: the same page,
    /// or the same error.
    #[test]
    fn the_typed_json_reader_reads_what_the_value_reader_read() {
        let cases: Vec<String> = vec![
            include_str!("../tests/fixtures/feed_json_full.json").to_string(),
            include_str!("../tests/fixtures/post_entry_json.json").to_string(),
            r#"{}"#.into(),
            r#"{"feed": null}"#.into(),
            r#"{"feed": "x", "entry": {}}"#.into(),
            r#"{"entry": 3}"#.into(),
            r#"{"entry": {"id": {"$t": " tag:blogger.com,1999:blog-12.post-34 "}}}"#.into(),
            r#"{"feed": {"id": {"$t": "tag:blogger.com,1999:blog-77"}, "entry": [1, null, "s", [], {},
                {"id": {"$t": "tag:blogger.com,1999:blog-77.post-9"}, "title": {"$t": {"$t": "  Deep  title "}},
                 "link": [{"rel": "self", "href": "http://e.com/s"}, {"rel": 5, "href": "http://e.com/n"},
                          {"rel": "alternate", "href": "http://e.com/a"}, {"rel": "alternate", "href": "http://e.com/b"}],
                 "author": [{"uri": "u"}, {"name": 42}, {"name": {"$t": "B"}}],
                 "category": {"scheme": "http://www.blogger.com/atom/ns#", "term": " One "},
                 "thr$total": {"$t": 7}, "summary": {"$t": "<b>Sum</b> mary"},
                 "published": {"$t": "2024-03-01T09:00:00.000+01:00"}, "updated": "2024-03-02T10:00:00Z"}],
              "link": {"rel": "next", "href": "http://e.com/next"},
              "openSearch$totalResults": {"$t": 12.5}, "openSearch$startIndex": {"$t": "  3 "},
              "openSearch$itemsPerPage": 150, "title": {"type": "text", "$t": "A  Blog"}}}"#
                .into(),
            r#"{"feed": {"entry": {"content": {"$t": "<p>One</p><p>Two</p>"}, "content": {"$t": false},
                "link": [{"rel": "alternate"}, {"rel": "alternate", "href": "http://e.com/x"}],
                "category": [{"term": "a"}, {"scheme": "other", "term": "b"}, {"term": "a"}, {"term": 1}]},
              "title": {"$t": "first"}, "title": {"$t": "last"}, "link": [], "feed": 1}}"#
                .into(),
            r#"{"feed": {"\u0074itle": {"\u0024t": "Esc\u00e4ped \"q\""}, "entry": [{"link": [{"rel": "altern\u0061te", "href": "http://e.com/\u00e9"}],
                "category": [{"scheme": "http://www.blogger.com/atom/ns#", "term": "\u00e9t\u00e9"}], "title": {"$t": ["x"]}}]}}"#
                .into(),
            r#"{"feed": {"entry": [{"thr$total": {"$t": -4}, "id": {"$t": 1e400}}]}}"#.into(),
            r#"{"feed": {"entry": [{"thr$total": {"$t": 18446744073709551615}, "title": {"$t": -0.0}}]}}"#.into(),
            r#"{"feed": {"entry": [}"#.into(),
            r#"{"feed": {}} trailing"#.into(),
            r#"{"feed": {"title": "unterminated}}"#.into(),
            r#"{"feed": {"title": "\ud800"}}"#.into(),
            format!(r#"{{"feed": {{"x": {}{}}}}}"#, "[".repeat(200), "]".repeat(200)),
            format!(r#"{{"feed": {{"x": {}1{}}}}}"#, "[".repeat(100), "]".repeat(100)),
        ];
        // More documents, e.g. recorded feeds: GLEANER_FEED_JSON=FILE:FILE…
        let mut cases = cases;
        for path in std::env::var("GLEANER_FEED_JSON")
            .unwrap_or_default()
            .split(':')
        {
            if !path.is_empty() {
                cases.push(std::fs::read_to_string(path).unwrap());
            }
        }
        for (i, case) in cases.iter().enumerate() {
            let new = format!("{:?}", parse_json(case));
            let old = format!("{:?}", value_reference::parse_json(case));
            assert_eq!(new, old, "case {i}: {case}");
        }
    }
}

/// Review: random documents over the feed's own keys (escaped, repeated, of every type) read
/// the same by the typed reader and the `Value` reader.
#[cfg(test)]
mod review_fuzz {
    use super::*;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    const KEYS: &[&str] = &[
        "feed",
        "entry",
        "id",
        "link",
        "rel",
        "href",
        "title",
        "author",
        "name",
        "$t",
        "category",
        "scheme",
        "term",
        "thr$total",
        "content",
        "summary",
        "published",
        "updated",
        "openSearch$totalResults",
        "openSearch$startIndex",
        "openSearch$itemsPerPage",
        "alternate",
        "next",
        "x",
    ];
    const STRS: &[&str] = &[
        "alternate",
        "next",
        "self",
        "http://e.com/a",
        " http://e.com/b ",
        "tag:blogger.com,1999:blog-77.post-9",
        "tag:blogger.com,1999:blog-77",
        "http://www.blogger.com/atom/ns#",
        "2024-03-01T09:00:00.000+01:00",
        "  12 ",
        "",
        "<p>Hi &amp; <b>there</b></p>",
        "caf\\u00e9",
        "a\\\"b",
        "\\ud83d\\ude00",
    ];
    const NUMS: &[&str] = &[
        "0",
        "-0",
        "7",
        "-3",
        "12.5",
        "1e3",
        "1E-2",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "123456789012345678901234567890",
        "0.1",
        "2.5e10",
        "-0.0",
    ];

    fn key(r: &mut Rng, out: &mut String) {
        let k = KEYS[r.below(KEYS.len() as u64) as usize];
        out.push('"');
        if r.below(6) == 0 && !k.is_empty() {
            // The first char escaped.
            let mut cs = k.chars();
            let c = cs.next().unwrap();
            out.push_str(&format!("\\u{:04x}", c as u32));
            out.push_str(cs.as_str());
        } else {
            out.push_str(k);
        }
        out.push('"');
    }

    fn value(r: &mut Rng, depth: u32, out: &mut String) {
        let pick = if depth > 5 { r.below(4) } else { r.below(7) };
        match pick {
            0 => out.push_str(["null", "true", "false"][r.below(3) as usize]),
            1 => out.push_str(NUMS[r.below(NUMS.len() as u64) as usize]),
            2 | 3 => {
                out.push('"');
                out.push_str(STRS[r.below(STRS.len() as u64) as usize]);
                out.push('"');
            }
            4 => {
                out.push('[');
                for i in 0..r.below(4) {
                    if i > 0 {
                        out.push(',');
                    }
                    value(r, depth + 1, out);
                }
                out.push(']');
            }
            _ => {
                out.push('{');
                for i in 0..r.below(6) {
                    if i > 0 {
                        out.push(',');
                    }
                    key(r, out);
                    out.push(':');
                    value(r, depth + 1, out);
                }
                out.push('}');
            }
        }
    }

    #[test]
    fn random_documents_read_alike() {
        let mut r = Rng(0x2545_F491_4F6C_DD1D);
        for n in 0..200_000 {
            let mut doc = String::from("{");
            for i in 0..1 + r.below(3) {
                if i > 0 {
                    doc.push(',');
                }
                key(&mut r, &mut doc);
                doc.push(':');
                value(&mut r, 0, &mut doc);
            }
            doc.push('}');
            let new = format!("{:?}", parse_json(&doc));
            let old = format!("{:?}", value_reference::parse_json(&doc));
            assert_eq!(new, old, "doc {n}: {doc}");
        }
        // Deep nesting at each field.
        for depth in [126usize, 127, 128, 129, 200] {
            for field in ["feed", "entry"] {
                let doc = format!(
                    "{{\"{field}\": {{\"title\": {}1{}}}}}",
                    "[".repeat(depth),
                    "]".repeat(depth)
                );
                let new = format!("{:?}", parse_json(&doc));
                let old = format!("{:?}", value_reference::parse_json(&doc));
                assert_eq!(new.is_empty(), old.is_empty());
                assert_eq!(
                    new.starts_with("Ok"),
                    old.starts_with("Ok"),
                    "depth {depth} {field}: {new} / {old}"
                );
                let doc = format!(
                    "{{\"{field}\": {{\"title\": {}\"x\"{}}}}}",
                    "{\"$t\":".repeat(depth),
                    "}".repeat(depth)
                );
                let new = format!("{:?}", parse_json(&doc));
                let old = format!("{:?}", value_reference::parse_json(&doc));
                assert_eq!(new, old, "depth {depth} {field} $t");
            }
        }
    }
}
