//! End to end, Matrix → Telegram: the owner acts in portal rooms of a real
//! homeserver (each scenario runs on Synapse and on Conduit) and the fake
//! Telegram datacenter shows the result. Four tests, each with a bridge of
//! its own, walk through every kind (plain text, formatting, a mention pill,
//! reply, edit; reaction add/remove, redaction, pin; a file, an over-long
//! message, typing, a refused send; a reaction the chat does not allow, read
//! receipt, a channel deletion), check that each reaches Telegram exactly
//! once and that none of it echoes back into Matrix. Typing
//! and receipts are pushed to the bridge by Synapse and read from the bot's
//! own sync on Conduit; either way Telegram must see them. A fifth test
//! kills the bridge with SIGKILL in the middle of a burst, sends the rest of
//! the burst while it is down, and checks that Telegram ends up with every
//! message exactly once, in order.

mod appservice_support;

use std::time::Duration;

use appservice_support::telegram::{
    history, own_texts, room_of, send_on_telegram, start_logged_in, user, wait_sent,
};
use appservice_support::{
    default_homeserver, event_id, expect_event, is_notice_from, message_in, own_bodies, poll_until,
    redact, send, send_text, upload, BridgeInstance, Bridges,
};
use fake_telegram::world::{Peer, Push, UserId};
use fake_telegram::{FakeTelegram, RpcError};
use grammers_session::types::PeerId;
use grammers_tl_types as tl;
use serde_json::{json, Value};
use testkit::{Homeserver, HomeserverKind, Method, TestUser};
use tgbridge::store::Store;

async fn server(kind: HomeserverKind) -> (&'static Homeserver, &'static Bridges) {
    default_homeserver(kind, &["otx", "ore", "ofl", "osg", "rst"]).await
}

on_both_servers!(
    texts_formatting_mentions_replies_and_edits_reach_telegram_once,
    reactions_deletions_and_pins_reach_telegram_once,
    files_long_messages_typing_and_refused_sends_reach_telegram,
    supergroup_refusals_receipts_and_deletions_reach_telegram_once,
    restart_mid_burst_sends_each_message_once,
);

/// The methods whose successful calls the scenarios count, in this order.
const COUNTED: [&str; 8] = [
    "messages.sendMessage",
    "messages.sendMedia",
    "messages.editMessage",
    "messages.sendReaction",
    "messages.deleteMessages",
    "channels.deleteMessages",
    "messages.updatePinnedMessage",
    "channels.readHistory",
];

/// One scenario's world: Alice (the owner) and Bob in Crew, a basic group
/// Alice created (so the owner may change its pins), and Deck, Bob's
/// supergroup that allows only 👍; the bridge logged in as Alice, the owner
/// joined to both portals.
struct Outbound {
    bridge: BridgeInstance,
    fake: FakeTelegram,
    owner: TestUser,
    store: Store,
    alice: UserId,
    bob: UserId,
    crew: Peer,
    deck: Peer,
    crew_room: String,
    deck_room: String,
}

/// Starts the bridge prepared as `name` on `server` into a fresh [`Outbound`].
async fn outbound(server: &Homeserver, bridges: &Bridges, name: &str) -> Outbound {
    let mut bridge = bridges.take(name);
    let fake = FakeTelegram::start().await;
    let (alice, bob, crew, deck) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550101"));
        let bob = w.add_user(user("Bob", "15550102"));
        let crew = w.create_group(alice, "Crew", &[bob]).unwrap();
        let deck = w.create_supergroup(bob, "Deck", &[alice]).unwrap();
        w.quirks
            .allowed_reactions
            .insert(Peer::Channel(deck), vec!["👍".into()]);
        (alice, bob, Peer::Chat(crew), Peer::Channel(deck))
    };
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
    let store = Store::open(&bridge.database_path).unwrap();
    let crew_room = room_of(&store, PeerId::chat(crew_id(crew)).unwrap());
    let deck_room = room_of(&store, PeerId::channel(channel_id(deck)).unwrap());
    owner.join(&crew_room).await.unwrap();
    owner.join(&deck_room).await.unwrap();
    Outbound {
        bridge,
        fake,
        owner,
        store,
        alice,
        bob,
        crew,
        deck,
        crew_room,
        deck_room,
    }
}

impl Outbound {
    /// Sends `body` as a plain text in Crew; returns the event id.
    async fn say(&self, body: &str) -> String {
        send_text(&self.owner, &self.crew_room, body).await
    }

    /// After a moment for a duplicate to show up: Telegram shows exactly
    /// `crew_texts` as the owner's messages in Crew, and each counted method
    /// was answered as often as `counts` says (in [`COUNTED`]'s order). What
    /// leaves no second message behind on Telegram when repeated (an edit, a
    /// reaction, a deletion, a pin) must be called once each: a homeserver
    /// that delivers an event both in a transaction and through the bot's
    /// sync must not make it happen twice.
    async fn assert_sent_once(&self, crew_texts: &[&str], counts: [usize; 8]) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(own_texts(&self.fake, self.alice, self.crew), crew_texts);
        let calls = self.fake.calls();
        let answered = |method: &str| {
            calls
                .iter()
                .filter(|c| c.method == method && c.error.is_none())
                .count()
        };
        let seen: Vec<(&str, usize)> = COUNTED.iter().map(|&m| (m, answered(m))).collect();
        let wanted: Vec<(&str, usize)> = COUNTED.iter().copied().zip(counts).collect();
        assert_eq!(seen, wanted, "{}", self.bridge.log_tail());
    }

    /// Nothing the owner sent came back into Crew's room: the owner's
    /// messages there are exactly `bodies` (a redacted one has none left).
    async fn assert_no_echo(&self, bodies: &[&str]) {
        assert_eq!(own_bodies(&self.owner, &self.crew_room).await, bodies);
    }

    /// The bridge logged exactly `count` events it could not deliver.
    fn assert_failures(&self, count: usize, which: &str) {
        assert_eq!(
            self.bridge
                .log()
                .matches("could not deliver an event to Telegram")
                .count(),
            count,
            "{which}\n{}",
            self.bridge.log_tail()
        );
    }
}

fn entities(
    fake: &FakeTelegram,
    viewer: UserId,
    peer: Peer,
    id: i32,
) -> Vec<tl::enums::MessageEntity> {
    let world = fake.world();
    let world = world.lock().unwrap();
    let key = world.message_key(viewer, peer, id).expect("message exists");
    world.message(key).expect("message exists").entities.clone()
}

fn bridged_ids(store: &Store, event_id: &str) -> Vec<i32> {
    let event_id: ruma::OwnedEventId = event_id.try_into().unwrap();
    store
        .messages()
        .by_event(&event_id)
        .unwrap()
        .iter()
        .map(|m| m.tg_msg_id)
        .collect()
}

/// The single update of a pushed `updateShort`, which is how Telegram
/// pushes typing.
fn update_of(push: &Push) -> Option<&tl::enums::Update> {
    match &push.updates {
        tl::enums::Updates::UpdateShort(short) => Some(&short.update),
        _ => None,
    }
}

/// Waits (up to 20 s) until Telegram pushes something `wanted` to one of
/// its clients: what a Telegram user's app would show.
async fn pushed_to(
    pushes: &mut tokio::sync::broadcast::Receiver<Push>,
    bridge: &BridgeInstance,
    what: &str,
    wanted: impl Fn(&Push) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout_at(deadline, pushes.recv()).await {
            Ok(Ok(push)) if wanted(&push) => return,
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) | Err(_) => {
                panic!("Telegram never pushed {what}\n{}", bridge.log_tail())
            }
        }
    }
}

/// Waits for the bot's notice containing `text` in `room`.
async fn notice_in(t: &Outbound, room: &str, text: &str) {
    let bot = t.bridge.bot_user_id.clone();
    t.owner
        .sync_until(
            |e| e["room_id"] == room && is_notice_from(e, &bot, text),
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", t.bridge.log_tail()));
}

async fn texts_formatting_mentions_replies_and_edits_reach_telegram_once(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut t = outbound(server, bridges, "otx").await;
    let (fake, bridge, store, owner) = (&t.fake, &t.bridge, &t.store, &t.owner);
    let (alice, crew) = (t.alice, t.crew);

    // Plain text.
    let hello = t.say("hello").await;
    let hello_tg = wait_sent(fake, bridge, alice, crew, "hello").await;
    // The map row follows Telegram's answer.
    poll_until(
        "the message map row",
        bridge,
        Duration::from_secs(10),
        || (bridged_ids(store, &hello) == vec![hello_tg.id]).then_some(()),
    )
    .await;
    assert!(store
        .messages()
        .is_sent_by_bridge(tgbridge::store::MessageScope::Account(alice), hello_tg.id)
        .unwrap());

    // Formatting becomes entities.
    send(
        owner,
        &t.crew_room,
        json!({ "msgtype": "m.text", "body": "bold and italic",
                "format": "org.matrix.custom.html",
                "formatted_body": "<b>bold</b> and <i>italic</i>" }),
    )
    .await;
    let formatted = wait_sent(fake, bridge, alice, crew, "bold and italic").await;
    assert_eq!(
        entities(fake, alice, crew, formatted.id),
        vec![
            tl::types::MessageEntityBold {
                offset: 0,
                length: 4
            }
            .into(),
            tl::types::MessageEntityItalic {
                offset: 9,
                length: 6
            }
            .into(),
        ]
    );

    // A pill of Bob's ghost becomes a mention of Bob.
    let bob_ghost = bridge.ghost(t.bob);
    send(
        owner,
        &t.crew_room,
        json!({ "msgtype": "m.text", "body": "Bob: look",
                "format": "org.matrix.custom.html",
                "formatted_body": format!("<a href=\"https://matrix.to/#/{bob_ghost}\">Bob</a>: look") }),
    )
    .await;
    let mention = wait_sent(fake, bridge, alice, crew, "Bob: look").await;
    assert_eq!(
        entities(fake, alice, crew, mention.id),
        vec![tl::types::MessageEntityMentionName {
            offset: 0,
            length: 3,
            user_id: t.bob
        }
        .into()]
    );

    // A reply loses its fallback and points at the replied-to message.
    let reply_body = format!("> <{}> hello\n\nreplying", owner.user_id);
    send(
        owner,
        &t.crew_room,
        json!({ "msgtype": "m.text", "body": reply_body,
                "m.relates_to": { "m.in_reply_to": { "event_id": hello } } }),
    )
    .await;
    let reply = wait_sent(fake, bridge, alice, crew, "replying").await;
    assert_eq!(reply.reply_to, Some(hello_tg.id));

    // An edit changes the Telegram message in place.
    send(
        owner,
        &t.crew_room,
        json!({ "msgtype": "m.text", "body": "* hello again",
                "m.new_content": { "msgtype": "m.text", "body": "hello again" },
                "m.relates_to": { "rel_type": "m.replace", "event_id": hello } }),
    )
    .await;
    let edited = poll_until("the edit", bridge, Duration::from_secs(20), || {
        history(fake, alice, crew)
            .into_iter()
            .find(|m| m.id == hello_tg.id && m.text == "hello again")
    })
    .await;
    assert!(edited.edited);

    // Nothing was sent twice, and nothing the owner sent came back to Matrix.
    t.assert_sent_once(
        &["hello again", "bold and italic", "Bob: look", "replying"],
        [4, 0, 1, 0, 0, 0, 0, 0],
    )
    .await;
    t.assert_no_echo(&[
        "hello",
        "bold and italic",
        "Bob: look",
        reply_body.as_str(),
        "* hello again",
    ])
    .await;
    t.assert_failures(0, "nothing failed");
    t.bridge.terminate();
}

async fn reactions_deletions_and_pins_reach_telegram_once(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut t = outbound(server, bridges, "ore").await;
    let (fake, bridge, store, owner) = (&t.fake, &t.bridge, &t.store, &t.owner);
    let (alice, crew, crew_room) = (t.alice, t.crew, t.crew_room.as_str());
    let hello = t.say("hello").await;
    let hello_tg = wait_sent(fake, bridge, alice, crew, "hello").await;

    // A reaction is set, and removed again by redacting it.
    let reaction = owner
        .send_event(
            crew_room,
            "m.reaction",
            &json!({ "m.relates_to": { "rel_type": "m.annotation", "event_id": hello, "key": "👍" } }),
        )
        .await
        .unwrap();
    let reacted = |want: bool| {
        move || {
            history(fake, alice, crew)
                .into_iter()
                .find(|m| m.id == hello_tg.id)
                .filter(|m| m.reactions.contains(&(alice, "👍".to_owned())) == want)
        }
    };
    poll_until(
        "the reaction",
        bridge,
        Duration::from_secs(20),
        reacted(true),
    )
    .await;
    // Telegram's reaction summary echoes it at once: it must not come back
    // into the room as a second reaction of the owner's.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let reactions: Vec<Value> = owner
        .room_messages(crew_room, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e["type"] == "m.reaction")
        .collect();
    assert_eq!(reactions.len(), 1, "{reactions:#?}\n{}", bridge.log_tail());
    redact(owner, crew_room, &reaction).await;
    let unreacted = poll_until(
        "the reaction's removal",
        bridge,
        Duration::from_secs(20),
        reacted(false),
    )
    .await;
    assert!(unreacted.reactions.is_empty(), "{unreacted:?}");

    // A redacted message is deleted on Telegram.
    let doomed = t.say("oops").await;
    let doomed_tg = wait_sent(fake, bridge, alice, crew, "oops").await;
    redact(owner, crew_room, &doomed).await;
    poll_until("the deletion", bridge, Duration::from_secs(20), || {
        (!history(fake, alice, crew)
            .iter()
            .any(|m| m.id == doomed_tg.id))
        .then_some(())
    })
    .await;
    // The map row goes once Telegram has answered, just after the fake's
    // history changed.
    poll_until(
        "the deletion recorded",
        bridge,
        Duration::from_secs(20),
        || bridged_ids(store, &doomed).is_empty().then_some(()),
    )
    .await;

    // Pinning in Matrix pins on Telegram.
    owner
        .api()
        .ok(
            Method::PUT,
            &format!("/_matrix/client/v3/rooms/{crew_room}/state/m.room.pinned_events/"),
            Some(&json!({ "pinned": [hello] })),
        )
        .await
        .unwrap();
    poll_until("the pin", bridge, Duration::from_secs(20), || {
        history(fake, alice, crew)
            .into_iter()
            .find(|m| m.id == hello_tg.id && m.pinned)
    })
    .await;

    // The reaction set and removed, the deletion and the pin once each; the
    // redacted "oops" has no body left in the room.
    t.assert_sent_once(&["hello"], [2, 0, 0, 2, 1, 0, 1, 0])
        .await;
    t.assert_no_echo(&["hello"]).await;
    t.assert_failures(0, "nothing failed");
    t.bridge.terminate();
}

async fn files_long_messages_typing_and_refused_sends_reach_telegram(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut t = outbound(server, bridges, "ofl").await;
    let (fake, bridge, owner) = (&t.fake, &t.bridge, &t.owner);
    let (alice, bob, crew, crew_room) = (t.alice, t.bob, t.crew, t.crew_room.as_str());

    // A file goes to Telegram as a document with the same bytes.
    let file_bytes: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let file_url = upload(owner, file_bytes.clone(), "application/octet-stream").await;
    send(
        owner,
        crew_room,
        json!({ "msgtype": "m.file", "body": "notes.bin", "url": file_url,
                "info": { "mimetype": "application/octet-stream", "size": file_bytes.len() } }),
    )
    .await;
    let file_tg = poll_until("the file", bridge, Duration::from_secs(30), || {
        history(fake, alice, crew)
            .into_iter()
            .find(|m| m.out && m.media.is_some())
    })
    .await;
    assert_eq!(
        file_tg.media.as_deref(),
        Some("application/octet-stream"),
        "{file_tg:?}"
    );
    assert_eq!(file_tg.media_bytes.as_deref(), Some(&file_bytes[..]));

    // An over-long message is split at a word boundary, nothing lost.
    let long: Vec<String> = (0..900).map(|i| format!("w{i:03}")).collect();
    let long = long.join(" ");
    t.say(&long).await;
    let parts = poll_until("both parts", bridge, Duration::from_secs(20), || {
        let texts = own_texts(fake, alice, crew);
        let start = texts.iter().position(|t| t.starts_with("w000"))?;
        (texts.len() >= start + 2).then(|| texts[start..start + 2].to_vec())
    })
    .await;
    assert!(parts[0].encode_utf16().count() <= 4096);
    assert_eq!(parts.join(" "), long);

    // Typing is passed on: Bob's Telegram shows Alice typing in Crew.
    let mut pushes = fake.world().lock().unwrap().subscribe();
    owner
        .api()
        .ok(
            Method::PUT,
            &format!(
                "/_matrix/client/v3/rooms/{crew_room}/typing/{}",
                owner.user_id
            ),
            Some(&json!({ "typing": true, "timeout": 10000 })),
        )
        .await
        .unwrap();
    let crew_chat_id = crew_id(crew);
    pushed_to(&mut pushes, bridge, "Alice typing, shown to Bob", |push| {
        push.account == bob
            && update_of(push).is_some_and(|update| {
                matches!(update, tl::enums::Update::ChatUserTyping(typing)
                    if typing.chat_id == crew_chat_id
                        && typing.from_id == tl::types::PeerUser { user_id: alice }.into()
                        && typing.action == tl::types::SendMessageTypingAction {}.into())
            })
    })
    .await;

    // A send Telegram refuses (a long flood wait) is reported in the room.
    fake.fail_next("messages.sendMessage", RpcError::flood_wait(300));
    t.say("too fast").await;
    notice_in(
        &t,
        crew_room,
        "Your message could not be delivered to Telegram: Telegram asked the bridge to wait 300 seconds",
    )
    .await;

    // The file has no caption: its message has no text. The two parts of
    // the long message are its only sends; the refused one is not answered.
    t.assert_sent_once(
        &["", parts[0].as_str(), parts[1].as_str()],
        [2, 1, 0, 0, 0, 0, 0, 0],
    )
    .await;
    t.assert_no_echo(&["notes.bin", long.as_str(), "too fast"])
        .await;
    t.assert_failures(1, "only the flood wait failed");
    t.bridge.terminate();
}

async fn supergroup_refusals_receipts_and_deletions_reach_telegram_once(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut t = outbound(server, bridges, "osg").await;
    let (fake, bridge, owner) = (&t.fake, &t.bridge, &t.owner);
    let (alice, crew, deck, deck_room) = (t.alice, t.crew, t.deck, t.deck_room.as_str());

    // In the supergroup: a reaction it does not allow is refused with a
    // notice, a read receipt marks the chat read, a redaction deletes.
    send_on_telegram(fake, t.bob, deck, "deck news");
    let news = event_id(
        &expect_event(owner, bridge, "deck news in Matrix", |e| {
            message_in(e, deck_room, "deck news")
        })
        .await,
    );
    // While Telegram is slow to answer for Deck, Crew's text is not held up.
    let full_channel_calls = fake.call_count("channels.getFullChannel");
    fake.delay("channels.getFullChannel", Duration::from_secs(3));
    owner
        .send_event(
            deck_room,
            "m.reaction",
            &json!({ "m.relates_to": { "rel_type": "m.annotation", "event_id": news, "key": "🦀" } }),
        )
        .await
        .unwrap();
    t.say("meanwhile").await;
    wait_sent(fake, bridge, alice, crew, "meanwhile").await;
    assert_eq!(
        fake.call_count("channels.getFullChannel"),
        full_channel_calls,
        "Crew's message overtook Deck's slow reaction"
    );
    fake.delay("channels.getFullChannel", Duration::ZERO);
    notice_in(&t, deck_room, "reaction 🦀 is not allowed").await;
    let news_tg = history(fake, alice, deck)
        .into_iter()
        .find(|m| m.text == "deck news")
        .unwrap();
    assert!(news_tg.reactions.is_empty());
    owner
        .api()
        .ok(
            Method::POST,
            &format!("/_matrix/client/v3/rooms/{deck_room}/receipt/m.read/{news}"),
            Some(&json!({})),
        )
        .await
        .unwrap();
    poll_until("the read receipt", bridge, Duration::from_secs(20), || {
        let state = fake.world().lock().unwrap().dialog_state(alice, deck);
        (state.read_inbox_max_id >= news_tg.id).then_some(())
    })
    .await;
    let temp = send_text(owner, deck_room, "deck temp").await;
    let temp_tg = wait_sent(fake, bridge, alice, deck, "deck temp").await;
    redact(owner, deck_room, &temp).await;
    poll_until(
        "the channel deletion",
        bridge,
        Duration::from_secs(20),
        || {
            (!history(fake, alice, deck)
                .iter()
                .any(|m| m.id == temp_tg.id))
            .then_some(())
        },
    )
    .await;
    fake.wait_for_calls("channels.deleteMessages", 1, Duration::from_secs(5))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", bridge.log_tail()));

    // One message in Crew, one in Deck; Deck's refused reaction never sent.
    t.assert_sent_once(&["meanwhile"], [2, 0, 0, 0, 0, 1, 0, 1])
        .await;
    t.assert_no_echo(&["meanwhile"]).await;
    t.assert_failures(1, "only the disallowed reaction failed");
    t.bridge.terminate();
}

async fn restart_mid_burst_sends_each_message_once(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("rst");

    let fake = FakeTelegram::start().await;
    let (alice, burst) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550201"));
        let bob = w.add_user(user("Bob", "15550202"));
        let burst = w.create_group(bob, "Burst", &[alice]).unwrap();
        (alice, Peer::Chat(burst))
    };
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
    let room = {
        let store = Store::open(&bridge.database_path).unwrap();
        room_of(&store, PeerId::chat(crew_id(burst)).unwrap())
    };
    owner.join(&room).await.unwrap();

    // Telegram takes each message at once but answers slowly, so the kill
    // lands after Telegram has a message the bridge has not recorded yet.
    fake.delay_answer("messages.sendMessage", Duration::from_millis(250));
    let expected: Vec<String> = (1..=30).map(|n| format!("burst {n}")).collect();
    for text in &expected {
        send_text(&owner, &room, text).await;
    }
    poll_until(
        "a few delivered messages",
        &bridge,
        Duration::from_secs(30),
        || (own_texts(&fake, alice, burst).len() >= 5).then_some(()),
    )
    .await;
    bridge.kill();
    let before_restart = own_texts(&fake, alice, burst).len();
    assert!(
        before_restart < 30,
        "the kill came too late to test anything"
    );
    // The rest of the burst while the bridge is down: the homeserver cannot
    // deliver it until the bridge is back (Conduit holds it back even then).
    let while_down: Vec<String> = (31..=40).map(|n| format!("burst {n}")).collect();
    for text in &while_down {
        send_text(&owner, &room, text).await;
    }
    let expected: Vec<String> = expected.into_iter().chain(while_down).collect();

    fake.delay_answer("messages.sendMessage", Duration::ZERO);
    bridge.start();
    bridge.wait_ready(Duration::from_secs(60)).await;
    poll_until("all 40 messages", &bridge, Duration::from_secs(60), || {
        (own_texts(&fake, alice, burst).len() >= 40).then_some(())
    })
    .await;
    // Give a duplicate the chance to show up before judging.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(own_texts(&fake, alice, burst), expected);
    let resent = fake
        .calls()
        .iter()
        .filter(|c| {
            c.error
                .as_deref()
                .is_some_and(|e| e.contains("RANDOM_ID_DUPLICATE"))
        })
        .count();
    assert!(
        resent >= 1,
        "the message in flight at the kill was resent and recognised\n{}",
        bridge.log_tail()
    );

    // Matrix holds each message once too: none came back as an echo.
    let timeline = owner.room_messages(&room, 100).await.unwrap();
    let mut bodies: Vec<&str> = timeline
        .iter()
        .filter(|e| e["type"] == "m.room.message" && e["sender"] == owner.user_id.as_str())
        .filter_map(|e| e["content"]["body"].as_str())
        .collect();
    bodies.reverse();
    assert_eq!(bodies, expected);
    let store = Store::open(&bridge.database_path).unwrap();
    assert_eq!(
        store.outbox().pending_rooms().unwrap(),
        Vec::<ruma::OwnedRoomId>::new()
    );
    bridge.terminate();
}

fn crew_id(peer: Peer) -> i64 {
    match peer {
        Peer::Chat(id) => id,
        other => panic!("not a basic group: {other:?}"),
    }
}

fn channel_id(peer: Peer) -> i64 {
    match peer {
        Peer::Channel(id) => id,
        other => panic!("not a channel: {other:?}"),
    }
}
