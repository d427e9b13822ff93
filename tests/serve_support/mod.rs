//! Support for the `gleaner serve` tests: a database built by the real binary from the
//! Blogger fixtures, a hostile article, the server as a child process on a free loopback
//! port, and a small HTTP/1.1 GET.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gleaner_model::{Article, Entity, EntityKind};

use crate::common::{Response, TestServer, assert_exit, fixture, gleaner};

pub const CLASSIC_PATH: &str = "/2022/01/iran-wants-strategic-ties-with-russia.html";
pub const CONTEMPO_PATH: &str = "/2022/05/kenya-central-bank-raises-key-rate.html";

/// A page server with the two Blogger fixtures.
pub fn fixture_pages() -> TestServer {
    let server = TestServer::start();
    server.set(
        CLASSIC_PATH,
        Response::html(fixture("blogger/classic_minima_seed_post.html")),
    );
    server.set(
        CONTEMPO_PATH,
        Response::html(fixture("blogger/contempo_post.html")),
    );
    server
}

/// `gleaner scrape URL` into `dir/news.db`.
pub fn scrape(dir: &Path, url: &str) {
    scrape_into(dir, "news.db", url);
}

/// `gleaner --db DB scrape URL` in `dir`.
pub fn scrape_into(dir: &Path, db: &str, url: &str) {
    let out = gleaner(dir, &["--db", db, "scrape", url]);
    assert_exit(&out, 0);
}

/// The payloads a hostile article carries: each would set `window.__pwned` or the document
/// title if it ran.
pub const SCRIPT: &str = "<script>window.__pwned=1;document.title='PWNED'</script>";
pub const IMG: &str = "\"><img src=x onerror=\"window.__pwned=2;document.title='PWNED'\">";
pub const SVG: &str = "<svg onload=\"window.__pwned=3\"><script>window.__pwned=4</script></svg>";
pub const JS_URL: &str = "javascript:window.__pwned=5;document.title='PWNED'";

/// Store an article whose every field carries a payload, with an entity whose name does
/// too; returns its id.
pub fn add_hostile_article(db: &Path) -> i64 {
    let mut store = gleaner_store::Store::open(db).unwrap();
    store.upsert_article(&hostile_article(), None).unwrap().id
}

/// The article [`add_hostile_article`] stores.
pub fn hostile_article() -> Article {
    let mention = "Mallory\"><script>window.__pwned=6</script>";
    let body = format!(
        "Opening {SCRIPT} then {IMG}\n\nA link <a href=\"{JS_URL}\">click</a> and {SVG}. Said {mention} today."
    );
    let start = body.chars().count() - " today.".chars().count() - mention.chars().count();
    Article {
        url: JS_URL.into(),
        canonical_url: Some("data:text/html,<script>window.__pwned=7</script>".into()),
        title: format!("Hostile {SCRIPT}{IMG}"),
        author: Some(format!("Eve {IMG}")),
        labels: vec![format!("label {SCRIPT}"), format!("{IMG}")],
        published_at: Some(
            chrono::DateTime::parse_from_rfc3339("2022-03-01T10:00:00Z")
                .unwrap()
                .into(),
        ),
        content_hash: "hostile".into(),
        entities: vec![Entity {
            kind: EntityKind::Person,
            text: mention.into(),
            name: format!("{mention} {SVG}"),
            start,
            end: start + mention.chars().count(),
        }],
        body,
        ..Article::default()
    }
}

/// `gleaner serve` on a free loopback port, killed when dropped.
pub struct Served {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl Served {
    pub fn start(dir: &Path, db: &str) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gleaner"))
            .current_dir(dir)
            .args(["--db", db, "serve", "--bind", "127.0.0.1:0"])
            .env_remove("GLEANER_DB")
            .env_remove("GLEANER_CONFIG")
            .env_remove("GLEANER_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("gleaner serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .trim_end_matches('/')
            .to_string();
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        Served { child, base }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str) -> Reply {
        get(&self.url(path))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{}",
            self.body
        );
        serde_json::from_str(&self.body).unwrap()
    }
}

/// GET `url` (http://127.0.0.1:PORT/…) over a fresh connection.
pub fn get(url: &str) -> Reply {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    if headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body: String::from_utf8(body).unwrap(),
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..eol])
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
    out
}

/// A percent-encoded query value.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `dir/news.db`.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("news.db")
}

/// The backends a serve test runs on: SQLite always; PostgreSQL when `GLEANER_TEST_POSTGRES`
/// names a server (a fresh schema per test, dropped afterwards), else the test says it was
/// skipped there and why.
pub enum Backend {
    Sqlite,
    Postgres(PgSchema),
}

const PG_ENV: &str = "GLEANER_TEST_POSTGRES";

pub fn backends(test: &str) -> Vec<Backend> {
    let mut all = vec![Backend::Sqlite];
    match PgSchema::new() {
        Some(schema) => all.push(Backend::Postgres(schema)),
        // Written past the test harness's capture, so that a passing run says it too.
        None => {
            let _ = std::io::stderr().write_all(
                format!(
                    "{test}: skipped on PostgreSQL: {PG_ENV} is not set (e.g. {PG_ENV}=postgres://postgres@127.0.0.1:5432/test)\n"
                )
                .as_bytes(),
            );
        }
    }
    all
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// What `--db` names: `news.db` in the test's directory, or the schema's address.
    pub fn db(&self) -> String {
        match self {
            Backend::Sqlite => "news.db".into(),
            Backend::Postgres(schema) => schema.url.clone(),
        }
    }

    /// Make the database of `dir/news.db` (built with SQLite) this backend's: on
    /// PostgreSQL, `gleaner copy` moves it, ids and all.
    pub fn load(&self, dir: &Path) {
        if let Backend::Postgres(schema) = self {
            let out = gleaner(
                dir,
                &["copy", "--from", "news.db", "--to", schema.url.as_str()],
            );
            assert_exit(&out, 0);
        }
    }

    /// The server over this backend's database.
    pub fn serve(&self, dir: &Path) -> Served {
        Served::start(dir, &self.db())
    }

    /// Store the hostile article in this backend's database; its id.
    pub fn add_hostile_article(&self, dir: &Path) -> i64 {
        match self {
            Backend::Sqlite => add_hostile_article(&db_path(dir)),
            Backend::Postgres(schema) => {
                let mut store = gleaner_store::AnyStore::open(&schema.url).unwrap();
                store.upsert_article(&hostile_article(), None).unwrap().id
            }
        }
    }
}

/// A schema of its own on the test server, dropped when the test ends.
pub struct PgSchema {
    base: String,
    name: String,
    pub url: String,
}

impl PgSchema {
    fn new() -> Option<PgSchema> {
        let base = std::env::var(PG_ENV).ok()?;
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!(
            "gleaner_serve_{}_{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        pg_admin(
            &base,
            &format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"),
        );
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{name}");
        Some(PgSchema { base, name, url })
    }

    /// Run `sql` in this schema.
    pub fn execute(&self, sql: &str) {
        pg_admin(&self.url, sql);
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        pg_admin(
            &self.base,
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        );
    }
}

fn pg_admin(url: &str, sql: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("{PG_ENV}={url} does not answer: {e}"));
        let task = tokio::spawn(conn);
        client.batch_execute(sql).await.unwrap();
        drop(client);
        let _ = task.await;
    });
}
