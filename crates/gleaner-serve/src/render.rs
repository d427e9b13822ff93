//! Pieces of pages built from untrusted text: the article body with its mentions, search
//! snippets, the month chart, links. Every string from the database reaches the page through
//! maud's escaping (text and attribute values alike); the only markup is the one written here.

use gleaner_model::{Entity, EntityKind};
use maud::{Markup, html};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but RFC 3986's unreserved characters is encoded in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `/entities/{kind}/{name}`, the name percent-encoded (a `/`, `?` or `#` in it stays in the
/// segment).
pub fn entity_href(kind: EntityKind, name: &str) -> String {
    format!(
        "/entities/{}/{}",
        kind.as_str(),
        utf8_percent_encode(name, SEGMENT)
    )
}

/// The article URL if it may be a link: an absolute `http` or `https` URL. Anything else
/// (`javascript:`, `data:`, relative, unparsable) is shown as text only.
pub fn safe_link(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.to_string())
}

/// A search snippet: FTS5 marks matched words with `[` and `]`; they become `<mark>`. Text
/// between is escaped; a stray bracket in the article text is harmless (a mark at worst).
pub fn snippet(text: &str) -> Markup {
    let mut parts: Vec<(bool, &str)> = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open + 1..].find(']') else {
            break;
        };
        parts.push((false, &rest[..open]));
        parts.push((true, &rest[open + 1..open + 1 + close]));
        rest = &rest[open + 1 + close + 1..];
    }
    parts.push((false, rest));
    html! {
        @for (marked, part) in parts {
            @if marked { mark { (part) } } @else { (part) }
        }
    }
}

/// The body as paragraphs (split on blank lines), each entity mention a link to its entity
/// page with its kind as a class. Mentions are placed by their character offsets; one that
/// overlaps an earlier one, or falls outside the body, is left as plain text.
pub fn body_with_mentions(body: &str, entities: &[Entity]) -> Markup {
    // Byte offset of every char boundary, so character offsets map to slices.
    let bounds: Vec<usize> = body
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(body.len()))
        .collect();
    let mut segments: Vec<Segment<'_>> = Vec::new();
    let mut cursor = 0usize; // in chars
    let mut sorted: Vec<&Entity> = entities.iter().collect();
    sorted.sort_by_key(|e| (e.start, std::cmp::Reverse(e.end)));
    for e in sorted {
        if e.start < cursor || e.end <= e.start {
            continue;
        }
        let (Some(&from), Some(&to), Some(&at)) =
            (bounds.get(e.start), bounds.get(e.end), bounds.get(cursor))
        else {
            continue;
        };
        segments.push(Segment::Text(&body[at..from]));
        segments.push(Segment::Mention(e, &body[from..to]));
        cursor = e.end;
    }
    if let Some(&at) = bounds.get(cursor) {
        segments.push(Segment::Text(&body[at..]));
    }
    // Paragraphs: a text segment's blank lines close one and open the next.
    let mut paragraphs: Vec<Vec<Segment<'_>>> = vec![Vec::new()];
    for segment in segments {
        match segment {
            Segment::Text(text) => {
                let mut pieces = text.split("\n\n");
                if let Some(first) = pieces.next() {
                    push_text(&mut paragraphs, first);
                }
                for piece in pieces {
                    paragraphs.push(Vec::new());
                    push_text(&mut paragraphs, piece);
                }
            }
            mention => {
                if let Some(p) = paragraphs.last_mut() {
                    p.push(mention);
                }
            }
        }
    }
    html! {
        @for paragraph in paragraphs.iter().filter(|p| !p.is_empty()) {
            p {
                @for segment in paragraph {
                    @match segment {
                        Segment::Text(t) => (t),
                        Segment::Mention(e, text) => {
                            a class={ "ent ent-" (e.kind.as_str()) }
                              href=(entity_href(e.kind, &e.name))
                              title={ (e.kind.as_str()) ": " (e.name) } { (text) }
                        }
                    }
                }
            }
        }
    }
}

enum Segment<'a> {
    Text(&'a str),
    Mention(&'a Entity, &'a str),
}

fn push_text<'a>(paragraphs: &mut [Vec<Segment<'a>>], text: &'a str) {
    let text = text.trim_matches('\n');
    if let (false, Some(p)) = (text.is_empty(), paragraphs.last_mut()) {
        p.push(Segment::Text(text));
    }
}

/// Months between the first and the last, gaps filled with zero ("YYYY-MM" keys).
pub fn fill_months(months: &[(String, u64)]) -> Vec<(String, u64)> {
    let parse = |m: &str| -> Option<(i32, u32)> {
        let (y, mo) = m.split_once('-')?;
        let (y, mo) = (y.parse().ok()?, mo.parse().ok()?);
        (1..=12).contains(&mo).then_some((y, mo))
    };
    let known: Vec<((i32, u32), u64)> = months
        .iter()
        .filter_map(|(m, n)| parse(m).map(|k| (k, *n)))
        .collect();
    let (Some(first), Some(last)) = (known.first(), known.last()) else {
        return Vec::new();
    };
    let (mut y, mut m) = first.0;
    let mut out = Vec::new();
    // At most 100 years of months: a stray date in year 1 does not make a million bars.
    while (y, m) <= last.0 && out.len() < 1200 {
        let n = known
            .iter()
            .find(|(k, _)| *k == (y, m))
            .map_or(0, |(_, n)| *n);
        out.push((format!("{y:04}-{m:02}"), n));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    out
}

/// Bars (articles per month, or per year when there are more than 60 months) as inline
/// SVG, drawn here: no script, no external image.
pub fn month_chart(months: &[(String, u64)]) -> Markup {
    let filled = fill_months(months);
    let bars: Vec<(String, u64)> = if filled.len() > 60 {
        let mut years: Vec<(String, u64)> = Vec::new();
        for (month, n) in filled {
            let year = month.get(..4).unwrap_or("").to_string();
            match years.last_mut() {
                Some((y, total)) if *y == year => *total += n,
                _ => years.push((year, n)),
            }
        }
        years
    } else {
        filled
    };
    let (width, height, left, bottom, top) = (720.0_f64, 220.0_f64, 40.0, 30.0, 10.0);
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    let plot_w = width - left - 10.0;
    let plot_h = height - bottom - top;
    // At most 48 px a bar: a few months do not stretch across the whole chart.
    let slot = (plot_w / bars.len().max(1) as f64).min(48.0);
    let label_every = (bars.len() / 12).max(1);
    html! {
        svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img"
            viewBox={ "0 0 " (width) " " (height) } width=(width) height=(height)
            aria-label="articles mentioning it per period" {
            title { "Articles mentioning it, per " (if bars.first().is_some_and(|b| b.0.len() == 4) { "year" } else { "month" }) }
            line x1=(left) y1=(top + plot_h) x2=(width - 10.0) y2=(top + plot_h) stroke="#888" {}
            text x=(left - 6.0) y=(top + 8.0) text-anchor="end" font-size="11" { (max) }
            text x=(left - 6.0) y=(top + plot_h) text-anchor="end" font-size="11" { "0" }
            @for (i, (label, n)) in bars.iter().enumerate() {
                @let h = plot_h * (*n as f64) / (max as f64);
                @let x = left + slot * i as f64;
                rect class="bar" x=(format!("{:.1}", x + slot * 0.1)) y=(format!("{:.1}", top + plot_h - h))
                     width=(format!("{:.1}", (slot * 0.8).max(1.0))) height=(format!("{:.1}", h)) fill="#3a6ea5" {
                    title { (label) ": " (n) " article" @if *n != 1 { "s" } }
                }
                @if i % label_every == 0 {
                    text x=(format!("{:.1}", x + slot / 2.0)) y=(height - 12.0) text-anchor="middle" font-size="10" { (label) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mention(kind: EntityKind, body: &str, text: &str, name: &str) -> Entity {
        let byte = body.find(text).unwrap();
        let start = body[..byte].chars().count();
        Entity {
            kind,
            text: text.into(),
            name: name.into(),
            start,
            end: start + text.chars().count(),
        }
    }

    #[test]
    fn mentions_become_links_and_text_stays_text() {
        let body = "Zoë met <b>Putin</b> in Kyiv.\n\nThen <script>alert(1)</script> Kyiv again.";
        let ents = vec![
            mention(EntityKind::Person, body, "Putin", "Vladimir Putin"),
            mention(EntityKind::Location, body, "Kyiv", "Kyiv"),
            // overlapping and out-of-range mentions are ignored
            Entity {
                kind: EntityKind::Person,
                text: "x".into(),
                name: "x".into(),
                start: 11,
                end: 13,
            },
            Entity {
                kind: EntityKind::Person,
                text: "x".into(),
                name: "x".into(),
                start: 500,
                end: 501,
            },
        ];
        let html = body_with_mentions(body, &ents).into_string();
        assert!(html.contains(
            r#"<a class="ent ent-person" href="/entities/person/Vladimir%20Putin" title="person: Vladimir Putin">Putin</a>"#
        ), "{html}");
        assert!(html.contains("&lt;b&gt;"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<script"));
        assert_eq!(html.matches("<p>").count(), 2);
        assert!(html.starts_with("<p>Zoë met &lt;b&gt;"));
    }

    #[test]
    fn hostile_names_stay_inside_their_attribute() {
        let href = entity_href(EntityKind::Person, "\"><img src=x onerror=alert(1)>/../?#");
        assert!(!href.contains(['"', '<', '>', '?', '#']));
        assert_eq!(href.matches('/').count(), 3);
    }

    #[test]
    fn only_http_urls_are_links() {
        assert!(safe_link("https://a.example/x?y=1").is_some());
        assert!(safe_link("http://a.example/").is_some());
        for bad in [
            "javascript:alert(1)",
            " JavaScript:alert(1)",
            "data:text/html,<script>",
            "/relative",
            "vbscript:x",
            "",
        ] {
            assert_eq!(safe_link(bad), None, "{bad}");
        }
    }

    #[test]
    fn snippet_marks_matches_and_escapes_the_rest() {
        let html = snippet("…the [nuclear] <img src=x> talks [").into_string();
        assert_eq!(html, "…the <mark>nuclear</mark> &lt;img src=x&gt; talks [");
    }

    #[test]
    fn months_are_filled_and_the_chart_escapes_labels() {
        let months = vec![("2023-11".into(), 2), ("2024-02".into(), 5)];
        let filled = fill_months(&months);
        assert_eq!(filled.len(), 4);
        assert_eq!(filled[1], ("2023-12".into(), 0));
        let svg = month_chart(&months).into_string();
        assert_eq!(svg.matches("<rect").count(), 4);
        let svg = month_chart(&[("<script>".into(), 1)]).into_string();
        assert!(!svg.contains("<script>"));
        let many: Vec<(String, u64)> = (2000..2010)
            .flat_map(|y| (1..=12).map(move |m| (format!("{y}-{m:02}"), 1)))
            .collect();
        assert_eq!(
            month_chart(&many).into_string().matches("<rect").count(),
            10
        );
    }
}
