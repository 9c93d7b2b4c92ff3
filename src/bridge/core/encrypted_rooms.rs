//! The core's reactions to end-to-end encryption (see
//! [`crate::bridge::encryption`] for why the bridge cannot read encrypted
//! rooms): it declines invites of the bot or a ghost into encrypted rooms,
//! notices when a portal or the management room turns encrypted, and
//! answers the owner's encrypted messages in portals, once per room and run.
//!
//! It decides nothing about Telegram chats: detaching a portal is the
//! Telegram side's job ([`TelegramRequest::PortalEncrypted`]). It never
//! touches transaction bookkeeping, which stays in the core.

use ruma::api::client::membership::leave_room;
use ruma::events::AnyStrippedStateEvent;
use ruma::serde::Raw;
use ruma::{EventId, RoomId, UserId};
use tracing::{info, warn};

use super::{BridgePersistence, Core, CoreError};
use crate::bridge::encryption;
use crate::bridge::notice::Notice;
use crate::bridge::relay::TelegramRequest;
use crate::matrix::txn;

impl<P: BridgePersistence> Core<P> {
    /// Declines the bot's invite when its stripped state shows the room is
    /// encrypted; `true` when declined (the invite is then dealt with).
    pub(super) async fn decline_encrypted_bot_invite(
        &self,
        room_id: &RoomId,
        invite: &EventId,
        invite_state: &[Raw<AnyStrippedStateEvent>],
    ) -> Result<bool, CoreError> {
        if !encryption::invite_state_is_encrypted(invite_state) {
            return Ok(false);
        }
        self.refuse_encrypted_room(room_id, invite).await?;
        Ok(true)
    }

    /// After the bot joined: leaves again when the room turns out to be
    /// encrypted (the invite did not say); `true` when it left. A failed
    /// check keeps the bot in the room, as before the check existed: the
    /// room's encryption event still reaches the bridge if it is set later.
    pub(super) async fn leave_if_encrypted(
        &self,
        room_id: &RoomId,
        invite: &EventId,
    ) -> Result<bool, CoreError> {
        let bot = self.client.bot_user_id();
        match encryption::room_is_encrypted(&self.client, bot, room_id).await {
            Ok(false) => Ok(false),
            Ok(true) => {
                self.refuse_encrypted_room(room_id, invite).await?;
                Ok(true)
            }
            Err(error) => {
                warn!(%room_id, %error, "could not check whether the room is encrypted");
                Ok(false)
            }
        }
    }

    async fn refuse_encrypted_room(
        &self,
        room_id: &RoomId,
        invite: &EventId,
    ) -> Result<(), CoreError> {
        info!(%room_id, "declined the bot's invite into an end-to-end encrypted room");
        self.leave(room_id, encryption::REFUSAL_REASON).await;
        self.tell_owner(
            "refused-encrypted",
            invite,
            &encryption::bot_invite_refused(room_id),
        )
        .await
    }

    /// Declines a ghost's invite when its stripped state shows the room is
    /// encrypted, instead of letting the Telegram side adopt the room as a
    /// private portal; `true` when declined. Rooms whose invite does not
    /// show it are checked again by the Telegram side once the ghost joined.
    pub(super) async fn decline_encrypted_ghost_invite(
        &self,
        room_id: &RoomId,
        ghost: &UserId,
        invite: &EventId,
        invite_state: &[Raw<AnyStrippedStateEvent>],
    ) -> Result<bool, CoreError> {
        if !encryption::invite_state_is_encrypted(invite_state) {
            return Ok(false);
        }
        info!(%room_id, %ghost, "declined a ghost's invite into an end-to-end encrypted room");
        // The homeserver may not have asked about the ghost before inviting it.
        if let Err(error) = self.client.ensure_registered(ghost).await {
            warn!(%ghost, %error, "could not register the invited ghost");
        }
        let mut request = leave_room::v3::Request::new(room_id.to_owned());
        request.reason = Some(encryption::REFUSAL_REASON.to_owned());
        if let Err(error) = self.client.as_user(ghost).send(request).await {
            warn!(%room_id, %ghost, %error, "could not decline the ghost's invite");
        }
        let telegram_id = ghost
            .localpart()
            .strip_prefix(&self.ids.ghost_localpart_prefix)
            .unwrap_or_default();
        let notice = encryption::ghost_invite_refused(room_id, ghost, telegram_id);
        self.tell_owner("refused-encrypted-ghost", invite, &notice)
            .await?;
        Ok(true)
    }

    /// `m.room.encryption` arrived for `room_id`, set by `sender`.
    pub(super) async fn on_encryption_enabled(
        &self,
        room_id: &RoomId,
        sender: &UserId,
    ) -> Result<(), CoreError> {
        if self.is_bot(sender) || self.is_ghost(sender) {
            // The homeserver encrypts rooms the bridge creates (Synapse's
            // `encryption_enabled_by_default_for_room_type`): replacing them
            // would only create more encrypted rooms.
            warn!(%room_id, "the homeserver turned on encryption in a room the bridge created; tgbridge cannot read encrypted rooms: turn off encryption by default for new rooms");
            return Ok(());
        }
        if self.management_room().as_deref() == Some(room_id) {
            return self.replace_encrypted_management_room(room_id).await;
        }
        if !self.store.is_portal_room(room_id.as_str())? {
            return Ok(());
        }
        info!(%room_id, "encryption was turned on in a portal; it is detached");
        let txn_id = txn::derived("portal-encrypted", &[room_id.as_str()]);
        self.send_notice(room_id, txn_id, &encryption::portal_encrypted())
            .await?;
        self.forward_to_telegram(TelegramRequest::PortalEncrypted {
            room_id: room_id.to_owned(),
        });
        Ok(())
    }

    /// The bot cannot read commands in an encrypted management room: it
    /// leaves it and opens a new one, which says why.
    async fn replace_encrypted_management_room(&self, old: &RoomId) -> Result<(), CoreError> {
        self.forget_if_management(old, "encryption was turned on in it")?;
        self.leave(old, encryption::REFUSAL_REASON).await;
        let new = self.ensure_management_room().await?;
        let txn_id = txn::derived("management-encrypted", &[old.as_str()]);
        self.send_notice(&new, txn_id, &encryption::management_room_replaced(old))
            .await?;
        Ok(())
    }

    /// The owner sent an encrypted event (`m.room.encrypted`) to `room_id`:
    /// in a portal, they are told once per room and run that it was not
    /// bridged. A portal whose room is encrypted (its encryption event was
    /// missed, e.g. while the Telegram side was not running) is detached.
    pub(super) async fn on_encrypted_event(
        &self,
        room_id: &RoomId,
        sender: &UserId,
        event_id: &EventId,
    ) -> Result<(), CoreError> {
        if sender != self.ids.owner
            || !self.store.is_portal_room(room_id.as_str())?
            || !self.encryption_warned.first_time(room_id)
        {
            return Ok(());
        }
        info!(%room_id, "the owner's encrypted message could not be bridged");
        // Keyed on the event: after a restart the notice is due again.
        let txn_id = txn::derived("encrypted-message", &[event_id.as_str()]);
        self.send_notice(
            room_id,
            txn_id,
            &encryption::encrypted_message_not_bridged(),
        )
        .await?;
        let bot = self.client.bot_user_id();
        if matches!(
            encryption::room_is_encrypted(&self.client, bot, room_id).await,
            Ok(true)
        ) {
            self.forward_to_telegram(TelegramRequest::PortalEncrypted {
                room_id: room_id.to_owned(),
            });
        }
        Ok(())
    }

    /// Sends `notice` to the management room, opening one if there is none
    /// (the room it is about cannot carry it). `key` and `cause` (the event
    /// that prompted it) make the transaction id, so a repeated transaction
    /// does not repeat the notice but a second invite is answered again.
    async fn tell_owner(
        &self,
        key: &str,
        cause: &EventId,
        notice: &Notice,
    ) -> Result<(), CoreError> {
        let room = match self.management_room() {
            Some(room) => room,
            None => self.ensure_management_room().await?,
        };
        let txn_id = txn::derived(key, &[cause.as_str()]);
        self.send_notice(&room, txn_id, notice).await?;
        Ok(())
    }
}
