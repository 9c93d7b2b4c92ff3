//! The owner's chat-level requests on the Telegram side: chat sync into
//! portals, `pm` (private portals on demand) and adopting a room the owner
//! invited a ghost to. Message bridging stays in `inbound`.

use super::*;

impl Side {
    /// Opens (or finds) the private portal with `target`; returns the answer.
    pub(super) async fn pm(
        &self,
        runtime: &TelegramRuntime,
        target: &str,
    ) -> Result<String, PortalError> {
        let peer = if let Some(username) = target.strip_prefix('@') {
            runtime
                .client()
                .resolve_username(username)
                .await
                .map_err(|e| PortalError::Build(e.to_string()))?
        } else if let Ok(id) = target.parse::<i64>() {
            match PeerId::user(id) {
                Some(peer) => self.resolve(self.cached_ref(peer).await).await,
                None => None,
            }
        } else {
            return Ok(format!(
                "`{target}` is neither an @username nor a numeric Telegram user id (phone numbers work for your contacts through their @username)."
            ));
        };
        let Some(peer @ grammers_client::peer::Peer::User(_)) = peer else {
            return Ok(format!("No Telegram user {target} was found."));
        };
        let Some(info) = sync::chat_info(&peer) else {
            return Ok(format!("No Telegram user {target} was found."));
        };
        let space = self
            .store
            .kv_get(space::SPACE_KEY)?
            .and_then(|s| OwnedRoomId::try_from(s).ok());
        let (mut portal, created) = self.rooms().ensure(&info, space.as_deref()).await?;
        if created {
            if let Some(space) = &space {
                space::add_child(&self.client, space, &portal.room_id, &self.portal_settings)
                    .await?;
                portal.in_space = true;
                self.store.portals().upsert(&portal)?;
            }
            let name = ghost::peer_displayname(&self.settings.bridge, &peer);
            let ghost = self
                .puppets()
                .ensure(info.peer.bare_id().unwrap_or_default(), Some(&name))
                .await?;
            self.ensure_joined(&portal.room_id, &ghost).await;
            self.backfill(&portal).await;
            Ok(format!(
                "Created the private chat with {}: {}",
                info.title, portal.room_id
            ))
        } else {
            Ok(format!(
                "Your private chat with {} is {}",
                info.title, portal.room_id
            ))
        }
    }

    /// The owner invited a ghost to a room of their own: the ghost joins,
    /// brings the bot along, and the room becomes the private portal with
    /// that user, unless one exists already.
    pub(super) async fn adopt_invited_room(
        &self,
        room_id: &ruma::RoomId,
        ghost: &ruma::UserId,
    ) -> Result<(), PortalError> {
        let prefix = &self.settings.bridge.ghost_prefix;
        let Some(telegram_id) = ghost
            .localpart()
            .strip_prefix(prefix.as_str())
            .and_then(|id| id.parse::<i64>().ok())
        else {
            return Ok(());
        };
        let Some(user) = PeerId::user(telegram_id) else {
            return Ok(());
        };
        if self.store.portals().by_room(room_id)?.is_some() {
            return Ok(());
        }
        let existing = self.store.portals().by_peer(user)?;
        if let Some(existing) = existing {
            self.notify_in_as(
                room_id,
                ghost,
                &format!(
                    "A private chat with this Telegram user is already bridged: {}",
                    existing.room_id
                ),
            )
            .await;
            return Ok(());
        }
        let peer = self.resolve(self.cached_ref(user).await).await;
        let Some(info) = peer.as_ref().and_then(sync::chat_info) else {
            warn!(
                telegram_id,
                "invited ghost of a Telegram user the bridge cannot reach"
            );
            return Ok(());
        };
        let puppets = self.puppets();
        let name = peer
            .as_ref()
            .map(|p| ghost::peer_displayname(&self.settings.bridge, p));
        let ghost = puppets.ensure(telegram_id, name.as_deref()).await?;
        self.client
            .as_user(&ghost)
            .send(
                ruma::api::client::membership::join_room_by_id::v3::Request::new(
                    room_id.to_owned(),
                ),
            )
            .await?;
        // The ghost brings the bot, which manages the portal from now on.
        let bot = self.client.bot_user_id().to_owned();
        let invite = ruma::api::client::membership::invite_user::v3::Request::new(
            room_id.to_owned(),
            ruma::api::client::membership::invite_user::v3::InvitationRecipient::UserId(
                ruma::api::client::membership::invite_user::v3::InviteUserId::new(bot),
            ),
        );
        if let Err(error) = self.client.as_user(&ghost).send(invite).await {
            debug!(%error, "the bot was not invited to the adopted room");
        }
        let portal = Portal {
            peer: info.peer,
            kind: PortalKind::Private,
            room_id: room_id.to_owned(),
            title: Some(info.title.clone()),
            avatar_photo_id: None,
            avatar_mxc: None,
            encrypted: false,
            in_space: false,
        };
        self.store.portals().upsert(&portal)?;
        info!(%room_id, "room adopted as a private portal");
        self.backfill(&portal).await;
        Ok(())
    }

    /// Runs one chat sync with progress notices.
    pub(super) async fn sync(&self, runtime: &TelegramRuntime, scope: SyncScope) {
        let space = match space::ensure_space(&self.client, &self.store, &self.portal_settings)
            .await
        {
            Ok(space) => Some(space),
            Err(error) => {
                warn!(%error, "could not set up the Telegram space; portals are created without it");
                None
            }
        };
        let mut announcements = Vec::new();
        let rooms = self.rooms();
        let puppets = self.puppets();
        let context = sync::SyncContext {
            client: runtime.client(),
            rooms: &rooms,
            puppets: &puppets,
            space: space.as_deref(),
            self_id: runtime.self_id(),
        };
        let result = sync::sync_chats(
            &context,
            &self.sync_settings(),
            scope,
            |created, planned| {
                if planned > PROGRESS_EVERY && created % PROGRESS_EVERY == 0 && created < planned {
                    announcements.push(format!("Created {created} of {planned} rooms…"));
                }
            },
        )
        .await;
        for text in announcements {
            self.notify(&text).await;
        }
        if let Ok(report) = &result {
            for chat in &report.new_portals {
                let portal = self.store.portals().by_peer(*chat).ok().flatten();
                if let Some(portal) = portal {
                    self.backfill(&portal).await;
                }
            }
        }
        match result {
            Ok(report) if report.deferred > 0 => {
                self.notify(&format!(
                    "Chat sync created {} rooms; {} more chats get their room when a message arrives, or send `sync all`.",
                    report.created, report.deferred
                ))
                .await
            }
            Ok(report) if report.created > 0 => {
                self.notify(&format!("Chat sync created {} rooms.", report.created)).await
            }
            Ok(report) => {
                self.notify(&format!(
                    "Chat sync finished: {} rooms up to date, no new rooms needed.",
                    report.updated
                ))
                .await
            }
            Err(error) => {
                warn!(%error, "chat sync failed");
                self.notify(&format!("Chat sync failed: {error}")).await
            }
        }
    }
}
