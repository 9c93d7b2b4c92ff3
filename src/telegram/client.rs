//! The grammers client on top of the bridge's own session storage: builds the
//! sender pool with the device information Telegram shows in its "Devices"
//! list, runs the pool's I/O task, and offers time-limited calls that follow
//! datacenter migrations. It owns no login logic and never reads the session's
//! secrets itself.

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use grammers_client::Client;
use grammers_mtsender::{
    AutoSleep, ConnectionParams, InvocationError, SenderPool, SenderPoolHandle,
};
use grammers_session::storages::ErasedSession;
use grammers_session::updates::UpdatesLike;
use grammers_session::Session;
use grammers_tl_types as tl;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long one call may take before Telegram counts as unreachable. A
/// connection to a blackholed address otherwise hangs for minutes.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What the account's "Devices" list shows for this bridge (`initConnection`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Device model, `tgbridge` by default so the session is recognisable.
    pub device_model: String,
    /// Operating system version, e.g. `Linux x86_64`.
    pub system_version: String,
    /// Application version, the crate version by default.
    pub app_version: String,
    /// ISO 639-1 language code for the system and the app.
    pub lang_code: String,
}

impl DeviceInfo {
    /// The device as configured under `telegram:` (defaults filled in there).
    pub fn from_config(telegram: &crate::config::TelegramConfig) -> Self {
        Self {
            device_model: telegram.device_model.clone(),
            system_version: telegram.system_version.clone(),
            app_version: telegram.app_version.clone(),
            lang_code: telegram.lang_code.clone(),
        }
    }
}

impl Default for DeviceInfo {
    fn default() -> Self {
        Self {
            device_model: "tgbridge".to_owned(),
            system_version: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            app_version: env!("CARGO_PKG_VERSION").to_owned(),
            lang_code: "en".to_owned(),
        }
    }
}

/// How the client reacts to flood waits and slow calls.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Shown in Telegram's "Devices" list.
    pub device: DeviceInfo,
    /// Flood waits up to this long are slept through silently; longer ones
    /// are returned to the caller. Interactive logins use zero so the user is
    /// told how long to wait instead of watching a frozen prompt.
    pub flood_sleep_threshold: Duration,
    /// Limit for a single call, see [`DEFAULT_CALL_TIMEOUT`].
    pub call_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            device: DeviceInfo::default(),
            flood_sleep_threshold: Duration::from_secs(60),
            call_timeout: DEFAULT_CALL_TIMEOUT,
        }
    }
}

/// Why a call did not return a result.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// grammers reported an RPC, network or session error.
    #[error(transparent)]
    Invocation(#[from] InvocationError),
    /// No answer within the call timeout.
    #[error("no answer from Telegram within {} seconds", .0.as_secs())]
    TimedOut(Duration),
}

impl CallError {
    /// The RPC error Telegram answered with, if that is what happened.
    pub fn rpc(&self) -> Option<&grammers_mtsender::RpcError> {
        match self {
            CallError::Invocation(InvocationError::Rpc(rpc)) => Some(rpc),
            _ => None,
        }
    }

    /// Whether the failure is about reaching Telegram rather than an answer
    /// from it (connection refused, reset, timed out, pool gone).
    pub fn is_network(&self) -> bool {
        matches!(
            self,
            CallError::TimedOut(_)
                | CallError::Invocation(
                    InvocationError::Io(_)
                        | InvocationError::Transport(_)
                        | InvocationError::Dropped(_)
                        | InvocationError::Authentication(_)
                )
        )
    }
}

/// A running grammers client: the [`Client`], its sender pool task and the raw
/// update channel (left unread unless someone takes it).
pub struct TelegramClient {
    client: Client,
    pool: SenderPoolHandle,
    session: Arc<ErasedSession>,
    updates: Option<mpsc::Receiver<UpdatesLike>>,
    runner: JoinHandle<()>,
    call_timeout: Duration,
}

impl TelegramClient {
    /// Starts a client on `session`. Nothing is sent until the first call;
    /// connections are opened on demand by the pool task.
    ///
    /// Must be called inside a Tokio runtime (the pool task is spawned).
    pub fn start<S>(session: Arc<S>, api_id: i32, options: &ClientOptions) -> Self
    where
        S: Session + Sized,
        S::Error: std::error::Error + Send + Sync + 'static,
    {
        let params = connection_params(options);
        let pool = SenderPool::with_configuration(session, api_id, params);
        let session = Arc::clone(&pool.handle.session);
        let handle = pool.handle.thin.clone();
        let client = Client::new(pool.handle);
        let runner = tokio::spawn(pool.runner.run());
        Self {
            client,
            pool: handle,
            session,
            updates: Some(pool.updates),
            runner,
            call_timeout: options.call_timeout,
        }
    }

    /// The grammers client for high-level calls.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The session the pool reads and writes (type-erased).
    pub fn session(&self) -> &Arc<ErasedSession> {
        &self.session
    }

    /// The raw update channel, for whoever drives the update stream.
    pub fn take_updates(&mut self) -> Option<mpsc::Receiver<UpdatesLike>> {
        self.updates.take()
    }

    /// The raw update channel while nobody has taken it.
    pub fn updates_mut(&mut self) -> Option<&mut mpsc::Receiver<UpdatesLike>> {
        self.updates.as_mut()
    }

    /// Invokes `request` in the home datacenter within the call timeout.
    pub async fn call<R: tl::RemoteCall>(&self, request: &R) -> Result<R::Return, CallError> {
        match tokio::time::timeout(self.call_timeout, self.client.invoke(request)).await {
            Ok(result) => result.map_err(CallError::from),
            Err(_) => Err(CallError::TimedOut(self.call_timeout)),
        }
    }

    /// Invokes `request` in datacenter `dc_id` within the call timeout.
    pub async fn call_in_dc<R: tl::RemoteCall>(
        &self,
        dc_id: i32,
        request: &R,
    ) -> Result<R::Return, CallError> {
        let call = self.client.invoke_in_dc(dc_id, request);
        match tokio::time::timeout(self.call_timeout, call).await {
            Ok(result) => result.map_err(CallError::from),
            Err(_) => Err(CallError::TimedOut(self.call_timeout)),
        }
    }

    /// Like [`Self::call`], but follows one `*_MIGRATE_<dc>` answer (code 303)
    /// by making that datacenter home and repeating the request there, as
    /// Telegram asks for `auth.sendCode` and `auth.importBotAuthorization`
    /// when the account lives in another datacenter.
    pub async fn call_following_migration<R: tl::RemoteCall>(
        &self,
        request: &R,
    ) -> Result<R::Return, CallError> {
        match self.call(request).await {
            Err(err) => match err.rpc().and_then(migration_target) {
                Some(dc_id) => {
                    self.switch_home_dc(dc_id).await?;
                    self.call(request).await
                }
                None => Err(err),
            },
            ok => ok,
        }
    }

    /// Makes `dc_id` the home datacenter and drops the connection to the old
    /// one, which is no longer needed for this account.
    pub async fn switch_home_dc(&self, dc_id: i32) -> Result<(), CallError> {
        let old = self.session.home_dc_id().map_err(InvocationError::from)?;
        if old != dc_id {
            self.session
                .set_home_dc_id(dc_id)
                .await
                .map_err(InvocationError::from)?;
            self.pool.disconnect_from_dc(old);
        }
        Ok(())
    }

    /// Stops the pool task and waits for it, closing every connection.
    pub async fn shutdown(self) {
        self.client.disconnect();
        // A panic inside the pool task has already been reported by Tokio;
        // there is nothing left to clean up after it.
        let _ = self.runner.await;
    }
}

/// The datacenter a 303 `*_MIGRATE_<dc>` error points at.
fn migration_target(rpc: &grammers_mtsender::RpcError) -> Option<i32> {
    if rpc.code == 303 {
        rpc.value.and_then(|dc| i32::try_from(dc).ok())
    } else {
        None
    }
}

/// Updates the connection may hold for the reader. grammers drops what
/// does not fit (its default keeps 100), and a dropped update at the end
/// of a burst leaves a gap nothing reveals until the next update arrives,
/// possibly many minutes later. Telegram pushes a busy group's burst far
/// faster than a small machine records and translates it; the queue only
/// holds memory while a burst is being read.
pub(crate) const UPDATES_QUEUE: usize = 100_000;

/// The sender pool configuration for `options`.
fn connection_params(options: &ClientOptions) -> ConnectionParams {
    let device = &options.device;
    ConnectionParams {
        device_model: device.device_model.clone(),
        system_version: device.system_version.clone(),
        app_version: device.app_version.clone(),
        system_lang_code: device.lang_code.clone(),
        lang_code: device.lang_code.clone(),
        retry_policy: Box::new(AutoSleep {
            tries: NonZeroU32::MIN,
            threshold: options.flood_sleep_threshold,
            io_errors_as_flood_of: Some(Duration::from_secs(1)),
        }),
        updates_channel_capacity: NonZeroUsize::new(UPDATES_QUEUE).unwrap_or(NonZeroUsize::MIN),
        ..ConnectionParams::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_device_is_recognisable() {
        let device = DeviceInfo::default();
        assert_eq!(device.device_model, "tgbridge");
        assert_eq!(device.app_version, env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn connection_params_carry_the_device() {
        let options = ClientOptions {
            device: DeviceInfo {
                device_model: "my bridge".into(),
                system_version: "Pi OS".into(),
                app_version: "9.9".into(),
                lang_code: "de".into(),
            },
            ..ClientOptions::default()
        };
        let params = connection_params(&options);
        assert_eq!(params.device_model, "my bridge");
        assert_eq!(params.system_version, "Pi OS");
        assert_eq!(params.app_version, "9.9");
        assert_eq!(params.lang_code, "de");
        assert_eq!(params.system_lang_code, "de");
        assert_eq!(params.updates_channel_capacity.get(), UPDATES_QUEUE);
    }

    #[test]
    fn only_303_errors_migrate() {
        let rpc = |code, value| grammers_mtsender::RpcError {
            code,
            name: "PHONE_MIGRATE".into(),
            value,
            caused_by: None,
        };
        assert_eq!(migration_target(&rpc(303, Some(4))), Some(4));
        assert_eq!(migration_target(&rpc(303, None)), None);
        assert_eq!(migration_target(&rpc(400, Some(4))), None);
    }
}
