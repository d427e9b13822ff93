//! robots.txt shared by the cooperating `gleaner run` workers of one PostgreSQL database:
//! the fetchers of every worker ask the store before reading a host's robots.txt, so the
//! file is read once for all of them (one worker holds the `robots:<host>` lease while it
//! reads, the others wait for what it saves) and every worker obeys the same rules. The
//! per-host request turns (the rate limit across all workers) are taken here too, on the
//! same connection of its own: the fetcher takes a host's turn right before each request.

use std::sync::Mutex;
use std::time::Duration;

use gleaner_fetch::{SharedRobots, SharedRobotsTxt};
use gleaner_store::{AnyStore, RobotsTxtLookup};
use tracing::debug;

use crate::pipeline::off_the_runtime;

/// How long a saved robots.txt serves every worker (RFC 9309 lets a crawler keep one up to
/// 24 hours); runs further apart read it again.
const ROBOTS_MAX_AGE: Duration = Duration::from_secs(3600);

/// The store's robots.txt files and host request turns, on a connection of their own.
pub struct StoreRobots {
    store: Mutex<AnyStore>,
}

impl StoreRobots {
    /// Over an open store (give it a connection of its own: calls come from every fetch task).
    pub fn new(store: AnyStore) -> Self {
        StoreRobots {
            store: Mutex::new(store),
        }
    }
}

impl SharedRobots for StoreRobots {
    fn lookup(&self, host: &str) -> SharedRobotsTxt {
        let found = match off_the_runtime(|| {
            self.store
                .lock()
                .map(|mut store| store.robots_txt_lookup(host, ROBOTS_MAX_AGE))
        }) {
            Ok(found) => found,
            Err(_) => return SharedRobotsTxt::ReadIt,
        };
        match found {
            Ok(RobotsTxtLookup::Saved { status, body }) => SharedRobotsTxt::Known {
                status,
                body: body.into_bytes(),
            },
            Ok(RobotsTxtLookup::Wait) => SharedRobotsTxt::Wait,
            Ok(RobotsTxtLookup::ReadIt) => SharedRobotsTxt::ReadIt,
            // Reading it again is safe; going without it is not.
            Err(e) => {
                debug!(host, "no shared robots.txt ({e}); reading it here");
                SharedRobotsTxt::ReadIt
            }
        }
    }

    fn take_turn(&self, host: &str, interval: Duration) -> Option<Duration> {
        let turn = match self.store.lock() {
            Ok(mut store) => off_the_runtime(|| store.take_host_turn(host, interval)),
            Err(_) => return None,
        };
        turn.unwrap_or_else(|e| {
            debug!(host, "no shared request turn ({e}); going on");
            None
        })
    }

    fn store(&self, host: &str, answer: Option<(u16, &[u8])>) {
        let text = answer.map(|(status, body)| (status, String::from_utf8_lossy(body)));
        let result = match self.store.lock() {
            Ok(mut store) => off_the_runtime(|| {
                store.robots_txt_read(
                    host,
                    text.as_ref().map(|(status, body)| (*status, body.as_ref())),
                )
            }),
            Err(_) => return,
        };
        if let Err(e) = result {
            debug!(host, "could not keep robots.txt for the other workers: {e}");
        }
    }
}
