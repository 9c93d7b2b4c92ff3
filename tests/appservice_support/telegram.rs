//! Helpers for end-to-end tests that also run the fake Telegram datacenter:
//! a seeded Telegram login, extra bridge options, what Telegram shows (a
//! chat's history, the owner's own texts), and waiting on the bridge log, on
//! Telegram or on room state. The fake's world is only read or driven
//! through its public API; nothing here asserts a scenario's outcome.

use std::time::{Duration, Instant};

use fake_telegram::world::{MessageView, Peer, UserId, UserSpec};
use fake_telegram::FakeTelegram;
use grammers_session::types::PeerInfo;
use grammers_session::Session as _;
use serde_json::Value;
use testkit::{Method, TestUser};
use tgbridge::store::Store;

use super::BridgeInstance;

/// Bridge options for no initial history: only what happens while the test
/// watches reaches the rooms.
pub const NO_HISTORY: &str = "  initial_history:\n    private: 0\n    group: 0\n    channel: 0\n";

/// A chat's messages as `viewer` sees them on Telegram, oldest first.
pub fn history(fake: &FakeTelegram, viewer: UserId, peer: Peer) -> Vec<MessageView> {
    fake.world().lock().unwrap().history(viewer, peer)
}

/// The texts of `viewer`'s own (outgoing, non-service) messages in a chat,
/// as Telegram shows them to `viewer`, oldest first.
pub fn own_texts(fake: &FakeTelegram, viewer: UserId, peer: Peer) -> Vec<String> {
    history(fake, viewer, peer)
        .into_iter()
        .filter(|m| m.out && m.service.is_none())
        .map(|m| m.text)
        .collect()
}

/// The id of the (first) message with `text` in `peer`, in `viewer`'s
/// numbering.
pub fn id_of(fake: &FakeTelegram, viewer: UserId, peer: Peer, text: &str) -> i32 {
    history(fake, viewer, peer)
        .into_iter()
        .find(|m| m.text == text)
        .unwrap_or_else(|| panic!("no message {text:?}"))
        .id
}

/// Sends `text` on Telegram as `from` into `peer`; returns the message id
/// in `from`'s numbering.
pub fn send_on_telegram(fake: &FakeTelegram, from: UserId, peer: Peer, text: &str) -> i32 {
    fake.world()
        .lock()
        .unwrap()
        .send_text(from, peer, text)
        .unwrap()
}

/// Waits (up to 20 s) until the chat's newest outgoing message of `viewer`
/// with `text` exists on Telegram; returns it.
pub async fn wait_sent(
    fake: &FakeTelegram,
    bridge: &BridgeInstance,
    viewer: UserId,
    peer: Peer,
    text: &str,
) -> MessageView {
    super::poll_until(
        &format!("{text:?} on Telegram"),
        bridge,
        Duration::from_secs(20),
        || {
            history(fake, viewer, peer)
                .into_iter()
                .rev()
                .find(|m| m.out && m.text == text)
        },
    )
    .await
}

/// The room of `peer`'s portal (which must exist already).
pub fn room_of(store: &Store, peer: grammers_session::types::PeerId) -> String {
    store
        .portals()
        .by_peer(peer)
        .unwrap()
        .unwrap_or_else(|| panic!("a portal for {peer:?}"))
        .room_id
        .to_string()
}

/// The management room the bridge recorded in its store, joined by `owner`.
pub async fn joined_management_room(owner: &TestUser, store: &Store) -> String {
    let management = store
        .kv_get("management_room")
        .unwrap()
        .expect("a management room");
    owner.join(&management).await.unwrap();
    management
}

/// Adds bridge options under the `bridge:` section of the test config.
pub fn configure(bridge: &BridgeInstance, extra: &str) {
    let config = std::fs::read_to_string(&bridge.config_path).unwrap();
    let config = config.replacen("bridge:\n", &format!("bridge:\n{extra}"), 1);
    std::fs::write(&bridge.config_path, config).unwrap();
}

/// Seeds the bridge's database with a session the fake considers logged
/// into `account`, as a finished `tgbridge login` leaves it.
pub async fn seed_login(bridge: &BridgeInstance, fake: &FakeTelegram, account: UserId) {
    let store = Store::open(&bridge.database_path).unwrap();
    store
        .seed_dc(fake.addr(), fake.logged_in_auth_key(account))
        .unwrap();
    store
        .telegram_session()
        .cache_peer(PeerInfo::User {
            id: account,
            auth: None,
            bot: Some(false),
            is_self: Some(true),
        })
        .await
        .unwrap();
}

/// A Telegram user with a first name and a phone number, nothing else.
pub fn user(name: &str, phone: &str) -> UserSpec {
    UserSpec {
        first_name: name.into(),
        phone: Some(phone.into()),
        ..UserSpec::default()
    }
}

/// Waits until the bridge log contains `needle` `count` times.
pub async fn wait_for_log(bridge: &BridgeInstance, needle: &str, count: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while bridge.log().matches(needle).count() < count {
        assert!(
            Instant::now() < deadline,
            "no {needle:?} (x{count}) in the bridge log\n{}",
            bridge.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A state event's content as `owner` reads it; panics if it is unset.
pub async fn state(owner: &TestUser, room: &str, event_type: &str, key: &str) -> Value {
    owner
        .api()
        .ok(
            Method::GET,
            &format!("/_matrix/client/v3/rooms/{room}/state/{event_type}/{key}"),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{event_type} in {room}: {e}"))
}

/// A bridge prepared as `name` with `options` (see [`configure`]) and a
/// homeserver of `kind` of its own that knows its registration, for the
/// tests that stop the homeserver.
pub async fn with_own_homeserver(
    kind: testkit::HomeserverKind,
    name: &str,
    options: &str,
) -> (BridgeInstance, testkit::Homeserver) {
    let port = testkit::free_port().expect("free port for the homeserver");
    let bridge = BridgeInstance::prepare(name, port);
    configure(&bridge, options);
    let server = testkit::Homeserver::start(
        kind,
        testkit::HomeserverOptions {
            registrations: vec![bridge.registration_path.clone()],
            port: Some(port),
            ..testkit::HomeserverOptions::default()
        },
    )
    .await
    .unwrap_or_else(|e| {
        panic!("{kind} starts (run ./test.sh provision if it is not installed): {e}")
    });
    (bridge, server)
}

/// Seeds a login into `account`, registers the owner, starts the bridge and
/// waits for its first chat sync; returns the owner.
pub async fn start_logged_in(
    server: &testkit::Homeserver,
    bridge: &mut BridgeInstance,
    fake: &FakeTelegram,
    account: UserId,
) -> TestUser {
    seed_login(bridge, fake, account).await;
    let owner = server
        .register_user(&bridge.owner_localpart, false)
        .await
        .unwrap();
    bridge.start();
    bridge.wait_ready(Duration::from_secs(60)).await;
    wait_for_log(bridge, "chat sync finished", 1, Duration::from_secs(60)).await;
    owner
}

/// [`start_logged_in`], then waits for the first catch-up and joins the
/// owner to the portal of basic group `group`: the owner and the portal's
/// room id.
pub async fn start_in_group(
    server: &testkit::Homeserver,
    bridge: &mut BridgeInstance,
    fake: &FakeTelegram,
    account: UserId,
    group: fake_telegram::world::ChatId,
) -> (TestUser, String) {
    let owner = start_logged_in(server, bridge, fake, account).await;
    wait_for_log(
        bridge,
        "caught up with missed messages",
        1,
        Duration::from_secs(30),
    )
    .await;
    let store = Store::open(&bridge.database_path).unwrap();
    let peer = grammers_session::types::PeerId::chat(group).unwrap();
    let room = portal_of(&store, peer, bridge).await.room_id.to_string();
    owner.join(&room).await.unwrap();
    (owner, room)
}

/// The portal of `chat`, waiting (up to 30 s) until the bridge stored it.
pub async fn portal_of(
    store: &Store,
    chat: grammers_session::types::PeerId,
    bridge: &BridgeInstance,
) -> tgbridge::store::Portal {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(portal) = store.portals().by_peer(chat).unwrap() {
            return portal;
        }
        assert!(
            Instant::now() < deadline,
            "no portal for {chat:?}\n{}",
            bridge.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A valid 1×1 PNG, so the homeserver can thumbnail what it stores.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];
