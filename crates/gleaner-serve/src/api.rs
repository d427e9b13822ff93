//! The JSON API under `/api/`: the pages' data, the same parameters, DESIGN.md's article
//! shape, errors as `{"error": "…"}` with the status. Described by `/api/openapi.json`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use gleaner_store::{EntityCount, SearchHit};
use serde_json::{Value, json};

use crate::params::{self, EntityListParams, Paging, SearchParams};
use crate::{App, Failure, data};

/// The OpenAPI document, written by hand and checked by the tests against the routes.
pub const OPENAPI: &str = include_str!("../assets/openapi.json");

/// An API error: `{"error": message}` with `status`.
pub fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// A [`Failure`] told as JSON.
pub struct ApiFailure(Failure);

impl From<Failure> for ApiFailure {
    fn from(f: Failure) -> Self {
        ApiFailure(f)
    }
}

impl From<params::BadParam> for ApiFailure {
    fn from(e: params::BadParam) -> Self {
        ApiFailure(e.into())
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let (status, message) = self.0.status_and_message();
        error(status, &message)
    }
}

type ApiResult = Result<Json<Value>, ApiFailure>;

fn time(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| {
        Value::String(t.to_rfc3339_opts(SecondsFormat::Secs, true))
    })
}

/// A search hit, as `gleaner query --format json` prints it.
fn hit(h: &SearchHit) -> Value {
    json!({
        "id": h.id,
        "url": h.url,
        "title": h.title,
        "author": h.author,
        "published_at": time(h.published_at),
        "snippet": h.snippet,
        "rank": h.rank,
    })
}

/// An entity count, as `gleaner entities --format json` prints it.
fn entity_count(e: &EntityCount) -> Value {
    json!({ "kind": e.kind, "name": e.name, "mentions": e.mentions, "articles": e.articles })
}

fn paging(p: Paging) -> Value {
    json!({ "page": p.page, "per_page": p.per_page })
}

/// `GET /api/search`
pub async fn search(State(app): State<Arc<App>>, RawQuery(raw): RawQuery) -> ApiResult {
    let p = SearchParams::parse(raw.as_deref())?;
    let result = data::search(&app, &p).await?;
    let f = &result.facets;
    let filters: serde_json::Map<String, Value> = {
        let mut m = serde_json::Map::new();
        for (name, value) in p.filter_pairs() {
            if name == "entity" {
                let list = m.entry(name).or_insert_with(|| json!([]));
                if let Value::Array(items) = list {
                    items.push(Value::String(value));
                }
            } else {
                m.insert(name.to_string(), Value::String(value));
            }
        }
        m
    };
    let counts = |rows: Vec<(String, u64)>| -> Vec<Value> {
        rows.into_iter()
            .map(|(value, articles)| json!({ "value": value, "articles": articles }))
            .collect()
    };
    Ok(Json(json!({
        "filters": filters,
        "page": p.paging.page,
        "per_page": p.paging.per_page,
        "total": f.total,
        "total_capped": f.total_capped,
        "sort": p.sort.as_str(),
        "ranked": result.ranked,
        "results": result.hits.iter().map(hit).collect::<Vec<_>>(),
        "facets": {
            "sampled": f.sampled,
            "kind": counts(f.kinds.iter().map(|(k, n)| (k.as_str().to_string(), *n)).collect()),
            "source": counts(f.sources.clone()),
            "label": counts(f.labels.clone()),
        },
    })))
}

/// `GET /api/articles/{id}`: the article as DESIGN.md shapes it.
pub async fn article(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    params::none(raw.as_deref())?;
    let a = data::article(&app, &id).await?;
    let value = serde_json::to_value(&a)
        .map_err(|e| Failure::BadRequest(format!("article {id} cannot be shown: {e}")))?;
    Ok(Json(value))
}

/// `GET /api/entities`
pub async fn entities(State(app): State<Arc<App>>, RawQuery(raw): RawQuery) -> ApiResult {
    let p = EntityListParams::parse(raw.as_deref())?;
    let (rows, more) = data::entities(&app, &p).await?;
    let mut out = paging(p.paging);
    out["more"] = json!(more);
    out["results"] = rows.iter().map(entity_count).collect();
    Ok(Json(out))
}

/// `GET /api/entities/{kind}/{name}`
pub async fn entity(
    State(app): State<Arc<App>>,
    Path((kind, name)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let paging_given = params::paging_only(raw.as_deref())?;
    let e = data::entity(&app, &kind, name, paging_given).await?;
    let d = &e.detail;
    let mut articles = paging(paging_given);
    articles["results"] = e.hits.iter().map(hit).collect();
    Ok(Json(json!({
        "kind": d.kind,
        "name": d.name,
        "mentions": d.mentions,
        "articles": d.articles,
        "aliases": d.aliases,
        "months": e.months.iter().map(|(m, n)| json!({ "month": m, "articles": n })).collect::<Vec<_>>(),
        "co_mentioned": {
            "sampled": e.company.sampled,
            "entities": e.company.entities.iter().map(entity_count).collect::<Vec<_>>(),
        },
        "article_page": articles,
    })))
}

/// `GET /api/sources`
pub async fn sources(State(app): State<Arc<App>>, RawQuery(raw): RawQuery) -> ApiResult {
    params::none(raw.as_deref())?;
    let page = data::sources(&app).await?;
    let s = &page.stats;
    Ok(Json(json!({
        "articles": s.articles,
        "entities": s.entities,
        "mentions": s.mentions,
        "per_kind": s.per_kind.iter().map(|(k, n)| json!({ "kind": k, "entities": n })).collect::<Vec<_>>(),
        "per_month": s.per_month.iter().map(|(m, n)| json!({ "month": m, "articles": n })).collect::<Vec<_>>(),
        "sources": page.sources.iter().map(|(r, h)| json!({
            "id": r.id,
            "kind": r.kind.as_str(),
            "url": r.url,
            "name": r.name,
            "articles": r.articles,
            "last_run_at": time(r.last_run_at),
            "newest_seen": time(r.last_updated_seen),
            "newest_published": time(h.newest_published),
            "failing": h.failing,
            "failing_pages": h.failing_pages.iter().map(|f| json!({
                "url": f.url,
                "last_status": f.last_status,
                "last_error": f.last_error,
                "failures": f.failures,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "runs": s.recent_runs.iter().map(|r| json!({
            "id": r.id,
            "started_at": time(Some(r.started_at)),
            "finished_at": time(r.finished_at),
            "status": r.status.as_str(),
            "discovered": r.counts.discovered,
            "fetched": r.counts.fetched,
            "not_modified": r.counts.not_modified,
            "stored": r.counts.stored,
            "updated": r.counts.updated,
            "unchanged": r.counts.unchanged,
            "skipped": r.counts.skipped,
            "failed": r.counts.failed,
        })).collect::<Vec<_>>(),
    })))
}

/// `GET /api/openapi.json`
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document is valid OpenAPI 3.0 (it deserializes into the spec's types) and
    /// describes exactly the API's routes, each with its parameters.
    #[test]
    fn openapi_document_is_valid_and_matches_the_routes() {
        let doc: openapiv3::OpenAPI = serde_json::from_str(OPENAPI).expect("valid OpenAPI 3.0");
        assert!(doc.openapi.starts_with("3.0"));
        let mut paths: Vec<&str> = doc.paths.paths.keys().map(String::as_str).collect();
        paths.sort_unstable();
        assert_eq!(
            paths,
            [
                "/api/articles/{id}",
                "/api/entities",
                "/api/entities/{kind}/{name}",
                "/api/openapi.json",
                "/api/search",
                "/api/sources",
            ]
        );
        let raw: Value = serde_json::from_str(OPENAPI).unwrap();
        let search_params: Vec<String> = raw["paths"]["/api/search"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let p = if let Some(r) = p["$ref"].as_str() {
                    let name = r.rsplit('/').next().unwrap();
                    &raw["components"]["parameters"][name]
                } else {
                    p
                };
                p["name"].as_str().unwrap().to_string()
            })
            .collect();
        let mut expected: Vec<String> =
            params::SEARCH_NAMES.iter().map(|s| s.to_string()).collect();
        let mut got = search_params.clone();
        expected.sort();
        got.sort();
        assert_eq!(got, expected, "every search parameter is documented");
        // Every $ref points at something that exists.
        fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
            match v {
                Value::Object(m) => {
                    for (k, v) in m {
                        if k == "$ref" {
                            out.extend(v.as_str());
                        } else {
                            refs(v, out);
                        }
                    }
                }
                Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&raw, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let pointer = r.trim_start_matches('#');
            assert!(raw.pointer(pointer).is_some(), "dangling $ref {r}");
        }
    }
}
