//! Reading for a browser (`gleaner serve`): a read-only connection, and the questions a page
//! asks that `gleaner query` does not — how many articles match and how they spread over
//! kinds, sources and labels; one entity's counts, aliases, months and company; each
//! source's health.
//!
//! Every answer here is bounded: counts stop at a cap the caller gives, and the company an
//! entity keeps is counted over its latest articles, so that a page costs about the same on a
//! database of a thousand articles or a million.

mod snippet;

use std::path::Path;

use chrono::{DateTime, Utc};
use gleaner_model::EntityKind;
use rusqlite::types::Value;
use rusqlite::{OpenFlags, OptionalExtension, params, params_from_iter};

use crate::convert::{entity_kind, opt_time, opt_time_text};
use crate::query::{EntityCheck, best_first};
use crate::{
    Context, EntityCount, Result, SCHEMA_VERSION, SearchHit, SearchQuery, Store, StoreError,
};

/// How a search's matches spread: the number of matching articles (up to a cap) and, over
/// the first matches, the articles per entity kind, per source and per label.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchFacets {
    /// Matching articles, counted up to the cap given.
    pub total: u64,
    /// `true` when there are more than [`SearchFacets::total`].
    pub total_capped: bool,
    /// How many matching articles the facet counts were taken over.
    pub sampled: u64,
    /// (kind, articles mentioning an entity of that kind), most first.
    pub kinds: Vec<(EntityKind, u64)>,
    /// (source URL, articles), most first.
    pub sources: Vec<(String, u64)>,
    /// (label, articles), most first.
    pub labels: Vec<(String, u64)>,
}

/// The order of a browser's search results ([`Store::search_ordered`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SearchOrder {
    /// Best bm25 first, among the newest matches (a window the caller gives).
    #[default]
    Relevance,
    /// Newest publication time first, over all matches.
    Date,
}

impl SearchOrder {
    /// `relevance` or `date`.
    pub fn as_str(self) -> &'static str {
        match self {
            SearchOrder::Relevance => "relevance",
            SearchOrder::Date => "date",
        }
    }
}

/// One entity as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityDetail {
    /// `entities.id`.
    pub id: i64,
    /// Kind.
    pub kind: EntityKind,
    /// Canonical name.
    pub name: String,
    /// Mentions in all.
    pub mentions: u64,
    /// Articles mentioning it.
    pub articles: u64,
    /// The surface forms it was seen under (`entity_aliases`), sorted.
    pub aliases: Vec<String>,
}

/// Entities mentioned in the same articles as one entity, over its latest articles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoMentions {
    /// How many of the entity's articles (the latest stored) were read.
    pub sampled: u64,
    /// The entities, most shared articles first (`articles` counts shared articles).
    pub entities: Vec<EntityCount>,
}

/// A source's health, beside what [`Store::sources`] says.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceHealth {
    /// `sources.id`.
    pub id: i64,
    /// The newest publication time among its stored articles.
    pub newest_published: Option<DateTime<Utc>>,
    /// URLs on its origin whose last fetch failed.
    pub failing: u64,
    /// Some of those: (URL, last status, last error, consecutive failures).
    pub failing_pages: Vec<FailingPage>,
}

/// A page whose last fetch failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailingPage {
    /// The URL.
    pub url: String,
    /// Last HTTP status (none after a transport error).
    pub last_status: Option<u16>,
    /// Last error message.
    pub last_error: Option<String>,
    /// Consecutive failures.
    pub failures: u32,
}

/// Each article's month of publication, read once from the publication-date index and then
/// shared by every entity's month chart (see [`Store::entity_months_in`]): a chart then costs
/// a walk over the entity's own article ids instead of a scan of the whole index per entity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonthIndex {
    /// The months ("YYYY-MM"), sorted.
    months: Vec<String>,
    /// Per article id: 0 for no date (or no article), else 1 + the month's place in `months`.
    by_id: Vec<u16>,
}

impl MonthIndex {
    /// Articles this index knows the month of.
    pub fn articles(&self) -> usize {
        self.by_id.iter().filter(|&&m| m != 0).count()
    }
}

/// Each entity's kind by id, read once and shared by every search's kind counts (see
/// [`Store::search_facets_with`]): counting kinds then reads only the matches' mentions,
/// not one `entities` row per mention. An entity's kind never changes; entities stored
/// after the index was read are looked up one by one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntityKinds {
    /// Per entity id: 0 for none, else 1 + the kind's place in [`EntityKind::ALL`].
    by_id: Vec<u8>,
}

impl EntityKinds {
    fn get(&self, id: i64) -> Option<usize> {
        let k = *usize::try_from(id).ok().and_then(|i| self.by_id.get(i))?;
        usize::from(k).checked_sub(1)
    }
}

fn kind_place(kind: EntityKind) -> usize {
    EntityKind::ALL
        .iter()
        .position(|&k| k == kind)
        .unwrap_or_default()
}

/// Articles per entity kind, counted from mention rows that come article by article.
#[derive(Debug, Default)]
struct KindTally {
    per_kind: [u64; EntityKind::ALL.len()],
    article: Option<i64>,
    seen: u32,
}

impl KindTally {
    /// A mention of an entity of kind number `place` in `article`.
    fn add(&mut self, article: i64, place: usize) {
        if self.article != Some(article) {
            self.article = Some(article);
            self.seen = 0;
        }
        if self.seen & (1 << place) == 0 {
            self.seen |= 1 << place;
            if let Some(n) = self.per_kind.get_mut(place) {
                *n += 1;
            }
        }
    }

    /// One more article, mentioning the kinds of `mask` (bit `i`: [`EntityKind::ALL`]`[i]`).
    fn add_mask(&mut self, mask: u8) {
        for (place, n) in self.per_kind.iter_mut().enumerate() {
            if mask & (1 << place) != 0 {
                *n += 1;
            }
        }
    }

    /// (kind, articles), most first, then by name (as SQL's `ORDER BY 2 DESC, 1` did).
    fn counts(&self) -> Vec<(EntityKind, u64)> {
        let mut out: Vec<(EntityKind, u64)> = EntityKind::ALL
            .iter()
            .zip(self.per_kind)
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (*k, n))
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.as_str().cmp(b.0.as_str())));
        out
    }
}

/// Article ids above this are not put in a [`MonthIndex`] (a vector indexed by id, two
/// bytes an article: 16 MB at most).
const MONTH_INDEX_MAX_ID: i64 = 8_000_000;

/// Whether `error` is SQLite giving up on a statement interrupted by the caller (a progress
/// handler returning `true`, or `sqlite3_interrupt`): the time limit a server puts on queries.
/// On PostgreSQL: a statement stopped at its `statement_timeout`.
pub fn is_interrupted(error: &StoreError) -> bool {
    if crate::pg_browse::is_canceled(error) {
        return true;
    }
    let source = match error {
        StoreError::Sqlite { source, .. } => source,
        StoreError::Article { source, .. } => return is_interrupted(source),
        _ => return false,
    };
    matches!(source, rusqlite::Error::SqliteFailure(e, _)
        if e.code == rusqlite::ErrorCode::OperationInterrupted)
}

/// What a search's facets and an entity's company need of one article beyond its row, as
/// of its `changed_at`: its labels and the entities it mentions (see [`ArticleFacts`]).
#[derive(Debug)]
struct Fact {
    /// `articles.changed_at` when this was read.
    changed_at: Box<str>,
    /// Its labels (`article_labels` rows).
    labels: Box<[Box<str>]>,
    /// Bit `i` set: it mentions an entity of kind [`EntityKind::ALL`]`[i]`.
    kinds: u8,
    /// The entity of each of its mentions, in `mentions` order.
    entities: Box<[i64]>,
}

/// A sampled article: its id, its source and its facts.
type SampledFact = (i64, Option<i64>, std::sync::Arc<Fact>);

/// An article's labels, kind mask and mentioned entities, as read.
type ReadFact = (Vec<Box<str>>, u8, Vec<i64>);

/// Articles at most kept in an [`ArticleFacts`] (about 300 bytes each with ~20 mentions:
/// some 75 MB); past that it starts again empty.
const FACTS_MAX: usize = 250_000;

/// An article's facts are kept only once its `changed_at` (whole seconds) is this much in
/// the past: a later change then has a later `changed_at`, which tells the kept facts apart.
const FACTS_SETTLED: chrono::TimeDelta = chrono::TimeDelta::seconds(2);

/// Each article's labels and mentioned entities, kept in memory by a reader (`gleaner
/// serve`) and shared by its connections, so that a search's facets and an entity's company
/// read per sampled article only its row (source and `changed_at`) instead of its labels and
/// ~20 mention rows.
///
/// Kept per article with the `changed_at` they were read at: gleaner rewrites an article's
/// labels and mentions only together with its row, setting `changed_at` to the time of the
/// write, so a kept entry whose `changed_at` is still the row's is still true. Facts are kept
/// only once `changed_at` is [`FACTS_SETTLED`] old (two writes in the same second have the
/// same `changed_at`); an entity's kind never changes. Labels or mentions changed by hand
/// with SQL, without `changed_at`, are not noticed.
#[derive(Debug, Default)]
pub struct ArticleFacts {
    kept: std::sync::Mutex<std::collections::HashMap<i64, std::sync::Arc<Fact>>>,
}

impl ArticleFacts {
    /// Nothing kept yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many articles' facts are kept.
    pub fn len(&self) -> usize {
        self.kept.lock().map_or(0, |k| k.len())
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A JSON array of ids, for `json_each(?)`: one statement reads a list of any length.
fn json_ids(ids: &[i64]) -> String {
    let mut out = String::with_capacity(ids.len() * 8 + 2);
    out.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&id.to_string());
    }
    out.push(']');
    out
}

/// Whether an article changed at `changed_at` (RFC 3339) may have its facts kept now.
fn settled(changed_at: &str) -> bool {
    DateTime::parse_from_rfc3339(changed_at)
        .is_ok_and(|t| t.with_timezone(&Utc) + FACTS_SETTLED < Utc::now())
}

impl Store {
    /// Open an existing database for reading only: no migration, no write can happen on this
    /// connection (SQLite's read-only flag and `query_only`). In WAL mode it reads beside a
    /// writing `gleaner run` without blocking it or being blocked.
    ///
    /// A file that is not a gleaner database (schema version 0) is refused with a
    /// [`StoreError::Sqlite`] that says so; one written by a
    /// newer gleaner with [`StoreError::TooNew`]; one that needs migrating by an older
    /// gleaner is read as it is (the schema only grows).
    pub fn open_read_only(path: &Path) -> Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = rusqlite::Connection::open_with_flags(path, flags)
            .with_context(|| format!("opening {} read-only", path.display()))?;
        conn.busy_timeout(crate::schema::BUSY_TIMEOUT)
            .context("setting the busy timeout")?;
        conn.pragma_update(None, "query_only", true)
            .context("setting query_only")?;
        conn.pragma_update(None, "cache_size", -32_768)
            .context("setting the page cache size")?;
        conn.pragma_update(None, "mmap_size", crate::schema::MMAP_SIZE)
            .context("setting mmap_size")?;
        conn.set_prepared_statement_cache_capacity(64);
        let version = crate::schema::user_version(&conn)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version == 0 {
            return Err(StoreError::sqlite(
                format!("opening {}", path.display()),
                rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_NOTADB),
                    Some("not a gleaner database (schema version 0)".into()),
                ),
            ));
        }
        Ok(Store { conn })
    }

    /// How many articles match `query` (its `limit` and `offset` ignored), counted up to
    /// `count_cap`, and the kinds, sources and labels of the newest `facet_cap` matches (by
    /// article id: the most recently stored; the top 20 sources and labels).
    pub fn search_facets(
        &self,
        query: &SearchQuery,
        count_cap: usize,
        facet_cap: usize,
    ) -> Result<SearchFacets> {
        self.search_facets_with(query, count_cap, facet_cap, None)
    }

    /// Every entity's kind, for [`Store::search_facets_with`]; `None` when entity ids are
    /// too large to index by (then the kinds are looked up per search).
    pub fn entity_kinds(&self) -> Result<Option<EntityKinds>> {
        // An empty index extended by every stored entity.
        self.entity_kinds_after(&EntityKinds { by_id: Vec::new() })
    }

    /// `known` with the entities stored since it was read (ids past its end); `None` when
    /// there are none (or ids are too large to index by). Entities keep their kind and ids
    /// only grow, so an index is extended, never read again.
    pub fn entity_kinds_after(&self, known: &EntityKinds) -> Result<Option<EntityKinds>> {
        let max_id: i64 = self
            .conn
            .prepare_cached("SELECT coalesce(max(id), 0) FROM entities")
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .context("sizing the entity kinds")?;
        let known_len = i64::try_from(known.by_id.len()).unwrap_or(i64::MAX);
        if max_id < known_len || max_id > MONTH_INDEX_MAX_ID {
            return Ok(None);
        }
        let mut by_id = known.by_id.clone();
        by_id.resize(usize::try_from(max_id).unwrap_or(0) + 1, 0);
        let mut st = self
            .conn
            .prepare_cached("SELECT id, kind FROM entities WHERE id >= ?1")
            .context("reading the new entity kinds")?;
        let mut rows = st
            .query([known_len])
            .context("reading the new entity kinds")?;
        while let Some(row) = rows.next().context("reading the new entity kinds")? {
            let (id, kind): (i64, EntityKind) =
                (|| Ok::<_, rusqlite::Error>((row.get(0)?, entity_kind(row, 1)?)))()
                    .context("reading an entity's kind")?;
            if let Some(slot) = usize::try_from(id).ok().and_then(|i| by_id.get_mut(i)) {
                *slot = u8::try_from(kind_place(kind) + 1).unwrap_or(0);
            }
        }
        Ok(Some(EntityKinds { by_id }))
    }

    /// [`Store::search_facets`] with the entities' kinds taken from `kinds` where it knows
    /// them: the same answer.
    ///
    /// The kind counts are made here in one pass over the newest matches' mentions (rows
    /// of one article come together): SQL joined every mention (about 10,000 for 500
    /// articles) to its entity row and sorted them for `count(DISTINCT …)`, the costliest
    /// part of a search page.
    pub fn search_facets_with(
        &self,
        query: &SearchQuery,
        count_cap: usize,
        facet_cap: usize,
        kinds: Option<&EntityKinds>,
    ) -> Result<SearchFacets> {
        let terms = query
            .terms
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        // A filter checked against a list (an entity's or a label's articles) builds that
        // list once per statement: with terms, one statement then lists the matches once.
        // Without such a filter, separate statements cost less (measured on 100,000
        // articles, 200 searches of one word: 3.0 ms a page separate, 3.4 in one statement,
        // which keeps 10,001 ids; 100 with an entity: 4.0 and 2.4 ms). Without terms,
        // listing 10,001 ids newest first would walk the article rows.
        let lists = !query.entities.iter().all(|e| e.trim().is_empty()) || query.label.is_some();
        // With terms, an entity in most articles is checked per match rather than listed
        // (see `Store::entity_checks_for`): the statement wants the newest
        // max(`count_cap` + 1, `facet_cap`) matches.
        let checks = match terms {
            Some(_) => self.entity_checks_for(query, count_cap.saturating_add(1).max(facet_cap))?,
            None => Vec::new(),
        };
        self.facets_by(
            query,
            count_cap,
            facet_cap,
            kinds,
            terms.is_some() && lists,
            &checks,
        )
    }

    /// [`Store::search_facets_with`] in one statement or in several, with the entity checks
    /// given (a list where none is given; the same answer whatever they are).
    fn facets_by(
        &self,
        query: &SearchQuery,
        count_cap: usize,
        facet_cap: usize,
        kinds: Option<&EntityKinds>,
        one_statement: bool,
        checks: &[EntityCheck],
    ) -> Result<SearchFacets> {
        let terms = query
            .terms
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let fail = |context: &str, err| search_error(terms, context, err);
        let (ids_sql, ids_params, newest_first) = matching_ids(query, terms, checks);
        if one_statement {
            return self.facets_in_one_statement(
                &ids_sql,
                ids_params,
                newest_first,
                count_cap,
                facet_cap,
                kinds,
                &fail,
            );
        }

        let mut params = ids_params.clone();
        params.push(Value::Integer(crate::convert::int(count_cap) + 1));
        let counted: i64 = self
            .conn
            .prepare_cached(&format!("SELECT count(*) FROM ({ids_sql} LIMIT ?)"))
            .and_then(|mut st| st.query_row(params_from_iter(params.iter()), |r| r.get(0)))
            .map_err(|e| fail("counting matches", e))?;
        let counted = u64::try_from(counted).unwrap_or(0);
        let cap = u64::try_from(count_cap).unwrap_or(u64::MAX);
        let mut facets = SearchFacets {
            total: counted.min(cap),
            total_capped: counted > cap,
            ..SearchFacets::default()
        };
        if counted == 0 {
            return Ok(facets);
        }

        let mut params = ids_params;
        params.push(Value::Integer(crate::convert::int(facet_cap)));
        let ids_params_kinds = params.clone();
        let sql = format!(
            "WITH ids (id) AS MATERIALIZED ({ids_sql} {newest_first} LIMIT ?)
             SELECT 'n', NULL, count(*) FROM ids
             UNION ALL
             SELECT 's', * FROM (
                 SELECT s.url, count(*) FROM ids
                  CROSS JOIN articles a ON a.id = ids.id
                  JOIN sources s ON s.id = a.source_id
                  GROUP BY s.id ORDER BY 2 DESC, 1 LIMIT 20)
             UNION ALL
             SELECT 'l', * FROM (
                 SELECT min(l.label), count(*) FROM ids
                  CROSS JOIN article_labels l ON l.article_id = ids.id
                  GROUP BY l.label COLLATE NOCASE ORDER BY 2 DESC, 1 LIMIT 20)"
        );
        let mut st = self
            .conn
            .prepare_cached(&sql)
            .map_err(|e| fail("preparing the facet counts", e))?;
        let mut rows = st
            .query(params_from_iter(params.iter()))
            .map_err(|e| fail("counting facets", e))?;
        while let Some(row) = rows.next().map_err(|e| fail("reading facets", e))? {
            let (facet, n) =
                (|| Ok::<_, rusqlite::Error>((row.get::<_, String>(0)?, row.get::<_, i64>(2)?)))()
                    .context("reading a facet")?;
            let n = u64::try_from(n).unwrap_or(0);
            match facet.as_str() {
                "n" => facets.sampled = n,
                "s" => facets
                    .sources
                    .push((row.get(1).context("reading a facet")?, n)),
                _ => facets
                    .labels
                    .push((row.get(1).context("reading a facet")?, n)),
            }
        }
        drop(rows);
        drop(st);
        facets.kinds = self.kind_counts(
            &format!("{ids_sql} {newest_first} LIMIT ?"),
            ids_params_kinds,
            kinds,
            &fail,
        )?;
        Ok(facets)
    }

    /// Articles per entity kind among the ids `ids_sql` lists (with `params`, the last one
    /// the LIMIT).
    fn kind_counts(
        &self,
        ids_sql: &str,
        params: Vec<Value>,
        kinds: Option<&EntityKinds>,
        fail: &dyn Fn(&str, rusqlite::Error) -> StoreError,
    ) -> Result<Vec<(EntityKind, u64)>> {
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "WITH ids (id) AS MATERIALIZED ({ids_sql})
                 SELECT ids.id, m.entity_id FROM ids
                  CROSS JOIN mentions m ON m.article_id = ids.id"
            ))
            .map_err(|e| fail("preparing the kind counts", e))?;
        let mut rows = st
            .query(params_from_iter(params.iter()))
            .map_err(|e| fail("counting kinds", e))?;
        let mut tally = KindTally::default();
        while let Some(row) = rows.next().map_err(|e| fail("counting kinds", e))? {
            let (id, entity): (i64, i64) =
                (|| Ok::<_, rusqlite::Error>((row.get(0)?, row.get(1)?)))()
                    .context("reading a mention")?;
            self.tally_kind(&mut tally, id, entity, kinds)?;
        }
        Ok(tally.counts())
    }

    /// Count `entity`'s kind for article `article` in `tally` (its kind from `kinds`, else
    /// looked up).
    fn tally_kind(
        &self,
        tally: &mut KindTally,
        article: i64,
        entity: i64,
        kinds: Option<&EntityKinds>,
    ) -> Result<()> {
        let place = match kinds.and_then(|k| k.get(entity)) {
            Some(place) => place,
            None => match self
                .conn
                .prepare_cached("SELECT kind FROM entities WHERE id = ?1")
                .and_then(|mut st| st.query_row([entity], |r| entity_kind(r, 0)).optional())
                .with_context(|| format!("reading the kind of entity {entity}"))?
            {
                Some(kind) => kind_place(kind),
                None => return Ok(()),
            },
        };
        tally.add(article, place);
        Ok(())
    }

    /// [`Store::search_facets_with`] for a search with terms, in one statement: the matches
    /// newest first (up to `count_cap` + 1, counted), the newest `facet_cap` of them, and
    /// their sources, labels and mentions. Separate statements each walked the full-text
    /// index again and built an entity filter's list of articles again (73,000 ids for the
    /// commonest entity of 100,000 articles), four times a page.
    #[allow(clippy::too_many_arguments)]
    fn facets_in_one_statement(
        &self,
        ids_sql: &str,
        mut params: Vec<Value>,
        newest_first: &str,
        count_cap: usize,
        facet_cap: usize,
        kinds: Option<&EntityKinds>,
        fail: &dyn Fn(&str, rusqlite::Error) -> StoreError,
    ) -> Result<SearchFacets> {
        let listed = (crate::convert::int(count_cap) + 1).max(crate::convert::int(facet_cap));
        params.push(Value::Integer(listed));
        params.push(Value::Integer(crate::convert::int(facet_cap)));
        // `ids` are the newest `facet_cap` matches: the highest ids of the newest
        // max(`count_cap` + 1, `facet_cap`), whatever order `matched` is kept in.
        let sql = format!(
            "WITH matched (id) AS MATERIALIZED ({ids_sql} {newest_first} LIMIT ?),
                  ids (id) AS MATERIALIZED (SELECT id FROM matched ORDER BY id DESC LIMIT ?)
             SELECT 't', NULL, count(*) FROM matched
             UNION ALL
             SELECT 'n', NULL, count(*) FROM ids
             UNION ALL
             SELECT 's', * FROM (
                 SELECT s.url, count(*) FROM ids
                  CROSS JOIN articles a ON a.id = ids.id
                  JOIN sources s ON s.id = a.source_id
                  GROUP BY s.id ORDER BY 2 DESC, 1 LIMIT 20)
             UNION ALL
             SELECT 'l', * FROM (
                 SELECT min(l.label), count(*) FROM ids
                  CROSS JOIN article_labels l ON l.article_id = ids.id
                  GROUP BY l.label COLLATE NOCASE ORDER BY 2 DESC, 1 LIMIT 20)
             UNION ALL
             SELECT 'm', ids.id, m.entity_id FROM ids
              CROSS JOIN mentions m ON m.article_id = ids.id"
        );
        let mut st = self
            .conn
            .prepare_cached(&sql)
            .map_err(|e| fail("preparing the facet counts", e))?;
        let mut rows = st
            .query(params_from_iter(params.iter()))
            .map_err(|e| fail("counting facets", e))?;
        let mut facets = SearchFacets::default();
        let mut tally = KindTally::default();
        let cap = u64::try_from(count_cap).unwrap_or(u64::MAX);
        while let Some(row) = rows.next().map_err(|e| fail("reading facets", e))? {
            let facet: String = row.get(0).context("reading a facet")?;
            match facet.as_str() {
                "m" => {
                    let (article, entity): (i64, i64) =
                        (|| Ok::<_, rusqlite::Error>((row.get(1)?, row.get(2)?)))()
                            .context("reading a mention")?;
                    self.tally_kind(&mut tally, article, entity, kinds)?;
                }
                _ => {
                    let n: i64 = row.get(2).context("reading a facet")?;
                    let n = u64::try_from(n).unwrap_or(0);
                    match facet.as_str() {
                        "t" => {
                            facets.total = n.min(cap);
                            facets.total_capped = n > cap;
                        }
                        "n" => facets.sampled = n,
                        "s" => facets
                            .sources
                            .push((row.get(1).context("reading a facet")?, n)),
                        _ => facets
                            .labels
                            .push((row.get(1).context("reading a facet")?, n)),
                    }
                }
            }
        }
        facets.kinds = tally.counts();
        Ok(facets)
    }

    /// The entity of `kind` called exactly `name` (its canonical name), with its counts and
    /// aliases; `None` if there is none.
    pub fn entity_detail(&self, kind: EntityKind, name: &str) -> Result<Option<EntityDetail>> {
        let found = self
            .conn
            .prepare_cached(
                "SELECT id, mention_count, article_count FROM entities WHERE kind = ?1 AND name = ?2",
            )
            .and_then(|mut st| {
                st.query_row(params![kind.as_str(), name], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .optional()
            })
            .with_context(|| format!("looking up {kind} {name:?}"))?;
        let Some((id, mentions, articles)) = found else {
            return Ok(None);
        };
        let aliases = self
            .conn
            .prepare_cached("SELECT alias FROM entity_aliases WHERE entity_id = ?1 ORDER BY alias")
            .and_then(|mut st| st.query_map([id], |r| r.get(0))?.collect())
            .with_context(|| format!("reading the aliases of {name:?}"))?;
        Ok(Some(EntityDetail {
            id,
            kind,
            name: name.to_string(),
            mentions: u64::try_from(mentions).unwrap_or(0),
            articles: u64::try_from(articles).unwrap_or(0),
            aliases,
        }))
    }

    /// Articles mentioning entity `id` per month of publication ("YYYY-MM", oldest first);
    /// articles without a date are left out.
    pub fn entity_months(&self, id: i64) -> Result<Vec<(String, u64)>> {
        // An entity in a large share of the articles: scan the small publication-date index
        // (it holds each article's id) and probe the entity's articles, rather than reading
        // that many article rows (mostly body text) one by one. Same result, a third of the
        // time for an entity in 70% of 100,000 articles.
        let (in_articles, all): (i64, i64) = self
            .conn
            .prepare_cached(
                "SELECT (SELECT article_count FROM entities WHERE id = ?1),
                        (SELECT coalesce(max(id), 0) FROM articles)",
            )
            .and_then(|mut st| st.query_row([id], |r| Ok((r.get(0)?, r.get(1)?))))
            .with_context(|| format!("sizing the months of entity {id}"))?;
        // The crossover, measured on 100,000 articles: an entity in 8,900 of them (9%) took
        // 88 ms by its own rows and 58 ms by the index; one in 281, 6 ms and 35 ms.
        let sql = if in_articles.saturating_mul(30) > all {
            "SELECT substr(published_at, 1, 7), count(*)
               FROM articles INDEXED BY articles_published_at
              WHERE published_at IS NOT NULL
                AND +id IN (SELECT article_id FROM mentions WHERE entity_id = ?1)
              GROUP BY 1 ORDER BY 1"
        } else {
            "SELECT substr(a.published_at, 1, 7), count(*)
               FROM (SELECT DISTINCT article_id FROM mentions WHERE entity_id = ?1) m
              CROSS JOIN articles a ON a.id = m.article_id
              WHERE a.published_at IS NOT NULL
              GROUP BY 1 ORDER BY 1"
        };
        self.conn
            .prepare_cached(sql)
            .and_then(|mut st| {
                st.query_map([id], |r| {
                    Ok((r.get(0)?, u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0)))
                })?
                .collect()
            })
            .with_context(|| format!("counting the months of entity {id}"))
    }

    /// Every dated article's month, for [`Store::entity_months_in`]; `None` when article ids
    /// are too large to index by or the months too many to number in two bytes (then
    /// [`Store::entity_months`] answers alone).
    pub fn month_index(&self) -> Result<Option<MonthIndex>> {
        let max_id: i64 = self
            .conn
            .prepare_cached("SELECT coalesce(max(id), 0) FROM articles")
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .context("sizing the month index")?;
        if max_id > MONTH_INDEX_MAX_ID {
            return Ok(None);
        }
        let mut by_id = vec![0u16; usize::try_from(max_id).unwrap_or(0) + 1];
        let mut months: Vec<String> = Vec::new();
        // The index is in date order, so each month's rows come together.
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT id, substr(published_at, 1, 7) FROM articles INDEXED BY articles_published_at
                  WHERE published_at IS NOT NULL ORDER BY published_at",
            )
            .context("reading the months of the articles")?;
        let mut rows = st.query([]).context("reading the months of the articles")?;
        while let Some(row) = rows.next().context("reading the months of the articles")? {
            let (id, month): (i64, String) =
                (|| Ok::<_, rusqlite::Error>((row.get(0)?, row.get(1)?)))()
                    .context("reading an article's month")?;
            if months.last() != Some(&month) {
                if months.len() >= usize::from(u16::MAX) {
                    // More distinct months than the index can number: asked per entity.
                    return Ok(None);
                }
                months.push(month);
            }
            if let Some(slot) = usize::try_from(id).ok().and_then(|i| by_id.get_mut(i)) {
                *slot = u16::try_from(months.len()).unwrap_or(0);
            }
        }
        // Dates of another shape may sort out of month order: put the months in order.
        if !months.is_sorted() {
            let mut order: Vec<usize> = (0..months.len()).collect();
            order.sort_by(|&a, &b| months[a].cmp(&months[b]));
            let mut new_place = vec![0u16; months.len()];
            for (place, &old) in order.iter().enumerate() {
                new_place[old] = u16::try_from(place + 1).unwrap_or(0);
            }
            for m in by_id.iter_mut().filter(|m| **m != 0) {
                *m = new_place[*m as usize - 1];
            }
            months = order.iter().map(|&i| months[i].clone()).collect();
        }
        // Equal months that were not next to each other in date order are merged.
        let mut merged: Vec<String> = Vec::new();
        let mut to_merged = vec![0u16; months.len()];
        for (i, m) in months.iter().enumerate() {
            if merged.last() != Some(m) {
                merged.push(m.clone());
            }
            to_merged[i] = u16::try_from(merged.len()).unwrap_or(0);
        }
        for m in by_id.iter_mut().filter(|m| **m != 0) {
            *m = to_merged[*m as usize - 1];
        }
        Ok(Some(MonthIndex {
            months: merged,
            by_id,
        }))
    }

    /// [`Store::entity_months`] with the articles' months taken from `index`: the same
    /// answer for the articles `index` knows (those stored when it was read).
    pub fn entity_months_in(&self, id: i64, index: &MonthIndex) -> Result<Vec<(String, u64)>> {
        let mut counts = vec![0u64; index.months.len()];
        let mut st = self
            .conn
            .prepare_cached("SELECT DISTINCT article_id FROM mentions WHERE entity_id = ?1")
            .with_context(|| format!("listing the articles of entity {id}"))?;
        let mut rows = st
            .query([id])
            .with_context(|| format!("listing the articles of entity {id}"))?;
        while let Some(row) = rows
            .next()
            .with_context(|| format!("listing the articles of entity {id}"))?
        {
            let article: i64 = row.get(0).context("reading an article id")?;
            let month = usize::try_from(article)
                .ok()
                .and_then(|i| index.by_id.get(i))
                .copied()
                .unwrap_or(0);
            if let Some(n) = (month as usize)
                .checked_sub(1)
                .and_then(|m| counts.get_mut(m))
            {
                *n += 1;
            }
        }
        Ok(index
            .months
            .iter()
            .zip(counts)
            .filter(|(_, n)| *n > 0)
            .map(|(m, n)| (m.clone(), n))
            .collect())
    }

    /// The `top` entities mentioned most often in the same articles as entity `id`, counted
    /// over its latest `sample` articles (by id: the latest stored).
    ///
    /// One read of those articles' mentions (about 20 each), in article order, counted here:
    /// SQL's `GROUP BY` with `count(DISTINCT …)` sorted all of them first, and the sample
    /// was counted by a second query. Names are read for the top entities only. Ties rank by
    /// entity id for the cut and then by name, as the SQL did.
    pub fn co_mentions(&self, id: i64, sample: usize, top: usize) -> Result<CoMentions> {
        let mut company = crate::query::CompanyOf::new(id);
        {
            let mut st = self
                .conn
                .prepare_cached(&format!(
                    "SELECT m.article_id, m.entity_id
                       FROM (SELECT DISTINCT article_id FROM mentions
                              WHERE entity_id = ?1 ORDER BY article_id DESC LIMIT {}) arts
                      CROSS JOIN mentions m ON m.article_id = arts.article_id",
                    crate::convert::int(sample)
                ))
                .with_context(|| format!("counting the company of entity {id}"))?;
            let mut rows = st
                .query(params![id])
                .with_context(|| format!("counting the company of entity {id}"))?;
            while let Some(row) = rows
                .next()
                .with_context(|| format!("counting the company of entity {id}"))?
            {
                let (article, entity): (i64, i64) =
                    (|| Ok::<_, rusqlite::Error>((row.get(0)?, row.get(1)?)))()
                        .context("reading a mention")?;
                company.add(article, entity);
            }
        }
        self.name_company(company, top)
    }

    /// [`Store::co_mentions`] with the sampled articles' mentions taken from `facts` where
    /// it keeps them (and kept there), the entities' kinds from `kinds`: the same answer.
    /// Only the entity's latest article ids and those articles' rows are read when `facts`
    /// knows at least half of them; else their mention rows, as [`Store::co_mentions`].
    pub fn co_mentions_in(
        &self,
        id: i64,
        sample: usize,
        top: usize,
        kinds: Option<&EntityKinds>,
        facts: &ArticleFacts,
    ) -> Result<CoMentions> {
        let ids: Vec<i64> = self
            .conn
            .prepare_cached(&format!(
                "SELECT DISTINCT article_id FROM mentions
                  WHERE entity_id = ?1 ORDER BY article_id DESC LIMIT {}",
                crate::convert::int(sample)
            ))
            .and_then(|mut st| st.query_map([id], |r| r.get(0))?.collect())
            .with_context(|| format!("listing the latest articles of entity {id}"))?;
        // Reading an article's facts costs more than counting its mention rows once: when
        // fewer than half of them are kept (a new server, a rare entity), count the rows.
        let kept = facts
            .kept
            .lock()
            .map_or(0, |k| ids.iter().filter(|id| k.contains_key(id)).count());
        if kept * 2 < ids.len() {
            return self.co_mentions(id, sample, top);
        }
        let mut company = crate::query::CompanyOf::new(id);
        for (article, _, fact) in self.facts_for(&ids, kinds, facts, None)? {
            for &entity in fact.entities.iter() {
                company.add(article, entity);
            }
        }
        self.name_company(company, top)
    }

    /// The `top` of `company`, named.
    fn name_company(&self, company: crate::query::CompanyOf, top: usize) -> Result<CoMentions> {
        let (sampled, ranked) = company.top(top);
        let mut name_of = self
            .conn
            .prepare_cached("SELECT kind, name FROM entities WHERE id = ?1")
            .context("preparing the entity lookup")?;
        let mut entities = Vec::with_capacity(ranked.len());
        for (entity, mentions, articles) in ranked {
            let (kind, name) = name_of
                .query_row([entity], |r| {
                    Ok((entity_kind(r, 0)?, r.get::<_, String>(1)?))
                })
                .with_context(|| format!("reading entity {entity}"))?;
            entities.push(EntityCount {
                kind,
                name,
                mentions,
                articles,
            });
        }
        crate::query::sort_by_company(&mut entities);
        Ok(CoMentions { sampled, entities })
    }

    /// The health of every source in the database (in [`Store::sources`] order): its newest
    /// article and the pages on its origin (`scheme://host[:port]/`) whose last fetch failed,
    /// up to `pages` of them listed, most failures first.
    pub fn source_health(&self, pages: usize) -> Result<Vec<SourceHealth>> {
        let sources: Vec<(i64, String)> = self
            .conn
            .prepare_cached("SELECT id, url FROM sources ORDER BY id")
            .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .context("listing sources")?;
        let mut out = Vec::with_capacity(sources.len());
        for (id, url) in sources {
            let newest_published = self
                .conn
                .prepare_cached("SELECT max(published_at) FROM articles WHERE source_id = ?1")
                .and_then(|mut st| st.query_row([id], |r| opt_time(r, 0)))
                .with_context(|| format!("reading the newest article of {url}"))?;
            let (failing, failing_pages) = match origin_prefix(&url) {
                Some(prefix) => self.failing_pages(&prefix, pages)?,
                None => (0, Vec::new()),
            };
            out.push(SourceHealth {
                id,
                newest_published,
                failing,
                failing_pages,
            });
        }
        Ok(out)
    }

    /// Pages whose URL starts with `prefix` and whose last fetch failed: how many, and the
    /// first `limit` (most failures first).
    fn failing_pages(&self, prefix: &str, limit: usize) -> Result<(u64, Vec<FailingPage>)> {
        // A range on the primary key rather than LIKE: `prefix` may hold `%` or `_`.
        let end = format!("{prefix}\u{10FFFF}");
        let failing: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM fetch_state WHERE url >= ?1 AND url < ?2 AND failures > 0",
            )
            .and_then(|mut st| st.query_row(params![prefix, end], |r| r.get(0)))
            .with_context(|| format!("counting failing pages under {prefix}"))?;
        let listed = self
            .conn
            .prepare_cached(
                "SELECT url, last_status, last_error, failures FROM fetch_state
                  WHERE url >= ?1 AND url < ?2 AND failures > 0
                  ORDER BY failures DESC, url LIMIT ?3",
            )
            .and_then(|mut st| {
                st.query_map(params![prefix, end, crate::convert::int(limit)], |r| {
                    Ok(FailingPage {
                        url: r.get(0)?,
                        last_status: r
                            .get::<_, Option<i64>>(1)?
                            .and_then(|s| u16::try_from(s).ok()),
                        last_error: r.get(2)?,
                        failures: u32::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                    })
                })?
                .collect()
            })
            .with_context(|| format!("listing failing pages under {prefix}"))?;
        Ok((u64::try_from(failing).unwrap_or(0), listed))
    }
}

impl Store {
    /// A browser's search page in one call: the hits of `query`'s page in `order` (what
    /// [`Store::search_ordered`] answers with `window`) and the facets (what
    /// [`Store::search_facets_with`] answers with `count_cap` and `facet_cap`), the facets
    /// counted from `facts` where it knows the sampled articles.
    ///
    /// With terms and relevance order, one statement lists the newest `window` matches with
    /// their bm25 (FTS5 walks them newest first): the page is the best of them, the facets'
    /// sample their newest `facet_cap`, and the count is theirs unless there are `window`
    /// of them, when only the older matches are counted on (up to `count_cap`). Separately,
    /// the ranking, the count and the sample each walked the matches again.
    #[allow(clippy::too_many_arguments)]
    pub fn search_page(
        &self,
        query: &SearchQuery,
        order: SearchOrder,
        window: usize,
        count_cap: usize,
        facet_cap: usize,
        kinds: Option<&EntityKinds>,
        facts: &ArticleFacts,
    ) -> Result<(Vec<SearchHit>, SearchFacets)> {
        let terms = query
            .terms
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let one_walk = order == SearchOrder::Relevance
            && window > 0
            && facet_cap <= window
            && window <= count_cap;
        let (Some(terms), true) = (terms, one_walk) else {
            let hits = self.search_ordered(query, order, window)?;
            let facets = self.search_facets_in(query, count_cap, facet_cap, kinds, facts)?;
            return Ok((hits, facets));
        };
        let checks = self.entity_checks_for(query, window)?;
        let newest = self.newest_ranked(query, terms, &checks, window)?;
        let hits = self.page_of(terms, &newest, query.limit, query.offset)?;
        let listed = u64::try_from(newest.len()).unwrap_or(u64::MAX);
        let cap = u64::try_from(count_cap).unwrap_or(u64::MAX);
        let counted = match newest.last() {
            Some(&(oldest, _)) if newest.len() >= window => {
                let checks = self.entity_checks_for(query, count_cap.saturating_add(1))?;
                listed + self.count_older(query, terms, &checks, oldest, count_cap + 1 - window)?
            }
            _ => listed,
        };
        let sample: Vec<i64> = newest.iter().take(facet_cap).map(|&(id, _)| id).collect();
        let mut facets = self.facets_of(&sample, kinds, facts, Some(terms))?;
        facets.total = counted.min(cap);
        facets.total_capped = counted > cap;
        Ok((hits, facets))
    }

    /// What `best_of` (query.rs) answers: the page (`limit` from `offset`; `limit` 0: all)
    /// of `ranked` best first, with rows and snippets; the snippets made here from each
    /// hit's body (see [`snippet`]: the same text), FTS5 asked only for those it cannot make.
    fn page_of(
        &self,
        terms: &str,
        ranked: &[(i64, f64)],
        limit: usize,
        offset: usize,
    ) -> Result<Vec<SearchHit>> {
        let Some(plan) = snippet::SnippetQuery::parse(terms) else {
            return self.best_of(terms, ranked, limit, offset);
        };
        let order = best_first(ranked);
        let take = if limit == 0 { usize::MAX } else { limit };
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT a.id, a.url, a.title, a.author, a.published_at, a.body
                   FROM articles a WHERE a.id = ?1",
            )
            .context("preparing a search hit")?;
        let mut hits = Vec::new();
        let mut left = Vec::new();
        for &(id, score) in order.iter().skip(offset).take(take) {
            let hit = st
                .query_row([id], |row| {
                    let body: Option<String> = row.get(5)?;
                    let hit = SearchHit {
                        id: row.get(0)?,
                        url: row.get(1)?,
                        title: row.get(2)?,
                        author: row.get(3)?,
                        published_at: opt_time(row, 4)?,
                        snippet: body.as_deref().and_then(|b| plan.snippet(b)),
                        rank: Some(score),
                    };
                    Ok(hit)
                })
                .optional()
                .with_context(|| format!("reading search hit {id}"))?;
            if let Some(hit) = hit {
                if hit.snippet.is_none() {
                    left.push((id, score));
                }
                hits.push(hit);
            }
        }
        drop(st);
        if !left.is_empty() {
            let mut from_fts: std::collections::HashMap<i64, Option<String>> = self
                .best_of(terms, &left, 0, 0)?
                .into_iter()
                .map(|h| (h.id, h.snippet))
                .collect();
            for hit in &mut hits {
                if hit.snippet.is_none()
                    && let Some(theirs) = from_fts.remove(&hit.id)
                {
                    hit.snippet = theirs;
                }
            }
        }
        Ok(hits)
    }

    /// [`Store::search_facets_with`], the sampled articles' labels and kinds taken from
    /// `facts` where it knows them (and kept there): the same answer.
    pub fn search_facets_in(
        &self,
        query: &SearchQuery,
        count_cap: usize,
        facet_cap: usize,
        kinds: Option<&EntityKinds>,
        facts: &ArticleFacts,
    ) -> Result<SearchFacets> {
        let terms = query
            .terms
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let fail = |context: &str, err| search_error(terms, context, err);
        let lists = !query.entities.iter().all(|e| e.trim().is_empty()) || query.label.is_some();
        let checks = match terms {
            Some(_) => self.entity_checks_for(query, count_cap.saturating_add(1).max(facet_cap))?,
            None => Vec::new(),
        };
        let (ids_sql, ids_params, newest_first) = matching_ids(query, terms, &checks);
        let (counted, sample) = if terms.is_some() && lists {
            // As `facets_in_one_statement`: the filter's list is built once.
            let params = ids_params;
            let listed = (crate::convert::int(count_cap) + 1).max(crate::convert::int(facet_cap));
            let sampled = crate::convert::int(facet_cap);
            let mut st = self
                .conn
                .prepare_cached(&format!(
                    "WITH matched (id) AS MATERIALIZED ({ids_sql} {newest_first} LIMIT {listed})
                     SELECT 0, count(*) FROM matched
                     UNION ALL
                     SELECT 1, id FROM (SELECT id FROM matched ORDER BY id DESC LIMIT {sampled})"
                ))
                .map_err(|e| fail("preparing the facet sample", e))?;
            let mut rows = st
                .query(params_from_iter(params.iter()))
                .map_err(|e| fail("listing the facet sample", e))?;
            let (mut counted, mut sample) = (0i64, Vec::new());
            while let Some(row) = rows
                .next()
                .map_err(|e| fail("listing the facet sample", e))?
            {
                let (what, n): (i64, i64) =
                    (|| Ok::<_, rusqlite::Error>((row.get(0)?, row.get(1)?)))()
                        .context("reading the facet sample")?;
                if what == 0 {
                    counted = n;
                } else {
                    sample.push(n);
                }
            }
            (counted, sample)
        } else {
            let counted: i64 = self
                .conn
                .prepare_cached(&format!(
                    "SELECT count(*) FROM ({ids_sql} LIMIT {})",
                    crate::convert::int(count_cap) + 1
                ))
                .and_then(|mut st| st.query_row(params_from_iter(ids_params.iter()), |r| r.get(0)))
                .map_err(|e| fail("counting matches", e))?;
            let mut sample = Vec::new();
            if counted > 0 && facet_cap > 0 {
                let params = ids_params;
                let mut st = self
                    .conn
                    .prepare_cached(&format!(
                        "{ids_sql} {newest_first} LIMIT {}",
                        crate::convert::int(facet_cap)
                    ))
                    .map_err(|e| fail("preparing the facet sample", e))?;
                let mut rows = st
                    .query(params_from_iter(params.iter()))
                    .map_err(|e| fail("listing the facet sample", e))?;
                while let Some(row) = rows
                    .next()
                    .map_err(|e| fail("listing the facet sample", e))?
                {
                    sample.push(row.get(0).context("reading the facet sample")?);
                }
            }
            (counted, sample)
        };
        let counted = u64::try_from(counted).unwrap_or(0);
        let cap = u64::try_from(count_cap).unwrap_or(u64::MAX);
        let mut facets = self.facets_of(&sample, kinds, facts, terms)?;
        facets.total = counted.min(cap);
        facets.total_capped = counted > cap;
        Ok(facets)
    }

    /// Sources, labels and entity kinds of the articles `ids` (`total` left 0): each
    /// article's row read for its source and `changed_at`, its labels and kinds from `facts`
    /// when kept there at that `changed_at`, else read (and kept once settled).
    fn facets_of(
        &self,
        ids: &[i64],
        kinds: Option<&EntityKinds>,
        facts: &ArticleFacts,
        terms: Option<&str>,
    ) -> Result<SearchFacets> {
        let fail = |context: &str, err| search_error(terms, context, err);
        let mut facets = SearchFacets {
            sampled: u64::try_from(ids.len()).unwrap_or(u64::MAX),
            ..SearchFacets::default()
        };
        if ids.is_empty() {
            return Ok(facets);
        }
        let found = self.facts_for(ids, kinds, facts, terms)?;
        let mut tally = KindTally::default();
        let mut per_source: std::collections::HashMap<i64, u64> = std::collections::HashMap::new();
        // Labels grouped as SQLite's NOCASE does (ASCII letters only): (shown, rows).
        let mut per_label: std::collections::HashMap<String, (String, u64)> =
            std::collections::HashMap::new();
        for (_, source, fact) in &found {
            if let Some(source) = source {
                *per_source.entry(*source).or_default() += 1;
            }
            for label in fact.labels.iter() {
                let entry = per_label
                    .entry(label.to_ascii_lowercase())
                    .or_insert_with(|| (label.to_string(), 0));
                if **label < *entry.0 {
                    entry.0 = label.to_string();
                }
                entry.1 += 1;
            }
            tally.add_mask(fact.kinds);
        }
        facets.kinds = tally.counts();
        let mut url_of = self
            .conn
            .prepare_cached("SELECT url FROM sources WHERE id = ?1")
            .map_err(|e| fail("preparing the source lookup", e))?;
        for (source, n) in per_source {
            if let Some(url) = url_of
                .query_row([source], |r| r.get::<_, String>(0))
                .optional()
                .map_err(|e| fail("reading a source", e))?
            {
                facets.sources.push((url, n));
            }
        }
        facets
            .sources
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        facets.sources.truncate(20);
        facets.labels = per_label.into_values().collect();
        facets
            .labels
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        facets.labels.truncate(20);
        Ok(facets)
    }

    /// The facts of articles `ids` with each one's source: from `facts` when kept there at
    /// the row's `changed_at`, else read (and kept once settled). Articles without a row
    /// are left out.
    fn facts_for(
        &self,
        ids: &[i64],
        kinds: Option<&EntityKinds>,
        facts: &ArticleFacts,
        terms: Option<&str>,
    ) -> Result<Vec<SampledFact>> {
        let fail = |context: &str, err| search_error(terms, context, err);
        let json = json_ids(ids);
        // (source, changed_at) of each article, then its facts.
        let mut rows_read: Vec<(i64, Option<i64>, String)> = Vec::with_capacity(ids.len());
        {
            let mut st = self
                .conn
                .prepare_cached(
                    "SELECT a.id, a.source_id, a.changed_at
                       FROM json_each(?1) j CROSS JOIN articles a ON a.id = j.value",
                )
                .map_err(|e| fail("preparing the sampled rows", e))?;
            let mut rows = st
                .query([&json])
                .map_err(|e| fail("reading the sampled rows", e))?;
            while let Some(row) = rows
                .next()
                .map_err(|e| fail("reading the sampled rows", e))?
            {
                rows_read.push(
                    (|| Ok::<_, rusqlite::Error>((row.get(0)?, row.get(1)?, row.get(2)?)))()
                        .context("reading a sampled row")?,
                );
            }
        }
        let mut found: Vec<Option<std::sync::Arc<Fact>>> = match facts.kept.lock() {
            Ok(kept) => rows_read
                .iter()
                .map(|(id, _, changed)| {
                    kept.get(id)
                        .filter(|f| *f.changed_at == **changed)
                        .map(std::sync::Arc::clone)
                })
                .collect(),
            Err(_) => vec![None; rows_read.len()],
        };
        let missing: Vec<i64> = rows_read
            .iter()
            .zip(&found)
            .filter(|(_, f)| f.is_none())
            .map(|((id, _, _), _)| *id)
            .collect();
        if !missing.is_empty() {
            let mut read = self.read_facts(&missing, kinds)?;
            let mut keep = Vec::new();
            for ((id, _, changed), slot) in rows_read.iter().zip(found.iter_mut()) {
                if slot.is_some() {
                    continue;
                }
                let (labels, mask, entities) = read.remove(id).unwrap_or_default();
                let fact = std::sync::Arc::new(Fact {
                    changed_at: changed.as_str().into(),
                    labels: labels.into_boxed_slice(),
                    kinds: mask,
                    entities: entities.into_boxed_slice(),
                });
                // Unsettled: read, not kept (and an older version kept is dropped).
                keep.push((*id, settled(changed).then(|| std::sync::Arc::clone(&fact))));
                *slot = Some(fact);
            }
            if let Ok(mut kept) = facts.kept.lock() {
                if kept.len() + keep.len() > FACTS_MAX {
                    kept.clear();
                }
                for (id, fact) in keep {
                    match fact {
                        Some(fact) => kept.insert(id, fact),
                        None => kept.remove(&id),
                    };
                }
            }
        }

        Ok(rows_read
            .into_iter()
            .zip(found)
            .filter_map(|((id, source, _), fact)| Some((id, source, fact?)))
            .collect())
    }

    /// The labels, the kinds of the mentioned entities (as a bit mask) and the mentioned
    /// entities of articles `ids`.
    fn read_facts(
        &self,
        ids: &[i64],
        kinds: Option<&EntityKinds>,
    ) -> Result<std::collections::HashMap<i64, ReadFact>> {
        let json = json_ids(ids);
        let mut out: std::collections::HashMap<i64, ReadFact> =
            std::collections::HashMap::with_capacity(ids.len());
        self.each_row_of(
            "SELECT l.article_id, l.label
               FROM json_each(?1) j CROSS JOIN article_labels l ON l.article_id = j.value",
            &json,
            "the sampled labels",
            |id, label: String| {
                out.entry(id).or_default().0.push(label.into_boxed_str());
                Ok(())
            },
        )?;
        self.each_row_of(
            "SELECT m.article_id, m.entity_id
               FROM json_each(?1) j CROSS JOIN mentions m ON m.article_id = j.value",
            &json,
            "the sampled mentions",
            |id, entity: i64| {
                let fact = out.entry(id).or_default();
                if let Some(place) = self.kind_of(entity, kinds)? {
                    fact.1 |= 1 << place;
                }
                fact.2.push(entity);
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// Runs `sql` (article id, value rows for the ids in the JSON array `json`) and hands
    /// each row to `each`; `what` names the rows in errors.
    fn each_row_of<T: rusqlite::types::FromSql>(
        &self,
        sql: &str,
        json: &str,
        what: &str,
        mut each: impl FnMut(i64, T) -> Result<()>,
    ) -> Result<()> {
        let mut st = self
            .conn
            .prepare_cached(sql)
            .with_context(|| format!("preparing {what}"))?;
        let mut rows = st
            .query([json])
            .with_context(|| format!("reading {what}"))?;
        while let Some(row) = rows.next().with_context(|| format!("reading {what}"))? {
            let (id, value): (i64, T) = (|| Ok::<_, rusqlite::Error>((row.get(0)?, row.get(1)?)))()
                .with_context(|| format!("reading a row of {what}"))?;
            each(id, value)?;
        }
        Ok(())
    }

    /// The place in [`EntityKind::ALL`] of entity `entity`'s kind: from `kinds`, else read.
    fn kind_of(&self, entity: i64, kinds: Option<&EntityKinds>) -> Result<Option<usize>> {
        if let Some(place) = kinds.and_then(|k| k.get(entity)) {
            return Ok(Some(place));
        }
        Ok(self
            .conn
            .prepare_cached("SELECT kind FROM entities WHERE id = ?1")
            .and_then(|mut st| st.query_row([entity], |r| entity_kind(r, 0)).optional())
            .with_context(|| format!("reading the kind of entity {entity}"))?
            .map(kind_place))
    }

    /// How many matches of `query` (with `terms`) are older than article `below`, counted
    /// up to `cap`.
    fn count_older(
        &self,
        query: &SearchQuery,
        terms: &str,
        checks: &[EntityCheck],
        below: i64,
        cap: usize,
    ) -> Result<u64> {
        let (ids_sql, mut params, _) = matching_ids(query, Some(terms), checks);
        params.push(Value::Integer(below));
        let n: i64 = self
            .conn
            .prepare_cached(&format!(
                "SELECT count(*) FROM ({ids_sql} AND articles_fts.rowid < ? LIMIT {})",
                crate::convert::int(cap)
            ))
            .and_then(|mut st| st.query_row(params_from_iter(params.iter()), |r| r.get(0)))
            .map_err(|e| search_error(Some(terms), "counting older matches", e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// A search's SQLite error as [`StoreError::BadQuery`] when it can only come from the MATCH
/// expression (a plain `SQLITE_ERROR` from fixed, tested SQL), else as it is.
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

/// `scheme://host[:port]/` of a URL, as text (no URL crate here: the scheme and authority
/// are everything before the third `/`).
fn origin_prefix(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if authority_len == 0 {
        return None;
    }
    let scheme_len = url.len() - rest.len();
    Some(format!("{}/", &url[..scheme_len + authority_len]))
}

/// `SELECT a.id FROM articles a WHERE …` for every filter of `query`, its parameters, and
/// the `ORDER BY` that lists them newest (highest id) first without a sort. The same filters
/// as a search, checked the simple way: the caller caps the rows read.
fn matching_ids(
    query: &SearchQuery,
    terms: Option<&str>,
    checks: &[EntityCheck],
) -> (String, Vec<Value>, &'static str) {
    let mut params: Vec<Value> = Vec::new();
    let text = |s: &str| Value::Text(s.trim().to_string());
    // Filters on the article row itself; the others need only its id.
    let needs_row = query.source.is_some()
        || query.author.is_some()
        || query.since.is_some()
        || query.until.is_some();
    // With terms the full-text index drives (CROSS JOIN keeps that order), so the caller's
    // LIMIT stops the scan early instead of after every match was listed. The article row
    // is joined only when a filter reads it: looking up each match's row (a page of body
    // text each) made counting 10,000 matches of a common word 15 to 70 times slower.
    // The unary `+` keeps SQLite from driving the MATCH from an id filter's list.
    let (mut sql, id) = match (terms, needs_row) {
        (Some(terms), false) => {
            params.push(Value::Text(terms.to_string()));
            (
                String::from(
                    "SELECT articles_fts.rowid AS id FROM articles_fts WHERE articles_fts MATCH ?",
                ),
                "+articles_fts.rowid",
            )
        }
        (Some(terms), true) => {
            params.push(Value::Text(terms.to_string()));
            (
                String::from(
                    "SELECT a.id FROM articles_fts CROSS JOIN articles a ON a.id = articles_fts.rowid
                      WHERE articles_fts MATCH ?",
                ),
                "+a.id",
            )
        }
        (None, _) => (String::from("SELECT a.id FROM articles a WHERE 1"), "a.id"),
    };
    let newest_first = if terms.is_some() {
        "ORDER BY articles_fts.rowid DESC"
    } else {
        "ORDER BY a.id DESC"
    };
    let kind = query.kind.map(|k| k.as_str());
    let kind_filter = if kind.is_some() {
        " AND e.kind = ?"
    } else {
        ""
    };
    // `+` as in query.rs's `push_entity_ids`: the name's own index, not the kind's.
    let name_kind_filter = if kind.is_some() {
        " AND +e.kind = ?"
    } else {
        ""
    };
    let names: Vec<&str> = query
        .entities
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .collect();
    for (i, name) in names.iter().enumerate() {
        // As in query.rs's `push_entity_filter`: the entity's articles listed once, or a
        // look in `mentions_entity` per candidate.
        sql.push_str(&match checks.get(i).copied().unwrap_or(EntityCheck::List) {
            EntityCheck::List => {
                format!(" AND {id} IN (SELECT m.article_id FROM mentions m WHERE m.entity_id IN (")
            }
            EntityCheck::PerArticle => format!(
                " AND EXISTS (SELECT 1 FROM mentions m WHERE m.article_id = {id} AND m.entity_id IN ("
            ),
        });
        sql.push_str(&format!(
            "SELECT e.id FROM entities e WHERE e.name = ? COLLATE NOCASE{name_kind_filter}
                 UNION SELECT al.entity_id FROM entity_aliases al JOIN entities e ON e.id = al.entity_id
                  WHERE al.alias = ? COLLATE NOCASE{kind_filter}))"
        ));
        for _ in 0..2 {
            params.push(text(name));
            if let Some(kind) = kind {
                params.push(text(kind));
            }
        }
    }
    if let (Some(kind), true) = (kind, names.is_empty()) {
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM mentions m JOIN entities e ON e.id = m.entity_id
                           WHERE m.article_id = {id} AND e.kind = ?)"
        ));
        params.push(text(kind));
    }
    if let Some(source) = query.source.as_deref() {
        sql.push_str(" AND a.source_id IN (SELECT id FROM sources WHERE url = ? OR name = ?)");
        params.push(text(source));
        params.push(text(source));
    }
    if let Some(label) = query.label.as_deref() {
        sql.push_str(&format!(
            " AND {id} IN (SELECT article_id FROM article_labels WHERE label = ? COLLATE NOCASE)"
        ));
        params.push(text(label));
    }
    if let Some(author) = query.author.as_deref() {
        sql.push_str(" AND a.author = ? COLLATE NOCASE");
        params.push(text(author));
    }
    if let Some(since) = opt_time_text(query.since.as_ref()) {
        sql.push_str(" AND a.published_at >= ?");
        params.push(Value::Text(since));
    }
    if let Some(until) = opt_time_text(query.until.as_ref()) {
        sql.push_str(" AND a.published_at < ?");
        params.push(Value::Text(until));
    }
    (sql, params, newest_first)
}

#[cfg(test)]
mod tests {
    use gleaner_model::{Article, Entity, SourceKind};

    use super::*;
    use crate::test_support::temp_store;

    fn article(n: usize, labels: &[&str], entities: &[(EntityKind, &str, &str)]) -> Article {
        let mut body = format!("Story number {n} about the harbour.");
        let mut found = Vec::new();
        for (kind, text, name) in entities {
            body.push(' ');
            let start = body.chars().count();
            body.push_str(text);
            found.push(Entity {
                kind: *kind,
                text: (*text).to_string(),
                name: (*name).to_string(),
                start,
                end: start + text.chars().count(),
            });
        }
        Article {
            url: format!("https://news.example/{n}.html"),
            title: format!("Story {n}"),
            published_at: chrono::DateTime::parse_from_rfc3339(&format!(
                "2024-0{}-10T00:00:00Z",
                1 + n % 3
            ))
            .ok()
            .map(|t| t.with_timezone(&Utc)),
            labels: labels.iter().map(|l| (*l).to_string()).collect(),
            content_hash: format!("h{n}"),
            body,
            entities: found,
            ..Article::default()
        }
    }

    use EntityKind::{Location, Person};

    #[test]
    fn read_only_store_reads_and_refuses_to_write() {
        let (_dir, path, mut store) = temp_store();
        store
            .upsert_article(&article(1, &[], &[(Person, "Ada", "Ada Lovelace")]), None)
            .unwrap();
        let ro = Store::open_read_only(&path).unwrap();
        assert_eq!(ro.stats().unwrap().articles, 1);
        let err = ro
            .connection()
            .execute("DELETE FROM articles", [])
            .unwrap_err();
        assert!(err.to_string().contains("readonly") || err.to_string().contains("read-only"));
        // The writer is not blocked by the open reader.
        store
            .upsert_article(&article(2, &[], &[]), None)
            .expect("writes go on beside a read-only reader");
        assert_eq!(ro.stats().unwrap().articles, 2);
    }

    #[test]
    fn read_only_open_refuses_a_file_that_is_not_a_gleaner_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let err = Store::open_read_only(&path).unwrap_err();
        assert!(err.to_string().contains("not a gleaner database"), "{err}");
        assert!(Store::open_read_only(&dir.path().join("missing.db")).is_err());
        assert!(!dir.path().join("missing.db").exists(), "nothing created");
    }

    /// Kind counts from the shared kind index, from lookups, and from the SQL that counted
    /// them before are the same, entities newer than the index included.
    #[test]
    fn kind_counts_agree_with_and_without_the_index() {
        let (_dir, _path, mut store) = temp_store();
        let kinds = [
            Person,
            Location,
            EntityKind::Organization,
            EntityKind::Money,
        ];
        let add = |store: &mut Store, from: usize, to: usize, prefix: &str| {
            for n in from..to {
                let picked: Vec<(EntityKind, String)> = (0..(n % 5))
                    .map(|i| {
                        (
                            kinds[(n + i) % kinds.len()],
                            format!("{prefix}{}", (n * i) % 7),
                        )
                    })
                    .collect();
                let refs: Vec<(EntityKind, &str, &str)> = picked
                    .iter()
                    .map(|(k, name)| (*k, name.as_str(), name.as_str()))
                    .collect();
                store.upsert_article(&article(n, &[], &refs), None).unwrap();
            }
        };
        add(&mut store, 0, 40, "E");
        let index = store.entity_kinds().unwrap().unwrap();
        assert_eq!(
            store.entity_kinds_after(&EntityKinds::default()).unwrap(),
            Some(index.clone())
        );
        assert_eq!(store.entity_kinds_after(&index).unwrap(), None, "none new");
        add(&mut store, 40, 60, "New");
        let extended = store.entity_kinds_after(&index).unwrap().unwrap();
        assert_eq!(Some(extended), store.entity_kinds().unwrap());
        for cap in [1, 7, 25, 100] {
            let plain = store
                .search_facets(&SearchQuery::default(), 100, cap)
                .unwrap();
            let indexed = store
                .search_facets_with(&SearchQuery::default(), 100, cap, Some(&index))
                .unwrap();
            assert_eq!(plain, indexed, "cap {cap}");
            let want: Vec<(EntityKind, u64)> = store
                .conn
                .prepare(
                    "WITH ids (id) AS (SELECT id FROM articles ORDER BY id DESC LIMIT ?1)
                     SELECT e.kind, count(DISTINCT ids.id) FROM ids
                      JOIN mentions m ON m.article_id = ids.id
                      JOIN entities e ON e.id = m.entity_id
                      GROUP BY e.kind ORDER BY 2 DESC, 1",
                )
                .unwrap()
                .query_map([cap as i64], |r| {
                    Ok((entity_kind(r, 0)?, r.get::<_, i64>(1)? as u64))
                })
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert!(!want.is_empty() || cap == 1);
            assert_eq!(indexed.kinds, want, "cap {cap}");
        }
    }

    /// Facets counted in one statement (a search with terms and a list filter) are those
    /// of separate statements, whatever the caps, filters and kind index.
    #[test]
    fn facets_in_one_statement_agree_with_separate_statements() {
        let (_dir, _path, mut store) = temp_store();
        let src = store
            .ensure_source(SourceKind::Feed, "https://news.example/feed", None)
            .unwrap();
        let names = ["Ada", "Paris", "Acme", "Bob"];
        let kinds = [Person, Location, EntityKind::Organization, Person];
        for n in 0..70usize {
            let picked: Vec<(EntityKind, &str, &str)> = (0..4)
                .filter(|i| (n + i * 3) % (i + 2) == 0)
                .map(|i| (kinds[i], names[i], names[i]))
                .collect();
            let labels: Vec<&str> = ["Politics", "science", "Sport"]
                .into_iter()
                .enumerate()
                .filter(|(i, _)| n % (i + 2) == 0)
                .map(|(_, l)| l)
                .collect();
            let source = (n % 3 == 0).then_some(src);
            store
                .upsert_article(&article(n, &labels, &picked), source)
                .unwrap();
        }
        let index = store.entity_kinds().unwrap();
        let queries = [
            SearchQuery {
                terms: Some("harbour".into()),
                ..SearchQuery::default()
            },
            SearchQuery {
                terms: Some("harbour".into()),
                entities: vec!["ada".into()],
                ..SearchQuery::default()
            },
            SearchQuery {
                terms: Some("story OR harbour".into()),
                entities: vec!["Paris".into(), "acme".into()],
                label: Some("politics".into()),
                ..SearchQuery::default()
            },
            SearchQuery {
                terms: Some("harbour".into()),
                label: Some("Sport".into()),
                source: Some("https://news.example/feed".into()),
                ..SearchQuery::default()
            },
            SearchQuery {
                terms: Some("nowhere".into()),
                entities: vec!["Bob".into()],
                ..SearchQuery::default()
            },
        ];
        let mut seen_capped = false;
        use EntityCheck::{List, PerArticle};
        for q in &queries {
            for (count_cap, facet_cap) in [(10_000, 500), (100, 100), (7, 3), (3, 10), (0, 2)] {
                for kinds in [None, index.as_ref()] {
                    let one = store
                        .facets_by(q, count_cap, facet_cap, kinds, true, &[])
                        .unwrap();
                    let several = store
                        .facets_by(q, count_cap, facet_cap, kinds, false, &[])
                        .unwrap();
                    assert_eq!(one, several, "{q:?} caps {count_cap}/{facet_cap}");
                    seen_capped |= one.total_capped && !one.kinds.is_empty();
                    if q.terms.is_some() {
                        // An entity checked per match counts the same as one listed.
                        for checks in [[PerArticle, PerArticle], [List, PerArticle]] {
                            let checked = store
                                .facets_by(q, count_cap, facet_cap, kinds, true, &checks)
                                .unwrap();
                            assert_eq!(checked, several, "{q:?} {checks:?}");
                        }
                    }
                }
            }
        }
        assert!(seen_capped, "some counts were capped");
        let all = store.search_facets(&queries[1], 10_000, 500).unwrap();
        assert!(all.total > 10 && all.sampled == all.total, "{all:?}");
        assert!(!all.sources.is_empty() && !all.labels.is_empty());
    }

    /// A store with 90 articles over two sources, labels of mixed case and entities of
    /// several kinds, for comparing answers.
    fn mixed_store() -> (tempfile::TempDir, std::path::PathBuf, Store) {
        let (dir, path, mut store) = temp_store();
        let a = store
            .ensure_source(SourceKind::Feed, "https://a.example/feed", None)
            .unwrap();
        let b = store
            .ensure_source(SourceKind::Feed, "https://b.example/feed", Some("Bee"))
            .unwrap();
        let names = ["Ada", "Paris", "Acme", "Bob", "Five dollars"];
        let kinds = [
            Person,
            Location,
            EntityKind::Organization,
            Person,
            EntityKind::Money,
        ];
        for n in 0..90usize {
            let picked: Vec<(EntityKind, &str, &str)> = (0..5)
                .filter(|i| (n + i * 3) % (i + 2) == 0)
                .map(|i| (kinds[i], names[i], names[i]))
                .collect();
            let labels: Vec<&str> = ["Politics", "politics", "science", "Sport", "ÉTÉ", "été"]
                .into_iter()
                .enumerate()
                .filter(|(i, _)| n % (i + 2) == 0)
                .map(|(_, l)| l)
                .collect();
            let source = match n % 3 {
                0 => Some(a),
                1 => Some(b),
                _ => None,
            };
            let mut art = article(n, &labels, &picked);
            if n % 4 == 0 {
                art.body
                    .push_str(" The harbour master spoke twice of the harbour.");
            }
            if n % 5 == 0 {
                art.title.push_str(" in the harbour");
            }
            store.upsert_article(&art, source).unwrap();
        }
        (dir, path, store)
    }

    fn page_queries() -> Vec<SearchQuery> {
        let q = |terms: Option<&str>| SearchQuery {
            terms: terms.map(String::from),
            limit: 7,
            ..SearchQuery::default()
        };
        vec![
            q(Some("harbour")),
            q(Some("story")),
            q(Some("story OR harbour")),
            q(Some("title:harbour")),
            q(Some("nowhere")),
            q(None),
            SearchQuery {
                offset: 5,
                ..q(Some("harbour"))
            },
            SearchQuery {
                limit: 0,
                ..q(Some("story"))
            },
            SearchQuery {
                entities: vec!["ada".into()],
                ..q(Some("harbour"))
            },
            SearchQuery {
                entities: vec!["Paris".into(), "acme".into()],
                label: Some("politics".into()),
                ..q(Some("story"))
            },
            SearchQuery {
                label: Some("Sport".into()),
                source: Some("Bee".into()),
                ..q(Some("story"))
            },
            SearchQuery {
                kind: Some(EntityKind::Money),
                ..q(Some("harbour"))
            },
            SearchQuery {
                source: Some("https://a.example/feed".into()),
                ..q(None)
            },
        ]
    }

    /// A search page in one call is what the ranked search and the facets say separately,
    /// whatever the window and caps, with facts kept or not.
    #[test]
    fn search_page_agrees_with_search_ordered_and_search_facets() {
        let (_dir, _path, store) = mixed_store();
        let index = store.entity_kinds().unwrap();
        let shared = ArticleFacts::new();
        for settle in [false, true] {
            if settle {
                // Every article changed long ago: its facts are kept from now on.
                store
                    .conn
                    .execute(
                        "UPDATE articles SET changed_at = '2020-01-01T00:00:00Z'",
                        [],
                    )
                    .unwrap();
            }
            for q in page_queries() {
                for order in [SearchOrder::Relevance, SearchOrder::Date] {
                    for (window, count_cap, facet_cap) in [
                        (1000, 10_000, 200),
                        (10, 100, 5),
                        (10, 20, 10),
                        (3, 3, 3),
                        (20, 10, 5),
                        (0, 100, 10),
                        (5, 100, 8),
                    ] {
                        for kinds in [None, index.as_ref()] {
                            let want_hits = store.search_ordered(&q, order, window).unwrap();
                            let want_facets = store
                                .search_facets_with(&q, count_cap, facet_cap, kinds)
                                .unwrap();
                            for facts in [&ArticleFacts::new(), &shared] {
                                let (hits, facets) = store
                                    .search_page(
                                        &q, order, window, count_cap, facet_cap, kinds, facts,
                                    )
                                    .unwrap();
                                let what =
                                    format!("{q:?} {order:?} {window}/{count_cap}/{facet_cap}");
                                assert_eq!(hits, want_hits, "{what}");
                                assert_eq!(facets, want_facets, "{what}");
                            }
                        }
                    }
                }
            }
            // (Unsettled facts are not kept: see `kept_facts_follow_a_changed_article`; this
            // loop may outlast the two seconds.)
            assert!(!settle || shared.len() > 20, "kept once settled");
        }
        let harbour = store
            .search_facets(&page_queries()[0], 10_000, 200)
            .unwrap();
        assert!(harbour.total > 20 && !harbour.labels.is_empty() && harbour.kinds.len() > 2);
        assert!(
            harbour.labels.iter().any(|(l, _)| l == "ÉTÉ")
                && harbour.labels.iter().any(|(l, _)| l == "été"),
            "{harbour:?}"
        );
        let bad = SearchQuery {
            terms: Some("\"unclosed".into()),
            ..SearchQuery::default()
        };
        assert!(matches!(
            store.search_page(
                &bad,
                SearchOrder::Relevance,
                1000,
                10_000,
                200,
                None,
                &shared
            ),
            Err(StoreError::BadQuery { .. })
        ));
    }

    /// A page's snippets made from the bodies are the ones FTS5 makes, and FTS5 still makes
    /// those the snippet module does not follow (a body in a script it does not probe, a
    /// query with NOT or a column filter).
    #[test]
    fn page_snippets_are_fts5_snippets() {
        let (_dir, _path, mut store) = mixed_store();
        let mut art = article(1000, &[], &[]);
        art.body = "Le café du harbour, à 東京: the harbour master again.".into();
        store.upsert_article(&art, None).unwrap();
        let mut accents = article(1001, &[], &[]);
        accents.body = "Le café du harbour, à Málaga: the harbour master again.".into();
        store.upsert_article(&accents, None).unwrap();
        let mut made_here = 0;
        for terms in [
            "harbour",
            "harbour NOT master",
            "story OR harbour",
            "\"harbour master\"",
            "harb* number",
            "title:harbour",
        ] {
            let q = SearchQuery {
                terms: Some(terms.into()),
                ..SearchQuery::default()
            };
            let newest = store.newest_ranked(&q, terms, &[], 1000).unwrap();
            assert!(!newest.is_empty(), "{terms}");
            let theirs = store.best_of(terms, &newest, 0, 0).unwrap();
            assert_eq!(
                store.page_of(terms, &newest, 0, 0).unwrap(),
                theirs,
                "{terms}"
            );
            assert_eq!(
                store.page_of(terms, &newest, 5, 3).unwrap(),
                store.best_of(terms, &newest, 5, 3).unwrap()
            );
            if let Some(plan) = snippet::SnippetQuery::parse(terms) {
                made_here += theirs
                    .iter()
                    .filter(|h| {
                        let body: String = store
                            .conn
                            .query_row("SELECT body FROM articles WHERE id = ?1", [h.id], |r| {
                                r.get(0)
                            })
                            .unwrap();
                        plan.snippet(&body).is_some()
                    })
                    .count();
            }
        }
        assert!(made_here > 50, "{made_here}");
        let plan = snippet::SnippetQuery::parse("harbour").unwrap();
        assert!(plan.snippet(&art.body).is_none());
        assert!(plan.snippet(&accents.body).is_some());
    }

    /// Kept facts follow a rewrite of the article (new `changed_at`), and are not kept for
    /// an article changed within the last two seconds.
    #[test]
    fn kept_facts_follow_a_changed_article() {
        let (_dir, _path, mut store) = mixed_store();
        store
            .conn
            .execute(
                "UPDATE articles SET changed_at = '2020-01-01T00:00:00Z'",
                [],
            )
            .unwrap();
        let facts = ArticleFacts::new();
        let q = SearchQuery {
            terms: Some("harbour".into()),
            ..SearchQuery::default()
        };
        let page = |store: &Store, facts: &ArticleFacts| {
            store
                .search_page(&q, SearchOrder::Relevance, 1000, 10_000, 200, None, facts)
                .unwrap()
                .1
        };
        let before = page(&store, &facts);
        assert_eq!(before, store.search_facets(&q, 10_000, 200).unwrap());
        let kept = facts.len();
        assert!(kept > 10, "{kept}");
        // Article 0 (it matches "harbour") rewritten with other labels and entities.
        let mut changed = article(0, &["Weather", "weather"], &[(Location, "Oslo", "Oslo")]);
        changed.body.push_str(" The harbour again.");
        changed.content_hash = "changed".into();
        store.upsert_article(&changed, None).unwrap();
        let after = page(&store, &facts);
        assert_eq!(after, store.search_facets(&q, 10_000, 200).unwrap());
        assert_ne!(after, before);
        assert!(
            after.labels.iter().any(|(l, n)| l == "Weather" && *n == 2),
            "{after:?}"
        );
        // Changed just now: read, not kept (a second change in the same second would have
        // the same `changed_at`).
        assert_eq!(facts.len(), kept - 1);
        // What is kept is used: labels changed by hand, without `changed_at`, are not seen
        // until the article is rewritten.
        store
            .conn
            .execute(
                "UPDATE article_labels SET label = 'Hand' WHERE label = 'Sport'",
                [],
            )
            .unwrap();
        let by_hand = page(&store, &facts);
        assert_eq!(by_hand, after);
        assert_ne!(by_hand, store.search_facets(&q, 10_000, 200).unwrap());
    }

    #[test]
    fn facets_count_matches_kinds_sources_and_labels() {
        let (_dir, _path, mut store) = temp_store();
        let src = store
            .ensure_source(SourceKind::Feed, "https://news.example/feed", None)
            .unwrap();
        store
            .upsert_article(
                &article(
                    1,
                    &["Politics"],
                    &[
                        (Person, "Ada", "Ada Lovelace"),
                        (Location, "Paris", "Paris"),
                    ],
                ),
                Some(src),
            )
            .unwrap();
        store
            .upsert_article(
                &article(
                    2,
                    &["politics", "Science"],
                    &[(Person, "Ada", "Ada Lovelace")],
                ),
                None,
            )
            .unwrap();
        store.upsert_article(&article(3, &[], &[]), None).unwrap();

        let all = store
            .search_facets(&SearchQuery::default(), 100, 100)
            .unwrap();
        assert_eq!((all.total, all.total_capped, all.sampled), (3, false, 3));
        assert_eq!(all.kinds, vec![(Person, 2), (Location, 1)]);
        assert_eq!(all.sources, vec![("https://news.example/feed".into(), 1)]);
        assert_eq!(
            all.labels,
            vec![("Politics".into(), 2), ("Science".into(), 1)]
        );

        let capped = store.search_facets(&SearchQuery::default(), 2, 1).unwrap();
        assert_eq!(
            (capped.total, capped.total_capped, capped.sampled),
            (2, true, 1)
        );

        let ada = SearchQuery {
            terms: Some("harbour".into()),
            entities: vec!["ada".into()],
            kind: Some(Person),
            label: Some("science".into()),
            ..SearchQuery::default()
        };
        let f = store.search_facets(&ada, 100, 100).unwrap();
        assert_eq!(f.total, 1);
        assert_eq!(f.labels.len(), 2);

        let bad = SearchQuery {
            terms: Some("\"unclosed".into()),
            ..SearchQuery::default()
        };
        assert!(matches!(
            store.search_facets(&bad, 10, 10),
            Err(StoreError::BadQuery { .. })
        ));
    }

    #[test]
    fn entity_detail_months_and_company() {
        let (_dir, _path, mut store) = temp_store();
        for n in 0..4 {
            store
                .upsert_article(
                    &article(
                        n,
                        &[],
                        &[
                            (Person, "Ada", "Ada Lovelace"),
                            (Person, "Lovelace", "Ada Lovelace"),
                            (Location, "London", "London"),
                        ],
                    ),
                    None,
                )
                .unwrap();
        }
        let d = store
            .entity_detail(Person, "Ada Lovelace")
            .unwrap()
            .unwrap();
        assert_eq!((d.mentions, d.articles), (8, 4));
        assert_eq!(d.aliases, vec!["Ada".to_string(), "Lovelace".to_string()]);
        assert!(
            store
                .entity_detail(Location, "Ada Lovelace")
                .unwrap()
                .is_none()
        );
        assert_eq!(
            store.entity_months(d.id).unwrap(),
            vec![
                ("2024-01".to_string(), 2),
                ("2024-02".to_string(), 1),
                ("2024-03".to_string(), 1)
            ]
        );
        // In every article, the months come from the date index; once 40 articles without
        // it are added, from its own articles' rows: the same months either way.
        let by_index = store.entity_months(d.id).unwrap();
        for n in 100..140 {
            store.upsert_article(&article(n, &[], &[]), None).unwrap();
        }
        assert_eq!(store.entity_months(d.id).unwrap(), by_index);
        let index = store.month_index().unwrap().unwrap();
        assert_eq!(index.articles(), 44);
        assert_eq!(store.entity_months_in(d.id, &index).unwrap(), by_index);
        let london = store.entity_detail(Location, "London").unwrap().unwrap();
        assert_eq!(
            store.entity_months_in(london.id, &index).unwrap(),
            store.entity_months(london.id).unwrap()
        );
        let c = store.co_mentions(d.id, 3, 10).unwrap();
        assert_eq!(c.sampled, 3);
        assert_eq!(c.entities.len(), 1);
        assert_eq!(c.entities[0].name, "London");
        assert_eq!(c.entities[0].articles, 3);
    }

    /// The company counted in one pass is what the SQL that counted it before says, ties
    /// and the sample's cut included, over articles with many overlapping entities.
    #[test]
    fn co_mentions_agree_with_the_sql_count() {
        let (_dir, _path, mut store) = temp_store();
        let names = [
            "Ada", "Babbage", "Curie", "Darwin", "Euler", "Faraday", "Gauss", "Hopper",
        ];
        for n in 0..60usize {
            let picked: Vec<(EntityKind, &str, &str)> = names
                .iter()
                .enumerate()
                .filter(|(i, _)| (n * 7 + i * 3) % (i + 2) != 0 || *i == 0)
                .flat_map(|(i, name)| {
                    // Some entities twice in an article: mentions and articles differ.
                    let times = 1 + (n + i) % 3;
                    std::iter::repeat_n((EntityKind::Person, *name, *name), times)
                })
                .collect();
            store
                .upsert_article(&article(n, &[], &picked), None)
                .unwrap();
        }
        let ada = store
            .entity_detail(EntityKind::Person, "Ada")
            .unwrap()
            .unwrap();
        let index = store.entity_kinds().unwrap();
        let shared = ArticleFacts::new();
        for (sample, top) in [(500, 20), (25, 3), (7, 5), (1, 1), (60, 0)] {
            let got = store.co_mentions(ada.id, sample, top).unwrap();
            let want: Vec<EntityCount> = store
                .conn
                .prepare(
                    "WITH arts (id) AS (SELECT DISTINCT article_id FROM mentions
                                         WHERE entity_id = ?1 ORDER BY article_id DESC LIMIT ?2),
                          counts (entity_id, mentions, articles) AS (
                              SELECT m.entity_id, count(*), count(DISTINCT m.article_id)
                                FROM arts CROSS JOIN mentions m ON m.article_id = arts.id
                               WHERE m.entity_id <> ?1
                               GROUP BY m.entity_id
                               ORDER BY 3 DESC, 2 DESC, 1 LIMIT ?3)
                     SELECT e.kind, e.name, c.mentions, c.articles
                       FROM counts c CROSS JOIN entities e ON e.id = c.entity_id
                      ORDER BY c.articles DESC, c.mentions DESC, e.name",
                )
                .unwrap()
                .query_map(params![ada.id, sample as i64, top as i64], |r| {
                    Ok(EntityCount {
                        kind: entity_kind(r, 0)?,
                        name: r.get(1)?,
                        mentions: r.get::<_, i64>(2)? as u64,
                        articles: r.get::<_, i64>(3)? as u64,
                    })
                })
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert_eq!(got.entities, want, "sample {sample}, top {top}");
            assert_eq!(got.sampled, sample.min(60) as u64);
            // From kept facts (settled or not, shared or fresh, with or without the kind
            // index): the same company.
            for facts in [&ArticleFacts::new(), &shared] {
                for kinds in [None, index.as_ref()] {
                    assert_eq!(
                        store
                            .co_mentions_in(ada.id, sample, top, kinds, facts)
                            .unwrap(),
                        got,
                        "sample {sample}, top {top}"
                    );
                }
            }
        }
        assert!(shared.is_empty(), "nothing settled yet");
        store
            .conn
            .execute(
                "UPDATE articles SET changed_at = '2020-01-01T00:00:00Z'",
                [],
            )
            .unwrap();
        // Kept for every article (by a search's facets): the company comes from them.
        store
            .search_facets_in(&SearchQuery::default(), 100, 100, index.as_ref(), &shared)
            .unwrap();
        assert_eq!(shared.len(), 60);
        for (sample, top) in [(500, 20), (25, 3), (7, 5)] {
            let want = store.co_mentions(ada.id, sample, top).unwrap();
            for _ in 0..2 {
                let got = store
                    .co_mentions_in(ada.id, sample, top, index.as_ref(), &shared)
                    .unwrap();
                assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn source_health_counts_failing_pages_on_the_source_origin() {
        let (_dir, _path, mut store) = temp_store();
        let src = store
            .ensure_source(SourceKind::Blogger, "https://a.example/", None)
            .unwrap();
        store
            .upsert_article(&article(1, &[], &[]), Some(src))
            .unwrap();
        for (url, failures) in [
            ("https://a.example/1.html", 2),
            ("https://a.example/2.html", 0),
            ("https://a.example.evil/3.html", 5),
            ("https://b.example/4.html", 1),
        ] {
            store
                .record_fetch(&crate::FetchState {
                    url: url.into(),
                    failures,
                    last_status: Some(503),
                    ..crate::FetchState::default()
                })
                .unwrap();
        }
        let h = store.source_health(10).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].failing, 1);
        assert_eq!(h[0].failing_pages[0].url, "https://a.example/1.html");
        assert!(h[0].newest_published.is_some());
        assert_eq!(
            origin_prefix("https://a.example:8080?x"),
            Some("https://a.example:8080/".into())
        );
        assert_eq!(origin_prefix("nonsense"), None);
    }
}
