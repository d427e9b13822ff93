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
                        _ => match predefined_entity(&r) {
                            Some(s) => top.text.push_str(s),
                            None => {
                                top.text.push('&');
                                top.text.push_str(&r);
                                top.text.push(';');
                            }
                        },
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
