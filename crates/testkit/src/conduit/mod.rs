//! Starting, supervising and addressing one real Conduit process.
//!
//! Owns the server's data directory, its process, its log and the admin user
//! the kit registers first (Conduit makes the first user its admin); knows
//! nothing about the bridge beyond the registration files it is handed,
//! which it registers through the admin room as Conduit's operators do.

mod config;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::client::{segment, string_field, ApiClient};
use crate::process::{
    provision_cache, random_secret, tail, wait_until_ready, LogOnPanic, Supervised, LOG_TAIL_LINES,
};
use crate::{free_port, Error, Result, TestUser};

/// Environment variable naming the Conduit binary (`./test.sh` sets it).
pub const CONDUIT_ENV: &str = "TGBRIDGE_TEST_CONDUIT";

const SUPERVISOR: &str = include_str!("supervise.sh");

/// The localpart of the first user, whom Conduit makes its admin.
const ADMIN_LOCALPART: &str = "testadmin";

/// How long Conduit's admin bot may take to answer a command.
const ADMIN_ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// What the admin bot says once an appservice is registered.
const REGISTERED: &str = "Appservice registered with ID";

/// How to start a Conduit.
#[derive(Clone, Debug, Default)]
pub struct ConduitOptions {
    /// Port of the client listener on 127.0.0.1; a free one when `None`.
    pub port: Option<u16>,
    /// Conduit's `max_request_size`, which also bounds uploads; Conduit's
    /// default (20 MB) when `None`.
    pub max_request_size: Option<u64>,
}

/// A running Conduit with its admin user. Dropping it stops the server; a
/// process that exits without dropping it (a shared `static`, a panic, a
/// kill) stops it too, because the supervisor watches the pipe this value
/// holds.
pub struct Conduit {
    base_url: String,
    registration_token: String,
    data_dir: PathBuf,
    log_path: PathBuf,
    /// The binary, kept for [`Conduit::restart`].
    binary: PathBuf,
    /// The first registered user: Conduit's admin, joined to the admin room.
    admin: TestUser,
    /// `#admins:localhost`, where appservices are registered.
    admin_room: String,
    /// `None` while stopped by [`Conduit::stop`] and while dropping.
    process: Option<Supervised>,
}

impl Conduit {
    /// Starts Conduit, waits until its client API answers and registers the
    /// admin user. Fails with the log's tail if it exits or never answers.
    pub async fn start(options: ConduitOptions) -> Result<Conduit> {
        let binary = conduit_binary()?;
        let data_dir = tempfile::Builder::new()
            .prefix("tgbridge-conduit-")
            .tempdir()
            .map_err(|e| {
                Error::io(
                    "creating a temporary directory for",
                    std::env::temp_dir(),
                    e,
                )
            })?
            // The supervisor removes it once Conduit has stopped.
            .keep();
        let port = match options.port {
            Some(port) => port,
            None => free_port().map_err(|e| Error::io("finding a free port on", "127.0.0.1", e))?,
        };
        let registration_token = random_secret();
        write_config(&data_dir, port, &registration_token, &options)?;

        let log_path = data_dir.join("conduit.log");
        let started = Instant::now();
        let mut supervised = spawn(&binary, &data_dir, &log_path)?;
        let base_url = format!("http://127.0.0.1:{port}");
        if let Err(reason) = wait_until_ready(&base_url, &mut supervised.child).await {
            supervised.stop(true);
            return Err(startup_error(reason, &log_path));
        }
        let admin = match register(&base_url, &registration_token, ADMIN_LOCALPART).await {
            Ok(admin) => admin,
            Err(e) => {
                supervised.stop(true);
                return Err(e);
            }
        };
        let admin_room = match admin_room_of(&admin).await {
            Ok(room) => room,
            Err(e) => {
                supervised.stop(true);
                return Err(e);
            }
        };
        eprintln!(
            "Conduit ready at {base_url} in {:.1?} (data and log in {})",
            started.elapsed(),
            data_dir.display()
        );
        Ok(Conduit {
            base_url,
            registration_token,
            data_dir,
            log_path,
            binary,
            admin,
            admin_room,
            process: Some(supervised),
        })
    }

    /// Registers an appservice the way Conduit's operators do: the admin
    /// sends `@conduit:localhost: register-appservice` followed by the
    /// registration YAML in a code block to `#admins:localhost`, and Conduit's
    /// admin bot answers "Appservice registered with ID: …". Any other answer
    /// is an error carrying it.
    pub async fn register_appservice(&self, registration: &Path) -> Result<()> {
        let yaml =
            fs::read_to_string(registration).map_err(|e| Error::io("reading", registration, e))?;
        let body = format!(
            "@conduit:{}: register-appservice\n```\n{}\n```",
            self.server_name(),
            yaml.trim_end()
        );
        let command = self.admin.send_text(&self.admin_room, &body).await?;
        let answer = self.admin_answer_to(&command).await?;
        if answer.contains(REGISTERED) {
            Ok(())
        } else {
            Err(Error::AppserviceRefused {
                registration: registration.to_owned(),
                answer,
            })
        }
    }

    /// The body of the admin bot's first message after `command`.
    async fn admin_answer_to(&self, command: &str) -> Result<String> {
        let bot = format!("@conduit:{}", self.server_name());
        let deadline = Instant::now() + ADMIN_ANSWER_TIMEOUT;
        loop {
            // Newest first: whatever the bot said before reaching the
            // command is an answer to it.
            let recent = self.admin.room_messages(&self.admin_room, 20).await?;
            let answers: Vec<&Value> = recent
                .iter()
                .take_while(|e| e["event_id"] != command)
                .filter(|e| e["sender"] == bot.as_str() && e["type"] == "m.room.message")
                .collect();
            if let Some(body) = answers.last().and_then(|e| e["content"]["body"].as_str()) {
                return Ok(body.to_owned());
            }
            if Instant::now() > deadline {
                return Err(Error::Timeout {
                    what: format!("Conduit's admin bot to answer in {}", self.admin_room),
                    after: ADMIN_ANSWER_TIMEOUT,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops Conduit and waits until it has exited, keeping its data
    /// directory, log and port: a homeserver outage. [`Conduit::restart`]
    /// brings it back. Stopping a stopped server does nothing.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut supervised) = self.process.take() else {
            return Ok(());
        };
        supervised.stop(true);
        supervised
            .child
            .wait()
            .map_err(|e| Error::io("waiting for", &self.binary, e))?;
        Ok(())
    }

    /// Starts a stopped Conduit again on the same port with the same data
    /// directory (users, rooms, appservices and their pending events
    /// survive) and waits until its client API answers. Does nothing if it
    /// runs.
    pub async fn restart(&mut self) -> Result<()> {
        if self.process.is_some() {
            return Ok(());
        }
        // The marker of the previous requested stop would make the
        // supervisor remove the data after a crash.
        let _ = fs::remove_file(self.data_dir.join(".stopped"));
        let _ = fs::remove_file(self.data_dir.join(".keep"));
        let mut supervised = spawn(&self.binary, &self.data_dir, &self.log_path)?;
        if let Err(reason) = wait_until_ready(&self.base_url, &mut supervised.child).await {
            supervised.stop(true);
            return Err(startup_error(reason, &self.log_path));
        }
        self.process = Some(supervised);
        Ok(())
    }

    /// Whether Conduit is running (not stopped by [`Conduit::stop`]).
    pub fn is_running(&self) -> bool {
        self.process.is_some()
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The server name in user and room ids (`localhost`).
    pub fn server_name(&self) -> &str {
        config::SERVER_NAME
    }

    /// The server's data directory (database, config, log).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Conduit's log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `lines` lines of Conduit's log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log_path, lines)
    }

    /// A guard that prints the end of Conduit's log if the test panics while
    /// it is alive: hold one for the length of each test.
    pub fn log_on_panic(&self) -> LogOnPanic<'_> {
        LogOnPanic {
            server: "Conduit",
            log_path: &self.log_path,
        }
    }

    /// A client for this server, authenticated with `token` when given.
    pub fn client(&self, token: Option<&str>) -> ApiClient {
        ApiClient::new(self.base_url.clone(), token.map(str::to_owned))
    }

    /// The admin user (the first one registered), joined to the admin room.
    pub fn admin(&self) -> &TestUser {
        &self.admin
    }

    /// The id of `#admins:localhost`.
    pub fn admin_room(&self) -> &str {
        &self.admin_room
    }

    /// Registers a user through `/register` with the registration token and
    /// logs it in. Use [`crate::unique_localpart`] so tests sharing a server
    /// never clash.
    pub async fn register_user(&self, localpart: &str) -> Result<TestUser> {
        register(&self.base_url, &self.registration_token, localpart).await
    }
}

impl Drop for Conduit {
    fn drop(&mut self) {
        if let Some(mut supervised) = self.process.take() {
            supervised.stop(false);
            std::thread::spawn(move || supervised.child.wait());
        }
    }
}

/// `/register` with `m.login.registration_token`: the first call opens the
/// user-interactive session, the second completes it with the token.
async fn register(base_url: &str, token: &str, localpart: &str) -> Result<TestUser> {
    const PATH: &str = "/_matrix/client/v3/register";
    let api = ApiClient::new(base_url, None);
    let password = random_secret();
    let mut body = json!({ "username": localpart, "password": password });
    let opened = api.call(Method::POST, PATH, Some(&body)).await?;
    let session = string_field(&opened.body, "session", "POST /register (opening UIA)")?;
    body["auth"] = json!({
        "type": "m.login.registration_token",
        "token": token,
        "session": session,
    });
    let registered = api.ok(Method::POST, PATH, Some(&body)).await?;
    let what = "POST /register";
    Ok(TestUser::new(
        base_url.to_owned(),
        string_field(&registered, "user_id", what)?,
        string_field(&registered, "access_token", what)?,
    ))
}

/// The admin room's id; Conduit joins its first user to it.
async fn admin_room_of(admin: &TestUser) -> Result<String> {
    let alias = format!("#admins:{}", config::SERVER_NAME);
    let path = format!("/_matrix/client/v3/directory/room/{}", segment(&alias));
    let found = admin.api().ok(Method::GET, &path, None).await?;
    string_field(&found, "room_id", "GET /directory/room/#admins")
}

fn startup_error(reason: String, log_path: &Path) -> Error {
    Error::Startup {
        server: "Conduit",
        reason,
        log_tail: tail(log_path, LOG_TAIL_LINES),
        log_path: log_path.to_owned(),
    }
}

/// Finds the Conduit binary: the environment variable first, then the one
/// `./test.sh` last unpacked.
fn conduit_binary() -> Result<PathBuf> {
    let not_provisioned = |reason: String| Error::ConduitNotProvisioned {
        reason,
        env: CONDUIT_ENV,
    };
    if let Some(path) = std::env::var_os(CONDUIT_ENV) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(not_provisioned(format!(
                "{CONDUIT_ENV}={} does not exist",
                path.display()
            )))
        };
    }
    match provision_cache().map(|dir| dir.join("conduit-current").join("conduit")) {
        Some(path) if path.is_file() => Ok(path),
        Some(path) => Err(not_provisioned(format!(
            "{CONDUIT_ENV} is not set and {} does not exist",
            path.display()
        ))),
        None => Err(not_provisioned(format!(
            "{CONDUIT_ENV} is not set and there is no HOME to find a cache in"
        ))),
    }
}

fn write_config(
    data_dir: &Path,
    port: u16,
    registration_token: &str,
    options: &ConduitOptions,
) -> Result<()> {
    let database_dir = data_dir.join("db");
    fs::create_dir_all(&database_dir).map_err(|e| Error::io("creating", &database_dir, e))?;
    let config = config::conduit_config(&config::ConfigInputs {
        database_dir: &database_dir,
        port,
        registration_token,
        max_request_size: options
            .max_request_size
            .unwrap_or(config::DEFAULT_MAX_REQUEST_SIZE),
    });
    let path = data_dir.join("conduit.toml");
    fs::write(&path, config).map_err(|e| Error::io("writing", path, e))
}

fn spawn(binary: &Path, data_dir: &Path, log_path: &Path) -> Result<Supervised> {
    // Appended, so a restart keeps the log of the run before it.
    let log = File::options()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|e| Error::io("opening", log_path, e))?;
    let log_err = log
        .try_clone()
        .map_err(|e| Error::io("duplicating", log_path, e))?;
    let child = Command::new("sh")
        .arg("-c")
        .arg(SUPERVISOR)
        .arg("supervise")
        .arg(data_dir)
        .arg(binary)
        .current_dir(data_dir)
        .stdin(Stdio::piped())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| Error::io("running sh to supervise", binary, e))?;
    Ok(Supervised::new(child))
}
