//! One face for both homeservers the bridge supports, so a test scenario is
//! written once and run on Synapse and on Conduit. Owns only the choice of
//! server and the mapping of neutral options onto each server's own; how a
//! server is started and supervised stays in its module.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::{
    ApiClient, Conduit, ConduitOptions, Error, LogOnPanic, Result, Synapse, SynapseOptions,
    TestUser,
};

/// Which homeserver a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HomeserverKind {
    /// Synapse, the reference homeserver.
    Synapse,
    /// Conduit, the homeserver most of the bridge's users run.
    Conduit,
}

impl HomeserverKind {
    /// Every kind, in the order tests run them.
    pub const ALL: [HomeserverKind; 2] = [HomeserverKind::Synapse, HomeserverKind::Conduit];

    /// The kinds named in the environment variable `var` (comma-separated,
    /// any case), else every kind: how a benchmark is pointed at one server.
    /// Panics on a name that is no server, so a typo never measures nothing.
    pub fn selected_by(var: &str) -> Vec<HomeserverKind> {
        let Ok(wanted) = std::env::var(var) else {
            return Self::ALL.to_vec();
        };
        let chosen: Vec<HomeserverKind> = wanted
            .split(',')
            .map(|name| {
                Self::ALL
                    .into_iter()
                    .find(|kind| kind.name().eq_ignore_ascii_case(name.trim()))
                    .unwrap_or_else(|| panic!("{var}: no server {name:?}"))
            })
            .collect();
        assert!(!chosen.is_empty(), "{var} names no server");
        chosen
    }

    /// `"Synapse"` or `"Conduit"`.
    pub fn name(self) -> &'static str {
        match self {
            HomeserverKind::Synapse => "Synapse",
            HomeserverKind::Conduit => "Conduit",
        }
    }
}

impl fmt::Display for HomeserverKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How to start a homeserver of either kind.
#[derive(Clone, Debug, Default)]
pub struct HomeserverOptions {
    /// Appservice registration files. Synapse loads them at start; Conduit
    /// gets each through its admin room right after start.
    pub registrations: Vec<PathBuf>,
    /// Port of the client listener on 127.0.0.1; a free one when `None`.
    pub port: Option<u16>,
    /// The largest upload the server accepts (Synapse's `max_upload_size`,
    /// Conduit's `max_request_size`); the server's default when `None`.
    pub max_upload_size: Option<u64>,
}

/// A running homeserver of either kind.
pub enum Homeserver {
    /// A Synapse.
    Synapse(Synapse),
    /// A Conduit (boxed: it carries its admin user, twice Synapse's size).
    Conduit(Box<Conduit>),
}

impl Homeserver {
    /// Starts a homeserver of `kind` with every registration in `options`
    /// in effect once this returns.
    pub async fn start(kind: HomeserverKind, options: HomeserverOptions) -> Result<Homeserver> {
        match kind {
            HomeserverKind::Synapse => {
                let mut extra_config = serde_json::Map::new();
                if let Some(limit) = options.max_upload_size {
                    extra_config.insert("max_upload_size".into(), limit.into());
                }
                let synapse = Synapse::start(SynapseOptions {
                    registrations: options.registrations,
                    port: options.port,
                    extra_config,
                })
                .await?;
                Ok(Homeserver::Synapse(synapse))
            }
            HomeserverKind::Conduit => {
                let conduit = Conduit::start(ConduitOptions {
                    port: options.port,
                    max_request_size: options.max_upload_size,
                })
                .await?;
                for registration in &options.registrations {
                    conduit.register_appservice(registration).await?;
                }
                Ok(Homeserver::Conduit(Box::new(conduit)))
            }
        }
    }

    /// Which kind of server this is.
    pub fn kind(&self) -> HomeserverKind {
        match self {
            Homeserver::Synapse(_) => HomeserverKind::Synapse,
            Homeserver::Conduit(_) => HomeserverKind::Conduit,
        }
    }

    /// The Synapse, if this is one.
    pub fn as_synapse(&self) -> Option<&Synapse> {
        match self {
            Homeserver::Synapse(synapse) => Some(synapse),
            Homeserver::Conduit(_) => None,
        }
    }

    /// The Conduit, if this is one.
    pub fn as_conduit(&self) -> Option<&Conduit> {
        match self {
            Homeserver::Conduit(conduit) => Some(conduit),
            Homeserver::Synapse(_) => None,
        }
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        match self {
            Homeserver::Synapse(s) => s.base_url(),
            Homeserver::Conduit(c) => c.base_url(),
        }
    }

    /// The server name in user and room ids (`localhost`).
    pub fn server_name(&self) -> &str {
        match self {
            Homeserver::Synapse(s) => s.server_name(),
            Homeserver::Conduit(c) => c.server_name(),
        }
    }

    /// A client for this server, authenticated with `token` when given.
    pub fn client(&self, token: Option<&str>) -> ApiClient {
        match self {
            Homeserver::Synapse(s) => s.client(token),
            Homeserver::Conduit(c) => c.client(token),
        }
    }

    /// Registers a user and logs it in. Only Synapse can make a user an
    /// admin on request (Conduit's admin is its first user, which the kit
    /// registers itself).
    pub async fn register_user(&self, localpart: &str, admin: bool) -> Result<TestUser> {
        match self {
            Homeserver::Synapse(s) => s.register_user(localpart, admin).await,
            Homeserver::Conduit(_) if admin => Err(Error::Unsupported {
                server: "Conduit",
                what: "make a user other than the first an admin",
            }),
            Homeserver::Conduit(c) => c.register_user(localpart).await,
        }
    }

    /// Registers an appservice with the running server: through the admin
    /// room on Conduit; Synapse reads registrations only at start, so there
    /// it is an error (pass them in [`HomeserverOptions::registrations`]).
    pub async fn register_appservice(&self, registration: &Path) -> Result<()> {
        match self {
            Homeserver::Synapse(_) => Err(Error::RegistrationOnlyAtStart {
                registration: registration.to_owned(),
            }),
            Homeserver::Conduit(c) => c.register_appservice(registration).await,
        }
    }

    /// Stops the server, keeping its data and port (an outage).
    pub fn stop(&mut self) -> Result<()> {
        match self {
            Homeserver::Synapse(s) => s.stop(),
            Homeserver::Conduit(c) => c.stop(),
        }
    }

    /// Starts a stopped server again with the same data and port.
    pub async fn restart(&mut self) -> Result<()> {
        match self {
            Homeserver::Synapse(s) => s.restart().await,
            Homeserver::Conduit(c) => c.restart().await,
        }
    }

    /// Whether the server is running (not stopped by [`Homeserver::stop`]).
    pub fn is_running(&self) -> bool {
        match self {
            Homeserver::Synapse(s) => s.is_running(),
            Homeserver::Conduit(c) => c.is_running(),
        }
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> &Path {
        match self {
            Homeserver::Synapse(s) => s.data_dir(),
            Homeserver::Conduit(c) => c.data_dir(),
        }
    }

    /// The server's log file.
    pub fn log_path(&self) -> &Path {
        match self {
            Homeserver::Synapse(s) => s.log_path(),
            Homeserver::Conduit(c) => c.log_path(),
        }
    }

    /// The last `lines` lines of the server's log.
    pub fn log_tail(&self, lines: usize) -> String {
        match self {
            Homeserver::Synapse(s) => s.log_tail(lines),
            Homeserver::Conduit(c) => c.log_tail(lines),
        }
    }

    /// A guard that prints the end of the server's log if the test panics
    /// while it is alive.
    pub fn log_on_panic(&self) -> LogOnPanic<'_> {
        match self {
            Homeserver::Synapse(s) => s.log_on_panic(),
            Homeserver::Conduit(c) => c.log_on_panic(),
        }
    }
}
