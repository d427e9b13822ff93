//! The state that makes runs incremental and accountable: sources, runs, fetch state.

use chrono::{DateTime, Utc};
use gleaner_model::SourceKind;
use rusqlite::{OptionalExtension, params};

use crate::convert::{int, now_text, opt_time, opt_time_text, source_kind};
use crate::{Context, FetchState, Result, RunCounts, RunStatus, SourceRecord, Store};

/// A blog's feed read left unfinished by a run (the `sources.sweep_*` columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSweep {
    /// Where its next page starts (the binary's own notation).
    pub cursor: String,
    /// When the read began.
    pub started_at: DateTime<Utc>,
    /// The newest `updated` it has seen so far.
    pub newest: Option<DateTime<Utc>>,
}

impl Store {
    /// Find or create a source row; updates kind/name if they changed (a `None` name keeps
    /// the stored one).
    pub fn ensure_source(
        &mut self,
        kind: SourceKind,
        url: &str,
        name: Option<&str>,
    ) -> Result<i64> {
        self.conn
            .prepare_cached(
                "INSERT INTO sources (kind, url, name, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (url) DO UPDATE
                    SET kind = excluded.kind, name = coalesce(excluded.name, sources.name)
                 RETURNING id",
            )
            .and_then(|mut st| {
                st.query_row(params![kind.as_str(), url, name, now_text()], |r| r.get(0))
            })
            .with_context(|| format!("recording source {url}"))
    }

    /// Sources with their state, in the order they were first recorded.
    pub fn sources(&self) -> Result<Vec<SourceRecord>> {
        self.conn
            .prepare_cached(
                "SELECT s.id, s.kind, s.url, s.name, s.last_updated_seen, s.last_run_at,
                        (SELECT count(*) FROM articles a WHERE a.source_id = s.id)
                   FROM sources s ORDER BY s.id",
            )
            .and_then(|mut st| {
                st.query_map([], |r| {
                    Ok(SourceRecord {
                        id: r.get(0)?,
                        kind: source_kind(r, 1)?,
                        url: r.get(2)?,
                        name: r.get(3)?,
                        last_updated_seen: opt_time(r, 4)?,
                        last_run_at: opt_time(r, 5)?,
                        articles: u64::try_from(r.get::<_, i64>(6)?).unwrap_or(0),
                    })
                })?
                .collect()
            })
            .context("listing sources")
    }

    /// Record the newest `updated` seen in a source's feed and the run time.
    ///
    /// `last_updated_seen` only moves forward: an older time (or `None`) keeps the stored one,
    /// unless the stored one lies in the future (a wrong date saved before cut-offs were
    /// capped), which any new time replaces.
    pub fn mark_source_read(
        &mut self,
        source_id: i64,
        last_updated_seen: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE sources
                    SET last_updated_seen = CASE
                            WHEN ?2 IS NULL THEN last_updated_seen
                            WHEN last_updated_seen IS NULL OR ?2 > last_updated_seen
                                 OR last_updated_seen > ?3 THEN ?2
                            ELSE last_updated_seen END,
                        last_run_at = ?3
                  WHERE id = ?1",
            )
            .and_then(|mut st| {
                st.execute(params![
                    source_id,
                    opt_time_text(last_updated_seen.as_ref()),
                    now_text()
                ])
            })
            .with_context(|| format!("marking source {source_id} read"))?;
        Ok(())
    }

    /// The unfinished feed read of a source, if any.
    pub fn source_sweep(&self, source_id: i64) -> Result<Option<SavedSweep>> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT sweep_cursor, sweep_started_at, sweep_newest FROM sources
                  WHERE id = ?1 AND sweep_cursor IS NOT NULL AND sweep_started_at IS NOT NULL",
            )
            .and_then(|mut st| {
                st.query_row([source_id], |r| {
                    Ok((r.get::<_, String>(0)?, opt_time(r, 1)?, opt_time(r, 2)?))
                })
                .optional()
            })
            .with_context(|| format!("reading the unfinished read of source {source_id}"))?;
        Ok(row.and_then(|(cursor, started, newest)| {
            Some(SavedSweep {
                cursor,
                started_at: started?,
                newest,
            })
        }))
    }

    /// Save the unfinished feed read of a source: where it goes on (`cursor`), when it
    /// began and the newest `updated` it has seen.
    pub fn save_source_sweep(
        &mut self,
        source_id: i64,
        cursor: &str,
        started_at: DateTime<Utc>,
        newest: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.write_sweep(source_id, Some(cursor), Some(started_at), newest)
    }

    /// Forget the unfinished feed read of a source (it reached the end).
    pub fn clear_source_sweep(&mut self, source_id: i64) -> Result<()> {
        self.write_sweep(source_id, None, None, None)
    }

    fn write_sweep(
        &mut self,
        source_id: i64,
        cursor: Option<&str>,
        started: Option<DateTime<Utc>>,
        newest: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE sources SET sweep_cursor = ?2, sweep_started_at = ?3, sweep_newest = ?4
                  WHERE id = ?1",
            )
            .and_then(|mut st| {
                st.execute(params![
                    source_id,
                    cursor,
                    opt_time_text(started.as_ref()),
                    opt_time_text(newest.as_ref())
                ])
            })
            .with_context(|| format!("saving the unfinished read of source {source_id}"))?;
        Ok(())
    }

    /// The page that followed a listing page when it was last read whole: `None` when not
    /// known, `Some(None)` when it was the last page.
    pub fn listing_next(&self, url: &str) -> Result<Option<Option<String>>> {
        self.conn
            .prepare_cached("SELECT next_url FROM listing_next WHERE url = ?1")
            .and_then(|mut st| st.query_row([url], |r| r.get(0)).optional())
            .with_context(|| format!("reading the page after {url}"))
    }

    /// Record the page that follows a listing page (`None`: it is the last).
    pub fn record_listing_next(&mut self, url: &str, next: Option<&str>) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO listing_next (url, next_url) VALUES (?1, ?2)
                 ON CONFLICT (url) DO UPDATE SET next_url = excluded.next_url",
            )
            .and_then(|mut st| st.execute(params![url, next]))
            .with_context(|| format!("recording the page after {url}"))?;
        Ok(())
    }

    /// Forget a listing page: its fetch state and what followed it.
    pub fn forget_listing_page(&mut self, url: &str) -> Result<()> {
        for sql in [
            "DELETE FROM fetch_state WHERE url = ?1",
            "DELETE FROM listing_next WHERE url = ?1",
        ] {
            self.conn
                .prepare_cached(sql)
                .and_then(|mut st| st.execute([url]))
                .with_context(|| format!("forgetting listing page {url}"))?;
        }
        Ok(())
    }

    /// Start a run; returns its id. A run that is never finished stays `running`.
    pub fn begin_run(&mut self) -> Result<i64> {
        self.conn
            .prepare_cached(
                "INSERT INTO runs (started_at, status) VALUES (?1, 'running') RETURNING id",
            )
            .and_then(|mut st| st.query_row([now_text()], |r| r.get(0)))
            .context("starting a run")
    }

    /// Finish a run.
    pub fn finish_run(&mut self, run_id: i64, status: RunStatus, counts: &RunCounts) -> Result<()> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE runs SET finished_at = ?2, status = ?3, discovered = ?4, fetched = ?5,
                        not_modified = ?6, stored = ?7, updated = ?8, unchanged = ?9,
                        skipped = ?10, failed = ?11
                  WHERE id = ?1",
            )
            .and_then(|mut st| {
                st.execute(params![
                    run_id,
                    now_text(),
                    status.as_str(),
                    int(counts.discovered),
                    int(counts.fetched),
                    int(counts.not_modified),
                    int(counts.stored),
                    int(counts.updated),
                    int(counts.unchanged),
                    int(counts.skipped),
                    int(counts.failed),
                ])
            })
            .with_context(|| format!("finishing run {run_id}"))?;
        if changed == 0 {
            tracing::warn!(run_id, "finish_run: no such run");
        }
        Ok(())
    }

    /// Fetch state of a URL.
    pub fn fetch_state(&self, url: &str) -> Result<Option<FetchState>> {
        self.conn
            .prepare_cached(
                "SELECT url, etag, last_modified, last_status, failures, last_error,
                        next_retry_at, fetched_at
                   FROM fetch_state WHERE url = ?1",
            )
            .and_then(|mut st| {
                st.query_row([url], |r| {
                    Ok(FetchState {
                        url: r.get(0)?,
                        etag: r.get(1)?,
                        last_modified: r.get(2)?,
                        last_status: r.get(3)?,
                        failures: r.get(4)?,
                        last_error: r.get(5)?,
                        next_retry_at: opt_time(r, 6)?,
                        fetched_at: opt_time(r, 7)?,
                    })
                })
                .optional()
            })
            .with_context(|| format!("reading the fetch state of {url}"))
    }

    /// Save the fetch state of a URL (replacing what was stored for it).
    pub fn record_fetch(&mut self, state: &FetchState) -> Result<()> {
        save_fetch(&self.conn, state)
    }

    /// Save the fetch states of many URLs in one transaction: all or none.
    ///
    /// One commit instead of one per URL: a writer that records the states of a batch of
    /// articles after the batch is stored saves a WAL commit (and its write) per article.
    pub fn record_fetches(&mut self, states: &[FetchState]) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .context("starting a fetch-state transaction")?;
        for state in states {
            save_fetch(&tx, state)?;
        }
        tx.commit().context("committing fetch states")
    }
}

/// Insert or replace one URL's fetch state.
fn save_fetch(conn: &rusqlite::Connection, state: &FetchState) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO fetch_state (url, etag, last_modified, last_status, failures,
                                  last_error, next_retry_at, fetched_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (url) DO UPDATE SET
            etag = excluded.etag, last_modified = excluded.last_modified,
            last_status = excluded.last_status, failures = excluded.failures,
            last_error = excluded.last_error, next_retry_at = excluded.next_retry_at,
            fetched_at = excluded.fetched_at",
    )
    .and_then(|mut st| {
        st.execute(params![
            state.url,
            state.etag,
            state.last_modified,
            state.last_status,
            state.failures,
            state.last_error,
            opt_time_text(state.next_retry_at.as_ref()),
            opt_time_text(state.fetched_at.as_ref()),
        ])
    })
    .with_context(|| format!("saving the fetch state of {}", state.url))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use gleaner_model::SourceKind;

    use crate::test_support::{numbered_article, temp_store};
    use crate::{FetchState, RunCounts, RunStatus};

    #[test]
    fn sources_are_recorded_once_and_marked_read_forward_only() {
        let (_dir, _path, mut store) = temp_store();
        let url = "https://security.googleblog.com/";
        let id = store
            .ensure_source(SourceKind::Blogger, url, Some("Security"))
            .unwrap();
        assert_eq!(
            store.ensure_source(SourceKind::Feed, url, None).unwrap(),
            id
        );
        store
            .upsert_article(&numbered_article(1), Some(id))
            .unwrap();
        let t1 = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap();
        store.mark_source_read(id, Some(t1)).unwrap();
        store.mark_source_read(id, Some(t0)).unwrap();
        store.mark_source_read(id, None).unwrap();
        let sources = store.sources().unwrap();
        assert_eq!(sources.len(), 1);
        let s = &sources[0];
        assert_eq!((s.id, s.kind, s.url.as_str()), (id, SourceKind::Feed, url));
        assert_eq!(s.name.as_deref(), Some("Security"));
        assert_eq!(s.last_updated_seen, Some(t1));
        assert!(s.last_run_at.is_some());
        assert_eq!(s.articles, 1);
    }

    #[test]
    fn an_unfinished_read_and_listing_continuations_round_trip() {
        let (_dir, _path, mut store) = temp_store();
        let id = store
            .ensure_source(SourceKind::Blogger, "https://a.blogspot.com/", None)
            .unwrap();
        assert_eq!(store.source_sweep(id).unwrap(), None);
        let began = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let newest = Utc.with_ymd_and_hms(2026, 10, 30, 12, 0, 0).unwrap();
        let sweep = super::SavedSweep {
            cursor: "published 2023-01-02T08:00:01Z 0".into(),
            started_at: began,
            newest: Some(newest),
        };
        store
            .save_source_sweep(id, &sweep.cursor, began, Some(newest))
            .unwrap();
        assert_eq!(store.source_sweep(id).unwrap(), Some(sweep));
        store.clear_source_sweep(id).unwrap();
        assert_eq!(store.source_sweep(id).unwrap(), None);

        let page = "https://a.blogspot.com/feeds/posts/default?alt=json&orderby=published";
        assert_eq!(store.listing_next(page).unwrap(), None);
        store.record_listing_next(page, Some("next")).unwrap();
        assert_eq!(
            store.listing_next(page).unwrap(),
            Some(Some("next".to_string()))
        );
        store.record_listing_next(page, None).unwrap();
        assert_eq!(store.listing_next(page).unwrap(), Some(None));
        store
            .record_fetch(&FetchState {
                url: page.into(),
                ..FetchState::default()
            })
            .unwrap();
        store.forget_listing_page(page).unwrap();
        assert_eq!(store.listing_next(page).unwrap(), None);
        assert_eq!(store.fetch_state(page).unwrap(), None);
    }

    #[test]
    fn runs_are_logged_and_a_killed_run_stays_running() {
        let (_dir, _path, mut store) = temp_store();
        let killed = store.begin_run().unwrap();
        let run = store.begin_run().unwrap();
        let counts = RunCounts {
            discovered: 9,
            fetched: 5,
            not_modified: 3,
            stored: 2,
            updated: 1,
            unchanged: 1,
            skipped: 1,
            failed: 1,
        };
        store.finish_run(run, RunStatus::Partial, &counts).unwrap();
        let runs = store.stats().unwrap().recent_runs;
        assert_eq!(runs.len(), 2);
        assert_eq!(
            (runs[0].id, runs[0].status, runs[0].counts),
            (run, RunStatus::Partial, counts)
        );
        assert!(runs[0].finished_at.unwrap() >= runs[0].started_at);
        assert_eq!(
            (runs[1].id, runs[1].status, runs[1].finished_at),
            (killed, RunStatus::Running, None)
        );
        for _ in 0..12 {
            let r = store.begin_run().unwrap();
            store
                .finish_run(r, RunStatus::Ok, &RunCounts::default())
                .unwrap();
        }
        assert_eq!(store.stats().unwrap().recent_runs.len(), 10);
    }

    #[test]
    fn fetch_state_round_trips_and_is_replaced() {
        let (_dir, _path, mut store) = temp_store();
        let url = "https://example.blogspot.com/feeds/posts/default?alt=json";
        assert_eq!(store.fetch_state(url).unwrap(), None);
        let mut state = FetchState {
            url: url.into(),
            etag: Some("\"abc\"".into()),
            last_modified: Some("Wed, 19 Jan 2022 18:05:00 GMT".into()),
            last_status: Some(200),
            failures: 0,
            last_error: None,
            next_retry_at: None,
            fetched_at: Some(Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap()),
        };
        store.record_fetch(&state).unwrap();
        assert_eq!(store.fetch_state(url).unwrap().as_ref(), Some(&state));
        state.last_status = None;
        state.failures = 2;
        state.last_error = Some("connection reset".into());
        state.next_retry_at = Some(Utc.with_ymd_and_hms(2026, 11, 27, 13, 0, 0).unwrap());
        store.record_fetch(&state).unwrap();
        assert_eq!(store.fetch_state(url).unwrap(), Some(state.clone()));
        // Many at once: new ones inserted, a known one replaced.
        let mut many: Vec<FetchState> = (0..5)
            .map(|n| FetchState {
                url: format!("https://example.blogspot.com/2022/01/post-{n}.html"),
                last_status: Some(200),
                ..FetchState::default()
            })
            .collect();
        state.failures = 0;
        many.push(state.clone());
        store.record_fetches(&many).unwrap();
        for s in &many {
            assert_eq!(store.fetch_state(&s.url).unwrap().as_ref(), Some(s));
        }
        store.record_fetches(&[]).unwrap();
    }
}
