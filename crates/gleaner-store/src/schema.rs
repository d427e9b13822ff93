//! Connection settings and schema migrations.
//!
//! The schema is a list of SQL files under `migrations/`, applied in order, each in its own
//! transaction that also sets `PRAGMA user_version` to the file's number. A database at
//! version N gets the files after N; one newer than the build is refused. To change the
//! schema, append a file and a [`Migration`] to [`MIGRATIONS`]; never edit a released one.

use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use crate::{Context, Result, StoreError};

/// One step of the schema.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// The `user_version` after this step.
    pub(crate) version: u32,
    /// What the step does, for logs.
    pub(crate) name: &'static str,
    /// The SQL, run as one batch.
    pub(crate) sql: &'static str,
}

/// Every migration, oldest first; `MIGRATIONS[i].version == i + 1`.
pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "initial schema",
    sql: include_str!("../migrations/0001_initial.sql"),
}];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// How long a connection waits for a lock before it reports "database is locked".
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Set the per-connection pragmas: busy timeout, foreign keys, WAL, `synchronous=NORMAL`.
pub(crate) fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)
        .context("setting the busy timeout")?;
    conn.pragma_update(None, "foreign_keys", true)
        .context("turning foreign keys on")?;
    // An in-memory database answers "memory"; a file answers "wal".
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))
        .context("switching to WAL")?;
    tracing::debug!(journal_mode = %mode, "sqlite connection configured");
    conn.pragma_update(None, "synchronous", "NORMAL")
        .context("setting synchronous=NORMAL")?;
    Ok(())
}

/// `PRAGMA user_version`.
pub(crate) fn user_version(conn: &Connection) -> Result<u32> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .context("reading the schema version")
}

/// Bring the schema to [`SCHEMA_VERSION`].
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    migrate_to(conn, SCHEMA_VERSION)
}

/// Bring the schema to `target` (tests use a lower target to build old databases).
pub(crate) fn migrate_to(conn: &mut Connection, target: u32) -> Result<()> {
    let too_new = |found| StoreError::TooNew {
        found,
        supported: SCHEMA_VERSION,
    };
    let current = user_version(conn)?;
    if current > SCHEMA_VERSION {
        return Err(too_new(current));
    }
    for step in MIGRATIONS
        .iter()
        .filter(|m| m.version > current && m.version <= target)
    {
        // IMMEDIATE takes the write lock now, so two processes opening a fresh file at the
        // same time apply each step once: the second one sees the new version and skips it.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .with_context(|| format!("starting migration {} ({})", step.version, step.name))?;
        let now = user_version(&tx)?;
        if now > SCHEMA_VERSION {
            return Err(too_new(now));
        }
        if now >= step.version {
            continue;
        }
        tx.execute_batch(step.sql)
            .with_context(|| format!("applying migration {} ({})", step.version, step.name))?;
        tx.pragma_update(None, "user_version", step.version)
            .context("setting the schema version")?;
        tx.commit()
            .with_context(|| format!("committing migration {} ({})", step.version, step.name))?;
        tracing::info!(
            version = step.version,
            name = step.name,
            "database schema migrated"
        );
    }
    Ok(())
}
