//! Seeds an existing tgbridge database so the real `tgbridge` binary talks to
//! this fake: all five DC options point at the fake's address with an auth
//! key the fake knows, and DC 2 is home, exactly as tgbridge's
//! `Store::seed_dc` does. Writes only the `telegram_dc` and
//! `telegram_home_dc` rows; never creates the file or its schema (tgbridge
//! owns its migrations) and never depends on the `tgbridge` crate, which
//! dev-depends on this one.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

/// Schema versions whose `telegram_dc` and `telegram_home_dc` tables have the
/// shape written here (they were created in version 1, unchanged since;
/// versions 6 and 7 added the owner-event log and the quarantine, 8 the
/// inbox, 9 the digests of edits, 10 the rooms of forum topics, 11 their
/// avatars).
const KNOWN_VERSIONS: std::ops::RangeInclusive<u32> = 1..=11;

/// The home DC tgbridge's `seed_dc` sets, as Telegram's "nearest DC" usually is.
const SEEDED_HOME_DC: i32 = 2;

/// How long to wait for a running tgbridge holding a write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a database could not be seeded.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The file does not exist; seeding never creates it.
    #[error(
        "{path} does not exist; any tgbridge command that opens the database creates it \
         (e.g. `tgbridge check -c config.yaml`), then seed it"
    )]
    Missing { path: PathBuf },
    /// The file exists but holds no tgbridge schema.
    #[error(
        "{path} has no tgbridge schema; any tgbridge command that opens the database creates it \
         (e.g. `tgbridge check -c config.yaml`), then seed it"
    )]
    NoSchema { path: PathBuf },
    /// The file was written by a tgbridge whose schema this fake does not know.
    #[error(
        "{path} has tgbridge schema version {found}; this fake knows versions {}..={}",
        KNOWN_VERSIONS.start(),
        KNOWN_VERSIONS.end()
    )]
    UnknownVersion { path: PathBuf, found: u32 },
    /// SQLite refused to open, read or write the file.
    #[error("{path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

/// Points DCs 1–5 of the tgbridge database at `path` to `addr` with
/// `auth_key` and makes DC 2 home, in one transaction.
pub fn seed(path: &Path, addr: SocketAddr, auth_key: &[u8; 256]) -> Result<(), SeedError> {
    if !path.exists() {
        return Err(SeedError::Missing {
            path: path.to_path_buf(),
        });
    }
    let sqlite = |source| SeedError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    // No CREATE flag: the file exists, and its mode (0600, set by tgbridge)
    // stays as it is.
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite)?;
    match schema_version(&tx).map_err(sqlite)? {
        None => {
            return Err(SeedError::NoSchema {
                path: path.to_path_buf(),
            })
        }
        Some(found) if !KNOWN_VERSIONS.contains(&found) => {
            return Err(SeedError::UnknownVersion {
                path: path.to_path_buf(),
                found,
            })
        }
        Some(_) => {}
    }
    write_rows(&tx, addr, auth_key).map_err(sqlite)?;
    tx.commit().map_err(sqlite)
}

/// The newest recorded schema version; `None` without a version table or
/// with an empty one (a file tgbridge never migrated).
fn schema_version(conn: &Connection) -> rusqlite::Result<Option<u32>> {
    let has_table: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')",
        [],
        |row| row.get(0),
    )?;
    if !has_table {
        return Ok(None);
    }
    conn.query_row("SELECT max(version) FROM schema_version", [], |row| {
        row.get(0)
    })
}

fn write_rows(conn: &Connection, addr: SocketAddr, auth_key: &[u8; 256]) -> rusqlite::Result<()> {
    let (ipv4, ipv6) = socket_pair(addr);
    let mut upsert = conn.prepare(
        "INSERT INTO telegram_dc (dc_id, ipv4, ipv6, auth_key) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (dc_id) DO UPDATE SET
             ipv4 = excluded.ipv4, ipv6 = excluded.ipv6, auth_key = excluded.auth_key",
    )?;
    for id in 1..=5 {
        upsert.execute((id, ipv4.to_string(), ipv6.to_string(), &auth_key[..]))?;
    }
    conn.execute(
        "INSERT INTO telegram_home_dc (singleton, dc_id) VALUES (0, ?1)
         ON CONFLICT (singleton) DO UPDATE SET dc_id = excluded.dc_id",
        [SEEDED_HOME_DC],
    )?;
    Ok(())
}

/// Both address families for one socket address, as tgbridge stores them:
/// an IPv4 address also as its IPv4-mapped IPv6 form; an IPv6-only address
/// with the unspecified IPv4 address.
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

    #[test]
    fn ipv4_is_also_written_ipv4_mapped() {
        let (v4, v6) = socket_pair("127.0.0.1:4000".parse().unwrap());
        assert_eq!(v4.to_string(), "127.0.0.1:4000");
        assert_eq!(v6.to_string(), "[::ffff:127.0.0.1]:4000");
    }

    #[test]
    fn a_missing_file_is_not_created() {
        let path = std::env::temp_dir().join(format!("fake-tg-missing-{}.db", std::process::id()));
        let err = seed(&path, "127.0.0.1:1".parse().unwrap(), &[7; 256]).unwrap_err();
        assert!(matches!(err, SeedError::Missing { .. }), "{err}");
        assert!(!path.exists());
    }

    #[test]
    fn an_unknown_version_is_refused_naming_both() {
        let path = std::env::temp_dir().join(format!("fake-tg-v99-{}.db", std::process::id()));
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY);
             INSERT INTO schema_version VALUES (99);",
        )
        .unwrap();
        drop(conn);
        let err = seed(&path, "127.0.0.1:1".parse().unwrap(), &[7; 256]).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        let text = err.to_string();
        assert!(
            text.contains("version 99")
                && text.contains(&format!(
                    "{}..={}",
                    KNOWN_VERSIONS.start(),
                    KNOWN_VERSIONS.end()
                )),
            "{text}"
        );
    }
}
