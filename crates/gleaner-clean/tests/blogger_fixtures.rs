//! Scrape + clean on Blogger post pages written for these tests (tests/fixtures/*.html: the
//! project's own text, in classic Simple/Minima/Watermark markup and in current
//! Contempo/Soho/Emporio-like markup, and one third-party template, in English, German,
//! Spanish, French, Polish and Portuguese). Each post body also holds furniture that survives extraction — a notice
//! copied from another Blogger blog with its byline, comment counter, comment form, pager,
//! feed link and attribution, or a pasted share popup — next to sentences that merely contain
//! the same words.
//!
//! For every page: the body is exactly the listed paragraphs (none lost, none added), no
//! line of it is one of Blogger's interface strings in any language, the sentences with
//! boilerplate words survive, the language is detected from the text (not only taken from
//! the page), and the title is clean (also from the page's "Blog: Post" `<title>`).

#[path = "common/ui_strings.rs"]
#[allow(dead_code)]
mod ui_strings;

use gleaner_clean::{CleanedArticle, clean, clean_title, is_boilerplate_line};
use gleaner_model::ScrapedArticle;

struct Fixture {
    file: &'static str,
    html: &'static str,
    url: &'static str,
    language: &'static str,
    title: &'static str,
    /// The `<title>` element's shape, when it carries the blog name.
    page_title: Option<&'static str>,
    paragraphs: &'static [&'static str],
    /// Sentences with boilerplate words that must stay.
    kept: &'static [&'static str],
    /// Furniture lines at least in the scraped body (pasted into the post), for clean to drop.
    furniture: usize,
}

const FIXTURES: &[Fixture] = &[
    Fixture {
        file: "en_simple_classic.html",
        html: include_str!("fixtures/en_simple_classic.html"),
        url: "https://harbournotes.blogspot.com/2023/02/the-ferry-that-never-left.html",
        language: "en",
        title: "The ferry that never left",
        page_title: Some("Harbour Notes: The ferry that never left"),
        paragraphs: &[
            "The morning crossing",
            "The 7:15 ferry to Inishmore did not leave on Tuesday. The captain waited at the ramp for an hour, then sent everyone home with a paper voucher and an apology.",
            "Nobody on the quay seemed surprised. The wind had turned in the night, and the swell was breaking white over the outer wall, 9 km out.",
            "I had no comments to make: the room was silent.",
            "The harbour office handed out a short list:",
            "a voucher for the next sailing,\na coffee at the kiosk,\na timetable that nobody believed.",
            "The caf\u{e9} by the slipway stayed open all day, and the owner said it was her best Tuesday since the regatta.",
            "Below is the notice the ferry company put up on its own blog, copied as it was:",
            "Sailings resume on Thursday if the forecast holds. Passengers with vouchers board first.",
            "Home is where the ferry is, the harbour master said, and laughed.",
        ],
        kept: &[
            "I had no comments to make: the room was silent.",
            "Home is where the ferry is, the harbour master said, and laughed.",
        ],
        furniture: FURNITURE,
    },
    Fixture {
        file: "de_minima_classic.html",
        html: include_str!("fixtures/de_minima_classic.html"),
        url: "https://kiezgeschichten-test.blogspot.com/2022/11/die-baeckerei-am-eck.html",
        language: "de",
        title: "Die Bäckerei am Eck",
        page_title: Some("Kiezgeschichten: Die Bäckerei am Eck"),
        paragraphs: &[
            "Seit vierzig Jahren gibt es die Bäckerei am Eck, und am Samstag hat sie zum letzten Mal die Rollläden hochgezogen. Frau Albers stand wie immer um halb sechs in der Backstube, als wäre nichts.",
            "Warum sie schließt",
            "Die Miete hat sich verdoppelt, der Strom auch, und einen Nachfolger gibt es nicht. Ihr Sohn ist Informatiker in Leipzig und will mit Sauerteig nichts zu tun haben.",
            "Keine Kommentare gab es vom Bürgermeister, nur ein Schulterzucken am Telefon.\nAuf der Startseite der Lokalzeitung stand nichts davon.",
            "Was wir vermissen werden:",
            "die Mohnschnecken am Sonntag,\ndas Roggenbrot mit der dunklen Kruste,\nden Klatsch an der Theke.",
            "Die Nachbarn haben einen Zettel an die Tür gehängt, den ich hier abschreibe, so wie er im Blog der Hausgemeinschaft stand:",
            "Wir sagen danke für vierzig Jahre Brötchen und gute Laune. Am Freitag um sieben treffen wir uns vor dem Laden.",
            "Ich gehe am Freitag hin. Mit einem leeren Brotbeutel, aus Gewohnheit.",
        ],
        kept: &[
            "Keine Kommentare gab es vom Bürgermeister, nur ein Schulterzucken am Telefon.",
            "Auf der Startseite der Lokalzeitung stand nichts davon.",
        ],
        furniture: FURNITURE,
    },
    Fixture {
        file: "es_watermark_classic.html",
        html: include_str!("fixtures/es_watermark_classic.html"),
        url: "https://cuadernodelsur-test.blogspot.com/2021/07/la-fiesta-del-pueblo.html",
        language: "es",
        title: "La fiesta del pueblo",
        page_title: Some("Cuaderno del Sur: La fiesta del pueblo"),
        paragraphs: &[
            "Este año la fiesta del pueblo volvió a la plaza después de dos veranos en silencio. Hubo orquesta, churros a medianoche y una procesión que llegó tarde, como siempre.",
            "El alcalde dio un discurso corto y nadie lo escuchó, porque la banda ya estaba afinando detrás del escenario.",
            "Lo que no puede faltar",
            "la paella gigante del domingo,\nel concurso de tortillas,\nlos fuegos artificiales sobre el puerto.",
            "No hay comentarios que valgan cuando la orquesta toca el pasodoble: todo el mundo baila.",
            "La página principal del periódico provincial ni siquiera mencionó la fiesta.",
            "La comisión de fiestas publicó el programa en su blog, y lo copio aquí tal cual:",
            "El domingo a las doce, misa y procesión. A las dos, paella para todos en la plaza.",
            "El año que viene, dicen, habrá toro de fuego otra vez. Ya veremos.",
        ],
        kept: &[
            "No hay comentarios que valgan cuando la orquesta toca el pasodoble: todo el mundo baila.",
            "La página principal del periódico provincial ni siquiera mencionó la fiesta.",
        ],
        furniture: FURNITURE,
    },
    Fixture {
        file: "fr_contempo_current.html",
        html: include_str!("fixtures/fr_contempo_current.html"),
        url: "https://carnetdeloire-test.blogspot.com/2023/05/le-marche-du-samedi.html",
        language: "fr",
        title: "Le marché du samedi",
        page_title: None,
        paragraphs: &[
            "Depuis samedi, le marché ne se tient plus sur la place de l'église mais le long du quai, sous les platanes. La mairie parle d'un essai de six mois ; les commerçants, eux, parlent surtout du vent.",
            "Madame Lefèvre, qui vend ses fromages de chèvre ici depuis trente ans, a installé son étal à la même heure que d'habitude, comme si de rien n'était.",
            "Ce qui change",
            "les voitures ne peuvent plus se garer sur le quai le samedi matin,\nle marchand de poissons est enfin à l'ombre,\nla fanfare joue près du pont à onze heures.",
            "Aucun commentaire n'a été fait par le maire quand je lui ai demandé combien coûtaient les nouveaux auvents.",
            "Accueil chaleureux quand même au café du port, où l'on servait le café à un euro pour fêter l'occasion.",
            "J'avais recopié ici l'annonce de l'association des commerçants, boutons compris :",
            "Rendez-vous samedi prochain à huit heures pour l'inauguration officielle, avec dégustation de rillettes.",
            "Nous verrons bien en octobre si le marché reste au bord de l'eau.",
        ],
        kept: &[
            "Aucun commentaire n'a été fait par le maire quand je lui ai demandé combien coûtaient les nouveaux auvents.",
            "Accueil chaleureux quand même au café du port, où l'on servait le café à un euro pour fêter l'occasion.",
        ],
        furniture: FURNITURE,
    },
    Fixture {
        file: "pl_soho_current.html",
        html: include_str!("fixtures/pl_soho_current.html"),
        url: "https://zapiskizmazur-test.blogspot.com/2022/08/jezioro-o-swicie.html",
        language: "pl",
        title: "Jezioro o świcie",
        page_title: None,
        paragraphs: &[
            "O piątej rano jezioro jest zupełnie gładkie. Mgła leży nad wodą jak wata, a jedynym dźwiękiem jest skrzypienie pomostu, kiedy ktoś na nim stanie.",
            "Sąsiad z domku obok wypływa łódką na ryby codziennie o tej samej porze i wraca zawsze z tą samą miną, niezależnie od tego, czy coś złowił.",
            "Co zabrać na poranny spacer",
            "ciepłą bluzę, bo o świcie jest zimno,\ntermos z herbatą,\naparat, choć zdjęcia nigdy nie oddają tej mgły.",
            "Brak komentarzy ze strony sąsiada był wymowny, kiedy zapytałem go o szczupaka.",
            "Strona główna lokalnej gazety pisała tego dnia tylko o festynie w miasteczku.",
            "Pod spodem wklejam ogłoszenie z bloga naszej przystani, razem z tym, co się skopiowało:",
            "W niedzielę o dziesiątej sprzątamy brzeg jeziora. Worki i rękawice zapewnia gmina.",
            "Wieczorem mgła wraca, ale to już zupełnie inna historia.",
        ],
        kept: &[
            "Brak komentarzy ze strony sąsiada był wymowny, kiedy zapytałem go o szczupaka.",
            "Strona główna lokalnej gazety pisała tego dnia tylko o festynie w miasteczku.",
        ],
        furniture: FURNITURE,
    },
    Fixture {
        file: "pt_emporio_current.html",
        html: include_str!("fixtures/pt_emporio_current.html"),
        url: "https://diariodaserra-test.blogspot.com/2024/03/a-feira-de-artesanato.html",
        language: "pt",
        title: "A feira de artesanato",
        page_title: None,
        paragraphs: &[
            "A feira de artesanato voltou para a praça da matriz neste sábado, depois de quase um ano fechada para a reforma do coreto. Chegaram barracas de cidades vizinhas e até uma tecelã de Minas.",
            "Dona Cida, que faz colchas de retalhos desde menina, vendeu tudo antes do meio-dia e passou a tarde conversando com quem passava.",
            "O que encontrei por lá",
            "cestos de palha trançados à mão,\ndoce de leite em pedaços embrulhado em papel,\nbonecas de pano com roupas de chita.",
            "Nenhum comentário foi feito pelo prefeito sobre o atraso da obra, nem quando perguntei na saída da missa.",
            "A página inicial do jornal da cidade só falava do preço do café.",
            "Copio abaixo o aviso da associação dos artesãos, do jeito que estava no blog deles:",
            "A próxima feira será no segundo sábado de abril, das nove às cinco, com música ao vivo.",
            "Volto em abril, com mais dinheiro no bolso e menos pressa.",
        ],
        kept: &[
            "Nenhum comentário foi feito pelo prefeito sobre o atraso da obra, nem quando perguntei na saída da missa.",
            "A página inicial do jornal da cidade só falava do preço do café.",
        ],
        furniture: FURNITURE,
    },
    // A third-party template without Blogger's body classes: the scraper scores the page, so
    // the byline, share row, labels and comment heading next to the text may reach clean.
    Fixture {
        file: "en_thirdparty_template.html",
        html: include_str!("fixtures/en_thirdparty_template.html"),
        url: "https://www.harbournotes-test.com/2023/03/the-lighthouse-keeper.html",
        language: "en",
        title: "The lighthouse keeper",
        page_title: Some("The lighthouse keeper | Harbour Notes"),
        paragraphs: &[
            "Old Tom Mulvey kept the light on the point for thirty-one years, and he still walks out to it every evening, although the lamp has been automatic since 1998.",
            "He told me the hardest part of the job was never the storms. It was the quiet weeks in summer, when nothing happened and the logbook had to be filled in anyway.",
            "What he kept in the logbook",
            "the weather at six, noon and six,\nevery ship that passed the point,\nthe day the seals came back.",
            "I asked him whether he missed it. He had no comments to make: the room was silent, and then he laughed and put the kettle on.",
            "The logbooks are now in the county library, where anyone can read them on Tuesdays and Thursdays.",
        ],
        kept: &[
            "I asked him whether he missed it. He had no comments to make: the room was silent, and then he laughed and put the kettle on.",
        ],
        // The scraper finds the text alone here; clean must still leave it whole.
        furniture: 0,
    },
];

/// Furniture lines each post body above holds.
const FURNITURE: usize = 5;

fn scrape_and_clean(f: &Fixture) -> (ScrapedArticle, CleanedArticle) {
    let scraped = gleaner_scrape::extract(f.html, f.url);
    let cleaned = clean(&scraped);
    (scraped, cleaned)
}

/// Lowercase, single spaces, trailing separators off.
fn fold(s: &str) -> String {
    s.to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_matches(|c: char| matches!(c, ':' | '.' | '!' | ' '))
        .to_string()
}

#[test]
fn fixtures_cover_classic_current_and_third_party_themes_in_six_languages() {
    let mut langs: Vec<&str> = FIXTURES.iter().map(|f| f.language).collect();
    langs.sort_unstable();
    langs.dedup();
    assert_eq!(langs, ["de", "en", "es", "fr", "pl", "pt"]);
    assert!(
        FIXTURES
            .iter()
            .any(|f| f.html.contains("post-body entry-content'") && f.html.contains("blog-pager"))
    );
    assert!(
        FIXTURES
            .iter()
            .any(|f| f.html.contains("post-body-container")
                && f.html.contains("sharing-platform-button"))
    );
}

#[test]
fn the_scraped_body_does_hold_furniture_for_clean_to_remove() {
    for f in FIXTURES {
        let (scraped, _) = scrape_and_clean(f);
        let furniture = scraped
            .blocks
            .iter()
            .flat_map(|b| b.text.lines())
            .filter(|l| is_boilerplate_line(l))
            .count();
        assert!(
            furniture >= f.furniture,
            "{}: only {furniture} furniture lines",
            f.file
        );
    }
}

#[test]
fn every_real_paragraph_survives_exactly_and_nothing_else() {
    for f in FIXTURES {
        let (_, cleaned) = scrape_and_clean(f);
        let got: Vec<&str> = cleaned.body.split("\n\n").collect();
        assert_eq!(got, f.paragraphs, "{}", f.file);
    }
}

#[test]
fn no_interface_string_of_any_language_survives() {
    let known: Vec<String> = ui_strings::UI_STRINGS
        .iter()
        .flat_map(|(_, lines)| lines.iter().map(|l| fold(l)))
        .collect();
    for f in FIXTURES {
        let (_, cleaned) = scrape_and_clean(f);
        for line in cleaned.body.lines() {
            assert!(
                !known.contains(&fold(line)) && !is_boilerplate_line(line),
                "{}: boilerplate line {line:?} survived",
                f.file
            );
        }
        for gone in [
            "Powered by Blogger",
            "Bereitgestellt von Blogger",
            "Con la tecnología de Blogger",
            "Fourni par Blogger",
            "Obsługiwane przez usługę Blogger",
            "Tecnologia do Blogger",
            "(Atom)",
            "Post a Comment",
            "Kommentar veröffentlichen",
            "Publicar un comentario",
            "Prześlij komentarz",
            "Postar um comentário",
            "Only a member of this blog",
            "Nur ein Mitglied dieses Blogs",
            "Posted by",
            "Eingestellt von",
            "Publicado por",
            "Obtenir le lien",
            "Pobierz link",
            "Gerar link",
            "Facebook",
            "Pinterest",
        ] {
            assert!(
                !cleaned.body.contains(gone),
                "{}: {gone:?} survived",
                f.file
            );
        }
    }
}

#[test]
fn sentences_with_boilerplate_words_survive() {
    for f in FIXTURES {
        let (_, cleaned) = scrape_and_clean(f);
        for s in f.kept {
            assert!(
                cleaned.body.lines().any(|l| l == *s),
                "{}: lost {s:?}",
                f.file
            );
        }
    }
}

#[test]
fn language_is_detected_from_the_text() {
    for f in FIXTURES {
        let (mut scraped, cleaned) = scrape_and_clean(f);
        assert_eq!(cleaned.language.as_deref(), Some(f.language), "{}", f.file);
        // Not just the page's declaration: the same without it, and against a wrong one.
        scraped.language_hint = None;
        assert_eq!(
            clean(&scraped).language.as_deref(),
            Some(f.language),
            "{}",
            f.file
        );
        scraped.language_hint = Some("tr".into());
        assert_eq!(
            clean(&scraped).language.as_deref(),
            Some(f.language),
            "{}",
            f.file
        );
    }
}

#[test]
fn titles_are_clean() {
    for f in FIXTURES {
        let (scraped, cleaned) = scrape_and_clean(f);
        assert_eq!(cleaned.title, f.title, "{}", f.file);
        if let Some(page_title) = f.page_title {
            assert!(f.html.contains(&format!("<title>{page_title}</title>")));
            assert_eq!(
                clean_title(page_title, scraped.site_name.as_deref()),
                f.title,
                "{}",
                f.file
            );
            // And "Post | Blog", the other common shape.
            let blog = scraped.site_name.as_deref().unwrap_or_default();
            assert_eq!(
                clean_title(&format!("{} | {blog}", f.title), Some(blog)),
                f.title
            );
        }
    }
}

#[test]
fn counts_and_hash_follow_the_body() {
    for f in FIXTURES {
        let (scraped, cleaned) = scrape_and_clean(f);
        assert_eq!(
            cleaned.word_count as usize,
            gleaner_clean::count_words(&cleaned.body)
        );
        assert_eq!(
            cleaned.content_hash,
            gleaner_clean::content_hash(&cleaned.title, &cleaned.body)
        );
        assert_eq!(clean(&scraped), cleaned, "{}: not deterministic", f.file);
        let again = clean(&ScrapedArticle {
            title: Some(cleaned.title.clone()),
            blocks: vec![gleaner_model::TextBlock::paragraph(cleaned.body.clone())],
            ..ScrapedArticle::default()
        });
        assert_eq!(again.body, cleaned.body, "{}: not idempotent", f.file);
        assert_eq!(
            again.title, cleaned.title,
            "{}: title not idempotent",
            f.file
        );
        assert_eq!(again.content_hash, cleaned.content_hash);
    }
}
