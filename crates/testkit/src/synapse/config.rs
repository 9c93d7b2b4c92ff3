//! The sealed Synapse configuration, as a pure function of its inputs.
//!
//! Written as JSON (a subset of YAML, which Synapse reads). Everything here
//! serves three goals: start fast, never reach outside 127.0.0.1, and never
//! let rate limits or background work slow a test down.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

/// What the configuration depends on.
pub(crate) struct ConfigInputs<'a> {
    pub data_dir: &'a Path,
    pub port: u16,
    pub registration_shared_secret: &'a str,
    pub macaroon_secret_key: &'a str,
    pub form_secret: &'a str,
    pub registrations: &'a [PathBuf],
    pub extra: &'a Map<String, Value>,
}

/// The server name every test user and room lives under.
pub(crate) const SERVER_NAME: &str = "localhost";

/// Every rate limit a client or appservice could hit, set out of reach: tests
/// create users, rooms and messages far faster than any person.
const RATE_LIMITED: &[&str] = &[
    "rc_message",
    "rc_registration",
    "rc_registration_token_validity",
    "rc_login.address",
    "rc_login.account",
    "rc_login.failed_attempts",
    "rc_admin_redaction",
    "rc_joins.local",
    "rc_joins.remote",
    "rc_joins_per_room",
    "rc_3pid_validation",
    "rc_invites.per_room",
    "rc_invites.per_user",
    "rc_invites.per_issuer",
    "rc_third_party_invite",
    "rc_media_create",
    "rc_key_requests",
    "rc_presence.per_user",
    "rc_delayed_event_mgmt",
    "rc_room_creation",
    "rc_reports",
    "rc_user_directory",
    "rc_profile",
];

fn unlimited_rates() -> Map<String, Value> {
    let limit = json!({ "per_second": 10000, "burst_count": 100000 });
    let mut out = Map::new();
    for key in RATE_LIMITED {
        match key.split_once('.') {
            Some((section, sub)) => {
                let entry = out
                    .entry(section.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(section) = entry {
                    section.insert(sub.to_owned(), limit.clone());
                }
            }
            None => {
                out.insert((*key).to_owned(), limit.clone());
            }
        }
    }
    out
}

/// Builds `homeserver.yaml`; keys of `inputs.extra` replace the defaults.
pub(crate) fn homeserver_config(inputs: &ConfigInputs<'_>) -> Value {
    let dir = inputs.data_dir;
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let registrations: Vec<String> = inputs
        .registrations
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let mut config = json!({
        "server_name": SERVER_NAME,
        "public_baseurl": format!("http://127.0.0.1:{}/", inputs.port),
        "pid_file": path("homeserver.pid"),
        "listeners": [{
            "port": inputs.port,
            "bind_addresses": ["127.0.0.1"],
            "type": "http",
            "tls": false,
            "x_forwarded": false,
            "resources": [{ "names": ["client"], "compress": false }],
        }],
        "database": { "name": "sqlite3", "args": { "database": path("homeserver.db") } },
        "media_store_path": path("media_store"),
        "signing_key_path": path("signing.key"),
        "registration_shared_secret": inputs.registration_shared_secret,
        "macaroon_secret_key": inputs.macaroon_secret_key,
        "form_secret": inputs.form_secret,
        "report_stats": false,
        "enable_registration": false,
        "enable_metrics": false,
        "bcrypt_rounds": 4,
        "background_updates": { "sleep_enabled": false },
        "federation_domain_whitelist": [],
        "trusted_key_servers": [],
        "suppress_key_server_warning": true,
        "url_preview_enabled": false,
        "presence": { "enabled": false },
        "app_service_config_files": registrations,
    });
    if let Value::Object(map) = &mut config {
        map.extend(unlimited_rates());
        map.extend(inputs.extra.clone());
    }
    config
}

/// The content of a signing key file for `seed` (32 random bytes): Synapse's
/// own format, so it need not spend a start generating one.
pub(crate) fn signing_key_file(seed: &[u8; 32]) -> String {
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD_NO_PAD.encode(seed);
    format!("ed25519 a_test {key}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs<'a>(registrations: &'a [PathBuf], extra: &'a Map<String, Value>) -> ConfigInputs<'a> {
        ConfigInputs {
            data_dir: Path::new("/tmp/hs"),
            port: 4242,
            registration_shared_secret: "s",
            macaroon_secret_key: "m",
            form_secret: "f",
            registrations,
            extra,
        }
    }

    #[test]
    fn listens_only_on_loopback_and_loads_registrations() {
        let regs = vec![PathBuf::from("/tmp/a.yaml")];
        let config = homeserver_config(&inputs(&regs, &Map::new()));
        assert_eq!(
            config["listeners"][0]["bind_addresses"],
            json!(["127.0.0.1"])
        );
        assert_eq!(config["listeners"][0]["port"], 4242);
        assert_eq!(config["app_service_config_files"], json!(["/tmp/a.yaml"]));
        assert_eq!(
            config["database"]["args"]["database"],
            "/tmp/hs/homeserver.db"
        );
        assert_eq!(config["trusted_key_servers"], json!([]));
    }

    #[test]
    fn every_rate_limit_is_raised_including_nested_ones() {
        let config = homeserver_config(&inputs(&[], &Map::new()));
        assert_eq!(config["rc_message"]["per_second"], 10000);
        assert_eq!(config["rc_login"]["failed_attempts"]["burst_count"], 100000);
        assert_eq!(config["rc_invites"]["per_issuer"]["per_second"], 10000);
    }

    #[test]
    fn extra_keys_override_defaults() {
        let mut extra = Map::new();
        extra.insert("presence".into(), json!({ "enabled": true }));
        let config = homeserver_config(&inputs(&[], &extra));
        assert_eq!(config["presence"]["enabled"], true);
    }

    #[test]
    fn signing_key_is_unpadded_base64_of_the_seed() {
        let line = signing_key_file(&[0u8; 32]);
        assert_eq!(
            line,
            "ed25519 a_test AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
        );
    }
}
