//! What the hostile-source tests (`hostile_e2e.rs`, `hostile_sources_e2e.rs`,
//! `hostile_round4_e2e.rs`) share: the binary under test (`GLEANER_TEST_BIN` runs them against
//! another build, e.g. the session's start, to see the faults), a run in a folder with its
//! `gleaner.toml` and `news.db`, assertions on what it printed, and the pages and sitemaps a
//! source serves.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::{Response, stderr, stdout};

/// The binary the tests run: `GLEANER_TEST_BIN`, else this tree's.
pub fn gleaner_bin() -> String {
    std::env::var("GLEANER_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_gleaner").into())
}

/// `gleaner --config gleaner.toml --db DB ARGS…` in `dir`.
pub fn gleaner_on(dir: &Path, db: &str, args: &[&str]) -> Output {
    Command::new(gleaner_bin())
        .current_dir(dir)
        .args(["--config", "gleaner.toml", "--db", db])
        .args(args)
        .env_remove("GLEANER_DB")
        .env_remove("GLEANER_CONFIG")
        .env_remove("GLEANER_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// `gleaner --config gleaner.toml --db news.db ARGS…` in `dir`.
pub fn gleaner_in(dir: &Path, args: &[&str]) -> Output {
    gleaner_on(dir, "news.db", args)
}

/// `gleaner … run` in `dir`.
pub fn run(dir: &Path) -> Output {
    gleaner_in(dir, &["run"])
}

pub fn assert_exit(o: &Output, code: i32, what: &str) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "{what}: exit code\n--- stdout ---\n{}\n--- stderr ---\n{}",
        stdout(o),
        stderr(o)
    );
}

pub fn assert_says(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(err.contains(needle), "stderr lacks {needle:?}:\n{err}");
}

/// The run's database, `news.db` in `dir`.
pub fn db(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("news.db")).unwrap()
}

/// Every stored article's address, in order.
pub fn stored_urls(dir: &Path) -> Vec<String> {
    let conn = db(dir);
    let mut st = conn
        .prepare("SELECT url FROM articles ORDER BY url")
        .unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// (url, title, body) of every stored article, by url.
pub fn stored_articles(dir: &Path) -> Vec<(String, String, String)> {
    let conn = db(dir);
    let mut st = conn
        .prepare("SELECT url, title, body FROM articles ORDER BY url")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// `gleaner … run` in `dir` (`gleaner.toml`, `news.db`), started and not waited for; its
/// stderr piped.
pub fn spawn_run(dir: &Path) -> std::process::Child {
    Command::new(gleaner_bin())
        .current_dir(dir)
        .args(["--config", "gleaner.toml", "--db", "news.db", "run"])
        .env_remove("GLEANER_DB")
        .env_remove("GLEANER_CONFIG")
        .env_remove("GLEANER_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Kill moments drawn from a seed (a linear congruential generator). The seed is `var`'s
/// value when it is set, else taken from the clock, and is printed as `var=seed` so a failing
/// run can be replayed.
pub struct Moments {
    state: u64,
    /// The seed the moments came from, for failure messages.
    pub seed: u64,
}

impl Moments {
    pub fn from_env(var: &str) -> Moments {
        let seed = std::env::var(var)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .subsec_nanos()
                    .into()
            });
        println!("{var}={seed}");
        Moments { state: seed, seed }
    }

    /// The next moment in `from..to` milliseconds.
    pub fn next_ms(&mut self, from: u64, to: u64) -> u64 {
        self.state = self
            .state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        from + (self.state >> 33) % (to - from).max(1)
    }
}

/// A few sentences about `topic`: enough text to be an article.
pub fn text_about(topic: &str) -> String {
    format!(
        "{topic} was the first matter on the agenda of the harbour board on Tuesday. \
         Members heard that the work had been planned since the autumn and would be reviewed \
         after the first six months, when the season's traffic figures are in. Shipping lines \
         were told of the decision in a letter, and most said they expected little effect on \
         their schedules for the rest of the year."
    )
}

/// Writes `gleaner.toml`: fast local fetch settings (unless `extra_fetch` sets them), then
/// `extra_fetch`, then the sources as (kind, url).
pub fn config(dir: &Path, extra_fetch: &str, sources: &[(&str, String)]) {
    let mut text = String::from("[fetch]\n");
    for (key, value) in [
        ("per_host_per_second", "2000.0"),
        ("retry_base_delay_ms", "20"),
        ("timeout_secs", "20"),
        ("max_attempts", "1"),
    ] {
        if !extra_fetch.contains(key) {
            text.push_str(&format!("{key} = {value}\n"));
        }
    }
    text.push_str(extra_fetch);
    text.push('\n');
    for (kind, url) in sources {
        text.push_str(&format!(
            "\n[[sources]]\nurl = \"{url}\"\nkind = \"{kind}\"\n"
        ));
    }
    std::fs::write(dir.join("gleaner.toml"), text).unwrap();
}

/// A plain news page with enough text to be an article.
pub fn news_page(title: &str, lead: &str) -> Response {
    Response::html(format!(
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title></head>\
         <body><nav><a href='/'>Home</a></nav><main><article><h1>{title}</h1>\
         <p>{lead}</p>\
         <p>Port officials said the change had been planned since the autumn and would be \
         reviewed after the first six months, when traffic figures for the season are in.</p>\
         <p>Shipping lines were told of the decision in a letter on Monday, and most said they \
         expected little effect on their schedules for the rest of the year.</p>\
         </article></main><footer>Copyright Harbour Post</footer></body></html>"
    ))
}

/// A sitemap of (loc, lastmod) entries.
pub fn sitemap<S: AsRef<str>>(entries: &[(String, S)]) -> Response {
    let entries: String = entries
        .iter()
        .map(|(loc, lastmod)| {
            format!(
                "<url><loc>{loc}</loc><lastmod>{}</lastmod></url>",
                lastmod.as_ref()
            )
        })
        .collect();
    Response::with_type(
        200,
        "application/xml",
        format!(
            "<?xml version='1.0' encoding='UTF-8'?><urlset \
             xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{entries}</urlset>"
        ),
    )
}

/// An RSS 2.0 document of the Harbour Post holding `items` (their XML) and, when given, an
/// `atom:link rel='next'` to the next page.
pub fn rss_channel(items: &str, next: Option<&str>) -> Response {
    let next = next
        .map(|n| format!("<atom:link rel='next' href='{n}'/>"))
        .unwrap_or_default();
    Response::with_type(
        200,
        "application/rss+xml",
        format!(
            "<?xml version='1.0' encoding='UTF-8'?><rss version='2.0' \
             xmlns:content='http://purl.org/rss/1.0/modules/content/' \
             xmlns:atom='http://www.w3.org/2005/Atom'><channel><title>Harbour Post</title>\
             <link>http://harbour.example/</link><description>News</description>{next}{items}\
             </channel></rss>"
        ),
    )
}

/// The environment variable naming the PostgreSQL server the tests may use, e.g.
/// `postgres://postgres@127.0.0.1:5432/test`.
pub const PG_ENV: &str = "GLEANER_TEST_POSTGRES";

/// One number from the last statement of `sql` on the server at `base`, with `schema` as
/// search path (none: 0).
pub fn pg_number(base: &str, schema: Option<&str>, sql: &str) -> i64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("{PG_ENV}={base} does not answer: {e}"));
        let task = tokio::spawn(conn);
        if let Some(schema) = schema {
            client
                .batch_execute(&format!("SET search_path = {schema}"))
                .await
                .unwrap();
        }
        let mut n = 0;
        for m in client.simple_query(sql).await.unwrap() {
            if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
                n = r.get(0).and_then(|v| v.parse().ok()).unwrap_or(0);
            }
        }
        drop(client);
        let _ = task.await;
        n
    })
}

/// A fresh schema on the server in [`PG_ENV`] for one test, dropped when the test ends.
pub struct PgSchema {
    base: String,
    schema: String,
    /// The `--db` address that works in the schema.
    pub url: String,
}

impl PgSchema {
    /// `None`, saying so, when [`PG_ENV`] is not set.
    pub fn fresh(name: &str) -> Option<PgSchema> {
        let Ok(base) = std::env::var(PG_ENV) else {
            eprintln!(
                "skipped: {PG_ENV} is not set (e.g. postgres://postgres@127.0.0.1:5432/test)"
            );
            return None;
        };
        let schema = format!("{name}_{}", std::process::id());
        pg_number(
            &base,
            None,
            &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"),
        );
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
        Some(PgSchema { base, schema, url })
    }

    /// One number from the last statement of `sql`, in the schema.
    pub fn number(&self, sql: &str) -> i64 {
        pg_number(&self.base, Some(&self.schema), sql)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        pg_number(
            &self.base,
            None,
            &format!("DROP SCHEMA {} CASCADE", self.schema),
        );
    }
}

/// `gleaner … --db DB run` in `dir`, started and not waited for, with `envs` set; stdout and
/// stderr piped.
pub fn spawn_run_on(dir: &Path, db: &str, envs: &[(&str, &str)]) -> std::process::Child {
    Command::new(gleaner_bin())
        .current_dir(dir)
        .args(["--config", "gleaner.toml", "--db", db, "run"])
        .env_remove("GLEANER_DB")
        .env_remove("GLEANER_CONFIG")
        .env_remove("GLEANER_LOG")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The child's output once it exits; killed, and the test failed with what it printed, if
/// it is still running after `secs` seconds (a run that hangs). Its pipes are drained
/// meanwhile, so a talkative run never blocks on them.
pub fn output_within(mut child: std::process::Child, secs: u64, what: &str) -> Output {
    use std::io::Read;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let err = err.join().unwrap();
            panic!(
                "{what}: still running after {secs} s, killed\n--- stderr ---\n{}",
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// One number from `sql` on the run's database, `news.db` in `dir`.
pub fn db_number(dir: &Path, sql: &str) -> i64 {
    db(dir).query_row(sql, [], |r| r.get(0)).unwrap()
}
