//! tgbridge: a Matrix ↔ Telegram puppeting bridge for one person's homeserver.
//!
//! # Source map
//!
//! Two adapters around a core, plus the edges that assemble them:
//! - [`telegram`] is the only module that speaks MTProto: the client, the
//!   logins, and the update stream turned into [`telegram::TgEvent`]s, each
//!   recorded in a journal before the update state moves past it. Its typed
//!   API ([`telegram::TelegramApi`]) reads chats, users, members and media
//!   into plain values ([`telegram::chats`], [`telegram::peers`],
//!   [`telegram::media`]) and moves files; reaction summaries and membership
//!   changes are read the same way ([`telegram::reactions`],
//!   [`telegram::members`]). The core outside `bridge/relay/` names no type
//!   of the MTProto client; the relay still does, and is next to move;
//! - [`matrix`] serves the appservice API and calls the homeserver's client API;
//! - [`bridge`] is the core: portals, ghosts, messages, commands (see its map);
//! - [`store`] owns the one SQLite file (Telegram session, portals, message
//!   map, the inbox of Telegram events and the outbox of Matrix events);
//! - [`ids`] holds the typed Telegram ids shared by the store and the
//!   Telegram adapter ([`ids::TgUserId`], [`ids::TgChatId`], [`ids::TgMsgId`]);
//! - [`convert`] holds pure conversions (formatting, media metadata, ids)
//!   over the bridge's own types;
//! - [`cli`] is the command line and the composition root ([`cli::run`]);
//! - [`web`] serves the optional web-login page;
//! - [`config`] loads and validates the YAML configuration; [`logging`]
//!   sets up tracing and the redaction of secrets.
//!
//! # The path of a Telegram update
//!
//! the MTProto client → `telegram/updates.rs` (read, translated into a `TgEvent`,
//! recorded through `telegram/journal.rs` into the store's inbox) →
//! `bridge/relay/mod.rs` (`dispatch`: one queue per chat) →
//! `bridge/relay/inbox.rs` (`apply_durably`: waits out homeserver outages,
//! removes the event from the inbox once applied) → the handler of its kind:
//! a new message in `bridge/relay/inbound.rs` (`handle_message`; its media
//! read by `telegram/media.rs` and moved by `bridge/media.rs`; in a forum,
//! `bridge/relay/topics.rs` first picks the topic's room), an edit
//! becoming an `m.replace` or a deletion a redaction in
//! `bridge/relay/changes.rs`, reactions in `bridge/relay/reactions.rs`,
//! pins and service messages in `bridge/relay/service_messages.rs`, titles and photos
//! in `bridge/relay/metadata.rs`. Reactions set while the bridge was away
//! (Telegram repeats no reaction change) are asked for again after a start
//! or a lost connection, in `bridge/relay/reaction_refresh.rs`.
//!
//! # The path of the owner's Matrix event
//!
//! homeserver transaction → `matrix/appservice.rs` → `bridge/core.rs`
//! (`process_transaction`: portal events are queued in the store's outbox in
//! the transaction that records the homeserver's transaction id) →
//! `bridge/relay/outbound.rs` (one worker per portal room drains the outbox
//! in order: `deliver`) → Telegram.

pub mod bridge;
pub mod cli;
pub mod code_pages;
pub mod config;
pub mod convert;
pub mod ids;
pub mod logging;
pub mod matrix;
pub mod store;
pub mod telegram;
pub mod web;
