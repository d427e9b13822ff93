//! `gleaner integrity`: check the database against the store's guarantees, on either backend
//! (see `gleaner_store`'s `integrity` module for the rules).
//!
//! Prints each problem on a line of its own (`check: problem`) and one summary line. Exit
//! codes: 0 nothing found, 1 problems found, 2 a SQLite file that does not exist (or bad usage).

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, anyhow};
use gleaner_store::AnyStore;

use crate::read::shown;
use crate::{Exit, ExitError};

/// Run every check and print what breaks the rules.
pub fn integrity(db: &Path) -> Result<Exit, ExitError> {
    if !AnyStore::path_is_postgres(db) && !db.is_file() {
        return Err(ExitError::usage(anyhow!(
            "database {} does not exist: nothing to check",
            db.display()
        )));
    }
    let mut store =
        AnyStore::open_path(db).with_context(|| format!("opening database {}", shown(db)))?;
    let report = store
        .integrity()
        .with_context(|| format!("checking database {}", shown(db)))?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    for check in &report.checks {
        for problem in &check.problems {
            writeln!(out, "{}: {problem}", check.name)?;
        }
        if check.more {
            writeln!(
                out,
                "{}: … and more (the first {} listed)",
                check.name,
                check.problems.len()
            )?;
        }
    }
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !c.problems.is_empty())
        .map(|c| c.name)
        .collect();
    if failed.is_empty() {
        writeln!(
            out,
            "integrity: {} checks, no problems ({})",
            report.checks.len(),
            shown(db)
        )?;
        out.flush()?;
        Ok(Exit::Ok)
    } else {
        writeln!(
            out,
            "integrity: {} of {} checks found problems: {}",
            failed.len(),
            report.checks.len(),
            failed.join(", ")
        )?;
        out.flush()?;
        Ok(Exit::Partial)
    }
}
