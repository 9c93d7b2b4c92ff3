//! The bot's reply to a command, as `benches/bot_reply.rs` measures it but
//! on the footprint harness's bridge: the owner sends `version` in the
//! management room until the bot's reply is seen through `/sync`, next to
//! a baseline interleaved with it (the owner's own message in a room without
//! the bot, seen through `/sync`), and the bridge's own share (transaction
//! received → reply request sent) from its `tgbridge::timing` log lines.
//! Drives the owner and reads the bridge's log; changes nothing else.

use std::time::{Duration, Instant};

use testkit::TestUser;

use crate::appservice_support::{is_notice_from, BridgeInstance};
use crate::report::{BotReply, Latency};
use crate::stats::{ms, percentile};

const WARMUP: usize = 20;
const PATIENCE: Duration = Duration::from_secs(30);

/// `rounds` commands after a warm-up, each after one baseline message.
pub async fn measure(
    owner: &TestUser,
    bridge: &BridgeInstance,
    room: &str,
    rounds: usize,
) -> BotReply {
    let bot = bridge.bot_user_id.clone();
    let quiet_room = owner
        .create_room(&serde_json::json!({ "name": "bot reply baseline" }))
        .await
        .expect("baseline room");
    let shares_before = logged(&bridge.log(), "own_share_us=").len();
    let sends_before = logged(&bridge.log(), "reply_send_us=").len();
    let mut end_to_end = Vec::with_capacity(rounds);
    let mut baseline = Vec::with_capacity(rounds);
    for round in 0..WARMUP + rounds {
        let started = Instant::now();
        let marker = format!("bot reply baseline {round}");
        owner.send_text(&quiet_room, &marker).await.expect("send");
        owner
            .sync_until(|e| e["content"]["body"] == marker.as_str(), PATIENCE)
            .await
            .expect("own message");
        if round >= WARMUP {
            baseline.push(started.elapsed());
        }

        let started = Instant::now();
        owner.send_text(room, "version").await.expect("send");
        owner
            .sync_until(|e| is_notice_from(e, &bot, "tgbridge "), PATIENCE)
            .await
            .expect("reply");
        if round >= WARMUP {
            end_to_end.push(started.elapsed());
        }
    }
    end_to_end.sort();
    baseline.sort();
    let log = bridge.log();
    let mut own: Vec<Duration> = logged(&log, "own_share_us=")
        .into_iter()
        .skip(shares_before + WARMUP)
        .collect();
    own.sort();
    let mut sends: Vec<Duration> = logged(&log, "reply_send_us=")
        .into_iter()
        .skip(sends_before + WARMUP)
        .collect();
    sends.sort();
    let reply = BotReply {
        end_to_end: latency(&end_to_end),
        baseline: latency(&baseline),
        own_share: (!own.is_empty()).then(|| latency(&own)),
        reply_send: (!sends.is_empty()).then(|| latency(&sends)),
    };
    println!("\nbot reply, owner command -> reply seen through /sync ({rounds} rounds):");
    println!(
        "  end to end:   p50 {:7.2} ms   p99 {:7.2} ms",
        ms(reply.end_to_end.p50),
        ms(reply.end_to_end.p99)
    );
    println!(
        "  baseline:     p50 {:7.2} ms   p99 {:7.2} ms   (the owner's own message through /sync)",
        ms(reply.baseline.p50),
        ms(reply.baseline.p99)
    );
    if let Some(own_share) = reply.own_share {
        println!(
            "  bridge share: p50 {:7.3} ms   p99 {:7.3} ms   ({} samples: transaction received -> reply request sent)",
            ms(own_share.p50),
            ms(own_share.p99),
            own.len()
        );
    }
    if let Some(send) = reply.reply_send {
        println!(
            "  reply send:   p50 {:7.3} ms   p99 {:7.3} ms   ({} samples: the reply's PUT /send, request -> response)",
            ms(send.p50),
            ms(send.p99),
            sends.len()
        );
    }
    reply
}

fn latency(sorted: &[Duration]) -> Latency {
    Latency {
        p50: percentile(sorted, 50.0),
        p99: percentile(sorted, 99.0),
    }
}

/// The `<field><n>` values (microseconds) the bridge logged, in order.
fn logged(log: &str, field: &str) -> Vec<Duration> {
    log.lines()
        .filter_map(|line| {
            let rest = &line[line.find(field)? + field.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok().map(Duration::from_micros)
        })
        .collect()
}
