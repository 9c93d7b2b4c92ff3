//! A fake Telegram datacenter speaking MTProto 2.0 over TCP on loopback, so the
//! real, unmodified grammers client can be tested without reaching Telegram.
//!
//! Layers, bottom up: transport framing → the MTProto session layer (crypto,
//! msg_id/seq_no, containers, gzip, acks, salts) → dispatch to typed handlers
//! that never see bytes of the session layer. The [`world`] holds everything a
//! Telegram account can see (users, chats, messages, update boxes) and answers
//! the API methods that read or change it.

pub mod auth;
pub mod control;
pub mod dispatch;
pub mod error;
pub mod http;
pub mod mtproto;
pub mod seed;
pub mod server;
pub mod transport;
pub mod world;

pub use error::RpcError;
pub use server::FakeTelegram;
