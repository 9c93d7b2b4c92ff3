//! File-system preparation for the database: the data directory is created
//! owner-only (0700) and the file owner-only (0600) before SQLite touches it,
//! because the file holds the Telegram auth key (full account access). SQLite
//! gives its `-wal` and `-shm` files the main file's mode, so they follow.

use std::fs::{self, DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::StoreError;

/// Mode of a directory this store creates.
pub(crate) const DIR_MODE: u32 = 0o700;
/// Mode of the database file.
pub(crate) const FILE_MODE: u32 = 0o600;

/// Creates the parent directory (0700) and the file (0600) when missing, and
/// takes group/other access away from an existing file. Existing directories
/// are left alone: the owner may have chosen to share one on purpose.
pub(crate) fn prepare(path: &Path) -> Result<(), StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            DirBuilder::new()
                .recursive(true)
                .mode(DIR_MODE)
                .create(dir)
                .map_err(|source| StoreError::CreateDir {
                    path: dir.to_path_buf(),
                    source,
                })?;
        }
    }
    let file_error = |source| StoreError::CreateFile {
        path: path.to_path_buf(),
        source,
    };
    // Never open (and so close) a descriptor of an existing database: POSIX
    // drops every lock a process holds on a file when any descriptor of it is
    // closed, so this would silently release the locks of the process's
    // other SQLite connections. Another process could then think it is the
    // last user, checkpoint and delete the write-ahead log under them, and
    // their later commits would land in an unlinked file.
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
    {
        Ok(_new_file) => return Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(file_error(error)),
    }
    let mode = fs::metadata(path).map_err(file_error)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = format_args!("{:o}", mode & 0o777),
            "database file was readable by others; restricting it to the owner"
        );
        fs::set_permissions(path, fs::Permissions::from_mode(FILE_MODE)).map_err(file_error)?;
    }
    Ok(())
}
