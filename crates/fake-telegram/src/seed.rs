//! Seeding helpers: grammers sessions whose five DC options all point at the
//! fake with an auth key it knows (fresh, or already logged in), and a small
//! wrapper that connects a real grammers [`Client`] over such a session.
//! Client-side only: never reaches into the server's state.

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::{Arc, Mutex};

use grammers_client::sender::SenderPool;
use grammers_client::Client;
use grammers_session::storages::{MemorySession, MemorySessionError};
use grammers_session::types::{DcOption, PeerAuth, PeerId, PeerInfo, UpdateState, UpdatesState};
use grammers_session::updates::UpdatesLike;
use grammers_session::{BoxFuture, Session, SessionData};
use tokio::sync::mpsc;

use crate::world::UserId;

/// Any api_id works against the fake; this one is recognisable in logs.
pub const TEST_API_ID: i32 = 1;

/// The five DC options, all pointing at `addr` with `auth_key`. Every one is
/// overwritten: a default left in place would be a real Telegram address.
pub fn dc_options(addr: SocketAddr, auth_key: [u8; 256]) -> Vec<DcOption> {
    let ipv4 = match addr {
        SocketAddr::V4(v4) => v4,
        SocketAddr::V6(v6) => SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, v6.port()),
    };
    let ipv6 = SocketAddrV6::new(ipv4.ip().to_ipv6_mapped(), ipv4.port(), 0, 0);
    debug_assert!(ipv6.ip() != &Ipv6Addr::UNSPECIFIED);
    (1..=5)
        .map(|id| DcOption {
            id,
            ipv4,
            ipv6,
            auth_key: Some(auth_key),
        })
        .collect()
}

/// Session data for a key that is not logged in.
pub fn session_data(addr: SocketAddr, auth_key: [u8; 256]) -> SessionData {
    SessionData {
        dc_options: dc_options(addr, auth_key)
            .into_iter()
            .map(|o| (o.id, o))
            .collect(),
        ..SessionData::default()
    }
}

/// Session data for a key logged into `account`: the self user is cached as
/// grammers does after a login, so the update stream starts with `updates.getState`.
pub fn logged_in_session_data(
    addr: SocketAddr,
    auth_key: [u8; 256],
    account: UserId,
    access_hash: i64,
    bot: bool,
) -> SessionData {
    let mut data = session_data(addr, auth_key);
    let me = PeerInfo::User {
        id: account,
        auth: Some(PeerAuth::from_hash(access_hash)),
        bot: Some(bot),
        is_self: Some(true),
    };
    data.peer_infos.insert(me.id(), me);
    data
}

/// An in-memory grammers session that, unlike `MemorySession`, answers
/// lookups of `PeerId::self_user()` with the cached self user; without that
/// the update stream never calls `updates.getState`.
pub struct FakeSession {
    inner: MemorySession,
    me: Mutex<Option<PeerInfo>>,
}

impl FakeSession {
    /// A session holding `data`.
    pub fn new(data: SessionData) -> Self {
        let me = data
            .peer_infos
            .values()
            .find(|p| {
                matches!(
                    p,
                    PeerInfo::User {
                        is_self: Some(true),
                        ..
                    }
                )
            })
            .cloned();
        Self {
            inner: MemorySession::from(data),
            me: Mutex::new(me),
        }
    }

    fn me(&self) -> Option<PeerInfo> {
        self.me.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Session for FakeSession {
    type Error = MemorySessionError;

    fn home_dc_id(&self) -> Result<i32, Self::Error> {
        self.inner.home_dc_id()
    }

    fn set_home_dc_id(&self, dc_id: i32) -> BoxFuture<'_, Result<(), Self::Error>> {
        self.inner.set_home_dc_id(dc_id)
    }

    fn dc_option(&self, dc_id: i32) -> Result<Option<DcOption>, Self::Error> {
        self.inner.dc_option(dc_id)
    }

    fn set_dc_option(&self, dc_option: &DcOption) -> BoxFuture<'_, Result<(), Self::Error>> {
        self.inner.set_dc_option(dc_option)
    }

    fn peer(&self, peer: PeerId) -> BoxFuture<'_, Result<Option<PeerInfo>, Self::Error>> {
        if peer == PeerId::self_user() {
            let me = self.me();
            return Box::pin(async move { Ok(me) });
        }
        self.inner.peer(peer)
    }

    fn cache_peer(&self, peer: PeerInfo) -> BoxFuture<'_, Result<(), Self::Error>> {
        if matches!(
            peer,
            PeerInfo::User {
                is_self: Some(true),
                ..
            }
        ) {
            *self.me.lock().unwrap_or_else(|e| e.into_inner()) = Some(peer.clone());
        }
        self.inner.cache_peer(peer)
    }

    fn updates_state(&self) -> BoxFuture<'_, Result<UpdatesState, Self::Error>> {
        self.inner.updates_state()
    }

    fn set_update_state(&self, update: UpdateState) -> BoxFuture<'_, Result<(), Self::Error>> {
        self.inner.set_update_state(update)
    }
}

/// A real grammers client connected to the fake, with its sender pool running.
/// Dropping it stops the pool.
pub struct TestClient {
    pub client: Client,
    pub session: Arc<FakeSession>,
    /// Raw updates from the network; hand them to `client.stream_updates`.
    pub updates: Option<mpsc::Receiver<UpdatesLike>>,
    runner: tokio::task::JoinHandle<()>,
}

impl TestClient {
    /// Starts a sender pool over `session` and wraps it in a client.
    pub fn connect(session: FakeSession) -> Self {
        Self::resume(Arc::new(session))
    }

    /// Starts a new sender pool (a new connection) over a session another
    /// client used before, as a restarted program does with its saved session.
    pub fn resume(session: Arc<FakeSession>) -> Self {
        let pool = SenderPool::new(session.clone(), TEST_API_ID);
        let client = Client::new(pool.handle);
        let runner = tokio::spawn(pool.runner.run());
        Self {
            client,
            session,
            updates: Some(pool.updates),
            runner,
        }
    }

    /// Disconnects and hands back the session, with whatever the client
    /// saved into it (e.g. its update state).
    pub fn shut_down(self) -> Arc<FakeSession> {
        self.session.clone()
    }

    /// Takes the raw update receiver (once).
    pub fn take_updates(&mut self) -> Option<mpsc::Receiver<UpdatesLike>> {
        self.updates.take()
    }
}

impl Drop for TestClient {
    fn drop(&mut self) {
        self.client.disconnect();
        self.runner.abort();
    }
}

impl crate::FakeTelegram {
    /// A session with a new registered key that is not logged in.
    pub fn session(&self) -> FakeSession {
        FakeSession::new(session_data(self.addr(), self.new_auth_key()))
    }

    /// A session with a new key already logged into `account` (self user
    /// cached). `None` if the world has no such user.
    pub fn logged_in_session(&self, account: UserId) -> Option<FakeSession> {
        let (access_hash, bot) = {
            let world = self.world();
            let world = world.lock().unwrap_or_else(|e| e.into_inner());
            let user = world.user(account)?;
            (user.access_hash, user.spec.bot)
        };
        let key = self.logged_in_auth_key(account);
        Some(FakeSession::new(logged_in_session_data(
            self.addr(),
            key,
            account,
            access_hash,
            bot,
        )))
    }
}
