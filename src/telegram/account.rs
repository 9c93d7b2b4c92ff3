//! The logged-in account as the stored session remembers it, read without
//! asking Telegram: who is logged in, and whether it is a bot. Used where
//! Telegram cannot or need not be reached (status answers, the terminal
//! login's "already logged in" message).

use grammers_session::types::{PeerId, PeerInfo};
use grammers_session::Session as _;

use crate::ids::TgUserId;
use crate::store::{Store, StoreError};

/// The account a session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredAccount {
    /// The account's user id.
    pub user_id: TgUserId,
    /// Whether it is a bot.
    pub is_bot: bool,
}

/// The account of the session stored in `store`; `None` when the session
/// does not know its own user.
pub async fn stored_account(store: &Store) -> Result<Option<StoredAccount>, StoreError> {
    let self_user = store.telegram_session().peer(PeerId::self_user()).await?;
    Ok(match self_user {
        Some(PeerInfo::User { id, bot, .. }) => Some(StoredAccount {
            user_id: TgUserId(id),
            is_bot: bot.unwrap_or(false),
        }),
        _ => None,
    })
}

/// The user a running client's session belongs to, if it knows.
pub async fn session_user(client: &super::TelegramClient) -> Option<TgUserId> {
    match client.session().peer(PeerId::self_user()).await {
        Ok(Some(PeerInfo::User { id, .. })) => Some(TgUserId(id)),
        _ => None,
    }
}
