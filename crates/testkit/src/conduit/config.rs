//! The sealed Conduit configuration, as a pure function of its inputs: only
//! 127.0.0.1, SQLite in the data directory, no federation, registration only
//! with the token the kit holds.

use std::path::Path;

/// What the configuration depends on.
pub(crate) struct ConfigInputs<'a> {
    pub database_dir: &'a Path,
    pub port: u16,
    pub registration_token: &'a str,
    /// Conduit's one size limit; it bounds uploads like Synapse's
    /// `max_upload_size`.
    pub max_request_size: u64,
}

/// The server name every test user and room lives under.
pub(crate) const SERVER_NAME: &str = "localhost";

/// Conduit's default `max_request_size` (20 MB).
pub(crate) const DEFAULT_MAX_REQUEST_SIZE: u64 = 20_000_000;

/// A TOML basic string.
fn quoted(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

/// Builds `conduit.toml`.
pub(crate) fn conduit_config(inputs: &ConfigInputs<'_>) -> String {
    format!(
        "[global]\n\
         server_name = {server_name}\n\
         database_backend = \"sqlite\"\n\
         database_path = {database_path}\n\
         address = \"127.0.0.1\"\n\
         port = {port}\n\
         max_request_size = {max_request_size}\n\
         allow_registration = true\n\
         registration_token = {token}\n\
         allow_federation = false\n\
         allow_check_for_updates = false\n\
         trusted_servers = []\n\
         log = \"warn\"\n",
        server_name = quoted(SERVER_NAME),
        database_path = quoted(&inputs.database_dir.to_string_lossy()),
        port = inputs.port,
        max_request_size = inputs.max_request_size,
        token = quoted(inputs.registration_token),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listens_only_on_loopback_without_federation() {
        let config = conduit_config(&ConfigInputs {
            database_dir: Path::new("/tmp/hs/db"),
            port: 4242,
            registration_token: "tok",
            max_request_size: 1000,
        });
        assert!(config.contains("address = \"127.0.0.1\"\n"));
        assert!(config.contains("port = 4242\n"));
        assert!(config.contains("allow_federation = false\n"));
        assert!(config.contains("database_path = \"/tmp/hs/db\"\n"));
        assert!(config.contains("registration_token = \"tok\"\n"));
        assert!(config.contains("max_request_size = 1000\n"));
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
