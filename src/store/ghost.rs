//! Ghosts: the Matrix puppets of Telegram users, and the profile already set
//! on each so the bridge only calls the homeserver when something changed.
//! Only the `ghost` table.

use ruma::OwnedMxcUri;
use rusqlite::{OptionalExtension, Row};

use super::{Db, StoreError};

/// A Telegram user's Matrix puppet as last set up by the bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ghost {
    /// The Telegram user id.
    pub user_id: i64,
    /// Whether the Matrix account was registered with the homeserver.
    pub registered: bool,
    /// The display name last set in Matrix.
    pub displayname: Option<String>,
    /// Telegram photo id of the avatar last set in Matrix.
    pub avatar_photo_id: Option<i64>,
    /// The uploaded avatar.
    pub avatar_mxc: Option<OwnedMxcUri>,
}

impl Ghost {
    /// A ghost nothing has been done for yet.
    pub fn new(user_id: i64) -> Self {
        Ghost {
            user_id,
            registered: false,
            displayname: None,
            avatar_photo_id: None,
            avatar_mxc: None,
        }
    }
}

/// Ghost queries. Get one from [`super::Store::ghosts`] or
/// [`super::StoreTx::ghosts`].
pub struct Ghosts<'a> {
    db: Db<'a>,
}

impl<'a> Ghosts<'a> {
    pub(super) fn new(db: Db<'a>) -> Self {
        Ghosts { db }
    }

    /// Inserts the ghost, or replaces every field of the stored one.
    pub fn upsert(&self, ghost: &Ghost) -> Result<(), StoreError> {
        self.db.run(|conn| {
            conn.prepare_cached(
                "INSERT INTO ghost (user_id, registered, displayname, avatar_photo_id, avatar_mxc)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (user_id) DO UPDATE SET
                     registered = excluded.registered, displayname = excluded.displayname,
                     avatar_photo_id = excluded.avatar_photo_id, avatar_mxc = excluded.avatar_mxc",
            )?
            .execute((
                ghost.user_id,
                ghost.registered,
                ghost.displayname.as_deref(),
                ghost.avatar_photo_id,
                ghost.avatar_mxc.as_ref().map(|m| m.as_str()),
            ))?;
            Ok(())
        })
    }

    /// The ghost of a Telegram user, if the bridge has created it.
    pub fn get(&self, user_id: i64) -> Result<Option<Ghost>, StoreError> {
        self.db.run(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT user_id, registered, displayname, avatar_photo_id, avatar_mxc
                     FROM ghost WHERE user_id = ?1",
                )?
                .query_row([user_id], ghost_from_row)
                .optional()?)
        })
    }

    /// Forgets a ghost; returns whether it existed.
    pub fn delete(&self, user_id: i64) -> Result<bool, StoreError> {
        self.db.run(|conn| {
            Ok(conn
                .prepare_cached("DELETE FROM ghost WHERE user_id = ?1")?
                .execute([user_id])?
                > 0)
        })
    }
}

fn ghost_from_row(row: &Row<'_>) -> rusqlite::Result<Ghost> {
    Ok(Ghost {
        user_id: row.get(0)?,
        registered: row.get(1)?,
        displayname: row.get(2)?,
        avatar_photo_id: row.get(3)?,
        avatar_mxc: row.get::<_, Option<String>>(4)?.map(OwnedMxcUri::from),
    })
}
