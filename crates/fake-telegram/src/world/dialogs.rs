//! Dialogs and read state: which chats an account lists, pinned and
//! archived dialogs, inbox/outbox read marks and unread counts, contacts.
//! Owns the per-account dialog state; reads messages and memberships.

use grammers_tl_types as tl;

use super::build::{notify_settings, PeerSet};
use super::peers::Peer;
use super::{UserId, World};

/// What an account remembers about one dialog.
#[derive(Debug, Clone, Default)]
pub struct DialogState {
    /// Pinned to the top; `pin_order` sorts pinned dialogs (higher first).
    pub pinned: bool,
    /// Order among pinned dialogs.
    pub pin_order: i32,
    /// 0 = main list, 1 = archive.
    pub folder_id: i32,
    /// Incoming messages up to this id are read.
    pub read_inbox_max_id: i32,
    /// The other side read our messages up to this id.
    pub read_outbox_max_id: i32,
}

/// One entry of an account's dialog list, sortable by recency.
#[derive(Debug, Clone, Copy)]
pub struct DialogEntry {
    /// The chat.
    pub peer: Peer,
    /// Its newest message id (in the viewer's numbering).
    pub top_message: i32,
    /// Date of that message.
    pub date: i32,
    /// Pinned to the top.
    pub pinned: bool,
    /// Order among pinned dialogs.
    pub pin_order: i32,
    /// 0 = main list, 1 = archive.
    pub folder_id: i32,
}

impl World {
    /// The dialog state `user` keeps for `peer`.
    pub fn dialog_state(&self, user: UserId, peer: Peer) -> DialogState {
        self.dialogs.get(&(user, peer)).cloned().unwrap_or_default()
    }

    pub(crate) fn dialog_state_mut(&mut self, user: UserId, peer: Peer) -> &mut DialogState {
        self.dialogs.entry((user, peer)).or_default()
    }

    /// The folder (`Some(1)` archived) a dialog is in, as `folder_id` fields want it.
    pub(crate) fn folder_of(&self, user: UserId, peer: Peer) -> Option<i32> {
        let folder = self.dialog_state(user, peer).folder_id;
        (folder != 0).then_some(folder)
    }

    /// Incoming messages `user` has not read in the chat with `peer`.
    pub fn unread_count(&self, user: UserId, peer: Peer) -> i32 {
        let read = self.dialog_state(user, peer).read_inbox_max_id;
        self.message_ids(user, peer)
            .into_iter()
            .filter(|&id| id > read)
            .filter_map(|id| self.message_key(user, peer, id))
            .filter(|&key| self.message(key).is_some_and(|m| m.from != user))
            .count() as i32
    }

    /// Unread messages over all dialogs.
    pub fn total_unread(&self, user: UserId) -> i32 {
        self.dialog_entries(user)
            .iter()
            .map(|d| self.unread_count(user, d.peer))
            .sum()
    }

    /// Whether `owner` has `other` in their contacts.
    pub fn is_contact(&self, owner: UserId, other: UserId) -> bool {
        self.contacts
            .get(&owner)
            .is_some_and(|c| c.contains(&other))
    }

    /// Adds `contact` to `owner`'s contacts.
    pub fn add_contact(&mut self, owner: UserId, contact: UserId) {
        self.contacts.entry(owner).or_default().insert(contact);
    }

    /// `owner`'s contacts.
    pub fn contacts_of(&self, owner: UserId) -> Vec<UserId> {
        self.contacts
            .get(&owner)
            .map(|c| c.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Pins or unpins a dialog for `user`.
    pub fn set_dialog_pinned(&mut self, user: UserId, peer: Peer, pinned: bool) {
        let order = self
            .dialogs
            .values()
            .map(|d| d.pin_order)
            .max()
            .unwrap_or(0)
            + 1;
        let state = self.dialog_state_mut(user, peer);
        state.pinned = pinned;
        state.pin_order = if pinned { order } else { 0 };
    }

    /// Moves a dialog to the archive (folder 1) or back (folder 0).
    pub fn set_dialog_folder(&mut self, user: UserId, peer: Peer, folder_id: i32) {
        self.dialog_state_mut(user, peer).folder_id = folder_id;
    }

    /// Every dialog of `user`, pinned first, then newest first.
    pub fn dialog_entries(&self, user: UserId) -> Vec<DialogEntry> {
        let mut peers: Vec<Peer> = self
            .boxes
            .get(&user)
            .map(|b| b.by_peer.keys().copied().collect())
            .unwrap_or_default();
        peers.extend(self.chats_of(user).map(|c| Peer::Chat(c.id)));
        peers.extend(self.channels_of(user).map(|c| Peer::Channel(c.id)));
        peers.sort();
        peers.dedup();
        // A migrated basic group lives on as its supergroup.
        peers.retain(|&p| !matches!(p, Peer::Chat(c) if self.chat(c).is_some_and(|c| c.migrated_to.is_some())));
        let mut entries: Vec<DialogEntry> = peers
            .into_iter()
            .filter_map(|peer| {
                let top_message = self.top_message_id(user, peer);
                if top_message == 0 {
                    return None;
                }
                let date = self
                    .message_key(user, peer, top_message)
                    .and_then(|k| self.message(k))
                    .map_or(0, |m| m.date);
                let state = self.dialog_state(user, peer);
                Some(DialogEntry {
                    peer,
                    top_message,
                    date,
                    pinned: state.pinned,
                    pin_order: state.pin_order,
                    folder_id: state.folder_id,
                })
            })
            .collect();
        entries.sort_by(|a, b| {
            b.pinned
                .cmp(&a.pinned)
                .then(b.pin_order.cmp(&a.pin_order))
                .then(b.date.cmp(&a.date))
                .then(b.top_message.cmp(&a.top_message))
                .then(b.peer.cmp(&a.peer))
        });
        entries
    }

    /// The TL dialog of `user` with `peer`.
    pub(crate) fn tl_dialog(
        &self,
        user: UserId,
        peer: Peer,
        peers: &mut PeerSet,
    ) -> tl::enums::Dialog {
        peers.add(peer);
        let state = self.dialog_state(user, peer);
        let pts = match peer {
            Peer::Channel(c) => self.channel(c).map(|c| c.updates.pts),
            _ => None,
        };
        tl::types::Dialog {
            pinned: state.pinned,
            unread_mark: false,
            view_forum_as_messages: false,
            peer: peer.tl(),
            top_message: self.top_message_id(user, peer),
            read_inbox_max_id: state.read_inbox_max_id,
            read_outbox_max_id: state.read_outbox_max_id,
            unread_count: self.unread_count(user, peer),
            unread_mentions_count: 0,
            unread_reactions_count: 0,
            unread_poll_votes_count: 0,
            notify_settings: notify_settings(),
            pts,
            draft: None,
            folder_id: (state.folder_id != 0).then_some(state.folder_id),
            ttl_period: None,
        }
        .into()
    }
}
