//! A thin JSON client for the homeserver's HTTP APIs (client, admin,
//! appservice-as-client), carrying an optional access token. Tests that need
//! an endpoint the kit has no helper for call it here directly.

use reqwest::Method;
use serde_json::Value;

use crate::{Error, Result};

/// Sends JSON requests to one homeserver, optionally authenticated.
#[derive(Clone, Debug)]
pub struct ApiClient {
    base_url: String,
    token: Option<String>,
    http: reqwest::Client,
}

/// Status and JSON body of a response, whatever the status.
#[derive(Clone, Debug)]
pub struct ApiResponse {
    /// HTTP status code.
    pub status: u16,
    /// Body parsed as JSON, or `Value::Null` when empty or not JSON.
    pub body: Value,
}

impl ApiResponse {
    /// The Matrix `errcode` of an error response.
    pub fn errcode(&self) -> Option<&str> {
        self.body.get("errcode").and_then(Value::as_str)
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Percent-encodes one path segment (room ids, user ids, event types).
pub(crate) fn segment(raw: &str) -> String {
    percent_encoding::utf8_percent_encode(raw, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl ApiClient {
    /// A client for `base_url` (no trailing slash) sending `token` as a
    /// bearer token when given.
    pub fn new(base_url: impl Into<String>, token: Option<String>) -> Self {
        // No idle connections are kept: a pooled connection belongs to the
        // runtime that opened it, and each `#[tokio::test]` has its own, so a
        // client kept in a shared static could otherwise reuse a connection
        // whose runtime is gone. Loopback connections are cheap.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            base_url: base_url.into(),
            token,
            http,
        }
    }

    /// The homeserver's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends a request and returns the response whatever its status.
    /// `path_and_query` starts with `/`; its segments must already be encoded.
    pub async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<ApiResponse> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path_and_query}", self.base_url));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let http_error = |source| Error::Http {
            method: method.clone(),
            path: path_and_query.to_owned(),
            source,
        };
        let response = request.send().await.map_err(http_error)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(http_error)?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(ApiResponse { status, body })
    }

    /// Sends a request and returns the body of a 2xx response; any other
    /// status is an [`Error::Matrix`].
    pub async fn ok(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        let response = self.call(method.clone(), path_and_query, body).await?;
        if response.is_success() {
            Ok(response.body)
        } else {
            Err(Error::Matrix {
                method,
                path: path_and_query.to_owned(),
                status: response.status,
                body: response.body,
            })
        }
    }
}

/// Reads a string field of a response or explains what was missing.
pub(crate) fn string_field(body: &Value, field: &str, what: &str) -> Result<String> {
    body.get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Error::UnexpectedResponse {
            what: format!("{what}: no `{field}`"),
            body: body.clone(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_escape_matrix_sigils() {
        assert_eq!(segment("!abc:localhost"), "%21abc%3Alocalhost");
        assert_eq!(segment("@u/x:localhost"), "%40u%2Fx%3Alocalhost");
    }

    #[test]
    fn errcode_is_read_from_error_bodies() {
        let response = ApiResponse {
            status: 401,
            body: serde_json::json!({"errcode": "M_UNKNOWN_TOKEN", "error": "x"}),
        };
        assert_eq!(response.errcode(), Some("M_UNKNOWN_TOKEN"));
        assert!(!response.is_success());
    }
}
