//! End to end, a send the homeserver took but the bridge never recorded:
//! the bridge binary logged into the fake Telegram datacenter next to a
//! real homeserver (Synapse and Conduit). The bridge dies (a debug-only
//! test hook aborts it) right after the homeserver stored a Telegram
//! message and before the bridge wrote it down; the homeserver restarts
//! too, which makes Synapse forget the transaction ids of appservice
//! users. At the next start the bridge applies the message again from its
//! inbox, finds it already in the room, and does not send it a second time.

mod appservice_support;

use std::time::Duration;

use appservice_support::telegram::{
    send_on_telegram, start_in_group, user, with_own_homeserver, NO_HISTORY,
};
use appservice_support::{bodies_from, expect_event, message_in, EVENT_TIMEOUT};
use fake_telegram::world::Peer;
use fake_telegram::FakeTelegram;
use testkit::HomeserverKind;
use tgbridge::bridge::containment::TEST_CRASH_VAR;

/// The text whose bridging kills the bridge.
const FATAL: &str = "stored, never recorded";

on_both_servers!(a_message_the_homeserver_took_before_a_crash_is_not_sent_twice);

async fn a_message_the_homeserver_took_before_a_crash_is_not_sent_twice(kind: HomeserverKind) {
    // Its own server, since this test restarts it.
    let (mut bridge, mut server) = with_own_homeserver(kind, "rsd", NO_HISTORY).await;
    bridge.set_env(TEST_CRASH_VAR, FATAL);
    let fake = FakeTelegram::start().await;
    let (alice, bob, group) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15551001"));
        let bob = w.add_user(user("Bob", "15551002"));
        let group = w.create_group(bob, "Twice", &[alice]).unwrap();
        (alice, bob, group)
    };
    let peer = Peer::Chat(group);
    let (owner, room) = start_in_group(&server, &mut bridge, &fake, alice, group).await;
    let send = |text: &str| {
        send_on_telegram(&fake, bob, peer, text);
    };
    send("before");
    expect_event(&owner, &bridge, "before", |e| {
        message_in(e, &room, "before")
    })
    .await;

    send(FATAL);
    expect_event(&owner, &bridge, FATAL, |e| message_in(e, &room, FATAL)).await;
    let deadline = std::time::Instant::now() + EVENT_TIMEOUT;
    while bridge.is_running() {
        assert!(
            std::time::Instant::now() < deadline,
            "the test hook did not stop the bridge"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Reaps the dead bridge (kill only signals a live one).
    bridge.kill();
    server.stop().unwrap();
    server.restart().await.unwrap();
    bridge.set_env(TEST_CRASH_VAR, "");
    bridge.start();
    bridge.wait_ready(Duration::from_secs(60)).await;
    send("after");
    expect_event(&owner, &bridge, "after", |e| message_in(e, &room, "after")).await;

    let ghost = format!("@rsdtg_{bob}:localhost");
    assert_eq!(
        bodies_from(&owner, &room, &ghost).await,
        ["before", FATAL, "after"],
        "{}",
        bridge.log_tail()
    );
}
