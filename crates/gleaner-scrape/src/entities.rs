//! Character references decoded before parsing, where that cannot change what the parser
//! builds.
//!
//! html5ever resolves a named reference (`&eacute;`) by looking up every prefix of its name
//! in a hashed table, one lookup per character: a page that is a million entities (a hostile
//! shape of issue #11) spent most of its second there. [`predecode`] rewrites the
//! references whose meaning is certain, in one pass, so the parser reads plain characters:
//!
//! * numeric ones (`&#233;`, `&#xE9;`) and the named ones of [`NAMED`] (Latin-1 and common
//!   punctuation), ended by `;`, whose character is not ASCII (at least U+00A0, not a
//!   surrogate or a noncharacter): such a character can neither start markup nor join the
//!   text after it into another reference;
//! * `&amp;` followed by whitespace, `<` or `&`, where a bare `&` is a plain `&` too.
//!
//! Everything else is left to the parser. Nothing is rewritten inside the elements whose text
//! the parser takes literally (`script`, `noscript`, `style`, `xmp`, `iframe`, `noembed`, `noframes`,
//! `plaintext`) or inside comments: there a reference is not one.

use std::borrow::Cow;

/// Named references rewritten, with their characters (the HTML standard's table).
const NAMED: &[(&str, char)] = &[
    ("nbsp", '\u{A0}'),
    ("iexcl", '\u{A1}'),
    ("cent", '\u{A2}'),
    ("pound", '\u{A3}'),
    ("curren", '\u{A4}'),
    ("yen", '\u{A5}'),
    ("brvbar", '\u{A6}'),
    ("sect", '\u{A7}'),
    ("uml", '\u{A8}'),
    ("copy", '\u{A9}'),
    ("ordf", '\u{AA}'),
    ("laquo", '\u{AB}'),
    ("not", '\u{AC}'),
    ("shy", '\u{AD}'),
    ("reg", '\u{AE}'),
    ("macr", '\u{AF}'),
    ("deg", '\u{B0}'),
    ("plusmn", '\u{B1}'),
    ("sup2", '\u{B2}'),
    ("sup3", '\u{B3}'),
    ("acute", '\u{B4}'),
    ("micro", '\u{B5}'),
    ("para", '\u{B6}'),
    ("middot", '\u{B7}'),
    ("cedil", '\u{B8}'),
    ("sup1", '\u{B9}'),
    ("ordm", '\u{BA}'),
    ("raquo", '\u{BB}'),
    ("frac14", '\u{BC}'),
    ("frac12", '\u{BD}'),
    ("frac34", '\u{BE}'),
    ("iquest", '\u{BF}'),
    ("Agrave", '\u{C0}'),
    ("Aacute", '\u{C1}'),
    ("Acirc", '\u{C2}'),
    ("Atilde", '\u{C3}'),
    ("Auml", '\u{C4}'),
    ("Aring", '\u{C5}'),
    ("AElig", '\u{C6}'),
    ("Ccedil", '\u{C7}'),
    ("Egrave", '\u{C8}'),
    ("Eacute", '\u{C9}'),
    ("Ecirc", '\u{CA}'),
    ("Euml", '\u{CB}'),
    ("Igrave", '\u{CC}'),
    ("Iacute", '\u{CD}'),
    ("Icirc", '\u{CE}'),
    ("Iuml", '\u{CF}'),
    ("ETH", '\u{D0}'),
    ("Ntilde", '\u{D1}'),
    ("Ograve", '\u{D2}'),
    ("Oacute", '\u{D3}'),
    ("Ocirc", '\u{D4}'),
    ("Otilde", '\u{D5}'),
    ("Ouml", '\u{D6}'),
    ("times", '\u{D7}'),
    ("Oslash", '\u{D8}'),
    ("Ugrave", '\u{D9}'),
    ("Uacute", '\u{DA}'),
    ("Ucirc", '\u{DB}'),
    ("Uuml", '\u{DC}'),
    ("Yacute", '\u{DD}'),
    ("THORN", '\u{DE}'),
    ("szlig", '\u{DF}'),
    ("agrave", '\u{E0}'),
    ("aacute", '\u{E1}'),
    ("acirc", '\u{E2}'),
    ("atilde", '\u{E3}'),
    ("auml", '\u{E4}'),
    ("aring", '\u{E5}'),
    ("aelig", '\u{E6}'),
    ("ccedil", '\u{E7}'),
    ("egrave", '\u{E8}'),
    ("eacute", '\u{E9}'),
    ("ecirc", '\u{EA}'),
    ("euml", '\u{EB}'),
    ("igrave", '\u{EC}'),
    ("iacute", '\u{ED}'),
    ("icirc", '\u{EE}'),
    ("iuml", '\u{EF}'),
    ("eth", '\u{F0}'),
    ("ntilde", '\u{F1}'),
    ("ograve", '\u{F2}'),
    ("oacute", '\u{F3}'),
    ("ocirc", '\u{F4}'),
    ("otilde", '\u{F5}'),
    ("ouml", '\u{F6}'),
    ("divide", '\u{F7}'),
    ("oslash", '\u{F8}'),
    ("ugrave", '\u{F9}'),
    ("uacute", '\u{FA}'),
    ("ucirc", '\u{FB}'),
    ("uuml", '\u{FC}'),
    ("yacute", '\u{FD}'),
    ("thorn", '\u{FE}'),
    ("yuml", '\u{FF}'),
    ("ndash", '\u{2013}'),
    ("mdash", '\u{2014}'),
    ("lsquo", '\u{2018}'),
    ("rsquo", '\u{2019}'),
    ("sbquo", '\u{201A}'),
    ("ldquo", '\u{201C}'),
    ("rdquo", '\u{201D}'),
    ("bdquo", '\u{201E}'),
    ("bull", '\u{2022}'),
    ("hellip", '\u{2026}'),
    ("euro", '\u{20AC}'),
    ("trade", '\u{2122}'),
];

/// The character of an HTML named reference of [`NAMED`] (`nbsp` gives U+00A0), for XML
/// readers: a feed that writes `&nbsp;` (an HTML name XML does not define) means that
/// character, not the six letters.
pub(crate) fn named_character(name: &str) -> Option<char> {
    if name.len() > 6 {
        return None;
    }
    NAMED.iter().find(|(n, _)| *n == name).map(|&(_, c)| c)
}

/// Elements whose text the parser takes literally: no reference is rewritten inside them.
const RAW_TEXT: &[&str] = &[
    "script",
    "noscript",
    "style",
    "xmp",
    "iframe",
    "noembed",
    "noframes",
    "plaintext",
];

/// A page is rewritten only when it has at least one `&` per this many bytes (a hostile
/// page of entities has one every few bytes; 14 of the 718 evaluation pages reach this).
const DENSE_REFS: usize = 64;

/// Longest reference rewritten, `&` and `;` included (`&#x10FFFF;`, `&curren;`).
const MAX_REF: usize = 10;

/// `html` with the references described in the module's comment decoded (borrowed when there
/// are none). Linear in the size of `html`.
pub(crate) fn predecode(html: &str) -> Cow<'_, str> {
    let bytes = html.as_bytes();
    // Pages with few references (nearly all) are left to the parser, which resolves a few
    // cheaply: one counting pass, no copy.
    if memchr::memchr_iter(b'&', bytes)
        .count()
        .saturating_mul(DENSE_REFS)
        < bytes.len()
    {
        return Cow::Borrowed(html);
    }
    let mut out = String::new();
    // Bytes up to here are already in `out` (or, while nothing was rewritten, need not be).
    let mut copied = 0usize;
    let mut i = 0usize;
    while i < bytes.len() {
        let Some(off) = bytes
            .get(i..)
            .and_then(|rest| memchr::memchr2(b'&', b'<', rest))
        else {
            break;
        };
        i += off;
        if bytes.get(i) == Some(&b'<') {
            i = skip_literal_region(bytes, i);
            continue;
        }
        let Some((decoded, len)) = reference_at(bytes, i) else {
            i += 1;
            continue;
        };
        if out.capacity() == 0 {
            out.reserve(html.len());
        }
        out.push_str(html.get(copied..i).unwrap_or_default());
        out.push(decoded);
        i += len;
        copied = i;
    }
    if copied == 0 {
        return Cow::Borrowed(html);
    }
    out.push_str(html.get(copied..).unwrap_or_default());
    Cow::Owned(out)
}

/// At `<` (position `at`): past a comment or a raw-text element's content when one starts
/// here, else just past the `<`.
fn skip_literal_region(bytes: &[u8], at: usize) -> usize {
    let rest = bytes.get(at..).unwrap_or_default();
    if rest.starts_with(b"<!--") {
        return find(bytes, at + 4, b"-->").map_or(bytes.len(), |end| end + 3);
    }
    // Every raw-text element's name starts with one of these letters.
    if !rest
        .get(1)
        .is_some_and(|b| matches!(b.to_ascii_lowercase(), b's' | b'n' | b'x' | b'i' | b'p'))
    {
        return at + 1;
    }
    for name in RAW_TEXT {
        let n = name.len();
        let opens = rest
            .get(1..=n)
            .is_some_and(|t| t.eq_ignore_ascii_case(name.as_bytes()))
            && rest
                .get(n + 1)
                .is_some_and(|&b| b == b'>' || b == b'/' || b.is_ascii_whitespace());
        if !opens {
            continue;
        }
        if *name == "plaintext" {
            return bytes.len();
        }
        // To the matching end tag, `</name` followed by whitespace, `/` or `>`.
        let mut from = at + n + 1;
        while let Some(end) = find(bytes, from, b"</") {
            let closes = bytes
                .get(end + 2..end + 2 + n)
                .is_some_and(|t| t.eq_ignore_ascii_case(name.as_bytes()))
                && bytes
                    .get(end + 2 + n)
                    .is_none_or(|&b| b == b'>' || b == b'/' || b.is_ascii_whitespace());
            if closes {
                return end + 2 + n;
            }
            from = end + 2;
        }
        return bytes.len();
    }
    at + 1
}

/// The first position at or after `from` where `needle` starts.
fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let hay = bytes.get(from..)?;
    memchr::memmem::find(hay, needle).map(|p| p + from)
}

/// The reference starting at `at` (an `&`) when it is one [`predecode`] rewrites: its
/// character and its length in bytes.
fn reference_at(bytes: &[u8], at: usize) -> Option<(char, usize)> {
    let window = bytes.get(at..bytes.len().min(at + MAX_REF))?;
    let semi = window.iter().position(|&b| b == b';')?;
    let name = window.get(1..semi)?;
    let len = semi + 1;
    if name == b"amp" {
        let next = bytes.get(at + len).copied();
        return next
            .is_some_and(|b| b.is_ascii_whitespace() || b == b'<' || b == b'&')
            .then_some(('&', len));
    }
    let ch = if let Some(num) = name.strip_prefix(b"#") {
        let (digits, radix) = match num.first() {
            Some(b'x' | b'X') => (num.get(1..)?, 16),
            _ => (num, 10),
        };
        let digit = |b: &u8| {
            if radix == 16 {
                b.is_ascii_hexdigit()
            } else {
                b.is_ascii_digit()
            }
        };
        if digits.is_empty() || !digits.iter().all(digit) {
            return None;
        }
        let text = std::str::from_utf8(digits).ok()?;
        char::from_u32(u32::from_str_radix(text, radix).ok()?)?
    } else {
        let text = std::str::from_utf8(name).ok()?;
        NAMED.iter().find(|(n, _)| *n == text).map(|&(_, c)| c)?
    };
    plain_non_ascii(ch).then_some((ch, len))
}

/// A character the parser would emit as is for its reference, and which cannot start markup
/// or a reference: U+00A0 and above, not a noncharacter (surrogates are not `char`s).
fn plain_non_ascii(ch: char) -> bool {
    let c = u32::from(ch);
    c >= 0xA0 && !(0xFDD0..=0xFDEF).contains(&c) && (c & 0xFFFE) != 0xFFFE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(html: &str) -> String {
        scraper::Html::parse_document(html)
            .root_element()
            .text()
            .collect()
    }

    #[test]
    fn decoded_references_parse_to_the_same_text() {
        for html in [
            "<p>caf&eacute; &#233;t&#xE9; &amp; co &amp;&eacute;&#233; 5&nbsp;&euro;</p>",
            "<p>&amp;amp; &amp;eacute; &amp;&#65;uml; &notin; &eacutex; &#0; &#x110000; &#128;</p>",
            "<p title=\"a&eacute;&amp; b\">x&mdash;y &#xFFFE; &#55296;</p>",
            "<script>var s = '&eacute; &amp; ';</script><p>&eacute;</p>",
            "<!-- &eacute; --><style>a:after{content:'&eacute;'}</style><p>&hellip;</p>",
            "<p>&ETH;&eth;&THORN;&szlig; &AMP; &Eacute &eacute &#+233; &#x+E9;</p>",
        ] {
            assert_eq!(text_of(&predecode(html)), text_of(html), "{html}");
        }
    }

    #[test]
    fn what_the_parser_reads_literally_is_not_rewritten() {
        let html = "<script type=\"application/ld+json\">{\"a\": \"caf&eacute;\"}</script>\
                    <SCRIPT>x = '&eacute;'</SCRIPT ><!-- &eacute; --><p>&eacute;</p>";
        let out = predecode(html);
        assert_eq!(out.matches("&eacute;").count(), 3, "{out}");
        assert!(out.ends_with("<p>é</p>"), "{out}");
        assert!(matches!(
            predecode("<p>plain & simple</p>"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn an_unclosed_script_or_comment_ends_the_rewriting() {
        assert_eq!(predecode("<script>&eacute;"), "<script>&eacute;");
        assert_eq!(predecode("<!-- &eacute;"), "<!-- &eacute;");
        assert_eq!(
            predecode("&eacute;<plaintext>&eacute;"),
            "é<plaintext>&eacute;"
        );
    }
}
