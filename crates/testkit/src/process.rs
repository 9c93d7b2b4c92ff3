//! What the supervised homeservers share: the lifeline pipe to a supervisor
//! process, waiting for the client API to answer, and the log's tail. Owns no
//! server configuration; each server module decides how it is started.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin};
use std::time::{Duration, Instant};

/// How long a start may take before it is declared failed. Generous: on a
/// busy 2-core machine that is also compiling, a ~1 s start can stretch.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(120);

/// Lines of log shown when a start or a test fails.
pub(crate) const LOG_TAIL_LINES: usize = 60;

/// A supervisor process and the write end of its stdin. The supervisor stops
/// the server when that pipe closes, which the kernel does however the test
/// process ends (normal exit, panic, abort, SIGKILL).
pub(crate) struct Supervised {
    pub child: Child,
    /// Closing this pipe is the signal to stop the server.
    lifeline: Option<ChildStdin>,
}

impl Supervised {
    /// Takes over a just spawned supervisor whose stdin is piped.
    pub fn new(mut child: Child) -> Self {
        let lifeline = child.stdin.take();
        Self { child, lifeline }
    }

    /// Stops the server; with `keep_data` its directory (and log) survive.
    pub fn stop(&mut self, keep_data: bool) {
        if let Some(mut lifeline) = self.lifeline.take() {
            if keep_data {
                // Best effort: the supervisor keeps the data on a crash anyway.
                let _ = lifeline.write_all(b"keep");
            }
        }
    }
}

/// Polls `/_matrix/client/versions` until it answers 200; fails as soon as
/// the supervisor exits, or after [`START_TIMEOUT`].
pub(crate) async fn wait_until_ready(
    base_url: &str,
    child: &mut Child,
) -> std::result::Result<(), String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| format!("building an HTTP client: {e}"))?;
    let url = format!("{base_url}/_matrix/client/versions");
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Err(format!("it exited while starting ({status})")),
            Ok(None) => {}
            Err(e) => return Err(format!("cannot check the process: {e}")),
        }
        if let Ok(response) = http.get(&url).send().await {
            if response.status().is_success() {
                return Ok(());
            }
        }
        if started.elapsed() > START_TIMEOUT {
            return Err(format!("{url} did not answer within {START_TIMEOUT:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The cache `./test.sh` provisions into (mirrors its `CACHE_DIR`), or
/// `None` when there is no HOME to find it in.
pub(crate) fn provision_cache() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("TGBRIDGE_TEST_CACHE") {
        return Some(PathBuf::from(dir));
    }
    let base = match std::env::var_os("XDG_CACHE_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache"),
    };
    Some(base.join("tgbridge-test"))
}

/// 32 random alphanumerics: passwords, tokens, secrets.
pub(crate) fn random_secret() -> String {
    use rand::distr::{Alphanumeric, SampleString as _};
    Alphanumeric.sample_string(&mut rand::rng(), 32)
}

/// The last `lines` lines of a file, or a note saying why there are none.
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    match fs::read_to_string(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// Prints the end of a homeserver's log when dropped during a panic.
pub struct LogOnPanic<'a> {
    pub(crate) server: &'static str,
    pub(crate) log_path: &'a Path,
}

impl Drop for LogOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- last {LOG_TAIL_LINES} lines of {}'s log ({}) ---\n{}",
                self.server,
                self.log_path.display(),
                tail(self.log_path, LOG_TAIL_LINES)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_only_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(&path, "a\nb\nc\nd\n").unwrap();
        assert_eq!(tail(&path, 2), "c\nd");
        assert_eq!(tail(&path, 10), "a\nb\nc\nd");
        assert!(tail(&dir.path().join("missing"), 2).starts_with("(cannot read"));
    }
}
