//! The state of configured sources as the database knows it, for `gleaner sources`, and the
//! rule that ties a page URL to the source it came from (the first source on its origin).

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use gleaner_store::AnyStore;

/// One configured source's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceState {
    /// Articles stored from it.
    pub articles: u64,
    /// When a run last read it.
    pub last_run_at: Option<DateTime<Utc>>,
    /// Newest `updated` / `lastmod` seen in a complete read (the next `updated-min`).
    pub newest_seen: Option<DateTime<Utc>>,
    /// URLs on its origin whose last fetch failed (pages waiting for a retry, listing
    /// documents that failed on the last run).
    pub failing: u64,
}

/// `scheme://host:port` of a URL.
pub fn origin_of(url: &str) -> Option<url::Origin> {
    url::Url::parse(url).ok().map(|u| u.origin())
}

/// Index of the first source (by URL) on `url`'s origin.
pub fn source_index_for(sources: &[&str], url: &str) -> Option<usize> {
    let page = origin_of(url)?;
    sources
        .iter()
        .position(|s| origin_of(s).as_ref() == Some(&page))
}

/// What two `[[sources]]` addresses of one source have in common: the address without its
/// scheme (`http`/`https`), with the host in lower case (the URL parser does that), no
/// trailing `/`, no `#fragment` and no Blogger mobile switch (`m=1`, `m=0`). Two entries with
/// one key read the same pages: each page was fetched once per entry. `None` for an address
/// that does not parse (left as it is).
pub fn same_source_key(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed.host_str()?;
    let port = parsed.port().map_or_else(String::new, |p| format!(":{p}"));
    let path = parsed.path().trim_end_matches('/');
    let query: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, v)| !(k == "m" && (v == "1" || v == "0")))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut key = format!("{host}{port}{path}");
    for (i, (k, v)) in query.iter().enumerate() {
        key.push(if i == 0 { '?' } else { '&' });
        key.push_str(k);
        key.push('=');
        key.push_str(v);
    }
    Some(key)
}

/// The state of each source URL, `None` for sources no run has recorded yet.
pub fn states(store: &AnyStore, sources: &[&str]) -> Result<Vec<Option<SourceState>>> {
    let known = store.sources().context("reading source state")?;
    let mut out: Vec<Option<SourceState>> = sources
        .iter()
        .map(|url| {
            known.iter().find(|k| k.url == *url).map(|k| SourceState {
                articles: k.articles,
                last_run_at: k.last_run_at,
                newest_seen: k.last_updated_seen,
                failing: 0,
            })
        })
        .collect();
    let failing = store.failing_urls().context("reading failed fetches")?;
    for url in failing {
        if let Some(i) = source_index_for(sources, &url)
            && let Some(Some(state)) = out.get_mut(i)
        {
            state.failing += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_belong_to_the_first_source_on_their_origin() {
        let sources = [
            "https://a.example/",
            "https://b.example/feed",
            "https://a.example/sitemap.xml",
        ];
        assert_eq!(
            source_index_for(&sources, "https://a.example/2023/01/x.html"),
            Some(0)
        );
        assert_eq!(
            source_index_for(&sources, "https://b.example/posts/1"),
            Some(1)
        );
        assert_eq!(source_index_for(&sources, "http://a.example/x"), None);
        assert_eq!(source_index_for(&sources, "not a url"), None);
    }

    #[test]
    fn one_source_written_several_ways_has_one_key() {
        let key = same_source_key("https://harbour.example/");
        assert!(key.is_some());
        for url in [
            "http://harbour.example/",
            "https://HARBOUR.example",
            "https://harbour.example/?m=1",
            "http://Harbour.Example/?m=0#top",
            "https://harbour.example:443/",
        ] {
            assert_eq!(same_source_key(url), key, "{url}");
        }
        for url in [
            "https://www.harbour.example/",
            "https://harbour.example/feed",
            "https://harbour.example/?page=2",
            "https://harbour.example:8080/",
        ] {
            assert_ne!(same_source_key(url), key, "{url}");
        }
        assert_eq!(same_source_key("not a url"), None);
    }
}
