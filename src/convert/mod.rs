//! Pure conversions between Telegram and Matrix representations (formatting
//! entities ⇄ HTML, media metadata). No I/O lives here, so everything is
//! unit-testable without a network.
//!
//! Formatting: [`telegram_to_matrix`] turns a Telegram text with entities
//! (the bridge's own [`Entity`], read by the Telegram adapter)
//! into a Matrix `body` plus `org.matrix.custom.html`; [`matrix_to_telegram`]
//! goes the other way, and [`split_for_telegram`] cuts results that exceed
//! Telegram's length limit. Who a mention points at is asked from a
//! [`MentionResolver`], which the bridge core implements over the store; this
//! module must not reach the store, the network or the clock.

mod entity;
mod html_tree;
mod ids;
pub mod media;
mod mention;
mod split;
mod to_matrix;
mod to_telegram;
mod utf16;

pub use entity::{Entity, EntityKind};
pub use ids::ghost_user_id;
pub use mention::{MentionResolver, NoMentions, TelegramMention};
pub use split::{split_for_telegram, TELEGRAM_TEXT_LIMIT};
pub use to_matrix::{telegram_to_matrix, with_signature, MatrixText};
pub use to_telegram::{
    matrix_to_telegram, strip_reply_fallback, TelegramText, MAX_HTML_BYTES, MAX_HTML_NESTING,
};
pub use utf16::utf16_len;
