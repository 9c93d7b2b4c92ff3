//! The service opens the database twice (the bridge's connection and the
//! login hub's), and other processes (`tgbridge login`, `check`) open and
//! close it while the service runs. Opening a second connection must not
//! drop the first one's locks: otherwise a closing process believes it is
//! the last user, deletes the write-ahead log, and the service's later
//! commits vanish into an unlinked file.
//!
//! The other process is this test binary re-executed with only
//! `child_open_and_close` selected and the database path in an environment
//! variable.

use std::path::Path;
use std::process::Command;

use grammers_session::types::PeerId;
use tgbridge::store::{Portal, PortalKind, Store};

const CHILD_ENV: &str = "TGBRIDGE_STORE_LOCKS_CHILD_DB";

fn portal(chat: i64) -> Portal {
    Portal {
        peer: PeerId::chat(chat).unwrap(),
        kind: PortalKind::Group,
        room_id: format!("!room{chat}:example.org").try_into().unwrap(),
        title: Some(format!("Group {chat}")),
        avatar_photo_id: None,
        avatar_mxc: None,
        encrypted: false,
        in_space: false,
        topic: None,
    }
}

/// Runs `child_open_and_close` in another process on `path`; returns the
/// number of portals it saw.
fn other_process_counts_portals(path: &Path) -> usize {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_open_and_close",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, path)
        .output()
        .expect("run the child process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "child failed: {stdout}");
    stdout
        .lines()
        .find_map(|line| line.split_once("portals=").map(|(_, n)| n))
        .and_then(|n| n.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no count from the child: {stdout}"))
}

#[test]
fn commits_stay_visible_to_other_processes_after_a_second_connection_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tgbridge.db");
    let bridge = Store::open(&path).unwrap();
    bridge.portals().upsert(&portal(1)).unwrap();
    // The login hub's connection, opened while the bridge's is live.
    let hub = Store::open(&path).unwrap();
    assert_eq!(other_process_counts_portals(&path), 1);
    // Written after another process opened and closed the file.
    bridge.portals().upsert(&portal(2)).unwrap();
    hub.portals().upsert(&portal(3)).unwrap();
    assert_eq!(
        other_process_counts_portals(&path),
        3,
        "every commit of this process is visible to the next one"
    );
    drop((bridge, hub));
    assert_eq!(
        Store::open(&path).unwrap().portals().all().unwrap().len(),
        3
    );
}

#[test]
#[ignore = "other process of commits_stay_visible_…; started by it"]
fn child_open_and_close() {
    let path = std::env::var_os(CHILD_ENV).expect("started by the parent test");
    let store = Store::open(Path::new(&path)).unwrap();
    println!("portals={}", store.portals().all().unwrap().len());
}
