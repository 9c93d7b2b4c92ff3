//! Logging in and out: `auth.sendCode`/`auth.signIn`, 2FA (`account.getPassword`,
//! `auth.checkPassword` with real SRP), bot tokens, QR login tokens and
//! `auth.logOut`, plus the authorization registry they change. Reads accounts
//! from the world through its auth interface only; never touches sockets (the
//! QR "scan" returns the key to notify and the server pushes the update).

pub mod registry;
pub mod srp;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use grammers_tl_types::{self as tl, Deserializable, Identifiable, Serializable};
use rand::{Rng, RngCore};

use crate::mtproto::crypto::AuthKey;
use crate::world::{SharedWorld, User, UserId, World};
use crate::RpcError;
use registry::Registry;
use srp::{Challenge, Verifier};

/// How long a QR login token can be scanned, as on Telegram.
const LOGIN_TOKEN_TTL: Duration = Duration::from_secs(30);

/// Length of generated login codes, as `auth.sentCodeTypeApp` announces it.
const CODE_LENGTH: usize = 5;

/// A login code sent by `auth.sendCode`.
#[derive(Debug, Clone)]
struct SentCode {
    phone: String,
    code: String,
    expired: bool,
}

/// A QR login token exported by `auth.exportLoginToken`.
#[derive(Debug, Clone)]
struct LoginToken {
    token: Vec<u8>,
    auth_key_id: i64,
    created: Instant,
    scanned_by: Option<UserId>,
}

/// A 2FA login in progress on one auth key: kept until the right password
/// arrives, because grammers reuses `srp_id` and `B` after a wrong attempt.
#[derive(Debug, Clone)]
struct PendingPassword {
    account: UserId,
    challenge: Option<Challenge>,
}

#[derive(Debug, Default)]
struct State {
    registry: Registry,
    /// By `phone_code_hash`.
    sent_codes: HashMap<String, SentCode>,
    /// Codes tests chose for a phone, used instead of the account's `login_code`.
    code_overrides: HashMap<String, String>,
    /// The last code sent to each phone ("the SMS"), for tests to read.
    last_codes: HashMap<String, String>,
    pending_passwords: HashMap<i64, PendingPassword>,
    login_tokens: Vec<LoginToken>,
}

/// Auth state of one fake datacenter.
#[derive(Debug, Default)]
pub struct Auth {
    state: Mutex<State>,
}

/// `scan_login_token` found nothing to scan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// Nothing waits to be scanned (never exported, expired or already scanned).
    #[error("no unexpired, unscanned QR login token was exported")]
    NoToken,
    /// The scanning account does not exist.
    #[error("user {0} does not exist")]
    UnknownUser(UserId),
}

/// An auth method call, decoded.
#[derive(Debug)]
#[allow(missing_docs)] // One variant per TL method, named after it.
pub enum AuthCall {
    SendCode(tl::functions::auth::SendCode),
    SignIn(tl::functions::auth::SignIn),
    SignUp,
    GetPassword,
    CheckPassword(tl::functions::auth::CheckPassword),
    ImportBotAuthorization(tl::functions::auth::ImportBotAuthorization),
    ExportLoginToken,
    ImportLoginToken(tl::functions::auth::ImportLoginToken),
    LogOut,
}

impl AuthCall {
    /// Decodes `request` (constructor id included) if it is an auth method
    /// handled here; `None` for any other method.
    pub fn parse(request: &[u8]) -> Option<Result<Self, RpcError>> {
        use tl::functions::{account, auth};
        let id = u32::from_le_bytes(request.get(..4)?.try_into().ok()?);
        let args = &request[4..];
        let call = match id {
            auth::SendCode::CONSTRUCTOR_ID => auth::SendCode::from_bytes(args).map(Self::SendCode),
            auth::SignIn::CONSTRUCTOR_ID => auth::SignIn::from_bytes(args).map(Self::SignIn),
            auth::SignUp::CONSTRUCTOR_ID => Ok(Self::SignUp),
            account::GetPassword::CONSTRUCTOR_ID => Ok(Self::GetPassword),
            auth::CheckPassword::CONSTRUCTOR_ID => {
                auth::CheckPassword::from_bytes(args).map(Self::CheckPassword)
            }
            auth::ImportBotAuthorization::CONSTRUCTOR_ID => {
                auth::ImportBotAuthorization::from_bytes(args).map(Self::ImportBotAuthorization)
            }
            auth::ExportLoginToken::CONSTRUCTOR_ID => Ok(Self::ExportLoginToken),
            auth::ImportLoginToken::CONSTRUCTOR_ID => {
                auth::ImportLoginToken::from_bytes(args).map(Self::ImportLoginToken)
            }
            auth::LogOut::CONSTRUCTOR_ID => Ok(Self::LogOut),
            _ => return None,
        };
        Some(call.map_err(|_| RpcError::bad_request("INPUT_REQUEST_INVALID")))
    }
}

/// Digits only, as the world stores phones; `None` if it cannot be a phone number.
pub fn normalize_phone(phone: &str) -> Option<String> {
    let digits: String = phone
        .chars()
        .filter(|c| !matches!(c, '+' | ' ' | '-' | '(' | ')'))
        .collect();
    let valid = (7..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit());
    valid.then_some(digits)
}

fn random_code() -> String {
    let mut rng = rand::rng();
    (0..CODE_LENGTH)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

fn lock_world(world: &SharedWorld) -> MutexGuard<'_, World> {
    // World handlers are plain data updates; a panic in one must not stop the DC.
    world.lock().unwrap_or_else(|e| e.into_inner())
}

fn unix_now() -> i32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i32
}

/// `auth.authorization` for `account` as it sees itself (`is_self`, access hash).
fn authorization(
    world: &SharedWorld,
    account: UserId,
) -> Result<tl::enums::auth::Authorization, RpcError> {
    let user = lock_world(world)
        .tl_user(account, account)
        .ok_or_else(|| RpcError::new(500, "FAKE_USER_MISSING"))?;
    Ok(tl::enums::auth::Authorization::Authorization(
        tl::types::auth::Authorization {
            setup_password_required: false,
            otherwise_relogin_days: None,
            tmp_sessions: None,
            future_auth_token: None,
            user,
        },
    ))
}

impl Auth {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a new auth key that is not logged in.
    pub fn register_key(&self, key: AuthKey) -> i64 {
        self.state().registry.register(key)
    }

    /// Registers a new auth key already logged into `account`.
    pub fn register_logged_in_key(&self, key: AuthKey, account: UserId) -> i64 {
        let mut state = self.state();
        let id = state.registry.register(key);
        state.registry.bind(id, account);
        id
    }

    /// The key with this id, if registered.
    pub fn key(&self, key_id: i64) -> Option<AuthKey> {
        self.state().registry.get(key_id).map(|e| e.key.clone())
    }

    /// The account a key is logged into.
    pub fn account(&self, key_id: i64) -> Option<UserId> {
        self.state().registry.account(key_id)
    }

    /// The 401 a call on a key that is not logged in gets.
    pub fn unauthorized(&self, key_id: i64) -> RpcError {
        if self.state().registry.is_revoked(key_id) {
            RpcError::unauthorized("SESSION_REVOKED")
        } else {
            RpcError::unauthorized("AUTH_KEY_UNREGISTERED")
        }
    }

    /// Terminates every session of `account`; returns how many keys were logged in.
    pub fn revoke_sessions(&self, account: UserId) -> usize {
        let mut state = self.state();
        state.pending_passwords.retain(|_, p| p.account != account);
        state.registry.revoke_account(account)
    }

    /// Notes that `connection` of `key_id` started its update stream: pushes
    /// may flow to it.
    pub fn subscribe(&self, key_id: i64, connection: u64) {
        self.state().registry.subscribe(key_id, connection);
    }

    /// Forgets a closed connection of `key_id`.
    pub fn unsubscribe(&self, key_id: i64, connection: u64) {
        self.state().registry.unsubscribe(key_id, connection);
    }

    /// Whether a push for `account` should be delivered on `connection` of `key_id`.
    pub fn wants_push(&self, key_id: i64, connection: u64, account: UserId) -> bool {
        self.state()
            .registry
            .wants_push(key_id, connection, account)
    }

    /// Ids of the keys logged into `account`.
    pub fn keys_of(&self, account: UserId) -> Vec<i64> {
        self.state().registry.keys_of(account)
    }

    /// Makes `auth.sendCode` for `phone` (any format) send `code`.
    pub fn set_login_code(&self, phone: &str, code: &str) {
        let phone = normalize_phone(phone).unwrap_or_else(|| phone.to_owned());
        self.state().code_overrides.insert(phone, code.to_owned());
    }

    /// The last code `auth.sendCode` sent to `phone`.
    pub fn last_login_code(&self, phone: &str) -> Option<String> {
        let phone = normalize_phone(phone)?;
        self.state().last_codes.get(&phone).cloned()
    }

    /// Expires every code sent to `phone` so far (`PHONE_CODE_EXPIRED`).
    pub fn expire_login_codes(&self, phone: &str) {
        let Some(phone) = normalize_phone(phone) else {
            return;
        };
        for sent in self
            .state()
            .sent_codes
            .values_mut()
            .filter(|s| s.phone == phone)
        {
            sent.expired = true;
        }
    }

    /// "The phone scanned the QR code": the newest unscanned token is accepted
    /// for `account`. Returns the auth key that exported it, which must now
    /// receive `updateLoginToken`.
    pub fn scan_login_token(&self, world: &SharedWorld, account: UserId) -> Result<i64, ScanError> {
        if lock_world(world).user(account).is_none() {
            return Err(ScanError::UnknownUser(account));
        }
        let mut state = self.state();
        let token = state
            .login_tokens
            .iter_mut()
            .rev()
            .find(|t| t.scanned_by.is_none() && t.created.elapsed() < LOGIN_TOKEN_TTL)
            .ok_or(ScanError::NoToken)?;
        token.scanned_by = Some(account);
        Ok(token.auth_key_id)
    }

    /// Answers an auth call made on `key_id`; returns the serialized boxed result.
    pub fn handle(
        &self,
        world: &SharedWorld,
        key_id: i64,
        call: AuthCall,
    ) -> Result<Vec<u8>, RpcError> {
        match call {
            AuthCall::SendCode(req) => self
                .send_code(world, &req.phone_number)
                .map(|r| r.to_bytes()),
            AuthCall::SignIn(req) => self.sign_in(world, key_id, &req).map(|r| r.to_bytes()),
            // Telegram stopped allowing sign-up from third-party clients.
            AuthCall::SignUp => Err(RpcError::bad_request("PHONE_NUMBER_UNOCCUPIED")),
            AuthCall::GetPassword => self.get_password(world, key_id).map(|r| r.to_bytes()),
            AuthCall::CheckPassword(req) => self
                .check_password(world, key_id, req)
                .map(|r| r.to_bytes()),
            AuthCall::ImportBotAuthorization(req) => self
                .import_bot(world, key_id, &req.bot_auth_token)
                .map(|r| r.to_bytes()),
            AuthCall::ExportLoginToken => {
                self.export_login_token(world, key_id).map(|r| r.to_bytes())
            }
            AuthCall::ImportLoginToken(req) => self
                .import_login_token(world, key_id, &req.token)
                .map(|r| r.to_bytes()),
            AuthCall::LogOut => self.log_out(key_id).map(|r| r.to_bytes()),
        }
    }

    fn send_code(
        &self,
        world: &SharedWorld,
        phone: &str,
    ) -> Result<tl::enums::auth::SentCode, RpcError> {
        let phone =
            normalize_phone(phone).ok_or_else(|| RpcError::bad_request("PHONE_NUMBER_INVALID"))?;
        let user = lock_world(world).user_by_phone(&phone).cloned();
        if user.as_ref().is_some_and(|u| u.spec.banned) {
            return Err(RpcError::bad_request("PHONE_NUMBER_BANNED"));
        }
        let mut state = self.state();
        let code = state
            .code_overrides
            .get(&phone)
            .cloned()
            .or_else(|| user.and_then(|u| u.spec.login_code))
            .unwrap_or_else(random_code);
        let hash = random_hex(8);
        state.last_codes.insert(phone.clone(), code.clone());
        let length = code.chars().count() as i32;
        state.sent_codes.insert(
            hash.clone(),
            SentCode {
                phone,
                code,
                expired: false,
            },
        );
        Ok(tl::enums::auth::SentCode::Code(tl::types::auth::SentCode {
            r#type: tl::enums::auth::SentCodeType::App(tl::types::auth::SentCodeTypeApp { length }),
            phone_code_hash: hash,
            next_type: None,
            timeout: None,
        }))
    }

    fn sign_in(
        &self,
        world: &SharedWorld,
        key_id: i64,
        req: &tl::functions::auth::SignIn,
    ) -> Result<tl::enums::auth::Authorization, RpcError> {
        let phone = normalize_phone(&req.phone_number)
            .ok_or_else(|| RpcError::bad_request("PHONE_NUMBER_INVALID"))?;
        if req.phone_code_hash.is_empty() {
            return Err(RpcError::bad_request("PHONE_CODE_HASH_EMPTY"));
        }
        let code = req.phone_code.as_deref().unwrap_or_default();
        if code.is_empty() {
            return Err(RpcError::bad_request("PHONE_CODE_EMPTY"));
        }
        {
            let state = self.state();
            let sent = state
                .sent_codes
                .get(&req.phone_code_hash)
                .filter(|s| s.phone == phone)
                .ok_or_else(|| RpcError::bad_request("PHONE_CODE_EXPIRED"))?;
            if sent.expired {
                return Err(RpcError::bad_request("PHONE_CODE_EXPIRED"));
            }
            if sent.code != code {
                return Err(RpcError::bad_request("PHONE_CODE_INVALID"));
            }
        }
        self.state().sent_codes.remove(&req.phone_code_hash);
        let user = lock_world(world).user_by_phone(&phone).cloned();
        let Some(user) = user else {
            // Layer 230 answers an unregistered number this way; the client
            // then reports that sign-up is required.
            return Ok(tl::enums::auth::Authorization::SignUpRequired(
                tl::types::auth::AuthorizationSignUpRequired {
                    terms_of_service: None,
                },
            ));
        };
        self.log_in_or_ask_password(world, key_id, &user)
    }

    /// Binds the key, or starts 2FA when the account has a password.
    fn log_in_or_ask_password(
        &self,
        world: &SharedWorld,
        key_id: i64,
        user: &User,
    ) -> Result<tl::enums::auth::Authorization, RpcError> {
        if user.spec.password.is_some() {
            self.state().pending_passwords.insert(
                key_id,
                PendingPassword {
                    account: user.id,
                    challenge: None,
                },
            );
            return Err(RpcError::unauthorized("SESSION_PASSWORD_NEEDED"));
        }
        let auth = authorization(world, user.id)?;
        self.state().registry.bind(key_id, user.id);
        Ok(auth)
    }

    fn get_password(
        &self,
        world: &SharedWorld,
        key_id: i64,
    ) -> Result<tl::enums::account::Password, RpcError> {
        let account = {
            let state = self.state();
            state
                .pending_passwords
                .get(&key_id)
                .map(|p| p.account)
                .or(state.registry.account(key_id))
        };
        let spec = account.and_then(|id| lock_world(world).user(id).map(|u| u.spec.clone()));
        let (account, password) = match (account, spec.as_ref().and_then(|s| s.password.clone())) {
            (Some(account), Some(password)) => (account, password),
            _ => return Ok(no_password()),
        };
        let verifier = Verifier::for_password(&password);
        let mut state = self.state();
        let pending = state
            .pending_passwords
            .entry(key_id)
            .or_insert(PendingPassword {
                account,
                challenge: None,
            });
        let challenge = pending
            .challenge
            .get_or_insert_with(|| Challenge::new(&verifier))
            .clone();
        Ok(password_info(
            &verifier,
            &challenge,
            spec.and_then(|s| s.password_hint),
        ))
    }

    fn check_password(
        &self,
        world: &SharedWorld,
        key_id: i64,
        req: tl::functions::auth::CheckPassword,
    ) -> Result<tl::enums::auth::Authorization, RpcError> {
        let tl::enums::InputCheckPasswordSrp::Srp(proof) = req.password else {
            return Err(RpcError::bad_request("PASSWORD_HASH_INVALID"));
        };
        let pending = self.state().pending_passwords.get(&key_id).cloned();
        let Some(PendingPassword {
            account,
            challenge: Some(challenge),
        }) = pending
        else {
            return Err(RpcError::bad_request("SRP_ID_INVALID"));
        };
        if challenge.srp_id != proof.srp_id {
            return Err(RpcError::bad_request("SRP_ID_INVALID"));
        }
        let password = lock_world(world)
            .user(account)
            .and_then(|u| u.spec.password.clone());
        let Some(password) = password else {
            return Err(RpcError::bad_request("PASSWORD_HASH_INVALID"));
        };
        let verifier = Verifier::for_password(&password);
        if !challenge.verify(&verifier, &proof.a, &proof.m1) {
            return Err(RpcError::bad_request("PASSWORD_HASH_INVALID"));
        }
        let auth = authorization(world, account)?;
        let mut state = self.state();
        state.pending_passwords.remove(&key_id);
        state.registry.bind(key_id, account);
        Ok(auth)
    }

    fn import_bot(
        &self,
        world: &SharedWorld,
        key_id: i64,
        token: &str,
    ) -> Result<tl::enums::auth::Authorization, RpcError> {
        let bot = lock_world(world).user_by_bot_token(token).map(|u| u.id);
        let bot = bot.ok_or_else(|| RpcError::bad_request("ACCESS_TOKEN_INVALID"))?;
        let auth = authorization(world, bot)?;
        self.state().registry.bind(key_id, bot);
        Ok(auth)
    }

    fn export_login_token(
        &self,
        world: &SharedWorld,
        key_id: i64,
    ) -> Result<tl::enums::auth::LoginToken, RpcError> {
        let scanned = {
            let mut state = self.state();
            let position = state
                .login_tokens
                .iter()
                .position(|t| t.auth_key_id == key_id && t.scanned_by.is_some());
            position
                .map(|i| state.login_tokens.remove(i))
                .and_then(|t| t.scanned_by)
        };
        if let Some(account) = scanned {
            let user = lock_world(world).user(account).cloned();
            let user = user.ok_or_else(|| RpcError::new(500, "FAKE_USER_MISSING"))?;
            let authorization = self.log_in_or_ask_password(world, key_id, &user)?;
            return Ok(tl::enums::auth::LoginToken::Success(
                tl::types::auth::LoginTokenSuccess { authorization },
            ));
        }
        let mut token = vec![0u8; 16];
        rand::rng().fill_bytes(&mut token);
        let mut state = self.state();
        state.login_tokens.retain(|t| t.auth_key_id != key_id);
        state.login_tokens.push(LoginToken {
            token: token.clone(),
            auth_key_id: key_id,
            created: Instant::now(),
            scanned_by: None,
        });
        Ok(tl::enums::auth::LoginToken::Token(
            tl::types::auth::LoginToken {
                expires: unix_now() + LOGIN_TOKEN_TTL.as_secs() as i32,
                token,
            },
        ))
    }

    fn import_login_token(
        &self,
        world: &SharedWorld,
        key_id: i64,
        token: &[u8],
    ) -> Result<tl::enums::auth::LoginToken, RpcError> {
        let found = {
            let mut state = self.state();
            let position = state.login_tokens.iter().position(|t| t.token == token);
            let Some(position) = position else {
                return Err(RpcError::bad_request("AUTH_TOKEN_INVALID"));
            };
            let entry = &state.login_tokens[position];
            if entry.created.elapsed() >= LOGIN_TOKEN_TTL && entry.scanned_by.is_none() {
                return Err(RpcError::bad_request("AUTH_TOKEN_EXPIRED"));
            }
            match entry.scanned_by {
                Some(account) => {
                    state.login_tokens.remove(position);
                    Ok(account)
                }
                None => Err(entry.clone()),
            }
        };
        match found {
            Ok(account) => {
                let user = lock_world(world).user(account).cloned();
                let user = user.ok_or_else(|| RpcError::new(500, "FAKE_USER_MISSING"))?;
                let authorization = self.log_in_or_ask_password(world, key_id, &user)?;
                Ok(tl::enums::auth::LoginToken::Success(
                    tl::types::auth::LoginTokenSuccess { authorization },
                ))
            }
            Err(pending) => Ok(tl::enums::auth::LoginToken::Token(
                tl::types::auth::LoginToken {
                    expires: unix_now()
                        + (LOGIN_TOKEN_TTL.saturating_sub(pending.created.elapsed())).as_secs()
                            as i32,
                    token: pending.token,
                },
            )),
        }
    }

    fn log_out(&self, key_id: i64) -> Result<tl::enums::auth::LoggedOut, RpcError> {
        let mut state = self.state();
        state.pending_passwords.remove(&key_id);
        if !state.registry.unbind(key_id) {
            drop(state);
            return Err(self.unauthorized(key_id));
        }
        Ok(tl::enums::auth::LoggedOut::Out(
            tl::types::auth::LoggedOut {
                future_auth_token: None,
            },
        ))
    }
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    rand::rng().fill_bytes(&mut out);
    out
}

fn srp_algo(salt1: Vec<u8>, salt2: Vec<u8>) -> tl::enums::PasswordKdfAlgo {
    tl::enums::PasswordKdfAlgo::Sha256Sha256Pbkdf2Hmacsha512iter100000Sha256ModPow(
        tl::types::PasswordKdfAlgoSha256Sha256Pbkdf2Hmacsha512iter100000Sha256ModPow {
            salt1,
            salt2,
            g: srp::G,
            p: srp::prime_bytes(),
        },
    )
}

fn new_secure_algo() -> tl::enums::SecurePasswordKdfAlgo {
    tl::enums::SecurePasswordKdfAlgo::Pbkdf2Hmacsha512iter100000(
        tl::types::SecurePasswordKdfAlgoPbkdf2Hmacsha512iter100000 {
            salt: random_bytes(8),
        },
    )
}

/// `account.password` for an account with 2FA; `secure_random` is the
/// client's SRP secret, so it is 256 fresh random bytes.
fn password_info(
    verifier: &Verifier,
    challenge: &Challenge,
    hint: Option<String>,
) -> tl::enums::account::Password {
    tl::enums::account::Password::Password(tl::types::account::Password {
        has_recovery: false,
        has_secure_values: false,
        has_password: true,
        current_algo: Some(srp_algo(verifier.salt1.clone(), verifier.salt2.clone())),
        srp_b: Some(challenge.g_b.to_vec()),
        srp_id: Some(challenge.srp_id),
        hint,
        email_unconfirmed_pattern: None,
        new_algo: srp_algo(verifier.salt1[..8].to_vec(), random_bytes(16)),
        new_secure_algo: new_secure_algo(),
        secure_random: random_bytes(256),
        pending_reset_date: None,
        login_email_pattern: None,
    })
}

/// `account.password` for an account without 2FA.
fn no_password() -> tl::enums::account::Password {
    tl::enums::account::Password::Password(tl::types::account::Password {
        has_recovery: false,
        has_secure_values: false,
        has_password: false,
        current_algo: None,
        srp_b: None,
        srp_id: None,
        hint: None,
        email_unconfirmed_pattern: None,
        new_algo: srp_algo(random_bytes(8), random_bytes(16)),
        new_secure_algo: new_secure_algo(),
        secure_random: random_bytes(256),
        pending_reset_date: None,
        login_email_pattern: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_normalized_or_refused() {
        assert_eq!(
            normalize_phone("+1 (415) 555-0132").as_deref(),
            Some("14155550132")
        );
        assert_eq!(normalize_phone("12ab5678"), None);
        assert_eq!(normalize_phone("123"), None);
    }

    #[test]
    fn generated_codes_have_the_announced_length() {
        let code = random_code();
        assert_eq!(code.len(), CODE_LENGTH);
        assert!(code.chars().all(|c| c.is_ascii_digit()));
    }
}
