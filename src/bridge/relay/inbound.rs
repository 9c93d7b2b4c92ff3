//! Telegram → Matrix messages: the portal a message needs (created on
//! demand for private chats and deferred groups), initial history, and each
//! message sent as its sender's ghost and recorded in the message map.
//! It never sends anything to Telegram.

use super::*;

impl Side {
    /// The portal of a chat without one, created on its first message: a
    /// private chat (marked as a direct chat for the owner), or a group or
    /// channel the filters admit (e.g. one a past sync deferred).
    pub(super) async fn portal_on_message(
        &self,
        message: &Message,
    ) -> Result<Option<Portal>, PortalError> {
        let peer = match message.peer() {
            Some(peer) => Some(peer.clone()),
            None => self.resolve(message.peer_ref().await.ok().flatten()).await,
        };
        // A private room is named after the other user, as Telegram shows it.
        let Some(mut info) = peer.as_ref().and_then(sync::chat_info) else {
            return Ok(None);
        };
        if info.kind != PortalKind::Private {
            if sync::admit(&info, false, &self.sync_settings()) != sync::Admission::Bridge {
                return Ok(None);
            }
            if let (Some(client), Some(peer)) = (self.telegram.get(), peer.as_ref()) {
                info.about = sync::fetch_about(client, peer).await.ok().flatten();
            }
        }
        let space = self
            .store
            .kv_get(space::SPACE_KEY)?
            .and_then(|s| OwnedRoomId::try_from(s).ok());
        let (mut portal, _) = self.rooms().ensure(&info, space.as_deref()).await?;
        if let Some(space) = space {
            space::add_child(&self.client, &space, &portal.room_id, &self.portal_settings).await?;
            portal.in_space = true;
            self.store.portals().upsert(&portal)?;
        }
        if !matches!(info.kind, PortalKind::Private | PortalKind::Channel) {
            if let (Some(client), Some(chat)) =
                (self.telegram.get(), self.cached_ref(info.peer).await)
            {
                let self_id = self.self_id.load(std::sync::atomic::Ordering::Acquire);
                if let Err(error) = self
                    .puppets()
                    .sync_members(client, chat, &portal.room_id, self_id)
                    .await
                {
                    warn!(%error, "could not sync the members of a new portal");
                }
            }
        }
        Ok(Some(portal))
    }

    /// Bridges a text message into its portal as the sender's ghost.
    pub(super) async fn on_message(&self, message: &Message) -> Result<(), PortalError> {
        if message.action().is_some() {
            return Ok(());
        }
        let chat = message.peer_id();
        let existing = self.store.portals().by_peer(chat)?;
        let portal = match existing {
            Some(portal) => portal,
            None => match self.portal_on_message(message).await? {
                Some(portal) => {
                    // History first (it includes this message), then live.
                    self.backfill(&portal).await;
                    return Ok(());
                }
                None => {
                    debug!("message in a chat without a portal");
                    return Ok(());
                }
            },
        };
        self.bridge_message(&portal, message).await
    }

    /// Fills a new portal with the chat's last messages (as configured per
    /// chat type), oldest first; messages already bridged are skipped, so
    /// live messages arriving meanwhile are never duplicated.
    pub(super) async fn backfill(&self, portal: &Portal) {
        let history = &self.settings.bridge.initial_history;
        let limit = match portal.kind {
            PortalKind::Private => history.private,
            PortalKind::Group | PortalKind::Supergroup => history.group,
            PortalKind::Channel => history.channel,
        };
        if limit == 0 {
            return;
        }
        let (Some(client), Some(chat)) = (self.telegram.get(), self.cached_ref(portal.peer).await)
        else {
            return;
        };
        let mut messages = Vec::new();
        let mut iter = client.iter_messages(chat).limit(limit as usize);
        loop {
            match iter.next().await {
                Ok(Some(message)) => messages.push(message),
                Ok(None) => break,
                Err(error) => {
                    warn!(%error, "could not read the chat's history");
                    break;
                }
            }
        }
        let count = messages.len();
        for message in messages.iter().rev().filter(|m| m.action().is_none()) {
            if let Err(error) = self.bridge_message(portal, message).await {
                warn!(%error, "could not bridge a message of the chat's history");
            }
        }
        info!(room_id = %portal.room_id, count, "initial history bridged");
    }

    /// Bridges one message into `portal` unless it already was.
    pub(super) async fn bridge_message(
        &self,
        portal: &Portal,
        message: &Message,
    ) -> Result<(), PortalError> {
        if message.action().is_some() {
            return Ok(());
        }
        let chat = portal.peer;
        let self_id = self.self_id.load(std::sync::atomic::Ordering::Acquire);
        let scope = MessageScope::of_chat(chat, self_id);
        // An outgoing message may be the echo of the bridge's own send, which
        // is recorded under this lock.
        let send_lock = self.send_lock(chat);
        let _sending = match message.outgoing() {
            true => Some(send_lock.lock().await),
            false => None,
        };
        if !self
            .store
            .messages()
            .by_telegram(scope, message.id())?
            .is_empty()
        {
            return Ok(());
        }
        let sender = self.sender_of(message).await?;
        self.ensure_joined(&portal.room_id, &sender).await;
        let text = telegram_to_matrix(
            message.text(),
            message
                .fmt_entities()
                .map(Vec::as_slice)
                .unwrap_or_default(),
            &NoMentions,
        );
        // Media (with the text as caption) becomes its own event type.
        let media = match self.telegram.get() {
            Some(telegram) if crate::bridge::media::has_bridged_media(message) => {
                self.media_bridge(telegram)
                    .media_event(message, &text)
                    .await
            }
            _ => None,
        };
        let content = match text.html {
            Some(html) => RoomMessageEventContent::text_html(text.body, html),
            None => RoomMessageEventContent::text_plain(text.body),
        };
        let scope_key = scope_key(scope);
        let txn_id = txn::derived("tg", &[&scope_key, &message.id().to_string()]);
        let mut request = match media {
            Some(media) => {
                crate::bridge::media::send_request(portal.room_id.clone(), txn_id, &media)
            }
            None => send_message_event::v3::Request::new(portal.room_id.clone(), txn_id, &content),
        }
        .map_err(|e| PortalError::Build(e.to_string()))?;
        request.timestamp = original_timestamp(message);
        let event_id = self.client.as_user(&sender).send(request).await?.event_id;
        self.store.messages().insert(&MessageMapping {
            scope,
            tg_msg_id: message.id(),
            part: 0,
            chat,
            room_id: portal.room_id.clone(),
            event_id,
            sent_by_bridge: false,
        })?;
        Ok(())
    }

    /// A Telegram edit of a media message (usually a new caption) as a
    /// Matrix edit of the media event. The file comes from the media cache,
    /// so an edit costs no transfer.
    pub(super) async fn on_media_edited(&self, message: &Message) -> Result<(), PortalError> {
        let (Some(portal), Some(telegram)) = (
            self.store.portals().by_peer(message.peer_id())?,
            self.telegram.get(),
        ) else {
            return Ok(());
        };
        let self_id = self.self_id.load(std::sync::atomic::Ordering::Acquire);
        let scope = MessageScope::of_chat(portal.peer, self_id);
        let mapped = self.store.messages().by_telegram(scope, message.id())?;
        let Some(original) = mapped.first() else {
            debug!("edit of a message that was never bridged");
            return Ok(());
        };
        let entities = message
            .fmt_entities()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let caption = telegram_to_matrix(message.text(), entities, &NoMentions);
        let Some(media) = self
            .media_bridge(telegram)
            .media_event(message, &caption)
            .await
        else {
            return Ok(());
        };
        let Some(edit) = crate::convert::media::edit_content(&media, original.event_id.as_str())
        else {
            return Ok(());
        };
        let sender = self.sender_of(message).await?;
        // One transaction per edit, so a retried edit is not applied twice.
        let edited_at = message
            .edit_date()
            .map(|date| date.as_second().to_string())
            .unwrap_or_default();
        let txn_id = txn::derived(
            "tg-edit",
            &[&scope_key(scope), &message.id().to_string(), &edited_at],
        );
        let request = crate::bridge::media::send_request(portal.room_id.clone(), txn_id, &edit)
            .map_err(|e| PortalError::Build(e.to_string()))?;
        self.client.as_user(&sender).send(request).await?;
        Ok(())
    }

    /// The Telegram → Matrix media transfer of this run.
    pub(super) fn media_bridge<'a>(
        &'a self,
        telegram: &'a grammers_client::Client,
    ) -> crate::bridge::media::TelegramToMatrix<'a> {
        crate::bridge::media::TelegramToMatrix {
            telegram,
            matrix: &self.client,
            store: &self.store,
            limits: &self.media_limits,
        }
    }

    /// Who a message is sent as in Matrix: the sender's ghost (set up on
    /// first use), the channel's own ghost for a broadcast post, or the
    /// owner for their own messages when double puppeting.
    pub(super) async fn sender_of(&self, message: &Message) -> Result<OwnedUserId, PortalError> {
        let sender_peer = message.sender_id().unwrap_or(message.peer_id());
        let telegram_id = sender_peer.bare_id().unwrap_or_default();
        let own = message.outgoing()
            || telegram_id == self.self_id.load(std::sync::atomic::Ordering::Acquire);
        if own && self.portal_settings.double_puppet {
            return Ok(self.settings.owner.clone());
        }
        let puppets = self.puppets();
        let sender = match message.sender() {
            Some(peer) => Some(peer.clone()),
            // Not in the update's peer map: look it up once, while the
            // ghost has no name yet.
            None if !puppets.has_name(telegram_id) => self.resolve_sender(message).await,
            None => None,
        };
        let name = sender.map(|peer| ghost::peer_displayname(&self.settings.bridge, &peer));
        puppets.ensure(telegram_id, name.as_deref()).await
    }

    pub(super) async fn resolve_sender(
        &self,
        message: &Message,
    ) -> Option<grammers_client::peer::Peer> {
        self.resolve(message.sender_ref().await.ok().flatten())
            .await
    }

    /// Makes `user` a member of `room` once per run (each later message
    /// would otherwise cost an invite and a join).
    pub(super) async fn ensure_joined(&self, room: &ruma::RoomId, user: &ruma::UserId) {
        let key = (room.to_owned(), user.to_owned());
        if self
            .joined
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&key)
        {
            return;
        }
        match self.puppets().join(room, user).await {
            Ok(()) => {
                self.joined
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(key);
            }
            Err(error) => warn!(room_id = %room, %error, "the sender could not join the portal"),
        }
    }
}

/// The message's Telegram date for the appservice `ts` parameter, so
/// backfilled history keeps its original times.
fn original_timestamp(message: &Message) -> Option<ruma::MilliSecondsSinceUnixEpoch> {
    let millis = u64::try_from(message.date().as_millisecond()).ok()?;
    ruma::UInt::new(millis).map(ruma::MilliSecondsSinceUnixEpoch)
}

/// The stable text form of a message scope for transaction ids.
fn scope_key(scope: MessageScope) -> String {
    match scope {
        MessageScope::Account(id) => format!("u{id}"),
        MessageScope::Channel(id) => format!("c{id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_keys_never_collide() {
        assert_eq!(scope_key(MessageScope::Account(5)), "u5");
        assert_eq!(scope_key(MessageScope::Channel(5)), "c5");
    }
}
