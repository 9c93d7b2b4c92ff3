//! The appservice registration the homeserver loads: built from the config
//! as serde types and rendered as YAML. Pure; writing the file and telling
//! the user what to do with it is the CLI's job.

use serde::{Deserialize, Serialize};

use crate::config::Config;

/// An appservice registration (Matrix appservice spec, plus the MSC2409 key
/// Synapse still reads for ephemeral events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// Appservice id, unique on the homeserver.
    pub id: String,
    /// URL the homeserver pushes transactions to.
    pub url: String,
    /// Token the bridge uses towards the homeserver.
    pub as_token: String,
    /// Token the homeserver uses towards the bridge.
    pub hs_token: String,
    /// Localpart of the bridge bot.
    pub sender_localpart: String,
    /// Users, aliases and rooms the bridge is interested in.
    pub namespaces: Namespaces,
    /// Whether the homeserver rate-limits the bridge's users.
    pub rate_limited: bool,
    /// Ask for typing notifications, receipts and presence (stable name).
    pub receive_ephemeral: bool,
    /// The same request under its MSC2409 name, for older servers.
    #[serde(rename = "de.sorunome.msc2409.push_ephemeral")]
    pub msc2409_push_ephemeral: bool,
}

/// The namespaces of a registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespaces {
    /// User ID patterns.
    pub users: Vec<Namespace>,
    /// Room alias patterns.
    pub aliases: Vec<Namespace>,
    /// Room ID patterns (unused by this bridge).
    pub rooms: Vec<Namespace>,
}

/// One namespace pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    /// Whether only this appservice may use matching IDs.
    pub exclusive: bool,
    /// Anchored regular expression over the full ID.
    pub regex: String,
}

impl Registration {
    /// The registration for `config`, whose tokens should already be set.
    pub fn from_config(config: &Config) -> Registration {
        let domain = regex_syntax::escape(&config.homeserver.domain);
        let prefix = regex_syntax::escape(&config.bridge.ghost_prefix);
        let bot = regex_syntax::escape(&config.appservice.bot.username);
        let owner = regex_syntax::escape(config.owner.as_str());
        let appservice = &config.appservice;
        Registration {
            id: appservice.id.clone(),
            url: appservice.address.clone(),
            as_token: appservice.as_token.clone(),
            hs_token: appservice.hs_token.clone(),
            sender_localpart: appservice.bot.username.clone(),
            namespaces: Namespaces {
                users: vec![
                    Namespace::exclusive(format!("^@{bot}:{domain}$")),
                    Namespace::exclusive(format!("^@{prefix}.*:{domain}$")),
                    // Non-exclusive: the owner keeps their account, and the
                    // bridge may act as them (double puppeting) on their own server.
                    Namespace {
                        exclusive: false,
                        regex: format!("^{owner}$"),
                    },
                ],
                aliases: vec![Namespace::exclusive(format!("^#{prefix}.*:{domain}$"))],
                rooms: Vec::new(),
            },
            rate_limited: false,
            receive_ephemeral: true,
            msc2409_push_ephemeral: true,
        }
    }

    /// The registration as YAML.
    pub fn to_yaml(&self) -> Result<String, serde_yaml::Error> {
        serde_yaml::to_string(self)
    }
}

impl Namespace {
    fn exclusive(regex: String) -> Namespace {
        Namespace {
            exclusive: true,
            regex,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let text = "\
homeserver: {address: 'http://localhost:8008', domain: my.example.org}
appservice: {address: 'http://localhost:29317', as_token: AS1, hs_token: HS1}
owner: '@a.b:my.example.org'
telegram: {api_id: 611335, api_hash: a1b2c3d4e5f60718293a4b5c6d7e8f90}
";
        Config::from_yaml_str(text, "config.yaml").unwrap()
    }

    #[test]
    fn registration_has_escaped_anchored_namespaces() {
        let reg = Registration::from_config(&config());
        assert_eq!(reg.id, "telegram");
        assert_eq!(reg.url, "http://localhost:29317");
        assert_eq!(reg.sender_localpart, "telegrambot");
        assert_eq!(
            (reg.as_token.as_str(), reg.hs_token.as_str()),
            ("AS1", "HS1")
        );
        let users: Vec<(bool, &str)> = reg
            .namespaces
            .users
            .iter()
            .map(|n| (n.exclusive, n.regex.as_str()))
            .collect();
        assert_eq!(
            users,
            [
                (true, r"^@telegrambot:my\.example\.org$"),
                (true, r"^@telegram_.*:my\.example\.org$"),
                (false, r"^@a\.b:my\.example\.org$"),
            ]
        );
        assert_eq!(
            reg.namespaces.aliases[0].regex,
            r"^#telegram_.*:my\.example\.org$"
        );
        assert!(reg.namespaces.aliases[0].exclusive);
        assert!(reg.namespaces.rooms.is_empty());
        assert!(!reg.rate_limited);
        assert!(reg.receive_ephemeral && reg.msc2409_push_ephemeral);
    }

    #[test]
    fn yaml_round_trips_with_spec_key_names() {
        let reg = Registration::from_config(&config());
        let yaml = reg.to_yaml().unwrap();
        assert!(
            yaml.contains("de.sorunome.msc2409.push_ephemeral: true"),
            "{yaml}"
        );
        assert!(yaml.contains("rate_limited: false"), "{yaml}");
        let back: Registration = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(back, reg);
    }
}
