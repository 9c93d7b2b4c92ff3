//! `tgbridge login`: the terminal driver of the shared login flow. It asks
//! for the phone number, the code and the 2FA password (hidden), or a bot
//! token (hidden), or shows a QR code, and prints who is logged in. Answers
//! come from the terminal, or line by line from stdin when stdin is not a
//! terminal (automation); secrets are never taken from the command line.
//!
//! Ctrl-C at any prompt ends the command with exit code 130 and leaves the
//! terminal as it was; the session is only written by the flow once Telegram
//! has accepted the login, so nothing half-written stays behind.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg, Termios};

use super::{load_config_and_init_logging, LoginArgs, EXIT_FAILURE};
use crate::config::Config;
use crate::store::Store;
use crate::telegram::login::{Account, LoginError, LoginFlow, LoginStep, QrCode};
use crate::telegram::{ClientOptions, DeviceInfo, TelegramClient};

/// Exit code after Ctrl-C, as shells report a SIGINT death.
pub const EXIT_INTERRUPTED: u8 = 130;

/// How many times a phone number or bot token may be retyped.
const MAX_INPUT_ATTEMPTS: u32 = 3;

/// How the login ended without an account.
#[derive(Debug, thiserror::Error)]
enum DriverError {
    /// Ctrl-C (or Ctrl-D at a prompt).
    #[error("login cancelled; nothing was saved")]
    Cancelled,
    /// Non-interactive input ran out.
    #[error("standard input ended before the {0} was given; nothing was saved")]
    InputEnded(&'static str),
    /// The flow failed with a sentence for the user.
    #[error("{0}")]
    Login(#[from] LoginError),
    /// Reading the terminal failed.
    #[error("cannot read the answer: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs `tgbridge login` with the config at `config_path`.
pub fn run(config_path: &Path, args: &LoginArgs) -> ExitCode {
    let config = match load_config_and_init_logging(config_path) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("tgbridge login: cannot start the async runtime: {err}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let code = runtime.block_on(login(&config, args));
    // Blocking prompt threads may still wait for a line; do not wait for them.
    runtime.shutdown_background();
    code
}

/// Which login the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Phone,
    BotToken,
    Qr,
}

impl Method {
    fn of(args: &LoginArgs) -> Self {
        if args.bot_token {
            Method::BotToken
        } else if args.qr {
            Method::Qr
        } else {
            Method::Phone
        }
    }
}

/// The whole command: refuse to replace a login, run the flow, report.
async fn login(config: &Config, args: &LoginArgs) -> ExitCode {
    let store = match Store::open(&config.database) {
        Ok(store) => store,
        Err(err) => {
            eprintln!(
                "tgbridge login: cannot open the database {}: {err}",
                config.database.display()
            );
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let flow = LoginFlow::new(
        TelegramClient::start(
            Arc::new(store.telegram_session()),
            config.telegram.api_id,
            &client_options(config),
        ),
        config.telegram.api_id,
        config.telegram.api_hash.clone(),
    );
    match store.has_telegram_login() {
        Ok(true) => return already_logged_in(flow).await,
        Ok(false) => {}
        Err(err) => {
            eprintln!("tgbridge login: cannot read the session from the database: {err}");
            return ExitCode::from(EXIT_FAILURE);
        }
    }
    let term = Prompter::new();
    let outcome = interruptible(&term, drive(flow, &term, Method::of(args))).await;
    match outcome {
        Ok(account) => {
            report_success(&account, &config.database);
            ExitCode::SUCCESS
        }
        Err(DriverError::Cancelled) => {
            println!();
            eprintln!("tgbridge login: {}", DriverError::Cancelled);
            ExitCode::from(EXIT_INTERRUPTED)
        }
        Err(err) => {
            eprintln!("tgbridge login: {err}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// The client options from the config; interactive logins report every
/// flood wait instead of sleeping through it behind a silent prompt.
pub fn client_options(config: &Config) -> ClientOptions {
    ClientOptions {
        device: DeviceInfo::from_config(&config.telegram),
        flood_sleep_threshold: Duration::ZERO,
        ..ClientOptions::default()
    }
}

/// Says as whom the session is logged in and how to log out; changes nothing.
async fn already_logged_in(flow: LoginFlow) -> ExitCode {
    let who = match flow.current_account().await {
        Ok(account) => account.to_string(),
        Err(LoginError::NotAuthorized) => {
            flow.finish().await;
            eprintln!(
                "tgbridge login: a Telegram login is stored but no longer works (it was probably \
                 ended from another device).\nRun `tgbridge logout` to remove it, then `tgbridge login`."
            );
            return ExitCode::from(EXIT_FAILURE);
        }
        Err(err) => format!("{} ({err})", stored_self_description(&flow).await),
    };
    flow.finish().await;
    eprintln!(
        "tgbridge login: already logged in to Telegram as {who}.\nTo log in with another account, \
         run `tgbridge logout` first."
    );
    ExitCode::from(EXIT_FAILURE)
}

/// "Telegram user 12345" from the session alone, for when Telegram cannot be asked.
async fn stored_self_description(flow: &LoginFlow) -> String {
    match crate::telegram::account::session_user(flow.client()).await {
        Some(id) => format!("Telegram user {id}"),
        None => "the stored account".to_owned(),
    }
}

/// What the user sees once logged in.
fn report_success(account: &Account, database: &Path) {
    println!("Logged in to Telegram as {account}.");
    println!("The session is stored in {}.", database.display());
    if account.bot {
        // Bots cannot list their chats, so there is no chat sync for them.
        println!(
            "Telegram does not let bots list their chats: portal rooms appear when the bot is \
             added to a group or receives a message."
        );
    }
    println!(
        "If the bridge service is already running, restart it to use this login:\n  \
         sudo systemctl restart tgbridge\nOtherwise start it:\n  sudo systemctl enable --now tgbridge"
    );
}

/// Runs `driver`, turning Ctrl-C into [`DriverError::Cancelled`]. A hidden
/// prompt may still be waiting with echo off: the terminal is restored here,
/// before the command exits, whatever that prompt's thread is doing.
async fn interruptible<F>(term: &Prompter, driver: F) -> Result<Account, DriverError>
where
    F: std::future::Future<Output = Result<Account, DriverError>>,
{
    tokio::select! {
        result = driver => result,
        _ = tokio::signal::ctrl_c() => {
            term.restore_terminal();
            Err(DriverError::Cancelled)
        }
    }
}

/// Drives the flow from the first request to a logged-in account.
async fn drive(
    mut flow: LoginFlow,
    term: &Prompter,
    method: Method,
) -> Result<Account, DriverError> {
    let result = drive_steps(&mut flow, term, method).await;
    flow.finish().await;
    result
}

/// Finishes an interrupted login if Telegram already accepted it, else asks
/// for what each step needs until the flow reports an account.
async fn drive_steps(
    flow: &mut LoginFlow,
    term: &Prompter,
    method: Method,
) -> Result<Account, DriverError> {
    if let Some(account) = flow.resume_interrupted().await? {
        term.say("Telegram had already accepted an earlier, interrupted login; it is now stored.");
        return Ok(account);
    }
    let mut step = match method {
        Method::Phone => first_code(flow, term).await?,
        Method::BotToken => bot_login(flow, term).await?,
        Method::Qr => {
            term.say("Open Telegram on your phone: Settings → Devices → Link Desktop Device, and scan this code.");
            flow.qr_start().await?
        }
    };
    loop {
        step = match step {
            LoginStep::LoggedIn(account) => return Ok(account),
            LoginStep::CodeSent(sent) => {
                let digits = sent
                    .length
                    .map(|n| format!(" ({n} digits)"))
                    .unwrap_or_default();
                term.say(&format!(
                    "Telegram sent a login code{digits} for {}: look {}.",
                    sent.masked_phone,
                    sent.delivery.where_to_look()
                ));
                code_step(flow, term).await?
            }
            LoginStep::PasswordNeeded { hint } => {
                term.say("This account has a two-step verification password.");
                if let Some(hint) = hint {
                    term.say(&format!("Password hint: {hint}"));
                }
                password_step(flow, term).await?
            }
            LoginStep::Qr(qr) => {
                show_qr(term, &qr);
                let next = flow.qr_wait().await?;
                if matches!(next, LoginStep::Qr(_)) {
                    term.say("The code expired; here is a new one.");
                }
                next
            }
        };
    }
}

/// Asks for the phone number until Telegram sends a code.
async fn first_code(flow: &mut LoginFlow, term: &Prompter) -> Result<LoginStep, DriverError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let phone = term
            .line(
                "Phone number (with country code, e.g. +44 7700 900123): ",
                "phone number",
            )
            .await?;
        match flow.request_code(&phone).await {
            Err(err) if err.is_retryable() && attempts < MAX_INPUT_ATTEMPTS => term.warn(&err),
            result => return Ok(result?),
        }
    }
}

/// Asks for the code until the flow moves on; an expired code can be resent.
async fn code_step(flow: &mut LoginFlow, term: &Prompter) -> Result<LoginStep, DriverError> {
    loop {
        let code = term.line("Login code: ", "login code").await?;
        match flow.submit_code(&code).await {
            Err(err) if err.is_retryable() => term.warn(&err),
            Err(LoginError::CodeExpired) => {
                term.warn(&LoginError::CodeExpired);
                let answer = term.line("Send a new code? [Y/n] ", "answer").await?;
                if is_no(&answer) {
                    return Err(LoginError::CodeExpired.into());
                }
                return Ok(flow.resend_code().await?);
            }
            result => return Ok(result?),
        }
    }
}

/// Asks for the 2FA password (hidden) until the flow moves on.
async fn password_step(flow: &mut LoginFlow, term: &Prompter) -> Result<LoginStep, DriverError> {
    loop {
        let password = term.hidden("Password (hidden): ", "password").await?;
        match flow.submit_password(&password).await {
            Err(err) if err.is_retryable() => term.warn(&err),
            result => return Ok(result?),
        }
    }
}

/// Asks for the bot token (hidden) until Telegram accepts one.
async fn bot_login(flow: &mut LoginFlow, term: &Prompter) -> Result<LoginStep, DriverError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let token = term
            .hidden("Bot token from @BotFather (hidden): ", "bot token")
            .await?;
        match flow.bot_token(&token).await {
            Err(err) if err.is_retryable() && attempts < MAX_INPUT_ATTEMPTS => term.warn(&err),
            result => return Ok(result?),
        }
    }
}

/// Prints the QR code, the link it encodes and how long it is valid.
fn show_qr(term: &Prompter, qr: &QrCode) {
    match render_qr(&qr.url) {
        Some(picture) => term.say(&picture),
        None => term.say("(This link is too long to draw as a QR code.)"),
    }
    let seconds = qr
        .expires
        .duration_since(SystemTime::now())
        .map(|left| left.as_secs())
        .unwrap_or(0);
    term.say(&format!("Link: {}", qr.url));
    term.say(&format!(
        "Waiting for the scan; a new code appears when this one expires in {seconds} seconds. \
         Ctrl-C cancels."
    ));
}

/// The QR code as text: two modules per character cell, light modules drawn
/// so that it scans on the usual dark terminal background.
fn render_qr(url: &str) -> Option<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

/// Whether a yes/no answer is "no" (anything else, including empty, is yes).
fn is_no(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "n" | "no")
}

/// Reads answers from the terminal, or line by line from stdin when it is not
/// one. Blocking reads run on the blocking pool so Ctrl-C is seen at once.
struct Prompter {
    interactive: bool,
    echo: EchoGuard,
}

impl Prompter {
    fn new() -> Self {
        Self {
            interactive: std::io::stdin().is_terminal(),
            echo: EchoGuard::default(),
        }
    }

    fn say(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        // A closed stdout cannot be reported anywhere better; the exit code
        // still tells the outcome.
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    fn warn(&self, err: &LoginError) {
        self.say(&err.to_string());
    }

    /// Puts the terminal back as it was if a hidden prompt is open.
    fn restore_terminal(&self) {
        self.echo.restore();
    }

    /// A visible answer; `what` names it in the error when stdin ends.
    async fn line(&self, prompt: &str, what: &'static str) -> Result<String, DriverError> {
        if self.interactive {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "{prompt}");
            let _ = out.flush();
        }
        let line = tokio::task::spawn_blocking(read_stdin_line)
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))??;
        match line {
            Some(line) => Ok(line),
            None if self.interactive => Err(DriverError::Cancelled),
            None => Err(DriverError::InputEnded(what)),
        }
    }

    /// A secret: typed without echo on a terminal, else the next stdin line.
    async fn hidden(&self, prompt: &str, what: &'static str) -> Result<String, DriverError> {
        if !self.interactive {
            return self.line(prompt, what).await;
        }
        let prompt = prompt.to_owned();
        let echo = self.echo.clone();
        let answer = tokio::task::spawn_blocking(move || read_hidden(&prompt, &echo))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))??;
        // Ctrl-D on an empty line ends the input like at the other prompts.
        answer.ok_or(DriverError::Cancelled)
    }
}

/// The terminal settings a hidden prompt replaced, so that whoever ends the
/// login (the prompt itself, or the Ctrl-C handler while the prompt still
/// waits) can put them back.
#[derive(Clone, Default)]
struct EchoGuard(Arc<Mutex<Option<(File, Termios)>>>);

impl EchoGuard {
    fn slot(&self) -> MutexGuard<'_, Option<(File, Termios)>> {
        // The slot is only ever replaced whole, so a poisoned lock still
        // holds consistent settings.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Remembers `saved` as the settings to return to on `tty`.
    fn arm(&self, tty: &File, saved: &Termios) -> std::io::Result<()> {
        *self.slot() = Some((tty.try_clone()?, saved.clone()));
        Ok(())
    }

    /// Restores the remembered settings, once.
    fn restore(&self) {
        if let Some((tty, saved)) = self.slot().take() {
            // Nothing better can be done if the terminal went away.
            let _ = tcsetattr(&tty, SetArg::TCSANOW, &saved);
        }
    }
}

/// Reads one line from the controlling terminal without echo. Echo goes off
/// before the prompt appears, so nothing typed after the prompt can be shown;
/// Ctrl-C stays a signal (see [`interruptible`]). `None` on Ctrl-D.
fn read_hidden(prompt: &str, echo: &EchoGuard) -> std::io::Result<Option<String>> {
    let mut tty = OpenOptions::new().read(true).write(true).open("/dev/tty")?;
    let saved = tcgetattr(&tty)?;
    // Armed before echo is switched off: a Ctrl-C at any point can restore.
    echo.arm(&tty, &saved)?;
    let mut hidden = saved.clone();
    hidden.local_flags.remove(LocalFlags::ECHO);
    // Still echo the newline of Enter, so output continues on a new line.
    hidden.local_flags.insert(LocalFlags::ECHONL);
    // TCSAFLUSH drops anything typed before the prompt (and echoed already).
    let read = tcsetattr(&tty, SetArg::TCSAFLUSH, &hidden)
        .map_err(std::io::Error::from)
        .and_then(|()| {
            tty.write_all(prompt.as_bytes())?;
            tty.flush()?;
            let mut line = String::new();
            let n = BufReader::new(&tty).read_line(&mut line)?;
            Ok((n > 0).then(|| line.trim_end_matches(['\n', '\r']).to_owned()))
        });
    echo.restore();
    read
}

/// One line of stdin without its line ending; `None` at end of input.
fn read_stdin_line() -> std::io::Result<Option<String>> {
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let trimmed = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(trimmed);
    Ok(Some(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_explicit_no_declines() {
        assert!(is_no("n"));
        assert!(is_no(" No \n"));
        assert!(!is_no(""));
        assert!(!is_no("y"));
        assert!(!is_no("yes"));
    }

    #[test]
    fn qr_codes_render_as_text_blocks() {
        let picture = render_qr("tg://login?token=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")
            .expect("fits in a QR code");
        let lines: Vec<&str> = picture.lines().collect();
        assert!(
            lines.len() > 10,
            "a QR code with quiet zone is taller than 10 lines"
        );
        assert!(lines
            .iter()
            .all(|line| line.chars().count() == lines[0].chars().count()));
        assert!(picture.contains('█') || picture.contains('▀') || picture.contains('▄'));
    }
}
