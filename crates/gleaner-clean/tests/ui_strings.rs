//! Blogger's interface strings in eleven languages are recognised as boilerplate, whole lines
//! and in a body; sentences that merely contain the words are kept.

#[path = "common/ui_strings.rs"]
mod ui_strings;

use gleaner_clean::{clean, is_boilerplate_line};
use gleaner_model::{ScrapedArticle, TextBlock};
use ui_strings::{REAL_SENTENCES, UI_STRINGS};

#[test]
fn the_table_covers_the_languages_blogger_is_used_in() {
    for code in [
        "en", "de", "es", "fr", "pt", "it", "pl", "nl", "id", "tr", "ru",
    ] {
        let lines = UI_STRINGS
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, l)| l.len())
            .unwrap_or(0);
        assert!(lines >= 25, "{code}: only {lines} interface strings");
    }
}

#[test]
fn every_interface_string_is_boilerplate() {
    let mut missed = Vec::new();
    for (code, lines) in UI_STRINGS {
        for line in *lines {
            if !is_boilerplate_line(line) {
                missed.push(format!("{code}: {line:?}"));
            }
        }
    }
    assert!(missed.is_empty(), "not recognised:\n{}", missed.join("\n"));
}

#[test]
fn interface_strings_leave_the_body() {
    for (code, lines) in UI_STRINGS {
        let text = "A real paragraph that stays where it is.";
        let mut blocks = vec![TextBlock::paragraph(text)];
        blocks.extend(lines.iter().map(|l| TextBlock::paragraph(*l)));
        // And all of them as one block, one per line (a `<br>`-separated footer).
        blocks.push(TextBlock::paragraph(lines.join("\n")));
        let a = ScrapedArticle {
            blocks,
            ..ScrapedArticle::default()
        };
        assert_eq!(clean(&a).body, text, "{code}");
    }
}

#[test]
fn sentences_with_the_words_stay() {
    for s in REAL_SENTENCES {
        assert!(!is_boilerplate_line(s), "eaten: {s:?}");
        let a = ScrapedArticle {
            blocks: vec![TextBlock::paragraph(*s)],
            ..ScrapedArticle::default()
        };
        assert_eq!(clean(&a).body, *s);
    }
}
