//! The CPU pool: the one place where pages are scraped, cleaned and tagged (and listings
//! parsed), on as many threads as the machine has cores — never on the async workers, and
//! never on more threads than there are cores to run them (extra threads only cost memory, a
//! malloc arena each, and switches).
//!
//! [`run`] hands a closure to the pool from async code; [`spawn`] from plain threads
//! (`gleaner extract`). A closure that panics gives [`PoolError::Panicked`] to its caller,
//! which records a failure: the pool thread survives, and nobody waits forever. Work whose
//! caller has gone (a run stopped, its future dropped) before the work started is skipped.
//! At most [`queue_limit`] closures from [`run`] wait or run at once; more callers wait
//! (cancellably) for room.

use std::panic::AssertUnwindSafe;
use std::sync::OnceLock;

use tokio::sync::Semaphore;

/// Stack of a pool thread: deep pages and feeds are parsed here.
const STACK_BYTES: usize = 8 * 1024 * 1024;

/// Why work sent to the pool gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolError {
    /// The work panicked (the message, when it had one).
    Panicked(String),
    /// The pool could not take or finish the work (it could not start).
    Unavailable,
}

impl std::fmt::Display for PoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PoolError::Panicked(message) => write!(f, "panicked: {message}"),
            PoolError::Unavailable => f.write_str("the processing pool is not available"),
        }
    }
}

impl std::error::Error for PoolError {}

struct Pool {
    threads: rayon::ThreadPool,
    /// Room for work sent by [`run`] (queued or running).
    room: Semaphore,
}

static POOL: OnceLock<Option<Pool>> = OnceLock::new();

/// Threads of the pool: the machine's available parallelism (2 when it cannot be read).
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

/// Closures from [`run`] queued or running at once at most.
pub fn queue_limit() -> usize {
    threads() * 4
}

fn pool() -> Option<&'static Pool> {
    POOL.get_or_init(|| {
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(threads())
            .thread_name(|i| format!("gleaner-cpu-{i}"))
            .stack_size(STACK_BYTES)
            .build()
            .map_err(|e| tracing::error!("cannot start the processing threads: {e}"))
            .ok()?;
        Some(Pool {
            threads,
            room: Semaphore::new(queue_limit()),
        })
    })
    .as_ref()
}

/// Run `work` on the pool and wait for its result without blocking the async worker.
/// Dropping the returned future before the work starts means it never runs.
pub async fn run<T, F>(work: F) -> Result<T, PoolError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let pool = pool().ok_or(PoolError::Unavailable)?;
    let permit = pool
        .room
        .acquire()
        .await
        .map_err(|_| PoolError::Unavailable)?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    pool.threads.spawn(move || {
        // Held until the work is over, so the room counts running work too.
        let _permit = permit;
        // The caller gave up while the work waited (a stopped run): nothing to do.
        if tx.is_closed() {
            return;
        }
        let _ = tx.send(catch(work));
    });
    rx.await.unwrap_or(Err(PoolError::Unavailable))
}

/// Run `work` on the pool from a plain thread; `done` gets its result (on a pool thread).
/// Callers bound how much they send (`gleaner extract` keeps a window of files in flight).
pub fn spawn<T, F, D>(work: F, done: D) -> Result<(), PoolError>
where
    F: FnOnce() -> T + Send + 'static,
    D: FnOnce(Result<T, PoolError>) + Send + 'static,
{
    let pool = pool().ok_or(PoolError::Unavailable)?;
    pool.threads.spawn(move || done(catch(work)));
    Ok(())
}

/// Run `work`, a panic in it an error (with its message), as the pool runs every closure.
pub(crate) fn catch<T>(work: impl FnOnce() -> T) -> Result<T, PoolError> {
    std::panic::catch_unwind(AssertUnwindSafe(work)).map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_string());
        PoolError::Panicked(message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_a_pool_thread_and_returns_its_value() {
        let name = run(|| std::thread::current().name().map(str::to_string))
            .await
            .unwrap();
        assert!(name.unwrap_or_default().starts_with("gleaner-cpu-"));
    }

    #[tokio::test]
    async fn a_panic_is_an_error_for_its_caller_and_the_pool_goes_on() {
        let err = run(|| -> u32 { panic!("bad page") }).await.unwrap_err();
        assert_eq!(err, PoolError::Panicked("bad page".into()));
        // Every thread still works: more jobs than threads, all answered.
        let mut answers = Vec::new();
        for i in 0..threads() * 3 {
            answers.push(run(move || i * 2).await.unwrap());
        }
        assert_eq!(answers.len(), threads() * 3);
    }

    #[tokio::test]
    async fn work_whose_caller_left_before_it_started_is_skipped() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        // Fill every thread with work that waits for a signal, then send more work and
        // drop its future: once the threads are free, the dropped work must not run.
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = Arc::new(std::sync::Mutex::new(release_rx));
        let mut blockers = Vec::new();
        for _ in 0..threads() {
            let rx = Arc::clone(&release_rx);
            blockers.push(tokio::spawn(run(move || {
                let _ = rx.lock().map(|r| r.recv());
            })));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let ran = Arc::new(AtomicUsize::new(0));
        let ran2 = Arc::clone(&ran);
        let dropped = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            run(move || {
                ran2.fetch_add(1, Ordering::SeqCst);
            }),
        )
        .await;
        assert!(dropped.is_err(), "the pool was busy, the work waited");
        for _ in 0..threads() {
            release_tx.send(()).unwrap();
        }
        for b in blockers {
            b.await.unwrap().unwrap();
        }
        // A later job runs after the dropped one would have.
        run(|| ()).await.unwrap();
        for _ in 0..threads() {
            run(|| ()).await.unwrap();
        }
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    }
}
