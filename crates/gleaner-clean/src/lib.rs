//! Text cleaning for gleaner: from the blocks a scraper found to the one body string that is
//! stored, searched and tagged.
//!
//! [`clean`] takes a [`ScrapedArticle`] and returns a [`CleanedArticle`]:
//!
//! - **Characters**: no-break and other Unicode spaces become a plain space; zero-width spaces,
//!   word joiners, byte-order marks, soft hyphens and control characters are removed; the text
//!   is put in Unicode NFC. Zero-width (non-)joiners (U+200C, U+200D) are *kept*: they are
//!   spelling in Persian and Indic scripts and glue emoji sequences.
//! - **Layout**: every block becomes one or more paragraphs separated by exactly one blank line
//!   (`"\n\n"`); runs of spaces inside a line collapse to one space; a line break inside a block
//!   (a `<br>` in the page) is kept as a single `"\n"`; consecutive list items are one paragraph,
//!   one item per line; a heading is its own paragraph; preformatted blocks keep their inner
//!   newlines and indentation.
//! - **Boilerplate**: whole lines that are Blogger furniture ("No comments:", "Post a Comment",
//!   "Powered by Blogger.", "Newer Post Older Post Home", share rows, "Subscribe to: Post
//!   Comments (Atom)", …, and their translations) are dropped; a line is dropped only when it
//!   consists *entirely* of such phrases, so a sentence that merely contains the words stays.
//!   A line holding only a network name or "Email" (a share popup's entries, one per line)
//!   goes only inside a run of furniture lines; alone it may be the article's own heading.
//!   A long paragraph identical to the one just before it is dropped (the first is kept),
//!   except on pages of the generic extractor, which drops a theme's copies itself.
//! - **Title**: the blog name is taken off ("Blog: Post", "Post | Blog", "Post - Blog").
//! - **Metadata**: language (ISO 639-1, detected with `whatlang` when the body is long enough to
//!   be reliable, otherwise from the page's language hint), word count, and a SHA-256 content
//!   hash over the normalised title and body for change detection.
//!
//! The returned `body` is the string every entity offset of `gleaner-tag` indexes into: clean
//! first, then tag the returned body, and never transform the body in between.
//!
//! How it is checked: `tests/blogger_fixtures.rs` scrapes and cleans Blogger post pages written
//! for the tests (classic and current themes, six languages) and compares every paragraph;
//! `tests/ui_strings.rs` holds Blogger's interface strings in eleven languages;
//! `tests/properties.rs` checks NFC, white space, controls and idempotence on random input; and
//! `cargo run -p gleaner-clean --example clean_eval` runs scrape + clean over the real pages
//! and feeds of `../shared/eval/blogger` against their gold file.
//!
//! Not for: HTML parsing or extraction (that is `gleaner-scrape`), entity tagging
//! (`gleaner-tag`), or anything with I/O. Cleaning is pure and deterministic and never panics.

mod boilerplate;
mod language;
mod text;
mod trigrams;

use boilerplate::LineClass;
use gleaner_model::{BlockKind, Extractor, ScrapedArticle};
use sha2::{Digest, Sha256};

pub use boilerplate::is_boilerplate_line;
pub use language::MIN_DETECT_CHARS;

/// ISO 639-1 code of `text`'s language when it has at least [`MIN_DETECT_CHARS`] chars and
/// whatlang is sure of it; no hint. Used to find a whole feed's language, so that entries too
/// short to tell their own can take it as their hint.
pub fn detect_language(text: &str) -> Option<String> {
    language::detect(text, None)
}
pub use text::normalize_inline;

/// The cleaned text of an article.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CleanedArticle {
    /// The title without the blog name.
    pub title: String,
    /// The body: normalised paragraphs separated by one blank line, boilerplate removed.
    pub body: String,
    /// ISO 639-1 code, when the text is long enough to tell.
    pub language: Option<String>,
    /// Words in the body.
    pub word_count: u32,
    /// Lowercase hex SHA-256 over the normalised title and body.
    pub content_hash: String,
}

/// Clean a scraped article. Never panics.
pub fn clean(scraped: &ScrapedArticle) -> CleanedArticle {
    let body = clean_blocks(scraped);
    let title = clean_title(
        scraped.title.as_deref().unwrap_or(""),
        scraped.site_name.as_deref(),
    );
    let language = language::detect(&body, scraped.language_hint.as_deref());
    let word_count = u32::try_from(count_words(&body)).unwrap_or(u32::MAX);
    let content_hash = content_hash(&title, &body);
    CleanedArticle {
        title,
        body,
        language,
        word_count,
        content_hash,
    }
}

/// One line of the body with its boilerplate class.
struct Line {
    text: String,
    class: LineClass,
}

impl Line {
    fn judged(text: String) -> Self {
        let class = boilerplate::classify_line(&text);
        Line { text, class }
    }

    /// A line that is never boilerplate (preformatted text).
    fn verbatim(text: String) -> Self {
        Line {
            text,
            class: LineClass::Text,
        }
    }
}

/// Build the body from the article's blocks: paragraphs separated by one blank line.
fn clean_blocks(scraped: &ScrapedArticle) -> String {
    let mut paragraphs: Vec<Vec<Line>> = Vec::new();
    let mut list: Vec<Line> = Vec::new();
    for block in &scraped.blocks {
        if block.kind != BlockKind::ListItem && !list.is_empty() {
            paragraphs.push(std::mem::take(&mut list));
        }
        match block.kind {
            // A list item or heading with a `<br>` inside is judged line by line, like a
            // paragraph, so that cleaning the cleaned body changes nothing.
            BlockKind::ListItem => {
                let item = text::normalize_inline(&block.text);
                list.extend(item.lines().map(|l| Line::judged(l.to_string())));
            }
            BlockKind::Preformatted => {
                let pre = text::normalize_preformatted(&block.text);
                if !pre.is_empty() {
                    paragraphs.push(vec![Line::verbatim(pre)]);
                }
            }
            BlockKind::Heading => {
                let heading = text::normalize_inline(&block.text);
                if !heading.is_empty() {
                    paragraphs.push(
                        heading
                            .lines()
                            .map(|l| Line::judged(l.to_string()))
                            .collect(),
                    );
                }
            }
            BlockKind::Paragraph | BlockKind::Quote => {
                paragraphs.extend(
                    text::paragraphs_of(&block.text)
                        .into_iter()
                        .map(|p| p.into_iter().map(Line::judged).collect()),
                );
            }
        }
    }
    if !list.is_empty() {
        paragraphs.push(list);
    }
    drop_furniture(&mut paragraphs);
    let mut paragraphs: Vec<String> = paragraphs
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(|p| p.into_iter().map(|l| l.text).collect::<Vec<_>>().join("\n"))
        .collect();
    // Drop a paragraph that repeats the one just before it, when it is long enough to be a
    // real paragraph printed twice (a theme repeating a block) and not a short line that an
    // article may legitimately repeat (table cells, recipe steps, "Ingredients", a refrain).
    // Short boilerplate repeats are caught by the boilerplate rules instead. Not for pages
    // of the generic extractor: it has dropped a theme's copies already, knowing where each
    // came from, and what repeats in its blocks is the author's (two sibling paragraphs).
    if scraped.extractor != Some(Extractor::Generic) {
        paragraphs.dedup_by(|later, earlier| {
            later == earlier && later.split_whitespace().count() >= REPEAT_MIN_WORDS
        });
    }
    paragraphs.join("\n\n")
}

/// Remove boilerplate lines. Lines in document order (across paragraphs) that are not text
/// form runs; a run holding any boilerplate line is furniture and goes whole, weak lines
/// included ("Get link / Facebook / X / Email / Other Apps"); a run of weak lines only
/// ("Facebook" as a heading) stays.
fn drop_furniture(paragraphs: &mut [Vec<Line>]) {
    let classes: Vec<LineClass> = paragraphs.iter().flatten().map(|l| l.class).collect();
    let mut keep = vec![true; classes.len()];
    let mut start = 0;
    while start < classes.len() {
        let run = classes
            .get(start..)
            .unwrap_or_default()
            .iter()
            .take_while(|c| **c != LineClass::Text)
            .count();
        if run == 0 {
            start += 1;
            continue;
        }
        let end = start + run;
        let furniture = classes
            .get(start..end)
            .is_some_and(|r| r.contains(&LineClass::Boilerplate));
        if furniture {
            keep.get_mut(start..end)
                .into_iter()
                .flatten()
                .for_each(|k| *k = false);
        }
        start = end;
    }
    let mut keep = keep.into_iter();
    for p in paragraphs.iter_mut() {
        p.retain(|_| keep.next().unwrap_or(true));
    }
}

/// Shortest paragraph (in words) that is dropped when it repeats the one before it.
const REPEAT_MIN_WORDS: usize = 8;

/// Clean a title: normalise it and take the blog name off when it is there.
///
/// With a known `site_name`, "Site: Title", "Site - Title", "Site | Title", "Title | Site",
/// "Title - Site" (also with en/em dashes, "·" and "::") give "Title". Without one, only the
/// unambiguous "Title | Short Name" (one pipe, a right side of at most four words, shorter than
/// the left) is cut; colons and dashes are left alone, because they are common in real titles.
pub fn clean_title(raw: &str, site_name: Option<&str>) -> String {
    let title = text::normalize_inline(raw).replace('\n', " ");
    let site = site_name
        .map(|s| text::normalize_inline(s).replace('\n', " "))
        .unwrap_or_default();
    if !site.is_empty() {
        if let Some(stripped) = strip_site(&title, &site) {
            return stripped;
        }
        return title;
    }
    let parts: Vec<&str> = title.split(" | ").collect();
    if let [left, right] = parts.as_slice() {
        let right_words = right.split_whitespace().count();
        if right_words <= 4
            && right.chars().count() < left.chars().count()
            && !left.trim().is_empty()
        {
            return left.trim().to_string();
        }
    }
    title
}

const TITLE_SEPARATORS: [&str; 7] = [":", " -", " –", " —", " |", " ·", " ::"];

fn strip_site(title: &str, site: &str) -> Option<String> {
    let lower_title = title.to_lowercase();
    let lower_site = site.to_lowercase();
    if lower_title == lower_site {
        return None;
    }
    // Lowercasing can change byte lengths, so work on char counts.
    let site_chars = site.chars().count();
    if lower_title.starts_with(&lower_site) && lower_title.chars().count() == title.chars().count()
    {
        let rest: String = title.chars().skip(site_chars).collect();
        for sep in TITLE_SEPARATORS {
            let sep = sep.trim_start();
            if let Some(after) = rest.trim_start().strip_prefix(sep) {
                let after = after.trim();
                if !after.is_empty() {
                    return Some(after.to_string());
                }
            }
        }
    }
    if lower_title.ends_with(&lower_site) && lower_title.chars().count() == title.chars().count() {
        let keep = title.chars().count().saturating_sub(site_chars);
        let rest: String = title.chars().take(keep).collect();
        let rest = rest.trim_end();
        for sep in TITLE_SEPARATORS {
            let sep = sep.trim_start();
            if let Some(before) = rest.strip_suffix(sep) {
                let before = before.trim();
                if !before.is_empty() {
                    return Some(before.to_string());
                }
            }
        }
    }
    None
}

/// Words in `text`: whitespace-separated runs holding at least one letter or digit.
pub fn count_words(text: &str) -> usize {
    // One pass (what `split_whitespace` and a scan of each word for a letter did in two),
    // whitespace as `split_whitespace` tells it. A word is counted at its first letter or
    // digit; white space ends it. ASCII is classed by a table, other chars decoded.
    const SPACE: u8 = 1;
    const ALNUM: u8 = 2;
    const CLASS: [u8; 128] = {
        let mut class = [0u8; 128];
        let mut b = 0;
        while b < 128 {
            class[b] = match b as u8 {
                b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r' => SPACE,
                b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' => ALNUM,
                _ => 0,
            };
            b += 1;
        }
        class
    };
    let bytes = text.as_bytes();
    let mut words = 0;
    let mut counted = false;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let class = match CLASS.get(usize::from(b)) {
            Some(&class) => {
                i += 1;
                class
            }
            None => {
                let Some(c) = text.get(i..).and_then(|r| r.chars().next()) else {
                    break;
                };
                i += c.len_utf8();
                if c.is_whitespace() {
                    SPACE
                } else if c.is_alphanumeric() {
                    ALNUM
                } else {
                    0
                }
            }
        };
        if class == SPACE {
            counted = false;
        } else if class == ALNUM && !counted {
            counted = true;
            words += 1;
        }
    }
    words
}

/// Lowercase hex SHA-256 of `title + "\n" + body`.
pub fn content_hash(title: &str, body: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(title.as_bytes());
    hasher.update(b"\n");
    hasher.update(body.as_bytes());
    let digest = hasher.finalize();
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(byte & 0xf), 16).unwrap_or('0'));
    }
    out
}

#[cfg(test)]
mod tests;
