//! End to end: what the owner does in a portal while the bridge is stopped
//! reaches Telegram soon after the bridge starts again, exactly once and in
//! order, whether or not the homeserver ever retries the transactions the
//! bridge missed (Conduit retries only when a later event arrives). The
//! bridge reads the portals' timelines back at start through the bot's own
//! device; the homeserver's later retry of the same events changes nothing.

mod appservice_support;

use std::time::{Duration, Instant};

use appservice_support::telegram::{own_texts, portal_of, start_logged_in, user};
use appservice_support::{default_homeserver, send_text, BridgeInstance, Bridges};
use fake_telegram::world::{Peer, UserId};
use fake_telegram::FakeTelegram;
use grammers_session::types::PeerId;
use serde_json::Value;
use testkit::{Homeserver, HomeserverKind};
use tgbridge::store::Store;

async fn server(kind: HomeserverKind) -> (&'static Homeserver, &'static Bridges) {
    default_homeserver(kind, &["mis"]).await
}

async fn wait_for_texts(
    fake: &FakeTelegram,
    bridge: &BridgeInstance,
    viewer: UserId,
    chat: Peer,
    count: usize,
    timeout: Duration,
) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let texts = own_texts(fake, viewer, chat);
        if texts.len() >= count {
            return texts;
        }
        assert!(
            Instant::now() < deadline,
            "only {texts:?} reached Telegram\n{}",
            bridge.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

on_both_servers!(what_the_owner_sends_while_the_bridge_is_stopped_arrives_once);

async fn what_the_owner_sends_while_the_bridge_is_stopped_arrives_once(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("mis");

    let fake = FakeTelegram::start().await;
    let (alice, group) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550301"));
        let bob = w.add_user(user("Bob", "15550302"));
        let group = w.create_group(bob, "Away", &[alice]).unwrap();
        (alice, group)
    };
    let chat = Peer::Chat(group);
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
    let room = {
        let store = Store::open(&bridge.database_path).unwrap();
        let portal = portal_of(&store, PeerId::chat(group).unwrap(), &bridge).await;
        portal.room_id.to_string()
    };
    owner.join(&room).await.unwrap();
    send_text(&owner, &room, "before").await;
    wait_for_texts(&fake, &bridge, alice, chat, 1, Duration::from_secs(30)).await;

    // A crash, not a clean stop: the homeserver's transactions fail until
    // the bridge is back.
    bridge.kill();
    let away: Vec<String> = (1..=3).map(|n| format!("while away {n}")).collect();
    for text in &away {
        send_text(&owner, &room, text).await;
    }
    bridge.start();
    bridge.wait_ready(Duration::from_secs(60)).await;
    let started = Instant::now();
    let texts = wait_for_texts(&fake, &bridge, alice, chat, 4, Duration::from_secs(30)).await;
    eprintln!(
        "the owner's messages from while the bridge was away arrived {:?} after it was ready; {}",
        started.elapsed(),
        if bridge
            .log()
            .contains("queued the owner's events sent while the bridge was away")
        {
            "the bridge read them back itself"
        } else {
            "the homeserver sent them again"
        }
    );
    // A message after the start makes a homeserver that waits for a new
    // event retry the missed transactions now: they must not arrive twice.
    send_text(&owner, &room, "after").await;
    wait_for_texts(&fake, &bridge, alice, chat, 5, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut expected = vec!["before".to_owned()];
    expected.extend(away);
    expected.push("after".to_owned());
    assert_eq!(own_texts(&fake, alice, chat), expected, "{texts:?}");

    // Nothing the bridge delivered came back into the room as an echo.
    let timeline = owner.room_messages(&room, 50).await.unwrap();
    let from_owner = timeline
        .iter()
        .filter(|e| e["type"] == "m.room.message" && e["sender"] == owner.user_id.as_str())
        .count();
    assert_eq!(from_owner, 5, "{:?}", bodies(&timeline));
    bridge.terminate();
}

fn bodies(timeline: &[Value]) -> Vec<&str> {
    timeline
        .iter()
        .filter_map(|e| e["content"]["body"].as_str())
        .collect()
}
