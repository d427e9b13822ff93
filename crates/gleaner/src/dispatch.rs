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

/// Jobs held in the per-host queues at most (a fetch job is a URL and a source reference).
pub const MAX_QUEUED: usize = 4096;
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

/// Signals the dispatcher, once, that a lane's waiting task is done waiting (it took a slot,
/// gave up, or ended): the lane's next job may start waiting. Sent on drop, so a task that
/// is aborted or panics still frees its lane.
struct LaneFree {
    lane: Option<Lane>,
    tx: mpsc::UnboundedSender<Lane>,
}

impl LaneFree {
    fn send(&mut self) {
        if let Some(lane) = self.lane.take() {
            let _ = self.tx.send(lane);
        }
    }
}

impl Drop for LaneFree {
    fn drop(&mut self) {
        self.send();
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
    let mut queues: HashMap<Lane, VecDeque<(J, Option<FetchOf>)>> = HashMap::new();
    // Lanes that have a task waiting for its turn or for a slot.
    let mut waiting: HashSet<Lane> = HashSet::new();
    let mut queued = 0usize;
    let mut queued_unfetched = 0usize;
    let (free_tx, mut free_rx) = mpsc::unbounded_channel::<Lane>();
    let mut tasks = JoinSet::new();
    let mut open = true;

    let start = |tasks: &mut JoinSet<()>, lane: Lane, job: J, fetch: Option<FetchOf>| {
        let mut free = LaneFree {
            lane: Some(lane),
            tx: free_tx.clone(),
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
            free.send();
            work(job).await;
            drop(ready);
            drop(permit);
        });
    };

    loop {
        if !open && queued == 0 && waiting.is_empty() {
            break;
        }
        let room = queued < MAX_QUEUED && queued_unfetched < MAX_QUEUED_UNFETCHED;
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            Some(lane) = free_rx.recv() => {
                waiting.remove(&lane);
                if let Entry::Occupied(mut entry) = queues.entry(lane.clone()) {
                    if let Some((job, fetch)) = entry.get_mut().pop_front() {
                        queued -= 1;
                        if lane == Lane::Unfetched {
                            queued_unfetched -= 1;
                        }
                        waiting.insert(lane.clone());
                        start(&mut tasks, lane, job, fetch);
                    }
                    if entry.get().is_empty() {
                        entry.remove();
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
                if waiting.contains(&lane) {
                    if lane == Lane::Unfetched {
                        queued_unfetched += 1;
                    }
                    queued += 1;
                    queues.entry(lane).or_default().push_back((job, fetch));
                } else {
                    waiting.insert(lane.clone());
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
    drop(queues);
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done {
            warn!("a fetch task failed: {e}");
        }
    }
}
