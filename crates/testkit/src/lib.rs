//! Test support for talking to a real Matrix homeserver.
//!
//! The bridge's Matrix side is proven against a real Synapse, never only
//! against a fake. This crate starts one: a sealed configuration (server name
//! `localhost`, a listener on a free loopback port, SQLite, no federation, no
//! key servers, no URL previews, rate limits out of the way, a pre-written
//! signing key), the appservice registrations a test hands it (Synapse reads
//! them only at start), and a supervisor that takes Synapse down with the test
//! process even when it panics or is killed. It owns nothing of the bridge: it
//! only drives Synapse and its client API.
//!
//! Where Synapse comes from: `./test.sh` installs a pinned Synapse into a
//! cached virtualenv and exports its interpreter as
//! `TGBRIDGE_TEST_SYNAPSE_PYTHON`. Without that variable the kit looks for the
//! venv `./test.sh` last provisioned; if there is none, [`Synapse::start`]
//! fails with a message saying how to provision it. Nothing is skipped.
//!
//! One Synapse costs ~1 s to start and ~120 MB of memory, so a test binary
//! shares one through [`SharedSynapse`] and isolates its tests by unique user
//! localparts and rooms. Registrations that the shared server must load are
//! prepared once, before it starts:
//!
//! ```no_run
//! use testkit::{SharedSynapse, SynapseOptions, unique_localpart};
//!
//! static SYNAPSE: SharedSynapse = SharedSynapse::new();
//!
//! # async fn example() -> Result<(), testkit::Error> {
//! let (synapse, ()) = SYNAPSE
//!     .get_or_start(|| async { Ok((SynapseOptions::default(), ())) })
//!     .await?;
//! let _log = synapse.log_on_panic();
//! let alice = synapse.register_user(&unique_localpart("alice"), false).await?;
//! let room = alice.create_room(&serde_json::json!({ "name": "test" })).await?;
//! alice.send_text(&room, "hello").await?;
//! # Ok(())
//! # }
//! ```
//!
//! When a test fails, [`Synapse::log_on_panic`] prints the tail of Synapse's
//! log; [`Synapse::log_path`] names the whole file. The data directory (with
//! the log) is removed once Synapse stops, unless it crashed or
//! `TGBRIDGE_TEST_KEEP_SYNAPSE=1` is set.

mod client;
mod error;
mod ports;
mod shared;
mod synapse;
mod user;

pub use client::{ApiClient, ApiResponse};
pub use error::Error;
pub use ports::free_port;
pub use reqwest::Method;
pub use shared::SharedSynapse;
pub use synapse::{LogOnPanic, Synapse, SynapseOptions, PYTHON_ENV};
pub use user::{unique_localpart, TestUser};

/// Result of every fallible call in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
