//! Speed work must not change what the tagger finds: the entities of a fixed set of texts
//! (English news, accented and non-Latin scripts, currency symbols, non-ASCII digits and
//! spaces, control bytes) are compared byte for byte with the output recorded before the
//! speed-ups (`tests/fixtures/identity_expected.txt`), and the numeric rules' fast path (an
//! ASCII stand-in of the text) is compared with the plain search on generated mixtures.
//!
//! To record the expected output again (only for a change meant to alter the output):
//! `GLEANER_BLESS=1 cargo test -p gleaner-tag --test identity`.

use std::fmt::Write as _;
use std::path::PathBuf;

use chrono::NaiveDate;
use gleaner_tag::{Tagger, numeric};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The fixture texts, then the crate's seed article from gleaner-clean.
fn texts() -> Vec<String> {
    let raw = std::fs::read_to_string(fixtures().join("identity_texts.txt"))
        .expect("fixture texts are in the repository");
    let mut out: Vec<String> = raw
        .split("\n---\n")
        .map(|t| t.trim_end_matches('\n').to_string())
        .collect();
    let seed =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../gleaner-clean/testdata/seed_000.txt");
    out.push(std::fs::read_to_string(seed).expect("seed article is in the repository"));
    // All of them as one document too: document-level evidence crosses the texts.
    out.push(out.join("\n\n"));
    out
}

fn render(tagger: &Tagger, texts: &[String]) -> String {
    let mut out = String::new();
    let references = [NaiveDate::from_ymd_opt(2022, 1, 20), None];
    for (k, text) in texts.iter().enumerate() {
        for reference in references {
            let _ = writeln!(out, "# text {k} reference {reference:?}");
            for e in tagger.tag(text, reference) {
                let _ = writeln!(
                    out,
                    "{:?}\t{}\t{}\t{:?}\t{:?}",
                    e.kind, e.start, e.end, e.text, e.name
                );
            }
            for m in numeric::find(text, reference) {
                let _ = writeln!(
                    out,
                    "numeric {:?}\t{}\t{}\t{:?}",
                    m.kind, m.byte_start, m.byte_end, m.name
                );
            }
        }
    }
    out
}

#[test]
fn tagging_output_is_unchanged() {
    let tagger = Tagger::new();
    let got = render(&tagger, &texts());
    let path = fixtures().join("identity_expected.txt");
    if std::env::var_os("GLEANER_BLESS").is_some() {
        std::fs::write(&path, &got).expect("write expected output");
        return;
    }
    let want = std::fs::read_to_string(&path).expect("expected output is in the repository");
    if got != want {
        let first = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(got.lines().count().min(want.lines().count()));
        panic!(
            "tagger output changed at line {}:\n got: {:?}\nwant: {:?}",
            first + 1,
            got.lines().nth(first),
            want.lines().nth(first)
        );
    }
}

/// A small deterministic generator (64-bit LCG), so that failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as usize
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from.get(self.next() % from.len().max(1))
            .copied()
            .unwrap_or("")
    }
}

#[test]
fn numeric_fast_path_equals_plain_search_on_mixtures() {
    let all = texts();
    let words: Vec<&str> = all
        .iter()
        .take(all.len() - 1)
        .flat_map(|t| t.split(' '))
        .filter(|w| !w.is_empty())
        .collect();
    // Glue that sits next to numbers and words: word and non-word chars, currency symbols, and
    // (rarely) the chars that send the search down the plain path.
    let glue = [
        " ", " ", " ", " ", " ", "", "-", "’", "é", "€", "£", "¥", "₹", "₪", "—", "“", "_",
        "\u{301}", "\u{200d}", "x", "1", ".", ",", "%", "$", "½", "²", "\u{a0}", "٣", "\u{1}",
        "\u{7f}",
    ];
    let numbers = [
        "2014", "1999s", "1990s", "12", "3.5", "1,000", "19", "May", "January", "Jan.", "in",
        "the", "per cent", "percent", "billion", "m", "bn", "USD", "dollars", "Thursday",
    ];
    let mut rng = Lcg(12);
    let reference = NaiveDate::from_ymd_opt(2022, 1, 20);
    let mut found = 0;
    for _ in 0..3000 {
        let mut text = String::new();
        for _ in 0..(rng.next() % 24 + 1) {
            if rng.next().is_multiple_of(3) {
                text.push_str(rng.pick(&numbers));
            } else {
                text.push_str(rng.pick(&words));
            }
            text.push_str(rng.pick(&glue));
        }
        let fast = numeric::find(&text, reference);
        let plain = numeric::find_plain(&text, reference);
        assert_eq!(fast, plain, "on {text:?}");
        found += fast.len();
    }
    // The mixtures do hold dates, amounts and percentages.
    assert!(found > 1000, "only {found} matches");
}

/// The numeric rules search near the literals every match holds (a month's first letters, a
/// day's name, "today", "year") and skip patterns whose literals a text lacks: the same
/// matches as every pattern run over the whole text, on texts dense with near misses.
#[test]
fn numeric_windows_equal_whole_text_search() {
    let all = texts();
    for text in &all {
        for reference in [NaiveDate::from_ymd_opt(2022, 1, 20), None] {
            assert_eq!(
                numeric::find(text, reference),
                numeric::find_exhaustive(text, reference)
            );
        }
    }
    let pieces = [
        "in",
        "In",
        "since",
        "until",
        "by",
        "from",
        "during",
        "through",
        "early",
        "late",
        "last",
        "Last",
        "next",
        "this",
        "This",
        "mid-",
        "mid",
        "end of",
        "End of",
        "beginning of",
        "Beginning of",
        "May",
        "Mar",
        "Marketing",
        "March",
        "Sept",
        "Sept.",
        "September",
        "Jun",
        "June",
        "Junior",
        "Dec.",
        "Decision",
        "Jan.",
        "Monday",
        "Wednesdays",
        "Sunday",
        "today",
        "Today",
        "yesterday",
        "tomorrow",
        "year",
        "month",
        "years",
        "5",
        "21st",
        "of",
        "2021",
        "1999",
        "12",
        "3rd",
        "th",
        ",",
        ".",
        "%",
        "per cent",
        "percent",
        "pct",
        "dollars",
        "won",
        "euro",
        "$",
        "€",
        "USD",
        "million",
        "the",
        "2015s",
        "1990s",
    ];
    let glue = [
        " ", " ", " ", "", "-", ",", ", ", "\u{a0}", "\u{3000}", "é", "’", "\n", "٣", "x",
    ];
    let mut rng = Lcg(7);
    let mut found = 0;
    for round in 0..4000 {
        let mut text = String::new();
        // Long texts too: the windows start and end inside them.
        let words = if round % 10 == 0 { 400 } else { 30 };
        for _ in 0..(rng.next() % words + 1) {
            text.push_str(rng.pick(&pieces));
            text.push_str(rng.pick(&glue));
        }
        let reference = NaiveDate::from_ymd_opt(2022, 1, 20);
        let exhaustive = numeric::find_exhaustive(&text, reference);
        assert_eq!(numeric::find(&text, reference), exhaustive, "on {text:?}");
        assert_eq!(
            numeric::find_plain(&text, reference),
            exhaustive,
            "plain, on {text:?}"
        );
        found += exhaustive.len();
    }
    assert!(found > 5_000, "{found}");
}
