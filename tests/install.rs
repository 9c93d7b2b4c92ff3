//! `install.sh` run for real, unprivileged, into temporary roots: the layout
//! and modes it leaves, that a rerun changes nothing and never overwrites a
//! config, the next steps it prints, and that the unit it installs is one
//! systemd accepts.
//!
//! The build step is skipped with `--binary` (a release build takes
//! minutes), or given a stand-in `cargo` that reports a build the way cargo
//! does; everything else is the script a user runs.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BINARY: &str = env!("CARGO_BIN_EXE_tgbridge");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `install.sh --no-root --binary <test build> ARGS`, with `destdir`
/// as DESTDIR when given; fails the test (showing the output) unless it
/// succeeds.
fn install(args: &[&str], destdir: Option<&Path>) -> String {
    let output = run_install(args, destdir);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "install.sh {args:?} failed ({})\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn run_install(args: &[&str], destdir: Option<&Path>) -> Output {
    let mut command = Command::new("bash");
    command
        .arg(repo().join("install.sh"))
        .args(["--no-root", "--binary", BINARY])
        .args(args)
        .env_remove("DESTDIR");
    if let Some(dir) = destdir {
        command.env("DESTDIR", dir);
    }
    command.output().expect("running bash")
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Every entry under `root` with its mode, size, mtime and (for files) content.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (u32, u64, i64, i64, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let content = if meta.is_file() {
                fs::read(&path).unwrap()
            } else {
                Vec::new()
            };
            if meta.is_dir() {
                pending.push(path.clone());
            }
            out.insert(
                path,
                (
                    meta.mode(),
                    meta.len(),
                    meta.mtime(),
                    meta.mtime_nsec(),
                    content,
                ),
            );
        }
    }
    out
}

/// Fills in what a user must edit in the installed example config, the way
/// they would: only the keys the installer tells them about.
fn fill_in_config(path: &Path) {
    let text = fs::read_to_string(path).unwrap();
    let mut config: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let set = |config: &mut serde_yaml::Value, keys: &[&str], value: serde_yaml::Value| {
        let mut node = config;
        for key in &keys[..keys.len() - 1] {
            node = node
                .get_mut(*key)
                .unwrap_or_else(|| panic!("the example config has no `{key}`"));
        }
        node[keys[keys.len() - 1]] = value;
    };
    set(&mut config, &["telegram", "api_id"], 94575.into());
    set(
        &mut config,
        &["telegram", "api_hash"],
        "a3406de8d171bb422bb6ddf3bbd800e2".into(),
    );
    set(
        &mut config,
        &["homeserver", "address"],
        "http://127.0.0.1:8008".into(),
    );
    set(&mut config, &["homeserver", "domain"], "example.org".into());
    set(&mut config, &["owner"], "@owner:example.org".into());
    fs::write(path, serde_yaml::to_string(&config).unwrap()).unwrap();
}

#[test]
fn a_fresh_install_into_a_prefix_is_private_and_says_what_to_fill_in() {
    let root = tempfile::tempdir().unwrap();
    let prefix = root.path().join("opt");
    let out = install(&["--prefix", prefix.to_str().unwrap()], None);

    let binary = prefix.join("bin/tgbridge");
    assert_eq!(mode(&binary), 0o755);
    assert_eq!(fs::read(&binary).unwrap(), fs::read(BINARY).unwrap());

    let conf_dir = prefix.join("etc/tgbridge");
    let state_dir = prefix.join("var/lib/tgbridge");
    assert_eq!(mode(&conf_dir), 0o700);
    assert_eq!(mode(&state_dir), 0o700);
    let config = conf_dir.join("config.yaml");
    assert_eq!(mode(&config), 0o600, "the config holds secrets");
    let example = fs::read_to_string(repo().join("config.example.yaml")).unwrap();
    let installed = fs::read_to_string(&config).unwrap();
    assert_eq!(
        installed,
        example.replace("/var/lib/tgbridge", state_dir.to_str().unwrap()),
        "the config is the example with this install's data directory"
    );

    let unit = fs::read_to_string(prefix.join("etc/systemd/system/tgbridge.service")).unwrap();
    let exec = format!(
        "ExecStart={} --config {} run",
        binary.display(),
        config.display()
    );
    assert!(unit.contains(&exec), "{unit}");
    assert!(
        unit.contains(&format!("ReadWritePaths={}", state_dir.display())),
        "{unit}"
    );

    // The example's placeholders are refused, so no registration yet, and the
    // user is told what to edit and what to run afterwards.
    assert!(!conf_dir.join("registration.yaml").exists());
    for needed in [
        "telegram.api_id",
        "telegram.api_hash",
        "homeserver.address",
        "owner",
    ] {
        assert!(
            out.contains(needed),
            "next steps must name {needed}:\n{out}"
        );
    }
    assert!(
        out.contains(&format!(
            "--config {} generate-registration",
            config.display()
        )),
        "{out}"
    );
    // The bridge's own complaint is passed on, naming the file the user edits.
    for (at, _) in out.match_indices("/config.yaml") {
        assert!(
            out[..at].ends_with(conf_dir.to_str().unwrap()),
            "the output names a config other than {}:\n{out}",
            config.display()
        );
    }
}

#[test]
fn rerunning_changes_nothing_and_never_overwrites_the_config() {
    let root = tempfile::tempdir().unwrap();
    let prefix = root.path().join("opt");
    let prefix_arg = prefix.to_str().unwrap();
    install(&["--prefix", prefix_arg], None);

    let config = prefix.join("etc/tgbridge/config.yaml");
    let mut edited = fs::read_to_string(&config).unwrap();
    edited.push_str("\n# the owner's own note\n");
    fs::write(&config, &edited).unwrap();

    let before = snapshot(root.path());
    let out = install(&["--prefix", prefix_arg], None);
    let after = snapshot(root.path());
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (path, state) in &before {
        assert_eq!(
            Some(state),
            after.get(path),
            "{} changed on a rerun",
            path.display()
        );
    }
    assert!(out.contains("kept as is"), "{out}");
    assert_eq!(fs::read_to_string(&config).unwrap(), edited);
}

#[test]
fn a_filled_in_config_gets_a_registration_and_homeserver_instructions() {
    let root = tempfile::tempdir().unwrap();
    let prefix = root.path().join("opt");
    let prefix_arg = prefix.to_str().unwrap();
    install(&["--prefix", prefix_arg], None);
    let conf_dir = prefix.join("etc/tgbridge");
    fill_in_config(&conf_dir.join("config.yaml"));

    let out = install(&["--prefix", prefix_arg], None);
    let registration_path = conf_dir.join("registration.yaml");
    assert_eq!(
        mode(&registration_path),
        0o600,
        "the registration holds tokens"
    );
    assert_eq!(mode(&conf_dir.join("config.yaml")), 0o600);
    let registration: serde_yaml::Value =
        serde_yaml::from_str(&fs::read_to_string(&registration_path).unwrap()).unwrap();
    let as_token = registration["as_token"].as_str().unwrap_or_default();
    assert!(
        as_token.len() >= 32,
        "weak or missing as_token in {registration:?}"
    );
    assert!(registration["namespaces"]["users"]
        .as_sequence()
        .is_some_and(|s| !s.is_empty()));

    assert!(
        out.contains("app_service_config_files"),
        "Synapse steps missing:\n{out}"
    );
    assert!(
        out.contains("register-appservice"),
        "Conduit steps missing:\n{out}"
    );
    assert!(out.contains(registration_path.to_str().unwrap()), "{out}");
    assert!(
        !out.contains(as_token),
        "the installer must not print secrets"
    );

    // Generating again keeps the tokens: nothing changes any more.
    let before = snapshot(root.path());
    install(&["--prefix", prefix_arg], None);
    assert_eq!(
        before,
        snapshot(root.path()),
        "a rerun after registration changed files"
    );
}

#[test]
fn staging_with_destdir_writes_under_it_but_refers_to_final_paths() {
    let stage = tempfile::tempdir().unwrap();
    let out = install(&[], Some(stage.path()));
    let staged = |p: &str| stage.path().join(p.trim_start_matches('/'));

    assert_eq!(mode(&staged("/usr/local/bin/tgbridge")), 0o755);
    assert_eq!(mode(&staged("/etc/tgbridge/config.yaml")), 0o600);
    assert_eq!(mode(&staged("/var/lib/tgbridge")), 0o700);
    let unit = fs::read_to_string(staged("/etc/systemd/system/tgbridge.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/local/bin/tgbridge --config /etc/tgbridge/config.yaml run"),
        "{unit}"
    );
    assert!(out.contains("generate-registration"), "{out}");
}

#[test]
fn a_missing_binary_is_reported_not_installed() {
    let root = tempfile::tempdir().unwrap();
    let output = Command::new("bash")
        .arg(repo().join("install.sh"))
        .args(["--no-root", "--binary", "/nonexistent/tgbridge", "--prefix"])
        .arg(root.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/tgbridge"), "{stderr}");
    assert_eq!(
        fs::read_dir(root.path()).unwrap().count(),
        0,
        "nothing may be installed"
    );
}

/// Keys of a unit file as `(section, key, value)`, in order.
fn unit_entries(text: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
        } else {
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not a key=value line: {line}"));
            out.push((
                section.clone(),
                key.trim().to_owned(),
                value.trim().to_owned(),
            ));
        }
    }
    out
}

#[test]
fn the_installed_unit_is_hardened_and_systemd_accepts_it() {
    let root = tempfile::tempdir().unwrap();
    let prefix = root.path().join("opt");
    install(&["--prefix", prefix.to_str().unwrap()], None);
    let unit_path = prefix.join("etc/systemd/system/tgbridge.service");
    let entries = unit_entries(&fs::read_to_string(&unit_path).unwrap());
    let value = |section: &str, key: &str| {
        entries
            .iter()
            .find(|(s, k, _)| s == section && k == key)
            .map(|(_, _, v)| v.as_str())
            .unwrap_or_else(|| panic!("[{section}] {key}= missing"))
    };
    assert_eq!(value("Service", "User"), "tgbridge");
    assert_eq!(value("Service", "Restart"), "on-failure");
    assert!(value("Service", "RestartSec").ends_with('s'));
    for (key, expected) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
    ] {
        assert_eq!(value("Service", key), expected, "{key}");
    }
    let state_dir = prefix.join("var/lib/tgbridge");
    assert_eq!(
        value("Service", "ReadWritePaths"),
        state_dir.to_str().unwrap()
    );
    assert_eq!(value("Install", "WantedBy"), "multi-user.target");

    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit_path)
        .output();
    match verify {
        Ok(output) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            // verify exits 0 on unknown keys and bad values, which it only
            // reports as warnings: any output at all is a finding.
            assert!(
                output.status.success() && stderr.trim().is_empty(),
                "systemd-analyze verify {}: {}\n{stderr}",
                unit_path.display(),
                output.status
            );
            eprintln!("systemd-analyze verify: clean");
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("systemd-analyze is not installed: the unit was checked by parsing only");
        }
        Err(e) => panic!("running systemd-analyze: {e}"),
    }
}

/// The real thing as root: creates the system user, hands the config, the
/// registration and the data directory to it, and changes nothing on a rerun.
/// It runs in a private mount namespace whose /etc, /var, /usr/local and
/// /run are throwaway overlays, so the machine itself is left untouched.
#[test]
fn as_root_it_creates_the_user_and_gives_it_the_files() {
    let uid = Command::new("id").arg("-u").output().expect("running id");
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "this test needs root (as in CI): it installs for real inside a private mount namespace"
    );
    let scratch = tempfile::tempdir().unwrap();
    let layer = |name: &str| {
        let upper = scratch.path().join(name).join("upper");
        fs::create_dir_all(&upper).unwrap();
        fs::create_dir_all(scratch.path().join(name).join("work")).unwrap();
        upper
    };
    let (etc, var, local) = (layer("etc"), layer("var"), layer("usr-local"));
    // A config the owner already filled in (with a careless mode) is there
    // before the first run: what someone reinstalling has.
    fs::create_dir_all(etc.join("tgbridge")).unwrap();
    let config = etc.join("tgbridge/config.yaml");
    fs::copy(repo().join("config.example.yaml"), &config).unwrap();
    fill_in_config(&config);
    fs::set_permissions(&config, fs::Permissions::from_mode(0o644)).unwrap();

    let s = scratch.path().display();
    let script = format!(
        r#"set -e
for d in etc var usr-local; do
  target=/${{d/usr-local/usr/local}}
  mount -t overlay overlay -o lowerdir=$target,upperdir={s}/$d/upper,workdir={s}/$d/work $target
done
# Hide a running systemd: daemon-reload would reach the real one.
if [ -d /run/systemd ]; then mount -t tmpfs tmpfs /run/systemd; fi
bash {install} --binary {binary}
echo '--- second run'
bash {install} --binary {binary}
echo '--- state'
getent passwd tgbridge
stat -c '%U:%G %a %n' /etc/tgbridge /etc/tgbridge/config.yaml /etc/tgbridge/registration.yaml /var/lib/tgbridge /usr/local/bin/tgbridge /etc/systemd/system/tgbridge.service
"#,
        install = repo().join("install.sh").display(),
        binary = BINARY,
    );
    let output = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "bash", "-c", &script])
        .env_remove("DESTDIR")
        .output()
        .expect("running unshare (util-linux)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "install as root failed ({})\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let (first, rest) = stdout.split_once("--- second run").unwrap();
    let (second, state) = rest.split_once("--- state").unwrap();

    assert!(first.contains("user: tgbridge (created)"), "{first}");
    assert!(first.contains("app_service_config_files"), "{first}");
    assert!(first.contains("sudo -u tgbridge"), "{first}");
    assert!(second.contains("user: tgbridge (exists)"), "{second}");
    assert!(
        !second.contains("(installed)")
            && !second.contains("(updated)")
            && !second.contains("(created)"),
        "{second}"
    );

    let passwd = state
        .lines()
        .find(|l| l.starts_with("tgbridge:"))
        .expect("no tgbridge user");
    assert!(
        passwd.ends_with(":/var/lib/tgbridge:/usr/sbin/nologin"),
        "{passwd}"
    );
    for expected in [
        "tgbridge:tgbridge 700 /etc/tgbridge",
        "tgbridge:tgbridge 600 /etc/tgbridge/config.yaml",
        "tgbridge:tgbridge 600 /etc/tgbridge/registration.yaml",
        "tgbridge:tgbridge 700 /var/lib/tgbridge",
        "root:root 755 /usr/local/bin/tgbridge",
        "root:root 644 /etc/systemd/system/tgbridge.service",
    ] {
        assert!(
            state.lines().any(|l| l == expected),
            "expected `{expected}` in\n{state}"
        );
    }
    // Every change landed in the throwaway layers, not on the machine.
    let passwd_layer = fs::read_to_string(etc.join("passwd")).unwrap();
    assert!(
        passwd_layer.contains("tgbridge:"),
        "useradd wrote past the overlay"
    );
    assert!(local.join("bin/tgbridge").is_file() && var.join("lib/tgbridge").is_dir());
}

#[test]
fn without_cargo_it_says_where_rust_comes_from() {
    // A PATH with the basic tools the script needs, but no cargo.
    let bin = tempfile::tempdir().unwrap();
    for tool in ["bash", "dirname", "install", "cmp", "sed", "mktemp", "id"] {
        let found = Command::new("bash")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        let path = String::from_utf8_lossy(&found.stdout).trim().to_owned();
        assert!(!path.is_empty(), "{tool} is not installed here");
        std::os::unix::fs::symlink(path, bin.path().join(tool)).unwrap();
    }
    let root = tempfile::tempdir().unwrap();
    let output = Command::new(bin.path().join("bash"))
        .arg(repo().join("install.sh"))
        .args(["--no-root", "--prefix"])
        .arg(root.path())
        .env("PATH", bin.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cargo was not found"), "{stderr}");
    assert!(stderr.contains("https://rustup.rs"), "{stderr}");
    assert_eq!(
        fs::read_dir(root.path()).unwrap().count(),
        0,
        "nothing may be installed"
    );
}

/// A `cargo` for `install.sh` to find first on PATH: it records its
/// arguments and the CARGO_TARGET_DIR it was given, puts a copy of the test
/// build where cargo would (under that directory), and reports the build on
/// stdout in cargo's JSON message format when asked to: a build script, the
/// library and the bridge's binary. Only `build --release` is supported.
fn fake_cargo(dir: &Path) -> PathBuf {
    let calls = dir.join("calls");
    let script = format!(
        r#"#!/bin/bash
set -eu
printf '%s\n' "$*" "CARGO_TARGET_DIR=${{CARGO_TARGET_DIR:-}}" >>{calls}
[[ "$1" == build && " $* " == *" --release "* ]] ||
    {{ echo "fake cargo: unsupported: $*" >&2; exit 101; }}
out="${{CARGO_TARGET_DIR:?}}/release"
mkdir -p "$out/deps" "$out/build/rusqlite-1"
cp {binary} "$out/tgbridge"
echo "   Compiling tgbridge v0.1.0 ($PWD)" >&2
[[ " $* " == *" --message-format=json-render-diagnostics "* ]] || exit 0
pkg="path+file://$PWD#tgbridge@0.1.0"
echo '{{"reason":"compiler-artifact","package_id":"registry+https://github.com/rust-lang/crates.io-index#libsqlite3-sys@0.35.0","manifest_path":"/x/Cargo.toml","target":{{"kind":["custom-build"],"crate_types":["bin"],"name":"build-script-build","src_path":"/x/build.rs","edition":"2021","doc":false,"doctest":false,"test":false}},"profile":{{"opt_level":"s","debuginfo":0,"debug_assertions":false,"overflow_checks":false,"test":false}},"features":[],"filenames":["'"$out"'/build/rusqlite-1/build-script-build"],"executable":null,"fresh":true}}'
echo '{{"reason":"compiler-artifact","package_id":"'"$pkg"'","manifest_path":"'"$PWD"'/Cargo.toml","target":{{"kind":["lib"],"crate_types":["lib"],"name":"tgbridge","src_path":"'"$PWD"'/src/lib.rs","edition":"2021","doc":true,"doctest":true,"test":true}},"profile":{{"opt_level":"z","debuginfo":0,"debug_assertions":false,"overflow_checks":false,"test":false}},"features":[],"filenames":["'"$out"'/deps/libtgbridge-0.rlib"],"executable":null,"fresh":false}}'
echo '{{"reason":"compiler-artifact","package_id":"'"$pkg"'","manifest_path":"'"$PWD"'/Cargo.toml","target":{{"kind":["bin"],"crate_types":["bin"],"name":"tgbridge","src_path":"'"$PWD"'/src/main.rs","edition":"2021","doc":true,"doctest":false,"test":true}},"profile":{{"opt_level":"z","debuginfo":0,"debug_assertions":false,"overflow_checks":false,"test":false}},"features":[],"filenames":["'"$out"'/tgbridge"],"executable":"'"$out"'/tgbridge","fresh":false}}'
echo '{{"reason":"build-finished","success":true}}'
"#,
        calls = calls.display(),
        binary = BINARY,
    );
    let cargo = dir.join("cargo");
    fs::write(&cargo, script).unwrap();
    fs::set_permissions(&cargo, fs::Permissions::from_mode(0o755)).unwrap();
    calls
}

#[test]
fn the_build_step_installs_the_binary_from_wherever_cargo_put_it() {
    let tools = tempfile::tempdir().unwrap();
    let calls = fake_cargo(tools.path());
    let elsewhere = tempfile::tempdir().unwrap();
    let target_dir = elsewhere.path().join("cargo-target");
    let root = tempfile::tempdir().unwrap();
    let prefix = root.path().join("opt");
    let path = format!(
        "{}:{}",
        tools.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new("bash")
        .arg(repo().join("install.sh"))
        .args(["--no-root", "--prefix"])
        .arg(&prefix)
        .env("PATH", path)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("DESTDIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "install.sh failed ({})\n{stdout}\n{stderr}",
        output.status
    );

    let recorded = fs::read_to_string(&calls).unwrap();
    assert!(
        recorded.contains(&format!("CARGO_TARGET_DIR={}", target_dir.display())),
        "cargo ran without the user's CARGO_TARGET_DIR:\n{recorded}"
    );
    // The machine-readable report is on stdout only; the user still sees
    // cargo's progress.
    assert!(!stdout.contains("compiler-artifact"), "{stdout}");
    assert!(stderr.contains("Compiling tgbridge"), "{stderr}");

    let built = target_dir.join("release/tgbridge");
    let installed = prefix.join("bin/tgbridge");
    assert_eq!(mode(&installed), 0o755);
    assert_eq!(
        fs::read(&installed).unwrap(),
        fs::read(&built).unwrap(),
        "the installed binary is not the one cargo built"
    );
    let strip_found = Command::new("bash")
        .args(["-c", "command -v strip"])
        .output()
        .unwrap()
        .status
        .success();
    if strip_found {
        assert!(
            fs::metadata(&installed).unwrap().len() < fs::metadata(BINARY).unwrap().len(),
            "the binary cargo built was not stripped"
        );
    }
    // The rest of the install went on as usual.
    assert!(prefix.join("etc/tgbridge/config.yaml").is_file());
    assert!(stdout.contains("telegram.api_id"), "{stdout}");
    // Before building, the user learns what the build costs and how to skip it.
    let building = stdout
        .find("Building the release binary")
        .unwrap_or_else(|| panic!("no build step announced:\n{stdout}"));
    let notice = &stdout[building..];
    assert!(notice.contains("minutes"), "{notice}");
    assert!(notice.contains("1.3 GB"), "{notice}");
    assert!(notice.contains("--binary"), "{notice}");
}

#[test]
fn a_binary_built_elsewhere_is_installed_as_is_without_building() {
    // A cargo that would record any call: none may happen.
    let tools = tempfile::tempdir().unwrap();
    let calls = fake_cargo(tools.path());
    let elsewhere = tempfile::tempdir().unwrap();
    fs::copy(BINARY, elsewhere.path().join("tgbridge")).unwrap();
    let root = tempfile::tempdir().unwrap();
    let prefix = root.path().join("opt");
    let path = format!(
        "{}:{}",
        tools.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // A path relative to where the user runs the script.
    let output = Command::new("bash")
        .arg(repo().join("install.sh"))
        .args(["--no-root", "--binary", "./tgbridge", "--prefix"])
        .arg(&prefix)
        .current_dir(elsewhere.path())
        .env("PATH", path)
        .env_remove("DESTDIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "install.sh failed ({})\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !calls.exists(),
        "cargo was run: {:?}",
        fs::read_to_string(&calls)
    );
    assert!(stdout.contains("Using the binary"), "{stdout}");
    assert!(!stdout.contains("Building the release binary"), "{stdout}");
    let installed = prefix.join("bin/tgbridge");
    assert_eq!(mode(&installed), 0o755);
    assert_eq!(
        fs::read(&installed).unwrap(),
        fs::read(BINARY).unwrap(),
        "the given binary must be installed unchanged (not stripped, not rebuilt)"
    );
    assert!(prefix.join("etc/tgbridge/config.yaml").is_file());
}
