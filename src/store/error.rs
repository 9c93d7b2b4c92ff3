//! The store's one error type. Every variant reads as a sentence the owner can
//! act on; the underlying SQLite or I/O error is kept as the source. Values
//! read from the file (auth keys, access hashes) never appear in messages.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while opening or using the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The directory that should hold the database could not be created.
    #[error("could not create the data directory {path}: {source}")]
    CreateDir {
        /// The directory that was being created.
        path: PathBuf,
        /// Why the operating system refused.
        source: io::Error,
    },

    /// The database file could not be created or its permissions checked.
    #[error("could not create the database file {path} with owner-only permissions: {source}")]
    CreateFile {
        /// The database file.
        path: PathBuf,
        /// Why the operating system refused.
        source: io::Error,
    },

    /// SQLite could not open the file.
    #[error("could not open the database {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// SQLite's reason.
        source: rusqlite::Error,
    },

    /// The file exists but is not an SQLite database (or is damaged beyond reading).
    #[error("{path} is not a tgbridge database (it is not SQLite, or it is damaged); move it away or point the config at the right file")]
    NotADatabase {
        /// The file that was opened.
        path: PathBuf,
    },

    /// The database was written by a newer tgbridge than this binary.
    #[error("the database {path} has schema version {found}, but this tgbridge only understands versions up to {supported}; it was written by a newer tgbridge, so install that version again (or restore a backup taken before the upgrade)")]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// The version recorded in the file.
        found: u32,
        /// The newest version this binary knows.
        supported: u32,
    },

    /// A numbered migration failed; the file is left at the previous version.
    #[error("could not upgrade the database to schema version {version}: {source}")]
    Migration {
        /// The migration that failed.
        version: u32,
        /// SQLite's reason.
        source: rusqlite::Error,
    },

    /// Another process held the database locked for longer than the busy timeout.
    #[error("the database is locked by another process for too long (is another tgbridge command running?): {0}")]
    Busy(#[source] rusqlite::Error),

    /// Any other SQLite failure.
    #[error("database error: {0}")]
    Sqlite(#[source] rusqlite::Error),

    /// A stored value cannot be turned back into its type.
    #[error(
        "the database holds an invalid {what}; the file may have been edited by hand or damaged"
    )]
    Corrupt {
        /// Which value was invalid (never the value itself: it may be secret).
        what: &'static str,
    },

    /// A value the caller passed cannot be stored.
    #[error("cannot store {0}")]
    InvalidInput(&'static str),
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        match err.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Busy(err)
            }
            _ => StoreError::Sqlite(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_new_names_both_versions() {
        let err = StoreError::TooNew {
            path: PathBuf::from("/data/tgbridge.db"),
            found: 7,
            supported: 2,
        };
        let text = err.to_string();
        assert!(text.contains("schema version 7"), "{text}");
        assert!(text.contains("versions up to 2"), "{text}");
        assert!(text.contains("/data/tgbridge.db"), "{text}");
    }

    #[test]
    fn busy_sqlite_errors_become_busy() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert!(matches!(StoreError::from(busy), StoreError::Busy(_)));
        let other = rusqlite::Error::QueryReturnedNoRows;
        assert!(matches!(StoreError::from(other), StoreError::Sqlite(_)));
    }
}
