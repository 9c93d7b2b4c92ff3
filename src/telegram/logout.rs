//! Ending the stored Telegram login, shared by the terminal and the
//! management room: `auth.logOut` at Telegram, then the session removed from
//! the store and its deleted pages scrubbed. The local session is removed
//! whatever Telegram answered, so a logout works even when Telegram cannot be
//! reached. What to tell the user is left to the callers; portals, ghosts and
//! the message map are never touched here.

use std::sync::Arc;
use std::time::Duration;

use super::client::{CallError, ClientOptions, TelegramClient};
use crate::store::{Store, StoreError};
use grammers_tl_types as tl;

/// How long to wait for Telegram before removing the session locally anyway.
pub const LOGOUT_TIMEOUT: Duration = Duration::from_secs(15);

/// What Telegram said to the logout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteLogout {
    /// Telegram ended the session.
    LoggedOut,
    /// The session had already been ended (e.g. from another device).
    AlreadyEnded,
    /// Telegram could not be reached; the session may still be listed under
    /// "Devices" in the official app.
    Unreachable(String),
    /// Telegram refused with this error.
    Refused(String),
}

impl RemoteLogout {
    /// One sentence for the user.
    pub fn describe(&self) -> String {
        match self {
            RemoteLogout::LoggedOut => "Logged out at Telegram.".to_owned(),
            RemoteLogout::AlreadyEnded => {
                "The session had already been ended at Telegram.".to_owned()
            }
            RemoteLogout::Unreachable(reason) => format!(
                "Could not reach Telegram ({reason}): the session may still be listed in the \
                 official app under Settings → Devices; end it there."
            ),
            RemoteLogout::Refused(name) => format!(
                "Telegram refused the logout ({name}): the session may still be listed in the \
                 official app under Settings → Devices; end it there."
            ),
        }
    }
}

/// How ending the stored login went, once the session is gone from the store.
#[derive(Debug)]
pub struct StoredLogout {
    /// What Telegram said to the logout.
    pub remote: RemoteLogout,
    /// Set when the session was removed but the database's free pages could
    /// not be scrubbed, so old copies of the auth key may remain in the file.
    pub scrub_failed: Option<StoreError>,
}

/// Logs the stored session out at Telegram, then removes it from `store` and
/// scrubs the freed pages. Fails only if the session could not be removed;
/// a failed scrub is reported in [`StoredLogout::scrub_failed`].
pub async fn end_stored_login(
    store: &Store,
    api_id: i32,
    options: &ClientOptions,
) -> Result<StoredLogout, StoreError> {
    let client = TelegramClient::start(Arc::new(store.telegram_session()), api_id, options);
    // `log_out` stops the client before the session is cleared, so nothing
    // can write an auth key back afterwards.
    let remote = log_out(client).await;
    store.clear_telegram_login()?;
    Ok(StoredLogout {
        remote,
        scrub_failed: store.scrub_deleted_data().err(),
    })
}

/// Logs the session out at Telegram and stops the client, so nothing writes
/// to the session afterwards.
pub async fn log_out(tg: TelegramClient) -> RemoteLogout {
    let answer =
        tokio::time::timeout(LOGOUT_TIMEOUT, tg.call(&tl::functions::auth::LogOut {})).await;
    tg.shutdown().await;
    match answer {
        Err(_) => RemoteLogout::Unreachable(format!(
            "no answer within {} seconds",
            LOGOUT_TIMEOUT.as_secs()
        )),
        Ok(Ok(_)) => RemoteLogout::LoggedOut,
        Ok(Err(err)) => outcome_of(&err),
    }
}

/// The outcome for a failed `auth.logOut`.
fn outcome_of(err: &CallError) -> RemoteLogout {
    match err.rpc() {
        Some(rpc) if rpc.code == 401 => RemoteLogout::AlreadyEnded,
        Some(rpc) => RemoteLogout::Refused(rpc.name.clone()),
        None if err.is_network() => RemoteLogout::Unreachable(err.to_string()),
        None => RemoteLogout::Refused(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grammers_mtsender::{InvocationError, RpcError};

    fn rpc(code: i32, name: &str) -> CallError {
        CallError::Invocation(InvocationError::Rpc(RpcError {
            code,
            name: name.to_owned(),
            value: None,
            caused_by: None,
        }))
    }

    #[test]
    fn unauthorized_means_already_ended() {
        assert_eq!(
            outcome_of(&rpc(401, "AUTH_KEY_UNREGISTERED")),
            RemoteLogout::AlreadyEnded
        );
    }

    #[test]
    fn network_failures_warn_about_the_devices_list() {
        let err = CallError::Invocation(InvocationError::Io(
            std::io::ErrorKind::ConnectionRefused.into(),
        ));
        let outcome = outcome_of(&err);
        assert!(matches!(outcome, RemoteLogout::Unreachable(_)));
        assert!(outcome.describe().contains("Settings → Devices"));
    }

    #[test]
    fn other_errors_are_named() {
        assert_eq!(
            outcome_of(&rpc(500, "INTERNAL")),
            RemoteLogout::Refused("INTERNAL".to_owned())
        );
    }
}
