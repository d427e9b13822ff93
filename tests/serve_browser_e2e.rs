//! End to end in a real browser: Debian's headless Chromium, driven over WebDriver
//! (chromedriver, started here) against `gleaner serve` on a database the binary built.
//!
//! - A reader searches a term, opens a result, sees the entity highlights, follows an entity
//!   to its page and sees its chart.
//! - An article whose every field carries script, event-handler, `javascript:` and SVG
//!   payloads shows them as text and runs none of them.
//!
//! Screenshots go to `target/screenshots/` (their paths are printed). Without chromedriver
//! (a developer's clone) the tests say they were skipped and pass; with `CI=true` a missing
//! chromedriver fails them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod serve_support;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use serve_support::{
    Backend, CLASSIC_PATH, CONTEMPO_PATH, JS_URL, Served, add_hostile_article, backends, db_path,
    fixture_pages, scrape,
};

/// chromedriver and its browser, or why the test cannot run here.
fn find_driver() -> Option<PathBuf> {
    let found = [
        "chromedriver",
        "/usr/bin/chromedriver",
        "/usr/lib/chromium/chromedriver",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| {
        Command::new(p)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if found.is_none() {
        let why = "chromedriver is not installed (apt-get install chromium chromium-driver)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but {why}: the browser tests cannot run");
        }
        eprintln!("SKIPPED: browser test not run: {why}");
    }
    found
}

/// chromedriver on a free loopback port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start(path: &Path) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(path);
        command
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group, which the browsers it starts join: dropping the driver
        // ends them too, even when a failed assertion left the session open.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().expect("chromedriver starts");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        #[cfg(unix)]
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium session with a fresh profile.
async fn browser(driver: &Driver, profile: &Path) -> Client {
    let mut args = vec![
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--window-size=1100,820".into(),
    ];
    args.push(format!("--user-data-dir={}", profile.display()));
    let mut options = json!({ "args": args });
    if Path::new("/usr/bin/chromium").exists() {
        options["binary"] = json!("/usr/bin/chromium");
    }
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert("goog:chromeOptions".into(), options);
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// Save a screenshot under target/screenshots/ and print its path.
async fn screenshot(client: &Client, name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, client.screenshot().await.unwrap()).unwrap();
    let shown = path.canonicalize().unwrap_or(path.clone());
    println!("screenshot saved: {}", shown.display());
    shown
}

async fn count(client: &Client, css: &str) -> usize {
    client.find_all(Locator::Css(css)).await.unwrap().len()
}

async fn script(client: &Client, js: &str) -> Value {
    client.execute(js, vec![]).await.unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Wait until the browser's address holds `wanted`: a click that navigates returns before
/// the new page has replaced the old one, and an element both pages have would be found on
/// the old one.
async fn wait_for_address(c: &Client, wanted: &str) {
    let asked = Instant::now();
    loop {
        let url = c.current_url().await.unwrap();
        if url.as_str().contains(wanted) {
            return;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(20),
            "no page at an address with {wanted:?}: still at {url}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn search_open_a_result_see_highlights_follow_an_entity_to_its_chart() {
    let Some(driver_path) = find_driver() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pages = fixture_pages();
    scrape(dir.path(), &pages.url(CLASSIC_PATH));
    scrape(dir.path(), &pages.url(CONTEMPO_PATH));
    let driver = Driver::start(&driver_path);
    for backend in backends("search_open_a_result_see_highlights_follow_an_entity_to_its_chart") {
        eprintln!("on {}", backend.name());
        backend.load(dir.path());
        let served = backend.serve(dir.path());
        // Screenshots of the PostgreSQL run are named so.
        let suffix = match backend {
            Backend::Sqlite => "",
            Backend::Postgres(_) => "-postgres",
        };
        reader_walk(&driver, &served, &pages, suffix);
    }
}

/// Search, open a result, see its highlights, follow an entity to its chart, narrow by a facet.
fn reader_walk(driver: &Driver, served: &Served, pages: &common::TestServer, suffix: &str) {
    let profile = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let c = browser(driver, profile.path()).await;
        c.goto(&served.url("/")).await.unwrap();
        let q = c.find(Locator::Css("input[name=q]")).await.unwrap();
        q.send_keys("nuclear").await.unwrap();
        c.find(Locator::Css("form.search button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        // The start page lists the newest articles as hits too: wait for the search's own
        // page before reading its hits, or the hit found may be the start page's, stale once
        // the search loads (seen once in CI).
        wait_for_address(&c, "q=nuclear").await;
        let first = c
            .wait()
            .for_element(Locator::Css("li.hit a.title"))
            .await
            .unwrap();
        // The address holds the search: it can be bookmarked.
        let url = c.current_url().await.unwrap();
        assert!(url.query().unwrap_or("").contains("q=nuclear"), "{url}");
        assert_eq!(count(&c, "li.hit").await, 1);
        assert_eq!(
            c.find(Locator::Css("p.snippet mark"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
            "nuclear"
        );
        assert!(count(&c, "aside.facets a").await >= 3, "facet links");
        screenshot(&c, &format!("serve-search{suffix}")).await;

        assert_eq!(
            first.text().await.unwrap(),
            "Iran wants strategic ties with Russia"
        );
        first.click().await.unwrap();
        c.wait()
            .for_element(Locator::Css("article.full h1"))
            .await
            .unwrap();
        // Mentions are highlighted by kind, and each is a link to its entity.
        assert!(count(&c, ".body a.ent.ent-person").await >= 5);
        assert!(count(&c, ".body a.ent.ent-location").await >= 10);
        let colour = script(
            &c,
            "return getComputedStyle(document.querySelector('.body a.ent-person')).backgroundColor",
        )
        .await;
        assert_ne!(
            colour,
            json!("rgba(0, 0, 0, 0)"),
            "the highlight has a colour"
        );
        let original = c.find(Locator::Css("dd.original a")).await.unwrap();
        assert_eq!(
            original.attr("href").await.unwrap().as_deref(),
            Some(pages.url(CLASSIC_PATH).as_str())
        );
        screenshot(&c, &format!("serve-article{suffix}")).await;

        let putin = c
            .find(Locator::Css(
                ".body a.ent-person[href='/entities/person/Vladimir%20Putin']",
            ))
            .await
            .unwrap();
        putin.click().await.unwrap();
        c.wait()
            .for_element(Locator::Css("svg.chart"))
            .await
            .unwrap();
        assert_eq!(
            c.find(Locator::Css("h1"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
            "Vladimir Putin"
        );
        assert!(
            count(&c, "svg.chart rect.bar").await >= 1,
            "the chart has bars"
        );
        let bar_height = script(
            &c,
            "return document.querySelector('svg.chart rect.bar').getBBox().height",
        )
        .await;
        assert!(bar_height.as_f64().unwrap() > 10.0, "{bar_height}");
        let aliases = c
            .find(Locator::Css("ul.aliases"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(aliases.contains("Putin"), "{aliases}");
        assert!(
            count(&c, "aside table.entities a.ent").await >= 3,
            "company"
        );
        screenshot(&c, &format!("serve-entity{suffix}")).await;

        // Facets narrow a search (no script needed: they are links).
        c.goto(&served.url("/?q=russia+OR+kenya")).await.unwrap();
        assert_eq!(count(&c, "li.hit").await, 2);
        c.find(Locator::Css("aside.facets a[href*='label=Kenya']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.wait()
            .for_element(Locator::Css("p.active"))
            .await
            .unwrap();
        assert_eq!(count(&c, "li.hit").await, 1);
        c.close().await.unwrap();
    });
}

#[test]
fn hostile_content_is_shown_as_text_and_runs_nothing() {
    let Some(driver_path) = find_driver() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pages = fixture_pages();
    scrape(dir.path(), &pages.url(CLASSIC_PATH));
    let id = add_hostile_article(&db_path(dir.path()));
    let served = Served::start(dir.path(), "news.db");
    let driver = Driver::start(&driver_path);
    let profile = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let c = browser(&driver, profile.path()).await;
        let name = "Mallory\"><script>window.__pwned=6</script> <svg onload=\"window.__pwned=3\"><script>window.__pwned=4</script></svg>";
        let entity = format!(
            "/entities/person/{}",
            url::form_urlencoded::byte_serialize(name.as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        );
        for (path, shot) in [
            (format!("/articles/{id}"), "serve-hostile-article"),
            ("/?q=hostile".to_string(), "serve-hostile-search"),
            ("/?q=opening&label=label+%3Cscript%3E".to_string(), ""),
            (entity, "serve-hostile-entity"),
            ("/entities".to_string(), ""),
            ("/sources".to_string(), ""),
        ] {
            c.goto(&served.url(&path)).await.unwrap();
            c.wait().for_element(Locator::Css("main")).await.unwrap();
            // Give an injected image time to fail and its handler time to run.
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert_eq!(
                script(&c, "return typeof window.__pwned").await,
                json!("undefined"),
                "{path}: a payload ran"
            );
            // The payloads would set the title to exactly PWNED; shown as text, it is the
            // page's own title with the payload's characters in it.
            let title = c.title().await.unwrap();
            assert!(title.ends_with(" · gleaner"), "{path}: {title}");
            // No element came from the data: the page's own markup has no script, no img,
            // and SVG only in the chart.
            assert_eq!(count(&c, "script").await, 0, "{path}");
            assert_eq!(count(&c, "img").await, 0, "{path}");
            assert_eq!(count(&c, "svg:not(.chart)").await, 0, "{path}");
            assert_eq!(count(&c, "a[href^='javascript:' i]").await, 0, "{path}");
            assert_eq!(count(&c, "a[href^='data:' i]").await, 0, "{path}");
            assert_eq!(count(&c, "[onerror], [onload]").await, 0, "{path}");
            if !shot.is_empty() {
                screenshot(&c, shot).await;
            }
        }

        c.goto(&served.url(&format!("/articles/{id}"))).await.unwrap();
        let h1 = c.find(Locator::Css("h1")).await.unwrap().text().await.unwrap();
        assert!(h1.contains("<script>window.__pwned=1"), "title shown as text: {h1}");
        assert!(h1.contains("<img src=x onerror="), "{h1}");
        let body = c.find(Locator::Css(".body")).await.unwrap().text().await.unwrap();
        assert!(body.contains("<svg onload="), "{body}");
        assert!(body.contains(&format!("<a href=\"{JS_URL}\">click</a>")), "{body}");
        let original = c
            .find(Locator::Css("dd.original"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(original, JS_URL, "the javascript: URL is text, not a link");
        assert_eq!(count(&c, "dd.original a").await, 0);
        let labels = c.find_all(Locator::Css("dd a.chip")).await.unwrap();
        assert_eq!(labels.len(), 2);
        assert!(labels[0].text().await.unwrap().contains("<script>"));
        // The hostile entity's mention is a link to its page, with the name intact.
        let mention = c.find(Locator::Css(".body a.ent-person")).await.unwrap();
        assert!(mention.text().await.unwrap().starts_with("Mallory\"><script>"));
        mention.click().await.unwrap();
        // The article page has an h1 too: wait for the entity's page first.
        wait_for_address(&c, "/entities/").await;
        c.wait().for_element(Locator::Css("h1")).await.unwrap();
        let h1 = c.find(Locator::Css("h1")).await.unwrap().text().await.unwrap();
        assert_eq!(h1, name);
        assert_eq!(script(&c, "return typeof window.__pwned").await, json!("undefined"));
        c.close().await.unwrap();
    });
}
