//! Chat metadata both ways: Telegram title, about text and photo changes and
//! group → supergroup migration update the portal; the owner renaming a
//! portal, changing its topic or its avatar changes the Telegram chat (or
//! says why Telegram refused). Those owner changes come through the outbox:
//! when Telegram cannot be reached the error is passed up, so the change
//! waits in the outbox until it can. Messages and members are not touched
//! here.

use super::outbound_plan;
use super::*;
use crate::bridge::avatar;

impl Side {
    /// Renames the Telegram chat after the owner renamed its portal; tells
    /// the owner when Telegram refuses (no right to change the title).
    pub(super) async fn rename_on_telegram(
        &self,
        client: &grammers_client::Client,
        room_id: &ruma::RoomId,
        name: &str,
    ) -> Result<(), PortalError> {
        let existing = self.store.portals().by_room(room_id)?;
        let Some(mut portal) = existing else {
            return Ok(());
        };
        if portal.title.as_deref() == Some(name) || portal.kind == PortalKind::Private {
            // Our own echo of a Telegram title, or a chat without a title.
            return Ok(());
        }
        if let Some(topic) = portal.topic {
            return self
                .rename_topic_on_telegram(client, portal, topic, name)
                .await;
        }
        let channel = self.cached_ref(portal.peer).await;
        match edit_title(client, portal.peer, channel, name).await {
            Ok(()) => {
                portal.title = Some(name.to_owned());
                self.store.portals().upsert(&portal)?;
                info!(%room_id, "Telegram chat renamed after the room");
            }
            Err(error) if outbound_plan::is_unreachable(&error) => return Err(error.into()),
            Err(error) => {
                let why = match &error {
                    grammers_mtsender::InvocationError::Rpc(rpc) => rpc.name.clone(),
                    other => other.to_string(),
                };
                self.notify(&format!(
                    "Could not rename the Telegram chat \"{}\" to \"{name}\": Telegram said {why} (you may lack the right to change its info there).",
                    portal.title.as_deref().unwrap_or_default()
                ))
                .await;
            }
        }
        Ok(())
    }

    /// Re-reads a chat whose info changed on Telegram (photo, about text,
    /// admins) and brings its portal in line: name, topic, avatar and the
    /// power levels of its admins.
    pub(super) async fn on_chat_changed(&self, chat: PeerId) -> Result<(), PortalError> {
        let Some(portal) = self.store.portals().by_peer(chat)? else {
            return Ok(());
        };
        if portal.kind == PortalKind::Private {
            return Ok(());
        }
        let Some(client) = self.telegram.get() else {
            return Ok(());
        };
        let Some(peer) = self.resolve(self.cached_ref(chat).await).await else {
            return Ok(());
        };
        let Some(info) = sync::chat_info(&peer) else {
            // Left, kicked or deactivated: the portal stays as it is.
            return Ok(());
        };
        let rooms = self.rooms();
        let (mut portal, _) = rooms.ensure(&info, None).await?;
        match sync::fetch_about(client, &peer).await {
            Ok(about) => {
                let about = about.unwrap_or_default();
                if rooms.topic(&portal.room_id).await? != about {
                    rooms.set_topic(&portal.room_id, &about).await?;
                    info!(room_id = %portal.room_id, "portal topic follows the Telegram about text");
                }
            }
            Err(error) => debug!(%error, "could not read the chat's about text"),
        }
        sync::mirror_chat_photo(&rooms, client, &mut portal, &peer).await?;
        self.follow_forum_flag(client, &portal, sync::is_forum(&peer))
            .await?;
        match self.portal_settings.channel_ghost(&info) {
            // A subscriber cannot list a channel's admins, and only its
            // ghost posts there: that is what must survive a change.
            Some(ghost) => rooms.grant_channel_posting(&portal.room_id, &ghost).await?,
            None => self.refresh_levels(&portal).await?,
        }
        Ok(())
    }

    /// Renames a forum topic after the owner renamed its room.
    async fn rename_topic_on_telegram(
        &self,
        client: &grammers_client::Client,
        mut portal: Portal,
        topic: i32,
        name: &str,
    ) -> Result<(), PortalError> {
        use grammers_tl_types as tl;
        let Some(peer) = self.cached_ref(portal.peer).await else {
            return Ok(());
        };
        let request = tl::functions::messages::EditForumTopic {
            peer: peer.into(),
            topic_id: topic,
            title: Some(name.to_owned()),
            icon_emoji_id: None,
            closed: None,
            hidden: None,
        };
        match client.invoke(&request).await {
            Ok(_) => {
                portal.title = Some(name.to_owned());
                self.store.portals().upsert(&portal)?;
                info!(room_id = %portal.room_id, topic, "forum topic renamed after the room");
            }
            Err(error) if error.is("TOPIC_NOT_MODIFIED") => {}
            Err(error) if outbound_plan::is_unreachable(&error) => return Err(error.into()),
            Err(error) => self.refused(&portal, "rename the topic of", &error).await,
        }
        Ok(())
    }

    /// Sets the Telegram chat's about text after the owner changed the
    /// portal's topic; tells the owner when Telegram refuses.
    pub(super) async fn topic_on_telegram(
        &self,
        client: &grammers_client::Client,
        room_id: &ruma::RoomId,
        topic: &str,
    ) -> Result<(), PortalError> {
        use grammers_tl_types as tl;
        let Some(portal) = self.store.portals().by_room(room_id)? else {
            return Ok(());
        };
        // A forum topic has no description of its own.
        if portal.kind == PortalKind::Private || portal.is_topic() {
            return Ok(());
        }
        let Some(peer) = self.cached_ref(portal.peer).await else {
            return Ok(());
        };
        let request = tl::functions::messages::EditChatAbout {
            peer: peer.into(),
            about: topic.to_owned(),
        };
        match client.invoke(&request).await {
            Ok(_) => info!(%room_id, "Telegram about text follows the room topic"),
            Err(error) if error.is("CHAT_ABOUT_NOT_MODIFIED") => {}
            Err(error) if outbound_plan::is_unreachable(&error) => return Err(error.into()),
            Err(error) => {
                self.refused(&portal, "change the description of", &error)
                    .await
            }
        }
        Ok(())
    }

    /// Sets (or removes) the Telegram chat's photo after the owner changed
    /// the portal's avatar; tells the owner when Telegram refuses. The photo
    /// Telegram makes of it is recorded as the portal's, so its echo does
    /// not come back as another avatar change.
    pub(super) async fn avatar_on_telegram(
        &self,
        client: &grammers_client::Client,
        room_id: &ruma::RoomId,
        url: Option<ruma::OwnedMxcUri>,
    ) -> Result<(), PortalError> {
        use grammers_tl_types as tl;
        let Some(mut portal) = self.store.portals().by_room(room_id)? else {
            return Ok(());
        };
        // A forum topic's icon is a custom emoji, not a photo.
        if portal.kind == PortalKind::Private || portal.is_topic() || portal.avatar_mxc == url {
            // A private chat has no photo of its own; an equal URL is our echo.
            return Ok(());
        }
        let photo = match &url {
            Some(mxc) => {
                let bytes = avatar::download_mxc(&self.client, mxc).await?;
                let size = bytes.len();
                let name = format!(
                    "avatar.{}",
                    avatar::image_type(&bytes).trim_start_matches("image/")
                );
                let uploaded = client
                    .upload_stream(&mut std::io::Cursor::new(bytes), size, name)
                    .await
                    .map_err(|e| avatar::AvatarError::Upload(e.to_string()))?;
                tl::types::InputChatUploadedPhoto {
                    file: Some(uploaded.raw),
                    video: None,
                    video_start_ts: None,
                    video_emoji_markup: None,
                }
                .into()
            }
            None => tl::enums::InputChatPhoto::Empty,
        };
        let channel = self.cached_ref(portal.peer).await;
        let result = match (portal.peer.kind(), portal.peer.bare_id()) {
            (PeerKind::Chat, Some(chat_id)) => {
                client
                    .invoke(&tl::functions::messages::EditChatPhoto { chat_id, photo })
                    .await
            }
            (PeerKind::Channel, Some(_)) => match channel {
                Some(channel) => {
                    client
                        .invoke(&tl::functions::channels::EditPhoto {
                            channel: tl::enums::InputChannel::from(&channel),
                            photo,
                        })
                        .await
                }
                None => return Ok(()),
            },
            _ => return Ok(()),
        };
        match result {
            Ok(updates) => {
                portal.avatar_photo_id = edited_photo_id(&updates);
                if let (Some(id), Some(mxc)) = (portal.avatar_photo_id, &url) {
                    self.store
                        .kv_set(&format!("avatar_mxc:{id}"), mxc.as_str())?;
                }
                portal.avatar_mxc = url;
                self.store.portals().upsert(&portal)?;
                info!(%room_id, "Telegram chat photo follows the room avatar");
            }
            Err(error) if error.is("PHOTO_NOT_MODIFIED") || error.is("CHAT_NOT_MODIFIED") => {}
            Err(error) if outbound_plan::is_unreachable(&error) => return Err(error.into()),
            Err(error) => self.refused(&portal, "change the photo of", &error).await,
        }
        Ok(())
    }

    /// Tells the owner Telegram refused to `what` the portal's chat.
    async fn refused(
        &self,
        portal: &Portal,
        what: &str,
        error: &grammers_mtsender::InvocationError,
    ) {
        let why = match error {
            grammers_mtsender::InvocationError::Rpc(rpc) => rpc.name.clone(),
            other => other.to_string(),
        };
        self.notify_in(
            &portal.room_id,
            &format!(
                "Could not {what} the Telegram chat \"{}\": Telegram said {why} (you may lack the right to change its info there).",
                portal.title.as_deref().unwrap_or_default()
            ),
        )
        .await;
    }

    /// Renames the portal after the Telegram title.
    pub(super) async fn on_title(&self, chat: PeerId, title: String) -> Result<(), PortalError> {
        let Some(portal) = self.store.portals().by_peer(chat)? else {
            return Ok(());
        };
        let info = ChatInfo {
            peer: chat,
            kind: portal.kind,
            title,
            about: None,
            owner_role: OwnerRole::Member,
            member_count: None,
        };
        self.rooms().ensure(&info, None).await?;
        Ok(())
    }

    /// A basic group became a supergroup: its room now bridges the
    /// supergroup (the room is reused, so history and members stay in one
    /// place), unless the supergroup already has a room of its own.
    pub(super) async fn on_migrated(&self, from: PeerId, to: PeerId) -> Result<(), PortalError> {
        let old = self.store.portals().by_peer(from)?;
        let Some(mut portal) = old else {
            return Ok(());
        };
        if self.store.portals().by_peer(to)?.is_some() {
            return Ok(());
        }
        self.store.portals().delete(from)?;
        portal.peer = to;
        portal.kind = PortalKind::Supergroup;
        self.store.portals().upsert(&portal)?;
        info!(room_id = %portal.room_id, "portal follows the group's upgrade to a supergroup");
        self.notify_in(
            &portal.room_id,
            "This group was upgraded to a supergroup on Telegram; this room now bridges the supergroup.",
        )
        .await;
        Ok(())
    }
}

impl Side {
    /// A service message about the chat itself (members, title, photo,
    /// creation, migration) in `portal`'s chat. The separate chat events
    /// (`TitleChanged`, `ChatChanged`, `Migrated`) already update the room;
    /// this is where a visible trace of the message belongs.
    pub(super) async fn on_chat_action(
        &self,
        _portal: &Portal,
        message: &Message,
    ) -> Result<(), PortalError> {
        self.on_member_service(message).await
    }
}

/// The id of the photo a chat-photo edit produced, from the service message
/// in Telegram's answer; `None` when the photo was removed.
fn edited_photo_id(updates: &grammers_tl_types::enums::Updates) -> Option<i64> {
    use grammers_tl_types::enums::{Message, MessageAction, Photo};
    crate::telegram::answer::new_messages(updates).find_map(|message| match message {
        Message::Service(service) => match &service.action {
            MessageAction::ChatEditPhoto(edit) => match &edit.photo {
                Photo::Photo(photo) => Some(photo.id),
                Photo::Empty(_) => None,
            },
            _ => None,
        },
        _ => None,
    })
}

/// Sets a group's or channel's title on Telegram.
/// `channel` is the cached reference of a channel chat (its access hash).
async fn edit_title(
    client: &grammers_client::Client,
    chat: PeerId,
    channel: Option<PeerRef>,
    title: &str,
) -> Result<(), grammers_mtsender::InvocationError> {
    use grammers_tl_types as tl;
    match (chat.kind(), chat.bare_id()) {
        (PeerKind::Chat, Some(chat_id)) => {
            client
                .invoke(&tl::functions::messages::EditChatTitle {
                    chat_id,
                    title: title.to_owned(),
                })
                .await?;
        }
        (PeerKind::Channel, Some(_)) => {
            let Some(channel) = channel else {
                return Err(grammers_mtsender::InvocationError::Rpc(
                    grammers_mtsender::RpcError {
                        code: 400,
                        name: "CHANNEL_INVALID".into(),
                        value: None,
                        caused_by: None,
                    },
                ));
            };
            client
                .invoke(&tl::functions::channels::EditTitle {
                    channel: tl::enums::InputChannel::from(&channel),
                    title: title.to_owned(),
                })
                .await?;
        }
        _ => {}
    }
    Ok(())
}
