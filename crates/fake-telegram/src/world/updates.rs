//! Update boxes: every user's common box (pts/qts/seq/date, message ids of
//! private chats and basic groups) and every channel's box (pts, message
//! ids), each with an event log. Events are stored by kind and rendered for
//! the viewer when pushed or served by `updates.getDifference` /
//! `updates.getChannelDifference`, so both always agree. Owns the logs;
//! decides nothing about who should see an event.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use grammers_tl_types as tl;

use super::build::PeerSet;
use super::messages::MsgKey;
use super::peers::Peer;
use super::{ChannelId, Origin, UserId, World};
use crate::RpcError;

/// What happened, in a form that can be rendered for any viewer.
#[derive(Debug, Clone)]
pub enum EventKind {
    /// A message arrived.
    NewMessage(MsgKey),
    /// A message was edited (or its reactions changed).
    EditMessage(MsgKey),
    /// Messages were deleted (ids in this box).
    DeleteMessages(Vec<i32>),
    /// The box owner read incoming messages up to `max_id`.
    ReadInbox { peer: Peer, max_id: i32 },
    /// The other side read the box owner's messages up to `max_id`.
    ReadOutbox { peer: Peer, max_id: i32 },
    /// Messages were pinned or unpinned.
    Pinned {
        peer: Peer,
        ids: Vec<i32>,
        pinned: bool,
    },
}

/// One logged event.
#[derive(Debug, Clone)]
pub struct Event {
    /// pts after the event.
    pub pts: i32,
    /// How many pts the event used.
    pub pts_count: i32,
    /// When it happened.
    pub date: i32,
    /// What happened.
    pub kind: EventKind,
}

/// A user's common box.
#[derive(Debug, Default)]
pub struct CommonBox {
    /// Current pts.
    pub pts: i32,
    /// Current qts (secret chats and bot updates; never changes here).
    pub qts: i32,
    /// Current seq; pushes carry `seq: 0`, so it stays put.
    pub seq: i32,
    /// Date of the last event.
    pub date: i32,
    /// Last message id handed out.
    pub last_id: i32,
    /// Message id → message.
    pub messages: BTreeMap<i32, MsgKey>,
    /// Message ids per chat.
    pub by_peer: HashMap<Peer, BTreeSet<i32>>,
    /// Every pts event, in order.
    pub log: Vec<Event>,
}

/// A channel's box.
#[derive(Debug, Clone, Default)]
pub struct ChannelBox {
    /// Current pts.
    pub pts: i32,
    /// Last message id handed out.
    pub last_id: i32,
    /// Message id → message.
    pub messages: BTreeMap<i32, MsgKey>,
    /// Every pts event, in order.
    pub log: Vec<Event>,
}

/// Wraps updates the way Telegram pushes them.
pub fn updates_of(
    updates: Vec<tl::enums::Update>,
    users: Vec<tl::enums::User>,
    chats: Vec<tl::enums::Chat>,
    date: i32,
) -> tl::enums::Updates {
    tl::types::Updates {
        updates,
        users,
        chats,
        date,
        seq: 0,
    }
    .into()
}

impl World {
    /// Appends an event to `user`'s common box and returns its pts.
    pub(crate) fn log_common(&mut self, user: UserId, pts_count: i32, kind: EventKind) -> i32 {
        let date = self.now();
        let b = self.boxes.entry(user).or_default();
        b.pts += pts_count;
        b.date = date;
        b.log.push(Event {
            pts: b.pts,
            pts_count,
            date,
            kind,
        });
        b.pts
    }

    /// Appends an event to a channel's box and returns its pts.
    pub(crate) fn log_channel(
        &mut self,
        channel: ChannelId,
        pts_count: i32,
        kind: EventKind,
    ) -> i32 {
        let date = self.now();
        let Some(c) = self.channel_mut(channel) else {
            return 0;
        };
        let b = &mut c.updates;
        b.pts += pts_count;
        b.log.push(Event {
            pts: b.pts,
            pts_count,
            date,
            kind,
        });
        b.pts
    }

    /// Renders a common-box event for its owner.
    pub(crate) fn render_common(
        &self,
        owner: UserId,
        event: &Event,
        peers: &mut PeerSet,
    ) -> Option<tl::enums::Update> {
        let (pts, pts_count) = (event.pts, event.pts_count);
        Some(match &event.kind {
            EventKind::NewMessage(key) => {
                let message = self.tl_message(*key, owner, peers)?;
                tl::types::UpdateNewMessage {
                    message,
                    pts,
                    pts_count,
                }
                .into()
            }
            EventKind::EditMessage(key) => {
                let message = self.tl_message(*key, owner, peers)?;
                tl::types::UpdateEditMessage {
                    message,
                    pts,
                    pts_count,
                }
                .into()
            }
            EventKind::DeleteMessages(ids) => tl::types::UpdateDeleteMessages {
                messages: ids.clone(),
                pts,
                pts_count,
            }
            .into(),
            EventKind::ReadInbox { peer, max_id } => {
                peers.add(*peer);
                tl::types::UpdateReadHistoryInbox {
                    folder_id: self.folder_of(owner, *peer),
                    peer: peer.tl(),
                    top_msg_id: None,
                    max_id: *max_id,
                    still_unread_count: self.unread_count(owner, *peer),
                    pts,
                    pts_count,
                }
                .into()
            }
            EventKind::ReadOutbox { peer, max_id } => {
                peers.add(*peer);
                tl::types::UpdateReadHistoryOutbox {
                    peer: peer.tl(),
                    max_id: *max_id,
                    pts,
                    pts_count,
                }
                .into()
            }
            EventKind::Pinned { peer, ids, pinned } => {
                peers.add(*peer);
                tl::types::UpdatePinnedMessages {
                    pinned: *pinned,
                    peer: peer.tl(),
                    messages: ids.clone(),
                    pts,
                    pts_count,
                }
                .into()
            }
        })
    }

    /// Renders a channel-box event for `viewer`.
    pub(crate) fn render_channel(
        &self,
        channel_id: ChannelId,
        viewer: UserId,
        event: &Event,
        peers: &mut PeerSet,
    ) -> Option<tl::enums::Update> {
        let (pts, pts_count) = (event.pts, event.pts_count);
        peers.add(Peer::Channel(channel_id));
        Some(match &event.kind {
            EventKind::NewMessage(key) => {
                let message = self.tl_message(*key, viewer, peers)?;
                tl::types::UpdateNewChannelMessage {
                    message,
                    pts,
                    pts_count,
                }
                .into()
            }
            EventKind::EditMessage(key) => {
                let message = self.tl_message(*key, viewer, peers)?;
                tl::types::UpdateEditChannelMessage {
                    message,
                    pts,
                    pts_count,
                }
                .into()
            }
            EventKind::DeleteMessages(ids) => tl::types::UpdateDeleteChannelMessages {
                channel_id,
                messages: ids.clone(),
                pts,
                pts_count,
            }
            .into(),
            EventKind::Pinned { ids, pinned, .. } => tl::types::UpdatePinnedChannelMessages {
                pinned: *pinned,
                channel_id,
                messages: ids.clone(),
                pts,
                pts_count,
            }
            .into(),
            EventKind::ReadInbox { .. } | EventKind::ReadOutbox { .. } => return None,
        })
    }

    /// Pushes the last event of `user`'s common box to `user`'s connections.
    pub(crate) fn push_last_common(&self, user: UserId, origin: Origin) {
        let Some(event) = self.boxes.get(&user).and_then(|b| b.log.last()) else {
            return;
        };
        let mut peers = PeerSet::default();
        if let Some(update) = self.render_common(user, event, &mut peers) {
            let (users, chats) = self.peer_lists(&peers, user);
            self.send_push(
                user,
                updates_of(vec![update], users, chats, event.date),
                origin,
            );
        }
    }

    /// Pushes the last event of a channel's box to every participant.
    pub(crate) fn push_last_channel(&self, channel: ChannelId, origin: Origin) {
        let Some(c) = self.channel(channel) else {
            return;
        };
        let Some(event) = c.updates.log.last() else {
            return;
        };
        for &viewer in c.participants.keys() {
            let mut peers = PeerSet::default();
            if let Some(update) = self.render_channel(channel, viewer, event, &mut peers) {
                let (users, chats) = self.peer_lists(&peers, viewer);
                self.send_push(
                    viewer,
                    updates_of(vec![update], users, chats, event.date),
                    origin,
                );
            }
        }
    }

    /// Makes the next `updates.getDifference` of `account` answer
    /// `differenceTooLong`.
    pub fn force_difference_too_long(&mut self, account: UserId) {
        self.quirks.too_long_accounts.insert(account);
    }

    /// Makes the next `updates.getChannelDifference` for `channel` answer
    /// `channelDifferenceTooLong`.
    pub fn force_channel_difference_too_long(&mut self, channel: ChannelId) {
        self.quirks.too_long_channels.insert(channel);
    }

    /// Most events one `updates.getDifference` returns before slicing.
    pub fn set_difference_slice(&mut self, events: usize) {
        self.quirks.difference_slice = events.max(1);
    }

    /// Current pts of `user`'s common box (cheap, unlike [`World::state`]).
    pub fn common_pts(&self, user: UserId) -> i32 {
        self.boxes.get(&user).map_or(0, |b| b.pts)
    }

    /// Date of the newest event in the world.
    pub fn last_date(&self) -> i32 {
        self.last_date
    }

    /// `updates.getState` for `user`.
    pub fn state(&self, user: UserId) -> tl::types::updates::State {
        let b = self.boxes.get(&user);
        tl::types::updates::State {
            pts: b.map_or(0, |b| b.pts),
            qts: b.map_or(0, |b| b.qts),
            date: b.map_or(0, |b| b.date).max(self.last_date),
            seq: b.map_or(0, |b| b.seq),
            unread_count: self.total_unread(user),
        }
    }

    /// `updates.getDifference`: the events after `pts`, sliced at
    /// [`super::Quirks::difference_slice`].
    pub(crate) fn difference(
        &mut self,
        user: UserId,
        pts: i32,
        date: i32,
        pts_total_limit: Option<i32>,
    ) -> Result<tl::enums::updates::Difference, RpcError> {
        let state = self.state(user);
        let b = self
            .boxes
            .get(&user)
            .ok_or_else(|| RpcError::unauthorized("AUTH_KEY_UNREGISTERED"))?;
        if pts > b.pts || pts < 0 {
            return Err(RpcError::bad_request("PERSISTENT_TIMESTAMP_INVALID"));
        }
        let gap = b.pts - pts;
        if self.quirks.too_long_accounts.remove(&user)
            || pts_total_limit.is_some_and(|limit| gap > limit)
        {
            return Ok(tl::types::updates::DifferenceTooLong { pts: state.pts }.into());
        }
        // As Telegram does, point the client at channels that changed since
        // its state's date; it then asks each for its own difference.
        let stale_channels: Vec<tl::enums::Update> = self
            .channels_of(user)
            .filter(|c| c.updates.log.last().is_some_and(|e| e.date >= date))
            .map(|c| {
                tl::types::UpdateChannelTooLong {
                    channel_id: c.id,
                    pts: None,
                }
                .into()
            })
            .collect();
        if gap == 0 && stale_channels.is_empty() {
            return Ok(tl::types::updates::DifferenceEmpty {
                date: state.date,
                seq: state.seq,
            }
            .into());
        }
        let b = self
            .boxes
            .get(&user)
            .ok_or_else(|| RpcError::unauthorized("AUTH_KEY_UNREGISTERED"))?;
        let pending: Vec<&Event> = b.log.iter().filter(|e| e.pts > pts).collect();
        let sliced = pending.len() > self.quirks.difference_slice;
        let events = &pending[..pending.len().min(self.quirks.difference_slice)];
        let mut peers = PeerSet::default();
        let mut new_messages = Vec::new();
        let mut other_updates = Vec::new();
        for event in events {
            match self.render_common(user, event, &mut peers) {
                Some(tl::enums::Update::NewMessage(u)) => new_messages.push(u.message),
                Some(update) => other_updates.push(update),
                None => {}
            }
        }
        if !sliced {
            for update in stale_channels {
                if let tl::enums::Update::ChannelTooLong(u) = &update {
                    peers.add(Peer::Channel(u.channel_id));
                }
                other_updates.push(update);
            }
        }
        let (users, chats) = self.peer_lists(&peers, user);
        let new_encrypted_messages = Vec::new();
        if sliced {
            let last = events.last().map_or(pts, |e| e.pts);
            let date = events.last().map_or(state.date, |e| e.date);
            let intermediate_state = tl::types::updates::State {
                pts: last,
                date,
                ..state
            }
            .into();
            return Ok(tl::types::updates::DifferenceSlice {
                new_messages,
                new_encrypted_messages,
                other_updates,
                chats,
                users,
                intermediate_state,
            }
            .into());
        }
        Ok(tl::types::updates::Difference {
            new_messages,
            new_encrypted_messages,
            other_updates,
            chats,
            users,
            state: state.into(),
        }
        .into())
    }

    /// `updates.getChannelDifference` for `viewer`.
    pub(crate) fn channel_difference(
        &mut self,
        viewer: UserId,
        channel_id: ChannelId,
        pts: i32,
        limit: i32,
    ) -> Result<tl::enums::updates::ChannelDifference, RpcError> {
        let channel = self
            .channel(channel_id)
            .ok_or_else(|| RpcError::bad_request("CHANNEL_INVALID"))?;
        if !channel.can_read(viewer) {
            return Err(RpcError::bad_request("CHANNEL_PRIVATE"));
        }
        let current = channel.updates.pts;
        if pts < 0 || pts > current {
            return Err(RpcError::bad_request("PERSISTENT_TIMESTAMP_INVALID"));
        }
        if self.quirks.too_long_channels.remove(&channel_id) {
            return Ok(self.channel_too_long(viewer, channel_id).into());
        }
        if pts == current {
            return Ok(tl::types::updates::ChannelDifferenceEmpty {
                r#final: true,
                pts,
                timeout: None,
            }
            .into());
        }
        let channel = self
            .channel(channel_id)
            .ok_or_else(|| RpcError::bad_request("CHANNEL_INVALID"))?;
        let limit = usize::try_from(limit.clamp(1, 100_000)).unwrap_or(100);
        let pending: Vec<&Event> = channel.updates.log.iter().filter(|e| e.pts > pts).collect();
        let events = &pending[..pending.len().min(limit)];
        let is_final = events.len() == pending.len();
        let mut peers = PeerSet::default();
        let mut new_messages = Vec::new();
        let mut other_updates = Vec::new();
        for event in events {
            match self.render_channel(channel_id, viewer, event, &mut peers) {
                Some(tl::enums::Update::NewChannelMessage(u)) => new_messages.push(u.message),
                Some(update) => other_updates.push(update),
                None => {}
            }
        }
        let (users, chats) = self.peer_lists(&peers, viewer);
        Ok(tl::types::updates::ChannelDifference {
            r#final: is_final,
            pts: events.last().map_or(pts, |e| e.pts),
            timeout: None,
            new_messages,
            other_updates,
            chats,
            users,
        }
        .into())
    }

    /// `channelDifferenceTooLong`: the dialog and the latest messages.
    fn channel_too_long(
        &self,
        viewer: UserId,
        channel_id: ChannelId,
    ) -> tl::types::updates::ChannelDifferenceTooLong {
        let mut peers = PeerSet::default();
        let peer = Peer::Channel(channel_id);
        let dialog = self.tl_dialog(viewer, peer, &mut peers);
        let ids = self.message_ids(viewer, peer);
        let messages = ids
            .iter()
            .rev()
            .take(100)
            .filter_map(|&id| self.message_key(viewer, peer, id))
            .filter_map(|key| self.tl_message(key, viewer, &mut peers))
            .collect();
        let (users, chats) = self.peer_lists(&peers, viewer);
        tl::types::updates::ChannelDifferenceTooLong {
            r#final: true,
            timeout: None,
            dialog,
            messages,
            chats,
            users,
        }
    }
}
