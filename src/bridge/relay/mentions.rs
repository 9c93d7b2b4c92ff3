//! Who a Telegram mention points at in Matrix: the owner's own account is
//! the owner, anyone else their ghost; `@username` mentions are looked up
//! on Telegram once and remembered for the run. The converters in
//! `convert` do the rendering; this module only answers their questions
//! and never sends anything to Matrix.

use std::collections::HashMap;

use grammers_tl_types as tl;
use ruma::{OwnedUserId, UserId};

use super::*;
use crate::convert::{MentionResolver, TelegramMention};

/// At most this many usernames are remembered; beyond it the cache starts
/// over (a user renaming themselves is then noticed too).
const USERNAME_CACHE_LIMIT: usize = 4096;

/// Telegram usernames are 4 to 32 characters long.
const USERNAME_LENGTH: std::ops::RangeInclusive<usize> = 4..=32;

/// The mention lookup for one message.
pub(super) struct ChatMentions<'a> {
    owner: &'a UserId,
    self_id: i64,
    ghost_prefix: &'a str,
    server_name: &'a ruma::ServerName,
    usernames: HashMap<String, i64>,
    store: &'a Store,
}

impl MentionResolver for ChatMentions<'_> {
    fn matrix_user(&self, telegram_user_id: i64) -> Option<OwnedUserId> {
        if telegram_user_id == self.self_id {
            return Some(self.owner.to_owned());
        }
        UserId::parse(format!(
            "@{}{telegram_user_id}:{}",
            self.ghost_prefix, self.server_name
        ))
        .ok()
    }

    fn telegram_user_by_username(&self, username: &str) -> Option<i64> {
        self.usernames.get(&username.to_lowercase()).copied()
    }

    fn telegram_user(&self, matrix_user: &UserId) -> Option<TelegramMention> {
        if matrix_user == self.owner {
            return Some(TelegramMention {
                user_id: self.self_id,
                display_name: matrix_user.localpart().to_owned(),
            });
        }
        if matrix_user.server_name() != self.server_name {
            return None;
        }
        let user_id: i64 = matrix_user
            .localpart()
            .strip_prefix(self.ghost_prefix)?
            .parse()
            .ok()?;
        let display_name = match self.store.ghosts().get(user_id) {
            Ok(Some(ghost)) => ghost.displayname,
            _ => None,
        };
        Some(TelegramMention {
            user_id,
            display_name: display_name.unwrap_or_else(|| user_id.to_string()),
        })
    }
}

impl Side {
    /// The mention lookup for a message with `text` and `entities`,
    /// resolving its `@username` mentions first.
    pub(super) async fn mentions_for(
        &self,
        text: &str,
        entities: &[tl::enums::MessageEntity],
    ) -> ChatMentions<'_> {
        let has_username_mentions = entities
            .iter()
            .any(|e| matches!(e, tl::enums::MessageEntity::Mention(_)));
        let mut usernames = HashMap::new();
        if has_username_mentions {
            for username in usernames_in(text) {
                if let Some(id) = self.user_by_username(&username).await {
                    usernames.insert(username, id);
                }
            }
        }
        ChatMentions {
            owner: &self.settings.owner,
            self_id: self.self_id(),
            ghost_prefix: &self.settings.bridge.ghost_prefix,
            server_name: self.client.bot_user_id().server_name(),
            usernames,
            store: &self.store,
        }
    }

    /// The Telegram user with `username` (lower-cased), asked once per run.
    async fn user_by_username(&self, username: &str) -> Option<i64> {
        if let Some(known) = self.cached_username(username) {
            return known;
        }
        let client = self.telegram.get()?;
        let found = match client.resolve_username(username).await {
            Ok(Some(grammers_client::peer::Peer::User(user))) => user.id().bare_id(),
            Ok(_) => None,
            Err(error) => {
                debug!(%error, "could not look up a mentioned username");
                return None;
            }
        };
        let mut cache = self
            .inbound
            .usernames
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= USERNAME_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(username.to_owned(), found);
        found
    }

    fn cached_username(&self, username: &str) -> Option<Option<i64>> {
        self.inbound
            .usernames
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(username)
            .copied()
    }
}

/// The lower-cased usernames `@mentioned` in `text`, each once.
fn usernames_in(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for (at, _) in text.match_indices('@') {
        let preceded_by_word = text[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        if preceded_by_word {
            continue;
        }
        let name: String = text[at + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let name = name.to_lowercase();
        if USERNAME_LENGTH.contains(&name.len()) && !found.contains(&name) {
            found.push(name);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_found_once_and_lower_cased() {
        assert_eq!(
            usernames_in("hi @Dave and @dave, mail a@b.c, @abc @carol_99!"),
            ["dave", "carol_99"]
        );
        assert!(usernames_in("no mentions").is_empty());
        assert!(usernames_in("@").is_empty());
    }

    #[test]
    fn the_owners_account_is_the_owner_and_others_are_ghosts() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let owner = OwnedUserId::try_from("@me:example.org").unwrap();
        let server = ruma::ServerName::parse("example.org").unwrap();
        let mentions = ChatMentions {
            owner: &owner,
            self_id: 100,
            ghost_prefix: "telegram_",
            server_name: &server,
            usernames: HashMap::from([("bob".to_owned(), 7)]),
            store: &store,
        };
        assert_eq!(mentions.matrix_user(100), Some(owner.clone()));
        assert_eq!(
            mentions.matrix_user(7).unwrap().as_str(),
            "@telegram_7:example.org"
        );
        assert_eq!(mentions.telegram_user_by_username("Bob"), Some(7));
        assert_eq!(mentions.telegram_user_by_username("carol"), None);
        let ghost = UserId::parse("@telegram_7:example.org").unwrap();
        assert_eq!(mentions.telegram_user(&ghost).unwrap().user_id, 7);
        assert_eq!(mentions.telegram_user(&owner).unwrap().user_id, 100);
        let stranger = UserId::parse("@telegram_7:elsewhere.org").unwrap();
        assert_eq!(mentions.telegram_user(&stranger), None);
    }
}
