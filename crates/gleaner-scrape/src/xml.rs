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
            Event::End(_) => {
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
    // A truncated document: close what is open.
    while let Some(node) = stack.pop() {
        match stack.last_mut() {
            Some(parent) => parent.children.push(node),
            None => root = Some(node),
        }
    }
    root.ok_or_else(|| ScrapeError::NotAFeed("empty document".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
