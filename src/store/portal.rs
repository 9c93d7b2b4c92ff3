//! Portals: which Telegram chat is bridged to which Matrix room, and the room
//! state the bridge already set (title, avatar, encryption, space). The
//! `portal` table, and `portal_topic` for the rooms of a forum's topics
//! (the forum's own row is its General topic); deleting a portal also
//! deletes its topics and its message map rows (the foreign keys cascade).

use grammers_session::types::PeerId;
use ruma::{OwnedMxcUri, OwnedRoomId, RoomId};
use rusqlite::{Connection, OptionalExtension, Row};

use super::{Db, StoreError};

/// What kind of Telegram chat a portal bridges. Needed because a channel
/// peer id alone does not say whether it is a supergroup or a broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortalKind {
    /// A one-to-one chat with a Telegram user (or bot).
    Private,
    /// A basic group (Telegram "chat").
    Group,
    /// A supergroup or gigagroup (a channel with the megagroup flag).
    Supergroup,
    /// A broadcast channel.
    Channel,
}

impl PortalKind {
    fn as_str(self) -> &'static str {
        match self {
            PortalKind::Private => "private",
            PortalKind::Group => "group",
            PortalKind::Supergroup => "supergroup",
            PortalKind::Channel => "channel",
        }
    }

    fn parse(value: &str) -> Result<Self, StoreError> {
        match value {
            "private" => Ok(PortalKind::Private),
            "group" => Ok(PortalKind::Group),
            "supergroup" => Ok(PortalKind::Supergroup),
            "channel" => Ok(PortalKind::Channel),
            _ => Err(StoreError::Corrupt {
                what: "portal kind",
            }),
        }
    }
}

/// A bridged chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Portal {
    /// The Telegram chat; for a private chat, the other user.
    pub peer: PeerId,
    /// What kind of chat it is.
    pub kind: PortalKind,
    /// The Matrix room the chat is bridged to.
    pub room_id: OwnedRoomId,
    /// The room name last set from the Telegram title.
    pub title: Option<String>,
    /// Telegram photo id of the avatar last set on the room.
    pub avatar_photo_id: Option<i64>,
    /// The uploaded avatar, reused when the photo id has not changed.
    pub avatar_mxc: Option<OwnedMxcUri>,
    /// Whether the room is end-to-end encrypted (not supported yet: false).
    pub encrypted: bool,
    /// Whether the room was added to the owner's Telegram space.
    pub in_space: bool,
    /// For the room of a forum topic other than General: the topic id
    /// (the fields above then describe the topic's room, except `kind`,
    /// `avatar_*` and `encrypted`, which are the forum's).
    pub topic: Option<i32>,
}

impl Portal {
    /// Whether this is the room of a forum topic (not the chat's own room).
    pub fn is_topic(&self) -> bool {
        self.topic.is_some()
    }
}

/// Columns of a topic room joined with its forum's portal, in
/// [`RawPortal`] order plus the topic id.
macro_rules! topic_columns {
    () => {
        "t.peer_id, p.kind, t.room_id, t.title, t.avatar_photo_id, t.avatar_mxc, p.encrypted, \
         t.in_space, t.topic_id"
    };
}

/// Portal queries. Get one from [`super::Store::portals`] or
/// [`super::StoreTx::portals`].
pub struct Portals<'a> {
    db: Db<'a>,
}

/// The column list, as a macro so statements are `concat!`-ed at compile
/// time instead of formatted on every call.
macro_rules! portal_columns {
    () => {
        "peer_id, kind, room_id, title, avatar_photo_id, avatar_mxc, encrypted, in_space"
    };
}

impl<'a> Portals<'a> {
    pub(super) fn new(db: Db<'a>) -> Self {
        Portals { db }
    }

    /// Inserts the portal, or replaces every field of the one with the same
    /// peer (and topic: a topic room only changes its own row).
    pub fn upsert(&self, portal: &Portal) -> Result<(), StoreError> {
        let peer_id = peer_key(portal.peer)?;
        if let Some(topic) = portal.topic {
            return self.upsert_topic(peer_id, topic, portal);
        }
        self.db.run(|conn| {
            conn.prepare_cached(concat!(
                "INSERT INTO portal (",
                portal_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (peer_id) DO UPDATE SET
                     kind = excluded.kind, room_id = excluded.room_id, title = excluded.title,
                     avatar_photo_id = excluded.avatar_photo_id,
                     avatar_mxc = excluded.avatar_mxc, encrypted = excluded.encrypted,
                     in_space = excluded.in_space"
            ))?
            .execute((
                peer_id,
                portal.kind.as_str(),
                portal.room_id.as_str(),
                portal.title.as_deref(),
                portal.avatar_photo_id,
                portal.avatar_mxc.as_ref().map(|m| m.as_str()),
                portal.encrypted,
                portal.in_space,
            ))?;
            Ok(())
        })
    }

    /// The portal of a Telegram chat.
    pub fn by_peer(&self, peer: PeerId) -> Result<Option<Portal>, StoreError> {
        let peer_id = peer_key(peer)?;
        self.db.run(|conn| {
            query_one(
                conn,
                concat!(
                    "SELECT ",
                    portal_columns!(),
                    " FROM portal WHERE peer_id = ?1"
                ),
                peer_id,
            )
        })
    }

    /// The portal bridged to a Matrix room: a chat's own room, or the room
    /// of one of a forum's topics.
    pub fn by_room(&self, room_id: &RoomId) -> Result<Option<Portal>, StoreError> {
        self.db.run(|conn| {
            let main = query_one(
                conn,
                concat!(
                    "SELECT ",
                    portal_columns!(),
                    " FROM portal WHERE room_id = ?1"
                ),
                room_id.as_str(),
            )?;
            if main.is_some() {
                return Ok(main);
            }
            query_one(
                conn,
                concat!(
                    "SELECT ",
                    topic_columns!(),
                    " FROM portal_topic t JOIN portal p ON p.peer_id = t.peer_id WHERE t.room_id = ?1"
                ),
                room_id.as_str(),
            )
        })
    }

    /// The room of topic `topic` of the forum `peer`, if it has one.
    pub fn topic(&self, peer: PeerId, topic: i32) -> Result<Option<Portal>, StoreError> {
        let peer_id = peer_key(peer)?;
        self.db.run(|conn| {
            conn.prepare_cached(concat!(
                "SELECT ",
                topic_columns!(),
                " FROM portal_topic t JOIN portal p ON p.peer_id = t.peer_id
                  WHERE t.peer_id = ?1 AND t.topic_id = ?2"
            ))?
            .query_row((peer_id, topic), RawPortal::from_row)
            .optional()?
            .map(RawPortal::into_portal)
            .transpose()
        })
    }

    /// Every topic room of the forum `peer`, by topic id.
    pub fn topics(&self, peer: PeerId) -> Result<Vec<Portal>, StoreError> {
        let peer_id = peer_key(peer)?;
        self.db.run(|conn| {
            let mut statement = conn.prepare_cached(concat!(
                "SELECT ",
                topic_columns!(),
                " FROM portal_topic t JOIN portal p ON p.peer_id = t.peer_id
                  WHERE t.peer_id = ?1 ORDER BY t.topic_id"
            ))?;
            let rows = statement.query_map([peer_id], RawPortal::from_row)?;
            rows.map(|raw| raw?.into_portal()).collect()
        })
    }

    /// Whether the topic's room was last told the topic is closed.
    pub fn topic_closed(&self, peer: PeerId, topic: i32) -> Result<bool, StoreError> {
        let peer_id = peer_key(peer)?;
        self.db.run(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT closed FROM portal_topic WHERE peer_id = ?1 AND topic_id = ?2",
                )?
                .query_row((peer_id, topic), |row| row.get(0))
                .optional()?
                .unwrap_or(false))
        })
    }

    /// Records whether the topic's room was told the topic is closed.
    pub fn set_topic_closed(
        &self,
        peer: PeerId,
        topic: i32,
        closed: bool,
    ) -> Result<(), StoreError> {
        let peer_id = peer_key(peer)?;
        self.db.run(|conn| {
            conn.prepare_cached(
                "UPDATE portal_topic SET closed = ?3 WHERE peer_id = ?1 AND topic_id = ?2",
            )?
            .execute((peer_id, topic, closed))?;
            Ok(())
        })
    }

    fn upsert_topic(&self, peer_id: i64, topic: i32, portal: &Portal) -> Result<(), StoreError> {
        if topic <= 1 {
            return Err(StoreError::InvalidInput(
                "General is the forum's own portal, not a topic room",
            ));
        }
        self.db.run(|conn| {
            conn.prepare_cached(
                "INSERT INTO portal_topic
                     (peer_id, topic_id, room_id, title, in_space, avatar_photo_id, avatar_mxc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (peer_id, topic_id) DO UPDATE SET
                     room_id = excluded.room_id, title = excluded.title,
                     in_space = excluded.in_space, avatar_photo_id = excluded.avatar_photo_id,
                     avatar_mxc = excluded.avatar_mxc",
            )?
            .execute((
                peer_id,
                topic,
                portal.room_id.as_str(),
                portal.title.as_deref(),
                portal.in_space,
                portal.avatar_photo_id,
                portal.avatar_mxc.as_ref().map(|m| m.as_str()),
            ))?;
            Ok(())
        })
    }

    /// Every chat's own portal (topic rooms are listed by
    /// [`Portals::topics`]), in peer order (for start-up and listing).
    pub fn all(&self) -> Result<Vec<Portal>, StoreError> {
        self.db.run(|conn| {
            let mut statement = conn.prepare_cached(concat!(
                "SELECT ",
                portal_columns!(),
                " FROM portal ORDER BY peer_id"
            ))?;
            let rows = statement.query_map([], RawPortal::from_row)?;
            rows.map(|raw| raw?.into_portal()).collect()
        })
    }

    /// Forgets the room of forum topic `topic` and the message map of that
    /// room (the forum's other rooms keep theirs); returns whether it
    /// existed.
    pub fn delete_topic(&self, peer: PeerId, topic: i32) -> Result<bool, StoreError> {
        let peer_id = peer_key(peer)?;
        self.db.atomically(|tx| {
            let room: Option<String> = tx
                .prepare_cached(
                    "SELECT room_id FROM portal_topic WHERE peer_id = ?1 AND topic_id = ?2",
                )?
                .query_row((peer_id, topic), |row| row.get(0))
                .optional()?;
            let Some(room) = room else {
                return Ok(false);
            };
            tx.prepare_cached("DELETE FROM message WHERE chat_peer_id = ?1 AND room_id = ?2")?
                .execute((peer_id, room.as_str()))?;
            tx.prepare_cached("DELETE FROM portal_topic WHERE peer_id = ?1 AND topic_id = ?2")?
                .execute((peer_id, topic))?;
            Ok(true)
        })
    }

    /// Deletes the portal, its topic rooms and its message map; returns
    /// whether it existed.
    pub fn delete(&self, peer: PeerId) -> Result<bool, StoreError> {
        let peer_id = peer_key(peer)?;
        self.db.run(|conn| {
            Ok(conn
                .prepare_cached("DELETE FROM portal WHERE peer_id = ?1")?
                .execute([peer_id])?
                > 0)
        })
    }
}

/// The stored key of a chat: its Bot API dialog id. The self-user sentinel
/// has none (the owner's own chat is keyed by their real user id).
pub(super) fn peer_key(peer: PeerId) -> Result<i64, StoreError> {
    peer.bot_api_dialog_id().ok_or(StoreError::InvalidInput(
        "a portal for the self-user placeholder (use the account's own user id)",
    ))
}

fn query_one(
    conn: &Connection,
    sql: &str,
    key: impl rusqlite::ToSql,
) -> Result<Option<Portal>, StoreError> {
    conn.prepare_cached(sql)?
        .query_row([key], RawPortal::from_row)
        .optional()?
        .map(RawPortal::into_portal)
        .transpose()
}

/// A row before its values are validated.
struct RawPortal {
    peer_id: i64,
    kind: String,
    room_id: String,
    title: Option<String>,
    avatar_photo_id: Option<i64>,
    avatar_mxc: Option<String>,
    encrypted: bool,
    in_space: bool,
    topic: Option<i32>,
}

impl RawPortal {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawPortal {
            peer_id: row.get(0)?,
            kind: row.get(1)?,
            room_id: row.get(2)?,
            title: row.get(3)?,
            avatar_photo_id: row.get(4)?,
            avatar_mxc: row.get(5)?,
            encrypted: row.get(6)?,
            in_space: row.get(7)?,
            // Only topic rows have a ninth column.
            topic: row.get(8).ok(),
        })
    }

    fn into_portal(self) -> Result<Portal, StoreError> {
        Ok(Portal {
            peer: PeerId::from_bot_api_dialog_id(self.peer_id).ok_or(StoreError::Corrupt {
                what: "portal peer id",
            })?,
            kind: PortalKind::parse(&self.kind)?,
            room_id: OwnedRoomId::try_from(self.room_id).map_err(|_| StoreError::Corrupt {
                what: "portal room id",
            })?,
            title: self.title,
            avatar_photo_id: self.avatar_photo_id,
            avatar_mxc: self.avatar_mxc.map(OwnedMxcUri::from),
            encrypted: self.encrypted,
            in_space: self.in_space,
            topic: self.topic,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_text() {
        for kind in [
            PortalKind::Private,
            PortalKind::Group,
            PortalKind::Supergroup,
            PortalKind::Channel,
        ] {
            assert_eq!(PortalKind::parse(kind.as_str()).unwrap(), kind);
        }
        assert!(PortalKind::parse("megagroup").is_err());
    }

    #[test]
    fn self_user_placeholder_has_no_key() {
        assert!(peer_key(PeerId::self_user()).is_err());
        assert_eq!(
            peer_key(PeerId::channel(5).unwrap()).unwrap(),
            -1000000000005
        );
    }

    #[test]
    fn topic_rooms_are_found_by_room_and_go_with_their_forum() {
        let (_dir, store) = crate::store::temp_store();
        let forum = PeerId::channel(3_000_001).unwrap();
        let general = Portal {
            peer: forum,
            kind: PortalKind::Supergroup,
            room_id: OwnedRoomId::try_from("!general:example.org").unwrap(),
            title: Some("Pets".into()),
            avatar_photo_id: Some(7),
            avatar_mxc: None,
            encrypted: false,
            in_space: true,
            topic: None,
        };
        let cats = Portal {
            room_id: OwnedRoomId::try_from("!cats:example.org").unwrap(),
            title: Some("Cats".into()),
            in_space: false,
            topic: Some(4),
            ..general.clone()
        };
        let portals = store.portals();
        // A topic room needs its forum's portal.
        assert!(portals.upsert(&cats).is_err());
        portals.upsert(&general).unwrap();
        portals.upsert(&cats).unwrap();
        assert!(portals
            .upsert(&Portal {
                topic: Some(1),
                ..cats.clone()
            })
            .is_err());
        assert_eq!(portals.by_peer(forum).unwrap(), Some(general.clone()));
        assert_eq!(portals.by_room(&cats.room_id).unwrap(), Some(cats.clone()));
        assert_eq!(
            portals.by_room(&general.room_id).unwrap(),
            Some(general.clone())
        );
        assert_eq!(portals.topic(forum, 4).unwrap(), Some(cats.clone()));
        assert_eq!(portals.topics(forum).unwrap(), vec![cats.clone()]);
        assert_eq!(portals.all().unwrap(), vec![general.clone()]);
        // Renaming the topic's room leaves the forum's own row alone.
        let renamed = Portal {
            title: Some("Lions".into()),
            ..cats.clone()
        };
        portals.upsert(&renamed).unwrap();
        assert_eq!(
            portals.by_peer(forum).unwrap().unwrap().title.as_deref(),
            Some("Pets")
        );
        assert!(!portals.topic_closed(forum, 4).unwrap());
        portals.set_topic_closed(forum, 4, true).unwrap();
        assert!(portals.topic_closed(forum, 4).unwrap());
        assert!(portals.delete(forum).unwrap());
        assert_eq!(portals.by_room(&cats.room_id).unwrap(), None);
    }
}
