//! Telegram ids as the bridge's own small `Copy` types: a user, a chat (a
//! private chat, a basic group or a channel/supergroup), a message id, and
//! the numbering a message id belongs to.
//!
//! They live at the crate root rather than in `telegram/` or `store/`
//! because both use them and neither may depend on the other: the store
//! keys its rows by them and knows nothing about MTProto, the Telegram
//! adapter converts the MTProto client's ids into them at its border. This module
//! depends on nothing and does no I/O.

use std::fmt;

/// A Telegram user (or bot) by its bare id, always positive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TgUserId(pub i64);

impl TgUserId {
    /// The bare id as Telegram's API numbers it.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for TgUserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A chat: with a user, a basic group, or a channel (broadcast channels and
/// supergroups alike). Each carries its bare id, the number Telegram's API
/// uses together with the kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TgChatId {
    /// A private chat with this user.
    User(TgUserId),
    /// A basic group.
    Group(i64),
    /// A channel or supergroup.
    Channel(i64),
}

/// The offset of channel ids in Bot API dialog ids (`-100…`).
const CHANNEL_OFFSET: i64 = 1_000_000_000_000;

impl TgChatId {
    /// The chat's Bot API dialog id: users positive, basic groups negative,
    /// channels `-100…`. The store keys chats by it and the chat filter
    /// lists it, so it must never change for a chat.
    pub fn dialog_id(self) -> i64 {
        match self {
            TgChatId::User(user) => user.0,
            TgChatId::Group(id) => -id,
            TgChatId::Channel(id) => -(CHANNEL_OFFSET + id),
        }
    }

    /// The chat a Bot API dialog id names; `None` outside every range
    /// Telegram assigns.
    pub fn from_dialog_id(id: i64) -> Option<Self> {
        if (1..=0xff_ffff_ffff).contains(&id) {
            Some(TgChatId::User(TgUserId(id)))
        } else if (-999_999_999_999..=-1).contains(&id) {
            Some(TgChatId::Group(-id))
        } else if (-1_997_852_516_352..=-1_000_000_000_001).contains(&id)
            || (-4_000_000_000_000..=-2_002_147_483_649).contains(&id)
        {
            Some(TgChatId::Channel(-id - CHANNEL_OFFSET))
        } else {
            None
        }
    }

    /// The bare id without the kind.
    pub fn bare_id(self) -> i64 {
        match self {
            TgChatId::User(user) => user.0,
            TgChatId::Group(id) | TgChatId::Channel(id) => id,
        }
    }

    /// The user of a private chat.
    pub fn user(self) -> Option<TgUserId> {
        match self {
            TgChatId::User(user) => Some(user),
            _ => None,
        }
    }

    /// Which numbering the chat's message ids belong to, for an account
    /// whose own user id is `account`: one counter per account for private
    /// chats and basic groups, one per channel for channels and supergroups.
    pub fn message_scope(self, account: TgUserId) -> MsgScope {
        match self {
            TgChatId::Channel(id) => MsgScope::Channel(id),
            TgChatId::User(_) | TgChatId::Group(_) => MsgScope::Account(account),
        }
    }
}

impl fmt::Display for TgChatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.dialog_id().fmt(f)
    }
}

/// The numbering a message id belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MsgScope {
    /// The account's own counter (private chats and basic groups).
    Account(TgUserId),
    /// One channel's (or supergroup's) counter.
    Channel(i64),
}

/// A Telegram message id. Ids are only unique within their [`MsgScope`]:
/// callers keep the scope (or the chat) next to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TgMsgId(pub i32);

impl TgMsgId {
    /// The id as Telegram's API numbers it.
    pub fn get(self) -> i32 {
        self.0
    }
}

impl fmt::Display for TgMsgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialog_ids_round_trip_per_kind() {
        for chat in [
            TgChatId::User(TgUserId(42)),
            TgChatId::Group(42),
            TgChatId::Channel(42),
        ] {
            assert_eq!(TgChatId::from_dialog_id(chat.dialog_id()), Some(chat));
        }
        assert_eq!(TgChatId::Group(7).dialog_id(), -7);
        assert_eq!(TgChatId::Channel(7).dialog_id(), -1_000_000_000_007);
        assert_eq!(TgChatId::from_dialog_id(0), None);
    }

    #[test]
    fn only_channels_number_their_own_messages() {
        let me = TgUserId(1);
        assert_eq!(TgChatId::Group(5).message_scope(me), MsgScope::Account(me));
        assert_eq!(
            TgChatId::User(TgUserId(9)).message_scope(me),
            MsgScope::Account(me)
        );
        assert_eq!(TgChatId::Channel(5).message_scope(me), MsgScope::Channel(5));
    }
}
