//! Media is streamed, not held in memory: the bridge binary moves a 40 MB
//! Telegram file into the homeserver's media repository (Synapse's and
//! Conduit's each) while its peak resident memory grows by a small fraction
//! of the file's size, and the bytes the homeserver serves equal Telegram's;
//! a 12 MB Matrix file reaches Telegram in big-file parts, byte for byte.
//! The test binary's homeserver (one per kind) has an upload limit that
//! admits the files.

mod appservice_support;

use std::time::{Duration, Instant};

use appservice_support::telegram::{configure, room_of, seed_login, user, wait_for_log};
use appservice_support::{shared_homeserver, upload, Bridges};
use fake_telegram::world::{MediaSpec, OutgoingMessage, Peer};
use fake_telegram::FakeTelegram;
use grammers_session::types::PeerId;
use serde_json::{json, Value};
use testkit::{Homeserver, HomeserverKind, HomeserverOptions, SharedHomeserver};
use tgbridge::store::Store;

const FILE_SIZE: usize = 40 * 1024 * 1024;

static SERVERS: SharedHomeserver<Bridges> = SharedHomeserver::new();

async fn server(kind: HomeserverKind) -> (&'static Homeserver, &'static Bridges) {
    shared_homeserver(
        &SERVERS,
        kind,
        &["mstr", "mbig"],
        HomeserverOptions {
            max_upload_size: Some(2 * FILE_SIZE as u64),
            ..HomeserverOptions::default()
        },
        |_, _| {},
    )
    .await
}

/// `len` bytes that are not a repeating pattern, so nothing along the way
/// can compress them.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect()
}

/// Current and peak resident memory of a process, in kB.
fn memory_kb(pid: u32) -> (u64, u64) {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc is readable (Linux)");
    let field = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse().ok())
            .unwrap_or_else(|| panic!("{key} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

on_both_servers!(
    a_large_telegram_file_is_streamed_into_the_media_repository,
    a_big_matrix_file_reaches_telegram_in_big_file_parts,
);

async fn a_large_telegram_file_is_streamed_into_the_media_repository(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("mstr");
    configure(&bridge, "  initial_history:\n    group: 0\n");

    let fake = FakeTelegram::start().await;
    let (alice, bob, group) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550001"));
        let bob = w.add_user(user("Bob", "15550002"));
        let group = w.create_group(bob, "Big files", &[alice]).unwrap();
        (alice, bob, group)
    };
    seed_login(&bridge, &fake, alice).await;
    let owner = server
        .register_user(&bridge.owner_localpart, false)
        .await
        .unwrap();
    bridge.start_with_log_filter("info");
    bridge.wait_ready(Duration::from_secs(60)).await;
    wait_for_log(&bridge, "chat sync finished", 1, Duration::from_secs(60)).await;
    let store = Store::open(&bridge.database_path).unwrap();
    let room = room_of(&store, PeerId::chat(group).unwrap());
    owner.join(&room).await.unwrap();
    let pid = bridge.pid().expect("the bridge runs");
    let (_, peak_before) = memory_kb(pid);

    let bytes = pattern(FILE_SIZE);
    fake.world()
        .lock()
        .unwrap()
        .send_message(
            bob,
            Peer::Chat(group),
            OutgoingMessage {
                media: Some(MediaSpec::File {
                    bytes: bytes.clone(),
                    mime_type: "application/zip".into(),
                    file_name: "big.zip".into(),
                }),
                ..OutgoingMessage::default()
            },
        )
        .unwrap();
    let started = Instant::now();
    let ghost = bridge.ghost(bob);
    let event: Value = loop {
        let events = owner.room_messages(&room, 20).await.unwrap();
        if let Some(event) = events
            .into_iter()
            .find(|e| e["sender"] == ghost.as_str() && e["type"] == "m.room.message")
        {
            break event;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the file did not arrive\n{}",
            bridge.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (_, peak_after) = memory_kb(pid);
    assert_eq!(event["content"]["msgtype"], "m.file", "{event}");
    assert_eq!(event["content"]["info"]["size"], FILE_SIZE);

    let growth_kb = peak_after.saturating_sub(peak_before);
    let file_kb = (FILE_SIZE / 1024) as u64;
    assert!(
        growth_kb * 4 < file_kb,
        "peak memory grew by {growth_kb} kB for a {file_kb} kB file"
    );

    let mxc = event["content"]["url"].as_str().expect("a url");
    let downloaded = reqwest::Client::new()
        .get(format!(
            "{}/_matrix/client/v1/media/download/{}",
            server.base_url(),
            mxc.trim_start_matches("mxc://")
        ))
        .bearer_auth(&owner.access_token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(downloaded[..] == bytes[..], "the bytes arrived unchanged");

    bridge.stop();
}

/// The bridge's send function is called directly, with the homeserver's
/// media repository and the fake; the bridge itself is never started.
async fn a_big_matrix_file_reaches_telegram_in_big_file_parts(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let bridge = bridges.take("mbig");
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
        let group = w.create_group(bob, "Big files", &[alice]).unwrap();
        (alice, group)
    };
    let store = Store::open(&bridge.database_path).unwrap();

    // A file over Telegram's 10 MB "big file" threshold goes up in parallel
    // parts, straight from the homeserver's download.
    let big: Vec<u8> = pattern(12 * 1024 * 1024).into_iter().rev().collect();
    let url = upload(&owner, big.clone(), "video/mp4").await;
    let content = json!({ "msgtype": "m.video", "body": "film.mp4", "url": url,
                          "info": { "mimetype": "video/mp4", "size": big.len(), "w": 1920, "h": 1080, "duration": 60_000 } });
    let media = tgbridge::convert::media::outgoing_media("m.room.message", &content).unwrap();
    let telegram = fake_telegram::seed::TestClient::connect(fake.logged_in_session(alice).unwrap());
    let matrix = tgbridge::matrix::MatrixClient::new(tgbridge::matrix::ClientSettings {
        homeserver_url: server.base_url().parse().unwrap(),
        as_token: bridge.as_token.clone(),
        bot_user_id: bridge.bot_user_id.as_str().try_into().unwrap(),
        retry: tgbridge::matrix::RetryPolicy::default(),
    })
    .unwrap();
    // The bridge registers its bot at start; it never starts here, and
    // Conduit (unlike Synapse) acts for no appservice user that does not
    // exist, the bot included.
    matrix
        .ensure_registered(matrix.bot_user_id())
        .await
        .expect("the bot is registered");
    let limits = tgbridge::bridge::media::MediaLimits::default();
    let sent = tgbridge::bridge::media::MatrixToTelegram {
        telegram: tgbridge::telegram::TelegramApi::new(&telegram.client),
        matrix: &matrix,
        store: &store,
        limits: &limits,
    }
    .send(
        tgbridge::telegram::media::Destination::new(
            PeerId::chat(group).unwrap().to_ambient_ref(),
            None,
        ),
        &media,
        None,
        77,
    )
    .await
    .expect("the video reaches Telegram");
    assert!(
        fake.call_count("upload.saveBigFilePart") >= 24,
        "sent in big-file parts"
    );
    let view = fake
        .world()
        .lock()
        .unwrap()
        .last_message(alice, Peer::Chat(group))
        .unwrap();
    assert_eq!(view.id, sent.message_id.get());
    assert_eq!(view.media.as_deref(), Some("video/mp4"));
    assert!(
        view.media_bytes.as_deref() == Some(&big[..]),
        "the bytes arrived unchanged"
    );
}
