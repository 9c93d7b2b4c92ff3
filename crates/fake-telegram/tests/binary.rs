//! The `fake-telegram` binary, black-box: runs the world file from the README
//! and drives its HTTP control API, with a real grammers client connected
//! through an auth key obtained over HTTP.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fake_telegram::seed::{session_data, FakeSession};
use grammers_client::tl;
use serde_json::{json, Value};

use common::{connect, rpc_error};

/// Kills the binary when the test ends, pass or fail.
struct Running {
    child: Child,
    mtproto: SocketAddr,
    control: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first YAML block of the README: the documented world file.
fn readme_world() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("```yaml\n")
        .expect("README has a yaml world file")
        + "```yaml\n".len();
    let len = readme[start..].find("```").unwrap();
    readme[start..start + len].to_string()
}

fn start_binary(world: &str) -> Running {
    let path: PathBuf =
        std::env::temp_dir().join(format!("fake-telegram-world-{}.yaml", std::process::id()));
    std::fs::write(&path, world).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-telegram"))
        .arg("--world")
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let announced: Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad first line {line:?}: {e}"));
    Running {
        child,
        mtproto: announced["mtproto"].as_str().unwrap().parse().unwrap(),
        control: announced["control"].as_str().unwrap().to_owned(),
    }
}

fn key_from_hex(hex_key: &str) -> [u8; 256] {
    hex::decode(hex_key).unwrap().try_into().unwrap()
}

#[tokio::test]
async fn binary_serves_the_readme_world_and_its_control_api() {
    let fake = start_binary(&readme_world());
    assert!(fake.mtproto.ip().is_loopback());
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", fake.control);

    let health: Value = http
        .get(url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["mtproto"], fake.mtproto.to_string());

    // A fresh key over HTTP; the login code the world file gave Alice.
    let fresh: Value = http
        .post(url("/auth-keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fresh["user_id"], Value::Null);
    let client = connect(FakeSession::new(session_data(
        fake.mtproto,
        key_from_hex(fresh["auth_key"].as_str().unwrap()),
    )));
    assert!(!client.client.is_authorized().await.unwrap());
    let token = client
        .client
        .request_login_code("+15550001", "hash")
        .await
        .ok()
        .unwrap();
    let sent: Value = http
        .get(url("/login-codes/15550001"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sent["code"], "12345");
    let alice = client.client.sign_in(&token, "12345").await.unwrap();
    assert_eq!(alice.first_name(), Some("Alice"));
    assert!(client.client.is_authorized().await.unwrap());
    let status = http
        .get(url("/login-codes/15559999"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);

    // Fault injection.
    let status = http
        .post(url("/faults/fail-next"))
        .json(&json!({"method": "help.getConfig", "code": 420, "name": "FLOOD_WAIT_3600"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    let err = client
        .client
        .invoke(&tl::functions::help::GetConfig {})
        .await
        .unwrap_err();
    assert_eq!(rpc_error(&err), Some((420, "FLOOD_WAIT_3600".into())));

    // Request log and waits.
    let status = http
        .post(url("/calls/wait"))
        .json(&json!({"method": "auth.sendCode", "count": 1, "timeout_ms": 5000}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    let status = http
        .post(url("/calls/wait"))
        .json(&json!({"method": "auth.sendCode", "count": 2, "timeout_ms": 50}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 408);
    let calls: Vec<Value> = http
        .get(url("/calls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(calls
        .iter()
        .any(|c| c["method"] == "help.getConfig" && c["error"] == "420 FLOOD_WAIT_3600"));

    // No QR token was exported, so there is nothing to scan.
    let status = http
        .post(url("/qr/scan"))
        .json(&json!({"user_id": 1}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 409);

    // A key logged into Bob, found by phone: the key tgbridge would be seeded with.
    let bob: Value = http
        .post(url("/auth-keys"))
        .json(&json!({"phone": "+15550002"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(bob["user_id"].is_i64());
    assert_eq!(bob["mtproto"], fake.mtproto.to_string());
    let bob_client = connect(FakeSession::new(session_data(
        fake.mtproto,
        key_from_hex(bob["auth_key"].as_str().unwrap()),
    )));
    let me = bob_client.client.get_me().await.unwrap();
    assert_eq!(me.id().bare_id(), bob["user_id"].as_i64());
    // "Terminate all sessions" from another device.
    let revoked: Value = http
        .post(url("/sessions/revoke"))
        .json(&json!({"user_id": bob["user_id"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(revoked["revoked"], 1);
    let err = bob_client.client.get_me().await.unwrap_err();
    assert_eq!(rpc_error(&err), Some((401, "SESSION_REVOKED".into())));

    let status = http
        .post(url("/auth-keys"))
        .json(&json!({"phone": "+15559999"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);

    // The world file's account by key, its chats, and the world's routes.
    let me: Value = http
        .post(url("/auth-keys"))
        .json(&json!({"key": "me"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let me_client = connect(FakeSession::new(session_data(
        fake.mtproto,
        key_from_hex(me["auth_key"].as_str().unwrap()),
    )));
    let mut dialogs = me_client.client.iter_dialogs();
    let mut titles = Vec::new();
    while let Some(dialog) = dialogs.next().await.unwrap() {
        titles.push(dialog.peer().name().unwrap_or_default().to_owned());
    }
    titles.sort();
    assert_eq!(titles, ["Carol", "Friends", "News"]);
    let peers: Value = http
        .get(url("/world/peers"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(peers.get("friends").is_some(), "{peers}");
    let status = http
        .post(url("/world/messages"))
        .json(&json!({"from": "carol", "to": "me", "text": "sent over HTTP"}))
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "{status}");
    let carol = me_client
        .client
        .resolve_username("carol")
        .await
        .unwrap()
        .unwrap();
    let mut history = me_client
        .client
        .iter_messages(carol.to_ref().await.unwrap().unwrap());
    let newest = history.next().await.unwrap().unwrap();
    assert_eq!(newest.text(), "sent over HTTP");

    // Dropping connections: the client reconnects on its next call.
    let status = http
        .post(url("/faults/drop-connections"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut recovered = false;
    for _ in 0..5 {
        if client
            .client
            .invoke(&tl::functions::help::GetConfig {})
            .await
            .is_ok()
        {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(recovered);
}

#[test]
fn binary_refuses_a_misspelt_field_with_a_message() {
    let path = std::env::temp_dir().join(format!(
        "fake-telegram-bad-world-{}.yaml",
        std::process::id()
    ));
    std::fs::write(&path, "accounts:\n  - frist_name: typo\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_fake-telegram"))
        .arg("--world")
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("frist_name"), "{stderr}");
}

#[test]
fn binary_refuses_an_unknown_key_with_a_message() {
    let path = std::env::temp_dir().join(format!(
        "fake-telegram-dangling-{}.yaml",
        std::process::id()
    ));
    std::fs::write(&path, "accounts:\n  - { key: me, first_name: A }\nmessages:\n  - { from: nobody, to: me, text: hi }\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_fake-telegram"))
        .arg("--world")
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("nobody"), "{stderr}");
}
