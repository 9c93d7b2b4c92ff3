//! Basic groups, supergroups and broadcast channels: who is in them, who
//! administers them, who is banned, titles, about texts and photos. Owns the
//! membership data; posting the service messages that membership changes
//! cause is left to [`super::control`].

use std::collections::BTreeMap;

use grammers_tl_types as tl;

use super::files::PhotoId;
use super::messages::MsgKey;
use super::updates::ChannelBox;
use super::{UserId, World};

/// A basic group id.
pub type ChatId = i64;
/// A channel or supergroup id.
pub type ChannelId = i64;

const CHAT_BASE: i64 = 2_000_000;
const CHANNEL_BASE: i64 = 3_000_000;

/// A member of a basic group.
#[derive(Debug, Clone)]
pub struct ChatMember {
    /// The member.
    pub user: UserId,
    /// Who added them (themselves when they created the group or joined).
    pub inviter: UserId,
    /// When they joined.
    pub date: i32,
    /// Whether they are an administrator.
    pub admin: bool,
}

/// A basic group (`chat` in TL).
#[derive(Debug, Clone)]
pub struct BasicGroup {
    /// The group id.
    pub id: ChatId,
    /// Title.
    pub title: String,
    /// "About" text.
    pub about: String,
    /// Current photo.
    pub photo: Option<PhotoId>,
    /// Who created it.
    pub creator: UserId,
    /// Current members (the creator included while they stay).
    pub members: Vec<ChatMember>,
    /// Users removed by someone else: they see `chatForbidden`.
    pub kicked: Vec<UserId>,
    /// Creation date.
    pub date: i32,
    /// Bumped on every participant change, as Telegram does.
    pub version: i32,
    /// Set once the group was migrated to a supergroup.
    pub migrated_to: Option<ChannelId>,
    /// The pinned message, if any.
    pub pinned: Option<MsgKey>,
}

impl BasicGroup {
    /// The member entry of `user`, if they are in the group.
    pub fn member(&self, user: UserId) -> Option<&ChatMember> {
        self.members.iter().find(|m| m.user == user)
    }

    /// Whether `user` may change the title, photo and members.
    pub fn can_manage(&self, user: UserId) -> bool {
        user == self.creator && self.member(user).is_some()
            || self.member(user).is_some_and(|m| m.admin)
    }
}

/// A participant of a channel or supergroup.
#[derive(Debug, Clone)]
pub struct Participant {
    /// Who added them (themselves when they joined).
    pub inviter: UserId,
    /// When they joined.
    pub date: i32,
    /// Admin rights, if they are an administrator.
    pub admin: Option<tl::types::ChatAdminRights>,
    /// Who promoted them.
    pub promoted_by: Option<UserId>,
    /// Custom title.
    pub rank: Option<String>,
    /// Restrictions (a restricted member is still a member).
    pub restricted: Option<tl::types::ChatBannedRights>,
}

/// A user banned from a channel (kicked: they cannot see it at all).
#[derive(Debug, Clone)]
pub struct Ban {
    /// Who banned them.
    pub by: UserId,
    /// When.
    pub date: i32,
    /// The rights taken away.
    pub rights: tl::types::ChatBannedRights,
}

/// A supergroup or broadcast channel.
#[derive(Debug, Clone)]
pub struct Channel {
    /// The channel id.
    pub id: ChannelId,
    /// Title.
    pub title: String,
    /// "About" text.
    pub about: String,
    /// Public username, if any (then anyone may read and join).
    pub username: Option<String>,
    /// Current photo.
    pub photo: Option<PhotoId>,
    /// `true` for a broadcast channel, `false` for a supergroup.
    pub broadcast: bool,
    /// "Sign messages": posts of a broadcast channel carry their author's
    /// name (`post_author`).
    pub signatures: bool,
    /// Who created it.
    pub creator: UserId,
    /// Creation date.
    pub date: i32,
    /// Current participants.
    pub participants: BTreeMap<UserId, Participant>,
    /// Kicked users.
    pub banned: BTreeMap<UserId, Ban>,
    /// Rights no ordinary member has.
    pub default_banned: tl::types::ChatBannedRights,
    /// The basic group it was migrated from, and that group's last message
    /// id as seen by the creator.
    pub migrated_from: Option<(ChatId, i32)>,
    /// The pinned message, if any.
    pub pinned: Option<MsgKey>,
    /// Message ids, pts and event log.
    pub updates: ChannelBox,
    /// Whether the supergroup is a forum (its messages live in topics).
    pub forum: bool,
    /// The forum's topics by id, General (id 1) included once the forum
    /// flag was first set; kept when the flag is cleared, as Telegram
    /// restores them when it is set again.
    pub topics: BTreeMap<i32, super::forums::Topic>,
}

impl Channel {
    /// Whether `user` is a participant.
    pub fn is_member(&self, user: UserId) -> bool {
        self.participants.contains_key(&user)
    }

    /// Admin rights of `user` (the creator has all).
    pub fn admin_rights(&self, user: UserId) -> Option<tl::types::ChatAdminRights> {
        if user == self.creator && self.is_member(user) {
            return Some(all_admin_rights());
        }
        self.participants.get(&user).and_then(|p| p.admin.clone())
    }

    /// Whether `user` may read the channel (participant or public).
    pub fn can_read(&self, user: UserId) -> bool {
        !self.banned.contains_key(&user) && (self.is_member(user) || self.username.is_some())
    }

    /// Whether `user` may post: every member in a supergroup unless
    /// restricted, only admins with `post_messages` in a broadcast channel.
    pub fn can_post(&self, user: UserId) -> bool {
        let Some(p) = self.participants.get(&user) else {
            return false;
        };
        if self.broadcast {
            return self.admin_rights(user).is_some_and(|r| r.post_messages);
        }
        if self.admin_rights(user).is_some() {
            return true;
        }
        !self.default_banned.send_messages
            && !p.restricted.as_ref().is_some_and(|r| r.send_messages)
    }
}

/// Every admin right (what a creator has).
pub fn all_admin_rights() -> tl::types::ChatAdminRights {
    tl::types::ChatAdminRights {
        change_info: true,
        post_messages: true,
        edit_messages: true,
        delete_messages: true,
        ban_users: true,
        invite_users: true,
        pin_messages: true,
        add_admins: true,
        anonymous: false,
        manage_call: true,
        other: true,
        manage_topics: true,
        post_stories: true,
        edit_stories: true,
        delete_stories: true,
        manage_direct_messages: false,
        manage_ranks: true,
        manage_linked_peers: false,
        manage_welcome_messages: false,
    }
}

/// No restriction at all.
pub fn no_banned_rights() -> tl::types::ChatBannedRights {
    tl::types::ChatBannedRights {
        view_messages: false,
        send_messages: false,
        send_media: false,
        send_stickers: false,
        send_gifs: false,
        send_games: false,
        send_inline: false,
        embed_links: false,
        send_polls: false,
        change_info: false,
        invite_users: false,
        pin_messages: false,
        manage_topics: false,
        send_photos: false,
        send_videos: false,
        send_roundvideos: false,
        send_audios: false,
        send_voices: false,
        send_docs: false,
        send_plain: false,
        edit_rank: false,
        send_reactions: false,
        manage_linked_peers: false,
        until_date: 0,
    }
}

/// Whether a banned-rights value restricts nothing (used to lift a ban).
pub fn is_unrestricted(rights: &tl::types::ChatBannedRights) -> bool {
    let mut cleared = rights.clone();
    cleared.until_date = 0;
    cleared == no_banned_rights()
}

impl World {
    /// A basic group.
    pub fn chat(&self, id: ChatId) -> Option<&BasicGroup> {
        let index = usize::try_from(id - CHAT_BASE - 1).ok()?;
        self.chats.get(index)
    }

    pub(crate) fn chat_mut(&mut self, id: ChatId) -> Option<&mut BasicGroup> {
        let index = usize::try_from(id - CHAT_BASE - 1).ok()?;
        self.chats.get_mut(index)
    }

    /// A channel or supergroup.
    pub fn channel(&self, id: ChannelId) -> Option<&Channel> {
        let index = usize::try_from(id - CHANNEL_BASE - 1).ok()?;
        self.channels.get(index)
    }

    pub(crate) fn channel_mut(&mut self, id: ChannelId) -> Option<&mut Channel> {
        let index = usize::try_from(id - CHANNEL_BASE - 1).ok()?;
        self.channels.get_mut(index)
    }

    /// The channel with this username (case-insensitive, without `@`).
    pub fn channel_by_username(&self, username: &str) -> Option<&Channel> {
        let username = username.trim_start_matches('@');
        self.channels.iter().find(|c| {
            c.username
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(username))
        })
    }

    /// Every basic group `user` is a member of.
    pub fn chats_of(&self, user: UserId) -> impl Iterator<Item = &BasicGroup> {
        self.chats.iter().filter(move |c| c.member(user).is_some())
    }

    /// Every channel `user` participates in.
    pub fn channels_of(&self, user: UserId) -> impl Iterator<Item = &Channel> {
        self.channels.iter().filter(move |c| c.is_member(user))
    }

    /// Creates the group record (no service message).
    pub(crate) fn insert_chat(
        &mut self,
        creator: UserId,
        title: &str,
        members: &[UserId],
    ) -> ChatId {
        let id = CHAT_BASE + self.chats.len() as i64 + 1;
        let date = self.now();
        let mut list = vec![ChatMember {
            user: creator,
            inviter: creator,
            date,
            admin: false,
        }];
        for &user in members.iter().filter(|&&u| u != creator) {
            list.push(ChatMember {
                user,
                inviter: creator,
                date,
                admin: false,
            });
        }
        self.chats.push(BasicGroup {
            id,
            title: title.to_owned(),
            about: String::new(),
            photo: None,
            creator,
            members: list,
            kicked: Vec::new(),
            date,
            version: 1,
            migrated_to: None,
            pinned: None,
        });
        id
    }

    /// Creates the channel record (no service message).
    pub(crate) fn insert_channel(
        &mut self,
        creator: UserId,
        title: &str,
        about: &str,
        broadcast: bool,
    ) -> ChannelId {
        let id = CHANNEL_BASE + self.channels.len() as i64 + 1;
        let date = self.now();
        let mut participants = BTreeMap::new();
        participants.insert(
            creator,
            Participant {
                inviter: creator,
                date,
                admin: None,
                promoted_by: None,
                rank: None,
                restricted: None,
            },
        );
        self.channels.push(Channel {
            id,
            title: title.to_owned(),
            about: about.to_owned(),
            username: None,
            photo: None,
            broadcast,
            signatures: false,
            creator,
            date,
            participants,
            banned: BTreeMap::new(),
            default_banned: no_banned_rights(),
            migrated_from: None,
            pinned: None,
            updates: ChannelBox::default(),
            forum: false,
            topics: BTreeMap::new(),
        });
        id
    }

    /// All users that see what happens in `place` (members of a group or
    /// channel, both sides of a private chat).
    pub(crate) fn audience(&self, peer_place: &super::Place) -> Vec<UserId> {
        match *peer_place {
            super::Place::Private(a, b) if a == b => vec![a],
            super::Place::Private(a, b) => vec![a, b],
            super::Place::Group(chat) => self
                .chat(chat)
                .map(|c| c.members.iter().map(|m| m.user).collect())
                .unwrap_or_default(),
            super::Place::Channel(channel) => self
                .channel(channel)
                .map(|c| c.participants.keys().copied().collect())
                .unwrap_or_default(),
        }
    }
}
