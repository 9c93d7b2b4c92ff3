//! Changes to messages already bridged, Telegram → Matrix: edits become
//! `m.replace` events from the original sender (each edit once, keyed on its
//! edit date and a digest of its text, since Telegram dates edits to the
//! second), deletions become redactions. Messages the bridge never
//! bridged are left alone. It never sends anything to Telegram.

use ruma::api::client::redact::redact_event;
use ruma::events::relation::Replacement;
use ruma::events::room::message::{MessageType, Relation, RoomMessageEventContentWithoutRelation};

use super::inbound::scope_key;
use super::*;
use crate::store::EditStamp;
use crate::telegram::answer::edit_stamp;
use crate::telegram::reactions::reactions_of;

impl Side {
    /// Bridges a Telegram edit as a replacement of the bridged event, and
    /// the reactions an edit update may carry.
    pub(super) async fn on_edit(&self, message: &Message) -> Result<(), PortalError> {
        let chat = message.peer_id();
        let Some(portal) = self.store.portals().by_peer(chat)? else {
            return Ok(());
        };
        let scope = self.scope_of(chat);
        let me = self.me();
        if let Some(now) = me.and_then(|me| reactions_of(message, me)) {
            self.on_reactions(chat, message.id(), now).await?;
        }
        // Without an edit date the update only changed counters (views,
        // reactions), not the content.
        let Some(stamp) = edit_stamp(message) else {
            return Ok(());
        };
        let send_lock = self.send_lock(chat);
        let _sending = match message.outgoing() {
            true => Some(send_lock.lock().await),
            false => None,
        };
        let original = self.store.messages().by_telegram(scope, message.id())?;
        let Some(original) = original.into_iter().next() else {
            drop(_sending);
            return self.on_edit_before_its_message(message, &stamp).await;
        };
        let bridged = self.store.messages().bridged_edit(scope, message.id())?;
        if bridged.is_some_and(|bridged| bridged.covers(&stamp)) {
            return Ok(());
        }
        let sender = self.sender_of(message).await?;
        self.let_channel_post(&portal, &sender).await;
        let txn_id = txn::derived(
            "tgedit",
            &[
                &scope_key(scope),
                &message.id().to_string(),
                &stamp.date.to_string(),
                &stamp.digest,
            ],
        );
        // The room the message went to (a forum topic's, or the chat's own).
        let room_id = original.room_id.clone();
        let request = match self.media_edit(message, &original.event_id).await {
            Some(edit) => crate::bridge::media::send_request(room_id, txn_id, &edit)
                .map_err(|e| PortalError::Build(e.to_string()))?,
            None => {
                let content = self.message_content(message).await;
                let content = replacement(content, original.event_id);
                send_message_event::v3::Request::new(room_id, txn_id, &content)
                    .map_err(|e| PortalError::Build(e.to_string()))?
            }
        };
        self.send_as(&sender, request).await?;
        self.store
            .messages()
            .record_edit(scope, message.id(), &stamp)?;
        Ok(())
    }

    /// An edit of a message that was never bridged. Telegram may push an
    /// edit while the client is still fetching the missed updates that hold
    /// the message itself (after a reconnection, under a flood wait), and
    /// the client applies it at once. The edit carries the whole message as
    /// it is now, so a message newer than anything handled in its chat is
    /// bridged from it, edited; the message, when it comes, is then already
    /// bridged. An older one was left out on purpose and stays out.
    async fn on_edit_before_its_message(
        &self,
        message: &Message,
        stamp: &EditStamp,
    ) -> Result<(), PortalError> {
        let chat = message.peer_id();
        let newest = self.store.messages().newest_handled(chat)?;
        if newest.is_none_or(|newest| message.id() <= newest) {
            debug!("edit of a message that was never bridged");
            return Ok(());
        }
        info!("an edit arrived before its message; the message is bridged as edited");
        self.on_message(message).await?;
        let scope = self.scope_of(chat);
        if !self
            .store
            .messages()
            .by_telegram(scope, message.id())?
            .is_empty()
        {
            // A repeat of this edit is not sent as a replacement of itself.
            self.store
                .messages()
                .record_edit(scope, message.id(), stamp)?;
        }
        Ok(())
    }

    /// Redacts the events of deleted Telegram messages and forgets them.
    pub(super) async fn on_deleted(&self, chat: PeerId, ids: &[i32]) -> Result<(), PortalError> {
        let scope = self.scope_of(chat);
        for &id in ids {
            let parts = self.store.messages().by_telegram(scope, id)?;
            for part in &parts {
                let txn_id = txn::derived(
                    "tgdel",
                    &[&scope_key(scope), &id.to_string(), &part.part.to_string()],
                );
                let mut request = redact_event::v3::Request::new(
                    part.room_id.clone(),
                    part.event_id.clone(),
                    txn_id,
                );
                request.reason = Some("Deleted on Telegram".to_owned());
                let redacted = self.client.as_bot().send(request).await.map(drop);
                outage_or_warn(redacted, "could not redact a message deleted on Telegram")?;
            }
            if !parts.is_empty() {
                self.store.reactions().delete_message(scope, id)?;
                self.store.messages().delete_telegram(scope, id)?;
                self.store.messages().forget_edit(scope, id)?;
            }
        }
        // A deleted topic takes its creating message (the topic's id) along.
        self.on_topics_deleted(chat, ids).await
    }

    /// Splits a deletion in the account's numbering (which names no chat)
    /// into one deletion per chat, found through the message map, so each
    /// is applied in its chat's order. Ids the map does not know are
    /// remembered: their message may still wait in its chat's queue, and is
    /// then not bridged at all.
    pub(super) fn deletions_by_chat(&self, event: TgEvent) -> Vec<TgEvent> {
        let TgEvent::MessagesDeleted { chat: None, ids } = event else {
            return vec![event];
        };
        let scope = MessageScope::Account(self.self_id());
        let mut by_chat: Vec<(PeerId, Vec<i32>)> = Vec::new();
        for id in ids {
            let chat = match self.store.messages().by_telegram(scope, id) {
                Ok(parts) => parts.first().map(|part| part.chat),
                Err(error) => {
                    warn!(%error, "could not look up a deleted message");
                    None
                }
            };
            let Some(chat) = chat else {
                self.remember_early_deletion(id);
                continue;
            };
            match by_chat.iter_mut().find(|(c, _)| *c == chat) {
                Some((_, ids)) => ids.push(id),
                None => by_chat.push((chat, vec![id])),
            }
        }
        by_chat
            .into_iter()
            .map(|(chat, ids)| TgEvent::MessagesDeleted {
                chat: Some(chat),
                ids,
            })
            .collect()
    }
}

impl Side {
    /// Notes (in the store, so a restart keeps it) that a message in the
    /// account's numbering was deleted before it was bridged.
    fn remember_early_deletion(&self, id: i32) {
        if let Err(error) = self.store.inbox().note_early_deletion(self.self_id(), id) {
            warn!(%error, "could not note a deletion that came before its message");
        }
    }

    /// Whether a message in the account's numbering was deleted on Telegram
    /// while it waited to be bridged (it is then skipped, once).
    pub(super) fn deleted_before_bridged(&self, scope: MessageScope, id: i32) -> bool {
        let MessageScope::Account(account) = scope else {
            return false;
        };
        self.store
            .inbox()
            .take_early_deletion(account, id)
            .unwrap_or_else(|error| {
                warn!(%error, "could not read the deletions that came before their message");
                false
            })
    }
}

/// Turns `content` into an `m.replace` of `original`: the new content goes
/// into `m.new_content`, the outer body gets the customary `* ` fallback.
pub(super) fn replacement(
    content: RoomMessageEventContent,
    original: ruma::OwnedEventId,
) -> RoomMessageEventContent {
    let mut new_content = RoomMessageEventContentWithoutRelation::new(content.msgtype.clone());
    new_content.mentions = content.mentions.clone();
    let mut msgtype = content.msgtype;
    star_fallback(&mut msgtype);
    let mut outer = RoomMessageEventContent::new(msgtype);
    // Mentions were notified with the original; the edit must not ping again.
    outer.mentions = Some(ruma::events::Mentions::new());
    outer.relates_to = Some(Relation::Replacement(Replacement::new(
        original,
        new_content,
    )));
    outer
}

/// Prefixes the text of a replacement's fallback with `* `.
fn star_fallback(msgtype: &mut MessageType) {
    let (body, formatted) = match msgtype {
        MessageType::Text(m) => (&mut m.body, m.formatted.as_mut()),
        MessageType::Notice(m) => (&mut m.body, m.formatted.as_mut()),
        MessageType::Emote(m) => (&mut m.body, m.formatted.as_mut()),
        MessageType::Image(m) => (&mut m.body, None),
        MessageType::Video(m) => (&mut m.body, None),
        MessageType::Audio(m) => (&mut m.body, None),
        MessageType::File(m) => (&mut m.body, None),
        _ => return,
    };
    *body = format!("* {body}");
    if let Some(formatted) = formatted {
        formatted.body = format!("* {}", formatted.body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacements_carry_the_new_content_and_a_fallback() {
        let original = ruma::OwnedEventId::try_from("$orig:example.org").unwrap();
        let content = RoomMessageEventContent::text_html("new *text*", "new <em>text</em>");
        let json = serde_json::to_value(replacement(content, original)).unwrap();
        assert_eq!(json["body"], "* new *text*");
        assert_eq!(json["formatted_body"], "* new <em>text</em>");
        assert_eq!(json["m.relates_to"]["rel_type"], "m.replace");
        assert_eq!(json["m.relates_to"]["event_id"], "$orig:example.org");
        assert_eq!(json["m.new_content"]["body"], "new *text*");
        assert_eq!(json["m.new_content"]["formatted_body"], "new <em>text</em>");
        assert_eq!(json["m.new_content"]["msgtype"], "m.text");
        assert_eq!(json["m.mentions"], serde_json::json!({}));
    }
}
