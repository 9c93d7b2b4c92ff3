//! The bridge core: routes Telegram events to Matrix calls and Matrix events to
//! Telegram calls through portals and ghosts. It owns no sockets: everything it
//! does to the outside world goes through the `telegram` and `matrix` adapters.
//!
//! Today it runs the Matrix side: the service's startup and shutdown
//! ([`service`]), transactions, the management room and bot commands
//! ([`core`], [`commands`]).

pub mod avatar;
mod bot_sync;
pub mod commands;
pub mod containment;
pub mod core;
pub mod encryption;
pub mod ghost;
pub mod login;
pub mod media;
mod missed;
pub mod notice;
pub mod outbound_route;
pub mod persistence;
pub mod portal;
pub mod relay;
mod run;
pub mod service;
pub mod space;
pub mod sync;

pub use run::{run, service_settings};
