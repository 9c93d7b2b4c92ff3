//! Chaos soak: mixed traffic both ways for N minutes against the real
//! bridge binary, a real homeserver (Synapse, then Conduit) and the fake
//! Telegram datacenter (in this process), while faults hit at random times:
//! SIGKILL of the bridge, homeserver outages of 5–60 s (some with a SIGKILL
//! of the bridge in the middle), dropped Telegram connections and flood
//! waits. Afterwards it waits (bounded) for the bridge to catch up and
//! checks, per chat and direction, that every message arrived exactly once
//! and in order, every edit and deletion was applied and every reaction is
//! present once. It samples the bridge's RSS every second.
//!
//! It reports; it is not a timed test. The exit code is non-zero when
//! anything was lost, duplicated or out of order, and the bridge's log is
//! kept for diagnosis (its path is printed, with log lines for each loss).
//!
//! Run with `cargo bench --profile dev --bench chaos` after `./test.sh
//! provision` (the debug binary; without `--profile dev` cargo first builds
//! the optimised one, with fat LTO).
//! `CHAOS_SERVERS` picks the servers (comma-separated, default all, one
//! after the other), `CHAOS_MINUTES` the traffic phase per server (default
//! 10, fractions allowed), `CHAOS_SEED` the seed of every random choice
//! (printed; timings still vary between runs), `TGBRIDGE_BENCH_BIN` another
//! `tgbridge` binary to soak.

#[path = "../tests/appservice_support/mod.rs"]
mod appservice_support;
#[path = "chaos/check.rs"]
mod check;
// Shared with the footprint benchmark, of which this uses a part.
#[allow(dead_code)]
#[path = "footprint/clock.rs"]
mod clock;
#[path = "chaos/faults.rs"]
mod faults;
#[path = "chaos/ledger.rs"]
mod ledger;
#[path = "chaos/matrix.rs"]
mod matrix;
#[allow(dead_code)]
#[path = "footprint/process.rs"]
mod process;
#[path = "chaos/report.rs"]
mod report;
#[path = "chaos/traffic.rs"]
mod traffic;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use appservice_support::telegram::{
    portal_of, seed_login, user, wait_for_log, with_own_homeserver,
};
use appservice_support::{message_in, BridgeInstance, EVENT_TIMEOUT};
use fake_telegram::world::{Peer, UserId};
use fake_telegram::FakeTelegram;
use grammers_session::types::PeerId;
use rand::rngs::StdRng;
use rand::SeedableRng;
use testkit::{Homeserver, HomeserverKind, TestUser};
use tgbridge::store::Store;

use check::{ChatState, Ids, Verdict};
use ledger::{ChatInfo, Ledger};
use report::Figures;

/// No initial history: only what happens during the soak.
const NO_HISTORY: &str = "  initial_history:\n    private: 0\n    group: 0\n    channel: 0\n";
/// How long the bridge gets to catch up after the traffic phase.
const QUIESCENCE: Duration = Duration::from_secs(180);
/// After everything is in place, how long a late duplicate gets to appear.
const SETTLE: Duration = Duration::from_secs(15);
/// Mean pause between two Telegram users' actions, and the owner's.
const TELEGRAM_MEAN: Duration = Duration::from_millis(600);
const OWNER_MEAN: Duration = Duration::from_millis(1200);

/// What the traffic, fault and observer tasks share.
pub struct Ctx {
    pub ledger: Mutex<Ledger>,
    pub fake: FakeTelegram,
    pub owner: TestUser,
    pub owner_account: UserId,
    /// Set while the homeserver is stopped: the owner waits.
    pub hs_down: AtomicBool,
    /// The running bridge's pid, 0 while it is down.
    pub pid: AtomicU32,
    /// Set when the traffic phase is over.
    pub done: AtomicBool,
}

struct Settings {
    binary: PathBuf,
    minutes: f64,
    seed: u64,
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let failed = runtime.block_on(run());
    std::process::exit(i32::from(failed));
}

async fn run() -> bool {
    let settings = Settings {
        binary: std::env::var_os("TGBRIDGE_BENCH_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_tgbridge"))),
        minutes: std::env::var("CHAOS_MINUTES")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|m: &f64| *m > 0.0)
            .unwrap_or(10.0),
        seed: std::env::var("CHAOS_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(rand::random),
    };
    println!(
        "tgbridge chaos soak ({}, binary {}, {} minutes per server, CHAOS_SEED={}, load average {})",
        clock::utc_now(),
        settings.binary.display(),
        settings.minutes,
        settings.seed,
        process::load_average()
    );
    let mut columns = Vec::new();
    for kind in HomeserverKind::selected_by("CHAOS_SERVERS") {
        println!("\n=== {} ===", kind.name());
        columns.push(soak(kind, &settings).await);
        println!("(load average {})", process::load_average());
    }
    println!(
        "\nside by side ({}, CHAOS_SEED={}):",
        clock::utc_now(),
        settings.seed
    );
    report::print_table(&columns);
    let failed = columns.iter().any(Figures::failed);
    if failed {
        println!("\nFAILED: something was lost, duplicated or out of order (see above)");
    }
    failed
}

/// The whole soak against one homeserver.
async fn soak(kind: HomeserverKind, settings: &Settings) -> Figures {
    let (mut bridge, server) = with_own_homeserver(kind, "chaos", NO_HISTORY).await;

    // Three groups and a private chat; the owner is Alice. Dave is also in
    // a group, so the bridge knows him before his first private message.
    let fake = FakeTelegram::start().await;
    let (alice, groups, dave) = {
        let shared = fake.world();
        let mut w = shared.lock().expect("world lock");
        let alice = w.add_user(user("Alice", "15550901"));
        let bob = w.add_user(user("Bob", "15550902"));
        let carol = w.add_user(user("Carol", "15550903"));
        let dave = w.add_user(user("Dave", "15550904"));
        let erin = w.add_user(user("Erin", "15550905"));
        let groups = vec![
            (
                w.create_group(bob, "Chaos one", &[alice, carol])
                    .expect("group"),
                vec![bob, carol],
            ),
            (
                w.create_group(carol, "Chaos two", &[alice, erin, dave])
                    .expect("group"),
                vec![carol, erin, dave],
            ),
            (
                w.create_group(erin, "Chaos three", &[alice, bob, carol])
                    .expect("group"),
                vec![erin, bob, carol],
            ),
        ];
        (alice, groups, dave)
    };
    seed_login(&bridge, &fake, alice).await;
    let owner = server
        .register_user(&bridge.owner_localpart, false)
        .await
        .expect("register the owner");
    bridge.start_binary_with_log_filter(&settings.binary, faults::LOG_FILTER);
    bridge.wait_ready(Duration::from_secs(60)).await;
    wait_for_log(&bridge, "chat sync finished", 1, Duration::from_secs(60)).await;

    // The portals, joined by the owner, each with a warm-up message.
    let store = Store::open(&bridge.database_path).expect("open the bridge database");
    let mut chats = Vec::new();
    for (i, (group, members)) in groups.iter().enumerate() {
        let peer = PeerId::chat(*group).expect("a basic group id");
        let room = portal_of(&store, peer, &bridge).await.room_id.to_string();
        chats.push(ChatInfo {
            label: format!("group {}", i + 1),
            room,
            members: members.clone(),
            group: Some(*group),
        });
    }
    fake.world()
        .lock()
        .expect("world lock")
        .send_text(dave, Peer::User(alice), "warm-up")
        .expect("Dave writes");
    let dm = portal_of(&store, PeerId::user(dave).expect("a user id"), &bridge)
        .await
        .room_id
        .to_string();
    chats.push(ChatInfo {
        label: "private".into(),
        room: dm,
        members: vec![dave],
        group: None,
    });
    drop(store);
    for chat in &chats {
        owner.join(&chat.room).await.expect("the owner was invited");
        if let Some(group) = chat.group {
            fake.world()
                .lock()
                .expect("world lock")
                .send_text(chat.members[0], Peer::Chat(group), "warm-up")
                .expect("a member writes");
        }
    }
    for chat in &chats {
        wait_for_warm_up(&owner, &bridge, &chat.room).await;
    }
    wait_for_log(&bridge, "caught up with missed messages", 1, EVENT_TIMEOUT).await;

    let ctx = Arc::new(Ctx {
        ledger: Mutex::new(Ledger::new(chats)),
        fake,
        owner,
        owner_account: alice,
        hs_down: AtomicBool::new(false),
        pid: AtomicU32::new(bridge.pid().expect("running")),
        done: AtomicBool::new(false),
    });

    // The traffic phase.
    let traffic_time = Duration::from_secs_f64(settings.minutes * 60.0);
    println!(
        "traffic from {} UTC (the bridge log's clock) for {traffic_time:?} in {} chats; bridge log {}",
        utc_time_of_day(),
        ctx.ledger.lock().expect("ledger lock").chats.len(),
        bridge.log_path.display()
    );
    let started = Instant::now();
    ctx.ledger.lock().expect("ledger lock").started = Some(started);
    let deadline = started + traffic_time;
    // Each task its own stream of choices, all from the one seed.
    let server_salt = match kind {
        HomeserverKind::Synapse => 0,
        HomeserverKind::Conduit => 1 << 32,
    };
    let rng = |n: u64| StdRng::seed_from_u64(settings.seed ^ server_salt ^ (n * 0x9E37_79B9));
    let rss = tokio::spawn(sample_rss(ctx.clone(), started));
    let observer = tokio::spawn(traffic::observe(ctx.clone()));
    let telegram = tokio::spawn(traffic::telegram(
        ctx.clone(),
        rng(1),
        deadline,
        TELEGRAM_MEAN,
    ));
    let owner_task = tokio::spawn(traffic::owner(ctx.clone(), rng(2), deadline, OWNER_MEAN));
    // Short runs get faults more often, so even a quick try sees each kind.
    let gaps = if settings.minutes < 3.0 {
        (4.0, 12.0)
    } else {
        (8.0, 30.0)
    };
    let (mut bridge, server) = faults::run(
        ctx.clone(),
        bridge,
        server,
        rng(3),
        deadline,
        &settings.binary,
        gaps,
    )
    .await;
    telegram.await.expect("Telegram traffic");
    owner_task.await.expect("owner traffic");
    let traffic_secs = started.elapsed().as_secs_f64();
    println!("traffic over after {traffic_secs:.0} s; waiting for the bridge to catch up");

    // Quiescence: the bridge catches up, bounded.
    let quiet_from = Instant::now();
    let mut verdict = loop {
        faults::keep_running(&ctx, &mut bridge, &settings.binary).await;
        let verdict = judge(&ctx, &bridge).await;
        if verdict.total() == 0 || quiet_from.elapsed() > QUIESCENCE {
            break verdict;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    };
    if verdict.total() == 0 {
        // Give a late duplicate its chance.
        tokio::time::sleep(SETTLE).await;
        verdict = judge(&ctx, &bridge).await;
    }
    let quiesce_secs = quiet_from.elapsed().as_secs_f64();
    let alive = bridge.is_running();
    ctx.done.store(true, Ordering::SeqCst);
    observer.await.expect("observer");
    let samples = rss.await.expect("RSS sampler");

    // Injected flood waits are queued per method and served at its next
    // call; one the bridge never called is still queued.
    let floods_served = ctx
        .fake
        .calls()
        .iter()
        .filter(|c| c.error.as_deref().is_some_and(|e| e.contains("FLOOD_WAIT")))
        .count();
    let figures = {
        let ledger = ctx.ledger.lock().expect("ledger lock");
        Figures::new(
            kind.name(),
            traffic_secs / 60.0,
            quiesce_secs,
            &ledger,
            &verdict,
            &samples,
            alive,
        )
    };
    let figures = Figures {
        floods_served,
        ..figures
    };
    report::print_server(&figures, &verdict);
    if figures.failed() {
        let kept = keep_evidence(&bridge, &server, kind, settings.seed);
        let ledger = ctx.ledger.lock().expect("ledger lock");
        report::print_problems(&verdict, &ledger, &bridge.log(), &kept.join("bridge.log"));
        println!("evidence kept in {}", kept.display());
    }
    if bridge.is_running() {
        let status = bridge.terminate();
        println!("bridge stopped ({status})");
    }
    drop(server);
    figures
}

/// Now as `HH:MM:SS` UTC, to find the traffic phase in the bridge's log.
fn utc_time_of_day() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        % 86_400;
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Waits until the warm-up message is in `room`.
async fn wait_for_warm_up(owner: &TestUser, bridge: &BridgeInstance, room: &str) {
    let deadline = Instant::now() + EVENT_TIMEOUT;
    loop {
        let events = matrix::newest(owner.api(), room, 50)
            .await
            .unwrap_or_default();
        if events
            .iter()
            .any(|e| message_in(e, e["room_id"].as_str().unwrap_or(room), "warm-up"))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no warm-up message in {room}\n{}",
            bridge.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Fetches both sides and checks them against the ledger.
async fn judge(ctx: &Ctx, bridge: &BridgeInstance) -> Verdict {
    let rooms: Vec<String> = {
        let ledger = ctx.ledger.lock().expect("ledger lock");
        ledger.chats.iter().map(|c| c.room.clone()).collect()
    };
    let mut timelines = Vec::new();
    for room in &rooms {
        match matrix::whole_timeline(ctx.owner.api(), room).await {
            Ok(events) => timelines.push(events),
            Err(e) => {
                println!("  ! could not read {room}: {e}");
                timelines.push(Vec::new());
            }
        }
    }
    let ledger = ctx.ledger.lock().expect("ledger lock");
    let histories: Vec<_> = {
        let shared = ctx.fake.world();
        let world = shared.lock().expect("world lock");
        ledger
            .chats
            .iter()
            .map(|c| {
                world.history(
                    ctx.owner_account,
                    c.peer_for(ctx.owner_account, ctx.owner_account),
                )
            })
            .collect()
    };
    let states: Vec<ChatState<'_>> = timelines
        .iter()
        .zip(&histories)
        .map(|(timeline, history)| ChatState { timeline, history })
        .collect();
    let ghost = |user: i64| format!("@chaostg_{user}:localhost");
    let ids = Ids {
        owner: &ctx.owner.user_id,
        owner_account: ctx.owner_account,
        bot: &bridge.bot_user_id,
        ghost: &ghost,
    };
    check::check(&ledger, &states, &ids)
}

/// The bridge's RSS (kB) once a second until the soak is done, with the
/// seconds since the start.
async fn sample_rss(ctx: Arc<Ctx>, started: Instant) -> Vec<(f64, u64)> {
    let mut samples = Vec::new();
    while !ctx.done.load(Ordering::SeqCst) {
        let pid = ctx.pid.load(Ordering::SeqCst);
        if pid != 0 {
            if let Some(kb) = vm_rss(pid) {
                samples.push((started.elapsed().as_secs_f64(), kb));
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    samples
}

/// `VmRSS` of a process in kB; `None` once it is gone.
fn vm_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Copies the bridge's log and database and the homeserver's log out of
/// their temporary directories, which go away with the run.
fn keep_evidence(
    bridge: &BridgeInstance,
    server: &Homeserver,
    kind: HomeserverKind,
    seed: u64,
) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tgbridge-chaos-{}-{seed}-{}",
        kind.name().to_lowercase(),
        std::process::id()
    ));
    let _ = std::fs::create_dir_all(&dir);
    let copy = |from: &std::path::Path, name: &str| {
        if let Err(e) = std::fs::copy(from, dir.join(name)) {
            println!("  (could not keep {}: {e})", from.display());
        }
    };
    copy(&bridge.log_path, "bridge.log");
    copy(&bridge.database_path, "tgbridge.db");
    let wal = bridge.database_path.with_extension("db-wal");
    if wal.exists() {
        copy(&wal, "tgbridge.db-wal");
    }
    copy(server.log_path(), "homeserver.log");
    dir
}
