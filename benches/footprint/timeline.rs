//! The owner's view of their rooms while a figure is measured: which
//! message bodies have arrived, and when. It owns only its own `/sync`
//! position; it never sends anything.
//!
//! `/sync` is the wake-up (it answers as soon as something new arrives), but
//! not the count: a homeserver may cut a room's timeline short
//! (`limited: true`; Conduit always returns at most 10 events, whatever the
//! filter asks), so the events before the cut are read back from
//! `/messages` until an event seen earlier. Both servers are counted the
//! same way, so a burst is never lost to the shortened timeline.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::{Method, TestUser};

/// Longest single long-poll, so a deadline is noticed promptly.
const POLL: Duration = Duration::from_secs(10);
/// How long one call waits for all its bodies before the harness gives up.
const PATIENCE: Duration = Duration::from_secs(180);
/// Events per `/messages` page when filling a cut timeline.
const PAGE: u32 = 100;

/// The owner's rooms as seen through their own `/sync` position.
pub struct Timeline<'a> {
    owner: &'a TestUser,
    since: String,
    /// Every event id seen so far: where reading back a cut timeline stops.
    seen: HashSet<String>,
}

impl<'a> Timeline<'a> {
    /// Starts at "now": everything already in the owner's rooms is seen.
    pub async fn start(owner: &'a TestUser) -> Timeline<'a> {
        let mut timeline = Timeline {
            owner,
            since: String::new(),
            seen: HashSet::new(),
        };
        let first = timeline.sync(Duration::ZERO).await;
        for (_, room) in joined_rooms(&first) {
            for event in room["timeline"]["events"].as_array().into_iter().flatten() {
                timeline.remember(event);
            }
        }
        timeline
    }

    /// Waits until a message with each of `bodies` has arrived in any of the
    /// owner's rooms.
    pub async fn wait_for_bodies(&mut self, bodies: &[String]) {
        let mut missing: HashSet<&str> = bodies.iter().map(String::as_str).collect();
        let deadline = Instant::now() + PATIENCE;
        while !missing.is_empty() {
            let remaining = deadline.saturating_duration_since(Instant::now());
            assert!(
                !remaining.is_zero(),
                "{} messages never arrived, e.g. {:?}",
                missing.len(),
                missing.iter().next()
            );
            let response = self.sync(remaining.min(POLL)).await;
            for event in self.new_events(&response).await {
                if let Some(body) = message_body(&event) {
                    missing.remove(body);
                }
            }
        }
    }

    async fn sync(&mut self, timeout: Duration) -> Value {
        let mut path = format!(
            "/_matrix/client/v3/sync?timeout={}&set_presence=offline",
            timeout.as_millis()
        );
        if !self.since.is_empty() {
            path.push_str("&since=");
            path.push_str(&query_value(&self.since));
        }
        let response = self
            .owner
            .api()
            .ok(Method::GET, &path, None)
            .await
            .expect("the owner's /sync");
        self.since = response["next_batch"]
            .as_str()
            .expect("/sync has a next_batch")
            .to_owned();
        response
    }

    /// The timeline events of one `/sync` answer not seen before, with the
    /// part a cut timeline left out read back from `/messages`.
    async fn new_events(&mut self, response: &Value) -> Vec<Value> {
        let mut events = Vec::new();
        for (room_id, room) in joined_rooms(response) {
            let timeline = &room["timeline"];
            if timeline["limited"] == true {
                if let Some(from) = timeline["prev_batch"].as_str() {
                    events.extend(self.read_back(room_id, from).await);
                }
            }
            events.extend(
                timeline["events"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|event| self.remember(event))
                    .cloned(),
            );
        }
        events
    }

    /// Pages `/messages` backwards from `from` until an event seen before.
    async fn read_back(&mut self, room_id: &str, from: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let mut from = from.to_owned();
        loop {
            let path = format!(
                "/_matrix/client/v3/rooms/{}/messages?dir=b&limit={PAGE}&from={}",
                query_value(room_id),
                query_value(&from)
            );
            let page = self
                .owner
                .api()
                .ok(Method::GET, &path, None)
                .await
                .expect("the owner's /messages");
            let chunk = page["chunk"].as_array().cloned().unwrap_or_default();
            let mut reached_seen = chunk.is_empty();
            for event in chunk {
                if self.remember(&event) {
                    events.push(event);
                } else {
                    reached_seen = true;
                }
            }
            match page["end"].as_str() {
                Some(end) if !reached_seen => from = end.to_owned(),
                _ => return events,
            }
        }
    }

    /// Records `event` as seen; whether it was new.
    fn remember(&mut self, event: &Value) -> bool {
        match event["event_id"].as_str() {
            Some(id) => self.seen.insert(id.to_owned()),
            None => false,
        }
    }
}

fn joined_rooms(response: &Value) -> Vec<(&str, &Value)> {
    response["rooms"]["join"]
        .as_object()
        .map(|rooms| rooms.iter().map(|(id, room)| (id.as_str(), room)).collect())
        .unwrap_or_default()
}

fn message_body(event: &Value) -> Option<&str> {
    if event["type"] != "m.room.message" {
        return None;
    }
    event["content"]["body"].as_str()
}

/// Percent-encodes a path segment or query value (room ids carry `!` and
/// `:`, pagination tokens may carry anything).
pub fn query_value(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
