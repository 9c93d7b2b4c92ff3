//! Appservice tokens: generating them and writing newly generated ones back
//! into the user's config file without disturbing its comments and layout.
//! Also the atomic, owner-only file writer used for every file holding a
//! secret (the config after a token write-back, the registration file).

use std::io::Write;
use std::path::Path;

use rand::distr::{Alphanumeric, SampleString};

use super::{text, Config, ConfigError};

/// Length of generated tokens, in alphanumeric characters (~380 bits).
pub const TOKEN_LENGTH: usize = 64;

/// Writing tokens back into the config failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The config file could not be read again.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The config file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The `key:` line to fill in was not found in block style.
    #[error(
        "{}: cannot find a `{key}:` line to fill in; put `{key}: \"\"` under `appservice:` \
         or set both tokens yourself",
        path.display()
    )]
    LineNotFound {
        /// The config file.
        path: std::path::PathBuf,
        /// `appservice.as_token` or `appservice.hs_token`.
        key: &'static str,
    },
    /// The edited text did not load back with the new tokens; nothing was written.
    #[error("the config with the new tokens does not load back, nothing was written: {0}")]
    Verify(Box<ConfigError>),
    /// The edited config could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The config file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A fresh token: [`TOKEN_LENGTH`] alphanumeric characters from the
/// thread-local CSPRNG (ChaCha seeded from the OS).
pub fn generate_token() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), TOKEN_LENGTH)
}

/// Generates the appservice tokens that are empty in `config`, writes them
/// into its file (atomically, mode 0600) and updates `config`. Returns the
/// keys that were filled in; empty when both tokens were already set, in
/// which case the file is not touched.
pub fn fill_missing_tokens(config: &mut Config) -> Result<Vec<&'static str>, TokenError> {
    let mut wanted: Vec<(&'static str, &'static str, String)> = Vec::new();
    if config.appservice.as_token.is_empty() {
        wanted.push(("appservice.as_token", "as_token", generate_token()));
    }
    if config.appservice.hs_token.is_empty() {
        wanted.push(("appservice.hs_token", "hs_token", generate_token()));
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }

    let path = config.path().to_path_buf();
    let original = std::fs::read_to_string(&path).map_err(|source| TokenError::Read {
        path: path.clone(),
        source,
    })?;
    let mut edited = original;
    for (key_path, key, token) in &wanted {
        edited = text::locate_key(&edited, key_path)
            .and_then(|line| text::replace_value_on_line(&edited, line, key, token))
            .ok_or_else(|| TokenError::LineNotFound {
                path: path.clone(),
                key: key_path,
            })?;
    }

    // The line edit is only trusted once the result parses to the same
    // config with exactly the new tokens in place.
    let reloaded =
        Config::from_yaml_str(&edited, &path).map_err(|e| TokenError::Verify(Box::new(e)))?;
    for (key_path, _, token) in &wanted {
        let now = match *key_path {
            "appservice.as_token" => &reloaded.appservice.as_token,
            _ => &reloaded.appservice.hs_token,
        };
        if now != token {
            return Err(TokenError::LineNotFound {
                path: path.clone(),
                key: key_path,
            });
        }
    }

    write_private_file(&path, edited.as_bytes()).map_err(|source| TokenError::Write {
        path: path.clone(),
        source,
    })?;
    config.appservice.as_token = reloaded.appservice.as_token;
    config.appservice.hs_token = reloaded.appservice.hs_token;
    tracing::info!(config = %path.display(), filled = ?wanted.iter().map(|w| w.0).collect::<Vec<_>>(), "generated appservice tokens");
    Ok(wanted
        .into_iter()
        .map(|(key_path, _, _)| key_path)
        .collect())
}

/// Replaces `path` with `contents` atomically (temporary file in the same
/// directory, fsync, rename), readable and writable by the owner only.
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // tempfile creates the file with mode 0600 on Unix.
    let mut file = tempfile::Builder::new()
        .prefix(".tgbridge-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    file.write_all(contents)?;
    file.as_file().sync_all()?;
    set_owner_only(file.path())?;
    keep_ownership(path, file.as_file());
    file.persist(path).map_err(|err| err.error)?;
    // Make the rename itself durable; not every filesystem supports this.
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(unix)]
fn set_owner_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn set_owner_only(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Gives the replacement the owner and group of the file it replaces, so
/// that running a command as root does not lock the service user out of its
/// own config. Only root can give a file away; for anyone else the file
/// already belongs to them, so a refusal is ignored.
#[cfg(unix)]
fn keep_ownership(original: &Path, replacement: &std::fs::File) {
    use std::os::unix::fs::MetadataExt;
    if let Ok(meta) = std::fs::metadata(original) {
        let _ = std::os::unix::fs::fchown(replacement, Some(meta.uid()), Some(meta.gid()));
    }
}

#[cfg(not(unix))]
fn keep_ownership(_original: &Path, _replacement: &std::fs::File) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_alphanumeric() {
        let a = generate_token();
        let b = generate_token();
        assert_eq!(a.len(), TOKEN_LENGTH);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[cfg(unix)]
    #[test]
    fn private_files_replace_atomically_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.yaml");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private_file(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    /// As root the original owner is restored; as anyone else the file can
    /// only belong to the writer, which is then also its original owner.
    #[cfg(unix)]
    #[test]
    fn replacing_keeps_the_owner() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, "old").unwrap();
        let me = std::fs::metadata(&path).unwrap();
        let (uid, gid) = if me.uid() == 0 {
            std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
            (65534, 65534)
        } else {
            (me.uid(), me.gid())
        };
        write_private_file(&path, b"new").unwrap();
        let after = std::fs::metadata(&path).unwrap();
        assert_eq!((after.uid(), after.gid()), (uid, gid));
    }
}
