//! `gleaner`: the command-line binary. A thin layer over the library crates: it parses the
//! command line and the config, wires fetch → scrape → clean → tag → store together, and
//! prints results. See `ARCHITECTURE.md` for the map.

mod cli;
mod config;
mod copy;
mod cpu_pool;
mod dispatch;
mod ingest;
mod integrity;
mod output;
mod pipeline;
mod process;
mod progress;
mod read;
mod shared_robots;
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

/// Libraries whose log messages are notes about their own workings ("foster parenting not
/// implemented" from the HTML parser on an ordinary table): shown only with `-v -v`.
const CHATTY_LIBRARIES: &str = "html5ever=off,markup5ever=off,selectors=off,scraper=off";

fn init_logging(cli: &Cli) {
    let default = if cli.quiet {
        "error".to_string()
    } else {
        match cli.verbose {
            0 => format!("warn,gleaner=info,{CHATTY_LIBRARIES}"),
            1 => format!(
                "info,gleaner=debug,gleaner_fetch=debug,gleaner_store=debug,{CHATTY_LIBRARIES}"
            ),
            _ => "trace".to_string(),
        }
    };
    let (filter, directives) = match std::env::var("GLEANER_LOG") {
        Ok(given) => match EnvFilter::try_new(&given) {
            Ok(filter) => (filter, given),
            Err(_) => (EnvFilter::new(&default), default),
        },
        Err(_) => (EnvFilter::new(&default), default),
    };
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
    // The bridge from the `log` crate lets through what the most verbose directive allows,
    // so `gleaner::resources=debug` (the bench's filter) had every `log::debug!` of the
    // HTML selector library reach the filter only to be dropped there (1.8 % of a run).
    // gleaner's own crates log through `tracing` alone: their directives do not count.
    log::set_max_level(log::max_level().min(log_crate_max_level(&directives)));
}

/// The most verbose level that the filter `directives` (`GLEANER_LOG` syntax) lets through
/// for a record of a library that logs with the `log` crate: every directive counts but
/// those for gleaner's own targets; one that cannot be read counts as `trace`.
fn log_crate_max_level(directives: &str) -> log::LevelFilter {
    let level = |name: &str| match name.trim().to_ascii_lowercase().as_str() {
        "off" | "0" => log::LevelFilter::Off,
        "error" | "1" => log::LevelFilter::Error,
        "warn" | "2" => log::LevelFilter::Warn,
        "info" | "3" => log::LevelFilter::Info,
        "debug" | "4" => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    let mut max = log::LevelFilter::Off;
    for directive in directives
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        let this = if directive.contains(['[', '{']) {
            log::LevelFilter::Trace
        } else {
            match directive.rsplit_once('=') {
                Some((target, _)) if target.trim().starts_with("gleaner") => continue,
                Some((_, name)) => level(name),
                None if directive.starts_with("gleaner") => continue,
                // A bare level, or a bare target (everything from it: `trace`).
                None => level(directive),
            }
        };
        max = max.max(this);
    }
    max
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    let result = dispatch(cli);
    log_resources();
    match result {
        Ok(code) => ExitCode::from(code as u8),
        // `gleaner export | head` closes the pipe early: that is the reader's choice, not an error.
        Err(e) if is_broken_pipe(&e.error) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gleaner: error: {:#}", e.error);
            ExitCode::from(e.code as u8)
        }
    }
}

/// The process's resource use, at debug level (`-v`; `cargo xtask bench` reads it): CPU time
/// (user + system), the CPU time of each processing step summed over threads, peak resident
/// memory and bytes read and written to disk (the last two where `/proc` has them).
fn log_resources() {
    use std::sync::atomic::Ordering::Relaxed;
    let secs = |nanos: u64| format!("{:.3}", nanos as f64 / 1e9);
    let steps = &process::CPU_NANOS;
    let proc_field = |file: &str, key: &str| -> Option<u64> {
        let text = std::fs::read_to_string(file).ok()?;
        let line = text.lines().find(|l| l.starts_with(key))?;
        line.get(key.len()..)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    tracing::debug!(
        target: "gleaner::resources",
        cpu_secs = format!("{:.3}", cpu_time::ProcessTime::now().as_duration().as_secs_f64()),
        pages = steps.pages.load(Relaxed),
        scrape_cpu_secs = secs(steps.scrape.load(Relaxed)),
        clean_cpu_secs = secs(steps.clean.load(Relaxed)),
        tag_cpu_secs = secs(steps.tag.load(Relaxed)),
        peak_rss_kib = proc_field("/proc/self/status", "VmHWM:"),
        read_bytes = proc_field("/proc/self/io", "read_bytes:"),
        write_bytes = proc_field("/proc/self/io", "write_bytes:"),
        "resources used"
    );
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
        Command::Copy(args) => return copy::copy(args),
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
        Command::Integrity => integrity::integrity(&db),
        Command::Sources => read::sources(&loaded, &db),
        Command::Export(args) => read::export(&db, &args),
        Command::Serve(args) => gleaner_serve::run(&db, args.bind)
            .map(|()| Exit::Ok)
            .map_err(ExitError::usage),
        Command::Extract(_) | Command::Tag(_) | Command::Copy(_) => {
            unreachable!("handled above")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::log_crate_max_level;
    use log::LevelFilter;

    #[test]
    fn gleaners_own_directives_do_not_open_the_log_bridge() {
        let bench = "warn,gleaner=info,gleaner::resources=debug";
        assert_eq!(log_crate_max_level(bench), LevelFilter::Warn);
        let verbose = format!(
            "info,gleaner=debug,gleaner_fetch=debug,gleaner_store=debug,{}",
            super::CHATTY_LIBRARIES
        );
        assert_eq!(log_crate_max_level(&verbose), LevelFilter::Info);
        assert_eq!(log_crate_max_level("trace"), LevelFilter::Trace);
        assert_eq!(log_crate_max_level("error,html5ever"), LevelFilter::Trace);
        assert_eq!(
            log_crate_max_level("warn,selectors=debug"),
            LevelFilter::Debug
        );
        assert_eq!(log_crate_max_level("warn,[span]=info"), LevelFilter::Trace);
        assert_eq!(log_crate_max_level("error"), LevelFilter::Error);
    }
}
