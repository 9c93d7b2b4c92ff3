//! `tgbridge check`: validates the config, the appservice tokens, the
//! database and the homeserver connection, one line per step, and exits
//! non-zero if any step fails. It changes nothing except creating or
//! migrating the database, as `run` would.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde::Deserialize;

use super::{init_logging, EXIT_FAILURE};
use crate::config::Config;
use crate::matrix::registration::Registration;
use crate::store::Store;

/// How long the homeserver may take to answer `/versions`.
const HOMESERVER_TIMEOUT: Duration = Duration::from_secs(5);

/// The result of one step.
enum Outcome {
    Ok(String),
    Fail(String),
    Skip(String),
}

/// Prints step lines as they complete and remembers whether any failed.
#[derive(Default)]
struct Report {
    failed: bool,
}

impl Report {
    fn step(&mut self, name: &str, outcome: Outcome) {
        let line = match &outcome {
            Outcome::Ok(detail) => format!("ok   {name} {detail}"),
            Outcome::Fail(detail) => format!("FAIL {name} {detail}"),
            Outcome::Skip(detail) => format!("skip {name} {detail}"),
        };
        match outcome {
            Outcome::Ok(_) => tracing::debug!(step = name, "check passed"),
            Outcome::Fail(_) => tracing::debug!(step = name, "check failed"),
            Outcome::Skip(_) => tracing::debug!(step = name, "check skipped"),
        }
        if matches!(outcome, Outcome::Fail(_)) {
            self.failed = true;
        }
        let mut stdout = std::io::stdout().lock();
        // A closed stdout must not hide the verdict, which the exit code carries.
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    }
}

/// Runs all checks against the config at `config_path`.
pub fn run(config_path: &Path) -> ExitCode {
    let mut report = Report::default();
    let config = Config::load(config_path);
    init_logging(config.as_ref().map_or("info", |c| c.logging.level.as_str()));
    let config = match config {
        Ok(config) => {
            report.step("config", Outcome::Ok(config_path.display().to_string()));
            config
        }
        Err(err) => {
            report.step("config", Outcome::Fail(err.to_string()));
            for step in ["tokens", "database", "homeserver"] {
                report.step(step, Outcome::Skip("(needs a valid config)".to_owned()));
            }
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    report.step("tokens", check_tokens(&config));
    report.step("database", check_database(&config.database));
    report.step("homeserver", check_homeserver(&config.homeserver.address));
    if report.failed {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    }
}

/// Tokens are set, and match the registration file next to the config if
/// there is one (a mismatch makes every request fail with 401/403).
fn check_tokens(config: &Config) -> Outcome {
    let appservice = &config.appservice;
    for (key, token) in [
        ("as_token", &appservice.as_token),
        ("hs_token", &appservice.hs_token),
    ] {
        if token.is_empty() {
            return Outcome::Fail(format!(
                "appservice.{key} is empty: run `tgbridge generate-registration`"
            ));
        }
    }
    let path = config.registration_path();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Outcome::Ok(format!("set (no {} to compare with)", path.display()));
        }
        Err(err) => return Outcome::Fail(format!("cannot read {}: {err}", path.display())),
    };
    let registration: Registration = match serde_yaml::from_str(&text) {
        Ok(registration) => registration,
        Err(err) => {
            return Outcome::Fail(format!(
                "{} is not a valid registration ({err}): run `tgbridge generate-registration`",
                path.display()
            ))
        }
    };
    if registration.as_token != appservice.as_token || registration.hs_token != appservice.hs_token
    {
        return Outcome::Fail(format!(
            "{} has other tokens than the config: run `tgbridge generate-registration` and \
             register the new file with the homeserver",
            path.display()
        ));
    }
    Outcome::Ok(format!("set and matching {}", path.display()))
}

/// The database opens and is migrated to the schema this binary expects,
/// exactly as `run` would leave it.
fn check_database(path: &Path) -> Outcome {
    let shown = path.display();
    if let Some(owner) = foreign_owner_as_root(path, nix::unistd::geteuid()) {
        return Outcome::Fail(format!(
            "{shown}: not opened as root, which would leave files the service user {owner} cannot write; run `sudo -u {owner} tgbridge check`"
        ));
    }
    let store = match Store::open(path) {
        Ok(store) => store,
        Err(err) => return Outcome::Fail(format!("{shown}: {err}")),
    };
    match store.schema_version() {
        Ok(version) => Outcome::Ok(format!("{shown} (schema version {version})")),
        Err(err) => Outcome::Fail(format!("{shown}: cannot read the schema version: {err}")),
    }
}

/// Running as root next to a database (or data directory) that belongs to
/// another user — the service user — returns that user's name: opening the
/// database would create the file, its write-ahead log or shared-memory file
/// owned by root, and the service could no longer open it.
fn foreign_owner_as_root(path: &Path, euid: nix::unistd::Uid) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    if !euid.is_root() {
        return None;
    }
    let owner_uid = match std::fs::metadata(path) {
        Ok(file) => file.uid(),
        Err(_) => std::fs::metadata(path.parent()?).ok()?.uid(),
    };
    let uid = nix::unistd::Uid::from_raw(owner_uid);
    if uid.is_root() {
        return None;
    }
    let name = nix::unistd::User::from_uid(uid).ok().flatten();
    // sudo takes `#uid` for users without a name.
    Some(name.map_or_else(|| format!("#{owner_uid}"), |user| user.name))
}

/// The homeserver's answer to `/_matrix/client/versions`.
#[derive(Deserialize)]
struct Versions {
    versions: Vec<String>,
}

fn check_homeserver(address: &str) -> Outcome {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            return Outcome::Fail(format!("{address}: cannot start the async runtime: {err}"))
        }
    };
    match runtime.block_on(fetch_versions(address)) {
        Ok(versions) => Outcome::Ok(format!(
            "{address} answers (Matrix {})",
            versions
                .last()
                .map_or("versions: none listed", String::as_str)
        )),
        Err(reason) => Outcome::Fail(format!("{address}: {reason}")),
    }
}

async fn fetch_versions(address: &str) -> Result<Vec<String>, String> {
    let client = reqwest::Client::builder()
        .timeout(HOMESERVER_TIMEOUT)
        .build()
        .map_err(|err| format!("cannot build an HTTP client: {err}"))?;
    let url = format!("{address}/_matrix/client/versions");
    tracing::debug!(%url, "asking the homeserver for its versions");
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(describe_request_error)?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!(
            "GET /_matrix/client/versions answered HTTP {status}; is homeserver.address the client API?"
        ));
    }
    let versions: Versions = response.json().await.map_err(|err| {
        format!(
            "answered, but not with Matrix versions ({err}); is homeserver.address the client API?"
        )
    })?;
    Ok(versions.versions)
}

fn describe_request_error(err: reqwest::Error) -> String {
    if err.is_timeout() {
        format!("no answer within {} s", HOMESERVER_TIMEOUT.as_secs())
    } else if err.is_connect() {
        "cannot connect (is the homeserver running, and is homeserver.address right?)".to_owned()
    } else {
        format!("request failed: {err}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::unistd::Uid;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn root_does_not_open_a_database_of_another_user() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("tgbridge.db");
        let me = Uid::current();
        let (euid, expected_owner) = if me.is_root() {
            // A directory of another user, as the service user's data dir.
            nix::unistd::chown(dir.path(), Some(Uid::from_raw(65534)), None).unwrap();
            (me, 65534)
        } else {
            // Only root is affected; judge this user's directory as root would.
            (Uid::from_raw(0), me.as_raw())
        };
        let owner = foreign_owner_as_root(&db, euid).expect("refused");
        let named = nix::unistd::User::from_uid(Uid::from_raw(expected_owner))
            .unwrap()
            .map_or(format!("#{expected_owner}"), |u| u.name);
        assert_eq!(owner, named);
        if me.is_root() {
            let Outcome::Fail(message) = check_database(&db) else {
                panic!("root opened another user's database");
            };
            assert!(message.contains(&format!("sudo -u {named}")), "{message}");
            assert!(!db.exists(), "nothing was created");
        }
        assert_eq!(dir.path().metadata().unwrap().uid(), expected_owner);
    }

    #[test]
    fn the_owner_itself_opens_its_database() {
        let dir = tempfile::tempdir().unwrap();
        let me = Uid::current();
        assert_eq!(foreign_owner_as_root(&dir.path().join("t.db"), me), None);
    }
}
