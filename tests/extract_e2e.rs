//! End to end: `gleaner extract` over saved pages written by the tests — many files at once
//! (processed in parallel, printed in input order), a gzip bomb (a clear error, bounded
//! memory, the other files still extracted), and an ordinary page whose table makes the HTML
//! parser talk to itself (nothing of that on the terminal unless asked for with `-v -v`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::{assert_exit, gleaner, stderr, stdout};
use serde_json::Value;

/// A news page of `paragraphs` paragraphs with `title`, written for these tests.
fn page(title: &str, paragraphs: usize) -> String {
    let mut body = String::new();
    for i in 0..paragraphs {
        body.push_str(&format!(
            "<p>In paragraph {i} of the report, the city council of Norbridge said on Tuesday \
             that the new tram line would open in March, after two years of work and a budget \
             that grew by a fifth. Mayor Elena Varga told reporters the delay was caused by \
             the supply of rails.</p>\n"
        ));
    }
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         </head><body><header><a href=\"/\">Home</a> <a href=\"/news\">News</a></header>\
         <article><h1>{title}</h1>\n{body}</article><footer>© Norbridge Courier</footer>\
         </body></html>"
    )
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Like `common::gleaner`, with environment variables set.
fn gleaner_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_gleaner"))
        .current_dir(dir)
        .args(args)
        .env_remove("GLEANER_DB")
        .env_remove("GLEANER_CONFIG")
        .env_remove("GLEANER_LOG")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn json_lines(out: &std::process::Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn many_files_come_out_in_input_order() {
    let dir = tempfile::tempdir().unwrap();
    // Long and short pages mixed, so later files finish before earlier ones on other threads.
    let mut names = Vec::new();
    for i in 0..40 {
        let paragraphs = if i % 3 == 0 { 60 } else { 1 + i % 5 };
        let name = format!("page-{i:02}.html");
        write(
            dir.path(),
            &name,
            page(&format!("Tram report number {i}"), paragraphs).as_bytes(),
        );
        names.push(name);
    }
    let mut args = vec!["extract"];
    args.extend(names.iter().map(String::as_str));
    let out = gleaner(dir.path(), &args);
    assert_exit(&out, 0);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), names.len(), "one JSON article per file");
    for (i, (line, name)) in lines.iter().zip(&names).enumerate() {
        assert!(
            line["url"].as_str().unwrap().ends_with(name.as_str()),
            "line {i}: {}",
            line["url"]
        );
        assert_eq!(line["title"], format!("Tram report number {i}"));
    }
}

/// A gzip file that unpacks to `copies` × 16 MiB: gzip members strung together (each one
/// 16 MiB of the same text), as `MultiGzDecoder` and `gunzip` read them.
fn gzip_bomb(copies: usize) -> Vec<u8> {
    let mut member = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    member.write_all(b"<html><body><p>").unwrap();
    let chunk = vec![b'a'; 1024 * 1024];
    for _ in 0..16 {
        member.write_all(&chunk).unwrap();
    }
    let member = member.finish().unwrap();
    member.repeat(copies)
}

#[test]
fn a_gzip_bomb_is_refused_with_a_clear_error_in_bounded_memory_and_the_rest_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = gzip_bomb(32); // 512 MiB unpacked, a few MiB on disk
    assert!(
        bomb.len() < 10 * 1024 * 1024,
        "smaller than the limit on disk"
    );
    write(dir.path(), "bomb.html.gz", &bomb);
    write(
        dir.path(),
        "before.html",
        page("Before the bomb", 3).as_bytes(),
    );
    write(
        dir.path(),
        "after.html",
        page("After the bomb", 3).as_bytes(),
    );
    let out = gleaner_with_env(
        dir.path(),
        &[
            "--log-format",
            "json",
            "extract",
            "before.html",
            "bomb.html.gz",
            "after.html",
        ],
        &[("GLEANER_LOG", "gleaner::resources=debug")],
    );
    // Exit 1: one file failed, the others were extracted.
    assert_exit(&out, 1);
    let lines = json_lines(&out);
    let titles: Vec<&str> = lines.iter().map(|l| l["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Before the bomb", "After the bomb"]);
    let err = stderr(&out);
    assert!(
        err.contains("bomb.html.gz")
            && err.contains("unpacks to more than 10485760 bytes")
            && err.contains("max_body_bytes"),
        "{err}"
    );
    // Peak memory, as the process measured it (VmHWM) when it ended: a small fraction of the
    // 512 MiB the file unpacks to.
    let resources: Value = err
        .lines()
        .find(|l| l.contains("resources used"))
        .map(|l| serde_json::from_str(l).unwrap())
        .expect("the resources line");
    if let Some(peak) = resources["fields"]["peak_rss_kib"].as_u64() {
        assert!(peak < 150 * 1024, "peak RSS {peak} KiB");
    }
}

#[test]
fn a_plain_file_over_the_limit_is_refused_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut huge = page("Huge", 1).into_bytes();
    huge.resize(11 * 1024 * 1024, b' ');
    write(dir.path(), "huge.html", &huge);
    let out = gleaner(dir.path(), &["extract", "huge.html"]);
    assert_exit(&out, 1);
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("huge.html is larger than 10485760 bytes"),
        "{err}"
    );
}

#[test]
fn the_html_parsers_own_notes_stay_off_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    // A paragraph straight inside a table (a common authoring slip): the parser moves it
    // out of the table ("foster parenting") and logs a note about it.
    let html = page("Council minutes", 4).replace(
        "</article>",
        "<table><tr><td>Votes</td><td>12</td></tr><p>Stray note in the table.</p></table>\
         </article>",
    );
    write(dir.path(), "minutes.html", html.as_bytes());
    let out = gleaner(dir.path(), &["extract", "minutes.html"]);
    assert_exit(&out, 0);
    assert_eq!(json_lines(&out)[0]["title"], "Council minutes");
    assert!(
        !stderr(&out).contains("foster"),
        "library chatter on stderr: {}",
        stderr(&out)
    );
    // The page does make the parser talk: with -v -v everything is shown.
    let out = gleaner(dir.path(), &["-v", "-v", "extract", "minutes.html"]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("foster parenting"),
        "{}",
        stderr(&out)
    );
}
