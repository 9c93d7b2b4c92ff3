//! The registration `tgbridge generate-registration` writes is one a real
//! Synapse loads: Synapse starts with it, recognises its `as_token`, and lets
//! the appservice register users in its namespaces and only there.
//!
//! Nothing of the bridge runs here: the appservice's own URL points at a free
//! port where nobody listens, which is exactly what the ping must report.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use serde_json::json;
use testkit::{free_port, Method, Synapse, SynapseOptions};

const BINARY: &str = env!("CARGO_BIN_EXE_tgbridge");

/// Writes a bridge config: the shipped example with what its user would fill
/// in, pointing at a homeserver on `homeserver_port` and listening for it on
/// `appservice_port`.
fn write_config(dir: &Path, homeserver_port: u16, appservice_port: u16) -> std::path::PathBuf {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.yaml");
    let mut config: serde_yaml::Value =
        serde_yaml::from_str(&fs::read_to_string(example).unwrap()).unwrap();
    config["homeserver"]["address"] = format!("http://127.0.0.1:{homeserver_port}").into();
    config["homeserver"]["domain"] = "localhost".into();
    config["appservice"]["address"] = format!("http://127.0.0.1:{appservice_port}").into();
    config["appservice"]["hostname"] = "127.0.0.1".into();
    config["appservice"]["port"] = appservice_port.into();
    config["owner"] = "@owner:localhost".into();
    config["telegram"]["api_id"] = 94575.into();
    config["telegram"]["api_hash"] = "a3406de8d171bb422bb6ddf3bbd800e2".into();
    config["database"] = dir.join("tgbridge.db").to_str().unwrap().into();
    let path = dir.join("config.yaml");
    fs::write(&path, serde_yaml::to_string(&config).unwrap()).unwrap();
    path
}

fn generate_registration(config: &Path) {
    let output = Command::new(BINARY)
        .arg("--config")
        .arg(config)
        .arg("generate-registration")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "generate-registration failed: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn synapse_loads_the_generated_registration() {
    let dir = tempfile::tempdir().unwrap();
    let homeserver_port = free_port().unwrap();
    let config = write_config(dir.path(), homeserver_port, free_port().unwrap());
    generate_registration(&config);

    // Next to the config by default, private, and the tokens it names are
    // now in the config too (the bridge must present the same ones).
    let registration_path = dir.path().join("registration.yaml");
    let mode = fs::metadata(&registration_path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let registration: serde_yaml::Value =
        serde_yaml::from_str(&fs::read_to_string(&registration_path).unwrap()).unwrap();
    let config_after: serde_yaml::Value =
        serde_yaml::from_str(&fs::read_to_string(&config).unwrap()).unwrap();
    let id = registration["id"].as_str().unwrap().to_owned();
    let as_token = registration["as_token"].as_str().unwrap().to_owned();
    let bot = registration["sender_localpart"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        config_after["appservice"]["as_token"].as_str(),
        Some(as_token.as_str())
    );
    assert_eq!(
        config_after["appservice"]["hs_token"].as_str(),
        registration["hs_token"].as_str()
    );

    let synapse = Synapse::start(SynapseOptions {
        registrations: vec![registration_path],
        port: Some(homeserver_port),
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("Synapse refused the generated registration: {e}"));
    let _log = synapse.log_on_panic();
    let appservice = synapse.client(Some(&as_token));

    // An unknown token is refused outright...
    let ping_path = format!("/_matrix/client/v1/appservice/{id}/ping");
    let stranger = synapse
        .client(Some("not-the-as-token"))
        .call(Method::POST, &ping_path, Some(&json!({})))
        .await
        .unwrap();
    assert_eq!(stranger.status, 401, "{:?}", stranger.body);
    assert_eq!(stranger.errcode(), Some("M_UNKNOWN_TOKEN"));
    // ...while the registered one is recognised: Synapse tries to reach the
    // bridge at the registration's URL and reports that nobody answered.
    let ping = appservice
        .call(Method::POST, &ping_path, Some(&json!({})))
        .await
        .unwrap();
    assert_eq!(ping.status, 502, "{:?}", ping.body);
    assert_eq!(
        ping.errcode(),
        Some("M_CONNECTION_FAILED"),
        "{:?}",
        ping.body
    );

    // The bot user can be registered by the appservice (or already exists).
    let register = |username: String| {
        let appservice = appservice.clone();
        async move {
            let body = json!({ "type": "m.login.application_service", "username": username });
            appservice
                .call(Method::POST, "/_matrix/client/v3/register", Some(&body))
                .await
                .unwrap()
        }
    };
    let bot_registration = register(bot.clone()).await;
    assert!(
        bot_registration.is_success() || bot_registration.errcode() == Some("M_USER_IN_USE"),
        "{:?}",
        bot_registration.body
    );
    let whoami = appservice
        .ok(Method::GET, "/_matrix/client/v3/account/whoami", None)
        .await
        .unwrap();
    assert_eq!(whoami["user_id"], format!("@{bot}:localhost"));

    // A ghost in the exclusive namespace is the appservice's to create;
    // a user outside it is not.
    let ghost_prefix = config_after["bridge"]["ghost_prefix"]
        .as_str()
        .unwrap_or("telegram_");
    let ghost = register(format!("{ghost_prefix}123456")).await;
    assert!(ghost.is_success(), "{:?}", ghost.body);
    assert_eq!(
        ghost.body["user_id"],
        format!("@{ghost_prefix}123456:localhost")
    );
    let outsider = register("not-a-ghost".to_owned()).await;
    assert_eq!(outsider.status, 400, "{:?}", outsider.body);
    assert_eq!(
        outsider.errcode(),
        Some("M_EXCLUSIVE"),
        "{:?}",
        outsider.body
    );
}
