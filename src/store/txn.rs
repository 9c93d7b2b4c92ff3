//! The log of appservice transaction ids already processed, so that a
//! homeserver retrying a transaction (after a timeout or our restart) gets an
//! acknowledgement without the events being bridged twice.

use rusqlite::Connection;

use super::StoreError;

/// Whether `txn_id` was recorded.
pub(crate) fn processed(conn: &Connection, txn_id: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM appservice_txn WHERE txn_id = ?1)")?
        .query_row([txn_id], |row| row.get(0))?)
}

/// Records `txn_id` as processed now; recording it again keeps the first time.
pub(crate) fn record(conn: &Connection, txn_id: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO appservice_txn (txn_id, processed_at) VALUES (?1, unixepoch())
         ON CONFLICT (txn_id) DO NOTHING",
    )?
    .execute([txn_id])?;
    Ok(())
}

/// Removes ids recorded before `before_unix_secs`, and the owner's queued
/// events seen before then (a homeserver retries only recent transactions,
/// and the catch-up reads back no further than the last event it saw);
/// returns how many transaction ids were removed.
pub(crate) fn prune(conn: &Connection, before_unix_secs: i64) -> Result<usize, StoreError> {
    conn.prepare_cached("DELETE FROM owner_event WHERE seen_at < ?1")?
        .execute([before_unix_secs])?;
    Ok(conn
        .prepare_cached("DELETE FROM appservice_txn WHERE processed_at < ?1")?
        .execute([before_unix_secs])?)
}
