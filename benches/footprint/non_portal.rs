//! The cost of the owner's rooms that are not portals. The owner is in the
//! registration's namespace (for double puppeting), so the homeserver pushes
//! every event of every room the owner is in to the bridge, bridged or not.
//! This measures one such room: the owner sends texts where no bridge user
//! is, and the bridge's CPU time, the delivery time and the database growth
//! are read around them. Drives the owner and reads the bridge; changes
//! nothing of the bridge but its log level for the measurement.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use testkit::TestUser;

use crate::appservice_support::telegram::wait_for_log;
use crate::appservice_support::BridgeInstance;
use crate::clock::line_time;
use crate::db::DbSize;
use crate::process::cpu_time;
use crate::report::NonPortal;

/// The bridge's log with one line per transaction it receives (and the
/// number of events in it), the measurement's only source of delivery times.
const LOG_FILTER: &str = "info,tgbridge::matrix::appservice=debug";
const RECEIVED: &str = "transaction received";
/// Room creation's own events reach the bridge within this, before the
/// measured sends start.
const SETTLE: Duration = Duration::from_secs(3);
/// How long delivery may lag behind the last send before the harness gives up.
const PATIENCE: Duration = Duration::from_secs(300);

/// Restarts `bridge` logging its transactions, then has the owner send
/// `events` texts in a new room without any bridge user.
pub async fn measure(
    binary: &Path,
    bridge: &mut BridgeInstance,
    owner: &TestUser,
    events: usize,
) -> NonPortal {
    restart_logging_transactions(binary, bridge).await;
    let room = owner
        .create_room(&serde_json::json!({ "name": "not a portal" }))
        .await
        .expect("a room without the bridge");
    tokio::time::sleep(SETTLE).await;

    let pid = bridge.pid().expect("bridge running");
    let db = DbSize::new(&bridge.database_path);
    let db_before = db.measure();
    let log_offset = bridge.log().len();
    let cpu_before = cpu_time(pid);
    let started_at = SystemTime::now();
    let started = Instant::now();
    for i in 0..events {
        owner
            .send_text(&room, &format!("elsewhere {i}"))
            .await
            .expect("send in a room without the bridge");
    }
    let sends = started.elapsed();
    let (transactions, last_received) = wait_for_delivery(bridge, log_offset, events).await;
    // Whatever the last transaction started finishes within a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu = cpu_time(pid).saturating_sub(cpu_before);
    let db_after = db.measure();
    let since_epoch = started_at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let figures = NonPortal {
        events: events as u64,
        transactions,
        logged_transactions: db_after.transactions.saturating_sub(db_before.transactions),
        cpu,
        sends,
        delivered: last_received.saturating_sub(since_epoch),
        db_file_bytes: signed(db_after.file_bytes) - signed(db_before.file_bytes),
        db_used_bytes: signed(db_after.used_bytes) - signed(db_before.used_bytes),
    };
    print(&figures);
    figures
}

fn signed(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

async fn restart_logging_transactions(binary: &Path, bridge: &mut BridgeInstance) {
    let syncs = bridge.log().matches("chat sync finished").count();
    let status = bridge.terminate();
    assert!(status.success(), "bridge exits 0 on SIGTERM");
    bridge.start_binary_with_log_filter(binary, LOG_FILTER);
    bridge.wait_ready(Duration::from_secs(60)).await;
    wait_for_log(
        bridge,
        "chat sync finished",
        syncs + 1,
        Duration::from_secs(300),
    )
    .await;
}

/// Waits until the transactions logged after `offset` hold `events`
/// events; returns how many transactions that took and when the last one
/// arrived (the log's timestamp, since the Unix epoch).
async fn wait_for_delivery(
    bridge: &BridgeInstance,
    offset: usize,
    events: usize,
) -> (u64, Duration) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let log = bridge.log();
        let mut delivered = 0;
        let mut transactions = 0;
        for line in log[offset.min(log.len())..]
            .lines()
            .filter(|l| l.contains(RECEIVED))
        {
            transactions += 1;
            delivered += events_in(line);
            if delivered >= events {
                let at = line_time(line).expect("a timestamped log line");
                return (transactions, at);
            }
        }
        assert!(
            Instant::now() < deadline,
            "the bridge received {delivered} of {events} events in {transactions} transactions\n{}",
            bridge.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `events=<n>` field of a "transaction received" line.
fn events_in(line: &str) -> usize {
    line.split_whitespace()
        .find_map(|field| field.strip_prefix("events="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn print(n: &NonPortal) {
    println!(
        "\nnon-portal room: {} texts from the owner where no bridge user is:",
        n.events
    );
    println!(
        "  delivered in {} transactions ({} transaction-log rows added)",
        n.transactions, n.logged_transactions
    );
    println!(
        "  bridge CPU (user + system) {:.0} ms, {:.0} µs per event",
        n.cpu.as_secs_f64() * 1000.0,
        n.cpu.as_secs_f64() * 1e6 / n.events.max(1) as f64
    );
    println!(
        "  sends done after {:.2} s, all received by the bridge after {:.2} s",
        n.sends.as_secs_f64(),
        n.delivered.as_secs_f64()
    );
    println!(
        "  database growth after a checkpoint: file {} bytes, pages in use {} bytes",
        n.db_file_bytes, n.db_used_bytes
    );
}
