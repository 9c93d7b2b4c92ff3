//! The bot's own view of the homeserver, for what appservice transactions do
//! not bring on every server. Started once the bridge is ready; it never
//! delays readiness and never touches Telegram except through the core.
//!
//! - **The bot's device.** Conduit refuses `/sync` and `/messages` to a bare
//!   `as_token`, so the bot logs in once with `m.login.application_service`;
//!   the token is kept in the database and checked at every start.
//! - **Missed events.** At start, the owner's portal events the bridge never
//!   received are read back and queued ([`Core::catch_up_missed`]).
//! - **Typing and read receipts.** Synapse pushes them to appservices
//!   (MSC2409); Conduit does not. The bot therefore follows its own `/sync`
//!   for them until a transaction proves that the homeserver pushes them (a
//!   typing notification of the bot's, sent at start, is the probe). Both
//!   sources may overlap for a moment; the Telegram side ignores a repeat.
//! - **Held-back transactions.** The same homeserver that pushes no typing
//!   (Conduit) also holds back every transaction for 30 s × tries² after one
//!   failed, until a new event comes. The owner's timeline events from the
//!   sync therefore go to the core too, which queues or handles each event
//!   once whichever way it came first ([`Core::take_synced_timeline`]).
//! - **Outages.** When the sync fails and later succeeds again, the
//!   homeserver was away: what the owner sent meanwhile is read back again.
//!   A homeserver that pushes everything is still asked every second
//!   whether it is there, only for this: Synapse never sends a transaction
//!   it created just before it stopped (it retries only for appservices it
//!   had marked down), so the owner's last message before a restart would
//!   never arrive. Synapse refuses `/sync` to appservice users, hence a poll.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ruma::api::client::typing::create_typing_event;
use ruma::{OwnedRoomId, RoomId};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::core::Core;
use super::persistence::BridgePersistence;
use crate::matrix::{MatrixClient, MatrixError};

/// How long one `/sync` long-poll waits for news.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// The shortest time between two syncs. Conduit ignores sync filters, so in
/// a burst of bridged messages every sync returns at once with timeline
/// events the bot does not need; this bounds what that costs both sides.
const MIN_SYNC_INTERVAL: Duration = Duration::from_millis(250);

/// The longest pause between tries while the homeserver is unreachable.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(15);

/// How long the start-up probe waits for the homeserver to push it back.
const PROBE_WAIT: Duration = Duration::from_secs(2);

/// How often a homeserver that pushes everything is asked whether it is
/// there: shorter than a restart of one takes.
const OUTAGE_POLL: Duration = Duration::from_secs(1);

/// How often the sync position is written to the database at most.
const SAVE_POSITION_EVERY: Duration = Duration::from_secs(30);

/// Timeline events per room and sync; a busier room is read back instead.
const TIMELINE_LIMIT: u32 = 50;

/// Only the owner's timeline events, typing and receipts matter. Synapse
/// honours this; Conduit ignores it (hence [`MIN_SYNC_INTERVAL`]).
fn sync_filter(owner: &str) -> String {
    serde_json::json!({
        "presence": { "types": [] },
        "account_data": { "types": [] },
        "room": {
            "state": { "types": [] },
            "timeline": { "limit": TIMELINE_LIMIT, "senders": [owner] },
            "account_data": { "types": [] },
            "ephemeral": { "types": ["m.typing", "m.receipt"] },
        },
    })
    .to_string()
}

/// The part of a `/sync` answer the bot reads.
#[derive(Debug, Deserialize)]
struct SyncAnswer {
    next_batch: String,
    #[serde(default)]
    rooms: SyncRooms,
}

#[derive(Debug, Default, Deserialize)]
struct SyncRooms {
    #[serde(default)]
    join: HashMap<OwnedRoomId, JoinedRoom>,
}

#[derive(Debug, Default, Deserialize)]
struct JoinedRoom {
    #[serde(default)]
    timeline: Events,
    #[serde(default)]
    ephemeral: Events,
}

#[derive(Debug, Default, Deserialize)]
struct Events {
    #[serde(default)]
    events: Vec<Value>,
    /// Set on a timeline that left events out.
    #[serde(default)]
    limited: bool,
}

/// Runs until `stop` turns `true`: the bot's device, the catch-up, then
/// typing and receipts through the bot's sync where the homeserver does not
/// push them.
pub async fn run<P: BridgePersistence>(core: Arc<Core<P>>, mut stop: watch::Receiver<bool>) {
    if unless_stopped(ensure_bot_device(&core), &mut stop).await != Some(true) {
        return;
    }
    let rooms = portal_rooms(&core);
    let catch_up = core.catch_up_missed(core.startup_watermark(), &rooms);
    if unless_stopped(catch_up, &mut stop).await.is_none() {
        return;
    }
    probe_ephemeral_push(&core).await;
    sleep_or_stop(PROBE_WAIT, &mut stop).await;
    if *stop.borrow() {
        return;
    }
    if !core.ephemeral_pushed() {
        info!("the homeserver does not push typing and read receipts: following the bot's sync");
        follow_sync(&core, &mut stop).await;
        if *stop.borrow() {
            return;
        }
    }
    info!("the homeserver pushes typing and read receipts; watching it for outages");
    watch_for_outages(&core, &mut stop).await;
}

/// Asks the homeserver every [`OUTAGE_POLL`] whether it is there, until
/// `stop`; once it answers again after it did not, reads back what the
/// owner sent that it may never pass on.
async fn watch_for_outages<P: BridgePersistence>(core: &Core<P>, stop: &mut watch::Receiver<bool>) {
    let client = core.client();
    let mut away = false;
    while !*stop.borrow() {
        let answered = tokio::select! {
            answer = client.bot_device_works() => answer.is_ok(),
            _ = stop.changed() => return,
        };
        if answered && away {
            if unless_stopped(core.homeserver_is_back(), stop)
                .await
                .is_none()
            {
                return;
            }
        } else if !answered && !away {
            warn!("the homeserver does not answer; waiting for it");
            core.homeserver_went_away();
        }
        away = !answered;
        sleep_or_stop(OUTAGE_POLL, stop).await;
    }
}

/// Makes sure the client has a working device token for the bot; `false`
/// (after a warning) when the homeserver refuses the bot a device.
async fn ensure_bot_device<P: BridgePersistence>(core: &Core<P>) -> bool {
    let client = core.client();
    if let Ok(Some(token)) = core.persistence().bot_device_token() {
        client.set_bot_device_token(token);
        match client.bot_device_works().await {
            Ok(true) => return true,
            Ok(false) => info!("the bot's device was logged out; logging it in again"),
            Err(error) => debug!(%error, "could not check the bot's device"),
        }
    }
    match client.log_in_bot_device().await {
        Ok(token) => {
            if let Err(error) = core.persistence().set_bot_device_token(&token) {
                warn!(%error, "could not store the bot's device token");
            }
            client.set_bot_device_token(token);
            true
        }
        Err(error) => {
            warn!(
                %error,
                "the homeserver did not log the bot in as a device: events sent while the \
                 bridge was stopped are not read back, and typing and receipts depend on the \
                 homeserver pushing them"
            );
            false
        }
    }
}

fn portal_rooms<P: BridgePersistence>(core: &Core<P>) -> Vec<OwnedRoomId> {
    core.persistence().portal_rooms().unwrap_or_else(|error| {
        warn!(%error, "could not list the portals");
        Vec::new()
    })
}

/// The bot types for a moment in the management room: a homeserver that
/// pushes ephemeral events to appservices hands that back in a transaction.
async fn probe_ephemeral_push<P: BridgePersistence>(core: &Core<P>) {
    let Some(room_id) = core.management_room() else {
        return;
    };
    let client = core.client();
    let typing = create_typing_event::v3::Typing::Yes(create_typing_event::v3::TypingInfo::new(
        Duration::from_secs(1),
    ));
    let request = create_typing_event::v3::Request::new(
        client.bot_user_id().to_owned(),
        room_id.clone(),
        typing,
    );
    if let Err(error) = client.as_bot().send(request).await {
        debug!(%error, "could not send the typing probe");
        return;
    }
    let request = create_typing_event::v3::Request::new(
        client.bot_user_id().to_owned(),
        room_id,
        create_typing_event::v3::Typing::No,
    );
    let _ = client.as_bot().send(request).await;
}

/// Follows the bot's `/sync` for typing and receipts until `stop`, or until
/// the homeserver turns out to push them after all.
async fn follow_sync<P: BridgePersistence>(core: &Core<P>, stop: &mut watch::Receiver<bool>) {
    let client = core.client();
    let filter = sync_filter(core.owner().as_str());
    let mut position = core.persistence().bot_sync_position().ok().flatten();
    let mut saved_at = Instant::now();
    let mut failures: u32 = 0;
    while !*stop.borrow() && !core.ephemeral_pushed() {
        let started = Instant::now();
        let answer = tokio::select! {
            answer = sync_once(client, &filter, position.as_deref()) => answer,
            _ = stop.changed() => return,
        };
        match answer {
            Ok(answer) => {
                if failures > 0 {
                    if unless_stopped(core.homeserver_is_back(), stop)
                        .await
                        .is_none()
                    {
                        return;
                    }
                    failures = 0;
                }
                // The first answer without a position is the current state:
                // its receipts are stale (the owner typing is not: see
                // `worth_forwarding`), but its timeline may hold what the
                // owner sent since the catch-up read.
                let forwarded = forward(core, answer.rooms, position.is_some());
                if unless_stopped(forwarded, stop).await.is_none() {
                    return;
                }
                position = Some(answer.next_batch);
                if saved_at.elapsed() >= SAVE_POSITION_EVERY {
                    save_position(core, position.as_deref());
                    saved_at = Instant::now();
                }
            }
            Err(error) => {
                if failures == 0 {
                    core.homeserver_went_away();
                    warn!(%error, "the bot's sync failed; retrying");
                } else {
                    debug!(%error, failures, "the bot's sync failed again");
                }
                failures = failures.saturating_add(1);
                let pause = retry_pause(failures);
                sleep_or_stop(pause, stop).await;
                continue;
            }
        }
        let rest = MIN_SYNC_INTERVAL.saturating_sub(started.elapsed());
        sleep_or_stop(rest, stop).await;
    }
    save_position(core, position.as_deref());
}

fn save_position<P: BridgePersistence>(core: &Core<P>, position: Option<&str>) {
    if let Some(position) = position {
        if let Err(error) = core.persistence().set_bot_sync_position(position) {
            debug!(%error, "could not store the bot's sync position");
        }
    }
}

/// Hands the owner's timeline events of every room in the answer to the
/// core, and their typing and receipts when `news` (see
/// [`worth_forwarding`]).
async fn forward<P: BridgePersistence>(core: &Core<P>, rooms: SyncRooms, news: bool) {
    for (room_id, room) in rooms.join {
        if !room.timeline.events.is_empty() || room.timeline.limited {
            let taken = core
                .take_synced_timeline(&room_id, room.timeline.events, room.timeline.limited)
                .await;
            match taken {
                Ok(0) => {}
                Ok(queued) => {
                    debug!(%room_id, queued, "queued the owner's events from the bot's sync")
                }
                Err(error) => {
                    warn!(%room_id, %error, "could not take the owner's events from the bot's sync")
                }
            }
        }
        for event in room.ephemeral.events {
            if worth_forwarding(&event, core.owner().as_str(), news) {
                core.forward_ephemeral_event(&with_room_id(event, &room_id));
            }
        }
    }
}

/// Whether an ephemeral event of the bot's sync goes to Telegram. Everything
/// in an answer to a sync with a position is news. The first answer shows
/// the current state instead: its receipts may be long read, but the owner
/// typing there is typing now, and may have started in the moments between
/// the start and this first sync, which no later answer repeats.
fn worth_forwarding(event: &Value, owner: &str, news: bool) -> bool {
    news || (event["type"] == "m.typing"
        && event["content"]["user_ids"]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|id| id.as_str() == Some(owner))))
}

/// Events in a sync answer name no room; pushed ones do.
pub(super) fn with_room_id(mut event: Value, room_id: &RoomId) -> Value {
    if let Value::Object(fields) = &mut event {
        fields.insert("room_id".to_owned(), Value::String(room_id.to_string()));
    }
    event
}

/// 1 s, 2 s, 4 s … up to [`MAX_RETRY_PAUSE`].
fn retry_pause(failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(8);
    Duration::from_secs(1u64 << exponent).min(MAX_RETRY_PAUSE)
}

/// Runs `work` unless `stop` turns `true` first, in which case `work` is
/// dropped where it stands: reading back and queueing are safe to cut short
/// (what was not queued is read again at the next start), and a shutdown
/// must not wait for hundreds of portals to be read.
async fn unless_stopped<F: std::future::Future>(
    work: F,
    stop: &mut watch::Receiver<bool>,
) -> Option<F::Output> {
    if *stop.borrow() {
        return None;
    }
    tokio::select! {
        output = work => Some(output),
        _ = stop.changed() => None,
    }
}

async fn sleep_or_stop(duration: Duration, stop: &mut watch::Receiver<bool>) {
    if duration.is_zero() {
        return;
    }
    tokio::select! {
        () = tokio::time::sleep(duration) => {}
        _ = stop.changed() => {}
    }
}

/// One `/sync` long-poll through the bot's device.
async fn sync_once(
    client: &MatrixClient,
    filter: &str,
    since: Option<&str>,
) -> Result<SyncAnswer, MatrixError> {
    let endpoint = "sync";
    let timeout = SYNC_TIMEOUT.as_millis().to_string();
    let mut query = vec![("timeout", timeout.as_str()), ("filter", filter)];
    if let Some(since) = since {
        query.push(("since", since));
    }
    let response = client
        .raw_request_as_bot_device(reqwest::Method::GET, "/_matrix/client/v3/sync")
        .query(&query)
        .send()
        .await
        .map_err(|source| MatrixError::Network {
            endpoint,
            source: source.without_url(),
        })?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|source| MatrixError::Network {
            endpoint,
            source: source.without_url(),
        })?;
    if !status.is_success() {
        return Err(MatrixError::from_response(endpoint, status, None, &body));
    }
    serde_json::from_slice(&body).map_err(|error| MatrixError::Response {
        endpoint,
        message: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sync_ephemeral_events_get_their_room() {
        let answer: SyncAnswer = serde_json::from_value(json!({
            "next_batch": "s2",
            "rooms": { "join": { "!r:localhost": {
                "timeline": { "events": [], "limited": true },
                "ephemeral": { "events": [
                    { "type": "m.typing", "content": { "user_ids": ["@o:localhost"] } }
                ] }
            } } }
        }))
        .unwrap();
        assert_eq!(answer.next_batch, "s2");
        let (room_id, room) = answer.rooms.join.into_iter().next().unwrap();
        let event = with_room_id(room.ephemeral.events[0].clone(), &room_id);
        assert_eq!(event["room_id"], "!r:localhost");
        assert_eq!(event["type"], "m.typing");
    }

    #[test]
    fn the_first_answer_forwards_only_the_owner_typing_now() {
        let owner = "@o:localhost";
        let typing = |ids: Value| json!({ "type": "m.typing", "content": { "user_ids": ids } });
        let receipt = json!({ "type": "m.receipt", "content": {
            "$e": { "m.read": { "@o:localhost": { "ts": 1 } } }
        } });
        assert!(worth_forwarding(&typing(json!([owner])), owner, false));
        assert!(!worth_forwarding(&typing(json!([])), owner, false));
        assert!(!worth_forwarding(
            &typing(json!(["@someone:localhost"])),
            owner,
            false
        ));
        assert!(!worth_forwarding(&receipt, owner, false));
        assert!(worth_forwarding(&typing(json!([])), owner, true));
        assert!(worth_forwarding(&receipt, owner, true));
    }

    #[test]
    fn an_answer_without_rooms_is_fine() {
        let answer: SyncAnswer = serde_json::from_value(json!({ "next_batch": "s1" })).unwrap();
        assert!(answer.rooms.join.is_empty());
    }

    #[test]
    fn retries_back_off_up_to_a_cap() {
        assert_eq!(retry_pause(1), Duration::from_secs(1));
        assert_eq!(retry_pause(2), Duration::from_secs(2));
        assert_eq!(retry_pause(3), Duration::from_secs(4));
        assert_eq!(retry_pause(30), MAX_RETRY_PAUSE);
    }
}
