//! The room events the bridge reads: the homeserver's pushed transactions,
//! the owner's events read back after an outage and the outbox entries the
//! Telegram side delivers all parse into [`TimelineEvent`]. It owns only the
//! parsing; what an event means to the bridge is decided by the core.
//!
//! Why not ruma's `AnyTimelineEvent`: its deserializer parses every event
//! type the Matrix specification knows (about forty message-like and state
//! types, each with its own content, redacted content and bundled
//! relations), about 0.5 MB of machine code, most of it for types the bridge
//! never looks at. Here the `type` is read first and only the handful of
//! types the bridge acts on are parsed into ruma's own event types, with the
//! same rules as before: a `state_key` makes it a state event, an
//! `unsigned.redacted_because` a redacted one, and an event of one of these
//! types that does not parse is rejected as a whole. Any other type only
//! needs the fields every room event has (`event_id`, `sender`,
//! `origin_server_ts`, `room_id`); its content is not looked at, because
//! nothing in the bridge reads it.

use ruma::events::reaction::ReactionEventContent;
use ruma::events::room::avatar::RoomAvatarEventContent;
use ruma::events::room::encrypted::RoomEncryptedEventContent;
use ruma::events::room::encryption::RoomEncryptionEventContent;
use ruma::events::room::member::RoomMemberEventContent;
use ruma::events::room::message::RoomMessageEventContent;
use ruma::events::room::name::RoomNameEventContent;
use ruma::events::room::pinned_events::RoomPinnedEventsEventContent;
use ruma::events::room::redaction::RoomRedactionEvent;
use ruma::events::room::topic::RoomTopicEventContent;
use ruma::events::sticker::StickerEventContent;
use ruma::events::{MessageLikeEvent, StateEvent};
use ruma::serde::from_raw_json_value;
use ruma::{
    EventId, MilliSecondsSinceUnixEpoch, OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, UserId,
};
use serde::de::{Deserialize, Deserializer, IgnoredAny};
use serde_json::value::RawValue as RawJsonValue;

/// A room event, parsed as far as the bridge needs it.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // Parsed once per event and moved, never stored in bulk.
pub enum TimelineEvent {
    /// `m.room.message`.
    RoomMessage(MessageLikeEvent<RoomMessageEventContent>),
    /// `m.sticker`.
    Sticker(MessageLikeEvent<StickerEventContent>),
    /// `m.reaction`.
    Reaction(MessageLikeEvent<ReactionEventContent>),
    /// `m.room.redaction`.
    RoomRedaction(RoomRedactionEvent),
    /// `m.room.encrypted`.
    RoomEncrypted(MessageLikeEvent<RoomEncryptedEventContent>),
    /// `m.room.member` (state).
    RoomMember(StateEvent<RoomMemberEventContent>),
    /// `m.room.name` (state).
    RoomName(StateEvent<RoomNameEventContent>),
    /// `m.room.topic` (state).
    RoomTopic(StateEvent<RoomTopicEventContent>),
    /// `m.room.avatar` (state).
    RoomAvatar(StateEvent<RoomAvatarEventContent>),
    /// `m.room.encryption` (state).
    RoomEncryption(StateEvent<RoomEncryptionEventContent>),
    /// `m.room.pinned_events` (state).
    RoomPinnedEvents(StateEvent<RoomPinnedEventsEventContent>),
    /// Any other type, state or not: only the common fields.
    Other(OtherEvent),
}

/// The fields every room event has, for a type the bridge does not act on.
#[derive(Debug, serde::Deserialize)]
pub struct OtherEvent {
    /// The event's id.
    pub event_id: OwnedEventId,
    /// Who sent it.
    pub sender: OwnedUserId,
    /// When the sender's homeserver received it.
    pub origin_server_ts: MilliSecondsSinceUnixEpoch,
    /// The room it is in.
    pub room_id: OwnedRoomId,
}

/// Calls `$body` with the variant's event bound to `$event`, for the
/// accessors every variant has under the same name.
macro_rules! each_variant {
    ($self:expr, $event:ident => $body:expr) => {
        match $self {
            TimelineEvent::RoomMessage($event) => $body,
            TimelineEvent::Sticker($event) => $body,
            TimelineEvent::Reaction($event) => $body,
            TimelineEvent::RoomRedaction($event) => $body,
            TimelineEvent::RoomEncrypted($event) => $body,
            TimelineEvent::RoomMember($event) => $body,
            TimelineEvent::RoomName($event) => $body,
            TimelineEvent::RoomTopic($event) => $body,
            TimelineEvent::RoomAvatar($event) => $body,
            TimelineEvent::RoomEncryption($event) => $body,
            TimelineEvent::RoomPinnedEvents($event) => $body,
            TimelineEvent::Other(other) => {
                let $event = Common(other);
                $body
            }
        }
    };
}

/// [`OtherEvent`] with the accessor names of ruma's event types, so that
/// [`each_variant`] can treat every variant alike.
struct Common<'a>(&'a OtherEvent);

impl<'a> Common<'a> {
    fn event_id(&self) -> &'a EventId {
        &self.0.event_id
    }
    fn sender(&self) -> &'a UserId {
        &self.0.sender
    }
    fn origin_server_ts(&self) -> MilliSecondsSinceUnixEpoch {
        self.0.origin_server_ts
    }
    fn room_id(&self) -> &'a RoomId {
        &self.0.room_id
    }
}

impl TimelineEvent {
    /// The event's id.
    pub fn event_id(&self) -> &EventId {
        each_variant!(self, event => event.event_id())
    }

    /// Who sent the event.
    pub fn sender(&self) -> &UserId {
        each_variant!(self, event => event.sender())
    }

    /// When the sender's homeserver received the event.
    pub fn origin_server_ts(&self) -> MilliSecondsSinceUnixEpoch {
        each_variant!(self, event => event.origin_server_ts())
    }

    /// The room the event is in.
    pub fn room_id(&self) -> &RoomId {
        each_variant!(self, event => event.room_id())
    }
}

/// The two fields that decide how the rest is parsed.
#[derive(serde::Deserialize)]
struct Kind<'a> {
    #[serde(rename = "type", borrow)]
    event_type: std::borrow::Cow<'a, str>,
    state_key: Option<IgnoredAny>,
}

impl<'de> Deserialize<'de> for TimelineEvent {
    fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
    where
        D: Deserializer<'de>,
    {
        let json = Box::<RawJsonValue>::deserialize(deserializer)?;
        let kind: Kind<'_> = from_raw_json_value(&json)?;
        let json = &*json;
        Ok(match (kind.state_key.is_some(), &*kind.event_type) {
            (false, "m.room.message") => Self::RoomMessage(from_raw_json_value(json)?),
            (false, "m.sticker") => Self::Sticker(from_raw_json_value(json)?),
            (false, "m.reaction") => Self::Reaction(from_raw_json_value(json)?),
            (false, "m.room.redaction") => Self::RoomRedaction(from_raw_json_value(json)?),
            (false, "m.room.encrypted") => Self::RoomEncrypted(from_raw_json_value(json)?),
            (true, "m.room.member") => Self::RoomMember(from_raw_json_value(json)?),
            (true, "m.room.name") => Self::RoomName(from_raw_json_value(json)?),
            (true, "m.room.topic") => Self::RoomTopic(from_raw_json_value(json)?),
            (true, "m.room.avatar") => Self::RoomAvatar(from_raw_json_value(json)?),
            (true, "m.room.encryption") => Self::RoomEncryption(from_raw_json_value(json)?),
            (true, "m.room.pinned_events") => Self::RoomPinnedEvents(from_raw_json_value(json)?),
            _ => Self::Other(from_raw_json_value(json)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn parse(value: Value) -> serde_json::Result<TimelineEvent> {
        serde_json::from_value(value)
    }

    fn event(kind: &str, content: Value) -> Value {
        json!({
            "type": kind, "room_id": "!r:localhost", "sender": "@owner:localhost",
            "event_id": "$e", "origin_server_ts": 7, "content": content
        })
    }

    fn state(kind: &str, content: Value) -> Value {
        let mut value = event(kind, content);
        value["state_key"] = json!("");
        value
    }

    #[test]
    fn the_types_the_bridge_acts_on_become_their_variants() {
        let message = parse(event(
            "m.room.message",
            json!({ "msgtype": "m.text", "body": "hi" }),
        ));
        assert!(matches!(
            message,
            Ok(TimelineEvent::RoomMessage(MessageLikeEvent::Original(_)))
        ));
        let name = parse(state("m.room.name", json!({ "name": "Room" })));
        assert!(matches!(
            name,
            Ok(TimelineEvent::RoomName(StateEvent::Original(_)))
        ));
        let pins = parse(state("m.room.pinned_events", json!({ "pinned": ["$m"] })));
        assert!(matches!(pins, Ok(TimelineEvent::RoomPinnedEvents(_))));
        let reaction = parse(event(
            "m.reaction",
            json!({ "m.relates_to": { "rel_type": "m.annotation", "event_id": "$m", "key": "👍" } }),
        ));
        assert!(matches!(reaction, Ok(TimelineEvent::Reaction(_))));
    }

    #[test]
    fn the_common_fields_are_read_for_every_variant() {
        let other = parse(state("m.room.create", json!({}))).unwrap();
        let message = parse(event(
            "m.room.message",
            json!({ "msgtype": "m.text", "body": "hi" }),
        ))
        .unwrap();
        for parsed in [other, message] {
            assert_eq!(parsed.event_id(), "$e");
            assert_eq!(parsed.sender(), "@owner:localhost");
            assert_eq!(parsed.room_id(), "!r:localhost");
            assert_eq!(u64::from(parsed.origin_server_ts().get()), 7);
        }
    }

    #[test]
    fn a_state_key_decides_whether_a_type_is_a_state_event() {
        // A message type with a state key is a state event the bridge does
        // not know, and a name without one is not a state event at all.
        let message_as_state = parse(state("m.room.message", json!({ "body": 1 })));
        assert!(matches!(message_as_state, Ok(TimelineEvent::Other(_))));
        let name_as_message = parse(event("m.room.name", json!({ "name": 1 })));
        assert!(matches!(name_as_message, Ok(TimelineEvent::Other(_))));
    }

    #[test]
    fn a_redacted_event_parses_as_redacted() {
        let mut value = event("m.room.message", json!({}));
        value["unsigned"] = json!({ "redacted_because": {
            "type": "m.room.redaction", "room_id": "!r:localhost", "sender": "@owner:localhost",
            "event_id": "$x", "origin_server_ts": 8, "redacts": "$e", "content": {}
        } });
        assert!(matches!(
            parse(value),
            Ok(TimelineEvent::RoomMessage(MessageLikeEvent::Redacted(_)))
        ));
    }

    #[test]
    fn a_known_type_that_does_not_parse_and_an_event_without_its_fields_are_rejected() {
        assert!(parse(event("m.room.message", json!({ "msgtype": "m.text" }))).is_err());
        assert!(parse(state("m.room.member", json!({}))).is_err());
        let mut no_sender = state("m.room.create", json!({}));
        no_sender.as_object_mut().unwrap().remove("sender");
        assert!(parse(no_sender).is_err());
        assert!(parse(json!({ "content": {} })).is_err());
    }

    /// The variant and whether it was redacted, as ruma's `AnyTimelineEvent`
    /// (the type this one replaces) reads the same JSON.
    fn as_ruma_reads_it(value: &Value) -> Option<(&'static str, bool)> {
        use ruma::events::{AnyMessageLikeEvent as M, AnyStateEvent as S, AnyTimelineEvent as T};
        let event: T = serde_json::from_value(value.clone()).ok()?;
        let redacted = |original: bool| !original;
        Some(match &event {
            T::MessageLike(M::RoomMessage(e)) => ("message", redacted(e.as_original().is_some())),
            T::MessageLike(M::Sticker(e)) => ("sticker", redacted(e.as_original().is_some())),
            T::MessageLike(M::Reaction(e)) => ("reaction", redacted(e.as_original().is_some())),
            T::MessageLike(M::RoomRedaction(e)) => {
                ("redaction", redacted(e.as_original().is_some()))
            }
            T::MessageLike(M::RoomEncrypted(e)) => {
                ("encrypted", redacted(e.as_original().is_some()))
            }
            T::State(S::RoomMember(e)) => ("member", redacted(e.as_original().is_some())),
            T::State(S::RoomName(e)) => ("name", redacted(e.as_original().is_some())),
            T::State(S::RoomTopic(e)) => ("topic", redacted(e.as_original().is_some())),
            T::State(S::RoomAvatar(e)) => ("avatar", redacted(e.as_original().is_some())),
            T::State(S::RoomEncryption(e)) => ("encryption", redacted(e.as_original().is_some())),
            T::State(S::RoomPinnedEvents(e)) => ("pins", redacted(e.as_original().is_some())),
            _ => ("other", false),
        })
    }

    fn as_we_read_it(value: &Value) -> Option<(&'static str, bool)> {
        let event: TimelineEvent = serde_json::from_value(value.clone()).ok()?;
        let redacted = |original: bool| !original;
        Some(match &event {
            TimelineEvent::RoomMessage(e) => ("message", redacted(e.as_original().is_some())),
            TimelineEvent::Sticker(e) => ("sticker", redacted(e.as_original().is_some())),
            TimelineEvent::Reaction(e) => ("reaction", redacted(e.as_original().is_some())),
            TimelineEvent::RoomRedaction(e) => ("redaction", redacted(e.as_original().is_some())),
            TimelineEvent::RoomEncrypted(e) => ("encrypted", redacted(e.as_original().is_some())),
            TimelineEvent::RoomMember(e) => ("member", redacted(e.as_original().is_some())),
            TimelineEvent::RoomName(e) => ("name", redacted(e.as_original().is_some())),
            TimelineEvent::RoomTopic(e) => ("topic", redacted(e.as_original().is_some())),
            TimelineEvent::RoomAvatar(e) => ("avatar", redacted(e.as_original().is_some())),
            TimelineEvent::RoomEncryption(e) => ("encryption", redacted(e.as_original().is_some())),
            TimelineEvent::RoomPinnedEvents(e) => ("pins", redacted(e.as_original().is_some())),
            TimelineEvent::Other(_) => ("other", false),
        })
    }

    #[test]
    fn every_event_reads_as_ruma_read_it() {
        let redacted_because = json!({ "redacted_because": {
            "type": "m.room.redaction", "room_id": "!r:localhost", "sender": "@owner:localhost",
            "event_id": "$x", "origin_server_ts": 8, "redacts": "$e", "content": {}
        } });
        let relates = json!({ "rel_type": "m.annotation", "event_id": "$m", "key": "k" });
        let image = json!({ "body": "a.png", "url": "mxc://x/y", "info": {} });
        let samples = [
            event(
                "m.room.message",
                json!({ "msgtype": "m.text", "body": "hi" }),
            ),
            event(
                "m.room.message",
                json!({ "msgtype": "m.text", "body": "hi",
                "m.relates_to": { "rel_type": "m.replace", "event_id": "$m" },
                "m.new_content": { "msgtype": "m.text", "body": "ho" } }),
            ),
            event(
                "m.room.message",
                json!({ "msgtype": "m.image", "body": "a.png", "url": "mxc://x/y" }),
            ),
            event(
                "m.room.message",
                json!({ "msgtype": "org.custom", "body": "x" }),
            ),
            event("m.room.message", json!({ "msgtype": "m.text" })),
            event("m.room.message", json!({})),
            event("m.sticker", image.clone()),
            event("m.sticker", json!({ "body": "a" })),
            event("m.reaction", json!({ "m.relates_to": relates })),
            event("m.reaction", json!({})),
            event("m.room.redaction", json!({ "redacts": "$m" })),
            event("m.room.redaction", json!({})),
            event(
                "m.room.encrypted",
                json!({ "algorithm": "m.megolm.v1.aes-sha2",
                "ciphertext": "c", "sender_key": "k", "device_id": "D", "session_id": "s" }),
            ),
            event("m.room.encrypted", json!({})),
            state("m.room.member", json!({ "membership": "invite" })),
            state(
                "m.room.member",
                json!({ "membership": "join", "displayname": "A" }),
            ),
            state("m.room.member", json!({})),
            state("m.room.name", json!({ "name": "N" })),
            state("m.room.name", json!({ "name": 5 })),
            state("m.room.topic", json!({ "topic": "T" })),
            state("m.room.avatar", json!({ "url": "mxc://x/y" })),
            state("m.room.avatar", json!({})),
            state(
                "m.room.encryption",
                json!({ "algorithm": "m.megolm.v1.aes-sha2" }),
            ),
            state("m.room.encryption", json!({})),
            state("m.room.pinned_events", json!({ "pinned": ["$m"] })),
            state("m.room.pinned_events", json!({})),
            state("m.room.create", json!({ "room_version": "10" })),
            state("m.room.power_levels", json!({ "users": {} })),
            state("m.room.join_rules", json!({ "join_rule": "invite" })),
            state("org.example.custom", json!({ "x": 1 })),
            state(
                "m.room.message",
                json!({ "msgtype": "m.text", "body": "hi" }),
            ),
            event("m.room.name", json!({ "name": "N" })),
            event("m.call.invite", json!({})),
            event("org.example.custom", json!({ "x": 1 })),
            json!({ "type": "m.room.message", "content": { "msgtype": "m.text", "body": "hi" } }),
            json!({ "content": {} }),
        ];
        for sample in samples {
            let mut redacted = sample.clone();
            redacted["unsigned"] = redacted_because.clone();
            for value in [sample, redacted] {
                let ours = as_we_read_it(&value);
                let ruma = as_ruma_reads_it(&value);
                match ruma {
                    Some(read) => assert_eq!(ours, Some(read), "{value}"),
                    // Only an event of a type the bridge does not act on may
                    // be read where ruma rejects it (its content is not
                    // looked at).
                    None => assert!(matches!(ours, None | Some(("other", _))), "{value}"),
                }
            }
        }
    }
}
