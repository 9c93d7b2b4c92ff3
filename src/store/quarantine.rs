//! The quarantine: items whose handling failed in a way a retry would only
//! repeat (a panic while bridging one Telegram update, one Matrix event or
//! one outbox entry). Callers mark the item itself handled or remove it from
//! its queue; this table keeps what failed and why, for the owner and for
//! diagnosis. It stores text only and decides nothing.

use grammers_session::types::PeerId;
use rusqlite::Connection;

use super::portal::peer_key;
use super::{Db, StoreError};

/// Where a quarantined item came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuarantineDirection {
    /// A Telegram update (Telegram → Matrix).
    Telegram,
    /// A Matrix event of an appservice transaction, handled by the core.
    Matrix,
    /// An entry of the Matrix → Telegram outbox.
    Outbox,
}

impl QuarantineDirection {
    fn as_str(self) -> &'static str {
        match self {
            QuarantineDirection::Telegram => "telegram",
            QuarantineDirection::Matrix => "matrix",
            QuarantineDirection::Outbox => "outbox",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "telegram" => Some(QuarantineDirection::Telegram),
            "matrix" => Some(QuarantineDirection::Matrix),
            "outbox" => Some(QuarantineDirection::Outbox),
            _ => None,
        }
    }
}

/// One quarantined item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantinedItem {
    /// Where it came from.
    pub direction: QuarantineDirection,
    /// What it was, e.g. `message 12 in chat 34` or an event id.
    pub item: String,
    /// The portal room (or other room) it belonged to, when known.
    pub room_id: Option<String>,
    /// Why it failed (the panic message).
    pub reason: String,
}

/// The quarantine table.
pub struct Quarantine<'a> {
    db: Db<'a>,
}

impl<'a> Quarantine<'a> {
    pub(super) fn new(db: Db<'a>) -> Self {
        Self { db }
    }

    /// Records a failed item.
    pub fn record(&self, item: &QuarantinedItem) -> Result<(), StoreError> {
        self.db.run(|conn| insert(conn, item, None))
    }

    /// Records a failed Telegram message, `tg_msg_id` of `chat`, so that a
    /// repeat of its update is recognised by [`Quarantine::holds_message`].
    pub fn record_message(
        &self,
        item: &QuarantinedItem,
        chat: PeerId,
        tg_msg_id: i32,
    ) -> Result<(), StoreError> {
        let chat = peer_key(chat)?;
        self.db
            .run(|conn| insert(conn, item, Some((chat, tg_msg_id))))
    }

    /// Whether message `tg_msg_id` of `chat` is quarantined.
    pub fn holds_message(&self, chat: PeerId, tg_msg_id: i32) -> Result<bool, StoreError> {
        let chat = peer_key(chat)?;
        self.db.run(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM quarantine
                     WHERE chat_peer_id = ?1 AND tg_msg_id = ?2)",
                )?
                .query_row((chat, tg_msg_id), |row| row.get(0))?)
        })
    }

    /// Every quarantined item, oldest first.
    pub fn list(&self) -> Result<Vec<QuarantinedItem>, StoreError> {
        self.db.run(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT direction, item, room_id, reason FROM quarantine ORDER BY id",
            )?;
            let rows = statement.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })?;
            let mut items = Vec::new();
            for row in rows {
                let (direction, item, room_id, reason) = row?;
                // Rows are written only by `insert`, whose CHECK admits the
                // three known directions; an unknown one is skipped.
                let Some(direction) = QuarantineDirection::parse(&direction) else {
                    continue;
                };
                items.push(QuarantinedItem {
                    direction,
                    item,
                    room_id,
                    reason,
                });
            }
            Ok(items)
        })
    }
}

fn insert(
    conn: &Connection,
    item: &QuarantinedItem,
    message: Option<(i64, i32)>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO quarantine
             (direction, item, room_id, reason, failed_at, chat_peer_id, tg_msg_id)
         VALUES (?1, ?2, ?3, ?4, unixepoch(), ?5, ?6)",
    )?
    .execute((
        item.direction.as_str(),
        &item.item,
        &item.room_id,
        &item.reason,
        message.map(|(chat, _)| chat),
        message.map(|(_, id)| id),
    ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn quarantined_items_are_kept_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let first = QuarantinedItem {
            direction: QuarantineDirection::Telegram,
            item: "message 5 in chat 7".into(),
            room_id: Some("!r:example.org".into()),
            reason: "boom".into(),
        };
        let second = QuarantinedItem {
            direction: QuarantineDirection::Outbox,
            item: "$e".into(),
            room_id: None,
            reason: "bang".into(),
        };
        let chat = PeerId::chat(7).unwrap();
        store.quarantine().record_message(&first, chat, 5).unwrap();
        store.quarantine().record(&second).unwrap();
        assert_eq!(store.quarantine().list().unwrap(), vec![first, second]);
        assert!(store.quarantine().holds_message(chat, 5).unwrap());
        assert!(!store.quarantine().holds_message(chat, 6).unwrap());
        let other = PeerId::chat(8).unwrap();
        assert!(!store.quarantine().holds_message(other, 5).unwrap());
    }
}
