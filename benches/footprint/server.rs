//! The homeservers one run measures against, started the same way for each:
//! a sealed server on a free loopback port with the bridges' registrations
//! loaded. Owns the choice of servers (`FOOTPRINT_SERVERS`); everything a
//! server needs to start is testkit's.

use std::path::PathBuf;

use testkit::{Synapse, SynapseOptions, TestUser};

/// Which homeserver a column of the report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    Synapse,
}

impl ServerKind {
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Synapse => "Synapse",
        }
    }

    /// `FOOTPRINT_SERVERS` (comma-separated names), else every server.
    pub fn selected() -> Vec<ServerKind> {
        let all = [ServerKind::Synapse];
        let Ok(wanted) = std::env::var("FOOTPRINT_SERVERS") else {
            return all.to_vec();
        };
        let chosen: Vec<ServerKind> = wanted
            .split(',')
            .map(|name| {
                all.into_iter()
                    .find(|kind| kind.name().eq_ignore_ascii_case(name.trim()))
                    .unwrap_or_else(|| panic!("FOOTPRINT_SERVERS: no server {name:?}"))
            })
            .collect();
        assert!(!chosen.is_empty(), "FOOTPRINT_SERVERS names no server");
        chosen
    }
}

/// A running homeserver.
pub struct Server {
    synapse: Synapse,
}

impl Server {
    pub async fn start(kind: ServerKind, port: u16, registrations: Vec<PathBuf>) -> Server {
        match kind {
            ServerKind::Synapse => Server {
                synapse: Synapse::start(SynapseOptions {
                    registrations,
                    port: Some(port),
                    ..SynapseOptions::default()
                })
                .await
                .expect("Synapse starts (run ./test.sh provision first)"),
            },
        }
    }

    pub async fn register_user(&self, localpart: &str) -> TestUser {
        self.synapse
            .register_user(localpart, false)
            .await
            .expect("register a user")
    }
}
