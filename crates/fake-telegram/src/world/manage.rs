//! Changes to groups and channels — creating them, members joining,
//! leaving, being added, kicked, banned or promoted, titles, photos, about
//! texts, invite links, migration of a basic group to a supergroup, profile
//! photos — as operations shared by the RPC handlers and tests. Each posts
//! the service message Telegram would and pushes `updateChannel` where
//! membership changes without one.

use grammers_tl_types as tl;

use super::build::PeerSet;
use super::chats::{is_unrestricted, ChatMember, Participant};
use super::control::{forbidden, Draft};
use super::files::PhotoId;
use super::messages::MsgKey;
use super::peers::Peer;
use super::updates::updates_of;
use super::{ChannelId, ChatId, Origin, UserId, World};
use crate::RpcError;

fn chat_invalid() -> RpcError {
    RpcError::bad_request("CHAT_ID_INVALID")
}

fn channel_invalid() -> RpcError {
    RpcError::bad_request("CHANNEL_INVALID")
}

impl World {
    /// Creates a basic group with `creator` and `members`; posts
    /// `messageActionChatCreate`.
    pub fn create_group(
        &mut self,
        creator: UserId,
        title: &str,
        members: &[UserId],
    ) -> Result<ChatId, RpcError> {
        self.create_group_as(Origin::control(creator), title, members)
            .map(|(id, _)| id)
    }

    /// Creates a basic group; returns it and its creation service message.
    pub(crate) fn create_group_as(
        &mut self,
        origin: Origin,
        title: &str,
        members: &[UserId],
    ) -> Result<(ChatId, MsgKey), RpcError> {
        let creator = origin.user;
        if title.trim().is_empty() {
            return Err(RpcError::bad_request("CHAT_TITLE_EMPTY"));
        }
        if members.iter().any(|&m| self.user(m).is_none()) {
            return Err(RpcError::bad_request("USER_ID_INVALID"));
        }
        let id = self.insert_chat(creator, title, members);
        let users = self
            .chat(id)
            .map(|c| c.members.iter().map(|m| m.user).collect())
            .unwrap_or_default();
        let action = tl::types::MessageActionChatCreate {
            title: title.to_owned(),
            users,
        }
        .into();
        let key = self.post(origin, Peer::Chat(id), Draft::service(action))?;
        Ok((id, key))
    }

    /// Creates a broadcast channel (`broadcast`) or a supergroup; posts
    /// `messageActionChannelCreate`.
    pub fn create_channel(
        &mut self,
        creator: UserId,
        title: &str,
        about: &str,
        broadcast: bool,
    ) -> Result<ChannelId, RpcError> {
        self.create_channel_as(Origin::control(creator), title, about, broadcast)
    }

    pub(crate) fn create_channel_as(
        &mut self,
        origin: Origin,
        title: &str,
        about: &str,
        broadcast: bool,
    ) -> Result<ChannelId, RpcError> {
        if title.trim().is_empty() {
            return Err(RpcError::bad_request("CHAT_TITLE_EMPTY"));
        }
        let id = self.insert_channel(origin.user, title, about, broadcast);
        let action = tl::types::MessageActionChannelCreate {
            title: title.to_owned(),
        }
        .into();
        self.post(origin, Peer::Channel(id), Draft::service(action))?;
        self.mark_all_read(origin.user, Peer::Channel(id));
        Ok(id)
    }

    /// Creates a supergroup with members.
    pub fn create_supergroup(
        &mut self,
        creator: UserId,
        title: &str,
        members: &[UserId],
    ) -> Result<ChannelId, RpcError> {
        let id = self.create_channel(creator, title, "", false)?;
        let others: Vec<UserId> = members.iter().copied().filter(|&m| m != creator).collect();
        if !others.is_empty() {
            self.channel_invite(Origin::control(creator), id, &others)?;
        }
        Ok(id)
    }

    /// Turns "sign messages" of a broadcast channel on or off: later posts
    /// carry their author's name. Members are told the channel changed.
    pub fn set_channel_signatures(
        &mut self,
        channel: ChannelId,
        signatures: bool,
    ) -> Result<(), RpcError> {
        let c = self.channel_mut(channel).ok_or_else(channel_invalid)?;
        if !c.broadcast {
            return Err(RpcError::bad_request("CHANNEL_INVALID"));
        }
        c.signatures = signatures;
        let creator = c.creator;
        self.announce_chat_change(Peer::Channel(channel), Origin::control(creator));
        Ok(())
    }

    /// Gives a channel a public username (anyone may then read and join it).
    pub fn set_channel_username(
        &mut self,
        channel: ChannelId,
        username: Option<&str>,
    ) -> Result<(), RpcError> {
        let c = self.channel_mut(channel).ok_or_else(channel_invalid)?;
        c.username = username.map(str::to_owned);
        Ok(())
    }

    /// Sets the "about" text of a group, channel or user.
    pub fn set_about(&mut self, peer: Peer, about: &str) -> Result<(), RpcError> {
        match peer {
            Peer::User(u) => {
                self.user_mut(u)
                    .ok_or_else(RpcError::peer_id_invalid)?
                    .about = about.to_owned()
            }
            Peer::Chat(c) => self.chat_mut(c).ok_or_else(chat_invalid)?.about = about.to_owned(),
            Peer::Channel(c) => {
                self.channel_mut(c).ok_or_else(channel_invalid)?.about = about.to_owned()
            }
        }
        Ok(())
    }

    /// Sets a user's profile photo from image bytes (newest first).
    pub fn set_profile_photo(&mut self, user: UserId, bytes: Vec<u8>) -> Result<PhotoId, RpcError> {
        self.user(user).ok_or_else(RpcError::peer_id_invalid)?;
        let photo = self.add_photo_bytes(bytes);
        if let Some(u) = self.user_mut(user) {
            u.photos.insert(0, photo);
        }
        // Telegram announces profile changes with `updateUser`: clients refetch.
        let date = self.now();
        for viewer in self.acquaintances(user) {
            let mut peers = PeerSet::default();
            peers.add_user(user);
            let (users, chats) = self.peer_lists(&peers, viewer);
            let update = tl::types::UpdateUser { user_id: user }.into();
            self.send_push(
                viewer,
                updates_of(vec![update], users, chats, date),
                Origin::control(user),
            );
        }
        Ok(photo)
    }

    /// `by` adds users to a basic group (`messageActionChatAddUser`).
    pub fn add_chat_members(
        &mut self,
        origin: Origin,
        chat: ChatId,
        users: &[UserId],
    ) -> Result<MsgKey, RpcError> {
        let date = self.now();
        let c = self.chat_mut(chat).ok_or_else(chat_invalid)?;
        if c.migrated_to.is_some() {
            return Err(chat_invalid());
        }
        if c.member(origin.user).is_none() {
            return Err(forbidden("CHAT_WRITE_FORBIDDEN"));
        }
        if users.iter().any(|&u| c.member(u).is_some()) {
            return Err(RpcError::bad_request("USER_ALREADY_PARTICIPANT"));
        }
        for &user in users {
            c.members.push(ChatMember {
                user,
                inviter: origin.user,
                date,
                admin: false,
            });
            c.kicked.retain(|&k| k != user);
        }
        c.version += 1;
        let action = tl::types::MessageActionChatAddUser {
            users: users.to_vec(),
        }
        .into();
        self.post(origin, Peer::Chat(chat), Draft::service(action))
    }

    /// Removes `user` from a basic group (leaving when it is `origin.user`;
    /// kicking needs the creator, an admin or whoever added them).
    pub fn remove_chat_member(
        &mut self,
        origin: Origin,
        chat: ChatId,
        user: UserId,
    ) -> Result<MsgKey, RpcError> {
        let c = self.chat(chat).ok_or_else(chat_invalid)?;
        let member = c
            .member(user)
            .ok_or_else(|| RpcError::bad_request("USER_NOT_PARTICIPANT"))?;
        if user != origin.user && !c.can_manage(origin.user) && member.inviter != origin.user {
            return Err(RpcError::bad_request("CHAT_ADMIN_REQUIRED"));
        }
        // The service message goes out first so the removed user sees it too.
        let action = tl::types::MessageActionChatDeleteUser { user_id: user }.into();
        let key = self.post(origin, Peer::Chat(chat), Draft::service(action))?;
        if let Some(c) = self.chat_mut(chat) {
            c.members.retain(|m| m.user != user);
            if user != origin.user {
                c.kicked.push(user);
            }
            c.version += 1;
        }
        Ok(key)
    }

    /// Changes the title of a group or channel (`messageActionChatEditTitle`).
    pub fn edit_title(
        &mut self,
        origin: Origin,
        peer: Peer,
        title: &str,
    ) -> Result<MsgKey, RpcError> {
        if title.trim().is_empty() {
            return Err(RpcError::bad_request("CHAT_TITLE_EMPTY"));
        }
        match peer {
            Peer::Chat(id) => {
                let c = self.chat_mut(id).ok_or_else(chat_invalid)?;
                if c.member(origin.user).is_none() {
                    return Err(forbidden("CHAT_WRITE_FORBIDDEN"));
                }
                if c.title == title {
                    return Err(RpcError::bad_request("CHAT_NOT_MODIFIED"));
                }
                c.title = title.to_owned();
            }
            Peer::Channel(id) => {
                self.require_admin(id, origin.user, |r| r.change_info)?;
                let c = self.channel_mut(id).ok_or_else(channel_invalid)?;
                if c.title == title {
                    return Err(RpcError::bad_request("CHAT_NOT_MODIFIED"));
                }
                c.title = title.to_owned();
            }
            Peer::User(_) => return Err(RpcError::peer_id_invalid()),
        }
        let action = tl::types::MessageActionChatEditTitle {
            title: title.to_owned(),
        }
        .into();
        self.post(origin, peer, Draft::service(action))
    }

    /// Sets or removes the photo of a group or channel.
    pub fn edit_photo(
        &mut self,
        origin: Origin,
        peer: Peer,
        photo: Option<PhotoId>,
    ) -> Result<MsgKey, RpcError> {
        match peer {
            Peer::Chat(id) => {
                let c = self.chat_mut(id).ok_or_else(chat_invalid)?;
                if c.member(origin.user).is_none() {
                    return Err(forbidden("CHAT_WRITE_FORBIDDEN"));
                }
                c.photo = photo;
            }
            Peer::Channel(id) => {
                self.require_admin(id, origin.user, |r| r.change_info)?;
                self.channel_mut(id).ok_or_else(channel_invalid)?.photo = photo;
            }
            Peer::User(_) => return Err(RpcError::peer_id_invalid()),
        }
        let action = match photo {
            Some(p) => tl::types::MessageActionChatEditPhoto {
                photo: self.tl_photo(p, origin.user),
            }
            .into(),
            None => tl::enums::MessageAction::ChatDeletePhoto,
        };
        self.post(origin, peer, Draft::service(action))
    }

    /// Sets a group's or channel's photo from image bytes.
    pub fn set_chat_photo(
        &mut self,
        by: UserId,
        peer: Peer,
        bytes: Vec<u8>,
    ) -> Result<PhotoId, RpcError> {
        let photo = self.add_photo_bytes(bytes);
        self.edit_photo(Origin::control(by), peer, Some(photo))?;
        Ok(photo)
    }

    pub(crate) fn require_admin(
        &self,
        channel: ChannelId,
        user: UserId,
        right: impl Fn(&tl::types::ChatAdminRights) -> bool,
    ) -> Result<(), RpcError> {
        let c = self.channel(channel).ok_or_else(channel_invalid)?;
        if c.admin_rights(user).as_ref().is_some_and(right) {
            Ok(())
        } else {
            Err(RpcError::bad_request("CHAT_ADMIN_REQUIRED"))
        }
    }

    /// Adds users to a channel or supergroup.
    pub fn channel_invite(
        &mut self,
        origin: Origin,
        channel: ChannelId,
        users: &[UserId],
    ) -> Result<Option<MsgKey>, RpcError> {
        let c = self.channel(channel).ok_or_else(channel_invalid)?;
        let may_invite = c.admin_rights(origin.user).is_some_and(|r| r.invite_users)
            || (!c.broadcast && c.is_member(origin.user) && !c.default_banned.invite_users);
        if !may_invite {
            return Err(RpcError::bad_request("CHAT_ADMIN_REQUIRED"));
        }
        if users.iter().any(|&u| c.is_member(u)) {
            return Err(RpcError::bad_request("USER_ALREADY_PARTICIPANT"));
        }
        if users.iter().any(|&u| self.user(u).is_none()) {
            return Err(RpcError::bad_request("USER_ID_INVALID"));
        }
        self.join_channel_members(origin, channel, users, origin.user)
    }

    /// `origin.user` joins a public channel (or one they have a link to).
    pub fn channel_join(
        &mut self,
        origin: Origin,
        channel: ChannelId,
    ) -> Result<Option<MsgKey>, RpcError> {
        let c = self.channel(channel).ok_or_else(channel_invalid)?;
        if c.is_member(origin.user) {
            return Err(RpcError::bad_request("USER_ALREADY_PARTICIPANT"));
        }
        if c.banned.contains_key(&origin.user) {
            return Err(RpcError::bad_request("CHANNEL_PRIVATE"));
        }
        if c.username.is_none() {
            return Err(RpcError::bad_request("CHANNEL_PRIVATE"));
        }
        self.join_channel_members(origin, channel, &[origin.user], origin.user)
    }

    fn join_channel_members(
        &mut self,
        origin: Origin,
        channel: ChannelId,
        users: &[UserId],
        inviter: UserId,
    ) -> Result<Option<MsgKey>, RpcError> {
        let date = self.now();
        let c = self.channel_mut(channel).ok_or_else(channel_invalid)?;
        for &user in users {
            c.banned.remove(&user);
            c.participants.insert(
                user,
                Participant {
                    inviter,
                    date,
                    admin: None,
                    promoted_by: None,
                    rank: None,
                    restricted: None,
                },
            );
        }
        let broadcast = c.broadcast;
        for &user in users {
            self.mark_all_read(user, Peer::Channel(channel));
        }
        let key = if broadcast {
            None
        } else {
            let action = tl::types::MessageActionChatAddUser {
                users: users.to_vec(),
            }
            .into();
            Some(self.post(origin, Peer::Channel(channel), Draft::service(action))?)
        };
        for &user in users {
            self.push_channel_changed(user, channel, origin);
        }
        Ok(key)
    }

    /// `origin.user` leaves a channel.
    pub fn channel_leave(&mut self, origin: Origin, channel: ChannelId) -> Result<(), RpcError> {
        let c = self.channel(channel).ok_or_else(channel_invalid)?;
        if !c.is_member(origin.user) {
            return Err(RpcError::bad_request("USER_NOT_PARTICIPANT"));
        }
        if !c.broadcast {
            let action = tl::types::MessageActionChatDeleteUser {
                user_id: origin.user,
            }
            .into();
            self.post(origin, Peer::Channel(channel), Draft::service(action))?;
        }
        if let Some(c) = self.channel_mut(channel) {
            c.participants.remove(&origin.user);
        }
        self.push_channel_changed(origin.user, channel, origin);
        Ok(())
    }

    /// Restricts, kicks (`view_messages`) or unbans (no rights) a user.
    pub fn channel_ban(
        &mut self,
        origin: Origin,
        channel: ChannelId,
        user: UserId,
        rights: tl::types::ChatBannedRights,
    ) -> Result<(), RpcError> {
        self.require_admin(channel, origin.user, |r| r.ban_users)?;
        let date = self.now();
        let c = self.channel(channel).ok_or_else(channel_invalid)?;
        if user == c.creator {
            return Err(RpcError::bad_request("USER_ADMIN_INVALID"));
        }
        let broadcast = c.broadcast;
        let was_member = c.is_member(user);
        if rights.view_messages {
            if was_member && !broadcast {
                let action = tl::types::MessageActionChatDeleteUser { user_id: user }.into();
                self.post(origin, Peer::Channel(channel), Draft::service(action))?;
            }
            let c = self.channel_mut(channel).ok_or_else(channel_invalid)?;
            c.participants.remove(&user);
            c.banned.insert(
                user,
                super::chats::Ban {
                    by: origin.user,
                    date,
                    rights,
                },
            );
        } else if is_unrestricted(&rights) {
            let c = self.channel_mut(channel).ok_or_else(channel_invalid)?;
            c.banned.remove(&user);
            if let Some(p) = c.participants.get_mut(&user) {
                p.restricted = None;
            }
        } else {
            let c = self.channel_mut(channel).ok_or_else(channel_invalid)?;
            let p = c
                .participants
                .get_mut(&user)
                .ok_or_else(|| RpcError::bad_request("USER_NOT_PARTICIPANT"))?;
            p.restricted = Some(rights);
        }
        self.push_channel_changed(user, channel, origin);
        Ok(())
    }

    /// Makes `user` an admin with `rights` (all rights cleared = demote).
    pub fn promote(
        &mut self,
        origin: Origin,
        channel: ChannelId,
        user: UserId,
        rights: tl::types::ChatAdminRights,
        rank: Option<String>,
    ) -> Result<(), RpcError> {
        self.require_admin(channel, origin.user, |r| r.add_admins)?;
        let c = self.channel_mut(channel).ok_or_else(channel_invalid)?;
        let p = c
            .participants
            .get_mut(&user)
            .ok_or_else(|| RpcError::bad_request("USER_NOT_PARTICIPANT"))?;
        let demote = rights == no_admin_rights();
        p.admin = (!demote).then_some(rights);
        p.promoted_by = (!demote).then_some(origin.user);
        p.rank = rank;
        self.push_channel_changed(user, channel, origin);
        Ok(())
    }

    /// Makes a basic-group member an admin (basic groups have no fine rights).
    pub fn set_chat_admin(
        &mut self,
        chat: ChatId,
        user: UserId,
        admin: bool,
    ) -> Result<(), RpcError> {
        let c = self.chat_mut(chat).ok_or_else(chat_invalid)?;
        let m = c
            .members
            .iter_mut()
            .find(|m| m.user == user)
            .ok_or_else(|| RpcError::bad_request("USER_NOT_PARTICIPANT"))?;
        m.admin = admin;
        c.version += 1;
        Ok(())
    }

    /// Migrates a basic group to a supergroup: members move over (admins
    /// stay admins), the group is deactivated and both get service messages.
    pub fn migrate_chat(&mut self, origin: Origin, chat: ChatId) -> Result<ChannelId, RpcError> {
        let c = self.chat(chat).ok_or_else(chat_invalid)?.clone();
        if c.migrated_to.is_some() {
            return Err(chat_invalid());
        }
        if c.creator != origin.user {
            return Err(RpcError::bad_request("CHAT_ADMIN_REQUIRED"));
        }
        let channel = self.insert_channel(origin.user, &c.title, &c.about, false);
        let date = self.now();
        if let Some(ch) = self.channel_mut(channel) {
            ch.photo = c.photo;
            for m in c.members.iter().filter(|m| m.user != origin.user) {
                let admin = m.admin.then(super::chats::all_admin_rights);
                ch.participants.insert(
                    m.user,
                    Participant {
                        inviter: m.inviter,
                        date,
                        admin,
                        promoted_by: None,
                        rank: None,
                        restricted: None,
                    },
                );
            }
        }
        let action = tl::types::MessageActionChatMigrateTo {
            channel_id: channel,
        }
        .into();
        self.post(origin, Peer::Chat(chat), Draft::service(action))?;
        let max_id = self.top_message_id(origin.user, Peer::Chat(chat));
        if let Some(g) = self.chat_mut(chat) {
            g.migrated_to = Some(channel);
            g.version += 1;
        }
        if let Some(ch) = self.channel_mut(channel) {
            ch.migrated_from = Some((chat, max_id));
        }
        let action = tl::types::MessageActionChannelMigrateFrom {
            title: c.title.clone(),
            chat_id: chat,
        }
        .into();
        self.post(origin, Peer::Channel(channel), Draft::service(action))?;
        for m in &c.members {
            self.mark_all_read(m.user, Peer::Channel(channel));
        }
        Ok(channel)
    }

    /// An invite link to a group or channel (stable per chat).
    pub fn export_invite(&mut self, origin: Origin, peer: Peer) -> Result<String, RpcError> {
        let allowed = match peer {
            Peer::Chat(c) => self
                .chat(c)
                .ok_or_else(chat_invalid)?
                .member(origin.user)
                .is_some(),
            Peer::Channel(c) => self
                .channel(c)
                .ok_or_else(channel_invalid)?
                .admin_rights(origin.user)
                .is_some_and(|r| r.invite_users),
            Peer::User(_) => return Err(RpcError::peer_id_invalid()),
        };
        if !allowed {
            return Err(RpcError::bad_request("CHAT_ADMIN_REQUIRED"));
        }
        let hash = format!(
            "{:016x}",
            super::peers::access_hash(super::peers::Kind::Channel, peer_number(peer), 0) as u64
        );
        self.invites.insert(hash.clone(), peer);
        Ok(format!("https://t.me/+{hash}"))
    }

    /// `origin.user` joins through an invite hash (the part after `+`).
    pub fn import_invite(
        &mut self,
        origin: Origin,
        hash: &str,
    ) -> Result<(Peer, Option<MsgKey>), RpcError> {
        let hash = hash.rsplit(['+', '/']).next().unwrap_or(hash);
        let peer = *self
            .invites
            .get(hash)
            .ok_or_else(|| RpcError::bad_request("INVITE_HASH_INVALID"))?;
        match peer {
            Peer::Chat(chat) => {
                let date = self.now();
                let c = self.chat_mut(chat).ok_or_else(chat_invalid)?;
                if c.member(origin.user).is_some() {
                    return Err(RpcError::bad_request("USER_ALREADY_PARTICIPANT"));
                }
                let inviter = c.creator;
                c.members.push(ChatMember {
                    user: origin.user,
                    inviter,
                    date,
                    admin: false,
                });
                c.kicked.retain(|&k| k != origin.user);
                c.version += 1;
                let action = tl::types::MessageActionChatJoinedByLink {
                    inviter_id: inviter,
                }
                .into();
                Ok((peer, Some(self.post(origin, peer, Draft::service(action))?)))
            }
            Peer::Channel(channel) => {
                let c = self.channel(channel).ok_or_else(channel_invalid)?;
                if c.is_member(origin.user) {
                    return Err(RpcError::bad_request("USER_ALREADY_PARTICIPANT"));
                }
                if c.banned.contains_key(&origin.user) {
                    return Err(RpcError::bad_request("USER_BANNED_IN_CHANNEL"));
                }
                let creator = c.creator;
                Ok((
                    peer,
                    self.join_channel_members(origin, channel, &[origin.user], creator)?,
                ))
            }
            Peer::User(_) => Err(RpcError::bad_request("INVITE_HASH_INVALID")),
        }
    }

    /// Marks everything in `peer` read for `user` (new members start with
    /// no unread history).
    fn mark_all_read(&mut self, user: UserId, peer: Peer) {
        let top = self.top_message_id(user, peer);
        self.dialog_state_mut(user, peer).read_inbox_max_id = top;
    }

    /// Pushes `updateChannel` so a client refetches a channel it joined,
    /// left or got new rights in.
    fn push_channel_changed(&self, user: UserId, channel: ChannelId, origin: Origin) {
        let mut peers = PeerSet::default();
        peers.add(Peer::Channel(channel));
        let (users, chats) = self.peer_lists(&peers, user);
        let update = tl::types::UpdateChannel {
            channel_id: channel,
        }
        .into();
        self.send_push(
            user,
            updates_of(vec![update], users, chats, self.last_date),
            origin,
        );
    }
}

fn peer_number(peer: Peer) -> i64 {
    match peer {
        Peer::User(id) | Peer::Chat(id) | Peer::Channel(id) => id,
    }
}

/// No admin right at all (a demotion).
pub fn no_admin_rights() -> tl::types::ChatAdminRights {
    tl::types::ChatAdminRights {
        change_info: false,
        post_messages: false,
        edit_messages: false,
        delete_messages: false,
        ban_users: false,
        invite_users: false,
        pin_messages: false,
        add_admins: false,
        anonymous: false,
        manage_call: false,
        other: false,
        manage_topics: false,
        post_stories: false,
        edit_stories: false,
        delete_stories: false,
        manage_direct_messages: false,
        manage_ranks: false,
        manage_linked_peers: false,
        manage_welcome_messages: false,
    }
}

impl World {
    /// Changes the "about" text of a group or channel as `origin.user`
    /// (`messages.editChatAbout`): needs membership in a basic group and the
    /// change-info right in a channel. Members are told with `updateChat` /
    /// `updateChannel`, as Telegram posts no service message for it.
    pub fn edit_about(&mut self, origin: Origin, peer: Peer, about: &str) -> Result<(), RpcError> {
        match peer {
            Peer::Chat(id) => {
                let c = self.chat(id).ok_or_else(chat_invalid)?;
                if c.member(origin.user).is_none() {
                    return Err(forbidden("CHAT_WRITE_FORBIDDEN"));
                }
                if c.about == about {
                    return Err(RpcError::bad_request("CHAT_ABOUT_NOT_MODIFIED"));
                }
            }
            Peer::Channel(id) => {
                self.require_admin(id, origin.user, |r| r.change_info)?;
                if self.channel(id).is_some_and(|c| c.about == about) {
                    return Err(RpcError::bad_request("CHAT_ABOUT_NOT_MODIFIED"));
                }
            }
            Peer::User(_) => return Err(RpcError::peer_id_invalid()),
        }
        self.set_about(peer, about)?;
        self.announce_chat_change(peer, origin);
        Ok(())
    }

    /// Makes a basic-group member an admin (or not) as Telegram does it:
    /// every member gets `updateChatParticipantAdmin`.
    pub fn set_chat_admin_announced(
        &mut self,
        chat: ChatId,
        user: UserId,
        admin: bool,
    ) -> Result<(), RpcError> {
        self.set_chat_admin(chat, user, admin)?;
        let version = self.chat(chat).map_or(0, |c| c.version);
        let update: tl::enums::Update = tl::types::UpdateChatParticipantAdmin {
            chat_id: chat,
            user_id: user,
            is_admin: admin,
            version,
        }
        .into();
        let creator = self.chat(chat).map_or(user, |c| c.creator);
        self.push_to_members(Peer::Chat(chat), update, Origin::control(creator));
        Ok(())
    }

    /// Tells every member that a group or channel changed (`updateChat` /
    /// `updateChannel`), so clients refetch it.
    pub fn announce_chat_change(&self, peer: Peer, origin: Origin) {
        let update: tl::enums::Update = match peer {
            Peer::Chat(chat_id) => tl::types::UpdateChat { chat_id }.into(),
            Peer::Channel(channel_id) => tl::types::UpdateChannel { channel_id }.into(),
            Peer::User(_) => return,
        };
        self.push_to_members(peer, update, origin);
    }

    fn push_to_members(&self, peer: Peer, update: tl::enums::Update, origin: Origin) {
        let place = match peer {
            Peer::Chat(chat) => super::Place::Group(chat),
            Peer::Channel(channel) => super::Place::Channel(channel),
            Peer::User(_) => return,
        };
        for viewer in self.audience(&place) {
            let mut peers = PeerSet::default();
            peers.add(peer);
            let (users, chats) = self.peer_lists(&peers, viewer);
            self.send_push(
                viewer,
                updates_of(vec![update.clone()], users, chats, self.last_date),
                origin,
            );
        }
    }
}
