//! Matrix → Telegram bookkeeping: the per-room outbox of the owner's events
//! waiting to be delivered to Telegram, and the owner's reactions that are
//! set on Telegram. Only the `outbox` and `outbound_reaction` tables; the
//! message map stays with [`super::message`].
//!
//! The outbox is what makes delivery exactly-once across crashes: an event
//! is queued in the transaction that records the homeserver's transaction
//! id, and removed in the transaction that records its message map rows.

use ruma::{EventId, OwnedEventId, OwnedRoomId, RoomId};
use rusqlite::{OptionalExtension, Row};

use super::{Db, StoreError};

/// One queued event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Arrival order, increasing over the whole table.
    pub seq: i64,
    /// The portal room the event was sent in.
    pub room_id: OwnedRoomId,
    /// The event.
    pub event_id: OwnedEventId,
    /// The event's JSON as the homeserver sent it.
    pub event: String,
}

/// One of the owner's reactions that is set on Telegram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundReaction {
    /// The `m.reaction` event.
    pub event_id: OwnedEventId,
    /// Its room.
    pub room_id: OwnedRoomId,
    /// The event reacted to.
    pub target_event_id: OwnedEventId,
    /// The reaction key (an emoji).
    pub emoji: String,
}

/// Outbox and reaction queries. Get one from [`super::Store::outbox`] or
/// [`super::StoreTx::outbox`].
pub struct Outbox<'a> {
    db: Db<'a>,
}

impl<'a> Outbox<'a> {
    pub(super) fn new(db: Db<'a>) -> Self {
        Outbox { db }
    }

    /// Queues an event; `false` (and nothing changes) when it was queued
    /// before, even if it was delivered and left the outbox since: the same
    /// event can arrive again through a homeserver retry or when the bridge
    /// reads a room's timeline for what it missed.
    pub fn push(
        &self,
        room_id: &RoomId,
        event_id: &EventId,
        event_json: &str,
    ) -> Result<bool, StoreError> {
        self.db.run(|conn| {
            let first_time = conn
                .prepare_cached(
                    "INSERT INTO owner_event (event_id, room_id, seen_at)
                     VALUES (?1, ?2, unixepoch()) ON CONFLICT DO NOTHING",
                )?
                .execute((event_id.as_str(), room_id.as_str()))?
                == 1;
            if !first_time {
                return Ok(false);
            }
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO outbox (room_id, event_id, event, queued_at)
                     VALUES (?1, ?2, ?3, unixepoch()) ON CONFLICT DO NOTHING",
                )?
                .execute((room_id.as_str(), event_id.as_str(), event_json))?;
            Ok(inserted == 1)
        })
    }

    /// Remembers an owner's event the bridge handled without queueing it (a
    /// command, a rename): `false` when it was remembered or queued before,
    /// so the same event read again from the bot's sync is not handled twice.
    pub fn remember(&self, room_id: &RoomId, event_id: &EventId) -> Result<bool, StoreError> {
        self.db.run(|conn| {
            Ok(conn
                .prepare_cached(
                    "INSERT INTO owner_event (event_id, room_id, seen_at)
                     VALUES (?1, ?2, unixepoch()) ON CONFLICT DO NOTHING",
                )?
                .execute((event_id.as_str(), room_id.as_str()))?
                == 1)
        })
    }

    /// Whether `event_id` was ever queued or remembered (and not yet pruned).
    pub fn was_queued(&self, event_id: &EventId) -> Result<bool, StoreError> {
        self.db.run(|conn| {
            Ok(conn
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM owner_event WHERE event_id = ?1)")?
                .query_row([event_id.as_str()], |row| row.get(0))?)
        })
    }

    /// The oldest queued event of `room_id`.
    pub fn next_in_room(&self, room_id: &RoomId) -> Result<Option<OutboxEntry>, StoreError> {
        self.db.run(|conn| {
            let raw = conn
                .prepare_cached(
                    "SELECT seq, room_id, event_id, event FROM outbox
                     WHERE room_id = ?1 ORDER BY seq LIMIT 1",
                )?
                .query_row([room_id.as_str()], RawEntry::from_row)
                .optional()?;
            raw.map(RawEntry::into_entry).transpose()
        })
    }

    /// Rooms with queued events, oldest queue first.
    pub fn pending_rooms(&self) -> Result<Vec<OwnedRoomId>, StoreError> {
        self.db.run(|conn| {
            let mut statement = conn
                .prepare_cached("SELECT room_id FROM outbox GROUP BY room_id ORDER BY min(seq)")?;
            let rooms = statement.query_map([], |row| row.get::<_, String>(0))?;
            rooms
                .map(|room| {
                    OwnedRoomId::try_from(room?).map_err(|_| StoreError::Corrupt {
                        what: "outbox room id",
                    })
                })
                .collect()
        })
    }

    /// How many events are queued in `room_id`.
    pub fn len_in_room(&self, room_id: &RoomId) -> Result<usize, StoreError> {
        self.db.run(|conn| {
            let count: i64 = conn
                .prepare_cached("SELECT count(*) FROM outbox WHERE room_id = ?1")?
                .query_row([room_id.as_str()], |row| row.get(0))?;
            Ok(usize::try_from(count).unwrap_or(0))
        })
    }

    /// Removes a delivered (or given up) event.
    pub fn remove(&self, seq: i64) -> Result<(), StoreError> {
        self.db.run(|conn| {
            conn.prepare_cached("DELETE FROM outbox WHERE seq = ?1")?
                .execute([seq])?;
            Ok(())
        })
    }

    /// Records a reaction set on Telegram (again: replaces the old row).
    pub fn insert_reaction(&self, reaction: &OutboundReaction) -> Result<(), StoreError> {
        self.db.run(|conn| {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO outbound_reaction
                 (event_id, room_id, target_event_id, emoji) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute((
                reaction.event_id.as_str(),
                reaction.room_id.as_str(),
                reaction.target_event_id.as_str(),
                reaction.emoji.as_str(),
            ))?;
            Ok(())
        })
    }

    /// The reaction sent as `event_id`, if it is set on Telegram.
    pub fn reaction(&self, event_id: &EventId) -> Result<Option<OutboundReaction>, StoreError> {
        self.db.run(|conn| {
            let raw = conn
                .prepare_cached(
                    "SELECT event_id, room_id, target_event_id, emoji
                     FROM outbound_reaction WHERE event_id = ?1",
                )?
                .query_row([event_id.as_str()], RawReaction::from_row)
                .optional()?;
            raw.map(RawReaction::into_reaction).transpose()
        })
    }

    /// The owner's reactions set on the message of `target_event_id`, oldest first.
    pub fn reactions_on(
        &self,
        target_event_id: &EventId,
    ) -> Result<Vec<OutboundReaction>, StoreError> {
        self.db.run(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT event_id, room_id, target_event_id, emoji
                 FROM outbound_reaction WHERE target_event_id = ?1 ORDER BY rowid",
            )?;
            let rows = statement.query_map([target_event_id.as_str()], RawReaction::from_row)?;
            rows.map(|raw| raw?.into_reaction()).collect()
        })
    }

    /// Forgets a reaction removed on Telegram.
    pub fn delete_reaction(&self, event_id: &EventId) -> Result<(), StoreError> {
        self.db.run(|conn| {
            conn.prepare_cached("DELETE FROM outbound_reaction WHERE event_id = ?1")?
                .execute([event_id.as_str()])?;
            Ok(())
        })
    }
}

struct RawEntry {
    seq: i64,
    room_id: String,
    event_id: String,
    event: String,
}

impl RawEntry {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawEntry {
            seq: row.get(0)?,
            room_id: row.get(1)?,
            event_id: row.get(2)?,
            event: row.get(3)?,
        })
    }

    fn into_entry(self) -> Result<OutboxEntry, StoreError> {
        Ok(OutboxEntry {
            seq: self.seq,
            room_id: OwnedRoomId::try_from(self.room_id).map_err(|_| StoreError::Corrupt {
                what: "outbox room id",
            })?,
            event_id: OwnedEventId::try_from(self.event_id).map_err(|_| StoreError::Corrupt {
                what: "outbox event id",
            })?,
            event: self.event,
        })
    }
}

struct RawReaction {
    event_id: String,
    room_id: String,
    target_event_id: String,
    emoji: String,
}

impl RawReaction {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawReaction {
            event_id: row.get(0)?,
            room_id: row.get(1)?,
            target_event_id: row.get(2)?,
            emoji: row.get(3)?,
        })
    }

    fn into_reaction(self) -> Result<OutboundReaction, StoreError> {
        let corrupt = |what| move |_| StoreError::Corrupt { what };
        Ok(OutboundReaction {
            event_id: OwnedEventId::try_from(self.event_id)
                .map_err(corrupt("reaction event id"))?,
            room_id: OwnedRoomId::try_from(self.room_id).map_err(corrupt("reaction room id"))?,
            target_event_id: OwnedEventId::try_from(self.target_event_id)
                .map_err(corrupt("reaction target"))?,
            emoji: self.emoji,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use super::*;

    fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("tgbridge.db")).unwrap();
        (dir, store)
    }

    fn room(name: &str) -> OwnedRoomId {
        format!("!{name}:localhost").try_into().unwrap()
    }

    fn event(name: &str) -> OwnedEventId {
        format!("${name}").try_into().unwrap()
    }

    #[test]
    fn events_queue_per_room_in_arrival_order_and_once() {
        let (_dir, store) = open();
        let outbox = store.outbox();
        assert!(outbox.push(&room("a"), &event("1"), "{1}").unwrap());
        assert!(outbox.push(&room("b"), &event("2"), "{2}").unwrap());
        assert!(outbox.push(&room("a"), &event("3"), "{3}").unwrap());
        assert!(
            !outbox.push(&room("a"), &event("1"), "{again}").unwrap(),
            "a retried transaction queues nothing new"
        );
        assert_eq!(outbox.pending_rooms().unwrap(), vec![room("a"), room("b")]);
        assert_eq!(outbox.len_in_room(&room("a")).unwrap(), 2);

        let first = outbox.next_in_room(&room("a")).unwrap().unwrap();
        assert_eq!(
            (first.event_id.as_str(), first.event.as_str()),
            ("$1", "{1}")
        );
        outbox.remove(first.seq).unwrap();
        let second = outbox.next_in_room(&room("a")).unwrap().unwrap();
        assert_eq!(second.event_id, event("3"));
        assert!(second.seq > first.seq);
        outbox.remove(second.seq).unwrap();
        assert_eq!(outbox.next_in_room(&room("a")).unwrap(), None);
        assert_eq!(outbox.pending_rooms().unwrap(), vec![room("b")]);
    }

    #[test]
    fn a_queued_event_and_its_removal_commit_with_their_transaction() {
        let (_dir, store) = open();
        let failed: Result<(), StoreError> = store.transaction(|tx| {
            tx.outbox().push(&room("a"), &event("1"), "{}")?;
            Err(StoreError::InvalidInput("abort"))
        });
        assert!(failed.is_err());
        assert_eq!(store.outbox().len_in_room(&room("a")).unwrap(), 0);
        store
            .transaction(|tx| {
                tx.outbox().push(&room("a"), &event("1"), "{}")?;
                tx.record_transaction("t1")
            })
            .unwrap();
        assert!(store.transaction_processed("t1").unwrap());
        assert_eq!(store.outbox().len_in_room(&room("a")).unwrap(), 1);
    }

    #[test]
    fn reactions_are_found_by_event_and_by_target() {
        let (_dir, store) = open();
        let outbox = store.outbox();
        let reaction = |id: &str, emoji: &str| OutboundReaction {
            event_id: event(id),
            room_id: room("a"),
            target_event_id: event("msg"),
            emoji: emoji.to_owned(),
        };
        outbox.insert_reaction(&reaction("r1", "👍")).unwrap();
        outbox.insert_reaction(&reaction("r2", "❤")).unwrap();
        assert_eq!(
            outbox.reaction(&event("r2")).unwrap(),
            Some(reaction("r2", "❤"))
        );
        let on: Vec<String> = outbox
            .reactions_on(&event("msg"))
            .unwrap()
            .into_iter()
            .map(|r| r.emoji)
            .collect();
        assert_eq!(on, ["👍", "❤"]);
        outbox.delete_reaction(&event("r1")).unwrap();
        assert_eq!(outbox.reaction(&event("r1")).unwrap(), None);
        assert_eq!(outbox.reactions_on(&event("msg")).unwrap().len(), 1);
    }
}
