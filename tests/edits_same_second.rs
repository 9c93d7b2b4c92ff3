//! End to end, two edits of one message within the same second, both ways:
//! the bridge binary logged into the fake Telegram datacenter next to a
//! real homeserver (Synapse and Conduit). Telegram dates edits to the
//! second, so the date alone cannot tell the second edit from a repeat of
//! the first, nor the owner's own edit from its echo. A Telegram user's two
//! quick edits both reach the room, in order; the owner's two quick edits
//! both reach Telegram, and neither comes back into the room.

mod appservice_support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use appservice_support::telegram::{configure, start_in_group, user, NO_HISTORY};
use appservice_support::{
    default_homeserver, event_id, expect_event, message_in, poll_until, Bridges, EVENT_TIMEOUT,
};
use fake_telegram::world::Peer;
use fake_telegram::FakeTelegram;
use serde_json::json;
use testkit::{Homeserver, HomeserverKind, TestUser};

async fn server(kind: HomeserverKind) -> (&'static Homeserver, &'static Bridges) {
    default_homeserver(kind, &["eds"]).await
}

on_both_servers!(two_edits_within_one_second_are_both_bridged_and_never_echoed);

/// Sleeps until just after the wall clock's next full second, so what
/// follows within a few hundred milliseconds shares one Telegram date.
async fn start_of_next_second() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let into_second = Duration::from_nanos(u64::from(now.subsec_nanos()));
    tokio::time::sleep(Duration::from_secs(1) - into_second + Duration::from_millis(5)).await;
}

/// The bodies of the replacements of `original` in `room`, oldest first.
async fn replacements_of(owner: &TestUser, room: &str, original: &str) -> Vec<String> {
    let mut events = owner.room_messages(room, 200).await.unwrap();
    events.reverse();
    events
        .iter()
        .filter(|e| {
            e["type"] == "m.room.message"
                && e["content"]["m.relates_to"]["rel_type"] == "m.replace"
                && e["content"]["m.relates_to"]["event_id"] == original
        })
        .filter_map(|e| e["content"]["m.new_content"]["body"].as_str())
        .map(str::to_owned)
        .collect()
}

async fn two_edits_within_one_second_are_both_bridged_and_never_echoed(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("eds");
    configure(&bridge, NO_HISTORY);
    let fake = FakeTelegram::start().await;
    let (alice, bob, group) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550901"));
        let bob = w.add_user(user("Bob", "15550902"));
        let group = w.create_group(bob, "Drafts", &[alice]).unwrap();
        (alice, bob, group)
    };
    let peer = Peer::Chat(group);
    let (owner, room) = start_in_group(server, &mut bridge, &fake, alice, group).await;

    // Telegram → Matrix: Bob corrects himself twice at once.
    let draft = fake
        .world()
        .lock()
        .unwrap()
        .send_text(bob, peer, "draft")
        .unwrap();
    let original =
        event_id(&expect_event(&owner, &bridge, "draft", |e| message_in(e, &room, "draft")).await);
    start_of_next_second().await;
    {
        let world = fake.world();
        let mut w = world.lock().unwrap();
        w.edit_text(bob, peer, draft, "second draft").unwrap();
        w.edit_text(bob, peer, draft, "final").unwrap();
    }
    expect_event(&owner, &bridge, "the second edit", |e| {
        message_in(e, &room, "* final")
    })
    .await;
    assert_eq!(
        replacements_of(&owner, &room, &original).await,
        ["second draft", "final"]
    );

    // Matrix → Telegram: the owner does the same.
    let mine = owner.send_text(&room, "typo").await.unwrap();
    let on_telegram = poll_until(
        "the owner's message on Telegram",
        &bridge,
        EVENT_TIMEOUT,
        || {
            let world = fake.world();
            let w = world.lock().unwrap();
            w.history(alice, peer)
                .into_iter()
                .find(|m| m.text == "typo")
        },
    )
    .await;
    start_of_next_second().await;
    for fixed in ["typo fixed", "typo fixed twice"] {
        let edit = json!({
            "msgtype": "m.text",
            "body": format!("* {fixed}"),
            "m.new_content": { "msgtype": "m.text", "body": fixed },
            "m.relates_to": { "rel_type": "m.replace", "event_id": mine },
        });
        owner
            .send_event(&room, "m.room.message", &edit)
            .await
            .unwrap();
    }
    poll_until("both edits on Telegram", &bridge, EVENT_TIMEOUT, || {
        let world = fake.world();
        let w = world.lock().unwrap();
        w.history(alice, peer)
            .into_iter()
            .find(|m| m.id == on_telegram.id && m.text == "typo fixed twice")
    })
    .await;
    // Telegram echoes both edits; a message after them has been through
    // the same chat queue, so any echo would be in the room by then.
    fake.world()
        .lock()
        .unwrap()
        .send_text(bob, peer, "after the edits")
        .unwrap();
    expect_event(&owner, &bridge, "after the edits", |e| {
        message_in(e, &room, "after the edits")
    })
    .await;
    assert_eq!(
        replacements_of(&owner, &room, &mine).await,
        ["typo fixed", "typo fixed twice"],
        "only the owner's own edits, no echo"
    );
}
