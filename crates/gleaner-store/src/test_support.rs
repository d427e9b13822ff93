//! Fixtures for the unit tests: tagged articles and stores in temporary directories.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use gleaner_model::{Article, Entity, EntityKind};
use tempfile::TempDir;

use crate::Store;

/// A store in a fresh temporary directory (kept alive by the returned `TempDir`).
pub(crate) fn temp_store() -> (TempDir, PathBuf, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gleaner.db");
    let store = Store::open(&path).unwrap();
    (dir, path, store)
}

/// A stand-in for gleaner-clean's content hash.
pub(crate) fn hash(title: &str, body: &str) -> String {
    let mut h = DefaultHasher::new();
    (title, body).hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Every occurrence of `text` in `body` as an entity, with char offsets.
pub(crate) fn mentions_of(body: &str, text: &str, kind: EntityKind, name: &str) -> Vec<Entity> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = body[from..].find(text) {
        let byte = from + i;
        let start = body[..byte].chars().count();
        out.push(Entity {
            kind,
            text: text.to_string(),
            name: name.to_string(),
            start,
            end: start + text.chars().count(),
        });
        from = byte + text.len();
    }
    out
}

/// An article with its entities tagged from `(surface, kind, canonical name)` triples.
pub(crate) fn tagged(
    url: &str,
    title: &str,
    body: &str,
    tags: &[(&str, EntityKind, &str)],
) -> Article {
    let mut entities: Vec<Entity> = tags
        .iter()
        .flat_map(|(text, kind, name)| mentions_of(body, text, *kind, name))
        .collect();
    entities.sort_by_key(|e| (e.start, e.end));
    Article {
        url: url.to_string(),
        title: title.to_string(),
        body: body.to_string(),
        word_count: u32::try_from(body.split_whitespace().count()).unwrap(),
        content_hash: hash(title, body),
        entities,
        ..Article::default()
    }
}

/// The seed article's shape: a Blogger post about Raisi's visit to Moscow.
pub(crate) fn seed_article() -> Article {
    use EntityKind::*;
    let body = "Iranian President Ebrahim Raisi arrived in Moscow on Wednesday for talks with \
                Vladimir Putin, seeking strategic ties with Russia.\n\n\
                Raisi said Iran wants a long-term agreement. The Kremlin said Putin and Raisi \
                would discuss the nuclear deal; Sergei Lavrov joined the meeting.";
    let mut a = tagged(
        "https://example.blogspot.com/2022/01/iran-wants-strategic-ties-with-russia.html",
        "Iran wants strategic ties with Russia",
        body,
        &[
            ("Iranian", Group, "Iranian"),
            ("Ebrahim Raisi", Person, "Ebrahim Raisi"),
            ("Raisi said", Person, "Ebrahim Raisi"),
            ("Moscow", Location, "Moscow"),
            ("Vladimir Putin", Person, "Vladimir Putin"),
            ("Russia.", Location, "Russia"),
            ("Iran wants", Location, "Iran"),
            ("Kremlin", Organization, "Kremlin"),
            ("Putin and", Person, "Vladimir Putin"),
            ("and Raisi", Person, "Ebrahim Raisi"),
            ("Sergei Lavrov", Person, "Sergei Lavrov"),
        ],
    );
    // Trim the context words used above to place the short mentions.
    for e in &mut a.entities {
        let (text, start, end) = match e.text.as_str() {
            "Raisi said" => ("Raisi", e.start, e.start + 5),
            "Russia." => ("Russia", e.start, e.start + 6),
            "Iran wants" => ("Iran", e.start, e.start + 4),
            "Putin and" => ("Putin", e.start, e.start + 5),
            "and Raisi" => ("Raisi", e.start + 4, e.end),
            _ => continue,
        };
        e.text = text.to_string();
        e.start = start;
        e.end = end;
    }
    a.entities.sort_by_key(|e| (e.start, e.end));
    a.canonical_url = Some(a.url.clone());
    a.blogger_post_id = Some("1234567890123456789".into());
    a.author = Some("Staff Writer".into());
    a.published_at = Some(Utc.with_ymd_and_hms(2022, 1, 19, 18, 5, 0).unwrap());
    a.updated_at = Some(Utc.with_ymd_and_hms(2022, 1, 20, 8, 30, 0).unwrap());
    a.fetched_at = Some(Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap());
    a.language = Some("en".into());
    a.labels = vec!["Iran".into(), "Russia".into(), "World News".into()];
    a.comments_count = Some(0);
    a
}

/// A synthetic article number `n` (distinct URL, title and body), with a few entities.
pub(crate) fn numbered_article(n: usize) -> Article {
    use EntityKind::*;
    let body = format!(
        "Report {n}: officials in Tehran met envoys from Brussels about sanctions. \
         Ali Bagheri told reporters the talks number {n} went well, and the European Union \
         agreed to meet again in Vienna."
    );
    let mut a = tagged(
        &format!("https://news.example.org/{}/report-{n}.html", 2000 + n % 20),
        &format!("Talks report {n}"),
        &body,
        &[
            ("Tehran", Location, "Tehran"),
            ("Brussels", Location, "Brussels"),
            ("Ali Bagheri", Person, "Ali Bagheri"),
            ("European Union", Organization, "European Union"),
            ("Vienna", Location, "Vienna"),
        ],
    );
    let day = u32::try_from(n % 28).unwrap() + 1;
    a.published_at = Some(
        Utc.with_ymd_and_hms(2021, 1 + u32::try_from(n % 12).unwrap(), day, 9, 0, 0)
            .unwrap(),
    );
    a
}
