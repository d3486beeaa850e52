//! When and how long to wait before another attempt.
//!
//! Exponential backoff with full jitter (a uniform wait in
//! `[0, min(cap, base · 2^(attempt-1))]`, as in AWS's "Exponential Backoff
//! and Jitter"), unless the server said how long to wait: `Retry-After`
//! (RFC 9110 §10.2.3: delay-seconds or an HTTP date) or OpenAI's
//! `retry-after-ms`. Every wait is capped.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// The backoff policy of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Upper bound of the first jittered wait; doubles per attempt.
    pub base: Duration,
    /// Longest jittered wait.
    pub cap: Duration,
    /// Longest wait a server's `Retry-After` can impose.
    pub retry_after_cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            retry_after_cap: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// Return how long to wait after failed attempt number `attempt`
    /// (1-based): the server's `retry_after` (capped) if given, else a
    /// jittered exponential wait.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.retry_after_cap);
        }
        let ceiling = self.base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20)).min(self.cap);
        let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(fastrand::u64(0..=ceiling_ms))
    }
}

/// Return whether a status is worth another attempt: 408, 429, 5xx (which
/// includes Anthropic's 529 "overloaded").
pub fn retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

/// Read the server's requested wait from `retry-after-ms` or `Retry-After`
/// (seconds, possibly fractional, or an HTTP date relative to `now`).
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(ms) =
        headers.get("retry-after-ms").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<f64>().ok())
    {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(86_400.0)));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn reads_seconds_dates_and_milliseconds() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(retry_after(&headers(&[("retry-after", "3")]), now), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(&headers(&[("retry-after", "0.5")]), now), Some(Duration::from_millis(500)));
        assert_eq!(
            retry_after(&headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:07 GMT")]), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "Wed, 21 Oct 2015 07:27:00 GMT")]), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after-ms", "250"), ("retry-after", "9")]), now),
            Some(Duration::from_millis(250))
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "-1")]), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn waits_are_jittered_and_capped() {
        let backoff = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(300),
            retry_after_cap: Duration::from_secs(2),
        };
        for attempt in 1..=40 {
            let ceiling = Duration::from_millis(100u64.saturating_mul(1 << (attempt - 1).min(20)).min(300));
            assert!(backoff.delay(attempt, None) <= ceiling);
        }
        let waits: std::collections::BTreeSet<Duration> = (0..50).map(|_| backoff.delay(3, None)).collect();
        assert!(waits.len() > 5, "full jitter spreads the waits: {waits:?}");
        assert_eq!(backoff.delay(1, Some(Duration::from_secs(1))), Duration::from_secs(1));
        assert_eq!(backoff.delay(1, Some(Duration::from_secs(3600))), Duration::from_secs(2));
    }

    #[test]
    fn classifies_statuses() {
        for status in [408, 429, 500, 502, 503, 504, 529] {
            assert!(retryable_status(status), "{status}");
        }
        for status in [200, 400, 401, 403, 404, 422] {
            assert!(!retryable_status(status), "{status}");
        }
    }
}
