//! The kit's one error type: every variant says what was being done, so a
//! failing test reads as a diagnosis rather than a bare `Err`.

use std::path::PathBuf;

/// Why a homeserver operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No Synapse interpreter was found; the message says how to provision one.
    #[error(
        "Synapse is not provisioned: {reason}. Run the tests with ./test.sh, which installs a \
         pinned Synapse into a cached venv, or point {env} at the python of a venv that has \
         matrix-synapse installed (./test.sh provision prints it)"
    )]
    NotProvisioned {
        /// What was looked at and missing.
        reason: String,
        /// The environment variable that names the interpreter.
        env: &'static str,
    },

    /// No Conduit binary was found; the message says how to provide one.
    #[error(
        "Conduit is not provisioned: {reason}. Run the tests with ./test.sh, which unpacks the \
         prebuilt Conduit from ../shared/homeservers/conduit/ into its cache, or point {env} at \
         a Conduit binary (./test.sh provision prints it)"
    )]
    ConduitNotProvisioned {
        /// What was looked at and missing.
        reason: String,
        /// The environment variable that names the binary.
        env: &'static str,
    },

    /// Conduit's admin bot did not confirm an appservice registration.
    #[error("Conduit did not register the appservice in {}: it answered {answer:?}", registration.display())]
    AppserviceRefused {
        /// The registration file that was sent.
        registration: PathBuf,
        /// The admin bot's answer.
        answer: String,
    },

    /// Synapse reads appservice registrations only at start.
    #[error(
        "Synapse reads appservice registrations only at start: pass {} in the options it starts with",
        registration.display()
    )]
    RegistrationOnlyAtStart {
        /// The registration file a running Synapse was handed.
        registration: PathBuf,
    },

    /// A homeserver cannot do what was asked of it.
    #[error("{server} cannot {what}")]
    Unsupported {
        /// Which homeserver.
        server: &'static str,
        /// What it cannot do.
        what: &'static str,
    },

    /// A local file operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "writing".
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The homeserver exited or never answered while starting.
    #[error("{server} did not start: {reason}\n--- last lines of {} ---\n{log_tail}", log_path.display())]
    Startup {
        /// Which homeserver.
        server: &'static str,
        /// Why the start is considered failed.
        reason: String,
        /// Synapse's full log.
        log_path: PathBuf,
        /// The end of that log.
        log_tail: String,
    },

    /// The HTTP request itself failed (connection, body decoding).
    #[error("{method} {path}: {source}")]
    Http {
        /// HTTP method.
        method: reqwest::Method,
        /// Request path (without the token).
        path: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },

    /// The homeserver answered with a non-success status.
    #[error("{method} {path} returned {status}: {body}")]
    Matrix {
        /// HTTP method.
        method: reqwest::Method,
        /// Request path (without the token).
        path: String,
        /// HTTP status code.
        status: u16,
        /// The response body (a Matrix error object, usually).
        body: serde_json::Value,
    },

    /// A response lacked a field the API promises.
    #[error("{what}: unexpected response {body}")]
    UnexpectedResponse {
        /// Which call and which field.
        what: String,
        /// The response body.
        body: serde_json::Value,
    },

    /// A wait ran out of time.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long it waited.
        after: std::time::Duration,
    },
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
