//! The web-login page in a real headless Chromium (driven through
//! chromedriver's WebDriver API), served by the real bridge binary next to a
//! real homeserver (each scenario on Synapse and on Conduit) and the fake
//! Telegram datacenter: phone, code and 2FA password
//! on the page; the password step handed over from the management room; the
//! bot-token path; expired, reused and forged requests refused. Chromium and
//! chromedriver come from `./test.sh` (Debian packages); without them the
//! tests fail and say so.

mod matrix_login_support;

use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use matrix_login_support::*;
use serde_json::{json, Value};
use testkit::{free_port, Homeserver, HomeserverKind};

const NAMES: [&str; 4] = ["wfull", "whand", "wbot", "wrefuse"];

static SERVERS: Bridges = Bridges::new();

async fn bridge(kind: HomeserverKind, name: &'static str) -> (&'static Homeserver, BridgeInstance) {
    take_bridge(&SERVERS, kind, &NAMES, name, |name, port| {
        let bridge = BridgeInstance::prepare(name, port);
        let lifetime = if name == "wrefuse" { 3 } else { 900 };
        enable_web_login(&bridge, lifetime);
        bridge
    })
    .await
}

// ---- a minimal WebDriver client ---------------------------------------------

/// The WebDriver key code for Enter, which submits the focused form.
const ENTER: &str = "\u{E007}";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Runs chromedriver for this test process and takes it down, with every
/// browser process it started, when that process ends: the watcher reads
/// the lifeline on its stdin (the test process holds the write end, and the
/// kernel closes it however the test process ends, SIGKILL included), then
/// kills the whole process group, which the script leads and Chromium and
/// its helpers join. A parent-death signal on chromedriver alone would not
/// do: Chromium is its child and would be left running.
///
/// Usage: sh -c SCRIPT browser CHROMEDRIVER PORT
const BROWSER_SUPERVISOR: &str = r#"
trap '' INT
exec 3<&0
"$1" --port="$2" </dev/null >/dev/null 2>&1 &
( cat <&3 >/dev/null; kill -KILL 0 ) &
exec 3<&-
wait
"#;

/// One headless Chromium session through its own chromedriver.
struct Browser {
    /// The supervisor's shell, leader of the group chromedriver and
    /// Chromium run in.
    driver: Child,
    /// Closing it makes the supervisor kill the whole group.
    lifeline: Option<ChildStdin>,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

fn provisioned(var: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    assert!(
        path.exists(),
        "{} not found (set {var}, or run ./test.sh provision to install Chromium)",
        path.display()
    );
    path
}

impl Browser {
    async fn start() -> Browser {
        let chromium = provisioned("TGBRIDGE_TEST_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = provisioned("TGBRIDGE_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
        let port = free_port().expect("free port for chromedriver");
        // Its own process group: Chromium and its helpers join it, so the
        // group can be killed whole even if the WebDriver session cannot be
        // closed (a hung browser), and the supervisor does so when this
        // process ends.
        let mut driver = Command::new("sh")
            .args(["-c", BROWSER_SUPERVISOR, "browser"])
            .arg(chromedriver)
            .arg(port.to_string())
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let lifeline = driver.stdin.take();
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = match http.get(format!("{base}/status")).send().await {
                Ok(r) => r
                    .json::<Value>()
                    .await
                    .ok()
                    .map(|v| v["value"]["ready"] == true),
                Err(_) => None,
            };
            if ready == Some(true) {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().expect("browser profile directory");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args }
        }}});
        let created: Option<Value> = match http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
        {
            Ok(answer) => answer.json().await.ok(),
            Err(_) => None,
        };
        let session = created
            .as_ref()
            .and_then(|created| created["value"]["sessionId"].as_str())
            .map(str::to_owned);
        let Some(session) = session else {
            // No browser to close; the driver must not outlive the test.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", driver.id())])
                .status();
            drop(lifeline);
            let _ = driver.wait();
            panic!("no browser session: {created:?}");
        };
        Browser {
            driver,
            lifeline,
            base,
            session,
            http,
            _profile: profile,
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method.clone(), url);
        if method == reqwest::Method::POST {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .expect("chromedriver answers JSON");
        answer["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    /// A session property that is a string (empty when it is not one).
    async fn text_at(&self, path: &str) -> String {
        let value = self.command(reqwest::Method::GET, path, Value::Null).await;
        value.as_str().unwrap_or_default().to_owned()
    }

    async fn source(&self) -> String {
        self.text_at("/source").await
    }

    /// Waits until the page shows `text`; returns the page source.
    async fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + STEP;
        loop {
            let source = self.source().await;
            if source.contains(text) {
                return source;
            }
            assert!(
                Instant::now() < deadline,
                "the page never showed {text:?}; it shows:\n{source}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .command(
                reqwest::Method::POST,
                "/element",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned()
    }

    /// Sends `action` (`click`, `value`) with `body` to the element at `css`.
    async fn act_on(&self, css: &str, action: &str, body: Value) {
        let id = self.element(css).await;
        let path = format!("/element/{id}/{action}");
        self.command(reqwest::Method::POST, &path, body).await;
    }

    async fn click(&self, css: &str) {
        self.act_on(css, "click", json!({})).await;
    }

    /// Types `text` into the field and submits its form with Enter.
    async fn submit(&self, css: &str, text: &str) {
        let text = format!("{text}{ENTER}");
        self.act_on(css, "value", json!({ "text": text })).await;
    }

    /// The URL the browser is at.
    async fn url(&self) -> String {
        self.text_at("/url").await
    }

    /// Ends the WebDriver session, which closes Chromium: a killed
    /// chromedriver leaves its browser running. Runs in `drop` (also while a
    /// failed test unwinds), so it blocks its worker thread meanwhile.
    fn quit(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let url = format!("{}/session/{}", self.base, self.session);
        let request = self
            .http
            .delete(url)
            .timeout(Duration::from_secs(20))
            .send();
        tokio::task::block_in_place(|| {
            // The answer comes once Chromium has quit.
            let _ = runtime.block_on(request);
        });
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.quit();
        // The group id is the supervisor's pid (see `start`); killing the
        // group at once spares waiting for the supervisor to see its
        // lifeline close.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        self.lifeline.take();
        let _ = self.driver.wait();
    }
}

// ---- tests -------------------------------------------------------------------

async fn login_link(scene: &Scene) -> String {
    let (_, intro) = scene.say("login", "Log into Telegram").await;
    assert!(intro.contains("web page"), "{intro}");
    assert!(
        intro.contains("Send your phone number"),
        "both ways are offered: {intro}"
    );
    link_in(&intro)
}

on_both_servers!(
    the_browser_logs_in_with_phone_code_and_password,
    the_management_room_hands_the_password_step_to_the_browser,
    the_browser_logs_in_a_bot_with_its_token,
    expired_links_and_forged_forms_are_refused,
);

async fn the_browser_logs_in_with_phone_code_and_password(kind: HomeserverKind) {
    let (server, bridge) = bridge(kind, "wfull").await;
    let telegram = fake_telegram_for(&bridge, vec![ada(Some(PASSWORD))]).await;
    let scene = Scene::start(server, bridge, telegram).await;
    let link = login_link(&scene).await;
    let browser = Browser::start().await;

    browser.goto(&link).await;
    let mut pages = vec![browser.wait_for("Continue").await];
    assert!(pages[0].contains("full access"));
    browser.click("button").await;
    pages.push(
        browser
            .wait_for("phone number of your Telegram account")
            .await,
    );
    assert!(
        !browser.url().await.contains(&link),
        "the link is left behind"
    );
    browser.submit("#phone", PHONE).await;
    pages.push(
        browser
            .wait_for("sent a login code (8 digits) for +49")
            .await,
    );
    browser.submit("#code", "13579").await;
    pages.push(browser.wait_for("not correct (2 attempts left)").await);
    browser.submit("#code", CODE).await;
    pages.push(browser.wait_for("Hint: the horse one").await);
    browser.submit("#password", PASSWORD).await;
    pages.push(
        browser
            .wait_for("now logged into Telegram as Ada Lovelace")
            .await,
    );

    scene.expect_logged_in_notice("Ada").await;
    assert_eq!(scene.telegram.account(), Some(scene.telegram.users[0]));
    for page in &pages {
        for secret in [PASSWORD, CODE, PHONE, PHONE_DIGITS] {
            assert!(
                !page.contains(secret),
                "{secret} echoed into a page:\n{page}"
            );
        }
    }
    let token = link.rsplit('/').next().unwrap();
    assert!(
        !scene.bridge.log().contains(token),
        "the link's token is logged"
    );
    assert!(!scene.bridge.log().contains(PASSWORD));

    // The used link is refused with a clear page.
    browser.goto(&link).await;
    browser.wait_for("already used").await;
}

async fn the_management_room_hands_the_password_step_to_the_browser(kind: HomeserverKind) {
    let (server, bridge) = bridge(kind, "whand").await;
    let telegram = fake_telegram_for(&bridge, vec![ada(Some(PASSWORD))]).await;
    let scene = Scene::start(server, bridge, telegram).await;

    login_link(&scene).await;
    scene.say(PHONE, "Telegram sent a login code").await;
    let (code_event, handover) = scene.say(CODE, "two-step verification password").await;
    assert!(handover.contains("tgbridge login"), "{handover}");
    let link = link_in(&handover);
    // The owner sends the password anyway: removed, not used.
    let (sent, _) = scene
        .say(PASSWORD, "without reading it as a password")
        .await;
    assert!(scene.is_redacted(&sent).await);
    assert!(scene.is_redacted(&code_event).await);

    let browser = Browser::start().await;
    browser.goto(&link).await;
    browser.wait_for("Continue").await;
    browser.click("button").await;
    browser.wait_for("Hint: the horse one").await;
    browser.submit("#password", "wrong-password").await;
    browser.wait_for("password is not correct").await;
    browser.submit("#password", PASSWORD).await;
    browser
        .wait_for("now logged into Telegram as Ada Lovelace")
        .await;
    scene.expect_logged_in_notice("Ada").await;
    assert_eq!(scene.telegram.account(), Some(scene.telegram.users[0]));

    let history = scene.history().await;
    assert!(
        !history.contains(PASSWORD),
        "the password is in the room's history"
    );
    assert!(!history.contains(CODE));
}

async fn the_browser_logs_in_a_bot_with_its_token(kind: HomeserverKind) {
    let (server, bridge) = bridge(kind, "wbot").await;
    let telegram = fake_telegram_for(&bridge, vec![bot()]).await;
    let scene = Scene::start(server, bridge, telegram).await;
    let link = login_link(&scene).await;

    let browser = Browser::start().await;
    browser.goto(&link).await;
    browser.wait_for("Continue").await;
    browser.click("button").await;
    browser.wait_for("Use bot token").await;
    browser.submit("#bot_token", "123:short").await;
    let refused = browser.wait_for("not a bot token").await;
    assert!(!refused.contains("123:short"));
    browser.submit("#bot_token", BOT_TOKEN).await;
    let done = browser
        .wait_for("now logged into Telegram as Relay Bot")
        .await;
    assert!(!done.contains(BOT_TOKEN));
    scene.expect_logged_in_notice("Relay Bot").await;
    assert_eq!(scene.telegram.account(), Some(scene.telegram.users[0]));
    assert!(!scene.bridge.log().contains(BOT_TOKEN));
}

async fn expired_links_and_forged_forms_are_refused(kind: HomeserverKind) {
    let (server, bridge) = bridge(kind, "wrefuse").await;
    let telegram = fake_telegram_for(&bridge, vec![ada(None)]).await;
    let scene = Scene::start(server, bridge, telegram).await;
    let browser = Browser::start().await;

    // This bridge's links live 3 seconds.
    let expired = login_link(&scene).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    browser.goto(&expired).await;
    browser.wait_for("Link expired").await;
    scene.say("cancel", "Login cancelled").await;

    // A form without the page's CSRF token is refused and burns nothing.
    let link = login_link(&scene).await;
    let http = reqwest::Client::new();
    let forged = http
        .post(&link)
        .form(&[("csrf", "not-the-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    assert!(forged.text().await.unwrap().contains("Form refused"));
    let no_session = http
        .post(format!("{}/login", scene.bridge.url()))
        .form(&[("csrf", "x"), ("step", "phone"), ("value", PHONE)])
        .send()
        .await
        .unwrap();
    assert_eq!(no_session.status().as_u16(), 404);

    browser.goto(&link).await;
    browser.wait_for("Continue").await;
    browser.click("button").await;
    browser
        .wait_for("phone number of your Telegram account")
        .await;
    // The browser's own session cookie with a wrong CSRF token is refused too.
    let cookies = browser
        .command(reqwest::Method::GET, "/cookie", Value::Null)
        .await;
    let session = cookies
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == "tgbridge_login")
        .unwrap_or_else(|| panic!("no session cookie: {cookies}"));
    assert_eq!(session["httpOnly"], true);
    let forged = http
        .post(format!("{}/login", scene.bridge.url()))
        .header(
            "cookie",
            format!("tgbridge_login={}", session["value"].as_str().unwrap()),
        )
        .form(&[
            ("csrf", "not-the-token"),
            ("step", "phone"),
            ("value", PHONE),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    let made_up = http
        .get(format!("{}/login/made-up-token", scene.bridge.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(made_up.status().as_u16(), 404);
    browser.goto(&link).await;
    browser.wait_for("already used").await;
}

// ---- nothing outlives a killed test process -----------------------------------

/// Marks every process the probe child starts: they inherit it through the
/// environment, so they can be found in `/proc` whoever their parent is now.
const PROBE_ENV: &str = "TGBRIDGE_TEST_ORPHAN_PROBE";

/// The processes whose environment holds `PROBE_ENV=marker`, with their
/// command lines.
fn marked_processes(marker: &str) -> Vec<(u32, String)> {
    let wanted = format!("{PROBE_ENV}={marker}");
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // Unreadable or gone meanwhile: not ours to judge.
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ
            .split(|b| *b == 0)
            .any(|var| var == wanted.as_bytes())
        {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            found.push((pid, cmdline));
        }
    }
    found
}

/// A test process that started a bridge and a browser the way the tests
/// above do is killed with SIGKILL (no destructor runs): the bridge, the
/// browser's supervisor, chromedriver and every Chromium process must go
/// with it.
#[tokio::test]
async fn a_killed_test_process_leaves_no_bridge_or_browser_behind() {
    let marker = testkit::unique_localpart("probe");
    let mut command = Command::new(std::env::current_exe().expect("this test binary"));
    command
        .args([
            "--exact",
            "orphan_probe_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PROBE_ENV, &marker)
        .stdout(Stdio::piped());
    // Tied itself, so that a failure here does not leave it waiting.
    let mut child = testkit::spawn_tied(command).expect("start the probe child");
    let stdout = std::io::BufReader::new(child.stdout.take().expect("piped stdout"));
    let ready = tokio::task::spawn_blocking(move || {
        use std::io::BufRead as _;
        stdout
            .lines()
            .map_while(Result::ok)
            // libtest may have begun the line with "test orphan_probe_child ... ".
            .any(|line| line.ends_with("PROBE READY"))
    })
    .await
    .expect("reading the probe child");
    if !ready {
        let status = child.wait();
        panic!("the probe child ended before starting everything: {status:?}");
    }

    let running = marked_processes(&marker);
    let listed = |processes: &[(u32, String)]| {
        processes
            .iter()
            .map(|(pid, cmdline)| format!("  {pid} {cmdline}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let has = |needle: &str| running.iter().any(|(_, cmdline)| cmdline.contains(needle));
    assert!(
        has("chromedriver --port") && has("--user-data-dir") && has(" run"),
        "the probe child should be running a bridge, chromedriver and Chromium:\n{}",
        listed(&running)
    );

    child.kill().expect("SIGKILL the probe child");
    child.wait().expect("reap the probe child");

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = marked_processes(&marker);
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} processes outlived the killed test process:\n{}",
            left.len(),
            running.len(),
            listed(&left)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The child half of `a_killed_test_process_leaves_no_bridge_or_browser_behind`:
/// starts a bridge and a browser, says so, and waits to be killed.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "run by a_killed_test_process_leaves_no_bridge_or_browser_behind"]
async fn orphan_probe_child() {
    assert!(
        std::env::var_os(PROBE_ENV).is_some(),
        "orphan_probe_child only runs as the child of a_killed_test_process_leaves_no_bridge_or_browser_behind"
    );
    // No homeserver listens on that port: the bridge keeps running and
    // retrying, which is all the probe needs.
    let homeserver_port = free_port().expect("a free port");
    let mut bridge = BridgeInstance::prepare("probe", homeserver_port);
    bridge.start();
    let browser = Browser::start().await;
    browser.goto("about:blank").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(bridge.is_running(), "{}", bridge.log_tail());
    println!("PROBE READY");
    // The parent kills this process; nothing here ends on its own.
    tokio::time::sleep(Duration::from_secs(120)).await;
    drop(browser);
    panic!("the probe child was not killed within 120 s");
}
