//! The world-file format: a serde description (YAML or JSON) of accounts,
//! users, chats with members and messages, and how a [`World`] is built
//! from it. Entries name each other by `key` (defaulting to the username;
//! entries nobody refers to need neither); the names stay available to the
//! control API ([`World::peer_by_name`]).
//!
//! ```yaml
//! accounts:
//!   - key: me
//!     first_name: Alice
//!     phone: "15550001"
//!     login_code: "12345"
//!     password: hunter2
//! users:
//!   - key: bob
//!     first_name: Bob
//!     username: bob
//!     contacts: [me]
//! chats:
//!   - key: friends
//!     type: group
//!     title: Friends
//!     creator: me
//!     members: [bob]
//! messages:
//!   - { from: bob, to: me, text: "Hi!" }
//!   - { from: me, to: friends, text: "Hello all", reply_to: 0 }
//! ```

use serde::{Deserialize, Serialize};

use super::control::{MediaSpec, OutgoingMessage};
use super::peers::Peer;
use super::{Origin, UserSpec, World};

/// A whole world file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorldSpec {
    /// The DC id files claim to live on (default 2).
    pub dc_id: Option<i32>,
    /// Users that log in (created first, in order).
    pub accounts: Vec<UserEntry>,
    /// Other users.
    pub users: Vec<UserEntry>,
    /// Basic groups, supergroups and channels.
    pub chats: Vec<ChatEntry>,
    /// Messages, sent in order.
    pub messages: Vec<MessageEntry>,
}

/// A user (or account) in a world file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserEntry {
    /// Name other entries use for this user; defaults to the username.
    pub key: Option<String>,
    /// First name (required by Telegram).
    pub first_name: String,
    /// Last name.
    pub last_name: Option<String>,
    /// Username without `@`.
    pub username: Option<String>,
    /// Phone, digits only with country code.
    pub phone: Option<String>,
    /// Whether the user is a bot.
    pub bot: bool,
    /// The bot token `auth.importBotAuthorization` accepts.
    pub bot_token: Option<String>,
    /// 2FA password.
    pub password: Option<String>,
    /// 2FA password hint.
    pub password_hint: Option<String>,
    /// The login code `auth.signIn` accepts.
    pub login_code: Option<String>,
    /// The phone number is banned.
    pub banned: bool,
    /// Profile "about" text.
    pub about: Option<String>,
    /// Keys of users in this user's contacts.
    pub contacts: Vec<String>,
}

/// Kind of chat in a world file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatKind {
    /// A basic group.
    #[default]
    Group,
    /// A supergroup.
    Supergroup,
    /// A broadcast channel.
    Channel,
}

/// A chat in a world file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChatEntry {
    /// Name other entries use for this chat; defaults to the username.
    pub key: Option<String>,
    /// Group, supergroup or channel.
    #[serde(rename = "type")]
    pub kind: ChatKind,
    /// Title.
    pub title: String,
    /// "About" text.
    pub about: Option<String>,
    /// Public username (supergroups and channels).
    pub username: Option<String>,
    /// Key of the creator.
    pub creator: String,
    /// Keys of the other members.
    pub members: Vec<String>,
    /// Keys of members who are admins.
    pub admins: Vec<String>,
    /// Broadcast channels: "sign messages" is on (posts carry their
    /// author's name).
    pub signatures: bool,
}

/// A message in a world file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MessageEntry {
    /// Key of the sender.
    pub from: String,
    /// Key of the receiving user or chat.
    pub to: String,
    /// Text or caption.
    pub text: String,
    /// Index (in `messages`) of an earlier message in the same chat this replies to.
    pub reply_to: Option<usize>,
    /// Attached media.
    pub media: Option<MediaSpec>,
}

/// A world file that refers to something it does not define.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// A key is used but never defined.
    #[error("unknown key `{0}`")]
    UnknownKey(String),
    /// Two entries share a key (or a username used as one).
    #[error("duplicate key `{0}`")]
    DuplicateKey(String),
    /// A reply points at a later or missing message.
    #[error("message {0} replies to a message that is not earlier in the same chat")]
    BadReply(usize),
    /// The world refused an entry (e.g. a sender outside the chat).
    #[error("entry {entry} rejected: {error}")]
    Rejected {
        entry: String,
        error: crate::RpcError,
    },
}

impl UserEntry {
    fn user_spec(&self) -> UserSpec {
        UserSpec {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            username: self.username.clone(),
            phone: self
                .phone
                .as_ref()
                .map(|p| p.chars().filter(char::is_ascii_digit).collect()),
            bot: self.bot,
            bot_token: self.bot_token.clone(),
            password: self.password.clone(),
            password_hint: self.password_hint.clone(),
            login_code: self.login_code.clone(),
            banned: self.banned,
        }
    }
}

impl World {
    /// Builds a world from a world file. Entries that refer to unknown keys
    /// or that the world rejects are skipped with a warning; use
    /// [`World::try_from_spec`] to refuse such files instead.
    pub fn from_spec(spec: &WorldSpec) -> World {
        let mut world = World::new();
        for error in world.apply_spec(spec, false) {
            tracing::warn!(%error, "world file entry skipped");
        }
        world
    }

    /// Builds a world from a world file, refusing any inconsistency.
    pub fn try_from_spec(spec: &WorldSpec) -> Result<World, SpecError> {
        let mut world = World::new();
        match world.apply_spec(spec, true).into_iter().next() {
            Some(error) => Err(error),
            None => Ok(world),
        }
    }

    /// Adds a world file's contents to this world; returns what went wrong
    /// (stopping at the first problem when `strict`).
    pub fn apply_spec(&mut self, spec: &WorldSpec, strict: bool) -> Vec<SpecError> {
        let mut errors = Vec::new();
        macro_rules! check {
            ($result:expr) => {
                match $result {
                    Ok(value) => Some(value),
                    Err(error) => {
                        errors.push(error);
                        if strict {
                            return errors;
                        }
                        None
                    }
                }
            };
        }
        if let Some(dc_id) = spec.dc_id {
            self.dc_id = dc_id;
        }
        let mut created = Vec::new();
        for entry in spec.accounts.iter().chain(&spec.users) {
            if let Some(id) = check!(self.add_user_entry(entry)) {
                created.push((id, entry));
            }
        }
        for (owner, entry) in created {
            for contact in &entry.contacts {
                if let Some(other) = check!(self.user_key(contact)) {
                    self.add_contact(owner, other);
                }
            }
        }
        for entry in &spec.chats {
            let name = entry.key.as_deref().or(entry.username.as_deref());
            if let Some(name) = name {
                if check!(self.free_key(name)).is_none() {
                    continue;
                }
            }
            let Some(creator) = check!(self.user_key(&entry.creator)) else {
                continue;
            };
            let mut members = Vec::new();
            for member in &entry.members {
                members.extend(check!(self.user_key(member)));
            }
            let mut admins = Vec::new();
            for admin in &entry.admins {
                admins.extend(check!(self.user_key(admin)));
            }
            let created = self.create_chat_entry(entry, creator, &members, &admins);
            let label = name.unwrap_or(&entry.title).to_owned();
            let created = created.map_err(|error| SpecError::Rejected {
                entry: label,
                error,
            });
            if let (Some(peer), Some(name)) = (check!(created), name) {
                self.names.insert(name.to_owned(), peer);
            }
        }
        let mut sent: Vec<Option<(super::MsgKey, Peer)>> = Vec::new();
        for (index, entry) in spec.messages.iter().enumerate() {
            sent.push(None);
            let Some(from) = check!(self.user_key(&entry.from)) else {
                continue;
            };
            let Some(to) = check!(self
                .names
                .get(&entry.to)
                .copied()
                .ok_or_else(|| SpecError::UnknownKey(entry.to.clone())))
            else {
                continue;
            };
            let reply_to = match entry.reply_to {
                None => None,
                Some(r) => {
                    let target = sent
                        .get(r)
                        .copied()
                        .flatten()
                        .filter(|&(_, peer)| r < index && same_chat(peer, to));
                    let id = target
                        .and_then(|(key, _)| self.message(key))
                        .and_then(|m| m.id_for(from));
                    match check!(id.ok_or(SpecError::BadReply(index))) {
                        Some(id) => Some(id),
                        None => continue,
                    }
                }
            };
            let message = OutgoingMessage {
                text: entry.text.clone(),
                reply_to,
                media: entry.media.clone(),
                ..OutgoingMessage::default()
            };
            let result = self.send_message(from, to, message);
            let rejected = |error| SpecError::Rejected {
                entry: format!("messages[{index}]"),
                error,
            };
            if let Some(id) = check!(result.map_err(rejected)) {
                sent[index] = self.message_key(from, to, id).map(|k| (k, to));
            }
        }
        errors
    }

    fn create_chat_entry(
        &mut self,
        entry: &ChatEntry,
        creator: super::UserId,
        members: &[super::UserId],
        admins: &[super::UserId],
    ) -> Result<Peer, crate::RpcError> {
        let peer = match entry.kind {
            ChatKind::Group => {
                let chat = self.create_group(creator, &entry.title, members)?;
                for &admin in admins {
                    self.set_chat_admin(chat, admin, true)?;
                }
                Peer::Chat(chat)
            }
            ChatKind::Supergroup | ChatKind::Channel => {
                let broadcast = entry.kind == ChatKind::Channel;
                let about = entry.about.as_deref().unwrap_or_default();
                let channel = self.create_channel(creator, &entry.title, about, broadcast)?;
                self.set_channel_username(channel, entry.username.as_deref())?;
                if entry.signatures {
                    self.set_channel_signatures(channel, true)?;
                }
                let others: Vec<_> = members.iter().copied().filter(|&m| m != creator).collect();
                if !others.is_empty() {
                    self.channel_invite(Origin::control(creator), channel, &others)?;
                }
                for &admin in admins {
                    self.promote(
                        Origin::control(creator),
                        channel,
                        admin,
                        super::chats::all_admin_rights(),
                        None,
                    )?;
                }
                Peer::Channel(channel)
            }
        };
        if let (Some(about), ChatKind::Group) = (&entry.about, entry.kind) {
            self.set_about(peer, about)?;
        }
        Ok(peer)
    }

    /// Adds one user of a world file (its contacts are not added) and
    /// remembers its name.
    pub fn add_user_entry(&mut self, entry: &UserEntry) -> Result<super::UserId, SpecError> {
        let name = entry.key.as_deref().or(entry.username.as_deref());
        if let Some(name) = name {
            self.free_key(name)?;
        }
        let id = self.add_user(entry.user_spec());
        if let Some(about) = &entry.about {
            self.set_about(Peer::User(id), about)
                .map_err(|error| SpecError::Rejected {
                    entry: name.unwrap_or_default().to_owned(),
                    error,
                })?;
        }
        if let Some(name) = name {
            self.names.insert(name.to_owned(), Peer::User(id));
        }
        Ok(id)
    }

    fn free_key(&self, key: &str) -> Result<(), SpecError> {
        if key.is_empty() || self.names.contains_key(key) {
            return Err(SpecError::DuplicateKey(key.to_owned()));
        }
        Ok(())
    }

    fn user_key(&self, key: &str) -> Result<super::UserId, SpecError> {
        match self.names.get(key) {
            Some(Peer::User(id)) => Ok(*id),
            _ => Err(SpecError::UnknownKey(key.to_owned())),
        }
    }

    /// The user or chat a world file called `name`.
    pub fn peer_by_name(&self, name: &str) -> Option<Peer> {
        self.names.get(name).copied()
    }

    /// Every name from world files, with its peer.
    pub fn names(&self) -> impl Iterator<Item = (&str, Peer)> {
        self.names.iter().map(|(k, &v)| (k.as_str(), v))
    }
}

/// Whether two entries' targets are the same chat (private chats are the
/// same in both directions, so any two users match).
fn same_chat(a: Peer, b: Peer) -> bool {
    matches!((a, b), (Peer::User(_), Peer::User(_))) || a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
accounts:
  - key: me
    first_name: Alice
    phone: "+1 555 0001"
    login_code: "12345"
    password: hunter2
users:
  - key: bob
    first_name: Bob
    username: bob
    contacts: [me]
chats:
  - key: friends
    type: group
    title: Friends
    creator: me
    members: [bob]
  - key: news
    type: channel
    title: News
    creator: bob
    username: news
messages:
  - { from: bob, to: me, text: "Hi!" }
  - { from: me, to: bob, text: "Hey", reply_to: 0 }
  - { from: bob, to: friends, text: "Hello all" }
  - { from: bob, to: news, text: "Breaking" }
"#;

    #[test]
    fn a_yaml_world_file_builds_the_world() {
        let spec: WorldSpec = serde_yaml::from_str(FILE).unwrap();
        let world = World::try_from_spec(&spec).unwrap();
        let Some(Peer::User(me)) = world.peer_by_name("me") else {
            panic!("me")
        };
        let Some(Peer::User(bob)) = world.peer_by_name("bob") else {
            panic!("bob")
        };
        let me_user = world.user_by_phone("15550001").unwrap();
        assert_eq!(me_user.id, me);
        assert_eq!(me_user.spec.password.as_deref(), Some("hunter2"));
        assert!(world.is_contact(bob, me));
        let private = world.history(me, Peer::User(bob));
        assert_eq!(private.len(), 2);
        assert_eq!(private[1].reply_to, Some(private[0].id));
        let Some(friends) = world.peer_by_name("friends") else {
            panic!("friends")
        };
        assert_eq!(world.last_message(me, friends).unwrap().text, "Hello all");
        let Some(Peer::Channel(news)) = world.peer_by_name("news") else {
            panic!("news")
        };
        assert_eq!(
            world.channel(news).unwrap().username.as_deref(),
            Some("news")
        );
        assert_eq!(
            world.last_message(me, Peer::Channel(news)).unwrap().text,
            "Breaking",
            "public channels are readable"
        );
    }

    #[test]
    fn accounts_need_no_key() {
        let file = r#"
accounts:
  - first_name: Alice
    last_name: Liddell
    username: alice
    phone: "+15550001"
    login_code: "12345"
  - first_name: Helper
    username: helper_bot
    bot: true
    bot_token: "123456:ABC-DEF"
  - first_name: Carol
    phone: "+15550003"
"#;
        let world = World::try_from_spec(&serde_yaml::from_str(file).unwrap()).unwrap();
        assert_eq!(world.users().len(), 3);
        assert!(world.user_by_bot_token("123456:ABC-DEF").is_some());
        assert_eq!(
            world.peer_by_name("alice"),
            world.user_by_phone("15550001").map(|u| Peer::User(u.id))
        );
    }

    #[test]
    fn unknown_keys_are_refused_or_skipped() {
        let spec: WorldSpec =
            serde_yaml::from_str("messages: [{ from: ghost, to: me, text: x }]").unwrap();
        assert_eq!(
            World::try_from_spec(&spec).unwrap_err(),
            SpecError::UnknownKey("ghost".into())
        );
        let world = World::from_spec(&spec);
        assert!(world.users().is_empty());
        let json = r#"{"users": [{"key": "a", "first_name": "A"}], "bogus": 1}"#;
        assert!(
            serde_json::from_str::<WorldSpec>(json).is_err(),
            "typos in world files are errors"
        );
    }
}
