//! A tokenizer for news text that keeps character offsets.
//!
//! Words keep inner hyphens ("Amir-Abdollahian", "al-Assad", "Su-35") and apostrophes
//! ("O'Brien"), but a possessive "’s" / "'s" is its own token so that "Raisi’s" gives the
//! mention "Raisi". Numbers keep inner separators ("1,000.5", "9:35"). Known abbreviations and
//! initials keep their period ("Mr.", "U.S.", "W."). Every other non-space character is a
//! token of its own.

use unicode_normalization::char::is_combining_mark;

/// One token with its position in the text, in chars and in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token<'a> {
    /// The token's text.
    pub text: &'a str,
    /// Start offset in chars (inclusive).
    pub start: usize,
    /// End offset in chars (exclusive).
    pub end: usize,
    /// Start offset in bytes.
    pub byte_start: usize,
    /// End offset in bytes.
    pub byte_end: usize,
    /// First token of a sentence, a line, or a quotation: its capital letter says nothing.
    pub sentence_start: bool,
}

impl Token<'_> {
    /// Is this a word (holds a letter or digit)?
    pub fn is_word(&self) -> bool {
        self.text.chars().any(char::is_alphanumeric)
    }
}

/// Abbreviations that keep their final period (compared without it, case-sensitively).
const ABBREVIATIONS: &[&str] = &[
    "Mr", "Mrs", "Ms", "Dr", "Prof", "Sr", "Jr", "St", "Mt", "Ft", "Gen", "Sen", "Rep", "Gov",
    "Lt", "Col", "Capt", "Sgt", "Adm", "Maj", "Rev", "Hon", "Inc", "Corp", "Ltd", "Co", "Bros",
    "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec", "No",
    "Nos", "vs", "etc", "approx", "Ave", "Blvd", "Dept", "Univ", "est",
];

fn is_word_char(c: char) -> bool {
    // (No combining mark is ASCII: an ASCII char is told by its byte.)
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    c.is_alphanumeric() || is_combining_mark(c)
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}')
}

fn is_hyphen(c: char) -> bool {
    matches!(c, '-' | '\u{2010}' | '\u{2011}')
}

fn is_sentence_end(text: &str) -> bool {
    matches!(text, "." | "!" | "?" | "…" | "。" | "！" | "？")
}

fn is_opening_quote(text: &str) -> bool {
    matches!(text, "\"" | "“" | "‘" | "«" | "„" | "(" | "[")
}

/// The char at byte `b` of `text` and the two after it.
fn three_at(text: &str, b: usize) -> (Option<char>, Option<char>, Option<char>) {
    let mut it = text.get(b..).unwrap_or("").chars();
    (it.next(), it.next(), it.next())
}

/// Split `text` into tokens. Never panics; offsets always lie on char boundaries. One pass,
/// holding nothing per char beyond the tokens.
pub fn tokenize(text: &str) -> Vec<Token<'_>> {
    // About one token per five bytes of prose: room for most texts at once.
    let mut tokens: Vec<Token<'_>> = Vec::with_capacity(text.len() / 5 + 1);
    let bytes = text.as_bytes();
    // The position: in bytes and in chars.
    let mut b = 0;
    let mut i = 0;
    let mut newline_before = true;
    let mut space_before = true;
    // What the token before is ([`is_sentence_end`], [`is_opening_quote`]): told when it is
    // made, not compared again at the next token. (A word or a possessive is neither: every
    // such text is one char of punctuation.)
    let mut prev_end = false;
    let mut prev_quote = false;
    while let Some(&byte) = bytes.get(b) {
        // ASCII white space (most of it), told by its byte: as the branch below would.
        if matches!(byte, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r') {
            newline_before |= byte == b'\n';
            space_before = true;
            b += 1;
            i += 1;
            continue;
        }
        let (start, byte_start) = (i, b);
        let mut punct = false;
        if byte.is_ascii_alphanumeric() {
            // A word (most tokens): an ASCII letter or digit is a word char, and no apostrophe.
            (b, i) = word_end(text, b, i);
        } else {
            let (Some(c), next, after) = three_at(text, b) else {
                break;
            };
            if c.is_whitespace() {
                if c == '\n' {
                    newline_before = true;
                }
                space_before = true;
                b += c.len_utf8();
                i += 1;
                continue;
            }
            if is_apostrophe(c)
                && matches!(next, Some('s' | 'S'))
                && !after.is_some_and(is_word_char)
                && !space_before
            {
                // Possessive "’s" of the word before.
                b += c.len_utf8() + 1;
                i += 2;
            } else if is_word_char(c) {
                (b, i) = word_end(text, b, i);
            } else {
                b += c.len_utf8();
                i += 1;
                punct = true;
            }
        }
        let piece = text.get(byte_start..b).unwrap_or("");
        let sentence_start = newline_before
            || tokens.last().is_none_or(|p| {
                prev_end
                    || (prev_quote && p.sentence_start)
                    || (prev_quote && tokens.len() >= 2 && space_before_token(text, p))
            });
        tokens.push(Token {
            text: piece,
            start,
            end: i,
            byte_start,
            byte_end: b,
            sentence_start,
        });
        prev_end = punct && is_sentence_end(piece);
        prev_quote = punct && is_opening_quote(piece);
        newline_before = false;
        space_before = false;
    }
    tokens
}

/// Was `token` preceded by white space (or the start of the text)?
fn space_before_token(text: &str, token: &Token<'_>) -> bool {
    text.get(..token.byte_start)
        .and_then(|s| s.chars().next_back())
        .is_none_or(char::is_whitespace)
}

/// The end (exclusive; in bytes and in chars) of the word starting at byte `start_byte`, char
/// `start`.
fn word_end(text: &str, start_byte: usize, start: usize) -> (usize, usize) {
    let mut b = start_byte;
    let mut i = start;
    // The char before the position (inside the word: the digit-separator rule is only asked
    // past the word's first char).
    let mut prev: Option<char> = None;
    // Inside a run of initials ("U.S.A."): the word so far is known to be initials, so it is not
    // read again at every period (that would be quadratic in the run's length).
    let mut in_initials = false;
    loop {
        // ASCII letters and digits (most of a word) are word chars: the first branch below,
        // taken in one tight run.
        let run = text
            .as_bytes()
            .get(b..)
            .unwrap_or(&[])
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        if run > 0 {
            b += run;
            i += run;
            prev = text.as_bytes().get(b - 1).map(|&c| char::from(c));
        }
        // Any other ASCII byte but the few a word may hold inside (or the end of the text)
        // ends the word: as the `match` below would, without decoding chars.
        match text.as_bytes().get(b) {
            None => return (b, i),
            Some(&byte)
                if byte.is_ascii() && !matches!(byte, b'-' | b'\'' | b',' | b'.' | b':') =>
            {
                return (b, i);
            }
            Some(_) => {}
        }
        let (ch, next, after) = three_at(text, b);
        let step = match ch {
            Some(ch) if is_word_char(ch) => ch,
            Some(ch) if is_hyphen(ch) && next.is_some_and(is_word_char) && i > start => ch,
            Some(ch)
                if is_apostrophe(ch)
                    && next.is_some_and(char::is_alphabetic)
                    && !is_possessive(next, after) =>
            {
                ch
            }
            Some(ch @ (',' | '.' | ':'))
                if prev.is_some_and(|p| p.is_ascii_digit())
                    && next.is_some_and(|n| n.is_ascii_digit()) =>
            {
                ch
            }
            Some('.') => {
                let (initials, abbreviation) = if in_initials {
                    (true, false)
                } else {
                    let word = text.get(start_byte..b).unwrap_or("");
                    (is_initials(word), ABBREVIATIONS.contains(&word))
                };
                if initials || abbreviation {
                    b += 1;
                    i += 1;
                    prev = Some('.');
                    // "U.S." / "U.S.A.": a letter and a period again.
                    if initials && next.is_some_and(char::is_uppercase) && after == Some('.') {
                        in_initials = true;
                        continue;
                    }
                }
                return (b, i);
            }
            _ => return (b, i),
        };
        b += step.len_utf8();
        i += 1;
        prev = Some(step);
    }
}

/// Do these two chars after an apostrophe make a possessive "’s"?
fn is_possessive(next: Option<char>, after: Option<char>) -> bool {
    matches!(next, Some('s' | 'S')) && !after.is_some_and(is_word_char)
}

/// "U", "U.S", "W": one uppercase letter, or uppercase letters separated by periods.
fn is_initials(word: &str) -> bool {
    let mut expect_letter = true;
    let mut letters = 0;
    for ch in word.chars() {
        if expect_letter {
            if !ch.is_uppercase() {
                return false;
            }
            letters += 1;
        } else if ch != '.' {
            return false;
        }
        expect_letter = !expect_letter;
    }
    letters >= 1 && !expect_letter
}

/// Build tokens for an already tokenised sentence (CoNLL input): offsets count as if the
/// tokens were joined with single spaces; the first token starts the sentence.
pub fn tokens_from_words<'a>(words: &[&'a str]) -> Vec<Token<'a>> {
    let mut out = Vec::with_capacity(words.len());
    let mut start = 0;
    let mut byte = 0;
    for (k, w) in words.iter().enumerate() {
        let len = w.chars().count();
        let prev_text = if k > 0 {
            words.get(k - 1).copied()
        } else {
            None
        };
        let sentence_start =
            prev_text.is_none_or(|p| is_sentence_end(p) || (is_opening_quote(p) && k == 1));
        out.push(Token {
            text: w,
            start,
            end: start + len,
            byte_start: byte,
            byte_end: byte + w.len(),
            sentence_start,
        });
        start += len + 1;
        byte += w.len() + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<&str> {
        tokenize(s).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn words_keep_hyphens_and_split_possessives() {
        assert_eq!(
            texts("Raisi’s trip; Amir-Abdollahian met al-Assad's aide."),
            [
                "Raisi",
                "’s",
                "trip",
                ";",
                "Amir-Abdollahian",
                "met",
                "al-Assad",
                "'s",
                "aide",
                "."
            ]
        );
        assert_eq!(texts("O'Brien don't"), ["O'Brien", "don't"]);
    }

    #[test]
    fn numbers_abbreviations_and_initials() {
        assert_eq!(
            texts("Mr. Lavrov paid $1,000.50 (12%) in the U.S. at 9:35."),
            [
                "Mr.", "Lavrov", "paid", "$", "1,000.50", "(", "12", "%", ")", "in", "the", "U.S.",
                "at", "9:35", "."
            ]
        );
        assert_eq!(texts("George W. Bush"), ["George", "W.", "Bush"]);
        assert_eq!(texts("the end. Next"), ["the", "end", ".", "Next"]);
    }

    #[test]
    fn offsets_are_chars_and_sentence_starts_are_marked() {
        let text = "Él vino. “Putin” dijo\nIran";
        let toks = tokenize(text);
        for t in &toks {
            assert_eq!(
                gleaner_model::char_slice(text, t.start, t.end),
                Some(t.text)
            );
            assert_eq!(text.get(t.byte_start..t.byte_end), Some(t.text));
        }
        let starts: Vec<&str> = toks
            .iter()
            .filter(|t| t.sentence_start)
            .map(|t| t.text)
            .collect();
        assert_eq!(starts, ["Él", "“", "Putin", "Iran"]);
    }
}
