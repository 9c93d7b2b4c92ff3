//! Shared fixtures for the formatting conversion tests: a small in-memory
//! mention resolver, entity helpers, and the converters seen through the
//! Telegram adapter's entity conversion, so the tests speak Telegram's own
//! entities on both sides.

#![allow(dead_code)]

use std::collections::BTreeSet;

use grammers_tl_types as tl;
use ruma::{OwnedUserId, UserId};
use tgbridge::convert::{MatrixText, MentionResolver, TelegramMention};
use tgbridge::telegram::entities::{from_tl, to_tl};
use tl::enums::MessageEntity;

/// A Telegram text with Telegram's own entities.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TelegramText {
    /// The message text.
    pub text: String,
    /// Formatting, in UTF-16 units of `text`.
    pub entities: Vec<MessageEntity>,
}

impl TelegramText {
    fn from_bridge(text: tgbridge::convert::TelegramText) -> Self {
        TelegramText {
            entities: to_tl(&text.entities),
            text: text.text,
        }
    }
}

/// [`tgbridge::convert::telegram_to_matrix`] over Telegram's entities.
pub fn telegram_to_matrix(
    text: &str,
    entities: &[MessageEntity],
    resolver: &dyn MentionResolver,
) -> MatrixText {
    tgbridge::convert::telegram_to_matrix(text, &from_tl(entities), resolver)
}

/// [`tgbridge::convert::matrix_to_telegram`] with Telegram's entities.
pub fn matrix_to_telegram(
    body: &str,
    html: Option<&str>,
    resolver: &dyn MentionResolver,
) -> TelegramText {
    TelegramText::from_bridge(tgbridge::convert::matrix_to_telegram(body, html, resolver))
}

/// [`tgbridge::convert::split_for_telegram`] over Telegram's entities.
pub fn split_for_telegram(message: TelegramText, limit: usize) -> Vec<TelegramText> {
    let message = tgbridge::convert::TelegramText {
        entities: from_tl(&message.entities),
        text: message.text,
    };
    tgbridge::convert::split_for_telegram(message, limit)
        .into_iter()
        .map(TelegramText::from_bridge)
        .collect()
}

/// Telegram id of Alice, a contact bridged as a ghost.
pub const ALICE: i64 = 100;
/// Telegram id of the owner's own account.
pub const OWNER: i64 = 1;

/// A resolver over a fixed table: (telegram id, username, matrix id, name).
pub struct MapResolver {
    users: Vec<(i64, &'static str, OwnedUserId, &'static str)>,
}

impl Default for MapResolver {
    fn default() -> Self {
        let user = |s: &str| UserId::parse(s).unwrap();
        Self {
            users: vec![
                (ALICE, "alice", user("@telegram_100:example.org"), "Alice"),
                (OWNER, "owner", user("@owner:example.org"), "Owner"),
            ],
        }
    }
}

impl MentionResolver for MapResolver {
    fn matrix_user(&self, telegram_user_id: i64) -> Option<OwnedUserId> {
        let found = self.users.iter().find(|u| u.0 == telegram_user_id);
        found.map(|u| u.2.clone())
    }

    fn telegram_user_by_username(&self, username: &str) -> Option<i64> {
        let found = self
            .users
            .iter()
            .find(|u| u.1.eq_ignore_ascii_case(username));
        found.map(|u| u.0)
    }

    fn telegram_user(&self, matrix_user: &UserId) -> Option<TelegramMention> {
        let found = self.users.iter().find(|u| u.2 == matrix_user);
        found.map(|u| TelegramMention {
            user_id: u.0,
            display_name: u.3.to_owned(),
        })
    }
}

pub fn bold(offset: i32, length: i32) -> MessageEntity {
    tl::types::MessageEntityBold { offset, length }.into()
}

pub fn italic(offset: i32, length: i32) -> MessageEntity {
    tl::types::MessageEntityItalic { offset, length }.into()
}

pub fn underline(offset: i32, length: i32) -> MessageEntity {
    tl::types::MessageEntityUnderline { offset, length }.into()
}

pub fn strike(offset: i32, length: i32) -> MessageEntity {
    tl::types::MessageEntityStrike { offset, length }.into()
}

pub fn spoiler(offset: i32, length: i32) -> MessageEntity {
    tl::types::MessageEntitySpoiler { offset, length }.into()
}

pub fn code(offset: i32, length: i32) -> MessageEntity {
    tl::types::MessageEntityCode { offset, length }.into()
}

pub fn pre(offset: i32, length: i32, language: &str) -> MessageEntity {
    let language = language.to_owned();
    tl::types::MessageEntityPre {
        offset,
        length,
        language,
    }
    .into()
}

pub fn blockquote(offset: i32, length: i32) -> MessageEntity {
    let collapsed = false;
    tl::types::MessageEntityBlockquote {
        collapsed,
        offset,
        length,
    }
    .into()
}

pub fn text_url(offset: i32, length: i32, url: &str) -> MessageEntity {
    let url = url.to_owned();
    tl::types::MessageEntityTextUrl {
        offset,
        length,
        url,
    }
    .into()
}

pub fn url(offset: i32, length: i32) -> MessageEntity {
    tl::types::MessageEntityUrl { offset, length }.into()
}

pub fn email(offset: i32, length: i32) -> MessageEntity {
    tl::types::MessageEntityEmail { offset, length }.into()
}

pub fn mention_name(offset: i32, length: i32, user_id: i64) -> MessageEntity {
    tl::types::MessageEntityMentionName {
        offset,
        length,
        user_id,
    }
    .into()
}

pub fn mention(offset: i32, length: i32) -> MessageEntity {
    tl::types::MessageEntityMention { offset, length }.into()
}

/// A formatting entity reduced to what must survive a round trip: its kind
/// with payload, and the UTF-16 units it covers.
pub fn coverage(entities: &[MessageEntity], len16: usize) -> BTreeSet<(String, usize)> {
    let mut covered = BTreeSet::new();
    for entity in entities {
        let Some(kind) = kind_key(entity) else {
            continue;
        };
        let start = usize::try_from(entity.offset()).unwrap_or(0);
        let end = (start + usize::try_from(entity.length()).unwrap_or(0)).min(len16);
        for unit in start..end {
            covered.insert((kind.clone(), unit));
        }
    }
    covered
}

/// The kind of a formatting entity with its payload; `None` for entity types
/// the bridge renders as plain text.
pub fn kind_key(entity: &MessageEntity) -> Option<String> {
    use MessageEntity as E;
    Some(match entity {
        E::Bold(_) => "bold".into(),
        E::Italic(_) => "italic".into(),
        E::Underline(_) => "underline".into(),
        E::Strike(_) => "strike".into(),
        E::Spoiler(_) => "spoiler".into(),
        E::Code(_) => "code".into(),
        E::Pre(p) => format!("pre:{}", p.language),
        E::Blockquote(_) => "blockquote".into(),
        E::TextUrl(t) => format!("text_url:{}", t.url),
        E::Url(_) => "url".into(),
        E::Email(_) => "email".into(),
        E::MentionName(m) => format!("mention:{}", m.user_id),
        _ => return None,
    })
}

/// Asserts that every entity lies within `text` and starts and ends on a
/// UTF-16 boundary that does not split a surrogate pair.
pub fn assert_entities_valid(text: &str, entities: &[MessageEntity]) {
    let units: Vec<u16> = text.encode_utf16().collect();
    let on_boundary = |at: usize| at == units.len() || !(0xDC00..0xE000).contains(&units[at]);
    for entity in entities {
        let (offset, length) = (entity.offset(), entity.length());
        assert!(offset >= 0 && length > 0, "{entity:?} in {text:?}");
        let (start, end) = (offset as usize, offset as usize + length as usize);
        assert!(end <= units.len(), "{entity:?} past the end of {text:?}");
        assert!(
            on_boundary(start) && on_boundary(end),
            "{entity:?} splits a pair in {text:?}"
        );
    }
}

/// `entity` moved to a new range (for the entity types these tests build).
pub fn with_range(entity: &MessageEntity, offset: i32, length: i32) -> MessageEntity {
    use MessageEntity as E;
    match entity {
        E::Bold(_) => bold(offset, length),
        E::Italic(_) => italic(offset, length),
        E::Underline(_) => underline(offset, length),
        E::Strike(_) => strike(offset, length),
        E::Spoiler(_) => spoiler(offset, length),
        E::Code(_) => code(offset, length),
        E::Pre(p) => pre(offset, length, &p.language),
        E::Blockquote(_) => blockquote(offset, length),
        E::TextUrl(t) => text_url(offset, length, &t.url),
        E::Url(_) => url(offset, length),
        E::Email(_) => email(offset, length),
        E::MentionName(m) => mention_name(offset, length, m.user_id),
        E::Mention(_) => mention(offset, length),
        other => panic!("no test constructor for {other:?}"),
    }
}
