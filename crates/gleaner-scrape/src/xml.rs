//! A minimal XML element tree over `quick-xml`, for feeds and sitemaps: local names,
//! attributes by local name, concatenated text. Lenient: mismatched end tags are accepted and
//! a truncated document is closed where it stops.

use quick_xml::events::Event;

use crate::ScrapeError;

/// A minimal XML element tree: local names, attributes by local name, concatenated text.
#[derive(Debug, Default)]
pub(crate) struct XmlNode {
    pub(crate) name: String,
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) children: Vec<XmlNode>,
    pub(crate) text: String,
}

impl XmlNode {
    pub(crate) fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub(crate) fn child(&self, name: &str) -> Option<&XmlNode> {
        self.children.iter().find(|c| c.name == name)
    }
    pub(crate) fn children_named<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a XmlNode> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
    pub(crate) fn child_text(&self, name: &str) -> Option<String> {
        self.child(name)
            .map(|c| c.text.trim().to_string())
            .filter(|t| !t.is_empty())
    }
}

fn local(qname: &str) -> &str {
    qname.rsplit(':').next().unwrap_or(qname)
}

fn predefined_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "quot" => "\"",
        "apos" => "'",
        _ => return None,
    })
}

fn element(e: &quick_xml::events::BytesStart<'_>) -> XmlNode {
    let name = local(e.name().as_ref()).to_string();
    let attrs = e
        .attributes()
        .flatten()
        .map(|a| {
            let key = local(a.key.as_ref()).to_string();
            let value = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| a.value.clone().into_owned());
            (key, value)
        })
        .collect();
    XmlNode {
        name,
        attrs,
        ..XmlNode::default()
    }
}

/// Elements nested deeper than this are not kept as elements: their text joins the element
/// at the cap. Feeds and sitemaps nest a few levels (XHTML content some tens); a hostile
/// document of 50,000 nested elements used to build a tree whose recursive drop overflowed
/// the stack.
pub(crate) const MAX_XML_DEPTH: usize = 256;

pub(crate) fn parse_xml(body: &str) -> Result<XmlNode, ScrapeError> {
    parse_xml_checked(body).map(|(root, _)| root)
}

/// [`parse_xml`], and whether the document was damaged: an end tag that does not close the
/// element open (a stray `<` in text starts an element that swallows what follows, and
/// the elements after it end up inside it, not where they belong).
pub(crate) fn parse_xml_checked(body: &str) -> Result<(XmlNode, bool), ScrapeError> {
    let mut damaged = false;
    let mut reader = quick_xml::Reader::from_str(body);
    reader.config_mut().check_end_names = false;
    let mut stack: Vec<XmlNode> = Vec::new();
    // Start tags left out at the cap whose end tags are still to come.
    let mut beyond = 0usize;
    let mut root: Option<XmlNode> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| ScrapeError::Xml(e.to_string()))?;
        match event {
            Event::Start(_) if stack.len() >= MAX_XML_DEPTH => beyond += 1,
            Event::Start(e) => stack.push(element(&e)),
            Event::Empty(_) if stack.len() >= MAX_XML_DEPTH => {}
            Event::End(_) if beyond > 0 => beyond -= 1,
            Event::Empty(e) => {
                let node = element(&e);
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = root.or(Some(node)),
                }
            }
            Event::End(e) => {
                damaged |= stack
                    .last()
                    .is_some_and(|top| top.name != local(e.name().as_ref()));
                if let Some(node) = stack.pop() {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => {
                            root = Some(node);
                            break;
                        }
                    }
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    match r.resolve_char_ref() {
                        Ok(Some(ch)) => top.text.push(ch),
                        _ => {
                            if let Some(s) = predefined_entity(&r) {
                                top.text.push_str(s);
                            } else if let Some(ch) = crate::entities::named_character(&r) {
                                // An HTML name (`&nbsp;`, `&eacute;`, `&rsquo;`) that XML
                                // does not define: careless feeds write them in titles,
                                // which were stored as "&nbsp;".
                                top.text.push(ch);
                            } else {
                                top.text.push('&');
                                top.text.push_str(&r);
                                top.text.push(';');
                            }
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    // A truncated document: close what is open (and say it was damaged: its last text may
    // be cut short, a URL among it).
    damaged |= !stack.is_empty();
    while let Some(node) = stack.pop() {
        match stack.last_mut() {
            Some(parent) => parent.children.push(node),
            None => root = Some(node),
        }
    }
    root.map(|r| (r, damaged))
        .ok_or_else(|| ScrapeError::NotAFeed("empty document".into()))
}

/// A feed that is not well-formed, cut into its entries, so the entries before and after the
/// damage are read (a stray `<` in one title used to cost every entry of the feed).
#[derive(Debug)]
pub(crate) struct EntryBlocks<'a> {
    /// The root element's local name (`rss`, `feed`, `RDF`, …).
    pub(crate) root: String,
    /// The text before the first entry (the feed's own title and links).
    pub(crate) header: &'a str,
    /// End tags closing what `header` leaves open; `None` when the header is itself damaged.
    pub(crate) header_close: Option<String>,
    /// The root element's start tag (its namespace declarations), plus `<channel>` for RSS:
    /// what one entry is wrapped in to be read alone.
    pub(crate) wrap_open: String,
    /// The end tags matching `wrap_open`.
    pub(crate) wrap_close: String,
    /// Each entry's text, from its start tag to its last end tag (to the next entry's start
    /// when it has none).
    pub(crate) entries: Vec<&'a str>,
}

/// Root start tags longer than this are not copied around each entry.
const MAX_ROOT_TAG_BYTES: usize = 8 * 1024;

/// Where the start tags `<name>` / `<name …>` begin in `text` (not `<names…>`).
fn start_tags(text: &str, name: &str) -> Vec<usize> {
    let open = format!("<{name}");
    text.match_indices(&open)
        .map(|(at, _)| at)
        .filter(|at| {
            matches!(
                text.as_bytes().get(at + open.len()),
                Some(b'>' | b' ' | b'\t' | b'\r' | b'\n' | b'/')
            )
        })
        .collect()
}

/// Cuts a feed (RSS `<item>`s or Atom `<entry>`s, whichever comes first) into its entries.
/// `None` when it has no root element or no entries. Linear in the text.
pub(crate) fn entry_blocks(text: &str) -> Option<EntryBlocks<'_>> {
    let items = start_tags(text, "item");
    let entries = start_tags(text, "entry");
    let (starts, close) = match (items.first(), entries.first()) {
        (Some(i), Some(e)) if e < i => (entries, "</entry>"),
        (Some(_), _) => (items, "</item>"),
        (None, Some(_)) => (entries, "</entry>"),
        (None, None) => return None,
    };
    let first = *starts.first()?;
    let header = text.get(..first)?;
    // The root element: the first `<` followed by a letter (after the prolog, comments and
    // a doctype, which start with `<?` and `<!`).
    let root_at = header
        .char_indices()
        .find(|(i, c)| {
            *c == '<'
                && header
                    .as_bytes()
                    .get(i + 1)
                    .is_some_and(|b| b.is_ascii_alphabetic())
        })
        .map(|(i, _)| i)?;
    let root_len = header.get(root_at..)?.find('>')? + 1;
    if root_len > MAX_ROOT_TAG_BYTES {
        return None;
    }
    let root_tag = header.get(root_at..root_at + root_len)?;
    let root_name: String = root_tag
        .chars()
        .skip(1)
        .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
        .collect();
    let (wrap_open, wrap_close) = if local(&root_name) == "rss" {
        (
            format!("{root_tag}<channel>"),
            format!("</channel></{root_name}>"),
        )
    } else {
        (root_tag.to_string(), format!("</{root_name}>"))
    };
    let mut blocks = Vec::with_capacity(starts.len());
    for (n, start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(text.len());
        let block = text.get(*start..end).unwrap_or("");
        let block = match block.rfind(close) {
            Some(at) => block.get(..at + close.len()).unwrap_or(block),
            None => block,
        };
        blocks.push(block);
    }
    Some(EntryBlocks {
        root: local(&root_name).to_string(),
        header,
        header_close: open_elements(header)
            .map(|open| open.iter().rev().map(|name| format!("</{name}>")).collect()),
        wrap_open,
        wrap_close,
        entries: blocks,
    })
}

/// The qualified names of the elements `text` leaves open, outermost first; `None` when it
/// is not well-formed as far as it goes.
fn open_elements(text: &str) -> Option<Vec<String>> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack = Vec::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                stack.push(e.name().as_ref().to_string());
            }
            Event::End(e) => {
                let closed = stack.pop();
                if closed.as_deref() != Some(e.name().as_ref()) {
                    return None;
                }
            }
            Event::Eof => return Some(stack),
            _ => {}
        }
    }
}

/// An XML document with the two faults careless feeds and sitemaps most often have made
/// good, so one bad character does not cost the whole document: a bare `&` (an unescaped
/// query string, "Q&A") becomes `&amp;`, and characters XML 1.0 does not allow (C0 controls
/// other than tab, line feed and carriage return) are dropped. Entity and character
/// references are kept as they are. One pass; borrowed when there is nothing to repair.
pub(crate) fn repair_xml(text: &str) -> std::borrow::Cow<'_, str> {
    let bad_char = |c: char| c < ' ' && !matches!(c, '\t' | '\n' | '\r');
    let needs = text.char_indices().any(|(i, c)| {
        bad_char(c) || (c == '&' && !starts_reference(text.get(i + 1..).unwrap_or("")))
    });
    if !needs {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 64);
    for (i, c) in text.char_indices() {
        if bad_char(c) {
            continue;
        }
        if c == '&' && !starts_reference(text.get(i + 1..).unwrap_or("")) {
            out.push_str("&amp;");
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// An XML document with HTML's names for characters that XML does not define (`&nbsp;`,
/// `&eacute;`, `&rsquo;`: a CMS that escapes titles for HTML) written as the numeric
/// references XML reads (`&#160;`), so a feed parser gives the character, not the letters
/// of its name. Names XML defines (`&amp;`, `&lt;`, …) and unknown ones are left as they
/// are. One pass; borrowed when there is nothing to rewrite.
pub(crate) fn html_names_as_numeric(text: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let named_at = |at: usize| -> Option<(char, usize)> {
        let window = text.get(at + 1..text.len().min(at + 9))?;
        let semi = window.iter().position(|&b| b == b';')?;
        let name = std::str::from_utf8(window.get(..semi)?).ok()?;
        if predefined_entity(name).is_some() || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        crate::entities::named_character(name).map(|ch| (ch, semi + 2))
    };
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    for at in memchr::memchr_iter(b'&', text) {
        if at < copied {
            continue;
        }
        let Some((ch, len)) = named_at(at) else {
            continue;
        };
        let out = out.get_or_insert_with(|| Vec::with_capacity(text.len() + 64));
        out.extend_from_slice(&text[copied..at]);
        out.extend_from_slice(format!("&#{};", u32::from(ch)).as_bytes());
        copied = at + len;
    }
    match out {
        None => text.into(),
        Some(mut out) => {
            out.extend_from_slice(&text[copied..]);
            out.into()
        }
    }
}

/// Whether `rest` (what follows a `&`) is a reference: `name;`, `#digits;` or `#xhex;`
/// (names at most 32 characters, so the look-ahead is bounded).
fn starts_reference(rest: &str) -> bool {
    let bytes = rest.as_bytes();
    let body_ok: fn(u8) -> bool;
    let start = match bytes {
        [b'#', b'x' | b'X', ..] => {
            body_ok = |b| b.is_ascii_hexdigit();
            2
        }
        [b'#', ..] => {
            body_ok = |b| b.is_ascii_digit();
            1
        }
        [first, ..] if first.is_ascii_alphabetic() || *first == b'_' => {
            body_ok = |b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
            0
        }
        _ => return false,
    };
    let limit = bytes.len().min(start + 33);
    let mut i = start;
    while i < limit && body_ok(bytes[i]) {
        i += 1;
    }
    i > start && bytes.get(i) == Some(&b';')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_ampersands_and_control_characters_are_repaired() {
        assert!(matches!(
            repair_xml("<a>x &amp; y &#38; &#x26; &lt;</a>"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(
            repair_xml("<loc>https://e.com/?a=1&b=2</loc><t>Q&A &\u{1}x &#;</t>"),
            "<loc>https://e.com/?a=1&amp;b=2</loc><t>Q&amp;A &amp;x &amp;#;</t>"
        );
    }

    #[test]
    fn html_named_references_are_their_characters() {
        let root =
            parse_xml("<t>Fares&nbsp;rise &eacute;t&eacute; &rsquo;&amp;&lt; &bogus;</t>").unwrap();
        assert_eq!(
            root.text,
            "Fares\u{a0}rise \u{e9}t\u{e9} \u{2019}&< &bogus;"
        );
    }

    #[test]
    fn html_names_become_numeric_references() {
        assert!(matches!(
            html_names_as_numeric(b"<t>a &amp; b &lt; &#160; &bogus; &</t>"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(
            &*html_names_as_numeric(b"<t>Caf&eacute;&nbsp;&rsquo;&amp;</t>"),
            b"<t>Caf&#233;&#160;&#8217;&amp;</t>"
        );
    }

    #[test]
    fn a_stray_less_than_sign_is_reported_as_damage() {
        let (_, damaged) = parse_xml_checked("<urlset><url><loc>a</loc></url></urlset>").unwrap();
        assert!(!damaged);
        let (_, damaged) = parse_xml_checked(
            "<urlset><url><lastmod>1 < 2</lastmod></url><url><loc>b</loc></url></urlset>",
        )
        .unwrap();
        assert!(damaged);
    }

    #[test]
    fn deeply_nested_xml_is_capped_not_a_stack_overflow() {
        // 200,000 nested elements (1.4 MB): the tree used to be this deep and its drop
        // recursed once per level.
        let n = 200_000;
        let xml = format!(
            "<urlset>{}<loc>https://e.com/deep</loc>{}<url><loc>https://e.com/a</loc></url></urlset>",
            "<x>".repeat(n),
            "</x>".repeat(n)
        );
        let root = parse_xml(&xml).unwrap();
        let mut depth = 0;
        let mut node = &root;
        while let Some(c) = node.children.first() {
            depth += 1;
            node = c;
        }
        assert!(depth <= MAX_XML_DEPTH, "depth {depth}");
        assert!(node.text.contains("https://e.com/deep"));
        // The elements after the deep run are still read, at their own level.
        let urls: Vec<_> = root.children_named("url").collect();
        assert_eq!(urls.len(), 1);
        assert_eq!(
            urls[0].child_text("loc").as_deref(),
            Some("https://e.com/a")
        );
    }
}
