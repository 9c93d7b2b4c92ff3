//! The Telegram adapter: the grammers client, the login flows shared by the
//! terminal, Matrix and the web page, and the update stream turned into bridge
//! events. It knows nothing about Matrix.

pub mod answer;
pub mod client;
pub mod event;
pub mod forum;
pub mod journal;
pub mod login;
pub mod logout;
pub mod members;
pub mod reactions;

pub use client::{CallError, ClientOptions, DeviceInfo, TelegramClient};
pub use login::{Account, CodeDelivery, CodeSent, LoginError, LoginFlow, LoginStep, QrCode};
pub mod unreadable;
pub mod updates;

pub use event::TgEvent;
pub use journal::{DurableEvent, EventJournal, JournalError, JournalId, Received, Revived};
pub use updates::{RuntimeError, TelegramRuntime};
