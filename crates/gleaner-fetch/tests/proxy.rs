//! Proxies and `allow_private_addresses = false`: a proxy resolves host names itself, out of
//! reach of the fetcher's address check, so with private addresses refused the system's proxy
//! settings (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`) are ignored; a proxy named in the config
//! is used. Setting environment variables in a running test process is not thread-safe, so the
//! fetches that need them run in a child process: this test binary again, running the ignored
//! test `child_fetch` with the variables set.

#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use gleaner_fetch::{FetchConfig, FetchError, FetchOutcome, Fetcher, Validators};
use support::{Reply, Server};

/// A host name that never resolves (RFC 6761), so only a proxy can answer for it.
const NOWHERE: &str = "http://gleaner-proxy-check.invalid/page.html";

/// A proxy that answers every request itself with a small page, logging what it was asked.
async fn recording_proxy() -> Server {
    Server::start("127.0.0.1", |_| Reply::html("from the proxy")).await
}

fn config() -> FetchConfig {
    FetchConfig {
        respect_robots: false,
        max_attempts: 1,
        connect_timeout_secs: 3,
        timeout_secs: 10,
        per_host_per_second: 1000.0,
        ..FetchConfig::default()
    }
}

/// Run `child_fetch` in a child process with every proxy variable pointing at `proxy`; its
/// last line of output says what the fetch came to.
async fn fetch_in_child(proxy: &Server, url: &str, allow_private: bool) -> String {
    let proxy_url = format!("http://{}", proxy.addr);
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["child_fetch", "--exact", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env("GLEANER_CHILD_URL", url)
        .env("GLEANER_CHILD_ALLOW_PRIVATE", allow_private.to_string())
        .env_remove("NO_PROXY")
        .env_remove("no_proxy");
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        command.env(var, &proxy_url);
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.split_once("OUTCOME: ").map(|(_, said)| said))
        .unwrap_or_else(|| panic!("no outcome in {stdout}"))
        .to_string()
}

#[test]
#[ignore = "run by the tests below in a child process with the proxy variables set"]
fn child_fetch() {
    let (Ok(url), Ok(allow)) = (
        std::env::var("GLEANER_CHILD_URL"),
        std::env::var("GLEANER_CHILD_ALLOW_PRIVATE"),
    ) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = runtime.block_on(async {
        let fetcher = Fetcher::new(FetchConfig {
            allow_private_addresses: allow == "true",
            ..config()
        })
        .unwrap();
        fetcher.fetch(&url, &Validators::default()).await
    });
    let said = match outcome {
        Ok(FetchOutcome::Page(page)) => format!("page {}", page.body),
        Ok(other) => format!("other {other:?}"),
        Err(FetchError::Refused { reason, .. }) => format!("refused {reason}"),
        Err(e) => format!("error {e}"),
    };
    println!("OUTCOME: {said}");
}

#[tokio::test]
async fn system_proxies_are_ignored_when_private_addresses_are_refused() {
    let proxy = recording_proxy().await;
    let outcome = fetch_in_child(&proxy, NOWHERE, false).await;
    assert!(
        proxy.requests().is_empty(),
        "the proxy from the environment was used: {:?} ({outcome})",
        proxy.requests()
    );
    // Without the proxy the name does not resolve: an error, not the proxy's page.
    assert!(outcome.starts_with("error"), "{outcome}");
}

#[tokio::test]
async fn system_proxies_are_still_used_when_private_addresses_are_allowed() {
    let proxy = recording_proxy().await;
    let outcome = fetch_in_child(&proxy, NOWHERE, true).await;
    assert_eq!(outcome, "page from the proxy");
    let asked: Vec<String> = proxy.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(asked, [NOWHERE], "the proxy is asked for the absolute URL");
}

#[tokio::test]
async fn a_configured_proxy_is_used_even_with_private_addresses_refused() {
    let proxy = recording_proxy().await;
    let fetcher = Fetcher::new(FetchConfig {
        allow_private_addresses: false,
        proxy: Some(format!("http://{}", proxy.addr)),
        ..config()
    })
    .unwrap();
    match fetcher.fetch(NOWHERE, &Validators::default()).await {
        Ok(FetchOutcome::Page(page)) => assert_eq!(page.body, "from the proxy"),
        other => panic!("{other:?}"),
    }
    // IP literals and loopback names are still checked before anything is sent.
    for url in [
        "http://127.0.0.1:9/secret",
        "http://[::ffff:127.0.0.1]/secret",
        "http://localhost/secret",
    ] {
        let err = fetcher
            .fetch(url, &Validators::default())
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::Refused { .. }), "{url}: {err}");
    }
    let asked: Vec<String> = proxy.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(asked, [NOWHERE]);
}

#[test]
fn a_proxy_that_is_not_an_http_url_is_a_config_error() {
    for proxy in ["not a url", "ftp://proxy.example/", "http://"] {
        let err = Fetcher::new(FetchConfig {
            proxy: Some(proxy.to_string()),
            ..config()
        })
        .unwrap_err();
        assert!(matches!(err, FetchError::Config { .. }), "{proxy}: {err}");
        assert!(err.to_string().contains("proxy"), "{err}");
    }
}
