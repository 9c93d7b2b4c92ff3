//! Builders of TL objects as one viewer sees them: users, chats, messages,
//! media, reactions. TL structs have no `Default`, so every struct literal
//! the world sends lives here. Pure reads of the world; never changes it.

use std::collections::BTreeSet;

use grammers_tl_types as tl;

use super::messages::{Media, MsgKey, Place};
use super::peers::Peer;
use super::{Channel, UserId, World};

/// The users and chats a response mentions, collected while building it so
/// the response can carry them (clients need their access hashes).
#[derive(Debug, Default)]
pub struct PeerSet {
    peers: BTreeSet<Peer>,
}

impl PeerSet {
    /// Remembers a peer.
    pub fn add(&mut self, peer: Peer) {
        self.peers.insert(peer);
    }

    /// Remembers a user.
    pub fn add_user(&mut self, user: UserId) {
        self.peers.insert(Peer::User(user));
    }
}

/// Notification settings: the defaults.
pub fn notify_settings() -> tl::enums::PeerNotifySettings {
    tl::types::PeerNotifySettings {
        show_previews: None,
        silent: None,
        mute_until: None,
        ios_sound: None,
        android_sound: None,
        other_sound: None,
        stories_muted: None,
        stories_hide_sender: None,
        stories_ios_sound: None,
        stories_android_sound: None,
        stories_other_sound: None,
    }
    .into()
}

/// Peer settings: nothing to offer.
pub fn peer_settings() -> tl::enums::PeerSettings {
    tl::types::PeerSettings {
        report_spam: false,
        add_contact: false,
        block_contact: false,
        share_contact: false,
        need_contacts_exception: false,
        report_geo: false,
        autoarchived: false,
        invite_members: false,
        request_chat_broadcast: false,
        business_bot_paused: false,
        business_bot_can_reply: false,
        geo_distance: None,
        request_chat_title: None,
        request_chat_date: None,
        business_bot_id: None,
        business_bot_manage_url: None,
        charge_paid_message_stars: None,
        registration_month: None,
        phone_country: None,
        name_change_date: None,
        photo_change_date: None,
    }
    .into()
}

impl World {
    /// A user as `viewer` sees it. Phones are shown only to the user itself
    /// and to contacts, as Telegram's default privacy settings do.
    pub(crate) fn build_user(&self, user: &super::User, viewer: UserId) -> tl::enums::User {
        let is_self = user.id == viewer;
        let contact = self.is_contact(viewer, user.id);
        let mutual = contact && self.is_contact(user.id, viewer);
        let spec = &user.spec;
        tl::types::User {
            is_self,
            contact,
            mutual_contact: mutual,
            deleted: false,
            bot: spec.bot,
            bot_chat_history: false,
            bot_nochats: false,
            verified: false,
            restricted: false,
            min: false,
            bot_inline_geo: false,
            support: false,
            scam: false,
            apply_min_photo: false,
            fake: false,
            bot_attach_menu: false,
            premium: false,
            attach_menu_enabled: false,
            bot_can_edit: false,
            close_friend: false,
            stories_hidden: false,
            stories_unavailable: false,
            contact_require_premium: false,
            bot_business: false,
            bot_has_main_app: false,
            bot_forum_view: false,
            bot_forum_can_manage_topics: false,
            bot_can_manage_bots: false,
            bot_guestchat: false,
            bot_guard: false,
            id: user.id,
            access_hash: Some(self.user_access_hash(user.id, viewer)),
            first_name: Some(spec.first_name.clone()),
            last_name: spec.last_name.clone(),
            username: spec.username.clone(),
            phone: if is_self || contact {
                spec.phone.clone()
            } else {
                None
            },
            photo: Some(self.user_profile_photo(user)),
            status: Some(if spec.bot {
                tl::enums::UserStatus::Empty
            } else {
                tl::types::UserStatusRecently { by_me: false }.into()
            }),
            bot_info_version: spec.bot.then_some(1),
            restriction_reason: None,
            bot_inline_placeholder: None,
            lang_code: None,
            emoji_status: None,
            usernames: None,
            stories_max_id: None,
            color: None,
            profile_color: None,
            bot_active_users: None,
            bot_verification_icon: None,
            send_paid_messages_stars: None,
            linked_community_id: None,
        }
        .into()
    }

    fn user_profile_photo(&self, user: &super::User) -> tl::enums::UserProfilePhoto {
        match user.photos.first() {
            Some(&photo_id) => tl::types::UserProfilePhoto {
                has_video: false,
                personal: false,
                photo_id,
                stripped_thumb: None,
                dc_id: self.dc_id,
            }
            .into(),
            None => tl::enums::UserProfilePhoto::Empty,
        }
    }

    fn chat_photo(&self, photo: Option<i64>) -> tl::enums::ChatPhoto {
        match photo {
            Some(photo_id) => tl::types::ChatPhoto {
                has_video: false,
                photo_id,
                stripped_thumb: None,
                dc_id: self.dc_id,
            }
            .into(),
            None => tl::enums::ChatPhoto::Empty,
        }
    }

    /// A basic group, supergroup or channel as `viewer` sees it; `None` for
    /// users and unknown ids.
    pub fn tl_chat(&self, peer: Peer, viewer: UserId) -> Option<tl::enums::Chat> {
        match peer {
            Peer::User(_) => None,
            Peer::Chat(id) => {
                let chat = self.chat(id)?;
                if chat.kicked.contains(&viewer) {
                    return Some(
                        tl::types::ChatForbidden {
                            id,
                            title: chat.title.clone(),
                        }
                        .into(),
                    );
                }
                let member = chat.member(viewer);
                Some(
                    tl::types::Chat {
                        creator: chat.creator == viewer,
                        left: member.is_none(),
                        deactivated: chat.migrated_to.is_some(),
                        call_active: false,
                        call_not_empty: false,
                        noforwards: false,
                        id,
                        title: chat.title.clone(),
                        photo: self.chat_photo(chat.photo),
                        participants_count: chat.members.len() as i32,
                        date: member.map_or(chat.date, |m| m.date),
                        version: chat.version,
                        migrated_to: chat.migrated_to.map(|c| self.input_channel(c, viewer)),
                        admin_rights: member
                            .filter(|m| m.admin || chat.creator == viewer)
                            .map(|_| super::chats::all_admin_rights().into()),
                        default_banned_rights: Some(super::chats::no_banned_rights().into()),
                    }
                    .into(),
                )
            }
            Peer::Channel(id) => self.channel(id).map(|c| self.build_channel(c, viewer)),
        }
    }

    fn build_channel(&self, c: &Channel, viewer: UserId) -> tl::enums::Chat {
        let access_hash = self.channel_access_hash(c.id, viewer);
        if let Some(ban) = c.banned.get(&viewer) {
            return tl::types::ChannelForbidden {
                broadcast: c.broadcast,
                megagroup: !c.broadcast,
                monoforum: false,
                id: c.id,
                access_hash,
                title: c.title.clone(),
                until_date: (ban.rights.until_date != 0).then_some(ban.rights.until_date),
            }
            .into();
        }
        let participant = c.participants.get(&viewer);
        tl::types::Channel {
            creator: c.creator == viewer,
            left: participant.is_none(),
            broadcast: c.broadcast,
            verified: false,
            megagroup: !c.broadcast,
            restricted: false,
            signatures: c.signatures,
            min: false,
            scam: false,
            has_link: false,
            has_geo: false,
            slowmode_enabled: false,
            call_active: false,
            call_not_empty: false,
            fake: false,
            gigagroup: false,
            noforwards: false,
            join_to_send: false,
            join_request: false,
            forum: c.forum,
            stories_hidden: false,
            stories_hidden_min: false,
            stories_unavailable: false,
            signature_profiles: false,
            autotranslation: false,
            broadcast_messages_allowed: false,
            monoforum: false,
            forum_tabs: false,
            id: c.id,
            access_hash: Some(access_hash),
            title: c.title.clone(),
            username: c.username.clone(),
            photo: self.chat_photo(c.photo),
            date: participant.map_or(c.date, |p| p.date),
            restriction_reason: None,
            admin_rights: c.admin_rights(viewer).map(Into::into),
            banned_rights: participant
                .and_then(|p| p.restricted.clone())
                .map(Into::into),
            default_banned_rights: Some(c.default_banned.clone().into()),
            participants_count: Some(c.participants.len() as i32),
            usernames: None,
            stories_max_id: None,
            color: None,
            profile_color: None,
            emoji_status: None,
            level: None,
            subscription_until_date: None,
            bot_verification_icon: None,
            send_paid_messages_stars: None,
            linked_monoforum_id: None,
            linked_community_id: None,
        }
        .into()
    }

    /// The users and chats of a [`PeerSet`], as `viewer` sees them.
    pub(crate) fn peer_lists(
        &self,
        peers: &PeerSet,
        viewer: UserId,
    ) -> (Vec<tl::enums::User>, Vec<tl::enums::Chat>) {
        let mut users = Vec::new();
        let mut chats = Vec::new();
        for &peer in &peers.peers {
            match peer {
                Peer::User(id) => users.extend(self.tl_user(id, viewer)),
                _ => chats.extend(self.tl_chat(peer, viewer)),
            }
        }
        (users, chats)
    }

    /// The message `key` as `viewer` sees it (its id in the viewer's box);
    /// `None` if the viewer has no copy.
    pub(crate) fn tl_message(
        &self,
        key: MsgKey,
        viewer: UserId,
        peers: &mut PeerSet,
    ) -> Option<tl::enums::Message> {
        let m = self.messages.get(key)?;
        let id = m.id_for(viewer)?;
        let peer = m.place.peer_for(viewer);
        peers.add(peer);
        let post = m.is_post(self);
        let from_id = if post {
            None
        } else {
            peers.add_user(m.from);
            Some(Peer::User(m.from).tl())
        };
        // In private chats Telegram omits from_id for the other side's messages.
        let from_id = match m.place {
            Place::Private(..) if m.from != viewer => None,
            _ => from_id,
        };
        let out = m.from == viewer;
        let mentioned = self.mentions(m, viewer);
        let reply_to = self.reply_header(m, id, viewer);
        let reactions = self.tl_reactions(m, viewer, peers);
        if let Some(action) = &m.action {
            self.action_peers(action, peers);
            return Some(
                tl::types::MessageService {
                    out,
                    mentioned,
                    media_unread: false,
                    reactions_are_possible: false,
                    silent: m.silent,
                    post,
                    legacy: false,
                    id,
                    from_id,
                    peer_id: peer.tl(),
                    saved_peer_id: None,
                    reply_to,
                    date: m.date,
                    action: action.clone(),
                    reactions: None,
                    ttl_period: None,
                }
                .into(),
            );
        }
        Some(
            tl::types::Message {
                out,
                mentioned,
                media_unread: false,
                silent: m.silent,
                post,
                from_scheduled: false,
                legacy: false,
                edit_hide: false,
                pinned: m.pinned,
                noforwards: false,
                invert_media: false,
                offline: false,
                video_processing_pending: false,
                paid_suggested_post_stars: false,
                paid_suggested_post_ton: false,
                id,
                from_id,
                from_boosts_applied: None,
                from_rank: None,
                peer_id: peer.tl(),
                saved_peer_id: None,
                fwd_from: m.fwd.as_ref().map(|f| self.tl_fwd(f, peers)),
                via_bot_id: None,
                via_business_bot_id: None,
                guestchat_via_from: None,
                reply_to,
                date: m.date,
                message: m.text.clone(),
                media: m.media.map(|media| self.tl_media(media, viewer)),
                reply_markup: None,
                entities: (!m.entities.is_empty()).then(|| m.entities.clone()),
                views: post.then_some(1),
                forwards: post.then_some(0),
                replies: None,
                edit_date: m.edit_date,
                post_author: m.post_author.clone(),
                grouped_id: m.grouped_id,
                reactions,
                restriction_reason: None,
                ttl_period: None,
                quick_reply_shortcut_id: None,
                effect: None,
                factcheck: None,
                report_delivery_until_date: None,
                paid_message_stars: None,
                suggested_post: None,
                schedule_repeat_period: None,
                summary_from_language: None,
                rich_message: None,
            }
            .into(),
        )
    }

    /// The reply header of `m` (whose id is `id` for `viewer`), as the forum
    /// documentation describes it: a message in a topic names the topic in
    /// `reply_to_msg_id` with `forum_topic` set, or, when it answers another
    /// message of the topic, that message with the topic in
    /// `reply_to_top_id`. A topic's own creating message and General's
    /// messages carry no topic. Once the forum flag is cleared the topic is
    /// a plain thread of its creating message (no `forum_topic`).
    pub(crate) fn reply_header(
        &self,
        m: &super::Message,
        id: i32,
        viewer: UserId,
    ) -> Option<tl::enums::MessageReplyHeader> {
        let reply_id = m
            .reply_to
            .and_then(|r| self.messages.get(r))
            .and_then(|r| r.id_for(viewer));
        let (forum_topic, msg_id, top_id) = match m.topic {
            Some(topic) if topic != id => {
                let forum = matches!(m.place, Place::Channel(c) if self.channel(c).is_some_and(|c| c.forum));
                match reply_id.filter(|&r| r != topic) {
                    Some(r) => (forum, r, Some(topic)),
                    None => (forum, topic, None),
                }
            }
            _ => (false, reply_id?, None),
        };
        Some(
            tl::types::MessageReplyHeader {
                reply_to_scheduled: false,
                forum_topic,
                quote: false,
                reply_to_ephemeral: false,
                reply_to_msg_id: Some(msg_id),
                reply_to_peer_id: None,
                reply_from: None,
                reply_media: None,
                reply_to_top_id: top_id,
                quote_text: None,
                quote_entities: None,
                quote_offset: None,
                todo_item_id: None,
                poll_option: None,
            }
            .into(),
        )
    }

    fn action_peers(&self, action: &tl::enums::MessageAction, peers: &mut PeerSet) {
        use tl::enums::MessageAction as A;
        match action {
            A::ChatCreate(a) => a.users.iter().for_each(|&u| peers.add_user(u)),
            A::ChatAddUser(a) => a.users.iter().for_each(|&u| peers.add_user(u)),
            A::ChatDeleteUser(a) => peers.add_user(a.user_id),
            A::ChatJoinedByLink(a) => peers.add_user(a.inviter_id),
            A::ChatMigrateTo(a) => peers.add(Peer::Channel(a.channel_id)),
            A::ChannelMigrateFrom(a) => peers.add(Peer::Chat(a.chat_id)),
            _ => {}
        }
    }

    /// A forward header.
    pub(crate) fn tl_fwd(
        &self,
        f: &super::messages::Forward,
        peers: &mut PeerSet,
    ) -> tl::enums::MessageFwdHeader {
        if let Some(from) = f.from {
            peers.add(from);
        }
        tl::types::MessageFwdHeader {
            imported: false,
            saved_out: false,
            from_id: f.from.map(Peer::tl),
            from_name: f.from_name.clone(),
            date: f.date,
            channel_post: f.channel_post,
            post_author: None,
            saved_from_peer: None,
            saved_from_msg_id: None,
            saved_from_id: None,
            saved_from_name: None,
            saved_date: None,
            psa_type: None,
        }
        .into()
    }

    /// Media as `viewer` sees it (access hashes are per viewer).
    pub(crate) fn tl_media(&self, media: Media, viewer: UserId) -> tl::enums::MessageMedia {
        match media {
            Media::Photo(id) => tl::types::MessageMediaPhoto {
                spoiler: false,
                live_photo: false,
                photo: Some(self.tl_photo(id, viewer)),
                ttl_seconds: None,
                video: None,
            }
            .into(),
            Media::Document(id) => {
                let attributes = self
                    .document(id)
                    .map(|d| d.attributes.as_slice())
                    .unwrap_or_default();
                let video = attributes.iter().find_map(|a| match a {
                    tl::enums::DocumentAttribute::Video(v) => Some(v.round_message),
                    _ => None,
                });
                let voice = attributes
                    .iter()
                    .any(|a| matches!(a, tl::enums::DocumentAttribute::Audio(a) if a.voice));
                tl::types::MessageMediaDocument {
                    nopremium: false,
                    spoiler: false,
                    video: video == Some(false),
                    round: video == Some(true),
                    voice,
                    document: Some(self.tl_document(id, viewer)),
                    alt_documents: None,
                    video_cover: None,
                    video_timestamp: None,
                    ttl_seconds: None,
                }
                .into()
            }
            Media::Other(id) => self
                .files
                .other(id)
                .cloned()
                .unwrap_or(tl::enums::MessageMedia::Empty),
        }
    }

    /// Reactions as `viewer` sees them (`chosen_order` marks their own).
    pub(crate) fn tl_reactions(
        &self,
        m: &super::Message,
        viewer: UserId,
        peers: &mut PeerSet,
    ) -> Option<tl::enums::MessageReactions> {
        if m.reactions.is_empty() {
            return None;
        }
        let mut emojis: Vec<&str> = Vec::new();
        for (_, emoji) in &m.reactions {
            if !emojis.contains(&emoji.as_str()) {
                emojis.push(emoji);
            }
        }
        let results = emojis
            .iter()
            .map(|&emoji| {
                let count = m.reactions.iter().filter(|(_, e)| e == emoji).count() as i32;
                let mine = m
                    .reactions
                    .iter()
                    .filter(|(u, _)| *u == viewer)
                    .position(|(_, e)| e == emoji);
                tl::types::ReactionCount {
                    chosen_order: mine.map(|i| i as i32),
                    reaction: emoji_reaction(emoji),
                    count,
                }
                .into()
            })
            .collect();
        // Reactors are visible in private chats, basic groups and supergroups.
        let recent = (!m.is_post(self)).then(|| {
            m.reactions
                .iter()
                .map(|(user, emoji)| {
                    peers.add_user(*user);
                    tl::types::MessagePeerReaction {
                        big: false,
                        unread: false,
                        my: *user == viewer,
                        peer_id: Peer::User(*user).tl(),
                        date: m.date,
                        reaction: emoji_reaction(emoji),
                    }
                    .into()
                })
                .collect()
        });
        Some(
            tl::types::MessageReactions {
                min: false,
                can_see_list: recent.is_some(),
                reactions_as_tags: false,
                results,
                recent_reactions: recent,
                top_reactors: None,
            }
            .into(),
        )
    }
}

/// An emoji reaction.
pub fn emoji_reaction(emoji: &str) -> tl::enums::Reaction {
    tl::types::ReactionEmoji {
        emoticon: emoji.to_owned(),
    }
    .into()
}
