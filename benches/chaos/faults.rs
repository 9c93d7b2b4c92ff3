//! The soak's faults, at seeded random times: SIGKILL of the bridge and a
//! new start, the homeserver stopped for 5–60 s (sometimes with a SIGKILL of
//! the bridge in the middle), every Telegram connection dropped, and a
//! flood wait on the bridge's next call of one method. Owns the bridge
//! process and the homeserver for the traffic phase and hands them back.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_telegram::RpcError;
use rand::rngs::StdRng;
use rand::Rng;
use testkit::Homeserver;

use super::appservice_support::BridgeInstance;
use super::ledger::Fault;
use super::Ctx;

/// The bridge's log filter: debug for the bridge, so a loss can be traced.
pub const LOG_FILTER: &str = "debug,hyper=info,reqwest=info,h2=info,grammers=info";

/// Methods a flood wait is injected into: what the bridge calls to bridge
/// the owner's actions, and the update catch-up.
const FLOOD_METHODS: [&str; 5] = [
    "messages.sendMessage",
    "messages.editMessage",
    "messages.deleteMessages",
    "messages.sendReaction",
    "updates.getDifference",
];

/// Starts the bridge and waits (bounded) until `/health` answers 200.
pub async fn start_bridge(ctx: &Ctx, bridge: &mut BridgeInstance, binary: &Path) {
    bridge.start_binary_with_log_filter(binary, LOG_FILTER);
    ctx.pid
        .store(bridge.pid().expect("just started"), Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if matches!(bridge.health().await, Some((200, _))) {
            return;
        }
        if !bridge.is_running() || Instant::now() > deadline {
            println!(
                "  ! the bridge did not become ready ({})",
                if bridge.is_running() {
                    "still starting after 90 s"
                } else {
                    "it exited"
                }
            );
            ctx.ledger.lock().expect("ledger lock").slow_starts += 1;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn kill_bridge(ctx: &Ctx, bridge: &mut BridgeInstance) {
    ctx.pid.store(0, Ordering::SeqCst);
    bridge.kill();
}

/// Restarts the bridge if it exited without being told to (counted).
pub async fn keep_running(ctx: &Ctx, bridge: &mut BridgeInstance, binary: &Path) {
    if !bridge.is_running() {
        println!("  ! the bridge exited on its own; starting it again");
        ctx.ledger.lock().expect("ledger lock").unexpected_exits += 1;
        // Reap it so a new one can start (kill on an exited child is a no-op).
        kill_bridge(ctx, bridge);
        start_bridge(ctx, bridge, binary).await;
    }
}

/// Waits `total`, checking every second that the bridge still runs (while
/// the homeserver is up).
async fn watchful_sleep(ctx: &Ctx, bridge: &mut BridgeInstance, binary: &Path, total: Duration) {
    let until = Instant::now() + total;
    while Instant::now() < until {
        tokio::time::sleep(
            until
                .saturating_duration_since(Instant::now())
                .min(Duration::from_secs(1)),
        )
        .await;
        keep_running(ctx, bridge, binary).await;
    }
}

/// Injects faults until `deadline`, then returns the bridge (running) and
/// the homeserver (up).
pub async fn run(
    ctx: Arc<Ctx>,
    mut bridge: BridgeInstance,
    mut server: Homeserver,
    mut rng: StdRng,
    deadline: Instant,
    binary: &Path,
    gaps: (f64, f64),
) -> (BridgeInstance, Homeserver) {
    let started = Instant::now();
    loop {
        let gap = Duration::from_secs_f64(rng.random_range(gaps.0..gaps.1));
        if Instant::now() + gap >= deadline {
            let rest = deadline.saturating_duration_since(Instant::now());
            watchful_sleep(&ctx, &mut bridge, binary, rest).await;
            break;
        }
        watchful_sleep(&ctx, &mut bridge, binary, gap).await;
        let at = started.elapsed().as_secs_f64();
        let roll: f64 = rng.random();
        if roll < 0.3 {
            let down = Duration::from_secs_f64(rng.random_range(0.2..3.0));
            let what = format!("kill -9 the bridge, start it again after {down:.1?}");
            println!("  [{at:6.1} s] {what}");
            kill_bridge(&ctx, &mut bridge);
            ctx.ledger
                .lock()
                .expect("ledger lock")
                .fault(Fault::BridgeKill, &what);
            tokio::time::sleep(down).await;
            start_bridge(&ctx, &mut bridge, binary).await;
        } else if roll < 0.55 {
            let outage = Duration::from_secs(rng.random_range(5..=60));
            let kill_in_middle = rng.random_bool(0.3);
            let what = format!(
                "homeserver outage of {outage:?}{}",
                if kill_in_middle {
                    ", kill -9 of the bridge in the middle"
                } else {
                    ""
                }
            );
            println!("  [{at:6.1} s] {what}");
            ctx.hs_down.store(true, Ordering::SeqCst);
            server.stop().expect("stop the homeserver");
            {
                let mut ledger = ctx.ledger.lock().expect("ledger lock");
                ledger.fault(Fault::HomeserverOutage, &what);
                if kill_in_middle {
                    *ledger.faults.entry(Fault::BridgeKillInOutage).or_default() += 1;
                }
            }
            if kill_in_middle {
                tokio::time::sleep(outage / 2).await;
                kill_bridge(&ctx, &mut bridge);
                tokio::time::sleep(outage - outage / 2).await;
            } else {
                tokio::time::sleep(outage).await;
            }
            restart_homeserver(&mut server).await;
            ctx.hs_down.store(false, Ordering::SeqCst);
            if kill_in_middle {
                start_bridge(&ctx, &mut bridge, binary).await;
            }
        } else if roll < 0.8 {
            println!("  [{at:6.1} s] drop every Telegram connection");
            ctx.fake.drop_connections();
            ctx.ledger
                .lock()
                .expect("ledger lock")
                .fault(Fault::TelegramDrop, "drop every Telegram connection");
        } else {
            let method = FLOOD_METHODS[rng.random_range(0..FLOOD_METHODS.len())];
            let seconds = rng.random_range(1..=10);
            let what = format!("FLOOD_WAIT_{seconds} on the next {method}");
            println!("  [{at:6.1} s] {what}");
            ctx.fake.fail_next(method, RpcError::flood_wait(seconds));
            ctx.ledger
                .lock()
                .expect("ledger lock")
                .fault(Fault::FloodWait, &what);
        }
    }
    (bridge, server)
}

/// Starts the homeserver again, retrying: a soak that cannot bring its
/// homeserver back cannot judge anything, so it stops there.
async fn restart_homeserver(server: &mut Homeserver) {
    for attempt in 1..=3 {
        match server.restart().await {
            Ok(()) => return,
            Err(e) => println!("  ! homeserver restart {attempt} failed: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    panic!("the homeserver did not come back\n{}", server.log_tail(40));
}
