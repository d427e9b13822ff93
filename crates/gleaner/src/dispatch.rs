//! Fair dispatch of the pipeline's jobs: a slow host cannot starve the others.
//!
//! A job that fetches waits for its host's turn (the per-host rate, a robots.txt Crawl-delay)
//! *before* it takes one of the `concurrency` slots, never while holding one: jobs are queued
//! per host, each host has at most one task waiting for its turn ([`Fetcher::ready`]), and a
//! task takes a slot only once its host may be sent the request. Tasks ready to go queue for
//! the slots in the order they became ready (the semaphore is fair), so ready hosts are served
//! round-robin. Jobs that fetch nothing (a full-content feed item) form one more queue of
//! their own, with no turn to wait for.
//!
//! While several hosts have work, each may have at most its share of the slots under way
//! (`concurrency / hosts`, at least one): a host that answers slowly or keeps asking to be
//! retried later (its jobs wait out `Retry-After` holding their slots) cannot take them all
//! one job after another. A host alone gets every slot.
//!
//! Memory stays bounded: at most [`MAX_QUEUED`] jobs are held in the queues (the job channel
//! is not read beyond that, which holds discovery back), at most [`MAX_QUEUED_UNFETCHED`] of
//! them jobs that carry a whole article, one waiting task per host with queued jobs, and
//! `concurrency` tasks at work.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;

use gleaner_fetch::{Fetcher, HostKey};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// Jobs held in the per-host queues at most (a fetch job is a URL and a source reference,
/// ~400 bytes with its queue slot). A run's memory should not grow with the length of its
/// listings: with 4,096 a 10,000-post blog held four times the jobs of a 1,000-post one
/// (~1.5 MB more at the peak); 1,024 is still 32 times the default concurrency.
pub const MAX_QUEUED: usize = 1024;
/// Jobs that fetch nothing (each holds a whole article) held at most.
pub const MAX_QUEUED_UNFETCHED: usize = 64;

/// The fetcher and URL a job fetches first.
type FetchOf = (Fetcher, String);

/// Which queue a job waits in: a host of a fetcher, or the queue of jobs that fetch nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Lane {
    Host(HostKey),
    Unfetched,
}

/// What a job's task tells the dispatcher about its lane.
#[derive(Debug)]
enum LaneEvent {
    /// The lane's waiting task is done waiting (it took a slot, gave up, or ended): the
    /// lane's next job may start waiting.
    Free(Lane),
    /// One of the lane's tasks ended: the lane holds one slot less.
    Done(Lane),
}

/// Sends a lane's [`LaneEvent::Free`] once, and its [`LaneEvent::Done`] when the task ends.
/// Both are sent on drop at the latest, so a task that is aborted or panics still frees its
/// lane and its share.
struct LaneGuard {
    lane: Lane,
    freed: bool,
    tx: mpsc::UnboundedSender<LaneEvent>,
}

impl LaneGuard {
    fn free(&mut self) {
        if !self.freed {
            self.freed = true;
            let _ = self.tx.send(LaneEvent::Free(self.lane.clone()));
        }
    }
}

impl Drop for LaneGuard {
    fn drop(&mut self) {
        self.free();
        let _ = self.tx.send(LaneEvent::Done(self.lane.clone()));
    }
}

/// The per-lane queues and how many tasks each lane has under way.
///
/// Fair share: while several hosts have work, each may have at most `concurrency / hosts`
/// tasks (at least one) under way — waiting for a slot or holding one. Waiting for a host's
/// turn holds no slot, but a request that takes long does: a host that answers slowly, or
/// keeps answering "503, Retry-After" (a job waits out its retries holding its slot), would
/// otherwise take every slot one job after another while the healthy hosts' jobs queue. A
/// host alone gets every slot; the lane of jobs that fetch nothing has no share to keep.
struct Lanes<J> {
    concurrency: usize,
    queues: HashMap<Lane, VecDeque<(J, Option<FetchOf>)>>,
    /// Lanes that have a task waiting for its turn or for a slot.
    waiting: HashSet<Lane>,
    /// Tasks started and not yet ended, per lane (no entry: none).
    running: HashMap<Lane, usize>,
    /// Host lanes with queued jobs or tasks under way: what the share is divided among.
    active_hosts: usize,
    /// Lanes with queued jobs and no waiting task held back by their share.
    held: HashSet<Lane>,
    queued: usize,
    queued_unfetched: usize,
}

impl<J> Lanes<J> {
    fn new(concurrency: usize) -> Self {
        Lanes {
            concurrency: concurrency.max(1),
            queues: HashMap::new(),
            waiting: HashSet::new(),
            running: HashMap::new(),
            active_hosts: 0,
            held: HashSet::new(),
            queued: 0,
            queued_unfetched: 0,
        }
    }

    fn is_active(&self, lane: &Lane) -> bool {
        self.queues.contains_key(lane) || self.running.contains_key(lane)
    }

    /// Tasks a host lane may have under way now.
    fn share(&self) -> usize {
        (self.concurrency / self.active_hosts.max(1)).max(1)
    }

    fn idle(&self) -> bool {
        self.queued == 0 && self.waiting.is_empty()
    }

    fn has_room(&self) -> bool {
        self.queued < MAX_QUEUED && self.queued_unfetched < MAX_QUEUED_UNFETCHED
    }

    /// Queue a job on its lane.
    fn push(&mut self, lane: Lane, job: J, fetch: Option<FetchOf>) {
        if matches!(lane, Lane::Host(_)) && !self.is_active(&lane) {
            self.active_hosts += 1;
        }
        if lane == Lane::Unfetched {
            self.queued_unfetched += 1;
        }
        self.queued += 1;
        self.queues.entry(lane).or_default().push_back((job, fetch));
    }

    /// The lane's next job, if the lane may start one now (no task of its waiting, and under
    /// its share); the job counts as under way from here. A lane kept back by its share is
    /// remembered, to be tried again when its share grows.
    fn start_next(&mut self, lane: &Lane) -> Option<(J, Option<FetchOf>)> {
        if self.waiting.contains(lane) || !self.queues.contains_key(lane) {
            return None;
        }
        let under_way = self.running.get(lane).copied().unwrap_or(0);
        if matches!(lane, Lane::Host(_)) && under_way >= self.share() {
            self.held.insert(lane.clone());
            return None;
        }
        self.held.remove(lane);
        let Entry::Occupied(mut queue) = self.queues.entry(lane.clone()) else {
            return None;
        };
        let next = queue.get_mut().pop_front();
        if queue.get().is_empty() {
            queue.remove();
        }
        let next = next?;
        self.queued -= 1;
        if *lane == Lane::Unfetched {
            self.queued_unfetched -= 1;
        }
        *self.running.entry(lane.clone()).or_insert(0) += 1;
        self.waiting.insert(lane.clone());
        Some(next)
    }

    /// A task of `lane` ended. Returns the lanes that may now start a job: this one, and,
    /// when it was the last of its host's work, those kept back by a share that just grew.
    fn ended(&mut self, lane: &Lane) -> Vec<Lane> {
        if let Entry::Occupied(mut count) = self.running.entry(lane.clone()) {
            *count.get_mut() -= 1;
            if *count.get() == 0 {
                count.remove();
            }
        }
        let mut retry = vec![lane.clone()];
        if matches!(lane, Lane::Host(_)) && !self.is_active(lane) {
            self.active_hosts = self.active_hosts.saturating_sub(1);
            retry.extend(self.held.drain());
        }
        retry
    }
}

/// Run every job from `jobs` with `work`, at most `concurrency` at a time, until the channel
/// closes (and all jobs are done) or `cancel` fires (jobs not yet started are dropped; those
/// at work finish). `fetch_of` names the fetcher and URL a job will fetch first, if any.
pub async fn run<J, K, W, Fut>(
    jobs: &mut mpsc::Receiver<J>,
    cancel: &CancellationToken,
    concurrency: usize,
    fetch_of: K,
    work: W,
) where
    J: Send + 'static,
    K: Fn(&J) -> Option<FetchOf>,
    W: Fn(J) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut lanes: Lanes<J> = Lanes::new(concurrency);
    let (event_tx, mut event_rx) = mpsc::unbounded_channel::<LaneEvent>();
    let mut tasks = JoinSet::new();
    let mut open = true;

    let start = |tasks: &mut JoinSet<()>, lane: Lane, job: J, fetch: Option<FetchOf>| {
        let mut guard = LaneGuard {
            lane,
            freed: false,
            tx: event_tx.clone(),
        };
        let slots = Arc::clone(&slots);
        let cancel = cancel.clone();
        let work = work.clone();
        tasks.spawn(async move {
            // Wait for the host's turn holding nothing; then for a slot.
            let ready = match &fetch {
                Some((fetcher, url)) => tokio::select! {
                    biased;
                    () = cancel.cancelled() => return,
                    ready = fetcher.ready(url) => Some(ready),
                },
                None => None,
            };
            let permit = tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                permit = slots.acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
            };
            guard.free();
            work(job).await;
            drop(ready);
            drop(permit);
            drop(guard);
        });
    };

    loop {
        if !open && lanes.idle() {
            break;
        }
        let room = lanes.has_room();
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            Some(event) = event_rx.recv() => {
                let retry = match event {
                    LaneEvent::Free(lane) => {
                        lanes.waiting.remove(&lane);
                        vec![lane]
                    }
                    LaneEvent::Done(lane) => lanes.ended(&lane),
                };
                for lane in retry {
                    if let Some((job, fetch)) = lanes.start_next(&lane) {
                        start(&mut tasks, lane, job, fetch);
                    }
                }
            }
            job = jobs.recv(), if open && room => {
                let Some(job) = job else {
                    open = false;
                    continue;
                };
                let fetch = fetch_of(&job);
                let lane = match &fetch {
                    Some((fetcher, url)) => match fetcher.host_key(url) {
                        Some(key) => Lane::Host(key),
                        // Not a URL the fetcher can use: it fails at once, no turn to wait.
                        None => Lane::Unfetched,
                    },
                    None => Lane::Unfetched,
                };
                lanes.push(lane.clone(), job, fetch);
                if let Some((job, fetch)) = lanes.start_next(&lane) {
                    start(&mut tasks, lane, job, fetch);
                }
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = done {
                    warn!("a fetch task failed: {e}");
                }
            }
        }
    }
    drop(lanes);
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done {
            warn!("a fetch task failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(fetcher: &Fetcher, url: &str) -> Lane {
        Lane::Host(fetcher.host_key(url).expect("a URL with a host"))
    }

    #[test]
    fn each_host_with_work_gets_its_share_and_a_host_alone_gets_all() {
        let fetcher = Fetcher::new(gleaner_fetch::FetchConfig::default()).unwrap();
        let slow = host(&fetcher, "http://slow.example/");
        let fast = host(&fetcher, "http://fast.example/");
        let mut lanes: Lanes<u32> = Lanes::new(4);
        for n in 0..6 {
            lanes.push(slow.clone(), n, None);
        }
        // Alone, the slow host may have every slot under way (one waiting at a time).
        for _ in 0..4 {
            assert!(lanes.start_next(&slow).is_some());
            lanes.waiting.remove(&slow);
        }
        assert!(lanes.start_next(&slow).is_none(), "four under way");
        // A second host with work: the slow one starts nothing more until it is down to its
        // share of two; the fast one starts at once.
        lanes.push(fast.clone(), 100, None);
        lanes.push(fast.clone(), 101, None);
        assert!(lanes.start_next(&fast).is_some());
        lanes.waiting.remove(&fast);
        for _ in 0..2 {
            for lane in lanes.ended(&slow) {
                assert!(lanes.start_next(&lane).is_none(), "over its share");
            }
        }
        assert!(lanes.ended(&slow).contains(&slow));
        assert!(lanes.start_next(&slow).is_some(), "under its share again");
        lanes.waiting.remove(&slow);
        assert!(lanes.start_next(&slow).is_none(), "at its share: kept back");
        // The fast host's work is done: the slow one's share is every slot again.
        assert!(lanes.start_next(&fast).is_some());
        lanes.waiting.remove(&fast);
        lanes.ended(&fast);
        let freed = lanes.ended(&fast);
        assert!(freed.contains(&slow), "kept back lanes are tried again");
        assert_eq!(lanes.share(), 4);
    }
}
