//! The `fake-telegram` binary, black-box: runs the world file from the README
//! and drives its HTTP control API, with a real grammers client connected
//! through an auth key obtained over HTTP.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use fake_telegram::seed::{session_data, FakeSession};
use serde_json::{json, Value};

use common::{connect, get_config, recovers_after_dropped_connections, rpc_error};

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
    let mut command = Command::new(env!("CARGO_BIN_EXE_fake-telegram"));
    command
        .arg("--world")
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = testkit::spawn_tied(command).unwrap();
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

/// The binary's HTTP control API.
struct Control {
    http: reqwest::Client,
    base: String,
}

impl Control {
    fn of(fake: &Running) -> Control {
        Control {
            http: reqwest::Client::new(),
            base: fake.control.clone(),
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, body: Option<Value>) -> reqwest::Response {
        let request = self.http.post(format!("{}{path}", self.base));
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        request.send().await.unwrap()
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        self.get(path).await.json().await.unwrap()
    }

    async fn post_json(&self, path: &str, body: Option<Value>) -> Value {
        self.post(path, body).await.json().await.unwrap()
    }

    async fn post_status(&self, path: &str, body: Option<Value>) -> reqwest::StatusCode {
        self.post(path, body).await.status()
    }
}

/// A client over the auth key an `/auth-keys` answer hands out.
fn client_with_key(fake: &Running, answer: &Value) -> fake_telegram::seed::TestClient {
    connect(FakeSession::new(session_data(
        fake.mtproto,
        key_from_hex(answer["auth_key"].as_str().unwrap()),
    )))
}

#[tokio::test]
async fn binary_serves_the_readme_world_and_its_control_api() {
    let fake = start_binary(&readme_world());
    assert!(fake.mtproto.ip().is_loopback());
    let control = Control::of(&fake);

    let health: Value = control.get_json("/health").await;
    assert_eq!(health["mtproto"], fake.mtproto.to_string());

    // A fresh key over HTTP; the login code the world file gave Alice.
    let fresh = control.post_json("/auth-keys", None).await;
    assert_eq!(fresh["user_id"], Value::Null);
    let client = client_with_key(&fake, &fresh);
    assert!(!client.client.is_authorized().await.unwrap());
    let token = client
        .client
        .request_login_code("+15550001", "hash")
        .await
        .ok()
        .unwrap();
    let sent: Value = control.get_json("/login-codes/15550001").await;
    assert_eq!(sent["code"], "12345");
    let alice = client.client.sign_in(&token, "12345").await.unwrap();
    assert_eq!(alice.first_name(), Some("Alice"));
    assert!(client.client.is_authorized().await.unwrap());
    let status = control.get("/login-codes/15559999").await.status();
    assert_eq!(status, 404);

    // Fault injection.
    let status = control
        .post_status(
            "/faults/fail-next",
            Some(json!({"method": "help.getConfig", "code": 420, "name": "FLOOD_WAIT_3600"})),
        )
        .await;
    assert_eq!(status, 204);
    let err = get_config(&client).await.unwrap_err();
    assert_eq!(rpc_error(&err), Some((420, "FLOOD_WAIT_3600".into())));

    // Request log and waits.
    let status = control
        .post_status(
            "/calls/wait",
            Some(json!({"method": "auth.sendCode", "count": 1, "timeout_ms": 5000})),
        )
        .await;
    assert_eq!(status, 204);
    let status = control
        .post_status(
            "/calls/wait",
            Some(json!({"method": "auth.sendCode", "count": 2, "timeout_ms": 50})),
        )
        .await;
    assert_eq!(status, 408);
    let calls: Vec<Value> = control.get_json("/calls").await;
    assert!(calls
        .iter()
        .any(|c| c["method"] == "help.getConfig" && c["error"] == "420 FLOOD_WAIT_3600"));

    // No QR token was exported, so there is nothing to scan.
    let status = control
        .post_status("/qr/scan", Some(json!({"user_id": 1})))
        .await;
    assert_eq!(status, 409);

    // A key logged into Bob, found by phone: the key tgbridge would be seeded with.
    let bob = control
        .post_json("/auth-keys", Some(json!({"phone": "+15550002"})))
        .await;
    assert!(bob["user_id"].is_i64());
    assert_eq!(bob["mtproto"], fake.mtproto.to_string());
    let bob_client = client_with_key(&fake, &bob);
    let me = bob_client.client.get_me().await.unwrap();
    assert_eq!(me.id().bare_id(), bob["user_id"].as_i64());
    // "Terminate all sessions" from another device.
    let revoked = control
        .post_json("/sessions/revoke", Some(json!({"user_id": bob["user_id"]})))
        .await;
    assert_eq!(revoked["revoked"], 1);
    let err = bob_client.client.get_me().await.unwrap_err();
    assert_eq!(rpc_error(&err), Some((401, "SESSION_REVOKED".into())));

    let status = control
        .post_status("/auth-keys", Some(json!({"phone": "+15559999"})))
        .await;
    assert_eq!(status, 404);

    // The world file's account by key, its chats, and the world's routes.
    let me = control
        .post_json("/auth-keys", Some(json!({"key": "me"})))
        .await;
    let me_client = client_with_key(&fake, &me);
    let mut dialogs = me_client.client.iter_dialogs();
    let mut titles = Vec::new();
    while let Some(dialog) = dialogs.next().await.unwrap() {
        titles.push(dialog.peer().name().unwrap_or_default().to_owned());
    }
    titles.sort();
    assert_eq!(titles, ["Carol", "Friends", "News"]);
    let peers: Value = control.get_json("/world/peers").await;
    assert!(peers.get("friends").is_some(), "{peers}");
    let status = control
        .post_status(
            "/world/messages",
            Some(json!({"from": "carol", "to": "me", "text": "sent over HTTP"})),
        )
        .await;
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
    let status = control.post_status("/faults/drop-connections", None).await;
    assert_eq!(status, 204);
    assert!(recovers_after_dropped_connections(&client).await);
}

/// Runs the binary on a world file it must refuse; returns its stderr.
fn refused_world(name: &str, world: &str) -> String {
    let path =
        std::env::temp_dir().join(format!("fake-telegram-{name}-{}.yaml", std::process::id()));
    std::fs::write(&path, world).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_fake-telegram"))
        .arg("--world")
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(!output.status.success());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn binary_refuses_a_misspelt_field_with_a_message() {
    let stderr = refused_world("bad-world", "accounts:\n  - frist_name: typo\n");
    assert!(stderr.contains("frist_name"), "{stderr}");
}

#[test]
fn binary_refuses_an_unknown_key_with_a_message() {
    let stderr = refused_world(
        "dangling",
        "accounts:\n  - { key: me, first_name: A }\nmessages:\n  - { from: nobody, to: me, text: hi }\n",
    );
    assert!(stderr.contains("nobody"), "{stderr}");
}
