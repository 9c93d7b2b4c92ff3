//! The Matrix adapter: the appservice HTTP server the homeserver pushes
//! transactions to, the client-API calls made as the bot, a ghost or the owner,
//! and the registration file. It knows nothing about Telegram.
pub mod registration;
