//! How results are printed: JSON lines, readable article summaries, tables that fit the
//! terminal, CSV.

use std::io::{self, Write};

use anyhow::Result;
use chrono::{DateTime, SecondsFormat, Utc};
use gleaner_model::{Article, EntityKind};
use gleaner_store::UpsertOutcome;
use serde::Serialize;

/// One compact JSON value and a newline.
pub fn write_json_line<T: Serialize + ?Sized>(w: &mut impl Write, value: &T) -> Result<()> {
    serde_json::to_writer(&mut *w, value)?;
    w.write_all(b"\n")?;
    Ok(())
}

/// Pretty JSON and a newline.
pub fn write_json_pretty<T: Serialize + ?Sized>(w: &mut impl Write, value: &T) -> Result<()> {
    serde_json::to_writer_pretty(&mut *w, value)?;
    w.write_all(b"\n")?;
    Ok(())
}

/// A time as RFC 3339 UTC, or `-`.
pub fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".to_string(),
        |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

/// Entities grouped by kind: `person: Ibrahim Raisi (12), Vladimir Putin (5)`, most
/// mentioned first, at most `per_kind` names a kind.
pub fn entity_summary(article: &Article, per_kind: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for kind in EntityKind::ALL {
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for e in article.entities.iter().filter(|e| e.kind == kind) {
            match counts.iter_mut().find(|(n, _)| *n == e.name) {
                Some((_, c)) => *c += 1,
                None => counts.push((&e.name, 1)),
            }
        }
        if counts.is_empty() {
            continue;
        }
        counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let more = counts.len().saturating_sub(per_kind);
        let mut names: Vec<String> = counts
            .iter()
            .take(per_kind)
            .map(|(n, c)| format!("{n} ({c})"))
            .collect();
        if more > 0 {
            names.push(format!("… {more} more"));
        }
        lines.push(format!("{kind}: {}", names.join(", ")));
    }
    lines
}

/// What `gleaner scrape` did with an article: `stored`, `updated` or `unchanged`.
pub fn outcome_word(outcome: UpsertOutcome) -> &'static str {
    match outcome {
        UpsertOutcome::Inserted => "stored",
        UpsertOutcome::Updated => "updated",
        // Left as it was (another site's feed may not replace it): unchanged to the reader.
        UpsertOutcome::Unchanged | UpsertOutcome::Kept => "unchanged",
    }
}

/// The summary `gleaner scrape` prints for each article it stored.
pub fn write_article_summary(
    w: &mut impl Write,
    a: &Article,
    outcome: Option<UpsertOutcome>,
) -> Result<()> {
    write_article_fields(w, a, outcome)?;
    for line in entity_summary(a, 6) {
        writeln!(w, "  {line}")?;
    }
    Ok(())
}

fn write_article_fields(
    w: &mut impl Write,
    a: &Article,
    outcome: Option<UpsertOutcome>,
) -> Result<()> {
    let what = outcome.map_or("article", outcome_word);
    writeln!(w, "{what} #{}: {}", a.id.unwrap_or_default(), a.title)?;
    writeln!(
        w,
        "  url:        {}",
        a.canonical_url.as_deref().unwrap_or(&a.url)
    )?;
    writeln!(w, "  author:     {}", a.author.as_deref().unwrap_or("-"))?;
    writeln!(w, "  published:  {}", time(a.published_at))?;
    if a.updated_at.is_some() {
        writeln!(w, "  updated:    {}", time(a.updated_at))?;
    }
    writeln!(
        w,
        "  labels:     {}",
        if a.labels.is_empty() {
            "-".to_string()
        } else {
            a.labels.join(", ")
        }
    )?;
    writeln!(
        w,
        "  comments:   {}",
        a.comments_count
            .map_or("unknown".to_string(), |c| c.to_string())
    )?;
    if let Some(id) = &a.blogger_post_id {
        writeln!(w, "  post id:    {id}")?;
    }
    writeln!(
        w,
        "  words:      {} ({})",
        a.word_count,
        a.language.as_deref().unwrap_or("language unknown")
    )?;
    Ok(())
}

/// The full article for `gleaner show`: fields, body, then every entity by kind.
pub fn write_article_text(w: &mut impl Write, a: &Article) -> Result<()> {
    write_article_fields(w, a, None)?;
    if a.canonical_url.as_deref().is_some_and(|c| c != a.url) {
        writeln!(w, "  read from:  {}", a.url)?;
    }
    if let Some(source) = &a.source {
        writeln!(w, "  source:     {source}")?;
    }
    writeln!(w, "  fetched:    {}", time(a.fetched_at))?;
    writeln!(w)?;
    writeln!(w, "{}", a.body)?;
    writeln!(w)?;
    writeln!(w, "entities ({} mentions):", a.entities.len())?;
    for line in entity_summary(a, usize::MAX) {
        writeln!(w, "  {line}")?;
    }
    Ok(())
}

/// The terminal's width, or `COLUMNS`, or 120 when output is not a terminal.
pub fn terminal_width() -> usize {
    if let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size() {
        return usize::from(w).max(40);
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|w: &usize| *w >= 40)
        .unwrap_or(120)
}

fn truncate(s: &str, width: usize) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= width {
        return one_line;
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = one_line.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Print an aligned table no wider than `width`: every column keeps its natural width except
/// the last, which is cut to what is left.
pub fn write_table(
    w: &mut impl Write,
    headers: &[&str],
    rows: &[Vec<String>],
    width: usize,
) -> io::Result<()> {
    let n = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(n) {
            widths[i] = widths[i].max(
                cell.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .chars()
                    .count(),
            );
        }
    }
    // Columns before the last may not take more than half the line each.
    for wd in widths.iter_mut().take(n.saturating_sub(1)) {
        *wd = (*wd).min(width / 2);
    }
    let used: usize = widths.iter().take(n.saturating_sub(1)).map(|w| w + 2).sum();
    if let Some(last) = widths.last_mut() {
        *last = (*last).min(width.saturating_sub(used).max(8));
    }
    let line = |w: &mut dyn Write, cells: &[String]| -> io::Result<()> {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate().take(n) {
            let text = truncate(cell, widths[i]);
            if i + 1 == n {
                out.push_str(&text);
            } else {
                out.push_str(&text);
                out.push_str(&" ".repeat(widths[i] - text.chars().count() + 2));
            }
        }
        writeln!(w, "{}", out.trim_end())
    };
    line(
        w,
        &headers.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
    )?;
    for row in rows {
        line(w, row)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_fit_the_width_given() {
        let rows = vec![
            vec![
                "1".into(),
                "2022-01-20".into(),
                "Iran wants strategic ties with Russia and a very long title".into(),
            ],
            vec!["22".into(), "-".into(), "Short".into()],
        ];
        let mut out = Vec::new();
        write_table(&mut out, &["ID", "PUBLISHED", "TITLE"], &rows, 40).unwrap();
        let text = String::from_utf8(out).unwrap();
        for line in text.lines() {
            assert!(line.chars().count() <= 40, "{line:?}");
        }
        assert!(text.contains("Iran wants"));
        assert!(text.contains('…'));
    }
}
