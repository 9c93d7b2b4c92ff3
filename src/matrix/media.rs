//! The homeserver's media repository: its upload limit, streamed uploads
//! and streamed downloads as the bridge bot. Bodies are never held whole in
//! memory: uploads take a stream with a known length and downloads hand
//! back the response to be read chunk by chunk.
//!
//! These calls bypass ruma's request types, which buffer bodies; they still
//! use the client's HTTP connection pool and `as_token`. Deciding what to
//! upload or where to send a download is the bridge's job, not this module's.

use std::time::Duration;

use axum::http::StatusCode;
use ruma::OwnedMxcUri;
use serde::Deserialize;

use super::client::MatrixClient;
use super::error::MatrixError;

/// How long any media transfer may take at least; bigger files get more
/// time on top (see [`transfer_timeout`]).
const BASE_TIMEOUT: Duration = Duration::from_secs(120);

/// The slowest transfer rate a big file is given time for, in bytes a second.
const SLOWEST_RATE: u64 = 128 * 1024;

/// A download in progress: the response, to be read as a stream.
pub struct MediaDownload {
    /// The response; read it with `bytes_stream()` or `chunk()`.
    pub response: reqwest::Response,
    /// `Content-Length`, when the homeserver sent one.
    pub size: Option<u64>,
    /// `Content-Type`, when the homeserver sent one.
    pub content_type: Option<String>,
}

#[derive(Deserialize)]
struct MediaConfig {
    #[serde(rename = "m.upload.size")]
    upload_size: Option<u64>,
}

#[derive(Deserialize)]
struct UploadResponse {
    content_uri: OwnedMxcUri,
}

/// Time allowed for moving `size` bytes: the base timeout plus the time the
/// file takes at `SLOWEST_RATE`, so a 2 GB video is not cut off after
/// two minutes while a stalled small upload still fails in reasonable time.
pub fn transfer_timeout(size: u64) -> Duration {
    BASE_TIMEOUT + Duration::from_secs(size / SLOWEST_RATE)
}

impl MatrixClient {
    /// The homeserver's upload limit in bytes (`m.upload.size`), `None` when
    /// it announces none. Asks the authenticated endpoint and falls back to
    /// the legacy one for homeservers before Matrix 1.11.
    pub async fn media_upload_limit(&self) -> Result<Option<u64>, MatrixError> {
        const ENDPOINT: &str = "media::get_media_config";
        let mut last = None;
        for path in [
            "/_matrix/client/v1/media/config",
            "/_matrix/media/v3/config",
        ] {
            let response = self
                .raw_request(reqwest::Method::GET, path)
                .send()
                .await
                .map_err(|source| network(ENDPOINT, source))?;
            match checked(ENDPOINT, response).await {
                Ok(response) => {
                    let config: MediaConfig =
                        response.json().await.map_err(|e| MatrixError::Response {
                            endpoint: ENDPOINT,
                            message: e.without_url().to_string(),
                        })?;
                    return Ok(config.upload_size);
                }
                Err(error) if is_unsupported(&error) => last = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last.unwrap_or(MatrixError::Response {
            endpoint: ENDPOINT,
            message: "no media config endpoint".into(),
        }))
    }

    /// Uploads `size` bytes read from `body` as the bot and returns the new
    /// `mxc://` URI. Not retried: a stream cannot be replayed.
    pub async fn upload_media(
        &self,
        body: reqwest::Body,
        size: u64,
        content_type: &str,
        file_name: &str,
    ) -> Result<OwnedMxcUri, MatrixError> {
        const ENDPOINT: &str = "media::create_content";
        let response = self
            .raw_request(reqwest::Method::POST, "/_matrix/media/v3/upload")
            .query(&[("filename", file_name)])
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header(reqwest::header::CONTENT_LENGTH, size)
            .timeout(transfer_timeout(size))
            .body(body)
            .send()
            .await
            .map_err(|source| network(ENDPOINT, source))?;
        let response = checked(ENDPOINT, response).await?;
        let uploaded: UploadResponse =
            response.json().await.map_err(|e| MatrixError::Response {
                endpoint: ENDPOINT,
                message: e.without_url().to_string(),
            })?;
        Ok(uploaded.content_uri)
    }

    /// Starts downloading `mxc` as the bot (who must share a room with the
    /// file's event for authenticated media). Falls back to the legacy
    /// unauthenticated endpoint on homeservers without authenticated media.
    /// `max_size` guards the time allowed for the transfer.
    pub async fn download_media(
        &self,
        mxc: &str,
        max_size: u64,
    ) -> Result<MediaDownload, MatrixError> {
        const ENDPOINT: &str = "media::get_content";
        let (server, media_id) = split_mxc(mxc).ok_or_else(|| MatrixError::Build {
            endpoint: ENDPOINT,
            message: "not an mxc:// URI".into(),
        })?;
        let mut last = None;
        for prefix in [
            "/_matrix/client/v1/media/download",
            "/_matrix/media/v3/download",
        ] {
            let path = format!("{prefix}/{server}/{media_id}");
            let response = self
                .raw_request(reqwest::Method::GET, &path)
                .query(&[("allow_redirect", "true")])
                .timeout(transfer_timeout(max_size))
                .send()
                .await
                .map_err(|source| network(ENDPOINT, source))?;
            match checked(ENDPOINT, response).await {
                Ok(response) => {
                    let content_type = response
                        .headers()
                        .get(reqwest::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    return Ok(MediaDownload {
                        size: response.content_length(),
                        content_type,
                        response,
                    });
                }
                Err(error) if is_unsupported(&error) => last = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last.unwrap_or(MatrixError::Response {
            endpoint: ENDPOINT,
            message: "no media download endpoint".into(),
        }))
    }
}

/// `mxc://server/id` → (`server`, `id`), each limited to the characters
/// the spec allows so they are safe in a URL path.
pub fn split_mxc(mxc: &str) -> Option<(&str, &str)> {
    let (server, media_id) = mxc.strip_prefix("mxc://")?.split_once('/')?;
    let safe_server = !server.is_empty()
        && server
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    let safe_id = !media_id.is_empty()
        && media_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    (safe_server && safe_id).then_some((server, media_id))
}

/// An error for a failed status, with the homeserver's `errcode`.
async fn checked(
    endpoint: &'static str,
    response: reqwest::Response,
) -> Result<reqwest::Response, MatrixError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.bytes().await.unwrap_or_default();
    Err(MatrixError::from_response(endpoint, status, None, &body))
}

/// Whether the homeserver does not know the endpoint (try the older one).
fn is_unsupported(error: &MatrixError) -> bool {
    error.errcode() == Some("M_UNRECOGNIZED")
        || matches!(
            error.status(),
            Some(StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED)
        ) && error.errcode() != Some("M_NOT_FOUND")
}

fn network(endpoint: &'static str, source: reqwest::Error) -> MatrixError {
    MatrixError::Network {
        endpoint,
        source: source.without_url(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mxc_uris_are_split_and_checked() {
        assert_eq!(
            split_mxc("mxc://localhost/AbC_12-x"),
            Some(("localhost", "AbC_12-x"))
        );
        assert_eq!(
            split_mxc("mxc://hs.example:8448/id"),
            Some(("hs.example:8448", "id"))
        );
        assert_eq!(split_mxc("mxc://localhost/../admin"), None);
        assert_eq!(split_mxc("mxc://localhost/"), None);
        assert_eq!(split_mxc("https://localhost/x"), None);
        assert_eq!(split_mxc("mxc://a/b?c"), None);
    }

    #[test]
    fn big_transfers_get_more_time() {
        assert_eq!(transfer_timeout(0), BASE_TIMEOUT);
        assert!(transfer_timeout(2_000_000_000) > Duration::from_secs(4 * 3600));
    }
}
