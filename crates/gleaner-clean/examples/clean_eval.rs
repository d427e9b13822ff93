//! Evaluation of scrape + clean on the real Blogger post pages of `../shared/eval/blogger`.
//!
//! ```text
//! cargo run -p gleaner-clean --example clean_eval [--show] [DIR]
//! ```
//!
//! `--show` prints each cleaned title and body under its page's line.
//!
//! `DIR` (default: `../shared/eval/blogger` next to the workspace) holds saved pages and a
//! `gold.json`. Every entry of kind `post` is read with `gleaner_scrape::extract` and cleaned
//! with `gleaner_clean::clean`, then checked:
//!
//! - `start` / `end`: the body begins with the gold `body_starts` and ends with `body_ends`
//!   (white space collapsed on both sides);
//! - `excludes`: none of the gold `body_excludes` is in the body;
//! - `boilerplate`: no line of the body is one of Blogger's interface strings in any of the
//!   eleven languages of `tests/common/ui_strings.rs`, nor is recognised as boilerplate;
//! - `kept`: every line of the scraped blocks that reads as a sentence (six words or more)
//!   and is not boilerplate is still in the body: cleaning lost no real text;
//! - `language`: the gold `language` (when given; else the page's declared language);
//! - `title`: the cleaned title is the gold `title`.
//!
//! Every entry of kind `feed` is read with `parse_feed`, and each full-content entry cleaned
//! and checked for `boilerplate` and `kept` as above; the languages found are listed.
//!
//! When the article-extraction benchmark is next to it (`DIR/../aeb-dev`), its 88 real pages
//! are scraped and cleaned too, and every ground-truth line of six words or more that the
//! scraper found must still be in the cleaned body: cleaning loses no real sentence.
//!
//! One line per page, then a total. Exit status: 0 when every check passes, 1 when some
//! fail, 2 when the directory or its gold file is missing (a clone of the project has no
//! `../shared`; this command is for CI and developers who have it).

#[path = "../tests/common/ui_strings.rs"]
#[allow(dead_code)]
mod ui_strings;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gleaner_clean::{clean, is_boilerplate_line, normalize_inline};
use gleaner_model::{BlockKind, ScrapedArticle};
use gleaner_scrape::blogger_feed::parse_feed;
use serde_json::Value;

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Lowercase, single spaces, trailing separators off: how an interface string is compared.
fn fold(s: &str) -> String {
    collapse(&s.to_lowercase())
        .trim_matches(|c: char| c.is_whitespace() || matches!(c, ':' | '.' | '!' | '|' | '·'))
        .to_string()
}

fn short(s: &str) -> String {
    let s: String = s.chars().take(60).collect();
    format!("{s:?}")
}

fn default_dir() -> PathBuf {
    // CARGO_MANIFEST_DIR is crates/gleaner-clean; the workspace root is two levels up.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eval/blogger")
}

#[derive(Default)]
struct PageResult {
    shown: String,
    checks: usize,
    failures: Vec<String>,
    summary: String,
}

fn eval_post(dir: &Path, g: &Value) -> PageResult {
    let mut r = PageResult::default();
    let file = g["file"].as_str().unwrap_or_default();
    let html = match std::fs::read(dir.join(file)) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            r.checks += 1;
            r.failures.push(format!("unreadable: {e}"));
            return r;
        }
    };
    let url = g["url"].as_str().unwrap_or_default();
    let scraped = gleaner_scrape::extract(&html, url);
    let cleaned = clean(&scraped);
    let body = collapse(&cleaned.body);
    let mut check = |ok: bool, what: String| {
        r.checks += 1;
        if !ok {
            r.failures.push(what);
        }
    };

    if let Some(w) = g.get("body_starts").and_then(Value::as_str) {
        check(
            body.starts_with(&collapse(w)),
            format!("start: got {} want {}", short(&body), short(w)),
        );
    }
    if let Some(w) = g.get("body_ends").and_then(Value::as_str) {
        let tail: String = {
            let chars: Vec<char> = body.chars().collect();
            chars[chars.len().saturating_sub(60)..].iter().collect()
        };
        check(
            body.ends_with(&collapse(w)),
            format!("end: got …{tail:?} want {}", short(w)),
        );
    }
    for x in g
        .get("body_excludes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        check(!body.contains(x), format!("excluded text present: {x:?}"));
    }

    let furniture = furniture_lines(&cleaned.body);
    check(
        furniture.is_empty(),
        format!("boilerplate left: {}", furniture.join(", ")),
    );
    let (sentences, lost) = lost_lines(&scraped, &body);
    check(
        lost.is_empty(),
        format!("lost {} line(s): {}", lost.len(), lost.join(", ")),
    );

    let want_lang = g
        .get("language")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            scraped
                .language_hint
                .as_deref()
                .and_then(|h| h.split(['-', '_']).next())
                .map(str::to_ascii_lowercase)
        });
    if let Some(w) = &want_lang {
        check(
            cleaned.language.as_deref() == Some(w.as_str()),
            format!("language: got {:?} want {w:?}", cleaned.language),
        );
    }
    if let Some(w) = g.get("title").and_then(Value::as_str) {
        check(
            cleaned.title == w,
            format!("title: got {:?} want {w:?}", cleaned.title),
        );
    }
    r.shown = format!("title: {}\n\n{}\n", cleaned.title, cleaned.body);
    r.summary = format!(
        "lang={:<4} words={:<5} paragraphs={:<3} sentence-lines={:<3} blocks={}",
        cleaned.language.as_deref().unwrap_or("-"),
        cleaned.word_count,
        if cleaned.body.is_empty() {
            0
        } else {
            cleaned.body.split("\n\n").count()
        },
        sentences,
        scraped.blocks.len(),
    );
    r
}

/// Lines of `body` that are one of Blogger's interface strings (in any language of the
/// table) or that the cleaner itself calls boilerplate.
fn furniture_lines(body: &str) -> Vec<String> {
    let known: Vec<(&str, String)> = ui_strings::UI_STRINGS
        .iter()
        .flat_map(|(code, lines)| lines.iter().map(move |l| (*code, fold(l))))
        .collect();
    let mut furniture = Vec::new();
    for line in body.lines() {
        let f = fold(line);
        if let Some((code, _)) = known.iter().find(|(_, k)| *k == f) {
            furniture.push(format!("{code}: {line:?}"));
        } else if is_boilerplate_line(line) {
            furniture.push(format!("{line:?}"));
        }
    }
    furniture
}

/// Every line of the scraped blocks that reads as a sentence (six words or more) and is not
/// boilerplate, and those of them missing from the collapsed `body`.
fn lost_lines(scraped: &ScrapedArticle, body: &str) -> (usize, Vec<String>) {
    let mut lost = Vec::new();
    let mut sentences = 0;
    for b in &scraped.blocks {
        if b.kind == BlockKind::Preformatted {
            continue;
        }
        for line in normalize_inline(&b.text).lines() {
            if line.split_whitespace().count() < 6 || is_boilerplate_line(line) {
                continue;
            }
            sentences += 1;
            if !body.contains(&collapse(line)) {
                lost.push(short(line));
            }
        }
    }
    (sentences, lost)
}

/// Clean every full-content entry of a feed: no furniture left, no sentence lost.
fn eval_feed(dir: &Path, g: &Value) -> PageResult {
    let mut r = PageResult::default();
    let file = g["file"].as_str().unwrap_or_default();
    let page = match std::fs::read(dir.join(file))
        .map_err(|e| e.to_string())
        .and_then(|b| parse_feed(&String::from_utf8_lossy(&b)).map_err(|e| e.to_string()))
    {
        Ok(p) => p,
        Err(e) => {
            r.checks += 1;
            r.failures.push(format!("unreadable: {e}"));
            return r;
        }
    };
    let mut languages: BTreeMap<String, usize> = BTreeMap::new();
    let (mut entries, mut words) = (0, 0);
    for entry in page.entries.iter().filter(|e| e.full_content) {
        entries += 1;
        let cleaned = clean(&entry.article);
        words += cleaned.word_count;
        *languages
            .entry(cleaned.language.clone().unwrap_or_else(|| "-".into()))
            .or_default() += 1;
        let furniture = furniture_lines(&cleaned.body);
        let (_, lost) = lost_lines(&entry.article, &collapse(&cleaned.body));
        r.checks += 2;
        if !furniture.is_empty() {
            r.failures.push(format!(
                "{}: boilerplate left: {}",
                entry.url,
                furniture.join(", ")
            ));
        }
        if !lost.is_empty() {
            r.failures
                .push(format!("{}: lost {}", entry.url, lost.join(", ")));
        }
        r.shown
            .push_str(&format!("title: {}\n\n{}\n\n", cleaned.title, cleaned.body));
    }
    let langs: Vec<String> = languages.iter().map(|(l, n)| format!("{l}x{n}")).collect();
    r.summary = format!(
        "entries={entries:<3} words={words:<6} languages={}",
        langs.join(" ")
    );
    r
}

/// The article-extraction benchmark next to the Blogger pages (`../aeb-dev`): 88 real pages
/// in several languages with their ground-truth text. Cleaning must not lose any of it: every
/// ground-truth line (six words or more) the scraper found must still be in the cleaned body.
/// Returns (pages, lines checked, lines lost), printing each page that lost something.
fn eval_aeb(dir: &Path) -> Option<(usize, usize, usize)> {
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("ground-truth.json")).ok()?).ok()?;
    let truth = truth.as_object()?;
    let (mut pages, mut checked, mut lost_total) = (0, 0, 0);
    for (id, entry) in truth {
        let Ok(file) = std::fs::File::open(dir.join("html").join(format!("{id}.html.gz"))) else {
            continue;
        };
        let mut bytes = Vec::new();
        if std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(file), &mut bytes).is_err()
        {
            continue;
        }
        let html = String::from_utf8_lossy(&bytes);
        let scraped = gleaner_scrape::extract(&html, "https://example.com/article");
        let scraped_text = collapse(
            &scraped
                .blocks
                .iter()
                .map(|b| normalize_inline(&b.text))
                .collect::<Vec<_>>()
                .join(" "),
        );
        let body = collapse(&clean(&scraped).body);
        pages += 1;
        let mut lost = Vec::new();
        let gold = entry["articleBody"].as_str().unwrap_or_default();
        for line in normalize_inline(gold).lines() {
            let line = collapse(line);
            if line.split_whitespace().count() < 6 || !scraped_text.contains(&line) {
                continue;
            }
            checked += 1;
            if !body.contains(&line) {
                lost.push(short(&line));
            }
        }
        if !lost.is_empty() {
            println!("{id:.16}… lost {}: {}", lost.len(), lost.join(", "));
        }
        lost_total += lost.len();
    }
    Some((pages, checked, lost_total))
}

fn main() -> ExitCode {
    let mut args: Vec<_> = std::env::args_os().skip(1).collect();
    let show = args.iter().any(|a| a == "--show");
    args.retain(|a| a != "--show");
    let dir = args
        .into_iter()
        .next()
        .map_or_else(default_dir, PathBuf::from);
    let gold_path = dir.join("gold.json");
    if !dir.is_dir() {
        eprintln!(
            "clean_eval: evaluation directory {} does not exist: it is ../shared/eval/blogger, \
             which CI and the developers have and a clone of the project does not \
             (pass DIR as the first argument)",
            dir.display()
        );
        return ExitCode::from(2);
    }
    let gold: Value = match std::fs::read_to_string(&gold_path).map(|s| serde_json::from_str(&s)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            eprintln!("clean_eval: {} is not valid JSON: {e}", gold_path.display());
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("clean_eval: cannot read {}: {e}", gold_path.display());
            return ExitCode::from(2);
        }
    };
    let entries = gold.as_array().cloned().unwrap_or_default();
    let (mut pages, mut pages_ok, mut checks, mut failed) = (0, 0, 0, 0);
    let evaluated = entries.iter().filter_map(|g| match g["kind"].as_str() {
        Some("post") => Some((g, eval_post(&dir, g))),
        Some("feed") => Some((g, eval_feed(&dir, g))),
        _ => None,
    });
    for (g, r) in evaluated {
        let file = g["file"].as_str().unwrap_or_default();
        pages += 1;
        checks += r.checks;
        failed += r.failures.len();
        if r.failures.is_empty() {
            pages_ok += 1;
            println!("{file:<46} ok     {} ({} checks)", r.summary, r.checks);
        } else {
            println!("{file:<46} WRONG  {}", r.summary);
            for f in &r.failures {
                println!("{:<46}   - {f}", "");
            }
        }
        if show {
            println!("{}", r.shown);
        }
    }
    println!(
        "total: {pages_ok}/{pages} pages and feeds clean, {}/{checks} checks passed",
        checks - failed
    );
    let aeb = dir.join("../aeb-dev");
    let mut aeb_lost = 0;
    if aeb.is_dir() {
        match eval_aeb(&aeb) {
            Some((n, checked, lost)) => {
                aeb_lost = lost;
                println!(
                    "aeb-dev: {n} pages, {} of {checked} ground-truth lines the scraper found are in the cleaned body",
                    checked - lost
                );
            }
            None => println!("aeb-dev: {} unreadable, skipped", aeb.display()),
        }
    }
    if pages == 0 {
        eprintln!("clean_eval: {} lists no post pages", gold_path.display());
        return ExitCode::from(2);
    }
    if failed == 0 && aeb_lost == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
