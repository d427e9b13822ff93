//! The progress display of `scrape` and `run`: one line per stage (discovered, fetched,
//! stored, failed), redrawn a few times a second from the pipeline's counters. Only when
//! stderr is a terminal and warnings are shown (not with `-q`, not under cron).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::pipeline::Counters;

/// A running display; [`Progress::finish`] clears it.
pub struct Progress {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Whether to draw progress: stderr is a terminal and warnings are not silenced.
pub fn wanted() -> bool {
    std::io::stderr().is_terminal() && tracing::enabled!(tracing::Level::WARN)
}

/// The four lines, from a snapshot of the counters.
fn lines(c: &Counters) -> [(u64, u64, String); 4] {
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let discovered = load(&c.discovered);
    let fetched = load(&c.fetched);
    let not_modified = load(&c.not_modified);
    let skipped = load(&c.skipped);
    let failed = load(&c.failed);
    let stored = load(&c.stored);
    let pages_done = fetched + not_modified;
    [
        (discovered, discovered, format!("{discovered} listed")),
        (
            pages_done,
            discovered,
            format!("{fetched} fetched, {not_modified} unchanged (304)"),
        ),
        (stored, discovered, format!("{stored} stored or up to date")),
        (
            failed + skipped,
            discovered,
            format!("{failed} failed, {skipped} skipped"),
        ),
    ]
}

impl Progress {
    /// Start drawing (or do nothing when `enabled` is false).
    pub fn start(counters: Arc<Counters>, enabled: bool) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        if !enabled {
            return Progress { stop, thread: None };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8));
        let style = ProgressStyle::with_template("{prefix:>10} {bar:30} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        let bars: Vec<ProgressBar> = ["discovered", "fetched", "stored", "failed"]
            .iter()
            .map(|name| {
                let bar = multi.add(ProgressBar::new(0));
                bar.set_style(style.clone());
                bar.set_prefix(*name);
                bar
            })
            .collect();
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("gleaner-progress".into())
            .spawn(move || {
                loop {
                    let done = flag.load(Ordering::Relaxed);
                    for (bar, (pos, len, msg)) in bars.iter().zip(lines(&counters)) {
                        bar.set_length(len.max(1));
                        bar.set_position(pos);
                        bar.set_message(msg);
                    }
                    if done {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(125));
                }
                for bar in &bars {
                    bar.finish_and_clear();
                }
                let _ = multi.clear();
            })
            .ok();
        Progress { stop, thread }
    }

    /// Stop and clear the display.
    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_each_stage_against_what_was_listed() {
        let c = Counters::default();
        c.discovered.store(10, Ordering::Relaxed);
        c.fetched.store(4, Ordering::Relaxed);
        c.not_modified.store(2, Ordering::Relaxed);
        c.stored.store(5, Ordering::Relaxed);
        c.failed.store(1, Ordering::Relaxed);
        let l = lines(&c);
        assert_eq!((l[1].0, l[1].1), (6, 10));
        assert_eq!(l[1].2, "4 fetched, 2 unchanged (304)");
        assert_eq!((l[2].0, l[3].0), (5, 1));
    }

    #[test]
    fn a_disabled_display_draws_nothing_and_finishes() {
        Progress::start(Arc::default(), false).finish();
    }
}
