//! The database file and its directory are private to the owner: the file
//! holds the Telegram auth key, i.e. full access to the account.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tgbridge::store::Store;

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn new_directory_and_file_are_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("var").join("tgbridge");
    let path = data_dir.join("tgbridge.db");
    let store = Store::open(&path).unwrap();
    store.kv_set("written", "so the WAL exists").unwrap();

    assert_eq!(mode(&data_dir), 0o700);
    assert_eq!(mode(&dir.path().join("var")), 0o700);
    assert_eq!(mode(&path), 0o600);
    // SQLite gives its side files the main file's mode; they hold the same data.
    for side in ["tgbridge.db-wal", "tgbridge.db-shm"] {
        let side_path = data_dir.join(side);
        assert!(side_path.exists(), "{side} missing: WAL not in use?");
        assert_eq!(mode(&side_path), 0o600, "{side}");
    }
}

#[test]
fn existing_readable_file_is_restricted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tgbridge.db");
    drop(Store::open(&path).unwrap());
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let before = mode(dir.path());

    let store = Store::open(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    // The owner chose the directory; it is not changed.
    assert_eq!(mode(dir.path()), before);
    assert_eq!(
        store.schema_version().unwrap(),
        Store::supported_schema_version()
    );
}
