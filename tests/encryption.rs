//! End to end: the bridge binary, logged into the fake Telegram datacenter,
//! next to a real homeserver (each scenario runs on Synapse and on Conduit),
//! facing end-to-end encrypted rooms it cannot read.
//! Invites of the bot or a ghost into an encrypted room are declined with a
//! reason and explained in the management room (no portal is adopted); a
//! portal the owner encrypts is detached with notices, and its chat
//! continues in a new room; the owner's encrypted messages in a portal are
//! answered once per room, and nothing reaches Telegram; a management room
//! the owner encrypts is replaced by a new one, where later notices go; a
//! homeserver that encrypts the rooms the bridge creates is explained, and
//! its portals are not replaced in a loop by rooms it would encrypt again.
//!
//! The owner sets `m.room.encryption` and sends `m.room.encrypted` events
//! with made-up ciphertext through the client API: the bridge reacts to the
//! events, so no real cryptography is needed.

mod appservice_support;

use std::time::{Duration, Instant};

use appservice_support::telegram::{portal_of, start_logged_in, user};
use appservice_support::{
    command, default_homeserver, is_notice_from, management_room_of, BridgeInstance, Bridges,
};
use fake_telegram::world::Peer;
use fake_telegram::FakeTelegram;
use grammers_session::types::PeerId;
use serde_json::{json, Value};
use testkit::{ApiClient, Homeserver, HomeserverKind, Method, TestUser};
use tgbridge::store::Store;

async fn server(kind: HomeserverKind) -> (&'static Homeserver, &'static Bridges) {
    default_homeserver(kind, &["encinv", "encpor", "encmsg", "encmgt", "encsrv"]).await
}

on_both_servers!(
    invites_into_encrypted_rooms_are_declined,
    a_portal_that_turns_encrypted_is_detached,
    encrypted_messages_are_answered_once_per_room,
    an_encrypted_management_room_is_replaced,
    a_homeserver_that_encrypts_the_bridges_rooms_is_explained,
);

const WAIT: Duration = Duration::from_secs(30);

/// The state event that turns encryption on, as clients send it.
fn encryption_content() -> Value {
    json!({ "algorithm": "m.megolm.v1.aes-sha2", "rotation_period_ms": 604800000, "rotation_period_msgs": 100 })
}

/// An `m.room.encrypted` content with made-up ciphertext.
fn encrypted_content(n: u32) -> Value {
    json!({
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": format!("AwgAEpAB{n}made/up/ciphertext"),
        "sender_key": "gv4rNnVQ6gkfcr6I8bIkUl8cPoqW7ER6ZjfNhxUfXwI",
        "device_id": "TESTDEVICE",
        "session_id": "M+bDRcz0pYAv08cW9nsfm2jMvUJ9pXVP4Qmqr6+b+Ek",
    })
}

/// Creates a room with encryption on from the start, inviting `invite`.
async fn create_encrypted_room(owner: &TestUser, name: &str, invite: &str, direct: bool) -> String {
    owner
        .create_room(&json!({
            "name": name,
            "is_direct": direct,
            "preset": "trusted_private_chat",
            "invite": [invite],
            "initial_state": [
                { "type": "m.room.encryption", "state_key": "", "content": encryption_content() }
            ],
        }))
        .await
        .expect("create an encrypted room")
}

/// What a test waits for in the owner's `/sync`: a description and a test.
type Wanted<'a> = (&'a str, Box<dyn Fn(&Value) -> bool + Send + Sync + 'a>);

/// `user`'s membership in `room` became `leave`.
fn leave_of<'a>(room: &'a str, user: &'a str) -> Wanted<'a> {
    (
        "a leave",
        Box::new(move |e: &Value| {
            e["room_id"] == room
                && e["type"] == "m.room.member"
                && e["state_key"] == user
                && e["content"]["membership"] == "leave"
        }),
    )
}

/// A notice from the bot in `room` containing every one of `parts`.
fn notice_in<'a>(room: &'a str, bot: &'a str, parts: &'a [&'a str]) -> Wanted<'a> {
    (
        "a notice",
        Box::new(move |e: &Value| {
            e["room_id"] == room && parts.iter().all(|part| is_notice_from(e, bot, part))
        }),
    )
}

/// The owner turns `m.room.encryption` on in `room`.
async fn turn_on_encryption(owner: &TestUser, room: &str) {
    owner
        .api()
        .ok(
            Method::PUT,
            &format!("/_matrix/client/v3/rooms/{room}/state/m.room.encryption/"),
            Some(&encryption_content()),
        )
        .await
        .expect("the owner turns encryption on");
}

/// Waits until the owner's `/sync` showed an event for each of `wanted`
/// (in any order, also within one batch); returns them in `wanted`'s order.
async fn wait_all(owner: &TestUser, bridge: &BridgeInstance, wanted: &[Wanted<'_>]) -> Vec<Value> {
    let mut found: Vec<Option<Value>> = vec![None; wanted.len()];
    while found.iter().any(Option::is_none) {
        let missing: Vec<&str> = wanted
            .iter()
            .zip(&found)
            .filter(|(_, f)| f.is_none())
            .map(|((what, _), _)| *what)
            .collect();
        let batch = owner
            .sync_until(
                |e| {
                    wanted
                        .iter()
                        .zip(&found)
                        .any(|((_, test), f)| f.is_none() && test(e))
                },
                WAIT,
            )
            .await
            .unwrap_or_else(|e| {
                panic!("still waiting for {missing:?}: {e}\n{}", bridge.log_tail())
            });
        for event in batch {
            for (slot, (_, test)) in found.iter_mut().zip(wanted) {
                if slot.is_none() && test(&event) {
                    *slot = Some(event.clone());
                }
            }
        }
    }
    found.into_iter().flatten().collect()
}

fn body(event: &Value) -> &str {
    event["content"]["body"].as_str().unwrap_or_default()
}

fn reason(event: &Value) -> &str {
    event["content"]["reason"].as_str().unwrap_or_default()
}

/// Whether `user` was ever joined to `room`, from the room's history.
async fn ever_joined(owner: &TestUser, room: &str, user: &str) -> bool {
    let history = owner.room_messages(room, 100).await.unwrap();
    history.iter().any(|e| {
        e["type"] == "m.room.member"
            && e["state_key"] == user
            && e["content"]["membership"] == "join"
    })
}

/// Polls the store until `chat` has no portal.
async fn portal_gone(store: &Store, chat: PeerId, bridge: &BridgeInstance) {
    let deadline = Instant::now() + WAIT;
    while store.portals().by_peer(chat).unwrap().is_some() {
        assert!(
            Instant::now() < deadline,
            "the portal of {chat:?} is still recorded\n{}",
            bridge.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The owner invites the bot into an encrypted room, then a Telegram user's
/// ghost into an encrypted direct chat: both invites are declined with a
/// reason, the management room explains each, and no portal is adopted.
async fn invites_into_encrypted_rooms_are_declined(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("encinv");
    let fake = FakeTelegram::start().await;
    let (alice, carol) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15551001"));
        let carol = w.add_user(user("Carol", "15551003"));
        // A shared group, so the bridge knows Carol (as from any portal).
        w.create_group(carol, "Walks", &[alice]).unwrap();
        (alice, carol)
    };
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
    let bot = bridge.bot_user_id.clone();
    let management = management_room_of(&owner, &bot).await;

    let secret = create_encrypted_room(&owner, "Secret", &bot, false).await;
    let seen = wait_all(
        &owner,
        &bridge,
        &[
            leave_of(&secret, &bot),
            notice_in(
                &management,
                &bot,
                &["I declined your invitation to", &secret],
            ),
        ],
    )
    .await;
    assert!(
        reason(&seen[0]).contains("end-to-end encrypted"),
        "{}",
        seen[0]
    );
    assert!(body(&seen[1]).contains("encrypted"), "{}", seen[1]);
    assert!(
        !ever_joined(&owner, &secret, &bot).await,
        "declined before joining"
    );

    let carol_ghost = format!("@encinvtg_{carol}:localhost");
    let dm = create_encrypted_room(&owner, "Carol", &carol_ghost, true).await;
    let seen = wait_all(
        &owner,
        &bridge,
        &[
            leave_of(&dm, &carol_ghost),
            notice_in(
                &management,
                &bot,
                &[&carol_ghost, "declined your invitation to", &dm],
            ),
        ],
    )
    .await;
    assert!(
        reason(&seen[0]).contains("end-to-end encrypted"),
        "{}",
        seen[0]
    );
    assert!(
        body(&seen[1]).contains(&format!("`pm {carol}`")),
        "{}",
        seen[1]
    );

    let store = Store::open(&bridge.database_path).unwrap();
    let carol_chat = PeerId::user(carol).unwrap();
    assert!(
        store.portals().by_peer(carol_chat).unwrap().is_none(),
        "the encrypted room did not become Carol's portal"
    );
    assert!(store
        .portals()
        .all()
        .unwrap()
        .iter()
        .all(|p| p.room_id.as_str() != dm));
    assert!(
        !ever_joined(&owner, &dm, &carol_ghost).await,
        "declined before joining"
    );
    // Declined means declined, not silently kept: `pm` still opens a real
    // (unencrypted) private portal with Carol.
    command(
        &owner,
        &management,
        &bot,
        &format!("pm {carol}"),
        "Created the private chat with Carol",
    )
    .await;
    let portal = portal_of(&store, carol_chat, &bridge).await;
    assert_ne!(portal.room_id.as_str(), dm);

    bridge.stop();
}

/// The owner turns encryption on in a group's portal: the portal says so in
/// plaintext, the management room says how the chat continues, ghosts and
/// bot leave, the portal is forgotten, and the group's next Telegram
/// message opens a new room.
async fn a_portal_that_turns_encrypted_is_detached(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("encpor");
    let fake = FakeTelegram::start().await;
    let (alice, bob, hikers) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15552001"));
        let bob = w.add_user(user("Bob", "15552002"));
        // Alice created the group, so her Matrix side may change its state.
        let hikers = w.create_group(alice, "Hikers", &[bob]).unwrap();
        w.send_text(bob, Peer::Chat(hikers), "before").unwrap();
        (alice, bob, hikers)
    };
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
    let bot = bridge.bot_user_id.clone();
    let management = management_room_of(&owner, &bot).await;
    let store = Store::open(&bridge.database_path).unwrap();
    let chat = PeerId::chat(hikers).unwrap();
    let portal = portal_of(&store, chat, &bridge).await;
    let room = portal.room_id.to_string();
    owner.join(&room).await.expect("the owner was invited");
    let bob_ghost = format!("@encportg_{bob}:localhost");

    turn_on_encryption(&owner, &room).await;

    let seen = wait_all(
        &owner,
        &bridge,
        &[
            notice_in(&room, &bot, &["This room is end-to-end encrypted now"]),
            notice_in(&management, &bot, &["Encryption was turned on in", &room]),
            leave_of(&room, &bot),
        ],
    )
    .await;
    assert!(
        body(&seen[0]).contains("no longer reaches Telegram"),
        "{}",
        seen[0]
    );
    let told = body(&seen[1]);
    assert!(
        told.contains("\"Hikers\"") && told.contains("`sync`"),
        "{told}"
    );
    assert!(
        reason(&seen[2]).contains("end-to-end encrypted"),
        "the bot says why it leaves: {}",
        seen[2]
    );
    portal_gone(&store, chat, &bridge).await;
    let members = owner.joined_members(&room).await.unwrap();
    assert!(!members.contains(&bob_ghost), "ghosts left: {members:?}");

    // The chat goes on in a new, unencrypted room.
    fake.world()
        .lock()
        .unwrap()
        .send_text(bob, Peer::Chat(hikers), "after")
        .unwrap();
    let new_portal = portal_of(&store, chat, &bridge).await;
    assert_ne!(new_portal.room_id.as_str(), room);
    let new_room = new_portal.room_id.to_string();
    owner
        .sync_until(
            |e| e["room_id"] == new_room.as_str() && e["content"]["body"] == "after",
            WAIT,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", bridge.log_tail()));
    let encryption = owner
        .api()
        .call(
            Method::GET,
            &format!("/_matrix/client/v3/rooms/{new_room}/state/m.room.encryption/"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(encryption.status, 404, "the new room is not encrypted");
    let old = owner.room_messages(&room, 50).await.unwrap();
    assert!(
        !old.iter().any(|e| e["content"]["body"] == "after"),
        "nothing more goes into the encrypted room: {old:?}"
    );

    bridge.stop();
}

/// The owner sends encrypted events into a portal: the first is answered
/// with a notice, later ones are not (once per room and run), and nothing
/// reaches Telegram while plain messages still do.
async fn encrypted_messages_are_answered_once_per_room(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("encmsg");
    let fake = FakeTelegram::start().await;
    let (alice, bob, hikers) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15553001"));
        let bob = w.add_user(user("Bob", "15553002"));
        let hikers = w.create_group(bob, "Hikers", &[alice]).unwrap();
        w.send_text(bob, Peer::Chat(hikers), "hello").unwrap();
        (alice, bob, hikers)
    };
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
    let bot = bridge.bot_user_id.clone();
    let store = Store::open(&bridge.database_path).unwrap();
    let chat = PeerId::chat(hikers).unwrap();
    let room = portal_of(&store, chat, &bridge).await.room_id.to_string();
    owner.join(&room).await.expect("the owner was invited");
    let sent_before = fake
        .world()
        .lock()
        .unwrap()
        .history(bob, Peer::Chat(hikers));

    for n in 0..2 {
        owner
            .send_event(&room, "m.room.encrypted", &encrypted_content(n))
            .await
            .expect("send an encrypted event");
    }
    let seen = wait_all(
        &owner,
        &bridge,
        &[notice_in(
            &room,
            &bot,
            &["Your encrypted message was not bridged"],
        )],
    )
    .await;
    assert!(body(&seen[0]).contains("cannot decrypt"), "{}", seen[0]);
    owner
        .send_event(&room, "m.room.encrypted", &encrypted_content(2))
        .await
        .expect("send another encrypted event");
    // A plain message after them still reaches Telegram, so the bridge has
    // seen the encrypted ones before it.
    owner.send_text(&room, "plain").await.unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let history = fake
            .world()
            .lock()
            .unwrap()
            .history(bob, Peer::Chat(hikers));
        if history.iter().any(|m| m.text == "plain") {
            assert_eq!(
                history.len(),
                sent_before.len() + 1,
                "only the plain message reached Telegram: {history:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the plain message never reached Telegram\n{}",
            bridge.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    command(&owner, &room, &bot, "!tg version", "tgbridge").await;
    let timeline = owner.room_messages(&room, 100).await.unwrap();
    let notices = timeline
        .iter()
        .filter(|e| is_notice_from(e, &bot, "Your encrypted message was not bridged"))
        .count();
    assert_eq!(notices, 1, "one notice per room and run: {timeline:?}");
    assert!(
        store.portals().by_peer(chat).unwrap().is_some(),
        "an unencrypted portal stays bridged"
    );

    bridge.stop();
}

/// The owner turns encryption on in the management room: the bot leaves it
/// with a reason and opens a new, unencrypted one that says why, where
/// commands work and where the Telegram side's notices go from then on
/// (here: the account of a portal that turned encrypted).
async fn an_encrypted_management_room_is_replaced(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("encmgt");
    let fake = FakeTelegram::start().await;
    let (alice, hikers) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15554001"));
        let bob = w.add_user(user("Bob", "15554002"));
        let hikers = w.create_group(alice, "Hikers", &[bob]).unwrap();
        w.send_text(bob, Peer::Chat(hikers), "hello").unwrap();
        (alice, hikers)
    };
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
    let bot = bridge.bot_user_id.clone();
    let old = management_room_of(&owner, &bot).await;
    let store = Store::open(&bridge.database_path).unwrap();
    let chat = PeerId::chat(hikers).unwrap();
    let room = portal_of(&store, chat, &bridge).await.room_id.to_string();
    owner.join(&room).await.expect("the owner was invited");

    turn_on_encryption(&owner, &old).await;
    let replaced: Wanted = (
        "the new management room's notice",
        Box::new(|e: &Value| {
            e["room_id"] != old.as_str()
                && is_notice_from(
                    e,
                    &bot,
                    "Encryption was turned on in the previous management room",
                )
                && body(e).contains(old.as_str())
        }),
    );
    let seen = wait_all(&owner, &bridge, &[leave_of(&old, &bot), replaced]).await;
    assert!(
        reason(&seen[0]).contains("end-to-end encrypted"),
        "{}",
        seen[0]
    );
    let new = seen[1]["room_id"].as_str().unwrap().to_owned();
    assert_eq!(
        store.kv_get("management_room").unwrap().as_deref(),
        Some(new.as_str()),
        "the new room is the management room"
    );
    let encryption = owner
        .api()
        .call(
            Method::GET,
            &format!("/_matrix/client/v3/rooms/{new}/state/m.room.encryption/"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(encryption.status, 404, "the new room is not encrypted");
    let members = owner.joined_members(&new).await.unwrap_or_default();
    if !members.contains(&owner.user_id) {
        owner.join(&new).await.expect("the owner was invited");
    }
    command(&owner, &new, &bot, "version", "tgbridge").await;

    // The Telegram side tells the new management room, not the old one.
    turn_on_encryption(&owner, &room).await;
    wait_all(
        &owner,
        &bridge,
        &[notice_in(
            &new,
            &bot,
            &["Encryption was turned on in", &room],
        )],
    )
    .await;
    portal_gone(&store, chat, &bridge).await;

    bridge.stop();
}

/// Encryption set in a portal by the bridge's own bot, as a homeserver that
/// encrypts new rooms by default does at creation (Synapse's
/// `encryption_enabled_by_default_for_room_type`; the test acts as the bot
/// through the appservice token, which works the same on both servers):
/// the management room explains the homeserver setting once, the portal
/// stays bridged (a new room would be encrypted again), and the owner's
/// encrypted message there is answered with the same explanation.
async fn a_homeserver_that_encrypts_the_bridges_rooms_is_explained(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("encsrv");
    let fake = FakeTelegram::start().await;
    let (alice, hikers) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15555001"));
        let bob = w.add_user(user("Bob", "15555002"));
        let hikers = w.create_group(bob, "Hikers", &[alice]).unwrap();
        w.send_text(bob, Peer::Chat(hikers), "hello").unwrap();
        (alice, hikers)
    };
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
    let bot = bridge.bot_user_id.clone();
    let management = management_room_of(&owner, &bot).await;
    let store = Store::open(&bridge.database_path).unwrap();
    let chat = PeerId::chat(hikers).unwrap();
    let room = portal_of(&store, chat, &bridge).await.room_id.to_string();
    owner.join(&room).await.expect("the owner was invited");

    let appservice = ApiClient::new(server.base_url(), Some(bridge.as_token.clone()));
    appservice
        .ok(
            Method::PUT,
            &format!(
                "/_matrix/client/v3/rooms/{room}/state/m.room.encryption/?user_id={}",
                bot.replace('@', "%40").replace(':', "%3A")
            ),
            Some(&encryption_content()),
        )
        .await
        .expect("the bot's side turns encryption on");
    let seen = wait_all(
        &owner,
        &bridge,
        &[notice_in(
            &management,
            &bot,
            &["Your homeserver turned on end-to-end encryption in", &room],
        )],
    )
    .await;
    assert!(
        body(&seen[0]).contains("encryption_enabled_by_default_for_room_type"),
        "{}",
        seen[0]
    );

    owner
        .send_event(&room, "m.room.encrypted", &encrypted_content(0))
        .await
        .expect("send an encrypted event");
    wait_all(
        &owner,
        &bridge,
        &[notice_in(
            &room,
            &bot,
            &["Your homeserver turned on end-to-end encryption in"],
        )],
    )
    .await;
    // Answered, not detached: the portal and its members stay.
    command(&owner, &room, &bot, "!tg version", "tgbridge").await;
    assert_eq!(
        store
            .portals()
            .by_peer(chat)
            .unwrap()
            .map(|p| p.room_id.to_string()),
        Some(room.clone()),
        "the portal stays"
    );
    let members = owner.joined_members(&room).await.unwrap();
    assert!(members.contains(&bot), "{members:?}");
    let told = owner
        .room_messages(&management, 100)
        .await
        .unwrap()
        .iter()
        .filter(|e| is_notice_from(e, &bot, "Your homeserver turned on end-to-end encryption"))
        .count();
    assert_eq!(told, 1, "the management room is told once per run");

    bridge.stop();
}
