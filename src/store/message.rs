//! The message map: which Telegram message became which Matrix event (and
//! back), so edits, deletions, replies and reactions can be bridged, restarts
//! neither lose nor repeat messages, and the bridge recognises echoes of what
//! it sent itself. Only the `message` table.
//!
//! Telegram numbers messages per account in private chats and basic groups
//! and per channel in supergroups and channels; [`MessageScope`] names that
//! numbering, and a message is identified by (scope, message id).

use grammers_session::types::{PeerId, PeerKind};
use ruma::{EventId, OwnedEventId, OwnedRoomId, RoomId};
use rusqlite::{Connection, OptionalExtension, Row};

use super::portal::peer_key;
use super::{Db, StoreError};

/// One edit of a Telegram message. Telegram dates edits to the second, so
/// two edits within one second are told apart by a digest of their text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditStamp {
    /// The edit date (Unix seconds).
    pub date: i64,
    /// A digest of the edited text (hex; short, as it only has to tell the
    /// edits of one message within one second apart).
    pub digest: String,
}

impl EditStamp {
    /// The stamp of an edit dated `date` that leaves the message with `text`.
    pub fn new(date: i64, text: &str) -> Self {
        use sha2::{Digest, Sha256};
        let hash = Sha256::digest(text.as_bytes());
        let digest = hash[..8].iter().map(|byte| format!("{byte:02x}")).collect();
        Self { date, digest }
    }
}

/// The newest edits bridged for a message: their date and the digests of
/// the edits of that second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgedEdits {
    /// The newest edit date bridged (Unix seconds).
    pub date: i64,
    /// The digests of the edits of `date` that were bridged; empty for
    /// edits recorded before digests were kept.
    pub digests: Vec<String>,
}

impl BridgedEdits {
    /// Whether the edit `stamp` is already in the room, or older than what
    /// is: an edit Telegram repeats, or the echo of the owner's own edit.
    pub fn covers(&self, stamp: &EditStamp) -> bool {
        stamp.date < self.date
            || (stamp.date == self.date
                && (self.digests.is_empty() || self.digests.contains(&stamp.digest)))
    }
}

/// Whose numbering a Telegram message id belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageScope {
    /// The logged-in account's numbering (private chats and basic groups),
    /// named by that account's Telegram user id.
    Account(i64),
    /// A supergroup's or broadcast channel's own numbering, named by the bare
    /// channel id.
    Channel(i64),
}

impl MessageScope {
    /// The scope of messages in `chat` as seen by the account `account_user_id`.
    pub fn of_chat(chat: PeerId, account_user_id: i64) -> MessageScope {
        match (chat.kind(), chat.bare_id()) {
            (PeerKind::Channel, Some(channel_id)) => MessageScope::Channel(channel_id),
            _ => MessageScope::Account(account_user_id),
        }
    }

    /// The stored form: the account's user id (positive) or the channel's
    /// Bot API dialog id (negative), so the two can never collide.
    pub(super) fn encode(self) -> Result<i64, StoreError> {
        let peer = match self {
            MessageScope::Account(user_id) => PeerId::user(user_id),
            MessageScope::Channel(channel_id) => PeerId::channel(channel_id),
        };
        peer.and_then(PeerId::bot_api_dialog_id)
            .ok_or(StoreError::InvalidInput(
                "a message scope with an id outside Telegram's ranges",
            ))
    }

    pub(super) fn decode(value: i64) -> Result<MessageScope, StoreError> {
        let corrupt = StoreError::Corrupt {
            what: "message scope",
        };
        let peer = PeerId::from_bot_api_dialog_id(value).ok_or(corrupt)?;
        match (peer.kind(), peer.bare_id()) {
            (PeerKind::User, Some(id)) => Ok(MessageScope::Account(id)),
            (PeerKind::Channel, Some(id)) => Ok(MessageScope::Channel(id)),
            _ => Err(StoreError::Corrupt {
                what: "message scope",
            }),
        }
    }
}

/// One Telegram message (or one part of it) and its Matrix event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMapping {
    /// Whose numbering `tg_msg_id` belongs to.
    pub scope: MessageScope,
    /// The Telegram message id.
    pub tg_msg_id: i32,
    /// Index of this pair when one Telegram message became several events
    /// (album item, caption split from media) or one event became several
    /// Telegram messages; 0 otherwise.
    pub part: u32,
    /// The Telegram chat (its portal must exist).
    pub chat: PeerId,
    /// The Matrix room the event is in.
    pub room_id: OwnedRoomId,
    /// The Matrix event.
    pub event_id: OwnedEventId,
    /// Whether the bridge itself sent this to Telegram (Matrix → Telegram),
    /// so its echo in the update stream is not bridged back.
    pub sent_by_bridge: bool,
}

/// Message map queries. Get one from [`super::Store::messages`] or
/// [`super::StoreTx::messages`].
pub struct Messages<'a> {
    db: Db<'a>,
}

/// The column list, as a macro so statements are `concat!`-ed at compile
/// time instead of formatted on every call.
macro_rules! message_columns {
    () => {
        "scope, tg_msg_id, part, chat_peer_id, room_id, event_id, sent_by_bridge"
    };
}

impl<'a> Messages<'a> {
    pub(super) fn new(db: Db<'a>) -> Self {
        Messages { db }
    }

    /// Records a mapping. Returns `false` (and changes nothing) when the
    /// Telegram message part or the event part is already mapped, which is
    /// how a message redelivered after a restart is recognised.
    pub fn insert(&self, mapping: &MessageMapping) -> Result<bool, StoreError> {
        let scope = mapping.scope.encode()?;
        let chat = peer_key(mapping.chat)?;
        self.db.run(|conn| {
            let inserted = conn
                .prepare_cached(concat!(
                    "INSERT INTO message (",
                    message_columns!(),
                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT DO NOTHING"
                ))?
                .execute((
                    scope,
                    mapping.tg_msg_id,
                    mapping.part,
                    chat,
                    mapping.room_id.as_str(),
                    mapping.event_id.as_str(),
                    mapping.sent_by_bridge,
                ))?;
            Ok(inserted == 1)
        })
    }

    /// Every part of a Telegram message, in part order.
    pub fn by_telegram(
        &self,
        scope: MessageScope,
        tg_msg_id: i32,
    ) -> Result<Vec<MessageMapping>, StoreError> {
        let scope = scope.encode()?;
        self.db.run(|conn| {
            query_all(
                conn,
                concat!(
                    "SELECT ",
                    message_columns!(),
                    " FROM message WHERE scope = ?1 AND tg_msg_id = ?2 ORDER BY part"
                ),
                (scope, tg_msg_id),
            )
        })
    }

    /// Every Telegram message part a Matrix event maps to, in part order.
    pub fn by_event(&self, event_id: &EventId) -> Result<Vec<MessageMapping>, StoreError> {
        self.db.run(|conn| {
            query_all(
                conn,
                concat!(
                    "SELECT ",
                    message_columns!(),
                    " FROM message WHERE event_id = ?1 ORDER BY part"
                ),
                [event_id.as_str()],
            )
        })
    }

    /// Whether a Telegram message was sent by the bridge (an echo).
    pub fn is_sent_by_bridge(
        &self,
        scope: MessageScope,
        tg_msg_id: i32,
    ) -> Result<bool, StoreError> {
        let scope = scope.encode()?;
        self.db.run(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM message
                     WHERE scope = ?1 AND tg_msg_id = ?2 AND sent_by_bridge = 1)",
                )?
                .query_row((scope, tg_msg_id), |row| row.get(0))?)
        })
    }

    /// The newest Telegram message id bridged in a chat, from which a gap
    /// can be filled out of Telegram's history.
    pub fn newest_in_chat(&self, chat: PeerId) -> Result<Option<i32>, StoreError> {
        let chat = peer_key(chat)?;
        self.db.run(|conn| {
            Ok(conn
                .prepare_cached("SELECT max(tg_msg_id) FROM message WHERE chat_peer_id = ?1")?
                .query_row([chat], |row| row.get(0))
                .optional()?
                .flatten())
        })
    }

    /// The newest Telegram message bridged into `room` (a forum's chat has
    /// several rooms, one per topic).
    pub fn newest_in_room(&self, chat: PeerId, room: &RoomId) -> Result<Option<i32>, StoreError> {
        let chat = peer_key(chat)?;
        self.db.run(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT max(tg_msg_id) FROM message WHERE chat_peer_id = ?1 AND room_id = ?2",
                )?
                .query_row((chat, room.as_str()), |row| row.get(0))
                .optional()?
                .flatten())
        })
    }

    /// The ids of the newest `limit` Telegram messages bridged in a chat,
    /// newest first: the messages whose reactions are read again after the
    /// bridge was away from Telegram.
    pub fn newest_ids_in_chat(&self, chat: PeerId, limit: usize) -> Result<Vec<i32>, StoreError> {
        let chat = peer_key(chat)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db.run(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT DISTINCT tg_msg_id FROM message WHERE chat_peer_id = ?1
                 ORDER BY tg_msg_id DESC LIMIT ?2",
            )?;
            let ids = statement.query_map((chat, limit), |row| row.get(0))?;
            Ok(ids.collect::<Result<Vec<i32>, _>>()?)
        })
    }

    /// Forgets every part of a Telegram message; returns how many rows went.
    pub fn delete_telegram(
        &self,
        scope: MessageScope,
        tg_msg_id: i32,
    ) -> Result<usize, StoreError> {
        let scope = scope.encode()?;
        self.db.run(|conn| {
            Ok(conn
                .prepare_cached("DELETE FROM message WHERE scope = ?1 AND tg_msg_id = ?2")?
                .execute((scope, tg_msg_id))?)
        })
    }

    /// Forgets every mapping of a Matrix event; returns how many rows went.
    pub fn delete_event(&self, event_id: &EventId) -> Result<usize, StoreError> {
        self.db.run(|conn| {
            Ok(conn
                .prepare_cached("DELETE FROM message WHERE event_id = ?1")?
                .execute([event_id.as_str()])?)
        })
    }
}

/// What the Telegram → Matrix direction needs besides plain lookups:
/// receipts, edits that are bridged once, and the per-chat catch-up point.
impl Messages<'_> {
    /// The newest mapped event of a chat at or before Telegram message
    /// `max_id` (for a read receipt: "read up to here"); with `room`, only
    /// among that room's events (a forum topic's, whose read mark is its
    /// own).
    pub fn newest_at_or_before(
        &self,
        chat: PeerId,
        room: Option<&RoomId>,
        max_id: i32,
    ) -> Result<Option<MessageMapping>, StoreError> {
        let chat = peer_key(chat)?;
        self.db.run(|conn| {
            Ok(query_all(
                conn,
                concat!(
                    "SELECT ",
                    message_columns!(),
                    " FROM message WHERE chat_peer_id = ?1 AND (?2 IS NULL OR room_id = ?2)
                     AND tg_msg_id <= ?3 ORDER BY tg_msg_id DESC, part DESC LIMIT 1"
                ),
                (chat, room.map(RoomId::as_str), max_id),
            )?
            .pop())
        })
    }

    /// The newest Telegram edits bridged for a message.
    pub fn bridged_edit(
        &self,
        scope: MessageScope,
        tg_msg_id: i32,
    ) -> Result<Option<BridgedEdits>, StoreError> {
        let scope = scope.encode()?;
        self.db.run(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT edit_date, digests FROM message_edit
                     WHERE scope = ?1 AND tg_msg_id = ?2",
                )?
                .query_row((scope, tg_msg_id), |row| {
                    let digests: String = row.get(1)?;
                    Ok(BridgedEdits {
                        date: row.get(0)?,
                        digests: digests.split_whitespace().map(str::to_owned).collect(),
                    })
                })
                .optional()?)
        })
    }

    /// Records that the edit `stamp` was bridged. An older date never
    /// replaces a newer one; edits of the same second are all kept.
    pub fn record_edit(
        &self,
        scope: MessageScope,
        tg_msg_id: i32,
        stamp: &EditStamp,
    ) -> Result<(), StoreError> {
        let scope = scope.encode()?;
        self.db.run(|conn| {
            // SET expressions all see the row as it was.
            conn.prepare_cached(
                "INSERT INTO message_edit (scope, tg_msg_id, edit_date, digests)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (scope, tg_msg_id) DO UPDATE SET
                   digests = CASE
                     WHEN excluded.edit_date > edit_date THEN excluded.digests
                     WHEN excluded.edit_date = edit_date
                       AND instr(' ' || digests || ' ', ' ' || excluded.digests || ' ') = 0
                       THEN trim(digests || ' ' || excluded.digests)
                     ELSE digests
                   END,
                   edit_date = max(edit_date, excluded.edit_date)",
            )?
            .execute((scope, tg_msg_id, stamp.date, &stamp.digest))?;
            Ok(())
        })
    }

    /// Forgets the edit record of a deleted message.
    pub fn forget_edit(&self, scope: MessageScope, tg_msg_id: i32) -> Result<(), StoreError> {
        let scope = scope.encode()?;
        self.db.run(|conn| {
            conn.prepare_cached("DELETE FROM message_edit WHERE scope = ?1 AND tg_msg_id = ?2")?
                .execute((scope, tg_msg_id))?;
            Ok(())
        })
    }

    /// Records that message `tg_msg_id` of `chat` was handled without a map
    /// row (e.g. a service message that only changed room state).
    pub fn mark_handled(&self, chat: PeerId, tg_msg_id: i32) -> Result<(), StoreError> {
        let chat = peer_key(chat)?;
        self.db.run(|conn| {
            conn.prepare_cached(
                "INSERT INTO chat_cursor (chat_peer_id, tg_msg_id) VALUES (?1, ?2)
                 ON CONFLICT (chat_peer_id)
                 DO UPDATE SET tg_msg_id = max(tg_msg_id, excluded.tg_msg_id)",
            )?
            .execute((chat, tg_msg_id))?;
            Ok(())
        })
    }

    /// The newest Telegram message of a chat the bridge has handled (bridged
    /// or deliberately left as state); messages above it are missing.
    pub fn newest_handled(&self, chat: PeerId) -> Result<Option<i32>, StoreError> {
        let bridged = self.newest_in_chat(chat)?;
        let key = peer_key(chat)?;
        let marked: Option<i32> = self.db.run(|conn| {
            Ok(conn
                .prepare_cached("SELECT tg_msg_id FROM chat_cursor WHERE chat_peer_id = ?1")?
                .query_row([key], |row| row.get(0))
                .optional()?)
        })?;
        Ok(bridged.max(marked))
    }
}

fn query_all(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<MessageMapping>, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params, RawMapping::from_row)?;
    rows.map(|raw| raw?.into_mapping()).collect()
}

/// A row before its values are validated.
struct RawMapping {
    scope: i64,
    tg_msg_id: i32,
    part: u32,
    chat_peer_id: i64,
    room_id: String,
    event_id: String,
    sent_by_bridge: bool,
}

impl RawMapping {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawMapping {
            scope: row.get(0)?,
            tg_msg_id: row.get(1)?,
            part: row.get(2)?,
            chat_peer_id: row.get(3)?,
            room_id: row.get(4)?,
            event_id: row.get(5)?,
            sent_by_bridge: row.get(6)?,
        })
    }

    fn into_mapping(self) -> Result<MessageMapping, StoreError> {
        Ok(MessageMapping {
            scope: MessageScope::decode(self.scope)?,
            tg_msg_id: self.tg_msg_id,
            part: self.part,
            chat: PeerId::from_bot_api_dialog_id(self.chat_peer_id).ok_or(StoreError::Corrupt {
                what: "message chat id",
            })?,
            room_id: OwnedRoomId::try_from(self.room_id).map_err(|_| StoreError::Corrupt {
                what: "message room id",
            })?,
            event_id: OwnedEventId::try_from(self.event_id).map_err(|_| StoreError::Corrupt {
                what: "message event id",
            })?,
            sent_by_bridge: self.sent_by_bridge,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_follows_telegram_numbering() {
        let account = 777;
        let user = PeerId::user(42).unwrap();
        let group = PeerId::chat(42).unwrap();
        let channel = PeerId::channel(42).unwrap();
        assert_eq!(
            MessageScope::of_chat(user, account),
            MessageScope::Account(777)
        );
        assert_eq!(
            MessageScope::of_chat(group, account),
            MessageScope::Account(777)
        );
        assert_eq!(
            MessageScope::of_chat(PeerId::self_user(), account),
            MessageScope::Account(777)
        );
        assert_eq!(
            MessageScope::of_chat(channel, account),
            MessageScope::Channel(42)
        );
    }

    #[test]
    fn account_and_channel_scopes_never_collide() {
        let account = MessageScope::Account(42).encode().unwrap();
        let channel = MessageScope::Channel(42).encode().unwrap();
        assert_ne!(account, channel);
        assert_eq!(
            MessageScope::decode(account).unwrap(),
            MessageScope::Account(42)
        );
        assert_eq!(
            MessageScope::decode(channel).unwrap(),
            MessageScope::Channel(42)
        );
    }

    #[test]
    fn invalid_scopes_are_errors() {
        assert!(MessageScope::Account(0).encode().is_err());
        assert!(MessageScope::Channel(-1).encode().is_err());
        // A basic-group id is not a scope: basic groups use the account's.
        assert!(MessageScope::decode(-42).is_err());
        assert!(MessageScope::decode(0).is_err());
    }
}
