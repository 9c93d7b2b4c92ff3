//! Forum topics, Telegram → Matrix: which room a forum's message belongs
//! in, and what topic service messages do to that room. General (topic 1)
//! is the forum's own portal; every other topic gets its own room, created
//! when its first message (or its creation) reaches the bridge, and filled
//! with the topic's recent history. A topic's rename renames its room and
//! its custom emoji icon is the room's avatar; closing and reopening it
//! posts a notice, and a closed topic's room is read-only for an owner who
//! may not post there on Telegram.
//!
//! It owns the topic rows of the store (through [`PortalRooms`]) and never
//! sends messages to Telegram; it only reads a topic's title, icon and
//! history (the calls live in [`crate::telegram::forum`]).

use grammers_tl_types as tl;
use ruma::api::client::state::send_state_event;
use ruma::events::StateEventType;
use serde_json::{json, Value};

use super::*;
use crate::bridge::avatar;
use crate::bridge::portal::ADMIN_LEVEL;
use crate::telegram::forum;

/// The forum topic a message is in: the topic its reply header names
/// (`forum_topic`: `reply_to_top_id` for a reply inside the topic,
/// otherwise `reply_to_msg_id`), or the topic a `messageActionTopicCreate`
/// creates. `None` for General and outside forums.
pub(super) fn topic_of(message: &Message) -> Option<i32> {
    if let Some(tl::enums::MessageAction::TopicCreate(_)) = message.action() {
        return Some(message.id());
    }
    let topic = match message.reply_header()? {
        tl::enums::MessageReplyHeader::Header(h) if h.forum_topic => {
            h.reply_to_top_id.or(h.reply_to_msg_id)
        }
        _ => None,
    };
    topic.filter(|&id| id > 1)
}

/// Whether a message's reply header only names its topic (no message of the
/// topic is answered): such a message is not a Matrix reply.
pub(super) fn only_names_topic(header: &tl::types::MessageReplyHeader) -> bool {
    header.forum_topic && header.reply_to_top_id.is_none()
}

/// Where a message of a topic without a room comes from, which decides
/// whether it opens the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TopicHistory {
    /// A live message: it opens the room, which gets the topic's recent
    /// history first.
    Fill,
    /// The forum's history: it opens nothing (how many topic rooms open at
    /// once is the sync's decision, see [`Side::sync_topics`]).
    Skip,
}

impl Side {
    /// The portal a message of `portal`'s chat is bridged into: the room of
    /// its topic in a forum (opened if needed and `history` allows), else
    /// `portal` itself. `None`: the topic has no room and the message is
    /// left for when it has one.
    pub(super) async fn route_to_topic(
        &self,
        portal: &Portal,
        message: &Message,
        history: TopicHistory,
    ) -> Result<Option<Portal>, PortalError> {
        if portal.is_topic() {
            return Ok(Some(portal.clone()));
        }
        let Some(topic) = topic_of(message) else {
            return Ok(Some(portal.clone()));
        };
        if let Some(existing) = self.store.portals().topic(portal.peer, topic)? {
            return Ok(Some(existing));
        }
        if history == TopicHistory::Skip || self.topic_unbridged(portal.peer, topic)? {
            return Ok(None);
        }
        let (title, icon) = match message.action() {
            Some(tl::enums::MessageAction::TopicCreate(create)) => {
                (Some(create.title.clone()), create.icon_emoji_id)
            }
            _ => match self.topic_info(portal.peer, topic).await {
                Some(found) => (Some(found.title), found.icon_emoji_id),
                None => (None, None),
            },
        };
        let title = title.unwrap_or_else(|| format!("Topic {topic}"));
        let info = message
            .peer()
            .and_then(sync::chat_info)
            .unwrap_or_else(|| fallback_info(portal));
        let room = self.open_topic_room(portal, &info, topic, &title).await?;
        self.follow_topic_icon(&room, icon).await;
        self.backfill_topic(&room, message.id()).await;
        Ok(Some(room))
    }

    /// The forum's space (inside the owner's Telegram space, with the
    /// forum's own room in it), created on first use; `None` (the topic
    /// rooms then go straight into the Telegram space) when it cannot be.
    async fn forum_space(&self, portal: &Portal, info: &ChatInfo) -> Option<OwnedRoomId> {
        let parent = self
            .store
            .kv_get(space::SPACE_KEY)
            .ok()
            .flatten()
            .and_then(|s| OwnedRoomId::try_from(s).ok());
        let forum = portal.peer.bot_api_dialog_id()?;
        let key = space::forum_space_key(forum);
        let existed = matches!(self.store.kv_get(&key), Ok(Some(_)));
        let created = space::ensure_forum_space(
            &self.client,
            &self.store,
            &self.portal_settings,
            forum,
            &info.title,
            parent.as_deref(),
        )
        .await;
        match created {
            Ok(space) => {
                if !existed {
                    let linked = space::add_child(
                        &self.client,
                        &space,
                        &portal.room_id,
                        &self.portal_settings,
                    )
                    .await;
                    if let Err(error) = linked {
                        warn!(%error, "could not put the forum's room into its space");
                    }
                }
                Some(space)
            }
            Err(error) => {
                warn!(%error, "could not set up the forum's space");
                parent
            }
        }
    }

    /// Opens the rooms of the forum's most recently active topics (at most
    /// `bridge.max_topic_rooms_per_sync`; pinned topics count first, as
    /// Telegram lists them), each with its recent history, and brings the
    /// names of the existing ones up to date. Returns how many rooms it
    /// opened.
    pub(super) async fn sync_topics(
        &self,
        client: &grammers_client::Client,
        forum: PeerId,
    ) -> Result<u32, PortalError> {
        let limit = self.settings.bridge.max_topic_rooms_per_sync;
        let Some(portal) = self.store.portals().by_peer(forum)? else {
            return Ok(0);
        };
        if let Some(id) = forum.bot_api_dialog_id() {
            self.store.kv_set(&forum_flag_key(id), "1")?;
        }
        let Some(chat) = self.cached_ref(forum).await else {
            return Ok(0);
        };
        let request = tl::functions::messages::GetForumTopics {
            peer: (&chat).into(),
            q: None,
            offset_date: 0,
            offset_id: 0,
            offset_topic: 0,
            // General is listed too and has no room of its own here.
            limit: i32::try_from(limit).unwrap_or(i32::MAX).saturating_add(1),
        };
        let tl::enums::messages::ForumTopics::Topics(list) = client.invoke(&request).await?;
        let info = self
            .resolve(Some(chat))
            .await
            .as_ref()
            .and_then(sync::chat_info)
            .unwrap_or_else(|| fallback_info(&portal));
        let mut opened = 0;
        let topics = list.topics.into_iter().filter_map(|t| match t {
            tl::enums::ForumTopic::Topic(t) if t.id > 1 => Some(t),
            _ => None,
        });
        for topic in topics.take(limit as usize) {
            if self.topic_unbridged(forum, topic.id)? {
                continue;
            }
            let existing = self.store.portals().topic(forum, topic.id)?;
            if let Some(existing) = existing {
                self.follow_topic_icon(&existing, topic.icon_emoji_id).await;
                self.rooms().rename(existing, &topic.title).await?;
                continue;
            }
            let room = self
                .open_topic_room(&portal, &info, topic.id, &topic.title)
                .await?;
            self.follow_topic_icon(&room, topic.icon_emoji_id).await;
            self.store
                .portals()
                .set_topic_closed(forum, topic.id, topic.closed)?;
            if topic.closed {
                self.follow_topic_closed(&room, true).await;
            }
            self.backfill_topic(&room, 0).await;
            opened += 1;
        }
        if opened > 0 {
            info!(opened, "forum topic rooms opened by the sync");
        }
        Ok(opened)
    }

    /// The `topics` command: lists the topics of the forum of `room_id` (or
    /// of the chat named), with their rooms, or opens the room of topic
    /// `open`. Returns the answer.
    pub(super) async fn topics_command(
        &self,
        client: &grammers_client::Client,
        room_id: &ruma::RoomId,
        chat: Option<&str>,
        open: Option<i32>,
    ) -> Result<String, PortalError> {
        let named = chat.and_then(|c| c.parse::<i64>().ok());
        let portal = match named {
            Some(id) => match PeerId::from_bot_api_dialog_id(id) {
                Some(peer) => self.store.portals().by_peer(peer)?,
                None => None,
            },
            None => self.store.portals().by_room(room_id)?,
        };
        let Some(portal) = portal else {
            return Ok(match named {
                Some(id) => format!("The chat {id} is not bridged."),
                None => "Say which forum: `topics <chat id>` (outside a forum's rooms).".to_owned(),
            });
        };
        let Some(chat) = self.cached_ref(portal.peer).await else {
            return Ok("The bridge does not know this chat on Telegram (yet).".to_owned());
        };
        let request = tl::functions::messages::GetForumTopics {
            peer: (&chat).into(),
            q: None,
            offset_date: 0,
            offset_id: 0,
            offset_topic: 0,
            limit: 100,
        };
        let list = match client.invoke(&request).await {
            Ok(tl::enums::messages::ForumTopics::Topics(list)) => list,
            Err(error) if error.is("CHANNEL_FORUM_MISSING") => {
                return Ok("This chat is not a forum: it has no topics.".to_owned())
            }
            Err(error) => return Err(error.into()),
        };
        let topics: Vec<tl::types::ForumTopic> = list
            .topics
            .into_iter()
            .filter_map(|t| match t {
                tl::enums::ForumTopic::Topic(t) => Some(t),
                tl::enums::ForumTopic::Deleted(_) => None,
            })
            .collect();
        if let Some(wanted) = open {
            let Some(topic) = topics.iter().find(|t| t.id == wanted) else {
                return Ok(format!(
                    "The forum has no topic {wanted} (send `topics` for the list)."
                ));
            };
            if wanted == 1 {
                return Ok(format!(
                    "General is the forum's own room: {}",
                    portal.room_id
                ));
            }
            // Asking for the topic bridges it again after an `unbridge`.
            if let Some(id) = portal.peer.bot_api_dialog_id() {
                self.store.kv_delete(&unbridged_topic_key(id, wanted))?;
            }
            let existing = self.store.portals().topic(portal.peer, wanted)?;
            if let Some(room) = existing {
                return Ok(format!(
                    "The topic {} is bridged to {}",
                    topic.title, room.room_id
                ));
            }
            let info = self
                .resolve(Some(chat))
                .await
                .as_ref()
                .and_then(sync::chat_info)
                .unwrap_or_else(|| fallback_info(&portal));
            let room = self
                .open_topic_room(&portal, &info, wanted, &topic.title)
                .await?;
            self.follow_topic_icon(&room, topic.icon_emoji_id).await;
            self.store
                .portals()
                .set_topic_closed(portal.peer, wanted, topic.closed)?;
            if topic.closed {
                self.follow_topic_closed(&room, true).await;
            }
            self.backfill_topic(&room, 0).await;
            return Ok(format!(
                "Opened the room of the topic {}: {}",
                topic.title, room.room_id
            ));
        }
        let mut lines = vec![format!(
            "The forum has {} topics{}:",
            list.count,
            if list.count as usize > topics.len() {
                " (the 100 most recently active)"
            } else {
                ""
            }
        )];
        for topic in &topics {
            let room = match topic.id {
                1 => Some(portal.room_id.clone()),
                id => self
                    .store
                    .portals()
                    .topic(portal.peer, id)?
                    .map(|p| p.room_id),
            };
            let room = match room {
                Some(room) => format!("bridged to {room}"),
                None if self.topic_unbridged(portal.peer, topic.id)? => "unbridged".to_owned(),
                None => "no room yet".to_owned(),
            };
            let pinned = if topic.pinned { ", pinned" } else { "" };
            let closed = if topic.closed { ", closed" } else { "" };
            lines.push(format!(
                "• {} (topic {}{pinned}{closed}): {room}",
                topic.title, topic.id
            ));
        }
        lines.push("Send `topics open <topic id>` to open the room of a topic.".to_owned());
        Ok(lines.join("\n"))
    }

    /// Follows a supergroup turning its forum flag on or off. The chat's
    /// own room is General's either way, so no history moves: turned on,
    /// the room says so and the sync's share of topic rooms opens; turned
    /// off, every topic room says where the conversation continues (their
    /// messages now arrive in the chat's own room).
    pub(super) async fn follow_forum_flag(
        &self,
        client: &grammers_client::Client,
        portal: &Portal,
        forum: bool,
    ) -> Result<(), PortalError> {
        let Some(id) = portal.peer.bot_api_dialog_id() else {
            return Ok(());
        };
        let key = forum_flag_key(id);
        let was = match self.store.kv_get(&key)? {
            Some(flag) => flag == "1",
            // Not recorded yet: a chat whose topics have rooms was a forum.
            None => {
                self.store.kv_get(&space::forum_space_key(id))?.is_some()
                    || !self.store.portals().topics(portal.peer)?.is_empty()
            }
        };
        self.store.kv_set(&key, if forum { "1" } else { "0" })?;
        if was == forum {
            return Ok(());
        }
        if forum {
            self.notify_in(
                &portal.room_id,
                "This group is now a forum: this room is its General topic, and every other topic gets a room of its own.",
            )
            .await;
            self.sync_topics(client, portal.peer).await?;
        } else {
            let rooms = self.store.portals().topics(portal.peer)?;
            for room in &rooms {
                let text = format!(
                    "This group is no longer a forum: its messages continue in {}.",
                    portal.room_id
                );
                self.notify_in(&room.room_id, &text).await;
            }
            self.notify_in(
                &portal.room_id,
                "This group is no longer a forum: all of its messages arrive in this room again.",
            )
            .await;
        }
        info!(room_id = %portal.room_id, forum, "the chat's forum flag changed");
        Ok(())
    }

    /// The room of a topic, created in the forum's space when there is none.
    async fn open_topic_room(
        &self,
        portal: &Portal,
        info: &ChatInfo,
        topic: i32,
        title: &str,
    ) -> Result<Portal, PortalError> {
        let space = self.forum_space(portal, info).await;
        let (mut room, created) = self
            .rooms()
            .ensure_topic(info, topic, title, space.as_deref())
            .await?;
        if let (true, Some(space)) = (created, space) {
            space::add_child(&self.client, &space, &room.room_id, &self.portal_settings).await?;
            room.in_space = true;
            self.store.portals().upsert(&room)?;
        }
        Ok(room)
    }

    /// A forum topic as Telegram has it now.
    async fn topic_info(&self, chat: PeerId, topic: i32) -> Option<tl::types::ForumTopic> {
        let client = self.telegram.get()?;
        let peer = self.cached_ref(chat).await?;
        let request = tl::functions::messages::GetForumTopicsById {
            peer: (&peer).into(),
            topics: vec![topic],
        };
        match client.invoke(&request).await {
            Ok(tl::enums::messages::ForumTopics::Topics(found)) => {
                found.topics.into_iter().find_map(|t| match t {
                    tl::enums::ForumTopic::Topic(t) if t.id == topic => Some(t),
                    _ => None,
                })
            }
            Err(error) => {
                warn!(%error, topic, "could not read a forum topic's title");
                None
            }
        }
    }

    /// Fills a new topic room with the topic's recent messages older than
    /// `before`, oldest first (as many as a group portal's initial history),
    /// read with Telegram's per-topic history call.
    async fn backfill_topic(&self, room: &Portal, before: i32) {
        let (Some(topic), Some(client)) = (room.topic, self.telegram.get()) else {
            return;
        };
        let limit = self.settings.bridge.initial_history.group as usize;
        let Some(chat) = self.cached_ref(room.peer).await else {
            return;
        };
        if limit == 0 {
            return;
        }
        let found = match forum::topic_history(client, chat, topic, before, limit).await {
            Ok(found) => found,
            Err(error) => {
                warn!(%error, "could not read the topic's history");
                return;
            }
        };
        let mut count = 0;
        for message in found.iter().filter(|m| m.action().is_none()) {
            if topic_of(message) != Some(topic) {
                continue;
            }
            count += 1;
            if let Err(error) = self.bridge_message_contained(room, message).await {
                warn!(%error, "could not bridge a message of the topic's history");
            }
        }
        info!(room_id = %room.room_id, topic, count, "topic history bridged");
    }

    /// Makes a topic's custom emoji icon (`None` or 0: none) the avatar of
    /// its room. An animated emoji without a thumbnail leaves the room
    /// without an avatar (Matrix clients show only still pictures). A
    /// failure is logged: the icon is decoration.
    async fn follow_topic_icon(&self, room: &Portal, icon: Option<i64>) {
        let icon = icon.filter(|&id| id != 0);
        if room.avatar_photo_id == icon {
            return;
        }
        if let Err(error) = self.set_topic_icon(room, icon).await {
            warn!(%error, room_id = %room.room_id, "could not make the topic's icon the room avatar");
        }
    }

    async fn set_topic_icon(&self, room: &Portal, icon: Option<i64>) -> Result<(), PortalError> {
        // The stored row, which a rename may have changed meanwhile.
        let mut room = match room.topic {
            Some(topic) => self
                .store
                .portals()
                .topic(room.peer, topic)?
                .unwrap_or_else(|| room.clone()),
            None => room.clone(),
        };
        let avatar = match (icon, self.telegram.get()) {
            (Some(emoji), Some(client)) => match forum::custom_emoji_image(client, emoji)
                .await
                .map_err(|e| PortalError::Build(format!("custom emoji: {e}")))?
            {
                forum::EmojiImage::Picture(picture) => {
                    let telegram = crate::telegram::TelegramApi::new(client);
                    let mxc =
                        avatar::mxc_for(&self.client, &self.store, &telegram, &picture.photo())
                            .await
                            .map_err(|e| PortalError::Build(format!("icon upload: {e}")))?;
                    Some((picture.id, mxc))
                }
                forum::EmojiImage::Unrenderable(mime) => {
                    info!(room_id = %room.room_id, %mime, "the topic's icon is animated without a thumbnail: no room avatar");
                    None
                }
                forum::EmojiImage::Unknown => None,
            },
            (Some(_), None) => return Ok(()),
            (None, _) => None,
        };
        self.rooms().set_avatar(&mut room, avatar).await
    }

    /// Topic service messages: a new topic (its room is its trace), a
    /// renamed or re-iconed topic (the room follows), a closed or reopened one (a
    /// notice). Returns `false` for every other message.
    pub(super) async fn on_topic_action(
        &self,
        room: &Portal,
        message: &Message,
    ) -> Result<bool, PortalError> {
        let edit = match message.action() {
            Some(tl::enums::MessageAction::TopicCreate(_)) => None,
            Some(tl::enums::MessageAction::TopicEdit(edit)) => Some(edit),
            _ => return Ok(false),
        };
        let scope = self.scope_of(room.peer);
        if self.already_bridged(scope, message.id())? {
            return Ok(true);
        }
        if let (Some(edit), Some(topic)) = (edit, room.topic) {
            if let Some(title) = &edit.title {
                self.rooms().rename(room.clone(), title).await?;
            }
            if let Some(icon) = edit.icon_emoji_id {
                self.follow_topic_icon(room, Some(icon)).await;
            }
            if let Some(closed) = edit.closed {
                self.topic_closed_notice(room, topic, message, closed)
                    .await?;
                return Ok(true);
            }
        }
        self.store
            .messages()
            .mark_handled(room.peer, message.id())?;
        Ok(true)
    }

    /// Tells a topic's room that the topic was closed or reopened, once.
    async fn topic_closed_notice(
        &self,
        room: &Portal,
        topic: i32,
        message: &Message,
        closed: bool,
    ) -> Result<(), PortalError> {
        let scope = self.scope_of(room.peer);
        let text = match closed {
            true => "Closed the topic: only its admins can post in it on Telegram",
            false => "Reopened the topic",
        };
        let sender = self.sender_of(message).await?;
        self.ensure_joined(&room.room_id, &sender).await?;
        let content = RoomMessageEventContent::notice_plain(text);
        let txn_id = txn::derived(
            "tg",
            &[&inbound::scope_key(scope), &message.id().to_string()],
        );
        let request = send_message_event::v3::Request::new(room.room_id.clone(), txn_id, &content)
            .map_err(|e| PortalError::Build(e.to_string()))?;
        let event_id = self.send_as(&sender, request).await?;
        self.store.transaction(|tx| {
            tx.messages().insert(&crate::store::MessageMapping {
                scope,
                tg_msg_id: message.id(),
                part: 0,
                chat: room.peer,
                room_id: room.room_id.clone(),
                event_id,
                sent_by_bridge: false,
            })?;
            tx.portals().set_topic_closed(room.peer, topic, closed)
        })?;
        self.follow_topic_closed(room, closed).await;
        Ok(())
    }

    /// Whether the owner unbridged topic `topic` of `chat`.
    fn topic_unbridged(&self, chat: PeerId, topic: i32) -> Result<bool, PortalError> {
        let Some(id) = chat.bot_api_dialog_id() else {
            return Ok(false);
        };
        Ok(self
            .store
            .kv_get(&unbridged_topic_key(id, topic))?
            .is_some())
    }

    /// After a deletion in a forum: the rooms of topics among the deleted
    /// messages (a topic's id is its creating message's) whose topic
    /// Telegram no longer has (`messages.deleteTopicHistory`) are closed
    /// like a deleted portal's, and General says so.
    pub(super) async fn on_topics_deleted(
        &self,
        chat: PeerId,
        ids: &[i32],
    ) -> Result<(), PortalError> {
        let mut gone = Vec::new();
        for &id in ids {
            if let Some(room) = self.store.portals().topic(chat, id)? {
                gone.push(room);
            }
        }
        if gone.is_empty() {
            return Ok(());
        }
        let (Some(client), Some(peer)) = (self.telegram.get(), self.cached_ref(chat).await) else {
            return Ok(());
        };
        for room in gone {
            let Some(topic) = room.topic else {
                continue;
            };
            match forum::topic_deleted(client, peer, topic).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(error) => {
                    warn!(%error, topic, "could not tell whether the topic was deleted");
                    continue;
                }
            }
            let title = room
                .title
                .clone()
                .unwrap_or_else(|| format!("Topic {topic}"));
            let goodbye =
                format!("The topic \"{title}\" was deleted on Telegram: this room is closed.");
            self.close_topic_room(&room, true, &goodbye).await?;
            let general = self.store.portals().by_peer(chat)?;
            if let Some(general) = general {
                self.notify_in(
                    &general.room_id,
                    &goodbye.replace("this room is closed", "its room is closed"),
                )
                .await;
            }
            info!(room_id = %room.room_id, topic, "the topic was deleted on Telegram; its room is closed");
        }
        Ok(())
    }

    /// Closes a topic's room: the bridge forgets it (the forum's other rooms
    /// stay), takes it out of the forum's space, says `goodbye` in it, and
    /// the ghosts and the bot leave; with `everyone`, the owner is removed
    /// too, so no room is left behind.
    pub(super) async fn close_topic_room(
        &self,
        room: &Portal,
        everyone: bool,
        goodbye: &str,
    ) -> Result<(), PortalError> {
        let Some(topic) = room.topic else {
            return Ok(());
        };
        self.store.portals().delete_topic(room.peer, topic)?;
        self.store.kv_delete(&muted_owner_key(&room.room_id))?;
        self.forget_joined(&room.room_id);
        if let Some(space) = room
            .peer
            .bot_api_dialog_id()
            .and_then(|id| {
                self.store
                    .kv_get(&space::forum_space_key(id))
                    .ok()
                    .flatten()
            })
            .and_then(|s| OwnedRoomId::try_from(s).ok())
        {
            let request = send_state_event::v3::Request::new_raw(
                space,
                StateEventType::SpaceChild,
                room.room_id.to_string(),
                ruma::serde::Raw::from_json(
                    serde_json::value::to_raw_value(&json!({}))
                        .map_err(|e| PortalError::Build(e.to_string()))?,
                ),
            );
            if let Err(error) = self.client.as_bot().send(request).await {
                warn!(room_id = %room.room_id, %error, "could not take the topic room out of the forum's space");
            }
        }
        self.notify_in(&room.room_id, goodbye).await;
        self.empty_room(&room.room_id, everyone, None).await
    }

    /// `unbridge` or `delete-portal` (confirmed) in a topic's room: only
    /// that room goes. An unbridged topic stays out until `topics open`
    /// asks for it; a deleted one gets a new room at its next message.
    pub(super) async fn remove_topic_room(
        &self,
        room: &Portal,
        delete: bool,
    ) -> Result<(), PortalError> {
        let (Some(topic), Some(chat_id)) = (room.topic, room.peer.bot_api_dialog_id()) else {
            return Ok(());
        };
        let title = room
            .title
            .clone()
            .unwrap_or_else(|| format!("Topic {topic}"));
        let goodbye = if delete {
            format!("The room of the topic \"{title}\" is deleted: everyone is removed from it. The topic gets a new room at its next message.")
        } else {
            self.store
                .kv_set(&unbridged_topic_key(chat_id, topic), "1")?;
            format!("This room is no longer bridged to the topic \"{title}\"; the forum's other rooms stay. Send `topics open {topic}` in the forum's room to bridge it again (in a new room).")
        };
        self.close_topic_room(room, delete, &goodbye).await?;
        info!(room_id = %room.room_id, topic, delete, "topic room removed by the owner");
        Ok(())
    }

    /// Makes a closed topic's room read-only for the owner, or gives the
    /// owner back the power they had when it reopens. Telegram lets only
    /// those who manage topics post in a closed topic; the owner's level in
    /// the room mirrors their Telegram role, so an owner at admin level or
    /// above keeps writing. The bot and the ghosts keep their levels (what
    /// Telegram's admins post still arrives). The owner's level is lowered
    /// below `events_default` rather than `events_default` raised, because
    /// raising it would silence the ghosts too. A failure is logged: the
    /// notice already says why Telegram refuses.
    async fn follow_topic_closed(&self, room: &Portal, closed: bool) {
        if let Err(error) = self.set_owner_muted(&room.room_id, closed).await {
            warn!(%error, room_id = %room.room_id, closed, "could not follow the topic's closed state in its power levels");
        }
    }

    async fn set_owner_muted(
        &self,
        room_id: &ruma::RoomId,
        muted: bool,
    ) -> Result<(), PortalError> {
        let key = muted_owner_key(room_id);
        let saved = self.store.kv_get(&key)?;
        if muted == saved.is_some() {
            return Ok(());
        }
        let mut levels = self.rooms().power_levels(room_id).await?;
        let owner = self.settings.owner.as_str();
        let changed = match &saved {
            None => match mute_owner(&mut levels, owner) {
                Some(before) => {
                    let before = before.map_or_else(|| "none".to_owned(), |l| l.to_string());
                    self.store.kv_set(&key, &before)?;
                    true
                }
                None => false,
            },
            Some(before) => {
                restore_owner(&mut levels, owner, before.parse().ok());
                true
            }
        };
        if changed {
            self.rooms().set_power_levels(room_id, &levels).await?;
        }
        if !muted {
            self.store.kv_delete(&key)?;
        }
        info!(%room_id, muted, changed, "the owner's power in a topic room follows the topic");
        Ok(())
    }
}

/// Key of a topic the owner unbridged (its messages are left out until
/// `topics open` asks for it again).
fn unbridged_topic_key(chat: i64, topic: i32) -> String {
    format!("topic_unbridged:{chat}:{topic}")
}

/// Key of the owner's level before their topic room was made read-only
/// ("none": the owner had no entry of their own).
fn muted_owner_key(room_id: &ruma::RoomId) -> String {
    format!("topic_muted_owner:{room_id}")
}

/// Lowers the owner's level in `levels` (a power levels content) below
/// `events_default`, unless they are at admin level or above (Telegram lets
/// admins post in closed topics) or cannot send already. Returns their entry
/// before (`Some(None)`: no entry of their own) when it changed anything.
fn mute_owner(levels: &mut Value, owner: &str) -> Option<Option<i64>> {
    let users_default = levels["users_default"].as_i64().unwrap_or(0);
    let events_default = levels["events_default"].as_i64().unwrap_or(0);
    let entry = levels["users"].get(owner).and_then(Value::as_i64);
    let level = entry.unwrap_or(users_default);
    if level >= ADMIN_LEVEL || level < events_default {
        return None;
    }
    if !levels["users"].is_object() {
        levels["users"] = json!({});
    }
    levels["users"][owner] = json!(events_default - 1);
    Some(entry)
}

/// Gives the owner back the entry [`mute_owner`] took (`None`: no entry).
fn restore_owner(levels: &mut Value, owner: &str, before: Option<i64>) {
    match (before, levels["users"].as_object_mut()) {
        (Some(level), Some(users)) => {
            users.insert(owner.to_owned(), json!(level));
        }
        (None, Some(users)) => {
            users.remove(owner);
        }
        (_, None) => {}
    }
}

/// Key of a chat's last known forum flag in the store's key-value table.
fn forum_flag_key(chat: i64) -> String {
    format!("forum_flag:{chat}")
}

/// What the bridge knows of a forum without its Telegram peer at hand.
fn fallback_info(portal: &Portal) -> ChatInfo {
    ChatInfo {
        peer: portal.peer,
        kind: portal.kind,
        title: portal.title.clone().unwrap_or_default(),
        about: None,
        owner_role: OwnerRole::Member,
        member_count: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_is_muted_and_restored_an_admin_is_not() {
        let mut levels =
            json!({ "users": { "@bot:x": 100 }, "users_default": 0, "events_default": 0 });
        let before = levels.clone();
        assert_eq!(mute_owner(&mut levels, "@o:x"), Some(None));
        assert_eq!(levels["users"]["@o:x"], -1);
        assert_eq!(mute_owner(&mut levels, "@o:x"), None, "already muted");
        restore_owner(&mut levels, "@o:x", None);
        assert_eq!(levels, before);
        let mut admin = json!({ "users": { "@o:x": 50 }, "events_default": 0 });
        assert_eq!(mute_owner(&mut admin, "@o:x"), None);
        let mut listed = json!({ "users": { "@o:x": 10 }, "events_default": 0 });
        assert_eq!(mute_owner(&mut listed, "@o:x"), Some(Some(10)));
        restore_owner(&mut listed, "@o:x", Some(10));
        assert_eq!(listed["users"]["@o:x"], 10);
    }
}
