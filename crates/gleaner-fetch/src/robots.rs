//! robots.txt: what a host's file says for gleaner, and what to do when there is none.
//!
//! Following RFC 9309: a 2xx file is parsed and obeyed for gleaner's product token (the user
//! agent up to its first `/`), falling back to the `*` group; a 4xx (other than 429) means there
//! are no rules, so everything is allowed; a 5xx, a 429, a timeout or a connection failure, still
//! there after the same retries a page gets, means the host is not crawled at all in this run
//! (the next run asks again).

use std::time::Duration;

use texting_robots::Robot;

/// The largest robots.txt read; the rest is ignored (Google reads 500 KiB).
pub const MAX_ROBOTS_BYTES: usize = 512 * 1024;

/// What a host's robots.txt allows.
#[derive(Debug)]
pub enum RobotsPolicy {
    /// No rules (robots.txt absent, 4xx, unparsable, or `respect_robots = false`).
    AllowAll,
    /// The rules for gleaner.
    Rules(Box<Robot>),
    /// robots.txt could not be read (5xx, 429, timeout, connection failure): do not crawl.
    Unreachable(String),
    /// The host's address is refused by policy (`allow_private_addresses = false`).
    Refused(String),
}

impl RobotsPolicy {
    /// Parse a robots.txt body for `agent`.
    pub fn parse(agent: &str, body: &[u8]) -> RobotsPolicy {
        match Robot::new(agent, body) {
            Ok(robot) => RobotsPolicy::Rules(Box::new(robot)),
            Err(err) => {
                tracing::debug!(%err, "unparsable robots.txt: allowing all");
                RobotsPolicy::AllowAll
            }
        }
    }

    /// Whether `url` may be fetched.
    pub fn allows(&self, url: &str) -> bool {
        match self {
            RobotsPolicy::AllowAll => true,
            RobotsPolicy::Rules(robot) => robot.allowed(url),
            RobotsPolicy::Unreachable(_) | RobotsPolicy::Refused(_) => false,
        }
    }

    /// The `Crawl-delay` for gleaner, if one is given and is a positive finite number.
    pub fn crawl_delay(&self) -> Option<Duration> {
        match self {
            RobotsPolicy::Rules(robot) => robot
                .delay
                .filter(|d| d.is_finite() && *d > 0.0)
                .and_then(|d| Duration::try_from_secs_f64(f64::from(d)).ok()),
            _ => None,
        }
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

    #[test]
    fn product_token_from_user_agent() {
        assert_eq!(product_token("gleaner/0.1 (+https://x)"), "gleaner");
        assert_eq!(product_token("My-Bot 2.0"), "my-bot");
        assert_eq!(product_token("  "), "gleaner");
    }

    #[test]
    fn rules_for_gleaner_win_over_star() {
        let txt = b"User-agent: *\nDisallow: /\n\nUser-agent: gleaner\nDisallow: /private\nCrawl-delay: 2\n";
        let policy = RobotsPolicy::parse("gleaner", txt);
        assert!(policy.allows("http://h/public"));
        assert!(!policy.allows("http://h/private/x"));
        assert_eq!(policy.crawl_delay(), Some(Duration::from_secs(2)));
        let other = RobotsPolicy::parse("otherbot", txt);
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
        ] {
            let policy = RobotsPolicy::parse("gleaner", txt);
            let _ = policy.allows("http://h/x");
            let _ = policy.crawl_delay();
        }
    }
}
