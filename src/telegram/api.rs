//! The typed face of the Telegram client for the bridge core: a
//! [`TelegramApi`] wraps the grammers client, and its methods (here and in
//! [`super::media`] and [`super::chats`]) take and return the bridge's own
//! types and ids. No grammers or TL type appears in their signatures, so
//! the core that calls them never names one. It holds no state of its own
//! and decides nothing about Matrix.

use grammers_client::Client;

use super::CallError;

/// A handle on the logged-in account's Telegram client. Cheap to clone (the
/// client is reference-counted); all calls go through the same connection
/// pool as the update stream.
#[derive(Clone)]
pub struct TelegramApi {
    pub(super) client: Client,
}

impl TelegramApi {
    /// The API over a running grammers client.
    pub fn new(client: &Client) -> Self {
        TelegramApi {
            client: client.clone(),
        }
    }

    /// Invokes a raw request without a timeout, as the core's calls always
    /// have (grammers' own retry policy applies).
    pub(super) async fn invoke<R: grammers_tl_types::RemoteCall>(
        &self,
        request: &R,
    ) -> Result<R::Return, CallError> {
        self.client.invoke(request).await.map_err(CallError::from)
    }
}

impl std::fmt::Debug for TelegramApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TelegramApi")
    }
}
