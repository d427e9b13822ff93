//! Times on the command line: absolute dates and times, or relative ones like `7d`.

use anyhow::{Result, bail};
use chrono::{DateTime, NaiveDate, Utc};

/// Parse `2022-01-31`, `2022-01-31T08:00:00Z` (any RFC 3339), or a span back from `now`
/// such as `7d`, `12h`, `2weeks`.
pub fn parse_since(input: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let s = input.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    if let Ok(span) = humantime::parse_duration(s)
        && let Ok(span) = chrono::Duration::from_std(span)
        && let Some(t) = now.checked_sub_signed(span)
    {
        return Ok(t);
    }
    bail!(
        "cannot read {input:?} as a time: use YYYY-MM-DD, an RFC 3339 time, or a span like 7d or 12h"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn absolute_and_relative_times() {
        let now = Utc.with_ymd_and_hms(2022, 2, 1, 12, 0, 0).unwrap();
        assert_eq!(
            parse_since("2022-01-20", now).unwrap(),
            Utc.with_ymd_and_hms(2022, 1, 20, 0, 0, 0).unwrap()
        );
        assert_eq!(
            parse_since("2022-01-20T10:00:00+02:00", now).unwrap(),
            Utc.with_ymd_and_hms(2022, 1, 20, 8, 0, 0).unwrap()
        );
        assert_eq!(
            parse_since("7d", now).unwrap(),
            Utc.with_ymd_and_hms(2022, 1, 25, 12, 0, 0).unwrap()
        );
        assert_eq!(
            parse_since("12h", now).unwrap(),
            Utc.with_ymd_and_hms(2022, 2, 1, 0, 0, 0).unwrap()
        );
        assert!(parse_since("last tuesday", now).is_err());
    }
}
