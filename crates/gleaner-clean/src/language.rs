//! Language of the body: `whatlang` on the body's first few kilobytes when the text is long
//! enough, else the page's hint.

/// Bodies shorter than this (in chars) are too short for trigram detection to be trusted.
pub const MIN_DETECT_CHARS: usize = 150;

/// Bytes of the body that detection reads at most: a few paragraphs tell the language as
/// well as the whole text does, and a long article costs no more than a short one.
pub const SAMPLE_BYTES: usize = 1536;

/// ISO 639-1 code of `body`'s language: detected from its first [`SAMPLE_BYTES`] when the
/// body has at least [`MIN_DETECT_CHARS`] chars and whatlang calls its guess reliable,
/// otherwise the primary subtag of `hint` ("en-US" → "en") when that looks like a language
/// code.
pub fn detect(body: &str, hint: Option<&str>) -> Option<String> {
    let long_enough = body.chars().nth(MIN_DETECT_CHARS - 1).is_some();
    let detected = long_enough
        .then(|| reliable_language(sample(body)))
        .flatten()
        .and_then(|lang| iso639_1(lang.code()));
    if let Some(code) = detected {
        return Some(code.to_string());
    }
    hint.and_then(primary_subtag)
}

/// whatlang's language of `text` when whatlang calls it reliable. Latin-script text is
/// scored by `trigrams::detect_latin` (the same answer for a fraction of the work) unless
/// that cannot be sure of whatlang's answer; everything else goes to whatlang itself.
fn reliable_language(text: &str) -> Option<whatlang::Lang> {
    if main_script(text) == Some(whatlang::Script::Latin)
        && let Some((lang, reliable)) = crate::trigrams::detect_latin(text)
    {
        return reliable.then_some(lang);
    }
    whatlang::detect(text)
        .filter(whatlang::Info::is_reliable)
        .map(|info| info.lang())
}

/// `whatlang::detect_script(text)`, without asking whatlang when the answer is sure to be
/// Latin: whatlang counts every char of the script it belongs to and names the script with
/// the most. ASCII letters are Latin, and no other ASCII char counts for any script, so when
/// ASCII letters outnumber all non-ASCII chars together, Latin has more than every other
/// script. One pass over the bytes, where whatlang tries its scripts' tests on each char.
fn main_script(text: &str) -> Option<whatlang::Script> {
    let (mut ascii_letters, mut other_chars) = (0usize, 0usize);
    for &b in text.as_bytes() {
        ascii_letters += usize::from(b.is_ascii_alphabetic());
        // The first byte of each non-ASCII char.
        other_chars += usize::from(b >= 0xC0);
    }
    if ascii_letters > other_chars {
        return Some(whatlang::Script::Latin);
    }
    whatlang::detect_script(text)
}

/// The start of `text`, at most [`SAMPLE_BYTES`] long, cut after the last white space that
/// fits (so no word is cut in two), or at a char boundary when there is none.
fn sample(text: &str) -> &str {
    if text.len() <= SAMPLE_BYTES {
        return text;
    }
    let mut end = SAMPLE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let head = text.get(..end).unwrap_or(text);
    match head.rfind(char::is_whitespace) {
        Some(space) if space > 0 => head.get(..space).unwrap_or(head),
        _ => head,
    }
}

/// "en-US", "en_GB", "EN" → "en"; anything that is not 2–3 ASCII letters → `None`.
fn primary_subtag(hint: &str) -> Option<String> {
    let primary = hint.trim().split(['-', '_']).next()?;
    let ok = (2..=3).contains(&primary.len()) && primary.chars().all(|c| c.is_ascii_alphabetic());
    ok.then(|| primary.to_ascii_lowercase())
}

/// whatlang's ISO 639-3 codes → ISO 639-1 (the languages whatlang knows that have one).
fn iso639_1(code3: &str) -> Option<&'static str> {
    Some(match code3 {
        "epo" => "eo",
        "eng" => "en",
        "rus" => "ru",
        "cmn" => "zh",
        "spa" => "es",
        "por" => "pt",
        "ita" => "it",
        "ben" => "bn",
        "fra" => "fr",
        "deu" => "de",
        "ukr" => "uk",
        "kat" => "ka",
        "ara" => "ar",
        "hin" => "hi",
        "jpn" => "ja",
        "heb" => "he",
        "yid" => "yi",
        "pol" => "pl",
        "amh" => "am",
        "jav" => "jv",
        "kor" => "ko",
        "nob" => "nb",
        "dan" => "da",
        "swe" => "sv",
        "fin" => "fi",
        "tur" => "tr",
        "nld" => "nl",
        "hun" => "hu",
        "ces" => "cs",
        "ell" => "el",
        "bul" => "bg",
        "bel" => "be",
        "mar" => "mr",
        "kan" => "kn",
        "ron" => "ro",
        "slv" => "sl",
        "hrv" => "hr",
        "srp" => "sr",
        "mkd" => "mk",
        "lit" => "lt",
        "lav" => "lv",
        "est" => "et",
        "tam" => "ta",
        "vie" => "vi",
        "urd" => "ur",
        "tha" => "th",
        "guj" => "gu",
        "uzb" => "uz",
        "pan" => "pa",
        "aze" => "az",
        "ind" => "id",
        "tel" => "te",
        "pes" => "fa",
        "mal" => "ml",
        "ori" => "or",
        "mya" => "my",
        "nep" => "ne",
        "sin" => "si",
        "khm" => "km",
        "tuk" => "tk",
        "aka" => "ak",
        "zul" => "zu",
        "sna" => "sn",
        "afr" => "af",
        "lat" => "la",
        "slk" => "sk",
        "cat" => "ca",
        "tgl" => "tl",
        "hye" => "hy",
        "cym" => "cy",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_is_bounded_and_cut_between_words() {
        let text = "Grüße aus Köln ".repeat(1000);
        let s = sample(&text);
        assert!(s.len() <= SAMPLE_BYTES);
        assert!(text.starts_with(s));
        assert!(s.ends_with("Köln") || s.ends_with("aus") || s.ends_with("Grüße"));
        // No white space at all: cut at a char boundary.
        let cjk = "漢".repeat(5000);
        let s = sample(&cjk);
        assert!(s.len() <= SAMPLE_BYTES && s.len() > SAMPLE_BYTES - 3);
        assert_eq!(sample("short"), "short");
    }

    #[test]
    fn the_script_is_whatlangs() {
        for text in [
            "",
            "1234 -- !!",
            "Hello",
            "Привет всем, hi",
            "Привет всем, hello world",
            "Zoë Brooks in Tromsø said “yes” — €10",
            "漢字 abc",
            "ab 漢字",
            "abc 漢字",
            "Ελληνικά και λίγο English text here",
        ] {
            assert_eq!(main_script(text), whatlang::detect_script(text), "{text}");
        }
    }

    #[test]
    fn a_long_text_is_detected_from_its_start() {
        let german = "Die Bundesregierung hat am Mittwoch beschlossen, dass die neuen Regeln \
                      für den Wohnungsbau ab dem kommenden Jahr gelten sollen. ";
        assert_eq!(detect(&german.repeat(200), None).as_deref(), Some("de"));
        assert_eq!(detect("Kurz.", Some("de-AT")).as_deref(), Some("de"));
    }
}
