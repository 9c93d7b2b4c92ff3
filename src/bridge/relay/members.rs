//! Live membership: Telegram joins, leaves, kicks and bans become the
//! matching membership changes of ghosts in the portal, and admin changes
//! become power levels. The membership events speak for themselves, so no
//! notice is sent. The owner's own account has no ghost and is left alone.

use super::*;
use crate::telegram::members::{self as tg_members, MemberChange};

impl Side {
    /// Applies a service message about members (someone was added, joined
    /// by link or request, left, or was removed) to the chat's portal.
    pub(super) async fn on_member_service(&self, message: &Message) -> Result<(), PortalError> {
        let Some(portal) = self.store.portals().by_peer(message.peer_id())? else {
            return Ok(());
        };
        let sender = message.sender_id().and_then(PeerId::bare_id);
        match tg_members::member_change(message) {
            Some(MemberChange::Added(users)) => {
                for user in users {
                    self.member_joined(&portal, user).await?;
                }
            }
            Some(MemberChange::SenderJoined) => {
                if let Some(user) = sender {
                    self.member_joined(&portal, user).await?;
                }
            }
            Some(MemberChange::Removed(user)) => self.member_removed(&portal, user, sender).await?,
            None => {}
        }
        Ok(())
    }

    /// The user's ghost (named, with their photo) joins the portal.
    async fn member_joined(&self, portal: &Portal, telegram_id: i64) -> Result<(), PortalError> {
        if telegram_id == self.self_id.load(std::sync::atomic::Ordering::Acquire) {
            return Ok(());
        }
        let Some(user) = PeerId::user(telegram_id) else {
            return Ok(());
        };
        let peer = self.resolve(self.cached_ref(user).await).await;
        let name = peer
            .as_ref()
            .map(|p| ghost::peer_displayname(&self.settings.bridge, p));
        let puppets = self.puppets();
        let ghost = puppets.ensure(telegram_id, name.as_deref()).await?;
        if let (Some(grammers_client::peer::Peer::User(user)), Some(client)) =
            (&peer, self.telegram.get())
        {
            let telegram = crate::telegram::TelegramApi::new(client);
            puppets
                .mirror_photo(&telegram, &TgProfile::of_user(user))
                .await;
        }
        self.ensure_joined(&portal.room_id, &ghost).await?;
        Ok(())
    }

    /// The user left (`by` is themselves) or was removed: their ghost
    /// leaves, or is kicked, or banned when Telegram banned them.
    async fn member_removed(
        &self,
        portal: &Portal,
        telegram_id: i64,
        by: Option<i64>,
    ) -> Result<(), PortalError> {
        if telegram_id == self.self_id.load(std::sync::atomic::Ordering::Acquire) {
            info!(room_id = %portal.room_id, "the account left or was removed from the chat; the portal stays");
            return Ok(());
        }
        let puppets = self.puppets();
        let ghost = puppets.user_id(telegram_id);
        self.joined
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&(portal.room_id.clone(), ghost.clone()));
        let result = if by == Some(telegram_id) {
            puppets.leave(&portal.room_id, &ghost).await
        } else {
            let banned = self.is_banned(portal, telegram_id).await;
            let reason = if banned {
                "Banned on Telegram"
            } else {
                "Removed on Telegram"
            };
            puppets
                .remove(&portal.room_id, &ghost, banned, reason)
                .await
        };
        if let Err(error) = result {
            // Typically a ghost that never joined: nothing to undo.
            debug!(%error, "a removed member's ghost was not in the portal");
        }
        Ok(())
    }

    /// Whether Telegram lists the user as banned from the portal's
    /// supergroup or channel (basic groups have no bans).
    async fn is_banned(&self, portal: &Portal, telegram_id: i64) -> bool {
        if portal.peer.kind() != PeerKind::Channel {
            return false;
        }
        let (Some(client), Some(channel), Some(user)) = (
            self.telegram.get(),
            self.cached_ref(portal.peer).await,
            match PeerId::user(telegram_id) {
                Some(user) => self.cached_ref(user).await,
                None => None,
            },
        ) else {
            return false;
        };
        match tg_members::is_banned(client, channel, user).await {
            Ok(banned) => banned,
            Err(error) => {
                debug!(%error, "could not read a removed member's standing");
                false
            }
        }
    }

    /// A user's name or photo changed: their ghost (if the bridge made one)
    /// follows, and so does the name of the private portal with them.
    pub(super) async fn on_user_changed(&self, user: PeerId) -> Result<(), PortalError> {
        let Some(telegram_id) = user.bare_id() else {
            return Ok(());
        };
        if self.store.ghosts().get(telegram_id)?.is_none() {
            return Ok(());
        }
        let Some(peer) = self.resolve(self.cached_ref(user).await).await else {
            return Ok(());
        };
        let grammers_client::peer::Peer::User(profile) = &peer else {
            return Ok(());
        };
        let puppets = self.puppets();
        let name = ghost::user_displayname(&self.settings.bridge, profile);
        puppets.ensure(telegram_id, Some(&name)).await?;
        if let Some(client) = self.telegram.get() {
            let telegram = crate::telegram::TelegramApi::new(client);
            puppets
                .mirror_photo(&telegram, &TgProfile::of_user(profile))
                .await;
        }
        if self.store.portals().by_peer(user)?.is_some() {
            if let Some(info) = sync::chat_info(&peer) {
                self.rooms().ensure(&info, None).await?;
            }
        }
        Ok(())
    }

    /// Brings the power levels of the portal's ghosts in line with the
    /// chat's admins: new admins are raised, former ones lowered.
    pub(super) async fn refresh_levels(&self, portal: &Portal) -> Result<(), PortalError> {
        let (Some(client), Some(chat)) = (self.telegram.get(), self.cached_ref(portal.peer).await)
        else {
            return Ok(());
        };
        let telegram = crate::telegram::TelegramApi::new(client);
        let members =
            ghost::list_members(&telegram, crate::telegram::peers::ChatRef::new(chat)).await?;
        let self_id = self.self_id.load(std::sync::atomic::Ordering::Acquire);
        let puppets = self.puppets();
        let mut levels = Vec::new();
        let mut everyone = Vec::new();
        for member in &members {
            let telegram_id = member.profile.id;
            if telegram_id == self_id {
                continue;
            }
            let ghost = puppets.user_id(telegram_id);
            if let Some(level) = ghost::role_level(member.role) {
                levels.push((ghost.clone(), level));
            }
            everyone.push(ghost);
        }
        puppets
            .set_levels_of(&portal.room_id, &levels, &everyone)
            .await
    }
}
