//! Choosing the character encoding of a fetched body and decoding it.
//!
//! The order is the one browsers use (WHATWG HTML, "determining the character encoding"):
//!
//! 1. a byte order mark;
//! 2. the `charset` parameter of the `Content-Type` header;
//! 3. for XML (a body that starts with `<?xml` and is not served as `text/html`), the XML
//!    declaration's `encoding`;
//! 4. a prescan of the first 1024 bytes for `<meta charset>` or
//!    `<meta http-equiv="Content-Type" content="…; charset=…">`;
//! 5. UTF-8 when the whole body is valid UTF-8 (what the detector would say, at memory speed);
//! 6. else a guess by `chardetng` from at most 128 KiB of the body (its first 64 KiB, and
//!    64 KiB from the first byte that is not UTF-8), hinted with the top-level domain of the
//!    page's host.
//!
//! Labels are resolved with the WHATWG Encoding Standard, as browsers do: `ISO-8859-1`,
//! `latin1` and `US-ASCII` all mean `windows-1252`, so the bytes 0x80–0x9F decode as the curly
//! quotes and dashes the author typed rather than as C1 control characters.
//!
//! **A label the bytes refute** is not obeyed blindly: gleaner wants the text as the author
//! wrote it, for good, where a browser may show mojibake for a day until the server is fixed.
//! The first declaration found (header, else XML declaration, else meta) is checked against
//! the bytes, cheaply, and overruled only when they plainly say otherwise:
//!
//! * declared **UTF-8** over bytes that are mostly not UTF-8 (more invalid sequences than
//!   valid multi-byte characters; a body cut short inside its last character is valid): the
//!   next declaration in the document if it names another encoding, else the guess of step 6
//!   (a latin-1 database behind a UTF-8 site would otherwise be stored with U+FFFD for every
//!   accented letter);
//! * declared a **single-byte legacy encoding** (ISO-8859-1/windows-1252 and kin, a server's
//!   default) over bytes that are valid UTF-8 with at least one multi-byte sequence: UTF-8,
//!   unless the next declaration in the document names another encoding than UTF-8 (valid
//!   UTF-8 with multi-byte sequences is practically never meant as latin-1, which would store
//!   "CafÃ©").
//!
//! A body that fits its label costs one UTF-8 validation (which for real latin-1 text stops
//! at its first accented letter) and never a detection pass.
//!
//! What gleaner does *not* do is the old RFC 2616 default
//! (text without a charset parameter is ISO-8859-1) that `requests`-based scrapers apply: with no
//! label in the header, the meta prescan and then detection decide, which is what gets UTF-8 pages
//! served as bare `text/html` right.

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252, X_USER_DEFINED};

/// Why a body was decoded with the encoding it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EncodingSource {
    /// A byte order mark at the start of the body.
    Bom,
    /// The `charset` parameter of the `Content-Type` header.
    Header,
    /// The `encoding` of an XML declaration.
    XmlDeclaration,
    /// A `<meta charset>` or `http-equiv` tag in the first 1024 bytes.
    Meta,
    /// Guessed from the bytes by chardetng (with the host's top-level domain as a hint).
    Detected,
}

impl EncodingSource {
    /// A short stable name: `bom`, `header`, `xml-declaration`, `meta`, `detected`.
    pub fn as_str(self) -> &'static str {
        match self {
            EncodingSource::Bom => "bom",
            EncodingSource::Header => "header",
            EncodingSource::XmlDeclaration => "xml-declaration",
            EncodingSource::Meta => "meta",
            EncodingSource::Detected => "detected",
        }
    }
}

impl std::fmt::Display for EncodingSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many bytes the meta prescan looks at, as in browsers.
const PRESCAN_BYTES: usize = 1024;

/// How many bytes of a body with no declared encoding the detector reads (twice at most: the
/// start, and from the first byte that is not UTF-8).
const GUESS_BYTES: usize = 64 * 1024;

/// Decode `body`. `content_type` is the raw `Content-Type` header, `host` the page's host name
/// (its top-level domain hints the detector).
pub fn decode(
    body: &[u8],
    content_type: Option<&str>,
    host: Option<&str>,
) -> (String, &'static str, EncodingSource) {
    let (encoding, source) = choose(body, content_type, host);
    // With a BOM, `decode_with_bom_removal` strips it; otherwise it decodes the bytes as they are.
    let (text, _) = if source == EncodingSource::Bom {
        encoding.decode_with_bom_removal(body)
    } else {
        (encoding.decode_without_bom_handling(body).0, false)
    };
    (text.into_owned(), encoding.name(), source)
}

/// [`decode`] for a body the caller owns: a body that is to be read as UTF-8 (no BOM) and is
/// valid becomes the string without a copy; any other is decoded as [`decode`] does, with
/// the same result.
pub fn decode_owned(
    body: Vec<u8>,
    content_type: Option<&str>,
    host: Option<&str>,
) -> (String, &'static str, EncodingSource) {
    let (encoding, source) = choose(&body, content_type, host);
    if encoding == UTF_8 && source != EncodingSource::Bom {
        return match String::from_utf8(body) {
            Ok(text) => (text, encoding.name(), source),
            Err(e) => {
                let text = encoding.decode_without_bom_handling(e.as_bytes()).0;
                (text.into_owned(), encoding.name(), source)
            }
        };
    }
    decode(&body, content_type, host)
}

/// Choose the encoding of `body` and say why.
pub fn choose(
    body: &[u8],
    content_type: Option<&str>,
    host: Option<&str>,
) -> (&'static Encoding, EncodingSource) {
    if let Some((encoding, _)) = Encoding::for_bom(body) {
        return (encoding, EncodingSource::Bom);
    }
    // The declarations, most authoritative first: the header, the XML declaration (not for
    // a page served as HTML), the meta prescan. Each is looked for only when needed.
    let head = &body[..body.len().min(PRESCAN_BYTES)];
    let is_html = content_type.is_some_and(|ct| media_type(ct) == "text/html");
    let header = || {
        content_type
            .and_then(charset_param)
            .and_then(|label| Encoding::for_label(label.as_bytes()))
            .map(|e| (e, EncodingSource::Header))
    };
    let xml = || {
        xml_declaration_encoding(head)
            .filter(|_| !is_html)
            .map(|e| (e, EncodingSource::XmlDeclaration))
    };
    let meta = || prescan_meta(head).map(|e| (e, EncodingSource::Meta));
    let declared = header()
        .map(|d| (d, 0))
        .or_else(|| xml().map(|d| (d, 1)))
        .or_else(|| meta().map(|d| (d, 2)));
    let Some(((encoding, source), rank)) = declared else {
        return undeclared(body, host);
    };
    // The declarations after the one that won, for when the bytes refute it.
    let below = || {
        let x = if rank < 1 { xml() } else { None };
        let m = if rank < 2 { meta() } else { None };
        x.into_iter().chain(m)
    };
    if encoding == UTF_8 {
        // Declared UTF-8 over bytes that are not (a latin-1 database behind a UTF-8 site):
        // the document's own word if it names another encoding, else a guess. A body that is
        // UTF-8 with a few bad bytes (or one cut short) stays UTF-8.
        return match utf8_fit(body) {
            Utf8Fit::Valid | Utf8Fit::Mostly => (encoding, source),
            Utf8Fit::Not { valid_up_to } => below()
                .find(|(e, _)| *e != UTF_8)
                .unwrap_or_else(|| (guess(body, valid_up_to, host), EncodingSource::Detected)),
        };
    }
    if is_latin(encoding) && has_multibyte_utf8(body) {
        // Declared latin-1 (a server's default) over bytes that are valid UTF-8 with
        // multi-byte sequences: that is practically never latin-1 text, and read as such it
        // would be stored as "CafÃ©". UTF-8, unless the document itself names another
        // encoding.
        return match below().next() {
            Some((e, s)) if e == UTF_8 => (UTF_8, s),
            Some(_) => (encoding, source),
            None => (UTF_8, EncodingSource::Detected),
        };
    }
    (encoding, source)
}

/// A body with no usable declaration: UTF-8 when it is valid UTF-8, else a guess.
fn undeclared(body: &[u8], host: Option<&str>) -> (&'static Encoding, EncodingSource) {
    // gleaner is not a browser: a page with no label that is valid UTF-8 is UTF-8 (what the
    // detector, allowed to say UTF-8, would answer after reading all of it), and a check
    // for that runs at memory speed where the detector reads a few MB/s.
    match std::str::from_utf8(body) {
        Ok(_) => (UTF_8, EncodingSource::Detected),
        Err(e) => (guess(body, e.valid_up_to(), host), EncodingSource::Detected),
    }
}

/// chardetng's guess for a body that is not valid UTF-8 from `valid_up_to` on, from a
/// bounded sample: the start of the body and, when that is valid UTF-8, the stretch from the
/// first byte that is not (so UTF-8 is ruled out as it would be by the whole body).
fn guess(body: &[u8], valid_up_to: usize, host: Option<&str>) -> &'static Encoding {
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    let head_end = body.len().min(GUESS_BYTES);
    if valid_up_to < head_end {
        detector.feed(&body[..head_end], head_end == body.len());
    } else {
        detector.feed(&body[..head_end], false);
        let tail_end = body.len().min(valid_up_to.saturating_add(GUESS_BYTES));
        detector.feed(&body[valid_up_to..tail_end], tail_end == body.len());
    }
    let tld = host.and_then(top_level_domain);
    detector.guess(
        tld.as_deref().map(str::as_bytes),
        chardetng::Utf8Detection::Allow,
    )
}

/// How well a body declared UTF-8 fits the declaration.
#[derive(Debug, PartialEq, Eq)]
enum Utf8Fit {
    /// Valid UTF-8, or valid but for a sequence cut short at the very end (a body cut at a
    /// size limit).
    Valid,
    /// More valid multi-byte characters than invalid sequences: UTF-8 with a few bad bytes,
    /// which decoding replaces one by one.
    Mostly,
    /// Mostly not UTF-8: from `valid_up_to` on it is not.
    Not { valid_up_to: usize },
}

/// Linear, and only past the first pass when the body is not valid UTF-8.
fn utf8_fit(body: &[u8]) -> Utf8Fit {
    let valid_up_to = match std::str::from_utf8(body) {
        Ok(_) => return Utf8Fit::Valid,
        Err(e) if e.error_len().is_none() => return Utf8Fit::Valid,
        Err(e) => e.valid_up_to(),
    };
    let (mut multibyte, mut invalid) = (0usize, 0usize);
    for chunk in body.utf8_chunks() {
        multibyte += chunk.valid().bytes().filter(|&b| b >= 0xC0).count();
        invalid += usize::from(!chunk.invalid().is_empty());
    }
    if multibyte > invalid {
        Utf8Fit::Mostly
    } else {
        Utf8Fit::Not { valid_up_to }
    }
}

/// A single-byte legacy encoding (ISO-8859-1/windows-1252 and their kin), whose labels
/// servers put on UTF-8 bodies by default.
fn is_latin(encoding: &'static Encoding) -> bool {
    encoding.is_single_byte() && encoding != X_USER_DEFINED
}

/// Valid UTF-8 holding at least one multi-byte sequence (pure ASCII reads the same either
/// way). Stops at the first invalid byte, which for real single-byte text comes early.
fn has_multibyte_utf8(body: &[u8]) -> bool {
    std::str::from_utf8(body).is_ok_and(|text| !text.is_ascii())
}
/// The media type of a `Content-Type` value, lowercased, without parameters.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The `charset` parameter of a `Content-Type` value.
pub fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
        (!value.is_empty()).then(|| value.to_string())
    })
}

/// The last label of a host name, lowercased ASCII (chardetng panics on anything else), for
/// chardetng's hint; none for IP addresses and single-label names.
fn top_level_domain(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.');
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') || !host.contains('.') {
        return None;
    }
    let tld = host.rsplit('.').next()?.to_ascii_lowercase();
    let valid = !tld.is_empty()
        && tld
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    valid.then_some(tld)
}

/// An encoding found in a document (meta tag or XML declaration), mapped as browsers map it:
/// UTF-16 labels mean UTF-8 (a document that could be read as ASCII to find the label is not
/// UTF-16), `x-user-defined` means windows-1252.
fn document_label(label: &[u8]) -> Option<&'static Encoding> {
    Encoding::for_label(label).map(for_document)
}

fn for_document(encoding: &'static Encoding) -> &'static Encoding {
    if encoding == UTF_16BE || encoding == UTF_16LE {
        UTF_8
    } else if encoding == X_USER_DEFINED {
        WINDOWS_1252
    } else {
        encoding
    }
}

/// `<?xml version="1.0" encoding="…"?>` at the very start of the body.
fn xml_declaration_encoding(head: &[u8]) -> Option<&'static Encoding> {
    let rest = head.strip_prefix(b"<?xml")?;
    let end = find(rest, b"?>")?;
    let decl = &rest[..end];
    let at = find(decl, b"encoding")?;
    let mut i = at + b"encoding".len();
    i = skip_space(decl, i);
    if decl.get(i) != Some(&b'=') {
        return None;
    }
    i = skip_space(decl, i + 1);
    let quote = *decl.get(i)?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let value = &decl[i + 1..];
    let close = value.iter().position(|&b| b == quote)?;
    document_label(&value[..close])
}

/// The WHATWG "prescan a byte stream to determine its encoding", over `head`.
fn prescan_meta(head: &[u8]) -> Option<&'static Encoding> {
    let mut i = 0;
    while i < head.len() {
        let rest = &head[i..];
        if rest.starts_with(b"<!--") {
            i += 4 + find(&rest[4..], b"-->").map_or(rest.len(), |end| end + 3);
        } else if starts_with_ignore_case(rest, b"<meta")
            && rest.get(5).is_some_and(|&b| is_space(b) || b == b'/')
        {
            let (found, next) = meta_tag(head, i + 5);
            if found.is_some() {
                return found;
            }
            i = next;
        } else if rest[0] == b'<'
            && (rest.get(1).is_some_and(u8::is_ascii_alphabetic)
                || (rest.get(1) == Some(&b'/') && rest.get(2).is_some_and(u8::is_ascii_alphabetic)))
        {
            // Some other tag: skip its name, then its attributes (whose values may hold '>').
            let mut j = i + 1;
            while j < head.len() && !is_space(head[j]) && head[j] != b'>' {
                j += 1;
            }
            loop {
                match attribute(head, j) {
                    Attribute::Found { next, .. } => j = next,
                    Attribute::End(next) => {
                        i = next;
                        break;
                    }
                }
            }
        } else if rest.starts_with(b"<!") || rest.starts_with(b"</") || rest.starts_with(b"<?") {
            i += find(rest, b">").map_or(rest.len(), |end| end + 1);
        } else {
            i += 1;
        }
    }
    None
}

/// The attributes of a `<meta` tag whose name ends at `start`: the encoding it declares, if
/// any, and where scanning goes on.
fn meta_tag(head: &[u8], start: usize) -> (Option<&'static Encoding>, usize) {
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let mut got_pragma = false;
    let mut need_pragma: Option<bool> = None;
    let mut charset: Option<&'static Encoding> = None;
    let mut j = start;
    loop {
        match attribute(head, j) {
            Attribute::End(next) => {
                j = next;
                break;
            }
            Attribute::Found { name, value, next } => {
                j = next;
                if seen.contains(&name) {
                    continue;
                }
                match name.as_slice() {
                    b"http-equiv" if value.eq_ignore_ascii_case(b"content-type") => {
                        got_pragma = true
                    }
                    b"content" if charset.is_none() => {
                        if let Some(label) = charset_from_content(&value) {
                            charset = Encoding::for_label(&label);
                            need_pragma = Some(true);
                        }
                    }
                    b"charset" => {
                        charset = Encoding::for_label(&value);
                        need_pragma = Some(false);
                    }
                    _ => {}
                }
                seen.push(name);
            }
        }
    }
    let found = match need_pragma {
        None => None,
        Some(true) if !got_pragma => None,
        Some(_) => charset.map(for_document),
    };
    (found, j)
}

enum Attribute {
    /// An attribute (name lowercased) and the position after it.
    Found {
        name: Vec<u8>,
        value: Vec<u8>,
        next: usize,
    },
    /// No more attributes: the tag ended (or the input did) at the position given.
    End(usize),
}

/// The WHATWG "get an attribute" step of the prescan, from position `i`.
fn attribute(s: &[u8], mut i: usize) -> Attribute {
    while i < s.len() && (is_space(s[i]) || s[i] == b'/') {
        i += 1;
    }
    if i >= s.len() {
        return Attribute::End(i);
    }
    if s[i] == b'>' {
        return Attribute::End(i + 1);
    }
    let mut name = Vec::new();
    while i < s.len() {
        let b = s[i];
        if b == b'=' && !name.is_empty() {
            break;
        }
        if is_space(b) || b == b'/' || b == b'>' {
            break;
        }
        name.push(b.to_ascii_lowercase());
        i += 1;
    }
    i = skip_space(s, i);
    if s.get(i) != Some(&b'=') {
        return Attribute::Found {
            name,
            value: Vec::new(),
            next: i,
        };
    }
    i = skip_space(s, i + 1);
    let mut value = Vec::new();
    match s.get(i) {
        Some(&quote) if quote == b'"' || quote == b'\'' => {
            i += 1;
            while i < s.len() && s[i] != quote {
                value.push(s[i].to_ascii_lowercase());
                i += 1;
            }
            i += 1;
        }
        _ => {
            while i < s.len() && !is_space(s[i]) && s[i] != b'>' {
                value.push(s[i].to_ascii_lowercase());
                i += 1;
            }
        }
    }
    Attribute::Found {
        name,
        value,
        next: i.min(s.len()),
    }
}

/// The WHATWG "extract a character encoding from a meta element", over a lowercased `content`.
fn charset_from_content(content: &[u8]) -> Option<Vec<u8>> {
    let mut from = 0;
    loop {
        let at = from + find(&content[from..], b"charset")?;
        let mut i = skip_space(content, at + b"charset".len());
        if content.get(i) != Some(&b'=') {
            from = at + b"charset".len();
            continue;
        }
        i = skip_space(content, i + 1);
        return match content.get(i) {
            None => None,
            Some(&quote) if quote == b'"' || quote == b'\'' => {
                let rest = &content[i + 1..];
                let end = rest.iter().position(|&b| b == quote)?;
                Some(rest[..end].to_vec())
            }
            Some(_) => {
                let rest = &content[i..];
                let end = rest
                    .iter()
                    .position(|&b| is_space(b) || b == b';')
                    .unwrap_or(rest.len());
                Some(rest[..end].to_vec())
            }
        };
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

fn skip_space(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    i
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    #[test]
    fn decode_owned_gives_what_decode_gives() {
        let bodies: [&[u8]; 6] = [
            b"<p>plain ascii</p>",
            "<meta charset=utf-8><p>caf\u{e9}</p>".as_bytes(),
            b"<meta charset=utf-8><p>caf\xe9 broken</p>",
            b"<p>caf\xe9 latin-1, no label</p>",
            b"\xef\xbb\xbf<p>with a BOM</p>",
            b"<meta charset=windows-1252><p>\x93quoted\x94</p>",
        ];
        for body in bodies {
            for content_type in [None, Some("text/html; charset=utf-8"), Some("text/html")] {
                assert_eq!(
                    super::decode_owned(body.to_vec(), content_type, Some("example.de")),
                    super::decode(body, content_type, Some("example.de")),
                    "{body:?} {content_type:?}"
                );
            }
        }
    }

    use super::*;

    fn chosen(body: &[u8], ct: Option<&str>) -> (&'static str, EncodingSource) {
        let (e, s) = choose(body, ct, None);
        (e.name(), s)
    }

    #[test]
    fn bom_wins_over_everything() {
        let mut body = vec![0xEF, 0xBB, 0xBF];
        body.extend_from_slice(b"<meta charset=windows-1252>caf\xC3\xA9");
        assert_eq!(
            chosen(&body, Some("text/html; charset=iso-8859-2")),
            ("UTF-8", EncodingSource::Bom)
        );
        let (text, _, _) = decode(&body, None, None);
        assert!(text.starts_with("<meta"), "BOM removed: {text:?}");
        assert!(text.ends_with("café"));
    }

    #[test]
    fn header_label_is_resolved_like_browsers() {
        assert_eq!(
            chosen(b"x", Some("text/html; charset=ISO-8859-1")),
            ("windows-1252", EncodingSource::Header)
        );
        assert_eq!(
            chosen(b"x", Some("text/html;charset=\"utf-8\"")),
            ("UTF-8", EncodingSource::Header)
        );
        assert_eq!(
            chosen(b"x", Some("text/html; Charset=us-ascii")),
            ("windows-1252", EncodingSource::Header)
        );
        // An unknown label is ignored, as browsers ignore it.
        assert_eq!(
            chosen(b"<meta charset=koi8-r>", Some("text/html; charset=bogus")),
            ("KOI8-R", EncodingSource::Meta)
        );
    }

    #[test]
    fn meta_charset_and_http_equiv_are_found() {
        assert_eq!(
            chosen(b"<html><head><META CHARSET='Shift_JIS'>", None),
            ("Shift_JIS", EncodingSource::Meta)
        );
        assert_eq!(
            chosen(
                b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1251\">",
                Some("text/html")
            ),
            ("windows-1251", EncodingSource::Meta)
        );
        assert_eq!(
            chosen(
                b"<meta content='text/html; charset=iso-8859-2' http-equiv='content-type'/>",
                None
            ),
            ("ISO-8859-2", EncodingSource::Meta)
        );
    }

    #[test]
    fn meta_content_without_pragma_is_ignored() {
        let (_, source) = chosen(
            b"<meta content=\"text/html; charset=koi8-r\"><p>plain",
            None,
        );
        assert_eq!(source, EncodingSource::Detected);
    }

    #[test]
    fn meta_inside_comment_or_attribute_is_ignored() {
        let body = b"<!-- <meta charset=koi8-r> --><div title='<meta charset=koi8-r>'><meta charset=iso-8859-7>";
        assert_eq!(chosen(body, None), ("ISO-8859-7", EncodingSource::Meta));
    }

    #[test]
    fn meta_past_1024_bytes_is_not_seen() {
        let mut body = vec![b' '; 1100];
        body.extend_from_slice(b"<meta charset=koi8-r>");
        assert_eq!(chosen(&body, None).1, EncodingSource::Detected);
    }

    #[test]
    fn utf16_in_meta_means_utf8() {
        assert_eq!(
            chosen(b"<meta charset=utf-16le>", None),
            ("UTF-8", EncodingSource::Meta)
        );
    }

    #[test]
    fn xml_declaration_is_used_for_xml() {
        let body = b"<?xml version='1.0' encoding='ISO-8859-15'?><rss/>";
        assert_eq!(
            chosen(body, Some("application/rss+xml")),
            ("ISO-8859-15", EncodingSource::XmlDeclaration)
        );
        assert_eq!(
            chosen(body, None),
            ("ISO-8859-15", EncodingSource::XmlDeclaration)
        );
    }

    #[test]
    fn detection_is_the_last_resort() {
        let utf8 = "Ελληνικά και ακόμη περισσότερα ελληνικά".as_bytes();
        assert_eq!(
            chosen(utf8, Some("text/html")),
            ("UTF-8", EncodingSource::Detected)
        );
        let (text, name, _) = decode(
            b"na\xefve caf\xe9 \x93quoted\x94",
            Some("text/plain"),
            Some("example.fr"),
        );
        assert_eq!(name, "windows-1252");
        assert_eq!(text, "naïve café “quoted”");
    }

    /// What the detector says when fed the whole body, as `choose` did before it skipped it.
    fn full_guess(body: &[u8]) -> &'static str {
        let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
        detector.feed(body, true);
        detector.guess(None, chardetng::Utf8Detection::Allow).name()
    }

    #[test]
    fn undeclared_bodies_get_what_the_whole_body_guess_gave() {
        let ascii_head = "<p>plain words</p>".repeat(5000); // 90 KB, past the sample
        let mut late_latin1 = ascii_head.clone().into_bytes();
        late_latin1.extend_from_slice(b"<p>na\xefve caf\xe9 \x93quoted\x94 d\xe9j\xe0 vu</p>");
        let mut late_utf8 = ascii_head.clone().into_bytes();
        late_utf8.extend_from_slice("<p>Ελληνικά και ακόμη</p>".as_bytes());
        let mut cyrillic_1251 = Vec::new();
        for _ in 0..3000 {
            // "привет мир " in windows-1251
            cyrillic_1251.extend_from_slice(b"\xef\xf0\xe8\xe2\xe5\xf2 \xec\xe8\xf0 ");
        }
        for body in [
            &b""[..],
            b"plain ascii only",
            ascii_head.as_bytes(),
            &late_latin1,
            &late_utf8,
            &cyrillic_1251,
            "短い日本語の文章です。".as_bytes(),
        ] {
            let (encoding, source) = choose(body, None, None);
            assert_eq!(source, EncodingSource::Detected);
            assert_eq!(encoding.name(), full_guess(body), "{} bytes", body.len());
        }
        let (text, name, _) = decode(&late_latin1, None, None);
        assert_eq!(name, "windows-1252");
        assert!(
            text.ends_with("<p>naïve café “quoted” déjà vu</p>"),
            "{}",
            &text[text.len() - 40..]
        );
    }

    #[test]
    fn utf8_label_over_latin1_bytes_is_overruled() {
        let latin1 = b"<p>Caf\xe9 cr\xe8me br\xfbl\xe9e, na\xefve \x93quoted\x94</p>";
        // No other declaration: detected.
        let (text, name, source) = decode(latin1, Some("text/html; charset=utf-8"), None);
        assert_eq!((name, source), ("windows-1252", EncodingSource::Detected));
        assert_eq!(text, "<p>Café crème brûlée, naïve “quoted”</p>");
        // The document names another encoding: that.
        let mut with_meta = b"<meta charset=iso-8859-2>".to_vec();
        with_meta.extend_from_slice(b"<p>\xa3\xf3d\xbc</p>");
        let (text, name, source) = decode(&with_meta, Some("text/html; charset=UTF-8"), None);
        assert_eq!((name, source), ("ISO-8859-2", EncodingSource::Meta));
        assert!(text.ends_with("<p>Łódź</p>"), "{text}");
        // An XML feed: its declaration.
        let feed = b"<?xml version='1.0' encoding='ISO-8859-1'?><rss><title>Caf\xe9</title></rss>";
        assert_eq!(
            chosen(feed, Some("application/rss+xml; charset=utf-8")),
            ("windows-1252", EncodingSource::XmlDeclaration)
        );
        // Declared UTF-8 in the document (no header) over latin-1: detected too.
        let mut meta_utf8 = b"<meta charset=utf-8>".to_vec();
        meta_utf8.extend_from_slice(latin1);
        assert_eq!(
            chosen(&meta_utf8, Some("text/html")),
            ("windows-1252", EncodingSource::Detected)
        );
        // Every declaration says UTF-8: the bytes are guessed.
        assert_eq!(
            chosen(&meta_utf8, Some("text/html; charset=utf-8")),
            ("windows-1252", EncodingSource::Detected)
        );
    }

    #[test]
    fn utf8_with_a_few_bad_bytes_or_cut_short_stays_utf8() {
        let ct = Some("text/html; charset=utf-8");
        // One stray latin-1 byte among many UTF-8 letters: one U+FFFD, the rest intact.
        let mixed = "<p>Ελληνικά καλημέρα café</p>";
        let mut body = mixed.as_bytes().to_vec();
        body.extend_from_slice(b" caf\xe9");
        let (text, name, source) = decode(&body, ct, None);
        assert_eq!((name, source), ("UTF-8", EncodingSource::Header));
        assert!(
            text.starts_with(mixed) && text.ends_with("caf\u{fffd}"),
            "{text}"
        );
        // Cut inside its last character (a size limit): valid.
        let cut = "<p>café €".as_bytes();
        let cut = &cut[..cut.len() - 1];
        assert_eq!(utf8_fit(cut), Utf8Fit::Valid);
        assert_eq!(chosen(cut, ct), ("UTF-8", EncodingSource::Header));
        assert_eq!(utf8_fit(b"caf\xe9 x"), Utf8Fit::Not { valid_up_to: 3 });
    }

    #[test]
    fn latin1_label_over_utf8_bytes_is_overruled() {
        let body = "<p>Café crème “quoted” €5</p>".as_bytes();
        for label in [
            "iso-8859-1",
            "latin1",
            "windows-1252",
            "us-ascii",
            "iso-8859-15",
        ] {
            let ct = format!("text/html; charset={label}");
            let (text, name, source) = decode(body, Some(&ct), None);
            assert_eq!(
                (name, source),
                ("UTF-8", EncodingSource::Detected),
                "{label}"
            );
            assert_eq!(text, "<p>Café crème “quoted” €5</p>");
        }
        // A meta that says UTF-8 backs it.
        let mut meta = b"<meta charset=utf-8>".to_vec();
        meta.extend_from_slice(body);
        assert_eq!(
            chosen(&meta, Some("text/html; charset=ISO-8859-1")),
            ("UTF-8", EncodingSource::Meta)
        );
        // The document's own declaration names a legacy encoding: the label stands.
        let mut contra = b"<meta charset=windows-1252>".to_vec();
        contra.extend_from_slice(body);
        assert_eq!(
            chosen(&contra, Some("text/html; charset=ISO-8859-1")),
            ("windows-1252", EncodingSource::Header)
        );
        // Also a meta label alone, and an XML declaration alone.
        let mut meta_latin = b"<meta charset=iso-8859-1>".to_vec();
        meta_latin.extend_from_slice(body);
        assert_eq!(
            chosen(&meta_latin, Some("text/html")),
            ("UTF-8", EncodingSource::Detected)
        );
        let mut xml = b"<?xml version='1.0' encoding='ISO-8859-1'?><t>".to_vec();
        xml.extend_from_slice(body);
        assert_eq!(chosen(&xml, None), ("UTF-8", EncodingSource::Detected));
    }

    #[test]
    fn bytes_that_fit_their_label_are_read_by_it() {
        // Latin-1 labelled latin-1, ASCII labelled latin-1, UTF-8 labelled UTF-8, a
        // multi-byte legacy label over UTF-8 bytes (left alone).
        for (body, ct, want) in [
            (
                &b"<p>Caf\xe9 \x93x\x94</p>"[..],
                "text/html; charset=iso-8859-1",
                ("windows-1252", EncodingSource::Header),
            ),
            (
                b"<p>plain</p>",
                "text/html; charset=iso-8859-1",
                ("windows-1252", EncodingSource::Header),
            ),
            (
                "<p>Café</p>".as_bytes(),
                "text/html; charset=utf-8",
                ("UTF-8", EncodingSource::Header),
            ),
            (
                "<p>日本語</p>".as_bytes(),
                "text/html; charset=shift_jis",
                ("Shift_JIS", EncodingSource::Header),
            ),
            (
                b"<p>\xef\xf0\xe8\xe2\xe5\xf2</p>",
                "text/html; charset=windows-1251",
                ("windows-1251", EncodingSource::Header),
            ),
        ] {
            assert_eq!(chosen(body, Some(ct)), want, "{ct}");
        }
    }

    #[test]
    fn charset_param_parsing() {
        assert_eq!(
            charset_param("text/html; charset=UTF-8").as_deref(),
            Some("UTF-8")
        );
        assert_eq!(
            charset_param("text/html; foo=bar; CHARSET = 'latin1' ").as_deref(),
            Some("latin1")
        );
        assert_eq!(charset_param("text/html"), None);
        assert_eq!(charset_param("text/html; charset="), None);
        assert_eq!(media_type(" Text/HTML ; charset=x"), "text/html");
    }

    #[test]
    fn tld_hint() {
        assert_eq!(top_level_domain("www.example.co.JP").as_deref(), Some("jp"));
        assert_eq!(top_level_domain("127.0.0.1"), None);
        assert_eq!(top_level_domain("localhost"), None);
        assert_eq!(top_level_domain("example.émoji"), None);
        let _ = choose(b"\xe9t\xe9", None, Some("bücher.DE."));
    }

    #[test]
    fn random_markup_never_panics() {
        const PIECES: &[&[u8]] = &[
            b"<meta",
            b" ",
            b"charset",
            b"=",
            b"'",
            b"\"",
            b"utf-8",
            b"http-equiv",
            b"content-type",
            b"content",
            b";",
            b"<!--",
            b"-->",
            b"<",
            b">",
            b"/",
            b"<?xml",
            b"encoding",
            b"?>",
            b"\xff",
            b"\xef\xbb\xbf",
            b"\x00",
            b"<a",
            b"</",
            b"<!",
            b"windows-1252",
            b"\xe9",
        ];
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..5000 {
            let mut body = Vec::new();
            for _ in 0..rng.usize(0..40) {
                body.extend_from_slice(PIECES[rng.usize(0..PIECES.len())]);
            }
            let ct = ["text/html", "application/xml", "text/html; charset=", "x"][rng.usize(0..4)];
            let _ = decode(&body, Some(ct), Some("example.com"));
            let _ = decode(&body, None, None);
        }
    }

    #[test]
    fn prescan_never_panics_on_truncated_markup() {
        for body in [
            &b"<meta"[..],
            b"<meta ",
            b"<meta charset",
            b"<meta charset=",
            b"<meta charset='",
            b"<!--",
            b"<a href='",
            b"</",
            b"<?xml encoding",
            b"<?xml encoding=\"x",
        ] {
            let _ = choose(body, None, None);
            let _ = choose(body, Some("application/xml"), None);
        }
    }
}
