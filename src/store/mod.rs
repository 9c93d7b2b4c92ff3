//! The one SQLite file: schema and migrations, the Telegram client's
//! session (`session.rs`), portals, ghosts, the message map, the appservice
//! transaction log and a key-value table. Nothing outside this module writes
//! SQL, and this module knows nothing about HTTP or MTProto beyond the
//! session's types.
//!
//! Concurrency: one connection behind a `std::sync::Mutex`, shared by every
//! clone of [`Store`] and by the [`TelegramSession`]. Each call holds the lock
//! only for a few short statements and never across an `.await`. A second
//! process (`tgbridge login` while the service runs) opens its own connection;
//! WAL, a busy timeout and IMMEDIATE write transactions keep both consistent.

mod error;
mod fs;
mod ghost;
mod inbox;
mod kv;
mod media;
mod message;
mod outbox;
mod portal;
mod quarantine;
mod reaction;
mod schema;
mod session;
mod txn;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

pub use error::StoreError;
pub use ghost::{Ghost, Ghosts};
pub use inbox::{Inbox, InboxEntry};
pub use media::{CachedMedia, MediaCache, TelegramFileKind};
pub use message::{BridgedEdits, EditStamp, MessageMapping, MessageScope, Messages};
pub use outbox::{OutboundReaction, Outbox, OutboxEntry};
pub use portal::{Portal, PortalKind, Portals};
pub use quarantine::{Quarantine, QuarantineDirection, QuarantinedItem};
pub use reaction::{ReactionMapping, Reactions};
pub use session::TelegramSession;

/// How long a statement waits for another process's write lock before
/// failing with [`StoreError::Busy`]. Writers hold it for milliseconds.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Prepared statements kept per connection; comfortably above the number of
/// distinct statements in this module so none is ever re-parsed.
const STATEMENT_CACHE_CAPACITY: usize = 96;

/// Handle to the database. Cheap to clone; all clones share one connection.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

/// What every clone of a [`Store`] (and its session) points at.
struct Shared {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl Shared {
    /// Locks the connection. A panic while the lock was held cannot leave the
    /// connection half-written: an open rusqlite transaction rolls back when
    /// it is dropped during unwinding, so a poisoned lock is safe to reuse.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Shared {
    /// Lets SQLite refresh its query-planner statistics for the tables this
    /// connection used, as it recommends doing before closing. Best effort:
    /// the store is going away and has nobody to report a failure to.
    fn drop(&mut self) {
        let conn = self.conn.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Err(err) = conn.execute_batch("PRAGMA optimize") {
            tracing::debug!(error = %err, "PRAGMA optimize on close failed");
        }
    }
}

/// Where a repository runs its statements: the shared connection (each call
/// on its own) or a transaction opened by [`Store::transaction`].
#[derive(Clone, Copy)]
enum Db<'a> {
    Shared(&'a Shared),
    Tx(&'a Connection),
}

impl Db<'_> {
    /// Runs `f` on the connection; statements autocommit unless the caller
    /// is inside [`Store::transaction`].
    fn run<T>(self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        match self {
            Db::Shared(shared) => f(&shared.lock()),
            Db::Tx(conn) => f(conn),
        }
    }

    /// Runs `f` atomically: in its own IMMEDIATE transaction, or as part of
    /// the caller's transaction.
    fn atomically<T>(
        self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            Db::Shared(shared) => write_transaction(&mut shared.lock(), f),
            Db::Tx(conn) => f(conn),
        }
    }
}

/// Runs `f` in an IMMEDIATE transaction. IMMEDIATE takes the write lock up
/// front: a deferred transaction that reads first and writes later gets
/// SQLITE_BUSY at once (no busy wait) if another process wrote in between.
fn write_transaction<T, E: From<StoreError>>(
    conn: &mut Connection,
    f: impl FnOnce(&Connection) -> Result<T, E>,
) -> Result<T, E> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(StoreError::from)?;
    let value = f(&tx)?;
    tx.commit().map_err(StoreError::from)?;
    Ok(value)
}

impl Store {
    /// Opens (creating if missing) the database at `path`: data directory
    /// 0700 and file 0600 when created, WAL, foreign keys, busy timeout, and
    /// all pending migrations. Refuses a file written by a newer tgbridge.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        fs::prepare(path)?;
        let mut conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        configure(&conn).map_err(|err| classify_open_error(path, err))?;
        schema::migrate(&mut conn, schema::MIGRATIONS, path).map_err(|err| match err {
            StoreError::Sqlite(source) | StoreError::Busy(source) => {
                classify_open_error(path, source)
            }
            other => other,
        })?;
        Ok(Store {
            shared: Arc::new(Shared {
                conn: Mutex::new(conn),
                path: path.to_path_buf(),
            }),
        })
    }

    /// The file this store was opened from.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The schema version recorded in the file (equal to the newest this
    /// binary knows once [`Store::open`] has succeeded).
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        self.db().run(|conn| Ok(schema::current_version(conn)?))
    }

    /// The newest schema version this binary understands.
    pub fn supported_schema_version() -> u32 {
        schema::latest_version()
    }

    /// The Telegram client's session stored in this same file.
    pub fn telegram_session(&self) -> TelegramSession {
        TelegramSession::new(Arc::clone(&self.shared))
    }

    /// Whether an authorized Telegram session is stored: an auth key for the
    /// home datacenter and the logged-in (self) user.
    pub fn has_telegram_login(&self) -> Result<bool, StoreError> {
        self.db().run(session::has_login)
    }

    /// Forgets the Telegram login: auth keys, the self user, every cached
    /// access hash and the update state. Datacenter addresses, the home DC,
    /// portals, ghosts and the message map are kept, so logging in again
    /// (to the same account) resumes the existing portals.
    pub fn clear_telegram_login(&self) -> Result<(), StoreError> {
        self.db().atomically(session::clear_login)
    }

    /// Rewrites the file so that deleted rows (a cleared auth key) leave no
    /// bytes behind: SQLite keeps deleted content in free pages and in old
    /// write-ahead-log frames. `VACUUM` rebuilds the file from live rows and a
    /// truncating checkpoint empties the log. Meant for right after
    /// [`Store::clear_telegram_login`]; fails with [`StoreError::Busy`] while
    /// another connection holds a transaction open.
    pub fn scrub_deleted_data(&self) -> Result<(), StoreError> {
        self.db().run(|conn| {
            conn.execute_batch("VACUUM")?;
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
    }

    /// Points all five datacenters at `addr` with `auth_key` and makes DC 2
    /// home: how tests and the fake Telegram seed a session, since the real
    /// key exchange needs Telegram's private key.
    pub fn seed_dc(&self, addr: SocketAddr, auth_key: [u8; 256]) -> Result<(), StoreError> {
        self.db()
            .atomically(|conn| session::seed_dc(conn, addr, &auth_key))
    }

    /// Whether the appservice transaction `txn_id` was already processed.
    pub fn transaction_processed(&self, txn_id: &str) -> Result<bool, StoreError> {
        self.db().run(|conn| txn::processed(conn, txn_id))
    }

    /// Remembers that the appservice transaction `txn_id` was processed.
    /// Recording an id twice is not an error.
    pub fn record_transaction(&self, txn_id: &str) -> Result<(), StoreError> {
        self.db().run(|conn| txn::record(conn, txn_id))
    }

    /// Forgets transaction ids recorded before `unix_secs`; homeservers only
    /// retry recent transactions. Returns how many were removed.
    pub fn prune_transactions(&self, before_unix_secs: i64) -> Result<usize, StoreError> {
        self.db().run(|conn| txn::prune(conn, before_unix_secs))
    }

    /// Reads a value from the key-value table.
    pub fn kv_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.db().run(|conn| kv::get(conn, key))
    }

    /// Sets a value in the key-value table, replacing any previous one.
    pub fn kv_set(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.db().run(|conn| kv::set(conn, key, value))
    }

    /// Removes a key from the key-value table (absent keys are fine).
    pub fn kv_delete(&self, key: &str) -> Result<(), StoreError> {
        self.db().run(|conn| kv::delete(conn, key))
    }

    /// The portal repository.
    pub fn portals(&self) -> Portals<'_> {
        Portals::new(self.db())
    }

    /// The ghost repository.
    pub fn ghosts(&self) -> Ghosts<'_> {
        Ghosts::new(self.db())
    }

    /// The message map.
    pub fn messages(&self) -> Messages<'_> {
        Messages::new(self.db())
    }

    /// The reaction map.
    pub fn reactions(&self) -> Reactions<'_> {
        Reactions::new(self.db())
    }

    /// The Matrix → Telegram outbox and bridged reactions.
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox::new(self.db())
    }

    /// The media cache (Telegram files ⇄ Matrix content URIs).
    pub fn media(&self) -> MediaCache<'_> {
        MediaCache::new(self.db())
    }

    /// Telegram events waiting to be applied to Matrix, and early deletions.
    pub fn inbox(&self) -> Inbox<'_> {
        Inbox::new(self.db())
    }

    /// Items whose handling failed and that are never retried.
    pub fn quarantine(&self) -> Quarantine<'_> {
        Quarantine::new(self.db())
    }

    /// Runs `f` in one IMMEDIATE write transaction: everything it does
    /// through the [`StoreTx`] commits together, or not at all if it returns
    /// an error. Do not call methods of this `Store` (or its session) inside
    /// `f`: the connection is already locked and the call would deadlock.
    pub fn transaction<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&StoreTx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        write_transaction(&mut self.shared.lock(), |conn| f(&StoreTx { conn }))
    }

    fn db(&self) -> Db<'_> {
        Db::Shared(&self.shared)
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.shared.path)
            .finish_non_exhaustive()
    }
}

/// The repositories inside one [`Store::transaction`].
pub struct StoreTx<'a> {
    conn: &'a Connection,
}

impl StoreTx<'_> {
    /// The portal repository, inside this transaction.
    pub fn portals(&self) -> Portals<'_> {
        Portals::new(Db::Tx(self.conn))
    }

    /// The ghost repository, inside this transaction.
    pub fn ghosts(&self) -> Ghosts<'_> {
        Ghosts::new(Db::Tx(self.conn))
    }

    /// The message map, inside this transaction.
    pub fn messages(&self) -> Messages<'_> {
        Messages::new(Db::Tx(self.conn))
    }

    /// The reaction map, inside this transaction.
    pub fn reactions(&self) -> Reactions<'_> {
        Reactions::new(Db::Tx(self.conn))
    }

    /// The outbox, inside this transaction.
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox::new(Db::Tx(self.conn))
    }

    /// See [`Store::record_transaction`].
    pub fn record_transaction(&self, txn_id: &str) -> Result<(), StoreError> {
        txn::record(self.conn, txn_id)
    }

    /// See [`Store::kv_get`].
    pub fn kv_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        kv::get(self.conn, key)
    }

    /// See [`Store::kv_set`].
    pub fn kv_set(&self, key: &str, value: &str) -> Result<(), StoreError> {
        kv::set(self.conn, key, value)
    }

    /// See [`Store::kv_delete`].
    pub fn kv_delete(&self, key: &str) -> Result<(), StoreError> {
        kv::delete(self.conn, key)
    }
}

/// Per-connection settings. `synchronous = NORMAL` is durable across
/// application crashes in WAL mode and only risks the last commits on power
/// loss, which the message map's dedup and Telegram's getDifference cover;
/// FULL would fsync on every message, which hurts on SD cards.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    set_wal(conn)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

/// Switches to WAL. The switch needs a moment of exclusive access, which
/// another process opening the file at the same time can deny without the
/// busy handler being consulted, so it is retried for up to the busy timeout.
fn set_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        let result: rusqlite::Result<String> =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0));
        let in_time = std::time::Instant::now() < deadline;
        match result {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(_) if in_time => std::thread::sleep(Duration::from_millis(20)),
            Err(err) if in_time && is_busy(&err) => std::thread::sleep(Duration::from_millis(20)),
            Ok(mode) => {
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                    Some(format!("could not switch to WAL (journal mode is {mode})")),
                ))
            }
            Err(err) => return Err(err),
        }
    }
}

/// Whether `err` only means another connection holds a lock right now.
fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Turns SQLite's "file is not a database" into a sentence naming the file.
fn classify_open_error(path: &Path, err: rusqlite::Error) -> StoreError {
    match err.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::NotADatabase {
            path: path.to_path_buf(),
        },
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy(err),
        _ => StoreError::Open {
            path: path.to_path_buf(),
            source: err,
        },
    }
}

#[cfg(test)]
mod tests;

/// A store in a fresh temporary directory, kept as long as the directory.
#[cfg(test)]
pub(crate) fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Store::open(&dir.path().join("tgbridge.db")).expect("a new store opens");
    (dir, store)
}
