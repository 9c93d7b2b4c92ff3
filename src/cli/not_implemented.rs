//! The answer of commands this version does not provide yet: a clear message
//! on stderr and exit code 2, never a pretence of success.

use std::process::ExitCode;

use super::EXIT_NOT_IMPLEMENTED;

/// Tells the user `command` is not implemented yet.
pub fn report(command: &str) -> ExitCode {
    eprintln!(
        "tgbridge {command}: not implemented yet in tgbridge {}; nothing was done",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::from(EXIT_NOT_IMPLEMENTED)
}
