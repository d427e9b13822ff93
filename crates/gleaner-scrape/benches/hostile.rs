//! Hostile pages at 10 MB (`max_body_bytes`' default): each must take well under a second
//! and time linear in its size. `cargo bench -p gleaner-scrape --bench hostile`.
//!
//! Shapes (issue #11 and #16): 200,000+ nested `<div>`s, a million sibling elements, huge
//! attributes, one giant text node, a million entities; and for the XML reader a sitemap and
//! a Blogger feed nested 1,000,000 deep. Each is [`gleaner_scrape::extract`] (parse,
//! metadata, scoring, blocks) or the listing parser, one page per iteration.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const TEN_MB: usize = 10 * 1024 * 1024;

/// `unit` repeated until the page is about 10 MB, between `head` and `tail`.
fn fill(head: &str, unit: &str, tail: &str) -> String {
    let n = (TEN_MB.saturating_sub(head.len() + tail.len())) / unit.len().max(1);
    let mut s = String::with_capacity(TEN_MB + 64);
    s.push_str(head);
    for _ in 0..n {
        s.push_str(unit);
    }
    s.push_str(tail);
    s
}

fn pages() -> Vec<(&'static str, String)> {
    let half = TEN_MB / 2 / "<div>".len();
    let nested = format!(
        "<html><body>{}Deep text, with a comma.{}</body></html>",
        "<div>".repeat(half),
        "</div>".repeat(half / 2)
    );
    let nested_200k = format!(
        "<html><body>{}Deep text, with a comma.{}</body></html>",
        "<div>".repeat(200_000),
        "</div>".repeat(200_000)
    );
    let inline = format!(
        "<html><body><p>{}Deep text, with a comma.</p></body></html>",
        "<span class=a><b>".repeat(TEN_MB / 17)
    );
    vec![
        ("deep_nesting_200k_divs", nested_200k),
        ("deep_nesting_10mb_divs", nested),
        ("deep_nesting_10mb_inline", inline),
        (
            "million_siblings",
            fill(
                "<html><body><div class=list>",
                "<div class=item>x</div>",
                "</div></body></html>",
            ),
        ),
        (
            "million_text_siblings",
            fill(
                "<html><body><div class=list>",
                "<p>Text, text.</p>",
                "</div></body></html>",
            ),
        ),
        (
            "huge_attributes",
            fill(
                "<html><body><div class=\"",
                "content ",
                "\"><p>Text beside a huge attribute, long enough to count.</p></div></body></html>",
            ),
        ),
        (
            "giant_text_node",
            fill(
                "<html><body><article><p>",
                "word, ",
                "</p></article></body></html>",
            ),
        ),
        (
            "million_entities",
            fill(
                "<html><body><article><p>",
                "&amp;&eacute;&#233; ",
                "</p></article></body></html>",
            ),
        ),
        (
            "blogger_deep_nesting",
            format!(
                "<html><head><meta name=generator content=blogger></head><body>{}<div class=post-body>Post text, with a comma.</div>{}</body></html>",
                "<div class=post-body>".repeat(TEN_MB / 2 / 21),
                "</div>".repeat(1000)
            ),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("hostile");
    group.sample_size(10);
    for (name, page) in pages() {
        group.throughput(Throughput::Bytes(page.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                black_box(gleaner_scrape::extract(
                    black_box(&page),
                    "https://h.example/",
                ))
            });
        });
    }
    let deep = TEN_MB / 2 / "<x>".len();
    let sitemap = format!(
        "<?xml version=\"1.0\"?><urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">{}<url><loc>https://e.example/a</loc></url>{}</urlset>",
        "<x>".repeat(deep),
        "</x>".repeat(deep)
    );
    group.throughput(Throughput::Bytes(sitemap.len() as u64));
    group.bench_function("xml_sitemap_nested", |b| {
        b.iter(|| {
            black_box(
                gleaner_scrape::discovery::parse_sitemap(black_box(sitemap.as_bytes())).is_ok(),
            )
        });
    });
    let feed = format!(
        "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><id>tag:blogger.com,1999:blog-1</id>{}<entry><id>tag:blogger.com,1999:blog-1.post-2</id></entry>{}</feed>",
        "<x>".repeat(deep),
        "</x>".repeat(deep)
    );
    group.throughput(Throughput::Bytes(feed.len() as u64));
    group.bench_function("xml_blogger_feed_nested", |b| {
        b.iter(|| black_box(gleaner_scrape::blogger_feed::parse_feed(black_box(&feed)).is_ok()));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
