//! The "Telegram" space: one space room owned by the bot that gathers every
//! portal, with the owner invited; inside it, one space per forum
//! supergroup gathering the forum's topic rooms. Their room ids are kept in
//! the store's key-value table; it never touches portal rooms except for
//! linking them.

use ruma::api::client::room::create_room;
use ruma::api::client::state::send_state_event;
use ruma::events::space::child::SpaceChildEventContent;
use ruma::serde::Raw;
use ruma::{OwnedRoomId, RoomId};
use serde_json::json;
use tracing::info;

use super::portal::{PortalError, PortalSettings};
use crate::matrix::{MatrixClient, RetryPolicy};
use crate::store::Store;

/// Key of the space's room id in the store's key-value table.
pub const SPACE_KEY: &str = "telegram_space";

/// The space's name as the owner sees it.
pub const SPACE_NAME: &str = "Telegram";

/// The space room, created on first use.
pub async fn ensure_space(
    client: &MatrixClient,
    store: &Store,
    settings: &PortalSettings,
) -> Result<OwnedRoomId, PortalError> {
    if let Some(recorded) = store.kv_get(SPACE_KEY)? {
        if let Ok(room_id) = OwnedRoomId::try_from(recorded) {
            return Ok(room_id);
        }
    }
    let room_id = create_space(client, settings, SPACE_NAME, "Your bridged Telegram chats").await?;
    store.kv_set(SPACE_KEY, room_id.as_str())?;
    info!(%room_id, "Telegram space created");
    Ok(room_id)
}

/// Key of a forum's space in the store's key-value table.
pub fn forum_space_key(forum: i64) -> String {
    format!("forum_space:{forum}")
}

/// The space of a forum supergroup (named after it, inside `parent`),
/// created on first use; `forum` is the forum's Bot API dialog id.
pub async fn ensure_forum_space(
    client: &MatrixClient,
    store: &Store,
    settings: &PortalSettings,
    forum: i64,
    title: &str,
    parent: Option<&RoomId>,
) -> Result<OwnedRoomId, PortalError> {
    let key = forum_space_key(forum);
    if let Some(recorded) = store.kv_get(&key)? {
        if let Ok(room_id) = OwnedRoomId::try_from(recorded) {
            return Ok(room_id);
        }
    }
    let room_id = create_space(client, settings, title, "The topics of a Telegram forum").await?;
    store.kv_set(&key, room_id.as_str())?;
    if let Some(parent) = parent {
        add_child(client, parent, &room_id, settings).await?;
    }
    info!(%room_id, "forum space created");
    Ok(room_id)
}

/// Creates a space room owned by the bot, with the owner invited.
async fn create_space(
    client: &MatrixClient,
    settings: &PortalSettings,
    name: &str,
    topic: &str,
) -> Result<OwnedRoomId, PortalError> {
    let mut request = create_room::v3::Request::new();
    request.name = Some(name.to_owned());
    request.topic = Some(topic.to_owned());
    request.invite = vec![settings.owner.clone()];
    request.preset = Some(create_room::v3::RoomPreset::PrivateChat);
    let creation = json!({ "type": "m.space", "m.federate": settings.federate });
    request.creation_content = Some(Raw::from_json(
        serde_json::value::to_raw_value(&creation)
            .map_err(|e| PortalError::Build(e.to_string()))?,
    ));
    // Creating a room is not idempotent: never retried blindly.
    Ok(client
        .as_bot()
        .send_with(request, RetryPolicy::no_retry())
        .await?
        .room_id)
}

/// Adds `room` to the space (`m.space.child`, idempotent).
pub async fn add_child(
    client: &MatrixClient,
    space: &RoomId,
    room: &RoomId,
    settings: &PortalSettings,
) -> Result<(), PortalError> {
    let content = SpaceChildEventContent::new(vec![settings.server_name.clone()]);
    let request = send_state_event::v3::Request::new(space.to_owned(), room.as_str(), &content)
        .map_err(|e| PortalError::Build(e.to_string()))?;
    client.as_bot().send(request).await?;
    Ok(())
}
