//! End to end, a burst: the bridge binary logged into the fake Telegram
//! datacenter next to a real homeserver (Synapse and Conduit), while five
//! Telegram chats send 100 texts each at once. Every text reaches its portal
//! exactly once and in the chat's order, and nothing is left waiting in the
//! bridge's inbox.

mod appservice_support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use appservice_support::telegram::{
    configure, portal_of, start_logged_in, user, wait_for_log, NO_HISTORY,
};
use appservice_support::{bodies_from, default_homeserver, Bridges, EVENT_TIMEOUT};
use fake_telegram::world::Peer;
use fake_telegram::FakeTelegram;
use grammers_session::types::PeerId;
use testkit::{Homeserver, HomeserverKind};
use tgbridge::store::Store;

const CHATS: usize = 5;
const PER_CHAT: usize = 100;

async fn server(kind: HomeserverKind) -> (&'static Homeserver, &'static Bridges) {
    default_homeserver(kind, &["bst"]).await
}

on_both_servers!(a_burst_over_five_chats_arrives_once_and_in_order);

async fn a_burst_over_five_chats_arrives_once_and_in_order(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("bst");
    configure(&bridge, NO_HISTORY);
    let fake = FakeTelegram::start().await;
    let (alice, bob, groups) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550701"));
        let bob = w.add_user(user("Bob", "15550702"));
        let groups: Vec<_> = (0..CHATS)
            .map(|n| {
                w.create_group(bob, &format!("Burst {n}"), &[alice])
                    .unwrap()
            })
            .collect();
        (alice, bob, groups)
    };
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
    wait_for_log(&bridge, "caught up with missed messages", 1, EVENT_TIMEOUT).await;
    let store = Store::open(&bridge.database_path).unwrap();
    let mut rooms = HashMap::new();
    for &group in &groups {
        let room = portal_of(&store, PeerId::chat(group).unwrap(), &bridge)
            .await
            .room_id
            .to_string();
        owner.join(&room).await.unwrap();
        rooms.insert(group, room);
    }

    {
        let world = fake.world();
        let mut w = world.lock().unwrap();
        for n in 0..PER_CHAT {
            for &group in &groups {
                w.send_text(bob, Peer::Chat(group), &format!("burst {n}"))
                    .unwrap();
            }
        }
    }
    let ghost = format!("@bsttg_{bob}:localhost");
    let expected: Vec<String> = (0..PER_CHAT).map(|n| format!("burst {n}")).collect();
    let deadline = Instant::now() + Duration::from_secs(180);
    for (group, room) in &rooms {
        loop {
            let seen = bodies_from(&owner, room, &ghost).await;
            if seen.len() >= PER_CHAT {
                break;
            }
            if Instant::now() >= deadline {
                use grammers_session::Session as _;
                let saved = store.telegram_session().updates_state().await.unwrap();
                let server = fake.world().lock().unwrap().state(alice);
                let newest = store
                    .messages()
                    .newest_in_chat(PeerId::chat(*group).unwrap())
                    .unwrap();
                panic!(
                    "chat {group}: {} of {PER_CHAT} arrived; {} events wait in the inbox; newest bridged id {newest:?}; update state saved at pts {} of the server's {}\n{}",
                    seen.len(),
                    store.inbox().len().unwrap(),
                    saved.pts,
                    server.pts,
                    bridge.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for room in rooms.values() {
        assert_eq!(bodies_from(&owner, room, &ghost).await, expected);
    }
    assert_eq!(store.inbox().len().unwrap(), 0);
    assert!(bridge.is_running(), "{}", bridge.log_tail());
    bridge.stop();
}
