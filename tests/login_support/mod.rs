//! Shared support for the `login_*` tests: the pseudo-terminal harness.

pub mod pty;
