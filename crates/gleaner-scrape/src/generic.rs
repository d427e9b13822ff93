//! The generic extractor, for pages that are not Blogger's.
//!
//! Metadata comes in layers: JSON-LD (`Article`, `NewsArticle`, `BlogPosting`, …), then
//! OpenGraph / `article:*` properties, then plain meta tags and the document title. The body
//! is found by content scoring: every paragraph-like element scores by its length and commas
//! and passes the score to its parent and grandparent; candidates are weighted by class/id
//! hints and penalised by link density; the best one is split into blocks with boilerplate
//! (navigation-like lists, share/comment/related widgets) left out.

use std::sync::LazyLock;

use gleaner_model::{BlockKind, Extractor, ScrapedArticle, TextBlock};
use regex::Regex;
use scraper::{ElementRef, Html};

use crate::blocks::{SkipRules, element_blocks_with};
use crate::dom::{
    MetaTags, collapse_ws, first_text, html_lang, json_ld_objects, ld_article, ld_author,
    ld_string, looks_like_url, parse_date, selector, text_of,
};
use crate::regex_literal;
use crate::stats::{DocStats, IdMap};

static POSITIVE: LazyLock<Regex> = LazyLock::new(|| {
    regex_literal(
        r"(?i)article|body|content|entry|hentry|h-entry|main|page|pagination|post|text|blog|story|prose",
    )
});
static NEGATIVE: LazyLock<Regex> = LazyLock::new(|| {
    regex_literal(
        r"(?i)hidden|banner|combx|comment|com-|contact|foot|footer|footnote|masthead|media|meta|outbrain|promo|related|scroll|share|shoutbox|sidebar|skyscraper|sponsor|shopping|tags|tool|widget|nav|menu|subscribe|newsletter|cookie|popup|modal|social|advert|breadcrumb",
    )
});

/// Class/id tokens that mark a region as not the article, whatever else it holds: a token
/// that *starts* with one of these words (`comment`, `comment_content`, `sidebar-widget`), not
/// one that merely contains it (`l-sidebar-fixed` is a layout holding the article).
static STRONG_NEGATIVE: LazyLock<Regex> = LazyLock::new(|| {
    regex_literal(
        r"(?i)^(comments?|commentlist|disqus|sidebar|footer|related|recommended|outbrain|taboola|newsletter)([-_]|$)",
    )
});

/// Is `p` inside a comment thread, sidebar, footer or related block (looking a few levels up)?
/// `seen` keeps the answer per ancestor: sibling paragraphs share them.
fn in_strong_negative(p: ElementRef<'_>, seen: &mut IdMap<bool>) -> bool {
    p.ancestors().filter_map(ElementRef::wrap).take(4).any(|a| {
        *seen.entry(a.id()).or_insert_with(|| {
            !matches!(a.value().name(), "body" | "html")
                && [a.value().attr("class"), a.value().attr("id")]
                    .into_iter()
                    .flatten()
                    .flat_map(str::split_whitespace)
                    .any(|token| STRONG_NEGATIVE.is_match(token))
        })
    })
}

/// Is `el` in a sidebar, footer, navigation, comment thread, related-posts block or an
/// embedded social feed (where dates belong to other posts)?
fn in_page_furniture(el: ElementRef<'_>) -> bool {
    std::iter::once(el)
        .chain(el.ancestors().filter_map(ElementRef::wrap))
        .any(|a| {
            let v = a.value();
            matches!(v.name(), "nav" | "aside" | "footer")
                || [v.attr("class"), v.attr("id")]
                    .into_iter()
                    .flatten()
                    .flat_map(str::split_whitespace)
                    .any(|token| STRONG_NEGATIVE.is_match(token) || FURNITURE_TOKEN.is_match(token))
        })
}

static FURNITURE_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    regex_literal(r"(?i)tweet|twitter|widget|sidebar|comment|related|recommend|trending|popular")
});

fn class_weight(el: ElementRef<'_>) -> f64 {
    let mut w = 0.0;
    for hint in [el.value().attr("class"), el.value().attr("id")]
        .into_iter()
        .flatten()
    {
        if NEGATIVE.is_match(hint) {
            w -= 25.0;
        }
        if POSITIVE.is_match(hint) {
            w += 25.0;
        }
    }
    w
}

fn tag_weight(name: &str) -> f64 {
    match name {
        "article" => 10.0,
        "div" | "main" | "section" => 5.0,
        "pre" | "td" | "blockquote" => 3.0,
        "address" | "ol" | "ul" | "dl" | "dd" | "dt" | "li" | "form" => -3.0,
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "th" => -5.0,
        _ => 0.0,
    }
}

fn excluded_region(el: ElementRef<'_>) -> bool {
    el.ancestors().filter_map(ElementRef::wrap).any(|a| {
        matches!(
            a.value().name(),
            "nav" | "footer" | "aside" | "header" | "script" | "style" | "noscript" | "template"
        )
    })
}

/// The element holding the page's main content, by scoring. `stats` are the document's
/// ([`DocStats::of`] over the root element): every number the scoring needs is read from
/// them, so the pass is linear in the size of the page.
pub(crate) fn main_content<'a>(doc: &'a Html, stats: &DocStats) -> Vec<ElementRef<'a>> {
    let link_density = |el: ElementRef<'_>| match stats.get(el) {
        Some(s) => s.link_density(),
        None => crate::blocks::link_density(el),
    };
    let mut scores: IdMap<(ElementRef<'_>, f64)> = IdMap::default();
    let mut strong_negative: IdMap<bool> = IdMap::default();
    // Every `p, pre, td, blockquote, div, section, article`, by name (no selector machinery).
    let paragraphs = doc
        .root_element()
        .descendants()
        .filter_map(ElementRef::wrap);
    for p in paragraphs {
        let name = p.value().name();
        if !matches!(
            name,
            "p" | "pre" | "td" | "blockquote" | "div" | "section" | "article"
        ) {
            continue;
        }
        if matches!(name, "div" | "section" | "article" | "td") {
            // Only text-holding containers count as paragraphs: no block children.
            let has_block_child = p.children().filter_map(ElementRef::wrap).any(|c| {
                matches!(
                    c.value().name(),
                    "p" | "div"
                        | "section"
                        | "article"
                        | "table"
                        | "ul"
                        | "ol"
                        | "pre"
                        | "blockquote"
                        | "h1"
                        | "h2"
                        | "h3"
                )
            });
            if has_block_child {
                continue;
            }
        }
        let (len, commas, excluded) = match stats.get(p) {
            Some(s) => (s.visible_len(), s.commas, s.in_excluded_region),
            None => {
                let text = text_of(p);
                (
                    text.chars().count(),
                    text.matches([',', '，', '、', '،']).count(),
                    excluded_region(p),
                )
            }
        };
        if len < 25 || excluded || in_strong_negative(p, &mut strong_negative) {
            continue;
        }
        let score = 1.0 + commas as f64 + (len as f64 / 100.0).min(3.0);
        for (level, anc) in p
            .ancestors()
            .filter_map(ElementRef::wrap)
            .take(3)
            .enumerate()
        {
            if matches!(anc.value().name(), "html" | "body") {
                break;
            }
            let entry = scores
                .entry(anc.id())
                .or_insert_with(|| (anc, tag_weight(anc.value().name()) + class_weight(anc)));
            let divider = match level {
                0 => 1.0,
                1 => 2.0,
                _ => 3.0,
            };
            entry.1 += score / divider;
        }
    }
    let mut best: Option<(ElementRef<'_>, f64)> = None;
    for (el, score) in scores.values() {
        let final_score = score * (1.0 - link_density(*el));
        let better = match best {
            None => true,
            Some((b, bs)) => final_score > bs || (final_score == bs && el.id() < b.id()),
        };
        if better {
            best = Some((*el, final_score));
        }
    }
    let Some((top, _)) = best else {
        return Vec::new();
    };
    // The article may be split into chunks that share the top block's tag and class (one
    // per section, ads and promos between): take every such chunk that reads as text.
    let top_class = top
        .value()
        .attr("class")
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let mut chosen: Vec<ElementRef<'_>> = vec![top];
    if let Some(class) = top_class {
        for (el, score) in scores.values() {
            if el.id() == top.id()
                || el.value().name() != top.value().name()
                || el.value().attr("class").map(str::trim) != Some(class)
                || *score <= 0.0
                || link_density(*el) > 0.3
            {
                continue;
            }
            chosen.push(*el);
        }
    }
    // Outermost only, in document order.
    let all = chosen.clone();
    chosen.retain(|e| !e.ancestors().any(|a| all.iter().any(|o| o.id() == a.id())));
    chosen.sort_by_key(|e| e.id());
    chosen
}

/// Lone words that label page furniture, not article text.
const FURNITURE: &[&str] = &[
    "advertisement",
    "advert",
    "ad",
    "ads",
    "sponsored",
    "caption",
    "close",
    "share",
    "comments",
    "related",
    "read more",
    "continue reading",
    "image",
    "photo",
    "video",
];

/// Drop the blocks a scored main-content block drags along: the title repeated as the first
/// heading, and lone furniture words ("Advertisement", "Close", …).
pub(crate) fn tidy_blocks(mut blocks: Vec<TextBlock>, title: Option<&str>) -> Vec<TextBlock> {
    blocks.retain(|b| {
        // The longest furniture phrase has 17 characters: longer text is not one.
        if b.text
            .chars()
            .filter(|c| !c.is_whitespace())
            .nth(24)
            .is_some()
        {
            return true;
        }
        let t = collapse_ws(&b.text).to_lowercase();
        !FURNITURE.contains(&t.trim_end_matches([':', '.', '…']))
    });
    if let (Some(first), Some(title)) = (blocks.first(), title) {
        let first_text = collapse_ws(&first.text);
        let title = collapse_ws(title);
        if first.kind == BlockKind::Heading
            && !first_text.is_empty()
            && (title.starts_with(&first_text) || first_text == title)
        {
            blocks.remove(0);
        }
    }
    blocks
}

fn title_of(doc: &Html, meta: &MetaTags<'_>, ld: Option<&serde_json::Value>) -> Option<String> {
    ld.and_then(|o| ld_string(o, "headline").or_else(|| ld_string(o, "name")))
        .or_else(|| meta.content("og:title"))
        .or_else(|| meta.content("twitter:title"))
        .or_else(|| first_text(doc.root_element(), selector!("article h1, main h1, h1")))
        .or_else(|| first_text(doc.root_element(), selector!("title")))
}

/// Extract a non-Blogger page.
pub(crate) fn extract_generic(doc: &Html, url: &str) -> ScrapedArticle {
    let meta = MetaTags::of(doc);
    let ld_objects = json_ld_objects(doc);
    let ld = ld_article(&ld_objects);

    let author = ld
        .and_then(ld_author)
        .or_else(|| meta.content("author").filter(|a| !looks_like_url(a)))
        .or_else(|| meta.content("article:author").filter(|a| !looks_like_url(a)))
        .or_else(|| first_text(doc.root_element(), selector!("[rel~='author'], .author .fn, .byline .author, [itemprop='author'] [itemprop='name']")));

    let published_at = ld
        .and_then(|o| ld_string(o, "datePublished"))
        .or_else(|| meta.content("article:published_time"))
        .or_else(|| meta.content("datePublished"))
        .or_else(|| meta.content("date"))
        .or_else(|| meta.content("pubdate"))
        .or_else(|| {
            crate::dom::first_attr(doc.root_element(), selector!("time[datetime]"), "datetime")
        })
        .and_then(|d| parse_date(&d))
        .or_else(|| {
            // Last resort: the date as the page shows it, where pages put it.
            crate::dates::visible_date_under(
                doc.root_element(),
                selector!(
                    "article time, time, .published, .post-date, .entry-date, .date-header, .dateline, [class*='publish'], [class*='Publish']"
                ),
                in_page_furniture,
            )
            .or_else(|| {
                crate::dates::visible_date_under(
                    doc.root_element(),
                    selector!("[class*='date'], [class*='Date']"),
                    in_page_furniture,
                )
            })
        });
    let updated_at = ld
        .and_then(|o| ld_string(o, "dateModified"))
        .or_else(|| meta.content("article:modified_time"))
        .or_else(|| meta.content("dateModified"))
        .and_then(|d| parse_date(&d));

    let mut labels: Vec<String> = Vec::new();
    let from_meta = meta.contents("article:tag");
    let from_ld: Vec<String> = ld
        .and_then(|o| o.get("keywords"))
        .map(|k| match k {
            serde_json::Value::String(s) => s.split(',').map(collapse_ws).collect(),
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str())
                .map(collapse_ws)
                .collect(),
            _ => Vec::new(),
        })
        .unwrap_or_default();
    for l in from_meta.into_iter().chain(from_ld) {
        if !l.is_empty() && !labels.contains(&l) {
            labels.push(l);
        }
    }

    let canonical = doc
        .select(selector!("link[rel='canonical'][href]"))
        .filter_map(|l| l.value().attr("href"))
        .map(str::trim)
        .find(|h| !h.is_empty())
        .map(
            |h| match url::Url::parse(url).and_then(|base| base.join(h)) {
                Ok(abs) => abs.to_string(),
                Err(_) => h.to_string(),
            },
        )
        .or_else(|| meta.content("og:url"));

    let title = title_of(doc, &meta, ld);
    let stats = DocStats::of_body(doc);
    let blocks = tidy_blocks(
        main_content(doc, &stats)
            .into_iter()
            .flat_map(|el| element_blocks_with(el, SkipRules::Generic, Some(&stats)))
            .collect(),
        title.as_deref(),
    );

    ScrapedArticle {
        url: url.to_string(),
        canonical_url: canonical,
        title,
        site_name: meta.content("og:site_name").or_else(|| {
            ld.and_then(|o| o.get("publisher"))
                .and_then(|p| ld_string(p, "name"))
        }),
        author,
        published_at,
        updated_at,
        labels,
        comments_count: ld
            .and_then(|o| o.get("commentCount"))
            .and_then(|c| {
                c.as_u64()
                    .or_else(|| c.as_str().and_then(|s| s.trim().parse().ok()))
            })
            .and_then(|c| u32::try_from(c).ok()),
        blogger_post_id: None,
        blog_id: None,
        language_hint: html_lang(doc).or_else(|| meta.content("og:locale")),
        blocks,
        extractor: Some(Extractor::Generic),
    }
}
