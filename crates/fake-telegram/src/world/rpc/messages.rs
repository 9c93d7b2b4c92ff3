//! `messages.*`: dialogs, history, search, sending (text, media, albums,
//! forwards), edits, deletions, reads, typing, reactions, pins and basic
//! group management.

use std::collections::HashMap;

use grammers_tl_types::{self as tl, functions::messages as f};

use super::{clamp_limit, encode, page, route, Paging};
use crate::world::build::PeerSet;
use crate::world::control::Draft;
use crate::world::forums::GENERAL_TOPIC;
use crate::world::messages::{Forward, Media, MsgKey, Place};
use crate::world::peers::Peer;
use crate::world::updates::updates_of;
use crate::world::{CallCtx, Origin, UserId, World};
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
        f::GetDialogs => |r: f::GetDialogs| encode(get_dialogs(world, me, &r)?),
        f::GetPeerDialogs => |r: f::GetPeerDialogs| encode(get_peer_dialogs(world, me, &r)?),
        f::GetHistory => |r: f::GetHistory| encode(get_history(world, me, &r)?),
        f::Search => |r: f::Search| encode(search(world, me, &r)?),
        f::GetMessages => |r: f::GetMessages| encode(get_messages(world, me, &r.id)),
        f::GetChats => |r: f::GetChats| {
            let chats = r.id.iter().filter_map(|&c| world.tl_chat(Peer::Chat(c), me)).collect();
            encode(tl::enums::messages::Chats::from(tl::types::messages::Chats { chats }))
        },
        f::GetFullChat => |r: f::GetFullChat| encode(get_full_chat(world, me, r.chat_id)?),
        f::SendMessage => |r: f::SendMessage| encode(send_message(world, origin, r)?),
        f::SendMedia => |r: f::SendMedia| {
            let peer = world.resolve_peer(me, &r.peer)?;
            let media = input_media(world, me, &r.media)?;
            let draft = Draft {
                reply_to: reply_key(world, me, peer, r.reply_to.as_ref()),
                topic: reply_topic(r.reply_to.as_ref()),
                media: Some(media),
                silent: r.silent,
                ..Draft::text(r.message, r.entities.unwrap_or_default())
            };
            let key = world.post(origin, peer, draft)?;
            encode(world.new_messages_result(me, &[(key, Some(r.random_id))], Vec::new()))
        },
        f::SendMultiMedia => |r: f::SendMultiMedia| encode(send_album(world, origin, r)?),
        f::UploadMedia => |r: f::UploadMedia| {
            world.resolve_peer(me, &r.peer)?;
            let media = input_media(world, me, &r.media)?;
            encode(world.tl_media(media, me))
        },
        f::EditMessage => |r: f::EditMessage| {
            let peer = world.resolve_peer(me, &r.peer)?;
            let key = world.message_key(me, peer, r.id).ok_or_else(|| RpcError::bad_request("MESSAGE_ID_INVALID"))?;
            let media = r.media.as_ref().map(|m| input_media(world, me, m)).transpose()?;
            world.edit(origin, key, r.message, r.entities, media)?;
            let mut peers = PeerSet::default();
            let update = world.logged_update(me, key, true, &mut peers);
            let (users, chats) = world.peer_lists(&peers, me);
            encode(updates_of(update.into_iter().collect(), users, chats, world.last_date()))
        },
        f::DeleteMessages => |r: f::DeleteMessages| {
            let keys: Vec<MsgKey> = r.id.iter().filter_map(|&id| world.common_message_key(me, id)).collect();
            let (pts, pts_count) = world.delete_keys(origin, &keys, r.revoke)?;
            encode(affected(pts, pts_count))
        },
        f::ForwardMessages => |r: f::ForwardMessages| encode(forward(world, origin, r)?),
        f::ReadHistory => |r: f::ReadHistory| {
            let peer = world.resolve_peer(me, &r.peer)?;
            let (pts, pts_count) = world.read_history(origin, peer, r.max_id)?.unwrap_or((world.common_pts(me), 0));
            encode(affected(pts, pts_count))
        },
        f::SetTyping => |r: f::SetTyping| {
            let peer = world.resolve_peer(me, &r.peer)?;
            world.set_typing(origin, peer, r.top_msg_id, r.action)?;
            encode(true)
        },
        f::SendReaction => |r: f::SendReaction| {
            let peer = world.resolve_peer(me, &r.peer)?;
            let key = world.message_key(me, peer, r.msg_id).ok_or_else(|| RpcError::bad_request("MESSAGE_ID_INVALID"))?;
            let emojis = r
                .reaction
                .unwrap_or_default()
                .into_iter()
                .filter_map(|reaction| match reaction {
                    tl::enums::Reaction::Emoji(e) => Some(Ok(e.emoticon)),
                    tl::enums::Reaction::Empty => None,
                    _ => Some(Err(RpcError::bad_request("REACTION_INVALID"))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            world.check_reactions(peer, &emojis)?;
            world.set_reactions(origin, key, emojis)?;
            let update = world.reactions_update(key, me);
            encode(world.chat_updates(me, peer, update.into_iter().collect()))
        },
        f::GetMessagesReactions => |r: f::GetMessagesReactions| {
            let peer = world.resolve_peer(me, &r.peer)?;
            encode(messages_reactions(world, me, peer, &r.id))
        },
        f::UpdatePinnedMessage => |r: f::UpdatePinnedMessage| {
            let peer = world.resolve_peer(me, &r.peer)?;
            let key = world.message_key(me, peer, r.id).ok_or_else(|| RpcError::bad_request("MESSAGE_ID_INVALID"))?;
            let service = world.set_pinned(origin, key, !r.unpin, r.silent)?;
            let pinned = world.last_pinned_update(me, peer);
            let items: Vec<(MsgKey, Option<i64>)> = service.map(|k| (k, None)).into_iter().collect();
            encode(world.new_messages_result(me, &items, pinned.into_iter().collect()))
        },
        f::EditChatTitle => |r: f::EditChatTitle| {
            let key = world.edit_title(origin, Peer::Chat(r.chat_id), &r.title)?;
            encode(world.new_messages_result(me, &[(key, None)], Vec::new()))
        },
        f::EditChatAbout => |r: f::EditChatAbout| {
            let peer = world.resolve_peer(me, &r.peer)?;
            world.edit_about(origin, peer, &r.about)?;
            encode(true)
        },
        f::EditChatPhoto => |r: f::EditChatPhoto| {
            let photo = input_chat_photo(world, me, &r.photo)?;
            let key = world.edit_photo(origin, Peer::Chat(r.chat_id), photo)?;
            encode(world.new_messages_result(me, &[(key, None)], Vec::new()))
        },
        f::AddChatUser => |r: f::AddChatUser| {
            let user = world.resolve_user(me, &r.user_id)?;
            let key = world.add_chat_members(origin, r.chat_id, &[user])?;
            let updates = world.new_messages_result(me, &[(key, None)], Vec::new());
            encode(tl::enums::messages::InvitedUsers::from(tl::types::messages::InvitedUsers {
                updates,
                missing_invitees: Vec::new(),
            }))
        },
        f::DeleteChatUser => |r: f::DeleteChatUser| {
            let user = world.resolve_user(me, &r.user_id)?;
            let key = world.remove_chat_member(origin, r.chat_id, user)?;
            encode(world.new_messages_result(me, &[(key, None)], Vec::new()))
        },
        f::CreateChat => |r: f::CreateChat| {
            let users = r.users.iter().map(|u| world.resolve_user(me, u)).collect::<Result<Vec<_>, _>>()?;
            let (_, key) = world.create_group_as(origin, &r.title, &users)?;
            let updates = world.new_messages_result(me, &[(key, None)], Vec::new());
            encode(tl::enums::messages::InvitedUsers::from(tl::types::messages::InvitedUsers {
                updates,
                missing_invitees: Vec::new(),
            }))
        },
        f::MigrateChat => |r: f::MigrateChat| {
            let channel = world.migrate_chat(origin, r.chat_id)?;
            let update = tl::types::UpdateChannel { channel_id: channel }.into();
            encode(world.chat_updates(me, Peer::Channel(channel), vec![update]))
        },
        f::ExportChatInvite => |r: f::ExportChatInvite| {
            let peer = world.resolve_peer(me, &r.peer)?;
            let link = world.export_invite(origin, peer)?;
            encode(tl::enums::ExportedChatInvite::from(exported_invite(link, me, world.last_date())))
        },
        f::ImportChatInvite => |r: f::ImportChatInvite| {
            let (peer, key) = world.import_invite(origin, &r.hash)?;
            let updates = match key {
                Some(key) => world.new_messages_result(me, &[(key, None)], Vec::new()),
                None => world.chat_updates(me, peer, Vec::new()),
            };
            encode(tl::enums::messages::ChatInviteJoinResult::from(tl::types::messages::ChatInviteJoinResultOk { updates }))
        },
    })
}

/// `messages.affectedMessages`.
pub(super) fn affected(pts: i32, pts_count: i32) -> tl::enums::messages::AffectedMessages {
    tl::types::messages::AffectedMessages { pts, pts_count }.into()
}

/// A permanent invite link.
pub(super) fn exported_invite(
    link: String,
    admin_id: UserId,
    date: i32,
) -> tl::types::ChatInviteExported {
    tl::types::ChatInviteExported {
        revoked: false,
        permanent: true,
        request_needed: false,
        link,
        admin_id,
        date,
        start_date: None,
        expire_date: None,
        usage_limit: None,
        usage: None,
        requested: None,
        subscription_expired: None,
        title: None,
        subscription_pricing: None,
    }
}

/// The message a reply points at, if it exists in the same chat.
fn reply_key(
    world: &World,
    viewer: UserId,
    peer: Peer,
    reply_to: Option<&tl::enums::InputReplyTo>,
) -> Option<MsgKey> {
    match reply_to? {
        tl::enums::InputReplyTo::Message(r) => world.message_key(viewer, peer, r.reply_to_msg_id),
        _ => None,
    }
}

/// The forum topic a send asks for (`top_msg_id`), or the message it
/// replies to when that is a topic's root (the world resolves which).
fn reply_topic(reply_to: Option<&tl::enums::InputReplyTo>) -> Option<i32> {
    match reply_to? {
        tl::enums::InputReplyTo::Message(r) => r.top_msg_id,
        _ => None,
    }
}

/// Turns input media into stored media: finished uploads become photos or
/// documents; references to existing ones are checked.
pub(super) fn input_media(
    world: &mut World,
    viewer: UserId,
    media: &tl::enums::InputMedia,
) -> Result<Media, RpcError> {
    use tl::enums::InputMedia as M;
    match media {
        M::UploadedPhoto(p) => world.photo_from_upload(viewer, &p.file).map(Media::Photo),
        M::Photo(p) => world.resolve_photo(viewer, &p.id).map(Media::Photo),
        M::UploadedDocument(d) => world
            .document_from_upload(viewer, &d.file, d.mime_type.clone(), d.attributes.clone())
            .map(Media::Document),
        M::Document(d) => world.resolve_document(viewer, &d.id).map(Media::Document),
        M::GeoPoint(g) => match &g.geo_point {
            tl::enums::InputGeoPoint::Point(p) => Ok(world.add_other_media(
                tl::types::MessageMediaGeo {
                    geo: tl::types::GeoPoint {
                        long: p.long,
                        lat: p.lat,
                        access_hash: 0,
                        accuracy_radius: p.accuracy_radius,
                    }
                    .into(),
                }
                .into(),
            )),
            tl::enums::InputGeoPoint::Empty => Err(RpcError::bad_request("MEDIA_INVALID")),
        },
        _ => Err(RpcError::bad_request("MEDIA_INVALID")),
    }
}

/// A chat photo from `InputChatPhoto` (`None` removes the photo).
pub(super) fn input_chat_photo(
    world: &mut World,
    viewer: UserId,
    photo: &tl::enums::InputChatPhoto,
) -> Result<Option<i64>, RpcError> {
    match photo {
        tl::enums::InputChatPhoto::Empty => Ok(None),
        tl::enums::InputChatPhoto::InputChatUploadedPhoto(p) => {
            let file = p
                .file
                .as_ref()
                .ok_or_else(|| RpcError::bad_request("PHOTO_INVALID"))?;
            world.photo_from_upload(viewer, file).map(Some)
        }
        tl::enums::InputChatPhoto::Photo(p) => world.resolve_photo(viewer, &p.id).map(Some),
    }
}

fn send_message(
    world: &mut World,
    origin: Origin,
    r: f::SendMessage,
) -> Result<tl::enums::Updates, RpcError> {
    let me = origin.user;
    let peer = world.resolve_peer(me, &r.peer)?;
    if r.message.trim().is_empty() {
        return Err(RpcError::bad_request("MESSAGE_EMPTY"));
    }
    world.check_random_id(me, r.random_id)?;
    let entities = r.entities.unwrap_or_default();
    let draft = Draft {
        reply_to: reply_key(world, me, peer, r.reply_to.as_ref()),
        topic: reply_topic(r.reply_to.as_ref()),
        silent: r.silent,
        ..Draft::text(r.message, entities.clone())
    };
    let key = world.post(origin, peer, draft)?;
    world.remember_random_id(me, r.random_id, key);
    if let Peer::Channel(_) = peer {
        return Ok(world.new_messages_result(me, &[(key, Some(r.random_id))], Vec::new()));
    }
    // Private chats and basic groups: Telegram answers with the short form.
    let m = world
        .message(key)
        .ok_or_else(|| RpcError::new(500, "MESSAGE_LOST"))?;
    let id = m
        .id_for(me)
        .ok_or_else(|| RpcError::new(500, "MESSAGE_LOST"))?;
    let date = m.date;
    Ok(tl::types::UpdateShortSentMessage {
        out: true,
        id,
        pts: world.common_pts(me),
        pts_count: 1,
        date,
        media: None,
        entities: (!entities.is_empty()).then_some(entities),
        ttl_period: None,
    }
    .into())
}

fn send_album(
    world: &mut World,
    origin: Origin,
    r: f::SendMultiMedia,
) -> Result<tl::enums::Updates, RpcError> {
    let me = origin.user;
    let peer = world.resolve_peer(me, &r.peer)?;
    if r.multi_media.is_empty() || r.multi_media.len() > 10 {
        return Err(RpcError::bad_request("MULTI_MEDIA_TOO_LONG"));
    }
    let reply_to = reply_key(world, me, peer, r.reply_to.as_ref());
    let topic = reply_topic(r.reply_to.as_ref());
    let grouped_id = world.new_grouped_id();
    let mut items = Vec::new();
    for single in r.multi_media {
        let tl::enums::InputSingleMedia::Media(single) = single;
        let media = input_media(world, me, &single.media)?;
        let draft = Draft {
            reply_to,
            topic,
            media: Some(media),
            grouped_id: Some(grouped_id),
            silent: r.silent,
            ..Draft::text(single.message, single.entities.unwrap_or_default())
        };
        items.push((world.post(origin, peer, draft)?, Some(single.random_id)));
    }
    Ok(world.new_messages_result(me, &items, Vec::new()))
}

fn forward(
    world: &mut World,
    origin: Origin,
    r: f::ForwardMessages,
) -> Result<tl::enums::Updates, RpcError> {
    let me = origin.user;
    let from_peer = world.resolve_peer(me, &r.from_peer)?;
    let to_peer = world.resolve_peer(me, &r.to_peer)?;
    if r.id.len() != r.random_id.len() {
        return Err(RpcError::bad_request("RANDOM_ID_INVALID"));
    }
    if let Peer::Channel(c) = from_peer {
        if !world.channel(c).is_some_and(|c| c.can_read(me)) {
            return Err(RpcError::bad_request("CHANNEL_PRIVATE"));
        }
    }
    let mut albums: HashMap<i64, i64> = HashMap::new();
    let mut items = Vec::new();
    for (&id, &random_id) in r.id.iter().zip(&r.random_id) {
        let key = world
            .message_key(me, from_peer, id)
            .ok_or_else(|| RpcError::bad_request("MESSAGE_ID_INVALID"))?;
        let source = world
            .message(key)
            .cloned()
            .ok_or_else(|| RpcError::bad_request("MESSAGE_ID_INVALID"))?;
        if source.action.is_some() {
            return Err(RpcError::bad_request("MESSAGE_ID_INVALID"));
        }
        let post = source.is_post(world);
        let fwd = if r.drop_author {
            None
        } else {
            source.fwd.clone().or_else(|| {
                Some(Forward {
                    from: Some(match source.place {
                        Place::Channel(c) if post => Peer::Channel(c),
                        _ => Peer::User(source.from),
                    }),
                    from_name: None,
                    date: source.date,
                    channel_post: post.then_some(id),
                })
            })
        };
        let grouped_id = source
            .grouped_id
            .map(|g| *albums.entry(g).or_insert_with(|| world.new_grouped_id()));
        let draft = Draft {
            fwd,
            topic: r.top_msg_id.or_else(|| reply_topic(r.reply_to.as_ref())),
            media: source.media,
            grouped_id,
            silent: r.silent,
            ..Draft::text(source.text.clone(), source.entities.clone())
        };
        items.push((world.post(origin, to_peer, draft)?, Some(random_id)));
    }
    Ok(world.new_messages_result(me, &items, Vec::new()))
}

fn get_dialogs(
    world: &World,
    me: UserId,
    r: &f::GetDialogs,
) -> Result<tl::enums::messages::Dialogs, RpcError> {
    let all: Vec<_> = world
        .dialog_entries(me)
        .into_iter()
        .filter(|d| r.folder_id.is_none_or(|f| f == d.folder_id))
        .filter(|d| !(r.exclude_pinned && d.pinned))
        .collect();
    let paginating = r.offset_date != 0 || r.offset_id != 0;
    let offset_peer = match &r.offset_peer {
        tl::enums::InputPeer::Empty => None,
        peer => world.resolve_peer(me, peer).ok(),
    };
    let limit = clamp_limit(r.limit, 100);
    let page: Vec<_> = all
        .iter()
        .filter(|d| {
            if !paginating {
                return true;
            }
            !d.pinned
                && (d.date, d.top_message, Some(d.peer)) < (r.offset_date, r.offset_id, offset_peer)
                && Some(d.peer) != offset_peer
        })
        .take(limit)
        .collect();
    let mut peers = PeerSet::default();
    let dialogs = page
        .iter()
        .map(|d| world.tl_dialog(me, d.peer, &mut peers))
        .collect();
    let messages = page
        .iter()
        .filter_map(|d| world.message_key(me, d.peer, d.top_message))
        .filter_map(|k| world.tl_message(k, me, &mut peers))
        .collect();
    let (users, chats) = world.peer_lists(&peers, me);
    if !paginating && page.len() == all.len() {
        return Ok(tl::types::messages::Dialogs {
            dialogs,
            messages,
            chats,
            users,
        }
        .into());
    }
    Ok(tl::types::messages::DialogsSlice {
        count: all.len() as i32,
        dialogs,
        messages,
        chats,
        users,
    }
    .into())
}

fn get_peer_dialogs(
    world: &World,
    me: UserId,
    r: &f::GetPeerDialogs,
) -> Result<tl::enums::messages::PeerDialogs, RpcError> {
    let mut peers = PeerSet::default();
    let mut dialogs = Vec::new();
    let mut messages = Vec::new();
    for input in &r.peers {
        let tl::enums::InputDialogPeer::Peer(p) = input else {
            continue;
        };
        let peer = world.resolve_peer(me, &p.peer)?;
        dialogs.push(world.tl_dialog(me, peer, &mut peers));
        let top = world.top_message_id(me, peer);
        if let Some(m) = world
            .message_key(me, peer, top)
            .and_then(|k| world.tl_message(k, me, &mut peers))
        {
            messages.push(m);
        }
    }
    let (users, chats) = world.peer_lists(&peers, me);
    Ok(tl::types::messages::PeerDialogs {
        dialogs,
        messages,
        chats,
        users,
        state: world.state(me).into(),
    }
    .into())
}

/// Checks that `viewer` may read `peer`'s history.
pub(super) fn check_readable(world: &World, viewer: UserId, peer: Peer) -> Result<(), RpcError> {
    if let Peer::Channel(c) = peer {
        let channel = world
            .channel(c)
            .ok_or_else(|| RpcError::bad_request("CHANNEL_INVALID"))?;
        if !channel.can_read(viewer) {
            return Err(RpcError::bad_request("CHANNEL_PRIVATE"));
        }
    }
    Ok(())
}

/// Ids of `peer`'s messages, newest first, that pass `keep`.
pub(super) fn ids_desc(
    world: &World,
    me: UserId,
    peer: Peer,
    keep: impl Fn(&crate::world::Message) -> bool,
) -> Vec<(i32, MsgKey)> {
    world
        .message_ids(me, peer)
        .into_iter()
        .rev()
        .filter_map(|id| world.message_key(me, peer, id).map(|k| (id, k)))
        .filter(|&(_, k)| world.message(k).is_some_and(&keep))
        .collect()
}

/// Applies Telegram's history paging to `(id, key)` pairs, newest first;
/// `offset_date` (when set) replaces the paging's `offset_id`.
pub(super) fn page_of(
    world: &World,
    list: &[(i32, MsgKey)],
    offset_date: i32,
    mut paging: Paging,
) -> Vec<MsgKey> {
    if offset_date > 0 {
        // The first message older than the date becomes the (inclusive) start.
        let first_older = list
            .iter()
            .find(|&&(_, k)| world.message(k).is_some_and(|m| m.date < offset_date));
        paging.offset_id = first_older.map_or(1, |&(id, _)| id + 1);
    }
    let ids: Vec<i32> = list.iter().map(|&(id, _)| id).collect();
    let chosen = page(&ids, &paging);
    list.iter()
        .filter(|(id, _)| chosen.contains(id))
        .map(|&(_, k)| k)
        .collect()
}

fn get_history(
    world: &World,
    me: UserId,
    r: &f::GetHistory,
) -> Result<tl::enums::messages::Messages, RpcError> {
    let peer = world.resolve_peer(me, &r.peer)?;
    check_readable(world, me, peer)?;
    let list = ids_desc(world, me, peer, |_| true);
    let paging = Paging {
        offset_id: r.offset_id,
        add_offset: r.add_offset,
        limit: clamp_limit(r.limit, 100),
        min_id: r.min_id,
        max_id: r.max_id,
    };
    let keys = page_of(world, &list, r.offset_date, paging);
    let channel = matches!(peer, Peer::Channel(_)).then_some(peer);
    Ok(world.messages_result(me, channel, &keys, list.len()))
}

fn search(
    world: &World,
    me: UserId,
    r: &f::Search,
) -> Result<tl::enums::messages::Messages, RpcError> {
    let from = match &r.from_id {
        Some(p) => Some(world.resolve_peer(me, p)?),
        None => None,
    };
    let peers: Vec<Peer> = match &r.peer {
        tl::enums::InputPeer::Empty => world
            .dialog_entries(me)
            .into_iter()
            .map(|d| d.peer)
            .collect(),
        p => vec![world.resolve_peer(me, p)?],
    };
    let q = r.q.to_lowercase();
    let keep = |m: &crate::world::Message| {
        (q.is_empty() || m.text.to_lowercase().contains(&q))
            && from.is_none_or(|f| f == Peer::User(m.from))
            && (r.min_date == 0 || m.date >= r.min_date)
            && (r.max_date == 0 || m.date <= r.max_date)
            && filter_matches(world, &r.filter, m)
            && r.top_msg_id
                .is_none_or(|t| m.topic.unwrap_or(GENERAL_TOPIC) == t)
    };
    let mut list = Vec::new();
    for &peer in &peers {
        check_readable(world, me, peer)?;
        list.extend(ids_desc(world, me, peer, keep));
    }
    list.sort_by_key(|&(id, _)| std::cmp::Reverse(id));
    let paging = Paging {
        offset_id: r.offset_id,
        add_offset: r.add_offset,
        limit: clamp_limit(r.limit, 100),
        min_id: r.min_id,
        max_id: r.max_id,
    };
    let keys = page_of(world, &list, 0, paging);
    let channel = match peers.as_slice() {
        [peer @ Peer::Channel(_)] => Some(*peer),
        _ => None,
    };
    Ok(world.messages_result(me, channel, &keys, list.len()))
}

/// Whether a message passes a search filter.
fn filter_matches(
    world: &World,
    filter: &tl::enums::MessagesFilter,
    m: &crate::world::Message,
) -> bool {
    use tl::enums::MessagesFilter as F;
    let attrs = match m.media {
        Some(Media::Document(d)) => world
            .document(d)
            .map(|d| d.attributes.clone())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let has = |pred: &dyn Fn(&tl::enums::DocumentAttribute) -> bool| attrs.iter().any(pred);
    let is_video = has(&|a| matches!(a, tl::enums::DocumentAttribute::Video(_)));
    let is_gif = has(&|a| matches!(a, tl::enums::DocumentAttribute::Animated));
    let is_voice = has(&|a| matches!(a, tl::enums::DocumentAttribute::Audio(a) if a.voice));
    let is_music = has(&|a| matches!(a, tl::enums::DocumentAttribute::Audio(a) if !a.voice));
    let is_photo = matches!(m.media, Some(Media::Photo(_)));
    match filter {
        F::InputMessagesFilterEmpty => m.action.is_none(),
        F::InputMessagesFilterPhotos => is_photo,
        F::InputMessagesFilterVideo => is_video && !is_gif,
        F::InputMessagesFilterPhotoVideo => is_photo || (is_video && !is_gif),
        F::InputMessagesFilterDocument => {
            matches!(m.media, Some(Media::Document(_))) && !is_video && !is_voice
        }
        F::InputMessagesFilterGif => is_gif,
        F::InputMessagesFilterVoice => is_voice,
        F::InputMessagesFilterMusic => is_music,
        F::InputMessagesFilterRoundVoice => is_voice,
        F::InputMessagesFilterPinned => m.pinned,
        F::InputMessagesFilterChatPhotos => {
            matches!(m.action, Some(tl::enums::MessageAction::ChatEditPhoto(_)))
        }
        F::InputMessagesFilterUrl => m.entities.iter().any(|e| {
            matches!(
                e,
                tl::enums::MessageEntity::Url(_) | tl::enums::MessageEntity::TextUrl(_)
            )
        }),
        _ => false,
    }
}

/// `messages.getMessages` / `channels.getMessages`: the listed messages, with
/// `messageEmpty` for ids the viewer does not have.
pub(super) fn lookup_messages(
    world: &World,
    me: UserId,
    channel: Option<Peer>,
    ids: &[tl::enums::InputMessage],
) -> tl::enums::messages::Messages {
    let mut peers = PeerSet::default();
    let key_of = |id: i32| match channel {
        Some(peer) => world.message_key(me, peer, id),
        None => world.common_message_key(me, id),
    };
    let messages = ids
        .iter()
        .map(|input| {
            let (id, key) = match input {
                tl::enums::InputMessage::Id(m) => (m.id, key_of(m.id)),
                tl::enums::InputMessage::ReplyTo(m) => (
                    m.id,
                    key_of(m.id)
                        .and_then(|k| world.message(k))
                        .and_then(|msg| msg.reply_to),
                ),
                tl::enums::InputMessage::Pinned => (0, pinned_key(world, channel)),
                tl::enums::InputMessage::CallbackQuery(m) => (m.id, None),
            };
            key.and_then(|k| world.tl_message(k, me, &mut peers))
                .unwrap_or_else(|| tl::types::MessageEmpty { id, peer_id: None }.into())
        })
        .collect();
    let (users, chats) = world.peer_lists(&peers, me);
    if let Some(Peer::Channel(c)) = channel {
        return tl::types::messages::ChannelMessages {
            inexact: false,
            pts: world.channel(c).map_or(0, |c| c.updates.pts),
            count: ids.len() as i32,
            offset_id_offset: None,
            messages,
            topics: Vec::new(),
            chats,
            users,
        }
        .into();
    }
    tl::types::messages::Messages {
        messages,
        topics: Vec::new(),
        chats,
        users,
    }
    .into()
}

fn pinned_key(world: &World, channel: Option<Peer>) -> Option<MsgKey> {
    match channel {
        Some(Peer::Channel(c)) => world.channel(c)?.pinned,
        _ => None,
    }
}

fn get_messages(
    world: &World,
    me: UserId,
    ids: &[tl::enums::InputMessage],
) -> tl::enums::messages::Messages {
    lookup_messages(world, me, None, ids)
}

fn get_full_chat(
    world: &World,
    me: UserId,
    chat_id: i64,
) -> Result<tl::enums::messages::ChatFull, RpcError> {
    let chat = world
        .chat(chat_id)
        .ok_or_else(|| RpcError::bad_request("CHAT_ID_INVALID"))?;
    let mut peers = PeerSet::default();
    peers.add(Peer::Chat(chat_id));
    let participants: tl::enums::ChatParticipants = if chat.member(me).is_some() {
        let list = chat
            .members
            .iter()
            .map(|m| {
                peers.add_user(m.user);
                if m.user == chat.creator {
                    tl::types::ChatParticipantCreator {
                        user_id: m.user,
                        rank: None,
                    }
                    .into()
                } else if m.admin {
                    tl::types::ChatParticipantAdmin {
                        user_id: m.user,
                        inviter_id: m.inviter,
                        date: m.date,
                        rank: None,
                    }
                    .into()
                } else {
                    tl::types::ChatParticipant {
                        user_id: m.user,
                        inviter_id: m.inviter,
                        date: m.date,
                        rank: None,
                    }
                    .into()
                }
            })
            .collect();
        tl::types::ChatParticipants {
            chat_id,
            participants: list,
            version: chat.version,
        }
        .into()
    } else {
        tl::types::ChatParticipantsForbidden {
            chat_id,
            self_participant: None,
        }
        .into()
    };
    if let Some(channel) = chat.migrated_to {
        peers.add(Peer::Channel(channel));
    }
    let full = tl::types::ChatFull {
        can_set_username: false,
        has_scheduled: false,
        translations_disabled: false,
        has_welcome_messages: false,
        id: chat_id,
        about: chat.about.clone(),
        participants,
        chat_photo: chat.photo.map(|p| world.tl_photo(p, me)),
        notify_settings: crate::world::build::notify_settings(),
        exported_invite: None,
        bot_info: None,
        pinned_msg_id: chat
            .pinned
            .and_then(|k| world.message(k))
            .and_then(|m| m.id_for(me)),
        folder_id: world.folder_of(me, Peer::Chat(chat_id)),
        call: None,
        ttl_period: None,
        groupcall_default_join_as: None,
        theme_emoticon: None,
        requests_pending: None,
        recent_requesters: None,
        available_reactions: Some(world.tl_available_reactions(Peer::Chat(chat_id))),
        reactions_limit: None,
    };
    let (users, chats) = world.peer_lists(&peers, me);
    Ok(tl::types::messages::ChatFull {
        full_chat: full.into(),
        chats,
        users,
    }
    .into())
}

impl World {
    /// The last pin/unpin event in the chat, rendered for `viewer`.
    pub(crate) fn last_pinned_update(
        &self,
        viewer: UserId,
        peer: Peer,
    ) -> Option<tl::enums::Update> {
        use crate::world::updates::EventKind;
        let mut peers = PeerSet::default();
        let is_pin = |k: &EventKind| matches!(k, EventKind::Pinned { peer: p, .. } if *p == peer);
        match peer {
            Peer::Channel(c) => {
                let event = self
                    .channel(c)?
                    .updates
                    .log
                    .iter()
                    .rev()
                    .find(|e| is_pin(&e.kind))?;
                self.render_channel(c, viewer, event, &mut peers)
            }
            _ => {
                let event = self
                    .boxes
                    .get(&viewer)?
                    .log
                    .iter()
                    .rev()
                    .find(|e| is_pin(&e.kind))?;
                self.render_common(viewer, event, &mut peers)
            }
        }
    }
}

/// `messages.getMessagesReactions`: the current reaction summary of each
/// listed message the account can see, as `updateMessageReactions` (the
/// only way to learn reactions set while the account was not connected:
/// they carry no pts, so no difference repeats them).
fn messages_reactions(world: &World, me: UserId, peer: Peer, ids: &[i32]) -> tl::enums::Updates {
    let mut peers = PeerSet::default();
    peers.add(peer);
    let mut updates = Vec::new();
    for &id in ids {
        let Some(key) = world.message_key(me, peer, id) else {
            continue;
        };
        if let Some(m) = world.message(key) {
            world.tl_reactions(m, me, &mut peers);
        }
        updates.extend(world.reactions_update(key, me));
    }
    let (users, chats) = world.peer_lists(&peers, me);
    updates_of(updates, users, chats, world.last_date)
}
