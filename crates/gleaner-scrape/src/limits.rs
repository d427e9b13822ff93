//! A cap on how deep a page's elements nest, applied before the HTML parser sees the page.
//!
//! A page is untrusted input. 200,000 nested `<div>`s (1 MB) made extraction quadratic: the
//! parser's scope checks and every walk up an element's ancestors cost the depth, once per
//! element. Browsers cap the tree depth their parser builds (Blink at 512) and libxml2 at 256;
//! this does the same before parsing: a linear scan over the tags keeps a stack of the open
//! elements that really nest, and a start tag that would open one deeper than
//! [`MAX_NESTING`] is left out together with its end tag, so its content joins the element
//! at the cap. Pages that stay under the cap (every real page we have seen; they nest some
//! tens deep) are passed on untouched, without a copy.
//!
//! Not counted, because the parser closes them by itself or they hold no elements: void
//! elements (`br`, `img`, …), elements whose end tag is optional or implied (`p`, `li`,
//! `td`, `option`, …), headings, links and forms (a second one closes or ignores the first),
//! and raw-text elements (`script`, `style`, `textarea`, …) whose content is skipped.

use std::borrow::Cow;
use std::collections::HashMap;

/// Deepest nesting of counted elements kept (libxml2's default; Blink keeps 512).
pub(crate) const MAX_NESTING: usize = 256;

/// Most start tags kept. A page with a million sibling elements (10 MB of `<div>x</div>`)
/// takes the parser alone over half a second and every later pass over the tree as long;
/// past this many elements the tags are left out and their text kept, so the rest of the
/// page is one run of text in the element open at the cap. The largest of the 718 real pages
/// in the evaluation sets has under 16,000 elements.
pub(crate) const MAX_ELEMENTS: usize = 100_000;

/// How far down the open-element stack an end tag looks for its start tag. An end tag that
/// matches nothing that near is ignored, as the parser mostly does; the bound keeps a run of
/// stray end tags linear.
const END_TAG_SEARCH: usize = 64;

fn uncounted(name: &[u8]) -> bool {
    // A `match` on the names, not a search through a list: this runs for every tag of the
    // page, and a list of 50 names cost 50 comparisons a tag.
    with_lowercase(name, |lower| {
        matches!(
            lower,
            // Void elements.
            b"area"
                | b"base"
                | b"br"
                | b"col"
                | b"embed"
                | b"hr"
                | b"img"
                | b"input"
                | b"link"
                | b"meta"
                | b"param"
                | b"source"
                | b"track"
                | b"wbr"
                | b"keygen"
                | b"basefont"
                | b"bgsound"
                | b"frame"
                | b"image"
                // End tag optional or implied by the next sibling.
                | b"p"
                | b"li"
                | b"dt"
                | b"dd"
                | b"option"
                | b"optgroup"
                | b"tr"
                | b"td"
                | b"th"
                | b"thead"
                | b"tbody"
                | b"tfoot"
                | b"colgroup"
                | b"caption"
                | b"rb"
                | b"rt"
                | b"rp"
                | b"rtc"
                | b"html"
                | b"head"
                | b"body"
                // A second one closes or ignores the first.
                | b"a"
                | b"form"
                | b"button"
                | b"nobr"
                | b"h1"
                | b"h2"
                | b"h3"
                | b"h4"
                | b"h5"
                | b"h6"
        )
    })
}

/// `f` of `name` in ASCII lowercase, copied on the stack (no name in the lists here is longer
/// than 8 bytes; a longer one is none of them, and `f` gets an empty name).
fn with_lowercase(name: &[u8], f: impl FnOnce(&[u8]) -> bool) -> bool {
    let mut buf = [0u8; 8];
    match buf.get_mut(..name.len()) {
        Some(lower) => {
            lower.copy_from_slice(name);
            lower.make_ascii_lowercase();
            f(lower)
        }
        None => f(b""),
    }
}

fn raw_text(name: &[u8]) -> bool {
    with_lowercase(name, |lower| {
        matches!(
            lower,
            b"script"
                | b"style"
                | b"textarea"
                | b"title"
                | b"xmp"
                | b"iframe"
                | b"noembed"
                | b"noframes"
                | b"noscript"
        )
    })
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let rest = hay.get(from..)?;
    let at = if let [one] = needle {
        memchr::memchr(*one, rest)
    } else {
        memchr::memmem::find(rest, needle)
    };
    at.map(|p| p + from)
}

/// Just past the first `-->` at or after `from` (the end of the page when there is none).
/// Each `>` is looked at once, where searching for `-->` built a searcher per comment.
fn comment_end(b: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(gt) = find(b, i, b">") {
        if gt >= from + 2 && b.get(gt - 2..gt) == Some(b"--") {
            return gt + 1;
        }
        i = gt + 1;
    }
    b.len()
}

/// The first `</name` (any case) at or after `from`.
fn find_end_tag(hay: &[u8], from: usize, name: &[u8]) -> Option<usize> {
    let mut i = from;
    while let Some(p) = find(hay, i, b"<") {
        if hay.get(p + 1) != Some(&b'/') {
            i = p + 1;
            continue;
        }
        let after = p + 2;
        if hay
            .get(after..after + name.len())
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
        {
            return Some(p);
        }
        i = after;
    }
    None
}

/// The end of the tag whose name ends at `i`: the index just past its `>` (quoted attribute
/// values may hold `>`), and whether it closes itself (`/>`).
fn tag_end(b: &[u8], mut i: usize) -> (usize, bool) {
    let mut prev = b' ';
    while let Some(&c) = b.get(i) {
        match c {
            b'>' => return (i + 1, prev == b'/'),
            b'"' | b'\'' if prev == b'=' => {
                i = b
                    .get(i + 1..)
                    .and_then(|rest| memchr::memchr(c, rest))
                    .map_or(b.len(), |p| i + 1 + p);
                prev = c;
            }
            _ if c.is_ascii_whitespace() => {}
            _ => prev = c,
        }
        i += 1;
    }
    (b.len(), false)
}

fn name_end(b: &[u8], start: usize) -> usize {
    b.get(start..).map_or(start, |rest| {
        rest.iter()
            .position(|&c| c.is_ascii_whitespace() || c == b'/' || c == b'>')
            .map_or(b.len(), |p| start + p)
    })
}

/// `html` with elements nested deeper than [`MAX_NESTING`] left out (their content kept);
/// borrowed unchanged when nothing nests that deep.
pub(crate) fn cap_nesting(html: &str) -> Cow<'_, str> {
    let b = html.as_bytes();
    // Open counted elements: (name start, name end) in `b`.
    let mut stack: Vec<(usize, usize)> = Vec::new();
    let mut foreign = 0usize;
    // Start tags left out, by lower-case name, whose end tags are still to be left out.
    let mut dropped: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    let mut elements = 0usize;
    let mut i = 0;
    while let Some(lt) = find(b, i, b"<") {
        let next = b.get(lt + 1).copied().unwrap_or(b' ');
        if b.get(lt..lt + 4) == Some(b"<!--") {
            i = comment_end(b, lt + 4);
            continue;
        }
        if next == b'!' || next == b'?' {
            i = find(b, lt, b">").map_or(b.len(), |p| p + 1);
            continue;
        }
        if next == b'/' {
            let start = lt + 2;
            if !b.get(start).is_some_and(u8::is_ascii_alphabetic) {
                i = lt + 1;
                continue;
            }
            let end = name_end(b, start);
            let (after, _) = tag_end(b, end);
            let name = &b[start..end];
            i = after;
            if elements > MAX_ELEMENTS {
                cuts.push((lt, after));
                continue;
            }
            if uncounted(name) {
                continue;
            }
            // (Nothing was left out on almost every page: no key to build then.)
            if !dropped.is_empty()
                && let Some(n) = dropped.get_mut(&name.to_ascii_lowercase())
                && *n > 0
            {
                *n -= 1;
                cuts.push((lt, after));
                continue;
            }
            let found = stack
                .iter()
                .rev()
                .take(END_TAG_SEARCH)
                .position(|&(s, e)| b[s..e].eq_ignore_ascii_case(name));
            if let Some(up) = found {
                let keep = stack.len() - 1 - up;
                for &(s, e) in &stack[keep..] {
                    let popped = &b[s..e];
                    if popped.eq_ignore_ascii_case(b"svg") || popped.eq_ignore_ascii_case(b"math") {
                        foreign = foreign.saturating_sub(1);
                    }
                }
                stack.truncate(keep);
            }
            continue;
        }
        if !next.is_ascii_alphabetic() {
            i = lt + 1;
            continue;
        }
        let start = lt + 1;
        let end = name_end(b, start);
        let (after, self_closing) = tag_end(b, end);
        let name = &b[start..end];
        i = after;
        elements += 1;
        if raw_text(name) {
            // The content is text up to the matching end tag: not scanned for tags.
            i = find_end_tag(b, after, name).unwrap_or(b.len());
            if elements > MAX_ELEMENTS {
                // Past the cap, a script's or style's content would become page text.
                let close = find(b, i, b">").map_or(b.len(), |p| p + 1);
                cuts.push((lt, close));
                i = close;
            }
            continue;
        }
        if elements > MAX_ELEMENTS {
            cuts.push((lt, after));
            continue;
        }
        if uncounted(name) || (self_closing && foreign > 0) {
            continue;
        }
        if stack.len() >= MAX_NESTING {
            *dropped.entry(name.to_ascii_lowercase()).or_insert(0) += 1;
            cuts.push((lt, after));
            continue;
        }
        if name.eq_ignore_ascii_case(b"svg") || name.eq_ignore_ascii_case(b"math") {
            foreign += 1;
        }
        stack.push((start, end));
    }
    // Cuts are whole tags, so they start and end on character boundaries.
    crate::rawtext::without_ranges(html, &cuts)
}

/// Parse a page with its nesting capped ([`cap_nesting`]), its scripts' and styles'
/// contents left out first ([`crate::rawtext`]).
pub(crate) fn parse_document(html: &str) -> scraper::Html {
    let emptied = crate::rawtext::empty_scripts_and_styles(html);
    scraper::Html::parse_document(&cap_nesting(&crate::entities::predecode(&emptied)))
}

/// Parse a fragment with its nesting capped ([`cap_nesting`]).
pub(crate) fn parse_fragment(html: &str) -> scraper::Html {
    scraper::Html::parse_fragment(&cap_nesting(&crate::entities::predecode(html)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_pages_pass_unchanged() {
        let html = "<html><body><div class='a>b'><p>x<p>y<ul><li>1<li>2</ul><br><img src=x>\
                    <script>if (a<b) { '<div>' }</script></div></body></html>";
        assert!(matches!(cap_nesting(html), Cow::Borrowed(_)));
    }

    #[test]
    fn deep_nesting_is_cut_at_the_cap_and_text_kept() {
        let n = 10_000;
        let html = "<div>".repeat(n) + "deep text" + &"</div>".repeat(n) + "<p>after</p>";
        let capped = cap_nesting(&html);
        assert_eq!(capped.matches("<div>").count(), MAX_NESTING);
        assert_eq!(capped.matches("</div>").count(), MAX_NESTING);
        assert!(capped.contains("deep text"));
        let doc = parse_document(&html);
        let depth = doc
            .root_element()
            .descendants()
            .map(|n| n.ancestors().count())
            .max()
            .unwrap_or(0);
        assert!(depth <= MAX_NESTING + 8, "depth {depth}");
    }

    #[test]
    fn elements_past_the_cap_become_text() {
        let unit = "<div class=item>word</div><script>var x = '<b>';</script>";
        let html = format!("<body>{}<p>last</p></body>", unit.repeat(MAX_ELEMENTS));
        let capped = cap_nesting(&html);
        let kept = capped.matches("<div").count() + capped.matches("<script").count();
        assert!(kept <= MAX_ELEMENTS, "{kept} start tags kept");
        assert!(capped.ends_with("wordlast"), "text after the cap is kept");
        let tail = capped.get(capped.len() - 1000..).unwrap_or("");
        assert!(tail.chars().all(|c| "wordlast".contains(c)), "{tail}");
        let doc = parse_document(&html);
        assert!(doc.root_element().descendants().count() < MAX_ELEMENTS * 3);
    }

    #[test]
    fn stray_end_tags_and_unclosed_tags_do_not_panic() {
        for html in [
            "</div></div><div",
            "<div a=\"unterminated",
            "<!-- open comment",
            "<script>never closed",
            "<svg><path/><path/></svg></svg>",
            "<é><ü></ü>",
        ] {
            let _ = cap_nesting(html);
        }
    }
}
