//! Forums: supergroups with the forum flag, whose messages live in topics.
//! Owns the topics of a channel (title, icon, closed, hidden, pinned) and
//! the rules that tie a message to a topic; the messages themselves stay in
//! [`super::messages`] and their updates in [`super::updates`].
//!
//! What Telegram documents and the world follows:
//! - every forum has the General topic, id 1, which cannot be deleted and
//!   whose messages carry no topic in their reply header;
//! - any other topic's id is the id of the `messageActionTopicCreate`
//!   service message that created it, and its messages are that message's
//!   thread: `reply_to` names the topic (`forum_topic`), see
//!   [`World::reply_header`];
//! - topic changes are `messageActionTopicEdit` service messages in the
//!   topic, so they take a channel pts like any message; pinning a topic is
//!   `updatePinnedForumTopic`, which takes none;
//! - a closed topic refuses messages (`TOPIC_CLOSED`) from anyone who may
//!   not manage topics;
//! - a topic has a read mark of its own per reader
//!   (`messages.readDiscussion`, told to the reader's other sessions with
//!   `updateReadChannelDiscussionInbox`); the chat's read mark counts for
//!   every topic it is ahead of;
//! - typing in a topic names it (`updateChannelUserTyping.top_msg_id`);
//! - `channels.toggleForum` only changes the flag (`updateChannel`): the
//!   topics and their messages stay, and come back when it is set again.

use grammers_tl_types as tl;

use super::build::{notify_settings, PeerSet};
use super::control::Draft;
use super::messages::{MsgKey, Place};
use super::peers::Peer;
use super::updates::updates_of;
use super::{ChannelId, Origin, UserId, World};
use crate::RpcError;

/// The id of the General topic of every forum.
pub const GENERAL_TOPIC: i32 = 1;

/// The colour of General's icon and the default of new topics.
const DEFAULT_ICON_COLOR: i32 = 0x6F_B9_F0;

/// The icon colours Telegram accepts for a new topic.
const ICON_COLORS: [i32; 6] = [
    0x6F_B9_F0, 0xFF_D6_7E, 0xCB_86_DB, 0x8E_EE_98, 0xFF_93_B2, 0xFB_6F_5F,
];

/// A forum topic.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Topic {
    /// Topic id: 1 for General, otherwise the id of its creating message.
    pub id: i32,
    /// Title.
    pub title: String,
    /// Colour of the fallback icon (RGB).
    pub icon_color: i32,
    /// Custom emoji used as icon.
    pub icon_emoji_id: Option<i64>,
    /// Who created it (the channel's creator for General).
    pub creator: UserId,
    /// Creation date.
    pub date: i32,
    /// Closed: only those who manage topics may post.
    pub closed: bool,
    /// Hidden (General only).
    pub hidden: bool,
    /// Pinned: its place among pinned topics (higher first).
    pub pin_order: Option<i32>,
    /// Deleted with `messages.deleteTopicHistory`.
    pub deleted: bool,
    /// Each reader's read mark in the topic (`messages.readDiscussion`),
    /// where it is ahead of the chat's own.
    pub read: std::collections::BTreeMap<UserId, i32>,
}

/// A change to a topic; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct TopicEdit {
    /// New title.
    pub title: Option<String>,
    /// New custom emoji icon (0 removes it).
    pub icon_emoji_id: Option<i64>,
    /// Close or reopen.
    pub closed: Option<bool>,
    /// Hide or show (General only).
    pub hidden: Option<bool>,
}

fn channel_invalid() -> RpcError {
    RpcError::bad_request("CHANNEL_INVALID")
}

fn forum_missing() -> RpcError {
    RpcError::bad_request("CHANNEL_FORUM_MISSING")
}

fn topic_invalid() -> RpcError {
    RpcError::bad_request("TOPIC_ID_INVALID")
}

impl World {
    /// The forum `channel`'s topic `id`, if the channel is a forum and the
    /// topic exists.
    pub fn topic(&self, channel: ChannelId, id: i32) -> Option<&Topic> {
        let c = self.channel(channel)?;
        c.forum.then(|| c.topics.get(&id)).flatten()
    }

    /// Every topic of a forum (deleted ones included), by id.
    pub fn topics(&self, channel: ChannelId) -> Vec<Topic> {
        self.channel(channel)
            .map(|c| c.topics.values().cloned().collect())
            .unwrap_or_default()
    }

    fn forum_channel(&self, channel: ChannelId) -> Result<&super::Channel, RpcError> {
        let c = self.channel(channel).ok_or_else(channel_invalid)?;
        if !c.forum {
            return Err(forum_missing());
        }
        Ok(c)
    }

    fn may_manage_topics(&self, channel: ChannelId, user: UserId) -> bool {
        self.channel(channel)
            .and_then(|c| c.admin_rights(user))
            .is_some_and(|r| r.manage_topics)
    }

    /// The topic a new message in `place` lands in: the one asked for
    /// (`top_msg_id`), else the one of the message it answers, else
    /// General (`None`). Outside forums there are no topics.
    pub(crate) fn topic_of_new(
        &self,
        place: Place,
        asked: Option<i32>,
        reply_to: Option<MsgKey>,
    ) -> Result<Option<i32>, RpcError> {
        let Place::Channel(channel) = place else {
            return Ok(None);
        };
        if !self.channel(channel).is_some_and(|c| c.forum) {
            return Ok(None);
        }
        let topic = match asked {
            Some(id) => {
                let topic = self.topic(channel, id).ok_or_else(topic_invalid)?;
                if topic.deleted {
                    return Err(RpcError::bad_request("TOPIC_DELETED"));
                }
                Some(id)
            }
            None => reply_to.and_then(|k| self.message(k)).and_then(|m| m.topic),
        };
        Ok(topic.filter(|&id| id != GENERAL_TOPIC))
    }

    /// Refuses a message in a closed topic from someone who may not
    /// manage topics.
    pub(crate) fn check_topic_open(
        &self,
        author: UserId,
        place: Place,
        topic: Option<i32>,
    ) -> Result<(), RpcError> {
        let Place::Channel(channel) = place else {
            return Ok(());
        };
        let id = topic.unwrap_or(GENERAL_TOPIC);
        let closed = self.topic(channel, id).is_some_and(|t| t.closed);
        if closed && !self.may_manage_topics(channel, author) {
            return Err(RpcError::bad_request("TOPIC_CLOSED"));
        }
        Ok(())
    }

    // ---- control API: what a Telegram user does with forums --------------

    /// `by` (the channel's creator) turns the forum flag of a supergroup on
    /// or off; members get `updateChannel`. Turning it on the first time
    /// creates General; topics stay when it is turned off.
    pub fn toggle_forum(
        &mut self,
        origin: Origin,
        channel: ChannelId,
        enabled: bool,
    ) -> Result<(), RpcError> {
        let c = self.channel(channel).ok_or_else(channel_invalid)?;
        if c.broadcast {
            return Err(channel_invalid());
        }
        if c.creator != origin.user || !c.is_member(origin.user) {
            return Err(RpcError::bad_request("CHAT_ADMIN_REQUIRED"));
        }
        if c.forum == enabled {
            return Err(RpcError::bad_request("CHAT_NOT_MODIFIED"));
        }
        let (creator, date) = (c.creator, c.date);
        let c = self.channel_mut(channel).ok_or_else(channel_invalid)?;
        c.forum = enabled;
        c.topics.entry(GENERAL_TOPIC).or_insert_with(|| Topic {
            id: GENERAL_TOPIC,
            title: "General".to_owned(),
            icon_color: DEFAULT_ICON_COLOR,
            icon_emoji_id: None,
            creator,
            date,
            closed: false,
            hidden: false,
            pin_order: None,
            deleted: false,
            read: Default::default(),
        });
        self.announce_chat_change(Peer::Channel(channel), origin);
        Ok(())
    }

    /// Creates a supergroup that is a forum from the start.
    pub fn create_forum(
        &mut self,
        creator: UserId,
        title: &str,
        members: &[UserId],
    ) -> Result<ChannelId, RpcError> {
        let id = self.create_supergroup(creator, title, members)?;
        self.toggle_forum(Origin::control(creator), id, true)?;
        Ok(id)
    }

    /// `by` creates a topic (`messages.createForumTopic`): posts
    /// `messageActionTopicCreate`, whose id becomes the topic's. Returns the
    /// topic id.
    pub fn create_topic(
        &mut self,
        by: UserId,
        channel: ChannelId,
        title: &str,
        icon_color: Option<i32>,
        icon_emoji_id: Option<i64>,
    ) -> Result<i32, RpcError> {
        let key = self.create_topic_as(
            Origin::control(by),
            channel,
            title,
            icon_color,
            icon_emoji_id,
        )?;
        self.message(key)
            .and_then(|m| m.topic)
            .ok_or_else(|| RpcError::new(500, "MESSAGE_LOST"))
    }

    pub(crate) fn create_topic_as(
        &mut self,
        origin: Origin,
        channel: ChannelId,
        title: &str,
        icon_color: Option<i32>,
        icon_emoji_id: Option<i64>,
    ) -> Result<MsgKey, RpcError> {
        let c = self.forum_channel(channel)?;
        if !c.is_member(origin.user) {
            return Err(RpcError::bad_request("CHANNEL_PRIVATE"));
        }
        if c.default_banned.manage_topics && !self.may_manage_topics(channel, origin.user) {
            return Err(RpcError::bad_request("CHAT_ADMIN_REQUIRED"));
        }
        if !c.can_post(origin.user) {
            return Err(super::control::forbidden("CHAT_WRITE_FORBIDDEN"));
        }
        if title.trim().is_empty() {
            return Err(RpcError::bad_request("TOPIC_TITLE_EMPTY"));
        }
        let icon_color = match icon_color {
            Some(color) if ICON_COLORS.contains(&color) => color,
            Some(_) => return Err(RpcError::bad_request("ICON_COLOR_INVALID")),
            None => DEFAULT_ICON_COLOR,
        };
        let action = tl::types::MessageActionTopicCreate {
            title_missing: false,
            title: title.to_owned(),
            icon_color,
            icon_emoji_id,
        }
        .into();
        let key = self.post(origin, Peer::Channel(channel), Draft::service(action))?;
        let id = self
            .message(key)
            .and_then(|m| m.id_for(origin.user))
            .ok_or_else(|| RpcError::new(500, "MESSAGE_LOST"))?;
        if let Some(m) = self.messages.get_mut(key) {
            m.topic = Some(id);
        }
        let date = self.message(key).map_or(0, |m| m.date);
        let c = self.channel_mut(channel).ok_or_else(channel_invalid)?;
        c.topics.insert(
            id,
            Topic {
                id,
                title: title.to_owned(),
                icon_color,
                icon_emoji_id,
                creator: origin.user,
                date,
                closed: false,
                hidden: false,
                pin_order: None,
                deleted: false,
                read: Default::default(),
            },
        );
        Ok(key)
    }

    /// `by` changes a topic (`messages.editForumTopic`): posts
    /// `messageActionTopicEdit` with what changed, in the topic.
    pub fn edit_topic(
        &mut self,
        by: UserId,
        channel: ChannelId,
        id: i32,
        edit: TopicEdit,
    ) -> Result<(), RpcError> {
        self.edit_topic_as(Origin::control(by), channel, id, edit)
            .map(|_| ())
    }

    pub(crate) fn edit_topic_as(
        &mut self,
        origin: Origin,
        channel: ChannelId,
        id: i32,
        edit: TopicEdit,
    ) -> Result<MsgKey, RpcError> {
        self.forum_channel(channel)?;
        let manager = self.may_manage_topics(channel, origin.user);
        let topic = self
            .topic(channel, id)
            .filter(|t| !t.deleted)
            .ok_or_else(topic_invalid)?
            .clone();
        let general = id == GENERAL_TOPIC;
        // Topic creators may rename, re-icon and close their own topic;
        // General and hiding belong to those who manage topics.
        let own = topic.creator == origin.user && !general && edit.hidden.is_none();
        if !manager && !own {
            return Err(RpcError::bad_request("CHAT_ADMIN_REQUIRED"));
        }
        if general && edit.icon_emoji_id.is_some() {
            return Err(RpcError::bad_request("GENERAL_MODIFY_ICON_FORBIDDEN"));
        }
        if !general && edit.hidden.is_some() {
            return Err(topic_invalid());
        }
        if edit.title.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return Err(RpcError::bad_request("TOPIC_TITLE_EMPTY"));
        }
        let title = edit.title.filter(|t| *t != topic.title);
        let icon = edit
            .icon_emoji_id
            .filter(|&e| Some(e).filter(|&e| e != 0) != topic.icon_emoji_id);
        let closed = edit.closed.filter(|&c| c != topic.closed);
        let hidden = edit.hidden.filter(|&h| h != topic.hidden);
        if title.is_none() && icon.is_none() && closed.is_none() && hidden.is_none() {
            return Err(RpcError::bad_request("TOPIC_NOT_MODIFIED"));
        }
        let c = self.channel_mut(channel).ok_or_else(channel_invalid)?;
        if let Some(t) = c.topics.get_mut(&id) {
            if let Some(title) = &title {
                t.title = title.clone();
            }
            if let Some(icon) = icon {
                t.icon_emoji_id = (icon != 0).then_some(icon);
            }
            if let Some(closed) = closed {
                t.closed = closed;
            }
            if let Some(hidden) = hidden {
                t.hidden = hidden;
            }
        }
        let action = tl::types::MessageActionTopicEdit {
            title,
            icon_emoji_id: icon,
            closed,
            hidden,
        }
        .into();
        let draft = Draft {
            topic: Some(id),
            ..Draft::service(action)
        };
        self.post(origin, Peer::Channel(channel), draft)
    }

    /// `by` pins or unpins a topic: every member gets
    /// `updatePinnedForumTopic` (no pts, as on Telegram).
    pub fn pin_topic(
        &mut self,
        by: UserId,
        channel: ChannelId,
        id: i32,
        pinned: bool,
    ) -> Result<(), RpcError> {
        self.pin_topic_as(Origin::control(by), channel, id, pinned)
            .map(|_| ())
    }

    pub(crate) fn pin_topic_as(
        &mut self,
        origin: Origin,
        channel: ChannelId,
        id: i32,
        pinned: bool,
    ) -> Result<tl::enums::Update, RpcError> {
        self.forum_channel(channel)?;
        let may = self
            .channel(channel)
            .and_then(|c| c.admin_rights(origin.user))
            .is_some_and(|r| r.manage_topics || r.pin_messages);
        if !may {
            return Err(RpcError::bad_request("CHAT_ADMIN_REQUIRED"));
        }
        let c = self.channel_mut(channel).ok_or_else(channel_invalid)?;
        let next = c
            .topics
            .values()
            .filter_map(|t| t.pin_order)
            .max()
            .unwrap_or(0)
            + 1;
        let topic = c
            .topics
            .get_mut(&id)
            .filter(|t| !t.deleted)
            .ok_or_else(topic_invalid)?;
        if topic.pin_order.is_some() == pinned {
            return Err(RpcError::bad_request("PINNED_TOPIC_NOT_MODIFIED"));
        }
        topic.pin_order = pinned.then_some(next);
        let update: tl::enums::Update = tl::types::UpdatePinnedForumTopic {
            pinned,
            peer: Peer::Channel(channel).tl(),
            topic_id: id,
        }
        .into();
        for viewer in self.audience(&Place::Channel(channel)) {
            let mut peers = PeerSet::default();
            peers.add(Peer::Channel(channel));
            let (users, chats) = self.peer_lists(&peers, viewer);
            self.send_push(
                viewer,
                updates_of(vec![update.clone()], users, chats, self.last_date),
                origin,
            );
        }
        Ok(update)
    }

    /// `by` deletes a topic and all its messages
    /// (`messages.deleteTopicHistory`); General cannot be deleted.
    pub fn delete_topic(
        &mut self,
        by: UserId,
        channel: ChannelId,
        id: i32,
    ) -> Result<(i32, i32), RpcError> {
        self.delete_topic_as(Origin::control(by), channel, id)
    }

    pub(crate) fn delete_topic_as(
        &mut self,
        origin: Origin,
        channel: ChannelId,
        id: i32,
    ) -> Result<(i32, i32), RpcError> {
        self.forum_channel(channel)?;
        if id == GENERAL_TOPIC {
            return Err(topic_invalid());
        }
        let topic = self
            .topic(channel, id)
            .filter(|t| !t.deleted)
            .ok_or_else(topic_invalid)?;
        if !self.may_manage_topics(channel, origin.user) && topic.creator != origin.user {
            return Err(RpcError::bad_request("CHAT_ADMIN_REQUIRED"));
        }
        let keys: Vec<MsgKey> = self
            .topic_message_ids(channel, id, true)
            .into_iter()
            .filter_map(|m| self.message_key(origin.user, Peer::Channel(channel), m))
            .collect();
        let result = self.delete_keys(origin, &keys, true)?;
        if let Some(t) = self
            .channel_mut(channel)
            .and_then(|c| c.topics.get_mut(&id))
        {
            t.deleted = true;
        }
        Ok(result)
    }

    /// How far `reader` read topic `id` (their numbering): its own mark or
    /// the chat's, whichever is ahead.
    pub fn topic_read_max(&self, reader: UserId, channel: ChannelId, id: i32) -> i32 {
        let chat = self
            .dialog_state(reader, Peer::Channel(channel))
            .read_inbox_max_id;
        let own = self
            .topic(channel, id)
            .and_then(|t| t.read.get(&reader).copied())
            .unwrap_or(0);
        chat.max(own)
    }

    /// `by` reads topic `id` up to `max_id` (0: everything) on a Telegram
    /// app; see [`World::read_topic_as`].
    pub fn read_topic(
        &mut self,
        by: UserId,
        channel: ChannelId,
        id: i32,
        max_id: i32,
    ) -> Result<(), RpcError> {
        self.read_topic_as(Origin::control(by), channel, id, max_id)
    }

    /// `messages.readDiscussion` in a forum: moves the reader's mark in
    /// topic `id` (never back) and tells their other sessions. General's
    /// mark is the chat's own, read as the chat is.
    pub(crate) fn read_topic_as(
        &mut self,
        origin: Origin,
        channel: ChannelId,
        id: i32,
        max_id: i32,
    ) -> Result<(), RpcError> {
        self.forum_channel(channel)?;
        self.topic(channel, id)
            .filter(|t| !t.deleted)
            .ok_or_else(topic_invalid)?;
        if id == GENERAL_TOPIC {
            return self
                .read_history(origin, Peer::Channel(channel), max_id)
                .map(|_| ());
        }
        let reader = origin.user;
        let newest = self
            .topic_message_ids(channel, id, true)
            .into_iter()
            .max()
            .unwrap_or(id);
        let max_id = if max_id <= 0 || max_id > newest {
            newest
        } else {
            max_id
        };
        if max_id <= self.topic_read_max(reader, channel, id) {
            return Ok(());
        }
        if let Some(t) = self
            .channel_mut(channel)
            .and_then(|c| c.topics.get_mut(&id))
        {
            t.read.insert(reader, max_id);
        }
        let update = tl::types::UpdateReadChannelDiscussionInbox {
            channel_id: channel,
            top_msg_id: id,
            read_max_id: max_id,
            broadcast_id: None,
            broadcast_post: None,
        }
        .into();
        let date = self.now();
        self.send_push(
            reader,
            tl::types::UpdateShort { update, date }.into(),
            origin,
        );
        Ok(())
    }

    /// The messages of topic `id` as `viewer` sees them, oldest first (the
    /// creating message included).
    pub fn topic_history(
        &self,
        viewer: UserId,
        channel: ChannelId,
        id: i32,
    ) -> Vec<super::MessageView> {
        let peer = Peer::Channel(channel);
        self.history(viewer, peer)
            .into_iter()
            .filter(|m| m.topic.unwrap_or(GENERAL_TOPIC) == id)
            .collect()
    }

    // ---- reads shared with the RPC handlers -------------------------------

    /// Ids of the live messages of topic `id`, ascending; `with_root`
    /// includes the topic's creating message.
    pub(crate) fn topic_message_ids(
        &self,
        channel: ChannelId,
        id: i32,
        with_root: bool,
    ) -> Vec<i32> {
        let Some(c) = self.channel(channel) else {
            return Vec::new();
        };
        c.updates
            .messages
            .iter()
            .filter(|&(&mid, &key)| {
                let topic = self
                    .message(key)
                    .and_then(|m| m.topic)
                    .unwrap_or(GENERAL_TOPIC);
                topic == id && (with_root || mid != id)
            })
            .map(|(&mid, _)| mid)
            .collect()
    }

    /// The newest message of each topic, by topic id.
    fn topic_tops(&self, channel: ChannelId) -> std::collections::HashMap<i32, (i32, i32)> {
        let mut tops = std::collections::HashMap::new();
        let Some(c) = self.channel(channel) else {
            return tops;
        };
        for (&mid, &key) in &c.updates.messages {
            if let Some(m) = self.message(key) {
                tops.insert(m.topic.unwrap_or(GENERAL_TOPIC), (mid, m.date));
            }
        }
        tops
    }

    /// `forumTopic` (or `forumTopicDeleted`) as `viewer` sees it.
    fn tl_topic(
        &self,
        channel: ChannelId,
        topic: &Topic,
        top: Option<(i32, i32)>,
        viewer: UserId,
        peers: &mut PeerSet,
    ) -> tl::enums::ForumTopic {
        if topic.deleted {
            return tl::types::ForumTopicDeleted { id: topic.id }.into();
        }
        let peer = Peer::Channel(channel);
        let state = self.dialog_state(viewer, peer);
        let read_inbox_max_id = self.topic_read_max(viewer, channel, topic.id);
        let unread = self
            .topic_message_ids(channel, topic.id, false)
            .into_iter()
            .filter(|&id| id > read_inbox_max_id)
            .filter_map(|id| self.message_key(viewer, peer, id))
            .filter(|&k| self.message(k).is_some_and(|m| m.from != viewer))
            .count() as i32;
        peers.add_user(topic.creator);
        tl::types::ForumTopic {
            my: topic.creator == viewer,
            closed: topic.closed,
            pinned: topic.pin_order.is_some(),
            short: false,
            hidden: topic.hidden,
            title_missing: false,
            id: topic.id,
            date: topic.date,
            peer: peer.tl(),
            title: topic.title.clone(),
            icon_color: topic.icon_color,
            icon_emoji_id: topic.icon_emoji_id,
            top_message: top.map_or(0, |(id, _)| id),
            read_inbox_max_id,
            read_outbox_max_id: state.read_outbox_max_id,
            unread_count: unread,
            unread_mentions_count: 0,
            unread_reactions_count: 0,
            unread_poll_votes_count: 0,
            from_id: Peer::User(topic.creator).tl(),
            notify_settings: notify_settings(),
            draft: None,
        }
        .into()
    }

    /// `messages.forumTopics` with `ids` in the given order, their top
    /// messages, and `count`.
    fn forum_topics_result(
        &self,
        channel: ChannelId,
        viewer: UserId,
        ids: &[i32],
        count: usize,
    ) -> tl::enums::messages::ForumTopics {
        let tops = self.topic_tops(channel);
        let mut peers = PeerSet::default();
        peers.add(Peer::Channel(channel));
        let mut topics = Vec::new();
        let mut messages = Vec::new();
        for id in ids {
            let Some(topic) = self.channel(channel).and_then(|c| c.topics.get(id)) else {
                topics.push(tl::types::ForumTopicDeleted { id: *id }.into());
                continue;
            };
            let top = tops.get(id).copied();
            topics.push(self.tl_topic(channel, topic, top, viewer, &mut peers));
            if let Some(key) =
                top.and_then(|(mid, _)| self.message_key(viewer, Peer::Channel(channel), mid))
            {
                messages.extend(self.tl_message(key, viewer, &mut peers));
            }
        }
        let (users, chats) = self.peer_lists(&peers, viewer);
        tl::types::messages::ForumTopics {
            order_by_create_date: false,
            count: count as i32,
            topics,
            messages,
            chats,
            users,
            pts: self.channel(channel).map_or(0, |c| c.updates.pts),
        }
        .into()
    }

    /// `messages.getForumTopics`: pinned topics first (on the first page),
    /// then the others by their newest message, newest first; `q` filters
    /// titles; paging continues after `offset_topic` (or below
    /// `offset_date`/`offset_id` of the last page's newest messages).
    pub(crate) fn forum_topics(
        &self,
        channel: ChannelId,
        viewer: UserId,
        query: Option<&str>,
        offset: (i32, i32, i32),
        limit: usize,
    ) -> Result<tl::enums::messages::ForumTopics, RpcError> {
        let c = self.forum_channel(channel)?;
        if !c.can_read(viewer) {
            return Err(RpcError::bad_request("CHANNEL_PRIVATE"));
        }
        let tops = self.topic_tops(channel);
        let q = query.map(str::to_lowercase).unwrap_or_default();
        let mut listed: Vec<&Topic> = c
            .topics
            .values()
            .filter(|t| !t.deleted && (q.is_empty() || t.title.to_lowercase().contains(&q)))
            .collect();
        let recency = |t: &Topic| tops.get(&t.id).copied().unwrap_or((0, t.date));
        listed.sort_by_key(|t| {
            std::cmp::Reverse((t.pin_order.unwrap_or(0), recency(t).1, recency(t).0, t.id))
        });
        let count = listed.len();
        let (offset_date, offset_id, offset_topic) = offset;
        let start = if offset_topic > 0 {
            listed
                .iter()
                .position(|t| t.id == offset_topic)
                .map_or(listed.len(), |i| i + 1)
        } else if offset_date > 0 || offset_id > 0 {
            listed
                .iter()
                .position(|t| {
                    let (mid, date) = recency(t);
                    t.pin_order.is_none()
                        && (offset_date == 0 || date <= offset_date)
                        && (offset_id == 0 || mid < offset_id)
                })
                .unwrap_or(listed.len())
        } else {
            0
        };
        let ids: Vec<i32> = listed[start..].iter().take(limit).map(|t| t.id).collect();
        Ok(self.forum_topics_result(channel, viewer, &ids, count))
    }

    /// `messages.getForumTopicsByID`: the topics asked for, in that order
    /// (`forumTopicDeleted` for unknown or deleted ones).
    pub(crate) fn forum_topics_by_id(
        &self,
        channel: ChannelId,
        viewer: UserId,
        ids: &[i32],
    ) -> Result<tl::enums::messages::ForumTopics, RpcError> {
        let c = self.forum_channel(channel)?;
        if !c.can_read(viewer) {
            return Err(RpcError::bad_request("CHANNEL_PRIVATE"));
        }
        Ok(self.forum_topics_result(channel, viewer, ids, ids.len()))
    }
}
