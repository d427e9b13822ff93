//! Development aid: which elements the generic extractor's scoring chose on a saved page
//! (plain or gzip), their ancestors, and the body it returned.
//!
//! ```text
//! cargo run --release -p gleaner-scrape --example explain_extract FILE
//! ```

use std::io::Read;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: explain_extract FILE");
        return ExitCode::from(2);
    };
    let Ok(mut bytes) = std::fs::read(&path) else {
        eprintln!("explain_extract: cannot read {path}");
        return ExitCode::from(2);
    };
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut raw = Vec::new();
        if flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut raw)
            .is_ok()
        {
            bytes = raw;
        }
    }
    let html = String::from_utf8_lossy(&bytes);
    print!("{}", gleaner_scrape::explain(&html));
    let a = gleaner_scrape::extract(&html, "");
    for b in &a.blocks {
        let t: String = b.text.chars().take(100).collect();
        println!("[{:?}] {t}", b.kind);
    }
    ExitCode::SUCCESS
}
