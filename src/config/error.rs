//! Configuration errors and how they are told to the user: one line naming the
//! file, the line where the YAML parser knows it, and the key path. This module
//! only formats; finding out what went wrong is the loader's job.

use std::fmt;
use std::path::PathBuf;

/// A configuration file could not be read, parsed or validated.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigError {
    /// The config file as the user named it.
    pub file: PathBuf,
    /// 1-based line of the offending key or value, when known.
    pub line: Option<usize>,
    /// What went wrong.
    pub kind: ConfigErrorKind,
}

/// The ways a configuration can be wrong.
#[derive(Debug)]
pub enum ConfigErrorKind {
    /// The file could not be read.
    Read(std::io::Error),
    /// The text is not YAML, or not a mapping of config keys.
    Syntax(String),
    /// A required key is absent.
    Missing {
        /// Dotted path of the missing key, e.g. `telegram.api_hash`.
        key: String,
    },
    /// A key the bridge does not know (typo or outdated option).
    Unknown {
        /// Dotted path of the unknown key.
        key: String,
        /// The keys that are allowed at that place.
        expected: Vec<String>,
    },
    /// A key is present but its value is not acceptable.
    Invalid {
        /// Dotted path of the key.
        key: String,
        /// Why the value is rejected, ideally with what is expected instead.
        message: String,
    },
}

impl ConfigError {
    /// Builds an error for `file`.
    pub fn new(file: impl Into<PathBuf>, line: Option<usize>, kind: ConfigErrorKind) -> Self {
        ConfigError {
            file: file.into(),
            line,
            kind,
        }
    }

    /// The dotted key path this error is about, if any.
    pub fn key(&self) -> Option<&str> {
        match &self.kind {
            ConfigErrorKind::Missing { key }
            | ConfigErrorKind::Unknown { key, .. }
            | ConfigErrorKind::Invalid { key, .. } => Some(key),
            ConfigErrorKind::Read(_) | ConfigErrorKind::Syntax(_) => None,
        }
    }

    fn render(&self) -> String {
        let location = match self.line {
            Some(line) => format!("{}:{line}", self.file.display()),
            None => self.file.display().to_string(),
        };
        format!("{location}: {}", self.kind)
    }
}

impl fmt::Display for ConfigErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigErrorKind::Read(err) => write!(f, "cannot read the config file: {err}"),
            ConfigErrorKind::Syntax(message) => f.write_str(message),
            ConfigErrorKind::Missing { key } => write!(f, "{key} is missing"),
            ConfigErrorKind::Unknown { key, expected } if expected.is_empty() => {
                write!(f, "{key}: unknown key")
            }
            ConfigErrorKind::Unknown { key, expected } => {
                write!(
                    f,
                    "{key}: unknown key (expected one of: {})",
                    expected.join(", ")
                )
            }
            ConfigErrorKind::Invalid { key, message } => write!(f, "{key}: {message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_and_key() {
        let err = ConfigError::new(
            "config.yaml",
            Some(12),
            ConfigErrorKind::Invalid {
                key: "appservice.port".into(),
                message: "invalid value \"abc\", expected a port number (1-65535)".into(),
            },
        );
        assert_eq!(
            err.to_string(),
            "config.yaml:12: appservice.port: invalid value \"abc\", expected a port number (1-65535)"
        );
    }

    #[test]
    fn renders_missing_without_line() {
        let err = ConfigError::new(
            "config.yaml",
            None,
            ConfigErrorKind::Missing {
                key: "telegram.api_hash".into(),
            },
        );
        assert_eq!(err.to_string(), "config.yaml: telegram.api_hash is missing");
    }
}
