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

/// A link as a feed or sitemap gives it, without the invisible characters that copy and paste
/// and right-to-left text leave in links (zero-width spaces and joiners, bidirectional
/// marks, embeddings and isolates, the byte-order mark, soft hyphens): no server has a page
/// at an address with one in it, and every try of it fails.
///
/// ```
/// use gleaner_scrape::without_invisible;
/// assert_eq!(without_invisible("https://e.com/a\u{200b}.html\u{200f}"), "https://e.com/a.html");
/// assert_eq!(without_invisible("https://e.com/a%E2%80%8B.html?q=%41"), "https://e.com/a.html?q=%41");
/// ```
pub fn without_invisible(link: &str) -> std::borrow::Cow<'_, str> {
    if !link.chars().any(invisible) && !link.contains('%') {
        return link.into();
    }
    // Also percent-encoded (`%E2%80%8B`), as a feed parser that normalises links writes them.
    let mut out = String::with_capacity(link.len());
    let mut rest = link;
    while let Some(c) = rest.chars().next() {
        if c == '%'
            && let Some((decoded, len)) = percent_encoded_char(rest)
            && invisible(decoded)
        {
            rest = rest.get(len..).unwrap_or("");
            continue;
        }
        if !invisible(c) {
            out.push(c);
        }
        rest = rest.get(c.len_utf8()..).unwrap_or("");
    }
    if out.len() == link.len() {
        link.into()
    } else {
        out.into()
    }
}

fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// The character percent-encoded (as UTF-8, `%XX` a byte) at the start of `text`, and how
/// many bytes of `text` it takes.
fn percent_encoded_char(text: &str) -> Option<(char, usize)> {
    let mut bytes = Vec::with_capacity(4);
    let mut at = 0;
    while bytes.len() < 4 && text.as_bytes().get(at) == Some(&b'%') {
        let hex = text.get(at + 1..at + 3)?;
        bytes.push(u8::from_str_radix(hex, 16).ok()?);
        at += 3;
        if let Ok(s) = std::str::from_utf8(&bytes) {
            return s.chars().next().map(|c| (c, at));
        }
    }
    None
}

/// Query parameters that only say where a reader came from or which layout to show:
/// one page under every value. `utm_*` is matched by its prefix, and `m` (Blogger's mobile
/// switch) only as `m=0` or `m=1`.
const TRACKING_PARAMS: &[&str] = &["fbclid", "gclid", "mc_cid", "mc_eid", "amp"];

/// The page a listed link stands for, to tell two links to one page apart within a listing:
/// the URL without its fragment and without `utm_*` and the [`TRACKING_PARAMS`] (`m=1` is
/// Blogger's mobile layout), the rest of the query in order. A feed that lists one post twice,
/// as `…/a.html` and `…/a.html?utm_source=rss`, or `…/a.html#more`, lists one page.
///
/// ```
/// use gleaner_scrape::listed_page_key;
/// assert_eq!(
///     listed_page_key("https://e.com/a.html?utm_source=rss&id=3&m=1#more"),
///     listed_page_key("https://e.com/a.html?id=3")
/// );
/// assert_ne!(listed_page_key("https://e.com/a?id=3"), listed_page_key("https://e.com/a?id=4"));
/// assert_ne!(listed_page_key("https://e.com/archive?m=2"), listed_page_key("https://e.com/archive"));
/// ```
pub fn listed_page_key(link: &str) -> String {
    let Ok(mut url) = Url::parse(link.trim()) else {
        return link.trim().to_string();
    };
    url.set_fragment(None);
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, v)| {
            let k = k.to_ascii_lowercase();
            let mobile = k == "m" && matches!(v.as_ref(), "0" | "1");
            !k.starts_with("utm_") && !TRACKING_PARAMS.contains(&k.as_str()) && !mobile
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    url.into()
}

/// A listed link without the query parameters that only say where a reader came from
/// (`utm_*`, `fbclid`, `gclid`, `mc_cid`, `mc_eid`): the address a page is fetched and stored
/// under, so a feed that lists `…/a.html?utm_source=rss` one day and `…/a.html` the next
/// gives one row. The rest of the link is kept byte for byte (no re-encoding); borrowed when
/// there is nothing to drop. `m=1`, `amp` and fragments are kept: they choose a layout.
///
/// ```
/// use gleaner_scrape::without_tracking;
/// assert_eq!(
///     without_tracking("https://e.com/a.html?utm_source=rss&id=3&UTM_Medium=x#more"),
///     "https://e.com/a.html?id=3#more"
/// );
/// assert_eq!(without_tracking("https://e.com/a.html?utm_source=rss"), "https://e.com/a.html");
/// assert_eq!(without_tracking("https://e.com/a?q=a%20b&m=1"), "https://e.com/a?q=a%20b&m=1");
/// assert_eq!(without_tracking("https://e.com/a#x?utm_a=1"), "https://e.com/a#x?utm_a=1");
/// ```
pub fn without_tracking(link: &str) -> std::borrow::Cow<'_, str> {
    let tracking = |pair: &str| {
        let key = pair.split('=').next().unwrap_or("").to_ascii_lowercase();
        key.starts_with("utm_") || matches!(key.as_str(), "fbclid" | "gclid" | "mc_cid" | "mc_eid")
    };
    let hash = link.find('#').unwrap_or(link.len());
    let Some(q) = link.find('?').filter(|q| *q < hash) else {
        return link.into();
    };
    let (before, rest) = link.split_at(q);
    let rest = rest.get(1..).unwrap_or("");
    let (query, fragment) = match rest.find('#') {
        Some(h) => rest.split_at(h),
        None => (rest, ""),
    };
    if !query.split('&').any(tracking) {
        return link.into();
    }
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !tracking(p))
        .collect();
    let mut out = String::with_capacity(link.len());
    out.push_str(before);
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    out.push_str(fragment);
    out.into()
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
