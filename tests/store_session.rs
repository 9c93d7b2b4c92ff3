//! The grammers session stored in tgbridge's database: behaves like grammers'
//! in-memory storage (checked operation by operation against it), resolves
//! the self user, and survives reopening the file.

use std::net::SocketAddr;

use grammers_session::storages::MemorySession;
use grammers_session::types::{
    ChannelKind, ChannelState, DcOption, PeerAuth, PeerId, PeerInfo, UpdateState, UpdatesState,
};
use grammers_session::Session;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tgbridge::store::{Portal, PortalKind, Store};

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("tgbridge.db")).unwrap();
    (dir, store)
}

fn self_user(id: i64, hash: i64) -> PeerInfo {
    PeerInfo::User {
        id,
        auth: Some(PeerAuth::from_hash(hash)),
        bot: Some(false),
        is_self: Some(true),
    }
}

#[tokio::test]
async fn fresh_session_matches_grammers_defaults() {
    let (_dir, store) = temp_store();
    let session = store.telegram_session();
    let memory = MemorySession::default();

    assert_eq!(session.home_dc_id().unwrap(), memory.home_dc_id().unwrap());
    for dc_id in 0..=6 {
        assert_eq!(
            session.dc_option(dc_id).unwrap(),
            memory.dc_option(dc_id).unwrap(),
            "dc {dc_id}"
        );
    }
    assert!(session.dc_option(2).unwrap().unwrap().auth_key.is_none());
    assert_eq!(
        session.updates_state().await.unwrap(),
        UpdatesState::default()
    );
    assert_eq!(session.peer(PeerId::self_user()).await.unwrap(), None);
    assert!(!store.has_telegram_login().unwrap());
}

#[tokio::test]
async fn self_user_placeholder_resolves_to_the_cached_self_user() {
    let (_dir, store) = temp_store();
    let session = store.telegram_session();
    let other = PeerInfo::User {
        id: 5,
        auth: Some(PeerAuth::from_hash(55)),
        bot: Some(false),
        is_self: Some(false),
    };
    session.cache_peer(other.clone()).await.unwrap();
    assert_eq!(session.peer(PeerId::self_user()).await.unwrap(), None);

    session.cache_peer(self_user(1000, -77)).await.unwrap();
    assert_eq!(
        session.peer(PeerId::self_user()).await.unwrap(),
        Some(self_user(1000, -77))
    );
    let self_ref = session
        .peer_ref(PeerId::self_user())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(self_ref.auth.hash(), -77);

    // A later "min" sighting of ourselves (no hash, flags unknown) keeps what we know.
    session
        .cache_peer(PeerInfo::User {
            id: 1000,
            auth: None,
            bot: None,
            is_self: None,
        })
        .await
        .unwrap();
    assert_eq!(
        session.peer(PeerId::self_user()).await.unwrap(),
        Some(self_user(1000, -77))
    );

    // Logging in as someone else moves the self mapping.
    session.cache_peer(self_user(2000, 9)).await.unwrap();
    assert_eq!(
        session.peer(PeerId::self_user()).await.unwrap(),
        Some(self_user(2000, 9))
    );
    match session.peer(PeerId::user(1000).unwrap()).await.unwrap() {
        Some(PeerInfo::User { is_self, auth, .. }) => {
            assert_eq!(is_self, Some(false));
            assert_eq!(auth, Some(PeerAuth::from_hash(-77)));
        }
        other => panic!("previous self user lost: {other:?}"),
    }
    assert_eq!(session.peer(other.id()).await.unwrap(), Some(other));
}

#[tokio::test]
async fn session_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tgbridge.db");
    let key = [0xA5u8; 256];
    let peers = vec![
        self_user(1000, -77),
        PeerInfo::User {
            id: 1001,
            auth: Some(PeerAuth::from_hash(i64::MAX)),
            bot: Some(true),
            is_self: Some(false),
        },
        PeerInfo::Chat { id: 300 },
        PeerInfo::Channel {
            id: 400,
            auth: Some(PeerAuth::from_hash(i64::MIN)),
            kind: Some(ChannelKind::Megagroup),
        },
        PeerInfo::Channel {
            id: 401,
            auth: Some(PeerAuth::from_hash(4)),
            kind: Some(ChannelKind::Broadcast),
        },
    ];
    let state = UpdatesState {
        pts: 120,
        qts: 7,
        date: 1_700_000_000,
        seq: 33,
        channels: vec![
            ChannelState { id: 400, pts: 9000 },
            ChannelState { id: 401, pts: 12 },
        ],
    };
    let custom_dc = DcOption {
        id: 4,
        ipv4: "10.1.2.3:8443".parse().unwrap(),
        ipv6: "[fd00::4]:8443".parse().unwrap(),
        auth_key: Some([3; 256]),
    };
    {
        let store = Store::open(&path).unwrap();
        let session = store.telegram_session();
        store
            .seed_dc("127.0.0.1:40404".parse().unwrap(), key)
            .unwrap();
        session.set_dc_option(&custom_dc).await.unwrap();
        session.set_home_dc_id(4).await.unwrap();
        session.cache_peers(peers.clone()).await.unwrap();
        session
            .set_update_state(UpdateState::All(state.clone()))
            .await
            .unwrap();
        session
            .set_update_state(UpdateState::Channel { id: 401, pts: 13 })
            .await
            .unwrap();
        assert!(store.has_telegram_login().unwrap());
    }

    let store = Store::open(&path).unwrap();
    let session = store.telegram_session();
    assert!(store.has_telegram_login().unwrap());
    assert_eq!(session.home_dc_id().unwrap(), 4);
    assert_eq!(session.dc_option(4).unwrap(), Some(custom_dc));
    let seeded: SocketAddr = "127.0.0.1:40404".parse().unwrap();
    for dc_id in [1, 2, 3, 5] {
        let option = session.dc_option(dc_id).unwrap().unwrap();
        assert_eq!(SocketAddr::V4(option.ipv4), seeded);
        assert_eq!(option.auth_key, Some(key));
    }
    for peer in &peers {
        assert_eq!(session.peer(peer.id()).await.unwrap().as_ref(), Some(peer));
    }
    assert_eq!(
        session.peer(PeerId::self_user()).await.unwrap(),
        Some(self_user(1000, -77))
    );
    let mut expected = state;
    expected.channels[1].pts = 13;
    assert_eq!(session.updates_state().await.unwrap(), expected);
}

#[tokio::test]
async fn seed_dc_points_every_datacenter_at_the_fake() {
    let (_dir, store) = temp_store();
    let session = store.telegram_session();
    let key: [u8; 256] = std::array::from_fn(|i| i as u8);
    store
        .seed_dc("127.0.0.1:5555".parse().unwrap(), key)
        .unwrap();
    assert_eq!(session.home_dc_id().unwrap(), 2);
    for dc_id in 1..=5 {
        let option = session.dc_option(dc_id).unwrap().unwrap();
        assert_eq!(option.id, dc_id);
        assert_eq!(option.ipv4.to_string(), "127.0.0.1:5555");
        assert_eq!(option.ipv6.port(), 5555);
        assert_eq!(option.auth_key, Some(key));
    }
    // A key alone is not a login: grammers still needs to sign in.
    assert!(!store.has_telegram_login().unwrap());
    session.cache_peer(self_user(1, 1)).await.unwrap();
    assert!(store.has_telegram_login().unwrap());
}

#[tokio::test]
async fn clear_telegram_login_forgets_the_account_but_keeps_portals() {
    let (_dir, store) = temp_store();
    let session = store.telegram_session();
    store
        .seed_dc("127.0.0.1:5555".parse().unwrap(), [1; 256])
        .unwrap();
    session
        .cache_peers(vec![
            self_user(1000, 1),
            PeerInfo::Channel {
                id: 77,
                auth: Some(PeerAuth::from_hash(2)),
                kind: Some(ChannelKind::Megagroup),
            },
        ])
        .await
        .unwrap();
    session
        .set_update_state(UpdateState::All(UpdatesState {
            pts: 5,
            qts: 6,
            date: 7,
            seq: 8,
            channels: vec![ChannelState { id: 77, pts: 9 }],
        }))
        .await
        .unwrap();
    let portal = Portal {
        peer: PeerId::channel(77).unwrap(),
        kind: PortalKind::Supergroup,
        room_id: "!room:example.org".try_into().unwrap(),
        title: Some("Group".into()),
        avatar_photo_id: None,
        avatar_mxc: None,
        encrypted: false,
        in_space: true,
        topic: None,
    };
    store.portals().upsert(&portal).unwrap();
    store
        .kv_set("management_room", "!mgmt:example.org")
        .unwrap();
    assert!(store.has_telegram_login().unwrap());

    store.clear_telegram_login().unwrap();

    assert!(!store.has_telegram_login().unwrap());
    assert_eq!(session.peer(PeerId::self_user()).await.unwrap(), None);
    assert_eq!(
        session.peer(PeerId::channel(77).unwrap()).await.unwrap(),
        None
    );
    assert_eq!(
        session.updates_state().await.unwrap(),
        UpdatesState::default()
    );
    for dc_id in 1..=5 {
        let option = session.dc_option(dc_id).unwrap().unwrap();
        assert_eq!(option.auth_key, None, "dc {dc_id} kept its key");
        assert_eq!(option.ipv4.to_string(), "127.0.0.1:5555");
    }
    assert_eq!(store.portals().by_peer(portal.peer).unwrap(), Some(portal));
    assert_eq!(
        store.kv_get("management_room").unwrap().as_deref(),
        Some("!mgmt:example.org")
    );
}

/// One random session operation, applied to both storages.
#[derive(Debug)]
enum Op {
    SetHome(i32),
    SetDc(Box<DcOption>),
    Cache(PeerInfo),
    CacheMany(Vec<PeerInfo>),
    State(StateOp),
}

/// A copy of `UpdateState` that can be printed and reused.
#[derive(Debug, Clone)]
enum StateOp {
    All(UpdatesState),
    Primary { pts: i32, date: i32, seq: i32 },
    Secondary { qts: i32 },
    Channel { id: i64, pts: i32 },
}

impl StateOp {
    fn to_update(&self) -> UpdateState {
        match self.clone() {
            StateOp::All(state) => UpdateState::All(state),
            StateOp::Primary { pts, date, seq } => UpdateState::Primary { pts, date, seq },
            StateOp::Secondary { qts } => UpdateState::Secondary { qts },
            StateOp::Channel { id, pts } => UpdateState::Channel { id, pts },
        }
    }
}

fn random_peer(rng: &mut StdRng) -> PeerInfo {
    let maybe_auth = |rng: &mut StdRng| {
        rng.random_bool(0.7)
            .then(|| PeerAuth::from_hash(rng.random_range(-3..=3)))
    };
    let maybe_bool = |rng: &mut StdRng| rng.random_bool(0.7).then(|| rng.random_bool(0.5));
    match rng.random_range(0..3) {
        0 => {
            let id = rng.random_range(1..=6);
            PeerInfo::User {
                id,
                auth: maybe_auth(rng),
                bot: maybe_bool(rng),
                // Only user 1 is ever ourselves, so at most one user is self
                // in both storages (ours also clears a previous self user).
                is_self: if id == 1 {
                    maybe_bool(rng)
                } else {
                    Some(false)
                },
            }
        }
        1 => PeerInfo::Chat {
            id: rng.random_range(1..=4),
        },
        _ => PeerInfo::Channel {
            id: rng.random_range(1..=6),
            auth: maybe_auth(rng),
            kind: rng.random_bool(0.7).then(|| {
                [
                    ChannelKind::Broadcast,
                    ChannelKind::Megagroup,
                    ChannelKind::Gigagroup,
                    ChannelKind::Community,
                ][rng.random_range(0..4)]
            }),
        },
    }
}

fn random_op(rng: &mut StdRng) -> Op {
    match rng.random_range(0..8) {
        0 => Op::SetHome(rng.random_range(1..=5)),
        1 => Op::SetDc(Box::new(DcOption {
            id: rng.random_range(1..=7),
            ipv4: format!(
                "10.0.0.{}:{}",
                rng.random_range(1..9),
                rng.random_range(1..99)
            )
            .parse()
            .unwrap(),
            ipv6: format!("[fd00::{}]:443", rng.random_range(1..9))
                .parse()
                .unwrap(),
            auth_key: rng
                .random_bool(0.5)
                .then(|| [rng.random_range(0..=255u8); 256]),
        })),
        2 | 3 => Op::Cache(random_peer(rng)),
        4 => Op::CacheMany(
            (0..rng.random_range(0..5))
                .map(|_| random_peer(rng))
                .collect(),
        ),
        _ => Op::State(match rng.random_range(0..4) {
            0 => StateOp::All(UpdatesState {
                pts: rng.random_range(0..1000),
                qts: rng.random_range(0..1000),
                date: rng.random_range(0..1000),
                seq: rng.random_range(0..1000),
                channels: (1..=rng.random_range(0..4))
                    .map(|id| ChannelState {
                        id,
                        pts: rng.random_range(0..1000),
                    })
                    .collect(),
            }),
            1 => StateOp::Primary {
                pts: rng.random_range(0..1000),
                date: rng.random_range(0..1000),
                seq: rng.random_range(0..1000),
            },
            2 => StateOp::Secondary {
                qts: rng.random_range(0..1000),
            },
            _ => StateOp::Channel {
                id: rng.random_range(1..=5),
                pts: rng.random_range(0..1000),
            },
        }),
    }
}

async fn apply<S: Session>(session: &S, op: &Op)
where
    S::Error: std::fmt::Debug,
{
    match op {
        Op::SetHome(dc) => session.set_home_dc_id(*dc).await.unwrap(),
        Op::SetDc(option) => session.set_dc_option(option).await.unwrap(),
        Op::Cache(peer) => session.cache_peer(peer.clone()).await.unwrap(),
        Op::CacheMany(peers) => session.cache_peers(peers.clone()).await.unwrap(),
        Op::State(update) => session.set_update_state(update.to_update()).await.unwrap(),
    }
}

/// Everything observable through the trait, in a comparable form.
async fn snapshot<S: Session>(session: &S) -> String
where
    S::Error: std::fmt::Debug,
{
    let mut out = format!("home={}\n", session.home_dc_id().unwrap());
    for dc in 0..=8 {
        out += &format!("dc{dc}={:?}\n", session.dc_option(dc).unwrap());
    }
    let candidates = (1..=6)
        .map(|id| PeerId::user(id).unwrap())
        .chain((1..=4).map(|id| PeerId::chat(id).unwrap()))
        .chain((1..=6).map(|id| PeerId::channel(id).unwrap()));
    for peer in candidates {
        out += &format!("{peer}={:?}\n", session.peer(peer).await.unwrap());
        out += &format!("ref {peer}={:?}\n", session.peer_ref(peer).await.unwrap());
    }
    let mut state = session.updates_state().await.unwrap();
    // Channel order is not meaningful (grammers loads them into a map).
    state.channels.sort_by_key(|c| c.id);
    out += &format!("{state:?}\n");
    out
}

#[tokio::test]
async fn behaves_like_grammers_memory_session() {
    let (_dir, store) = temp_store();
    let session = store.telegram_session();
    let memory = MemorySession::default();
    let mut rng = StdRng::seed_from_u64(0x7e1e_b41d);
    for step in 0..1500 {
        let op = random_op(&mut rng);
        apply(&session, &op).await;
        apply(&memory, &op).await;
        let ours = snapshot(&session).await;
        let theirs = snapshot(&memory).await;
        assert_eq!(ours, theirs, "diverged at step {step} after {op:?}");
    }
}

#[tokio::test]
async fn can_be_handed_to_grammers_as_an_erased_session() {
    fn shareable<T: Clone + Send + Sync + 'static>(_: &T) {}
    let (_dir, store) = temp_store();
    shareable(&store);
    shareable(&store.telegram_session());

    let erased = grammers_session::storages::erase(std::sync::Arc::new(store.telegram_session()));
    store
        .telegram_session()
        .cache_peer(self_user(9, 99))
        .await
        .unwrap();
    assert_eq!(
        erased.peer(PeerId::self_user()).await.unwrap(),
        Some(self_user(9, 99))
    );
    // A clone of the store sees what the session wrote: one connection.
    let clone = store.clone();
    store
        .seed_dc("127.0.0.1:1".parse().unwrap(), [2; 256])
        .unwrap();
    assert!(clone.has_telegram_login().unwrap());
}

#[tokio::test]
async fn one_bad_peer_does_not_stop_a_batch() {
    let (_dir, store) = temp_store();
    let session = store.telegram_session();
    let good = PeerInfo::Channel {
        id: 12,
        auth: Some(PeerAuth::from_hash(34)),
        kind: None,
    };
    let out_of_range = PeerInfo::User {
        id: 0,
        auth: None,
        bot: None,
        is_self: None,
    };
    let result = session.cache_peers(vec![out_of_range, good.clone()]).await;
    assert!(result.is_err(), "the bad peer must be reported");
    assert_eq!(session.peer(good.id()).await.unwrap(), Some(good));
}
