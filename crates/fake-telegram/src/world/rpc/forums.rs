//! Forum methods: creating, editing, pinning, listing and deleting topics
//! (`messages.*ForumTopic*`, `messages.deleteTopicHistory`), a topic's (or
//! a thread's) history (`messages.getReplies`), the forum flag
//! (`channels.toggleForum`), a topic's read mark (`messages.readDiscussion`)
//! and the custom emoji documents topic icons name
//! (`messages.getCustomEmojiDocuments`). The rules live in [`crate::world::forums`];
//! this file only decodes, resolves peers and encodes.

use grammers_tl_types::{self as tl, functions as f};

use super::messages::{check_readable, ids_desc, page_of};
use super::{clamp_limit, encode, route, Paging};
use crate::world::forums::{TopicEdit, GENERAL_TOPIC};
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
        f::messages::CreateForumTopic => |r: f::messages::CreateForumTopic| {
            let channel = forum_peer(world, me, &r.peer)?;
            world.check_random_id(me, r.random_id)?;
            let key = world.create_topic_as(origin, channel, &r.title, r.icon_color, r.icon_emoji_id)?;
            world.remember_random_id(me, r.random_id, key);
            encode(world.new_messages_result(me, &[(key, Some(r.random_id))], Vec::new()))
        },
        f::messages::EditForumTopic => |r: f::messages::EditForumTopic| {
            let channel = forum_peer(world, me, &r.peer)?;
            let edit = TopicEdit {
                title: r.title,
                icon_emoji_id: r.icon_emoji_id,
                closed: r.closed,
                hidden: r.hidden,
            };
            let key = world.edit_topic_as(origin, channel, r.topic_id, edit)?;
            encode(world.new_messages_result(me, &[(key, None)], Vec::new()))
        },
        f::messages::UpdatePinnedForumTopic => |r: f::messages::UpdatePinnedForumTopic| {
            let channel = forum_peer(world, me, &r.peer)?;
            let update = world.pin_topic_as(origin, channel, r.topic_id, r.pinned)?;
            encode(world.chat_updates(me, Peer::Channel(channel), vec![update]))
        },
        f::messages::GetForumTopics => |r: f::messages::GetForumTopics| {
            let channel = forum_peer(world, me, &r.peer)?;
            let offset = (r.offset_date, r.offset_id, r.offset_topic);
            encode(world.forum_topics(channel, me, r.q.as_deref(), offset, clamp_limit(r.limit, 100))?)
        },
        f::messages::GetForumTopicsById => |r: f::messages::GetForumTopicsById| {
            let channel = forum_peer(world, me, &r.peer)?;
            encode(world.forum_topics_by_id(channel, me, &r.topics)?)
        },
        f::messages::DeleteTopicHistory => |r: f::messages::DeleteTopicHistory| {
            let channel = forum_peer(world, me, &r.peer)?;
            let (pts, pts_count) = world.delete_topic_as(origin, channel, r.top_msg_id)?;
            encode(tl::enums::messages::AffectedHistory::from(tl::types::messages::AffectedHistory {
                pts,
                pts_count,
                offset: 0,
            }))
        },
        f::messages::GetReplies => |r: f::messages::GetReplies| encode(get_replies(world, me, &r)?),
        f::messages::ReadDiscussion => |r: f::messages::ReadDiscussion| {
            let channel = forum_peer(world, me, &r.peer)?;
            world.read_topic_as(origin, channel, r.msg_id, r.read_max_id)?;
            encode(true)
        },
        f::messages::GetCustomEmojiDocuments => |r: f::messages::GetCustomEmojiDocuments| {
            encode(world.custom_emoji_documents(&r.document_id, me))
        },
        f::channels::ToggleForum => |r: f::channels::ToggleForum| {
            let channel = world.resolve_channel(me, &r.channel)?;
            world.toggle_forum(origin, channel, r.enabled)?;
            let update = tl::types::UpdateChannel { channel_id: channel }.into();
            encode(world.chat_updates(me, Peer::Channel(channel), vec![update]))
        },
    })
}

/// The channel an input peer names (forum methods take no other peer).
fn forum_peer(
    world: &World,
    me: UserId,
    peer: &tl::enums::InputPeer,
) -> Result<ChannelId, RpcError> {
    match world.resolve_peer(me, peer)? {
        Peer::Channel(channel) => Ok(channel),
        _ => Err(RpcError::bad_request("CHANNEL_INVALID")),
    }
}

/// `messages.getReplies`: in a forum, the messages of topic `msg_id` (its
/// creating message included, as topic views show it; `msg_id` 1 is
/// General); elsewhere, the thread of `msg_id`: the messages answering it.
fn get_replies(
    world: &World,
    me: UserId,
    r: &f::messages::GetReplies,
) -> Result<tl::enums::messages::Messages, RpcError> {
    let peer = world.resolve_peer(me, &r.peer)?;
    check_readable(world, me, peer)?;
    let Peer::Channel(channel) = peer else {
        return Err(RpcError::bad_request("PEER_ID_INVALID"));
    };
    let topic = r.msg_id;
    let list = if world.topic(channel, topic).is_some() {
        ids_desc(world, me, peer, |m| {
            m.topic.unwrap_or(GENERAL_TOPIC) == topic
        })
    } else {
        let root = world
            .message_key(me, peer, topic)
            .ok_or_else(|| RpcError::bad_request("MSG_ID_INVALID"))?;
        ids_desc(world, me, peer, |m| {
            m.reply_to == Some(root) || (m.topic == Some(topic) && m.action.is_none())
        })
    };
    let paging = Paging {
        offset_id: r.offset_id,
        add_offset: r.add_offset,
        limit: clamp_limit(r.limit, 100),
        min_id: r.min_id,
        max_id: r.max_id,
    };
    let keys = page_of(world, &list, r.offset_date, paging);
    Ok(world.messages_result(me, Some(peer), &keys, list.len()))
}
