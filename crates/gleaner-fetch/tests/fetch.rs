//! The fetcher against real HTTP servers on loopback addresses: one or more tests per behaviour
//! of issue 3. Waits are checked with strict lower bounds and generous upper bounds, so a busy
//! machine makes these slower, never red.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use gleaner_fetch::{
    EncodingSource, FetchConfig, FetchError, FetchOutcome, FetchedPage, Fetcher, Validators,
};
use support::{Reply, Server};

/// Fast, permissive settings; each test tightens what it is about.
fn config() -> FetchConfig {
    FetchConfig {
        per_host_per_second: 1000.0,
        respect_robots: false,
        retry_base_delay_ms: 10,
        timeout_secs: 20,
        ..FetchConfig::default()
    }
}

fn fetcher(config: FetchConfig) -> Fetcher {
    Fetcher::new(config).unwrap()
}

async fn get(fetcher: &Fetcher, url: &str) -> Result<FetchOutcome, FetchError> {
    fetcher.fetch(url, &Validators::default()).await
}

fn page(outcome: Result<FetchOutcome, FetchError>) -> FetchedPage {
    match outcome {
        Ok(FetchOutcome::Page(page)) => page,
        other => panic!("expected a page, got {other:?}"),
    }
}

fn gaps(times: &[Instant]) -> Vec<Duration> {
    times
        .windows(2)
        .map(|w| w[1].duration_since(w[0]))
        .collect()
}

// ---------------------------------------------------------------- basics

#[tokio::test]
async fn plain_get_returns_the_page_and_sends_user_agent() {
    let server = Server::start("127.0.0.1", |_| {
        Reply::html("<html><body>héllo</body></html>")
    })
    .await;
    let page = page(get(&fetcher(config()), &server.url("/post.html#comments")).await);
    assert_eq!(page.status, 200);
    assert_eq!(page.url, server.url("/post.html#comments"));
    assert_eq!(page.final_url, server.url("/post.html"));
    assert_eq!(page.body, "<html><body>héllo</body></html>");
    assert_eq!(
        page.content_type.as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        (page.encoding, page.encoding_source),
        ("UTF-8", EncodingSource::Header)
    );
    assert!(!page.truncated);
    let request = &server.hits("/post.html")[0];
    assert!(
        request
            .header("user-agent")
            .unwrap()
            .starts_with("gleaner/")
    );
    assert!(request.header("accept-encoding").unwrap().contains("gzip"));
}

#[tokio::test]
async fn only_http_and_https_are_fetched() {
    let fetcher = fetcher(config());
    for url in [
        "file:///etc/passwd",
        "data:text/html,<p>hi</p>",
        "ftp://127.0.0.1/file.txt",
    ] {
        let err = get(&fetcher, url).await.unwrap_err();
        assert!(
            matches!(&err, FetchError::Refused { url: u, .. } if u == url),
            "{url}: {err}"
        );
        assert!(err.to_string().contains("only http and https"), "{err}");
    }
}

#[tokio::test]
async fn error_statuses_are_typed_and_not_retried() {
    let server = Server::start("127.0.0.1", |r| {
        Reply::status(if r.path == "/gone" { 410 } else { 404 })
    })
    .await;
    let fetcher = fetcher(config());
    for (path, code) in [("/missing", 404), ("/gone", 410)] {
        let err = get(&fetcher, &server.url(path)).await.unwrap_err();
        match &err {
            FetchError::Status { url, status, .. } => {
                assert_eq!((url.as_str(), *status), (server.url(path).as_str(), code));
            }
            other => panic!("{other}"),
        }
        assert!(err.to_string().contains(&format!("HTTP {code}")), "{err}");
        assert_eq!(server.hits(path).len(), 1, "{path} requested once");
    }
}

#[tokio::test]
async fn non_text_responses_are_skipped_with_their_type() {
    let server = Server::start("127.0.0.1", |r| {
        let ct = match r.path.as_str() {
            "/photo" => "image/jpeg",
            "/paper" => "application/pdf",
            _ => "application/octet-stream",
        };
        Reply::status(200)
            .header("Content-Type", ct)
            .body(vec![0u8; 1000])
    })
    .await;
    let fetcher = fetcher(config());
    for (path, ct) in [
        ("/photo", "image/jpeg"),
        ("/paper", "application/pdf"),
        ("/blob", "application/octet-stream"),
    ] {
        match get(&fetcher, &server.url(path)).await {
            Ok(FetchOutcome::Skipped { url, reason }) => {
                assert_eq!(url, server.url(path));
                assert!(reason.contains(ct), "{reason}");
            }
            other => panic!("{path}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_binary_body_without_content_type_is_skipped() {
    let server = Server::start("127.0.0.1", |_| {
        Reply::status(200).body(&b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"[..])
    })
    .await;
    match get(&fetcher(config()), &server.url("/image")).await {
        Ok(FetchOutcome::Skipped { reason, .. }) => assert!(reason.contains("PNG"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn body_is_cut_at_the_cap_and_marked_truncated() {
    let server = Server::start("127.0.0.1", |r| {
        let len = if r.path == "/big" { 5000 } else { 1000 };
        Reply::status(200)
            .header("Content-Type", "text/plain")
            .body(vec![b'x'; len])
    })
    .await;
    let fetcher = fetcher(FetchConfig {
        max_body_bytes: 1000,
        ..config()
    });
    let big = page(get(&fetcher, &server.url("/big")).await);
    assert!(big.truncated);
    assert_eq!(big.body.len(), 1000);
    let exact = page(get(&fetcher, &server.url("/exact")).await);
    assert!(!exact.truncated, "a body exactly at the cap is whole");
    assert_eq!(exact.body.len(), 1000);
}

#[tokio::test]
async fn gzip_bomb_is_stopped_at_the_cap_after_decompression() {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..16 {
        encoder.write_all(&zeros).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    assert!(
        bomb.len() < 200_000,
        "16 MiB compresses to {} bytes",
        bomb.len()
    );
    let server = Server::start("127.0.0.1", move |_| {
        Reply::status(200)
            .header("Content-Type", "text/html")
            .header("Content-Encoding", "gzip")
            .body(bomb.clone())
    })
    .await;
    let cap = 1 << 20;
    let page = page(
        get(
            &fetcher(FetchConfig {
                max_body_bytes: cap,
                ..config()
            }),
            &server.url("/bomb"),
        )
        .await,
    );
    assert!(page.truncated);
    assert_eq!(
        page.body.len(),
        cap,
        "cut at the cap, counted after decompression"
    );
}

#[tokio::test]
async fn a_corrupt_gzip_body_is_an_error_and_not_retried() {
    let server = Server::start("127.0.0.1", |_| {
        Reply::status(200)
            .header("Content-Type", "text/html")
            .header("Content-Encoding", "gzip")
            .body(&b"\x1f\x8b\x08\x00garbage-not-deflate"[..])
    })
    .await;
    let err = get(&fetcher(config()), &server.url("/corrupt"))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Transport { .. }), "{err}");
    assert_eq!(server.requests().len(), 1);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn gzip_files_are_decompressed_whatever_their_type_says() {
    let sitemap = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
        <urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\
        <url><loc>https://example.org/2024/01/k\u{f8}benhavn.html</loc></url></urlset>";
    let zipped = gzip(sitemap.as_bytes());
    let server = Server::start("127.0.0.1", move |r| {
        let ct = match r.path.as_str() {
            "/gzip/sitemap.xml.gz" => Some("application/gzip"),
            "/x-gzip/sitemap.xml.gz" => Some("application/x-gzip"),
            "/octet/sitemap.xml.gz" => Some("application/octet-stream"),
            "/xml/sitemap.xml" => Some("text/xml"),
            _ => None,
        };
        let reply = Reply::status(200).body(zipped.clone());
        match ct {
            Some(ct) => reply.header("Content-Type", ct),
            None => reply,
        }
    })
    .await;
    let fetcher = fetcher(config());
    for path in [
        "/gzip/sitemap.xml.gz",
        "/x-gzip/sitemap.xml.gz",
        "/octet/sitemap.xml.gz",
        "/xml/sitemap.xml",
        "/untyped/sitemap.xml.gz",
    ] {
        let page = page(get(&fetcher, &server.url(path)).await);
        assert_eq!(page.body, sitemap, "{path}");
        assert!(!page.truncated, "{path}");
    }
}

#[tokio::test]
async fn a_gzip_file_is_capped_after_decompression_and_corrupt_ones_are_errors() {
    let bomb = gzip(&vec![b' '; 8 << 20]);
    assert!(bomb.len() < 100_000, "{}", bomb.len());
    let png = gzip(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR");
    let server = Server::start("127.0.0.1", move |r| {
        let body = match r.path.as_str() {
            "/bomb.xml.gz" => bomb.clone(),
            "/image.gz" => png.clone(),
            _ => b"\x1f\x8b\x08\x00garbage-not-deflate".to_vec(),
        };
        Reply::status(200)
            .header("Content-Type", "application/x-gzip")
            .body(body)
    })
    .await;
    let cap = 1 << 20;
    let fetcher = fetcher(FetchConfig {
        max_body_bytes: cap,
        ..config()
    });
    let bomb = page(get(&fetcher, &server.url("/bomb.xml.gz")).await);
    assert!(bomb.truncated);
    assert_eq!(
        bomb.body.len(),
        cap,
        "cut at the cap, counted after decompression"
    );

    match get(&fetcher, &server.url("/image.gz")).await {
        Ok(FetchOutcome::Skipped { reason, .. }) => assert!(reason.contains("PNG"), "{reason}"),
        other => panic!("{other:?}"),
    }

    let err = get(&fetcher, &server.url("/corrupt.xml.gz"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("gzip"), "{err}");
    assert_eq!(server.hits("/corrupt.xml.gz").len(), 1, "not retried");
}

#[tokio::test]
async fn octet_stream_that_is_not_a_gz_path_is_still_skipped() {
    let zipped = gzip(b"<urlset/>");
    let server = Server::start("127.0.0.1", move |_| {
        Reply::status(200)
            .header("Content-Type", "application/octet-stream")
            .body(zipped.clone())
    })
    .await;
    match get(&fetcher(config()), &server.url("/download")).await {
        Ok(FetchOutcome::Skipped { reason, .. }) => {
            assert!(reason.contains("application/octet-stream"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_drip_server_is_cut_off_by_the_total_timeout() {
    let server = Server::start("127.0.0.1", |_| {
        Reply::html(vec![b'a'; 120]).drip(Duration::from_millis(500))
    })
    .await;
    let fetcher = fetcher(FetchConfig {
        timeout_secs: 2,
        read_timeout_secs: 10,
        max_attempts: 1,
        ..config()
    });
    let started = Instant::now();
    let err = get(&fetcher, &server.url("/drip")).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(&err, FetchError::GaveUp { attempts: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(15),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_silent_server_is_cut_off_by_the_read_timeout() {
    let server = Server::start("127.0.0.1", |_| {
        Reply::html("late").stall(Duration::from_secs(30))
    })
    .await;
    let fetcher = fetcher(FetchConfig {
        timeout_secs: 25,
        read_timeout_secs: 1,
        max_attempts: 1,
        ..config()
    });
    let started = Instant::now();
    let err = get(&fetcher, &server.url("/silent")).await.unwrap_err();
    let took = started.elapsed();
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(15),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_connection_that_never_opens_is_cut_off_by_the_connect_timeout() {
    // A listener with the smallest backlog that nobody accepts from: once its queue is full,
    // the kernel drops further SYNs and a connect hangs, as with a black-holed host.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let _listener = socket.listen(0).unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        let connect = tokio::net::TcpStream::connect(addr);
        if let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_millis(300), connect).await {
            fillers.push(stream);
        }
    }
    let fetcher = fetcher(FetchConfig {
        connect_timeout_secs: 1,
        timeout_secs: 30,
        max_attempts: 1,
        ..config()
    });
    let started = Instant::now();
    let err = get(&fetcher, &format!("http://{addr}/")).await.unwrap_err();
    let took = started.elapsed();
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(15),
        "{took:?}"
    );
}

// ---------------------------------------------------------------- redirects and addresses

#[tokio::test]
async fn redirects_are_followed_and_the_final_url_reported() {
    let server = Server::start("127.0.0.1", |r| match r.path.as_str() {
        "/start" => Reply::status(301).header("Location", "/middle?x=1"),
        "/middle?x=1" => Reply::status(302).header("Location", "final"),
        "/final" => Reply::html("arrived"),
        _ => Reply::status(404),
    })
    .await;
    let page = page(get(&fetcher(config()), &server.url("/start")).await);
    assert_eq!(page.url, server.url("/start"));
    assert_eq!(page.final_url, server.url("/final"));
    assert_eq!(page.body, "arrived");
}

#[tokio::test]
async fn a_redirect_loop_is_detected() {
    let server = Server::start("127.0.0.1", |r| {
        let next = if r.path == "/a" { "/b" } else { "/a" };
        Reply::status(302).header("Location", next)
    })
    .await;
    let err = get(&fetcher(config()), &server.url("/a"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, FetchError::RedirectLoop { at, .. } if at == &server.url("/a")),
        "{err}"
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn redirects_stop_at_the_limit() {
    let server = Server::start("127.0.0.1", |r| {
        let n: u32 = r.path.trim_start_matches("/r/").parse().unwrap_or(0);
        Reply::status(307).header("Location", &format!("/r/{}", n + 1))
    })
    .await;
    let err = get(
        &fetcher(FetchConfig {
            max_redirects: 3,
            ..config()
        }),
        &server.url("/r/0"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, FetchError::TooManyRedirects { limit: 3, .. }),
        "{err}"
    );
    assert_eq!(
        server.requests().len(),
        4,
        "the first request and three redirects"
    );
}

#[tokio::test]
async fn a_redirect_to_a_file_url_is_refused() {
    let server = Server::start("127.0.0.1", |_| {
        Reply::status(302).header("Location", "file:///etc/passwd")
    })
    .await;
    let err = get(&fetcher(config()), &server.url("/sneaky"))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Refused { .. }), "{err}");
}

#[tokio::test]
async fn private_addresses_are_refused_when_configured() {
    let server = Server::start("127.0.0.1", |_| Reply::html("secret")).await;
    let fetcher = fetcher(FetchConfig {
        allow_private_addresses: false,
        max_attempts: 3,
        ..config()
    });
    let port = server.addr.port();
    for url in [
        server.url("/admin"),
        format!("http://localhost:{port}/admin"),
    ] {
        let err = get(&fetcher, &url).await.unwrap_err();
        assert!(matches!(&err, FetchError::Refused { .. }), "{url}: {err}");
        assert!(err.to_string().contains("allow_private_addresses"), "{err}");
    }
    // With robots.txt on (the default), the robots.txt request is refused the same way.
    let polite = self::fetcher(FetchConfig {
        allow_private_addresses: false,
        ..polite()
    });
    let err = get(&polite, &format!("http://localhost:{port}/admin"))
        .await
        .unwrap_err();
    assert!(matches!(&err, FetchError::Refused { .. }), "{err}");
    assert!(!err.is_transient());
    assert!(
        server.requests().is_empty(),
        "nothing reached the private server"
    );
    // The default allows them (gleaner is usually pointed at URLs by its own user).
    assert!(
        get(&self::fetcher(config()), &server.url("/admin"))
            .await
            .is_ok()
    );
}

/// A server standing in for a proxy: it answers for every host, logging the absolute URLs it
/// is asked for. Through it a test can name a host that is not on a loopback address.
async fn proxy_for(handler: impl Fn(&support::Request) -> Reply + Send + Sync + 'static) -> Server {
    Server::start("127.0.0.1", handler).await
}

#[tokio::test]
async fn a_robots_txt_redirect_to_a_private_address_is_refused() {
    // The page's host is public (served through the proxy); its robots.txt redirects to a
    // metadata-style address on loopback, which must never be asked for.
    let private = Server::start("127.0.0.1", |_| {
        Reply::status(200)
            .header("Content-Type", "text/plain")
            .body("User-agent: *\nAllow: /\n")
    })
    .await;
    let targets = [
        private.url("/latest/meta-data/iam"),
        format!("http://[::ffff:127.0.0.1]:{}/latest/", private.addr.port()),
        format!("http://localhost:{}/latest/", private.addr.port()),
    ];
    for target in targets {
        let location = target.clone();
        let proxy = proxy_for(move |r| {
            if r.path.ends_with("/robots.txt") {
                Reply::status(302).header("Location", &location)
            } else {
                Reply::html("page")
            }
        })
        .await;
        let fetcher = fetcher(FetchConfig {
            allow_private_addresses: false,
            proxy: Some(format!("http://{}", proxy.addr)),
            ..polite()
        });
        let err = get(&fetcher, "http://public-site.test/post.html")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, FetchError::Refused { .. }),
            "{target}: {err}"
        );
        assert!(err.to_string().contains("robots.txt redirects"), "{err}");
        let asked: Vec<String> = proxy.requests().into_iter().map(|r| r.path).collect();
        assert_eq!(
            asked,
            ["http://public-site.test/robots.txt"],
            "only the public robots.txt was requested, not {target}"
        );
    }
    assert!(
        private.requests().is_empty(),
        "the private server was reached"
    );
}

#[tokio::test]
async fn a_public_robots_txt_redirect_is_followed() {
    let proxy = proxy_for(|r| match r.path.as_str() {
        "http://public-site.test/robots.txt" => {
            Reply::status(301).header("Location", "http://cdn.public-site.test/robots.txt")
        }
        "http://cdn.public-site.test/robots.txt" => Reply::status(200)
            .header("Content-Type", "text/plain")
            .body("User-agent: *\nDisallow: /private\n"),
        _ => Reply::html("page"),
    })
    .await;
    let fetcher = fetcher(FetchConfig {
        allow_private_addresses: false,
        proxy: Some(format!("http://{}", proxy.addr)),
        ..polite()
    });
    match get(&fetcher, "http://public-site.test/private/x").await {
        Ok(FetchOutcome::Skipped { reason, .. }) => assert!(reason.contains("robots.txt")),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        page(get(&fetcher, "http://public-site.test/open").await).body,
        "page"
    );
}

// ---------------------------------------------------------------- charset

async fn decoded(content_type: &str, body: &'static [u8]) -> FetchedPage {
    let content_type = content_type.to_string();
    let server = Server::start("127.0.0.1", move |_| {
        Reply::status(200)
            .header("Content-Type", &content_type)
            .body(body)
    })
    .await;
    page(get(&fetcher(config()), &server.url("/")).await)
}

#[tokio::test]
async fn windows_1252_declared_only_in_a_meta_tag() {
    let body = b"<html><head><meta charset=\"windows-1252\"><title>Caf\xe9</title></head>\
                 <body><p>\x93Quoted,\x94 na\xefve \x96 \x80 5</p></body></html>";
    let page = decoded("text/html", body).await;
    assert_eq!(
        (page.encoding, page.encoding_source),
        ("windows-1252", EncodingSource::Meta)
    );
    assert!(page.body.contains("<title>Café</title>"), "{}", page.body);
    assert!(page.body.contains("“Quoted,” naïve – € 5"), "{}", page.body);
}

#[tokio::test]
async fn http_equiv_meta_is_read_too() {
    let body = b"<html><head><meta http-equiv=Content-Type content='text/html; charset=ISO-8859-2'></head>\
                 <body>\xa3\xf3d\xbc</body></html>";
    let page = decoded("text/html", body).await;
    assert_eq!(
        (page.encoding, page.encoding_source),
        ("ISO-8859-2", EncodingSource::Meta)
    );
    assert!(page.body.contains("Łódź"), "{}", page.body);
}

#[tokio::test]
async fn header_charset_wins_over_meta_and_latin1_means_windows_1252() {
    let page = decoded(
        "text/html; charset=ISO-8859-1",
        b"<meta charset=utf-8><p>\x93hi\x94 caf\xe9</p>",
    )
    .await;
    assert_eq!(
        (page.encoding, page.encoding_source),
        ("windows-1252", EncodingSource::Header)
    );
    assert!(
        page.body.contains("“hi” café"),
        "C1 bytes are the quotes browsers show: {}",
        page.body
    );
}

#[tokio::test]
async fn latin1_header_over_utf8_body_is_read_as_utf8() {
    // Browsers trust the header and show "cafÃ©"; gleaner stores the text as written: valid
    // UTF-8 with multi-byte sequences is practically never latin-1 (see `charset`).
    let page = decoded("text/html; charset=iso-8859-1", "<p>café</p>".as_bytes()).await;
    assert_eq!(
        (page.encoding, page.encoding_source),
        ("UTF-8", EncodingSource::Detected)
    );
    assert_eq!(page.body, "<p>café</p>");
}

#[tokio::test]
async fn no_label_is_not_latin1_by_default_but_detected() {
    let page = decoded(
        "text/html",
        "<p>Ελληνικά: καλημέρα σας, φίλοι μου</p>".as_bytes(),
    )
    .await;
    assert_eq!(
        (page.encoding, page.encoding_source),
        ("UTF-8", EncodingSource::Detected)
    );
    assert!(page.body.contains("καλημέρα"));
}

#[tokio::test]
async fn a_bom_beats_the_header() {
    let page = decoded(
        "text/html; charset=windows-1252",
        b"\xef\xbb\xbf<p>caf\xc3\xa9</p>",
    )
    .await;
    assert_eq!(
        (page.encoding, page.encoding_source),
        ("UTF-8", EncodingSource::Bom)
    );
    assert_eq!(page.body, "<p>café</p>");
}

// ---------------------------------------------------------------- conditional GET

#[tokio::test]
async fn conditional_get_round_trip() {
    let server = Server::start("127.0.0.1", |r| {
        if r.header("if-none-match") == Some("\"v1\"") {
            Reply::status(304)
        } else {
            Reply::html("<p>v1</p>")
                .header("ETag", "\"v1\"")
                .header("Last-Modified", "Wed, 21 Oct 2026 07:28:00 GMT")
        }
    })
    .await;
    let fetcher = fetcher(config());
    let url = server.url("/post");
    let first = page(get(&fetcher, &url).await);
    assert_eq!(first.validators.etag.as_deref(), Some("\"v1\""));
    assert_eq!(
        first.validators.last_modified.as_deref(),
        Some("Wed, 21 Oct 2026 07:28:00 GMT")
    );
    assert!(server.hits("/post")[0].header("if-none-match").is_none());

    let second = fetcher.fetch(&url, &first.validators).await.unwrap();
    assert_eq!(second, FetchOutcome::NotModified { url: url.clone() });
    let request = &server.hits("/post")[1];
    assert_eq!(request.header("if-none-match"), Some("\"v1\""));
    assert_eq!(
        request.header("if-modified-since"),
        Some("Wed, 21 Oct 2026 07:28:00 GMT")
    );
}

// ---------------------------------------------------------------- retries

/// A server that answers `first` to the first `n` requests, then a page.
async fn flaky(n: usize, first: Reply) -> Server {
    let count = Arc::new(AtomicUsize::new(0));
    Server::start("127.0.0.1", move |_| {
        if count.fetch_add(1, Ordering::SeqCst) < n {
            first.clone()
        } else {
            Reply::html("finally")
        }
    })
    .await
}

#[tokio::test]
async fn retry_after_seconds_is_waited_then_the_fetch_succeeds() {
    let server = flaky(1, Reply::status(429).header("Retry-After", "1")).await;
    let started = Instant::now();
    let page = page(get(&fetcher(config()), &server.url("/busy")).await);
    assert_eq!(page.body, "finally");
    assert!(started.elapsed() >= Duration::from_secs(1));
    let times: Vec<Instant> = server.requests().iter().map(|r| r.at).collect();
    assert_eq!(times.len(), 2);
    assert!(
        gaps(&times)[0] >= Duration::from_secs(1),
        "{:?}",
        gaps(&times)
    );
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let count = Arc::new(AtomicUsize::new(0));
    let server = Server::start("127.0.0.1", move |_| {
        if count.fetch_add(1, Ordering::SeqCst) == 0 {
            let at = httpdate_in(Duration::from_secs(2));
            Reply::status(503).header("Retry-After", &at)
        } else {
            Reply::html("back")
        }
    })
    .await;
    let page = page(get(&fetcher(config()), &server.url("/maint")).await);
    assert_eq!(page.body, "back");
    let times: Vec<Instant> = server.requests().iter().map(|r| r.at).collect();
    // The date has whole seconds: "in 2 s" is between 1 and 2 s away.
    assert!(
        gaps(&times)[0] >= Duration::from_millis(900),
        "{:?}",
        gaps(&times)
    );
}

fn httpdate_in(d: Duration) -> String {
    // IMF-fixdate, as servers send it.
    let secs = (SystemTime::now() + d)
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let days = secs / 86_400;
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let month_name = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!("{weekday}, {day:02} {month_name} {year} {h:02}:{m:02}:{s:02} GMT")
}

#[tokio::test]
async fn persistent_503_gives_up_after_max_attempts() {
    let server = Server::start("127.0.0.1", |_| Reply::status(503)).await;
    let fetcher = fetcher(FetchConfig {
        max_attempts: 3,
        retry_base_delay_ms: 100,
        ..config()
    });
    let err = get(&fetcher, &server.url("/down")).await.unwrap_err();
    assert!(
        matches!(&err, FetchError::GaveUp { attempts: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("gave up after 3 attempt"), "{err}");
    assert!(err.to_string().contains("503"), "{err}");
    assert!(err.is_transient());
    let times: Vec<Instant> = server.requests().iter().map(|r| r.at).collect();
    assert_eq!(times.len(), 3);
    // Backoff with jitter: at least half of 100 ms, then half of 200 ms.
    let gaps = gaps(&times);
    assert!(
        gaps[0] >= Duration::from_millis(50) && gaps[1] >= Duration::from_millis(100),
        "{gaps:?}"
    );
}

#[tokio::test]
async fn retry_after_beyond_the_cap_gives_up_at_once() {
    let server = Server::start("127.0.0.1", |_| {
        Reply::status(503).header("Retry-After", "3600")
    })
    .await;
    let started = Instant::now();
    let err = get(
        &fetcher(FetchConfig {
            max_retry_after_secs: 120,
            ..config()
        }),
        &server.url("/later"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::RetryAfterTooLong {
                retry_after_secs: 3600,
                max_secs: 120,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(server.requests().len(), 1);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn server_errors_and_timeouts_are_retried_until_success() {
    let server = flaky(2, Reply::status(500)).await;
    assert_eq!(
        page(get(&fetcher(config()), &server.url("/x")).await).body,
        "finally"
    );
    assert_eq!(server.requests().len(), 3);

    let slow = flaky(1, Reply::html("slow").stall(Duration::from_secs(10))).await;
    let fetcher = fetcher(FetchConfig {
        read_timeout_secs: 1,
        ..config()
    });
    assert_eq!(page(get(&fetcher, &slow.url("/y")).await).body, "finally");
    assert_eq!(slow.requests().len(), 2);
}

#[tokio::test]
async fn connection_refused_is_retried_then_given_up() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let err = get(
        &fetcher(FetchConfig {
            max_attempts: 2,
            ..config()
        }),
        &format!("http://127.0.0.1:{port}/"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, FetchError::GaveUp { attempts: 2, .. }),
        "{err}"
    );
}

// ---------------------------------------------------------------- politeness

fn polite() -> FetchConfig {
    FetchConfig {
        respect_robots: true,
        ..config()
    }
}

fn robots_server(
    robots: &'static str,
) -> impl Fn(&support::Request) -> Reply + Send + Sync + 'static {
    move |r| {
        if r.path == "/robots.txt" {
            Reply::status(200)
                .header("Content-Type", "text/plain")
                .body(robots)
        } else {
            Reply::html("page")
        }
    }
}

#[tokio::test]
async fn robots_disallowed_url_is_skipped_and_never_requested() {
    let server = Server::start(
        "127.0.0.1",
        robots_server("User-agent: *\nDisallow: /\n\nUser-agent: gleaner\nDisallow: /private\n"),
    )
    .await;
    let fetcher = fetcher(polite());
    match get(&fetcher, &server.url("/private/diary.html")).await {
        Ok(FetchOutcome::Skipped { reason, .. }) => {
            assert!(reason.contains("robots.txt"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        page(get(&fetcher, &server.url("/public.html")).await).body,
        "page"
    );
    assert!(
        server.hits("/private/diary.html").is_empty(),
        "the disallowed URL was requested"
    );
    assert_eq!(
        server.hits("/robots.txt").len(),
        1,
        "robots.txt is read once per host"
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn one_over_complex_rule_does_not_make_robots_txt_allow_everything() {
    // One rule far beyond any regex size limit, between two ordinary ones.
    let mut robots = String::from("User-agent: *\nDisallow: /private\nDisallow: /");
    for _ in 0..30_000 {
        robots.push_str("*a");
    }
    robots.push_str("$\nDisallow: /drafts/\n");
    let robots: &'static str = Box::leak(robots.into_boxed_str());
    let server = Server::start("127.0.0.1", robots_server(robots)).await;
    let fetcher = fetcher(polite());
    for path in ["/private/diary.html", "/drafts/next.html"] {
        match get(&fetcher, &server.url(path)).await {
            Ok(FetchOutcome::Skipped { reason, .. }) => {
                assert!(reason.contains("robots.txt"), "{reason}")
            }
            other => panic!("{path} must be skipped, got {other:?}"),
        }
    }
    assert_eq!(
        page(get(&fetcher, &server.url("/public.html")).await).body,
        "page"
    );
    let asked: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(asked, ["/robots.txt", "/public.html"]);
}

#[tokio::test]
async fn crawl_delay_spaces_requests_to_that_host() {
    let server = Server::start(
        "127.0.0.1",
        robots_server("User-agent: *\nCrawl-delay: 1\n"),
    )
    .await;
    let fetcher = fetcher(polite());
    let fetches = ["/a", "/b", "/c"].map(|p| {
        let (fetcher, url) = (fetcher.clone(), server.url(p));
        tokio::spawn(async move { get(&fetcher, &url).await })
    });
    for fetch in fetches {
        page(fetch.await.unwrap());
    }
    let times: Vec<Instant> = server.requests().iter().map(|r| r.at).collect();
    assert_eq!(times.len(), 4, "robots.txt once, three pages");
    // Sends are at least 1 s apart; arrival times jitter by a connection set-up or two.
    for gap in gaps(&times) {
        assert!(
            gap >= Duration::from_millis(850),
            "Crawl-delay 1 s not kept: {:?}",
            gaps(&times)
        );
    }
}

#[tokio::test]
async fn robots_4xx_allows_everything() {
    let server = Server::start("127.0.0.1", |r| {
        if r.path == "/robots.txt" {
            Reply::status(404)
        } else {
            Reply::html("ok")
        }
    })
    .await;
    assert_eq!(
        page(get(&fetcher(polite()), &server.url("/any")).await).body,
        "ok"
    );
}

#[tokio::test]
async fn robots_5xx_means_the_host_is_not_crawled_this_run() {
    let server = Server::start("127.0.0.1", |r| {
        if r.path == "/robots.txt" {
            Reply::status(503)
        } else {
            Reply::html("ok")
        }
    })
    .await;
    let fetcher = fetcher(FetchConfig {
        max_attempts: 2,
        ..polite()
    });
    for path in ["/one", "/two"] {
        let err = get(&fetcher, &server.url(path)).await.unwrap_err();
        assert!(matches!(err, FetchError::HostUnavailable { .. }), "{err}");
        assert!(err.to_string().contains("503"), "{err}");
        assert!(err.is_transient());
    }
    assert_eq!(
        server.hits("/robots.txt").len(),
        2,
        "robots.txt is retried like a page, then not asked again this run"
    );
    assert_eq!(server.requests().len(), 2, "no page was requested");
}

#[tokio::test]
async fn a_robots_txt_that_fails_once_is_retried_and_obeyed() {
    let count = Arc::new(AtomicUsize::new(0));
    let server = Server::start("127.0.0.1", move |r| {
        if r.path != "/robots.txt" {
            Reply::html("ok")
        } else if count.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::status(502)
        } else {
            Reply::status(200).body("User-agent: *\nDisallow: /drafts/\n")
        }
    })
    .await;
    let fetcher = fetcher(polite());
    assert!(matches!(
        get(&fetcher, &server.url("/drafts/x")).await,
        Ok(FetchOutcome::Skipped { .. })
    ));
    assert_eq!(
        page(get(&fetcher, &server.url("/posts/y")).await).body,
        "ok"
    );
    assert_eq!(server.hits("/robots.txt").len(), 2);
    assert!(server.hits("/drafts/x").is_empty());
}

#[tokio::test]
async fn robots_timeout_means_the_host_is_not_crawled_this_run() {
    let server = Server::start("127.0.0.1", |r| {
        if r.path == "/robots.txt" {
            Reply::html("User-agent: *").stall(Duration::from_secs(30))
        } else {
            Reply::html("ok")
        }
    })
    .await;
    let fetcher = fetcher(FetchConfig {
        read_timeout_secs: 1,
        max_attempts: 1,
        ..polite()
    });
    let err = get(&fetcher, &server.url("/page")).await.unwrap_err();
    assert!(matches!(err, FetchError::HostUnavailable { .. }), "{err}");
    assert!(server.hits("/page").is_empty());
}

#[tokio::test]
async fn per_host_rate_limit_spaces_requests() {
    let server = Server::start("127.0.0.1", |_| Reply::html("ok")).await;
    let fetcher = fetcher(FetchConfig {
        per_host_per_second: 2.0,
        ..config()
    });
    let fetches: Vec<_> = (0..4)
        .map(|i| {
            let (fetcher, url) = (fetcher.clone(), server.url(&format!("/{i}")));
            tokio::spawn(async move { get(&fetcher, &url).await })
        })
        .collect();
    for fetch in fetches {
        page(fetch.await.unwrap());
    }
    let mut times: Vec<Instant> = server.requests().iter().map(|r| r.at).collect();
    times.sort();
    for gap in gaps(&times) {
        assert!(
            gap >= Duration::from_millis(400),
            "2/s means 500 ms between sends (arrivals jitter a little): {:?}",
            gaps(&times)
        );
    }
}

#[tokio::test]
async fn two_hosts_are_limited_independently() {
    let one = Server::start("127.0.0.1", |_| Reply::html("one")).await;
    let two = Server::start("127.0.0.2", |_| Reply::html("two")).await;
    let fetcher = fetcher(FetchConfig {
        per_host_per_second: 1.0,
        ..config()
    });
    let started = Instant::now();
    let urls = [one.url("/a"), one.url("/b"), two.url("/a"), two.url("/b")];
    let fetches: Vec<_> = urls
        .into_iter()
        .map(|url| {
            let fetcher = fetcher.clone();
            tokio::spawn(async move { get(&fetcher, &url).await })
        })
        .collect();
    for fetch in fetches {
        page(fetch.await.unwrap());
    }
    let took = started.elapsed();
    let times = |s: &Server| s.requests().iter().map(|r| r.at).collect::<Vec<_>>();
    let (t1, t2) = (times(&one), times(&two));
    assert!(
        gaps(&t1)[0] >= Duration::from_millis(850),
        "host one: {:?}",
        gaps(&t1)
    );
    assert!(
        gaps(&t2)[0] >= Duration::from_millis(850),
        "host two: {:?}",
        gaps(&t2)
    );
    // Neither host waited for the other: both first requests came before either second one.
    assert!(t1[0] < t2[1] && t2[0] < t1[1], "hosts were serialised");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[tokio::test]
async fn global_concurrency_is_bounded() {
    let server = Server::start("127.0.0.1", |_| {
        Reply::html("ok").delay(Duration::from_millis(300))
    })
    .await;
    let fetcher = fetcher(FetchConfig {
        concurrency: 2,
        ..config()
    });
    let fetches: Vec<_> = (0..6)
        .map(|i| {
            let (fetcher, url) = (fetcher.clone(), server.url(&format!("/{i}")));
            tokio::spawn(async move { get(&fetcher, &url).await })
        })
        .collect();
    for fetch in fetches {
        page(fetch.await.unwrap());
    }
    assert_eq!(
        server.max_in_flight(),
        2,
        "at most two requests at once, and two did overlap"
    );
}

#[tokio::test]
async fn ready_waits_for_the_host_turn_without_a_slot_and_hands_out_one_turn_at_a_time() {
    let slow = Server::start(
        "127.0.0.1",
        robots_server("User-agent: *\nCrawl-delay: 1\n"),
    )
    .await;
    let fast = Server::start("127.0.0.1", robots_server("User-agent: *\n")).await;
    // One slot for everything.
    let fetcher = fetcher(FetchConfig {
        concurrency: 1,
        ..polite()
    });
    page(get(&fetcher, &slow.url("/first")).await);
    // The slow host's next turn is a second away: waiting for it holds no slot, so the other
    // host is served meanwhile.
    let waiting = {
        let fetcher = fetcher.clone();
        let url = slow.url("/second");
        tokio::spawn(async move {
            let started = Instant::now();
            let turn = fetcher.ready(&url).await;
            (turn, started.elapsed())
        })
    };
    let started = Instant::now();
    page(get(&fetcher, &fast.url("/a")).await);
    assert!(
        started.elapsed() < Duration::from_millis(700),
        "the other host waited {:?}",
        started.elapsed()
    );
    let (turn, waited) = waiting.await.unwrap();
    assert!(waited >= Duration::from_millis(850), "{waited:?}");
    // While that turn is held, a second `ready` for the host does not return; it does once
    // the holder's request went out and the Crawl-delay passed.
    let second = {
        let fetcher = fetcher.clone();
        let url = slow.url("/third");
        tokio::spawn(async move {
            let _turn = fetcher.ready(&url).await;
            Instant::now()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!second.is_finished(), "two turns handed out at once");
    let sent = Instant::now();
    page(get(&fetcher, &slow.url("/second")).await);
    drop(turn);
    let second_at = second.await.unwrap();
    assert!(
        second_at.duration_since(sent) >= Duration::from_millis(850),
        "{:?}",
        second_at.duration_since(sent)
    );
    // A URL that will not be requested holds no turn.
    let _ = fetcher.ready("not a url").await;
}

// ---------------------------------------------------------------- shared request turns

/// A shared schedule as a store of several workers keeps it: each turn is refused once (not
/// due, "wait 30 ms"), then taken; every taken turn is recorded with its host and time.
#[derive(Default)]
struct SharedTurns {
    asked: AtomicUsize,
    taken: std::sync::Mutex<Vec<(String, Instant)>>,
}

impl gleaner_fetch::SharedRobots for SharedTurns {
    fn lookup(&self, _host: &str) -> gleaner_fetch::SharedRobotsTxt {
        gleaner_fetch::SharedRobotsTxt::ReadIt
    }
    fn store(&self, _host: &str, _answer: Option<(u16, &[u8])>) {}
    fn take_turn(&self, host: &str, _interval: Duration) -> Option<Duration> {
        if self.asked.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
            return Some(Duration::from_millis(30));
        }
        self.taken
            .lock()
            .unwrap()
            .push((host.to_string(), Instant::now()));
        None
    }
}

#[tokio::test]
async fn every_request_waits_for_its_shared_turn() {
    // robots.txt, a redirect, a 503 and its retry: four requests, each sent only after this
    // fetcher took the host's turn among all the workers (so the rate holds across them).
    let failed_once = Arc::new(AtomicUsize::new(0));
    let server = Server::start("127.0.0.1", move |r| match r.path.as_str() {
        "/robots.txt" => Reply::status(200)
            .header("Content-Type", "text/plain")
            .body("User-agent: *\nDisallow: /private/\n"),
        "/old" => Reply::status(301).header("Location", "/new"),
        "/new" if failed_once.fetch_add(1, Ordering::SeqCst) == 0 => Reply::status(503),
        _ => Reply::html("<p>moved here</p>"),
    })
    .await;
    let shared = Arc::new(SharedTurns::default());
    let fetcher = fetcher(FetchConfig {
        respect_robots: true,
        ..config()
    });
    assert!(fetcher.share_robots(shared.clone()));
    let page = page(get(&fetcher, &server.url("/old")).await);
    assert_eq!(page.body, "<p>moved here</p>");

    let requests = server.requests();
    let taken = shared.taken.lock().unwrap().clone();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/robots.txt", "/old", "/new", "/new"]);
    assert_eq!(
        taken.len(),
        requests.len(),
        "one turn per request: {taken:?}"
    );
    let host = server.addr.to_string();
    for ((turn_host, turn_at), request) in taken.iter().zip(&requests) {
        assert_eq!(turn_host, &host);
        assert!(
            request.at >= *turn_at,
            "{} sent before its turn",
            request.path
        );
    }
    // Each turn was refused once first and waited for, not taken early.
    assert_eq!(shared.asked.load(Ordering::SeqCst), 2 * requests.len());
    // A page robots.txt disallows takes no turn: it is never requested.
    let before = shared.asked.load(Ordering::SeqCst);
    assert!(matches!(
        get(&fetcher, &server.url("/private/x")).await,
        Ok(FetchOutcome::Skipped { .. })
    ));
    assert_eq!(shared.asked.load(Ordering::SeqCst), before);
}
