//! What the soak prints: the figures of one server, every problem with the
//! bridge log lines that mention it, and the final table with a column per
//! server. Formatting only.

use std::collections::BTreeMap;
use std::path::Path;

use super::check::{Flaw, Tally, Verdict};
use super::ledger::{Dir, Fault, Kind, Ledger};

/// At most this many problems are printed with their log lines.
const DETAILED: usize = 60;
/// Faults this many seconds around a problem's actions are shown with it.
const FAULT_WINDOW: f64 = 60.0;
/// Warning and error lines of the bridge log shown.
const WARNINGS_SHOWN: usize = 60;
/// Log lines shown per hint.
const LINES_PER_HINT: usize = 4;

/// One server's figures.
#[derive(Debug, Default, Clone)]
pub struct Figures {
    pub server: String,
    pub minutes: f64,
    pub quiesce_secs: f64,
    pub events: BTreeMap<(Dir, Kind), u64>,
    pub faults: BTreeMap<Fault, u64>,
    /// Injected flood waits the bridge actually ran into.
    pub floods_served: usize,
    pub tally: BTreeMap<(Dir, Kind), Tally>,
    pub uncertain: usize,
    pub unexpected_exits: u64,
    pub slow_starts: u64,
    pub bot_notices: usize,
    pub alive: bool,
    /// Peak RSS in kB over the whole run, and in its first and last third.
    pub peak_rss: u64,
    pub peak_first_third: u64,
    pub peak_last_third: u64,
    pub rss_samples: usize,
}

impl Figures {
    pub fn new(
        server: &str,
        minutes: f64,
        quiesce_secs: f64,
        ledger: &Ledger,
        verdict: &Verdict,
        samples: &[(f64, u64)],
        alive: bool,
    ) -> Figures {
        let end = samples.last().map_or(0.0, |(t, _)| *t);
        let peak_in = |from: f64, to: f64| {
            samples
                .iter()
                .filter(|(t, _)| *t >= from && *t <= to)
                .map(|(_, kb)| *kb)
                .max()
                .unwrap_or(0)
        };
        Figures {
            server: server.to_owned(),
            minutes,
            quiesce_secs,
            events: ledger.events.clone(),
            faults: ledger.faults.clone(),
            floods_served: 0,
            tally: verdict.tally.clone(),
            uncertain: ledger.uncertain.len(),
            unexpected_exits: ledger.unexpected_exits,
            slow_starts: ledger.slow_starts,
            bot_notices: verdict.bot_notices.len(),
            alive,
            peak_rss: peak_in(0.0, f64::MAX),
            peak_first_third: peak_in(0.0, end / 3.0),
            peak_last_third: peak_in(end * 2.0 / 3.0, f64::MAX),
            rss_samples: samples.len(),
        }
    }

    /// Whether anything was lost, duplicated or out of order, or the bridge
    /// died on its own.
    pub fn failed(&self) -> bool {
        self.tally
            .values()
            .any(|t| t.lost + t.duplicated + t.out_of_order > 0)
            || self.unexpected_exits > 0
            || !self.alive
    }

    fn sum(&self, flaw: Flaw) -> u64 {
        self.tally
            .values()
            .map(|t| match flaw {
                Flaw::Lost => t.lost,
                Flaw::Duplicated => t.duplicated,
                Flaw::OutOfOrder => t.out_of_order,
            })
            .sum()
    }

    /// `a / b / c / d` over the four kinds of `dir`.
    fn by_kind(&self, dir: Dir, value: impl Fn(&Figures, Dir, Kind) -> u64) -> String {
        Kind::ALL
            .iter()
            .map(|kind| value(self, dir, *kind).to_string())
            .collect::<Vec<_>>()
            .join(" / ")
    }

    fn event_count(&self, dir: Dir, kind: Kind) -> u64 {
        self.events.get(&(dir, kind)).copied().unwrap_or(0)
    }

    fn flaw_count(&self, dir: Dir, kind: Kind, flaw: Flaw) -> u64 {
        let t = self.tally.get(&(dir, kind)).copied().unwrap_or_default();
        match flaw {
            Flaw::Lost => t.lost,
            Flaw::Duplicated => t.duplicated,
            Flaw::OutOfOrder => t.out_of_order,
        }
    }

    /// Rows of the report: label and value.
    fn rows(&self) -> Vec<(String, String)> {
        let kinds = "message / edit / deletion / reaction";
        let mut rows = vec![
            ("traffic minutes".to_owned(), format!("{:.1}", self.minutes)),
            (
                "catch-up after traffic".to_owned(),
                format!("{:.0} s", self.quiesce_secs),
            ),
        ];
        for dir in [Dir::TgToMx, Dir::MxToTg] {
            rows.push((
                format!("events {} ({kinds})", dir.name()),
                self.by_kind(dir, Figures::event_count),
            ));
        }
        for fault in Fault::ALL {
            rows.push((
                format!("faults: {}", fault.name()),
                self.faults.get(&fault).copied().unwrap_or(0).to_string(),
            ));
        }
        rows.push((
            "flood waits the bridge ran into".to_owned(),
            self.floods_served.to_string(),
        ));
        for (flaw, name) in [
            (Flaw::Lost, "lost"),
            (Flaw::Duplicated, "duplicated"),
            (Flaw::OutOfOrder, "out of order"),
        ] {
            for dir in [Dir::TgToMx, Dir::MxToTg] {
                rows.push((
                    format!("{name} {}", dir.name()),
                    self.by_kind(dir, |f, d, k| f.flaw_count(d, k, flaw)),
                ));
            }
        }
        rows.push((
            "lost / duplicated / out of order, total".to_owned(),
            format!(
                "{} / {} / {}",
                self.sum(Flaw::Lost),
                self.sum(Flaw::Duplicated),
                self.sum(Flaw::OutOfOrder)
            ),
        ));
        rows.push((
            "peak RSS (whole run)".to_owned(),
            format!("{:.2} MiB", mib(self.peak_rss)),
        ));
        rows.push((
            "peak RSS first / last third".to_owned(),
            format!(
                "{:.2} / {:.2} MiB",
                mib(self.peak_first_third),
                mib(self.peak_last_third)
            ),
        ));
        rows.push((
            "bridge exits not caused by the soak".to_owned(),
            self.unexpected_exits.to_string(),
        ));
        rows.push((
            "starts not ready within 90 s".to_owned(),
            self.slow_starts.to_string(),
        ));
        rows.push((
            "failure notices from the bot".to_owned(),
            self.bot_notices.to_string(),
        ));
        rows.push((
            "owner requests never answered".to_owned(),
            self.uncertain.to_string(),
        ));
        rows.push((
            "bridge running at the end".to_owned(),
            if self.alive { "yes" } else { "NO" }.to_owned(),
        ));
        rows
    }
}

fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// One server's figures, as soon as its soak is over.
pub fn print_server(figures: &Figures, verdict: &Verdict) {
    println!(
        "\n{} ({} RSS samples):",
        figures.server, figures.rss_samples
    );
    for (label, value) in figures.rows() {
        println!("  {label:<52} {value}");
    }
    for notice in &verdict.bot_notices {
        println!("  bot notice: {notice}");
    }
}

/// Every problem, with the bridge log lines that mention it.
pub fn print_problems(verdict: &Verdict, ledger: &Ledger, log: &str, kept_log: &Path) {
    println!("\n{} problems:", verdict.problems.len());
    for (n, problem) in verdict.problems.iter().enumerate() {
        let flaw = match problem.flaw {
            Flaw::Lost => "LOST",
            Flaw::Duplicated => "DUPLICATED",
            Flaw::OutOfOrder => "OUT OF ORDER",
        };
        println!(
            "- {flaw} {} {}: {}",
            problem.dir.name(),
            problem.kind.name(),
            problem.what
        );
        if n >= DETAILED {
            continue;
        }
        // What happened to the message, and the faults around it.
        if let Some(item) = problem
            .hints
            .first()
            .and_then(|tag| ledger.by_tag(tag))
            .map(|i| &ledger.items[i])
        {
            let history: Vec<String> = item
                .log
                .iter()
                .map(|(t, what)| format!("{t:.1} s {what}"))
                .collect();
            println!("    its history: {}", history.join(", "));
            let from = item.log.first().map_or(0.0, |(t, _)| *t) - FAULT_WINDOW;
            let to = item.log.last().map_or(0.0, |(t, _)| *t) + FAULT_WINDOW;
            for (t, what) in ledger
                .fault_log
                .iter()
                .filter(|(t, _)| *t >= from && *t <= to)
            {
                println!("    fault at {t:.1} s: {what}");
            }
        }
        for hint in &problem.hints {
            // A tag alone would also match `T1#17` in `T1#170`: match it
            // followed by a space, as the texts have it.
            let needle = if hint.contains('#') {
                format!("{hint} ")
            } else {
                hint.clone()
            };
            let lines: Vec<&str> = log.lines().filter(|l| l.contains(&needle)).collect();
            println!(
                "    grep -n '{needle}' {}  # {} lines",
                kept_log.display(),
                lines.len()
            );
            for line in lines.iter().take(LINES_PER_HINT) {
                let line: String = line.chars().take(240).collect();
                println!("      {line}");
            }
        }
    }
    // The bridge logs no message texts, so the warnings and errors it
    // logged are the first place to look.
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .collect();
    println!(
        "\nwarnings and errors in the bridge log ({} lines; grep -nE ' (WARN|ERROR) ' {}):",
        warnings.len(),
        kept_log.display()
    );
    for line in warnings.iter().take(WARNINGS_SHOWN) {
        let line: String = line.chars().take(300).collect();
        println!("  {line}");
    }
    if verdict.problems.len() > DETAILED {
        println!("  (log lines shown for the first {DETAILED} problems only)");
    }
}

/// The final table: one column per server.
pub fn print_table(columns: &[Figures]) {
    if columns.is_empty() {
        return;
    }
    let rows: Vec<Vec<(String, String)>> = columns.iter().map(Figures::rows).collect();
    print!("| figure |");
    for column in columns {
        print!(" {} |", column.server);
    }
    println!();
    print!("| --- |");
    for _ in columns {
        print!(" --- |");
    }
    println!();
    for (i, (label, _)) in rows[0].iter().enumerate() {
        print!("| {label} |");
        for column in &rows {
            print!(" {} |", column[i].1);
        }
        println!();
    }
}
