//! The Telegram side's part in keeping encrypted rooms out of the bridge
//! (see [`crate::bridge::encryption`]): a portal whose room was encrypted is
//! detached from its chat, and a room the owner invited a ghost to is not
//! adopted when it turns out to be encrypted once the ghost joined.
//!
//! A detached portal is forgotten without adding its chat to the filter, so
//! the chat's next message (or `pm`, or `sync`) opens a new, unencrypted
//! room. Nothing here talks to Telegram.

use super::*;
use crate::bridge::encryption;

impl Side {
    /// Detaches the portal of `room_id` after encryption was turned on in
    /// it: the portal is forgotten, the room leaves the space, the owner
    /// learns in the management room how the chat continues, and the ghosts
    /// and the bot leave (the room stays with the owner as history).
    pub(super) async fn detach_encrypted_portal(
        &self,
        room_id: &ruma::RoomId,
    ) -> Result<(), PortalError> {
        let Some(portal) = self.store.portals().by_room(room_id)? else {
            return Ok(());
        };
        self.store.portals().delete(portal.peer)?;
        self.forget_joined(room_id);
        self.leave_space(room_id).await;
        let reopen = match (portal.kind, portal.peer.bare_id()) {
            (PortalKind::Private, Some(user)) => {
                format!("To open it now, send `pm {user}` here.")
            }
            _ => "To open it now, send `sync` here.".to_owned(),
        };
        let title = portal.title.as_deref().unwrap_or_default();
        let notice = encryption::portal_detached(room_id, title, &reopen);
        self.notify(&notice.plain).await;
        self.empty_room(room_id, false, Some(encryption::DETACHED_REASON))
            .await?;
        info!(%room_id, "encrypted portal detached from its Telegram chat");
        Ok(())
    }

    /// Whether `ghost`, just joined to `room_id` on the owner's invite,
    /// left again because the room is encrypted (the invite did not show
    /// it); the owner is told why in the management room.
    pub(super) async fn left_encrypted_room(
        &self,
        room_id: &ruma::RoomId,
        ghost: &ruma::UserId,
        telegram_id: i64,
    ) -> Result<bool, PortalError> {
        if !encryption::room_is_encrypted(&self.client, ghost, room_id).await? {
            return Ok(false);
        }
        info!(%room_id, %ghost, "the room a ghost was invited to is encrypted; not adopted");
        let mut leave =
            ruma::api::client::membership::leave_room::v3::Request::new(room_id.to_owned());
        leave.reason = Some(encryption::REFUSAL_REASON.to_owned());
        self.client.as_user(ghost).send(leave).await?;
        let notice = encryption::ghost_invite_refused(room_id, ghost, &telegram_id.to_string());
        self.notify(&notice.plain).await;
        Ok(true)
    }
}
