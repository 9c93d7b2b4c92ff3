//! The Matrix adapter: the appservice HTTP server the homeserver pushes
//! transactions to, the client-API calls made as the bot, a ghost or the owner,
//! and the registration file. It knows nothing about Telegram. Apart from the
//! registration (built from the config), it knows nothing about the
//! configuration file or the store either: the core hands it small settings
//! types and implements [`appservice::AppserviceHandler`] to receive what
//! arrives.
//!
//! Only endpoints from the Matrix specification (client-server and appservice
//! APIs v1.x) are used, so the bridge works on Conduit as well as Synapse.

pub mod appservice;
pub mod client;
pub mod error;
pub mod event;
#[cfg(test)]
pub(crate) mod fake_homeserver;
pub mod media;
pub mod registration;
pub mod retry;
pub mod txn;

pub use appservice::{AppserviceHandler, AppserviceSettings, HandlerError, Transaction};
pub use client::{Acting, ClientSettings, MatrixClient};
pub use error::MatrixError;
pub use retry::RetryPolicy;
