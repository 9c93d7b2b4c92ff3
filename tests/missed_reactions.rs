//! End to end, reactions set while the bridge was away from Telegram: the
//! bridge binary logged into the fake Telegram datacenter next to a real
//! homeserver (Synapse and Conduit). Telegram repeats missed messages, edits
//! and deletions, but not reactions, which carry no update number. A
//! reaction set while the bridge is killed (kill -9), and one set while
//! every connection to Telegram is refused, both reach the room once the
//! bridge is back, exactly once, and a further restart adds nothing.

mod appservice_support;

use std::time::Duration;

use appservice_support::telegram::{configure, start_in_group, user, NO_HISTORY};
use appservice_support::{
    default_homeserver, expect_event, message_in, poll_until, Bridges, EVENT_TIMEOUT,
};
use fake_telegram::world::{Peer, UserId};
use fake_telegram::FakeTelegram;
use serde_json::Value;
use testkit::{Homeserver, HomeserverKind, TestUser};

/// How long Telegram stays unreachable.
const TELEGRAM_OUTAGE: Duration = Duration::from_secs(5);

async fn server(kind: HomeserverKind) -> (&'static Homeserver, &'static Bridges) {
    default_homeserver(kind, &["mrx"]).await
}

on_both_servers!(reactions_set_while_the_bridge_was_away_reach_the_room_once);

/// Whether `event` is `sender`'s reaction `key` on `target`.
fn is_reaction(event: &Value, target: &str, sender: &str, key: &str) -> bool {
    event["type"] == "m.reaction"
        && event["sender"] == sender
        && event["content"]["m.relates_to"]["event_id"] == target
        && event["content"]["m.relates_to"]["key"] == key
}

/// The reactions (sender, key) on `target` in `room`, as the room holds them.
async fn reactions_on(owner: &TestUser, room: &str, target: &str) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = owner
        .room_messages(room, 200)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e["type"] == "m.reaction" && e["content"]["m.relates_to"]["event_id"] == target)
        .map(|e| {
            let key = e["content"]["m.relates_to"]["key"]
                .as_str()
                .unwrap_or_default();
            (
                e["sender"].as_str().unwrap_or_default().to_owned(),
                key.to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

fn react(fake: &FakeTelegram, by: UserId, peer: Peer, text: &str, emoji: &str) {
    let world = fake.world();
    let mut w = world.lock().unwrap();
    let id = w
        .history(by, peer)
        .into_iter()
        .find(|m| m.text == text)
        .unwrap_or_else(|| panic!("no message {text:?}"))
        .id;
    w.react(by, peer, id, Some(emoji)).unwrap();
}

async fn reactions_set_while_the_bridge_was_away_reach_the_room_once(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("mrx");
    configure(&bridge, NO_HISTORY);
    let fake = FakeTelegram::start().await;
    let (alice, bob, carol, group) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550801"));
        let bob = w.add_user(user("Bob", "15550802"));
        let carol = w.add_user(user("Carol", "15550803"));
        let group = w.create_group(bob, "Likes", &[alice, carol]).unwrap();
        (alice, bob, carol, group)
    };
    let peer = Peer::Chat(group);
    let (owner, room) = start_in_group(server, &mut bridge, &fake, alice, group).await;
    let text = "react to this";
    fake.world()
        .lock()
        .unwrap()
        .send_text(bob, peer, text)
        .unwrap();
    let target = expect_event(&owner, &bridge, text, |e| message_in(e, &room, text)).await;
    let target = target["event_id"].as_str().unwrap().to_owned();
    let ghost = |id: UserId| format!("@mrxtg_{id}:localhost");

    // Killed: Telegram keeps no update of the reaction for the bridge.
    bridge.kill();
    react(&fake, bob, peer, text, "👍");
    bridge.start();
    bridge.wait_ready(Duration::from_secs(60)).await;
    expect_event(&owner, &bridge, "the reaction set while stopped", |e| {
        is_reaction(e, &target, &ghost(bob), "👍")
    })
    .await;

    // Unreachable: every connection is refused while Carol reacts.
    fake.set_offline(true);
    react(&fake, carol, peer, text, "😁");
    tokio::time::sleep(TELEGRAM_OUTAGE).await;
    assert!(bridge.is_running(), "{}", bridge.log_tail());
    fake.set_offline(false);
    expect_event(&owner, &bridge, "the reaction set while unreachable", |e| {
        is_reaction(e, &target, &ghost(carol), "😁")
    })
    .await;

    // Once each, and a further restart reads them again and adds nothing.
    let expected = vec![
        (ghost(bob), "👍".to_owned()),
        (ghost(carol), "😁".to_owned()),
    ];
    assert_eq!(reactions_on(&owner, &room, &target).await, expected);
    let asked = || fake.call_count("messages.getMessagesReactions");
    // Counted before the restart: the new start may ask before it reports
    // ready.
    let before = asked();
    bridge.kill();
    bridge.start();
    bridge.wait_ready(Duration::from_secs(60)).await;
    poll_until("the reactions read again", &bridge, EVENT_TIMEOUT, || {
        (asked() > before).then_some(())
    })
    .await;
    // The answer is bridged like a live change; give it time to (not) land.
    let marker = "after the restart";
    fake.world()
        .lock()
        .unwrap()
        .send_text(bob, peer, marker)
        .unwrap();
    expect_event(&owner, &bridge, marker, |e| message_in(e, &room, marker)).await;
    assert_eq!(reactions_on(&owner, &room, &target).await, expected);
}
