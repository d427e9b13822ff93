//! `gleaner copy`: a SQLite database moved into PostgreSQL, ids and all.
//!
//! Every table is copied row for row, ids included, in one PostgreSQL transaction (all or
//! nothing), in chunks of [`CHUNK`] rows (`INSERT … SELECT FROM unnest(arrays)`). Rows are
//! upserted on their key, so copying again is safe: what changed in the file since is
//! brought over, nothing is doubled. An article's labels and mentions are replaced as a
//! whole (so a mention dropped from the file goes in PostgreSQL too); rows that exist only
//! in PostgreSQL (written there by workers) are left alone. The identity sequences are set
//! past the largest id afterwards, so new rows never collide with copied ones.

use rusqlite::types::Value;

use crate::pg::PgStore;
use crate::{Context, Result, Store};

/// Rows per `INSERT`.
const CHUNK: usize = 1000;

#[derive(Clone, Copy, PartialEq)]
enum Ty {
    Int,
    Text,
}

/// One table: its columns (name, type) and key columns.
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Ty)],
    key: &'static [&'static str],
    /// Has an identity `id` column whose sequence must be moved past the copied ids.
    identity: bool,
}

use Ty::{Int, Text};

/// In an order that satisfies the foreign keys.
const TABLES: &[Table] = &[
    Table {
        name: "sources",
        columns: &[
            ("id", Int),
            ("kind", Text),
            ("url", Text),
            ("name", Text),
            ("last_updated_seen", Text),
            ("last_run_at", Text),
            ("created_at", Text),
            ("sweep_cursor", Text),
            ("sweep_started_at", Text),
            ("sweep_newest", Text),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "articles",
        columns: &[
            ("id", Int),
            ("url", Text),
            ("canonical_url", Text),
            ("source_id", Int),
            ("blogger_post_id", Text),
            ("title", Text),
            ("author", Text),
            ("published_at", Text),
            ("updated_at", Text),
            ("fetched_at", Text),
            ("language", Text),
            ("body", Text),
            ("word_count", Int),
            ("comments_count", Int),
            ("content_hash", Text),
            ("stored_at", Text),
            ("changed_at", Text),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "article_labels",
        columns: &[("article_id", Int), ("label", Text), ("position", Int)],
        key: &["article_id", "label"],
        identity: false,
    },
    Table {
        name: "entities",
        columns: &[
            ("id", Int),
            ("kind", Text),
            ("name", Text),
            ("mention_count", Int),
            ("article_count", Int),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "entity_aliases",
        columns: &[("entity_id", Int), ("alias", Text)],
        key: &["entity_id", "alias"],
        identity: false,
    },
    Table {
        name: "mentions",
        columns: &[
            ("article_id", Int),
            ("entity_id", Int),
            ("start", Int),
            ("end", Int),
            ("text", Text),
        ],
        key: &["article_id", "start", "end", "entity_id"],
        identity: false,
    },
    Table {
        name: "runs",
        columns: &[
            ("id", Int),
            ("started_at", Text),
            ("finished_at", Text),
            ("status", Text),
            ("discovered", Int),
            ("fetched", Int),
            ("not_modified", Int),
            ("stored", Int),
            ("updated", Int),
            ("unchanged", Int),
            ("skipped", Int),
            ("failed", Int),
        ],
        key: &["id"],
        identity: true,
    },
    Table {
        name: "fetch_state",
        columns: &[
            ("url", Text),
            ("etag", Text),
            ("last_modified", Text),
            ("last_status", Int),
            ("failures", Int),
            ("last_error", Text),
            ("next_retry_at", Text),
            ("fetched_at", Text),
        ],
        key: &["url"],
        identity: false,
    },
    Table {
        name: "listing_next",
        columns: &[("url", Text), ("next_url", Text)],
        key: &["url"],
        identity: false,
    },
];

/// Rows copied per table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// (table, rows), in copy order.
    pub tables: Vec<(String, u64)>,
}

/// One column's values of a chunk.
enum Col {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<String>>),
}

fn quoted(c: &str) -> String {
    format!("\"{c}\"")
}

/// Copy everything in `from` into `to` (see the module doc).
pub fn copy_sqlite_to_postgres(from: &Store, to: &mut PgStore) -> Result<CopyReport> {
    let conn = from.connection();
    let mut report = CopyReport::default();
    let client = to.client_mut();
    futures_executor::block_on(async {
        let tx = client
            .transaction()
            .await
            .context("starting the copy transaction")?;
        // The labels and mentions of the copied articles are replaced whole: drop the old
        // ones first (the mention trigger takes the counters down; the entities' own rows,
        // copied next, set them to the file's values).
        let mut ids = conn
            .prepare("SELECT id FROM articles ORDER BY id")
            .context("listing the file's articles")?;
        let article_ids: Vec<i64> = ids
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .context("listing the file's articles")?;
        for chunk in article_ids.chunks(CHUNK * 10) {
            let chunk = chunk.to_vec();
            for table in ["article_labels", "mentions"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE article_id = ANY($1)"),
                    &[&chunk],
                )
                .await
                .with_context(|| format!("clearing {table} of the copied articles"))?;
            }
        }
        for table in TABLES {
            let names: Vec<String> = table.columns.iter().map(|(c, _)| quoted(c)).collect();
            let mut st = conn
                .prepare(&format!(
                    "SELECT {} FROM {} ORDER BY {}",
                    names.join(", "),
                    table.name,
                    table
                        .key
                        .iter()
                        .map(|k| quoted(k))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .with_context(|| format!("reading {}", table.name))?;
            let mut rows = st
                .query([])
                .with_context(|| format!("reading {}", table.name))?;
            let insert = insert_sql(table);
            let mut copied = 0u64;
            loop {
                let mut cols: Vec<Col> = table
                    .columns
                    .iter()
                    .map(|(_, ty)| match ty {
                        Int => Col::Int(Vec::with_capacity(CHUNK)),
                        Text => Col::Text(Vec::with_capacity(CHUNK)),
                    })
                    .collect();
                let mut n = 0;
                while n < CHUNK {
                    let Some(row) = rows
                        .next()
                        .with_context(|| format!("reading {}", table.name))?
                    else {
                        break;
                    };
                    for (i, col) in cols.iter_mut().enumerate() {
                        let v: Value = row
                            .get(i)
                            .with_context(|| format!("reading {}", table.name))?;
                        match (col, v) {
                            (Col::Int(c), Value::Integer(x)) => c.push(Some(x)),
                            (Col::Int(c), _) => c.push(None),
                            (Col::Text(c), Value::Text(s)) => c.push(Some(s)),
                            (Col::Text(c), Value::Integer(x)) => c.push(Some(x.to_string())),
                            (Col::Text(c), _) => c.push(None),
                        }
                    }
                    n += 1;
                }
                if n == 0 {
                    break;
                }
                let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = cols
                    .iter()
                    .map(|c| match c {
                        Col::Int(v) => v as &(dyn tokio_postgres::types::ToSql + Sync),
                        Col::Text(v) => v as &(dyn tokio_postgres::types::ToSql + Sync),
                    })
                    .collect();
                tx.execute(&insert, &params)
                    .await
                    .with_context(|| format!("copying {}", table.name))?;
                copied += n as u64;
                if n < CHUNK {
                    break;
                }
            }
            if table.identity {
                tx.execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{0}', 'id'),
                                       (SELECT coalesce(max(id), 0) + 1 FROM {0}), false)",
                        table.name
                    ),
                    &[],
                )
                .await
                .with_context(|| format!("moving the id sequence of {}", table.name))?;
            }
            report.tables.push((table.name.to_string(), copied));
        }
        tx.commit().await.context("committing the copy")?;
        Ok(report)
    })
}

/// `INSERT INTO t (cols) SELECT * FROM unnest($1::type[], …) ON CONFLICT (key) DO UPDATE …`.
fn insert_sql(table: &Table) -> String {
    let names: Vec<String> = table.columns.iter().map(|(c, _)| quoted(c)).collect();
    let arrays: Vec<String> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, (_, ty))| {
            format!(
                "${}::{}[]",
                i + 1,
                if *ty == Int { "bigint" } else { "text" }
            )
        })
        .collect();
    let updates: Vec<String> = table
        .columns
        .iter()
        .filter(|(c, _)| !table.key.contains(c))
        .map(|(c, _)| format!("{0} = excluded.{0}", quoted(c)))
        .collect();
    let key: Vec<String> = table.key.iter().map(|k| quoted(k)).collect();
    let on_conflict = if updates.is_empty() {
        format!("ON CONFLICT ({}) DO NOTHING", key.join(", "))
    } else {
        format!(
            "ON CONFLICT ({}) DO UPDATE SET {}",
            key.join(", "),
            updates.join(", ")
        )
    };
    format!(
        "INSERT INTO {} ({}) SELECT * FROM unnest({}) {on_conflict}",
        table.name,
        names.join(", "),
        arrays.join(", ")
    )
}
