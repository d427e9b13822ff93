//! Answers kept in memory, so that a page many people ask for costs one database call per
//! change of the database rather than one per request.
//!
//! Each answer (a search's hits and counts, an entity's page, the entity list, the sources
//! page) is kept under its parameters with the database's *generation*: a counter bumped
//! whenever, read on a connection of its own, SQLite's `PRAGMA data_version` says another
//! connection (a `gleaner run`) committed, or PostgreSQL's current snapshot says a
//! transaction that wrote has ended (any database of that server: a change there only costs
//! a recomputation). The server never writes, so an answer of the current generation is
//! exactly what the database would answer now.
//!
//! After a write, an answer is out of date. What a request then gets depends on the load:
//!
//! - **No other request in progress**: the answer is computed again, so a lone user (and
//!   every test) always sees the database as it is.
//! - **Under load** (other requests in progress): the kept answer is served if it is less
//!   than [`MAX_STALE`] old, and once it is [`REFRESH_AFTER`] old one request starts
//!   computing it again in the background — one background refresh at a time in the whole
//!   server, and after each a pause [`REFRESH_PAUSE`] times as long as it took, so a writer
//!   committing every 100 ms cannot make the server spend more than a quarter of one core
//!   recomputing pages nobody waits for. An answer older than [`MAX_STALE`] is computed
//!   again before it is served.
//!
//! At most [`CAPACITY`] answers are kept; past that the oldest is dropped. Errors (a bad
//! query, a time-out, an unknown entity) are never kept.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gleaner_store::StoreError;
use tokio::sync::Semaphore;

use crate::Failure;
use crate::db::{Conn, Database};

/// Answers kept at most.
pub const CAPACITY: usize = 1024;
/// Under load, an out-of-date answer this old is recomputed in the background.
pub const REFRESH_AFTER: Duration = Duration::from_secs(1);
/// No answer older than this is served once the database has changed.
pub const MAX_STALE: Duration = Duration::from_secs(60);
/// After a background refresh, the next one waits this many times as long as it took:
/// refreshes use at most a quarter of one core, whatever the writer commits.
pub const REFRESH_PAUSE: u32 = 3;

type Value = Arc<dyn Any + Send + Sync>;

struct Slot {
    value: Value,
    generation: u64,
    computed: Instant,
    refreshing: bool,
}

/// The kept answers and the database generation they belong to.
pub struct Cache {
    /// A read-only connection used only to see whether the database changed, and its last
    /// answer.
    watcher: Mutex<(Conn, Option<String>)>,
    generation: AtomicU64,
    in_flight: AtomicUsize,
    slots: Mutex<HashMap<String, Slot>>,
    /// Keys being computed for a waiting request: a second request for one waits for the
    /// first's answer instead of running the same queries beside it.
    computing: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    refresher: Arc<Semaphore>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .field("in_flight", &self.in_flight.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Counts a request in progress while it lives.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

enum Plan {
    Hit(Value),
    Stale(Value, bool),
    Compute,
}

impl Cache {
    /// A cache over the database `db` (opened once more, read-only, to watch it).
    pub fn open(db: &Database) -> Result<Self, StoreError> {
        Ok(Cache {
            watcher: Mutex::new((Conn::open(db, Duration::from_secs(2))?, None)),
            generation: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            slots: Mutex::new(HashMap::new()),
            computing: Mutex::new(HashMap::new()),
            refresher: Arc::new(Semaphore::new(1)),
        })
    }

    /// The database's generation now. Reading `data_version` takes microseconds (the
    /// PostgreSQL snapshot one round trip on loopback); when another request is reading it
    /// at this moment, its answer is as good.
    fn current_generation(&self) -> u64 {
        if let Ok(mut watcher) = self.watcher.try_lock() {
            let (conn, last) = &mut *watcher;
            let now = match conn {
                Conn::Sqlite(store) => store
                    .connection()
                    .prepare_cached("PRAGMA data_version")
                    .and_then(|mut st| st.query_row([], |r| r.get::<_, i64>(0)))
                    .ok()
                    .map(|v| v.to_string()),
                Conn::Postgres(store) => store.write_generation().ok(),
            };
            // An unreadable version counts as a change: nothing kept is trusted.
            if now.is_none() || now != *last {
                if last.is_some() || now.is_none() {
                    self.generation.fetch_add(1, Ordering::Relaxed);
                }
                *last = now;
            }
        }
        self.generation.load(Ordering::Relaxed)
    }

    /// The answer kept under `key`, or `compute`'s (kept for the next request). `key` must
    /// name the kind of answer as well as its parameters.
    pub async fn get<T, F, Fut>(
        self: &Arc<Self>,
        key: String,
        compute: F,
    ) -> Result<Arc<T>, Failure>
    where
        T: Send + Sync + 'static,
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, Failure>> + Send + 'static,
    {
        let alone = self.in_flight.fetch_add(1, Ordering::Relaxed) == 0;
        let _in_flight = InFlight(&self.in_flight);
        let generation = self.current_generation();
        match self.lookup(&key, generation, alone, compute) {
            Ok(found) => found,
            Err(compute) => {
                // One computation per key at a time; whoever waited finds it kept.
                let turn = self
                    .computing
                    .lock()
                    .ok()
                    .map(|mut c| Arc::clone(c.entry(key.clone()).or_default()));
                let asked = Instant::now();
                let _turn = match &turn {
                    Some(t) => Some(t.lock().await),
                    None => None,
                };
                // Computed while this request waited its turn: as new as this request.
                let generation = self.current_generation();
                let fresh = self.slots.lock().ok().and_then(|slots| {
                    slots
                        .get(&key)
                        .filter(|s| s.generation == generation || s.computed >= asked)
                        .map(|s| Arc::clone(&s.value))
                });
                let result = match fresh.map(|v| v.downcast::<T>()) {
                    Some(Ok(v)) => Ok(v),
                    _ => match compute().await {
                        Ok(value) => {
                            let value = Arc::new(value);
                            self.keep(key.clone(), generation, Arc::clone(&value) as Value);
                            Ok(value)
                        }
                        Err(e) => Err(e),
                    },
                };
                drop(_turn);
                if let (Some(turn), Ok(mut c)) = (turn, self.computing.lock()) {
                    // Ours and the map's: nobody else waits for this key.
                    if Arc::strong_count(&turn) <= 2 {
                        c.remove(&key);
                    }
                }
                result
            }
        }
    }

    /// The kept answer to serve for `key`, if there is one to serve (starting a background
    /// refresh when due); else `compute` back.
    #[allow(clippy::type_complexity)]
    fn lookup<T, F, Fut>(
        self: &Arc<Self>,
        key: &str,
        generation: u64,
        alone: bool,
        compute: F,
    ) -> Result<Result<Arc<T>, Failure>, F>
    where
        T: Send + Sync + 'static,
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, Failure>> + Send + 'static,
    {
        let plan = match self.slots.lock() {
            Ok(mut slots) => match slots.get_mut(key) {
                Some(s) if s.generation == generation => Plan::Hit(Arc::clone(&s.value)),
                Some(s) if !alone && s.computed.elapsed() < MAX_STALE => {
                    let refresh = !s.refreshing && s.computed.elapsed() >= REFRESH_AFTER;
                    if refresh {
                        s.refreshing = true;
                    }
                    Plan::Stale(Arc::clone(&s.value), refresh)
                }
                _ => Plan::Compute,
            },
            Err(_) => Plan::Compute,
        };
        match plan {
            Plan::Hit(value) => value.downcast::<T>().map(Ok).map_err(|_| compute),
            Plan::Stale(value, refresh) => match value.downcast::<T>() {
                Ok(v) => {
                    if refresh {
                        self.refresh_in_background(key.to_string(), compute);
                    }
                    Ok(Ok(v))
                }
                Err(_) => Err(compute),
            },
            Plan::Compute => Err(compute),
        }
    }

    /// Compute `key` again on a background task if no other refresh is running; else leave
    /// it for a later request.
    fn refresh_in_background<T, F, Fut>(self: &Arc<Self>, key: String, compute: F)
    where
        T: Send + Sync + 'static,
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, Failure>> + Send + 'static,
    {
        let Ok(permit) = Arc::clone(&self.refresher).try_acquire_owned() else {
            self.unmark(&key);
            return;
        };
        let cache = Arc::clone(self);
        tokio::spawn(async move {
            let _permit = permit;
            let generation = cache.current_generation();
            let started = Instant::now();
            match compute().await {
                Ok(value) => cache.keep(key, generation, Arc::new(value) as Value),
                Err(_) => cache.unmark(&key),
            }
            // The CPU cap: the next refresh waits REFRESH_PAUSE times as long as this one
            // took, so refreshes take at most 1 / (1 + REFRESH_PAUSE) of one core's time.
            tokio::time::sleep(started.elapsed().saturating_mul(REFRESH_PAUSE)).await;
        });
    }

    fn unmark(&self, key: &str) {
        if let Ok(mut slots) = self.slots.lock()
            && let Some(s) = slots.get_mut(key)
        {
            s.refreshing = false;
        }
    }

    fn keep(&self, key: String, generation: u64, value: Value) {
        let Ok(mut slots) = self.slots.lock() else {
            return;
        };
        if slots.len() >= CAPACITY && !slots.contains_key(&key) {
            let oldest = slots
                .iter()
                .min_by_key(|(_, s)| s.computed)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                slots.remove(&oldest);
            }
        }
        slots.insert(
            key,
            Slot {
                value,
                generation,
                computed: Instant::now(),
                refreshing: false,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use gleaner_store::Store;

    fn database() -> (tempfile::TempDir, Database, Store) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let store = Store::open(&path).unwrap();
        (dir, Database::File(path), store)
    }

    fn touch(store: &Store, n: i64) {
        store
            .connection()
            .execute(
                "INSERT OR REPLACE INTO sources (id, kind, url, created_at) VALUES (?1, 'feed', ?2, '2024-01-01T00:00:00Z')",
                rusqlite::params![n, format!("https://s{n}.example/")],
            )
            .unwrap();
    }

    #[tokio::test]
    async fn kept_until_the_database_changes_then_computed_again_for_a_lone_request() {
        let (_dir, path, store) = database();
        let cache = Arc::new(Cache::open(&path).unwrap());
        let calls = Arc::new(AtomicUsize::new(0));
        let get = |cache: Arc<Cache>| {
            let calls = Arc::clone(&calls);
            async move {
                cache
                    .get("k".into(), move || {
                        let calls = Arc::clone(&calls);
                        async move { Ok::<_, Failure>(calls.fetch_add(1, Ordering::SeqCst)) }
                    })
                    .await
                    .unwrap()
            }
        };
        assert_eq!(*get(Arc::clone(&cache)).await, 0);
        assert_eq!(*get(Arc::clone(&cache)).await, 0, "kept");
        touch(&store, 1);
        assert_eq!(
            *get(Arc::clone(&cache)).await,
            1,
            "a write makes it out of date"
        );
        assert_eq!(*get(Arc::clone(&cache)).await, 1);
    }

    #[tokio::test]
    async fn errors_are_not_kept_and_the_oldest_answer_makes_room() {
        let (_dir, path, _store) = database();
        let cache = Arc::new(Cache::open(&path).unwrap());
        let failed: Result<Arc<u8>, _> = cache
            .get("bad".into(), || async {
                Err(Failure::NotFound("no".into()))
            })
            .await;
        assert!(failed.is_err());
        let ok = cache.get("bad".into(), || async { Ok(7u8) }).await.unwrap();
        assert_eq!(*ok, 7);
        for n in 0..CAPACITY + 5 {
            cache
                .get(format!("n{n}"), move || async move { Ok(n) })
                .await
                .unwrap();
        }
        let slots = cache.slots.lock().unwrap();
        assert_eq!(slots.len(), CAPACITY);
        assert!(!slots.contains_key("bad"), "the oldest went first");
        assert!(slots.contains_key(&format!("n{}", CAPACITY + 4)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn under_load_an_out_of_date_answer_is_served_and_refreshed_in_the_background() {
        let (_dir, path, store) = database();
        let cache = Arc::new(Cache::open(&path).unwrap());
        let calls = Arc::new(AtomicUsize::new(0));
        let compute = {
            let calls = Arc::clone(&calls);
            move || {
                let calls = Arc::clone(&calls);
                async move { Ok::<_, Failure>(calls.fetch_add(1, Ordering::SeqCst)) }
            }
        };
        assert_eq!(*cache.get("k".into(), compute.clone()).await.unwrap(), 0);
        touch(&store, 1);
        // Another request in progress: the server is under load.
        cache.in_flight.fetch_add(1, Ordering::SeqCst);
        assert_eq!(
            *cache.get("k".into(), compute.clone()).await.unwrap(),
            0,
            "served as kept while it is younger than REFRESH_AFTER"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1, "and not recomputed yet");
        // Once it is REFRESH_AFTER old, a request starts a refresh and gets the old answer.
        if let Some(s) = cache.slots.lock().unwrap().get_mut("k") {
            s.computed -= REFRESH_AFTER;
        }
        assert_eq!(*cache.get("k".into(), compute.clone()).await.unwrap(), 0);
        let started = Instant::now();
        while calls.load(Ordering::SeqCst) < 2 && started.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(*cache.get("k".into(), compute.clone()).await.unwrap(), 1);
        // Refreshes are paced: right after one, another key due for a refresh is served as
        // kept and not recomputed until the pause is over.
        let slow = {
            let calls = Arc::clone(&calls);
            move || {
                let calls = Arc::clone(&calls);
                async move {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Ok::<_, Failure>(calls.fetch_add(1, Ordering::SeqCst))
                }
            }
        };
        cache.in_flight.fetch_sub(1, Ordering::SeqCst);
        let a = *cache.get("a".into(), slow.clone()).await.unwrap();
        let b = *cache.get("b".into(), slow.clone()).await.unwrap();
        cache.in_flight.fetch_add(1, Ordering::SeqCst);
        touch(&store, 3);
        for key in ["a", "b"] {
            if let Some(s) = cache.slots.lock().unwrap().get_mut(key) {
                s.computed -= REFRESH_AFTER;
            }
        }
        let before = calls.load(Ordering::SeqCst);
        assert_eq!(*cache.get("a".into(), slow.clone()).await.unwrap(), a);
        let started = Instant::now();
        while calls.load(Ordering::SeqCst) == before && started.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // "a" took 100 ms: for the next 300 ms no other refresh starts.
        assert_eq!(*cache.get("b".into(), slow.clone()).await.unwrap(), b);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(*cache.get("b".into(), slow.clone()).await.unwrap(), b);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            before + 1,
            "b waited for the pause"
        );
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(*cache.get("b".into(), slow.clone()).await.unwrap(), b);
        let started = Instant::now();
        while calls.load(Ordering::SeqCst) == before + 1
            && started.elapsed() < Duration::from_secs(5)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            before + 2,
            "then b is refreshed"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;

        // Past MAX_STALE an out-of-date answer is never served.
        touch(&store, 2);
        if let Some(s) = cache.slots.lock().unwrap().get_mut("k") {
            s.computed -= MAX_STALE;
        }
        let next = calls.load(Ordering::SeqCst);
        assert_eq!(*cache.get("k".into(), compute).await.unwrap(), next);
        cache.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}
