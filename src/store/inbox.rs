//! Telegram → Matrix bookkeeping that must outlive the process: the inbox
//! of Telegram events read from the update stream but not yet applied to
//! Matrix, and the deletions that arrived before their message was bridged.
//! Only the `inbox` and `early_deletion` tables.
//!
//! The inbox is what makes the Telegram → Matrix direction durable: an
//! event is written here before the update state that covers it is saved,
//! and removed once it was applied (or given up). Whatever is left at start
//! was read by an earlier run and never applied, so it is applied first.
//! The events are opaque text here; their form belongs to the Telegram side.

use rusqlite::Row;

use super::{Db, StoreError};

/// At most this many early deletions are kept; older ones are dropped
/// first (their message was almost always in a chat without a portal).
const EARLY_DELETIONS_KEPT: i64 = 4096;

/// One event waiting to be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEntry {
    /// Arrival order, increasing over the whole table.
    pub seq: i64,
    /// The event in its durable form.
    pub event: String,
}

/// Inbox queries. Get one from [`super::Store::inbox`].
pub struct Inbox<'a> {
    db: Db<'a>,
}

impl<'a> Inbox<'a> {
    pub(super) fn new(db: Db<'a>) -> Self {
        Inbox { db }
    }

    /// Appends an event; returns its sequence number.
    pub fn push(&self, event: &str) -> Result<i64, StoreError> {
        self.db.run(|conn| {
            conn.prepare_cached("INSERT INTO inbox (event, received_at) VALUES (?1, unixepoch())")?
                .execute([event])?;
            Ok(conn.last_insert_rowid())
        })
    }

    /// Removes an applied event; `false` when it was not there.
    pub fn remove(&self, seq: i64) -> Result<bool, StoreError> {
        self.db.run(|conn| {
            Ok(conn
                .prepare_cached("DELETE FROM inbox WHERE seq = ?1")?
                .execute([seq])?
                == 1)
        })
    }

    /// The newest sequence number in the inbox, if any.
    pub fn newest(&self) -> Result<Option<i64>, StoreError> {
        self.db.run(|conn| {
            Ok(conn
                .prepare_cached("SELECT max(seq) FROM inbox")?
                .query_row([], |row| row.get(0))?)
        })
    }

    /// Every event up to and including `seq`, oldest first.
    pub fn up_to(&self, seq: i64) -> Result<Vec<InboxEntry>, StoreError> {
        self.db.run(|conn| {
            let mut statement =
                conn.prepare_cached("SELECT seq, event FROM inbox WHERE seq <= ?1 ORDER BY seq")?;
            let rows = statement.query_map([seq], entry_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// How many events wait.
    pub fn len(&self) -> Result<usize, StoreError> {
        self.db.run(|conn| {
            let count: i64 = conn
                .prepare_cached("SELECT count(*) FROM inbox")?
                .query_row([], |row| row.get(0))?;
            Ok(usize::try_from(count).unwrap_or(usize::MAX))
        })
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }

    /// Notes that message `tg_msg_id` of the account `account` (the
    /// numbering private chats and basic groups share) was deleted before
    /// it was bridged.
    pub fn note_early_deletion(&self, account: i64, tg_msg_id: i32) -> Result<(), StoreError> {
        self.db.atomically(|conn| {
            conn.prepare_cached(
                "INSERT INTO early_deletion (account_id, tg_msg_id, noted_at)
                 VALUES (?1, ?2, unixepoch()) ON CONFLICT DO NOTHING",
            )?
            .execute((account, tg_msg_id))?;
            conn.prepare_cached(
                "DELETE FROM early_deletion WHERE rowid <= (SELECT max(rowid) FROM early_deletion) - ?1",
            )?
            .execute([EARLY_DELETIONS_KEPT])?;
            Ok(())
        })
    }

    /// Whether message `tg_msg_id` of `account` was deleted before it was
    /// bridged; the note is consumed.
    pub fn take_early_deletion(&self, account: i64, tg_msg_id: i32) -> Result<bool, StoreError> {
        // Asked for every message of a private chat or basic group, and
        // almost always answered "no": a read then, and a write only for
        // the rare message that was deleted early.
        let noted: bool = self.db.run(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM early_deletion
                     WHERE account_id = ?1 AND tg_msg_id = ?2)",
                )?
                .query_row((account, tg_msg_id), |row| row.get(0))?)
        })?;
        if !noted {
            return Ok(false);
        }
        self.db.run(|conn| {
            Ok(conn
                .prepare_cached(
                    "DELETE FROM early_deletion WHERE account_id = ?1 AND tg_msg_id = ?2",
                )?
                .execute((account, tg_msg_id))?
                == 1)
        })
    }
}

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<InboxEntry> {
    Ok(InboxEntry {
        seq: row.get(0)?,
        event: row.get(1)?,
    })
}

#[cfg(test)]
mod tests {
    use crate::store::temp_store;

    #[test]
    fn events_come_back_in_order_until_removed() {
        let (_dir, store) = temp_store();
        let inbox = store.inbox();
        assert_eq!(inbox.newest().unwrap(), None);
        let a = inbox.push("a").unwrap();
        let b = inbox.push("b").unwrap();
        let c = inbox.push("c").unwrap();
        assert!(a < b && b < c);
        assert_eq!(inbox.newest().unwrap(), Some(c));
        let events: Vec<_> = inbox
            .up_to(b)
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect();
        assert_eq!(events, ["a", "b"]);
        assert!(inbox.remove(a).unwrap());
        assert!(!inbox.remove(a).unwrap());
        let events: Vec<_> = inbox
            .up_to(c)
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect();
        assert_eq!(events, ["b", "c"]);
        assert_eq!(inbox.len().unwrap(), 2);
    }

    #[test]
    fn sequence_numbers_are_never_reused() {
        let (_dir, store) = temp_store();
        let inbox = store.inbox();
        let a = inbox.push("a").unwrap();
        inbox.remove(a).unwrap();
        assert!(inbox.push("b").unwrap() > a);
        assert!(!inbox.is_empty().unwrap());
    }

    #[test]
    fn an_early_deletion_is_taken_once_per_account() {
        let (_dir, store) = temp_store();
        let inbox = store.inbox();
        inbox.note_early_deletion(1, 10).unwrap();
        inbox.note_early_deletion(1, 10).unwrap();
        assert!(!inbox.take_early_deletion(2, 10).unwrap());
        assert!(inbox.take_early_deletion(1, 10).unwrap());
        assert!(!inbox.take_early_deletion(1, 10).unwrap());
    }

    #[test]
    fn early_deletions_are_bounded() {
        let (_dir, store) = temp_store();
        let inbox = store.inbox();
        for id in 0..(super::EARLY_DELETIONS_KEPT as i32 + 10) {
            inbox.note_early_deletion(1, id).unwrap();
        }
        assert!(!inbox.take_early_deletion(1, 0).unwrap());
        assert!(inbox
            .take_early_deletion(1, super::EARLY_DELETIONS_KEPT as i32 + 9)
            .unwrap());
    }
}
