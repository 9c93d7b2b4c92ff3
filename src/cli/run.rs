//! `tgbridge run`: the composition root. It turns the configuration into the
//! service's settings, opens the store, hands the core its edges (the
//! Telegram side, the web-login page) and runs the service on a Tokio
//! runtime until SIGTERM or SIGINT. This is the one place where
//! configuration types meet the core; the core never reaches back here.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use ruma::OwnedMxcUri;

use crate::bridge::core::Identities;
use crate::bridge::login::{FlowFactory, LoginSettings};
use crate::bridge::persistence::{StorePersistence, TelegramEndpoint};
use crate::bridge::relay;
use crate::bridge::service::{self, ServiceSettings};
use crate::config::Config;
use crate::matrix::appservice::{AppserviceSettings, DEFAULT_MAX_BODY_BYTES};
use crate::matrix::{ClientSettings, RetryPolicy};
use crate::store::Store;
use crate::telegram::login::LoginFlow;
use crate::telegram::{ClientOptions, DeviceInfo, TelegramClient};

/// Tokio worker threads. The bridge is I/O-bound and serves one person: two
/// workers keep a slow SQLite write or a login's password hashing from
/// stalling everything else, and more (Tokio's default is one per core) only
/// add stacks and malloc arenas to the idle footprint.
const RUNTIME_WORKERS: usize = 2;

/// Runs the bridge service until a shutdown signal; `Ok` after a clean shutdown.
pub fn run(config: &Config) -> anyhow::Result<()> {
    let mut settings = service_settings(config)?;
    let open_store = || {
        Store::open(&config.database)
            .with_context(|| format!("opening the database {}", config.database.display()))
    };
    let store = open_store()?;
    // Logins run their own clients on a second connection to the same file,
    // as `tgbridge login` does next to a running service.
    settings.login = login_settings(config, Arc::new(open_store()?));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(RUNTIME_WORKERS)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let side_store = Arc::new(store.clone());
    let telegram = telegram_side_settings(config);
    let after_ready: service::AfterReady =
        Box::new(move |ready| relay::spawn(telegram, side_store, ready));
    let persistence = StorePersistence::new(
        store,
        Some(TelegramEndpoint {
            api_id: config.telegram.api_id,
            options: telegram_options(config),
        }),
    );
    runtime
        .block_on(service::serve_with(
            settings,
            Arc::new(persistence),
            Some(after_ready),
            service::shutdown_signal(),
        ))
        .context("the bridge stopped with an error")
}

/// Builds the Telegram side's settings from the configuration.
fn telegram_side_settings(config: &Config) -> relay::TelegramSideSettings {
    relay::TelegramSideSettings {
        api_id: config.telegram.api_id,
        // The running bridge sleeps through short flood waits; longer ones
        // reach the relay, which waits and tells the owner.
        client: telegram_options(config),
        bridge: config.bridge.clone(),
        owner: config.owner.clone(),
    }
}

/// Builds the service's settings from the configuration.
pub fn service_settings(config: &Config) -> anyhow::Result<ServiceSettings> {
    if !config.has_tokens() {
        bail!(
            "appservice.as_token and appservice.hs_token are empty in {}: run `tgbridge generate-registration` and load the registration into the homeserver first",
            config.path().display()
        );
    }
    let appservice = &config.appservice;
    let listen = resolve_listen(&appservice.hostname, appservice.port)?;
    let homeserver_url = url::Url::parse(&config.homeserver.address).with_context(|| {
        format!(
            "homeserver.address {:?} is not a URL",
            config.homeserver.address
        )
    })?;
    let bot_avatar = match appservice.bot.avatar.as_deref() {
        None | Some("") => None,
        Some(avatar) => Some(OwnedMxcUri::from(avatar)),
    };
    let bot_displayname = Some(appservice.bot.displayname.clone()).filter(|n| !n.is_empty());
    Ok(ServiceSettings {
        listen,
        appservice: AppserviceSettings {
            hs_token: appservice.hs_token.clone(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        },
        client: ClientSettings {
            homeserver_url,
            as_token: appservice.as_token.clone(),
            bot_user_id: config.bot_user_id(),
            retry: RetryPolicy::default(),
        },
        appservice_id: appservice.id.clone(),
        identities: Identities {
            owner: config.owner.clone(),
            ghost_localpart_prefix: config.bridge.ghost_prefix.clone(),
        },
        bot_displayname,
        bot_avatar,
        login: None,
        web_page: Some(crate::web::router),
    })
}

/// Logins from Matrix and the web page as configured; `None` when both are
/// off. Each login runs its own client on the stored Telegram session.
fn login_settings(config: &Config, store: Arc<Store>) -> Option<LoginSettings> {
    let web_base_url = config
        .web_login
        .enabled
        .then(|| config.web_login.public_base_url.clone())
        .flatten()
        .map(|url| url.trim_end_matches('/').to_owned());
    if !config.bridge.matrix_login && web_base_url.is_none() {
        return None;
    }
    let api_id = config.telegram.api_id;
    let api_hash = config.telegram.api_hash.clone();
    let options = super::login::client_options(config);
    let new_flow: FlowFactory = Arc::new(move || {
        let client = TelegramClient::start(Arc::new(store.telegram_session()), api_id, &options);
        LoginFlow::new(client, api_id, api_hash.clone())
    });
    Some(LoginSettings {
        matrix_login: config.bridge.matrix_login,
        web_base_url,
        link_ttl: Duration::from_secs(config.web_login.link_lifetime_seconds.max(1)),
        new_flow,
    })
}

/// Client options for calls the service makes to Telegram (the remote logout).
fn telegram_options(config: &Config) -> ClientOptions {
    ClientOptions {
        device: DeviceInfo::from_config(&config.telegram),
        ..ClientOptions::default()
    }
}

fn resolve_listen(hostname: &str, port: u16) -> anyhow::Result<SocketAddr> {
    (hostname, port)
        .to_socket_addrs()
        .with_context(|| format!("appservice.hostname {hostname:?} does not resolve"))?
        .next()
        .with_context(|| format!("appservice.hostname {hostname:?} has no address"))
}
