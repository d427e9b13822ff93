//! End to end, the ninth round of hostile sources: the fault the eighth round left (a feed
//! that gives its linkless items a new id on every read), and what an adversarial review
//! found after it. Each test is a source or a server behaving as real ones do, served from
//! 127.0.0.1, with the real binary and a real SQLite file.
//!
//! `GLEANER_TEST_BIN=/path/to/gleaner` runs these tests against another build (the session's
//! start, to see the faults); by default they run the binary of this tree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestServer;
use common::hostile::{assert_exit, config, db_number, rss_channel, run, stored_articles};
use common::stderr;

// ---------------------------------------------------------------- linkless items, new ids

/// A linkless RSS item: its text in the description, its id `guid`, published at `minute`.
fn linkless_item(title: &str, text: &str, guid: &str, minute: u32) -> String {
    format!(
        "<item><title>{title}</title><guid isPermaLink='false'>{guid}</guid>\
         <pubDate>Fri, 01 Mar 2024 09:{minute:02}:00 GMT</pubDate>\
         <description>{text}</description></item>"
    )
}

/// A feed whose items have no link and a new random `<guid>` on every read (a CMS that
/// makes the id from the request time, a feed generator that numbers items per response).
/// main stored every post again on every run (3 posts, 3 runs: 9 rows, round 8's open
/// item). Now a linkless item whose address is new is the stored post of the same feed and
/// source published at the same moment with the same title and text. Two posts with equal
/// titles and other text stay two; a new post is one new row; an edit (new text) of such
/// a post cannot be told from a new post and is a new row.
#[test]
fn linkless_items_with_new_ids_on_every_read_are_stored_once() {
    let site = TestServer::start();
    let posts = [
        (
            "Tide table",
            "High water at the north quay is at six in the morning all week.",
            1,
        ),
        (
            "Harbour update",
            "The ferry to the islands runs to the summer timetable from Monday.",
            2,
        ),
        (
            "Harbour update",
            "The fish market opens an hour later while the roof is repaired.",
            2,
        ),
    ];
    let feed = |read: usize, extra: bool| {
        let mut items = String::new();
        if extra {
            items.push_str(&linkless_item(
                "Dredging",
                "Dredging of the inner basin starts in April and lasts three weeks.",
                &format!("urn:uuid:{read}-new"),
                5,
            ));
        }
        for (i, (title, text, minute)) in posts.iter().enumerate() {
            items.push_str(&linkless_item(
                title,
                text,
                &format!("urn:uuid:{read}-{i}"),
                *minute,
            ));
        }
        rss_channel(&items, None)
    };
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "", &[("feed", site.url("/feed.xml"))]);
    for read in 0..3 {
        site.set("/feed.xml", feed(read, read == 2));
        let out = run(dir.path());
        assert_exit(&out, 0, "run");
        let rows = stored_articles(dir.path());
        let want = if read == 2 { 4 } else { 3 };
        assert_eq!(
            rows.len(),
            want,
            "after read {read}: {:#?}\n{}",
            rows.iter().map(|r| (&r.0, &r.1)).collect::<Vec<_>>(),
            stderr(&out)
        );
    }
    // The two "Harbour update" posts are two rows with their own text.
    assert_eq!(
        db_number(
            dir.path(),
            "SELECT count(DISTINCT body) FROM articles WHERE title = 'Harbour update'"
        ),
        2
    );
}
