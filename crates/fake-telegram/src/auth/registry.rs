//! The authorization registry: every auth key the fake knows, and which
//! account (if any) each one is logged into. Keys are only ever created here
//! (tests seed them; the fake never runs a DH key exchange). Plain data, no I/O.

use std::collections::{HashMap, HashSet};

use crate::mtproto::crypto::AuthKey;
use crate::world::UserId;

/// What the fake knows about one auth key.
#[derive(Debug, Clone)]
pub struct KeyEntry {
    pub key: AuthKey,
    /// The account this key is logged into.
    pub account: Option<UserId>,
    /// Connections of this key that fetched their update state (or caught
    /// up from a saved one) since it logged in. Pushes go only to these, as
    /// Telegram pushes to connections rather than keys, and a client would
    /// take a push that came before its state for already applied.
    pub subscribed: HashSet<u64>,
    /// Logged out by "terminate session" on another device: calls answer
    /// `SESSION_REVOKED` instead of `AUTH_KEY_UNREGISTERED`.
    pub revoked: bool,
}

/// All auth keys of one fake datacenter.
#[derive(Debug, Default)]
pub struct Registry {
    keys: HashMap<i64, KeyEntry>,
}

impl Registry {
    /// Registers a key (not logged in) and returns its id.
    pub fn register(&mut self, key: AuthKey) -> i64 {
        let id = key.id();
        self.keys.insert(
            id,
            KeyEntry {
                key,
                account: None,
                subscribed: HashSet::new(),
                revoked: false,
            },
        );
        id
    }

    /// The entry for a key id.
    pub fn get(&self, key_id: i64) -> Option<&KeyEntry> {
        self.keys.get(&key_id)
    }

    /// The account a key is logged into.
    pub fn account(&self, key_id: i64) -> Option<UserId> {
        self.keys.get(&key_id).and_then(|e| e.account)
    }

    /// Logs a key into an account.
    pub fn bind(&mut self, key_id: i64, account: UserId) {
        if let Some(entry) = self.keys.get_mut(&key_id) {
            entry.account = Some(account);
            entry.subscribed.clear();
            entry.revoked = false;
        }
    }

    /// Logs a key out; returns whether it was logged in.
    pub fn unbind(&mut self, key_id: i64) -> bool {
        match self.keys.get_mut(&key_id) {
            Some(entry) => {
                entry.subscribed.clear();
                entry.account.take().is_some()
            }
            None => false,
        }
    }

    /// Logs every key of `account` out as if its sessions were terminated
    /// from another device; returns how many were.
    pub fn revoke_account(&mut self, account: UserId) -> usize {
        let mut revoked = 0;
        for entry in self
            .keys
            .values_mut()
            .filter(|e| e.account == Some(account))
        {
            entry.account = None;
            entry.subscribed.clear();
            entry.revoked = true;
            revoked += 1;
        }
        revoked
    }

    /// Whether a key's session was revoked (and not logged in again since).
    pub fn is_revoked(&self, key_id: i64) -> bool {
        self.keys.get(&key_id).is_some_and(|e| e.revoked)
    }

    /// Notes that `connection` of a logged-in key started its update stream.
    pub fn subscribe(&mut self, key_id: i64, connection: u64) {
        if let Some(entry) = self.keys.get_mut(&key_id) {
            if entry.account.is_some() {
                entry.subscribed.insert(connection);
            }
        }
    }

    /// Forgets a closed connection.
    pub fn unsubscribe(&mut self, key_id: i64, connection: u64) {
        if let Some(entry) = self.keys.get_mut(&key_id) {
            entry.subscribed.remove(&connection);
        }
    }

    /// Whether a push for `account` should go to `connection` of `key_id`.
    pub fn wants_push(&self, key_id: i64, connection: u64, account: UserId) -> bool {
        self.keys
            .get(&key_id)
            .is_some_and(|e| e.account == Some(account) && e.subscribed.contains(&connection))
    }

    /// Ids of the keys logged into `account`.
    pub fn keys_of(&self, account: UserId) -> Vec<i64> {
        self.keys
            .iter()
            .filter(|(_, e)| e.account == Some(account))
            .map(|(id, _)| *id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_wait_for_the_connection_to_subscribe_and_stop_at_logout() {
        let mut registry = Registry::default();
        let key = registry.register(AuthKey::generate());
        registry.subscribe(key, 1);
        assert!(!registry.wants_push(key, 1, 7));
        registry.bind(key, 7);
        assert!(!registry.wants_push(key, 1, 7));
        registry.subscribe(key, 1);
        assert!(registry.wants_push(key, 1, 7));
        assert!(!registry.wants_push(key, 1, 8));
        // Another connection of the same key has not subscribed yet.
        assert!(!registry.wants_push(key, 2, 7));
        registry.unsubscribe(key, 1);
        assert!(!registry.wants_push(key, 1, 7));
        registry.subscribe(key, 2);
        assert!(registry.unbind(key));
        assert!(!registry.wants_push(key, 2, 7));
        assert!(!registry.unbind(key));
    }

    #[test]
    fn revoked_sessions_stay_revoked_until_the_next_login() {
        let mut registry = Registry::default();
        let first = registry.register(AuthKey::generate());
        let second = registry.register(AuthKey::generate());
        registry.bind(first, 7);
        registry.bind(second, 7);
        assert_eq!(registry.revoke_account(7), 2);
        assert!(registry.is_revoked(first) && registry.is_revoked(second));
        assert_eq!(registry.account(first), None);
        registry.bind(first, 7);
        assert!(!registry.is_revoked(first));
    }
}
