//! End to end: a panic while bridging one item affects that item only. The
//! real bridge binary, logged into the fake Telegram datacenter next to a
//! real homeserver, is told through its debug-only test hook to panic on
//! one chosen message of a burst: a Telegram message on its way to Matrix,
//! or an owner's message on its way out of the outbox to Telegram (and, in
//! the same burst, an owner's message the core itself panics on). The rest
//! of the burst arrives, in the poisoned chat and the others, the process
//! stays up, the item is recorded in the quarantine with its reason, the
//! owner is told in the room, and after a crash and a restart the poisoned
//! item is not tried again while the chat goes on. And an update the
//! client cannot even read (the fake datacenter pushes one on request) is
//! logged without its content and skipped, its message recovered from
//! Telegram, the owner told, and the chats go on.

mod appservice_support;

use std::time::{Duration, Instant};

use appservice_support::telegram::{
    configure, id_of, own_texts, portal_of, send_on_telegram, start_logged_in, user, wait_for_log,
    NO_HISTORY,
};
use appservice_support::{bodies_from, default_homeserver, BridgeInstance, Bridges, EVENT_TIMEOUT};
use fake_telegram::world::{Peer, UserId};
use fake_telegram::FakeTelegram;
use grammers_session::types::PeerId;
use serde_json::Value;
use testkit::{Homeserver, HomeserverKind, TestUser};
use tgbridge::bridge::containment::TEST_PANIC_VAR;
use tgbridge::store::{QuarantineDirection, QuarantinedItem, Store};

/// Text that makes the Telegram → Matrix handling panic.
const TELEGRAM_POISON: &str = "POISON-FROM-TELEGRAM";
/// Text that makes the delivery of an outbox entry to Telegram panic.
const OUTBOX_POISON: &str = "POISON-IN-THE-OUTBOX";
/// Text that makes the core's handling of a Matrix event panic.
const CORE_POISON: &str = "POISON-IN-THE-CORE";

/// What the bridge logs once per Telegram item it gives up.
const TELEGRAM_GIVEN_UP: &str = "bridging a Telegram update panicked; it is skipped";
/// What the bridge logs once per outbox entry it gives up.
const OUTBOX_GIVEN_UP: &str = "delivering an event to Telegram panicked; it is skipped";
/// What the bridge logs once per Matrix event the core gives up.
const CORE_GIVEN_UP: &str = "handling a Matrix event panicked; it is skipped";

/// Sets the debug-only hook of `bridge` to panic as `spec` says. The
/// panics' backtraces are left out of the log so its tail stays readable.
fn poison(bridge: &mut BridgeInstance, spec: &str) {
    bridge.set_env(TEST_PANIC_VAR, spec);
    bridge.set_env("RUST_BACKTRACE", "0");
}

async fn server(kind: HomeserverKind) -> (&'static Homeserver, &'static Bridges) {
    default_homeserver(kind, &["cti", "cto", "ctu"]).await
}

/// Two groups of the owner's account, each with another member.
struct Chats {
    owner: UserId,
    bob: UserId,
    carol: UserId,
    first: i64,
    second: i64,
}

fn two_groups(fake: &FakeTelegram, phones: u32) -> Chats {
    let shared = fake.world();
    let mut w = shared.lock().unwrap();
    let owner = w.add_user(user("Alice", &format!("1555{phones:04}")));
    let bob = w.add_user(user("Bob", &format!("1555{:04}", phones + 1)));
    let carol = w.add_user(user("Carol", &format!("1555{:04}", phones + 2)));
    let first = w.create_group(bob, "Poisoned", &[owner]).unwrap();
    let second = w.create_group(carol, "Healthy", &[owner]).unwrap();
    Chats {
        owner,
        bob,
        carol,
        first,
        second,
    }
}

/// Starts `bridge` logged into `chats.owner` and returns the owner and the
/// two portals, joined.
async fn start(
    homeserver: &Homeserver,
    bridge: &mut BridgeInstance,
    fake: &FakeTelegram,
    chats: &Chats,
) -> (TestUser, String, String) {
    let owner = start_logged_in(homeserver, bridge, fake, chats.owner).await;
    let store = Store::open(&bridge.database_path).unwrap();
    let mut rooms = Vec::new();
    for group in [chats.first, chats.second] {
        let portal = portal_of(&store, PeerId::chat(group).unwrap(), bridge).await;
        owner.join(portal.room_id.as_str()).await.unwrap();
        rooms.push(portal.room_id.to_string());
    }
    let second = rooms.pop().unwrap();
    let first = rooms.pop().unwrap();
    (owner, first, second)
}

/// Waits until the owner's own texts in `group` on Telegram are `expected`
/// (no fewer, and then no more: a poisoned message is never among them).
async fn wait_for_telegram_texts(
    fake: &FakeTelegram,
    bridge: &BridgeInstance,
    owner: UserId,
    group: i64,
    expected: &[&str],
) {
    let deadline = Instant::now() + EVENT_TIMEOUT;
    loop {
        let texts = own_texts(fake, owner, Peer::Chat(group));
        if texts.len() >= expected.len() {
            assert_eq!(texts, expected, "{}", bridge.log_tail());
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {texts:?} of {expected:?} reached Telegram\n{}",
            bridge.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the bodies `sender` sent in `room` are `expected`.
async fn wait_for_bodies(
    owner: &TestUser,
    bridge: &BridgeInstance,
    room: &str,
    sender: &str,
    expected: &[&str],
) {
    let deadline = Instant::now() + EVENT_TIMEOUT;
    loop {
        let bodies = bodies_from(owner, room, sender).await;
        if bodies.len() >= expected.len() {
            assert_eq!(bodies, expected, "{}", bridge.log_tail());
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {bodies:?} of {expected:?} from {sender} in {room}\n{}",
            bridge.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The bot's notices in `room` that contain `text`.
async fn notices_containing(
    owner: &TestUser,
    bridge: &BridgeInstance,
    room: &str,
    text: &str,
) -> Vec<Value> {
    owner
        .room_messages(room, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| appservice_support::is_notice_from(e, &bridge.bot_user_id, text))
        .collect()
}

/// Waits until the bot has told the owner in `room` something containing
/// `text`. Read from the room, not /sync: an initial sync may leave a
/// notice out of a busy room's timeline.
async fn wait_for_notice(owner: &TestUser, bridge: &BridgeInstance, room: &str, text: &str) {
    let deadline = Instant::now() + EVENT_TIMEOUT;
    while notices_containing(owner, bridge, room, text)
        .await
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "no notice containing {text:?} in {room}\n{}",
            bridge.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn quarantine(bridge: &BridgeInstance) -> Vec<QuarantinedItem> {
    Store::open(&bridge.database_path)
        .unwrap()
        .quarantine()
        .list()
        .unwrap()
}

/// The process is running and its health endpoint answers.
async fn assert_alive(bridge: &mut BridgeInstance) {
    assert!(
        bridge.is_running(),
        "the bridge exited\n{}",
        bridge.log_tail()
    );
    let health = bridge.health().await;
    assert!(
        matches!(health, Some((200, _))),
        "health: {health:?}\n{}",
        bridge.log_tail()
    );
}

/// SIGKILL (as a crash would end it) and start again, with the same hook.
async fn crash_and_restart(bridge: &mut BridgeInstance, syncs_so_far: usize) {
    bridge.kill();
    bridge.start();
    bridge.wait_ready(Duration::from_secs(60)).await;
    wait_for_log(
        bridge,
        "chat sync finished",
        syncs_so_far + 1,
        Duration::from_secs(60),
    )
    .await;
}

on_both_servers!(
    a_telegram_message_that_panics_is_given_up_alone,
    an_owner_message_that_panics_is_given_up_alone,
    an_unreadable_telegram_update_is_skipped_and_its_message_recovered
);

async fn a_telegram_message_that_panics_is_given_up_alone(kind: HomeserverKind) {
    let (homeserver, bridges) = server(kind).await;
    let _log = homeserver.log_on_panic();
    let mut bridge = bridges.take("cti");
    configure(&bridge, NO_HISTORY);
    poison(&mut bridge, &format!("telegram:{TELEGRAM_POISON}"));
    let fake = FakeTelegram::start().await;
    let chats = two_groups(&fake, 4100);
    let (owner, first, second) = start(homeserver, &mut bridge, &fake, &chats).await;
    let bob = format!("@ctitg_{}:localhost", chats.bob);
    let carol = format!("@ctitg_{}:localhost", chats.carol);

    // A burst over both chats; the poisoned message is the newest of its
    // chat, so nothing but its own record can keep a restart from
    // bridging it again.
    send_on_telegram(&fake, chats.bob, Peer::Chat(chats.first), "first 1");
    send_on_telegram(&fake, chats.carol, Peer::Chat(chats.second), "second 1");
    send_on_telegram(&fake, chats.bob, Peer::Chat(chats.first), "first 2");
    let poison_text = format!("first 3 {TELEGRAM_POISON}");
    send_on_telegram(&fake, chats.bob, Peer::Chat(chats.first), &poison_text);
    // Message ids of basic groups count per account: the bridge knows the
    // message by the owner's number.
    let poisoned = id_of(&fake, chats.owner, Peer::Chat(chats.first), &poison_text);
    send_on_telegram(&fake, chats.carol, Peer::Chat(chats.second), "second 2");
    send_on_telegram(&fake, chats.carol, Peer::Chat(chats.second), "second 3");

    wait_for_bodies(
        &owner,
        &bridge,
        &second,
        &carol,
        &["second 1", "second 2", "second 3"],
    )
    .await;
    wait_for_bodies(&owner, &bridge, &first, &bob, &["first 1", "first 2"]).await;
    let notice = format!("(message {poisoned}) could not be bridged");
    wait_for_notice(&owner, &bridge, &first, &notice).await;
    assert_alive(&mut bridge).await;
    let recorded = quarantine(&bridge);
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0].direction, QuarantineDirection::Telegram);
    assert!(
        recorded[0].item.contains(&format!("message {poisoned} ")),
        "{recorded:?}"
    );
    assert_eq!(recorded[0].room_id.as_deref(), Some(first.as_str()));
    assert!(
        recorded[0]
            .reason
            .contains("test panic at the telegram site"),
        "{recorded:?}"
    );
    assert_eq!(bridge.log().matches(TELEGRAM_GIVEN_UP).count(), 1);

    // After a crash the catch-up does not bridge the poisoned message
    // again, and the chat goes on.
    crash_and_restart(&mut bridge, 1).await;
    send_on_telegram(&fake, chats.bob, Peer::Chat(chats.first), "first 4");
    wait_for_bodies(
        &owner,
        &bridge,
        &first,
        &bob,
        &["first 1", "first 2", "first 4"],
    )
    .await;
    send_on_telegram(&fake, chats.carol, Peer::Chat(chats.second), "second 4");
    wait_for_bodies(
        &owner,
        &bridge,
        &second,
        &carol,
        &["second 1", "second 2", "second 3", "second 4"],
    )
    .await;
    assert_eq!(
        bridge.log().matches(TELEGRAM_GIVEN_UP).count(),
        1,
        "the poisoned message was tried again\n{}",
        bridge.log_tail()
    );
    assert_eq!(quarantine(&bridge).len(), 1);
    assert_eq!(
        notices_containing(&owner, &bridge, &first, "could not be bridged")
            .await
            .len(),
        1
    );
    assert_alive(&mut bridge).await;
    bridge.terminate();
}

async fn an_owner_message_that_panics_is_given_up_alone(kind: HomeserverKind) {
    let (homeserver, bridges) = server(kind).await;
    let _log = homeserver.log_on_panic();
    let mut bridge = bridges.take("cto");
    configure(&bridge, NO_HISTORY);
    poison(
        &mut bridge,
        &format!("outbox:{OUTBOX_POISON},matrix:{CORE_POISON}"),
    );
    let fake = FakeTelegram::start().await;
    let chats = two_groups(&fake, 4200);
    let (owner, first, second) = start(homeserver, &mut bridge, &fake, &chats).await;

    // A burst over both portals: one message panics on its way out of the
    // outbox, one command panics in the core, which handles the owner's
    // commands itself and queues only messages for Telegram.
    owner.send_text(&first, "out 1").await.unwrap();
    owner.send_text(&second, "other 1").await.unwrap();
    let poisoned = owner
        .send_text(&first, &format!("out 2 {OUTBOX_POISON}"))
        .await
        .unwrap();
    owner.send_text(&second, "other 2").await.unwrap();
    owner.send_text(&first, "out 3").await.unwrap();
    let core_poisoned = owner
        .send_text(&second, &format!("!tg ping {CORE_POISON}"))
        .await
        .unwrap();
    owner.send_text(&second, "other 4").await.unwrap();

    wait_for_telegram_texts(
        &fake,
        &bridge,
        chats.owner,
        chats.first,
        &["out 1", "out 3"],
    )
    .await;
    wait_for_telegram_texts(
        &fake,
        &bridge,
        chats.owner,
        chats.second,
        &["other 1", "other 2", "other 4"],
    )
    .await;
    wait_for_notice(&owner, &bridge, &first, &poisoned).await;
    wait_for_notice(&owner, &bridge, &second, &core_poisoned).await;
    assert_alive(&mut bridge).await;
    let mut recorded = quarantine(&bridge);
    recorded.sort_by_key(|item| item.direction == QuarantineDirection::Matrix);
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    assert_eq!(recorded[0].direction, QuarantineDirection::Outbox);
    assert_eq!(recorded[0].item, poisoned);
    assert_eq!(recorded[0].room_id.as_deref(), Some(first.as_str()));
    assert!(
        recorded[0].reason.contains("test panic at the outbox site"),
        "{recorded:?}"
    );
    assert_eq!(recorded[1].direction, QuarantineDirection::Matrix);
    assert_eq!(recorded[1].item, core_poisoned);
    assert_eq!(recorded[1].room_id.as_deref(), Some(second.as_str()));
    assert!(
        recorded[1].reason.contains("test panic at the matrix site"),
        "{recorded:?}"
    );

    // After a crash neither the outbox nor the bridge's read-back of the
    // rooms' timelines tries the poisoned messages again, and both portals
    // go on.
    crash_and_restart(&mut bridge, 1).await;
    owner.send_text(&first, "out 4").await.unwrap();
    owner.send_text(&second, "other 5").await.unwrap();
    wait_for_telegram_texts(
        &fake,
        &bridge,
        chats.owner,
        chats.first,
        &["out 1", "out 3", "out 4"],
    )
    .await;
    wait_for_telegram_texts(
        &fake,
        &bridge,
        chats.owner,
        chats.second,
        &["other 1", "other 2", "other 4", "other 5"],
    )
    .await;
    // A homeserver retry or a late read-back would come within moments.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let log = bridge.log();
    assert_eq!(
        log.matches(OUTBOX_GIVEN_UP).count(),
        1,
        "{}",
        bridge.log_tail()
    );
    assert_eq!(
        log.matches(CORE_GIVEN_UP).count(),
        1,
        "{}",
        bridge.log_tail()
    );
    assert_eq!(quarantine(&bridge).len(), 2);
    assert_eq!(
        own_texts(&fake, chats.owner, Peer::Chat(chats.first)),
        ["out 1", "out 3", "out 4"]
    );
    assert_eq!(
        notices_containing(&owner, &bridge, &first, &poisoned)
            .await
            .len(),
        1
    );
    assert_eq!(
        notices_containing(&owner, &bridge, &second, &core_poisoned)
            .await
            .len(),
        1
    );
    assert_alive(&mut bridge).await;
    bridge.terminate();
}

async fn an_unreadable_telegram_update_is_skipped_and_its_message_recovered(kind: HomeserverKind) {
    let (homeserver, bridges) = server(kind).await;
    let _log = homeserver.log_on_panic();
    let mut bridge = bridges.take("ctu");
    configure(&bridge, NO_HISTORY);
    let fake = FakeTelegram::start().await;
    let chats = two_groups(&fake, 4300);
    let (owner, first, second) = start(homeserver, &mut bridge, &fake, &chats).await;
    let bob = format!("@ctutg_{}:localhost", chats.bob);
    let carol = format!("@ctutg_{}:localhost", chats.carol);

    // The update of the first message reaches the client unreadable, as an
    // update of a newer layer would; the other chat goes on meanwhile.
    fake.malform_next_push(chats.owner);
    send_on_telegram(
        &fake,
        chats.bob,
        Peer::Chat(chats.first),
        "unreadable when pushed",
    );
    send_on_telegram(&fake, chats.carol, Peer::Chat(chats.second), "second 1");
    send_on_telegram(&fake, chats.bob, Peer::Chat(chats.first), "first 2");
    send_on_telegram(&fake, chats.carol, Peer::Chat(chats.second), "second 2");

    wait_for_bodies(&owner, &bridge, &second, &carol, &["second 1", "second 2"]).await;
    wait_for_bodies(
        &owner,
        &bridge,
        &first,
        &bob,
        &["unreadable when pushed", "first 2"],
    )
    .await;
    let log = bridge.log();
    let unreadable: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("failed to be deserialized"))
        .collect();
    assert_eq!(unreadable.len(), 1, "{}", bridge.log_tail());
    // The log names what could not be read, not what it carried.
    assert!(
        !unreadable[0].contains("unreadable when pushed"),
        "{unreadable:?}"
    );
    let management = appservice_support::management_room_of(&owner, &bridge.bot_user_id).await;
    wait_for_notice(
        &owner,
        &bridge,
        &management,
        "Telegram sent 1 update(s) the bridge could not read",
    )
    .await;
    assert_alive(&mut bridge).await;
    bridge.terminate();
}
