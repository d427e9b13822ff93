//! Text statistics of every element of a document, computed in one walk.
//!
//! Content scoring asks the same questions of many nested elements: how long is its text
//! (whitespace collapsed), how much of it sits in links, how many commas, is it inside a
//! `nav`/`footer`/…? Answering each by walking the element's subtree made the scoring pass
//! quadratic in the nesting depth. [`DocStats::of`] walks the tree once, bottom-up, and keeps
//! the answers per element. Text means what [`crate::dom::text_of`] reads: scripts, styles,
//! `<noscript>` and templates count for nothing (their text is not the page's, and a big
//! JSON blob in a script used to dilute a container's link density).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use ego_tree::NodeId;
use ego_tree::iter::Edge;
use scraper::{ElementRef, Node};

/// What whitespace collapsing ([`crate::dom::collapse_ws`]) would make of a run of text,
/// without building the string: the collapsed length is `chars + gaps`. Two summaries of
/// adjacent texts combine with [`Collapsed::then`], so a parent's summary is its children's
/// in order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Collapsed {
    /// Characters that are not whitespace.
    chars: usize,
    /// Whitespace runs between two such characters (each becomes one space).
    gaps: usize,
    /// Starts (or, with no other characters, consists) with whitespace.
    lead_ws: bool,
    /// Ends with whitespace.
    trail_ws: bool,
}

fn collapsible_ws(ch: char) -> bool {
    ch.is_whitespace() || ch == '\u{200b}' || ch == '\u{feff}'
}

impl Collapsed {
    #[cfg(test)]
    pub(crate) fn of(text: &str) -> Self {
        TextNumbers::of(text).collapsed
    }

    /// This text followed by `next`.
    pub(crate) fn then(self, next: Collapsed) -> Collapsed {
        if self.chars == 0 {
            return Collapsed {
                chars: next.chars,
                gaps: next.gaps,
                lead_ws: self.lead_ws || next.lead_ws,
                trail_ws: if next.chars == 0 {
                    self.trail_ws || next.trail_ws
                } else {
                    next.trail_ws
                },
            };
        }
        if next.chars == 0 {
            return Collapsed {
                trail_ws: self.trail_ws || next.lead_ws,
                ..self
            };
        }
        Collapsed {
            chars: self.chars + next.chars,
            gaps: self.gaps + next.gaps + usize::from(self.trail_ws || next.lead_ws),
            lead_ws: self.lead_ws,
            trail_ws: next.trail_ws,
        }
    }

    /// Length in chars of the collapsed text.
    pub(crate) fn len(self) -> usize {
        self.chars + self.gaps
    }
}

/// The numbers of one text node, from one pass over it.
struct TextNumbers {
    collapsed: Collapsed,
    /// Chars of `text.trim()`.
    trimmed: usize,
    /// `,` `，` `、` `،`.
    commas: usize,
}

impl TextNumbers {
    fn of(text: &str) -> Self {
        if text.is_ascii() {
            Self::of_ascii(text.as_bytes())
        } else {
            Self::of_chars(text)
        }
    }

    /// ASCII only: whitespace is `\t`..`\r` and space for both collapsing and trimming.
    /// Written as whole-slice counts, which the compiler vectorises (pages carry long
    /// scripts and JSON blobs whose text counts too).
    fn of_ascii(bytes: &[u8]) -> Self {
        fn ws(b: u8) -> bool {
            matches!(b, 9..=13 | b' ')
        }
        let chars = bytes.iter().filter(|&&b| !ws(b)).count();
        let lead_ws = bytes.first().is_some_and(|&b| ws(b));
        if chars == 0 {
            return TextNumbers {
                collapsed: Collapsed {
                    lead_ws,
                    trail_ws: lead_ws,
                    ..Collapsed::default()
                },
                trimmed: 0,
                commas: 0,
            };
        }
        // Runs of non-whitespace: one per whitespace→non-whitespace step, plus the first if
        // the text starts with one.
        let runs = usize::from(!lead_ws)
            + bytes
                .iter()
                .zip(bytes.iter().skip(1))
                .filter(|&(&a, &b)| ws(a) & !ws(b))
                .count();
        let first = bytes.iter().position(|&b| !ws(b)).unwrap_or(0);
        let last = bytes.iter().rposition(|&b| !ws(b)).unwrap_or(first);
        TextNumbers {
            collapsed: Collapsed {
                chars,
                gaps: runs.saturating_sub(1),
                lead_ws,
                trail_ws: bytes.last().is_some_and(|&b| ws(b)),
            },
            trimmed: last + 1 - first.min(last),
            commas: bytes.iter().filter(|&&b| b == b',').count(),
        }
    }

    fn of_chars(text: &str) -> Self {
        let mut c = Collapsed::default();
        let (mut pending, mut commas) = (false, 0);
        // Trimming uses `char::is_whitespace` only (not U+200B / U+FEFF): count the chars
        // from the first to the last that are not such whitespace.
        let (mut seen, mut trimmed, mut since_last) = (false, 0usize, 0usize);
        for ch in text.chars() {
            if ch.is_whitespace() {
                since_last += 1;
            } else {
                if seen {
                    trimmed += since_last;
                }
                seen = true;
                trimmed += 1;
                since_last = 0;
            }
            if collapsible_ws(ch) {
                if c.chars == 0 {
                    c.lead_ws = true;
                }
                pending = true;
            } else {
                if pending && c.chars > 0 {
                    c.gaps += 1;
                }
                pending = false;
                c.chars += 1;
                commas += usize::from(matches!(ch, ',' | '，' | '、' | '،'));
            }
        }
        c.trail_ws = pending;
        TextNumbers {
            collapsed: c,
            trimmed,
            commas,
        }
    }
}

/// The numbers kept per element.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NodeStats {
    /// Text below the element outside `script`/`style`/`noscript`/`template` (as `text_of`).
    visible: Collapsed,
    /// Commas (`,` `，` `、` `،`) in the visible text.
    pub(crate) commas: usize,
    /// Sum of the collapsed lengths of the `<a>` elements below (not counting the element).
    linked: usize,
    /// Sum over visible text nodes below of their trimmed length in chars.
    pub(crate) trimmed_len: usize,
    /// Has an ancestor `nav`, `footer`, `aside`, `header`, `script`, `style`, `noscript` or
    /// `template`.
    pub(crate) in_excluded_region: bool,
}

impl NodeStats {
    /// Length of the visible collapsed text (`text_of(el).chars().count()`).
    pub(crate) fn visible_len(&self) -> usize {
        self.visible.len()
    }

    /// Characters of visible text inside links divided by all characters of visible text,
    /// at most 1.
    pub(crate) fn link_density(&self) -> f64 {
        let total = self.visible.len();
        if total == 0 {
            return 0.0;
        }
        (self.linked as f64 / total as f64).min(1.0)
    }
}

/// A hasher for node ids (small integers): no need for SipHash's DoS resistance here, the
/// ids are assigned by the parser in document order.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

pub(crate) type IdMap<V> = HashMap<NodeId, V, BuildHasherDefault<IdHasher>>;

/// [`NodeStats`] of every element under a root.
#[derive(Debug, Default)]
pub(crate) struct DocStats {
    map: IdMap<NodeStats>,
}

fn excluding(name: &str) -> bool {
    matches!(
        name,
        "nav" | "footer" | "aside" | "header" | "script" | "style" | "noscript" | "template"
    )
}

fn hiding(name: &str) -> bool {
    matches!(name, "script" | "style" | "noscript" | "template")
}

impl DocStats {
    /// Walk the subtree of `root` once (no recursion) and keep every element's numbers.
    pub(crate) fn of(root: ElementRef<'_>) -> Self {
        let mut map = IdMap::default();
        // One accumulator per open element; the counters say how many open elements hide
        // text or exclude a region.
        let mut stack: Vec<NodeStats> = Vec::new();
        let (mut hidden, mut excluded) = (0usize, 0usize);
        for edge in root.traverse() {
            match edge {
                Edge::Open(node) => match node.value() {
                    Node::Text(t) => {
                        // Text in scripts, styles, `<noscript>` and templates is not read.
                        if let Some(top) = stack.last_mut()
                            && hidden == 0
                        {
                            let n = TextNumbers::of(t);
                            top.visible = top.visible.then(n.collapsed);
                            top.commas += n.commas;
                            top.trimmed_len += n.trimmed;
                        }
                    }
                    Node::Element(e) => {
                        stack.push(NodeStats {
                            in_excluded_region: excluded > 0,
                            ..NodeStats::default()
                        });
                        if hiding(e.name()) {
                            hidden += 1;
                        }
                        if excluding(e.name()) {
                            excluded += 1;
                        }
                    }
                    _ => {}
                },
                Edge::Close(node) => {
                    let Node::Element(e) = node.value() else {
                        continue;
                    };
                    if hiding(e.name()) {
                        hidden = hidden.saturating_sub(1);
                    }
                    if excluding(e.name()) {
                        excluded = excluded.saturating_sub(1);
                    }
                    let Some(done) = stack.pop() else {
                        continue;
                    };
                    map.insert(node.id(), done);
                    if let Some(parent) = stack.last_mut() {
                        parent.visible = parent.visible.then(done.visible);
                        parent.commas += done.commas;
                        parent.trimmed_len += done.trimmed_len;
                        parent.linked += done.linked;
                        if e.name() == "a" {
                            parent.linked += done.visible.len();
                        }
                    }
                }
            }
        }
        DocStats { map }
    }

    /// The numbers of the `<body>` subtree (where content scoring looks), or of the whole
    /// document when it has no body element.
    pub(crate) fn of_body(doc: &scraper::Html) -> Self {
        let root = doc.root_element();
        let body = root
            .children()
            .filter_map(ElementRef::wrap)
            .find(|e| e.value().name() == "body");
        Self::of(body.unwrap_or(root))
    }

    pub(crate) fn get(&self, el: ElementRef<'_>) -> Option<&NodeStats> {
        self.map.get(&el.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dom::{collapse_ws, text_of};
    use scraper::Html;

    #[test]
    fn collapsed_matches_collapse_ws_on_pieces() {
        let pieces = [
            "",
            " ",
            "a",
            " a",
            "a ",
            " a b ",
            "\u{a0}x\u{200b}y",
            "\n\n",
            "é ü",
            "x",
            "  ",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let joined = format!("{a}{b}{c}");
                    let sum = Collapsed::of(a)
                        .then(Collapsed::of(b))
                        .then(Collapsed::of(c));
                    assert_eq!(
                        sum.len(),
                        collapse_ws(&joined).chars().count(),
                        "{joined:?}"
                    );
                    let sum2 = Collapsed::of(a).then(Collapsed::of(b).then(Collapsed::of(c)));
                    assert_eq!(sum, sum2, "{joined:?}");
                }
            }
        }
    }

    #[test]
    fn text_numbers_match_std() {
        for t in [
            "",
            " ",
            "a, b",
            " \u{a0}é, x\u{200b} ",
            "\u{feff}a",
            "x\u{b}y",
            " ，、، ",
            "\t\n a \r",
            "\u{200b}",
        ] {
            let n = TextNumbers::of(t);
            assert_eq!(n.trimmed, t.trim().chars().count(), "{t:?}");
            assert_eq!(n.commas, t.matches([',', '，', '、', '،']).count(), "{t:?}");
            assert_eq!(n.collapsed.len(), collapse_ws(t).chars().count(), "{t:?}");
        }
    }

    #[test]
    fn element_numbers_match_the_direct_computation() {
        let html = "<html><body><div id=a> Some <b>bold</b>, text <a href=x>link <i>it</i></a>\
            <script>var x = 1, y;</script><nav><p>in, nav</p></nav><style>a{}</style>\
            <div><a>two</a> <a> three </a>  tail,</div></div></body></html>";
        let doc = Html::parse_document(html);
        let stats = DocStats::of(doc.root_element());
        for el in doc
            .root_element()
            .descendants()
            .filter_map(ElementRef::wrap)
        {
            let s = stats.get(el).unwrap();
            if hiding(el.value().name()) {
                // A script's own text is not read either.
                assert_eq!(s.visible_len(), 0);
                continue;
            }
            let text = text_of(el);
            assert_eq!(s.visible_len(), text.chars().count(), "{:?}", el.value());
            assert_eq!(s.commas, text.matches(',').count());
            let linked: usize = el
                .select(crate::dom::selector!("a"))
                .map(|a| text_of(a).chars().count())
                .sum();
            let total = text.chars().count();
            let direct = if total == 0 {
                0.0
            } else {
                (linked as f64 / total as f64).min(1.0)
            };
            assert!(
                (s.link_density() - direct).abs() < 1e-12,
                "{:?}",
                el.value()
            );
        }
        let div = doc.select(crate::dom::selector!("#a")).next().unwrap();
        // Visible text nodes, each trimmed ("Some", "bold", ", text", "link", "it",
        // "in, nav", "two", "three", "tail,"): no script or style text.
        assert_eq!(stats.get(div).unwrap().trimmed_len, 40);
        let p = doc.select(crate::dom::selector!("nav p")).next().unwrap();
        assert!(stats.get(p).unwrap().in_excluded_region);
    }
}
