//! The events the Telegram side delivers to the bridge core: what happened
//! on Telegram, reduced to what the bridge may act on. Plain data; where
//! they come from is [`super::updates`], how they are kept until applied is
//! [`super::journal`].

use std::time::Duration;

use grammers_client::message::Message;
use grammers_session::types::PeerId;
use grammers_tl_types as tl;

/// Something that happened on Telegram that the bridge may act on.
#[derive(Debug, Clone)]
pub enum TgEvent {
    /// A message arrived (or was sent by the account from another app).
    NewMessage(Box<Message>),
    /// A message was edited.
    MessageEdited(Box<Message>),
    /// Something about a chat changed (title, photo, about, members):
    /// the bridge re-reads the chat.
    ChatChanged(PeerId),
    /// A user's profile (name, photo) changed: the bridge re-reads it.
    UserChanged(PeerId),
    /// A chat got a new title.
    TitleChanged {
        /// The chat.
        chat: PeerId,
        /// The new title.
        title: String,
    },
    /// A basic group became a supergroup.
    Migrated {
        /// The basic group.
        from: PeerId,
        /// The new supergroup.
        to: PeerId,
    },
    /// Messages were deleted. `chat` is the channel for channel messages;
    /// `None` for ids in the account's numbering (private chats and basic
    /// groups), whose chat only the message map knows.
    MessagesDeleted {
        /// The chat, when Telegram names it.
        chat: Option<PeerId>,
        /// The deleted message ids.
        ids: Vec<i32>,
    },
    /// The reactions on a message changed (the complete new list).
    Reactions {
        /// The chat.
        chat: PeerId,
        /// The message.
        msg_id: i32,
        /// Telegram's reaction summary.
        reactions: Box<tl::enums::MessageReactions>,
    },
    /// Someone started or stopped typing.
    Typing {
        /// The chat.
        chat: PeerId,
        /// Who is typing.
        user: PeerId,
        /// `false` when they stopped.
        typing: bool,
        /// The forum topic they type in, if Telegram names one.
        topic: Option<i32>,
    },
    /// A chat was read up to a message.
    Read {
        /// The chat.
        chat: PeerId,
        /// The newest message read.
        max_id: i32,
        /// `true`: the other side read the account's messages; `false`:
        /// the account read the chat (on another app).
        outbox: bool,
        /// The forum topic read (`messages.readDiscussion` on another app);
        /// `None` for the chat's own read mark, which in a forum is its
        /// General topic's.
        topic: Option<i32>,
    },
    /// Messages were pinned or unpinned.
    Pinned {
        /// The chat.
        chat: PeerId,
        /// The messages.
        ids: Vec<i32>,
        /// `false` for an unpin.
        pinned: bool,
    },
    /// Telegram asked the account to wait before calling again.
    FloodWait(Duration),
    /// The session was revoked or logged out elsewhere; the runtime stopped.
    SessionEnded {
        /// Telegram's error name, e.g. `SESSION_REVOKED`.
        reason: String,
    },
    /// Telegram pushed updates the client could not read; they were skipped
    /// and their content fetched again (see [`super::unreadable`]).
    UpdatesUnreadable {
        /// How many since the last such event.
        count: u64,
    },
    /// The connection to Telegram closed; the client connects again on its
    /// own and fetches the missed updates that Telegram numbers. Reactions
    /// are not numbered, so those set meanwhile must be read again.
    ConnectionLost,
}

impl TgEvent {
    /// The chat an event belongs to, for per-chat ordering; `None` for
    /// account-wide events.
    pub fn chat(&self) -> Option<PeerId> {
        match self {
            TgEvent::NewMessage(m) | TgEvent::MessageEdited(m) => Some(m.peer_id()),
            TgEvent::ChatChanged(peer) => Some(*peer),
            TgEvent::UserChanged(user) => Some(*user),
            TgEvent::TitleChanged { chat, .. } => Some(*chat),
            // Queued with the supergroup, so its first messages wait until
            // the portal follows it.
            TgEvent::Migrated { to, .. } => Some(*to),
            TgEvent::MessagesDeleted { chat, .. } => *chat,
            TgEvent::Reactions { chat, .. }
            | TgEvent::Typing { chat, .. }
            | TgEvent::Read { chat, .. }
            | TgEvent::Pinned { chat, .. } => Some(*chat),
            TgEvent::FloodWait(_)
            | TgEvent::SessionEnded { .. }
            | TgEvent::UpdatesUnreadable { .. }
            | TgEvent::ConnectionLost => None,
        }
    }
}
