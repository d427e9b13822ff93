//! Dates, money and percentages, found by rules and resolved to canonical forms.
//!
//! - Dates: "January 19" (→ `2022-01-19` against a 2022-01-20 reference, the nearest such day;
//!   `--01-19` without a reference), "19 January 2022", "August 2021" (→ `2021-08`), "in August"
//!   (a bare month only after a preposition: → the nearest August), "Thursday" (→ the Thursday on
//!   or before the reference; "last"/"next Thursday" strictly before/after), "today", "yesterday",
//!   "tomorrow", "last/this/next year|month", ISO dates, and bare years.
//! - **Bare years** are tagged (name `"2014"`) when a 4-digit number from 1800 to 2100 follows a
//!   temporal word ("in", "since", "until", "by", "from", "before", "after", "during", "of",
//!   "through", "to", "between", "early", "late", "mid", "year") or is "the 2015" before a lowercase word; a
//!   number alone is too often a count to be tagged. Decades ("the 1990s") are tagged too.
//! - Money: "$5 billion" (→ `5000000000 USD`), "€20", "US$3.5m", "5 million dollars",
//!   "10,000 rials", "EUR 200".
//! - Percentages: "12%", "12 per cent", "12 percent", "3.5 percentage points" (→ `12%`).

use std::sync::LazyLock;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use gleaner_model::EntityKind;
use regex::{Captures, Match, Regex};

mod digits;
use digits::{Cluster, Shape};

/// A date, amount or percentage found in the text, with byte offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumericMatch {
    /// Date, money or percent.
    pub kind: EntityKind,
    /// Start in bytes.
    pub byte_start: usize,
    /// End in bytes.
    pub byte_end: usize,
    /// Canonical form.
    pub name: String,
}

const MONTH: &str = r"(?P<month>January|February|March|April|May|June|July|August|September|October|November|December|Jan\.?|Feb\.?|Mar\.?|Apr\.?|Jun\.?|Jul\.?|Aug\.?|Sept?\.?|Oct\.?|Nov\.?|Dec\.?)";
const NUM: &str = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?";
const SCALE: &str = r"(?:thousand|million|billion|trillion|bn|mn|tn|m|k)";

/// The currency symbols outside ASCII that the patterns name. In the ASCII stand-in of a text
/// ([`stand_in`]) the `k`-th is written as byte `k + 1` followed by `0x7F` bytes up to its
/// length in UTF-8, and the stand-in's patterns name it so.
const SYMBOLS: [char; 8] = ['€', '£', '¥', '₹', '₽', '₺', '₩', '₪'];

/// Filler of the stand-in after a symbol's first byte, and for every byte of a char that is
/// neither a word char nor one of [`SYMBOLS`]: no pattern matches it alone.
const FILLER: u8 = 0x7f;

/// Every pattern, compiled for one kind of haystack.
struct Patterns {
    month_day_year: Option<Regex>,
    day_month_year: Option<Regex>,
    month_year: Option<Regex>,
    bare_month: Option<Regex>,
    weekday: Option<Regex>,
    relative: Option<Regex>,
    iso_date: Option<Regex>,
    bare_year: Option<Regex>,
    percent: Option<Regex>,
    money_symbol: Option<Regex>,
    money_code: Option<Regex>,
    money_word: Option<Regex>,
    /// The first three letters of every month: a date pattern that names a month holds one
    /// (see [`Near`]).
    month_letters: Option<Regex>,
    /// The days of the week.
    day_names: Option<Regex>,
    /// What every match of `relative` holds: "oday", "esterday", "omorrow", "year", "month".
    relative_words: Option<Regex>,
    /// What every percentage holds ("%", "per cent", "percent", "pct"), and every amount in
    /// words (the currency's name or code): without one in a text, the pattern is not run.
    percent_words: Option<Regex>,
    currency_words: Option<Regex>,
}

impl Patterns {
    /// The patterns; with `ascii`, for the ASCII stand-in: each of [`SYMBOLS`] written as its
    /// stand-in bytes. (Symbols are only ever written as whole alternatives, never inside a
    /// class, so that this replacement is exact.)
    fn new(ascii: bool) -> Patterns {
        let compile = |pattern: String| {
            let pattern = if ascii {
                let mut p = pattern;
                for (k, sym) in SYMBOLS.iter().enumerate() {
                    let mut bytes = format!(r"(?:\x{:02X}", k + 1);
                    for _ in 1..sym.len_utf8() {
                        bytes.push_str(r"\x7F");
                    }
                    bytes.push(')');
                    p = p.replace(*sym, &bytes);
                }
                p
            } else {
                pattern
            };
            // The stand-in is ASCII, where `\d`, `\s` and `\b` mean the same with Unicode or
            // without: without, the automata are far smaller and every engine may run (the
            // one-pass DFA for groups; no Unicode word boundary to give up on).
            regex::RegexBuilder::new(&pattern)
                .unicode(!ascii)
                .build()
                .ok()
        };
        Patterns {
            month_day_year: compile(format!(
                r"\b{MONTH}\s(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s(?P<year>\d{{4}}))?\b"
            )),
            day_month_year: compile(format!(
                r"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s(?:of\s)?{MONTH}(?:,?\s(?P<year>\d{{4}}))?\b"
            )),
            month_year: compile(format!(r"\b{MONTH},?\s(?P<year>\d{{4}})\b")),
            bare_month: compile(format!(
                r"\b(?P<prep>[Ii]n|[Ss]ince|[Uu]ntil|[Bb]y|[Ff]rom|[Dd]uring|[Tt]hrough|[Ee]arly|[Ll]ate|[Ll]ast|[Nn]ext|[Tt]his|[Mm]id-?|[Ee]nd of|[Bb]eginning of)\s?{MONTH}\b"
            )),
            weekday: compile(
                r"\b(?:(?P<rel>[Ll]ast|[Nn]ext|[Tt]his)\s)?(?P<day>Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b"
                    .to_string(),
            ),
            relative: compile(
                r"\b(?:(?P<day>[Tt]oday|[Yy]esterday|[Tt]omorrow)|(?P<rel>[Ll]ast|[Tt]his|[Nn]ext)\s(?P<unit>year|month))\b"
                    .to_string(),
            ),
            iso_date: compile(r"\b(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})\b".to_string()),
            // `(?:[%\d$-]|€|£)` is `[%\d$€£-]` with the symbols as alternatives (see `new`).
            bare_year: compile(
                r"\b(?P<prev>[A-Za-z]+)[\s-](?P<year>1[89]\d\d|20\d\d|2100)(?P<decade>s)?\b(?P<after>\s?(?:[%\d$-]|€|£)|\s[A-Za-z]+)?"
                    .to_string(),
            ),
            percent: compile(format!(
                r"(?P<num>[-+]?(?:{NUM}))\s?(?:%|(?:per ?cent|percent|pct|percentage points?)\b)"
            )),
            money_symbol: compile(format!(
                r"(?P<cur>US\$|A\$|C\$|HK\$|NZ\$|S\$|R\$|\$|€|£|¥|₹|₽|₺|₩|₪)\s?(?P<num>{NUM})(?:\s?(?P<scale>{SCALE})\b)?"
            )),
            money_code: compile(format!(
                r"\b(?P<cur>USD|EUR|GBP|JPY|CNY|RUB|INR|IRR|CHF|TRY|SAR|AED|ILS)\s?(?P<num>{NUM})(?:\s?(?P<scale>{SCALE})\b)?"
            )),
            money_word: compile(format!(
                r"\b(?P<num>{NUM})(?:\s?(?P<scale>{SCALE}))?\s(?:US\s)?(?P<cur>dollars?|euros?|pounds?(?:\ssterling)?|yen|yuan|renminbi|rupees?|roubles?|rubles?|rials?|riyals?|dirhams?|liras?|lira|francs?|pesos?|shekels?|won|USD|EUR|GBP|JPY|CNY|RUB|INR|IRR|CHF|TRY|SAR|AED|ILS)\b"
            )),
            month_letters: compile("Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec".to_string()),
            day_names: compile(
                "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday".to_string(),
            ),
            relative_words: compile("oday|esterday|omorrow|year|month".to_string()),
            percent_words: compile("%|per ?cent|pct".to_string()),
            currency_words: compile(
                "dollar|euro|pound|yen|yuan|renminbi|rupee|rouble|ruble|rial|riyal|dirham|lira|franc|peso|shekel|won|USD|EUR|GBP|JPY|CNY|RUB|INR|IRR|CHF|TRY|SAR|AED|ILS"
                    .to_string(),
            ),
        }
    }
}

/// The patterns for the text itself (any text).
static PLAIN: LazyLock<Patterns> = LazyLock::new(|| Patterns::new(false));
/// The patterns for the ASCII stand-in of a text.
static ASCII: LazyLock<Patterns> = LazyLock::new(|| Patterns::new(true));

/// What is known about where a pattern's matches lie: every match holds an occurrence of
/// `literal` (a pattern of fixed strings) starting at most `before` bytes after the match's
/// start, and the match ends at most `after` bytes after that occurrence's start. (Bytes: a
/// `\s` is at most 3 bytes of UTF-8, a `\d` at most 4.)
#[derive(Clone, Copy)]
struct Near<'p> {
    literal: &'p Regex,
    before: usize,
    after: usize,
}

/// `re.captures_iter(hay)` (the same matches, in order), searching only near the occurrences
/// of `near.literal` when it is given: most of a text is then never run through the pattern
/// (whose own literal prefilter may be a common word: "in", "this").
///
/// Why it is the same: say the last match ended at `pos` (no match of the iteration starts
/// before it) and the first occurrence of the literal at or after `pos` starts at `q`. Every
/// match starting at or after `pos` holds an occurrence at or after its start, so at or after
/// `q`, so it starts at or after `q − before`. The search runs from `start = max(pos, q −
/// before)` over the text cut at `end` (`q` + twice `reach`, a match's longest extent and the
/// char after it that `\b` reads). A match that starts before `end − reach` lies wholly in the
/// cut text with the char after it, and so does every match starting before it, so it is the
/// one the whole text gives (the same leftmost start, the same alternatives preferred). If the
/// cut text has none there, no match starts in `[start, end − reach)`: the next search starts
/// at `end − reach` (past `q`, so the loop advances). `\b` at `start` reads the text before
/// it, as a search from `start` in the whole text does.
///
/// With `gate`, an occurrence `q` of the literal for which `gate(hay, q)` is false is passed
/// over: the gate says that no match holds `q` as its first occurrence, so every match from
/// `pos` on holds a later one (and starts at or after that one `− before`).
fn captures_all<'h>(
    re: &Regex,
    hay: &'h str,
    near: Option<Near<'_>>,
    gate: Option<fn(&[u8], usize) -> bool>,
) -> Vec<Captures<'h>> {
    let Some(near) = near else {
        return re.captures_iter(hay).collect();
    };
    let reach = near.before + near.after + 8;
    let mut out = Vec::new();
    let mut pos = 0;
    // Where to look for the next occurrence (past the gated-out ones).
    let mut from = 0;
    while pos <= hay.len() {
        let Some(q) = near.literal.find_at(hay, from.max(pos)).map(|m| m.start()) else {
            break;
        };
        if gate.is_some_and(|may_match| !may_match(hay.as_bytes(), q)) {
            from = q + 1;
            while from < hay.len() && !hay.is_char_boundary(from) {
                from += 1;
            }
            continue;
        }
        let mut start = q.saturating_sub(near.before).max(pos);
        while start > pos && !hay.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = q.saturating_add(2 * reach).min(hay.len());
        while end < hay.len() && !hay.is_char_boundary(end) {
            end += 1;
        }
        let whole = end == hay.len();
        let window = hay.get(..end).unwrap_or(hay);
        let sure = end.saturating_sub(reach);
        let found = re
            .captures_at(window, start)
            .filter(|c| c.get(0).is_some_and(|m| whole || m.start() < sure));
        match found {
            Some(caps) => {
                let (m_start, m_end) = caps.get(0).map_or((pos, pos), |m| (m.start(), m.end()));
                out.push(caps);
                // (No pattern here matches the empty string; if one did, step past it.)
                pos = if m_end > m_start { m_end } else { m_end + 1 };
                while pos < hay.len() && !hay.is_char_boundary(pos) {
                    pos += 1;
                }
            }
            None if whole => break,
            None => {
                pos = sure.max(pos + 1);
                while pos < hay.len() && !hay.is_char_boundary(pos) {
                    pos += 1;
                }
            }
        }
    }
    out
}

/// Does the patterns' `\d` match `c`? (Asked only of the few chars outside ASCII that are
/// numeric; when the test cannot be compiled, every such char counts as a digit, which only
/// sends more text down the plain path.)
fn is_unicode_digit(c: char) -> bool {
    static DIGIT: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"\A\d\z").ok());
    let mut buf = [0u8; 4];
    DIGIT
        .as_ref()
        .is_none_or(|re| re.is_match(c.encode_utf8(&mut buf)))
}

/// An ASCII stand-in of `text`, byte for byte as long, on which every pattern matches exactly
/// where it matches on `text` (same offsets, same groups), or `None` when `text` holds a char
/// the stand-in cannot stand for.
///
/// Why: the patterns' `\b` is Unicode-aware, and the regex crate's fast engine (the lazy DFA)
/// gives up at the first byte outside ASCII and the search falls back to a far slower one;
/// on ASCII the fast one runs. Each char outside ASCII is written as bytes that no pattern
/// element matches except as the char did: a word char (letters, marks, …; `\b` sees words)
/// as `_`, one of [`SYMBOLS`] as its own bytes (see there), anything else as [`FILLER`]. A
/// char that `\d` or `\s` would match (Arabic digits, no-break spaces) cannot be written so (a
/// pattern counts chars: `\d{1,2}`), nor can text that holds the stand-in's own bytes (control
/// bytes 1–8 and DEL): such text is searched as it is.
fn stand_in(text: &str) -> Option<std::borrow::Cow<'_, str>> {
    let reserved = |b: u8| (0x01..=0x08).contains(&b) || b == FILLER;
    if text.is_ascii() {
        // (Asked of every byte of a block at once, without stopping at each: the compiler
        // makes it a few vector instructions a block.)
        let holds_reserved = text
            .as_bytes()
            .chunks(256)
            .any(|block| block.iter().fold(false, |any, &b| any | reserved(b)));
        return if holds_reserved {
            None
        } else {
            Some(std::borrow::Cow::Borrowed(text))
        };
    }
    // A byte that is not copied as it is: outside ASCII, or reserved.
    let special = |b: u8| b >= FILLER || b.wrapping_sub(1) < 8;
    const BLOCK: usize = 16;
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        // Most of any text is ASCII: a block without a special byte (asked of the whole
        // block at once, as above) is copied as it is.
        if let Some(block) = bytes.get(i..i + BLOCK)
            && !block.iter().fold(false, |any, &b| any | special(b))
        {
            out.extend_from_slice(block);
            i += BLOCK;
            continue;
        }
        let b = *bytes.get(i)?;
        if b.is_ascii() {
            if reserved(b) {
                return None;
            }
            out.push(b);
            i += 1;
            continue;
        }
        let c = text.get(i..).and_then(|rest| rest.chars().next())?;
        // `\s` is White_Space, as `char::is_whitespace`; `\d` is Nd, a part of what
        // `char::is_numeric` takes (not "½" or "²": those are stood for like other chars).
        if c.is_whitespace() || c.is_numeric() && is_unicode_digit(c) {
            return None;
        }
        let len = c.len_utf8();
        i += len;
        if let Some(k) = SYMBOLS.iter().position(|&s| s == c) {
            out.push(u8::try_from(k + 1).ok()?);
            out.extend(std::iter::repeat_n(FILLER, len - 1));
        } else if regex_syntax::try_is_word_character(c).ok()? {
            out.extend(std::iter::repeat_n(b'_', len));
        } else {
            out.extend(std::iter::repeat_n(FILLER, len));
        }
    }
    String::from_utf8(out).ok().map(std::borrow::Cow::Owned)
}

/// `date.to_string()` ("2022-01-19"), written digit by digit for the years of four digits
/// (chrono's `Display` writes them so; others are left to it).
fn ymd(date: NaiveDate) -> String {
    let (y, m, d) = (date.year(), date.month(), date.day());
    if !(0..=9999).contains(&y) {
        return date.to_string();
    }
    let digit = |n: u32| char::from(b'0' + (n % 10) as u8);
    let y = y.unsigned_abs();
    let mut out = String::with_capacity(10);
    out.extend([y / 1000, y / 100, y / 10, y].map(digit));
    out.push('-');
    out.extend([m / 10, m].map(digit));
    out.push('-');
    out.extend([d / 10, d].map(digit));
    out
}

/// `format!("{y:04}-{m:02}")`, written digit by digit for the years of four digits.
fn ym(y: i32, m: u32) -> String {
    if !(0..=9999).contains(&y) || m > 99 {
        return format!("{y:04}-{m:02}");
    }
    let y = y.unsigned_abs();
    let digit = |n: u32| char::from(b'0' + (n % 10) as u8);
    let mut out = String::with_capacity(7);
    out.extend([y / 1000, y / 100, y / 10, y].map(digit));
    out.push('-');
    out.extend([m / 10, m].map(digit));
    out
}

fn month_number(m: &str) -> Option<u32> {
    let key = m.trim_end_matches('.').to_lowercase();
    let prefix = key.get(..3)?;
    let months = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    months
        .iter()
        .position(|&x| x == prefix)
        .and_then(|p| u32::try_from(p + 1).ok())
}

fn weekday_of(d: &str) -> Option<Weekday> {
    d.parse::<Weekday>().ok()
}

/// The day `month`/`day` nearest to `reference` (in the year before, of, or after it).
fn nearest_day(month: u32, day: u32, reference: NaiveDate) -> Option<NaiveDate> {
    let y = reference.year();
    [y - 1, y, y + 1]
        .into_iter()
        .filter_map(|year| NaiveDate::from_ymd_opt(year, month, day))
        .min_by_key(|d| (*d - reference).num_days().abs())
}

/// The (year, month) nearest to `reference` for a month named without a year.
fn nearest_month(month: u32, reference: NaiveDate) -> (i32, u32) {
    let y = reference.year();
    let r = i64::from(reference.month());
    let m = i64::from(month);
    // Same year, previous year or next year: pick the smallest distance in months.
    let options = [(y, m - r), (y - 1, m - r - 12), (y + 1, m - r + 12)];
    let best = options
        .into_iter()
        .min_by_key(|(_, d)| d.abs())
        .unwrap_or((y, 0));
    (best.0, month)
}

/// `date` moved by `days`, `None` past the calendar's ends.
fn shift_days(date: NaiveDate, days: i64) -> Option<NaiveDate> {
    date.checked_add_signed(Duration::days(days))
}

/// What a search runs over: `hay` (the text or its ASCII stand-in, same offsets) with the
/// patterns for it; the text of a match is read from `text`.
#[derive(Clone, Copy)]
struct Search<'a> {
    hay: &'a str,
    text: &'a str,
    patterns: &'a Patterns,
    /// Search near the literals every match holds ([`captures_all`]), and skip a pattern
    /// whose literals the text lacks (false: run every pattern over the whole text, for tests
    /// that the two agree).
    windows: bool,
    /// The clusters of digits of the haystack when it is the ASCII stand-in and the search
    /// runs in windows: the patterns that hold a digit are then run only near them
    /// ([`digits`]).
    clusters: Option<&'a [Cluster]>,
}

impl Search<'_> {
    /// Does the haystack hold a match of `literal` (true when the windows are off, or the
    /// literal pattern is missing)?
    fn holds(&self, literal: &Option<Regex>) -> bool {
        match literal {
            Some(re) if self.windows => re.is_match(self.hay),
            _ => true,
        }
    }
}

impl<'a> Search<'a> {
    /// The text `m` matched (on the haystack), read from the text itself.
    fn str(&self, m: Match<'_>) -> &'a str {
        self.text.get(m.range()).unwrap_or("")
    }
    /// The text of group `name`.
    fn group(&self, caps: &Captures<'_>, name: &str) -> Option<&'a str> {
        caps.name(name).map(|m| self.str(m))
    }
    /// `re.captures_iter(hay)` for a pattern of `shape`: run near the clusters of digits when
    /// there are (on the stand-in), else near `near`'s literal when given, else everywhere.
    fn captures(&self, re: &Regex, shape: Shape, near: Option<Near<'_>>) -> Vec<Captures<'a>> {
        match self.clusters {
            Some(clusters) => digits::captures_near_digits(re, self.hay, clusters, shape),
            None => captures_all(re, self.hay, near, None),
        }
    }
}

fn year_of(search: &Search<'_>, caps: &Captures<'_>) -> Option<i32> {
    search.group(caps, "year").and_then(|y| y.parse().ok())
}

fn push(out: &mut Vec<NumericMatch>, kind: EntityKind, start: usize, end: usize, name: String) {
    if end > start {
        out.push(NumericMatch {
            kind,
            byte_start: start,
            byte_end: end,
            name,
        });
    }
}

/// Find dates in `text`, resolving them against `reference`.
fn dates(search: Search<'_>, reference: Option<NaiveDate>, out: &mut Vec<NumericMatch>) {
    let p = search.patterns;
    let hay = search.hay;
    let windows = search.windows;
    fn near(
        literal: &Option<Regex>,
        windows: bool,
        before: usize,
        after: usize,
    ) -> Option<Near<'_>> {
        literal.as_ref().filter(|_| windows).map(|literal| Near {
            literal,
            before,
            after,
        })
    }
    // (Bounds in bytes: "Beginning of" and a space before a month; "Wednesday"; "September",
    // a space, two digits, "th", a comma, a space and four digits after a month's start.)
    for (re, shape, near) in [
        (
            &p.month_day_year,
            Shape::MonthDayYear,
            near(&p.month_letters, windows, 0, 48),
        ),
        (
            &p.day_month_year,
            Shape::DayMonthYear,
            near(&p.month_letters, windows, 24, 32),
        ),
    ] {
        let Some(re) = re else { continue };
        for caps in search.captures(re, shape, near) {
            let (Some(whole), Some(month), Some(day)) =
                (caps.get(0), caps.name("month"), caps.name("day"))
            else {
                continue;
            };
            let (Some(m), Ok(d)) = (
                month_number(search.str(month)),
                search.str(day).parse::<u32>(),
            ) else {
                continue;
            };
            if !(1..=31).contains(&d) {
                continue;
            }
            let name = match (year_of(&search, &caps), reference) {
                (Some(y), _) => NaiveDate::from_ymd_opt(y, m, d).map(ymd),
                (None, Some(r)) => nearest_day(m, d, r).map(ymd),
                (None, None) => Some(format!("--{m:02}-{d:02}")),
            };
            if let Some(name) = name {
                push(out, EntityKind::Date, whole.start(), whole.end(), name);
            }
        }
    }
    if let Some(re) = &p.month_year {
        for caps in search.captures(re, Shape::MonthYear, near(&p.month_letters, windows, 0, 32)) {
            let (Some(whole), Some(month)) = (caps.get(0), caps.name("month")) else {
                continue;
            };
            if let (Some(m), Some(y)) = (month_number(search.str(month)), year_of(&search, &caps)) {
                push(out, EntityKind::Date, whole.start(), whole.end(), ym(y, m));
            }
        }
    }
    if let Some(re) = &p.bare_month {
        // (On the stand-in: only a month after a preposition, see `digits::after_preposition`.)
        let gate = search
            .clusters
            .map(|_| digits::after_preposition as fn(&[u8], usize) -> bool);
        for caps in captures_all(re, hay, near(&p.month_letters, windows, 16, 10), gate) {
            let (Some(month), Some(prep)) = (caps.name("month"), caps.name("prep")) else {
                continue;
            };
            let Some(m) = month_number(search.str(month)) else {
                continue;
            };
            let rel = search.str(prep).to_lowercase();
            let (start, name) = match reference {
                Some(r) => {
                    let (mut y, _) = nearest_month(m, r);
                    if rel == "last" && (y, m) >= (r.year(), r.month()) {
                        y -= 1;
                    } else if rel == "next" && (y, m) <= (r.year(), r.month()) {
                        y += 1;
                    }
                    (
                        if rel == "last" || rel == "next" {
                            prep.start()
                        } else {
                            month.start()
                        },
                        ym(y, m),
                    )
                }
                None => (month.start(), format!("--{m:02}")),
            };
            push(out, EntityKind::Date, start, month.end(), name);
        }
    }
    // (start, end, the day's start, where "last"/"next"/"this" is when one leads.)
    let weekdays: Vec<digits::WeekdayMatch> = match (&p.weekday, &p.day_names) {
        (Some(_), Some(names)) if search.clusters.is_some() => {
            digits::weekdays(hay.as_bytes(), names.find_iter(hay).map(|m| m.range()))
        }
        (Some(re), _) => captures_all(re, hay, near(&p.day_names, windows, 8, 10), None)
            .iter()
            .filter_map(|caps| {
                let (whole, day) = (caps.get(0)?, caps.name("day")?);
                Some((
                    whole.start(),
                    whole.end(),
                    day.start(),
                    caps.name("rel").map(|m| (m.start(), m.end())),
                ))
            })
            .collect(),
        _ => Vec::new(),
    };
    {
        for (start, end, day_start, rel) in weekdays {
            let day = search.text.get(day_start..end).unwrap_or("");
            let rel = rel.map(|(a, b)| search.text.get(a..b).unwrap_or("").to_lowercase());
            let name = match (weekday_of(day), reference) {
                (Some(wd), Some(r)) => {
                    let back =
                        (7 + r.weekday().num_days_from_monday() - wd.num_days_from_monday()) % 7;
                    let shift = match rel.as_deref() {
                        Some("last") if back == 0 => -7,
                        Some("next") => 7,
                        _ => 0,
                    } - i64::from(back);
                    match shift_days(r, shift) {
                        Some(d) => ymd(d),
                        None => day.to_string(),
                    }
                }
                _ => day.to_string(),
            };
            push(out, EntityKind::Date, start, end, name);
        }
    }
    if let Some(re) = &p.relative {
        for caps in captures_all(re, hay, near(&p.relative_words, windows, 8, 10), None) {
            let Some(whole) = caps.get(0) else { continue };
            let name = match (
                search.group(&caps, "day"),
                search.group(&caps, "rel"),
                search.group(&caps, "unit"),
                reference,
            ) {
                (Some(day), _, _, Some(r)) => {
                    let shift = match day.to_lowercase().as_str() {
                        "yesterday" => -1,
                        "tomorrow" => 1,
                        _ => 0,
                    };
                    shift_days(r, shift).map_or_else(|| day.to_lowercase(), ymd)
                }
                (None, Some(rel), Some(unit), Some(r)) => {
                    let delta = match rel.to_lowercase().as_str() {
                        "last" => -1,
                        "next" => 1,
                        _ => 0,
                    };
                    if unit == "year" {
                        format!("{:04}", r.year() + delta)
                    } else {
                        let months = r.year() * 12 + i32::try_from(r.month0()).unwrap_or(0) + delta;
                        format!(
                            "{:04}-{:02}",
                            months.div_euclid(12),
                            months.rem_euclid(12) + 1
                        )
                    }
                }
                _ => search.str(whole).to_lowercase(),
            };
            push(out, EntityKind::Date, whole.start(), whole.end(), name);
        }
    }
    if let Some(re) = &p.iso_date {
        let found = match search.clusters {
            Some(clusters) => digits::captures_near_digits(re, hay, clusters, Shape::IsoDate),
            None => re.captures_iter(hay).collect(),
        };
        for caps in found {
            let Some(whole) = caps.get(0) else { continue };
            let parse = |n: &str| search.group(&caps, n).and_then(|v| v.parse::<u32>().ok());
            let valid = match (year_of(&search, &caps), parse("month"), parse("day")) {
                (Some(y), Some(m), Some(d)) => NaiveDate::from_ymd_opt(y, m, d),
                _ => None,
            };
            if let Some(date) = valid {
                push(out, EntityKind::Date, whole.start(), whole.end(), ymd(date));
            }
        }
    }
    if let Some(clusters) = search.clusters {
        for y in digits::bare_years(hay.as_bytes(), clusters) {
            let end = y.start + 4 + usize::from(y.decade);
            let year_text = search.text.get(y.start..y.start + 4).unwrap_or("");
            let name = if y.decade {
                format!("{year_text}s")
            } else {
                year_text.to_string()
            };
            push(out, EntityKind::Date, y.start, end, name);
        }
    } else if let Some(re) = &p.bare_year {
        const TEMPORAL: &[&str] = &[
            "in", "since", "until", "till", "by", "from", "before", "after", "during", "of",
            "through", "to", "between", "and", "early", "late", "mid", "year", "the", "around",
            "circa",
        ];
        // Matches overlap through their "prev" word, so scan position by position.
        let mut at = 0;
        while let Some(caps) = hay.get(at..).and_then(|rest| re.captures(rest)) {
            let (Some(prev), Some(year)) = (caps.name("prev"), caps.name("year")) else {
                break;
            };
            at += year.end();
            let base = at - year.end();
            // Groups of a search from `base`: read them from the text at their place.
            let at_base = |m: Match<'_>| {
                search
                    .text
                    .get(base + m.start()..base + m.end())
                    .unwrap_or("")
            };
            let prev_word = at_base(prev).to_lowercase();
            let after = caps.name("after").map(at_base);
            let year_text = at_base(year);
            let decade = caps.name("decade").is_some();
            if !TEMPORAL.contains(&prev_word.as_str()) {
                continue;
            }
            if after.is_some_and(|a| {
                a.trim_start().starts_with(['%', '$', '€', '£', '-'])
                    || a.trim().chars().all(|c| c.is_ascii_digit())
            }) {
                continue;
            }
            if prev_word == "the"
                && !decade
                && !after.is_some_and(|a| {
                    a.trim().chars().all(char::is_lowercase) && !a.trim().is_empty()
                })
            {
                continue;
            }
            if decade && !year_text.ends_with('0') {
                continue;
            }
            let end = base + year.end() + if decade { 1 } else { 0 };
            let name = if decade {
                format!("{year_text}s")
            } else {
                year_text.to_string()
            };
            push(out, EntityKind::Date, base + year.start(), end, name);
            if decade {
                at += 1;
            }
        }
    }
}

/// Parse "1,000.5" and apply a scale word; format without float noise.
fn amount(num: &str, scale: Option<&str>) -> Option<String> {
    let plain: String = num.chars().filter(|&c| c != ',').collect();
    let value: f64 = plain.parse().ok()?;
    let factor = match scale.map(str::to_lowercase).as_deref() {
        Some("thousand" | "k") => 1e3,
        Some("million" | "m" | "mn") => 1e6,
        Some("billion" | "bn") => 1e9,
        Some("trillion" | "tn") => 1e12,
        _ => 1.0,
    };
    let total = value * factor;
    if !total.is_finite() {
        return None;
    }
    let cents = (total * 100.0).round();
    if cents % 100.0 == 0.0 && total.abs() < 1e17 {
        let whole = total.round();
        // (A whole number below 1e17 is an `i64` exactly, printed as `{:.0}` prints it,
        // without the float formatting's work; `-0` keeps its sign the float way.)
        Some(if whole.is_sign_positive() && whole < 1e17 {
            (whole as i64).to_string()
        } else {
            format!("{whole:.0}")
        })
    } else {
        let s = format!("{:.2}", cents / 100.0);
        Some(s.trim_end_matches('0').trim_end_matches('.').to_string())
    }
}

fn currency_code(cur: &str) -> &'static str {
    let lower = cur.to_lowercase();
    let c = lower.as_str();
    match c {
        "$" | "us$" => "USD",
        "a$" => "AUD",
        "c$" => "CAD",
        "hk$" => "HKD",
        "nz$" => "NZD",
        "s$" => "SGD",
        "r$" => "BRL",
        "€" => "EUR",
        "£" => "GBP",
        "¥" => "JPY",
        "₹" => "INR",
        "₽" => "RUB",
        "₺" => "TRY",
        "₩" => "KRW",
        "₪" => "ILS",
        _ if c.starts_with("dollar") => "USD",
        _ if c.starts_with("euro") => "EUR",
        _ if c.starts_with("pound") => "GBP",
        "yen" => "JPY",
        "yuan" | "renminbi" => "CNY",
        _ if c.starts_with("rupee") => "INR",
        _ if c.starts_with("rouble") || c.starts_with("ruble") => "RUB",
        _ if c.starts_with("rial") => "IRR",
        _ if c.starts_with("riyal") => "SAR",
        _ if c.starts_with("dirham") => "AED",
        _ if c.starts_with("lira") => "TRY",
        _ if c.starts_with("franc") => "CHF",
        _ if c.starts_with("peso") => "MXN",
        _ if c.starts_with("shekel") => "ILS",
        "won" => "KRW",
        "usd" => "USD",
        "eur" => "EUR",
        "gbp" => "GBP",
        "jpy" => "JPY",
        "cny" => "CNY",
        "rub" => "RUB",
        "inr" => "INR",
        "irr" => "IRR",
        "chf" => "CHF",
        "try" => "TRY",
        "sar" => "SAR",
        "aed" => "AED",
        "ils" => "ILS",
        _ => "XXX",
    }
}

fn money(search: Search<'_>, out: &mut Vec<NumericMatch>) {
    let p = search.patterns;
    // (An amount in words names its currency: a text naming none holds none. Near the
    // digits, the search is too short to gain from asking.)
    let words = if search.clusters.is_some() || search.holds(&p.currency_words) {
        &p.money_word
    } else {
        &None
    };
    for (re, shape) in [
        (&p.money_symbol, Shape::MoneySymbol),
        (&p.money_code, Shape::MoneyCode),
        (words, Shape::MoneyWord),
    ] {
        let Some(re) = re else { continue };
        for caps in search.captures(re, shape, None) {
            let (Some(whole), Some(num), Some(cur)) = (
                caps.get(0),
                search.group(&caps, "num"),
                search.group(&caps, "cur"),
            ) else {
                continue;
            };
            if let Some(value) = amount(num, search.group(&caps, "scale")) {
                let mut name = value;
                name.push(' ');
                name.push_str(currency_code(cur));
                push(out, EntityKind::Money, whole.start(), whole.end(), name);
            }
        }
    }
}

fn percents(search: Search<'_>, out: &mut Vec<NumericMatch>) {
    if search.clusters.is_none() && !search.holds(&search.patterns.percent_words) {
        return;
    }
    if let Some(re) = &search.patterns.percent {
        for caps in search.captures(re, Shape::Percent, None) {
            let (Some(whole), Some(num)) = (caps.get(0), search.group(&caps, "num")) else {
                continue;
            };
            // A number glued to letters before it ("A320%") is not a percentage.
            let glued = search
                .text
                .get(..whole.start())
                .and_then(|s| s.chars().next_back())
                .is_some_and(char::is_alphanumeric);
            if glued {
                continue;
            }
            let n = num.trim_start_matches('+').replace(',', "");
            push(
                out,
                EntityKind::Percent,
                whole.start(),
                whole.end(),
                n + "%",
            );
        }
    }
}

/// All dates, amounts and percentages, non-overlapping (longest first; money, then percent,
/// then date when two start together), in text order.
pub fn find(text: &str, reference: Option<NaiveDate>) -> Vec<NumericMatch> {
    match stand_in(text) {
        Some(hay) => {
            let clusters = digits::clusters(hay.as_bytes());
            find_in(
                Search {
                    hay: &hay,
                    text,
                    patterns: &ASCII,
                    windows: true,
                    clusters: Some(&clusters),
                },
                reference,
            )
        }
        None => find_plain(text, reference),
    }
}

/// [`find`] with every pattern run over the whole text (no search near literals, no
/// pattern skipped): the same matches, more slowly (for tests that the two agree).
#[doc(hidden)]
pub fn find_exhaustive(text: &str, reference: Option<NaiveDate>) -> Vec<NumericMatch> {
    let (hay, patterns) = match stand_in(text) {
        Some(hay) => (hay, &*ASCII),
        None => (std::borrow::Cow::Borrowed(text), &*PLAIN),
    };
    find_in(
        Search {
            hay: &hay,
            text,
            patterns,
            windows: false,
            clusters: None,
        },
        reference,
    )
}

/// [`find`] searching the text as it is, never its ASCII stand-in: the same matches, more
/// slowly on text outside ASCII (for tests that the two agree).
#[doc(hidden)]
pub fn find_plain(text: &str, reference: Option<NaiveDate>) -> Vec<NumericMatch> {
    find_in(
        Search {
            hay: text,
            text,
            patterns: &PLAIN,
            windows: true,
            clusters: None,
        },
        reference,
    )
}

fn find_in(search: Search<'_>, reference: Option<NaiveDate>) -> Vec<NumericMatch> {
    let mut all = Vec::new();
    money(search, &mut all);
    percents(search, &mut all);
    dates(search, reference, &mut all);
    let rank = |k: EntityKind| match k {
        EntityKind::Money => 0,
        EntityKind::Percent => 1,
        _ => 2,
    };
    all.sort_by(|a, b| {
        (b.byte_end - b.byte_start)
            .cmp(&(a.byte_end - a.byte_start))
            .then(rank(a.kind).cmp(&rank(b.kind)))
            .then(a.byte_start.cmp(&b.byte_start))
    });
    // The kept matches never overlap: a match overlaps one of them exactly when it overlaps
    // the last one starting before its end (a map lookup, not a scan: a text can hold a
    // million numbers).
    let mut taken: std::collections::BTreeMap<usize, usize> = std::collections::BTreeMap::new();
    let mut kept: Vec<NumericMatch> = Vec::new();
    for m in all {
        let clash = taken
            .range(..m.byte_end)
            .next_back()
            .is_some_and(|(_, &end)| end > m.byte_start);
        if !clash {
            taken.insert(m.byte_start, m.byte_end);
            kept.push(m);
        }
    }
    kept.sort_by_key(|m| m.byte_start);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_compiled(p: &Patterns) -> bool {
        [
            &p.month_day_year,
            &p.day_month_year,
            &p.month_year,
            &p.bare_month,
            &p.weekday,
            &p.relative,
            &p.iso_date,
            &p.bare_year,
            &p.percent,
            &p.money_symbol,
            &p.money_code,
            &p.money_word,
            &p.month_letters,
            &p.day_names,
            &p.relative_words,
            &p.percent_words,
            &p.currency_words,
        ]
        .iter()
        .all(|re| re.is_some())
    }

    #[test]
    fn dates_and_amounts_print_as_the_formatting_does() {
        for (y, m, d) in [
            (2022, 1, 19),
            (1, 12, 31),
            (999, 5, 5),
            (9999, 12, 31),
            (0, 1, 1),
        ] {
            let date = NaiveDate::from_ymd_opt(y, m, d).expect("a date");
            assert_eq!(ymd(date), date.to_string());
        }
        for (y, m, d) in [(-1, 1, 1), (10000, 1, 1), (262_000, 1, 1)] {
            let date = NaiveDate::from_ymd_opt(y, m, d).expect("a date");
            assert_eq!(ymd(date), date.to_string());
        }
        for y in [-10_000, -1, 0, 7, 99, 2022, 9999, 10_000] {
            for m in [1, 9, 12] {
                assert_eq!(ym(y, m), format!("{y:04}-{m:02}"));
            }
        }
        for (num, scale) in [
            ("0", None),
            ("5", Some("bn")),
            ("1,000.5", Some("k")),
            ("3.5", Some("m")),
            ("99999999999999999", None),
            ("100000000000000000", None),
            ("123456789012345678901234567890", Some("trillion")),
            ("0.004", None),
            ("12.345", Some("thousand")),
        ] {
            let plain: String = num.chars().filter(|&c| c != ',').collect();
            let value: f64 = plain.parse().expect("a number");
            let factor = match scale {
                Some("thousand" | "k") => 1e3,
                Some("m") => 1e6,
                Some("bn") => 1e9,
                Some("trillion") => 1e12,
                _ => 1.0,
            };
            let total = value * factor;
            let cents = (total * 100.0).round();
            let want = if cents % 100.0 == 0.0 && total.abs() < 1e17 {
                format!("{:.0}", total.round())
            } else {
                let s = format!("{:.2}", cents / 100.0);
                s.trim_end_matches('0').trim_end_matches('.').to_string()
            };
            assert_eq!(amount(num, scale), Some(want), "{num} {scale:?}");
        }
    }

    #[test]
    fn every_pattern_compiles() {
        assert!(all_compiled(&PLAIN));
        assert!(all_compiled(&ASCII));
    }

    /// The fast path (stand-in, digit windows, byte scans) against every pattern run over the
    /// whole text (`find_exhaustive`) and against the Unicode patterns on the text itself
    /// (`find_plain`).
    fn same(text: &str) -> usize {
        let mut found = 0;
        for reference in [NaiveDate::from_ymd_opt(2022, 1, 20), None] {
            let fast = find(text, reference);
            assert_eq!(fast, find_exhaustive(text, reference), "on {text:?}");
            assert_eq!(fast, find_plain(text, reference), "plain, on {text:?}");
            found += fast.len();
        }
        found
    }

    const TRICKY: &[&str] = &[
        "",
        "5",
        "1,000",
        ",5",
        ".5%",
        "5.%",
        "1,23%",
        "1234,567%",
        "-5% +6 per cent 7pct 8 percentage points 9 percentage point",
        "A320% of 12%",
        "$5 $ 5 US$3.5m HK$ 4bn €20 € 20 £3 ¥4 ₹5 ₽6 ₺7 ₩8 ₪9 $1.5.3 $1,000,000.25 trillion",
        "USD 200 EUR5 GBP 3 million ILS 4k",
        "5 million dollars 10,000 rials 3bn euros 4 US dollars 2 pounds sterling 7 won 8 wonder",
        "5m euros 6 m euros 7 mn yen 8 k USD 9 thousand francs 1 tn pesos",
        "2021-01-15 2021-13-01 2021-02-30 12021-01-01 2021-01-011 2021-1-1",
        "January 19 Jan. 19, 2022 Sept 5th, 2021 September 31 May 5.5 May 5, 2021 May 123",
        "19 January 2022, 3rd of March 21st May, 2020 1st Jan 31 Feb 2021 5 of May 123 May",
        "August 2021 Aug., 2021 March 2021, a rise March 20211 March 202",
        "in 2014, since 1999. until 2100 by 1800s from 1990s before the 2015 election the 2015 \
         Election the 1990s in 2014% in 2014 5 in 2014-15 in 2014$ mid-1990s in 1995s the 2020s \
         year 2021 around 1850 circa 2001 and 2002 and 2003s to 2004 € in 2005 £ Tin 2006",
        "in 2014s in 2014sx xin 2014 _in 2014 1in 2014 in 2014_ in\t2014 in\n2014 in  2014",
        "the 1990s 2000 in the 1990s 2000s and",
        "Monday last Tuesday next Friday this Sunday Mondays today Yesterday tomorrow last year \
         next month this year",
        "in May, since June, until July, by August, from March, during April, early May, \
         late June, last July, next Aug., this September, mid-October, midNovember, end of \
         December, Beginning of January, inMarch",
        "in 2014 and 2015 and 2016s and 2017 the 2018 the the 2019 wins",
        "12 ٣ 2014 in ٢٠١٤ and 5 %",
        "in\u{a0}2014 5\u{a0}% $\u{a0}5",
        "in 2014\u{1}\u{7f} 5 % \u{7f}5",
        "Zoë said on Tuesday that €45 million before March 2021 — a rise of 12% “after” 19 Ōsaka",
        "1990s 2000s, 1,000,000 1.000.000 0.5 .5 5. 5,",
        "last Monday Mondays xthis Monday this  Monday this\tMonday Last Monday LAST Monday \
         lastMonday this Monday Tuesday next Sunday, _next Friday 5next Friday é next Friday \
         this\u{a0}Monday Thursday5 Saturday_ this Sundayx Wednesday",
        "End of May end  of May ENd of May mid- May Mid-May inMay xin May in  May in\nMay \
         Beginning ofMay beginning of  June During Dec. through Sept., Mid Jan, by Mayo, \
         since Marching, Untill May, é in May _in May 3in May",
    ];

    #[test]
    fn fast_path_equals_whole_text_search_on_tricky_texts() {
        let mut found = 0;
        for t in TRICKY {
            found += same(t);
        }
        // All of them at once, and glued without spaces.
        found += same(&TRICKY.join(" "));
        found += same(&TRICKY.join(""));
        found += same(&TRICKY.join("\n"));
        assert!(found > 200, "{found}");
    }

    /// Every slice of the tricky texts (a number or word cut anywhere, each on its own).
    #[test]
    fn fast_path_equals_whole_text_search_on_cut_texts() {
        let all = TRICKY.join(" ");
        let bounds: Vec<usize> = (0..=all.len())
            .filter(|&i| all.is_char_boundary(i))
            .collect();
        for (k, &start) in bounds.iter().enumerate().step_by(7) {
            for &end in bounds.iter().skip(k).step_by(23).take(12) {
                same(&all[start..end]);
            }
        }
    }

    /// Long runs: digits, separators, currency signs, month and temporal words; the work (bytes
    /// handed to the regexes or scanned by hand) stays within a small multiple of the length.
    #[test]
    fn digit_windows_stay_linear() {
        let pieces = [
            "0123456789",
            "1,000,",
            "1.5.",
            "$5",
            "€5",
            "in 2014 ",
            "5 May 2021 ",
            "May 5, ",
            "12% ",
            "5 million euros ",
            "in",
            "2014-01-01-",
        ];
        for piece in pieces {
            let text = piece.repeat((200_000 / piece.len()).max(1));
            let _ = digits::tests::take_work();
            let hay = stand_in(&text);
            assert!(hay.is_some());
            let found = find(&text, None);
            let work = digits::tests::take_work();
            assert!(
                work <= 40 * text.len() + 1000,
                "{piece:?}: {work} for {} bytes",
                text.len()
            );
            assert_eq!(found, find_exhaustive(&text, None), "{piece:?}");
        }
    }
}
