//! `check` against a homeserver stand-in on 127.0.0.1: one line per step,
//! exit code 1 on any failure.

mod cli_support;

use cli_support::{
    config_text, dir_with_config, fake_homeserver, run_in, serve, write_config, Run,
};

/// A config directory with tokens generated and a registration written.
fn prepared(homeserver: &str) -> tempfile::TempDir {
    let dir = unprepared(homeserver);
    let out = run_in(dir.path(), &["generate-registration"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    dir
}

/// A config directory for `homeserver` with the tokens still empty.
fn unprepared(homeserver: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &config_text(homeserver, dir.path()));
    dir
}

/// Runs `check` in `dir`, which must fail.
fn check_fails(dir: &tempfile::TempDir) -> Run {
    let out = run_in(dir.path(), &["check"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    out
}

fn lines(stdout: &str) -> Vec<&str> {
    stdout.lines().collect()
}

#[test]
fn all_steps_pass_against_a_responsive_homeserver() {
    let homeserver = fake_homeserver();
    let dir = prepared(&homeserver);
    let out = run_in(dir.path(), &["check"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let lines = lines(&out.stdout);
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    assert_eq!(lines[0], "ok   config config.yaml");
    assert!(
        lines[1].starts_with("ok   tokens set and matching"),
        "{}",
        lines[1]
    );
    let db = dir.path().join("tgbridge.db");
    let version = tgbridge::store::Store::supported_schema_version();
    assert_eq!(
        lines[2],
        format!("ok   database {} (schema version {version})", db.display())
    );
    assert!(
        db.exists(),
        "check creates and migrates the database like run would"
    );
    assert_eq!(
        lines[3],
        format!("ok   homeserver {homeserver} answers (Matrix v1.12)")
    );
}

#[test]
fn unreachable_homeserver_fails() {
    // Bind and drop a listener to get a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let homeserver = format!("http://127.0.0.1:{port}");
    let dir = prepared(&homeserver);
    let out = check_fails(&dir);
    let last = out.stdout.lines().last().unwrap();
    assert!(
        last.starts_with(&format!("FAIL homeserver {homeserver}: cannot connect")),
        "{last}"
    );
}

#[test]
fn a_server_that_is_not_a_homeserver_fails() {
    let not_found = format!("http://{}", serve(axum::Router::new()));
    let dir = prepared(&not_found);
    let out = check_fails(&dir);
    assert!(
        out.stdout.contains("FAIL homeserver") && out.stdout.contains("404"),
        "{}",
        out.stdout
    );

    let router = axum::Router::new().route(
        "/_matrix/client/versions",
        axum::routing::get(|| async { "<html>hello</html>" }),
    );
    let html = format!("http://{}", serve(router));
    let dir = prepared(&html);
    let out = check_fails(&dir);
    assert!(
        out.stdout.contains("not with Matrix versions"),
        "{}",
        out.stdout
    );
}

#[test]
fn empty_tokens_fail_with_a_hint() {
    let homeserver = fake_homeserver();
    let dir = unprepared(&homeserver);
    let out = check_fails(&dir);
    let lines = lines(&out.stdout);
    assert_eq!(
        lines[1],
        "FAIL tokens appservice.as_token is empty: run `tgbridge generate-registration`"
    );
    assert!(
        lines[2].starts_with("ok   database"),
        "later steps run: {}",
        out.stdout
    );
    assert!(
        lines[3].starts_with("ok   homeserver"),
        "later steps run: {}",
        out.stdout
    );
}

#[test]
fn registration_with_other_tokens_fails() {
    let homeserver = fake_homeserver();
    let dir = prepared(&homeserver);
    let reg = dir.path().join("registration.yaml");
    let text = std::fs::read_to_string(&reg).unwrap();
    let stale = text
        .lines()
        .map(|l| {
            if l.starts_with("hs_token:") {
                "hs_token: stale"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&reg, stale).unwrap();
    let out = check_fails(&dir);
    assert!(
        out.stdout.contains("FAIL tokens") && out.stdout.contains("other tokens"),
        "{}",
        out.stdout
    );
}

#[test]
fn unusable_database_fails() {
    let homeserver = fake_homeserver();
    let dir = prepared(&homeserver);
    let db = dir.path().join("tgbridge.db");
    std::fs::write(
        &db,
        "this is not SQLite, just text that happens to be long enough to look like a header",
    )
    .unwrap();
    let out = check_fails(&dir);
    let line = out.stdout.lines().find(|l| l.contains("database")).unwrap();
    assert!(
        line.starts_with(&format!("FAIL database {}: ", db.display())),
        "{line}"
    );
    assert!(line.contains("not a tgbridge database"), "{line}");
    assert!(out.stdout.contains("ok   homeserver"), "{}", out.stdout);
}

#[test]
fn invalid_config_fails_first_and_skips_the_rest() {
    let dir = dir_with_config("owner: nobody\n");
    let out = check_fails(&dir);
    let lines = lines(&out.stdout);
    assert!(
        lines[0].starts_with("FAIL config config.yaml"),
        "{}",
        out.stdout
    );
    assert!(
        lines[1..].iter().all(|l| l.starts_with("skip ")),
        "{}",
        out.stdout
    );
}
