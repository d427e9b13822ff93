//! URL rules for Blogger: canonical post URLs and per-post feed URLs.

use url::Url;

/// The canonical form of a Blogger URL.
///
/// * `m=1` / `m=0` (the mobile switch) is removed from the query, and an empty query dropped;
/// * the fragment is dropped;
/// * a blogspot country host (`x.blogspot.de`, `x.blogspot.com.br`, `x.blogspot.co.uk`, …)
///   becomes `x.blogspot.com`.
///
/// Anything that does not parse as an absolute URL is returned trimmed, unchanged.
///
/// ```
/// use gleaner_scrape::canonical_blogger_url;
/// assert_eq!(
///     canonical_blogger_url("https://x.blogspot.com.br/2020/01/a.html?m=1#more"),
///     "https://x.blogspot.com/2020/01/a.html"
/// );
/// ```
pub fn canonical_blogger_url(raw: &str) -> String {
    let raw = raw.trim();
    let Ok(mut url) = Url::parse(raw) else {
        return raw.to_string();
    };
    if let Some(host) = url.host_str().map(str::to_ascii_lowercase)
        && let Some(pos) = host.find(".blogspot.")
    {
        let (name, tld) = (
            host.get(..pos).unwrap_or_default(),
            host.get(pos + ".blogspot.".len()..).unwrap_or_default(),
        );
        if tld != "com" && !name.is_empty() && tld.split('.').all(|p| p.len() <= 3 && !p.is_empty())
        {
            let new_host = format!("{name}.blogspot.com");
            // A failure leaves the host as it was.
            let _ = url.set_host(Some(&new_host));
        }
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "m")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else if url.query_pairs().count() != kept.len() {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    url.set_fragment(None);
    url.to_string()
}

/// The per-post feed URL of a Blogger post, as JSON:
/// `https://www.blogger.com/feeds/<blogId>/posts/default/<postId>?alt=json`.
///
/// Dynamic Views pages carry no post content in their HTML; fetch this and read it with
/// [`crate::blogger_feed::parse_feed`] (it yields one entry).
pub fn blogger_post_feed_url(blog_id: &str, post_id: &str) -> String {
    format!(
        "https://www.blogger.com/feeds/{}/posts/default/{}?alt=json",
        blog_id.trim(),
        post_id.trim()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobile_and_country_hosts_are_canonicalised() {
        assert_eq!(
            canonical_blogger_url("http://siliconexposed.blogspot.tw/2016/05/a.html?m=1"),
            "http://siliconexposed.blogspot.com/2016/05/a.html"
        );
        assert_eq!(
            canonical_blogger_url("https://x.blogspot.de/p.html?m=0&a=b"),
            "https://x.blogspot.com/p.html?a=b"
        );
        assert_eq!(
            canonical_blogger_url("https://x.blogspot.co.uk/"),
            "https://x.blogspot.com/"
        );
        assert_eq!(
            canonical_blogger_url("https://www.example.com/a.html?m=1"),
            "https://www.example.com/a.html"
        );
        assert_eq!(
            canonical_blogger_url("https://www.example.com/a.html?x=1"),
            "https://www.example.com/a.html?x=1"
        );
        assert_eq!(canonical_blogger_url("not a url"), "not a url");
    }

    #[test]
    fn post_feed_url_is_the_json_entry() {
        assert_eq!(
            blogger_post_feed_url("44", "55"),
            "https://www.blogger.com/feeds/44/posts/default/55?alt=json"
        );
    }
}
