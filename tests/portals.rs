//! End to end: the bridge binary, logged in from a seeded session against the
//! fake Telegram datacenter, next to a real homeserver (Synapse and Conduit
//! each). An account with basic
//! groups, a supergroup, a broadcast channel, a migrated group and a private
//! chat gets exactly the group/supergroup/channel portals (respecting the
//! per-sync limit), named and configured after the chats, gathered in the
//! space; no private-chat portal; a Telegram message arrives from the
//! sender's ghost; titles follow both ways; a migrated group keeps its room;
//! private portals come from an invited ghost or `pm`; a restart creates the
//! deferred portal and no duplicates. Each of these is a test with a bridge
//! of its own, built on the same account.

mod appservice_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use appservice_support::telegram::{
    configure, joined_management_room, portal_of, seed_login, start_logged_in, state, user,
    wait_for_log,
};
use appservice_support::{command, default_homeserver, BridgeInstance, Bridges};
use fake_telegram::world::{ChannelId, ChatId, Origin, Peer, UserId};
use fake_telegram::{FakeTelegram, RpcError};
use grammers_session::types::PeerId;
use testkit::{Homeserver, HomeserverKind, Method, TestUser};
use tgbridge::store::{Portal, PortalKind, Store};

async fn server(kind: HomeserverKind) -> (&'static Homeserver, &'static Bridges) {
    default_homeserver(kind, &["por", "pmg", "ppm", "prs", "err"]).await
}

on_both_servers!(
    chat_sync_creates_configured_group_portals_in_a_space,
    telegram_messages_and_titles_reach_the_portals,
    private_portals_come_from_an_invited_ghost_or_pm,
    a_migration_and_a_restart_create_nothing_twice,
    telegram_errors_neither_crash_nor_lose_portals,
);

/// One scenario's account after the bridge's first chat sync: Alice (the
/// owner) with five bridgeable chats (Hikers with three messages, Book club
/// she created, Super, the channel News), a migrated basic group and a
/// private chat with Bob; Carol and Dave (`@dave`) exist. The per-sync limit
/// is 4, history is 5 private and 2 group messages.
struct Account {
    bridge: BridgeInstance,
    fake: FakeTelegram,
    owner: TestUser,
    store: Store,
    alice: UserId,
    bob: UserId,
    carol: UserId,
    hikers: ChatId,
    news: ChannelId,
    migrated_to: ChannelId,
    book_club: ChatId,
    /// The portals of the first sync.
    portals: Vec<Portal>,
    space: String,
    hikers_room: String,
    /// Bob's ghost.
    ghost: String,
}

/// Starts the bridge prepared as `name` on `server` into a fresh
/// [`Account`], checking that the first sync made exactly the four most
/// recent group portals.
async fn account(server: &Homeserver, bridges: &Bridges, name: &str) -> Account {
    let mut bridge = bridges.take(name);
    configure(
        &bridge,
        "  max_new_portals_per_sync: 4\n  federate_rooms: false\n  initial_history:\n    private: 5\n    group: 2\n    channel: 0\n",
    );
    let fake = FakeTelegram::start().await;
    let (alice, bob, carol, hikers, news, migrated_to, book_club) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550001"));
        let mut bob_spec = user("Bob", "15550002");
        bob_spec.last_name = Some("Builder".into());
        let bob = w.add_user(bob_spec);
        let carol = w.add_user(user("Carol", "15550003"));
        let mut dave_spec = user("Dave", "15550004");
        dave_spec.username = Some("dave".into());
        w.add_user(dave_spec);
        let old = w.create_group(bob, "Old group", &[alice]).unwrap();
        let migrated_to = w.migrate_chat(Origin::control(bob), old).unwrap();
        let book_club = w.create_group(alice, "Book club", &[bob]).unwrap();
        let hikers = w.create_group(bob, "Hikers", &[alice, carol]).unwrap();
        for text in ["one", "two", "three"] {
            w.send_text(bob, Peer::Chat(hikers), text).unwrap();
        }
        w.create_supergroup(bob, "Super", &[alice]).unwrap();
        let news = w.create_channel(bob, "News", "Daily news", true).unwrap();
        w.channel_invite(Origin::control(bob), news, &[alice])
            .unwrap();
        w.send_text(bob, Peer::User(alice), "hi Alice").unwrap();
        (alice, bob, carol, hikers, news, migrated_to, book_club)
    };
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;

    let store = Store::open(&bridge.database_path).unwrap();
    let portals = store.portals().all().unwrap();
    assert_eq!(portals.len(), 4, "the per-sync limit holds: {portals:?}");
    assert!(portals.iter().all(|p| p.kind != PortalKind::Private));
    // Most recent first: the channel, the supergroup, Hikers, Book club.
    let titles: HashSet<&str> = portals.iter().filter_map(|p| p.title.as_deref()).collect();
    assert_eq!(
        titles,
        HashSet::from(["News", "Super", "Hikers", "Book club"]),
        "the migrated group waits for the next sync, the deactivated basic group never gets one"
    );
    let space = store.kv_get("telegram_space").unwrap().expect("a space");
    owner.join(&space).await.unwrap();
    for portal in &portals {
        owner
            .join(portal.room_id.as_str())
            .await
            .expect("the owner was invited");
    }
    Account {
        hikers_room: room_titled(&portals, "Hikers"),
        ghost: bridge.ghost(bob),
        bridge,
        fake,
        owner,
        store,
        alice,
        bob,
        carol,
        hikers,
        news,
        migrated_to,
        book_club,
        portals,
        space,
    }
}

/// The room of the portal titled `title`.
fn room_titled(portals: &[Portal], title: &str) -> String {
    portals
        .iter()
        .find(|p| p.title.as_deref() == Some(title))
        .unwrap_or_else(|| panic!("a portal titled {title}"))
        .room_id
        .to_string()
}

/// Bob's message in Hikers arrives from his ghost, named after him; his
/// private message gives his chat a portal: a direct chat with the chat's
/// earlier message first, as history.
async fn hikers_message_and_bobs_private_chat(t: &Account) {
    let (owner, bridge, ghost) = (&t.owner, &t.bridge, t.ghost.as_str());
    let hikers_room = t.hikers_room.as_str();
    // A Telegram message arrives in the portal from the sender's ghost; the
    // private chat still has no portal.
    fake_send(t, Peer::User(t.alice), "are you there?");
    fake_send(t, Peer::Chat(t.hikers), "Hello *hikers*");
    let found = owner
        .sync_until(
            |e| {
                e["room_id"] == hikers_room
                    && e["type"] == "m.room.message"
                    && e["sender"] == ghost
                    && e["content"]["body"] == "Hello *hikers*"
            },
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", bridge.log_tail()));
    assert_eq!(found[0]["content"]["body"], "Hello *hikers*");
    let profile = owner
        .api()
        .ok(
            Method::GET,
            &format!("/_matrix/client/v3/profile/{ghost}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(profile["displayname"], "Bob Builder (Telegram)");

    // The private message gave Bob's chat a portal: a direct chat whose
    // message comes from Bob's ghost.
    let private = portal_of(&t.store, PeerId::user(t.bob).unwrap(), bridge).await;
    assert_eq!(private.kind, PortalKind::Private);
    let dm = private.room_id.to_string();
    let found = owner
        .sync_until(
            |e| {
                e["room_id"] == dm.as_str()
                    && e["type"] == "m.room.message"
                    && e["content"]["body"] == "are you there?"
            },
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", bridge.log_tail()));
    assert_eq!(found[0]["sender"], ghost);
    // The chat's earlier message came first, as history.
    let dm_history = owner.room_messages(&dm, 50).await.unwrap();
    let mut dm_bodies: Vec<&str> = dm_history
        .iter()
        .filter(|e| e["type"] == "m.room.message")
        .filter_map(|e| e["content"]["body"].as_str())
        .collect();
    dm_bodies.reverse();
    assert_eq!(dm_bodies, ["hi Alice", "are you there?"]);
    let invite = owner
        .sync_until(
            |e| {
                e["room_id"] == dm.as_str()
                    && e["type"] == "m.room.member"
                    && e["state_key"] == owner.user_id.as_str()
            },
            Duration::from_secs(1),
        )
        .await;
    if let Ok(invite) = invite {
        assert_eq!(invite[0]["content"]["is_direct"], true, "{invite:?}");
    }
}

/// Sends `text` as Bob on Telegram.
fn fake_send(t: &Account, peer: Peer, text: &str) {
    t.fake
        .world()
        .lock()
        .unwrap()
        .send_text(t.bob, peer, text)
        .unwrap();
}

/// Hikers becomes a supergroup: its room follows, the supergroup's
/// messages arrive there, and `!tg id` names the new chat. Returns the
/// supergroup.
async fn migrate_hikers(t: &Account) -> PeerId {
    let (owner, bridge, store) = (&t.owner, &t.bridge, &t.store);
    let hikers_room = t.hikers_room.as_str();
    let hikers_super = t
        .fake
        .world()
        .lock()
        .unwrap()
        .migrate_chat(Origin::control(t.bob), t.hikers)
        .unwrap();
    fake_send(t, Peer::Channel(hikers_super), "now a supergroup");
    owner
        .sync_until(
            |e| e["room_id"] == hikers_room && e["content"]["body"] == "now a supergroup",
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", bridge.log_tail()));
    let super_peer = PeerId::channel(hikers_super).unwrap();
    let moved = store
        .portals()
        .by_peer(super_peer)
        .unwrap()
        .expect("the portal follows");
    assert_eq!(moved.room_id.as_str(), hikers_room);
    assert_eq!(moved.kind, PortalKind::Supergroup);
    assert!(store
        .portals()
        .by_peer(PeerId::chat(t.hikers).unwrap())
        .unwrap()
        .is_none());
    command(
        owner,
        hikers_room,
        &bridge.bot_user_id,
        "!tg id",
        &format!("Telegram chat {}", super_peer.bot_api_dialog_id().unwrap()),
    )
    .await;
    super_peer
}

/// Inviting Carol's ghost to a new room makes it the private portal with
/// her; `pm @dave` creates one with Dave (and then names it); `pm @nobody`
/// finds no one.
async fn carol_and_dave_private_portals(t: &Account) {
    let (owner, bridge) = (&t.owner, &t.bridge);
    let carol_ghost = bridge.ghost(t.carol);
    let adopted = owner
        .create_room(&serde_json::json!({ "name": "Carol", "is_direct": true, "preset": "trusted_private_chat" }))
        .await
        .unwrap();
    owner.invite(&adopted, &carol_ghost).await.unwrap();
    let carol_portal = portal_of(&t.store, PeerId::user(t.carol).unwrap(), bridge).await;
    assert_eq!(carol_portal.room_id.as_str(), adopted);
    assert_eq!(carol_portal.kind, PortalKind::Private);
    let members = owner.joined_members(&adopted).await.unwrap();
    assert!(members.contains(&carol_ghost), "{members:?}");

    let management = joined_management_room(&t.owner, &t.store).await;
    let bot = bridge.bot_user_id.as_str();
    let dave = "Created the private chat with Dave";
    command(owner, &management, bot, "pm @dave", dave).await;
    let dave = "Your private chat with Dave is";
    command(owner, &management, bot, "pm @dave", dave).await;
    let nobody = "No Telegram user @nobody";
    command(owner, &management, bot, "pm @nobody", nobody).await;
}

async fn chat_sync_creates_configured_group_portals_in_a_space(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut t = account(server, bridges, "por").await;
    let (owner, space) = (&t.owner, t.space.as_str());
    for portal in &t.portals {
        let room = portal.room_id.as_str();
        let name = state(owner, room, "m.room.name", "").await;
        assert_eq!(name["name"], portal.title.clone().unwrap());
        let create = state(owner, room, "m.room.create", "").await;
        assert_eq!(create["m.federate"], false);
        let rules = state(owner, room, "m.room.join_rules", "").await;
        assert_eq!(rules["join_rule"], "invite");
        let parent = state(owner, room, "m.space.parent", space).await;
        assert_eq!(parent["via"][0], "localhost");
        let child = state(owner, space, "m.space.child", room).await;
        assert_eq!(child["via"][0], "localhost");
        let levels = state(owner, room, "m.room.power_levels", "").await;
        // From room version 12 on, the creating bot outranks every level.
        assert!(
            levels["users"][&t.bridge.bot_user_id] == 100 || create["room_version"] == "12",
            "{levels} {create}"
        );
        let members = owner.joined_members(room).await.unwrap();
        let bob_ghost = &t.ghost;
        match portal.title.as_deref() {
            Some("News") => {
                assert!(
                    !members.contains(bob_ghost),
                    "broadcast members are not synced"
                );
                assert_eq!(
                    levels["events_default"], 50,
                    "broadcast channels are read-only"
                );
                let topic = state(owner, room, "m.room.topic", "").await;
                assert_eq!(topic["topic"], "Daily news");
            }
            Some("Book club") => {
                assert_eq!(levels["users"][owner.user_id.as_str()], 95, "the creator");
                assert_eq!(levels["events_default"], 0);
                assert!(members.contains(bob_ghost), "{members:?}");
                assert!(levels["users"].get(bob_ghost.as_str()).is_none());
            }
            _ => {
                assert!(levels["users"].get(owner.user_id.as_str()).is_none());
                assert!(members.contains(bob_ghost), "{members:?}");
                // Bob created these chats on Telegram.
                let levels = state(owner, room, "m.room.power_levels", "").await;
                assert_eq!(levels["users"][bob_ghost.as_str()], 95, "{levels}");
            }
        }
    }
    t.bridge.stop();
}

async fn telegram_messages_and_titles_reach_the_portals(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut t = account(server, bridges, "pmg").await;
    hikers_message_and_bobs_private_chat(&t).await;
    let (owner, bridge, fake) = (&t.owner, &t.bridge, &t.fake);

    // A new title on Telegram renames the room.
    fake.world()
        .lock()
        .unwrap()
        .edit_title(Origin::control(t.bob), Peer::Chat(t.hikers), "Hikers 2026")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let name = state(owner, &t.hikers_room, "m.room.name", "").await;
        if name["name"] == "Hikers 2026" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "room not renamed: {name}\n{}",
            bridge.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let news_peer = PeerId::channel(t.news).unwrap();
    assert!(t.store.portals().by_peer(news_peer).unwrap().is_some());

    // The owner (creator of Book club on Telegram) renames its room: the
    // Telegram chat follows.
    let book_room = room_titled(&t.portals, "Book club");
    owner
        .api()
        .ok(
            Method::PUT,
            &format!("/_matrix/client/v3/rooms/{book_room}/state/m.room.name/"),
            Some(&serde_json::json!({ "name": "Readers" })),
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let title = fake
            .world()
            .lock()
            .unwrap()
            .chat(t.book_club)
            .unwrap()
            .title
            .clone();
        if title == "Readers" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not renamed on Telegram: {title}\n{}",
            bridge.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    t.bridge.stop();
}

async fn private_portals_come_from_an_invited_ghost_or_pm(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut t = account(server, bridges, "ppm").await;
    carol_and_dave_private_portals(&t).await;
    t.bridge.stop();
}

async fn a_migration_and_a_restart_create_nothing_twice(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut t = account(server, bridges, "prs").await;
    hikers_message_and_bobs_private_chat(&t).await;
    migrate_hikers(&t).await;
    carol_and_dave_private_portals(&t).await;

    // A restart creates the deferred portal and nothing twice.
    t.bridge.stop();
    t.bridge.start();
    t.bridge.wait_ready(Duration::from_secs(60)).await;
    wait_for_log(&t.bridge, "chat sync finished", 2, Duration::from_secs(60)).await;
    let (owner, bridge, store) = (&t.owner, &t.bridge, &t.store);
    let after = store.portals().all().unwrap();
    assert_eq!(
        after.len(),
        8,
        "the deferred group and three private chats: {after:?}"
    );
    for portal in &t.portals {
        assert!(after.contains(portal) || after.iter().any(|p| p.room_id == portal.room_id));
    }
    let migrated = PeerId::channel(t.migrated_to).unwrap();
    assert!(store.portals().by_peer(migrated).unwrap().is_some());
    assert_eq!(
        store.kv_get("telegram_space").unwrap().as_deref(),
        Some(t.space.as_str())
    );
    let rooms: HashSet<String> = after.iter().map(|p| p.room_id.to_string()).collect();
    assert_eq!(rooms.len(), 8, "every portal has its own room");
    // The last two messages of history came first, in order, then the live
    // one; nothing was bridged twice, not even after the restart.
    let history = owner.room_messages(&t.hikers_room, 100).await.unwrap();
    let mut bodies: Vec<&str> = history
        .iter()
        .filter(|e| e["type"] == "m.room.message" && e["sender"] == t.ghost.as_str())
        .filter_map(|e| e["content"]["body"].as_str())
        .collect();
    bodies.reverse();
    assert_eq!(
        bodies,
        ["two", "three", "Hello *hikers*", "now a supergroup"],
        "{history:?}"
    );
    let stamps: Vec<i64> = history
        .iter()
        .filter(|e| e["type"] == "m.room.message")
        .filter_map(|e| e["origin_server_ts"].as_i64())
        .collect();
    assert!(stamps.iter().all(|&ts| ts > 0));

    // `sync all` finds nothing left to create.
    let management = joined_management_room(&t.owner, &t.store).await;
    let bot = bridge.bot_user_id.as_str();
    let syncing = "Syncing your Telegram chats";
    command(owner, &management, bot, "sync all", syncing).await;
    command(owner, &management, bot, "sync", "no new rooms needed").await;
    assert_eq!(store.portals().all().unwrap().len(), 8);
    t.bridge.stop();
}

async fn telegram_errors_neither_crash_nor_lose_portals(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("err");
    let fake = FakeTelegram::start().await;
    let alice = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550001"));
        let bob = w.add_user(user("Bob", "15550002"));
        w.create_group(bob, "Hikers", &[alice]).unwrap();
        alice
    };
    seed_login(&bridge, &fake, alice).await;
    // A short flood wait on the first dialog listing is slept through.
    fake.fail_next("messages.getDialogs", RpcError::flood_wait(1));

    let owner = server
        .register_user(&bridge.owner_localpart, false)
        .await
        .unwrap();
    bridge.start();
    bridge.wait_ready(Duration::from_secs(60)).await;
    wait_for_log(&bridge, "chat sync finished", 1, Duration::from_secs(60)).await;
    assert!(
        fake.call_count("messages.getDialogs") >= 2,
        "the listing was retried"
    );
    let store = Store::open(&bridge.database_path).unwrap();
    assert_eq!(store.portals().all().unwrap().len(), 1);

    // "Terminate all other sessions" on the phone: the bridge notices at
    // its next request, tells the owner, keeps the portals and runs on.
    joined_management_room(&owner, &store).await;
    fake.revoke_sessions(alice);
    fake.drop_connections();
    let bot = bridge.bot_user_id.clone();
    owner
        .sync_until(
            |e| appservice_support::is_notice_from(e, &bot, "Telegram ended the bridge's session"),
            Duration::from_secs(60),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", bridge.log_tail()));
    assert!(bridge.is_running());
    assert_eq!(store.portals().all().unwrap().len(), 1, "portals are kept");
    assert!(
        !store.has_telegram_login().unwrap(),
        "the dead session is forgotten"
    );
    let (status, _) = bridge.health().await.expect("health answers");
    assert_eq!(status, 200);

    // A restart waits for a login instead of retrying the dead key.
    bridge.stop();
    bridge.start();
    bridge.wait_ready(Duration::from_secs(60)).await;
    wait_for_log(
        &bridge,
        "the Telegram side waits for a login",
        1,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(store.portals().all().unwrap().len(), 1);
    bridge.stop();
}
