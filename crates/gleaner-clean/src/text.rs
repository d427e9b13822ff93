//! Character-level normalisation and line/paragraph splitting.

use unicode_normalization::{IsNormalized, UnicodeNormalization};

/// What to do with one character before NFC.
enum CharAction {
    Keep(char),
    Space,
    Newline,
    Drop,
}

fn classify(c: char, keep_tabs: bool) -> CharAction {
    match c {
        '\n' | '\u{2028}' | '\u{2029}' | '\u{0085}' | '\u{000B}' | '\u{000C}' => {
            CharAction::Newline
        }
        '\t' if keep_tabs => CharAction::Keep('\t'),
        // Zero-width space, word joiner, BOM / zero-width no-break space, Mongolian vowel
        // separator, soft hyphen, and invisible operators.
        '\u{200B}'
        | '\u{2060}'
        | '\u{FEFF}'
        | '\u{180E}'
        | '\u{00AD}'
        | '\u{2061}'..='\u{2064}' => CharAction::Drop,
        // Zero-width (non-)joiner: orthographic in Persian and Indic scripts, glue in emoji.
        '\u{200C}' | '\u{200D}' => CharAction::Keep(c),
        c if c.is_control() => {
            if c == '\r' {
                CharAction::Newline
            } else {
                CharAction::Drop
            }
        }
        // No-break spaces, en/em spaces, ideographic space, … (everything Unicode calls white space).
        c if c.is_whitespace() => CharAction::Space,
        // Private-use-free noncharacters and the replacement char for undecodable bytes stay:
        // they are information about the source, not layout.
        c => CharAction::Keep(c),
    }
}

/// Map characters, fold `\r\n` to `\n`, and put the result in NFC.
fn map_chars(raw: &str, keep_tabs: bool) -> String {
    let mut mapped = String::with_capacity(raw.len());
    let mut prev_cr = false;
    let mut rest = raw;
    while !rest.is_empty() {
        // A run of printable ASCII (most of any text) stays as it is, what `classify`
        // answers for each of its chars: copied whole, not a char at a time.
        let run = rest
            .bytes()
            .position(|b| !(b' '..=b'~').contains(&b))
            .unwrap_or(rest.len());
        if run > 0 {
            // ASCII bytes end chars: the split is at a char boundary.
            let (ascii, after) = rest.split_at_checked(run).unwrap_or((rest, ""));
            mapped.push_str(ascii);
            prev_cr = false;
            rest = after;
            continue;
        }
        let mut chars = rest.chars();
        let Some(c) = chars.next() else { break };
        rest = chars.as_str();
        if c == '\n' && prev_cr {
            prev_cr = false;
            continue;
        }
        prev_cr = c == '\r';
        match classify(c, keep_tabs) {
            CharAction::Keep(k) => mapped.push(k),
            CharAction::Space => mapped.push(' '),
            CharAction::Newline => mapped.push('\n'),
            CharAction::Drop => {}
        }
    }
    // ASCII is NFC; most other text is too: the quick check settles that in one pass with no
    // copy.
    if mapped.is_ascii() {
        return mapped;
    }
    match unicode_normalization::is_nfc_quick(mapped.chars()) {
        IsNormalized::Yes => mapped,
        IsNormalized::No | IsNormalized::Maybe => mapped.nfc().collect(),
    }
}

/// Length in bytes of the white-space char (as `char::is_whitespace` tells it) that starts
/// at byte `i` of `s`, or `None` when the char there is not white space. Only the first
/// bytes of white-space chars are looked at closer: every other byte answers at once.
fn whitespace_at(s: &str, i: usize) -> Option<usize> {
    match *s.as_bytes().get(i)? {
        b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r' => Some(1),
        // U+0085, U+00A0; U+1680; U+2000..U+205F; U+3000: the lead bytes of every non-ASCII
        // white-space char.
        0xC2 | 0xE1 | 0xE2 | 0xE3 => {
            let c = s.get(i..)?.chars().next()?;
            c.is_whitespace().then(|| c.len_utf8())
        }
        _ => None,
    }
}

/// Collapse runs of white space in one line to single spaces and trim it.
fn collapse_line(line: &str) -> String {
    // Most lines are collapsed already (the scraper joins a page's text with single spaces):
    // checked in one pass over the bytes, then copied whole.
    let mut i = 0;
    let mut after_space = true; // at the start, a space is one too many
    let mut collapsed = true;
    while i < line.len() {
        if line.as_bytes().get(i) == Some(&b' ') {
            if after_space {
                collapsed = false;
                break;
            }
            after_space = true;
            i += 1;
        } else if whitespace_at(line, i).is_some() {
            collapsed = false;
            break;
        } else {
            after_space = false;
            i += 1;
        }
    }
    if collapsed && (!after_space || line.is_empty()) {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len());
    for word in line.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Normalise a short inline text (a heading, a list item, a title): characters mapped, NFC,
/// white space collapsed. Line breaks inside it are kept as single `\n`; empty lines go.
pub fn normalize_inline(raw: &str) -> String {
    let mapped = map_chars(raw, false);
    let lines: Vec<String> = mapped
        .split('\n')
        .map(collapse_line)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join("\n")
}

/// The paragraphs of a paragraph or quote block, each a list of lines: blank lines split
/// paragraphs, every line is collapsed. Boilerplate is judged later, over the whole body.
pub fn paragraphs_of(raw: &str) -> Vec<Vec<String>> {
    let mapped = map_chars(raw, false);
    let mut paragraphs = Vec::new();
    let mut current: Vec<String> = Vec::new();
    for line in mapped.split('\n') {
        let line = collapse_line(line);
        if line.is_empty() {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
            continue;
        }
        current.push(line);
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    paragraphs
}

/// A preformatted block: characters mapped and NFC, inner newlines and indentation kept,
/// trailing spaces of each line and leading/trailing blank lines removed. A blank line inside
/// becomes a line holding one space, so the block can never read as a paragraph break.
pub fn normalize_preformatted(raw: &str) -> String {
    let mapped = map_chars(raw, true);
    let mut lines: Vec<&str> = mapped.split('\n').map(str::trim_end).collect();
    while lines.first().is_some_and(|l| l.is_empty()) {
        lines.remove(0);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    // A blank line inside would read as a paragraph break; keep the gap as one space.
    let kept: Vec<&str> = lines
        .into_iter()
        .map(|l| if l.is_empty() { " " } else { l })
        .collect();
    kept.join("\n")
}

#[cfg(test)]
pub(crate) fn collapse_line_for_tests(line: &str) -> String {
    collapse_line(line)
}

#[cfg(test)]
pub(crate) fn map_chars_for_tests(raw: &str, keep_tabs: bool) -> String {
    map_chars(raw, keep_tabs)
}

/// `map_chars` as it was, a char at a time: the run-copying one must answer the same.
#[cfg(test)]
pub(crate) fn map_chars_before(raw: &str, keep_tabs: bool) -> String {
    let mut mapped = String::with_capacity(raw.len());
    let mut prev_cr = false;
    for c in raw.chars() {
        if c == '\n' && prev_cr {
            prev_cr = false;
            continue;
        }
        prev_cr = c == '\r';
        match classify(c, keep_tabs) {
            CharAction::Keep(k) => mapped.push(k),
            CharAction::Space => mapped.push(' '),
            CharAction::Newline => mapped.push('\n'),
            CharAction::Drop => {}
        }
    }
    mapped.nfc().collect()
}
