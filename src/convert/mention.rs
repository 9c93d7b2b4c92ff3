//! Mentions across the bridge: the lookup the converters need (Telegram user
//! ⇄ Matrix user), and the Matrix user pill links. The store-backed
//! implementation of the lookup belongs to the bridge core, not here.

use percent_encoding::percent_decode_str;
use ruma::{OwnedUserId, UserId};

/// Looks up who a mention refers to on the other side of the bridge.
///
/// The bridge core implements this over the store: a Telegram user maps to
/// its ghost, except the owner's own Telegram account, which maps to the
/// owner's Matrix account (and back).
pub trait MentionResolver {
    /// The Matrix user standing for Telegram user `telegram_user_id`.
    fn matrix_user(&self, telegram_user_id: i64) -> Option<OwnedUserId>;

    /// The Telegram user id behind a public `username` (given without `@`;
    /// Telegram usernames compare case-insensitively).
    fn telegram_user_by_username(&self, username: &str) -> Option<i64>;

    /// The Telegram user standing behind Matrix user `matrix_user` (a ghost
    /// or the owner).
    fn telegram_user(&self, matrix_user: &UserId) -> Option<TelegramMention>;
}

/// A Telegram user a Matrix pill can be turned into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelegramMention {
    /// Telegram's user id.
    pub user_id: i64,
    /// The name to show when the pill itself carries no readable text.
    pub display_name: String,
}

/// A resolver that knows nobody: every mention is bridged as plain text.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoMentions;

impl MentionResolver for NoMentions {
    fn matrix_user(&self, _telegram_user_id: i64) -> Option<OwnedUserId> {
        None
    }

    fn telegram_user_by_username(&self, _username: &str) -> Option<i64> {
        None
    }

    fn telegram_user(&self, _matrix_user: &UserId) -> Option<TelegramMention> {
        None
    }
}

/// The `href` of a Matrix user pill.
pub(crate) fn pill_href(user_id: &UserId) -> String {
    user_id.matrix_to_uri().to_string()
}

/// The user a pill link points at, for `https://matrix.to/#/@user:server`
/// and `matrix:u/user:server` links; `None` for anything else.
///
/// Deliberately not `ruma::MatrixToUri::parse`: that parser indexes into
/// possibly empty segments and panics on links like `https://matrix.to/#///x`,
/// and links here come from arbitrary HTML.
pub(crate) fn pill_user(href: &str) -> Option<OwnedUserId> {
    if let Some(rest) = href.strip_prefix("https://matrix.to/#/") {
        let id = decode_id(rest).filter(|id| id.starts_with('@'))?;
        return UserId::parse(id).ok();
    }
    let rest = href
        .strip_prefix("matrix:u/")
        .or_else(|| href.strip_prefix("matrix:user/"))?;
    UserId::parse(format!("@{}", decode_id(rest)?)).ok()
}

/// The percent-decoded identifier part of a link, without query or a
/// trailing slash.
fn decode_id(rest: &str) -> Option<String> {
    let id = rest.split(['?', '#']).next().unwrap_or_default();
    let id = id.strip_suffix('/').unwrap_or(id);
    let decoded = percent_decode_str(id).decode_utf8().ok()?;
    (!decoded.is_empty()).then(|| decoded.into_owned())
}

/// The Telegram user id of an old-style `tg://user?id=N` mention link.
pub(crate) fn tg_user_link(url: &str) -> Option<i64> {
    url.strip_prefix("tg://user?id=")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pills_parse_in_both_link_styles() {
        let alice = UserId::parse("@alice:example.org").unwrap();
        for href in [
            "https://matrix.to/#/@alice:example.org",
            "https://matrix.to/#/%40alice%3Aexample.org",
            "https://matrix.to/#/@alice:example.org/",
            "https://matrix.to/#/@alice:example.org?via=example.org",
            "matrix:u/alice:example.org",
            "matrix:u/alice:example.org?action=chat",
        ] {
            assert_eq!(pill_user(href).as_ref(), Some(&alice), "{href}");
        }
    }

    #[test]
    fn non_user_links_are_not_pills() {
        for href in [
            "https://matrix.to/#/!room:example.org",
            "https://matrix.to/#/#alias:example.org",
            "https://matrix.to/#///x",
            "https://matrix.to/#/!a///",
            "https://matrix.to/#/",
            "https://matrix.to/#/%FF",
            "https://example.org/#/@alice:example.org",
            "matrix:u/",
            "javascript:alert(1)",
        ] {
            assert_eq!(pill_user(href), None, "{href}");
        }
    }

    #[test]
    fn pill_href_round_trips() {
        let user = UserId::parse("@telegram_42:example.org").unwrap();
        assert_eq!(pill_user(&pill_href(&user)), Some(user));
    }

    #[test]
    fn tg_user_links() {
        assert_eq!(tg_user_link("tg://user?id=123"), Some(123));
        assert_eq!(tg_user_link("tg://user?id=x"), None);
        assert_eq!(tg_user_link("https://t.me/x"), None);
    }
}
