//! API methods answered by the world: deserialises the request, calls the
//! world's operations and serialises the boxed result. One file per TL
//! namespace; handlers never see the session layer.

use grammers_tl_types::{self as tl, Deserializable, Serializable};

use super::build::PeerSet;
use super::messages::{MsgKey, Place};
use super::peers::Peer;
use super::updates::{updates_of, EventKind};
use super::{CallCtx, UserId, World};
use crate::RpcError;

mod channels;
mod forums;
mod messages;
mod updates;
mod upload;
mod users;

/// Answers an authorized API call that reads or changes the world.
///
/// `request` is the serialized function, starting with its constructor id.
/// Returns `None` when the method is not one the world answers (the protocol
/// layer then answers it itself or reports it as not implemented); otherwise
/// the serialized (boxed) result or an RPC error.
pub fn handle(
    world: &mut World,
    ctx: &CallCtx,
    request: &[u8],
) -> Option<Result<Vec<u8>, RpcError>> {
    let id = u32::from_le_bytes(request.get(..4)?.try_into().ok()?);
    let body = &request[4..];
    updates::handle(world, ctx, id, body)
        .or_else(|| users::handle(world, ctx, id, body))
        .or_else(|| messages::handle(world, ctx, id, body))
        .or_else(|| channels::handle(world, ctx, id, body))
        .or_else(|| forums::handle(world, ctx, id, body))
        .or_else(|| upload::handle(world, ctx, id, body))
}

/// Routes a constructor id to the handler of the matching TL function.
macro_rules! route {
    ($id:expr, $body:expr, { $($f:ty => $handler:expr),* $(,)? }) => {
        match $id {
            $( <$f as grammers_tl_types::Identifiable>::CONSTRUCTOR_ID => {
                Some($crate::world::rpc::decode::<$f>($body).and_then($handler))
            } )*
            _ => None,
        }
    };
}
pub(crate) use route;

/// Deserialises a request body (after its constructor id).
pub(crate) fn decode<T: Deserializable>(body: &[u8]) -> Result<T, RpcError> {
    T::from_bytes(body).map_err(|_| RpcError::bad_request("INPUT_REQUEST_INVALID"))
}

/// Serialises a boxed result.
pub(crate) fn encode<T: Serializable>(value: T) -> Result<Vec<u8>, RpcError> {
    Ok(value.to_bytes())
}

/// Clamps a client's `limit` the way Telegram does (0 or less = default).
pub(crate) fn clamp_limit(limit: i32, max: usize) -> usize {
    if limit <= 0 {
        max
    } else {
        (limit as usize).min(max)
    }
}

impl World {
    /// The updates answering a call that created messages: `updateMessageID`
    /// for each random id, then each new message with its pts.
    pub(crate) fn new_messages_result(
        &self,
        viewer: UserId,
        items: &[(MsgKey, Option<i64>)],
        extra: Vec<tl::enums::Update>,
    ) -> tl::enums::Updates {
        let mut peers = PeerSet::default();
        let mut updates = Vec::new();
        for &(key, random_id) in items {
            if let (Some(random_id), Some(id)) =
                (random_id, self.message(key).and_then(|m| m.id_for(viewer)))
            {
                updates.push(tl::types::UpdateMessageId { id, random_id }.into());
            }
        }
        for &(key, _) in items {
            updates.extend(self.logged_update(viewer, key, false, &mut peers));
        }
        for update in &extra {
            if let tl::enums::Update::Channel(c) = update {
                peers.add(Peer::Channel(c.channel_id));
            }
        }
        updates.extend(extra);
        let (users, chats) = self.peer_lists(&peers, viewer);
        updates_of(updates, users, chats, self.last_date)
    }

    /// The logged new-message (or edit) event of `key`, rendered for `viewer`.
    pub(crate) fn logged_update(
        &self,
        viewer: UserId,
        key: MsgKey,
        edit: bool,
        peers: &mut PeerSet,
    ) -> Option<tl::enums::Update> {
        let matches = |kind: &EventKind| match kind {
            EventKind::NewMessage(k) => !edit && *k == key,
            EventKind::EditMessage(k) => edit && *k == key,
            _ => false,
        };
        match self.message(key)?.place {
            Place::Channel(channel) => {
                let event = self
                    .channel(channel)?
                    .updates
                    .log
                    .iter()
                    .rev()
                    .find(|e| matches(&e.kind))?;
                self.render_channel(channel, viewer, event, peers)
            }
            _ => {
                let event = self
                    .boxes
                    .get(&viewer)?
                    .log
                    .iter()
                    .rev()
                    .find(|e| matches(&e.kind))?;
                self.render_common(viewer, event, peers)
            }
        }
    }

    /// A `messages.Messages` with the given messages: `channelMessages` for
    /// channels, a slice when `total` says there are more.
    pub(crate) fn messages_result(
        &self,
        viewer: UserId,
        channel: Option<Peer>,
        keys: &[MsgKey],
        total: usize,
    ) -> tl::enums::messages::Messages {
        let mut peers = PeerSet::default();
        let messages: Vec<tl::enums::Message> = keys
            .iter()
            .filter_map(|&k| self.tl_message(k, viewer, &mut peers))
            .collect();
        let (users, chats) = self.peer_lists(&peers, viewer);
        if let Some(Peer::Channel(id)) = channel {
            return tl::types::messages::ChannelMessages {
                inexact: false,
                pts: self.channel(id).map_or(0, |c| c.updates.pts),
                count: total as i32,
                offset_id_offset: None,
                messages,
                topics: Vec::new(),
                chats,
                users,
            }
            .into();
        }
        if total > messages.len() {
            return tl::types::messages::MessagesSlice {
                inexact: false,
                count: total as i32,
                next_rate: None,
                offset_id_offset: None,
                search_flood: None,
                messages,
                topics: Vec::new(),
                chats,
                users,
            }
            .into();
        }
        tl::types::messages::Messages {
            messages,
            topics: Vec::new(),
            chats,
            users,
        }
        .into()
    }

    /// An empty `updates` with just the chats (for calls whose effect
    /// reached the caller through other updates).
    pub(crate) fn chat_updates(
        &self,
        viewer: UserId,
        peer: Peer,
        updates: Vec<tl::enums::Update>,
    ) -> tl::enums::Updates {
        let mut peers = PeerSet::default();
        peers.add(peer);
        let (users, chats) = self.peer_lists(&peers, viewer);
        updates_of(updates, users, chats, self.last_date)
    }
}

/// The paging parameters of `messages.getHistory` and `messages.search`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Paging {
    /// Start below this id (0 = at the newest).
    pub offset_id: i32,
    /// Shift the start by this many messages (negative = newer).
    pub add_offset: i32,
    /// Most messages to return.
    pub limit: usize,
    /// Only ids above this.
    pub min_id: i32,
    /// Only ids below this (0 = no bound).
    pub max_id: i32,
}

/// Picks a page of ids (descending) the way `messages.getHistory` does:
/// start below `offset_id` (or at the newest), shift by `add_offset`, take
/// `limit`, and keep ids strictly between `min_id` and `max_id`.
pub(crate) fn page(ids_desc: &[i32], p: &Paging) -> Vec<i32> {
    let base = if p.offset_id > 0 {
        ids_desc
            .iter()
            .position(|&id| id < p.offset_id)
            .unwrap_or(ids_desc.len())
    } else {
        0
    };
    let start = (base as i64 + i64::from(p.add_offset)).clamp(0, ids_desc.len() as i64) as usize;
    ids_desc[start..]
        .iter()
        .copied()
        .take(p.limit)
        .filter(|&id| id > p.min_id && (p.max_id == 0 || id < p.max_id))
        .collect()
}
