//! Chat metadata both ways: Telegram title changes and group → supergroup
//! migration update the portal; the owner renaming a portal renames the
//! Telegram chat. Messages are not touched here.

use super::*;

impl Side {
    /// Renames the Telegram chat after the owner renamed its portal; tells
    /// the owner when Telegram refuses (no right to change the title).
    pub(super) async fn rename_on_telegram(
        &self,
        runtime: &TelegramRuntime,
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
        let channel = self.cached_ref(portal.peer).await;
        match edit_title(runtime, portal.peer, channel, name).await {
            Ok(()) => {
                portal.title = Some(name.to_owned());
                self.store.portals().upsert(&portal)?;
                info!(%room_id, "Telegram chat renamed after the room");
            }
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
        _message: &Message,
    ) -> Result<(), PortalError> {
        Ok(())
    }
}

/// Sets a group's or channel's title on Telegram.
/// `channel` is the cached reference of a channel chat (its access hash).
async fn edit_title(
    runtime: &TelegramRuntime,
    chat: PeerId,
    channel: Option<PeerRef>,
    title: &str,
) -> Result<(), grammers_mtsender::InvocationError> {
    use grammers_tl_types as tl;
    let client = runtime.client();
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
