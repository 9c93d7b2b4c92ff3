//! The bridge core: routes Telegram events to Matrix calls and Matrix events to
//! Telegram calls through portals and ghosts. It owns no sockets: everything it
//! does to the outside world goes through the `telegram` and `matrix` adapters.

pub mod commands;
pub mod notice;
