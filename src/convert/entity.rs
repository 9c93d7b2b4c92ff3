//! The Telegram formatting entities the bridge produces, and range surgery on
//! any entity Telegram may send. Only the entity *shape* lives here; deciding
//! which entity a piece of HTML becomes is the job of the converters.

use grammers_tl_types as tl;
use tl::enums::MessageEntity;

/// A formatting entity the Matrix → Telegram converter can emit, without its
/// range. Equality includes the payload, so two adjacent runs merge only when
/// they mean the same thing (same URL, same language, same user).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum EntityKind {
    Bold,
    Italic,
    Underline,
    Strike,
    Spoiler,
    Code,
    /// A code block; the language is empty when unknown.
    Pre(String),
    Blockquote,
    /// A link whose visible text differs from its target.
    TextUrl(String),
    /// A link whose visible text is the URL itself.
    Url,
    /// An e-mail address shown as itself.
    Email,
    /// A mention of a Telegram user by id (grammers resolves the access hash
    /// from its session when the message is sent).
    MentionName(i64),
}

impl EntityKind {
    /// Order among entities covering the same range: outermost first, the
    /// way HTML nests them.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            Self::Blockquote => 0,
            Self::Pre(_) => 1,
            Self::TextUrl(_) | Self::Url | Self::Email | Self::MentionName(_) => 2,
            Self::Bold => 3,
            Self::Italic => 4,
            Self::Underline => 5,
            Self::Strike => 6,
            Self::Spoiler => 7,
            Self::Code => 8,
        }
    }

    /// Builds the TL entity covering `offset..offset + length` UTF-16 units.
    pub(crate) fn to_entity(&self, offset: i32, length: i32) -> MessageEntity {
        use tl::types as t;
        match self {
            Self::Bold => t::MessageEntityBold { offset, length }.into(),
            Self::Italic => t::MessageEntityItalic { offset, length }.into(),
            Self::Underline => t::MessageEntityUnderline { offset, length }.into(),
            Self::Strike => t::MessageEntityStrike { offset, length }.into(),
            Self::Spoiler => t::MessageEntitySpoiler { offset, length }.into(),
            Self::Code => t::MessageEntityCode { offset, length }.into(),
            Self::Pre(language) => t::MessageEntityPre {
                offset,
                length,
                language: language.clone(),
            }
            .into(),
            Self::Blockquote => t::MessageEntityBlockquote {
                collapsed: false,
                offset,
                length,
            }
            .into(),
            Self::TextUrl(url) => t::MessageEntityTextUrl {
                offset,
                length,
                url: url.clone(),
            }
            .into(),
            Self::Url => t::MessageEntityUrl { offset, length }.into(),
            Self::Email => t::MessageEntityEmail { offset, length }.into(),
            Self::MentionName(user_id) => t::MessageEntityMentionName {
                offset,
                length,
                user_id: *user_id,
            }
            .into(),
        }
    }
}

/// Returns a copy of `entity` moved to `offset..offset + length`, keeping its
/// type and payload. Used when a message is split and entities are clipped.
pub(crate) fn with_range(entity: &MessageEntity, offset: i32, length: i32) -> MessageEntity {
    let mut entity = entity.clone();
    let (o, l) = range_fields(&mut entity);
    *o = offset;
    *l = length;
    entity
}

/// Mutable access to the offset and length of any entity variant.
fn range_fields(entity: &mut MessageEntity) -> (&mut i32, &mut i32) {
    use MessageEntity as E;
    match entity {
        E::Unknown(e) => (&mut e.offset, &mut e.length),
        E::Mention(e) => (&mut e.offset, &mut e.length),
        E::Hashtag(e) => (&mut e.offset, &mut e.length),
        E::BotCommand(e) => (&mut e.offset, &mut e.length),
        E::Url(e) => (&mut e.offset, &mut e.length),
        E::Email(e) => (&mut e.offset, &mut e.length),
        E::Bold(e) => (&mut e.offset, &mut e.length),
        E::Italic(e) => (&mut e.offset, &mut e.length),
        E::Code(e) => (&mut e.offset, &mut e.length),
        E::Pre(e) => (&mut e.offset, &mut e.length),
        E::TextUrl(e) => (&mut e.offset, &mut e.length),
        E::MentionName(e) => (&mut e.offset, &mut e.length),
        E::InputMessageEntityMentionName(e) => (&mut e.offset, &mut e.length),
        E::Phone(e) => (&mut e.offset, &mut e.length),
        E::Cashtag(e) => (&mut e.offset, &mut e.length),
        E::Underline(e) => (&mut e.offset, &mut e.length),
        E::Strike(e) => (&mut e.offset, &mut e.length),
        E::BankCard(e) => (&mut e.offset, &mut e.length),
        E::Spoiler(e) => (&mut e.offset, &mut e.length),
        E::CustomEmoji(e) => (&mut e.offset, &mut e.length),
        E::Blockquote(e) => (&mut e.offset, &mut e.length),
        E::FormattedDate(e) => (&mut e.offset, &mut e.length),
        E::DiffInsert(e) => (&mut e.offset, &mut e.length),
        E::DiffReplace(e) => (&mut e.offset, &mut e.length),
        E::DiffDelete(e) => (&mut e.offset, &mut e.length),
        E::TonAddress(e) => (&mut e.offset, &mut e.length),
    }
}

/// Converts an in-memory UTF-16 position to the `i32` Telegram uses.
/// Telegram texts are a few thousand units long, far below `i32::MAX`;
/// saturating keeps absurd inputs from wrapping into negative offsets.
pub(crate) fn to_tl_int(units: usize) -> i32 {
    i32::try_from(units).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_range_keeps_payload() {
        let pre = EntityKind::Pre("rust".into()).to_entity(3, 4);
        let moved = with_range(&pre, 0, 2);
        assert_eq!(
            moved,
            tl::types::MessageEntityPre {
                offset: 0,
                length: 2,
                language: "rust".into()
            }
            .into()
        );
    }

    #[test]
    fn tl_int_saturates() {
        assert_eq!(to_tl_int(7), 7);
        assert_eq!(to_tl_int(usize::MAX), i32::MAX);
    }
}
