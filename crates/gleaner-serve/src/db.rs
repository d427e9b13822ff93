//! A small pool of read-only connections, used off the async workers, each query under a
//! time limit.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gleaner_store::{Store, StoreError};
use tokio::sync::Semaphore;

/// What a database call can end in, besides its answer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The search expression could not be parsed: the user's to fix (400).
    #[error("{0}")]
    BadQuery(String),
    /// The query ran past the time limit and was stopped (503).
    #[error("the query took longer than {0:?} and was stopped; narrow it down")]
    TimedOut(Duration),
    /// Anything else (500); the message is logged, not shown.
    #[error("database error: {0}")]
    Store(#[from] StoreError),
    /// The work itself failed (a panic in a blocking task): logged, 500.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Read-only connections to one database file.
///
/// At most `size` queries run at once, each on a blocking thread of tokio's pool with its own
/// connection; the others wait for a connection. Each connection has a progress handler
/// that stops a statement once the call's deadline has passed.
#[derive(Debug)]
pub struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Reader>>,
    permits: Semaphore,
    time_limit: Duration,
    epoch: Instant,
}

/// One connection and its deadline (milliseconds since the pool's epoch, 0 for none).
#[derive(Debug)]
struct Reader {
    store: Store,
    deadline: Arc<AtomicU64>,
}

impl Pool {
    /// A pool over `path` of `size` connections. One connection is opened now, so that a
    /// missing or foreign file is reported at start.
    pub fn open(path: &Path, size: usize, time_limit: Duration) -> Result<Self, StoreError> {
        let pool = Pool {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size.max(1)),
            time_limit,
            epoch: Instant::now(),
        };
        let first = pool.connect()?;
        pool.put_back(first);
        Ok(pool)
    }

    fn connect(&self) -> Result<Reader, StoreError> {
        let store = Store::open_read_only(&self.path)?;
        let deadline = Arc::new(AtomicU64::new(0));
        let (watched, epoch) = (Arc::clone(&deadline), self.epoch);
        // Called every 1,000 virtual machine steps (a few microseconds): returning true
        // interrupts the statement with SQLITE_INTERRUPT.
        store
            .connection()
            .progress_handler(
                1_000,
                Some(move || {
                    let d = watched.load(Ordering::Relaxed);
                    d != 0 && millis_since(epoch) >= d
                }),
            )
            .map_err(|source| StoreError::Sqlite {
                context: "setting the query time limit".into(),
                source,
            })?;
        Ok(Reader { store, deadline })
    }

    fn take(&self) -> Option<Reader> {
        self.idle.lock().map(|mut idle| idle.pop()).unwrap_or(None)
    }

    fn put_back(&self, reader: Reader) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(reader);
        }
    }

    /// Run `f` with a connection on a blocking thread, under the time limit.
    pub async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| DbError::Internal(e.to_string()))?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let reader = match pool.take() {
                Some(r) => r,
                None => pool.connect()?,
            };
            let limit = u64::try_from(pool.time_limit.as_millis()).unwrap_or(u64::MAX);
            reader.deadline.store(
                millis_since(pool.epoch).saturating_add(limit).max(1),
                Ordering::Relaxed,
            );
            let result = f(&reader.store);
            reader.deadline.store(0, Ordering::Relaxed);
            // A connection goes back only after its call returned: a panic drops it, and
            // the next call opens a fresh one.
            pool.put_back(reader);
            result.map_err(|e| classify(e, pool.time_limit))
        })
        .await
        .map_err(|e| DbError::Internal(e.to_string()))?
    }
}

fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn classify(e: StoreError, limit: Duration) -> DbError {
    if gleaner_store::is_interrupted(&e) {
        DbError::TimedOut(limit)
    } else if let StoreError::BadQuery { query, message } = &e {
        DbError::BadQuery(format!("cannot read the search {query:?}: {message}"))
    } else {
        DbError::Store(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        Store::open(&path).unwrap();
        (dir, path)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_query_past_the_time_limit_is_stopped_and_the_connection_reused() {
        let (_dir, path) = database();
        let pool = Arc::new(Pool::open(&path, 1, Duration::from_millis(50)).unwrap());
        let started = Instant::now();
        let slow = pool
            .run(|store| {
                store
                    .connection()
                    .query_row(
                        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)
                         SELECT count(*) FROM n",
                        [],
                        |r| r.get::<_, i64>(0),
                    )
                    .map_err(|e| StoreError::Sqlite {
                        context: "counting forever".into(),
                        source: e,
                    })
            })
            .await;
        assert!(matches!(slow, Err(DbError::TimedOut(_))), "{slow:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        // The same (only) connection answers the next call, with no deadline left over.
        let n = pool.run(|store| Ok(store.stats()?.articles)).await.unwrap();
        assert_eq!(n, 0);
    }

    #[tokio::test]
    async fn a_panic_in_a_call_is_an_error_and_the_pool_goes_on() {
        let (_dir, path) = database();
        let pool = Arc::new(Pool::open(&path, 1, Duration::from_secs(1)).unwrap());
        let r: Result<(), _> = pool
            .run(|_| -> Result<(), StoreError> { panic!("boom") })
            .await;
        assert!(matches!(r, Err(DbError::Internal(_))));
        assert_eq!(
            pool.run(|s| Ok(s.stats()?.articles)).await.unwrap(),
            0,
            "a new connection replaces the lost one"
        );
    }

    #[test]
    fn a_missing_file_is_refused_and_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.db");
        assert!(Pool::open(&path, 2, Duration::from_secs(1)).is_err());
        assert!(!path.exists());
    }
}
