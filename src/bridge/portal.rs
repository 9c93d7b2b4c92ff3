//! Portal rooms: what a Telegram chat looks like as a Matrix room, and
//! creating or updating that room. [`ChatInfo`] is the bridge's view of a
//! chat, independent of the MTProto client; the request builders are pure, and
//! [`PortalRooms`] does the homeserver calls and records portals in the store.
//!
//! It never talks to Telegram (the caller hands it [`ChatInfo`]) and never
//! touches the management room.

use std::time::Duration;

use grammers_session::types::PeerId;
use ruma::api::client::membership::join_room_by_id;
use ruma::api::client::room::create_room;
use ruma::api::client::state::{get_state_event_for_key, send_state_event};
use ruma::events::room::avatar::RoomAvatarEventContent;
use ruma::events::room::name::RoomNameEventContent;
use ruma::events::room::topic::RoomTopicEventContent;
use ruma::events::{EmptyStateKey, StateEventType};
use ruma::serde::Raw;
use ruma::{OwnedMxcUri, OwnedServerName, OwnedUserId, RoomId};
use serde_json::{json, Value};
use tracing::{info, warn};

use crate::matrix::{MatrixClient, MatrixError, RetryPolicy};
use crate::store::{Portal, PortalKind};
use crate::store::{Store, StoreError};

/// Power level of the bridge bot in every portal: above everyone, so it can
/// always mirror Telegram's state.
pub const BOT_LEVEL: i64 = 100;
/// The owner's level when they created the Telegram chat.
pub const CREATOR_LEVEL: i64 = 95;
/// The owner's level when they are a Telegram admin.
pub const ADMIN_LEVEL: i64 = 50;
/// The level of a broadcast channel's own ghost in its portal: what the
/// room asks of anyone who posts (only admins post in such a channel).
pub const CHANNEL_GHOST_LEVEL: i64 = ADMIN_LEVEL;

/// Type of the state event that marks a room as the portal of a Telegram
/// chat. It is part of the room from its creation, so a room created just
/// before a crash (and never recorded) can be recognised and adopted
/// instead of a second room being created.
pub const PORTAL_EVENT_TYPE: &str = "org.tgbridge.portal";

/// The owner's standing in a Telegram chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerRole {
    /// Created the chat.
    Creator,
    /// Has admin rights.
    Admin,
    /// An ordinary member.
    Member,
}

/// What the bridge knows about a Telegram chat when it creates or updates
/// its portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatInfo {
    /// The chat.
    pub peer: PeerId,
    /// Its kind.
    pub kind: PortalKind,
    /// Title (or the other user's name for a private chat).
    pub title: String,
    /// The "about" text, used as the room topic.
    pub about: Option<String>,
    /// The owner's standing, for power levels.
    pub owner_role: OwnerRole,
    /// Member count as Telegram reports it, if known.
    pub member_count: Option<u32>,
}

/// How portals are created.
#[derive(Debug, Clone)]
pub struct PortalSettings {
    /// The owner, invited to every portal.
    pub owner: OwnedUserId,
    /// Whether portal rooms federate (`m.federate`).
    pub federate: bool,
    /// Whether the owner's side joins at once (double puppeting).
    pub double_puppet: bool,
    /// The homeserver's name, for space `via` lists.
    pub server_name: OwnedServerName,
    /// Whether new rooms make their creator (the bot) all-powerful outside
    /// the power levels (room version 12 and later), in which case the bot
    /// must not be listed in them.
    pub creator_outranks_levels: bool,
    /// `bridge.alias_template`: the alias localpart of public chats' portals.
    pub alias_template: Option<String>,
    /// `bridge.ghost_prefix`: names the ghost a broadcast channel posts as.
    pub ghost_prefix: String,
}

impl PortalSettings {
    /// The ghost that posts a broadcast channel's messages in its portal;
    /// `None` for every other kind of chat.
    pub fn channel_ghost(&self, info: &ChatInfo) -> Option<OwnedUserId> {
        if info.kind != PortalKind::Channel {
            return None;
        }
        let id = info.peer.bare_id()?;
        crate::convert::ghost_user_id(&self.ghost_prefix, id, &self.server_name)
    }
}

/// The alias localpart of a public chat's portal from the template; `None`
/// without a template or when the result is not a usable localpart.
pub fn alias_localpart(template: Option<&str>, username: &str) -> Option<String> {
    let template = template?;
    let username = username.to_lowercase();
    let ok = !username.is_empty()
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    ok.then(|| template.replace("{username}", &username))
}

/// Whether rooms of `version` give their creator infinite power
/// (room versions 12 and later, and MSC4289 test versions).
pub fn creator_outranks_levels(version: &str) -> bool {
    version
        .parse::<u32>()
        .map_or(version.contains("4289"), |v| v >= 12)
}

/// Why a portal could not be created or updated.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// The homeserver refused or failed.
    #[error(transparent)]
    Matrix(#[from] MatrixError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A request could not be built (a bug, not input).
    #[error("could not build a request: {0}")]
    Build(String),
    /// Telegram refused or failed a call.
    #[error("Telegram: {0}")]
    Telegram(#[from] crate::telegram::CallError),
    /// An avatar could not be mirrored.
    #[error("avatar: {0}")]
    Avatar(#[from] super::avatar::AvatarError),
}

impl PortalError {
    /// Whether the homeserver was out (unreachable, failing or rate
    /// limiting): the same step can succeed once it is back.
    pub fn is_outage(&self) -> bool {
        matches!(self, PortalError::Matrix(error) if error.is_outage())
    }
}

/// The text form of a portal kind in the portal marker.
fn kind_name(kind: PortalKind) -> &'static str {
    match kind {
        PortalKind::Private => "private",
        PortalKind::Group => "group",
        PortalKind::Supergroup => "supergroup",
        PortalKind::Channel => "channel",
    }
}

/// The content of the [`PORTAL_EVENT_TYPE`] marker of a chat's portal.
pub fn portal_marker(peer: PeerId, kind: PortalKind) -> Value {
    json!({
        "peer": peer.bot_api_dialog_id().unwrap_or_default(),
        "kind": kind_name(kind),
    })
}

/// The content of the [`PORTAL_EVENT_TYPE`] marker of a forum topic's room.
pub fn topic_marker(peer: PeerId, kind: PortalKind, topic: i32) -> Value {
    let mut marker = portal_marker(peer, kind);
    marker["topic"] = json!(topic);
    marker
}

/// The chat a [`PORTAL_EVENT_TYPE`] marker names; `None` if it is not one,
/// or if it marks a forum topic's room (never the chat's own room).
pub fn parse_portal_marker(content: &Value) -> Option<(PeerId, PortalKind)> {
    if content.get("topic").is_some() {
        return None;
    }
    let peer = PeerId::from_bot_api_dialog_id(content.get("peer")?.as_i64()?)?;
    let kind = match content.get("kind")?.as_str()? {
        "private" => PortalKind::Private,
        "group" => PortalKind::Group,
        "supergroup" => PortalKind::Supergroup,
        "channel" => PortalKind::Channel,
        _ => return None,
    };
    Some((peer, kind))
}

/// The power levels of a portal: the bot on top, the owner by their Telegram
/// role, broadcast channels read-only for everyone below admin except for
/// the channel's own ghost (see [`grant_channel_posting`]).
/// `bot` is `None` when the room version already makes the bot all-powerful.
pub fn power_levels(
    info: &ChatInfo,
    bot: Option<&ruma::UserId>,
    owner: &ruma::UserId,
    channel_ghost: Option<&ruma::UserId>,
) -> Value {
    let owner_level = match info.owner_role {
        OwnerRole::Creator => CREATOR_LEVEL,
        OwnerRole::Admin => ADMIN_LEVEL,
        OwnerRole::Member => 0,
    };
    let events_default = if info.kind == PortalKind::Channel {
        ADMIN_LEVEL
    } else {
        0
    };
    let mut users = serde_json::Map::new();
    if let Some(bot) = bot {
        users.insert(bot.to_string(), json!(BOT_LEVEL));
    }
    if owner_level > 0 {
        users.insert(owner.to_string(), json!(owner_level));
    }
    let mut levels = json!({
        "users": users,
        "users_default": 0,
        "events_default": events_default,
        "state_default": ADMIN_LEVEL,
        "ban": ADMIN_LEVEL,
        "kick": ADMIN_LEVEL,
        "redact": ADMIN_LEVEL,
        "invite": ADMIN_LEVEL,
        "events": {
            "m.room.name": ADMIN_LEVEL,
            "m.room.avatar": ADMIN_LEVEL,
            "m.room.topic": ADMIN_LEVEL,
            "m.room.power_levels": BOT_LEVEL,
            "m.space.parent": BOT_LEVEL,
            "m.room.tombstone": BOT_LEVEL,
        },
    });
    if let Some(ghost) = channel_ghost {
        grant_channel_posting(&mut levels, ghost);
    }
    levels
}

/// What a broadcast channel's portal needs beyond being read-only: its
/// ghost may post (the channel's posts come from it), and everyone may
/// react and take their own reactions back, as subscribers do on Telegram.
/// Changes `levels` (a power levels content) only where it falls short and
/// returns whether it changed anything, so portals made before can be
/// brought in line without a needless state event.
pub fn grant_channel_posting(levels: &mut Value, ghost: &ruma::UserId) -> bool {
    let mut changed = false;
    if !levels["users"].is_object() {
        levels["users"] = json!({});
    }
    let slot = &mut levels["users"][ghost.as_str()];
    if slot.as_i64().unwrap_or(0) < CHANNEL_GHOST_LEVEL {
        *slot = json!(CHANNEL_GHOST_LEVEL);
        changed = true;
    }
    if !levels["events"].is_object() {
        levels["events"] = json!({});
    }
    for event_type in ["m.reaction", "m.room.redaction"] {
        if levels["events"].get(event_type).is_none() {
            levels["events"][event_type] = json!(0);
            changed = true;
        }
    }
    changed
}

fn raw<T>(value: &Value) -> Result<Raw<T>, PortalError> {
    serde_json::value::to_raw_value(value)
        .map(Raw::from_json)
        .map_err(|e| PortalError::Build(e.to_string()))
}

/// The `createRoom` request of a new portal.
pub fn create_request(
    info: &ChatInfo,
    settings: &PortalSettings,
    bot: &ruma::UserId,
    space: Option<&RoomId>,
) -> Result<create_room::v3::Request, PortalError> {
    let mut request = create_room::v3::Request::new();
    request.name = Some(info.title.clone());
    request.topic = info.about.clone().filter(|t| !t.is_empty());
    request.invite = vec![settings.owner.clone()];
    request.is_direct = info.kind == PortalKind::Private;
    request.preset = Some(create_room::v3::RoomPreset::PrivateChat);
    request.creation_content = Some(raw(&json!({ "m.federate": settings.federate }))?);
    let listed_bot = (!settings.creator_outranks_levels).then_some(bot);
    let channel_ghost = settings.channel_ghost(info);
    request.power_level_content_override = Some(raw(&power_levels(
        info,
        listed_bot,
        &settings.owner,
        channel_ghost.as_deref(),
    ))?);
    request.initial_state = vec![raw(&json!({
        "type": PORTAL_EVENT_TYPE,
        "state_key": "",
        "content": portal_marker(info.peer, info.kind),
    }))?];
    if let Some(space) = space {
        request.initial_state.push(raw(&json!({
            "type": "m.space.parent",
            "state_key": space.as_str(),
            "content": { "via": [settings.server_name.as_str()], "canonical": true },
        }))?);
    }
    Ok(request)
}

/// Creates and updates portal rooms.
pub struct PortalRooms<'a> {
    /// The homeserver client.
    pub client: &'a MatrixClient,
    /// The database.
    pub store: &'a Store,
    /// How rooms are set up.
    pub settings: &'a PortalSettings,
}

impl PortalRooms<'_> {
    /// The portal of `info.peer`, created when there is none; an existing one
    /// gets the current title and topic. Returns the portal and whether it
    /// is new.
    pub async fn ensure(
        &self,
        info: &ChatInfo,
        space: Option<&RoomId>,
    ) -> Result<(Portal, bool), PortalError> {
        let existing = self.store.portals().by_peer(info.peer)?;
        if let Some(portal) = existing {
            let portal = self.update(portal, info).await?;
            return Ok((portal, false));
        }
        Ok((self.create(info, space).await?, true))
    }

    async fn create(&self, info: &ChatInfo, space: Option<&RoomId>) -> Result<Portal, PortalError> {
        let bot = self.client.bot_user_id();
        let request = create_request(info, self.settings, bot, space)?;
        // Creating a room is not idempotent: never retried blindly.
        let room_id = self
            .client
            .as_bot()
            .send_with(request, RetryPolicy::no_retry())
            .await?
            .room_id;
        let portal = Portal {
            peer: info.peer,
            kind: info.kind,
            room_id: room_id.clone(),
            title: Some(info.title.clone()),
            avatar_photo_id: None,
            avatar_mxc: None,
            encrypted: false,
            in_space: false,
            topic: None,
        };
        self.store.portals().upsert(&portal)?;
        info!(%room_id, kind = ?info.kind, "portal created");
        if self.settings.double_puppet {
            self.join_as_owner(&room_id).await;
        }
        Ok(portal)
    }

    /// The room of topic `topic` of the forum `info` describes (whose own
    /// portal exists), created when there is none: named after the topic,
    /// with the forum's power levels, inside `space`. Returns the topic's
    /// portal and whether it is new.
    pub async fn ensure_topic(
        &self,
        info: &ChatInfo,
        topic: i32,
        title: &str,
        space: Option<&RoomId>,
    ) -> Result<(Portal, bool), PortalError> {
        if let Some(existing) = self.store.portals().topic(info.peer, topic)? {
            return Ok((existing, false));
        }
        let Some(forum) = self.store.portals().by_peer(info.peer)? else {
            return Err(PortalError::Build(
                "a topic room needs its forum's portal".to_owned(),
            ));
        };
        let topic_info = ChatInfo {
            title: title.to_owned(),
            about: None,
            ..info.clone()
        };
        let bot = self.client.bot_user_id();
        let mut request = create_request(&topic_info, self.settings, bot, space)?;
        request.initial_state[0] = raw(&json!({
            "type": PORTAL_EVENT_TYPE,
            "state_key": "",
            "content": topic_marker(info.peer, info.kind, topic),
        }))?;
        // Creating a room is not idempotent: never retried blindly.
        let room_id = self
            .client
            .as_bot()
            .send_with(request, RetryPolicy::no_retry())
            .await?
            .room_id;
        let portal = Portal {
            room_id: room_id.clone(),
            title: Some(title.to_owned()),
            in_space: false,
            topic: Some(topic),
            // A topic room's avatar is its icon's, never the forum's photo.
            avatar_photo_id: None,
            avatar_mxc: None,
            ..forum
        };
        self.store.portals().upsert(&portal)?;
        info!(%room_id, topic, "forum topic room created");
        if self.settings.double_puppet {
            self.join_as_owner(&room_id).await;
        }
        Ok((portal, true))
    }

    /// Renames a room (a chat's or a topic's) after its Telegram title.
    pub async fn rename(&self, mut portal: Portal, title: &str) -> Result<Portal, PortalError> {
        if portal.title.as_deref() == Some(title) {
            return Ok(portal);
        }
        let content = RoomNameEventContent::new(title.to_owned());
        let request =
            send_state_event::v3::Request::new(portal.room_id.clone(), &EmptyStateKey, &content)
                .map_err(|e| PortalError::Build(e.to_string()))?;
        self.client.as_bot().send(request).await?;
        portal.title = Some(title.to_owned());
        self.store.portals().upsert(&portal)?;
        info!(room_id = %portal.room_id, "room renamed after the Telegram title");
        Ok(portal)
    }

    async fn join_as_owner(&self, room_id: &RoomId) {
        let request = join_room_by_id::v3::Request::new(room_id.to_owned());
        if let Err(error) = self
            .client
            .as_user(&self.settings.owner)
            .send(request)
            .await
        {
            warn!(%room_id, %error, "could not join the portal as the owner; they keep the invite");
        }
    }

    /// Brings the room name in line with the Telegram title.
    async fn update(&self, mut portal: Portal, info: &ChatInfo) -> Result<Portal, PortalError> {
        if portal.title.as_deref() != Some(info.title.as_str()) {
            let content = RoomNameEventContent::new(info.title.clone());
            let request = send_state_event::v3::Request::new(
                portal.room_id.clone(),
                &EmptyStateKey,
                &content,
            )
            .map_err(|e| PortalError::Build(e.to_string()))?;
            self.client.as_bot().send(request).await?;
            portal.title = Some(info.title.clone());
            self.store.portals().upsert(&portal)?;
            info!(room_id = %portal.room_id, "portal renamed after the Telegram title");
        }
        Ok(portal)
    }

    /// Gives a new portal of a public chat its alias (from the template)
    /// and makes it canonical; an alias already taken is left alone.
    pub async fn claim_alias(&self, room_id: &RoomId, username: &str) -> Result<(), PortalError> {
        use ruma::api::client::alias::create_alias;
        use ruma::events::room::canonical_alias::RoomCanonicalAliasEventContent;
        let template = self.settings.alias_template.as_deref();
        let Some(localpart) = alias_localpart(template, username) else {
            return Ok(());
        };
        let Ok(alias) =
            ruma::OwnedRoomAliasId::try_from(format!("#{localpart}:{}", self.settings.server_name))
        else {
            return Ok(());
        };
        let request = create_alias::v3::Request::new(alias.clone(), room_id.to_owned());
        match self.client.as_bot().send(request).await {
            Ok(_) => {}
            Err(error)
                if error.errcode() == Some("M_UNKNOWN")
                    || error.status().map(|s| s.as_u16()) == Some(409) =>
            {
                info!(%alias, "the portal alias is taken; the portal goes without");
                return Ok(());
            }
            Err(error) => return Err(error.into()),
        }
        let mut content = RoomCanonicalAliasEventContent::new();
        content.alias = Some(alias);
        let request =
            send_state_event::v3::Request::new(room_id.to_owned(), &EmptyStateKey, &content)
                .map_err(|e| PortalError::Build(e.to_string()))?;
        self.client.as_bot().send(request).await?;
        Ok(())
    }

    /// Sets the room avatar to `avatar` (Telegram photo id and its upload),
    /// or removes it for `None`, unless the portal already shows that photo.
    pub async fn set_avatar(
        &self,
        portal: &mut Portal,
        avatar: Option<(i64, OwnedMxcUri)>,
    ) -> Result<(), PortalError> {
        let photo_id = avatar.as_ref().map(|(id, _)| *id);
        if portal.avatar_photo_id == photo_id {
            return Ok(());
        }
        let request = match &avatar {
            Some((_, mxc)) => {
                let mut content = RoomAvatarEventContent::new();
                content.url = Some(mxc.clone());
                send_state_event::v3::Request::new(portal.room_id.clone(), &EmptyStateKey, &content)
                    .map_err(|e| PortalError::Build(e.to_string()))?
            }
            // An empty content removes the avatar; ruma would write `"url": null`.
            None => send_state_event::v3::Request::new_raw(
                portal.room_id.clone(),
                StateEventType::RoomAvatar,
                String::new(),
                raw(&json!({}))?,
            ),
        };
        self.client.as_bot().send(request).await?;
        portal.avatar_photo_id = photo_id;
        portal.avatar_mxc = avatar.map(|(_, mxc)| mxc);
        self.store.portals().upsert(portal)?;
        info!(room_id = %portal.room_id, "portal avatar follows the Telegram photo");
        Ok(())
    }

    /// Brings a broadcast channel portal's power levels in line with
    /// [`grant_channel_posting`] for `ghost`; sends nothing when they are.
    pub async fn grant_channel_posting(
        &self,
        room_id: &RoomId,
        ghost: &ruma::UserId,
    ) -> Result<(), PortalError> {
        let mut levels = self.power_levels(room_id).await?;
        if !grant_channel_posting(&mut levels, ghost) {
            return Ok(());
        }
        self.set_power_levels(room_id, &levels).await?;
        info!(%room_id, "the channel's ghost may post in its portal");
        Ok(())
    }

    /// A room's power levels as the bot reads them, as JSON, so that a
    /// change keeps every key this bridge does not know.
    pub async fn power_levels(&self, room_id: &RoomId) -> Result<Value, PortalError> {
        let current = self
            .client
            .as_bot()
            .send(get_state_event_for_key::v3::Request::new(
                room_id.to_owned(),
                StateEventType::RoomPowerLevels,
                String::new(),
            ))
            .await?;
        serde_json::from_str(current.event_or_content.get())
            .map_err(|e| PortalError::Build(e.to_string()))
    }

    /// Sends `levels` as the room's power levels, as the bot.
    pub async fn set_power_levels(
        &self,
        room_id: &RoomId,
        levels: &Value,
    ) -> Result<(), PortalError> {
        let request = send_state_event::v3::Request::new_raw(
            room_id.to_owned(),
            StateEventType::RoomPowerLevels,
            String::new(),
            raw(levels)?,
        );
        self.client.as_bot().send(request).await?;
        Ok(())
    }

    /// The room's topic as the homeserver has it (empty when unset).
    pub async fn topic(&self, room_id: &RoomId) -> Result<String, PortalError> {
        let request = get_state_event_for_key::v3::Request::new(
            room_id.to_owned(),
            StateEventType::RoomTopic,
            String::new(),
        );
        match self.client.as_bot().send(request).await {
            Ok(response) => {
                let content: Value = serde_json::from_str(response.event_or_content.get())
                    .map_err(|e| PortalError::Build(e.to_string()))?;
                Ok(content["topic"].as_str().unwrap_or_default().to_owned())
            }
            Err(error) if error.status().map(|s| s.as_u16()) == Some(404) => Ok(String::new()),
            Err(error) => Err(error.into()),
        }
    }

    /// Sets the room topic (the chat's about text changed).
    pub async fn set_topic(&self, room_id: &RoomId, topic: &str) -> Result<(), PortalError> {
        let content = RoomTopicEventContent::new(topic.to_owned());
        let request =
            send_state_event::v3::Request::new(room_id.to_owned(), &EmptyStateKey, &content)
                .map_err(|e| PortalError::Build(e.to_string()))?;
        self.client.as_bot().send(request).await?;
        Ok(())
    }
}

/// A short pause between room creations, so a long sync does not flood a
/// small homeserver.
pub const CREATION_PAUSE: Duration = Duration::from_millis(200);

#[cfg(test)]
mod tests {
    use super::*;

    fn info(kind: PortalKind, role: OwnerRole) -> ChatInfo {
        ChatInfo {
            peer: PeerId::chat(5).unwrap(),
            kind,
            title: "Hikers".into(),
            about: Some("Weekend walks".into()),
            owner_role: role,
            member_count: Some(3),
        }
    }

    fn settings() -> PortalSettings {
        PortalSettings {
            owner: "@owner:localhost".try_into().unwrap(),
            federate: false,
            double_puppet: false,
            server_name: "localhost".try_into().unwrap(),
            creator_outranks_levels: false,
            alias_template: None,
            ghost_prefix: "tg_".into(),
        }
    }

    #[test]
    fn aliases_come_from_the_template_and_usable_usernames() {
        let template = Some("telegram_{username}");
        assert_eq!(
            alias_localpart(template, "Daily_News"),
            Some("telegram_daily_news".into())
        );
        assert_eq!(alias_localpart(None, "dailynews"), None);
        assert_eq!(alias_localpart(template, ""), None);
        assert_eq!(alias_localpart(template, "a:b"), None);
    }

    #[test]
    fn broadcast_channels_are_read_only_below_admin() {
        let bot: OwnedUserId = "@bot:localhost".try_into().unwrap();
        let owner: OwnedUserId = "@owner:localhost".try_into().unwrap();
        let channel = power_levels(
            &info(PortalKind::Channel, OwnerRole::Member),
            Some(&bot),
            &owner,
            None,
        );
        assert_eq!(channel["events_default"], ADMIN_LEVEL);
        assert!(channel["users"].get(owner.as_str()).is_none());
        let group = power_levels(
            &info(PortalKind::Group, OwnerRole::Creator),
            Some(&bot),
            &owner,
            None,
        );
        assert_eq!(group["events_default"], 0);
        assert_eq!(group["users"][owner.as_str()], CREATOR_LEVEL);
        assert_eq!(group["users"][bot.as_str()], BOT_LEVEL);
    }

    #[test]
    fn a_channel_posts_as_its_ghost_and_subscribers_react() {
        let bot: OwnedUserId = "@bot:localhost".try_into().unwrap();
        let owner: OwnedUserId = "@owner:localhost".try_into().unwrap();
        let mut channel = info(PortalKind::Channel, OwnerRole::Member);
        channel.peer = PeerId::channel(77).unwrap();
        let ghost = settings().channel_ghost(&channel).unwrap();
        assert_eq!(ghost.as_str(), "@tg_77:localhost");
        let request = create_request(&channel, &settings(), &bot, None).unwrap();
        let levels: Value = serde_json::from_str(
            request
                .power_level_content_override
                .as_ref()
                .unwrap()
                .json()
                .get(),
        )
        .unwrap();
        assert_eq!(levels["users"][ghost.as_str()], CHANNEL_GHOST_LEVEL);
        assert!(CHANNEL_GHOST_LEVEL >= levels["events_default"].as_i64().unwrap());
        assert_eq!(levels["events"]["m.reaction"], 0);
        assert_eq!(levels["events"]["m.room.redaction"], 0);
        assert!(levels["users"].get(owner.as_str()).is_none());
        assert_eq!(
            settings().channel_ghost(&info(PortalKind::Supergroup, OwnerRole::Member)),
            None
        );

        // A portal made before: fixed once, then left alone.
        let mut old = power_levels(&channel, Some(&bot), &owner, None);
        assert!(grant_channel_posting(&mut old, &ghost));
        assert_eq!(old, levels);
        assert!(!grant_channel_posting(&mut old, &ghost));
        // A higher level someone gave the ghost is kept.
        old["users"][ghost.as_str()] = json!(75);
        assert!(!grant_channel_posting(&mut old, &ghost));
        assert_eq!(old["users"][ghost.as_str()], 75);
    }

    #[test]
    fn room_version_12_makes_the_creator_outrank_levels() {
        assert!(creator_outranks_levels("12"));
        assert!(creator_outranks_levels(
            "org.matrix.hydra.11"
                .replace("hydra.11", "msc4289")
                .as_str()
        ));
        assert!(!creator_outranks_levels("10"));
        assert!(!creator_outranks_levels("11"));
    }

    #[test]
    fn create_request_names_invites_and_links_the_space() {
        let bot: OwnedUserId = "@bot:localhost".try_into().unwrap();
        let space: ruma::OwnedRoomId = "!space:localhost".try_into().unwrap();
        let request = create_request(
            &info(PortalKind::Supergroup, OwnerRole::Admin),
            &settings(),
            &bot,
            Some(&space),
        )
        .unwrap();
        assert_eq!(request.name.as_deref(), Some("Hikers"));
        assert_eq!(request.topic.as_deref(), Some("Weekend walks"));
        assert_eq!(request.invite, vec![settings().owner]);
        assert!(!request.is_direct);
        let creation: Value =
            serde_json::from_str(request.creation_content.unwrap().json().get()).unwrap();
        assert_eq!(creation["m.federate"], false);
        let marker: Value = serde_json::from_str(request.initial_state[0].json().get()).unwrap();
        assert_eq!(marker["type"], PORTAL_EVENT_TYPE);
        assert_eq!(
            parse_portal_marker(&marker["content"]),
            Some((PeerId::chat(5).unwrap(), PortalKind::Supergroup))
        );
        let parent: Value = serde_json::from_str(request.initial_state[1].json().get()).unwrap();
        assert_eq!(parent["type"], "m.space.parent");
        assert_eq!(parent["state_key"], "!space:localhost");
    }

    #[test]
    fn portal_markers_round_trip_and_reject_junk() {
        for kind in [
            PortalKind::Private,
            PortalKind::Group,
            PortalKind::Supergroup,
            PortalKind::Channel,
        ] {
            let peer = PeerId::channel(77).unwrap();
            assert_eq!(
                parse_portal_marker(&portal_marker(peer, kind)),
                Some((peer, kind))
            );
        }
        assert_eq!(
            parse_portal_marker(&json!({ "peer": "x", "kind": "group" })),
            None
        );
        assert_eq!(
            parse_portal_marker(&json!({ "peer": 5, "kind": "forum" })),
            None
        );
        assert_eq!(parse_portal_marker(&json!({})), None);
    }
}
