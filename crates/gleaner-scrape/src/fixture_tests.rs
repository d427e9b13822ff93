//! Tests over the hand-written fixtures in `tests/fixtures/` (realistic Blogger markup and
//! feeds, invented text).

use chrono::DateTime;
use gleaner_model::{BlockKind, Extractor};

use crate::blogger_feed::{feed_url, parse_feed};
use crate::{ScrapeError, dynamic_views_feed_url, extract};

const CLASSIC: &str = include_str!("../tests/fixtures/classic_minima_post.html");
const CONTEMPO: &str = include_str!("../tests/fixtures/contempo_post.html");
const DYNAMIC: &str = include_str!("../tests/fixtures/dynamic_views_post.html");
const ATOM_FULL: &str = include_str!("../tests/fixtures/feed_atom_full.xml");
const ATOM_SUMMARY: &str = include_str!("../tests/fixtures/feed_atom_summary.xml");
const RSS: &str = include_str!("../tests/fixtures/feed_rss.xml");
const JSON_FULL: &str = include_str!("../tests/fixtures/feed_json_full.json");
const JSON_ENTRY: &str = include_str!("../tests/fixtures/post_entry_json.json");

fn body(a: &gleaner_model::ScrapedArticle) -> String {
    a.blocks
        .iter()
        .map(|b| b.text.as_str())
        .collect::<Vec<_>>()
        .join("\n\n")
}

const BOILERPLATE: &[&str] = &[
    "Powered by",
    "Post a Comment",
    "Newer Post",
    "Older Post",
    "Subscribe to",
    "Only a member",
    "Labels",
    "Email This",
    "Popular Posts",
    "Blog Archive",
    "About Me",
    "said...",
    "Lovely trip",
    "Get link",
    "Facebook",
    "Search this blog",
    "tracking pixel",
];

#[test]
fn classic_post_fields() {
    let url =
        "https://harbourtownherald.blogspot.de/2022/01/ferry-council-votes-new-timetable.html?m=1";
    let a = extract(CLASSIC, url);
    assert_eq!(a.extractor, Some(Extractor::BloggerClassic));
    assert_eq!(a.url, url);
    assert_eq!(
        a.canonical_url.as_deref(),
        Some(
            "http://harbourtownherald.blogspot.com/2022/01/ferry-council-votes-new-timetable.html"
        )
    );
    assert_eq!(
        a.title.as_deref(),
        Some("Ferry council votes for a new timetable")
    );
    assert_eq!(a.site_name.as_deref(), Some("Harbour Town Herald"));
    assert_eq!(a.author.as_deref(), Some("Ingrid Halvorsen"));
    let published = a.published_at.unwrap();
    assert_eq!(published.to_rfc3339(), "2022-01-20T08:30:00+01:00");
    assert_eq!(a.labels, vec!["ferry", "local politics"]);
    assert_eq!(a.comments_count, Some(2));
    assert_eq!(a.blogger_post_id.as_deref(), Some("8001002003004005006"));
    assert_eq!(a.blog_id.as_deref(), Some("5550001112223334445"));
    assert_eq!(a.language_hint.as_deref(), Some("en"));
}

#[test]
fn classic_post_body_is_split_and_clean() {
    let a = extract(
        CLASSIC,
        "https://harbourtownherald.blogspot.com/2022/01/x.html",
    );
    let kinds: Vec<(BlockKind, &str)> =
        a.blocks.iter().map(|b| (b.kind, b.text.as_str())).collect();
    assert_eq!(
        kinds.first(),
        Some(&(
            BlockKind::Paragraph,
            "The harbour ferry council voted on Thursday to move the first morning crossing to 6:15, after months of complaints from dock workers who said the old schedule left them waiting in the cold."
        ))
    );
    assert_eq!(
        kinds.get(1),
        Some(&(
            BlockKind::Paragraph,
            "Council chair Marta Olsen said the change would take effect on February 1.\n\"We listened to the people who actually ride the boat,\" she told reporters outside the terminal."
        ))
    );
    assert!(kinds.contains(&(BlockKind::Heading, "What changes")));
    assert!(kinds.contains(&(
        BlockKind::ListItem,
        "First crossing at 6:15 instead of 6:45"
    )));
    assert!(kinds.contains(&(
        BlockKind::Quote,
        "Nobody likes standing on a windy pier at dawn."
    )));
    assert!(kinds.contains(&(BlockKind::Preformatted, "adult   3.20\nchild   1.60")));
    assert_eq!(
        kinds.last().map(|k| k.1),
        Some(
            "Opponents, led by the Harbour Merchants Association, argued the late crossing would cost too much to staff."
        )
    );
    let text = body(&a);
    for junk in BOILERPLATE {
        assert!(!text.contains(junk), "body holds {junk:?}");
    }
}

#[test]
fn contempo_post_fields() {
    let a = extract(
        CONTEMPO,
        "https://www.trailnotes.example/2023/06/three-days-ridge-line.html?m=1",
    );
    assert_eq!(a.extractor, Some(Extractor::BloggerCurrent));
    assert_eq!(
        a.canonical_url.as_deref(),
        Some("https://www.trailnotes.example/2023/06/three-days-ridge-line.html")
    );
    assert_eq!(a.title.as_deref(), Some("Three Days on the Ridge Line"));
    // Not the template designer of <meta name=author>: the JSON-LD author.
    assert_eq!(a.author.as_deref(), Some("Rosa Delgado"));
    // The main post's time, not the related-post card's.
    assert_eq!(
        a.published_at.unwrap().to_rfc3339(),
        "2023-06-11T07:05:00-06:00"
    );
    assert_eq!(
        a.updated_at.unwrap().to_rfc3339(),
        "2023-06-12T19:40:21-06:00"
    );
    assert_eq!(a.labels, vec!["hiking", "mountains"]);
    assert_eq!(a.comments_count, Some(3));
    assert_eq!(a.blogger_post_id.as_deref(), Some("1112223334445556667"));
    assert_eq!(a.blog_id.as_deref(), Some("9990008887776665554"));
    assert_eq!(a.site_name.as_deref(), Some("Trail Notes"));
}

#[test]
fn contempo_body_appears_once() {
    let a = extract(
        CONTEMPO,
        "https://www.trailnotes.example/2023/06/three-days-ridge-line.html",
    );
    let text = body(&a);
    assert_eq!(
        text.matches("We set off before sunrise").count(),
        1,
        "{text}"
    );
    assert!(text.starts_with("We set off before sunrise"));
    assert!(text.ends_with("We reached the hut at dusk and slept like stones."));
    assert!(
        a.blocks
            .iter()
            .any(|b| b.kind == BlockKind::Heading && b.text == "Day two")
    );
    for junk in BOILERPLATE.iter().chain(&[
        "Autumn in the valley",
        "leaves turned",
        "Walking, mostly uphill",
    ]) {
        assert!(!text.contains(junk), "body holds {junk:?}");
    }
}

#[test]
fn dynamic_views_gives_ids_and_a_feed_url() {
    let a = extract(
        DYNAMIC,
        "https://leselampe.blogspot.com/2019/10/herbst-an-der-ostsee.html",
    );
    assert_eq!(a.title.as_deref(), Some("Herbst an der Ostsee"));
    assert_eq!(a.blogger_post_id.as_deref(), Some("6660005554443332221"));
    assert_eq!(a.blog_id.as_deref(), Some("3330004445556667778"));
    assert_eq!(a.language_hint.as_deref(), Some("de"));
    assert!(a.blocks.is_empty());
    assert_eq!(
        dynamic_views_feed_url(&a).as_deref(),
        Some(
            "https://www.blogger.com/feeds/3330004445556667778/posts/default/6660005554443332221?alt=json"
        )
    );
    // The per-post feed then gives the body.
    let page = parse_feed(JSON_ENTRY).unwrap();
    assert_eq!(page.entries.len(), 1);
    let e = &page.entries[0];
    assert_eq!(e.article.blogger_post_id, a.blogger_post_id);
    assert_eq!(body(&e.article), "Der Wind kam von Osten.");
}

#[test]
fn classic_page_without_data_context_uses_fallback_ids() {
    let html = r#"<html lang="es"><head><meta name="generator" content="Blogger" />
      <link rel="service.post" type="application/atom+xml" href="https://www.blogger.com/feeds/777000111/posts/default" /></head>
      <body><div class="post hentry"><meta content="999000111222" itemprop="postId"/>
      <h3 class="post-title entry-title">Hola</h3><div class="post-body entry-content">Texto.</div>
      <div class="post-footer"><span class="post-author vcard">Publicado por <span class="fn">Ana</span></span>
      <abbr class="published" title="2013-10-12T11:04:00+02:00">11:04</abbr></div></div>
      <div class="comments" id="comments"><h4>Sin comentarios:</h4></div></body></html>"#;
    let a = extract(html, "http://ana.blogspot.com.ar/2013/10/hola.html");
    assert_eq!(a.blog_id.as_deref(), Some("777000111"));
    assert_eq!(a.blogger_post_id.as_deref(), Some("999000111222"));
    assert_eq!(a.author.as_deref(), Some("Ana"));
    assert_eq!(a.comments_count, Some(0));
    assert_eq!(
        a.canonical_url.as_deref(),
        Some("http://ana.blogspot.com/2013/10/hola.html")
    );
    assert_eq!(a.language_hint.as_deref(), Some("es"));
}

#[test]
fn unknown_comment_count_is_none() {
    let html = r#"<html><head><meta name="generator" content="blogger"></head><body>
      <div class="post"><h3 class="post-title">T</h3><div class="post-body">Body text.</div></div></body></html>"#;
    let a = extract(html, "http://x.blogspot.com/2020/01/t.html");
    assert_eq!(a.comments_count, None);
}

#[test]
fn atom_full_feed() {
    let page = parse_feed(ATOM_FULL).unwrap();
    assert_eq!(page.total_results, Some(7));
    assert_eq!(page.start_index, Some(1));
    assert_eq!(page.items_per_page, Some(2));
    assert_eq!(
        page.next.as_deref(),
        Some(
            "https://www.blogger.com/feeds/5550001112223334445/posts/default?start-index=3&max-results=2"
        )
    );
    assert_eq!(page.blog_id.as_deref(), Some("5550001112223334445"));
    assert_eq!(page.entries.len(), 2);
    let e = &page.entries[0];
    assert!(e.full_content);
    assert_eq!(
        e.url,
        "https://harbourtownherald.blogspot.com/2022/01/ferry-council-votes-new-timetable.html"
    );
    let a = &e.article;
    assert_eq!(a.extractor, Some(Extractor::BloggerFeed));
    assert_eq!(a.site_name.as_deref(), Some("Harbour Town Herald"));
    assert_eq!(
        a.title.as_deref(),
        Some("Ferry council votes for a new timetable")
    );
    assert_eq!(a.author.as_deref(), Some("Ingrid Halvorsen"));
    assert_eq!(
        a.published_at,
        DateTime::parse_from_rfc3339("2022-01-20T08:30:00.001+01:00").ok()
    );
    assert_eq!(
        e.updated_at,
        DateTime::parse_from_rfc3339("2022-01-20T09:12:44.515+01:00").ok()
    );
    assert_eq!(a.published_at.unwrap().offset().local_minus_utc(), 3600);
    // Entry labels only, not the blog-wide list at feed level.
    assert_eq!(a.labels, vec!["ferry", "local politics"]);
    assert_eq!(a.comments_count, Some(4));
    assert_eq!(a.blogger_post_id.as_deref(), Some("8001002003004005006"));
    assert_eq!(a.blog_id.as_deref(), Some("5550001112223334445"));
    let kinds: Vec<BlockKind> = a.blocks.iter().map(|b| b.kind).collect();
    assert_eq!(
        kinds,
        vec![
            BlockKind::Paragraph,
            BlockKind::Paragraph,
            BlockKind::Heading,
            BlockKind::ListItem
        ]
    );
    assert_eq!(
        a.blocks[1].text,
        "Council chair Marta Olsen said the change would take effect on February 1."
    );

    let untitled = &page.entries[1].article;
    assert_eq!(untitled.title, None);
    assert_eq!(
        untitled.comments_count, None,
        "no thr:total means unknown, not zero"
    );
    assert!(untitled.labels.is_empty());
    assert_eq!(
        body(untitled),
        "Storm warning for the weekend.\nBoats stay in."
    );
}

#[test]
fn atom_summary_feed() {
    let page = parse_feed(ATOM_SUMMARY).unwrap();
    assert_eq!(page.next, None);
    let e = &page.entries[0];
    assert!(!e.full_content);
    assert!(e.article.blocks.is_empty());
    assert_eq!(
        e.summary.as_deref(),
        Some(
            "We set off before sunrise, three of us and a borrowed stove with the ridge still black…"
        )
    );
    assert_eq!(e.article.comments_count, None);
    assert_eq!(e.article.labels, vec!["hiking", "mountains"]);
    assert_eq!(
        e.article.canonical_url.as_deref(),
        Some("https://www.trailnotes.example/2023/06/three-days-ridge-line.html")
    );
}

#[test]
fn rss_feed() {
    let page = parse_feed(RSS).unwrap();
    assert_eq!(page.total_results, Some(2));
    assert_eq!(page.blog_id.as_deref(), Some("1230004560007890001"));
    assert_eq!(page.entries.len(), 2);
    let a = &page.entries[0].article;
    assert_eq!(a.title.as_deref(), Some("Tortilla de patatas"));
    assert_eq!(a.author.as_deref(), Some("Lola Martín"));
    assert_eq!(
        page.entries[0].url,
        "http://cocinadelola.blogspot.com/2024/02/tortilla-de-patatas.html"
    );
    // pubDate is UTC; it is shown in the blog's offset (from atom:updated), same instant.
    let p = a.published_at.unwrap();
    assert_eq!(p.to_rfc3339(), "2024-02-03T10:04:00+01:00");
    assert_eq!(a.labels, vec!["recetas"]);
    assert_eq!(a.comments_count, Some(3));
    assert_eq!(a.blocks.len(), 2);
    assert!(page.entries[0].full_content);
    let second = &page.entries[1];
    assert_eq!(second.article.comments_count, None);
    assert_eq!(second.article.title, None);
    assert!(!second.full_content);
    assert_eq!(second.summary.as_deref(), Some("Hoy no hay receta."));
}

#[test]
fn json_feed() {
    let page = parse_feed(JSON_FULL).unwrap();
    assert_eq!(page.total_results, Some(42));
    assert_eq!(
        page.next.as_deref(),
        Some(
            "https://www.blogger.com/feeds/3330004445556667778/posts/default?alt=json&start-index=2&max-results=1"
        )
    );
    let e = &page.entries[0];
    assert!(e.full_content);
    let a = &e.article;
    assert_eq!(a.title.as_deref(), Some("Herbst an der Ostsee"));
    assert_eq!(a.author.as_deref(), Some("Julia"));
    assert_eq!(a.labels, vec!["Ostsee", "Reise"]);
    assert_eq!(a.comments_count, Some(1));
    assert_eq!(a.blogger_post_id.as_deref(), Some("6660005554443332221"));
    assert_eq!(a.blog_id.as_deref(), Some("3330004445556667778"));
    let texts: Vec<&str> = a.blocks.iter().map(|b| b.text.as_str()).collect();
    assert_eq!(
        texts,
        vec![
            "Der Wind kam von Osten.",
            "Am Strand lagen nur Möwen.",
            "Und wir."
        ]
    );
}

#[test]
fn feed_errors_are_errors() {
    assert!(matches!(parse_feed("hello"), Err(ScrapeError::NotAFeed(_))));
    assert!(matches!(
        parse_feed("<html><body></body></html>"),
        Err(ScrapeError::NotAFeed(_))
    ));
    assert!(matches!(
        parse_feed("{\"a\": 1}"),
        Err(ScrapeError::NotAFeed(_))
    ));
    assert!(matches!(parse_feed("{not json"), Err(ScrapeError::Json(_))));
    // Truncated XML still gives what was read.
    let cut = ATOM_FULL.get(..ATOM_FULL.len() / 2).unwrap();
    let _ = parse_feed(cut);
}

#[test]
fn feed_urls() {
    assert_eq!(
        feed_url("https://x.blogspot.com/2020/01/a.html?m=1", 151, 25, None),
        "https://x.blogspot.com/feeds/posts/default?alt=json&start-index=151&max-results=25"
    );
    assert_eq!(
        feed_url("http://localhost:8080/", 0, 1000, None),
        "http://localhost:8080/feeds/posts/default?alt=json&start-index=1&max-results=150"
    );
    let since = DateTime::parse_from_rfc3339("2024-01-02T03:04:05+02:00")
        .unwrap()
        .to_utc();
    assert_eq!(
        feed_url("https://www.example.com", 1, 150, Some(since)),
        "https://www.example.com/feeds/posts/default?alt=json&start-index=1&max-results=150&orderby=updated&updated-min=2024-01-02T01:04:05Z"
    );
}

#[test]
fn generic_page_metadata_and_body() {
    let html = r##"<!doctype html><html lang="en-GB"><head><title>Port news | The Coast Times</title>
      <meta property="og:site_name" content="The Coast Times"><meta property="og:title" content="Ferry fares rise">
      <meta name="author" content="Sam Reed"><meta property="article:published_time" content="2024-03-01T09:00:00Z">
      <meta property="article:tag" content="transport"><link rel="canonical" href="/2024/03/ferry-fares">
      </head><body><header><nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li></ul></nav></header>
      <div class="layout"><article class="article-body">
      <h1>Ferry fares rise</h1>
      <p>Ferry fares on the northern route will rise by ten percent in April, the operator said on Friday, citing fuel costs.</p>
      <p>Commuters, who already pay more than drivers on the coast road, said the rise was unfair and asked the council to step in.</p>
      <div class="share-tools"><a href="#">Share on X</a> <a href="#">Share on Facebook</a></div>
      <p>The operator said it would review the fares again in the autumn, once the new boats arrive.</p>
      </article>
      <aside class="sidebar"><h3>Most read</h3><ul><li><a href="/a">Storm closes harbour</a></li><li><a href="/b">New mayor</a></li></ul></aside></div>
      <footer><p>Copyright The Coast Times, all rights reserved, since 1901.</p></footer></body></html>"##;
    let a = extract(html, "https://coasttimes.example/2024/03/ferry-fares?utm=x");
    assert_eq!(a.extractor, Some(Extractor::Generic));
    assert_eq!(a.title.as_deref(), Some("Ferry fares rise"));
    assert_eq!(a.site_name.as_deref(), Some("The Coast Times"));
    assert_eq!(a.author.as_deref(), Some("Sam Reed"));
    assert_eq!(
        a.published_at.unwrap().to_rfc3339(),
        "2024-03-01T09:00:00+00:00"
    );
    assert_eq!(a.labels, vec!["transport"]);
    assert_eq!(
        a.canonical_url.as_deref(),
        Some("https://coasttimes.example/2024/03/ferry-fares")
    );
    assert_eq!(a.language_hint.as_deref(), Some("en-GB"));
    let text = body(&a);
    assert!(text.contains("Ferry fares on the northern route"), "{text}");
    assert!(text.ends_with("once the new boats arrive."), "{text}");
    for junk in ["Home", "Share on", "Most read", "Storm closes", "Copyright"] {
        assert!(!text.contains(junk), "body holds {junk:?}: {text}");
    }
}

#[test]
fn generic_page_with_json_ld() {
    let html = r#"<html><head><script type="application/ld+json">
      {"@context":"https://schema.org","@graph":[{"@type":"WebSite","name":"Site"},
       {"@type":"NewsArticle","headline":"Budget passes","datePublished":"2024-05-06T07:08:09+02:00",
        "dateModified":"2024-05-06T10:00:00+02:00","author":[{"@type":"Person","name":"A. One"},{"@type":"Person","name":"B. Two"}],
        "keywords":"budget, parliament","publisher":{"@type":"Organization","name":"Daily Ledger"}}]}
      </script></head><body><div id="content"><p>The budget passed by a narrow margin, with three abstentions, late on Monday.</p></div></body></html>"#;
    let a = extract(html, "https://ledger.example/budget");
    assert_eq!(a.title.as_deref(), Some("Budget passes"));
    assert_eq!(a.author.as_deref(), Some("A. One, B. Two"));
    assert_eq!(
        a.published_at.unwrap().to_rfc3339(),
        "2024-05-06T07:08:09+02:00"
    );
    assert!(a.updated_at.is_some());
    assert_eq!(a.labels, vec!["budget", "parliament"]);
    assert_eq!(a.site_name.as_deref(), Some("Daily Ledger"));
    assert_eq!(
        body(&a),
        "The budget passed by a narrow margin, with three abstentions, late on Monday."
    );
}

#[test]
fn never_panics_on_odd_input() {
    let samples = [
        String::new(),
        "<".to_string(),
        "<html".to_string(),
        "\u{0}\u{feff}<body><div class='post-body' id='post-body-'>x".to_string(),
        "_WidgetManager._SetDataContext([{'name': 'blog', 'data': {'blogId': '\\x".to_string(),
        "<meta name=generator content=blogger><abbr class=published title='not a date'>"
            .to_string(),
        "<table>".repeat(300),
        CLASSIC
            .get(..CLASSIC.len() / 3)
            .unwrap_or_default()
            .to_string(),
        CONTEMPO
            .get(..CONTEMPO.len() / 2)
            .unwrap_or_default()
            .to_string(),
    ];
    for s in &samples {
        let _ = extract(s, "");
        let _ = extract(s, "not a url");
        let _ = parse_feed(s);
    }
    // Every prefix of a feed parses or fails cleanly.
    for cut in (0..ATOM_FULL.len()).step_by(97) {
        if let Some(prefix) = ATOM_FULL.get(..cut) {
            let _ = parse_feed(prefix);
        }
    }
}

#[test]
fn index_page_lists_every_post_once() {
    let html = include_str!("../tests/fixtures/classic_index.html");
    let posts = crate::extract_index(html, "http://cocinadelola.blogspot.com/");
    let urls: Vec<&str> = posts.iter().filter_map(|p| p.url.as_deref()).collect();
    assert_eq!(
        urls,
        vec![
            "http://cocinadelola.blogspot.com/2023/12/turron.html",
            "http://cocinadelola.blogspot.com/2024/02/tortilla-de-patatas.html",
            "http://cocinadelola.blogspot.com/2024/02/blog-post_03.html",
        ]
    );
    assert_eq!(posts[1].title.as_deref(), Some("Tortilla de patatas"));
    assert_eq!(posts[1].comments_count, Some(3));
    assert_eq!(posts[1].post_id.as_deref(), Some("2220003330004440005"));
    assert_eq!(
        posts[1].published_at.unwrap().to_rfc3339(),
        "2024-02-03T10:04:00+01:00"
    );
    // An untitled post under the same date header.
    assert_eq!(posts[2].title, None);
    assert_eq!(posts[2].comments_count, Some(0));
    assert_eq!(
        posts[2].published_at.unwrap().to_rfc3339(),
        "2024-02-03T08:30:00+01:00"
    );
    assert_eq!(posts[0].post_id.as_deref(), Some("2220003330004449999"));
}

/// A small deterministic generator (no dependency): mutated and random markup must never
/// make the extractors or the feed parser panic.
#[test]
fn random_and_mutated_input_never_panics() {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let pieces = [
        "<div class='post-body'>",
        "</div>",
        "<br>",
        "<p>",
        "</p>",
        "<h3 class='post-title'>",
        "&amp;",
        "&#x",
        "<abbr class='published' title='2020-13-45T99:00:00+25:00'>",
        "<time class='published' datetime=''>",
        "<script type='application/ld+json'>{\"@type\":\"BlogPosting\",\"author\":[",
        "</script>",
        "<noscript>",
        "'postId': '",
        "_WidgetManager._SetDataContext([{",
        "<entry>",
        "<feed>",
        "<thr:total>",
        "{\"feed\":{\"entry\":[",
        "é",
        "\u{0}",
        "<![CDATA[",
        "<!--",
        "<pre>",
        "<li>",
        "<section id='comments' data-num-comments='-1'>",
        "<meta name='generator' content='blogger'>",
        "<a rel='tag'>",
        "<table><tr><td>",
        "text, with commas, ",
    ];
    let corpus = [CLASSIC, CONTEMPO, ATOM_FULL, RSS, JSON_FULL];
    for round in 0..300 {
        let mut doc = String::new();
        if round % 2 == 0 {
            let base = corpus[round % corpus.len()];
            let cut = (next() as usize) % (base.len() + 1);
            let mut start = cut;
            while !base.is_char_boundary(start) {
                start -= 1;
            }
            doc.push_str(&base[..start]);
        }
        for _ in 0..(next() % 60) {
            doc.push_str(pieces[(next() as usize) % pieces.len()]);
        }
        let _ = extract(&doc, "http://x.blogspot.de/2020/01/a.html?m=1");
        let _ = crate::extract_index(&doc, "not a url");
        let _ = parse_feed(&doc);
        let _ = crate::discovery::parse_generic_feed(doc.as_bytes());
        let _ = crate::discovery::parse_sitemap(doc.as_bytes());
    }
}

#[test]
fn blogger_template_without_body_classes_falls_back_to_scoring() {
    let html = r#"<html><head><meta content='blogger' name='generator'/></head><body>
      <div id="menu"><ul><li><a href="/">Home</a></li><li><a href="/p/about.html">About</a></li></ul></div>
      <div class="inner-article"><h1>Custom template</h1>
      <p>This template renames every class, so the body has to be found by reading the page, which is slower, but it works.</p>
      <p>A second paragraph, with commas, and enough words to count as running text in a post.</p></div>
      <div class="footer-links"><a href="/a">A</a> <a href="/b">B</a></div></body></html>"#;
    let a = extract(html, "https://custom.example/2024/01/custom.html");
    let text = body(&a);
    assert!(
        text.starts_with("This template renames every class"),
        "{text}"
    );
    assert!(text.ends_with("running text in a post."), "{text}");
    assert_eq!(a.title.as_deref(), Some("Custom template"));
    assert!(!text.contains("About") && !text.contains("Home"), "{text}");
}

#[test]
fn blogger_date_from_visible_text_when_nothing_machine_readable() {
    let html = r#"<html><head><meta content='blogger' name='generator'/></head><body>
      <div class="blog-posts hfeed"><div class="date-outer">
      <h2 class="date-header"><span>jueves, 13 de enero de 2011</span></h2>
      <div class="post-outer"><div class="post hentry">
      <h3 class="post-title entry-title">Sin fecha legible</h3>
      <div class="post-body entry-content" id="post-body-42">Texto del artículo.</div>
      <div class="post-footer"><span class="post-timestamp">a las <a class="timestamp-link" href="/x.html">20:13</a></span></div>
      </div></div></div></div></body></html>"#;
    let a = extract(html, "https://ejemplo.blogspot.com/2011/01/x.html");
    assert_eq!(
        a.published_at.map(|d| d.to_rfc3339()).as_deref(),
        Some("2011-01-13T20:13:00+00:00")
    );
}

#[test]
fn machine_readable_dates_win_over_visible_text() {
    let html = r#"<html><head><meta content='blogger' name='generator'/></head><body>
      <h2 class="date-header"><span>13. Januar 2011</span></h2>
      <div class="post hentry"><h3 class="post-title">T</h3>
      <div class="post-body" id="post-body-1">Body.</div>
      <abbr class="published" title="2011-01-14T09:00:00+01:00">9:00</abbr></div></body></html>"#;
    let a = extract(html, "https://x.blogspot.com/2011/01/t.html");
    assert_eq!(
        a.published_at.map(|d| d.to_rfc3339()).as_deref(),
        Some("2011-01-14T09:00:00+01:00")
    );
}

#[test]
fn generic_date_from_visible_text() {
    let html = r#"<html><body><article><h1>Headline</h1>
      <p class="byline">By A. Writer</p><time>January 13, 2011</time>
      <p>Some text of the article, with commas, long enough to be the body of the page.</p>
      </article></body></html>"#;
    let a = extract(html, "https://news.example/a");
    assert_eq!(
        a.published_at.map(|d| d.to_rfc3339()).as_deref(),
        Some("2011-01-13T00:00:00+00:00")
    );
}

#[test]
fn generic_visible_date_skips_widgets_and_updates() {
    let html = r#"<html><body>
      <div class="twitter-widget"><p class="tweet-date">November 20, 2019, 10:54 am</p></div>
      <article><h1>Headline</h1><div class="article-date">Updated: March 3, 2020</div>
      <div class="story-date">Posted: Fri 5:30 PM, Feb 16, 2018</div>
      <p>Some text of the article, with commas, long enough to be the body of the page.</p>
      </article></body></html>"#;
    let a = extract(html, "https://news.example/a");
    assert_eq!(
        a.published_at.map(|d| d.to_rfc3339()).as_deref(),
        Some("2018-02-16T00:00:00+00:00")
    );
}

/// feed-rs 3.0 panics on an RSS contact whose e-mail address touches a multi-byte character;
/// the feed must still be read (found by `examples/fuzz_run.rs`).
#[test]
fn rss_contact_with_non_ascii_next_to_the_address_does_not_panic() {
    let rss = "<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel><title>T</title>\
        <managingEditor>ed@example.com\u{2013}Desk</managingEditor>\
        <item><title>One</title><link>https://example.com/1</link>\
        <author>\u{ab}jo@example.com\u{bb} (Jo Mart\u{ed}n)</author></item></channel></rss>";
    let feed = crate::discovery::parse_generic_feed(rss.as_bytes()).unwrap();
    assert_eq!(feed.items.len(), 1);
    assert_eq!(feed.items[0].url, "https://example.com/1");
}
