//! The number rules on the ASCII stand-in, run only where a number is.
//!
//! In the stand-in (see `stand_in`) every char is one ASCII byte as the patterns see it: `\d`
//! is `[0-9]`, `\s` is ASCII white space, `\b` is the ASCII word boundary. Every pattern but
//! the month, weekday and "today" ones holds a digit, so one byte pass finds the *clusters*
//! (maximal runs of `[0-9,.]` holding a digit: a number with its separators) and each such
//! pattern is run only in a small window around the clusters that can start one of its
//! matches ([`captures_near_digits`]); the bare-year rule is a byte scan over the clusters
//! ([`bare_years`]) instead of a regex search from every year.

use regex::{Captures, Regex};

/// A run of bytes in `[0-9,.]` holding a digit, as long as it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Cluster {
    /// The run's first byte (a digit, or the `,`/`.` before its first digit).
    pub start: usize,
    /// Its first digit.
    pub digit: usize,
    /// The byte after its last one.
    pub end: usize,
}

/// The byte at `i`, or 0 (which no rule reads as anything) outside the text.
fn byte(hay: &[u8], i: usize) -> u8 {
    hay.get(i).copied().unwrap_or(0)
}

/// The byte `back` bytes before `i`, or 0.
fn byte_before(hay: &[u8], i: usize, back: usize) -> u8 {
    i.checked_sub(back).map_or(0, |j| byte(hay, j))
}

/// `\s` on the stand-in (Unicode White_Space within ASCII).
fn space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ')
}

fn digit(hay: &[u8], i: usize) -> bool {
    byte(hay, i).is_ascii_digit()
}

fn in_run(b: u8) -> bool {
    b.is_ascii_digit() || b == b',' || b == b'.'
}

/// `\w` on the stand-in.
fn word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Every cluster of `hay`, in order (one pass; blocks without a digit are skipped whole).
pub(super) fn clusters(hay: &[u8]) -> Vec<Cluster> {
    const BLOCK: usize = 32;
    let mut out = Vec::new();
    let mut i = 0;
    let mut last_end = 0;
    while i < hay.len() {
        // (Asked of a whole block at once: a few vector instructions.)
        if let Some(block) = hay.get(i..i + BLOCK)
            && !block
                .iter()
                .fold(false, |any, &b| any | (b.wrapping_sub(b'0') < 10))
        {
            i += BLOCK;
            continue;
        }
        if !byte(hay, i).is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut start = i;
        while start > last_end && matches!(byte_before(hay, start, 1), b',' | b'.') {
            start -= 1;
        }
        let mut end = i + 1;
        while end < hay.len() && in_run(byte(hay, end)) {
            end += 1;
        }
        out.push(Cluster {
            start,
            digit: i,
            end,
        });
        last_end = end;
        i = end;
    }
    out
}

/// Which pattern a window search is for: what its matches need around the cluster holding
/// their first digit, and how far they reach from it.
#[derive(Clone, Copy, Debug)]
pub(super) enum Shape {
    /// `[-+]?NUM\s?(%|per cent|…)`.
    Percent,
    /// `CUR\s?NUM(\s?SCALE\b)?`, a symbol before.
    MoneySymbol,
    /// The same with a code ("USD") before.
    MoneyCode,
    /// `\bNUM(\s?SCALE)?\s(US\s)?CUR\b`.
    MoneyWord,
    /// `\b\d{4}-\d{2}-\d{2}\b`.
    IsoDate,
    /// `\bMONTH\s\d{1,2}(st|…)?(,?\s\d{4})?\b`.
    MonthDayYear,
    /// `\b\d{1,2}(st|…)?\s(of\s)?MONTH(,?\s\d{4})?\b`.
    DayMonthYear,
    /// `\bMONTH,?\s\d{4}\b`.
    MonthYear,
}

impl Shape {
    /// (`before`, `after`): a match whose first digit is in cluster `c` starts at most
    /// `before` bytes before that digit and ends at most `after` bytes after `c.end`.
    ///
    /// A `NUM` (`\d{1,3}(,\d{3})+(\.\d+)?|\d+(\.\d+)?`) is all `[0-9,.]`, so it lies in one
    /// cluster; every other part of a pattern is bounded: a month is at most 9 bytes
    /// ("September"), a symbol 3 (its UTF-8 length), a scale 8 ("trillion"), a currency
    /// word 15 ("pounds sterling").
    fn reach(self) -> (usize, usize) {
        match self {
            // "-", then "\s?percentage points".
            Shape::Percent => (1, 18),
            // "HK$" or a symbol's 3 bytes and a space; then " trillion".
            Shape::MoneySymbol | Shape::MoneyCode => (4, 9),
            // " trillion", " ", "US ", "pounds sterling".
            Shape::MoneyWord => (0, 28),
            Shape::IsoDate => (0, 6),
            // "September "; "th, 2021" after the day's cluster.
            Shape::MonthDayYear => (10, 8),
            // "th of September, 2021".
            Shape::DayMonthYear => (0, 21),
            // "September, ".
            Shape::MonthYear => (11, 0),
        }
    }

    /// Can a match have its first digit in cluster `c`? (Necessary, not sufficient: false
    /// only where the pattern cannot match.)
    ///
    /// A match never starts with `,` or `.`, and what follows a `NUM` or a day (a space, `%`,
    /// a scale's or suffix's letter, `-`) is outside `[0-9,.]`: such a part ends where the
    /// cluster ends. What precedes a number after a space, a symbol or a month (a space, `$`,
    /// a symbol's last stand-in byte `0x7F`, a letter) is outside it too: such a number
    /// starts where the cluster starts, at a digit.
    fn may_match(self, hay: &[u8], c: Cluster) -> bool {
        let at_end = byte(hay, c.end);
        let then = byte(hay, c.end + 1);
        let starts_at_digit = c.start == c.digit;
        let before = byte_before(hay, c.digit, 1);
        let before2 = byte_before(hay, c.digit, 2);
        match self {
            Shape::Percent => {
                matches!(at_end, b'%' | b'p') || space(at_end) && matches!(then, b'%' | b'p')
            }
            // After the number, a space or not, then a scale or the currency (a word, or "US",
            // or a code): one of their first letters.
            Shape::MoneyWord => {
                let next = if space(at_end) { then } else { at_end };
                matches!(
                    next,
                    b't' | b'm'
                        | b'b'
                        | b'k'
                        | b'd'
                        | b'e'
                        | b'p'
                        | b'y'
                        | b'r'
                        | b'l'
                        | b'f'
                        | b's'
                        | b'w'
                        | b'U'
                        | b'E'
                        | b'G'
                        | b'J'
                        | b'C'
                        | b'R'
                        | b'I'
                        | b'S'
                        | b'T'
                        | b'A'
                )
            }
            Shape::MoneySymbol => {
                let sym = |b: u8| b == b'$' || b == super::FILLER;
                starts_at_digit && (sym(before) || space(before) && sym(before2))
            }
            Shape::MoneyCode => {
                starts_at_digit
                    && (before.is_ascii_uppercase()
                        || space(before) && before2.is_ascii_uppercase())
            }
            Shape::IsoDate => at_end == b'-',
            // The day: one or two digits after a month's last letter (or dot) and a space.
            Shape::MonthDayYear => {
                starts_at_digit
                    && space(before)
                    && (before2.is_ascii_alphabetic() || before2 == b'.')
                    && !(digit(hay, c.digit + 1) && digit(hay, c.digit + 2))
            }
            // The day: one or two digits ending the cluster, a suffix or not, a space, then a
            // month (a capital among its first letters) or "of" and a space.
            Shape::DayMonthYear => {
                let month_or_of = |i: usize| {
                    matches!(
                        byte(hay, i),
                        b'J' | b'F' | b'M' | b'A' | b'S' | b'O' | b'N' | b'D'
                    ) || byte(hay, i) == b'o' && byte(hay, i + 1) == b'f' && space(byte(hay, i + 2))
                };
                let suffix = matches!(
                    hay.get(c.end..c.end + 2),
                    Some(b"st" | b"nd" | b"rd" | b"th")
                );
                let day = c.end.checked_sub(1).is_some_and(|i| digit(hay, i))
                    && !(c.end >= 3 && digit(hay, c.end - 2) && digit(hay, c.end - 3));
                day && (space(at_end) && month_or_of(c.end + 1)
                    || suffix && space(byte(hay, c.end + 2)) && month_or_of(c.end + 3))
            }
            // The year: four digits after a space after a month (or its dot, or a comma).
            Shape::MonthYear => {
                starts_at_digit
                    && space(before)
                    && (before2.is_ascii_alphabetic() || matches!(before2, b'.' | b','))
                    && digit(hay, c.digit + 3)
                    && !digit(hay, c.digit + 4)
            }
        }
    }
}

/// `re.captures_iter(hay)` (the same matches, in order) for a pattern of `shape` on the
/// stand-in `hay`, running `re` only in windows around the clusters that may hold a match's
/// first digit.
///
/// Why it is the same: say the last match ended at `pos` and the first digit at or after
/// `pos` is `q`, in cluster `c`. Every later match holds a digit, its first one at or after
/// `q`, so it starts at or after `q − before`. A match that starts before `c.end` has its
/// first digit in `c` (before `q` there is none after `pos`; in `c` a match starts only at a
/// digit), so it ends by `c.end + after`: in the window (cut at `c.end + after + 2`) it is a
/// match too, with the char after it, and so is every other way the pattern could match there,
/// and nothing the cut text matches from before `c.end` reaches the cut (it would be such a
/// match). So the first match the window gives from `max(pos, q − before)`, if it starts before
/// `c.end`, is the whole text's; if there is none such, no match starts before `c.end`. A
/// cluster where the pattern cannot have its first digit ([`Shape::may_match`]) is passed over.
/// Each window is searched at most twice (a match starting in a cluster leaves it), so the
/// work is linear in the text.
pub(super) fn captures_near_digits<'h>(
    re: &Regex,
    hay: &'h str,
    clusters: &[Cluster],
    shape: Shape,
) -> Vec<Captures<'h>> {
    let bytes = hay.as_bytes();
    let (before, after) = shape.reach();
    let mut out = Vec::new();
    let mut pos = 0;
    let mut k = 0;
    while let Some(&c) = clusters.get(k) {
        if c.end <= pos || !shape.may_match(bytes, c) {
            k += 1;
            continue;
        }
        // The first digit at or after `pos` (in `c` when there is one).
        let mut q = c.digit.max(pos);
        while q < c.end && !byte(bytes, q).is_ascii_digit() {
            q += 1;
        }
        if q >= c.end {
            k += 1;
            continue;
        }
        let start = q.saturating_sub(before).max(pos);
        let end = c.end.saturating_add(after + 2).min(hay.len());
        let whole = end == hay.len();
        let window = hay.get(..end).unwrap_or(hay);
        #[cfg(test)]
        tests::count_work(end.saturating_sub(start));
        let found = re
            .captures_at(window, start)
            .filter(|caps| caps.get(0).is_some_and(|m| whole || m.start() < c.end));
        match found {
            Some(caps) => {
                let (m_start, m_end) = caps.get(0).map_or((pos, pos), |m| (m.start(), m.end()));
                out.push(caps);
                // (No pattern here matches the empty string; if one did, step past it.)
                pos = if m_end > m_start { m_end } else { m_end + 1 };
            }
            None => {
                pos = c.end;
                k += 1;
            }
        }
    }
    out
}

/// A bare year the rule tags: its bytes, and whether it is a decade ("1990s").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct BareYear {
    pub start: usize,
    pub decade: bool,
}

const TEMPORAL: &[&[u8]] = &[
    b"in", b"since", b"until", b"till", b"by", b"from", b"before", b"after", b"during", b"of",
    b"through", b"to", b"between", b"and", b"early", b"late", b"mid", b"year", b"the", b"around",
    b"circa",
];

/// The bare years of the stand-in `hay`: what the regex loop of `dates` (a search for
/// `\b(?P<prev>[A-Za-z]+)[\s-](?P<year>1[89]\d\d|20\d\d|2100)(?P<decade>s)?\b(?P<after>…)?`
/// from each year's end on) tags, found by reading the bytes around each cluster.
///
/// A match's year follows `[\s-]`, so it starts a cluster, at a digit; it is four digits and
/// then `s` and a non-word byte (a decade) or a non-word byte. Its `prev` is the run of
/// letters before the `[\s-]`, from a word boundary, and from no earlier than where the
/// search starts (the loop searches the text cut there: a letter there starts a word). The
/// matches are met in the order of their years, as the loop meets them, and the loop moves
/// past a year's end whether it tags it or not (past the `s` too when it tags a decade).
pub(super) fn bare_years(hay: &[u8], clusters: &[Cluster]) -> Vec<BareYear> {
    let mut out = Vec::new();
    let mut at = 0;
    for c in clusters {
        let y = c.digit;
        if c.start != y {
            continue;
        }
        let Some(year) = hay.get(y..y + 4) else {
            continue;
        };
        let is_year = match *year {
            [b'1', b'8' | b'9', c, d] | [b'2', b'0', c, d] => {
                c.is_ascii_digit() && d.is_ascii_digit()
            }
            [b'2', b'1', b'0', b'0'] => true,
            _ => false,
        };
        let sep = byte_before(hay, y, 1);
        if !is_year || !(space(sep) || sep == b'-') || y < at + 2 {
            continue;
        }
        // `prev`: the letters before the separator, back to `at` at most.
        let mut w = y - 1;
        while w > at && byte_before(hay, w, 1).is_ascii_alphabetic() {
            w -= 1;
            #[cfg(test)]
            tests::count_work(1);
        }
        if w == y - 1 || w > at && word(byte_before(hay, w, 1)) {
            continue;
        }
        // `(?P<decade>s)?\b`.
        let next = byte(hay, y + 4);
        let decade = next == b's' && !word(byte(hay, y + 5));
        if !decade && word(next) {
            continue;
        }
        // A match: the loop goes on from the year's end.
        at = y + 4;
        let prev = hay.get(w..y - 1).unwrap_or(&[]);
        let temporal = TEMPORAL
            .iter()
            .any(|t| t.len() == prev.len() && t.eq_ignore_ascii_case(prev));
        if !temporal {
            continue;
        }
        // `after`: `\s?(?:[%\d$-]|€|£)` (never tagged then), or `\s[A-Za-z]+`.
        let a = y + 4 + usize::from(decade);
        let sign = |i: usize| {
            let b = byte(hay, i);
            matches!(b, b'%' | b'$' | b'-') || b.is_ascii_digit()
                // `€` (the first symbol) and `£` (the second) as the stand-in writes them.
                || b == 1 && byte(hay, i + 1) == super::FILLER && byte(hay, i + 2) == super::FILLER
                || b == 2 && byte(hay, i + 1) == super::FILLER
        };
        if sign(a) || space(byte(hay, a)) && sign(a + 1) {
            continue;
        }
        let lower_word_after = space(byte(hay, a)) && {
            let mut i = a + 1;
            let mut lower = byte(hay, i).is_ascii_alphabetic();
            while byte(hay, i).is_ascii_alphabetic() {
                lower &= byte(hay, i).is_ascii_lowercase();
                i += 1;
                #[cfg(test)]
                tests::count_work(1);
            }
            lower
        };
        if prev.eq_ignore_ascii_case(b"the") && !decade && !lower_word_after {
            continue;
        }
        if decade && year.get(3) != Some(&b'0') {
            continue;
        }
        out.push(BareYear { start: y, decade });
        if decade {
            at += 1;
        }
    }
    out
}

/// Can a month named at `q` of the stand-in follow a preposition of the bare-month rule
/// (`\b(?P<prep>[Ii]n|…|[Mm]id-?|[Ee]nd of|[Bb]eginning of)\s?MONTH`)? (Necessary, not
/// sufficient: the case of the first letter and the word boundary are left to the regex.)
pub(super) fn after_preposition(hay: &[u8], q: usize) -> bool {
    const PREPOSITIONS: [&[u8]; 16] = [
        b"in",
        b"since",
        b"until",
        b"by",
        b"from",
        b"during",
        b"through",
        b"early",
        b"late",
        b"last",
        b"next",
        b"this",
        b"mid",
        b"mid-",
        b"end of",
        b"beginning of",
    ];
    let ends_with = |end: usize| {
        let before = hay.get(..end).unwrap_or(&[]);
        PREPOSITIONS.iter().any(|p| {
            before.len() >= p.len()
                && before
                    .get(before.len() - p.len()..)
                    .is_some_and(|tail| tail.eq_ignore_ascii_case(p))
        })
    };
    ends_with(q) || q > 0 && space(byte_before(hay, q, 1)) && ends_with(q - 1)
}

/// A weekday match: (start, end, the day's start, where `rel` is when there is one).
pub(super) type WeekdayMatch = (usize, usize, usize, Option<(usize, usize)>);

/// The matches of the weekday rule
/// (`\b(?:(?P<rel>[Ll]ast|[Nn]ext|[Tt]his)\s)?(?P<day>Monday|…|Sunday)\b`, searched from
/// each match's end on) on the stand-in, from the day names' occurrences in order: (start,
/// end, the day's start, where `rel` is).
///
/// A day name ends a match only with a non-word byte after it; the match starts at the
/// "last"/"next"/"this" and the space before the name when they are there after a word
/// boundary and after the last match's end (the earlier start wins), else at the name after
/// a word boundary. (No day name holds another's start, nor "last", "next" or "this".)
pub(super) fn weekdays(
    hay: &[u8],
    names: impl Iterator<Item = std::ops::Range<usize>>,
) -> Vec<WeekdayMatch> {
    let mut out = Vec::new();
    let mut pos = 0;
    for name in names {
        let (o, end) = (name.start, name.end);
        if o < pos || word(byte(hay, end)) {
            continue;
        }
        let rel = o.checked_sub(5).filter(|&r| {
            r >= pos
                && space(byte(hay, o - 1))
                && matches!(
                    hay.get(r..o - 1),
                    Some(b"last" | b"Last" | b"next" | b"Next" | b"this" | b"This")
                )
                && !word(byte_before(hay, r, 1))
        });
        match rel {
            Some(r) => out.push((r, end, o, Some((r, r + 4)))),
            None if !word(byte_before(hay, o, 1)) => out.push((o, end, o, None)),
            None => continue,
        }
        pos = end;
    }
    out
}

#[cfg(test)]
pub(super) mod tests {
    use std::cell::Cell;

    thread_local! {
        static WORK: Cell<usize> = const { Cell::new(0) };
    }

    /// Adds to the bytes searched or scanned by this thread (for the linearity tests).
    pub(in super::super) fn count_work(bytes: usize) {
        WORK.with(|w| w.set(w.get() + bytes));
    }

    /// The bytes searched so far by this thread, reset.
    pub(in super::super) fn take_work() -> usize {
        WORK.with(|w| w.replace(0))
    }
}
