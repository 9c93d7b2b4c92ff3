//! The durable form of Telegram events, so that an event read from the
//! update stream survives the process until the bridge has applied it. The
//! update reader records every event that changes something lasting through
//! an [`EventJournal`] *before* it saves the update state that covers it;
//! Telegram therefore never has to repeat an event the journal lost, and the
//! journal never has to remember more than the unapplied tail.
//!
//! It owns the mapping between [`TgEvent`] and [`DurableEvent`] (plain ids
//! and text, JSON when stored) and the way back ([`revive`]), which reads
//! messages again from Telegram: a message cannot be rebuilt from stored
//! bytes alone (grammers keeps the users and chats it mentions in a map only
//! its own calls can fill), and reading it again also brings its current
//! content. Where the journal is kept is the caller's business.

use base64::Engine as _;
use grammers_client::Client;
use grammers_mtsender::InvocationError;
use grammers_session::types::{PeerId, PeerRef};
use grammers_tl_types::{self as tl, Deserializable as _, Serializable as _};
use serde::{Deserialize, Serialize};

use super::event::TgEvent;

/// Where the update reader records events before it moves past them.
pub trait EventJournal: Send + Sync + 'static {
    /// Records `event`; returns the id under which it is kept until the
    /// bridge reports it applied.
    fn record(&self, event: &DurableEvent) -> Result<JournalId, JournalError>;
}

/// The id of a recorded event.
pub type JournalId = i64;

/// Why an event could not be recorded.
#[derive(Debug, thiserror::Error)]
#[error("could not record a Telegram event: {0}")]
pub struct JournalError(pub String);

/// An event as the update reader delivers it: with its journal id when it
/// was recorded (events that change nothing lasting, like typing, are not).
#[derive(Debug, Clone)]
pub struct Received {
    /// The event.
    pub event: TgEvent,
    /// Its journal id, to report it applied.
    pub journal: Option<JournalId>,
}

/// A Telegram event reduced to what identifies it. Chats and users are
/// Bot API dialog ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DurableEvent {
    /// [`TgEvent::NewMessage`]: read again by id.
    NewMessage {
        /// The chat.
        chat: i64,
        /// The message.
        id: i32,
    },
    /// [`TgEvent::MessageEdited`]: read again by id (its newest content).
    MessageEdited {
        /// The chat.
        chat: i64,
        /// The message.
        id: i32,
    },
    /// [`TgEvent::MessagesDeleted`].
    MessagesDeleted {
        /// The chat, when Telegram named it.
        chat: Option<i64>,
        /// The deleted ids.
        ids: Vec<i32>,
    },
    /// [`TgEvent::Reactions`].
    Reactions {
        /// The chat.
        chat: i64,
        /// The message.
        msg_id: i32,
        /// Telegram's reaction summary, TL-serialized, base64.
        reactions: String,
    },
    /// [`TgEvent::Read`].
    Read {
        /// The chat.
        chat: i64,
        /// The newest message read.
        max_id: i32,
        /// Whether the other side read the account's messages.
        outbox: bool,
        /// The forum topic read; absent for the chat's own read mark (and
        /// in events recorded before topics were).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic: Option<i32>,
    },
    /// [`TgEvent::Pinned`].
    Pinned {
        /// The chat.
        chat: i64,
        /// The messages.
        ids: Vec<i32>,
        /// `false` for an unpin.
        pinned: bool,
    },
    /// [`TgEvent::TitleChanged`].
    TitleChanged {
        /// The chat.
        chat: i64,
        /// The new title.
        title: String,
    },
    /// [`TgEvent::Migrated`].
    Migrated {
        /// The basic group.
        from: i64,
        /// The supergroup.
        to: i64,
    },
    /// [`TgEvent::ChatChanged`].
    ChatChanged {
        /// The chat.
        chat: i64,
    },
    /// [`TgEvent::UserChanged`].
    UserChanged {
        /// The user.
        user: i64,
    },
}

fn dialog(peer: PeerId) -> Option<i64> {
    peer.bot_api_dialog_id()
}

fn peer(dialog: i64) -> Option<PeerId> {
    PeerId::from_bot_api_dialog_id(dialog)
}

impl DurableEvent {
    /// The durable form of `event`; `None` for events that change nothing
    /// lasting (typing, flood waits) or that concern the runtime itself.
    pub fn of(event: &TgEvent) -> Option<Self> {
        Some(match event {
            TgEvent::NewMessage(m) => DurableEvent::NewMessage {
                chat: dialog(m.peer_id())?,
                id: m.id(),
            },
            TgEvent::MessageEdited(m) => DurableEvent::MessageEdited {
                chat: dialog(m.peer_id())?,
                id: m.id(),
            },
            TgEvent::MessagesDeleted { chat, ids } => DurableEvent::MessagesDeleted {
                chat: match chat {
                    Some(chat) => Some(dialog(*chat)?),
                    None => None,
                },
                ids: ids.clone(),
            },
            TgEvent::Reactions {
                chat,
                msg_id,
                reactions,
            } => DurableEvent::Reactions {
                chat: dialog(*chat)?,
                msg_id: *msg_id,
                reactions: base64::engine::general_purpose::STANDARD.encode(reactions.to_bytes()),
            },
            TgEvent::Read {
                chat,
                max_id,
                outbox,
                topic,
            } => DurableEvent::Read {
                chat: dialog(*chat)?,
                max_id: *max_id,
                outbox: *outbox,
                topic: *topic,
            },
            TgEvent::Pinned { chat, ids, pinned } => DurableEvent::Pinned {
                chat: dialog(*chat)?,
                ids: ids.clone(),
                pinned: *pinned,
            },
            TgEvent::TitleChanged { chat, title } => DurableEvent::TitleChanged {
                chat: dialog(*chat)?,
                title: title.clone(),
            },
            TgEvent::Migrated { from, to } => DurableEvent::Migrated {
                from: dialog(*from)?,
                to: dialog(*to)?,
            },
            TgEvent::ChatChanged(chat) => DurableEvent::ChatChanged {
                chat: dialog(*chat)?,
            },
            TgEvent::UserChanged(user) => DurableEvent::UserChanged {
                user: dialog(*user)?,
            },
            TgEvent::Typing { .. }
            | TgEvent::FloodWait(_)
            | TgEvent::SessionEnded { .. }
            | TgEvent::UpdatesUnreadable { .. }
            | TgEvent::ConnectionLost => return None,
        })
    }

    /// The chat whose messages [`revive`] must read again, if any.
    pub fn message_chat(&self) -> Option<PeerId> {
        match self {
            DurableEvent::NewMessage { chat, .. } | DurableEvent::MessageEdited { chat, .. } => {
                peer(*chat)
            }
            _ => None,
        }
    }

    /// The event again, for those that need nothing from Telegram; `None`
    /// for messages (see [`revive`]) and for a malformed record.
    pub fn into_event(self) -> Option<TgEvent> {
        Some(match self {
            DurableEvent::NewMessage { .. } | DurableEvent::MessageEdited { .. } => return None,
            DurableEvent::MessagesDeleted { chat, ids } => TgEvent::MessagesDeleted {
                chat: match chat {
                    Some(chat) => Some(peer(chat)?),
                    None => None,
                },
                ids,
            },
            DurableEvent::Reactions {
                chat,
                msg_id,
                reactions,
            } => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(reactions)
                    .ok()?;
                TgEvent::Reactions {
                    chat: peer(chat)?,
                    msg_id,
                    reactions: Box::new(tl::enums::MessageReactions::from_bytes(&bytes).ok()?),
                }
            }
            DurableEvent::Read {
                chat,
                max_id,
                outbox,
                topic,
            } => TgEvent::Read {
                chat: peer(chat)?,
                max_id,
                outbox,
                topic,
            },
            DurableEvent::Pinned { chat, ids, pinned } => TgEvent::Pinned {
                chat: peer(chat)?,
                ids,
                pinned,
            },
            DurableEvent::TitleChanged { chat, title } => TgEvent::TitleChanged {
                chat: peer(chat)?,
                title,
            },
            DurableEvent::Migrated { from, to } => TgEvent::Migrated {
                from: peer(from)?,
                to: peer(to)?,
            },
            DurableEvent::ChatChanged { chat } => TgEvent::ChatChanged(peer(chat)?),
            DurableEvent::UserChanged { user } => TgEvent::UserChanged(peer(user)?),
        })
    }
}

/// What became of a recorded event on the way back.
#[derive(Debug)]
pub enum Revived {
    /// The event, ready to be applied.
    Event(TgEvent),
    /// Nothing to apply: the message no longer exists on Telegram (a
    /// deletion recorded after it takes care of the room), or the record
    /// names no valid chat.
    Gone,
}

/// Turns a recorded event back into a [`TgEvent`]. Messages are read again
/// from Telegram through `chat` (the chat's reference with its access
/// hash, from the session); everything else is rebuilt from the record.
pub async fn revive(
    client: &Client,
    event: DurableEvent,
    chat: Option<PeerRef>,
) -> Result<Revived, InvocationError> {
    let (id, edited) = match &event {
        DurableEvent::NewMessage { id, .. } => (*id, false),
        DurableEvent::MessageEdited { id, .. } => (*id, true),
        _ => return Ok(event.into_event().map_or(Revived::Gone, Revived::Event)),
    };
    let Some(chat) = chat else {
        return Ok(Revived::Gone);
    };
    let message = client
        .get_messages_by_id(chat, &[id])
        .await?
        .into_iter()
        .next()
        .flatten();
    Ok(match message {
        Some(message) if edited => Revived::Event(TgEvent::MessageEdited(Box::new(message))),
        Some(message) => Revived::Event(TgEvent::NewMessage(Box::new(message))),
        None => Revived::Gone,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(event: TgEvent) -> TgEvent {
        let durable = DurableEvent::of(&event).expect("durable");
        let json = serde_json::to_string(&durable).unwrap();
        let back: DurableEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(back, durable);
        back.into_event().expect("rebuilt")
    }

    #[test]
    fn events_without_messages_survive_a_round_trip() {
        let chat = PeerId::chat(5).unwrap();
        let channel = PeerId::channel(7).unwrap();
        let user = PeerId::user(9).unwrap();
        let reactions = tl::enums::MessageReactions::Reactions(tl::types::MessageReactions {
            min: false,
            can_see_list: true,
            reactions_as_tags: false,
            results: vec![tl::types::ReactionCount {
                chosen_order: None,
                reaction: tl::types::ReactionEmoji {
                    emoticon: "👍".into(),
                }
                .into(),
                count: 1,
            }
            .into()],
            recent_reactions: None,
            top_reactors: None,
        });
        let cases = [
            TgEvent::MessagesDeleted {
                chat: Some(channel),
                ids: vec![1, 2],
            },
            TgEvent::MessagesDeleted {
                chat: None,
                ids: vec![3],
            },
            TgEvent::Reactions {
                chat,
                msg_id: 4,
                reactions: Box::new(reactions),
            },
            TgEvent::Read {
                chat: user,
                max_id: 8,
                outbox: true,
                topic: None,
            },
            TgEvent::Read {
                chat,
                max_id: 9,
                outbox: false,
                topic: Some(4),
            },
            TgEvent::Pinned {
                chat,
                ids: vec![6],
                pinned: false,
            },
            TgEvent::TitleChanged {
                chat,
                title: "New".into(),
            },
            TgEvent::Migrated {
                from: chat,
                to: channel,
            },
            TgEvent::ChatChanged(channel),
            TgEvent::UserChanged(user),
        ];
        for event in cases {
            let expected = format!("{event:?}");
            assert_eq!(format!("{:?}", round_trip(event)), expected);
        }
    }

    #[test]
    fn passing_events_are_not_recorded() {
        let chat = PeerId::chat(5).unwrap();
        assert_eq!(
            DurableEvent::of(&TgEvent::Typing {
                chat,
                user: PeerId::user(1).unwrap(),
                typing: true,
                topic: None,
            }),
            None
        );
        assert_eq!(
            DurableEvent::of(&TgEvent::FloodWait(std::time::Duration::from_secs(3))),
            None
        );
    }

    #[test]
    fn a_malformed_record_is_not_an_event() {
        let broken = DurableEvent::Reactions {
            chat: -5,
            msg_id: 1,
            reactions: "not base64!".into(),
        };
        assert!(broken.into_event().is_none());
        assert!(DurableEvent::ChatChanged { chat: 0 }.into_event().is_none());
    }
}
