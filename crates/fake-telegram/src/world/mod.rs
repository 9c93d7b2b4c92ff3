//! The world a Telegram account sees: users, chats, messages, files and the
//! per-account and per-channel update boxes. Everything here is plain data
//! behind one mutex; handlers are synchronous and never touch sockets.
//!
//! The protocol layer talks to the world only through this interface:
//! - [`World::user_by_phone`], [`World::user_by_bot_token`], [`World::user`],
//!   [`World::tl_user`] for the auth flows;
//! - [`rpc::handle`] for every API method that reads or changes the world;
//! - [`World::subscribe`] for the updates pushed to connected clients.
//!
//! Tests drive the world directly through the control methods in
//! [`control`] (a Telegram user sends, edits, reacts, reads, types) and
//! [`manage`] (groups and channels, members, admins, titles, migration),
//! build it from a [`spec::WorldSpec`], or reach both over HTTP through
//! [`http::router`].
//!
//! Ids are deterministic: users count up from 1 000 001, basic groups from
//! 2 000 001, channels from 3 000 001. Access hashes depend on the viewer, as
//! on Telegram, so a hash learnt by one account is rejected for another.
//!
//! Where Telegram's behaviour is a choice, the world follows Telegram:
//! `messages.sendMessage` in private chats and basic groups answers
//! `updateShortSentMessage` (so the sender's own update stream does not
//! see the message), plain text is pushed as `updateShortMessage` /
//! `updateShortChatMessage`, and `updates.getDifference` names channels
//! that changed since the client's date with `updateChannelTooLong`.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use grammers_tl_types as tl;

pub mod chats;
pub mod control;
pub mod dialogs;
pub mod files;
pub mod forums;
pub mod http;
pub mod manage;
pub mod messages;
pub mod peers;
pub mod rpc;
pub mod spec;
pub mod updates;
pub mod users;

mod build;
#[cfg(test)]
mod forum_tests;
#[cfg(test)]
mod tests;

pub use chats::{BasicGroup, Channel, ChannelId, ChatId};
pub use control::{MediaSpec, MessageView, OutgoingMessage};
pub use files::{DocumentId, PhotoId};
pub use forums::{Topic, TopicEdit, GENERAL_TOPIC};
pub use messages::{Message, MsgKey, Place};
pub use peers::Peer;

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
    /// The account whose connections receive the updates.
    pub account: UserId,
    /// The updates, in the form Telegram would push them.
    pub updates: tl::enums::Updates,
    /// The auth key that caused the change already got these updates as the
    /// result of its call and must not receive them again.
    pub skip_auth_key: Option<i64>,
}

/// What a test says about a user when creating it.
#[derive(Debug, Clone, Default)]
pub struct UserSpec {
    /// Shown name; Telegram requires a non-empty first name.
    pub first_name: String,
    /// Optional family name.
    pub last_name: Option<String>,
    /// Public username without `@`.
    pub username: Option<String>,
    /// Digits only, with country code, no `+`.
    pub phone: Option<String>,
    /// Whether the user is a bot.
    pub bot: bool,
    /// For bots: the token `auth.importBotAuthorization` accepts.
    pub bot_token: Option<String>,
    /// The 2FA password, if the account has one.
    pub password: Option<String>,
    /// Hint shown for the 2FA password.
    pub password_hint: Option<String>,
    /// The code `auth.signIn` accepts for this phone.
    pub login_code: Option<String>,
    /// `auth.sendCode` answers `PHONE_NUMBER_BANNED`.
    pub banned: bool,
}

/// A user of the fake datacenter.
#[derive(Debug, Clone)]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// The access hash the user sees for itself (other viewers see their own,
    /// see [`World::user_access_hash`]).
    pub access_hash: i64,
    /// What the test said about the user.
    pub spec: UserSpec,
    /// "About" text shown in the full profile.
    pub about: String,
    /// Profile photos, newest first.
    pub photos: Vec<PhotoId>,
}

/// Who caused a change: the acting user and, for RPC calls, the auth key
/// that already receives the result (its pushes are skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The user acting.
    pub user: UserId,
    /// The auth key the call arrived on; `None` for control-API actions.
    pub auth_key: Option<i64>,
}

impl Origin {
    /// A change made through the control API (every connection gets pushes).
    pub fn control(user: UserId) -> Self {
        Self {
            user,
            auth_key: None,
        }
    }
}

impl From<&CallCtx> for Origin {
    fn from(ctx: &CallCtx) -> Self {
        Self {
            user: ctx.account,
            auth_key: Some(ctx.auth_key_id),
        }
    }
}

/// Knobs tests turn to provoke rarely seen server behaviour.
#[derive(Debug, Clone)]
pub struct Quirks {
    /// Most events one `updates.getDifference` returns before answering
    /// `differenceSlice`.
    pub difference_slice: usize,
    /// Accounts whose next `updates.getDifference` answers `differenceTooLong`.
    pub too_long_accounts: BTreeSet<UserId>,
    /// Channels whose next `updates.getChannelDifference` (by anyone) answers
    /// `channelDifferenceTooLong`.
    pub too_long_channels: BTreeSet<ChannelId>,
    /// Chats whose admins limited reactions to these emoji (absent: every
    /// emoji). `messages.sendReaction` refuses others with `REACTION_INVALID`,
    /// and the full chat reports the list as `chatReactionsSome`.
    pub allowed_reactions: HashMap<Peer, Vec<String>>,
}

impl Default for Quirks {
    fn default() -> Self {
        Self {
            difference_slice: 100,
            too_long_accounts: BTreeSet::new(),
            too_long_channels: BTreeSet::new(),
            allowed_reactions: HashMap::new(),
        }
    }
}

/// The whole world of one fake datacenter.
#[derive(Debug)]
pub struct World {
    users: Vec<User>,
    chats: Vec<BasicGroup>,
    channels: Vec<Channel>,
    messages: messages::Store,
    boxes: HashMap<UserId, updates::CommonBox>,
    dialogs: HashMap<(UserId, Peer), dialogs::DialogState>,
    contacts: HashMap<UserId, BTreeSet<UserId>>,
    files: files::Store,
    invites: HashMap<String, Peer>,
    names: std::collections::BTreeMap<String, Peer>,
    last_date: i32,
    next_grouped_id: i64,
    dc_id: i32,
    /// The `random_id`s of sent messages per sender, so a resent request is
    /// refused with `RANDOM_ID_DUPLICATE` as Telegram does.
    random_ids: HashMap<(UserId, i64), MsgKey>,
    /// Behaviour switches for tests.
    pub quirks: Quirks,
    pushes: tokio::sync::broadcast::Sender<Push>,
}

impl World {
    /// Refuses a `random_id` that `sender` already used.
    pub(crate) fn check_random_id(
        &self,
        sender: UserId,
        random_id: i64,
    ) -> Result<(), crate::RpcError> {
        match self.random_ids.contains_key(&(sender, random_id)) {
            true => Err(crate::RpcError::bad_request("RANDOM_ID_DUPLICATE")),
            false => Ok(()),
        }
    }

    /// Remembers that `sender` sent `key` with `random_id`.
    pub(crate) fn remember_random_id(&mut self, sender: UserId, random_id: i64, key: MsgKey) {
        self.random_ids.insert((sender, random_id), key);
    }

    /// The chat's reactions as its full info reports them.
    pub(crate) fn tl_available_reactions(&self, peer: Peer) -> tl::enums::ChatReactions {
        match self.quirks.allowed_reactions.get(&peer) {
            Some(emojis) => tl::types::ChatReactionsSome {
                reactions: emojis.iter().map(|e| build::emoji_reaction(e)).collect(),
            }
            .into(),
            None => tl::types::ChatReactionsAll {
                allow_custom: false,
            }
            .into(),
        }
    }

    /// Refuses reactions the chat does not allow.
    pub(crate) fn check_reactions(
        &self,
        peer: Peer,
        emojis: &[String],
    ) -> Result<(), crate::RpcError> {
        let allowed = self.quirks.allowed_reactions.get(&peer);
        match allowed {
            Some(list) if emojis.iter().any(|e| !list.contains(e)) => {
                Err(crate::RpcError::bad_request("REACTION_INVALID"))
            }
            _ => Ok(()),
        }
    }
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

/// First user id minus one.
const USER_BASE: i64 = 1_000_000;

impl World {
    /// An empty world.
    pub fn new() -> Self {
        let (pushes, _) = tokio::sync::broadcast::channel(4096);
        Self {
            users: Vec::new(),
            chats: Vec::new(),
            channels: Vec::new(),
            messages: messages::Store::default(),
            boxes: HashMap::new(),
            dialogs: HashMap::new(),
            contacts: HashMap::new(),
            files: files::Store::default(),
            invites: HashMap::new(),
            names: std::collections::BTreeMap::new(),
            last_date: 0,
            next_grouped_id: 1,
            dc_id: 2,
            random_ids: HashMap::new(),
            quirks: Quirks::default(),
            pushes,
        }
    }

    /// Adds a user; ids and access hashes are deterministic.
    pub fn add_user(&mut self, spec: UserSpec) -> UserId {
        let id = USER_BASE + self.users.len() as i64 + 1;
        let access_hash = peers::access_hash(peers::Kind::User, id, id);
        self.users.push(User {
            id,
            access_hash,
            spec,
            about: String::new(),
            photos: Vec::new(),
        });
        self.boxes.insert(id, updates::CommonBox::default());
        id
    }

    /// The user with this id.
    pub fn user(&self, id: UserId) -> Option<&User> {
        let index = usize::try_from(id - USER_BASE - 1).ok()?;
        self.users.get(index)
    }

    fn user_mut(&mut self, id: UserId) -> Option<&mut User> {
        let index = usize::try_from(id - USER_BASE - 1).ok()?;
        self.users.get_mut(index)
    }

    /// All users, in creation order.
    pub fn users(&self) -> &[User] {
        &self.users
    }

    /// The user whose phone is `phone` (digits only).
    pub fn user_by_phone(&self, phone: &str) -> Option<&User> {
        let phone = phone.trim_start_matches('+');
        self.users
            .iter()
            .find(|u| u.spec.phone.as_deref() == Some(phone))
    }

    /// The bot whose token is `token`.
    pub fn user_by_bot_token(&self, token: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.spec.bot && u.spec.bot_token.as_deref() == Some(token))
    }

    /// The user with this username (case-insensitive, without `@`).
    pub fn user_by_username(&self, username: &str) -> Option<&User> {
        let username = username.trim_start_matches('@');
        self.users.iter().find(|u| {
            u.spec
                .username
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(username))
        })
    }

    /// The user as `viewer` sees it; `is_self` is set when they are the same.
    pub fn tl_user(&self, id: UserId, viewer: UserId) -> Option<tl::enums::User> {
        self.user(id).map(|user| self.build_user(user, viewer))
    }

    /// Updates pushed to connected clients.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Push> {
        self.pushes.subscribe()
    }

    /// The datacenter id files and photos claim to live on (the home DC the
    /// clients were seeded with; 2 by default, as in grammers).
    pub fn dc_id(&self) -> i32 {
        self.dc_id
    }

    /// Changes the datacenter id reported for files and photos.
    pub fn set_dc_id(&mut self, dc_id: i32) {
        self.dc_id = dc_id;
    }

    /// The current date as a Unix timestamp; never goes backwards, so event
    /// dates are monotonic even if the wall clock is adjusted.
    fn now(&mut self) -> i32 {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i32::try_from(d.as_secs()).unwrap_or(i32::MAX))
            .unwrap_or(0);
        self.last_date = self.last_date.max(wall);
        self.last_date
    }

    fn send_push(&self, account: UserId, updates: tl::enums::Updates, origin: Origin) {
        let skip_auth_key = if origin.user == account {
            origin.auth_key
        } else {
            None
        };
        // Nobody listening is fine: pushes are only for connected clients.
        let _ = self.pushes.send(Push {
            account,
            updates,
            skip_auth_key,
        });
    }
}
