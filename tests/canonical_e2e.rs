//! End to end: a page whose `<link rel=canonical>` names another stored page's address does
//! not replace it. `gleaner run` against pages on 127.0.0.1 served with ETags (an unchanged
//! page answers 304 to `If-None-Match`, as real servers do, so a row overwritten once would
//! never be repaired by its own page).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{assert_exit, gleaner};

/// A page: its ETag and HTML.
type Pages = Arc<Mutex<HashMap<String, (String, String)>>>;

/// A server of pages with ETags: a request whose `If-None-Match` is the page's ETag gets 304.
/// Records (path, status) of every answer.
struct EtagServer {
    port: u16,
    pages: Pages,
    answers: Arc<Mutex<Vec<(String, u16)>>>,
}

impl EtagServer {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let pages: Pages = Arc::default();
        let answers: Arc<Mutex<Vec<(String, u16)>>> = Arc::default();
        let (p, a) = (Arc::clone(&pages), Arc::clone(&answers));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (p, a) = (Arc::clone(&p), Arc::clone(&a));
                std::thread::spawn(move || serve(stream, &p, &a));
            }
        });
        EtagServer {
            port,
            pages,
            answers,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    fn set(&self, path: &str, etag: &str, html: String) {
        self.pages
            .lock()
            .unwrap()
            .insert(path.to_string(), (format!("\"{etag}\""), html));
    }

    /// Statuses answered for `path`, in order.
    fn statuses(&self, path: &str) -> Vec<u16> {
        self.answers
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, s)| *s)
            .collect()
    }
}

fn serve(mut stream: TcpStream, pages: &Pages, answers: &Mutex<Vec<(String, u16)>>) {
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
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.lines();
    let target = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_string();
    let path = target.split('?').next().unwrap_or("/").to_string();
    let if_none_match = lines.find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("if-none-match")
            .then(|| value.trim().to_string())
    });
    let page = pages.lock().unwrap().get(&path).cloned();
    let (status, etag, body) = match page {
        Some((etag, _)) if if_none_match.as_deref() == Some(etag.as_str()) => {
            (304, Some(etag), String::new())
        }
        Some((etag, html)) => (200, Some(etag), html),
        None => (404, None, "<h1>Not found</h1>".to_string()),
    };
    answers.lock().unwrap().push((path, status));
    let reason = match status {
        200 => "OK",
        304 => "Not Modified",
        _ => "Not Found",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=UTF-8\r\nConnection: close\r\n"
    );
    if let Some(etag) = etag {
        out.push_str(&format!("ETag: {etag}\r\n"));
    }
    if status != 304 {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let _ = stream.write_all(out.as_bytes());
    let _ = stream.write_all(body.as_bytes());
    let _ = stream.flush();
}

/// A news page with its own canonical link.
fn page(title: &str, canonical: &str, paragraphs: &[&str]) -> String {
    let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>\n")).collect();
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title} | Harbour Post</title>\
         <link rel=\"canonical\" href=\"{canonical}\">\
         <meta property=\"og:title\" content=\"{title}\"></head>\
         <body><nav><a href=\"/\">Home</a> <a href=\"/world\">World</a></nav>\
         <article><h1>{title}</h1>\n{body}</article>\
         <footer>© Harbour Post</footer></body></html>"
    )
}

const A_TEXT: &[&str] = &[
    "Dock workers in Gothenburg walked out on Monday morning after talks on a new wage agreement broke down late on Sunday night.",
    "The union said the strike would last until the port operator returned to the table with a better offer for night shifts.",
    "Shipping lines warned that container traffic through the port could be diverted to Aarhus and Gdansk within days.",
];

const A_TEXT_LATER: &[&str] = &[
    "Dock workers in Gothenburg returned to work on Thursday after the port operator agreed to raise pay for night shifts.",
    "The union said the agreement would run for three years and called the outcome a victory for its members.",
    "Container ships that had waited outside the harbour began to berth again in the afternoon.",
];

const B_TEXT: &[&str] = &[
    "The ferry between Frederikshavn and Gothenburg will sail four times a day from June, the operator announced on Tuesday.",
    "A new vessel built in Finland joins the route in May and carries up to 1,200 passengers and 300 cars.",
    "Tickets for the summer timetable go on sale next week, with lower fares for early bookings.",
];

fn config(dir: &std::path::Path, pages: &[String]) {
    let mut text = String::from("[fetch]\nper_host_per_second = 50.0\n");
    for url in pages {
        text.push_str(&format!(
            "\n[[sources]]\nurl = \"{url}\"\nkind = \"page\"\n"
        ));
    }
    std::fs::write(dir.join("gleaner.toml"), text).unwrap();
}

fn run(dir: &std::path::Path) {
    let out = gleaner(dir, &["--config", "gleaner.toml", "--db", "news.db", "run"]);
    assert_exit(&out, 0);
}

/// `(id, url, canonical_url, title, body)` of every article, by id.
fn articles(dir: &std::path::Path) -> Vec<(i64, String, Option<String>, String, String)> {
    let db = rusqlite::Connection::open(dir.join("news.db")).unwrap();
    db.prepare("SELECT id, url, canonical_url, title, body FROM articles ORDER BY id")
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn a_page_naming_another_page_canonical_is_stored_beside_it_and_both_keep_updating() {
    let server = EtagServer::start();
    let a_url = server.url("/2024/05/harbour-strike.html");
    let b_url = server.url("/2024/05/ferry-timetable.html");
    server.set(
        "/2024/05/harbour-strike.html",
        "a1",
        page("Harbour workers strike", &a_url, A_TEXT),
    );
    // B's template names A as the canonical page.
    server.set(
        "/2024/05/ferry-timetable.html",
        "b1",
        page("More ferries to Frederikshavn", &a_url, B_TEXT),
    );
    let dir = tempfile::tempdir().unwrap();

    // Run 1: A alone.
    config(dir.path(), std::slice::from_ref(&a_url));
    run(dir.path());
    let first = articles(dir.path());
    assert_eq!(first.len(), 1, "{first:?}");
    let (a_id, _, _, _, _) = first[0].clone();
    assert!(first[0].4.contains("walked out on Monday"), "{first:?}");

    // Run 2: A (unchanged: 304) and B.
    config(dir.path(), &[a_url.clone(), b_url.clone()]);
    run(dir.path());
    assert_eq!(
        server.statuses("/2024/05/harbour-strike.html"),
        [200, 304],
        "A was asked for conditionally and had not changed"
    );
    let second = articles(dir.path());
    assert_eq!(second.len(), 2, "A and B are two rows: {second:?}");
    let a = second.iter().find(|r| r.0 == a_id).unwrap();
    assert_eq!(a.1, a_url, "A keeps its address");
    assert_eq!(a.3, "Harbour workers strike", "A keeps its title");
    assert!(
        a.4.contains("walked out on Monday"),
        "A keeps its text: {a:?}"
    );
    assert!(!a.4.contains("ferry"), "nothing of B in A: {a:?}");
    let b = second.iter().find(|r| r.0 != a_id).unwrap();
    assert_eq!(b.1, b_url);
    assert_eq!(
        b.2.as_deref(),
        Some(a_url.as_str()),
        "B's canonical URL is kept as data"
    );
    assert_eq!(b.3, "More ferries to Frederikshavn");
    assert!(b.4.contains("four times a day"), "{b:?}");

    // Run 3: A changed (new ETag): its new text reaches A's row; B is untouched.
    server.set(
        "/2024/05/harbour-strike.html",
        "a2",
        page("Harbour strike ends", &a_url, A_TEXT_LATER),
    );
    run(dir.path());
    assert_eq!(
        server.statuses("/2024/05/harbour-strike.html"),
        [200, 304, 200]
    );
    let third = articles(dir.path());
    assert_eq!(third.len(), 2, "{third:?}");
    let a = third.iter().find(|r| r.0 == a_id).unwrap();
    assert_eq!(
        (a.1.as_str(), a.3.as_str()),
        (a_url.as_str(), "Harbour strike ends")
    );
    assert!(a.4.contains("returned to work on Thursday"), "{a:?}");
    let b_now = third.iter().find(|r| r.0 != a_id).unwrap();
    assert_eq!(b_now, b);
}
