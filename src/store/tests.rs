//! Opening and migrating real files, including a database left at the
//! previous schema version by an older tgbridge.

use grammers_session::types::{ChannelState, DcOption, PeerAuth, PeerId, PeerInfo, UpdateState};
use grammers_session::Session;

use super::schema::{self, MIGRATIONS};
use super::*;

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("tgbridge.db")
}

/// Writes a file exactly as a tgbridge that only knew the first `upto`
/// migrations would have left it.
fn create_old_database(path: &Path, upto: usize) -> Connection {
    fs::prepare(path).unwrap();
    let mut conn = Connection::open(path).unwrap();
    configure(&conn).unwrap();
    schema::migrate(&mut conn, &MIGRATIONS[..upto], path).unwrap();
    conn
}

#[test]
fn empty_file_migrates_to_latest() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&db_path(&dir)).unwrap();
    assert_eq!(store.schema_version().unwrap(), schema::latest_version());
    assert_eq!(Store::supported_schema_version(), schema::latest_version());
    let recorded: Vec<u32> = store
        .db()
        .run(|conn| {
            let mut statement =
                conn.prepare("SELECT version FROM schema_version ORDER BY version")?;
            let versions = statement.query_map([], |row| row.get(0))?;
            Ok(versions.collect::<rusqlite::Result<_>>()?)
        })
        .unwrap();
    assert_eq!(recorded, (1..=schema::latest_version()).collect::<Vec<_>>());
}

#[tokio::test]
async fn previous_version_keeps_its_session_and_gains_bridge_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let key = [9u8; 256];
    {
        // Version 1: the session tables only, before the bridge tables.
        let conn = create_old_database(&path, 1);
        assert_eq!(schema::current_version(&conn).unwrap(), 1);
        // The bridge tables do not exist yet at that version.
        assert!(conn.prepare("SELECT * FROM portal").is_err());
        session::seed_dc(&conn, "127.0.0.1:7000".parse().unwrap(), &key).unwrap();
        conn.execute(
            "INSERT INTO telegram_peer (peer_id, access_hash, is_bot, is_self) VALUES (42, 4242, 0, 1)",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO telegram_channel_state (channel_id, pts) VALUES (5, 500)",
            [],
        )
        .unwrap();
    }

    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), schema::latest_version());
    let session = store.telegram_session();
    assert!(store.has_telegram_login().unwrap());
    assert_eq!(
        session
            .dc_option(3)
            .unwrap()
            .and_then(|dc: DcOption| dc.auth_key),
        Some(key)
    );
    assert_eq!(
        session.peer(PeerId::self_user()).await.unwrap(),
        Some(PeerInfo::User {
            id: 42,
            auth: Some(PeerAuth::from_hash(4242)),
            bot: Some(false),
            is_self: Some(true),
        })
    );
    assert_eq!(
        session.updates_state().await.unwrap().channels,
        vec![ChannelState { id: 5, pts: 500 }]
    );
    session
        .set_update_state(UpdateState::Channel { id: 5, pts: 501 })
        .await
        .unwrap();
    store.kv_set("after-upgrade", "yes").unwrap();
    assert_eq!(
        store.kv_get("after-upgrade").unwrap().as_deref(),
        Some("yes")
    );
}

#[test]
fn newer_database_is_refused_with_both_versions_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let future = schema::latest_version() + 5;
    {
        let store = Store::open(&path).unwrap();
        store
            .db()
            .run(|conn| {
                conn.execute(
                    "INSERT INTO schema_version (version, description, applied_at)
                     VALUES (?1, 'from the future', 0)",
                    [future],
                )?;
                Ok(())
            })
            .unwrap();
    }
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found, supported, .. }
            if found == future && supported == schema::latest_version()),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&format!("schema version {future}")),
        "{message}"
    );
    assert!(
        message.contains(&format!("versions up to {}", schema::latest_version())),
        "{message}"
    );
    // Refusing must not have touched the file.
    let conn = Connection::open(&path).unwrap();
    assert_eq!(schema::current_version(&conn).unwrap(), future);
}

#[test]
fn a_file_that_is_not_sqlite_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    std::fs::write(&path, vec![b'x'; 8192]).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    assert!(err.to_string().contains("tgbridge.db"), "{err}");
}

#[test]
fn connection_settings_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&db_path(&dir)).unwrap();
    store
        .db()
        .run(|conn| {
            let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
            let fk: bool = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0))?;
            let sync: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0))?;
            let busy: i64 = conn.pragma_query_value(None, "busy_timeout", |r| r.get(0))?;
            assert_eq!(mode, "wal");
            assert!(fk);
            assert_eq!(sync, 1, "synchronous should be NORMAL");
            assert_eq!(busy, BUSY_TIMEOUT.as_millis() as i64);
            Ok(())
        })
        .unwrap();
}

#[test]
fn failed_transaction_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&db_path(&dir)).unwrap();
    let result: Result<(), StoreError> = store.transaction(|tx| {
        tx.kv_set("half", "done")?;
        tx.record_transaction("txn-1")?;
        Err(StoreError::InvalidInput("a test failure"))
    });
    assert!(result.is_err());
    assert_eq!(store.kv_get("half").unwrap(), None);
    assert!(!store.transaction_processed("txn-1").unwrap());

    store
        .transaction(|tx| {
            tx.kv_set("whole", "done")?;
            tx.record_transaction("txn-2")
        })
        .unwrap();
    assert_eq!(store.kv_get("whole").unwrap().as_deref(), Some("done"));
    assert!(store.transaction_processed("txn-2").unwrap());
}
