//! Chats as the bridge sees them: a [`TgChat`] read from a grammers peer
//! (kind, title, the account's standing, size, forum flag, photo), the
//! dialog list with each chat's newest message and folder, and a chat's
//! "about" text. Reading is pure; the calls are methods of
//! [`TelegramApi`]. Knows nothing about portals or Matrix.

use grammers_client::peer::Peer;
use grammers_tl_types as tl;

use super::api::TelegramApi;
use super::peers::{ChatRef, TgProfile};
use super::CallError;
use crate::ids::{TgChatId, TgUserId};

/// What kind of chat it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TgChatKind {
    /// A private chat with a user.
    Private,
    /// A basic group.
    Group,
    /// A supergroup.
    Supergroup,
    /// A broadcast channel.
    Channel,
}

/// A chat the account is in and could bridge.
#[derive(Debug, Clone)]
pub struct TgChat {
    /// Which chat.
    pub id: TgChatId,
    /// Its kind.
    pub kind: TgChatKind,
    /// The title (a user's full name for a private chat).
    pub title: String,
    /// The account created the chat.
    pub creator: bool,
    /// The account is an administrator.
    pub admin: bool,
    /// Members, when Telegram says.
    pub member_count: Option<u32>,
    /// A forum supergroup (its messages live in topics).
    pub forum: bool,
    /// The public username, if any.
    pub username: Option<String>,
    /// The chat as a profile (its photo).
    pub profile: TgProfile,
    peer: Peer,
}

impl TgChat {
    /// The chat a peer is; `None` for chats that cannot be bridged (left,
    /// deactivated or migrated groups, forbidden channels, communities).
    pub fn of(peer: &Peer) -> Option<Self> {
        use tl::enums::Chat;
        let chat = |id, kind, title: &str, creator, admin, member_count, forum| TgChat {
            id,
            kind,
            title: title.to_owned(),
            creator,
            admin,
            member_count,
            forum,
            username: peer.username().map(str::to_owned),
            profile: TgProfile::of(peer),
            peer: peer.clone(),
        };
        let bare = peer.id().bare_id()?;
        match peer {
            Peer::User(user) => Some(TgChat {
                title: user.full_name(),
                ..chat(
                    TgChatId::User(TgUserId(bare)),
                    TgChatKind::Private,
                    "",
                    false,
                    false,
                    Some(2),
                    false,
                )
            }),
            Peer::Group(group) => match &group.raw {
                Chat::Chat(c) if !c.deactivated && !c.left && c.migrated_to.is_none() => {
                    Some(chat(
                        TgChatId::Group(bare),
                        TgChatKind::Group,
                        &c.title,
                        c.creator,
                        c.admin_rights.is_some(),
                        u32::try_from(c.participants_count).ok(),
                        false,
                    ))
                }
                Chat::Channel(c) if !c.left => Some(chat(
                    TgChatId::Channel(bare),
                    TgChatKind::Supergroup,
                    &c.title,
                    c.creator,
                    c.admin_rights.is_some(),
                    c.participants_count.and_then(|n| u32::try_from(n).ok()),
                    c.forum,
                )),
                _ => None,
            },
            Peer::Channel(channel) if !channel.raw.left => {
                let c = &channel.raw;
                Some(chat(
                    TgChatId::Channel(bare),
                    TgChatKind::Channel,
                    &c.title,
                    c.creator,
                    c.admin_rights.is_some(),
                    c.participants_count.and_then(|n| u32::try_from(n).ok()),
                    false,
                ))
            }
            Peer::Channel(_) | Peer::Community(_) => None,
        }
    }
}

/// One entry of the dialog list.
#[derive(Debug, Clone)]
pub struct TgDialog {
    /// The chat's id.
    pub id: TgChatId,
    /// The newest message's id, when the dialog names it.
    pub top_message: Option<i32>,
    /// In the archive folder.
    pub archived: bool,
    /// The chat, when it could be bridged.
    pub chat: Option<TgChat>,
}

impl TelegramApi {
    /// Every dialog of the account, most recent first.
    pub async fn dialogs(&self) -> Result<Vec<TgDialog>, CallError> {
        let mut dialogs = Vec::new();
        let mut iter = self.client.iter_dialogs();
        while let Some(dialog) = iter.next().await? {
            let Some(id) = dialog
                .peer_id()
                .bot_api_dialog_id()
                .and_then(TgChatId::from_dialog_id)
            else {
                continue;
            };
            let (top_message, archived) = match &dialog.raw {
                tl::enums::Dialog::Dialog(d) => (Some(d.top_message), d.folder_id == Some(1)),
                _ => (None, false),
            };
            dialogs.push(TgDialog {
                id,
                top_message,
                archived,
                chat: TgChat::of(&dialog.peer),
            });
        }
        Ok(dialogs)
    }

    /// The chat's "about" text (one full-chat call); `None` for private
    /// chats and empty texts.
    pub async fn about(&self, chat: &TgChat) -> Result<Option<String>, CallError> {
        use tl::enums::ChatFull;
        let full = match &chat.peer {
            Peer::Group(group) => match &group.raw {
                tl::enums::Chat::Chat(c) => {
                    self.invoke(&tl::functions::messages::GetFullChat { chat_id: c.id })
                        .await?
                }
                tl::enums::Chat::Channel(channel) => self.full_channel(channel).await?,
                _ => return Ok(None),
            },
            Peer::Channel(channel) => self.full_channel(&channel.raw).await?,
            _ => return Ok(None),
        };
        let tl::enums::messages::ChatFull::Full(full) = full;
        let about = match full.full_chat {
            ChatFull::Full(chat) => chat.about,
            ChatFull::ChannelFull(channel) => channel.about,
            ChatFull::CommunityFull(_) => return Ok(None),
        };
        Ok(Some(about).filter(|a| !a.is_empty()))
    }

    async fn full_channel(
        &self,
        channel: &tl::types::Channel,
    ) -> Result<tl::enums::messages::ChatFull, CallError> {
        let input = tl::types::InputChannel {
            channel_id: channel.id,
            access_hash: channel.access_hash.unwrap_or_default(),
        };
        self.invoke(&tl::functions::channels::GetFullChannel {
            channel: input.into(),
        })
        .await
    }

    /// A reference the session can act on for `chat`; `None` when it holds
    /// no usable one.
    pub async fn chat_ref(&self, chat: &TgChat) -> Option<ChatRef> {
        chat.peer.to_ref().await.ok().flatten().map(ChatRef)
    }
}
