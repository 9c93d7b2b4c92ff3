//! Test support for talking to a real Matrix homeserver: Synapse or Conduit.
//!
//! The bridge's Matrix side is proven against real homeservers, never only
//! against a fake. This crate starts them sealed: server name `localhost`,
//! a listener on a free loopback port, SQLite, no federation. Synapse gets
//! no key servers, no URL previews, rate limits out of the way, a pre-written
//! signing key and the appservice registrations a test hands it (it reads
//! them only at start). Conduit gets a registration token; the kit registers
//! its first user (Conduit's admin) right after start and registers
//! appservices through the admin room, as Conduit's operators do. A
//! supervisor takes each server down with the test process even when it
//! panics or is killed, and [`spawn_tied`] starts a test's own long-running
//! processes (the bridge, a fake datacenter) so that they die with it too.
//! The crate owns nothing of the bridge: it only drives the servers, their
//! client API and the processes handed to it.
//!
//! Where the servers come from: `./test.sh` installs a pinned Synapse into a
//! cached virtualenv and exports its interpreter as
//! `TGBRIDGE_TEST_SYNAPSE_PYTHON`, and unpacks the prebuilt Conduit into the
//! same cache, exporting it as `TGBRIDGE_TEST_CONDUIT`. Without those
//! variables the kit looks for what `./test.sh` last provisioned; if there is
//! nothing, the start fails with a message saying how to provision it.
//! Nothing is skipped.
//!
//! A test scenario is written once against [`Homeserver`] and run on each
//! [`HomeserverKind`]. A server costs ~1 s to start (Synapse ~120 MB of
//! memory, Conduit ~50 MB), so a test binary shares one of each kind through
//! [`SharedHomeserver`] and isolates its tests by unique user localparts and
//! rooms:
//!
//! ```no_run
//! use testkit::{HomeserverKind, HomeserverOptions, SharedHomeserver, unique_localpart};
//!
//! static SERVERS: SharedHomeserver = SharedHomeserver::new();
//!
//! # async fn example(kind: HomeserverKind) -> Result<(), testkit::Error> {
//! let (server, ()) = SERVERS
//!     .get_or_start(kind, || async { Ok((HomeserverOptions::default(), ())) })
//!     .await?;
//! let _log = server.log_on_panic();
//! let alice = server.register_user(&unique_localpart("alice"), false).await?;
//! let room = alice.create_room(&serde_json::json!({ "name": "test" })).await?;
//! alice.send_text(&room, "hello").await?;
//! # Ok(())
//! # }
//! ```
//!
//! When a test fails, [`Homeserver::log_on_panic`] prints the tail of the
//! server's log; [`Homeserver::log_path`] names the whole file. The data
//! directory (with the log) is removed once the server stops, unless it
//! crashed or `TGBRIDGE_TEST_KEEP_SYNAPSE=1` / `TGBRIDGE_TEST_KEEP_CONDUIT=1`
//! is set.

mod children;
mod client;
mod conduit;
mod error;
mod homeserver;
mod ports;
mod process;
mod shared;
mod synapse;
mod user;

pub use children::spawn_tied;
pub use client::{ApiClient, ApiResponse};
pub use conduit::{Conduit, ConduitOptions, CONDUIT_ENV};
pub use error::Error;
pub use homeserver::{Homeserver, HomeserverKind, HomeserverOptions};
pub use ports::free_port;
pub use process::LogOnPanic;
pub use reqwest::Method;
pub use shared::{SharedHomeserver, SharedSynapse};
pub use synapse::{Synapse, SynapseOptions, PYTHON_ENV};
pub use user::{unique_localpart, TestUser};

/// Result of every fallible call in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
