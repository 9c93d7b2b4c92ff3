//! Benchmark: what the bridge costs a small machine, in one run against
//! each real homeserver (Synapse and Conduit, one after the other) and the
//! fake Telegram datacenter (in this process), with the bridge binary of
//! this build (optimised under `cargo bench`) as a child process. Reports,
//! never asserts; every figure is measured on each server, next to that
//! server's own baseline from the same run, and the end of the output is
//! one table with a column per server:
//!
//! - start → ready (spawn until `/health` answers 200, and the same span in
//!   the bridge's own log timestamps) with 0, 5 and 500 portals;
//! - idle RSS (`VmRSS`/`VmHWM` from `/proc`) logged in with 0, 5 and 500
//!   portals, and after a message load;
//! - the bot's reply to a command (the owner's `version` until the reply is
//!   seen through `/sync`), next to the owner's own message through `/sync`
//!   in a room without the bot, and the bridge's own share (transaction
//!   received → reply request sent) from its log;
//! - Telegram → Matrix latency p50/p99 (a Telegram user sends a text, until
//!   the owner sees it) and sustained messages/s, each next to a baseline on
//!   the same server (the owner's own messages), so the figures compare as
//!   ratios within one run; the sustained rate over 10 chats (bridged in
//!   parallel) and into one chat (one queue, strictly in order);
//! - Matrix → Telegram latency (the owner's text until the fake datacenter
//!   holds it);
//! - database bytes per bridged message (file growth between checkpoints);
//! - the cost of the owner's rooms that are not portals (see `non_portal`);
//! - the binary's size, and the release build's wall time and peak memory
//!   as `bench/build-footprint.sh` last recorded them (a build is not
//!   repeated here; the table says where each figure comes from).
//!
//! The message figures are measured on a fourth bridge whose account has 10
//! groups (the 0/5/500-portal bridges are for the idle and start figures).
//!
//! The 500-portal account is seeded: 500 basic groups in the fake world and
//! 500 portal rows whose titles match, so the start-up sync finds every chat
//! bridged already and changes nothing (their room ids are placeholders that
//! no request ever reaches).
//!
//! Run with `cargo bench --bench footprint` after `./test.sh provision`.
//! `FOOTPRINT_SERVERS` picks the servers (comma-separated, default all),
//! `FOOTPRINT_ROUNDS` sets the latency rounds (default 200),
//! `FOOTPRINT_BURST` the sustained-load message count (default 500),
//! `FOOTPRINT_OTHER_ROOM` the owner's texts in a room that is not a portal
//! (default 1000), `TGBRIDGE_BENCH_BIN` another `tgbridge` binary to
//! measure, `FOOTPRINT_QUICK=1` stops after the idle RSS figures,
//! `FOOTPRINT_ONLY_BURST=1` measures nothing but the burst into one chat
//! (for profiling it: `FOOTPRINT_STRACE=file` counts the bridge's system
//! calls during the bridged burst with `strace -c`),
//! `FOOTPRINT_BUILD_REPORT` names the build script's summary (default
//! `target/footprint/footprint/summary`) and `FOOTPRINT_SMAPS_DIR` keeps a
//! copy of `/proc/<pid>/smaps` of each idle bridge there.

#[path = "../tests/appservice_support/mod.rs"]
mod appservice_support;
#[path = "footprint/bot_reply.rs"]
mod bot_reply;
#[path = "footprint/build.rs"]
mod build;
#[path = "footprint/clock.rs"]
mod clock;
#[path = "footprint/db.rs"]
mod db;
#[path = "footprint/non_portal.rs"]
mod non_portal;
#[path = "footprint/process.rs"]
mod process;
#[path = "footprint/report.rs"]
mod report;
#[path = "footprint/server.rs"]
mod server;
#[path = "support/stats.rs"]
mod stats;
#[path = "footprint/timeline.rs"]
mod timeline;

use stats::{ms, percentile};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use appservice_support::telegram::{seed_login, user, wait_for_log};
use appservice_support::{management_room_of, BridgeInstance};
use db::DbSize;
use fake_telegram::world::{ChatId, Peer, UserId};
use fake_telegram::FakeTelegram;
use grammers_session::types::PeerId;
use process::{mib, Memory};
use report::{Figures, Latency, Starts};
use server::{Server, ServerKind};
use testkit::{free_port, TestUser};
use tgbridge::store::{Portal, PortalKind, Store};
use timeline::Timeline;

const LOG_FILTER: &str = "info";
const SMALL_PORTALS: usize = 5;
const LARGE_PORTALS: usize = 500;
/// Chats of the account whose bridge carries the message figures.
const LOAD_CHATS: usize = 10;
/// The load bridge also logs its share of each bot reply.
const LOAD_LOG_FILTER: &str = "info,tgbridge::timing=debug";
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

/// What one run measures, from the environment.
struct Settings {
    binary: PathBuf,
    rounds: usize,
    burst: usize,
    other_room: usize,
    quick: bool,
    only_burst: bool,
}

impl Settings {
    fn from_env() -> Settings {
        Settings {
            binary: bridge_binary(),
            rounds: env_usize("FOOTPRINT_ROUNDS", 200),
            burst: env_usize("FOOTPRINT_BURST", 500),
            other_room: env_usize("FOOTPRINT_OTHER_ROOM", 1000),
            quick: std::env::var_os("FOOTPRINT_QUICK").is_some(),
            only_burst: std::env::var_os("FOOTPRINT_ONLY_BURST").is_some(),
        }
    }
}

/// One bridge under measurement, with the Telegram account behind it.
struct Subject {
    name: &'static str,
    bridge: BridgeInstance,
    account: UserId,
    groups: Vec<ChatId>,
    owner: Option<TestUser>,
    management_room: Option<String>,
}

impl Subject {
    fn pid(&self) -> u32 {
        self.bridge.pid().expect("bridge running")
    }
}

async fn run() {
    let settings = Settings::from_env();
    let fake = FakeTelegram::start().await;
    println!(
        "tgbridge footprint ({}, binary {}, {} bytes, load average {})",
        clock::utc_now(),
        settings.binary.display(),
        std::fs::metadata(&settings.binary)
            .map(|m| m.len())
            .unwrap_or(0),
        process::load_average()
    );
    let build = build::Report::read();
    let mut columns = Vec::new();
    for kind in server::selected() {
        println!("\n=== {} ===", kind.name());
        columns.push(measure_server(kind, &fake, &settings).await);
        println!("(load average {})", process::load_average());
    }
    println!("\nside by side ({}):", clock::utc_now());
    report::print_table(&columns);
    report::print_build(&settings.binary, build.as_ref());
}

/// Every figure against one homeserver, with three bridges of its own.
async fn measure_server(kind: ServerKind, fake: &FakeTelegram, settings: &Settings) -> Figures {
    let mut figures = Figures {
        server: kind.name().to_owned(),
        burst: settings.burst,
        ..Figures::default()
    };
    let port = free_port().expect("free port");
    let [zero, small, large, load] =
        ["zero", "small", "large", "load"].map(|name| BridgeInstance::prepare(name, port));
    let registrations = [&zero, &small, &large, &load]
        .iter()
        .map(|b| b.registration_path.clone())
        .collect();
    let server = Server::start(kind, port, registrations).await;
    if settings.only_burst {
        let mut load = account(fake, "load", load, LOAD_CHATS).await;
        first_start(&server, &settings.binary, &mut load, LOAD_LOG_FILTER).await;
        let owner = load.owner.take().expect("owner registered");
        burst_only(fake, &owner, &load, settings, &mut figures).await;
        stop(&mut load);
        drop(server);
        return figures;
    }
    let mut zero = account(fake, "zero", zero, 0).await;
    let mut small = account(fake, "small", small, SMALL_PORTALS).await;
    let mut large = account(fake, "large", large, LARGE_PORTALS).await;
    seed_portals(fake, &large);

    for subject in [&mut zero, &mut small, &mut large] {
        first_start(&server, &settings.binary, subject, LOG_FILTER).await;
    }
    println!("\nidle, logged in (after the start-up chat sync, {SETTLE:?} idle):");
    for subject in [&zero, &small, &large] {
        let label = format!("{} portals", subject.groups.len());
        figures
            .idle
            .push((subject.groups.len(), print_rss(&label, subject.pid())));
    }
    if settings.quick {
        for subject in [&mut zero, &mut small, &mut large] {
            stop(subject);
        }
        return figures;
    }

    println!(
        "\nstart -> ready ({RESTARTS} restarts each, homeserver and management room in place):"
    );
    for subject in [&mut zero, &mut small, &mut large] {
        figures
            .starts
            .push(restarts(&settings.binary, subject).await);
    }
    for subject in [&mut zero, &mut small, &mut large] {
        stop(subject);
    }

    let mut load = account(fake, "load", load, LOAD_CHATS).await;
    first_start(&server, &settings.binary, &mut load, LOAD_LOG_FILTER).await;
    let owner = load.owner.take().expect("owner registered");
    let management_room = load.management_room.clone().expect("management room found");
    figures.bot_reply =
        Some(bot_reply::measure(&owner, &load.bridge, &management_room, settings.rounds).await);
    latency_and_load(fake, &owner, &load, settings, &mut figures).await;
    figures.non_portal = Some(
        non_portal::measure(
            &settings.binary,
            &mut load.bridge,
            &owner,
            settings.other_room,
        )
        .await,
    );
    stop(&mut load);
    drop(server);
    figures
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
        management_room: None,
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
            topic: None,
        };
        store.portals().upsert(&portal).expect("seed a portal");
    }
}

/// Registers the owner, starts the bridge for the first time (management
/// room, space, portals) and waits for the start-up chat sync.
async fn first_start(server: &Server, binary: &Path, subject: &mut Subject, log_filter: &str) {
    let owner = server.register_user(&subject.bridge.owner_localpart).await;
    subject
        .bridge
        .start_binary_with_log_filter(binary, log_filter);
    subject.bridge.wait_ready(Duration::from_secs(60)).await;
    subject.management_room = Some(management_room_of(&owner, &subject.bridge.bot_user_id).await);
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

fn print_rss(label: &str, pid: u32) -> Memory {
    let m = Memory::of(pid);
    println!(
        "  {label:<26} VmRSS {:6.2} MiB   VmHWM {:6.2} MiB   (anon {:5.2}, file {:5.2} MiB, {} threads)",
        mib(m.rss),
        mib(m.hwm),
        mib(m.anon),
        mib(m.file),
        m.threads
    );
    if let Some(dir) = std::env::var_os("FOOTPRINT_SMAPS_DIR") {
        let _ = std::fs::copy(
            format!("/proc/{pid}/smaps"),
            std::path::Path::new(&dir).join(format!("smaps-{}", label.trim().replace(' ', "_"))),
        );
    }
    let by_mapping = process::resident_by_mapping(pid);
    let largest: Vec<String> = by_mapping
        .iter()
        .take(6)
        .map(|(name, kb)| format!("{name} {:.2}", mib(*kb)))
        .collect();
    println!(
        "  {:<26} resident MiB by mapping: {}",
        "",
        largest.join(", ")
    );
    m
}

/// Restarts the bridge and reports spawn → `/health` 200 and the log's
/// first line → "ready" line; then waits for the chat sync of each start.
async fn restarts(binary: &Path, subject: &mut Subject) -> Starts {
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
        if let Some(span) = clock::log_span(this_start, spawned_at) {
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
    let median = logged.get(logged.len() / 2).copied();
    if let Some((to_first, to_ready)) = median {
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
    Starts {
        to_health_p50: percentile(&external, 50.0),
        to_health_max: percentile(&external, 100.0),
        logged_ready: median.map(|(_, to_ready)| to_ready),
        to_chat_sync_p50: percentile(&to_sync, 50.0),
        idle_after: print_rss("               idle after restarts", subject.pid()),
    }
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

fn latency(sorted: &[Duration]) -> Latency {
    Latency {
        p50: percentile(sorted, 50.0),
        p99: percentile(sorted, 99.0),
    }
}

/// Telegram → Matrix latency and sustained rate, Matrix → Telegram latency,
/// database bytes per message and RSS under load, on the 10-chat bridge.
async fn latency_and_load(
    fake: &FakeTelegram,
    owner: &TestUser,
    subject: &Subject,
    settings: &Settings,
    figures: &mut Figures,
) {
    let rounds = settings.rounds;
    let burst = settings.burst;
    let rooms = portal_rooms(subject);
    for room in &rooms {
        owner.join(room).await.expect("the owner was invited");
    }
    let friend = friend_of(fake, subject);
    let mut quiet = Vec::new();
    for i in 0..rooms.len() {
        quiet.push(
            owner
                .create_room(&serde_json::json!({ "name": format!("baseline {i}") }))
                .await
                .expect("baseline room"),
        );
    }
    // Later syncs see only new events.
    let mut timeline = Timeline::start(owner).await;
    let db = DbSize::new(&subject.bridge.database_path);
    let before = db.measure();

    let mut to_matrix = Vec::with_capacity(rounds);
    let mut baseline = Vec::with_capacity(rounds);
    for round in 0..WARMUP + rounds {
        let marker = format!("own {round}");
        let started = Instant::now();
        owner.send_text(&quiet[0], &marker).await.expect("send");
        timeline.wait_for_bodies(&[marker]).await;
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
        timeline.wait_for_bodies(&[marker]).await;
        if round >= WARMUP {
            to_matrix.push(started.elapsed());
        }
    }
    to_matrix.sort();
    baseline.sort();
    figures.to_matrix = Some(latency(&to_matrix));
    figures.own_message = Some(latency(&baseline));
    println!("\nTelegram -> Matrix, one chat, a text until the owner sees it ({rounds} rounds):");
    println!(
        "  bridged:   p50 {:7.2} ms   p99 {:7.2} ms",
        ms(percentile(&to_matrix, 50.0)),
        ms(percentile(&to_matrix, 99.0))
    );
    println!(
        "  baseline:  p50 {:7.2} ms   p99 {:7.2} ms   (the owner's own message)",
        ms(percentile(&baseline, 50.0)),
        ms(percentile(&baseline, 99.0))
    );

    // Sustained: `burst` texts over the 10 portals at once, until all are
    // seen (the bridge may bridge the chats in parallel); the baseline sends
    // as many as the owner, one sender per room, all rooms at once.
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
    timeline.wait_for_bodies(&markers).await;
    let bridged_rate = burst as f64 / started.elapsed().as_secs_f64();
    figures.after_burst = Some(Memory::of(subject.pid()));

    let own_markers: Vec<String> = (0..burst).map(|i| format!("own burst {i}")).collect();
    let started = Instant::now();
    let senders = quiet.iter().enumerate().map(|(r, room)| {
        let mine: Vec<&String> = own_markers.iter().skip(r).step_by(quiet.len()).collect();
        async move {
            for marker in mine {
                owner.send_text(room, marker).await.expect("send");
            }
        }
    });
    let (_, ()) = tokio::join!(
        futures_join_all(senders),
        timeline.wait_for_bodies(&own_markers)
    );
    let own_rate = burst as f64 / started.elapsed().as_secs_f64();
    figures.bridged_rate = Some(bridged_rate);
    figures.own_rate = Some(own_rate);
    println!(
        "\nsustained, {burst} texts over {} chats until all are seen:",
        chats.len()
    );
    println!("  bridged:   {bridged_rate:7.1} msgs/s");
    println!(
        "  baseline:  {own_rate:7.1} msgs/s   (the owner sending as many, one sender per room)"
    );

    one_chat_burst(
        fake,
        owner,
        subject,
        friend,
        &quiet[0],
        &mut timeline,
        burst,
        figures,
    )
    .await;

    let after = db.measure();
    let messages = after.messages.saturating_sub(before.messages);
    if messages > 0 {
        let (file, used) = after.growth_per(&before, messages);
        figures.db_per_message = Some((file, used, messages));
        println!(
            "\ndatabase growth over {messages} bridged messages (after a WAL checkpoint): file {file:.0} bytes/message, pages in use {used:.0} bytes/message"
        );
    }
    println!(
        "Telegram events still waiting in the inbox after the burst: {}",
        after.inbox
    );
    tokio::time::sleep(SETTLE).await;
    figures.idle_after_burst = Some(print_rss(
        &format!("{} portals, idle after the bursts", rooms.len()),
        subject.pid(),
    ));

    figures.to_telegram = matrix_to_telegram(fake, owner, subject, &rooms[0], rounds).await;
}

/// Only the burst into one chat, after a few messages that let the
/// sender's ghost join (for profiling the burst alone).
async fn burst_only(
    fake: &FakeTelegram,
    owner: &TestUser,
    subject: &Subject,
    settings: &Settings,
    figures: &mut Figures,
) {
    let rooms = portal_rooms(subject);
    for room in &rooms {
        owner.join(room).await.expect("the owner was invited");
    }
    let friend = friend_of(fake, subject);
    let quiet = owner
        .create_room(&serde_json::json!({ "name": "baseline" }))
        .await
        .expect("baseline room");
    let mut timeline = Timeline::start(owner).await;
    let warmup: Vec<String> = (0..WARMUP).map(|i| format!("warm-up {i}")).collect();
    for marker in &warmup {
        fake.world()
            .lock()
            .expect("world lock")
            .send_text(friend, Peer::Chat(subject.groups[0]), marker)
            .expect("send on Telegram");
        timeline.wait_for_bodies(std::slice::from_ref(marker)).await;
    }
    one_chat_burst(
        fake,
        owner,
        subject,
        friend,
        &quiet,
        &mut timeline,
        settings.burst,
        figures,
    )
    .await;
}

/// The burst into one chat (one queue, strictly in order), against the
/// owner's sequential sends into one room of the same server.
#[allow(clippy::too_many_arguments)]
async fn one_chat_burst(
    fake: &FakeTelegram,
    owner: &TestUser,
    subject: &Subject,
    friend: UserId,
    quiet: &str,
    timeline: &mut Timeline<'_>,
    burst: usize,
    figures: &mut Figures,
) {
    let markers: Vec<String> = (0..burst).map(|i| format!("one-chat burst {i}")).collect();
    let strace = std::env::var_os("FOOTPRINT_STRACE").map(|out| {
        let child = std::process::Command::new("strace")
            .args(["-f", "-c", "-p", &subject.pid().to_string(), "-o"])
            .arg(out)
            .spawn()
            .expect("strace");
        std::thread::sleep(Duration::from_millis(500));
        child
    });
    let cpu_before = process::cpu_time(subject.pid());
    let started = Instant::now();
    {
        let world = fake.world();
        let mut world = world.lock().expect("world lock");
        for marker in &markers {
            world
                .send_text(friend, Peer::Chat(subject.groups[0]), marker)
                .expect("send on Telegram");
        }
    }
    timeline.wait_for_bodies(&markers).await;
    let bridged = burst as f64 / started.elapsed().as_secs_f64();
    let cpu = process::cpu_time(subject.pid()).saturating_sub(cpu_before);
    if let Some(mut child) = strace {
        // strace prints its counts when interrupted.
        let _ = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let _ = child.wait();
    }
    let own_markers: Vec<String> = (0..burst).map(|i| format!("one-room own {i}")).collect();
    let started = Instant::now();
    let sends = async {
        for marker in &own_markers {
            owner.send_text(quiet, marker).await.expect("send");
        }
    };
    let ((), ()) = tokio::join!(sends, timeline.wait_for_bodies(&own_markers));
    let own = burst as f64 / started.elapsed().as_secs_f64();
    figures.one_chat_rate = Some(bridged);
    figures.one_room_own_rate = Some(own);
    println!(
        "
sustained, {burst} texts into one chat until all are seen:"
    );
    println!(
        "  bridged:   {bridged:7.1} msgs/s   (bridge CPU time {:.0} µs per message)",
        cpu.as_secs_f64() * 1e6 / burst as f64
    );
    println!("  baseline:  {own:7.1} msgs/s   (the owner's sequential sends into one room)");
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

/// Matrix → Telegram: the owner's text in a portal until the fake datacenter
/// holds it. Reported as not available when the bridge sends nothing.
async fn matrix_to_telegram(
    fake: &FakeTelegram,
    owner: &TestUser,
    subject: &Subject,
    room: &str,
    rounds: usize,
) -> Option<Latency> {
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
        return None;
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
    Some(latency(&samples))
}

/// Another member of the subject's first group: who writes on Telegram in
/// the latency rounds and the bursts.
fn friend_of(fake: &FakeTelegram, subject: &Subject) -> UserId {
    let world = fake.world();
    let world = world.lock().expect("world lock");
    let chat = world.chat(subject.groups[0]).expect("group");
    chat.members
        .iter()
        .map(|m| m.user)
        .find(|&u| u != subject.account)
        .expect("a friend in the group")
}
