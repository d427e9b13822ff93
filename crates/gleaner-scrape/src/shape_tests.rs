//! Tests of page shapes the generic extractor used to give up on or get wrong, and of
//! hostile shapes (hand-written fixtures in `tests/fixtures/`, invented text). The time the
//! hostile shapes take at 10 MB is measured by `benches/hostile.rs`; these tests check what
//! comes out.

use crate::extract;

fn body(a: &gleaner_model::ScrapedArticle) -> String {
    a.blocks
        .iter()
        .map(|b| b.text.as_str())
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[test]
fn one_block_of_text_and_br_with_an_image_in_front_is_read() {
    let html = include_str!("../tests/fixtures/generic_br_article.html");
    let a = extract(html, "https://coastline.example/ferry");
    let b = body(&a);
    for sentence in [
        "The small passenger ferry between the old quay",
        "The operator replaced both engines",
        "the fare stays at three pounds",
        "thanked the volunteers who kept the landing stage clear",
    ] {
        assert!(b.contains(sentence), "missing {sentence:?} in {b:?}");
    }
    assert!(!b.contains("Copyright"), "{b}");
    assert!(!b.contains("Letters"), "{b}");
}

#[test]
fn microdata_article_body_is_read() {
    let html = include_str!("../tests/fixtures/generic_microdata_article.html");
    let a = extract(html, "https://town.example/library");
    let b = body(&a);
    assert!(
        b.starts_with("The town library will open on Sunday afternoons"),
        "{b:?}"
    );
    assert!(b.contains("story hour at three o'clock"), "{b:?}");
    assert_eq!(a.blocks.len(), 4, "{b:?}");
    assert!(!b.contains("Events"));
}

#[test]
fn json_ld_article_body_is_read_when_the_page_shows_none() {
    let html = include_str!("../tests/fixtures/generic_json_ld_only.html");
    let a = extract(html, "https://rail.example/night-trains");
    let b = body(&a);
    assert_eq!(a.blocks.len(), 3, "{b:?}");
    assert!(b.starts_with("Night trains will run on the valley line again from May"));
    assert!(b.contains("campaigned for the return of the late trains"));
    assert!(!b.contains("enable JavaScript"));
}

/// Google's blog template: the post HTML twice (script template and noscript), read once,
/// whether the page is recognised as Blogger's or not.
#[test]
fn google_blog_template_body_is_read_once() {
    let html = include_str!("../tests/fixtures/google_template_post.html");
    let not_blogger = html.replace("<meta name=\"generator\" content=\"blogger\">", "");
    for page in [html, not_blogger.as_str()] {
        let a = extract(
            page,
            "https://security.example-blog.com/2025/02/safer-sign-in.html",
        );
        let b = body(&a);
        assert_eq!(
            b.matches("turning on a stronger sign-in check").count(),
            1,
            "{:?}: {b:?}",
            a.extractor
        );
        assert!(b.contains("review the setting in the console"), "{b:?}");
        assert_eq!(a.blocks.len(), 3, "{b:?}");
    }
}

#[test]
fn threaded_comments_are_counted() {
    let html = include_str!("../tests/fixtures/threaded_comments_post.html");
    let a = extract(html, "https://weiher.blogspot.com/2025/05/ausflug.html");
    // Two top-level comments and one reply; the header ("Kommentare:") gives no number.
    assert_eq!(a.comments_count, Some(3));
    // A header without a number and no comment items: none.
    let none = html.replace("id=\"c100", "id=\"x100");
    assert_eq!(
        extract(&none, "https://weiher.blogspot.com/a.html").comments_count,
        Some(0)
    );
    // No header and no items: unknown, not 0.
    let unknown = none.replace("<h4>Kommentare:</h4>", "");
    assert_eq!(
        extract(&unknown, "https://weiher.blogspot.com/a.html").comments_count,
        None
    );
}

#[test]
fn an_index_page_gives_every_post_not_the_first() {
    let html = include_str!("../tests/fixtures/generic_index_page.html");
    let a = extract(html, "https://garden.example/");
    let b = body(&a);
    for text in [
        "The first tomato seedlings went into the cold frame",
        "Turning the compost heap took the whole of Saturday morning",
        "A hedgehog has been visiting the garden at dusk",
        "left a corner of the lawn uncut",
    ] {
        assert!(b.contains(text), "missing {text:?} in {b:?}");
    }
    assert!(!b.contains("written in a shed"), "{b:?}");
}

/// The hostile shapes of issue #11, at sizes a debug test runs quickly (the benchmark runs
/// them at 10 MB): each gives its text, without a stack overflow or a panic.
#[test]
fn hostile_deep_nesting_keeps_the_text() {
    let n = 200_000;
    let html = format!(
        "<html><body>{}Deep inside, the only sentence of this page, with a comma.{}</body></html>",
        "<div>".repeat(n),
        "</div>".repeat(n)
    );
    let a = extract(&html, "https://hostile.example/deep");
    assert!(
        body(&a).contains("the only sentence of this page"),
        "{:?}",
        a.blocks
    );
    let spans = format!(
        "<html><body><p>{}Deep spans, with words in them, many words.{}</p></body></html>",
        "<span class=x><b>".repeat(n / 2),
        "</b></span>".repeat(n / 2)
    );
    let a = extract(&spans, "https://hostile.example/spans");
    assert!(
        body(&a).contains("Deep spans, with words"),
        "{:?}",
        a.blocks
    );
}

#[test]
fn hostile_many_siblings_huge_attributes_text_and_entities() {
    let siblings = format!(
        "<html><body><div class=list>{}</div></body></html>",
        "<div class=item>One short line of text, here.</div>".repeat(100_000)
    );
    let a = extract(&siblings, "https://hostile.example/siblings");
    assert!(body(&a).contains("One short line of text, here."));

    let attr = format!(
        "<html><body><div class=\"{}\" data-x=\"{}\"><p>Text beside a huge attribute, long enough to count as a paragraph.</p></div></body></html>",
        "content ".repeat(100_000),
        "x".repeat(1_000_000)
    );
    let a = extract(&attr, "https://hostile.example/attr");
    assert!(body(&a).contains("Text beside a huge attribute"));

    let giant = format!(
        "<html><body><article><p>{}</p></article></body></html>",
        "word, ".repeat(500_000)
    );
    let a = extract(&giant, "https://hostile.example/text");
    assert_eq!(a.blocks.len(), 1);
    assert!(a.blocks[0].text.len() > 2_000_000);

    let entities = format!(
        "<html><body><article><p>{}</p></article></body></html>",
        "&amp;&lt;&#233;&eacute; x, ".repeat(200_000)
    );
    let a = extract(&entities, "https://hostile.example/entities");
    assert!(
        body(&a).starts_with("&<éé x,"),
        "{:?}",
        &body(&a)[..40.min(body(&a).len())]
    );
}

/// Regional news sites put a property-search box ("Find your new home") beside the story:
/// lists of towns and property types, full of commas, and a search form. The story (split
/// into chunks around ad slots) is the body, not the box.
#[test]
fn the_story_beats_the_property_search_box_beside_it() {
    let html = include_str!("../tests/fixtures/generic_property_box.html");
    let a = extract(html, "https://dale-gazette.example/news/bus-station");
    let b = body(&a);
    for text in [
        "will reopen on Monday after three months of repairs",
        "should last forty years",
        "will open again later in the month",
    ] {
        assert!(b.contains(text), "missing {text:?} in {b:?}");
    }
    for text in [
        "Find your new home",
        "Kettleby, Amberford",
        "Where do you want",
    ] {
        assert!(!b.contains(text), "{text:?} in {b:?}");
    }
}

/// A blog's home page whose posts do not share one markup (a sticky post, a gallery post,
/// a quote post in a `<div>`, each body under its own class): the page's main content is
/// every post, not the first.
#[test]
fn a_home_page_of_unlike_posts_gives_every_post() {
    let html = include_str!("../tests/fixtures/generic_mixed_posts_home.html");
    let a = extract(html, "https://workshop.example/");
    let b = body(&a);
    for text in [
        "The old bench finally gave way last week",
        "it no longer rocks when the vice is tightened",
        "Every chisel in the rack had gone dull",
        "a joint which needs glue to hold was cut badly",
        "more than fifty years ago",
        "the workshop gets a box of eggs",
    ] {
        assert!(b.contains(text), "missing {text:?} in {b:?}");
    }
    assert!(!b.contains("mostly on weekends"), "{b:?}");
}

/// A sign-up pop-up and a cookie-consent box hold more text than the short article under
/// them; neither is the page's content.
#[test]
fn a_popup_or_cookie_box_is_never_the_body() {
    let html = include_str!("../tests/fixtures/generic_popup_over_article.html");
    let a = extract(html, "https://orchard.example/spring");
    let b = body(&a);
    assert!(b.contains("the orchard shop is open every day"), "{b:?}");
    assert!(b.contains("Blossom walks start at eleven"), "{b:?}");
    assert!(!b.contains("mailing list"), "{b:?}");
    assert!(!b.contains("cookies"), "{b:?}");
}

/// A page whose only text is its title (a link post on a forum, the title a long sentence)
/// keeps it as its body rather than returning nothing; a page of headings and images
/// marked `<article>` gives its headings.
#[test]
fn a_page_of_only_a_title_or_only_headings_is_not_empty() {
    let title_only = r#"<html><head><title>Council votes to keep the night buses running until two in the morning</title></head>
        <body><nav><a href="/">Home</a></nav><main><div class="post">
        <h1>Council votes to keep the night buses running until two in the morning</h1>
        <a href="https://news.example/buses">news.example</a></div></main></body></html>"#;
    let a = extract(title_only, "https://forum.example/t/1");
    assert!(
        body(&a).contains("Council votes to keep the night buses"),
        "{:?}",
        a.blocks
    );
    let headings = r#"<html><head><title>Gallery</title></head><body>
        <article><h2>Harbour at dawn</h2><img src="a.jpg" alt="a"><h2>Boats in the rain</h2>
        <img src="b.jpg" alt="b"></article><footer>Footer text</footer></body></html>"#;
    let a = extract(headings, "https://photos.example/gallery");
    let b = body(&a);
    assert!(
        b.contains("Harbour at dawn") && b.contains("Boats in the rain"),
        "{b:?}"
    );
    assert!(!b.contains("Footer"), "{b:?}");
}

/// A newsletter sign-up, a cookie-consent dialog and a subscription modal placed *inside*
/// the article's markup, each with more plain text than a short paragraph: the article's
/// paragraphs are kept, the boxes are not.
#[test]
fn overlay_boxes_inside_the_article_are_left_out() {
    let html = include_str!("../tests/fixtures/generic_overlay_inside_article.html");
    let a = extract(html, "https://millbrook.example/pond");
    let b = body(&a);
    for text in [
        "Volunteers spent four weekends pulling blanket weed",
        "The club hired a small boat",
        "bring back the kingfishers",
    ] {
        assert!(b.contains(text), "missing {text:?} in {b:?}");
    }
    for text in ["morning briefing", "uses cookies", "Subscribe for a pound"] {
        assert!(!b.contains(text), "{text:?} in {b:?}");
    }
}

/// A page builder nests each story of a home page more than eight levels under `<main>`,
/// each under its own markup: the page's content is `<main>` (three times the text of one
/// story, few links), not the first story.
#[test]
fn main_is_reached_past_deep_page_builder_nesting() {
    let html = include_str!("../tests/fixtures/generic_deep_main.html");
    let a = extract(html, "https://harbour.example/");
    let b = body(&a);
    for text in [
        "took a bite out of the harbour wall",
        "every forty minutes instead of every hour",
        "move into the old net loft",
        "sell to restaurants earlier in the morning",
        "climb the narrow stair to the lantern room",
    ] {
        assert!(b.contains(text), "missing {text:?} in {b:?}");
    }
    assert!(!b.contains("written by volunteers"), "{b:?}");
}

/// A forum thread: a question of one line and six long replies, every post marked as a
/// comment. The posts are the page's content (more than five times the text outside them),
/// so the whole thread is read, not one post; the sidebar still is not.
#[test]
fn a_thread_page_gives_the_thread_not_one_post() {
    let html = include_str!("../tests/fixtures/generic_forum_thread.html");
    let a = extract(html, "https://baking.example/t/starter");
    let b = body(&a);
    for text in [
        "My sourdough starter has stopped rising",
        "Moving the jar on top of the fridge fixed it",
        "Rye seems to wake a tired starter up",
        "the crust crackled as it cooled",
        "weigh everything",
    ] {
        assert!(b.contains(text), "missing {text:?} in {b:?}");
    }
    assert!(!b.contains("Popular topics"), "{b:?}");
}

/// An article with a short comment thread under it stays the article: the comments are
/// not read when they do not outweigh it.
#[test]
fn an_article_with_a_few_comments_is_not_a_thread() {
    let html = include_str!("../tests/fixtures/generic_popup_over_article.html").replace(
        "</main>",
        "</main><div id=\"comments\"><div class=\"comment\"><p>Lovely place, we went last year \
         and the blossom was wonderful; the cake in the tea room is worth the trip alone.</p>\
         </div></div>",
    );
    let a = extract(&html, "https://orchard.example/spring");
    let b = body(&a);
    assert!(b.contains("the orchard shop is open every day"), "{b:?}");
    assert!(!b.contains("Lovely place"), "{b:?}");
}

/// A theme prints the summary twice (a desktop and a mobile variant, in different
/// containers): the second copy goes. A paragraph the page itself repeats (two sibling
/// `<p>`s) stays twice.
#[test]
fn a_themes_second_copy_goes_and_the_authors_repeat_stays() {
    let html = r#"<html><head><title>Quiet lanes</title></head><body><main><article>
        <div class="text"><div class="intro-desktop"><p>The county will mark twelve miles of lanes as quiet lanes where walkers and riders come first.</p></div>
        <div class="intro-mobile"><p>The county will mark twelve miles of lanes as quiet lanes where walkers and riders come first.</p></div>
        <p>Signs will go up at both ends of each lane in the spring, and drivers will be asked to slow down and give way.</p>
        <p>Signs will go up at both ends of each lane in the spring, and drivers will be asked to slow down and give way.</p>
        <p>The parish councils chose the lanes after a survey of the people who use them every day, on foot, on bicycles and on horseback.</p></div>
        </article></main></body></html>"#;
    let a = extract(html, "https://county.example/lanes");
    let b = body(&a);
    assert_eq!(b.matches("twelve miles of lanes").count(), 1, "{b:?}");
    assert_eq!(b.matches("Signs will go up").count(), 2, "{b:?}");
    assert!(b.contains("The parish councils chose the lanes"), "{b:?}");
}

/// A forum whose layout wraps the page's `<main>` in a `<div>` (Invision's shape): the
/// wrapper's text is the thread's own, not text outside the thread, so the page is still
/// read as a thread.
#[test]
fn a_thread_inside_main_inside_a_wrapper_is_still_a_thread() {
    let html = include_str!("../tests/fixtures/generic_forum_thread.html")
        .replace(
            "<div class=\"topic\">",
            "<div class=\"app\"><main><div class=\"topic\">",
        )
        .replace("</body>", "</main></div></body>");
    let a = extract(&html, "https://baking.example/t/starter");
    let b = body(&a);
    for text in [
        "My sourdough starter has stopped rising",
        "Moving the jar on top of the fridge fixed it",
        "Rye seems to wake a tired starter up",
        "weigh everything",
    ] {
        assert!(b.contains(text), "missing {text:?} in {b:?}");
    }
    assert!(!b.contains("Popular topics"), "{b:?}");
}

/// A page of a few words (a heading over an image, one short line, text straight in
/// `<body>`) gives those words, not "no article text found"; a page of only links and
/// furniture still gives nothing.
#[test]
fn a_page_of_a_few_words_gives_those_words() {
    for (html, want) in [
        (
            "<html><head><title>Lazy images</title></head><body><div class=\"content\">\
             <img data-src=\"a.jpg\"><p>Test</p></div></body></html>",
            "Test",
        ),
        (
            "<html><body><img src=\"a.jpg\"><p>Hello world!</p><img src=\"b.jpg\"></body></html>",
            "Hello world!",
        ),
        (
            "<html><body><div><h2>Test Case 1</h2><img src=\"a.jpg\"></div></body></html>",
            "Test Case 1",
        ),
        (
            "<html><body><nav><a href=\"/\">Home</a></nav>Just a line of text.\
             <footer>Footer words</footer></body></html>",
            "Just a line of text.",
        ),
        (
            "<html><body><figure><img src=\"a.jpg\"><figcaption>Hello, world!</figcaption>\
             </figure></body></html>",
            "Hello, world!",
        ),
        (
            "<html><body><div class=\"caption\">Hello, world!</div></body></html>",
            "Hello, world!",
        ),
        // All its words in one link: a message, not a menu.
        (
            "<html><body><a href=\"https://example.com/\">Hello world</a></body></html>",
            "Hello world",
        ),
        // A sentence with links in it (more than half its characters).
        (
            "<html><body><p>Hello <a href=\"/x\">world</a> and <a href=\"/y\">friends</a></p>\
             </body></html>",
            "Hello world and friends",
        ),
        // In a box hidden from screen readers only: the eye still reads it.
        (
            "<html><body><main><div class=\"wrap\"><p aria-hidden=\"true\">Hello world, \
             nice day</p><svg></svg></div></main></body></html>",
            "Hello world, nice day",
        ),
    ] {
        let a = extract(html, "https://tiny.example/");
        assert_eq!(body(&a), want, "{html}");
    }
    let links = extract(
        "<html><body><a href=\"/a\">One</a> <a href=\"/b\">Two</a></body></html>",
        "https://tiny.example/",
    );
    assert_eq!(body(&links), "");
    let menu = extract(
        "<html><body><ul><li><a href=\"/\">Home</a></li><li><a href=\"/news\">News</a> |</li>\
         </ul></body></html>",
        "https://tiny.example/",
    );
    assert_eq!(body(&menu), "");
    // A short article with an aria-hidden share box keeps the box out.
    let shared = extract(
        "<html><body><article><div aria-hidden=\"true\"><span>Share this</span></div>\
         <p>The ferry runs twice a day from Monday.</p></article></body></html>",
        "https://tiny.example/",
    );
    assert_eq!(body(&shared), "The ferry runs twice a day from Monday.");
    let letters = format!("<html><body>{}</body></html>", "<div>x</div>".repeat(200));
    assert_eq!(body(&extract(&letters, "https://tiny.example/")), "");
}

/// A notice page (not found) whose `<main>` is a short line of text and lists of links:
/// the whole of `<main>` is what the page says, not the one line that scored; the site's
/// header and footer stay out.
#[test]
fn a_short_notice_in_main_gives_all_of_main() {
    let html = "<html><head><title>Item Not Found</title></head><body>\
        <header><nav><a href=\"/\">Home</a> <a href=\"/deals\">Deals</a></nav></header>\
        <section class=\"container\"><main class=\"notfound\">\
        <div><h1>Page Not Found</h1><p>The page you asked for has moved or no longer exists on this shop.</p></div>\
        <div class=\"suggestions\"><section><h2>Try one of these</h2><ul>\
        <li>Check the spelling of the address</li><li><a href=\"/brands\">Browse by brand</a></li>\
        <li><a href=\"/\">Go to the home page</a></li></ul></section>\
        <section><h2>Can we help?</h2><ul><li><a href=\"tel:1\">Call our store team</a></li>\
        <li><a href=\"mailto:x\">Write to our store team</a></li></ul></section></div>\
        <div class=\"posts\"><h2>Popular guides</h2><a href=\"/g1\"><h4>Choosing a first camera</h4></a>\
        <a href=\"/g2\"><h4>Lenses for travel photography</h4></a></div>\
        </main></section>\
        <footer><p>Shop footer with the address of the shop and its opening hours, long enough to be text.</p></footer>\
        </body></html>";
    let a = extract(html, "https://shop.example/missing");
    let b = body(&a);
    for text in [
        "has moved or no longer exists",
        "Check the spelling of the address",
        "Can we help?",
        "Write to our store team",
        "Lenses for travel photography",
    ] {
        assert!(b.contains(text), "missing {text:?} in {b:?}");
    }
    assert!(!b.contains("opening hours"), "{b:?}");
    assert!(!b.contains("Deals"), "{b:?}");
}

/// An article followed by a dozen teasers of other stories, each with a summary: together
/// the teasers hold twice the article's text, but the article outscores each of them many
/// times over, so the body is the article, not the page with the teasers.
#[test]
fn an_article_over_many_teasers_does_not_climb_to_them() {
    let para = |i: usize| {
        format!(
            "<p>Paragraph {i} of the story: the lock keepers, who open the gates by hand, \
             said the canal would stay open all winter, with boats moving in daylight only, \
             and the towpath, resurfaced last year, stays open to walkers and cyclists too.</p>"
        )
    };
    let teaser = |i: usize| {
        format!(
            "<article class=\"teaser\"><h3><a href=\"/s/{i}\">Another story number {i}</a></h3>\
             <div class=\"excerpt\"><p>Teaser {i} tells of something else that happened in \
             another part of the county this week and which readers of the site may also want \
             to read about when they have finished the story they came to read in the first \
             place tonight.</p></div></article>"
        )
    };
    let html = format!(
        "<html><head><title>Canal</title></head><body><div id=\"page\"><main>\
         <article class=\"post\"><h1>Canal stays open</h1><div class=\"entry-content\">{}</div>\
         </article></main><section class=\"more-stories\"><h2>More stories</h2>{}</section>\
         </div></body></html>",
        (1..=6).map(para).collect::<String>(),
        (1..=12).map(teaser).collect::<String>()
    );
    let a = extract(&html, "https://canal.example/open");
    let b = body(&a);
    assert!(b.contains("Paragraph 1 of the story"), "{b:?}");
    assert!(b.contains("Paragraph 6 of the story"), "{b:?}");
    assert!(!b.contains("Teaser"), "{b:?}");
}

/// A page builder's article: every paragraph in its own block named a widget, most under
/// 250 characters. Each is plain text with no links, so it is the article's, whatever its
/// name; the share widget (short, all links) and a related-posts widget still go.
#[test]
fn page_builder_widgets_of_plain_text_are_kept() {
    let widget = |text: &str| {
        format!(
            "<div class=\"pb-element pb-widget pb-widget-text-editor\">\
             <div class=\"pb-widget-container\"><p>{text}</p></div></div>"
        )
    };
    let paragraphs = [
        "The village shop, closed since the spring, reopens on Saturday as a cooperative run by forty volunteers who bought the building from the brewery last year.",
        "Each volunteer works one morning a week, and the shop will sell bread, milk, stamps and local honey, with vegetables from the allotments in summer.",
        "The old post office counter is back too, open on weekday mornings from nine until half past twelve, and on Saturdays until eleven.",
        "A grant from the district council paid for new fridges and for repairs to the leaking roof, which had let water into the store room all winter.",
        "Shares cost ten pounds each, and every household in the parish has been offered at least one of them by letter, with a form to return by the end of the month.",
        "The first customers on Saturday will be given a free coffee from the new machine by the door, and children will be given a slice of cake from the bakery in town.",
    ];
    let html = format!(
        "<html><head><title>Shop</title></head><body><div class=\"page\"><article class=\"post\">\
         <div class=\"entry-content\">{}<div class=\"pb-widget pb-widget-share\"><a href=\"/s/f\">Facebook</a> \
         <a href=\"/s/x\">X</a> <a href=\"/s/m\">Email</a></div></div></article>\
         <div class=\"related-posts pb-widget\"><p>Read next: the bus timetable changes in May and what \
         they mean for the villages along the valley road, with the new times for every stop.</p></div>\
         </div></body></html>",
        paragraphs.iter().map(|p| widget(p)).collect::<String>()
    );
    let a = extract(&html, "https://village.example/shop");
    let b = body(&a);
    for p in paragraphs {
        assert!(b.contains(p), "missing {p:?} in {b:?}");
    }
    assert!(!b.contains("Facebook"), "{b:?}");
    assert!(!b.contains("Read next"), "{b:?}");
}

/// Shapes a CMS produces that a reader sees as a short article at a glance (each a page of
/// its own in `tests/fixtures/shapes/`): every sentence of the story comes out, and the
/// page's menus, ads and footers do not.
#[test]
fn short_articles_in_cms_shapes_are_read_whole() {
    let cases: [(&str, &[&str], &[&str]); 7] = [
        (
            include_str!("../tests/fixtures/shapes/ads_split.html"),
            &[
                "moves to the square",
                "open at eight",
                "first hour",
                "Twelve new traders",
            ],
            &["Advertisement", "Other story"],
        ),
        (
            include_str!("../tests/fixtures/shapes/section_small_divs.html"),
            &[
                "starts on Monday",
                "eight and six",
                "use the bypass",
                "stay open",
                "end of the month",
            ],
            &["Weather", "Jobs"],
        ),
        (
            include_str!("../tests/fixtures/shapes/short_ps_article.html"),
            &[
                "Twenty new allotment plots",
                "old railway line",
                "forty pounds",
                "two new tanks",
                "waiting list",
            ],
            &["Sport", "Copyright"],
        ),
        (
            include_str!("../tests/fixtures/shapes/layout_table.html"),
            &["annual dinner", "fine season", "posted in March"],
            &[],
        ),
        (
            include_str!("../tests/fixtures/shapes/font_soup.html"),
            &["met on Tuesday", "bus shelter", "six trees", "next meeting"],
            &[],
        ),
        (
            include_str!("../tests/fixtures/shapes/small_form.html"),
            &["opens at nine every weekday"],
            &["Search"],
        ),
        (
            include_str!("../tests/fixtures/shapes/svg_sibling.html"),
            &["footbridge over the river"],
            &["icon label"],
        ),
    ];
    for (html, want, not) in cases {
        let a = extract(html, "https://shapes.example/");
        let b = body(&a);
        for w in want {
            assert!(b.contains(w), "missing {w:?} in {b:?}");
        }
        for n in not {
            assert!(!b.contains(n), "{n:?} in {b:?}");
        }
    }
}

/// A list of links trailing the article ("You may also like..." and the links under it) and
/// a hover card inside a sentence (a name opening a box of that person's latest stories)
/// are not the article's text; the sentence around the card is.
#[test]
fn a_trailing_link_list_and_a_hover_card_are_left_out() {
    let html = include_str!("../tests/fixtures/generic_link_tail_and_hover_card.html");
    let a = extract(html, "https://shore.example/harbour-wall");
    let b = body(&a);
    assert!(b.contains("Work on the old harbour wall"), "{b:?}");
    assert!(b.contains("told the harbour committee on Tuesday"), "{b:?}");
    assert!(b.contains("the same dark green"), "{b:?}");
    for gone in [
        "tide tables",
        "lighthouse keeper",
        "may also like",
        "kayakers",
        "Beach huts",
    ] {
        assert!(!b.contains(gone), "{gone:?} in {b:?}");
    }
}

/// A landing page made of short blocks (feature cards of a heading and a line each, then a
/// FAQ): scoring finds only the FAQ answers, the one part written as paragraphs, but the
/// page's content is all of it, cards included; the menu and the footer still go.
#[test]
fn a_page_of_short_blocks_gives_all_of_them_not_its_faq() {
    let html = include_str!("../tests/fixtures/generic_landing_page_of_cards.html");
    let a = extract(html, "https://countly.example/");
    let b = body(&a);
    for kept in [
        "Know who reads what",
        "Campaign tracking",
        "Every morning a short report",
        "Real people answer your questions",
        "Does it slow my site down?",
        "we send you an export of all your numbers",
    ] {
        assert!(b.contains(kept), "missing {kept:?} in {b:?}");
    }
    assert!(!b.contains("Log in"), "{b:?}");
    assert!(!b.contains("All rights reserved"), "{b:?}");
}

/// A page dense in character references (decoded before parsing, `entities::predecode`)
/// gives the same article as the same page written with the characters themselves, its
/// JSON-LD script read literally as before.
#[test]
fn a_page_dense_in_entities_reads_as_its_characters() {
    let para = |refs: bool| {
        let (e, amp, dash) = if refs {
            ("&eacute;", "&amp;", "&#x2014;")
        } else {
            ("é", "&", "—")
        };
        format!(
            "<p>Caf{e} {amp} bakery {dash} the caf{e} on the quay reopens with a new oven, \
             a r{e}sum{e} of the menu {amp} its prices, {dash} and the same tables outside.</p>"
        )
    };
    let page = |refs: bool| {
        format!(
            "<html><head><title>Caf&eacute;</title><script type=\"application/ld+json\">\
             {{\"@type\": \"NewsArticle\", \"headline\": \"Caf&eacute; reopens\"}}</script>\
             </head><body><article>{}</article></body></html>",
            (0..6).map(|_| para(refs)).collect::<String>()
        )
    };
    let with_refs = extract(&page(true), "https://quay.example/cafe");
    let plain = extract(&page(false), "https://quay.example/cafe");
    assert_eq!(body(&with_refs), body(&plain));
    assert!(
        body(&plain).starts_with("Café & bakery — the café"),
        "{}",
        body(&plain)
    );
    assert_eq!(with_refs.title.as_deref(), Some("Caf&eacute; reopens"));
}

/// Previous/next-post boxes under an article (each a linked title, an excerpt that is not a
/// link, a byline) are navigation, named so (`…-prev`, `post-navigation`), and left out.
#[test]
fn previous_and_next_post_boxes_are_left_out() {
    let para = |i: usize| {
        format!(
            "<p>Paragraph {i}: the new sedan gets a longer wheelbase, a quieter cabin and a \
             larger screen, and the engine, which replaces the old one, uses less fuel in town \
             and on the motorway.</p>"
        )
    };
    let html = format!(
        "<html><head><title>Sedan</title></head><body><div class=\"article-body\">{}\
         <div class=\"grid next-prev\"><div class=\"row next\"><a href=\"/n\">Next: the hatchback with a bigger boot arrives in the spring</a>\
         <p class=\"excerpt\">The hatchback gets a smaller engine for the city.</p>\
         <label>Staff writer 2019-11-20</label></div></div>\
         <nav class=\"post-navigation\"><p>Another excerpt of the story before this one, \
         about a crossover, with a long enough text to count as a paragraph here.</p></nav>\
         </div></body></html>",
        (1..=5).map(para).collect::<String>()
    );
    let a = extract(&html, "https://cars.example/sedan");
    let b = body(&a);
    assert!(b.contains("Paragraph 1:"), "{b:?}");
    assert!(b.contains("Paragraph 5:"), "{b:?}");
    assert!(!b.contains("hatchback"), "{b:?}");
    assert!(!b.contains("crossover"), "{b:?}");
}
