//! The world through the real grammers client over TCP: dialogs, messages in
//! a private chat, a basic group, a supergroup and a channel, edits,
//! deletions, reactions, a file round trip, and gap recovery for the common
//! box and a channel.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{add_user, logged_in_client, user};
use fake_telegram::world::{MediaSpec, OutgoingMessage, Peer, UserId};
use fake_telegram::FakeTelegram;
use grammers_client::message::InputMessage;
use grammers_client::sender::UpdatesConfiguration;
use grammers_client::update::Update;
use grammers_client::Client;
use grammers_session::types::{PeerId, PeerRef};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(10);

/// The chats of one test: Alice (the client) and Bob (a world user) in a
/// private chat, a basic group, a supergroup and a channel Bob posts in.
struct Scene {
    fake: FakeTelegram,
    alice: UserId,
    bob: UserId,
    group: Peer,
    supergroup: Peer,
    channel: Peer,
}

async fn scene() -> (Scene, fake_telegram::seed::TestClient) {
    let fake = FakeTelegram::start().await;
    let (client, alice) = logged_in_client(&fake, user("Alice", "15550001")).await;
    let bob = add_user(&fake, user("Bob", "15550002"));
    let (group, supergroup, channel) = {
        let world = fake.world();
        let mut w = world.lock().unwrap();
        w.send_text(bob, Peer::User(alice), "hi alice").unwrap();
        let group = w.create_group(bob, "Basic", &[alice]).unwrap();
        let supergroup = w.create_supergroup(bob, "Super", &[alice]).unwrap();
        let channel = w.create_channel(bob, "News", "", true).unwrap();
        w.channel_invite(
            fake_telegram::world::Origin::control(bob),
            channel,
            &[alice],
        )
        .unwrap();
        (
            Peer::Chat(group),
            Peer::Channel(supergroup),
            Peer::Channel(channel),
        )
    };
    (
        Scene {
            fake,
            alice,
            bob,
            group,
            supergroup,
            channel,
        },
        client,
    )
}

/// Every dialog's peer ref, by world peer.
async fn dialog_refs(client: &Client) -> HashMap<Peer, PeerRef> {
    let mut refs = HashMap::new();
    let mut dialogs = client.iter_dialogs();
    while let Some(dialog) = dialogs.next().await.unwrap() {
        let r = dialog.peer_ref();
        let id = r.id.bare_id().unwrap();
        let peer = match r.id {
            id_ if id_ == PeerId::user_unchecked(id) => Peer::User(id),
            id_ if id_ == PeerId::chat_unchecked(id) => Peer::Chat(id),
            _ => Peer::Channel(id),
        };
        refs.insert(peer, r);
    }
    refs
}

/// Runs the client's update stream in a task (it only asks for the state
/// once polled) and hands its updates over a channel.
fn stream_updates(
    client: &mut fake_telegram::seed::TestClient,
    catch_up: bool,
) -> mpsc::UnboundedReceiver<Update> {
    let updates = client.take_updates().expect("updates not taken yet");
    let client = client.client.clone();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let config = UpdatesConfiguration { catch_up };
        let mut stream = client
            .stream_updates(updates, config)
            .await
            .expect("a stream");
        while let Ok(update) = stream.next().await {
            if tx.send(update).is_err() {
                break;
            }
        }
    });
    rx
}

/// Next update of the stream, with a deadline.
async fn next_update(stream: &mut mpsc::UnboundedReceiver<Update>) -> Update {
    tokio::time::timeout(WAIT, stream.recv())
        .await
        .expect("an update in time")
        .expect("the stream runs")
}

/// Collects the texts of the next `n` new messages.
async fn new_texts(stream: &mut mpsc::UnboundedReceiver<Update>, n: usize) -> Vec<String> {
    let mut texts = Vec::new();
    while texts.len() < n {
        let Ok(Some(update)) = tokio::time::timeout(WAIT, stream.recv()).await else {
            panic!("only {texts:?} of {n} new messages arrived");
        };
        if let Update::NewMessage(m) = update {
            if m.action().is_none() {
                texts.push(m.text().to_owned());
            }
        }
    }
    texts
}

#[tokio::test]
async fn dialogs_list_every_kind_of_chat() {
    let (s, client) = scene().await;
    let refs = dialog_refs(&client.client).await;
    let expected = [Peer::User(s.bob), s.group, s.supergroup, s.channel];
    for peer in expected {
        assert!(
            refs.contains_key(&peer),
            "missing dialog {peer:?} in {:?}",
            refs.keys()
        );
    }
    assert_eq!(refs.len(), 4);
}

#[tokio::test]
async fn sending_in_every_kind_of_chat_reaches_the_world() {
    let (s, client) = scene().await;
    let refs = dialog_refs(&client.client).await;
    for (peer, text) in [
        (Peer::User(s.bob), "to bob"),
        (s.group, "to group"),
        (s.supergroup, "to supergroup"),
    ] {
        let sent = client.client.send_message(refs[&peer], text).await.unwrap();
        let world = s.fake.world();
        let w = world.lock().unwrap();
        let mine = w.last_message(s.alice, peer).unwrap();
        assert_eq!(
            (mine.id, mine.text.as_str(), mine.out),
            (sent.id(), text, true)
        );
        // Bob sees the private chat under Alice's id.
        let bobs_peer = if peer == Peer::User(s.bob) {
            Peer::User(s.alice)
        } else {
            peer
        };
        let bobs = w.last_message(s.bob, bobs_peer).unwrap();
        assert_eq!((bobs.text.as_str(), bobs.from), (text, s.alice));
    }
    // Alice is not an admin of the broadcast channel.
    let err = client
        .client
        .send_message(refs[&s.channel], "nope")
        .await
        .unwrap_err();
    assert_eq!(
        common::rpc_error(&err).map(|e| e.1),
        Some("CHAT_WRITE_FORBIDDEN".to_string())
    );
}

#[tokio::test]
async fn live_messages_edits_and_deletions_arrive_as_updates() {
    let (s, mut client) = scene().await;
    dialog_refs(&client.client).await;
    let mut stream = stream_updates(&mut client, false);
    // Pushes start after the stream asked for the state.
    next_update_or_state(&s.fake).await;
    let world = s.fake.world();
    let bob_ids = {
        let mut w = world.lock().unwrap();
        let mut ids = Vec::new();
        for (peer, text) in [
            (Peer::User(s.alice), "p"),
            (s.group, "g"),
            (s.supergroup, "s"),
            (s.channel, "c"),
        ] {
            ids.push((peer, w.send_text(s.bob, peer, text).unwrap()));
        }
        ids
    };
    assert_eq!(new_texts(&mut stream, 4).await, ["p", "g", "s", "c"]);

    let (peer, id) = bob_ids[0];
    world
        .lock()
        .unwrap()
        .edit_text(s.bob, peer, id, "p edited")
        .unwrap();
    match next_update(&mut stream).await {
        Update::MessageEdited(m) => assert_eq!(m.text(), "p edited"),
        other => panic!("expected an edit, got {other:?}"),
    }
    let (peer, id) = bob_ids[3];
    world
        .lock()
        .unwrap()
        .delete(s.bob, peer, &[id], true)
        .unwrap();
    match next_update(&mut stream).await {
        Update::MessageDeleted(d) => {
            assert_eq!(d.messages(), [id]);
            assert_eq!(d.channel_id(), Some(id_of(s.channel)));
        }
        other => panic!("expected a deletion, got {other:?}"),
    }
}

/// One live message in the private chat and one in each channel: the
/// client's update box learns every pts before the gap (grammers takes the
/// first update of a channel it has no pts for as is).
async fn warm_up(s: &Scene, stream: &mut mpsc::UnboundedReceiver<Update>) {
    {
        let world = s.fake.world();
        let mut w = world.lock().unwrap();
        w.send_text(s.bob, Peer::User(s.alice), "warm private")
            .unwrap();
        w.send_text(s.bob, s.supergroup, "warm supergroup").unwrap();
        w.send_text(s.bob, s.channel, "warm channel").unwrap();
    }
    assert_eq!(
        new_texts(stream, 3).await,
        ["warm private", "warm supergroup", "warm channel"]
    );
}

async fn next_update_or_state(fake: &FakeTelegram) {
    fake.wait_for_calls("updates.getState", 1, WAIT)
        .await
        .expect("the stream asks for the state");
}

fn id_of(peer: Peer) -> i64 {
    match peer {
        Peer::User(id) | Peer::Chat(id) | Peer::Channel(id) => id,
    }
}

#[tokio::test]
async fn reactions_and_edits_from_the_client_change_the_world() {
    let (s, client) = scene().await;
    let refs = dialog_refs(&client.client).await;
    let bob = refs[&Peer::User(s.bob)];
    let sent = client.client.send_message(bob, "typo").await.unwrap();
    client
        .client
        .edit_message(bob, sent.id(), "fixed")
        .await
        .unwrap();
    let mut history = client.client.iter_messages(bob);
    let first = history.next().await.unwrap().unwrap();
    assert_eq!((first.id(), first.text()), (sent.id(), "fixed"));
    let incoming = history.next().await.unwrap().unwrap();
    assert_eq!(incoming.text(), "hi alice");
    client
        .client
        .send_reactions(bob, incoming.id(), "❤")
        .await
        .unwrap();
    client
        .client
        .delete_messages(bob, &[sent.id()])
        .await
        .unwrap();
    let world = s.fake.world();
    let w = world.lock().unwrap();
    let bobs = w.history(s.bob, Peer::User(s.alice));
    assert_eq!(bobs.len(), 1, "deleted for both sides: {bobs:?}");
    assert_eq!(bobs[0].reactions, vec![(s.alice, "❤".to_string())]);
}

#[tokio::test]
async fn files_round_trip_through_upload_and_download() {
    let (s, client) = scene().await;
    let refs = dialog_refs(&client.client).await;
    let bytes: Vec<u8> = (0..700_000u32)
        .map(|i| (i.wrapping_mul(31) % 256) as u8)
        .collect();
    let uploaded = client
        .client
        .upload_stream(&mut bytes.as_slice(), bytes.len(), "blob.bin".into())
        .await
        .unwrap();
    let sent = client
        .client
        .send_message(
            refs[&Peer::User(s.bob)],
            InputMessage::new().text("file").document(uploaded),
        )
        .await
        .unwrap();
    let seen = s
        .fake
        .world()
        .lock()
        .unwrap()
        .last_message(s.bob, Peer::User(s.alice))
        .unwrap();
    assert_eq!(
        seen.media_bytes.as_deref(),
        Some(bytes.as_slice()),
        "the world holds the uploaded bytes"
    );

    let media = sent.media().expect("the sent message has media");
    let mut download = client.client.iter_download(&media);
    let mut got = Vec::new();
    while let Some(chunk) = download.next().await.unwrap() {
        got.extend(chunk);
    }
    assert_eq!(got, bytes);

    // A photo Bob sends downloads too.
    let png = tiny_png();
    s.fake
        .world()
        .lock()
        .unwrap()
        .send_message(
            s.bob,
            Peer::User(s.alice),
            OutgoingMessage {
                media: Some(MediaSpec::Photo { bytes: png.clone() }),
                ..OutgoingMessage::text("pic")
            },
        )
        .unwrap();
    let message = client
        .client
        .iter_messages(refs[&Peer::User(s.bob)])
        .next()
        .await
        .unwrap()
        .unwrap();
    let media = message.media().expect("a photo");
    let mut download = client.client.iter_download(&media);
    let mut got = Vec::new();
    while let Some(chunk) = download.next().await.unwrap() {
        got.extend(chunk);
    }
    assert_eq!(got, png);
}

fn tiny_png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend(3u32.to_be_bytes());
    png.extend(2u32.to_be_bytes());
    png.extend([8, 2, 0, 0, 0]);
    png
}

#[tokio::test]
async fn withheld_pushes_are_recovered_without_loss_or_duplicates() {
    let (s, mut client) = scene().await;
    dialog_refs(&client.client).await;
    let mut stream = stream_updates(&mut client, false);
    next_update_or_state(&s.fake).await;
    let world = s.fake.world();
    warm_up(&s, &mut stream).await;
    s.fake.withhold_pushes(true);
    {
        let mut w = world.lock().unwrap();
        w.send_text(s.bob, Peer::User(s.alice), "lost 1").unwrap();
        w.send_text(s.bob, s.supergroup, "lost 2").unwrap();
        w.send_text(s.bob, Peer::User(s.alice), "lost 3").unwrap();
        w.send_text(s.bob, s.supergroup, "lost 4").unwrap();
    }
    // Pushes are dropped when delivered; give the delivery task time to drop these.
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.fake.withhold_pushes(false);
    {
        // These pushes arrive with a pts gap, so the client fetches the difference.
        let mut w = world.lock().unwrap();
        w.send_text(s.bob, Peer::User(s.alice), "seen 5").unwrap();
        w.send_text(s.bob, s.supergroup, "seen 6").unwrap();
    }
    let mut texts = new_texts(&mut stream, 6).await;
    texts.sort();
    assert_eq!(
        texts,
        ["lost 1", "lost 2", "lost 3", "lost 4", "seen 5", "seen 6"]
    );
    // Nothing more (no duplicates) arrives.
    let extra = tokio::time::timeout(Duration::from_millis(1500), stream.recv()).await;
    if let Ok(Some(Update::NewMessage(m))) = extra {
        panic!("duplicate message {:?}", m.text());
    }
    assert!(s.fake.call_count("updates.getDifference") >= 1);
    assert!(s.fake.call_count("updates.getChannelDifference") >= 1);
}

#[tokio::test]
async fn dropped_connections_catch_up_common_box_and_channel() {
    let (s, mut client) = scene().await;
    dialog_refs(&client.client).await;
    let mut stream = stream_updates(&mut client, false);
    next_update_or_state(&s.fake).await;
    warm_up(&s, &mut stream).await;
    s.fake.withhold_pushes(true);
    s.fake.drop_connections();
    {
        let world = s.fake.world();
        let mut w = world.lock().unwrap();
        w.send_text(s.bob, Peer::User(s.alice), "while away")
            .unwrap();
        w.send_text(s.bob, s.channel, "channel while away").unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.fake.withhold_pushes(false);
    let mut texts = new_texts(&mut stream, 2).await;
    texts.sort();
    assert_eq!(texts, ["channel while away", "while away"]);
}

#[tokio::test]
async fn many_dialogs_page_without_gaps_or_repeats() {
    let fake = FakeTelegram::start().await;
    let (client, alice) = logged_in_client(&fake, user("Alice", "15550001")).await;
    {
        let world = fake.world();
        let mut w = world.lock().unwrap();
        for i in 0..230 {
            let other = w.add_user(user(&format!("U{i}"), &format!("1666{i:04}")));
            w.send_text(other, Peer::User(alice), "hello").unwrap();
        }
        let first = w.users()[1].id;
        w.set_dialog_pinned(alice, Peer::User(first), true);
    }
    let mut seen = Vec::new();
    let mut dialogs = client.client.iter_dialogs();
    while let Some(dialog) = dialogs.next().await.unwrap() {
        seen.push(dialog.peer_id());
    }
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (230, 230));
    assert!(
        fake.call_count("messages.getDialogs") >= 3,
        "fetched in pages of 100"
    );
}

/// The topic a message names in its reply header: `(forum_topic,
/// reply_to_msg_id, reply_to_top_id)`.
fn topic_header(
    raw: &grammers_tl_types::enums::Message,
) -> Option<(bool, Option<i32>, Option<i32>)> {
    use grammers_tl_types::enums::{Message, MessageReplyHeader};
    let reply_to = match raw {
        Message::Message(m) => m.reply_to.as_ref(),
        Message::Service(m) => m.reply_to.as_ref(),
        Message::Empty(_) => None,
    };
    match reply_to? {
        MessageReplyHeader::Header(h) => {
            Some((h.forum_topic, h.reply_to_msg_id, h.reply_to_top_id))
        }
        MessageReplyHeader::MessageReplyStoryHeader(_) => None,
    }
}

#[tokio::test]
async fn the_client_sends_into_a_topic_and_reads_it_back() {
    use grammers_tl_types::{self as tl, functions as f};
    let (s, mut client) = scene().await;
    let (forum, topic) = {
        let world = s.fake.world();
        let mut w = world.lock().unwrap();
        let forum = w.create_forum(s.bob, "Forum", &[s.alice]).unwrap();
        let topic = w.create_topic(s.bob, forum, "Topic", None, None).unwrap();
        (forum, topic)
    };
    let refs = dialog_refs(&client.client).await;
    let forum_ref = refs[&Peer::Channel(forum)];
    let mut stream = stream_updates(&mut client, false);
    next_update_or_state(&s.fake).await;
    warm_up(&s, &mut stream).await;

    // Into the topic with top_msg_id, as the protocol documents it.
    let request = f::messages::SendMessage {
        no_webpage: false,
        silent: false,
        background: false,
        clear_draft: false,
        noforwards: false,
        update_stickersets_order: false,
        invert_media: false,
        allow_paid_floodskip: false,
        peer: forum_ref.into(),
        reply_to: Some(
            tl::types::InputReplyToMessage {
                reply_to_msg_id: topic,
                top_msg_id: Some(topic),
                reply_to_peer_id: None,
                quote_text: None,
                quote_entities: None,
                quote_offset: None,
                monoforum_peer_id: None,
                todo_item_id: None,
                poll_option: None,
            }
            .into(),
        ),
        message: "with top_msg_id".into(),
        random_id: 77,
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
    client.client.invoke(&request).await.unwrap();
    // grammers' own reply to the topic's root lands in the topic too.
    let sent = client
        .client
        .send_message(
            forum_ref,
            InputMessage::new()
                .text("reply to root")
                .reply_to(Some(topic)),
        )
        .await
        .unwrap();
    assert_eq!(topic_header(&sent.raw), Some((true, Some(topic), None)));
    // Bob answers in the topic; the live update names the topic and the reply.
    {
        let world = s.fake.world();
        let mut w = world.lock().unwrap();
        let message = OutgoingMessage {
            reply_to: Some(sent.id()),
            ..OutgoingMessage::text("bob answers")
        };
        w.send_message(s.bob, Peer::Channel(forum), message)
            .unwrap();
    }
    let answer = loop {
        if let Update::NewMessage(m) = next_update(&mut stream).await {
            if m.text() == "bob answers" {
                break m;
            }
        }
    };
    assert_eq!(
        topic_header(&answer.into_inner().raw),
        Some((true, Some(sent.id()), Some(topic)))
    );

    // The topic's history, as the client reads it.
    let replies = f::messages::GetReplies {
        peer: forum_ref.into(),
        msg_id: topic,
        offset_id: 0,
        offset_date: 0,
        add_offset: 0,
        limit: 50,
        max_id: 0,
        min_id: 0,
        hash: 0,
    };
    let tl::enums::messages::Messages::ChannelMessages(history) =
        client.client.invoke(&replies).await.unwrap()
    else {
        panic!("channel messages")
    };
    let texts: Vec<String> = history
        .messages
        .iter()
        .filter_map(|m| match m {
            tl::enums::Message::Message(m) => Some(m.message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["bob answers", "reply to root", "with top_msg_id"]);
    let topics = f::messages::GetForumTopics {
        peer: forum_ref.into(),
        q: None,
        offset_date: 0,
        offset_id: 0,
        offset_topic: 0,
        limit: 10,
    };
    let tl::enums::messages::ForumTopics::Topics(list) =
        client.client.invoke(&topics).await.unwrap();
    let titles: Vec<(i32, String)> = list
        .topics
        .iter()
        .filter_map(|t| match t {
            tl::enums::ForumTopic::Topic(t) => Some((t.id, t.title.clone())),
            tl::enums::ForumTopic::Deleted(_) => None,
        })
        .collect();
    assert_eq!(
        titles,
        [(topic, "Topic".to_string()), (1, "General".to_string())]
    );
    let world = s.fake.world();
    let w = world.lock().unwrap();
    let mine: Vec<_> = w
        .topic_history(s.bob, forum, topic)
        .into_iter()
        .filter(|m| m.from == s.alice)
        .map(|m| m.text)
        .collect();
    assert_eq!(mine, ["with top_msg_id", "reply to root"]);
}
