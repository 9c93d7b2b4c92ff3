//! The world a Telegram account sees: users, chats, messages, files and the
//! per-account and per-channel update boxes. Everything here is plain data
//! behind one mutex; handlers are synchronous and never touch sockets.
//!
//! The protocol layer talks to the world only through this interface:
//! - [`World::user_by_phone`], [`World::user_by_bot_token`], [`World::user`],
//!   [`World::tl_user`] for the auth flows;
//! - [`rpc::handle`] for every API method that reads or changes the world;
//! - [`World::subscribe`] for the updates pushed to connected clients.

use std::sync::{Arc, Mutex};

use grammers_tl_types as tl;

pub mod rpc;

/// A Telegram user id (also used for accounts: an account is a user that can log in).
pub type UserId = i64;

/// The world shared by every connection of one fake datacenter.
pub type SharedWorld = Arc<Mutex<World>>;

/// Who is making an authorized call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallCtx {
    /// The logged-in account.
    pub account: UserId,
    /// `key_id` of the auth key the call arrived on (several keys may be
    /// logged into one account).
    pub auth_key_id: i64,
}

/// Updates to push to every connection logged into `account`.
#[derive(Debug, Clone)]
pub struct Push {
    pub account: UserId,
    pub updates: tl::enums::Updates,
    /// The auth key that caused the change already got these updates as the
    /// result of its call and must not receive them again.
    pub skip_auth_key: Option<i64>,
}

/// What a test says about a user when creating it.
#[derive(Debug, Clone, Default)]
pub struct UserSpec {
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
    /// Digits only, with country code, no `+`.
    pub phone: Option<String>,
    pub bot: bool,
    /// For bots: the token `auth.importBotAuthorization` accepts.
    pub bot_token: Option<String>,
    /// The 2FA password, if the account has one.
    pub password: Option<String>,
    pub password_hint: Option<String>,
    /// The code `auth.signIn` accepts for this phone.
    pub login_code: Option<String>,
    /// `auth.sendCode` answers `PHONE_NUMBER_BANNED`.
    pub banned: bool,
}

/// A user of the fake datacenter.
#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub access_hash: i64,
    pub spec: UserSpec,
}

/// The whole world of one fake datacenter.
#[derive(Debug)]
pub struct World {
    users: Vec<User>,
    pushes: tokio::sync::broadcast::Sender<Push>,
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    /// An empty world.
    pub fn new() -> Self {
        let (pushes, _) = tokio::sync::broadcast::channel(4096);
        Self {
            users: Vec::new(),
            pushes,
        }
    }

    /// Adds a user; ids and access hashes are deterministic.
    pub fn add_user(&mut self, spec: UserSpec) -> UserId {
        let id = 1_000_000 + self.users.len() as i64 + 1;
        let access_hash = id.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as i64);
        self.users.push(User {
            id,
            access_hash,
            spec,
        });
        id
    }

    pub fn user(&self, id: UserId) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    pub fn user_by_phone(&self, phone: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.spec.phone.as_deref() == Some(phone))
    }

    pub fn user_by_bot_token(&self, token: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.spec.bot && u.spec.bot_token.as_deref() == Some(token))
    }

    /// The user as `viewer` sees it; `is_self` is set when they are the same.
    pub fn tl_user(&self, id: UserId, viewer: UserId) -> Option<tl::enums::User> {
        let _ = (id, viewer);
        todo!("world model: build tl::types::User")
    }

    /// Updates pushed to connected clients.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Push> {
        self.pushes.subscribe()
    }
}
