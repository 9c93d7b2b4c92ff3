//! Containment of failures to the one item that caused them. Each Telegram
//! update, Matrix event and outbox entry is handled inside [`contain`]: a
//! panic while bridging it (in the bridge, the MTProto client, html5ever, ruma, ...)
//! unwinds to here instead of ending its worker or the process, and the
//! caller records the item in the store's quarantine and tells the owner.
//! The release profile unwinds on panic for this (see Cargo.toml).
//!
//! This module owns the catching and the panic's description, and a test
//! hook that makes a chosen message panic in debug builds. It knows nothing
//! about what an item is or how it is recorded.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt as _;

/// The longest panic message kept in the quarantine and in notices.
const MAX_REASON_CHARS: usize = 300;

/// A handler panicked; the item it was handling is to be given up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("internal error: {reason}")]
pub struct Panicked {
    /// The panic's message, shortened.
    pub reason: String,
}

/// Runs `work` to completion, turning a panic inside it into [`Panicked`].
///
/// Unwind safety is asserted: everything shared that a handler can leave
/// behind mid-change is either behind a lock that tolerates poisoning (the
/// store's connection, whose open transaction rolls back when dropped while
/// unwinding) or an async lock that is released when its guard drops.
pub async fn contain<F: Future>(work: F) -> Result<F::Output, Panicked> {
    AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .map_err(|payload| Panicked {
            reason: panic_reason(payload.as_ref()),
        })
}

/// Like [`contain`] for synchronous work.
pub fn contain_sync<T>(work: impl FnOnce() -> T) -> Result<T, Panicked> {
    std::panic::catch_unwind(AssertUnwindSafe(work)).map_err(|payload| Panicked {
        reason: panic_reason(payload.as_ref()),
    })
}

/// The message of a panic payload (`panic!` with a literal or a format).
fn panic_reason(payload: &(dyn Any + Send)) -> String {
    let text = if let Some(text) = payload.downcast_ref::<&str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.as_str()
    } else {
        "a panic without a message"
    };
    shorten(text)
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_REASON_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The environment variable that makes chosen messages panic while they
/// are bridged, read only by debug builds: comma-separated `site:marker`
/// pairs, e.g. `telegram:POISON-1,outbox:POISON-2`. A message whose text
/// contains `marker` panics when it reaches `site` ([`PanicSite`]). Naming
/// the site lets a test poison an owner's message in the outbox without the
/// core, which sees the same text first, panicking on it.
pub const TEST_PANIC_VAR: &str = "TGBRIDGE_TEST_PANIC_ON";

/// Where the debug-only test hook can make a message panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanicSite {
    /// A Telegram message being bridged to Matrix.
    Telegram,
    /// A Matrix event handled by the core.
    Matrix,
    /// An outbox entry being delivered to Telegram.
    Outbox,
}

impl PanicSite {
    #[cfg_attr(not(debug_assertions), allow(dead_code))]
    fn name(self) -> &'static str {
        match self {
            PanicSite::Telegram => "telegram",
            PanicSite::Matrix => "matrix",
            PanicSite::Outbox => "outbox",
        }
    }
}

/// The markers of [`TEST_PANIC_VAR`]'s value that apply to `site`.
#[cfg_attr(not(debug_assertions), allow(dead_code))]
fn markers_for(spec: &str, site: PanicSite) -> impl Iterator<Item = &str> {
    spec.split(',').filter_map(move |pair| {
        let (name, marker) = pair.split_once(':')?;
        (name.trim() == site.name() && !marker.is_empty()).then_some(marker)
    })
}

/// Panics when `text` contains a marker [`TEST_PANIC_VAR`] sets for `site`,
/// so tests can prove with the real binary that one poisoned message is
/// contained. Without the variable nothing panics, whatever the text;
/// release builds compile this to nothing.
#[cfg(debug_assertions)]
pub fn test_panic_point(site: PanicSite, text: &str) {
    static SPEC: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let spec = SPEC.get_or_init(|| std::env::var(TEST_PANIC_VAR).ok());
    if let Some(spec) = spec {
        // The message names the site, not the marker: the reason reaches
        // the owner's notice, which must not carry the marker on.
        if markers_for(spec, site).any(|marker| text.contains(marker)) {
            panic!("test panic at the {} site", site.name());
        }
    }
}

/// Release builds have no test hook.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn test_panic_point(_site: PanicSite, _text: &str) {}

/// The environment variable that makes the process die, read only by debug
/// builds: a Telegram message whose text contains its value kills the
/// bridge (abort, as a kill -9 would) right after the homeserver took the
/// message and before the bridge recorded it, so a test can prove that the
/// next start does not send it twice.
pub const TEST_CRASH_VAR: &str = "TGBRIDGE_TEST_CRASH_AFTER_SEND";

/// Aborts the process when `text` contains [`TEST_CRASH_VAR`]'s value.
#[cfg(debug_assertions)]
pub fn test_crash_point(text: &str) {
    static MARKER: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let marker = MARKER.get_or_init(|| std::env::var(TEST_CRASH_VAR).ok());
    if marker
        .as_deref()
        .is_some_and(|marker| !marker.is_empty() && text.contains(marker))
    {
        std::process::abort();
    }
}

/// Release builds have no test hook.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn test_crash_point(_text: &str) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_an_error_with_its_message() {
        let result = contain(async {
            if true {
                panic!("bad item {}", 7);
            }
        })
        .await;
        assert_eq!(
            result,
            Err(Panicked {
                reason: "bad item 7".into()
            })
        );
        assert_eq!(contain(async { 5 }).await, Ok(5));
        assert_eq!(
            contain_sync(|| -> u8 { panic!("literal") }),
            Err(Panicked {
                reason: "literal".into()
            })
        );
    }

    #[test]
    fn long_reasons_are_shortened() {
        let long = "x".repeat(MAX_REASON_CHARS + 50);
        let short = shorten(&long);
        assert_eq!(short.chars().count(), MAX_REASON_CHARS + 1);
        assert!(short.ends_with('…'));
        assert_eq!(shorten("short"), "short");
    }

    #[test]
    fn test_panic_markers_apply_to_their_site_only() {
        let spec = "telegram:TG-POISON, outbox:OUT-POISON,broken,matrix:";
        let markers = |site| markers_for(spec, site).collect::<Vec<_>>();
        assert_eq!(markers(PanicSite::Telegram), vec!["TG-POISON"]);
        assert_eq!(markers(PanicSite::Outbox), vec!["OUT-POISON"]);
        assert!(markers(PanicSite::Matrix).is_empty());
    }

    #[tokio::test]
    async fn an_async_lock_held_while_panicking_is_released() {
        let lock = std::sync::Arc::new(tokio::sync::Mutex::new(0));
        let held = std::sync::Arc::clone(&lock);
        let result = contain(async move {
            let _guard = held.lock().await;
            panic!("while holding the lock");
        })
        .await;
        assert!(result.is_err());
        *lock.lock().await += 1;
        assert_eq!(*lock.lock().await, 1);
    }
}
