//! Users and chats as the bridge shows them: a [`TgProfile`] (what a ghost
//! is named after and which photo it shows), a chat's members with their
//! [`TgRole`], and the profile or chat photo to download. Read from
//! grammers' peers into plain values; the calls that need the network are
//! methods of [`TelegramApi`]. Knows nothing about Matrix.

use grammers_client::peer::{Peer, Role, User};
use grammers_session::types::PeerRef;
use grammers_tl_types as tl;
use tracing::debug;

use super::api::TelegramApi;
use super::media::TgFileLocation;
use super::CallError;
use crate::ids::TgUserId;

/// A Telegram user's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TgUser {
    /// The user.
    pub id: TgUserId,
    /// First name (empty when unset).
    pub first_name: String,
    /// Last name (empty when unset).
    pub last_name: String,
    /// Username without `@` (empty when unset).
    pub username: String,
    /// A deleted account.
    pub deleted: bool,
}

/// A user, or a group or channel speaking as itself, as its ghost shows it.
#[derive(Debug, Clone)]
pub struct TgProfile {
    /// The bare id (a user's, or the chat's), the ghost's number.
    pub id: i64,
    /// The user's names; `None` for a group or channel.
    pub user: Option<TgUser>,
    /// A group's or channel's title (empty for users and unnamed chats).
    pub title: String,
    /// The current photo's id; `None` without a photo.
    pub photo_id: Option<i64>,
    /// Kept to reach the photo.
    peer: Peer,
}

impl TgProfile {
    /// The profile of any peer.
    pub fn of(peer: &Peer) -> Self {
        let user = match peer {
            Peer::User(user) => Some(user_of(user)),
            _ => None,
        };
        TgProfile {
            id: peer.id().bare_id().unwrap_or_default(),
            user,
            title: match peer {
                Peer::User(_) => String::new(),
                other => other.name().unwrap_or_default().to_owned(),
            },
            photo_id: photo_id(peer),
            peer: peer.clone(),
        }
    }

    /// The profile of a user.
    pub fn of_user(user: &User) -> Self {
        Self::of(&Peer::User(user.clone()))
    }
}

fn user_of(user: &User) -> TgUser {
    TgUser {
        id: TgUserId(user.id().bare_id().unwrap_or_default()),
        first_name: user.first_name().unwrap_or_default().to_owned(),
        last_name: user.last_name().unwrap_or_default().to_owned(),
        username: user.username().unwrap_or_default().to_owned(),
        deleted: user.deleted(),
    }
}

/// The photo id of a user, group or channel; `None` when it has none.
pub(crate) fn photo_id(peer: &Peer) -> Option<i64> {
    match peer {
        Peer::User(user) => user.photo().map(|p| p.photo_id),
        Peer::Group(group) => group.photo().map(|p| p.photo_id),
        Peer::Channel(channel) => channel.photo().map(|p| p.photo_id),
        Peer::Community(community) => community.photo().map(|p| p.photo_id),
    }
}

/// A member's standing in a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TgRole {
    /// The chat's creator.
    Creator,
    /// An administrator.
    Admin,
    /// An ordinary member.
    Member,
    /// Banned from the chat.
    Banned,
    /// Left the chat.
    Left,
}

/// A chat member.
#[derive(Debug, Clone)]
pub struct TgMember {
    /// Who.
    pub profile: TgProfile,
    /// Their standing.
    pub role: TgRole,
}

/// A profile or chat photo to mirror: its id (the cache key) and where to
/// fetch it, in its big size.
#[derive(Debug, Clone, PartialEq)]
pub struct TgPhoto {
    /// Telegram's photo id; a changed photo has a new id.
    pub id: i64,
    /// Where to download it.
    pub location: TgFileLocation,
}

/// A chat the account can act on (with the access the session holds).
#[derive(Debug, Clone, Copy)]
pub struct ChatRef(pub(super) PeerRef);

impl ChatRef {
    /// The chat behind a grammers reference.
    pub fn new(chat: PeerRef) -> Self {
        ChatRef(chat)
    }
}

impl TelegramApi {
    /// The current photo of `profile`, in its big size; `None` when it has
    /// none or the session holds no usable reference to it.
    pub async fn photo_of(&self, profile: &TgProfile) -> Option<TgPhoto> {
        let id = profile.photo_id?;
        let input = match profile.peer.to_ref().await {
            Ok(Some(input)) => input,
            _ => {
                debug!("no usable reference for a photo");
                return None;
            }
        };
        Some(TgPhoto {
            id,
            location: TgFileLocation::anywhere(
                tl::types::InputPeerPhotoFileLocation {
                    big: true,
                    peer: input.into(),
                    photo_id: id,
                }
                .into(),
            ),
        })
    }

    /// The first `limit` members of `chat` with their roles.
    pub async fn members(&self, chat: ChatRef, limit: usize) -> Result<Vec<TgMember>, CallError> {
        let mut members = Vec::new();
        let mut iter = self.client.iter_participants(chat.0);
        while let Some(participant) = iter.next().await? {
            members.push(TgMember {
                profile: TgProfile::of_user(&participant.user),
                role: match participant.role {
                    Role::Creator(_) => TgRole::Creator,
                    Role::Admin(_) => TgRole::Admin,
                    Role::Banned(_) => TgRole::Banned,
                    Role::Left(_) => TgRole::Left,
                    _ => TgRole::Member,
                },
            });
            if members.len() >= limit {
                break;
            }
        }
        Ok(members)
    }
}
