//! The YAML configuration: types, defaults and validation with messages that
//! name the offending key and line. It owns reading the config file and the
//! one edit the bridge makes to it (filling in empty appservice tokens, see
//! [`tokens`]); it never touches the database, the network or the registration
//! file's contents.

mod error;
mod fields;
mod text;
pub mod tokens;

use std::fmt;
use std::path::{Path, PathBuf};

use ruma::{OwnedUserId, UserId};
use serde::Deserialize;

pub use error::{ConfigError, ConfigErrorKind};
pub use fields::{
    is_valid_localpart, DISPLAYNAME_PLACEHOLDERS, PLACEHOLDER_API_HASH, PLACEHOLDER_API_ID,
};

/// Default port the appservice listens on.
pub const DEFAULT_PORT: u16 = 29317;
/// Default location of the SQLite database.
pub const DEFAULT_DATABASE: &str = "/var/lib/tgbridge/tgbridge.db";
/// File name of the registration written next to the config by default.
pub const REGISTRATION_FILE_NAME: &str = "registration.yaml";

/// The whole bridge configuration, validated.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The homeserver the bridge serves.
    pub homeserver: HomeserverConfig,
    /// How the homeserver and the bridge reach each other.
    pub appservice: AppserviceConfig,
    /// The only Matrix user allowed to use the bridge; a user of `homeserver.domain`.
    #[serde(deserialize_with = "fields::user_id")]
    pub owner: OwnedUserId,
    /// Telegram API credentials and the device the session presents as.
    pub telegram: TelegramConfig,
    /// The SQLite file; a relative path is taken relative to the config file.
    #[serde(default = "default_database")]
    pub database: PathBuf,
    /// Bridging behaviour.
    #[serde(default)]
    pub bridge: BridgeConfig,
    /// The optional web-login page.
    #[serde(default)]
    pub web_login: WebLoginConfig,
    /// Log verbosity.
    #[serde(default)]
    pub logging: LoggingConfig,
    /// Where the config was loaded from (for messages and derived paths).
    #[serde(skip)]
    path: PathBuf,
}

/// The homeserver the bridge belongs to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomeserverConfig {
    /// Client-API base URL the bridge calls, without trailing slash.
    #[serde(deserialize_with = "fields::http_url")]
    pub address: String,
    /// The server name in user IDs (`example.org` in `@you:example.org`).
    #[serde(deserialize_with = "fields::server_name")]
    pub domain: String,
}

/// The application-service side: where the bridge listens and its identity.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppserviceConfig {
    /// URL the homeserver uses to reach the bridge, without trailing slash.
    #[serde(deserialize_with = "fields::http_url")]
    pub address: String,
    /// Address the bridge's HTTP server binds to.
    #[serde(default = "default_hostname", deserialize_with = "fields::identifier")]
    pub hostname: String,
    /// Port the bridge's HTTP server binds to.
    #[serde(default = "default_port", deserialize_with = "fields::port")]
    pub port: u16,
    /// Appservice id, unique among the homeserver's appservices.
    #[serde(default = "default_id", deserialize_with = "fields::identifier")]
    pub id: String,
    /// The bridge bot user.
    #[serde(default)]
    pub bot: BotConfig,
    /// Token the bridge presents to the homeserver; empty until generated.
    #[serde(deserialize_with = "fields::token")]
    pub as_token: String,
    /// Token the homeserver presents to the bridge; empty until generated.
    #[serde(deserialize_with = "fields::token")]
    pub hs_token: String,
}

/// The bridge bot's profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BotConfig {
    /// Localpart of the bot, `telegrambot` by default.
    #[serde(deserialize_with = "fields::localpart")]
    pub username: String,
    /// Display name of the bot.
    pub displayname: String,
    /// Avatar as an `mxc://` URI.
    #[serde(deserialize_with = "fields::optional_mxc")]
    pub avatar: Option<String>,
}

/// Telegram API credentials and device information.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    /// api_id from my.telegram.org.
    #[serde(deserialize_with = "fields::api_id")]
    pub api_id: i32,
    /// api_hash from my.telegram.org.
    #[serde(deserialize_with = "fields::api_hash")]
    pub api_hash: String,
    /// Device model shown in Telegram's list of active sessions.
    #[serde(default = "default_device_model")]
    pub device_model: String,
    /// System version shown in the list of active sessions.
    #[serde(default = "default_system_version")]
    pub system_version: String,
    /// App version shown in the list of active sessions.
    #[serde(default = "default_app_version")]
    pub app_version: String,
    /// Language code sent to Telegram (`en`, `de`, ...).
    #[serde(default = "default_lang_code")]
    pub lang_code: String,
}

/// What gets bridged and how it looks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BridgeConfig {
    /// Localpart prefix of ghost users: `@<prefix><telegram id>:<domain>`.
    #[serde(deserialize_with = "fields::localpart")]
    pub ghost_prefix: String,
    /// Ghost display name; placeholders in [`DISPLAYNAME_PLACEHOLDERS`].
    #[serde(deserialize_with = "fields::displayname_template")]
    pub displayname_template: String,
    /// How many portals one sync of the chat list may create, so a big
    /// account does not flood a small homeserver at login.
    pub max_new_portals_per_sync: u32,
    /// Chats with more members than this get no portal automatically.
    pub max_member_count: Option<u32>,
    /// Whether archived chats get portals too.
    pub sync_archived: bool,
    /// Which chats are bridged.
    pub filter: FilterConfig,
    /// Whether portal rooms may federate (`m.federate`).
    pub federate_rooms: bool,
    /// How many past messages a new portal is filled with, per chat type.
    pub initial_history: InitialHistoryConfig,
    /// Whether `login` in the management room is allowed.
    pub matrix_login: bool,
    /// Alias localpart of portals of public chats, with `{username}` for the
    /// chat's Telegram username (e.g. `telegram_{username}`); none if unset.
    pub alias_template: Option<String>,
    /// Largest Matrix file sent to Telegram, in MB (Telegram takes up to
    /// 2000 MB from ordinary accounts, 4000 MB from Premium ones).
    pub max_upload_size_mb: u64,
    /// How many topic rooms of one forum a sync of the chat list opens (the
    /// most recently active topics); the rest open on their first message
    /// or with the `topics` command. 0 opens none at sync.
    pub max_topic_rooms_per_sync: u32,
    /// Whether a Telegram reply becomes a message in a Matrix thread (the
    /// thread of the message it answers) instead of a plain reply.
    pub reply_chains_as_threads: bool,
}

/// Allow- or deny-list of Telegram chats.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilterConfig {
    /// Whether `chats` lists the only bridged chats or the excluded ones.
    pub mode: FilterMode,
    /// Telegram chat IDs (as the bridge shows them, e.g. `-1001234567890`).
    pub chats: Vec<i64>,
}

/// How [`FilterConfig::chats`] is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilterMode {
    /// Bridge only the listed chats.
    Allow,
    /// Bridge everything except the listed chats.
    #[default]
    Deny,
}

/// Number of messages backfilled into a new portal, per chat type.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InitialHistoryConfig {
    /// Private chats.
    pub private: u32,
    /// Basic groups and supergroups.
    pub group: u32,
    /// Broadcast channels.
    pub channel: u32,
}

/// The web-login page.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebLoginConfig {
    /// Off by default: the page is only served when enabled.
    pub enabled: bool,
    /// Public URL under which the page is reachable (the appservice listener
    /// behind a reverse proxy); required when enabled.
    #[serde(deserialize_with = "fields::optional_http_url")]
    pub public_base_url: Option<String>,
    /// How long a one-time login link works, in seconds (15 minutes).
    pub link_lifetime_seconds: u64,
}

impl Default for WebLoginConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            public_base_url: None,
            link_lifetime_seconds: 15 * 60,
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// Level or filter directives; `RUST_LOG` overrides it.
    #[serde(deserialize_with = "fields::log_filter")]
    pub level: String,
}

impl Config {
    /// Reads and validates the config file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|err| ConfigError::new(path, None, ConfigErrorKind::Read(err)))?;
        Config::from_yaml_str(&text, path)
    }

    /// Parses and validates config `text` as if read from `path`, which is
    /// used in messages and to resolve relative paths.
    pub fn from_yaml_str(text: &str, path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let mut config = deserialize(text, path)?;
        config.path = path.to_path_buf();
        if config.database.is_relative() {
            config.database = config_dir(path).join(&config.database);
        }
        validate(&config).map_err(|(key, message)| {
            ConfigError::new(
                path,
                text::locate_key(text, key),
                ConfigErrorKind::Invalid {
                    key: key.to_owned(),
                    message,
                },
            )
        })?;
        Ok(config)
    }

    /// The file this config was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The bridge bot's user ID, `@<bot.username>:<homeserver.domain>`.
    pub fn bot_user_id(&self) -> OwnedUserId {
        self.user_id(&self.appservice.bot.username)
    }

    /// The ghost user ID for Telegram user `telegram_id`.
    pub fn ghost_user_id(&self, telegram_id: i64) -> OwnedUserId {
        self.user_id(&format!("{}{telegram_id}", self.bridge.ghost_prefix))
    }

    /// The Telegram user ID behind a ghost user ID, or `None` if `user_id` is
    /// not one of this bridge's ghosts.
    pub fn ghost_telegram_id(&self, user_id: &UserId) -> Option<i64> {
        if user_id.server_name().as_str() != self.homeserver.domain {
            return None;
        }
        let id = user_id
            .localpart()
            .strip_prefix(&self.bridge.ghost_prefix)?;
        // Only the canonical spelling maps back, so one Telegram user has one ghost.
        id.parse::<i64>().ok().filter(|n| n.to_string() == id)
    }

    /// Where `generate-registration` writes by default: `registration.yaml`
    /// next to the config file.
    pub fn registration_path(&self) -> PathBuf {
        config_dir(&self.path).join(REGISTRATION_FILE_NAME)
    }

    /// True when both appservice tokens are set.
    pub fn has_tokens(&self) -> bool {
        !self.appservice.as_token.is_empty() && !self.appservice.hs_token.is_empty()
    }

    fn user_id(&self, localpart: &str) -> OwnedUserId {
        let id = format!("@{localpart}:{}", self.homeserver.domain);
        // Invariant: the loader checked the domain as a server name and the
        // bot username and ghost prefix as localparts; digits and '-' keep a
        // localpart valid.
        UserId::parse(&id).expect("user ID built from validated config parts")
    }
}

impl FilterConfig {
    /// Whether the chat with this Telegram ID should be bridged.
    pub fn allows(&self, chat_id: i64) -> bool {
        let listed = self.chats.contains(&chat_id);
        match self.mode {
            FilterMode::Allow => listed,
            FilterMode::Deny => !listed,
        }
    }
}

/// The parts of a Telegram user's name a displayname template can use.
#[derive(Debug, Clone, Default)]
pub struct GhostName<'a> {
    /// First name.
    pub first_name: &'a str,
    /// Last name, may be empty.
    pub last_name: &'a str,
    /// @username without the @, may be empty.
    pub username: &'a str,
    /// Telegram user ID.
    pub id: i64,
}

impl BridgeConfig {
    /// Renders [`BridgeConfig::displayname_template`] for a Telegram user.
    /// `{displayname}` is the full name, else the username, else the ID.
    pub fn ghost_displayname(&self, name: &GhostName<'_>) -> String {
        let full = [name.first_name, name.last_name]
            .iter()
            .filter(|part| !part.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let id = name.id.to_string();
        let displayname = if !full.is_empty() {
            full.as_str()
        } else if !name.username.is_empty() {
            name.username
        } else {
            id.as_str()
        };
        self.displayname_template
            .replace("{displayname}", displayname)
            .replace("{first_name}", name.first_name)
            .replace("{last_name}", name.last_name)
            .replace("{username}", name.username)
            .replace("{id}", &id)
    }
}

// Tokens and the api_hash are secrets: Debug output of a config may end up in
// logs, so these two sections print placeholders instead.
impl fmt::Debug for AppserviceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppserviceConfig")
            .field("address", &self.address)
            .field("hostname", &self.hostname)
            .field("port", &self.port)
            .field("id", &self.id)
            .field("bot", &self.bot)
            .field("as_token", &redacted(&self.as_token))
            .field("hs_token", &redacted(&self.hs_token))
            .finish()
    }
}

impl fmt::Debug for TelegramConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramConfig")
            .field("api_id", &self.api_id)
            .field("api_hash", &redacted(&self.api_hash))
            .field("device_model", &self.device_model)
            .field("system_version", &self.system_version)
            .field("app_version", &self.app_version)
            .field("lang_code", &self.lang_code)
            .finish()
    }
}

fn redacted(secret: &str) -> crate::logging::Secret<&str> {
    crate::logging::Secret::new(secret)
}

impl Default for BotConfig {
    fn default() -> Self {
        BotConfig {
            username: "telegrambot".to_owned(),
            displayname: "Telegram bridge bot".to_owned(),
            avatar: None,
        }
    }
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            ghost_prefix: "telegram_".to_owned(),
            displayname_template: "{displayname} (Telegram)".to_owned(),
            max_new_portals_per_sync: 15,
            max_member_count: None,
            sync_archived: false,
            filter: FilterConfig::default(),
            federate_rooms: true,
            initial_history: InitialHistoryConfig::default(),
            matrix_login: true,
            alias_template: None,
            max_upload_size_mb: 2000,
            max_topic_rooms_per_sync: 10,
            reply_chains_as_threads: false,
        }
    }
}

impl Default for InitialHistoryConfig {
    fn default() -> Self {
        InitialHistoryConfig {
            private: 20,
            group: 20,
            channel: 10,
        }
    }
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            level: "info".to_owned(),
        }
    }
}

fn default_database() -> PathBuf {
    PathBuf::from(DEFAULT_DATABASE)
}
fn default_hostname() -> String {
    "127.0.0.1".to_owned()
}
fn default_port() -> u16 {
    DEFAULT_PORT
}
fn default_id() -> String {
    "telegram".to_owned()
}
fn default_device_model() -> String {
    "tgbridge".to_owned()
}
fn default_system_version() -> String {
    format!("{} {}", std::env::consts::OS, std::env::consts::ARCH)
}
fn default_app_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
fn default_lang_code() -> String {
    "en".to_owned()
}

/// The directory relative paths in the config are resolved against.
fn config_dir(config_path: &Path) -> &Path {
    config_path.parent().unwrap_or(Path::new(""))
}

/// Runs serde over `text`, turning its errors into [`ConfigError`]s that name
/// the key path.
fn deserialize(text: &str, path: &Path) -> Result<Config, ConfigError> {
    // Parsing the bare YAML first tells syntax errors apart from errors in
    // values, which serde_yaml would otherwise report under the key it was
    // reading when the text broke.
    if let Err(err) = serde_yaml::from_str::<serde::de::IgnoredAny>(text) {
        let line = err.location().map(|l| l.line());
        let message = format!("YAML syntax error: {}", bare_message(&err));
        return Err(ConfigError::new(
            path,
            line,
            ConfigErrorKind::Syntax(message),
        ));
    }
    let deserializer = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let key_path = err.path().to_string();
        let inner = err.into_inner();
        let kind = classify(&key_path, &inner);
        let line = match &kind {
            // The spec'd message for a missing key has no line to point at.
            ConfigErrorKind::Missing { .. } => None,
            // serde_yaml marks errors raised after a value was read (our own
            // checks, unknown keys) at the enclosing mapping; the key's own
            // line is more useful when it can be found.
            ConfigErrorKind::Unknown { key, .. } | ConfigErrorKind::Invalid { key, .. } => {
                text::locate_key(text, key).or_else(|| inner.location().map(|l| l.line()))
            }
            ConfigErrorKind::Read(_) | ConfigErrorKind::Syntax(_) => {
                inner.location().map(|l| l.line())
            }
        };
        ConfigError::new(path, line, kind)
    })
}

/// Sorts a serde_yaml error into missing / unknown / invalid / syntax.
fn classify(key_path: &str, err: &serde_yaml::Error) -> ConfigErrorKind {
    let message = bare_message(err);
    let parent = if key_path == "." { "" } else { key_path };
    // serde's own wording for these two cases has been stable since 1.0.
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        return ConfigErrorKind::Missing {
            key: join_key(parent, field),
        };
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        // serde_path_to_error has already appended the unknown key to the path.
        let key = if parent.ends_with(field) {
            parent.to_owned()
        } else {
            join_key(parent, field)
        };
        let expected = expected
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        return ConfigErrorKind::Unknown { key, expected };
    }
    if key_path == "." {
        // A root-level failure is either the YAML syntax itself or a document
        // that is not a mapping of keys at all (empty file, a list, ...).
        if message.starts_with("invalid type") || message.starts_with("EOF while parsing") {
            return ConfigErrorKind::Syntax(
                "expected a mapping of config keys; config.example.yaml shows the layout"
                    .to_owned(),
            );
        }
        return ConfigErrorKind::Syntax(format!("YAML syntax error: {message}"));
    }
    ConfigErrorKind::Invalid {
        key: key_path.to_owned(),
        message,
    }
}

/// The error text without serde_yaml's own `path: ` prefix and
/// ` at line L column C` suffix, which our message already carries.
fn bare_message(err: &serde_yaml::Error) -> String {
    let mut message = err.to_string();
    if let Some(location) = err.location() {
        let suffix = format!(" at line {} column {}", location.line(), location.column());
        if let Some(stripped) = message.strip_suffix(&suffix) {
            message = stripped.to_owned();
        }
    }
    // serde_yaml's path may be the parent mapping's rather than the key's,
    // so any leading `some.path: ` (no spaces before the colon) is dropped.
    match message.split_once(": ") {
        Some((head, rest)) if !head.is_empty() && !head.contains(char::is_whitespace) => {
            rest.to_owned()
        }
        _ => message,
    }
}

fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// Rules spanning several keys. Returns the key to blame and why.
fn validate(config: &Config) -> Result<(), (&'static str, String)> {
    let domain = &config.homeserver.domain;
    if config.owner.server_name().as_str() != domain {
        return Err((
            "owner",
            format!(
                "{} is not a user of homeserver.domain {domain:?}; the owner must be an account on \
                 this homeserver",
                config.owner
            ),
        ));
    }
    let prefix = &config.bridge.ghost_prefix;
    if let Some(template) = &config.bridge.alias_template {
        if !template.contains("{username}") {
            return Err((
                "bridge.alias_template",
                format!("{template:?} must contain {{username}}, or every portal would claim the same alias"),
            ));
        }
        if !template.starts_with(prefix.as_str()) {
            return Err((
                "bridge.alias_template",
                format!("{template:?} must start with bridge.ghost_prefix {prefix:?}: the registration reserves only those aliases for the bridge"),
            ));
        }
    }
    if config.appservice.bot.username.starts_with(prefix.as_str()) {
        return Err((
            "appservice.bot.username",
            format!("must not start with bridge.ghost_prefix {prefix:?}, or the bot would look like a ghost"),
        ));
    }
    let owner = config.owner.localpart();
    if owner.starts_with(prefix.as_str()) || owner == config.appservice.bot.username {
        return Err((
            "owner",
            format!(
                "{} falls into the bridge's own namespace (the bot or bridge.ghost_prefix {prefix:?})",
                config.owner
            ),
        ));
    }
    // Keeps the invariant of `Config::user_id`: the longest IDs the bridge
    // builds must still be valid (user IDs are limited to 255 bytes).
    for localpart in [
        config.appservice.bot.username.clone(),
        format!("{prefix}{}", i64::MIN),
    ] {
        if let Err(err) = UserId::parse(format!("@{localpart}:{domain}")) {
            return Err((
                "homeserver.domain",
                format!("user IDs like @{localpart}:{domain} would be invalid ({err})"),
            ));
        }
    }
    let appservice = &config.appservice;
    if !appservice.as_token.is_empty() && appservice.as_token == appservice.hs_token {
        return Err((
            "appservice.hs_token",
            "must differ from appservice.as_token".to_owned(),
        ));
    }
    if config.web_login.enabled && config.web_login.public_base_url.is_none() {
        return Err((
            "web_login.public_base_url",
            "is required when web_login.enabled is true".to_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
