//! End to end, forum supergroups: the bridge binary logged into the fake
//! Telegram datacenter next to a real homeserver (each scenario runs on
//! Synapse and on Conduit). A forum's General topic is its portal; every
//! other topic gets a room of its own, filled with the topic's history when
//! it opens. Messages, replies, edits, reactions and deletions in two
//! topics land in their topic's room; a topic created, renamed, closed and
//! reopened on Telegram shows in its room; what the owner writes (or
//! answers) in a topic's room reaches that topic on Telegram.

mod appservice_support;

use std::time::Duration;

use appservice_support::telegram::wait_for_log;
use appservice_support::telegram::PNG;
use appservice_support::telegram::{
    configure, portal_of, start_logged_in, state, user, NO_HISTORY,
};
use appservice_support::{command, expect_event, is_notice_from, management_room_of, try_state};
use appservice_support::{download, eventually, message_in, poll_until, timeline};
use appservice_support::{
    shared_homeserver, sync_position, typing_after, BridgeInstance, Bridges, EVENT_TIMEOUT,
};
use fake_telegram::world::{ChannelId, Origin, OutgoingMessage, Peer, TopicEdit, UserId};
use fake_telegram::FakeTelegram;
use grammers_session::types::{PeerId, UpdateState, UpdatesState};
use grammers_session::Session as _;
use serde_json::{json, Value};
use testkit::{Homeserver, HomeserverKind, HomeserverOptions, Method, SharedHomeserver, TestUser};
use tgbridge::store::{Portal, Store};

static SERVERS: SharedHomeserver<Bridges> = SharedHomeserver::new();

async fn server(kind: HomeserverKind) -> (&'static Homeserver, &'static Bridges) {
    shared_homeserver(
        &SERVERS,
        kind,
        &[
            "frm", "frn", "fro", "frt", "fsy", "ftg", "frs", "frc", "fra", "fri", "frh", "frr",
            "frx", "fru",
        ],
        HomeserverOptions::default(),
        |_, _| {},
    )
    .await
}

on_both_servers!(
    forum_history_and_messages_land_in_their_topic_rooms,
    topics_renamed_closed_and_reopened_on_telegram_follow_in_their_rooms,
    what_the_owner_writes_in_a_topic_room_reaches_that_topic,
    a_thread_message_answers_the_threads_latest_message_or_its_root,
    a_sync_opens_the_most_recent_topics_in_the_forums_space,
    a_group_turning_into_a_forum_and_back_keeps_its_room,
    a_crash_mid_burst_across_two_topics_bridges_each_message_once,
    a_closed_topics_room_is_read_only_for_a_member_until_it_reopens,
    an_admin_owner_still_writes_in_a_closed_topics_room,
    a_topics_custom_emoji_icon_is_its_rooms_avatar,
    a_topic_rooms_history_is_the_topics_however_busy_the_forum,
    typing_and_read_marks_follow_the_topic_both_ways,
    a_topic_deleted_on_telegram_closes_its_room,
    unbridge_delete_portal_and_id_in_a_topic_room_act_on_that_topic,
);

/// The room of topic `topic` once the bridge opened it (up to 30 s).
async fn topic_room(store: &Store, forum: PeerId, topic: i32, bridge: &BridgeInstance) -> Portal {
    poll_until(
        &format!("the room of topic {topic}"),
        bridge,
        Duration::from_secs(30),
        || store.portals().topic(forum, topic).unwrap(),
    )
    .await
}

/// A check on a synced event, named for the failure message.
type Check<'a> = (&'a str, &'a dyn Fn(&Value) -> bool);

/// Waits until the owner's `/sync` has shown an event for every check (in
/// any order and any batches); returns them in the order of the checks.
async fn expect_all(owner: &TestUser, bridge: &BridgeInstance, checks: &[Check<'_>]) -> Vec<Value> {
    let mut found: Vec<Option<Value>> = vec![None; checks.len()];
    while found.iter().any(Option::is_none) {
        let result = owner
            .sync_until(
                |event| {
                    let mut hit = false;
                    for (slot, (_, check)) in found.iter_mut().zip(checks) {
                        if slot.is_none() && check(event) {
                            *slot = Some(event.clone());
                            hit = true;
                        }
                    }
                    hit
                },
                EVENT_TIMEOUT,
            )
            .await;
        if let Err(error) = result {
            let missing: Vec<&str> = checks
                .iter()
                .zip(&found)
                .filter(|(_, slot)| slot.is_none())
                .map(|((what, _), _)| *what)
                .collect();
            panic!("{missing:?}: {error}\n{}", bridge.log_tail());
        }
    }
    found.into_iter().flatten().collect()
}

/// Joins `room` as the owner (they may already be in it).
async fn join(owner: &TestUser, room: &str) {
    let _ = owner.join(room).await;
}

/// The owner's messages in topic `topic` as Telegram shows them.
fn owner_texts_in(fake: &FakeTelegram, alice: UserId, forum: i64, topic: i32) -> Vec<String> {
    fake.world()
        .lock()
        .unwrap()
        .topic_history(alice, forum, topic)
        .into_iter()
        .filter(|m| m.out && m.service.is_none())
        .map(|m| m.text)
        .collect()
}

/// The "Pets" forum of the topic scenarios: Bob's forum with Alice (the
/// owner) and Carol, a Cats topic with a message from before the bridge
/// started, and the bridge running with the General and Cats rooms open and
/// joined by the owner.
struct Pets {
    bridge: BridgeInstance,
    fake: FakeTelegram,
    owner: TestUser,
    store: Store,
    alice: UserId,
    bob: UserId,
    carol: UserId,
    forum_id: i64,
    peer: PeerId,
    cats: i32,
    general: String,
    cats_room: String,
}

impl Pets {
    async fn start(kind: HomeserverKind, prefix: &str) -> Pets {
        Pets::start_as(kind, prefix, false).await
    }

    /// [`Pets::start`], the owner an admin of the forum when `admin`.
    async fn start_as(kind: HomeserverKind, prefix: &str, admin: bool) -> Pets {
        let (server, bridges) = server(kind).await;
        let mut bridge = bridges.take(prefix);
        configure(
            &bridge,
            "  initial_history:\n    private: 0\n    group: 10\n    channel: 0\n",
        );
        let fake = FakeTelegram::start().await;
        let (alice, bob, carol, forum_id, cats) = {
            let shared = fake.world();
            let mut w = shared.lock().unwrap();
            let alice = w.add_user(user("Alice", "15550001"));
            let bob = w.add_user(user("Bob", "15550002"));
            let carol = w.add_user(user("Carol", "15550003"));
            let forum_id = w.create_forum(bob, "Pets", &[alice, carol]).unwrap();
            let cats = w.create_topic(bob, forum_id, "Cats", None, None).unwrap();
            w.send_text(bob, Peer::Channel(forum_id), "general before")
                .unwrap();
            let old = OutgoingMessage {
                topic: Some(cats),
                ..OutgoingMessage::text("cat before")
            };
            w.send_message(carol, Peer::Channel(forum_id), old).unwrap();
            if admin {
                let rights = fake_telegram::world::chats::all_admin_rights();
                w.promote(Origin::control(bob), forum_id, alice, rights, None)
                    .unwrap();
            }
            (alice, bob, carol, forum_id, cats)
        };
        let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
        let store = Store::open(&bridge.database_path).unwrap();
        let peer = PeerId::channel(forum_id).unwrap();
        let general = portal_of(&store, peer, &bridge).await.room_id.to_string();
        join(&owner, &general).await;
        let cats_room = topic_room(&store, peer, cats, &bridge).await;
        let cats_room = cats_room.room_id.to_string();
        join(&owner, &cats_room).await;
        Pets {
            bridge,
            fake,
            owner,
            store,
            alice,
            bob,
            carol,
            forum_id,
            peer,
            cats,
            general,
            cats_room,
        }
    }

    fn forum(&self) -> Peer {
        Peer::Channel(self.forum_id)
    }

    /// Runs `f` on the fake datacenter's world.
    fn tg<T>(&self, f: impl FnOnce(&mut fake_telegram::world::World) -> T) -> T {
        let shared = self.fake.world();
        let mut w = shared.lock().unwrap();
        f(&mut w)
    }

    /// Sends `text` as `from` into `topic`; returns its id in `from`'s numbering.
    fn send_in(&self, from: UserId, topic: i32, text: &str) -> i32 {
        let message = OutgoingMessage {
            topic: Some(topic),
            ..OutgoingMessage::text(text)
        };
        let forum = self.forum();
        self.tg(|w| w.send_message(from, forum, message).unwrap())
    }

    /// A topic created on Telegram by Carol, once its room is open and
    /// joined by the owner: its id and room.
    async fn new_topic(&self, title: &str) -> (i32, String) {
        let (carol, forum_id) = (self.carol, self.forum_id);
        let topic = self.tg(|w| w.create_topic(carol, forum_id, title, None, None).unwrap());
        let room = topic_room(&self.store, self.peer, topic, &self.bridge).await;
        let room = room.room_id.to_string();
        join(&self.owner, &room).await;
        (topic, room)
    }

    /// Bob's "meow" in Cats and Carol's reply "purr", once both are in the
    /// Cats room: their Telegram ids (Bob's numbering for meow) and events.
    async fn meow_and_purr(&self) -> (i32, Value, Value) {
        let meow = self.send_in(self.bob, self.cats, "meow");
        let meow_event = expect_event(&self.owner, &self.bridge, "meow in Cats", |e| {
            message_in(e, &self.cats_room, "meow")
        })
        .await;
        let reply = OutgoingMessage {
            reply_to: Some(meow),
            ..OutgoingMessage::text("purr")
        };
        let (carol, forum) = (self.carol, self.forum());
        self.tg(|w| w.send_message(carol, forum, reply).unwrap());
        let purr = expect_event(&self.owner, &self.bridge, "a reply in Cats", |e| {
            message_in(e, &self.cats_room, "purr")
        })
        .await;
        (meow, meow_event, purr)
    }

    /// The owner's messages in `topic` as Telegram shows them.
    fn owner_texts_in(&self, topic: i32) -> Vec<String> {
        owner_texts_in(&self.fake, self.alice, self.forum_id, topic)
    }

    /// The owner sends `content` into `room`.
    async fn owner_sends(&self, room: &str, content: Value) {
        self.owner
            .send_event(room, "m.room.message", &content)
            .await
            .unwrap();
    }
}

async fn forum_history_and_messages_land_in_their_topic_rooms(kind: HomeserverKind) {
    let _log = server(kind).await.0.log_on_panic();
    let mut t = Pets::start(kind, "frm").await;
    let (owner, bridge) = (&t.owner, &t.bridge);
    // The sync opened the Cats room with its history; General kept only
    // its own.
    assert_eq!(
        state(owner, &t.cats_room, "m.room.name", "").await["name"],
        "Cats"
    );
    expect_event(owner, bridge, "topic history", |e| {
        message_in(e, &t.cats_room, "cat before")
    })
    .await;
    let general_bodies: Vec<Value> = timeline(owner, &t.general)
        .await
        .into_iter()
        .map(|e| e["content"]["body"].clone())
        .collect();
    assert!(
        general_bodies.contains(&json!("general before")),
        "{general_bodies:?}"
    );
    assert!(
        !general_bodies.contains(&json!("cat before")),
        "{general_bodies:?}"
    );

    // A topic created on Telegram gets its room; its messages go there.
    let (dogs, dogs_room) = t.new_topic("Dogs").await;
    let woof = t.send_in(t.bob, dogs, "woof");
    let meow = t.send_in(t.bob, t.cats, "meow");
    let forum = t.forum();
    let bob = t.bob;
    t.tg(|w| w.send_text(bob, forum, "general live").unwrap());
    let events = expect_all(
        owner,
        bridge,
        &[
            ("a message in Dogs", &|e| message_in(e, &dogs_room, "woof")),
            ("a message in Cats", &|e| {
                message_in(e, &t.cats_room, "meow")
            }),
            ("a message in General", &|e| {
                message_in(e, &t.general, "general live")
            }),
        ],
    )
    .await;
    let (woof_event, meow_event) = (events[0].clone(), events[1].clone());
    // A plain topic message is no Matrix reply; an answer inside the topic is.
    assert!(
        meow_event["content"].get("m.relates_to").is_none(),
        "{meow_event}"
    );
    let reply = OutgoingMessage {
        reply_to: Some(meow),
        ..OutgoingMessage::text("purr")
    };
    let carol = t.carol;
    t.tg(|w| w.send_message(carol, forum, reply).unwrap());
    let purr = expect_event(owner, bridge, "a reply in Cats", |e| {
        message_in(e, &t.cats_room, "purr")
    })
    .await;
    assert_eq!(
        purr["content"]["m.relates_to"]["m.in_reply_to"]["event_id"],
        meow_event["event_id"]
    );
    // Edits, reactions and deletions follow the message into its room.
    t.tg(|w| {
        w.edit_text(bob, forum, meow, "meow!").unwrap();
        w.react(carol, forum, meow, Some("👍")).unwrap();
        w.delete(bob, forum, &[woof], true).unwrap();
    });
    expect_all(
        owner,
        bridge,
        &[
            ("the edit in Cats", &|e| {
                message_in(e, &t.cats_room, "* meow!")
            }),
            ("the reaction in Cats", &|e| {
                e["room_id"] == t.cats_room.as_str()
                    && e["type"] == "m.reaction"
                    && e["content"]["m.relates_to"]["event_id"] == meow_event["event_id"]
            }),
            ("the deletion in Dogs", &|e| {
                e["room_id"] == dogs_room.as_str()
                    && e["type"] == "m.room.redaction"
                    && e["redacts"] == woof_event["event_id"]
            }),
        ],
    )
    .await;
    // A pin on Telegram pins the message in its own topic's room.
    t.tg(|w| w.pin(bob, forum, meow, true).unwrap());
    let pins_path =
        |room: &str| format!("/_matrix/client/v3/rooms/{room}/state/m.room.pinned_events/");
    eventually(bridge, "the pin in Cats", || async {
        let pins = owner
            .api()
            .ok(Method::GET, &pins_path(&t.cats_room), None)
            .await
            .ok()?;
        (pins["pinned"] == json!([meow_event["event_id"]])).then_some(())
    })
    .await;
    assert!(
        owner
            .api()
            .ok(Method::GET, &pins_path(&t.general), None)
            .await
            .is_err(),
        "General has no pins"
    );
    t.bridge.terminate();
}

async fn topics_renamed_closed_and_reopened_on_telegram_follow_in_their_rooms(
    kind: HomeserverKind,
) {
    let _log = server(kind).await.0.log_on_panic();
    let mut t = Pets::start(kind, "frn").await;
    let (dogs, dogs_room) = t.new_topic("Dogs").await;
    let (forum_id, cats, bob, carol) = (t.forum_id, t.cats, t.bob, t.carol);
    t.tg(|w| {
        let rename = TopicEdit {
            title: Some("Wolves".into()),
            ..TopicEdit::default()
        };
        w.edit_topic(carol, forum_id, dogs, rename).unwrap();
        let close = TopicEdit {
            closed: Some(true),
            ..TopicEdit::default()
        };
        w.edit_topic(bob, forum_id, cats, close).unwrap();
    });
    poll_until(
        "the Dogs room renamed",
        &t.bridge,
        Duration::from_secs(30),
        || {
            let title = t.store.portals().topic(t.peer, dogs).unwrap()?.title?;
            (title == "Wolves").then_some(())
        },
    )
    .await;
    assert_eq!(
        state(&t.owner, &dogs_room, "m.room.name", "").await["name"],
        "Wolves"
    );
    let bob_ghost = format!("@frntg_{bob}:localhost");
    expect_event(&t.owner, &t.bridge, "the closed notice", |e| {
        e["room_id"] == t.cats_room.as_str() && is_notice_from(e, &bob_ghost, "Closed the topic")
    })
    .await;
    t.tg(|w| {
        let reopen = TopicEdit {
            closed: Some(false),
            ..TopicEdit::default()
        };
        w.edit_topic(bob, forum_id, cats, reopen).unwrap();
    });
    expect_event(&t.owner, &t.bridge, "the reopened notice", |e| {
        e["room_id"] == t.cats_room.as_str() && is_notice_from(e, &bob_ghost, "Reopened the topic")
    })
    .await;
    t.bridge.terminate();
}

async fn what_the_owner_writes_in_a_topic_room_reaches_that_topic(kind: HomeserverKind) {
    let _log = server(kind).await.0.log_on_panic();
    let mut t = Pets::start(kind, "fro").await;
    let (dogs, _) = t.new_topic("Dogs").await;
    let (_, _, purr) = t.meow_and_purr().await;
    let purr_id = purr["event_id"].as_str().unwrap();
    t.owner_sends(
        &t.cats_room,
        json!({ "msgtype": "m.text", "body": "from matrix" }),
    )
    .await;
    t.owner_sends(
        &t.cats_room,
        json!({
            "msgtype": "m.text",
            "body": "> <@x:localhost> purr\n\nanswer",
            "m.relates_to": { "m.in_reply_to": { "event_id": purr_id } },
        }),
    )
    .await;
    t.owner_sends(
        &t.general,
        json!({ "msgtype": "m.text", "body": "to general" }),
    )
    .await;
    poll_until(
        "the owner's messages in Cats",
        &t.bridge,
        Duration::from_secs(30),
        || (t.owner_texts_in(t.cats) == ["from matrix", "answer"]).then_some(()),
    )
    .await;
    poll_until(
        "the owner's message in General",
        &t.bridge,
        Duration::from_secs(30),
        || (t.owner_texts_in(1) == ["to general"]).then_some(()),
    )
    .await;
    let (alice, forum_id, cats) = (t.alice, t.forum_id, t.cats);
    let history = t.tg(|w| w.topic_history(alice, forum_id, cats));
    let answer = history.iter().find(|m| m.text == "answer").unwrap();
    let purr_tg = history.iter().find(|m| m.text == "purr").unwrap();
    assert_eq!(
        answer.reply_to,
        Some(purr_tg.id),
        "the answer replies to purr on Telegram"
    );

    // Nothing the owner sent comes back as a second event.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let echoes = timeline(&t.owner, &t.cats_room)
        .await
        .into_iter()
        .filter(|e| e["content"]["body"] == "from matrix")
        .count();
    assert_eq!(echoes, 1);
    assert!(t.owner_texts_in(dogs).is_empty());
    t.bridge.terminate();
}

async fn a_thread_message_answers_the_threads_latest_message_or_its_root(kind: HomeserverKind) {
    let _log = server(kind).await.0.log_on_panic();
    let mut t = Pets::start(kind, "frt").await;
    let (meow, meow_event, purr) = t.meow_and_purr().await;
    let purr_id = purr["event_id"].as_str().unwrap();
    // A message in a Matrix thread answers the thread's latest message
    // (its fallback reply), or the root when that one is unknown.
    let meow_id = meow_event["event_id"].as_str().unwrap();
    for (body, latest) in [
        ("> <@x:localhost> purr\n\nin the thread", purr_id),
        ("thread fallback", "$never-bridged:localhost"),
    ] {
        t.owner_sends(
            &t.cats_room,
            json!({
                "msgtype": "m.text",
                "body": body,
                "m.relates_to": {
                    "rel_type": "m.thread",
                    "event_id": meow_id,
                    "is_falling_back": true,
                    "m.in_reply_to": { "event_id": latest },
                },
            }),
        )
        .await;
    }
    poll_until(
        "the thread messages in Cats",
        &t.bridge,
        Duration::from_secs(30),
        || (t.owner_texts_in(t.cats).len() == 2).then_some(()),
    )
    .await;
    let (alice, forum_id, cats) = (t.alice, t.forum_id, t.cats);
    let history = t.tg(|w| w.topic_history(alice, forum_id, cats));
    let purr_tg = history.iter().find(|m| m.text == "purr").unwrap();
    let threaded = history.iter().find(|m| m.text == "in the thread").unwrap();
    assert_eq!(threaded.reply_to, Some(purr_tg.id));
    let fallback = history
        .iter()
        .find(|m| m.text == "thread fallback")
        .unwrap();
    assert_eq!(
        fallback.reply_to,
        Some(meow),
        "the root when the latest is unknown"
    );
    t.bridge.terminate();
}

async fn a_sync_opens_the_most_recent_topics_in_the_forums_space(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("fsy");
    configure(
        &bridge,
        "  max_topic_rooms_per_sync: 2\n  initial_history:\n    private: 0\n    group: 5\n    channel: 0\n",
    );
    let fake = FakeTelegram::start().await;
    let shared = fake.world();
    let (alice, bob, forum_id, topics) = {
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550001"));
        let bob = w.add_user(user("Bob", "15550002"));
        let forum_id = w.create_forum(bob, "Big forum", &[alice]).unwrap();
        let topics: Vec<i32> = ["One", "Two", "Three", "Four"]
            .iter()
            .map(|title| w.create_topic(bob, forum_id, title, None, None).unwrap())
            .collect();
        // Activity order, oldest first: Four, One, Three, Two.
        for &topic in [topics[3], topics[0], topics[2], topics[1]].iter() {
            let message = OutgoingMessage {
                topic: Some(topic),
                ..OutgoingMessage::text("hello")
            };
            w.send_message(bob, Peer::Channel(forum_id), message)
                .unwrap();
        }
        (alice, bob, forum_id, topics)
    };
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
    let store = Store::open(&bridge.database_path).unwrap();
    let peer = PeerId::channel(forum_id).unwrap();
    let general = portal_of(&store, peer, &bridge).await;
    // The two most recently active topics (Two, then Three) get rooms.
    let two = topic_room(&store, peer, topics[1], &bridge).await;
    let three = topic_room(&store, peer, topics[2], &bridge).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let opened: Vec<i32> = store
        .portals()
        .topics(peer)
        .unwrap()
        .iter()
        .filter_map(|p| p.topic)
        .collect();
    assert_eq!(opened, [topics[1], topics[2]]);
    // They live in the forum's space, named after the forum, which holds
    // the forum's own room too and sits in the Telegram space.
    let space = store
        .kv_get(&format!(
            "forum_space:{}",
            peer.bot_api_dialog_id().unwrap()
        ))
        .unwrap()
        .expect("the forum has a space");
    join(&owner, &space).await;
    assert_eq!(
        state(&owner, &space, "m.room.name", "").await["name"],
        "Big forum"
    );
    for room in [&general.room_id, &two.room_id, &three.room_id] {
        state(&owner, &space, "m.space.child", room.as_str()).await;
    }
    join(&owner, two.room_id.as_str()).await;
    state(&owner, two.room_id.as_str(), "m.space.parent", &space).await;
    let telegram_space = store.kv_get("telegram_space").unwrap().unwrap();
    join(&owner, &telegram_space).await;
    state(&owner, &telegram_space, "m.space.child", &space).await;
    // Another topic opens on its first message.
    {
        let mut w = shared.lock().unwrap();
        let message = OutgoingMessage {
            topic: Some(topics[3]),
            ..OutgoingMessage::text("wake up")
        };
        w.send_message(bob, Peer::Channel(forum_id), message)
            .unwrap();
    }
    let four = topic_room(&store, peer, topics[3], &bridge).await;
    join(&owner, four.room_id.as_str()).await;
    let four_room = four.room_id.to_string();
    poll_until("wake up in Four", &bridge, Duration::from_secs(30), || {
        store
            .messages()
            .by_telegram(
                tgbridge::store::MessageScope::of_chat(peer, alice),
                fake.world()
                    .lock()
                    .unwrap()
                    .last_message(alice, Peer::Channel(forum_id))?
                    .id,
            )
            .ok()?
            .into_iter()
            .find(|m| m.room_id.as_str() == four_room)
    })
    .await;
    // Its history came with it ("hello", before "wake up").
    let bodies: Vec<Value> = timeline(&owner, &four_room)
        .await
        .into_iter()
        .map(|e| e["content"]["body"].clone())
        .collect();
    assert_eq!(bodies, [json!("hello"), json!("wake up")]);
    assert!(store.portals().topic(peer, topics[0]).unwrap().is_none());

    topics_command_lists_and_opens(
        &owner,
        &bridge,
        &store,
        &fake,
        (bob, forum_id),
        &topics,
        (&general, &two),
    )
    .await;
    bridge.terminate();
}

async fn a_group_turning_into_a_forum_and_back_keeps_its_room(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("ftg");
    configure(
        &bridge,
        "  reply_chains_as_threads: true\n  initial_history:\n    private: 0\n    group: 5\n    channel: 0\n",
    );
    let fake = FakeTelegram::start().await;
    let shared = fake.world();
    let (alice, bob, club) = {
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550001"));
        let bob = w.add_user(user("Bob", "15550002"));
        let club = w.create_supergroup(bob, "Club", &[alice]).unwrap();
        w.send_text(bob, Peer::Channel(club), "before forum")
            .unwrap();
        (alice, bob, club)
    };
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
    let store = Store::open(&bridge.database_path).unwrap();
    let peer = PeerId::channel(club).unwrap();
    let main = portal_of(&store, peer, &bridge).await.room_id.to_string();
    join(&owner, &main).await;
    expect_event(&owner, &bridge, "the history", |e| {
        message_in(e, &main, "before forum")
    })
    .await;
    let bot = bridge.bot_user_id.clone();

    // Turned into a forum: the room stays (as General) and says so.
    shared
        .lock()
        .unwrap()
        .toggle_forum(Origin::control(bob), club, true)
        .unwrap();
    expect_event(&owner, &bridge, "the forum notice", |e| {
        e["room_id"] == main.as_str() && is_notice_from(e, &bot, "now a forum")
    })
    .await;
    let news = {
        let mut w = shared.lock().unwrap();
        let news = w.create_topic(bob, club, "News", None, None).unwrap();
        let message = OutgoingMessage {
            topic: Some(news),
            ..OutgoingMessage::text("in news")
        };
        w.send_message(bob, Peer::Channel(club), message).unwrap();
        w.send_text(bob, Peer::Channel(club), "general now")
            .unwrap();
        news
    };
    let news_room = topic_room(&store, peer, news, &bridge)
        .await
        .room_id
        .to_string();
    join(&owner, &news_room).await;
    let events = expect_all(
        &owner,
        &bridge,
        &[
            ("the topic message", &|e| {
                message_in(e, &news_room, "in news")
            }),
            ("the General message", &|e| {
                message_in(e, &main, "general now")
            }),
        ],
    )
    .await;
    let root = events[1]["event_id"].clone();
    reply_chain_becomes_one_thread(&owner, &bridge, &fake, (alice, bob, club), &main, &root).await;

    // Back to a plain group: the topic room points to the chat's room,
    // where everything arrives again.
    shared
        .lock()
        .unwrap()
        .toggle_forum(Origin::control(bob), club, false)
        .unwrap();
    expect_all(
        &owner,
        &bridge,
        &[
            ("the topic room's notice", &|e| {
                e["room_id"] == news_room.as_str() && is_notice_from(e, &bot, "no longer a forum")
            }),
            ("the main room's notice", &|e| {
                e["room_id"] == main.as_str() && is_notice_from(e, &bot, "no longer a forum")
            }),
        ],
    )
    .await;
    shared
        .lock()
        .unwrap()
        .send_text(bob, Peer::Channel(club), "after forum")
        .unwrap();
    expect_event(&owner, &bridge, "a message after the forum", |e| {
        message_in(e, &main, "after forum")
    })
    .await;
    let bodies: Vec<Value> = timeline(&owner, &main)
        .await
        .into_iter()
        .filter(|e| e["content"]["msgtype"] == "m.text")
        .map(|e| e["content"]["body"].clone())
        .collect();
    assert_eq!(
        bodies,
        [
            json!("before forum"),
            json!("general now"),
            json!("first reply"),
            json!("second reply"),
            json!("after forum")
        ]
    );
    bridge.terminate();
}

async fn a_crash_mid_burst_across_two_topics_bridges_each_message_once(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("frs");
    configure(&bridge, NO_HISTORY);
    let fake = FakeTelegram::start().await;
    let shared = fake.world();
    let (alice, bob, forum_id, topics) = {
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550001"));
        let bob = w.add_user(user("Bob", "15550002"));
        let forum_id = w.create_forum(bob, "Busy", &[alice]).unwrap();
        let a = w.create_topic(bob, forum_id, "A", None, None).unwrap();
        let b = w.create_topic(bob, forum_id, "B", None, None).unwrap();
        (alice, bob, forum_id, [a, b])
    };
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
    wait_for_log(&bridge, "caught up with missed messages", 1, EVENT_TIMEOUT).await;
    let store = Store::open(&bridge.database_path).unwrap();
    let peer = PeerId::channel(forum_id).unwrap();
    let general = portal_of(&store, peer, &bridge).await.room_id.to_string();
    let a_room = topic_room(&store, peer, topics[0], &bridge)
        .await
        .room_id
        .to_string();
    let b_room = topic_room(&store, peer, topics[1], &bridge)
        .await
        .room_id
        .to_string();
    for room in [&general, &a_room, &b_room] {
        join(&owner, room).await;
    }
    // Message n goes to A, B or General in turn.
    let place = |n: u32| match n % 3 {
        0 => Some(topics[0]),
        1 => Some(topics[1]),
        _ => None,
    };
    let send = |n: u32| {
        let message = OutgoingMessage {
            topic: place(n),
            ..OutgoingMessage::text(format!("burst {n}"))
        };
        shared
            .lock()
            .unwrap()
            .send_message(bob, Peer::Channel(forum_id), message)
            .unwrap()
    };
    let first = send(0);
    expect_event(&owner, &bridge, "the warm-up", |e| {
        message_in(e, &a_room, "burst 0")
    })
    .await;
    for n in 1..=15 {
        send(n);
    }
    // Killed as soon as a few are through (a tight poll: the burst is fast).
    let deadline = std::time::Instant::now() + EVENT_TIMEOUT;
    while store.messages().newest_in_chat(peer).unwrap() < Some(first + 3) {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            bridge.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bridge.kill();
    let before = store.messages().newest_in_chat(peer).unwrap().unwrap() - first;
    eprintln!("{before} of the first 15 burst messages were bridged before the crash");
    for n in 16..=30 {
        send(n);
    }
    // The worst case: the saved update state is past the whole burst, so
    // only the bridge's own record tells what is missing.
    let now = shared.lock().unwrap().state(alice);
    let channel_pts = shared
        .lock()
        .unwrap()
        .channel(forum_id)
        .unwrap()
        .updates
        .pts;
    store
        .telegram_session()
        .set_update_state(UpdateState::All(UpdatesState {
            pts: now.pts,
            qts: now.qts,
            date: now.date,
            seq: now.seq,
            channels: vec![grammers_session::types::ChannelState {
                id: forum_id,
                pts: channel_pts,
            }],
        }))
        .await
        .unwrap();
    bridge.start();
    bridge.wait_ready(Duration::from_secs(60)).await;
    wait_for_log(&bridge, "caught up with missed messages", 2, EVENT_TIMEOUT).await;
    send(31);
    expect_event(&owner, &bridge, "a live message after the restart", |e| {
        message_in(e, &b_room, "burst 31")
    })
    .await;
    for (room, wanted) in [
        (&a_room, Some(topics[0])),
        (&b_room, Some(topics[1])),
        (&general, None),
    ] {
        let bodies: Vec<String> = timeline(&owner, room)
            .await
            .iter()
            .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned))
            .collect();
        let expected: Vec<String> = (0..=31)
            .filter(|&n| place(n) == wanted)
            .map(|n| format!("burst {n}"))
            .collect();
        assert_eq!(bodies, expected, "{}", bridge.log_tail());
    }
    bridge.terminate();
}

/// Closes (or reopens) Cats as Bob.
fn set_cats_closed(t: &Pets, closed: bool) {
    let (bob, forum_id, cats) = (t.bob, t.forum_id, t.cats);
    t.tg(|w| {
        let edit = TopicEdit {
            closed: Some(closed),
            ..TopicEdit::default()
        };
        w.edit_topic(bob, forum_id, cats, edit).unwrap();
    });
}

/// Whether the owner may send messages in `room` by its power levels.
async fn owner_may_send(t: &Pets, room: &str) -> bool {
    let levels = state(&t.owner, room, "m.room.power_levels", "").await;
    let owner = t.owner.user_id.as_str();
    let level = levels["users"][owner]
        .as_i64()
        .unwrap_or(levels["users_default"].as_i64().unwrap_or(0));
    level >= levels["events_default"].as_i64().unwrap_or(0)
}

async fn a_closed_topics_room_is_read_only_for_a_member_until_it_reopens(kind: HomeserverKind) {
    let _log = server(kind).await.0.log_on_panic();
    let mut t = Pets::start(kind, "frc").await;
    assert!(owner_may_send(&t, &t.cats_room).await);
    set_cats_closed(&t, true);
    let bob_ghost = format!("@frctg_{}:localhost", t.bob);
    expect_event(&t.owner, &t.bridge, "the closed notice", |e| {
        e["room_id"] == t.cats_room.as_str() && is_notice_from(e, &bob_ghost, "Closed the topic")
    })
    .await;
    eventually(&t.bridge, "the Cats room read-only", || async {
        (!owner_may_send(&t, &t.cats_room).await).then_some(())
    })
    .await;
    let refused = t
        .owner
        .send_event(
            &t.cats_room,
            "m.room.message",
            &json!({ "msgtype": "m.text", "body": "let me in" }),
        )
        .await;
    assert!(refused.is_err(), "the homeserver refuses: {refused:?}");
    // General stays writable, and Telegram's admins still post in Cats.
    assert!(owner_may_send(&t, &t.general).await);
    t.send_in(t.bob, t.cats, "admins only");
    expect_event(&t.owner, &t.bridge, "an admin's message in Cats", |e| {
        message_in(e, &t.cats_room, "admins only")
    })
    .await;
    set_cats_closed(&t, false);
    expect_event(&t.owner, &t.bridge, "the reopened notice", |e| {
        e["room_id"] == t.cats_room.as_str() && is_notice_from(e, &bob_ghost, "Reopened the topic")
    })
    .await;
    eventually(&t.bridge, "the Cats room writable again", || async {
        owner_may_send(&t, &t.cats_room).await.then_some(())
    })
    .await;
    let levels = state(&t.owner, &t.cats_room, "m.room.power_levels", "").await;
    assert!(
        levels["users"].get(t.owner.user_id.as_str()).is_none(),
        "the owner's level is as before: {levels}"
    );
    t.owner_sends(
        &t.cats_room,
        json!({ "msgtype": "m.text", "body": "open again" }),
    )
    .await;
    poll_until(
        "the owner's message in the reopened Cats",
        &t.bridge,
        Duration::from_secs(30),
        || (t.owner_texts_in(t.cats) == ["open again"]).then_some(()),
    )
    .await;
    t.bridge.terminate();
}

async fn an_admin_owner_still_writes_in_a_closed_topics_room(kind: HomeserverKind) {
    let _log = server(kind).await.0.log_on_panic();
    let mut t = Pets::start_as(kind, "fra", true).await;
    set_cats_closed(&t, true);
    let bob_ghost = format!("@fratg_{}:localhost", t.bob);
    expect_event(&t.owner, &t.bridge, "the closed notice", |e| {
        e["room_id"] == t.cats_room.as_str() && is_notice_from(e, &bob_ghost, "Closed the topic")
    })
    .await;
    wait_for_log(
        &t.bridge,
        "the owner's power in a topic room follows the topic",
        1,
        Duration::from_secs(30),
    )
    .await;
    assert!(owner_may_send(&t, &t.cats_room).await);
    t.owner_sends(
        &t.cats_room,
        json!({ "msgtype": "m.text", "body": "admin here" }),
    )
    .await;
    poll_until(
        "the admin's message in the closed Cats",
        &t.bridge,
        Duration::from_secs(30),
        || (t.owner_texts_in(t.cats) == ["admin here"]).then_some(()),
    )
    .await;
    t.bridge.terminate();
}

/// A 1×1 red PNG, a second picture next to [`PNG`].
const RED_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xDE, 0x00, 0x00, 0x00, 0x0C, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x38, 0x21, 0xA7, 0x01,
    0x00, 0x02, 0xC0, 0x01, 0x0F, 0xDA, 0x40, 0x81, 0xB9, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E,
    0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// Waits until `room`'s avatar is a picture other than `old` (`None`: any
/// picture); returns its mxc URI.
async fn new_avatar(t: &Pets, room: &str, old: Option<&str>) -> String {
    eventually(&t.bridge, "the room avatar", || async {
        let url = try_state(&t.owner, room, "m.room.avatar", "").await["url"].clone();
        let url = url.as_str()?.to_owned();
        (Some(url.as_str()) != old).then_some(url)
    })
    .await
}

async fn a_topics_custom_emoji_icon_is_its_rooms_avatar(kind: HomeserverKind) {
    let _log = server(kind).await.0.log_on_panic();
    let mut t = Pets::start(kind, "fri").await;
    let (carol, forum_id) = (t.carol, t.forum_id);
    let (blue, red, animated) = t.tg(|w| {
        (
            w.add_custom_emoji(PNG.to_vec(), "image/png", "🐦"),
            w.add_custom_emoji(RED_PNG.to_vec(), "image/png", "🦜"),
            w.add_custom_emoji(
                b"tgs, no thumbnail".to_vec(),
                "application/x-tgsticker",
                "🦉",
            ),
        )
    });
    // A topic created with an icon gets it as its room's avatar.
    let birds = t.tg(|w| {
        w.create_topic(carol, forum_id, "Birds", None, Some(blue))
            .unwrap()
    });
    let room = topic_room(&t.store, t.peer, birds, &t.bridge).await;
    let room = room.room_id.to_string();
    join(&t.owner, &room).await;
    let first = new_avatar(&t, &room, None).await;
    assert_eq!(download(&t.owner, &first).await, PNG);
    // A new icon on Telegram is a new avatar.
    let set_icon = |icon: i64| {
        t.tg(|w| {
            let edit = TopicEdit {
                icon_emoji_id: Some(icon),
                ..TopicEdit::default()
            };
            w.edit_topic(carol, forum_id, birds, edit).unwrap();
        })
    };
    set_icon(red);
    let second = new_avatar(&t, &room, Some(&first)).await;
    assert_eq!(download(&t.owner, &second).await, RED_PNG);
    // An animated icon without a thumbnail cannot be a picture: no avatar.
    set_icon(animated);
    eventually(&t.bridge, "the avatar removed", || async {
        let avatar = try_state(&t.owner, &room, "m.room.avatar", "").await;
        (avatar.is_object() && avatar.get("url").is_none()).then_some(())
    })
    .await;
    assert!(t
        .bridge
        .log()
        .contains("the topic's icon is animated without a thumbnail"));
    // General keeps the forum's own (here: no) avatar.
    assert!(try_state(&t.owner, &t.general, "m.room.avatar", "").await["url"].is_null());
    t.bridge.terminate();
}

async fn a_topic_rooms_history_is_the_topics_however_busy_the_forum(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("frh");
    configure(
        &bridge,
        "  max_topic_rooms_per_sync: 1\n  initial_history:\n    private: 0\n    group: 5\n    channel: 0\n",
    );
    let fake = FakeTelegram::start().await;
    let shared = fake.world();
    let (alice, bob, forum_id, old) = {
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550001"));
        let bob = w.add_user(user("Bob", "15550002"));
        let forum_id = w.create_forum(bob, "Busy", &[alice]).unwrap();
        let old = w.create_topic(bob, forum_id, "Old", None, None).unwrap();
        let fresh = w.create_topic(bob, forum_id, "Fresh", None, None).unwrap();
        let forum = Peer::Channel(forum_id);
        for n in 1..=7 {
            let message = OutgoingMessage {
                topic: Some(old),
                ..OutgoingMessage::text(format!("old {n}"))
            };
            w.send_message(bob, forum, message).unwrap();
        }
        // Far more of the forum's messages than a scan of its history for
        // the topic's 5 would have read.
        for n in 0..300 {
            w.send_text(bob, forum, &format!("general {n}")).unwrap();
        }
        let message = OutgoingMessage {
            topic: Some(fresh),
            ..OutgoingMessage::text("fresh")
        };
        w.send_message(bob, forum, message).unwrap();
        (alice, bob, forum_id, old)
    };
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
    let store = Store::open(&bridge.database_path).unwrap();
    let peer = PeerId::channel(forum_id).unwrap();
    portal_of(&store, peer, &bridge).await;
    // The sync opened Fresh, the most recently active topic, and only it.
    wait_for_log(
        &bridge,
        "forum topic rooms opened by the sync opened=1",
        1,
        Duration::from_secs(30),
    )
    .await;
    assert!(store.portals().topic(peer, old).unwrap().is_none());
    // A live message opens Old, which gets the topic's 5 newest messages
    // before it, each once, in order.
    {
        let mut w = shared.lock().unwrap();
        let message = OutgoingMessage {
            topic: Some(old),
            ..OutgoingMessage::text("old live")
        };
        w.send_message(bob, Peer::Channel(forum_id), message)
            .unwrap();
    }
    let room = topic_room(&store, peer, old, &bridge).await;
    let room = room.room_id.to_string();
    join(&owner, &room).await;
    let expected = ["old 3", "old 4", "old 5", "old 6", "old 7", "old live"];
    eventually(&bridge, "Old's history and live message", || async {
        let bodies: Vec<String> = timeline(&owner, &room)
            .await
            .into_iter()
            .filter(|e| e["type"] == "m.room.message")
            .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned))
            .collect();
        (bodies == expected).then_some(())
    })
    .await;
    assert!(bridge.log().contains("messages.getReplies"));
    bridge.terminate();
}

async fn typing_and_read_marks_follow_the_topic_both_ways(kind: HomeserverKind) {
    let _log = server(kind).await.0.log_on_panic();
    let mut t = Pets::start(kind, "frr").await;
    let (_, meow_event, _) = t.meow_and_purr().await;
    let (alice, bob, forum_id, cats) = (t.alice, t.bob, t.forum_id, t.cats);
    let bob_ghost = format!("@frrtg_{bob}:localhost");
    // Bob typing in Cats shows in the Cats room, not in General.
    let since = sync_position(&t.owner).await;
    t.tg(|w| w.typing_in_topic(bob, forum_id, cats).unwrap());
    let typing = typing_after(&t.owner, &since, None).await;
    assert_eq!(
        typing,
        [(t.cats_room.clone(), bob_ghost.clone())],
        "{}",
        t.bridge.log_tail()
    );
    // The owner reading Cats on another app moves their receipt in Cats.
    let purr_tg = t.tg(|w| {
        w.topic_history(alice, forum_id, cats)
            .into_iter()
            .find(|m| m.text == "purr")
            .unwrap()
            .id
    });
    t.tg(|w| w.read_topic(alice, forum_id, cats, purr_tg).unwrap());
    let owner_id = t.owner.user_id.clone();
    let purr_event = expect_event(&t.owner, &t.bridge, "the owner's receipt in Cats", |e| {
        e["room_id"] == t.cats_room.as_str()
            && e["type"] == "m.receipt"
            && e["content"].as_object().is_some_and(|c| {
                c.values()
                    .any(|r| !r["m.read"][owner_id.as_str()].is_null())
            })
    })
    .await;
    assert!(
        purr_event["content"]
            .get(meow_event["event_id"].as_str().unwrap())
            .is_none(),
        "the receipt is on purr, the newest read: {purr_event}"
    );
    // A receipt in the Cats room marks only Cats read on Telegram. Where
    // the homeserver does not push receipts (Conduit), the bridge reads
    // them from the bot's sync, whose first answer (the state before it)
    // it takes as old news: the receipt is sent once that answer is in.
    wait_for_log(
        &t.bridge,
        "typing and read receipts",
        1,
        Duration::from_secs(30),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let newer = t.send_in(bob, cats, "meow again");
    let newer_event = expect_event(&t.owner, &t.bridge, "meow again in Cats", |e| {
        message_in(e, &t.cats_room, "meow again")
    })
    .await;
    let chat_read_before = t.tg(|w| {
        w.dialog_state(alice, Peer::Channel(forum_id))
            .read_inbox_max_id
    });
    let newer_id = newer_event["event_id"].as_str().unwrap();
    t.owner
        .api()
        .ok(
            Method::POST,
            &format!(
                "/_matrix/client/v3/rooms/{}/receipt/m.read/{newer_id}",
                t.cats_room
            ),
            Some(&json!({})),
        )
        .await
        .unwrap();
    poll_until(
        "Cats read on Telegram",
        &t.bridge,
        Duration::from_secs(20),
        || {
            let read = t.tg(|w| w.topic_read_max(alice, forum_id, cats));
            (read >= newer).then_some(())
        },
    )
    .await;
    assert_eq!(
        t.tg(|w| w
            .dialog_state(alice, Peer::Channel(forum_id))
            .read_inbox_max_id),
        chat_read_before,
        "the chat's own read mark (General's) did not move"
    );
    t.bridge.terminate();
}

/// Waits until the owner is no longer in `room` (a left member may not
/// list the members, or is not among them).
async fn owner_left(t: &Pets, room: &str, what: &str) {
    eventually(&t.bridge, what, || async {
        match t.owner.joined_members(room).await {
            Ok(members) if members.contains(&t.owner.user_id) => None,
            _ => Some(()),
        }
    })
    .await;
}

async fn a_topic_deleted_on_telegram_closes_its_room(kind: HomeserverKind) {
    let _log = server(kind).await.0.log_on_panic();
    let mut t = Pets::start(kind, "frx").await;
    let (dogs, dogs_room) = t.new_topic("Dogs").await;
    t.send_in(t.bob, dogs, "woof");
    expect_event(&t.owner, &t.bridge, "woof in Dogs", |e| {
        message_in(e, &dogs_room, "woof")
    })
    .await;
    let (bob, forum_id) = (t.bob, t.forum_id);
    t.tg(|w| w.delete_topic(bob, forum_id, dogs).unwrap());
    let bot = t.bridge.bot_user_id.clone();
    // General says so, and nobody is left in the room, the owner included.
    expect_event(&t.owner, &t.bridge, "the notice in General", |e| {
        e["room_id"] == t.general.as_str()
            && is_notice_from(
                e,
                &bot,
                "\"Dogs\" was deleted on Telegram: its room is closed",
            )
    })
    .await;
    owner_left(&t, &dogs_room, "the owner out of Dogs").await;
    // The room's last word is the closing notice, sent before the owner was
    // removed (read on Synapse, which lets a removed member page the history
    // up to their removal).
    if kind == HomeserverKind::Synapse {
        let bodies: Vec<Value> = timeline(&t.owner, &dogs_room)
            .await
            .into_iter()
            .map(|e| e["content"]["body"].clone())
            .collect();
        assert_eq!(
            bodies.last(),
            Some(&json!(
                "The topic \"Dogs\" was deleted on Telegram: this room is closed."
            )),
            "{bodies:?}"
        );
    }
    // The bridge forgot the room; the forum's other rooms go on.
    assert!(t.store.portals().topic(t.peer, dogs).unwrap().is_none());
    assert!(t.store.portals().topic(t.peer, t.cats).unwrap().is_some());
    t.send_in(t.bob, t.cats, "still here");
    expect_event(&t.owner, &t.bridge, "a message in Cats", |e| {
        message_in(e, &t.cats_room, "still here")
    })
    .await;
    t.bridge.terminate();
}

async fn unbridge_delete_portal_and_id_in_a_topic_room_act_on_that_topic(kind: HomeserverKind) {
    let _log = server(kind).await.0.log_on_panic();
    let mut t = Pets::start(kind, "fru").await;
    let (dogs, dogs_room) = t.new_topic("Dogs").await;
    let bot = t.bridge.bot_user_id.clone();
    let chat_id = t.peer.bot_api_dialog_id().unwrap();
    // `id` names the forum and the topic.
    command(
        &t.owner,
        &t.cats_room,
        &bot,
        "!tg id",
        &format!("topic {} of the Telegram forum {chat_id}", t.cats),
    )
    .await;
    // `unbridge` in Dogs: only Dogs stops; its messages are left out.
    command(
        &t.owner,
        &dogs_room,
        &bot,
        "!tg unbridge",
        "stop bridging this topic",
    )
    .await;
    command(
        &t.owner,
        &dogs_room,
        &bot,
        "!tg unbridge confirm",
        "no longer bridged to the topic \"Dogs\"",
    )
    .await;
    assert!(t.store.portals().topic(t.peer, dogs).unwrap().is_none());
    assert!(t.store.portals().by_peer(t.peer).unwrap().is_some());
    t.send_in(t.bob, dogs, "woof unheard");
    let forum = t.forum();
    let bob = t.bob;
    t.tg(|w| w.send_text(bob, forum, "general after").unwrap());
    expect_event(&t.owner, &t.bridge, "General still bridged", |e| {
        message_in(e, &t.general, "general after")
    })
    .await;
    assert!(
        t.store.portals().topic(t.peer, dogs).unwrap().is_none(),
        "an unbridged topic's message opens no room"
    );
    // `delete-portal` in Cats removes everyone from Cats only; the next
    // message in Cats opens a new room. (The goodbye notice comes just
    // before the owner is removed, so a /sync may show only the removal.)
    t.owner
        .send_text(&t.cats_room, "!tg delete-portal confirm")
        .await
        .unwrap();
    owner_left(&t, &t.cats_room, "the owner out of Cats").await;
    wait_for_log(
        &t.bridge,
        "topic room removed by the owner",
        2,
        Duration::from_secs(30),
    )
    .await;
    assert!(t.store.portals().topic(t.peer, t.cats).unwrap().is_none());
    assert!(t.store.portals().by_peer(t.peer).unwrap().is_some());
    t.send_in(t.bob, t.cats, "meow anew");
    let new_cats = topic_room(&t.store, t.peer, t.cats, &t.bridge).await;
    assert_ne!(new_cats.room_id.as_str(), t.cats_room);
    // `topics open` bridges Dogs again, in a new room.
    command(
        &t.owner,
        &t.general,
        &bot,
        &format!("!tg topics open {dogs}"),
        "Opened the room of the topic Dogs",
    )
    .await;
    let new_dogs = topic_room(&t.store, t.peer, dogs, &t.bridge).await;
    assert_ne!(new_dogs.room_id.as_str(), dogs_room);
    t.bridge.terminate();
}

/// The `topics` command lists a forum's topics, in a forum room and from
/// the management room, pinned first, and opens one on request with its
/// history.
async fn topics_command_lists_and_opens(
    owner: &TestUser,
    bridge: &BridgeInstance,
    store: &Store,
    fake: &FakeTelegram,
    (bob, forum_id): (UserId, ChannelId),
    topics: &[i32],
    (general, two): (&Portal, &Portal),
) {
    let peer = PeerId::channel(forum_id).unwrap();
    let bot = bridge.bot_user_id.clone();
    let management = management_room_of(owner, &bot).await;
    let forum_arg = peer.bot_api_dialog_id().unwrap();
    // A pinned topic is listed first (as Telegram orders them, which is
    // also the order the sync opens rooms in) and says so.
    fake.world()
        .lock()
        .unwrap()
        .pin_topic(bob, forum_id, topics[0], true)
        .unwrap();
    let listing = command(
        owner,
        &management,
        &bot,
        &format!("topics {forum_arg}"),
        "The forum has 5 topics",
    )
    .await;
    let listing = listing["content"]["body"].as_str().unwrap().to_owned();
    assert!(
        listing.contains(&format!("One (topic {}, pinned): no room yet", topics[0])),
        "{listing}"
    );
    let first_topic = listing.lines().nth(1).unwrap_or_default();
    assert!(first_topic.starts_with("• One "), "{listing}");
    assert!(
        listing.contains(&format!(
            "Two (topic {}): bridged to {}",
            topics[1], two.room_id
        )),
        "{listing}"
    );
    assert!(listing.contains(&format!(
        "General (topic 1): bridged to {}",
        general.room_id
    )));
    join(owner, general.room_id.as_str()).await;
    command(
        owner,
        general.room_id.as_str(),
        &bot,
        &format!("!tg topics open {}", topics[0]),
        "Opened the room of the topic One",
    )
    .await;
    let one = topic_room(store, peer, topics[0], bridge).await;
    join(owner, one.room_id.as_str()).await;
    let bodies: Vec<Value> = timeline(owner, one.room_id.as_str())
        .await
        .into_iter()
        .map(|e| e["content"]["body"].clone())
        .collect();
    assert_eq!(bodies, [json!("hello")]);
}

/// With `reply_chains_as_threads`, a Telegram reply chain in `main` becomes
/// one Matrix thread rooted at the message the chain started from (`root`).
async fn reply_chain_becomes_one_thread(
    owner: &TestUser,
    bridge: &BridgeInstance,
    fake: &FakeTelegram,
    (alice, bob, club): (UserId, UserId, ChannelId),
    main: &str,
    root: &Value,
) {
    let general_now = fake
        .world()
        .lock()
        .unwrap()
        .last_message(bob, Peer::Channel(club))
        .unwrap()
        .id;
    let first_reply = {
        let reply = OutgoingMessage {
            reply_to: Some(general_now),
            ..OutgoingMessage::text("first reply")
        };
        fake.world()
            .lock()
            .unwrap()
            .send_message(alice, Peer::Channel(club), reply)
            .unwrap()
    };
    let first = expect_event(owner, bridge, "the first reply", |e| {
        message_in(e, main, "first reply")
    })
    .await;
    assert_eq!(
        first["content"]["m.relates_to"],
        json!({ "rel_type": "m.thread", "event_id": root, "m.in_reply_to": { "event_id": root } })
    );
    let second_reply = OutgoingMessage {
        reply_to: Some(first_reply),
        ..OutgoingMessage::text("second reply")
    };
    fake.world()
        .lock()
        .unwrap()
        .send_message(bob, Peer::Channel(club), second_reply)
        .unwrap();
    let second = expect_event(owner, bridge, "the second reply", |e| {
        message_in(e, main, "second reply")
    })
    .await;
    assert_eq!(second["content"]["m.relates_to"]["rel_type"], "m.thread");
    assert_eq!(second["content"]["m.relates_to"]["event_id"], *root);
    assert_eq!(
        second["content"]["m.relates_to"]["m.in_reply_to"]["event_id"],
        first["event_id"]
    );
}
