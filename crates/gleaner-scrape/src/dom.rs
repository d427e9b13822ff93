//! Small helpers over `scraper`'s DOM: selectors, text, metadata tags, JSON-LD, dates.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use scraper::{ElementRef, Html, Selector};
use serde_json::Value;

/// Parse a selector literal written in this crate. These are constants, never input, and
/// every one is exercised by the tests, so the `expect` cannot fire at run time.
#[allow(clippy::expect_used)]
pub(crate) fn sel(css: &str) -> Selector {
    Selector::parse(css).expect("selector literals in gleaner-scrape are valid CSS")
}

/// Attribute lookup by name, as `scraper`'s `Element::attr` answers it (an attribute in no
/// namespace, without prefix), without turning the name into an interned `LocalName` first:
/// that hashed the name (and took a lock for a name outside html5ever's static set) on every
/// call, and the walks here ask every element of a subtree for an attribute or three (a
/// tenth of scraping a Blogger post). An element has a handful of attributes, each name
/// at most once: a linear look is as exact as `attr`'s binary search.
pub(crate) trait AttrOf {
    fn attr_of(&self, name: &str) -> Option<&str>;
}

impl AttrOf for scraper::node::Element {
    fn attr_of(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(q, _)| &*q.local == name && q.prefix.is_none() && q.ns.is_empty())
            .map(|(_, v)| &**v)
    }
}

/// A lazily parsed selector.
macro_rules! selector {
    ($css:expr) => {{
        static S: std::sync::LazyLock<scraper::Selector> =
            std::sync::LazyLock::new(|| $crate::dom::sel($css));
        &*S
    }};
}
pub(crate) use selector;

/// Collapse every run of whitespace (including no-break spaces) into one space and trim.
pub(crate) fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for ch in s.chars() {
        if ch.is_whitespace() || ch == '\u{200b}' || ch == '\u{feff}' {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(ch);
        }
    }
    out
}

/// The collapsed text of an element, skipping `script`, `style`, `noscript` and `template`.
pub(crate) fn text_of(el: ElementRef<'_>) -> String {
    collapse_ws(&text_skipping(el, |name| {
        matches!(name, "script" | "style" | "noscript" | "template")
    }))
}

/// The text of an element as it is (white space kept), without the text of `script` and
/// `style` elements: what a reader of the page sees of a `<pre>`. The parser may get pages
/// with those contents cut out already ([`crate::rawtext`]); this reads the same either way.
pub(crate) fn text_without_scripts(el: ElementRef<'_>) -> String {
    text_skipping(el, |name| matches!(name, "script" | "style"))
}

/// The text of an element's subtree in document order, leaving out the subtrees of elements
/// whose name `skip` holds. Depth-first with an explicit stack: no recursion, one visit per
/// node.
fn text_skipping(el: ElementRef<'_>, skip: impl Fn(&str) -> bool) -> String {
    let mut buf = String::new();
    let mut stack: Vec<_> = el.children().collect();
    stack.reverse();
    while let Some(node) = stack.pop() {
        if let Some(t) = node.value().as_text() {
            buf.push_str(t);
        } else if let Some(e) = node.value().as_element() {
            if skip(e.name()) {
                continue;
            }
            let start = stack.len();
            stack.extend(node.children());
            if let Some(added) = stack.get_mut(start..) {
                added.reverse();
            }
        }
    }
    buf
}

/// The collapsed text of the first match of `selector` under `scope` that has any text.
pub(crate) fn first_text(scope: ElementRef<'_>, selector: &Selector) -> Option<String> {
    scope.select(selector).map(text_of).find(|t| !t.is_empty())
}

/// The first non-empty value of attribute `attr` on a match of `selector`.
///
/// The same walk as `scope.select(selector)` (the scope's descendants in document order,
/// matched with the scope as `:scope`), but an element is matched only when it has a
/// non-empty `attr`: few do, and matching a selector costs far more than looking at an
/// element's attributes (these walks were an eighth of Blogger scraping).
pub(crate) fn first_attr(scope: ElementRef<'_>, selector: &Selector, attr: &str) -> Option<String> {
    let mut walk = scope.traverse();
    walk.next(); // the scope itself, as `select` skips it
    walk.filter_map(|edge| match edge {
        ego_tree::iter::Edge::Open(node) => ElementRef::wrap(node),
        ego_tree::iter::Edge::Close(_) => None,
    })
    .find_map(|e| {
        let value = e.value().attr_of(attr)?.trim();
        (!value.is_empty() && selector.matches_with_scope(&e, Some(scope)))
            .then(|| value.to_string())
    })
}

/// The page's `<meta content>` tags, collected in one walk so that looking up many keys
/// does not walk the document once per key.
pub(crate) struct MetaTags<'a> {
    tags: Vec<ElementRef<'a>>,
}

impl<'a> MetaTags<'a> {
    pub(crate) fn of(doc: &'a Html) -> Self {
        MetaTags {
            tags: doc.select(selector!("meta[content]")).collect(),
        }
    }

    /// `content` of `<meta property=…>`, `<meta name=…>` or `<meta itemprop=…>`
    /// (case-insensitive key): the first non-empty one.
    pub(crate) fn content(&self, key: &str) -> Option<String> {
        self.tags
            .iter()
            .filter(|m| {
                let v = m.value();
                v.attr_of("property")
                    .or_else(|| v.attr_of("name"))
                    .or_else(|| v.attr_of("itemprop"))
                    .is_some_and(|k| k.trim().eq_ignore_ascii_case(key))
            })
            .filter_map(|m| m.value().attr_of("content"))
            .map(collapse_ws)
            .find(|v| !v.is_empty())
    }

    /// All non-empty `content`s of `<meta property=…>` or `<meta name=…>` tags named `key`, in
    /// page order.
    pub(crate) fn contents(&self, key: &str) -> Vec<String> {
        self.tags
            .iter()
            .filter(|m| {
                let v = m.value();
                v.attr_of("property")
                    .or_else(|| v.attr_of("name"))
                    .is_some_and(|k| k.trim().eq_ignore_ascii_case(key))
            })
            .filter_map(|m| m.value().attr_of("content"))
            .map(collapse_ws)
            .filter(|v| !v.is_empty())
            .collect()
    }
}

/// `content` of `<meta property=…>` or `<meta name=…>` (case-insensitive key).
pub(crate) fn meta_content(doc: &Html, key: &str) -> Option<String> {
    MetaTags::of(doc).content(key)
}

/// Every JSON-LD object in the page, flattened (`@graph` and top-level arrays unrolled).
pub(crate) fn json_ld_objects(doc: &Html) -> Vec<Value> {
    let mut out = Vec::new();
    for script in doc.select(selector!("script[type]")) {
        let ty = script.value().attr_of("type").unwrap_or_default();
        if !ty.trim().eq_ignore_ascii_case("application/ld+json") {
            continue;
        }
        let raw: String = script.text().collect();
        let Ok(value) = serde_json::from_str::<Value>(raw.trim()) else {
            continue;
        };
        flatten_ld(value, &mut out, 0);
    }
    out
}

fn flatten_ld(value: Value, out: &mut Vec<Value>, depth: usize) {
    if depth > 8 {
        return;
    }
    match value {
        Value::Array(items) => {
            for item in items {
                flatten_ld(item, out, depth + 1);
            }
        }
        Value::Object(mut map) => {
            if let Some(graph) = map.remove("@graph") {
                flatten_ld(graph, out, depth + 1);
            }
            out.push(Value::Object(map));
        }
        _ => {}
    }
}

/// The `@type`s of a JSON-LD object.
pub(crate) fn ld_types(obj: &Value) -> Vec<String> {
    match obj.get("@type") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// The JSON-LD object describing the article, if any.
pub(crate) fn ld_article(objects: &[Value]) -> Option<&Value> {
    const ARTICLE_TYPES: [&str; 9] = [
        "BlogPosting",
        "NewsArticle",
        "Article",
        "ReportageNewsArticle",
        "AnalysisNewsArticle",
        "OpinionNewsArticle",
        "TechArticle",
        "ScholarlyArticle",
        "SocialMediaPosting",
    ];
    objects.iter().find(|o| {
        ld_types(o)
            .iter()
            .any(|t| ARTICLE_TYPES.contains(&t.as_str()))
    })
}

/// A string field of a JSON-LD object (or the `name` of an object field, or the first of a list).
pub(crate) fn ld_string(obj: &Value, key: &str) -> Option<String> {
    ld_value_string(obj.get(key)?)
}

fn ld_value_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(collapse_ws(s)).filter(|s| !s.is_empty()),
        Value::Object(o) => o.get("name").and_then(ld_value_string),
        Value::Array(a) => a.iter().find_map(ld_value_string),
        _ => None,
    }
}

/// The author name(s) of a JSON-LD article, joined with ", ".
pub(crate) fn ld_author(obj: &Value) -> Option<String> {
    let names: Vec<String> = match obj.get("author")? {
        Value::Array(a) => a.iter().filter_map(ld_value_string).collect(),
        v => ld_value_string(v).into_iter().collect(),
    };
    let names: Vec<String> = names.into_iter().filter(|n| !looks_like_url(n)).collect();
    if names.is_empty() {
        None
    } else {
        Some(names.join(", "))
    }
}

pub(crate) fn looks_like_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://") || s.starts_with("//")
}

/// Parse a machine-readable date: RFC 3339 (any fraction), ISO without colon in the offset,
/// or a naive date/time (taken as UTC).
pub(crate) fn parse_date(raw: &str) -> Option<DateTime<FixedOffset>> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t);
    }
    // W3C datetime allows minutes without seconds and a `Z`: `2024-01-02T03:04Z`.
    if let Some(stripped) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z'))
        && stripped.len() == 16
        && let Ok(t) = DateTime::parse_from_str(&format!("{stripped}+0000"), "%Y-%m-%dT%H:%M%z")
    {
        return Some(t);
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t);
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return Some(t);
    }
    let utc = FixedOffset::east_opt(0)?;
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return t.and_local_timezone(utc).single();
        }
    }
    let date_part = s.get(..10).unwrap_or(s);
    if let Ok(d) = NaiveDate::parse_from_str(date_part, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0)?.and_local_timezone(utc).single();
    }
    None
}

/// `<html lang>` (first subtag kept as given, e.g. `en-GB`).
pub(crate) fn html_lang(doc: &Html) -> Option<String> {
    doc.select(selector!("html[lang]"))
        .filter_map(|h| h.value().attr_of("lang"))
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

/// Does `el` have any of these classes?
pub(crate) fn has_any_class(el: ElementRef<'_>, classes: &[&str]) -> bool {
    el.value().classes().any(|c| classes.contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_of_answers_as_attr_does() {
        let doc = Html::parse_document(
            r##"<html lang="en"><body><div id="a" class="x y" data-x="1" style="display:none">
            <svg xmlns:xlink="http://www.w3.org/1999/xlink"><a xlink:href="#s" href="h" xlink:title="t"></a>
            <image xlink:href="i.png"/></svg><math><mi definitionURL="u">x</mi></math>
            <p ID="up" hidden aria-hidden="true" title="">t</p><meta name="n" content="c"></div></body></html>"##,
        );
        let names = [
            "id",
            "class",
            "data-x",
            "style",
            "href",
            "title",
            "xlink:href",
            "definitionurl",
            "definitionURL",
            "hidden",
            "aria-hidden",
            "name",
            "content",
            "lang",
            "xmlns:xlink",
            "",
            "missing",
        ];
        for el in doc
            .root_element()
            .descendants()
            .filter_map(ElementRef::wrap)
        {
            for name in names {
                assert_eq!(el.value().attr_of(name), el.value().attr(name), "{name}");
            }
        }
    }

    #[test]
    fn collapse_ws_trims_and_joins() {
        assert_eq!(collapse_ws("  a\n\t b\u{a0} c  "), "a b c");
        assert_eq!(collapse_ws(""), "");
    }

    #[test]
    fn dates_parse_with_offset_kept() {
        let t = parse_date("2018-09-14T15:20:00.001+02:00").unwrap();
        assert_eq!(t.offset().local_minus_utc(), 7200);
        assert!(parse_date("2020-09-28T13:43:00-0700").is_some());
        assert!(parse_date("Sat, 12 Oct 2013 09:04:00 +0000").is_some());
        assert!(parse_date("2020-01-02").is_some());
        assert!(parse_date("yesterday").is_none());
    }
}
