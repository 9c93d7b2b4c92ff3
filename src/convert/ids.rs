//! Matrix ids the bridge derives from Telegram ids. Pure: no store, no
//! network.

use ruma::{OwnedUserId, ServerName, UserId};

/// The Matrix id of the ghost of Telegram user (or channel) `telegram_id`:
/// `@<prefix><id>:<server>`; `None` if that is not a valid user id.
pub fn ghost_user_id(prefix: &str, telegram_id: i64, server: &ServerName) -> Option<OwnedUserId> {
    UserId::parse(format!("@{prefix}{telegram_id}:{server}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ghosts_are_named_by_prefix_and_id() {
        let server = ruma::server_name!("example.org");
        assert_eq!(
            ghost_user_id("telegram_", 42, server).unwrap().as_str(),
            "@telegram_42:example.org"
        );
        assert_eq!(
            ghost_user_id("tg_", -100123, server).unwrap().as_str(),
            "@tg_-100123:example.org"
        );
    }
}
