//! The reaction map: which Telegram reaction (message, reacting peer, emoji)
//! became which Matrix `m.reaction` event, so a reaction removed on Telegram
//! is redacted in Matrix and a reaction already bridged is not sent again.
//! Only the `reaction` table.

use grammers_session::types::PeerId;
use ruma::{EventId, OwnedEventId, OwnedRoomId};
use rusqlite::{Connection, Row};

use super::message::MessageScope;
use super::portal::peer_key;
use super::{Db, StoreError};

/// One bridged reaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionMapping {
    /// Whose numbering `tg_msg_id` belongs to.
    pub scope: MessageScope,
    /// The Telegram message reacted to.
    pub tg_msg_id: i32,
    /// Who reacted (a user, or a channel reacting as itself).
    pub reactor: PeerId,
    /// The emoji (the annotation key).
    pub emoji: String,
    /// The Telegram chat (its portal must exist).
    pub chat: PeerId,
    /// The room of the annotation.
    pub room_id: OwnedRoomId,
    /// The `m.reaction` event.
    pub event_id: OwnedEventId,
}

/// Reaction map queries. Get one from [`super::Store::reactions`].
pub struct Reactions<'a> {
    db: Db<'a>,
}

macro_rules! reaction_columns {
    () => {
        "scope, tg_msg_id, reactor_id, emoji, chat_peer_id, room_id, event_id"
    };
}

impl<'a> Reactions<'a> {
    pub(super) fn new(db: Db<'a>) -> Self {
        Reactions { db }
    }

    /// Records a bridged reaction; `false` when it was already recorded.
    pub fn insert(&self, reaction: &ReactionMapping) -> Result<bool, StoreError> {
        let scope = MessageScope::encode(reaction.scope)?;
        let reactor = peer_key(reaction.reactor)?;
        let chat = peer_key(reaction.chat)?;
        self.db.run(|conn| {
            let inserted = conn
                .prepare_cached(concat!(
                    "INSERT INTO reaction (",
                    reaction_columns!(),
                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING"
                ))?
                .execute((
                    scope,
                    reaction.tg_msg_id,
                    reactor,
                    reaction.emoji.as_str(),
                    chat,
                    reaction.room_id.as_str(),
                    reaction.event_id.as_str(),
                ))?;
            Ok(inserted == 1)
        })
    }

    /// Every bridged reaction on a Telegram message.
    pub fn of_message(
        &self,
        scope: MessageScope,
        tg_msg_id: i32,
    ) -> Result<Vec<ReactionMapping>, StoreError> {
        let scope = MessageScope::encode(scope)?;
        self.db.run(|conn| {
            query_all(
                conn,
                concat!(
                    "SELECT ",
                    reaction_columns!(),
                    " FROM reaction WHERE scope = ?1 AND tg_msg_id = ?2
                     ORDER BY reactor_id, emoji"
                ),
                (scope, tg_msg_id),
            )
        })
    }

    /// The reaction an `m.reaction` event stands for.
    pub fn by_event(&self, event_id: &EventId) -> Result<Option<ReactionMapping>, StoreError> {
        self.db.run(|conn| {
            Ok(query_all(
                conn,
                concat!(
                    "SELECT ",
                    reaction_columns!(),
                    " FROM reaction WHERE event_id = ?1"
                ),
                [event_id.as_str()],
            )?
            .pop())
        })
    }

    /// Forgets one reaction; returns how many rows went.
    pub fn delete(
        &self,
        scope: MessageScope,
        tg_msg_id: i32,
        reactor: PeerId,
        emoji: &str,
    ) -> Result<usize, StoreError> {
        let scope = MessageScope::encode(scope)?;
        let reactor = peer_key(reactor)?;
        self.db.run(|conn| {
            Ok(conn
                .prepare_cached(
                    "DELETE FROM reaction
                     WHERE scope = ?1 AND tg_msg_id = ?2 AND reactor_id = ?3 AND emoji = ?4",
                )?
                .execute((scope, tg_msg_id, reactor, emoji))?)
        })
    }

    /// Forgets every reaction on a message (it was deleted).
    pub fn delete_message(&self, scope: MessageScope, tg_msg_id: i32) -> Result<usize, StoreError> {
        let scope = MessageScope::encode(scope)?;
        self.db.run(|conn| {
            Ok(conn
                .prepare_cached("DELETE FROM reaction WHERE scope = ?1 AND tg_msg_id = ?2")?
                .execute((scope, tg_msg_id))?)
        })
    }
}

fn query_all(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<ReactionMapping>, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params, RawReaction::from_row)?;
    rows.map(|raw| raw?.into_mapping()).collect()
}

/// A row before its values are validated.
struct RawReaction {
    scope: i64,
    tg_msg_id: i32,
    reactor_id: i64,
    emoji: String,
    chat_peer_id: i64,
    room_id: String,
    event_id: String,
}

impl RawReaction {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawReaction {
            scope: row.get(0)?,
            tg_msg_id: row.get(1)?,
            reactor_id: row.get(2)?,
            emoji: row.get(3)?,
            chat_peer_id: row.get(4)?,
            room_id: row.get(5)?,
            event_id: row.get(6)?,
        })
    }

    fn into_mapping(self) -> Result<ReactionMapping, StoreError> {
        let corrupt = |what| StoreError::Corrupt { what };
        let scope = MessageScope::decode(self.scope)?;
        Ok(ReactionMapping {
            scope,
            tg_msg_id: self.tg_msg_id,
            reactor: PeerId::from_bot_api_dialog_id(self.reactor_id)
                .ok_or_else(|| corrupt("reaction reactor id"))?,
            emoji: self.emoji,
            chat: PeerId::from_bot_api_dialog_id(self.chat_peer_id)
                .ok_or_else(|| corrupt("reaction chat id"))?,
            room_id: OwnedRoomId::try_from(self.room_id)
                .map_err(|_| corrupt("reaction room id"))?,
            event_id: OwnedEventId::try_from(self.event_id)
                .map_err(|_| corrupt("reaction event id"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{EditStamp, MessageMapping, Portal, PortalKind, Store};
    use super::*;

    fn store_with_portal(dir: &tempfile::TempDir, chat: PeerId) -> Store {
        let store = Store::open(&dir.path().join("tgbridge.db")).unwrap();
        store
            .portals()
            .upsert(&Portal {
                peer: chat,
                kind: PortalKind::Group,
                room_id: OwnedRoomId::try_from("!room:example.org").unwrap(),
                title: None,
                avatar_photo_id: None,
                avatar_mxc: None,
                encrypted: false,
                in_space: false,
                topic: None,
            })
            .unwrap();
        store
    }

    fn event(name: &str) -> OwnedEventId {
        OwnedEventId::try_from(format!("${name}:example.org")).unwrap()
    }

    fn mapping(chat: PeerId, id: i32, name: &str) -> MessageMapping {
        MessageMapping {
            scope: MessageScope::Account(1),
            tg_msg_id: id,
            part: 0,
            chat,
            room_id: OwnedRoomId::try_from("!room:example.org").unwrap(),
            event_id: event(name),
            sent_by_bridge: false,
        }
    }

    #[test]
    fn reactions_are_recorded_once_and_forgotten_with_their_message() {
        let dir = tempfile::tempdir().unwrap();
        let chat = PeerId::chat(5).unwrap();
        let store = store_with_portal(&dir, chat);
        let thumbs = ReactionMapping {
            scope: MessageScope::Account(1),
            tg_msg_id: 10,
            reactor: PeerId::user(7).unwrap(),
            emoji: "👍".into(),
            chat,
            room_id: OwnedRoomId::try_from("!room:example.org").unwrap(),
            event_id: event("r1"),
        };
        let heart = ReactionMapping {
            emoji: "❤".into(),
            event_id: event("r2"),
            ..thumbs.clone()
        };
        let reactions = store.reactions();
        assert!(reactions.insert(&thumbs).unwrap());
        assert!(!reactions.insert(&thumbs).unwrap(), "already recorded");
        assert!(reactions.insert(&heart).unwrap());
        assert_eq!(
            reactions.of_message(MessageScope::Account(1), 10).unwrap(),
            vec![heart.clone(), thumbs.clone()]
        );
        assert_eq!(
            reactions.by_event(&event("r1")).unwrap(),
            Some(thumbs.clone())
        );
        assert_eq!(
            reactions
                .delete(MessageScope::Account(1), 10, thumbs.reactor, "👍")
                .unwrap(),
            1
        );
        assert_eq!(
            reactions
                .delete_message(MessageScope::Account(1), 10)
                .unwrap(),
            1
        );
        assert!(reactions
            .of_message(MessageScope::Account(1), 10)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn edits_keep_the_newest_date_and_the_cursor_only_moves_forward() {
        let dir = tempfile::tempdir().unwrap();
        let chat = PeerId::chat(5).unwrap();
        let store = store_with_portal(&dir, chat);
        let messages = store.messages();
        let scope = MessageScope::Account(1);
        assert_eq!(messages.bridged_edit(scope, 3).unwrap(), None);
        let (first, second) = (EditStamp::new(200, "one"), EditStamp::new(200, "two"));
        messages.record_edit(scope, 3, &first).unwrap();
        messages
            .record_edit(scope, 3, &EditStamp::new(100, "older"))
            .unwrap();
        let bridged = messages.bridged_edit(scope, 3).unwrap().unwrap();
        assert!(bridged.covers(&first));
        assert!(bridged.covers(&EditStamp::new(100, "older")));
        assert!(!bridged.covers(&second), "a second edit within the second");
        messages.record_edit(scope, 3, &second).unwrap();
        messages.record_edit(scope, 3, &first).unwrap();
        let bridged = messages.bridged_edit(scope, 3).unwrap().unwrap();
        assert_eq!((bridged.date, bridged.digests.len()), (200, 2));
        assert!(bridged.covers(&first) && bridged.covers(&second));
        messages
            .record_edit(scope, 3, &EditStamp::new(201, "three"))
            .unwrap();
        let bridged = messages.bridged_edit(scope, 3).unwrap().unwrap();
        assert_eq!((bridged.date, bridged.digests.len()), (201, 1));
        assert!(!bridged.covers(&EditStamp::new(201, "four")));
        messages.forget_edit(scope, 3).unwrap();
        assert_eq!(messages.bridged_edit(scope, 3).unwrap(), None);

        assert_eq!(messages.newest_handled(chat).unwrap(), None);
        messages.insert(&mapping(chat, 4, "m4")).unwrap();
        messages.insert(&mapping(chat, 9, "m9")).unwrap();
        assert_eq!(messages.newest_handled(chat).unwrap(), Some(9));
        let second_part = MessageMapping {
            part: 1,
            ..mapping(chat, 9, "m9b")
        };
        messages.insert(&second_part).unwrap();
        assert_eq!(messages.newest_ids_in_chat(chat, 5).unwrap(), [9, 4]);
        assert_eq!(messages.newest_ids_in_chat(chat, 1).unwrap(), [9]);
        messages.mark_handled(chat, 12).unwrap();
        messages.mark_handled(chat, 6).unwrap();
        assert_eq!(messages.newest_handled(chat).unwrap(), Some(12));

        let read = messages
            .newest_at_or_before(chat, None, 8)
            .unwrap()
            .unwrap();
        assert_eq!(read.event_id, event("m4"));
        assert_eq!(messages.newest_at_or_before(chat, None, 3).unwrap(), None);
    }
}
