//! Ghosts: the Matrix puppets of Telegram users (and of channels posting as
//! themselves), named `@<prefix><telegram id>:<domain>`, registered on first
//! use, named from the configured template, and kept in portal member lists.
//! Member sync mirrors a chat's Telegram members into its portal, with
//! Telegram admins given matching power levels.
//!
//! Who a user is and who is in a chat come from the Telegram adapter as
//! [`TgProfile`]s and [`TgMember`]s.
//!
//! It never creates rooms (that is [`super::portal`]) and never sends messages.

use ruma::api::client::membership::{
    ban_user, invite_user, join_room_by_id, kick_user, leave_room,
};
use ruma::api::client::profile::set_avatar_url;
use ruma::api::client::state::{get_state_event_for_key, send_state_event};
use ruma::events::room::power_levels::RoomPowerLevelsEventContent;
use ruma::events::{EmptyStateKey, StateEventType};
use ruma::{OwnedMxcUri, OwnedUserId, RoomId, UserId};
use serde_json::Value;
use tracing::{debug, warn};

use super::avatar;
use super::portal::{PortalError, ADMIN_LEVEL, CREATOR_LEVEL};
use crate::config::{BridgeConfig, GhostName};
use crate::matrix::MatrixClient;
use crate::store::{Ghost, Store};
use crate::telegram::peers::{ChatRef, TgMember, TgProfile, TgRole, TgUser};
use crate::telegram::{CallError, TelegramApi};

/// At most this many members of one chat get a ghost in its portal, so a
/// huge group does not flood the homeserver with joins.
pub const MEMBER_SYNC_LIMIT: usize = 200;

/// The display name of a Telegram user's ghost, from the template; deleted
/// accounts get a recognisable fallback.
pub fn user_displayname(config: &BridgeConfig, user: &TgUser) -> String {
    let id = user.id.get();
    if user.deleted {
        return config.ghost_displayname(&GhostName {
            first_name: "Deleted account",
            id,
            ..GhostName::default()
        });
    }
    config.ghost_displayname(&GhostName {
        first_name: &user.first_name,
        last_name: &user.last_name,
        username: &user.username,
        id,
    })
}

/// The display name of any peer's ghost: the template for users, the title
/// for a channel or group posting as itself.
pub fn peer_displayname(config: &BridgeConfig, peer: &TgProfile) -> String {
    match &peer.user {
        Some(user) => user_displayname(config, user),
        None => peer.title.clone(),
    }
}

pub use crate::convert::ghost_user_id;

/// Ghost operations on the homeserver and the store.
pub struct Puppets<'a> {
    /// The homeserver client.
    pub client: &'a MatrixClient,
    /// The database.
    pub store: &'a Store,
    /// Prefix and name template.
    pub config: &'a BridgeConfig,
}

impl Puppets<'_> {
    /// The ghost's Matrix id for a Telegram id.
    pub fn user_id(&self, telegram_id: i64) -> OwnedUserId {
        let server = self.client.bot_user_id().server_name();
        // The prefix was validated as a localpart and digits keep it one;
        // the fallback (the bot) is therefore never used.
        ghost_user_id(&self.config.ghost_prefix, telegram_id, server)
            .unwrap_or_else(|| self.client.bot_user_id().to_owned())
    }

    /// Registers the ghost of `telegram_id` if needed and sets its display
    /// name when `name` is known and differs from the one last set.
    pub async fn ensure(
        &self,
        telegram_id: i64,
        name: Option<&str>,
    ) -> Result<OwnedUserId, PortalError> {
        let user_id = self.user_id(telegram_id);
        let stored = self.store.ghosts().get(telegram_id)?;
        let mut ghost = stored.clone().unwrap_or_else(|| Ghost::new(telegram_id));
        if !ghost.registered {
            self.client.ensure_registered(&user_id).await?;
            ghost.registered = true;
        }
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            if ghost.displayname.as_deref() != Some(name) {
                self.client.set_displayname(&user_id, name).await?;
                ghost.displayname = Some(name.to_owned());
            }
        }
        // Every message of a known sender comes through here: a write
        // transaction only when something changed.
        if stored.as_ref() != Some(&ghost) {
            self.store.ghosts().upsert(&ghost)?;
        }
        Ok(user_id)
    }

    /// Sets the ghost's avatar to `avatar` (Telegram photo id and its
    /// upload), or removes it for `None`, unless that is what it has.
    pub async fn set_avatar(
        &self,
        telegram_id: i64,
        avatar: Option<(i64, OwnedMxcUri)>,
    ) -> Result<(), PortalError> {
        let mut ghost = self
            .store
            .ghosts()
            .get(telegram_id)?
            .unwrap_or_else(|| Ghost::new(telegram_id));
        let photo_id = avatar.as_ref().map(|(id, _)| *id);
        if ghost.avatar_photo_id == photo_id {
            return Ok(());
        }
        let user_id = self.user_id(telegram_id);
        if !ghost.registered {
            self.client.ensure_registered(&user_id).await?;
            ghost.registered = true;
        }
        let mxc = avatar.map(|(_, mxc)| mxc);
        // An empty URL unsets the avatar on every homeserver (Element does the
        // same); an absent one is refused by some.
        let sent = mxc.clone().unwrap_or_else(|| OwnedMxcUri::from(""));
        // See `MatrixClient::set_avatar_url` for why the old endpoint is used.
        #[allow(deprecated)]
        let request = set_avatar_url::v3::Request::new(user_id.clone(), Some(sent));
        self.client.as_user(&user_id).send(request).await?;
        ghost.avatar_photo_id = photo_id;
        ghost.avatar_mxc = mxc;
        self.store.ghosts().upsert(&ghost)?;
        Ok(())
    }

    /// Mirrors the photo of a user, or of a channel posting as itself, onto
    /// its ghost; failures are logged, since a missing avatar never blocks
    /// bridging.
    pub async fn mirror_photo(&self, telegram: &TelegramApi, peer: &TgProfile) {
        let telegram_id = peer.id;
        let known = self
            .store
            .ghosts()
            .get(telegram_id)
            .ok()
            .flatten()
            .and_then(|g| g.avatar_photo_id);
        let current = peer.photo_id;
        if known == current {
            return;
        }
        let avatar = match current {
            None => None,
            Some(_) => {
                let Some(photo) = telegram.photo_of(peer).await else {
                    return debug!("no usable reference for a profile photo");
                };
                match avatar::mxc_for(self.client, self.store, telegram, &photo).await {
                    Ok(mxc) => Some((photo.id, mxc)),
                    Err(error) => return warn!(%error, "could not mirror a profile photo"),
                }
            }
        };
        if let Err(error) = self.set_avatar(telegram_id, avatar).await {
            warn!(%error, "could not set a ghost's avatar");
        }
    }

    /// Makes the ghost leave `room` by itself (the user left on Telegram).
    pub async fn leave(&self, room: &RoomId, user: &UserId) -> Result<(), PortalError> {
        let request = leave_room::v3::Request::new(room.to_owned());
        self.client.as_user(user).send(request).await?;
        Ok(())
    }

    /// Removes `user` from `room` as the bot: kicked, or banned when `ban`.
    pub async fn remove(
        &self,
        room: &RoomId,
        user: &UserId,
        ban: bool,
        reason: &str,
    ) -> Result<(), PortalError> {
        if ban {
            let mut request = ban_user::v3::Request::new(room.to_owned(), user.to_owned());
            request.reason = Some(reason.to_owned());
            self.client.as_bot().send(request).await?;
        } else {
            let mut request = kick_user::v3::Request::new(room.to_owned(), user.to_owned());
            request.reason = Some(reason.to_owned());
            self.client.as_bot().send(request).await?;
        }
        Ok(())
    }

    /// Whether the ghost already has a display name.
    pub fn has_name(&self, telegram_id: i64) -> bool {
        matches!(self.store.ghosts().get(telegram_id), Ok(Some(g)) if g.displayname.is_some())
    }

    /// Invites (as the bot) and joins `user` to `room`; an invite refused
    /// because the user is already there is fine, the join decides.
    pub async fn join(&self, room: &RoomId, user: &UserId) -> Result<(), PortalError> {
        let invite = invite_user::v3::Request::new(
            room.to_owned(),
            invite_user::v3::InvitationRecipient::UserId(invite_user::v3::InviteUserId::new(
                user.to_owned(),
            )),
        );
        if let Err(error) = self.client.as_bot().send(invite).await {
            debug!(%error, "invite not needed or refused");
        }
        let join = join_room_by_id::v3::Request::new(room.to_owned());
        self.client.as_user(user).send(join).await?;
        Ok(())
    }

    /// Gives `levels` (user → level) in `room`, leaving everyone else as is.
    pub async fn set_levels(
        &self,
        room: &RoomId,
        levels: &[(OwnedUserId, i64)],
    ) -> Result<(), PortalError> {
        self.set_levels_of(room, levels, &[]).await
    }

    /// Gives `levels` in `room` and takes the power of every user in
    /// `demote` who has no entry in `levels` (a Telegram admin demoted);
    /// everyone else stays as is. Sends nothing when nothing changes.
    pub async fn set_levels_of(
        &self,
        room: &RoomId,
        levels: &[(OwnedUserId, i64)],
        demote: &[OwnedUserId],
    ) -> Result<(), PortalError> {
        if levels.is_empty() && demote.is_empty() {
            return Ok(());
        }
        let current = self
            .client
            .as_bot()
            .send(get_state_event_for_key::v3::Request::new(
                room.to_owned(),
                StateEventType::RoomPowerLevels,
                String::new(),
            ))
            .await?;
        let mut content: Value = serde_json::from_str(current.event_or_content.get())
            .map_err(|e| PortalError::Build(e.to_string()))?;
        let mut changed = demote_users(&mut content, levels, demote);
        for (user, level) in levels {
            let slot = &mut content["users"][user.as_str()];
            if slot.as_i64() != Some(*level) {
                *slot = Value::from(*level);
                changed = true;
            }
        }
        if !changed {
            return Ok(());
        }
        let typed: RoomPowerLevelsEventContent =
            serde_json::from_value(content).map_err(|e| PortalError::Build(e.to_string()))?;
        let request = send_state_event::v3::Request::new(room.to_owned(), &EmptyStateKey, &typed)
            .map_err(|e| PortalError::Build(e.to_string()))?;
        self.client.as_bot().send(request).await?;
        Ok(())
    }

    /// Mirrors the chat's members into the portal: each member's ghost joins
    /// (up to [`MEMBER_SYNC_LIMIT`]), Telegram admins get matching levels.
    /// The owner's own account is skipped: the owner is invited already.
    pub async fn sync_members(
        &self,
        telegram: &TelegramApi,
        chat: ChatRef,
        room: &RoomId,
        self_id: i64,
    ) -> Result<usize, PortalError> {
        let members = list_members(telegram, chat)
            .await
            .map_err(|e| PortalError::Build(format!("listing members: {e}")))?;
        let mut levels = Vec::new();
        let mut joined = 0;
        for TgMember { profile, role } in members {
            let telegram_id = profile.id;
            if telegram_id == self_id || matches!(role, TgRole::Banned | TgRole::Left) {
                continue;
            }
            let name = peer_displayname(self.config, &profile);
            let ghost = self.ensure(telegram_id, Some(&name)).await?;
            self.mirror_photo(telegram, &profile).await;
            if let Err(error) = self.join(room, &ghost).await {
                warn!(%error, "a member's ghost could not join the portal");
                continue;
            }
            joined += 1;
            if let Some(level) = role_level(role) {
                levels.push((ghost, level));
            }
        }
        self.set_levels(room, &levels).await?;
        Ok(joined)
    }
}

/// Removes from `content.users` every user in `demote` that `levels` does
/// not list; returns whether anything was removed.
fn demote_users(
    content: &mut Value,
    levels: &[(OwnedUserId, i64)],
    demote: &[OwnedUserId],
) -> bool {
    let Some(users) = content.get_mut("users").and_then(Value::as_object_mut) else {
        return false;
    };
    let mut changed = false;
    for user in demote {
        if levels.iter().any(|(u, _)| u == user) {
            continue;
        }
        changed |= users.remove(user.as_str()).is_some();
    }
    changed
}

/// The first [`MEMBER_SYNC_LIMIT`] members of a chat with their roles.
pub async fn list_members(
    telegram: &TelegramApi,
    chat: ChatRef,
) -> Result<Vec<TgMember>, CallError> {
    telegram.members(chat, MEMBER_SYNC_LIMIT).await
}

/// The portal power level a Telegram role gives; `None` for plain members.
pub fn role_level(role: TgRole) -> Option<i64> {
    match role {
        TgRole::Creator => Some(CREATOR_LEVEL),
        TgRole::Admin => Some(ADMIN_LEVEL),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn demotion_removes_only_unlisted_users() {
        let a: OwnedUserId = "@tg_1:localhost".try_into().unwrap();
        let b: OwnedUserId = "@tg_2:localhost".try_into().unwrap();
        let c: OwnedUserId = "@tg_3:localhost".try_into().unwrap();
        let mut content = json!({ "users": { "@tg_1:localhost": 50, "@tg_2:localhost": 50, "@bot:localhost": 100 } });
        let changed = demote_users(&mut content, &[(a.clone(), 50)], &[a, b, c]);
        assert!(changed);
        assert_eq!(
            content["users"],
            json!({ "@tg_1:localhost": 50, "@bot:localhost": 100 })
        );
        assert!(!demote_users(&mut content, &[], &[]));
    }
}
