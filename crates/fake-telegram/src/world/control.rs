//! What users do with messages — send, edit, delete, react, read, type,
//! pin — as plain operations shared by the RPC handlers and by tests (the
//! control API: "a Telegram user sends …"). Every operation stores the
//! change, logs it in the update boxes of everyone who sees it and pushes
//! it to their connections. Group and channel management lives in
//! [`super::manage`].

use std::collections::BTreeMap;

use grammers_tl_types as tl;
use serde::{Deserialize, Serialize};

use super::build::PeerSet;
use super::messages::{Copy, Forward, Media, Message, MsgKey, Owner, Place};
use super::peers::Peer;
use super::updates::{updates_of, EventKind};
use super::{Origin, UserId, World};
use crate::RpcError;

/// A message a test makes a Telegram user send.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OutgoingMessage {
    /// Text or caption.
    pub text: String,
    /// Formatting entities (TL form; not available over HTTP).
    #[serde(skip)]
    pub entities: Vec<tl::enums::MessageEntity>,
    /// Id (as the sender sees it) of the message this one replies to.
    pub reply_to: Option<i32>,
    /// The forum topic to post in (`top_msg_id`); without it a reply goes
    /// to the topic of the message it answers, anything else to General.
    pub topic: Option<i32>,
    /// Attached media.
    pub media: Option<MediaSpec>,
    /// Album id; messages sharing it form one album.
    pub grouped_id: Option<i64>,
    /// Send without notification.
    pub silent: bool,
}

impl OutgoingMessage {
    /// A plain text message.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }
}

/// Media a test attaches to a message.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum MediaSpec {
    /// A photo (PNG or JPEG bytes; its one size `x` is read from the header).
    Photo { bytes: Vec<u8> },
    /// A photo with explicit sizes (smallest first), e.g. `m` and `y`.
    PhotoSizes { sizes: Vec<super::files::PhotoSize> },
    /// A plain file.
    File {
        bytes: Vec<u8>,
        mime_type: String,
        file_name: String,
    },
    /// A video.
    Video {
        bytes: Vec<u8>,
        duration: f64,
        w: i32,
        h: i32,
    },
    /// A voice note.
    Voice { bytes: Vec<u8>, duration: i32 },
    /// A music file.
    Audio {
        bytes: Vec<u8>,
        duration: i32,
        title: Option<String>,
        performer: Option<String>,
    },
    /// A sticker (WebP).
    Sticker { bytes: Vec<u8>, alt: String },
    /// An animation (a silent MP4, Telegram's "GIF").
    Animation { bytes: Vec<u8>, w: i32, h: i32 },
    /// Any document with the given attributes (TL form; not available over
    /// HTTP), e.g. a voice note with a waveform or an animated sticker.
    Document {
        bytes: Vec<u8>,
        mime_type: String,
        #[serde(skip)]
        attributes: Vec<tl::enums::DocumentAttribute>,
    },
    /// A location.
    Location { lat: f64, long: f64 },
    /// A venue: a named place with an address.
    Venue {
        lat: f64,
        long: f64,
        title: String,
        address: String,
    },
    /// A shared contact.
    Contact {
        phone: String,
        first_name: String,
        last_name: String,
    },
    /// A poll; `votes` counts per answer, in order (may be shorter).
    Poll {
        question: String,
        answers: Vec<String>,
        votes: Vec<i32>,
    },
    /// A dice roll (🎲, 🎯, …) with its result.
    Dice { emoticon: String, value: i32 },
    /// A game from a bot.
    Game { title: String, description: String },
}

/// A message as a test asserts on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageView {
    /// Id in the viewer's numbering.
    pub id: i32,
    /// The author.
    pub from: UserId,
    /// Whether the viewer sent it.
    pub out: bool,
    /// Date.
    pub date: i32,
    /// Text or caption.
    pub text: String,
    /// Id (viewer's numbering) of the message replied to.
    pub reply_to: Option<i32>,
    /// The forum topic the message is in (`None` in General and outside
    /// forums; a topic's creating message names its own id).
    pub topic: Option<i32>,
    /// Original author of a forward.
    pub fwd_from: Option<Peer>,
    /// Whether it was edited.
    pub edited: bool,
    /// `photo`, or the document's MIME type.
    pub media: Option<String>,
    /// Bytes of the photo's largest size or of the document.
    #[serde(skip)]
    pub media_bytes: Option<Vec<u8>>,
    /// Album id.
    pub grouped_id: Option<i64>,
    /// Who reacted with what.
    pub reactions: Vec<(UserId, String)>,
    /// Pinned.
    pub pinned: bool,
    /// For service messages: the TL action's name (e.g. `ChatEditTitle`).
    pub service: Option<String>,
}

/// A new message before it is stored.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub text: String,
    pub entities: Vec<tl::enums::MessageEntity>,
    pub reply_to: Option<MsgKey>,
    /// Forum topic asked for (`top_msg_id`); `None` inherits the topic of
    /// `reply_to`, or General.
    pub topic: Option<i32>,
    pub fwd: Option<Forward>,
    pub media: Option<Media>,
    pub grouped_id: Option<i64>,
    pub action: Option<tl::enums::MessageAction>,
    pub silent: bool,
}

impl Draft {
    pub(crate) fn text(text: String, entities: Vec<tl::enums::MessageEntity>) -> Self {
        Self {
            text,
            entities,
            reply_to: None,
            topic: None,
            fwd: None,
            media: None,
            grouped_id: None,
            action: None,
            silent: false,
        }
    }

    pub(crate) fn service(action: tl::enums::MessageAction) -> Self {
        Self {
            action: Some(action),
            ..Self::text(String::new(), Vec::new())
        }
    }
}

impl World {
    // ---- control API: what a Telegram user does --------------------------

    /// `from` sends a message to `to` (a user, group or channel) and every
    /// connection that should see it gets it. Returns the id as `from` sees it.
    pub fn send_message(
        &mut self,
        from: UserId,
        to: Peer,
        message: OutgoingMessage,
    ) -> Result<i32, RpcError> {
        let reply_to = match message.reply_to {
            Some(id) => Some(
                self.message_key(from, to, id)
                    .ok_or_else(|| RpcError::bad_request("REPLY_TO_INVALID"))?,
            ),
            None => None,
        };
        let media = message.media.map(|spec| self.store_media(spec));
        let draft = Draft {
            reply_to,
            topic: message.topic,
            media,
            grouped_id: message.grouped_id,
            silent: message.silent,
            ..Draft::text(message.text, message.entities)
        };
        let key = self.post(Origin::control(from), to, draft)?;
        self.message(key)
            .and_then(|m| m.id_for(from))
            .ok_or_else(|| RpcError::new(500, "MESSAGE_LOST"))
    }

    /// `from` sends media that is already stored (a sticker or file sent
    /// again: the same photo or document id) with `text` as caption.
    pub fn send_stored_media(
        &mut self,
        from: UserId,
        to: Peer,
        media: Media,
        text: &str,
    ) -> Result<i32, RpcError> {
        let draft = Draft {
            media: Some(media),
            ..Draft::text(text.to_owned(), Vec::new())
        };
        let key = self.post(Origin::control(from), to, draft)?;
        self.message(key)
            .and_then(|m| m.id_for(from))
            .ok_or_else(|| RpcError::new(500, "MESSAGE_LOST"))
    }

    /// `from` sends plain text.
    pub fn send_text(&mut self, from: UserId, to: Peer, text: &str) -> Result<i32, RpcError> {
        self.send_message(from, to, OutgoingMessage::text(text))
    }

    /// `from` posts a service message (a call record, a screenshot notice,
    /// …) in `to`. Returns the id as `from` sees it.
    pub fn send_service(
        &mut self,
        from: UserId,
        to: Peer,
        action: tl::enums::MessageAction,
    ) -> Result<i32, RpcError> {
        let key = self.post(Origin::control(from), to, Draft::service(action))?;
        self.message(key)
            .and_then(|m| m.id_for(from))
            .ok_or_else(|| RpcError::new(500, "MESSAGE_LOST"))
    }

    /// `by` edits the text of message `id` (their numbering) in `peer`.
    pub fn edit_text(
        &mut self,
        by: UserId,
        peer: Peer,
        id: i32,
        text: &str,
    ) -> Result<(), RpcError> {
        let key = self
            .message_key(by, peer, id)
            .ok_or_else(|| RpcError::bad_request("MESSAGE_ID_INVALID"))?;
        self.edit(Origin::control(by), key, Some(text.to_owned()), None, None)
    }

    /// `by` deletes messages (their numbering) in `peer`, for everyone when `revoke`.
    pub fn delete(
        &mut self,
        by: UserId,
        peer: Peer,
        ids: &[i32],
        revoke: bool,
    ) -> Result<(), RpcError> {
        let keys: Vec<MsgKey> = ids
            .iter()
            .filter_map(|&id| self.message_key(by, peer, id))
            .collect();
        self.delete_keys(Origin::control(by), &keys, revoke)
            .map(|_| ())
    }

    /// `by` sets their reaction on message `id` (`None` removes it).
    pub fn react(
        &mut self,
        by: UserId,
        peer: Peer,
        id: i32,
        emoji: Option<&str>,
    ) -> Result<(), RpcError> {
        let key = self
            .message_key(by, peer, id)
            .ok_or_else(|| RpcError::bad_request("MESSAGE_ID_INVALID"))?;
        self.set_reactions(
            Origin::control(by),
            key,
            emoji.map(str::to_owned).into_iter().collect(),
        )
    }

    /// `by` starts typing in `peer`.
    pub fn typing(&mut self, by: UserId, peer: Peer) -> Result<(), RpcError> {
        self.set_typing(
            Origin::control(by),
            peer,
            None,
            tl::enums::SendMessageAction::SendMessageTypingAction,
        )
    }

    /// `by` starts typing in forum topic `topic` of `channel`.
    pub fn typing_in_topic(
        &mut self,
        by: UserId,
        channel: super::ChannelId,
        topic: i32,
    ) -> Result<(), RpcError> {
        self.set_typing(
            Origin::control(by),
            Peer::Channel(channel),
            Some(topic),
            tl::enums::SendMessageAction::SendMessageTypingAction,
        )
    }

    /// `by` reads `peer` up to `max_id` (their numbering; 0 = everything).
    pub fn read(&mut self, by: UserId, peer: Peer, max_id: i32) -> Result<(), RpcError> {
        self.read_history(Origin::control(by), peer, max_id)
            .map(|_| ())
    }

    /// `by` pins (or unpins) message `id` in `peer`.
    pub fn pin(&mut self, by: UserId, peer: Peer, id: i32, pinned: bool) -> Result<(), RpcError> {
        let key = self
            .message_key(by, peer, id)
            .ok_or_else(|| RpcError::bad_request("MESSAGE_ID_INVALID"))?;
        self.set_pinned(Origin::control(by), key, pinned, false)
            .map(|_| ())
    }

    /// The whole history of `peer` as `viewer` sees it, oldest first.
    pub fn history(&self, viewer: UserId, peer: Peer) -> Vec<MessageView> {
        self.message_ids(viewer, peer)
            .into_iter()
            .filter_map(|id| self.message_key(viewer, peer, id).map(|key| (id, key)))
            .filter_map(|(id, key)| self.message_view(key, id, viewer))
            .collect()
    }

    /// The last message of `peer` as `viewer` sees it.
    pub fn last_message(&self, viewer: UserId, peer: Peer) -> Option<MessageView> {
        self.history(viewer, peer).pop()
    }

    fn message_view(&self, key: MsgKey, id: i32, viewer: UserId) -> Option<MessageView> {
        let m = self.message(key)?;
        let (media, media_bytes) = match m.media {
            Some(Media::Photo(p)) => (
                Some("photo".to_owned()),
                self.photo(p)
                    .and_then(|p| p.sizes.last())
                    .map(|s| s.bytes.clone()),
            ),
            Some(Media::Document(d)) => {
                let doc = self.document(d)?;
                (Some(doc.mime_type.clone()), Some(doc.bytes.clone()))
            }
            Some(Media::Other(o)) => (self.other_media(o).map(other_media_name), None),
            None => (None, None),
        };
        Some(MessageView {
            id,
            from: m.from,
            out: m.from == viewer,
            date: m.date,
            text: m.text.clone(),
            reply_to: m
                .reply_to
                .and_then(|r| self.message(r))
                .and_then(|r| r.id_for(viewer)),
            topic: m.topic,
            fwd_from: m.fwd.as_ref().and_then(|f| f.from),
            edited: m.edit_date.is_some(),
            media,
            media_bytes,
            grouped_id: m.grouped_id,
            reactions: m.reactions.clone(),
            pinned: m.pinned,
            service: m.action.as_ref().map(action_name),
        })
    }

    /// Stores the bytes of test media as a photo or document.
    pub(crate) fn store_media(&mut self, spec: MediaSpec) -> Media {
        use tl::enums::DocumentAttribute as A;
        let (bytes, mime, attributes): (Vec<u8>, &str, Vec<A>) = match spec {
            MediaSpec::Photo { bytes } => return Media::Photo(self.add_photo_bytes(bytes)),
            MediaSpec::PhotoSizes { sizes } => {
                let date = self.now();
                return Media::Photo(self.files.add_photo(date, sizes));
            }
            MediaSpec::File {
                bytes,
                mime_type,
                file_name,
            } => {
                let date = self.now();
                let attrs = vec![tl::types::DocumentAttributeFilename { file_name }.into()];
                return Media::Document(self.files.add_document(date, mime_type, attrs, bytes));
            }
            MediaSpec::Video {
                bytes,
                duration,
                w,
                h,
            } => (
                bytes,
                "video/mp4",
                vec![video_attribute(duration, w, h, false)],
            ),
            MediaSpec::Voice { bytes, duration } => (
                bytes,
                "audio/ogg",
                vec![audio_attribute(true, duration, None, None)],
            ),
            MediaSpec::Audio {
                bytes,
                duration,
                title,
                performer,
            } => (
                bytes,
                "audio/mpeg",
                vec![audio_attribute(false, duration, title, performer)],
            ),
            MediaSpec::Sticker { bytes, alt } => (
                bytes,
                "image/webp",
                vec![
                    tl::types::DocumentAttributeImageSize { w: 512, h: 512 }.into(),
                    tl::types::DocumentAttributeSticker {
                        mask: false,
                        alt,
                        stickerset: tl::enums::InputStickerSet::Empty,
                        mask_coords: None,
                    }
                    .into(),
                ],
            ),
            MediaSpec::Animation { bytes, w, h } => (
                bytes,
                "video/mp4",
                vec![video_attribute(1.0, w, h, true), A::Animated],
            ),
            MediaSpec::Document {
                bytes,
                mime_type,
                attributes,
            } => {
                let date = self.now();
                return Media::Document(
                    self.files.add_document(date, mime_type, attributes, bytes),
                );
            }
            other => return self.add_other_media(other_media(other)),
        };
        let date = self.now();
        Media::Document(
            self.files
                .add_document(date, mime.to_owned(), attributes, bytes),
        )
    }

    /// Stores media without a file (location, contact, poll, …) in TL form.
    pub fn add_other_media(&mut self, media: tl::enums::MessageMedia) -> Media {
        Media::Other(self.files.add_other(media))
    }

    // ---- operations shared with the RPC handlers --------------------------

    /// Stores a new message from `origin.user` in the chat they call `to`,
    /// logs it in every box that shows it and pushes it.
    pub(crate) fn post(
        &mut self,
        origin: Origin,
        to: Peer,
        draft: Draft,
    ) -> Result<MsgKey, RpcError> {
        let author = origin.user;
        let place = Place::from_peer(author, to);
        self.check_can_post(author, place, draft.action.is_some())?;
        let topic = self.topic_of_new(place, draft.topic, draft.reply_to)?;
        if draft.action.is_none() {
            self.check_topic_open(author, place, topic)?;
        }
        let entities = self.stored_entities(author, draft.entities)?;
        let date = self.now();
        let post_author = self.signature(author, place);
        let key = self.messages.insert(Message {
            place,
            from: author,
            date,
            post_author,
            text: draft.text,
            entities,
            reply_to: draft.reply_to,
            topic,
            fwd: draft.fwd,
            edit_date: None,
            media: draft.media,
            grouped_id: draft.grouped_id,
            action: draft.action,
            reactions: Vec::new(),
            pinned: false,
            silent: draft.silent,
            copies: Vec::new(),
        });
        match place {
            Place::Channel(channel) => {
                let id = {
                    let c = self
                        .channel_mut(channel)
                        .ok_or_else(|| RpcError::bad_request("CHANNEL_INVALID"))?;
                    c.updates.last_id += 1;
                    c.updates.messages.insert(c.updates.last_id, key);
                    c.updates.last_id
                };
                self.add_copy(
                    key,
                    Copy {
                        owner: Owner::Channel(channel),
                        id,
                        deleted: false,
                    },
                );
                self.log_channel(channel, 1, EventKind::NewMessage(key));
                self.push_last_channel(channel, origin);
            }
            _ => {
                for user in self.audience(&place) {
                    let peer = place.peer_for(user);
                    let b = self.boxes.entry(user).or_default();
                    b.last_id += 1;
                    let id = b.last_id;
                    b.messages.insert(id, key);
                    b.by_peer.entry(peer).or_default().insert(id);
                    self.add_copy(
                        key,
                        Copy {
                            owner: Owner::User(user),
                            id,
                            deleted: false,
                        },
                    );
                    let pts = self.log_common(user, 1, EventKind::NewMessage(key));
                    match self.short_form(key, user, pts) {
                        Some(short) => self.send_push(user, short, origin),
                        None => self.push_last_common(user, origin),
                    }
                }
            }
        }
        Ok(key)
    }

    /// The signature a new message in `place` carries: the author's name in
    /// a broadcast channel that signs its posts, nothing elsewhere.
    fn signature(&self, author: UserId, place: Place) -> Option<String> {
        let Place::Channel(channel) = place else {
            return None;
        };
        let c = self.channel(channel)?;
        if !(c.broadcast && c.signatures) {
            return None;
        }
        let spec = &self.user(author)?.spec;
        Some(match &spec.last_name {
            Some(last) => format!("{} {last}", spec.first_name),
            None => spec.first_name.clone(),
        })
    }

    /// Entities as Telegram stores them: a mention the client sent as
    /// `inputMessageEntityMentionName` (with the author's access hash)
    /// becomes `messageEntityMentionName` with the plain user id.
    fn stored_entities(
        &self,
        author: UserId,
        entities: Vec<tl::enums::MessageEntity>,
    ) -> Result<Vec<tl::enums::MessageEntity>, RpcError> {
        entities
            .into_iter()
            .map(|entity| match entity {
                tl::enums::MessageEntity::InputMessageEntityMentionName(m) => {
                    let user_id = self.resolve_user(author, &m.user_id)?;
                    Ok(tl::types::MessageEntityMentionName {
                        offset: m.offset,
                        length: m.length,
                        user_id,
                    }
                    .into())
                }
                other => Ok(other),
            })
            .collect()
    }

    /// Whether a message mentions `viewer`: by name entity, by `@username`,
    /// or by replying to one of their messages.
    pub(crate) fn mentions(&self, m: &Message, viewer: UserId) -> bool {
        if m.from == viewer {
            return false;
        }
        let by_entity = m
            .entities
            .iter()
            .any(|e| matches!(e, tl::enums::MessageEntity::MentionName(n) if n.user_id == viewer));
        let username = self.user(viewer).and_then(|u| u.spec.username.as_deref());
        let by_username = username.is_some_and(|name| {
            m.text
                .to_lowercase()
                .contains(&format!("@{}", name.to_lowercase()))
        });
        let by_reply = m
            .reply_to
            .and_then(|r| self.message(r))
            .is_some_and(|r| r.from == viewer);
        by_entity || by_username || by_reply
    }

    /// Renames a user and tells everyone who shares a chat with them.
    pub fn rename_user(
        &mut self,
        user: UserId,
        first_name: &str,
        last_name: Option<&str>,
    ) -> Result<(), RpcError> {
        if first_name.trim().is_empty() {
            return Err(RpcError::bad_request("FIRSTNAME_INVALID"));
        }
        let u = self
            .user_mut(user)
            .ok_or_else(|| RpcError::bad_request("USER_ID_INVALID"))?;
        u.spec.first_name = first_name.to_owned();
        u.spec.last_name = last_name.map(str::to_owned);
        let update: tl::enums::Update = tl::types::UpdateUserName {
            user_id: user,
            first_name: first_name.to_owned(),
            last_name: last_name.unwrap_or_default().to_owned(),
            usernames: Vec::new(),
        }
        .into();
        let date = self.now();
        for viewer in self.acquaintances(user) {
            let mut peers = PeerSet::default();
            peers.add_user(user);
            let (users, chats) = self.peer_lists(&peers, viewer);
            self.send_push(
                viewer,
                updates_of(vec![update.clone()], users, chats, date),
                Origin::control(user),
            );
        }
        Ok(())
    }

    /// Everyone who has `user` in a dialog, a shared chat or their contacts
    /// (and `user` itself, for its other sessions).
    pub(crate) fn acquaintances(&self, user: UserId) -> Vec<UserId> {
        let mut out: Vec<UserId> = self
            .users
            .iter()
            .map(|u| u.id)
            .filter(|&v| {
                v == user
                    || self.is_contact(v, user)
                    || self
                        .boxes
                        .get(&v)
                        .is_some_and(|b| b.by_peer.contains_key(&Peer::User(user)))
                    || self.chats_of(v).any(|c| c.member(user).is_some())
                    || self.channels_of(v).any(|c| c.is_member(user))
            })
            .collect();
        out.dedup();
        out
    }

    fn add_copy(&mut self, key: MsgKey, copy: Copy) {
        if let Some(m) = self.messages.get_mut(key) {
            m.copies.push(copy);
        }
    }

    fn check_can_post(&self, author: UserId, place: Place, service: bool) -> Result<(), RpcError> {
        match place {
            Place::Private(a, b) => {
                let other = if a == author { b } else { a };
                if self.user(other).is_none() {
                    return Err(RpcError::peer_id_invalid());
                }
            }
            Place::Group(chat) => {
                let chat = self.chat(chat).ok_or_else(RpcError::peer_id_invalid)?;
                if chat.migrated_to.is_some() && !service {
                    return Err(RpcError::bad_request("CHAT_ID_INVALID"));
                }
                if chat.member(author).is_none() && !service {
                    return Err(forbidden("CHAT_WRITE_FORBIDDEN"));
                }
            }
            Place::Channel(channel) => {
                let c = self
                    .channel(channel)
                    .ok_or_else(|| RpcError::bad_request("CHANNEL_INVALID"))?;
                if !service && !c.can_post(author) {
                    return Err(forbidden("CHAT_WRITE_FORBIDDEN"));
                }
            }
        }
        Ok(())
    }

    /// `updateShortMessage`/`updateShortChatMessage` for plain text, as
    /// Telegram pushes them; `None` when the message needs the full form.
    fn short_form(&self, key: MsgKey, viewer: UserId, pts: i32) -> Option<tl::enums::Updates> {
        let m = self.message(key)?;
        if m.media.is_some() || m.action.is_some() || m.fwd.is_some() || m.grouped_id.is_some() {
            return None;
        }
        let id = m.id_for(viewer)?;
        let reply_to = m
            .reply_to
            .and_then(|r| self.message(r))
            .and_then(|r| r.id_for(viewer))
            .map(|reply_id| {
                tl::types::MessageReplyHeader {
                    reply_to_scheduled: false,
                    forum_topic: false,
                    quote: false,
                    reply_to_ephemeral: false,
                    reply_to_msg_id: Some(reply_id),
                    reply_to_peer_id: None,
                    reply_from: None,
                    reply_media: None,
                    reply_to_top_id: None,
                    quote_text: None,
                    quote_entities: None,
                    quote_offset: None,
                    todo_item_id: None,
                    poll_option: None,
                }
                .into()
            });
        let entities = (!m.entities.is_empty()).then(|| m.entities.clone());
        let out = m.from == viewer;
        let mentioned = self.mentions(m, viewer);
        Some(match m.place {
            Place::Private(..) => tl::types::UpdateShortMessage {
                out,
                mentioned,
                media_unread: false,
                silent: m.silent,
                id,
                user_id: match m.place.peer_for(viewer) {
                    Peer::User(u) => u,
                    _ => return None,
                },
                message: m.text.clone(),
                pts,
                pts_count: 1,
                date: m.date,
                fwd_from: None,
                via_bot_id: None,
                reply_to,
                entities,
                ttl_period: None,
            }
            .into(),
            Place::Group(chat_id) => tl::types::UpdateShortChatMessage {
                out,
                mentioned,
                media_unread: false,
                silent: m.silent,
                id,
                from_id: m.from,
                chat_id,
                message: m.text.clone(),
                pts,
                pts_count: 1,
                date: m.date,
                fwd_from: None,
                via_bot_id: None,
                reply_to,
                entities,
                ttl_period: None,
            }
            .into(),
            Place::Channel(_) => return None,
        })
    }

    /// Edits a message's text and/or media; only the author may (or an
    /// admin with `edit_messages` for channel posts).
    pub(crate) fn edit(
        &mut self,
        origin: Origin,
        key: MsgKey,
        text: Option<String>,
        entities: Option<Vec<tl::enums::MessageEntity>>,
        media: Option<Media>,
    ) -> Result<(), RpcError> {
        let m = self
            .message(key)
            .ok_or_else(|| RpcError::bad_request("MESSAGE_ID_INVALID"))?;
        if m.action.is_some() {
            return Err(RpcError::bad_request("MESSAGE_ID_INVALID"));
        }
        let may_edit = m.from == origin.user
            || matches!(m.place, Place::Channel(c) if m.is_post(self)
                && self.channel(c).and_then(|c| c.admin_rights(origin.user)).is_some_and(|r| r.edit_messages));
        if !may_edit {
            return Err(forbidden("MESSAGE_AUTHOR_REQUIRED"));
        }
        let unchanged = text.as_ref().is_none_or(|t| *t == m.text)
            && entities.as_ref().is_none_or(|e| *e == m.entities)
            && media.is_none_or(|md| Some(md) == m.media);
        if unchanged {
            return Err(RpcError::bad_request("MESSAGE_NOT_MODIFIED"));
        }
        let entities = match entities {
            Some(e) => Some(self.stored_entities(origin.user, e)?),
            None => None,
        };
        let date = self.now();
        if let Some(m) = self.messages.get_mut(key) {
            if let Some(text) = text {
                m.text = text;
                m.entities = entities.unwrap_or_default();
            } else if let Some(entities) = entities {
                m.entities = entities;
            }
            if media.is_some() {
                m.media = media;
            }
            m.edit_date = Some(date);
        }
        self.log_change(key, origin, EventKind::EditMessage(key));
        Ok(())
    }

    /// Logs a per-message event in every box holding a copy and pushes it.
    fn log_change(&mut self, key: MsgKey, origin: Origin, kind: EventKind) {
        let Some(m) = self.message(key) else { return };
        let copies: Vec<Copy> = m.copies.iter().filter(|c| !c.deleted).copied().collect();
        for copy in copies {
            match copy.owner {
                Owner::Channel(channel) => {
                    self.log_channel(channel, 1, kind.clone());
                    self.push_last_channel(channel, origin);
                }
                Owner::User(user) => {
                    self.log_common(user, 1, kind.clone());
                    self.push_last_common(user, origin);
                }
            }
        }
    }

    /// Deletes messages; returns the pts and pts_count of the caller's box
    /// (or the channel's).
    pub(crate) fn delete_keys(
        &mut self,
        origin: Origin,
        keys: &[MsgKey],
        revoke: bool,
    ) -> Result<(i32, i32), RpcError> {
        let mut per_owner: BTreeMap<(u8, i64), Vec<i32>> = BTreeMap::new();
        for &key in keys {
            let Some(m) = self.message(key) else { continue };
            let everyone = match m.place {
                Place::Channel(c) => {
                    let admin = self
                        .channel(c)
                        .and_then(|c| c.admin_rights(origin.user))
                        .is_some_and(|r| r.delete_messages);
                    if m.from != origin.user && !admin {
                        return Err(forbidden("MESSAGE_DELETE_FORBIDDEN"));
                    }
                    true
                }
                Place::Group(chat) => {
                    let admin = self.chat(chat).is_some_and(|c| c.can_manage(origin.user));
                    if revoke && m.from != origin.user && !admin {
                        return Err(forbidden("MESSAGE_DELETE_FORBIDDEN"));
                    }
                    revoke
                }
                Place::Private(..) => revoke,
            };
            for copy in m.copies.iter().filter(|c| !c.deleted) {
                let owner_key = match copy.owner {
                    Owner::Channel(c) => (1, c),
                    Owner::User(u) if everyone || u == origin.user => (0, u),
                    Owner::User(_) => continue,
                };
                per_owner.entry(owner_key).or_default().push(copy.id);
            }
            if let Some(m) = self.messages.get_mut(key) {
                for copy in m.copies.iter_mut() {
                    if everyone
                        || copy.owner == Owner::User(origin.user)
                        || matches!(copy.owner, Owner::Channel(_))
                    {
                        copy.deleted = true;
                    }
                }
            }
        }
        let mut result = (self.common_pts(origin.user), 0);
        for ((kind, owner), ids) in per_owner {
            let count = ids.len() as i32;
            if kind == 1 {
                if let Some(c) = self.channel_mut(owner) {
                    for id in &ids {
                        c.updates.messages.remove(id);
                    }
                }
                let pts = self.log_channel(owner, count, EventKind::DeleteMessages(ids));
                self.push_last_channel(owner, origin);
                result = (pts, count);
            } else {
                if let Some(b) = self.boxes.get_mut(&owner) {
                    for id in &ids {
                        b.messages.remove(id);
                        b.by_peer.values_mut().for_each(|set| {
                            set.remove(id);
                        });
                    }
                    b.by_peer.retain(|_, set| !set.is_empty());
                }
                let pts = self.log_common(owner, count, EventKind::DeleteMessages(ids));
                self.push_last_common(owner, origin);
                if owner == origin.user {
                    result = (pts, count);
                }
            }
        }
        Ok(result)
    }

    /// Replaces `origin.user`'s reactions on a message and tells everyone
    /// who sees it (`updateMessageReactions`, no pts, as on Telegram).
    pub(crate) fn set_reactions(
        &mut self,
        origin: Origin,
        key: MsgKey,
        emojis: Vec<String>,
    ) -> Result<(), RpcError> {
        let m = self
            .messages
            .get_mut(key)
            .ok_or_else(|| RpcError::bad_request("MESSAGE_ID_INVALID"))?;
        let before = m.reactions.clone();
        m.reactions.retain(|(u, _)| *u != origin.user);
        m.reactions
            .extend(emojis.into_iter().map(|e| (origin.user, e)));
        if m.reactions == before {
            return Err(RpcError::bad_request("MESSAGE_NOT_MODIFIED"));
        }
        let place = m.place;
        let date = self.now();
        for viewer in self.audience(&place) {
            if let Some(update) = self.reactions_update(key, viewer) {
                let mut peers = PeerSet::default();
                if let Some(m) = self.message(key) {
                    self.tl_reactions(m, viewer, &mut peers);
                }
                peers.add(place.peer_for(viewer));
                let (users, chats) = self.peer_lists(&peers, viewer);
                self.send_push(viewer, updates_of(vec![update], users, chats, date), origin);
            }
        }
        Ok(())
    }

    /// `updateMessageReactions` for `viewer`.
    pub(crate) fn reactions_update(
        &self,
        key: MsgKey,
        viewer: UserId,
    ) -> Option<tl::enums::Update> {
        let m = self.message(key)?;
        let msg_id = m.id_for(viewer)?;
        let mut peers = PeerSet::default();
        let reactions = self.tl_reactions(m, viewer, &mut peers).unwrap_or_else(|| {
            tl::types::MessageReactions {
                min: false,
                can_see_list: false,
                reactions_as_tags: false,
                results: Vec::new(),
                recent_reactions: None,
                top_reactors: None,
            }
            .into()
        });
        Some(
            tl::types::UpdateMessageReactions {
                peer: m.place.peer_for(viewer).tl(),
                msg_id,
                top_msg_id: None,
                saved_peer_id: None,
                reactions,
            }
            .into(),
        )
    }

    /// Tells the others in `peer` that `origin.user` is typing (in forum
    /// topic `topic`, which only channels have).
    pub(crate) fn set_typing(
        &mut self,
        origin: Origin,
        peer: Peer,
        topic: Option<i32>,
        action: tl::enums::SendMessageAction,
    ) -> Result<(), RpcError> {
        let place = Place::from_peer(origin.user, peer);
        let date = self.now();
        let from_id = Peer::User(origin.user).tl();
        for viewer in self
            .audience(&place)
            .into_iter()
            .filter(|&u| u != origin.user)
        {
            let update: tl::enums::Update = match place {
                Place::Private(..) => tl::types::UpdateUserTyping {
                    user_id: origin.user,
                    top_msg_id: None,
                    action: action.clone(),
                }
                .into(),
                Place::Group(chat_id) => tl::types::UpdateChatUserTyping {
                    chat_id,
                    from_id: from_id.clone(),
                    action: action.clone(),
                }
                .into(),
                Place::Channel(channel_id) => tl::types::UpdateChannelUserTyping {
                    channel_id,
                    top_msg_id: topic,
                    from_id: from_id.clone(),
                    action: action.clone(),
                }
                .into(),
            };
            self.send_push(
                viewer,
                tl::types::UpdateShort { update, date }.into(),
                origin,
            );
        }
        Ok(())
    }

    /// Marks `peer` read up to `max_id` (0 = everything) for `origin.user`
    /// and tells the senders their messages were read. Returns the reader's
    /// new pts and pts_count (none for channels).
    pub(crate) fn read_history(
        &mut self,
        origin: Origin,
        peer: Peer,
        max_id: i32,
    ) -> Result<Option<(i32, i32)>, RpcError> {
        let reader = origin.user;
        let top = self.top_message_id(reader, peer);
        let max_id = if max_id <= 0 || max_id > top {
            top
        } else {
            max_id
        };
        let state = self.dialog_state(reader, peer);
        if max_id <= state.read_inbox_max_id {
            return Ok(match peer {
                Peer::Channel(_) => None,
                _ => Some((self.common_pts(reader), 0)),
            });
        }
        self.dialog_state_mut(reader, peer).read_inbox_max_id = max_id;
        // Which of each sender's messages became read, in the sender's numbering.
        let mut senders: BTreeMap<UserId, i32> = BTreeMap::new();
        for id in self
            .message_ids(reader, peer)
            .into_iter()
            .filter(|&id| id > state.read_inbox_max_id && id <= max_id)
        {
            let Some(m) = self
                .message_key(reader, peer, id)
                .and_then(|k| self.message(k))
            else {
                continue;
            };
            if m.from != reader {
                if let Some(their_id) = m.id_for(m.from) {
                    let e = senders.entry(m.from).or_default();
                    *e = (*e).max(their_id);
                }
            }
        }
        let place = Place::from_peer(reader, peer);
        let date = self.now();
        let result = match peer {
            Peer::Channel(channel_id) => {
                let update = tl::types::UpdateReadChannelInbox {
                    folder_id: self.folder_of(reader, peer),
                    channel_id,
                    max_id,
                    still_unread_count: self.unread_count(reader, peer),
                    pts: self.channel(channel_id).map_or(0, |c| c.updates.pts),
                };
                self.send_push(
                    reader,
                    tl::types::UpdateShort {
                        update: update.into(),
                        date,
                    }
                    .into(),
                    origin,
                );
                None
            }
            _ => {
                let pts = self.log_common(reader, 1, EventKind::ReadInbox { peer, max_id });
                self.push_last_common(reader, origin);
                Some((pts, 1))
            }
        };
        for (sender, their_max) in senders {
            let their_peer = place.peer_for(sender);
            let st = self.dialog_state_mut(sender, their_peer);
            if their_max <= st.read_outbox_max_id {
                continue;
            }
            st.read_outbox_max_id = their_max;
            match their_peer {
                Peer::Channel(channel_id) => {
                    let update = tl::types::UpdateReadChannelOutbox {
                        channel_id,
                        max_id: their_max,
                    };
                    self.send_push(
                        sender,
                        tl::types::UpdateShort {
                            update: update.into(),
                            date,
                        }
                        .into(),
                        origin,
                    );
                }
                _ => {
                    self.log_common(
                        sender,
                        1,
                        EventKind::ReadOutbox {
                            peer: their_peer,
                            max_id: their_max,
                        },
                    );
                    self.push_last_common(sender, origin);
                }
            }
        }
        Ok(result)
    }

    /// Pins or unpins a message; pinning posts a service message unless
    /// `silent`. Returns the service message.
    pub(crate) fn set_pinned(
        &mut self,
        origin: Origin,
        key: MsgKey,
        pinned: bool,
        silent: bool,
    ) -> Result<Option<MsgKey>, RpcError> {
        let m = self
            .message(key)
            .ok_or_else(|| RpcError::bad_request("MESSAGE_ID_INVALID"))?;
        let place = m.place;
        let allowed = match place {
            Place::Private(..) => true,
            Place::Group(c) => self
                .chat(c)
                .is_some_and(|c| c.member(origin.user).is_some()),
            Place::Channel(c) => self.channel(c).is_some_and(|c| {
                c.admin_rights(origin.user).is_some_and(|r| r.pin_messages)
                    || (!c.broadcast && c.is_member(origin.user) && !c.default_banned.pin_messages)
            }),
        };
        if !allowed {
            return Err(RpcError::bad_request("CHAT_ADMIN_REQUIRED"));
        }
        if m.pinned == pinned {
            return Err(RpcError::bad_request("MESSAGE_NOT_MODIFIED"));
        }
        if let Some(m) = self.messages.get_mut(key) {
            m.pinned = pinned;
        }
        match place {
            Place::Group(c) => {
                if let Some(chat) = self.chat_mut(c) {
                    chat.pinned = pinned.then_some(key);
                }
            }
            Place::Channel(c) => {
                if let Some(ch) = self.channel_mut(c) {
                    ch.pinned = pinned.then_some(key);
                }
            }
            Place::Private(..) => {}
        }
        let copies: Vec<Copy> = self
            .message(key)
            .map(|m| m.copies.clone())
            .unwrap_or_default();
        for copy in copies.into_iter().filter(|c| !c.deleted) {
            match copy.owner {
                Owner::Channel(c) => {
                    let kind = EventKind::Pinned {
                        peer: Peer::Channel(c),
                        ids: vec![copy.id],
                        pinned,
                    };
                    self.log_channel(c, 1, kind);
                    self.push_last_channel(c, origin);
                }
                Owner::User(u) => {
                    let kind = EventKind::Pinned {
                        peer: place.peer_for(u),
                        ids: vec![copy.id],
                        pinned,
                    };
                    self.log_common(u, 1, kind);
                    self.push_last_common(u, origin);
                }
            }
        }
        if !pinned || silent {
            return Ok(None);
        }
        let draft = Draft {
            reply_to: Some(key),
            ..Draft::service(tl::enums::MessageAction::PinMessage)
        };
        let to = place.peer_for(origin.user);
        self.post(origin, to, draft).map(Some)
    }

    /// A fresh album id: messages sent with the same `grouped_id` form one album.
    pub fn new_grouped_id(&mut self) -> i64 {
        self.next_grouped_id += 1;
        // Telegram's grouped ids are large; keep ours recognisable but similar.
        13_000_000_000_000_000 + self.next_grouped_id
    }
}

fn video_attribute(duration: f64, w: i32, h: i32, nosound: bool) -> tl::enums::DocumentAttribute {
    tl::types::DocumentAttributeVideo {
        round_message: false,
        supports_streaming: true,
        nosound,
        duration,
        w,
        h,
        preload_prefix_size: None,
        video_start_ts: None,
        video_codec: None,
    }
    .into()
}

fn audio_attribute(
    voice: bool,
    duration: i32,
    title: Option<String>,
    performer: Option<String>,
) -> tl::enums::DocumentAttribute {
    tl::types::DocumentAttributeAudio {
        voice,
        duration,
        title,
        performer,
        waveform: None,
    }
    .into()
}

/// The TL form of media without a file. Only called for those variants.
fn other_media(spec: MediaSpec) -> tl::enums::MessageMedia {
    let geo = |lat: f64, long: f64| -> tl::enums::GeoPoint {
        tl::types::GeoPoint {
            long,
            lat,
            access_hash: 0,
            accuracy_radius: None,
        }
        .into()
    };
    let text = |text: String| -> tl::enums::TextWithEntities {
        tl::types::TextWithEntities {
            text,
            entities: Vec::new(),
        }
        .into()
    };
    match spec {
        MediaSpec::Location { lat, long } => tl::types::MessageMediaGeo {
            geo: geo(lat, long),
        }
        .into(),
        MediaSpec::Venue {
            lat,
            long,
            title,
            address,
        } => tl::types::MessageMediaVenue {
            geo: geo(lat, long),
            title,
            address,
            provider: String::new(),
            venue_id: String::new(),
            venue_type: String::new(),
        }
        .into(),
        MediaSpec::Contact {
            phone,
            first_name,
            last_name,
        } => tl::types::MessageMediaContact {
            phone_number: phone,
            first_name,
            last_name,
            vcard: String::new(),
            user_id: 0,
        }
        .into(),
        MediaSpec::Poll {
            question,
            answers,
            votes,
        } => {
            let option = |i: usize| vec![u8::try_from(i).unwrap_or(u8::MAX)];
            let results = votes
                .iter()
                .enumerate()
                .map(|(i, &voters)| {
                    tl::types::PollAnswerVoters {
                        chosen: false,
                        correct: false,
                        option: option(i),
                        voters: Some(voters),
                        // Shares its flag bit with `voters` in layer 230.
                        recent_voters: Some(Vec::new()),
                    }
                    .into()
                })
                .collect();
            tl::types::MessageMediaPoll {
                poll: tl::types::Poll {
                    id: 1,
                    closed: false,
                    public_voters: false,
                    multiple_choice: false,
                    quiz: false,
                    open_answers: false,
                    revoting_disabled: false,
                    shuffle_answers: false,
                    hide_results_until_close: false,
                    creator: false,
                    subscribers_only: false,
                    question: text(question),
                    answers: answers
                        .into_iter()
                        .enumerate()
                        .map(|(i, answer)| {
                            tl::types::PollAnswer {
                                text: text(answer),
                                option: option(i),
                                media: None,
                                added_by: None,
                                date: None,
                            }
                            .into()
                        })
                        .collect(),
                    close_period: None,
                    close_date: None,
                    countries_iso2: None,
                    hash: 0,
                }
                .into(),
                results: tl::types::PollResults {
                    min: false,
                    has_unread_votes: false,
                    can_view_stats: false,
                    results: Some(results),
                    total_voters: Some(votes.iter().sum()),
                    recent_voters: None,
                    solution: None,
                    solution_entities: None,
                    solution_media: None,
                }
                .into(),
                attached_media: None,
            }
            .into()
        }
        MediaSpec::Dice { emoticon, value } => tl::types::MessageMediaDice {
            value,
            emoticon,
            game_outcome: None,
        }
        .into(),
        MediaSpec::Game { title, description } => tl::types::MessageMediaGame {
            game: tl::types::Game {
                id: 1,
                access_hash: 1,
                short_name: title.to_lowercase(),
                title,
                description,
                photo: tl::types::PhotoEmpty { id: 0 }.into(),
                document: None,
            }
            .into(),
        }
        .into(),
        _ => tl::enums::MessageMedia::Empty,
    }
}

/// A short name of media without a file, for [`MessageView::media`].
fn other_media_name(media: &tl::enums::MessageMedia) -> String {
    use tl::enums::MessageMedia as M;
    match media {
        M::Geo(_) => "geo",
        M::Venue(_) => "venue",
        M::Contact(_) => "contact",
        M::Poll(_) => "poll",
        M::Dice(_) => "dice",
        M::Game(_) => "game",
        _ => "other",
    }
    .to_owned()
}

/// The TL name of a service action, for assertions (`ChatEditTitle`, …).
fn action_name(action: &tl::enums::MessageAction) -> String {
    let debug = format!("{action:?}");
    debug
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// `403 <name>`: the caller lacks a right (e.g. `CHAT_WRITE_FORBIDDEN`).
pub(crate) fn forbidden(name: &str) -> RpcError {
    RpcError::new(403, name)
}
