//! Telegram's formatting entities in the bridge's own form ([`Entity`]):
//! the kinds the converters read and emit, and range surgery on them. Only
//! the entity *shape* lives here; deciding which entity a piece of HTML
//! becomes is the job of the converters, and turning entities into the
//! MTProto client's types and back is the Telegram adapter's
//! (`telegram::entities`).

/// A formatting entity over `offset..offset + length` UTF-16 units of a
/// text, as Telegram counts them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entity {
    /// Start, in UTF-16 units.
    pub offset: i32,
    /// Length, in UTF-16 units.
    pub length: i32,
    /// What it means.
    pub kind: EntityKind,
}

impl Entity {
    /// An entity of `kind` over `offset..offset + length`.
    pub fn new(kind: EntityKind, offset: i32, length: i32) -> Self {
        Entity {
            offset,
            length,
            kind,
        }
    }
}

/// What a formatting entity means. Equality includes the payload, so two
/// adjacent runs merge only when they mean the same thing (same URL, same
/// language, same user).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntityKind {
    /// Bold.
    Bold,
    /// Italic.
    Italic,
    /// Underlined.
    Underline,
    /// Struck through.
    Strike,
    /// Hidden until tapped.
    Spoiler,
    /// Inline code.
    Code,
    /// A code block; the language is empty when unknown.
    Pre(String),
    /// A quote.
    Blockquote,
    /// A link whose visible text differs from its target.
    TextUrl(String),
    /// A link whose visible text is the URL itself.
    Url,
    /// An e-mail address shown as itself.
    Email,
    /// A mention of a Telegram user by id (the Telegram side adds the
    /// access the session holds before sending it).
    MentionName(i64),
    /// A mention of a user with the access hash the account holds for
    /// them, ready to be sent.
    MentionUser {
        /// The user.
        user_id: i64,
        /// The account's access hash for the user.
        access_hash: i64,
    },
    /// An `@username` mention as typed.
    Mention,
    /// Any other kind (hashtags, bot commands, custom emoji, …): shown as
    /// plain text.
    Other,
}

impl EntityKind {
    /// Order among entities covering the same range: outermost first, the
    /// way HTML nests them.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            Self::Blockquote => 0,
            Self::Pre(_) => 1,
            Self::TextUrl(_)
            | Self::Url
            | Self::Email
            | Self::MentionName(_)
            | Self::MentionUser { .. }
            | Self::Mention => 2,
            Self::Bold => 3,
            Self::Italic => 4,
            Self::Underline => 5,
            Self::Strike => 6,
            Self::Spoiler => 7,
            Self::Code => 8,
            Self::Other => 9,
        }
    }

    /// The entity of this kind covering `offset..offset + length` UTF-16
    /// units.
    pub(crate) fn to_entity(&self, offset: i32, length: i32) -> Entity {
        Entity::new(self.clone(), offset, length)
    }
}

/// Returns a copy of `entity` moved to `offset..offset + length`, keeping its
/// kind and payload. Used when a message is split and entities are clipped.
pub(crate) fn with_range(entity: &Entity, offset: i32, length: i32) -> Entity {
    Entity::new(entity.kind.clone(), offset, length)
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
            Entity {
                offset: 0,
                length: 2,
                kind: EntityKind::Pre("rust".into())
            }
        );
    }

    #[test]
    fn tl_int_saturates() {
        assert_eq!(to_tl_int(7), 7);
        assert_eq!(to_tl_int(usize::MAX), i32::MAX);
    }
}
