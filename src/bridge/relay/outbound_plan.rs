//! Pure decisions of the Matrix → Telegram path: the deterministic
//! `random_id` of each sent part, the sent message's id in Telegram's answer,
//! the text a Matrix message becomes, which reaction a chat accepts, what a
//! pinned-events change pins and unpins, and how Telegram errors read to
//! the owner. No I/O: the worker in [`super::outbound`] does the calls.

use std::collections::HashSet;

use grammers_mtsender::InvocationError;
use grammers_tl_types as tl;
use ruma::events::room::message::MessageType;
use ruma::{EventId, OwnedEventId};
use sha2::{Digest, Sha256};

use crate::store::StoreError;
use crate::telegram::answer;

/// A Matrix message is split into at most this many Telegram messages;
/// longer ones are refused with a notice rather than flooding the chat.
pub const MAX_PARTS: usize = 10;

/// Why delivering an event to Telegram failed, in words for the owner.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The Telegram side is not connected (yet).
    #[error("Telegram is not connected")]
    NotConnected,
    /// The session has no access hash for the chat.
    #[error("the bridge does not know this Telegram chat well enough to write to it")]
    UnknownChat,
    /// A flood wait longer than the client waits by itself.
    #[error("Telegram asked the bridge to wait {0} seconds before sending")]
    FloodWait(u32),
    /// The account may not do this in the chat.
    #[error("no permission in this Telegram chat ({0})")]
    Forbidden(String),
    /// The chat is gone or the account left it.
    #[error("the Telegram chat is not available any more ({0})")]
    ChatGone(String),
    /// Any other refusal by Telegram.
    #[error("Telegram refused it ({0})")]
    Refused(String),
    /// The connection failed; worth retrying.
    #[error("the connection to Telegram failed ({0})")]
    Network(String),
    /// Telegram could not be reached at all; the event waits until it can.
    #[error("Telegram could not be reached ({0})")]
    Unreachable(String),
    /// More parts than [`MAX_PARTS`].
    #[error("the message is too long for Telegram ({parts} messages of 4096 characters; at most {MAX_PARTS} are sent)")]
    TooLong {
        /// How many parts it would take.
        parts: usize,
    },
    /// Nothing on Telegram corresponds to this kind of event.
    #[error("{0}")]
    Unsupported(String),
    /// The event refers to a message that was never bridged.
    #[error("the message it refers to is not on Telegram")]
    UnknownTarget,
    /// The chat does not allow the reaction.
    #[error("the reaction {0} is not allowed in this Telegram chat")]
    ReactionNotAllowed(String),
    /// The stored event does not parse.
    #[error("the event could not be read ({0})")]
    InvalidEvent(String),
    /// The database failed.
    #[error("database: {0}")]
    Store(#[from] StoreError),
}

impl OutboundError {
    /// Whether trying again shortly may succeed (the event stays queued).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            OutboundError::NotConnected
                | OutboundError::Network(_)
                | OutboundError::Unreachable(_)
                | OutboundError::Store(_)
        )
    }

    /// Whether the failure is Telegram being out of reach, which says
    /// nothing about the event: it waits however long the outage lasts
    /// instead of being given up after a few tries.
    pub fn waits_for_telegram(&self) -> bool {
        matches!(
            self,
            OutboundError::NotConnected | OutboundError::Unreachable(_)
        )
    }
}

/// Whether a failed call says only that Telegram could not be reached
/// (the connection failed or was dropped), nothing about the request.
pub fn is_unreachable(error: &InvocationError) -> bool {
    matches!(
        error,
        InvocationError::Io(_) | InvocationError::Dropped(_) | InvocationError::Transport(_)
    )
}

impl From<InvocationError> for OutboundError {
    fn from(error: InvocationError) -> Self {
        match error {
            InvocationError::Rpc(rpc) => classify_rpc(rpc.code, &rpc.name, rpc.value),
            InvocationError::Io(e) => OutboundError::Unreachable(e.to_string()),
            InvocationError::Dropped(e) => OutboundError::Unreachable(e.to_owned()),
            InvocationError::Transport(e) => OutboundError::Unreachable(e.to_string()),
            other => OutboundError::Refused(other.to_string()),
        }
    }
}

/// Sorts a Telegram RPC error into what it means for the owner.
pub fn classify_rpc(code: i32, name: &str, value: Option<u32>) -> OutboundError {
    const GONE: &[&str] = &[
        "CHANNEL_PRIVATE",
        "CHANNEL_INVALID",
        "CHAT_ID_INVALID",
        "PEER_ID_INVALID",
        "INPUT_USER_DEACTIVATED",
        "USER_DEACTIVATED",
        "USER_IS_BLOCKED",
        "CHAT_INVALID",
    ];
    if code == 420 || name.starts_with("FLOOD_WAIT") || name.starts_with("SLOWMODE_WAIT") {
        return OutboundError::FloodWait(value.unwrap_or(0));
    }
    if GONE.contains(&name) {
        return OutboundError::ChatGone(name.to_owned());
    }
    if code == 403 || name.ends_with("_FORBIDDEN") || name.starts_with("CHAT_ADMIN_REQUIRED") {
        return OutboundError::Forbidden(name.to_owned());
    }
    if code >= 500 {
        return OutboundError::Network(name.to_owned());
    }
    OutboundError::Refused(name.to_owned())
}

/// The `random_id` of part `part` of `event_id`: the same after a restart,
/// so Telegram recognises a resend (`RANDOM_ID_DUPLICATE`).
pub fn random_id(event_id: &EventId, part: usize) -> i64 {
    let digest = Sha256::new()
        .chain_update(b"tgbridge-random-id\0")
        .chain_update(event_id.as_str().as_bytes())
        .chain_update(b"\0")
        .chain_update(part.to_le_bytes())
        .finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_le_bytes(bytes)
}

/// The id of the message sent with `random_id`, read from Telegram's answer.
pub fn sent_message_id(updates: &tl::enums::Updates, random_id: i64) -> Option<i32> {
    if let tl::enums::Updates::UpdateShortSentMessage(sent) = updates {
        return Some(sent.id);
    }
    let by_random_id = answer::updates_in(updates)
        .iter()
        .find_map(|update| match update {
            tl::enums::Update::MessageId(u) if u.random_id == random_id => Some(u.id),
            _ => None,
        });
    by_random_id.or_else(|| answer::new_messages(updates).find_map(message_id))
}

fn message_id(message: &tl::enums::Message) -> Option<i32> {
    match message {
        tl::enums::Message::Message(m) => Some(m.id),
        _ => None,
    }
}

/// The body and HTML a Matrix message shows, as Telegram should get them;
/// `None` for media and other kinds that are not text.
pub fn text_of(msgtype: &MessageType) -> Option<(String, Option<String>)> {
    let html = |formatted: &Option<ruma::events::room::message::FormattedBody>| {
        formatted
            .as_ref()
            .filter(|f| f.format == ruma::events::room::message::MessageFormat::Html)
            .map(|f| f.body.clone())
    };
    match msgtype {
        MessageType::Text(t) => Some((t.body.clone(), html(&t.formatted))),
        MessageType::Notice(t) => Some((t.body.clone(), html(&t.formatted))),
        // Telegram has no emotes; IRC's `/me` reads naturally in a chat.
        MessageType::Emote(t) => Some((
            format!("/me {}", t.body),
            html(&t.formatted).map(|h| format!("/me {h}")),
        )),
        _ => None,
    }
}

/// Whether `msgtype` carries a file or a location (delivered by the media
/// path).
pub fn is_media(msgtype: &MessageType) -> bool {
    matches!(
        msgtype,
        MessageType::Image(_)
            | MessageType::File(_)
            | MessageType::Video(_)
            | MessageType::Audio(_)
            | MessageType::Location(_)
    )
}

/// Which reactions a chat accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedReactions {
    /// Every standard emoji reaction.
    All,
    /// Only these.
    Some(Vec<String>),
    /// None at all.
    None,
}

impl AllowedReactions {
    /// From a full chat's `available_reactions` (absent: all).
    pub fn from_tl(reactions: Option<&tl::enums::ChatReactions>) -> Self {
        match reactions {
            None | Some(tl::enums::ChatReactions::All(_)) => AllowedReactions::All,
            Some(tl::enums::ChatReactions::None) => AllowedReactions::None,
            Some(tl::enums::ChatReactions::Some(some)) => AllowedReactions::Some(
                some.reactions
                    .iter()
                    .filter_map(|r| match r {
                        tl::enums::Reaction::Emoji(e) => Some(e.emoticon.clone()),
                        _ => None,
                    })
                    .collect(),
            ),
        }
    }
}

/// The Telegram reaction for a Matrix reaction key, if the chat allows it.
/// Matrix clients often add an emoji presentation selector (U+FE0F) that
/// Telegram's reaction list does not have; both spellings are tried.
pub fn pick_reaction(key: &str, allowed: &AllowedReactions) -> Option<String> {
    let bare: String = key.chars().filter(|&c| c != '\u{fe0f}').collect();
    if bare.is_empty() || bare.chars().any(char::is_alphanumeric) {
        return None;
    }
    match allowed {
        AllowedReactions::None => None,
        AllowedReactions::All => Some(key.to_owned()),
        AllowedReactions::Some(list) => [key, bare.as_str()]
            .into_iter()
            .find(|candidate| list.iter().any(|a| a == candidate))
            .map(str::to_owned),
    }
}

/// What a pinned-events change does: (newly pinned, unpinned), in order.
pub fn pin_changes(
    before: &[OwnedEventId],
    after: &[OwnedEventId],
) -> (Vec<OwnedEventId>, Vec<OwnedEventId>) {
    let old: HashSet<&OwnedEventId> = before.iter().collect();
    let new: HashSet<&OwnedEventId> = after.iter().collect();
    let pinned = after.iter().filter(|e| !old.contains(e)).cloned().collect();
    let unpinned = before
        .iter()
        .filter(|e| !new.contains(e))
        .cloned()
        .collect();
    (pinned, unpinned)
}

/// The pinned list before a `m.room.pinned_events` event, from the
/// `unsigned.prev_content` the homeserver includes.
pub fn previous_pins(event_json: &str) -> Option<Vec<OwnedEventId>> {
    let event: serde_json::Value = serde_json::from_str(event_json).ok()?;
    let pinned = event["unsigned"]["prev_content"]["pinned"].as_array()?;
    Some(
        pinned
            .iter()
            .filter_map(|e| e.as_str().and_then(|e| OwnedEventId::try_from(e).ok()))
            .collect(),
    )
}

/// The event a redaction removes: top-level `redacts` (room versions up to
/// 10) or `content.redacts` (from version 11).
pub fn redacted_event(event_json: &str) -> Option<OwnedEventId> {
    let event: serde_json::Value = serde_json::from_str(event_json).ok()?;
    let redacts = event["content"]["redacts"]
        .as_str()
        .or_else(|| event["redacts"].as_str())?;
    OwnedEventId::try_from(redacts).ok()
}

/// What the owner sent, in words for a failure notice.
pub fn describe_event(event_json: &str) -> &'static str {
    let event: serde_json::Value = serde_json::from_str(event_json).unwrap_or_default();
    match event["type"].as_str() {
        Some("m.reaction") => "reaction",
        Some("m.room.redaction") => "deletion",
        Some("m.room.pinned_events") => "pin change",
        Some("m.sticker") => "sticker",
        Some("m.room.name") => "rename",
        Some("m.room.topic") => "topic change",
        Some("m.room.avatar") => "avatar change",
        _ if event["content"]["m.relates_to"]["rel_type"] == "m.replace" => "edit",
        _ => "message",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str) -> OwnedEventId {
        id.try_into().unwrap()
    }

    #[test]
    fn random_ids_are_stable_and_differ_per_event_and_part() {
        let a = event("$a:localhost");
        let b = event("$b:localhost");
        assert_eq!(random_id(&a, 0), random_id(&a, 0));
        assert_ne!(random_id(&a, 0), random_id(&a, 1));
        assert_ne!(random_id(&a, 0), random_id(&b, 0));
    }

    #[test]
    fn the_sent_id_comes_from_the_matching_update_message_id() {
        let short: tl::enums::Updates = tl::types::UpdateShortSentMessage {
            out: true,
            id: 17,
            pts: 1,
            pts_count: 1,
            date: 0,
            media: None,
            entities: None,
            ttl_period: None,
        }
        .into();
        assert_eq!(sent_message_id(&short, 5), Some(17));
        let full: tl::enums::Updates = tl::types::Updates {
            updates: vec![
                tl::types::UpdateMessageId {
                    id: 3,
                    random_id: 9,
                }
                .into(),
                tl::types::UpdateMessageId {
                    id: 4,
                    random_id: 5,
                }
                .into(),
            ],
            users: Vec::new(),
            chats: Vec::new(),
            date: 0,
            seq: 0,
        }
        .into();
        assert_eq!(sent_message_id(&full, 5), Some(4));
        assert_eq!(sent_message_id(&tl::enums::Updates::TooLong, 5), None);
    }

    #[test]
    fn rpc_errors_read_as_reasons() {
        assert!(matches!(
            classify_rpc(420, "FLOOD_WAIT", Some(300)),
            OutboundError::FloodWait(300)
        ));
        assert!(matches!(
            classify_rpc(403, "CHAT_WRITE_FORBIDDEN", None),
            OutboundError::Forbidden(_)
        ));
        assert!(matches!(
            classify_rpc(400, "CHANNEL_PRIVATE", None),
            OutboundError::ChatGone(_)
        ));
        assert!(classify_rpc(500, "INTERNAL", None).is_transient());
        assert!(
            !classify_rpc(500, "INTERNAL", None).waits_for_telegram(),
            "a server error is retried a few times, not forever"
        );
        let io = OutboundError::from(InvocationError::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        assert!(io.waits_for_telegram() && io.is_transient(), "{io}");
        assert!(OutboundError::NotConnected.waits_for_telegram());
        let refused = classify_rpc(400, "MESSAGE_EMPTY", None);
        assert!(!refused.is_transient());
        assert_eq!(refused.to_string(), "Telegram refused it (MESSAGE_EMPTY)");
        assert!(OutboundError::FloodWait(300)
            .to_string()
            .contains("300 seconds"));
    }

    #[test]
    fn emotes_get_a_me_prefix_and_media_is_not_text() {
        let emote = MessageType::Emote(
            ruma::events::room::message::EmoteMessageEventContent::plain("waves"),
        );
        assert_eq!(text_of(&emote), Some(("/me waves".to_owned(), None)));
        let text = MessageType::Text(ruma::events::room::message::TextMessageEventContent::html(
            "hi",
            "<b>hi</b>",
        ));
        assert_eq!(
            text_of(&text),
            Some(("hi".to_owned(), Some("<b>hi</b>".to_owned())))
        );
        let file = MessageType::File(ruma::events::room::message::FileMessageEventContent::plain(
            "a.txt".into(),
            "mxc://x/y".into(),
        ));
        assert_eq!(text_of(&file), None);
        assert!(is_media(&file));
    }

    #[test]
    fn reactions_must_be_allowed_and_emoji() {
        let some = AllowedReactions::Some(vec!["👍".into(), "❤".into()]);
        assert_eq!(pick_reaction("👍", &some), Some("👍".into()));
        assert_eq!(pick_reaction("❤\u{fe0f}", &some), Some("❤".into()));
        assert_eq!(pick_reaction("🦀", &some), None);
        assert_eq!(
            pick_reaction("🦀", &AllowedReactions::All),
            Some("🦀".into())
        );
        assert_eq!(pick_reaction("lol", &AllowedReactions::All), None);
        assert_eq!(pick_reaction("👍", &AllowedReactions::None), None);
    }

    #[test]
    fn redactions_name_their_target_in_either_place() {
        assert_eq!(
            redacted_event(r#"{"redacts":"$a:l","content":{}}"#),
            Some(event("$a:l"))
        );
        assert_eq!(
            redacted_event(r#"{"content":{"redacts":"$b:l"}}"#),
            Some(event("$b:l"))
        );
        assert_eq!(redacted_event(r#"{"content":{}}"#), None);
    }

    #[test]
    fn failed_events_are_named_for_the_notice() {
        assert_eq!(describe_event(r#"{"type":"m.reaction"}"#), "reaction");
        assert_eq!(
            describe_event(
                r#"{"type":"m.room.message","content":{"m.relates_to":{"rel_type":"m.replace"}}}"#
            ),
            "edit"
        );
        assert_eq!(describe_event(r#"{"type":"m.room.message"}"#), "message");
        assert_eq!(describe_event(r#"{"type":"m.room.name"}"#), "rename");
        assert_eq!(
            describe_event(r#"{"type":"m.room.avatar"}"#),
            "avatar change"
        );
    }

    #[test]
    fn pin_changes_are_the_set_differences_in_order() {
        let (a, b, c) = (event("$a:l"), event("$b:l"), event("$c:l"));
        let (pinned, unpinned) = pin_changes(&[a.clone(), b.clone()], &[b.clone(), c.clone()]);
        assert_eq!(pinned, vec![c]);
        assert_eq!(unpinned, vec![a]);
        let json = r#"{"unsigned":{"prev_content":{"pinned":["$b:l"]}}}"#;
        assert_eq!(previous_pins(json), Some(vec![b]));
        assert_eq!(previous_pins("{}"), None);
    }
}
