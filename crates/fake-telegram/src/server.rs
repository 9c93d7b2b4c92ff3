//! The running datacenter: [`FakeTelegram`] binds 127.0.0.1, accepts
//! connections concurrently and runs one session per connection (decrypt →
//! session layer → dispatch, and back), and delivers pushes to every
//! connection that should see them. It is the only module that touches
//! sockets; handlers below it only see decoded calls.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use grammers_tl_types::{self as tl, Serializable};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::auth::{Auth, ScanError};
use crate::control::{Control, LoggedCall, WaitTimeout};
use crate::dispatch;
use crate::mtproto::crypto::{self, AuthKey};
use crate::mtproto::session::{self, MsgKind, Outbox, Service};
use crate::transport::{FrameReader, FrameWriter};
use crate::world::{Push, SharedWorld, UserId, World};
use crate::RpcError;

/// Updates for one auth key regardless of login state (e.g. `updateLoginToken`).
#[derive(Debug, Clone)]
pub(crate) struct DirectPush {
    auth_key_id: i64,
    updates: tl::enums::Updates,
}

/// State shared by the accept loop, every connection and the control API.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) world: SharedWorld,
    pub(crate) auth: Auth,
    pub(crate) control: Control,
    /// The port announced in `help.getConfig`.
    pub(crate) port: u16,
    direct: broadcast::Sender<DirectPush>,
    /// Bumped to close every open connection.
    drops: watch::Sender<u64>,
    /// Source of connection ids, which push subscriptions are keyed by.
    next_connection: AtomicU64,
    withheld: std::sync::Mutex<Withheld>,
    /// While set, new connections are closed as soon as they are accepted.
    offline: std::sync::atomic::AtomicBool,
    /// How many of each account's next pushes go out unreadable.
    malformed: std::sync::Mutex<std::collections::HashMap<UserId, u32>>,
}

/// Pushes emitted while pushes were withheld. Connections read the world's
/// pushes asynchronously, possibly after the window closed, so the window is
/// recorded by content rather than judged at delivery time.
#[derive(Debug, Default)]
struct Withheld {
    /// Subscribed when the window opens; drained when it closes.
    window: Option<broadcast::Receiver<Push>>,
    /// `(account, serialized updates)` of every push emitted in a window.
    dropped: std::collections::HashSet<(UserId, Vec<u8>)>,
}

impl Shared {
    fn withheld(&self) -> std::sync::MutexGuard<'_, Withheld> {
        self.withheld.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a push must be dropped: withheld now, or emitted in a window.
    /// Whether this push of `account` is to go out unreadable (and counts
    /// it as done).
    fn take_malformed(&self, account: UserId) -> bool {
        let mut malformed = self.malformed.lock().unwrap_or_else(|e| e.into_inner());
        match malformed.get_mut(&account) {
            Some(left) if *left > 0 => {
                *left -= 1;
                true
            }
            _ => false,
        }
    }

    fn is_withheld(&self, account: UserId, body: &[u8]) -> bool {
        self.control.pushes_withheld()
            || self.withheld().dropped.contains(&(account, body.to_vec()))
    }
}

/// A fake Telegram datacenter serving MTProto 2.0 on loopback. Dropping it
/// stops the accept loop and closes every connection.
#[derive(Debug)]
pub struct FakeTelegram {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.accept.abort();
        self.shared.drops.send_modify(|n| *n += 1);
    }
}

impl FakeTelegram {
    /// Starts an empty datacenter on 127.0.0.1 with a free port.
    ///
    /// # Panics
    /// If no loopback port can be bound: a test cannot run without one.
    pub async fn start() -> Self {
        Self::start_with(World::new()).await
    }

    /// Starts a datacenter serving `world` on 127.0.0.1 with a free port.
    ///
    /// # Panics
    /// If no loopback port can be bound: a test cannot run without one.
    pub async fn start_with(world: World) -> Self {
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        match Self::bind(world, addr).await {
            Ok(fake) => fake,
            Err(e) => panic!("fake Telegram cannot bind 127.0.0.1: {e}"),
        }
    }

    /// Starts a datacenter serving `world` on `addr`.
    pub async fn bind(world: World, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            world: Arc::new(std::sync::Mutex::new(world)),
            auth: Auth::default(),
            control: Control::new(),
            port: addr.port(),
            direct: broadcast::channel(256).0,
            drops: watch::channel(0).0,
            next_connection: AtomicU64::new(1),
            withheld: std::sync::Mutex::default(),
            offline: std::sync::atomic::AtomicBool::new(false),
            malformed: std::sync::Mutex::default(),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        info!(%addr, "fake Telegram listening");
        Ok(Self {
            shared,
            addr,
            accept,
        })
    }

    /// The address clients connect to (every DC option points here).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The world this datacenter serves.
    pub fn world(&self) -> SharedWorld {
        self.shared.world.clone()
    }

    /// A new registered auth key that is not logged in.
    pub fn new_auth_key(&self) -> [u8; 256] {
        let key = AuthKey::generate();
        self.shared.auth.register_key(key.clone());
        *key.bytes()
    }

    /// A new auth key already logged into `account`.
    pub fn logged_in_auth_key(&self, account: UserId) -> [u8; 256] {
        let key = AuthKey::generate();
        self.shared
            .auth
            .register_logged_in_key(key.clone(), account);
        *key.bytes()
    }

    /// The account an auth key is logged into, if any.
    pub fn account_of(&self, auth_key: &[u8; 256]) -> Option<UserId> {
        self.shared.auth.account(crypto::key_id(auth_key))
    }

    /// Every answered call so far, oldest first.
    pub fn calls(&self) -> Vec<LoggedCall> {
        self.shared.control.calls()
    }

    /// How many times `method` (e.g. `updates.getState`) was answered.
    pub fn call_count(&self, method: &str) -> usize {
        self.shared.control.call_count(method)
    }

    /// Waits until `method` was answered at least `n` times.
    pub async fn wait_for_calls(
        &self,
        method: &str,
        n: usize,
        timeout: Duration,
    ) -> Result<(), WaitTimeout> {
        self.shared.control.wait_for_calls(method, n, timeout).await
    }

    /// Answers the next call of `method` with `error`.
    pub fn fail_next(&self, method: &str, error: RpcError) {
        self.shared.control.fail_next(method, error);
    }

    /// Holds every call of `method` for `delay` (`Duration::ZERO` clears it).
    pub fn delay(&self, method: &str, delay: Duration) {
        self.shared.control.delay(method, delay);
    }

    /// Handles every call of `method` at once but holds its answer for
    /// `delay` (`Duration::ZERO` clears it).
    pub fn delay_answer(&self, method: &str, delay: Duration) {
        self.shared.control.delay_answer(method, delay);
    }

    /// Closes every open connection; clients reconnect and see a gap.
    pub fn drop_connections(&self) {
        self.shared.drops.send_modify(|n| *n += 1);
    }

    /// While true, the datacenter is unreachable: open connections are
    /// closed and new ones are closed as soon as they are accepted, so every
    /// call fails with an I/O error. Messages sent meanwhile by users of the
    /// world are a gap for the client once it is back.
    pub fn set_offline(&self, offline: bool) {
        self.shared
            .offline
            .store(offline, std::sync::atomic::Ordering::SeqCst);
        if offline {
            self.drop_connections();
        }
    }

    /// Makes the next push to `account`'s connections unreadable: its
    /// constructor id is one no layer defines, as an update of a newer layer
    /// would look to the client. The update itself stays in the account's
    /// event log, so `updates.getDifference` serves it as usual.
    pub fn malform_next_push(&self, account: UserId) {
        *self
            .shared
            .malformed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(account)
            .or_default() += 1;
    }

    /// While true, pushes are dropped instead of delivered (a gap for the
    /// client). Exactly the pushes the world emits between the two calls are
    /// dropped, however late connections get to read them.
    pub fn withhold_pushes(&self, withhold: bool) {
        let mut withheld = self.shared.withheld();
        if withhold {
            if withheld.window.is_none() {
                withheld.window = Some(
                    self.shared
                        .world
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .subscribe(),
                );
            }
        } else if let Some(mut window) = withheld.window.take() {
            loop {
                match window.try_recv() {
                    Ok(push) => {
                        withheld
                            .dropped
                            .insert((push.account, push.updates.to_bytes()));
                    }
                    Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                    Err(_) => break,
                }
            }
        }
        self.shared.control.withhold_pushes(withhold);
    }

    /// Terminates every session of `account`, as "terminate all sessions" on
    /// another device does: its keys answer `401 SESSION_REVOKED` until they
    /// log in again. Returns how many keys were logged in.
    pub fn revoke_sessions(&self, account: UserId) -> usize {
        self.shared.auth.revoke_sessions(account)
    }

    /// Makes `auth.sendCode` for `phone` send `code`.
    pub fn set_login_code(&self, phone: &str, code: &str) {
        self.shared.auth.set_login_code(phone, code);
    }

    /// The last login code sent to `phone` ("the SMS").
    pub fn login_code(&self, phone: &str) -> Option<String> {
        self.shared.auth.last_login_code(phone)
    }

    /// Expires every login code sent to `phone` so far.
    pub fn expire_login_codes(&self, phone: &str) {
        self.shared.auth.expire_login_codes(phone);
    }

    /// "The phone of `account` scanned the QR code": accepts the newest
    /// exported login token and pushes `updateLoginToken` to its auth key.
    pub fn scan_login_token(&self, account: UserId) -> Result<(), ScanError> {
        let auth_key_id = self
            .shared
            .auth
            .scan_login_token(&self.shared.world, account)?;
        let updates = tl::enums::Updates::UpdateShort(tl::types::UpdateShort {
            update: tl::enums::Update::LoginToken,
            date: unix_now(),
        });
        // No receiver only means the exporting client is not connected right
        // now; it will see the scan on its next exportLoginToken.
        let _ = self.shared.direct.send(DirectPush {
            auth_key_id,
            updates,
        });
        Ok(())
    }
}

fn unix_now() -> i32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i32
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) if shared.offline.load(std::sync::atomic::Ordering::SeqCst) => {
                debug!(%peer, "offline: connection closed at once");
                drop(stream);
            }
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                debug!(%peer, "connection accepted");
                tokio::spawn(serve_connection(shared.clone(), stream));
            }
            Err(e) => {
                // Usually out of file descriptors: back off instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Runs one connection until the client leaves, it breaks, or the control
/// API drops it.
async fn serve_connection(shared: Arc<Shared>, stream: TcpStream) {
    let mut drops = shared.drops.subscribe();
    drops.borrow_and_update();
    tokio::select! {
        result = run_connection(shared.clone(), stream) => {
            if let Err(e) = result {
                debug!(error = %e, "connection closed");
            }
        }
        _ = drops.changed() => debug!("connection dropped by control"),
    }
}

/// Why a connection ended abnormally.
#[derive(Debug, thiserror::Error)]
enum ConnectionError {
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
    #[error(transparent)]
    Crypto(#[from] crypto::CryptoError),
    #[error(transparent)]
    Session(#[from] session::SessionError),
    #[error("unknown auth key {0:016x}")]
    UnknownKey(i64),
}

/// What the writer task sends, in order.
enum Outgoing {
    /// The session the client uses; later messages belong to it.
    Session {
        session_id: i64,
        salt: i64,
    },
    Message {
        body: Vec<u8>,
        kind: MsgKind,
    },
}

async fn run_connection(shared: Arc<Shared>, stream: TcpStream) -> Result<(), ConnectionError> {
    let (read_half, write_half) = stream.into_split();
    let mut reader = FrameReader::new(read_half);
    let Some(mut packet) = reader.read_frame().await? else {
        return Ok(());
    };
    let key_id = crypto::peek_key_id(&packet).unwrap_or_default();
    // An unknown key is closed without a transport error: answering −404
    // would make grammers attempt a key exchange the fake cannot do.
    let key = shared
        .auth
        .key(key_id)
        .ok_or(ConnectionError::UnknownKey(key_id))?;

    let subscription = Subscription {
        shared: shared.clone(),
        key_id,
        connection: shared.next_connection.fetch_add(1, Ordering::Relaxed),
    };
    let connection = subscription.connection;

    // Dropping the set (connection end) aborts every task of this connection.
    let mut tasks = JoinSet::new();
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    tasks.spawn(write_loop(
        FrameWriter::new(write_half),
        key.clone(),
        out_rx,
    ));
    let mut session: Option<(i64, i64)> = None;
    loop {
        let plaintext = crypto::decrypt_from_client(&key, &packet)?;
        let envelope = session::parse_envelope(&plaintext)?;
        if session != Some((envelope.session_id, envelope.salt)) {
            let _ = out_tx.send(Outgoing::Session {
                session_id: envelope.session_id,
                salt: envelope.salt,
            });
            if session.map(|(id, _)| id) != Some(envelope.session_id) {
                announce_new_session(&out_tx, envelope.message.msg_id);
            }
            // Pushes start once the writer knows the session to put them in.
            if session.is_none() {
                tasks.spawn(push_loop(
                    shared.clone(),
                    key_id,
                    connection,
                    out_tx.clone(),
                ));
            }
            session = Some((envelope.session_id, envelope.salt));
        }
        for message in session::flatten(envelope.message)? {
            let link = Link {
                key_id,
                connection,
                salt: envelope.salt,
            };
            handle_message(&shared, link, message, &out_tx, &mut tasks);
        }
        while tasks.try_join_next().is_some() {}
        packet = match reader.read_frame().await? {
            Some(packet) => packet,
            None => return Ok(()),
        };
    }
}

/// Ends a connection's push subscription however the connection ends.
struct Subscription {
    shared: Arc<Shared>,
    key_id: i64,
    connection: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.shared.auth.unsubscribe(self.key_id, self.connection);
    }
}

/// Where a message came from: the key, the connection and the salt in use.
#[derive(Debug, Clone, Copy)]
struct Link {
    key_id: i64,
    connection: u64,
    salt: i64,
}

/// Tells the client its session is new, as Telegram does, with a fresh server
/// salt. The client switches to it and fetches future salts before sending
/// anything else; salts are not checked afterwards.
fn announce_new_session(out: &mpsc::UnboundedSender<Outgoing>, first_msg_id: i64) {
    let body = session::new_session_created(first_msg_id, rand::random(), rand::random());
    let _ = out.send(Outgoing::Message {
        body,
        kind: MsgKind::ServerInitiated,
    });
}

/// Answers service messages in place and runs RPC calls as their own tasks,
/// so a delayed or slow call never holds up the others.
fn handle_message(
    shared: &Arc<Shared>,
    link: Link,
    message: session::Message,
    out: &mpsc::UnboundedSender<Outgoing>,
    tasks: &mut JoinSet<()>,
) {
    let reply = |body: Vec<u8>| {
        let _ = out.send(Outgoing::Message {
            body,
            kind: MsgKind::Response,
        });
    };
    match session::service_message(&message) {
        Ok(Some(Service::Ping { ping_id } | Service::PingDelayDisconnect { ping_id })) => {
            reply(session::pong(message.msg_id, ping_id))
        }
        Ok(Some(Service::GetFutureSalts { num })) => {
            reply(session::future_salts(message.msg_id, num, link.salt))
        }
        Ok(Some(Service::DestroySession { session_id })) => {
            reply(session::destroy_session_ok(session_id))
        }
        Ok(Some(Service::Ack | Service::Ignored)) => {}
        Ok(None) => {
            let shared = shared.clone();
            let out = out.clone();
            tasks.spawn(async move {
                let body = match session::unpack_request(message.body) {
                    Ok(body) => {
                        dispatch::dispatch(shared, link.key_id, link.connection, body).await
                    }
                    Err(_) => Err(RpcError::bad_request("INPUT_REQUEST_INVALID")),
                };
                let body = match body {
                    Ok(result) => session::rpc_result(message.msg_id, &result),
                    Err(error) => session::rpc_error(message.msg_id, &error),
                };
                let _ = out.send(Outgoing::Message {
                    body,
                    kind: MsgKind::Response,
                });
            });
        }
        Err(e) => warn!(error = %e, "unreadable service message ignored"),
    }
}

async fn write_loop(
    mut writer: FrameWriter<tokio::net::tcp::OwnedWriteHalf>,
    key: AuthKey,
    mut out: mpsc::UnboundedReceiver<Outgoing>,
) {
    let mut outbox: Option<Outbox> = None;
    while let Some(item) = out.recv().await {
        match item {
            Outgoing::Session { session_id, salt } => match outbox.as_mut() {
                Some(current) if current.session_id == session_id => current.salt = salt,
                _ => outbox = Some(Outbox::new(session_id, salt)),
            },
            Outgoing::Message { body, kind } => {
                let Some(current) = outbox.as_mut() else {
                    continue;
                };
                let plaintext = current.wrap(&body, kind, true);
                if let Err(e) = writer
                    .write_frame(&crypto::encrypt_for_client(&key, &plaintext))
                    .await
                {
                    debug!(error = %e, "write failed");
                    return;
                }
            }
        }
    }
}

/// A constructor id no TL layer defines.
const UNKNOWN_CONSTRUCTOR: u32 = 0x0bad_c0de;

/// `body` with its constructor id replaced by [`UNKNOWN_CONSTRUCTOR`].
fn malformed(mut body: Vec<u8>) -> Vec<u8> {
    if body.len() >= 4 {
        body[..4].copy_from_slice(&UNKNOWN_CONSTRUCTOR.to_le_bytes());
    }
    body
}

/// Forwards the world's pushes (and direct pushes) meant for this connection.
async fn push_loop(
    shared: Arc<Shared>,
    key_id: i64,
    connection: u64,
    out: mpsc::UnboundedSender<Outgoing>,
) {
    // Pushes emitted after `drop_connections` belong to the next connection,
    // even if this one has not noticed yet that it is being closed.
    let generation = *shared.drops.borrow();
    let mut world_pushes = shared
        .world
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .subscribe();
    let mut direct = shared.direct.subscribe();
    let send = |body: Vec<u8>| {
        let _ = out.send(Outgoing::Message {
            body,
            kind: MsgKind::ServerInitiated,
        });
    };
    loop {
        tokio::select! {
            push = world_pushes.recv() => match push {
                Ok(Push { account, updates, skip_auth_key }) => {
                    if skip_auth_key == Some(key_id) || !shared.auth.wants_push(key_id, connection, account) {
                        continue;
                    }
                    if *shared.drops.borrow() != generation {
                        return;
                    }
                    let body = updates.to_bytes();
                    if shared.is_withheld(account, &body) {
                        debug!("push withheld");
                        continue;
                    }
                    if shared.take_malformed(account) {
                        debug!("push malformed");
                        send(malformed(body));
                        continue;
                    }
                    send(body);
                }
                // As Telegram does when it has more to push than it will:
                // `updatesTooLong` sends the client to getDifference at once,
                // instead of leaving the gap until some later update shows it.
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    warn!(n, "pushes lagged; the client is told to fetch the difference");
                    send(tl::enums::Updates::TooLong.to_bytes());
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            push = direct.recv() => match push {
                Ok(DirectPush { auth_key_id, updates }) if auth_key_id == key_id => send(updates.to_bytes()),
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}
