use gleaner_model::{BlockKind, ScrapedArticle, TextBlock};

use super::*;

const SEED: &str = include_str!("../testdata/seed_000.txt");

fn block(kind: BlockKind, text: &str) -> TextBlock {
    TextBlock {
        kind,
        text: text.to_string(),
    }
}

fn article(blocks: Vec<TextBlock>) -> ScrapedArticle {
    ScrapedArticle {
        blocks,
        ..ScrapedArticle::default()
    }
}

/// The seed post as a scraper sees it: its first line is the title, every blank-line
/// separated chunk a paragraph block.
fn seed_article() -> ScrapedArticle {
    let mut chunks = SEED.split("\n\n");
    let title = chunks.next().unwrap_or_default().trim().to_string();
    ScrapedArticle {
        title: Some(format!("Iran News Blog: {title}")),
        site_name: Some("Iran News Blog".into()),
        language_hint: Some("en-US".into()),
        blocks: chunks.map(TextBlock::paragraph).collect(),
        ..ScrapedArticle::default()
    }
}

#[test]
fn seed_post_loses_its_boilerplate_and_keeps_its_text() {
    let cleaned = clean(&seed_article());
    assert_eq!(cleaned.title, "Iran wants strategic ties with Russia");
    for gone in [
        "No comments",
        "Only a member of this blog",
        "Powered by Blogger",
        "\u{a0}",
    ] {
        assert!(!cleaned.body.contains(gone), "{gone:?} survived");
    }
    assert!(
        cleaned.body.starts_with(
            "Iran is discussing construction of two nuclear power plant with Russia\n\n"
        )
    );
    assert!(
        cleaned
            .body
            .contains("Iranian president Ibrahim Raisi recently made visit")
    );
    assert!(
        cleaned
            .body
            .ends_with("was handed over to Iran one year later.\n\nKhalid Bhatti")
    );
    assert!(!cleaned.body.contains("\n\n\n"));
    assert!(!cleaned.body.contains("  "));
    assert_eq!(cleaned.language.as_deref(), Some("en"));
    assert!(
        cleaned.word_count > 600 && cleaned.word_count < 800,
        "{}",
        cleaned.word_count
    );
    assert_eq!(cleaned.content_hash.len(), 64);
    assert!(
        cleaned
            .content_hash
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
}

#[test]
fn characters_are_normalised() {
    // "e" + combining acute → "é" (NFC); NBSP → space; ZWSP, soft hyphen, BOM, controls gone.
    let a = article(vec![TextBlock::paragraph(
        "Cafe\u{301}\u{a0}au\u{2009}lait \u{200b}con\u{ad}tent\u{feff} \u{7}bell\u{200d}",
    )]);
    assert_eq!(clean(&a).body, "Café au lait content bell\u{200d}");
}

#[test]
fn blocks_become_paragraphs_lists_lines_headings_paragraphs() {
    let a = article(vec![
        block(BlockKind::Heading, "  The   heading "),
        TextBlock::paragraph("First\r\nline two\n\n\nSecond   paragraph"),
        block(BlockKind::ListItem, "one"),
        block(BlockKind::ListItem, " two "),
        block(BlockKind::Quote, "A quote."),
        block(
            BlockKind::Preformatted,
            "\nfn main() {\n\n    println!();\n}\n",
        ),
    ]);
    assert_eq!(
        clean(&a).body,
        "The heading\n\nFirst\nline two\n\nSecond paragraph\n\none\ntwo\n\nA quote.\n\nfn main() {\n \n    println!();\n}"
    );
}

#[test]
fn boilerplate_lines_go_in_many_languages() {
    let lines = [
        "No comments:",
        "3 comments:",
        "1 comment:",
        "Post a Comment",
        "Note: Only a member of this blog may post a comment.",
        "Powered by Blogger.",
        "Newer Post Older Post Home",
        "Newer Post",
        "Older Post",
        "Home",
        "Subscribe to: Post Comments (Atom)",
        "Subscribe to: Posts (Atom)",
        "Share this post",
        "Email This BlogThis! Share to Twitter Share to Facebook Share to Pinterest",
        "Keine Kommentare:",
        "Bereitgestellt von Blogger.",
        "Neuerer Post Älterer Post Startseite",
        "Abonnieren Kommentare zum Post (Atom)",
        "Hinweis: Nur ein Mitglied dieses Blogs kann Kommentare posten.",
        "No hay comentarios:",
        "Con la tecnología de Blogger.",
        "Entrada más reciente Entrada antigua Página principal",
        "Nota: solo los miembros de este blog pueden publicar comentarios.",
        "Aucun commentaire:",
        "Publier un commentaire",
        "Brak komentarzy:",
        "Nenhum comentário:",
        "Postagem mais recente Postagem mais antiga Página inicial",
        "Nessun commento:",
        "Tidak ada komentar:",
        "Beranda",
        "Posted by Khalid Bhatti at 9:35 AM",
        "Labels: Iran, Russia",
        "Simple theme. Powered by Blogger.",
        "Watermark theme. Theme images by Airyelf. Powered by Blogger.",
        "Popular Posts",
        "Blog Archive",
        "View my complete profile",
    ];
    for line in lines {
        assert!(is_boilerplate_line(line), "not recognised: {line:?}");
    }
}

#[test]
fn real_sentences_with_boilerplate_words_stay() {
    let sentences = [
        "I had no comments on the Kremlin's statement.",
        "No comments were made by the ministry.",
        "Home is where the heart is.",
        "Share prices fell 12% on Thursday.",
        "Note: this blog post was updated on January 20.",
        "Powered by Blogger, the site grew quickly.",
        "Post a comment if you disagree, he wrote.",
        "Keine Kommentare gab es vom Kreml.",
        "About me: a reporter in Tehran.",
        "Popular posts on the site were about Iran.",
    ];
    for s in sentences {
        assert!(!is_boilerplate_line(s), "eaten: {s:?}");
        let cleaned = clean(&article(vec![TextBlock::paragraph(s)]));
        assert_eq!(cleaned.body, s);
    }
}

#[test]
fn a_paragraph_printed_twice_in_a_row_keeps_the_first() {
    let long = "The minister said the talks would resume in Vienna next week.";
    let a = article(vec![
        TextBlock::paragraph(long),
        TextBlock::paragraph(long.replace(' ', "  ")),
        TextBlock::paragraph("Other."),
    ]);
    assert_eq!(clean(&a).body, format!("{long}\n\nOther."));
}

#[test]
fn short_lines_an_article_repeats_stay() {
    // Recipe steps, table cells and refrains legitimately repeat; only long paragraphs
    // printed twice in a row are a theme's duplicate.
    let a = article(vec![
        TextBlock::paragraph("Stir well."),
        TextBlock::paragraph("Stir well."),
        TextBlock::paragraph("Add the onions."),
        TextBlock::paragraph("Stir well."),
    ]);
    assert_eq!(
        clean(&a).body,
        "Stir well.\n\nStir well.\n\nAdd the onions.\n\nStir well."
    );
}

#[test]
fn titles_lose_the_blog_name() {
    let site = Some("Iran Watch");
    assert_eq!(
        clean_title("Iran Watch: Iran wants ties", site),
        "Iran wants ties"
    );
    assert_eq!(
        clean_title("Iran wants ties | Iran Watch", site),
        "Iran wants ties"
    );
    assert_eq!(
        clean_title("Iran wants ties - Iran Watch", site),
        "Iran wants ties"
    );
    assert_eq!(
        clean_title("Iran wants ties — iran watch", site),
        "Iran wants ties"
    );
    assert_eq!(clean_title("Iran Watch", site), "Iran Watch");
    assert_eq!(clean_title("Iran: a new era", site), "Iran: a new era");
    // Without a site name: only the unambiguous pipe form.
    assert_eq!(
        clean_title("Iran wants ties with Russia | Iran Watch", None),
        "Iran wants ties with Russia"
    );
    assert_eq!(clean_title("Iran: a new era", None), "Iran: a new era");
    assert_eq!(
        clean_title("Rock - Paper - Scissors", None),
        "Rock - Paper - Scissors"
    );
    assert_eq!(clean_title("  Spaced\u{a0} title ", None), "Spaced title");
}

#[test]
fn language_falls_back_to_the_hint_for_short_bodies() {
    let mut a = article(vec![TextBlock::paragraph("Kurz.")]);
    a.language_hint = Some("de-DE".into());
    assert_eq!(clean(&a).language.as_deref(), Some("de"));
    a.language_hint = Some("x".into());
    assert_eq!(clean(&a).language, None);
}

#[test]
fn language_is_detected_in_four_languages() {
    let texts = [
        (
            "en",
            "The government said on Thursday that it would raise taxes on fuel next year, and the opposition promised to fight the plan in parliament and in the courts for as long as it takes.",
        ),
        (
            "de",
            "Die Regierung hat am Donnerstag angekündigt, die Steuern auf Kraftstoff im nächsten Jahr zu erhöhen, und die Opposition will den Plan im Parlament und vor Gericht bekämpfen, so lange es dauert.",
        ),
        (
            "es",
            "El gobierno anunció el jueves que subirá los impuestos sobre el combustible el próximo año, y la oposición prometió combatir el plan en el parlamento y en los tribunales todo lo que haga falta.",
        ),
        (
            "fr",
            "Le gouvernement a annoncé jeudi qu'il augmenterait les taxes sur le carburant l'année prochaine, et l'opposition a promis de combattre ce projet au parlement et devant les tribunaux aussi longtemps qu'il le faudra.",
        ),
    ];
    for (code, text) in texts {
        let mut a = article(vec![
            TextBlock::paragraph(text),
            TextBlock::paragraph("No comments:"),
        ]);
        a.language_hint = Some("en".into());
        let cleaned = clean(&a);
        assert_eq!(cleaned.language.as_deref(), Some(code), "{text}");
        assert_eq!(cleaned.body, text);
    }
}

#[test]
fn boilerplate_in_four_languages_leaves_the_text() {
    let cases = [
        (
            "Keine Kommentare:",
            "Bereitgestellt von Blogger.",
            "Der Kreml hat sich nicht geäußert.",
        ),
        (
            "No hay comentarios:",
            "Con la tecnología de Blogger.",
            "El Kremlin no hizo comentarios.",
        ),
        (
            "Aucun commentaire:",
            "Fourni par Blogger.",
            "Le Kremlin n'a fait aucun commentaire.",
        ),
        (
            "Brak komentarzy:",
            "Obsługiwane przez usługę Blogger.",
            "Kreml nie skomentował sprawy.",
        ),
    ];
    for (a, b, text) in cases {
        let art = article(vec![
            TextBlock::paragraph(text),
            TextBlock::paragraph(a),
            TextBlock::paragraph(format!("{a}\n\n{b}")),
        ]);
        assert_eq!(clean(&art).body, text);
    }
}

#[test]
fn hash_and_word_count_follow_the_text() {
    let a = article(vec![TextBlock::paragraph("Two words — and 3 more!")]);
    let c = clean(&a);
    assert_eq!(c.word_count, 5);
    let b = article(vec![TextBlock::paragraph(
        "Two  words — and 3 more!\u{200b}",
    )]);
    assert_eq!(
        clean(&b).content_hash,
        c.content_hash,
        "normalised text hashes the same"
    );
    let changed = article(vec![TextBlock::paragraph("Two words — and 4 more!")]);
    assert_ne!(clean(&changed).content_hash, c.content_hash);
    // Known vector: SHA-256 of "\n" (empty title, empty body).
    assert_eq!(
        content_hash("", ""),
        "01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b"
    );
}

/// A tiny deterministic generator, so that the fuzz loop needs no dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn odd_inputs_never_panic() {
    let pieces = [
        "a",
        " ",
        "\n",
        "\n\n",
        "\r",
        "\t",
        "\u{a0}",
        "\u{200b}",
        "\u{ad}",
        "\u{301}",
        "👩‍👩‍👧",
        "İ",
        "ß",
        "No comments:",
        "Home",
        ":",
        "|",
        " - ",
        "(Atom)",
        "\u{0}",
        "\u{feff}",
        "ǅ",
        "Ａ",
        "🇮🇷",
        "x\u{308}",
        "Powered by Blogger.",
        "١٢٣",
        "日本語",
        "\u{2028}",
        "'",
    ];
    let mut rng = Lcg(42);
    let kinds = [
        BlockKind::Paragraph,
        BlockKind::Heading,
        BlockKind::ListItem,
        BlockKind::Quote,
        BlockKind::Preformatted,
    ];
    for _ in 0..500 {
        let mut blocks = Vec::new();
        for _ in 0..(rng.next() % 6) {
            let mut text = String::new();
            for _ in 0..(rng.next() % 20) {
                text.push_str(pieces[(rng.next() as usize) % pieces.len()]);
            }
            blocks.push(block(kinds[(rng.next() as usize) % kinds.len()], &text));
        }
        let mut a = article(blocks);
        a.title = Some(pieces[(rng.next() as usize) % pieces.len()].repeat(3));
        a.site_name = Some(pieces[(rng.next() as usize) % pieces.len()].to_string());
        let c = clean(&a);
        assert!(!c.body.contains("\n\n\n"));
        assert!(!c.body.starts_with('\n') && !c.body.ends_with('\n'));
    }
    let huge = "word ".repeat(200_000);
    let c = clean(&article(vec![TextBlock::paragraph(huge)]));
    assert_eq!(c.word_count, 200_000);
}

#[test]
fn cleaning_is_deterministic() {
    let a = seed_article();
    assert_eq!(clean(&a), clean(&a));
}

#[test]
fn network_names_go_only_among_furniture() {
    // A pasted share popup, one entry per line: the names go with the run.
    let popup = article(vec![
        TextBlock::paragraph("The ferry is back."),
        TextBlock::paragraph("Get link"),
        TextBlock::paragraph("Facebook"),
        TextBlock::paragraph("X"),
        TextBlock::paragraph("Email"),
        TextBlock::paragraph("Other Apps"),
        TextBlock::paragraph("See you on Thursday."),
    ]);
    assert_eq!(
        clean(&popup).body,
        "The ferry is back.\n\nSee you on Thursday."
    );
    // Alone, a network name is the article's own text.
    let heading = article(vec![
        block(BlockKind::Heading, "Facebook"),
        TextBlock::paragraph("The company reported its results on Wednesday."),
        block(BlockKind::ListItem, "Twitter"),
        block(BlockKind::ListItem, "Email"),
    ]);
    assert_eq!(
        clean(&heading).body,
        "Facebook\n\nThe company reported its results on Wednesday.\n\nTwitter\nEmail"
    );
}

#[test]
fn a_lone_time_goes_only_among_furniture() {
    let footer = article(vec![
        TextBlock::paragraph("The ferry is back."),
        TextBlock::paragraph("Posted by Nora\nat 9:35 AM\nNo comments:"),
    ]);
    assert_eq!(clean(&footer).body, "The ferry is back.");
    let timetable = article(vec![
        block(BlockKind::ListItem, "First ferry"),
        block(BlockKind::ListItem, "at 9:35"),
        block(BlockKind::ListItem, "Last ferry"),
        block(BlockKind::ListItem, "at 18:10"),
    ]);
    assert_eq!(
        clean(&timetable).body,
        "First ferry\nat 9:35\nLast ferry\nat 18:10"
    );
}

#[test]
fn a_generic_page_keeps_a_paragraph_its_author_wrote_twice() {
    // The generic extractor drops a theme's copies itself (it knows where each block came
    // from); what repeats in its blocks is the page's own text, as in a test page of
    // repeated paragraphs.
    let long = "The minister said the talks would resume in Vienna next week.";
    let mut a = article(vec![
        TextBlock::paragraph(long),
        TextBlock::paragraph(long),
        TextBlock::paragraph("Other."),
    ]);
    a.extractor = Some(gleaner_model::Extractor::Generic);
    assert_eq!(clean(&a).body, format!("{long}\n\n{long}\n\nOther."));
}

/// `count_words` counts what `split_whitespace` splits and keeps the words holding a letter
/// or digit, on strings built from every kind of character it tells apart.
#[test]
fn count_words_is_split_whitespace_with_a_letter() {
    fn reference(text: &str) -> usize {
        text.split_whitespace()
            .filter(|w| w.chars().any(char::is_alphanumeric))
            .count()
    }
    let alphabet = [
        'a', 'Z', '7', 'é', 'ß', '中', '٣', ' ', '\t', '\n', '\u{a0}', '\u{2003}', '\u{3000}',
        '\u{85}', '\u{200b}', '-', '.', '“', '€', '\u{300}',
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for len in 0..400 {
        let text: String = (0..len % 40)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                alphabet[(seed % alphabet.len() as u64) as usize]
            })
            .collect();
        assert_eq!(count_words(&text), reference(&text), "{text:?}");
    }
    assert_eq!(count_words("Two words, 3 — and “quotes”."), 5);
}

/// The char-at-a-time forms the byte-scanning ones replaced: `collapse_line`, `count_words`
/// and `fold` must answer exactly as these did.
mod same_as_before {
    fn collapse_before(line: &str) -> String {
        let mut out = String::with_capacity(line.len());
        for word in line.split_whitespace() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
        out
    }

    fn count_before(text: &str) -> usize {
        text.split_whitespace()
            .filter(|w| w.chars().any(char::is_alphanumeric))
            .count()
    }

    fn fold_before(line: &str) -> String {
        let mut folded = String::with_capacity(line.len());
        let mut space = false;
        for c in line.chars() {
            if c.is_whitespace() {
                space = !folded.is_empty();
                continue;
            }
            if space {
                folded.push(' ');
                space = false;
            }
            match c {
                '\u{2019}' | '\u{2018}' | '`' => folded.push('\''),
                c if c.is_ascii() => folded.push(c.to_ascii_lowercase()),
                c => folded.extend(c.to_lowercase()),
            }
        }
        folded
    }

    /// Strings made of pieces that the fast paths treat apart: every ASCII byte, the
    /// non-ASCII white space, chars sharing their first bytes, combining marks.
    fn samples() -> Vec<String> {
        let pieces: Vec<String> = (0u8..128)
            .map(|b| char::from(b).to_string())
            .chain(
                [
                    "\u{85}", "\u{a0}", "\u{1680}", "\u{2000}", "\u{200a}", "\u{200b}", "\u{2028}",
                    "\u{2029}", "\u{202f}", "\u{205f}", "\u{3000}", "\u{feff}", "\u{2019}",
                    "\u{201c}", "€", "—", "é", "e\u{301}", "İ", "ẞ", "Σ", "ß", "漢", "😀", "Ⅻ",
                    "½", "٣", "word", "Word", "  ", " ",
                ]
                .iter()
                .map(|s| s.to_string()),
            )
            .collect();
        let mut out = Vec::new();
        let mut seed = 0x2545_f491_u64;
        for len in 0..40 {
            for _ in 0..60 {
                let mut s = String::new();
                for _ in 0..len {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    s.push_str(&pieces[(seed % pieces.len() as u64) as usize]);
                }
                out.push(s);
            }
        }
        out.extend(pieces);
        out
    }

    #[test]
    fn the_byte_scans_answer_as_the_char_loops_did() {
        for s in samples() {
            assert_eq!(
                crate::text::collapse_line_for_tests(&s),
                collapse_before(&s),
                "{s:?}"
            );
            assert_eq!(crate::count_words(&s), count_before(&s), "{s:?}");
            assert_eq!(
                crate::boilerplate::fold_for_tests(&s),
                fold_before(&s),
                "{s:?}"
            );
            for tabs in [false, true] {
                assert_eq!(
                    crate::text::map_chars_for_tests(&s, tabs),
                    crate::text::map_chars_before(&s, tabs),
                    "{s:?}"
                );
            }
        }
    }
}
