//! End to end: media between the fake Telegram datacenter and a real
//! homeserver, Synapse and Conduit each (whose upload limit is set to 2 MB).
//!
//! Telegram → Matrix runs through the bridge binary: every kind of Telegram
//! media arrives as the Matrix event users expect, with exact metadata, and
//! the bytes downloaded from the homeserver equal those Telegram served; a
//! file over the homeserver's limit becomes a notice; the same Telegram file
//! sent twice is uploaded once; a slow transfer holds up no other chat.
//! Matrix → Telegram calls the bridge's send function with the homeserver's
//! media repository and the fake: the bytes stored on Telegram equal those
//! uploaded to Matrix; and the owner's files in a portal go through the
//! running bridge.

mod appservice_support;

use std::time::{Duration, Instant};

use appservice_support::telegram::{configure, history, room_of, start_logged_in, user};
use appservice_support::{download, shared_homeserver, upload, BridgeInstance, Bridges};
use fake_telegram::seed::TestClient;
use fake_telegram::world::{ChatId, MediaSpec, OutgoingMessage, Peer, UserId};
use fake_telegram::FakeTelegram;
use grammers_session::types::PeerId;
use grammers_tl_types as tl;
use serde_json::{json, Value};
use testkit::{Homeserver, HomeserverKind, HomeserverOptions, SharedHomeserver, TestUser};
use tgbridge::bridge::media::{MatrixToTelegram, MediaError, MediaLimits};
use tgbridge::convert::media::{encode_waveform, outgoing_media, OutgoingMedia};
use tgbridge::matrix::{ClientSettings, MatrixClient, RetryPolicy};
use tgbridge::store::{Store, TelegramFileKind};

static SERVERS: SharedHomeserver<Bridges> = SharedHomeserver::new();

/// The homeserver's upload limit in these tests.
const HOMESERVER_LIMIT: u64 = 2 * 1024 * 1024;

async fn server(kind: HomeserverKind) -> (&'static Homeserver, &'static Bridges) {
    shared_homeserver(
        &SERVERS,
        kind,
        &["mfi", "mst", "mno", "mre", "msl", "mout", "mloc", "mpor"],
        HomeserverOptions {
            max_upload_size: Some(HOMESERVER_LIMIT),
            ..HomeserverOptions::default()
        },
        |_, _| {},
    )
    .await
}

on_both_servers!(
    telegram_files_arrive_as_matrix_media_with_equal_bytes,
    telegram_stickers_animations_and_albums_arrive_with_equal_bytes,
    telegram_places_contacts_polls_games_and_oversized_files_arrive_as_text,
    a_telegram_file_is_uploaded_once_and_a_new_caption_moves_no_bytes,
    a_slow_telegram_transfer_holds_up_no_other_chat,
    matrix_media_reaches_telegram_with_equal_bytes,
    matrix_locations_and_oversized_files_reach_telegram_or_are_refused,
    owner_files_in_a_portal_reach_telegram_through_the_bridge,
);

/// Deterministic bytes that do not compress (so sizes are real).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u8
        })
        .collect()
}

/// A PNG header announcing `w`×`h`, followed by `len` bytes of noise: the
/// fake reads the dimensions from the header.
fn png(w: u32, h: u32, len: usize, seed: u64) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend_from_slice(&w.to_be_bytes());
    bytes.extend_from_slice(&h.to_be_bytes());
    bytes.extend(noise(len, seed));
    bytes
}

/// Waits until the room has `count` events from `sender`; returns them
/// oldest first.
async fn events_from(
    owner: &TestUser,
    bridge: &BridgeInstance,
    room: &str,
    sender: &str,
    count: usize,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let mut events: Vec<Value> = owner
            .room_messages(room, 200)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| {
                e["sender"] == sender && (e["type"] == "m.room.message" || e["type"] == "m.sticker")
            })
            .collect();
        if events.len() >= count {
            events.reverse();
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} events from {sender}\n{}",
            events.len(),
            bridge.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// One Telegram → Matrix scenario: Alice (the owner) and Bob in the groups
/// Media and Chat; the bridge, with no group history, logged in as Alice;
/// the owner joined to Media's portal.
struct Inbound {
    bridge: BridgeInstance,
    fake: FakeTelegram,
    owner: TestUser,
    store: Store,
    bob: UserId,
    group: ChatId,
    other: ChatId,
    /// Media's portal room.
    room: String,
    /// Bob's ghost.
    ghost: String,
}

/// Starts the bridge prepared as `name` on `server` into a fresh [`Inbound`].
async fn inbound(server: &Homeserver, bridges: &Bridges, name: &str) -> Inbound {
    let mut bridge = bridges.take(name);
    configure(&bridge, "  initial_history:\n    group: 0\n");
    let fake = FakeTelegram::start().await;
    let (alice, bob, group, other) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550001"));
        let bob = w.add_user(user("Bob", "15550002"));
        let group = w.create_group(bob, "Media", &[alice]).unwrap();
        let other = w.create_group(bob, "Chat", &[alice]).unwrap();
        (alice, bob, group, other)
    };
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
    let store = Store::open(&bridge.database_path).unwrap();
    let room = room_of(&store, PeerId::chat(group).unwrap());
    owner.join(&room).await.unwrap();
    Inbound {
        ghost: bridge.ghost(bob),
        bridge,
        fake,
        owner,
        store,
        bob,
        group,
        other,
        room,
    }
}

impl Inbound {
    /// Bob sends `media` with caption `text` in Media.
    fn send(&self, text: &str, media: MediaSpec) -> i32 {
        self.send_message(OutgoingMessage {
            text: text.into(),
            media: Some(media),
            ..OutgoingMessage::default()
        })
    }

    /// Bob sends `message` in Media.
    fn send_message(&self, message: OutgoingMessage) -> i32 {
        self.fake
            .world()
            .lock()
            .unwrap()
            .send_message(self.bob, Peer::Chat(self.group), message)
            .unwrap()
    }

    /// Waits until Media's room has `count` events from Bob's ghost; returns
    /// them oldest first.
    async fn events(&self, count: usize) -> Vec<Value> {
        events_from(&self.owner, &self.bridge, &self.room, &self.ghost, count).await
    }

    /// Downloads the file of `event` from the homeserver.
    async fn bytes_of(&self, event: &Value) -> Vec<u8> {
        download(&self.owner, &url_of(event)).await
    }

    async fn finish(mut self) {
        self.bridge.stop();
    }
}

/// The attributes of a 512×512 sticker document with emoji `alt`.
fn sticker_attrs(alt: &str) -> Vec<tl::enums::DocumentAttribute> {
    vec![
        tl::types::DocumentAttributeImageSize { w: 512, h: 512 }.into(),
        tl::types::DocumentAttributeSticker {
            mask: false,
            alt: alt.into(),
            stickerset: tl::enums::InputStickerSet::Empty,
            mask_coords: None,
        }
        .into(),
    ]
}

/// The photo and the PDF every file scenario starts with.
fn photo_and_pdf() -> (Vec<u8>, Vec<u8>) {
    (png(300, 200, 150_000, 1), noise(700_000, 2))
}

/// Bob sends the photo with its caption, then the PDF.
fn send_photo_and_pdf(t: &Inbound, photo: &[u8], pdf: &[u8]) {
    let photo = MediaSpec::Photo {
        bytes: photo.to_vec(),
    };
    t.send("Sunset over the hills", photo);
    t.send(
        "",
        MediaSpec::File {
            bytes: pdf.to_vec(),
            mime_type: "application/pdf".into(),
            file_name: "report.pdf".into(),
        },
    );
}

async fn telegram_files_arrive_as_matrix_media_with_equal_bytes(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let t = inbound(server, bridges, "mfi").await;
    let (photo, pdf) = photo_and_pdf();
    let video = noise(64_000, 3);
    let voice = noise(9_000, 4);
    let waveform: Vec<u8> = (0..20).map(|i| (i * 3 % 32) as u8).collect();
    let song = noise(30_000, 5);
    send_photo_and_pdf(&t, &photo, &pdf);
    t.send(
        "",
        MediaSpec::Video {
            bytes: video.clone(),
            duration: 3.5,
            w: 640,
            h: 360,
        },
    );
    let voice_note = tl::types::DocumentAttributeAudio {
        voice: true,
        duration: 4,
        title: None,
        performer: None,
        waveform: Some(encode_waveform(&waveform)),
    };
    t.send(
        "",
        MediaSpec::Document {
            bytes: voice.clone(),
            mime_type: "audio/ogg".into(),
            attributes: vec![voice_note.into()],
        },
    );
    t.send(
        "",
        MediaSpec::Audio {
            bytes: song.clone(),
            duration: 180,
            title: Some("Song".into()),
            performer: Some("Band".into()),
        },
    );

    let events = t.events(5).await;
    let content = |i: usize| events[i]["content"].clone();

    // Photo with caption: the caption is the body, the file name separate.
    let c = content(0);
    assert_eq!(c["msgtype"], "m.image");
    assert_eq!(c["body"], "Sunset over the hills");
    assert_eq!(c["filename"], "photo.jpg");
    assert_eq!(
        c["info"],
        json!({ "mimetype": "image/jpeg", "size": photo.len(), "w": 300, "h": 200 })
    );
    assert_eq!(t.bytes_of(&events[0]).await, photo);

    let c = content(1);
    assert_eq!(c["msgtype"], "m.file");
    assert_eq!(c["body"], "report.pdf");
    assert_eq!(c["filename"], "report.pdf");
    assert_eq!(
        c["info"],
        json!({ "mimetype": "application/pdf", "size": pdf.len() })
    );
    assert_eq!(t.bytes_of(&events[1]).await, pdf, "a multi-chunk file");

    let c = content(2);
    assert_eq!(c["msgtype"], "m.video");
    assert_eq!(
        c["info"],
        json!({ "mimetype": "video/mp4", "size": video.len(), "w": 640, "h": 360, "duration": 3500 })
    );
    assert_eq!(t.bytes_of(&events[2]).await, video);

    let c = content(3);
    assert_eq!(c["msgtype"], "m.audio");
    assert_eq!(c["filename"], "voice.ogg");
    assert_eq!(
        c["info"],
        json!({ "mimetype": "audio/ogg", "size": voice.len(), "duration": 4000 })
    );
    assert_eq!(c["org.matrix.msc3245.voice"], json!({}));
    assert_eq!(c["org.matrix.msc1767.audio"]["duration"], 4000);
    let matrix_waveform: Vec<u64> = c["org.matrix.msc1767.audio"]["waveform"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = waveform.iter().map(|&s| u64::from(s) * 1024 / 31).collect();
    assert_eq!(matrix_waveform, expected);
    assert_eq!(t.bytes_of(&events[3]).await, voice);

    let c = content(4);
    assert_eq!(c["msgtype"], "m.audio");
    assert_eq!(c["body"], "Band - Song.mp3");
    assert_eq!(
        c["info"],
        json!({ "mimetype": "audio/mpeg", "size": song.len(), "duration": 180_000 })
    );
    assert!(c.get("org.matrix.msc3245.voice").is_none());
    assert_eq!(t.bytes_of(&events[4]).await, song);
    t.finish().await;
}

async fn telegram_stickers_animations_and_albums_arrive_with_equal_bytes(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let t = inbound(server, bridges, "mst").await;
    let sticker = noise(5_000, 6);
    let tgs = noise(4_000, 7);
    let gif = noise(20_000, 8);
    let album = [png(64, 48, 2_000, 9), png(48, 64, 2_500, 10)];
    t.send(
        "",
        MediaSpec::Sticker {
            bytes: sticker.clone(),
            alt: "😀".into(),
        },
    );
    t.send(
        "",
        MediaSpec::Document {
            bytes: tgs.clone(),
            mime_type: "application/x-tgsticker".into(),
            attributes: sticker_attrs("🐱"),
        },
    );
    t.send(
        "",
        MediaSpec::Animation {
            bytes: gif.clone(),
            w: 320,
            h: 240,
        },
    );
    let grouped_id = t.fake.world().lock().unwrap().new_grouped_id();
    for (i, bytes) in album.iter().enumerate() {
        t.send_message(OutgoingMessage {
            text: if i == 0 {
                "Album".into()
            } else {
                String::new()
            },
            media: Some(MediaSpec::Photo {
                bytes: bytes.clone(),
            }),
            grouped_id: Some(grouped_id),
            ..OutgoingMessage::default()
        });
    }

    let events = t.events(5).await;
    let content = |i: usize| events[i]["content"].clone();
    let url = |i: usize| url_of(&events[i]);
    assert_eq!(events[0]["type"], "m.sticker");
    assert_eq!(
        content(0),
        json!({ "body": "😀", "url": url(0), "info": { "mimetype": "image/webp", "size": sticker.len(), "w": 512, "h": 512 } })
    );
    assert_eq!(t.bytes_of(&events[0]).await, sticker);

    let c = content(1);
    assert_eq!(events[1]["type"], "m.room.message");
    assert_eq!(c["msgtype"], "m.file");
    assert_eq!(c["body"], "🐱 (sticker)");
    assert_eq!(c["filename"], "sticker.tgs");
    assert_eq!(t.bytes_of(&events[1]).await, tgs);

    let c = content(2);
    assert_eq!(c["msgtype"], "m.video");
    assert_eq!(c["filename"], "animation.mp4");
    assert_eq!(c["info"]["fi.mau.loop"], true);
    assert_eq!(c["info"]["w"], 320);
    assert_eq!(t.bytes_of(&events[2]).await, gif);

    // An album: one event per item, each with its own file.
    assert_eq!(content(3)["body"], "Album");
    assert_eq!(content(4)["body"], "photo.jpg");
    assert_eq!(content(3)["info"]["w"], 64);
    assert_eq!(content(4)["info"]["w"], 48);
    let album_id = content(3)["org.tgbridge.album"].clone();
    assert!(album_id.is_string(), "{}", content(3));
    assert_eq!(content(4)["org.tgbridge.album"], album_id, "linked");
    assert!(content(2).get("org.tgbridge.album").is_none());
    assert_eq!(t.bytes_of(&events[3]).await, album[0]);
    assert_eq!(t.bytes_of(&events[4]).await, album[1]);
    t.finish().await;
}

async fn telegram_places_contacts_polls_games_and_oversized_files_arrive_as_text(
    kind: HomeserverKind,
) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let t = inbound(server, bridges, "mno").await;
    let oversized = noise(HOMESERVER_LIMIT as usize + 500_000, 11);
    let location = MediaSpec::Location {
        lat: 52.52,
        long: 13.405,
    };
    t.send("", location);
    t.send(
        "",
        MediaSpec::Venue {
            lat: 48.8584,
            long: 2.2945,
            title: "Eiffel Tower".into(),
            address: "Champ de Mars".into(),
        },
    );
    t.send(
        "",
        MediaSpec::Contact {
            phone: "15550003".into(),
            first_name: "Carol".into(),
            last_name: "Smith".into(),
        },
    );
    t.send(
        "",
        MediaSpec::Poll {
            question: "Lunch?".into(),
            answers: vec!["Pizza".into(), "Salad".into()],
            votes: vec![2, 1],
        },
    );
    let dice = MediaSpec::Dice {
        emoticon: "🎲".into(),
        value: 5,
    };
    t.send("", dice);
    t.send(
        "",
        MediaSpec::Game {
            title: "Snake".into(),
            description: "Eat the apples".into(),
        },
    );
    t.send(
        "",
        MediaSpec::File {
            bytes: oversized,
            mime_type: "application/zip".into(),
            file_name: "big.zip".into(),
        },
    );

    let events = t.events(7).await;
    let content = |i: usize| events[i]["content"].clone();
    let c = content(0);
    assert_eq!(c["msgtype"], "m.location");
    assert_eq!(c["geo_uri"], "geo:52.520000,13.405000");
    let c = content(1);
    assert_eq!(c["msgtype"], "m.location");
    assert_eq!(c["geo_uri"], "geo:48.858400,2.294500");
    assert_eq!(
        c["body"],
        "Eiffel Tower, Champ de Mars: 48.858400, 2.294500"
    );
    assert_eq!(
        content(2),
        json!({ "msgtype": "m.text", "body": "👤 Shared contact: Carol Smith, +15550003" })
    );
    assert_eq!(
        content(3)["body"],
        "📊 Poll: Lunch?\n1. Pizza (2 votes)\n2. Salad (1 vote)"
    );
    assert_eq!(content(4)["body"], "🎲 rolled 5");
    assert_eq!(content(5)["body"], "🎮 Game: Snake (Eat the apples)");

    // Bigger than the homeserver accepts: a notice naming the file and both sizes.
    assert_eq!(
        content(6),
        json!({ "msgtype": "m.notice", "body": "📎 big.zip (2.6 MB) is larger than this homeserver accepts (2.1 MB)" })
    );
    t.finish().await;
}

async fn a_telegram_file_is_uploaded_once_and_a_new_caption_moves_no_bytes(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let t = inbound(server, bridges, "mre").await;
    let (fake, bob, group) = (&t.fake, t.bob, Peer::Chat(t.group));
    let (photo, pdf) = photo_and_pdf();
    send_photo_and_pdf(&t, &photo, &pdf);
    let events = t.events(2).await;
    let (photo_url, pdf_url) = (url_of(&events[0]), url_of(&events[1]));

    // Each file is uploaded once: the cache knows it, and sending the same
    // Telegram document again reuses the upload.
    let pdf_key = {
        let shared = fake.world();
        let w = shared.lock().unwrap();
        let id = w
            .history(bob, group)
            .iter()
            .find(|m| m.media.as_deref() == Some("application/pdf"))
            .expect("the PDF on Telegram")
            .id;
        let key = w.message_key(bob, group, id).unwrap();
        w.message(key).unwrap().media.unwrap()
    };
    let fake_telegram::world::messages::Media::Document(pdf_id) = pdf_key else {
        panic!("the PDF is a document: {pdf_key:?}");
    };
    let cached = t
        .store
        .media()
        .by_telegram(TelegramFileKind::Document, pdf_id)
        .unwrap()
        .expect("the PDF is cached");
    assert_eq!(cached.mxc, pdf_url);
    let downloads_before = fake.call_count("upload.getFile");
    fake.world()
        .lock()
        .unwrap()
        .send_stored_media(bob, group, pdf_key, "again")
        .unwrap();
    let events = t.events(3).await;
    let again = &events[2]["content"];
    assert_eq!(again["body"], "again");
    assert_eq!(again["filename"], "report.pdf");
    assert_eq!(again["url"], pdf_url, "the first upload is reused");
    assert_eq!(
        fake.call_count("upload.getFile"),
        downloads_before,
        "nothing was downloaded again"
    );

    // A new caption on Telegram edits the photo's event; the file is not
    // transferred again.
    let photo_id = history(fake, bob, group)
        .iter()
        .find(|m| m.text == "Sunset over the hills")
        .expect("the photo on Telegram")
        .id;
    let downloads_before = fake.call_count("upload.getFile");
    fake.world()
        .lock()
        .unwrap()
        .edit_text(bob, group, photo_id, "Sunset, edited")
        .unwrap();
    let events = t.events(4).await;
    let edit = &events[3];
    assert_eq!(edit["content"]["m.relates_to"]["rel_type"], "m.replace");
    assert_eq!(
        edit["content"]["m.relates_to"]["event_id"],
        events[0]["event_id"]
    );
    assert_eq!(edit["content"]["body"], "* Sunset, edited");
    let new_content = &edit["content"]["m.new_content"];
    assert_eq!(new_content["msgtype"], "m.image");
    assert_eq!(new_content["body"], "Sunset, edited");
    assert_eq!(new_content["url"], photo_url);
    assert_eq!(fake.call_count("upload.getFile"), downloads_before);
    t.finish().await;
}

async fn a_slow_telegram_transfer_holds_up_no_other_chat(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let t = inbound(server, bridges, "msl").await;
    let (fake, owner, ghost) = (&t.fake, &t.owner, t.ghost.as_str());

    // A slow transfer in one chat does not hold up text in another.
    let other_room = room_of(&t.store, PeerId::chat(t.other).unwrap());
    owner.join(&other_room).await.unwrap();
    fake.delay("upload.getFile", Duration::from_secs(6));
    let slow = png(200, 100, 30_000, 12);
    t.send(
        "",
        MediaSpec::Photo {
            bytes: slow.clone(),
        },
    );
    fake.world()
        .lock()
        .unwrap()
        .send_text(t.bob, Peer::Chat(t.other), "meanwhile")
        .unwrap();
    let text = events_from(owner, &t.bridge, &other_room, ghost, 1).await;
    assert_eq!(text[0]["content"]["body"], "meanwhile");
    let media_events = owner.room_messages(&t.room, 200).await.unwrap();
    let from_ghost = media_events
        .iter()
        .filter(|e| {
            e["sender"] == ghost && (e["type"] == "m.room.message" || e["type"] == "m.sticker")
        })
        .count();
    assert_eq!(from_ghost, 0, "the slow photo is still on its way");
    fake.delay("upload.getFile", Duration::ZERO);
    let events = t.events(1).await;
    assert_eq!(t.bytes_of(&events[0]).await, slow);
    t.finish().await;
}

fn url_of(event: &Value) -> String {
    event["content"]["url"].as_str().expect("a url").to_owned()
}

/// One Matrix → Telegram scenario that calls the bridge's send function
/// directly: the owner on the homeserver, Alice's Telegram client, the
/// bridge's Matrix client, a store of its own and Telegram's limit made
/// small (1 MB) to test the refusal. Only the bridge's registration is
/// used; the bridge is never started.
struct Direct {
    fake: FakeTelegram,
    owner: TestUser,
    telegram: TestClient,
    matrix: MatrixClient,
    store: Store,
    limits: MediaLimits,
    alice: UserId,
    group: ChatId,
    // Last: the store's file lives in the bridge's directory.
    _bridge: BridgeInstance,
}

/// Prepares a [`Direct`] with the bridge prepared as `name` on `server`.
async fn direct(server: &Homeserver, bridges: &Bridges, name: &str) -> Direct {
    let bridge = bridges.take(name);
    let owner = server
        .register_user(&bridge.owner_localpart, false)
        .await
        .unwrap();
    let fake = FakeTelegram::start().await;
    let (alice, group) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550001"));
        let bob = w.add_user(user("Bob", "15550002"));
        let group = w.create_group(bob, "Media", &[alice]).unwrap();
        (alice, group)
    };
    let telegram = TestClient::connect(fake.logged_in_session(alice).unwrap());
    let matrix = MatrixClient::new(ClientSettings {
        homeserver_url: server.base_url().parse().unwrap(),
        as_token: bridge.as_token.clone(),
        bot_user_id: bridge.bot_user_id.as_str().try_into().unwrap(),
        retry: RetryPolicy::default(),
    })
    .unwrap();
    // The bridge registers its bot at start; this test never starts the
    // bridge, and Conduit (unlike Synapse) acts for no appservice user that
    // does not exist, the bot included.
    matrix
        .ensure_registered(matrix.bot_user_id())
        .await
        .expect("the bot is registered");
    let store = Store::open(&bridge.dir.path().join("send.db")).unwrap();
    Direct {
        fake,
        owner,
        telegram,
        matrix,
        store,
        limits: MediaLimits::new(1_000_000),
        alice,
        group,
        _bridge: bridge,
    }
}

impl Direct {
    /// The bridge's send function over this scenario's clients.
    fn sender(&self) -> MatrixToTelegram<'_> {
        MatrixToTelegram {
            telegram: tgbridge::telegram::TelegramApi::new(&self.telegram.client),
            matrix: &self.matrix,
            store: &self.store,
            limits: &self.limits,
        }
    }

    /// Sends `media` to the group, as a reply to `reply_to` if given.
    async fn send(
        &self,
        media: &OutgoingMedia,
        reply_to: Option<i32>,
        random_id: i64,
    ) -> Result<tgbridge::telegram::media::SentMedia, MediaError> {
        let chat = PeerId::chat(self.group).unwrap().to_ambient_ref();
        let caption = media.caption.as_ref().map(|(body, html)| {
            tgbridge::convert::matrix_to_telegram(
                body,
                html.as_deref(),
                &tgbridge::convert::NoMentions,
            )
        });
        self.sender()
            .send(
                tgbridge::telegram::media::Destination::new(
                    chat,
                    tgbridge::telegram::answer::reply_in(reply_to, None),
                ),
                media,
                caption.as_ref(),
                random_id,
            )
            .await
    }

    /// Uploads `bytes` as the owner, puts the upload into `content` and
    /// sends the message; returns the upload's mxc URI and what was sent.
    async fn upload_and_send(
        &self,
        bytes: &[u8],
        mut content: Value,
        random_id: i64,
    ) -> (String, tgbridge::telegram::media::SentMedia) {
        let mime = content["info"]["mimetype"].as_str().unwrap().to_owned();
        let url = upload(&self.owner, bytes.to_vec(), &mime).await;
        content["url"] = json!(url);
        let media = outgoing_media("m.room.message", &content).unwrap();
        let sent = self
            .send(&media, None, random_id)
            .await
            .unwrap_or_else(|e| panic!("{content}: {e}"));
        (url, sent)
    }

    /// The group's newest message as Alice sees it.
    fn last_message(&self) -> fake_telegram::world::MessageView {
        self.fake
            .world()
            .lock()
            .unwrap()
            .last_message(self.alice, Peer::Chat(self.group))
            .unwrap()
    }
}

/// The image every Matrix → Telegram case list starts with, and its event.
fn matrix_image() -> (Vec<u8>, Value) {
    let image = png(120, 80, 40_000, 21);
    let content = json!({ "msgtype": "m.image", "body": "A *red* square", "format": "org.matrix.custom.html",
            "formatted_body": "A <b>red</b> square", "filename": "square.png",
            "info": { "mimetype": "image/png", "size": image.len(), "w": 120, "h": 80 } });
    (image, content)
}

async fn matrix_media_reaches_telegram_with_equal_bytes(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let t = direct(server, bridges, "mout").await;
    let (image, image_content) = matrix_image();
    let file = noise(600_000, 22);
    let video = noise(50_000, 23);
    let voice = noise(8_000, 24);
    let cases: Vec<(Vec<u8>, Value, &str)> = vec![
        (image, image_content, "photo"),
        (
            file.clone(),
            json!({ "msgtype": "m.file", "body": "data.bin",
                    "info": { "mimetype": "application/octet-stream", "size": file.len() } }),
            "application/octet-stream",
        ),
        (
            video.clone(),
            json!({ "msgtype": "m.video", "body": "clip.mp4",
                    "info": { "mimetype": "video/mp4", "size": video.len(), "w": 640, "h": 360, "duration": 2000 } }),
            "video/mp4",
        ),
        (
            voice.clone(),
            json!({ "msgtype": "m.audio", "body": "Voice message", "filename": "voice.ogg",
                    "info": { "mimetype": "audio/ogg", "size": voice.len(), "duration": 3000 },
                    "org.matrix.msc1767.audio": { "duration": 3000, "waveform": [0, 512, 1024] },
                    "org.matrix.msc3245.voice": {} }),
            "audio/ogg",
        ),
    ];
    for (n, (bytes, content, expected_media)) in cases.into_iter().enumerate() {
        let (url, sent) = t.upload_and_send(&bytes, content, 1000 + n as i64).await;
        let view = t.last_message();
        assert_eq!(view.id, sent.message_id.get());
        assert_eq!(view.media.as_deref(), Some(expected_media), "case {n}");
        assert_eq!(view.media_bytes.as_deref(), Some(&bytes[..]), "case {n}");
        if n == 0 {
            assert_eq!(view.text, "A red square", "the caption travels");
            let (kind, _) = sent.file.expect("the photo's id");
            assert_eq!(kind, TelegramFileKind::Photo);
            let cached = t.store.media().by_mxc(&url).unwrap();
            assert!(cached.is_some(), "the sent photo maps back to its upload");
        }
        if n == 3 {
            let shared = t.fake.world();
            let w = shared.lock().unwrap();
            let key = w
                .message_key(t.alice, Peer::Chat(t.group), view.id)
                .unwrap();
            let fake_telegram::world::messages::Media::Document(doc) =
                w.message(key).unwrap().media.unwrap()
            else {
                panic!("a voice note is a document");
            };
            let attributes = &w.document(doc).unwrap().attributes;
            assert!(
                attributes.iter().any(|a| matches!(
                    a,
                    tl::enums::DocumentAttribute::Audio(a) if a.voice && a.duration == 3 && a.waveform.is_some()
                )),
                "{attributes:?}"
            );
        }
    }
}

async fn matrix_locations_and_oversized_files_reach_telegram_or_are_refused(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let t = direct(server, bridges, "mloc").await;
    let (image, image_content) = matrix_image();
    let (_, photo) = t.upload_and_send(&image, image_content, 1000).await;
    let first_sent = Some(photo.message_id.get());

    // A location.
    let location = json!({ "msgtype": "m.location", "body": "here", "geo_uri": "geo:51.5,-0.12" });
    let media = outgoing_media("m.room.message", &location).unwrap();
    let sent = t.send(&media, first_sent, 2000).await.unwrap();
    let (lat, long) = {
        let shared = t.fake.world();
        let w = shared.lock().unwrap();
        let view = w.last_message(t.alice, Peer::Chat(t.group)).unwrap();
        assert_eq!(view.media.as_deref(), Some("geo"));
        assert_eq!(view.id, sent.message_id.get());
        assert_eq!(view.reply_to, first_sent, "a reply to the photo");
        let key = w
            .message_key(t.alice, Peer::Chat(t.group), view.id)
            .unwrap();
        let fake_telegram::world::messages::Media::Other(other) =
            w.message(key).unwrap().media.unwrap()
        else {
            panic!("a location");
        };
        match w.other_media(other) {
            Some(tl::enums::MessageMedia::Geo(g)) => match &g.geo {
                tl::enums::GeoPoint::Point(p) => (p.lat, p.long),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    };
    assert_eq!((lat, long), (51.5, -0.12));

    // Over the bridge's limit: refused before anything is transferred.
    let big = noise(1_200_000, 25);
    let url = upload(&t.owner, big.clone(), "application/zip").await;
    let content = json!({ "msgtype": "m.file", "body": "big.zip", "url": url,
                          "info": { "mimetype": "application/zip", "size": big.len() } });
    let media = outgoing_media("m.room.message", &content).unwrap();
    let parts_before = t.fake.call_count("upload.saveFilePart");
    let error = t.send(&media, None, 3000).await.unwrap_err();
    assert!(
        matches!(
            error,
            MediaError::TooLarge {
                size: 1_200_000,
                limit: 1_000_000
            }
        ),
        "{error}"
    );
    assert_eq!(t.fake.call_count("upload.saveFilePart"), parts_before);
    // Without a size in the event, the download's length decides.
    let content = json!({ "msgtype": "m.file", "body": "big.zip", "url": url });
    let media = outgoing_media("m.room.message", &content).unwrap();
    let error = t.send(&media, None, 3001).await.unwrap_err();
    assert!(matches!(error, MediaError::TooLarge { .. }), "{error}");
    assert_eq!(t.fake.call_count("upload.saveFilePart"), parts_before);
}

/// The owner's files in a portal go through the running bridge: queued,
/// streamed from the homeserver to Telegram, recorded, and a file larger
/// than the bridge sends is answered with a notice instead of silence.
async fn owner_files_in_a_portal_reach_telegram_through_the_bridge(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("mpor");
    configure(
        &bridge,
        "  initial_history:\n    group: 0\n  max_upload_size_mb: 1\n",
    );
    let fake = FakeTelegram::start().await;
    let (alice, group) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550001"));
        let bob = w.add_user(user("Bob", "15550002"));
        let group = w.create_group(bob, "Files", &[alice]).unwrap();
        (alice, group)
    };
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
    let store = Store::open(&bridge.database_path).unwrap();
    let room = store
        .portals()
        .by_peer(grammers_session::types::PeerId::chat(group).unwrap())
        .unwrap()
        .expect("the group's portal")
        .room_id
        .to_string();
    owner.join(&room).await.unwrap();

    let image = png(64, 32, 30_000, 31);
    let image_url = upload(&owner, image.clone(), "image/png").await;
    owner
        .send_event(
            &room,
            "m.room.message",
            &json!({ "msgtype": "m.image", "body": "A *tiny* image", "filename": "tiny.png",
                     "format": "org.matrix.custom.html", "formatted_body": "A <b>tiny</b> image",
                     "url": image_url,
                     "info": { "mimetype": "image/png", "size": image.len(), "w": 64, "h": 32 } }),
        )
        .await
        .unwrap();
    let big = noise(1_200_000, 32);
    let big_url = upload(&owner, big.clone(), "application/zip").await;
    owner
        .send_event(
            &room,
            "m.room.message",
            &json!({ "msgtype": "m.file", "body": "big.zip", "url": big_url,
                     "info": { "mimetype": "application/zip", "size": big.len() } }),
        )
        .await
        .unwrap();
    owner
        .send_event(
            &room,
            "m.room.message",
            &json!({ "msgtype": "m.location", "body": "here", "geo_uri": "geo:48.85,2.35" }),
        )
        .await
        .unwrap();

    // The image and the location arrive in order; the big file does not.
    let deadline = Instant::now() + Duration::from_secs(60);
    let sent = loop {
        let sent: Vec<_> = fake
            .world()
            .lock()
            .unwrap()
            .history(alice, Peer::Chat(group))
            .into_iter()
            .filter(|m| m.out)
            .collect();
        if sent.len() >= 2 {
            break sent;
        }
        assert!(
            Instant::now() < deadline,
            "{} of 2 files on Telegram\n{}",
            sent.len(),
            bridge.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0].media.as_deref(), Some("photo"));
    assert_eq!(sent[0].media_bytes.as_deref(), Some(&image[..]));
    assert_eq!(sent[0].text, "A tiny image", "the caption travels");
    assert_eq!(sent[1].media.as_deref(), Some("geo"));
    let notice = events_from(&owner, &bridge, &room, &bridge.bot_user_id, 1).await;
    let text = notice[0]["content"]["body"].as_str().unwrap();
    assert!(
        text.contains("could not be delivered to Telegram") && text.contains("1.2 MB"),
        "{text}"
    );
    // One part for the 30 KB image; nothing of the refused file.
    assert_eq!(fake.call_count("upload.saveFilePart"), 1);
    assert!(
        store.outbox().pending_rooms().unwrap().is_empty(),
        "nothing is left queued"
    );
    bridge.terminate();
}
