//! `generate-registration`: token generation and write-back, the
//! registration's content, file modes, idempotence.

mod cli_support;

use std::path::Path;

use cli_support::{config_text, run, run_in, tgbridge, write_config};
use serde_yaml::Value;

fn read_yaml(path: &Path) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn token_of(config: &Value, key: &str) -> String {
    config["appservice"][key]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn generates_tokens_keeps_comments_and_writes_registration() {
    let dir = tempfile::tempdir().unwrap();
    let original = config_text("http://127.0.0.1:9", dir.path());
    let config_path = write_config(dir.path(), &original);

    let out = run_in(dir.path(), &["generate-registration"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("registration.yaml"), "{}", out.stdout);
    assert!(
        out.stdout.contains("app_service_config_files"),
        "Synapse hint: {}",
        out.stdout
    );
    assert!(
        out.stdout.contains("register-appservice"),
        "Conduit hint: {}",
        out.stdout
    );

    // Tokens: 64 alphanumeric characters, distinct, written into the config.
    let config = read_yaml(&config_path);
    let as_token = token_of(&config, "as_token");
    let hs_token = token_of(&config, "hs_token");
    for token in [&as_token, &hs_token] {
        assert_eq!(token.len(), 64, "{token}");
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric()), "{token}");
    }
    assert_ne!(as_token, hs_token);

    // Everything but the two token lines is byte-for-byte what the user wrote.
    let edited = std::fs::read_to_string(&config_path).unwrap();
    let differing: Vec<(&str, &str)> = original
        .lines()
        .zip(edited.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(original.lines().count(), edited.lines().count());
    assert_eq!(
        differing,
        [
            (
                "  as_token: \"\"",
                format!("  as_token: {as_token}").as_str()
            ),
            (
                "  hs_token: \"\"",
                format!("  hs_token: {hs_token}").as_str()
            ),
        ]
    );

    // The registration next to the config.
    let reg_path = dir.path().join("registration.yaml");
    let reg = read_yaml(&reg_path);
    assert_eq!(reg["id"], "telegram");
    assert_eq!(reg["url"], "http://localhost:29317");
    assert_eq!(reg["as_token"].as_str(), Some(as_token.as_str()));
    assert_eq!(reg["hs_token"].as_str(), Some(hs_token.as_str()));
    assert_eq!(reg["sender_localpart"], "telegrambot");
    assert_eq!(reg["rate_limited"], false);
    assert_eq!(reg["receive_ephemeral"], true);
    assert_eq!(reg["de.sorunome.msc2409.push_ephemeral"], true);
    assert_eq!(
        reg["namespaces"]["rooms"].as_sequence().map(Vec::len),
        Some(0)
    );

    #[cfg(unix)]
    {
        assert_eq!(mode(&config_path), 0o600, "config holds tokens");
        assert_eq!(mode(&reg_path), 0o600, "registration holds tokens");
    }
}

/// Whether `id` falls into one of `namespaces`, and whether exclusively.
fn matches(namespaces: &Value, id: &str) -> Option<bool> {
    namespaces.as_sequence().unwrap().iter().find_map(|ns| {
        let re = regex::Regex::new(ns["regex"].as_str().unwrap()).unwrap();
        re.is_match(id).then(|| ns["exclusive"].as_bool().unwrap())
    })
}

#[test]
fn namespaces_cover_bot_ghosts_aliases_and_owner() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &config_text("http://127.0.0.1:9", dir.path()));
    let out = run_in(dir.path(), &["generate-registration"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let reg = read_yaml(&dir.path().join("registration.yaml"));
    let users = &reg["namespaces"]["users"];
    let aliases = &reg["namespaces"]["aliases"];

    assert_eq!(matches(users, "@telegrambot:example.org"), Some(true));
    assert_eq!(matches(users, "@telegram_123456:example.org"), Some(true));
    assert_eq!(
        matches(users, "@you:example.org"),
        Some(false),
        "owner is non-exclusive"
    );
    assert_eq!(matches(users, "@someone:example.org"), None);
    assert_eq!(
        matches(users, "@telegram_1:exampleXorg"),
        None,
        "the domain's dot is escaped"
    );
    assert_eq!(
        matches(users, "@telegram_1:example.org.evil"),
        None,
        "anchored at the end"
    );
    assert_eq!(matches(users, "@you:example.org2"), None);
    assert_eq!(
        matches(aliases, "#telegram_-100123:example.org"),
        Some(true)
    );
    assert_eq!(matches(aliases, "#general:example.org"), None);
}

#[test]
fn second_run_keeps_tokens_and_output_flag_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path(), &config_text("http://127.0.0.1:9", dir.path()));
    assert_eq!(run_in(dir.path(), &["generate-registration"]).code, Some(0));
    let config_after_first = std::fs::read_to_string(&config_path).unwrap();
    let reg_after_first = std::fs::read_to_string(dir.path().join("registration.yaml")).unwrap();

    let other = dir.path().join("elsewhere.yaml");
    let out = run(tgbridge(dir.path())
        .arg("generate-registration")
        .arg("--output")
        .arg(&other));
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("already in"), "{}", out.stdout);
    assert!(out.stdout.contains("elsewhere.yaml"), "{}", out.stdout);
    assert_eq!(
        std::fs::read_to_string(&config_path).unwrap(),
        config_after_first
    );
    assert_eq!(std::fs::read_to_string(&other).unwrap(), reg_after_first);
    #[cfg(unix)]
    assert_eq!(mode(&other), 0o600);
}

#[test]
fn only_the_empty_token_is_generated() {
    let dir = tempfile::tempdir().unwrap();
    let text = config_text("http://127.0.0.1:9", dir.path())
        .replace("  as_token: \"\"", "  as_token: KeptByTheUser123");
    let config_path = write_config(dir.path(), &text);
    let out = run_in(dir.path(), &["generate-registration"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let config = read_yaml(&config_path);
    assert_eq!(token_of(&config, "as_token"), "KeptByTheUser123");
    assert_eq!(token_of(&config, "hs_token").len(), 64);
}

#[test]
fn flow_style_tokens_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "homeserver: {{address: 'http://127.0.0.1:9', domain: example.org}}\n\
         appservice: {{address: 'http://localhost:29317', as_token: '', hs_token: ''}}\n\
         owner: '@you:example.org'\n\
         telegram: {{api_id: {}, api_hash: {}}}\n",
        cli_support::API_ID,
        cli_support::API_HASH
    );
    let config_path = write_config(dir.path(), &text);
    let out = run_in(dir.path(), &["generate-registration"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("appservice.as_token"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), text);
    assert!(!dir.path().join("registration.yaml").exists());
}
