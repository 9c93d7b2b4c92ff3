//! The management-room driver of the shared Telegram login flow, and the hub
//! the web-login page drives too: one login at a time, started by `login`,
//! answered by the owner's messages (phone number or bot token, then the
//! code), and handed to the web page when Telegram asks for the 2FA password,
//! which is never asked for, nor used, in a Matrix room.
//!
//! It owns the login in progress, the one-time web links and the redaction of
//! every message that carried a secret. It sends only bot notices and
//! redactions to the homeserver, never logs what the owner typed, and leaves
//! the session itself to [`LoginFlow`], which stores it on success. Inputs
//! are handled by one worker task in the order they arrived, so the bridge's
//! transactions never wait for Telegram.

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use ruma::api::client::membership::joined_members;
use ruma::api::client::message::send_message_event;
use ruma::api::client::redact::redact_event;
use ruma::events::room::message::RoomMessageEventContent;
use ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, RoomId};
use tokio::sync::{broadcast, mpsc};
use tracing::{info, warn};

use super::login_links::{OpenedSession, Refusal, WebLinks};
use super::notice::Notice;
use crate::matrix::{txn, MatrixClient};
use crate::telegram::login::{Account, CodeSent, LoginError, LoginFlow, LoginStep};

/// Builds a login flow on the bridge's stored Telegram session.
pub type FlowFactory = Arc<dyn Fn() -> LoginFlow + Send + Sync>;

/// How logins may be started, from the configuration.
#[derive(Clone)]
pub struct LoginSettings {
    /// Whether the owner may answer the login in the management room.
    pub matrix_login: bool,
    /// Base URL of the web-login page when it is enabled, without trailing `/`.
    pub web_base_url: Option<String>,
    /// How long a web-login link works.
    pub link_ttl: Duration,
    /// Starts a flow; called once per login.
    pub new_flow: FlowFactory,
}

impl std::fmt::Debug for LoginSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginSettings")
            .field("matrix_login", &self.matrix_login)
            .field("web_base_url", &self.web_base_url)
            .field("link_ttl", &self.link_ttl)
            .finish_non_exhaustive()
    }
}

/// Announced once a login succeeded and the session is stored: the Telegram
/// side subscribes ([`LoginHub::logged_in_events`]) to start from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramLoggedIn {
    /// Who is logged in now.
    pub account: Account,
}

/// What the login in progress waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Awaiting {
    /// A phone number, or a bot token.
    PhoneOrToken,
    /// The code Telegram sent.
    Code(CodeSent),
    /// The 2FA password (web page or terminal only).
    Password {
        /// The user's hint for it.
        hint: Option<String>,
    },
}

/// What a step did to the login.
#[derive(Debug)]
pub enum Outcome {
    /// The login goes on and waits for this.
    Waiting(Awaiting),
    /// The input was refused; the same step may be tried again.
    Retry(LoginError, Awaiting),
    /// The login ended without an account.
    Ended(LoginError),
    /// Logged in; the session is stored.
    LoggedIn(Account),
}

/// What the web page sends.
#[derive(Debug)]
pub enum WebInput {
    /// A phone number.
    Phone(String),
    /// A bot token.
    BotToken(String),
    /// The login code.
    Code(String),
    /// The 2FA password.
    Password(String),
}

/// The login in progress.
struct Active {
    flow: LoginFlow,
    awaiting: Awaiting,
    /// Where the login was started; results are reported there.
    room: OwnedRoomId,
}

/// One owner message for the login in progress.
struct Input {
    room: OwnedRoomId,
    event_id: OwnedEventId,
    body: String,
}

/// The login in progress, the web links, and the logged-in announcements.
pub struct LoginHub {
    settings: LoginSettings,
    matrix: MatrixClient,
    owner: OwnedUserId,
    active: tokio::sync::Mutex<Option<Active>>,
    /// The room of the login in progress, readable without waiting for a
    /// Telegram call that holds `active`.
    started_in: Mutex<Option<OwnedRoomId>>,
    links: Mutex<WebLinks>,
    inbox: mpsc::UnboundedSender<Input>,
    logged_in: broadcast::Sender<TelegramLoggedIn>,
}

impl LoginHub {
    /// Creates the hub and its input worker (needs a Tokio runtime).
    pub fn start(settings: LoginSettings, matrix: MatrixClient, owner: OwnedUserId) -> Arc<Self> {
        let (inbox, mut inputs) = mpsc::unbounded_channel::<Input>();
        let (logged_in, _) = broadcast::channel(4);
        let hub = Arc::new(Self {
            links: Mutex::new(WebLinks::new(settings.link_ttl)),
            settings,
            matrix,
            owner,
            active: tokio::sync::Mutex::new(None),
            started_in: Mutex::new(None),
            inbox,
            logged_in,
        });
        let weak: Weak<Self> = Arc::downgrade(&hub);
        tokio::spawn(async move {
            while let Some(input) = inputs.recv().await {
                let Some(hub) = weak.upgrade() else { return };
                hub.on_input(input).await;
            }
        });
        hub
    }

    /// Subscribes to [`TelegramLoggedIn`] announcements.
    pub fn logged_in_events(&self) -> broadcast::Receiver<TelegramLoggedIn> {
        self.logged_in.subscribe()
    }

    /// How long a web-login link (and the browser session it opens) works.
    pub fn link_ttl(&self) -> Duration {
        self.settings.link_ttl
    }

    /// Whether the web page is served.
    pub fn web_enabled(&self) -> bool {
        self.settings.web_base_url.is_some()
    }

    /// The answer to `login` in `room_id` (the owner is not logged in).
    pub async fn begin(&self, room_id: &RoomId) -> Notice {
        if let Some(refusal) = self.refuse_shared_room(room_id).await {
            return refusal;
        }
        {
            let mut started_in = self
                .started_in
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if started_in.is_some() {
                return Notice::text(
                    "A login is already in progress. Answer its last question, or send `cancel` to abort it and then `login` to start over.",
                );
            }
            *started_in = Some(room_id.to_owned());
        }
        let flow = (self.settings.new_flow)();
        *self.active.lock().await = Some(Active {
            flow,
            awaiting: Awaiting::PhoneOrToken,
            room: room_id.to_owned(),
        });
        info!(%room_id, "Telegram login started from Matrix");
        let mut notice = Notice::new()
            .heading("Log into Telegram")
            .paragraph("Logging in gives this bridge full access to your Telegram account: it can read and send messages in all your chats. New Telegram accounts cannot be registered through the bridge; sign up in an official Telegram app first.");
        if self.settings.matrix_login {
            notice = notice.paragraph("Send your phone number with the country code (e.g. +44 7700 900123), or the token of a bot from @BotFather. Every message with a code or a token is removed from this room as soon as I have read it.");
        }
        if let Some(link) = self.issue_link() {
            let lead = if self.settings.matrix_login {
                "Or log in on the web page (the link works once, for a limited time):"
            } else {
                "Log in on the web page (the link works once, for a limited time):"
            };
            notice = notice.paragraph(&format!("{lead} {link}"));
        }
        notice
            .paragraph("Two-step verification passwords are never typed here: when Telegram asks for one, I hand you a web-login link or you run `tgbridge login` in a terminal on the machine running the bridge.")
            .paragraph("Send `cancel` to stop at any step.")
    }

    /// Takes the owner's message `body` in `room` as an answer to the login
    /// in progress. `false` when no login waits for input there.
    pub fn offer(&self, room: &RoomId, event_id: OwnedEventId, body: &str) -> bool {
        if !self.settings.matrix_login {
            return false;
        }
        let waiting_here = self
            .started_in
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_deref()
            == Some(room);
        if waiting_here {
            let input = Input {
                room: room.to_owned(),
                event_id,
                body: body.to_owned(),
            };
            // The worker lives as long as the hub: sending cannot fail here.
            let _ = self.inbox.send(input);
        }
        waiting_here
    }

    /// Aborts the login in progress; `None` when there is none.
    pub async fn cancel(&self) -> Option<Notice> {
        let active = self.active.lock().await.take();
        self.clear_started();
        let active = active?;
        active.flow.finish().await;
        info!("Telegram login cancelled by the owner");
        Some(Notice::text(
            "Login cancelled; nothing was saved. Send `login` to start again.",
        ))
    }

    // ---- web ---------------------------------------------------------------

    /// Checks a link before its "Continue" page; returns that form's CSRF token.
    pub fn web_open(&self, token: &str) -> Result<String, Refusal> {
        self.lock_links().open(token, Instant::now())
    }

    /// Uses a link up and opens a browser session.
    pub fn web_redeem(&self, token: &str, csrf: &str) -> Result<OpenedSession, Refusal> {
        self.lock_links().redeem(token, csrf, Instant::now())
    }

    /// The CSRF token of a browser session, for its forms.
    pub fn web_session(&self, session: &str) -> Result<String, Refusal> {
        self.lock_links().session_csrf(session, Instant::now())
    }

    /// What the login in progress waits for; `None` when there is none.
    pub async fn web_waiting(&self) -> Option<Awaiting> {
        self.active
            .lock()
            .await
            .as_ref()
            .map(|a| a.awaiting.clone())
    }

    /// A form submission of a browser session.
    pub async fn web_submit(
        &self,
        session: &str,
        csrf: &str,
        input: WebInput,
    ) -> Result<Option<Outcome>, Refusal> {
        self.lock_links().submit(session, csrf, Instant::now())?;
        let mut guard = self.active.lock().await;
        let Some(active) = guard.as_mut() else {
            return Ok(None);
        };
        let result = match (&active.awaiting, input) {
            (Awaiting::PhoneOrToken, WebInput::Phone(phone)) => {
                active.flow.request_code(&phone).await
            }
            (Awaiting::PhoneOrToken, WebInput::BotToken(token)) => {
                active.flow.bot_token(&token).await
            }
            (Awaiting::Code(_), WebInput::Code(code)) => active.flow.submit_code(&code).await,
            (Awaiting::Password { .. }, WebInput::Password(password)) => {
                active.flow.submit_password(&password).await
            }
            // A stale form (the login moved on elsewhere): show the current step.
            (awaiting, _) => return Ok(Some(Outcome::Waiting(awaiting.clone()))),
        };
        let room = active.room.clone();
        let outcome = self.settle(&mut guard, result).await;
        match &outcome {
            Outcome::LoggedIn(_) | Outcome::Ended(_) => {
                self.notify(&room, &self.room_notice(&outcome, false)).await;
            }
            Outcome::Waiting(_) | Outcome::Retry(..) => {}
        }
        Ok(Some(outcome))
    }

    // ---- Matrix conversation ----------------------------------------------

    async fn on_input(&self, input: Input) {
        let mut guard = self.active.lock().await;
        let Some(active) = guard.as_mut() else { return };
        if active.room != input.room {
            return;
        }
        // Whatever the owner answers at this point may be secret: remove it first.
        self.redact(&input).await;
        let result = match &active.awaiting {
            Awaiting::Password { .. } => {
                drop(guard);
                self.notify(&input.room, &password_refused()).await;
                return;
            }
            Awaiting::PhoneOrToken if input.body.contains(':') => {
                active.flow.bot_token(&input.body).await
            }
            Awaiting::PhoneOrToken => active.flow.request_code(&input.body).await,
            Awaiting::Code(_) => active.flow.submit_code(&input.body).await,
        };
        let outcome = self.settle(&mut guard, result).await;
        drop(guard);
        self.notify(&input.room, &self.room_notice(&outcome, true))
            .await;
    }

    /// Applies a step's result to the login in progress: records what it
    /// waits for next, or ends it (announcing a success).
    async fn settle(
        &self,
        active: &mut Option<Active>,
        result: Result<LoginStep, LoginError>,
    ) -> Outcome {
        let outcome = match result {
            Ok(LoginStep::CodeSent(sent)) => Outcome::Waiting(Awaiting::Code(sent)),
            Ok(LoginStep::PasswordNeeded { hint }) => Outcome::Waiting(Awaiting::Password { hint }),
            Ok(LoginStep::LoggedIn(account)) => Outcome::LoggedIn(account),
            Ok(LoginStep::Qr(_)) => Outcome::Ended(LoginError::OutOfOrder("a QR code scan")),
            Err(LoginError::CodeExpired) => match active.as_mut() {
                Some(a) => match a.flow.resend_code().await {
                    Ok(LoginStep::CodeSent(sent)) => {
                        Outcome::Retry(LoginError::CodeExpired, Awaiting::Code(sent))
                    }
                    Ok(_) => Outcome::Ended(LoginError::Restart),
                    Err(error) => Outcome::Ended(error),
                },
                None => Outcome::Ended(LoginError::CodeExpired),
            },
            Err(error) if error.is_retryable() => match active.as_ref() {
                Some(a) => Outcome::Retry(error, a.awaiting.clone()),
                None => Outcome::Ended(error),
            },
            Err(error) => Outcome::Ended(error),
        };
        match &outcome {
            Outcome::Waiting(next) | Outcome::Retry(_, next) => {
                if let Some(a) = active.as_mut() {
                    a.awaiting = next.clone();
                }
            }
            Outcome::LoggedIn(account) => {
                self.end(active).await;
                info!(telegram_user = account.id, "logged into Telegram");
                // Nobody listening is fine: the next start reads the store.
                let _ = self.logged_in.send(TelegramLoggedIn {
                    account: account.clone(),
                });
            }
            Outcome::Ended(error) => {
                info!(%error, "Telegram login ended without an account");
                self.end(active).await;
            }
        }
        outcome
    }

    async fn end(&self, active: &mut Option<Active>) {
        if let Some(done) = active.take() {
            done.flow.finish().await;
        }
        self.clear_started();
        self.lock_links().revoke_all();
    }

    /// The notice for `outcome` in the room; `from_room` when the room drove
    /// the step (the web page shows its own answers).
    fn room_notice(&self, outcome: &Outcome, from_room: bool) -> Notice {
        match outcome {
            Outcome::Waiting(Awaiting::Code(sent)) => code_sent(sent),
            Outcome::Waiting(Awaiting::PhoneOrToken) => Notice::text(
                "Send your phone number with the country code, or a bot token.",
            ),
            Outcome::Waiting(Awaiting::Password { hint }) => self.hand_over_password(hint),
            Outcome::Retry(LoginError::CodeExpired, Awaiting::Code(sent)) => {
                Notice::text("That code has expired, so I asked Telegram for a new one.")
                    .paragraph(&code_sent(sent).plain)
            }
            Outcome::Retry(error, _) => {
                Notice::text(&error.to_string()).paragraph("Try again, or send `cancel`.")
            }
            Outcome::Ended(error) => {
                let lead = if from_room { "" } else { "The web login ended: " };
                Notice::text(&format!("{lead}{error}"))
                    .paragraph("The login was stopped; nothing was saved. Send `login` to start again.")
            }
            Outcome::LoggedIn(account) => Notice::text(&format!(
                "Logged into Telegram as {account}. The session is stored; your chats are bridged from now on."
            )),
        }
    }

    /// Telegram wants the 2FA password: never here. Offer the web page for
    /// this very login, or end it and point at the terminal.
    fn hand_over_password(&self, hint: &Option<String>) -> Notice {
        let hint = hint
            .as_deref()
            .map(|h| format!(" (your hint: {h})"))
            .unwrap_or_default();
        let lead = format!("Your account has a two-step verification password{hint}. Do not send it here: Matrix rooms keep messages on the homeserver.");
        let terminal = "Alternatively run `tgbridge login` in a terminal on the machine running the bridge (send `cancel` here first).";
        match self.issue_link() {
            Some(link) => Notice::text(&lead)
                .paragraph(&format!(
                    "Continue this login on the web page, where you type the password: {link}"
                ))
                .paragraph("The link works once, for a limited time.")
                .paragraph(terminal),
            None => Notice::text(&lead).paragraph(terminal),
        }
    }

    // ---- helpers -----------------------------------------------------------

    /// A login started anywhere but a room with only the owner and the bot is
    /// refused: others would see the code.
    async fn refuse_shared_room(&self, room_id: &RoomId) -> Option<Notice> {
        let request = joined_members::v3::Request::new(room_id.to_owned());
        match self.matrix.as_bot().send(request).await {
            Ok(response) => {
                let others = response
                    .joined
                    .keys()
                    .filter(|m| **m != self.owner && *m != self.matrix.bot_user_id())
                    .count();
                (others > 0).then(|| Notice::text(&format!(
                    "I will not start a login here: this room has {others} other member(s), who would see your login code. Send `login` in your management room (the direct chat with me) instead."
                )))
            }
            Err(error) => {
                warn!(%room_id, %error, "could not list the room's members; login refused");
                Some(Notice::text(
                    "I could not check who else is in this room, so I will not start a login here. Try again in the management room.",
                ))
            }
        }
    }

    fn issue_link(&self) -> Option<String> {
        let base = self.settings.web_base_url.as_deref()?;
        let token = self.lock_links().issue(Instant::now());
        Some(format!("{base}/login/{token}"))
    }

    async fn redact(&self, input: &Input) {
        let mut request = redact_event::v3::Request::new(
            input.room.clone(),
            input.event_id.clone(),
            txn::derived("login-redact", &[input.event_id.as_str()]),
        );
        request.reason = Some("Removed by the bridge: login answers may be secret.".to_owned());
        if let Err(error) = self.matrix.as_bot().send(request).await {
            warn!(room_id = %input.room, %error, "could not redact a login answer");
            self.notify(
                &input.room,
                &Notice::text("I could not remove your last message from this room (I may lack the permission to). Please delete it yourself."),
            )
            .await;
        }
    }

    async fn notify(&self, room: &RoomId, notice: &Notice) {
        let content =
            RoomMessageEventContent::notice_html(notice.plain.clone(), notice.html.clone());
        let request = match send_message_event::v3::Request::new(
            room.to_owned(),
            txn::derived("login-notice", &[&rand::random::<u64>().to_string()]),
            &content,
        ) {
            Ok(request) => request,
            Err(error) => {
                warn!(%error, "could not build a login notice");
                return;
            }
        };
        if let Err(error) = self.matrix.as_bot().send(request).await {
            warn!(room_id = %room, %error, "could not send a login notice");
        }
    }

    fn clear_started(&self) {
        *self
            .started_in
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn lock_links(&self) -> std::sync::MutexGuard<'_, WebLinks> {
        self.links.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// "Telegram sent a code…": where to look and what to do with it.
fn code_sent(sent: &CodeSent) -> Notice {
    let digits = sent
        .length
        .map(|n| format!(" ({n} digits)"))
        .unwrap_or_default();
    Notice::text(&format!(
        "Telegram sent a login code{digits} for {}: look {}.",
        sent.masked_phone,
        sent.delivery.where_to_look()
    ))
    .paragraph("Send the code here; I remove it from the room right away. Send `cancel` to stop.")
}

/// The answer to a message sent while the password is awaited elsewhere.
fn password_refused() -> Notice {
    Notice::text("I removed your message without reading it as a password: two-step verification passwords are only accepted on the web-login page or by `tgbridge login` in a terminal.")
}
