//! The HTML pages. Each handler reads its parameters strictly, asks [`crate::data`] once,
//! and renders with maud (every value escaped).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use gleaner_model::EntityKind;
use gleaner_store::{EntityCount, RunStatus, SearchHit, SearchOrder};
use maud::{DOCTYPE, Markup, html};

use crate::params::{self, EntityListParams, MAX_PAGE, SearchParams};
use crate::render::{body_with_mentions, entity_href, month_chart, safe_link, snippet};
use crate::{App, Failure, data};

type Page = Result<Markup, Failure>;

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, message) = self.status_and_message();
        error_page(status, &message)
    }
}

/// An error page with `status`.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let title = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::BAD_REQUEST => "Bad request",
        StatusCode::SERVICE_UNAVAILABLE => "Too slow",
        _ => "Error",
    };
    let body = layout(
        title,
        html! {
            h1 { (title) }
            p.error { (message) }
            p { a href="/" { "Back to the search" } }
        },
    );
    (status, body).into_response()
}

fn layout(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · gleaner" }
                link rel="stylesheet" href="/static/style.css";
            }
            body {
                header {
                    nav {
                        a.brand href="/" { "gleaner" }
                        a href="/" { "Search" }
                        a href="/entities" { "Entities" }
                        a href="/sources" { "Sources" }
                        a href="/api/openapi.json" { "API" }
                    }
                }
                main { (content) }
            }
        }
    }
}

fn date(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "undated".into(), |t| t.format("%Y-%m-%d").to_string())
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "—".into(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

fn hit_list(hits: &[SearchHit]) -> Markup {
    html! {
        ol.hits {
            @for hit in hits {
                li.hit {
                    a.title href={ "/articles/" (hit.id) } { (hit.title) }
                    div.meta {
                        (date(hit.published_at))
                        @if let Some(author) = &hit.author { " · " (author) }
                    }
                    @if let Some(s) = &hit.snippet { p.snippet { (snippet(s)) } }
                }
            }
        }
    }
}

fn kind_options(selected: Option<EntityKind>) -> Markup {
    html! {
        option value="" { "any kind" }
        @for k in EntityKind::ALL {
            option value=(k.as_str()) selected[selected == Some(k)] { (k.as_str()) }
        }
    }
}

/// `/`: search.
pub async fn search(State(app): State<Arc<App>>, RawQuery(raw): RawQuery) -> Page {
    let p = SearchParams::parse(raw.as_deref())?;
    let result = data::search(&app, &p).await?;
    let f = &result.facets;
    // Relevance lists the ranked (newest) matches only: no pages past them.
    let listed = result.ranked.map_or(f.total, |r| r.min(f.total));
    let pages = listed
        .div_ceil(p.paging.per_page as u64)
        .clamp(1, MAX_PAGE as u64) as usize;
    let title = match &p.q {
        Some(q) => format!("{q} — search"),
        None => "Search".into(),
    };
    Ok(layout(
        &title,
        html! {
            form.search method="get" action="/" {
                input type="search" name="q" value=[p.q.as_deref()] autofocus
                    placeholder="words, \"a phrase\", OR, NOT, prefix*, title:word" aria-label="search terms";
                button type="submit" { "Search" }
                details open[p.filter_pairs().iter().any(|(n, _)| *n != "q")] {
                    summary { "Filters" }
                    div.filters {
                        @for e in &p.entity { label { "entity " input name="entity" value=(e); } }
                        label { "entity " input name="entity" placeholder="name or alias"; }
                        label { "kind " select name="kind" { (kind_options(p.kind)) } }
                        label { "source " input name="source" value=[p.source.as_deref()] placeholder="URL or name"; }
                        label { "label " input name="label" value=[p.label.as_deref()]; }
                        label { "author " input name="author" value=[p.author.as_deref()]; }
                        label { "since " input name="since" value=[p.since.as_ref().map(|s| s.0.as_str())] placeholder="2024-01-31 or 7d"; }
                        label { "until " input name="until" value=[p.until.as_ref().map(|s| s.0.as_str())] placeholder="2024-02-01"; }
                    }
                }
            }
            @let active = p.filter_pairs();
            @if !active.is_empty() {
                p.active {
                    "Filters: "
                    @for (name, value) in &active {
                        a.chip href={ "/" (p.href_without(name, value)) } title="remove" { (name) ": " (value) " ×" }
                    }
                }
            }
            div.results {
                section {
                    p.count {
                        @if f.total_capped { "More than " (f.total) " articles" }
                        @else { (f.total) " article" @if f.total != 1 { "s" } }
                        @if f.total > 0 { " · page " (p.paging.page) " of " (pages) }
                        @if p.q.is_some() && f.total > 1 {
                            " · "
                            @if p.sort == SearchOrder::Relevance {
                                "best first · " a href={ "/" (p.href_sorted(SearchOrder::Date)) } { "newest first" }
                            } @else {
                                a href={ "/" (p.href_sorted(SearchOrder::Relevance)) } { "best first" } " · newest first"
                            }
                        }
                    }
                    @if let Some(ranked) = result.ranked.filter(|&r| f.total > r || f.total_capped) {
                        p.note.ranked { "Best first among the newest " (ranked) " matches (the most recently stored)." }
                    }
                    (hit_list(&result.hits))
                    nav.pager {
                        @if p.paging.page > 1 {
                            a rel="prev" href={ "/" (p.href_page(p.paging.page - 1)) } { "← newer / better" }
                        }
                        @if p.paging.page < pages {
                            a rel="next" href={ "/" (p.href_page(p.paging.page + 1)) } { "next page →" }
                        }
                    }
                }
                @if f.total > 0 {
                    aside.facets {
                        @if f.sampled < f.total || f.total_capped {
                            p.note { "Counts over the newest " (f.sampled) " matches." }
                        }
                        h2 { "Kind" }
                        ul { @for (k, n) in &f.kinds {
                            li { a href={ "/" (p.href_with("kind", k.as_str())) } { (k.as_str()) } " " span.n { (n) } }
                        } }
                        @if !f.sources.is_empty() {
                            h2 { "Source" }
                            ul { @for (s, n) in &f.sources {
                                li { a href={ "/" (p.href_with("source", s)) } { (s) } " " span.n { (n) } }
                            } }
                        }
                        @if !f.labels.is_empty() {
                            h2 { "Label" }
                            ul { @for (l, n) in &f.labels {
                                li { a href={ "/" (p.href_with("label", l)) } { (l) } " " span.n { (n) } }
                            } }
                        }
                    }
                }
            }
        },
    ))
}

/// `/articles/{id}`.
pub async fn article(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Page {
    params::none(raw.as_deref())?;
    let a = data::article(&app, &id).await?;
    let mut named: Vec<(EntityKind, &str, usize)> = Vec::new();
    for e in &a.entities {
        match named
            .iter_mut()
            .find(|(k, n, _)| *k == e.kind && *n == e.name)
        {
            Some(entry) => entry.2 += 1,
            None => named.push((e.kind, &e.name, 1)),
        }
    }
    named.sort_by(|x, y| y.2.cmp(&x.2).then_with(|| x.1.cmp(y.1)));
    Ok(layout(
        &a.title,
        html! {
            article.full {
                h1 { (a.title) }
                dl.meta {
                    dt { "Published" } dd { (time(a.published_at)) }
                    @if a.updated_at.is_some() { dt { "Updated" } dd { (time(a.updated_at)) } }
                    @if let Some(author) = &a.author {
                        dt { "Author" } dd { a href={ "/" (params::query_string(&[("author", author.clone())])) } { (author) } }
                    }
                    @if let Some(source) = &a.source {
                        dt { "Source" } dd { a href={ "/" (params::query_string(&[("source", source.clone())])) } { (source) } }
                    }
                    dt { "Original" }
                    dd.original {
                        @match safe_link(&a.url) {
                            Some(href) => a href=(href) rel="noopener noreferrer nofollow" { (a.url) },
                            None => span.unsafe-url title="not an http(s) address: not a link" { (a.url) },
                        }
                    }
                    @if !a.labels.is_empty() {
                        dt { "Labels" }
                        dd { @for l in &a.labels {
                            a.chip href={ "/" (params::query_string(&[("label", l.clone())])) } { (l) } " "
                        } }
                    }
                    dt { "Words" } dd { (a.word_count) @if let Some(lang) = &a.language { " · " (lang) } }
                }
                p.legend {
                    @for k in EntityKind::ALL { span class={ "ent ent-" (k.as_str()) } { (k.as_str()) } " " }
                }
                div.body { (body_with_mentions(&a.body, &a.entities)) }
                @if !named.is_empty() {
                    h2 { "Entities" }
                    ul.entities {
                        @for (kind, name, n) in &named {
                            li { a class={ "ent ent-" (kind.as_str()) } href=(entity_href(*kind, name)) { (name) } " " span.n { "×" (n) } }
                        }
                    }
                }
                p { a href={ "/api/articles/" (a.id.unwrap_or_default()) } { "JSON" } }
            }
        },
    ))
}

fn entity_table(rows: &[EntityCount], shared: bool) -> Markup {
    html! {
        table.entities {
            thead { tr {
                th { "Name" } th { "Kind" }
                th.n { @if shared { "Shared articles" } @else { "Articles" } }
                th.n { "Mentions" }
            } }
            tbody { @for e in rows {
                tr {
                    td { a class={ "ent ent-" (e.kind.as_str()) } href=(entity_href(e.kind, &e.name)) { (e.name) } }
                    td { (e.kind.as_str()) }
                    td.n { (e.articles) }
                    td.n { (e.mentions) }
                }
            } }
        }
    }
}

/// `/entities`.
pub async fn entities(State(app): State<Arc<App>>, RawQuery(raw): RawQuery) -> Page {
    let p = EntityListParams::parse(raw.as_deref())?;
    let (rows, more) = data::entities(&app, &p).await?;
    Ok(layout(
        "Entities",
        html! {
            h1 { "Most-mentioned entities" }
            form.inline method="get" action="/entities" {
                label { "kind " select name="kind" { (kind_options(p.kind)) } }
                label { " since " input name="since" value=[p.since.as_ref().map(|s| s.0.as_str())] placeholder="2024-01-31 or 30d"; }
                button type="submit" { "Show" }
            }
            @if rows.is_empty() { p { "No entities." } } @else { (entity_table(&rows, false)) }
            nav.pager {
                @if p.paging.page > 1 { a rel="prev" href={ "/entities" (p.href_page(p.paging.page - 1)) } { "← previous" } }
                @if more && p.paging.page < MAX_PAGE { a rel="next" href={ "/entities" (p.href_page(p.paging.page + 1)) } { "next →" } }
            }
        },
    ))
}

/// `/entities/{kind}/{name}`.
pub async fn entity(
    State(app): State<Arc<App>>,
    Path((kind, name)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Page {
    let paging = params::paging_only(raw.as_deref())?;
    let e = data::entity(&app, &kind, name, paging).await?;
    let d = &e.detail;
    let search = params::query_string(&[
        ("entity", d.name.clone()),
        ("kind", d.kind.as_str().to_string()),
    ]);
    let pages = d
        .articles
        .div_ceil(paging.per_page as u64)
        .clamp(1, MAX_PAGE as u64) as usize;
    let here = entity_href(d.kind, &d.name);
    let page_href =
        |n: usize| format!("{here}{}", params::query_string(&[("page", n.to_string())]));
    Ok(layout(
        &d.name,
        html! {
            h1 { span class={ "ent ent-" (d.kind.as_str()) } { (d.name) } }
            p.meta {
                (d.kind.as_str()) " · " (d.mentions) " mentions in " (d.articles) " articles · "
                a href={ "/" (search) } { "search its articles" } " · "
                a href={ "/api" (here) } { "JSON" }
            }
            h2 { "Mentions over time" }
            @if e.months.is_empty() { p { "No dated articles." } } @else { (month_chart(&e.months)) }
            div.columns {
                section {
                    h2 { "Articles" }
                    (hit_list(&e.hits))
                    nav.pager {
                        @if paging.page > 1 { a rel="prev" href=(page_href(paging.page - 1)) { "← newer" } }
                        @if paging.page < pages { a rel="next" href=(page_href(paging.page + 1)) { "older →" } }
                    }
                }
                aside {
                    h2 { "Also written as" }
                    @if d.aliases.is_empty() { p { "—" } }
                    ul.aliases { @for alias in &d.aliases { li { (alias) } } }
                    h2 { "Mentioned with" }
                    p.note { "In its latest " (e.company.sampled) " articles." }
                    (entity_table(&e.company.entities, true))
                }
            }
        },
    ))
}

fn run_status(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Running => "running (or killed)",
        RunStatus::Ok => "ok",
        RunStatus::Partial => "partial",
        RunStatus::Interrupted => "interrupted",
        RunStatus::Failed => "failed",
    }
}

/// `/sources`.
pub async fn sources(State(app): State<Arc<App>>, RawQuery(raw): RawQuery) -> Page {
    params::none(raw.as_deref())?;
    let page = data::sources(&app).await?;
    let s = &page.stats;
    Ok(layout(
        "Sources",
        html! {
            h1 { "Sources and runs" }
            p.meta {
                (s.articles) " articles · " (s.entities) " entities · " (s.mentions) " mentions"
            }
            @if !s.per_kind.is_empty() {
                p { @for (k, n) in &s.per_kind {
                    a class={ "chip ent ent-" (k.as_str()) } href={ "/entities?kind=" (k.as_str()) } { (k.as_str()) " " (n) } " "
                } }
            }
            h2 { "Sources" }
            @if page.sources.is_empty() { p { "No source recorded yet (`gleaner run` records the configured ones)." } }
            @else {
                table.sources {
                    thead { tr {
                        th { "Source" } th { "Kind" } th.n { "Articles" } th { "Last run" }
                        th { "Newest post" } th { "Newest seen in its feed" } th.n { "Failing pages" }
                    } }
                    tbody { @for (r, h) in &page.sources {
                        tr class=(if h.failing > 0 { "failing" } else { "healthy" }) {
                            td {
                                a href={ "/" (params::query_string(&[("source", r.url.clone())])) } { (r.name.as_deref().unwrap_or(&r.url)) }
                                @if r.name.is_some() { br; small { (r.url) } }
                            }
                            td { (r.kind.as_str()) }
                            td.n { (r.articles) }
                            td { (time(r.last_run_at)) }
                            td { (time(h.newest_published)) }
                            td { (time(r.last_updated_seen)) }
                            td.n { (h.failing) }
                        }
                        @if !h.failing_pages.is_empty() {
                            tr.failing-pages { td colspan="7" {
                                ul { @for f in &h.failing_pages {
                                    li {
                                        code { (f.url) } " — "
                                        @if let Some(st) = f.last_status { "HTTP " (st) " " }
                                        @if let Some(err) = &f.last_error { (err) " " }
                                        "(" (f.failures) " failure" @if f.failures != 1 { "s" } " in a row)"
                                    }
                                } }
                            } }
                        }
                    } }
                }
            }
            h2 { "Recent runs" }
            @if s.recent_runs.is_empty() { p { "None yet (`gleaner run` records them)." } }
            @else {
                table.runs {
                    thead { tr {
                        th { "#" } th { "Started" } th { "Finished" } th { "Status" }
                        th.n { "Discovered" } th.n { "Fetched" } th.n { "304" } th.n { "Stored" }
                        th.n { "Updated" } th.n { "Unchanged" } th.n { "Skipped" } th.n { "Failed" }
                    } }
                    tbody { @for r in &s.recent_runs {
                        @let c = &r.counts;
                        tr class={ "run-" (r.status.as_str()) } {
                            td { (r.id) } td { (time(Some(r.started_at))) } td { (time(r.finished_at)) }
                            td { (run_status(r.status)) }
                            td.n { (c.discovered) } td.n { (c.fetched) } td.n { (c.not_modified) } td.n { (c.stored) }
                            td.n { (c.updated) } td.n { (c.unchanged) } td.n { (c.skipped) } td.n { (c.failed) }
                        }
                    } }
                }
            }
            @if !s.per_month.is_empty() {
                h2 { "Articles by month published" }
                (month_chart(&s.per_month.iter().rev().cloned().collect::<Vec<_>>()))
            }
        },
    ))
}
