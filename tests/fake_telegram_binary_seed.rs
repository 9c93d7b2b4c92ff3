//! The `fake-telegram` binary seeds a tgbridge database and the real
//! `tgbridge` binary then talks MTProto to the fake with it: black-box, two
//! processes, the way benchmarks and end-to-end tests use them.

mod cli_support;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use cli_support::{config_text, run, tgbridge, write_config};

/// Nothing listens here: `tgbridge check` only has to create the database.
const NO_HOMESERVER: &str = "http://127.0.0.1:9";

/// Kills the fake when the test ends, pass or fail.
struct Fake {
    child: Child,
    control: String,
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds the `fake-telegram` binary into the target dir of this test's
/// `tgbridge` binary (the root package cannot name another package's binary
/// through `CARGO_BIN_EXE_*`) and returns its path. Fails loudly.
fn fake_telegram_binary() -> PathBuf {
    let tgbridge = Path::new(env!("CARGO_BIN_EXE_tgbridge"));
    let profile_dir = tgbridge
        .parent()
        .expect("the tgbridge binary is in a directory");
    let target_dir = profile_dir
        .parent()
        .expect("the profile dir is in a target dir");
    let status = Command::new(env!("CARGO"))
        .args(["build", "-p", "fake-telegram", "--bin", "fake-telegram"])
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the fake-telegram binary failed");
    let binary = profile_dir.join("fake-telegram");
    assert!(
        binary.exists(),
        "no fake-telegram binary at {}",
        binary.display()
    );
    binary
}

/// The first YAML block of the fake's README: the documented world file.
fn readme_world() -> String {
    let readme = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/fake-telegram/README.md"
    ))
    .expect("the fake's README");
    let start = readme
        .find("```yaml\n")
        .expect("README has a yaml world file")
        + 8;
    let len = readme[start..].find("```").expect("the yaml block ends");
    readme[start..start + len].to_string()
}

/// Starts the fake with `args` and waits for its announcement line.
fn start_fake(binary: &Path, args: &[&std::ffi::OsStr]) -> Fake {
    let mut command = Command::new(binary);
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = testkit::spawn_tied(command).expect("the fake-telegram binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("read the announcement");
    if line.is_empty() {
        let output = child.wait_with_output().expect("the fake exits");
        panic!(
            "fake-telegram exited before announcing: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let announced: Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad first line {line:?}: {e}"));
    Fake {
        child,
        control: announced["control"]
            .as_str()
            .expect("control URL")
            .to_owned(),
    }
}

/// The fake's request log: `(method, account)` per answered call.
fn calls(fake: &Fake) -> Vec<(String, Option<i64>)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let log: Vec<Value> = runtime.block_on(async {
        reqwest::get(format!("{}/calls", fake.control))
            .await
            .expect("GET /calls")
            .json()
            .await
            .expect("a JSON request log")
    });
    log.iter()
        .map(|call| {
            (
                call["method"].as_str().unwrap_or_default().to_owned(),
                call["account"].as_i64(),
            )
        })
        .collect()
}

#[test]
fn tgbridge_logs_in_and_out_through_a_database_the_fake_binary_seeded() {
    let fake_binary = fake_telegram_binary();
    let dir = tempfile::tempdir().expect("temp dir");
    let world = dir.path().join("world.yaml");
    std::fs::write(&world, readme_world()).expect("write the world file");
    write_config(dir.path(), &config_text(NO_HOMESERVER, dir.path()));
    let database = dir.path().join("tgbridge.db");

    // Seeding refuses a database that does not exist yet, and says how to
    // create it.
    let refused = Command::new(&fake_binary)
        .arg("--world")
        .arg(&world)
        .arg("--seed-tgbridge-db")
        .arg(&database)
        .output()
        .expect("the fake-telegram binary starts");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("does not exist") && stderr.contains("tgbridge check"),
        "{stderr}"
    );
    assert!(!database.exists(), "seeding must not create the database");

    // Step 1: tgbridge creates its database (the homeserver step fails).
    let check = run(tgbridge(dir.path()).arg("check"));
    assert!(
        database.exists(),
        "check created no database: {}",
        check.all_output()
    );

    // Step 2: the fake points it at itself, logged into `me` (Alice).
    let fake = start_fake(
        &fake_binary,
        &[
            "--world".as_ref(),
            world.as_os_str(),
            "--seed-tgbridge-db".as_ref(),
            database.as_os_str(),
            "--seed-account".as_ref(),
            "me".as_ref(),
        ],
    );
    let mode = std::fs::metadata(&database)
        .expect("database")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the database stays owner-only");
    assert!(calls(&fake).is_empty(), "nothing has connected yet");

    // The seeded key is logged in at the fake but no self user is stored:
    // `tgbridge login` asks Telegram who it is and stores the login.
    let login = run(tgbridge(dir.path()).arg("login").stdin(Stdio::null()));
    assert_eq!(login.code, Some(0), "{}", login.all_output());
    assert!(
        login
            .stdout
            .contains("already accepted an earlier, interrupted login"),
        "{}",
        login.all_output()
    );
    assert!(
        login.all_output().contains("Alice"),
        "{}",
        login.all_output()
    );
    let after_login = calls(&fake);
    let alice = after_login
        .iter()
        .find_map(|(_, account)| *account)
        .expect("calls made as a logged-in account");
    assert!(
        after_login
            .iter()
            .all(|(_, account)| *account == Some(alice)),
        "every call came over the seeded key: {after_login:?}"
    );
    assert!(
        !after_login
            .iter()
            .any(|(method, _)| method.starts_with("auth.")),
        "no login flow ran: {after_login:?}"
    );

    // Asked again, tgbridge reports the stored login after asking the fake.
    let again = run(tgbridge(dir.path()).arg("login").stdin(Stdio::null()));
    assert_ne!(again.code, Some(0));
    assert!(
        again.stderr.contains("already logged in to Telegram as"),
        "{}",
        again.all_output()
    );
    assert!(
        calls(&fake).len() > after_login.len(),
        "the second login asked the fake"
    );

    // And `tgbridge logout` ends the session at the fake (logged once
    // answered, when the key belongs to nobody any more).
    let logout = run(tgbridge(dir.path()).arg("logout"));
    assert_eq!(logout.code, Some(0), "{}", logout.all_output());
    assert!(
        calls(&fake)
            .iter()
            .any(|(method, _)| method == "auth.logOut"),
        "logout reached the fake: {:?}",
        calls(&fake)
    );
}
