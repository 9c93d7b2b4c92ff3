//! Peers and access hashes: turning the `Input*` references a client sends
//! into world ids, checking the access hash on every one, and back into the
//! TL `Peer` a viewer sees. Owns no state; reads users, chats and channels.

use grammers_tl_types as tl;
use serde::{Deserialize, Serialize};

use super::{ChannelId, ChatId, UserId, World};
use crate::RpcError;

/// Any chat partner: a user (private chat), a basic group or a channel
/// (supergroups are channels too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "id")]
pub enum Peer {
    /// A private chat with this user.
    User(UserId),
    /// A basic group.
    Chat(ChatId),
    /// A supergroup or broadcast channel.
    Channel(ChannelId),
}

impl Peer {
    /// The TL form.
    pub fn tl(self) -> tl::enums::Peer {
        match self {
            Peer::User(user_id) => tl::types::PeerUser { user_id }.into(),
            Peer::Chat(chat_id) => tl::types::PeerChat { chat_id }.into(),
            Peer::Channel(channel_id) => tl::types::PeerChannel { channel_id }.into(),
        }
    }

    /// From the TL form.
    pub fn from_tl(peer: &tl::enums::Peer) -> Self {
        match peer {
            tl::enums::Peer::User(p) => Peer::User(p.user_id),
            tl::enums::Peer::Chat(p) => Peer::Chat(p.chat_id),
            tl::enums::Peer::Channel(p) => Peer::Channel(p.channel_id),
        }
    }
}

/// Which id space an access hash belongs to.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Users.
    User = 1,
    /// Channels and supergroups.
    Channel = 2,
    /// Photos.
    Photo = 3,
    /// Documents.
    Document = 4,
}

/// The access hash `viewer` sees for object `id`: deterministic, but
/// different for every viewer, as Telegram's are.
pub fn access_hash(kind: Kind, id: i64, viewer: UserId) -> i64 {
    let mut x = (kind as u64) << 56
        ^ (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (viewer as u64).rotate_left(29);
    // splitmix64 finaliser: spreads the bits so hashes look random.
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (x ^ (x >> 31)) as i64
}

impl World {
    /// The user, basic group or channel with this id (id ranges do not overlap).
    pub fn peer_by_id(&self, id: i64) -> Option<Peer> {
        if self.user(id).is_some() {
            Some(Peer::User(id))
        } else if self.chat(id).is_some() {
            Some(Peer::Chat(id))
        } else {
            self.channel(id).map(|_| Peer::Channel(id))
        }
    }

    /// The access hash `viewer` must present for user `id`.
    pub fn user_access_hash(&self, id: UserId, viewer: UserId) -> i64 {
        if id == viewer {
            self.user(id).map(|u| u.access_hash).unwrap_or_default()
        } else {
            access_hash(Kind::User, id, viewer)
        }
    }

    /// The access hash `viewer` must present for channel `id`.
    pub fn channel_access_hash(&self, id: ChannelId, viewer: UserId) -> i64 {
        access_hash(Kind::Channel, id, viewer)
    }

    /// Resolves an input peer, checking existence and the access hash.
    pub fn resolve_peer(
        &self,
        viewer: UserId,
        peer: &tl::enums::InputPeer,
    ) -> Result<Peer, RpcError> {
        use tl::enums::InputPeer as P;
        match peer {
            P::Empty => Err(RpcError::peer_id_invalid()),
            P::PeerSelf => Ok(Peer::User(viewer)),
            P::Chat(c) => self
                .chat(c.chat_id)
                .map(|_| Peer::Chat(c.chat_id))
                .ok_or_else(RpcError::peer_id_invalid),
            P::User(u) => {
                if self.user(u.user_id).is_some()
                    && u.access_hash == self.user_access_hash(u.user_id, viewer)
                {
                    Ok(Peer::User(u.user_id))
                } else {
                    Err(RpcError::peer_id_invalid())
                }
            }
            P::Channel(c) => self
                .check_channel(viewer, c.channel_id, c.access_hash)
                .map(Peer::Channel),
            P::UserFromMessage(u) => {
                self.resolve_peer(viewer, &u.peer)?;
                self.user(u.user_id)
                    .map(|_| Peer::User(u.user_id))
                    .ok_or_else(RpcError::peer_id_invalid)
            }
            P::ChannelFromMessage(c) => {
                self.resolve_peer(viewer, &c.peer)?;
                self.channel(c.channel_id)
                    .map(|_| Peer::Channel(c.channel_id))
                    .ok_or_else(|| RpcError::bad_request("CHANNEL_INVALID"))
            }
        }
    }

    /// Resolves an input user, checking existence and the access hash.
    pub fn resolve_user(
        &self,
        viewer: UserId,
        user: &tl::enums::InputUser,
    ) -> Result<UserId, RpcError> {
        use tl::enums::InputUser as U;
        let invalid = || RpcError::bad_request("USER_ID_INVALID");
        match user {
            U::Empty => Err(invalid()),
            U::UserSelf => Ok(viewer),
            U::User(u) => {
                if self.user(u.user_id).is_some()
                    && u.access_hash == self.user_access_hash(u.user_id, viewer)
                {
                    Ok(u.user_id)
                } else {
                    Err(invalid())
                }
            }
            U::FromMessage(u) => self.user(u.user_id).map(|_| u.user_id).ok_or_else(invalid),
        }
    }

    /// Resolves an input channel, checking existence and the access hash.
    pub fn resolve_channel(
        &self,
        viewer: UserId,
        channel: &tl::enums::InputChannel,
    ) -> Result<ChannelId, RpcError> {
        use tl::enums::InputChannel as C;
        match channel {
            C::Empty => Err(RpcError::bad_request("CHANNEL_INVALID")),
            C::Channel(c) => self.check_channel(viewer, c.channel_id, c.access_hash),
            C::FromMessage(c) => self
                .channel(c.channel_id)
                .map(|_| c.channel_id)
                .ok_or_else(|| RpcError::bad_request("CHANNEL_INVALID")),
        }
    }

    fn check_channel(
        &self,
        viewer: UserId,
        id: ChannelId,
        hash: i64,
    ) -> Result<ChannelId, RpcError> {
        if self.channel(id).is_some() && hash == self.channel_access_hash(id, viewer) {
            Ok(id)
        } else {
            Err(RpcError::bad_request("CHANNEL_INVALID"))
        }
    }

    /// The input peer `viewer` would use for `peer` (with its access hash).
    pub fn input_peer(&self, peer: Peer, viewer: UserId) -> tl::enums::InputPeer {
        match peer {
            Peer::User(id) if id == viewer => tl::enums::InputPeer::PeerSelf,
            Peer::User(user_id) => tl::types::InputPeerUser {
                user_id,
                access_hash: self.user_access_hash(user_id, viewer),
            }
            .into(),
            Peer::Chat(chat_id) => tl::types::InputPeerChat { chat_id }.into(),
            Peer::Channel(channel_id) => tl::types::InputPeerChannel {
                channel_id,
                access_hash: self.channel_access_hash(channel_id, viewer),
            }
            .into(),
        }
    }

    /// The input channel `viewer` would use.
    pub fn input_channel(&self, channel_id: ChannelId, viewer: UserId) -> tl::enums::InputChannel {
        tl::types::InputChannel {
            channel_id,
            access_hash: self.channel_access_hash(channel_id, viewer),
        }
        .into()
    }
}
