//! The schema as numbered migrations and the code that applies them. It owns
//! the `schema_version` table and nothing else at run time: repositories never
//! create or alter tables.
//!
//! Rules for adding a migration: append a new entry with the next number,
//! never edit a released one, and keep each one a pure SQL batch so it runs
//! inside the single transaction that also records its number.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::StoreError;

/// One step of the schema.
pub(crate) struct Migration {
    /// The version the database has after this step.
    pub version: u32,
    /// What the step adds, for the version table and for readers of this file.
    pub description: &'static str,
    /// The SQL batch.
    pub sql: &'static str,
}

/// Every migration, in order. `MIGRATIONS[i].version == i + 1`.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "Telegram session: datacenters, peer cache, update state",
        sql: r#"
            -- One row per datacenter Telegram told us about (or that was seeded).
            -- Missing rows fall back to grammers' built-in addresses.
            CREATE TABLE telegram_dc (
                dc_id    INTEGER PRIMARY KEY,
                ipv4     TEXT NOT NULL,
                ipv6     TEXT NOT NULL,
                auth_key BLOB CHECK (auth_key IS NULL OR length(auth_key) = 256)
            ) STRICT;

            -- At most one row: the datacenter that is home to the logged-in account.
            CREATE TABLE telegram_home_dc (
                singleton INTEGER PRIMARY KEY CHECK (singleton = 0),
                dc_id     INTEGER NOT NULL
            ) STRICT;

            -- Peer cache keyed by Bot API dialog id (users > 0, basic groups < 0,
            -- channels <= -1000000000001). NULL means "not known", which is
            -- different from false for the flags.
            CREATE TABLE telegram_peer (
                peer_id      INTEGER PRIMARY KEY,
                access_hash  INTEGER,
                is_bot       INTEGER CHECK (is_bot IN (0, 1)),
                is_self      INTEGER CHECK (is_self IN (0, 1)),
                channel_kind INTEGER CHECK (channel_kind BETWEEN 1 AND 4)
            ) STRICT;
            -- Only one account is logged in at a time.
            CREATE UNIQUE INDEX telegram_peer_self ON telegram_peer (is_self) WHERE is_self = 1;

            -- At most one row: the account-wide update state.
            CREATE TABLE telegram_update_state (
                singleton INTEGER PRIMARY KEY CHECK (singleton = 0),
                pts       INTEGER NOT NULL,
                qts       INTEGER NOT NULL,
                date      INTEGER NOT NULL,
                seq       INTEGER NOT NULL
            ) STRICT;

            -- Per-channel pts, keyed by the bare channel id.
            CREATE TABLE telegram_channel_state (
                channel_id INTEGER PRIMARY KEY,
                pts        INTEGER NOT NULL
            ) STRICT;
        "#,
    },
    Migration {
        version: 2,
        description: "bridge: portals, ghosts, message map, appservice transactions, key-value",
        sql: r#"
            -- A Telegram chat bridged to a Matrix room. peer_id is the chat's
            -- Bot API dialog id (for a private chat: the other user's id).
            CREATE TABLE portal (
                peer_id         INTEGER PRIMARY KEY,
                kind            TEXT NOT NULL
                                CHECK (kind IN ('private', 'group', 'supergroup', 'channel')),
                room_id         TEXT NOT NULL UNIQUE,
                title           TEXT,
                avatar_photo_id INTEGER,
                avatar_mxc      TEXT,
                encrypted       INTEGER NOT NULL DEFAULT 0 CHECK (encrypted IN (0, 1)),
                in_space        INTEGER NOT NULL DEFAULT 0 CHECK (in_space IN (0, 1))
            ) STRICT;

            -- A Telegram user's Matrix puppet and the profile already set on it.
            CREATE TABLE ghost (
                user_id         INTEGER PRIMARY KEY,
                registered      INTEGER NOT NULL DEFAULT 0 CHECK (registered IN (0, 1)),
                displayname     TEXT,
                avatar_photo_id INTEGER,
                avatar_mxc      TEXT
            ) STRICT;

            -- Telegram message <-> Matrix event. Telegram numbers messages per
            -- account in private chats and basic groups and per channel in
            -- supergroups and channels, so the key is (scope, message id):
            -- scope is the account's user id (> 0) or the channel's Bot API
            -- dialog id (< 0). part numbers the events of a split message or
            -- the Telegram messages of a split Matrix event.
            CREATE TABLE message (
                scope          INTEGER NOT NULL,
                tg_msg_id      INTEGER NOT NULL,
                part           INTEGER NOT NULL CHECK (part >= 0),
                chat_peer_id   INTEGER NOT NULL REFERENCES portal (peer_id) ON DELETE CASCADE,
                room_id        TEXT NOT NULL,
                event_id       TEXT NOT NULL,
                sent_by_bridge INTEGER NOT NULL CHECK (sent_by_bridge IN (0, 1)),
                PRIMARY KEY (scope, tg_msg_id, part),
                UNIQUE (event_id, part)
            ) STRICT, WITHOUT ROWID;
            -- Serves the portal foreign key (cascade) and "newest message in a chat".
            CREATE INDEX message_chat ON message (chat_peer_id, tg_msg_id);

            -- Appservice transaction ids already handled, so retries are acknowledged
            -- without being processed twice.
            CREATE TABLE appservice_txn (
                txn_id       TEXT PRIMARY KEY,
                processed_at INTEGER NOT NULL
            ) STRICT, WITHOUT ROWID;

            -- Small named values (management room, flood-wait deadlines, ...).
            CREATE TABLE kv (
                key   TEXT PRIMARY KEY,
                value TEXT NOT NULL
            ) STRICT, WITHOUT ROWID;
        "#,
    },
    Migration {
        version: 3,
        description:
            "messages Telegram to Matrix: reactions, bridged edits, handled-message cursor",
        sql: r#"
            -- A Telegram reaction bridged as an m.reaction annotation: one row
            -- per (message, reacting peer, emoji). reactor_id is the reacting
            -- peer's Bot API dialog id.
            CREATE TABLE reaction (
                scope        INTEGER NOT NULL,
                tg_msg_id    INTEGER NOT NULL,
                reactor_id   INTEGER NOT NULL,
                emoji        TEXT NOT NULL,
                chat_peer_id INTEGER NOT NULL REFERENCES portal (peer_id) ON DELETE CASCADE,
                room_id      TEXT NOT NULL,
                event_id     TEXT NOT NULL,
                PRIMARY KEY (scope, tg_msg_id, reactor_id, emoji)
            ) STRICT, WITHOUT ROWID;
            -- Serves the portal foreign key (cascade).
            CREATE INDEX reaction_chat ON reaction (chat_peer_id);
            CREATE INDEX reaction_event ON reaction (event_id);

            -- The newest Telegram edit bridged per message, so an edit that
            -- Telegram repeats (or replays after a restart) is sent only once.
            CREATE TABLE message_edit (
                scope     INTEGER NOT NULL,
                tg_msg_id INTEGER NOT NULL,
                edit_date INTEGER NOT NULL,
                PRIMARY KEY (scope, tg_msg_id)
            ) STRICT, WITHOUT ROWID;

            -- Per chat, the newest Telegram message handled without a message
            -- map row (service messages that only change room state), so the
            -- catch-up after a restart does not handle it again.
            CREATE TABLE chat_cursor (
                chat_peer_id INTEGER PRIMARY KEY REFERENCES portal (peer_id) ON DELETE CASCADE,
                tg_msg_id    INTEGER NOT NULL
            ) STRICT, WITHOUT ROWID;
        "#,
    },
    Migration {
        version: 4,
        description: "Matrix -> Telegram: the per-room outbox and the bridged reactions",
        sql: r#"
            -- The owner's portal events accepted from the homeserver and not yet
            -- delivered to Telegram, in arrival order per room. A row is
            -- written in the same transaction that records the appservice
            -- transaction and deleted in the one that stores the message map,
            -- so a crash in between resends it (deduplicated by Telegram
            -- through a random_id derived from the event id).
            CREATE TABLE outbox (
                seq       INTEGER PRIMARY KEY AUTOINCREMENT,
                room_id   TEXT NOT NULL,
                event_id  TEXT NOT NULL UNIQUE,
                event     TEXT NOT NULL,
                queued_at INTEGER NOT NULL
            ) STRICT;
            CREATE INDEX outbox_room ON outbox (room_id, seq);

            -- The owner's Matrix reactions that are set on Telegram, so that
            -- redacting one removes it there.
            CREATE TABLE outbound_reaction (
                event_id        TEXT PRIMARY KEY,
                room_id         TEXT NOT NULL,
                target_event_id TEXT NOT NULL,
                emoji           TEXT NOT NULL
            ) STRICT;
            CREATE INDEX outbound_reaction_target ON outbound_reaction (target_event_id);
        "#,
    },
    Migration {
        version: 5,
        description: "media cache: Telegram photos and documents <-> Matrix content URIs",
        sql: r#"
            -- A Telegram file (photo at the size the bridge chose, or document;
            -- ids are the same for every account) and the mxc URI holding the
            -- same bytes, so nothing is uploaded twice.
            CREATE TABLE media_cache (
                kind        TEXT NOT NULL CHECK (kind IN ('photo', 'document')),
                telegram_id INTEGER NOT NULL,
                mxc         TEXT NOT NULL,
                size        INTEGER NOT NULL CHECK (size >= 0),
                mime_type   TEXT NOT NULL,
                PRIMARY KEY (kind, telegram_id)
            ) STRICT;
            -- Matrix -> Telegram: which Telegram file an upload became.
            CREATE INDEX media_cache_mxc ON media_cache (mxc);
        "#,
    },
    Migration {
        version: 6,
        description:
            "the owner's portal events ever queued for Telegram, for exactly-once catch-up",
        sql: r#"
            -- Every owner event in a portal that was queued for Telegram, so
            -- that the same event read again (a homeserver retry, or the
            -- bridge reading a room's timeline for what it missed) is never
            -- queued twice. Pruned with the appservice transaction log.
            CREATE TABLE owner_event (
                event_id TEXT PRIMARY KEY,
                room_id  TEXT NOT NULL,
                seen_at  INTEGER NOT NULL
            ) STRICT, WITHOUT ROWID;
            CREATE INDEX owner_event_seen_at ON owner_event (seen_at);
        "#,
    },
    Migration {
        version: 7,
        description: "quarantine: items that failed while being bridged, never retried",
        sql: r#"
            -- One row per Telegram update, Matrix event or outbox entry whose
            -- handling failed in a way a retry would repeat (a panic). The
            -- item itself was marked handled or removed from its queue; this
            -- table is what is left to tell the owner and to diagnose. A
            -- Telegram message also keeps its chat (Bot API dialog id) and
            -- id: Telegram may deliver the same update again after a restart
            -- (its update state is saved later than the message is handled),
            -- and such a repeat is recognised here and skipped.
            CREATE TABLE quarantine (
                id           INTEGER PRIMARY KEY,
                direction    TEXT NOT NULL CHECK (direction IN ('telegram', 'matrix', 'outbox')),
                item         TEXT NOT NULL,
                room_id      TEXT,
                reason       TEXT NOT NULL,
                failed_at    INTEGER NOT NULL,
                chat_peer_id INTEGER,
                tg_msg_id    INTEGER
            ) STRICT;
            CREATE INDEX quarantine_telegram_message ON quarantine (chat_peer_id, tg_msg_id)
                WHERE chat_peer_id IS NOT NULL;
        "#,
    },
    Migration {
        version: 8,
        description: "inbox: Telegram events read but not yet applied to Matrix; early deletions",
        sql: r#"
            -- Telegram events in the order the update stream delivered them,
            -- written before the update state covering them is saved and
            -- removed once applied to Matrix: what is left at start was read
            -- by an earlier run and never applied. `event` is the Telegram
            -- side's durable form of the event (JSON).
            CREATE TABLE inbox (
                seq         INTEGER PRIMARY KEY AUTOINCREMENT,
                event       TEXT NOT NULL,
                received_at INTEGER NOT NULL
            ) STRICT;
            -- Messages (in the numbering private chats and basic groups
            -- share) deleted on Telegram before they were bridged: their
            -- message is skipped when it comes up, even after a restart.
            CREATE TABLE early_deletion (
                account_id INTEGER NOT NULL,
                tg_msg_id  INTEGER NOT NULL,
                noted_at   INTEGER NOT NULL,
                PRIMARY KEY (account_id, tg_msg_id)
            ) STRICT;
        "#,
    },
    Migration {
        version: 9,
        description: "edits of the same second told apart by a digest of their text",
        sql: r#"
            -- Telegram dates edits to the second: the digests (space
            -- separated) of the edits of `edit_date` that were bridged, so a
            -- second edit within that second is bridged too, and a repeat or
            -- the echo of the owner's own edit is not. Empty for rows written
            -- before, whose date alone decides as it did then.
            ALTER TABLE message_edit ADD COLUMN digests TEXT NOT NULL DEFAULT '';
        "#,
    },
    Migration {
        version: 10,
        description: "forum topics: one room per topic of a forum supergroup",
        sql: r#"
            -- A topic of a forum supergroup bridged to its own room. The
            -- forum's own portal row is its General topic (id 1, never
            -- listed here); every other topic has a row here once its room
            -- exists. Messages of a topic stay in the forum's message map
            -- (same scope, chat_peer_id of the forum) with the topic room's
            -- room_id.
            CREATE TABLE portal_topic (
                peer_id  INTEGER NOT NULL REFERENCES portal (peer_id) ON DELETE CASCADE,
                topic_id INTEGER NOT NULL CHECK (topic_id > 1),
                room_id  TEXT NOT NULL UNIQUE,
                title    TEXT,
                closed   INTEGER NOT NULL DEFAULT 0 CHECK (closed IN (0, 1)),
                in_space INTEGER NOT NULL DEFAULT 0 CHECK (in_space IN (0, 1)),
                PRIMARY KEY (peer_id, topic_id)
            ) STRICT, WITHOUT ROWID;
        "#,
    },
    Migration {
        version: 11,
        description: "forum topics: a topic room's own avatar (the topic's icon)",
        sql: r#"
            -- The custom emoji document shown as the topic room's avatar and
            -- its upload, as portal.avatar_photo_id/avatar_mxc are for a
            -- chat's photo. NULL: no avatar.
            ALTER TABLE portal_topic ADD COLUMN avatar_photo_id INTEGER;
            ALTER TABLE portal_topic ADD COLUMN avatar_mxc TEXT;
        "#,
    },
];

/// The newest schema version this binary understands.
pub(crate) fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Creates the version table if needed; it exists before any migration so a
/// fresh file and an old file are handled by the same code.
fn ensure_version_table(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
            version     INTEGER PRIMARY KEY,
            description TEXT NOT NULL,
            applied_at  INTEGER NOT NULL
        ) STRICT;",
    )
}

/// The version recorded in the file; 0 for a fresh file.
pub(crate) fn current_version(conn: &Connection) -> rusqlite::Result<u32> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')",
        [],
        |row| row.get(0),
    )?;
    if !exists {
        return Ok(0);
    }
    let version: Option<u32> = conn
        .query_row("SELECT max(version) FROM schema_version", [], |row| {
            row.get(0)
        })
        .optional()?
        .flatten();
    Ok(version.unwrap_or(0))
}

/// Brings the file to the newest of `migrations`, refusing files newer than
/// them. Runs in one IMMEDIATE transaction so two processes opening the same
/// fresh file (the service and `tgbridge login`) cannot both migrate: the
/// second waits for the first and then finds nothing left to do.
pub(crate) fn migrate(
    conn: &mut Connection,
    migrations: &[Migration],
    path: &std::path::Path,
) -> Result<u32, StoreError> {
    let supported = migrations.last().map_or(0, |m| m.version);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    ensure_version_table(&tx)?;
    let found = current_version(&tx)?;
    if found > supported {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            supported,
        });
    }
    for migration in migrations.iter().filter(|m| m.version > found) {
        apply(&tx, migration).map_err(|source| StoreError::Migration {
            version: migration.version,
            source,
        })?;
    }
    tx.commit()?;
    if found < supported {
        tracing::info!(
            path = %path.display(),
            from = found,
            to = supported,
            "database schema migrated"
        );
    }
    Ok(supported.max(found))
}

/// Runs one migration and records it, inside the caller's transaction.
fn apply(conn: &Connection, migration: &Migration) -> rusqlite::Result<()> {
    conn.execute_batch(migration.sql)?;
    conn.execute(
        "INSERT INTO schema_version (version, description, applied_at) VALUES (?1, ?2, unixepoch())",
        (migration.version, migration.description),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_from_one() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version as usize, index + 1);
        }
        assert_eq!(latest_version(), MIGRATIONS.len() as u32);
    }

    #[test]
    fn every_migration_is_valid_sql_on_its_own_step() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        for upto in 1..=MIGRATIONS.len() {
            let version = migrate(&mut conn, &MIGRATIONS[..upto], "mem".as_ref()).unwrap();
            assert_eq!(version, upto as u32);
            assert_eq!(current_version(&conn).unwrap(), upto as u32);
        }
        let fk_problems: i64 = conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(fk_problems, 0);
    }

    #[test]
    fn refuses_a_newer_file() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, MIGRATIONS, "mem".as_ref()).unwrap();
        let err = migrate(&mut conn, &MIGRATIONS[..1], "x.db".as_ref()).unwrap_err();
        match err {
            StoreError::TooNew {
                found, supported, ..
            } => {
                assert_eq!(found, latest_version());
                assert_eq!(supported, 1);
            }
            other => panic!("expected TooNew, got {other:?}"),
        }
    }
}
