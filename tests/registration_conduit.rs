//! The README's way of registering the bridge with Conduit works on a real
//! Conduit: the command text is taken from the README's "### Conduit"
//! section (so a README change that would mislead users fails here), filled
//! in with the registration `tgbridge generate-registration` wrote, and sent
//! by Conduit's admin in `#admins:localhost` as a user would. Conduit must
//! answer that the appservice is registered; then, without restarting
//! Conduit, the namespaces are enforced, the owner can be acted as, `tgbridge
//! check` passes, and the bridge, started from the same config, is reached at
//! the registration's URL (Conduit's appservice ping), registers its bot
//! itself and answers the owner in the management room.

mod appservice_support;
mod cli_support;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use appservice_support::{command, management_room_of};
use cli_support::{config_text, run, tgbridge, write_config};
use serde_json::{json, Value};
use testkit::{free_port, Conduit, ConduitOptions, Method, TestUser};

/// The README's placeholder for the server name.
const README_SERVER: &str = "your.server";

/// How long Conduit's admin bot may take to answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// What the README tells Conduit's users: the admin room's alias and the
/// message to send there, with `your.server` and the registration still to
/// fill in.
struct ReadmeInstructions {
    admin_room_alias: String,
    message: String,
}

/// Reads the "### Conduit" section of the README: the first `#alias` in
/// backticks is the admin room, the first block fenced with four backticks
/// is the message.
fn readme_instructions() -> ReadmeInstructions {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("read README.md");
    let start = readme
        .find("\n### Conduit\n")
        .expect("README has a \"### Conduit\" section");
    let section = &readme[start + 1..];
    let section = &section[..section[1..]
        .find("\n#")
        .map_or(section.len(), |end| end + 1)];
    let admin_room_alias = section
        .split('`')
        .skip(1)
        .step_by(2)
        .find(|quoted| quoted.starts_with("#admins:"))
        .unwrap_or_else(|| panic!("the Conduit section names the admin room:\n{section}"))
        .to_owned();
    let mut blocks = section.split("````").skip(1);
    let message = blocks
        .next()
        .filter(|_| blocks.next().is_some())
        .unwrap_or_else(|| panic!("the Conduit section has a ````-fenced message:\n{section}"));
    // The info string (none here) ends at the first newline; the block ends
    // with the newline before the closing fence.
    let message = message
        .split_once('\n')
        .map_or("", |(_, body)| body)
        .trim_end_matches('\n')
        .to_owned();
    ReadmeInstructions {
        admin_room_alias,
        message,
    }
}

/// The README's message for this server, with the registration pasted where
/// the README says.
fn fill_in(template: &str, server_name: &str, registration: &str) -> String {
    let mut pasted = false;
    let lines: Vec<String> = template
        .lines()
        .map(|line| {
            if line.starts_with("<paste") && line.contains("registration.yaml") {
                pasted = true;
                registration.trim_end().to_owned()
            } else {
                line.replace(README_SERVER, server_name)
            }
        })
        .collect();
    assert!(
        pasted,
        "the README's message says where the registration goes:\n{template}"
    );
    lines.join("\n")
}

/// The bodies of what `@conduit:<server>` said after `event_id` in `room`,
/// once it said anything.
async fn admin_bot_answer(
    admin: &TestUser,
    room: &str,
    server_name: &str,
    event_id: &str,
) -> String {
    let bot = format!("@conduit:{server_name}");
    let deadline = Instant::now() + ANSWER_TIMEOUT;
    loop {
        // Newest first: whatever the bot said before reaching the command
        // answers it.
        let recent = admin.room_messages(room, 20).await.expect("read #admins");
        let answers: Vec<&str> = recent
            .iter()
            .take_while(|e| e["event_id"] != event_id)
            .filter(|e| e["sender"] == bot.as_str() && e["type"] == "m.room.message")
            .filter_map(|e| e["content"]["body"].as_str())
            .collect();
        if !answers.is_empty() {
            return answers.join("\n");
        }
        assert!(
            Instant::now() < deadline,
            "Conduit's admin bot did not answer within {ANSWER_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `tgbridge run`, killed when dropped; its log is printed if the test
/// fails meanwhile.
struct RunningBridge {
    child: Child,
    log_path: std::path::PathBuf,
    url: String,
}

impl RunningBridge {
    fn start(dir: &Path, port: u16) -> RunningBridge {
        let log_path = dir.join("bridge.log");
        let log = std::fs::File::create(&log_path).expect("create the bridge log");
        let child = tgbridge(dir)
            .arg("run")
            .env("RUST_LOG", "debug,hyper=info,reqwest=info,h2=info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .expect("start tgbridge run");
        RunningBridge {
            child,
            log_path,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Polls `/health` until the bridge reports ready.
    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(
                self.child.try_wait().expect("poll the bridge").is_none(),
                "the bridge exited:\n{}",
                self.log()
            );
            if let Ok(response) = reqwest::get(format!("{}/health", self.url)).await {
                if response.status().as_u16() == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the bridge is not ready after 60 s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for RunningBridge {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- the bridge's log ----\n{}", self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_registers_the_generated_registration_with_conduit() {
    let conduit = Conduit::start(ConduitOptions::default())
        .await
        .unwrap_or_else(|e| {
            panic!("Conduit starts (run ./test.sh provision if it is not installed): {e}")
        });
    let _log = conduit.log_on_panic();
    let server_name = conduit.server_name().to_owned();

    // The bridge's config as its user writes it from the example, and the
    // registration generated next to it.
    let dir = tempfile::tempdir().expect("temporary directory");
    let bridge_port = free_port().expect("free port for the bridge");
    let owner_id = format!("@owner:{server_name}");
    let text = config_text(conduit.base_url(), dir.path())
        .replace("domain: example.org", &format!("domain: {server_name}"))
        .replace("@you:example.org", &owner_id)
        .replace(
            "address: http://localhost:29317",
            &format!("address: http://127.0.0.1:{bridge_port}"),
        )
        .replace("port: 29317", &format!("port: {bridge_port}"));
    write_config(dir.path(), &text);
    let cwd = dir.path().to_path_buf();
    let generated =
        tokio::task::spawn_blocking(move || run(tgbridge(&cwd).arg("generate-registration")))
            .await
            .expect("generate-registration ran");
    assert_eq!(generated.code, Some(0), "{generated:?}");
    let registration_yaml = std::fs::read_to_string(dir.path().join("registration.yaml"))
        .expect("generate-registration wrote registration.yaml next to the config");
    let registration: Value =
        serde_yaml::from_str(&registration_yaml).expect("the registration is YAML");
    let id = registration["id"].as_str().expect("registration id");
    let as_token = registration["as_token"].as_str().expect("as_token");
    let bot = format!(
        "@{}:{server_name}",
        registration["sender_localpart"]
            .as_str()
            .expect("sender_localpart")
    );

    // The admin sends the README's message in the room the README names.
    let readme = readme_instructions();
    let alias = readme.admin_room_alias.replace(README_SERVER, &server_name);
    let admin = conduit.admin();
    let resolved = admin
        .api()
        .ok(
            Method::GET,
            &format!(
                "/_matrix/client/v3/directory/room/{}",
                alias.replace('#', "%23").replace(':', "%3A")
            ),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("the README's admin room {alias} exists: {e}"));
    assert_eq!(resolved["room_id"], conduit.admin_room(), "{resolved}");
    let message = fill_in(&readme.message, &server_name, &registration_yaml);
    let sent = admin
        .send_text(conduit.admin_room(), &message)
        .await
        .expect("the admin sends the README's message");
    let answer = admin_bot_answer(admin, conduit.admin_room(), &server_name, &sent).await;
    assert!(
        answer.contains("registered") && answer.contains(id),
        "Conduit did not register the appservice; it answered:\n{answer}\nto:\n{message}"
    );

    // Conduit now knows the appservice's token and namespaces, with no
    // restart: a ghost is the bridge's to create, another user is not.
    let appservice = conduit.client(Some(as_token));
    let register = |username: &str| {
        let body = json!({ "type": "m.login.application_service", "username": username });
        let appservice = appservice.clone();
        async move {
            appservice
                .call(Method::POST, "/_matrix/client/v3/register", Some(&body))
                .await
                .expect("POST /register answers")
        }
    };
    let ghost = register("telegram_123456").await;
    assert!(ghost.is_success(), "{ghost:?}");
    let outsider = register("stranger").await;
    assert_eq!(outsider.errcode(), Some("M_EXCLUSIVE"), "{outsider:?}");

    let cwd = dir.path().to_path_buf();
    let checked = tokio::task::spawn_blocking(move || run(tgbridge(&cwd).arg("check")))
        .await
        .expect("check ran");
    assert_eq!(checked.code, Some(0), "{checked:?}");

    // The bridge itself: it registers its bot (Conduit does not) and the
    // bot answers the owner.
    let owner = conduit
        .register_user("owner")
        .await
        .expect("register the owner");
    assert_eq!(owner.user_id, owner_id);
    // The owner is an ordinary account the bridge may act as (double
    // puppeting).
    let whoami = appservice
        .ok(
            Method::GET,
            &format!(
                "/_matrix/client/v3/account/whoami?user_id={}",
                owner_id.replace('@', "%40").replace(':', "%3A")
            ),
            None,
        )
        .await
        .expect("the appservice may act as the owner");
    assert_eq!(whoami["user_id"], owner_id.as_str());
    let ping_path = format!("/_matrix/client/v1/appservice/{id}/ping");
    let unanswered = appservice
        .call(Method::POST, &ping_path, Some(&json!({})))
        .await
        .expect("the ping answers");
    // Conduit tries the registration's URL, where nobody listens yet.
    assert_eq!(unanswered.status, 502, "{unanswered:?}");
    assert_eq!(
        unanswered.errcode(),
        Some("M_CONNECTION_FAILED"),
        "{unanswered:?}"
    );
    let mut bridge = RunningBridge::start(dir.path(), bridge_port);
    bridge.wait_ready().await;
    let answered = appservice
        .call(Method::POST, &ping_path, Some(&json!({})))
        .await
        .expect("the ping answers");
    assert_eq!(answered.status, 200, "{answered:?}\n{}", bridge.log());
    assert!(answered.body["duration_ms"].is_u64(), "{answered:?}");
    let room = management_room_of(&owner, &bot).await;
    command(&owner, &room, &bot, "ping", "Not logged into Telegram").await;
}
