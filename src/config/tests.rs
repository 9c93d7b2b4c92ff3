//! Unit tests for loading and validating the config.

use super::*;

const EXAMPLE: &str = include_str!("../../config.example.yaml");
const API_HASH: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";

/// The example config with real-looking Telegram credentials.
fn example() -> String {
    EXAMPLE.replace("api_id: 12345", "api_id: 611335").replace(
        &format!("api_hash: {PLACEHOLDER_API_HASH}"),
        &format!("api_hash: {API_HASH}"),
    )
}

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::from_yaml_str(text, "config.yaml")
}

fn error(text: &str) -> ConfigError {
    load(text).expect_err("config should be rejected")
}

/// The credentialed example with `from` replaced by `to`.
fn example_with(from: &str, to: &str) -> String {
    let text = example().replace(from, to);
    assert_ne!(text, example(), "{from} not in example");
    text
}

/// Why the example with `from` replaced by `to` is refused.
fn rejected(from: &str, to: &str) -> ConfigError {
    error(&example_with(from, to))
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle in text")
        + 1
}

#[test]
fn example_with_credentials_loads_with_documented_values() {
    let config = load(&example()).unwrap();
    assert_eq!(config.homeserver.address, "http://localhost:8008");
    assert_eq!(config.homeserver.domain, "example.org");
    assert_eq!(config.appservice.port, DEFAULT_PORT);
    assert_eq!(config.appservice.id, "telegram");
    assert_eq!(config.appservice.bot.username, "telegrambot");
    assert_eq!(config.appservice.bot.avatar, None);
    assert!(!config.has_tokens());
    assert_eq!(config.owner.as_str(), "@you:example.org");
    assert_eq!(config.telegram.api_id, 611335);
    assert_eq!(config.database, PathBuf::from(DEFAULT_DATABASE));
    assert_eq!(config.bridge.ghost_prefix, "telegram_");
    assert_eq!(config.bridge.max_new_portals_per_sync, 15);
    assert!(config.bridge.federate_rooms);
    assert!(config.bridge.matrix_login);
    assert!(!config.web_login.enabled);
    assert_eq!(config.logging.level, "info");
}

#[test]
fn minimal_config_gets_defaults() {
    let text = format!(
        "homeserver: {{address: 'http://hs:8008/', domain: example.org}}\n\
         appservice: {{address: 'http://bridge:29317', as_token: '', hs_token: ''}}\n\
         owner: '@me:example.org'\n\
         telegram: {{api_id: 611335, api_hash: {API_HASH}}}\n"
    );
    let config = load(&text).unwrap();
    assert_eq!(
        config.homeserver.address, "http://hs:8008",
        "trailing slash dropped"
    );
    assert_eq!(config.appservice.hostname, "127.0.0.1");
    assert_eq!(config.appservice.port, 29317);
    assert_eq!(config.telegram.device_model, "tgbridge");
    assert_eq!(config.telegram.app_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(config.telegram.lang_code, "en");
    assert_eq!(
        config.bridge.displayname_template,
        "{displayname} (Telegram)"
    );
    assert_eq!(config.bridge.filter.mode, FilterMode::Deny);
    assert_eq!(config.logging.level, "info");
}

#[test]
fn missing_key_is_named_with_its_path() {
    let text = example_with(&format!("  api_hash: {API_HASH}\n"), "");
    let err = error(&text);
    assert!(
        matches!(&err.kind, ConfigErrorKind::Missing { key } if key == "telegram.api_hash"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "config.yaml: telegram.api_hash is missing");

    let text = example_with("owner: \"@you:example.org\"\n", "");
    assert_eq!(error(&text).to_string(), "config.yaml: owner is missing");
}

#[test]
fn bad_port_names_key_and_line() {
    let text = example_with("  port: 29317", "  port: abc");
    let err = error(&text);
    let line = line_of(&text, "port: abc");
    assert_eq!(
        err.to_string(),
        format!("config.yaml:{line}: appservice.port: invalid value \"abc\", expected a port number (1-65535)")
    );
    assert!(rejected("  port: 29317", "  port: 70000")
        .to_string()
        .contains("appservice.port: invalid value 70000"));
}

#[test]
fn wrong_type_names_key_and_line() {
    let text = example_with("  federate_rooms: true", "  federate_rooms: sometimes");
    let err = error(&text);
    assert_eq!(err.key(), Some("bridge.federate_rooms"));
    assert_eq!(err.line, Some(line_of(&text, "federate_rooms: sometimes")));
    assert!(err.to_string().contains("expected a boolean"), "{err}");
}

#[test]
fn unknown_keys_are_reported() {
    let text = example_with("  sync_archived: false", "  sync_archive: false");
    let err = error(&text);
    let ConfigErrorKind::Unknown { key, expected } = &err.kind else {
        panic!("expected an unknown-key error, got {err:?}");
    };
    assert_eq!(key, "bridge.sync_archive");
    assert!(
        expected.contains(&"sync_archived".to_owned()),
        "{expected:?}"
    );
    assert_eq!(err.line, Some(line_of(&text, "sync_archive: false")));
    assert!(
        err.to_string().contains("bridge.sync_archive: unknown key"),
        "{err}"
    );

    let text = format!("{}\nextra_section: 1\n", example());
    assert_eq!(error(&text).key(), Some("extra_section"));
}

#[test]
fn placeholder_credentials_point_to_my_telegram_org() {
    let err = error(EXAMPLE);
    assert_eq!(err.key(), Some("telegram.api_id"));
    assert_eq!(err.line, Some(line_of(EXAMPLE, "api_id: 12345")));
    assert!(
        err.to_string().contains("https://my.telegram.org/apps"),
        "{err}"
    );

    let text = EXAMPLE.replace("api_id: 12345", "api_id: 611335");
    let err = error(&text);
    assert_eq!(err.key(), Some("telegram.api_hash"));
    assert!(
        err.to_string().contains("https://my.telegram.org/apps"),
        "{err}"
    );

    let text = example_with(API_HASH, "not-a-hash");
    let err = error(&text);
    assert_eq!(err.key(), Some("telegram.api_hash"));
    assert!(
        !err.to_string().contains("not-a-hash"),
        "the api_hash is a secret: {err}"
    );
}

#[test]
fn secrets_of_the_wrong_type_are_not_quoted_in_errors() {
    let digits = "12345678901234567890123456789012";
    let text = example_with(API_HASH, digits);
    let err = error(&text);
    assert_eq!(err.key(), Some("telegram.api_hash"));
    assert!(!err.to_string().contains(digits), "{err}");
    let quoted = example().replace(API_HASH, &format!("\"{digits}\""));
    assert_eq!(
        load(&quoted).unwrap().telegram.api_hash,
        digits,
        "quoted digits are fine"
    );

    let text = example_with("as_token: \"\"", "as_token: 9876543210");
    let err = error(&text);
    assert_eq!(err.key(), Some("appservice.as_token"));
    assert!(!err.to_string().contains("9876543210"), "{err}");
    let text = example_with("as_token: \"\"", "as_token:");
    assert_eq!(
        load(&text).unwrap().appservice.as_token,
        "",
        "a blank token is empty"
    );
}

#[test]
fn owner_must_be_on_this_homeserver() {
    let text = example_with("\"@you:example.org\"", "\"@you:elsewhere.net\"");
    let err = error(&text);
    assert_eq!(err.key(), Some("owner"));
    assert_eq!(err.line, Some(line_of(&text, "owner:")));
    assert!(err.to_string().contains("homeserver.domain"), "{err}");

    assert!(rejected("\"@you:example.org\"", "you")
        .to_string()
        .contains("expected a Matrix user ID"));
}

#[test]
fn namespaces_must_not_overlap() {
    let cases = [
        (
            "username: telegrambot",
            "username: telegram_bot",
            "appservice.bot.username",
        ),
        (
            "\"@you:example.org\"",
            "\"@telegram_42:example.org\"",
            "owner",
        ),
        (
            "ghost_prefix: telegram_",
            "ghost_prefix: Tg",
            "bridge.ghost_prefix",
        ),
    ];
    for (from, to, key) in cases {
        assert_eq!(rejected(from, to).key(), Some(key), "{to}");
    }
}

#[test]
fn other_values_are_checked() {
    let cases = [
        (
            "address: http://localhost:8008",
            "address: localhost:8008",
            "homeserver.address",
        ),
        (
            "domain: example.org",
            "domain: \"exa mple\"",
            "homeserver.domain",
        ),
        (
            "avatar: \"\"",
            "avatar: https://x/y.png",
            "appservice.bot.avatar",
        ),
        ("level: info", "level: \"loud[\"", "logging.level"),
        ("mode: deny", "mode: maybe", "bridge.filter.mode"),
        (
            "template: \"{displayname}",
            "template: \"{name}",
            "bridge.displayname_template",
        ),
        ("as_token: \"\"", "as_token: \"a b\"", "appservice.as_token"),
    ];
    for (from, to, key) in cases {
        let text = example().replacen(from, to, 1);
        assert_ne!(text, example(), "{from} not in example");
        let err = load(&text).err().unwrap_or_else(|| panic!("{to} accepted"));
        assert_eq!(err.key(), Some(key), "{to}: {err}");
        assert!(err.line.is_some(), "{to}: {err}");
    }
}

#[test]
fn overlong_ids_are_refused_at_load() {
    let long = format!("{}.org", "a".repeat(240));
    assert_eq!(
        rejected("example.org", &long).key(),
        Some("homeserver.domain")
    );
}

#[test]
fn bot_avatar_is_an_mxc_uri() {
    let text = example_with("avatar: \"\"", "avatar: mxc://example.org/AbCdEf");
    let config = load(&text).unwrap();
    assert_eq!(
        config.appservice.bot.avatar.as_deref(),
        Some("mxc://example.org/AbCdEf")
    );
}

#[test]
fn web_login_needs_a_public_url() {
    let text = example_with("  enabled: false", "  enabled: true");
    assert_eq!(error(&text).key(), Some("web_login.public_base_url"));
    let text = text.replace("  # public_base_url:", "  public_base_url:");
    let config = load(&text).unwrap();
    assert_eq!(
        config.web_login.public_base_url.as_deref(),
        Some("https://matrix.example.org/tgbridge")
    );
}

#[test]
fn tokens_must_differ() {
    let text = example()
        .replace("as_token: \"\"", "as_token: same")
        .replace("hs_token: \"\"", "hs_token: same");
    assert_eq!(error(&text).key(), Some("appservice.hs_token"));
}

#[test]
fn yaml_syntax_and_shape_errors() {
    let text = example_with("address: http://localhost:8008", "address: \"http://x");
    let err = error(&text);
    assert!(matches!(err.kind, ConfigErrorKind::Syntax(_)), "{err:?}");
    assert!(err.to_string().contains("YAML syntax error"), "{err}");
    let err = error("\thomeserver: x\n");
    assert!(matches!(err.kind, ConfigErrorKind::Syntax(_)), "{err:?}");
    assert!(err.line.is_some(), "{err}");
    assert_eq!(error("").to_string(), "config.yaml: homeserver is missing");
    let err = error("- a\n- b\n");
    assert!(err.to_string().contains("mapping of config keys"), "{err}");
}

#[test]
fn user_ids_and_paths() {
    let config = Config::from_yaml_str(
        &example().replace("/var/lib/tgbridge/tgbridge.db", "data/tg.db"),
        "/etc/tgbridge/config.yaml",
    )
    .unwrap();
    assert_eq!(config.bot_user_id().as_str(), "@telegrambot:example.org");
    assert_eq!(
        config.ghost_user_id(123456).as_str(),
        "@telegram_123456:example.org"
    );
    assert_eq!(
        config.ghost_telegram_id(&config.ghost_user_id(42)),
        Some(42)
    );
    assert_eq!(config.ghost_telegram_id(&config.bot_user_id()), None);
    let foreign = UserId::parse("@telegram_42:other.org").unwrap();
    assert_eq!(config.ghost_telegram_id(&foreign), None);
    let padded = UserId::parse("@telegram_042:example.org").unwrap();
    assert_eq!(config.ghost_telegram_id(&padded), None);
    assert_eq!(
        config.registration_path(),
        PathBuf::from("/etc/tgbridge/registration.yaml")
    );
    assert_eq!(config.database, PathBuf::from("/etc/tgbridge/data/tg.db"));
    assert_eq!(config.path(), Path::new("/etc/tgbridge/config.yaml"));

    let config = load(&example()).unwrap();
    assert_eq!(
        config.registration_path(),
        PathBuf::from("registration.yaml")
    );
}

#[test]
fn debug_output_hides_secrets() {
    let text = example()
        .replace("as_token: \"\"", "as_token: ASTOKENSECRET")
        .replace("hs_token: \"\"", "hs_token: HSTOKENSECRET");
    let shown = format!("{:?}", load(&text).unwrap());
    assert!(!shown.contains("ASTOKENSECRET"));
    assert!(!shown.contains("HSTOKENSECRET"));
    assert!(!shown.contains(API_HASH));
    assert!(shown.contains("611335"), "non-secret values are shown");
}

#[test]
fn filter_modes() {
    let mut filter = FilterConfig {
        mode: FilterMode::Deny,
        chats: vec![-100],
    };
    assert!(!filter.allows(-100));
    assert!(filter.allows(5));
    filter.mode = FilterMode::Allow;
    assert!(filter.allows(-100));
    assert!(!filter.allows(5));
}

#[test]
fn ghost_displaynames() {
    let ada = GhostName {
        first_name: "Ada",
        last_name: "Lovelace",
        username: "ada",
        id: 7,
    };
    let cases = [
        (None, ada.clone(), "Ada Lovelace (Telegram)"),
        (
            None,
            GhostName {
                first_name: "",
                last_name: "",
                ..ada.clone()
            },
            "ada (Telegram)",
        ),
        (
            None,
            GhostName {
                id: 7,
                ..GhostName::default()
            },
            "7 (Telegram)",
        ),
        (
            Some("{first_name} @{username} #{id}"),
            GhostName {
                last_name: "L",
                ..ada
            },
            "Ada @ada #7",
        ),
    ];
    for (template, name, expected) in cases {
        let mut bridge = BridgeConfig::default();
        if let Some(template) = template {
            bridge.displayname_template = template.into();
        }
        assert_eq!(bridge.ghost_displayname(&name), expected);
    }
}

#[test]
fn alias_templates_need_the_username_and_the_reserved_prefix() {
    let with = |template: &str| {
        example().replace(
            "  # alias_template: \"telegram_{username}\"",
            &format!("  alias_template: \"{template}\""),
        )
    };
    let config = load(&with("telegram_{username}")).unwrap();
    assert_eq!(
        config.bridge.alias_template.as_deref(),
        Some("telegram_{username}")
    );
    assert_eq!(load(&example()).unwrap().bridge.alias_template, None);
    assert_eq!(
        error(&with("telegram_chat")).key(),
        Some("bridge.alias_template")
    );
    assert_eq!(
        error(&with("tg_{username}")).key(),
        Some("bridge.alias_template")
    );
}
