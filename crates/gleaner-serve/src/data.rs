//! What each page and endpoint reads, in one database call each: the HTML pages and the API
//! show the same data. Searches, entity pages, the entity list and the sources page are kept
//! in the server's [`Cache`](crate::cache::Cache) (see there for when they are computed again).

use std::sync::{Arc, Mutex};

use gleaner_model::{Article, EntityKind};
use gleaner_store::{
    ArticleFacts, ArticleKey, CoMentions, EntityCount, EntityDetail, EntityKinds, EntityQuery,
    MonthIndex, SearchFacets, SearchHit, SearchOrder, SearchQuery, SourceHealth, SourceRecord,
    Stats, StoreError,
};

use crate::db::Conn;
use crate::params::{EntityListParams, Paging, SearchParams};
use crate::{App, Failure, Pool};

/// Matches are counted up to this many (searches in date order or without terms).
pub const COUNT_CAP: usize = 10_000;
/// Facets are counted over this many matches (the newest). Each sampled article costs a
/// cold page about 5 µs (its row, labels and ~20 mention rows): 200 were a quarter of a
/// cold search page's CPU, 100 half that.
pub const FACET_CAP: usize = 100;
/// Relevance ranks this many matches, the newest (by article id), and counts matches only
/// this far: such a search says "more than 1000". Counting on to [`COUNT_CAP`] walked up to
/// 9,000 more matches of the full-text index, a tenth of a cold search page's CPU, for a
/// number no page of results could reach. Must not exceed [`COUNT_CAP`].
pub const RANK_WINDOW: usize = 1_000;
/// An entity's company is counted over its latest this many articles.
pub const CO_MENTION_SAMPLE: usize = 200;
/// Entities listed as its company.
pub const CO_MENTION_TOP: usize = 20;
/// Failing pages listed per source.
pub const FAILING_LISTED: usize = 20;

/// One page of search results.
pub struct SearchPage {
    /// The hits of the page.
    pub hits: Vec<SearchHit>,
    /// Counts over all matches.
    pub facets: SearchFacets,
    /// With terms and relevance order: how many matches were ranked (the newest
    /// [`RANK_WINDOW`] at most).
    pub ranked: Option<u64>,
}

/// The entities' kinds by id, shared by every search's kind counts and every entity's
/// company: read once, then extended by the entities stored since (an entity's kind never
/// changes, so nothing read goes out of date; entities it does not know are looked up).
#[derive(Debug, Default)]
pub struct SharedKinds(Mutex<Arc<EntityKinds>>);

impl SharedKinds {
    /// The index as of now, on `conn` (in the caller's read transaction).
    ///
    /// One page at a time reads and extends it (the others wait for the lock, then find it
    /// read): the first pages of a fresh server, asked at once, each read every entity's kind
    /// otherwise (about 50 M instructions each at 50,000 entities, 4 % of 300 cold search
    /// pages' with 32 clients). Checking for new entities is one look-up of the largest id.
    fn now(&self, conn: &mut Conn) -> Result<Arc<EntityKinds>, StoreError> {
        let mut shared = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match conn.entity_kinds_after(&shared)? {
            Some(extended) => {
                let extended = Arc::new(extended);
                *shared = Arc::clone(&extended);
                Ok(extended)
            }
            None => Ok(Arc::clone(&shared)),
        }
    }
}

/// Run a search and count its facets.
pub async fn search(app: &Arc<App>, params: &SearchParams) -> Result<Arc<SearchPage>, Failure> {
    let query = params.to_query();
    let order = params.sort;
    let key = format!("search {order:?} {query:?}");
    let (pool, facts, kinds) = (
        Arc::clone(&app.pool),
        Arc::clone(&app.facts),
        Arc::clone(&app.kinds),
    );
    app.cache
        .get(key, move || {
            let (pool, query, kinds) = (Arc::clone(&pool), query.clone(), Arc::clone(&kinds));
            let facts = Arc::clone(&facts);
            async move {
                Ok(pool
                    .run(move |store| {
                        let kinds = kinds.now(store)?;
                        let has_terms =
                            query.terms.as_deref().is_some_and(|t| !t.trim().is_empty());
                        let relevance = has_terms && order == SearchOrder::Relevance;
                        // Ranked searches count their matches as far as the window only.
                        let count_cap = if relevance { RANK_WINDOW } else { COUNT_CAP };
                        let (hits, facets) = store.search_page(
                            &query,
                            order,
                            RANK_WINDOW,
                            count_cap,
                            FACET_CAP,
                            Some(&kinds),
                            &facts,
                        )?;
                        let ranked = relevance.then(|| facets.total.min(RANK_WINDOW as u64));
                        Ok(SearchPage {
                            hits,
                            facets,
                            ranked,
                        })
                    })
                    .await?)
            }
        })
        .await
}

/// Article `id`, parsed from the path.
pub async fn article(app: &Arc<App>, id: &str) -> Result<Article, Failure> {
    let id: i64 = id
        .parse()
        .map_err(|_| Failure::BadRequest(format!("an article id is a number, not {id:?}")))?;
    app.pool
        .run(move |store| store.article(ArticleKey::Id(id)))
        .await?
        .ok_or_else(|| Failure::NotFound(format!("there is no article {id}")))
}

/// One page of the most-mentioned entities, and whether there are more.
pub async fn entities(
    app: &Arc<App>,
    params: &EntityListParams,
) -> Result<(Vec<EntityCount>, bool), Failure> {
    let paging = params.paging;
    let query = EntityQuery {
        kind: params.kind,
        top: paging.offset() + paging.per_page + 1,
        since: params.since.as_ref().map(|s| s.1),
        with: None,
    };
    let key = format!("entities {query:?}");
    let pool = Arc::clone(&app.pool);
    let all = app
        .cache
        .get(key, move || {
            let (pool, query) = (Arc::clone(&pool), query.clone());
            async move { Ok(pool.run(move |store| store.top_entities(&query)).await?) }
        })
        .await?;
    let more = all.len() > paging.offset() + paging.per_page;
    let page: Vec<EntityCount> = all
        .iter()
        .skip(paging.offset())
        .take(paging.per_page)
        .cloned()
        .collect();
    Ok((page, more))
}

/// An entity's page.
pub struct EntityPage {
    /// Counts and aliases.
    pub detail: EntityDetail,
    /// Articles per month.
    pub months: Vec<(String, u64)>,
    /// The company it keeps.
    pub company: CoMentions,
    /// A page of its articles, newest first.
    pub hits: Vec<SearchHit>,
}

/// Entity `kind`/`name` from the path.
pub async fn entity(
    app: &Arc<App>,
    kind: &str,
    name: String,
    paging: Paging,
) -> Result<Arc<EntityPage>, Failure> {
    let kind: EntityKind = kind
        .parse()
        .map_err(|_| Failure::NotFound(format!("there is no entity kind {kind:?}")))?;
    let key = format!(
        "entity {kind} {name:?} {} {}",
        paging.offset(),
        paging.per_page
    );
    // Every entity's chart reads the articles' months from one index kept like any answer.
    let pool = Arc::clone(&app.pool);
    let index = app
        .cache
        .get("month index".into(), move || {
            let pool = Arc::clone(&pool);
            async move { Ok(pool.run(|store| store.month_index()).await?) }
        })
        .await?;
    let (pool, facts, kinds) = (
        Arc::clone(&app.pool),
        Arc::clone(&app.facts),
        Arc::clone(&app.kinds),
    );
    app.cache
        .get(key, move || {
            let (pool, name, index) = (Arc::clone(&pool), name.clone(), Arc::clone(&index));
            let (kinds, facts) = (Arc::clone(&kinds), Arc::clone(&facts));
            async move {
                let indexes = Indexes {
                    months: index,
                    kinds,
                    facts,
                };
                entity_uncached(&pool, kind, name, paging, indexes).await
            }
        })
        .await
}

/// What an entity page reads beside the database.
struct Indexes {
    months: Arc<Option<MonthIndex>>,
    kinds: Arc<SharedKinds>,
    facts: Arc<ArticleFacts>,
}

async fn entity_uncached(
    pool: &Arc<Pool>,
    kind: EntityKind,
    name: String,
    paging: Paging,
    indexes: Indexes,
) -> Result<EntityPage, Failure> {
    let missing = format!("there is no {kind} called {name:?}");
    pool.run(move |store| {
        let Some(detail) = store.entity_detail(kind, &name)? else {
            return Ok(None);
        };
        let months = store.entity_months(detail.id, indexes.months.as_ref().as_ref())?;
        let kinds = indexes.kinds.now(store)?;
        let company = store.co_mentions(
            detail.id,
            CO_MENTION_SAMPLE,
            CO_MENTION_TOP,
            Some(&kinds),
            &indexes.facts,
        )?;
        let hits = store.search(&SearchQuery {
            entities: vec![name],
            kind: Some(kind),
            limit: paging.per_page,
            offset: paging.offset(),
            ..SearchQuery::default()
        })?;
        Ok(Some(EntityPage {
            detail,
            months,
            company,
            hits,
        }))
    })
    .await?
    .ok_or(Failure::NotFound(missing))
}

/// The sources page.
pub struct SourcesPage {
    /// Database-wide counts and recent runs.
    pub stats: Stats,
    /// The sources with their health.
    pub sources: Vec<(SourceRecord, SourceHealth)>,
}

/// Counts, sources and their health, runs.
pub async fn sources(app: &Arc<App>) -> Result<Arc<SourcesPage>, Failure> {
    let pool = Arc::clone(&app.pool);
    app.cache
        .get("sources".into(), move || {
            let pool = Arc::clone(&pool);
            async move {
                Ok(pool
                    .run(|store| {
                        let stats = store.stats()?;
                        let records = store.sources()?;
                        let health = store.source_health(FAILING_LISTED)?;
                        let sources = records
                            .into_iter()
                            .filter_map(|r| {
                                let h = health.iter().find(|h| h.id == r.id)?.clone();
                                Some((r, h))
                            })
                            .collect();
                        Ok(SourcesPage { stats, sources })
                    })
                    .await?)
            }
        })
        .await
}
