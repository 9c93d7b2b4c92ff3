//! Formatting entities between the MTProto client's types and the
//! bridge's own [`Entity`]: every kind the converters read or write keeps
//! its meaning and payload; kinds the bridge shows as plain text become
//! [`EntityKind::Other`] and are never sent. Pure.

use grammers_tl_types as tl;
use tl::enums::MessageEntity;

use crate::convert::{Entity, EntityKind};

/// The bridge's form of Telegram's entities.
pub fn from_tl(entities: &[MessageEntity]) -> Vec<Entity> {
    entities.iter().map(entity_of).collect()
}

fn entity_of(entity: &MessageEntity) -> Entity {
    use MessageEntity as E;
    let kind = match entity {
        E::Bold(_) => EntityKind::Bold,
        E::Italic(_) => EntityKind::Italic,
        E::Underline(_) => EntityKind::Underline,
        E::Strike(_) => EntityKind::Strike,
        E::Spoiler(_) => EntityKind::Spoiler,
        E::Code(_) => EntityKind::Code,
        E::Pre(pre) => EntityKind::Pre(pre.language.clone()),
        E::Blockquote(_) => EntityKind::Blockquote,
        E::TextUrl(link) => EntityKind::TextUrl(link.url.clone()),
        E::Url(_) => EntityKind::Url,
        E::Email(_) => EntityKind::Email,
        E::MentionName(mention) => EntityKind::MentionName(mention.user_id),
        E::InputMessageEntityMentionName(mention) => match &mention.user_id {
            tl::enums::InputUser::User(user) => EntityKind::MentionUser {
                user_id: user.user_id,
                access_hash: user.access_hash,
            },
            _ => EntityKind::Other,
        },
        E::Mention(_) => EntityKind::Mention,
        _ => EntityKind::Other,
    };
    Entity::new(kind, entity.offset(), entity.length())
}

/// Telegram's form of the bridge's entities; [`EntityKind::Other`] is
/// left out.
pub fn to_tl(entities: &[Entity]) -> Vec<MessageEntity> {
    entities.iter().filter_map(tl_entity).collect()
}

fn tl_entity(entity: &Entity) -> Option<MessageEntity> {
    use tl::types as t;
    let (offset, length) = (entity.offset, entity.length);
    Some(match &entity.kind {
        EntityKind::Bold => t::MessageEntityBold { offset, length }.into(),
        EntityKind::Italic => t::MessageEntityItalic { offset, length }.into(),
        EntityKind::Underline => t::MessageEntityUnderline { offset, length }.into(),
        EntityKind::Strike => t::MessageEntityStrike { offset, length }.into(),
        EntityKind::Spoiler => t::MessageEntitySpoiler { offset, length }.into(),
        EntityKind::Code => t::MessageEntityCode { offset, length }.into(),
        EntityKind::Pre(language) => t::MessageEntityPre {
            offset,
            length,
            language: language.clone(),
        }
        .into(),
        EntityKind::Blockquote => t::MessageEntityBlockquote {
            collapsed: false,
            offset,
            length,
        }
        .into(),
        EntityKind::TextUrl(url) => t::MessageEntityTextUrl {
            offset,
            length,
            url: url.clone(),
        }
        .into(),
        EntityKind::Url => t::MessageEntityUrl { offset, length }.into(),
        EntityKind::Email => t::MessageEntityEmail { offset, length }.into(),
        EntityKind::MentionName(user_id) => t::MessageEntityMentionName {
            offset,
            length,
            user_id: *user_id,
        }
        .into(),
        EntityKind::MentionUser {
            user_id,
            access_hash,
        } => t::InputMessageEntityMentionName {
            offset,
            length,
            user_id: t::InputUser {
                user_id: *user_id,
                access_hash: *access_hash,
            }
            .into(),
        }
        .into(),
        EntityKind::Mention => t::MessageEntityMention { offset, length }.into(),
        EntityKind::Other => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_the_bridge_writes_survives_the_way_back() {
        let kinds = [
            EntityKind::Bold,
            EntityKind::Italic,
            EntityKind::Underline,
            EntityKind::Strike,
            EntityKind::Spoiler,
            EntityKind::Code,
            EntityKind::Pre("rust".into()),
            EntityKind::Blockquote,
            EntityKind::TextUrl("https://a.org".into()),
            EntityKind::Url,
            EntityKind::Email,
            EntityKind::MentionName(7),
            EntityKind::MentionUser {
                user_id: 7,
                access_hash: 99,
            },
            EntityKind::Mention,
        ];
        let entities: Vec<Entity> = kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| Entity::new(kind, i as i32, 2))
            .collect();
        assert_eq!(from_tl(&to_tl(&entities)), entities);
    }

    #[test]
    fn kinds_shown_as_text_are_read_but_never_sent() {
        let hashtag: MessageEntity = tl::types::MessageEntityHashtag {
            offset: 1,
            length: 4,
        }
        .into();
        let read = from_tl(&[hashtag]);
        assert_eq!(read, vec![Entity::new(EntityKind::Other, 1, 4)]);
        assert!(to_tl(&read).is_empty());
    }
}
