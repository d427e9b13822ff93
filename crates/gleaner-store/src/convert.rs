//! Conversions between Rust values and the database's text columns.

use chrono::{DateTime, SecondsFormat, Utc};
use gleaner_model::{EntityKind, SourceKind};
use rusqlite::types::Type;

use crate::RunStatus;

/// A time as stored: RFC 3339 UTC, whole seconds, `Z` (`2022-01-20T08:30:00Z`), which sorts
/// as text in time order.
pub(crate) fn time_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// [`time_text`] of an optional time.
pub(crate) fn opt_time_text(t: Option<&DateTime<Utc>>) -> Option<String> {
    t.map(time_text)
}

/// Now, as stored.
pub(crate) fn now_text() -> String {
    time_text(&Utc::now())
}

fn conversion_error(
    idx: usize,
    err: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(err))
}

/// An unsigned count or offset as SQLite's integer (saturating; real values never get near).
pub(crate) fn int(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

/// Read a non-negative integer column as `usize`.
pub(crate) fn usize_col(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<usize> {
    let n: i64 = row.get(idx)?;
    usize::try_from(n).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(idx, n))
}

/// Read an optional time column.
pub(crate) fn opt_time(
    row: &rusqlite::Row<'_>,
    idx: usize,
) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|s| {
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| conversion_error(idx, e))
    })
    .transpose()
}

/// Read a required time column.
pub(crate) fn time(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<DateTime<Utc>> {
    opt_time(row, idx)?.ok_or(rusqlite::Error::InvalidColumnType(
        idx,
        "time".into(),
        Type::Null,
    ))
}

/// Read an entity kind column.
pub(crate) fn entity_kind(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<EntityKind> {
    let text: String = row.get(idx)?;
    text.parse().map_err(|e| conversion_error(idx, e))
}

/// Read a source kind column.
pub(crate) fn source_kind(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<SourceKind> {
    let text: String = row.get(idx)?;
    text.parse().map_err(|e| conversion_error(idx, e))
}

/// A run status column value could not be read.
#[derive(Debug, thiserror::Error)]
#[error("unknown run status {0:?}")]
pub(crate) struct UnknownRunStatus(String);

impl RunStatus {
    /// The lowercase name stored in `runs.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Ok => "ok",
            RunStatus::Partial => "partial",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Failed => "failed",
        }
    }

    pub(crate) fn from_db(s: &str) -> Option<RunStatus> {
        Some(match s {
            "running" => RunStatus::Running,
            "ok" => RunStatus::Ok,
            "partial" => RunStatus::Partial,
            "interrupted" => RunStatus::Interrupted,
            "failed" => RunStatus::Failed,
            _ => return None,
        })
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Read a run status column.
pub(crate) fn run_status(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<RunStatus> {
    let text: String = row.get(idx)?;
    RunStatus::from_db(&text).ok_or_else(|| conversion_error(idx, UnknownRunStatus(text)))
}

/// The path of a URL: what follows the host, without query or fragment.
///
/// `https://x.blogspot.co.uk/2022/01/a.html?m=1` → `/2022/01/a.html`. Used to tell that two
/// addresses carrying the same Blogger post id are the same post.
pub(crate) fn url_path(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path_and_more = match after_scheme.find(['/', '?', '#']) {
        Some(i) if after_scheme[i..].starts_with('/') => &after_scheme[i..],
        _ => "",
    };
    let end = path_and_more
        .find(['?', '#'])
        .unwrap_or(path_and_more.len());
    let path = &path_and_more[..end];
    if path.is_empty() { "/" } else { path }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_are_stored_sortable_with_whole_seconds_and_z() {
        let t = Utc.with_ymd_and_hms(2022, 1, 20, 8, 30, 0).unwrap();
        assert_eq!(time_text(&t), "2022-01-20T08:30:00Z");
        let later = t + chrono::Duration::milliseconds(1500);
        assert_eq!(time_text(&later), "2022-01-20T08:30:01Z");
    }

    #[test]
    fn url_path_ignores_scheme_host_query_and_fragment() {
        assert_eq!(
            url_path("https://x.blogspot.co.uk/2022/01/a.html?m=1"),
            "/2022/01/a.html"
        );
        assert_eq!(
            url_path("http://x.blogspot.com/2022/01/a.html#more"),
            "/2022/01/a.html"
        );
        assert_eq!(url_path("https://news.example.org"), "/");
        assert_eq!(url_path("https://news.example.org?x=1"), "/");
        assert_eq!(url_path("https://news.example.org?next=/a/b"), "/");
    }
}
