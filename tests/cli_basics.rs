//! `--help`, `--version`, and the commands this version does not implement.

mod cli_support;

use cli_support::run_in;

#[test]
fn version_prints_name_and_crate_version() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["--version"]);
    assert_eq!(out.code, Some(0));
    assert_eq!(
        out.stdout.trim(),
        format!("tgbridge {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_lists_every_command_and_the_config_option() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["--help"]);
    assert_eq!(out.code, Some(0));
    for word in [
        "run",
        "login",
        "logout",
        "generate-registration",
        "check",
        "--config",
        "TGBRIDGE_CONFIG",
    ] {
        assert!(
            out.stdout.contains(word),
            "help lacks {word}:\n{}",
            out.stdout
        );
    }
    let out = run_in(dir.path(), &["login", "--help"]);
    assert_eq!(out.code, Some(0));
    assert!(
        out.stdout.contains("--bot-token") && out.stdout.contains("--qr"),
        "{}",
        out.stdout
    );
    let out = run_in(dir.path(), &["generate-registration", "--help"]);
    assert!(out.stdout.contains("--output"), "{}", out.stdout);
}

#[test]
fn no_command_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &[]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("Usage"), "{}", out.stderr);
}

#[test]
fn commands_without_a_config_say_so_and_fail() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [&[&str]; 5] = [
        &["run"],
        &["login"],
        &["login", "--bot-token"],
        &["login", "--qr"],
        &["logout"],
    ];
    for args in cases {
        let out = run_in(dir.path(), args);
        assert_eq!(out.code, Some(1), "{args:?}: {out:?}");
        assert!(
            out.stderr.contains("cannot read the config file"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
    }
}

#[test]
fn bot_token_and_qr_exclude_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["login", "--bot-token", "--qr"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("cannot be used with"), "{}", out.stderr);
}
