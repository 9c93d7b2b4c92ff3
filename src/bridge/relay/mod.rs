//! The running Telegram side of the bridge: started by the service once the
//! Matrix side is ready. It starts the Telegram runtime from the stored
//! session, syncs the chat list into portals, and hands every Telegram event
//! to a per-chat queue, so events of one chat are applied in order and a slow
//! chat never holds up another (nor the update stream).
//!
//! It reports to the owner in the management room (sync progress, long flood
//! waits, a session Telegram ended) and never touches appservice
//! transactions, which stay with the core.
//!
//! Submodules split the work by direction: `inbound` (Telegram → Matrix
//! messages), `metadata` (chat metadata both ways) and `chats` (sync and
//! private chats on request). Telegram → Matrix also has `changes` (edits,
//! deletions), `reactions`, `service_messages` (service messages, pins),
//! `receipts` (typing, read receipts), `mentions` and `catchup`
//! (messages missed across a crash), `reaction_refresh` (reactions set
//! while the bridge was away from Telegram). `inbox` keeps every lasting Telegram
//! event from the moment it is read until it is applied, and holds a chat's
//! queue through a homeserver outage.

mod catchup;
mod changes;
mod chats;
mod contain;
mod encrypted;
mod inbound;
mod inbox;
mod manage;
mod members;
mod mentions;
mod metadata;
mod outbound;
mod outbound_media;
mod outbound_plan;
mod reaction_refresh;
mod reactions;
mod receipts;
mod resend;
mod service_messages;
mod topics;

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

use super::ghost::Puppets;
use super::login::TelegramLoggedIn;
use super::portal::{ChatInfo, OwnerRole, PortalError, PortalRooms, PortalSettings};
use super::space;
use super::sync::{SyncScope, SyncSettings};
pub use crate::bridge::requests::TelegramRequest;
use crate::config::BridgeConfig;
use crate::convert::telegram_to_matrix;
use crate::matrix::{txn, MatrixClient, MatrixError};
use crate::store::Store;
use crate::store::{MessageMapping, MessageScope, Portal, PortalKind};
use crate::telegram::peers::TgProfile;
use crate::telegram::{ClientOptions, Received, RuntimeError, TelegramRuntime, TgEvent};

/// The chat sync's functions over grammers peers, read through the
/// Telegram adapter: the relay still holds grammers values, the core takes
/// the adapter's typed ones.
mod sync {
    use crate::bridge::portal::ChatInfo;
    pub(super) use crate::bridge::sync::*;
    use crate::telegram::chats::TgChat;
    use grammers_client::peer::Peer;

    /// The bridge's view of a grammers peer; `None` for chats that cannot
    /// be bridged.
    pub(super) fn chat_info(peer: &Peer) -> Option<ChatInfo> {
        TgChat::of(peer)
            .as_ref()
            .and_then(crate::bridge::sync::chat_info)
    }

    /// The chat's "about" text.
    pub(super) async fn fetch_about(
        client: &grammers_client::Client,
        peer: &Peer,
    ) -> Result<Option<String>, crate::telegram::CallError> {
        match TgChat::of(peer) {
            Some(chat) => crate::telegram::TelegramApi::new(client).about(&chat).await,
            None => Ok(None),
        }
    }

    /// Whether a chat is a forum supergroup.
    pub(super) fn is_forum(peer: &Peer) -> bool {
        TgChat::of(peer).is_some_and(|chat| chat.forum)
    }

    /// Sets the portal's avatar to the chat's current photo.
    pub(super) async fn mirror_chat_photo(
        rooms: &crate::bridge::portal::PortalRooms<'_>,
        client: &grammers_client::Client,
        portal: &mut crate::store::Portal,
        peer: &Peer,
    ) -> Result<(), crate::bridge::portal::PortalError> {
        match TgChat::of(peer) {
            Some(chat) => {
                let telegram = crate::telegram::TelegramApi::new(client);
                crate::bridge::sync::mirror_chat_photo(rooms, &telegram, portal, &chat).await
            }
            None => Ok(()),
        }
    }
}

/// Ghost names of grammers peers, read through the Telegram adapter.
mod ghost {
    pub(super) use crate::bridge::ghost::*;
    use crate::config::BridgeConfig;
    use crate::telegram::peers::TgProfile;
    use grammers_client::peer::{Peer, User};

    /// The display name of any peer's ghost.
    pub(super) fn peer_displayname(config: &BridgeConfig, peer: &Peer) -> String {
        crate::bridge::ghost::peer_displayname(config, &TgProfile::of(peer))
    }

    /// The display name of a user's ghost.
    pub(super) fn user_displayname(config: &BridgeConfig, user: &User) -> String {
        crate::bridge::ghost::peer_displayname(config, &TgProfile::of_user(user))
    }
}

/// The relay's grammers calls fail with grammers' error; the core counts
/// it as the Telegram adapter's.
impl From<grammers_mtsender::InvocationError> for PortalError {
    fn from(error: grammers_mtsender::InvocationError) -> Self {
        PortalError::Telegram(crate::telegram::CallError::Invocation(error))
    }
}

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
        if !chats::wait_out_flood(&side.store, &mut ready.stop).await {
            return;
        }
        // What an earlier run recorded and never applied; newer entries are
        // this run's, which arrive through the event channel.
        let unapplied = match side.store.inbox().newest() {
            Ok(newest) => newest,
            Err(error) => {
                warn!(%error, "could not read the inbox");
                None
            }
        };
        let session = Arc::new(side.store.telegram_session());
        let journal = Arc::new(inbox::StoreJournal(Arc::clone(&side.store)));
        match TelegramRuntime::start(
            session,
            side.settings.api_id,
            &side.settings.client,
            journal,
        )
        .await
        {
            Ok((runtime, events)) => {
                side.serve(
                    runtime,
                    events,
                    unapplied,
                    &mut ready.stop,
                    &mut ready.requests,
                )
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
    Event(Received),
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
    /// One lock per Telegram chat, see [`Side::send_lock`].
    send_locks: std::sync::Mutex<HashMap<PeerId, Arc<tokio::sync::Mutex<()>>>>,
    /// What the Telegram → Matrix direction remembers across messages.
    inbound: inbound::InboundState,
    /// The Matrix → Telegram worker of each portal room, see [`outbound`].
    outbound:
        std::sync::Mutex<HashMap<OwnedRoomId, mpsc::UnboundedSender<outbound::OutboundSignal>>>,
    /// Upload limits for media, the homeserver's read once per run.
    media_limits: super::media::MediaLimits,
    /// Which chats' reactions are read again after an absence.
    reaction_refresh: reaction_refresh::ReactionRefresh,
    /// Becomes `true` when the bridge shuts down; ends waits for a
    /// homeserver that is down.
    stop: watch::Receiver<bool>,
}

impl Side {
    fn new(settings: TelegramSideSettings, store: Arc<Store>, ready: &ReadyContext) -> Self {
        let portal_settings = PortalSettings {
            owner: settings.owner.clone(),
            federate: settings.bridge.federate_rooms,
            double_puppet: ready.double_puppet,
            server_name: ready.client.bot_user_id().server_name().to_owned(),
            creator_outranks_levels: false,
            alias_template: settings.bridge.alias_template.clone(),
            ghost_prefix: settings.bridge.ghost_prefix.clone(),
        };
        let media_limits = super::media::MediaLimits::new(
            settings
                .bridge
                .max_upload_size_mb
                .saturating_mul(1024 * 1024),
        );
        Self {
            settings,
            store,
            client: ready.client.clone(),
            portal_settings,
            management_room: ready.management_room.clone(),
            self_id: std::sync::atomic::AtomicI64::new(0),
            telegram: std::sync::OnceLock::new(),
            send_locks: std::sync::Mutex::new(HashMap::new()),
            outbound: std::sync::Mutex::new(HashMap::new()),
            joined: std::sync::Mutex::new(std::collections::HashSet::new()),
            inbound: inbound::InboundState::default(),
            media_limits,
            reaction_refresh: reaction_refresh::ReactionRefresh::default(),
            stop: ready.stop.clone(),
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

    /// The logged-in account as a peer (`None` before the runtime runs).
    fn me(&self) -> Option<PeerId> {
        PeerId::user(self.self_id())
    }

    /// The chat's send lock. Sending a Matrix message to Telegram holds it
    /// until the message map records the sent message; the Telegram → Matrix
    /// path takes it before deciding an outgoing message is new. Without it,
    /// the update echoing the bridge's own send could overtake the map insert
    /// and be bridged back as a duplicate.
    fn send_lock(&self, chat: PeerId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .send_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(locks.entry(chat).or_default())
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
            filter: self.chat_filter(),
        }
    }

    async fn serve(
        self: &Arc<Self>,
        runtime: TelegramRuntime,
        mut events: mpsc::UnboundedReceiver<Received>,
        unapplied: Option<i64>,
        stop: &mut watch::Receiver<bool>,
        requests: &mut mpsc::UnboundedReceiver<TelegramRequest>,
    ) {
        self.self_id
            .store(runtime.self_id(), std::sync::atomic::Ordering::Release);
        // Set once per process: the side serves one runtime.
        let _ = self.telegram.set(runtime.client().clone());
        let runtime = Arc::new(runtime);
        self.resume_outbox().await;
        self.adopt_orphans().await;
        // Before the sync and the catch-up, which would otherwise bring the
        // rooms to today's state ahead of the changes still to apply.
        tokio::select! {
            () = self.apply_unapplied(&runtime, unapplied) => {}
            _ = stop.wait_for(|stop| *stop) => {}
        }
        if runtime.me().is_bot() {
            info!("logged in as a bot: Telegram does not let bots list their chats, so portals appear when the bot is added to a group or receives a message");
        } else {
            let top_messages = tokio::select! {
                synced = crate::bridge::containment::contain(self.sync(&runtime, SyncScope::Limited)) => {
                    synced.unwrap_or_else(|panicked| {
                        warn!(reason = %panicked.reason, "the start-up sync panicked; live events are bridged without it");
                        Vec::new()
                    })
                }
                _ = stop.wait_for(|stop| *stop) => Vec::new(),
            };
            tokio::select! {
                () = self.catch_up(&runtime, &top_messages) => {}
                _ = stop.wait_for(|stop| *stop) => {}
            }
            self.note_dialogs(&top_messages);
            self.refresh_reactions_after(Duration::ZERO);
        }
        // Start-up is over: the code only it ran need not stay mapped.
        crate::code_pages::release_startup_code();
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
                    if let Some(request) = self.route_outbound(request) {
                        self.on_request_contained(&runtime, request).await;
                    }
                    continue;
                }
                None => None,
            };
            let Some(event) = event else { break };
            self.dispatch(&mut queues, event).await;
        }
        queues.close().await;
        match Arc::try_unwrap(runtime) {
            Ok(runtime) => runtime.shutdown().await,
            Err(_) => warn!("the Telegram client is still in use at shutdown"),
        }
    }

    /// Hands an event to its chat's queue (account-wide events are
    /// handled here and now).
    async fn dispatch(self: &Arc<Self>, queues: &mut ChatQueues<Received>, received: Received) {
        match &received.event {
            TgEvent::ConnectionLost => {
                return self.refresh_reactions_after(reaction_refresh::AFTER_RECONNECT)
            }
            TgEvent::NewMessage(message) => self.note_active(message.peer_id()),
            _ => {}
        }
        for received in self.route(received) {
            match received.event.chat() {
                Some(chat) => {
                    let side = Arc::clone(self);
                    queues.push(chat, received, move |received| {
                        let side = Arc::clone(&side);
                        async move { side.apply_durably(received).await }
                    });
                }
                None => self.apply_account_event(received).await,
            }
        }
    }

    async fn on_request(&self, runtime: &TelegramRuntime, request: TelegramRequest) {
        match request {
            TelegramRequest::Sync { .. } if runtime.me().is_bot() => {
                self.notify("Telegram does not let bots list their chats: portals appear when the bot is added to a group or receives a message.").await
            }
            TelegramRequest::Sync { all } => {
                let scope = if all { SyncScope::All } else { SyncScope::Limited };
                // The catch-up runs once, at start; a later sync only syncs.
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
                    Ok(Some(portal)) => match portal.topic {
                        Some(topic) => format!(
                            "This room bridges the topic {topic} of the Telegram forum {}.",
                            portal.peer.bot_api_dialog_id().unwrap_or_default()
                        ),
                        None => format!(
                            "This room bridges the Telegram chat {}.",
                            portal.peer.bot_api_dialog_id().unwrap_or_default()
                        ),
                    },
                    _ => "This room is not a portal to a Telegram chat.".to_owned(),
                };
                self.notify_in(&room_id, &text).await;
            }
            TelegramRequest::Topics {
                room_id,
                chat,
                open,
            } => {
                let text = match self
                    .topics_command(runtime.client(), &room_id, chat.as_deref(), open)
                    .await
                {
                    Ok(text) => text,
                    Err(error) => format!("Could not read the forum's topics: {error}"),
                };
                self.notify_in(&room_id, &text).await;
            }
            TelegramRequest::GhostInvited { room_id, ghost } => {
                if let Err(error) = self.adopt_invited_room(&room_id, &ghost).await {
                    warn!(%room_id, %error, "could not turn the room into a private portal");
                }
            }
            TelegramRequest::PortalEncrypted { room_id } => {
                if let Err(error) = self.detach_encrypted_portal(&room_id).await {
                    warn!(%room_id, %error, "could not detach the encrypted portal");
                }
            }
            TelegramRequest::Rename { room_id, name } => {
                if let Err(error) = self.rename_on_telegram(runtime.client(), &room_id, &name).await {
                    warn!(%room_id, %error, "could not rename the Telegram chat");
                }
            }
            // Handed to the room's worker by `route_outbound` before this.
            TelegramRequest::OutboxQueued { .. }
            | TelegramRequest::ReadUpTo { .. }
            | TelegramRequest::Typing { .. } => {}
            TelegramRequest::Topic { room_id, topic } => {
                if let Err(error) = self.topic_on_telegram(runtime.client(), &room_id, &topic).await {
                    warn!(%room_id, %error, "could not change the Telegram chat's description");
                }
            }
            TelegramRequest::Avatar { room_id, url } => {
                if let Err(error) = self.avatar_on_telegram(runtime.client(), &room_id, url).await {
                    warn!(%room_id, %error, "could not change the Telegram chat's photo");
                }
            }
            TelegramRequest::Unbridge {
                room_id,
                delete,
                confirmed,
                target,
            } => {
                let removal = manage::Removal {
                    delete,
                    confirmed,
                    target,
                };
                if let Err(error) = self.unbridge(&room_id, removal).await {
                    warn!(%room_id, %error, "could not remove the portal");
                    self.notify_in(&room_id, &format!("Could not remove the portal: {error}"))
                        .await;
                }
            }
            TelegramRequest::Filter { room_id, change } => {
                let text = match self.filter(runtime, &room_id, change).await {
                    Ok(text) => text,
                    Err(error) => format!("Could not change the filter: {error}"),
                };
                self.notify_in(&room_id, &text).await;
            }
        }
    }

    async fn on_account_event(&self, event: TgEvent) {
        match event {
            TgEvent::FloodWait(wait) if wait >= ANNOUNCED_FLOOD_WAIT => {
                chats::remember_flood_wait(&self.store, wait);
                self.notify(&format!(
                    "Telegram asked the bridge to slow down for {} seconds; messages are delayed until then.",
                    wait.as_secs()
                ))
                .await
            }
            TgEvent::FloodWait(wait) => chats::remember_flood_wait(&self.store, wait),
            TgEvent::SessionEnded { reason } => self.session_ended(&reason).await,
            TgEvent::UpdatesUnreadable { count } => {
                self.notify(&format!(
                    "Telegram sent {count} update(s) the bridge could not read (perhaps from a newer Telegram version). They were skipped and the bridge asked Telegram for everything since, so the chats should miss nothing; `sync` refreshes the chat list."
                ))
                .await
            }
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

    async fn on_chat_event(&self, event: TgEvent) -> Result<(), PortalError> {
        match event {
            TgEvent::NewMessage(message) => self.on_message(&message).await,
            TgEvent::MessageEdited(message) => self.on_edit(&message).await,
            TgEvent::MessagesDeleted {
                chat: Some(chat),
                ids,
            } => self.on_deleted(chat, &ids).await,
            TgEvent::Reactions {
                chat,
                msg_id,
                reactions,
            } => match self.me() {
                Some(me) => {
                    let now = crate::telegram::reactions::reaction_list(&reactions, me);
                    self.on_reactions(chat, msg_id, now).await
                }
                None => Ok(()),
            },
            // Typing is momentary: in an outage it is dropped, not waited for.
            TgEvent::Typing {
                chat,
                user,
                typing,
                topic,
            } => match self.on_typing(chat, user, typing, topic).await {
                Err(error) if error.is_outage() => Ok(()),
                other => other,
            },
            TgEvent::Read {
                chat,
                max_id,
                outbox,
                topic,
            } => self.on_read(chat, max_id, outbox, topic).await,
            TgEvent::Pinned { chat, ids, pinned } => self.on_pinned(chat, &ids, pinned).await,
            TgEvent::TitleChanged { chat, title } => self.on_title(chat, title).await,
            TgEvent::Migrated { from, to } => self.on_migrated(from, to).await,
            TgEvent::ChatChanged(chat) => self.on_chat_changed(chat).await,
            TgEvent::UserChanged(user) => self.on_user_changed(user).await,
            other => {
                debug!(?other, "chat event not bridged yet");
                Ok(())
            }
        }
    }

    /// The session's cached reference (with access hash) of `peer`.
    pub(super) async fn cached_ref(&self, peer: PeerId) -> Option<PeerRef> {
        use grammers_session::Session as _;
        let info = self.store.telegram_session().peer(peer).await.ok()??;
        Some(PeerRef {
            id: peer,
            auth: info.auth()?,
        })
    }

    /// Looks a peer up on Telegram (full user or chat).
    pub(super) async fn resolve(
        &self,
        peer: Option<PeerRef>,
    ) -> Option<grammers_client::peer::Peer> {
        let client = self.telegram.get()?;
        match client.resolve_peer(peer?).await {
            Ok(peer) => Some(peer),
            Err(error) => {
                debug!(%error, "could not look up a peer");
                None
            }
        }
    }

    /// Sends a message-like event as `sender` (a ghost, or the owner when
    /// double puppeting). Events sent as the owner carry the double-puppet
    /// marker: the homeserver hands them back to the bridge as the owner's
    /// own events, and the marker keeps the Matrix → Telegram side from
    /// sending them to Telegram again.
    async fn send_as(
        &self,
        sender: &ruma::UserId,
        mut request: send_message_event::v3::Request,
    ) -> Result<ruma::OwnedEventId, MatrixError> {
        if sender == self.settings.owner {
            mark_double_puppet(&mut request);
        }
        let earlier = self
            .earlier_attempt(
                &request.room_id,
                sender,
                &request.event_type.to_string(),
                request.body.json().get(),
            )
            .await;
        if let Some(event_id) = earlier {
            return Ok(event_id);
        }
        Ok(self.client.as_user(sender).send(request).await?.event_id)
    }

    /// Sends a notice to the management room, if there is one.
    pub(super) async fn notify(&self, text: &str) {
        let Some(room_id) = self.current_management_room() else {
            info!(text, "no management room for this notice");
            return;
        };
        self.notify_in(&room_id, text).await;
    }

    /// The management room as recorded now: the Matrix side may have
    /// replaced the one of the start (e.g. after encryption was turned on
    /// in it); the start's is the fallback when there is no usable record.
    fn current_management_room(&self) -> Option<OwnedRoomId> {
        self.store
            .kv_get(crate::bridge::persistence::MANAGEMENT_ROOM_KEY)
            .ok()
            .flatten()
            .and_then(|recorded| OwnedRoomId::try_from(recorded).ok())
            .or_else(|| self.management_room.clone())
    }

    /// Sends a notice as the bot to `room_id`.
    pub(super) async fn notify_in(&self, room_id: &ruma::RoomId, text: &str) {
        self.notify_in_as(room_id, self.client.bot_user_id(), text)
            .await;
    }

    /// Sends a notice as `sender` (the bot or a ghost) to `room_id`.
    pub(super) async fn notify_in_as(
        &self,
        room_id: &ruma::RoomId,
        sender: &ruma::UserId,
        text: &str,
    ) {
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

/// Passes a homeserver outage on (the caller's queue waits it out) and
/// only logs any other failure of a step that must not stop the rest.
fn outage_or_warn(result: Result<(), MatrixError>, what: &str) -> Result<(), PortalError> {
    match result {
        Err(error) if error.is_outage() => Err(error.into()),
        Err(error) => {
            warn!(%error, "{what}");
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

/// Adds the double-puppet marker to an event's content. The content was
/// serialized from a typed value, so it is a JSON object; if it ever were
/// not, the event is sent unmarked rather than not at all.
fn mark_double_puppet(request: &mut send_message_event::v3::Request) {
    let Ok(serde_json::Value::Object(mut content)) =
        serde_json::from_str::<serde_json::Value>(request.body.json().get())
    else {
        return;
    };
    content.insert(
        crate::bridge::outbound_route::DOUBLE_PUPPET_MARKER.to_owned(),
        serde_json::Value::String(env!("CARGO_PKG_NAME").to_owned()),
    );
    if let Ok(raw) = serde_json::value::to_raw_value(&content) {
        request.body = ruma::serde::Raw::from_json(raw);
    }
}

/// One worker task per chat, each draining its own unbounded queue in order.
struct ChatQueues<T> {
    queues: HashMap<PeerId, (mpsc::UnboundedSender<T>, JoinHandle<()>)>,
}

impl<T> Default for ChatQueues<T> {
    fn default() -> Self {
        Self {
            queues: HashMap::new(),
        }
    }
}

impl<T: Send + 'static> ChatQueues<T> {
    /// Queues `event` for `chat`, starting the chat's worker on first use.
    fn push<F, Fut>(&mut self, chat: PeerId, event: T, handle: F)
    where
        F: Fn(T) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let (queue, _) = self.queues.entry(chat).or_insert_with(|| {
            let (tx, mut rx) = mpsc::unbounded_channel::<T>();
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
    fn events_sent_as_the_owner_carry_the_double_puppet_marker() {
        let content = RoomMessageEventContent::text_plain("hi");
        let mut request = send_message_event::v3::Request::new(
            ruma::owned_room_id!("!r:example.org"),
            "t1".into(),
            &content,
        )
        .unwrap();
        mark_double_puppet(&mut request);
        let body: serde_json::Value = serde_json::from_str(request.body.json().get()).unwrap();
        assert_eq!(body["body"], "hi");
        assert_eq!(body["msgtype"], "m.text");
        assert_eq!(
            body[crate::bridge::outbound_route::DOUBLE_PUPPET_MARKER],
            "tgbridge"
        );
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
