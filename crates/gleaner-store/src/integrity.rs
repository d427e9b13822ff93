//! `gleaner integrity`: check that a database holds what the store's guarantees promise, on
//! either backend.
//!
//! Each [`Check`] is one query (the same SQL on both backends where the dialects agree) that
//! lists what breaks one rule, at most [`MAX_LISTED`] rows of it. A database written only by
//! gleaner passes every check; a hand edit with foreign keys off, a half-restored backup or
//! a bug in the store does not. Every check reads each table at most once through an index
//! or a hash join, so the whole costs time linear in the database.
//!
//! The rules:
//!
//! - `one_row_per_article`: no two rows share a URL, nor a Blogger post id within one source.
//! - `mention_offsets`: each mention's `start`/`end` slice its article's body into its `text`.
//! - `entity_counters`: `entities.mention_count` / `article_count` agree with `mentions`.
//! - `orphans`: no mention, label or alias of a missing article or entity, no article of a
//!   missing source.
//! - `full_text`: SQLite: every article has its full-text row and no full-text row lacks its
//!   article, and FTS5's own integrity check against the articles passes; PostgreSQL: the
//!   GIN index over the generated `tsvector` column is there.
//! - `leases` (PostgreSQL): no open lease runs more than an hour ahead (a worker's lease is a
//!   minute; one that long would hold its unit from every other worker), none is held by
//!   nobody, a page marked done has its outcome recorded in `fetch_state`, and no host's next
//!   request slot is more than an hour ahead.
//! - `sqlite_file` (SQLite): `PRAGMA quick_check` finds the file sound.

use crate::pg::PgStore;
use crate::{AnyStore, Context, Result, Store};

/// Problems listed per check at most (the check says when there were more).
pub const MAX_LISTED: usize = 20;

/// One rule and what breaks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Short name (`mention_offsets`).
    pub name: &'static str,
    /// What the rule is, in a few words.
    pub rule: &'static str,
    /// What breaks it, one line each (at most [`MAX_LISTED`]).
    pub problems: Vec<String>,
    /// More problems than listed were found.
    pub more: bool,
}

/// Every check, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrityReport {
    /// The checks run.
    pub checks: Vec<Check>,
}

impl IntegrityReport {
    /// Whether no check found anything.
    pub fn is_clean(&self) -> bool {
        self.checks.iter().all(|c| c.problems.is_empty())
    }

    /// Problems listed, all checks together.
    pub fn problem_count(&self) -> usize {
        self.checks.iter().map(|c| c.problems.len()).sum()
    }
}

/// A rule as SQL: each row is one problem, as one text column.
struct Rule {
    name: &'static str,
    rule: &'static str,
    /// `None`: the rule does not apply to this backend.
    sqlite: Option<&'static str>,
    postgres: Option<&'static str>,
}

/// The same query on both backends.
const fn both(name: &'static str, rule: &'static str, sql: &'static str) -> Rule {
    Rule {
        name,
        rule,
        sqlite: Some(sql),
        postgres: Some(sql),
    }
}

const RULES: &[Rule] = &[
    both(
        "one_row_per_article",
        "one row per article URL, and per Blogger post of a source",
        "SELECT 'URL ' || url || ' has ' || count(*) || ' rows'
           FROM articles GROUP BY url HAVING count(*) > 1
         UNION ALL
         SELECT 'Blogger post ' || blogger_post_id || ' of source '
                || coalesce(CAST(source_id AS TEXT), '(none)') || ' has ' || count(*)
                || ' rows (ids ' || min(id) || ' and ' || max(id) || ')'
           FROM articles WHERE blogger_post_id IS NOT NULL
          GROUP BY source_id, blogger_post_id HAVING count(*) > 1",
    ),
    both(
        "mention_offsets",
        "each mention's offsets slice its article's body into its text",
        "SELECT 'mention ' || m.start || '..' || m.\"end\" || ' of article ' || m.article_id
                || ' says ' || m.text || ' but the body holds '
                || CASE WHEN m.\"end\" > length(a.body) THEN ''
                        ELSE substr(a.body, CAST(m.start AS INTEGER) + 1,
                                    CAST(m.\"end\" - m.start AS INTEGER)) END
                || CASE WHEN m.\"end\" > length(a.body)
                        THEN ' (past the end of a body of ' || length(a.body) || ' characters)'
                        ELSE '' END
           FROM mentions m JOIN articles a ON a.id = m.article_id
          WHERE m.\"end\" > length(a.body)
             OR substr(a.body, CAST(m.start AS INTEGER) + 1,
                       CAST(m.\"end\" - m.start AS INTEGER)) <> m.text",
    ),
    both(
        "entity_counters",
        "entity counters agree with the mention rows",
        "SELECT 'entity ' || e.id || ' (' || e.kind || ' ' || e.name || ') counts '
                || e.mention_count || ' mentions in ' || e.article_count
                || ' articles; the rows say ' || coalesce(c.m, 0) || ' in ' || coalesce(c.a, 0)
           FROM entities e
           LEFT JOIN (SELECT entity_id, count(*) AS m, count(DISTINCT article_id) AS a
                        FROM mentions GROUP BY entity_id) c ON c.entity_id = e.id
          WHERE e.mention_count <> coalesce(c.m, 0) OR e.article_count <> coalesce(c.a, 0)",
    ),
    both(
        "orphans",
        "no row points at a missing article, entity or source",
        "SELECT 'mention of missing article ' || m.article_id FROM mentions m
          WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = m.article_id)
         UNION ALL
         SELECT 'mention of missing entity ' || m.entity_id FROM mentions m
          WHERE NOT EXISTS (SELECT 1 FROM entities e WHERE e.id = m.entity_id)
         UNION ALL
         SELECT 'label ' || l.label || ' of missing article ' || l.article_id
           FROM article_labels l
          WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = l.article_id)
         UNION ALL
         SELECT 'alias ' || x.alias || ' of missing entity ' || x.entity_id
           FROM entity_aliases x
          WHERE NOT EXISTS (SELECT 1 FROM entities e WHERE e.id = x.entity_id)
         UNION ALL
         SELECT 'article ' || a.id || ' of missing source ' || a.source_id FROM articles a
          WHERE a.source_id IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM sources s WHERE s.id = a.source_id)",
    ),
    Rule {
        name: "full_text",
        rule: "the full-text index holds every article and nothing else",
        sqlite: Some(
            "SELECT 'article ' || a.id || ' is not in the full-text index' FROM articles a
              WHERE NOT EXISTS (SELECT 1 FROM articles_fts_docsize d WHERE d.id = a.id)
             UNION ALL
             SELECT 'full-text row ' || d.id || ' has no article' FROM articles_fts_docsize d
              WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = d.id)",
        ),
        postgres: Some(
            "SELECT 'the GIN index articles_fts over articles.fts is missing'
              WHERE NOT EXISTS (SELECT 1 FROM pg_indexes
                                 WHERE schemaname = current_schema()
                                   AND tablename = 'articles' AND indexname = 'articles_fts')",
        ),
    },
    Rule {
        name: "leases",
        rule: "worker leases and request slots are sane",
        sqlite: None,
        postgres: Some(
            "SELECT 'lease ' || key || ' runs until ' || expires_at || ', over an hour ahead'
               FROM leases WHERE NOT done AND expires_at > clock_timestamp() + interval '1 hour'
             UNION ALL
             SELECT 'lease ' || key || ' is held by nobody until ' || expires_at
               FROM leases WHERE NOT done AND holder IS NULL AND expires_at > clock_timestamp()
             UNION ALL
             SELECT 'page ' || substr(l.key, 6) || ' is marked done with no fetch state'
               FROM leases l
              WHERE l.done AND starts_with(l.key, 'page:')
                AND NOT EXISTS (SELECT 1 FROM fetch_state f WHERE f.url = substr(l.key, 6))
             UNION ALL
             SELECT 'host ' || host || ' has its next request slot at ' || next_slot
                    || ', over an hour ahead'
               FROM host_slots WHERE next_slot > clock_timestamp() + interval '1 hour'",
        ),
    },
];

impl AnyStore {
    /// Run every check that applies to this backend.
    pub fn integrity(&mut self) -> Result<IntegrityReport> {
        match self {
            AnyStore::Sqlite(s) => s.integrity(),
            AnyStore::Postgres(s) => s.integrity(),
        }
    }
}

impl Store {
    /// Run every check that applies to SQLite (see the module's list).
    pub fn integrity(&self) -> Result<IntegrityReport> {
        let conn = self.connection();
        let mut report = IntegrityReport::default();
        for rule in RULES {
            let Some(sql) = rule.sqlite else { continue };
            let context = format!("checking {}", rule.name);
            let mut st = conn.prepare(&limited(sql)).context(&context)?;
            let rows = st
                .query_map([], |r| r.get::<_, String>(0))
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .context(&context)?;
            let mut check = check_of(rule, rows);
            if rule.name == "full_text"
                && let Err(e) = conn.execute(
                    "INSERT INTO articles_fts (articles_fts, rank) VALUES ('integrity-check', 1)",
                    [],
                )
            {
                check
                    .problems
                    .push(format!("FTS5's check against the articles fails: {e}"));
            }
            report.checks.push(check);
        }
        let mut st = conn
            .prepare("PRAGMA quick_check")
            .context("checking the file")?;
        let found = st
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .context("checking the file")?;
        let problems = found.into_iter().filter(|l| l != "ok").collect();
        report.checks.push(check_of(
            &Rule {
                name: "sqlite_file",
                rule: "SQLite's quick_check finds the file sound",
                sqlite: None,
                postgres: None,
            },
            problems,
        ));
        Ok(report)
    }
}

impl PgStore {
    /// Run every check that applies to PostgreSQL (see the module's list).
    pub fn integrity(&mut self) -> Result<IntegrityReport> {
        let mut report = IntegrityReport::default();
        for rule in RULES {
            let Some(sql) = rule.postgres else { continue };
            let context = format!("checking {}", rule.name);
            let sql = limited(sql);
            let rows = self.block(async |c| {
                let rows = c.query(&sql, &[]).await.context(&context)?;
                rows.iter()
                    .map(|r| r.try_get::<_, String>(0).context(&context))
                    .collect::<Result<Vec<_>>>()
            })?;
            report.checks.push(check_of(rule, rows));
        }
        Ok(report)
    }
}

/// `sql` cut to one row more than is listed (to tell that there were more).
fn limited(sql: &str) -> String {
    format!("SELECT * FROM ({sql}) problems LIMIT {}", MAX_LISTED + 1)
}

fn check_of(rule: &Rule, mut problems: Vec<String>) -> Check {
    let more = problems.len() > MAX_LISTED;
    problems.truncate(MAX_LISTED);
    Check {
        name: rule.name,
        rule: rule.rule,
        problems,
        more,
    }
}
