//! The MTProto 2.0 session layer, server side: message encryption
//! ([`crypto`]) and the plaintext session protocol ([`session`]). Knows
//! nothing about API methods or sockets.

pub mod crypto;
pub mod session;
