//! Telegram typing and read state → Matrix: a Telegram user typing shows
//! as their ghost typing; the other side of a private chat reading the
//! owner's messages becomes their ghost's read receipt, and the owner
//! reading a chat on another Telegram app becomes the owner's receipt when
//! double puppeting. In a forum both follow the topic: typing in a topic
//! shows in its room, a topic read on another app moves the owner's receipt
//! in its room, and the chat's own read mark is General's. Ephemeral only:
//! nothing is stored.

use std::time::Duration;

use ruma::api::client::receipt::create_receipt;
use ruma::api::client::typing::create_typing_event;
use ruma::events::receipt::ReceiptThread;

use super::*;

/// How long a Telegram typing notification lasts (Telegram clients repeat
/// it about every five seconds while the user types).
const TYPING_TIMEOUT: Duration = Duration::from_secs(6);

impl Side {
    /// Shows a Telegram user's typing as their ghost's, in the room of the
    /// forum topic they type in (nowhere when that topic has no room).
    pub(super) async fn on_typing(
        &self,
        chat: PeerId,
        user: PeerId,
        typing: bool,
        topic: Option<i32>,
    ) -> Result<(), PortalError> {
        let Some(user_id) = user.bare_id() else {
            return Ok(());
        };
        if user_id == self.self_id() {
            return Ok(());
        }
        let Some(portal) = self.room_of_topic(chat, topic)? else {
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

    /// The room of forum topic `topic` of `chat` (General's is the chat's
    /// own portal); the chat's portal for `None`.
    fn room_of_topic(
        &self,
        chat: PeerId,
        topic: Option<i32>,
    ) -> Result<Option<Portal>, PortalError> {
        Ok(match topic.filter(|&t| t > 1) {
            Some(topic) => self.store.portals().topic(chat, topic)?,
            None => self.store.portals().by_peer(chat)?,
        })
    }

    /// Turns a Telegram read mark into a Matrix read receipt on the newest
    /// bridged event at or before it. In a forum the mark is a room's: the
    /// topic's (`topic`), or General's for the chat's own mark, which is
    /// how Telegram keeps them apart.
    pub(super) async fn on_read(
        &self,
        chat: PeerId,
        max_id: i32,
        outbox: bool,
        topic: Option<i32>,
    ) -> Result<(), PortalError> {
        let Some(portal) = self.room_of_topic(chat, topic)? else {
            return Ok(());
        };
        let forum = topic.is_some() || !self.store.portals().topics(chat)?.is_empty();
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
        let room = forum.then_some(&*portal.room_id);
        let read = self
            .store
            .messages()
            .newest_at_or_before(chat, room, max_id)?;
        let Some(read) = read else {
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
