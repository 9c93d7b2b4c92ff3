//! What the bridge core needs from the database (and, for `logout`, from
//! Telegram), as a narrow trait. The real implementation sits on the SQLite
//! store; tests can use a map. Calls are
//! short SQLite statements (one row each), cheap enough to run inline on the
//! async runtime.

use std::fmt;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::store::{Store, StoreError};
use crate::telegram::logout::end_stored_login;
use crate::telegram::ClientOptions;

/// Why a persistence call failed; the message never contains secrets.
#[derive(Debug, thiserror::Error)]
pub enum PersistenceError {
    /// The database failed.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// Ending the Telegram login failed.
    #[error("{0}")]
    Logout(String),
    /// Another implementation's failure (an in-memory double, say).
    #[error("database: {0}")]
    Other(String),
}

impl PersistenceError {
    /// Wraps a failure of an implementation other than the store.
    pub fn new(error: impl fmt::Display) -> Self {
        Self::Other(error.to_string())
    }
}

/// The Telegram account the bridge is logged in as, for status answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramAccount {
    /// Telegram user id.
    pub user_id: i64,
    /// Whether the account is a bot (logged in with a bot token).
    pub is_bot: bool,
    /// `@username`, if the account has one.
    pub username: Option<String>,
    /// First and last name as shown in Telegram.
    pub display_name: Option<String>,
}

impl TelegramAccount {
    /// How the account is named to the owner: name and username, else the id.
    pub fn describe(&self) -> String {
        match (&self.display_name, &self.username) {
            (Some(name), Some(username)) => format!("{name} (@{username})"),
            (Some(name), None) => name.clone(),
            (None, Some(username)) => format!("@{username}"),
            (None, None) if self.is_bot => format!("Telegram bot {}", self.user_id),
            (None, None) => format!("Telegram user {}", self.user_id),
        }
    }
}

/// The store operations the core uses.
pub trait BridgePersistence: Send + Sync + 'static {
    /// Whether the appservice transaction `txn_id` was already processed.
    fn transaction_processed(&self, txn_id: &str) -> Result<bool, PersistenceError>;

    /// Remembers that transaction `txn_id` was processed.
    fn record_transaction(&self, txn_id: &str) -> Result<(), PersistenceError>;

    /// Remembers that transaction `txn_id` was processed and, in the same
    /// database transaction, queues `queued` for delivery to Telegram (each
    /// event only the first time it is seen) and moves the event watermark
    /// up to `newest_event_ts`: either all happen or none, so a crash makes
    /// the homeserver resend the transaction and no event is lost or queued
    /// twice.
    fn record_transaction_with_outbox(
        &self,
        txn_id: &str,
        queued: &[QueuedEvent],
        newest_event_ts: Option<u64>,
    ) -> Result<(), PersistenceError>;

    /// Queues events found in a room's timeline after the fact, each only if
    /// it was never queued before; returns those that were queued now.
    fn queue_missed(&self, queued: &[QueuedEvent]) -> Result<Vec<QueuedEvent>, PersistenceError>;

    /// Whether the owner's event `event_id` was ever queued for Telegram or
    /// remembered as handled.
    fn was_queued(&self, event_id: &ruma::EventId) -> Result<bool, PersistenceError>;

    /// Remembers an owner's event handled without the outbox (a command, a
    /// rename), so it is not handled again when it arrives a second time.
    fn remember_handled(
        &self,
        room_id: &ruma::RoomId,
        event_id: &ruma::EventId,
    ) -> Result<(), PersistenceError>;

    /// The newest `origin_server_ts` (ms) of any event in a processed
    /// transaction: everything older reached the bridge.
    fn event_watermark(&self) -> Result<Option<u64>, PersistenceError>;

    /// The access token of the bot's own device, if it logged one in.
    fn bot_device_token(&self) -> Result<Option<String>, PersistenceError>;

    /// Records the bot's device token.
    fn set_bot_device_token(&self, token: &str) -> Result<(), PersistenceError>;

    /// Where the bot's own `/sync` left off, if it ever ran.
    fn bot_sync_position(&self) -> Result<Option<String>, PersistenceError>;

    /// Records where the bot's own `/sync` left off.
    fn set_bot_sync_position(&self, position: &str) -> Result<(), PersistenceError>;

    /// Every portal room.
    fn portal_rooms(&self) -> Result<Vec<ruma::OwnedRoomId>, PersistenceError>;

    /// Whether `room_id` is a portal room (the owner's events there are
    /// bridged to Telegram).
    fn is_portal_room(&self, room_id: &ruma::RoomId) -> Result<bool, PersistenceError>;

    /// Forgets transaction ids recorded more than `age` ago (homeservers only
    /// retry recent transactions); returns how many were forgotten.
    fn prune_transactions(&self, age: Duration) -> Result<usize, PersistenceError>;

    /// The management room recorded in the database, if any.
    fn management_room(&self) -> Result<Option<ruma::OwnedRoomId>, PersistenceError>;

    /// Records `room_id` as the management room, or forgets it (`None`).
    fn set_management_room(&self, room_id: Option<&ruma::RoomId>) -> Result<(), PersistenceError>;

    /// The Telegram account logged in, if any.
    fn telegram_account(
        &self,
    ) -> impl Future<Output = Result<Option<TelegramAccount>, PersistenceError>> + Send;

    /// Ends the Telegram login like `tgbridge logout`: at Telegram when a
    /// client can be started, then in the database (session, auth key);
    /// portals are kept. Returns one sentence on what Telegram said, if it
    /// was asked.
    fn log_out_telegram(
        &self,
    ) -> impl Future<Output = Result<Option<String>, PersistenceError>> + Send;

    /// Records a Matrix event whose handling failed for good (it panicked)
    /// in the quarantine. Stores without a quarantine (in-memory test
    /// doubles) keep nothing.
    fn quarantine_event(&self, _failed: &FailedEvent) -> Result<(), PersistenceError> {
        Ok(())
    }
}

/// A Matrix event the core gave up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedEvent {
    /// The room it was sent in.
    pub room_id: ruma::OwnedRoomId,
    /// The event.
    pub event_id: ruma::OwnedEventId,
    /// Why it failed.
    pub reason: String,
}

/// An owner's event in a portal room, waiting for delivery to Telegram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEvent {
    /// The portal room.
    pub room_id: ruma::OwnedRoomId,
    /// The event.
    pub event_id: ruma::OwnedEventId,
    /// The event's JSON as the homeserver sent it.
    pub event_json: String,
}

/// Key of the management room's id in the store's key-value table.
pub const MANAGEMENT_ROOM_KEY: &str = "management_room";

/// Key of the event watermark (see [`BridgePersistence::event_watermark`]).
pub const EVENT_WATERMARK_KEY: &str = "matrix_event_watermark";

/// Key of the bot's device token (a secret, like the `as_token`).
pub const BOT_DEVICE_TOKEN_KEY: &str = "matrix_bot_device_token";

/// Key of the bot's sync position.
pub const BOT_SYNC_POSITION_KEY: &str = "matrix_bot_sync_position";

/// How to reach Telegram for a remote logout.
#[derive(Debug, Clone)]
pub struct TelegramEndpoint {
    /// The application's `api_id`.
    pub api_id: i32,
    /// Device information and timeouts for the client.
    pub options: ClientOptions,
}

/// The core's persistence on the SQLite store; with a [`TelegramEndpoint`]
/// the `logout` command also ends the session at Telegram.
pub struct StorePersistence {
    store: Store,
    telegram: Option<TelegramEndpoint>,
}

impl StorePersistence {
    /// Wraps `store`; `telegram` is `None` where Telegram must not be contacted.
    pub fn new(store: Store, telegram: Option<TelegramEndpoint>) -> Self {
        Self { store, telegram }
    }
}

impl BridgePersistence for StorePersistence {
    fn transaction_processed(&self, txn_id: &str) -> Result<bool, PersistenceError> {
        self.store
            .transaction_processed(txn_id)
            .map_err(PersistenceError::from)
    }

    fn record_transaction(&self, txn_id: &str) -> Result<(), PersistenceError> {
        self.store
            .record_transaction(txn_id)
            .map_err(PersistenceError::from)
    }

    fn record_transaction_with_outbox(
        &self,
        txn_id: &str,
        queued: &[QueuedEvent],
        newest_event_ts: Option<u64>,
    ) -> Result<(), PersistenceError> {
        self.store
            .transaction(|tx| {
                for event in queued {
                    tx.outbox()
                        .push(&event.room_id, &event.event_id, &event.event_json)?;
                }
                if let Some(ts) = newest_event_ts {
                    let known = tx
                        .kv_get(EVENT_WATERMARK_KEY)?
                        .and_then(|value| value.parse::<u64>().ok());
                    if known.is_none_or(|known| ts > known) {
                        tx.kv_set(EVENT_WATERMARK_KEY, &ts.to_string())?;
                    }
                }
                tx.record_transaction(txn_id)
            })
            .map_err(PersistenceError::from)
    }

    fn queue_missed(&self, queued: &[QueuedEvent]) -> Result<Vec<QueuedEvent>, PersistenceError> {
        self.store
            .transaction(|tx| {
                let mut fresh = Vec::new();
                for event in queued {
                    if tx
                        .outbox()
                        .push(&event.room_id, &event.event_id, &event.event_json)?
                    {
                        fresh.push(event.clone());
                    }
                }
                Ok::<_, StoreError>(fresh)
            })
            .map_err(PersistenceError::from)
    }

    fn was_queued(&self, event_id: &ruma::EventId) -> Result<bool, PersistenceError> {
        self.store
            .outbox()
            .was_queued(event_id)
            .map_err(PersistenceError::from)
    }

    fn remember_handled(
        &self,
        room_id: &ruma::RoomId,
        event_id: &ruma::EventId,
    ) -> Result<(), PersistenceError> {
        self.store
            .outbox()
            .remember(room_id, event_id)
            .map(drop)
            .map_err(PersistenceError::from)
    }

    fn event_watermark(&self) -> Result<Option<u64>, PersistenceError> {
        Ok(self
            .store
            .kv_get(EVENT_WATERMARK_KEY)
            .map_err(PersistenceError::from)?
            .and_then(|value| value.parse().ok()))
    }

    fn bot_device_token(&self) -> Result<Option<String>, PersistenceError> {
        self.store
            .kv_get(BOT_DEVICE_TOKEN_KEY)
            .map_err(PersistenceError::from)
    }

    fn set_bot_device_token(&self, token: &str) -> Result<(), PersistenceError> {
        self.store
            .kv_set(BOT_DEVICE_TOKEN_KEY, token)
            .map_err(PersistenceError::from)
    }

    fn bot_sync_position(&self) -> Result<Option<String>, PersistenceError> {
        self.store
            .kv_get(BOT_SYNC_POSITION_KEY)
            .map_err(PersistenceError::from)
    }

    fn set_bot_sync_position(&self, position: &str) -> Result<(), PersistenceError> {
        self.store
            .kv_set(BOT_SYNC_POSITION_KEY, position)
            .map_err(PersistenceError::from)
    }

    fn portal_rooms(&self) -> Result<Vec<ruma::OwnedRoomId>, PersistenceError> {
        Ok(self
            .store
            .portals()
            .all()
            .map_err(PersistenceError::from)?
            .into_iter()
            .map(|portal| portal.room_id)
            .collect())
    }

    fn is_portal_room(&self, room_id: &ruma::RoomId) -> Result<bool, PersistenceError> {
        self.store
            .portals()
            .by_room(room_id)
            .map(|portal| portal.is_some())
            .map_err(PersistenceError::from)
    }

    fn prune_transactions(&self, age: Duration) -> Result<usize, PersistenceError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let cutoff = now.saturating_sub(age).as_secs();
        self.store
            .prune_transactions(i64::try_from(cutoff).unwrap_or(i64::MAX))
            .map_err(PersistenceError::from)
    }

    fn quarantine_event(&self, failed: &FailedEvent) -> Result<(), PersistenceError> {
        let item = crate::store::QuarantinedItem {
            direction: crate::store::QuarantineDirection::Matrix,
            item: failed.event_id.to_string(),
            room_id: Some(failed.room_id.to_string()),
            reason: failed.reason.clone(),
        };
        self.store
            .quarantine()
            .record(&item)
            .map_err(PersistenceError::from)
    }

    fn management_room(&self) -> Result<Option<ruma::OwnedRoomId>, PersistenceError> {
        // A recorded value that is not a room id (hand-edited, say) counts
        // as no management room: the bot then sets up a new one.
        Ok(self
            .store
            .kv_get(MANAGEMENT_ROOM_KEY)?
            .and_then(|room| ruma::OwnedRoomId::try_from(room).ok()))
    }

    fn set_management_room(&self, room_id: Option<&ruma::RoomId>) -> Result<(), PersistenceError> {
        match room_id {
            Some(room_id) => self.store.kv_set(MANAGEMENT_ROOM_KEY, room_id.as_str()),
            None => self.store.kv_delete(MANAGEMENT_ROOM_KEY),
        }
        .map_err(PersistenceError::from)
    }

    async fn telegram_account(&self) -> Result<Option<TelegramAccount>, PersistenceError> {
        if !self
            .store
            .has_telegram_login()
            .map_err(PersistenceError::from)?
        {
            return Ok(None);
        }
        let account = crate::telegram::account::stored_account(&self.store)
            .await
            .map_err(PersistenceError::from)?;
        Ok(account.map(|account| TelegramAccount {
            user_id: account.user_id.get(),
            is_bot: account.is_bot,
            username: None,
            display_name: None,
        }))
    }

    async fn log_out_telegram(&self) -> Result<Option<String>, PersistenceError> {
        let logged_in = self
            .store
            .has_telegram_login()
            .map_err(PersistenceError::from)?;
        let (remote, scrub_failed) = match (&self.telegram, logged_in) {
            (Some(endpoint), true) => {
                let ended = end_stored_login(&self.store, endpoint.api_id, &endpoint.options)
                    .await
                    .map_err(PersistenceError::from)?;
                (Some(ended.remote.describe()), ended.scrub_failed)
            }
            _ => {
                // No remote logout, but an auth key is a secret worth
                // removing from the file either way.
                self.store
                    .clear_telegram_login()
                    .map_err(PersistenceError::from)?;
                (None, self.store.scrub_deleted_data().err())
            }
        };
        if let Some(err) = scrub_failed {
            tracing::warn!(
                error = %err,
                "the Telegram session is removed, but old copies of the auth key may remain \
                 in unused space of the database until the next logout"
            );
        }
        Ok(remote)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_described_by_name_then_username_then_id() {
        let mut account = TelegramAccount {
            user_id: 7,
            is_bot: false,
            username: Some("ann".into()),
            display_name: Some("Ann Lee".into()),
        };
        assert_eq!(account.describe(), "Ann Lee (@ann)");
        account.display_name = None;
        assert_eq!(account.describe(), "@ann");
        account.username = None;
        assert_eq!(account.describe(), "Telegram user 7");
        account.is_bot = true;
        assert_eq!(account.describe(), "Telegram bot 7");
    }
}
