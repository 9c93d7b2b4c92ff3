//! Errors of the client side of the Matrix adapter. They name the endpoint and
//! what the homeserver said, never the access token or request bodies (which
//! may carry bridged message text).

use std::time::Duration;

use axum::http::StatusCode;
use serde::Deserialize;

/// A failed call to the homeserver's client-server API.
#[derive(Debug, thiserror::Error)]
pub enum MatrixError {
    /// The request could not be turned into HTTP (a bug or an invalid identifier).
    #[error("could not build the {endpoint} request: {message}")]
    Build {
        /// Short endpoint name, e.g. `account::register`.
        endpoint: &'static str,
        /// What ruma reported.
        message: String,
    },

    /// The homeserver could not be reached or the connection broke.
    #[error("homeserver unreachable ({endpoint}): {source}")]
    Network {
        /// Short endpoint name.
        endpoint: &'static str,
        /// The transport error, without the request URL.
        #[source]
        source: reqwest::Error,
    },

    /// The homeserver answered with an error status.
    #[error("homeserver answered {status} {errcode} to {endpoint}: {message}")]
    Api {
        /// Short endpoint name.
        endpoint: &'static str,
        /// The HTTP status.
        status: StatusCode,
        /// The Matrix `errcode`, or `M_UNKNOWN` when the body had none.
        errcode: String,
        /// The Matrix `error` text.
        message: String,
        /// How long the homeserver asked us to wait (429 only).
        retry_after: Option<Duration>,
    },

    /// A successful status came with a body that does not match the endpoint.
    #[error("unexpected response to {endpoint}: {message}")]
    Response {
        /// Short endpoint name.
        endpoint: &'static str,
        /// What ruma reported.
        message: String,
    },

    /// Retries were exhausted; `last` is the final failure.
    #[error("gave up on {endpoint} after {attempts} attempts: {last}")]
    GaveUp {
        /// Short endpoint name.
        endpoint: &'static str,
        /// How many requests were sent.
        attempts: u32,
        /// The last failure seen.
        last: Box<MatrixError>,
    },
}

impl MatrixError {
    /// The Matrix `errcode` of an API error, looking through [`MatrixError::GaveUp`].
    pub fn errcode(&self) -> Option<&str> {
        match self {
            Self::Api { errcode, .. } => Some(errcode),
            Self::GaveUp { last, .. } => last.errcode(),
            _ => None,
        }
    }

    /// The HTTP status of an API error, looking through [`MatrixError::GaveUp`].
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api { status, .. } => Some(*status),
            Self::GaveUp { last, .. } => last.status(),
            _ => None,
        }
    }

    /// Whether the homeserver was unreachable (as opposed to answering with an error).
    pub fn is_network(&self) -> bool {
        match self {
            Self::Network { .. } => true,
            Self::GaveUp { last, .. } => last.is_network(),
            _ => false,
        }
    }

    /// Whether the failure says nothing about the request itself: the
    /// homeserver was unreachable, failing (5xx) or rate limiting (429), so
    /// the same request can succeed once it recovers.
    pub fn is_outage(&self) -> bool {
        self.is_network()
            || self
                .status()
                .is_some_and(|s| s.is_server_error() || s.as_u16() == 429)
    }

    /// Builds an [`MatrixError::Api`] from an error response of the homeserver.
    ///
    /// Bodies that are not Matrix errors (a reverse proxy's HTML page, say) still
    /// give a usable error: `M_UNKNOWN` with the start of the body.
    pub(crate) fn from_response(
        endpoint: &'static str,
        status: StatusCode,
        retry_after_header: Option<Duration>,
        body: &[u8],
    ) -> Self {
        #[derive(Deserialize)]
        struct Body {
            errcode: Option<String>,
            error: Option<String>,
            retry_after_ms: Option<u64>,
        }
        let parsed = serde_json::from_slice::<Body>(body).ok();
        let (errcode, message, retry_after_ms) = match parsed {
            Some(b) => (b.errcode, b.error, b.retry_after_ms),
            None => (None, None, None),
        };
        let message = message.unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            text.chars().take(200).collect()
        });
        Self::Api {
            endpoint,
            status,
            errcode: errcode.unwrap_or_else(|| "M_UNKNOWN".to_owned()),
            message,
            retry_after: retry_after_ms
                .map(Duration::from_millis)
                .or(retry_after_header),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_server_failures_and_rate_limits_never_refusals() {
        let api = |status: u16| {
            MatrixError::from_response(
                "room::send",
                StatusCode::from_u16(status).unwrap(),
                None,
                br#"{"errcode":"M_UNKNOWN","error":"x"}"#,
            )
        };
        for status in [500, 502, 503, 504, 429] {
            assert!(api(status).is_outage(), "{status}");
            let gave_up = MatrixError::GaveUp {
                endpoint: "room::send",
                attempts: 8,
                last: Box::new(api(status)),
            };
            assert!(gave_up.is_outage(), "{status} after retries");
        }
        for status in [400, 403, 404, 413] {
            assert!(!api(status).is_outage(), "{status}");
        }
    }

    #[test]
    fn parses_a_matrix_error_body_with_retry_after() {
        let err = MatrixError::from_response(
            "room::send",
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(9)),
            br#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too many","retry_after_ms":1500}"#,
        );
        assert_eq!(err.errcode(), Some("M_LIMIT_EXCEEDED"));
        assert_eq!(err.status(), Some(StatusCode::TOO_MANY_REQUESTS));
        match err {
            MatrixError::Api { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_millis(1500)))
            }
            other => panic!("expected an API error, got {other:?}"),
        }
    }

    #[test]
    fn falls_back_to_the_retry_after_header_and_non_json_bodies() {
        let err = MatrixError::from_response(
            "room::send",
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(2)),
            b"<html>slow down</html>",
        );
        match err {
            MatrixError::Api {
                errcode,
                message,
                retry_after,
                ..
            } => {
                assert_eq!(errcode, "M_UNKNOWN");
                assert_eq!(message, "<html>slow down</html>");
                assert_eq!(retry_after, Some(Duration::from_secs(2)));
            }
            other => panic!("expected an API error, got {other:?}"),
        }
    }

    #[test]
    fn gave_up_exposes_the_last_errcode() {
        let last = MatrixError::from_response(
            "x",
            StatusCode::BAD_GATEWAY,
            None,
            br#"{"errcode":"M_UNKNOWN","error":"bad gateway"}"#,
        );
        let err = MatrixError::GaveUp {
            endpoint: "x",
            attempts: 3,
            last: Box::new(last),
        };
        assert_eq!(err.status(), Some(StatusCode::BAD_GATEWAY));
        assert_eq!(err.errcode(), Some("M_UNKNOWN"));
        assert!(!err.is_network());
    }
}
