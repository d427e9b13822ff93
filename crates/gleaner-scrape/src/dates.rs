//! Dates written for people: "jueves, 13 de enero de 2011", "13. Januar 2011",
//! "January 13, 2011 at 8:13 PM". The last resort when a page has no machine-readable time.
//!
//! Month names are known in the languages Blogger and news sites are mostly written in
//! (English, Spanish, Portuguese, French, German, Italian, Dutch, with or without accents),
//! plus the usual English abbreviations. A date needs a month name, a day (1–31, before or
//! after the month, ordinals such as `13th` or `1er` accepted) and a four-digit year after the
//! month; a time `H:MM` (with `am`/`pm`) after the year is kept. The text carries no offset, so
//! the result is in UTC, like any other naive time this crate reads.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};

/// Month names, lowercase, each with its month number.
const MONTHS: &[(&str, u32)] = &[
    // English
    ("january", 1),
    ("february", 2),
    ("march", 3),
    ("april", 4),
    ("may", 5),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("september", 9),
    ("october", 10),
    ("november", 11),
    ("december", 12),
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("sept", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
    // Spanish
    ("enero", 1),
    ("febrero", 2),
    ("marzo", 3),
    ("abril", 4),
    ("mayo", 5),
    ("junio", 6),
    ("julio", 7),
    ("agosto", 8),
    ("septiembre", 9),
    ("setiembre", 9),
    ("octubre", 10),
    ("noviembre", 11),
    ("diciembre", 12),
    // Portuguese
    ("janeiro", 1),
    ("fevereiro", 2),
    ("março", 3),
    ("marco", 3),
    ("maio", 5),
    ("junho", 6),
    ("julho", 7),
    ("setembro", 9),
    ("outubro", 10),
    ("novembro", 11),
    ("dezembro", 12),
    // French
    ("janvier", 1),
    ("février", 2),
    ("fevrier", 2),
    ("mars", 3),
    ("avril", 4),
    ("mai", 5),
    ("juin", 6),
    ("juillet", 7),
    ("août", 8),
    ("aout", 8),
    ("septembre", 9),
    ("octobre", 10),
    ("novembre", 11),
    ("décembre", 12),
    ("decembre", 12),
    // German
    ("januar", 1),
    ("jänner", 1),
    ("februar", 2),
    ("märz", 3),
    ("maerz", 3),
    ("juni", 6),
    ("juli", 7),
    ("oktober", 10),
    ("dezember", 12),
    // Italian
    ("gennaio", 1),
    ("febbraio", 2),
    ("aprile", 4),
    ("maggio", 5),
    ("giugno", 6),
    ("luglio", 7),
    ("settembre", 9),
    ("ottobre", 10),
    ("dicembre", 12),
    // Dutch
    ("januari", 1),
    ("februari", 2),
    ("maart", 3),
    ("mei", 5),
    ("augustus", 8),
];

/// Words that may stand between the parts of a date ("13 de enero de 2011", "the 13th of").
const FILLERS: &[&str] = &["de", "del", "of", "the", "den", "le", "il", "em"];

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    /// A number, written with digits alone or with an ordinal suffix (`13th`, `1er`).
    Number(u32),
}

/// Words (letters) and numbers (digits with an optional ordinal suffix), in order. Longer
/// texts are cut: a date line is short.
fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    for raw in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .take(64)
    {
        let digits: String = raw.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() {
            out.push(Token::Word(raw.to_lowercase()));
            continue;
        }
        let rest = raw.get(digits.len()..).unwrap_or_default().to_lowercase();
        let ordinal = matches!(
            rest.as_str(),
            "" | "st" | "nd" | "rd" | "th" | "er" | "e" | "o" | "º" | "ª"
        );
        match digits.parse::<u32>() {
            Ok(n) if ordinal && digits.len() <= 4 => out.push(Token::Number(n)),
            _ => out.push(Token::Word(raw.to_lowercase())),
        }
    }
    out
}

fn month_of(word: &str) -> Option<u32> {
    let word = word.trim_end_matches('.');
    MONTHS
        .iter()
        .find(|(name, _)| *name == word)
        .map(|&(_, m)| m)
}

fn is_filler(t: &Token) -> bool {
    matches!(t, Token::Word(w) if FILLERS.contains(&w.as_str()))
}

/// The next token at or after `i` that is not a filler word, and its index.
fn next_real(tokens: &[Token], mut i: usize) -> Option<(usize, &Token)> {
    while let Some(t) = tokens.get(i) {
        if !is_filler(t) {
            return Some((i, t));
        }
        i += 1;
    }
    None
}

/// The previous token before `i` that is not a filler word.
fn prev_real(tokens: &[Token], i: usize) -> Option<&Token> {
    tokens.get(..i)?.iter().rev().find(|t| !is_filler(t))
}

/// Zone abbreviations news sites print after a time, with their offsets in minutes.
const ZONES: &[(&str, i32)] = &[
    ("utc", 0),
    ("gmt", 0),
    ("z", 0),
    ("est", -300),
    ("edt", -240),
    ("cst", -360),
    ("cdt", -300),
    ("mst", -420),
    ("mdt", -360),
    ("pst", -480),
    ("pdt", -420),
    ("bst", 60),
    ("cet", 60),
    ("cest", 120),
    ("ist", 330),
    ("jst", 540),
    ("aest", 600),
];

/// A time `H:MM` (optionally `am`/`pm`, then a zone abbreviation such as `EST`) in `text`, if
/// there is one; the zone's offset in minutes when it is known.
pub(crate) fn time_in(text: &str) -> Option<(NaiveTime, Option<i32>)> {
    let bytes = text.as_bytes();
    let colon = text.find(':')?;
    let hour_start = bytes
        .get(..colon)?
        .iter()
        .rposition(|b| !b.is_ascii_digit())
        .map_or(0, |p| p + 1);
    let hour: u32 = text.get(hour_start..colon)?.parse().ok()?;
    let minute: u32 = text.get(colon + 1..colon + 3)?.parse().ok()?;
    let after = text
        .get(colon + 3..)
        .unwrap_or_default()
        .trim_start()
        .to_lowercase();
    let mut words = after
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty());
    let mut word = words.next();
    let (hour, had_meridiem) = match word {
        Some("pm" | "p") => (if hour < 12 { hour + 12 } else { hour }, true),
        Some("am" | "a") => (if hour == 12 { 0 } else { hour }, true),
        _ => (hour, false),
    };
    if had_meridiem {
        word = words.next();
        // "p.m." splits into "p" and "m".
        if word == Some("m") {
            word = words.next();
        }
    }
    let zone = word.and_then(|w| ZONES.iter().find(|(z, _)| *z == w).map(|&(_, o)| o));
    Some((NaiveTime::from_hms_opt(hour, minute, 0)?, zone))
}

/// Read a date written in words. `None` when the text holds no complete date.
pub(crate) fn parse_visible_date(text: &str) -> Option<DateTime<FixedOffset>> {
    let toks = tokens(text);
    for (i, t) in toks.iter().enumerate() {
        let Token::Word(w) = t else { continue };
        let Some(month) = month_of(w) else { continue };
        // Day before the month ("13 de enero", "13. Januar") or after it ("January 13").
        let (day, year_from) = match (prev_real(&toks, i), next_real(&toks, i + 1)) {
            (Some(Token::Number(d)), _) if (1..=31).contains(d) => (*d, i + 1),
            (_, Some((j, Token::Number(d)))) if (1..=31).contains(d) => (*d, j + 1),
            _ => continue,
        };
        let Some((_, Token::Number(year))) = next_real(&toks, year_from) else {
            continue;
        };
        if !(1900..=2100).contains(year) {
            continue;
        }
        let Some(date) = NaiveDate::from_ymd_opt(i32::try_from(*year).ok()?, month, day) else {
            continue;
        };
        // A time after the year, if any ("às 20:13", "at 8:13 PM EST").
        let year_text = year.to_string();
        let (time, zone) = text
            .find(&year_text)
            .and_then(|p| text.get(p + year_text.len()..))
            .and_then(time_in)
            .unwrap_or((NaiveTime::MIN, None));
        let offset = FixedOffset::east_opt(zone.unwrap_or(0) * 60)?;
        return date.and_time(time).and_local_timezone(offset).single();
    }
    None
}

/// The first date written in words in the text of the elements `selector` matches under
/// `scope` (at most 20 of them are read; texts over 120 characters, or that start by saying
/// they are an update, are passed over). When that date has no time and a Blogger timestamp
/// link (`.post-timestamp`, `.timestamp-link`) under `scope` shows one, the time is added.
/// Elements for which `skip` says yes (page furniture) are not read.
pub(crate) fn visible_date_under(
    scope: scraper::ElementRef<'_>,
    selector: &scraper::Selector,
    skip: impl Fn(scraper::ElementRef<'_>) -> bool,
) -> Option<DateTime<FixedOffset>> {
    let date = scope
        .select(selector)
        .filter(|e| !skip(*e))
        .take(20)
        .find_map(|e| {
            let text = crate::dom::text_of(e);
            let lower = text.to_lowercase();
            let updated = [
                "updated",
                "last updated",
                "modified",
                "actualizado",
                "aktualisiert",
            ]
            .iter()
            .any(|w| lower.starts_with(w));
            if updated || text.chars().count() > 120 {
                return None;
            }
            parse_visible_date(&text)
        })?;
    if date.time() != NaiveTime::MIN {
        return Some(date);
    }
    let time = scope
        .select(crate::dom::selector!(".post-timestamp, .timestamp-link"))
        .take(5)
        .find_map(|e| time_in(&crate::dom::text_of(e)));
    match time {
        Some((t, zone)) => {
            let offset = match zone {
                Some(minutes) => FixedOffset::east_opt(minutes * 60)?,
                None => *date.offset(),
            };
            date.date_naive()
                .and_time(t)
                .and_local_timezone(offset)
                .single()
        }
        None => Some(date),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Option<String> {
        parse_visible_date(text).map(|d| d.to_rfc3339())
    }

    #[test]
    fn dates_in_several_languages() {
        for (text, want) in [
            ("jueves, 13 de enero de 2011", "2011-01-13T00:00:00+00:00"),
            ("13. Januar 2011", "2011-01-13T00:00:00+00:00"),
            ("January 13, 2011", "2011-01-13T00:00:00+00:00"),
            ("Thursday, January 20, 2022", "2022-01-20T00:00:00+00:00"),
            ("sábado, 3 de febrero de 2024", "2024-02-03T00:00:00+00:00"),
            (
                "quinta-feira, 5 de março de 2015",
                "2015-03-05T00:00:00+00:00",
            ),
            ("mercredi 1er février 2017", "2017-02-01T00:00:00+00:00"),
            ("Donnerstag, 4. März 2021", "2021-03-04T00:00:00+00:00"),
            ("giovedì 13 gennaio 2011", "2011-01-13T00:00:00+00:00"),
            ("donderdag 13 januari 2011", "2011-01-13T00:00:00+00:00"),
            ("13th of Sept. 2019", "2019-09-13T00:00:00+00:00"),
            ("Dec 2, 2020", "2020-12-02T00:00:00+00:00"),
        ] {
            assert_eq!(day(text).as_deref(), Some(want), "{text}");
        }
    }

    #[test]
    fn a_time_after_the_date_is_kept() {
        assert_eq!(
            day("sexta-feira, 22 de outubro de 2010 às 20:13").as_deref(),
            Some("2010-10-22T20:13:00+00:00")
        );
        assert_eq!(
            day("January 13, 2011 at 8:05 PM").as_deref(),
            Some("2011-01-13T20:05:00+00:00")
        );
        assert_eq!(
            day("January 13, 2011 at 12:30 am").as_deref(),
            Some("2011-01-13T00:30:00+00:00")
        );
        assert_eq!(
            day("November 19, 2019, 07:47 PM EST").as_deref(),
            Some("2019-11-19T19:47:00-05:00")
        );
        assert_eq!(
            day("Nov 20, 2019 01:38 p.m. IST").as_deref(),
            Some("2019-11-20T13:38:00+05:30")
        );
    }

    #[test]
    fn incomplete_or_impossible_dates_are_none() {
        for text in [
            "",
            "January 2011",
            "13 January",
            "31 de febrero de 2011",
            "May the force be with you",
            "posted 3 march",
            "March 13, 99999",
            "Version 2.0 released in May",
            "\u{0}:::99:",
        ] {
            assert_eq!(day(text), None, "{text}");
        }
    }
}
