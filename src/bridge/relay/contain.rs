//! Failure containment for the Telegram side: every Telegram event, every
//! message of a catch-up or initial history, every outbox entry and every
//! bot request is handled inside [`contain`], so a panic while bridging one
//! of them affects that item only. The item is then given up for good: a
//! Telegram message is marked handled (the catch-up after a restart does not
//! replay it) and a repeat of its update is recognised in the quarantine
//! and skipped, an outbox entry is removed, the store's quarantine records
//! what failed and why, and the owner is told in the portal room (or the
//! management room).
//!
//! It decides nothing about how an item is bridged; the handlers it wraps
//! live in the sibling modules.

use tracing::error;

use super::*;
use crate::bridge::containment::{contain, Panicked};
use crate::store::{OutboxEntry, QuarantineDirection, QuarantinedItem};

/// A Telegram event, named before it is handed to its handler.
struct TelegramItem {
    /// The chat, when the event belongs to one.
    chat: Option<PeerId>,
    /// The message, for new messages: it is marked handled when given up.
    message: Option<i32>,
    /// How the owner's notice names it.
    what: String,
}

impl Side {
    /// Handles one event of a chat's queue; a panic gives up this event.
    /// The handler's own error (an outage, say) is returned for the
    /// caller to wait out or report.
    pub(super) async fn on_chat_event_contained(&self, event: TgEvent) -> Result<(), PortalError> {
        if let TgEvent::NewMessage(message) = &event {
            if self.is_quarantined(message) {
                return Ok(());
            }
        }
        let item = self.telegram_item(&event);
        match contain(self.on_chat_event(event)).await {
            Ok(result) => result,
            Err(panicked) => {
                self.give_up_telegram(&item, &panicked).await;
                Ok(())
            }
        }
    }

    /// [`Side::handle_message`] for messages read from a chat's history
    /// (catch-up); a panic gives up this message and the next one follows.
    pub(super) async fn handle_message_contained(
        &self,
        portal: &Portal,
        message: &Message,
    ) -> Result<(), PortalError> {
        self.message_contained(message, self.handle_message(portal, message))
            .await
    }

    /// [`Side::bridge_message`] for a new portal's initial history.
    pub(super) async fn bridge_message_contained(
        &self,
        portal: &Portal,
        message: &Message,
    ) -> Result<(), PortalError> {
        self.message_contained(message, self.bridge_message(portal, message))
            .await
    }

    /// Runs `work` on `message` unless it is quarantined; a panic gives up
    /// this message alone.
    async fn message_contained(
        &self,
        message: &Message,
        work: impl std::future::Future<Output = Result<(), PortalError>>,
    ) -> Result<(), PortalError> {
        if self.is_quarantined(message) {
            return Ok(());
        }
        match contain(work).await {
            Ok(result) => result,
            Err(panicked) => {
                let item = self.message_item(message);
                self.give_up_telegram(&item, &panicked).await;
                Ok(())
            }
        }
    }

    /// Handles an account-wide event; a panic is logged and the event
    /// dropped (flood waits and session ends are repeated by Telegram).
    pub(super) async fn on_account_event_contained(&self, event: TgEvent) {
        if let Err(panicked) = contain(self.on_account_event(event)).await {
            error!(reason = %panicked.reason, "handling an account event panicked; it was skipped");
        }
    }

    /// Answers a bot request; a panic ends in a notice instead of ending
    /// the Telegram side.
    pub(super) async fn on_request_contained(
        &self,
        runtime: &TelegramRuntime,
        request: TelegramRequest,
    ) {
        let what = request_name(&request);
        if let Err(panicked) = contain(self.on_request(runtime, request)).await {
            error!(what, reason = %panicked.reason, "a request panicked; it was skipped");
            self.notify(&format!(
                "The bridge could not complete a {what} because of an {panicked}."
            ))
            .await;
        }
    }

    /// Gives up an outbox entry whose delivery panicked: recorded in the
    /// quarantine, removed from the outbox (so no restart retries it), and
    /// the owner told in the room. `false` when the entry could not be
    /// removed, which must stop the room's drain rather than loop on it.
    pub(super) async fn give_up_outbox_entry(
        &self,
        entry: &OutboxEntry,
        panicked: &Panicked,
    ) -> bool {
        error!(room_id = %entry.room_id, event_id = %entry.event_id, reason = %panicked.reason, "delivering an event to Telegram panicked; it is skipped");
        let item = QuarantinedItem {
            direction: QuarantineDirection::Outbox,
            item: entry.event_id.to_string(),
            room_id: Some(entry.room_id.to_string()),
            reason: panicked.reason.clone(),
        };
        if let Err(error) = self.store.quarantine().record(&item) {
            warn!(%error, "could not record a failed event in the quarantine");
        }
        let removed = match self.store.outbox().remove(entry.seq) {
            Ok(_) => true,
            Err(error) => {
                warn!(%error, "could not remove a failed event from the outbox");
                false
            }
        };
        let what = super::outbound_plan::describe_event(&entry.event);
        self.notify_in(
            &entry.room_id,
            &format!(
                "Your {what} {} could not be delivered to Telegram because of an {panicked}. It was skipped and will not be retried.",
                entry.event_id
            ),
        )
        .await;
        removed
    }

    /// Whether `message` was given up before: Telegram delivers an update
    /// again after a restart when its update state was not saved yet, and
    /// a new portal's history may include the message.
    fn is_quarantined(&self, message: &Message) -> bool {
        match self
            .store
            .quarantine()
            .holds_message(message.peer_id(), message.id())
        {
            Ok(true) => {
                debug!(
                    message = message.id(),
                    "a quarantined Telegram message came again; skipped"
                );
                true
            }
            Ok(false) => false,
            Err(error) => {
                warn!(%error, "could not read the quarantine");
                false
            }
        }
    }

    fn telegram_item(&self, event: &TgEvent) -> TelegramItem {
        match event {
            TgEvent::NewMessage(message) => self.message_item(message),
            TgEvent::MessageEdited(message) => TelegramItem {
                chat: Some(message.peer_id()),
                message: None,
                what: format!("edit of a message from {}", self.sender_name(message)),
            },
            other => TelegramItem {
                chat: other.chat(),
                message: None,
                what: format!("{} update", event_name(other)),
            },
        }
    }

    fn message_item(&self, message: &Message) -> TelegramItem {
        TelegramItem {
            chat: Some(message.peer_id()),
            message: Some(message.id()),
            what: format!("message from {}", self.sender_name(message)),
        }
    }

    /// Records a Telegram item that panicked, marks its message handled and
    /// tells the owner in the chat's portal (else the management room).
    async fn give_up_telegram(&self, item: &TelegramItem, panicked: &Panicked) {
        let chat_id = item
            .chat
            .and_then(|chat| chat.bot_api_dialog_id())
            .unwrap_or_default();
        error!(chat = chat_id, message = item.message, what = %item.what, reason = %panicked.reason, "bridging a Telegram update panicked; it is skipped");
        if let (Some(chat), Some(message)) = (item.chat, item.message) {
            if let Err(error) = self.store.messages().mark_handled(chat, message) {
                warn!(%error, "could not mark a failed message as handled");
            }
        }
        let room_id = item
            .chat
            .and_then(|chat| self.store.portals().by_peer(chat).ok().flatten())
            .map(|portal| portal.room_id);
        let described = match item.message {
            Some(id) => format!("{} (message {id} in chat {chat_id})", item.what),
            None => format!("{} in chat {chat_id}", item.what),
        };
        let record = QuarantinedItem {
            direction: QuarantineDirection::Telegram,
            item: described,
            room_id: room_id.as_ref().map(ToString::to_string),
            reason: panicked.reason.clone(),
        };
        let recorded = match (item.chat, item.message) {
            (Some(chat), Some(message)) => self
                .store
                .quarantine()
                .record_message(&record, chat, message),
            _ => self.store.quarantine().record(&record),
        };
        if let Err(error) = recorded {
            warn!(%error, "could not record a failed update in the quarantine");
        }
        // The message id lets the owner find the message on Telegram.
        let named = match item.message {
            Some(id) => format!("{} (message {id})", item.what),
            None => item.what.clone(),
        };
        let text = format!(
            "A Telegram {named} could not be bridged because of an {panicked}. It was skipped and will not be retried."
        );
        match &room_id {
            Some(room_id) => self.notify_in(room_id, &text).await,
            None => self.notify(&text).await,
        }
    }
}

/// How a notice names a Telegram event that is not a message.
fn event_name(event: &TgEvent) -> &'static str {
    match event {
        TgEvent::NewMessage(_) => "message",
        TgEvent::MessageEdited(_) => "edit",
        TgEvent::ChatChanged(_) => "chat change",
        TgEvent::UserChanged(_) => "profile change",
        TgEvent::TitleChanged { .. } => "title change",
        TgEvent::Migrated { .. } => "group upgrade",
        TgEvent::MessagesDeleted { .. } => "deletion",
        TgEvent::Reactions { .. } => "reaction",
        TgEvent::Typing { .. } => "typing",
        TgEvent::Read { .. } => "read receipt",
        TgEvent::Pinned { .. } => "pin",
        TgEvent::FloodWait(_) => "flood wait",
        TgEvent::SessionEnded { .. } => "session end",
        TgEvent::UpdatesUnreadable { .. } => "unreadable update",
        TgEvent::ConnectionLost => "lost connection",
    }
}

/// How a notice names a bot request.
fn request_name(request: &TelegramRequest) -> &'static str {
    match request {
        TelegramRequest::Sync { .. } => "sync",
        TelegramRequest::Pm { .. } => "pm command",
        TelegramRequest::Id { .. } => "id command",
        TelegramRequest::GhostInvited { .. } => "ghost invite",
        TelegramRequest::Rename { .. } => "rename",
        TelegramRequest::OutboxQueued { .. } => "delivery",
        TelegramRequest::ReadUpTo { .. } => "read receipt",
        TelegramRequest::Typing { .. } => "typing notification",
        TelegramRequest::Topic { .. } => "topic change",
        TelegramRequest::Avatar { .. } => "avatar change",
        TelegramRequest::Unbridge { .. } => "unbridge command",
        TelegramRequest::Filter { .. } => "filter command",
        TelegramRequest::Topics { .. } => "topics command",
        TelegramRequest::PortalEncrypted { .. } => "encrypted portal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_name_what_failed() {
        let chat = PeerId::chat(1).unwrap();
        assert_eq!(
            event_name(&TgEvent::Pinned {
                chat,
                ids: vec![1],
                pinned: true
            }),
            "pin"
        );
        assert_eq!(request_name(&TelegramRequest::Sync { all: false }), "sync");
    }
}
