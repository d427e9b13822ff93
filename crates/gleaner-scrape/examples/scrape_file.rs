//! Print what `gleaner-scrape` reads out of a saved page or feed, as pretty JSON.
//!
//! ```text
//! cargo run -p gleaner-scrape --example scrape_file FILE [URL]
//! ```
//!
//! A file starting with `<?xml`, `<feed`, `<rss` or `{` is read as a Blogger feed page;
//! anything else as an HTML page fetched from `URL` (default `http://localhost/`).

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: scrape_file FILE [URL]");
        return ExitCode::from(2);
    };
    let url = args
        .next()
        .unwrap_or_else(|| "http://localhost/".to_string());
    let body = match std::fs::read_to_string(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("scrape_file: cannot read {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let head = body.trim_start();
    if head.starts_with("<?xml")
        || head.starts_with("<feed")
        || head.starts_with("<rss")
        || head.starts_with('{')
    {
        match gleaner_scrape::blogger_feed::parse_feed(&body) {
            Ok(page) => {
                println!(
                    "total={:?} start={:?} per_page={:?} next={:?} blog_id={:?}",
                    page.total_results,
                    page.start_index,
                    page.items_per_page,
                    page.next,
                    page.blog_id
                );
                for e in &page.entries {
                    println!(
                        "--- full_content={} summary={:?}",
                        e.full_content, e.summary
                    );
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&e.article).unwrap_or_default()
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("scrape_file: {e}");
                ExitCode::from(1)
            }
        }
    } else {
        let article = gleaner_scrape::extract(&body, &url);
        println!(
            "{}",
            serde_json::to_string_pretty(&article).unwrap_or_default()
        );
        ExitCode::SUCCESS
    }
}
