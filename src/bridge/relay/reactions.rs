//! Telegram reactions → Matrix annotations. Telegram sends the whole
//! reaction summary of a message whenever it changes; the bridge diffs it
//! against the reactions it bridged before: a new one becomes an
//! `m.reaction` from the reacting user's ghost (or the owner), a vanished
//! one is redacted. Reading Telegram's summary is the Telegram adapter's
//! ([`crate::telegram::reactions`]); the diff is pure; only
//! [`Side::on_reactions`] does I/O.

use std::collections::HashSet;

use ruma::api::client::redact::redact_event;
use ruma::events::reaction::ReactionEventContent;
use ruma::events::relation::Annotation;

use super::inbound::scope_key;
use super::*;
use crate::store::ReactionMapping;
use crate::telegram::reactions::{ReactionList, TgReaction};

/// The reactions to add and the bridged ones to take back. A bridged
/// reaction is only taken back when the summary proves it is gone: the list
/// is complete, or it is the account's own and those are known.
pub(super) fn diff<'a>(
    bridged: &'a [ReactionMapping],
    now: &ReactionList,
    me: PeerId,
) -> (Vec<TgReaction>, Vec<&'a ReactionMapping>) {
    let current: HashSet<(PeerId, &str)> = now
        .reactions
        .iter()
        .map(|r| (r.reactor, r.emoji.as_str()))
        .collect();
    let known: HashSet<(PeerId, &str)> = bridged
        .iter()
        .map(|r| (r.reactor, r.emoji.as_str()))
        .collect();
    let added = now
        .reactions
        .iter()
        .filter(|r| !known.contains(&(r.reactor, r.emoji.as_str())))
        .cloned()
        .collect();
    let removed = bridged
        .iter()
        .filter(|r| !current.contains(&(r.reactor, r.emoji.as_str())))
        .filter(|r| now.complete || (r.reactor == me && now.own_known))
        .collect();
    (added, removed)
}

impl Side {
    /// Applies a message's new reaction summary to its bridged event.
    pub(super) async fn on_reactions(
        &self,
        chat: PeerId,
        msg_id: i32,
        now: ReactionList,
    ) -> Result<(), PortalError> {
        let scope = self.scope_of(chat);
        let target = self.store.messages().by_telegram(scope, msg_id)?;
        let Some(target) = target.into_iter().next() else {
            return Ok(());
        };
        let Some(me) = self.me() else {
            return Ok(());
        };
        // The owner's reaction set from Matrix is recorded under the chat's
        // send lock once Telegram took it; Telegram's summary with it can
        // arrive first, and must wait, or it would come back as a second
        // reaction from the owner.
        let send_lock = self.send_lock(chat);
        let _sending = send_lock.lock().await;
        let bridged = self.store.reactions().of_message(scope, msg_id)?;
        let (added, removed) = diff(&bridged, &now, me);
        for gone in removed {
            let txn_id = txn::derived("tgunreact", &[gone.event_id.as_str()]);
            let request =
                redact_event::v3::Request::new(gone.room_id.clone(), gone.event_id.clone(), txn_id);
            let redacted = self.client.as_bot().send(request).await.map(drop);
            super::outage_or_warn(redacted, "could not redact a reaction removed on Telegram")?;
            self.store
                .reactions()
                .delete(scope, msg_id, gone.reactor, &gone.emoji)?;
        }
        for reaction in added {
            let Some(reactor_id) = reaction.reactor.bare_id() else {
                continue;
            };
            let sender = self.matrix_user_of(reactor_id).await?;
            self.ensure_joined(&target.room_id, &sender).await?;
            let content = ReactionEventContent::new(Annotation::new(
                target.event_id.clone(),
                reaction.emoji.clone(),
            ));
            let date = match reaction.date {
                0 => jiff_now(),
                date => i64::from(date),
            };
            let txn_id = txn::derived(
                "tgreact",
                &[
                    &scope_key(scope),
                    &msg_id.to_string(),
                    &reaction
                        .reactor
                        .bot_api_dialog_id()
                        .unwrap_or_default()
                        .to_string(),
                    &reaction.emoji,
                    &date.to_string(),
                ],
            );
            let request =
                send_message_event::v3::Request::new(target.room_id.clone(), txn_id, &content)
                    .map_err(|e| PortalError::Build(e.to_string()))?;
            // One refused reaction (the homeserver may already hold the
            // same annotation) must not cost the others of the summary.
            let event_id = match self.send_as(&sender, request).await {
                Ok(event_id) => event_id,
                Err(error) if error.is_outage() => return Err(error.into()),
                Err(error) => {
                    warn!(%error, "could not bridge a reaction");
                    continue;
                }
            };
            self.store.reactions().insert(&ReactionMapping {
                scope,
                tg_msg_id: msg_id,
                reactor: reaction.reactor,
                emoji: reaction.emoji,
                chat,
                room_id: target.room_id.clone(),
                event_id,
            })?;
        }
        Ok(())
    }
}

/// Now in Unix seconds, for reactions Telegram gives no date.
fn jiff_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64) -> PeerId {
        PeerId::user(id).unwrap()
    }

    fn reaction(reactor: i64, emoji: &str) -> TgReaction {
        TgReaction {
            reactor: user(reactor),
            emoji: emoji.into(),
            date: 1_700_000_000,
        }
    }

    fn list(reactions: Vec<TgReaction>, complete: bool) -> ReactionList {
        ReactionList {
            reactions,
            complete,
            own_known: true,
        }
    }

    fn bridged(reactor: i64, emoji: &str) -> ReactionMapping {
        ReactionMapping {
            scope: MessageScope::Account(1),
            tg_msg_id: 5,
            reactor: user(reactor),
            emoji: emoji.into(),
            chat: user(2),
            room_id: OwnedRoomId::try_from("!r:example.org").unwrap(),
            event_id: ruma::OwnedEventId::try_from(format!("$e{reactor}{emoji}:example.org"))
                .unwrap(),
        }
    }

    #[test]
    fn a_complete_list_adds_new_and_removes_vanished_reactions() {
        let me = user(1);
        let now = list(vec![reaction(2, "👍"), reaction(1, "❤")], true);
        let stored = vec![bridged(2, "👍"), bridged(3, "😂")];
        let (added, removed) = diff(&stored, &now, me);
        assert_eq!(added, vec![reaction(1, "❤")]);
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].reactor, user(3));
    }

    #[test]
    fn an_empty_summary_removes_everything_bridged() {
        let me = user(1);
        let stored = vec![bridged(2, "👍")];
        let (added, removed) = diff(&stored, &list(Vec::new(), true), me);
        assert!(added.is_empty());
        assert_eq!(removed.len(), 1);
    }

    #[test]
    fn without_a_reactor_list_only_own_reactions_are_diffed() {
        let me = user(1);
        let now = list(vec![reaction(1, "👍")], false);
        let stored = vec![bridged(2, "😂"), bridged(1, "❤")];
        let (added, removed) = diff(&stored, &now, me);
        assert_eq!(added.len(), 1);
        assert_eq!((added[0].reactor, added[0].emoji.as_str()), (me, "👍"));
        let removed: Vec<_> = removed.iter().map(|r| r.reactor).collect();
        assert_eq!(
            removed,
            vec![me],
            "others' reactions stay: the list is partial"
        );
    }

    #[test]
    fn when_own_reactions_are_unknown_nothing_is_taken_back() {
        let me = user(1);
        let now = ReactionList {
            own_known: false,
            ..list(Vec::new(), false)
        };
        let stored = vec![bridged(1, "❤")];
        let (_, removed) = diff(&stored, &now, me);
        assert!(removed.is_empty());
    }
}
