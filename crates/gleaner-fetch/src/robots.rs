//! robots.txt: what a host's file says for gleaner, and what to do when there is none.
//!
//! Following RFC 9309: a 2xx file is parsed and obeyed for gleaner's product token (the user
//! agent up to its first `/`), falling back to the `*` group; a 4xx (other than 429) means there
//! are no rules, so everything is allowed; a 5xx, a 429, a timeout or a connection failure, still
//! there after the same retries a page gets, means the host is not crawled at all in this run
//! (the next run asks again).
//!
//! The file is read up to [`MAX_ROBOTS_BYTES`] (Google reads 500 KiB). Rules are matched here,
//! not compiled to regular expressions: a pattern's `*` wildcards and final `$` are matched
//! left to right, each literal piece at its first occurrence after the previous one, which for
//! these patterns finds a match whenever there is one. So the rules take the memory of their
//! text (one buffer for all patterns, a few words per rule), parsing is one pass over the file,
//! and checking a URL is linear in the rules' size and the URL's length, whatever the rules
//! look like. No rule can fail to "compile", so no rule can lift the others.

use std::time::Duration;

/// The largest robots.txt read; the rest is ignored (Google reads 500 KiB).
pub const MAX_ROBOTS_BYTES: usize = 512 * 1024;

/// What a host's robots.txt allows.
#[derive(Debug)]
pub enum RobotsPolicy {
    /// No rules (robots.txt absent, 4xx, or `respect_robots = false`).
    AllowAll,
    /// The rules for gleaner.
    Rules(Box<Rules>),
    /// robots.txt could not be read (5xx, 429, timeout, connection failure): do not crawl.
    Unreachable(String),
    /// The host's address is refused by policy (`allow_private_addresses = false`).
    Refused(String),
}

/// The rules of the group(s) that apply to gleaner.
#[derive(Debug, Default)]
pub struct Rules {
    /// Every pattern, normalised (see [`normalise`]), one after another.
    patterns: Vec<u8>,
    /// The rules, longest pattern first and, at equal length, Allow before Disallow: the first
    /// rule that matches decides (RFC 9309: the most specific match wins, a tie allows).
    rules: Vec<Rule>,
    /// `Crawl-delay` in seconds, if given.
    delay: Option<f64>,
    /// The `Sitemap:` lines' URLs, in file order, without repeats (they belong to no group).
    sitemaps: Vec<String>,
}

/// `Sitemap:` lines kept at most, and the longest URL kept (the sitemap protocol's limit).
const MAX_ROBOTS_SITEMAPS: usize = 50;
const MAX_SITEMAP_URL_BYTES: usize = 2048;

#[derive(Debug, Clone, Copy)]
struct Rule {
    start: usize,
    len: usize,
    allow: bool,
}

impl Rules {
    /// How many Allow/Disallow rules apply.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Heap bytes held (patterns and rule table).
    pub fn heap_bytes(&self) -> usize {
        self.patterns.capacity() + self.rules.capacity() * std::mem::size_of::<Rule>()
    }

    /// Whether `path` (path and query, as sent in a request) may be fetched.
    fn allows_path(&self, path: &[u8]) -> bool {
        if path == b"/robots.txt" {
            return true;
        }
        let path = normalise(path);
        for rule in &self.rules {
            let pattern = &self.patterns[rule.start..rule.start + rule.len];
            if matches(pattern, &path) {
                return rule.allow;
            }
        }
        true
    }
}

impl RobotsPolicy {
    /// Parse a robots.txt body for `agent` (a lowercase product token). Never fails: lines that
    /// are not understood are ignored, and every Allow/Disallow line that is kept is obeyed.
    ///
    /// `cut` says the body was cut at [`MAX_ROBOTS_BYTES`]: its last line is then incomplete,
    /// and is kept only if it is a Disallow (a cut pattern disallows more, never less).
    pub fn parse(agent: &str, body: &[u8], cut: bool) -> RobotsPolicy {
        let body = if cut { without_cut_line(body) } else { body };
        let rules = parse_rules(agent, body);
        tracing::debug!(
            rules = rules.len(),
            heap_bytes = rules.heap_bytes(),
            delay = ?rules.delay,
            "robots.txt parsed"
        );
        RobotsPolicy::Rules(Box::new(rules))
    }

    /// Whether `url` may be fetched.
    pub fn allows(&self, url: &str) -> bool {
        match self {
            RobotsPolicy::AllowAll => true,
            RobotsPolicy::Rules(rules) => rules.allows_path(&path_of(url)),
            RobotsPolicy::Unreachable(_) | RobotsPolicy::Refused(_) => false,
        }
    }

    /// The sitemaps the file names (`Sitemap:` lines, for every crawler, at most 50), as
    /// written; none unless the file was read.
    pub fn sitemaps(&self) -> &[String] {
        match self {
            RobotsPolicy::Rules(rules) => &rules.sitemaps,
            _ => &[],
        }
    }

    /// The `Crawl-delay` for gleaner, if one is given and is a positive finite number.
    pub fn crawl_delay(&self) -> Option<Duration> {
        match self {
            RobotsPolicy::Rules(rules) => rules
                .delay
                .filter(|d| d.is_finite() && *d > 0.0)
                .and_then(|d| Duration::try_from_secs_f64(d).ok()),
            _ => None,
        }
    }
}

/// The path and query of `url` (what robots.txt rules are matched against); `url` may also be
/// a path already.
fn path_of(url: &str) -> Vec<u8> {
    match url::Url::parse(url) {
        Ok(parsed) => parsed[url::Position::BeforePath..url::Position::AfterQuery]
            .as_bytes()
            .to_vec(),
        Err(_) if url.is_empty() => b"/".to_vec(),
        Err(_) => url.split('#').next().unwrap_or("").as_bytes().to_vec(),
    }
}

/// `body` without its last, incomplete line, unless that line is a Disallow.
fn without_cut_line(body: &[u8]) -> &[u8] {
    let Some(end) = body
        .iter()
        .rposition(|&b| b == b'\n' || b == b'\r' || b == 0)
    else {
        return body;
    };
    match lines(&body[end + 1..]).next() {
        Some(Line::Disallow(_)) => body,
        _ => &body[..end + 1],
    }
}

/// What one line of robots.txt says.
enum Line<'a> {
    UserAgent(&'a [u8]),
    Allow(&'a [u8]),
    Disallow(&'a [u8]),
    CrawlDelay(&'a [u8]),
    Sitemap(&'a [u8]),
    Other,
}

/// The lines of a robots.txt body, each split into its key and value, comments removed. A NUL
/// byte ends a line like a newline does (some servers send them).
fn lines(body: &[u8]) -> impl Iterator<Item = Line<'_>> {
    let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    body.split(|&b| b == b'\n' || b == b'\r' || b == 0)
        .map(|line| {
            let line = match line.iter().position(|&b| b == b'#') {
                Some(hash) => &line[..hash],
                None => line,
            };
            let line = line.trim_ascii();
            let (key, value) = match line.iter().position(|&b| b == b':') {
                Some(colon) => (&line[..colon], &line[colon + 1..]),
                // "Disallow /private": the value after the first space.
                None => match line.iter().position(|b| b.is_ascii_whitespace()) {
                    Some(space) => (&line[..space], &line[space..]),
                    None => return Line::Other,
                },
            };
            let value = value.trim_ascii();
            let key: Vec<u8> = key
                .iter()
                .filter(|b| !matches!(b, b' ' | b'\t' | b'-' | b'_'))
                .map(u8::to_ascii_lowercase)
                .collect();
            match key.as_slice() {
                b"useragent" => Line::UserAgent(value),
                b"allow" => Line::Allow(value),
                b"disallow" | b"dissallow" | b"dissalow" | b"disalow" | b"diasllow"
                | b"disallaw" => Line::Disallow(value),
                b"crawldelay" => Line::CrawlDelay(value),
                b"sitemap" => Line::Sitemap(value),
                _ => Line::Other,
            }
        })
}

/// Whether a `User-agent` value names `agent`: its product token (up to a `/`, a space or any
/// other character not allowed in one), compared without case.
fn names_agent(value: &[u8], agent: &str) -> bool {
    let token_end = value
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_'))
        .unwrap_or(value.len());
    let token = &value[..token_end];
    !token.is_empty() && token.eq_ignore_ascii_case(agent.as_bytes())
}

/// The rules that apply to `agent`: those of every group naming it, or, when none does, of
/// every group naming `*`. A file without any User-agent line applies to everyone.
fn parse_rules(agent: &str, body: &[u8]) -> Rules {
    let mut any_agent_line = false;
    let mut names_us = false;
    for line in lines(body) {
        if let Line::UserAgent(value) = line {
            any_agent_line = true;
            names_us |= names_agent(value, agent);
        }
    }
    let wanted = |value: &[u8]| {
        if names_us {
            names_agent(value, agent)
        } else {
            value.trim_ascii() == b"*"
        }
    };

    let mut rules = Rules::default();
    let mut capturing = !any_agent_line;
    let mut in_agent_lines = false;
    let mut seen_agent_line = false;
    let mut delay_before_groups: Option<f64> = None;
    for line in lines(body) {
        match line {
            Line::UserAgent(value) => {
                if !in_agent_lines {
                    // A new group starts.
                    capturing = false;
                }
                in_agent_lines = true;
                seen_agent_line = true;
                capturing |= wanted(value);
                continue;
            }
            Line::Other => {}
            Line::Sitemap(value) => {
                // Not part of any group (RFC 9309 section 2.2.4): kept wherever it is, and it
                // does not end the agent lines of a group.
                if let Ok(url) = std::str::from_utf8(value)
                    && !url.is_empty()
                    && url.len() <= MAX_SITEMAP_URL_BYTES
                    && rules.sitemaps.len() < MAX_ROBOTS_SITEMAPS
                    && !rules.sitemaps.iter().any(|s| s == url)
                {
                    rules.sitemaps.push(url.to_string());
                }
                continue;
            }
            Line::CrawlDelay(value) => {
                let delay = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .filter(|d| d.is_finite() && *d >= 0.0);
                if capturing && rules.delay.is_none() {
                    rules.delay = delay;
                } else if !seen_agent_line && delay.is_some() {
                    // Some files put it first, for everyone.
                    delay_before_groups = delay;
                }
            }
            Line::Allow(pattern) | Line::Disallow(pattern) if capturing => {
                let allow = matches!(line, Line::Allow(_));
                // An empty pattern matches nothing (an empty Disallow allows everything).
                if !pattern.is_empty() {
                    let pattern = normalise(pattern);
                    rules.rules.push(Rule {
                        start: rules.patterns.len(),
                        len: pattern.len(),
                        allow,
                    });
                    rules.patterns.extend_from_slice(&pattern);
                }
            }
            Line::Allow(_) | Line::Disallow(_) => {}
        }
        in_agent_lines = false;
    }
    if rules.delay.is_none() {
        rules.delay = delay_before_groups;
    }
    rules
        .rules
        .sort_by(|a, b| b.len.cmp(&a.len).then(b.allow.cmp(&a.allow)));
    rules.patterns.shrink_to_fit();
    rules.rules.shrink_to_fit();
    rules.sitemaps.shrink_to_fit();
    rules
}

/// A pattern or a path in the one form they are compared in: bytes outside printable ASCII
/// (and space, `"`, `<`, `>`, `` ` ``) percent-encoded as a URL parser encodes them, and the
/// hex digits of existing `%XX` escapes in upper case.
fn normalise(raw: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'%'
            && i + 2 < raw.len()
            && raw[i + 1].is_ascii_hexdigit()
            && raw[i + 2].is_ascii_hexdigit()
        {
            out.push(b'%');
            out.push(raw[i + 1].to_ascii_uppercase());
            out.push(raw[i + 2].to_ascii_uppercase());
            i += 3;
            continue;
        }
        if b <= b' ' || b >= 0x7f || matches!(b, b'"' | b'<' | b'>' | b'`') {
            out.push(b'%');
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.push(b);
        }
        i += 1;
    }
    out
}

/// Whether a robots.txt `pattern` matches `path`: `*` matches any run of bytes, a final `$`
/// anchors the end, anything else matches itself, and the pattern is anchored at the start.
///
/// Each literal piece between wildcards is taken at its first occurrence after the previous
/// piece: any later occurrence leaves less room for the pieces after it, so this finds a match
/// whenever one exists, in time linear in `pattern` and `path`.
fn matches(pattern: &[u8], path: &[u8]) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix(b"$") {
        Some(rest) => (rest, true),
        None => (pattern, false),
    };
    let mut pieces = pattern.split(|&b| b == b'*');
    let first = pieces.next().unwrap_or_default();
    if !path.starts_with(first) {
        return false;
    }
    let mut at = first.len();
    let Some(mut last) = pieces.next() else {
        // No wildcard: a prefix, or with `$` the whole path.
        return !anchored || at == path.len();
    };
    for piece in pieces {
        // `last` is a middle piece: take its first occurrence from `at`.
        if !last.is_empty() {
            match memchr::memmem::find(&path[at..], last) {
                Some(found) => at += found + last.len(),
                None => return false,
            }
        }
        last = piece;
    }
    if anchored {
        // The final piece must end the path, after everything matched so far.
        path.len() >= at + last.len() && path.ends_with(last)
    } else {
        last.is_empty() || memchr::memmem::find(&path[at..], last).is_some()
    }
}

/// The product token robots.txt groups are matched against: the user agent up to its first `/`
/// or space ("gleaner" for "gleaner/0.1 (+https://…)").
pub fn product_token(user_agent: &str) -> String {
    let token: String = user_agent
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    if token.is_empty() {
        "gleaner".to_string()
    } else {
        token.to_ascii_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(txt: &str) -> RobotsPolicy {
        RobotsPolicy::parse("gleaner", txt.as_bytes(), false)
    }

    #[test]
    fn product_token_from_user_agent() {
        assert_eq!(product_token("gleaner/0.1 (+https://x)"), "gleaner");
        assert_eq!(product_token("My-Bot 2.0"), "my-bot");
        assert_eq!(product_token("  "), "gleaner");
    }

    #[test]
    fn rules_for_gleaner_win_over_star() {
        let txt = b"User-agent: *\nDisallow: /\n\nUser-agent: gleaner\nDisallow: /private\nCrawl-delay: 2\n";
        let policy = RobotsPolicy::parse("gleaner", txt, false);
        assert!(policy.allows("http://h/public"));
        assert!(!policy.allows("http://h/private/x"));
        assert_eq!(policy.crawl_delay(), Some(Duration::from_secs(2)));
        let other = RobotsPolicy::parse("otherbot", txt, false);
        assert!(!other.allows("http://h/public"));
    }

    #[test]
    fn unreachable_allows_nothing_and_allow_all_everything() {
        assert!(!RobotsPolicy::Unreachable("503".into()).allows("http://h/"));
        assert!(RobotsPolicy::AllowAll.allows("http://h/anything"));
        assert_eq!(RobotsPolicy::AllowAll.crawl_delay(), None);
    }

    #[test]
    fn garbage_never_panics() {
        for txt in [
            &b"\xff\xfe\x00garbage"[..],
            b"User-agent",
            b"Disallow: *\n\nCrawl-delay: -3",
            b"Crawl-delay: NaN",
            b"%",
            b"Disallow: /%",
            b"Disallow: /%4",
            b"Disallow: $",
            b"Disallow: *$",
            b"Disallow: **$$",
        ] {
            let policy = RobotsPolicy::parse("gleaner", txt, false);
            let _ = policy.allows("http://h/x");
            let _ = policy.allows("/%");
            let _ = policy.allows("");
            let _ = policy.crawl_delay();
        }
    }

    #[test]
    fn wildcards_and_end_anchors_match_as_google_documents() {
        let cases: &[(&str, &str, bool)] = &[
            ("/fish", "/fish", true),
            ("/fish", "/fish.html", true),
            ("/fish", "/Fish.asp", false),
            ("/fish*", "/fishheads/yummy.html", true),
            ("/*.php", "/filename.php", true),
            ("/*.php", "/folder/filename.php?parameters", true),
            ("/*.php", "/windows.PHP", false),
            ("/*.php$", "/filename.php", true),
            ("/*.php$", "/filename.php?parameters", false),
            ("/*.php$", "/filename.php5", false),
            ("/fish*.php", "/fishheads/catfish.php?parameters", true),
            ("/fish*.php", "/Fish.PHP", false),
            ("/a*b*c$", "/abc", true),
            ("/a*b*c$", "/aXbYc", true),
            ("/a*b*c$", "/aXbYcZ", false),
            ("/a*b*c$", "/acb", false),
            ("/a*bc$", "/abcbc", true),
            ("/*a*a*a$", "/aa", false),
            ("/*a*a*a$", "/aaa", true),
            ("/$", "/", true),
            ("/$", "/x", false),
            ("*", "/anything", true),
            ("/x$y", "/x$y", true),
            ("/caf%c3%a9", "/caf%C3%A9", true),
            ("/café", "/caf%C3%A9/menu", true),
        ];
        for &(pattern, path, expected) in cases {
            assert_eq!(
                matches(&normalise(pattern.as_bytes()), &normalise(path.as_bytes())),
                expected,
                "{pattern} vs {path}"
            );
        }
    }

    #[test]
    fn longest_match_wins_and_a_tie_allows() {
        let p = policy("User-agent: *\nDisallow: /a\nAllow: /a/b\nDisallow: /a/b/c\n");
        assert!(!p.allows("/a/x"));
        assert!(p.allows("/a/b/x"));
        assert!(!p.allows("/a/b/c/d"));
        let tie = policy("User-agent: *\nDisallow: /page\nAllow: /page\n");
        assert!(tie.allows("/page"));
        assert!(policy("User-agent: *\nDisallow: /\n").allows("/robots.txt"));
    }

    #[test]
    fn groups_merge_and_agents_match_by_product_token() {
        let p = policy(
            "User-agent: Gleaner/2.0\nDisallow: /a\n\nUser-agent: other\nUser-agent: GLEANER\nDisallow: /b\n\nUser-agent: *\nDisallow: /c\n",
        );
        assert!(!p.allows("/a"));
        assert!(!p.allows("/b"));
        assert!(
            p.allows("/c"),
            "the * group does not apply when gleaner is named"
        );
        let star = policy("User-agent: gleanerbot\nDisallow: /a\nUser-agent: *\nDisallow: /c\n");
        assert!(star.allows("/a") && !star.allows("/c"));
        let nobody = policy("Disallow: /secret\n");
        assert!(
            !nobody.allows("/secret"),
            "a file without groups applies to all"
        );
        let empty = policy("User-agent: *\nDisallow:\n");
        assert!(empty.allows("/anything"));
    }

    #[test]
    fn crawl_delay_from_our_group_or_the_top_of_the_file() {
        let top = policy("Crawl-delay: 3\nUser-agent: *\nDisallow: /x\n");
        assert_eq!(top.crawl_delay(), Some(Duration::from_secs(3)));
        let ours = policy("User-agent: *\nCrawl-delay: 0.5\n");
        assert_eq!(ours.crawl_delay(), Some(Duration::from_millis(500)));
        let theirs = policy("User-agent: other\nCrawl-delay: 9\n");
        assert_eq!(theirs.crawl_delay(), None);
    }

    #[test]
    fn one_huge_rule_does_not_lift_the_others() {
        // A pattern far too complex for a regex engine's limits: the rule is matched like any
        // other, and the other rules stay in force.
        let mut txt = String::from("User-agent: *\nDisallow: /private\nDisallow: /");
        for _ in 0..20_000 {
            txt.push_str("*a");
        }
        txt.push_str("$\n");
        let p = policy(&txt);
        assert!(!p.allows("http://h/private/diary.html"));
        assert!(p.allows("http://h/public"));
        let many_a = format!("/{}", "a".repeat(20_000));
        assert!(!p.allows(&many_a), "the huge rule itself is obeyed");
        assert!(p.allows(&format!("/{}b", "a".repeat(20_000))));
    }

    #[test]
    fn a_cut_file_keeps_a_cut_disallow_and_drops_a_cut_allow() {
        let txt = b"User-agent: *\nDisallow: /a\nAllow: /a/open-for-all";
        let cut = RobotsPolicy::parse("gleaner", &txt[..txt.len() - 9], true);
        assert!(!cut.allows("/a/open"), "a cut Allow would allow too much");
        let txt = b"User-agent: *\nDisallow: /private-area";
        let cut = RobotsPolicy::parse("gleaner", &txt[..txt.len() - 5], true);
        assert!(!cut.allows("/private-area") && !cut.allows("/private-x"));
        let whole = RobotsPolicy::parse("gleaner", b"User-agent: *\nAllow: /a\nDisallow: /", false);
        assert!(whole.allows("/a"));
    }

    #[test]
    fn rules_hold_memory_in_proportion_to_the_file() {
        let mut txt = String::from("User-agent: *\n");
        while txt.len() < 500 * 1024 {
            txt.push_str("Disallow: /*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a$\n");
        }
        let RobotsPolicy::Rules(rules) = policy(&txt) else {
            panic!("rules expected");
        };
        assert!(rules.len() > 9000);
        assert!(
            rules.heap_bytes() < 2 * txt.len(),
            "{} bytes of rules for a {} byte file",
            rules.heap_bytes(),
            txt.len()
        );
    }

    #[test]
    fn sitemap_lines_are_kept_for_everyone_wherever_they_are() {
        let p = policy(
            "Sitemap: https://e.com/a.xml\nUser-agent: *\nSitemap: https://e.com/b.xml\n\
             Disallow: /feeds/\nsitemap:https://e.com/a.xml\nUser-agent: other\nDisallow: /\n\
             Sitemap: https://e.com/c.xml # last\n",
        );
        assert_eq!(
            p.sitemaps(),
            [
                "https://e.com/a.xml",
                "https://e.com/b.xml",
                "https://e.com/c.xml"
            ]
        );
        assert!(!p.allows("https://e.com/feeds/posts/default"));
        assert!(p.allows("https://e.com/2024/01/a.html"));
        assert!(RobotsPolicy::AllowAll.sitemaps().is_empty());
        let many: String = (0..200)
            .map(|n| format!("Sitemap: https://e.com/{n}.xml\n"))
            .collect();
        assert_eq!(policy(&many).sitemaps().len(), MAX_ROBOTS_SITEMAPS);
    }
}
