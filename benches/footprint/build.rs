//! The release build's figures, read from the summary that
//! `bench/build-footprint.sh` writes (a clean `-j2` build takes minutes, so
//! the harness does not repeat it). Reads a file; builds nothing.

use std::path::PathBuf;

/// What the build script recorded, with where it was read from.
pub struct Report {
    pub path: PathBuf,
    /// `key value` lines of the summary, in order.
    pub fields: Vec<(String, String)>,
}

impl Report {
    /// `FOOTPRINT_BUILD_REPORT`, else the script's default location; `None`
    /// when no build was recorded there.
    pub fn read() -> Option<Report> {
        let path = std::env::var_os("FOOTPRINT_BUILD_REPORT")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/footprint/footprint/summary")
            });
        let text = std::fs::read_to_string(&path).ok()?;
        let fields = text
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(key, value)| (key.to_owned(), value.trim().to_owned()))
            .collect();
        Some(Report { path, fields })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}
