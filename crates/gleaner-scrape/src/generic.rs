//! The generic extractor, for pages that are not Blogger's.
//!
//! Metadata comes in layers: JSON-LD (`Article`, `NewsArticle`, `BlogPosting`, …), then
//! OpenGraph / `article:*` properties, then plain meta tags and the document title. The body
//! is found by content scoring: every paragraph-like element scores by its length and commas
//! and passes the score to its parent and grandparent; candidates are weighted by class/id
//! hints and penalised by link density; the best one is split into blocks with boilerplate
//! (navigation-like lists, share/comment/related widgets) left out.

use crate::dom::AttrOf;
use std::sync::LazyLock;

use ego_tree::NodeId;
use gleaner_model::{BlockKind, Extractor, ScrapedArticle, TextBlock};
use regex::Regex;
use scraper::{ElementRef, Html};

use crate::blocks::{SkipRules, element_blocks_with, hint};
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
fn in_strong_negative(p: ElementRef<'_>, seen: &mut Negatives) -> bool {
    p.ancestors().filter_map(ElementRef::wrap).take(4).any(|a| {
        *seen.strong.entry(a.id()).or_insert_with(|| {
            !matches!(a.value().name(), "body" | "html")
                && [hint(a.value(), "class"), hint(a.value(), "id")]
                    .into_iter()
                    .flatten()
                    .flat_map(str::split_whitespace)
                    .any(|token| {
                        STRONG_NEGATIVE.is_match(token)
                            && !(seen.thread && COMMENT_TOKEN.is_match(token))
                    })
        })
    }) || in_overlay(p, seen)
}

/// Class/id tokens of a comment thread (a part of [`STRONG_NEGATIVE`]): read, not skipped,
/// when the page is a thread ([`THREAD_MIN_CHARS`]).
static COMMENT_TOKEN: LazyLock<Regex> =
    LazyLock::new(|| regex_literal(r"(?i)^(comments?|commentlist|disqus)([-_]|$)"));

/// The words of [`COMMENT_TOKEN`] anywhere in an attribute: a quick test, one regex pass
/// per attribute, before looking token by token.
static COMMENT_ANYWHERE: LazyLock<Regex> = LazyLock::new(|| regex_literal(r"(?i)comment|disqus"));

/// A page is read as a thread (its comments or posts are the content, not furniture beside
/// an article) when the paragraphs in comment regions hold at least this many characters ...
const THREAD_MIN_CHARS: usize = 1000;
/// ... and more than this many times the paragraph text outside them.
const THREAD_RATIO: usize = 5;

/// Is `el` inside a dialog laid over the page (a pop-up form, a cookie-consent box)? Such
/// a box often holds more plain text than anything else on the page, and is never what the
/// page is about. Marked by `role="dialog"`, `aria-modal="true"`, `<dialog>`, or a class/id
/// token with a part (between `-` and `_`) naming one ([`OVERLAY_PARTS`]): `popup`,
/// `lightbox`, `consent`, `cookie(s)`, `gdpr`.
fn in_overlay(el: ElementRef<'_>, seen: &mut Negatives) -> bool {
    // Up to the first ancestor already answered, then fill the answers back down.
    let mut chain: Vec<ElementRef<'_>> = Vec::new();
    let mut known = false;
    for a in std::iter::once(el).chain(el.ancestors().filter_map(ElementRef::wrap)) {
        if let Some(&k) = seen.overlay.get(&a.id()) {
            known = k;
            break;
        }
        chain.push(a);
    }
    for a in chain.into_iter().rev() {
        known = known || overlay_marked(a);
        seen.overlay.insert(a.id(), known);
    }
    known
}

pub(crate) fn overlay_marked(a: ElementRef<'_>) -> bool {
    let v = a.value();
    if matches!(v.name(), "body" | "html") {
        return false;
    }
    v.name() == "dialog"
        || v.attr_of("role")
            .is_some_and(|r| r.trim().eq_ignore_ascii_case("dialog"))
        || v.attr_of("aria-modal")
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("true"))
        || [hint(v, "class"), hint(v, "id")]
            .into_iter()
            .flatten()
            .filter(|attr| OVERLAY_ANYWHERE.is_match(attr))
            .flat_map(str::split_whitespace)
            .any(|t| OVERLAY_TOKEN.is_match(t))
}

/// The words of [`OVERLAY_PARTS`] anywhere in an attribute (a quick test before the tokens).
static OVERLAY_ANYWHERE: LazyLock<Regex> =
    LazyLock::new(|| regex_literal(&format!("(?i-u){}", OVERLAY_PARTS.join("|"))));

/// A class/id token with a part (between `-` and `_`) that is one of [`OVERLAY_PARTS`],
/// ASCII case ignored: one regex pass per token instead of comparing every part.
static OVERLAY_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    regex_literal(&format!(
        "(?i-u)(^|[-_])({})([-_]|$)",
        OVERLAY_PARTS.join("|")
    ))
});

/// Answers of [`in_strong_negative`] per element, kept across one extraction.
#[derive(Default)]
pub(crate) struct Negatives {
    strong: IdMap<bool>,
    overlay: IdMap<bool>,
    /// Comment regions are content (a thread page): only sidebars, footers and the like are
    /// strong negatives.
    thread: bool,
    /// Per element: inside a comment region (at any depth)?
    comment: IdMap<bool>,
}

/// Is `el` inside a region whose class or id names comments ([`COMMENT_TOKEN`]), however
/// deep? Answers are kept per element, so a pass over a page stays linear.
fn in_comment_region(el: ElementRef<'_>, seen: &mut Negatives) -> bool {
    let mut chain: Vec<ElementRef<'_>> = Vec::new();
    let mut known = false;
    for a in std::iter::once(el).chain(el.ancestors().filter_map(ElementRef::wrap)) {
        if let Some(&k) = seen.comment.get(&a.id()) {
            known = k;
            break;
        }
        chain.push(a);
    }
    for a in chain.into_iter().rev() {
        known = known
            || (!matches!(a.value().name(), "body" | "html")
                && [hint(a.value(), "class"), hint(a.value(), "id")]
                    .into_iter()
                    .flatten()
                    .filter(|attr| COMMENT_ANYWHERE.is_match(attr))
                    .flat_map(str::split_whitespace)
                    .any(|t| COMMENT_TOKEN.is_match(t)));
        seen.comment.insert(a.id(), known);
    }
    known
}

/// Parts of class/id tokens that name an overlay. `modal`, `overlay` and `dialog` were tried
/// and left out: on the tune halves they also name wrappers of real articles.
const OVERLAY_PARTS: &[&str] = &["popup", "lightbox", "consent", "cookie", "cookies", "gdpr"];

/// Is `el` in a sidebar, footer, navigation, comment thread, related-posts block or an
/// embedded social feed (where dates belong to other posts)?
fn in_page_furniture(el: ElementRef<'_>) -> bool {
    std::iter::once(el)
        .chain(el.ancestors().filter_map(ElementRef::wrap))
        .any(|a| {
            let v = a.value();
            matches!(v.name(), "nav" | "aside" | "footer")
                || [hint(v, "class"), hint(v, "id")]
                    .into_iter()
                    .flatten()
                    .flat_map(str::split_whitespace)
                    .any(|token| STRONG_NEGATIVE.is_match(token) || FURNITURE_TOKEN.is_match(token))
        })
}

static FURNITURE_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    regex_literal(r"(?i)tweet|twitter|widget|sidebar|comment|related|recommend|trending|popular")
});

/// [`NEGATIVE`] without the words naming comments: on a page read as a thread.
static NEGATIVE_IN_THREAD: LazyLock<Regex> = LazyLock::new(|| {
    regex_literal(
        r"(?i)hidden|banner|combx|contact|foot|footer|footnote|masthead|media|meta|outbrain|promo|related|scroll|share|shoutbox|sidebar|skyscraper|sponsor|shopping|tags|tool|widget|nav|menu|subscribe|newsletter|cookie|popup|modal|social|advert|breadcrumb",
    )
});

fn class_weight(el: ElementRef<'_>, thread: bool) -> f64 {
    let negative: &Regex = if thread {
        &NEGATIVE_IN_THREAD
    } else {
        &NEGATIVE
    };
    let mut w = 0.0;
    for hint in [hint(el.value(), "class"), hint(el.value(), "id")]
        .into_iter()
        .flatten()
    {
        if negative.is_match(hint) {
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

/// Own text (outside block children) a container needs to count as a paragraph.
const OWN_TEXT_PARAGRAPH: usize = 400;

/// The element holding the page's main content, by scoring. `stats` are the document's
/// ([`DocStats::of`] over the root element): every number the scoring needs is read from
/// them, so the pass is linear in the size of the page. Comment threads never score here
/// (see [`scored_content`] for pages that are a thread).
pub(crate) fn main_content<'a>(doc: &'a Html, stats: &DocStats) -> Vec<ElementRef<'a>> {
    score_content(doc, stats, false, None).0
}

/// Like [`main_content`], but a page whose comment regions hold most of its paragraph text
/// (at least [`THREAD_MIN_CHARS`] and more than [`THREAD_RATIO`] times the text outside
/// them: a forum thread, a post of two lines under a long discussion) is read as a thread,
/// its comments scoring and kept like any text. Returns the skip rules to split the chosen
/// elements with.
pub(crate) fn scored_content<'a>(
    doc: &'a Html,
    stats: &DocStats,
) -> (Vec<ElementRef<'a>>, SkipRules) {
    let (chosen, thread) = score_content(doc, stats, false, None);
    if thread.in_comments >= THREAD_MIN_CHARS
        && thread.in_comments > thread.outside.saturating_mul(THREAD_RATIO)
    {
        return (score_content(doc, stats, true, None).0, SkipRules::Thread);
    }
    (chosen, SkipRules::Generic)
}

/// Paragraph text in comment regions and outside them, as one scoring pass saw it.
#[derive(Default)]
struct ThreadText {
    in_comments: usize,
    outside: usize,
}

fn score_content<'a>(
    doc: &'a Html,
    stats: &DocStats,
    read_thread: bool,
    explain: Option<&mut Vec<String>>,
) -> (Vec<ElementRef<'a>>, ThreadText) {
    let mut thread_text = ThreadText::default();
    // Answers with comment regions allowed, to tell comment paragraphs from other skipped
    // ones (only asked about paragraphs the strict rules skip).
    let mut lenient = Negatives {
        thread: true,
        ..Negatives::default()
    };
    let link_density = |el: ElementRef<'_>| match stats.get(el) {
        Some(s) => s.link_density(),
        None => crate::blocks::link_density(el),
    };
    let mut scores: IdMap<(ElementRef<'_>, f64)> = IdMap::default();
    let mut strong_negative = Negatives {
        thread: read_thread,
        ..Negatives::default()
    };
    // Text of the paragraphs that scored, per paragraph (summed per subtree when climbing).
    let mut para_len: IdMap<usize> = IdMap::default();
    // `<article>` elements on the page: when there is one, it is the article.
    let mut articles = 0usize;
    // Every `p, pre, td, blockquote, div, section, article`, by name (no selector machinery).
    let paragraphs = doc
        .root_element()
        .descendants()
        .filter_map(ElementRef::wrap);
    for p in paragraphs {
        let name = p.value().name();
        if name == "article" {
            articles += 1;
        }
        if !matches!(
            name,
            "p" | "pre" | "td" | "blockquote" | "div" | "section" | "article"
        ) {
            continue;
        }
        let (mut len, mut commas, excluded) = match stats.get(p) {
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
        // Text of block children the container's own text still holds (a `<main>`, a
        // `<form>`): not counted when telling a thread page from an article page, where it
        // would count the comment paragraphs a second time.
        let mut in_other_blocks = 0usize;
        if matches!(name, "div" | "section" | "article" | "td") {
            // A container counts as a paragraph by its own text: what is not inside its
            // block children (a cell holding a heading and a block of text with `<br>`s),
            // when that is long enough to be one.
            let mut has_block_child = false;
            for c in p.children().filter_map(ElementRef::wrap) {
                if block_level(c.value().name()) && !counted_as_block(c.value().name()) {
                    in_other_blocks += stats.get(c).map_or(0, |s| s.visible_len());
                    continue;
                }
                if !counted_as_block(c.value().name()) {
                    continue;
                }
                let (c_len, c_commas) = match stats.get(c) {
                    Some(s) => (s.visible_len(), s.commas),
                    None => {
                        let text = text_of(c);
                        (
                            text.chars().count(),
                            text.matches([',', '，', '、', '،']).count(),
                        )
                    }
                };
                len = len.saturating_sub(c_len);
                commas = commas.saturating_sub(c_commas);
                has_block_child = true;
            }
            if has_block_child && len < OWN_TEXT_PARAGRAPH {
                continue;
            }
        }
        if len < 25 || excluded {
            continue;
        }
        let in_comments = !read_thread && in_comment_region(p, &mut lenient);
        if in_strong_negative(p, &mut strong_negative) {
            if in_comments && !in_strong_negative(p, &mut lenient) && !in_small_form(p, stats) {
                thread_text.in_comments += len;
            }
            continue;
        }
        if in_small_form(p, stats) {
            continue;
        }
        if in_comments {
            thread_text.in_comments += len;
        } else {
            thread_text.outside += len.saturating_sub(in_other_blocks);
        }
        para_len.insert(p.id(), len);
        // Commas count as in prose, at most one per 50 characters: a list of place names
        // or categories ("Leeds, Bradford, York, …") is not a paragraph of an article.
        let commas = commas.min(len / 50);
        let score = 1.0 + commas as f64 + (len as f64 / 100.0).min(3.0);
        for (level, anc) in p
            .ancestors()
            .filter_map(ElementRef::wrap)
            .take(3)
            .enumerate()
        {
            if anc.value().name() == "html" {
                break;
            }
            let entry = scores.entry(anc.id()).or_insert_with(|| {
                (
                    anc,
                    tag_weight(anc.value().name()) + class_weight(anc, read_thread),
                )
            });
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
    if let Some(out) = explain {
        let mut ranked: Vec<(ElementRef<'_>, f64)> = scores
            .values()
            .map(|(el, sc)| (*el, sc * (1.0 - link_density(*el))))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (el, sc) in ranked.into_iter().take(12) {
            out.push(format!("candidate {sc:.1} {}", describe(el)));
        }
    }
    let Some((top, top_score)) = best else {
        return (Vec::new(), thread_text);
    };
    // A top that outscores every block outside its own line (its ancestors and
    // descendants) [`DOMINANT`] times over is one article among teasers and widgets, not
    // one post of a list: it does not climb.
    let dominant = {
        let mine: std::collections::HashSet<NodeId> = top
            .descendants()
            .map(|n| n.id())
            .chain(top.ancestors().map(|n| n.id()))
            .collect();
        let rival = scores
            .values()
            .filter(|(el, _)| !mine.contains(&el.id()))
            .map(|(el, sc)| sc * (1.0 - link_density(*el)))
            .fold(0.0_f64, f64::max);
        top_score >= rival * DOMINANT
    };
    let top = if dominant {
        top
    } else {
        climb(top, stats, para_len, articles == 1, &mut strong_negative)
    };
    let mut chosen: Vec<ElementRef<'_>> = vec![top];
    // An article split into sections: the top block's siblings that score well too (a
    // fifth of the top's score), or that read as a paragraph of text themselves.
    if let Some(parent) = top.parent().and_then(ElementRef::wrap)
        && !matches!(parent.value().name(), "body" | "html")
    {
        let threshold = (top_score * 0.2).max(10.0);
        for sib in parent.children().filter_map(ElementRef::wrap) {
            if sib.id() == top.id() {
                continue;
            }
            let Some(s) = stats.get(sib) else { continue };
            if s.in_excluded_region || in_strong_negative(sib, &mut strong_negative) {
                continue;
            }
            let density = s.link_density();
            let scored = scores
                .get(&sib.id())
                .is_some_and(|(_, sc)| sc * (1.0 - density) >= threshold);
            let text_block = matches!(sib.value().name(), "p" | "pre" | "blockquote")
                && s.visible_len() >= 80
                && density < 0.25;
            if scored || text_block {
                chosen.push(sib);
            }
        }
    }
    // The article may be split into chunks that share the top block's tag and class (one
    // per section, ads and promos between), and an index page lists several posts alike:
    // take every such chunk that reads as text. Classes compare without their numbered
    // tokens (`post-123 post type-post` is like `post-456 post type-post`).
    let top_shape = class_shape(top);
    if !top_shape.is_empty() {
        for (el, score) in scores.values() {
            if el.id() == top.id()
                || el.value().name() != top.value().name()
                || *score - tag_weight(el.value().name()) - class_weight(*el, read_thread) <= 0.0
                || link_density(*el) > 0.3
                || class_shape(*el) != top_shape
                || in_strong_negative(*el, &mut strong_negative)
            {
                continue;
            }
            chosen.push(*el);
        }
    }
    // Outermost only, in document order.
    let all: std::collections::HashSet<NodeId> = chosen.iter().map(|e| e.id()).collect();
    chosen.retain(|e| {
        !e.ancestors()
            .take(crate::limits::MAX_NESTING * 2)
            .any(|a| all.contains(&a.id()))
    });
    chosen.sort_by_key(|e| e.id());
    (chosen, thread_text)
}

/// Is `el` inside a `<form>` holding under 1,000 characters of text (a search, sign-up or
/// comment box; some sites wrap the whole page in one form)? Looks a few levels up.
fn in_small_form(el: ElementRef<'_>, stats: &DocStats) -> bool {
    el.ancestors()
        .filter_map(ElementRef::wrap)
        .take(6)
        .find(|a| a.value().name() == "form")
        .is_some_and(|f| stats.get(f).is_some_and(|s| s.visible_len() < 1000))
}

/// How many times the best block's score must exceed that of every block outside its own
/// line for it to be the article and not climb ([`climb`]). On the tune halves 2 and 2.5
/// scored best (modern 0.821 -> 0.822, readability 0.962 -> 0.963, no page lost); 1.5 cut
/// an article to its first part, 3 left an article with two dozen teasers under it climbing.
const DOMINANT: f64 = 2.0;

/// Climbing from the best-scored block: an ancestor is taken when it holds this many times
/// the paragraph text of the block so far ...
const CLIMB_RATIO: usize = 3;
/// ... and at most this share of its text is in links ...
const CLIMB_MAX_LINK_DENSITY: f64 = 0.5;
/// ... looking this many levels up. Chosen on the tune halves of the evaluation sets (the
/// best mean F1 over the three sets among ratios 1.5–6 and densities 0.2–0.6).
const CLIMB_LEVELS: usize = 8;

/// From the best-scored block up to the page's main content: a block that holds only part
/// of the paragraph text around it (one post of several on a blog's home page, one answer
/// of a thread, one section of a product page) gives way to the ancestor holding
/// [`CLIMB_RATIO`] times as much paragraph text (text of the elements that scored as
/// paragraphs), as long as that ancestor is not mostly links and not page furniture. Text
/// that did not score (link lists, tickers, teasers in `<li>`) does not pull the choice up.
/// The page's only `<article>` element is not climbed past: it is the article.
fn climb<'a>(
    top: ElementRef<'a>,
    stats: &DocStats,
    mut para_len: IdMap<usize>,
    sole_article: bool,
    neg: &mut Negatives,
) -> ElementRef<'a> {
    // Paragraph text per subtree: children before parents (reverse document order).
    {
        let Some(root) = top.ancestors().last() else {
            return top;
        };
        let order: Vec<_> = root.descendants().map(|n| n.id()).collect();
        let tree = top.tree();
        for id in order.into_iter().rev() {
            let Some(&own) = para_len.get(&id) else {
                continue;
            };
            if let Some(parent) = tree.get(id).and_then(|n| n.parent()) {
                *para_len.entry(parent.id()).or_insert(0) += own;
            }
        }
    }
    let measure = |el: ElementRef<'_>| para_len.get(&el.id()).copied().unwrap_or(0);
    let mut cur_len = measure(top);
    let mut cur = top;
    for a in top
        .ancestors()
        .filter_map(ElementRef::wrap)
        .take(CLIMB_LEVELS)
    {
        if matches!(a.value().name(), "body" | "html")
            || (sole_article && cur.value().name() == "article")
        {
            break;
        }
        let Some(s) = stats.get(a) else { break };
        if s.in_excluded_region
            || s.link_density() > CLIMB_MAX_LINK_DENSITY
            || in_strong_negative(a, neg)
        {
            break;
        }
        let len = measure(a);
        if len >= cur_len.saturating_mul(CLIMB_RATIO) {
            cur = a;
            cur_len = len;
        }
    }
    // Past those levels, only the page's `<main>`: deep page builders nest each post or
    // section of a page ten or more levels under it, where the levels above cannot reach.
    if sole_article && cur.value().name() == "article" {
        return cur;
    }
    let main = cur
        .ancestors()
        .filter_map(ElementRef::wrap)
        .take(crate::limits::MAX_NESTING * 2)
        .find(|a| a.value().name() == "main");
    if let Some(main) = main
        && let Some(s) = stats.get(main)
        && !s.in_excluded_region
        && s.link_density() <= MAIN_MAX_LINK_DENSITY
        && measure(main) >= cur_len.saturating_mul(CLIMB_RATIO)
        && !in_strong_negative(main, neg)
    {
        return main;
    }
    cur
}

/// Most share of `<main>`'s text in links for climbing to it past [`CLIMB_LEVELS`].
const MAIN_MAX_LINK_DENSITY: f64 = 0.3;

/// An element's class tokens without those holding digits, sorted.
fn class_shape(el: ElementRef<'_>) -> Vec<&str> {
    let mut tokens: Vec<&str> = hint(el.value(), "class")
        .unwrap_or_default()
        .split_whitespace()
        .filter(|t| !t.bytes().any(|b| b.is_ascii_digit()))
        .collect();
    tokens.sort_unstable();
    tokens.dedup();
    tokens
}

/// Characters of text in `blocks`.
pub(crate) fn blocks_len(blocks: &[TextBlock]) -> usize {
    blocks.iter().map(|b| b.text.chars().count()).sum()
}

/// A body found this short, on a page with one `<main>` holding twice as much text, gives
/// way to all of `<main>` (a notice page: "not found", with its suggestions and links; a
/// product or listing page). On the tune halves 600 and 900 scored a little higher (modern
/// tune 0.821 -> 0.825), but a short news story (500 characters) beside a property-search
/// box or a sign-up box in the same `<main>` then gave the boxes too
/// (`shape_tests::the_story_beats_the_property_search_box_beside_it`).
const SHORT_IN_MAIN: usize = 300;

/// A body found this short (characters) ...
const SMALL_PART: usize = 800;
/// ... on a page whose `<main>` (else `<body>`), page furniture left out, holds this many
/// times as much text, and is at most this share links, is one small part of a page made
/// of many short blocks (a landing page of cards, a service page whose scoring found only
/// its FAQ, a store page of tiles): the page's content is all of it. On the tune halves
/// 800–1000 characters, ratios 2–2.5 and densities 0.4–0.5 gave the same gains (modern
/// 0.824 -> 0.828, five pages up, none down); 1,200 characters cut a product page to a
/// third, 2,000 a short news story beside its teasers.
const SMALL_PART_RATIO: f64 = 2.5;
const SMALL_PART_MAX_LINK_DENSITY: f64 = 0.5;

/// The page's only `<main>`, else its `<body>`.
fn main_or_body(doc: &Html) -> Option<ElementRef<'_>> {
    sole_main_or_article(doc)
        .filter(|m| m.value().name() == "main")
        .or_else(|| {
            doc.root_element()
                .children()
                .filter_map(ElementRef::wrap)
                .find(|e| e.value().name() == "body")
        })
}

/// Below this many characters, the body found so far is taken as "nothing found" and the
/// next fallback is tried.
const TOO_SHORT: usize = 150;

/// The page's body, deciding between the ways of finding it. In order:
///
/// 1. content scoring ([`main_content`]): the block where paragraph-like text concentrates;
/// 2. the publisher's own marking, schema.org microdata `itemprop="articleBody"`: taken
///    when scoring found less than half as much text (scoring is more precise when both
///    agree, since the marked element often holds widgets too);
/// 3. JSON-LD `articleBody` (text only, paragraphs at line breaks): taken when what was
///    found so far has less than half its text;
/// 4. a copy of the content in `<noscript>` or `<script type="text/template">` (pages that
///    render their body with script), scored like a page: taken when nothing longer than
///    [`TOO_SHORT`] was found;
/// 5. the densest text block: the element with the most text of its own (not in block
///    children), when still nothing was found;
/// 6. the page's only `<main>` (else only `<article>`), when all else is empty; and a body
///    under [`SHORT_IN_MAIN`] gives way to all of a `<main>` twice as long;
/// 7. a body under [`SMALL_PART`] characters gives way to all of `<main>` (else `<body>`),
///    furniture left out, when that holds [`SMALL_PART_RATIO`] times as much text: the
///    page is made of short blocks, and scoring found one of them;
/// 8. last resort, the whole `<body>` (page furniture left out as in any block, or kept
///    when it is all there is, and last `aria-hidden` boxes too), when it is not a menu
///    ([`a_menu`]): a page of a few words gives those words.
fn body_blocks(doc: &Html, stats: &DocStats, ld: Option<&serde_json::Value>) -> Vec<TextBlock> {
    let (chosen, rules) = scored_content(doc, stats);
    let mut best: Vec<TextBlock> = chosen
        .into_iter()
        .flat_map(|el| element_blocks_with(el, rules, Some(stats)))
        .collect();
    let mut best_len = blocks_len(&best);
    if let Some(marked) = microdata_body(doc, stats) {
        let len = blocks_len(&marked);
        if len >= TOO_SHORT.min(best_len.max(1)) && best_len * 2 < len {
            best = marked;
            best_len = len;
        }
    }
    if let Some(text) = ld
        .and_then(|o| o.get("articleBody"))
        .and_then(|v| v.as_str())
    {
        let from_ld = text_blocks(text);
        let len = blocks_len(&from_ld);
        if len >= TOO_SHORT && best_len * 2 < len {
            best = from_ld;
            best_len = len;
        }
    }
    if best_len < TOO_SHORT {
        let copy = script_copy_body(doc);
        let len = blocks_len(&copy);
        if len > best_len.max(TOO_SHORT) {
            best = copy;
            best_len = len;
        }
    }
    if best_len < TOO_SHORT
        && let Some(el) = densest_block(doc, stats)
    {
        let dense = element_blocks_with(el, SkipRules::Generic, Some(stats));
        if blocks_len(&dense) > best_len {
            best = dense;
            best_len = blocks_len(&best);
        }
    }
    if best_len == 0
        && let Some(el) = sole_main_or_article(doc)
    {
        best = element_blocks_with(el, SkipRules::Generic, Some(stats));
    }
    if best_len > 0
        && best_len < SHORT_IN_MAIN
        && let Some(main) = sole_main_or_article(doc).filter(|m| m.value().name() == "main")
        && let Some(s) = stats.get(main)
        && !s.in_excluded_region
        && s.visible_len() >= best_len.saturating_mul(2)
    {
        let whole = element_blocks_with(main, SkipRules::PostBody, Some(stats));
        if blocks_len(&whole) > best_len {
            best = whole;
        }
    }
    let best_len = blocks_len(&best);
    if best_len > 0
        && best_len < SMALL_PART
        && let Some(container) = main_or_body(doc)
        && let Some(s) = stats.get(container)
        && !s.in_excluded_region
        && s.link_density() <= SMALL_PART_MAX_LINK_DENSITY
    {
        let whole = element_blocks_with(container, SkipRules::Generic, Some(stats));
        if blocks_len(&whole) as f64 >= best_len as f64 * SMALL_PART_RATIO {
            best = whole;
        }
    }
    if blocks_len(&best) == 0
        && let Some(body) = text_body(doc, stats)
    {
        best = element_blocks_with(body, SkipRules::Generic, Some(stats));
        if best.is_empty() {
            // Its only words are in what would be furniture on a longer page (a caption,
            // a `<nav>`, a box named `meta`): they are still all the page says.
            best = element_blocks_with(body, SkipRules::PostBody, Some(stats));
        }
        if best.is_empty() {
            // Or in a box hidden from screen readers only: a reader still sees them.
            best = element_blocks_with(body, SkipRules::Visible, Some(stats));
        }
    }
    best
}

/// The page's `<body>`, when it holds some text, under [`TOO_SHORT`] characters, and that
/// text is mostly not links or not a menu ([`a_menu`]): a page of a few words (a heading
/// over an image, one short line) is what it says, not empty. A long page where nothing reads as text (a million one-letter
/// `<div>`s) still gives nothing, and is not walked again.
fn text_body<'a>(doc: &'a Html, stats: &DocStats) -> Option<ElementRef<'a>> {
    let body = doc
        .root_element()
        .children()
        .filter_map(ElementRef::wrap)
        .find(|e| e.value().name() == "body")?;
    let s = stats.get(body)?;
    (s.visible_len() > 0
        && s.visible_len() < TOO_SHORT
        && (s.link_density() <= 0.5 || !a_menu(body)))
    .then_some(body)
}

/// Is the text of `el` (a page of a few words, mostly links) a menu: every word inside
/// one of two or more links? One link holding all the words ("Read the report") or links
/// inside a sentence ("Hello world and friends") are what the page says.
fn a_menu(el: ElementRef<'_>) -> bool {
    let mut links = 0usize;
    let mut stack: Vec<_> = el.children().collect();
    while let Some(node) = stack.pop() {
        if let Some(t) = node.value().as_text() {
            if t.chars().any(char::is_alphanumeric) {
                return false;
            }
        } else if let Some(e) = node.value().as_element() {
            match e.name() {
                "a" => links += 1,
                "script" | "style" | "noscript" | "template" => {}
                _ => stack.extend(node.children()),
            }
        }
    }
    links >= 2
}

/// The page's only `<main>` element, else its only `<article>`: what the page marks as its
/// content, read when nothing else reads as text (a page of headings and images).
fn sole_main_or_article(doc: &Html) -> Option<ElementRef<'_>> {
    for name in ["main", "article"] {
        let mut found = doc
            .root_element()
            .descendants()
            .filter_map(ElementRef::wrap)
            .filter(|e| e.value().name() == name)
            .take(2);
        if let (Some(el), None) = (found.next(), found.next()) {
            return Some(el);
        }
    }
    None
}

/// Plain text (a JSON-LD `articleBody`) as paragraphs: one per non-empty line.
fn text_blocks(text: &str) -> Vec<TextBlock> {
    text.lines()
        .map(collapse_ws)
        .filter(|l| l.chars().any(char::is_alphanumeric))
        .map(|text| TextBlock {
            kind: BlockKind::Paragraph,
            text,
        })
        .collect()
}

/// The blocks of the element(s) marked `itemprop="articleBody"` (outermost ones, those not
/// in page furniture), if any has text.
fn microdata_body(doc: &Html, stats: &DocStats) -> Option<Vec<TextBlock>> {
    let marked: Vec<ElementRef<'_>> = doc
        .select(crate::dom::selector!("[itemprop]"))
        .filter(|e| {
            e.value()
                .attr_of("itemprop")
                .is_some_and(|p| p.split_whitespace().any(|t| t == "articleBody"))
        })
        .filter(|e| stats.get(*e).is_some_and(|s| !s.in_excluded_region))
        .take(16)
        .collect();
    let outer = marked.iter().copied().filter(|e| {
        !e.ancestors()
            .take(crate::limits::MAX_NESTING * 2)
            .any(|a| marked.iter().any(|m| m.id() == a.id()))
    });
    let blocks: Vec<TextBlock> = outer
        .flat_map(|el| element_blocks_with(el, SkipRules::Generic, Some(stats)))
        .collect();
    (!blocks.is_empty()).then_some(blocks)
}

/// The body of a page that renders it with script and keeps a copy in `<noscript>` or a
/// `<script type="text/template">`: the longest copy, scored like a page.
fn script_copy_body(doc: &Html) -> Vec<TextBlock> {
    let mut best: Vec<TextBlock> = Vec::new();
    let copies = doc
        .select(crate::dom::selector!("noscript, script[type]"))
        .filter(|e| {
            e.value().name() == "noscript"
                || e.value()
                    .attr_of("type")
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/template"))
        })
        .take(64);
    for el in copies {
        let raw: String = el.text().collect();
        // Only copies with paragraph markup and some text are worth parsing.
        if raw.len() < TOO_SHORT || !(raw.contains("<p") || raw.contains("<br")) {
            continue;
        }
        let frag = crate::limits::parse_fragment(&raw);
        let frag_stats = DocStats::of(frag.root_element());
        let mut blocks: Vec<TextBlock> = main_content(&frag, &frag_stats)
            .into_iter()
            .flat_map(|e| element_blocks_with(e, SkipRules::Generic, Some(&frag_stats)))
            .collect();
        if blocks.is_empty() {
            blocks = crate::blocks::element_blocks(frag.root_element(), SkipRules::Generic);
        }
        if blocks_len(&blocks) > blocks_len(&best) {
            best = blocks;
        }
    }
    best
}

fn block_level(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "section"
            | "article"
            | "main"
            | "table"
            | "ul"
            | "ol"
            | "dl"
            | "pre"
            | "blockquote"
            | "form"
            | "header"
            | "footer"
            | "nav"
            | "aside"
            | "figure"
            | "tr"
            | "td"
            | "th"
            | "tbody"
            | "thead"
            | "li"
            | "dd"
            | "dt"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
    )
}

/// The element with the most visible text of its own (text not inside block-level children),
/// outside page furniture and mostly not links: a page's one block of text when nothing
/// else reads as an article.
fn densest_block<'a>(doc: &'a Html, stats: &DocStats) -> Option<ElementRef<'a>> {
    let mut best: Option<(ElementRef<'a>, usize)> = None;
    let mut strong_negative = Negatives::default();
    for el in doc
        .root_element()
        .descendants()
        .filter_map(ElementRef::wrap)
    {
        if matches!(el.value().name(), "html" | "body" | "head") {
            continue;
        }
        let Some(s) = stats.get(el) else { continue };
        if s.in_excluded_region || s.link_density() > 0.5 {
            continue;
        }
        let in_blocks: usize = el
            .children()
            .filter_map(ElementRef::wrap)
            .filter(|c| block_level(c.value().name()))
            .filter_map(|c| stats.get(c))
            .map(|s| s.visible_len())
            .sum();
        let own = s.visible_len().saturating_sub(in_blocks);
        if own < 25 || best.is_some_and(|(_, b)| own <= b) {
            continue;
        }
        if in_strong_negative(el, &mut strong_negative) {
            continue;
        }
        best = Some((el, own));
    }
    best.map(|(el, _)| el)
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
/// heading (unless it is all there is), and lone furniture words ("Advertisement", "Close",
/// …).
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
            && blocks.len() > 1
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
        .filter_map(|l| l.value().attr_of("href"))
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
    let blocks = tidy_blocks(body_blocks(doc, &stats, ld), title.as_deref());

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

fn describe(el: ElementRef<'_>) -> String {
    let v = el.value();
    let mut s = v.name().to_string();
    if let Some(id) = v.attr_of("id") {
        s.push('#');
        s.push_str(id);
    }
    for c in v.classes().take(4) {
        s.push('.');
        s.push_str(c);
    }
    s
}

/// For development (`examples/explain_extract.rs`): which elements content scoring
/// chose and the ancestors of the first, with their text lengths and link densities.
#[doc(hidden)]
pub fn explain(html: &str) -> String {
    use std::fmt::Write;
    let doc = crate::limits::parse_document(html);
    let stats = DocStats::of_body(&doc);
    let mut out = String::new();
    let (chosen, rules) = scored_content(&doc, &stats);
    let mut candidates = Vec::new();
    let thread = score_content(&doc, &stats, false, Some(&mut candidates)).1;
    let _ = writeln!(
        out,
        "rules {rules:?} (paragraph text in comment regions {}, outside {})",
        thread.in_comments, thread.outside
    );
    for line in &candidates {
        let _ = writeln!(out, "{line}");
    }
    for el in &chosen {
        let s = stats.get(*el);
        let _ = writeln!(
            out,
            "chosen {} len={} ld={:.2}",
            describe(*el),
            s.map_or(0, |s| s.visible_len()),
            s.map_or(0.0, |s| s.link_density())
        );
    }
    if let Some(top) = chosen.first() {
        for a in top.ancestors().filter_map(ElementRef::wrap).take(12) {
            let s = stats.get(a);
            let _ = writeln!(
                out,
                "  up {} len={} ld={:.2} kids={}",
                describe(a),
                s.map_or(0, |s| s.visible_len()),
                s.map_or(0.0, |s| s.link_density()),
                a.children().filter_map(ElementRef::wrap).count()
            );
        }
    }
    out
}

/// The children whose text a container's own-text test leaves to the children themselves
/// (they are paragraphs or hold paragraphs of their own).
fn counted_as_block(name: &str) -> bool {
    matches!(
        name,
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
}
