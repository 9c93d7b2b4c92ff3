//! Messages and Telegram's id scoping. A message is stored once (its
//! content, reactions, pin state) with one *copy* per box that shows it:
//! in private chats and basic groups every participant's common box gives
//! the message its own id (so two accounts see different ids for the same
//! message); in channels and supergroups there is one copy with the
//! channel's id. Owns message content; update logging lives in
//! [`super::updates`].

use grammers_tl_types as tl;

use super::files::{DocumentId, PhotoId};
use super::peers::Peer;
use super::{ChannelId, ChatId, UserId, World};

/// Index of a message in the store (not a Telegram id).
pub type MsgKey = usize;

/// Where a message lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Place {
    /// A private chat between two users (lower id first; both equal for
    /// "Saved Messages").
    Private(UserId, UserId),
    /// A basic group.
    Group(ChatId),
    /// A channel or supergroup.
    Channel(ChannelId),
}

impl Place {
    /// The place `viewer` means by `peer`.
    pub fn from_peer(viewer: UserId, peer: Peer) -> Self {
        match peer {
            Peer::User(other) => Place::Private(viewer.min(other), viewer.max(other)),
            Peer::Chat(chat) => Place::Group(chat),
            Peer::Channel(channel) => Place::Channel(channel),
        }
    }

    /// The peer `viewer` sees for this place (the other side of a private chat).
    pub fn peer_for(self, viewer: UserId) -> Peer {
        match self {
            Place::Private(a, b) => Peer::User(if a == viewer { b } else { a }),
            Place::Group(chat) => Peer::Chat(chat),
            Place::Channel(channel) => Peer::Channel(channel),
        }
    }
}

/// Which box a copy of a message lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// A user's common box (private chats, basic groups).
    User(UserId),
    /// A channel's box.
    Channel(ChannelId),
}

/// One box's view of a message: its id there.
#[derive(Debug, Clone, Copy)]
pub struct Copy {
    /// The box.
    pub owner: Owner,
    /// The message id in that box.
    pub id: i32,
    /// Deleted from this box.
    pub deleted: bool,
}

/// Where a forwarded message originally came from.
#[derive(Debug, Clone)]
pub struct Forward {
    /// The original author (a user, or the channel for channel posts).
    pub from: Option<Peer>,
    /// Name of an author that hides their account.
    pub from_name: Option<String>,
    /// Original date.
    pub date: i32,
    /// Original post id when forwarded from a broadcast channel.
    pub channel_post: Option<i32>,
}

/// Attached media.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// A photo.
    Photo(PhotoId),
    /// A document (file, video, voice, audio, sticker, animation).
    Document(DocumentId),
    /// Media kept with the message itself (location, contact, poll, dice,
    /// game), stored in its TL form.
    Other(super::files::OtherMediaId),
}

/// A message (or service message) with all its copies.
#[derive(Debug, Clone)]
pub struct Message {
    /// Where it lives.
    pub place: Place,
    /// The author. Broadcast channel posts keep their author here but show
    /// the channel as sender.
    pub from: UserId,
    /// Sending date.
    pub date: i32,
    /// The signature of a post in a broadcast channel that signs its
    /// messages: the author's name as it was when they posted.
    pub post_author: Option<String>,
    /// Text (caption for media).
    pub text: String,
    /// Formatting entities of `text`.
    pub entities: Vec<tl::enums::MessageEntity>,
    /// The message it replies to.
    pub reply_to: Option<MsgKey>,
    /// The forum topic (its id) the message belongs to; `None` outside
    /// forums and in the General topic. A topic's creating service message
    /// carries its own id here.
    pub topic: Option<i32>,
    /// Forward header.
    pub fwd: Option<Forward>,
    /// Last edit date.
    pub edit_date: Option<i32>,
    /// Attached media.
    pub media: Option<Media>,
    /// Album id shared by the messages of one album.
    pub grouped_id: Option<i64>,
    /// Set for service messages.
    pub action: Option<tl::enums::MessageAction>,
    /// Reactions: who reacted with which emoji, in order.
    pub reactions: Vec<(UserId, String)>,
    /// Whether the message is pinned.
    pub pinned: bool,
    /// Sent without notification.
    pub silent: bool,
    /// The copies of the message in the boxes that show it.
    pub copies: Vec<Copy>,
}

impl Message {
    /// Whether this is a broadcast channel post (sender shown as the channel).
    pub fn is_post(&self, world: &World) -> bool {
        matches!(self.place, Place::Channel(c) if world.channel(c).is_some_and(|c| c.broadcast))
    }

    /// The id of this message in `viewer`'s view, if it has one there.
    pub fn id_for(&self, viewer: UserId) -> Option<i32> {
        self.copies
            .iter()
            .find(|c| {
                !c.deleted
                    && (matches!(self.place, Place::Channel(_)) || c.owner == Owner::User(viewer))
            })
            .map(|c| c.id)
    }
}

/// All messages ever sent.
#[derive(Debug, Default)]
pub struct Store {
    messages: Vec<Message>,
}

impl Store {
    /// Adds a message without copies.
    pub fn insert(&mut self, message: Message) -> MsgKey {
        self.messages.push(message);
        self.messages.len() - 1
    }

    /// A message by key.
    pub fn get(&self, key: MsgKey) -> Option<&Message> {
        self.messages.get(key)
    }

    /// A message by key, to change it.
    pub fn get_mut(&mut self, key: MsgKey) -> Option<&mut Message> {
        self.messages.get_mut(key)
    }
}

impl World {
    /// A message by key.
    pub fn message(&self, key: MsgKey) -> Option<&Message> {
        self.messages.get(key)
    }

    /// The message `viewer` calls `id` in the chat with `peer`.
    pub fn message_key(&self, viewer: UserId, peer: Peer, id: i32) -> Option<MsgKey> {
        match peer {
            Peer::Channel(channel) => self.channel(channel)?.updates.messages.get(&id).copied(),
            _ => {
                let key = *self.boxes.get(&viewer)?.messages.get(&id)?;
                let place = self.messages.get(key)?.place;
                (place.peer_for(viewer) == peer).then_some(key)
            }
        }
    }

    /// The message `viewer` calls `id` in its common box, whatever the chat.
    pub fn common_message_key(&self, viewer: UserId, id: i32) -> Option<MsgKey> {
        self.boxes.get(&viewer)?.messages.get(&id).copied()
    }

    /// Ids of the messages `viewer` sees in the chat with `peer`, ascending.
    pub fn message_ids(&self, viewer: UserId, peer: Peer) -> Vec<i32> {
        match peer {
            Peer::Channel(channel) => self
                .channel(channel)
                .map(|c| c.updates.messages.keys().copied().collect())
                .unwrap_or_default(),
            _ => self
                .boxes
                .get(&viewer)
                .and_then(|b| b.by_peer.get(&peer))
                .map(|ids| ids.iter().copied().collect())
                .unwrap_or_default(),
        }
    }

    /// The newest message id `viewer` sees with `peer` (0 if none).
    pub fn top_message_id(&self, viewer: UserId, peer: Peer) -> i32 {
        match peer {
            Peer::Channel(channel) => self
                .channel(channel)
                .and_then(|c| c.updates.messages.keys().next_back().copied())
                .unwrap_or(0),
            _ => self
                .boxes
                .get(&viewer)
                .and_then(|b| b.by_peer.get(&peer))
                .and_then(|ids| ids.iter().next_back().copied())
                .unwrap_or(0),
        }
    }
}
