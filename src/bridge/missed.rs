//! The owner's portal events the bridge did not hear about: sent while it
//! was stopped, or while the homeserver could not reach it. Synapse retries
//! such transactions by itself; Conduit retries only when a later event
//! arrives, and then only after 30 s × tries², so a message the owner sent
//! during a restart could otherwise wait for hours. At start, and after the
//! homeserver comes back, each portal's timeline is read back to the newest
//! event the bridge had seen, and what the owner sent since is queued for
//! Telegram in timeline order. Every queued event is remembered by id, so the
//! homeserver's own retry of the same event is never sent twice.
//!
//! It reads through the bot's own device (Conduit refuses `/messages` to a
//! bare `as_token`) and queues only through [`BridgePersistence`]; what is
//! bridged is decided by the same rule as for transactions.

use crate::matrix::event::TimelineEvent;
use ruma::api::client::message::get_message_events;
use ruma::api::Direction;
use ruma::serde::Raw;
use ruma::{OwnedRoomId, RoomId, UInt};
use serde_json::Value;
use std::time::Instant;
use tracing::{debug, info, warn};

use super::core::{Core, CoreError};
use super::persistence::{BridgePersistence, QueuedEvent};

/// How far before the watermark the reading still goes: events reach the
/// bridge roughly, not strictly, in the order of their timestamps.
const WATERMARK_SLACK_MS: u64 = 60_000;

/// Events asked for per `/messages` page.
const PAGE_SIZE: u32 = 50;

/// Pages read per room at most. A restart or an outage leaves far fewer
/// events than this behind; a room busier than that is read only this far.
const MAX_PAGES: usize = 20;

/// What one page of a room's timeline, newest first, says.
#[derive(Debug, Default, PartialEq, Eq)]
struct PageOutcome {
    /// The owner's events to queue, newest first.
    found: Vec<QueuedEvent>,
    /// An event older than the horizon was reached: no need to read further.
    reached_horizon: bool,
}

impl<P: BridgePersistence> Core<P> {
    /// Reads every portal room's timeline back to `since_ms` (the event
    /// watermark when the bridge last heard the homeserver) for the owner's
    /// events the bridge missed, and queues them; returns how many were
    /// queued. Without a watermark (no transaction processed yet) there is
    /// nothing to catch up. One room at a time under the transaction lock, so
    /// an event arriving meanwhile is queued after what came before it.
    pub async fn catch_up_missed(
        &self,
        since_ms: Option<u64>,
        portal_rooms: &[OwnedRoomId],
    ) -> usize {
        self.catch_up(since_ms, portal_rooms, false).await
    }

    /// Remembers that the homeserver does not answer, with the event
    /// watermark of the moment it was first found away.
    pub fn homeserver_went_away(&self) {
        let mut away = self
            .away_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if away.is_none() {
            *away = Some(self.event_watermark());
        }
    }

    /// The homeserver answers again: reads back what the owner sent while
    /// it was away, unless the first transaction since did already.
    pub async fn homeserver_is_back(&self) {
        let _one_at_a_time = self.transaction_lock().await;
        self.read_back_if_away().await;
    }

    /// Reads back every portal after an outage, once; the caller holds the
    /// transaction lock, so nothing pushed meanwhile is queued before what
    /// was sent earlier.
    pub(super) async fn read_back_if_away(&self) {
        let away = self
            .away_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let Some(watermark) = away else {
            return;
        };
        info!("the homeserver is back: reading what the owner sent meanwhile");
        let rooms = self.persistence().portal_rooms().unwrap_or_else(|error| {
            warn!(%error, "could not list the portals");
            Vec::new()
        });
        self.catch_up(watermark, &rooms, true).await;
    }

    /// [`Core::catch_up_missed`], taking the transaction lock room by room
    /// unless the caller holds it already.
    async fn catch_up(
        &self,
        since_ms: Option<u64>,
        portal_rooms: &[OwnedRoomId],
        lock_held: bool,
    ) -> usize {
        let Some(watermark) = since_ms else {
            debug!("no event processed yet: nothing to catch up");
            return 0;
        };
        let horizon = watermark.saturating_sub(WATERMARK_SLACK_MS);
        let mut queued = 0;
        for room_id in portal_rooms {
            let read = if lock_held {
                self.read_back_room(room_id, horizon).await
            } else {
                let _one_at_a_time = self.transaction_lock().await;
                self.read_back_room(room_id, horizon).await
            };
            match read {
                Ok(count) => queued += count,
                Err(error) => warn!(%room_id, %error, "could not read what was missed in a portal"),
            }
        }
        if queued > 0 {
            info!(
                queued,
                "queued the owner's events sent while the bridge was away"
            );
        }
        queued
    }

    /// Takes the owner's events that the bot's own `/sync` saw in `room_id`.
    /// On a homeserver that holds back its transactions after the bridge
    /// was unreachable (Conduit waits 30 s × tries² and for a new event),
    /// this is how what the owner sends reaches Telegram meanwhile; when the
    /// transactions come, every event in them was queued or handled already
    /// and is skipped. A `limited` timeline left events out: while the
    /// transactions lag behind, the room is read back to the event watermark
    /// instead. Returns how many events were queued for Telegram.
    pub async fn take_synced_timeline(
        &self,
        room_id: &RoomId,
        events: Vec<Value>,
        limited: bool,
    ) -> Result<usize, CoreError> {
        let watermark = self.event_watermark();
        if limited
            && transactions_lag(watermark, &events)
            && self.persistence().is_portal_room(room_id)?
        {
            let _one_at_a_time = self.transaction_lock().await;
            return self.read_back_room(room_id, sync_horizon(watermark)).await;
        }
        let owner = self.owner().as_str();
        // Older events reached the bridge before (or are so old that what it
        // remembers of them may have been pruned): never sent again.
        let horizon = sync_horizon(watermark);
        let _one_at_a_time = self.transaction_lock().await;
        let mut found = Vec::new();
        for value in events {
            let old = value["origin_server_ts"]
                .as_u64()
                .is_none_or(|ts| ts < horizon);
            if value["sender"].as_str() != Some(owner) || old {
                continue;
            }
            let Some(raw) = timeline_event(value, room_id) else {
                continue;
            };
            let Ok(event) = raw.deserialize() else {
                continue;
            };
            match self.queue_for_telegram(&raw, &event)? {
                Some(queued) => found.push(queued),
                None => self.handle_once(event, Instant::now()).await?,
            }
        }
        let fresh = self.persistence().queue_missed(&found)?;
        self.announce_queued(&fresh);
        Ok(fresh.len())
    }

    /// Reads one room back to `horizon` and queues what the owner sent
    /// that was never queued; the caller holds the transaction lock.
    async fn read_back_room(&self, room_id: &RoomId, horizon: u64) -> Result<usize, CoreError> {
        let mut found = Vec::new();
        let mut from = None;
        for _ in 0..MAX_PAGES {
            let mut request =
                get_message_events::v3::Request::new(room_id.to_owned(), Direction::Backward);
            request.from = from.take();
            request.limit = UInt::from(PAGE_SIZE);
            let response = self.client().as_bot_device().send(request).await?;
            // The page's events are read as the bridge's own event type (the
            // same JSON; see `TimelineEvent`).
            let page = response.chunk.iter().map(Raw::cast_ref_unchecked);
            let outcome = self.read_page(page, horizon)?;
            found.extend(outcome.found);
            if outcome.reached_horizon || response.chunk.is_empty() {
                break;
            }
            match response.end {
                Some(end) => from = Some(end),
                None => break,
            }
        }
        found.reverse();
        let fresh = self.persistence().queue_missed(&found)?;
        self.announce_queued(&fresh);
        Ok(fresh.len())
    }

    /// The owner's bridged events on one page, and whether it went past the
    /// horizon. Events already queued are left out here and again by the
    /// store.
    fn read_page<'a>(
        &self,
        page: impl Iterator<Item = &'a Raw<TimelineEvent>>,
        horizon: u64,
    ) -> Result<PageOutcome, CoreError> {
        let mut outcome = PageOutcome::default();
        for raw in page {
            let Ok(event) = raw.deserialize() else {
                continue;
            };
            if u64::from(event.origin_server_ts().get()) < horizon {
                outcome.reached_horizon = true;
                break;
            }
            if let Some(queued) = self.queue_for_telegram(raw, &event)? {
                if !self.persistence().was_queued(&queued.event_id)? {
                    outcome.found.push(queued);
                }
            }
        }
        Ok(outcome)
    }
}

/// How far back the bot's sync is read: to the watermark, or, before any
/// transaction was processed, to now (a bridge that never heard the
/// homeserver has nothing older to send), with the usual slack.
fn sync_horizon(watermark: Option<u64>) -> u64 {
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    };
    watermark
        .unwrap_or_else(now_ms)
        .saturating_sub(WATERMARK_SLACK_MS)
}

/// Whether the homeserver's transactions are behind what the sync shows:
/// its newest event is newer than anything pushed. In a busy room whose
/// transactions keep up, a limited timeline costs no read-back.
fn transactions_lag(watermark: Option<u64>, events: &[Value]) -> bool {
    let newest = events
        .iter()
        .filter_map(|e| e["origin_server_ts"].as_u64())
        .max();
    match (watermark, newest) {
        (Some(pushed), Some(newest)) => newest > pushed,
        (None, _) | (_, None) => true,
    }
}

/// A `/sync` timeline event as a room event: sync leaves out the `room_id`
/// that the event types need.
fn timeline_event(value: Value, room_id: &RoomId) -> Option<Raw<TimelineEvent>> {
    let value = super::bot_sync::with_room_id(value, room_id);
    serde_json::value::to_raw_value(&value)
        .ok()
        .map(Raw::from_json)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_limited_timeline_is_read_back_only_while_transactions_lag() {
        let events = vec![
            json!({ "origin_server_ts": 1_000 }),
            json!({ "origin_server_ts": 2_000 }),
        ];
        assert!(!transactions_lag(Some(2_000), &events));
        assert!(transactions_lag(Some(1_500), &events));
        assert!(transactions_lag(None, &events));
        assert!(transactions_lag(Some(2_000), &[]));
    }

    #[test]
    fn sync_events_get_the_room_the_event_types_need() {
        let room_id: OwnedRoomId = "!r:localhost".try_into().unwrap();
        let raw = timeline_event(
            json!({
                "type": "m.room.message",
                "event_id": "$e",
                "sender": "@o:localhost",
                "origin_server_ts": 1,
                "content": { "msgtype": "m.text", "body": "hi" },
            }),
            &room_id,
        )
        .unwrap();
        let event = raw.deserialize().unwrap();
        assert_eq!(event.room_id(), room_id);
        assert!(timeline_event(json!("not an event"), &room_id)
            .is_some_and(|r| r.deserialize().is_err()));
    }
}
