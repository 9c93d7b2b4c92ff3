//! The figures of one homeserver's run, and the table that sets the
//! servers side by side at the end. Formatting only; measures nothing.

use std::path::Path;
use std::time::Duration;

use crate::build;

use crate::process::{mib, Memory};
use crate::stats::ms;

/// p50 and p99 of one latency.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    pub p50: Duration,
    pub p99: Duration,
}

/// Start → ready of one bridge, over its restarts.
#[derive(Debug, Clone, Copy)]
pub struct Starts {
    pub to_health_p50: Duration,
    pub to_health_max: Duration,
    /// The log's first line → "ready" of the median start.
    pub logged_ready: Option<Duration>,
    pub to_chat_sync_p50: Duration,
    pub idle_after: Memory,
}

/// The bot's reply to a command, next to the owner's own message.
#[derive(Debug, Clone, Copy)]
pub struct BotReply {
    pub end_to_end: Latency,
    pub baseline: Latency,
    /// Transaction received → reply request sent, from the bridge's log.
    pub own_share: Option<Latency>,
    /// The reply's `PUT /send`, request sent → response, from the log:
    /// the homeserver's time for the reply.
    pub reply_send: Option<Latency>,
}

/// The owner's traffic in a room without any bridge user.
#[derive(Debug, Clone, Copy)]
pub struct NonPortal {
    pub events: u64,
    /// Transactions the bridge acknowledged for them.
    pub transactions: u64,
    /// Rows the transaction log grew by.
    pub logged_transactions: u64,
    pub cpu: Duration,
    /// First send → last send answered.
    pub sends: Duration,
    /// First send → the bridge received the last event.
    pub delivered: Duration,
    pub db_file_bytes: i64,
    pub db_used_bytes: i64,
}

/// Everything measured against one homeserver.
#[derive(Debug, Default)]
pub struct Figures {
    pub server: String,
    pub idle: Vec<(usize, Memory)>,
    pub starts: Vec<Starts>,
    pub bot_reply: Option<BotReply>,
    pub to_matrix: Option<Latency>,
    pub own_message: Option<Latency>,
    pub bridged_rate: Option<f64>,
    pub own_rate: Option<f64>,
    /// The same burst into one chat, and the owner's sequential sends
    /// into one room.
    pub one_chat_rate: Option<f64>,
    pub one_room_own_rate: Option<f64>,
    pub burst: usize,
    /// (file, pages in use) bytes per bridged message, and the messages.
    pub db_per_message: Option<(f64, f64, u64)>,
    pub after_burst: Option<Memory>,
    pub idle_after_burst: Option<Memory>,
    pub to_telegram: Option<Latency>,
    pub non_portal: Option<NonPortal>,
}

/// Prints the side-by-side table in Markdown, one column per server.
pub fn print_table(columns: &[Figures]) {
    println!(
        "\n| figure | {} |",
        join(columns.iter().map(|f| f.server.clone()))
    );
    println!("| --- |{}", " --- |".repeat(columns.len()));
    for (label, cell) in rows() {
        let cells: Vec<String> = columns.iter().map(cell).collect();
        if cells.iter().all(|c| c == "—") {
            continue;
        }
        println!("| {label} | {} |", join(cells.into_iter()));
    }
}

fn join(cells: impl Iterator<Item = String>) -> String {
    cells.collect::<Vec<_>>().join(" | ")
}

type Cell = fn(&Figures) -> String;

fn rows() -> Vec<(&'static str, Cell)> {
    vec![
        ("idle RSS, 0 portals (anonymous)", |f| idle(f, 0)),
        ("idle RSS, 5 portals (anonymous)", |f| idle(f, 1)),
        ("idle RSS, 500 portals (anonymous)", |f| idle(f, 2)),
        ("spawn → `/health` 200, p50 (max), 0 portals", |f| {
            start(f, 0)
        }),
        ("spawn → `/health` 200, p50 (max), 5 portals", |f| {
            start(f, 1)
        }),
        ("spawn → `/health` 200, p50 (max), 500 portals", |f| {
            start(f, 2)
        }),
        (
            "log: first line → \"ready\", 0 / 5 / 500 portals",
            logged_ready,
        ),
        (
            "spawn → chat sync finished, p50, 0 / 5 / 500 portals",
            to_chat_sync,
        ),
        (
            "idle RSS after 5 restarts, 0 / 5 / 500 portals",
            after_restarts,
        ),
        ("bot reply to `version`, through `/sync`, p50 / p99", |f| {
            latency(f.bot_reply.map(|b| b.end_to_end))
        }),
        (
            "baseline: the owner's own message through `/sync`, p50 / p99",
            |f| latency(f.bot_reply.map(|b| b.baseline)),
        ),
        (
            "bot reply: the bridge's own share (transaction → reply sent), p50 / p99",
            |f| latency_fine(f.bot_reply.and_then(|b| b.own_share)),
        ),
        (
            "bot reply: the reply's `PUT /send` (request → response), p50 / p99",
            |f| latency_fine(f.bot_reply.and_then(|b| b.reply_send)),
        ),
        ("Telegram → Matrix, p50 / p99", |f| latency(f.to_matrix)),
        ("baseline: the owner's own message, p50 / p99", |f| {
            latency(f.own_message)
        }),
        ("ratio bridged / own (p50)", latency_ratio),
        ("burst: texts over 10 chats, all seen", |f| {
            rate(f.bridged_rate, f.burst)
        }),
        (
            "baseline: the owner sending as many into 10 rooms, one sender per room",
            |f| rate(f.own_rate, f.burst),
        ),
        ("ratio bridged / own, 10 chats", rate_ratio),
        ("burst: texts into one chat, all seen", |f| {
            rate(f.one_chat_rate, f.burst)
        }),
        (
            "baseline: the owner's sequential sends into one room",
            |f| rate(f.one_room_own_rate, f.burst),
        ),
        ("ratio bridged / own, one chat", |f| {
            ratio(f.one_chat_rate, f.one_room_own_rate)
        }),
        ("Matrix → Telegram, p50 / p99", |f| latency(f.to_telegram)),
        (
            "database growth per bridged message (file / pages in use)",
            db_per_message,
        ),
        (
            "RSS right after the 10-chat burst, 10 portals (anonymous)",
            |f| memory(f.after_burst),
        ),
        ("idle RSS after the bursts, 10 portals (anonymous)", |f| {
            memory(f.idle_after_burst)
        }),
        (
            "non-portal room: events the owner sent / transactions",
            non_portal_counts,
        ),
        (
            "non-portal room: bridge CPU time (per event)",
            non_portal_cpu,
        ),
        (
            "non-portal room: sends done / all delivered to the bridge",
            non_portal_wall,
        ),
        (
            "non-portal room: database growth, file / pages in use (transaction-log rows)",
            non_portal_db,
        ),
    ]
}

const NONE: &str = "—";

fn memory(m: Option<Memory>) -> String {
    m.map_or(NONE.into(), |m| {
        format!("{:.2} MiB ({:.2})", mib(m.rss), mib(m.anon))
    })
}

fn idle(f: &Figures, i: usize) -> String {
    memory(f.idle.get(i).map(|(_, m)| *m))
}

fn start(f: &Figures, i: usize) -> String {
    f.starts.get(i).map_or(NONE.into(), |s| {
        format!("{:.1} ms ({:.1})", ms(s.to_health_p50), ms(s.to_health_max))
    })
}

fn each_start(f: &Figures, cell: fn(&Starts) -> String) -> String {
    if f.starts.is_empty() {
        return NONE.into();
    }
    f.starts.iter().map(cell).collect::<Vec<_>>().join(" / ")
}

fn logged_ready(f: &Figures) -> String {
    each_start(f, |s| {
        s.logged_ready
            .map_or(NONE.into(), |d| format!("{:.1}", ms(d)))
    }) + " ms"
}

fn to_chat_sync(f: &Figures) -> String {
    each_start(f, |s| format!("{:.0}", ms(s.to_chat_sync_p50))) + " ms"
}

fn after_restarts(f: &Figures) -> String {
    each_start(f, |s| format!("{:.2}", mib(s.idle_after.rss))) + " MiB"
}

fn latency(l: Option<Latency>) -> String {
    l.map_or(NONE.into(), |l| {
        format!("{:.1} / {:.1} ms", ms(l.p50), ms(l.p99))
    })
}

fn latency_fine(l: Option<Latency>) -> String {
    l.map_or(NONE.into(), |l| {
        format!("{:.3} / {:.3} ms", ms(l.p50), ms(l.p99))
    })
}

fn latency_ratio(f: &Figures) -> String {
    match (f.to_matrix, f.own_message) {
        (Some(b), Some(o)) => format!("{:.2}", ms(b.p50) / ms(o.p50).max(f64::EPSILON)),
        _ => NONE.into(),
    }
}

fn rate(r: Option<f64>, burst: usize) -> String {
    r.map_or(NONE.into(), |r| format!("{r:.1} msgs/s ({burst})"))
}

fn rate_ratio(f: &Figures) -> String {
    ratio(f.bridged_rate, f.own_rate)
}

fn ratio(bridged: Option<f64>, own: Option<f64>) -> String {
    match (bridged, own) {
        (Some(b), Some(o)) => format!("{:.2}", b / o.max(f64::EPSILON)),
        _ => NONE.into(),
    }
}

fn db_per_message(f: &Figures) -> String {
    f.db_per_message.map_or(NONE.into(), |(file, used, n)| {
        format!("{file:.0} / {used:.0} bytes ({n} messages)")
    })
}

fn non_portal_counts(f: &Figures) -> String {
    f.non_portal.map_or(NONE.into(), |n| {
        format!("{} / {}", n.events, n.transactions)
    })
}

fn non_portal_cpu(f: &Figures) -> String {
    f.non_portal.map_or(NONE.into(), |n| {
        format!(
            "{:.0} ms ({:.0} µs)",
            ms(n.cpu),
            ms(n.cpu) * 1000.0 / n.events.max(1) as f64
        )
    })
}

fn non_portal_wall(f: &Figures) -> String {
    f.non_portal.map_or(NONE.into(), |n| {
        format!(
            "{:.2} s / {:.2} s",
            n.sends.as_secs_f64(),
            n.delivered.as_secs_f64()
        )
    })
}

fn non_portal_db(f: &Figures) -> String {
    f.non_portal.map_or(NONE.into(), |n| {
        format!(
            "{} / {} bytes ({} rows)",
            n.db_file_bytes, n.db_used_bytes, n.logged_transactions
        )
    })
}

/// The figures that do not depend on the homeserver: the binary measured,
/// and the release build as `bench/build-footprint.sh` recorded it.
pub fn print_build(binary: &Path, build: Option<&build::Report>) {
    let bytes = std::fs::metadata(binary).map_or(0, |m| m.len());
    let stripped = std::fs::read(binary)
        .map(|image| !image.windows(8).any(|w| w == b".symtab\0"))
        .unwrap_or(false);
    println!("\n| figure | value | source |");
    println!("| --- | --- | --- |");
    println!(
        "| binary under test | {bytes} bytes ({:.2} MiB){} | {} |",
        bytes as f64 / 1_048_576.0,
        if stripped {
            ", stripped"
        } else {
            ", with its symbol table"
        },
        binary.display()
    );
    let Some(build) = build else {
        println!("| release build: wall time, peak memory | — | no record: run `bench/build-footprint.sh` |");
        return;
    };
    let source = format!("`bench/build-footprint.sh`, {}", build.path.display());
    let field = |key: &str| build.get(key).unwrap_or(NONE).to_owned();
    let mib = |key: &str| {
        build
            .get(key)
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(NONE.to_owned(), |kb| format!("{:.0} MiB", kb / 1024.0))
    };
    println!(
        "| release build recorded | {} ({}, {}) | {source} |",
        field("date"),
        field("cores"),
        field("rustc")
    );
    println!(
        "| release build, clean, -j2: wall time | {} s | {source} |",
        field("wall_seconds")
    );
    println!(
        "| release build: peak RSS of one process | {} ({}) | {source} |",
        mib("largest_process_kb"),
        field("largest_crate")
    );
    println!("| release build: peak RSS of the whole build (sum, sampled every 200 ms) | {} | {source} |", mib("tree_peak_kb"));
    println!(
        "| stripped binary of that build | {} bytes | {source} |",
        field("stripped_bytes")
    );
}
