//! Benchmark: the time from a command sent by the owner to the bot's reply
//! seen through `/sync`, on each real homeserver (Synapse, then Conduit, in
//! one run), plus the bridge's own share (transaction received → reply
//! handed to the HTTP client) as the bridge measures it. Prints p50/p99; not
//! a timed test.
//!
//! Each round also measures a baseline on the same server, interleaved so
//! both see the same machine load: the owner's own message in a room without
//! the bot, seen through `/sync`. The bot's reply needs two sends through
//! the server plus an appservice push, so a ratio near 2 means the bridge
//! adds next to nothing.
//!
//! Run with `cargo bench --bench bot_reply` (optimised build) or
//! `cargo bench --profile dev --bench bot_reply`. `BOT_REPLY_ROUNDS` sets the
//! number of measured commands (default 200), `BOT_REPLY_SERVERS` the
//! servers (comma-separated, default both), `TGBRIDGE_BENCH_BIN` another
//! `tgbridge` binary to measure.

#[path = "../tests/appservice_support/mod.rs"]
mod appservice_support;
#[path = "support/stats.rs"]
mod stats;

use stats::{ms, percentile};

use std::time::{Duration, Instant};

use appservice_support::{is_notice_from, management_room_of, BridgeInstance};
use testkit::{free_port, Homeserver, HomeserverKind, HomeserverOptions};

const WARMUP: usize = 20;

/// `own_share_us=<n>` values the bridge logged, in order.
fn own_shares(log: &str) -> Vec<Duration> {
    log.lines()
        .filter_map(|line| {
            let rest = &line[line.find("own_share_us=")? + "own_share_us=".len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok().map(Duration::from_micros)
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: usize = std::env::var("BOT_REPLY_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    for kind in HomeserverKind::selected_by("BOT_REPLY_SERVERS") {
        measure(kind, rounds).await;
    }
}

async fn measure(kind: HomeserverKind, rounds: usize) {
    let port = free_port().expect("free port");
    let mut bridge = BridgeInstance::prepare("bench", port);
    let server = Homeserver::start(
        kind,
        HomeserverOptions {
            registrations: vec![bridge.registration_path.clone()],
            port: Some(port),
            ..HomeserverOptions::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{kind} starts (run ./test.sh provision first): {e}"));
    let owner = server
        .register_user(&bridge.owner_localpart, false)
        .await
        .expect("owner");
    let binary = std::env::var_os("TGBRIDGE_BENCH_BIN").map_or_else(
        || env!("CARGO_BIN_EXE_tgbridge").into(),
        std::path::PathBuf::from,
    );
    bridge.start_binary_with_log_filter(&binary, "info,tgbridge::timing=debug");
    bridge.wait_ready(Duration::from_secs(60)).await;
    let bot = bridge.bot_user_id.clone();
    let room = management_room_of(&owner, &bot).await;

    let quiet_room = owner
        .create_room(&serde_json::json!({ "name": "baseline" }))
        .await
        .expect("baseline room");

    let mut end_to_end = Vec::with_capacity(rounds);
    let mut baseline = Vec::with_capacity(rounds);
    for round in 0..WARMUP + rounds {
        let started = Instant::now();
        let marker = format!("baseline {round}");
        owner.send_text(&quiet_room, &marker).await.expect("send");
        owner
            .sync_until(
                |e| e["content"]["body"] == marker.as_str(),
                Duration::from_secs(30),
            )
            .await
            .expect("own message");
        if round >= WARMUP {
            baseline.push(started.elapsed());
        }

        let started = Instant::now();
        owner.send_text(&room, "version").await.expect("send");
        owner
            .sync_until(
                |e| is_notice_from(e, &bot, "tgbridge "),
                Duration::from_secs(30),
            )
            .await
            .expect("reply");
        if round >= WARMUP {
            end_to_end.push(started.elapsed());
        }
    }
    end_to_end.sort();
    baseline.sort();
    let mut own = own_shares(&bridge.log());
    own.drain(..own.len().min(WARMUP));
    own.sort();

    println!("\nbot reply, owner command -> reply seen through /sync ({rounds} rounds, {kind} on 127.0.0.1):");
    println!(
        "  end to end:   p50 {:7.2} ms   p99 {:7.2} ms",
        ms(percentile(&end_to_end, 50.0)),
        ms(percentile(&end_to_end, 99.0))
    );
    println!(
        "  baseline:     p50 {:7.2} ms   p99 {:7.2} ms   (owner's own message through /sync, same server)",
        ms(percentile(&baseline, 50.0)),
        ms(percentile(&baseline, 99.0))
    );
    println!(
        "  ratio end to end / baseline (p50): {:.2}",
        ms(percentile(&end_to_end, 50.0)) / ms(percentile(&baseline, 50.0)).max(f64::EPSILON)
    );
    println!(
        "  bridge share: p50 {:7.3} ms   p99 {:7.3} ms   ({} samples: transaction received -> reply request sent)",
        ms(percentile(&own, 50.0)),
        ms(percentile(&own, 99.0)),
        own.len()
    );
    let status = bridge.terminate();
    assert!(status.success(), "bridge exits 0 on SIGTERM");
}
