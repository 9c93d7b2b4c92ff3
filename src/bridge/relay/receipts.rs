//! Telegram typing and read state → Matrix: a Telegram user typing shows
//! as their ghost typing; the other side of a private chat reading the
//! owner's messages becomes their ghost's read receipt, and the owner
//! reading a chat on another Telegram app becomes the owner's receipt when
//! double puppeting. Ephemeral only: nothing is stored.

use std::time::Duration;

use ruma::api::client::receipt::create_receipt;
use ruma::api::client::typing::create_typing_event;
use ruma::events::receipt::ReceiptThread;

use super::*;

/// How long a Telegram typing notification lasts (Telegram clients repeat
/// it about every five seconds while the user types).
const TYPING_TIMEOUT: Duration = Duration::from_secs(6);

impl Side {
    /// Shows a Telegram user's typing as their ghost's.
    pub(super) async fn on_typing(
        &self,
        chat: PeerId,
        user: PeerId,
        typing: bool,
    ) -> Result<(), PortalError> {
        let Some(user_id) = user.bare_id() else {
            return Ok(());
        };
        if user_id == self.self_id() {
            return Ok(());
        }
        let Some(portal) = self.store.portals().by_peer(chat)? else {
            return Ok(());
        };
        let ghost = self.puppets().ensure(user_id, None).await?;
        self.ensure_joined(&portal.room_id, &ghost).await?;
        let state = if typing {
            create_typing_event::v3::Typing::Yes(create_typing_event::v3::TypingInfo::new(
                TYPING_TIMEOUT,
            ))
        } else {
            create_typing_event::v3::Typing::No
        };
        let request = create_typing_event::v3::Request::new(ghost.clone(), portal.room_id, state);
        self.client.as_user(&ghost).send(request).await?;
        Ok(())
    }

    /// Turns a Telegram read mark into a Matrix read receipt on the newest
    /// bridged event at or before it.
    pub(super) async fn on_read(
        &self,
        chat: PeerId,
        max_id: i32,
        outbox: bool,
    ) -> Result<(), PortalError> {
        let Some(portal) = self.store.portals().by_peer(chat)? else {
            return Ok(());
        };
        let reader = match (outbox, portal.kind) {
            // Only a private chat says who read the owner's messages.
            (true, PortalKind::Private) => {
                let Some(user_id) = chat.bare_id() else {
                    return Ok(());
                };
                self.puppets().ensure(user_id, None).await?
            }
            (true, _) => return Ok(()),
            (false, _) if self.portal_settings.double_puppet => self.settings.owner.clone(),
            (false, _) => return Ok(()),
        };
        let Some(read) = self.store.messages().newest_at_or_before(chat, max_id)? else {
            return Ok(());
        };
        let mut request = create_receipt::v3::Request::new(
            read.room_id,
            create_receipt::v3::ReceiptType::Read,
            read.event_id,
        );
        request.thread = ReceiptThread::Unthreaded;
        self.client.as_user(&reader).send(request).await?;
        Ok(())
    }
}
