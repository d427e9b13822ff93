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
use regex::{Captures, Regex};

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

fn compile(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

static MONTH_DAY_YEAR: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(&format!(
        r"\b{MONTH}\s(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s(?P<year>\d{{4}}))?\b"
    ))
});
static DAY_MONTH_YEAR: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(&format!(
        r"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s(?:of\s)?{MONTH}(?:,?\s(?P<year>\d{{4}}))?\b"
    ))
});
static MONTH_YEAR: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(&format!(r"\b{MONTH},?\s(?P<year>\d{{4}})\b")));
static BARE_MONTH: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(&format!(
        r"\b(?P<prep>[Ii]n|[Ss]ince|[Uu]ntil|[Bb]y|[Ff]rom|[Dd]uring|[Tt]hrough|[Ee]arly|[Ll]ate|[Ll]ast|[Nn]ext|[Tt]his|[Mm]id-?|[Ee]nd of|[Bb]eginning of)\s?{MONTH}\b"
    ))
});
static WEEKDAY: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(
        r"\b(?:(?P<rel>[Ll]ast|[Nn]ext|[Tt]his)\s)?(?P<day>Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b",
    )
});
static RELATIVE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(
        r"\b(?:(?P<day>[Tt]oday|[Yy]esterday|[Tt]omorrow)|(?P<rel>[Ll]ast|[Tt]his|[Nn]ext)\s(?P<unit>year|month))\b",
    )
});
static ISO_DATE: LazyLock<Option<Regex>> =
    LazyLock::new(|| compile(r"\b(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})\b"));
static BARE_YEAR: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(
        r"\b(?P<prev>[A-Za-z]+)[\s-](?P<year>1[89]\d\d|20\d\d|2100)(?P<decade>s)?\b(?P<after>\s?[%\d$€£-]|\s[A-Za-z]+)?",
    )
});
static PERCENT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(&format!(
        r"(?P<num>[-+]?(?:{NUM}))\s?(?:%|(?:per ?cent|percent|pct|percentage points?)\b)"
    ))
});
static MONEY_SYMBOL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(&format!(
        r"(?P<cur>US\$|A\$|C\$|HK\$|NZ\$|S\$|R\$|\$|€|£|¥|₹|₽|₺|₩|₪)\s?(?P<num>{NUM})(?:\s?(?P<scale>{SCALE})\b)?"
    ))
});
static MONEY_CODE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(&format!(
        r"\b(?P<cur>USD|EUR|GBP|JPY|CNY|RUB|INR|IRR|CHF|TRY|SAR|AED|ILS)\s?(?P<num>{NUM})(?:\s?(?P<scale>{SCALE})\b)?"
    ))
});
static MONEY_WORD: LazyLock<Option<Regex>> = LazyLock::new(|| {
    compile(&format!(
        r"\b(?P<num>{NUM})(?:\s?(?P<scale>{SCALE}))?\s(?:US\s)?(?P<cur>dollars?|euros?|pounds?(?:\ssterling)?|yen|yuan|renminbi|rupees?|roubles?|rubles?|rials?|riyals?|dirhams?|liras?|lira|francs?|pesos?|shekels?|won|USD|EUR|GBP|JPY|CNY|RUB|INR|IRR|CHF|TRY|SAR|AED|ILS)\b"
    ))
});

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

fn year_of(caps: &Captures<'_>) -> Option<i32> {
    caps.name("year").and_then(|y| y.as_str().parse().ok())
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
fn dates(text: &str, reference: Option<NaiveDate>, out: &mut Vec<NumericMatch>) {
    for re in [&*MONTH_DAY_YEAR, &*DAY_MONTH_YEAR].into_iter().flatten() {
        for caps in re.captures_iter(text) {
            let (Some(whole), Some(month), Some(day)) =
                (caps.get(0), caps.name("month"), caps.name("day"))
            else {
                continue;
            };
            let (Some(m), Ok(d)) = (month_number(month.as_str()), day.as_str().parse::<u32>())
            else {
                continue;
            };
            if !(1..=31).contains(&d) {
                continue;
            }
            let name = match (year_of(&caps), reference) {
                (Some(y), _) => NaiveDate::from_ymd_opt(y, m, d).map(|x| x.to_string()),
                (None, Some(r)) => nearest_day(m, d, r).map(|x| x.to_string()),
                (None, None) => Some(format!("--{m:02}-{d:02}")),
            };
            if let Some(name) = name {
                push(out, EntityKind::Date, whole.start(), whole.end(), name);
            }
        }
    }
    if let Some(re) = &*MONTH_YEAR {
        for caps in re.captures_iter(text) {
            let (Some(whole), Some(month)) = (caps.get(0), caps.name("month")) else {
                continue;
            };
            if let (Some(m), Some(y)) = (month_number(month.as_str()), year_of(&caps)) {
                push(
                    out,
                    EntityKind::Date,
                    whole.start(),
                    whole.end(),
                    format!("{y:04}-{m:02}"),
                );
            }
        }
    }
    if let Some(re) = &*BARE_MONTH {
        for caps in re.captures_iter(text) {
            let (Some(month), Some(prep)) = (caps.name("month"), caps.name("prep")) else {
                continue;
            };
            let Some(m) = month_number(month.as_str()) else {
                continue;
            };
            let rel = prep.as_str().to_lowercase();
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
                        format!("{y:04}-{m:02}"),
                    )
                }
                None => (month.start(), format!("--{m:02}")),
            };
            push(out, EntityKind::Date, start, month.end(), name);
        }
    }
    if let Some(re) = &*WEEKDAY {
        for caps in re.captures_iter(text) {
            let (Some(whole), Some(day)) = (caps.get(0), caps.name("day")) else {
                continue;
            };
            let rel = caps.name("rel").map(|r| r.as_str().to_lowercase());
            let name = match (weekday_of(day.as_str()), reference) {
                (Some(wd), Some(r)) => {
                    let back =
                        (7 + r.weekday().num_days_from_monday() - wd.num_days_from_monday()) % 7;
                    let shift = match rel.as_deref() {
                        Some("last") if back == 0 => -7,
                        Some("next") => 7,
                        _ => 0,
                    } - i64::from(back);
                    match shift_days(r, shift) {
                        Some(d) => d.to_string(),
                        None => day.as_str().to_string(),
                    }
                }
                _ => day.as_str().to_string(),
            };
            push(out, EntityKind::Date, whole.start(), whole.end(), name);
        }
    }
    if let Some(re) = &*RELATIVE {
        for caps in re.captures_iter(text) {
            let Some(whole) = caps.get(0) else { continue };
            let name = match (
                caps.name("day"),
                caps.name("rel"),
                caps.name("unit"),
                reference,
            ) {
                (Some(day), _, _, Some(r)) => {
                    let shift = match day.as_str().to_lowercase().as_str() {
                        "yesterday" => -1,
                        "tomorrow" => 1,
                        _ => 0,
                    };
                    shift_days(r, shift)
                        .map_or_else(|| day.as_str().to_lowercase(), |d| d.to_string())
                }
                (None, Some(rel), Some(unit), Some(r)) => {
                    let delta = match rel.as_str().to_lowercase().as_str() {
                        "last" => -1,
                        "next" => 1,
                        _ => 0,
                    };
                    if unit.as_str() == "year" {
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
                _ => whole.as_str().to_lowercase(),
            };
            push(out, EntityKind::Date, whole.start(), whole.end(), name);
        }
    }
    if let Some(re) = &*ISO_DATE {
        for caps in re.captures_iter(text) {
            let Some(whole) = caps.get(0) else { continue };
            let parse = |n: &str| caps.name(n).and_then(|v| v.as_str().parse::<u32>().ok());
            let valid = match (year_of(&caps), parse("month"), parse("day")) {
                (Some(y), Some(m), Some(d)) => NaiveDate::from_ymd_opt(y, m, d),
                _ => None,
            };
            if let Some(date) = valid {
                push(
                    out,
                    EntityKind::Date,
                    whole.start(),
                    whole.end(),
                    date.to_string(),
                );
            }
        }
    }
    if let Some(re) = &*BARE_YEAR {
        const TEMPORAL: &[&str] = &[
            "in", "since", "until", "till", "by", "from", "before", "after", "during", "of",
            "through", "to", "between", "and", "early", "late", "mid", "year", "the", "around",
            "circa",
        ];
        // Matches overlap through their "prev" word, so scan position by position.
        let mut at = 0;
        while let Some(caps) = text.get(at..).and_then(|rest| re.captures(rest)) {
            let (Some(prev), Some(year)) = (caps.name("prev"), caps.name("year")) else {
                break;
            };
            at += year.end();
            let base = at - year.end();
            let prev_word = prev.as_str().to_lowercase();
            let after = caps.name("after").map(|a| a.as_str());
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
            if decade && !year.as_str().ends_with('0') {
                continue;
            }
            let end = base + year.end() + if decade { 1 } else { 0 };
            let name = if decade {
                format!("{}s", year.as_str())
            } else {
                year.as_str().to_string()
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
        Some(format!("{:.0}", total.round()))
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

fn money(text: &str, out: &mut Vec<NumericMatch>) {
    for re in [&*MONEY_SYMBOL, &*MONEY_CODE, &*MONEY_WORD]
        .into_iter()
        .flatten()
    {
        for caps in re.captures_iter(text) {
            let (Some(whole), Some(num), Some(cur)) =
                (caps.get(0), caps.name("num"), caps.name("cur"))
            else {
                continue;
            };
            if let Some(value) = amount(num.as_str(), caps.name("scale").map(|s| s.as_str())) {
                let name = format!("{value} {}", currency_code(cur.as_str()));
                push(out, EntityKind::Money, whole.start(), whole.end(), name);
            }
        }
    }
}

fn percents(text: &str, out: &mut Vec<NumericMatch>) {
    if let Some(re) = &*PERCENT {
        for caps in re.captures_iter(text) {
            let (Some(whole), Some(num)) = (caps.get(0), caps.name("num")) else {
                continue;
            };
            // A number glued to letters before it ("A320%") is not a percentage.
            let glued = text
                .get(..whole.start())
                .and_then(|s| s.chars().next_back())
                .is_some_and(char::is_alphanumeric);
            if glued {
                continue;
            }
            let n = num.as_str().trim_start_matches('+').replace(',', "");
            push(
                out,
                EntityKind::Percent,
                whole.start(),
                whole.end(),
                format!("{n}%"),
            );
        }
    }
}

/// All dates, amounts and percentages, non-overlapping (longest first; money, then percent,
/// then date when two start together), in text order.
pub fn find(text: &str, reference: Option<NaiveDate>) -> Vec<NumericMatch> {
    let mut all = Vec::new();
    money(text, &mut all);
    percents(text, &mut all);
    dates(text, reference, &mut all);
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
