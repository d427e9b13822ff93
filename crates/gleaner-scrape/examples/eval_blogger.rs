//! Field-by-field evaluation of the Blogger extractor and feed parser against a gold file.
//!
//! ```text
//! cargo run -p gleaner-scrape --example eval_blogger [DIR]
//! ```
//!
//! `DIR` (default: `../shared/eval/blogger` relative to the workspace root) holds the saved
//! pages and feeds and a `gold.json` listing them: `kind` is `post`, `index`, `feed` or
//! `comments-feed`, with the expected fields. Every field named in the gold is compared and
//! printed as `ok` or `WRONG` (with what was got and what was wanted), then a total. Bodies
//! are compared on the blocks joined with a blank line, whitespace collapsed (the cleaner is
//! another crate). Index pages are read with `extract_index`; other kinds are listed as
//! skipped.
//!
//! Exit status: 0 when every compared field is right, 1 when some are wrong, 2 when the
//! directory or its gold file is missing or unreadable.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, FixedOffset};
use gleaner_scrape::blogger_feed::{FeedPage, parse_feed};
use gleaner_scrape::extract;
use serde_json::Value;

struct Tally {
    ok: usize,
    wrong: usize,
    skipped: usize,
}

impl Tally {
    fn check(&mut self, file: &str, field: &str, ok: bool, got: &str, want: &str) {
        if ok {
            self.ok += 1;
            println!("{file:<46} {field:<22} ok     {}", short(got));
        } else {
            self.wrong += 1;
            println!(
                "{file:<46} {field:<22} WRONG  got {} want {}",
                short(got),
                short(want)
            );
        }
    }
}

fn short(s: &str) -> String {
    let s: String = s.chars().take(70).collect();
    format!("{s:?}")
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn opt_str(v: Option<&str>) -> String {
    v.map_or_else(|| "null".to_string(), str::to_string)
}

fn date_matches(got: Option<DateTime<FixedOffset>>, want: &Value) -> (bool, String, String) {
    let got_s = got.map_or_else(|| "null".to_string(), |d| d.to_rfc3339());
    match want {
        Value::Null => (got.is_none(), got_s, "null".into()),
        Value::String(w) => {
            let want_t = DateTime::parse_from_rfc3339(w).ok();
            let ok = match (got, want_t) {
                (Some(g), Some(w)) => g == w && g.offset() == w.offset(),
                _ => false,
            };
            (ok, got_s, w.clone())
        }
        other => (false, got_s, other.to_string()),
    }
}

fn labels_json(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn count_matches(got: Option<u32>, want: &Value) -> (bool, String, String) {
    let got_s = got.map_or_else(|| "null".to_string(), |c| c.to_string());
    let ok = match want {
        Value::Null => got.is_none(),
        v => v.as_u64().is_some_and(|w| got.map(u64::from) == Some(w)),
    };
    (ok, got_s, want.to_string())
}

fn eval_post(t: &mut Tally, dir: &Path, g: &Value) {
    let file = g["file"].as_str().unwrap_or_default();
    let Ok(html) = std::fs::read_to_string(dir.join(file)) else {
        t.check(file, "read", false, "unreadable", "file");
        return;
    };
    let url = g["url"].as_str().unwrap_or_default();
    let a = extract(&html, url);
    let body = collapse(
        &a.blocks
            .iter()
            .map(|b| b.text.as_str())
            .collect::<Vec<_>>()
            .join("\n\n"),
    );
    if let Some(w) = g.get("title") {
        let w = w.as_str().unwrap_or_default();
        t.check(
            file,
            "title",
            a.title.as_deref() == Some(w),
            &opt_str(a.title.as_deref()),
            w,
        );
    }
    if let Some(w) = g.get("author") {
        let w = w.as_str().unwrap_or_default();
        t.check(
            file,
            "author",
            a.author.as_deref() == Some(w),
            &opt_str(a.author.as_deref()),
            w,
        );
    }
    if let Some(w) = g.get("published") {
        let (ok, got, want) = date_matches(a.published_at, w);
        t.check(file, "published", ok, &got, &want);
    }
    if let Some(w) = g.get("labels") {
        let want = labels_json(w);
        t.check(
            file,
            "labels",
            a.labels == want,
            &format!("{:?}", a.labels),
            &format!("{want:?}"),
        );
    }
    if let Some(w) = g.get("comments") {
        let (ok, got, want) = count_matches(a.comments_count, w);
        t.check(file, "comments", ok, &got, &want);
    }
    if let Some(w) = g.get("post_id") {
        let w = w.as_str().unwrap_or_default();
        t.check(
            file,
            "post_id",
            a.blogger_post_id.as_deref() == Some(w),
            &opt_str(a.blogger_post_id.as_deref()),
            w,
        );
    }
    if let Some(w) = g.get("blog_id") {
        let w = w.as_str().unwrap_or_default();
        t.check(
            file,
            "blog_id",
            a.blog_id.as_deref() == Some(w),
            &opt_str(a.blog_id.as_deref()),
            w,
        );
    }
    if let Some(w) = g.get("language") {
        let w = w.as_str().unwrap_or_default();
        let got = a.language_hint.clone().unwrap_or_default();
        let primary = got
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        t.check(file, "language", primary == w, &got, w);
    }
    if let Some(w) = g.get("body_starts").and_then(Value::as_str) {
        let w = collapse(w);
        t.check(file, "body_starts", body.starts_with(&w), &body, &w);
    }
    if let Some(w) = g.get("body_ends").and_then(Value::as_str) {
        let w = collapse(w);
        let tail: String = {
            let n = body.chars().count();
            body.chars().skip(n.saturating_sub(70)).collect()
        };
        t.check(file, "body_ends", body.ends_with(&w), &tail, &w);
    }
    if let Some(list) = g.get("body_excludes").and_then(Value::as_array) {
        for w in list.iter().filter_map(Value::as_str) {
            let found = body.contains(w);
            t.check(
                file,
                &format!("body_excludes {w}"),
                !found,
                if found { "present" } else { "absent" },
                "absent",
            );
        }
    }
    if g.get("body_starts").is_none()
        && g["note"]
            .as_str()
            .is_some_and(|n| n.contains("Dynamic Views"))
    {
        let feed = gleaner_scrape::dynamic_views_feed_url(&a);
        t.check(
            file,
            "dynamic_views_feed_url",
            feed.is_some(),
            &opt_str(feed.as_deref()),
            "a per-post feed URL",
        );
    }
}

fn eval_feed(t: &mut Tally, dir: &Path, g: &Value) {
    let file = g["file"].as_str().unwrap_or_default();
    let Ok(body) = std::fs::read_to_string(dir.join(file)) else {
        t.check(file, "read", false, "unreadable", "file");
        return;
    };
    let page: FeedPage = match parse_feed(&body) {
        Ok(p) => p,
        Err(e) => {
            t.check(file, "parse", false, &e.to_string(), "a feed page");
            return;
        }
    };
    t.check(
        file,
        "parse",
        !page.entries.is_empty(),
        &format!("{} entries", page.entries.len()),
        "entries",
    );
    if let Some(w) = g.get("total") {
        let ok = w.as_u64() == page.total_results;
        t.check(
            file,
            "total",
            ok,
            &format!("{:?}", page.total_results),
            &w.to_string(),
        );
    }
    if let Some(w) = g.get("next") {
        let ok = w.as_str() == page.next.as_deref();
        t.check(
            file,
            "next",
            ok,
            &opt_str(page.next.as_deref()),
            &w.to_string(),
        );
    }
    if g["kind"] == "feed" {
        let with_ids = page
            .entries
            .iter()
            .filter(|e| e.article.blogger_post_id.is_some())
            .count();
        t.check(
            file,
            "post_ids",
            with_ids == page.entries.len(),
            &format!("{with_ids}/{}", page.entries.len()),
            "every entry",
        );
    }
    let Some(first) = g.get("first") else { return };
    let Some(e) = page.entries.first() else {
        t.check(file, "first", false, "no entry", "an entry");
        return;
    };
    let a = &e.article;
    if let Some(w) = first.get("title").and_then(Value::as_str) {
        t.check(
            file,
            "first.title",
            a.title.as_deref() == Some(w),
            &opt_str(a.title.as_deref()),
            w,
        );
    }
    if let Some(w) = first.get("author").and_then(Value::as_str) {
        t.check(
            file,
            "first.author",
            a.author.as_deref() == Some(w),
            &opt_str(a.author.as_deref()),
            w,
        );
    }
    if let Some(w) = first.get("published") {
        let (ok, got, want) = date_matches(a.published_at, w);
        t.check(file, "first.published", ok, &got, &want);
    }
    if let Some(w) = first.get("updated") {
        let (ok, got, want) = date_matches(a.updated_at, w);
        t.check(file, "first.updated", ok, &got, &want);
    }
    if let Some(w) = first.get("labels") {
        let want = labels_json(w);
        t.check(
            file,
            "first.labels",
            a.labels == want,
            &format!("{:?}", a.labels),
            &format!("{want:?}"),
        );
    }
    if let Some(w) = first.get("comments") {
        let (ok, got, want) = count_matches(a.comments_count, w);
        t.check(file, "first.comments", ok, &got, &want);
    }
}

fn eval_index(t: &mut Tally, dir: &Path, g: &Value) {
    let file = g["file"].as_str().unwrap_or_default();
    let Ok(html) = std::fs::read_to_string(dir.join(file)) else {
        t.check(file, "read", false, "unreadable", "file");
        return;
    };
    let url = g["url"].as_str().unwrap_or_default();
    let got = gleaner_scrape::extract_index(&html, url);
    let want = g["posts"].as_array().cloned().unwrap_or_default();
    t.check(
        file,
        "posts",
        got.len() == want.len(),
        &got.len().to_string(),
        &want.len().to_string(),
    );
    for (i, w) in want.iter().enumerate() {
        let p = got.get(i).cloned().unwrap_or_default();
        if let Some(wt) = w.get("title").and_then(Value::as_str) {
            let gt = p.title.clone().unwrap_or_default();
            t.check(file, &format!("posts[{i}].title"), gt == wt, &gt, wt);
        }
        if let Some(wp) = w.get("published") {
            let (ok, got_s, want_s) = date_matches(p.published_at, wp);
            t.check(file, &format!("posts[{i}].published"), ok, &got_s, &want_s);
        }
        if let Some(wu) = w.get("url_path").and_then(Value::as_str) {
            let path = p
                .url
                .as_deref()
                .and_then(|u| url::Url::parse(u).ok())
                .map(|u| u.path().to_string());
            t.check(
                file,
                &format!("posts[{i}].url_path"),
                path.as_deref() == Some(wu),
                &opt_str(path.as_deref()),
                wu,
            );
        }
        if let Some(wc) = w.get("comments") {
            let (ok, got_s, want_s) = count_matches(p.comments_count, wc);
            t.check(file, &format!("posts[{i}].comments"), ok, &got_s, &want_s);
        }
    }
}

fn default_dir() -> PathBuf {
    // CARGO_MANIFEST_DIR is crates/gleaner-scrape; the workspace root is two levels up.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eval/blogger")
}

fn main() -> ExitCode {
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(default_dir, PathBuf::from);
    let gold_path = dir.join("gold.json");
    if !dir.is_dir() {
        eprintln!(
            "eval_blogger: evaluation directory {} does not exist (pass DIR as the first argument)",
            dir.display()
        );
        return ExitCode::from(2);
    }
    let gold: Value = match std::fs::read_to_string(&gold_path).map(|s| serde_json::from_str(&s)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            eprintln!(
                "eval_blogger: {} is not valid JSON: {e}",
                gold_path.display()
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("eval_blogger: cannot read {}: {e}", gold_path.display());
            return ExitCode::from(2);
        }
    };
    let mut t = Tally {
        ok: 0,
        wrong: 0,
        skipped: 0,
    };
    for g in gold.as_array().into_iter().flatten() {
        let file = g["file"].as_str().unwrap_or_default();
        match g["kind"].as_str().unwrap_or_default() {
            "post" => eval_post(&mut t, &dir, g),
            "feed" | "comments-feed" => eval_feed(&mut t, &dir, g),
            "index" => eval_index(&mut t, &dir, g),
            other => {
                t.skipped += 1;
                println!(
                    "{file:<46} {:<22} skipped ({other} pages: not evaluated yet)",
                    "-"
                );
            }
        }
    }
    println!();
    println!(
        "total: {} ok, {} WRONG, {} files skipped",
        t.ok, t.wrong, t.skipped
    );
    if t.wrong == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
