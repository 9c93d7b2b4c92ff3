//! tgbridge: a Matrix ↔ Telegram puppeting bridge for one person's homeserver.
//!
//! The crate is laid out as two adapters around a core:
//! - [`telegram`] speaks MTProto through grammers and turns updates into bridge events;
//! - [`matrix`] serves the appservice API and calls the homeserver's client API;
//! - [`bridge`] is the core: portals, ghosts, messages, commands; it never touches
//!   HTTP or MTProto bytes;
//! - [`store`] owns the one SQLite file (Telegram session, portals, message map);
//! - [`convert`] holds pure conversions (formatting, media metadata);
//! - [`web`] serves the optional web-login page;
//! - [`config`] loads and validates the YAML configuration.

pub mod bridge;
pub mod cli;
pub mod config;
pub mod convert;
pub mod logging;
pub mod matrix;
pub mod store;
pub mod telegram;
pub mod web;
