//! The Telegram adapter: the grammers client, the login flows shared by the
//! terminal, Matrix and the web page, the update stream turned into bridge
//! events, and the typed API the core calls ([`TelegramApi`], with
//! [`chats`], [`peers`], [`media`], [`entities`] and [`account`]), whose
//! signatures carry only the bridge's own types and ids ([`crate::ids`]).
//! No grammers or TL type leaves this module except into `bridge/relay/`,
//! which still holds grammers values, and the store's session. It knows
//! nothing about Matrix.

pub mod account;
pub mod answer;
pub mod api;
pub mod chats;
pub mod client;
pub mod entities;
pub mod event;
pub mod forum;
pub mod journal;
pub mod login;
pub mod logout;
pub mod media;
pub mod members;
pub mod peers;
pub mod reactions;

pub use api::TelegramApi;
pub use client::{CallError, ClientOptions, DeviceInfo, TelegramClient};
pub use login::{Account, CodeDelivery, CodeSent, LoginError, LoginFlow, LoginStep, QrCode};
pub mod unreadable;
pub mod updates;

pub use event::TgEvent;
pub use journal::{DurableEvent, EventJournal, JournalError, JournalId, Received, Revived};
pub use updates::{RuntimeError, TelegramRuntime};
