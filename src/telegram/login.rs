//! The login flow shared by every front end (terminal, management room, web
//! page): a small state machine over grammers' raw auth calls that turns each
//! user input into the next step or a [`LoginError`] whose `Display` is the
//! sentence to show the user. It never prompts, prints or logs a secret; the
//! drivers own all I/O.
//!
//! The session is written only when a login has succeeded: grammers' own
//! helpers store the logged-in user before the update state, so the flow
//! completes logins itself and caches the self user last. The store treats
//! "auth key + self user" as a login, so an interrupted flow can never be
//! mistaken for one.
//!
//! A driver's conversation: `request_code(phone)` → `CodeSent` →
//! `submit_code(code)` → `PasswordNeeded { hint }` (2FA accounts only) →
//! `submit_password(password)` → `LoggedIn(account)`. Bots call
//! `bot_token(token)`; QR logins call `qr_start()` then `qr_wait()` until the
//! step is no longer `Qr`. Retryable errors ([`LoginError::is_retryable`])
//! leave the flow where it was; `CodeExpired` is answered with
//! `resend_code()`. The flow is `Send`, so a management-room login can hand
//! an unfinished flow (waiting for the password) to the web page.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use grammers_mtsender::InvocationError;
use grammers_session::types::{PeerAuth, PeerInfo, UpdateState, UpdatesState};
use grammers_session::updates::UpdatesLike;
use grammers_tl_types as tl;

use super::client::{CallError, TelegramClient};

/// Wrong codes accepted before the flow asks for a new one.
pub const MAX_CODE_ATTEMPTS: u32 = 3;
/// Wrong 2FA passwords accepted before the flow gives up.
pub const MAX_PASSWORD_ATTEMPTS: u32 = 3;

/// What the user has to do next, or the logged-in account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginStep {
    /// Telegram sent a login code; call [`LoginFlow::submit_code`].
    CodeSent(CodeSent),
    /// The account has a 2FA password; call [`LoginFlow::submit_password`].
    PasswordNeeded {
        /// The hint the user set for their password, if any.
        hint: Option<String>,
    },
    /// Show this QR code and wait with [`LoginFlow::qr_wait`].
    Qr(QrCode),
    /// Logged in; the session is stored.
    LoggedIn(Account),
}

/// Where Telegram sent the login code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeDelivery {
    /// As a message from "Telegram" in the user's other Telegram apps.
    App,
    /// By SMS.
    Sms,
    /// Spoken in a phone call.
    Call,
    /// To the e-mail address linked to the account.
    Email,
    /// Some other way (flash call, Fragment, …).
    Other,
}

impl CodeDelivery {
    /// Where to look for the code, as a phrase: "in your Telegram app".
    pub fn where_to_look(self) -> &'static str {
        match self {
            CodeDelivery::App => {
                "in the Telegram app on your other device (a message from \"Telegram\")"
            }
            CodeDelivery::Sms => "in an SMS",
            CodeDelivery::Call => "in a phone call",
            CodeDelivery::Email => "in your e-mail",
            CodeDelivery::Other => "from Telegram",
        }
    }
}

/// A login code is on its way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSent {
    /// How it is delivered.
    pub delivery: CodeDelivery,
    /// Number of digits, when Telegram says.
    pub length: Option<u32>,
    /// The phone number, masked for display.
    pub masked_phone: String,
}

/// A QR code to scan under "Settings → Devices → Link Desktop Device".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrCode {
    /// The `tg://login?token=…` link the QR code encodes.
    pub url: String,
    /// When Telegram stops accepting this token.
    pub expires: SystemTime,
}

/// The account a session is logged into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Telegram user id.
    pub id: i64,
    /// First and last name.
    pub name: String,
    /// `@username`, without the `@`.
    pub username: Option<String>,
    /// The phone number with most digits hidden (bots have none).
    pub masked_phone: Option<String>,
    /// Whether this is a bot account.
    pub bot: bool,
}

impl std::fmt::Display for Account {
    /// "Ada Lovelace (@ada, +44*******123)".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        let details: Vec<String> = [
            self.username.as_ref().map(|u| format!("@{u}")),
            self.masked_phone.clone(),
            self.bot.then(|| "bot".to_owned()),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !details.is_empty() {
            write!(f, " ({})", details.join(", "))?;
        }
        Ok(())
    }
}

/// Why a login step failed. `Display` is the sentence for the user.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The phone number cannot be a full international number.
    #[error(
        "That is not a valid phone number. Type it with the country code, e.g. +44 7700 900123."
    )]
    InvalidPhone,
    /// The code contains something other than digits.
    #[error("The login code is the digits Telegram sent you; type only those.")]
    CodeMalformed,
    /// Telegram rejected the code.
    #[error("That code is not correct ({}).", attempts(*.attempts_left))]
    CodeInvalid {
        /// Tries left before the flow gives up on this code.
        attempts_left: u32,
    },
    /// Too many wrong codes.
    #[error("Too many wrong codes. Start the login again to get a new code.")]
    TooManyCodeAttempts,
    /// The code is no longer valid; [`LoginFlow::resend_code`] asks for another.
    #[error("The code has expired. A new code can be sent.")]
    CodeExpired,
    /// Nothing was typed for the password.
    #[error("The password cannot be empty.")]
    PasswordEmpty,
    /// Telegram rejected the 2FA password.
    #[error("That password is not correct ({}).", attempts(*.attempts_left))]
    PasswordInvalid {
        /// Tries left before the flow gives up.
        attempts_left: u32,
    },
    /// Too many wrong passwords.
    #[error("Too many wrong passwords. Start the login again when you have it at hand.")]
    TooManyPasswordAttempts,
    /// The number is banned.
    #[error("Telegram has banned this phone number, so it cannot log in. The official Telegram app explains how to appeal.")]
    Banned,
    /// Telegram asks to slow down for a known time.
    #[error("Telegram asks to wait {} before trying again.", duration_in_words(*.seconds))]
    FloodWait {
        /// Seconds to wait.
        seconds: u64,
    },
    /// Telegram asks to slow down without saying for how long.
    #[error(
        "Telegram received too many login attempts for this number; try again later (often a day)."
    )]
    TooManyRequests,
    /// No account has this number, and third-party apps cannot create one.
    #[error("There is no Telegram account for this phone number. Since 2023-02-18 Telegram lets only its official apps create accounts: sign up in an official Telegram app first, then log in here.")]
    NoAccount,
    /// Telegram could not be reached.
    #[error("Cannot reach Telegram ({0}). Check the network connection and try again.")]
    NetworkUnreachable(String),
    /// The bot token does not even look like one.
    #[error("That is not a bot token; @BotFather gives tokens like 123456789:AAF… (digits, a colon, then letters).")]
    BotTokenMalformed,
    /// Telegram rejected the bot token.
    #[error("Telegram rejected the bot token. Copy it again from @BotFather (or /revoke it there and use the new one).")]
    BotTokenInvalid,
    /// `telegram.api_id` / `telegram.api_hash` are wrong.
    #[error("Telegram rejected telegram.api_id / telegram.api_hash in the config; get yours at https://my.telegram.org.")]
    ApiIdInvalid,
    /// Telegram asked to start the login over.
    #[error("Telegram asked to start the login over.")]
    Restart,
    /// The session's key is not logged in (any more).
    #[error(
        "The stored Telegram login no longer works; it was probably ended from another device."
    )]
    NotAuthorized,
    /// A driver called a step the flow is not waiting for.
    #[error("The login is not waiting for {0}; start it again.")]
    OutOfOrder(&'static str),
    /// Telegram refused with an error the flow has no sentence for.
    #[error("Telegram refused the login ({0}).")]
    Telegram(String),
    /// Telegram answered something a login never gets.
    #[error("Telegram answered unexpectedly: {0}.")]
    Unexpected(String),
    /// The session could not be written.
    #[error("Could not save the Telegram session: {0}")]
    Session(String),
}

impl LoginError {
    /// Whether the same step may simply be tried again with new input.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LoginError::InvalidPhone
                | LoginError::CodeMalformed
                | LoginError::CodeInvalid { .. }
                | LoginError::PasswordEmpty
                | LoginError::PasswordInvalid { .. }
                | LoginError::BotTokenMalformed
                | LoginError::BotTokenInvalid
        )
    }
}

/// "2 attempts left" / "1 attempt left".
fn attempts(n: u32) -> String {
    if n == 1 {
        "1 attempt left".to_owned()
    } else {
        format!("{n} attempts left")
    }
}

/// Where the flow is.
#[derive(Debug)]
enum Stage {
    /// Nothing requested yet, or the last attempt ended.
    Idle,
    /// A code was sent for `phone`.
    CodeSent {
        phone: String,
        phone_code_hash: String,
        attempts_left: u32,
    },
    /// The code was right; the 2FA password is needed.
    Password { attempts_left: u32 },
    /// A QR token is displayed.
    Qr { expires: SystemTime },
    /// Done; further steps are refused.
    LoggedIn,
}

/// One login attempt from start to a stored session. Drivers call the step
/// methods in the order the returned [`LoginStep`]s ask for.
pub struct LoginFlow {
    tg: TelegramClient,
    api_id: i32,
    api_hash: String,
    stage: Stage,
    /// The last phone a code was requested for, so an expired code can be
    /// replaced without typing the number again.
    phone: Option<String>,
}

impl LoginFlow {
    /// A flow on a started client. `api_id`/`api_hash` identify the app.
    pub fn new(tg: TelegramClient, api_id: i32, api_hash: impl Into<String>) -> Self {
        Self {
            tg,
            api_id,
            api_hash: api_hash.into(),
            stage: Stage::Idle,
            phone: None,
        }
    }

    /// The client the flow runs on.
    pub fn client(&self) -> &TelegramClient {
        &self.tg
    }

    /// The account the session's key is logged into, asked from Telegram.
    pub async fn current_account(&self) -> Result<Account, LoginError> {
        let user = self.fetch_self().await?;
        Ok(account_from_user(&user))
    }

    /// Finishes a login that Telegram accepted but that was interrupted before
    /// the session was stored (e.g. Ctrl-C at the wrong moment): if the key is
    /// already logged in, stores the self user and returns the account.
    pub async fn resume_interrupted(&mut self) -> Result<Option<Account>, LoginError> {
        match self.fetch_self().await {
            Ok(user) => self.store_login(user).await.map(Some),
            Err(LoginError::NotAuthorized) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Asks Telegram to send a login code to `phone` (any common notation).
    pub async fn request_code(&mut self, phone: &str) -> Result<LoginStep, LoginError> {
        self.ensure_not_logged_in()?;
        let phone = normalize_phone(phone).ok_or(LoginError::InvalidPhone)?;
        self.send_code(phone).await
    }

    /// Sends a new code to the phone of the last [`Self::request_code`].
    pub async fn resend_code(&mut self) -> Result<LoginStep, LoginError> {
        self.ensure_not_logged_in()?;
        let phone = self
            .phone
            .clone()
            .ok_or(LoginError::OutOfOrder("a phone number"))?;
        self.send_code(phone).await
    }

    /// Checks the login code.
    pub async fn submit_code(&mut self, code: &str) -> Result<LoginStep, LoginError> {
        let Stage::CodeSent {
            phone,
            phone_code_hash,
            attempts_left,
        } = &mut self.stage
        else {
            return Err(LoginError::OutOfOrder("a login code"));
        };
        let code = normalize_code(code).ok_or(LoginError::CodeMalformed)?;
        let request = tl::functions::auth::SignIn {
            phone_number: phone.clone(),
            phone_code_hash: phone_code_hash.clone(),
            phone_code: Some(code),
            email_verification: None,
        };
        let left_after_miss = attempts_left.saturating_sub(1);
        match self.tg.call(&request).await {
            Ok(tl::enums::auth::Authorization::Authorization(auth)) => self.complete(auth).await,
            Ok(tl::enums::auth::Authorization::SignUpRequired(_)) => {
                self.stage = Stage::Idle;
                Err(LoginError::NoAccount)
            }
            Err(err) if is_rpc(&err, "SESSION_PASSWORD_NEEDED") => self.ask_password().await,
            Err(err) if is_rpc(&err, "PHONE_CODE_INVALID") || is_rpc(&err, "PHONE_CODE_EMPTY") => {
                if left_after_miss == 0 {
                    self.stage = Stage::Idle;
                    Err(LoginError::TooManyCodeAttempts)
                } else {
                    *attempts_left = left_after_miss;
                    Err(LoginError::CodeInvalid {
                        attempts_left: left_after_miss,
                    })
                }
            }
            Err(err) if is_rpc(&err, "PHONE_CODE_EXPIRED") => {
                self.stage = Stage::Idle;
                Err(LoginError::CodeExpired)
            }
            Err(err) => Err(classify(err)),
        }
    }

    /// Checks the 2FA password (SRP: the password itself is never sent).
    pub async fn submit_password(&mut self, password: &str) -> Result<LoginStep, LoginError> {
        let Stage::Password { attempts_left } = self.stage else {
            return Err(LoginError::OutOfOrder("a password"));
        };
        if password.is_empty() {
            return Err(LoginError::PasswordEmpty);
        }
        // A fresh challenge per attempt: Telegram's srp_id is single-use.
        let info = self.password_info().await?;
        let check = srp_answer(&info, password)?;
        match self
            .tg
            .call(&tl::functions::auth::CheckPassword { password: check })
            .await
        {
            Ok(tl::enums::auth::Authorization::Authorization(auth)) => self.complete(auth).await,
            Ok(tl::enums::auth::Authorization::SignUpRequired(_)) => Err(LoginError::Unexpected(
                "sign-up required after the password".into(),
            )),
            Err(err) if is_rpc(&err, "PASSWORD_HASH_INVALID") => {
                let left = attempts_left.saturating_sub(1);
                if left == 0 {
                    self.stage = Stage::Idle;
                    Err(LoginError::TooManyPasswordAttempts)
                } else {
                    self.stage = Stage::Password {
                        attempts_left: left,
                    };
                    Err(LoginError::PasswordInvalid {
                        attempts_left: left,
                    })
                }
            }
            Err(err) => Err(classify(err)),
        }
    }

    /// Logs in as the bot with this token.
    pub async fn bot_token(&mut self, token: &str) -> Result<LoginStep, LoginError> {
        self.ensure_not_logged_in()?;
        let token = token.trim();
        if !bot_token_looks_valid(token) {
            return Err(LoginError::BotTokenMalformed);
        }
        let request = tl::functions::auth::ImportBotAuthorization {
            flags: 0,
            api_id: self.api_id,
            api_hash: self.api_hash.clone(),
            bot_auth_token: token.to_owned(),
        };
        match self.tg.call_following_migration(&request).await {
            Ok(tl::enums::auth::Authorization::Authorization(auth)) => self.complete(auth).await,
            Ok(tl::enums::auth::Authorization::SignUpRequired(_)) => {
                Err(LoginError::Unexpected("sign-up required for a bot".into()))
            }
            Err(err) if is_rpc(&err, "ACCESS_TOKEN_*") || is_rpc(&err, "BOT_TOKEN_*") => {
                Err(LoginError::BotTokenInvalid)
            }
            Err(err) => Err(classify(err)),
        }
    }

    /// Starts a QR login: returns the first code to show.
    pub async fn qr_start(&mut self) -> Result<LoginStep, LoginError> {
        self.ensure_not_logged_in()?;
        self.export_login_token().await
    }

    /// Waits until the shown QR code is scanned or expires, then returns the
    /// next step: a fresh code, the password question, or the account.
    pub async fn qr_wait(&mut self) -> Result<LoginStep, LoginError> {
        let Stage::Qr { expires } = self.stage else {
            return Err(LoginError::OutOfOrder("a QR code scan"));
        };
        let until_expiry = expires
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        if let Some(updates) = self.tg.updates_mut() {
            // Telegram pushes updateLoginToken once the code is scanned; the
            // timer re-exports the token when it expires unscanned.
            let _ = tokio::time::timeout(until_expiry, wait_for_login_token(updates)).await;
        } else {
            tokio::time::sleep(until_expiry).await;
        }
        self.export_login_token().await
    }

    /// Stops the client. Call when the flow ends, successful or not.
    pub async fn finish(self) {
        self.tg.shutdown().await;
    }

    fn ensure_not_logged_in(&self) -> Result<(), LoginError> {
        match self.stage {
            Stage::LoggedIn => Err(LoginError::OutOfOrder("another login")),
            _ => Ok(()),
        }
    }

    async fn send_code(&mut self, phone: String) -> Result<LoginStep, LoginError> {
        let request = tl::functions::auth::SendCode {
            phone_number: phone.clone(),
            api_id: self.api_id,
            api_hash: self.api_hash.clone(),
            settings: tl::enums::CodeSettings::Settings(tl::types::CodeSettings {
                allow_flashcall: false,
                current_number: false,
                allow_app_hash: false,
                allow_missed_call: false,
                allow_firebase: false,
                unknown_number: false,
                logout_tokens: None,
                token: None,
                app_sandbox: None,
            }),
        };
        self.phone = Some(phone.clone());
        let sent = match self.tg.call_following_migration(&request).await {
            Ok(tl::enums::auth::SentCode::Code(sent)) => sent,
            Ok(tl::enums::auth::SentCode::Success(success)) => {
                // Telegram logged the key in without a code (future auth token).
                return match success.authorization {
                    tl::enums::auth::Authorization::Authorization(auth) => {
                        self.complete(auth).await
                    }
                    tl::enums::auth::Authorization::SignUpRequired(_) => Err(LoginError::NoAccount),
                };
            }
            Ok(tl::enums::auth::SentCode::PaymentRequired(_)) => {
                return Err(LoginError::Telegram(
                    "payment required to send the code".into(),
                ));
            }
            Err(err) if is_rpc(&err, "PHONE_NUMBER_UNOCCUPIED") => {
                return Err(LoginError::NoAccount)
            }
            Err(err) => return Err(classify(err)),
        };
        let masked_phone = mask_phone(&phone);
        self.stage = Stage::CodeSent {
            phone,
            phone_code_hash: sent.phone_code_hash,
            attempts_left: MAX_CODE_ATTEMPTS,
        };
        let (delivery, length) = delivery_of(&sent.r#type);
        Ok(LoginStep::CodeSent(CodeSent {
            delivery,
            length,
            masked_phone,
        }))
    }

    async fn ask_password(&mut self) -> Result<LoginStep, LoginError> {
        let info = self.password_info().await?;
        self.stage = Stage::Password {
            attempts_left: MAX_PASSWORD_ATTEMPTS,
        };
        Ok(LoginStep::PasswordNeeded {
            hint: info.hint.filter(|h| !h.is_empty()),
        })
    }

    async fn password_info(&self) -> Result<tl::types::account::Password, LoginError> {
        let tl::enums::account::Password::Password(info) = self
            .tg
            .call(&tl::functions::account::GetPassword {})
            .await
            .map_err(classify)?;
        Ok(info)
    }

    async fn export_login_token(&mut self) -> Result<LoginStep, LoginError> {
        let request = tl::functions::auth::ExportLoginToken {
            api_id: self.api_id,
            api_hash: self.api_hash.clone(),
            except_ids: Vec::new(),
        };
        let answer = match self.tg.call(&request).await {
            Ok(answer) => answer,
            Err(err) if is_rpc(&err, "SESSION_PASSWORD_NEEDED") => {
                return self.ask_password().await
            }
            Err(err) => return Err(classify(err)),
        };
        self.qr_answer(answer).await
    }

    async fn qr_answer(
        &mut self,
        answer: tl::enums::auth::LoginToken,
    ) -> Result<LoginStep, LoginError> {
        match answer {
            tl::enums::auth::LoginToken::Token(token) => {
                let expires = unix_time(token.expires);
                self.stage = Stage::Qr { expires };
                Ok(LoginStep::Qr(QrCode {
                    url: login_url(&token.token),
                    expires,
                }))
            }
            tl::enums::auth::LoginToken::MigrateTo(migrate) => {
                // The scanning account lives in another datacenter: finish there.
                self.tg
                    .switch_home_dc(migrate.dc_id)
                    .await
                    .map_err(classify)?;
                let import = tl::functions::auth::ImportLoginToken {
                    token: migrate.token,
                };
                match self.tg.call(&import).await {
                    Ok(tl::enums::auth::LoginToken::Success(success)) => {
                        self.qr_success(success).await
                    }
                    Ok(_) => Err(LoginError::Unexpected(
                        "the QR login did not complete after migrating".into(),
                    )),
                    Err(err) if is_rpc(&err, "SESSION_PASSWORD_NEEDED") => {
                        self.ask_password().await
                    }
                    Err(err) => Err(classify(err)),
                }
            }
            tl::enums::auth::LoginToken::Success(success) => self.qr_success(success).await,
        }
    }

    async fn qr_success(
        &mut self,
        success: tl::types::auth::LoginTokenSuccess,
    ) -> Result<LoginStep, LoginError> {
        match success.authorization {
            tl::enums::auth::Authorization::Authorization(auth) => self.complete(auth).await,
            tl::enums::auth::Authorization::SignUpRequired(_) => Err(LoginError::NoAccount),
        }
    }

    async fn fetch_self(&self) -> Result<tl::types::User, LoginError> {
        let request = tl::functions::users::GetUsers {
            id: vec![tl::enums::InputUser::UserSelf],
        };
        match self.tg.call(&request).await {
            Ok(users) => users
                .into_iter()
                .find_map(|user| match user {
                    tl::enums::User::User(user) => Some(user),
                    tl::enums::User::Empty(_) => None,
                })
                .ok_or(LoginError::NotAuthorized),
            Err(err) if err.rpc().is_some_and(|rpc| rpc.code == 401) => {
                Err(LoginError::NotAuthorized)
            }
            Err(err) => Err(classify(err)),
        }
    }

    async fn complete(
        &mut self,
        auth: tl::types::auth::Authorization,
    ) -> Result<LoginStep, LoginError> {
        let tl::enums::User::User(user) = auth.user else {
            return Err(LoginError::Unexpected(
                "an empty user in the authorization".into(),
            ));
        };
        let account = self.store_login(user).await?;
        Ok(LoginStep::LoggedIn(account))
    }

    /// Writes the login into the session: the update state first, the self
    /// user last, because the self user is what marks the session as logged in.
    async fn store_login(&mut self, user: tl::types::User) -> Result<Account, LoginError> {
        let access_hash = user.access_hash.ok_or_else(|| {
            LoginError::Unexpected("the logged-in user has no access hash".into())
        })?;
        let session = self.tg.session();
        // Without a state the bridge's update stream fetches one itself, so a
        // failure here only costs the catch-up of the first seconds.
        if let Ok(tl::enums::updates::State::State(state)) =
            self.tg.call(&tl::functions::updates::GetState {}).await
        {
            session
                .set_update_state(UpdateState::All(UpdatesState {
                    pts: state.pts,
                    qts: state.qts,
                    date: state.date,
                    seq: state.seq,
                    channels: Vec::new(),
                }))
                .await
                .map_err(|e| LoginError::Session(e.to_string()))?;
        }
        session
            .cache_peer(PeerInfo::User {
                id: user.id,
                auth: Some(PeerAuth::from_hash(access_hash)),
                bot: Some(user.bot),
                is_self: Some(true),
            })
            .await
            .map_err(|e| LoginError::Session(e.to_string()))?;
        self.stage = Stage::LoggedIn;
        Ok(account_from_user(&user))
    }
}

/// Resolves once an `updateLoginToken` arrives (or the channel closes).
async fn wait_for_login_token(updates: &mut tokio::sync::mpsc::Receiver<UpdatesLike>) {
    while let Some(update) = updates.recv().await {
        if is_login_token_update(&update) {
            return;
        }
    }
    // The pool stopped; the caller's next call reports why.
    std::future::pending::<()>().await;
}

/// Whether `update` says a QR login token was accepted.
fn is_login_token_update(update: &UpdatesLike) -> bool {
    let UpdatesLike::Updates(updates) = update else {
        return false;
    };
    let is_it = |u: &tl::enums::Update| matches!(u, tl::enums::Update::LoginToken);
    match updates {
        tl::enums::Updates::UpdateShort(short) => is_it(&short.update),
        tl::enums::Updates::Combined(combined) => combined.updates.iter().any(is_it),
        tl::enums::Updates::Updates(full) => full.updates.iter().any(is_it),
        _ => false,
    }
}

/// The SRP answer to Telegram's current password challenge.
fn srp_answer(
    info: &tl::types::account::Password,
    password: &str,
) -> Result<tl::enums::InputCheckPasswordSrp, LoginError> {
    use grammers_crypto::two_factor_auth::{calculate_2fa, check_p_and_g};
    let unsupported =
        || LoginError::Unexpected("a 2FA password scheme this version does not support".into());
    let Some(tl::enums::PasswordKdfAlgo::Sha256Sha256Pbkdf2Hmacsha512iter100000Sha256ModPow(algo)) =
        &info.current_algo
    else {
        return Err(unsupported());
    };
    let (Some(srp_b), Some(srp_id)) = (&info.srp_b, info.srp_id) else {
        return Err(unsupported());
    };
    if !check_p_and_g(&algo.p, &algo.g) {
        return Err(LoginError::Unexpected("unsafe 2FA parameters".into()));
    }
    let (m1, g_a) = calculate_2fa(
        &algo.salt1,
        &algo.salt2,
        &algo.p,
        &algo.g,
        srp_b.clone(),
        info.secure_random.clone(),
        password.as_bytes(),
    );
    Ok(tl::enums::InputCheckPasswordSrp::Srp(
        tl::types::InputCheckPasswordSrp {
            srp_id,
            a: g_a.to_vec(),
            m1: m1.to_vec(),
        },
    ))
}

/// Whether `err` is the RPC error `name` (`*` wildcards as in grammers).
fn is_rpc(err: &CallError, name: &str) -> bool {
    err.rpc().is_some_and(|rpc| rpc.is(name))
}

/// The user-facing error for a failure no step handles specially.
fn classify(err: CallError) -> LoginError {
    if err.is_network() {
        return LoginError::NetworkUnreachable(network_reason(&err));
    }
    let Some(rpc) = err.rpc() else {
        return match err {
            CallError::Invocation(InvocationError::Session(e)) => {
                LoginError::Session(e.to_string())
            }
            other => LoginError::Unexpected(other.to_string()),
        };
    };
    match rpc.name.as_str() {
        "PHONE_NUMBER_INVALID" | "PHONE_NUMBER_EMPTY" => LoginError::InvalidPhone,
        "PHONE_NUMBER_BANNED" | "USER_DEACTIVATED_BAN" => LoginError::Banned,
        "PHONE_NUMBER_UNOCCUPIED" => LoginError::NoAccount,
        "FLOOD_WAIT" | "FLOOD_PREMIUM_WAIT" | "SLOWMODE_WAIT" => match rpc.value {
            Some(seconds) => LoginError::FloodWait {
                seconds: u64::from(seconds),
            },
            None => LoginError::TooManyRequests,
        },
        "PHONE_NUMBER_FLOOD" | "PHONE_PASSWORD_FLOOD" => LoginError::TooManyRequests,
        "API_ID_INVALID" | "API_ID_PUBLISHED_FLOOD" => LoginError::ApiIdInvalid,
        "AUTH_RESTART" | "PHONE_CODE_HASH_EMPTY" => LoginError::Restart,
        "PHONE_CODE_EXPIRED" => LoginError::CodeExpired,
        _ if rpc.code == 420 => match rpc.value {
            Some(seconds) => LoginError::FloodWait {
                seconds: u64::from(seconds),
            },
            None => LoginError::TooManyRequests,
        },
        _ if rpc.code == 401 => LoginError::NotAuthorized,
        name => LoginError::Telegram(name.to_owned()),
    }
}

/// A short reason for a network failure, without addresses of the session.
fn network_reason(err: &CallError) -> String {
    match err {
        CallError::TimedOut(limit) => format!("no answer within {} seconds", limit.as_secs()),
        CallError::Invocation(InvocationError::Io(io)) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
                "connection reset".to_owned()
            }
            std::io::ErrorKind::TimedOut => "connection timed out".to_owned(),
            _ => io.to_string(),
        },
        other => other.to_string(),
    }
}

/// Where and how long the code is, from Telegram's `SentCodeType`.
fn delivery_of(kind: &tl::enums::auth::SentCodeType) -> (CodeDelivery, Option<u32>) {
    use tl::enums::auth::SentCodeType as T;
    let len = |n: i32| u32::try_from(n).ok();
    match kind {
        T::App(t) => (CodeDelivery::App, len(t.length)),
        T::Sms(t) => (CodeDelivery::Sms, len(t.length)),
        T::Call(t) => (CodeDelivery::Call, len(t.length)),
        T::EmailCode(t) => (CodeDelivery::Email, len(t.length)),
        T::FragmentSms(t) => (CodeDelivery::Sms, len(t.length)),
        T::FirebaseSms(t) => (CodeDelivery::Sms, len(t.length)),
        _ => (CodeDelivery::Other, None),
    }
}

/// The account as shown to the user.
fn account_from_user(user: &tl::types::User) -> Account {
    let name = [user.first_name.as_deref(), user.last_name.as_deref()]
        .into_iter()
        .flatten()
        .filter(|part| !part.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let username = user.username.clone().or_else(|| {
        user.usernames.as_ref().and_then(|names| {
            names
                .iter()
                .find_map(|tl::enums::Username::Username(u)| u.active.then(|| u.username.clone()))
        })
    });
    Account {
        id: user.id,
        name: if name.is_empty() {
            format!("user {}", user.id)
        } else {
            name
        },
        username,
        masked_phone: user
            .phone
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(mask_phone),
        bot: user.bot,
    }
}

/// A Unix timestamp from Telegram as a `SystemTime`.
fn unix_time(seconds: i32) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
}

/// The `tg://login?token=…` link for a QR login token (base64url, no padding).
pub fn login_url(token: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token);
    format!("tg://login?token={encoded}")
}

/// The digits Telegram expects for `input` ("+44 7700 900-123", "0044…"), or
/// `None` when it cannot be a full international number: E.164 allows at
/// most 15 digits, and numbers starting with a single 0 lack the country code.
pub fn normalize_phone(input: &str) -> Option<String> {
    let trimmed = input.trim();
    let (explicit_plus, rest) = match trimmed.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' | '\u{a0}' => {}
            _ => return None,
        }
    }
    if !explicit_plus {
        if let Some(international) = digits.strip_prefix("00") {
            digits = international.to_owned();
        } else if digits.starts_with('0') {
            return None;
        }
    }
    let valid = (7..=15).contains(&digits.len()) && !digits.starts_with('0');
    valid.then_some(digits)
}

/// A phone number in Telegram's digits-only form, masked for display.
fn mask_phone(digits: &str) -> String {
    crate::logging::mask_phone(&format!("+{}", digits.trim_start_matches('+')))
}

/// The digits of a login code as typed ("12 345", "12-345"), or `None` if it
/// contains anything else.
pub fn normalize_code(input: &str) -> Option<String> {
    let mut code = String::with_capacity(input.len());
    for c in input.trim().chars() {
        match c {
            '0'..='9' => code.push(c),
            ' ' | '-' => {}
            _ => return None,
        }
    }
    (!code.is_empty()).then_some(code)
}

/// Whether `token` has the shape @BotFather gives: `<bot id>:<secret>`.
pub fn bot_token_looks_valid(token: &str) -> bool {
    let Some((id, secret)) = token.split_once(':') else {
        return false;
    };
    !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
        && secret.len() >= 8
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A wait in words, rounded up to its two largest units so nobody retries
/// too early: 7505 s is "2 hours 6 minutes", 45 s is "45 seconds".
pub fn duration_in_words(seconds: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (86_400, "day"),
        (3_600, "hour"),
        (60, "minute"),
        (1, "second"),
    ];
    if seconds == 0 {
        return "a moment".to_owned();
    }
    let largest = |s: u64| {
        UNITS
            .iter()
            .position(|(size, _)| s >= *size)
            .unwrap_or(UNITS.len() - 1)
    };
    let first = largest(seconds);
    let step = UNITS[(first + 1).min(UNITS.len() - 1)].0;
    let rounded = seconds.div_ceil(step) * step;
    let first = largest(rounded);
    let (size, name) = UNITS[first];
    let mut words = plural(rounded / size, name);
    if let Some(&(next_size, next_name)) = UNITS.get(first + 1) {
        let rest = rounded % size / next_size;
        if rest > 0 {
            words.push(' ');
            words.push_str(&plural(rest, next_name));
        }
    }
    words
}

/// "1 hour", "2 hours".
fn plural(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drivers run steps inside Tokio tasks and web handlers.
    #[allow(dead_code)]
    fn flows_and_their_steps_are_send(flow: &mut LoginFlow) {
        fn send<T: Send>(_: &T) {}
        send(flow);
        send(&flow.request_code(""));
        send(&flow.submit_code(""));
        send(&flow.submit_password(""));
        send(&flow.bot_token(""));
        send(&flow.qr_wait());
    }

    #[test]
    fn phones_in_common_notations_normalise_to_digits() {
        assert_eq!(
            normalize_phone("+44 7700 900123").as_deref(),
            Some("447700900123")
        );
        assert_eq!(
            normalize_phone("0044 (7700) 900-123").as_deref(),
            Some("447700900123")
        );
        assert_eq!(
            normalize_phone(" 447700900123\n").as_deref(),
            Some("447700900123")
        );
        assert_eq!(
            normalize_phone("+1.415.555.0132").as_deref(),
            Some("14155550132")
        );
    }

    #[test]
    fn phones_without_country_code_or_with_junk_are_rejected() {
        assert_eq!(
            normalize_phone("07700 900123"),
            None,
            "local number without country code"
        );
        assert_eq!(normalize_phone(""), None);
        assert_eq!(normalize_phone("+"), None);
        assert_eq!(normalize_phone("+44 7700 ABC"), None);
        assert_eq!(normalize_phone("+123"), None, "too short");
        assert_eq!(
            normalize_phone("+1234567890123456"),
            None,
            "longer than E.164 allows"
        );
        assert_eq!(normalize_phone("++447700900123"), None);
    }

    #[test]
    fn masked_phones_hide_the_middle_digits() {
        let masked = mask_phone("447700900123");
        assert!(masked.starts_with("+44"), "{masked}");
        assert!(!masked.contains("7700900"), "{masked}");
    }

    #[test]
    fn codes_accept_separators_but_nothing_else() {
        assert_eq!(normalize_code(" 12 345 ").as_deref(), Some("12345"));
        assert_eq!(normalize_code("12-345").as_deref(), Some("12345"));
        assert_eq!(normalize_code("12a45"), None);
        assert_eq!(normalize_code("  "), None);
    }

    #[test]
    fn bot_tokens_need_id_colon_secret() {
        assert!(bot_token_looks_valid(
            "123456789:AAFXAy5-PawQlnYywUlZ_b_GOXgarR3ah_yq"
        ));
        assert!(!bot_token_looks_valid("AAFXAy5-PawQlnYywUlZ"));
        assert!(!bot_token_looks_valid("abc:AAFXAy5-PawQlnYywUlZ"));
        assert!(!bot_token_looks_valid("123:short"));
        assert!(!bot_token_looks_valid("123:AAFXAy5 PawQlnYywUlZ"));
    }

    #[test]
    fn durations_read_as_words_rounded_up() {
        assert_eq!(duration_in_words(0), "a moment");
        assert_eq!(duration_in_words(1), "1 second");
        assert_eq!(duration_in_words(45), "45 seconds");
        assert_eq!(duration_in_words(60), "1 minute");
        assert_eq!(duration_in_words(90), "1 minute 30 seconds");
        assert_eq!(duration_in_words(7500), "2 hours 5 minutes");
        assert_eq!(duration_in_words(7501), "2 hours 6 minutes");
        assert_eq!(duration_in_words(3599), "59 minutes 59 seconds");
        assert_eq!(duration_in_words(86_399), "1 day");
        assert_eq!(duration_in_words(90_061), "1 day 2 hours");
        assert_eq!(duration_in_words(2 * 86_400), "2 days");
    }

    #[test]
    fn flood_wait_message_says_how_long() {
        let err = LoginError::FloodWait { seconds: 7500 };
        assert_eq!(
            err.to_string(),
            "Telegram asks to wait 2 hours 5 minutes before trying again."
        );
    }

    #[test]
    fn attempts_left_are_spelled_out() {
        assert_eq!(
            LoginError::CodeInvalid { attempts_left: 1 }.to_string(),
            "That code is not correct (1 attempt left)."
        );
        assert_eq!(
            LoginError::PasswordInvalid { attempts_left: 2 }.to_string(),
            "That password is not correct (2 attempts left)."
        );
    }

    #[test]
    fn login_urls_are_base64url_without_padding() {
        assert_eq!(login_url(&[0xfb, 0xff, 0x01]), "tg://login?token=-_8B");
        assert_eq!(login_url(b"ab"), "tg://login?token=YWI");
    }

    #[test]
    fn rpc_errors_map_to_sentences() {
        let rpc = |code: i32, name: &str, value: Option<u32>| {
            CallError::Invocation(InvocationError::Rpc(grammers_mtsender::RpcError {
                code,
                name: name.to_owned(),
                value,
                caused_by: None,
            }))
        };
        assert!(matches!(
            classify(rpc(400, "PHONE_NUMBER_INVALID", None)),
            LoginError::InvalidPhone
        ));
        assert!(matches!(
            classify(rpc(400, "PHONE_NUMBER_BANNED", None)),
            LoginError::Banned
        ));
        assert!(matches!(
            classify(rpc(400, "PHONE_NUMBER_UNOCCUPIED", None)),
            LoginError::NoAccount
        ));
        assert!(matches!(
            classify(rpc(420, "FLOOD_WAIT", Some(7500))),
            LoginError::FloodWait { seconds: 7500 }
        ));
        assert!(matches!(
            classify(rpc(400, "PHONE_NUMBER_FLOOD", None)),
            LoginError::TooManyRequests
        ));
        assert!(matches!(
            classify(rpc(400, "API_ID_INVALID", None)),
            LoginError::ApiIdInvalid
        ));
        assert!(matches!(
            classify(rpc(400, "SOMETHING_NEW", None)),
            LoginError::Telegram(name) if name == "SOMETHING_NEW"
        ));
        let refused = CallError::Invocation(InvocationError::Io(
            std::io::ErrorKind::ConnectionRefused.into(),
        ));
        assert_eq!(
            classify(refused).to_string(),
            "Cannot reach Telegram (connection refused). Check the network connection and try again."
        );
        assert!(matches!(
            classify(CallError::TimedOut(Duration::from_secs(30))),
            LoginError::NetworkUnreachable(reason) if reason == "no answer within 30 seconds"
        ));
    }

    #[test]
    fn accounts_display_name_username_and_masked_phone() {
        let account = Account {
            id: 1,
            name: "Ada Lovelace".into(),
            username: Some("ada".into()),
            masked_phone: Some("+44*******123".into()),
            bot: false,
        };
        assert_eq!(account.to_string(), "Ada Lovelace (@ada, +44*******123)");
    }
}
