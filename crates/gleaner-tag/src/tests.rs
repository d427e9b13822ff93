use std::collections::BTreeSet;

use chrono::NaiveDate;
use gleaner_model::{EntityKind, ScrapedArticle, TextBlock, char_slice};

use super::*;

/// The project's seed post (`shared/seeds/000_960c084becca3066.txt`), boilerplate and all.
const SEED: &str = include_str!("../testdata/seed_000.txt");

/// The seed post's body as the pipeline stores it: cleaned by `gleaner-clean`.
fn seed_body() -> String {
    let mut chunks = SEED.split("\n\n");
    let _title = chunks.next();
    let scraped = ScrapedArticle {
        blocks: chunks.map(TextBlock::paragraph).collect(),
        ..ScrapedArticle::default()
    };
    gleaner_clean::clean(&scraped).body
}

fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

fn assert_offsets(body: &str, entities: &[Entity]) {
    for e in entities {
        assert_eq!(
            char_slice(body, e.start, e.end),
            Some(e.text.as_str()),
            "{e:?}"
        );
    }
}

/// (kind, text, name) triples, deduplicated.
fn triples(entities: &[Entity]) -> BTreeSet<(EntityKind, String, String)> {
    entities
        .iter()
        .map(|e| (e.kind, e.text.clone(), e.name.clone()))
        .collect()
}

/// What a careful reader marks in the seed article: (kind, mention text, canonical name).
/// Every one of these must be found at least once.
const SEED_GOLD: &[(EntityKind, &str, &str)] = &[
    (EntityKind::Person, "Ibrahim Raisi", "Ibrahim Raisi"),
    (EntityKind::Person, "Raisi", "Ibrahim Raisi"),
    (EntityKind::Person, "Putin", "Vladimir Putin"),
    (EntityKind::Person, "Sergey Lavrov", "Sergey Lavrov"),
    (EntityKind::Person, "Rouhani", "Hassan Rouhani"),
    (EntityKind::Person, "Obama", "Barack Obama"),
    (EntityKind::Person, "Trump", "Donald Trump"),
    (EntityKind::Person, "Khamenei", "Ali Khamenei"),
    (EntityKind::Person, "Bashar al-Assad", "Bashar al-Assad"),
    (
        EntityKind::Person,
        "Hossein Amir-Abdollahian",
        "Hossein Amir-Abdollahian",
    ),
    (EntityKind::Person, "Sulemani", "Sulemani"),
    (EntityKind::Person, "Khalid Bhatti", "Khalid Bhatti"),
    (EntityKind::Location, "Iran", "Iran"),
    (EntityKind::Location, "Russia", "Russia"),
    (EntityKind::Location, "Moscow", "Moscow"),
    (EntityKind::Location, "Tehran", "Tehran"),
    (EntityKind::Location, "China", "China"),
    (EntityKind::Location, "America", "United States"),
    (EntityKind::Location, "Israel", "Israel"),
    (EntityKind::Location, "Syria", "Syria"),
    (EntityKind::Location, "Bushehr", "Bushehr"),
    (EntityKind::Organization, "Kremlin", "Kremlin"),
    (EntityKind::Organization, "Anadolu", "Anadolu Agency"),
    (EntityKind::Organization, "Twitter", "Twitter"),
    (EntityKind::Group, "Iranian", "Iranian"),
    (EntityKind::Group, "Russian", "Russian"),
    (EntityKind::Group, "Russians", "Russian"),
    (EntityKind::Group, "Israeli", "Israeli"),
    (EntityKind::Group, "Turkish", "Turkish"),
    (EntityKind::Group, "Syrian", "Syrian"),
    (EntityKind::Group, "Western", "Western"),
    (EntityKind::Group, "Irani", "Iranian"),
    (EntityKind::Date, "January 19", "2022-01-19"),
    (EntityKind::Date, "Thursday", "2022-01-20"),
    (EntityKind::Date, "August 2021", "2021-08"),
    (EntityKind::Date, "last year", "2021"),
    (EntityKind::Date, "1979", "1979"),
    (EntityKind::Date, "2014", "2014"),
];

#[test]
fn seed_article_gold_entities_are_found_with_exact_offsets() {
    let body = seed_body();
    let entities = Tagger::new().tag(&body, date(2022, 1, 20));
    assert_offsets(&body, &entities);
    let found = triples(&entities);
    for &(kind, text, name) in SEED_GOLD {
        assert!(
            found.contains(&(kind, text.to_string(), name.to_string())),
            "missing {kind} {text:?} → {name:?}"
        );
    }
    // Nothing outside the gold kinds' reasonable set: every person found is a gold person.
    let gold_people: BTreeSet<&str> = SEED_GOLD
        .iter()
        .filter(|g| g.0 == EntityKind::Person)
        .map(|g| g.2)
        .collect();
    for e in entities.iter().filter(|e| e.kind == EntityKind::Person) {
        assert!(
            gold_people.contains(e.name.as_str()),
            "unexpected person {e:?}"
        );
    }
    // No boilerplate word or sentence-initial function word became a name.
    for e in &entities {
        assert!(
            !["No", "Hard-liners", "According", "Ahead", "The", "New"].contains(&e.text.as_str()),
            "{e:?}"
        );
    }
    // Hyphenated compounds give their parts: "Iranian-Russian relations", "pro-Russia line".
    let at = |needle: &str| {
        body.find(needle)
            .map(|b| body.get(..b).map_or(0, |s| s.chars().count()))
    };
    let ir = at("Iranian-Russian").unwrap_or_default();
    assert!(
        entities
            .iter()
            .any(|e| e.start == ir && e.text == "Iranian")
    );
    assert!(
        entities
            .iter()
            .any(|e| e.start == ir + 8 && e.text == "Russian")
    );
    let pro = at("pro-Russia").unwrap_or_default();
    assert!(
        entities
            .iter()
            .any(|e| e.start == pro + 4 && e.text == "Russia" && e.kind == EntityKind::Location)
    );
}

#[test]
fn possessives_titles_and_short_mentions_resolve() {
    let body = "Mr. Lavrov spoke. Russian Foreign Minister Sergey Lavrov said Raisi’s trip mattered. \
                Ibrahim Raisi agreed, and Lavrov's aide nodded.";
    let entities = Tagger::new().tag(body, None);
    assert_offsets(body, &entities);
    let people: Vec<(&str, &str)> = entities
        .iter()
        .filter(|e| e.kind == EntityKind::Person)
        .map(|e| (e.text.as_str(), e.name.as_str()))
        .collect();
    assert_eq!(
        people,
        [
            ("Lavrov", "Sergey Lavrov"),
            ("Sergey Lavrov", "Sergey Lavrov"),
            ("Raisi", "Ibrahim Raisi"),
            ("Ibrahim Raisi", "Ibrahim Raisi"),
            ("Lavrov", "Sergey Lavrov"),
        ]
    );
}

#[test]
fn names_unknown_to_the_lists_are_found_by_cues() {
    let tagger = Tagger::new();
    let body = "Opposition leader Maria Kowalczyk met officials of the Zagros Cement Company \
                in the city of Kermanshah, near the Zagros Mountains, and spoke to Dr. Okonjo.";
    let entities = tagger.tag(body, None);
    assert_offsets(body, &entities);
    let found = triples(&entities);
    for (kind, text) in [
        (EntityKind::Person, "Maria Kowalczyk"),
        (EntityKind::Organization, "Zagros Cement Company"),
        (EntityKind::Location, "Kermanshah"),
        (EntityKind::Location, "Zagros Mountains"),
        (EntityKind::Person, "Okonjo"),
    ] {
        assert!(
            found.iter().any(|(k, t, _)| *k == kind && t == text),
            "missing {kind} {text}: {found:?}"
        );
    }
    // Acronyms, places and groups from the lists, with canonical names.
    let body = "The U.S. and the UN criticised Iranians and Shiite militias in Washington.";
    let found = triples(&tagger.tag(body, None));
    assert!(found.contains(&(EntityKind::Location, "U.S.".into(), "United States".into())));
    assert!(found.contains(&(
        EntityKind::Organization,
        "UN".into(),
        "United Nations".into()
    )));
    assert!(found.contains(&(EntityKind::Group, "Iranians".into(), "Iranian".into())));
    assert!(found.contains(&(EntityKind::Group, "Shiite".into(), "Shiite".into())));
    assert!(found.contains(&(
        EntityKind::Location,
        "Washington".into(),
        "Washington".into()
    )));
}

#[test]
fn headlines_and_sentence_starts_do_not_make_names() {
    let body =
        "Iran Wants Strategic Ties With Russia\n\nBreaking news today. Analysts expect more.";
    let entities = Tagger::new().tag(body, None);
    let texts: Vec<&str> = entities.iter().map(|e| e.text.as_str()).collect();
    assert!(
        texts.contains(&"Iran") && texts.contains(&"Russia"),
        "{texts:?}"
    );
    for bad in ["Wants", "Strategic", "Ties", "Breaking", "Analysts"] {
        assert!(!texts.contains(&bad), "{bad} tagged: {texts:?}");
    }
}

#[test]
fn events_storms_and_common_word_runs_are_not_entities() {
    let body = "Before the World Cup, Hurricane Katrina hit. The Tax Code changed the tax rules. \
                Ships crossed the Gulf of Mexico toward the Isle of Man.";
    let entities = Tagger::new().tag(body, None);
    assert_offsets(body, &entities);
    let texts: Vec<&str> = entities.iter().map(|e| e.text.as_str()).collect();
    for bad in [
        "World Cup",
        "World",
        "Cup",
        "Hurricane Katrina",
        "Katrina",
        "Tax Code",
    ] {
        assert!(!texts.contains(&bad), "{bad} tagged: {texts:?}");
    }
    let found = triples(&entities);
    assert!(found.contains(&(
        EntityKind::Location,
        "Gulf of Mexico".into(),
        "Gulf of Mexico".into()
    )));
    assert!(found.contains(&(
        EntityKind::Location,
        "Isle of Man".into(),
        "Isle of Man".into()
    )));
    // In IOB2 the event is MISC.
    let tags = Tagger::new().tag_tokens(&["He", "won", "the", "World", "Cup", "."]);
    assert_eq!(tags, ["O", "O", "O", "B-MISC", "I-MISC", "O"]);
}

#[test]
fn other_languages_get_listed_names_only() {
    // German capitalises every noun: no guessing from capitals, but listed names still count.
    let body = "Die Weitergabe Ihrer Daten an die Behörde ist gemäß Bundesmeldegesetz erlaubt, \
                sagte der Sprecher in Berlin. Die Regierung in Moskau und Präsident Putin \
                schwiegen dazu, und die Norm bleibt bestehen, wie die Zeitung berichtete.";
    let entities = Tagger::new().tag(body, None);
    assert_offsets(body, &entities);
    let texts: Vec<&str> = entities.iter().map(|e| e.text.as_str()).collect();
    assert!(
        texts.contains(&"Berlin") && texts.contains(&"Putin"),
        "{texts:?}"
    );
    for bad in [
        "Weitergabe Ihrer Daten",
        "Daten",
        "Bundesmeldegesetz",
        "Norm",
        "Regierung",
    ] {
        assert!(!texts.contains(&bad), "{bad} tagged: {texts:?}");
    }
}

#[test]
fn a_language_given_by_the_caller_is_not_detected_again() {
    // The same German text: told it is German, it gets the listed names only, as detected;
    // told it is English, capital-letter guesses come back (so the caller's value is used).
    let body = "Die Weitergabe Ihrer Daten an die Behörde ist gemäß Bundesmeldegesetz erlaubt, \
                sagte der Sprecher in Berlin. Die Regierung in Moskau und Präsident Putin \
                schwiegen dazu, und die Norm bleibt bestehen, wie die Zeitung berichtete.";
    let tagger = Tagger::new();
    let texts = |language| -> Vec<String> {
        let entities = tagger.tag_in_language(body, None, language);
        assert_offsets(body, &entities);
        entities.into_iter().map(|e| e.text).collect()
    };
    let detected = texts(None);
    assert_eq!(texts(Some("de")), detected);
    let as_english = texts(Some("en"));
    assert!(
        as_english.len() > detected.len(),
        "{as_english:?} vs {detected:?}"
    );
}

#[test]
fn dates_resolve_against_the_reference() {
    let tagger = Tagger::new();
    let reference = date(2022, 1, 20);
    let cases = [
        (
            "He spoke on January 19 in Moscow.",
            "January 19",
            "2022-01-19",
        ),
        (
            "It began on December 28, said the report.",
            "December 28",
            "2021-12-28",
        ),
        ("Signed on 3 March 2015.", "3 March 2015", "2015-03-03"),
        ("Elected in August 2021.", "August 2021", "2021-08"),
        ("Talks resume in March.", "March", "2022-03"),
        ("He left in August.", "August", "2021-08"),
        ("They met Thursday.", "Thursday", "2022-01-20"),
        ("They met on Monday.", "Monday", "2022-01-17"),
        ("They meet next Monday.", "next Monday", "2022-01-24"),
        ("Sanctions since 2014 remain.", "2014", "2014"),
        ("The 2015 nuclear deal.", "2015", "2015"),
        ("Prices of the 1990s.", "1990s", "1990s"),
        ("He said so yesterday.", "yesterday", "2022-01-19"),
        ("Filed 2021-11-05.", "2021-11-05", "2021-11-05"),
    ];
    for (body, text, name) in cases {
        let entities = tagger.tag(body, reference);
        assert_offsets(body, &entities);
        let dates: Vec<(&str, &str)> = entities
            .iter()
            .filter(|e| e.kind == EntityKind::Date)
            .map(|e| (e.text.as_str(), e.name.as_str()))
            .collect();
        assert_eq!(dates, [(text, name)], "{body}");
    }
    // Without a reference: ISO where the text says it all, else a partial form or the word.
    let e = tagger.tag("On January 19 and Thursday.", None);
    let names: Vec<&str> = e.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["--01-19", "Thursday"]);
    // Counts are not years.
    for body in [
        "He bought 2000 shares.",
        "Room 2014 is free.",
        "About 1990 people came.",
    ] {
        assert!(
            tagger
                .tag(body, reference)
                .iter()
                .all(|e| e.kind != EntityKind::Date),
            "{body}"
        );
    }
}

#[test]
fn money_and_percentages() {
    let tagger = Tagger::new();
    let cases = [
        (
            "It costs $5 billion now.",
            EntityKind::Money,
            "$5 billion",
            "5000000000 USD",
        ),
        ("A fee of €20 applies.", EntityKind::Money, "€20", "20 EUR"),
        (
            "Paid 5 million dollars.",
            EntityKind::Money,
            "5 million dollars",
            "5000000 USD",
        ),
        (
            "Worth US$3.5m in all.",
            EntityKind::Money,
            "US$3.5m",
            "3500000 USD",
        ),
        (
            "Bread is 10,000 rials.",
            EntityKind::Money,
            "10,000 rials",
            "10000 IRR",
        ),
        (
            "Bought for £1,250.50 once.",
            EntityKind::Money,
            "£1,250.50",
            "1250.5 GBP",
        ),
        ("Up 12% this year.", EntityKind::Percent, "12%", "12%"),
        ("Up 12 per cent.", EntityKind::Percent, "12 per cent", "12%"),
        (
            "Down 3.5 percent.",
            EntityKind::Percent,
            "3.5 percent",
            "3.5%",
        ),
    ];
    for (body, kind, text, name) in cases {
        let entities = tagger.tag(body, None);
        assert_offsets(body, &entities);
        let hits: Vec<(EntityKind, &str, &str)> = entities
            .iter()
            .filter(|e| matches!(e.kind, EntityKind::Money | EntityKind::Percent))
            .map(|e| (e.kind, e.text.as_str(), e.name.as_str()))
            .collect();
        assert_eq!(hits, [(kind, text, name)], "{body}");
    }
}

#[test]
fn tag_tokens_gives_iob2() {
    let tagger = Tagger::new();
    let tokens = [
        "Iranian",
        "President",
        "Ibrahim",
        "Raisi",
        "visited",
        "the",
        "Kremlin",
        "in",
        "Moscow",
        "on",
        "Thursday",
        ".",
    ];
    let tags = tagger.tag_tokens(&tokens);
    assert_eq!(
        tags,
        [
            "B-MISC", "O", "B-PER", "I-PER", "O", "O", "B-ORG", "O", "B-LOC", "O", "O", "O"
        ]
    );
    assert!(tagger.tag_tokens(&[]).is_empty());
    let tags = tagger.tag_tokens(&["-DOCSTART-"]);
    assert_eq!(tags, ["O"]);
    let tags = tagger.tag_tokens(&["Bank", "of", "England", "raises", "rates"]);
    assert_eq!(tags, ["B-ORG", "I-ORG", "I-ORG", "O", "O"]);
}

#[test]
fn tag_document_tags_each_sentence_and_keeps_one_type_per_name() {
    let tagger = Tagger::new();
    let doc: [&[&str]; 4] = [
        &["Talks", "in", "Geneva", "ended", "on", "Friday", "."],
        &["Mr.", "Lavrov", "said", "the", "talks", "went", "well", "."],
        &["Lavrov", "flew", "home", "."],
        &[],
    ];
    let tags = tagger.tag_document(&doc);
    assert_eq!(tags.len(), doc.len());
    for (t, s) in tags.iter().zip(&doc) {
        assert_eq!(t.len(), s.len());
    }
    assert_eq!(tags[0][2], "B-LOC");
    assert_eq!(tags[1][1], "B-PER");
    assert_eq!(tags[2][0], "B-PER");
    // One sentence alone: the same as tag_tokens.
    assert_eq!(tagger.tag_document(&doc[..1])[0], tagger.tag_tokens(doc[0]));
    assert!(tagger.tag_document(&[]).is_empty());
    // A common abbreviation alone is not a name; punctuation never ends one.
    let tags = tagger.tag_tokens(&["Pepsi", "!", "FYI", "the", "DVD", "is", "out", "."]);
    assert_eq!(tags[1], "O");
    assert_eq!(tags[2], "O");
    assert_eq!(tags[4], "O");
}

#[test]
fn names_split_around_particles_are_joined() {
    let tagged = |words: &[&str], tags: &[&str]| {
        let mut tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        crate::join_particles(words, &mut tags);
        tags
    };
    assert_eq!(
        tagged(
            &["Muqtada", "al", "-", "Sadr", "said"],
            &["B-PER", "O", "O", "B-PER", "O"]
        ),
        ["B-PER", "I-PER", "I-PER", "I-PER", "O"]
    );
    assert_eq!(
        tagged(
            &["the", "al", "-", "Qaeda", "cell"],
            &["O", "O", "O", "B-ORG", "O"]
        ),
        ["O", "B-ORG", "I-ORG", "I-ORG", "O"]
    );
    assert_eq!(
        tagged(&["Osama", "bin", "Laden"], &["B-PER", "O", "B-PER"]),
        ["B-PER", "I-PER", "I-PER"]
    );
    // Not between two parts of a person's name: left alone.
    assert_eq!(
        tagged(&["Paris", "de", "Gaulle"], &["B-LOC", "O", "B-PER"]),
        ["B-LOC", "O", "B-PER"]
    );
}

#[test]
fn unicode_offsets_are_chars() {
    let body = "Émile’s 👩‍👩‍👧 friend Lavrov met Zoë in Zürich and Moscow.";
    let entities = Tagger::new().tag(body, None);
    assert_offsets(body, &entities);
    assert!(
        entities
            .iter()
            .any(|e| e.text == "Moscow" && e.kind == EntityKind::Location)
    );
    assert!(
        entities
            .iter()
            .any(|e| e.text == "Lavrov" && e.name == "Sergey Lavrov")
    );
}

/// A tiny deterministic generator, so that the fuzz loop needs no dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        usize::try_from(self.0 >> 33).unwrap_or(0)
    }
}

#[test]
fn odd_inputs_never_panic_and_offsets_stay_in_the_body() {
    let pieces = [
        "Iran",
        " ",
        "\n",
        "\n\n",
        ".",
        "’s",
        "'",
        "-",
        "al-",
        "Raisi",
        "Mr.",
        "U.S.",
        "$",
        "5",
        "billion",
        "%",
        "per cent",
        "January",
        "19",
        "Thursday",
        "2014",
        "in",
        "the",
        "👩‍👩‍👧",
        "\u{301}",
        "e\u{301}",
        "İ",
        "ǅ",
        "Ｍoscow",
        "🇮🇷",
        "—",
        "\u{200d}",
        ",",
        "1,000.5",
        "€",
        "President",
        "of",
        "Bank",
        "\"",
        "“",
        "(",
        "Ⅻ",
        "١٢",
        "日本",
        "\u{0}",
        "-Russia",
        "pro-",
        "Iranian",
    ];
    let tagger = Tagger::new();
    let mut rng = Lcg(7);
    for round in 0..2000 {
        let mut body = String::new();
        for _ in 0..(rng.next() % 40) {
            body.push_str(pieces[rng.next() % pieces.len()]);
            if rng.next() % 3 == 1 {
                body.push(' ');
            }
        }
        let reference = if round % 2 == 0 {
            date(2022, 1, 20)
        } else {
            None
        };
        let entities = tagger.tag(&body, reference);
        let len = body.chars().count();
        for e in &entities {
            assert!(e.start < e.end && e.end <= len, "{e:?} in {body:?}");
            assert_eq!(
                char_slice(&body, e.start, e.end),
                Some(e.text.as_str()),
                "{body:?}"
            );
        }
        let words: Vec<&str> = body.split(' ').collect();
        assert_eq!(tagger.tag_tokens(&words).len(), words.len());
    }
    // Lone punctuation, empty input, extreme dates.
    for body in [
        "",
        " ",
        ".",
        "’s",
        "-",
        "$",
        "%",
        "December 32",
        "February 29",
        "May 99999999999999999999",
    ] {
        let entities = tagger.tag(body, date(2022, 1, 20));
        assert_offsets(body, &entities);
    }
    for extreme in [NaiveDate::MIN, NaiveDate::MAX] {
        let body = "Thursday, yesterday, tomorrow, next Monday, last year, next month, January 19, in May.";
        let entities = tagger.tag(body, Some(extreme));
        assert_offsets(body, &entities);
    }
    // Odd large inputs stay linear: a run of capitals with no end, hyphen chains, digit walls,
    // and a dense mix of names, numbers and dates.
    let mixed: Vec<&str> = (0..20_000)
        .map(|k| pieces[(k * 7 + k / 3) % pieces.len()])
        .collect();
    for body in [
        "The ".repeat(25_000),
        "a-".repeat(30_000),
        "1".repeat(50_000) + " percent",
        mixed.join(" "),
    ] {
        let entities = tagger.tag(&body, date(2022, 1, 20));
        assert!(entities.iter().all(|e| e.end <= body.chars().count()));
    }
    // Huge input stays linear enough to finish.
    let huge = "Iranian President Ibrahim Raisi met Putin in Moscow on January 19. ".repeat(5_000);
    let entities = tagger.tag(&huge, date(2022, 1, 20));
    assert_eq!(entities.iter().filter(|e| e.text == "Putin").count(), 5_000);
}

/// Hostile shapes of about 100 KB each (issue 16): every stage is linear in them, and a run of
/// capitals is no name. (Before, 200 KB of "Aaaa " took 23 s in release and came out as one
/// 40,000-word person; 100 KB of "A." took 22 s to tokenise; a text of N dates took N² steps
/// to keep them apart.)
#[test]
fn hostile_shapes_stay_linear_and_give_sane_names() {
    let tagger = Tagger::new();
    let reference = date(2022, 1, 20);
    let words_of = |e: &Entity| e.text.split_whitespace().count();
    // A run of capitals with no end: no name longer than a name can be.
    let capitals = "Aaaa ".repeat(20_000);
    let entities = tagger.tag(&capitals, reference);
    assert_offsets(&capitals, &entities);
    assert!(
        entities.iter().all(|e| words_of(e) <= MAX_NAME_TOKENS),
        "a name of {} words",
        entities.iter().map(words_of).max().unwrap_or(0)
    );
    // The same through the CoNLL path: one endless sentence.
    let words: Vec<&str> = capitals.split_whitespace().collect();
    let tags = tagger.tag_document(&[words.as_slice()]);
    assert_eq!(tags.first().map(Vec::len), Some(words.len()));
    let longest_name = tags
        .iter()
        .flatten()
        .fold((0usize, 0usize), |(run, most), t| {
            let run = if t.starts_with("I-") {
                run + 1
            } else {
                usize::from(t.starts_with("B-"))
            };
            (run, most.max(run))
        })
        .1;
    assert!(longest_name <= MAX_NAME_TOKENS, "{longest_name}");
    // Capitals between commas: one long sentence with a name every word.
    let listed = "Aaaa, ".repeat(16_000);
    let entities = tagger.tag(&listed, reference);
    assert_offsets(&listed, &entities);
    // Initials with no end tokenise in one pass.
    let initials = "A.".repeat(50_000);
    let toks = tokenize(&initials);
    assert_eq!(toks.first().map(|t| t.text.len()), Some(initials.len()));
    assert_offsets(&initials, &tagger.tag(&initials, reference));
    // Twelve thousand dates, each kept once.
    let years = "in 2014 ".repeat(12_000);
    let entities = tagger.tag(&years, reference);
    assert_eq!(entities.len(), 12_000);
    assert!(
        entities
            .iter()
            .all(|e| e.kind == EntityKind::Date && e.name == "2014")
    );
}

/// Only the first MAX_TAGGED_BYTES of a body are tagged (issue 16: 10 MiB of text took 1 GB),
/// cut at white space where there is some, and offsets before the cut stay exact.
#[test]
fn text_beyond_the_cap_is_not_tagged() {
    let tagger = Tagger::new();
    let head = "Vladimir Putin spoke in Moscow on January 19, 2022. ";
    let tail = " Raisi flew to Tehran on January 20, 2022.";
    // Long words (cheap to tag) up to past the cap: the cut falls on the space before it.
    let filler = format!("{} ", "a".repeat(1023)).repeat(MAX_TAGGED_BYTES / 1024 + 2);
    let body = format!("{head}{filler}{tail}");
    let len = Tagger::tagged_len(&body);
    assert!(
        len <= MAX_TAGGED_BYTES && len > MAX_TAGGED_BYTES - 1024,
        "{len}"
    );
    assert_eq!(body.get(len..len + 1), Some(" "));
    let entities = tagger.tag(&body, date(2022, 1, 20));
    assert_offsets(&body, &entities);
    let names: BTreeSet<&str> = entities.iter().map(|e| e.name.as_str()).collect();
    assert!(
        names.contains("Vladimir Putin") && names.contains("2022-01-19"),
        "{names:?}"
    );
    assert!(
        !names.contains("2022-01-20") && !names.contains("Tehran"),
        "{names:?}"
    );
    let cut_chars = body.get(..len).map_or(0, |h| h.chars().count());
    assert!(entities.iter().all(|e| e.end <= cut_chars));
    // One giant word across the cap: cut at the mark, on a char boundary.
    let body = format!("{head}{}{tail}", "é".repeat(MAX_TAGGED_BYTES / 2));
    let len = Tagger::tagged_len(&body);
    assert!(body.is_char_boundary(len) && len <= MAX_TAGGED_BYTES && len + 2 > MAX_TAGGED_BYTES);
    let entities = tagger.tag(&body, date(2022, 1, 20));
    assert_offsets(&body, &entities);
    assert!(entities.iter().all(|e| e.name != "2022-01-20"));
    // A body under the cap is read whole.
    assert_eq!(Tagger::tagged_len(head), head.len());
}

/// Text of punctuation and one-letter words (what a page of character references leaves)
/// holds three tokens in four bytes: it is tagged up to MAX_TAGGED_TOKENS tokens, not up to
/// the byte cap, so it costs no more than prose; prose is still cut by bytes.
#[test]
fn token_dense_text_is_cut_by_tokens() {
    let tagger = Tagger::new();
    let head = "Vladimir Putin spoke in Moscow on January 19, 2022. ";
    let tail = " Raisi flew to Tehran on January 20, 2022.";
    let body = format!("{head}{}{tail}", "&<x".repeat(MAX_TAGGED_TOKENS));
    let len = Tagger::tagged_len(&body);
    assert!(len < MAX_TAGGED_BYTES / 2, "{len}");
    let kept = body.get(..len).map(tokenize).unwrap_or_default();
    assert_eq!(kept.len(), MAX_TAGGED_TOKENS);
    let entities = tagger.tag(&body, date(2022, 1, 20));
    assert_offsets(&body, &entities);
    let names: BTreeSet<&str> = entities.iter().map(|e| e.name.as_str()).collect();
    assert!(names.contains("Vladimir Putin"), "{names:?}");
    assert!(!names.contains("2022-01-20"), "{names:?}");
    let cut_chars = body.get(..len).map_or(0, |h| h.chars().count());
    assert!(entities.iter().all(|e| e.end <= cut_chars));
    // Prose of a few hundred KB, under both bounds, is read whole.
    let prose = "The council met in Leeds on Monday. ".repeat(8_000);
    assert_eq!(Tagger::tagged_len(&prose), prose.len());
}

#[test]
fn tagger_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Tagger>();
}

#[test]
fn elliptical_possessive_is_a_place_with_its_s() {
    let run = |words: &[&str], tags: &[&str]| {
        let mut tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        crate::elliptical_possessives(words, &mut tags);
        tags
    };
    assert_eq!(
        run(
            &["dinner", "at", "Luigi", "Rossi", "'s", "tonight"],
            &["O", "O", "B-PER", "I-PER", "O", "O"]
        ),
        ["O", "O", "B-LOC", "I-LOC", "I-LOC", "O"]
    );
    assert_eq!(
        run(
            &["I", "like", "Nando", "s", "."],
            &["O", "O", "B-PER", "O", "O"]
        ),
        ["O", "O", "B-LOC", "I-LOC", "O"]
    );
    // A possessive before a noun is a possessive.
    let tags = ["O", "B-PER", "O", "O"];
    assert_eq!(run(&["to", "Arafat", "'s", "call"], &tags), tags);
    assert_eq!(run(&["(", "Arafat", "'s", ")"], &tags), tags);
}

#[test]
fn lowercase_guesses_are_not_names_in_text_that_writes_capitals() {
    let tagger = Tagger::new();
    let doc: [&[&str]; 2] = [&["We", "met", "Anna", "in", "Paris", "."], &["omg", "!"]];
    let tags = tagger.tag_document(&doc);
    assert_eq!(tags[1][0], "O");
}

#[test]
fn table_rows_are_told_from_prose() {
    assert!(crate::is_table_row(&["Barnsley", "3", "Wolves", "1"]));
    assert!(crate::is_table_row(&[
        "1.",
        "Nottingham",
        "5",
        "3",
        "1",
        "1",
        "7",
        "5",
        "10"
    ]));
    assert!(!crate::is_table_row(&[
        "It", "was", "founded", "in", "1888", "by", "settlers", "."
    ]));
    assert!(!crate::is_table_row(&["Welcome", "to", "Leeds", "."]));
}

#[test]
fn a_cued_place_the_model_splits_is_one_place() {
    let tags =
        Tagger::new().tag_tokens(&["Pirates", "roam", "the", "Gulf", "of", "Aden", "again", "."]);
    assert_eq!(tags[3..6], ["B-LOC", "I-LOC", "I-LOC"]);
}

#[test]
fn a_cued_storm_is_no_person() {
    let tags = Tagger::new().tag_tokens(&[
        "Residents",
        "fled",
        "as",
        "Hurricane",
        "Andrew",
        "came",
        "ashore",
        ".",
    ]);
    assert!(tags[3..5].iter().all(|t| !t.ends_with("PER")), "{tags:?}");
}

#[test]
fn addresses_files_and_currencies_are_not_names() {
    assert!(crate::is_address_or_file("jane.doe@example.com"));
    assert!(crate::is_address_or_file("MINUTES.htm"));
    assert!(!crate::is_address_or_file("Amazon.com"));
    assert!(!crate::is_address_or_file("U.S."));
    assert!(crate::is_currency_word("Pounds"));
    assert!(!crate::is_currency_word("Europe"));
}

#[test]
fn email_senders_are_people() {
    let run = |words: &[&str]| {
        let mut tags = vec!["O".to_string(); words.len()];
        crate::email_senders(words, &mut tags);
        tags
    };
    let tags = run(&[
        "\"",
        "Doe",
        ",",
        "Jane",
        "\"",
        "<",
        "jane.doe@example.com",
        ">",
    ]);
    assert_eq!(tags[1..4], ["B-PER", "I-PER", "I-PER"]);
    let tags = run(&["From", ":", "Jane", "Doe", "<", "jane@example.com", ">"]);
    assert_eq!(tags[2..4], ["B-PER", "I-PER"]);
    let tags = run(&["See", "Acme", "Corp", "<", "http://acme.example", ">"]);
    assert!(tags.iter().all(|t| t == "O"));
}

#[test]
fn a_town_and_its_state_are_two_places() {
    let tags =
        Tagger::new().tag_tokens(&["We", "moved", "to", "Austin", "Texas", "in", "May", "."]);
    assert_eq!(tags[3..5], ["B-LOC", "B-LOC"]);
}
