//! Wall-clock helpers for the report: the bridge log's timestamps read back
//! as times, and the run's date. Pure functions; no I/O.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// From the log of one start: spawn → first line, first line → "ready".
pub fn log_span(log: &str, spawned_at: SystemTime) -> Option<(Duration, Duration)> {
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
pub fn line_time(line: &str) -> Option<Duration> {
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

pub fn utc_now() -> String {
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
