//! End-to-end encrypted rooms, which tgbridge cannot read: it has no
//! Olm/Megolm, so it can neither decrypt the owner's messages nor send
//! Telegram's messages encrypted. Until it can, an encrypted room is never a
//! portal: invites into one are declined, a portal that turns encrypted is
//! detached (its Telegram chat continues in a new room), and the owner's
//! encrypted messages are answered with an explanation instead of silence.
//!
//! This module owns how encryption is recognised (an invite's stripped state,
//! the room's `m.room.encryption` state) and what the owner is told. The
//! notices are pure; the one homeserver read is [`room_is_encrypted`]. It
//! never changes a room, a portal or the store: the core and the Telegram
//! side act on what it reports.
//!
//! Where the owner is told: a plaintext notice in an encrypted room is still
//! shown by clients (flagged as not encrypted), but the bot is not in a room
//! whose invite it declined, and it leaves a detached portal; the management
//! room is unencrypted and always readable, so everything that needs an
//! answer from the owner goes there.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use ruma::api::client::state::get_state_event_for_key;
use ruma::events::{AnyStrippedStateEvent, StateEventType};
use ruma::serde::Raw;
use ruma::{OwnedRoomId, RoomId, UserId};

use super::notice::Notice;
use crate::matrix::{MatrixClient, MatrixError};

/// The state event that turns end-to-end encryption on; it can never be
/// turned off again.
pub const ENCRYPTION_STATE: &str = "m.room.encryption";

/// Why the bot or a ghost declines an invite, as the leave event shows it.
pub const REFUSAL_REASON: &str =
    "tgbridge cannot read end-to-end encrypted rooms, so this room cannot be bridged.";

/// Why the ghosts and the bot leave a portal that turned encrypted.
pub const DETACHED_REASON: &str =
    "This room is end-to-end encrypted now; tgbridge cannot read it, so it no longer bridges it.";

/// Whether an invite's stripped room state (`unsigned.invite_room_state`)
/// shows encryption. A missing entry proves nothing (a homeserver may leave
/// it out), so callers check the room's state again once joined.
pub fn invite_state_is_encrypted(state: &[Raw<AnyStrippedStateEvent>]) -> bool {
    state.iter().any(|event| {
        event
            .get_field::<String>("type")
            .ok()
            .flatten()
            .is_some_and(|kind| kind == ENCRYPTION_STATE)
    })
}

/// Whether `room_id` has `m.room.encryption` state, read as `acting` (a
/// member of the room: the bot or a ghost).
pub async fn room_is_encrypted(
    client: &MatrixClient,
    acting: &UserId,
    room_id: &RoomId,
) -> Result<bool, MatrixError> {
    let request = get_state_event_for_key::v3::Request::new(
        room_id.to_owned(),
        StateEventType::RoomEncryption,
        String::new(),
    );
    match client.as_user(acting).send(request).await {
        Ok(_) => Ok(true),
        Err(error) if error.status().map(|s| s.as_u16()) == Some(404) => Ok(false),
        Err(error) => Err(error),
    }
}

/// The owner's invite of the bot into an encrypted room was declined.
pub fn bot_invite_refused(room_id: &RoomId) -> Notice {
    Notice::text(&format!(
        "I declined your invitation to {room_id}: that room is end-to-end encrypted, and tgbridge cannot encrypt or decrypt messages, so I could not read your commands there."
    ))
    .paragraph("Send commands here, or invite me to a room without encryption (encryption can only be chosen when a room is created).")
}

/// The owner's invite of a Telegram user's ghost into an encrypted room was
/// declined; `telegram_id` is the user's numeric id.
pub fn ghost_invite_refused(room_id: &RoomId, ghost: &UserId, telegram_id: &str) -> Notice {
    Notice::text(&format!(
        "{ghost} declined your invitation to {room_id}: that room is end-to-end encrypted, and tgbridge cannot encrypt or decrypt messages, so it cannot become a portal (nothing you write there could reach Telegram)."
    ))
    .paragraph(&format!(
        "Send `pm {telegram_id}` here to open an unencrypted private chat with this Telegram user instead."
    ))
}

/// Posted in a portal right after encryption was turned on in it, so the
/// owner learns it where they are looking. Readable there: it is sent in
/// plaintext, which clients show with a "not encrypted" mark.
pub fn portal_encrypted() -> Notice {
    Notice::text("This room is end-to-end encrypted now. tgbridge cannot encrypt or decrypt messages, so it stops bridging this room: what you write here no longer reaches Telegram, and Telegram's messages go to a new room.")
        .paragraph("The management room has the details.")
}

/// The management room's account of a portal that turned encrypted and was
/// detached. `reopen` says how to get the new room at once.
pub fn portal_detached(room_id: &RoomId, title: &str, reopen: &str) -> Notice {
    Notice::text(&format!(
        "Encryption was turned on in {room_id}, the portal of the Telegram chat \"{title}\". tgbridge cannot encrypt or decrypt messages, so that room is no longer bridged: it stays with you as history."
    ))
    .paragraph(&format!(
        "The chat continues in a new, unencrypted room when its next message arrives. {reopen}"
    ))
}

/// The management room was encrypted, so the bot moved to a new one.
pub fn management_room_replaced(old: &RoomId) -> Notice {
    Notice::text(&format!(
        "Encryption was turned on in the previous management room ({old}). tgbridge cannot decrypt messages, so it could no longer read your commands there; this room replaces it. Please keep this one unencrypted."
    ))
}

/// The homeserver turned encryption on in a room the bridge created
/// (Synapse's `encryption_enabled_by_default_for_room_type`), so every new
/// portal will be encrypted too; told once per run.
pub fn homeserver_encrypts_new_rooms(room_id: &RoomId) -> Notice {
    Notice::text(&format!(
        "Your homeserver turned on end-to-end encryption in {room_id}, a room tgbridge created. tgbridge cannot encrypt or decrypt messages, so nothing you send in such rooms reaches Telegram."
    ))
    .paragraph("Turn off encryption by default for new rooms on the homeserver (Synapse: `encryption_enabled_by_default_for_room_type: off`). After that, `delete-portal <room id> confirm`, sent in an unencrypted room with me, retires an encrypted portal: its chat opens a new room at its next message.")
}

/// Answers the owner's first encrypted message in a portal (once per room
/// and run, not per message).
pub fn encrypted_message_not_bridged() -> Notice {
    Notice::text("Your encrypted message was not bridged: tgbridge cannot decrypt end-to-end encrypted messages, so nothing you send encrypted here reaches Telegram.")
        .paragraph("Send messages to this chat without encryption (this notice is shown once per room until the bridge restarts).")
}

/// What the bridge does about an `m.room.encrypted` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncryptedEventAnswer {
    /// Nothing: not the owner's, not in a portal, or already answered in
    /// this room during this run.
    Ignore,
    /// The portal's room is encrypted (its `m.room.encryption` event was
    /// missed): the portal is detached, as when that event arrives.
    DetachPortal,
    /// The room is not encrypted (or could not be checked): the owner is
    /// told that the message was not bridged.
    NotBridged,
    /// The room is encrypted, but so is every room the bridge creates on
    /// this homeserver: a new room would not help, so the owner is told
    /// how to change the homeserver instead of the portal being detached.
    ServerEncrypts,
}

/// Decides the answer to an encrypted event: `from_owner` and `is_portal`
/// describe it, `first_in_room` is whether this room was not answered yet
/// this run, `room_encrypted` is the room's state when it could be read,
/// and `server_encrypts` whether the homeserver encrypts the bridge's rooms.
pub fn answer_encrypted_event(
    from_owner: bool,
    is_portal: bool,
    first_in_room: bool,
    room_encrypted: Option<bool>,
    server_encrypts: bool,
) -> EncryptedEventAnswer {
    if !(from_owner && is_portal && first_in_room) {
        return EncryptedEventAnswer::Ignore;
    }
    match room_encrypted {
        Some(true) if server_encrypts => EncryptedEventAnswer::ServerEncrypts,
        Some(true) => EncryptedEventAnswer::DetachPortal,
        // Unknown is answered like unencrypted: the owner still learns that
        // the message was lost, which is the point.
        Some(false) | None => EncryptedEventAnswer::NotBridged,
    }
}

/// What the owner was already told during this run, so that encryption
/// is explained once, not at every message.
#[derive(Debug, Default)]
pub struct EncryptionWarnings {
    /// Portals answered once for an encrypted message.
    rooms: Mutex<HashSet<OwnedRoomId>>,
    /// Whether the homeserver was seen encrypting a room the bridge created.
    server_encrypts: AtomicBool,
}

impl EncryptionWarnings {
    /// Records `room_id`; `true` the first time only.
    pub fn first_time(&self, room_id: &RoomId) -> bool {
        self.rooms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(room_id.to_owned())
    }

    /// Records that the homeserver encrypts the bridge's rooms; `true` the
    /// first time only.
    pub fn note_server_encrypts(&self) -> bool {
        !self.server_encrypts.swap(true, Ordering::AcqRel)
    }

    /// Whether the homeserver was seen encrypting a room the bridge created.
    pub fn server_encrypts(&self) -> bool {
        self.server_encrypts.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stripped(kind: &str) -> Raw<AnyStrippedStateEvent> {
        let value =
            json!({ "type": kind, "state_key": "", "sender": "@o:localhost", "content": {} });
        Raw::from_json(serde_json::value::to_raw_value(&value).unwrap())
    }

    #[test]
    fn only_stripped_encryption_state_counts() {
        assert!(!invite_state_is_encrypted(&[]));
        assert!(!invite_state_is_encrypted(&[
            stripped("m.room.create"),
            stripped("m.room.name")
        ]));
        assert!(invite_state_is_encrypted(&[
            stripped("m.room.create"),
            stripped(ENCRYPTION_STATE)
        ]));
    }

    #[test]
    fn each_room_is_warned_once() {
        let warned = EncryptionWarnings::default();
        let a: OwnedRoomId = "!a:localhost".try_into().unwrap();
        let b: OwnedRoomId = "!b:localhost".try_into().unwrap();
        assert!(warned.first_time(&a));
        assert!(!warned.first_time(&a));
        assert!(warned.first_time(&b));
        assert!(!warned.server_encrypts());
        assert!(warned.note_server_encrypts());
        assert!(!warned.note_server_encrypts());
        assert!(warned.server_encrypts());
    }

    #[test]
    fn encrypted_events_are_answered_once_and_only_for_the_owner_in_portals() {
        use EncryptedEventAnswer::*;
        let answer = answer_encrypted_event;
        assert_eq!(answer(false, true, true, Some(false), false), Ignore);
        assert_eq!(answer(true, false, true, Some(true), false), Ignore);
        assert_eq!(answer(true, true, false, Some(true), false), Ignore);
        assert_eq!(answer(true, true, true, Some(false), false), NotBridged);
        assert_eq!(answer(true, true, true, None, false), NotBridged);
        assert_eq!(answer(true, true, true, Some(false), true), NotBridged);
        assert_eq!(answer(true, true, true, Some(true), false), DetachPortal);
        // A new room would be encrypted again: no detaching in a loop.
        assert_eq!(answer(true, true, true, Some(true), true), ServerEncrypts);
    }

    #[test]
    fn notices_say_what_happened_and_what_to_do() {
        let room: OwnedRoomId = "!r:localhost".try_into().unwrap();
        let portal = portal_encrypted().plain;
        assert!(portal.contains("no longer reaches Telegram"), "{portal}");
        let detached = portal_detached(&room, "Hikers", "To open it now, send `sync` here.").plain;
        assert!(
            detached.contains("\"Hikers\"") && detached.contains("`sync`"),
            "{detached}"
        );
        let message = encrypted_message_not_bridged().plain;
        assert!(
            message.contains("not bridged") && message.contains("without encryption"),
            "{message}"
        );
        let server = homeserver_encrypts_new_rooms(&room).plain;
        assert!(
            server.contains("encryption_enabled_by_default_for_room_type"),
            "{server}"
        );
        let management = management_room_replaced(&room).plain;
        assert!(management.contains("!r:localhost"), "{management}");
    }

    #[test]
    fn refusals_say_what_to_do_instead() {
        let room: OwnedRoomId = "!r:localhost".try_into().unwrap();
        let ghost: ruma::OwnedUserId = "@telegram_7:localhost".try_into().unwrap();
        assert!(ghost_invite_refused(&room, &ghost, "7")
            .plain
            .contains("`pm 7`"));
        assert!(bot_invite_refused(&room).plain.contains("encrypted"));
    }
}
