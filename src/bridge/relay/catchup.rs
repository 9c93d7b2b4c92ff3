//! Filling the gap after a crash. Events read from the update stream are
//! kept in the inbox until applied (see [`super::inbox`]); this covers what
//! the inbox cannot, such as a database written by a release without one,
//! or a gap Telegram itself could not fill. At start, before live events
//! are handled, the dialog list the start-up sync read tells each chat's
//! newest message; a portal whose newest handled message is older gets the
//! missing messages from the chat's history, oldest first. Chats that are
//! up to date cost nothing. Deterministic transaction ids make a repeated
//! Matrix send after a crash a no-op on the homeserver.
use super::*;

/// At most this many missed messages are fetched per chat; older ones are
/// announced in the room instead.
const CATCH_UP_LIMIT: usize = 500;

/// A portal whose chat has messages newer than the newest one handled.
struct Behind {
    portal: Portal,
    handled: i32,
}

/// Whether a chat with top message `top` has messages after `handled`.
/// A chat with nothing handled yet is left to its initial history.
fn is_behind(top: i32, handled: Option<i32>) -> Option<i32> {
    handled.filter(|&handled| top > handled)
}

/// Where a chat's catch-up point starts when nothing of it was handled yet
/// (a portal created without initial history): its current top message,
/// so a crash before its first live message is bridged still leaves a
/// point to catch up from.
fn baseline(top: i32, handled: Option<i32>) -> Option<i32> {
    (handled.is_none() && top > 0).then_some(top)
}

impl Side {
    /// Bridges, in order, every message that reached a portal's chat after
    /// the newest one the bridge handled. Runs before live events, on the
    /// newest message ids the start-up sync read from the dialog list.
    pub(super) async fn catch_up(&self, runtime: &TelegramRuntime, top_messages: &[(PeerId, i32)]) {
        let mut total = 0;
        for chat in self.chats_behind(top_messages) {
            total += self.fill_gap(runtime.client(), &chat).await;
        }
        info!(messages = total, "caught up with missed messages");
    }

    /// The portals whose chats have unhandled messages.
    fn chats_behind(&self, top_messages: &[(PeerId, i32)]) -> Vec<Behind> {
        let mut behind = Vec::new();
        for &(chat, top) in top_messages {
            let portal = match self.store.portals().by_peer(chat) {
                Ok(Some(portal)) => portal,
                Ok(None) => continue,
                Err(error) => {
                    warn!(%error, "could not read a portal");
                    continue;
                }
            };
            let handled = match self.store.messages().newest_handled(chat) {
                Ok(handled) => handled,
                Err(error) => {
                    warn!(%error, "could not read a chat's newest bridged message");
                    continue;
                }
            };
            if let Some(handled) = is_behind(top, handled) {
                behind.push(Behind { portal, handled });
            } else if let Some(top) = baseline(top, handled) {
                if let Err(error) = self.store.messages().mark_handled(chat, top) {
                    warn!(%error, "could not record where a chat's catch-up starts");
                }
            }
        }
        behind
    }

    /// Bridges one chat's messages newer than `chat.handled`; returns how
    /// many it found.
    async fn fill_gap(&self, client: &grammers_client::Client, chat: &Behind) -> usize {
        let Some(peer) = self.cached_ref(chat.portal.peer).await else {
            return 0;
        };
        let mut missed = Vec::new();
        let mut iter = client.iter_messages(peer).limit(CATCH_UP_LIMIT + 1);
        loop {
            match iter.next().await {
                Ok(Some(message)) if message.id() > chat.handled => missed.push(message),
                Ok(_) => break,
                Err(error) => {
                    warn!(%error, "could not read a chat's missed messages");
                    break;
                }
            }
        }
        let truncated = missed.len() > CATCH_UP_LIMIT;
        missed.truncate(CATCH_UP_LIMIT);
        if truncated {
            self.notify_in(
                &chat.portal.room_id,
                &format!(
                    "More than {CATCH_UP_LIMIT} messages arrived on Telegram while the bridge was not running; only the newest {CATCH_UP_LIMIT} are bridged here."
                ),
            )
            .await;
        }
        let count = missed.len();
        for message in missed.iter().rev() {
            if let Err(error) = self.handle_message_contained(&chat.portal, message).await {
                warn!(%error, "could not bridge a missed message");
            }
        }
        if count > 0 {
            info!(room_id = %chat.portal.room_id, count, "missed messages bridged");
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_chats_with_newer_messages_are_behind() {
        assert_eq!(is_behind(10, Some(7)), Some(7));
        assert_eq!(is_behind(7, Some(7)), None);
        assert_eq!(is_behind(5, Some(7)), None);
        assert_eq!(is_behind(10, None), None, "initial history decides");
    }

    #[test]
    fn chats_with_nothing_handled_start_at_their_top_message() {
        assert_eq!(baseline(10, None), Some(10));
        assert_eq!(baseline(0, None), None, "an empty chat");
        assert_eq!(baseline(10, Some(3)), None);
    }
}
