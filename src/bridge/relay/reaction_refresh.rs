//! Reactions missed while the bridge was away from Telegram. Telegram's
//! difference repeats messages, edits and deletions after any absence, but
//! not reaction changes, which carry no update number. So after a start and
//! after every lost connection, the bridge asks Telegram again for the
//! reactions of the newest bridged messages of the chats that were active
//! most recently (see [`crate::telegram::reactions`]); the answers come
//! back through the update stream and are bridged as any reaction change,
//! which only sends what differs from what the room already has.
//!
//! This module decides which messages are asked about and when; it sends
//! nothing to Matrix itself.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use grammers_mtsender::InvocationError;

use super::*;
use crate::telegram::reactions::{ask_for_reactions, listen};

/// Chats whose messages get their reactions read again: the most recently
/// active ones, where reactions are likely. Bounded so a start with
/// hundreds of portals costs a few requests, not hundreds.
const REFRESHED_CHATS: usize = 20;

/// Newest bridged messages per chat whose reactions are read again.
const REFRESHED_MESSAGES: usize = 50;

/// Pause after a lost connection before asking, so the client's own
/// reconnection and difference come first.
pub(super) const AFTER_RECONNECT: Duration = Duration::from_secs(2);

/// The longest pause between attempts while Telegram cannot be reached.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(60);

/// The most recently active chats, newest first, at most `capacity`.
#[derive(Debug)]
pub(super) struct RecentChats {
    chats: VecDeque<PeerId>,
    capacity: usize,
}

impl RecentChats {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            chats: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// Moves `chat` to the front; the least recent falls off when full.
    pub(super) fn touch(&mut self, chat: PeerId) {
        if self.chats.front() == Some(&chat) {
            return;
        }
        self.chats.retain(|&known| known != chat);
        self.chats.push_front(chat);
        self.chats.truncate(self.capacity);
    }

    /// Adds `chat` behind the ones already known, if there is room: what a
    /// start learns from the dialog list ranks below live activity.
    pub(super) fn add_older(&mut self, chat: PeerId) {
        if !self.is_full() && !self.chats.contains(&chat) {
            self.chats.push_back(chat);
        }
    }

    pub(super) fn is_full(&self) -> bool {
        self.chats.len() >= self.capacity
    }

    pub(super) fn newest_first(&self) -> Vec<PeerId> {
        self.chats.iter().copied().collect()
    }
}

/// What the side keeps for reading reactions again.
pub(super) struct ReactionRefresh {
    recent: Mutex<RecentChats>,
    /// A pass is waiting to run; further requests until it starts are
    /// covered by it.
    pending: AtomicBool,
}

impl Default for ReactionRefresh {
    fn default() -> Self {
        Self {
            recent: Mutex::new(RecentChats::new(REFRESHED_CHATS)),
            pending: AtomicBool::new(false),
        }
    }
}

impl ReactionRefresh {
    fn recent(&self) -> std::sync::MutexGuard<'_, RecentChats> {
        self.recent.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How one pass over the recent chats ended.
#[derive(Debug, PartialEq, Eq)]
enum Pass {
    /// Every chat was asked (or refused on its own).
    Done { chats: usize },
    /// Telegram could not be reached; try again later.
    Unreachable,
}

impl Side {
    /// Notes that `chat` had a message just now.
    pub(super) fn note_active(&self, chat: PeerId) {
        self.reaction_refresh.recent().touch(chat);
    }

    /// Notes the chats a start found with their newest messages (newest
    /// dialog first), behind any live activity.
    pub(super) fn note_dialogs(&self, top_messages: &[(PeerId, i32)]) {
        let mut recent = self.reaction_refresh.recent();
        for &(chat, _) in top_messages {
            // The dialog list can hold hundreds of portals; only the first
            // few count.
            if recent.is_full() {
                break;
            }
            if matches!(self.store.portals().by_peer(chat), Ok(Some(_))) {
                recent.add_older(chat);
            }
        }
    }

    /// Reads the recent chats' reactions again after `delay`, retrying
    /// while Telegram cannot be reached. A request while one is waiting is
    /// covered by it.
    pub(super) fn refresh_reactions_after(self: &Arc<Self>, delay: Duration) {
        if self.reaction_refresh.pending.swap(true, Ordering::AcqRel) {
            return;
        }
        let side = Arc::clone(self);
        tokio::spawn(async move {
            let mut stop = side.stop.clone();
            let mut pause = delay;
            loop {
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    _ = stop.wait_for(|stop| *stop) => return,
                }
                side.reaction_refresh
                    .pending
                    .store(false, Ordering::Release);
                match side.refresh_pass().await {
                    Pass::Done { chats } => {
                        debug!(chats, "asked Telegram again for recent reactions");
                        if delay.is_zero() {
                            // The pass at start is the last of start-up's
                            // work: what only start-up ran can go.
                            crate::code_pages::release_startup_code();
                        }
                        return;
                    }
                    Pass::Unreachable => {}
                }
                // Another request arrived meanwhile: its task carries on.
                if side.reaction_refresh.pending.swap(true, Ordering::AcqRel) {
                    return;
                }
                pause = (pause * 2).clamp(Duration::from_secs(1), MAX_RETRY_PAUSE);
            }
        });
    }

    async fn refresh_pass(&self) -> Pass {
        let Some(client) = self.telegram.get() else {
            return Pass::Done { chats: 0 };
        };
        match listen(client).await {
            Ok(()) => {}
            Err(InvocationError::Rpc(error)) => {
                debug!(%error, "Telegram did not give the update state")
            }
            Err(error) => {
                debug!(%error, "could not reach Telegram to read reactions again");
                return Pass::Unreachable;
            }
        }
        let chats = self.reaction_refresh.recent().newest_first();
        let mut asked = 0;
        for chat in chats {
            let ids = match self
                .store
                .messages()
                .newest_ids_in_chat(chat, REFRESHED_MESSAGES)
            {
                Ok(ids) => ids,
                Err(error) => {
                    warn!(%error, "could not read a chat's newest messages");
                    continue;
                }
            };
            if ids.is_empty() {
                continue;
            }
            let Some(peer) = self.cached_ref(chat).await else {
                continue;
            };
            match ask_for_reactions(client, peer, &ids).await {
                Ok(()) => asked += 1,
                // This chat refused (e.g. the account left it); the others
                // may still answer.
                Err(InvocationError::Rpc(error)) => {
                    debug!(%error, "Telegram did not give a chat's reactions")
                }
                Err(error) => {
                    debug!(%error, "could not ask Telegram for reactions");
                    return Pass::Unreachable;
                }
            }
        }
        Pass::Done { chats: asked }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(id: i64) -> PeerId {
        PeerId::chat(id).unwrap()
    }

    #[test]
    fn the_most_recent_chats_are_kept_newest_first() {
        let mut recent = RecentChats::new(3);
        for id in [1, 2, 3, 2, 4] {
            recent.touch(chat(id));
        }
        assert_eq!(recent.newest_first(), [chat(4), chat(2), chat(3)]);
    }

    #[test]
    fn dialogs_from_a_start_rank_below_live_activity() {
        let mut recent = RecentChats::new(3);
        recent.touch(chat(9));
        for id in [9, 1, 2, 3] {
            recent.add_older(chat(id));
        }
        assert_eq!(recent.newest_first(), [chat(9), chat(1), chat(2)]);
    }
}
