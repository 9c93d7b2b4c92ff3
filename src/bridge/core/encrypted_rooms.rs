//! The core's reactions to end-to-end encryption (see
//! [`crate::bridge::encryption`] for why the bridge cannot read encrypted
//! rooms): it declines invites of the bot or a ghost into encrypted rooms,
//! notices when a portal or the management room turns encrypted, and
//! answers the owner's encrypted messages in portals, once per room and run.
//!
//! An invite is checked before anyone joins: by its stripped state when the
//! homeserver includes `m.room.encryption` there (Synapse does, Conduit
//! does not), else by reading the room's state as the owner who sent it
//! (the bridge may act as the owner, who is in the room). Only when neither
//! is possible does the invitee join, look, and leave again at once.
//!
//! It decides nothing about Telegram chats: detaching a portal is the
//! Telegram side's job ([`TelegramRequest::PortalEncrypted`]). It never
//! touches transaction bookkeeping, which stays in the core.

use ruma::api::client::membership::leave_room;
use ruma::events::AnyStrippedStateEvent;
use ruma::serde::Raw;
use ruma::{EventId, RoomId, UserId};
use tracing::{debug, info, warn};

use super::{BridgePersistence, Core, CoreError};
use crate::bridge::encryption::{self, EncryptedEventAnswer};
use crate::bridge::notice::Notice;
use crate::bridge::requests::TelegramRequest;
use crate::matrix::txn;

impl<P: BridgePersistence> Core<P> {
    /// Whether the room of an invite sent by `inviter` is known to be
    /// encrypted before the invitee joins: from the invite's stripped state,
    /// else from the room's state read as the owner, when the owner sent the
    /// invite and the bridge may act as them. `false` means "not known", so
    /// callers check again after joining.
    async fn invited_room_is_encrypted(
        &self,
        room_id: &RoomId,
        inviter: &UserId,
        invite_state: &[Raw<AnyStrippedStateEvent>],
    ) -> bool {
        if encryption::invite_state_is_encrypted(invite_state) {
            return true;
        }
        if inviter != self.ids.owner || !self.double_puppet() {
            return false;
        }
        match encryption::room_is_encrypted(&self.client, inviter, room_id).await {
            Ok(encrypted) => encrypted,
            Err(error) => {
                debug!(%room_id, %error, "could not read the invited room's encryption as the owner");
                false
            }
        }
    }

    /// Declines the bot's invite when the room is known to be encrypted
    /// before joining; `true` when declined (the invite is then dealt with).
    pub(super) async fn decline_encrypted_bot_invite(
        &self,
        room_id: &RoomId,
        inviter: &UserId,
        invite: &EventId,
        invite_state: &[Raw<AnyStrippedStateEvent>],
    ) -> Result<bool, CoreError> {
        if !self
            .invited_room_is_encrypted(room_id, inviter, invite_state)
            .await
        {
            return Ok(false);
        }
        self.refuse_encrypted_room(room_id, invite).await?;
        Ok(true)
    }

    /// After the bot joined: leaves again when the room turns out to be
    /// encrypted (nothing before the join could tell); `true` when it left.
    /// A failed check keeps the bot in the room, as before the check
    /// existed: the room's encryption event still reaches the bridge if it
    /// is set later.
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

    /// Declines the owner's invite of a ghost when the room is known to be
    /// encrypted before joining, instead of letting the Telegram side adopt
    /// the room as a private portal; `true` when declined. Other rooms are
    /// checked again by the Telegram side once the ghost joined.
    pub(super) async fn decline_encrypted_ghost_invite(
        &self,
        room_id: &RoomId,
        ghost: &UserId,
        invite: &EventId,
        invite_state: &[Raw<AnyStrippedStateEvent>],
    ) -> Result<bool, CoreError> {
        if !self
            .invited_room_is_encrypted(room_id, &self.ids.owner, invite_state)
            .await
        {
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

    /// `m.room.encryption` arrived for `room_id`, set by `sender` in
    /// `event`.
    pub(super) async fn on_encryption_enabled(
        &self,
        room_id: &RoomId,
        sender: &UserId,
        event: &EventId,
    ) -> Result<(), CoreError> {
        if self.is_bot(sender) || self.is_ghost(sender) {
            // The homeserver encrypts the rooms the bridge creates (Synapse's
            // `encryption_enabled_by_default_for_room_type`): replacing them
            // would only create more encrypted rooms, so the owner is told
            // how to change the homeserver instead, once per run.
            warn!(%room_id, "the homeserver turned on encryption in a room the bridge created; tgbridge cannot read encrypted rooms: turn off encryption by default for new rooms");
            if self.encryption_warned.note_server_encrypts() {
                self.tell_owner(
                    "server-encrypts",
                    event,
                    &encryption::homeserver_encrypts_new_rooms(room_id),
                )
                .await?;
            }
            return Ok(());
        }
        if self.management_room().as_deref() == Some(room_id) {
            return self.replace_encrypted_management_room(room_id).await;
        }
        if !self.store.is_portal_room(room_id)? {
            return Ok(());
        }
        info!(%room_id, "encryption was turned on in a portal; it is detached");
        self.detach_encrypted_portal(room_id).await
    }

    /// Tells the portal's room, in plaintext, that it is no longer bridged,
    /// and has the Telegram side detach it (which explains the rest in the
    /// management room).
    async fn detach_encrypted_portal(&self, room_id: &RoomId) -> Result<(), CoreError> {
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

    /// The owner sent an encrypted event (`m.room.encrypted`) to `room_id`.
    /// In a portal whose room is encrypted (its encryption event was missed,
    /// e.g. while the bridge was down), the portal is detached as if the
    /// event had arrived; in any other portal (a client that encrypts in an
    /// unencrypted room), the owner is told it was not bridged. Either
    /// happens once per room and run, not per message.
    pub(super) async fn on_encrypted_event(
        &self,
        room_id: &RoomId,
        sender: &UserId,
        event_id: &EventId,
    ) -> Result<(), CoreError> {
        let from_owner = sender == self.ids.owner;
        let is_portal = from_owner && self.store.is_portal_room(room_id)?;
        let first_time = is_portal && self.encryption_warned.first_time(room_id);
        let room_encrypted = if first_time {
            let bot = self.client.bot_user_id();
            match encryption::room_is_encrypted(&self.client, bot, room_id).await {
                Ok(encrypted) => Some(encrypted),
                Err(error) => {
                    warn!(%room_id, %error, "could not check whether the portal is encrypted");
                    None
                }
            }
        } else {
            None
        };
        let answer = encryption::answer_encrypted_event(
            from_owner,
            is_portal,
            first_time,
            room_encrypted,
            self.encryption_warned.server_encrypts(),
        );
        match answer {
            EncryptedEventAnswer::Ignore => Ok(()),
            EncryptedEventAnswer::DetachPortal => {
                info!(%room_id, "an encrypted message shows the portal is encrypted; it is detached");
                self.detach_encrypted_portal(room_id).await
            }
            EncryptedEventAnswer::ServerEncrypts => {
                info!(%room_id, "the owner's encrypted message could not be bridged; the homeserver encrypts new rooms");
                let txn_id = txn::derived("encrypted-message", &[event_id.as_str()]);
                self.send_notice(
                    room_id,
                    txn_id,
                    &encryption::homeserver_encrypts_new_rooms(room_id),
                )
                .await?;
                Ok(())
            }
            EncryptedEventAnswer::NotBridged => {
                info!(%room_id, "the owner's encrypted message could not be bridged");
                // Keyed on the event: after a restart the notice is due again.
                let txn_id = txn::derived("encrypted-message", &[event_id.as_str()]);
                self.send_notice(
                    room_id,
                    txn_id,
                    &encryption::encrypted_message_not_bridged(),
                )
                .await?;
                Ok(())
            }
        }
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
