//! A Matrix user driven by a test: the person on the Matrix side of the
//! bridge. Only client-API calls a real client would make.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::client::{segment, string_field, ApiClient};
use crate::{Error, Result};

/// Longest single `/sync` long-poll; shorter than the overall wait so a
/// deadline is noticed promptly.
const SYNC_POLL: Duration = Duration::from_secs(10);

/// Events per `/messages` page when filling a gap in a timeline.
const GAP_PAGE: u32 = 100;

/// Most events one gap is filled with: a bound against paging through a
/// whole room's history when no event in it was seen before.
const GAP_LIMIT: usize = 5000;

/// Where `/sync` stopped and what it delivered, so a limited timeline can
/// be completed from `/messages` up to the last event already seen.
#[derive(Default)]
struct SyncState {
    /// Where the next `/sync` continues; `None` before the first one.
    since: Option<String>,
    /// Ids of the timeline events delivered so far.
    seen: HashSet<String>,
    /// Rooms that appeared as joined in an earlier `/sync`.
    joined: HashSet<String>,
}

/// A registered user with an access token.
pub struct TestUser {
    /// Full Matrix id, e.g. `@alice-3:localhost`.
    pub user_id: String,
    /// The user's access token.
    pub access_token: String,
    api: ApiClient,
    sync: tokio::sync::Mutex<SyncState>,
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
            sync: tokio::sync::Mutex::new(SyncState::default()),
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
    ///
    /// A timeline the server cut short (`limited`, as Conduit does beyond
    /// 10 events whatever the filter says) is completed from `/messages`
    /// back to the last event seen before, so no event of a burst is missed
    /// in a room this user already had.
    pub async fn sync_until<F>(&self, mut matches: F, timeout: Duration) -> Result<Vec<Value>>
    where
        F: FnMut(&Value) -> bool,
    {
        let mut state = self.sync.lock().await;
        let state = &mut *state;
        let deadline = Instant::now() + timeout;
        let mut seen = 0usize;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let poll = remaining.min(SYNC_POLL).as_millis();
            let mut path = format!("/_matrix/client/v3/sync?timeout={poll}&set_presence=offline");
            if let Some(token) = state.since.as_deref() {
                path.push_str("&since=");
                path.push_str(&segment(token));
            }
            let mut response = self.api.ok(Method::GET, &path, None).await?;
            let next_batch = string_field(&response, "next_batch", "sync")?;
            if state.since.is_some() {
                self.fill_gaps(&mut response, state).await?;
            }
            remember_delivered(&response, state);
            state.since = Some(next_batch);
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

impl TestUser {
    /// Puts the events a `limited` timeline left out in front of it, for
    /// every room this user had joined before this `/sync`.
    async fn fill_gaps(&self, response: &mut Value, state: &SyncState) -> Result<()> {
        let Some(rooms) = response["rooms"]["join"].as_object_mut() else {
            return Ok(());
        };
        for (room_id, room) in rooms.iter_mut() {
            let timeline = &mut room["timeline"];
            if timeline["limited"] != true || !state.joined.contains(room_id) {
                continue;
            }
            let Some(prev_batch) = timeline["prev_batch"].as_str().map(str::to_owned) else {
                continue;
            };
            let mut missed = self
                .events_before(room_id, &prev_batch, &state.seen)
                .await?;
            if missed.is_empty() {
                continue;
            }
            let shown = timeline["events"].as_array().cloned().unwrap_or_default();
            // A server may count the boundary event on both sides of the token.
            let shown_ids: HashSet<&str> = shown
                .iter()
                .filter_map(|e| e["event_id"].as_str())
                .collect();
            missed.retain(|e| {
                e["event_id"]
                    .as_str()
                    .is_none_or(|id| !shown_ids.contains(id))
            });
            missed.extend(shown.iter().cloned());
            timeline["events"] = Value::Array(missed);
        }
        Ok(())
    }

    /// The events of `room_id` before the token `from`, oldest first, back
    /// to (not including) the newest event already in `seen`.
    async fn events_before(
        &self,
        room_id: &str,
        from: &str,
        seen: &HashSet<String>,
    ) -> Result<Vec<Value>> {
        let mut newest_first = Vec::new();
        let mut from = from.to_owned();
        'pages: while newest_first.len() < GAP_LIMIT {
            let path = format!(
                "/_matrix/client/v3/rooms/{}/messages?dir=b&limit={GAP_PAGE}&from={}",
                segment(room_id),
                segment(&from)
            );
            let page = self.api.ok(Method::GET, &path, None).await?;
            let chunk = page["chunk"].as_array().cloned().unwrap_or_default();
            if chunk.is_empty() {
                break;
            }
            for event in chunk {
                if event["event_id"]
                    .as_str()
                    .is_some_and(|id| seen.contains(id))
                {
                    break 'pages;
                }
                newest_first.push(event);
            }
            match page["end"].as_str() {
                Some(end) if end != from => from = end.to_owned(),
                _ => break,
            }
        }
        newest_first.reverse();
        Ok(newest_first)
    }
}

/// Records which timeline events and joined rooms a `/sync` delivered.
fn remember_delivered(response: &Value, state: &mut SyncState) {
    let Some(rooms) = response["rooms"]["join"].as_object() else {
        return;
    };
    for (room_id, room) in rooms {
        state.joined.insert(room_id.clone());
        for event in room["timeline"]["events"].as_array().into_iter().flatten() {
            if let Some(id) = event["event_id"].as_str() {
                state.seen.insert(id.to_owned());
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
