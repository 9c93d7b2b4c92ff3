//! The running service: the startup sequence and graceful shutdown.
//!
//! Order matters: the appservice server listens first (the homeserver's ping
//! calls back into it, and queued transactions can be accepted at once), then
//! the bridge waits for the homeserver for as long as it takes, registers the
//! bot, then at once sets its profile, runs the appservice ping (logging
//! "ready") and checks double puppeting, makes sure the management room
//! exists, and only then starts the Telegram side. A
//! shutdown signal at any point stops accepting new requests, lets requests in
//! flight finish, and returns `Ok`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ruma::api::client::profile::get_profile;
use ruma::{OwnedMxcUri, OwnedUserId};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::core::{Core, CoreError, Identities};
use super::login::{LoginHub, LoginSettings};
use super::persistence::BridgePersistence;
pub use super::relay::ReadyContext;
use crate::matrix::appservice::{self, AppserviceSettings};
use crate::matrix::{ClientSettings, MatrixClient, MatrixError};

/// Everything the service needs, independent of the configuration format.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// Where the appservice server listens.
    pub listen: SocketAddr,
    /// The appservice server's settings (the `hs_token`).
    pub appservice: AppserviceSettings,
    /// The client's settings (homeserver URL, `as_token`, bot user).
    pub client: ClientSettings,
    /// The registration's `id`, for the appservice ping.
    pub appservice_id: String,
    /// The owner, the ghost namespace.
    pub identities: Identities,
    /// The bot's display name.
    pub bot_displayname: Option<String>,
    /// The bot's avatar.
    pub bot_avatar: Option<OwnedMxcUri>,
    /// Logins from Matrix and the web page; `None` leaves only the terminal.
    pub login: Option<LoginSettings>,
    /// The web-login page's routes, served when the web login is enabled.
    /// The page lives outside the core and is handed in by whoever
    /// assembles the service.
    pub web_page: Option<WebPage>,
}

/// Builds the web-login page's routes on the login hub; the flag says
/// whether the page is served over HTTPS (its cookie is then `Secure`).
pub type WebPage = fn(Arc<LoginHub>, bool) -> axum::Router;

/// Why the service stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The appservice port could not be opened.
    #[error("could not listen on {address}: {source}")]
    Listen {
        /// The configured address.
        address: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The appservice server failed.
    #[error("appservice server failed: {0}")]
    Server(#[source] std::io::Error),
    /// The bridge bot could not be registered.
    #[error("could not register the bridge bot {user_id}: {source}{hint}")]
    RegisterBot {
        /// The bot's user id.
        user_id: OwnedUserId,
        /// What the homeserver said.
        #[source]
        source: MatrixError,
        /// What to check, when the error is recognisable.
        hint: &'static str,
    },
    /// A startup step of the core failed.
    #[error("startup failed: {0}")]
    Startup(#[from] CoreError),
}

/// Starts the Telegram side once the Matrix side is ready; the task it
/// returns must end when the context's stop signal turns `true`.
pub type AfterReady = Box<dyn FnOnce(ReadyContext) -> JoinHandle<()> + Send>;

/// How long the Telegram side may take to stop (saving its update state).
const TELEGRAM_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the bot's own sync may take to stop. It stops at its next await
/// point; this only bounds a stuck request.
const BOT_SYNC_STOP_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs the bridge until `shutdown` resolves. Returns `Ok` after a graceful
/// shutdown, also when the signal came while still starting.
pub async fn serve<P: BridgePersistence>(
    settings: ServiceSettings,
    store: Arc<P>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServiceError> {
    serve_with(settings, store, None, shutdown).await
}

/// Like [`serve`], and starts `after_ready` (the Telegram side) once the
/// bridge is ready, stopping it before the appservice server.
pub async fn serve_with<P: BridgePersistence>(
    settings: ServiceSettings,
    store: Arc<P>,
    after_ready: Option<AfterReady>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServiceError> {
    let listener =
        TcpListener::bind(settings.listen)
            .await
            .map_err(|source| ServiceError::Listen {
                address: settings.listen,
                source,
            })?;
    let client = MatrixClient::new(settings.client.clone()).map_err(CoreError::from)?;
    let core = Arc::new(Core::new(
        client.clone(),
        store,
        settings.identities.clone(),
    ));
    let mut router = appservice::router(settings.appservice.clone(), core.clone());
    if let Some(login) = settings.login.clone() {
        let secure_cookie = login
            .web_base_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https:"));
        let hub = LoginHub::start(login, client.clone(), settings.identities.owner.clone());
        match settings.web_page {
            Some(page) if hub.web_enabled() => {
                router = router.merge(page(hub.clone(), secure_cookie))
            }
            Some(_) => {}
            None if hub.web_enabled() => {
                warn!("the web login is enabled but no web-login page was handed to the service");
            }
            None => {}
        }
        core.set_login_hub(hub);
    }
    let (stop, stopped) = watch::channel(false);
    let server = tokio::spawn(appservice::serve(listener, router, wait_for_stop(stopped)));
    info!(listen = %settings.listen, "appservice listening");

    tokio::pin!(shutdown);
    let started = tokio::select! {
        result = start(&settings, &client, &core) => Some(result),
        () = &mut shutdown => None,
    };
    let outcome = match started {
        Some(Ok(())) => {
            // Without a Telegram login this is the end of start-up; with
            // one, the Telegram side releases again after its chat sync.
            crate::code_pages::release_startup_code();
            let (stop_side, side_stopped) = watch::channel(false);
            let bot_sync = tokio::spawn(super::bot_sync::run(core.clone(), stop_side.subscribe()));
            let side = after_ready.map(|start| {
                let (requests_tx, requests) = tokio::sync::mpsc::unbounded_channel();
                core.set_telegram_requests(requests_tx);
                start(ReadyContext {
                    client: client.clone(),
                    management_room: core.management_room(),
                    double_puppet: core.double_puppet(),
                    stop: side_stopped,
                    requests,
                    logins: core.login_events(),
                })
            });
            shutdown.await;
            if let Some(side) = side {
                // Sending fails only if the side already ended.
                let _ = stop_side.send(true);
                match tokio::time::timeout(TELEGRAM_STOP_TIMEOUT, side).await {
                    Ok(Ok(())) => {}
                    Ok(Err(join_error)) => warn!(%join_error, "the Telegram side ended abnormally"),
                    Err(_) => warn!("the Telegram side did not stop in time"),
                }
            }
            // Sending fails only if every receiver is gone, which is stopping too.
            let _ = stop_side.send(true);
            let abort = bot_sync.abort_handle();
            match tokio::time::timeout(BOT_SYNC_STOP_TIMEOUT, bot_sync).await {
                Ok(Ok(())) => {}
                Ok(Err(join_error)) => warn!(%join_error, "the bot's sync ended abnormally"),
                Err(_) => {
                    debug!("the bot's sync did not stop in time");
                    abort.abort();
                }
            }
            Ok(())
        }
        Some(Err(error)) => Err(error),
        None => Ok(()),
    };
    info!("shutting down: finishing requests in flight");
    // Sending fails only if the server already stopped, which is fine.
    let _ = stop.send(true);
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return Err(ServiceError::Server(error)),
        Err(join_error) => warn!(%join_error, "appservice server task ended abnormally"),
    }
    info!("stopped");
    outcome
}

async fn wait_for_stop(mut stopped: watch::Receiver<bool>) {
    // An error means the sender is gone, which also means stop.
    let _ = stopped.wait_for(|stop| *stop).await;
}

async fn start<P: BridgePersistence>(
    settings: &ServiceSettings,
    client: &MatrixClient,
    core: &Core<P>,
) -> Result<(), ServiceError> {
    let versions = client.wait_for_homeserver().await;
    info!(versions = ?versions.versions, "homeserver reachable");
    register_bot(client).await?;
    // Independent round trips: together they cost the start-up one of them.
    let owner = &settings.identities.owner;
    let ((), (), double_puppet) = tokio::join!(
        set_bot_profile(client, settings),
        ping(client, &settings.appservice_id),
        can_double_puppet(client, owner),
    );
    if double_puppet {
        info!(%owner, "double puppeting available: the owner's own messages are sent as the owner");
    } else {
        info!(%owner, "double puppeting not available (the owner is not in the registration's namespaces); the owner's Telegram ghost is used instead");
    }
    core.set_double_puppet(double_puppet);
    match core.prune_transaction_log() {
        Ok(0) => {}
        Ok(pruned) => info!(pruned, "forgot old appservice transaction ids"),
        Err(error) => return Err(CoreError::from(error).into()),
    }
    match core.ensure_management_room().await {
        Ok(_) => {}
        // Without a management room the bridge still works (commands with
        // `!tg` in any shared room); the next start tries again.
        Err(CoreError::Matrix(error)) => {
            warn!(%error, "could not set up the management room; invite the bot to a direct chat to get one")
        }
        Err(error) => return Err(error.into()),
    }
    core.set_ready();
    Ok(())
}

/// Whether the owner can be double-puppeted; a failed check means no.
async fn can_double_puppet(client: &MatrixClient, owner: &OwnedUserId) -> bool {
    match client.can_act_as(owner).await {
        Ok(allowed) => allowed,
        Err(error) => {
            warn!(%error, "could not check double puppeting; acting as a ghost instead");
            false
        }
    }
}

async fn register_bot(client: &MatrixClient) -> Result<(), ServiceError> {
    let bot = client.bot_user_id().to_owned();
    client
        .ensure_registered(&bot)
        .await
        .map_err(|source| ServiceError::RegisterBot {
            hint: registration_hint(&source),
            user_id: bot,
            source,
        })
}

fn registration_hint(error: &MatrixError) -> &'static str {
    match error.errcode() {
        Some("M_UNKNOWN_TOKEN" | "M_MISSING_TOKEN") => {
            " (the homeserver does not know the as_token: is the registration file loaded by the homeserver, and was it restarted?)"
        }
        Some("M_EXCLUSIVE" | "M_INVALID_USERNAME") => {
            " (the bot's localpart must match the registration's sender_localpart)"
        }
        _ => "",
    }
}

/// Sets the bot's display name and avatar when they differ from what the
/// homeserver has: every change is a member event in every room the bot is in.
async fn set_bot_profile(client: &MatrixClient, settings: &ServiceSettings) {
    let bot = client.bot_user_id().to_owned();
    let current = client
        .as_bot()
        .send(get_profile::v3::Request::new(bot.clone()))
        .await
        .ok();
    let field = |name: &str| {
        current
            .as_ref()
            .and_then(|p| p.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    if let Some(name) = &settings.bot_displayname {
        if field("displayname").as_deref() != Some(name.as_str()) {
            if let Err(error) = client.set_displayname(&bot, name).await {
                warn!(%error, "could not set the bot's display name");
            }
        }
    }
    if let Some(avatar) = &settings.bot_avatar {
        if field("avatar_url").as_deref() != Some(avatar.as_str()) {
            if let Err(error) = client.set_avatar_url(&bot, avatar.clone()).await {
                warn!(%error, "could not set the bot's avatar");
            }
        }
    }
}

/// The appservice ping proves the homeserver can reach us with our tokens.
/// A homeserver without the endpoint (before spec v1.7) still works.
async fn ping(client: &MatrixClient, appservice_id: &str) {
    match client.ping_appservice(appservice_id).await {
        Ok((homeserver, round_trip)) => info!(
            homeserver_to_bridge_ms = millis(homeserver),
            round_trip_ms = millis(round_trip),
            "ready"
        ),
        Err(MatrixError::Build { .. }) => {
            info!("ready (the homeserver does not offer the appservice ping)")
        }
        Err(error) => warn!(
            %error,
            "ready, but the appservice ping failed: check the registration's url and hs_token"
        ),
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => info!("SIGTERM received"),
                    _ = tokio::signal::ctrl_c() => info!("SIGINT received"),
                }
            }
            Err(error) => {
                warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the bridge");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
