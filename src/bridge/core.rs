//! The bridge core's Matrix side: receives the homeserver's transactions
//! (deduplicated against the store), routes room events, and owns the
//! management room and bot commands. It calls the homeserver only through
//! [`MatrixClient`] and the database only through [`BridgePersistence`].
//!
//! Events of one transaction are handled in order, and transactions one at a
//! time (the homeserver sends them one at a time anyway), so a transaction is
//! recorded as processed only after all its events were handled.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use ruma::api::client::membership::{join_room_by_id, leave_room};
use ruma::api::client::message::send_message_event;
use ruma::api::client::room::create_room;
use ruma::api::client::state::get_state_event_for_key;
use ruma::events::room::member::{MembershipState, OriginalSyncRoomMemberEvent};
use ruma::events::room::message::{
    MessageType, OriginalSyncRoomMessageEvent, Relation, RoomMessageEventContent,
};
use ruma::events::{MessageLikeEvent, StateEvent, StateEventType};

use crate::matrix::event::TimelineEvent;
use ruma::{OwnedRoomAliasId, OwnedRoomId, OwnedTransactionId, OwnedUserId, RoomId, UserId};
use serde::Deserialize;
use tracing::{debug, error, info, warn};

mod encrypted_rooms;

use super::commands::{self, Command};
use super::encryption::EncryptionWarnings;
use super::login::{LoginHub, TelegramLoggedIn};
use super::notice::Notice;
use super::outbound_route;
use super::persistence::{BridgePersistence, PersistenceError, QueuedEvent};
use super::requests::TelegramRequest;
use crate::matrix::appservice::{AppserviceHandler, HandlerError, Transaction};
use crate::matrix::{txn, MatrixClient, MatrixError};
use ruma::api::appservice::event::push_events::v1::EphemeralData;
use ruma::serde::Raw;
use tokio::sync::mpsc;

mod contain;

/// The management room's name, as the owner sees it in the room list.
pub const MANAGEMENT_ROOM_NAME: &str = "Telegram bridge";

/// How long processed transaction ids are remembered. A homeserver resends a
/// transaction only until it sees it acknowledged (e.g. when the bridge
/// stopped between processing and answering), so a week is generous.
pub const TRANSACTION_LOG_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Why reacting to an event failed in a way that must fail the transaction.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The database failed: the homeserver must send the transaction again.
    #[error(transparent)]
    Persistence(#[from] PersistenceError),
    /// The homeserver refused or failed a call the core could not do without.
    #[error(transparent)]
    Matrix(#[from] MatrixError),
}

/// Who is who: the owner, the bot and the ghost namespace.
#[derive(Debug, Clone)]
pub struct Identities {
    /// The one Matrix user the bridge serves.
    pub owner: OwnedUserId,
    /// Localpart prefix of Telegram ghosts, e.g. `telegram_`.
    pub ghost_localpart_prefix: String,
}

/// The core: one per running bridge, shared by the appservice server.
pub struct Core<P> {
    client: MatrixClient,
    store: Arc<P>,
    ids: Identities,
    /// Cached copy of the management room recorded in the store.
    management_room: RwLock<Option<OwnedRoomId>>,
    /// Serialises transactions so the "already processed?" check and the
    /// record after processing cannot interleave for the same id.
    transactions: tokio::sync::Mutex<()>,
    /// Senders (and what of theirs) ignored so far, so each is logged once.
    ignored_senders: Mutex<HashSet<(OwnedUserId, &'static str)>>,
    ready: AtomicBool,
    /// Whether the homeserver lets us act as the owner (double puppet).
    double_puppet: AtomicBool,
    /// Logins from Matrix and the web page, when the service enables them.
    login: OnceLock<Arc<LoginHub>>,
    /// Requests to the running Telegram side, once it runs.
    telegram: OnceLock<mpsc::UnboundedSender<TelegramRequest>>,
    /// The event watermark as the last run left it, read before any
    /// transaction of this run: where reading for missed events starts.
    startup_watermark: Option<u64>,
    /// Whether a transaction has brought ephemeral events (typing,
    /// receipts): then the homeserver pushes them and the bot's own sync is
    /// not needed for them.
    ephemeral_pushed: AtomicBool,
    /// What the owner was told this run about encryption (see
    /// [`EncryptionWarnings`]).
    encryption_warned: EncryptionWarnings,
    /// Set while the homeserver is known to have been away and what the
    /// owner sent meanwhile was not read back yet: the event watermark of
    /// when it went (see [`Core::homeserver_went_away`]).
    pub(super) away_since: Mutex<Option<Option<u64>>>,
}

impl<P: BridgePersistence> Core<P> {
    /// Creates the core; nothing is sent until [`Core::ensure_management_room`]
    /// or the first transaction.
    pub fn new(client: MatrixClient, store: Arc<P>, ids: Identities) -> Self {
        let startup_watermark = store.event_watermark().unwrap_or_else(|error| {
            warn!(%error, "could not read the event watermark; missed events are not read back");
            None
        });
        Self {
            client,
            store,
            ids,
            management_room: RwLock::new(None),
            transactions: tokio::sync::Mutex::new(()),
            ignored_senders: Mutex::new(HashSet::new()),
            ready: AtomicBool::new(false),
            double_puppet: AtomicBool::new(false),
            login: OnceLock::new(),
            telegram: OnceLock::new(),
            startup_watermark,
            ephemeral_pushed: AtomicBool::new(false),
            encryption_warned: EncryptionWarnings::default(),
            away_since: Mutex::new(None),
        }
    }

    /// The event watermark the last run left (see [`Core::catch_up_missed`]).
    pub fn startup_watermark(&self) -> Option<u64> {
        self.startup_watermark
    }

    /// The newest event watermark recorded, for reading back after an outage.
    pub fn event_watermark(&self) -> Option<u64> {
        self.store.event_watermark().unwrap_or_else(|error| {
            warn!(%error, "could not read the event watermark");
            None
        })
    }

    /// Whether the homeserver has pushed ephemeral events in a transaction.
    pub fn ephemeral_pushed(&self) -> bool {
        self.ephemeral_pushed.load(Ordering::Acquire)
    }

    /// The homeserver client.
    pub(super) fn client(&self) -> &MatrixClient {
        &self.client
    }

    /// The database.
    pub(super) fn persistence(&self) -> &P {
        &self.store
    }

    /// Held while a transaction (or anything that must not interleave with
    /// one, like reading a room for missed events) is processed.
    pub(super) async fn transaction_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.transactions.lock().await
    }

    /// Announcements of completed logins, for the Telegram side to start from
    /// the stored session; `None` when logins from Matrix and the web are off.
    pub fn login_events(&self) -> Option<tokio::sync::broadcast::Receiver<TelegramLoggedIn>> {
        self.login.get().map(|hub| hub.logged_in_events())
    }

    /// Enables `login` in Matrix rooms and the web page; set once at startup.
    pub fn set_login_hub(&self, hub: Arc<LoginHub>) {
        // A second hub would split the one login in progress: keep the first.
        let _ = self.login.set(hub);
    }

    /// Marks startup as finished (reported by the health endpoint).
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// Records whether double puppeting the owner is possible.
    pub fn set_double_puppet(&self, available: bool) {
        self.double_puppet.store(available, Ordering::Release);
    }

    /// Whether double puppeting the owner is possible.
    pub fn double_puppet(&self) -> bool {
        self.double_puppet.load(Ordering::Acquire)
    }

    /// Forgets processed transaction ids older than [`TRANSACTION_LOG_AGE`].
    pub fn prune_transaction_log(&self) -> Result<usize, PersistenceError> {
        self.store.prune_transactions(TRANSACTION_LOG_AGE)
    }

    /// Whom the owner's own Telegram messages are sent as: the owner
    /// (double puppet) when the homeserver allows it, else `owner_ghost`, the
    /// ghost of the owner's Telegram account.
    pub fn owner_sender<'a>(&'a self, owner_ghost: &'a UserId) -> &'a UserId {
        if self.double_puppet.load(Ordering::Acquire) {
            &self.ids.owner
        } else {
            owner_ghost
        }
    }

    /// The owner's Matrix id.
    pub(super) fn owner(&self) -> &UserId {
        &self.ids.owner
    }

    /// The management room currently in use, if any.
    pub fn management_room(&self) -> Option<OwnedRoomId> {
        self.management_room
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_cached_management_room(&self, room: Option<OwnedRoomId>) {
        *self
            .management_room
            .write()
            .unwrap_or_else(PoisonError::into_inner) = room;
    }

    fn is_bot(&self, user_id: &UserId) -> bool {
        user_id == self.client.bot_user_id()
    }

    /// Whether `user_id` is in the ghost namespace (any localpart with the
    /// prefix: the homeserver gives the bridge the whole namespace).
    fn is_ghost(&self, user_id: &UserId) -> bool {
        user_id.server_name() == self.client.bot_user_id().server_name()
            && user_id
                .localpart()
                .starts_with(&self.ids.ghost_localpart_prefix)
    }

    /// Whether `user_id` names a Telegram user's ghost (`<prefix><telegram id>`),
    /// i.e. one the bridge would create; anything else in the namespace stays
    /// unregistered so queries cannot make the bridge create arbitrary users.
    fn is_valid_ghost(&self, user_id: &UserId) -> bool {
        self.is_ghost(user_id)
            && user_id
                .localpart()
                .strip_prefix(&self.ids.ghost_localpart_prefix)
                .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
    }

    fn is_valid_ghost_str(&self, user_id: &str) -> bool {
        <&UserId>::try_from(user_id).is_ok_and(|user_id| self.is_valid_ghost(user_id))
    }

    // ---- management room -------------------------------------------------

    /// Makes sure the management room exists: reuses the recorded one while
    /// the bot is in it and the owner has not left, otherwise creates a new
    /// direct room with the owner, records it and greets.
    pub async fn ensure_management_room(&self) -> Result<OwnedRoomId, CoreError> {
        if let Some(room_id) = self.store.management_room()? {
            if self.management_room_usable(&room_id).await? {
                debug!(%room_id, "management room in place");
                self.set_cached_management_room(Some(room_id.clone()));
                return Ok(room_id);
            }
            info!(%room_id, "management room is gone; creating a new one");
        }
        self.create_management_room().await
    }

    /// Whether the bot is in `room_id` and the owner is joined or invited.
    /// Transient failures are errors, so a homeserver hiccup never leads to a
    /// second management room.
    async fn management_room_usable(&self, room_id: &RoomId) -> Result<bool, MatrixError> {
        let request = get_state_event_for_key::v3::Request::new(
            room_id.to_owned(),
            StateEventType::RoomMember,
            self.ids.owner.to_string(),
        );
        match self.client.as_bot().send(request).await {
            Ok(response) => {
                #[derive(Deserialize)]
                struct Membership {
                    membership: MembershipState,
                }
                let membership =
                    serde_json::from_str::<Membership>(response.event_or_content.get())
                        .map(|m| m.membership);
                Ok(matches!(
                    membership,
                    Ok(MembershipState::Join | MembershipState::Invite)
                ))
            }
            // 403: the bot is not in the room; 404: the owner never was.
            Err(error) if matches!(error.status().map(|s| s.as_u16()), Some(403 | 404)) => {
                Ok(false)
            }
            Err(error) => Err(error),
        }
    }

    async fn create_management_room(&self) -> Result<OwnedRoomId, CoreError> {
        let mut request = create_room::v3::Request::new();
        request.name = Some(MANAGEMENT_ROOM_NAME.to_owned());
        request.topic = Some("Manage the Telegram bridge: send `help` here".to_owned());
        request.is_direct = true;
        request.invite = vec![self.ids.owner.clone()];
        request.preset = Some(create_room::v3::RoomPreset::TrustedPrivateChat);
        let room_id = self.client.as_bot().send(request).await?.room_id;
        self.store.set_management_room(Some(&room_id))?;
        self.set_cached_management_room(Some(room_id.clone()));
        info!(%room_id, owner = %self.ids.owner, "management room created");
        if self.double_puppet.load(Ordering::Acquire) {
            self.accept_as_owner(&room_id).await;
        }
        self.greet(&room_id).await?;
        Ok(room_id)
    }

    /// With double puppeting the owner's side joins at once, so the room is
    /// simply there in their client.
    async fn accept_as_owner(&self, room_id: &RoomId) {
        let request = join_room_by_id::v3::Request::new(room_id.to_owned());
        if let Err(error) = self.client.as_user(&self.ids.owner).send(request).await {
            warn!(%room_id, %error, "could not join the management room as the owner; they will see an invite");
        }
    }

    async fn greet(&self, room_id: &RoomId) -> Result<(), CoreError> {
        let next_step = match self.store.telegram_account().await? {
            Some(account) => format!(
                "You are logged into Telegram as {}. Portal rooms for your chats will appear as they are bridged.",
                account.describe()
            ),
            None => "Next step: log into Telegram. Run `tgbridge login` in a terminal on the machine running the bridge (your two-step verification password is only ever typed there).".to_owned(),
        };
        let notice = Notice::new()
            .heading("Hello! I am the Telegram bridge bot.")
            .paragraph("This is your management room: send commands here without a prefix. In other rooms, start them with `!tg`.")
            .paragraph(&next_step)
            .paragraph("Send `help` to see all commands.");
        let txn_id = txn::derived("greeting", &[room_id.as_str()]);
        self.send_notice(room_id, txn_id, &notice).await?;
        Ok(())
    }

    // ---- transactions ------------------------------------------------------

    async fn process_transaction(
        &self,
        txn_id: &str,
        transaction: Transaction,
        received: Instant,
    ) -> Result<(), CoreError> {
        let _one_at_a_time = self.transactions.lock().await;
        // The first transaction after an outage may carry what the owner
        // sent after something the homeserver never passed on: read that
        // back first, so it is queued in the order it was sent.
        self.read_back_if_away().await;
        let events: Vec<_> = transaction
            .events
            .iter()
            .map(|raw| (raw, raw.deserialize()))
            .collect();
        // The echo of the bridge's own sends (every Telegram message it
        // bridges comes back once): handling such a transaction changes
        // nothing, now or when the homeserver retries it, so it costs no
        // transaction-log lookup and no write.
        if transaction.ephemeral.is_empty()
            && !events.is_empty()
            && events
                .iter()
                .all(|(_, event)| matches!(event, Ok(event) if self.is_own_message(event)))
        {
            debug!(txn_id, events = events.len(), "the bridge's own messages");
            return Ok(());
        }
        let key = transaction_key(txn_id, &transaction);
        if self.store.transaction_processed(&key)? {
            debug!(txn_id, "transaction already processed");
            return Ok(());
        }
        let mut queued = Vec::new();
        let mut newest_ts = None;
        for (raw, event) in events {
            match event {
                Ok(event) => {
                    newest_ts = newest_ts.max(Some(u64::from(event.origin_server_ts().get())));
                    match self.queue_for_telegram(raw, &event)? {
                        Some(event) => queued.push(event),
                        None => self.handle_once(event, received).await?,
                    }
                }
                Err(error) => debug!(txn_id, %error, "skipping an event that does not parse"),
            }
        }
        self.store
            .record_transaction_with_outbox(&key, &queued, newest_ts)?;
        self.announce_queued(&queued);
        self.forward_ephemeral(&transaction.ephemeral);
        Ok(())
    }

    /// A message of the bot or a ghost: [`Self::handle_event`] ignores
    /// those (see `on_message`) and [`Self::queue_for_telegram`] queues
    /// only the owner's events.
    fn is_own_message(&self, event: &TimelineEvent) -> bool {
        matches!(event, TimelineEvent::RoomMessage(_))
            && (self.is_bot(event.sender()) || self.is_ghost(event.sender()))
    }

    /// The owner's event in a portal room, ready for the outbox; `None` for
    /// anything else (commands, other senders, other rooms, the bridge's
    /// own double-puppeted sends), which the core handles itself.
    pub(super) fn queue_for_telegram(
        &self,
        raw: &Raw<TimelineEvent>,
        event: &TimelineEvent,
    ) -> Result<Option<QueuedEvent>, CoreError> {
        let room_id = event.room_id();
        if event.sender() != self.ids.owner
            || self.management_room().as_deref() == Some(room_id)
            || !outbound_route::is_bridged_kind(event, |body| {
                commands::parse(body, false).is_some()
            })
            || outbound_route::sent_by_bridge(raw.json().get())
            || !self.store.is_portal_room(room_id)?
        {
            return Ok(None);
        }
        Ok(Some(QueuedEvent {
            room_id: room_id.to_owned(),
            event_id: event.event_id().to_owned(),
            event_json: raw.json().get().to_owned(),
        }))
    }

    /// Wakes the Telegram side's worker of each room that got new events.
    pub(super) fn announce_queued(&self, queued: &[QueuedEvent]) {
        let mut rooms: Vec<&RoomId> = queued.iter().map(|q| q.room_id.as_ref()).collect();
        rooms.dedup();
        for room_id in rooms {
            self.forward_to_telegram(TelegramRequest::OutboxQueued {
                room_id: room_id.to_owned(),
            });
        }
    }

    /// Passes the owner's typing and read receipts on to the Telegram side,
    /// which ignores rooms that are not portals. Not persisted: a lost
    /// typing notification or receipt is superseded by the next one.
    fn forward_ephemeral(&self, ephemeral: &[Raw<EphemeralData>]) {
        if !ephemeral.is_empty() {
            self.ephemeral_pushed.store(true, Ordering::Release);
        }
        for raw in ephemeral {
            let Ok(event) = serde_json::from_str::<serde_json::Value>(raw.json().get()) else {
                continue;
            };
            self.forward_ephemeral_event(&event);
        }
    }

    /// Passes one ephemeral event (with its `room_id`) on to the Telegram
    /// side, whether it was pushed or read from the bot's sync.
    pub(super) fn forward_ephemeral_event(&self, event: &serde_json::Value) {
        for request in outbound_route::ephemeral_requests(event, &self.ids.owner) {
            self.forward_to_telegram(request);
        }
    }

    /// Handles an event the core acts on itself. The owner's events can
    /// arrive twice, pushed and read from the bot's sync, so each is
    /// remembered once handled and skipped when it comes again; everyone
    /// else's arrive only pushed.
    pub(super) async fn handle_once(
        &self,
        event: TimelineEvent,
        received: Instant,
    ) -> Result<(), CoreError> {
        if event.sender() != self.ids.owner {
            return self.handle_event_contained(event, received).await;
        }
        let room_id = event.room_id().to_owned();
        let event_id = event.event_id().to_owned();
        if self.store.was_queued(&event_id)? {
            debug!(%event_id, "the owner's event was handled already");
            return Ok(());
        }
        self.handle_event_contained(event, received).await?;
        self.store.remember_handled(&room_id, &event_id)?;
        Ok(())
    }

    async fn handle_event(&self, event: TimelineEvent, received: Instant) -> Result<(), CoreError> {
        let room_id = event.room_id().to_owned();
        match event {
            TimelineEvent::RoomMember(StateEvent::Original(member)) => {
                self.on_member(&room_id, member.into()).await
            }
            TimelineEvent::RoomMessage(MessageLikeEvent::Original(message)) => {
                self.on_message(&room_id, message.into(), received).await
            }
            TimelineEvent::RoomName(StateEvent::Original(name))
                if name.sender == self.ids.owner =>
            {
                self.forward_to_telegram(TelegramRequest::Rename {
                    room_id,
                    name: name.content.name,
                });
                Ok(())
            }
            TimelineEvent::RoomTopic(StateEvent::Original(topic))
                if topic.sender == self.ids.owner =>
            {
                self.forward_to_telegram(TelegramRequest::Topic {
                    room_id,
                    topic: topic.content.topic,
                });
                Ok(())
            }
            TimelineEvent::RoomAvatar(StateEvent::Original(avatar))
                if avatar.sender == self.ids.owner =>
            {
                self.forward_to_telegram(TelegramRequest::Avatar {
                    room_id,
                    url: avatar.content.url,
                });
                Ok(())
            }
            TimelineEvent::RoomEncryption(StateEvent::Original(encryption)) => {
                self.on_encryption_enabled(&room_id, &encryption.sender, &encryption.event_id)
                    .await
            }
            TimelineEvent::RoomEncrypted(MessageLikeEvent::Original(encrypted)) => {
                self.on_encrypted_event(&room_id, &encrypted.sender, &encrypted.event_id)
                    .await
            }
            _ => Ok(()),
        }
    }

    /// Hands an owner's change in a room to the Telegram side, which
    /// decides whether the room is a portal.
    fn forward_to_telegram(&self, request: TelegramRequest) {
        if let Some(requests) = self.telegram.get() {
            // Fails only while the Telegram side stops; nothing to bridge then.
            let _ = requests.send(request);
        }
    }

    async fn on_member(
        &self,
        room_id: &RoomId,
        event: OriginalSyncRoomMemberEvent,
    ) -> Result<(), CoreError> {
        let target = event.state_key.as_str();
        let membership = &event.content.membership;
        if target == self.client.bot_user_id().as_str() {
            return match membership {
                MembershipState::Invite => self.on_bot_invited(room_id, &event).await,
                MembershipState::Leave | MembershipState::Ban => {
                    self.forget_if_management(room_id, "the bot was removed")
                }
                _ => Ok(()),
            };
        }
        if *membership == MembershipState::Invite
            && event.sender == self.ids.owner
            && self.is_valid_ghost_str(target)
        {
            if let Ok(ghost) = OwnedUserId::try_from(target) {
                let invite_state = &event.unsigned.invite_room_state;
                if self
                    .decline_encrypted_ghost_invite(room_id, &ghost, &event.event_id, invite_state)
                    .await?
                {
                    return Ok(());
                }
                self.forward_to_telegram(TelegramRequest::GhostInvited {
                    room_id: room_id.to_owned(),
                    ghost,
                });
            }
            return Ok(());
        }
        let owner_left = target == self.ids.owner.as_str()
            && matches!(membership, MembershipState::Leave | MembershipState::Ban);
        if owner_left && self.management_room().as_deref() == Some(room_id) {
            self.forget_if_management(room_id, "the owner left")?;
            self.leave(room_id, "The owner left the management room.")
                .await;
        }
        Ok(())
    }

    async fn on_bot_invited(
        &self,
        room_id: &RoomId,
        invite: &OriginalSyncRoomMemberEvent,
    ) -> Result<(), CoreError> {
        let inviter = &invite.sender;
        // A ghost invites the bot into a room the owner invited it to; only
        // the bridge can act as its ghosts.
        if *inviter != self.ids.owner && !self.is_valid_ghost(inviter) {
            self.log_ignored_once(inviter, "invite refused: only the owner may invite the bot");
            self.leave(room_id, "This bridge only accepts invites from its owner.")
                .await;
            return Ok(());
        }
        let invite_state = &invite.unsigned.invite_room_state;
        if self
            .decline_encrypted_bot_invite(room_id, inviter, &invite.event_id, invite_state)
            .await?
        {
            return Ok(());
        }
        let request = join_room_by_id::v3::Request::new(room_id.to_owned());
        if let Err(error) = self.client.as_bot().send(request).await {
            warn!(%room_id, %error, "could not join the room the owner invited the bot to");
            return Ok(());
        }
        if self.leave_if_encrypted(room_id, &invite.event_id).await? {
            return Ok(());
        }
        if *inviter != self.ids.owner {
            // The Telegram side adopts the room as a portal; no greeting.
            return Ok(());
        }
        let adopt = invite.content.is_direct == Some(true) && self.management_room().is_none();
        if adopt {
            self.store.set_management_room(Some(room_id))?;
            self.set_cached_management_room(Some(room_id.to_owned()));
            info!(%room_id, "the owner's direct room is now the management room");
            self.greet(room_id).await?;
        } else {
            let notice =
                Notice::text("Hello! In this room, start commands with `!tg`, e.g. `!tg help`.");
            let txn_id = txn::derived("joined", &[room_id.as_str()]);
            self.send_notice(room_id, txn_id, &notice).await?;
        }
        Ok(())
    }

    fn forget_if_management(&self, room_id: &RoomId, why: &str) -> Result<(), CoreError> {
        if self.management_room().as_deref() == Some(room_id) {
            self.store.set_management_room(None)?;
            self.set_cached_management_room(None);
            info!(%room_id, why, "management room forgotten; a new one is created at the next start");
        }
        Ok(())
    }

    /// Leaves (or declines an invite to) `room_id`; failures are only logged
    /// because there is nothing else to do about them.
    async fn leave(&self, room_id: &RoomId, reason: &str) {
        let mut request = leave_room::v3::Request::new(room_id.to_owned());
        request.reason = Some(reason.to_owned());
        if let Err(error) = self.client.as_bot().send(request).await {
            warn!(%room_id, %error, "could not leave the room");
        }
    }

    fn log_ignored_once(&self, sender: &UserId, what: &'static str) {
        let first = self
            .ignored_senders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((sender.to_owned(), what));
        if first {
            info!(%sender, "{what} (logged once per user)");
        }
    }

    async fn on_message(
        &self,
        room_id: &RoomId,
        event: OriginalSyncRoomMessageEvent,
        received: Instant,
    ) -> Result<(), CoreError> {
        if self.is_bot(&event.sender) || self.is_ghost(&event.sender) {
            return Ok(());
        }
        let MessageType::Text(text) = &event.content.msgtype else {
            return Ok(());
        };
        if matches!(event.content.relates_to, Some(Relation::Replacement(_))) {
            return Ok(());
        }
        if event.sender != self.ids.owner {
            self.log_ignored_once(
                &event.sender,
                "message ignored: only the owner can use the bridge",
            );
            return Ok(());
        }
        let in_management_room = self.management_room().as_deref() == Some(room_id);
        let command = commands::parse(&text.body, in_management_room);
        let answers_login = matches!(command, None | Some(Command::Unknown { .. }));
        if answers_login
            && self
                .login
                .get()
                .is_some_and(|hub| hub.offer(room_id, event.event_id.clone(), &text.body))
        {
            return Ok(());
        }
        let Some(command) = command else {
            return Ok(());
        };
        // Commands about Telegram chats are answered by the Telegram side.
        let notice = match TelegramRequest::for_command(command, room_id) {
            Ok(request) if self.telegram.get().is_some() => {
                self.forward_to_telegram(request);
                return Ok(());
            }
            Ok(_) => {
                Notice::text("Telegram is not connected: log in first (send `login` for how).")
            }
            Err(command) => self.execute(command, room_id, in_management_room).await?,
        };
        let txn_id = txn::derived("reply", &[event.event_id.as_str()]);
        let own_share = received.elapsed();
        debug!(
            target: "tgbridge::timing",
            own_share_us = own_share.as_micros() as u64,
            "command answered"
        );
        let sending = Instant::now();
        self.send_notice(room_id, txn_id, &notice).await?;
        // The homeserver's part of the reply, for the same benchmark.
        debug!(
            target: "tgbridge::timing",
            reply_send_us = sending.elapsed().as_micros() as u64,
            "answer sent"
        );
        Ok(())
    }

    async fn send_notice(
        &self,
        room_id: &RoomId,
        txn_id: OwnedTransactionId,
        notice: &Notice,
    ) -> Result<(), MatrixError> {
        let content =
            RoomMessageEventContent::notice_html(notice.plain.clone(), notice.html.clone());
        let request = send_message_event::v3::Request::new(room_id.to_owned(), txn_id, &content)
            .map_err(|e| MatrixError::Build {
                endpoint: "message::send_message_event",
                message: e.to_string(),
            })?;
        if let Err(error) = self.client.as_bot().send(request).await {
            // An answer that cannot be delivered is not worth a retried transaction.
            error!(%room_id, %error, "could not send the bot's answer");
        }
        Ok(())
    }

    // ---- commands ----------------------------------------------------------

    async fn execute(
        &self,
        command: Command,
        room_id: &RoomId,
        in_management_room: bool,
    ) -> Result<Notice, CoreError> {
        Ok(match command {
            Command::Help { topic } => commands::help(topic.as_deref(), in_management_room),
            Command::Version => Notice::text(&format!("tgbridge {}", env!("CARGO_PKG_VERSION"))),
            Command::Ping => self.ping().await?,
            Command::Cancel => match self.login.get() {
                Some(hub) => hub.cancel().await,
                None => None,
            }
            .unwrap_or_else(|| {
                Notice::text("Nothing to cancel: no command is waiting for an answer.")
            }),
            Command::Logout => self.logout().await?,
            Command::Login => self.login(room_id).await?,
            Command::Sync { all } => self.request_sync(all),
            // Turned into requests of the Telegram side before this.
            Command::Pm { .. }
            | Command::Id
            | Command::Unbridge { .. }
            | Command::DeletePortal { .. }
            | Command::Topics { .. }
            | Command::Filter { .. } => {
                Notice::text("This command is answered by the Telegram side.")
            }
            Command::Unknown { name, suggestion } => {
                commands::unknown(&name, suggestion, in_management_room)
            }
        })
    }

    /// Hands a chat sync to the Telegram side, which reports when done.
    fn request_sync(&self, all: bool) -> Notice {
        let sent = self
            .telegram
            .get()
            .is_some_and(|requests| requests.send(TelegramRequest::Sync { all }).is_ok());
        if sent {
            Notice::text("Syncing your Telegram chats…")
        } else {
            Notice::text("Telegram is not connected: log in first (send `login` for how), then `sync` again.")
        }
    }

    /// Connects the core to the running Telegram side (once per process).
    pub fn set_telegram_requests(&self, requests: mpsc::UnboundedSender<TelegramRequest>) {
        // A second call would mean a second Telegram side; the first stays.
        let _ = self.telegram.set(requests);
    }

    async fn ping(&self) -> Result<Notice, CoreError> {
        let telegram = match self.store.telegram_account().await? {
            Some(account) => format!("Logged into Telegram as {}.", account.describe()),
            None => {
                "Not logged into Telegram. Run `tgbridge login` on the machine running the bridge."
                    .to_owned()
            }
        };
        let homeserver = match self.homeserver_round_trip().await {
            Ok(rtt) => format!("Homeserver round trip: {} ms.", rtt.as_millis()),
            Err(error) => format!("The homeserver did not answer: {error}"),
        };
        Ok(Notice::text(&telegram).paragraph(&homeserver))
    }

    async fn homeserver_round_trip(&self) -> Result<Duration, MatrixError> {
        let started = Instant::now();
        let request = ruma::api::client::account::whoami::v3::Request::new();
        self.client
            .as_bot()
            .send_with(request, crate::matrix::RetryPolicy::no_retry())
            .await?;
        Ok(started.elapsed())
    }

    async fn logout(&self) -> Result<Notice, CoreError> {
        if self.store.telegram_account().await?.is_none() {
            return Ok(Notice::text("You are not logged into Telegram."));
        }
        let remote = self.store.log_out_telegram().await?;
        info!("logged out of Telegram by the owner's command");
        let mut notice = Notice::text("Logged out of Telegram.");
        if let Some(remote) = remote {
            notice = notice.paragraph(&remote);
        }
        Ok(notice.paragraph("Portal rooms are kept; run `tgbridge login` to log in again."))
    }

    async fn login(&self, room_id: &RoomId) -> Result<Notice, CoreError> {
        if let Some(account) = self.store.telegram_account().await? {
            return Ok(Notice::text(&format!(
                "You are already logged into Telegram as {}. Send `logout` first to switch accounts.",
                account.describe()
            )));
        }
        Ok(match self.login.get() {
            Some(hub) => hub.begin(room_id).await,
            None => Self::login_help(),
        })
    }

    fn login_help() -> Notice {
        Notice::text("Log into Telegram in a terminal on the machine running the bridge:")
            .code_block("tgbridge login")
            .paragraph("It asks for your phone number, the code Telegram sends you and, if set, your two-step verification password, which never passes through the homeserver. Bots log in with `tgbridge login --bot-token`.")
    }
}

impl<P: BridgePersistence> AppserviceHandler for Core<P> {
    async fn accept_transaction(
        &self,
        txn_id: OwnedTransactionId,
        transaction: Transaction,
    ) -> Result<(), HandlerError> {
        let received = Instant::now();
        self.process_transaction(txn_id.as_str(), transaction, received)
            .await
            .map_err(HandlerError::new)
    }

    async fn query_user(&self, user_id: OwnedUserId) -> Result<bool, HandlerError> {
        let ours = self.is_bot(&user_id) || self.is_valid_ghost(&user_id);
        if !ours {
            return Ok(false);
        }
        // Ghosts are created lazily; the homeserver asks before it would
        // otherwise answer "no such user".
        self.client
            .ensure_registered(&user_id)
            .await
            .map(|()| true)
            .map_err(HandlerError::new)
    }

    async fn query_room_alias(&self, _alias: OwnedRoomAliasId) -> Result<bool, HandlerError> {
        // No aliases are bridged yet; portals may answer here later.
        Ok(false)
    }

    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// What a transaction is remembered by: its id and what it carries. A
/// homeserver retrying a transaction sends the same events under the same
/// id; but Synapse on SQLite numbers its transactions from 1 again after a
/// restart once every earlier one was delivered, and an id alone would make
/// its new transactions look like ones already processed. A retry may leave
/// the ephemeral events out, so they count only when there are no events.
fn transaction_key(txn_id: &str, transaction: &Transaction) -> String {
    use sha2::{Digest, Sha256};
    let mut digest = Sha256::new();
    if transaction.events.is_empty() {
        for raw in &transaction.ephemeral {
            digest.update(raw.json().get());
            digest.update(b"\n");
        }
    } else {
        for raw in &transaction.events {
            match raw.get_field::<String>("event_id") {
                Ok(Some(event_id)) => digest.update(event_id),
                _ => digest.update(raw.json().get()),
            }
            digest.update(b"\n");
        }
    }
    let hash: String = digest.finalize()[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{txn_id}#{hash}")
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::bridge::persistence::TelegramAccount;
    use crate::matrix::fake_homeserver::FakeHomeserver;
    use crate::matrix::{ClientSettings, RetryPolicy};

    /// The database, in memory.
    #[derive(Default)]
    struct MemoryStore {
        transactions: Mutex<HashSet<String>>,
        management_room: Mutex<Option<String>>,
        logged_in: AtomicBool,
        portals: Mutex<HashSet<String>>,
        outbox: Mutex<Vec<QueuedEvent>>,
        watermark: Mutex<Option<u64>>,
        device_token: Mutex<Option<String>>,
        handled: Mutex<HashSet<String>>,
    }

    impl MemoryStore {
        /// Queues the events not seen before, as the real store does.
        fn queue_new(&self, queued: &[QueuedEvent]) -> Vec<QueuedEvent> {
            let mut outbox = self.outbox.lock().unwrap();
            let fresh: Vec<QueuedEvent> = queued
                .iter()
                .filter(|q| !outbox.iter().any(|o| o.event_id == q.event_id))
                .cloned()
                .collect();
            outbox.extend_from_slice(&fresh);
            fresh
        }
    }

    impl BridgePersistence for MemoryStore {
        fn transaction_processed(&self, txn_id: &str) -> Result<bool, PersistenceError> {
            Ok(self.transactions.lock().unwrap().contains(txn_id))
        }
        fn record_transaction(&self, txn_id: &str) -> Result<(), PersistenceError> {
            self.transactions.lock().unwrap().insert(txn_id.to_owned());
            Ok(())
        }
        fn record_transaction_with_outbox(
            &self,
            txn_id: &str,
            queued: &[QueuedEvent],
            newest_event_ts: Option<u64>,
        ) -> Result<(), PersistenceError> {
            self.queue_new(queued);
            let mut watermark = self.watermark.lock().unwrap();
            *watermark = (*watermark).max(newest_event_ts);
            self.record_transaction(txn_id)
        }
        fn queue_missed(
            &self,
            queued: &[QueuedEvent],
        ) -> Result<Vec<QueuedEvent>, PersistenceError> {
            Ok(self.queue_new(queued))
        }
        fn was_queued(&self, event_id: &ruma::EventId) -> Result<bool, PersistenceError> {
            Ok(self.handled.lock().unwrap().contains(event_id.as_str())
                || self
                    .outbox
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|q| q.event_id == event_id))
        }
        fn remember_handled(
            &self,
            room_id: &ruma::RoomId,
            event_id: &ruma::EventId,
        ) -> Result<(), PersistenceError> {
            let _ = room_id;
            self.handled.lock().unwrap().insert(event_id.to_string());
            Ok(())
        }
        fn event_watermark(&self) -> Result<Option<u64>, PersistenceError> {
            Ok(*self.watermark.lock().unwrap())
        }
        fn bot_device_token(&self) -> Result<Option<String>, PersistenceError> {
            Ok(self.device_token.lock().unwrap().clone())
        }
        fn set_bot_device_token(&self, token: &str) -> Result<(), PersistenceError> {
            *self.device_token.lock().unwrap() = Some(token.to_owned());
            Ok(())
        }
        fn bot_sync_position(&self) -> Result<Option<String>, PersistenceError> {
            Ok(None)
        }
        fn set_bot_sync_position(&self, _position: &str) -> Result<(), PersistenceError> {
            Ok(())
        }
        fn portal_rooms(&self) -> Result<Vec<ruma::OwnedRoomId>, PersistenceError> {
            Ok(self
                .portals
                .lock()
                .unwrap()
                .iter()
                .filter_map(|room| ruma::OwnedRoomId::try_from(room.as_str()).ok())
                .collect())
        }
        fn is_portal_room(&self, room_id: &RoomId) -> Result<bool, PersistenceError> {
            Ok(self.portals.lock().unwrap().contains(room_id.as_str()))
        }
        fn prune_transactions(&self, _age: Duration) -> Result<usize, PersistenceError> {
            Ok(0)
        }
        fn management_room(&self) -> Result<Option<OwnedRoomId>, PersistenceError> {
            Ok(self
                .management_room
                .lock()
                .unwrap()
                .clone()
                .map(|room| OwnedRoomId::try_from(room).unwrap()))
        }
        fn set_management_room(&self, room_id: Option<&RoomId>) -> Result<(), PersistenceError> {
            *self.management_room.lock().unwrap() = room_id.map(ToString::to_string);
            Ok(())
        }
        async fn telegram_account(&self) -> Result<Option<TelegramAccount>, PersistenceError> {
            Ok(self
                .logged_in
                .load(Ordering::SeqCst)
                .then(|| TelegramAccount {
                    user_id: 42,
                    is_bot: false,
                    username: Some("ann".into()),
                    display_name: Some("Ann".into()),
                }))
        }
        async fn log_out_telegram(&self) -> Result<Option<String>, PersistenceError> {
            self.logged_in.store(false, Ordering::SeqCst);
            Ok(Some("Logged out at Telegram.".into()))
        }
    }

    /// The answers of the few endpoints the core uses; the management-room
    /// check (`m.room.member` state) is scripted per test.
    fn answer_as_the_core_expects(fake: &FakeHomeserver) {
        fake.answer_containing("/createRoom", 200, json!({ "room_id": "!new:localhost" }));
        fake.answer_containing("/send/", 200, json!({ "event_id": "$sent" }));
        set_member_status(fake, 200);
        for fragment in ["/join", "/leave"] {
            fake.answer_containing(fragment, 200, json!({ "room_id": "!joined:localhost" }));
        }
        fake.answer_containing(
            "/account/whoami",
            200,
            json!({ "user_id": "@telegrambot:localhost" }),
        );
    }

    /// How the homeserver answers the check that the owner is in the
    /// management room.
    fn set_member_status(fake: &FakeHomeserver, status: u16) {
        fake.answer_containing(
            "/state/m.room.member/",
            status,
            json!({ "membership": "join", "errcode": "M_FORBIDDEN" }),
        );
    }

    async fn setup() -> (Core<MemoryStore>, Arc<FakeHomeserver>, Arc<MemoryStore>) {
        let (fake, port) = FakeHomeserver::start().await;
        answer_as_the_core_expects(&fake);
        let client = MatrixClient::new(ClientSettings {
            homeserver_url: format!("http://127.0.0.1:{port}").parse().unwrap(),
            as_token: "as".into(),
            bot_user_id: "@telegrambot:localhost".try_into().unwrap(),
            retry: RetryPolicy::no_retry(),
        })
        .unwrap();
        let store = Arc::new(MemoryStore::default());
        let ids = Identities {
            owner: "@owner:localhost".try_into().unwrap(),
            ghost_localpart_prefix: "telegram_".into(),
        };
        (Core::new(client, store.clone(), ids), fake, store)
    }

    fn message(room: &str, sender: &str, event_id: &str, body: &str) -> Value {
        json!({
            "type": "m.room.message", "room_id": room, "sender": sender, "event_id": event_id,
            "origin_server_ts": 1, "content": { "msgtype": "m.text", "body": body }
        })
    }

    fn invite(room: &str, inviter: &str, is_direct: bool) -> Value {
        json!({
            "type": "m.room.member", "room_id": room, "sender": inviter, "event_id": format!("$inv{room}"),
            "state_key": "@telegrambot:localhost", "origin_server_ts": 1,
            "content": { "membership": "invite", "is_direct": is_direct }
        })
    }

    fn transaction(events: &[Value]) -> Transaction {
        crate::matrix::appservice::parse_transaction(
            json!({ "events": events }).to_string().as_bytes(),
        )
        .unwrap()
    }

    async fn push(core: &Core<MemoryStore>, txn_id: &str, events: &[Value]) {
        core.accept_transaction(txn_id.into(), transaction(events))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn creates_the_management_room_with_the_owner_and_greets() {
        let (core, fake, store) = setup().await;
        let room = core.ensure_management_room().await.unwrap();
        assert_eq!(room, "!new:localhost");
        assert_eq!(
            store.management_room().unwrap().as_deref(),
            Some(ruma::room_id!("!new:localhost"))
        );
        let create = &fake.requests("POST", "/createRoom")[0].body;
        assert_eq!(create["name"], MANAGEMENT_ROOM_NAME);
        assert_eq!(create["is_direct"], true);
        assert_eq!(create["invite"], json!(["@owner:localhost"]));
        let greeting = &fake.requests("PUT", "/send/m.room.message/")[0].body;
        assert_eq!(greeting["msgtype"], "m.notice");
        assert!(greeting["body"]
            .as_str()
            .unwrap()
            .contains("tgbridge login"));
    }

    #[tokio::test]
    async fn reuses_a_usable_management_room_and_replaces_a_gone_one() {
        let (core, fake, store) = setup().await;
        store
            .set_management_room(Some(ruma::room_id!("!old:localhost")))
            .unwrap();
        assert_eq!(
            core.ensure_management_room().await.unwrap(),
            "!old:localhost"
        );
        assert!(fake.requests("POST", "/createRoom").is_empty());

        set_member_status(&fake, 403);
        assert_eq!(
            core.ensure_management_room().await.unwrap(),
            "!new:localhost"
        );
        assert_eq!(fake.requests("POST", "/createRoom").len(), 1);

        // A failing homeserver is not "gone": no second room.
        set_member_status(&fake, 502);
        assert!(core.ensure_management_room().await.is_err());
        assert_eq!(fake.requests("POST", "/createRoom").len(), 1);
    }

    #[tokio::test]
    async fn after_an_outage_the_portals_are_read_back_once_before_the_next_transaction() {
        let (core, fake, store) = setup().await;
        store
            .portals
            .lock()
            .unwrap()
            .insert("!portal:localhost".into());
        *store.watermark.lock().unwrap() = Some(1_000);
        let reads = || {
            fake.seen()
                .iter()
                .filter(|seen| seen.path.ends_with("/messages"))
                .count()
        };
        push(&core, "t1", &[]).await;
        assert_eq!(reads(), 0, "no outage, nothing to read back");
        core.homeserver_went_away();
        core.homeserver_went_away();
        push(&core, "t2", &[]).await;
        assert_eq!(reads(), 1, "the first transaction after the outage");
        core.homeserver_is_back().await;
        push(&core, "t3", &[]).await;
        assert_eq!(reads(), 1, "once per outage");
        core.homeserver_went_away();
        core.homeserver_is_back().await;
        assert_eq!(reads(), 2, "the next outage");
    }

    #[test]
    fn a_reused_transaction_id_with_new_events_is_a_new_transaction() {
        let parse = |body: Value| {
            crate::matrix::appservice::parse_transaction(body.to_string().as_bytes()).unwrap()
        };
        let event = |id: &str| {
            json!({ "type": "m.room.message", "event_id": id, "room_id": "!r:localhost",
                    "sender": "@o:localhost", "origin_server_ts": 1,
                    "content": { "msgtype": "m.text", "body": "hi" } })
        };
        let typing = json!({ "type": "m.typing", "room_id": "!r:localhost",
                             "content": { "user_ids": ["@o:localhost"] } });
        let first = parse(json!({ "events": [event("$a")], "ephemeral": [typing] }));
        // A retry may leave the ephemeral events out: still the same.
        let retried = parse(json!({ "events": [event("$a")] }));
        let reused = parse(json!({ "events": [event("$b")] }));
        assert_eq!(transaction_key("7", &first), transaction_key("7", &retried));
        assert_ne!(transaction_key("7", &first), transaction_key("7", &reused));
        assert_ne!(transaction_key("7", &first), transaction_key("8", &first));
        let typing_only = parse(json!({ "events": [], "ephemeral": [typing] }));
        let nothing = parse(json!({ "events": [] }));
        assert_ne!(
            transaction_key("7", &typing_only),
            transaction_key("7", &nothing)
        );
        assert!(transaction_key("7", &first).starts_with("7#"));
    }

    #[tokio::test]
    async fn owner_commands_are_answered_once_per_transaction() {
        let (core, fake, store) = setup().await;
        store
            .set_management_room(Some(ruma::room_id!("!m:localhost")))
            .unwrap();
        core.ensure_management_room().await.unwrap();
        let events = [message(
            "!m:localhost",
            "@owner:localhost",
            "$c1",
            "version",
        )];
        push(&core, "t1", &events).await;
        push(&core, "t1", &events).await;
        let sends = fake.requests("PUT", "/send/m.room.message/");
        assert_eq!(
            sends.len(),
            1,
            "a repeated transaction is acknowledged, not processed"
        );
        assert_eq!(
            sends[0].body["body"],
            format!("tgbridge {}", env!("CARGO_PKG_VERSION"))
        );
        assert!(sends[0].path.ends_with("/reply-_24c1"), "{}", sends[0].path);
        assert!(sends[0].query.is_none(), "the bot answers as itself");
    }

    #[tokio::test]
    async fn the_echo_of_the_bridges_own_messages_is_not_recorded() {
        let (core, _fake, store) = setup().await;
        let echo = [
            message("!p:localhost", "@telegram_42:localhost", "$g1", "hi"),
            message("!m:localhost", "@telegrambot:localhost", "$b1", "notice"),
        ];
        push(&core, "t1", &echo).await;
        assert!(store.transactions.lock().unwrap().is_empty());
        // One event of anyone else and the transaction is recorded.
        let mixed = [
            message("!p:localhost", "@telegram_42:localhost", "$g2", "hi"),
            message("!p:localhost", "@owner:localhost", "$o1", "hello"),
        ];
        push(&core, "t2", &mixed).await;
        assert_eq!(store.transactions.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn an_owner_command_that_arrives_twice_is_answered_once() {
        let (core, fake, store) = setup().await;
        store
            .set_management_room(Some(ruma::room_id!("!m:localhost")))
            .unwrap();
        core.ensure_management_room().await.unwrap();
        let events = [message(
            "!m:localhost",
            "@owner:localhost",
            "$c2",
            "version",
        )];
        // The same event twice, as when the bot's sync brought it before a
        // held-back transaction did.
        push(&core, "t1", &events).await;
        push(&core, "t2", &events).await;
        assert_eq!(fake.requests("PUT", "/send/m.room.message/").len(), 1);
        // A different command is still answered.
        let next = [message(
            "!m:localhost",
            "@owner:localhost",
            "$c3",
            "version",
        )];
        push(&core, "t3", &next).await;
        assert_eq!(fake.requests("PUT", "/send/m.room.message/").len(), 2);
    }

    #[tokio::test]
    async fn prefix_is_needed_outside_the_management_room() {
        let (core, fake, store) = setup().await;
        store
            .set_management_room(Some(ruma::room_id!("!m:localhost")))
            .unwrap();
        core.ensure_management_room().await.unwrap();
        push(
            &core,
            "t1",
            &[message(
                "!other:localhost",
                "@owner:localhost",
                "$a",
                "version",
            )],
        )
        .await;
        assert!(fake.requests("PUT", "/send/").is_empty());
        push(
            &core,
            "t2",
            &[message(
                "!other:localhost",
                "@owner:localhost",
                "$b",
                "!tg hlep",
            )],
        )
        .await;
        let sends = fake.requests("PUT", "/send/");
        assert_eq!(sends.len(), 1);
        assert!(sends[0].body["body"]
            .as_str()
            .unwrap()
            .contains("Did you mean `!tg help`?"));
    }

    #[tokio::test]
    async fn strangers_are_ignored_and_their_invites_declined() {
        let (core, fake, store) = setup().await;
        store
            .set_management_room(Some(ruma::room_id!("!m:localhost")))
            .unwrap();
        core.ensure_management_room().await.unwrap();
        push(
            &core,
            "t1",
            &[message("!m:localhost", "@eve:localhost", "$e", "logout")],
        )
        .await;
        store.logged_in.store(true, Ordering::SeqCst);
        push(
            &core,
            "t2",
            &[message("!m:localhost", "@eve:localhost", "$e2", "logout")],
        )
        .await;
        assert!(
            store.logged_in.load(Ordering::SeqCst),
            "a stranger cannot log the owner out"
        );
        assert!(fake.requests("PUT", "/send/").is_empty());

        push(
            &core,
            "t3",
            &[invite("!evil:localhost", "@eve:localhost", true)],
        )
        .await;
        let leaves = fake.requests("POST", "/leave");
        assert_eq!(leaves.len(), 1);
        assert!(leaves[0].path.contains("!evil:localhost"));
        assert!(leaves[0].body["reason"].as_str().unwrap().contains("owner"));
        assert!(fake.requests("POST", "/join").is_empty());
    }

    #[tokio::test]
    async fn the_owners_direct_invite_becomes_the_management_room_when_there_is_none() {
        let (core, fake, store) = setup().await;
        push(
            &core,
            "t1",
            &[invite("!dm:localhost", "@owner:localhost", true)],
        )
        .await;
        assert_eq!(fake.requests("POST", "/join").len(), 1);
        assert_eq!(
            store.management_room().unwrap().as_deref(),
            Some(ruma::room_id!("!dm:localhost"))
        );
        assert_eq!(
            core.management_room().as_deref().map(|r| r.as_str()),
            Some("!dm:localhost")
        );

        // A later group invite is joined but does not replace it.
        push(
            &core,
            "t2",
            &[invite("!group:localhost", "@owner:localhost", false)],
        )
        .await;
        assert_eq!(fake.requests("POST", "/join").len(), 2);
        assert_eq!(
            store.management_room().unwrap().as_deref(),
            Some(ruma::room_id!("!dm:localhost"))
        );
    }

    #[tokio::test]
    async fn the_owner_leaving_the_management_room_retires_it() {
        let (core, fake, store) = setup().await;
        store
            .set_management_room(Some(ruma::room_id!("!m:localhost")))
            .unwrap();
        core.ensure_management_room().await.unwrap();
        let leave = json!({
            "type": "m.room.member", "room_id": "!m:localhost", "sender": "@owner:localhost",
            "event_id": "$left", "state_key": "@owner:localhost", "origin_server_ts": 1,
            "content": { "membership": "leave" }
        });
        push(&core, "t1", &[leave]).await;
        assert_eq!(store.management_room().unwrap(), None);
        assert_eq!(core.management_room(), None);
        assert_eq!(fake.requests("POST", "/leave").len(), 1);
        // Without a management room every room needs the prefix.
        push(
            &core,
            "t2",
            &[message("!m:localhost", "@owner:localhost", "$v", "version")],
        )
        .await;
        assert!(fake.requests("PUT", "/send/").is_empty());
    }

    #[tokio::test]
    async fn logout_clears_the_login_and_ping_reports_it() {
        let (core, fake, store) = setup().await;
        store
            .set_management_room(Some(ruma::room_id!("!m:localhost")))
            .unwrap();
        core.ensure_management_room().await.unwrap();
        store.logged_in.store(true, Ordering::SeqCst);
        push(
            &core,
            "t1",
            &[message("!m:localhost", "@owner:localhost", "$p", "ping")],
        )
        .await;
        push(
            &core,
            "t2",
            &[message("!m:localhost", "@owner:localhost", "$l", "logout")],
        )
        .await;
        assert!(!store.logged_in.load(Ordering::SeqCst));
        let bodies: Vec<String> = fake
            .requests("PUT", "/send/")
            .iter()
            .map(|s| s.body["body"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            bodies[0].contains("Logged into Telegram as Ann (@ann)"),
            "{bodies:?}"
        );
        assert!(bodies[0].contains("Homeserver round trip"), "{bodies:?}");
        assert!(
            bodies[1].starts_with("Logged out of Telegram"),
            "{bodies:?}"
        );
    }

    #[tokio::test]
    async fn owner_messages_use_the_double_puppet_only_when_allowed() {
        let (core, _fake, _store) = setup().await;
        let ghost: OwnedUserId = "@telegram_42:localhost".try_into().unwrap();
        assert_eq!(core.owner_sender(&ghost), ghost);
        core.set_double_puppet(true);
        assert_eq!(core.owner_sender(&ghost), "@owner:localhost");
    }

    #[tokio::test]
    async fn owner_events_in_portals_are_queued_with_the_transaction() {
        let (core, fake, store) = setup().await;
        store
            .set_management_room(Some(ruma::room_id!("!m:localhost")))
            .unwrap();
        core.ensure_management_room().await.unwrap();
        store
            .portals
            .lock()
            .unwrap()
            .insert("!portal:localhost".to_owned());
        let (requests, mut received) = mpsc::unbounded_channel();
        core.set_telegram_requests(requests);
        let mut echo = message("!portal:localhost", "@owner:localhost", "$echo", "from tg");
        echo["content"][outbound_route::DOUBLE_PUPPET_MARKER] = json!("tgbridge");
        // Conduit shows the transaction id of the owner's own client.
        let mut hi = message("!portal:localhost", "@owner:localhost", "$hi", "hi");
        hi["unsigned"] = json!({ "transaction_id": "m1700000000.1" });
        let events = [
            hi,
            message(
                "!portal:localhost",
                "@owner:localhost",
                "$cmd",
                "!tg version",
            ),
            message("!portal:localhost", "@eve:localhost", "$eve", "hi"),
            message("!other:localhost", "@owner:localhost", "$else", "hi"),
            message("!m:localhost", "@owner:localhost", "$mgmt", "hello"),
            echo,
        ];
        let body = json!({
            "events": events,
            "ephemeral": [
                { "type": "m.typing", "room_id": "!portal:localhost",
                  "content": { "user_ids": ["@owner:localhost"] } },
                { "type": "m.receipt", "room_id": "!portal:localhost",
                  "content": { "$hi": { "m.read": { "@owner:localhost": { "ts": 1 } } } } }
            ]
        });
        let transaction =
            crate::matrix::appservice::parse_transaction(body.to_string().as_bytes()).unwrap();
        core.accept_transaction("t1".into(), transaction)
            .await
            .unwrap();
        core.accept_transaction("t1".into(), Transaction::default())
            .await
            .unwrap();

        let queued = store.outbox.lock().unwrap().clone();
        assert_eq!(queued.len(), 1, "{queued:?}");
        assert_eq!(queued[0].event_id, "$hi");
        assert_eq!(queued[0].room_id, "!portal:localhost");
        let json: Value = serde_json::from_str(&queued[0].event_json).unwrap();
        assert_eq!(json["content"]["body"], "hi");
        // The command in the portal is still answered as one.
        let answers = fake.requests("PUT", "/send/m.room.message/");
        assert!(answers.iter().any(|a| a.path.contains("!portal:localhost")));

        let mut forwarded = Vec::new();
        while let Ok(request) = received.try_recv() {
            forwarded.push(request);
        }
        let portal: OwnedRoomId = "!portal:localhost".try_into().unwrap();
        assert_eq!(
            forwarded,
            vec![
                TelegramRequest::OutboxQueued {
                    room_id: portal.clone()
                },
                TelegramRequest::Typing {
                    room_id: portal.clone(),
                    typing: true
                },
                TelegramRequest::ReadUpTo {
                    room_id: portal,
                    event_id: "$hi".try_into().unwrap()
                },
            ]
        );
    }

    #[tokio::test]
    async fn the_owners_room_changes_and_portal_commands_go_to_the_telegram_side() {
        let (core, fake, store) = setup().await;
        store
            .set_management_room(Some(ruma::room_id!("!m:localhost")))
            .unwrap();
        core.ensure_management_room().await.unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        core.set_telegram_requests(tx);
        let serial = std::cell::Cell::new(0);
        let state = |sender: &str, kind: &str, content: Value| {
            serial.set(serial.get() + 1);
            json!({
                "type": kind, "room_id": "!p:localhost", "sender": sender,
                "event_id": format!("$state{}", serial.get()), "state_key": "", "origin_server_ts": 1,
                "content": content
            })
        };
        push(
            &core,
            "t1",
            &[
                state(
                    "@owner:localhost",
                    "m.room.topic",
                    json!({ "topic": "Walks" }),
                ),
                state(
                    "@owner:localhost",
                    "m.room.avatar",
                    json!({ "url": "mxc://localhost/a" }),
                ),
                state("@owner:localhost", "m.room.avatar", json!({})),
                // The bridge's own changes and strangers' are not sent back.
                state(
                    "@telegrambot:localhost",
                    "m.room.topic",
                    json!({ "topic": "Echo" }),
                ),
                state("@eve:localhost", "m.room.topic", json!({ "topic": "Eve" })),
                message(
                    "!p:localhost",
                    "@owner:localhost",
                    "$u",
                    "!tg unbridge confirm",
                ),
                message(
                    "!p:localhost",
                    "@owner:localhost",
                    "$d",
                    "!tg delete-portal",
                ),
                message(
                    "!m:localhost",
                    "@owner:localhost",
                    "$f",
                    "filter deny @spam",
                ),
            ],
        )
        .await;
        let mut seen = Vec::new();
        while let Ok(request) = rx.try_recv() {
            seen.push(request);
        }
        let room: OwnedRoomId = "!p:localhost".try_into().unwrap();
        assert_eq!(
            seen,
            vec![
                TelegramRequest::Topic {
                    room_id: room.clone(),
                    topic: "Walks".into()
                },
                TelegramRequest::Avatar {
                    room_id: room.clone(),
                    url: Some("mxc://localhost/a".into())
                },
                TelegramRequest::Avatar {
                    room_id: room.clone(),
                    url: None
                },
                TelegramRequest::Unbridge {
                    room_id: room.clone(),
                    delete: false,
                    confirmed: true,
                    target: None
                },
                TelegramRequest::Unbridge {
                    room_id: room,
                    delete: true,
                    confirmed: false,
                    target: None
                },
                TelegramRequest::Filter {
                    room_id: "!m:localhost".try_into().unwrap(),
                    change: Some(commands::FilterChange {
                        allow: false,
                        target: Some("@spam".into())
                    })
                },
            ]
        );
        assert!(
            fake.requests("PUT", "/send/").is_empty(),
            "the Telegram side answers these"
        );
    }

    #[tokio::test]
    async fn user_queries_register_valid_ghosts_only() {
        let (core, fake, _store) = setup().await;
        let query = |id: &str| core.query_user(id.try_into().unwrap());
        assert!(!query("@telegram_abc:localhost").await.unwrap());
        assert!(!query("@alice:localhost").await.unwrap());
        assert!(!query("@telegram_1:elsewhere").await.unwrap());
        assert!(fake.requests("POST", "/register").is_empty());
        // The fake answers 404 to /register, which is an error worth a 500.
        assert!(query("@telegram_123:localhost").await.is_err());
        assert_eq!(fake.requests("POST", "/register").len(), 1);
        assert_eq!(
            fake.requests("POST", "/register")[0].body["username"],
            "telegram_123"
        );
    }
}
