//! End to end, Telegram → Matrix: the bridge binary logged into the fake
//! Telegram datacenter next to a real homeserver (each scenario runs on
//! Synapse and on Conduit). Four tests, each with a bridge of its own, walk
//! a table of Telegram actions (formatted text with mentions, replies,
//! edits; reactions, pins, deletions, the owner writing from another app;
//! calls, typing, read receipts in a private chat; a supergroup's own
//! numbering, an edit of a message never bridged, a message Matrix refuses)
//! and check the exact Matrix events each must produce;
//! and a crash in the middle of a burst of messages, after which every
//! message appears exactly once, in order.

mod appservice_support;

use std::time::{Duration, Instant};

use appservice_support::telegram::{
    configure, portal_of, start_logged_in, user, wait_for_log, NO_HISTORY,
};
use appservice_support::{
    event_id, eventually, expect_event, message_in, shared_homeserver, sync_position, timeline,
    typing_after, BridgeInstance, Bridges, EVENT_TIMEOUT,
};
use fake_telegram::world::{ChannelId, ChatId, OutgoingMessage, Peer, UserId, World};
use fake_telegram::FakeTelegram;
use grammers_session::types::{PeerId, UpdateState, UpdatesState};
use grammers_session::Session as _;
use grammers_tl_types as tl;
use serde_json::{json, Value};
use testkit::{Homeserver, HomeserverKind, HomeserverOptions, Method, SharedHomeserver, TestUser};
use tgbridge::store::Store;

static SERVERS: SharedHomeserver<Bridges> = SharedHomeserver::new();

async fn server(kind: HomeserverKind) -> (&'static Homeserver, &'static Bridges) {
    shared_homeserver(
        &SERVERS,
        kind,
        &["ifm", "irp", "idm", "isg", "rst"],
        HomeserverOptions::default(),
        |name, bridge| {
            // This bridge may not act as the owner: their own messages come
            // from the ghost of their Telegram account.
            if name == "rst" {
                drop_owner_namespace(bridge);
            }
        },
    )
    .await
}

/// Removes the owner (the non-exclusive user namespace) from a registration,
/// which turns double puppeting off for that bridge.
fn drop_owner_namespace(bridge: &BridgeInstance) {
    let text = std::fs::read_to_string(&bridge.registration_path).unwrap();
    let mut registration: Value = serde_yaml::from_str(&text).unwrap();
    let users = registration["namespaces"]["users"].as_array_mut().unwrap();
    users.retain(|namespace| namespace["exclusive"] == true);
    std::fs::write(
        &bridge.registration_path,
        serde_yaml::to_string(&registration).unwrap(),
    )
    .unwrap();
}

on_both_servers!(
    formatted_texts_replies_and_edits_become_the_exact_matrix_events,
    reactions_pins_deletions_and_the_owners_messages_become_the_exact_matrix_events,
    private_chat_receipts_typing_and_calls_become_the_exact_matrix_events,
    supergroup_numbering_unknown_edits_and_refused_messages,
    restart_mid_burst_bridges_each_message_once,
);

/// One scenario's world: Alice (the owner), Bob and Carol (`@carolx`) in
/// Table, Bob's basic group with one message from before the bridge, and
/// Super, Bob's supergroup with Alice. The bridge, with no initial history,
/// is logged in as Alice; the owner has joined Table's portal.
struct Inbound {
    bridge: BridgeInstance,
    fake: FakeTelegram,
    owner: TestUser,
    store: Store,
    alice: UserId,
    bob: UserId,
    carol: UserId,
    group: ChatId,
    old_message: i32,
    supergroup: ChannelId,
    /// Table's portal room.
    room: String,
    owner_id: String,
}

/// Starts the bridge prepared as `name` on `server` into a fresh [`Inbound`].
async fn inbound(server: &Homeserver, bridges: &Bridges, name: &str) -> Inbound {
    let mut bridge = bridges.take(name);
    configure(&bridge, NO_HISTORY);
    let fake = FakeTelegram::start().await;
    let (alice, bob, carol, group, old_message, supergroup) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550001"));
        let bob = w.add_user(user("Bob", "15550002"));
        let mut carol_spec = user("Carol", "15550003");
        carol_spec.username = Some("carolx".into());
        let carol = w.add_user(carol_spec);
        let group = w.create_group(bob, "Table", &[alice, carol]).unwrap();
        let old_message = w
            .send_text(bob, Peer::Chat(group), "before the bridge")
            .unwrap();
        let supergroup = w.create_supergroup(bob, "Super", &[alice]).unwrap();
        (alice, bob, carol, group, old_message, supergroup)
    };
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
    let store = Store::open(&bridge.database_path).unwrap();
    let portal = portal_of(&store, PeerId::chat(group).unwrap(), &bridge).await;
    let room = portal.room_id.to_string();
    owner.join(&room).await.unwrap();
    Inbound {
        owner_id: bridge.owner(),
        bridge,
        fake,
        owner,
        store,
        alice,
        bob,
        carol,
        group,
        old_message,
        supergroup,
        room,
    }
}

impl Inbound {
    /// Acts on Telegram; returns what `f` returns (a message id, or 0).
    fn tg(&self, f: impl FnOnce(&mut World) -> i32) -> i32 {
        let shared = self.fake.world();
        let mut w = shared.lock().unwrap();
        f(&mut w)
    }

    /// The bodies of Table's room, oldest first (a redacted one is null).
    async fn bodies(&self) -> Vec<Value> {
        timeline(&self.owner, &self.room)
            .await
            .iter()
            .map(|e| e["content"]["body"].clone())
            .collect()
    }

    /// The texts of the owner's messages in `peer` on Telegram: what the
    /// bridge posted as the owner came from Telegram and never went back.
    fn owner_texts(&self, peer: Peer) -> Vec<String> {
        let shared = self.fake.world();
        let w = shared.lock().unwrap();
        w.history(self.alice, peer)
            .into_iter()
            .filter(|m| m.from == self.alice)
            .map(|m| m.text)
            .collect()
    }
}

/// Bob's formatted message with mentions in Table: the owner's own account
/// becomes a pill to the owner, a @username a pill to that user's ghost.
/// Returns its Telegram id and its event id.
async fn formatted_message(t: &Inbound) -> (i32, String) {
    let (alice, group) = (t.alice, t.group);
    let (owner_id, carol_ghost) = (&t.owner_id, t.bridge.ghost(t.carol));
    let pill = |user: &str| format!("<a href=\"https://matrix.to/#/{user}\">");
    let first = t.tg(|w| {
        let message = OutgoingMessage {
            text: "Hi Alice, @carolx: bold".into(),
            entities: vec![
                tl::types::MessageEntityMentionName {
                    offset: 3,
                    length: 5,
                    user_id: alice,
                }
                .into(),
                tl::types::MessageEntityMention {
                    offset: 10,
                    length: 7,
                }
                .into(),
                tl::types::MessageEntityBold {
                    offset: 19,
                    length: 4,
                }
                .into(),
            ],
            ..OutgoingMessage::default()
        };
        w.send_message(t.bob, Peer::Chat(group), message).unwrap()
    });
    let event = expect_event(&t.owner, &t.bridge, "formatted message", |e| {
        message_in(e, &t.room, "Hi Alice, @carolx: bold")
    })
    .await;
    assert_eq!(event["sender"], t.bridge.ghost(t.bob).as_str());
    assert_eq!(
        event["content"],
        json!({
            "msgtype": "m.text",
            "body": "Hi Alice, @carolx: bold",
            "format": "org.matrix.custom.html",
            "formatted_body": format!(
                "Hi {}Alice</a>, {}@carolx</a>: <strong>bold</strong>",
                pill(owner_id),
                pill(&carol_ghost)
            ),
            "m.mentions": { "user_ids": [owner_id.as_str(), carol_ghost.as_str()] },
        })
    );
    (first, event_id(&event))
}

/// Carol's reply to the bridged message `first` points at its event
/// `first_event`; returns the reply's event id.
async fn reply_to_first(t: &Inbound, first: i32, first_event: &str) -> String {
    t.tg(|w| {
        let reply = OutgoingMessage {
            reply_to: Some(first),
            ..OutgoingMessage::text("a reply")
        };
        w.send_message(t.carol, Peer::Chat(t.group), reply).unwrap()
    });
    let reply = expect_event(&t.owner, &t.bridge, "reply", |e| {
        message_in(e, &t.room, "a reply")
    })
    .await;
    assert_eq!(reply["sender"], t.bridge.ghost(t.carol).as_str());
    assert_eq!(
        reply["content"]["m.relates_to"],
        json!({ "m.in_reply_to": { "event_id": first_event } })
    );
    event_id(&reply)
}

async fn formatted_texts_replies_and_edits_become_the_exact_matrix_events(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut t = inbound(server, bridges, "ifm").await;
    let (first, first_event) = formatted_message(&t).await;

    // A reply to a bridged message points at its event; a reply to one the
    // bridge never saw is a plain message.
    reply_to_first(&t, first, &first_event).await;
    t.tg(|w| {
        let reply = OutgoingMessage {
            reply_to: Some(t.old_message),
            ..OutgoingMessage::text("reply to the past")
        };
        w.send_message(t.carol, Peer::Chat(t.group), reply).unwrap()
    });
    let plain = expect_event(&t.owner, &t.bridge, "reply to an unknown message", |e| {
        message_in(e, &t.room, "reply to the past")
    })
    .await;
    assert!(plain["content"].get("m.relates_to").is_none(), "{plain}");

    // An edit replaces the event, as the original sender.
    t.tg(|w| {
        w.edit_text(t.bob, Peer::Chat(t.group), first, "Hi everyone")
            .unwrap();
        0
    });
    let edit = expect_event(&t.owner, &t.bridge, "edit", |e| {
        message_in(e, &t.room, "* Hi everyone")
    })
    .await;
    assert_eq!(edit["sender"], t.bridge.ghost(t.bob).as_str());
    assert_eq!(
        edit["content"],
        json!({
            "msgtype": "m.text",
            "body": "* Hi everyone",
            "m.new_content": { "msgtype": "m.text", "body": "Hi everyone", "m.mentions": {} },
            "m.relates_to": { "rel_type": "m.replace", "event_id": first_event },
            "m.mentions": {},
        })
    );

    // Nothing was bridged twice: the room holds exactly these messages.
    assert_eq!(
        t.bodies().await,
        vec![
            json!("Hi Alice, @carolx: bold"),
            json!("a reply"),
            json!("reply to the past"),
            json!("* Hi everyone"),
        ],
        "{}",
        t.bridge.log_tail()
    );
    t.bridge.stop();
}

async fn reactions_pins_deletions_and_the_owners_messages_become_the_exact_matrix_events(
    kind: HomeserverKind,
) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut t = inbound(server, bridges, "irp").await;
    let (owner, bridge, room) = (&t.owner, &t.bridge, t.room.as_str());
    let (alice, bob, carol, group) = (t.alice, t.bob, t.carol, Peer::Chat(t.group));
    let (first, first_event) = formatted_message(&t).await;
    let first_event = first_event.as_str();
    let reply_event = reply_to_first(&t, first, first_event).await;

    // Reactions: added as annotations from the reacting user (the owner
    // for their own), removed as redactions.
    t.tg(|w| w.react(carol, group, first, Some("👍")).map(|_| 0).unwrap());
    let reaction = expect_event(owner, bridge, "reaction", |e| {
        e["room_id"] == room && e["type"] == "m.reaction"
    })
    .await;
    assert_eq!(reaction["sender"], bridge.ghost(carol).as_str());
    assert_eq!(
        reaction["content"],
        json!({ "m.relates_to": { "rel_type": "m.annotation", "event_id": first_event, "key": "👍" } })
    );
    let reaction_event = event_id(&reaction);
    t.tg(|w| w.react(alice, group, first, Some("❤")).map(|_| 0).unwrap());
    let own_reaction = expect_event(owner, bridge, "the owner's reaction", |e| {
        e["room_id"] == room
            && e["type"] == "m.reaction"
            && e["content"]["m.relates_to"]["key"] == "❤"
    })
    .await;
    let reactions: Vec<Value> = owner
        .room_messages(room, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e["type"] == "m.reaction")
        .collect();
    assert_eq!(
        reactions.len(),
        2,
        "Carol's and the owner's, once each: {reactions:#?}"
    );
    assert_eq!(own_reaction["sender"], t.owner_id.as_str());
    assert_eq!(own_reaction["content"]["m.relates_to"]["key"], "❤");
    t.tg(|w| w.react(carol, group, first, None).map(|_| 0).unwrap());
    let unreact = expect_event(owner, bridge, "reaction removed", |e| {
        e["room_id"] == room && e["type"] == "m.room.redaction"
    })
    .await;
    assert_eq!(unreact["redacts"], reaction_event.as_str(), "{unreact}");

    // Pins become the room's pinned events, both ways round.
    t.tg(|w| w.pin(bob, group, first, true).map(|_| 0).unwrap());
    expect_event(owner, bridge, "pin", |e| {
        e["room_id"] == room && e["type"] == "m.room.pinned_events"
    })
    .await;
    // Conduit may show the event in /sync a moment before its state reads
    // back, so the state is polled.
    let pins = json!({ "pinned": [first_event] });
    eventually(bridge, "the pinned events as state", || {
        let pins = &pins;
        async move {
            let path = format!("/_matrix/client/v3/rooms/{room}/state/m.room.pinned_events/");
            let state = owner.api().ok(Method::GET, &path, None).await.ok()?;
            (state == *pins).then_some(())
        }
    })
    .await;
    t.tg(|w| w.pin(bob, group, first, false).map(|_| 0).unwrap());
    expect_event(owner, bridge, "unpin", |e| {
        e["room_id"] == room
            && e["type"] == "m.room.pinned_events"
            && e["content"]["pinned"] == json!([])
    })
    .await;

    // A deletion redacts the message.
    t.tg(|w| w.delete(bob, group, &[first], true).map(|_| 0).unwrap());
    let redaction = expect_event(owner, bridge, "deletion", |e| {
        e["room_id"] == room && e["type"] == "m.room.redaction" && e["redacts"] == first_event
    })
    .await;
    assert_eq!(redaction["redacts"], first_event);

    // The owner writing from another Telegram app appears as the owner.
    t.tg(|w| w.send_text(alice, group, "from my phone").unwrap());
    let own = expect_event(owner, bridge, "owner's message", |e| {
        message_in(e, room, "from my phone")
    })
    .await;
    assert_eq!(own["sender"], t.owner_id.as_str());

    // Nothing was bridged twice: the room holds exactly these messages, in
    // order (the first one redacted), and only the deleted message went.
    assert_eq!(
        t.bodies().await,
        vec![Value::Null, json!("a reply"), json!("from my phone")],
        "{}",
        bridge.log_tail()
    );
    let redacted = owner
        .api()
        .ok(
            Method::GET,
            &format!("/_matrix/client/v3/rooms/{room}/event/{reply_event}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        redacted["content"]["body"], "a reply",
        "only the deleted message went"
    );
    assert_eq!(t.owner_texts(group), ["from my phone"]);
    t.bridge.stop();
}

async fn private_chat_receipts_typing_and_calls_become_the_exact_matrix_events(
    kind: HomeserverKind,
) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut t = inbound(server, bridges, "idm").await;
    let (owner, bridge) = (&t.owner, &t.bridge);
    let (alice, bob, bob_ghost) = (t.alice, t.bob, t.bridge.ghost(t.bob));

    // A private chat: a call record is a notice, typing and reading show
    // as Bob's ghost.
    t.tg(|w| w.send_text(bob, Peer::User(alice), "hello Alice").unwrap());
    let dm = portal_of(&t.store, PeerId::user(bob).unwrap(), bridge).await;
    let dm_room = dm.room_id.to_string();
    owner.join(&dm_room).await.unwrap();
    let hello = expect_event(owner, bridge, "first private message", |e| {
        message_in(e, &dm_room, "hello Alice")
    })
    .await;
    assert_eq!(hello["sender"], bob_ghost.as_str());
    t.tg(|w| w.send_text(alice, Peer::User(bob), "on my way").unwrap());
    let on_my_way = expect_event(owner, bridge, "owner's private message", |e| {
        message_in(e, &dm_room, "on my way")
    })
    .await;
    assert_eq!(on_my_way["sender"], t.owner_id.as_str());
    let on_my_way_event = event_id(&on_my_way);
    t.tg(|w| w.read(bob, Peer::User(alice), 0).map(|_| 0).unwrap());
    let receipt = expect_event(owner, bridge, "read receipt", |e| {
        e["room_id"] == dm_room.as_str()
            && e["type"] == "m.receipt"
            && !e["content"][on_my_way_event.as_str()]["m.read"][bob_ghost.as_str()].is_null()
    })
    .await;
    assert!(
        receipt["content"][on_my_way_event.as_str()]["m.read"][bob_ghost.as_str()]["ts"].is_u64()
    );
    // Typing is ephemeral: watched from a /sync position taken just before
    // Telegram shows Bob typing, so no earlier batch can have taken it.
    let since = sync_position(owner).await;
    t.tg(|w| w.typing(bob, Peer::User(alice)).map(|_| 0).unwrap());
    let typing: Vec<String> = typing_after(owner, &since, Some(&dm_room))
        .await
        .into_iter()
        .map(|(_, user)| user)
        .collect();
    assert_eq!(
        typing,
        std::slice::from_ref(&bob_ghost),
        "{}",
        bridge.log_tail()
    );
    t.tg(|w| {
        let call = tl::types::MessageActionPhoneCall {
            video: false,
            call_id: 77,
            reason: Some(tl::enums::PhoneCallDiscardReason::Missed),
            duration: None,
        };
        w.send_service(bob, Peer::User(alice), call.into()).unwrap()
    });
    let call = expect_event(owner, bridge, "call notice", |e| {
        message_in(e, &dm_room, "Missed call")
    })
    .await;
    assert_eq!(call["sender"], bob_ghost.as_str());
    assert_eq!(
        call["content"],
        json!({ "msgtype": "m.notice", "body": "Missed call" })
    );
    t.bridge.stop();
}

async fn supergroup_numbering_unknown_edits_and_refused_messages(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut t = inbound(server, bridges, "isg").await;
    let (owner, bridge, room) = (&t.owner, &t.bridge, t.room.as_str());
    let (alice, bob, supergroup) = (t.alice, t.bob, Peer::Channel(t.supergroup));

    // A supergroup numbers its own messages: replies and deletions are
    // found in the channel's numbering. Editing a message the bridge never
    // bridged changes nothing in Matrix.
    t.tg(|w| {
        w.edit_text(bob, Peer::Chat(t.group), t.old_message, "rewritten history")
            .map(|_| 0)
            .unwrap()
    });
    let super_room = portal_of(&t.store, PeerId::channel(t.supergroup).unwrap(), bridge)
        .await
        .room_id
        .to_string();
    owner.join(&super_room).await.unwrap();
    let s1 = t.tg(|w| w.send_text(bob, supergroup, "s1").unwrap());
    let s1_event = event_id(
        &expect_event(owner, bridge, "supergroup message", |e| {
            message_in(e, &super_room, "s1")
        })
        .await,
    );
    t.tg(|w| {
        let reply = OutgoingMessage {
            reply_to: Some(s1),
            ..OutgoingMessage::text("s2")
        };
        w.send_message(alice, supergroup, reply).unwrap()
    });
    let s2 = expect_event(owner, bridge, "supergroup reply", |e| {
        message_in(e, &super_room, "s2")
    })
    .await;
    assert_eq!(s2["sender"], t.owner_id.as_str());
    assert_eq!(
        s2["content"]["m.relates_to"]["m.in_reply_to"]["event_id"],
        s1_event.as_str()
    );
    t.tg(|w| w.delete(bob, supergroup, &[s1], true).map(|_| 0).unwrap());
    expect_event(owner, bridge, "supergroup deletion", |e| {
        e["room_id"] == super_room.as_str()
            && e["type"] == "m.room.redaction"
            && e["redacts"] == s1_event.as_str()
    })
    .await;

    // A message Matrix refuses (Carol's ghost is banned from the room)
    // becomes a notice saying so.
    let bot = server.client(Some(&bridge.as_token));
    bot.ok(
        Method::POST,
        &format!("/_matrix/client/v3/rooms/{room}/ban"),
        Some(&json!({ "user_id": bridge.ghost(t.carol), "reason": "test" })),
    )
    .await
    .unwrap();
    t.tg(|w| {
        w.send_text(t.carol, Peer::Chat(t.group), "can you hear me")
            .unwrap()
    });
    let failure = expect_event(owner, bridge, "failure notice", |e| {
        e["room_id"] == room
            && e["content"]["msgtype"] == "m.notice"
            && e["content"]["body"]
                .as_str()
                .is_some_and(|b| b.starts_with("A Telegram message from Carol"))
    })
    .await;
    assert_eq!(failure["sender"], bridge.bot_user_id.as_str());
    let reason = failure["content"]["body"].as_str().unwrap();
    assert!(
        reason.starts_with("A Telegram message from Carol (Telegram) could not be bridged: ")
            && reason.contains("M_FORBIDDEN"),
        "{reason}"
    );

    // Nothing was bridged twice, and the edit of the unknown message left
    // no trace: Table's room holds only the notice.
    assert_eq!(
        t.bodies().await,
        vec![failure["content"]["body"].clone()],
        "{}",
        bridge.log_tail()
    );
    assert_eq!(t.owner_texts(supergroup), ["s2"]);
    t.bridge.stop();
}

async fn restart_mid_burst_bridges_each_message_once(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("rst");
    configure(&bridge, NO_HISTORY);

    let fake = FakeTelegram::start().await;
    let (alice, bob, group, quiet) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550001"));
        let bob = w.add_user(user("Bob", "15550002"));
        let group = w.create_group(bob, "Burst", &[alice]).unwrap();
        let quiet = w.create_group(bob, "Quiet", &[alice]).unwrap();
        (alice, bob, group, quiet)
    };
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
    wait_for_log(&bridge, "double puppeting not available", 1, EVENT_TIMEOUT).await;
    wait_for_log(&bridge, "caught up with missed messages", 1, EVENT_TIMEOUT).await;

    let store = Store::open(&bridge.database_path).unwrap();
    let chat = PeerId::chat(group).unwrap();
    let portal = portal_of(&store, chat, &bridge).await;
    let room = portal.room_id.to_string();
    owner.join(&room).await.unwrap();
    let send = |from, text: &str| {
        fake.world()
            .lock()
            .unwrap()
            .send_text(from, Peer::Chat(group), text)
            .unwrap()
    };
    let warm_up = send(bob, "warm-up");
    expect_event(&owner, &bridge, "warm-up", |e| {
        message_in(e, &room, "warm-up")
    })
    .await;

    // The first half of a burst (the owner's own message among them), a
    // crash while the bridge is busy with it, and the second half while
    // the bridge is down.
    let body = |n: u32| format!("burst {n}");
    let from = |n: u32| if n == 10 { alice } else { bob };
    for n in 1..=15 {
        send(from(n), &body(n));
    }
    let deadline = Instant::now() + EVENT_TIMEOUT;
    while store.messages().newest_in_chat(chat).unwrap() < Some(warm_up + 3) {
        assert!(Instant::now() < deadline, "{}", bridge.log_tail());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bridge.kill();
    let bridged_before_crash = store.messages().newest_in_chat(chat).unwrap().unwrap() - warm_up;
    eprintln!(
        "{bridged_before_crash} of the first 15 burst messages were bridged before the crash"
    );
    for n in 16..=30 {
        send(from(n), &body(n));
    }
    // A chat nothing was ever bridged from gets its first message now.
    fake.world()
        .lock()
        .unwrap()
        .send_text(bob, Peer::Chat(quiet), "quiet 1")
        .unwrap();
    // The worst case for the crash: grammers had saved an update state past
    // every message of the burst, so Telegram's difference replays none of
    // them and only the bridge's own record can tell what is missing.
    let now = fake.world().lock().unwrap().state(alice);
    store
        .telegram_session()
        .set_update_state(UpdateState::All(UpdatesState {
            pts: now.pts,
            qts: now.qts,
            date: now.date,
            seq: now.seq,
            channels: Vec::new(),
        }))
        .await
        .unwrap();

    bridge.start();
    bridge.wait_ready(Duration::from_secs(60)).await;
    wait_for_log(&bridge, "caught up with missed messages", 2, EVENT_TIMEOUT).await;
    send(bob, "after the restart");
    expect_event(&owner, &bridge, "live message after the restart", |e| {
        message_in(e, &room, "after the restart")
    })
    .await;
    let quiet_room = portal_of(&store, PeerId::chat(quiet).unwrap(), &bridge)
        .await
        .room_id
        .to_string();
    owner.join(&quiet_room).await.unwrap();
    let quiet_bodies: Vec<Value> = timeline(&owner, &quiet_room)
        .await
        .iter()
        .map(|e| e["content"]["body"].clone())
        .collect();
    assert_eq!(
        quiet_bodies,
        vec![json!("quiet 1")],
        "{}",
        bridge.log_tail()
    );

    let events = timeline(&owner, &room).await;
    let bodies: Vec<&str> = events
        .iter()
        .filter_map(|e| e["content"]["body"].as_str())
        .collect();
    let mut expected = vec!["warm-up".to_owned()];
    expected.extend((1..=30).map(body));
    expected.push("after the restart".to_owned());
    assert_eq!(
        bodies,
        expected,
        "{bridged_before_crash} of the burst were bridged before the crash\n{}",
        bridge.log_tail()
    );
    let owner_ghost = format!("@rsttg_{alice}:localhost");
    let bob_ghost = format!("@rsttg_{bob}:localhost");
    for event in &events {
        let expected_sender = if event["content"]["body"] == "burst 10" {
            &owner_ghost
        } else {
            &bob_ghost
        };
        assert_eq!(event["sender"], expected_sender.as_str(), "{event}");
    }
    assert!(
        bridge.log().contains("missed messages bridged"),
        "the gap was filled from the chat's history"
    );
    bridge.stop();
}
