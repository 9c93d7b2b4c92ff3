//! Starting, supervising and addressing one real Synapse process.
//!
//! Owns the server's data directory, its process and its log; knows nothing
//! about the bridge beyond the registration files it is handed.

mod config;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use hmac::{KeyInit as _, Mac as _};
use rand::RngCore as _;
use serde_json::{json, Map, Value};

use crate::client::{string_field, ApiClient};
use crate::process::{
    provision_cache, random_secret, tail, wait_until_ready, LogOnPanic, Supervised, LOG_TAIL_LINES,
};
use crate::{free_port, Error, Result, TestUser};

/// Environment variable naming the python interpreter of a venv with
/// matrix-synapse installed (`./test.sh` sets it).
pub const PYTHON_ENV: &str = "TGBRIDGE_TEST_SYNAPSE_PYTHON";

const SUPERVISOR: &str = include_str!("supervise.py");

/// How to start a Synapse.
#[derive(Clone, Debug, Default)]
pub struct SynapseOptions {
    /// Appservice registration files to load. Synapse reads them only at
    /// start, so every registration a test binary needs goes here.
    pub registrations: Vec<PathBuf>,
    /// Port of the client listener on 127.0.0.1; a free one when `None`.
    /// Useful when a config written before the start must name the server.
    pub port: Option<u16>,
    /// Top-level `homeserver.yaml` keys replacing the sealed defaults
    /// (e.g. `presence` for a presence test).
    pub extra_config: Map<String, Value>,
}

/// A running Synapse. Dropping it stops the server; a process that exits
/// without dropping it (a shared `static`, a panic, a kill) stops it too,
/// because the supervisor watches the pipe this value holds.
pub struct Synapse {
    base_url: String,
    shared_secret: String,
    data_dir: PathBuf,
    log_path: PathBuf,
    /// The venv interpreter, kept for [`Synapse::restart`].
    python: PathBuf,
    /// `None` while stopped by [`Synapse::stop`] and while dropping.
    process: Option<Supervised>,
}

impl Synapse {
    /// Starts Synapse with the given registrations and waits until its client
    /// API answers. Fails with the log's tail if it exits or never answers.
    pub async fn start(options: SynapseOptions) -> Result<Synapse> {
        let python = synapse_python()?;
        let data_dir = tempfile::Builder::new()
            .prefix("tgbridge-synapse-")
            .tempdir()
            .map_err(|e| {
                Error::io(
                    "creating a temporary directory for",
                    std::env::temp_dir(),
                    e,
                )
            })?
            // The supervisor removes it once Synapse has stopped.
            .keep();
        let port = match options.port {
            Some(port) => port,
            None => free_port().map_err(|e| Error::io("finding a free port on", "127.0.0.1", e))?,
        };
        let shared_secret = random_secret();
        write_config(&data_dir, port, &shared_secret, &options)?;

        let log_path = data_dir.join("synapse.log");
        let started = Instant::now();
        let mut supervised = spawn(&python, &data_dir, &log_path)?;
        let base_url = format!("http://127.0.0.1:{port}");
        if let Err(reason) = wait_until_ready(&base_url, &mut supervised.child).await {
            supervised.stop(true);
            return Err(Error::Startup {
                server: "Synapse",
                reason,
                log_tail: tail(&log_path, LOG_TAIL_LINES),
                log_path,
            });
        }
        // Shown with the output of a failing test: a slow start explains a lot.
        eprintln!(
            "Synapse ready at {base_url} in {:.1?} (data and log in {})",
            started.elapsed(),
            data_dir.display()
        );
        Ok(Synapse {
            base_url,
            shared_secret,
            data_dir,
            log_path,
            python,
            process: Some(supervised),
        })
    }

    /// Stops Synapse and waits until it has exited, keeping its data
    /// directory, log and port: a homeserver outage. [`Synapse::restart`]
    /// brings it back. Stopping a stopped server does nothing.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut supervised) = self.process.take() else {
            return Ok(());
        };
        supervised.stop(true);
        supervised
            .child
            .wait()
            .map_err(|e| Error::io("waiting for", &self.python, e))?;
        Ok(())
    }

    /// Starts a stopped Synapse again on the same port with the same data
    /// directory (users, rooms and queued appservice transactions survive)
    /// and waits until its client API answers. Does nothing if it runs.
    pub async fn restart(&mut self) -> Result<()> {
        if self.process.is_some() {
            return Ok(());
        }
        let mut supervised = spawn(&self.python, &self.data_dir, &self.log_path)?;
        if let Err(reason) = wait_until_ready(&self.base_url, &mut supervised.child).await {
            supervised.stop(true);
            return Err(Error::Startup {
                server: "Synapse",
                reason,
                log_tail: tail(&self.log_path, LOG_TAIL_LINES),
                log_path: self.log_path.clone(),
            });
        }
        self.process = Some(supervised);
        Ok(())
    }

    /// Whether Synapse is running (not stopped by [`Synapse::stop`]).
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

    /// The server's data directory (database, media, config, log).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Synapse's log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `lines` lines of Synapse's log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log_path, lines)
    }

    /// A guard that prints the end of Synapse's log if the test panics while
    /// it is alive: hold one for the length of each test.
    pub fn log_on_panic(&self) -> LogOnPanic<'_> {
        LogOnPanic {
            server: "Synapse",
            log_path: &self.log_path,
        }
    }

    /// A client for this server, authenticated with `token` when given (an
    /// appservice's `as_token`, a user's access token).
    pub fn client(&self, token: Option<&str>) -> ApiClient {
        ApiClient::new(self.base_url.clone(), token.map(str::to_owned))
    }

    /// Registers a user through the shared-secret admin API and logs it in.
    /// Use [`crate::unique_localpart`] so tests sharing a server never clash.
    pub async fn register_user(&self, localpart: &str, admin: bool) -> Result<TestUser> {
        const PATH: &str = "/_synapse/admin/v1/register";
        let api = self.client(None);
        let nonce = string_field(
            &api.ok(reqwest::Method::GET, PATH, None).await?,
            "nonce",
            "GET /_synapse/admin/v1/register",
        )?;
        let password = random_secret();
        let mac = registration_mac(&self.shared_secret, &nonce, localpart, &password, admin);
        let body = json!({
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac,
        });
        let registered = api.ok(reqwest::Method::POST, PATH, Some(&body)).await?;
        let what = "POST /_synapse/admin/v1/register";
        Ok(TestUser::new(
            self.base_url.clone(),
            string_field(&registered, "user_id", what)?,
            string_field(&registered, "access_token", what)?,
        ))
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        if let Some(mut supervised) = self.process.take() {
            supervised.stop(false);
            // Reap the supervisor off the test's thread: Synapse takes a
            // moment to shut down and nothing here needs to wait for it.
            std::thread::spawn(move || supervised.child.wait());
        }
    }
}

/// Finds the python of the provisioned Synapse venv: the environment
/// variable first, then the venv `./test.sh` last provisioned.
fn synapse_python() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(PYTHON_ENV) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Error::NotProvisioned {
                reason: format!("{PYTHON_ENV}={} does not exist", path.display()),
                env: PYTHON_ENV,
            })
        };
    }
    let cached = provisioned_venv_python();
    match cached {
        Some(path) if path.is_file() => Ok(path),
        Some(path) => Err(Error::NotProvisioned {
            reason: format!(
                "{PYTHON_ENV} is not set and {} does not exist",
                path.display()
            ),
            env: PYTHON_ENV,
        }),
        None => Err(Error::NotProvisioned {
            reason: format!("{PYTHON_ENV} is not set and there is no HOME to find a cache in"),
            env: PYTHON_ENV,
        }),
    }
}

/// The venv `./test.sh` last provisioned.
fn provisioned_venv_python() -> Option<PathBuf> {
    Some(
        provision_cache()?
            .join("synapse-current")
            .join("bin")
            .join("python"),
    )
}

fn write_config(
    data_dir: &Path,
    port: u16,
    shared_secret: &str,
    options: &SynapseOptions,
) -> Result<()> {
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let signing_key = data_dir.join("signing.key");
    fs::write(&signing_key, config::signing_key_file(&seed))
        .map_err(|e| Error::io("writing", signing_key, e))?;

    let config = config::homeserver_config(&config::ConfigInputs {
        data_dir,
        port,
        registration_shared_secret: shared_secret,
        macaroon_secret_key: &random_secret(),
        form_secret: &random_secret(),
        registrations: &options.registrations,
        extra: &options.extra_config,
    });
    let path = data_dir.join("homeserver.yaml");
    let text = serde_json::to_string_pretty(&config).unwrap_or_else(|_| config.to_string());
    fs::write(&path, text).map_err(|e| Error::io("writing", path, e))
}

fn spawn(python: &Path, data_dir: &Path, log_path: &Path) -> Result<Supervised> {
    // Appended, so a restart keeps the log of the run before it.
    let log = File::options()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|e| Error::io("opening", log_path, e))?;
    let log_err = log
        .try_clone()
        .map_err(|e| Error::io("duplicating", log_path, e))?;
    let child = Command::new(python)
        .arg("-c")
        .arg(SUPERVISOR)
        .arg(data_dir)
        .arg(data_dir.join("homeserver.yaml"))
        .current_dir(data_dir)
        .stdin(Stdio::piped())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| Error::io("running", python, e))?;
    Ok(Supervised::new(child))
}

/// `hex(HMAC-SHA1(secret, nonce \0 user \0 password \0 admin|notadmin))`,
/// as Synapse's shared-secret registration expects.
fn registration_mac(secret: &str, nonce: &str, user: &str, password: &str, admin: bool) -> String {
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
        // HMAC is defined for keys of any length.
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    for (i, part) in [nonce, user, password].iter().enumerate() {
        if i > 0 {
            mac.update(b"\0");
        }
        mac.update(part.as_bytes());
    }
    mac.update(b"\0");
    mac.update(if admin { b"admin" } else { b"notadmin" });
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_mac_matches_synapse_reference() {
        // Python: hmac.new(b"secret", b"nonce\0alice\0pw\0notadmin", hashlib.sha1).hexdigest()
        assert_eq!(
            registration_mac("secret", "nonce", "alice", "pw", false),
            "f9b5e1dbfecb7b1d1b89cbd7a2fd60853cf609f4"
        );
        assert_eq!(
            registration_mac("secret", "nonce", "alice", "pw", true),
            "d7b3ebc9fec30d9bed19eb81e3902aa4ad214333"
        );
    }
}
