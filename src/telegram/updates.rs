//! The running Telegram side: starts the grammers client on the stored
//! session, reads the update stream (catching up on what happened while the
//! bridge was offline) and turns it into [`TgEvent`]s on an unbounded channel,
//! so the stream is never blocked by Matrix I/O. Each lasting event is
//! recorded in the caller's journal (see [`super::journal`]) before the
//! update state that covers it is saved into the session, so an event read
//! is never lost to a crash. It sleeps through flood waits instead of
//! crash-looping, and stops for good when Telegram says the session is gone.
//!
//! It knows nothing about Matrix or portals: what to do with an event is the
//! bridge core's business.

use std::sync::Arc;
use std::time::Duration;

use grammers_client::message::Message;
use grammers_client::peer::User;
use grammers_client::sender::UpdatesConfiguration;
use grammers_client::update::Update;
use grammers_client::Client;
use grammers_mtsender::InvocationError;
use grammers_session::types::PeerId;
use grammers_session::updates::UpdatesLike;
use grammers_session::Session;
use grammers_tl_types as tl;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::client::{ClientOptions, TelegramClient, UPDATES_QUEUE};
use super::event::TgEvent;
use super::journal::{DurableEvent, EventJournal, Received};
use super::unreadable;

/// How often the update state is written to the session while updates flow,
/// so a crash repeats at most this much of the stream (deduplicated later by
/// the message map). Every event the saved state covers is in the journal.
const STATE_SYNC_INTERVAL: Duration = Duration::from_secs(5);

/// The longest single pause after a flood wait or a failing stream; longer
/// waits are taken in steps so a shutdown is never held up.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// RPC errors that mean the auth key no longer logs into the account.
const SESSION_GONE: &[&str] = &[
    "AUTH_KEY_UNREGISTERED",
    "SESSION_REVOKED",
    "AUTH_KEY_DUPLICATED",
    "SESSION_EXPIRED",
    "USER_DEACTIVATED",
    "USER_DEACTIVATED_BAN",
    "AUTH_KEY_INVALID",
];

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The stored session is no longer valid; the owner must log in again.
    #[error("Telegram no longer accepts the stored session ({0}); log in again")]
    SessionEnded(String),
    /// Telegram could not be reached or answered with an error.
    #[error("could not reach Telegram: {0}")]
    Call(#[from] InvocationError),
    /// The update stream could not be set up.
    #[error("could not start the Telegram update stream: {0}")]
    Updates(String),
}

/// The running client and its update reader.
pub struct TelegramRuntime {
    tg: TelegramClient,
    me: User,
    stop: watch::Sender<bool>,
    reader: JoinHandle<()>,
}

impl TelegramRuntime {
    /// Starts the client on `session`, checks the login (`users.getSelf`) and
    /// starts the update reader. Events arrive on the returned channel, each
    /// lasting one recorded in `journal` first.
    pub async fn start<S>(
        session: Arc<S>,
        api_id: i32,
        options: &ClientOptions,
        journal: Arc<dyn EventJournal>,
    ) -> Result<(Self, mpsc::UnboundedReceiver<Received>), RuntimeError>
    where
        S: Session + Sized,
        S::Error: std::error::Error + Send + Sync + 'static,
    {
        let mut tg = TelegramClient::start(session, api_id, options);
        let me = match tg.client().get_me().await {
            Ok(me) => me,
            Err(error) => {
                tg.shutdown().await;
                return Err(classify_start_error(error));
            }
        };
        let Some(raw_updates) = tg.take_updates() else {
            tg.shutdown().await;
            return Err(RuntimeError::Updates("update channel already taken".into()));
        };
        let (events, receiver) = mpsc::unbounded_channel();
        let (to_stream, from_connection) = mpsc::channel(UPDATES_QUEUE);
        tokio::spawn(watch_connection(raw_updates, to_stream, events.clone()));
        let stream = match tg
            .client()
            .stream_updates(from_connection, UpdatesConfiguration { catch_up: true })
            .await
        {
            Ok(stream) => stream,
            Err(error) => {
                tg.shutdown().await;
                return Err(RuntimeError::Updates(error.to_string()));
            }
        };
        let (stop, stopped) = watch::channel(false);
        let outlet = Outlet {
            events,
            journal,
            journal_failed: false,
        };
        let reader = tokio::spawn(read_updates(stream, outlet, stopped));
        info!(
            telegram_user = me.id().bare_id().unwrap_or_default(),
            "Telegram connected"
        );
        Ok((
            Self {
                tg,
                me,
                stop,
                reader,
            },
            receiver,
        ))
    }

    /// The grammers client, for calls (dialogs, messages, chat edits).
    pub fn client(&self) -> &Client {
        self.tg.client()
    }

    /// The logged-in account.
    pub fn me(&self) -> &User {
        &self.me
    }

    /// The logged-in account's Telegram user id.
    pub fn self_id(&self) -> i64 {
        self.me.id().bare_id().unwrap_or_default()
    }

    /// Stops the reader (saving the update state) and closes every connection.
    pub async fn shutdown(self) {
        // The reader may already have ended on its own; nothing to stop then.
        let _ = self.stop.send(true);
        if let Err(error) = self.reader.await {
            warn!(%error, "the Telegram update reader ended abnormally");
        }
        self.tg.shutdown().await;
    }
}

fn classify_start_error(error: InvocationError) -> RuntimeError {
    match session_gone(&error) {
        Some(name) => RuntimeError::SessionEnded(name),
        None => RuntimeError::Call(error),
    }
}

/// The error name when `error` says the session is no longer logged in.
pub fn session_gone(error: &InvocationError) -> Option<String> {
    match error {
        InvocationError::Rpc(rpc)
            if rpc.code == 401 || SESSION_GONE.contains(&rpc.name.as_str()) =>
        {
            Some(rpc.name.clone())
        }
        _ => None,
    }
}

/// How long Telegram asked us to wait, for `FLOOD_WAIT_X` / `FLOOD_PREMIUM_WAIT_X`.
pub fn flood_wait(error: &InvocationError) -> Option<Duration> {
    match error {
        InvocationError::Rpc(rpc) if rpc.code == 420 || rpc.name.starts_with("FLOOD") => {
            Some(Duration::from_secs(u64::from(rpc.value.unwrap_or(1))))
        }
        _ => None,
    }
}

/// The pause after the `failures`-th consecutive stream error: doubling from
/// one second, capped, so a broken connection never spins.
fn backoff(failures: u32) -> Duration {
    let secs = 1u64 << failures.min(16);
    Duration::from_secs(secs).min(MAX_BACKOFF)
}

/// What one step of the reader loop decided.
enum Step {
    Continue,
    Stop,
}

/// Where the reader hands events over: recorded in the journal first, then
/// sent to the bridge.
struct Outlet {
    events: mpsc::UnboundedSender<Received>,
    journal: Arc<dyn EventJournal>,
    /// Set when an event could not be recorded: from then on the update
    /// state is not saved, so the next start reads it from Telegram again.
    journal_failed: bool,
}

impl Outlet {
    /// Records and sends one event; `false` when nobody listens any more.
    fn deliver(&mut self, event: TgEvent) -> bool {
        let journal = match DurableEvent::of(&event).map(|durable| self.journal.record(&durable)) {
            Some(Ok(id)) => Some(id),
            Some(Err(error)) => {
                if !self.journal_failed {
                    tracing::error!(%error, "a Telegram event could not be recorded; the update state is no longer saved, so Telegram repeats the events after a restart");
                }
                self.journal_failed = true;
                None
            }
            None => None,
        };
        self.events.send(Received { event, journal }).is_ok()
    }
}

/// Passes what the connection receives on to grammers' update stream, and
/// tells the bridge each time the connection closed. grammers connects
/// again and asks for the difference itself; the bridge only needs to know
/// because some updates (reactions) are not part of any difference. Ends
/// when either side goes away.
async fn watch_connection(
    mut from_connection: mpsc::Receiver<UpdatesLike>,
    to_stream: mpsc::Sender<UpdatesLike>,
    events: mpsc::UnboundedSender<Received>,
) {
    while let Some(updates) = from_connection.recv().await {
        if matches!(updates, UpdatesLike::ConnectionClosed) {
            debug!("the Telegram connection closed");
            let lost = Received {
                event: TgEvent::ConnectionLost,
                journal: None,
            };
            if events.send(lost).is_err() {
                return;
            }
        }
        if to_stream.send(updates).await.is_err() {
            return;
        }
    }
}

async fn read_updates(
    mut stream: grammers_client::client::UpdateStream,
    mut outlet: Outlet,
    mut stopped: watch::Receiver<bool>,
) {
    let mut failures = 0u32;
    let mut last_sync = tokio::time::Instant::now();
    let mut unreadable = unreadable::Notices::default();
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            _ = stopped.wait_for(|stop| *stop) => break,
        };
        let step = match next {
            Ok(update) => {
                failures = 0;
                // An unreadable update shows up as grammers' difference
                // bringing its content, i.e. as this next update.
                let unread = unreadable
                    .due(unreadable::seen(), std::time::Instant::now())
                    .map(|count| TgEvent::UpdatesUnreadable { count });
                for event in unread.into_iter().chain(translate(update)) {
                    if !outlet.deliver(event) {
                        // Nobody listens any more: the bridge is stopping.
                        return save_state(&stream, &outlet).await;
                    }
                }
                Step::Continue
            }
            Err(error) => on_stream_error(&error, &mut outlet, &mut failures, &mut stopped).await,
        };
        if matches!(step, Step::Stop) {
            break;
        }
        if last_sync.elapsed() >= STATE_SYNC_INTERVAL {
            save_state(&stream, &outlet).await;
            last_sync = tokio::time::Instant::now();
        }
    }
    save_state(&stream, &outlet).await;
}

async fn on_stream_error(
    error: &InvocationError,
    outlet: &mut Outlet,
    failures: &mut u32,
    stopped: &mut watch::Receiver<bool>,
) -> Step {
    if let Some(reason) = session_gone(error) {
        warn!(%reason, "Telegram ended the session; the bridge stops using it");
        outlet.deliver(TgEvent::SessionEnded { reason });
        return Step::Stop;
    }
    let pause = match flood_wait(error) {
        Some(wait) => {
            warn!(
                seconds = wait.as_secs(),
                "Telegram asked to wait (flood wait)"
            );
            outlet.deliver(TgEvent::FloodWait(wait));
            wait
        }
        None => {
            *failures = failures.saturating_add(1);
            let pause = backoff(*failures);
            warn!(%error, retry_in_s = pause.as_secs(), "the Telegram update stream failed");
            pause
        }
    };
    tokio::select! {
        () = tokio::time::sleep(pause) => Step::Continue,
        _ = stopped.wait_for(|stop| *stop) => Step::Stop,
    }
}

async fn save_state(stream: &grammers_client::client::UpdateStream, outlet: &Outlet) {
    if outlet.journal_failed {
        return;
    }
    if let Err(error) = stream.sync_update_state().await {
        warn!(%error, "could not save the Telegram update state");
    }
}

/// Maps one grammers update to the bridge's events (none for what the bridge
/// does not handle).
fn translate(update: Update) -> Vec<TgEvent> {
    match update {
        Update::NewMessage(message) => {
            let message = message.into_inner();
            if let Some(event) = service_event(&message) {
                return event;
            }
            vec![TgEvent::NewMessage(Box::new(message))]
        }
        Update::MessageEdited(message) => {
            vec![TgEvent::MessageEdited(Box::new(message.into_inner()))]
        }
        Update::MessageDeleted(deletion) => {
            let chat = deletion.channel_id().and_then(PeerId::channel);
            vec![TgEvent::MessagesDeleted {
                chat,
                ids: deletion.into_messages(),
            }]
        }
        Update::Raw(raw) => raw_event(&raw.raw)
            .or_else(|| message_event(&raw.raw))
            .into_iter()
            .collect(),
        other => {
            debug!(kind = update_kind(&other), "Telegram update not bridged");
            Vec::new()
        }
    }
}

fn update_kind(update: &Update) -> &'static str {
    match update {
        Update::MessageDeleted(_) => "message deleted",
        Update::CallbackQuery(_) => "callback query",
        Update::InlineQuery(_) => "inline query",
        _ => "other",
    }
}

/// Service messages that change the chat itself become [`TgEvent::ChatChanged`]
/// (or a migration) in addition to being ordinary messages.
fn service_event(message: &Message) -> Option<Vec<TgEvent>> {
    use tl::enums::MessageAction as A;
    let chat = message.peer_id();
    let action = message.action()?;
    let changed = match action {
        A::ChatMigrateTo(to) => {
            let to = PeerId::channel(to.channel_id)?;
            return Some(vec![TgEvent::Migrated { from: chat, to }]);
        }
        A::ChatEditTitle(edit) => {
            return Some(vec![
                TgEvent::NewMessage(Box::new(message.clone())),
                TgEvent::TitleChanged {
                    chat,
                    title: edit.title.clone(),
                },
            ]);
        }
        A::ChatEditPhoto(_)
        | A::ChatDeletePhoto
        | A::ChatAddUser(_)
        | A::ChatDeleteUser(_)
        | A::ChatJoinedByLink(_)
        | A::ChatJoinedByRequest => true,
        _ => false,
    };
    changed.then(|| {
        vec![
            TgEvent::NewMessage(Box::new(message.clone())),
            TgEvent::ChatChanged(chat),
        ]
    })
}

fn raw_event(update: &tl::enums::Update) -> Option<TgEvent> {
    use tl::enums::Update as U;
    match update {
        U::ChatParticipants(_) | U::ChatParticipantAdd(_) | U::ChatParticipantDelete(_) => None,
        U::Channel(u) => PeerId::channel(u.channel_id).map(TgEvent::ChatChanged),
        U::ChannelParticipant(u) => PeerId::channel(u.channel_id).map(TgEvent::ChatChanged),
        U::ChatParticipantAdmin(u) => PeerId::chat(u.chat_id).map(TgEvent::ChatChanged),
        U::Chat(u) => PeerId::chat(u.chat_id).map(TgEvent::ChatChanged),
        U::User(u) => PeerId::user(u.user_id).map(TgEvent::UserChanged),
        U::UserName(u) => PeerId::user(u.user_id).map(TgEvent::UserChanged),
        _ => None,
    }
}

/// Raw updates about messages (reactions, typing, reads, pins).
fn message_event(update: &tl::enums::Update) -> Option<TgEvent> {
    use tl::enums::Update as U;
    match update {
        U::MessageReactions(u) => Some(TgEvent::Reactions {
            chat: peer_id(&u.peer)?,
            msg_id: u.msg_id,
            reactions: Box::new(u.reactions.clone()),
        }),
        U::UserTyping(u) => Some(TgEvent::Typing {
            chat: PeerId::user(u.user_id)?,
            user: PeerId::user(u.user_id)?,
            typing: is_typing(&u.action)?,
            topic: None,
        }),
        U::ChatUserTyping(u) => Some(TgEvent::Typing {
            chat: PeerId::chat(u.chat_id)?,
            user: peer_id(&u.from_id)?,
            typing: is_typing(&u.action)?,
            topic: None,
        }),
        U::ChannelUserTyping(u) => Some(TgEvent::Typing {
            chat: PeerId::channel(u.channel_id)?,
            user: peer_id(&u.from_id)?,
            typing: is_typing(&u.action)?,
            topic: u.top_msg_id,
        }),
        U::ReadHistoryOutbox(u) => Some(TgEvent::Read {
            chat: peer_id(&u.peer)?,
            max_id: u.max_id,
            outbox: true,
            topic: None,
        }),
        U::ReadHistoryInbox(u) => Some(TgEvent::Read {
            chat: peer_id(&u.peer)?,
            max_id: u.max_id,
            outbox: false,
            topic: None,
        }),
        U::ReadChannelOutbox(u) => Some(TgEvent::Read {
            chat: PeerId::channel(u.channel_id)?,
            max_id: u.max_id,
            outbox: true,
            topic: None,
        }),
        U::ReadChannelInbox(u) => Some(TgEvent::Read {
            chat: PeerId::channel(u.channel_id)?,
            max_id: u.max_id,
            outbox: false,
            topic: None,
        }),
        // A topic read on another app. The discussion outbox (others
        // reading the account's messages in a topic) is not mirrored, as
        // group read marks of others are not.
        U::ReadChannelDiscussionInbox(u) => Some(TgEvent::Read {
            chat: PeerId::channel(u.channel_id)?,
            max_id: u.read_max_id,
            outbox: false,
            topic: Some(u.top_msg_id),
        }),
        U::PinnedMessages(u) => Some(TgEvent::Pinned {
            chat: peer_id(&u.peer)?,
            ids: u.messages.clone(),
            pinned: u.pinned,
        }),
        U::PinnedChannelMessages(u) => Some(TgEvent::Pinned {
            chat: PeerId::channel(u.channel_id)?,
            ids: u.messages.clone(),
            pinned: u.pinned,
        }),
        _ => None,
    }
}

/// A TL peer as a [`PeerId`]; `None` for ids outside Telegram's ranges
/// (grammers' own conversion asserts instead).
pub fn peer_id(peer: &tl::enums::Peer) -> Option<PeerId> {
    match peer {
        tl::enums::Peer::User(user) => PeerId::user(user.user_id),
        tl::enums::Peer::Chat(chat) => PeerId::chat(chat.chat_id),
        tl::enums::Peer::Channel(channel) => PeerId::channel(channel.channel_id),
    }
}

/// Whether a chat action shows the user as typing (`Some(false)`: they
/// stopped); `None` for actions that are not about writing a message.
fn is_typing(action: &tl::enums::SendMessageAction) -> Option<bool> {
    use tl::enums::SendMessageAction as A;
    match action {
        A::SendMessageCancelAction => Some(false),
        A::SpeakingInGroupCallAction
        | A::SendMessageHistoryImportAction(_)
        | A::SendMessageEmojiInteraction(_)
        | A::SendMessageEmojiInteractionSeen(_)
        | A::SendMessageGamePlayAction => None,
        _ => Some(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rpc(code: i32, name: &str, value: Option<u32>) -> InvocationError {
        InvocationError::Rpc(grammers_mtsender::RpcError {
            code,
            name: name.into(),
            value,
            caused_by: None,
        })
    }

    #[test]
    fn revoked_and_unregistered_keys_end_the_session() {
        assert_eq!(
            session_gone(&rpc(401, "SESSION_REVOKED", None)).as_deref(),
            Some("SESSION_REVOKED")
        );
        assert_eq!(
            session_gone(&rpc(401, "AUTH_KEY_UNREGISTERED", None)).as_deref(),
            Some("AUTH_KEY_UNREGISTERED")
        );
        assert_eq!(session_gone(&rpc(420, "FLOOD_WAIT", Some(3))), None);
        assert_eq!(session_gone(&rpc(400, "CHAT_ID_INVALID", None)), None);
    }

    #[test]
    fn flood_waits_carry_their_duration() {
        assert_eq!(
            flood_wait(&rpc(420, "FLOOD_WAIT", Some(30))),
            Some(Duration::from_secs(30))
        );
        assert_eq!(flood_wait(&rpc(400, "PEER_ID_INVALID", None)), None);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(2), Duration::from_secs(4));
        assert_eq!(backoff(30), MAX_BACKOFF);
    }
}
