//! Test support: a small HTTP/1.1 server on 127.0.0.1 whose routes the test sets and changes,
//! and a way to run the real `gleaner` binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod hostile;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One canned response.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn html(body: impl Into<Vec<u8>>) -> Self {
        Response {
            status: 200,
            content_type: "text/html; charset=UTF-8".into(),
            headers: vec![],
            body: body.into(),
        }
    }
    pub fn with_type(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            content_type: content_type.into(),
            headers: vec![],
            body: body.into(),
        }
    }
}

/// A local server. Routes are matched on path + query first, then on the path alone;
/// anything else is a 404.
pub struct TestServer {
    pub port: u16,
    routes: Arc<Mutex<HashMap<String, Response>>>,
    hits: Arc<Mutex<Vec<String>>>,
    /// Answer 304 to a request whose `If-None-Match` is the route's `ETag` header, or whose
    /// `If-Modified-Since` is not before its `Last-Modified` (as a server does); off by
    /// default (the canned response whatever is asked).
    etags: Arc<std::sync::atomic::AtomicBool>,
}

impl TestServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let routes: Arc<Mutex<HashMap<String, Response>>> = Arc::default();
        let hits: Arc<Mutex<Vec<String>>> = Arc::default();
        let etags: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        let (r, h, e) = (Arc::clone(&routes), Arc::clone(&hits), Arc::clone(&etags));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (r, h, e) = (Arc::clone(&r), Arc::clone(&h), Arc::clone(&e));
                std::thread::spawn(move || {
                    serve(stream, &r, &h, e.load(std::sync::atomic::Ordering::Relaxed))
                });
            }
        });
        TestServer {
            port,
            routes,
            hits,
            etags,
        }
    }

    /// From now on, answer 304 to conditional requests as a server does (see `etags`).
    pub fn honour_etags(&self) {
        self.etags.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path_and_query)
    }

    pub fn set(&self, path_and_query: &str, response: Response) {
        self.routes
            .lock()
            .unwrap()
            .insert(path_and_query.to_string(), response);
    }

    /// Requests whose path (without query) is `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.split('?').next() == Some(path))
            .count()
    }

    pub fn all_hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }
}

fn serve(
    mut stream: TcpStream,
    routes: &Mutex<HashMap<String, Response>>,
    hits: &Mutex<Vec<String>>,
    etags: bool,
) {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    let text = String::from_utf8_lossy(&head);
    let target = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_string();
    hits.lock().unwrap().push(target.clone());
    let path = target.split('?').next().unwrap_or("/").to_string();
    let response = {
        let routes = routes.lock().unwrap();
        routes.get(&target).or_else(|| routes.get(&path)).cloned()
    }
    .unwrap_or_else(|| Response::with_type(404, "text/html", "<h1>Not found</h1>"));
    let if_none_match = text.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("if-none-match")
            .then(|| value.trim().to_string())
    });
    let etag = response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("etag"))
        .map(|(_, v)| v.clone());
    // If-Modified-Since as servers answer it: 304 when the page's Last-Modified is not
    // later than the date asked about.
    let header = |name: &str| {
        text.lines().find_map(|l| {
            let (n, value) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    };
    let date = |v: &str| chrono::DateTime::parse_from_rfc2822(v).ok();
    let last_modified = response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("last-modified"))
        .and_then(|(_, v)| date(v));
    let not_modified_since = matches!(
        (header("if-modified-since").as_deref().and_then(date), last_modified),
        (Some(since), Some(modified)) if modified <= since
    ) && if_none_match.is_none();
    let response =
        if etags && ((if_none_match.is_some() && if_none_match == etag) || not_modified_since) {
            Response {
                status: 304,
                body: Vec::new(),
                ..response
            }
        } else {
            response
        };
    let reason = match response.status {
        200 => "OK",
        304 => "Not Modified",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        response.status,
        reason,
        response.content_type,
        response.body.len()
    );
    for (k, v) in &response.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let _ = stream.write_all(out.as_bytes());
    let _ = stream.write_all(&response.body);
    let _ = stream.flush();
}

/// The repository's `tests/fixtures` folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).unwrap()
}

/// Run the real binary in `dir` with a clean environment for gleaner's variables.
pub fn gleaner(dir: &Path, args: &[&str]) -> Output {
    gleaner_with_stdin(dir, args, None)
}

pub fn gleaner_with_stdin(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gleaner"));
    cmd.current_dir(dir)
        .args(args)
        .env_remove("GLEANER_DB")
        .env_remove("GLEANER_CONFIG")
        .env_remove("GLEANER_LOG")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the gleaner binary runs");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Assert the command exited with `code`, showing its output when it did not.
pub fn assert_exit(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "exit code\n--- stdout ---\n{}\n--- stderr ---\n{}",
        stdout(o),
        stderr(o)
    );
}

/// `body[start..end]` counted in chars.
pub fn char_slice(body: &str, start: usize, end: usize) -> String {
    body.chars()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect()
}
