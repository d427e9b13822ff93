//! Language of the body: `whatlang` when the text is long enough, else the page's hint.

/// Bodies shorter than this (in chars) are too short for trigram detection to be trusted.
pub const MIN_DETECT_CHARS: usize = 150;

/// ISO 639-1 code of `body`'s language: detected when the body has at least
/// [`MIN_DETECT_CHARS`] chars and whatlang calls its guess reliable, otherwise the primary
/// subtag of `hint` ("en-US" → "en") when that looks like a language code.
pub fn detect(body: &str, hint: Option<&str>) -> Option<String> {
    let detected = (body.chars().count() >= MIN_DETECT_CHARS)
        .then(|| whatlang::detect(body))
        .flatten()
        .filter(whatlang::Info::is_reliable)
        .and_then(|info| iso639_1(info.lang().code()));
    if let Some(code) = detected {
        return Some(code.to_string());
    }
    hint.and_then(primary_subtag)
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
