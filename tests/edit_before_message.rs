//! End to end, an edit that overtakes its message: the bridge binary logged
//! into the fake Telegram datacenter next to a real homeserver (Synapse and
//! Conduit). Every Telegram connection drops and the client's request for
//! the missed updates has to wait out a flood wait; meanwhile a message is
//! sent and then edited. The edit is pushed live before the missed updates
//! (which hold the message) arrive. The room ends up with the message once,
//! as edited.

mod appservice_support;

use std::time::Duration;

use appservice_support::telegram::{configure, send_on_telegram, start_in_group, user, NO_HISTORY};
use appservice_support::{bodies_from, default_homeserver, expect_event, message_in, Bridges};
use fake_telegram::world::Peer;
use fake_telegram::{FakeTelegram, RpcError};
use testkit::{Homeserver, HomeserverKind};

/// The flood wait on the client's request for the missed updates.
const FLOOD_WAIT: u32 = 8;

async fn server(kind: HomeserverKind) -> (&'static Homeserver, &'static Bridges) {
    default_homeserver(kind, &["ebm"]).await
}

on_both_servers!(an_edit_pushed_before_its_message_leaves_the_message_once_as_edited);

async fn an_edit_pushed_before_its_message_leaves_the_message_once_as_edited(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("ebm");
    configure(&bridge, NO_HISTORY);
    let fake = FakeTelegram::start().await;
    let (alice, bob, group) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15551101"));
        let bob = w.add_user(user("Bob", "15551102"));
        let group = w.create_group(bob, "Overtaken", &[alice]).unwrap();
        (alice, bob, group)
    };
    let peer = Peer::Chat(group);
    let (owner, room) = start_in_group(server, &mut bridge, &fake, alice, group).await;
    send_on_telegram(&fake, bob, peer, "before");
    expect_event(&owner, &bridge, "before", |e| {
        message_in(e, &room, "before")
    })
    .await;

    fake.fail_next("updates.getDifference", RpcError::flood_wait(FLOOD_WAIT));
    fake.drop_connections();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let id = send_on_telegram(&fake, bob, peer, "first draft");
    // Once the connection gets pushes again, well within the flood wait.
    tokio::time::sleep(Duration::from_secs(4)).await;
    fake.world()
        .lock()
        .unwrap()
        .edit_text(bob, peer, id, "final text")
        .unwrap();
    send_on_telegram(&fake, bob, peer, "after");
    expect_event(&owner, &bridge, "after", |e| message_in(e, &room, "after")).await;

    let ghost = format!("@ebmtg_{bob}:localhost");
    assert_eq!(
        bodies_from(&owner, &room, &ghost).await,
        ["before", "final text", "after"],
        "{}",
        bridge.log_tail()
    );
    // The case above, not a lucky order.
    assert!(
        bridge.log().contains("an edit arrived before its message"),
        "the edit did not overtake its message this time\n{}",
        bridge.log_tail()
    );
}
