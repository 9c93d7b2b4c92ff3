//! Two processes on one database file, as when `tgbridge login` runs while
//! the service is up: both open a fresh file at the same moment (racing
//! migrations), then write session data, message-map rows, transaction ids
//! and key-value rows concurrently. Nothing may be lost or corrupted.
//!
//! The second process is this test binary re-executed with only
//! `child_writer` selected and the database path in an environment variable.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use grammers_session::types::{DcOption, PeerAuth, PeerId, PeerInfo, UpdateState};
use grammers_session::Session;
use tgbridge::store::{MessageMapping, MessageScope, Portal, PortalKind, Store};

const CHILD_ENV: &str = "TGBRIDGE_STORE_TEST_CHILD_DB";
const MIN_ROUNDS: u32 = 300;
const DEADLINE: Duration = Duration::from_secs(60);
const CHANNEL: i64 = 77;

/// Channel whose pts each side advances (child and parent use different ones).
fn pts_channel(name: &str) -> i64 {
    if name == "parent" {
        1
    } else {
        2
    }
}

/// User ids cached by each side, disjoint.
fn user_id(name: &str, round: u32) -> i64 {
    let base = if name == "parent" { 10_000 } else { 20_000 };
    base + i64::from(round)
}

/// The datacenter option the child writes in `round`: it cycles through DCs
/// 1-5 with a key and port unique to the round.
fn login_dc(round: u32) -> DcOption {
    let port = 20_000 + u16::try_from(round).unwrap();
    DcOption {
        id: 1 + (round % 5) as i32,
        ipv4: SocketAddrV4::new(Ipv4Addr::LOCALHOST, port),
        ipv6: SocketAddrV6::new(Ipv6Addr::LOCALHOST, port, 0, 0),
        auth_key: Some([round as u8; 256]),
    }
}

/// The account the child "logs in" as once it is done.
fn self_user() -> PeerInfo {
    PeerInfo::User {
        id: 5_000,
        auth: Some(PeerAuth::from_hash(-5)),
        bot: Some(false),
        is_self: Some(true),
    }
}

/// Writes rounds until at least `MIN_ROUNDS` are done and a row of the other
/// process has been seen while still writing (which proves the two overlapped).
async fn write_rounds(name: &str, other: &str, path: &Path) {
    let store = Store::open(path).unwrap();
    let session = store.telegram_session();
    let portal = Portal {
        peer: PeerId::channel(CHANNEL).unwrap(),
        kind: PortalKind::Supergroup,
        room_id: "!shared:example.org".try_into().unwrap(),
        title: None,
        avatar_photo_id: None,
        avatar_mxc: None,
        encrypted: false,
        in_space: false,
        topic: None,
    };
    store.portals().upsert(&portal).unwrap();

    let started = Instant::now();
    let mut seen_other_at = None;
    let mut round = 0u32;
    while round < MIN_ROUNDS || seen_other_at.is_none() {
        assert!(started.elapsed() < DEADLINE, "{name} never saw {other}");
        let id = user_id(name, round);
        store
            .transaction(|tx| {
                tx.messages().insert(&MessageMapping {
                    scope: MessageScope::Channel(CHANNEL),
                    tg_msg_id: i32::try_from(id).unwrap(),
                    part: 0,
                    chat: portal.peer,
                    room_id: portal.room_id.clone(),
                    event_id: format!("${name}-{round}").try_into().unwrap(),
                    sent_by_bridge: name == "child",
                })?;
                tx.kv_set(&format!("{name}-{round}"), &round.to_string())
            })
            .unwrap();
        store
            .record_transaction(&format!("{name}-{round}"))
            .unwrap();
        session
            .cache_peers(vec![PeerInfo::User {
                id,
                auth: Some(PeerAuth::from_hash(id * 3)),
                bot: Some(false),
                is_self: Some(false),
            }])
            .await
            .unwrap();
        session
            .set_update_state(UpdateState::Channel {
                id: pts_channel(name),
                pts: round as i32,
            })
            .await
            .unwrap();
        if name == "child" {
            // What a login writes: update state, and datacenters with keys.
            session
                .set_update_state(UpdateState::Secondary { qts: round as i32 })
                .await
                .unwrap();
            session.set_dc_option(&login_dc(round)).await.unwrap();
        } else {
            // What the running service reads on every request.
            let home = session.home_dc_id().unwrap();
            let option = session.dc_option(home).unwrap().expect("home dc option");
            assert_eq!(option.id, home);
        }
        if seen_other_at.is_none() && store.kv_get(&format!("{other}-0")).unwrap().is_some() {
            seen_other_at = Some(round);
        }
        round += 1;
    }
    if name == "child" {
        session.cache_peer(self_user()).await.unwrap();
    }
    store
        .kv_set(&format!("{name}-rounds"), &round.to_string())
        .unwrap();
    eprintln!(
        "{name}: {round} rounds in {:?}, first saw {other} at round {seen_other_at:?}",
        started.elapsed()
    );
}

#[test]
#[ignore = "second process of two_processes_share_the_database; started by it"]
fn child_writer() {
    let path = std::env::var_os(CHILD_ENV)
        .expect("child_writer only runs as the child of two_processes_share_the_database");
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(write_rounds("child", "parent", Path::new(&path)));
}

#[tokio::test]
async fn two_processes_share_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("tgbridge.db");
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "child_writer",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = testkit::spawn_tied(command).unwrap();

    write_rounds("parent", "child", &path).await;

    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "child failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for line in String::from_utf8_lossy(&output.stderr).lines() {
        if line.starts_with("child:") {
            eprintln!("{line}");
        }
    }
    let child_log = String::from_utf8_lossy(&output.stdout);
    assert!(
        child_log.contains("child_writer ... ok"),
        "child did not run its writer: {child_log}"
    );

    let raw = rusqlite::Connection::open(&path).unwrap();
    let integrity: String = raw
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let fk_violations: i64 = raw
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(fk_violations, 0);
    let migrations: i64 = raw
        .query_row("SELECT count(*) FROM schema_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(
        migrations,
        i64::from(Store::supported_schema_version()),
        "a migration ran twice"
    );
    drop(raw);

    let store = Store::open(&path).unwrap();
    let session = store.telegram_session();
    let mut last_rounds = Vec::new();
    for name in ["parent", "child"] {
        let rounds: u32 = store
            .kv_get(&format!("{name}-rounds"))
            .unwrap()
            .expect("round count")
            .parse()
            .unwrap();
        assert!(rounds >= MIN_ROUNDS);
        for round in 0..rounds {
            let id = user_id(name, round);
            assert_eq!(
                store.kv_get(&format!("{name}-{round}")).unwrap(),
                Some(round.to_string()),
                "{name} kv {round}"
            );
            assert!(store
                .transaction_processed(&format!("{name}-{round}"))
                .unwrap());
            let mapped = store
                .messages()
                .by_telegram(MessageScope::Channel(CHANNEL), i32::try_from(id).unwrap())
                .unwrap();
            assert_eq!(mapped.len(), 1, "{name} message {round}");
            assert_eq!(
                session.peer(PeerId::user(id).unwrap()).await.unwrap(),
                Some(PeerInfo::User {
                    id,
                    auth: Some(PeerAuth::from_hash(id * 3)),
                    bot: Some(false),
                    is_self: Some(false),
                }),
                "{name} peer {round}"
            );
        }
        last_rounds.push((name, rounds));
    }
    assert!(store.has_telegram_login().unwrap());
    assert_eq!(
        session.peer(PeerId::self_user()).await.unwrap(),
        Some(self_user())
    );
    let child_rounds = last_rounds[1].1;
    for last in child_rounds.saturating_sub(5)..child_rounds {
        let expected = login_dc(last);
        assert_eq!(session.dc_option(expected.id).unwrap(), Some(expected));
    }
    let state = session.updates_state().await.unwrap();
    for (name, rounds) in last_rounds {
        let channel = state
            .channels
            .iter()
            .find(|c| c.id == pts_channel(name))
            .expect("channel state");
        assert_eq!(channel.pts, rounds as i32 - 1, "{name} pts");
        if name == "child" {
            assert_eq!(state.qts, rounds as i32 - 1);
        }
    }
}
