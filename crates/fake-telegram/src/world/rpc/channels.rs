//! `channels.*`: supergroups and broadcast channels — lookups, full info,
//! participants, messages, deletions, reads, joining, leaving, inviting,
//! bans, admins, titles and photos.

use grammers_tl_types::{self as tl, functions::channels as f};

use super::messages::{affected, check_readable, input_chat_photo, lookup_messages};
use super::{clamp_limit, encode, route};
use crate::world::build::{notify_settings, PeerSet};
use crate::world::chats::Channel;
use crate::world::messages::MsgKey;
use crate::world::peers::Peer;
use crate::world::{CallCtx, ChannelId, Origin, UserId, World};
use crate::RpcError;

pub(super) fn handle(
    world: &mut World,
    ctx: &CallCtx,
    id: u32,
    body: &[u8],
) -> Option<Result<Vec<u8>, RpcError>> {
    let me = ctx.account;
    let origin = Origin::from(ctx);
    route!(id, body, {
        f::GetChannels => |r: f::GetChannels| {
            let chats = r
                .id
                .iter()
                .map(|c| world.resolve_channel(me, c).map(|c| world.tl_chat(Peer::Channel(c), me)))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .flatten()
                .collect();
            encode(tl::enums::messages::Chats::from(tl::types::messages::Chats { chats }))
        },
        f::GetFullChannel => |r: f::GetFullChannel| {
            let channel = world.resolve_channel(me, &r.channel)?;
            check_readable(world, me, Peer::Channel(channel))?;
            encode(full_channel(world, me, channel)?)
        },
        f::GetParticipants => |r: f::GetParticipants| {
            let channel = world.resolve_channel(me, &r.channel)?;
            encode(participants(world, me, channel, &r)?)
        },
        f::GetParticipant => |r: f::GetParticipant| {
            let channel = world.resolve_channel(me, &r.channel)?;
            let Peer::User(user) = world.resolve_peer(me, &r.participant)? else {
                return Err(RpcError::bad_request("PARTICIPANT_ID_INVALID"));
            };
            let c = world.channel(channel).ok_or_else(|| RpcError::bad_request("CHANNEL_INVALID"))?;
            if !c.is_member(me) {
                return Err(RpcError::bad_request("CHANNEL_PRIVATE"));
            }
            let participant = participant_of(c, user, me).ok_or_else(|| RpcError::bad_request("USER_NOT_PARTICIPANT"))?;
            let mut peers = PeerSet::default();
            peers.add_user(user);
            let (users, chats) = world.peer_lists(&peers, me);
            encode(tl::enums::channels::ChannelParticipant::from(tl::types::channels::ChannelParticipant {
                participant,
                chats,
                users,
            }))
        },
        f::GetMessages => |r: f::GetMessages| {
            let channel = world.resolve_channel(me, &r.channel)?;
            check_readable(world, me, Peer::Channel(channel))?;
            encode(lookup_messages(world, me, Some(Peer::Channel(channel)), &r.id))
        },
        f::DeleteMessages => |r: f::DeleteMessages| {
            let channel = world.resolve_channel(me, &r.channel)?;
            let keys: Vec<MsgKey> = r.id.iter().filter_map(|&id| world.message_key(me, Peer::Channel(channel), id)).collect();
            if keys.is_empty() {
                let pts = world.channel(channel).map_or(0, |c| c.updates.pts);
                return encode(affected(pts, 0));
            }
            let (pts, pts_count) = world.delete_keys(origin, &keys, true)?;
            encode(affected(pts, pts_count))
        },
        f::ReadHistory => |r: f::ReadHistory| {
            let channel = world.resolve_channel(me, &r.channel)?;
            check_readable(world, me, Peer::Channel(channel))?;
            world.read_history(origin, Peer::Channel(channel), r.max_id)?;
            encode(true)
        },
        f::JoinChannel => |r: f::JoinChannel| {
            let channel = world.resolve_channel(me, &r.channel)?;
            let key = world.channel_join(origin, channel)?;
            encode(membership_result(world, me, channel, key))
        },
        f::LeaveChannel => |r: f::LeaveChannel| {
            let channel = world.resolve_channel(me, &r.channel)?;
            world.channel_leave(origin, channel)?;
            let update = tl::types::UpdateChannel { channel_id: channel }.into();
            encode(world.chat_updates(me, Peer::Channel(channel), vec![update]))
        },
        f::InviteToChannel => |r: f::InviteToChannel| {
            let channel = world.resolve_channel(me, &r.channel)?;
            let users = r.users.iter().map(|u| world.resolve_user(me, u)).collect::<Result<Vec<_>, _>>()?;
            let key = world.channel_invite(origin, channel, &users)?;
            let updates = match key {
                Some(key) => world.new_messages_result(me, &[(key, None)], Vec::new()),
                None => world.chat_updates(me, Peer::Channel(channel), Vec::new()),
            };
            encode(tl::enums::messages::InvitedUsers::from(tl::types::messages::InvitedUsers {
                updates,
                missing_invitees: Vec::new(),
            }))
        },
        f::EditBanned => |r: f::EditBanned| {
            let channel = world.resolve_channel(me, &r.channel)?;
            let Peer::User(user) = world.resolve_peer(me, &r.participant)? else {
                return Err(RpcError::bad_request("PARTICIPANT_ID_INVALID"));
            };
            let tl::enums::ChatBannedRights::Rights(rights) = r.banned_rights;
            world.channel_ban(origin, channel, user, rights)?;
            let update = tl::types::UpdateChannel { channel_id: channel }.into();
            encode(world.chat_updates(me, Peer::Channel(channel), vec![update]))
        },
        f::EditAdmin => |r: f::EditAdmin| {
            let channel = world.resolve_channel(me, &r.channel)?;
            let user = world.resolve_user(me, &r.user_id)?;
            let tl::enums::ChatAdminRights::Rights(rights) = r.admin_rights;
            world.promote(origin, channel, user, rights, r.rank)?;
            let update = tl::types::UpdateChannel { channel_id: channel }.into();
            encode(world.chat_updates(me, Peer::Channel(channel), vec![update]))
        },
        f::EditTitle => |r: f::EditTitle| {
            let channel = world.resolve_channel(me, &r.channel)?;
            let key = world.edit_title(origin, Peer::Channel(channel), &r.title)?;
            encode(world.new_messages_result(me, &[(key, None)], Vec::new()))
        },
        f::EditPhoto => |r: f::EditPhoto| {
            let channel = world.resolve_channel(me, &r.channel)?;
            let photo = input_chat_photo(world, me, &r.photo)?;
            let key = world.edit_photo(origin, Peer::Channel(channel), photo)?;
            encode(world.new_messages_result(me, &[(key, None)], Vec::new()))
        },
        f::CreateChannel => |r: f::CreateChannel| {
            let channel = world.create_channel_as(origin, &r.title, &r.about, r.broadcast || !r.megagroup)?;
            if r.forum && !r.broadcast {
                world.toggle_forum(origin, channel, true)?;
            }
            let key = world.channel(channel).and_then(|c| c.updates.messages.values().next().copied());
            let update = tl::types::UpdateChannel { channel_id: channel }.into();
            let items: Vec<(MsgKey, Option<i64>)> = key.map(|k| (k, None)).into_iter().collect();
            encode(world.new_messages_result(me, &items, vec![update]))
        },
    })
}

/// Updates answering a join: the service message (supergroups) or just the channel.
fn membership_result(
    world: &World,
    me: UserId,
    channel: ChannelId,
    key: Option<MsgKey>,
) -> tl::enums::Updates {
    let update = tl::types::UpdateChannel {
        channel_id: channel,
    }
    .into();
    match key {
        Some(key) => world.new_messages_result(me, &[(key, None)], vec![update]),
        None => world.chat_updates(me, Peer::Channel(channel), vec![update]),
    }
}

/// The participant entry of `user` in `c` as `viewer` sees it.
fn participant_of(
    c: &Channel,
    user: UserId,
    viewer: UserId,
) -> Option<tl::enums::ChannelParticipant> {
    if let Some(ban) = c.banned.get(&user) {
        return Some(
            tl::types::ChannelParticipantBanned {
                left: true,
                peer: Peer::User(user).tl(),
                kicked_by: ban.by,
                date: ban.date,
                banned_rights: ban.rights.clone().into(),
                rank: None,
            }
            .into(),
        );
    }
    let p = c.participants.get(&user)?;
    if user == c.creator {
        return Some(
            tl::types::ChannelParticipantCreator {
                user_id: user,
                admin_rights: crate::world::chats::all_admin_rights().into(),
                rank: p.rank.clone(),
            }
            .into(),
        );
    }
    if let Some(rights) = &p.admin {
        return Some(
            tl::types::ChannelParticipantAdmin {
                can_edit: c.admin_rights(viewer).is_some_and(|r| r.add_admins),
                is_self: user == viewer,
                user_id: user,
                inviter_id: Some(p.inviter),
                promoted_by: p.promoted_by.unwrap_or(c.creator),
                date: p.date,
                admin_rights: rights.clone().into(),
                rank: p.rank.clone(),
            }
            .into(),
        );
    }
    if let Some(rights) = &p.restricted {
        return Some(
            tl::types::ChannelParticipantBanned {
                left: false,
                peer: Peer::User(user).tl(),
                kicked_by: c.creator,
                date: p.date,
                banned_rights: rights.clone().into(),
                rank: None,
            }
            .into(),
        );
    }
    if user == viewer {
        return Some(
            tl::types::ChannelParticipantSelf {
                via_request: false,
                user_id: user,
                inviter_id: p.inviter,
                date: p.date,
                subscription_until_date: None,
                rank: p.rank.clone(),
            }
            .into(),
        );
    }
    Some(
        tl::types::ChannelParticipant {
            user_id: user,
            date: p.date,
            subscription_until_date: None,
            rank: p.rank.clone(),
        }
        .into(),
    )
}

fn participants(
    world: &World,
    me: UserId,
    channel: ChannelId,
    r: &f::GetParticipants,
) -> Result<tl::enums::channels::ChannelParticipants, RpcError> {
    use tl::enums::ChannelParticipantsFilter as F;
    let c = world
        .channel(channel)
        .ok_or_else(|| RpcError::bad_request("CHANNEL_INVALID"))?;
    if !c.is_member(me) {
        return Err(RpcError::bad_request("CHANNEL_PRIVATE"));
    }
    if c.broadcast && c.admin_rights(me).is_none() {
        return Err(RpcError::bad_request("CHAT_ADMIN_REQUIRED"));
    }
    let name_matches = |user: UserId, q: &str| {
        let q = q.to_lowercase();
        world.user(user).is_some_and(|u| {
            let s = &u.spec;
            let full = format!(
                "{} {} {}",
                s.first_name,
                s.last_name.as_deref().unwrap_or(""),
                s.username.as_deref().unwrap_or("")
            );
            full.to_lowercase().contains(&q)
        })
    };
    let members = c.participants.keys().copied();
    let users: Vec<UserId> = match &r.filter {
        F::ChannelParticipantsRecent => members.collect(),
        F::ChannelParticipantsAdmins => members.filter(|&u| c.admin_rights(u).is_some()).collect(),
        F::ChannelParticipantsBots => members
            .filter(|&u| world.user(u).is_some_and(|u| u.spec.bot))
            .collect(),
        F::ChannelParticipantsKicked(k) => c
            .banned
            .keys()
            .copied()
            .filter(|&u| name_matches(u, &k.q))
            .collect(),
        F::ChannelParticipantsBanned(b) => members
            .filter(|u| {
                c.participants
                    .get(u)
                    .is_some_and(|p| p.restricted.is_some())
            })
            .filter(|&u| name_matches(u, &b.q))
            .collect(),
        F::ChannelParticipantsSearch(s) => members.filter(|&u| name_matches(u, &s.q)).collect(),
        F::ChannelParticipantsContacts(s) => members
            .filter(|&u| world.is_contact(me, u) && name_matches(u, &s.q))
            .collect(),
        F::ChannelParticipantsMentions(m) => members
            .filter(|&u| m.q.as_deref().is_none_or(|q| name_matches(u, q)))
            .collect(),
    };
    let total = users.len();
    let offset = usize::try_from(r.offset).unwrap_or(0);
    let page: Vec<UserId> = users
        .into_iter()
        .skip(offset)
        .take(clamp_limit(r.limit, 200))
        .collect();
    let mut peers = PeerSet::default();
    let list = page
        .iter()
        .filter_map(|&u| {
            peers.add_user(u);
            participant_of(c, u, me)
        })
        .collect();
    let (users, chats) = world.peer_lists(&peers, me);
    Ok(tl::types::channels::ChannelParticipants {
        count: total as i32,
        participants: list,
        chats,
        users,
    }
    .into())
}

fn full_channel(
    world: &World,
    me: UserId,
    channel: ChannelId,
) -> Result<tl::enums::messages::ChatFull, RpcError> {
    let c = world
        .channel(channel)
        .ok_or_else(|| RpcError::bad_request("CHANNEL_INVALID"))?;
    let peer = Peer::Channel(channel);
    let state = world.dialog_state(me, peer);
    let mut peers = PeerSet::default();
    peers.add(peer);
    if let Some((chat, _)) = c.migrated_from {
        peers.add(Peer::Chat(chat));
    }
    let admin = c.admin_rights(me).is_some();
    let full = tl::types::ChannelFull {
        can_view_participants: !c.broadcast || admin,
        can_set_username: admin,
        can_set_stickers: false,
        hidden_prehistory: false,
        can_set_location: false,
        has_scheduled: false,
        can_view_stats: false,
        blocked: false,
        can_delete_channel: c.creator == me,
        antispam: false,
        participants_hidden: false,
        translations_disabled: false,
        stories_pinned_available: false,
        view_forum_as_messages: false,
        restricted_sponsored: false,
        can_view_revenue: false,
        paid_media_allowed: false,
        can_view_stars_revenue: false,
        paid_reactions_available: false,
        stargifts_available: false,
        paid_messages_available: false,
        has_welcome_messages: false,
        id: channel,
        about: c.about.clone(),
        participants_count: Some(c.participants.len() as i32),
        admins_count: Some(
            c.participants
                .keys()
                .filter(|&&u| c.admin_rights(u).is_some())
                .count() as i32,
        ),
        kicked_count: Some(c.banned.len() as i32),
        banned_count: Some(
            c.participants
                .values()
                .filter(|p| p.restricted.is_some())
                .count() as i32,
        ),
        online_count: None,
        read_inbox_max_id: state.read_inbox_max_id,
        read_outbox_max_id: state.read_outbox_max_id,
        unread_count: world.unread_count(me, peer),
        chat_photo: match c.photo {
            Some(p) => world.tl_photo(p, me),
            None => tl::types::PhotoEmpty { id: 0 }.into(),
        },
        notify_settings: notify_settings(),
        exported_invite: None,
        bot_info: Vec::new(),
        migrated_from_chat_id: c.migrated_from.map(|(chat, _)| chat),
        migrated_from_max_id: c.migrated_from.map(|(_, max)| max),
        pinned_msg_id: c
            .pinned
            .and_then(|k| world.message(k))
            .and_then(|m| m.id_for(me)),
        stickerset: None,
        available_min_id: None,
        folder_id: world.folder_of(me, peer),
        linked_chat_id: None,
        location: None,
        slowmode_seconds: None,
        slowmode_next_send_date: None,
        stats_dc: None,
        pts: c.updates.pts,
        call: None,
        ttl_period: None,
        pending_suggestions: None,
        groupcall_default_join_as: None,
        theme_emoticon: None,
        requests_pending: None,
        recent_requesters: None,
        default_send_as: None,
        available_reactions: Some(world.tl_available_reactions(peer)),
        reactions_limit: None,
        stories: None,
        wallpaper: None,
        boosts_applied: None,
        boosts_unrestrict: None,
        emojiset: None,
        bot_verification: None,
        stargifts_count: None,
        send_paid_messages_stars: None,
        main_tab: None,
        guard_bot_id: None,
    };
    let (users, chats) = world.peer_lists(&peers, me);
    Ok(tl::types::messages::ChatFull {
        full_chat: full.into(),
        chats,
        users,
    }
    .into())
}
