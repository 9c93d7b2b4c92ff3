//! `tgbridge login` and `tgbridge logout` as a person uses them: the real
//! binary on a real pseudo-terminal against the fake Telegram datacenter.
//! Every test checks what the terminal showed; the ones that type secrets
//! also check that no secret was echoed, logged (logging runs at trace level
//! into the same terminal) or written to any file.

mod login_support;

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use fake_telegram::world::{UserId, UserSpec};
use fake_telegram::RpcError;
use login_support::accounts::{ada, bot, BOT_TOKEN, CODE, PASSWORD, PHONE, PHONE_DIGITS};
use login_support::fixture::{Fixture, STEP};
use login_support::pty::Pty;
use login_support::qr;

/// Exit code after Ctrl-C.
const EXIT_INTERRUPTED: i32 = 130;

/// Types the phone number at the first prompt and waits for the code prompt.
fn enter_phone(pty: &mut Pty) {
    pty.expect("Phone number", STEP);
    pty.send_line(PHONE);
    pty.expect("Login code: ", STEP);
}

/// Waits for success and a clean exit; returns the transcript.
fn expect_logged_in_as_ada(pty: &mut Pty) -> String {
    pty.expect("Logged in to Telegram as Ada Lovelace (@ada, +49", STEP);
    pty.expect("systemctl restart tgbridge", STEP);
    let status = pty.wait(STEP);
    assert!(status.success(), "login failed:\n{}", pty.transcript());
    pty.transcript()
}

/// The session is a login for `account` at both ends.
fn assert_logged_in(fixture: &Fixture, account: UserId) {
    assert!(fixture
        .store()
        .has_telegram_login()
        .expect("read the session"));
    assert_eq!(fixture.account_at_telegram(), Some(account));
}

/// No typed secret shows up anywhere but where the test allows it.
fn assert_secret_absent(fixture: &Fixture, transcript: &str, secret: &str, echoed_times: usize) {
    assert_eq!(
        transcript.matches(secret).count(),
        echoed_times,
        "{secret:?} should appear {echoed_times} times (its echo only):\n{transcript}"
    );
    assert_eq!(
        fixture.files_containing(secret),
        Vec::<std::path::PathBuf>::new(),
        "{secret:?} was written to a file"
    );
}

/// Starts `tgbridge login` and types the phone number: the code prompt.
fn at_code_prompt(fixture: &Fixture) -> Pty {
    let mut pty = fixture.spawn(&["login"]);
    enter_phone(&mut pty);
    pty
}

/// Logs in as Ada with her phone number and code; returns the transcript.
fn log_in_ada_by_phone(fixture: &Fixture) -> String {
    let mut pty = at_code_prompt(fixture);
    pty.send_line(CODE);
    expect_logged_in_as_ada(&mut pty)
}

/// The database holds no Telegram login.
fn assert_not_logged_in(fixture: &Fixture) {
    assert!(!fixture
        .store()
        .has_telegram_login()
        .expect("read the session"));
}

/// The command exited with `code` and left no login behind.
fn assert_ended_without_login(fixture: &Fixture, pty: &mut Pty, code: i32) {
    assert_eq!(exit_code(pty.wait(STEP)), Some(code));
    assert_not_logged_in(fixture);
}

/// No file holds the seeded auth key any more.
fn assert_auth_key_gone(fixture: &Fixture) {
    let key = fixture.seeded_key();
    assert_eq!(
        fixture.files_containing_bytes(&key[..32]),
        Vec::<std::path::PathBuf>::new(),
        "the auth key is gone from every file"
    );
}

fn exit_code(status: ExitStatus) -> Option<i32> {
    status.code()
}

#[test]
fn phone_and_code_log_in_and_keep_secrets_out_of_logs_and_files() {
    let fixture = Fixture::new();
    let ada = fixture.add_user(ada(None));
    let transcript = log_in_ada_by_phone(&fixture);
    assert!(
        transcript.contains("login code (8 digits) for +49"),
        "says where the code went:\n{transcript}"
    );
    assert_logged_in(&fixture, ada);
    // The number and the code are typed visibly: exactly their echo, never a log line.
    assert_secret_absent(&fixture, &transcript, PHONE, 1);
    assert_secret_absent(&fixture, &transcript, PHONE_DIGITS, 0);
    assert_secret_absent(&fixture, &transcript, CODE, 1);
}

#[test]
fn two_factor_password_is_hidden_and_shows_the_hint() {
    let fixture = Fixture::new();
    let ada = fixture.add_user(ada(Some(PASSWORD)));
    let mut pty = at_code_prompt(&fixture);
    pty.send_line(CODE);
    pty.expect("Password hint: the horse one", STEP);
    pty.expect("Password (hidden): ", STEP);
    pty.send_line(PASSWORD);
    let transcript = expect_logged_in_as_ada(&mut pty);
    assert_logged_in(&fixture, ada);
    // Control: the terminal does echo what is typed at visible prompts.
    assert_eq!(
        transcript.matches(CODE).count(),
        1,
        "the code is echoed:\n{transcript}"
    );
    assert_secret_absent(&fixture, &transcript, PASSWORD, 0);
}

#[test]
fn a_wrong_code_can_be_corrected_without_starting_over() {
    let fixture = Fixture::new();
    let ada = fixture.add_user(ada(None));
    let mut pty = at_code_prompt(&fixture);
    pty.send_line("13579");
    pty.expect("That code is not correct (2 attempts left).", STEP);
    pty.expect("Login code: ", STEP);
    pty.send_line(CODE);
    expect_logged_in_as_ada(&mut pty);
    assert_logged_in(&fixture, ada);
    assert_eq!(
        fixture.fake.call_count("auth.sendCode"),
        1,
        "no new code was needed"
    );
}

#[test]
fn too_many_wrong_codes_end_the_login() {
    let fixture = Fixture::new();
    fixture.add_user(ada(None));
    let mut pty = at_code_prompt(&fixture);
    for (typed, answer) in [
        ("11111111", "(2 attempts left)"),
        ("22222222", "(1 attempt left)"),
    ] {
        pty.send_line(typed);
        pty.expect(answer, STEP);
        pty.expect("Login code: ", STEP);
    }
    pty.send_line("33333333");
    pty.expect(
        "Too many wrong codes. Start the login again to get a new code.",
        STEP,
    );
    assert_ended_without_login(&fixture, &mut pty, 1);
}

#[test]
fn a_wrong_password_can_be_corrected_without_starting_over() {
    let fixture = Fixture::new();
    let ada = fixture.add_user(ada(Some(PASSWORD)));
    let mut pty = at_code_prompt(&fixture);
    pty.send_line(CODE);
    pty.expect("Password (hidden): ", STEP);
    pty.send_line("wrong-horse");
    pty.expect("That password is not correct (2 attempts left).", STEP);
    pty.expect("Password (hidden): ", STEP);
    pty.send_line(PASSWORD);
    let transcript = expect_logged_in_as_ada(&mut pty);
    assert_logged_in(&fixture, ada);
    assert_secret_absent(&fixture, &transcript, "wrong-horse", 0);
    assert_secret_absent(&fixture, &transcript, PASSWORD, 0);
}

#[test]
fn an_expired_code_is_replaced_on_request() {
    let fixture = Fixture::new();
    let ada = fixture.add_user(ada(None));
    let mut pty = at_code_prompt(&fixture);
    fixture.fake.expire_login_codes(PHONE_DIGITS);
    pty.send_line(CODE);
    pty.expect("The code has expired.", STEP);
    pty.expect("Send a new code? [Y/n] ", STEP);
    pty.send_line("y");
    pty.expect("Login code: ", STEP);
    pty.send_line(CODE);
    expect_logged_in_as_ada(&mut pty);
    assert_logged_in(&fixture, ada);
    assert_eq!(fixture.fake.call_count("auth.sendCode"), 2);
}

#[test]
fn bot_token_is_read_hidden() {
    let fixture = Fixture::new();
    let bot = fixture.add_user(bot());
    let mut pty = fixture.spawn(&["login", "--bot-token"]);
    pty.expect("Bot token from @BotFather (hidden): ", STEP);
    pty.send_line(BOT_TOKEN);
    pty.expect(
        "Logged in to Telegram as Relay Bot (@relay_bot, bot).",
        STEP,
    );
    assert!(pty.wait(STEP).success());
    assert_logged_in(&fixture, bot);
    let transcript = pty.transcript();
    assert_secret_absent(&fixture, &transcript, BOT_TOKEN, 0);
    assert_secret_absent(
        &fixture,
        &transcript,
        "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        0,
    );
}

#[test]
fn bot_token_and_phone_login_read_stdin_when_it_is_not_a_terminal() {
    let fixture = Fixture::new();
    let bot = fixture.add_user(bot());
    let output = pipe(
        &fixture,
        &["login", "--bot-token"],
        &format!("{BOT_TOKEN}\n"),
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("Logged in to Telegram as Relay Bot"),
        "{}",
        text(&output)
    );
    assert!(
        !text(&output).contains(BOT_TOKEN),
        "token in output or logs:\n{}",
        text(&output)
    );
    assert_logged_in(&fixture, bot);

    let fixture = Fixture::new();
    let ada = fixture.add_user(ada(Some(PASSWORD)));
    let output = pipe(
        &fixture,
        &["login"],
        &format!("{PHONE}\n{CODE}\n{PASSWORD}\n"),
    );
    assert!(output.status.success(), "{}", text(&output));
    assert_logged_in(&fixture, ada);
    for secret in [PHONE, PHONE_DIGITS, CODE, PASSWORD] {
        assert!(
            !text(&output).contains(secret),
            "{secret:?} in output or logs:\n{}",
            text(&output)
        );
    }
}

#[test]
fn stdin_ending_early_saves_nothing() {
    let fixture = Fixture::new();
    fixture.add_user(ada(None));
    let output = pipe(&fixture, &["login"], &format!("{PHONE}\n"));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output).contains("standard input ended before the login code was given"),
        "{}",
        text(&output)
    );
    assert_not_logged_in(&fixture);
}

#[test]
fn secrets_are_never_accepted_as_arguments() {
    let fixture = Fixture::new();
    fixture.add_user(bot());
    let output = fixture
        .command(&["login", "--bot-token", BOT_TOKEN])
        .stdin(Stdio::null())
        .output()
        .expect("run tgbridge");
    assert!(!output.status.success());
    assert_not_logged_in(&fixture);
}

#[test]
fn qr_login_completes_once_scanned() {
    let fixture = Fixture::new();
    let ada = fixture.add_user(ada(None));
    let mut pty = fixture.spawn(&["login", "--qr"]);
    pty.expect("Settings → Devices → Link Desktop Device", STEP);
    pty.expect("Link: ", STEP);
    let link = pty.expect("\n", STEP).trim().to_owned();
    assert!(link.starts_with("tg://login?token="), "{link}");
    assert_eq!(
        qr::decode_all(&pty.transcript()),
        vec![link],
        "the QR code scans as the link"
    );
    fixture
        .fake
        .scan_login_token(ada)
        .expect("scan the QR code");
    expect_logged_in_as_ada(&mut pty);
    assert_logged_in(&fixture, ada);
}

#[test]
fn qr_login_asks_for_the_password_after_the_scan() {
    let fixture = Fixture::new();
    let ada = fixture.add_user(ada(Some(PASSWORD)));
    let mut pty = fixture.spawn(&["login", "--qr"]);
    pty.expect("Link: tg://login?token=", STEP);
    pty.expect("Ctrl-C cancels.", STEP);
    fixture
        .fake
        .scan_login_token(ada)
        .expect("scan the QR code");
    pty.expect("Password hint: the horse one", STEP);
    pty.expect("Password (hidden): ", STEP);
    pty.send_line(PASSWORD);
    let transcript = expect_logged_in_as_ada(&mut pty);
    assert_logged_in(&fixture, ada);
    assert_secret_absent(&fixture, &transcript, PASSWORD, 0);
}

#[test]
fn qr_code_is_replaced_when_it_expires() {
    let fixture = Fixture::new();
    let ada = fixture.add_user(ada(None));
    let mut pty = fixture.spawn(&["login", "--qr"]);
    pty.expect("Link: tg://login?token=", STEP);
    let first = pty.expect("\n", STEP).trim().to_owned();
    // The fake's tokens live 30 seconds.
    pty.expect(
        "The code expired; here is a new one.",
        Duration::from_secs(45),
    );
    pty.expect("Link: tg://login?token=", STEP);
    let second = pty.expect("\n", STEP).trim().to_owned();
    assert_ne!(first, second, "a new token");
    let codes = qr::decode_all(&pty.transcript());
    assert_eq!(codes.len(), 2, "two QR codes drawn");
    assert!(
        codes[0].ends_with(&first),
        "the first QR code scans as the first link"
    );
    assert!(
        codes[1].ends_with(&second),
        "the new QR code scans as the new link"
    );
    fixture
        .fake
        .scan_login_token(ada)
        .expect("scan the new QR code");
    expect_logged_in_as_ada(&mut pty);
    assert_logged_in(&fixture, ada);
}

/// Runs a login that must fail with `message` after the phone number.
fn phone_login_fails_with(fixture: &Fixture, phone: &str, message: &str) {
    let mut pty = fixture.spawn(&["login"]);
    pty.expect("Phone number", STEP);
    pty.send_line(phone);
    pty.expect(message, STEP);
    let status = pty.wait(STEP);
    assert_eq!(exit_code(status), Some(1), "{}", pty.transcript());
    assert_not_logged_in(fixture);
}

#[test]
fn an_invalid_phone_number_is_explained_and_can_be_retyped() {
    let fixture = Fixture::new();
    let ada = fixture.add_user(ada(None));
    let mut pty = fixture.spawn(&["login"]);
    pty.expect("Phone number", STEP);
    pty.send_line("07700 900123");
    pty.expect(
        "That is not a valid phone number. Type it with the country code",
        STEP,
    );
    pty.expect("Phone number", STEP);
    pty.send_line(PHONE);
    pty.expect("Login code: ", STEP);
    pty.send_line(CODE);
    expect_logged_in_as_ada(&mut pty);
    assert_logged_in(&fixture, ada);
}

#[test]
fn a_banned_number_is_explained() {
    let fixture = Fixture::new();
    fixture.add_user(UserSpec {
        banned: true,
        ..ada(None)
    });
    phone_login_fails_with(&fixture, PHONE, "Telegram has banned this phone number");
}

#[test]
fn a_flood_wait_says_how_long_in_words() {
    let fixture = Fixture::new();
    fixture.add_user(ada(None));
    fixture
        .fake
        .fail_next("auth.sendCode", RpcError::flood_wait(7500));
    phone_login_fails_with(
        &fixture,
        PHONE,
        "Telegram asks to wait 2 hours 5 minutes before trying again.",
    );
}

#[test]
fn a_number_without_account_explains_that_sign_up_needs_an_official_app() {
    let fixture = Fixture::new();
    fixture.fake.set_login_code(PHONE_DIGITS, CODE);
    let mut pty = at_code_prompt(&fixture);
    pty.send_line(CODE);
    pty.expect("There is no Telegram account for this phone number", STEP);
    pty.expect("2023-02-18", STEP);
    assert_ended_without_login(&fixture, &mut pty, 1);
}

#[test]
fn an_unreachable_network_is_explained_before_anything_is_typed() {
    let fixture = Fixture::new();
    fixture.seed_unreachable();
    let mut pty = fixture.spawn(&["login"]);
    pty.expect(
        "Cannot reach Telegram (connection refused). Check the network connection",
        STEP,
    );
    assert_eq!(exit_code(pty.wait(STEP)), Some(1));
    assert!(
        !pty.transcript().contains("Phone number"),
        "{}",
        pty.transcript()
    );
    assert_not_logged_in(&fixture);
}

#[test]
fn an_error_without_a_sentence_is_named() {
    let fixture = Fixture::new();
    fixture.add_user(ada(None));
    let mut pty = at_code_prompt(&fixture);
    fixture
        .fake
        .fail_next("auth.signIn", RpcError::new(500, "INTERNAL_SERVER_ERROR"));
    pty.send_line(CODE);
    pty.expect("Telegram refused the login (INTERNAL_SERVER_ERROR).", STEP);
    assert_ended_without_login(&fixture, &mut pty, 1);
}

#[test]
fn ctrl_c_at_the_code_prompt_saves_nothing() {
    let fixture = Fixture::new();
    fixture.add_user(ada(None));
    let mut pty = at_code_prompt(&fixture);
    pty.ctrl_c();
    pty.expect("login cancelled; nothing was saved", STEP);
    assert_ended_without_login(&fixture, &mut pty, EXIT_INTERRUPTED);
}

#[test]
fn ctrl_c_at_the_password_prompt_saves_nothing_and_restores_echo() {
    let fixture = Fixture::new();
    fixture.add_user(ada(Some(PASSWORD)));
    let mut pty = at_code_prompt(&fixture);
    pty.send_line(CODE);
    pty.expect("Password (hidden): ", STEP);
    pty.send("half-typ");
    pty.ctrl_c();
    pty.expect("login cancelled; nothing was saved", STEP);
    assert_eq!(exit_code(pty.wait(STEP)), Some(EXIT_INTERRUPTED));
    assert!(pty.echo_enabled(), "the terminal was left without echo");
    assert_not_logged_in(&fixture);
    assert_secret_absent(&fixture, &pty.transcript(), "half-typ", 0);
}

#[test]
fn an_existing_login_is_never_replaced_silently() {
    let fixture = Fixture::new();
    fixture.add_user(ada(None));
    log_in_ada_by_phone(&fixture);

    let mut again = fixture.spawn(&["login", "--bot-token"]);
    again.expect(
        "already logged in to Telegram as Ada Lovelace (@ada, +49",
        STEP,
    );
    again.expect("run `tgbridge logout` first", STEP);
    assert_eq!(exit_code(again.wait(STEP)), Some(1));
    assert!(
        !again.transcript().contains("Bot token"),
        "no prompt:\n{}",
        again.transcript()
    );
}

#[test]
fn a_login_interrupted_after_telegram_accepted_it_is_completed() {
    let fixture = Fixture::new();
    let ada = fixture.add_user(ada(None));
    fixture.seed_accepted_login(ada);
    assert_not_logged_in(&fixture);
    let mut pty = fixture.spawn(&["login"]);
    pty.expect(
        "Telegram had already accepted an earlier, interrupted login",
        STEP,
    );
    let transcript = expect_logged_in_as_ada(&mut pty);
    assert!(!transcript.contains("Phone number"), "{transcript}");
    assert_logged_in(&fixture, ada);
}

#[test]
fn logout_without_a_login_says_so() {
    let fixture = Fixture::new();
    let mut logout = fixture.spawn(&["logout"]);
    logout.expect("Not logged in to Telegram; nothing to log out.", STEP);
    assert!(logout.wait(STEP).success());
    assert_eq!(fixture.fake.call_count("auth.logOut"), 0);
}

#[test]
fn logout_ends_the_session_and_a_new_login_finds_the_portals() {
    let fixture = Fixture::new();
    let ada = fixture.add_user(ada(None));
    log_in_ada_by_phone(&fixture);
    let portal = login_support::seed_portal(&fixture.store());

    let mut logout = fixture.spawn(&["logout"]);
    logout.expect("Logged out at Telegram.", STEP);
    logout.expect("Portals are kept", STEP);
    assert!(logout.wait(STEP).success(), "{}", logout.transcript());
    let store = fixture.store();
    assert!(!store.has_telegram_login().expect("read the session"));
    assert_auth_key_gone(&fixture);
    assert_eq!(fixture.fake.call_count("auth.logOut"), 1);
    assert_eq!(
        fixture.account_at_telegram(),
        None,
        "logged out at Telegram"
    );
    assert!(
        store
            .portals()
            .by_peer(portal)
            .expect("read portals")
            .is_some(),
        "portal kept"
    );

    // A new key (a fresh key exchange in real life), then the same account again.
    fixture.seed(fixture.fake.addr());
    log_in_ada_by_phone(&fixture);
    assert_logged_in(&fixture, ada);
    assert!(fixture
        .store()
        .portals()
        .by_peer(portal)
        .expect("read portals")
        .is_some());
}

#[test]
fn logout_without_network_still_removes_the_local_session() {
    let fixture = Fixture::new();
    fixture.add_user(ada(None));
    log_in_ada_by_phone(&fixture);
    fixture.seed_unreachable();

    let mut logout = fixture.spawn(&["logout"]);
    logout.expect("Could not reach Telegram", STEP);
    logout.expect("Settings → Devices", STEP);
    logout.expect("Removed the Telegram session", STEP);
    assert!(
        logout.wait(Duration::from_secs(60)).success(),
        "{}",
        logout.transcript()
    );
    assert_not_logged_in(&fixture);
    assert_auth_key_gone(&fixture);
}

/// Runs `tgbridge <args>` with `input` on a pipe as stdin (no terminal).
fn pipe(fixture: &Fixture, args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = fixture
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tgbridge");
    child
        .stdin
        .take()
        .expect("stdin pipe")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait for tgbridge")
}

/// stdout and stderr of a finished command.
fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
