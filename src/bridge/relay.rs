//! The running Telegram side of the bridge: started by the service once the
//! Matrix side is ready. It starts the Telegram runtime from the stored
//! session, syncs the chat list into portals, and hands every Telegram event
//! to a per-chat queue, so events of one chat are applied in order and a slow
//! chat never holds up another (nor the update stream).
//!
//! It reports to the owner in the management room (sync progress, long flood
//! waits, a session Telegram ended) and never touches appservice
//! transactions, which stay with the core.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use grammers_client::message::Message;
use grammers_session::types::{PeerId, PeerKind, PeerRef};
use ruma::api::client::message::send_message_event;
use ruma::events::room::message::RoomMessageEventContent;
use ruma::{OwnedRoomId, OwnedUserId};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::ghost::{self, Puppets};
use super::login::TelegramLoggedIn;
use super::portal::{ChatInfo, OwnerRole, PortalError, PortalRooms, PortalSettings};
use super::space;
use super::sync::{self, SyncScope, SyncSettings};
use crate::config::BridgeConfig;
use crate::convert::{telegram_to_matrix, NoMentions};
use crate::matrix::{txn, MatrixClient, MatrixError};
use crate::store::Store;
use crate::store::{MessageMapping, MessageScope, Portal, PortalKind};
use crate::telegram::{ClientOptions, RuntimeError, TelegramRuntime, TgEvent};

/// Flood waits longer than this are announced in the management room.
const ANNOUNCED_FLOOD_WAIT: Duration = Duration::from_secs(60);

/// How long to wait before trying to start again when Telegram is unreachable.
const RESTART_PAUSE: Duration = Duration::from_secs(30);

/// Syncs creating more rooms than this report their progress.
const PROGRESS_EVERY: u32 = 10;

/// Everything the Telegram side needs besides the store and the client.
#[derive(Debug, Clone)]
pub struct TelegramSideSettings {
    /// `telegram.api_id`.
    pub api_id: i32,
    /// Device information and flood-wait threshold.
    pub client: ClientOptions,
    /// Bridge options (ghost names, limits, filters).
    pub bridge: BridgeConfig,
    /// The owner.
    pub owner: OwnedUserId,
}

/// What the bot commands ask of the Telegram side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TelegramRequest {
    /// `sync [all]`.
    Sync {
        /// Lift the per-sync limit.
        all: bool,
    },
    /// `pm <target>`, answered in `reply_in`.
    Pm {
        /// `@username`, `+phone` or a numeric id.
        target: String,
        /// Where the command was sent.
        reply_in: OwnedRoomId,
    },
    /// `id` in `room_id`.
    Id {
        /// Where the command was sent.
        room_id: OwnedRoomId,
    },
    /// The owner invited a Telegram user's ghost to a room.
    GhostInvited {
        /// The room.
        room_id: OwnedRoomId,
        /// The ghost.
        ghost: OwnedUserId,
    },
    /// The owner renamed a room (a portal, if it is one).
    Rename {
        /// The room.
        room_id: OwnedRoomId,
        /// The new name.
        name: String,
    },
}

/// What the service hands over once the Matrix side is ready.
pub struct ReadyContext {
    /// The homeserver client.
    pub client: MatrixClient,
    /// The management room, if there is one.
    pub management_room: Option<OwnedRoomId>,
    /// Whether the owner can be double-puppeted.
    pub double_puppet: bool,
    /// Becomes `true` when the bridge shuts down.
    pub stop: watch::Receiver<bool>,
    /// Requests from bot commands.
    pub requests: mpsc::UnboundedReceiver<TelegramRequest>,
    /// Completed logins from Matrix or the web page; `None` when only the
    /// terminal login is enabled (which needs a restart to take effect).
    pub logins: Option<broadcast::Receiver<TelegramLoggedIn>>,
}

/// Starts the Telegram side in the background; the task ends on `stop`.
pub fn spawn(
    settings: TelegramSideSettings,
    store: Arc<Store>,
    ready: ReadyContext,
) -> JoinHandle<()> {
    tokio::spawn(run(settings, store, ready))
}

async fn run(settings: TelegramSideSettings, store: Arc<Store>, mut ready: ReadyContext) {
    let mut side = Side::new(settings, store, &ready);
    side.learn_room_version().await;
    let side = Arc::new(side);
    loop {
        match side.store.has_telegram_login() {
            Ok(true) => {}
            Ok(false) => {
                info!("not logged into Telegram; the Telegram side waits for a login");
                if wait_for_login(&mut ready.logins, &mut ready.stop).await {
                    continue;
                }
                return;
            }
            Err(error) => {
                warn!(%error, "could not read the Telegram login");
                return;
            }
        }
        let session = Arc::new(side.store.telegram_session());
        match TelegramRuntime::start(session, side.settings.api_id, &side.settings.client).await {
            Ok((runtime, events)) => {
                side.serve(runtime, events, &mut ready.stop, &mut ready.requests)
                    .await;
                return;
            }
            Err(RuntimeError::SessionEnded(reason)) => {
                // No runtime was served yet, so a new login can start one.
                side.session_ended(&reason).await;
                continue;
            }
            Err(error) => {
                warn!(%error, retry_in_s = RESTART_PAUSE.as_secs(), "Telegram is not reachable");
                tokio::select! {
                    () = tokio::time::sleep(RESTART_PAUSE) => {}
                    _ = ready.stop.wait_for(|stop| *stop) => return,
                }
            }
        }
    }
}

/// Waits until a login from Matrix or the web page completes; `false` when
/// the bridge stops first.
async fn wait_for_login(
    logins: &mut Option<broadcast::Receiver<TelegramLoggedIn>>,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    loop {
        let Some(receiver) = logins.as_mut() else {
            let _ = stop.wait_for(|stop| *stop).await;
            return false;
        };
        tokio::select! {
            login = receiver.recv() => match login {
                // A lagged receiver still means a login completed.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => return true,
                Err(broadcast::error::RecvError::Closed) => *logins = None,
            },
            _ = stop.wait_for(|stop| *stop) => return false,
        }
    }
}

/// What woke the event loop.
enum Next {
    Event(TgEvent),
    Request(TelegramRequest),
}

/// State shared by the sync and the per-chat workers.
struct Side {
    settings: TelegramSideSettings,
    store: Arc<Store>,
    client: MatrixClient,
    portal_settings: PortalSettings,
    management_room: Option<OwnedRoomId>,
    self_id: std::sync::atomic::AtomicI64,
    /// (room, user) pairs known to be joined this run.
    joined: std::sync::Mutex<std::collections::HashSet<(OwnedRoomId, OwnedUserId)>>,
    /// The Telegram client once the runtime runs, for lookups by workers.
    telegram: std::sync::OnceLock<grammers_client::Client>,
}

impl Side {
    fn new(settings: TelegramSideSettings, store: Arc<Store>, ready: &ReadyContext) -> Self {
        let portal_settings = PortalSettings {
            owner: settings.owner.clone(),
            federate: settings.bridge.federate_rooms,
            double_puppet: ready.double_puppet,
            server_name: ready.client.bot_user_id().server_name().to_owned(),
            creator_outranks_levels: false,
        };
        Self {
            settings,
            store,
            client: ready.client.clone(),
            portal_settings,
            management_room: ready.management_room.clone(),
            self_id: std::sync::atomic::AtomicI64::new(0),
            telegram: std::sync::OnceLock::new(),
            joined: std::sync::Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// Reads the homeserver's default room version, which decides how the
    /// bot's power is expressed in new portals.
    async fn learn_room_version(&mut self) {
        let request = ruma::api::client::discovery::get_capabilities::v3::Request::new();
        match self.client.as_bot().send(request).await {
            Ok(response) => {
                let version = response.capabilities.room_versions.default.to_string();
                self.portal_settings.creator_outranks_levels =
                    super::portal::creator_outranks_levels(&version);
                debug!(%version, "default room version");
            }
            Err(error) => warn!(%error, "could not read the homeserver's capabilities"),
        }
    }

    fn puppets(&self) -> Puppets<'_> {
        Puppets {
            client: &self.client,
            store: &self.store,
            config: &self.settings.bridge,
        }
    }

    fn rooms(&self) -> PortalRooms<'_> {
        PortalRooms {
            client: &self.client,
            store: &self.store,
            settings: &self.portal_settings,
        }
    }

    fn sync_settings(&self) -> SyncSettings {
        let bridge = &self.settings.bridge;
        SyncSettings {
            max_new_portals: bridge.max_new_portals_per_sync,
            max_member_count: bridge.max_member_count,
            sync_archived: bridge.sync_archived,
            filter: bridge.filter.clone(),
        }
    }

    async fn serve(
        self: &Arc<Self>,
        runtime: TelegramRuntime,
        mut events: mpsc::UnboundedReceiver<TgEvent>,
        stop: &mut watch::Receiver<bool>,
        requests: &mut mpsc::UnboundedReceiver<TelegramRequest>,
    ) {
        self.self_id
            .store(runtime.self_id(), std::sync::atomic::Ordering::Release);
        // Set once per process: the side serves one runtime.
        let _ = self.telegram.set(runtime.client().clone());
        let runtime = Arc::new(runtime);
        if runtime.me().is_bot() {
            info!("logged in as a bot: Telegram does not let bots list their chats, so portals appear when the bot is added to a group or receives a message");
        } else {
            tokio::select! {
                () = self.sync(&runtime, SyncScope::Limited) => {}
                _ = stop.wait_for(|stop| *stop) => {}
            }
        }
        let mut queues = ChatQueues::default();
        loop {
            let next = tokio::select! {
                event = events.recv() => event.map(Next::Event),
                Some(request) = requests.recv() => Some(Next::Request(request)),
                _ = stop.wait_for(|stop| *stop) => None,
            };
            let event = match next {
                Some(Next::Event(event)) => Some(event),
                Some(Next::Request(request)) => {
                    // Events keep queueing meanwhile; the stream is never blocked.
                    self.on_request(&runtime, request).await;
                    continue;
                }
                None => None,
            };
            let Some(event) = event else { break };
            match event.chat() {
                Some(chat) => {
                    let side = Arc::clone(self);
                    queues.push(chat, event, move |event| {
                        let side = Arc::clone(&side);
                        async move { side.on_chat_event(event).await }
                    });
                }
                None => self.on_account_event(event).await,
            }
        }
        queues.close().await;
        match Arc::try_unwrap(runtime) {
            Ok(runtime) => runtime.shutdown().await,
            Err(_) => warn!("the Telegram client is still in use at shutdown"),
        }
    }

    async fn on_request(&self, runtime: &TelegramRuntime, request: TelegramRequest) {
        match request {
            TelegramRequest::Sync { .. } if runtime.me().is_bot() => {
                self.notify("Telegram does not let bots list their chats: portals appear when the bot is added to a group or receives a message.").await
            }
            TelegramRequest::Sync { all } => {
                let scope = if all { SyncScope::All } else { SyncScope::Limited };
                self.sync(runtime, scope).await;
            }
            TelegramRequest::Pm { target, reply_in } => {
                let text = match self.pm(runtime, &target).await {
                    Ok(text) => text,
                    Err(error) => format!("Could not open a private chat with {target}: {error}"),
                };
                self.notify_in(&reply_in, &text).await;
            }
            TelegramRequest::Id { room_id } => {
                let text = match self.store.portals().by_room(&room_id) {
                    Ok(Some(portal)) => format!(
                        "This room bridges the Telegram chat {}.",
                        portal.peer.bot_api_dialog_id().unwrap_or_default()
                    ),
                    _ => "This room is not a portal to a Telegram chat.".to_owned(),
                };
                self.notify_in(&room_id, &text).await;
            }
            TelegramRequest::GhostInvited { room_id, ghost } => {
                if let Err(error) = self.adopt_invited_room(&room_id, &ghost).await {
                    warn!(%room_id, %error, "could not turn the room into a private portal");
                }
            }
            TelegramRequest::Rename { room_id, name } => {
                if let Err(error) = self.rename_on_telegram(runtime, &room_id, &name).await {
                    warn!(%room_id, %error, "could not rename the Telegram chat");
                }
            }
        }
    }

    /// Opens (or finds) the private portal with `target`; returns the answer.
    async fn pm(&self, runtime: &TelegramRuntime, target: &str) -> Result<String, PortalError> {
        let peer = if let Some(username) = target.strip_prefix('@') {
            runtime
                .client()
                .resolve_username(username)
                .await
                .map_err(|e| PortalError::Build(e.to_string()))?
        } else if let Ok(id) = target.parse::<i64>() {
            match PeerId::user(id) {
                Some(peer) => self.resolve(self.cached_ref(peer).await).await,
                None => None,
            }
        } else {
            return Ok(format!(
                "`{target}` is neither an @username nor a numeric Telegram user id (phone numbers work for your contacts through their @username)."
            ));
        };
        let Some(peer @ grammers_client::peer::Peer::User(_)) = peer else {
            return Ok(format!("No Telegram user {target} was found."));
        };
        let Some(info) = sync::chat_info(&peer) else {
            return Ok(format!("No Telegram user {target} was found."));
        };
        let space = self
            .store
            .kv_get(space::SPACE_KEY)?
            .and_then(|s| OwnedRoomId::try_from(s).ok());
        let (mut portal, created) = self.rooms().ensure(&info, space.as_deref()).await?;
        if created {
            if let Some(space) = &space {
                space::add_child(&self.client, space, &portal.room_id, &self.portal_settings)
                    .await?;
                portal.in_space = true;
                self.store.portals().upsert(&portal)?;
            }
            let name = ghost::peer_displayname(&self.settings.bridge, &peer);
            let ghost = self
                .puppets()
                .ensure(info.peer.bare_id().unwrap_or_default(), Some(&name))
                .await?;
            self.ensure_joined(&portal.room_id, &ghost).await;
            self.backfill(&portal).await;
            Ok(format!(
                "Created the private chat with {}: {}",
                info.title, portal.room_id
            ))
        } else {
            Ok(format!(
                "Your private chat with {} is {}",
                info.title, portal.room_id
            ))
        }
    }

    /// The owner invited a ghost to a room of their own: the ghost joins,
    /// brings the bot along, and the room becomes the private portal with
    /// that user, unless one exists already.
    async fn adopt_invited_room(
        &self,
        room_id: &ruma::RoomId,
        ghost: &ruma::UserId,
    ) -> Result<(), PortalError> {
        let prefix = &self.settings.bridge.ghost_prefix;
        let Some(telegram_id) = ghost
            .localpart()
            .strip_prefix(prefix.as_str())
            .and_then(|id| id.parse::<i64>().ok())
        else {
            return Ok(());
        };
        let Some(user) = PeerId::user(telegram_id) else {
            return Ok(());
        };
        if self.store.portals().by_room(room_id)?.is_some() {
            return Ok(());
        }
        let existing = self.store.portals().by_peer(user)?;
        if let Some(existing) = existing {
            self.notify_in_as(
                room_id,
                ghost,
                &format!(
                    "A private chat with this Telegram user is already bridged: {}",
                    existing.room_id
                ),
            )
            .await;
            return Ok(());
        }
        let peer = self.resolve(self.cached_ref(user).await).await;
        let Some(info) = peer.as_ref().and_then(sync::chat_info) else {
            warn!(
                telegram_id,
                "invited ghost of a Telegram user the bridge cannot reach"
            );
            return Ok(());
        };
        let puppets = self.puppets();
        let name = peer
            .as_ref()
            .map(|p| ghost::peer_displayname(&self.settings.bridge, p));
        let ghost = puppets.ensure(telegram_id, name.as_deref()).await?;
        self.client
            .as_user(&ghost)
            .send(
                ruma::api::client::membership::join_room_by_id::v3::Request::new(
                    room_id.to_owned(),
                ),
            )
            .await?;
        // The ghost brings the bot, which manages the portal from now on.
        let bot = self.client.bot_user_id().to_owned();
        let invite = ruma::api::client::membership::invite_user::v3::Request::new(
            room_id.to_owned(),
            ruma::api::client::membership::invite_user::v3::InvitationRecipient::UserId(
                ruma::api::client::membership::invite_user::v3::InviteUserId::new(bot),
            ),
        );
        if let Err(error) = self.client.as_user(&ghost).send(invite).await {
            debug!(%error, "the bot was not invited to the adopted room");
        }
        let portal = Portal {
            peer: info.peer,
            kind: PortalKind::Private,
            room_id: room_id.to_owned(),
            title: Some(info.title.clone()),
            avatar_photo_id: None,
            avatar_mxc: None,
            encrypted: false,
            in_space: false,
        };
        self.store.portals().upsert(&portal)?;
        info!(%room_id, "room adopted as a private portal");
        self.backfill(&portal).await;
        Ok(())
    }

    /// Renames the Telegram chat after the owner renamed its portal; tells
    /// the owner when Telegram refuses (no right to change the title).
    async fn rename_on_telegram(
        &self,
        runtime: &TelegramRuntime,
        room_id: &ruma::RoomId,
        name: &str,
    ) -> Result<(), PortalError> {
        let existing = self.store.portals().by_room(room_id)?;
        let Some(mut portal) = existing else {
            return Ok(());
        };
        if portal.title.as_deref() == Some(name) || portal.kind == PortalKind::Private {
            // Our own echo of a Telegram title, or a chat without a title.
            return Ok(());
        }
        let channel = self.cached_ref(portal.peer).await;
        match edit_title(runtime, portal.peer, channel, name).await {
            Ok(()) => {
                portal.title = Some(name.to_owned());
                self.store.portals().upsert(&portal)?;
                info!(%room_id, "Telegram chat renamed after the room");
            }
            Err(error) => {
                let why = match &error {
                    grammers_mtsender::InvocationError::Rpc(rpc) => rpc.name.clone(),
                    other => other.to_string(),
                };
                self.notify(&format!(
                    "Could not rename the Telegram chat \"{}\" to \"{name}\": Telegram said {why} (you may lack the right to change its info there).",
                    portal.title.as_deref().unwrap_or_default()
                ))
                .await;
            }
        }
        Ok(())
    }

    /// Runs one chat sync with progress notices.
    async fn sync(&self, runtime: &TelegramRuntime, scope: SyncScope) {
        let space = match space::ensure_space(&self.client, &self.store, &self.portal_settings)
            .await
        {
            Ok(space) => Some(space),
            Err(error) => {
                warn!(%error, "could not set up the Telegram space; portals are created without it");
                None
            }
        };
        let mut announcements = Vec::new();
        let rooms = self.rooms();
        let puppets = self.puppets();
        let context = sync::SyncContext {
            client: runtime.client(),
            rooms: &rooms,
            puppets: &puppets,
            space: space.as_deref(),
            self_id: runtime.self_id(),
        };
        let result = sync::sync_chats(
            &context,
            &self.sync_settings(),
            scope,
            |created, planned| {
                if planned > PROGRESS_EVERY && created % PROGRESS_EVERY == 0 && created < planned {
                    announcements.push(format!("Created {created} of {planned} rooms…"));
                }
            },
        )
        .await;
        for text in announcements {
            self.notify(&text).await;
        }
        if let Ok(report) = &result {
            for chat in &report.new_portals {
                let portal = self.store.portals().by_peer(*chat).ok().flatten();
                if let Some(portal) = portal {
                    self.backfill(&portal).await;
                }
            }
        }
        match result {
            Ok(report) if report.deferred > 0 => {
                self.notify(&format!(
                    "Chat sync created {} rooms; {} more chats get their room when a message arrives, or send `sync all`.",
                    report.created, report.deferred
                ))
                .await
            }
            Ok(report) if report.created > 0 => {
                self.notify(&format!("Chat sync created {} rooms.", report.created)).await
            }
            Ok(report) => {
                self.notify(&format!(
                    "Chat sync finished: {} rooms up to date, no new rooms needed.",
                    report.updated
                ))
                .await
            }
            Err(error) => {
                warn!(%error, "chat sync failed");
                self.notify(&format!("Chat sync failed: {error}")).await
            }
        }
    }

    async fn on_account_event(&self, event: TgEvent) {
        match event {
            TgEvent::FloodWait(wait) if wait >= ANNOUNCED_FLOOD_WAIT => {
                self.notify(&format!(
                    "Telegram asked the bridge to slow down for {} seconds; messages are delayed until then.",
                    wait.as_secs()
                ))
                .await
            }
            TgEvent::SessionEnded { reason } => self.session_ended(&reason).await,
            other => debug!(?other, "account event not bridged"),
        }
    }

    async fn session_ended(&self, reason: &str) {
        warn!(%reason, "Telegram ended the session; portals are kept");
        // The key is worthless now; forgetting it makes the next start wait
        // for a login instead of trying it again.
        if let Err(error) = self.store.clear_telegram_login() {
            warn!(%error, "could not forget the ended Telegram session");
        }
        self.notify(&format!(
            "Telegram ended the bridge's session ({reason}). Portal rooms are kept; run `tgbridge login` to log in again."
        ))
        .await;
    }

    async fn on_chat_event(&self, event: TgEvent) {
        let result = match event {
            TgEvent::NewMessage(message) => self.on_message(&message).await,
            TgEvent::TitleChanged { chat, title } => self.on_title(chat, title).await,
            TgEvent::Migrated { from, to } => self.on_migrated(from, to).await,
            TgEvent::ChatChanged(chat) => {
                debug!(
                    chat = chat.bot_api_dialog_id().unwrap_or_default(),
                    "chat changed"
                );
                Ok(())
            }
            other => {
                debug!(?other, "chat event not bridged yet");
                Ok(())
            }
        };
        if let Err(error) = result {
            warn!(%error, "could not bridge a Telegram event");
        }
    }

    /// Renames the portal after the Telegram title.
    async fn on_title(&self, chat: PeerId, title: String) -> Result<(), PortalError> {
        let Some(portal) = self.store.portals().by_peer(chat)? else {
            return Ok(());
        };
        let info = ChatInfo {
            peer: chat,
            kind: portal.kind,
            title,
            about: None,
            owner_role: OwnerRole::Member,
            member_count: None,
        };
        self.rooms().ensure(&info, None).await?;
        Ok(())
    }

    /// A basic group became a supergroup: its room now bridges the
    /// supergroup (the room is reused, so history and members stay in one
    /// place), unless the supergroup already has a room of its own.
    async fn on_migrated(&self, from: PeerId, to: PeerId) -> Result<(), PortalError> {
        let old = self.store.portals().by_peer(from)?;
        let Some(mut portal) = old else {
            return Ok(());
        };
        if self.store.portals().by_peer(to)?.is_some() {
            return Ok(());
        }
        self.store.portals().delete(from)?;
        portal.peer = to;
        portal.kind = PortalKind::Supergroup;
        self.store.portals().upsert(&portal)?;
        info!(room_id = %portal.room_id, "portal follows the group's upgrade to a supergroup");
        self.notify_in(
            &portal.room_id,
            "This group was upgraded to a supergroup on Telegram; this room now bridges the supergroup.",
        )
        .await;
        Ok(())
    }

    /// The portal of a chat without one, created on its first message: a
    /// private chat (marked as a direct chat for the owner), or a group or
    /// channel the filters admit (e.g. one a past sync deferred).
    async fn portal_on_message(&self, message: &Message) -> Result<Option<Portal>, PortalError> {
        let peer = match message.peer() {
            Some(peer) => Some(peer.clone()),
            None => self.resolve(message.peer_ref().await.ok().flatten()).await,
        };
        // A private room is named after the other user, as Telegram shows it.
        let Some(mut info) = peer.as_ref().and_then(sync::chat_info) else {
            return Ok(None);
        };
        if info.kind != PortalKind::Private {
            if sync::admit(&info, false, &self.sync_settings()) != sync::Admission::Bridge {
                return Ok(None);
            }
            if let (Some(client), Some(peer)) = (self.telegram.get(), peer.as_ref()) {
                info.about = sync::fetch_about(client, peer).await.ok().flatten();
            }
        }
        let space = self
            .store
            .kv_get(space::SPACE_KEY)?
            .and_then(|s| OwnedRoomId::try_from(s).ok());
        let (mut portal, _) = self.rooms().ensure(&info, space.as_deref()).await?;
        if let Some(space) = space {
            space::add_child(&self.client, &space, &portal.room_id, &self.portal_settings).await?;
            portal.in_space = true;
            self.store.portals().upsert(&portal)?;
        }
        if !matches!(info.kind, PortalKind::Private | PortalKind::Channel) {
            if let (Some(client), Some(chat)) =
                (self.telegram.get(), self.cached_ref(info.peer).await)
            {
                let self_id = self.self_id.load(std::sync::atomic::Ordering::Acquire);
                if let Err(error) = self
                    .puppets()
                    .sync_members(client, chat, &portal.room_id, self_id)
                    .await
                {
                    warn!(%error, "could not sync the members of a new portal");
                }
            }
        }
        Ok(Some(portal))
    }

    /// Bridges a text message into its portal as the sender's ghost.
    async fn on_message(&self, message: &Message) -> Result<(), PortalError> {
        if message.action().is_some() {
            return Ok(());
        }
        let chat = message.peer_id();
        let existing = self.store.portals().by_peer(chat)?;
        let portal = match existing {
            Some(portal) => portal,
            None => match self.portal_on_message(message).await? {
                Some(portal) => {
                    // History first (it includes this message), then live.
                    self.backfill(&portal).await;
                    return Ok(());
                }
                None => {
                    debug!("message in a chat without a portal");
                    return Ok(());
                }
            },
        };
        self.bridge_message(&portal, message).await
    }

    /// Fills a new portal with the chat's last messages (as configured per
    /// chat type), oldest first; messages already bridged are skipped, so
    /// live messages arriving meanwhile are never duplicated.
    async fn backfill(&self, portal: &Portal) {
        let history = &self.settings.bridge.initial_history;
        let limit = match portal.kind {
            PortalKind::Private => history.private,
            PortalKind::Group | PortalKind::Supergroup => history.group,
            PortalKind::Channel => history.channel,
        };
        if limit == 0 {
            return;
        }
        let (Some(client), Some(chat)) = (self.telegram.get(), self.cached_ref(portal.peer).await)
        else {
            return;
        };
        let mut messages = Vec::new();
        let mut iter = client.iter_messages(chat).limit(limit as usize);
        loop {
            match iter.next().await {
                Ok(Some(message)) => messages.push(message),
                Ok(None) => break,
                Err(error) => {
                    warn!(%error, "could not read the chat's history");
                    break;
                }
            }
        }
        let count = messages.len();
        for message in messages.iter().rev().filter(|m| m.action().is_none()) {
            if let Err(error) = self.bridge_message(portal, message).await {
                warn!(%error, "could not bridge a message of the chat's history");
            }
        }
        info!(room_id = %portal.room_id, count, "initial history bridged");
    }

    /// Bridges one message into `portal` unless it already was.
    async fn bridge_message(&self, portal: &Portal, message: &Message) -> Result<(), PortalError> {
        if message.action().is_some() {
            return Ok(());
        }
        let chat = portal.peer;
        let self_id = self.self_id.load(std::sync::atomic::Ordering::Acquire);
        let scope = MessageScope::of_chat(chat, self_id);
        if !self
            .store
            .messages()
            .by_telegram(scope, message.id())?
            .is_empty()
        {
            return Ok(());
        }
        let sender = self.sender_of(message).await?;
        self.ensure_joined(&portal.room_id, &sender).await;
        let text = telegram_to_matrix(
            message.text(),
            message
                .fmt_entities()
                .map(Vec::as_slice)
                .unwrap_or_default(),
            &NoMentions,
        );
        let content = match text.html {
            Some(html) => RoomMessageEventContent::text_html(text.body, html),
            None => RoomMessageEventContent::text_plain(text.body),
        };
        let scope_key = scope_key(scope);
        let txn_id = txn::derived("tg", &[&scope_key, &message.id().to_string()]);
        let mut request =
            send_message_event::v3::Request::new(portal.room_id.clone(), txn_id, &content)
                .map_err(|e| PortalError::Build(e.to_string()))?;
        request.timestamp = original_timestamp(message);
        let event_id = self.client.as_user(&sender).send(request).await?.event_id;
        self.store.messages().insert(&MessageMapping {
            scope,
            tg_msg_id: message.id(),
            part: 0,
            chat,
            room_id: portal.room_id.clone(),
            event_id,
            sent_by_bridge: false,
        })?;
        Ok(())
    }

    /// Who a message is sent as in Matrix: the sender's ghost (set up on
    /// first use), the channel's own ghost for a broadcast post, or the
    /// owner for their own messages when double puppeting.
    async fn sender_of(&self, message: &Message) -> Result<OwnedUserId, PortalError> {
        let sender_peer = message.sender_id().unwrap_or(message.peer_id());
        let telegram_id = sender_peer.bare_id().unwrap_or_default();
        let own = message.outgoing()
            || telegram_id == self.self_id.load(std::sync::atomic::Ordering::Acquire);
        if own && self.portal_settings.double_puppet {
            return Ok(self.settings.owner.clone());
        }
        let puppets = self.puppets();
        let sender = match message.sender() {
            Some(peer) => Some(peer.clone()),
            // Not in the update's peer map: look it up once, while the
            // ghost has no name yet.
            None if !puppets.has_name(telegram_id) => self.resolve_sender(message).await,
            None => None,
        };
        let name = sender.map(|peer| ghost::peer_displayname(&self.settings.bridge, &peer));
        puppets.ensure(telegram_id, name.as_deref()).await
    }

    async fn resolve_sender(&self, message: &Message) -> Option<grammers_client::peer::Peer> {
        self.resolve(message.sender_ref().await.ok().flatten())
            .await
    }

    /// Makes `user` a member of `room` once per run (each later message
    /// would otherwise cost an invite and a join).
    async fn ensure_joined(&self, room: &ruma::RoomId, user: &ruma::UserId) {
        let key = (room.to_owned(), user.to_owned());
        if self
            .joined
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&key)
        {
            return;
        }
        match self.puppets().join(room, user).await {
            Ok(()) => {
                self.joined
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(key);
            }
            Err(error) => warn!(room_id = %room, %error, "the sender could not join the portal"),
        }
    }

    /// The session's cached reference (with access hash) of `peer`.
    async fn cached_ref(&self, peer: PeerId) -> Option<PeerRef> {
        use grammers_session::Session as _;
        let info = self.store.telegram_session().peer(peer).await.ok()??;
        Some(PeerRef {
            id: peer,
            auth: info.auth()?,
        })
    }

    /// Looks a peer up on Telegram (full user or chat).
    async fn resolve(&self, peer: Option<PeerRef>) -> Option<grammers_client::peer::Peer> {
        let client = self.telegram.get()?;
        match client.resolve_peer(peer?).await {
            Ok(peer) => Some(peer),
            Err(error) => {
                debug!(%error, "could not look up a peer");
                None
            }
        }
    }

    /// Sends a notice to the management room, if there is one.
    async fn notify(&self, text: &str) {
        let Some(room_id) = &self.management_room else {
            info!(text, "no management room for this notice");
            return;
        };
        self.notify_in(room_id, text).await;
    }

    /// Sends a notice as the bot to `room_id`.
    async fn notify_in(&self, room_id: &ruma::RoomId, text: &str) {
        self.notify_in_as(room_id, self.client.bot_user_id(), text)
            .await;
    }

    /// Sends a notice as `sender` (the bot or a ghost) to `room_id`.
    async fn notify_in_as(&self, room_id: &ruma::RoomId, sender: &ruma::UserId, text: &str) {
        let room_id = room_id.to_owned();
        let content = RoomMessageEventContent::notice_plain(text);
        let txn_id = txn::derived("tgside", &[&rand::random::<u64>().to_string()]);
        let request = match send_message_event::v3::Request::new(room_id.clone(), txn_id, &content)
        {
            Ok(request) => request,
            Err(error) => return warn!(%error, "could not build a notice"),
        };
        if let Err(error) = self.client.as_user(sender).send(request).await {
            let error: MatrixError = error;
            warn!(%error, "could not send a notice to the management room");
        }
    }
}

/// Sets a group's or channel's title on Telegram.
/// `channel` is the cached reference of a channel chat (its access hash).
async fn edit_title(
    runtime: &TelegramRuntime,
    chat: PeerId,
    channel: Option<PeerRef>,
    title: &str,
) -> Result<(), grammers_mtsender::InvocationError> {
    use grammers_tl_types as tl;
    let client = runtime.client();
    match (chat.kind(), chat.bare_id()) {
        (PeerKind::Chat, Some(chat_id)) => {
            client
                .invoke(&tl::functions::messages::EditChatTitle {
                    chat_id,
                    title: title.to_owned(),
                })
                .await?;
        }
        (PeerKind::Channel, Some(_)) => {
            let Some(channel) = channel else {
                return Err(grammers_mtsender::InvocationError::Rpc(
                    grammers_mtsender::RpcError {
                        code: 400,
                        name: "CHANNEL_INVALID".into(),
                        value: None,
                        caused_by: None,
                    },
                ));
            };
            client
                .invoke(&tl::functions::channels::EditTitle {
                    channel: tl::enums::InputChannel::from(&channel),
                    title: title.to_owned(),
                })
                .await?;
        }
        _ => {}
    }
    Ok(())
}

/// The message's Telegram date for the appservice `ts` parameter, so
/// backfilled history keeps its original times.
fn original_timestamp(message: &Message) -> Option<ruma::MilliSecondsSinceUnixEpoch> {
    let millis = u64::try_from(message.date().as_millisecond()).ok()?;
    ruma::UInt::new(millis).map(ruma::MilliSecondsSinceUnixEpoch)
}

/// The stable text form of a message scope for transaction ids.
fn scope_key(scope: MessageScope) -> String {
    match scope {
        MessageScope::Account(id) => format!("u{id}"),
        MessageScope::Channel(id) => format!("c{id}"),
    }
}

/// One worker task per chat, each draining its own unbounded queue in order.
#[derive(Default)]
struct ChatQueues {
    queues: HashMap<PeerId, (mpsc::UnboundedSender<TgEvent>, JoinHandle<()>)>,
}

impl ChatQueues {
    /// Queues `event` for `chat`, starting the chat's worker on first use.
    fn push<F, Fut>(&mut self, chat: PeerId, event: TgEvent, handle: F)
    where
        F: Fn(TgEvent) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let (queue, _) = self.queues.entry(chat).or_insert_with(|| {
            let (tx, mut rx) = mpsc::unbounded_channel::<TgEvent>();
            let worker = tokio::spawn(async move {
                while let Some(event) = rx.recv().await {
                    handle(event).await;
                }
            });
            (tx, worker)
        });
        if queue.send(event).is_err() {
            warn!("a chat worker stopped; an event was dropped");
        }
    }

    /// Lets every worker finish what is queued, then stops them.
    async fn close(self) {
        for (_, (queue, worker)) in self.queues {
            drop(queue);
            if let Err(error) = worker.await {
                warn!(%error, "a chat worker ended abnormally");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_keys_never_collide() {
        assert_eq!(scope_key(MessageScope::Account(5)), "u5");
        assert_eq!(scope_key(MessageScope::Channel(5)), "c5");
    }

    #[tokio::test]
    async fn chat_queues_keep_per_chat_order() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut queues = ChatQueues::default();
        let chat = PeerId::chat(1).unwrap();
        for n in 0..20u64 {
            let seen = Arc::clone(&seen);
            queues.push(
                chat,
                TgEvent::FloodWait(Duration::from_secs(n)),
                move |event| {
                    let seen = Arc::clone(&seen);
                    async move {
                        if let TgEvent::FloodWait(d) = event {
                            tokio::task::yield_now().await;
                            seen.lock().unwrap().push(d.as_secs());
                        }
                    }
                },
            );
        }
        queues.close().await;
        assert_eq!(*seen.lock().unwrap(), (0..20).collect::<Vec<_>>());
    }
}
