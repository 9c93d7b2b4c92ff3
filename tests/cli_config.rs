//! Config errors as the user sees them, and which config file is used.

mod cli_support;

use cli_support::{config_text, dir_with_config, line_of, run, run_in, tgbridge, EXAMPLE};

/// Runs `check` with `text` as `config.yaml` and returns stderr+stdout.
fn check_with(text: &str) -> (Option<i32>, String) {
    let dir = dir_with_config(text);
    let out = run_in(dir.path(), &["check"]);
    (out.code, out.all_output())
}

/// Runs `generate-registration` with `text` as `config.yaml`.
fn generate_with(text: &str) -> cli_support::Run {
    let dir = dir_with_config(text);
    run_in(dir.path(), &["generate-registration"])
}

fn valid() -> String {
    config_text("http://127.0.0.1:9", std::path::Path::new("/tmp"))
}

#[test]
fn missing_key_is_named() {
    let text = valid().replace("  api_hash: a1b2c3d4e5f60718293a4b5c6d7e8f90\n", "");
    let out = generate_with(&text);
    assert_eq!(out.code, Some(1));
    assert_eq!(
        out.stderr.trim(),
        "tgbridge: config.yaml: telegram.api_hash is missing"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_type_names_key_and_line() {
    let text = valid().replace("  port: 29317", "  port: abc");
    let line = line_of(&text, "port: abc");
    let out = generate_with(&text);
    assert_eq!(out.code, Some(1));
    assert_eq!(
        out.stderr.trim(),
        format!("tgbridge: config.yaml:{line}: appservice.port: invalid value \"abc\", expected a port number (1-65535)")
    );
}

#[test]
fn unknown_key_is_reported_with_line() {
    let text = valid().replace("  federate_rooms: true", "  federate_room: true");
    let line = line_of(&text, "federate_room:");
    let (code, output) = check_with(&text);
    assert_eq!(code, Some(1));
    assert!(
        output.contains(&format!(
            "FAIL config config.yaml:{line}: bridge.federate_room: unknown key"
        )),
        "{output}"
    );
    assert!(
        output.contains("federate_rooms"),
        "the valid keys are suggested: {output}"
    );
}

#[test]
fn placeholder_api_id_points_to_my_telegram_org() {
    let line = line_of(EXAMPLE, "api_id: 12345");
    let out = generate_with(EXAMPLE);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains(&format!(
            "config.yaml:{line}: telegram.api_id: 12345 is the placeholder"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("https://my.telegram.org/apps"),
        "{}",
        out.stderr
    );
}

#[test]
fn unreadable_config_gives_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["generate-registration"]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr
            .contains("config.yaml: cannot read the config file"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--config") && out.stderr.contains("TGBRIDGE_CONFIG"),
        "{}",
        out.stderr
    );
}

/// Each candidate config is broken in its own way so the error shows which
/// file was read.
#[test]
fn config_path_precedence() {
    let dir = tempfile::tempdir().unwrap();
    let broken = |name: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, "homeserver: {}\n").unwrap();
        path
    };
    let cwd_config = broken("config.yaml");
    let env_config = broken("from-env.yaml");
    let flag_config = broken("from-flag.yaml");
    let first_line = |out: cli_support::Run| out.stdout.lines().next().unwrap_or("").to_owned();

    let out = run_in(dir.path(), &["check"]);
    assert!(first_line(out).starts_with("FAIL config config.yaml:"));

    let out = run(tgbridge(dir.path())
        .env("TGBRIDGE_CONFIG", &env_config)
        .arg("check"));
    assert!(first_line(out).starts_with(&format!("FAIL config {}", env_config.display())));

    let out = run(tgbridge(dir.path())
        .env("TGBRIDGE_CONFIG", &env_config)
        .args([
            "--config".as_ref(),
            flag_config.as_os_str(),
            "check".as_ref(),
        ]));
    assert!(first_line(out).starts_with(&format!("FAIL config {}", flag_config.display())));

    // The flag is global: it may also follow the command.
    let out = run(tgbridge(dir.path())
        .arg("check")
        .arg("-c")
        .arg(&flag_config));
    assert!(first_line(out).starts_with(&format!("FAIL config {}", flag_config.display())));
    assert!(cwd_config.exists());
}
