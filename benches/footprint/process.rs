//! What the bridge process costs, read from `/proc/<pid>`: resident memory
//! from `status`, CPU time from `stat`. Reads only; never signals the process.

use std::time::Duration;

/// `/proc/<pid>/status` fields, in kB.
#[derive(Debug, Default, Clone, Copy)]
pub struct Memory {
    pub rss: u64,
    pub hwm: u64,
    pub anon: u64,
    pub file: u64,
    pub threads: u64,
}

impl Memory {
    pub fn of(pid: u32) -> Memory {
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
}

pub fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// User plus system CPU time the process has used so far (`utime` +
/// `stime` of `/proc/<pid>/stat`, in clock ticks of usually 10 ms).
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    // The command name may hold spaces and parentheses: count fields from
    // the last `)`. After it come field 3 (state) onwards; utime and stime
    // are fields 14 and 15.
    let after_name = &stat[stat.rfind(')').expect("a stat line") + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| -> u64 { fields[i].parse().expect("a tick count") };
    let total = ticks(11) + ticks(12);
    Duration::from_secs_f64(total as f64 / clock_ticks_per_second() as f64)
}

/// `sysconf(_SC_CLK_TCK)` through `getconf`, as the harness has no libc
/// binding; Linux uses 100 nearly everywhere.
fn clock_ticks_per_second() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// The load average over the last minute, for the report's header.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Resident kB per mapped object (`/proc/<pid>/smaps`), largest first:
/// the file's name for file-backed mappings, `[heap]`, `[stack]` and
/// `[anonymous]` (thread stacks, arenas, the relocated read-only data) for
/// the rest. Shows what the file-backed part of the RSS is made of.
pub fn resident_by_mapping(pid: u32) -> Vec<(String, u64)> {
    let Ok(smaps) = std::fs::read_to_string(format!("/proc/{pid}/smaps")) else {
        return Vec::new();
    };
    let mut totals: Vec<(String, u64)> = Vec::new();
    let mut current = String::new();
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or_default();
        if first.contains('-') && !first.ends_with(':') {
            // A mapping's header: range, permissions, offset, device,
            // inode, then the optional path.
            let path = fields.nth(4).unwrap_or("[anonymous]");
            current = std::path::Path::new(path)
                .file_name()
                .map_or(path.to_owned(), |n| n.to_string_lossy().into_owned());
        } else if first == "Rss:" {
            let kb: u64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            match totals.iter_mut().find(|(name, _)| *name == current) {
                Some((_, total)) => *total += kb,
                None => totals.push((current.clone(), kb)),
            }
        }
    }
    totals.sort_by_key(|(_, kb)| std::cmp::Reverse(*kb));
    totals
}
