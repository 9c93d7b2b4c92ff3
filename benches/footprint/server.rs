//! The homeservers one run measures against, started the same way for each:
//! a sealed server on a free loopback port with the bridges' registrations
//! in effect (Synapse loads them at start, Conduit gets them through its
//! admin room). Owns the choice of servers (`FOOTPRINT_SERVERS`);
//! everything a server needs to start is testkit's.

use std::path::PathBuf;

use testkit::{Homeserver, HomeserverKind, HomeserverOptions, TestUser};

/// Which homeserver a column of the report is about.
pub type ServerKind = HomeserverKind;

/// `FOOTPRINT_SERVERS` (comma-separated names), else every server.
pub fn selected() -> Vec<ServerKind> {
    HomeserverKind::selected_by("FOOTPRINT_SERVERS")
}

/// A running homeserver.
pub struct Server {
    homeserver: Homeserver,
}

impl Server {
    pub async fn start(kind: ServerKind, port: u16, registrations: Vec<PathBuf>) -> Server {
        let options = HomeserverOptions {
            registrations,
            port: Some(port),
            ..HomeserverOptions::default()
        };
        let homeserver = Homeserver::start(kind, options)
            .await
            .unwrap_or_else(|e| panic!("{kind} starts (run ./test.sh provision first): {e}"));
        Server { homeserver }
    }

    pub async fn register_user(&self, localpart: &str) -> TestUser {
        self.homeserver
            .register_user(localpart, false)
            .await
            .expect("register a user")
    }
}
