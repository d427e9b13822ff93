//! `gleaner`: the command-line binary. A thin layer over the library crates: it parses the
//! command line and the config, wires fetch → scrape → clean → tag → store together, and
//! prints results. See `ARCHITECTURE.md` for the map.

mod cli;
mod config;
mod dispatch;
mod ingest;
mod output;
mod pipeline;
mod process;
mod progress;
mod read;
mod source_state;
mod timespec;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command, LogFormat};
use crate::config::LoadedConfig;

/// Exit codes of DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// All good.
    Ok = 0,
    /// Some items failed; the rest were stored.
    Partial = 1,
    /// Bad usage or config.
    Usage = 2,
    /// Another run holds the lock.
    Locked = 3,
}

/// An error that carries the exit code it should end the process with.
#[derive(Debug)]
pub struct ExitError {
    /// The code.
    pub code: Exit,
    /// What to say.
    pub error: anyhow::Error,
}

impl ExitError {
    /// A usage or config error (exit 2).
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        ExitError {
            code: Exit::Usage,
            error: error.into(),
        }
    }
}

impl<E: Into<anyhow::Error>> From<E> for ExitError {
    fn from(error: E) -> Self {
        ExitError {
            code: Exit::Partial,
            error: error.into(),
        }
    }
}

fn init_logging(cli: &Cli) {
    let default = if cli.quiet {
        "error"
    } else {
        match cli.verbose {
            0 => "warn,gleaner=info",
            1 => "info,gleaner=debug,gleaner_fetch=debug,gleaner_store=debug",
            _ => "trace",
        }
    };
    let filter = EnvFilter::try_from_env("GLEANER_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code as u8),
        // `gleaner export | head` closes the pipe early: that is the reader's choice, not an error.
        Err(e) if is_broken_pipe(&e.error) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gleaner: error: {:#}", e.error);
            ExitCode::from(e.code as u8)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == Some(BrokenPipe)
            || cause.downcast_ref::<csv::Error>().is_some_and(
                |e| matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == BrokenPipe),
            )
    })
}

fn dispatch(cli: Cli) -> Result<Exit, ExitError> {
    // `extract` and `tag` need neither config nor database.
    match &cli.command {
        Command::Extract(args) => return read::extract(args),
        Command::Tag(args) => return read::tag(args),
        _ => {}
    }
    let loaded = LoadedConfig::load(cli.config.as_deref()).map_err(ExitError::usage)?;
    let db = loaded.db_path(cli.db.as_deref());
    match cli.command {
        Command::Scrape(args) => ingest::scrape(&loaded, &db, &args),
        Command::Run(args) => ingest::run(&loaded, &db, &args),
        Command::Query(args) => read::query(&db, &args),
        Command::Show(args) => read::show(&db, &args),
        Command::Entities(args) => read::entities(&db, &args),
        Command::Stats => read::stats(&db),
        Command::Sources => read::sources(&loaded, &db),
        Command::Export(args) => read::export(&db, &args),
        Command::Extract(_) | Command::Tag(_) => unreachable!("handled above"),
    }
}
