//! Logging: the tracing subscriber (to stderr, where journald picks it up) and
//! the redaction helpers every module uses to keep secrets out of logs —
//! appservice tokens, auth keys, login codes, passwords and full phone
//! numbers must never be printed. This module decides nothing about what is
//! logged elsewhere.

use std::fmt;
use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// A layer installed next to the log output, with a filter of its own (so
/// the log level does not matter to it), e.g. the watcher that counts
/// Telegram updates the client could not read.
pub type ExtraLayer =
    Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>;

/// Environment variable whose filter overrides the configured level.
pub const ENV_FILTER_VAR: &str = "RUST_LOG";

/// Logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// `RUST_LOG` or the configured level is not a valid filter.
    #[error("invalid log filter {source_name} {filter:?}: {reason}")]
    Filter {
        /// `RUST_LOG` or `logging.level`.
        source_name: &'static str,
        /// The rejected filter text.
        filter: String,
        /// The parser's explanation.
        reason: String,
    },
    /// A global subscriber was already installed.
    #[error("logging was already initialised")]
    AlreadyInitialised,
}

/// Installs the global subscriber writing to stderr. `level` comes from the
/// config (`logging.level`); a non-empty `RUST_LOG` takes precedence. The
/// `extra` layers run next to it (see [`ExtraLayer`]).
pub fn init(level: &str, extra: Vec<ExtraLayer>) -> Result<(), LoggingError> {
    let rust_log = std::env::var(ENV_FILTER_VAR).ok();
    let filter = build_filter(rust_log.as_deref(), level)?;
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(filter)
        .boxed();
    let mut layers = vec![log];
    layers.extend(extra);
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(|_| LoggingError::AlreadyInitialised)
}

/// The filter in effect: `rust_log` when set and non-empty, else `level`.
pub fn build_filter(rust_log: Option<&str>, level: &str) -> Result<EnvFilter, LoggingError> {
    let (source_name, filter) = match rust_log.map(str::trim) {
        Some(env) if !env.is_empty() => (ENV_FILTER_VAR, env),
        _ => ("logging.level", level),
    };
    EnvFilter::builder()
        .parse(filter)
        .map_err(|err| LoggingError::Filter {
            source_name,
            filter: filter.to_owned(),
            reason: err.to_string(),
        })
}

/// A value that must never be printed: `Debug` and `Display` show
/// `[redacted]`. Use [`Secret::expose`] where the value is really needed.
#[derive(Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The secret itself; keep it away from format strings.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the secret.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A phone number fit for logs: the country-code end and the last three
/// digits stay, the rest becomes `*` (`+4915112345678` → `+49********678`).
/// Numbers too short to mask meaningfully are masked completely.
pub fn mask_phone(phone: &str) -> String {
    let plus = if phone.trim_start().starts_with('+') {
        "+"
    } else {
        ""
    };
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    const KEEP_FRONT: usize = 2;
    const KEEP_BACK: usize = 3;
    if digits.len() < KEEP_FRONT + KEEP_BACK + 3 {
        return format!("{plus}{}", "*".repeat(digits.len().max(1)));
    }
    let back = digits.len() - KEEP_BACK;
    let masked: String = digits
        .iter()
        .enumerate()
        .map(|(i, &d)| if i < KEEP_FRONT || i >= back { d } else { '*' })
        .collect();
    format!("{plus}{masked}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let secret = Secret::new("hunter2".to_owned());
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&secret)), "Some([redacted])");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn phones_are_masked() {
        assert_eq!(mask_phone("+4915112345678"), "+49********678");
        assert_eq!(mask_phone("+49 151 1234 5678"), "+49********678");
        assert_eq!(mask_phone("4915112345678"), "49********678");
        assert_eq!(mask_phone("+12345"), "+*****");
        assert_eq!(mask_phone(""), "*");
        assert!(!mask_phone("+4915112345678").contains("1511234"));
    }

    #[test]
    fn rust_log_overrides_config_level() {
        let filter = build_filter(Some("tgbridge=trace"), "info").unwrap();
        assert_eq!(filter.to_string(), "tgbridge=trace");
        let filter = build_filter(Some("  "), "warn").unwrap();
        assert_eq!(filter.to_string(), "warn");
        let filter = build_filter(None, "debug").unwrap();
        assert_eq!(filter.to_string(), "debug");
    }

    #[test]
    fn bad_filters_name_their_source() {
        let err = build_filter(Some("=="), "info").unwrap_err();
        assert!(err.to_string().contains("RUST_LOG"), "{err}");
        let err = build_filter(None, "loud[").unwrap_err();
        assert!(err.to_string().contains("logging.level"), "{err}");
    }
}
