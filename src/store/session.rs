//! The grammers session on the shared SQLite file: datacenter options and
//! auth keys, the home DC, the peer cache with access hashes, and the update
//! state including per-channel pts. It follows grammers' in-memory storage
//! method by method (defaults, "or-assign" peer merging, update-state
//! replacement rules) with one deliberate addition: `PeerId::self_user()`
//! resolves to the peer cached with `is_self`, without which grammers never
//! asks Telegram for the update state. It touches only the `telegram_*` tables.
//!
//! Nothing is cached in memory: a `tgbridge login` in another process may
//! change keys and DCs under a running service, and a stale cached auth key
//! written back by grammers would silently undo that login. Every read is one
//! primary-key lookup on a prepared statement (about 30 µs even in an
//! unoptimised debug build).
//!
//! The trait's futures do their SQLite work inline, under the connection
//! mutex, and never await while holding it: each call is a handful of short
//! statements, cheaper than handing them to a blocking thread.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::{Arc, LazyLock};

use grammers_session::types::{
    ChannelKind, ChannelState, DcOption, PeerAuth, PeerId, PeerInfo, PeerKind, UpdateState,
    UpdatesState,
};
use grammers_session::{BoxFuture, Session, SessionData};
use rusqlite::{Connection, OptionalExtension, Row};

use super::{Db, Shared, StoreError};

/// grammers' statically known datacenters and default home DC, used when the
/// file has no row of its own (exactly what a fresh `SessionData` holds).
static DEFAULTS: LazyLock<SessionData> = LazyLock::new(SessionData::default);

/// The grammers [`Session`] stored in the bridge's database. Obtain it with
/// [`super::Store::telegram_session`] and hand it to grammers as `Arc<_>`.
#[derive(Clone)]
pub struct TelegramSession {
    shared: Arc<Shared>,
}

impl TelegramSession {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        TelegramSession { shared }
    }

    fn db(&self) -> Db<'_> {
        Db::Shared(&self.shared)
    }
}

impl std::fmt::Debug for TelegramSession {
    // Deliberately shows nothing stored: the file holds auth keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramSession").finish_non_exhaustive()
    }
}

impl Session for TelegramSession {
    type Error = StoreError;

    fn home_dc_id(&self) -> Result<i32, StoreError> {
        self.db().run(home_dc)
    }

    fn set_home_dc_id(&self, dc_id: i32) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { self.db().run(|conn| set_home_dc(conn, dc_id)) })
    }

    fn dc_option(&self, dc_id: i32) -> Result<Option<DcOption>, StoreError> {
        self.db().run(|conn| dc_option(conn, dc_id))
    }

    fn set_dc_option(&self, dc_option: &DcOption) -> BoxFuture<'_, Result<(), StoreError>> {
        let dc_option = dc_option.clone();
        Box::pin(async move { self.db().run(|conn| set_dc_option(conn, &dc_option)) })
    }

    fn peer(&self, peer: PeerId) -> BoxFuture<'_, Result<Option<PeerInfo>, StoreError>> {
        Box::pin(async move { self.db().run(|conn| load_peer(conn, peer)) })
    }

    fn cache_peer(&self, peer: PeerInfo) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { self.db().atomically(|conn| cache_peer(conn, &peer)) })
    }

    /// One transaction for the whole batch: grammers calls this for every
    /// batch of updates, and one commit is far cheaper than one per peer.
    /// Like the default implementation, a peer that cannot be stored does
    /// not stop the others; the last such error is returned.
    fn cache_peers(&self, peers: Vec<PeerInfo>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            if peers.is_empty() {
                return Ok(());
            }
            // The failure is carried out of the transaction so that the
            // peers that were stored still commit.
            let last_failure = self.db().atomically(|conn| {
                let mut last_failure = None;
                for peer in &peers {
                    if let Err(err) = cache_peer(conn, peer) {
                        last_failure = Some(err);
                    }
                }
                Ok(last_failure)
            })?;
            last_failure.map_or(Ok(()), Err)
        })
    }

    fn updates_state(&self) -> BoxFuture<'_, Result<UpdatesState, StoreError>> {
        Box::pin(async move { self.db().run(load_updates_state) })
    }

    fn set_update_state(&self, update: UpdateState) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            self.db()
                .atomically(|conn| store_update_state(conn, update))
        })
    }
}

/// The home DC, or grammers' default when none was set.
fn home_dc(conn: &Connection) -> Result<i32, StoreError> {
    let stored: Option<i32> = conn
        .prepare_cached("SELECT dc_id FROM telegram_home_dc WHERE singleton = 0")?
        .query_row([], |row| row.get(0))
        .optional()?;
    Ok(stored.unwrap_or(DEFAULTS.home_dc))
}

fn set_home_dc(conn: &Connection, dc_id: i32) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO telegram_home_dc (singleton, dc_id) VALUES (0, ?1)
         ON CONFLICT (singleton) DO UPDATE SET dc_id = excluded.dc_id",
    )?
    .execute([dc_id])?;
    Ok(())
}

/// The stored option for `dc_id`, else grammers' static one, else `None`.
fn dc_option(conn: &Connection, dc_id: i32) -> Result<Option<DcOption>, StoreError> {
    let row = conn
        .prepare_cached("SELECT ipv4, ipv6, auth_key FROM telegram_dc WHERE dc_id = ?1")?
        .query_row([dc_id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<Vec<u8>>>(2)?,
            ))
        })
        .optional()?;
    match row {
        Some((ipv4, ipv6, auth_key)) => decode_dc_option(dc_id, &ipv4, &ipv6, auth_key).map(Some),
        None => Ok(DEFAULTS.dc_options.get(&dc_id).cloned()),
    }
}

/// Rebuilds a [`DcOption`] from its stored columns.
fn decode_dc_option(
    id: i32,
    ipv4: &str,
    ipv6: &str,
    auth_key: Option<Vec<u8>>,
) -> Result<DcOption, StoreError> {
    let corrupt_address = StoreError::Corrupt {
        what: "datacenter address",
    };
    Ok(DcOption {
        id,
        ipv4: ipv4.parse().map_err(|_| corrupt_address)?,
        ipv6: ipv6.parse().map_err(|_| StoreError::Corrupt {
            what: "datacenter address",
        })?,
        auth_key: auth_key
            .map(|key| {
                <[u8; 256]>::try_from(key).map_err(|_| StoreError::Corrupt {
                    what: "auth key (wrong length)",
                })
            })
            .transpose()?,
    })
}

fn set_dc_option(conn: &Connection, dc: &DcOption) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO telegram_dc (dc_id, ipv4, ipv6, auth_key) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (dc_id) DO UPDATE SET
             ipv4 = excluded.ipv4, ipv6 = excluded.ipv6, auth_key = excluded.auth_key",
    )?
    .execute((
        dc.id,
        dc.ipv4.to_string(),
        dc.ipv6.to_string(),
        dc.auth_key.as_ref().map(|key| &key[..]),
    ))?;
    Ok(())
}

/// A peer as stored: the columns of `telegram_peer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PeerRow {
    peer_id: i64,
    access_hash: Option<i64>,
    is_bot: Option<bool>,
    is_self: Option<bool>,
    channel_kind: Option<u8>,
}

/// Flattens a [`PeerInfo`] into its row; refuses ids outside Telegram's
/// ranges (grammers' own constructors would panic on them in debug builds).
fn encode_peer(info: &PeerInfo) -> Result<PeerRow, StoreError> {
    let invalid = StoreError::InvalidInput("a Telegram peer id outside Telegram's ranges");
    let row = match *info {
        PeerInfo::User {
            id,
            auth,
            bot,
            is_self,
        } => PeerRow {
            peer_id: PeerId::user(id)
                .ok_or(invalid)?
                .bot_api_dialog_id_unchecked(),
            access_hash: auth.map(PeerAuth::hash),
            is_bot: bot,
            is_self,
            channel_kind: None,
        },
        PeerInfo::Chat { id } => PeerRow {
            peer_id: PeerId::chat(id)
                .ok_or(invalid)?
                .bot_api_dialog_id_unchecked(),
            access_hash: None,
            is_bot: None,
            is_self: None,
            channel_kind: None,
        },
        PeerInfo::Channel { id, auth, kind } => PeerRow {
            peer_id: PeerId::channel(id)
                .ok_or(invalid)?
                .bot_api_dialog_id_unchecked(),
            access_hash: auth.map(PeerAuth::hash),
            is_bot: None,
            is_self: None,
            channel_kind: kind.map(encode_channel_kind),
        },
    };
    Ok(row)
}

/// Rebuilds the [`PeerInfo`] of a stored row.
fn decode_peer(row: PeerRow) -> Result<PeerInfo, StoreError> {
    let id = PeerId::from_bot_api_dialog_id(row.peer_id).ok_or(StoreError::Corrupt {
        what: "Telegram peer id",
    })?;
    let bare = id.bare_id().ok_or(StoreError::Corrupt {
        what: "Telegram peer id",
    })?;
    Ok(match id.kind() {
        PeerKind::User => PeerInfo::User {
            id: bare,
            auth: row.access_hash.map(PeerAuth::from_hash),
            bot: row.is_bot,
            is_self: row.is_self,
        },
        PeerKind::Chat => PeerInfo::Chat { id: bare },
        PeerKind::Channel => PeerInfo::Channel {
            id: bare,
            auth: row.access_hash.map(PeerAuth::from_hash),
            kind: row.channel_kind.map(decode_channel_kind).transpose()?,
        },
    })
}

fn encode_channel_kind(kind: ChannelKind) -> u8 {
    match kind {
        ChannelKind::Broadcast => 1,
        ChannelKind::Megagroup => 2,
        ChannelKind::Gigagroup => 3,
        ChannelKind::Community => 4,
    }
}

fn decode_channel_kind(value: u8) -> Result<ChannelKind, StoreError> {
    match value {
        1 => Ok(ChannelKind::Broadcast),
        2 => Ok(ChannelKind::Megagroup),
        3 => Ok(ChannelKind::Gigagroup),
        4 => Ok(ChannelKind::Community),
        _ => Err(StoreError::Corrupt {
            what: "channel kind",
        }),
    }
}

fn peer_row(row: &Row<'_>) -> rusqlite::Result<PeerRow> {
    Ok(PeerRow {
        peer_id: row.get(0)?,
        access_hash: row.get(1)?,
        is_bot: row.get(2)?,
        is_self: row.get(3)?,
        channel_kind: row.get(4)?,
    })
}

/// Looks a peer up; `PeerId::self_user()` means the peer cached with `is_self`.
fn load_peer(conn: &Connection, peer: PeerId) -> Result<Option<PeerInfo>, StoreError> {
    let row = match peer.bot_api_dialog_id() {
        Some(peer_id) => conn
            .prepare_cached(concat!(
                "SELECT peer_id, access_hash, is_bot, is_self, channel_kind",
                " FROM telegram_peer WHERE peer_id = ?1"
            ))?
            .query_row([peer_id], peer_row)
            .optional()?,
        None => conn
            .prepare_cached(concat!(
                "SELECT peer_id, access_hash, is_bot, is_self, channel_kind",
                " FROM telegram_peer WHERE is_self = 1"
            ))?
            .query_row([], peer_row)
            .optional()?,
    };
    row.map(decode_peer).transpose()
}

/// Merges `info` into the cache the way grammers' memory storage does: known
/// fields are replaced, unknown (`None`) fields keep what was stored. The
/// update is skipped when it would change nothing, so the steady stream of
/// already-known peers costs no disk writes. Caching a new self user takes
/// the flag from any previous one (one account per bridge).
fn cache_peer(conn: &Connection, info: &PeerInfo) -> Result<(), StoreError> {
    let row = encode_peer(info)?;
    if row.is_self == Some(true) {
        conn.prepare_cached(
            "UPDATE telegram_peer SET is_self = 0 WHERE is_self = 1 AND peer_id <> ?1",
        )?
        .execute([row.peer_id])?;
    }
    conn.prepare_cached(
        "INSERT INTO telegram_peer (peer_id, access_hash, is_bot, is_self, channel_kind)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (peer_id) DO UPDATE SET
             access_hash  = coalesce(excluded.access_hash, access_hash),
             is_bot       = coalesce(excluded.is_bot, is_bot),
             is_self      = coalesce(excluded.is_self, is_self),
             channel_kind = coalesce(excluded.channel_kind, channel_kind)
         WHERE access_hash  IS NOT coalesce(excluded.access_hash, access_hash)
            OR is_bot       IS NOT coalesce(excluded.is_bot, is_bot)
            OR is_self      IS NOT coalesce(excluded.is_self, is_self)
            OR channel_kind IS NOT coalesce(excluded.channel_kind, channel_kind)",
    )?
    .execute((
        row.peer_id,
        row.access_hash,
        row.is_bot,
        row.is_self,
        row.channel_kind,
    ))?;
    Ok(())
}

/// The full update state; a fresh file gives `UpdatesState::default()`.
fn load_updates_state(conn: &Connection) -> Result<UpdatesState, StoreError> {
    let mut state = conn
        .prepare_cached(
            "SELECT pts, qts, date, seq FROM telegram_update_state WHERE singleton = 0",
        )?
        .query_row([], |row| {
            Ok(UpdatesState {
                pts: row.get(0)?,
                qts: row.get(1)?,
                date: row.get(2)?,
                seq: row.get(3)?,
                channels: Vec::new(),
            })
        })
        .optional()?
        .unwrap_or_default();
    let mut statement = conn
        .prepare_cached("SELECT channel_id, pts FROM telegram_channel_state ORDER BY channel_id")?;
    state.channels = statement
        .query_map([], |row| {
            Ok(ChannelState {
                id: row.get(0)?,
                pts: row.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(state)
}

/// Applies one [`UpdateState`] change with the memory storage's semantics:
/// `All` replaces everything (channels not listed are forgotten), `Primary`
/// and `Secondary` replace their fields and keep the others, `Channel`
/// replaces one channel's pts. Runs inside the caller's transaction.
fn store_update_state(conn: &Connection, update: UpdateState) -> Result<(), StoreError> {
    match update {
        UpdateState::All(state) => {
            write_account_state(conn, state.pts, state.qts, state.date, state.seq)?;
            replace_channel_states(conn, &state.channels)
        }
        UpdateState::Primary { pts, date, seq } => {
            conn.prepare_cached(
                "INSERT INTO telegram_update_state (singleton, pts, qts, date, seq)
                 VALUES (0, ?1, 0, ?2, ?3)
                 ON CONFLICT (singleton) DO UPDATE SET
                     pts = excluded.pts, date = excluded.date, seq = excluded.seq",
            )?
            .execute([pts, date, seq])?;
            Ok(())
        }
        UpdateState::Secondary { qts } => {
            conn.prepare_cached(
                "INSERT INTO telegram_update_state (singleton, pts, qts, date, seq)
                 VALUES (0, 0, ?1, 0, 0)
                 ON CONFLICT (singleton) DO UPDATE SET qts = excluded.qts",
            )?
            .execute([qts])?;
            Ok(())
        }
        UpdateState::Channel { id, pts } => write_channel_state(conn, id, pts),
    }
}

fn write_account_state(
    conn: &Connection,
    pts: i32,
    qts: i32,
    date: i32,
    seq: i32,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO telegram_update_state (singleton, pts, qts, date, seq)
         VALUES (0, ?1, ?2, ?3, ?4)
         ON CONFLICT (singleton) DO UPDATE SET
             pts = excluded.pts, qts = excluded.qts, date = excluded.date, seq = excluded.seq",
    )?
    .execute([pts, qts, date, seq])?;
    Ok(())
}

/// Writes one channel's pts, skipping the write when it is unchanged.
fn write_channel_state(conn: &Connection, channel_id: i64, pts: i32) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO telegram_channel_state (channel_id, pts) VALUES (?1, ?2)
         ON CONFLICT (channel_id) DO UPDATE SET pts = excluded.pts WHERE pts <> excluded.pts",
    )?
    .execute((channel_id, pts))?;
    Ok(())
}

/// Makes the stored channel states equal `channels`. grammers saves the whole
/// state at once, usually with most channels unchanged: unchanged rows are
/// not rewritten and only channels that disappeared are deleted.
fn replace_channel_states(conn: &Connection, channels: &[ChannelState]) -> Result<(), StoreError> {
    let stored: Vec<i64> = conn
        .prepare_cached("SELECT channel_id FROM telegram_channel_state")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let wanted: std::collections::HashSet<i64> = channels.iter().map(|c| c.id).collect();
    let mut delete =
        conn.prepare_cached("DELETE FROM telegram_channel_state WHERE channel_id = ?1")?;
    for gone in stored.iter().filter(|id| !wanted.contains(id)) {
        delete.execute([gone])?;
    }
    for channel in channels {
        write_channel_state(conn, channel.id, channel.pts)?;
    }
    Ok(())
}

/// Whether the home DC has an auth key and a self user is cached.
pub(super) fn has_login(conn: &Connection) -> Result<bool, StoreError> {
    let home = home_dc(conn)?;
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM telegram_peer WHERE is_self = 1)
                AND EXISTS (SELECT 1 FROM telegram_dc WHERE dc_id = ?1 AND auth_key IS NOT NULL)",
        )?
        .query_row([home], |row| row.get(0))?)
}

/// Forgets keys, peers and update state; keeps DC addresses and the home DC.
pub(super) fn clear_login(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "UPDATE telegram_dc SET auth_key = NULL WHERE auth_key IS NOT NULL;
         DELETE FROM telegram_peer;
         DELETE FROM telegram_update_state;
         DELETE FROM telegram_channel_state;",
    )?;
    Ok(())
}

/// The home DC that [`seed_dc`] sets, as Telegram's "nearest DC" usually is.
const SEEDED_HOME_DC: i32 = 2;

/// Points DCs 1–5 at `addr` with `auth_key` and makes DC 2 home.
pub(super) fn seed_dc(
    conn: &Connection,
    addr: SocketAddr,
    auth_key: &[u8; 256],
) -> Result<(), StoreError> {
    let (ipv4, ipv6) = socket_pair(addr);
    for id in 1..=5 {
        set_dc_option(
            conn,
            &DcOption {
                id,
                ipv4,
                ipv6,
                auth_key: Some(*auth_key),
            },
        )?;
    }
    set_home_dc(conn, SEEDED_HOME_DC)
}

/// Both address families for one socket address. An IPv4 address is also
/// written as its IPv4-mapped IPv6 form (as grammers does for config
/// entries); an IPv6-only address gets the unspecified IPv4 address, which
/// only matters to a client that does not use IPv6.
fn socket_pair(addr: SocketAddr) -> (SocketAddrV4, SocketAddrV6) {
    match addr {
        SocketAddr::V4(v4) => (
            v4,
            SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0),
        ),
        SocketAddr::V6(v6) => (
            SocketAddrV4::new(
                v6.ip().to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED),
                v6.port(),
            ),
            v6,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_peer_shapes() -> Vec<PeerInfo> {
        vec![
            PeerInfo::User {
                id: 1,
                auth: None,
                bot: None,
                is_self: None,
            },
            PeerInfo::User {
                id: 0xffffffffff,
                auth: Some(PeerAuth::from_hash(-5)),
                bot: Some(false),
                is_self: Some(true),
            },
            PeerInfo::Chat { id: 999999999999 },
            PeerInfo::Channel {
                id: 1,
                auth: Some(PeerAuth::from_hash(i64::MIN)),
                kind: Some(ChannelKind::Gigagroup),
            },
            PeerInfo::Channel {
                id: 997852516352,
                auth: None,
                kind: None,
            },
            PeerInfo::Channel {
                id: 1002147483649,
                auth: Some(PeerAuth::from_hash(0)),
                kind: Some(ChannelKind::Community),
            },
        ]
    }

    #[test]
    fn peer_rows_round_trip() {
        for info in all_peer_shapes() {
            let row = encode_peer(&info).unwrap();
            assert_eq!(row.peer_id, info.id().bot_api_dialog_id().unwrap());
            assert_eq!(decode_peer(row).unwrap(), info);
        }
    }

    #[test]
    fn out_of_range_peer_ids_are_refused_not_panicked_on() {
        for info in [
            PeerInfo::User {
                id: 0,
                auth: None,
                bot: None,
                is_self: None,
            },
            PeerInfo::Chat { id: -3 },
            PeerInfo::Channel {
                id: 998000000000,
                auth: None,
                kind: None,
            },
        ] {
            assert!(matches!(
                encode_peer(&info),
                Err(StoreError::InvalidInput(_))
            ));
        }
        let stored = PeerRow {
            peer_id: 1 << 40,
            access_hash: None,
            is_bot: None,
            is_self: None,
            channel_kind: None,
        };
        assert!(matches!(
            decode_peer(stored),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn channel_kinds_round_trip() {
        for kind in [
            ChannelKind::Broadcast,
            ChannelKind::Megagroup,
            ChannelKind::Gigagroup,
            ChannelKind::Community,
        ] {
            assert_eq!(
                decode_channel_kind(encode_channel_kind(kind)).unwrap(),
                kind
            );
        }
        assert!(decode_channel_kind(0).is_err());
        assert!(decode_channel_kind(5).is_err());
    }

    #[test]
    fn dc_option_decoding_checks_key_length() {
        let ok = decode_dc_option(2, "127.0.0.1:1", "[::1]:1", Some(vec![7; 256])).unwrap();
        assert_eq!(ok.auth_key, Some([7; 256]));
        assert!(decode_dc_option(2, "127.0.0.1:1", "[::1]:1", Some(vec![7; 255])).is_err());
        assert!(decode_dc_option(2, "not an address", "[::1]:1", None).is_err());
    }

    #[test]
    fn socket_pairs_keep_the_port_in_both_families() {
        let (v4, v6) = socket_pair("127.0.0.1:4430".parse().unwrap());
        assert_eq!(v4.to_string(), "127.0.0.1:4430");
        assert_eq!(v6.to_string(), "[::ffff:127.0.0.1]:4430");
        let (v4, v6) = socket_pair("[::1]:4431".parse().unwrap());
        assert_eq!(v4.to_string(), "0.0.0.0:4431");
        assert_eq!(v6.to_string(), "[::1]:4431");
    }
}
