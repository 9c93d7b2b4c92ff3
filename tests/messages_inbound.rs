//! End to end, Telegram → Matrix: the bridge binary logged into the fake
//! Telegram datacenter next to a real homeserver (each scenario runs on
//! Synapse and on Conduit). A table of Telegram actions
//! (formatted text with mentions, replies, edits, reactions, deletions,
//! pins, the owner writing from another app, calls, typing, read receipts,
//! a message Matrix refuses) and the exact Matrix events each must produce;
//! and a crash in the middle of a burst of messages, after which every
//! message appears exactly once, in order.

mod appservice_support;

use std::time::{Duration, Instant};

use appservice_support::telegram::{configure, portal_of, start_logged_in, user, wait_for_log};
use appservice_support::{
    eventually, expect_event, message_in, shared_homeserver, timeline, BridgeInstance, Bridges,
    EVENT_TIMEOUT,
};
use fake_telegram::world::{OutgoingMessage, Peer};
use fake_telegram::FakeTelegram;
use grammers_session::types::{PeerId, UpdateState, UpdatesState};
use grammers_session::Session as _;
use grammers_tl_types as tl;
use serde_json::{json, Value};
use testkit::{Homeserver, HomeserverKind, HomeserverOptions, Method, SharedHomeserver};
use tgbridge::store::Store;

static SERVERS: SharedHomeserver<Bridges> = SharedHomeserver::new();

/// Bridge options for both tests: no initial history, so only what
/// happens while the test watches reaches the rooms.
const NO_HISTORY: &str = "  initial_history:\n    private: 0\n    group: 0\n    channel: 0\n";

async fn server(kind: HomeserverKind) -> (&'static Homeserver, &'static Bridges) {
    shared_homeserver(
        &SERVERS,
        kind,
        &["inb", "rst"],
        HomeserverOptions::default(),
        |name, bridge| {
            // This bridge may not act as the owner: their own messages come
            // from the ghost of their Telegram account.
            if name == "rst" {
                drop_owner_namespace(bridge);
            }
        },
    )
    .await
}

/// Removes the owner (the non-exclusive user namespace) from a registration,
/// which turns double puppeting off for that bridge.
fn drop_owner_namespace(bridge: &BridgeInstance) {
    let text = std::fs::read_to_string(&bridge.registration_path).unwrap();
    let mut registration: Value = serde_yaml::from_str(&text).unwrap();
    let users = registration["namespaces"]["users"].as_array_mut().unwrap();
    users.retain(|namespace| namespace["exclusive"] == true);
    std::fs::write(
        &bridge.registration_path,
        serde_yaml::to_string(&registration).unwrap(),
    )
    .unwrap();
}

on_both_servers!(
    telegram_actions_become_the_exact_matrix_events,
    restart_mid_burst_bridges_each_message_once,
);

/// Where `owner`'s `/sync` stands now.
async fn sync_position(owner: &testkit::TestUser) -> String {
    let sync = owner
        .api()
        .ok(Method::GET, "/_matrix/client/v3/sync?timeout=0", None)
        .await
        .unwrap();
    sync["next_batch"].as_str().unwrap().to_owned()
}

/// The first non-empty list of users typing in `room` that `owner`'s
/// `/sync` shows after `since` (empty after 30 s).
async fn typing_after(owner: &testkit::TestUser, room: &str, since: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut since = since.to_owned();
    while Instant::now() < deadline {
        let sync = owner
            .api()
            .ok(
                Method::GET,
                &format!("/_matrix/client/v3/sync?timeout=2000&since={since}"),
                None,
            )
            .await
            .unwrap();
        let typing: Vec<String> = sync["rooms"]["join"][room]["ephemeral"]["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["type"] == "m.typing")
            .flat_map(|e| {
                e["content"]["user_ids"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|id| id.as_str().map(str::to_owned))
            .collect();
        if !typing.is_empty() {
            return typing;
        }
        since = sync["next_batch"].as_str().unwrap().to_owned();
    }
    Vec::new()
}

async fn telegram_actions_become_the_exact_matrix_events(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("inb");
    configure(&bridge, NO_HISTORY);

    let fake = FakeTelegram::start().await;
    let (alice, bob, carol, group, old_message) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550001"));
        let bob = w.add_user(user("Bob", "15550002"));
        let mut carol_spec = user("Carol", "15550003");
        carol_spec.username = Some("carolx".into());
        let carol = w.add_user(carol_spec);
        let group = w.create_group(bob, "Table", &[alice, carol]).unwrap();
        let old_message = w
            .send_text(bob, Peer::Chat(group), "before the bridge")
            .unwrap();
        (alice, bob, carol, group, old_message)
    };
    let supergroup = fake
        .world()
        .lock()
        .unwrap()
        .create_supergroup(bob, "Super", &[alice])
        .unwrap();
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;

    let store = Store::open(&bridge.database_path).unwrap();
    let portal = portal_of(&store, PeerId::chat(group).unwrap(), &bridge).await;
    let room = portal.room_id.to_string();
    owner.join(&room).await.unwrap();
    let owner_id = bridge.owner();
    let ghost = |id: i64| format!("@inbtg_{id}:localhost");
    let (bob_ghost, carol_ghost) = (ghost(bob), ghost(carol));
    let pill = |user: &str| format!("<a href=\"https://matrix.to/#/{user}\">");
    let tg = |f: &dyn Fn(&mut fake_telegram::world::World) -> i32| {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        f(&mut w)
    };

    // Formatting and mentions: the owner's own account becomes a pill to
    // the owner, a @username a pill to that user's ghost.
    let first = tg(&|w| {
        let message = OutgoingMessage {
            text: "Hi Alice, @carolx: bold".into(),
            entities: vec![
                tl::types::MessageEntityMentionName {
                    offset: 3,
                    length: 5,
                    user_id: alice,
                }
                .into(),
                tl::types::MessageEntityMention {
                    offset: 10,
                    length: 7,
                }
                .into(),
                tl::types::MessageEntityBold {
                    offset: 19,
                    length: 4,
                }
                .into(),
            ],
            ..OutgoingMessage::default()
        };
        w.send_message(bob, Peer::Chat(group), message).unwrap()
    });
    let event = expect_event(&owner, &bridge, "formatted message", |e| {
        message_in(e, &room, "Hi Alice, @carolx: bold")
    })
    .await;
    assert_eq!(event["sender"], bob_ghost.as_str());
    assert_eq!(
        event["content"],
        json!({
            "msgtype": "m.text",
            "body": "Hi Alice, @carolx: bold",
            "format": "org.matrix.custom.html",
            "formatted_body": format!(
                "Hi {}Alice</a>, {}@carolx</a>: <strong>bold</strong>",
                pill(&owner_id),
                pill(&carol_ghost)
            ),
            "m.mentions": { "user_ids": [owner_id.as_str(), carol_ghost.as_str()] },
        })
    );
    let first_event = event["event_id"].as_str().unwrap().to_owned();

    // A reply to a bridged message points at its event; a reply to one the
    // bridge never saw is a plain message.
    tg(&|w| {
        let reply = OutgoingMessage {
            reply_to: Some(first),
            ..OutgoingMessage::text("a reply")
        };
        w.send_message(carol, Peer::Chat(group), reply).unwrap()
    });
    let reply = expect_event(&owner, &bridge, "reply", |e| {
        message_in(e, &room, "a reply")
    })
    .await;
    assert_eq!(reply["sender"], carol_ghost.as_str());
    assert_eq!(
        reply["content"]["m.relates_to"],
        json!({ "m.in_reply_to": { "event_id": first_event } })
    );
    let reply_event = reply["event_id"].as_str().unwrap().to_owned();
    tg(&|w| {
        let reply = OutgoingMessage {
            reply_to: Some(old_message),
            ..OutgoingMessage::text("reply to the past")
        };
        w.send_message(carol, Peer::Chat(group), reply).unwrap()
    });
    let plain = expect_event(&owner, &bridge, "reply to an unknown message", |e| {
        message_in(e, &room, "reply to the past")
    })
    .await;
    assert!(plain["content"].get("m.relates_to").is_none(), "{plain}");

    // An edit replaces the event, as the original sender.
    tg(&|w| {
        w.edit_text(bob, Peer::Chat(group), first, "Hi everyone")
            .unwrap();
        0
    });
    let edit = expect_event(&owner, &bridge, "edit", |e| {
        message_in(e, &room, "* Hi everyone")
    })
    .await;
    assert_eq!(edit["sender"], bob_ghost.as_str());
    assert_eq!(
        edit["content"],
        json!({
            "msgtype": "m.text",
            "body": "* Hi everyone",
            "m.new_content": { "msgtype": "m.text", "body": "Hi everyone", "m.mentions": {} },
            "m.relates_to": { "rel_type": "m.replace", "event_id": first_event },
            "m.mentions": {},
        })
    );

    // Reactions: added as annotations from the reacting user (the owner
    // for their own), removed as redactions.
    tg(&|w| {
        w.react(carol, Peer::Chat(group), first, Some("👍"))
            .unwrap();
        0
    });
    let reaction = expect_event(&owner, &bridge, "reaction", |e| {
        e["room_id"] == room.as_str() && e["type"] == "m.reaction"
    })
    .await;
    assert_eq!(reaction["sender"], carol_ghost.as_str());
    assert_eq!(
        reaction["content"],
        json!({ "m.relates_to": { "rel_type": "m.annotation", "event_id": first_event, "key": "👍" } })
    );
    let reaction_event = reaction["event_id"].as_str().unwrap().to_owned();
    tg(&|w| {
        w.react(alice, Peer::Chat(group), first, Some("❤")).unwrap();
        0
    });
    let own_reaction = expect_event(&owner, &bridge, "the owner's reaction", |e| {
        e["room_id"] == room.as_str()
            && e["type"] == "m.reaction"
            && e["content"]["m.relates_to"]["key"] == "❤"
    })
    .await;
    let reactions: Vec<Value> = owner
        .room_messages(&room, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e["type"] == "m.reaction")
        .collect();
    assert_eq!(
        reactions.len(),
        2,
        "Carol's and the owner's, once each: {reactions:#?}"
    );
    assert_eq!(own_reaction["sender"], owner_id.as_str());
    assert_eq!(own_reaction["content"]["m.relates_to"]["key"], "❤");
    tg(&|w| {
        w.react(carol, Peer::Chat(group), first, None).unwrap();
        0
    });
    let unreact = expect_event(&owner, &bridge, "reaction removed", |e| {
        e["room_id"] == room.as_str() && e["type"] == "m.room.redaction"
    })
    .await;
    assert_eq!(unreact["redacts"], reaction_event.as_str(), "{unreact}");

    // Pins become the room's pinned events, both ways round.
    tg(&|w| {
        w.pin(bob, Peer::Chat(group), first, true).unwrap();
        0
    });
    expect_event(&owner, &bridge, "pin", |e| {
        e["room_id"] == room.as_str() && e["type"] == "m.room.pinned_events"
    })
    .await;
    // Conduit may show the event in /sync a moment before its state reads
    // back, so the state is polled.
    let pins = json!({ "pinned": [first_event] });
    eventually(&bridge, "the pinned events as state", || {
        let (owner, room, pins) = (&owner, &room, &pins);
        async move {
            let path = format!("/_matrix/client/v3/rooms/{room}/state/m.room.pinned_events/");
            let state = owner.api().ok(Method::GET, &path, None).await.ok()?;
            (state == *pins).then_some(())
        }
    })
    .await;
    tg(&|w| {
        w.pin(bob, Peer::Chat(group), first, false).unwrap();
        0
    });
    expect_event(&owner, &bridge, "unpin", |e| {
        e["room_id"] == room.as_str()
            && e["type"] == "m.room.pinned_events"
            && e["content"]["pinned"] == json!([])
    })
    .await;

    // A deletion redacts the message.
    tg(&|w| {
        w.delete(bob, Peer::Chat(group), &[first], true).unwrap();
        0
    });
    let redaction = expect_event(&owner, &bridge, "deletion", |e| {
        e["room_id"] == room.as_str()
            && e["type"] == "m.room.redaction"
            && e["redacts"] == first_event.as_str()
    })
    .await;
    assert_eq!(redaction["redacts"], first_event.as_str());

    // The owner writing from another Telegram app appears as the owner.
    tg(&|w| {
        w.send_text(alice, Peer::Chat(group), "from my phone")
            .unwrap()
    });
    let own = expect_event(&owner, &bridge, "owner's message", |e| {
        message_in(e, &room, "from my phone")
    })
    .await;
    assert_eq!(own["sender"], owner_id.as_str());

    // A private chat: a call record is a notice, typing and reading show
    // as Bob's ghost.
    tg(&|w| w.send_text(bob, Peer::User(alice), "hello Alice").unwrap());
    let dm = portal_of(&store, PeerId::user(bob).unwrap(), &bridge).await;
    let dm_room = dm.room_id.to_string();
    owner.join(&dm_room).await.unwrap();
    let hello = expect_event(&owner, &bridge, "first private message", |e| {
        message_in(e, &dm_room, "hello Alice")
    })
    .await;
    assert_eq!(hello["sender"], bob_ghost.as_str());
    tg(&|w| w.send_text(alice, Peer::User(bob), "on my way").unwrap());
    let on_my_way = expect_event(&owner, &bridge, "owner's private message", |e| {
        message_in(e, &dm_room, "on my way")
    })
    .await;
    assert_eq!(on_my_way["sender"], owner_id.as_str());
    let on_my_way_event = on_my_way["event_id"].as_str().unwrap().to_owned();
    tg(&|w| {
        w.read(bob, Peer::User(alice), 0).unwrap();
        0
    });
    let receipt = expect_event(&owner, &bridge, "read receipt", |e| {
        e["room_id"] == dm_room.as_str()
            && e["type"] == "m.receipt"
            && !e["content"][on_my_way_event.as_str()]["m.read"][bob_ghost.as_str()].is_null()
    })
    .await;
    assert!(
        receipt["content"][on_my_way_event.as_str()]["m.read"][bob_ghost.as_str()]["ts"].is_u64()
    );
    // Typing is ephemeral: watched from a /sync position taken just before
    // Telegram shows Bob typing, so no earlier batch can have taken it.
    let since = sync_position(&owner).await;
    tg(&|w| {
        w.typing(bob, Peer::User(alice)).unwrap();
        0
    });
    let typing = typing_after(&owner, &dm_room, &since).await;
    assert_eq!(
        typing,
        std::slice::from_ref(&bob_ghost),
        "{}",
        bridge.log_tail()
    );
    tg(&|w| {
        let call = tl::types::MessageActionPhoneCall {
            video: false,
            call_id: 77,
            reason: Some(tl::enums::PhoneCallDiscardReason::Missed),
            duration: None,
        };
        w.send_service(bob, Peer::User(alice), call.into()).unwrap()
    });
    let call = expect_event(&owner, &bridge, "call notice", |e| {
        message_in(e, &dm_room, "Missed call")
    })
    .await;
    assert_eq!(call["sender"], bob_ghost.as_str());
    assert_eq!(
        call["content"],
        json!({ "msgtype": "m.notice", "body": "Missed call" })
    );

    // A supergroup numbers its own messages: replies and deletions are
    // found in the channel's numbering. Editing a message the bridge never
    // bridged changes nothing in Matrix.
    tg(&|w| {
        w.edit_text(bob, Peer::Chat(group), old_message, "rewritten history")
            .unwrap();
        0
    });
    let super_room = portal_of(&store, PeerId::channel(supergroup).unwrap(), &bridge)
        .await
        .room_id
        .to_string();
    owner.join(&super_room).await.unwrap();
    let s1 = tg(&|w| w.send_text(bob, Peer::Channel(supergroup), "s1").unwrap());
    let s1_event = expect_event(&owner, &bridge, "supergroup message", |e| {
        message_in(e, &super_room, "s1")
    })
    .await["event_id"]
        .as_str()
        .unwrap()
        .to_owned();
    tg(&|w| {
        let reply = OutgoingMessage {
            reply_to: Some(s1),
            ..OutgoingMessage::text("s2")
        };
        w.send_message(alice, Peer::Channel(supergroup), reply)
            .unwrap()
    });
    let s2 = expect_event(&owner, &bridge, "supergroup reply", |e| {
        message_in(e, &super_room, "s2")
    })
    .await;
    assert_eq!(s2["sender"], owner_id.as_str());
    assert_eq!(
        s2["content"]["m.relates_to"]["m.in_reply_to"]["event_id"],
        s1_event.as_str()
    );
    tg(&|w| {
        w.delete(bob, Peer::Channel(supergroup), &[s1], true)
            .unwrap();
        0
    });
    expect_event(&owner, &bridge, "supergroup deletion", |e| {
        e["room_id"] == super_room.as_str()
            && e["type"] == "m.room.redaction"
            && e["redacts"] == s1_event.as_str()
    })
    .await;

    // A message Matrix refuses (Carol's ghost is banned from the room)
    // becomes a notice saying so.
    let bot = server.client(Some(&bridge.as_token));
    bot.ok(
        Method::POST,
        &format!("/_matrix/client/v3/rooms/{room}/ban"),
        Some(&json!({ "user_id": carol_ghost, "reason": "test" })),
    )
    .await
    .unwrap();
    tg(&|w| {
        w.send_text(carol, Peer::Chat(group), "can you hear me")
            .unwrap()
    });
    let failure = expect_event(&owner, &bridge, "failure notice", |e| {
        e["room_id"] == room.as_str()
            && e["content"]["msgtype"] == "m.notice"
            && e["content"]["body"]
                .as_str()
                .is_some_and(|b| b.starts_with("A Telegram message from Carol"))
    })
    .await;
    assert_eq!(failure["sender"], bridge.bot_user_id.as_str());
    let reason = failure["content"]["body"].as_str().unwrap();
    assert!(
        reason.starts_with("A Telegram message from Carol (Telegram) could not be bridged: ")
            && reason.contains("M_FORBIDDEN"),
        "{reason}"
    );

    // Nothing was bridged twice: the group room holds exactly these
    // messages, in order (the first one redacted).
    let bodies: Vec<Value> = timeline(&owner, &room)
        .await
        .iter()
        .map(|e| e["content"]["body"].clone())
        .collect();
    assert_eq!(
        bodies,
        vec![
            Value::Null,
            json!("a reply"),
            json!("reply to the past"),
            json!("* Hi everyone"),
            json!("from my phone"),
            failure["content"]["body"].clone(),
        ],
        "{}",
        bridge.log_tail()
    );
    let redacted = owner
        .api()
        .ok(
            Method::GET,
            &format!("/_matrix/client/v3/rooms/{room}/event/{reply_event}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        redacted["content"]["body"], "a reply",
        "only the deleted message went"
    );
    // What the bridge posted as the owner came from Telegram and never went
    // back there: each of the owner's messages exists once on Telegram.
    let owner_texts = |peer: Peer| -> Vec<String> {
        let shared = fake.world();
        let w = shared.lock().unwrap();
        w.history(alice, peer)
            .into_iter()
            .filter(|m| m.from == alice)
            .map(|m| m.text)
            .collect()
    };
    assert_eq!(owner_texts(Peer::Chat(group)), ["from my phone"]);
    assert_eq!(owner_texts(Peer::Channel(supergroup)), ["s2"]);
    let status = bridge.terminate();
    assert!(status.success(), "{status}");
}

async fn restart_mid_burst_bridges_each_message_once(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("rst");
    configure(&bridge, NO_HISTORY);

    let fake = FakeTelegram::start().await;
    let (alice, bob, group, quiet) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550001"));
        let bob = w.add_user(user("Bob", "15550002"));
        let group = w.create_group(bob, "Burst", &[alice]).unwrap();
        let quiet = w.create_group(bob, "Quiet", &[alice]).unwrap();
        (alice, bob, group, quiet)
    };
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
    wait_for_log(&bridge, "double puppeting not available", 1, EVENT_TIMEOUT).await;
    wait_for_log(&bridge, "caught up with missed messages", 1, EVENT_TIMEOUT).await;

    let store = Store::open(&bridge.database_path).unwrap();
    let chat = PeerId::chat(group).unwrap();
    let portal = portal_of(&store, chat, &bridge).await;
    let room = portal.room_id.to_string();
    owner.join(&room).await.unwrap();
    let send = |from, text: &str| {
        fake.world()
            .lock()
            .unwrap()
            .send_text(from, Peer::Chat(group), text)
            .unwrap()
    };
    let warm_up = send(bob, "warm-up");
    expect_event(&owner, &bridge, "warm-up", |e| {
        message_in(e, &room, "warm-up")
    })
    .await;

    // The first half of a burst (the owner's own message among them), a
    // crash while the bridge is busy with it, and the second half while
    // the bridge is down.
    let body = |n: u32| format!("burst {n}");
    let from = |n: u32| if n == 10 { alice } else { bob };
    for n in 1..=15 {
        send(from(n), &body(n));
    }
    let deadline = Instant::now() + EVENT_TIMEOUT;
    while store.messages().newest_in_chat(chat).unwrap() < Some(warm_up + 3) {
        assert!(Instant::now() < deadline, "{}", bridge.log_tail());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bridge.kill();
    let bridged_before_crash = store.messages().newest_in_chat(chat).unwrap().unwrap() - warm_up;
    eprintln!(
        "{bridged_before_crash} of the first 15 burst messages were bridged before the crash"
    );
    for n in 16..=30 {
        send(from(n), &body(n));
    }
    // A chat nothing was ever bridged from gets its first message now.
    fake.world()
        .lock()
        .unwrap()
        .send_text(bob, Peer::Chat(quiet), "quiet 1")
        .unwrap();
    // The worst case for the crash: grammers had saved an update state past
    // every message of the burst, so Telegram's difference replays none of
    // them and only the bridge's own record can tell what is missing.
    let now = fake.world().lock().unwrap().state(alice);
    store
        .telegram_session()
        .set_update_state(UpdateState::All(UpdatesState {
            pts: now.pts,
            qts: now.qts,
            date: now.date,
            seq: now.seq,
            channels: Vec::new(),
        }))
        .await
        .unwrap();

    bridge.start();
    bridge.wait_ready(Duration::from_secs(60)).await;
    wait_for_log(&bridge, "caught up with missed messages", 2, EVENT_TIMEOUT).await;
    send(bob, "after the restart");
    expect_event(&owner, &bridge, "live message after the restart", |e| {
        message_in(e, &room, "after the restart")
    })
    .await;
    let quiet_room = portal_of(&store, PeerId::chat(quiet).unwrap(), &bridge)
        .await
        .room_id
        .to_string();
    owner.join(&quiet_room).await.unwrap();
    let quiet_bodies: Vec<Value> = timeline(&owner, &quiet_room)
        .await
        .iter()
        .map(|e| e["content"]["body"].clone())
        .collect();
    assert_eq!(
        quiet_bodies,
        vec![json!("quiet 1")],
        "{}",
        bridge.log_tail()
    );

    let events = timeline(&owner, &room).await;
    let bodies: Vec<&str> = events
        .iter()
        .filter_map(|e| e["content"]["body"].as_str())
        .collect();
    let mut expected = vec!["warm-up".to_owned()];
    expected.extend((1..=30).map(body));
    expected.push("after the restart".to_owned());
    assert_eq!(
        bodies,
        expected,
        "{bridged_before_crash} of the burst were bridged before the crash\n{}",
        bridge.log_tail()
    );
    let owner_ghost = format!("@rsttg_{alice}:localhost");
    let bob_ghost = format!("@rsttg_{bob}:localhost");
    for event in &events {
        let expected_sender = if event["content"]["body"] == "burst 10" {
            &owner_ghost
        } else {
            &bob_ghost
        };
        assert_eq!(event["sender"], expected_sender.as_str(), "{event}");
    }
    assert!(
        bridge.log().contains("missed messages bridged"),
        "the gap was filled from the chat's history"
    );
    let status = bridge.terminate();
    assert!(status.success(), "{status}");
}
