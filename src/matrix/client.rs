//! Calls to the homeserver's client-server API as the application service.
//!
//! Requests are ruma request types turned into HTTP and sent with one shared
//! reqwest client, authenticated with the `as_token`. The bridge acts as the
//! bot (no `user_id=`), as a ghost or as the owner (double puppet) by identity
//! assertion (`user_id=`). Failures are retried according to a
//! [`RetryPolicy`]; sends keep the same transaction id across retries so the
//! homeserver deduplicates them.
//!
//! This module decides nothing about what to send: that is the bridge core's job.

use std::any::type_name;
use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::http::{self, HeaderMap, StatusCode};
use ruma::api::auth_scheme::{AuthScheme, SendAccessToken};
use ruma::api::client::account::register::{self, LoginType};
use ruma::api::client::account::whoami;
use ruma::api::client::appservice::request_ping;
use ruma::api::client::discovery::get_supported_versions;
use ruma::api::client::profile::{set_avatar_url, set_display_name};
use ruma::api::client::session::login;
use ruma::api::client::uiaa::{MatrixUserIdentifier, UserIdentifier};
use ruma::api::path_builder::{PathBuilder, SinglePath, VersionHistory};
use ruma::api::{
    AppserviceUserIdentity, IncomingResponseExt, MatrixVersion, OutgoingRequest,
    OutgoingRequestAppserviceExt, SupportedVersions,
};
use ruma::{OwnedMxcUri, OwnedUserId, UserId};
use tracing::{debug, warn};

use super::error::MatrixError;
use super::retry::RetryPolicy;

/// What the client needs to know; built by the core from the configuration.
#[derive(Clone)]
pub struct ClientSettings {
    /// Base URL of the homeserver's client API, e.g. `http://127.0.0.1:8008`.
    pub homeserver_url: url::Url,
    /// The registration's `as_token` (secret: never logged).
    pub as_token: String,
    /// The bridge bot, i.e. the registration's `sender_localpart` user.
    pub bot_user_id: OwnedUserId,
    /// Retry limits for ordinary calls.
    pub retry: RetryPolicy,
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings")
            .field("homeserver_url", &self.homeserver_url.as_str())
            .field("as_token", &"<redacted>")
            .field("bot_user_id", &self.bot_user_id)
            .field("retry", &self.retry)
            .finish()
    }
}

/// A cheaply cloneable handle for client-API calls as the application service.
#[derive(Clone)]
pub struct MatrixClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// Without a trailing slash: ruma appends paths starting with `/`.
    base_url: String,
    as_token: String,
    bot_user_id: OwnedUserId,
    retry: RetryPolicy,
    /// Spec versions the homeserver announced; chooses endpoint paths.
    versions: RwLock<SupportedVersions>,
    /// Users known to exist, so "register on first use" costs one request per
    /// user and process, not one per message.
    registered: Mutex<HashSet<OwnedUserId>>,
    /// The access token of the bot's own device (secret: never logged), for
    /// the endpoints some homeservers refuse to a bare `as_token` (`/sync`,
    /// `/messages` on Conduit). `None` until [`MatrixClient::set_bot_device_token`].
    bot_device_token: RwLock<Option<String>>,
}

/// The client acting as one particular Matrix user.
#[derive(Clone, Copy)]
pub struct Acting<'a> {
    client: &'a MatrixClient,
    /// `None` acts as the bot (the registration's sender) without `user_id=`.
    user_id: Option<&'a UserId>,
    /// Authenticate with the bot's device token instead of the `as_token`.
    bot_device: bool,
}

/// The bot's one device, for the endpoints that need a device.
const BOT_DEVICE_ID: &str = "TGBRIDGE";

/// How long [`MatrixClient::wait_for_homeserver`] waits between probes at most.
const MAX_STARTUP_PROBE_DELAY: Duration = Duration::from_secs(10);

/// What [`MatrixClient::wait_for_homeserver`] is waiting for, judged from
/// the last failed probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StartupWait {
    /// The homeserver does not answer (yet), or answers with an error.
    Reachable,
    /// The homeserver answers but refuses the `as_token`, as Conduit does
    /// from its start until the registration is given in its admin room.
    Registration,
}

impl StartupWait {
    fn of(error: &MatrixError) -> StartupWait {
        match error.errcode() {
            Some("M_UNKNOWN_TOKEN") => StartupWait::Registration,
            _ => StartupWait::Reachable,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            StartupWait::Reachable => "homeserver not reachable yet",
            StartupWait::Registration => {
                "the homeserver does not know the as_token yet: waiting for the appservice registration to be loaded (Synapse reads it at start, Conduit takes it through its admin room)"
            }
        }
    }
}

impl MatrixClient {
    /// Creates the client. No request is sent yet.
    pub fn new(settings: ClientSettings) -> Result<Self, MatrixError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("tgbridge/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|source| MatrixError::Network {
                endpoint: "client setup",
                source: source.without_url(),
            })?;
        let base_url = settings
            .homeserver_url
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base_url,
                as_token: settings.as_token,
                bot_user_id: settings.bot_user_id,
                retry: settings.retry,
                versions: RwLock::new(assumed_versions()),
                registered: Mutex::new(HashSet::new()),
                bot_device_token: RwLock::new(None),
            }),
        })
    }

    /// The bridge bot's user id.
    pub fn bot_user_id(&self) -> &UserId {
        &self.inner.bot_user_id
    }

    /// Calls as the bridge bot.
    pub fn as_bot(&self) -> Acting<'_> {
        Acting {
            client: self,
            user_id: None,
            bot_device: false,
        }
    }

    /// Calls as the bridge bot through its own device, for endpoints that
    /// need a device (`/sync`, `/messages` on Conduit). Before a device token
    /// is set this is the same as [`MatrixClient::as_bot`].
    pub fn as_bot_device(&self) -> Acting<'_> {
        Acting {
            client: self,
            user_id: None,
            bot_device: true,
        }
    }

    /// Uses `token` (the bot's device, from a `m.login.application_service`
    /// login) for [`MatrixClient::as_bot_device`] calls from now on.
    pub fn set_bot_device_token(&self, token: String) {
        *self
            .inner
            .bot_device_token
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(token);
    }

    /// Calls as `user_id`: a ghost, or the owner when double puppeting.
    pub fn as_user<'a>(&'a self, user_id: &'a UserId) -> Acting<'a> {
        if user_id == self.bot_user_id() {
            return self.as_bot();
        }
        Acting {
            client: self,
            user_id: Some(user_id),
            bot_device: false,
        }
    }

    /// Waits until the homeserver answers `/_matrix/client/versions`, probing
    /// with backoff for as long as it takes (a homeserver that is still starting
    /// is normal at boot), and remembers the versions it supports.
    pub async fn wait_for_homeserver(&self) -> get_supported_versions::Response {
        let policy = RetryPolicy {
            max_attempts: u32::MAX,
            base_delay: Duration::from_millis(100),
            max_delay: MAX_STARTUP_PROBE_DELAY,
        };
        let mut attempt: u32 = 0;
        let mut last_wait = None;
        loop {
            attempt = attempt.saturating_add(1);
            let request = get_supported_versions::Request::new();
            match self
                .as_bot()
                .send_with(request, RetryPolicy::no_retry())
                .await
            {
                Ok(response) => {
                    let supported = SupportedVersions::from_parts(
                        &response.versions,
                        &response.unstable_features,
                    );
                    *self
                        .inner
                        .versions
                        .write()
                        .unwrap_or_else(PoisonError::into_inner) = with_fallback(supported);
                    return response;
                }
                Err(error) => {
                    let delay = policy.backoff(attempt);
                    let waiting = StartupWait::of(&error);
                    // Log the first failure of each kind and then about
                    // every half minute.
                    if attempt == 1 || attempt % 8 == 0 || last_wait != Some(waiting) {
                        warn!(%error, attempt, "{}, retrying", waiting.describe());
                    } else {
                        debug!(%error, attempt, "{}", waiting.describe());
                    }
                    last_wait = Some(waiting);
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Makes sure the user `@localpart:server` exists, registering it with
    /// `m.login.application_service` if needed. `M_USER_IN_USE` is success.
    pub async fn ensure_registered(&self, user_id: &UserId) -> Result<(), MatrixError> {
        if self.is_known_registered(user_id) {
            return Ok(());
        }
        let mut request = register::v3::Request::new();
        request.username = Some(user_id.localpart().to_owned());
        request.login_type = Some(LoginType::ApplicationService);
        request.inhibit_login = true;
        match self.as_bot().send(request).await {
            Ok(_) => debug!(%user_id, "registered"),
            Err(error) if error.errcode() == Some("M_USER_IN_USE") => {}
            Err(error) => return Err(error),
        }
        self.inner
            .registered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(user_id.to_owned());
        Ok(())
    }

    fn is_known_registered(&self, user_id: &UserId) -> bool {
        self.inner
            .registered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(user_id)
    }

    /// Sets the display name of the bot or a ghost (as that user).
    pub async fn set_displayname(
        &self,
        user_id: &UserId,
        displayname: &str,
    ) -> Result<(), MatrixError> {
        // The per-field endpoint replacing this one is only in v1.16; the old
        // one works on every homeserver, Conduit included.
        #[allow(deprecated)]
        let request =
            set_display_name::v3::Request::new(user_id.to_owned(), Some(displayname.to_owned()));
        self.as_user(user_id).send(request).await.map(drop)
    }

    /// Sets the avatar of the bot or a ghost (as that user).
    pub async fn set_avatar_url(
        &self,
        user_id: &UserId,
        avatar_url: OwnedMxcUri,
    ) -> Result<(), MatrixError> {
        // See `set_displayname` for why the deprecated endpoint is used.
        #[allow(deprecated)]
        let request = set_avatar_url::v3::Request::new(user_id.to_owned(), Some(avatar_url));
        self.as_user(user_id).send(request).await.map(drop)
    }

    /// Asks the homeserver to ping this appservice (`appservice_id` from the
    /// registration) and returns the homeserver's measured duration and our
    /// own round trip.
    pub async fn ping_appservice(
        &self,
        appservice_id: &str,
    ) -> Result<(Duration, Duration), MatrixError> {
        let started = Instant::now();
        let request = request_ping::v1::Request::new(appservice_id.to_owned());
        let response = self.as_bot().send(request).await?;
        Ok((response.duration, started.elapsed()))
    }

    /// A request to `path` on the homeserver, authenticated as the bridge bot,
    /// for the media repository whose streamed bodies ruma's buffered
    /// requests cannot carry. Not retried.
    pub(crate) fn raw_request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.inner
            .http
            .request(method, format!("{}{path}", self.inner.base_url))
            .bearer_auth(&self.inner.as_token)
    }

    /// Logs the bot in as a device of its own with
    /// `m.login.application_service` and returns the device's access token
    /// (a secret). The device id is fixed, so a new login replaces the old
    /// device instead of adding one.
    pub async fn log_in_bot_device(&self) -> Result<String, MatrixError> {
        let identifier = UserIdentifier::Matrix(MatrixUserIdentifier::new(
            self.bot_user_id().localpart().to_owned(),
        ));
        let mut request = login::v3::Request::new(login::v3::LoginInfo::ApplicationService(
            login::v3::ApplicationService::new(identifier),
        ));
        request.device_id = Some(BOT_DEVICE_ID.into());
        request.initial_device_display_name = Some(env!("CARGO_PKG_NAME").to_owned());
        Ok(self.as_bot().send(request).await?.access_token)
    }

    /// Whether the bot's device token (set with
    /// [`MatrixClient::set_bot_device_token`]) is still accepted.
    pub async fn bot_device_works(&self) -> Result<bool, MatrixError> {
        match self
            .as_bot_device()
            .send_with(whoami::v3::Request::new(), RetryPolicy::no_retry())
            .await
        {
            Ok(response) => Ok(response.user_id == self.bot_user_id()),
            Err(error) if error.status() == Some(StatusCode::UNAUTHORIZED) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Like [`MatrixClient::raw_request`], through the bot's own device.
    pub(crate) fn raw_request_as_bot_device(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        let token = self
            .inner
            .bot_device_token
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| self.inner.as_token.clone());
        self.inner
            .http
            .request(method, format!("{}{path}", self.inner.base_url))
            .bearer_auth(token)
    }

    /// Whether the homeserver lets the appservice act as `user_id`, i.e. the
    /// user is in the registration's namespaces and local. Used to detect
    /// whether double puppeting the owner is possible.
    pub async fn can_act_as(&self, user_id: &UserId) -> Result<bool, MatrixError> {
        let request = whoami::v3::Request::new();
        match self.as_user(user_id).send(request).await {
            Ok(response) => Ok(response.user_id == user_id),
            Err(error) if is_identity_refusal(&error) => Ok(false),
            Err(error) => Err(error),
        }
    }
}

impl std::fmt::Debug for MatrixClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatrixClient")
            .field("homeserver", &self.inner.base_url)
            .field("bot_user_id", &self.inner.bot_user_id)
            .finish_non_exhaustive()
    }
}

impl<'a> Acting<'a> {
    /// The user this handle acts as.
    pub fn user_id(&self) -> &UserId {
        self.user_id.unwrap_or(&self.client.inner.bot_user_id)
    }

    /// Sends `request` with the client's retry policy.
    pub async fn send<R>(&self, request: R) -> Result<R::IncomingResponse, MatrixError>
    where
        R: OutgoingRequest + Send,
        R::PathBuilder: PathInput,
        for<'t> R::Authentication: AuthScheme<Input<'t> = SendAccessToken<'t>>,
    {
        self.send_with(request, self.client.inner.retry).await
    }

    /// Sends `request`, retrying according to `policy`. Non-idempotent calls
    /// without a transaction id (e.g. creating a room) should pass
    /// [`RetryPolicy::no_retry`] or a policy the caller has thought about.
    pub async fn send_with<R>(
        &self,
        request: R,
        policy: RetryPolicy,
    ) -> Result<R::IncomingResponse, MatrixError>
    where
        R: OutgoingRequest + Send,
        R::PathBuilder: PathInput,
        for<'t> R::Authentication: AuthScheme<Input<'t> = SendAccessToken<'t>>,
    {
        let endpoint = endpoint_name::<R>();
        let mut attempt: u32 = 0;
        loop {
            attempt = attempt.saturating_add(1);
            let error = match self.attempt(request.clone(), endpoint).await {
                Ok(response) => return Ok(response),
                Err(error) => error,
            };
            match policy.delay(attempt, &error) {
                Some(delay) => {
                    debug!(endpoint, attempt, ?delay, %error, "retrying");
                    tokio::time::sleep(delay).await;
                }
                None if attempt > 1 => {
                    return Err(MatrixError::GaveUp {
                        endpoint,
                        attempts: attempt,
                        last: Box::new(error),
                    })
                }
                None => return Err(error),
            }
        }
    }

    async fn attempt<R>(
        &self,
        request: R,
        endpoint: &'static str,
    ) -> Result<R::IncomingResponse, MatrixError>
    where
        R: OutgoingRequest,
        R::PathBuilder: PathInput,
        for<'t> R::Authentication: AuthScheme<Input<'t> = SendAccessToken<'t>>,
    {
        let http_request = self.build(request, endpoint)?;
        let request = reqwest::Request::try_from(http_request).map_err(|e| MatrixError::Build {
            endpoint,
            message: e.without_url().to_string(),
        })?;
        let network = |source: reqwest::Error| MatrixError::Network {
            endpoint,
            source: source.without_url(),
        };
        let response = self
            .client
            .inner
            .http
            .execute(request)
            .await
            .map_err(network)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(network)?;
        if status.as_u16() >= 400 {
            return Err(MatrixError::from_response(
                endpoint,
                status,
                retry_after_header(&headers),
                &body,
            ));
        }
        let mut http_response = http::Response::new(&body[..]);
        *http_response.status_mut() = status;
        *http_response.headers_mut() = headers;
        R::IncomingResponse::try_from_http_response(http_response).map_err(|e| {
            MatrixError::Response {
                endpoint,
                message: e.to_string(),
            }
        })
    }

    fn build<R>(
        &self,
        request: R,
        endpoint: &'static str,
    ) -> Result<http::Request<Vec<u8>>, MatrixError>
    where
        R: OutgoingRequest,
        R::PathBuilder: PathInput,
        for<'t> R::Authentication: AuthScheme<Input<'t> = SendAccessToken<'t>>,
    {
        let inner = &self.client.inner;
        let identity = match self.user_id {
            Some(user_id) => AppserviceUserIdentity::new(user_id),
            None => AppserviceUserIdentity::default(),
        };
        let versions = inner
            .versions
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let device_token = inner
            .bot_device_token
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let token = match (self.bot_device, device_token.as_deref()) {
            (true, Some(token)) => SendAccessToken::Always(token),
            _ => SendAccessToken::Appservice(&inner.as_token),
        };
        request
            .try_into_http_request_with_identity::<Vec<u8>>(
                &inner.base_url,
                token,
                identity,
                R::PathBuilder::input(&versions),
            )
            .map_err(|e| MatrixError::Build {
                endpoint,
                message: e.to_string(),
            })
    }
}

/// Supplies the path-selection input of a ruma endpoint: the homeserver's
/// supported versions for versioned endpoints, nothing for fixed paths.
pub trait PathInput: PathBuilder {
    /// The input for [`PathBuilder::select_path`].
    fn input(versions: &SupportedVersions) -> Self::Input<'_>;
}

impl PathInput for VersionHistory {
    fn input(versions: &SupportedVersions) -> Cow<'_, SupportedVersions> {
        Cow::Borrowed(versions)
    }
}

impl PathInput for SinglePath {
    fn input(_versions: &SupportedVersions) {}
}

/// Versions assumed before `/versions` was read: v1.1 paths (`/v3/`) exist on
/// every homeserver that can run an appservice today.
fn assumed_versions() -> SupportedVersions {
    SupportedVersions {
        versions: [MatrixVersion::V1_1].into_iter().collect(),
        features: Default::default(),
    }
}

/// A homeserver announcing only versions ruma does not know (newer ones) still
/// speaks the v1.1 paths.
fn with_fallback(mut supported: SupportedVersions) -> SupportedVersions {
    if supported.versions.is_empty() {
        supported.versions = assumed_versions().versions;
    }
    supported
}

/// A short name for log lines and errors: `ruma_client_api::account::register::v3::Request`
/// becomes `account::register`.
fn endpoint_name<R>() -> &'static str {
    let full: &'static str = type_name::<R>();
    let without_crate = full.split_once("::").map_or(full, |(_, rest)| rest);
    let end = without_crate
        .find("::v")
        .or_else(|| without_crate.rfind("::"))
        .unwrap_or(without_crate.len());
    &without_crate[..end]
}

/// `Retry-After` in seconds, used when the body has no `retry_after_ms`.
fn retry_after_header(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Whether an error means "you may not act as this user" rather than a failure.
fn is_identity_refusal(error: &MatrixError) -> bool {
    matches!(
        error.status(),
        Some(StatusCode::FORBIDDEN) | Some(StatusCode::UNAUTHORIZED)
    ) || matches!(error.errcode(), Some("M_EXCLUSIVE" | "M_FORBIDDEN"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::fake_homeserver::FakeHomeserver;

    #[test]
    fn endpoint_names_are_short() {
        assert_eq!(
            endpoint_name::<register::v3::Request>(),
            "account::register"
        );
        assert_eq!(
            endpoint_name::<request_ping::v1::Request>(),
            "appservice::request_ping"
        );
    }

    #[test]
    fn retry_after_header_is_read_in_seconds() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after_header(&headers), Some(Duration::from_secs(3)));
        headers.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after_header(&headers), None);
    }

    async fn start_fake() -> (MatrixClient, Arc<FakeHomeserver>) {
        let (fake, port) = FakeHomeserver::start().await;
        (client_for(port), fake)
    }

    fn client_for(port: u16) -> MatrixClient {
        MatrixClient::new(ClientSettings {
            homeserver_url: format!("http://127.0.0.1:{port}/").parse().unwrap(),
            as_token: "as-secret".into(),
            bot_user_id: "@telegrambot:localhost".try_into().unwrap(),
            retry: RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_secs(2),
            },
        })
        .unwrap()
    }

    const WHOAMI: &str = "/_matrix/client/v3/account/whoami";

    #[tokio::test]
    async fn server_errors_are_retried_until_success() {
        let (client, fake) = start_fake().await;
        fake.answer(
            WHOAMI,
            &[
                (502, "<html>bad gateway</html>"),
                (500, r#"{"errcode":"M_UNKNOWN","error":"oops"}"#),
                (200, r#"{"user_id":"@telegrambot:localhost"}"#),
            ],
        );
        let response = client
            .as_bot()
            .send(whoami::v3::Request::new())
            .await
            .unwrap();
        assert_eq!(response.user_id, "@telegrambot:localhost");
        assert_eq!(fake.calls(WHOAMI), 3);
        let seen = fake.seen();
        assert!(seen
            .iter()
            .all(|s| s.authorization.as_deref() == Some("Bearer as-secret")));
        assert!(
            seen.iter().all(|s| s.query.is_none()),
            "the bot sends no user_id"
        );
    }

    #[tokio::test]
    async fn rate_limits_wait_for_retry_after_ms() {
        let (client, fake) = start_fake().await;
        fake.answer(
            WHOAMI,
            &[
                (
                    429,
                    r#"{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":300}"#,
                ),
                (200, r#"{"user_id":"@telegrambot:localhost"}"#),
            ],
        );
        let started = Instant::now();
        client
            .as_bot()
            .send(whoami::v3::Request::new())
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(fake.calls(WHOAMI), 2);
    }

    #[tokio::test]
    async fn client_errors_are_final_and_clear() {
        let (client, fake) = start_fake().await;
        fake.answer(
            WHOAMI,
            &[(403, r#"{"errcode":"M_FORBIDDEN","error":"nope"}"#)],
        );
        let error = client
            .as_bot()
            .send(whoami::v3::Request::new())
            .await
            .unwrap_err();
        assert_eq!(fake.calls(WHOAMI), 1);
        assert_eq!(error.errcode(), Some("M_FORBIDDEN"));
        let text = error.to_string();
        assert!(text.contains("403") && text.contains("account::whoami") && text.contains("nope"));
        assert!(!text.contains("as-secret"));
    }

    #[tokio::test]
    async fn persistent_server_errors_give_up_after_the_policy_limit() {
        let (client, fake) = start_fake().await;
        fake.answer(WHOAMI, &[(503, r#"{"errcode":"M_UNKNOWN"}"#)]);
        let error = client
            .as_bot()
            .send(whoami::v3::Request::new())
            .await
            .unwrap_err();
        assert!(
            matches!(error, MatrixError::GaveUp { attempts: 4, .. }),
            "{error}"
        );
        assert_eq!(fake.calls(WHOAMI), 4);
    }

    #[tokio::test]
    async fn ghosts_are_asserted_with_user_id_and_registered_once() {
        let (client, fake) = start_fake().await;
        const REGISTER: &str = "/_matrix/client/v3/register";
        fake.answer(
            REGISTER,
            &[(400, r#"{"errcode":"M_USER_IN_USE","error":"taken"}"#)],
        );
        let ghost: OwnedUserId = "@telegram_42:localhost".try_into().unwrap();
        client.ensure_registered(&ghost).await.unwrap();
        client.ensure_registered(&ghost).await.unwrap();
        assert_eq!(
            fake.calls(REGISTER),
            1,
            "known users are not registered again"
        );

        fake.answer(WHOAMI, &[(200, r#"{"user_id":"@telegram_42:localhost"}"#)]);
        assert!(client.can_act_as(&ghost).await.unwrap());
        let seen = fake.seen();
        let query = &seen.iter().find(|s| s.path == WHOAMI).unwrap().query;
        assert_eq!(query.as_deref(), Some("user_id=%40telegram_42%3Alocalhost"));
    }

    #[tokio::test]
    async fn registration_failures_other_than_in_use_are_errors() {
        let (client, fake) = start_fake().await;
        fake.answer(
            "/_matrix/client/v3/register",
            &[(400, r#"{"errcode":"M_EXCLUSIVE","error":"not yours"}"#)],
        );
        let user: OwnedUserId = "@someone:localhost".try_into().unwrap();
        let error = client.ensure_registered(&user).await.unwrap_err();
        assert_eq!(error.errcode(), Some("M_EXCLUSIVE"));
    }

    #[tokio::test]
    async fn refused_identity_assertion_means_no_double_puppet() {
        let (client, fake) = start_fake().await;
        fake.answer(
            WHOAMI,
            &[(403, r#"{"errcode":"M_FORBIDDEN","error":"Application service cannot masquerade as this user"}"#)],
        );
        let owner: OwnedUserId = "@owner:localhost".try_into().unwrap();
        assert!(!client.can_act_as(&owner).await.unwrap());
    }

    #[tokio::test]
    async fn waits_while_the_homeserver_refuses_the_as_token() {
        // Conduit, started before its operator registers the appservice in
        // its admin room, answers every request with the as_token so.
        let (client, fake) = start_fake().await;
        let refused = r#"{"errcode":"M_UNKNOWN_TOKEN","error":"Unknown access token."}"#;
        fake.answer(
            "/_matrix/client/versions",
            &[
                (401, refused),
                (401, refused),
                (200, r#"{"versions":["v1.12"],"unstable_features":{}}"#),
            ],
        );
        let versions = tokio::time::timeout(Duration::from_secs(10), client.wait_for_homeserver())
            .await
            .expect("the homeserver is used once it knows the appservice");
        assert!(versions.versions.contains(&"v1.12".to_owned()));
        assert_eq!(fake.calls("/_matrix/client/versions"), 3);
    }

    #[test]
    fn a_refused_as_token_is_told_apart_from_an_absent_homeserver() {
        let refused = MatrixError::Api {
            status: StatusCode::UNAUTHORIZED,
            errcode: "M_UNKNOWN_TOKEN".into(),
            message: "Unknown access token.".into(),
            endpoint: "discovery::get_supported_versions",
            retry_after: None,
        };
        assert_eq!(StartupWait::of(&refused), StartupWait::Registration);
        assert!(StartupWait::Registration
            .describe()
            .contains("registration"));
        let unavailable = MatrixError::Api {
            status: StatusCode::BAD_GATEWAY,
            errcode: "M_UNKNOWN".into(),
            message: String::new(),
            endpoint: "discovery::get_supported_versions",
            retry_after: None,
        };
        assert_eq!(StartupWait::of(&unavailable), StartupWait::Reachable);
        assert_eq!(
            StartupWait::Reachable.describe(),
            "homeserver not reachable yet"
        );
    }

    #[tokio::test]
    async fn waits_for_a_homeserver_that_starts_later() {
        // Reserve a port, release it, and start the homeserver there later.
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let client = client_for(port);
        let fake = Arc::new(FakeHomeserver::default());
        fake.answer(
            "/_matrix/client/versions",
            &[(
                200,
                r#"{"versions":["r0.6.1","v1.1","v1.7"],"unstable_features":{}}"#,
            )],
        );
        let late = fake.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(400)).await;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .unwrap();
            late.serve(listener).await;
        });
        let started = Instant::now();
        let versions = tokio::time::timeout(Duration::from_secs(10), client.wait_for_homeserver())
            .await
            .expect("the homeserver is found once it listens");
        assert!(started.elapsed() >= Duration::from_millis(400));
        assert!(versions.versions.contains(&"v1.7".to_owned()));

        fake.answer(
            "/_matrix/client/v1/appservice/tgbridge/ping",
            &[(200, r#"{"duration_ms":12}"#)],
        );
        let (homeserver, _round_trip) = client.ping_appservice("tgbridge").await.unwrap();
        assert_eq!(homeserver, Duration::from_millis(12));
    }

    #[test]
    fn settings_debug_hides_the_token() {
        let settings = ClientSettings {
            homeserver_url: "http://127.0.0.1:1".parse().unwrap(),
            as_token: "very-secret".into(),
            bot_user_id: "@bot:localhost".try_into().unwrap(),
            retry: RetryPolicy::default(),
        };
        assert!(!format!("{settings:?}").contains("very-secret"));
    }
}
