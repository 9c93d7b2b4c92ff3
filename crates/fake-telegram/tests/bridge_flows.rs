//! The real grammers client against the fake with a populated world: the
//! calls and update flows a bridge depends on, end to end over TCP.

mod common;

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use fake_telegram::seed::TestClient;
use fake_telegram::world::{MediaSpec, Origin, OutgoingMessage, Peer, UserId, World};
use fake_telegram::FakeTelegram;
use grammers_client::message::{InputMessage, InputReactions, Message};
use grammers_client::sender::UpdatesConfiguration;
use grammers_client::session::types::PeerKind;
use grammers_client::update::Update;

use common::{add_user, user};

const WAIT: Duration = Duration::from_secs(10);

/// Runs `f` on the fake's world (the lock is released before any await).
fn with_world<T>(fake: &FakeTelegram, f: impl FnOnce(&mut World) -> T) -> T {
    f(&mut fake.world().lock().unwrap())
}

/// Updates of one client, read by a background task (grammers only calls
/// `updates.getState` once the stream is polled).
struct Updates {
    rx: mpsc::UnboundedReceiver<Update>,
    /// Asks the reader to save the update state into the session and stop.
    save: Option<oneshot::Sender<()>>,
    /// Whether the reader saved the state before it stopped.
    reader: tokio::task::JoinHandle<bool>,
}

impl Updates {
    /// Stops reading and saves the update state, as the bridge does on shutdown.
    async fn save_state(mut self) {
        if let Some(save) = self.save.take() {
            save.send(()).expect("the reader is running");
        }
        let saved = (&mut self.reader).await.expect("the reader finished");
        assert!(saved, "the update state was saved");
    }
}

impl Drop for Updates {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Starts the update stream, catching up from the saved state as the
/// bridge does, without waiting for any call.
async fn start_stream(client: &mut TestClient) -> Updates {
    let raw_updates = client.take_updates().unwrap();
    let mut stream = client
        .client
        .stream_updates(raw_updates, UpdatesConfiguration { catch_up: true })
        .await
        .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let (save, mut save_requested) = oneshot::channel();
    let reader = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = &mut save_requested => return stream.sync_update_state().await.is_ok(),
                update = stream.next() => {
                    let Ok(update) = update else { return false };
                    if tx.send(update).is_err() {
                        return false;
                    }
                }
            }
        }
    });
    Updates {
        rx,
        save: Some(save),
        reader,
    }
}

/// Starts the update stream of a client with no saved state and waits
/// until it fetched its state, so that pushes count from here.
async fn stream(fake: &FakeTelegram, client: &mut TestClient) -> Updates {
    let before = fake.call_count("updates.getState");
    let updates = start_stream(client).await;
    fake.wait_for_calls("updates.getState", before + 1, WAIT)
        .await
        .unwrap();
    updates
}

/// The next update matching `pick`, skipping others.
async fn next_matching<T>(updates: &mut Updates, mut pick: impl FnMut(Update) -> Option<T>) -> T {
    tokio::time::timeout(WAIT, async {
        loop {
            let update = updates.rx.recv().await.expect("the update stream ended");
            if let Some(found) = pick(update) {
                return found;
            }
        }
    })
    .await
    .expect("update within the timeout")
}

/// The next message someone else sent (the client's own sends also come
/// back through the update stream).
async fn next_message(updates: &mut Updates) -> Message {
    next_matching(updates, |u| match u {
        Update::NewMessage(m) if !m.outgoing() => Some(m.into_inner()),
        _ => None,
    })
    .await
}

/// Every new message arriving within `quiet` of the previous update.
async fn drain_messages(updates: &mut Updates, quiet: Duration) -> Vec<String> {
    let mut texts = Vec::new();
    while let Ok(Some(update)) = tokio::time::timeout(quiet, updates.rx.recv()).await {
        if let Update::NewMessage(m) = update {
            texts.push(m.text().to_owned());
        }
    }
    texts
}

struct Cast {
    fake: FakeTelegram,
    alice: UserId,
    bob: UserId,
}

async fn cast() -> Cast {
    let fake = FakeTelegram::start().await;
    let alice = add_user(&fake, user("Alice", "15550001"));
    let mut bob_spec = user("Bob", "15550002");
    bob_spec.username = Some("bob".into());
    let bob = add_user(&fake, bob_spec);
    Cast { fake, alice, bob }
}

#[tokio::test]
async fn logged_in_key_is_authorized_and_knows_itself() {
    let Cast { fake, alice, .. } = cast().await;
    let client = common::connect(fake.logged_in_session(alice).unwrap());
    assert!(client.client.is_authorized().await.unwrap());
    let me = client.client.get_me().await.unwrap();
    assert_eq!(me.id().bare_id(), Some(alice));
    assert_eq!(me.first_name(), Some("Alice"));
}

#[tokio::test]
async fn dialogs_cover_every_kind_of_chat() {
    let Cast { fake, alice, bob } = cast().await;
    {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        w.send_text(bob, Peer::User(alice), "hi Alice").unwrap();
        w.create_group(bob, "Basic", &[alice]).unwrap();
        w.create_supergroup(bob, "Super", &[alice]).unwrap();
        let channel = w.create_channel(bob, "News", "about", true).unwrap();
        w.channel_invite(Origin::control(bob), channel, &[alice])
            .unwrap();
    }
    let client = common::connect(fake.logged_in_session(alice).unwrap());
    let mut dialogs = client.client.iter_dialogs();
    let mut seen = Vec::new();
    while let Some(dialog) = dialogs.next().await.unwrap() {
        let peer = dialog.peer();
        seen.push((peer.id().kind(), peer.name().unwrap_or_default().to_owned()));
    }
    seen.sort_by(|a, b| a.1.cmp(&b.1));
    let names: Vec<&str> = seen.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(names, ["Basic", "Bob", "News", "Super"]);
    assert!(seen
        .iter()
        .any(|(k, n)| *k == PeerKind::Chat && n == "Basic"));
    assert!(seen.iter().any(|(k, n)| *k == PeerKind::User && n == "Bob"));
}

#[tokio::test]
async fn private_chat_both_directions() {
    let Cast { fake, alice, bob } = cast().await;
    let mut client = logged_in_client_for(&fake, alice);
    let mut updates = stream(&fake, &mut client).await;

    with_world(&fake, |w| {
        w.send_text(bob, Peer::User(alice), "hello from Bob")
    })
    .unwrap();
    let incoming = next_message(&mut updates).await;
    assert_eq!(incoming.text(), "hello from Bob");
    assert!(!incoming.outgoing());
    assert_eq!(incoming.sender_id().and_then(|p| p.bare_id()), Some(bob));

    let bob_ref = bob_ref(&client).await;
    let sent = client
        .client
        .send_message(bob_ref, "hello from Alice")
        .await
        .unwrap();
    let seen_by_bob = with_world(&fake, |w| w.last_message(bob, Peer::User(alice))).unwrap();
    assert_eq!(seen_by_bob.text, "hello from Alice");
    assert_eq!(seen_by_bob.from, alice);
    assert!(!seen_by_bob.out);
    // Private chats number messages per account.
    assert_eq!(
        sent.id(),
        with_world(&fake, |w| w.last_message(alice, Peer::User(bob)))
            .unwrap()
            .id
    );
}

#[tokio::test]
async fn basic_group_supergroup_and_channel_messages() {
    let Cast { fake, alice, bob } = cast().await;
    let (group, supergroup, channel) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let group = w.create_group(bob, "Basic", &[alice]).unwrap();
        let supergroup = w.create_supergroup(bob, "Super", &[alice]).unwrap();
        let channel = w.create_channel(bob, "News", "", true).unwrap();
        w.channel_invite(Origin::control(bob), channel, &[alice])
            .unwrap();
        (group, supergroup, channel)
    };
    let mut client = logged_in_client_for(&fake, alice);
    let mut updates = stream(&fake, &mut client).await;

    for (peer, text) in [
        (Peer::Chat(group), "in the group"),
        (Peer::Channel(supergroup), "in the supergroup"),
        (Peer::Channel(channel), "in the channel"),
    ] {
        let id_for_bob = with_world(&fake, |w| w.send_text(bob, peer, text)).unwrap();
        let message = next_message(&mut updates).await;
        assert_eq!(message.text(), text);
        let reply = format!("re: {text}");
        if peer == Peer::Channel(channel) {
            // Only admins post in a broadcast channel.
            let target = dialog_ref(&client, "News").await;
            assert!(client
                .client
                .send_message(target, reply.as_str())
                .await
                .is_err());
            continue;
        }
        let title = if peer == Peer::Chat(group) {
            "Basic"
        } else {
            "Super"
        };
        let target = dialog_ref(&client, title).await;
        let reply_message = InputMessage::new()
            .text(reply.as_str())
            .reply_to(Some(message.id()));
        client
            .client
            .send_message(target, reply_message)
            .await
            .unwrap();
        let seen_by_bob = with_world(&fake, |w| w.last_message(bob, peer)).unwrap();
        assert_eq!(seen_by_bob.text, reply);
        assert_eq!(seen_by_bob.from, alice);
        assert_eq!(seen_by_bob.reply_to, Some(id_for_bob));
    }
}

#[tokio::test]
async fn edits_deletions_and_reactions() {
    let Cast { fake, alice, bob } = cast().await;
    let mut client = logged_in_client_for(&fake, alice);
    let mut updates = stream(&fake, &mut client).await;

    let id_for_bob = with_world(&fake, |w| w.send_text(bob, Peer::User(alice), "tpyo")).unwrap();
    let original = next_message(&mut updates).await;
    with_world(&fake, |w| {
        w.edit_text(bob, Peer::User(alice), id_for_bob, "typo")
    })
    .unwrap();
    let edited = next_matching(&mut updates, |u| match u {
        Update::MessageEdited(m) => Some(m.into_inner()),
        _ => None,
    })
    .await;
    assert_eq!((edited.id(), edited.text()), (original.id(), "typo"));

    // Alice reacts through the client; Bob's view shows it.
    let bob_ref = bob_ref(&client).await;
    client
        .client
        .send_reactions(bob_ref, original.id(), InputReactions::emoticon("👍"))
        .await
        .unwrap();
    let reacted = with_world(&fake, |w| w.last_message(bob, Peer::User(alice))).unwrap();
    assert_eq!(reacted.reactions, vec![(alice, "👍".to_string())]);

    // Alice edits and deletes her own message through the client.
    let mine = client.client.send_message(bob_ref, "draft").await.unwrap();
    client
        .client
        .edit_message(bob_ref, mine.id(), "final")
        .await
        .unwrap();
    let seen = with_world(&fake, |w| w.last_message(bob, Peer::User(alice))).unwrap();
    assert_eq!((seen.text.as_str(), seen.edited), ("final", true));
    client
        .client
        .delete_messages(bob_ref, &[mine.id()])
        .await
        .unwrap();
    let texts: Vec<String> = with_world(&fake, |w| w.history(bob, Peer::User(alice)))
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts, ["typo"]);

    // Bob deletes his message for everyone.
    with_world(&fake, |w| {
        w.delete(bob, Peer::User(alice), &[id_for_bob], true)
    })
    .unwrap();
    let deleted = next_matching(&mut updates, |u| match u {
        Update::MessageDeleted(d) if d.messages().contains(&original.id()) => {
            Some(d.into_messages())
        }
        _ => None,
    })
    .await;
    assert_eq!(deleted, vec![original.id()]);
}

#[tokio::test]
async fn file_upload_and_download_round_trip() {
    let Cast { fake, alice, bob } = cast().await;
    let mut client = logged_in_client_for(&fake, alice);
    let mut updates = stream(&fake, &mut client).await;
    // Several upload parts and an odd tail.
    let upload: Vec<u8> = (0..700_001u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();

    with_world(&fake, |w| {
        w.send_text(bob, Peer::User(alice), "send me the file")
    })
    .unwrap();
    next_message(&mut updates).await;
    let bob_ref = bob_ref(&client).await;
    let uploaded = client
        .client
        .upload_stream(
            &mut std::io::Cursor::new(upload.clone()),
            upload.len(),
            "data.bin".into(),
        )
        .await
        .unwrap();
    client
        .client
        .send_message(bob_ref, InputMessage::new().text("here").document(uploaded))
        .await
        .unwrap();
    let received = with_world(&fake, |w| w.last_message(bob, Peer::User(alice))).unwrap();
    assert_eq!(received.text, "here");
    let stored = received.media_bytes.expect("the message has a file");
    assert!(
        stored == upload,
        "uploaded {} bytes, stored {}",
        upload.len(),
        stored.len()
    );

    let download: Vec<u8> = upload.iter().rev().copied().collect();
    let file = MediaSpec::File {
        bytes: download.clone(),
        mime_type: "application/octet-stream".into(),
        file_name: "back.bin".into(),
    };
    with_world(&fake, |w| {
        w.send_message(
            bob,
            Peer::User(alice),
            OutgoingMessage {
                text: "and back".into(),
                media: Some(file),
                ..OutgoingMessage::default()
            },
        )
    })
    .unwrap();
    let message = next_message(&mut updates).await;
    let media = message.media().expect("the message has media");
    let mut chunks = client.client.iter_download(&media);
    let mut bytes = Vec::new();
    while let Some(chunk) = chunks.next().await.unwrap() {
        bytes.extend(chunk);
    }
    let first_difference = bytes.iter().zip(&download).position(|(a, b)| a != b);
    assert!(
        bytes == download,
        "downloaded {} of {} bytes, first difference at {first_difference:?}",
        bytes.len(),
        download.len()
    );
}

/// How Alice is cut off from her pushes.
#[derive(Clone, Copy, PartialEq)]
enum Cut {
    /// Every connection is closed; the client reconnects and asks for the difference.
    DropConnections,
    /// Pushes are dropped while the connection stays up.
    WithholdPushes,
}

/// Bob sends three messages into `peer` while Alice is cut off, then one
/// more once she is back; Alice must see every message exactly once, in order.
async fn recovers_after(cut: Cut, channel: bool) {
    let Cast { fake, alice, bob } = cast().await;
    let peer = if channel {
        Peer::Channel(with_world(&fake, |w| w.create_supergroup(bob, "Super", &[alice])).unwrap())
    } else {
        Peer::User(alice)
    };
    let mut client = logged_in_client_for(&fake, alice);
    let mut updates = stream(&fake, &mut client).await;
    with_world(&fake, |w| w.send_text(bob, peer, "before")).unwrap();
    assert_eq!(next_message(&mut updates).await.text(), "before");

    let differences = fake.call_count("updates.getDifference");
    match cut {
        Cut::DropConnections => fake.drop_connections(),
        Cut::WithholdPushes => fake.withhold_pushes(true),
    }
    for text in ["missed 1", "missed 2", "missed 3"] {
        with_world(&fake, |w| w.send_text(bob, peer, text)).unwrap();
    }
    match cut {
        // Back once the client reconnected and caught up on its common box.
        Cut::DropConnections => fake
            .wait_for_calls("updates.getDifference", differences + 1, WAIT)
            .await
            .unwrap(),
        Cut::WithholdPushes => fake.withhold_pushes(false),
    }
    with_world(&fake, |w| w.send_text(bob, peer, "after")).unwrap();

    let texts = drain_messages(&mut updates, Duration::from_secs(2)).await;
    assert_eq!(texts, ["missed 1", "missed 2", "missed 3", "after"]);
    if channel {
        assert!(fake.call_count("updates.getChannelDifference") >= 1);
    }
}

#[tokio::test]
async fn common_box_recovers_after_dropped_connections() {
    recovers_after(Cut::DropConnections, false).await;
}

#[tokio::test]
async fn channel_recovers_after_dropped_connections() {
    recovers_after(Cut::DropConnections, true).await;
}

#[tokio::test]
async fn common_box_recovers_withheld_pushes() {
    recovers_after(Cut::WithholdPushes, false).await;
}

#[tokio::test]
async fn channel_recovers_withheld_pushes() {
    recovers_after(Cut::WithholdPushes, true).await;
}

fn logged_in_client_for(fake: &FakeTelegram, account: UserId) -> TestClient {
    common::connect(fake.logged_in_session(account).unwrap())
}

/// Alice's reference to Bob, as a bridge gets it: by resolving his username.
async fn bob_ref(client: &TestClient) -> grammers_client::session::types::PeerRef {
    let bob = client
        .client
        .resolve_username("bob")
        .await
        .unwrap()
        .expect("bob resolves");
    bob.to_ref()
        .await
        .unwrap()
        .expect("a resolved user has a reference")
}

/// Alice's reference to a chat, found in her dialogs by title.
async fn dialog_ref(client: &TestClient, title: &str) -> grammers_client::session::types::PeerRef {
    let mut dialogs = client.client.iter_dialogs();
    while let Some(dialog) = dialogs.next().await.unwrap() {
        if dialog.peer().name() == Some(title) {
            return dialog
                .peer()
                .to_ref()
                .await
                .unwrap()
                .expect("dialog peers have references");
        }
    }
    panic!("no dialog titled {title}");
}

#[tokio::test]
async fn two_accounts_talk_and_each_sees_a_message_once() {
    let fake = FakeTelegram::start().await;
    let mut alice_spec = user("Alice", "15550001");
    alice_spec.username = Some("alice".into());
    let alice = add_user(&fake, alice_spec);
    let bob = add_user(&fake, user("Bob", "15550002"));
    let mut alice_client = logged_in_client_for(&fake, alice);
    let mut bob_client = logged_in_client_for(&fake, bob);
    let mut alice_updates = stream(&fake, &mut alice_client).await;
    let mut bob_updates = stream(&fake, &mut bob_client).await;

    let alice_peer = bob_client
        .client
        .resolve_username("alice")
        .await
        .unwrap()
        .unwrap();
    let alice_ref = alice_peer.to_ref().await.unwrap().unwrap();
    bob_client
        .client
        .send_message(alice_ref, "hello Alice")
        .await
        .unwrap();

    let quiet = Duration::from_secs(1);
    let seen_by_alice = drain_messages(&mut alice_updates, quiet).await;
    assert_eq!(
        seen_by_alice.iter().filter(|t| *t == "hello Alice").count(),
        1,
        "{seen_by_alice:?}"
    );
    // Bob's own send comes back once, from the result of his call; the push
    // to his account skips the key that made the call.
    let seen_by_bob = drain_messages(&mut bob_updates, quiet).await;
    assert_eq!(seen_by_bob, ["hello Alice"]);
}

#[tokio::test]
async fn second_device_of_the_same_account_gets_the_push() {
    let Cast { fake, alice, .. } = cast().await;
    let mut bridge = logged_in_client_for(&fake, alice);
    let mut phone = logged_in_client_for(&fake, alice);
    let mut bridge_updates = stream(&fake, &mut bridge).await;
    let mut phone_updates = stream(&fake, &mut phone).await;

    let bob_ref = bob_ref(&phone).await;
    phone
        .client
        .send_message(bob_ref, "sent from the phone")
        .await
        .unwrap();

    let quiet = Duration::from_secs(1);
    assert_eq!(
        drain_messages(&mut bridge_updates, quiet).await,
        ["sent from the phone"]
    );
    assert_eq!(
        drain_messages(&mut phone_updates, quiet).await,
        ["sent from the phone"]
    );
}

/// A restarted bridge: Alice's client saves its update state and shuts down;
/// a new client on the same session (same auth key, new connection) resumes
/// with `updates.getDifference` (or `getChannelDifference`) only. It must get
/// what was sent meanwhile exactly once, and then live pushes without ever
/// calling `updates.getState` or waiting for another difference.
async fn resumes_saved_state_with_live_pushes(channel: bool) {
    let Cast { fake, alice, bob } = cast().await;
    let peer = if channel {
        Peer::Channel(with_world(&fake, |w| w.create_supergroup(bob, "Super", &[alice])).unwrap())
    } else {
        Peer::User(alice)
    };
    let mut first = logged_in_client_for(&fake, alice);
    let mut updates = stream(&fake, &mut first).await;
    with_world(&fake, |w| w.send_text(bob, peer, "before")).unwrap();
    assert_eq!(next_message(&mut updates).await.text(), "before");
    updates.save_state().await;
    let session = first.shut_down();

    with_world(&fake, |w| w.send_text(bob, peer, "while away")).unwrap();

    let get_states = fake.call_count("updates.getState");
    // With nothing in Alice's common box, grammers catches up on the channel alone.
    let catch_up = if channel {
        "updates.getChannelDifference"
    } else {
        "updates.getDifference"
    };
    let catch_ups = fake.call_count(catch_up);
    let mut resumed = common::resume(session);
    let mut updates = start_stream(&mut resumed).await;
    fake.wait_for_calls(catch_up, catch_ups + 1, WAIT)
        .await
        .unwrap();
    assert_eq!(next_message(&mut updates).await.text(), "while away");
    let caught_up = (
        fake.call_count("updates.getDifference"),
        fake.call_count("updates.getChannelDifference"),
    );

    let sent_at = std::time::Instant::now();
    with_world(&fake, |w| w.send_text(bob, peer, "live")).unwrap();
    assert_eq!(next_message(&mut updates).await.text(), "live");
    let latency = sent_at.elapsed();
    // A push that never came would only surface through another difference
    // (after grammers' no-update timeout, minutes); a live one needs none.
    assert!(latency < Duration::from_secs(2), "took {latency:?}");
    assert_eq!(
        (
            fake.call_count("updates.getDifference"),
            fake.call_count("updates.getChannelDifference"),
        ),
        caught_up,
        "the live message needed no further difference"
    );
    assert_eq!(
        fake.call_count("updates.getState"),
        get_states,
        "the resumed client never asked for a fresh state"
    );
    // Nothing arrives twice.
    assert!(drain_messages(&mut updates, Duration::from_secs(1))
        .await
        .is_empty());
}

#[tokio::test]
async fn resumed_common_box_gets_missed_and_live_messages() {
    resumes_saved_state_with_live_pushes(false).await;
}

#[tokio::test]
async fn resumed_channel_gets_missed_and_live_messages() {
    resumes_saved_state_with_live_pushes(true).await;
}
