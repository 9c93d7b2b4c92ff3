//! End to end, across outages: the bridge binary logged into the fake
//! Telegram datacenter next to a real homeserver (each scenario runs on
//! Synapse and on Conduit), while one side or the other goes away. A
//! homeserver down for longer than the client's retries (and the bridge
//! killed during a second outage, the owner writing before it is back),
//! Telegram unreachable while messages flow both ways (longer than the
//! bridge's retries of a send, the owner renaming the room meanwhile), and
//! Telegram refusing sends with a transient
//! and then a permanent error. After each, every message exists exactly
//! once on the other side, in order, and the bridge process kept running.

mod appservice_support;

use std::time::{Duration, Instant};

use appservice_support::telegram::{
    configure, own_texts, portal_of, send_on_telegram, start_logged_in, user, wait_for_log,
    with_own_homeserver, NO_HISTORY,
};
use appservice_support::{
    bodies_from, default_homeserver, expect_event, is_notice_from, message_in, BridgeInstance,
    Bridges, EVENT_TIMEOUT,
};
use fake_telegram::world::{OutgoingMessage, Peer, UserId};
use fake_telegram::{FakeTelegram, RpcError};
use grammers_session::types::PeerId;
use grammers_tl_types as tl;
use serde_json::json;
use testkit::{Homeserver, HomeserverKind, Method, TestUser};
use tgbridge::store::Store;

/// Shared by the tests that keep the homeserver running; the homeserver
/// outage test stops its own.
/// Longer than the Matrix client's own retries of one request (about
/// 32 s), so the outage is one the bridge itself has to wait out.
const LONG_OUTAGE: Duration = Duration::from_secs(40);

/// Longer than the bridge's tries of a send that failed for a network
/// reason (about 15 s), so the outage is one it has to wait out.
const TELEGRAM_OUTAGE: Duration = Duration::from_secs(25);

async fn server(kind: HomeserverKind) -> (&'static Homeserver, &'static Bridges) {
    default_homeserver(kind, &["tgo", "sne"]).await
}

on_both_servers!(
    homeserver_outage_loses_and_repeats_nothing,
    telegram_outage_loses_and_repeats_nothing_either_way,
    telegram_errors_are_retried_or_reported_and_bad_input_is_bridged,
);

/// Waits until `sender` has sent at least as many messages to `room` as
/// `expected` lists (or `timeout` passes), then lets a late duplicate show
/// up before asserting the exact list.
async fn assert_bodies(
    owner: &TestUser,
    bridge: &BridgeInstance,
    room: &str,
    sender: &str,
    expected: &[String],
    timeout: Duration,
) {
    let deadline = Instant::now() + timeout;
    while bodies_from(owner, room, sender).await.len() < expected.len() && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        bodies_from(owner, room, sender).await,
        expected,
        "messages of {sender} in {room}\n{}",
        bridge.log_tail()
    );
}

/// Waits until Telegram shows `expected` as the owner's messages in `peer`
/// (at least as many), then gives a duplicate a moment before asserting.
async fn assert_own_texts(
    fake: &FakeTelegram,
    bridge: &BridgeInstance,
    owner: UserId,
    peer: Peer,
    expected: &[String],
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while own_texts(fake, owner, peer).len() < expected.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        own_texts(fake, owner, peer),
        expected,
        "the owner's messages on Telegram\n{}",
        bridge.log_tail()
    );
}

fn numbered(prefix: &str, range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|n| format!("{prefix} {n}")).collect()
}

async fn homeserver_outage_loses_and_repeats_nothing(kind: HomeserverKind) {
    // Its own server, since this test stops it.
    let (mut bridge, mut server) = with_own_homeserver(kind, "hso", NO_HISTORY).await;

    let fake = FakeTelegram::start().await;
    let (alice, bob, carol, first, second) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550301"));
        let bob = w.add_user(user("Bob", "15550302"));
        let carol = w.add_user(user("Carol", "15550303"));
        let first = w.create_group(bob, "First", &[alice, carol]).unwrap();
        let second = w.create_group(carol, "Second", &[alice, bob]).unwrap();
        (alice, bob, carol, Peer::Chat(first), Peer::Chat(second))
    };
    let owner = start_logged_in(&server, &mut bridge, &fake, alice).await;
    wait_for_log(&bridge, "caught up with missed messages", 1, EVENT_TIMEOUT).await;

    let store = Store::open(&bridge.database_path).unwrap();
    let chat_id = |peer: Peer| match peer {
        Peer::Chat(id) => PeerId::chat(id).unwrap(),
        other => panic!("not a basic group: {other:?}"),
    };
    let rooms = [
        portal_of(&store, chat_id(first), &bridge)
            .await
            .room_id
            .to_string(),
        portal_of(&store, chat_id(second), &bridge)
            .await
            .room_id
            .to_string(),
    ];
    let chats = [(first, bob), (second, carol)];
    let ghosts = [
        format!("@hsotg_{bob}:localhost"),
        format!("@hsotg_{carol}:localhost"),
    ];
    for (room, (chat, from)) in rooms.iter().zip(chats) {
        owner.join(room).await.unwrap();
        send_on_telegram(&fake, from, chat, "warm-up");
        expect_event(&owner, &bridge, "warm-up", |e| {
            message_in(e, room, "warm-up")
        })
        .await;
    }

    // The owner writes in First and the homeserver goes away at once,
    // perhaps before it passed the message on to the bridge.
    owner.send_text(&rooms[0], "just before").await.unwrap();
    // A long outage: Telegram users keep writing to both chats.
    server.stop().unwrap();
    for n in 1..=10 {
        for (chat, from) in chats {
            send_on_telegram(&fake, from, chat, &format!("during {n}"));
        }
    }
    tokio::time::sleep(LONG_OUTAGE).await;
    assert!(
        bridge.is_running(),
        "the bridge exited during the outage\n{}",
        bridge.log_tail()
    );
    server.restart().await.unwrap();
    // The owner writes again as soon as the homeserver is back.
    let mut owner_expected = vec!["just before".to_owned()];
    for text in numbered("back", 1..=3) {
        owner.send_text(&rooms[0], &text).await.unwrap();
        owner_expected.push(text);
    }
    let mut expected = vec!["warm-up".to_owned()];
    expected.extend(numbered("during", 1..=10));
    for (room, ghost) in rooms.iter().zip(&ghosts) {
        assert_bodies(
            &owner,
            &bridge,
            room,
            ghost,
            &expected,
            Duration::from_secs(90),
        )
        .await;
    }
    assert_own_texts(&fake, &bridge, alice, first, &owner_expected).await;
    assert!(bridge.is_running(), "{}", bridge.log_tail());
    assert!(
        bridge.log().contains("the homeserver is back"),
        "the bridge waited the outage out itself\n{}",
        bridge.log_tail()
    );

    // A second outage during which the bridge crashes; the owner writes
    // once the homeserver is back but before the bridge is, and the bridge
    // starts again.
    server.stop().unwrap();
    for n in 1..=5 {
        for (chat, from) in chats {
            send_on_telegram(&fake, from, chat, &format!("crash {n}"));
        }
    }
    // Let the messages reach the bridge (and the stuck sends begin).
    tokio::time::sleep(Duration::from_secs(3)).await;
    bridge.kill();
    server.restart().await.unwrap();
    for text in numbered("unheard", 1..=3) {
        owner.send_text(&rooms[0], &text).await.unwrap();
        owner_expected.push(text);
    }
    bridge.start();
    bridge.wait_ready(Duration::from_secs(60)).await;
    wait_for_log(&bridge, "caught up with missed messages", 2, EVENT_TIMEOUT).await;
    for (chat, from) in chats {
        send_on_telegram(&fake, from, chat, "after");
    }
    owner.send_text(&rooms[0], "owner after").await.unwrap();
    owner_expected.push("owner after".to_owned());
    expected.extend(numbered("crash", 1..=5));
    expected.push("after".to_owned());
    for (room, ghost) in rooms.iter().zip(&ghosts) {
        assert_bodies(&owner, &bridge, room, ghost, &expected, EVENT_TIMEOUT).await;
    }
    assert_own_texts(&fake, &bridge, alice, first, &owner_expected).await;
    // The owner's messages are in the room once each (none came back from
    // Telegram as a second copy), and nothing was given up with a notice.
    assert_eq!(
        bodies_from(&owner, &rooms[0], &owner.user_id).await,
        owner_expected
    );
    for room in &rooms {
        assert_eq!(
            bodies_from(&owner, room, &bridge.bot_user_id).await,
            Vec::<String>::new()
        );
    }
    bridge.stop();
}

async fn telegram_outage_loses_and_repeats_nothing_either_way(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("tgo");
    configure(&bridge, NO_HISTORY);

    let fake = FakeTelegram::start().await;
    let (alice, bob, chat) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550401"));
        let bob = w.add_user(user("Bob", "15550402"));
        // The owner's own group, so their portal rights allow renaming it.
        let chat = w.create_group(alice, "Outage", &[bob]).unwrap();
        (alice, bob, chat)
    };
    let peer = Peer::Chat(chat);
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
    wait_for_log(&bridge, "caught up with missed messages", 1, EVENT_TIMEOUT).await;
    let store = Store::open(&bridge.database_path).unwrap();
    let room = portal_of(&store, PeerId::chat(chat).unwrap(), &bridge)
        .await
        .room_id
        .to_string();
    owner.join(&room).await.unwrap();
    send_on_telegram(&fake, bob, peer, "warm-up");
    expect_event(&owner, &bridge, "warm-up", |e| {
        message_in(e, &room, "warm-up")
    })
    .await;

    // Telegram goes away for longer than the bridge's retries of a failed
    // send: every connection is refused.
    fake.set_offline(true);
    let from_matrix = numbered("from matrix", 1..=5);
    let from_telegram = numbered("from telegram", 1..=5);
    for (matrix, telegram) in from_matrix.iter().zip(&from_telegram) {
        owner.send_text(&room, matrix).await.unwrap();
        send_on_telegram(&fake, bob, peer, telegram);
    }
    // The owner also renames the room and changes its topic meanwhile.
    for (event_type, content) in [
        ("m.room.name", json!({ "name": "Outage, renamed" })),
        (
            "m.room.topic",
            json!({ "topic": "Written while Telegram was away" }),
        ),
    ] {
        owner
            .api()
            .ok(
                Method::PUT,
                &format!("/_matrix/client/v3/rooms/{room}/state/{event_type}/"),
                Some(&content),
            )
            .await
            .unwrap();
    }
    tokio::time::sleep(TELEGRAM_OUTAGE).await;
    assert!(bridge.is_running(), "{}", bridge.log_tail());
    assert_eq!(own_texts(&fake, alice, peer), Vec::<String>::new());
    fake.set_offline(false);
    send_on_telegram(&fake, bob, peer, "after");

    assert_own_texts(&fake, &bridge, alice, peer, &from_matrix).await;
    let deadline = Instant::now() + EVENT_TIMEOUT;
    let chat_info = || {
        let world = fake.world();
        let w = world.lock().unwrap();
        let group = w.chat(chat).unwrap();
        (group.title.clone(), group.about.clone())
    };
    while chat_info().0 != "Outage, renamed" && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        chat_info(),
        (
            "Outage, renamed".to_owned(),
            "Written while Telegram was away".to_owned()
        ),
        "{}",
        bridge.log_tail()
    );
    let mut expected = vec!["warm-up".to_owned()];
    expected.extend(from_telegram);
    expected.push("after".to_owned());
    let bob_ghost = format!("@tgotg_{bob}:localhost");
    assert_bodies(&owner, &bridge, &room, &bob_ghost, &expected, EVENT_TIMEOUT).await;
    // The owner's messages are in the room once each: none came back from
    // Telegram as a second copy.
    assert_eq!(
        bodies_from(&owner, &room, &owner.user_id).await,
        from_matrix
    );
    // Nothing was given up: no failure notice.
    assert_eq!(
        bodies_from(&owner, &room, &bridge.bot_user_id).await,
        Vec::<String>::new()
    );
    assert!(bridge.is_running(), "{}", bridge.log_tail());
    bridge.stop();
}

async fn telegram_errors_are_retried_or_reported_and_bad_input_is_bridged(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("sne");
    configure(&bridge, NO_HISTORY);

    let fake = FakeTelegram::start().await;
    let (alice, bob, chat) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550501"));
        let bob = w.add_user(user("Bob", "15550502"));
        let chat = w.create_group(bob, "Errors", &[alice]).unwrap();
        (alice, bob, chat)
    };
    let peer = Peer::Chat(chat);
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
    let store = Store::open(&bridge.database_path).unwrap();
    let room = portal_of(&store, PeerId::chat(chat).unwrap(), &bridge)
        .await
        .room_id
        .to_string();
    owner.join(&room).await.unwrap();

    // A transient error is retried: the message arrives once.
    fake.fail_next("messages.sendMessage", RpcError::new(500, "INTERNAL"));
    owner.send_text(&room, "one").await.unwrap();
    assert_own_texts(&fake, &bridge, alice, peer, &["one".to_owned()]).await;

    // A permanent refusal becomes a notice in the room; the next message
    // goes through.
    fake.fail_next(
        "messages.sendMessage",
        RpcError::bad_request("CHAT_WRITE_FORBIDDEN"),
    );
    owner.send_text(&room, "two").await.unwrap();
    let notice = expect_event(&owner, &bridge, "failure notice", |e| {
        e["room_id"] == room.as_str()
            && is_notice_from(e, &bridge.bot_user_id, "could not be delivered to Telegram")
    })
    .await;
    let text = notice["content"]["body"].as_str().unwrap();
    assert!(
        text.starts_with("Your message could not be delivered to Telegram")
            && text.contains("CHAT_WRITE_FORBIDDEN"),
        "{text}"
    );
    owner.send_text(&room, "three").await.unwrap();
    assert_own_texts(
        &fake,
        &bridge,
        alice,
        peer,
        &["one".to_owned(), "three".to_owned()],
    )
    .await;
    let failed: Vec<String> = fake
        .calls()
        .iter()
        .filter(|c| c.method == "messages.sendMessage")
        .filter_map(|c| c.error.clone())
        .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");

    // Hostile input from Telegram: entities pointing past the end of the
    // text, and a text far beyond Telegram's own limit. Both are bridged.
    let bad_entities = OutgoingMessage {
        text: "short".into(),
        entities: vec![
            tl::types::MessageEntityBold {
                offset: 3,
                length: 400,
            }
            .into(),
            tl::types::MessageEntityItalic {
                offset: 1000,
                length: 5,
            }
            .into(),
            tl::types::MessageEntityBold {
                offset: -4,
                length: 2,
            }
            .into(),
        ],
        ..OutgoingMessage::default()
    };
    fake.world()
        .lock()
        .unwrap()
        .send_message(bob, peer, bad_entities)
        .unwrap();
    let event = expect_event(&owner, &bridge, "entities out of range", |e| {
        message_in(e, &room, "short")
    })
    .await;
    assert_eq!(event["content"]["msgtype"], "m.text");
    let huge = "x".repeat(30_000);
    send_on_telegram(&fake, bob, peer, &huge);
    send_on_telegram(&fake, bob, peer, "still here");
    let bob_ghost = format!("@snetg_{bob}:localhost");
    assert_bodies(
        &owner,
        &bridge,
        &room,
        &bob_ghost,
        &["short".to_owned(), huge, "still here".to_owned()],
        EVENT_TIMEOUT,
    )
    .await;
    // Nothing the owner sent came back as a duplicate.
    assert_eq!(
        bodies_from(&owner, &room, &owner.user_id).await,
        ["one", "two", "three"]
    );
    assert!(bridge.is_running(), "{}", bridge.log_tail());
    bridge.stop();
}
