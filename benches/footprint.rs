//! Benchmark: what the bridge costs a small machine, in one run against a
//! real Synapse and the fake Telegram datacenter (in this process), with the
//! bridge binary of this build (optimised under `cargo bench`) as a child
//! process. Reports, never asserts:
//!
//! - start → ready (spawn until `/health` answers 200, and the same span in
//!   the bridge's own log timestamps) with 0, 5 and 500 portals;
//! - idle RSS (`VmRSS`/`VmHWM` from `/proc`) logged in with 0, 5 and 500
//!   portals, and after a message load;
//! - Telegram → Matrix latency p50/p99 (a Telegram user sends a text, until
//!   the owner sees it through `/sync`) and sustained messages/s, each next
//!   to a baseline on the same Synapse (the owner's own messages), so the
//!   figures compare as ratios within one run;
//! - Matrix → Telegram latency, when the bridge sends Matrix messages to
//!   Telegram at all (it prints "not available" otherwise);
//! - database bytes per bridged message (file growth between checkpoints).
//!
//! The 500-portal account is seeded: 500 basic groups in the fake world and
//! 500 portal rows whose titles match, so the start-up sync finds every chat
//! bridged already and changes nothing (their room ids are placeholders that
//! no request ever reaches).
//!
//! Run with `cargo bench --bench footprint` after `./test.sh provision`.
//! `FOOTPRINT_ROUNDS` sets the latency rounds (default 200),
//! `FOOTPRINT_BURST` the sustained-load message count (default 500), and
//! `TGBRIDGE_BENCH_BIN` another `tgbridge` binary to measure, and
//! `FOOTPRINT_QUICK=1` stops after the idle RSS figures.

#[path = "../tests/appservice_support/mod.rs"]
mod appservice_support;
#[path = "support/stats.rs"]
mod stats;

use stats::{ms, percentile};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use appservice_support::telegram::{seed_login, user, wait_for_log};
use appservice_support::{management_room_of, BridgeInstance};
use fake_telegram::world::{ChatId, Peer, UserId};
use fake_telegram::FakeTelegram;
use grammers_session::types::PeerId;
use testkit::{free_port, Synapse, SynapseOptions, TestUser};
use tgbridge::store::{Portal, PortalKind, Store};

const LOG_FILTER: &str = "info";
const SMALL_PORTALS: usize = 5;
const LARGE_PORTALS: usize = 500;
const RESTARTS: usize = 5;
const WARMUP: usize = 10;
/// How long the bridge sits idle before its RSS is read.
const SETTLE: Duration = Duration::from_secs(3);

fn main() {
    // The fake datacenter runs on this runtime; two workers keep it from
    // competing with the bridge for the machine more than it must.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

/// One bridge under measurement, with the Telegram account behind it.
struct Subject {
    name: &'static str,
    bridge: BridgeInstance,
    account: UserId,
    groups: Vec<ChatId>,
    owner: Option<TestUser>,
}

async fn run() {
    let binary = bridge_binary();
    let rounds = env_usize("FOOTPRINT_ROUNDS", 200);
    let burst = env_usize("FOOTPRINT_BURST", 500);
    let port = free_port().expect("free port");
    let [zero, small, large] =
        ["zero", "small", "large"].map(|name| BridgeInstance::prepare(name, port));
    let synapse = Synapse::start(SynapseOptions {
        registrations: [&zero, &small, &large]
            .iter()
            .map(|b| b.registration_path.clone())
            .collect(),
        port: Some(port),
        ..SynapseOptions::default()
    })
    .await
    .expect("Synapse starts (run ./test.sh provision first)");

    let fake = FakeTelegram::start().await;
    let mut zero = account(&fake, "zero", zero, 0).await;
    let mut small = account(&fake, "small", small, SMALL_PORTALS).await;
    let mut large = account(&fake, "large", large, LARGE_PORTALS).await;
    seed_portals(&fake, &large);

    println!(
        "tgbridge footprint ({}, binary {}, {} bytes)",
        utc_now(),
        binary.display(),
        std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0)
    );
    for subject in [&mut zero, &mut small, &mut large] {
        first_start(&synapse, &binary, subject).await;
    }

    println!("\nidle, logged in (after the start-up chat sync, {SETTLE:?} idle):");
    for subject in [&zero, &small, &large] {
        print_rss(
            &format!("{} portals", subject.groups.len()),
            &subject.bridge,
        );
    }

    if std::env::var_os("FOOTPRINT_QUICK").is_some() {
        for subject in [&mut zero, &mut small, &mut large] {
            stop(subject);
        }
        return;
    }
    println!(
        "\nstart -> ready ({RESTARTS} restarts each, homeserver and management room in place):"
    );
    for subject in [&mut zero, &mut small, &mut large] {
        restarts(&binary, subject).await;
    }
    for subject in [&mut zero, &mut large] {
        stop(subject);
    }

    latency_and_load(&fake, &synapse, &mut small, rounds, burst).await;
    stop(&mut small);
}

/// The binary under measurement: `TGBRIDGE_BENCH_BIN`, else this build's.
fn bridge_binary() -> PathBuf {
    std::env::var_os("TGBRIDGE_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_tgbridge")))
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A Telegram account with `groups` basic groups (each with one other
/// member who talks), logged in from the bridge's database.
async fn account(
    fake: &FakeTelegram,
    name: &'static str,
    bridge: BridgeInstance,
    groups: usize,
) -> Subject {
    let (account, chats) = {
        let shared = fake.world();
        let mut world = shared.lock().expect("world lock");
        let phone = format!("1555{:07}", rand_suffix());
        let account = world.add_user(user(&format!("Owner {name}"), &phone));
        let friend = world.add_user(user(&format!("Friend {name}"), &format!("{phone}1")));
        let chats = (0..groups)
            .map(|i| {
                world
                    .create_group(friend, &format!("{name} group {i}"), &[account])
                    .expect("create group")
            })
            .collect::<Vec<_>>();
        (account, chats)
    };
    seed_login(&bridge, fake, account).await;
    Subject {
        name,
        bridge,
        account,
        groups: chats,
        owner: None,
    }
}

/// Distinguishes the phone numbers of this run's accounts.
fn rand_suffix() -> u32 {
    rand::random::<u32>() % 10_000_000
}

/// Portal rows for every group of `subject`, as an earlier sync left them.
fn seed_portals(fake: &FakeTelegram, subject: &Subject) {
    let store = Store::open(&subject.bridge.database_path).expect("open the bridge database");
    let world = fake.world();
    let world = world.lock().expect("world lock");
    for (i, chat) in subject.groups.iter().enumerate() {
        let title = world.chat(*chat).expect("the group exists").title.clone();
        let portal = Portal {
            peer: PeerId::chat(*chat).expect("a basic group id"),
            kind: PortalKind::Group,
            room_id: format!("!seeded{i}:localhost")
                .try_into()
                .expect("a room id"),
            title: Some(title),
            avatar_photo_id: None,
            avatar_mxc: None,
            encrypted: false,
            in_space: true,
        };
        store.portals().upsert(&portal).expect("seed a portal");
    }
}

/// Registers the owner, starts the bridge for the first time (management
/// room, space, portals) and waits for the start-up chat sync.
async fn first_start(synapse: &Synapse, binary: &Path, subject: &mut Subject) {
    let owner = synapse
        .register_user(&subject.bridge.owner_localpart, false)
        .await
        .expect("owner");
    subject
        .bridge
        .start_binary_with_log_filter(binary, LOG_FILTER);
    subject.bridge.wait_ready(Duration::from_secs(60)).await;
    management_room_of(&owner, &subject.bridge.bot_user_id).await;
    wait_for_log(
        &subject.bridge,
        "chat sync finished",
        1,
        Duration::from_secs(300),
    )
    .await;
    tokio::time::sleep(SETTLE).await;
    subject.owner = Some(owner);
}

fn stop(subject: &mut Subject) {
    let status = subject.bridge.terminate();
    assert!(
        status.success(),
        "{}: bridge exits 0 on SIGTERM\n{}",
        subject.name,
        subject.bridge.log_tail()
    );
}

/// `/proc/<pid>/status` fields, in kB.
#[derive(Debug, Default, Clone, Copy)]
struct Memory {
    rss: u64,
    hwm: u64,
    anon: u64,
    file: u64,
    threads: u64,
}

fn memory(bridge: &BridgeInstance) -> Memory {
    let pid = bridge.pid().expect("bridge running");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss: field("VmRSS:"),
        hwm: field("VmHWM:"),
        anon: field("RssAnon:"),
        file: field("RssFile:"),
        threads: field("Threads:"),
    }
}

fn print_rss(label: &str, bridge: &BridgeInstance) -> Memory {
    let m = memory(bridge);
    println!(
        "  {label:<26} VmRSS {:6.2} MiB   VmHWM {:6.2} MiB   (anon {:5.2}, file {:5.2} MiB, {} threads)",
        mib(m.rss),
        mib(m.hwm),
        mib(m.anon),
        mib(m.file),
        m.threads
    );
    m
}

fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// Restarts the bridge and reports spawn → `/health` 200 and the log's
/// first line → "ready" line; then waits for the chat sync of each start.
async fn restarts(binary: &Path, subject: &mut Subject) {
    let mut external = Vec::new();
    let mut logged = Vec::new();
    let mut to_sync = Vec::new();
    let http = reqwest::Client::new();
    let health = format!("{}/health", subject.bridge.url());
    for round in 0..RESTARTS {
        stop(subject);
        let log_before = subject.bridge.log().len();
        let spawned_at = SystemTime::now();
        let spawned = Instant::now();
        subject
            .bridge
            .start_binary_with_log_filter(binary, LOG_FILTER);
        loop {
            assert!(
                subject.bridge.is_running(),
                "bridge exited\n{}",
                subject.bridge.log_tail()
            );
            let answer = http.get(&health).send().await;
            if answer.is_ok_and(|r| r.status().as_u16() == 200) {
                break;
            }
            assert!(
                spawned.elapsed() < Duration::from_secs(60),
                "not ready\n{}",
                subject.bridge.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        external.push(spawned.elapsed());
        wait_for_log(
            &subject.bridge,
            "chat sync finished",
            round + 2,
            Duration::from_secs(300),
        )
        .await;
        to_sync.push(spawned.elapsed());
        let log = subject.bridge.log();
        let this_start = &log[log_before.min(log.len())..];
        if let Some(span) = log_span(this_start, spawned_at) {
            logged.push(span);
        }
    }
    tokio::time::sleep(SETTLE).await;
    external.sort();
    logged.sort();
    to_sync.sort();
    let portals = subject.groups.len();
    println!(
        "  {portals:>3} portals: spawn -> /health 200  p50 {:7.2} ms  max {:7.2} ms",
        ms(percentile(&external, 50.0)),
        ms(percentile(&external, 100.0))
    );
    if let Some(&(to_first, to_ready)) = logged.get(logged.len() / 2) {
        println!(
            "               log: spawn -> first line {:6.2} ms, first line -> \"ready\" {:6.2} ms (median start)",
            ms(to_first),
            ms(to_ready)
        );
    }
    println!(
        "               spawn -> chat sync finished  p50 {:7.2} ms",
        ms(percentile(&to_sync, 50.0))
    );
    print_rss("               idle after restarts", &subject.bridge);
}

/// From the log of one start: spawn → first line, first line → "ready".
fn log_span(log: &str, spawned_at: SystemTime) -> Option<(Duration, Duration)> {
    let first = log.lines().find_map(line_time)?;
    let ready = log
        .lines()
        .find(|line| line.contains(": ready"))
        .and_then(line_time)?;
    let spawned = spawned_at.duration_since(UNIX_EPOCH).ok()?;
    Some((first.saturating_sub(spawned), ready.saturating_sub(first)))
}

/// The timestamp at the start of a log line (`2026-01-02T03:04:05.678901Z`),
/// since the Unix epoch.
fn line_time(line: &str) -> Option<Duration> {
    let stamp = line.split_whitespace().next()?.strip_suffix('Z')?;
    let (date, time) = stamp.split_once('T')?;
    let mut ymd = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (ymd.next()??, ymd.next()??, ymd.next()??);
    let mut hms = time.split(':');
    let (h, min) = (
        hms.next()?.parse::<u64>().ok()?,
        hms.next()?.parse::<u64>().ok()?,
    );
    let seconds: f64 = hms.next()?.parse().ok()?;
    let days = days_from_civil(y, m, d);
    let whole = u64::try_from(days).ok()? * 86_400 + h * 3600 + min * 60;
    Some(Duration::from_secs(whole) + Duration::from_secs_f64(seconds))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn utc_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let days = (now / 86_400) as i64;
    let secs = now % 86_400;
    // Inverse of days_from_civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// The portal rooms of `subject`'s groups, in group order.
fn portal_rooms(subject: &Subject) -> Vec<String> {
    let store = Store::open(&subject.bridge.database_path).expect("open the bridge database");
    subject
        .groups
        .iter()
        .map(|chat| {
            let peer = PeerId::chat(*chat).expect("a basic group id");
            store
                .portals()
                .by_peer(peer)
                .expect("read portals")
                .unwrap_or_else(|| panic!("no portal for group {chat}"))
                .room_id
                .to_string()
        })
        .collect()
}

/// Telegram → Matrix latency and sustained rate, Matrix → Telegram latency,
/// database bytes per message and RSS under load, on the 5-portal bridge.
async fn latency_and_load(
    fake: &FakeTelegram,
    synapse: &Synapse,
    subject: &mut Subject,
    rounds: usize,
    burst: usize,
) {
    let owner = subject.owner.take().expect("owner registered");
    let rooms = portal_rooms(subject);
    for room in &rooms {
        owner.join(room).await.expect("the owner was invited");
    }
    let friend = {
        let world = fake.world();
        let world = world.lock().expect("world lock");
        let chat = world.chat(subject.groups[0]).expect("group");
        chat.members
            .iter()
            .map(|m| m.user)
            .find(|&u| u != subject.account)
            .expect("a friend in the group")
    };
    let quiet: Vec<String> = {
        let mut quiet = Vec::new();
        for i in 0..rooms.len() {
            quiet.push(
                owner
                    .create_room(&serde_json::json!({ "name": format!("baseline {i}") }))
                    .await
                    .expect("baseline room"),
            );
        }
        quiet
    };
    // Catch up with everything so far: later syncs see only new events.
    let _ = owner.sync_until(|_| true, Duration::from_secs(5)).await;
    let db = DbSize::new(&subject.bridge.database_path);
    let before = db.measure();

    let mut to_matrix = Vec::with_capacity(rounds);
    let mut baseline = Vec::with_capacity(rounds);
    for round in 0..WARMUP + rounds {
        let marker = format!("own {round}");
        let started = Instant::now();
        owner.send_text(&quiet[0], &marker).await.expect("send");
        wait_for_bodies(&owner, &[marker]).await;
        if round >= WARMUP {
            baseline.push(started.elapsed());
        }

        let marker = format!("tg {round}");
        let started = Instant::now();
        fake.world()
            .lock()
            .expect("world lock")
            .send_text(friend, Peer::Chat(subject.groups[0]), &marker)
            .expect("send on Telegram");
        wait_for_bodies(&owner, &[marker]).await;
        if round >= WARMUP {
            to_matrix.push(started.elapsed());
        }
    }
    to_matrix.sort();
    baseline.sort();
    println!(
        "\nTelegram -> Matrix, one chat, a text until the owner sees it through /sync ({rounds} rounds):"
    );
    println!(
        "  bridged:   p50 {:7.2} ms   p99 {:7.2} ms",
        ms(percentile(&to_matrix, 50.0)),
        ms(percentile(&to_matrix, 99.0))
    );
    println!(
        "  baseline:  p50 {:7.2} ms   p99 {:7.2} ms   (the owner's own message through /sync)",
        ms(percentile(&baseline, 50.0)),
        ms(percentile(&baseline, 99.0))
    );
    println!(
        "  ratio bridged / baseline (p50): {:.2}",
        ms(percentile(&to_matrix, 50.0)) / ms(percentile(&baseline, 50.0)).max(f64::EPSILON)
    );

    // Sustained: `burst` texts over the portals at once, until all are seen;
    // the baseline sends as many as the owner, one sender per room.
    let chats = subject.groups.clone();
    let markers: Vec<String> = (0..burst).map(|i| format!("burst {i}")).collect();
    let started = Instant::now();
    {
        let world = fake.world();
        let mut world = world.lock().expect("world lock");
        for (i, marker) in markers.iter().enumerate() {
            world
                .send_text(friend, Peer::Chat(chats[i % chats.len()]), marker)
                .expect("send on Telegram");
        }
    }
    wait_for_bodies(&owner, &markers).await;
    let bridged_rate = burst as f64 / started.elapsed().as_secs_f64();
    let under_load = memory(&subject.bridge);

    let own_markers: Vec<String> = (0..burst).map(|i| format!("own burst {i}")).collect();
    let started = Instant::now();
    let senders = quiet.iter().enumerate().map(|(r, room)| {
        let owner = &owner;
        let mine: Vec<&String> = own_markers.iter().skip(r).step_by(quiet.len()).collect();
        async move {
            for marker in mine {
                owner.send_text(room, marker).await.expect("send");
            }
        }
    });
    let (_, ()) = tokio::join!(
        futures_join_all(senders),
        wait_for_bodies(&owner, &own_markers)
    );
    let own_rate = burst as f64 / started.elapsed().as_secs_f64();
    println!(
        "\nsustained, {burst} texts over {} chats until all are seen through /sync:",
        chats.len()
    );
    println!("  bridged:   {bridged_rate:7.1} msgs/s");
    println!(
        "  baseline:  {own_rate:7.1} msgs/s   (the owner sending as many, one sender per room)"
    );
    println!(
        "  ratio bridged / baseline: {:.2}",
        bridged_rate / own_rate.max(f64::EPSILON)
    );

    let after = db.measure();
    let messages = after.messages.saturating_sub(before.messages);
    println!("\ndatabase growth over {messages} bridged messages (after a WAL checkpoint):");
    if messages > 0 {
        println!(
            "  file {:.0} bytes/message, pages in use {:.0} bytes/message ({} -> {} bytes)",
            after.file_bytes.saturating_sub(before.file_bytes) as f64 / messages as f64,
            after.used_bytes.saturating_sub(before.used_bytes) as f64 / messages as f64,
            before.file_bytes,
            after.file_bytes
        );
    }
    println!("\nmemory under that load:");
    println!(
        "  5 portals, after the burst  VmRSS {:6.2} MiB   VmHWM {:6.2} MiB",
        mib(under_load.rss),
        mib(under_load.hwm)
    );
    tokio::time::sleep(SETTLE).await;
    print_rss("5 portals, idle after", &subject.bridge);

    matrix_to_telegram(fake, &owner, subject, &rooms[0], rounds).await;
    let _ = synapse;
}

/// Runs the futures to completion, one after another's await points
/// interleaved (no extra dependency for a join-all).
async fn futures_join_all<F: std::future::Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut pending: Vec<_> = set.iter_mut().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for slot in pending.iter_mut() {
            if let Some(f) = slot {
                if f.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    done = false;
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}

/// Waits until the owner saw a message with each of `bodies`.
async fn wait_for_bodies(owner: &TestUser, bodies: &[String]) {
    let mut missing: std::collections::HashSet<&str> = bodies.iter().map(String::as_str).collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !missing.is_empty() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        assert!(
            !remaining.is_zero(),
            "{} messages never arrived, e.g. {:?}",
            missing.len(),
            missing.iter().next()
        );
        let found = owner
            .sync_until(
                |e| {
                    e["type"] == "m.room.message"
                        && e["content"]["body"]
                            .as_str()
                            .is_some_and(|b| missing.contains(b))
                },
                remaining,
            )
            .await
            .expect("sync");
        for event in found {
            if let Some(body) = event["content"]["body"].as_str() {
                missing.remove(body);
            }
        }
    }
}

/// Matrix → Telegram: the owner's text in a portal until the fake datacenter
/// holds it. Reported as not available when the bridge sends nothing.
async fn matrix_to_telegram(
    fake: &FakeTelegram,
    owner: &TestUser,
    subject: &Subject,
    room: &str,
    rounds: usize,
) {
    let chat = Peer::Chat(subject.groups[0]);
    let arrived = |text: &str| {
        fake.world()
            .lock()
            .expect("world lock")
            .history(subject.account, chat)
            .iter()
            .any(|m| m.text == text)
    };
    let wait = |text: String, limit: Duration| async move {
        let started = Instant::now();
        while started.elapsed() < limit {
            if arrived(&text) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        false
    };
    println!(
        "\nMatrix -> Telegram, one portal, the owner's text until the fake datacenter has it:"
    );
    owner.send_text(room, "probe").await.expect("send");
    if !wait("probe".into(), Duration::from_secs(5)).await {
        println!("  not available (nothing reached Telegram within 5 s: this build does not bridge Matrix messages to Telegram)");
        return;
    }
    let mut samples = Vec::with_capacity(rounds);
    for round in 0..WARMUP + rounds {
        let marker = format!("mx {round}");
        let started = Instant::now();
        owner.send_text(room, &marker).await.expect("send");
        assert!(
            wait(marker, Duration::from_secs(30)).await,
            "a Matrix message did not reach Telegram"
        );
        if round >= WARMUP {
            samples.push(started.elapsed());
        }
    }
    samples.sort();
    println!(
        "  bridged:   p50 {:7.2} ms   p99 {:7.2} ms   ({rounds} rounds, from the owner's send request)",
        ms(percentile(&samples, 50.0)),
        ms(percentile(&samples, 99.0))
    );
}

/// The database's size after a checkpoint, and its message count.
struct DbSize {
    path: PathBuf,
}

#[derive(Debug, Clone, Copy)]
struct DbFigures {
    file_bytes: u64,
    used_bytes: u64,
    messages: u64,
}

impl DbSize {
    fn new(path: &Path) -> Self {
        DbSize {
            path: path.to_path_buf(),
        }
    }

    /// Checkpoints the WAL into the main file (the bridge keeps running), so
    /// the file size holds everything committed.
    fn measure(&self) -> DbFigures {
        let conn = rusqlite::Connection::open(&self.path).expect("open the database");
        conn.busy_timeout(Duration::from_secs(10))
            .expect("busy timeout");
        let (busy, _, _): (i64, i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .expect("checkpoint");
        if busy != 0 {
            println!("  (the checkpoint was blocked by a reader; sizes include the WAL)");
        }
        let pragma = |name: &str| -> u64 {
            conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, i64>(0))
                .map(|v| u64::try_from(v).unwrap_or(0))
                .expect("pragma")
        };
        let page = pragma("page_size");
        let used = (pragma("page_count") - pragma("freelist_count")) * page;
        let messages: i64 = conn
            .query_row("SELECT count(*) FROM message", [], |r| r.get(0))
            .expect("count messages");
        let wal = std::fs::metadata(self.path.with_extension("db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
        DbFigures {
            file_bytes: std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0) + wal,
            used_bytes: used,
            messages: u64::try_from(messages).unwrap_or(0),
        }
    }
}
