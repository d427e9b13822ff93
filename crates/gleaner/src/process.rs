//! From page to article: scrape, clean and tag, in that order. Pure and synchronous; the
//! pipeline and `gleaner extract` call it on the CPU pool (`crate::cpu_pool`).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use cpu_time::ThreadTime;
use gleaner_model::{Article, ScrapedArticle};
use gleaner_tag::Tagger;

/// Why a page gave no article.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoArticle {
    /// The extractor found no body text.
    EmptyBody,
}

impl std::fmt::Display for NoArticle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoArticle::EmptyBody => f.write_str("no article text found on the page"),
        }
    }
}

impl std::error::Error for NoArticle {}

/// CPU time spent in each step, summed over threads, for the whole process: what the
/// closing `resources used` log line (debug) reports and `cargo xtask bench` reads.
pub static CPU_NANOS: StageCpu = StageCpu {
    scrape: AtomicU64::new(0),
    clean: AtomicU64::new(0),
    tag: AtomicU64::new(0),
    pages: AtomicU64::new(0),
};

/// CPU nanoseconds per step (thread CPU time, not waiting), and pages scraped.
pub struct StageCpu {
    /// HTML parsing and extraction.
    pub scrape: AtomicU64,
    /// Cleaning (normalisation, boilerplate, language, hash).
    pub clean: AtomicU64,
    /// Entity tagging.
    pub tag: AtomicU64,
    /// Pages scraped.
    pub pages: AtomicU64,
}

thread_local! {
    /// Inside [`charged`] on this thread: the thread's CPU clock as the last step ended (or
    /// as the work began), which the next step starts from instead of reading the clock
    /// again. Reading a thread's CPU clock is a system call (no vDSO path): a page's work
    /// read it 8 times, now 5 (a tenth of a run's system calls).
    static LAP: Cell<Option<Duration>> = const { Cell::new(None) };
    /// Whether the thread is inside [`charged`] (steps outside it read the clock twice).
    static CHAINED: Cell<bool> = const { Cell::new(false) };
}

/// The calling thread's CPU time so far.
fn thread_cpu() -> Duration {
    ThreadTime::now().as_duration()
}

/// Resets [`CHAINED`] and [`LAP`] when [`charged`] ends, by return or by panic.
struct ChainGuard {
    outer: bool,
}

impl Drop for ChainGuard {
    fn drop(&mut self) {
        CHAINED.with(|c| c.set(self.outer));
        LAP.with(|l| l.set(None));
    }
}

/// Run `work` (which may call [`scrape`] and [`finish`]) and return the CPU time the calling
/// thread spent in it. The steps inside start their clocks where the one before stopped, so
/// whatever runs between two steps (a few moves and checks) is charged to the next one.
pub fn charged<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let started = thread_cpu();
    let _guard = ChainGuard {
        outer: CHAINED.with(|c| c.replace(true)),
    };
    LAP.with(|l| l.set(Some(started)));
    let out = work();
    let spent = thread_cpu().saturating_sub(started);
    (out, spent)
}

/// Run `step`, adding the CPU time the calling thread spent in it to `counter`.
fn timed<T>(counter: &AtomicU64, step: impl FnOnce() -> T) -> T {
    let started = LAP.with(Cell::take).unwrap_or_else(thread_cpu);
    let out = step();
    let ended = thread_cpu();
    let spent = u64::try_from(ended.saturating_sub(started).as_nanos()).unwrap_or(u64::MAX);
    counter.fetch_add(spent, Ordering::Relaxed);
    if CHAINED.with(Cell::get) {
        LAP.with(|l| l.set(Some(ended)));
    }
    out
}

/// Scrape a page's HTML.
pub fn scrape(html: &str, url: &str) -> ScrapedArticle {
    CPU_NANOS.pages.fetch_add(1, Ordering::Relaxed);
    timed(&CPU_NANOS.scrape, || gleaner_scrape::extract(html, url))
}

/// Clean and tag a scraped article into the article gleaner stores (the body may be empty).
///
/// `source` is the configured source URL it came from, if any; `extra_labels` are the
/// source's configured labels, added after the post's own.
pub fn finish(
    scraped: ScrapedArticle,
    fetched_at: Option<DateTime<Utc>>,
    source: Option<&str>,
    extra_labels: &[String],
    tagger: &Tagger,
) -> Article {
    finish_dated(scraped, fetched_at, source, extra_labels, tagger, None)
}

/// The longest title kept, in bytes: a page or feed that gives a megabyte as its title (a
/// body pasted into `<title>`, a hostile page) had it stored whole in every row and listing.
pub const MAX_TITLE_BYTES: usize = 1024;
/// The longest author name or label kept, in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// The most labels kept of a post's own (a source's configured labels come on top).
pub const MAX_LABELS: usize = 100;

/// `text` cut to at most `max` bytes on a character boundary, trailing space trimmed.
fn capped(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.truncate(text.trim_end().len());
    }
    text
}

/// Like [`finish`]; relative dates in the text are resolved against the page's publication
/// date, else against `fallback_reference` (`gleaner extract --reference-date`).
pub fn finish_dated(
    scraped: ScrapedArticle,
    fetched_at: Option<DateTime<Utc>>,
    source: Option<&str>,
    extra_labels: &[String],
    tagger: &Tagger,
    fallback_reference: Option<NaiveDate>,
) -> Article {
    let cleaned = timed(&CPU_NANOS.clean, || gleaner_clean::clean(&scraped));
    let reference = scraped
        .published_at
        .map(|t| t.date_naive())
        .or(fallback_reference);
    // Clean has detected the language already; the tagger uses it instead of detecting again.
    let entities = timed(&CPU_NANOS.tag, || {
        tagger.tag_in_language(&cleaned.body, reference, cleaned.language.as_deref())
    });
    let tagged = Tagger::tagged_len(&cleaned.body);
    if tagged < cleaned.body.len() {
        // The tagger reads a bounded prefix (memory and time stay linear on hostile pages);
        // say so rather than leave the rest of a very long body silently untagged.
        tracing::info!(
            url = %scraped.url,
            tagged_bytes = tagged,
            body_bytes = cleaned.body.len(),
            "body longer than the tagger reads: entities only in its first part"
        );
    }
    let mut labels: Vec<String> = Vec::new();
    for label in scraped
        .labels
        .into_iter()
        .map(|l| capped(l, MAX_NAME_BYTES))
    {
        if labels.len() < MAX_LABELS && !label.is_empty() && !labels.contains(&label) {
            labels.push(label);
        }
    }
    for label in extra_labels {
        if !labels.contains(label) {
            labels.push(label.clone());
        }
    }
    Article {
        id: None,
        url: scraped.url,
        canonical_url: scraped.canonical_url,
        source: source.map(str::to_string),
        blogger_post_id: scraped.blogger_post_id,
        title: capped(cleaned.title, MAX_TITLE_BYTES),
        author: scraped.author.map(|a| capped(a, MAX_NAME_BYTES)),
        published_at: scraped.published_at.map(|t| t.with_timezone(&Utc)),
        updated_at: scraped.updated_at.map(|t| t.with_timezone(&Utc)),
        fetched_at,
        language: cleaned.language,
        labels,
        comments_count: scraped.comments_count,
        word_count: cleaned.word_count,
        content_hash: cleaned.content_hash,
        body: cleaned.body,
        entities,
    }
}

/// Like [`finish`], but a page with no article text is an error — unless it is a Blogger
/// post (its post id is known): a post that is only a photo is still a post, with its title,
/// author, time and labels, and it is stored with an empty body.
pub fn finish_required(
    scraped: ScrapedArticle,
    fetched_at: Option<DateTime<Utc>>,
    source: Option<&str>,
    extra_labels: &[String],
    tagger: &Tagger,
) -> Result<Article, NoArticle> {
    let article = finish(scraped, fetched_at, source, extra_labels, tagger);
    if article.body.trim().is_empty() && article.blogger_post_id.is_none() {
        Err(NoArticle::EmptyBody)
    } else {
        Ok(article)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gleaner_model::TextBlock;

    fn scraped(post_id: Option<&str>, text: &str) -> ScrapedArticle {
        ScrapedArticle {
            url: "http://example.blogspot.com/2011/01/photo.html".into(),
            title: Some("Lanzarote at Christmas".into()),
            blogger_post_id: post_id.map(str::to_string),
            blocks: if text.is_empty() {
                vec![]
            } else {
                vec![TextBlock::paragraph(text)]
            },
            ..ScrapedArticle::default()
        }
    }

    #[test]
    fn a_photo_only_blogger_post_is_still_an_article() {
        let tagger = Tagger::new();
        let a = finish_required(
            scraped(Some("2733245317398768927"), ""),
            None,
            None,
            &[],
            &tagger,
        )
        .unwrap();
        assert_eq!(a.title, "Lanzarote at Christmas");
        assert_eq!(a.body, "");
        assert_eq!(a.word_count, 0);
    }

    #[test]
    fn a_page_with_no_text_and_no_post_is_not() {
        let tagger = Tagger::new();
        assert_eq!(
            finish_required(scraped(None, ""), None, None, &[], &tagger).unwrap_err(),
            NoArticle::EmptyBody
        );
        assert!(
            finish_required(
                scraped(None, "Some text."),
                None,
                None,
                &["extra".into()],
                &tagger
            )
            .is_ok()
        );
    }

    #[test]
    fn source_labels_follow_the_posts_own_without_duplicates() {
        let tagger = Tagger::new();
        let mut s = scraped(None, "Text.");
        s.labels = vec!["Iran".into(), "news".into()];
        let a = finish(
            s,
            None,
            Some("http://example.blogspot.com/"),
            &["news".into(), "world".into()],
            &tagger,
        );
        assert_eq!(a.labels, ["Iran", "news", "world"]);
        assert_eq!(a.source.as_deref(), Some("http://example.blogspot.com/"));
    }

    #[test]
    fn huge_titles_authors_and_labels_are_capped_on_a_character_boundary() {
        let mut s = scraped(Some("1"), "Text.");
        s.title = Some("é".repeat(600_000));
        s.author = Some("Ö".repeat(500_000));
        s.labels = (0..1000)
            .map(|n| format!("{n}{}", "ü".repeat(200)))
            .collect();
        s.labels.push("x".repeat(1_000_000));
        let a = finish(s, None, None, &["news".into()], &Tagger::new());
        assert!(a.title.len() <= MAX_TITLE_BYTES && a.title.len() > MAX_TITLE_BYTES - 4);
        assert!(a.title.chars().all(|c| c == 'é'));
        let author = a.author.unwrap_or_default();
        assert!(author.len() <= MAX_NAME_BYTES && author.starts_with("ÖÖ"));
        assert_eq!(a.labels.len(), MAX_LABELS + 1);
        assert!(a.labels.iter().all(|l| l.len() <= MAX_NAME_BYTES));
        assert_eq!(a.labels.last().map(String::as_str), Some("news"));
        assert_eq!(capped("ab  cd".into(), 4), "ab");
        assert_eq!(capped("short".into(), 10), "short");
    }
}
