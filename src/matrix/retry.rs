//! When to retry a client-API call and how long to wait first. Pure: the
//! client asks [`RetryPolicy::delay`] after each failure and sleeps itself.
//!
//! Network errors and 5xx are retried with exponential backoff; 429 waits for
//! the homeserver's `retry_after_ms`; any other 4xx is final, because sending
//! the same request again cannot succeed.

use std::time::Duration;

use super::error::MatrixError;

/// Retry limits for calls to the homeserver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total number of requests sent for one call, the first included.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled for each further attempt.
    pub base_delay: Duration,
    /// Upper bound for one wait, also for a homeserver-requested 429 wait.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// About a minute of retrying in total: long enough for a homeserver
    /// restart, short enough that a caller learns about a real outage.
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn no_retry() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// How long to wait before attempt `attempt + 1` after `attempt` (1-based)
    /// failed with `error`; `None` means give up and report `error`.
    pub fn delay(&self, attempt: u32, error: &MatrixError) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        match error {
            MatrixError::Network { .. } => Some(self.backoff(attempt)),
            MatrixError::Api {
                status,
                retry_after,
                ..
            } => {
                if status.as_u16() == 429 {
                    Some(
                        retry_after
                            .map(|d| d.min(self.max_delay))
                            .unwrap_or_else(|| self.backoff(attempt)),
                    )
                } else if status.is_server_error() {
                    Some(self.backoff(attempt))
                } else {
                    None
                }
            }
            MatrixError::Build { .. }
            | MatrixError::Response { .. }
            | MatrixError::GaveUp { .. } => None,
        }
    }

    /// Exponential backoff for the wait after attempt `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        self.base_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    fn api(status: u16, retry_after: Option<Duration>) -> MatrixError {
        MatrixError::Api {
            endpoint: "test",
            status: StatusCode::from_u16(status).unwrap(),
            errcode: "M_UNKNOWN".into(),
            message: String::new(),
            retry_after,
        }
    }

    #[test]
    fn server_errors_back_off_exponentially_up_to_the_cap() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
        };
        let e = api(502, None);
        assert_eq!(p.delay(1, &e), Some(Duration::from_millis(100)));
        assert_eq!(p.delay(2, &e), Some(Duration::from_millis(200)));
        assert_eq!(p.delay(3, &e), Some(Duration::from_millis(400)));
        assert_eq!(p.delay(4, &e), Some(Duration::from_millis(500)));
        assert_eq!(p.delay(10, &e), None, "attempts are bounded");
    }

    #[test]
    fn rate_limits_wait_as_long_as_the_homeserver_asks_within_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.delay(1, &api(429, Some(Duration::from_millis(1234)))),
            Some(Duration::from_millis(1234))
        );
        assert_eq!(
            p.delay(1, &api(429, Some(Duration::from_secs(3600)))),
            Some(p.max_delay)
        );
        assert_eq!(p.delay(1, &api(429, None)), Some(p.base_delay));
    }

    #[test]
    fn client_errors_are_final() {
        let p = RetryPolicy::default();
        for status in [400, 401, 403, 404, 409] {
            assert_eq!(p.delay(1, &api(status, None)), None, "{status}");
        }
    }

    #[test]
    fn no_retry_gives_up_at_once() {
        assert_eq!(RetryPolicy::no_retry().delay(1, &api(503, None)), None);
    }

    #[test]
    fn backoff_does_not_overflow_for_huge_attempt_numbers() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(u32::MAX), p.max_delay);
    }
}
