//! Which stored row an incoming article is, if any: the rules that keep one page from
//! overwriting another.
//!
//! The address an article was read from is its identity. Anything else an article says about
//! itself (its `<link rel=canonical>`, its Blogger post id, the URL a feed item claims) is
//! written by the page or the feed, so it is a hint that is checked before two addresses are
//! taken for one article:
//!
//! - both addresses must be on the same site ([`site_of`]: the host without `www.`/`m.`/`amp.`,
//!   a Blogger blog across its country domains, and the port);
//! - and something must say they are the same article: the same Blogger post id, the same
//!   content hash, the same title and opening (at least 200 characters on both sides), or
//!   addresses that differ only by a variant marker ([`page_key`]: `?m=1`, tracking parameters, an `/amp` suffix, the scheme).
//!
//! Two different Blogger post ids are always two articles.
//!
//! One site read under two of its host names is one site: a row under the same address on
//! the other scheme (`http`/`https`) or with(out) `www.` ([`host_variants`]) is the article,
//! and so is a row of another host with the same Blogger post id, path and text
//! ([`same_post_elsewhere`]: a blog under its blogspot address and its own domain).

use url::Url;

/// The site an address belongs to: lowercase host without a leading `www.`, `m.`, `mobile.`
/// or `amp.`; `NAME.blogspot.*` (any country domain) as `NAME.blogspot`; plus an explicit
/// port (so two local servers on one machine are two sites). `None` for an address without
/// a host.
pub(crate) fn site_of(address: &str) -> Option<String> {
    let url = Url::parse(address.trim()).ok()?;
    let host = url.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    let mut host = host.as_str();
    for prefix in ["www.", "m.", "mobile.", "amp."] {
        if let Some(rest) = host.strip_prefix(prefix)
            && rest.contains('.')
        {
            host = rest;
            break;
        }
    }
    let host = match blogspot_name(host) {
        Some(name) => format!("{name}.blogspot"),
        None => host.to_string(),
    };
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// The blog name of a Blogger host `NAME.blogspot.TLD`, where TLD is Blogger's own: `com`, a
/// two-letter country code, or `com.`/`co.` and one (`x.blogspot.co.uk`). Anything else with
/// `.blogspot.` inside (`victim.blogspot.attacker.io`) is an ordinary host of its own.
fn blogspot_name(host: &str) -> Option<&str> {
    let (name, tld) = host.split_once(".blogspot.")?;
    let country = |label: &str| label.len() == 2 && label.bytes().all(|b| b.is_ascii_lowercase());
    let ok = tld == "com"
        || country(tld)
        || tld
            .split_once('.')
            .is_some_and(|(second, cc)| matches!(second, "com" | "co") && country(cc));
    (ok && !name.is_empty()).then_some(name)
}

/// Whether two addresses are on the same site ([`site_of`]); never for an address without a host.
pub(crate) fn same_site(a: &str, b: &str) -> bool {
    match (site_of(a), site_of(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Query parameters that never change what page an address shows: Blogger's mobile switch,
/// AMP switches and tracking tags (any `utm_*` too).
const VARIANT_PARAMS: [&str; 9] = [
    "m",
    "amp",
    "outputtype",
    "fbclid",
    "gclid",
    "mc_cid",
    "mc_eid",
    "ref",
    "ref_src",
];

/// An address with the marks of its variants removed: site ([`site_of`]), path without a
/// trailing `/amp` or `/`, and the query without [`VARIANT_PARAMS`] or `utm_*` (the rest
/// sorted). Scheme and fragment are dropped. Two addresses with the same key show one page.
pub(crate) fn page_key(address: &str) -> Option<String> {
    let site = site_of(address)?;
    let url = Url::parse(address.trim()).ok()?;
    let mut path = url.path().trim_end_matches('/');
    for suffix in ["/amp", "/amp.html"] {
        if let Some(p) = path.strip_suffix(suffix) {
            path = p.trim_end_matches('/');
        }
    }
    let mut query: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            !k.starts_with("utm_") && !VARIANT_PARAMS.contains(&k.as_str())
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    query.sort();
    let mut key = format!("{site}{path}");
    for (n, (k, v)) in query.iter().enumerate() {
        key.push(if n == 0 { '?' } else { '&' });
        key.push_str(k);
        key.push('=');
        key.push_str(v);
    }
    Some(key)
}

/// The same address on the other scheme (`http`/`https`), with or without a leading `www.`,
/// and with or without a trailing `/` on its path (up to seven addresses, the given one left
/// out; fewer for an IP address or the site's root): one site read under two of them (a blog
/// configured as `http://` and `https://www.`, a feed that writes its links without `www.`
/// while the site redirects to it, a CMS whose permalinks gained or lost their trailing slash)
/// shows one page at each, so a row under one is the article of the other. Empty for an
/// address that does not parse.
pub(crate) fn host_variants(address: &str) -> Vec<String> {
    let Ok(url) = Url::parse(address.trim()) else {
        return Vec::new();
    };
    let (Some(host), true) = (url.host_str(), matches!(url.scheme(), "http" | "https")) else {
        return Vec::new();
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Vec::new();
    }
    // Built as text from the parsed address (a parse and three serialisations cost ~20,000
    // instructions an article); the parts keep the parser's normal form.
    let rest = &url[url::Position::AfterHost..];
    let path = url.path();
    // The path with its trailing `/` toggled (not for the root, nor a path ending `//`).
    let toggled = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() && !p.ends_with('/') => Some(p.to_string()),
        Some(_) => None,
        None => Some(format!("{path}/")),
    };
    let other_rest = toggled.map(|p| {
        format!(
            "{}{p}{}",
            &url[url::Position::AfterHost..url::Position::BeforePath],
            &url[url::Position::AfterPath..]
        )
    });
    let bare = host.strip_prefix("www.").unwrap_or(host);
    let domain = matches!(url.host(), Some(url::Host::Domain(_))) && bare.contains('.');
    let mut variants = Vec::with_capacity(7);
    for rest in std::iter::once(rest).chain(other_rest.as_deref()) {
        for scheme in ["http", "https"] {
            for www in [false, true] {
                if www && !domain {
                    continue;
                }
                let h = if domain { bare } else { host };
                let v = format!("{scheme}://{}{h}{rest}", if www { "www." } else { "" });
                if v != url.as_str() && v != address {
                    variants.push(v);
                }
            }
        }
    }
    variants
}

/// Whether a row of another host with the same Blogger post id on the same path is this
/// post: a blog read under its `blogspot.com` address and its own domain (two sources, or a
/// redirect) gives each post under both. The same post id and the same text (content hash,
/// or title and 200-character opening) say so; a page that copies another's id and path but
/// not its text is still its own.
pub(crate) fn same_post_elsewhere(new: &Shape<'_>, row: &Shape<'_>) -> bool {
    let same_id = matches!((new.post_id, row.post_id), (Some(a), Some(b)) if a == b);
    if !same_id {
        return false;
    }
    if new.content_hash == row.content_hash {
        return true;
    }
    let title = loose(new.title);
    !title.is_empty() && title == loose(row.title) && same_opening(new.opening, row.opening)
}

/// Characters of the body compared by [`same_article`] when the titles agree.
pub(crate) const OPENING_CHARS: usize = 200;

/// Text compared loosely: lowercase, whitespace runs as one space, trimmed.
fn loose(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// What is compared of an article, stored or incoming.
#[derive(Debug, Clone)]
pub(crate) struct Shape<'a> {
    pub(crate) url: &'a str,
    pub(crate) post_id: Option<&'a str>,
    pub(crate) content_hash: &'a str,
    pub(crate) title: &'a str,
    /// The first [`OPENING_CHARS`] characters of the body (or all of a shorter one).
    pub(crate) opening: &'a str,
}

/// The first [`OPENING_CHARS`] characters of `body`.
pub(crate) fn opening(body: &str) -> &str {
    match body.char_indices().nth(OPENING_CHARS) {
        Some((i, _)) => &body[..i],
        None => body,
    }
}

/// Whether a row reached through a hint (canonical URL, post id) is plausibly the same
/// article as the incoming one. See the module documentation.
pub(crate) fn same_article(new: &Shape<'_>, row: &Shape<'_>) -> bool {
    if !same_site(new.url, row.url) {
        return false;
    }
    if let (Some(a), Some(b)) = (new.post_id, row.post_id) {
        return a == b;
    }
    if new.content_hash == row.content_hash {
        return true;
    }
    if let (Some(a), Some(b)) = (page_key(new.url), page_key(row.url))
        && a == b
    {
        return true;
    }
    let title = loose(new.title);
    !title.is_empty() && title == loose(row.title) && same_opening(new.opening, row.opening)
}

/// Whether two openings are the same and long enough to tell posts apart: both at least
/// [`OPENING_CHARS`] characters (loosely compared). Short bodies under one title ("Open
/// thread", "Photo of the day") are too often different posts to be taken for one.
fn same_opening(a: &str, b: &str) -> bool {
    let long = |s: &str| s.chars().count() >= OPENING_CHARS;
    if !long(a) || !long(b) {
        return false;
    }
    // Loosely compared as far as the shorter goes (whitespace runs count as one).
    let (a, b) = (loose(a), loose(b));
    let n = a.chars().count().min(b.chars().count());
    a.chars().take(n).eq(b.chars().take(n))
}

/// Whether a stored row published at the same moment as an incoming article not found by
/// its address is that article moved to a new address on its site (a permalink edited, a
/// CMS that changed its address scheme, the old address answering 301; its title is often
/// edited with it). Only the same site (and not a feed item's row: items under one shared
/// link are told apart by other rules) can be. Two Blogger post ids decide it ([`Moved::Yes`]
/// when equal); otherwise the same content hash (title and text) is the same post, and the
/// same opening of at least [`OPENING_CHARS`] characters is only [`Moved::IfSameBody`]: the
/// caller reads the row's whole body and takes it only if it is the incoming body. An opening
/// alone is not enough: a site's posts of one day (a date read as midnight) or of one import
/// often share a time, and a standing preamble, a podcast's intro or a disclaimer can fill
/// the first 200 characters of each; merging them would lose a post.
pub(crate) fn moved_post(new: &Shape<'_>, row: &Shape<'_>) -> Moved {
    if feed_item_base(row.url).is_some() || !same_site(new.url, row.url) {
        return Moved::No;
    }
    if let (Some(a), Some(b)) = (new.post_id, row.post_id) {
        return if a == b { Moved::Yes } else { Moved::No };
    }
    if new.content_hash == row.content_hash {
        Moved::Yes
    } else if same_opening(new.opening, row.opening) {
        Moved::IfSameBody
    } else {
        Moved::No
    }
}

/// What [`moved_post`] says of a stored row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Moved {
    /// The incoming article is this row's post.
    Yes,
    /// It is, if the row's whole body is the incoming body (the title may have changed).
    IfSameBody,
    /// Another post.
    No,
}

/// The address a feed item with no page of its own is addressed within (the feed's, or the
/// link its posts share), when `url` is such an item's address: the pipeline makes those as
/// that address with a fragment `#item-` and 16 hex digits of the item's id (or title).
pub(crate) fn feed_item_base(url: &str) -> Option<&str> {
    let (base, hash) = url.rsplit_once("#item-")?;
    (hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) && !base.is_empty())
        .then_some(base)
}

/// Whether a stored row is the same feed post as an incoming one that has no page of its own
/// and whose address (made from its id) is new: a feed that gives its linkless items a new
/// random or time-based `<guid>` on every read. Both are such items of the same feed
/// ([`feed_item_base`]) and the same source, published at the same moment (or both undated), with the same
/// title and the same content hash (title and text). Two posts that differ in any of these
/// stay two (equal titles with other text, or the same text on another date); the same text
/// under two ids at one moment is one post listed twice, as the pipeline already takes it
/// within one feed page. The caller finds candidates by published date and content hash.
pub(crate) fn same_feed_post(
    new: &Shape<'_>,
    new_source: Option<i64>,
    row: &Shape<'_>,
    row_source: Option<i64>,
) -> bool {
    let (Some(a), Some(b)) = (feed_item_base(new.url), feed_item_base(row.url)) else {
        return false;
    };
    a == b
        && new_source.is_some()
        && new_source == row_source
        && new.content_hash == row.content_hash
        && new.title == row.title
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bloggers_own_domains_are_one_blogspot_site() {
        let s = |u: &str| site_of(u).unwrap();
        assert_eq!(s("https://foo.blogspot.com/a.html"), "foo.blogspot");
        assert_eq!(s("https://foo.blogspot.de/a.html"), "foo.blogspot");
        assert_eq!(s("https://foo.blogspot.com.au/a.html"), "foo.blogspot");
        // Someone else's domain that merely contains `.blogspot.` is not the blog.
        assert_eq!(
            s("https://victim.blogspot.attacker.io/a.html"),
            "victim.blogspot.attacker.io"
        );
        assert_eq!(
            s("https://victim.blogspot.co.evil.example/"),
            "victim.blogspot.co.evil.example"
        );
        assert!(!same_site(
            "https://victim.blogspot.attacker.io/2024/01/a.html",
            "https://victim.blogspot.com/2024/01/a.html"
        ));
    }

    #[test]
    fn sites_ignore_www_mobile_blogspot_country_and_scheme_but_not_ports_or_hosts() {
        let s = |u: &str| site_of(u).unwrap();
        assert_eq!(s("https://www.Example.org/a"), "example.org");
        assert_eq!(s("http://m.example.org/a?m=1"), "example.org");
        assert_eq!(
            s("https://foo.blogspot.co.uk/2022/01/a.html"),
            "foo.blogspot"
        );
        assert_eq!(s("https://foo.blogspot.com/"), "foo.blogspot");
        assert_eq!(s("http://127.0.0.1:8080/a"), "127.0.0.1:8080");
        assert_ne!(s("http://127.0.0.1:8080/a"), s("http://127.0.0.1:8081/a"));
        assert!(!same_site(
            "https://news.example.org/a",
            "https://evil.example/a"
        ));
        assert!(!same_site(
            "https://bar.blogspot.com/a",
            "https://foo.blogspot.com/a"
        ));
        // "m.org" is not "org".
        assert_eq!(s("https://m.org/"), "m.org");
        assert!(site_of("not a url").is_none());
        assert!(!same_site("not a url", "not a url"));
    }

    #[test]
    fn host_variants_are_the_other_schemes_and_www() {
        let mut v = host_variants("https://www.example.org/2024/01/a.html?x=1");
        v.sort();
        assert_eq!(
            v,
            [
                "http://example.org/2024/01/a.html/?x=1",
                "http://example.org/2024/01/a.html?x=1",
                "http://www.example.org/2024/01/a.html/?x=1",
                "http://www.example.org/2024/01/a.html?x=1",
                "https://example.org/2024/01/a.html/?x=1",
                "https://example.org/2024/01/a.html?x=1",
                "https://www.example.org/2024/01/a.html/?x=1",
            ]
        );
        let mut v = host_variants("http://127.0.0.1:8080/a");
        v.sort();
        assert_eq!(
            v,
            [
                "http://127.0.0.1:8080/a/",
                "https://127.0.0.1:8080/a",
                "https://127.0.0.1:8080/a/"
            ]
        );
        let mut v = host_variants("http://localhost/a/?x=1#f");
        v.sort();
        assert_eq!(
            v,
            [
                "http://localhost/a?x=1#f",
                "https://localhost/a/?x=1#f",
                "https://localhost/a?x=1#f"
            ]
        );
        // The root has no other spelling but its scheme and host name.
        let mut v = host_variants("https://example.org/");
        v.sort();
        assert_eq!(
            v,
            [
                "http://example.org/",
                "http://www.example.org/",
                "https://www.example.org/"
            ]
        );
        assert!(host_variants("mailto:a@example.org").is_empty());
        assert!(host_variants("not a url").is_empty());
    }

    #[test]
    fn page_keys_drop_variant_marks_only() {
        let k = |u: &str| page_key(u).unwrap();
        let a = k("https://example.org/2024/01/story.html");
        assert_eq!(k("http://www.example.org/2024/01/story.html?m=1"), a);
        assert_eq!(
            k("https://example.org/2024/01/story.html?utm_source=feed&utm_medium=rss#more"),
            a
        );
        assert_eq!(k("https://example.org/2024/01/story.html/amp/"), a);
        assert_ne!(k("https://example.org/2024/01/other.html"), a);
        assert_ne!(
            k("https://example.org/world?page=2"),
            k("https://example.org/world")
        );
        assert_eq!(
            k("https://example.org/p?id=7&utm_x=1&b=2"),
            k("https://example.org/p?b=2&id=7")
        );
    }

    fn shape<'a>(url: &'a str, title: &'a str, body: &'a str, hash: &'a str) -> Shape<'a> {
        Shape {
            url,
            post_id: None,
            content_hash: hash,
            title,
            opening: opening(body),
        }
    }

    #[test]
    fn same_article_needs_the_same_site_and_one_sign_of_sameness() {
        let storm = "The storm hit the coast on Tuesday night, flooding the harbour and cutting \
                     power to twelve thousand homes; the coastguard rescued four sailors and the \
                     council opened two schools as shelters for families forced from their homes.";
        let a = shape("https://ex.org/a", "Storm hits coast", storm, "h1");
        // Another page of the site, another title: not the same, whatever it links to.
        let b = shape(
            "https://ex.org/b",
            "Budget passes",
            "The budget passed.",
            "h2",
        );
        assert!(!same_article(&b, &a));
        // Same title and opening (an AMP or print copy under another path).
        let print = shape("https://ex.org/print/a", "Storm  hits coast", storm, "h3");
        assert!(same_article(&print, &a));
        // Same title and the same short opening: too little to tell two posts apart
        // ("Open thread", "Photo of the day").
        let thread = shape("https://ex.org/t/1", "Open thread", "Talk below.", "h5");
        let other_thread = shape("https://ex.org/t/2", "Open thread", "Talk below.", "h6");
        assert!(!same_article(&other_thread, &thread));
        // Same title, other text: a template title, not the same article.
        let tpl = shape(
            "https://ex.org/c",
            "Storm hits coast",
            "A different story.",
            "h4",
        );
        assert!(!same_article(&tpl, &a));
        // Same content on another site: no.
        let copy = shape(
            "https://copy.example/a",
            "Storm hits coast",
            "The storm hit.",
            "h1",
        );
        assert!(!same_article(&copy, &a));
        // A variant address with changed text: yes.
        let mobile = shape("https://ex.org/a?m=1", "Storm hits coast", "Updated.", "h5");
        assert!(same_article(&mobile, &a));
        // Two post ids differ: never, even with the same text.
        let mut p1 = a.clone();
        p1.post_id = Some("1");
        let mut p2 = a.clone();
        p2.url = "https://ex.org/a?m=1";
        p2.post_id = Some("2");
        assert!(!same_article(&p2, &p1));
        p2.post_id = Some("1");
        assert!(same_article(&p2, &p1));
    }

    #[test]
    fn feed_posts_are_one_only_with_everything_alike() {
        let base = "https://ex.org/feed.xml#item-0123456789abcdef";
        let again = "https://ex.org/feed.xml#item-fedcba9876543210";
        let a = shape(base, "Harbour update", "The quay opens.", "h1");
        let b = shape(again, "Harbour update", "The quay opens.", "h1");
        assert!(same_feed_post(&b, Some(1), &a, Some(1)));
        // Another source, another feed, another text, another title: two posts.
        assert!(!same_feed_post(&b, Some(2), &a, Some(1)));
        assert!(!same_feed_post(&b, None, &a, None));
        let elsewhere = shape(
            "https://ex.org/other.xml#item-fedcba9876543210",
            "Harbour update",
            "The quay opens.",
            "h1",
        );
        assert!(!same_feed_post(&elsewhere, Some(1), &a, Some(1)));
        let other_text = shape(again, "Harbour update", "The quay closes.", "h2");
        assert!(!same_feed_post(&other_text, Some(1), &a, Some(1)));
        // Not item addresses: a page of its own is never found this way.
        let page = shape("https://ex.org/a.html", "Harbour update", "x", "h1");
        assert!(!same_feed_post(&page, Some(1), &a, Some(1)));
        assert_eq!(feed_item_base(base), Some("https://ex.org/feed.xml"));
        assert_eq!(feed_item_base("https://ex.org/#item-short"), None);
        assert_eq!(feed_item_base("#item-0123456789abcdef"), None);
    }

    #[test]
    fn a_moved_post_is_its_site_and_text() {
        let storm = "The storm hit the coast on Tuesday night, flooding the harbour and cutting \
                     power to twelve thousand homes; the coastguard rescued four sailors and the \
                     council opened two schools as shelters for families forced from their homes.";
        let a = shape("https://ex.org/2024/storm", "Storm", storm, "h1");
        let moved = shape(
            "https://ex.org/2024/storm-hits-coast",
            "Storm hits coast",
            storm,
            "h2",
        );
        assert_eq!(moved_post(&moved, &a), Moved::IfSameBody);
        let same = shape("https://ex.org/2024/storm-2", "Storm", storm, "h1");
        assert_eq!(moved_post(&same, &a), Moved::Yes);
        // Short text, another site, another text, a feed item's row: not the same.
        let short = shape("https://ex.org/t/2", "Open thread", "Talk below.", "h3");
        let short_row = shape("https://ex.org/t/1", "Open thread", "Talk below.", "h4");
        assert_eq!(moved_post(&short, &short_row), Moved::No);
        let copy = shape("https://copy.example/storm", "Storm", storm, "h1");
        assert_eq!(moved_post(&copy, &a), Moved::No);
        let other = shape("https://ex.org/b", "Budget", "The budget passed.", "h5");
        assert_eq!(moved_post(&other, &a), Moved::No);
        let item = shape(
            "https://ex.org/feed#item-0123456789abcdef",
            "Storm",
            storm,
            "h1",
        );
        assert_eq!(moved_post(&moved, &item), Moved::No);
        let mut p1 = a.clone();
        p1.post_id = Some("1");
        let mut p2 = moved.clone();
        p2.post_id = Some("2");
        assert_eq!(moved_post(&p2, &p1), Moved::No);
    }

    #[test]
    fn opening_is_cut_on_a_char_boundary() {
        let body = "é".repeat(OPENING_CHARS + 5);
        assert_eq!(opening(&body).chars().count(), OPENING_CHARS);
        assert_eq!(opening("short"), "short");
    }
}
