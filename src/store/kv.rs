//! The key-value table: small named values that do not deserve a table of
//! their own (the management room, a persisted flood-wait deadline, ...).
//! Callers own their key names; this module only stores strings.

use rusqlite::{Connection, OptionalExtension};

use super::StoreError;

/// Reads `key`.
pub(crate) fn get(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT value FROM kv WHERE key = ?1")?
        .query_row([key], |row| row.get(0))
        .optional()?)
}

/// Sets `key` to `value`, replacing any previous value.
pub(crate) fn set(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO kv (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([key, value])?;
    Ok(())
}

/// Removes `key`; absent keys are fine.
pub(crate) fn delete(conn: &Connection, key: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM kv WHERE key = ?1")?
        .execute([key])?;
    Ok(())
}
