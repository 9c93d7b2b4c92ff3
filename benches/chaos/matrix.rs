//! The owner's side of the soak on Matrix: sending with a fixed transaction
//! id (so a request retried across a homeserver outage creates its event
//! once), redacting, and reading a room's whole timeline. Only client-API
//! calls as the owner; never touches the bridge or the homeserver process.

use std::time::{Duration, Instant};

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use testkit::{ApiClient, Method};

/// How long one owner action is retried (longer than the longest outage).
const RETRY_WINDOW: Duration = Duration::from_secs(180);
/// One request's own limit, so a request caught by a stop cannot hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

fn enc(raw: &str) -> String {
    utf8_percent_encode(raw, NON_ALPHANUMERIC).to_string()
}

/// PUTs `path` until the server answers 2xx (same transaction id each time,
/// so the event exists once however often it is retried); `None` when the
/// retry window passed.
async fn put_retrying(api: &ApiClient, path: &str, body: &Value) -> Option<Value> {
    let deadline = Instant::now() + RETRY_WINDOW;
    loop {
        if let Ok(Ok(answer)) =
            tokio::time::timeout(REQUEST_TIMEOUT, api.ok(Method::PUT, path, Some(body))).await
        {
            return Some(answer);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Sends one event of `event_type` with transaction id `txn`; its event id.
pub async fn send(
    api: &ApiClient,
    room: &str,
    event_type: &str,
    txn: &str,
    content: &Value,
) -> Option<String> {
    let path = format!(
        "/_matrix/client/v3/rooms/{}/send/{}/{}",
        enc(room),
        enc(event_type),
        enc(txn)
    );
    let answer = put_retrying(api, &path, content).await?;
    answer["event_id"].as_str().map(str::to_owned)
}

/// Redacts `event_id` with transaction id `txn`.
pub async fn redact(api: &ApiClient, room: &str, event_id: &str, txn: &str) -> bool {
    let path = format!(
        "/_matrix/client/v3/rooms/{}/redact/{}/{}",
        enc(room),
        enc(event_id),
        enc(txn)
    );
    put_retrying(api, &path, &json!({})).await.is_some()
}

/// The newest `limit` events of a room, newest first (one page).
pub async fn newest(api: &ApiClient, room: &str, limit: u32) -> Option<Vec<Value>> {
    let path = format!(
        "/_matrix/client/v3/rooms/{}/messages?dir=b&limit={limit}",
        enc(room)
    );
    let page = tokio::time::timeout(REQUEST_TIMEOUT, api.ok(Method::GET, &path, None))
        .await
        .ok()?
        .ok()?;
    page["chunk"].as_array().cloned()
}

/// Every event of a room, oldest first, paging `/messages` backwards.
pub async fn whole_timeline(api: &ApiClient, room: &str) -> Result<Vec<Value>, String> {
    let mut events = Vec::new();
    let mut from: Option<String> = None;
    loop {
        let mut path = format!(
            "/_matrix/client/v3/rooms/{}/messages?dir=b&limit=100",
            enc(room)
        );
        if let Some(token) = &from {
            path.push_str("&from=");
            path.push_str(&enc(token));
        }
        let page = tokio::time::timeout(REQUEST_TIMEOUT, api.ok(Method::GET, &path, None))
            .await
            .map_err(|_| format!("{path}: timed out"))?
            .map_err(|e| format!("{path}: {e}"))?;
        let chunk = page["chunk"].as_array().cloned().unwrap_or_default();
        if chunk.is_empty() {
            break;
        }
        events.extend(chunk);
        match page["end"].as_str() {
            Some(end) if Some(end) != from.as_deref() => from = Some(end.to_owned()),
            _ => break,
        }
    }
    events.reverse();
    Ok(events)
}

/// Whether a timeline event is an edit (`m.replace`).
pub fn is_edit(event: &Value) -> bool {
    event["content"]["m.relates_to"]["rel_type"] == "m.replace"
}
