//! The Blogger extractor: recognises Blogger markup on any host and reads a post page.

use crate::dom::AttrOf;
use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset};
use gleaner_model::{Extractor, ScrapedArticle};
use regex::Regex;
use scraper::{ElementRef, Html, Selector};

use crate::blocks::{SkipRules, element_blocks};
use crate::dom::{
    collapse_ws, first_attr, first_text, has_any_class, html_lang, json_ld_objects, ld_article,
    ld_author, ld_string, meta_content, parse_date, selector, text_of,
};
use crate::regex_literal;
use crate::urls::canonical_blogger_url;

/// What Blogger's page-level data context (`_WidgetManager._SetDataContext`) and feed links
/// say about the page. Every field is optional: third-party templates drop some of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BloggerPageInfo {
    /// The blog id.
    pub blog_id: Option<String>,
    /// The post id (item pages only).
    pub post_id: Option<String>,
    /// `item`, `index`, `archive`, `static_page`, … as the data context says.
    pub page_type: Option<String>,
    /// The blog's title.
    pub blog_title: Option<String>,
    /// The post's title as the data context gives it (`pageName`).
    pub page_name: Option<String>,
    /// The page locale (`en`, `de`, `pt-BR`, …).
    pub locale: Option<String>,
    /// The canonical URL as the data context gives it.
    pub canonical_url: Option<String>,
    /// The blog's home page URL.
    pub homepage_url: Option<String>,
    /// True for a Dynamic Views page (no post content in the HTML).
    pub dynamic_views: bool,
}

static DATA_CONTEXT_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    regex_literal(
        r#"'(blogId|postId|pageType|title|pageName|locale|canonicalUrl|homepageUrl)':\s*'((?:[^'\\]|\\.)*)'"#,
    )
});
static SERVICE_POST: LazyLock<Regex> =
    LazyLock::new(|| regex_literal(r"/feeds/(\d{3,20})/posts/default"));
static COMMENT_FEED: LazyLock<Regex> =
    LazyLock::new(|| regex_literal(r"/feeds/(\d{3,20})/comments/default"));
static POST_BODY_ID: LazyLock<Regex> = LazyLock::new(|| regex_literal(r"^post-body-(\d{3,20})$"));
static TARGET_BLOG_ID: LazyLock<Regex> =
    LazyLock::new(|| regex_literal(r"(?i)(?:targetBlogID|blogID)=(\d{3,20})"));
static DIGITS: LazyLock<Regex> = LazyLock::new(|| regex_literal(r"\d+"));

/// Does this HTML come from Blogger (on any host, custom domains included)?
///
/// True when the page carries any of Blogger's fingerprints: the `generator` meta naming
/// Blogger, assets under `www.blogger.com/static/v1`, the widget manager's data context, or a
/// `rel=service.post` feed link.
pub fn is_blogger_html(html: &str) -> bool {
    if html.contains("www.blogger.com/static/v1") || html.contains("_WidgetManager._SetDataContext")
    {
        return true;
    }
    let doc = crate::limits::parse_document(html);
    is_blogger_doc(&doc)
}

pub(crate) fn is_blogger_doc(doc: &Html) -> bool {
    // One walk over the elements: `<meta name=generator content=blogger>` or
    // `<link rel=service.post>`.
    doc.root_element()
        .descendants()
        .filter_map(ElementRef::wrap)
        .any(|e| {
            let v = e.value();
            match v.name() {
                "meta" => {
                    v.attr_of("name")
                        .is_some_and(|n| n.eq_ignore_ascii_case("generator"))
                        && v.attr_of("content")
                            .is_some_and(|c| c.trim().eq_ignore_ascii_case("blogger"))
                }
                "link" => v
                    .attr_of("rel")
                    .is_some_and(|r| r.eq_ignore_ascii_case("service.post")),
                _ => false,
            }
        })
}

/// Read the ids and page facts from a Blogger page's HTML.
pub fn blogger_page_info(html: &str) -> BloggerPageInfo {
    let doc = crate::limits::parse_document(html);
    page_info(html, &doc)
}

fn unescape_js(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&hex),
                }
            }
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&hex),
                }
            }
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

pub(crate) fn page_info(html: &str, doc: &Html) -> BloggerPageInfo {
    let mut info = BloggerPageInfo::default();
    // The data context: the first occurrence of each key after the marker is the blog's own.
    if let Some(pos) = html.find("_SetDataContext(") {
        let tail = html.get(pos..).unwrap_or_default();
        let window_end = tail
            .char_indices()
            .nth(20_000)
            .map_or(tail.len(), |(i, _)| i);
        let window = tail.get(..window_end).unwrap_or(tail);
        for cap in DATA_CONTEXT_FIELD.captures_iter(window) {
            let (Some(key), Some(val)) = (cap.get(1), cap.get(2)) else {
                continue;
            };
            let val = unescape_js(val.as_str());
            let slot = match key.as_str() {
                "blogId" => &mut info.blog_id,
                "postId" => &mut info.post_id,
                "pageType" => &mut info.page_type,
                "title" => &mut info.blog_title,
                "pageName" => &mut info.page_name,
                "locale" => &mut info.locale,
                "canonicalUrl" => &mut info.canonical_url,
                "homepageUrl" => &mut info.homepage_url,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(val.trim().to_string());
            }
        }
    }
    if info.blog_id.as_deref().is_none_or(str::is_empty) {
        info.blog_id = doc
            .select(selector!("link[rel='service.post'][href]"))
            .filter_map(|l| l.value().attr_of("href"))
            .find_map(|h| first_group(&SERVICE_POST, h))
            .or_else(|| {
                first_attr(
                    doc.root_element(),
                    selector!("meta[itemprop='blogId']"),
                    "content",
                )
            })
            .or_else(|| first_group(&TARGET_BLOG_ID, html));
    }
    let is_list_page = matches!(
        info.page_type.as_deref(),
        Some("index" | "archive" | "search")
    );
    if info.post_id.as_deref().is_none_or(str::is_empty) && !is_list_page {
        info.post_id = first_attr(
            doc.root_element(),
            selector!("meta[itemprop='postId']"),
            "content",
        )
        .or_else(|| {
            doc.select(selector!("link[rel='alternate'][href]"))
                .filter_map(|l| l.value().attr_of("href"))
                .find_map(|h| first_group(&COMMENT_FEED, h))
        })
        .or_else(|| {
            doc.select(selector!("[id^='post-body-']"))
                .filter_map(|e| e.value().attr_of("id"))
                .find_map(|id| first_group(&POST_BODY_ID, id))
        });
    }
    for slot in [
        &mut info.blog_id,
        &mut info.post_id,
        &mut info.page_type,
        &mut info.blog_title,
        &mut info.page_name,
    ] {
        if slot.as_deref().is_some_and(str::is_empty) {
            *slot = None;
        }
    }
    info.dynamic_views = doc
        .select(selector!("meta[name='blogger-template']"))
        .filter_map(|m| m.value().attr_of("content"))
        .any(|c| c.trim().eq_ignore_ascii_case("dynamic"));
    info
}

/// At most this many body or listing candidates are compared (hostile pages stay linear).
const MAX_CANDIDATES: usize = 500;

const POST_SCOPE_CLASSES: &[&str] = &[
    "post",
    "hentry",
    "post-outer",
    "blog-post",
    "item-post",
    "post-wrapper",
];

/// Choose the main post's body element.
fn find_post_body<'a>(doc: &'a Html, post_id: Option<&str>) -> Option<ElementRef<'a>> {
    if let Some(id) = post_id {
        let wanted = format!("post-body-{id}");
        if let Some(el) = doc
            .select(selector!("[id^='post-body-']"))
            .find(|e| e.value().attr_of("id") == Some(&wanted))
        {
            return Some(el);
        }
    }
    let candidates: Vec<ElementRef<'a>> = doc
        .select(selector!(
            ".post-body, .entry-content, .post-entry, .postBody, .post-content"
        ))
        .filter(|e| !in_widget_or_related(*e))
        .take(MAX_CANDIDATES)
        .collect();
    // Outermost matches only (a .post-body inside an .entry-content is the same body).
    let outermost: Vec<ElementRef<'a>> = candidates
        .iter()
        .copied()
        .filter(|e| {
            !candidates
                .iter()
                .any(|o| o.id() != e.id() && e.ancestors().any(|a| a.id() == o.id()))
        })
        .collect();
    // Prefer a real `.post-body`, then the first in document order within the Blog widget.
    outermost
        .iter()
        .copied()
        .find(|e| has_any_class(*e, &["post-body"]))
        .or_else(|| outermost.first().copied())
}

/// Is this element inside a sidebar widget or a related/popular posts block?
fn in_widget_or_related(el: ElementRef<'_>) -> bool {
    el.ancestors().filter_map(ElementRef::wrap).any(|a| {
        a.value().classes().any(|c| {
            matches!(
                c,
                "PopularPosts"
                    | "FeaturedPost"
                    | "related-posts"
                    | "related-post"
                    | "sidebar"
                    | "PageList"
            )
        }) || a
            .value()
            .attr_of("id")
            .is_some_and(|id| id.starts_with("PopularPosts") || id.starts_with("FeaturedPost"))
    })
}

/// The scopes to search for the post's metadata, innermost first.
fn post_scopes<'a>(body: Option<ElementRef<'a>>, doc: &'a Html) -> Vec<ElementRef<'a>> {
    let mut scopes = Vec::new();
    if let Some(body) = body {
        let mut post_like = body
            .ancestors()
            .filter_map(ElementRef::wrap)
            .filter(|a| a.value().name() == "article" || has_any_class(*a, POST_SCOPE_CLASSES));
        if let Some(first) = post_like.next() {
            scopes.push(first);
        }
        if let Some(second) = post_like.next() {
            scopes.push(second);
        }
        if let Some(blog) = body.ancestors().filter_map(ElementRef::wrap).find(|a| {
            a.value().attr_of("id") == Some("Blog1")
                || has_any_class(*a, &["blog-posts", "Blog"])
                || a.value().name() == "main"
        }) {
            scopes.push(blog);
        }
    }
    scopes.push(doc.root_element());
    scopes
}

fn in_scopes<T>(
    scopes: &[ElementRef<'_>],
    mut f: impl FnMut(ElementRef<'_>) -> Option<T>,
) -> Option<T> {
    scopes.iter().find_map(|s| f(*s))
}

fn clean_author(raw: &str) -> Option<String> {
    let s = collapse_ws(raw);
    let lower = s.to_lowercase();
    let mut out = s.as_str();
    for prefix in [
        "posted by",
        "publicado por",
        "eingestellt von",
        "publié par",
        "pubblicato da",
        "geplaatst door",
        "by",
        "por",
        "von",
        "par",
        "da",
    ] {
        if lower.starts_with(prefix)
            && lower
                .get(prefix.len()..)
                .is_some_and(|r| r.starts_with(' ') || r.starts_with(':'))
        {
            out = s
                .get(prefix.len()..)
                .unwrap_or_default()
                .trim_start_matches(':')
                .trim();
            break;
        }
    }
    Some(out.to_string()).filter(|a| !a.is_empty())
}

fn author_from_scope(scope: ElementRef<'_>) -> Option<String> {
    let containers: [&Selector; 5] = [
        selector!(".post-author"),
        selector!(".byline.post-author"),
        selector!(".entry-author"),
        selector!(".post-author-name"),
        selector!("[itemprop='author']"),
    ];
    for sel in containers {
        for el in scope.select(sel) {
            if let Some(fn_name) = first_text(el, selector!(".fn, [itemprop='name']")) {
                return clean_author(&fn_name);
            }
            if let Some(link) = first_text(el, selector!("a")) {
                return clean_author(&link);
            }
            if let Some(a) = clean_author(&text_of(el)) {
                return Some(a);
            }
            if let Some(name) = el.value().attr_of("content").and_then(clean_author) {
                return Some(name);
            }
        }
    }
    None
}

fn labels_from_scope(scope: ElementRef<'_>) -> Vec<String> {
    let sels: [&Selector; 3] = [
        selector!(".post-labels a"),
        selector!(
            ".post-tags a[rel~='tag'], .entry-tags a[rel~='tag'], .Label a.label-link, .labels a[rel~='tag']"
        ),
        selector!("a[rel~='tag']"),
    ];
    for sel in sels {
        let mut labels: Vec<String> = Vec::new();
        for a in scope.select(sel) {
            let t = text_of(a);
            let t = t.trim_end_matches(',').trim().to_string();
            if !t.is_empty() && !labels.contains(&t) {
                labels.push(t);
            }
        }
        if !labels.is_empty() {
            return labels;
        }
    }
    Vec::new()
}

/// Words that say "no comments" in the languages Blogger is localised to (lower case).
const NO_COMMENT_WORDS: &[&str] = &[
    "no comment",
    "keine kommentare",
    "sin comentarios",
    "no hay comentarios",
    "aucun commentaire",
    "pas de commentaire",
    "nessun commento",
    "geen reacties",
    "geen opmerkingen",
    "brak komentarzy",
    "nenhum comentário",
    "sem comentários",
    "ingen kommentarer",
    "ei kommentteja",
    "nincs megjegyzés",
    "žádné komentáře",
    "нет комментариев",
    "немає коментарів",
    "yorum yok",
    "tidak ada komentar",
    "δεν υπάρχουν σχόλια",
    "コメントはありません",
    "没有评论",
    "沒有留言",
    "댓글 없음",
    "sense comentaris",
    "nu există comentarii",
];

/// Read a comment count out of a classic comments header such as "2 comentarios:".
pub(crate) fn parse_comment_header(text: &str) -> Option<u32> {
    let t = collapse_ws(text).to_lowercase();
    if t.is_empty() {
        return None;
    }
    if let Some(m) = DIGITS.find(&t) {
        return m.as_str().parse().ok();
    }
    if NO_COMMENT_WORDS.iter().any(|w| t.contains(w)) {
        return Some(0);
    }
    // "N comments:" headers always end with a colon; without a digit it says "none".
    if t.ends_with(':') {
        return Some(0);
    }
    None
}

fn comment_count(doc: &Html) -> Option<u32> {
    if let Some(n) = first_attr(
        doc.root_element(),
        selector!("#comments[data-num-comments], .comments[data-num-comments]"),
        "data-num-comments",
    )
    .and_then(|v| v.parse::<u32>().ok())
    {
        return Some(n);
    }
    // A header with a number says it; one without ("Kommentare:", "No comments") says none
    // unless comments are on the page: threaded comments are items with ids `c<digits>`.
    let mut header_none = false;
    for h in doc.select(selector!("#comments > h4, .comments > h4, #comments h4")) {
        if h.value().attr_of("id") == Some("comment-post-message") {
            continue;
        }
        let text = text_of(h);
        match parse_comment_header(&text) {
            Some(0) => {
                header_none = true;
                break;
            }
            Some(n) => return Some(n),
            None => {}
        }
    }
    let items = comment_items(doc);
    if items > 0 {
        return Some(items);
    }
    header_none.then_some(0)
}

/// Comments on the page: elements with ids `c<digits>` (Blogger's comment items, threaded
/// and classic) inside the comments section, each id counted once.
fn comment_items(doc: &Html) -> u32 {
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for section in doc
        .select(selector!(
            "#comments, .comments, .comment-thread, #comment-holder"
        ))
        .take(64)
    {
        for el in section.descendants().filter_map(ElementRef::wrap) {
            if let Some(id) = el.value().attr_of("id")
                && id.len() > 1
                && id.starts_with('c')
                && id.bytes().skip(1).all(|b| b.is_ascii_digit())
            {
                seen.insert(id);
            }
        }
        if !seen.is_empty() {
            break;
        }
    }
    u32::try_from(seen.len()).unwrap_or(u32::MAX)
}

/// Google's blog template puts the post's HTML inside the body element twice, in a
/// `<script type="text/template">` and in a `<noscript>`, both raw text to an HTML parser.
/// Read the first copy with text (one copy only).
fn script_copy_blocks(body: ElementRef<'_>) -> Vec<crate::TextBlock> {
    for el in body
        .select(selector!("script[type], noscript"))
        .filter(|e| {
            e.value().name() == "noscript"
                || e.value()
                    .attr_of("type")
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/template"))
        })
        .take(16)
    {
        let raw: String = el.text().collect();
        let frag = crate::limits::parse_fragment(&raw);
        let blocks = element_blocks(frag.root_element(), SkipRules::PostBody);
        if !blocks.is_empty() {
            return blocks;
        }
    }
    Vec::new()
}

/// Some themes (Google's corporate one) render the body from a script template and keep a
/// copy in `<noscript>`, which an HTML parser reads as raw text. Parse that copy.
fn noscript_body_blocks(doc: &Html) -> Vec<crate::TextBlock> {
    for ns in doc.select(selector!("noscript")) {
        let raw: String = ns.text().collect();
        if !(raw.contains("post-body") || raw.contains("post-content") || raw.contains("<p")) {
            continue;
        }
        let frag = crate::limits::parse_fragment(&raw);
        let root = frag.root_element();
        let target = find_post_body(&frag, None).unwrap_or(root);
        let blocks = element_blocks(target, SkipRules::PostBody);
        if blocks.iter().map(|b| b.text.len()).sum::<usize>() > 100 {
            return blocks;
        }
    }
    Vec::new()
}

/// The page's canonical URL: an absolute `<link rel=canonical>`, else the data context's
/// `canonicalUrl` (saved copies of pages often rewrite links to relative ones), else a
/// relative canonical link resolved against `url`, else `url`; then Blogger's URL rules.
fn canonical_for(doc: &Html, info: &BloggerPageInfo, url: &str) -> String {
    let link = doc
        .select(selector!("link[rel='canonical'][href]"))
        .filter_map(|l| l.value().attr_of("href"))
        .map(str::trim)
        .find(|h| !h.is_empty());
    let absolute = |s: &str| url::Url::parse(s).is_ok_and(|u| u.has_host());
    let chosen = match link {
        Some(h) if absolute(h) => h.to_string(),
        _ => match info.canonical_url.as_deref().filter(|c| absolute(c)) {
            Some(c) => c.to_string(),
            None => link
                .and_then(|h| url::Url::parse(url).ok().and_then(|base| base.join(h).ok()))
                .map_or_else(|| url.to_string(), |u| u.to_string()),
        },
    };
    canonical_blogger_url(&chosen)
}

/// Extract a Blogger page. `doc` is the parsed `html`.
pub(crate) fn extract_blogger(html: &str, doc: &Html, url: &str) -> ScrapedArticle {
    let info = page_info(html, doc);
    let ld_objects = json_ld_objects(doc);
    let ld = ld_article(&ld_objects);
    let body = if info.dynamic_views {
        None
    } else {
        find_post_body(doc, info.post_id.as_deref())
    };
    let scopes = post_scopes(body, doc);
    let main_scopes: &[ElementRef<'_>] = scopes
        .get(..scopes.len().saturating_sub(1))
        .unwrap_or_default();

    let mut title = in_scopes(main_scopes, |s| {
        first_text(
            s,
            selector!(".post-title, .entry-title, h1.title, h2.title, [itemprop='headline']"),
        )
    })
    .or_else(|| {
        info.page_name
            .clone()
            .map(|n| collapse_ws(&n))
            .filter(|n| !n.is_empty())
    })
    .or_else(|| ld.and_then(|o| ld_string(o, "headline")))
    .or_else(|| meta_content(doc, "og:title"));

    let published_at = in_scopes(main_scopes, |s| {
        first_attr(
            s,
            selector!("abbr.published[title], .published[title]"),
            "title",
        )
        .or_else(|| {
            first_attr(
                s,
                selector!("time.published[datetime], time[itemprop='datePublished'][datetime]"),
                "datetime",
            )
        })
        .or_else(|| {
            first_attr(
                s,
                selector!("[itemprop='datePublished'][content]"),
                "content",
            )
        })
        .and_then(|d| parse_date(&d))
    })
    .or_else(|| {
        ld.and_then(|o| ld_string(o, "datePublished"))
            .and_then(|d| parse_date(&d))
    })
    .or_else(|| {
        first_attr(
            doc.root_element(),
            selector!("abbr.published[title]"),
            "title",
        )
        .and_then(|d| parse_date(&d))
    })
    .or_else(|| {
        first_attr(
            doc.root_element(),
            selector!("time.published[datetime]"),
            "datetime",
        )
        .and_then(|d| parse_date(&d))
    })
    .or_else(|| meta_content(doc, "article:published_time").and_then(|d| parse_date(&d)))
    .or_else(|| {
        // Last resort: the date as the page shows it ("jueves, 13 de enero de 2011").
        in_scopes(&scopes, |s| {
            crate::dates::visible_date_under(
                s,
                selector!(
                    ".date-header, abbr.published, .published, time, .post-timestamp, .timestamp-link"
                ),
                |_| false,
            )
        })
    });

    let updated_at = ld
        .and_then(|o| ld_string(o, "dateModified"))
        .and_then(|d| parse_date(&d))
        .or_else(|| {
            in_scopes(main_scopes, |s| {
                first_attr(s, selector!("abbr.updated[title]"), "title")
                    .or_else(|| first_attr(s, selector!("time.updated[datetime]"), "datetime"))
                    .and_then(|d| parse_date(&d))
            })
        });

    let author = in_scopes(main_scopes, author_from_scope)
        .or_else(|| ld.and_then(ld_author))
        .or_else(|| author_from_scope(doc.root_element()));

    let labels = in_scopes(main_scopes, |s| {
        Some(labels_from_scope(s)).filter(|l| !l.is_empty())
    })
    .unwrap_or_default();

    let blocks = match body {
        Some(b) => {
            let blocks = element_blocks(b, SkipRules::PostBody);
            if blocks.is_empty() {
                script_copy_blocks(b)
            } else {
                blocks
            }
        }
        None if !info.dynamic_views => {
            let from_noscript = noscript_body_blocks(doc);
            if from_noscript.is_empty() {
                // A third-party template without Blogger's body classes: score the page. Its
                // first heading is the post title when nothing else named one.
                let stats = crate::stats::DocStats::of_body(doc);
                let mut scored: Vec<crate::TextBlock> = crate::generic::main_content(doc, &stats)
                    .into_iter()
                    .flat_map(|el| {
                        crate::blocks::element_blocks_with(el, SkipRules::Generic, Some(&stats))
                    })
                    .collect();
                if title.is_none()
                    && scored
                        .first()
                        .is_some_and(|b| b.kind == gleaner_model::BlockKind::Heading)
                {
                    title = Some(collapse_ws(&scored.remove(0).text));
                }
                crate::generic::tidy_blocks(scored, title.as_deref())
            } else {
                from_noscript
            }
        }
        None => Vec::new(),
    };

    let canonical = canonical_for(doc, &info, url);

    let current = ld.is_some()
        || doc.select(selector!("time.published")).next().is_some()
        || doc
            .select(selector!("body[class]"))
            .filter_map(|b| b.value().attr_of("class"))
            .any(|c| c.contains("item-view") || c.contains("version-1-"));

    ScrapedArticle {
        url: url.to_string(),
        canonical_url: Some(canonical),
        title,
        site_name: info
            .blog_title
            .clone()
            .or_else(|| meta_content(doc, "og:site_name")),
        author,
        published_at,
        updated_at,
        labels,
        comments_count: comment_count(doc),
        blogger_post_id: info.post_id.clone(),
        blog_id: info.blog_id.clone(),
        language_hint: html_lang(doc).or_else(|| info.locale.clone()),
        blocks,
        extractor: Some(if current {
            Extractor::BloggerCurrent
        } else {
            Extractor::BloggerClassic
        }),
    }
}

/// One post as a Blogger index page (home, label, archive or search results) lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexedPost {
    /// The post's page URL, absolute (resolved against the index page's URL).
    pub url: Option<String>,
    /// The title as listed; `Some("")` is never given: an untitled post has `None`.
    pub title: Option<String>,
    /// When the post was published, with the page's offset.
    pub published_at: Option<DateTime<FixedOffset>>,
    /// The comment count the listing shows; `None` when it shows none.
    pub comments_count: Option<u32>,
    /// Blogger's post id, when the listing carries it.
    pub post_id: Option<String>,
}

static ANCHOR_NAME_ID: LazyLock<Regex> = LazyLock::new(|| regex_literal(r"^\d{6,20}$"));

/// Every post an index page lists, in page order: the Blog widget's posts (several may share
/// one date header) and the FeaturedPost widget's, without duplicates. Sidebar widgets
/// (popular posts, archive, labels) are not listings of this page and are left out. Works on
/// any page; a post page gives its one post.
pub fn extract_index(html: &str, url: &str) -> Vec<IndexedPost> {
    let doc = crate::limits::parse_document(html);
    let base = url::Url::parse(url).ok();
    let resolve = |href: &str| -> String {
        match base.as_ref().and_then(|b| b.join(href.trim()).ok()) {
            Some(u) => u.to_string(),
            None => href.trim().to_string(),
        }
    };
    let in_listing = |el: ElementRef<'_>| {
        el.ancestors().filter_map(ElementRef::wrap).any(|a| {
            has_any_class(a, &["Blog", "FeaturedPost", "blog-posts"])
                || a.value()
                    .attr_of("id")
                    .is_some_and(|id| id.starts_with("Blog") || id.starts_with("FeaturedPost"))
        })
    };
    let matched: Vec<ElementRef<'_>> = doc
        .select(selector!(".post, .hentry, .blog-post"))
        .filter(|e| in_listing(*e))
        .take(MAX_CANDIDATES)
        .collect();
    let mut posts: Vec<IndexedPost> = Vec::new();
    for el in matched.iter().copied() {
        if el
            .ancestors()
            .any(|a| matched.iter().any(|m| m.id() == a.id()))
        {
            continue;
        }
        let post_id = first_attr(el, selector!("meta[itemprop='postId']"), "content")
            .or_else(|| {
                el.select(selector!("a[name]"))
                    .filter_map(|a| a.value().attr_of("name"))
                    .find(|n| ANCHOR_NAME_ID.is_match(n))
                    .map(str::to_string)
            })
            .or_else(|| {
                el.select(selector!("[id^='post-body-']"))
                    .filter_map(|e| e.value().attr_of("id"))
                    .find_map(|id| first_group(&POST_BODY_ID, id))
            })
            .or_else(|| el.value().attr_of("data-id").map(str::to_string));
        let title = first_text(el, selector!(".post-title, .entry-title"));
        let url = first_attr(
            el,
            selector!(".post-title a[href], .entry-title a[href]"),
            "href",
        )
        .or_else(|| {
            first_attr(
                el,
                selector!(".post-timestamp meta[itemprop='url']"),
                "content",
            )
        })
        .or_else(|| {
            first_attr(
                el,
                selector!("a.timestamp-link[href], a[rel~='bookmark'][href]"),
                "href",
            )
        })
        .map(|h| resolve(&h));
        let published_at = first_attr(
            el,
            selector!("abbr.published[title], .published[title]"),
            "title",
        )
        .or_else(|| {
            first_attr(
                el,
                selector!("time.published[datetime], time[datetime]"),
                "datetime",
            )
        })
        .or_else(|| {
            first_attr(
                el,
                selector!("[itemprop='datePublished'][content]"),
                "content",
            )
        })
        .and_then(|d| parse_date(&d));
        let comments_count = first_attr(el, selector!("[data-num-comments]"), "data-num-comments")
            .and_then(|n| n.trim().parse().ok())
            .or_else(|| {
                el.select(selector!(
                    "a.comment-link, span.num_comments, .comment-bubble"
                ))
                .find_map(|c| parse_comment_header(&text_of(c)))
            });
        let post = IndexedPost {
            url,
            title,
            published_at,
            comments_count,
            post_id,
        };
        if post.url.is_none() && post.post_id.is_none() && post.title.is_none() {
            continue;
        }
        let duplicate = posts.iter().any(|p| {
            (p.url.is_some() && p.url == post.url)
                || (p.post_id.is_some() && p.post_id == post.post_id)
        });
        if !duplicate {
            posts.push(post);
        }
    }
    posts
}

/// The first capture group of `re` in `text`, owned.
fn first_group(re: &regex::Regex, text: &str) -> Option<String> {
    re.captures(text)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_headers_in_several_languages() {
        assert_eq!(parse_comment_header("No comments:"), Some(0));
        assert_eq!(parse_comment_header("2 comentarios:"), Some(2));
        assert_eq!(parse_comment_header("Keine Kommentare:"), Some(0));
        assert_eq!(parse_comment_header("1 Kommentar:"), Some(1));
        assert_eq!(parse_comment_header("Aucun commentaire:"), Some(0));
        assert_eq!(parse_comment_header("Comments"), None);
        assert_eq!(parse_comment_header(""), None);
    }

    #[test]
    fn js_escapes_in_the_data_context_are_decoded() {
        assert_eq!(
            unescape_js(r"Julia\x27s \u00fcber \'x\'"),
            "Julia's über 'x'"
        );
    }

    #[test]
    fn authors_lose_their_posted_by() {
        assert_eq!(
            clean_author(" Posted by  Jane Doe ").as_deref(),
            Some("Jane Doe")
        );
        assert_eq!(clean_author("by Mo").as_deref(), Some("Mo"));
        assert_eq!(clean_author("Bylund").as_deref(), Some("Bylund"));
    }
}
