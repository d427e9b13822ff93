//! Discovery for sources that are not Blogger blogs: generic feeds and sitemaps.
//!
//! * [`parse_generic_feed`]: any RSS 0.9x/1.0/2.0, Atom or JSON Feed (through `feed-rs`) →
//!   its items, each with the page URL and, when the feed carries the whole text
//!   (`content:encoded`, Atom `<content>`, JSON Feed `content_html`), an article built from it.
//! * [`parse_sitemap`]: a sitemap `<urlset>` or `<sitemapindex>` (plain or gzip-compressed
//!   bytes) → its `<loc>`s with `<lastmod>`. `lastmod` says when a page last changed, not when
//!   it was first published.
//!
//! For a Blogger blog use [`crate::blogger_feed`] instead: it keeps Blogger's comment counts,
//! labels and paging that a generic feed model drops.

use std::io::Read;
use std::panic::catch_unwind;
use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset, Utc};
use gleaner_model::{Extractor, ScrapedArticle};

use crate::ScrapeError;
use crate::blocks::html_to_blocks;
use crate::dom::{collapse_ws, parse_date};
use crate::xml::{entry_blocks, html_names_as_numeric, parse_xml_checked, repair_xml};
use regex::Regex;

/// Decompressed sitemaps larger than this are refused (a gzip bomb guard); the sitemap
/// protocol caps a file at 50 MB uncompressed.
pub const MAX_SITEMAP_BYTES: u64 = 64 * 1024 * 1024;

/// One item of a generic feed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedItem {
    /// The item's page URL (the `alternate` link, else the first link, else a URL-shaped id);
    /// empty for an item with text but no link of its own.
    pub url: String,
    /// The item as an article; `blocks` is filled only when `full_content` is true.
    pub article: ScrapedArticle,
    /// True when the feed carries the item's whole text, false for a summary or nothing.
    pub full_content: bool,
    /// The summary's text, when the item has one.
    pub summary: Option<String>,
    /// The item's own id as the feed gives it (RSS `<guid>`, Atom `<id>`), when it has one;
    /// what tells apart items that list one link.
    pub id: Option<String>,
}

/// A generic feed: its title and items in feed order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GenericFeed {
    /// The feed's title (usually the site's name).
    pub title: Option<String>,
    /// The `rel=next` link (RFC 5005 paging), when given.
    pub next: Option<String>,
    /// The items.
    pub items: Vec<FeedItem>,
    /// The document was not well-formed XML (a stray `<` in a title) and was read entry by
    /// entry: an entry the parser could not read gives only its link, title and date.
    pub damaged: bool,
}

fn utc_fixed(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.fixed_offset()
}

/// RSS contact elements (`<author>`, `<managingEditor>`, `<webMaster>`) with their content.
static RSS_CONTACTS: LazyLock<Regex> = LazyLock::new(|| {
    crate::regex_literal(
        r"(?is)<(?:author|managingEditor|webMaster)\b[^>]*>.*?</(?:author|managingEditor|webMaster)\s*>",
    )
});
/// An e-mail-like run of characters.
static EMAIL_RUN: LazyLock<Regex> =
    LazyLock::new(|| crate::regex_literal(r"[A-Za-z0-9._%+\-]*@[A-Za-z0-9._%+\-]*"));

/// feed-rs's parser, making up no id for an entry without one (its default is a hash of the
/// link and title, or a random UUID without a link: an id that changes from one read to the
/// next): [`FeedItem::id`] is what the feed says, or nothing.
fn feed_rs_parser() -> feed_rs::parser::Parser {
    feed_rs::parser::Builder::new()
        .id_generator(|_, _, _| String::new())
        .build()
}

/// `feed_rs::parser::parse`, kept from panicking. feed-rs 3.0 slices an RSS contact such as
/// `<managingEditor>ed@example.com–Desk</managingEditor>` one byte past the e-mail address,
/// which panics when a multi-byte character touches the address. Such a panic is caught and
/// the feed read again with a space on each side of the e-mail addresses in RSS contacts
/// (what feed-rs expects there); a second panic is reported as an error.
fn parse_with_feed_rs(body: &[u8]) -> Result<feed_rs::model::Feed, ScrapeError> {
    let result = match catch_unwind(|| feed_rs_parser().parse(body)) {
        Ok(r) => r,
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let padded = RSS_CONTACTS
                .replace_all(&text, |c: &regex::Captures<'_>| {
                    let whole = c.get(0).map_or("", |m| m.as_str());
                    EMAIL_RUN.replace_all(whole, " $0 ").into_owned()
                })
                .into_owned();
            catch_unwind(move || feed_rs_parser().parse(padded.as_bytes())).map_err(|_| {
                ScrapeError::NotAFeed("the feed parser failed on this document".into())
            })?
        }
    };
    result.map_err(|e| ScrapeError::NotAFeed(e.to_string()))
}

/// Parse any RSS, Atom or JSON Feed document. An XML feed the parser refuses is read again
/// with a bare `&` and control characters made good ([`repair_xml`]): one "Q&A" in a title
/// or an unescaped query string in a link must not cost every item of the feed. One still
/// not well-formed (a stray `<` in a title) is read entry by entry: each item the parser
/// reads alone is kept whole, and one it refuses gives its link, title and date as written
/// ([`GenericFeed::damaged`]).
pub fn parse_generic_feed(body: &[u8]) -> Result<GenericFeed, ScrapeError> {
    // `&nbsp;` and the like in an XML feed's titles: the characters they name (feed-rs
    // keeps the letters).
    let xml = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'<');
    let rewritten = if xml {
        html_names_as_numeric(body)
    } else {
        body.into()
    };
    let body = &*rewritten;
    let feed = match parse_with_feed_rs(body) {
        Ok(feed) => feed,
        Err(e) => {
            let text = String::from_utf8_lossy(body);
            let trimmed = text.trim_start_matches('\u{feff}').trim_start();
            if !trimmed.starts_with('<') {
                return Err(e);
            }
            let repaired = repair_xml(trimmed);
            let again = match &repaired {
                std::borrow::Cow::Owned(r) => parse_with_feed_rs(r.as_bytes()),
                std::borrow::Cow::Borrowed(_) => Err(e),
            };
            match again {
                Ok(feed) => feed,
                Err(e) => return scan_feed(&repaired).ok_or(e),
            }
        }
    };
    let head = FeedHead::of(&feed);
    let items = feed
        .entries
        .into_iter()
        .filter_map(|e| head.item(e))
        .collect();
    Ok(GenericFeed {
        title: head.title,
        next: head.next,
        items,
        damaged: false,
    })
}

/// What a feed says of itself that its items need.
#[derive(Default)]
struct FeedHead {
    title: Option<String>,
    next: Option<String>,
    language: Option<String>,
}

impl FeedHead {
    fn of(feed: &feed_rs::model::Feed) -> FeedHead {
        FeedHead {
            title: feed
                .title
                .as_ref()
                .map(|t| collapse_ws(&t.content))
                .filter(|t| !t.is_empty()),
            next: feed
                .links
                .iter()
                .find(|l| l.rel.as_deref() == Some("next"))
                .map(|l| l.href.clone()),
            language: feed.language.clone(),
        }
    }

    fn item(&self, e: feed_rs::model::Entry) -> Option<FeedItem> {
        let url = e
            .links
            .iter()
            .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
            .or_else(|| e.links.first())
            .map(|l| l.href.trim().to_string())
            .filter(|h| !h.is_empty())
            .or_else(|| Some(e.id.trim().to_string()).filter(|id| crate::dom::looks_like_url(id)));
        // An item with no link of its own but with text (an announcement, a note): kept with
        // an empty `url`, for the reader to give it an address; one without text is nothing.
        let has_text = e.content.as_ref().is_some_and(|c| c.body.is_some()) || e.summary.is_some();
        let url = match url {
            Some(url) => url,
            None if has_text => String::new(),
            None => return None,
        };
        let content = e
            .content
            .as_ref()
            .and_then(|c| c.body.clone())
            .filter(|b| !b.trim().is_empty());
        let summary_html = e.summary.as_ref().map(|s| s.content.clone());
        let summary = summary_html
            .as_deref()
            .map(|s| {
                let frag = scraper::Html::parse_fragment(s);
                collapse_ws(&frag.root_element().text().collect::<String>())
            })
            .filter(|s| !s.is_empty());
        let full_content = content.is_some();
        // feed-rs makes up an id (a hash of the link and title) for an item without one.
        let id = Some(e.id.trim().to_string()).filter(|id| !id.is_empty());
        let mut labels: Vec<String> = Vec::new();
        for c in &e.categories {
            let term = collapse_ws(c.label.as_deref().unwrap_or(&c.term));
            if !term.is_empty() && !labels.contains(&term) {
                labels.push(term);
            }
        }
        let author = e
            .authors
            .iter()
            .filter_map(|p| p.name.as_deref().map(collapse_ws))
            .find(|n| !n.is_empty());
        let article = ScrapedArticle {
            url: url.clone(),
            canonical_url: None,
            title: e
                .title
                .as_ref()
                .map(|t| collapse_ws(&t.content))
                .filter(|t| !t.is_empty()),
            site_name: self.title.clone(),
            author,
            published_at: e.published.map(utc_fixed),
            updated_at: e.updated.map(utc_fixed),
            labels,
            comments_count: None,
            blogger_post_id: None,
            blog_id: None,
            language_hint: e.language.clone().or_else(|| self.language.clone()),
            blocks: content.as_deref().map(html_to_blocks).unwrap_or_default(),
            extractor: Some(Extractor::Generic),
        };
        Some(FeedItem {
            url,
            article,
            full_content,
            summary,
            id,
        })
    }

    /// An item the feed parser refuses even alone: its link (RSS `<link>`, else an Atom
    /// `<link href>` that is the alternate or has no `rel`, else a `<guid>`/`<id>` that is
    /// a URL), title and date read from the text. `None` without a link.
    fn scanned_item(&self, block: &str) -> Option<FeedItem> {
        let atom_link = || {
            LINK_TAGS.find_iter(block).find_map(|tag| {
                let (mut rel, mut href) = (None, None);
                for (name, value) in tag_attrs(tag.as_str()) {
                    match name.as_str() {
                        "rel" => rel = Some(unescape_xml(value)),
                        "href" => href = Some(unescape_xml(value)),
                        _ => {}
                    }
                }
                href.filter(|h| !h.is_empty() && rel.as_deref().is_none_or(|r| r == "alternate"))
            })
        };
        let url = element_text(block, "link")
            .or_else(atom_link)
            .or_else(|| element_text(block, "guid").filter(|g| crate::dom::looks_like_url(g)))
            .or_else(|| element_text(block, "id").filter(|g| crate::dom::looks_like_url(g)))?;
        let date = |name: &str| element_text(block, name).and_then(|d| parse_date(&d));
        let article = ScrapedArticle {
            url: url.clone(),
            title: element_text(block, "title")
                .map(|t| collapse_ws(&t))
                .filter(|t| !t.is_empty()),
            site_name: self.title.clone(),
            published_at: date("pubDate").or_else(|| date("published")),
            updated_at: date("updated"),
            language_hint: self.language.clone(),
            extractor: Some(Extractor::Generic),
            ..ScrapedArticle::default()
        };
        let id = element_text(block, "guid")
            .or_else(|| element_text(block, "id"))
            .map(|id| id.trim().to_string())
            .filter(|id| !id.is_empty());
        Some(FeedItem {
            url,
            article,
            full_content: false,
            summary: None,
            id,
        })
    }
}

/// A feed that is not well-formed even with [`repair_xml`]'s repairs, read entry by entry
/// ([`entry_blocks`]): the feed's own title and links from the text before the first entry,
/// each entry wrapped in the root element (its namespaces) and read alone. `None` when the
/// text has no entries. Linear in the text.
fn scan_feed(text: &str) -> Option<GenericFeed> {
    let blocks =
        entry_blocks(text).filter(|b| matches!(b.root.as_str(), "rss" | "feed" | "RDF"))?;
    // Each entry read alone costs its wrapper too: past this many bytes (a hostile feed of
    // a million tiny entries), entries are read from their text only.
    let mut budget = text.len().saturating_mul(4).saturating_add(1 << 20);
    let alone = |inner: &str| format!("{}{inner}{}", blocks.wrap_open, blocks.wrap_close);
    let head = blocks
        .header_close
        .as_ref()
        .and_then(|close| parse_with_feed_rs(format!("{}{close}", blocks.header).as_bytes()).ok())
        .or_else(|| parse_with_feed_rs(alone("").as_bytes()).ok())
        .map(|feed| FeedHead::of(&feed))
        .unwrap_or_default();
    let mut items = Vec::new();
    for block in blocks.entries {
        let cost = block.len() + blocks.wrap_open.len() + blocks.wrap_close.len();
        budget = budget.saturating_sub(cost);
        if budget == 0 {
            items.extend(head.scanned_item(block));
            continue;
        }
        match parse_with_feed_rs(alone(block).as_bytes()) {
            Ok(feed) if !feed.entries.is_empty() => {
                items.extend(feed.entries.into_iter().filter_map(|e| head.item(e)));
            }
            _ => items.extend(head.scanned_item(block)),
        }
    }
    Some(GenericFeed {
        title: head.title,
        next: head.next,
        items,
        damaged: true,
    })
}

/// `<link>` tags of an HTML page's head.
static LINK_TAGS: LazyLock<Regex> = LazyLock::new(|| crate::regex_literal(r"(?is)<link\b[^>]*>"));
/// One attribute of a tag: name, then a quoted or bare value.
static TAG_ATTRS: LazyLock<Regex> = LazyLock::new(|| {
    crate::regex_literal(r#"(?is)([a-z][a-z0-9_:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))"#)
});

/// The attributes of one start tag as (lowercased name, trimmed raw value) pairs.
fn tag_attrs(tag: &str) -> impl Iterator<Item = (String, &str)> {
    TAG_ATTRS.captures_iter(tag).filter_map(|attr| {
        let name = attr.get(1)?.as_str().to_ascii_lowercase();
        let value = attr
            .get(2)
            .or_else(|| attr.get(3))
            .or_else(|| attr.get(4))?;
        Some((name, value.as_str().trim()))
    })
}

/// How far into an HTML page its feed links are looked for (they belong in `<head>`).
const FEED_LINK_SCAN_BYTES: usize = 256 * 1024;

/// The feeds an HTML page names (`<link rel="alternate" type="application/rss+xml"
/// href="…">`, Atom and JSON Feed alike), in page order, as written: what a feed reader
/// follows when given a site's page instead of its feed. Empty for a document that is not
/// HTML. Reads at most the first 256 KiB.
pub fn feed_links_in_html(body: &str) -> Vec<String> {
    let mut end = body.len().min(FEED_LINK_SCAN_BYTES);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    let head = body.get(..end).unwrap_or("");
    let lower_start: String = head
        .chars()
        .take(1024)
        .collect::<String>()
        .to_ascii_lowercase();
    if !lower_start.contains("<html") && !lower_start.contains("<!doctype html") {
        return Vec::new();
    }
    let mut links = Vec::new();
    for tag in LINK_TAGS.find_iter(head) {
        let (mut rel, mut kind, mut href) = (None, None, None);
        for (name, value) in tag_attrs(tag.as_str()) {
            match name.as_str() {
                "rel" => rel = Some(value.to_string()),
                "type" => kind = Some(value.to_string()),
                "href" => href = Some(value.to_string()),
                _ => {}
            }
        }
        let alternate = rel.is_some_and(|r| {
            r.split_ascii_whitespace()
                .any(|w| w.eq_ignore_ascii_case("alternate"))
        });
        let feed = kind.is_some_and(|k| {
            let k = k.to_ascii_lowercase();
            k.starts_with("application/rss+xml")
                || k.starts_with("application/atom+xml")
                || k.starts_with("application/feed+json")
        });
        if let Some(href) = href.filter(|h| alternate && feed && !h.is_empty()) {
            links.push(href);
        }
    }
    links
}

/// Whether a sitemap lists pages or other sitemaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SitemapKind {
    /// A `<urlset>`: page URLs.
    UrlSet,
    /// A `<sitemapindex>`: URLs of more sitemaps.
    Index,
}

/// One `<url>` or `<sitemap>` of a sitemap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitemapEntry {
    /// `<loc>`.
    pub loc: String,
    /// `<lastmod>`, when given and readable (a date alone is taken as midnight UTC).
    pub lastmod: Option<DateTime<FixedOffset>>,
}

/// A parsed sitemap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sitemap {
    /// Pages or sitemaps.
    pub kind: SitemapKind,
    /// The entries in document order.
    pub entries: Vec<SitemapEntry>,
    /// The document was not well-formed XML (a stray `<`, a cut-off end) and its entries
    /// were read by looking for each `<loc>` in the text.
    pub damaged: bool,
}

/// Parse a sitemap, plain XML or gzip-compressed (detected by its magic bytes).
pub fn parse_sitemap(body: &[u8]) -> Result<Sitemap, ScrapeError> {
    let text: String = if body.starts_with(&[0x1f, 0x8b]) {
        let mut out = String::new();
        flate2::read::GzDecoder::new(body)
            .take(MAX_SITEMAP_BYTES + 1)
            .read_to_string(&mut out)
            .map_err(|e| ScrapeError::NotAFeed(format!("bad gzip sitemap: {e}")))?;
        if out.len() as u64 > MAX_SITEMAP_BYTES {
            return Err(ScrapeError::NotAFeed(
                "sitemap larger than the size cap".into(),
            ));
        }
        out
    } else {
        String::from_utf8_lossy(body).into_owned()
    };
    let text = text.trim_start_matches('\u{feff}').trim_start();
    // A bare `&` in a URL's query (the most common fault of hand-made sitemaps) and
    // control characters are made good first.
    let text = repair_xml(text);
    let (root, damaged) = match parse_xml_checked(&text) {
        Ok(parsed) => parsed,
        Err(e) => return scan_sitemap(&text).ok_or(e),
    };
    let (kind, child) = match root.name.as_str() {
        "urlset" => (SitemapKind::UrlSet, "url"),
        "sitemapindex" => (SitemapKind::Index, "sitemap"),
        // An RSS or Atom feed given as a sitemap (the protocol allows it, and Blogger's
        // custom robots.txt guides name `/atom.xml?redirect=false&…` so): its items' links.
        "rss" | "feed" | "RDF" => {
            let feed = parse_generic_feed(text.as_bytes())?;
            return Ok(Sitemap {
                kind: SitemapKind::UrlSet,
                entries: feed
                    .items
                    .into_iter()
                    .filter(|i| !i.url.is_empty())
                    .map(|i| SitemapEntry {
                        loc: i.url,
                        lastmod: i.article.updated_at.or(i.article.published_at),
                    })
                    .collect(),
                damaged: feed.damaged,
            });
        }
        other => {
            return Err(ScrapeError::NotAFeed(format!(
                "not a sitemap: root element <{other}>"
            )));
        }
    };
    if damaged {
        // The tree is wrong past the damage (entries inside a bogus element, or lost):
        // every `<loc>` in the text is read instead.
        if let Some(scanned) = scan_sitemap(&text) {
            return Ok(scanned);
        }
    }
    let entries = root
        .children_named(child)
        .filter_map(|u| {
            let loc = u.child_text("loc")?;
            Some(SitemapEntry {
                loc,
                lastmod: u.child_text("lastmod").and_then(|d| parse_date(&d)),
            })
        })
        .collect();
    Ok(Sitemap {
        kind,
        entries,
        damaged: false,
    })
}

/// A sitemap that is not well-formed XML (a stray `<`, a document cut off at a size limit),
/// read as search engines read one: each `<url>` (`<sitemap>` in an index) up to the next is
/// an entry, and its first complete `<loc>…</loc>` and `<lastmod>…</lastmod>` are taken. A
/// `<loc>` cut off before its end tag is left out (its URL would be a wrong one). `None` when
/// the text is neither a `<urlset>` nor a `<sitemapindex>`. Linear in the text.
fn scan_sitemap(text: &str) -> Option<Sitemap> {
    let urlset = text.find("<urlset");
    let index = text.find("<sitemapindex");
    let (kind, open) = match (urlset, index) {
        (Some(u), Some(i)) if i < u => (SitemapKind::Index, "<sitemap"),
        (Some(_), _) => (SitemapKind::UrlSet, "<url"),
        (None, Some(_)) => (SitemapKind::Index, "<sitemap"),
        (None, None) => return None,
    };
    // Where each entry's start tag begins (`<url>` or `<url ...>`, not `<urlset`).
    let starts: Vec<usize> = text
        .match_indices(open)
        .map(|(at, _)| at)
        .filter(|at| {
            matches!(
                text.as_bytes().get(at + open.len()),
                Some(b'>' | b' ' | b'\t' | b'\r' | b'\n' | b'/')
            )
        })
        .collect();
    let mut entries = Vec::new();
    for (n, start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(text.len());
        let block = text.get(*start..end).unwrap_or("");
        let Some(loc) = element_text(block, "loc") else {
            continue;
        };
        entries.push(SitemapEntry {
            loc,
            lastmod: element_text(block, "lastmod").and_then(|d| parse_date(&d)),
        });
    }
    Some(Sitemap {
        kind,
        entries,
        damaged: true,
    })
}

/// The text of the first complete `<name>…</name>` in `block` (CDATA unwrapped, the five
/// predefined entities and character references resolved), if not empty.
fn element_text(block: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let from = block.find(&open)? + open.len();
    let len = block.get(from..)?.find(&close)?;
    let raw = block.get(from..from + len)?.trim();
    let raw = raw
        .strip_prefix("<![CDATA[")
        .and_then(|r| r.strip_suffix("]]>"))
        .unwrap_or(raw);
    let text = unescape_xml(raw.trim());
    (!text.is_empty()).then_some(text)
}

/// `&amp;` and the other predefined entities, and `&#…;` character references, resolved.
fn unescape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(rest.get(..at).unwrap_or(""));
        let after = rest.get(at + 1..).unwrap_or("");
        let reference = after
            .find(';')
            .filter(|semi| *semi <= 12)
            .and_then(|semi| Some((semi, resolve_reference(after.get(..semi)?)?)));
        match reference {
            Some((semi, resolved)) => {
                out.push(resolved);
                rest = after.get(semi + 1..).unwrap_or("");
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn resolve_reference(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// Whether a sitemap `<url>` entry names another sitemap rather than a page: its file name
/// contains `sitemap` and ends in `.xml` or `.xml.gz` (`post-sitemap.xml`,
/// `sitemap-posts-1.xml.gz`, `wp-sitemap-posts-post-1.xml`). A careless sitemap lists its
/// child sitemaps as `<url>` entries instead of writing a `<sitemapindex>`: read as pages,
/// each was stored as an "article" of its raw XML and the posts it lists were never read.
pub fn names_a_sitemap(loc: &str) -> bool {
    let Ok(url) = url::Url::parse(loc.trim()) else {
        return false;
    };
    let file = url
        .path_segments()
        .and_then(|mut segments| segments.next_back())
        .unwrap_or_default()
        .to_ascii_lowercase();
    file.contains("sitemap") && (file.ends_with(".xml") || file.ends_with(".xml.gz"))
}

/// What listing document `body` is when its root element is a sitemap's (`<urlset>`,
/// `<sitemapindex>`) or a feed's (`<rss>`, `<feed>`, `<rdf:RDF>`): `"a sitemap"` or
/// `"a feed"`; `None` for anything else (an HTML or XHTML page). Looks past a byte order
/// mark, white space, the XML declaration, comments, processing instructions and a
/// doctype, no further than the first element. Linear in what it skips.
pub fn listing_document(body: &str) -> Option<&'static str> {
    let mut rest = body.trim_start_matches('\u{feff}').trim_start();
    loop {
        let skip_to = if rest.starts_with("<?") {
            "?>"
        } else if rest.starts_with("<!--") {
            "-->"
        } else if rest.starts_with("<!") {
            ">"
        } else {
            break;
        };
        let end = rest.find(skip_to)?;
        rest = rest.get(end + skip_to.len()..)?.trim_start();
    }
    let name: String = rest
        .strip_prefix('<')?
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, '>' | '/'))
        .collect();
    let local = name.rsplit(':').next().unwrap_or_default();
    match local {
        "urlset" | "sitemapindex" => Some("a sitemap"),
        "rss" | "feed" | "RDF" => Some("a feed"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sitemap_names_and_listing_documents_are_told_from_pages() {
        for loc in [
            "https://example.org/post-sitemap.xml",
            "https://example.org/sitemap-posts-1.xml.gz",
            "https://example.org/wp-sitemap-posts-post-1.xml",
            "https://example.org/Sitemap.XML?page=2",
        ] {
            assert!(names_a_sitemap(loc), "{loc}");
        }
        for loc in [
            "https://example.org/2024/03/sitemap-of-the-harbour.html",
            "https://example.org/feed.xml",
            "https://example.org/sitemap/",
            "not a url",
        ] {
            assert!(!names_a_sitemap(loc), "{loc}");
        }
        assert_eq!(
            listing_document(
                "\u{feff} <?xml version='1.0'?>\n<!-- made by hand -->\n<urlset xmlns='x'>"
            ),
            Some("a sitemap")
        );
        assert_eq!(listing_document("<sitemapindex>"), Some("a sitemap"));
        assert_eq!(
            listing_document("<?xml version='1.0'?><rss version='2.0'>"),
            Some("a feed")
        );
        assert_eq!(
            listing_document("<feed xmlns='http://www.w3.org/2005/Atom'>"),
            Some("a feed")
        );
        assert_eq!(listing_document("<rdf:RDF xmlns:rdf='x'>"), Some("a feed"));
        assert_eq!(
            listing_document("<?xml version='1.0'?><!DOCTYPE html><html xmlns='x'><body>"),
            None
        );
        assert_eq!(listing_document("<!DOCTYPE html><html><body><rss>"), None);
        assert_eq!(listing_document(""), None);
        assert_eq!(listing_document("<?xml never closed"), None);
        assert_eq!(listing_document("plain text"), None);
    }

    use super::*;

    #[test]
    fn rss_with_full_content() {
        let rss = br#"<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
          <channel><title>Coast Times</title><link>https://coast.example/</link>
          <item><title>Fares rise</title><link>https://coast.example/fares</link>
          <pubDate>Fri, 01 Mar 2024 09:00:00 +0000</pubDate><category>transport</category>
          <description>Short.</description>
          <content:encoded><![CDATA[<p>Fares rise by ten percent.</p><p>Commuters object.</p>]]></content:encoded></item>
          <item><title>No body</title><link>https://coast.example/nobody</link><description>Only a teaser.</description></item>
          </channel></rss>"#;
        let feed = parse_generic_feed(rss).unwrap();
        assert_eq!(feed.title.as_deref(), Some("Coast Times"));
        assert_eq!(feed.items.len(), 2);
        let first = &feed.items[0];
        assert_eq!(first.url, "https://coast.example/fares");
        assert!(first.full_content);
        assert_eq!(first.article.blocks.len(), 2);
        assert_eq!(first.article.labels, vec!["transport"]);
        assert_eq!(first.article.site_name.as_deref(), Some("Coast Times"));
        assert!(first.article.published_at.is_some());
        let second = &feed.items[1];
        assert!(!second.full_content);
        assert_eq!(second.summary.as_deref(), Some("Only a teaser."));
    }

    #[test]
    fn json_feed() {
        let json = br#"{"version":"https://jsonfeed.org/version/1.1","title":"Notes","items":[
            {"id":"1","url":"https://notes.example/1","title":"One","content_html":"<p>Hello.</p>","date_published":"2024-01-02T03:04:05+01:00"}]}"#;
        let feed = parse_generic_feed(json).unwrap();
        assert_eq!(feed.items[0].url, "https://notes.example/1");
        assert!(feed.items[0].full_content);
    }

    #[test]
    fn not_a_feed() {
        assert!(parse_generic_feed(b"<html><body>hi</body></html>").is_err());
        assert!(parse_generic_feed(b"").is_err());
    }

    const URLSET: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
        <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
        <url><loc>https://x.blogspot.com/2024/01/a.html</loc><lastmod>2024-01-05T10:00:00Z</lastmod></url>
        <url><loc> https://x.blogspot.com/2024/01/b.html </loc><lastmod>2024-01-04</lastmod></url>
        <url><loc>https://x.blogspot.com/2023/12/c.html</loc></url>
        </urlset>"#;

    #[test]
    fn urlset_and_index() {
        let map = parse_sitemap(URLSET.as_bytes()).unwrap();
        assert_eq!(map.kind, SitemapKind::UrlSet);
        assert_eq!(map.entries.len(), 3);
        assert_eq!(map.entries[1].loc, "https://x.blogspot.com/2024/01/b.html");
        assert_eq!(
            map.entries[0].lastmod.unwrap().to_rfc3339(),
            "2024-01-05T10:00:00+00:00"
        );
        assert!(map.entries[1].lastmod.is_some());
        assert_eq!(map.entries[2].lastmod, None);

        let index = br#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
          <sitemap><loc>https://x.blogspot.com/sitemap.xml?page=1</loc></sitemap>
          <sitemap><loc>https://x.blogspot.com/sitemap.xml?page=2</loc></sitemap></sitemapindex>"#;
        let map = parse_sitemap(index).unwrap();
        assert_eq!(map.kind, SitemapKind::Index);
        assert_eq!(map.entries.len(), 2);
        assert!(parse_sitemap(b"<html></html>").is_err());
    }

    #[test]
    fn a_careless_sitemap_is_read_whole() {
        // A bare `&`, a stray `<` in a lastmod, then a document cut off in its last entry.
        let text = "<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>\
            <url><loc>https://e.com/a?x=1&y=2</loc><lastmod>2024-01-05</lastmod></url>\
            <url><loc>https://e.com/b</loc><lastmod>2024 < 01</lastmod></url>\
            <url><loc>https://e.com/c&amp;d</loc><image:image><image:loc>https://e.com/i.png</image:loc></image:image></url>\
            <url><loc><![CDATA[https://e.com/e]]></loc></url>\
            <url><loc>https://e.com/f-is-cut";
        let map = parse_sitemap(text.as_bytes()).unwrap();
        assert!(map.damaged);
        assert_eq!(map.kind, SitemapKind::UrlSet);
        let locs: Vec<&str> = map.entries.iter().map(|e| e.loc.as_str()).collect();
        assert_eq!(
            locs,
            [
                "https://e.com/a?x=1&y=2",
                "https://e.com/b",
                "https://e.com/c&d",
                "https://e.com/e"
            ]
        );
        assert!(map.entries[0].lastmod.is_some());
        // Cut inside a `<loc>` (a size limit): the cut-off URL is not taken.
        let map = parse_sitemap(
            b"<urlset><url><loc>https://e.com/a</loc></url><url><loc>https://e.com/b-is-c",
        )
        .unwrap();
        assert!(map.damaged);
        assert_eq!(map.entries.len(), 1);
        assert_eq!(map.entries[0].loc, "https://e.com/a");
        // Only the bare `&`: repaired, read as XML, not damaged.
        let map = parse_sitemap(
            b"<urlset><url><loc>https://e.com/a?x=1&y=2</loc></url><url><loc>https://e.com/b</loc></url></urlset>",
        )
        .unwrap();
        assert!(!map.damaged);
        assert_eq!(map.entries.len(), 2);
        assert_eq!(map.entries[0].loc, "https://e.com/a?x=1&y=2");
    }

    #[test]
    fn a_feed_with_a_bare_ampersand_is_read() {
        let rss = b"<?xml version='1.0'?><rss version='2.0'><channel><title>Q&A</title>\
            <item><title>One</title><link>https://e.com/1?a=1&b=2</link></item>\
            <item><title>Two</title><link>https://e.com/2</link></item></channel></rss>";
        let feed = parse_generic_feed(rss).unwrap();
        assert_eq!(feed.items.len(), 2);
        assert_eq!(feed.items[0].url, "https://e.com/1?a=1&b=2");
    }

    #[test]
    fn an_html_page_names_its_feeds() {
        let html = "<!DOCTYPE html><html><head><title>Harbour</title>\
            <link rel='stylesheet' href='/s.css'>\
            <link rel=\"alternate\" type=\"application/rss+xml\" title=\"RSS\" href=\"/feed.xml\">\
            <LINK REL=alternate TYPE='application/atom+xml' HREF='https://e.com/atom'/>\
            <link rel='alternate' hreflang='de' href='/de/'>\
            </head><body>Moved</body></html>";
        assert_eq!(
            feed_links_in_html(html),
            ["/feed.xml", "https://e.com/atom"]
        );
        assert!(feed_links_in_html("<rss><channel></channel></rss>").is_empty());
    }

    #[test]
    fn gzip_sitemap() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(URLSET.as_bytes()).unwrap();
        let gz = enc.finish().unwrap();
        let map = parse_sitemap(&gz).unwrap();
        assert_eq!(map.entries.len(), 3);
        assert!(parse_sitemap(&gz[..gz.len() / 2]).is_err());
    }

    #[test]
    fn a_feed_with_a_stray_less_than_sign_is_read_entry_by_entry() {
        let rss = "<?xml version='1.0'?><rss version='2.0' \
                   xmlns:content='http://purl.org/rss/1.0/modules/content/'><channel>\
                   <title>Quay</title><item><title>A</title><link>http://e.com/a</link>\
                   <content:encoded><![CDATA[<p>Whole text of a.</p>]]></content:encoded></item>\
                   <item><title>x<y</title><link>http://e.com/b</link>\
                   <pubDate>Mon, 13 Mar 2023 09:00:00 +0000</pubDate></item>\
                   <item><title>C</title><link>http://e.com/c</link></item></channel></rss>";
        let feed = parse_generic_feed(rss.as_bytes()).unwrap();
        assert!(feed.damaged);
        assert_eq!(feed.title.as_deref(), Some("Quay"));
        let got: Vec<_> = feed
            .items
            .iter()
            .map(|i| (i.url.as_str(), i.article.title.as_deref(), i.full_content))
            .collect();
        assert_eq!(
            got,
            [
                ("http://e.com/a", Some("A"), true),
                ("http://e.com/b", Some("x<y"), false),
                ("http://e.com/c", Some("C"), false)
            ]
        );
        assert!(feed.items[1].article.published_at.is_some());
        let atom = "<feed xmlns='http://www.w3.org/2005/Atom'><title>Q</title>\
                    <entry><title>A</title><link href='http://e.com/a'/></entry>\
                    <entry><title>1 < 2</title><link rel='alternate' href='http://e.com/b?x=1&amp;y=2'/></entry>\
                    <entry><title>C</title><link href='http://e.com/c'/></entry></feed>";
        let feed = parse_generic_feed(atom.as_bytes()).unwrap();
        let urls: Vec<_> = feed.items.iter().map(|i| i.url.as_str()).collect();
        assert_eq!(
            urls,
            ["http://e.com/a", "http://e.com/b?x=1&y=2", "http://e.com/c"]
        );
        // A well-formed feed is not flagged; text that is no feed is still refused.
        let fine = parse_generic_feed(rss.replace("x<y", "x").as_bytes()).unwrap();
        assert!(!fine.damaged);
        assert!(parse_generic_feed(b"<html><body>x < y</body></html>").is_err());
        assert!(parse_generic_feed(b"<html><body><entry>x < y</entry></body></html>").is_err());
        // A million tiny damaged entries under a large root tag: linear, read from the text.
        let root = format!(
            "<rss version='2.0' {}>",
            "xmlns:a='http://e.com/' ".repeat(200)
        );
        let tiny = "<item><link>http://e.com/a</link><title>1 < 2</title></item>".repeat(100_000);
        let t = std::time::Instant::now();
        let feed = parse_generic_feed(format!("{root}<channel>{tiny}</channel></rss>").as_bytes())
            .unwrap();
        assert_eq!(feed.items.len(), 100_000);
        assert!(t.elapsed().as_secs() < 60, "{:?}", t.elapsed());
    }

    #[test]
    fn a_feed_given_as_a_sitemap_gives_its_items() {
        let atom = "<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><title>Q</title>\
                    <entry><title>A</title><link rel='alternate' href='http://e.com/a'/>\
                    <updated>2024-01-02T03:04:05Z</updated></entry></feed>";
        let map = parse_sitemap(atom.as_bytes()).unwrap();
        assert_eq!(map.kind, SitemapKind::UrlSet);
        assert_eq!(map.entries.len(), 1);
        assert_eq!(map.entries[0].loc, "http://e.com/a");
        assert!(map.entries[0].lastmod.is_some());
    }
}
