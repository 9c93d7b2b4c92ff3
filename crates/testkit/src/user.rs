//! A Matrix user driven by a test: the person on the Matrix side of the
//! bridge. Only client-API calls a real client would make.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::client::{segment, string_field, ApiClient};
use crate::{Error, Result};

/// Longest single `/sync` long-poll; shorter than the overall wait so a
/// deadline is noticed promptly.
const SYNC_POLL: Duration = Duration::from_secs(10);

/// A registered user with an access token.
pub struct TestUser {
    /// Full Matrix id, e.g. `@alice-3:localhost`.
    pub user_id: String,
    /// The user's access token.
    pub access_token: String,
    api: ApiClient,
    /// Where the next `/sync` continues; `None` before the first one.
    since: tokio::sync::Mutex<Option<String>>,
}

/// A localpart nobody else in this process has, built from `base`: tests
/// sharing one server stay apart by never reusing a user.
pub fn unique_localpart(base: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{base}-{}-{n}", std::process::id())
}

/// A transaction id unique within this process, for idempotent sends.
fn txn_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!("testkit-{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

impl TestUser {
    pub(crate) fn new(base_url: String, user_id: String, access_token: String) -> Self {
        let api = ApiClient::new(base_url, Some(access_token.clone()));
        Self {
            user_id,
            access_token,
            api,
            since: tokio::sync::Mutex::new(None),
        }
    }

    /// The authenticated client, for endpoints without a helper here.
    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    /// Creates a room with the given `/createRoom` body; returns its id.
    pub async fn create_room(&self, body: &Value) -> Result<String> {
        let created = self
            .api
            .ok(Method::POST, "/_matrix/client/v3/createRoom", Some(body))
            .await?;
        string_field(&created, "room_id", "createRoom")
    }

    /// Invites `user_id` to `room_id`.
    pub async fn invite(&self, room_id: &str, user_id: &str) -> Result<()> {
        let path = format!("/_matrix/client/v3/rooms/{}/invite", segment(room_id));
        self.api
            .ok(Method::POST, &path, Some(&json!({ "user_id": user_id })))
            .await
            .map(drop)
    }

    /// Joins a room by id or alias; returns the room id.
    pub async fn join(&self, room_id_or_alias: &str) -> Result<String> {
        let path = format!("/_matrix/client/v3/join/{}", segment(room_id_or_alias));
        let joined = self.api.ok(Method::POST, &path, Some(&json!({}))).await?;
        string_field(&joined, "room_id", "join")
    }

    /// Sends an `m.text` message; returns its event id.
    pub async fn send_text(&self, room_id: &str, body: &str) -> Result<String> {
        self.send_event(
            room_id,
            "m.room.message",
            &json!({ "msgtype": "m.text", "body": body }),
        )
        .await
    }

    /// Sends any message-like event; returns its event id.
    pub async fn send_event(
        &self,
        room_id: &str,
        event_type: &str,
        content: &Value,
    ) -> Result<String> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/send/{}/{}",
            segment(room_id),
            segment(event_type),
            txn_id()
        );
        let sent = self.api.ok(Method::PUT, &path, Some(content)).await?;
        string_field(&sent, "event_id", "send")
    }

    /// The latest `limit` timeline events of a room, newest first.
    pub async fn room_messages(&self, room_id: &str, limit: u32) -> Result<Vec<Value>> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/messages?dir=b&limit={limit}",
            segment(room_id)
        );
        let page = self.api.ok(Method::GET, &path, None).await?;
        match page.get("chunk").and_then(Value::as_array) {
            Some(chunk) => Ok(chunk.clone()),
            None => Err(Error::UnexpectedResponse {
                what: "messages: no `chunk`".into(),
                body: page,
            }),
        }
    }

    /// The user ids currently joined to a room, sorted.
    pub async fn joined_members(&self, room_id: &str) -> Result<Vec<String>> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/joined_members",
            segment(room_id)
        );
        let members = self.api.ok(Method::GET, &path, None).await?;
        match members.get("joined").and_then(Value::as_object) {
            Some(joined) => {
                let mut ids: Vec<String> = joined.keys().cloned().collect();
                ids.sort();
                Ok(ids)
            }
            None => Err(Error::UnexpectedResponse {
                what: "joined_members: no `joined`".into(),
                body: members,
            }),
        }
    }

    /// Long-polls `/sync` until some events satisfy `matches`, and returns
    /// those (each with its `room_id` filled in). Successive calls continue
    /// where the previous one stopped, so an event is seen once; the first
    /// call starts with an initial sync, which includes recent history.
    pub async fn sync_until<F>(&self, mut matches: F, timeout: Duration) -> Result<Vec<Value>>
    where
        F: FnMut(&Value) -> bool,
    {
        let mut since = self.since.lock().await;
        let deadline = Instant::now() + timeout;
        let mut seen = 0usize;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let poll = remaining.min(SYNC_POLL).as_millis();
            let mut path = format!("/_matrix/client/v3/sync?timeout={poll}&set_presence=offline");
            if let Some(token) = since.as_deref() {
                path.push_str("&since=");
                path.push_str(&segment(token));
            }
            let response = self.api.ok(Method::GET, &path, None).await?;
            *since = Some(string_field(&response, "next_batch", "sync")?);
            let events = sync_events(&response);
            seen += events.len();
            let found: Vec<Value> = events.into_iter().filter(|e| matches(e)).collect();
            if !found.is_empty() {
                return Ok(found);
            }
            if remaining.is_zero() {
                return Err(Error::Timeout {
                    what: format!(
                        "a matching event in {}'s /sync ({seen} events seen, none matched)",
                        self.user_id
                    ),
                    after: timeout,
                });
            }
        }
    }
}

/// Every event of a `/sync` response, with `room_id` set on room events:
/// timeline, state and ephemeral events of joined and left rooms, the
/// stripped state of invites, and global account data.
pub(crate) fn sync_events(response: &Value) -> Vec<Value> {
    const SECTIONS: &[(&str, &[&str])] = &[
        ("join", &["state", "timeline", "ephemeral", "account_data"]),
        ("leave", &["state", "timeline"]),
        ("invite", &["invite_state"]),
        ("knock", &["knock_state"]),
    ];
    let mut out = Vec::new();
    for (membership, parts) in SECTIONS {
        let Some(rooms) = response["rooms"][membership].as_object() else {
            continue;
        };
        for (room_id, room) in rooms {
            for part in *parts {
                for event in room[part]["events"].as_array().into_iter().flatten() {
                    let mut event = event.clone();
                    if let Value::Object(map) = &mut event {
                        map.entry("room_id").or_insert_with(|| json!(room_id));
                    }
                    out.push(event);
                }
            }
        }
    }
    out.extend(
        response["account_data"]["events"]
            .as_array()
            .into_iter()
            .flatten()
            .cloned(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localparts_never_repeat() {
        let a = unique_localpart("alice");
        let b = unique_localpart("alice");
        assert_ne!(a, b);
        assert!(a.starts_with("alice-"));
    }

    #[test]
    fn sync_events_flattens_rooms_and_tags_room_ids() {
        let response = json!({
            "next_batch": "s1",
            "rooms": {
                "join": { "!a:localhost": {
                    "timeline": { "events": [{ "type": "m.room.message", "content": { "body": "hi" } }] },
                    "state": { "events": [{ "type": "m.room.name", "state_key": "" }] },
                }},
                "invite": { "!b:localhost": {
                    "invite_state": { "events": [{ "type": "m.room.member", "state_key": "@me:localhost" }] },
                }},
            },
            "account_data": { "events": [{ "type": "m.push_rules" }] },
        });
        let events = sync_events(&response);
        assert_eq!(events.len(), 4);
        let message = events
            .iter()
            .find(|e| e["type"] == "m.room.message")
            .unwrap();
        assert_eq!(message["room_id"], "!a:localhost");
        let invite = events
            .iter()
            .find(|e| e["type"] == "m.room.member")
            .unwrap();
        assert_eq!(invite["room_id"], "!b:localhost");
        assert!(events.iter().any(|e| e["type"] == "m.push_rules"));
    }
}
