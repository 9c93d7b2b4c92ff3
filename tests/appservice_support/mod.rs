//! Shared helpers for the appservice end-to-end tests, the one place for
//! them: a bridge instance with its own config, registration, database and
//! port, run as the real `tgbridge` binary in a child process next to a real
//! homeserver (Synapse or Conduit); the per-binary shared homeserver with its
//! pool of registered bridges; and what the scenarios do and read on the
//! Matrix side (send, redact, upload, wait for an event, read a timeline or
//! a state event). What touches the fake Telegram datacenter lives in
//! [`telegram`]. Nothing here asserts a scenario's outcome: the tests do.

#![allow(dead_code)] // Each test binary uses a different subset.

pub mod telegram;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;
use testkit::{
    free_port, Homeserver, HomeserverKind, HomeserverOptions, SharedHomeserver, TestUser,
};

/// Bot display name written into every test config.
pub const BOT_DISPLAYNAME: &str = "Telegram bridge bot (test)";

/// One bridge: its files, identity and (when started) its process.
pub struct BridgeInstance {
    pub dir: TempDir,
    pub config_path: PathBuf,
    pub registration_path: PathBuf,
    pub database_path: PathBuf,
    pub log_path: PathBuf,
    pub port: u16,
    pub id: String,
    pub bot_user_id: String,
    pub owner_localpart: String,
    pub hs_token: String,
    pub as_token: String,
    /// Extra environment variables for every start of the process.
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl BridgeInstance {
    /// Writes a config for a homeserver on `homeserver_port` and lets
    /// `tgbridge generate-registration` fill in tokens and the registration.
    pub fn prepare(name: &str, homeserver_port: u16) -> BridgeInstance {
        let dir = tempfile::Builder::new()
            .prefix(&format!("tgbridge-{name}-"))
            .tempdir()
            .expect("temporary directory");
        let port = free_port().expect("free port for the appservice");
        let owner_localpart = testkit::unique_localpart(&format!("{name}owner"));
        let id = format!("tg{name}");
        let bot_localpart = format!("{name}bot");
        let config_path = dir.path().join("config.yaml");
        let database_path = dir.path().join("tgbridge.db");
        let config = format!(
            r#"homeserver:
  address: http://127.0.0.1:{homeserver_port}
  domain: localhost
appservice:
  address: http://127.0.0.1:{port}
  hostname: 127.0.0.1
  port: {port}
  id: {id}
  bot:
    username: {bot_localpart}
    displayname: "{BOT_DISPLAYNAME}"
  as_token: ""
  hs_token: ""
owner: "@{owner_localpart}:localhost"
telegram:
  api_id: 7654321
  api_hash: 0f1e2d3c4b5a69788796a5b4c3d2e1f0
database: {database}
bridge:
  ghost_prefix: {name}tg_
logging:
  level: debug
"#,
            database = database_path.display(),
        );
        std::fs::write(&config_path, config).expect("write config");
        let registration_path = dir.path().join("registration.yaml");
        let output = Command::new(env!("CARGO_BIN_EXE_tgbridge"))
            .arg("--config")
            .arg(&config_path)
            .arg("generate-registration")
            .arg("--output")
            .arg(&registration_path)
            .output()
            .expect("run tgbridge generate-registration");
        assert!(
            output.status.success(),
            "generate-registration failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let written: Value = serde_yaml::from_str(
            &std::fs::read_to_string(&registration_path).expect("read registration"),
        )
        .expect("registration is YAML");
        let token = |key: &str| {
            written[key]
                .as_str()
                .unwrap_or_else(|| panic!("registration has {key}"))
                .to_owned()
        };
        BridgeInstance {
            log_path: dir.path().join("bridge.log"),
            hs_token: token("hs_token"),
            as_token: token("as_token"),
            bot_user_id: format!("@{bot_localpart}:localhost"),
            owner_localpart,
            id,
            port,
            config_path,
            registration_path,
            database_path,
            dir,
            env: Vec::new(),
            child: None,
        }
    }

    /// Sets an environment variable for this and every later start of the
    /// bridge (e.g. a debug-only test hook).
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.push((key.to_owned(), value.to_owned()));
    }

    /// The owner's user id.
    pub fn owner(&self) -> String {
        format!("@{}:localhost", self.owner_localpart)
    }

    /// The Matrix id of the ghost of Telegram user (or channel) `telegram_id`
    /// under this bridge's ghost prefix (`<name>tg_`).
    pub fn ghost(&self, telegram_id: i64) -> String {
        let name = self.id.strip_prefix("tg").unwrap_or(&self.id);
        format!("@{name}tg_{telegram_id}:localhost")
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts `tgbridge run`; output goes to [`BridgeInstance::log_path`]
    /// (appended, so restarts keep the earlier log).
    pub fn start(&mut self) {
        self.start_with_log_filter("debug,hyper=info,reqwest=info,h2=info");
    }

    /// Starts `tgbridge run` with `RUST_LOG` set to `filter`.
    pub fn start_with_log_filter(&mut self, filter: &str) {
        self.start_binary_with_log_filter(Path::new(env!("CARGO_BIN_EXE_tgbridge")), filter);
    }

    /// Starts `binary run` (another build of `tgbridge`, e.g. a release
    /// binary under measurement) with `RUST_LOG` set to `filter`.
    pub fn start_binary_with_log_filter(&mut self, binary: &Path, filter: &str) {
        assert!(self.child.is_none(), "bridge already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open bridge log");
        let mut command = Command::new(binary);
        command
            .arg("--config")
            .arg(&self.config_path)
            .arg("run")
            .env("RUST_LOG", filter)
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log);
        // Tied to this test process: a killed test run leaves no bridge.
        let child = testkit::spawn_tied(command)
            .unwrap_or_else(|e| panic!("spawn {} run: {e}", binary.display()));
        self.child = Some(child);
    }

    /// The running bridge's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => child.try_wait().expect("poll bridge").is_none(),
            None => false,
        }
    }

    /// Sends SIGTERM and waits for the exit status (at most 20 s).
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("bridge running");
        let pid = child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("poll bridge") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "bridge did not exit within 20 s of SIGTERM\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Terminates the bridge ([`BridgeInstance::terminate`]) and asserts that
    /// it exited cleanly, with the log's tail if it did not.
    pub fn stop(&mut self) {
        let status = self.terminate();
        assert!(status.success(), "{status}\n{}", self.log_tail());
    }

    /// Kills the bridge with SIGKILL (a crash: nothing is flushed or
    /// answered) and reaps it.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("bridge running");
        child.kill().expect("SIGKILL the bridge");
        child.wait().expect("reap the bridge");
    }

    /// The last lines of the bridge's log.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(80)..].join("\n")
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Polls `/health` until it reports ready; panics with the log otherwise.
    pub async fn wait_ready(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let http = reqwest::Client::new();
        loop {
            assert!(
                self.is_running(),
                "bridge exited before becoming ready\n{}",
                self.log_tail()
            );
            if let Ok(response) = http.get(format!("{}/health", self.url())).send().await {
                if response.status().as_u16() == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "bridge not ready after {timeout:?}\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The health endpoint's status code and body.
    pub async fn health(&self) -> Option<(u16, Value)> {
        let response = reqwest::get(format!("{}/health", self.url())).await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// Pushes a transaction as the homeserver would, with the given
    /// Authorization header value (or none).
    pub async fn push_transaction(
        &self,
        txn_id: &str,
        authorization: Option<&str>,
        body: &str,
    ) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .put(format!(
                "{}/_matrix/app/v1/transactions/{txn_id}",
                self.url()
            ))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("bridge reachable");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

impl Drop for BridgeInstance {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // A failure's whole log outlives the temporary directory, for
        // diagnosis beyond the tail a panic message shows.
        if std::thread::panicking() && self.log_path.exists() {
            let kept = std::env::temp_dir().join(format!(
                "tgbridge-{}-{}.log",
                self.id,
                std::process::id()
            ));
            if std::fs::copy(&self.log_path, &kept).is_ok() {
                eprintln!("the bridge's log is kept in {}", kept.display());
            }
        }
    }
}

/// How long one bridged event may take to reach the owner.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Waits for the first event `owner` sees that satisfies `matches`; panics
/// with `what` and the bridge's log otherwise.
pub async fn expect_event(
    owner: &TestUser,
    bridge: &BridgeInstance,
    what: &str,
    matches: impl FnMut(&Value) -> bool,
) -> Value {
    match owner.sync_until(matches, EVENT_TIMEOUT).await {
        Ok(found) => found[0].clone(),
        Err(error) => panic!("{what}: {error}\n{}", bridge.log_tail()),
    }
}

/// Polls `check` until it returns `Some` (for up to [`EVENT_TIMEOUT`]),
/// failing with `what` and the bridge's log.
pub async fn eventually<T, F, Fut>(bridge: &BridgeInstance, what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_within(bridge, what, EVENT_TIMEOUT, check).await
}

/// [`eventually`] with a timeout of its own.
pub async fn eventually_within<T, F, Fut>(
    bridge: &BridgeInstance,
    what: &str,
    timeout: Duration,
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            bridge.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// [`eventually_within`] for a check that needs no waiting itself (a look
/// at the fake datacenter or the store).
pub async fn poll_until<T>(
    what: &str,
    bridge: &BridgeInstance,
    timeout: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    eventually_within(bridge, what, timeout, || std::future::ready(probe())).await
}

/// The bodies of the `m.room.message` events `sender` sent in `room` (of
/// its last 500 events), oldest first.
pub async fn bodies_from(owner: &TestUser, room: &str, sender: &str) -> Vec<String> {
    let mut events = owner.room_messages(room, 500).await.unwrap();
    events.reverse();
    events
        .iter()
        .filter(|e| e["type"] == "m.room.message" && e["sender"] == sender)
        .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned))
        .collect()
}

/// Whether `event` is an `m.room.message` in `room` with body `body`.
pub fn message_in(event: &Value, room: &str, body: &str) -> bool {
    event["room_id"] == room
        && event["type"] == "m.room.message"
        && event["content"]["body"] == body
}

/// The message events of a room, oldest first (the last 200).
pub async fn timeline(owner: &TestUser, room: &str) -> Vec<Value> {
    let mut events: Vec<Value> = owner
        .room_messages(room, 200)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e["type"] == "m.room.message")
        .collect();
    events.reverse();
    events
}

/// Sends an `m.room.message` with `content` as `user`; returns its event id.
pub async fn send(user: &TestUser, room: &str, content: Value) -> String {
    user.send_event(room, "m.room.message", &content)
        .await
        .expect("the user sends")
}

/// Sends a plain `m.text` with `body` as `user`; returns its event id.
pub async fn send_text(user: &TestUser, room: &str, body: &str) -> String {
    send(
        user,
        room,
        serde_json::json!({ "msgtype": "m.text", "body": body }),
    )
    .await
}

/// Redacts `event_id` in `room` as `user`.
pub async fn redact(user: &TestUser, room: &str, event_id: &str) {
    let txn = format!("redact{}", rand::random::<u32>());
    user.api()
        .ok(
            testkit::Method::PUT,
            &format!("/_matrix/client/v3/rooms/{room}/redact/{event_id}/{txn}"),
            Some(&serde_json::json!({})),
        )
        .await
        .expect("the user redacts");
}

/// Uploads `bytes` to the media repository as `user`; returns the mxc URI.
pub async fn upload(user: &TestUser, bytes: Vec<u8>, content_type: &str) -> String {
    let response: Value = reqwest::Client::new()
        .post(format!("{}/_matrix/media/v3/upload", user.api().base_url()))
        .bearer_auth(&user.access_token)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("the upload answer is JSON");
    response["content_uri"]
        .as_str()
        .expect("content_uri")
        .to_owned()
}

/// Downloads an mxc URI as `user` (authenticated media).
pub async fn download(user: &TestUser, mxc: &str) -> Vec<u8> {
    let path = mxc.strip_prefix("mxc://").expect("an mxc URI");
    let response = reqwest::Client::new()
        .get(format!(
            "{}/_matrix/client/v1/media/download/{path}",
            user.api().base_url()
        ))
        .bearer_auth(&user.access_token)
        .send()
        .await
        .expect("download");
    assert!(response.status().is_success(), "{}", response.status());
    response.bytes().await.unwrap().to_vec()
}

/// Where `owner`'s `/sync` stands now.
pub async fn sync_position(owner: &TestUser) -> String {
    let sync = owner
        .api()
        .ok(
            testkit::Method::GET,
            "/_matrix/client/v3/sync?timeout=0",
            None,
        )
        .await
        .unwrap();
    sync["next_batch"].as_str().unwrap().to_owned()
}

/// The first non-empty list of (room, user) typing that `owner`'s `/sync`
/// shows after `since`, in `room` only when one is given (empty after 30 s).
pub async fn typing_after(
    owner: &TestUser,
    since: &str,
    room: Option<&str>,
) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut since = since.to_owned();
    while Instant::now() < deadline {
        let sync = owner
            .api()
            .ok(
                testkit::Method::GET,
                &format!("/_matrix/client/v3/sync?timeout=2000&since={since}"),
                None,
            )
            .await
            .unwrap();
        let mut typing = Vec::new();
        let joined = sync["rooms"]["join"].as_object().into_iter().flatten();
        for (id, joined) in joined.filter(|(id, _)| room.is_none_or(|r| r == id.as_str())) {
            let events = joined["ephemeral"]["events"]
                .as_array()
                .into_iter()
                .flatten();
            for event in events.filter(|e| e["type"] == "m.typing") {
                let users = event["content"]["user_ids"]
                    .as_array()
                    .into_iter()
                    .flatten();
                for user in users.filter_map(Value::as_str) {
                    typing.push((id.clone(), user.to_owned()));
                }
            }
        }
        if !typing.is_empty() {
            return typing;
        }
        since = sync["next_batch"].as_str().unwrap().to_owned();
    }
    Vec::new()
}

/// An event's id (empty if it has none).
pub fn event_id(event: &Value) -> String {
    event["event_id"].as_str().unwrap_or_default().to_owned()
}

/// The bodies of the `m.room.message` events `user` sent in `room` (of its
/// last 500 events), oldest first; a redacted message has no body and is
/// left out.
pub async fn own_bodies(user: &TestUser, room: &str) -> Vec<String> {
    bodies_from(user, room, &user.user_id).await
}

/// A state event's content as `user` reads it, `Value::Null` when unset or
/// unreadable.
pub async fn try_state(user: &TestUser, room: &str, event_type: &str, key: &str) -> Value {
    user.api()
        .ok(
            testkit::Method::GET,
            &format!("/_matrix/client/v3/rooms/{room}/state/{event_type}/{key}"),
            None,
        )
        .await
        .unwrap_or(Value::Null)
}

/// The membership of `member` in `room` as `user` reads it (empty if none).
pub async fn membership(user: &TestUser, room: &str, member: &str) -> String {
    try_state(user, room, "m.room.member", member).await["membership"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Whether a synced event is an `m.notice` from `sender` whose body contains `text`.
pub fn is_notice_from(event: &Value, sender: &str, text: &str) -> bool {
    event["type"] == "m.room.message"
        && event["sender"] == sender
        && event["content"]["msgtype"] == "m.notice"
        && event["content"]["body"]
            .as_str()
            .is_some_and(|body| body.contains(text))
}

/// Waits until `user` sees the bot's management-room greeting; joins the room
/// if it is still an invite. Returns the room id.
pub async fn management_room_of(user: &TestUser, bot: &str) -> String {
    let found = user
        .sync_until(
            |e| is_notice_from(e, bot, "I am the Telegram bridge bot"),
            Duration::from_secs(60),
        )
        .await
        .expect("the owner receives the greeting");
    let room_id = found[0]["room_id"].as_str().expect("room id").to_owned();
    let members = user.joined_members(&room_id).await.unwrap_or_default();
    if !members.iter().any(|m| m == &user.user_id) {
        user.join(&room_id)
            .await
            .expect("owner joins the management room");
    }
    room_id
}

/// Sends `body` as `user` in `room` and returns the bot's notice containing `expect`.
pub async fn command(user: &TestUser, room: &str, bot: &str, body: &str, expect: &str) -> Value {
    user.send_text(room, body).await.expect("send command");
    let found = user
        .sync_until(|e| is_notice_from(e, bot, expect), Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("no answer containing {expect:?} to {body:?}: {e}"));
    found[0].clone()
}

/// Where the registration file of `instance` is, for Synapse.
pub fn registration(instance: &BridgeInstance) -> PathBuf {
    instance.registration_path.clone()
}

/// Path helper for reading the bridge database from a test.
pub fn database(instance: &BridgeInstance) -> &Path {
    &instance.database_path
}

/// Bridge instances registered with one shared Synapse, each taken once by
/// the test that runs it.
pub struct Bridges {
    instances: std::sync::Mutex<std::collections::HashMap<&'static str, BridgeInstance>>,
}

impl Bridges {
    /// The bridge prepared under `name`; each is handed out once.
    pub fn take(&self, name: &str) -> BridgeInstance {
        self.instances
            .lock()
            .unwrap()
            .remove(name)
            .unwrap_or_else(|| panic!("no bridge {name:?} left (each is taken once)"))
    }
}

/// The test binary's shared Synapse, started on first use with one bridge
/// registered per name (the name is also its localpart prefix). `adjust`
/// may change a bridge's files before Synapse reads its registration;
/// `extra_config` replaces Synapse defaults.
pub async fn shared_synapse(
    cell: &'static testkit::SharedSynapse<Bridges>,
    names: &[&'static str],
    extra_config: serde_json::Map<String, Value>,
    adjust: fn(&str, &BridgeInstance),
) -> (&'static testkit::Synapse, &'static Bridges) {
    cell.get_or_start(|| async {
        let port = free_port().expect("free port for Synapse");
        let (registrations, bridges) = prepare_bridges(names, port, adjust);
        let options = testkit::SynapseOptions {
            registrations,
            port: Some(port),
            extra_config,
        };
        Ok((options, bridges))
    })
    .await
    .expect("Synapse starts (run ./test.sh provision if it is not installed)")
}

/// The test binary's shared homeserver of `kind`, started on first use with
/// one bridge registered per name (the name is also its localpart prefix):
/// Synapse reads the registrations at start, Conduit gets each through its
/// admin room as the README tells its users. `adjust` may change a bridge's
/// files before the server reads its registration.
pub async fn shared_homeserver(
    cell: &'static SharedHomeserver<Bridges>,
    kind: HomeserverKind,
    names: &[&'static str],
    options: HomeserverOptions,
    adjust: fn(&str, &BridgeInstance),
) -> (&'static Homeserver, &'static Bridges) {
    cell.get_or_start(kind, || async {
        let port = free_port().expect("free port for the homeserver");
        let (registrations, bridges) = prepare_bridges(names, port, adjust);
        let options = HomeserverOptions {
            registrations,
            port: Some(port),
            ..options
        };
        Ok((options, bridges))
    })
    .await
    .unwrap_or_else(|e| {
        panic!("{kind} starts (run ./test.sh provision if it is not installed): {e}")
    })
}

/// The test binary's shared homeserver of `kind` with default options and
/// one bridge registered per name, unchanged (see [`shared_homeserver`]):
/// what most scenario files need, without a `static` of their own. Every
/// call in one test binary must pass the same names.
pub async fn default_homeserver(
    kind: HomeserverKind,
    names: &[&'static str],
) -> (&'static Homeserver, &'static Bridges) {
    static SERVERS: SharedHomeserver<Bridges> = SharedHomeserver::new();
    shared_homeserver(
        &SERVERS,
        kind,
        names,
        HomeserverOptions::default(),
        |_, _| {},
    )
    .await
}

/// One bridge instance per name for a homeserver on `port`, with the
/// registration files the server must load.
fn prepare_bridges(
    names: &[&'static str],
    port: u16,
    adjust: fn(&str, &BridgeInstance),
) -> (Vec<PathBuf>, Bridges) {
    let mut instances = std::collections::HashMap::new();
    let mut registrations = Vec::new();
    for &name in names {
        let bridge = BridgeInstance::prepare(name, port);
        adjust(name, &bridge);
        registrations.push(bridge.registration_path.clone());
        instances.insert(name, bridge);
    }
    let bridges = Bridges {
        instances: std::sync::Mutex::new(instances),
    };
    (registrations, bridges)
}

/// Declares, for each scenario `async fn name(kind: HomeserverKind)`, a
/// module `name` with the tests `on_synapse` and `on_conduit`, so every
/// Matrix-facing scenario runs on both homeservers and its test names say
/// which (`name::on_conduit`).
#[macro_export]
macro_rules! on_both_servers {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_synapse() {
                    super::$scenario(testkit::HomeserverKind::Synapse).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_conduit() {
                    super::$scenario(testkit::HomeserverKind::Conduit).await
                }
            }
        )*
    };
}
