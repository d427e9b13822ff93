//! `gleaner copy --from FILE --to postgres://…`: move a SQLite database into PostgreSQL.

use anyhow::{Context, anyhow};
use gleaner_store::pg::{PgStore, is_postgres_url, redact_url};
use gleaner_store::{Store, copy_sqlite_to_postgres};

use crate::cli::CopyArgs;
use crate::{Exit, ExitError};

/// Copy every table, ids and all; prints the rows copied per table. Safe to run again.
pub fn copy(args: &CopyArgs) -> Result<Exit, ExitError> {
    if !is_postgres_url(&args.to) {
        return Err(ExitError::usage(anyhow!(
            "--to must be a postgres:// address, not {:?}",
            args.to
        )));
    }
    if !args.from.is_file() {
        return Err(ExitError::usage(anyhow!(
            "--from {}: no such database file",
            args.from.display()
        )));
    }
    let from =
        Store::open(&args.from).with_context(|| format!("opening {}", args.from.display()))?;
    let shown = redact_url(&args.to);
    let mut to = PgStore::open(&args.to).with_context(|| format!("opening {shown}"))?;
    let report = copy_sqlite_to_postgres(&from, &mut to)
        .with_context(|| format!("copying {} into {shown}", args.from.display()))?;
    for (table, rows) in &report.tables {
        println!("{table}\t{rows}");
    }
    Ok(Exit::Ok)
}
