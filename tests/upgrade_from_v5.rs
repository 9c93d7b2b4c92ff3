//! End to end, an upgrade: a database in the layout of schema version 5
//! (the last release before the owner-event log, the quarantine, the inbox,
//! edit digests and forum topics), with rows in every table of that layout,
//! a Telegram session and an owner's message still in the outbox, opened by
//! this bridge next to a real homeserver (Synapse and Conduit) and the fake
//! Telegram datacenter. The file is migrated without losing a row, the
//! queued message reaches Telegram once, and nothing already bridged is
//! bridged again, in either direction.
//!
//! The version-5 file is made from a live run: the bridge bridges traffic
//! until every version-5 table has rows, is killed with the outbox
//! non-empty, and the tables and columns later migrations added are
//! removed, with their `schema_version` rows. What remains is what the
//! version-5 migrations create (later migrations only add tables and one
//! column), filled by real bridging against the homeserver of this run, so
//! that the rooms the rows name exist.

mod appservice_support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use appservice_support::telegram::{
    configure, history, own_texts, send_on_telegram, start_in_group, user, wait_sent, NO_HISTORY,
    PNG,
};
use appservice_support::BridgeInstance;
use appservice_support::{
    bodies_from, default_homeserver, event_id, expect_event, message_in, poll_until, EVENT_TIMEOUT,
};
use fake_telegram::world::UserId;
use fake_telegram::world::{MediaSpec, Origin, OutgoingMessage, Peer};
use fake_telegram::FakeTelegram;
use rusqlite::types::ValueRef;
use serde_json::json;
use testkit::{HomeserverKind, TestUser};

on_both_servers!(a_version_5_database_is_migrated_and_the_bridge_resumes_from_it);

/// The tables of schema version 5, each with the columns it had then.
const V5_TABLES: &[(&str, &str)] = &[
    ("telegram_dc", "dc_id, ipv4, ipv6, auth_key"),
    ("telegram_home_dc", "singleton, dc_id"),
    (
        "telegram_peer",
        "peer_id, access_hash, is_bot, is_self, channel_kind",
    ),
    ("telegram_update_state", "singleton, pts, qts, date, seq"),
    (
        "portal",
        "peer_id, kind, room_id, title, avatar_photo_id, avatar_mxc, encrypted, in_space",
    ),
    (
        "ghost",
        "user_id, registered, displayname, avatar_photo_id, avatar_mxc",
    ),
    (
        "message",
        "scope, tg_msg_id, part, chat_peer_id, room_id, event_id, sent_by_bridge",
    ),
    ("appservice_txn", "txn_id"),
    ("kv", "key"),
    (
        "reaction",
        "scope, tg_msg_id, reactor_id, emoji, chat_peer_id, room_id, event_id",
    ),
    ("message_edit", "scope, tg_msg_id"),
    ("chat_cursor", "chat_peer_id"),
    ("outbox", "room_id, event_id, event"),
    (
        "outbound_reaction",
        "event_id, room_id, target_event_id, emoji",
    ),
    ("media_cache", "kind, telegram_id, mxc, size, mime_type"),
];

/// Tables of version 5 that may legitimately lose rows once the bridge
/// runs: the delivered outbox entry leaves it, and the bridge prunes old
/// transaction ids and moves its update state forward.
const CHANGING: &[&str] = &[
    "outbox",
    "appservice_txn",
    "telegram_update_state",
    "telegram_dc",
];

/// What migrations 6 and later added, removed to return to version 5.
const AFTER_V5: &str = "
    DROP TABLE owner_event;
    DROP TABLE quarantine;
    DROP TABLE inbox;
    DROP TABLE early_deletion;
    DROP TABLE portal_topic;
    ALTER TABLE message_edit DROP COLUMN digests;
    DELETE FROM sqlite_sequence WHERE name = 'inbox';
    DELETE FROM schema_version WHERE version > 5;
";

async fn a_version_5_database_is_migrated_and_the_bridge_resumes_from_it(kind: HomeserverKind) {
    let (server, bridges) = default_homeserver(kind, &["upg"]).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("upg");
    configure(&bridge, NO_HISTORY);
    let fake = FakeTelegram::start().await;
    let (alice, bob, group) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15551501"));
        let bob = w.add_user(user("Bob", "15551502"));
        let group = w.create_group(bob, "Upgrade", &[alice]).unwrap();
        (alice, bob, group)
    };
    let peer = Peer::Chat(group);
    let (owner, room) = start_in_group(server, &mut bridge, &fake, alice, group).await;
    let ghost = bridge.ghost(bob);

    let hello = fill_every_version_5_table(&fake, &bridge, &owner, &room, (alice, bob, peer)).await;
    let hello_on_telegram = || {
        history(&fake, alice, peer)
            .into_iter()
            .find(|m| m.id == hello)
    };

    // The owner writes while Telegram refuses every connection, so the
    // message stays in the outbox; then the bridge is killed.
    fake.set_offline(true);
    owner.send_text(&room, "queued").await.unwrap();
    poll_until("the queued message", &bridge, EVENT_TIMEOUT, || {
        (count(&bridge.database_path, "outbox") > 0).then_some(())
    })
    .await;
    bridge.kill();
    assert_eq!(own_texts(&fake, alice, peer), ["from matrix"]);
    to_version_5(&bridge.database_path);
    let before = dump(&bridge.database_path);
    for (table, _) in V5_TABLES {
        assert!(
            !before[*table].is_empty(),
            "the version-5 file has rows in {table}"
        );
    }

    fake.set_offline(false);
    bridge.start();
    bridge.wait_ready(Duration::from_secs(60)).await;
    owner.send_text(&room, "after").await.unwrap();
    send_on_telegram(&fake, bob, peer, "after, from Telegram");
    wait_sent(&fake, &bridge, alice, peer, "after").await;
    expect_event(&owner, &bridge, "after, from Telegram", |e| {
        message_in(e, &room, "after, from Telegram")
    })
    .await;

    // The queued message reached Telegram once, before what followed it.
    assert_eq!(
        own_texts(&fake, alice, peer),
        ["from matrix", "queued", "after"],
        "{}",
        bridge.log_tail()
    );
    // Nothing from Telegram was bridged again.
    assert_eq!(
        bodies_from(&owner, &room, &ghost).await,
        [
            "hello",
            "* hello, edited",
            "a photo",
            "after, from Telegram"
        ],
        "{}",
        bridge.log_tail()
    );
    assert_eq!(
        hello_on_telegram().expect("hello on Telegram").reactions,
        [(alice, "👍".to_owned())]
    );
    // Migrated without loss: every row of version 5 is still there.
    let after = dump(&bridge.database_path);
    let version: i64 = rusqlite::Connection::open(&bridge.database_path)
        .unwrap()
        .query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        version,
        i64::from(tgbridge::store::Store::supported_schema_version())
    );
    for (table, _) in V5_TABLES.iter().filter(|(t, _)| !CHANGING.contains(t)) {
        let lost: Vec<_> = before[*table].difference(&after[*table]).collect();
        assert!(lost.is_empty(), "{table} lost {lost:?}");
    }
    bridge.stop();
}

/// Bridges traffic until every table of version 5 has rows: messages both
/// ways, an edit, a photo, a reaction each way and a rename. Returns the id
/// of the message the owner reacted to.
async fn fill_every_version_5_table(
    fake: &FakeTelegram,
    bridge: &BridgeInstance,
    owner: &TestUser,
    room: &str,
    (alice, bob, peer): (UserId, UserId, Peer),
) -> i32 {
    let hello = send_on_telegram(fake, bob, peer, "hello");
    let hello_event = expect_event(owner, bridge, "hello", |e| message_in(e, room, "hello")).await;
    fake.world()
        .lock()
        .unwrap()
        .edit_text(bob, peer, hello, "hello, edited")
        .unwrap();
    expect_event(owner, bridge, "the edit", |e| {
        e["room_id"] == room && e["content"]["m.new_content"]["body"] == "hello, edited"
    })
    .await;
    fake.world()
        .lock()
        .unwrap()
        .send_message(
            bob,
            peer,
            OutgoingMessage {
                media: Some(MediaSpec::Photo {
                    bytes: PNG.to_vec(),
                }),
                ..OutgoingMessage::text("a photo")
            },
        )
        .unwrap();
    expect_event(owner, bridge, "the photo", |e| {
        e["room_id"] == room && e["content"]["msgtype"] == "m.image"
    })
    .await;
    owner.send_text(room, "from matrix").await.unwrap();
    let sent = wait_sent(fake, bridge, alice, peer, "from matrix").await;
    fake.world()
        .lock()
        .unwrap()
        .react(bob, peer, sent.id, Some("🔥"))
        .unwrap();
    expect_event(owner, bridge, "Bob's reaction", |e| {
        e["room_id"] == room && e["type"] == "m.reaction"
    })
    .await;
    let hello_id = event_id(&hello_event);
    owner
        .send_event(
            room,
            "m.reaction",
            &json!({ "m.relates_to": { "rel_type": "m.annotation", "event_id": hello_id, "key": "👍" } }),
        )
        .await
        .unwrap();
    let hello_on_telegram = || {
        history(fake, alice, peer)
            .into_iter()
            .find(|m| m.id == hello)
    };
    poll_until("the owner's reaction", bridge, EVENT_TIMEOUT, || {
        hello_on_telegram().filter(|m| m.reactions.contains(&(alice, "👍".to_owned())))
    })
    .await;
    fake.world()
        .lock()
        .unwrap()
        .edit_title(Origin::control(bob), peer, "Upgrade, renamed")
        .unwrap();
    poll_until("the rename", bridge, EVENT_TIMEOUT, || {
        let title: Option<String> = rusqlite::Connection::open(&bridge.database_path)
            .unwrap()
            .query_row("SELECT title FROM portal", [], |r| r.get(0))
            .unwrap();
        let handled = count(&bridge.database_path, "chat_cursor") > 0;
        (handled && title.as_deref() == Some("Upgrade, renamed")).then_some(())
    })
    .await;
    hello
}

/// The number of rows in `table`.
fn count(database: &Path, table: &str) -> i64 {
    rusqlite::Connection::open(database)
        .unwrap()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// Removes what migrations 6 and later added.
fn to_version_5(database: &Path) {
    let conn = rusqlite::Connection::open(database).unwrap();
    conn.execute_batch(AFTER_V5).unwrap();
}

/// Every version-5 table's rows (its version-5 columns), as text.
fn dump(database: &Path) -> std::collections::HashMap<&'static str, BTreeSet<String>> {
    let conn = rusqlite::Connection::open(database).unwrap();
    V5_TABLES
        .iter()
        .map(|&(table, columns)| {
            let width = columns.split(',').count();
            let mut statement = conn
                .prepare(&format!("SELECT {columns} FROM {table}"))
                .unwrap();
            let rows = statement
                .query_map([], |row| {
                    let values: Vec<String> = (0..width)
                        .map(|i| match row.get_ref(i).unwrap() {
                            ValueRef::Text(text) => String::from_utf8_lossy(text).into_owned(),
                            value => format!("{value:?}"),
                        })
                        .collect();
                    Ok(values.join("|"))
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            (table, rows)
        })
        .collect()
}
