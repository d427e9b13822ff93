//! Reading for a browser (`gleaner serve`) on PostgreSQL: the questions of `browse.rs` —
//! a search in relevance or date order, how its matches spread over kinds, sources and
//! labels, one entity's counts, aliases, months and company, each source's health — asked
//! of the PostgreSQL schema, with the same answers and the same bounds.
//!
//! Full-text matching is the `tsvector` column and its GIN index (`@@`), with the query
//! translated by [`crate::pg::tsquery`]; rank and snippet are those of
//! [`PgStore::search`](crate::pg::PgStore::search) (`-ts_rank(fts, q, 1)`, lower is
//! better; `ts_headline` with `[`…`]` around matched words), so `serve` and `gleaner query`
//! answer alike on one database.
//!
//! What SQLite does in Rust for speed (the entity-kind and month indexes) PostgreSQL does in
//! SQL: its planner hashes and sorts those few thousand rows itself.

use chrono::{DateTime, Utc};
use gleaner_model::EntityKind;
use tokio_postgres::{Client, Row};

use crate::browse::{
    CoMentions, EntityDetail, FailingPage, SearchFacets, SearchOrder, SourceHealth,
};
use crate::convert::int;
use crate::pg::{PgStore, Sql, push_filters, tsquery};
use crate::{Context, EntityCount, Result, SearchHit, SearchQuery, StoreError};

/// The `ts_headline` options: the snippet `gleaner query` shows on PostgreSQL.
const HEADLINE: &str =
    "'StartSel=[, StopSel=], MaxWords=12, MinWords=4, MaxFragments=1, FragmentDelimiter=…'";

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn opt_time(row: &Row, idx: usize, context: &str) -> Result<Option<DateTime<Utc>>> {
    let text: Option<String> = row.try_get(idx).context(context)?;
    text.map(|t| {
        DateTime::parse_from_rfc3339(&t)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| StoreError::Data {
                context: context.to_string(),
                message: format!("{t:?}: {e}"),
            })
    })
    .transpose()
}

fn kind_of(text: &str) -> Result<EntityKind> {
    text.parse().map_err(|e| StoreError::Data {
        context: "reading an entity kind".into(),
        message: format!("{text:?}: {e}"),
    })
}

/// The search terms of `query`, if any are not blank.
fn terms_of(query: &SearchQuery) -> Option<&str> {
    query
        .terms
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// A search's error: the server refusing the expression is the user's to fix.
fn search_error(terms: Option<&str>, context: &str, e: tokio_postgres::Error) -> StoreError {
    use tokio_postgres::error::SqlState;
    match (terms, e.code()) {
        (Some(t), Some(c)) if *c == SqlState::SYNTAX_ERROR => StoreError::BadQuery {
            query: t.to_string(),
            message: e.to_string(),
        },
        _ => StoreError::Postgres {
            context: context.to_string(),
            source: e,
        },
    }
}

/// `SELECT a.id FROM articles a[, q] WHERE …` for every filter of `query` (with `ts`, the
/// full-text match against the `q` of a `WITH q AS (SELECT to_tsquery(…) AS q)` the caller
/// puts first). The same filters as [`PgStore::search`](crate::pg::PgStore::search):
/// names and aliases, labels and authors compared case-insensitively with `lower()`.
fn push_matching_ids(sql: &mut Sql, query: &SearchQuery, ts: bool) {
    if ts {
        push_full_text(sql, query, "a.id");
    } else {
        sql.push("SELECT a.id FROM articles a WHERE TRUE");
        push_filters(sql, query);
    }
}

/// `SELECT columns FROM … a WHERE a.fts @@ q.q` and every other filter of `query`, where `a`
/// has the article's `id`, `source_id`, `author` and `published_at`.
///
/// With other filters the full-text matches are listed first, through the GIN index, behind
/// an optimization fence (`OFFSET 0`): the planner cannot know how many articles an entity
/// is in, and when it guessed few it walked that entity's articles and read each one's
/// `tsvector` to test the words (750 ms for an entity in 28,000 of 100,000 articles; 80 ms
/// this way).
fn push_full_text(sql: &mut Sql, query: &SearchQuery, columns: &str) {
    let filtered = query.entities.iter().any(|n| !n.trim().is_empty())
        || query.kind.is_some()
        || query.source.is_some()
        || query.label.is_some()
        || query.author.is_some()
        || query.since.is_some()
        || query.until.is_some();
    if filtered {
        sql.push(&format!(
            "SELECT {columns} FROM (SELECT a.id, a.source_id, a.author, a.published_at
                                      FROM articles a, q WHERE a.fts @@ q.q OFFSET 0) a
              WHERE TRUE"
        ));
    } else {
        sql.push(&format!(
            "SELECT {columns} FROM articles a, q WHERE a.fts @@ q.q"
        ));
    }
    push_filters(sql, query);
}

/// `WITH q AS (…)` for `ts`, the start of every search with terms.
fn push_tsquery(sql: &mut Sql, ts: &str) {
    sql.push("WITH q AS (SELECT to_tsquery('english', ")
        .bind(ts.to_string())
        .push(") AS q)");
}

/// Have the rest of the transaction prefer indexes to sequential scans: PostgreSQL's planner
/// does not count the cost of reading each row's `tsvector` from TOAST, so for a word in
/// most articles it scans every row and evaluates `@@` on each rather than use the GIN
/// index — on 100,000 articles, counting the matches of a word in 62 % of them took 402 ms
/// that way and 15 ms through the index (all of them 1.8 s vs 54 ms). A query that has no
/// index to use still scans. Outside a transaction (not how `serve` calls) it does nothing.
async fn prefer_indexes(c: &Client) -> std::result::Result<(), tokio_postgres::Error> {
    c.batch_execute("SELECT set_config('enable_seqscan', 'off', true)")
        .await
}

/// Run `sql` on the connection.
async fn rows(c: &Client, sql: &Sql) -> std::result::Result<Vec<Row>, tokio_postgres::Error> {
    c.query(&sql.text, &sql.refs()).await
}

fn hit(row: &Row) -> Result<SearchHit> {
    let ctx = "reading a search hit";
    Ok(SearchHit {
        id: row.try_get(0).context(ctx)?,
        url: row.try_get(1).context(ctx)?,
        title: row.try_get(2).context(ctx)?,
        author: row.try_get(3).context(ctx)?,
        published_at: opt_time(row, 4, ctx)?,
        snippet: row.try_get(5).context(ctx)?,
        rank: row.try_get(6).context(ctx)?,
    })
}

/// `scheme://host[:port]/` of a URL (as `browse.rs` finds a source's origin).
fn origin_prefix(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if authority_len == 0 {
        return None;
    }
    Some(format!(
        "{}/",
        &url[..url.len() - rest.len() + authority_len]
    ))
}

impl PgStore {
    /// See [`crate::Store::search_ordered`]: with terms, relevance ranks the newest `window`
    /// matches (by id) and date order is exact over all; without, [`PgStore::search`].
    pub fn search_ordered(
        &mut self,
        query: &SearchQuery,
        order: SearchOrder,
        window: usize,
    ) -> Result<Vec<SearchHit>> {
        let Some(terms) = terms_of(query) else {
            return self.search(query);
        };
        let ts = tsquery(terms)?;
        let mut sql = Sql::default();
        push_tsquery(&mut sql, &ts);
        let final_order = match order {
            SearchOrder::Relevance => {
                // The newest matches first (ids only), then the rank of those alone.
                sql.push(", newest AS MATERIALIZED (");
                push_matching_ids(&mut sql, query, true);
                sql.push(" ORDER BY a.id DESC LIMIT ")
                    .bind(int(window))
                    .push(
                        "), hits AS (SELECT a.id, -ts_rank(a.fts, q.q, 1)::float8 AS score
                              FROM newest n JOIN articles a ON a.id = n.id, q
                             ORDER BY score, a.id",
                    );
                "hits.score, hits.id"
            }
            SearchOrder::Date => {
                sql.push(", hits AS (");
                push_full_text(
                    &mut sql,
                    query,
                    "a.id, NULL::float8 AS score, a.published_at",
                );
                // SQLite sorts NULL lowest: last when newest come first.
                sql.push(" ORDER BY a.published_at COLLATE \"C\" DESC NULLS LAST, a.id DESC");
                "hits.published_at COLLATE \"C\" DESC NULLS LAST, hits.id DESC"
            }
        };
        let limit = (query.limit > 0).then(|| int(query.limit));
        sql.push(" LIMIT ")
            .bind(limit)
            .push(" OFFSET ")
            .bind(int(query.offset));
        sql.push(&format!(
            ")
             SELECT a.id, a.url, a.title, a.author, a.published_at,
                    ts_headline('english', a.body, q.q, {HEADLINE}), hits.score
               FROM hits JOIN articles a ON a.id = hits.id, q
              ORDER BY {final_order}"
        ));
        let found = self.block(async |c: &mut Client| {
            prefer_indexes(c).await?;
            rows(c, &sql).await
        });
        found
            .map_err(|e| search_error(Some(terms), "running a search", e))?
            .iter()
            .map(hit)
            .collect()
    }

    /// See [`crate::Store::search_facets`]: matches counted up to `count_cap`, and the kinds,
    /// sources and labels of the newest `facet_cap` (by id; the top 20 sources and labels).
    pub fn search_facets(
        &mut self,
        query: &SearchQuery,
        count_cap: usize,
        facet_cap: usize,
    ) -> Result<SearchFacets> {
        let terms = terms_of(query);
        let ts = terms.map(tsquery).transpose()?;
        let start = |sql: &mut Sql| {
            if let Some(ts) = &ts {
                push_tsquery(sql, ts);
                sql.push(", ");
            } else {
                sql.push("WITH ");
            }
        };
        let mut counting = Sql::default();
        start(&mut counting);
        counting.push("matches AS (");
        push_matching_ids(&mut counting, query, ts.is_some());
        counting
            .push(" LIMIT ")
            .bind(int(count_cap.saturating_add(1)))
            .push(") SELECT count(*) FROM matches");

        let mut facets_sql = Sql::default();
        start(&mut facets_sql);
        facets_sql.push("ids AS MATERIALIZED (");
        push_matching_ids(&mut facets_sql, query, ts.is_some());
        facets_sql
            .push(" ORDER BY a.id DESC LIMIT ")
            .bind(int(facet_cap))
            .push(
                ")
                 SELECT 'n', NULL, count(*) FROM ids
                 UNION ALL
                 (SELECT 's', s.url COLLATE \"C\", count(*) FROM ids
                    JOIN articles a ON a.id = ids.id JOIN sources s ON s.id = a.source_id
                   GROUP BY s.id, s.url ORDER BY 3 DESC, 2 LIMIT 20)
                 UNION ALL
                 (SELECT 'l', min(l.label COLLATE \"C\"), count(*) FROM ids
                    JOIN article_labels l ON l.article_id = ids.id
                   GROUP BY lower(l.label) ORDER BY 3 DESC, 2 LIMIT 20)
                 UNION ALL
                 (SELECT 'k', e.kind, count(DISTINCT m.article_id) FROM ids
                    JOIN mentions m ON m.article_id = ids.id JOIN entities e ON e.id = m.entity_id
                   GROUP BY e.kind)",
            );

        let with_terms = ts.is_some();
        let answered = self.block(async |c: &mut Client| {
            if with_terms {
                prefer_indexes(c).await?;
            }
            let counted = c
                .query_one(&counting.text, &counting.refs())
                .await
                .and_then(|r| r.try_get::<_, i64>(0))?;
            if counted == 0 {
                return Ok((0, Vec::new()));
            }
            Ok::<_, tokio_postgres::Error>((counted, rows(c, &facets_sql).await?))
        });
        let (counted, rows) = answered.map_err(|e| search_error(terms, "counting facets", e))?;
        let counted = count(counted);
        let cap = u64::try_from(count_cap).unwrap_or(u64::MAX);
        let mut facets = SearchFacets {
            total: counted.min(cap),
            total_capped: counted > cap,
            ..SearchFacets::default()
        };
        let ctx = "reading a facet";
        for row in &rows {
            let facet: String = row.try_get(0).context(ctx)?;
            let n = count(row.try_get(2).context(ctx)?);
            match facet.as_str() {
                "n" => facets.sampled = n,
                "s" => facets.sources.push((row.try_get(1).context(ctx)?, n)),
                "l" => facets.labels.push((row.try_get(1).context(ctx)?, n)),
                _ => {
                    let kind: String = row.try_get(1).context(ctx)?;
                    facets.kinds.push((kind_of(&kind)?, n));
                }
            }
        }
        // Most first, then by name (as on SQLite).
        facets
            .kinds
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.as_str().cmp(b.0.as_str())));
        Ok(facets)
    }

    /// See [`crate::Store::entity_detail`].
    pub fn entity_detail(&mut self, kind: EntityKind, name: &str) -> Result<Option<EntityDetail>> {
        let ctx = format!("looking up {kind} {name:?}");
        let found = self.block(async |c: &mut Client| {
            let Some(row) = c
                .query_opt(
                    "SELECT id, mention_count, article_count FROM entities
                      WHERE kind = $1 AND name = $2",
                    &[&kind.as_str(), &name],
                )
                .await?
            else {
                return Ok(None);
            };
            let id: i64 = row.try_get(0)?;
            let aliases = c
                .query(
                    "SELECT alias FROM entity_aliases WHERE entity_id = $1
                      ORDER BY alias COLLATE \"C\"",
                    &[&id],
                )
                .await?;
            Ok::<_, tokio_postgres::Error>(Some((row, aliases)))
        });
        let Some((row, aliases)) = found.context(&ctx)? else {
            return Ok(None);
        };
        Ok(Some(EntityDetail {
            id: row.try_get(0).context(&ctx)?,
            kind,
            name: name.to_string(),
            mentions: count(row.try_get(1).context(&ctx)?),
            articles: count(row.try_get(2).context(&ctx)?),
            aliases: aliases
                .iter()
                .map(|r| r.try_get(0).context(&ctx))
                .collect::<Result<_>>()?,
        }))
    }

    /// See [`crate::Store::entity_months`].
    pub fn entity_months(&mut self, id: i64) -> Result<Vec<(String, u64)>> {
        let ctx = format!("counting the months of entity {id}");
        let found = self.block(async |c: &mut Client| {
            c.query(
                "SELECT substr(a.published_at, 1, 7) COLLATE \"C\" AS month, count(*)
                   FROM articles a
                  WHERE a.published_at IS NOT NULL
                    AND a.id IN (SELECT article_id FROM mentions WHERE entity_id = $1)
                  GROUP BY 1 ORDER BY 1",
                &[&id],
            )
            .await
        });
        found
            .context(&ctx)?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get(0).context(&ctx)?,
                    count(r.try_get(1).context(&ctx)?),
                ))
            })
            .collect()
    }

    /// See [`crate::Store::co_mentions`]: the same count (in Rust, over the mentions of the
    /// entity's latest `sample` articles) and the same order.
    pub fn co_mentions(&mut self, id: i64, sample: usize, top: usize) -> Result<CoMentions> {
        let ctx = format!("counting the company of entity {id}");
        let found = self.block(async |c: &mut Client| {
            c.query(
                "SELECT m.article_id, m.entity_id
                   FROM (SELECT DISTINCT article_id FROM mentions
                          WHERE entity_id = $1 ORDER BY article_id DESC LIMIT $2) arts
                   JOIN mentions m ON m.article_id = arts.article_id
                  ORDER BY m.article_id",
                &[&id, &int(sample)],
            )
            .await
        });
        let mut company = crate::query::CompanyOf::new(id);
        for row in found.context(&ctx)? {
            company.add(row.try_get(0).context(&ctx)?, row.try_get(1).context(&ctx)?);
        }
        let (sampled, ranked) = company.top(top);
        let ids: Vec<i64> = ranked.iter().map(|r| r.0).collect();
        let names = self.block(async |c: &mut Client| {
            c.query(
                "SELECT id, kind, name FROM entities WHERE id = ANY($1)",
                &[&ids],
            )
            .await
        });
        let names = names.context("reading the company's names")?;
        let mut entities = Vec::with_capacity(ranked.len());
        for (entity, mentions, articles) in ranked {
            let Some(row) = names
                .iter()
                .find(|r| r.try_get::<_, i64>(0).ok() == Some(entity))
            else {
                continue;
            };
            let kind: String = row.try_get(1).context("reading an entity")?;
            entities.push(EntityCount {
                kind: kind_of(&kind)?,
                name: row.try_get(2).context("reading an entity")?,
                mentions,
                articles,
            });
        }
        crate::query::sort_by_company(&mut entities);
        Ok(CoMentions { sampled, entities })
    }

    /// See [`crate::Store::source_health`].
    pub fn source_health(&mut self, pages: usize) -> Result<Vec<SourceHealth>> {
        let found = self.block(async |c: &mut Client| {
            let sources = c
                .query(
                    "SELECT s.id, s.url,
                            (SELECT max(published_at COLLATE \"C\") FROM articles WHERE source_id = s.id)
                       FROM sources s ORDER BY s.id",
                    &[],
                )
                .await?;
            let mut out = Vec::with_capacity(sources.len());
            for s in sources {
                let url: String = s.try_get(1)?;
                let failing = match origin_prefix(&url) {
                    // starts_with rather than LIKE (the prefix may hold `%` or `_`) or a
                    // range (which depends on the database's collation).
                    Some(prefix) => {
                        let n: i64 = c
                            .query_one(
                                "SELECT count(*) FROM fetch_state
                                  WHERE starts_with(url, $1) AND failures > 0",
                                &[&prefix],
                            )
                            .await?
                            .try_get(0)?;
                        let listed = c
                            .query(
                                "SELECT url, last_status, last_error, failures FROM fetch_state
                                  WHERE starts_with(url, $1) AND failures > 0
                                  ORDER BY failures DESC, url COLLATE \"C\" LIMIT $2",
                                &[&prefix, &int(pages)],
                            )
                            .await?;
                        (n, listed)
                    }
                    None => (0, Vec::new()),
                };
                out.push((s, failing));
            }
            Ok::<_, tokio_postgres::Error>(out)
        });
        let ctx = "reading the sources' health";
        found
            .context(ctx)?
            .into_iter()
            .map(|(s, (failing, listed))| {
                Ok(SourceHealth {
                    id: s.try_get(0).context(ctx)?,
                    newest_published: opt_time(&s, 2, ctx)?,
                    failing: count(failing),
                    failing_pages: listed
                        .iter()
                        .map(|r| {
                            Ok(FailingPage {
                                url: r.try_get(0).context(ctx)?,
                                last_status: r
                                    .try_get::<_, Option<i64>>(1)
                                    .context(ctx)?
                                    .and_then(|s| u16::try_from(s).ok()),
                                last_error: r.try_get(2).context(ctx)?,
                                failures: u32::try_from(r.try_get::<_, i64>(3).context(ctx)?)
                                    .unwrap_or(0),
                            })
                        })
                        .collect::<Result<_>>()?,
                })
            })
            .collect()
    }

    /// Make this connection a reader for a server: every transaction read-only, every
    /// statement stopped after `time_limit` (PostgreSQL's `statement_timeout`; the error
    /// is then [`crate::is_interrupted`]).
    pub fn make_read_only(&mut self, time_limit: std::time::Duration) -> Result<()> {
        let millis = time_limit.as_millis().max(1);
        self.block(async |c: &mut Client| {
            c.batch_execute(&format!(
                "SET default_transaction_read_only = on; SET statement_timeout = {millis}"
            ))
            .await
        })
        .context("making the connection read-only")
    }

    /// Start one read-only transaction: every query until [`PgStore::end_read`] sees one
    /// snapshot of the database.
    pub fn begin_read(&mut self) -> Result<()> {
        self.block(async |c: &mut Client| {
            c.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .await
        })
        .context("starting a read-only transaction")
    }

    /// End the transaction [`PgStore::begin_read`] started (also after an error in it).
    pub fn end_read(&mut self) -> Result<()> {
        self.block(async |c: &mut Client| c.batch_execute("ROLLBACK").await)
            .context("ending a read-only transaction")
    }

    /// A value that changes whenever any transaction that wrote has ended since it was last
    /// read (the server's current snapshot: `xmin:xmax:in-progress ids`). Reading it starts
    /// no transaction id. Other databases of the same server change it too: a change is
    /// only a reason to look again.
    pub fn write_generation(&mut self) -> Result<String> {
        self.block(async |c: &mut Client| {
            c.query_one("SELECT pg_current_snapshot()::text", &[])
                .await
                .and_then(|r| r.try_get::<_, String>(0))
        })
        .context("reading the current snapshot")
    }
}

/// Whether `error` is PostgreSQL stopping a statement at its `statement_timeout` (or a
/// cancel request).
pub(crate) fn is_canceled(error: &StoreError) -> bool {
    match error {
        StoreError::Postgres { source, .. } => {
            source.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED)
        }
        StoreError::Article { source, .. } => is_canceled(source),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const ENV: &str = "GLEANER_TEST_POSTGRES";

    fn admin(url: &str, sql: &str) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("{ENV}={url} does not answer: {e}"));
            let task = tokio::spawn(conn);
            client.batch_execute(sql).await.unwrap();
            drop(client);
            let _ = task.await;
        });
    }

    #[test]
    fn a_reader_writes_nothing_and_a_statement_past_the_limit_is_stopped() {
        let Ok(base) = std::env::var(ENV) else {
            use std::io::Write;
            let _ = std::io::stderr()
                .write_all(format!("skipped on PostgreSQL: {ENV} is not set\n").as_bytes());
            return;
        };
        let schema = format!("gleaner_browse_{}", std::process::id());
        admin(
            &base,
            &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"),
        );
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
        let mut store = PgStore::open(&url).unwrap();
        store.make_read_only(Duration::from_millis(50)).unwrap();

        let slow = store
            .block(async |c: &mut Client| c.batch_execute("SELECT pg_sleep(10)").await)
            .context("sleeping");
        let slow = slow.unwrap_err();
        assert!(crate::is_interrupted(&slow), "{slow:?}");

        store.begin_read().unwrap();
        let write = store
            .block(async |c: &mut Client| {
                c.batch_execute("INSERT INTO runs (started_at, status) VALUES ('x', 'ok')")
                    .await
            })
            .unwrap_err();
        assert_eq!(
            write.code(),
            Some(&tokio_postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION),
            "{write:?}"
        );
        store.end_read().unwrap();
        // The connection goes on: the transaction that failed was ended.
        assert_eq!(store.stats().unwrap().recent_runs.len(), 0);
        drop(store);
        admin(&base, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    }
}
