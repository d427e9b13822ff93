//! Query-string parameters: read strictly (an unknown name, a bad kind, date or page is a
//! 400 with a message), and written back into links that keep every filter.

use chrono::{DateTime, NaiveDate, Utc};
use gleaner_model::EntityKind;
use gleaner_store::{SearchOrder, SearchQuery};
use url::form_urlencoded;

/// A parameter the user got wrong: shown to them as a 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadParam(pub String);

/// Results per page unless `per_page` says otherwise.
pub const DEFAULT_PER_PAGE: usize = 20;
/// The most results one page may ask for.
pub const MAX_PER_PAGE: usize = 100;
/// The deepest page (deep pages cost as much as all the pages before them).
pub const MAX_PAGE: usize = 500;
/// The longest value accepted for any parameter, in bytes.
const MAX_VALUE_LEN: usize = 1_000;

/// `page` and `per_page`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// 1-based page number.
    pub page: usize,
    /// Results per page.
    pub per_page: usize,
}

impl Default for Paging {
    fn default() -> Self {
        Paging {
            page: 1,
            per_page: DEFAULT_PER_PAGE,
        }
    }
}

impl Paging {
    /// Rows to skip.
    pub fn offset(&self) -> usize {
        (self.page - 1) * self.per_page
    }
}

/// The filters of a search (the same as `gleaner query`'s), as given and as parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchParams {
    /// Full-text terms (FTS5 syntax).
    pub q: Option<String>,
    /// Entity names, all required.
    pub entity: Vec<String>,
    /// Entity kind.
    pub kind: Option<EntityKind>,
    /// Source URL or name.
    pub source: Option<String>,
    /// Label.
    pub label: Option<String>,
    /// Author.
    pub author: Option<String>,
    /// `since` as given, and as a time.
    pub since: Option<(String, DateTime<Utc>)>,
    /// `until` as given, and as a time.
    pub until: Option<(String, DateTime<Utc>)>,
    /// The order of hits with terms (`sort`: relevance, the default, or date).
    pub sort: SearchOrder,
    /// Which page.
    pub paging: Paging,
}

/// Split a query string into (name, value) pairs, values trimmed; empty values dropped (an
/// HTML form sends every field, filled or not). Names outside `allowed` are refused.
pub fn pairs(raw: Option<&str>, allowed: &[&str]) -> Result<Vec<(String, String)>, BadParam> {
    let mut out = Vec::new();
    for (name, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if !allowed.contains(&name.as_ref()) {
            return Err(BadParam(format!(
                "unknown parameter {name:?}; this page takes: {}",
                allowed.join(", ")
            )));
        }
        if value.len() > MAX_VALUE_LEN {
            return Err(BadParam(format!(
                "parameter {name:?} is longer than {MAX_VALUE_LEN} bytes"
            )));
        }
        let value = value.trim();
        if !value.is_empty() {
            out.push((name.into_owned(), value.to_string()));
        }
    }
    Ok(out)
}

/// The names a search takes.
pub const SEARCH_NAMES: [&str; 11] = [
    "q", "entity", "kind", "source", "label", "author", "since", "until", "sort", "page",
    "per_page",
];

impl SearchParams {
    /// Read a search's query string.
    pub fn parse(raw: Option<&str>) -> Result<Self, BadParam> {
        let mut p = SearchParams::default();
        let mut paging = PagingBuilder::default();
        for (name, value) in pairs(raw, &SEARCH_NAMES)? {
            match name.as_str() {
                "q" => p.q = Some(value),
                "entity" => p.entity.push(value),
                "kind" => p.kind = Some(parse_kind(&value)?),
                "source" => p.source = Some(value),
                "label" => p.label = Some(value),
                "author" => p.author = Some(value),
                "since" => p.since = Some((value.clone(), parse_time("since", &value)?)),
                "until" => p.until = Some((value.clone(), parse_time("until", &value)?)),
                "sort" => {
                    p.sort = match value.as_str() {
                        "relevance" => SearchOrder::Relevance,
                        "date" => SearchOrder::Date,
                        _ => {
                            return Err(BadParam(format!(
                                "sort is relevance or date, not {value:?}"
                            )));
                        }
                    }
                }
                other => paging.set(other, &value)?,
            }
        }
        p.paging = paging.build();
        Ok(p)
    }

    /// The store's query for one page.
    pub fn to_query(&self) -> SearchQuery {
        SearchQuery {
            terms: self.q.clone(),
            entities: self.entity.clone(),
            kind: self.kind,
            source: self.source.clone(),
            label: self.label.clone(),
            author: self.author.clone(),
            since: self.since.as_ref().map(|s| s.1),
            until: self.until.as_ref().map(|s| s.1),
            limit: self.paging.per_page,
            offset: self.paging.offset(),
        }
    }

    /// The filters as (name, value) pairs, in a fixed order, without paging.
    pub fn filter_pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(q) = &self.q {
            out.push(("q", q.clone()));
        }
        for e in &self.entity {
            out.push(("entity", e.clone()));
        }
        if let Some(k) = self.kind {
            out.push(("kind", k.as_str().to_string()));
        }
        for (name, value) in [
            ("source", &self.source),
            ("label", &self.label),
            ("author", &self.author),
        ] {
            if let Some(v) = value {
                out.push((name, v.clone()));
            }
        }
        for (name, value) in [("since", &self.since), ("until", &self.until)] {
            if let Some((given, _)) = value {
                out.push((name, given.clone()));
            }
        }
        out
    }

    /// `sort` when not the default, for links that keep it.
    fn sort_pair(&self) -> Option<(&'static str, String)> {
        (self.sort != SearchOrder::default()).then(|| ("sort", self.sort.as_str().to_string()))
    }

    /// `?…` for this search in `order` (first page).
    pub fn href_sorted(&self, order: SearchOrder) -> String {
        let mut pairs = self.filter_pairs();
        if order != SearchOrder::default() {
            pairs.push(("sort", order.as_str().to_string()));
        }
        if self.paging.per_page != DEFAULT_PER_PAGE {
            pairs.push(("per_page", self.paging.per_page.to_string()));
        }
        query_string(&pairs)
    }

    /// `?…` for this search with `page`; `sort` and `per_page` kept when not the default.
    pub fn href_page(&self, page: usize) -> String {
        let mut pairs = self.filter_pairs();
        pairs.extend(self.sort_pair());
        if page > 1 {
            pairs.push(("page", page.to_string()));
        }
        if self.paging.per_page != DEFAULT_PER_PAGE {
            pairs.push(("per_page", self.paging.per_page.to_string()));
        }
        query_string(&pairs)
    }

    /// `?…` for this search narrowed by one more filter (first page).
    pub fn href_with(&self, name: &'static str, value: &str) -> String {
        let mut pairs: Vec<(&'static str, String)> = self
            .filter_pairs()
            .into_iter()
            .filter(|(n, _)| *n != name || name == "entity")
            .collect();
        pairs.push((name, value.to_string()));
        pairs.extend(self.sort_pair());
        query_string(&pairs)
    }

    /// `?…` for this search without the filter `name` (and `value`, for entities).
    pub fn href_without(&self, name: &str, value: &str) -> String {
        let mut pairs: Vec<(&'static str, String)> = self
            .filter_pairs()
            .into_iter()
            .filter(|(n, v)| !(*n == name && (name != "entity" || v == value)))
            .collect();
        pairs.extend(self.sort_pair());
        query_string(&pairs)
    }
}

/// `page` / `per_page`, checked.
#[derive(Default)]
pub struct PagingBuilder(Paging);

impl PagingBuilder {
    /// Read `page` or `per_page`; any other name is a bug of the caller's allow-list.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), BadParam> {
        let n: usize = value.parse().map_err(|_| {
            BadParam(format!(
                "{name} must be a positive whole number, not {value:?}"
            ))
        })?;
        match name {
            "page" if (1..=MAX_PAGE).contains(&n) => self.0.page = n,
            "page" => return Err(BadParam(format!("page must be between 1 and {MAX_PAGE}"))),
            "per_page" if (1..=MAX_PER_PAGE).contains(&n) => self.0.per_page = n,
            "per_page" => {
                return Err(BadParam(format!(
                    "per_page must be between 1 and {MAX_PER_PAGE}"
                )));
            }
            other => return Err(BadParam(format!("unknown parameter {other:?}"))),
        }
        Ok(())
    }

    /// The paging read.
    pub fn build(self) -> Paging {
        self.0
    }
}

/// Parameters of the entity list: kind, since, paging.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntityListParams {
    /// Only this kind.
    pub kind: Option<EntityKind>,
    /// Only mentions in articles published since.
    pub since: Option<(String, DateTime<Utc>)>,
    /// Which page.
    pub paging: Paging,
}

impl EntityListParams {
    /// Read the entity list's query string.
    pub fn parse(raw: Option<&str>) -> Result<Self, BadParam> {
        let mut p = EntityListParams::default();
        let mut paging = PagingBuilder::default();
        for (name, value) in pairs(raw, &["kind", "since", "page", "per_page"])? {
            match name.as_str() {
                "kind" => p.kind = Some(parse_kind(&value)?),
                "since" => p.since = Some((value.clone(), parse_time("since", &value)?)),
                other => paging.set(other, &value)?,
            }
        }
        p.paging = paging.build();
        Ok(p)
    }

    /// `?…` for this list at `page`.
    pub fn href_page(&self, page: usize) -> String {
        let mut pairs: Vec<(&'static str, String)> = Vec::new();
        if let Some(k) = self.kind {
            pairs.push(("kind", k.as_str().to_string()));
        }
        if let Some((given, _)) = &self.since {
            pairs.push(("since", given.clone()));
        }
        if page > 1 {
            pairs.push(("page", page.to_string()));
        }
        if self.paging.per_page != DEFAULT_PER_PAGE {
            pairs.push(("per_page", self.paging.per_page.to_string()));
        }
        query_string(&pairs)
    }
}

/// Only `page` and `per_page` (an entity's articles).
pub fn paging_only(raw: Option<&str>) -> Result<Paging, BadParam> {
    let mut paging = PagingBuilder::default();
    for (name, value) in pairs(raw, &["page", "per_page"])? {
        paging.set(&name, &value)?;
    }
    Ok(paging.build())
}

/// No parameters at all.
pub fn none(raw: Option<&str>) -> Result<(), BadParam> {
    pairs(raw, &[]).map(|_| ())
}

/// An entity kind by name.
pub fn parse_kind(value: &str) -> Result<EntityKind, BadParam> {
    value.parse().map_err(|_| {
        let kinds: Vec<&str> = EntityKind::ALL.iter().map(|k| k.as_str()).collect();
        BadParam(format!(
            "unknown kind {value:?}; kinds are {}",
            kinds.join(", ")
        ))
    })
}

/// `2022-01-31`, an RFC 3339 time, or a span back from now (`7d`, `12h`), as in
/// `gleaner query --since`.
pub fn parse_time(name: &str, value: &str) -> Result<DateTime<Utc>, BadParam> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    if let Ok(span) = humantime::parse_duration(value)
        && let Ok(span) = chrono::Duration::from_std(span)
        && let Some(t) = Utc::now().checked_sub_signed(span)
    {
        return Ok(t);
    }
    Err(BadParam(format!(
        "cannot read {name}={value:?} as a time: use YYYY-MM-DD, an RFC 3339 time, or a span like 7d or 12h"
    )))
}

/// `?a=1&b=2` (or empty), percent-encoded.
pub fn query_string(pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let mut s = form_urlencoded::Serializer::for_suffix(String::from("?"), 1);
    for (name, value) in pairs {
        s.append_pair(name, value);
    }
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_filter_is_read_and_written_back() {
        let p = SearchParams::parse(Some(
            "q=nuclear+talks&entity=Putin&entity=Biden&kind=person&source=https%3A%2F%2Fa.example%2F&label=World&author=Ann&since=2024-01-01&until=2024-02-01T00%3A00%3A00Z&page=2&per_page=10",
        ))
        .unwrap();
        assert_eq!(p.q.as_deref(), Some("nuclear talks"));
        assert_eq!(p.entity, ["Putin", "Biden"]);
        assert_eq!(p.kind, Some(EntityKind::Person));
        assert_eq!(
            p.paging,
            Paging {
                page: 2,
                per_page: 10
            }
        );
        let q = p.to_query();
        assert_eq!((q.limit, q.offset), (10, 10));
        assert_eq!(q.source.as_deref(), Some("https://a.example/"));
        let again = SearchParams::parse(Some(&p.href_page(2)[1..])).unwrap();
        assert_eq!(again, p);
        assert!(!p.href_with("label", "x").contains("World"));
        assert_eq!(p.href_with("entity", "X").matches("entity=").count(), 3);
        assert!(!p.href_without("entity", "Putin").contains("Putin"));
        assert!(p.href_without("entity", "Putin").contains("Biden"));
        assert_eq!(p.sort, SearchOrder::Relevance);
        assert!(
            !p.href_page(2).contains("sort"),
            "the default is not written"
        );
        let dated = SearchParams::parse(Some("q=talks&sort=date")).unwrap();
        assert_eq!(dated.sort, SearchOrder::Date);
        for href in [
            dated.href_page(2),
            dated.href_with("label", "x"),
            dated.href_without("q", "talks"),
        ] {
            assert!(href.contains("sort=date"), "{href} keeps the order");
        }
        assert!(!dated.href_sorted(SearchOrder::Relevance).contains("sort"));
    }

    #[test]
    fn blank_fields_are_absent_and_bad_ones_are_refused() {
        let p = SearchParams::parse(Some("q=&kind=&since=+&page=")).unwrap();
        assert!(p.filter_pairs().is_empty());
        for bad in [
            "kind=wizard",
            "since=yesterday-ish",
            "page=0",
            "page=-1",
            "page=501",
            "per_page=1000",
            "colour=red",
            "sort=best",
        ] {
            let err = SearchParams::parse(Some(bad)).unwrap_err();
            assert!(!err.0.is_empty(), "{bad}");
        }
        assert!(SearchParams::parse(Some(&format!("q={}", "a".repeat(2000)))).is_err());
        assert!(none(Some("x=1")).is_err());
        assert!(none(None).is_ok());
    }
}
