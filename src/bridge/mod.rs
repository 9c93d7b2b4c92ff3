//! The bridge core: routes Telegram events to Matrix calls and Matrix events to
//! Telegram calls through portals and ghosts. It owns no sockets: everything it
//! does to the outside world goes through the `telegram` and `matrix` adapters,
//! and it imports nothing from the edges (`cli`, `web`): they hand it what it
//! needs ([`service::ServiceSettings`]). Outside [`relay`] it names no type of
//! the MTProto client: it asks Telegram through
//! [`crate::telegram::TelegramApi`] and works on the adapter's plain values.
//! Only the store's portal key (the client's `PeerId`, in [`portal`] and
//! [`sync`]) remains until the store takes [`crate::ids`]; [`relay`] still
//! holds the client's values and reaches the typed functions through two
//! small adapter modules in `relay/mod.rs`.
//!
//! - Start-up and shutdown: [`service`] (management room, double puppet,
//!   then the Telegram side), `missed` (what the owner sent while the
//!   bridge was down), `bot_sync` (the bot's own `/sync`).
//! - Matrix → bridge: [`core`] takes appservice transactions, queues the
//!   owner's portal events in the outbox ([`outbound_route`] decides which)
//!   and answers the management room's commands ([`commands`]).
//! - The Telegram side: [`relay`] (Telegram → Matrix through the inbox and
//!   per-chat queues, Matrix → Telegram through the outbox); the core asks
//!   it for things with [`requests::TelegramRequest`].
//! - Shared pieces: [`portal`], [`ghost`], [`space`], [`sync`], [`media`],
//!   [`avatar`], [`encryption`], [`containment`], [`notice`], the logins
//!   from Matrix and the web page ([`login`], [`login_links`]) and the store
//!   seam of the core ([`persistence`]).

pub mod avatar;
mod bot_sync;
pub mod commands;
pub mod containment;
pub mod core;
pub mod encryption;
pub mod ghost;
pub mod login;
pub mod login_links;
pub mod media;
mod missed;
pub mod notice;
pub mod outbound_route;
pub mod persistence;
pub mod portal;
pub mod relay;
pub mod requests;
pub mod service;
pub mod space;
pub mod sync;
