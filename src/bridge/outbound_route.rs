//! Which of the owner's Matrix events go to Telegram, decided from the event
//! alone: messages (not commands), edits, reactions, redactions, stickers,
//! pin changes and changes of the room's name, topic and avatar are queued;
//! typing and read receipts become requests. Pure
//! functions: the core asks the store whether a room is a portal and does
//! the queueing; nothing here touches the network or the database.

use ruma::events::room::message::MessageType;
use ruma::events::{MessageLikeEvent, StateEvent};

use crate::matrix::event::TimelineEvent;
use ruma::{OwnedEventId, OwnedRoomId, UserId};
use serde_json::Value;

use super::requests::TelegramRequest;

/// Marker that double-puppeting bridges put into events they send as the
/// user; such events came from Telegram and must not go back.
pub const DOUBLE_PUPPET_MARKER: &str = "fi.mau.double_puppet_source";

/// Whether `event` is a kind the bridge delivers to Telegram. `is_command`
/// tells whether a text body is a bot command (those stay commands).
pub fn is_bridged_kind(event: &TimelineEvent, is_command: impl Fn(&str) -> bool) -> bool {
    match event {
        TimelineEvent::RoomMessage(MessageLikeEvent::Original(message)) => {
            match &message.content.msgtype {
                MessageType::Text(text) => !is_command(&text.body),
                _ => true,
            }
        }

        TimelineEvent::Reaction(MessageLikeEvent::Original(_))
        | TimelineEvent::RoomRedaction(_)
        | TimelineEvent::Sticker(MessageLikeEvent::Original(_)) => true,

        TimelineEvent::RoomPinnedEvents(StateEvent::Original(_))
        | TimelineEvent::RoomName(StateEvent::Original(_))
        | TimelineEvent::RoomTopic(StateEvent::Original(_))
        | TimelineEvent::RoomAvatar(StateEvent::Original(_)) => true,
        _ => false,
    }
}

/// Whether the raw event was sent by this bridge itself, as far as the event
/// tells: everything the bridge sends as the owner carries the double-puppet
/// marker in its content. `unsigned.transaction_id` proves nothing here:
/// Synapse hides it from appservices, but Conduit passes it on for every
/// event any client sent with a transaction id, the owner's own included.
/// Events without the marker are recognised later through the message map.
pub fn sent_by_bridge(event_json: &str) -> bool {
    let Ok(event) = serde_json::from_str::<Value>(event_json) else {
        return false;
    };
    event["content"].get(DOUBLE_PUPPET_MARKER).is_some()
}

/// The requests an ephemeral event (typing, receipts) makes of the Telegram
/// side, for the owner's own typing and reading only.
pub fn ephemeral_requests(event: &Value, owner: &UserId) -> Vec<TelegramRequest> {
    let Some(room_id) = event["room_id"]
        .as_str()
        .and_then(|room| OwnedRoomId::try_from(room).ok())
    else {
        return Vec::new();
    };
    match event["type"].as_str() {
        Some("m.typing") => {
            let typing = event["content"]["user_ids"]
                .as_array()
                .is_some_and(|ids| ids.iter().any(|id| id.as_str() == Some(owner.as_str())));
            vec![TelegramRequest::Typing { room_id, typing }]
        }
        Some("m.receipt") => owner_read_up_to(&event["content"], owner)
            .map(|event_id| TelegramRequest::ReadUpTo { room_id, event_id })
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

/// The event the owner's (public or private) read receipt points at; with
/// several, the newest by receipt timestamp.
fn owner_read_up_to(content: &Value, owner: &UserId) -> Option<OwnedEventId> {
    let receipts = content.as_object()?;
    receipts
        .iter()
        .filter_map(|(event_id, kinds)| {
            let ts = ["m.read", "m.read.private"]
                .iter()
                .filter_map(|kind| kinds[kind].get(owner.as_str()))
                .map(|receipt| receipt["ts"].as_u64().unwrap_or(0))
                .max()?;
            Some((ts, event_id))
        })
        .max_by_key(|(ts, _)| *ts)
        .and_then(|(_, event_id)| OwnedEventId::try_from(event_id.as_str()).ok())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn owner() -> ruma::OwnedUserId {
        "@owner:localhost".try_into().unwrap()
    }

    fn timeline(value: Value) -> TimelineEvent {
        serde_json::from_value(value).unwrap()
    }

    fn message(content: Value) -> TimelineEvent {
        timeline(json!({
            "type": "m.room.message", "room_id": "!r:localhost", "sender": "@owner:localhost",
            "event_id": "$m", "origin_server_ts": 1, "content": content
        }))
    }

    #[test]
    fn messages_reactions_redactions_and_pins_are_bridged_but_commands_are_not() {
        let is_command = |body: &str| body.starts_with("!tg");
        let text = message(json!({ "msgtype": "m.text", "body": "hello" }));
        assert!(is_bridged_kind(&text, is_command));
        let command = message(json!({ "msgtype": "m.text", "body": "!tg help" }));
        assert!(!is_bridged_kind(&command, is_command));
        let image = message(json!({ "msgtype": "m.image", "body": "a.png", "url": "mxc://x/y" }));
        assert!(is_bridged_kind(&image, is_command));
        let reaction = timeline(json!({
            "type": "m.reaction", "room_id": "!r:localhost", "sender": "@owner:localhost",
            "event_id": "$r", "origin_server_ts": 1,
            "content": { "m.relates_to": { "rel_type": "m.annotation", "event_id": "$m", "key": "👍" } }
        }));
        assert!(is_bridged_kind(&reaction, is_command));
        let pins = timeline(json!({
            "type": "m.room.pinned_events", "room_id": "!r:localhost", "sender": "@owner:localhost",
            "event_id": "$p", "origin_server_ts": 1, "state_key": "",
            "content": { "pinned": ["$m"] }
        }));
        assert!(is_bridged_kind(&pins, is_command));
        let name = timeline(json!({
            "type": "m.room.name", "room_id": "!r:localhost", "sender": "@owner:localhost",
            "event_id": "$n", "origin_server_ts": 1, "state_key": "", "content": { "name": "x" }
        }));
        assert!(is_bridged_kind(&name, is_command));
        let member = timeline(json!({
            "type": "m.room.member", "room_id": "!r:localhost", "sender": "@owner:localhost",
            "event_id": "$j", "origin_server_ts": 1, "state_key": "@owner:localhost",
            "content": { "membership": "join" }
        }));
        assert!(!is_bridged_kind(&member, is_command));
    }

    #[test]
    fn the_bridges_own_sends_are_recognised_by_the_marker_alone() {
        // Conduit shows every client's transaction id to appservices: the
        // owner's own message from Element must still go to Telegram.
        assert!(!sent_by_bridge(
            r#"{"unsigned":{"transaction_id":"m1700000000.0"},"content":{"body":"hi"}}"#
        ));
        assert!(sent_by_bridge(
            r#"{"content":{"fi.mau.double_puppet_source":"x"}}"#
        ));
        assert!(!sent_by_bridge(r#"{"unsigned":{"age":1},"content":{}}"#));
        assert!(!sent_by_bridge("not json"));
    }

    #[test]
    fn typing_follows_whether_the_owner_is_listed() {
        let event = json!({ "type": "m.typing", "room_id": "!r:localhost",
            "content": { "user_ids": ["@someone:localhost", "@owner:localhost"] } });
        assert_eq!(
            ephemeral_requests(&event, &owner()),
            vec![TelegramRequest::Typing {
                room_id: "!r:localhost".try_into().unwrap(),
                typing: true
            }]
        );
        let stopped = json!({ "type": "m.typing", "room_id": "!r:localhost",
            "content": { "user_ids": ["@someone:localhost"] } });
        assert_eq!(
            ephemeral_requests(&stopped, &owner()),
            vec![TelegramRequest::Typing {
                room_id: "!r:localhost".try_into().unwrap(),
                typing: false
            }]
        );
    }

    #[test]
    fn only_the_owners_newest_receipt_counts() {
        let event = json!({ "type": "m.receipt", "room_id": "!r:localhost", "content": {
            "$old": { "m.read": { "@owner:localhost": { "ts": 1 } } },
            "$new": { "m.read.private": { "@owner:localhost": { "ts": 5 } } },
            "$other": { "m.read": { "@bob:localhost": { "ts": 9 } } }
        }});
        assert_eq!(
            ephemeral_requests(&event, &owner()),
            vec![TelegramRequest::ReadUpTo {
                room_id: "!r:localhost".try_into().unwrap(),
                event_id: "$new".try_into().unwrap()
            }]
        );
        let others = json!({ "type": "m.receipt", "room_id": "!r:localhost", "content": {
            "$other": { "m.read": { "@bob:localhost": { "ts": 9 } } }
        }});
        assert!(ephemeral_requests(&others, &owner()).is_empty());
        assert!(ephemeral_requests(&json!({ "type": "m.presence" }), &owner()).is_empty());
    }
}
