//! The owner's chat-level requests on the Telegram side: chat sync into
//! portals, `pm` (private portals on demand), adopting a room the owner
//! invited a ghost to, and adopting portal rooms a crash left unrecorded.
//! Message bridging stays in `inbound`.

use grammers_tl_types as tl;

use super::*;
use crate::bridge::portal::{parse_portal_marker, PORTAL_EVENT_TYPE};

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
        } else if let Some(phone) = target.strip_prefix('+') {
            self.resolve_phone(runtime, phone).await?
        } else if let Ok(id) = target.parse::<i64>() {
            match PeerId::user(id) {
                Some(peer) => self.resolve(self.cached_ref(peer).await).await,
                None => None,
            }
        } else {
            return Ok(format!(
                "`{target}` is neither an @username, a +phone number nor a numeric Telegram user id."
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
            let puppets = self.puppets();
            let ghost = puppets
                .ensure(info.peer.bare_id().unwrap_or_default(), Some(&name))
                .await?;
            if let grammers_client::peer::Peer::User(user) = &peer {
                let telegram = crate::telegram::TelegramApi::new(runtime.client());
                puppets
                    .mirror_photo(&telegram, &TgProfile::of_user(user))
                    .await;
            }
            self.ensure_joined(&portal.room_id, &ghost).await?;
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

    /// The Telegram user with this phone number (digits, any formatting),
    /// if there is one the account may see.
    async fn resolve_phone(
        &self,
        runtime: &TelegramRuntime,
        phone: &str,
    ) -> Result<Option<grammers_client::peer::Peer>, PortalError> {
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        let request = tl::functions::contacts::ResolvePhone { phone: digits };
        let resolved = match runtime.client().invoke(&request).await {
            Ok(tl::enums::contacts::ResolvedPeer::Peer(resolved)) => resolved,
            Err(error) if error.is("PHONE_NOT_OCCUPIED") || error.is("PHONE_NUMBER_INVALID") => {
                return Ok(None)
            }
            Err(error) => return Err(error.into()),
        };
        let wanted = PeerId::from(resolved.peer);
        let user = resolved.users.into_iter().find_map(|user| match user {
            tl::enums::User::User(user) if PeerId::user(user.id) == Some(wanted) => Some(user),
            _ => None,
        });
        Ok(match user {
            Some(user) => self.resolve(Some(PeerRef::from(user))).await,
            None => None,
        })
    }

    /// Adopts portal rooms the bot is in but the store does not know: a
    /// crash between creating a room and recording it leaves such a room,
    /// marked with [`PORTAL_EVENT_TYPE`]. Without this the next sync would
    /// create a second room (and a second invite) for the chat.
    pub(super) async fn adopt_orphans(&self) {
        let request = ruma::api::client::membership::joined_rooms::v3::Request::new();
        let rooms = match self.client.as_bot().send(request).await {
            Ok(response) => response.joined_rooms,
            Err(error) => return warn!(%error, "could not list the bot's rooms"),
        };
        let known = |room: &ruma::RoomId| {
            matches!(self.store.portals().by_room(room), Ok(Some(_)))
                || self.management_room.as_deref() == Some(room)
                || self
                    .store
                    .kv_get(space::SPACE_KEY)
                    .ok()
                    .flatten()
                    .as_deref()
                    == Some(room.as_str())
        };
        for room_id in rooms.iter().filter(|room| !known(room)) {
            if let Err(error) = self.adopt_orphan(room_id).await {
                debug!(%room_id, %error, "room not adopted");
            }
        }
    }

    async fn adopt_orphan(&self, room_id: &ruma::RoomId) -> Result<(), PortalError> {
        let marker = self.room_state(room_id, PORTAL_EVENT_TYPE).await?;
        let Some((peer, kind)) = marker.as_ref().and_then(parse_portal_marker) else {
            return Ok(());
        };
        if self.store.portals().by_peer(peer)?.is_some() {
            return Ok(());
        }
        let name = self.room_state(room_id, "m.room.name").await?;
        let portal = Portal {
            peer,
            kind,
            room_id: room_id.to_owned(),
            title: name.and_then(|n| n["name"].as_str().map(str::to_owned)),
            avatar_photo_id: None,
            avatar_mxc: None,
            encrypted: false,
            in_space: false,
            topic: None,
        };
        self.store.portals().upsert(&portal)?;
        info!(%room_id, "adopted a portal room left unrecorded by an interrupted run");
        Ok(())
    }

    /// The content of a state event (empty state key), `None` when unset.
    async fn room_state(
        &self,
        room_id: &ruma::RoomId,
        event_type: &str,
    ) -> Result<Option<serde_json::Value>, PortalError> {
        let request = ruma::api::client::state::get_state_event_for_key::v3::Request::new(
            room_id.to_owned(),
            event_type.into(),
            String::new(),
        );
        match self.client.as_bot().send(request).await {
            Ok(response) => Ok(serde_json::from_str(response.event_or_content.get()).ok()),
            Err(error) if error.status().map(|s| s.as_u16()) == Some(404) => Ok(None),
            Err(error) => Err(error.into()),
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
        if let (Some(grammers_client::peer::Peer::User(user)), Some(client)) =
            (&peer, self.telegram.get())
        {
            let telegram = crate::telegram::TelegramApi::new(client);
            puppets
                .mirror_photo(&telegram, &TgProfile::of_user(user))
                .await;
        }
        self.client
            .as_user(&ghost)
            .send(
                ruma::api::client::membership::join_room_by_id::v3::Request::new(
                    room_id.to_owned(),
                ),
            )
            .await?;
        if self
            .left_encrypted_room(room_id, &ghost, telegram_id)
            .await?
        {
            return Ok(());
        }
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
            topic: None,
        };
        self.store.portals().upsert(&portal)?;
        info!(%room_id, "room adopted as a private portal");
        self.backfill(&portal).await;
        Ok(())
    }

    /// Runs one chat sync with progress notices.
    /// Returns each listed chat's newest message id (empty when the sync
    /// failed), for the catch-up.
    pub(super) async fn sync(
        &self,
        runtime: &TelegramRuntime,
        scope: SyncScope,
    ) -> Vec<(PeerId, i32)> {
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
            telegram: crate::telegram::TelegramApi::new(runtime.client()),
            rooms: &rooms,
            puppets: &puppets,
            space: space.as_deref(),
            self_id: runtime.self_id(),
        };
        let mut result = sync::sync_chats(
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
        let top_messages = match &mut result {
            Ok(report) => std::mem::take(&mut report.top_messages),
            Err(_) => Vec::new(),
        };
        if let Ok(report) = &result {
            for chat in &report.new_portals {
                let portal = self.store.portals().by_peer(*chat).ok().flatten();
                if let Some(portal) = portal {
                    self.backfill(&portal).await;
                }
            }
            for forum in &report.forums {
                if let Err(error) = self.sync_topics(runtime.client(), *forum).await {
                    warn!(%error, "could not sync the topics of a forum");
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
        top_messages
    }
}

/// Key of the flood-wait deadline (Unix seconds) in the key-value table.
pub(super) const FLOOD_WAIT_KEY: &str = "telegram_flood_wait_until";

/// Records that Telegram asked for `wait` from now, so a restart waits out
/// the rest instead of calling again at once.
pub(super) fn remember_flood_wait(store: &Store, wait: Duration) {
    let until = unix_now().saturating_add(wait.as_secs());
    if let Err(error) = store.kv_set(FLOOD_WAIT_KEY, &until.to_string()) {
        warn!(%error, "could not record the flood-wait deadline");
    }
}

/// Sleeps until a recorded flood-wait deadline has passed; `false` when the
/// bridge stops first.
pub(super) async fn wait_out_flood(store: &Store, stop: &mut watch::Receiver<bool>) -> bool {
    let deadline = store
        .kv_get(FLOOD_WAIT_KEY)
        .ok()
        .flatten()
        .and_then(|v| v.parse::<u64>().ok());
    let Some(rest) = deadline.and_then(|d| flood_rest(d, unix_now())) else {
        return true;
    };
    info!(
        seconds = rest.as_secs(),
        "waiting out the flood wait Telegram asked for before the restart"
    );
    tokio::select! {
        () = tokio::time::sleep(rest) => true,
        _ = stop.wait_for(|stop| *stop) => false,
    }
}

/// What is left of a flood wait ending at `deadline` (both Unix seconds).
fn flood_rest(deadline: u64, now: u64) -> Option<Duration> {
    (deadline > now).then(|| Duration::from_secs(deadline - now))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_rest_of_a_flood_wait_is_waited() {
        assert_eq!(flood_rest(100, 40), Some(Duration::from_secs(60)));
        assert_eq!(flood_rest(100, 100), None);
        assert_eq!(flood_rest(100, 170), None);
    }

    #[tokio::test]
    async fn a_recorded_deadline_survives_a_reopen_and_a_past_one_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        remember_flood_wait(&Store::open(&path).unwrap(), Duration::from_secs(2));
        let store = Store::open(&path).unwrap();
        let (_tx, mut stop) = watch::channel(false);
        let started = std::time::Instant::now();
        assert!(wait_out_flood(&store, &mut stop).await);
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        store.kv_set(FLOOD_WAIT_KEY, "5").unwrap();
        let started = std::time::Instant::now();
        assert!(wait_out_flood(&store, &mut stop).await);
        assert!(started.elapsed() < Duration::from_millis(500));
    }
}
