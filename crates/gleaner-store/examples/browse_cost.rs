//! What each part of a `gleaner serve` page costs, in CPU per call, on a store_bench database:
//! the calls a search page and an entity page make, with the caps and windows they could use,
//! each over the same list of terms and entities, interleaved over several rounds (the
//! machine is shared: compare rows of one run, by their medians).
//!
//! ```text
//! cargo run --release -p gleaner-store --example browse_cost -- target/serve_load.db [ROUNDS]
//! ```
//!
//! `BROWSE_COST_ONLY=TEXT` runs only the parts whose label contains TEXT.
//!
//! Terms: every 20th of the 3,000 most common words longer than two letters and every 400th
//! rarer one (200); entities: the 150 most mentioned and every 100th of the next 10,000 (as
//! `crates/gleaner-serve/bench/paths.sh` draws them).

use std::path::PathBuf;

use gleaner_model::EntityKind;
use gleaner_store::{SearchOrder, SearchQuery, Store};

type Error = Box<dyn std::error::Error>;

/// CPU seconds (user + system) of this process, from `/proc` (Linux, 10 ms ticks: summed
/// over a few hundred calls it is steady enough).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    tick(11).zip(tick(12)).map_or(0.0, |(u, s)| (u + s) / 100.0)
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let db = PathBuf::from(args.next().ok_or("usage: browse_cost DB [ROUNDS]")?);
    let rounds: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(3);
    let store = Store::open_read_only(&db)?;
    // The word list needs a temporary table: a connection of its own (the store's is
    // read-only).
    let c = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    c.execute_batch(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.vocab USING fts5vocab(main, articles_fts, 'row')",
    )?;
    let terms: Vec<String> = c
        .prepare(
            "SELECT term FROM (SELECT term, row_number() OVER (ORDER BY doc DESC, term) AS r
                                 FROM temp.vocab WHERE length(term) > 2)
              WHERE (r <= 3000 AND r % 20 = 0) OR (r > 3000 AND r % 400 = 0) LIMIT 200",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let entities: Vec<(String, String, i64)> = c
        .prepare(
            "SELECT kind, name, id FROM (
                 SELECT kind, name, id, row_number() OVER (ORDER BY article_count DESC, id) AS r
                   FROM entities)
              WHERE r <= 150 OR (r <= 10150 AND r % 100 = 0)",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let kinds = store.entity_kinds()?;
    let months = store.month_index()?;
    let query = |t: &str| SearchQuery {
        terms: Some(t.to_string()),
        limit: 20,
        ..SearchQuery::default()
    };
    println!(
        "{} terms, {} entities, {rounds} rounds; CPU ms per call",
        terms.len(),
        entities.len()
    );

    // Facts kept across the calls of one part in one round (see the one-call parts below).
    let kept_facts = std::cell::RefCell::new(gleaner_store::ArticleFacts::new());
    type Part<'a> = (&'a str, Box<dyn Fn(usize) -> Result<(), Error> + 'a>);
    let mut parts: Vec<Part<'_>> = Vec::new();
    for (label, window) in [
        ("search: ranked page, window 5000", 5_000),
        ("search: ranked page, window 1000", 1_000),
        ("search: ranked page, window 20", 20),
    ] {
        let (store, terms) = (&store, &terms);
        parts.push((
            label,
            Box::new(move |i| {
                store.search_ordered(&query(&terms[i]), SearchOrder::Relevance, window)?;
                Ok(())
            }),
        ));
    }
    for (label, count_cap, facet_cap) in [
        ("search: facets, count 10000, over 500", 10_000, 500),
        ("search: facets, count 10000, over 200", 10_000, 200),
        ("search: facets, count 10000, over 1", 10_000, 1),
        ("search: facets, count 1000, over 1", 1_000, 1),
    ] {
        let (store, terms, kinds) = (&store, &terms, &kinds);
        parts.push((
            label,
            Box::new(move |i| {
                store.search_facets_with(
                    &query(&terms[i]),
                    count_cap,
                    facet_cap,
                    kinds.as_ref(),
                )?;
                Ok(())
            }),
        ));
    }
    {
        let (store, terms, entities, kinds) = (&store, &terms, &entities, &kinds);
        parts.push((
            "search: term + entity, page and facets",
            Box::new(move |i| {
                let Some((_, name, _)) = entities.get(i % entities.len()) else {
                    return Ok(());
                };
                let q = SearchQuery {
                    entities: vec![name.clone()],
                    ..query(&terms[i])
                };
                store.search_ordered(&q, SearchOrder::Relevance, 1_000)?;
                store.search_facets_with(&q, 10_000, 200, kinds.as_ref())?;
                Ok(())
            }),
        ));
    }
    {
        let (store, terms, kinds) = (&store, &terms, &kinds);
        parts.push((
            "search: term, page and facets",
            Box::new(move |i| {
                let q = query(&terms[i]);
                store.search_ordered(&q, SearchOrder::Relevance, 1_000)?;
                store.search_facets_with(&q, 10_000, 200, kinds.as_ref())?;
                Ok(())
            }),
        ));
    }
    // The page in one call, as `gleaner serve` asks it now: with facts kept from the first
    // call of the round on (a fresh `ArticleFacts` per round: each round starts as a new
    // server), and with none kept (a new `ArticleFacts` per call).
    for (label, entity, keep) in [
        ("search: term, one call, facts kept", false, true),
        ("search: term, one call, no facts kept", false, false),
        ("search: term + entity, one call, kept", true, true),
    ] {
        let (store, terms, entities, kinds, kept_facts) =
            (&store, &terms, &entities, &kinds, &kept_facts);
        parts.push((
            label,
            Box::new(move |i| {
                if keep && i == 0 {
                    kept_facts.replace(gleaner_store::ArticleFacts::new());
                }
                let mut q = query(&terms[i]);
                if entity {
                    let Some((_, name, _)) = entities.get(i % entities.len()) else {
                        return Ok(());
                    };
                    q.entities = vec![name.clone()];
                }
                let fresh = gleaner_store::ArticleFacts::new();
                let facts = kept_facts.borrow();
                store.search_page(
                    &q,
                    SearchOrder::Relevance,
                    1_000,
                    10_000,
                    200,
                    kinds.as_ref(),
                    if keep { &facts } else { &fresh },
                )?;
                Ok(())
            }),
        ));
    }
    let entity_id = |i: usize| entities.get(i % entities.len()).map_or(0, |e| e.2);
    for sample in [500, 200] {
        let store = &store;
        parts.push((
            if sample == 500 {
                "entity: company over 500"
            } else {
                "entity: company over 200"
            },
            Box::new(move |i| {
                store.co_mentions(entity_id(i), sample, 20)?;
                Ok(())
            }),
        ));
    }
    {
        let (store, kinds, kept_facts) = (&store, &kinds, &kept_facts);
        parts.push((
            "entity: company over 200, facts kept",
            Box::new(move |i| {
                if i == 0 {
                    kept_facts.replace(gleaner_store::ArticleFacts::new());
                }
                store.co_mentions_in(
                    entity_id(i),
                    200,
                    20,
                    kinds.as_ref(),
                    &kept_facts.borrow(),
                )?;
                Ok(())
            }),
        ));
    }
    {
        let (store, months) = (&store, &months);
        parts.push((
            "entity: months",
            Box::new(move |i| {
                match months {
                    Some(index) => store.entity_months_in(entity_id(i), index)?,
                    None => store.entity_months(entity_id(i))?,
                };
                Ok(())
            }),
        ));
    }
    {
        let (store, entities) = (&store, &entities);
        parts.push((
            "entity: detail and articles",
            Box::new(move |i| {
                let Some((kind, name, _)) = entities.get(i % entities.len()) else {
                    return Ok(());
                };
                let kind: EntityKind = kind.parse().map_err(|_| "a kind")?;
                store.entity_detail(kind, name)?;
                store.search(&SearchQuery {
                    entities: vec![name.clone()],
                    kind: Some(kind),
                    limit: 20,
                    ..SearchQuery::default()
                })?;
                Ok(())
            }),
        ));
    }

    let calls = |label: &str| {
        if label.starts_with("entity") {
            entities.len()
        } else {
            terms.len()
        }
    };
    // `BROWSE_COST_ONLY=text`: only the parts whose label contains it (e.g. for `perf`).
    if let Ok(only) = std::env::var("BROWSE_COST_ONLY") {
        parts.retain(|(label, _)| label.contains(only.as_str()));
    }
    let mut per_part: Vec<Vec<f64>> = vec![Vec::new(); parts.len()];
    for _ in 0..rounds {
        for (p, (label, run)) in parts.iter().enumerate() {
            let n = calls(label);
            let before = cpu_seconds();
            for i in 0..n {
                run(i)?;
            }
            per_part[p].push((cpu_seconds() - before) * 1000.0 / n as f64);
        }
    }
    for ((label, _), mut ms) in parts.iter().zip(per_part) {
        ms.sort_by(f64::total_cmp);
        let median = ms.get(ms.len() / 2).copied().unwrap_or(0.0);
        let all: Vec<String> = ms.iter().map(|m| format!("{m:.2}")).collect();
        println!("{label:<40} median {median:>6.2}  ({})", all.join(", "));
    }
    Ok(())
}
