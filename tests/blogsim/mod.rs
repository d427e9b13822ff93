//! A Blogger-like blog served from 127.0.0.1, for the `gleaner run` end-to-end tests and the
//! run bench: a JSON posts feed paged with `start-index`/`max-results` (at most 150 a page),
//! ordered by `orderby=published|updated` and bounded by `published-min`/`published-max`
//! (and `updated-min`/`updated-max`, which only count with `orderby=updated`, as Blogger
//! documents), min bounds inclusive and max bounds exclusive as in Google's feed protocol;
//! posts deleted, published or edited while a read is under way (before the Nth feed
//! request); full-content or summary entries; classic
//! Blogger post pages; `ETag`/`Last-Modified` on everything and 304 answers to conditional
//! requests; faults (fail N times, fail always, cut the body short, windows-1252); optional
//! latency; and a log of every request with the status it got.
//!
//! Everything here is written for these tests (no page or text is copied from anywhere).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as Span, SecondsFormat, TimeZone, Utc};
use serde_json::{Value, json};

/// Whether the feed carries whole posts or summaries (so post pages must be fetched).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedMode {
    Full,
    Summary,
}

/// Something to go wrong with one URL.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer `status` the next `times` requests (`u32::MAX`: always), with `Retry-After`
    /// when given; then answer normally.
    Fail {
        status: u16,
        times: u32,
        retry_after: Option<u32>,
    },
    /// Announce the whole body in `Content-Length`, send half of it, close the connection.
    Truncate,
    /// Serve the page in windows-1252, the charset named only in a `<meta>` tag.
    Windows1252,
    /// Answer 200 with a body that is not a feed (the same body each time, so the same ETag).
    Garbage,
}

/// One post of the blog.
#[derive(Clone, Debug)]
pub struct Post {
    pub n: usize,
    pub post_id: String,
    pub path: String,
    pub title: String,
    pub author: String,
    pub published: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub labels: Vec<String>,
    pub paragraphs: Vec<String>,
    pub version: u32,
    /// Deleted: gone from the feed, its page answers 404.
    pub deleted: bool,
}

/// A change to the blog made while it is being read.
#[derive(Clone, Debug)]
pub enum Change {
    /// Delete post `n`.
    Delete(usize),
    /// Publish a new post at `published`, last updated at `updated`.
    Publish {
        published: DateTime<Utc>,
        updated: DateTime<Utc>,
    },
    /// Edit post `n` at `updated`, adding a paragraph.
    Edit {
        n: usize,
        paragraph: String,
        updated: DateTime<Utc>,
    },
}

/// One request the server answered.
#[derive(Clone, Debug)]
pub struct Hit {
    /// Path and query.
    pub target: String,
    pub status: u16,
    /// True when the request carried `If-None-Match` or `If-Modified-Since`.
    pub conditional: bool,
    /// When the answer was sent (after the server's latency).
    pub at: Instant,
    /// When the request had arrived (read whole, before the latency and before waiting for
    /// the server's state): what a client's request rate is measured by.
    pub arrived: Instant,
}

impl Hit {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
    pub fn is_feed(&self) -> bool {
        self.path().starts_with("/feeds/")
    }
    pub fn is_post(&self) -> bool {
        self.path().ends_with(".html")
    }
}

struct State {
    posts: Vec<Post>,
    /// The most posts a feed page holds, whatever `max-results` asks (150 by default).
    page_cap: usize,
    faults: HashMap<String, Fault>,
    routes: HashMap<String, (String, Vec<u8>)>,
    hits: Vec<Hit>,
    /// Feed requests answered so far.
    feed_requests: usize,
    /// Changes made just before the Nth feed request (1-based) is answered.
    planned: Vec<(usize, Change)>,
}

/// The blog and its server.
#[derive(Clone)]
pub struct BlogServer {
    pub port: u16,
    pub blog_id: String,
    pub name: String,
    pub mode: FeedMode,
    latency: Duration,
    state: Arc<Mutex<State>>,
}

const PEOPLE: &[&str] = &[
    "Mara Lindqvist",
    "Jonas Berg",
    "Amira Haddad",
    "Tomas Novak",
    "Lena Fischer",
    "Pedro Alves",
    "Ingrid Solberg",
];
const PLACES: &[&str] = &[
    "Gothenburg",
    "Rotterdam",
    "Lisbon",
    "Gdansk",
    "Tallinn",
    "Antwerp",
    "Bergen",
];
const TOPICS: &[&str] = &[
    "container volumes",
    "ferry timetables",
    "dredging work",
    "crane orders",
    "pilot shortages",
    "ice conditions",
];

impl BlogServer {
    /// Start a blog of `posts` posts. `seed` keeps blog and post ids apart between blogs.
    pub fn start(name: &str, seed: u32, mode: FeedMode, posts: usize, latency: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let blog_id = format!("55{seed:02}0000000000000{seed:02}");
        let base = Utc.with_ymd_and_hms(2023, 1, 2, 8, 0, 0).unwrap();
        let posts = (0..posts)
            .map(|n| {
                let published = base + Span::hours(n as i64 * 3) + Span::milliseconds(250);
                let topic = TOPICS[n % TOPICS.len()];
                let person = PEOPLE[n % PEOPLE.len()];
                let place = PLACES[(n / 2) % PLACES.len()];
                let other = PLACES[(n + 3) % PLACES.len()];
                let slug = format!("{}-in-{}-{n}", topic.replace(' ', "-"), place.to_lowercase());
                Post {
                    n,
                    post_id: format!("7{seed:02}00000000000{n:05}"),
                    path: format!("/{}/{slug}.html", published.format("%Y/%m")),
                    title: format!("{} in {place}, report {n}", capitalise(topic)),
                    author: PEOPLE[(n + seed as usize) % PEOPLE.len()].to_string(),
                    published,
                    updated: published,
                    labels: vec![topic.to_string(), place.to_string()],
                    paragraphs: vec![
                        format!(
                            "{person} said on Monday that {topic} in {place} rose {}% in the first quarter, the harbour office reported in its note number {n}.",
                            n % 40 + 1
                        ),
                        format!(
                            "The authority in {other} expects about ${} million of new investment by 2026, according to figures seen by this blog.",
                            n % 90 + 10
                        ),
                    ],
                    version: 1,
                    deleted: false,
                }
            })
            .collect();
        let state = Arc::new(Mutex::new(State {
            posts,
            page_cap: 150,
            faults: HashMap::new(),
            routes: HashMap::new(),
            hits: Vec::new(),
            feed_requests: 0,
            planned: Vec::new(),
        }));
        let server = BlogServer {
            port,
            blog_id,
            name: name.to_string(),
            mode,
            latency,
            state,
        };
        let accepting = server.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let me = accepting.clone();
                std::thread::spawn(move || me.serve_connection(stream));
            }
        });
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn home(&self) -> String {
        self.url("/")
    }

    pub fn post(&self, n: usize) -> Post {
        self.state.lock().unwrap().posts[n].clone()
    }

    pub fn post_url(&self, n: usize) -> String {
        self.url(&self.post(n).path)
    }

    pub fn posts(&self) -> Vec<Post> {
        self.state.lock().unwrap().posts.clone()
    }

    /// Fault for a post page.
    pub fn fault_post(&self, n: usize, fault: Fault) {
        let path = self.post(n).path;
        self.state.lock().unwrap().faults.insert(path, fault);
    }

    /// Fault for the feed page starting at `start_index` (any `updated-min`).
    pub fn fault_feed_page(&self, start_index: usize, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .insert(format!("feed:{start_index}"), fault);
    }

    /// Fault for the first feed page bounded by `published-max` = `before` (whole seconds):
    /// the page a keyset read asks for after one whose oldest post is just below `before`.
    pub fn fault_feed_before(&self, before: DateTime<Utc>, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .insert(format!("feed-before:{}", before.timestamp()), fault);
    }

    /// Fault for the top feed page (no `published-max`, no offset).
    pub fn fault_feed_top(&self, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .insert("feed-top".to_string(), fault);
    }

    /// An always-failing path (a fixed route or any other).
    pub fn fault_path(&self, path: &str, status: u16) {
        self.state.lock().unwrap().faults.insert(
            path.to_string(),
            Fault::Fail {
                status,
                times: u32::MAX,
                retry_after: None,
            },
        );
    }

    pub fn clear_fault_post(&self, n: usize) {
        let path = self.post(n).path;
        self.state.lock().unwrap().faults.remove(&path);
    }

    /// Edit a post: a new last paragraph, `updated` later than every other post's.
    pub fn edit_post(&self, n: usize, paragraph: &str) {
        let mut st = self.state.lock().unwrap();
        let newest = st.posts.iter().map(|p| p.updated).max().unwrap();
        let post = &mut st.posts[n];
        post.paragraphs.push(paragraph.to_string());
        post.version += 1;
        post.updated = newest + Span::minutes(7);
    }

    /// Make `change` just before the `nth` feed request from now (1-based) is answered.
    pub fn before_feed_request(&self, nth: usize, change: Change) {
        let mut st = self.state.lock().unwrap();
        let at = st.feed_requests + nth;
        st.planned.push((at, change));
    }

    /// Make a change now.
    pub fn change(&self, change: Change) {
        apply(&mut self.state.lock().unwrap(), change);
    }

    /// Hold at most `n` posts in a feed page, whatever `max-results` asks (as Blogger does for
    /// some blogs).
    pub fn set_page_cap(&self, n: usize) {
        self.state.lock().unwrap().page_cap = n;
    }

    /// Replace a post's text without marking it updated (for fixtures, before the first run).
    pub fn set_paragraphs(&self, n: usize, paragraphs: &[&str]) {
        let mut st = self.state.lock().unwrap();
        st.posts[n].paragraphs = paragraphs.iter().map(|p| p.to_string()).collect();
    }

    /// Serve a fixed document at `path` (with an ETag and 304s like everything else).
    pub fn set_route(&self, path: &str, content_type: &str, body: impl Into<Vec<u8>>) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), (content_type.to_string(), body.into()));
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.state.lock().unwrap().hits.clone()
    }

    pub fn clear_hits(&self) {
        self.state.lock().unwrap().hits.clear();
    }

    fn serve_connection(&self, stream: TcpStream) {
        stream.set_read_timeout(Some(Duration::from_secs(60))).ok();
        stream.set_nodelay(true).ok();
        let Ok(write_half) = stream.try_clone() else {
            return;
        };
        let mut reader = BufReader::new(stream);
        let mut writer = write_half;
        loop {
            let mut request_line = String::new();
            match reader.read_line(&mut request_line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let mut headers = HashMap::new();
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
            let target = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .to_string();
            let arrived = Instant::now();
            if !self.latency.is_zero() {
                std::thread::sleep(self.latency);
            }
            let keep = self.respond(&target, &headers, arrived, &mut writer);
            if !keep {
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
        }
    }

    /// Answer one request; false when the connection must be closed.
    fn respond(
        &self,
        target: &str,
        headers: &HashMap<String, String>,
        arrived: Instant,
        out: &mut TcpStream,
    ) -> bool {
        let conditional =
            headers.contains_key("if-none-match") || headers.contains_key("if-modified-since");
        let path = target.split('?').next().unwrap_or("/").to_string();
        let query: HashMap<String, String> = target
            .split_once('?')
            .map(|(_, q)| {
                q.split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let mut st = self.state.lock().unwrap();
        if path == "/feeds/posts/default" {
            st.feed_requests += 1;
            let now = st.feed_requests;
            let due: Vec<Change> = st
                .planned
                .iter()
                .filter(|(at, _)| *at == now)
                .map(|(_, c)| c.clone())
                .collect();
            st.planned.retain(|(at, _)| *at != now);
            for change in due {
                apply(&mut st, change);
            }
        }
        let before_key = (path == "/feeds/posts/default"
            && query.get("start-index").is_none_or(|s| s == "1"))
        .then(|| query.get("published-max"))
        .flatten()
        .map(|s| s.replace("%3A", ":").replace("%2B", "+"))
        .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| format!("feed-before:{}", t.timestamp()))
        .filter(|k| st.faults.contains_key(k));
        let top_key = (path == "/feeds/posts/default"
            && query.get("start-index").is_none_or(|s| s == "1")
            && !query.contains_key("published-max")
            && st.faults.contains_key("feed-top"))
        .then(|| "feed-top".to_string());
        let fault_key = if let Some(key) = before_key.or(top_key) {
            key
        } else if path == "/feeds/posts/default" {
            format!(
                "feed:{}",
                query.get("start-index").map_or("1", String::as_str)
            )
        } else {
            path.clone()
        };
        let fault = st.faults.get_mut(&fault_key).and_then(|f| match f {
            Fault::Fail {
                status,
                times,
                retry_after,
            } if *times > 0 => {
                if *times != u32::MAX {
                    *times -= 1;
                }
                Some(Fault::Fail {
                    status: *status,
                    times: *times,
                    retry_after: *retry_after,
                })
            }
            Fault::Fail { .. } => None,
            other => Some(other.clone()),
        });
        if let Some(Fault::Fail {
            status,
            retry_after,
            ..
        }) = fault
        {
            st.hits.push(Hit {
                target: target.to_string(),
                status,
                conditional,
                at: Instant::now(),
                arrived,
            });
            drop(st);
            let extra = retry_after
                .map(|s| format!("Retry-After: {s}\r\n"))
                .unwrap_or_default();
            return write_response(out, status, "text/html", &extra, b"<h1>busy</h1>", false);
        }
        let windows1252 = matches!(fault, Some(Fault::Windows1252));
        let truncate = matches!(fault, Some(Fault::Truncate));
        let (content_type, body, last_modified): (String, Vec<u8>, Option<DateTime<Utc>>) =
            if path == "/feeds/posts/default" && matches!(fault, Some(Fault::Garbage)) {
                (
                    "application/json; charset=UTF-8".into(),
                    b"{\"feed\": [not json".to_vec(),
                    None,
                )
            } else if path == "/feeds/posts/default" {
                let body = self.feed(&st.posts, st.page_cap, &query);
                ("application/json; charset=UTF-8".into(), body.into(), None)
            } else if let Some(post) = st.posts.iter().find(|p| p.path == path && !p.deleted) {
                let html = self.page(post, windows1252);
                if windows1252 {
                    (
                        "text/html".into(),
                        to_windows1252(&html),
                        Some(post.updated),
                    )
                } else {
                    (
                        "text/html; charset=UTF-8".into(),
                        html.into(),
                        Some(post.updated),
                    )
                }
            } else if let Some((ct, body)) = st.routes.get(&path) {
                (ct.clone(), body.clone(), None)
            } else {
                st.hits.push(Hit {
                    target: target.to_string(),
                    status: 404,
                    conditional,
                    at: Instant::now(),
                    arrived,
                });
                drop(st);
                return write_response(out, 404, "text/html", "", b"<h1>Not found</h1>", false);
            };
        let etag = {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            body.hash(&mut h);
            format!("\"{:016x}\"", h.finish())
        };
        let mut validators = format!("ETag: {etag}\r\n");
        if let Some(t) = last_modified {
            validators.push_str(&format!(
                "Last-Modified: {}\r\n",
                t.format("%a, %d %b %Y %H:%M:%S GMT")
            ));
        }
        let not_modified = headers.get("if-none-match").is_some_and(|v| *v == etag);
        let status = if not_modified { 304 } else { 200 };
        st.hits.push(Hit {
            target: target.to_string(),
            status,
            conditional,
            at: Instant::now(),
            arrived,
        });
        drop(st);
        if not_modified {
            return write_response(out, 304, &content_type, &validators, b"", false);
        }
        write_response(out, 200, &content_type, &validators, &body, truncate)
    }

    fn feed(&self, posts: &[Post], page_cap: usize, query: &HashMap<String, String>) -> String {
        let start: usize = query
            .get("start-index")
            .and_then(|s| s.parse().ok())
            .unwrap_or(1)
            .max(1);
        let max: usize = query
            .get("max-results")
            .and_then(|s| s.parse().ok())
            .unwrap_or(25)
            .clamp(1, page_cap.max(1));
        let time = |key: &str| {
            query
                .get(key)
                .map(|s| s.replace("%3A", ":").replace("%2B", "+"))
                .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        let by_updated = query.get("orderby").is_some_and(|o| o == "updated");
        // Blogger ignores updated-min/updated-max unless the feed is ordered by update time.
        let (updated_min, updated_max) = if by_updated {
            (time("updated-min"), time("updated-max"))
        } else {
            (None, None)
        };
        let (published_min, published_max) = (time("published-min"), time("published-max"));
        let mut listed: Vec<&Post> = posts
            .iter()
            .filter(|p| !p.deleted)
            .filter(|p| updated_min.is_none_or(|min| p.updated >= min))
            .filter(|p| updated_max.is_none_or(|max| p.updated < max))
            .filter(|p| published_min.is_none_or(|min| p.published >= min))
            .filter(|p| published_max.is_none_or(|max| p.published < max))
            .collect();
        if by_updated {
            listed.sort_by_key(|p| std::cmp::Reverse(p.updated));
        } else {
            listed.sort_by_key(|p| std::cmp::Reverse(p.published));
        }
        let total = listed.len();
        let page: Vec<&Post> = listed.into_iter().skip(start - 1).take(max).collect();
        let entries: Vec<Value> = page.iter().map(|p| self.entry(p)).collect();
        let mut links = vec![
            json!({"rel": "http://schemas.google.com/g/2005#feed", "type": "application/atom+xml", "href": self.url("/feeds/posts/default")}),
            json!({"rel": "alternate", "type": "text/html", "href": self.home()}),
        ];
        if start - 1 + max < total {
            let mut next = format!(
                "{}?alt=json&start-index={}&max-results={max}",
                self.url("/feeds/posts/default"),
                start + max
            );
            for key in [
                "orderby",
                "updated-min",
                "updated-max",
                "published-min",
                "published-max",
            ] {
                if let Some(v) = query.get(key) {
                    next.push_str(&format!("&{key}={v}"));
                }
            }
            links.push(json!({"rel": "next", "type": "application/atom+xml", "href": next}));
        }
        json!({
            "version": "1.0",
            "encoding": "UTF-8",
            "feed": {
                "xmlns": "http://www.w3.org/2005/Atom",
                "xmlns$openSearch": "http://a9.com/-/spec/opensearchrss/1.0/",
                "xmlns$blogger": "http://schemas.google.com/blogger/2008",
                "xmlns$thr": "http://purl.org/syndication/thread/1.0",
                "id": {"$t": format!("tag:blogger.com,1999:blog-{}", self.blog_id)},
                "updated": {"$t": stamp(posts.iter().map(|p| p.updated).max().unwrap_or_default())},
                "title": {"type": "text", "$t": self.name},
                "link": links,
                "author": [{"name": {"$t": "Harbour Desk"}}],
                "generator": {"version": "7.00", "uri": "http://www.blogger.com", "$t": "Blogger"},
                "openSearch$totalResults": {"$t": total.to_string()},
                "openSearch$startIndex": {"$t": start.to_string()},
                "openSearch$itemsPerPage": {"$t": max.to_string()},
                "entry": entries
            }
        })
        .to_string()
    }

    fn entry(&self, p: &Post) -> Value {
        let url = self.url(&p.path);
        let html: String = p.paragraphs.iter().map(|t| format!("<p>{t}</p>")).collect();
        let mut e = json!({
            "id": {"$t": format!("tag:blogger.com,1999:blog-{}.post-{}", self.blog_id, p.post_id)},
            "published": {"$t": stamp(p.published)},
            "updated": {"$t": stamp(p.updated)},
            "category": p.labels.iter().map(|l| json!({"scheme": "http://www.blogger.com/atom/ns#", "term": l})).collect::<Vec<_>>(),
            "title": {"type": "text", "$t": p.title},
            "link": [
                {"rel": "replies", "type": "text/html", "href": format!("{url}#comment-form"), "title": "2 Comments"},
                {"rel": "alternate", "type": "text/html", "href": url, "title": p.title}
            ],
            "author": [{"name": {"$t": p.author}, "email": {"$t": "noreply@blogger.com"}}],
            "thr$total": {"$t": "2"}
        });
        match self.mode {
            FeedMode::Full => e["content"] = json!({"type": "html", "$t": html}),
            FeedMode::Summary => {
                let summary: String = p.paragraphs[0].chars().take(90).collect();
                e["summary"] = json!({"type": "text", "$t": summary});
            }
        }
        e
    }

    fn page(&self, p: &Post, windows1252: bool) -> String {
        let url = self.url(&p.path);
        let charset = if windows1252 { "windows-1252" } else { "UTF-8" };
        let body: String = p
            .paragraphs
            .iter()
            .map(|t| format!("<p>{t}</p>\n"))
            .collect();
        let labels: Vec<String> = p
            .labels
            .iter()
            .map(|l| {
                format!(
                    "<a href='{}' rel='tag'>{l}</a>",
                    self.url("/search/label/x")
                )
            })
            .collect();
        format!(
            "<!DOCTYPE html>
<html dir='ltr' lang='en'><head>
<meta content='text/html; charset={charset}' http-equiv='Content-Type'/>
<meta content='blogger' name='generator'/>
<link href='{url}' rel='canonical'/>
<link rel='service.post' type='application/atom+xml' href='https://www.blogger.com/feeds/{blog}/posts/default'/>
<title>{name}: {title}</title>
</head><body>
<div class='navbar section' id='navbar'>Create Blog Sign In</div>
<div class='main-outer'><div class='blog-posts hfeed'>
<div class='date-outer'><h2 class='date-header'><span>{day}</span></h2>
<div class='post-outer'><div class='post hentry' itemprop='blogPost' itemscope='itemscope' itemtype='http://schema.org/BlogPosting'>
<meta content='{blog}' itemprop='blogId'/>
<meta content='{post_id}' itemprop='postId'/>
<a name='{post_id}'></a>
<h3 class='post-title entry-title' itemprop='name'>{title}</h3>
<div class='post-header'><div class='post-header-line-1'></div></div>
<div class='post-body entry-content' id='post-body-{post_id}' itemprop='description articleBody'>
{body}<div style='clear: both;'></div>
</div>
<div class='post-footer'><div class='post-footer-line post-footer-line-1'>
<span class='post-author vcard'>Posted by <span class='fn' itemprop='author'>{author}</span></span>
<span class='post-timestamp'>at <a class='timestamp-link' href='{url}' rel='bookmark'><abbr class='published' itemprop='datePublished' title='{published}'>9:00 AM</abbr></a></span>
<span class='post-comment-link'></span>
</div><div class='post-footer-line post-footer-line-2'>
<span class='post-labels'>Labels: {labels}</span>
</div></div></div>
<div class='comments' id='comments'><h4>2 comments:</h4>
<p>Note: Only a member of this blog may post a comment.</p></div>
</div></div></div></div>
<div class='footer-outer'>Powered by <a href='https://www.blogger.com'>Blogger</a>.</div>
</body></html>
",
            blog = self.blog_id,
            name = self.name,
            title = p.title,
            post_id = p.post_id,
            day = p.published.format("%A, %B %-d, %Y"),
            author = p.author,
            published = stamp(p.published),
            labels = labels.join(", "),
        )
    }
}

fn apply(st: &mut State, change: Change) {
    match change {
        Change::Delete(n) => st.posts[n].deleted = true,
        Change::Publish { published, updated } => {
            let n = st.posts.len();
            let mut post = st.posts[n - 1].clone();
            post.n = n;
            post.post_id = format!("{}9{n:05}", &post.post_id[..post.post_id.len() - 6]);
            post.path = format!("/{}/late-news-{n}.html", published.format("%Y/%m"));
            post.title = format!("Late news, report {n}");
            post.paragraphs[0] = format!(
                "Jonas Berg said the late report number {n} came in while the blog was being read."
            );
            post.published = published;
            post.updated = updated;
            post.version = 1;
            post.deleted = false;
            st.posts.push(post);
        }
        Change::Edit {
            n,
            paragraph,
            updated,
        } => {
            let post = &mut st.posts[n];
            post.paragraphs.push(paragraph);
            post.version += 1;
            post.updated = updated;
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// RFC 3339 with milliseconds and an offset, as Blogger writes times.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, false)
}

/// Encode text as windows-1252 (panics on characters it cannot hold: test data only).
pub fn to_windows1252(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            '\u{20ac}' => 0x80,
            '\u{2019}' => 0x92,
            '\u{201c}' => 0x93,
            '\u{201d}' => 0x94,
            '\u{2013}' => 0x96,
            c if (c as u32) < 0x80 => c as u8,
            c if (0xa0..=0xff).contains(&(c as u32)) => c as u32 as u8,
            c => panic!("{c:?} has no windows-1252 byte"),
        })
        .collect()
}

fn write_response(
    out: &mut TcpStream,
    status: u16,
    content_type: &str,
    extra_headers: &str,
    body: &[u8],
    truncate: bool,
) -> bool {
    let reason = match status {
        200 => "OK",
        304 => "Not Modified",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n");
    if status != 304 {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str(extra_headers);
    head.push_str("\r\n");
    let sent = if truncate {
        &body[..body.len() / 2]
    } else {
        body
    };
    let ok = out.write_all(head.as_bytes()).is_ok() && out.write_all(sent).is_ok();
    let _ = out.flush();
    ok && !truncate
}
