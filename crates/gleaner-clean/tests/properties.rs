//! Properties of `clean` on any input: random Unicode (controls, combining marks, zero-width
//! and bidi characters, every kind of space and line break, astral characters), Blogger
//! furniture in many languages, empty and white-space-only blocks, and very large inputs.
//!
//! For every input: no panic; the body is NFC; it holds no control character but `\n` (and
//! `\t` only inside preformatted text); no line starts or ends with a space and no two spaces
//! follow each other (outside preformatted text); there is never more than one blank line in
//! a row, none at either end; cleaning the cleaned body again gives the same body (and hash);
//! the word count and the hash are those of the returned title and body.
//!
//! The inputs come from a small deterministic generator (no dependency, same cases on every
//! run); `GLEANER_CLEAN_CASES` raises the number of cases and `GLEANER_CLEAN_SEED` changes
//! them, for a longer local run:
//!
//! ```text
//! GLEANER_CLEAN_CASES=200000 GLEANER_CLEAN_SEED=7 cargo test --release -p gleaner-clean --test properties
//! ```

use gleaner_clean::{CleanedArticle, clean, content_hash, count_words};
use gleaner_model::{BlockKind, ScrapedArticle, TextBlock};
use unicode_normalization::is_nfc;

/// SplitMix64: tiny, deterministic, good enough to spread cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Characters chosen to hit every rule: spaces, breaks, controls, invisibles, marks.
const SPECIAL: &[char] = &[
    ' ',
    '\n',
    '\r',
    '\t',
    '\u{0}',
    '\u{7}',
    '\u{8}',
    '\u{b}',
    '\u{c}',
    '\u{1b}',
    '\u{7f}',
    '\u{80}',
    '\u{85}',
    '\u{9f}',
    '\u{a0}',
    '\u{ad}',
    '\u{300}',
    '\u{301}',
    '\u{308}',
    '\u{327}',
    '\u{34f}',
    '\u{1100}',
    '\u{1161}',
    '\u{11a8}',
    '\u{180e}',
    '\u{2000}',
    '\u{2002}',
    '\u{2009}',
    '\u{200a}',
    '\u{200b}',
    '\u{200c}',
    '\u{200d}',
    '\u{200e}',
    '\u{200f}',
    '\u{2028}',
    '\u{2029}',
    '\u{202e}',
    '\u{202f}',
    '\u{205f}',
    '\u{2060}',
    '\u{2061}',
    '\u{2064}',
    '\u{3000}',
    '\u{fe0f}',
    '\u{feff}',
    '\u{fffd}',
    '\u{fffe}',
    '\u{1f1ee}',
    '\u{1f1f7}',
    '\u{1f469}',
    '\u{10ffff}',
    '\u{e000}',
    'Å',
    'Å',
    'é',
    'ﬁ',
    'ǅ',
    'İ',
    'ß',
    'Ω',
    '١',
];

/// Fragments of text and furniture, so that boilerplate rules and paragraph logic run.
const PIECES: &[&str] = &[
    "No comments:",
    "Post a Comment",
    "Powered by Blogger.",
    "Newer Post Older Post Home",
    "Subscribe to: Post Comments (Atom)",
    "Keine Kommentare:",
    "Brak komentarzy:",
    "Aucun commentaire :",
    "Get link",
    "Facebook",
    "Email",
    "Labels: a, b",
    "Posted by Anna at 9:35 AM",
    "Note: Only a member of this blog may post a comment.",
    "I had no comments to make: the room was silent.",
    "The minister said the talks would resume in Vienna next week.",
    "Home",
    "    indented code();",
    "  ",
    "\n\n",
    "\r\n",
    " \u{a0} ",
    "e\u{301}",
    "👩\u{200d}👩\u{200d}👧",
    "日本語のテキスト",
    "שלום עולם",
    "Привет, мир",
];

const KINDS: [BlockKind; 5] = [
    BlockKind::Paragraph,
    BlockKind::Heading,
    BlockKind::ListItem,
    BlockKind::Quote,
    BlockKind::Preformatted,
];

fn random_char(rng: &mut Rng) -> char {
    match rng.below(6) {
        0 | 1 => *rng.pick(SPECIAL),
        2 => char::from(b'a' + rng.below(26) as u8),
        3 => ' ',
        // Anywhere in Unicode (surrogates are not chars; try again inside the BMP).
        _ => {
            let cp = rng.below(0x11_0000) as u32;
            char::from_u32(cp).unwrap_or('\u{d7ff}')
        }
    }
}

fn random_text(rng: &mut Rng, max_parts: usize) -> String {
    let mut text = String::new();
    for _ in 0..rng.below(max_parts + 1) {
        if rng.below(3) == 0 {
            let piece: &&str = rng.pick(PIECES);
            text.push_str(piece);
        } else {
            for _ in 0..rng.below(12) {
                text.push(random_char(rng));
            }
        }
    }
    text
}

fn random_article(rng: &mut Rng, allow_pre: bool) -> ScrapedArticle {
    let mut blocks = Vec::new();
    for _ in 0..rng.below(10) {
        let mut kind = *rng.pick(&KINDS);
        if !allow_pre && kind == BlockKind::Preformatted {
            kind = BlockKind::Paragraph;
        }
        blocks.push(TextBlock {
            kind,
            text: random_text(rng, 8),
        });
    }
    ScrapedArticle {
        title: (rng.below(4) != 0).then(|| random_text(rng, 3)),
        site_name: (rng.below(2) == 0).then(|| random_text(rng, 1)),
        language_hint: (rng.below(2) == 0).then(|| random_text(rng, 1)),
        blocks,
        ..ScrapedArticle::default()
    }
}

fn cases() -> usize {
    std::env::var("GLEANER_CLEAN_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

fn seed() -> u64 {
    std::env::var("GLEANER_CLEAN_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5EED_0001)
}

/// The properties every cleaned article has; `has_pre` relaxes the in-line ones.
fn check(input: &ScrapedArticle, c: &CleanedArticle) {
    let has_pre = input
        .blocks
        .iter()
        .any(|b| b.kind == BlockKind::Preformatted);
    let body = &c.body;
    assert!(is_nfc(body), "body not NFC: {body:?}");
    assert!(is_nfc(&c.title), "title not NFC: {:?}", c.title);
    for ch in body.chars() {
        let allowed = ch == '\n' || (ch == '\t' && has_pre);
        assert!(!ch.is_control() || allowed, "control {ch:?} in {body:?}");
    }
    assert!(
        !c.title.chars().any(char::is_control),
        "control in title {:?}",
        c.title
    );
    assert!(!body.contains("\n\n\n"), "two blank lines in {body:?}");
    // (Preformatted text keeps its indentation, so only line breaks are checked there.)
    let at_end: fn(char) -> bool = if has_pre {
        |ch| ch == '\n'
    } else {
        char::is_whitespace
    };
    assert!(
        !body.starts_with(at_end) && !body.ends_with(at_end),
        "white space at an end of {body:?}"
    );
    assert!(!c.title.contains("  ") && c.title.trim() == c.title);
    if !has_pre {
        assert!(!body.contains("  "), "double space in {body:?}");
        for line in body.lines() {
            assert_eq!(line.trim(), line, "untrimmed line in {body:?}");
            assert!(
                !line.chars().any(|ch| ch.is_whitespace() && ch != ' '),
                "odd space in {line:?}"
            );
        }
    }
    assert_eq!(c.word_count as usize, count_words(body));
    assert_eq!(c.content_hash, content_hash(&c.title, body));
    if body.is_empty() {
        assert_eq!(c.word_count, 0);
    }
}

/// Cleaning the cleaned text changes nothing: as one block, and paragraph by paragraph.
fn check_idempotent(c: &CleanedArticle) {
    let again = clean(&ScrapedArticle {
        title: Some(c.title.clone()),
        blocks: vec![TextBlock::paragraph(c.body.clone())],
        ..ScrapedArticle::default()
    });
    assert_eq!(again.body, c.body, "not idempotent");
    let split = clean(&ScrapedArticle {
        blocks: c.body.split("\n\n").map(TextBlock::paragraph).collect(),
        ..ScrapedArticle::default()
    });
    assert_eq!(split.body, c.body, "not idempotent paragraph by paragraph");
    let hash_again = content_hash(&c.title, &again.body);
    assert_eq!(hash_again, c.content_hash);
}

#[test]
fn random_articles_keep_every_property() {
    let mut rng = Rng(seed());
    for i in 0..cases() {
        let allow_pre = i % 4 == 0;
        let a = random_article(&mut rng, allow_pre);
        let c = clean(&a);
        check(&a, &c);
        if !allow_pre {
            check_idempotent(&c);
        }
        assert_eq!(clean(&a), c, "not deterministic");
    }
}

#[test]
fn empty_and_white_space_only_inputs_give_an_empty_body() {
    let blanks = [
        "",
        " ",
        "\n\n\n",
        "\r\n\r\n",
        "\t \u{a0}\u{2003}\u{3000}",
        "\u{200b}\u{feff}\u{ad}\u{2060}",
        "\u{0}\u{1}\u{7f}\u{9f}",
        "\u{2028}\u{2029}\u{85}",
    ];
    for kind in KINDS {
        for blank in blanks {
            let a = ScrapedArticle {
                title: Some(blank.to_string()),
                blocks: vec![TextBlock {
                    kind,
                    text: blank.to_string(),
                }],
                ..ScrapedArticle::default()
            };
            let c = clean(&a);
            assert_eq!(c.body, "", "{kind:?} {blank:?}");
            assert_eq!(c.title, "");
            assert_eq!(c.word_count, 0);
            check(&a, &c);
        }
    }
    let none = clean(&ScrapedArticle::default());
    assert_eq!(none.body, "");
    assert_eq!(none.language, None);
    assert_eq!(none.content_hash, content_hash("", ""));
}

#[test]
fn huge_inputs_are_cleaned() {
    let mut rng = Rng(0x5EED_0002);
    // One block of about a megabyte of random characters.
    let mut big = String::new();
    while big.len() < 1_000_000 {
        big.push(random_char(&mut rng));
    }
    let a = ScrapedArticle {
        blocks: vec![TextBlock::paragraph(big)],
        ..ScrapedArticle::default()
    };
    let c = clean(&a);
    check(&a, &c);
    check_idempotent(&c);

    // One line of two megabytes without a space.
    let long_word = "x".repeat(2_000_000);
    let c = clean(&ScrapedArticle {
        blocks: vec![TextBlock::paragraph(long_word.clone())],
        ..ScrapedArticle::default()
    });
    assert_eq!(c.body, long_word);
    assert_eq!(c.word_count, 1);

    // Fifty thousand small blocks of every kind, furniture among them.
    let blocks: Vec<TextBlock> = (0..50_000)
        .map(|i| TextBlock {
            kind: KINDS[i % KINDS.len()],
            text: format!("{} {i}", PIECES[i % PIECES.len()]),
        })
        .collect();
    let a = ScrapedArticle {
        blocks,
        ..ScrapedArticle::default()
    };
    let c = clean(&a);
    check(&a, &c);
}
