//! A timed property run (a poor man's fuzzer, no nightly needed): random, mutated and truncated
//! markup built from the crate's fixtures goes to every parser of this crate, which must never
//! panic. Each input goes to [`gleaner_scrape::extract`], [`gleaner_scrape::extract_index`],
//! [`gleaner_scrape::html_to_blocks`], [`gleaner_scrape::blogger_feed::parse_feed`],
//! [`gleaner_scrape::discovery::parse_generic_feed`] and
//! [`gleaner_scrape::discovery::parse_sitemap`] (sometimes gzip-compressed for the latter).
//!
//! ```text
//! nice cargo run --release -p gleaner-scrape --example fuzz_run -- MINUTES [SEED] [SEED_DIR]
//! cargo run --release -p gleaner-scrape --example fuzz_run -- replay FILE...
//! ```
//!
//! `SEED_DIR` adds every `*.html`, `*.html.gz`, `*.xml` and `*.json` file of a folder to the
//! seed corpus (e.g. `../shared/eval/aeb-dev/html`). A panicking input is written to
//! `fuzz-failure-<n>.bin` in the temp directory and the run goes on; the summary line on stderr
//! gives the duration, the number of inputs, the failures and the slowest input (written to
//! `fuzz-slowest.bin` in the temp directory when it took over a second). The exit code is 1
//! when anything panicked.

use std::io::{Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const FIXTURES: &[&str] = &[
    include_str!("../tests/fixtures/classic_minima_post.html"),
    include_str!("../tests/fixtures/contempo_post.html"),
    include_str!("../tests/fixtures/classic_index.html"),
    include_str!("../tests/fixtures/dynamic_views_post.html"),
    include_str!("../tests/fixtures/feed_atom_full.xml"),
    include_str!("../tests/fixtures/feed_atom_summary.xml"),
    include_str!("../tests/fixtures/feed_rss.xml"),
    include_str!("../tests/fixtures/feed_json_full.json"),
    include_str!("../tests/fixtures/post_entry_json.json"),
    GENERIC_PAGE,
    SITEMAP,
    SITEMAP_INDEX,
    JSON_FEED,
];

const GENERIC_PAGE: &str = r#"<!doctype html><html lang="en"><head><title>A page | Site</title>
<meta property="og:title" content="A page"><meta property="article:published_time" content="2024-03-01T10:00:00+01:00">
<script type="application/ld+json">{"@context":"https://schema.org","@graph":[{"@type":"NewsArticle","headline":"A page","author":[{"@type":"Person","name":"A. Writer"}],"datePublished":"2024-03-01","keywords":"one, two","commentCount":"3"}]}</script>
<link rel="canonical" href="/a-page"></head><body><nav><ul><li><a href="/">Home</a></li></ul></nav>
<main><article class="story-body"><h1>A page</h1><p>First paragraph, with commas, and enough words to be text.</p>
<figure><img src="x.jpg"><figcaption class="caption">A caption</figcaption></figure>
<div class="related"><a href="/b">Another story</a></div><p>Second paragraph, which goes on for a while, as they do.</p>
<table><tr><td>cell, with, commas, in it, for the scorer</td></tr></table></article></main>
<aside class="sidebar">Side</aside><footer>Footer</footer></body></html>"#;

const SITEMAP: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://example.com/a</loc><lastmod>2024-01-02</lastmod></url>
<url><loc>https://example.com/b</loc><lastmod>2024-01-02T03:04Z</lastmod></url></urlset>"#;

const SITEMAP_INDEX: &str = r#"<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://example.com/s1.xml.gz</loc></sitemap></sitemapindex>"#;

const JSON_FEED: &str = r#"{"version":"https://jsonfeed.org/version/1.1","title":"Feed","next_url":"https://example.com/feed?page=2",
"items":[{"id":"1","url":"https://example.com/a","title":"A","content_html":"<p>Hi</p>","date_published":"2024-01-02T03:04:05Z"}]}"#;

/// Fragments that stress the parsers: unbalanced tags, entities cut short, Blogger markers,
/// feed roots, odd dates, deep nesting openers.
const PIECES: &[&str] = &[
    "<div class='post-body entry-content' id='post-body-1'>",
    "</div>",
    "<br>",
    "<br/><br/>",
    "<p>",
    "</p>",
    "<h3 class='post-title entry-title'>",
    "<h1>",
    "&amp;",
    "&#x",
    "&#99999999;",
    "&",
    "<abbr class='published' title='2020-13-45T99:00:00+25:00'>",
    "<time class='published' datetime='2024-02-30T00:00:00Z'>",
    "<script type='application/ld+json'>{\"@type\":[\"BlogPosting\"],\"author\":[{\"name\":",
    "<script type='application/ld+json'>[[[[[[[[[[",
    "</script>",
    "<noscript>",
    "<template>",
    "'postId': '",
    "_WidgetManager._SetDataContext([{",
    "www.blogger.com/static/v1",
    "<link rel='service.post' href='https://www.blogger.com/feeds/123/posts/default'>",
    "<entry>",
    "</entry>",
    "<feed xmlns='http://www.w3.org/2005/Atom'>",
    "<rss version='2.0'><channel><item>",
    "<urlset>",
    "<sitemapindex>",
    "<loc>",
    "<lastmod>99999-99-99</lastmod>",
    "<thr:total>-5</thr:total>",
    "{\"feed\":{\"entry\":[{\"id\":{\"$t\":\"tag:blogger.com,1999:blog-1.post-2\"}",
    "{\"version\":\"https://jsonfeed.org/version/1\",\"items\":[",
    "é",
    "\u{0}",
    "\u{feff}",
    "\u{200b}",
    "\u{10FFFF}",
    "<![CDATA[",
    "]]>",
    "<!--",
    "-->",
    "<pre>",
    "<li>",
    "<ul>",
    "<a href='javascript:'>",
    "<a rel='tag' href='/search/label/x'>",
    "<section id='comments' data-num-comments='4294967296'>",
    "<meta name='generator' content='blogger'>",
    "<meta property='og:title' content=''>",
    "<meta name='author' content='https://x'>",
    "<table><tr><td>",
    "<form>",
    "<div style='display : none'>",
    "<div class='comments sidebar widget'>",
    "<article class='story'>",
    "text, with commas, and more, ",
    "<h2 class='date-header'><span>Monday, January 1, 2024</span></h2>",
    "<div class='blog-posts hfeed'>",
    "<div class='post-outer'>",
    "<html lang=''>",
    "<base href='::'>",
    "<link rel='canonical' href='http://[::1'>",
];

/// xorshift64*: small, deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// The largest char boundary of `s` at or before `i`.
fn floor_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn random_range(rng: &mut Rng, s: &str) -> (usize, usize) {
    let a = floor_boundary(s, rng.below(s.len() + 1));
    let max = if rng.below(4) == 0 { s.len() + 1 } else { 200 };
    let len = rng.below(max);
    let b = floor_boundary(s, a.saturating_add(len));
    (a, b.max(a))
}

fn random_text(rng: &mut Rng) -> String {
    let n = rng.below(40);
    (0..n)
        .map(|_| match rng.below(6) {
            0 => char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('?'),
            1 => ['<', '>', '"', '\'', '=', '/', '&', ';', '#', ' '][rng.below(10)],
            _ => char::from(b'a' + rng.below(26) as u8),
        })
        .collect()
}

/// One input: a seed, mutated a few times.
fn make_input(rng: &mut Rng, seeds: &[String]) -> String {
    let mut doc = if rng.below(8) == 0 {
        String::new()
    } else {
        seeds[rng.below(seeds.len())].clone()
    };
    let rounds = 1 + rng.below(8);
    for _ in 0..rounds {
        match rng.below(9) {
            // Truncate.
            0 => {
                let cut = floor_boundary(&doc, rng.below(doc.len() + 1));
                doc.truncate(cut);
            }
            // Delete a range.
            1 => {
                let (a, b) = random_range(rng, &doc);
                doc.replace_range(a..b, "");
            }
            // Duplicate a range.
            2 => {
                let (a, b) = random_range(rng, &doc);
                let copy = doc[a..b].to_string();
                let at = floor_boundary(&doc, rng.below(doc.len() + 1));
                doc.insert_str(at, &copy);
            }
            // Insert pieces.
            3 | 4 => {
                let at = floor_boundary(&doc, rng.below(doc.len() + 1));
                let mut ins = String::new();
                for _ in 0..1 + rng.below(12) {
                    ins.push_str(PIECES[rng.below(PIECES.len())]);
                }
                doc.insert_str(at, &ins);
            }
            // Insert random characters.
            5 => {
                let at = floor_boundary(&doc, rng.below(doc.len() + 1));
                doc.insert_str(at, &random_text(rng));
            }
            // Splice another seed's range in.
            6 => {
                let other = &seeds[rng.below(seeds.len())];
                let (a, b) = random_range(rng, other);
                let at = floor_boundary(&doc, rng.below(doc.len() + 1));
                doc.insert_str(at, &other[a..b]);
            }
            // Deep nesting.
            7 => {
                let depth = rng.below(3000);
                let tag = ["div", "p", "li", "blockquote", "span", "table"][rng.below(6)];
                let at = floor_boundary(&doc, rng.below(doc.len() + 1));
                let open = format!("<{tag} class='post-body'>").repeat(depth);
                doc.insert_str(at, &open);
            }
            // Flip angle brackets and quotes.
            _ => {
                let (a, b) = random_range(rng, &doc);
                let flipped: String = doc[a..b]
                    .chars()
                    .map(|c| match c {
                        '<' => '>',
                        '>' => '<',
                        '"' => '\'',
                        '\'' => '"',
                        c => c,
                    })
                    .collect();
                doc.replace_range(a..b, &flipped);
            }
        }
    }
    doc
}

fn gzip(s: &str) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(s.as_bytes());
    enc.finish().unwrap_or_default()
}

fn run_all(doc: &str, gz: bool) {
    let url = "http://x.blogspot.de/2020/01/a.html?m=1";
    let _ = gleaner_scrape::extract(doc, url);
    let _ = gleaner_scrape::extract(doc, "not a url");
    let _ = gleaner_scrape::extract_index(doc, url);
    let _ = gleaner_scrape::html_to_blocks(doc);
    let _ = gleaner_scrape::blogger_feed::parse_feed(doc);
    let _ = gleaner_scrape::discovery::parse_generic_feed(doc.as_bytes());
    let _ = gleaner_scrape::discovery::parse_sitemap(doc.as_bytes());
    if gz {
        let _ = gleaner_scrape::discovery::parse_sitemap(&gzip(doc));
    }
}

fn load_seed_dir(dir: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("fuzz_run: seed folder {dir} is missing; using the built-in seeds only");
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter_map(|p| {
            let name = p.to_string_lossy().into_owned();
            let bytes = std::fs::read(&p).ok()?;
            if name.ends_with(".gz") {
                let mut raw = Vec::new();
                flate2::read::MultiGzDecoder::new(&bytes[..])
                    .read_to_end(&mut raw)
                    .ok()?;
                Some(String::from_utf8_lossy(&raw).into_owned())
            } else if [".html", ".xml", ".json"].iter().any(|x| name.ends_with(x)) {
                Some(String::from_utf8_lossy(&bytes).into_owned())
            } else {
                None
            }
        })
        .collect()
}

/// Run saved inputs (e.g. `fuzz-failure-1.bin`) through every parser again.
fn replay(files: &[String]) -> ExitCode {
    let mut failures = 0;
    for f in files {
        let Ok(bytes) = std::fs::read(f) else {
            eprintln!("fuzz_run: cannot read {f}");
            failures += 1;
            continue;
        };
        let doc = String::from_utf8_lossy(&bytes);
        let ok = catch_unwind(AssertUnwindSafe(|| run_all(&doc, true))).is_ok();
        eprintln!("fuzz_run: {f}: {}", if ok { "ok" } else { "PANIC" });
        failures += usize::from(!ok);
    }
    if failures > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("replay") {
        return replay(args.get(1..).unwrap_or_default());
    }
    let Some(minutes) = args.first().and_then(|m| m.parse::<f64>().ok()) else {
        eprintln!("usage: fuzz_run MINUTES [SEED] [SEED_DIR]");
        return ExitCode::from(2);
    };
    let seed = args
        .get(1)
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15)
        .max(1);
    let mut seeds: Vec<String> = FIXTURES.iter().map(|s| s.to_string()).collect();
    if let Some(dir) = args.get(2) {
        let extra = load_seed_dir(dir);
        eprintln!("fuzz_run: {} extra seeds from {dir}", extra.len());
        seeds.extend(extra);
    }
    let budget = Duration::from_secs_f64(minutes * 60.0);
    let start = Instant::now();
    let mut rng = Rng(seed);
    let (mut inputs, mut failures, mut bytes) = (0u64, 0u64, 0u64);
    let mut slowest = (Duration::ZERO, 0usize);
    let mut last_report = Instant::now();
    while start.elapsed() < budget {
        let doc = make_input(&mut rng, &seeds);
        let gz = rng.below(16) == 0;
        let t = Instant::now();
        let ok = catch_unwind(AssertUnwindSafe(|| run_all(&doc, gz))).is_ok();
        let took = t.elapsed();
        if took > slowest.0 {
            slowest = (took, doc.len());
            if took > Duration::from_secs(1) {
                let path = std::env::temp_dir().join("fuzz-slowest.bin");
                let _ = std::fs::write(&path, doc.as_bytes());
            }
        }
        inputs += 1;
        bytes += doc.len() as u64;
        if !ok {
            failures += 1;
            let path = std::env::temp_dir().join(format!("fuzz-failure-{failures}.bin"));
            let _ = std::fs::write(&path, doc.as_bytes());
            eprintln!(
                "fuzz_run: PANIC on input {inputs}, saved to {}",
                path.display()
            );
        }
        if last_report.elapsed() > Duration::from_secs(60) {
            eprintln!(
                "fuzz_run: {:.0} s, {inputs} inputs, {failures} panics",
                start.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
    }
    eprintln!(
        "fuzz_run: ran {:.1} s (seed {seed}), {inputs} inputs ({:.1} MB of markup), {failures} panics; \
         slowest input {:.1} ms ({} bytes)",
        start.elapsed().as_secs_f64(),
        bytes as f64 / 1e6,
        slowest.0.as_secs_f64() * 1e3,
        slowest.1
    );
    if failures > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
