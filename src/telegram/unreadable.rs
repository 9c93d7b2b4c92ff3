//! Telegram updates the client cannot read. grammers treats a pushed update
//! it cannot deserialize (one of a newer layer, or a damaged one) as a gap:
//! it logs a warning that names the decoding error, not the content, skips
//! the update and asks Telegram for the difference, so what the update
//! carried arrives again in a form it can read. Nothing of this reaches the
//! bridge except that warning, so this module watches for it with a tracing
//! layer and counts it; the update reader tells the owner, at most once per
//! [`NOTICE_INTERVAL`]. It decides nothing about bridging.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Layer};

/// Where grammers reports an update it could not deserialize.
const SOURCE: &str = "grammers_mtsender";
/// How the report begins (grammers-mtsender 0.11, `process_update`).
const REPORT: &str = "telegram sent updates that failed to be deserialized";

/// The shortest time between two notices: a Telegram change that makes
/// every update of some kind unreadable must not flood the owner.
pub const NOTICE_INTERVAL: Duration = Duration::from_secs(3600);

/// Unreadable updates reported since the process started.
static SEEN: AtomicU64 = AtomicU64::new(0);

/// How many unreadable updates grammers has reported so far.
pub fn seen() -> u64 {
    SEEN.load(Ordering::Relaxed)
}

/// The tracing layer that counts grammers' reports; install it with
/// [`Watcher::filter`] so it sees those warnings whatever the log level.
#[derive(Debug, Default)]
pub struct Watcher;

impl Watcher {
    /// The events the watcher needs: grammers' sender warnings.
    pub fn filter() -> Targets {
        Targets::new().with_target(SOURCE, Level::WARN)
    }
}

impl<S: Subscriber> Layer<S> for Watcher {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        if *event.metadata().level() != Level::WARN {
            return;
        }
        let mut report = IsReport(false);
        event.record(&mut report);
        if report.0 {
            SEEN.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Whether an event's message is grammers' report.
struct IsReport(bool);

impl Visit for IsReport {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" && value.starts_with(REPORT) {
            self.0 = true;
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" && format!("{value:?}").starts_with(REPORT) {
            self.0 = true;
        }
    }
}

/// What the owner has been told about so far.
#[derive(Debug, Default)]
pub struct Notices {
    told_up_to: u64,
    last: Option<Instant>,
}

impl Notices {
    /// How many unreadable updates to tell the owner about now, given that
    /// `seen` were reported in all: `None` while there is nothing new or the
    /// last notice is younger than [`NOTICE_INTERVAL`] (the count carries
    /// over to the next notice).
    pub fn due(&mut self, seen: u64, now: Instant) -> Option<u64> {
        if seen <= self.told_up_to {
            return None;
        }
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < NOTICE_INTERVAL)
        {
            return None;
        }
        let count = seen - self.told_up_to;
        self.told_up_to = seen;
        self.last = Some(now);
        Some(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt as _;

    #[test]
    fn grammers_reports_are_counted_and_nothing_else() {
        let subscriber =
            tracing_subscriber::registry().with(Watcher.with_filter(Watcher::filter()));
        let before = seen();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                target: "grammers_mtsender::sender",
                "telegram sent updates that failed to be deserialized: unexpected constructor"
            );
            tracing::warn!(target: "grammers_mtsender::sender", "something else");
            tracing::debug!(
                target: "grammers_mtsender::sender",
                "telegram sent updates that failed to be deserialized: at debug level"
            );
            tracing::warn!(
                target: "tgbridge",
                "telegram sent updates that failed to be deserialized: not from grammers"
            );
        });
        assert_eq!(seen() - before, 1);
    }

    #[test]
    fn notices_are_spaced_and_count_what_accumulated() {
        let start = Instant::now();
        let mut notices = Notices::default();
        assert_eq!(notices.due(0, start), None);
        assert_eq!(notices.due(1, start), Some(1));
        assert_eq!(notices.due(1, start), None);
        let soon = start + Duration::from_secs(60);
        assert_eq!(notices.due(3, soon), None);
        let later = start + NOTICE_INTERVAL;
        assert_eq!(notices.due(4, later), Some(3));
    }
}
