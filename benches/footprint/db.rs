//! The bridge database's size as the harness measures it: file bytes and
//! pages in use after a WAL checkpoint, with the row counts the figures are
//! divided by. Opens its own connection next to the running bridge and
//! writes nothing but the checkpoint.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The database of one bridge.
pub struct DbSize {
    path: PathBuf,
}

#[derive(Debug, Clone, Copy)]
pub struct DbFigures {
    /// The main file plus whatever the checkpoint could not move out of
    /// the WAL.
    pub file_bytes: u64,
    /// Pages in use (page count minus free pages), in bytes.
    pub used_bytes: u64,
    /// Rows of the message map.
    pub messages: u64,
    /// Rows of the appservice transaction log.
    pub transactions: u64,
    /// Telegram events read but not yet applied to Matrix.
    pub inbox: u64,
}

impl DbFigures {
    /// File and in-use growth from `before` to `self`, per `per` units.
    pub fn growth_per(&self, before: &DbFigures, per: u64) -> (f64, f64) {
        let per = per.max(1) as f64;
        (
            self.file_bytes.saturating_sub(before.file_bytes) as f64 / per,
            self.used_bytes.saturating_sub(before.used_bytes) as f64 / per,
        )
    }
}

impl DbSize {
    pub fn new(path: &Path) -> Self {
        DbSize {
            path: path.to_path_buf(),
        }
    }

    /// Checkpoints the WAL into the main file (the bridge keeps running), so
    /// the file size holds everything committed.
    pub fn measure(&self) -> DbFigures {
        let conn = rusqlite::Connection::open(&self.path).expect("open the database");
        conn.busy_timeout(Duration::from_secs(10))
            .expect("busy timeout");
        let (busy, _, _): (i64, i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .expect("checkpoint");
        if busy != 0 {
            println!("  (the checkpoint was blocked by a reader; sizes include the WAL)");
        }
        let pragma = |name: &str| -> u64 {
            conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, i64>(0))
                .map(|v| u64::try_from(v).unwrap_or(0))
                .expect("pragma")
        };
        let count = |table: &str| -> u64 {
            conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|v| u64::try_from(v).unwrap_or(0))
            .expect("count rows")
        };
        let page = pragma("page_size");
        let used = (pragma("page_count") - pragma("freelist_count")) * page;
        let wal = std::fs::metadata(self.path.with_extension("db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
        DbFigures {
            file_bytes: std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0) + wal,
            used_bytes: used,
            messages: count("message"),
            transactions: count("appservice_txn"),
            inbox: count("inbox"),
        }
    }
}
