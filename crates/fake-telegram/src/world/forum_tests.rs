//! Unit tests of forums through the real interface: serialized TL requests
//! into [`rpc::handle`] and the control API, as other Telegram users.

use grammers_tl_types::{self as tl, functions as f, Deserializable, RemoteCall};

use super::*;
use crate::RpcError;

/// Alice owns a forum Bob and Carol are members of.
struct Forum {
    world: World,
    alice: UserId,
    bob: UserId,
    carol: UserId,
    channel: ChannelId,
}

fn forum() -> Forum {
    let mut world = World::new();
    let mut user = |name: &str, phone: &str| {
        world.add_user(UserSpec {
            first_name: name.into(),
            phone: Some(phone.into()),
            ..UserSpec::default()
        })
    };
    let (alice, bob, carol) = (
        user("Alice", "100"),
        user("Bob", "200"),
        user("Carol", "300"),
    );
    let channel = world.create_forum(alice, "Forum", &[bob, carol]).unwrap();
    Forum {
        world,
        alice,
        bob,
        carol,
        channel,
    }
}

fn call<R: RemoteCall>(
    world: &mut World,
    account: UserId,
    request: &R,
) -> Result<R::Return, RpcError> {
    let ctx = CallCtx {
        account,
        auth_key_id: account * 10,
    };
    let bytes = rpc::handle(world, &ctx, &request.to_bytes()).expect("a world method")?;
    Ok(R::Return::from_bytes(&bytes).expect("a well-formed result"))
}

impl Forum {
    /// A topic `by` creates in the forum, with no icon.
    fn topic(&mut self, by: UserId, title: &str) -> i32 {
        self.world
            .create_topic(by, self.channel, title, None, None)
            .unwrap()
    }

    fn peer(&self, viewer: UserId) -> tl::enums::InputPeer {
        self.world.input_peer(Peer::Channel(self.channel), viewer)
    }

    fn pts(&self) -> i32 {
        self.world.channel(self.channel).unwrap().updates.pts
    }

    /// `messages.createForumTopic` as `by`.
    fn create(&mut self, by: UserId, title: &str) -> Result<tl::enums::Updates, RpcError> {
        let request = f::messages::CreateForumTopic {
            title_missing: false,
            peer: self.peer(by),
            title: title.into(),
            icon_color: Some(0xFF_93_B2),
            icon_emoji_id: Some(5_000_000_001),
            random_id: i64::from(self.pts()) + 1000,
            send_as: None,
        };
        call(&mut self.world, by, &request)
    }

    /// `messages.sendMessage` as `by`, optionally replying and/or in a topic.
    fn send(
        &mut self,
        by: UserId,
        text: &str,
        reply_to: Option<i32>,
        top_msg_id: Option<i32>,
    ) -> Result<tl::enums::Updates, RpcError> {
        let reply_to = (reply_to.is_some() || top_msg_id.is_some()).then(|| {
            tl::types::InputReplyToMessage {
                reply_to_msg_id: reply_to.or(top_msg_id).unwrap_or(0),
                top_msg_id,
                reply_to_peer_id: None,
                quote_text: None,
                quote_entities: None,
                quote_offset: None,
                monoforum_peer_id: None,
                todo_item_id: None,
                poll_option: None,
            }
            .into()
        });
        let request = f::messages::SendMessage {
            no_webpage: false,
            silent: false,
            background: false,
            clear_draft: false,
            noforwards: false,
            update_stickersets_order: false,
            invert_media: false,
            allow_paid_floodskip: false,
            peer: self.peer(by),
            reply_to,
            message: text.into(),
            random_id: i64::from(self.pts()) * 7919 + i64::from(by as i32),
            reply_markup: None,
            entities: None,
            schedule_date: None,
            schedule_repeat_period: None,
            send_as: None,
            quick_reply_shortcut: None,
            effect: None,
            allow_paid_stars: None,
            suggested_post: None,
            rich_message: None,
        };
        call(&mut self.world, by, &request)
    }

    fn edit(
        &mut self,
        by: UserId,
        topic: i32,
        edit: TopicEdit,
    ) -> Result<tl::enums::Updates, RpcError> {
        let request = f::messages::EditForumTopic {
            peer: self.peer(by),
            topic_id: topic,
            title: edit.title,
            icon_emoji_id: edit.icon_emoji_id,
            closed: edit.closed,
            hidden: edit.hidden,
        };
        call(&mut self.world, by, &request)
    }

    fn topics(
        &mut self,
        viewer: UserId,
        q: Option<&str>,
        offset_topic: i32,
        limit: i32,
    ) -> tl::types::messages::ForumTopics {
        let request = f::messages::GetForumTopics {
            peer: self.peer(viewer),
            q: q.map(str::to_owned),
            offset_date: 0,
            offset_id: 0,
            offset_topic,
            limit,
        };
        let tl::enums::messages::ForumTopics::Topics(t) =
            call(&mut self.world, viewer, &request).unwrap();
        t
    }

    fn replies(&mut self, viewer: UserId, topic: i32) -> Vec<tl::enums::Message> {
        let request = f::messages::GetReplies {
            peer: self.peer(viewer),
            msg_id: topic,
            offset_id: 0,
            offset_date: 0,
            add_offset: 0,
            limit: 100,
            max_id: 0,
            min_id: 0,
            hash: 0,
        };
        match call(&mut self.world, viewer, &request).unwrap() {
            tl::enums::messages::Messages::ChannelMessages(m) => m.messages,
            other => panic!("channel messages, got {other:?}"),
        }
    }
}

/// The new channel messages of an `updates` answer, with their pts.
fn new_messages(updates: &tl::enums::Updates) -> Vec<(tl::enums::Message, i32)> {
    let tl::enums::Updates::Updates(u) = updates else {
        panic!("full updates, got {updates:?}")
    };
    u.updates
        .iter()
        .filter_map(|u| match u {
            tl::enums::Update::NewChannelMessage(m) => Some((m.message.clone(), m.pts)),
            _ => None,
        })
        .collect()
}

fn id_of(m: &tl::enums::Message) -> i32 {
    match m {
        tl::enums::Message::Message(m) => m.id,
        tl::enums::Message::Service(m) => m.id,
        tl::enums::Message::Empty(m) => m.id,
    }
}

fn text_of(m: &tl::enums::Message) -> String {
    match m {
        tl::enums::Message::Message(m) => m.message.clone(),
        tl::enums::Message::Service(m) => format!("{:?}", m.action).chars().take(40).collect(),
        tl::enums::Message::Empty(_) => String::new(),
    }
}

/// `(forum_topic, reply_to_msg_id, reply_to_top_id)` of a message's header.
fn header(m: &tl::enums::Message) -> Option<(bool, Option<i32>, Option<i32>)> {
    let reply_to = match m {
        tl::enums::Message::Message(m) => m.reply_to.as_ref(),
        tl::enums::Message::Service(m) => m.reply_to.as_ref(),
        tl::enums::Message::Empty(_) => None,
    };
    match reply_to? {
        tl::enums::MessageReplyHeader::Header(h) => {
            Some((h.forum_topic, h.reply_to_msg_id, h.reply_to_top_id))
        }
        tl::enums::MessageReplyHeader::MessageReplyStoryHeader(_) => None,
    }
}

fn sent(updates: &tl::enums::Updates) -> tl::enums::Message {
    new_messages(updates).remove(0).0
}

#[test]
fn a_forum_has_general_and_the_forum_flag() {
    let mut s = forum();
    let Some(tl::enums::Chat::Channel(c)) = s.world.tl_chat(Peer::Channel(s.channel), s.bob) else {
        panic!("a channel")
    };
    assert!(c.forum && c.megagroup);
    let list = s.topics(s.bob, None, 0, 10);
    assert_eq!(list.count, 1);
    let tl::enums::ForumTopic::Topic(general) = &list.topics[0] else {
        panic!("a topic")
    };
    assert_eq!((general.id, general.title.as_str()), (1, "General"));
    // Everything before the forum flag (creation, invites) is in General.
    let newest = s.world.top_message_id(s.bob, Peer::Channel(s.channel));
    assert_eq!(general.top_message, newest);
    assert_eq!(list.messages.len(), 1);
}

#[test]
fn creating_a_topic_posts_its_service_message_with_a_pts() {
    let mut s = forum();
    let mut rx = s.world.subscribe();
    let before = s.pts();
    let result = s.create(s.bob, "Cats").unwrap();
    let (message, pts) = new_messages(&result).remove(0);
    assert_eq!(pts, before + 1);
    let tl::enums::Message::Service(service) = &message else {
        panic!("a service message")
    };
    let tl::enums::MessageAction::TopicCreate(action) = &service.action else {
        panic!("topic create, got {:?}", service.action)
    };
    assert_eq!(
        (
            action.title.as_str(),
            action.icon_color,
            action.icon_emoji_id
        ),
        ("Cats", 0xFF_93_B2, Some(5_000_000_001))
    );
    assert_eq!(header(&message), None, "a topic's root carries no topic");
    let topic = service.id;
    let t = s.world.topic(s.channel, topic).unwrap();
    assert_eq!((t.title.as_str(), t.creator), ("Cats", s.bob));
    // Alice and Carol see it pushed; Bob's key got it as its answer.
    let pushes: Vec<Push> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    let to: Vec<UserId> = pushes
        .iter()
        .filter(|p| p.skip_auth_key.is_none())
        .map(|p| p.account)
        .collect();
    assert!(to.contains(&s.alice) && to.contains(&s.carol));
    // Empty titles and non-forums are refused.
    assert_eq!(s.create(s.bob, " ").unwrap_err().name, "TOPIC_TITLE_EMPTY");
    let plain = s
        .world
        .create_supergroup(s.alice, "Plain", &[s.bob])
        .unwrap();
    let err = s
        .world
        .create_topic(s.alice, plain, "x", None, None)
        .unwrap_err();
    assert_eq!(err.name, "CHANNEL_FORUM_MISSING");
}

#[test]
fn topic_messages_carry_the_topic_in_their_reply_header() {
    let mut s = forum();
    let topic = s.topic(s.alice, "Dogs");
    // General: no header at all.
    let general = sent(&s.send(s.bob, "in general", None, None).unwrap());
    assert_eq!(header(&general), None);
    // A message in the topic names it.
    let first = sent(&s.send(s.bob, "first", None, Some(topic)).unwrap());
    assert_eq!(header(&first), Some((true, Some(topic), None)));
    // A reply inside the topic carries both.
    let reply = sent(
        &s.send(s.carol, "reply", Some(id_of(&first)), Some(topic))
            .unwrap(),
    );
    assert_eq!(
        header(&reply),
        Some((true, Some(id_of(&first)), Some(topic)))
    );
    // Without top_msg_id, replying to the root or to a topic message is enough.
    let to_root = sent(&s.send(s.carol, "to root", Some(topic), None).unwrap());
    assert_eq!(header(&to_root), Some((true, Some(topic), None)));
    let inherited = sent(
        &s.send(s.carol, "inherited", Some(id_of(&reply)), None)
            .unwrap(),
    );
    assert_eq!(
        header(&inherited),
        Some((true, Some(id_of(&reply)), Some(topic)))
    );
    // A reply in General stays a plain reply.
    let general_reply = sent(
        &s.send(s.alice, "general reply", Some(id_of(&general)), None)
            .unwrap(),
    );
    assert_eq!(
        header(&general_reply),
        Some((false, Some(id_of(&general)), None))
    );
    // Control-API sends choose the topic too, and other viewers agree.
    let id = s
        .world
        .send_message(
            s.bob,
            Peer::Channel(s.channel),
            OutgoingMessage {
                topic: Some(topic),
                ..OutgoingMessage::text("control")
            },
        )
        .unwrap();
    let view = s.world.topic_history(s.alice, s.channel, topic);
    assert_eq!(
        view.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["", "first", "reply", "to root", "inherited", "control"]
    );
    assert_eq!(view.last().unwrap().id, id);
    // Unknown topics are refused.
    assert_eq!(
        s.send(s.bob, "x", None, Some(999)).unwrap_err().name,
        "TOPIC_ID_INVALID"
    );
}

#[test]
fn editing_closing_hiding_and_pinning_topics() {
    let mut s = forum();
    let topic = s.topic(s.bob, "Bob's");
    let before = s.pts();
    // The creator renames their topic: a service message in the topic.
    let renamed = s
        .edit(
            s.bob,
            topic,
            TopicEdit {
                title: Some("Renamed".into()),
                ..TopicEdit::default()
            },
        )
        .unwrap();
    let (message, pts) = new_messages(&renamed).remove(0);
    assert_eq!(pts, before + 1);
    assert_eq!(header(&message), Some((true, Some(topic), None)));
    let tl::enums::Message::Service(service) = &message else {
        panic!("service")
    };
    assert!(
        matches!(&service.action, tl::enums::MessageAction::TopicEdit(e) if e.title.as_deref() == Some("Renamed") && e.closed.is_none())
    );
    assert_eq!(
        s.edit(
            s.bob,
            topic,
            TopicEdit {
                title: Some("Renamed".into()),
                ..TopicEdit::default()
            }
        )
        .unwrap_err()
        .name,
        "TOPIC_NOT_MODIFIED"
    );
    // Carol may not edit Bob's topic.
    let close = TopicEdit {
        closed: Some(true),
        ..TopicEdit::default()
    };
    assert_eq!(
        s.edit(s.carol, topic, close.clone()).unwrap_err().name,
        "CHAT_ADMIN_REQUIRED"
    );
    // Alice (owner) closes it: members are refused, the owner still posts.
    let closed = s.edit(s.alice, topic, close).unwrap();
    let tl::enums::Message::Service(service) = sent(&closed) else {
        panic!("service")
    };
    assert!(
        matches!(&service.action, tl::enums::MessageAction::TopicEdit(e) if e.closed == Some(true))
    );
    assert_eq!(
        s.send(s.carol, "let me in", None, Some(topic))
            .unwrap_err()
            .name,
        "TOPIC_CLOSED"
    );
    assert_eq!(
        s.world
            .send_message(
                s.carol,
                Peer::Channel(s.channel),
                OutgoingMessage {
                    topic: Some(topic),
                    ..OutgoingMessage::text("x")
                }
            )
            .unwrap_err()
            .name,
        "TOPIC_CLOSED"
    );
    s.send(s.alice, "owner speaks", None, Some(topic)).unwrap();
    s.world
        .edit_topic(
            s.alice,
            s.channel,
            topic,
            TopicEdit {
                closed: Some(false),
                ..TopicEdit::default()
            },
        )
        .unwrap();
    s.send(s.carol, "open again", None, Some(topic)).unwrap();
    // Hiding is for General only, and for those who manage topics.
    let hide = TopicEdit {
        hidden: Some(true),
        ..TopicEdit::default()
    };
    assert_eq!(
        s.edit(s.alice, topic, hide.clone()).unwrap_err().name,
        "TOPIC_ID_INVALID"
    );
    assert_eq!(
        s.edit(s.bob, GENERAL_TOPIC, hide.clone()).unwrap_err().name,
        "CHAT_ADMIN_REQUIRED"
    );
    let hidden = s.edit(s.alice, GENERAL_TOPIC, hide).unwrap();
    assert_eq!(
        header(&sent(&hidden)),
        None,
        "General's service messages carry no topic"
    );
    assert!(s.world.topic(s.channel, GENERAL_TOPIC).unwrap().hidden);
    // Pinning: an update without pts, to every member.
    let mut rx = s.world.subscribe();
    let before = s.pts();
    let pin = f::messages::UpdatePinnedForumTopic {
        peer: s.peer(s.alice),
        topic_id: topic,
        pinned: true,
    };
    let tl::enums::Updates::Updates(result) = call(&mut s.world, s.alice, &pin).unwrap() else {
        panic!("updates")
    };
    assert!(
        matches!(&result.updates[..], [tl::enums::Update::PinnedForumTopic(p)] if p.pinned && p.topic_id == topic)
    );
    assert_eq!(s.pts(), before);
    let pushed: Vec<UserId> = std::iter::from_fn(|| rx.try_recv().ok())
        .map(|p| p.account)
        .collect();
    assert!(pushed.contains(&s.bob) && pushed.contains(&s.carol));
    let pin = f::messages::UpdatePinnedForumTopic {
        peer: s.peer(s.bob),
        ..pin
    };
    assert_eq!(
        call(&mut s.world, s.bob, &pin).unwrap_err().name,
        "CHAT_ADMIN_REQUIRED"
    );
}

#[test]
fn topics_list_by_recency_with_pins_paging_search_and_ids() {
    let mut s = forum();
    let a = s.topic(s.alice, "Apples");
    let b = s.topic(s.alice, "Bananas");
    let c = s.topic(s.alice, "Cherries");
    for (topic, text) in [(b, "b"), (a, "a"), (c, "c"), (a, "a again")] {
        s.send(s.bob, text, None, Some(topic)).unwrap();
    }
    let ids = |t: &tl::types::messages::ForumTopics| {
        t.topics
            .iter()
            .map(|t| match t {
                tl::enums::ForumTopic::Topic(t) => t.id,
                tl::enums::ForumTopic::Deleted(t) => -t.id,
            })
            .collect::<Vec<_>>()
    };
    let first = s.topics(s.carol, None, 0, 2);
    assert_eq!(first.count, 4);
    assert_eq!(ids(&first), [a, c]);
    // Each topic's top message comes along, with its topic header.
    assert!(first
        .messages
        .iter()
        .any(|m| text_of(m) == "a again" && header(m) == Some((true, Some(a), None))));
    assert_eq!(first.pts, s.pts());
    let second = s.topics(s.carol, None, c, 2);
    assert_eq!(ids(&second), [b, GENERAL_TOPIC]);
    assert_eq!(ids(&s.topics(s.carol, Some("BAN"), 0, 10)), [b]);
    // A pinned topic comes first.
    s.world
        .pin_topic(s.alice, s.channel, GENERAL_TOPIC, true)
        .unwrap();
    assert_eq!(
        ids(&s.topics(s.carol, None, 0, 10)),
        [GENERAL_TOPIC, a, c, b]
    );
    // By id, in the order asked; unknown ids are deleted topics.
    let by_id = f::messages::GetForumTopicsById {
        peer: s.peer(s.carol),
        topics: vec![c, 4242, a],
    };
    let tl::enums::messages::ForumTopics::Topics(got) =
        call(&mut s.world, s.carol, &by_id).unwrap();
    assert_eq!(ids(&got), [c, -4242, a]);
    let tl::enums::ForumTopic::Topic(apples) = &got.topics[2] else {
        panic!("topic")
    };
    assert_eq!(
        apples.unread_count, 2,
        "Carol read nothing of Bob's two messages in Apples"
    );
}

#[test]
fn history_per_topic_and_the_channel_difference() {
    let mut s = forum();
    let topic = s.topic(s.alice, "T");
    let pts = s.pts();
    s.send(s.bob, "general 1", None, None).unwrap();
    s.send(s.bob, "topic 1", None, Some(topic)).unwrap();
    s.send(s.carol, "topic 2", None, Some(topic)).unwrap();
    s.world
        .edit_topic(
            s.alice,
            s.channel,
            topic,
            TopicEdit {
                title: Some("T2".into()),
                ..TopicEdit::default()
            },
        )
        .unwrap();
    let texts = |list: Vec<tl::enums::Message>| list.iter().map(text_of).collect::<Vec<_>>();
    // getReplies: newest first, the topic's root included.
    let in_topic = texts(s.replies(s.carol, topic));
    assert_eq!(in_topic.len(), 4);
    assert_eq!(&in_topic[1..3], ["topic 2", "topic 1"]);
    assert!(in_topic[0].contains("TopicEdit") && in_topic[3].contains("TopicCreate"));
    let general = texts(s.replies(s.carol, GENERAL_TOPIC));
    assert_eq!(general[0], "general 1");
    assert!(!general.iter().any(|t| t.starts_with("topic")));
    // messages.search narrowed by top_msg_id.
    let search = f::messages::Search {
        peer: s.peer(s.carol),
        q: "topic".into(),
        from_id: None,
        saved_peer_id: None,
        saved_reaction: None,
        top_msg_id: Some(topic),
        filter: tl::enums::MessagesFilter::InputMessagesFilterEmpty,
        min_date: 0,
        max_date: 0,
        offset_id: 0,
        add_offset: 0,
        limit: 10,
        max_id: 0,
        min_id: 0,
        hash: 0,
    };
    let tl::enums::messages::Messages::ChannelMessages(found) =
        call(&mut s.world, s.carol, &search).unwrap()
    else {
        panic!("channel messages")
    };
    assert_eq!(texts(found.messages), ["topic 2", "topic 1"]);
    // The channel's difference has every topic message and service message.
    let diff = f::updates::GetChannelDifference {
        force: false,
        channel: s.world.input_channel(s.channel, s.carol),
        filter: tl::enums::ChannelMessagesFilter::Empty,
        pts,
        limit: 100,
    };
    let tl::enums::updates::ChannelDifference::Difference(d) =
        call(&mut s.world, s.carol, &diff).unwrap()
    else {
        panic!("a difference")
    };
    assert_eq!(d.pts, s.pts());
    let got: Vec<_> = d
        .new_messages
        .iter()
        .map(|m| (text_of(m), header(m)))
        .collect();
    assert_eq!(got[0], ("general 1".to_string(), None));
    assert_eq!(
        got[1],
        ("topic 1".to_string(), Some((true, Some(topic), None)))
    );
    assert_eq!(
        got[2],
        ("topic 2".to_string(), Some((true, Some(topic), None)))
    );
    assert!(got[3].0.contains("TopicEdit") && got[3].1 == Some((true, Some(topic), None)));
}

#[test]
fn toggling_the_forum_flag_keeps_topics_and_tells_members() {
    let mut s = forum();
    let topic = s.topic(s.alice, "Kept");
    s.send(s.bob, "in topic", None, Some(topic)).unwrap();
    let toggle = |s: &Forum, by: UserId, enabled: bool| f::channels::ToggleForum {
        channel: s.world.input_channel(s.channel, by),
        enabled,
        tabs: false,
    };
    let request = toggle(&s, s.bob, false);
    assert_eq!(
        call(&mut s.world, s.bob, &request).unwrap_err().name,
        "CHAT_ADMIN_REQUIRED"
    );
    let mut rx = s.world.subscribe();
    let request = toggle(&s, s.alice, false);
    let tl::enums::Updates::Updates(result) = call(&mut s.world, s.alice, &request).unwrap() else {
        panic!("updates")
    };
    assert!(
        matches!(&result.updates[..], [tl::enums::Update::Channel(c)] if c.channel_id == s.channel)
    );
    assert!(matches!(&result.chats[..], [tl::enums::Chat::Channel(c)] if !c.forum));
    let pushed: Vec<UserId> = std::iter::from_fn(|| rx.try_recv().ok())
        .map(|p| p.account)
        .collect();
    assert!(pushed.contains(&s.bob));
    // No longer a forum: the topic is a plain thread of its first message.
    let history = s.replies(s.bob, topic);
    assert_eq!(header(&history[0]), Some((false, Some(topic), None)));
    let list = f::messages::GetForumTopics {
        peer: s.peer(s.bob),
        q: None,
        offset_date: 0,
        offset_id: 0,
        offset_topic: 0,
        limit: 10,
    };
    assert_eq!(
        call(&mut s.world, s.bob, &list).unwrap_err().name,
        "CHANNEL_FORUM_MISSING"
    );
    assert_eq!(
        header(&sent(&s.send(s.bob, "plain", None, None).unwrap())),
        None
    );
    // Back on: the topic is still there.
    let request = toggle(&s, s.alice, true);
    call(&mut s.world, s.alice, &request).unwrap();
    assert_eq!(s.topics(s.bob, None, 0, 10).count, 2);
    assert_eq!(
        header(&s.replies(s.bob, topic)[0]),
        Some((true, Some(topic), None))
    );
    // channels.createChannel with the forum flag makes a forum.
    let create = f::channels::CreateChannel {
        broadcast: false,
        megagroup: true,
        for_import: false,
        forum: true,
        title: "New forum".into(),
        about: String::new(),
        geo_point: None,
        address: None,
        ttl_period: None,
    };
    let tl::enums::Updates::Updates(created) = call(&mut s.world, s.bob, &create).unwrap() else {
        panic!("updates")
    };
    assert!(created
        .chats
        .iter()
        .any(|c| matches!(c, tl::enums::Chat::Channel(c) if c.forum && c.title == "New forum")));
}

#[test]
fn deleting_a_topic_deletes_its_messages() {
    let mut s = forum();
    let topic = s.topic(s.bob, "Doomed");
    s.send(s.carol, "bye", None, Some(topic)).unwrap();
    s.send(s.carol, "stays", None, None).unwrap();
    let before = s.pts();
    let delete = f::messages::DeleteTopicHistory {
        peer: s.peer(s.alice),
        top_msg_id: topic,
    };
    let tl::enums::messages::AffectedHistory::History(affected) =
        call(&mut s.world, s.alice, &delete).unwrap();
    assert_eq!(affected.pts, before + affected.pts_count);
    assert!(s.world.topic_history(s.alice, s.channel, topic).is_empty());
    assert_eq!(
        s.world
            .last_message(s.alice, Peer::Channel(s.channel))
            .unwrap()
            .text,
        "stays"
    );
    assert_eq!(
        s.send(s.carol, "x", None, Some(topic)).unwrap_err().name,
        "TOPIC_DELETED"
    );
    let by_id = f::messages::GetForumTopicsById {
        peer: s.peer(s.carol),
        topics: vec![topic],
    };
    let tl::enums::messages::ForumTopics::Topics(got) =
        call(&mut s.world, s.carol, &by_id).unwrap();
    assert!(matches!(
        got.topics[..],
        [tl::enums::ForumTopic::Deleted(_)]
    ));
    let delete = f::messages::DeleteTopicHistory {
        peer: s.peer(s.alice),
        top_msg_id: GENERAL_TOPIC,
    };
    assert_eq!(
        call(&mut s.world, s.alice, &delete).unwrap_err().name,
        "TOPIC_ID_INVALID"
    );
}
