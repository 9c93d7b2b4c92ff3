//! The registration written by `generate-registration` loaded into a real
//! Synapse: the homeserver accepts it, the bot and ghosts can be registered
//! with the as_token, users outside the namespaces cannot, the owner can be
//! acted as (double puppeting), and `check` passes against it.

mod cli_support;

use cli_support::{config_text, run, tgbridge, write_config};
use serde_json::json;
use testkit::{free_port, Method, Synapse, SynapseOptions};

#[tokio::test]
async fn synapse_loads_the_generated_registration() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().unwrap();
    let bridge_port = free_port().unwrap();
    let homeserver = format!("http://127.0.0.1:{port}");
    let text = config_text(&homeserver, dir.path())
        .replace("domain: example.org", "domain: localhost")
        .replace("@you:example.org", "@owner:localhost")
        .replace(
            "address: http://localhost:29317",
            &format!("address: http://127.0.0.1:{bridge_port}"),
        );
    let config_path = write_config(dir.path(), &text);
    let cwd = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || run(tgbridge(&cwd).arg("generate-registration")))
        .await
        .unwrap();
    assert_eq!(out.code, Some(0), "{out:?}");

    let registration = dir.path().join("registration.yaml");
    let synapse = Synapse::start(SynapseOptions {
        registrations: vec![registration.clone()],
        port: Some(port),
        ..SynapseOptions::default()
    })
    .await
    .unwrap_or_else(|e| panic!("Synapse refused the registration: {e}"));
    let _log = synapse.log_on_panic();

    let reg: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&registration).unwrap()).unwrap();
    let as_token = reg["as_token"].as_str().unwrap();
    let appservice = synapse.client(Some(as_token));
    let register =
        |localpart: &str| json!({ "type": "m.login.application_service", "username": localpart });

    for localpart in ["telegrambot", "telegram_123456"] {
        let response = appservice
            .call(
                Method::POST,
                "/_matrix/client/v3/register",
                Some(&register(localpart)),
            )
            .await
            .unwrap();
        assert!(response.is_success(), "{localpart}: {response:?}");
    }
    let outside = appservice
        .call(
            Method::POST,
            "/_matrix/client/v3/register",
            Some(&register("stranger")),
        )
        .await
        .unwrap();
    assert!(
        !outside.is_success(),
        "a user outside the namespaces: {outside:?}"
    );
    assert_eq!(outside.errcode(), Some("M_EXCLUSIVE"), "{outside:?}");

    // The owner is an ordinary account the bridge may act as.
    let owner = synapse.register_user("owner", false).await.unwrap();
    assert_eq!(owner.user_id, "@owner:localhost");
    let whoami = appservice
        .ok(
            Method::GET,
            "/_matrix/client/v3/account/whoami?user_id=%40owner%3Alocalhost",
            None,
        )
        .await
        .unwrap();
    assert_eq!(whoami["user_id"], "@owner:localhost");

    let cwd = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || run(tgbridge(&cwd).arg("check")))
        .await
        .unwrap();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout
            .contains(&format!("ok   homeserver {homeserver} answers")),
        "{}",
        out.stdout
    );
    assert!(config_path.exists());
}
