//! A fresh PostgreSQL schema per test on the server named by `GLEANER_TEST_POSTGRES`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const ENV: &str = "GLEANER_TEST_POSTGRES";

/// A schema of its own (dropped with it): `url` connects with it as the search path.
pub struct PgSchema {
    pub base: String,
    pub name: String,
    pub url: String,
}

impl PgSchema {
    /// `None`, and a line on stderr saying why, when no server is configured.
    pub fn new(test: &str) -> Option<PgSchema> {
        let Ok(base) = std::env::var(ENV) else {
            // Written past the test harness's capture, so that a passing run still shows it.
            let _ = std::io::stderr().write_all(
                format!(
                    "skipped {test} on PostgreSQL: {ENV} is not set \
                     (e.g. {ENV}=postgres://postgres@127.0.0.1:5432/test)\n"
                )
                .as_bytes(),
            );
            return None;
        };
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "gleaner_test_{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst),
            chrono::Utc::now().timestamp_subsec_nanos()
        );
        admin(&base, &format!("CREATE SCHEMA {name}"))
            .unwrap_or_else(|e| panic!("{ENV}={base} does not answer: {e}"));
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{name}");
        Some(PgSchema { base, name, url })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let _ = admin(
            &self.base,
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        );
    }
}

/// Run statements on the server outside any store.
pub fn admin(base: &str, sql: &str) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("connecting to {base}: {e}"))?;
        let task = tokio::spawn(conn);
        let r = client.batch_execute(sql).await.map_err(|e| e.to_string());
        drop(client);
        let _ = task.await;
        r
    })
}

/// Instantiate each test on both backends: `mod sqlite` and `mod postgres` of the calling
/// file, each test `fn name(db)` called with the file's `sqlite_db()` or
/// `postgres_db("name")` (which is `None`, and the test skipped, without a server).
#[allow(unused_macros)]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(super::sqlite_db()); })*
        }
        mod postgres {
            $(#[test] fn $name() {
                if let Some(db) = super::postgres_db(stringify!($name)) { super::$name(db); }
            })*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use both;
