//! The block splitter: an element's subtree → [`TextBlock`]s.
//!
//! Blogger bodies are rarely clean `<p>` markup: they are `<div>`/`<br>` soup written by the
//! post editor over the years. So a block ends at any block-level element boundary *and* at a
//! run of two or more `<br>`; a single `<br>` is kept as a `\n` inside the block. Headings,
//! list items, quotations and `<pre>` keep their role; scripts, styles, `<noscript>`,
//! templates, forms, embedded media and hidden elements give no text.

use crate::dom::AttrOf;
use std::sync::LazyLock;

use ego_tree::NodeId;
use gleaner_model::{BlockKind, TextBlock};
use regex::Regex;
use scraper::{ElementRef, Node};

use crate::stats::DocStats;

/// Deeper than this, an element's text is taken flat (no stack growth on hostile input).
const MAX_DEPTH: usize = 200;

/// Which extra elements the splitter leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SkipRules {
    /// A post body chosen by markup: only obvious widgets inside it are dropped.
    PostBody,
    /// A block chosen by content scoring: navigation-like and boilerplate-named parts dropped.
    Generic,
    /// Like `Generic`, on a page read as a thread: comment regions are the content and kept.
    Thread,
    /// A page of a few words whose every word the other rules leave out: like `PostBody`,
    /// and a box marked `aria-hidden` (hidden from screen readers, not from the eye) is read.
    Visible,
}

/// Split the HTML fragment `html` (e.g. a feed entry's `<content>`) into blocks.
pub fn html_to_blocks(html: &str) -> Vec<TextBlock> {
    let doc = crate::limits::parse_fragment(html);
    element_blocks(doc.root_element(), SkipRules::PostBody)
}

/// Split the subtree of `el` into blocks.
pub(crate) fn element_blocks(el: ElementRef<'_>, rules: SkipRules) -> Vec<TextBlock> {
    element_blocks_with(el, rules, None)
}

/// Split the subtree of `el` into blocks, reading text lengths and link densities from
/// `stats` (computed over a tree holding `el`) instead of walking each element's subtree.
pub(crate) fn element_blocks_with(
    el: ElementRef<'_>,
    rules: SkipRules,
    stats: Option<&DocStats>,
) -> Vec<TextBlock> {
    let mut s = Splitter {
        out: Vec::new(),
        owners: Vec::new(),
        buf: String::new(),
        buf_owner: el.id(),
        open: vec![el.id()],
        kinds: Vec::new(),
        rules,
        stats,
        link_depth: 0,
        buf_chars: 0,
        buf_link_chars: 0,
        linked: Vec::new(),
    };
    for child in el.children() {
        s.walk(child, 1);
    }
    s.flush();
    match rules {
        SkipRules::PostBody | SkipRules::Visible => s.out,
        SkipRules::Generic | SkipRules::Thread => {
            let keep = trailing_link_list_start(&s.out, &s.linked);
            s.out.truncate(keep);
            s.owners.truncate(keep);
            drop_theme_copies(el, s.out, &s.owners)
        }
    }
}

/// Share of a block's characters inside links from which it counts as a link and nothing
/// else (a teaser title, "Previous post").
const ALL_LINK: f64 = 0.9;

/// Where a list of links trailing a scored body starts (`blocks.len()` when there is none):
/// two or more blocks at the end that are all link text ([`ALL_LINK`]) — "You may also
/// like", next/previous posts, more stories — with the heading or short line that leads
/// them in (a line of at most six words not ending a sentence). A body that is only links
/// is left whole.
fn trailing_link_list_start(blocks: &[TextBlock], linked: &[f64]) -> usize {
    let mut start = blocks.len();
    while start > 0
        && linked.get(start - 1).is_some_and(|&l| l >= ALL_LINK)
        && blocks
            .get(start - 1)
            .is_some_and(|b| b.kind != BlockKind::Preformatted)
    {
        start -= 1;
    }
    if blocks.len() - start < 2 || start == 0 {
        return blocks.len();
    }
    if let Some(lead) = blocks.get(start - 1)
        && start > 1
        && (lead.kind == BlockKind::Heading || lead_in_line(&lead.text))
    {
        start -= 1;
    }
    start
}

/// A short line that introduces what follows ("You may also like...", "More from us:"):
/// at most six words, not ending a sentence (an ellipsis or a colon is not an end).
fn lead_in_line(text: &str) -> bool {
    let t = text.trim();
    t.split_whitespace().nth(6).is_none()
        && (t.ends_with("...") || t.ends_with('…') || !t.ends_with(['.', '!', '?']))
}

/// Shortest block (in words) that is dropped when it repeats the block before it.
const COPY_MIN_WORDS: usize = 8;

/// Drop a block that repeats the block just before it when the two come from elements that
/// are not siblings: a theme's second copy of a text (a mobile and a desktop variant, a
/// summary repeated under the title, a quoted post). A paragraph written twice in a row by
/// the author (two sibling `<p>`s) stays.
fn drop_theme_copies(
    root: ElementRef<'_>,
    blocks: Vec<TextBlock>,
    owners: &[NodeId],
) -> Vec<TextBlock> {
    let tree = root.tree();
    let parent = |id: NodeId| tree.get(id).and_then(|n| n.parent()).map(|p| p.id());
    let mut out: Vec<TextBlock> = Vec::with_capacity(blocks.len());
    // The block kept last (the first of several copies stays the one compared with).
    let mut last: Option<NodeId> = None;
    for (block, &owner) in blocks.into_iter().zip(owners) {
        let copy = block
            .text
            .split_whitespace()
            .nth(COPY_MIN_WORDS - 1)
            .is_some()
            && last.is_some_and(|o| {
                out.last().is_some_and(|prev| {
                    prev.text
                        .split_whitespace()
                        .eq(block.text.split_whitespace())
                }) && parent(o) != parent(owner)
            });
        if !copy {
            out.push(block);
            last = Some(owner);
        }
    }
    out
}

struct Splitter<'s> {
    out: Vec<TextBlock>,
    /// The block-level element each block of `out` was read from.
    owners: Vec<NodeId>,
    buf: String,
    /// The block-level element the text in `buf` was read from.
    buf_owner: NodeId,
    /// Block-level elements being walked, innermost last.
    open: Vec<NodeId>,
    kinds: Vec<BlockKind>,
    rules: SkipRules,
    stats: Option<&'s DocStats>,
    /// Links being walked (`<a>` elements open around the current text).
    link_depth: usize,
    /// Characters (not whitespace) in `buf`, and those of them inside links.
    buf_chars: usize,
    buf_link_chars: usize,
    /// Per block of `out`: the share of its characters inside links (of the text it was
    /// flushed from).
    linked: Vec<f64>,
}

const SKIPPED_TAGS: &[&str] = &[
    "script", "style", "noscript", "template", "iframe", "button", "input", "select", "textarea",
    "svg", "object", "embed", "head", "title", "meta", "link", "canvas", "audio", "video", "map",
    "ins", "math", "dialog",
];

const BLOCK_TAGS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "header",
    "footer",
    "main",
    "ul",
    "ol",
    "dl",
    "table",
    "tbody",
    "thead",
    "tfoot",
    "tr",
    "td",
    "th",
    "figure",
    "figcaption",
    "center",
    "address",
    "details",
    "summary",
    "caption",
    "fieldset",
    "hgroup",
    "body",
    "html",
    "aside",
    "nav",
    "picture",
    "legend",
];

/// Class names of widgets that Blogger themes and post editors put inside a post body.
const POST_BODY_WIDGET_CLASSES: &[&str] = &[
    "post-share-buttons",
    "share-buttons",
    "sharing",
    "post-footer",
    "blog-pager",
    "related-posts",
    "related-post",
    "adsbygoogle",
    "jump-link",
    "comments",
    "post-labels",
];

static GENERIC_NEGATIVE: LazyLock<Regex> = LazyLock::new(|| {
    crate::regex_literal(
        r"(?i)(^|[-_ ])(comment|comments|share|sharing|social|related|sidebar|widget|footer|navbar|nav|menu|breadcrumbs?|subscribe|newsletter|promo|advert|ads?|sponsor|popup|modal|cookie|banner|tags?|author-bio|byline|meta|masthead|skip|print|toolbar|pager|pagination|prev|previous|navigation|disqus|outbrain|taboola|recommend)([-_ ]|$)",
    )
});
/// Class/id tokens of a comment thread or a related-posts block: starting with one of these
/// words.
static THREAD_OR_RELATED: LazyLock<Regex> = LazyLock::new(|| {
    crate::regex_literal(
        r"(?i)^(comments?|commentlist|disqus|related|recommended|outbrain|taboola)([-_]|$)",
    )
});
/// The comment-thread part of [`THREAD_OR_RELATED`].
static THREAD_TOKEN: LazyLock<Regex> =
    LazyLock::new(|| crate::regex_literal(r"(?i)^(comments?|commentlist|disqus)([-_]|$)"));
/// A class/id hint naming a comment (in any token position), kept on a thread page.
static THREAD_HINT: LazyLock<Regex> = LazyLock::new(|| {
    crate::regex_literal(r"(?i)(^|[-_ ])(comment|comments|commentlist|disqus)([-_ ]|$)")
});
/// Image captions and credits: part of the page, not of the article's text.
static GENERIC_CAPTION: LazyLock<Regex> = LazyLock::new(|| {
    crate::regex_literal(
        r"(?i)(^|[-_ ])(caption|credit|credits|photo-credit|image-credit|wp-caption-text)([-_ ]|$)",
    )
});
static GENERIC_POSITIVE: LazyLock<Regex> = LazyLock::new(|| {
    crate::regex_literal(r"(?i)(article|body|content|entry|main|post|story|text)")
});

impl Splitter<'_> {
    fn text_len(&self, el: ElementRef<'_>) -> usize {
        match self.stats.and_then(|s| s.get(el)) {
            Some(s) => s.trimmed_len,
            None => text_len(el),
        }
    }

    fn kind(&self) -> BlockKind {
        self.kinds.last().copied().unwrap_or(BlockKind::Paragraph)
    }

    /// Append `text` with each run of ASCII white space as one space (none at the start of
    /// the buffer or after a line break). Works a run at a time: words with one space between
    /// them are copied whole, in one piece.
    fn push_text(&mut self, text: &str) {
        let mut rest = text;
        while !rest.is_empty() {
            let space = rest
                .bytes()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(rest.len());
            if space > 0 {
                if !(self.buf.is_empty() || self.buf.ends_with(' ') || self.buf.ends_with('\n')) {
                    self.buf.push(' ');
                }
                // ASCII white space is one byte, never inside a longer character.
                rest = rest.get(space..).unwrap_or_default();
                continue;
            }
            // The words from here up to the first white space that is not one space between
            // two words: they go into the buffer as they are, in one copy.
            let bytes = rest.as_bytes();
            let mut end = 0;
            let mut spaces = 0;
            loop {
                end += bytes
                    .get(end..)
                    .and_then(|r| r.iter().position(u8::is_ascii_whitespace))
                    .unwrap_or(bytes.len().saturating_sub(end));
                if bytes.get(end) == Some(&b' ')
                    && bytes.get(end + 1).is_some_and(|b| !b.is_ascii_whitespace())
                {
                    end += 1;
                    spaces += 1;
                    continue;
                }
                break;
            }
            // ASCII white space is one byte, never inside a longer character.
            let (words, after) = rest.split_at_checked(end).unwrap_or((rest, ""));
            if self.buf.is_empty()
                && let Some(&owner) = self.open.last()
            {
                self.buf_owner = owner;
            }
            self.buf.push_str(words);
            let chars = words.chars().count().saturating_sub(spaces);
            self.buf_chars += chars;
            if self.link_depth > 0 {
                self.buf_link_chars += chars;
            }
            rest = after;
        }
    }

    fn line_break(&mut self) {
        while self.buf.ends_with(' ') {
            self.buf.pop();
        }
        self.buf.push('\n');
    }

    fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let buf = std::mem::take(&mut self.buf);
        let linked = self.buf_link_chars as f64 / self.buf_chars.max(1) as f64;
        self.buf_chars = 0;
        self.buf_link_chars = 0;
        let kind = self.kind();
        let mut para: Vec<&str> = Vec::new();
        for line in buf.split('\n') {
            let line = line.trim_matches(|c: char| c.is_whitespace() || c == '\u{200b}');
            if line.is_empty() {
                self.emit(kind, &para, linked);
                para.clear();
            } else {
                para.push(line);
            }
        }
        self.emit(kind, &para, linked);
    }

    fn emit(&mut self, kind: BlockKind, lines: &[&str], linked: f64) {
        if lines.is_empty() {
            return;
        }
        let text = lines.join("\n");
        if text.chars().any(|c| c.is_alphanumeric()) || kind == BlockKind::Preformatted {
            self.out.push(TextBlock { kind, text });
            self.owners.push(self.buf_owner);
            self.linked.push(linked);
        }
    }

    fn skipped(&self, el: ElementRef<'_>) -> bool {
        let v = el.value();
        if SKIPPED_TAGS.contains(&v.name()) {
            return true;
        }
        if let Some(style) = v.attr_of("style") {
            let style: String = style.chars().filter(|c| !c.is_whitespace()).collect();
            if style.to_ascii_lowercase().contains("display:none") {
                return true;
            }
        }
        // A comment form is small; some sites wrap the whole page in one <form>.
        if v.name() == "form" && self.text_len(el) < 1000 {
            return true;
        }
        if v.attr_of("hidden").is_some()
            || v.attr_of("aria-hidden") == Some("true")
                && self.text_len(el) < 200
                && self.rules != SkipRules::Visible
        {
            return true;
        }
        if v.classes().any(|c| POST_BODY_WIDGET_CLASSES.contains(&c)) {
            return true;
        }
        match self.rules {
            SkipRules::PostBody | SkipRules::Visible => false,
            SkipRules::Generic => generic_boilerplate(el, self.stats, false),
            SkipRules::Thread => generic_boilerplate(el, self.stats, true),
        }
    }

    fn walk(&mut self, node: ego_node::NodeRef<'_>, depth: usize) {
        match node.value() {
            Node::Text(t) => self.push_text(t),
            Node::Element(_) => {
                let Some(el) = ElementRef::wrap(node) else {
                    return;
                };
                if self.skipped(el) {
                    return;
                }
                let name = el.value().name();
                if depth > MAX_DEPTH {
                    let flat = crate::dom::text_without_scripts(el);
                    self.push_text(&flat);
                    return;
                }
                match name {
                    "br" => self.line_break(),
                    "hr" => self.flush(),
                    "img" => {}
                    "pre" => {
                        self.flush();
                        let raw = crate::dom::text_without_scripts(el);
                        let raw = raw.trim_matches('\n').trim_end();
                        if !raw.trim().is_empty() {
                            self.out.push(TextBlock {
                                kind: BlockKind::Preformatted,
                                text: raw.to_string(),
                            });
                            self.owners.push(el.id());
                            self.linked.push(0.0);
                        }
                    }
                    "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                        self.role_block(el, BlockKind::Heading, depth)
                    }
                    "li" | "dt" | "dd" => self.role_block(el, BlockKind::ListItem, depth),
                    "a" => {
                        self.link_depth += 1;
                        for child in el.children() {
                            self.walk(child, depth + 1);
                        }
                        self.link_depth -= 1;
                    }
                    "blockquote" => self.role_block(el, BlockKind::Quote, depth),
                    _ if BLOCK_TAGS.contains(&name) => {
                        self.flush();
                        self.open.push(el.id());
                        for child in el.children() {
                            self.walk(child, depth + 1);
                        }
                        self.flush();
                        self.open.pop();
                    }
                    _ => {
                        for child in el.children() {
                            self.walk(child, depth + 1);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn role_block(&mut self, el: ElementRef<'_>, kind: BlockKind, depth: usize) {
        self.flush();
        // A heading inside a list item stays a heading; a paragraph in a quote is a quote.
        self.kinds.push(kind);
        self.open.push(el.id());
        for child in el.children() {
            self.walk(child, depth + 1);
        }
        self.flush();
        self.open.pop();
        self.kinds.pop();
    }
}

/// Name of `scraper`'s node reference type, without depending on `ego-tree` directly.
mod ego_node {
    pub(crate) type NodeRef<'a> = <scraper::ElementRef<'a> as std::ops::Deref>::Target;
}

/// Chars of visible text under `el`, each text node trimmed (see [`DocStats`]).
fn text_len(el: ElementRef<'_>) -> usize {
    DocStats::of(el).get(el).map_or(0, |s| s.trimmed_len)
}

/// Characters of visible text inside links divided by all characters of visible text.
pub(crate) fn link_density(el: ElementRef<'_>) -> f64 {
    DocStats::of(el).get(el).map_or(0.0, |s| s.link_density())
}

/// Text this long, mostly not links, is content whatever its element is called: page
/// builders name every block of an article a `widget` (`elementor-widget-text-editor`),
/// each holding one paragraph. On the tune halves 120 scored best among 80–250 (aeb 0.968
/// -> 0.970, modern 0.822 -> 0.823; 250 dropped the short paragraphs of such articles).
const PLAIN_TEXT_KEPT: usize = 120;

fn much_plain_text(el: ElementRef<'_>, known: Option<&crate::stats::NodeStats>) -> bool {
    match known {
        Some(s) => s.trimmed_len >= PLAIN_TEXT_KEPT && s.link_density() < 0.25,
        None => text_len(el) >= PLAIN_TEXT_KEPT && link_density(el) < 0.25,
    }
}

/// An overlay-named element holding more text than this inside the chosen region is not a
/// box laid over the page but a wrapper named after a feature (`penci-enable-lightbox`).
const OVERLAY_MAX_CHARS: usize = 1500;

/// Parts of class/id tokens (between `-` and `_`) that, inside the chosen region, name a box
/// laid over the article rather than the article: a newsletter sign-up or a modal. Outside
/// it they are not used (`modal` also names wrappers of whole pages).
const REGION_OVERLAY_PARTS: &[&str] = &["newsletter", "modal"];

fn region_overlay_marked(el: ElementRef<'_>) -> bool {
    let v = el.value();
    [hint(v, "class"), hint(v, "id")]
        .into_iter()
        .flatten()
        .filter(|attr| REGION_OVERLAY_ANYWHERE.is_match(attr))
        .flat_map(str::split_whitespace)
        .any(|t| REGION_OVERLAY_TOKEN.is_match(t))
}

/// The words of [`REGION_OVERLAY_PARTS`] anywhere in an attribute (a quick test first).
static REGION_OVERLAY_ANYWHERE: LazyLock<Regex> =
    LazyLock::new(|| crate::regex_literal(&format!("(?i-u){}", REGION_OVERLAY_PARTS.join("|"))));

/// A class/id token with a part that is one of [`REGION_OVERLAY_PARTS`], ASCII case ignored.
static REGION_OVERLAY_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    crate::regex_literal(&format!(
        "(?i-u)(^|[-_])({})([-_]|$)",
        REGION_OVERLAY_PARTS.join("|")
    ))
});

/// Text from which an inline `<span>` that is all links is a box of links, not words of
/// the sentence around it.
const HOVER_CARD_CHARS: usize = 100;

/// Bytes of a `class` or `id` attribute read for hints: an ordinary one is far shorter,
/// and a hostile one (10 MB of class names) is not matched token by token.
const MAX_HINT_BYTES: usize = 2048;

/// The attribute `name` (`class`, `id`) of `v` as read for hints: its first
/// [`MAX_HINT_BYTES`], cut at a character boundary.
pub(crate) fn hint<'a>(v: &'a scraper::node::Element, name: &str) -> Option<&'a str> {
    let value = v.attr_of(name)?;
    if value.len() <= MAX_HINT_BYTES {
        return Some(value);
    }
    let mut end = MAX_HINT_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value.get(..end)
}

/// Is this element, inside a scored main-content block, boilerplate to leave out?
pub(crate) fn generic_boilerplate(
    el: ElementRef<'_>,
    stats: Option<&DocStats>,
    thread: bool,
) -> bool {
    let known = stats.and_then(|s| s.get(el));
    let link_density = |el| known.map_or_else(|| link_density(el), |s| s.link_density());
    let v = el.value();
    let name = v.name();
    if matches!(name, "nav" | "aside" | "footer" | "figcaption") {
        return true;
    }
    // A hover card inside a sentence (a person's name that opens a box of their latest
    // stories): an inline `<span>` holding a long text that is all links.
    if name == "span"
        && known.map_or_else(|| text_len(el), |s| s.trimmed_len) >= HOVER_CARD_CHARS
        && link_density(el) >= ALL_LINK
    {
        return true;
    }
    // A box laid over the page (a sign-up pop-up, a cookie-consent box, a modal) inside the
    // chosen region is left out however much plain text it holds: it is never the article.
    let marked = v.attr_of("class").is_some()
        || v.attr_of("id").is_some()
        || v.attr_of("role").is_some()
        || v.attr_of("aria-modal").is_some()
        || name == "dialog";
    if marked
        && (crate::generic::overlay_marked(el) || region_overlay_marked(el))
        && known.map_or_else(|| text_len(el), |s| s.trimmed_len) < OVERLAY_MAX_CHARS
    {
        return true;
    }
    let (class, id) = (
        hint(v, "class").unwrap_or_default(),
        hint(v, "id").unwrap_or_default(),
    );
    if !(class.trim().is_empty() && id.trim().is_empty()) {
        // A comment thread or a related-posts block is left out however much text it holds
        // (not `sidebar-…`: `sidebar-right` names a layout that holds the article).
        // On a page read as a thread, the comments are what it holds.
        if class
            .split_whitespace()
            .chain(id.split_whitespace())
            .any(|t| THREAD_OR_RELATED.is_match(t) && !(thread && THREAD_TOKEN.is_match(t)))
        {
            return true;
        }
        let hint = format!("{class} {id}");
        if GENERIC_CAPTION.is_match(&hint) {
            return true;
        }
        // A boilerplate name on a region that holds much plain text is a page builder's
        // name (`elementor-widget-wrap`), not boilerplate.
        let kept_in_thread = thread && THREAD_HINT.is_match(&hint);
        if GENERIC_NEGATIVE.is_match(&hint)
            && !GENERIC_POSITIVE.is_match(&hint)
            && !kept_in_thread
            && !much_plain_text(el, known)
        {
            return true;
        }
    }
    if matches!(name, "ul" | "ol") && link_density(el) > 0.5 {
        return true;
    }
    if matches!(name, "div" | "section" | "table") {
        let len = known.map_or_else(|| text_len(el), |s| s.trimmed_len);
        if len < 400 && link_density(el) > 0.6 {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(blocks: &[TextBlock]) -> Vec<(BlockKind, &str)> {
        blocks.iter().map(|b| (b.kind, b.text.as_str())).collect()
    }

    #[test]
    fn paragraphs_from_p_and_double_br() {
        let b = html_to_blocks(
            "<p>One  two</p>First line<br>second line<br><br>Third<br/> <br/>\n<br>Fourth",
        );
        assert_eq!(
            texts(&b),
            vec![
                (BlockKind::Paragraph, "One two"),
                (BlockKind::Paragraph, "First line\nsecond line"),
                (BlockKind::Paragraph, "Third"),
                (BlockKind::Paragraph, "Fourth"),
            ]
        );
    }

    #[test]
    fn div_soup_splits_at_block_boundaries() {
        let b = html_to_blocks(
            "<div>Alpha <b>beta</b></div><div><span>Gamma</span><div>Delta</div>tail</div>",
        );
        assert_eq!(
            texts(&b),
            vec![
                (BlockKind::Paragraph, "Alpha beta"),
                (BlockKind::Paragraph, "Gamma"),
                (BlockKind::Paragraph, "Delta"),
                (BlockKind::Paragraph, "tail"),
            ]
        );
    }

    #[test]
    fn roles_are_kept() {
        let b = html_to_blocks(
            "<h2>Head</h2><ul><li>one</li><li>two</li></ul><blockquote><p>said</p></blockquote><pre>  x = 1\n  y = 2</pre>",
        );
        assert_eq!(
            texts(&b),
            vec![
                (BlockKind::Heading, "Head"),
                (BlockKind::ListItem, "one"),
                (BlockKind::ListItem, "two"),
                (BlockKind::Quote, "said"),
                (BlockKind::Preformatted, "  x = 1\n  y = 2"),
            ]
        );
    }

    #[test]
    fn scripts_styles_and_hidden_parts_give_no_text() {
        let b = html_to_blocks(
            "<p>Kept</p><script>var x = 1;</script><style>p{}</style><noscript>dup</noscript>\
             <div style='display: none'>hidden</div><form>Post a Comment</form>",
        );
        assert_eq!(texts(&b), vec![(BlockKind::Paragraph, "Kept")]);
    }

    #[test]
    fn a_script_or_style_inside_pre_gives_no_text() {
        // What a reader sees; and the same whether or not the parser got the page with
        // script contents cut out (`rawtext`): fragments are parsed as they are.
        let b =
            html_to_blocks("<pre>  a = 1<script>alert(1)</script>\n  b<style>p{}</style></pre>");
        assert_eq!(texts(&b), vec![(BlockKind::Preformatted, "  a = 1\n  b")]);
    }

    #[test]
    fn a_trailing_link_list_goes_but_never_the_whole_body() {
        let block = |kind, text: &str| TextBlock {
            kind,
            text: text.to_string(),
        };
        let p = BlockKind::Paragraph;
        let blocks = vec![
            block(p, "The story, in words that are not links."),
            block(p, "More from us:"),
            block(p, "First teaser"),
            block(p, "Second teaser"),
        ];
        assert_eq!(trailing_link_list_start(&blocks, &[0.1, 0.0, 1.0, 1.0]), 1);
        // One trailing link is a sentence's link, not a list.
        assert_eq!(trailing_link_list_start(&blocks, &[0.1, 0.0, 0.0, 1.0]), 4);
        // A body of links only stays.
        assert_eq!(trailing_link_list_start(&blocks, &[1.0, 1.0, 1.0, 1.0]), 4);
        // A full sentence before the links is the article's last.
        let ends = vec![
            block(p, "It ends here."),
            block(p, "First teaser"),
            block(p, "Second teaser"),
        ];
        assert_eq!(trailing_link_list_start(&ends, &[0.0, 1.0, 1.0]), 1);
    }

    #[test]
    fn a_huge_class_attribute_is_read_in_part_at_a_char_boundary() {
        // `a` then two-byte characters: byte MAX_HINT_BYTES falls inside one.
        let class = format!("a{}", "é".repeat(MAX_HINT_BYTES));
        let html = format!("<div class=\"{class}\" id=\"main\">x</div>");
        let doc = scraper::Html::parse_fragment(&html);
        let div = doc
            .root_element()
            .descendants()
            .filter_map(ElementRef::wrap)
            .find(|e| e.value().name() == "div")
            .map(|e| e.value().clone());
        let div = div.as_ref().map(|d| (hint(d, "class"), hint(d, "id")));
        let (Some(Some(c)), Some(Some(id))) = (div.map(|d| d.0), div.map(|d| d.1)) else {
            panic!("no div");
        };
        assert_eq!(c.len(), MAX_HINT_BYTES - 1);
        assert!(c.chars().skip(1).all(|ch| ch == 'é'));
        assert_eq!(id, "main");
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let html = "<div>".repeat(5000) + "deep" + &"</div>".repeat(5000);
        let b = html_to_blocks(&html);
        assert_eq!(b.len(), 1);
    }
}
