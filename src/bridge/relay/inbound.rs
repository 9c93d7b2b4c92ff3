//! Telegram → Matrix messages: the portal a message needs (created on
//! demand for private chats and deferred groups), initial history, and each
//! message sent as its sender's ghost (or the owner) with its formatting,
//! mentions and reply, and recorded in the message map. A message Matrix
//! refuses becomes a notice in the room instead of vanishing.
//! It never sends anything to Telegram.

use grammers_tl_types as tl;
use ruma::events::relation::{InReplyTo, Reply, Thread};
use ruma::events::room::message::Relation;
use ruma::events::Mentions;

use super::*;

/// The pause between delivery attempts while the homeserver is down, on
/// top of the client's own backoff.
pub(super) const OUTAGE_PAUSE: std::time::Duration = std::time::Duration::from_secs(2);

/// What the Telegram → Matrix side remembers across messages (this run
/// only: everything durable is in the store).
#[derive(Debug, Default)]
pub(super) struct InboundState {
    /// Lower-cased username → Telegram user id (`None`: not a user), for
    /// mentions.
    pub(super) usernames: std::sync::Mutex<HashMap<String, Option<i64>>>,
    /// Broadcast channel portals whose power levels were checked this run,
    /// see [`Side::let_channel_post`].
    pub(super) channel_levels_checked: std::sync::Mutex<std::collections::HashSet<OwnedRoomId>>,
}

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
                    .sync_members(
                        &crate::telegram::TelegramApi::new(client),
                        crate::telegram::peers::ChatRef::new(chat),
                        &portal.room_id,
                        self_id,
                    )
                    .await
                {
                    warn!(%error, "could not sync the members of a new portal");
                }
            }
        }
        Ok(Some(portal))
    }

    /// Bridges a new Telegram message (or service message) into its portal.
    pub(super) async fn on_message(&self, message: &Message) -> Result<(), PortalError> {
        let chat = message.peer_id();
        let existing = self.store.portals().by_peer(chat)?;
        let portal = match existing {
            Some(portal) => portal,
            None => match self.portal_on_message(message).await? {
                Some(portal) => {
                    // History first (it usually includes this message, which
                    // is then skipped as already bridged), then live.
                    self.backfill(&portal).await;
                    portal
                }
                None => {
                    debug!("message in a chat without a portal");
                    return Ok(());
                }
            },
        };
        self.handle_message(&portal, message).await
    }

    /// Bridges one message of a portal's chat (into its topic's room in a
    /// forum): service messages become notices or state, everything else a
    /// Matrix message.
    pub(super) async fn handle_message(
        &self,
        portal: &Portal,
        message: &Message,
    ) -> Result<(), PortalError> {
        let Some(portal) = &self
            .route_to_topic(portal, message, topics::TopicHistory::Fill)
            .await?
        else {
            return Ok(());
        };
        if self.on_topic_action(portal, message).await? {
            return Ok(());
        }
        if message.action().is_some() {
            return self.on_service_message(portal, message).await;
        }
        self.bridge_message(portal, message).await
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
            // A forum's history goes to the rooms its topics already have;
            // the rest waits for the topic's room (and its own history).
            let routed = self
                .route_to_topic(portal, message, topics::TopicHistory::Skip)
                .await;
            let portal = match &routed {
                Ok(Some(room)) => room,
                Ok(None) => continue,
                Err(error) => {
                    warn!(%error, "could not open the room of a forum topic");
                    continue;
                }
            };
            if let Err(error) = self.bridge_message_contained(portal, message).await {
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
        let scope = self.scope_of(chat);
        // An outgoing message may be the echo of the bridge's own send, which
        // is recorded under this lock.
        let send_lock = self.send_lock(chat);
        let _sending = match message.outgoing() {
            true => Some(send_lock.lock().await),
            false => None,
        };
        if self.already_bridged(scope, message.id())? {
            return Ok(());
        }
        if self.deleted_before_bridged(scope, message.id()) {
            self.store.messages().mark_handled(chat, message.id())?;
            return Ok(());
        }
        match self.deliver_through_outage(portal, message, scope).await {
            Ok(event_id) => {
                crate::bridge::containment::test_crash_point(message.text());
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
            // Only a shutdown ends the wait: nothing is recorded, so the
            // catch-up at the next start bridges the message.
            Err(PortalError::Matrix(error)) if error.is_outage() => Err(error.into()),
            Err(error) => self.report_failure(portal, message, scope, error).await,
        }
    }

    /// Delivers a message, waiting out a homeserver outage. While the
    /// homeserver is unreachable or failing beyond the client's own
    /// retries, the chat's queue waits here instead of moving on: a later
    /// message delivered first would move the chat's catch-up point past
    /// this one and lose it. The transaction id stays the same, and each
    /// new try first looks for a send the homeserver took just before it
    /// went down (see [`super::resend`]), so none is repeated.
    async fn deliver_through_outage(
        &self,
        portal: &Portal,
        message: &Message,
        scope: MessageScope,
    ) -> Result<ruma::OwnedEventId, PortalError> {
        let mut stop = self.stop.clone();
        let mut waited = false;
        loop {
            let attempt = self.deliver_to_matrix(portal, message, scope);
            let delivered = match waited {
                true => super::resend::as_repeat(attempt).await,
                false => attempt.await,
            };
            let error = match delivered {
                Err(PortalError::Matrix(error)) if error.is_outage() => error,
                other => {
                    if waited {
                        info!(room_id = %portal.room_id, "the homeserver is back; the chat's messages flow again");
                    }
                    return other;
                }
            };
            if !waited {
                warn!(room_id = %portal.room_id, %error, "the homeserver is unavailable; the chat's messages wait until it is back");
                waited = true;
            }
            if *stop.borrow() {
                return Err(error.into());
            }
            tokio::select! {
                () = tokio::time::sleep(OUTAGE_PAUSE) => {}
                _ = stop.wait_for(|stop| *stop) => return Err(error.into()),
            }
        }
    }

    /// Sends a message as its sender and returns the Matrix event.
    async fn deliver_to_matrix(
        &self,
        portal: &Portal,
        message: &Message,
        scope: MessageScope,
    ) -> Result<ruma::OwnedEventId, PortalError> {
        crate::bridge::containment::test_panic_point(
            crate::bridge::containment::PanicSite::Telegram,
            message.text(),
        );
        let sender = self.sender_of(message).await?;
        self.let_channel_post(portal, &sender).await;
        self.ensure_joined(&portal.room_id, &sender).await?;
        let text = self.matrix_text(message).await;
        // Media (with the text as caption) becomes its own event type.
        let media = match self.telegram.get() {
            Some(telegram) => match crate::telegram::media::message_media(message) {
                Some(media) => self.media_bridge(telegram).media_event(media, &text).await,
                None => None,
            },
            _ => None,
        };
        let reply_to = self.reply_target(scope, message)?;
        let thread = match &reply_to {
            Some(target) if self.settings.bridge.reply_chains_as_threads => {
                Some(self.thread_root(&portal.room_id, target).await)
            }
            _ => None,
        };
        let txn_id = txn::derived("tg", &[&scope_key(scope), &message.id().to_string()]);
        let mut request = match media {
            Some(mut media) => {
                if let Some(reply_to) = reply_to {
                    media.content["m.relates_to"] = match thread {
                        Some(root) => serde_json::json!({
                            "rel_type": "m.thread",
                            "event_id": root,
                            "is_falling_back": false,
                            "m.in_reply_to": { "event_id": reply_to },
                        }),
                        None => serde_json::json!({ "m.in_reply_to": { "event_id": reply_to } }),
                    };
                }
                crate::bridge::media::send_request(portal.room_id.clone(), txn_id, &media)
                    .map_err(|e| PortalError::Build(e.to_string()))?
            }
            None => {
                let mut content = matrix_text_content(text);
                if let Some(reply_to) = reply_to {
                    content.relates_to = Some(match thread {
                        Some(root) => Relation::Thread(Thread::reply(root, reply_to)),
                        None => Relation::Reply(Reply::new(InReplyTo::new(reply_to))),
                    });
                }
                send_message_event::v3::Request::new(portal.room_id.clone(), txn_id, &content)
                    .map_err(|e| PortalError::Build(e.to_string()))?
            }
        };
        request.timestamp = original_timestamp(message);
        Ok(self.send_as(&sender, request).await?)
    }

    /// The Matrix content of a message: its text with formatting and
    /// mentions. (Media engineers extend this one function.)
    pub(super) async fn message_content(&self, message: &Message) -> RoomMessageEventContent {
        matrix_text_content(self.matrix_text(message).await)
    }

    /// A message's text (or caption) in Matrix form: formatting, mentions,
    /// and the signature of a signed channel post.
    pub(super) async fn matrix_text(&self, message: &Message) -> crate::convert::MatrixText {
        let entities = message
            .fmt_entities()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mentions = self.mentions_for(message.text(), entities).await;
        let text = telegram_to_matrix(
            message.text(),
            &crate::telegram::entities::from_tl(entities),
            &mentions,
        );
        match post_signature(message) {
            Some(author) => crate::convert::with_signature(text, author),
            None => text,
        }
    }

    /// The event a message replies to, when that message was bridged; a
    /// reply to anything else is bridged as a plain message.
    fn reply_target(
        &self,
        scope: MessageScope,
        message: &Message,
    ) -> Result<Option<ruma::OwnedEventId>, PortalError> {
        let Some(header) = message.reply_header() else {
            return Ok(None);
        };
        let tl::enums::MessageReplyHeader::Header(header) = header else {
            return Ok(None);
        };
        // A message in a forum topic names the topic as if answering its
        // first message; only an answer to a message of the topic is a reply.
        if topics::only_names_topic(&header) {
            return Ok(None);
        }
        // A reply to a message of another chat has no counterpart here.
        let (Some(id), None) = (header.reply_to_msg_id, header.reply_to_peer_id.as_ref()) else {
            return Ok(None);
        };
        let parts = self.store.messages().by_telegram(scope, id)?;
        Ok(parts.into_iter().next().map(|part| part.event_id))
    }

    /// The root of the Matrix thread `event` is in, or `event` itself when
    /// it is in none (or cannot be read): with
    /// `bridge.reply_chains_as_threads`, a reply joins its target's thread.
    async fn thread_root(
        &self,
        room_id: &ruma::RoomId,
        event: &ruma::EventId,
    ) -> ruma::OwnedEventId {
        use ruma::api::client::room::get_room_event;
        let request = get_room_event::v3::Request::new(room_id.to_owned(), event.to_owned());
        let root = match self.client.as_bot().send(request).await {
            Ok(response) => response
                .event
                .get_field::<serde_json::Value>("content")
                .ok()
                .flatten()
                .filter(|content| content["m.relates_to"]["rel_type"] == "m.thread")
                .and_then(|content| {
                    content["m.relates_to"]["event_id"]
                        .as_str()
                        .map(str::to_owned)
                })
                .and_then(|root| ruma::OwnedEventId::try_from(root).ok()),
            Err(error) => {
                debug!(%error, "could not read the replied-to event");
                None
            }
        };
        root.unwrap_or_else(|| event.to_owned())
    }

    /// Matrix refused a message: the room gets a notice saying so (the
    /// message is not silently dropped), and the chat's catch-up point moves
    /// past it so a restart does not repeat the notice.
    async fn report_failure(
        &self,
        portal: &Portal,
        message: &Message,
        scope: MessageScope,
        error: PortalError,
    ) -> Result<(), PortalError> {
        warn!(room_id = %portal.room_id, %error, "a Telegram message could not be bridged");
        let from = self.sender_name(message);
        let text = failure_notice(&from, &error);
        let content = RoomMessageEventContent::notice_plain(text);
        let txn_id = txn::derived("tgfail", &[&scope_key(scope), &message.id().to_string()]);
        let request =
            send_message_event::v3::Request::new(portal.room_id.clone(), txn_id, &content)
                .map_err(|e| PortalError::Build(e.to_string()))?;
        if let Err(notice_error) = self.client.as_bot().send(request).await {
            warn!(error = %notice_error, "could not post the failure notice either");
            return Err(error);
        }
        self.store
            .messages()
            .mark_handled(portal.peer, message.id())?;
        Ok(())
    }

    /// How a notice names a message's sender: their Telegram name, else
    /// their ghost's display name.
    pub(super) fn sender_name(&self, message: &Message) -> String {
        if let Some(name) = message.sender().and_then(|peer| peer.name()) {
            return name.to_owned();
        }
        let ghost = message
            .sender_id()
            .and_then(PeerId::bare_id)
            .and_then(|id| self.store.ghosts().get(id).ok().flatten());
        ghost
            .and_then(|ghost| ghost.displayname)
            .unwrap_or_else(|| "a Telegram user".to_owned())
    }

    /// The message scope of a chat for the logged-in account.
    pub(super) fn scope_of(&self, chat: PeerId) -> MessageScope {
        MessageScope::of_chat(
            chat,
            self.self_id.load(std::sync::atomic::Ordering::Acquire),
        )
    }

    /// A Telegram edit of a media message (usually a new caption) as the
    /// content of a Matrix edit of the media event; `None` for text
    /// messages. The file comes from the media cache, so an edit costs no
    /// transfer.
    pub(super) async fn media_edit(
        &self,
        message: &Message,
        original: &ruma::EventId,
    ) -> Option<crate::convert::media::MatrixMedia> {
        let telegram = self.telegram.get()?;
        let media = crate::telegram::media::message_media(message)?;
        let caption = self.matrix_text(message).await;
        let media = self
            .media_bridge(telegram)
            .media_event(media, &caption)
            .await?;
        crate::convert::media::edit_content(&media, original.as_str())
    }

    /// The Telegram → Matrix media transfer of this run.
    pub(super) fn media_bridge<'a>(
        &'a self,
        telegram: &'a grammers_client::Client,
    ) -> crate::bridge::media::TelegramToMatrix<'a> {
        crate::bridge::media::TelegramToMatrix {
            telegram: crate::telegram::TelegramApi::new(telegram),
            matrix: &self.client,
            store: &self.store,
            limits: &self.media_limits,
        }
    }

    /// Who a message is sent as in Matrix: the sender's ghost (set up on
    /// first use), the channel's own ghost for a broadcast post, or the
    /// owner for their own messages when double puppeting.
    pub(super) async fn sender_of(&self, message: &Message) -> Result<OwnedUserId, PortalError> {
        if is_channel_post(message) {
            return self.channel_ghost(message).await;
        }
        let sender_peer = message.sender_id().unwrap_or(message.peer_id());
        let telegram_id = sender_peer.bare_id().unwrap_or_default();
        let own = message.outgoing() || telegram_id == self.self_id();
        if own && self.portal_settings.double_puppet {
            return Ok(self.settings.owner.clone());
        }
        // Without double puppeting, the owner's own messages come from the
        // ghost of their Telegram account, like anyone else's.
        let telegram_id = if own { self.self_id() } else { telegram_id };
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

    /// The ghost a broadcast channel posts as, as Telegram shows its posts:
    /// named after the channel and showing its photo, whoever wrote the
    /// post (a signed post names its author in the text instead).
    async fn channel_ghost(&self, message: &Message) -> Result<OwnedUserId, PortalError> {
        let channel = message.peer_id();
        let telegram_id = channel.bare_id().unwrap_or_default();
        let puppets = self.puppets();
        let peer = match message.peer() {
            Some(peer) => Some(peer.clone()),
            None if !puppets.has_name(telegram_id) => {
                self.resolve(self.cached_ref(channel).await).await
            }
            None => None,
        };
        let name = peer
            .as_ref()
            .map(|peer| ghost::peer_displayname(&self.settings.bridge, peer));
        let ghost = puppets.ensure(telegram_id, name.as_deref()).await?;
        if let (Some(peer), Some(client)) = (&peer, self.telegram.get()) {
            let telegram = crate::telegram::TelegramApi::new(client);
            puppets.mirror_photo(&telegram, &TgProfile::of(peer)).await;
        }
        Ok(ghost)
    }

    /// Lets a broadcast channel's ghost post in the channel's portal: a
    /// portal made before the ghost had a level gets one now. Checked once
    /// per run and portal; anyone else sending is left to the room's rules.
    pub(super) async fn let_channel_post(&self, portal: &Portal, sender: &ruma::UserId) {
        if portal.kind != PortalKind::Channel {
            return;
        }
        let Some(channel_id) = portal.peer.bare_id() else {
            return;
        };
        if self.puppets().user_id(channel_id) != sender {
            return;
        }
        let checked = || {
            self.inbound
                .channel_levels_checked
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if checked().contains(&portal.room_id) {
            return;
        }
        match self
            .rooms()
            .grant_channel_posting(&portal.room_id, sender)
            .await
        {
            Ok(()) => {
                checked().insert(portal.room_id.clone());
            }
            Err(error) => {
                warn!(room_id = %portal.room_id, %error, "could not let the channel's ghost post in its portal")
            }
        }
    }

    /// The Matrix user acting for Telegram user (or channel) `telegram_id`
    /// when no message names it (reactions, typing, receipts): the owner
    /// for their own account when double puppeting, else its ghost.
    pub(super) async fn matrix_user_of(
        &self,
        telegram_id: i64,
    ) -> Result<OwnedUserId, PortalError> {
        if telegram_id == self.self_id() && self.portal_settings.double_puppet {
            return Ok(self.settings.owner.clone());
        }
        self.puppets().ensure(telegram_id, None).await
    }

    /// The logged-in account's Telegram user id (0 before the runtime runs).
    pub(super) fn self_id(&self) -> i64 {
        self.self_id.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(super) async fn resolve_sender(
        &self,
        message: &Message,
    ) -> Option<grammers_client::peer::Peer> {
        self.resolve(message.sender_ref().await.ok().flatten())
            .await
    }

    /// Whether Telegram message `id` of `scope` is in the message map.
    pub(super) fn already_bridged(
        &self,
        scope: MessageScope,
        id: i32,
    ) -> Result<bool, PortalError> {
        Ok(!self.store.messages().by_telegram(scope, id)?.is_empty())
    }

    /// Makes `user` a member of `room` once per run (each later message
    /// would otherwise cost an invite and a join). Only a homeserver outage
    /// is an error: whatever needed the member waits it out; any other
    /// failure shows in the send that follows.
    pub(super) async fn ensure_joined(
        &self,
        room: &ruma::RoomId,
        user: &ruma::UserId,
    ) -> Result<(), PortalError> {
        let key = (room.to_owned(), user.to_owned());
        if self
            .joined
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&key)
        {
            return Ok(());
        }
        match self.puppets().join(room, user).await {
            Ok(()) => {
                self.joined
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(key);
                Ok(())
            }
            Err(error) if error.is_outage() => Err(error),
            Err(error) => {
                warn!(room_id = %room, %error, "the sender could not join the portal");
                Ok(())
            }
        }
    }
}

/// Whether a message is a broadcast channel post by someone else: Telegram
/// shows it as coming from the channel itself. (The owner's own posts stay
/// the owner's, like everything they write.)
fn is_channel_post(message: &Message) -> bool {
    message.post() && !message.outgoing() && message.peer_id().kind() == PeerKind::Channel
}

/// Whose name a signed channel post carries: the signature Telegram sends
/// (`post_author`). Unsigned posts and everything else carry none.
fn post_signature(message: &Message) -> Option<&str> {
    if !is_channel_post(message) {
        return None;
    }
    message
        .post_author()
        .filter(|author| !author.trim().is_empty())
}

/// The message's Telegram date for the appservice `ts` parameter, so
/// backfilled history keeps its original times.
fn original_timestamp(message: &Message) -> Option<ruma::MilliSecondsSinceUnixEpoch> {
    let millis = u64::try_from(message.date().as_millisecond()).ok()?;
    ruma::UInt::new(millis).map(ruma::MilliSecondsSinceUnixEpoch)
}

/// A text message's Matrix content: body, HTML when there is formatting,
/// and the users it mentions.
fn matrix_text_content(text: crate::convert::MatrixText) -> RoomMessageEventContent {
    let mut content = match text.html {
        Some(html) => RoomMessageEventContent::text_html(text.body, html),
        None => RoomMessageEventContent::text_plain(text.body),
    };
    content.mentions = Some(Mentions::with_user_ids(text.mentions));
    content
}

/// The notice posted when a message could not be bridged.
fn failure_notice(from: &str, error: &PortalError) -> String {
    format!("A Telegram message from {from} could not be bridged: {error}")
}

/// The stable text form of a message scope for transaction ids.
pub(super) fn scope_key(scope: MessageScope) -> String {
    match scope {
        MessageScope::Account(id) => format!("u{id}"),
        MessageScope::Channel(id) => format!("c{id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::MentionResolver;

    fn text_content(
        text: &str,
        entities: &[tl::enums::MessageEntity],
        mentions: &dyn MentionResolver,
    ) -> RoomMessageEventContent {
        matrix_text_content(telegram_to_matrix(
            text,
            &crate::telegram::entities::from_tl(entities),
            mentions,
        ))
    }

    struct Known;

    impl MentionResolver for Known {
        fn matrix_user(&self, telegram_user_id: i64) -> Option<OwnedUserId> {
            (telegram_user_id == 7).then(|| OwnedUserId::try_from("@tg_7:example.org").unwrap())
        }
        fn telegram_user_by_username(&self, username: &str) -> Option<i64> {
            (username == "bob").then_some(7)
        }
        fn telegram_user(&self, _: &ruma::UserId) -> Option<crate::convert::TelegramMention> {
            None
        }
    }

    #[test]
    fn text_content_carries_formatting_and_mentions() {
        let entities = vec![
            tl::types::MessageEntityBold {
                offset: 0,
                length: 2,
            }
            .into(),
            tl::types::MessageEntityMention {
                offset: 3,
                length: 4,
            }
            .into(),
        ];
        let content = text_content("hi @bob", &entities, &Known);
        let json = serde_json::to_value(&content).unwrap();
        assert_eq!(json["body"], "hi @bob");
        assert_eq!(
            json["formatted_body"],
            "<strong>hi</strong> <a href=\"https://matrix.to/#/@tg_7:example.org\">@bob</a>"
        );
        assert_eq!(json["m.mentions"]["user_ids"][0], "@tg_7:example.org");
    }

    #[test]
    fn plain_text_has_no_html_and_empty_mentions() {
        let content = text_content("plain", &[], &Known);
        let json = serde_json::to_value(&content).unwrap();
        assert_eq!(json["body"], "plain");
        assert!(json.get("formatted_body").is_none());
        assert_eq!(json["m.mentions"], serde_json::json!({}));
    }

    #[test]
    fn failure_notices_name_sender_and_reason() {
        let error = PortalError::Build("too big".into());
        assert_eq!(
            failure_notice("Bob", &error),
            "A Telegram message from Bob could not be bridged: could not build a request: too big"
        );
    }

    #[test]
    fn scope_keys_never_collide() {
        assert_eq!(scope_key(MessageScope::Account(5)), "u5");
        assert_eq!(scope_key(MessageScope::Channel(5)), "c5");
    }
}
