//! Reading: one article, full-text search, entity counts, statistics.
//!
//! Every value a user gives is bound as a parameter; the SQL text is assembled only from
//! fixed fragments chosen by which filters are present.

use std::collections::{HashMap, HashSet};

use gleaner_model::{Article, Entity};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use crate::convert::{entity_kind, opt_time, opt_time_text, run_status, time, usize_col};
use crate::{
    ArticleKey, Context, EntityCount, EntityQuery, Result, RunCounts, RunRecord, SearchHit,
    SearchOrder, SearchQuery, Stats, Store, StoreError,
};

/// The snippet: `[`matched`]` words, `…` where text was cut, about this many tokens.
const SNIPPET_TOKENS: u32 = 12;

/// Hits whose ids are at most this far apart get their snippets from one scan of the
/// full-text index over the ids between them (see [`Store::fill_snippets`]): walking that
/// many ids of a common word's doclist costs about what one more rowid seek does.
const SNIPPET_GAP: i64 = 4096;

/// bm25 weights of the FTS columns (title, body): a word in the title counts double.
const BM25: &str = "bm25(articles_fts, 2.0, 1.0)";

/// SQL text and its parameters, built together so that they cannot drift apart.
#[derive(Default)]
struct Sql {
    text: String,
    params: Vec<Value>,
}

impl Sql {
    fn push(&mut self, fragment: &str) -> &mut Self {
        self.text.push_str(fragment);
        self
    }
    fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.params.push(value.into());
        self
    }
}

/// A `LIMIT` value: 0 means none (SQLite reads a negative limit as no limit).
///
/// Limits and offsets are written into the SQL text as numbers, not bound: SQLite (3.51)
/// plans with a bound LIMIT's value, so every new binding of one, even to the same value,
/// expires the cached statement and the next step prepares it again (for an entity page
/// 7 % of its CPU, for a search page 3 %). The text of a limit is one of a few numbers, so
/// the statement cache still holds each shape once.
/// Ranked matches `(article id, bm25)` best first: FTS5's bm25 is lower for better matches;
/// ties go to the older article id, so a page's order is stable.
pub(crate) fn best_first(ranked: &[(i64, f64)]) -> Vec<(i64, f64)> {
    let mut order = ranked.to_vec();
    order.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.0.cmp(&b.0))
    });
    order
}

fn limit_value(n: usize) -> i64 {
    if n == 0 {
        -1
    } else {
        i64::try_from(n).unwrap_or(i64::MAX)
    }
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// How a search checks that an article mentions an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntityCheck {
    /// `a.id IN (the entity's articles)`: the list is built once and may drive the query.
    /// Best for an entity in few articles.
    List,
    /// `EXISTS (a mention in this article)`: checked per candidate article, through the
    /// article's own mentions. Best for an entity in many articles, where the list would be
    /// long and scanning newest-first finds a page of hits quickly.
    PerArticle,
}

/// With terms, a per-article check is chosen when `needed` matches are wanted and
/// `PER_ARTICLE_COST` × `needed` × articles < (the entity's articles)²: listing the entity's
/// articles costs about 0.27 µs each, checking one full-text match through `mentions_entity`
/// about 0.6 µs, and about `needed` × articles / (its articles) matches are walked before
/// `needed` pass. Measured on 100,000 articles with the entity in 72,800 of them: 20 ms to
/// list, 2.5–8.5 ms to check per article for 1,000 and 10,001 matches.
const PER_ARTICLE_COST: f64 = 2.5;

/// `AND` (the article mentions an entity called NAME [of KIND]).
fn push_entity_filter(sql: &mut Sql, id: &str, name: &str, kind: Option<&str>, check: EntityCheck) {
    sql.push(&match check {
        EntityCheck::List => {
            format!(" AND {id} IN (SELECT m.article_id FROM mentions m WHERE m.entity_id IN (")
        }
        EntityCheck::PerArticle => format!(
            " AND EXISTS (SELECT 1 FROM mentions m WHERE m.article_id = {id} AND m.entity_id IN ("
        ),
    });
    push_entity_ids(sql, name, kind);
    sql.push("))");
}

/// `SELECT` the ids of entities called NAME (canonical name or alias, any case) [of KIND].
fn push_entity_ids(sql: &mut Sql, name: &str, kind: Option<&str>) {
    sql.push("SELECT e.id FROM entities e WHERE e.name = ? COLLATE NOCASE")
        .bind(name.trim().to_string());
    if let Some(kind) = kind {
        // `+`: look the name up in `entities_name`. Otherwise SQLite took the (kind, name)
        // index for the kind alone and compared the name of every entity of that kind
        // (16,600 people of 100,000 articles: 1 ms instead of 0.05, twice an entity page).
        sql.push(" AND +e.kind = ?").bind(kind.to_string());
    }
    sql.push(
        " UNION SELECT al.entity_id FROM entity_aliases al JOIN entities e ON e.id = al.entity_id
           WHERE al.alias = ? COLLATE NOCASE",
    )
    .bind(name.trim().to_string());
    if let Some(kind) = kind {
        sql.push(" AND +e.kind = ?").bind(kind.to_string());
    }
}

/// The entity names of a search, trimmed, blanks dropped.
fn entity_names(query: &SearchQuery) -> Vec<&str> {
    query
        .entities
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .collect()
}

/// Turn an FTS5 parse error into [`StoreError::BadQuery`].
///
/// The statement text is fixed and tested, so a plain `SQLITE_ERROR` while it runs with a
/// MATCH expression can only come from that expression.
fn search_error(terms: Option<&str>, context: &str, err: rusqlite::Error) -> StoreError {
    if let (Some(terms), rusqlite::Error::SqliteFailure(code, message)) = (terms, &err)
        && code.code == rusqlite::ErrorCode::Unknown
    {
        return StoreError::BadQuery {
            query: terms.to_string(),
            message: message.clone().unwrap_or_else(|| err.to_string()),
        };
    }
    StoreError::sqlite(context, err)
}

impl Store {
    /// One article with labels and entities.
    ///
    /// [`ArticleKey::Url`] matches `url` first, then `canonical_url`.
    pub fn article(&self, key: ArticleKey<'_>) -> Result<Option<Article>> {
        let id = match key {
            ArticleKey::Id(id) => id,
            ArticleKey::Url(url) => {
                let found: Option<i64> = self
                    .conn
                    .prepare_cached(
                        "SELECT id FROM (SELECT id, 0 AS pref FROM articles WHERE url = ?1
                                         UNION ALL
                                         SELECT id, 1 FROM articles WHERE canonical_url = ?1)
                          ORDER BY pref, id LIMIT 1",
                    )
                    .and_then(|mut st| st.query_row([url], |r| r.get(0)).optional())
                    .with_context(|| format!("looking up article {url}"))?;
                match found {
                    Some(id) => id,
                    None => return Ok(None),
                }
            }
        };
        load_article(&self.conn, id)
    }

    /// Full-text search with filters.
    ///
    /// With terms: FTS5 syntax (phrases, `OR`, `NOT`, `prefix*`, `title:word`), best bm25
    /// first, with a snippet of the body. Without: newest first by publication time.
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        let mut hits = Vec::new();
        self.search_each(query, |hit| {
            hits.push(hit);
            Ok(())
        })?;
        Ok(hits)
    }

    /// [`Store::search`], handing each hit to `f` as it is read (constant memory).
    /// An error from `f` stops the search and is returned.
    pub fn search_each(
        &self,
        query: &SearchQuery,
        f: impl FnMut(SearchHit) -> Result<()>,
    ) -> Result<()> {
        let checks = self.entity_checks(query)?;
        self.search_each_with(query, &checks, f)
    }

    /// [`Store::search_each`] with the entity checks given.
    fn search_each_with(
        &self,
        query: &SearchQuery,
        checks: &[EntityCheck],
        f: impl FnMut(SearchHit) -> Result<()>,
    ) -> Result<()> {
        let terms = query
            .terms
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let sql = search_sql(query, terms, checks);
        self.run_search(&sql, terms, f)
    }

    /// A page of search hits for a browser, in `order`.
    ///
    /// With terms and [`SearchOrder::Relevance`]: best bm25 first among the newest `window`
    /// matches (by article id: the most recently stored), so that a word found in most
    /// articles costs the same as a rare one. bm25 reads each ranked match's column sizes
    /// and positions; for a word in 63% of 120,000 articles, ranking all matches took 55 ms
    /// and ranking the newest 5,000 takes 6. With [`SearchOrder::Date`]: newest first by
    /// publication time over all matches (exact), no rank. Without terms: as
    /// [`Store::search`] (newest first). `window` 0 means no cut.
    pub fn search_ordered(
        &self,
        query: &SearchQuery,
        order: SearchOrder,
        window: usize,
    ) -> Result<Vec<SearchHit>> {
        let terms = query
            .terms
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(terms) = terms else {
            return self.search(query);
        };
        let needed = match order {
            SearchOrder::Relevance => window,
            SearchOrder::Date => 0,
        };
        let checks = self.entity_checks_for(query, needed)?;
        self.search_ordered_with(query, terms, order, window, &checks)
    }

    /// [`Store::search_ordered`] with terms and the entity checks given.
    fn search_ordered_with(
        &self,
        query: &SearchQuery,
        terms: &str,
        order: SearchOrder,
        window: usize,
        checks: &[EntityCheck],
    ) -> Result<Vec<SearchHit>> {
        let sql = ordered_search_sql(query, terms, checks, order, window);
        let mut hits = Vec::new();
        self.run_search(&sql, Some(terms), |hit| {
            hits.push(hit);
            Ok(())
        })?;
        self.fill_snippets(terms, &mut hits)?;
        Ok(hits)
    }

    /// The newest `window` matches of `terms` that pass `query`'s filters, newest first
    /// (FTS5 walks its doclists by descending rowid: no sort), each with its bm25: the
    /// `newest` step of [`Store::search_ordered`]'s relevance order.
    pub(crate) fn newest_ranked(
        &self,
        query: &SearchQuery,
        terms: &str,
        checks: &[EntityCheck],
        window: usize,
    ) -> Result<Vec<(i64, f64)>> {
        let needs_row = needs_row(query);
        let id = if needs_row {
            "+a.id"
        } else {
            "+articles_fts.rowid"
        };
        let mut sql = Sql::default();
        sql.push(&format!("SELECT {id}, {BM25} FROM articles_fts"));
        if needs_row {
            sql.push(" CROSS JOIN articles a ON a.id = articles_fts.rowid");
        }
        sql.push(" WHERE articles_fts MATCH ?")
            .bind(terms.to_string());
        push_filters(&mut sql, query, id, checks);
        sql.push(&format!(
            " ORDER BY articles_fts.rowid DESC LIMIT {}",
            limit_value(window)
        ));
        let fail = |context: &str, err| search_error(Some(terms), context, err);
        let mut st = self
            .conn
            .prepare_cached(&sql.text)
            .map_err(|e| fail("preparing a search", e))?;
        let mut rows = st
            .query(params_from_iter(sql.params.iter()))
            .map_err(|e| fail("running a search", e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| fail("reading search results", e))? {
            out.push(
                (|| Ok::<_, rusqlite::Error>((row.get(0)?, row.get(1)?)))()
                    .context("reading a search hit")?,
            );
        }
        drop(rows);
        drop(st);
        if out.is_empty() {
            // As in `run_search`: have FTS5 parse an expression that found nothing.
            self.conn
                .prepare_cached("SELECT 1 FROM articles_fts WHERE articles_fts MATCH ?1 LIMIT 1")
                .and_then(|mut st| st.query_row([terms], |_| Ok(())).optional())
                .map_err(|e| fail("checking the search syntax", e))?;
        }
        Ok(out)
    }

    /// The page (`limit` from `offset`; `limit` 0: all) of `ranked` best first (lowest bm25,
    /// then lowest id, as SQL's `ORDER BY score, id`), with rows and snippets.
    pub(crate) fn best_of(
        &self,
        terms: &str,
        ranked: &[(i64, f64)],
        limit: usize,
        offset: usize,
    ) -> Result<Vec<SearchHit>> {
        let order = best_first(ranked);
        let take = if limit == 0 { usize::MAX } else { limit };
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT a.id, a.url, a.title, a.author, a.published_at FROM articles a WHERE a.id = ?1",
            )
            .context("preparing a search hit")?;
        let mut hits = Vec::new();
        for &(id, score) in order.iter().skip(offset).take(take) {
            let hit = st
                .query_row([id], |row| {
                    Ok(SearchHit {
                        id: row.get(0)?,
                        url: row.get(1)?,
                        title: row.get(2)?,
                        author: row.get(3)?,
                        published_at: opt_time(row, 4)?,
                        snippet: None,
                        rank: Some(score),
                    })
                })
                .optional()
                .with_context(|| format!("reading search hit {id}"))?;
            hits.extend(hit);
        }
        drop(st);
        self.fill_snippets(terms, &mut hits)?;
        Ok(hits)
    }

    /// The snippets of a page of hits of `terms`, as [`Store::search`] makes them, with
    /// one full-text scan per run of nearby ids instead of one MATCH per hit.
    ///
    /// A MATCH constrained to one rowid opens every term's doclist and seeks in it: for a
    /// word in 62% of 100,000 articles that was 0.4 ms CPU a hit, 8 ms for a page of 20,
    /// before any snippet was made. A MATCH over a rowid range walks the doclist there
    /// (about 0.07 µs per id of the range for that word) and makes snippets only for the
    /// ids listed: the page of 20 in 2.2 ms, snippets included. Ids further apart than
    /// [`SNIPPET_GAP`] are taken in separate scans, so a page of a few far-apart hits
    /// does not walk the whole doclist.
    fn fill_snippets(&self, terms: &str, hits: &mut [SearchHit]) -> Result<()> {
        self.fill_snippets_apart(terms, hits, SNIPPET_GAP)
    }

    /// [`Store::fill_snippets`] with ids more than `gap` apart in separate scans.
    fn fill_snippets_apart(&self, terms: &str, hits: &mut [SearchHit], gap: i64) -> Result<()> {
        let mut ids: Vec<i64> = hits.iter().map(|h| h.id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut snippets: HashMap<i64, String> = HashMap::with_capacity(ids.len());
        let mut start = 0;
        for end in 1..=ids.len() {
            if end < ids.len() && ids[end] - ids[end - 1] <= gap {
                continue;
            }
            let run = &ids[start..end];
            start = end;
            let (Some(&low), Some(&high)) = (run.first(), run.last()) else {
                continue;
            };
            let marks = vec!["?"; run.len()].join(", ");
            let sql = format!(
                "SELECT rowid, snippet(articles_fts, 1, '[', ']', '…', {SNIPPET_TOKENS})
                   FROM articles_fts
                  WHERE articles_fts MATCH ? AND rowid >= ? AND rowid <= ?
                    AND articles_fts.rowid + 0 IN ({marks})"
            );
            let mut params: Vec<Value> = vec![
                Value::Text(terms.to_string()),
                Value::Integer(low),
                Value::Integer(high),
            ];
            params.extend(run.iter().map(|&id| Value::Integer(id)));
            let mut st = self
                .conn
                .prepare_cached(&sql)
                .map_err(|e| search_error(Some(terms), "preparing the snippets", e))?;
            let mut rows = st
                .query(params_from_iter(params.iter()))
                .map_err(|e| search_error(Some(terms), "making snippets", e))?;
            while let Some(row) = rows
                .next()
                .map_err(|e| search_error(Some(terms), "making snippets", e))?
            {
                let (id, snippet): (i64, Option<String>) =
                    (|| Ok::<_, rusqlite::Error>((row.get(0)?, row.get(1)?)))()
                        .context("reading a snippet")?;
                if let Some(snippet) = snippet {
                    snippets.insert(id, snippet);
                }
            }
        }
        for hit in hits {
            hit.snippet = snippets.remove(&hit.id).or_else(|| hit.snippet.take());
        }
        Ok(())
    }

    /// Run a search's SQL, handing each hit to `f`.
    fn run_search(
        &self,
        sql: &Sql,
        terms: Option<&str>,
        mut f: impl FnMut(SearchHit) -> Result<()>,
    ) -> Result<()> {
        let fail = |context: &str, err| search_error(terms, context, err);
        // Cached: a search's SQL depends only on which filters it has, so a page of another
        // word or entity reuses the compiled statement.
        let mut st = self
            .conn
            .prepare_cached(&sql.text)
            .map_err(|e| fail("preparing a search", e))?;
        let mut rows = st
            .query(params_from_iter(sql.params.iter()))
            .map_err(|e| fail("running a search", e))?;
        let mut found = false;
        while let Some(row) = rows.next().map_err(|e| fail("reading search results", e))? {
            found = true;
            let hit = (|| {
                Ok::<_, rusqlite::Error>(SearchHit {
                    id: row.get(0)?,
                    url: row.get(1)?,
                    title: row.get(2)?,
                    author: row.get(3)?,
                    published_at: opt_time(row, 4)?,
                    snippet: row.get(5)?,
                    rank: row.get(6)?,
                })
            })()
            .context("reading a search hit")?;
            f(hit)?;
        }
        if let (false, Some(terms)) = (found, terms) {
            // SQLite may answer a join with an empty table without ever handing the MATCH
            // expression to FTS5 (an empty database does), so bad syntax would pass as "no
            // hits". Nothing found: have FTS5 parse the expression on its own.
            self.conn
                .prepare_cached("SELECT 1 FROM articles_fts WHERE articles_fts MATCH ?1 LIMIT 1")
                .and_then(|mut st| st.query_row([terms], |_| Ok(())).optional())
                .map_err(|e| fail("checking the search syntax", e))?;
        }
        Ok(())
    }

    /// Choose, for each entity filter of a search, how to check it. With terms: lists.
    /// Without: from the counters kept on `entities`, a list for an entity in few articles,
    /// a per-article check (while scanning newest first) for one in many. The choice changes
    /// the speed, never the result.
    fn entity_checks(&self, query: &SearchQuery) -> Result<Vec<EntityCheck>> {
        self.entity_checks_for(query, 0)
    }

    /// [`Store::entity_checks`] for a statement that wants the newest `needed` matches
    /// (0: all of them). With terms the full-text index drives and each match is checked:
    /// against a list of the entity's articles built once, or, for an entity in so many
    /// articles that building the list costs more than checking the matches walked before
    /// `needed` pass, per match through `mentions_entity` (see [`PER_ARTICLE_COST`]).
    pub(crate) fn entity_checks_for(
        &self,
        query: &SearchQuery,
        needed: usize,
    ) -> Result<Vec<EntityCheck>> {
        let names = entity_names(query);
        let has_terms = query.terms.as_deref().is_some_and(|t| !t.trim().is_empty());
        if names.is_empty() || (has_terms && needed == 0) {
            return Ok(vec![EntityCheck::List; names.len()]);
        }
        let articles: i64 = self
            .conn
            .prepare_cached("SELECT coalesce(max(id), 0) FROM articles")
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .context("estimating the number of articles")?;
        let per_article = |in_articles: i64| {
            if has_terms {
                let listed = in_articles as f64;
                listed * listed > PER_ARTICLE_COST * needed as f64 * articles as f64
            } else {
                // Listing c articles costs about c; checking per article costs about
                // 20 * N / c for a page of 20 newest hits: they are even around
                // c = sqrt(20 N).
                in_articles > ((20.0 * articles as f64).sqrt() as i64).max(1000)
            }
        };
        let kind = query.kind.map(|k| k.as_str());
        names
            .iter()
            .map(|name| {
                let mut sql = Sql::default();
                sql.push("SELECT coalesce(sum(article_count), 0) FROM entities WHERE id IN (");
                push_entity_ids(&mut sql, name, kind);
                sql.push(")");
                let in_articles: i64 = self
                    .conn
                    .prepare_cached(&sql.text)
                    .and_then(|mut st| {
                        st.query_row(params_from_iter(sql.params.iter()), |r| r.get(0))
                    })
                    .context("estimating an entity's articles")?;
                Ok(if per_article(in_articles) {
                    EntityCheck::PerArticle
                } else {
                    EntityCheck::List
                })
            })
            .collect()
    }

    /// SQLite's query plan for a search (`EXPLAIN QUERY PLAN`), one line per step: a
    /// debugging aid for slow queries.
    pub fn search_plan(&self, query: &SearchQuery) -> Result<Vec<String>> {
        let terms = query
            .terms
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let sql = search_sql(query, terms, &self.entity_checks(query)?);
        let mut st = self
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", sql.text))
            .context("preparing a query plan")?;
        let rows = st
            .query_map(params_from_iter(sql.params.iter()), |r| {
                Ok(format!(
                    "{} {} {}",
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(3)?
                ))
            })
            .map_err(|e| search_error(terms, "explaining a search", e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| search_error(terms, "explaining a search", e))
    }

    /// Every article matching `query`, whole (labels and entities), in search order, handed
    /// to `f` one at a time (constant memory): `gleaner export`.
    pub fn for_each_article(
        &self,
        query: &SearchQuery,
        mut f: impl FnMut(Article) -> Result<()>,
    ) -> Result<()> {
        self.search_each(query, |hit| match load_article(&self.conn, hit.id)? {
            Some(article) => f(article),
            None => Ok(()),
        })
    }

    /// Most-mentioned entities, or with [`EntityQuery::with`] those mentioned in the most
    /// articles together with that name.
    pub fn top_entities(&self, query: &EntityQuery) -> Result<Vec<EntityCount>> {
        let mut sql = Sql::default();
        let kind = query.kind.map(|k| k.as_str().to_string());
        let with = query
            .with
            .as_deref()
            .map(str::trim)
            .filter(|w| !w.is_empty());
        if let Some(with) = with {
            return self.co_mentioned(with, query);
        }
        if query.since.is_none() {
            // The counters on `entities` answer this without reading `mentions`.
            sql.push(
                "SELECT kind, name, mention_count, article_count FROM entities
                  WHERE mention_count > 0",
            );
            if let Some(kind) = kind {
                sql.push(" AND kind = ?").bind(kind);
            }
            sql.push(" ORDER BY mention_count DESC, article_count DESC, name");
        } else if let Some(since) = &query.since {
            // The articles published since, then their mentions grouped by entity id; names
            // are looked up for the groups only.
            sql.push(
                "WITH arts (id) AS (SELECT id FROM articles WHERE published_at >= ?),
                 counts (entity_id, mentions, articles) AS (
                     SELECT m.entity_id, count(*), count(DISTINCT m.article_id)
                       FROM arts CROSS JOIN mentions m ON m.article_id = arts.id
                      GROUP BY m.entity_id)
                 SELECT e.kind, e.name, c.mentions, c.articles
                   FROM counts c JOIN entities e ON e.id = c.entity_id WHERE 1",
            )
            .bind(crate::convert::time_text(since));
            if let Some(kind) = kind {
                sql.push(" AND e.kind = ?").bind(kind);
            }
            sql.push(" ORDER BY c.mentions DESC, c.articles DESC, e.name");
        }
        sql.push(" LIMIT ?").bind(limit_value(query.top));
        let mut st = self
            .conn
            .prepare(&sql.text)
            .context("preparing the entity counts")?;
        let rows = st
            .query_map(params_from_iter(sql.params.iter()), |r| {
                Ok(EntityCount {
                    kind: entity_kind(r, 0)?,
                    name: r.get(1)?,
                    mentions: count(r.get(2)?),
                    articles: count(r.get(3)?),
                })
            })
            .context("counting entities")?;
        rows.collect::<rusqlite::Result<_>>()
            .context("reading entity counts")
    }

    /// `entities --with NAME`: the entities mentioned in the articles that mention NAME
    /// (published since, if given), ranked by the number of such articles, then mentions,
    /// then name; NAME's own entities left out.
    ///
    /// The articles' mentions (a common name brings a few hundred thousand) are counted here,
    /// in one pass over the rows SQLite reads in article order, rather than by an SQL
    /// `GROUP BY` that would sort them all first: four times faster. Names and kinds are read
    /// for the few entities at the top only.
    fn co_mentioned(&self, with: &str, query: &EntityQuery) -> Result<Vec<EntityCount>> {
        let mut ids = Sql::default();
        push_entity_ids(&mut ids, with, None);
        let with_ids: HashSet<i64> = self
            .conn
            .prepare_cached(&ids.text)
            .and_then(|mut st| {
                st.query_map(params_from_iter(ids.params.iter()), |r| r.get(0))?
                    .collect()
            })
            .context("looking up the entities of --with")?;
        if with_ids.is_empty() {
            return Ok(Vec::new());
        }
        // The articles (in id order), and for each its mentions: a CROSS JOIN keeps that
        // nesting, so the rows of one article come together.
        let mut sql = Sql::default();
        sql.push(
            "SELECT m.article_id, m.entity_id
               FROM (SELECT DISTINCT article_id FROM mentions WHERE entity_id IN (",
        );
        push_entity_ids(&mut sql, with, None);
        sql.push(")");
        if let Some(since) = &query.since {
            sql.push(" AND article_id IN (SELECT id FROM articles WHERE published_at >= ?)")
                .bind(crate::convert::time_text(since));
        }
        sql.push(") arts CROSS JOIN mentions m ON m.article_id = arts.article_id");
        let mut counts = CoMentionCounts::default();
        {
            let mut st = self
                .conn
                .prepare_cached(&sql.text)
                .context("preparing the co-mention scan")?;
            let mut rows = st
                .query(params_from_iter(sql.params.iter()))
                .context("reading co-mentions")?;
            while let Some(row) = rows.next().context("reading co-mentions")? {
                let article: i64 = row.get(0).context("reading co-mentions")?;
                let entity: i64 = row.get(1).context("reading co-mentions")?;
                counts.add(article, entity);
            }
        }
        let ranked = counts.ranked(|id| !with_ids.contains(&id));
        // Read names (and kinds) down the ranking until `top` entities of the kind asked
        // for are found, and then those tied with the last one, so ties sort by name.
        let mut name_of = self
            .conn
            .prepare_cached("SELECT kind, name FROM entities WHERE id = ?1")
            .context("preparing the entity lookup")?;
        let mut out: Vec<EntityCount> = Vec::new();
        for (id, mentions, articles) in ranked {
            if query.top > 0
                && out.len() >= query.top
                && out
                    .last()
                    .is_some_and(|l| (l.articles, l.mentions) != (articles, mentions))
            {
                break;
            }
            let (kind, name) = name_of
                .query_row([id], |r| Ok((entity_kind(r, 0)?, r.get::<_, String>(1)?)))
                .with_context(|| format!("reading entity {id}"))?;
            if query.kind.is_some_and(|k| k != kind) {
                continue;
            }
            out.push(EntityCount {
                kind,
                name,
                mentions,
                articles,
            });
        }
        sort_by_company(&mut out);
        if query.top > 0 {
            out.truncate(query.top);
        }
        Ok(out)
    }

    /// Counts for `gleaner stats`.
    pub fn stats(&self) -> Result<Stats> {
        let c = &self.conn;
        let one = |sql: &str| -> Result<u64> {
            c.query_row(sql, [], |r| r.get::<_, i64>(0))
                .map(count)
                .with_context(|| format!("counting: {sql}"))
        };
        let pairs = |sql: &str| -> Result<Vec<(String, u64)>> {
            let mut st = c
                .prepare(sql)
                .with_context(|| format!("preparing: {sql}"))?;
            let rows = st
                .query_map([], |r| Ok((r.get::<_, String>(0)?, count(r.get(1)?))))
                .with_context(|| format!("running: {sql}"))?;
            rows.collect::<rusqlite::Result<_>>()
                .with_context(|| format!("reading: {sql}"))
        };
        let per_kind = {
            let mut st = c
                .prepare("SELECT kind, count(*) FROM entities WHERE mention_count > 0 GROUP BY kind ORDER BY 2 DESC, 1")
                .context("preparing the per-kind counts")?;
            let rows = st
                .query_map([], |r| Ok((entity_kind(r, 0)?, count(r.get(1)?))))
                .context("counting entities per kind")?;
            rows.collect::<rusqlite::Result<_>>()
                .context("reading per-kind counts")?
        };
        Ok(Stats {
            articles: one("SELECT count(*) FROM articles")?,
            entities: one("SELECT count(*) FROM entities WHERE mention_count > 0")?,
            // The counters agree with `mentions` (the store keeps them so; the tests check)
            // and are read without scanning millions of mention rows.
            mentions: one("SELECT coalesce(sum(mention_count), 0) FROM entities")?,
            per_source: pairs(
                "SELECT coalesce(s.url, '(none)'), count(*) FROM articles a
                   LEFT JOIN sources s ON s.id = a.source_id
                  GROUP BY a.source_id ORDER BY 2 DESC, 1",
            )?,
            per_month: pairs(
                "SELECT coalesce(substr(published_at, 1, 7), '(unknown)'), count(*) FROM articles
                  GROUP BY 1 ORDER BY published_at IS NULL, 1 DESC",
            )?,
            per_kind,
            recent_runs: recent_runs(c, 10)?,
        })
    }
}

/// The SQL of a search.
fn search_sql(query: &SearchQuery, terms: Option<&str>, checks: &[EntityCheck]) -> Sql {
    let mut sql = Sql::default();
    let needs_row = needs_row(query);
    // With terms, the unary `+` keeps SQLite from using an id filter to drive the query
    // (which would re-run the MATCH once per listed article): the full-text index drives.
    let id = match (terms.is_some(), needs_row) {
        (true, false) => "+articles_fts.rowid",
        (true, true) => "+a.id",
        (false, _) => "a.id",
    };
    if let Some(terms) = terms {
        // Two steps. First the page of hits: the full-text index drives (CROSS JOIN keeps
        // SQLite from looping over a filter's articles and re-running the MATCH for each),
        // every filter is checked per hit, and bm25 ranks them; article rows are read only
        // when a filter needs them. Then, for that page only, the rows and the snippets
        // (computing snippets for every hit before the sort would be wasted work).
        sql.push(&format!(
            "WITH hits (id, score) AS (SELECT {id}, {BM25} FROM articles_fts"
        ));
        if needs_row {
            sql.push(" CROSS JOIN articles a ON a.id = articles_fts.rowid");
        }
        sql.push(" WHERE articles_fts MATCH ?")
            .bind(terms.to_string());
    } else {
        sql.push(
            "SELECT a.id, a.url, a.title, a.author, a.published_at, NULL, NULL
               FROM articles a WHERE 1",
        );
    }
    push_filters(&mut sql, query, id, checks);
    let order = if terms.is_some() {
        " ORDER BY 2, 1"
    } else {
        " ORDER BY a.published_at DESC, a.id DESC"
    };
    sql.push(order);
    push_page(&mut sql, query);
    if let Some(terms) = terms {
        sql.push(")");
        push_hit_rows(&mut sql, terms, "hits.score, hits.id");
    }
    sql
}

/// Whether a filter of `query` is on the article row itself (the others need only its id).
fn needs_row(query: &SearchQuery) -> bool {
    query.source.is_some()
        || query.author.is_some()
        || query.since.is_some()
        || query.until.is_some()
}

/// ` LIMIT n OFFSET m` of `query`'s page.
fn push_page(sql: &mut Sql, query: &SearchQuery) {
    sql.push(&format!(
        " LIMIT {} OFFSET {}",
        limit_value(query.limit),
        i64::try_from(query.offset).unwrap_or(i64::MAX)
    ));
}

/// After a `hits (id, score, …)` CTE of one page: those articles' rows, without snippets
/// (see [`Store::fill_snippets`]), in `order`.
fn push_hit_rows_only(sql: &mut Sql, order: &str) {
    sql.push(&format!(
        "
         SELECT a.id, a.url, a.title, a.author, a.published_at, NULL, hits.score
           FROM hits
          CROSS JOIN articles a ON a.id = hits.id
          ORDER BY {order}"
    ));
}

/// After a `hits (id, score, …)` CTE of one page: those articles' rows and snippets, in
/// `order` (snippets only for the page: computing them before the cut would be wasted).
fn push_hit_rows(sql: &mut Sql, terms: &str, order: &str) {
    sql.push(&format!(
        "
         SELECT a.id, a.url, a.title, a.author, a.published_at,
                snippet(articles_fts, 1, '[', ']', '…', {SNIPPET_TOKENS}), hits.score
           FROM hits
          CROSS JOIN articles_fts ON articles_fts.rowid = hits.id
          CROSS JOIN articles a ON a.id = hits.id
          WHERE articles_fts MATCH ?
          ORDER BY {order}"
    ))
    .bind(terms.to_string());
}

/// The SQL of [`Store::search_ordered`] with terms.
fn ordered_search_sql(
    query: &SearchQuery,
    terms: &str,
    checks: &[EntityCheck],
    order: SearchOrder,
    window: usize,
) -> Sql {
    let mut sql = Sql::default();
    let needs_row = needs_row(query);
    // As in `search_sql`: the full-text index drives (CROSS JOIN), `+` keeps an id filter
    // from driving the MATCH.
    let final_order = match order {
        SearchOrder::Relevance => {
            let id = if needs_row {
                "+a.id"
            } else {
                "+articles_fts.rowid"
            };
            // The matches newest first: FTS5 walks its doclists in descending rowid order
            // itself (no sort), and bm25 is computed only for the rows the LIMIT lets
            // through, after every filter passed. Then the best of those.
            sql.push(&format!(
                "WITH newest (id, score) AS MATERIALIZED (SELECT {id}, {BM25} FROM articles_fts"
            ));
            if needs_row {
                sql.push(" CROSS JOIN articles a ON a.id = articles_fts.rowid");
            }
            sql.push(" WHERE articles_fts MATCH ?")
                .bind(terms.to_string());
            push_filters(&mut sql, query, id, checks);
            sql.push(&format!(
                " ORDER BY articles_fts.rowid DESC LIMIT {})",
                limit_value(window)
            ));
            sql.push(", hits (id, score) AS (SELECT id, score FROM newest ORDER BY score, id");
            push_page(&mut sql, query);
            sql.push(")");
            "hits.score, hits.id"
        }
        SearchOrder::Date => {
            // Every match's publication time (from its row), then the newest.
            sql.push(
                "WITH hits (id, score, published_at) AS (SELECT a.id, NULL, a.published_at
                   FROM articles_fts CROSS JOIN articles a ON a.id = articles_fts.rowid
                  WHERE articles_fts MATCH ?",
            )
            .bind(terms.to_string());
            push_filters(&mut sql, query, "+a.id", checks);
            sql.push(" ORDER BY a.published_at DESC, a.id DESC");
            push_page(&mut sql, query);
            sql.push(")");
            "hits.published_at DESC, hits.id DESC"
        }
    };
    push_hit_rows_only(&mut sql, final_order);
    sql
}

/// `AND …` for every filter of `query` but the terms; `id` is the expression of the
/// candidate article's id.
fn push_filters(sql: &mut Sql, query: &SearchQuery, id: &str, checks: &[EntityCheck]) {
    let kind = query.kind.map(|k| k.as_str());
    let names = entity_names(query);
    for (i, name) in names.iter().enumerate() {
        let check = checks.get(i).copied().unwrap_or(EntityCheck::PerArticle);
        push_entity_filter(sql, id, name, kind, check);
    }
    if let (Some(kind), true) = (kind, names.is_empty()) {
        sql.push(&format!(
            " AND EXISTS (SELECT 1 FROM mentions m JOIN entities e ON e.id = m.entity_id
                           WHERE m.article_id = {id} AND e.kind = ?)"
        ))
        .bind(kind.to_string());
    }
    if let Some(source) = query.source.as_deref() {
        sql.push(" AND a.source_id IN (SELECT id FROM sources WHERE url = ? OR name = ?)")
            .bind(source.trim().to_string())
            .bind(source.trim().to_string());
    }
    if let Some(label) = query.label.as_deref() {
        sql.push(&format!(
            " AND {id} IN (SELECT article_id FROM article_labels WHERE label = ? COLLATE NOCASE)"
        ))
        .bind(label.trim().to_string());
    }
    if let Some(author) = query.author.as_deref() {
        sql.push(" AND a.author = ? COLLATE NOCASE")
            .bind(author.trim().to_string());
    }
    if let Some(since) = opt_time_text(query.since.as_ref()) {
        sql.push(" AND a.published_at >= ?").bind(since);
    }
    if let Some(until) = opt_time_text(query.until.as_ref()) {
        sql.push(" AND a.published_at < ?").bind(until);
    }
}

/// One article, whole.
fn load_article(conn: &Connection, id: i64) -> Result<Option<Article>> {
    let article = conn
        .prepare_cached(
            "SELECT a.id, a.url, a.canonical_url, s.url, a.blogger_post_id, a.title, a.author,
                    a.published_at, a.updated_at, a.fetched_at, a.language, a.comments_count,
                    a.word_count, a.content_hash, a.body
               FROM articles a LEFT JOIN sources s ON s.id = a.source_id
              WHERE a.id = ?1",
        )
        .and_then(|mut st| {
            st.query_row([id], |r| {
                Ok(Article {
                    id: Some(r.get(0)?),
                    url: r.get(1)?,
                    canonical_url: r.get(2)?,
                    source: r.get(3)?,
                    blogger_post_id: r.get(4)?,
                    title: r.get(5)?,
                    author: r.get(6)?,
                    published_at: opt_time(r, 7)?,
                    updated_at: opt_time(r, 8)?,
                    fetched_at: opt_time(r, 9)?,
                    language: r.get(10)?,
                    labels: Vec::new(),
                    comments_count: r.get(11)?,
                    word_count: r.get(12)?,
                    content_hash: r.get(13)?,
                    body: r.get(14)?,
                    entities: Vec::new(),
                })
            })
            .optional()
        })
        .with_context(|| format!("reading article {id}"))?;
    let Some(mut article) = article else {
        return Ok(None);
    };
    article.labels = conn
        .prepare_cached(
            "SELECT label FROM article_labels WHERE article_id = ?1 ORDER BY position, label",
        )
        .and_then(|mut st| st.query_map([id], |r| r.get(0))?.collect())
        .with_context(|| format!("reading the labels of article {id}"))?;
    article.entities = conn
        .prepare_cached(
            r#"SELECT e.kind, m.text, e.name, m.start, m."end"
                 FROM mentions m JOIN entities e ON e.id = m.entity_id
                WHERE m.article_id = ?1
                ORDER BY m.start, m."end", e.kind"#,
        )
        .and_then(|mut st| {
            st.query_map([id], |r| {
                Ok(Entity {
                    kind: entity_kind(r, 0)?,
                    text: r.get(1)?,
                    name: r.get(2)?,
                    start: usize_col(r, 3)?,
                    end: usize_col(r, 4)?,
                })
            })?
            .collect()
        })
        .with_context(|| format!("reading the entities of article {id}"))?;
    Ok(Some(article))
}

/// The last `n` runs, newest first.
pub(crate) fn recent_runs(conn: &Connection, n: u32) -> Result<Vec<RunRecord>> {
    conn.prepare_cached(
        "SELECT id, started_at, finished_at, status, discovered, fetched, not_modified, stored,
                updated, unchanged, skipped, failed
           FROM runs ORDER BY id DESC LIMIT ?1",
    )
    .and_then(|mut st| {
        st.query_map(params![n], |r| {
            Ok(RunRecord {
                id: r.get(0)?,
                started_at: time(r, 1)?,
                finished_at: opt_time(r, 2)?,
                status: run_status(r, 3)?,
                counts: RunCounts {
                    discovered: count(r.get(4)?),
                    fetched: count(r.get(5)?),
                    not_modified: count(r.get(6)?),
                    stored: count(r.get(7)?),
                    updated: count(r.get(8)?),
                    unchanged: count(r.get(9)?),
                    skipped: count(r.get(10)?),
                    failed: count(r.get(11)?),
                },
            })
        })?
        .collect()
    })
    .context("reading recent runs")
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use gleaner_model::{EntityKind, SourceKind};

    use crate::test_support::{numbered_article, seed_article, tagged, temp_store};
    use crate::{ArticleKey, EntityQuery, RunCounts, RunStatus, SearchQuery, Store, StoreError};

    fn ids(store: &Store, q: &SearchQuery) -> Vec<i64> {
        store.search(q).unwrap().into_iter().map(|h| h.id).collect()
    }

    fn terms(t: &str) -> SearchQuery {
        SearchQuery {
            terms: Some(t.into()),
            ..SearchQuery::default()
        }
    }

    /// The seed article (from a source) and ten numbered ones.
    fn filled() -> (tempfile::TempDir, Store, i64) {
        let (dir, _path, mut store) = temp_store();
        let source = store
            .ensure_source(
                SourceKind::Blogger,
                "https://example.blogspot.com/",
                Some("Example"),
            )
            .unwrap();
        let seed = store
            .upsert_article(&seed_article(), Some(source))
            .unwrap()
            .id;
        let batch: Vec<_> = (0..10).map(|n| (numbered_article(n), None)).collect();
        store.upsert_articles(&batch).unwrap();
        (dir, store, seed)
    }

    #[test]
    fn article_by_id_and_url_gives_back_what_was_stored() {
        let (_dir, store, id) = filled();
        let mut expected = seed_article();
        expected.id = Some(id);
        expected.source = Some("https://example.blogspot.com/".into());
        let by_id = store.article(ArticleKey::Id(id)).unwrap().unwrap();
        assert_eq!(by_id, expected);
        let by_url = store
            .article(ArticleKey::Url(&expected.url))
            .unwrap()
            .unwrap();
        assert_eq!(by_url, expected);
        // SQL offsets agree with the model: substr(body, start + 1, end - start) is the text.
        let bad: i64 = store
            .connection()
            .query_row(
                "SELECT count(*) FROM mentions m JOIN articles a ON a.id = m.article_id
                  WHERE substr(a.body, m.start + 1, m.end - m.start) <> m.text",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(bad, 0);
        assert!(store.article(ArticleKey::Id(9999)).unwrap().is_none());
        assert!(
            store
                .article(ArticleKey::Url("https://nowhere.example/"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn search_ranks_by_bm25_with_a_snippet() {
        let (_dir, mut store, seed) = filled();
        let other = tagged(
            "https://news.example.org/nuclear-nuclear.html",
            "Nuclear deal, nuclear talks",
            "The nuclear deal and the nuclear talks: nuclear news.",
            &[],
        );
        let other = store.upsert_article(&other, None).unwrap().id;
        let hits = store.search(&terms("nuclear")).unwrap();
        assert_eq!(
            hits.iter().map(|h| h.id).collect::<Vec<_>>(),
            vec![other, seed]
        );
        let seed_hit = &hits[1];
        let snippet = seed_hit.snippet.as_deref().unwrap();
        assert!(snippet.contains("[nuclear]"), "{snippet}");
        assert!(snippet.split_whitespace().count() <= 14, "{snippet}");
        assert!(hits[0].rank.unwrap() <= hits[1].rank.unwrap());
        assert_eq!(seed_hit.author.as_deref(), Some("Staff Writer"));
        // Porter stemming, phrases, prefixes, OR, NOT, column filters.
        assert_eq!(ids(&store, &terms("discussing")), vec![seed]);
        assert_eq!(ids(&store, &terms("\"strategic ties\"")), vec![seed]);
        assert_eq!(ids(&store, &terms("Lavr*")), vec![seed]);
        assert_eq!(ids(&store, &terms("Lavrov OR zeppelin")), vec![seed]);
        assert_eq!(ids(&store, &terms("nuclear NOT Raisi")), vec![other]);
        assert_eq!(ids(&store, &terms("title:strategic")), vec![seed]);
        assert_eq!(ids(&store, &terms("Brussels")).len(), 10);
        // Blank terms list by date.
        assert_eq!(store.search(&terms("   ")).unwrap().len(), 12);
    }

    #[test]
    fn a_page_of_ordered_hits_has_the_snippets_of_search_however_its_ids_are_grouped() {
        let (_dir, mut store, _) = filled();
        // More articles with the word, so that a page has ids near and far apart.
        for n in 0..30 {
            let mut a = crate::test_support::numbered_article(n);
            a.body = format!("{} The nuclear talks went on, day {n}.", a.body);
            a.content_hash = format!("nuclear-{n}");
            store.upsert_article(&a, None).unwrap();
        }
        let q = SearchQuery {
            limit: 25,
            ..terms("nuclear OR talks")
        };
        let expected = store.search(&q).unwrap();
        assert!(expected.len() > 20, "{}", expected.len());
        assert!(expected.iter().all(|h| h.snippet.is_some()));
        for gap in [0, 1, 3, 1_000_000] {
            let mut hits: Vec<crate::SearchHit> = expected
                .iter()
                .map(|h| crate::SearchHit {
                    snippet: None,
                    ..h.clone()
                })
                .collect();
            store
                .fill_snippets_apart("nuclear OR talks", &mut hits, gap)
                .unwrap();
            assert_eq!(hits, expected, "ids at most {gap} apart scanned together");
        }
        let ordered = store
            .search_ordered(&q, crate::SearchOrder::Relevance, 0)
            .unwrap();
        assert_eq!(
            ordered, expected,
            "relevance over every match is search's order"
        );
    }

    #[test]
    fn search_without_terms_lists_newest_first_with_limit_and_offset() {
        let (_dir, store, _) = filled();
        let all = store.search(&SearchQuery::default()).unwrap();
        assert_eq!(all.len(), 11);
        let times: Vec<_> = all.iter().map(|h| h.published_at.unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
        assert!(all.iter().all(|h| h.snippet.is_none() && h.rank.is_none()));
        let page = store
            .search(&SearchQuery {
                limit: 3,
                offset: 2,
                ..SearchQuery::default()
            })
            .unwrap();
        assert_eq!(page, all[2..5].to_vec());
    }

    #[test]
    fn search_filters_combine() {
        let (_dir, store, seed) = filled();
        let q = |f: &dyn Fn(&mut SearchQuery)| {
            let mut q = SearchQuery::default();
            f(&mut q);
            ids(&store, &q)
        };
        // Entities: canonical name or surface form, any case; all must be mentioned.
        assert_eq!(
            q(&|q| q.entities = vec!["vladimir putin".into()]),
            vec![seed]
        );
        assert_eq!(q(&|q| q.entities = vec!["PUTIN".into()]), vec![seed]);
        assert_eq!(
            q(&|q| q.entities = vec!["Putin".into(), "Kremlin".into()]),
            vec![seed]
        );
        assert!(q(&|q| q.entities = vec!["Putin".into(), "Tehran".into()]).is_empty());
        assert_eq!(q(&|q| q.entities = vec!["Tehran".into()]).len(), 10);
        // Kind narrows entity matching, or alone requires a mention of that kind.
        assert!(
            q(&|q| {
                q.entities = vec!["Putin".into()];
                q.kind = Some(EntityKind::Location);
            })
            .is_empty()
        );
        assert_eq!(q(&|q| q.kind = Some(EntityKind::Group)), vec![seed]);
        assert_eq!(q(&|q| q.kind = Some(EntityKind::Person)).len(), 11);
        // Source (URL or name), label, author.
        assert_eq!(
            q(&|q| q.source = Some("https://example.blogspot.com/".into())),
            vec![seed]
        );
        assert_eq!(q(&|q| q.source = Some("Example".into())), vec![seed]);
        assert_eq!(q(&|q| q.label = Some("world news".into())), vec![seed]);
        assert_eq!(q(&|q| q.author = Some("staff writer".into())), vec![seed]);
        // Dates: since inclusive, until exclusive.
        let jan19 = Utc.with_ymd_and_hms(2022, 1, 19, 18, 5, 0).unwrap();
        assert_eq!(q(&|q| q.since = Some(jan19)), vec![seed]);
        assert!(q(&|q| q.until = Some(jan19)).len() == 10);
        // With terms as well: filters on ids only, and filters on the article row.
        let mut t = terms("nuclear OR talks");
        t.label = Some("IRAN".into());
        assert_eq!(ids(&store, &t), vec![seed]);
        let mut t = terms("talks");
        t.kind = Some(EntityKind::Group);
        assert_eq!(ids(&store, &t), vec![seed]);
        let mut t = terms("talks");
        t.author = Some("Staff Writer".into());
        assert_eq!(ids(&store, &t), vec![seed]);
        let mut both = terms("talks");
        both.entities = vec!["Ali Bagheri".into()];
        both.since = Some(Utc.with_ymd_and_hms(2021, 7, 1, 0, 0, 0).unwrap());
        let got = ids(&store, &both);
        assert!(!got.is_empty() && !got.contains(&seed), "{got:?}");
    }

    /// An entity filter with a kind finds the name through the name's index, not by
    /// reading every entity of that kind.
    #[test]
    fn an_entity_of_a_kind_is_looked_up_by_its_name() {
        let (_dir, store, _) = filled();
        let q = SearchQuery {
            entities: vec!["Vladimir Putin".into()],
            kind: Some(EntityKind::Person),
            ..SearchQuery::default()
        };
        let plan = store.search_plan(&q).unwrap().join("\n");
        assert!(plan.contains("entities_name"), "{plan}");
        assert!(!plan.contains("(kind=?)"), "{plan}");
        let mut terms = q.clone();
        terms.terms = Some("sanctions".into());
        let plan = store.search_plan(&terms).unwrap().join("\n");
        assert!(!plan.contains("(kind=?)"), "{plan}");
    }

    #[test]
    fn both_ways_of_checking_an_entity_give_the_same_hits() {
        use super::EntityCheck::{List, PerArticle};
        let (_dir, store, _) = filled();
        let run = |q: &SearchQuery, checks: &[super::EntityCheck]| {
            let mut hits = Vec::new();
            store
                .search_each_with(q, checks, |h| {
                    hits.push(h);
                    Ok(())
                })
                .unwrap();
            hits
        };
        let queries = [
            SearchQuery {
                entities: vec!["Tehran".into()],
                limit: 5,
                ..SearchQuery::default()
            },
            SearchQuery {
                entities: vec!["putin".into(), "Kremlin".into()],
                ..SearchQuery::default()
            },
            SearchQuery {
                terms: Some("talks OR nuclear".into()),
                entities: vec!["Vienna".into(), "ali bagheri".into()],
                kind: Some(EntityKind::Location),
                ..SearchQuery::default()
            },
        ];
        for q in &queries {
            let chosen = store.search(q).unwrap();
            for checks in [[List, List], [PerArticle, PerArticle], [List, PerArticle]] {
                assert_eq!(
                    run(q, &checks[..q.entities.len()]),
                    chosen,
                    "{q:?} {checks:?}"
                );
            }
        }
        // On a small database every entity is listed.
        assert_eq!(store.entity_checks(&queries[1]).unwrap(), vec![List, List]);

        // With terms, ranked pages are the same whichever way each entity is checked.
        let ranked = [
            &queries[2],
            &SearchQuery {
                terms: Some("nuclear OR talks OR story".into()),
                entities: vec!["Tehran".into()],
                limit: 4,
                offset: 1,
                ..SearchQuery::default()
            },
        ];
        for q in ranked {
            let terms = q.terms.as_deref().unwrap();
            for (order, window) in [
                (crate::SearchOrder::Relevance, 3),
                (crate::SearchOrder::Relevance, 0),
                (crate::SearchOrder::Date, 0),
            ] {
                let chosen = store.search_ordered(q, order, window).unwrap();
                for checks in [[List, List], [PerArticle, PerArticle], [PerArticle, List]] {
                    let got = store
                        .search_ordered_with(q, terms, order, window, &checks[..q.entities.len()])
                        .unwrap();
                    assert_eq!(got, chosen, "{q:?} {order:?} {window} {checks:?}");
                }
            }
        }
        // An entity in every article: checked per match when a few matches are wanted,
        // listed when all are (or with no terms, on a database this small).
        let everywhere = SearchQuery {
            terms: Some("nuclear".into()),
            entities: vec!["Tehran".into()],
            ..SearchQuery::default()
        };
        let in_articles: i64 = store
            .conn
            .query_row(
                "SELECT article_count FROM entities WHERE name = 'Tehran'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let articles: i64 = store
            .conn
            .query_row("SELECT max(id) FROM articles", [], |r| r.get(0))
            .unwrap();
        assert!(
            in_articles * in_articles > 3 * articles,
            "{in_articles} of {articles}"
        );
        assert_eq!(
            store.entity_checks_for(&everywhere, 1).unwrap(),
            vec![PerArticle]
        );
        assert_eq!(store.entity_checks_for(&everywhere, 0).unwrap(), vec![List]);
        assert_eq!(
            store.entity_checks_for(&everywhere, 1_000_000).unwrap(),
            vec![List]
        );
    }

    #[test]
    fn bad_full_text_syntax_is_a_bad_query_error() {
        let (_dir, store, _) = filled();
        for bad in [
            "\"unbalanced",
            "AND OR",
            "nuclear AND",
            "(",
            "NEAR(",
            "nosuchcolumn:word",
            "*",
        ] {
            match store.search(&terms(bad)) {
                Err(StoreError::BadQuery { query, message }) => {
                    assert_eq!(query, bad);
                    assert!(!message.is_empty());
                }
                other => panic!("{bad:?}: expected BadQuery, got {other:?}"),
            }
        }
    }

    #[test]
    fn bad_full_text_syntax_is_a_bad_query_error_on_an_empty_database_too() {
        let (_dir, _path, store) = temp_store();
        for bad in ["\"unbalanced", "AND OR", "nosuchcolumn:word"] {
            let mut with_filters = terms(bad);
            with_filters.entities = vec!["Putin".into()];
            with_filters.label = Some("Iran".into());
            with_filters.limit = 5;
            for q in [terms(bad), with_filters] {
                match store.search(&q) {
                    Err(StoreError::BadQuery { query, .. }) => assert_eq!(query, bad),
                    other => panic!("{q:?}: expected BadQuery, got {other:?}"),
                }
                let mut exported = 0;
                match store.for_each_article(&q, |_| {
                    exported += 1;
                    Ok(())
                }) {
                    Err(StoreError::BadQuery { .. }) => {}
                    other => panic!("{q:?}: expected BadQuery from export, got {other:?}"),
                }
                assert_eq!(exported, 0);
            }
        }
        // Good syntax on an empty database: no rows, no error.
        assert!(store.search(&terms("nuclear")).unwrap().is_empty());
    }

    #[test]
    fn injection_shaped_input_is_harmless() {
        let (_dir, mut store, _) = filled();
        let nasty = [
            "'; DROP TABLE articles; --",
            "\"; DROP TABLE articles; --",
            "Robert'); DELETE FROM mentions; --",
            "' OR '1'='1",
            "%",
            "_",
            "NEAR",
            "title:*",
        ];
        // As an article's own fields (labels, entity names) it is stored as text.
        let body = format!("Text about {} and more.", nasty[0]);
        let mut evil = tagged(
            "https://news.example.org/evil.html?q='; DROP TABLE articles; --",
            nasty[2],
            &body,
            &[(nasty[0], EntityKind::Organization, nasty[0])],
        );
        evil.labels = nasty.iter().map(|s| s.to_string()).collect();
        evil.author = Some(nasty[3].into());
        let id = store.upsert_article(&evil, None).unwrap().id;
        for s in nasty {
            // As terms: either a result or BadQuery, never another error.
            match store.search(&terms(s)) {
                Ok(_) | Err(StoreError::BadQuery { .. }) => {}
                Err(other) => panic!("{s:?}: {other:?}"),
            }
            let q = SearchQuery {
                entities: vec![s.into()],
                label: Some(s.into()),
                author: Some(s.into()),
                source: Some(s.into()),
                ..SearchQuery::default()
            };
            store.search(&q).unwrap();
            // The same filters through the export walk.
            store.for_each_article(&q, |_| Ok(())).unwrap();
            store
                .top_entities(&EntityQuery {
                    with: Some(s.into()),
                    top: 5,
                    ..EntityQuery::default()
                })
                .unwrap();
            assert!(store.article(ArticleKey::Url(s)).unwrap().is_none());
            store.ensure_source(SourceKind::Page, s, Some(s)).unwrap();
        }
        // The nasty strings matched only as the literal values they are.
        let label_hit = SearchQuery {
            label: Some(nasty[0].into()),
            ..SearchQuery::default()
        };
        assert_eq!(ids(&store, &label_hit), vec![id]);
        let entity_hit = SearchQuery {
            entities: vec![nasty[0].into()],
            ..SearchQuery::default()
        };
        assert_eq!(ids(&store, &entity_hit), vec![id]);
        let back = store.article(ArticleKey::Id(id)).unwrap().unwrap();
        assert_eq!(
            back,
            Article {
                id: Some(id),
                ..evil
            }
        );
        // Everything is still there.
        assert_eq!(store.stats().unwrap().articles, 12);
        assert!(store.stats().unwrap().mentions > 0);
    }

    use gleaner_model::Article;

    #[test]
    fn top_entities_counts_mentions_and_co_mentions() {
        let (_dir, store, _) = filled();
        let top = store
            .top_entities(&EntityQuery {
                top: 3,
                ..EntityQuery::default()
            })
            .unwrap();
        assert_eq!(top.len(), 3);
        assert!(top.windows(2).all(|w| w[0].mentions >= w[1].mentions));
        assert_eq!(top[0].mentions, 10);
        let raisi = store
            .top_entities(&EntityQuery {
                kind: Some(EntityKind::Person),
                ..EntityQuery::default()
            })
            .unwrap()
            .into_iter()
            .find(|e| e.name == "Ebrahim Raisi")
            .unwrap();
        assert_eq!((raisi.mentions, raisi.articles), (3, 1));
        // `since` is computed from the mentions themselves and agrees with the counters.
        let since = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap();
        let all_by_scan = store
            .top_entities(&EntityQuery {
                since: Some(since),
                ..EntityQuery::default()
            })
            .unwrap();
        let all_by_counter = store.top_entities(&EntityQuery::default()).unwrap();
        assert_eq!(all_by_scan, all_by_counter);
        let recent = store
            .top_entities(&EntityQuery {
                since: Some(Utc.with_ymd_and_hms(2022, 1, 1, 0, 0, 0).unwrap()),
                ..EntityQuery::default()
            })
            .unwrap();
        assert!(recent.iter().all(|e| e.name != "Tehran"));
        // With: entities in articles that mention Putin (by short form), Putin excluded.
        let with = store
            .top_entities(&EntityQuery {
                with: Some("putin".into()),
                ..EntityQuery::default()
            })
            .unwrap();
        let names: Vec<&str> = with.iter().map(|e| e.name.as_str()).collect();
        assert!(
            names.contains(&"Ebrahim Raisi") && names.contains(&"Kremlin"),
            "{names:?}"
        );
        assert!(
            !names.contains(&"Vladimir Putin") && !names.contains(&"Tehran"),
            "{names:?}"
        );
        // With and since together; and kind.
        let with_since = |year: i32, kind: Option<EntityKind>| {
            store
                .top_entities(&EntityQuery {
                    with: Some("Vladimir Putin".into()),
                    since: Some(Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).unwrap()),
                    kind,
                    top: 2,
                })
                .unwrap()
        };
        let top2 = with_since(2022, None);
        assert_eq!(top2.len(), 2);
        assert_eq!(
            (top2[0].name.as_str(), top2[0].articles),
            ("Ebrahim Raisi", 1)
        );
        assert!(with_since(2023, None).is_empty());
        let orgs = with_since(2022, Some(EntityKind::Organization));
        assert_eq!(orgs.len(), 1);
        assert_eq!(orgs[0].name, "Kremlin");
    }

    /// `entities --with` as plain SQL, the definition the store's one-pass count must match.
    fn co_mentioned_by_sql(store: &Store, q: &EntityQuery) -> Vec<crate::EntityCount> {
        let with = q.with.as_deref().unwrap();
        let since = q.since.as_ref().map(crate::convert::time_text);
        let sql = r#"
            WITH w (id) AS (SELECT id FROM entities WHERE name = ?1 COLLATE NOCASE
                            UNION SELECT entity_id FROM entity_aliases WHERE alias = ?1 COLLATE NOCASE),
                 arts (id) AS (SELECT DISTINCT m.article_id FROM mentions m JOIN articles a ON a.id = m.article_id
                                WHERE m.entity_id IN w AND (?2 IS NULL OR a.published_at >= ?2))
            SELECT e.kind, e.name, count(*), count(DISTINCT m.article_id)
              FROM mentions m JOIN entities e ON e.id = m.entity_id
             WHERE m.article_id IN arts AND m.entity_id NOT IN w AND (?3 IS NULL OR e.kind = ?3)
             GROUP BY m.entity_id
             ORDER BY 4 DESC, 3 DESC, 2
             LIMIT ?4"#;
        let mut st = store.connection().prepare(sql).unwrap();
        st.query_map(
            rusqlite::params![
                with,
                since,
                q.kind.map(|k| k.as_str()),
                super::limit_value(q.top)
            ],
            |r| {
                Ok(crate::EntityCount {
                    kind: crate::convert::entity_kind(r, 0)?,
                    name: r.get(1)?,
                    mentions: super::count(r.get(2)?),
                    articles: super::count(r.get(3)?),
                })
            },
        )
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
    }

    #[test]
    fn entities_with_agrees_with_its_sql_definition() {
        let (_dir, mut store, _) = filled();
        // More articles, with ties, repeated mentions and entities of several kinds.
        let places = ["Tehran", "Vienna", "Moscow", "Geneva", "Doha"];
        let batch: Vec<_> = (0..40)
            .map(|n| {
                let a = places[n % 5];
                let b = places[(n / 5) % 5];
                let body = format!(
                    "Item {n}: {a} and {b} talks. Ali Bagheri went to {a}; Kremlin said so."
                );
                let mut article = tagged(
                    &format!("https://news.example.org/more/{n}.html"),
                    &format!("More {n}"),
                    &body,
                    &[
                        (a, EntityKind::Location, a),
                        (b, EntityKind::Location, b),
                        ("Ali Bagheri", EntityKind::Person, "Ali Bagheri"),
                        ("Kremlin", EntityKind::Organization, "Kremlin"),
                    ],
                );
                article.published_at = Some(
                    Utc.with_ymd_and_hms(2023, 1 + u32::try_from(n % 12).unwrap(), 1, 0, 0, 0)
                        .unwrap(),
                );
                (article, None)
            })
            .collect();
        store.upsert_articles(&batch).unwrap();
        for with in ["Tehran", "ali bagheri", "Kremlin", "Putin", "nobody at all"] {
            for top in [0, 1, 2, 3, 20] {
                for kind in [None, Some(EntityKind::Location), Some(EntityKind::Person)] {
                    for since in [
                        None,
                        Some(Utc.with_ymd_and_hms(2023, 6, 1, 0, 0, 0).unwrap()),
                    ] {
                        let q = EntityQuery {
                            kind,
                            top,
                            since,
                            with: Some(with.into()),
                        };
                        assert_eq!(
                            store.top_entities(&q).unwrap(),
                            co_mentioned_by_sql(&store, &q),
                            "{q:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn stats_count_articles_sources_months_kinds_and_runs() {
        let (_dir, mut store, _) = filled();
        for status in [RunStatus::Ok, RunStatus::Partial] {
            let run = store.begin_run().unwrap();
            store
                .finish_run(
                    run,
                    status,
                    &RunCounts {
                        stored: 2,
                        ..RunCounts::default()
                    },
                )
                .unwrap();
        }
        let stats = store.stats().unwrap();
        assert_eq!(stats.articles, 11);
        assert_eq!(
            stats.mentions,
            seed_article().entities.len() as u64 + 10 * 5
        );
        assert_eq!(stats.entities, 8 + 5);
        assert_eq!(
            stats.per_source,
            vec![
                ("(none)".to_string(), 10),
                ("https://example.blogspot.com/".to_string(), 1)
            ]
        );
        assert_eq!(stats.per_month[0], ("2022-01".to_string(), 1));
        assert_eq!(stats.per_month.iter().map(|(_, n)| n).sum::<u64>(), 11);
        assert!(stats.per_month.windows(2).all(|w| w[0].0 > w[1].0));
        assert_eq!(stats.per_kind[0], (EntityKind::Location, 6)); // Moscow, Russia, Iran, Tehran, Brussels, Vienna
        assert_eq!(stats.recent_runs.len(), 2);
        assert_eq!(stats.recent_runs[0].status, RunStatus::Partial);
    }

    #[test]
    fn views_answer_plain_sql() {
        let (_dir, store, seed) = filled();
        let raisi: i64 = store
            .connection()
            .query_row(
                "SELECT mentions FROM article_entities WHERE article_id = ?1 AND name = 'Ebrahim Raisi'",
                [seed],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(raisi, 3);
        let together: i64 = store
            .connection()
            .query_row(
                "SELECT articles FROM entity_cooccurrence WHERE name_a = 'Tehran' AND name_b = 'Vienna'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(together, 10);
        let reverse: i64 = store
            .connection()
            .query_row(
                "SELECT articles FROM entity_cooccurrence WHERE name_a = 'Vienna' AND name_b = 'Tehran'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(reverse, 10);
    }

    #[test]
    fn views_filtered_by_name_read_only_that_entity() {
        let (_dir, store, _) = filled();
        let plan = |sql: &str| -> String {
            let mut st = store
                .connection()
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            let lines: Vec<String> = st
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            lines.join("\n")
        };
        // The mentions are reached through the named entity, never scanned whole.
        let by_name = plan(
            "SELECT a.id, a.title FROM articles a JOIN article_entities ae ON ae.article_id = a.id
              WHERE ae.kind = 'person' AND ae.name = 'Vladimir Putin'",
        );
        assert!(by_name.contains("(kind=? AND name=?)"), "{by_name}");
        assert!(
            by_name.contains("mentions_entity (entity_id=?)"),
            "{by_name}"
        );
        let by_article = plan("SELECT * FROM article_entities WHERE article_id = 1");
        assert!(
            by_article.contains("PRIMARY KEY (article_id=?)"),
            "{by_article}"
        );
        let partners = plan(
            "SELECT kind_b, name_b, articles FROM entity_cooccurrence
              WHERE name_a = 'Ebrahim Raisi' ORDER BY articles DESC LIMIT 10",
        );
        assert!(
            partners.contains("mentions_entity (entity_id=?)"),
            "{partners}"
        );
        assert!(
            partners.contains("PRIMARY KEY (article_id=?)"),
            "{partners}"
        );
        for line in [&by_name, &by_article, &partners]
            .iter()
            .flat_map(|p| p.lines())
        {
            assert!(
                !(line.contains("SCAN m") || line.contains("SCAN mentions")),
                "{line}"
            );
        }
        // And they still count the same things.
        let together: i64 = store
            .connection()
            .query_row(
                "SELECT articles FROM entity_cooccurrence WHERE name_a = 'Ebrahim Raisi' AND name_b = 'Vladimir Putin'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(together, 1);
    }

    #[test]
    fn readme_example_queries_run_and_answer() {
        let (_dir, mut store, seed) = filled();
        // Give example 5 something to show: a changed article.
        let mut changed = seed_article();
        changed.body.push_str(" More sanctions followed.");
        changed.content_hash = crate::test_support::hash(&changed.title, &changed.body);
        std::thread::sleep(std::time::Duration::from_millis(1100));
        store.upsert_article(&changed, None).unwrap();
        let readme = include_str!("../README.md");
        let examples: Vec<&str> = readme
            .split("```sql")
            .skip(1)
            .filter_map(|block| block.split("```").next())
            .collect();
        assert_eq!(examples.len(), 7);
        for sql in &examples {
            let mut st = store
                .connection()
                .prepare(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            let rows = st.query_map([], |_| Ok(())).unwrap().count();
            if !sql.contains("FROM runs") {
                assert!(rows > 0, "no rows from {sql}");
            }
        }
        let _ = seed;
    }

    #[test]
    fn for_each_article_streams_whole_articles_in_search_order() {
        let (_dir, store, seed) = filled();
        let mut seen = Vec::new();
        store
            .for_each_article(&terms("nuclear OR Brussels"), |a| {
                seen.push((a.id.unwrap(), a.entities.len()));
                Ok(())
            })
            .unwrap();
        assert_eq!(seen.len(), 11);
        assert!(seen.contains(&(seed, seed_article().entities.len())));
    }
}

/// Entities by how many articles they share, then mentions, then name.
pub(crate) fn sort_by_company(entities: &mut [EntityCount]) {
    entities.sort_by(|a, b| {
        (b.articles, b.mentions)
            .cmp(&(a.articles, a.mentions))
            .then_with(|| a.name.cmp(&b.name))
    });
}

/// Mentions and distinct articles per entity, counted in one pass over `(article, entity)`
/// mention rows that arrive grouped by article (the co-mention scans of `entities --with`
/// and of an entity's company in `serve`).
#[derive(Default)]
pub(crate) struct CoMentionCounts {
    /// entity id -> (mentions, articles, the last article counted); hashed by a multiply, not
    /// SipHash, which was a twentieth of a cold entity page's CPU (the order of the answer
    /// comes from [`CoMentionCounts::ranked`]'s sort, not from the map).
    counts: HashMap<i64, (u64, u64, i64), std::hash::BuildHasherDefault<IdHasher>>,
}

/// A hasher for integer ids (entity ids: not chosen by whoever writes the articles' text).
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }

    fn write_u64(&mut self, n: u64) {
        let h = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 29);
    }
}

/// The company of one entity, counted from its sampled articles' mention rows read in
/// article order (`entities --with`'s sample, `serve`'s entity page, both backends).
pub(crate) struct CompanyOf {
    id: i64,
    counts: CoMentionCounts,
    sampled: u64,
    last_article: Option<i64>,
}

impl CompanyOf {
    pub(crate) fn new(id: i64) -> Self {
        CompanyOf {
            id,
            counts: CoMentionCounts::default(),
            sampled: 0,
            last_article: None,
        }
    }

    /// One mention row: a new article counts toward the sample; the entity itself is not
    /// its own company.
    pub(crate) fn add(&mut self, article: i64, entity: i64) {
        if self.last_article != Some(article) {
            self.sampled += 1;
            self.last_article = Some(article);
        }
        if entity != self.id {
            self.counts.add(article, entity);
        }
    }

    /// The articles sampled, and the `top` entities in [`CoMentionCounts::ranked`] order.
    pub(crate) fn top(self, top: usize) -> (u64, Vec<(i64, u64, u64)>) {
        let mut ranked = self.counts.ranked(|_| true);
        ranked.truncate(top);
        (self.sampled, ranked)
    }
}

impl CoMentionCounts {
    pub(crate) fn add(&mut self, article: i64, entity: i64) {
        let c = self.counts.entry(entity).or_insert((0, 0, i64::MIN));
        c.0 += 1;
        if c.2 != article {
            c.1 += 1;
            c.2 = article;
        }
    }

    /// `(entity, mentions, articles)` of the entities `keep` accepts: most articles first,
    /// then most mentions, then lowest id.
    pub(crate) fn ranked(self, keep: impl Fn(i64) -> bool) -> Vec<(i64, u64, u64)> {
        let mut ranked: Vec<(i64, u64, u64)> = self
            .counts
            .into_iter()
            .filter(|(id, _)| keep(*id))
            .map(|(id, (mentions, articles, _))| (id, mentions, articles))
            .collect();
        ranked.sort_unstable_by(|a, b| (b.2, b.1, a.0).cmp(&(a.2, a.1, b.0)));
        ranked
    }
}
