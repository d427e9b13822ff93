//! Work shared by cooperative workers on PostgreSQL (leases with SKIP LOCKED, shared host
//! slots, shared robots.txt), each worker a thread with a connection of its own, as
//! separate processes would have. Needs `GLEANER_TEST_POSTGRES`; skipped, saying so, without.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use gleaner_store::HostTurn;
use gleaner_store::pg::PgStore;

fn page_keys(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("page:https://h{}.example/p/{i}.html", i % 3))
        .collect()
}

#[test]
fn four_workers_claim_disjoint_batches_and_finish_everything() {
    let Some(db) = support::PgSchema::new("four_workers_claim_disjoint_batches") else {
        return;
    };
    let mut store = PgStore::open(&db.url).unwrap();
    let keys = page_keys(600);
    assert_eq!(store.enqueue(&keys).unwrap(), 600);
    assert_eq!(
        store.enqueue(&keys).unwrap(),
        0,
        "queueing again adds nothing"
    );
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let url = db.url.clone();
            std::thread::spawn(move || {
                let mut s = PgStore::open(&url).unwrap();
                let me = format!("worker-{w}");
                let mut mine = Vec::new();
                loop {
                    let batch = s.claim(&me, "page:", 10, Duration::from_secs(30)).unwrap();
                    if batch.is_empty() {
                        break;
                    }
                    assert!(batch.len() <= 10);
                    s.finish(&batch).unwrap();
                    mine.extend(batch);
                }
                mine
            })
        })
        .collect();
    let got: Vec<Vec<String>> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let total: usize = got.iter().map(Vec::len).sum();
    let all: HashSet<&String> = got.iter().flatten().collect();
    assert_eq!(total, 600, "no unit handed out twice");
    assert_eq!(all.len(), 600, "every unit handed out");
    assert!(
        got.iter().filter(|g| !g.is_empty()).count() >= 2,
        "the work was shared: {:?}",
        got.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert_eq!(store.open_work("page:").unwrap(), 0);
    assert!(
        store
            .claim("late", "page:", 10, Duration::from_secs(1))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn the_work_of_a_dead_worker_is_taken_over_when_its_lease_runs_out() {
    let Some(db) = support::PgSchema::new("the_work_of_a_dead_worker_is_taken_over") else {
        return;
    };
    let mut dead = PgStore::open(&db.url).unwrap();
    let mut alive = PgStore::open(&db.url).unwrap();
    dead.enqueue(&page_keys(30)).unwrap();
    let ttl = Duration::from_millis(800);
    let held = dead.claim("dead", "page:", 10, ttl).unwrap();
    assert_eq!(held.len(), 10);
    drop(dead); // killed: it renews nothing and finishes nothing
    let first = alive.claim("alive", "page:", 100, ttl).unwrap();
    assert_eq!(
        first.len(),
        20,
        "the dead worker's units are held until its lease ends"
    );
    assert!(first.iter().all(|k| !held.contains(k)));
    alive.finish(&first).unwrap();
    // Renewing keeps a lease; a lease that is kept is not taken.
    assert_eq!(
        alive.renew("alive", &first, ttl).unwrap(),
        0,
        "done units are not renewed"
    );
    std::thread::sleep(ttl + Duration::from_millis(300));
    let mut taken = alive.claim("alive", "page:", 100, ttl).unwrap();
    taken.sort();
    let mut expected = held.clone();
    expected.sort();
    assert_eq!(
        taken, expected,
        "the dead worker's units go to the live one"
    );
    assert_eq!(
        alive
            .renew("alive", &taken, Duration::from_secs(30))
            .unwrap(),
        10
    );
    std::thread::sleep(ttl + Duration::from_millis(300));
    assert!(
        alive.claim("third", "page:", 100, ttl).unwrap().is_empty(),
        "renewed leases are not taken"
    );
    assert_eq!(alive.release("alive", &taken).unwrap(), 10);
    assert_eq!(alive.claim("third", "page:", 100, ttl).unwrap().len(), 10);
}

#[test]
fn one_worker_at_a_time_reads_a_listing() {
    let Some(db) = support::PgSchema::new("one_worker_at_a_time_reads_a_listing") else {
        return;
    };
    let mut a = PgStore::open(&db.url).unwrap();
    let mut b = PgStore::open(&db.url).unwrap();
    let key = "listing:https://h0.example/";
    let ttl = Duration::from_secs(30);
    assert!(a.claim_key("a", key, ttl, None).unwrap());
    assert!(!b.claim_key("b", key, ttl, None).unwrap(), "held by a");
    assert!(
        a.claim_key("a", key, ttl, None).unwrap(),
        "its holder renews it"
    );
    a.release("a", &[key.to_string()]).unwrap();
    assert!(
        b.claim_key("b", key, ttl, None).unwrap(),
        "released: b takes it"
    );
    b.finish(&[key.to_string()]).unwrap();
    assert!(
        !a.claim_key("a", key, ttl, None).unwrap(),
        "done: nobody reads it again"
    );
}

/// Take `host`'s turn, waiting while it is not due: when it was taken (server time).
fn take_turn(s: &mut PgStore, host: &str, interval: Duration) -> chrono::DateTime<chrono::Utc> {
    loop {
        match s.take_host_turn(host, interval).unwrap() {
            HostTurn::Taken { at } => return at,
            HostTurn::NotYet { wait } => std::thread::sleep(wait.max(Duration::from_millis(1))),
        }
    }
}

#[test]
fn host_turns_space_requests_of_all_workers() {
    let Some(db) = support::PgSchema::new("host_turns_space_requests_of_all_workers") else {
        return;
    };
    // Four workers, 10 requests each to one host at 20 per second, plus requests to a
    // second host that must not be slowed by the first.
    let interval = Duration::from_millis(50);
    let started = Instant::now();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            std::thread::spawn(move || {
                let mut s = PgStore::open(&url).unwrap();
                (0..10)
                    .map(|_| take_turn(&mut s, "h0.example", interval))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut other = PgStore::open(&db.url).unwrap();
    assert!(
        matches!(
            other.take_host_turn("h1.example", interval).unwrap(),
            HostTurn::Taken { .. }
        ),
        "another host has its own turns"
    );
    let mut times: Vec<_> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let elapsed = started.elapsed();
    times.sort();
    // 40 turns: every two taken at least 50 ms apart (by the server's clock), and the
    // workers waited for them: the last came at least 39 * 50 ms after the first.
    for w in times.windows(2) {
        let gap = (w[1] - w[0]).to_std().unwrap();
        assert!(gap >= interval, "turns {gap:?} apart");
    }
    assert!(elapsed >= interval * 39, "{elapsed:?}");
}

#[test]
fn a_turn_not_due_is_not_taken() {
    let Some(db) = support::PgSchema::new("a_turn_not_due_is_not_taken") else {
        return;
    };
    // A turn is never handed out ahead of time: the one after a taken turn is refused until
    // it is due, with the time left, so a request cannot be sent late into another's turn.
    let interval = Duration::from_secs(30);
    let mut a = PgStore::open(&db.url).unwrap();
    let mut b = PgStore::open(&db.url).unwrap();
    assert!(matches!(
        a.take_host_turn("h.example", interval).unwrap(),
        HostTurn::Taken { .. }
    ));
    for s in [&mut a, &mut b] {
        match s.take_host_turn("h.example", interval).unwrap() {
            HostTurn::NotYet { wait } => assert!(
                wait > Duration::from_secs(25) && wait <= interval,
                "{wait:?}"
            ),
            taken => panic!("a turn not due was taken: {taken:?}"),
        }
    }
}

#[test]
fn robots_txt_is_shared() {
    let Some(db) = support::PgSchema::new("robots_txt_is_shared") else {
        return;
    };
    let mut a = PgStore::open(&db.url).unwrap();
    let mut b = PgStore::open(&db.url).unwrap();
    let origin = "https://h0.example";
    assert!(
        b.robots_txt(origin, Duration::from_secs(60))
            .unwrap()
            .is_none()
    );
    a.save_robots_txt(origin, 200, "User-agent: *\nDisallow: /private/\n")
        .unwrap();
    let (status, body) = b
        .robots_txt(origin, Duration::from_secs(60))
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("Disallow: /private/"));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        b.robots_txt(origin, Duration::from_millis(100))
            .unwrap()
            .is_none(),
        "too old"
    );
}

/// An article whose entities are the words "Tehran" and "Brussels" where they occur.
fn article(n: usize) -> gleaner_model::Article {
    use gleaner_model::{Entity, EntityKind};
    let body =
        format!("Report {n}: envoys from Tehran met officials in Brussels, then Tehran again.");
    let mut entities = Vec::new();
    for (word, kind) in [
        ("Tehran", EntityKind::Location),
        ("Brussels", EntityKind::Location),
    ] {
        let mut from = 0;
        while let Some(i) = body[from..].find(word) {
            let start = body[..from + i].chars().count();
            entities.push(Entity {
                kind,
                text: word.into(),
                name: word.into(),
                start,
                end: start + word.len(),
            });
            from += i + word.len();
        }
    }
    entities.sort_by_key(|e| e.start);
    gleaner_model::Article {
        url: format!("https://h{}.example/2024/{n}.html", n % 3),
        title: format!("Report {n}"),
        content_hash: format!("hash-{n}"),
        word_count: 11,
        body,
        entities,
        ..gleaner_model::Article::default()
    }
}

#[test]
fn concurrent_writers_store_each_article_once() {
    let Some(db) = support::PgSchema::new("concurrent_writers_store_each_article_once") else {
        return;
    };
    // Four writers store the same 300 articles at once, in batches of 25, each in its own
    // order: every race on a new row and on the entity counters happens.
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let url = db.url.clone();
            std::thread::spawn(move || {
                let mut s = PgStore::open(&url).unwrap();
                let mut order: Vec<usize> = (0..300).collect();
                if w % 2 == 1 {
                    order.reverse();
                }
                order.rotate_left(w * 37);
                for chunk in order.chunks(25) {
                    let batch: Vec<_> = chunk.iter().map(|&n| (article(n), None)).collect();
                    s.upsert_articles(&batch).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let store = PgStore::open(&db.url).unwrap();
    let stats = store.stats().unwrap();
    assert_eq!(stats.articles, 300, "one row per article");
    // The counters agree with the mention rows: 2 x Tehran and 1 x Brussels per article.
    let top = store
        .top_entities(&gleaner_store::EntityQuery::default())
        .unwrap();
    let counts: Vec<_> = top
        .iter()
        .map(|e| (e.name.as_str(), e.mentions, e.articles))
        .collect();
    assert_eq!(counts, vec![("Tehran", 600, 300), ("Brussels", 300, 300)]);
    assert_eq!(stats.mentions, 900);
}
