//! End to end, a long homeserver outage: the bridge binary logged into the
//! fake Telegram datacenter next to a real homeserver (Synapse and Conduit)
//! that stops for three minutes. Meanwhile Telegram users do one of each
//! thing the bridge carries to Matrix (a message, an edit, a deletion, a
//! reaction, a pin, a new member, a new title, a new photo, a message that
//! is deleted before it could be bridged, and the first message of a new
//! private chat), and halfway through the bridge is killed (kill -9) and
//! started again while the homeserver is still down. Once the homeserver is
//! back, each of them is in the rooms exactly once and in Telegram's order,
//! and nothing waits in the bridge's inbox any more.

mod appservice_support;

use std::time::{Duration, Instant};

use appservice_support::telegram::{
    id_of, portal_of, send_on_telegram, start_logged_in, user, wait_for_log, with_own_homeserver,
    NO_HISTORY, PNG,
};
use appservice_support::{
    event_id, expect_event, message_in, timeline, BridgeInstance, EVENT_TIMEOUT,
};
use fake_telegram::world::{ChatId, Origin, Peer, UserId};
use fake_telegram::FakeTelegram;
use grammers_session::types::PeerId;
use serde_json::Value;
use testkit::{HomeserverKind, TestUser};
use tgbridge::store::Store;

/// The outage: far beyond any retry of a single request.
const OUTAGE: Duration = Duration::from_secs(180);

/// How long everything may take to arrive once the homeserver is back.
const CATCH_UP: Duration = Duration::from_secs(120);

on_both_servers!(every_telegram_action_waits_out_a_long_outage_and_a_crash);

/// The people and the group of the scenario.
struct Cast {
    alice: UserId,
    bob: UserId,
    carol: UserId,
    dave: UserId,
    erin: UserId,
    group: ChatId,
}

fn cast(fake: &FakeTelegram) -> Cast {
    let shared = fake.world();
    let mut w = shared.lock().unwrap();
    let alice = w.add_user(user("Alice", "15550601"));
    let bob = w.add_user(user("Bob", "15550602"));
    let carol = w.add_user(user("Carol", "15550603"));
    let dave = w.add_user(user("Dave", "15550604"));
    let erin = w.add_user(user("Erin", "15550605"));
    let group = w.create_group(bob, "Ramblers", &[alice, carol]).unwrap();
    Cast {
        alice,
        bob,
        carol,
        dave,
        erin,
        group,
    }
}

async fn every_telegram_action_waits_out_a_long_outage_and_a_crash(kind: HomeserverKind) {
    // Its own server, since this test stops it.
    let (mut bridge, mut server) = with_own_homeserver(kind, "eko", NO_HISTORY).await;
    let fake = FakeTelegram::start().await;
    let c = cast(&fake);
    let group = Peer::Chat(c.group);
    let owner = start_logged_in(&server, &mut bridge, &fake, c.alice).await;
    wait_for_log(&bridge, "caught up with missed messages", 1, EVENT_TIMEOUT).await;
    let store = Store::open(&bridge.database_path).unwrap();
    let room = portal_of(&store, PeerId::chat(c.group).unwrap(), &bridge)
        .await
        .room_id
        .to_string();
    owner.join(&room).await.unwrap();

    // What the outage will change is bridged before it.
    let mut before = Vec::new();
    for text in ["to edit", "to delete", "to react to", "to pin"] {
        send_on_telegram(&fake, c.bob, group, text);
        before.push(event_id(
            &expect_event(&owner, &bridge, text, |e| message_in(e, &room, text)).await,
        ));
    }
    let [_, to_delete, to_react_to, to_pin] = <[String; 4]>::try_from(before).unwrap();

    server.stop().unwrap();
    let outage = Instant::now();
    c.first_half(&fake);
    tokio::time::sleep_until((outage + OUTAGE / 2).into()).await;
    assert!(bridge.is_running(), "{}", bridge.log_tail());
    bridge.kill();
    // Started again while the homeserver is still down: it waits for it.
    bridge.start();
    c.second_half(&fake);
    tokio::time::sleep_until((outage + OUTAGE).into()).await;
    assert!(bridge.is_running(), "{}", bridge.log_tail());
    server.restart().await.unwrap();
    bridge.wait_ready(Duration::from_secs(60)).await;

    // The group: every change once, in Telegram's order.
    let events = settled(&owner, &bridge, &room, "during 3").await;
    let ghost = |id: UserId| bridge.ghost(id);
    let texts: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "m.room.message" && e["sender"] == ghost(c.bob).as_str())
        .filter(|e| e["content"]["m.relates_to"]["rel_type"] != "m.replace")
        .filter_map(|e| e["content"]["body"].as_str())
        .collect();
    assert_eq!(
        texts,
        [
            "to edit",
            "to react to",
            "to pin",
            "during 1",
            "during 2",
            "during 3"
        ],
        "{}",
        bridge.log_tail()
    );
    let edits: Vec<&str> = events
        .iter()
        .filter(|e| e["content"]["m.relates_to"]["rel_type"] == "m.replace")
        .filter_map(|e| e["content"]["m.new_content"]["body"].as_str())
        .collect();
    assert_eq!(edits, ["edited", "to pin, edited"], "{}", bridge.log_tail());
    let reactions: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "m.reaction")
        .collect();
    assert_eq!(reactions.len(), 1, "{reactions:?}");
    assert_eq!(reactions[0]["sender"], ghost(c.carol).as_str());
    assert_eq!(reactions[0]["content"]["m.relates_to"]["key"], "👍");
    assert_eq!(
        reactions[0]["content"]["m.relates_to"]["event_id"],
        to_react_to.as_str()
    );
    let deleted = events.iter().find(|e| event_id(e) == to_delete).unwrap();
    assert!(
        deleted["content"].get("body").is_none(),
        "not redacted: {deleted}"
    );
    assert!(
        !events.iter().any(|e| e.to_string().contains("doomed")),
        "a message deleted before it was bridged reached the room"
    );

    // Each kind, at its place in the timeline.
    let erin = ghost(c.erin);
    assert_in_telegram_order(&events, &room, &to_delete, &to_pin, &erin, &bridge);

    // The new private chat: its portal, with the first message once.
    let private = portal_of(&store, PeerId::user(c.dave).unwrap(), &bridge)
        .await
        .room_id
        .to_string();
    owner.join(&private).await.unwrap();
    let hello = expect_event(&owner, &bridge, "Dave's first message", |e| {
        message_in(e, &private, "hello from dave")
    })
    .await;
    assert_eq!(hello["sender"], ghost(c.dave).as_str());
    let greetings = timeline(&owner, &private)
        .await
        .iter()
        .filter(|e| message_in(e, &private, "hello from dave"))
        .count();
    assert_eq!(greetings, 1);

    // The earlier run's events were applied from the inbox, which is empty.
    assert!(
        bridge
            .log()
            .contains("applying Telegram events an earlier run had not applied"),
        "{}",
        bridge.log_tail()
    );
    assert_eq!(store.inbox().len().unwrap(), 0);
    assert!(bridge.is_running(), "{}", bridge.log_tail());
    bridge.stop();
}

impl Cast {
    /// Before the crash: one of each kind, in this order.
    fn first_half(&self, fake: &FakeTelegram) {
        let group = Peer::Chat(self.group);
        let (bob, carol) = (self.bob, self.carol);
        let react_to = id_of(fake, carol, group, "to react to");
        let [to_edit, to_delete, to_pin] =
            ["to edit", "to delete", "to pin"].map(|text| id_of(fake, bob, group, text));
        send_on_telegram(fake, bob, group, "during 1");
        let world = fake.world();
        let mut w = world.lock().unwrap();
        w.edit_text(bob, group, to_edit, "edited").unwrap();
        w.delete(bob, group, &[to_delete], true).unwrap();
        w.react(carol, group, react_to, Some("👍")).unwrap();
        w.pin(bob, group, to_pin, true).unwrap();
        let doomed = w.send_text(bob, group, "doomed").unwrap();
        w.delete(bob, group, &[doomed], true).unwrap();
        w.add_chat_members(Origin::control(bob), self.group, &[self.erin])
            .unwrap();
        w.edit_title(Origin::control(bob), group, "Ramblers abroad")
            .unwrap();
        w.set_chat_photo(bob, group, PNG.to_vec()).unwrap();
        w.send_text(self.dave, Peer::User(self.alice), "hello from dave")
            .unwrap();
        w.send_text(bob, group, "during 2").unwrap();
    }

    /// After the crash, still during the outage.
    fn second_half(&self, fake: &FakeTelegram) {
        let group = Peer::Chat(self.group);
        let to_pin = id_of(fake, self.bob, group, "to pin");
        let world = fake.world();
        let mut w = world.lock().unwrap();
        w.send_text(self.bob, group, "during 3").unwrap();
        w.edit_text(self.bob, group, to_pin, "to pin, edited")
            .unwrap();
    }
}

/// Each kind of change appears once in `events`, at its place in
/// Telegram's order (`erin` is the ghost of the member who joined).
fn assert_in_telegram_order(
    events: &[Value],
    room: &str,
    to_delete: &str,
    to_pin: &str,
    erin: &str,
    bridge: &BridgeInstance,
) {
    let position = |what: &str, found: &dyn Fn(&Value) -> bool| {
        let matching: Vec<usize> = (0..events.len()).filter(|&i| found(&events[i])).collect();
        assert_eq!(matching.len(), 1, "{what} once: {matching:?}");
        matching[0]
    };
    let order = [
        position("during 1", &|e| message_in(e, room, "during 1")),
        position("the edit", &|e| {
            e["content"]["m.new_content"]["body"] == "edited"
        }),
        position("the redaction", &|e| {
            e["type"] == "m.room.redaction"
                && (e["redacts"] == to_delete || e["content"]["redacts"] == to_delete)
        }),
        position("the reaction", &|e| e["type"] == "m.reaction"),
        position("the pin", &|e| {
            e["type"] == "m.room.pinned_events"
                && e["content"]["pinned"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|id| *id == to_pin))
        }),
        position("Erin joining", &|e| {
            e["type"] == "m.room.member"
                && e["state_key"] == erin
                && e["content"]["membership"] == "join"
        }),
        position("the new title", &|e| {
            e["type"] == "m.room.name" && e["content"]["name"] == "Ramblers abroad"
        }),
        position("the new photo", &|e| {
            e["type"] == "m.room.avatar" && e["content"]["url"].is_string()
        }),
        position("during 2", &|e| message_in(e, room, "during 2")),
        position("during 3", &|e| message_in(e, room, "during 3")),
        position("the edit after the crash", &|e| {
            e["content"]["m.new_content"]["body"] == "to pin, edited"
        }),
    ];
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "out of order: {order:?}\n{}",
        bridge.log_tail()
    );
}

/// Every event of a room, oldest first.
async fn all_events(owner: &TestUser, room: &str) -> Vec<Value> {
    let mut events = owner.room_messages(room, 300).await.unwrap();
    events.reverse();
    events
}

/// The room's events once `last` and everything before it arrived, plus a
/// moment for a late duplicate to show.
async fn settled(owner: &TestUser, bridge: &BridgeInstance, room: &str, last: &str) -> Vec<Value> {
    let deadline = Instant::now() + CATCH_UP;
    loop {
        let events = all_events(owner, room).await;
        let edited = events
            .iter()
            .any(|e| e["content"]["m.new_content"]["body"] == "to pin, edited");
        if edited && events.iter().any(|e| message_in(e, room, last)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{last:?} never arrived\n{}",
            bridge.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    all_events(owner, room).await
}
