//! Ghosts: the Matrix puppets of Telegram users (and of channels posting as
//! themselves), named `@<prefix><telegram id>:<domain>`, registered on first
//! use, named from the configured template, and kept in portal member lists.
//! Member sync mirrors a chat's Telegram members into its portal, with
//! Telegram admins given matching power levels.
//!
//! It never creates rooms (that is [`super::portal`]) and never sends messages.

use grammers_client::peer::{Peer, Role, User};
use grammers_client::Client;
use grammers_mtsender::InvocationError;
use grammers_session::types::PeerRef;
use ruma::api::client::membership::{invite_user, join_room_by_id};
use ruma::api::client::state::{get_state_event_for_key, send_state_event};
use ruma::events::room::power_levels::RoomPowerLevelsEventContent;
use ruma::events::{EmptyStateKey, StateEventType};
use ruma::{OwnedUserId, RoomId, UserId};
use serde_json::Value;
use tracing::{debug, warn};

use super::portal::{PortalError, ADMIN_LEVEL, CREATOR_LEVEL};
use crate::config::{BridgeConfig, GhostName};
use crate::matrix::MatrixClient;
use crate::store::{Ghost, Store};

/// At most this many members of one chat get a ghost in its portal, so a
/// huge group does not flood the homeserver with joins.
pub const MEMBER_SYNC_LIMIT: usize = 200;

/// The display name of a Telegram user's ghost, from the template; deleted
/// accounts get a recognisable fallback.
pub fn user_displayname(config: &BridgeConfig, user: &User) -> String {
    let id = user.id().bare_id().unwrap_or_default();
    if user.deleted() {
        return config.ghost_displayname(&GhostName {
            first_name: "Deleted account",
            id,
            ..GhostName::default()
        });
    }
    config.ghost_displayname(&GhostName {
        first_name: user.first_name().unwrap_or_default(),
        last_name: user.last_name().unwrap_or_default(),
        username: user.username().unwrap_or_default(),
        id,
    })
}

/// The display name of any peer's ghost: the template for users, the title
/// for a channel or group posting as itself.
pub fn peer_displayname(config: &BridgeConfig, peer: &Peer) -> String {
    match peer {
        Peer::User(user) => user_displayname(config, user),
        other => other.name().unwrap_or_default().to_owned(),
    }
}

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
        UserId::parse(format!(
            "@{}{telegram_id}:{server}",
            self.config.ghost_prefix
        ))
        .unwrap_or_else(|_| self.client.bot_user_id().to_owned())
    }

    /// Registers the ghost of `telegram_id` if needed and sets its display
    /// name when `name` is known and differs from the one last set.
    pub async fn ensure(
        &self,
        telegram_id: i64,
        name: Option<&str>,
    ) -> Result<OwnedUserId, PortalError> {
        let user_id = self.user_id(telegram_id);
        let mut ghost = self
            .store
            .ghosts()
            .get(telegram_id)?
            .unwrap_or_else(|| Ghost::new(telegram_id));
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
        self.store.ghosts().upsert(&ghost)?;
        Ok(user_id)
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
        if levels.is_empty() {
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
        let mut changed = false;
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
        telegram: &Client,
        chat: PeerRef,
        room: &RoomId,
        self_id: i64,
    ) -> Result<usize, PortalError> {
        let members = list_members(telegram, chat)
            .await
            .map_err(|e| PortalError::Build(format!("listing members: {e}")))?;
        let mut levels = Vec::new();
        let mut joined = 0;
        for (user, role) in members {
            let telegram_id = user.id().bare_id().unwrap_or_default();
            if telegram_id == self_id || matches!(role, Role::Banned(_) | Role::Left(_)) {
                continue;
            }
            let name = user_displayname(self.config, &user);
            let ghost = self.ensure(telegram_id, Some(&name)).await?;
            if let Err(error) = self.join(room, &ghost).await {
                warn!(%error, "a member's ghost could not join the portal");
                continue;
            }
            joined += 1;
            match role {
                Role::Creator(_) => levels.push((ghost, CREATOR_LEVEL)),
                Role::Admin(_) => levels.push((ghost, ADMIN_LEVEL)),
                _ => {}
            }
        }
        self.set_levels(room, &levels).await?;
        Ok(joined)
    }
}

async fn list_members(
    telegram: &Client,
    chat: PeerRef,
) -> Result<Vec<(User, Role)>, InvocationError> {
    let mut members = Vec::new();
    let mut iter = telegram.iter_participants(chat);
    while let Some(participant) = iter.next().await? {
        members.push((participant.user, participant.role));
        if members.len() >= MEMBER_SYNC_LIMIT {
            break;
        }
    }
    Ok(members)
}
