//! Shared helpers for the CLI tests: running the real `tgbridge` binary and
//! writing configs into temporary directories.
#![allow(dead_code)] // each test binary uses a different subset

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The example config shipped with the bridge.
pub const EXAMPLE: &str = include_str!("../../config.example.yaml");
/// A well-formed api_hash that is not the example's placeholder.
pub const API_HASH: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
/// A well-formed api_id that is not the example's placeholder.
pub const API_ID: &str = "611335";

/// What a finished `tgbridge` run produced.
#[derive(Debug)]
pub struct Run {
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error (logs and error messages).
    pub stderr: String,
}

impl Run {
    /// Both streams, for asserting on everything the user saw.
    pub fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// A `tgbridge` command with a clean environment: no config or log
/// variables leak in from the developer's shell.
pub fn tgbridge(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tgbridge"));
    command
        .current_dir(dir)
        .env_remove("TGBRIDGE_CONFIG")
        .env_remove("RUST_LOG");
    command
}

/// Runs `command` to completion.
pub fn run(command: &mut Command) -> Run {
    let output = command.output().expect("the tgbridge binary starts");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// Runs `tgbridge <args>` in `dir` to completion.
pub fn run_in(dir: &Path, args: &[&str]) -> Run {
    run(tgbridge(dir).args(args))
}

/// A new temporary directory with `text` as its `config.yaml`.
pub fn dir_with_config(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    write_config(dir.path(), text);
    dir
}

/// The example config with usable Telegram credentials, the homeserver at
/// `homeserver` and the database inside `dir`.
pub fn config_text(homeserver: &str, dir: &Path) -> String {
    EXAMPLE
        .replace("api_id: 12345", &format!("api_id: {API_ID}"))
        .replace(
            "api_hash: 0123456789abcdef0123456789abcdef",
            &format!("api_hash: {API_HASH}"),
        )
        .replace(
            "address: http://localhost:8008",
            &format!("address: {homeserver}"),
        )
        .replace(
            "database: /var/lib/tgbridge/tgbridge.db",
            &format!("database: {}", dir.join("tgbridge.db").display()),
        )
}

/// Writes `text` as `dir/config.yaml` and returns its path.
pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("config.yaml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// 1-based line of the first line of `text` containing `needle`.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in text"))
        + 1
}

/// Serves `router` on 127.0.0.1 from a background thread for the rest of
/// the test process; returns its address.
pub fn serve(router: axum::Router) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let addr = listener.local_addr().expect("local addr");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("test runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            axum::serve(listener, router)
                .await
                .expect("test server runs");
        });
    });
    addr
}

/// A homeserver stand-in answering only `/_matrix/client/versions`.
pub fn fake_homeserver() -> String {
    let router = axum::Router::new().route(
        "/_matrix/client/versions",
        axum::routing::get(|| async {
            axum::Json(serde_json::json!({
                "versions": ["v1.1", "v1.11", "v1.12"],
                "unstable_features": {}
            }))
        }),
    );
    format!("http://{}", serve(router))
}
