//! Work shared by cooperative `gleaner run` workers on one PostgreSQL database.
//!
//! - **Leases.** A unit of work has a key (`listing:URL` for a source's listing, `page:URL`
//!   for a page to fetch) and a row in `leases`. A worker holds a unit until its lease
//!   expires; it renews the lease while it works and marks the unit done once the outcome is
//!   recorded (the article stored, or the failure and its retry time). Pages are claimed in
//!   batches with `SELECT … FOR UPDATE SKIP LOCKED`: workers never wait for each other and
//!   never get the same unit at once. A worker killed with `kill -9` renews nothing: its
//!   leases run out and the next claim hands its units to another worker. So every page is
//!   fetched at least once (at most once more per worker death) and, as the store finds an
//!   article by its address before it inserts, stored exactly once.
//! - **Host turns.** Politeness across all workers: one row per host holds when its next
//!   request may go. [`PgStore::take_host_turn`] takes the turn only when it is due, in one
//!   atomic `INSERT … ON CONFLICT DO UPDATE … WHERE`, and moves it to `interval` after that
//!   moment; a worker that finds it not due is told how long to wait and asks again. So the
//!   moments turns are taken are at least `interval` apart on the server's clock, however many
//!   workers ask, and each request goes out right after its turn is taken (no reservations for
//!   later, which a late sender would crowd into the next turns).
//! - **robots.txt** fetched by one worker is kept for all ([`PgStore::robots_txt`]).
//!
//! Times are the server's (`clock_timestamp()`), so the workers' clocks need not agree.
//!
//! Every call here is sent again on a new connection when the connection was lost
//! (`PgStore::retried`). A claim whose commit went through with its answer lost leaves its
//! units held by this worker until their leases run out; then they are claimed again.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::pg::PgStore;
use crate::{Context, Result};

/// What [`PgStore::take_host_turn`] came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostTurn {
    /// This worker has the turn: its request goes now. `at` is when it was taken, by the
    /// server's clock.
    Taken {
        /// When the turn was taken (server time).
        at: DateTime<Utc>,
    },
    /// Not due yet: ask again after `wait` (zero: at once).
    NotYet {
        /// How long until the turn is due, as the server saw it.
        wait: Duration,
    },
}

/// This process's name as a lease holder: unique per process and start.
pub fn worker_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "host".into());
        format!(
            "{host}-{}-{}",
            std::process::id(),
            Utc::now().timestamp_micros()
        )
    })
}

/// When this process started working: pages done before it are an earlier run's and may be
/// fetched again; pages done since were done by this run's other workers.
pub fn run_started() -> DateTime<Utc> {
    static AT: OnceLock<DateTime<Utc>> = OnceLock::new();
    *AT.get_or_init(Utc::now)
}

/// How long a page lease lasts: `GLEANER_LEASE_SECS`, else 60 s. A page's lease is taken
/// just before it is fetched and ends when its outcome is recorded (seconds later), so this
/// is only how long a dead worker's pages wait before another worker takes them.
pub fn lease_ttl() -> Duration {
    static TTL: OnceLock<Duration> = OnceLock::new();
    *TTL.get_or_init(|| {
        std::env::var("GLEANER_LEASE_SECS")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .map_or(Duration::from_secs(60), Duration::from_secs_f64)
    })
}

impl PgStore {
    /// Add units of work (`keys`) that are not known yet, free to claim. Returns how many
    /// were new.
    pub fn enqueue(&mut self, keys: &[String]) -> Result<u64> {
        let keys = keys.to_vec();
        self.retried(async |c| {
            c.execute(
                "INSERT INTO leases (key) SELECT unnest($1::text[]) ON CONFLICT (key) DO NOTHING",
                &[&keys],
            )
            .await
            .context("queueing work")
        })
    }

    /// [`PgStore::enqueue`], and units done before `reopen_done_before` (an earlier run's
    /// work) opened again, free to claim. Units held or done in this run are left alone.
    pub fn enqueue_reopening(
        &mut self,
        keys: &[String],
        reopen_done_before: DateTime<Utc>,
    ) -> Result<u64> {
        let keys = keys.to_vec();
        self.retried(async |c| {
            c.execute(
                "INSERT INTO leases (key) SELECT unnest($1::text[])
                 ON CONFLICT (key) DO UPDATE
                    SET holder = NULL, expires_at = 'epoch', done = FALSE
                  WHERE leases.done AND leases.expires_at < $2",
                &[&keys, &reopen_done_before],
            )
            .await
            .context("queueing work")
        })
    }

    /// Extend every lease `holder` holds on an open unit by `ttl` from now (the worker's
    /// heartbeat): how many.
    pub fn renew_all(&mut self, holder: &str, ttl: Duration) -> Result<u64> {
        let ttl = ttl.as_secs_f64();
        let holder = holder.to_string();
        self.retried(async |c| {
            c.execute(
                "UPDATE leases SET expires_at = clock_timestamp() + make_interval(secs => $2)
                  WHERE holder = $1 AND NOT done",
                &[&holder, &ttl],
            )
            .await
            .context("renewing this worker's leases")
        })
    }

    /// Claim up to `n` units whose keys start with `prefix`, not done and not held (never
    /// claimed, or their lease ran out), for `ttl`. Units another worker is claiming at this
    /// moment are skipped, not waited for.
    pub fn claim(
        &mut self,
        holder: &str,
        prefix: &str,
        n: usize,
        ttl: Duration,
    ) -> Result<Vec<String>> {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        let ttl = ttl.as_secs_f64();
        let (holder, prefix) = (holder.to_string(), prefix.to_string());
        self.retried(async |c| {
            let rows = c
                .query(
                    "WITH free AS (
                         SELECT key FROM leases
                          WHERE NOT done AND expires_at < clock_timestamp()
                            AND starts_with(key, $2)
                          ORDER BY expires_at, key
                          LIMIT $3
                          FOR UPDATE SKIP LOCKED)
                     UPDATE leases l
                        SET holder = $1,
                            expires_at = clock_timestamp() + make_interval(secs => $4)
                       FROM free WHERE l.key = free.key
                     RETURNING l.key",
                    &[&holder, &prefix, &n, &ttl],
                )
                .await
                .context("claiming work")?;
            rows.iter()
                .map(|r| r.try_get(0).context("claiming work"))
                .collect()
        })
    }

    /// Claim one unit by key (creating it if new) unless another worker holds it or it is
    /// done: `true` when this worker now holds it. Holding it already renews it. A unit done
    /// before `reopen_done_before` (an earlier run's work) is opened again and claimed.
    pub fn claim_key(
        &mut self,
        holder: &str,
        key: &str,
        ttl: Duration,
        reopen_done_before: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        let ttl = ttl.as_secs_f64();
        let (holder, key) = (holder.to_string(), key.to_string());
        self.retried(async |c| {
            let row = c
                .query_opt(
                    "INSERT INTO leases (key, holder, expires_at)
                     VALUES ($2, $1, clock_timestamp() + make_interval(secs => $3))
                     ON CONFLICT (key) DO UPDATE
                        SET holder = excluded.holder, expires_at = excluded.expires_at,
                            done = FALSE
                      WHERE (NOT leases.done
                             AND (leases.expires_at < clock_timestamp()
                                  OR leases.holder = excluded.holder))
                         OR (leases.done AND leases.expires_at < $4)
                     RETURNING key",
                    &[&holder, &key, &ttl, &reopen_done_before],
                )
                .await
                .context("claiming a unit of work")?;
            Ok(row.is_some())
        })
    }

    /// Extend this worker's leases on `keys` by `ttl` from now; returns how many it still
    /// held (a lease that ran out and was taken by another worker is not renewed).
    pub fn renew(&mut self, holder: &str, keys: &[String], ttl: Duration) -> Result<u64> {
        let ttl = ttl.as_secs_f64();
        let (holder, keys) = (holder.to_string(), keys.to_vec());
        self.retried(async |c| {
            c.execute(
                "UPDATE leases SET expires_at = clock_timestamp() + make_interval(secs => $3)
                  WHERE holder = $1 AND key = ANY($2) AND NOT done",
                &[&holder, &keys, &ttl],
            )
            .await
            .context("renewing leases")
        })
    }

    /// Mark units done (their outcome is recorded): nobody claims them again (in this run:
    /// see [`PgStore::claim_key`]).
    pub fn finish(&mut self, keys: &[String]) -> Result<u64> {
        // The writer's last step for a batch: sent again on a new connection if it was lost.
        self.reconnecting(|store| {
            let keys = keys.to_vec();
            store.block(async move |c| {
                c.execute(
                    "UPDATE leases SET done = TRUE, expires_at = clock_timestamp() \
                     WHERE key = ANY($1)",
                    &[&keys],
                )
                .await
                .context("finishing work")
            })
        })
    }

    /// Give units back undone (a worker stopping early): free to claim at once.
    pub fn release(&mut self, holder: &str, keys: &[String]) -> Result<u64> {
        let (holder, keys) = (holder.to_string(), keys.to_vec());
        self.retried(async |c| {
            c.execute(
                "UPDATE leases SET holder = NULL, expires_at = 'epoch'
                  WHERE holder = $1 AND key = ANY($2) AND NOT done",
                &[&holder, &keys],
            )
            .await
            .context("releasing work")
        })
    }

    /// Open units (not done) under `prefix`: how much work is left.
    pub fn open_work(&mut self, prefix: &str) -> Result<u64> {
        let prefix = prefix.to_string();
        self.retried(async |c| {
            let n: i64 = c
                .query_one(
                    "SELECT count(*) FROM leases WHERE NOT done AND starts_with(key, $1)",
                    &[&prefix],
                )
                .await
                .and_then(|r| r.try_get(0))
                .context("counting open work")?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    /// Take `host`'s request turn for a request sent at once, if it is due: taken (no other
    /// worker's turn for the host comes before `interval` from then), or how long until it is
    /// due (ask again then; another worker may take it first).
    pub fn take_host_turn(&mut self, host: &str, interval: Duration) -> Result<HostTurn> {
        let secs = interval.as_secs_f64();
        let host = host.to_string();
        self.retried(async |c| {
            // The outer SELECT reads the row as the statement began: when a concurrent taker
            // held it, the wait read may be stale (zero); the caller then simply asks again.
            let row = c
                .query_one(
                    "WITH taken AS (
                         INSERT INTO host_slots (host, next_slot)
                         VALUES ($1, clock_timestamp() + make_interval(secs => $2))
                         ON CONFLICT (host) DO UPDATE
                            SET next_slot = clock_timestamp() + make_interval(secs => $2)
                          WHERE host_slots.next_slot <= clock_timestamp()
                         RETURNING next_slot - make_interval(secs => $2) AS at)
                     SELECT (SELECT at FROM taken),
                            coalesce((SELECT extract(epoch FROM next_slot - clock_timestamp())
                                        FROM host_slots WHERE host = $1), 0)::float8",
                    &[&host, &secs],
                )
                .await
                .with_context(|| format!("taking a request turn for {host}"))?;
            let at: Option<DateTime<Utc>> = row.try_get(0).context("reading a request turn")?;
            let wait: f64 = row.try_get(1).context("reading a request turn")?;
            Ok(match at {
                Some(at) => HostTurn::Taken { at },
                None => HostTurn::NotYet {
                    wait: Duration::try_from_secs_f64(wait).unwrap_or_default(),
                },
            })
        })
    }

    /// The robots.txt of `origin` as a worker saved it, if not older than `max_age`:
    /// (HTTP status, body).
    pub fn robots_txt(&mut self, origin: &str, max_age: Duration) -> Result<Option<(u16, String)>> {
        let secs = max_age.as_secs_f64();
        let origin = origin.to_string();
        self.retried(async |c| {
            let row = c
                .query_opt(
                    "SELECT status, body FROM robots_txt
                      WHERE origin = $1
                        AND fetched_at > clock_timestamp() - make_interval(secs => $2)",
                    &[&origin, &secs],
                )
                .await
                .context("reading a shared robots.txt")?;
            row.map(
                |r| -> std::result::Result<(u16, String), tokio_postgres::Error> {
                    let status: i32 = r.try_get(0)?;
                    Ok((u16::try_from(status).unwrap_or(0), r.try_get(1)?))
                },
            )
            .transpose()
            .context("reading a shared robots.txt")
        })
    }

    /// Save the robots.txt of `origin` for every worker.
    pub fn save_robots_txt(&mut self, origin: &str, status: u16, body: &str) -> Result<()> {
        let (origin, body) = (origin.to_string(), body.to_string());
        self.retried(async |c| {
            c.execute(
                "INSERT INTO robots_txt (origin, status, body, fetched_at)
                 VALUES ($1, $2, $3, clock_timestamp())
                 ON CONFLICT (origin) DO UPDATE
                    SET status = excluded.status, body = excluded.body,
                        fetched_at = excluded.fetched_at",
                &[&origin, &i32::from(status), &body],
            )
            .await
            .context("saving a shared robots.txt")?;
            Ok(())
        })
    }
}
