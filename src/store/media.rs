//! The media cache: which Matrix content URI holds a Telegram photo or
//! document, so a file bridged once (a forwarded photo, a popular sticker, a
//! caption edit) is never uploaded again, and which Telegram file a Matrix
//! upload became. Only the `media_cache` table.

use rusqlite::{OptionalExtension, Row};

use super::{Db, StoreError};

/// Which Telegram id space a cached file's id is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TelegramFileKind {
    /// A photo (the id of `photo`, at the size the bridge chose).
    Photo,
    /// A document (file, video, voice note, sticker, …).
    Document,
}

impl TelegramFileKind {
    fn as_str(self) -> &'static str {
        match self {
            TelegramFileKind::Photo => "photo",
            TelegramFileKind::Document => "document",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "photo" => Some(TelegramFileKind::Photo),
            "document" => Some(TelegramFileKind::Document),
            _ => None,
        }
    }
}

/// One Telegram file and the Matrix content URI with the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedMedia {
    /// Photo or document.
    pub kind: TelegramFileKind,
    /// Telegram's photo or document id (the same for every account).
    pub telegram_id: i64,
    /// The `mxc://` URI.
    pub mxc: String,
    /// Size in bytes.
    pub size: u64,
    /// The MIME type the upload was made with.
    pub mime_type: String,
}

/// Media-cache queries. Get one from [`super::Store::media`].
pub struct MediaCache<'a> {
    db: Db<'a>,
}

impl<'a> MediaCache<'a> {
    pub(super) fn new(db: Db<'a>) -> Self {
        MediaCache { db }
    }

    /// The Matrix copy of a Telegram file, if one was uploaded.
    pub fn by_telegram(
        &self,
        kind: TelegramFileKind,
        telegram_id: i64,
    ) -> Result<Option<CachedMedia>, StoreError> {
        self.db.run(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT kind, telegram_id, mxc, size, mime_type FROM media_cache
                     WHERE kind = ?1 AND telegram_id = ?2",
                )?
                .query_row((kind.as_str(), telegram_id), row_to_media)
                .optional()?
                .flatten())
        })
    }

    /// The Telegram file a Matrix upload was last sent as, if any.
    pub fn by_mxc(&self, mxc: &str) -> Result<Option<CachedMedia>, StoreError> {
        self.db.run(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT kind, telegram_id, mxc, size, mime_type FROM media_cache
                     WHERE mxc = ?1 ORDER BY rowid DESC LIMIT 1",
                )?
                .query_row([mxc], row_to_media)
                .optional()?
                .flatten())
        })
    }

    /// Records that `media.telegram_id` and `media.mxc` hold the same bytes
    /// (the latest upload wins).
    pub fn insert(&self, media: &CachedMedia) -> Result<(), StoreError> {
        let size = i64::try_from(media.size).unwrap_or(i64::MAX);
        self.db.run(|conn| {
            conn.prepare_cached(
                "INSERT INTO media_cache (kind, telegram_id, mxc, size, mime_type)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (kind, telegram_id) DO UPDATE SET
                     mxc = excluded.mxc, size = excluded.size, mime_type = excluded.mime_type",
            )?
            .execute((
                media.kind.as_str(),
                media.telegram_id,
                &media.mxc,
                size,
                &media.mime_type,
            ))?;
            Ok(())
        })
    }

    /// Forgets a Matrix URI (e.g. the homeserver purged the file).
    pub fn forget_mxc(&self, mxc: &str) -> Result<(), StoreError> {
        self.db.run(|conn| {
            conn.prepare_cached("DELETE FROM media_cache WHERE mxc = ?1")?
                .execute([mxc])?;
            Ok(())
        })
    }
}

/// A row, or `None` for a kind this binary does not know.
fn row_to_media(row: &Row<'_>) -> rusqlite::Result<Option<CachedMedia>> {
    let kind: String = row.get(0)?;
    let size: i64 = row.get(3)?;
    Ok(TelegramFileKind::parse(&kind).map(|kind| CachedMedia {
        kind,
        telegram_id: row.get(1).unwrap_or_default(),
        mxc: row.get(2).unwrap_or_default(),
        size: u64::try_from(size).unwrap_or(0),
        mime_type: row.get(4).unwrap_or_default(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::temp_store;

    #[test]
    fn cached_files_are_found_both_ways_and_replaced() {
        let (_dir, store) = temp_store();
        let cache = store.media();
        assert_eq!(cache.by_telegram(TelegramFileKind::Photo, 7).unwrap(), None);
        let photo = CachedMedia {
            kind: TelegramFileKind::Photo,
            telegram_id: 7,
            mxc: "mxc://hs/one".into(),
            size: 1234,
            mime_type: "image/jpeg".into(),
        };
        cache.insert(&photo).unwrap();
        assert_eq!(
            cache.by_telegram(TelegramFileKind::Photo, 7).unwrap(),
            Some(photo.clone())
        );
        // The same id in the other id space is another file.
        assert_eq!(
            cache.by_telegram(TelegramFileKind::Document, 7).unwrap(),
            None
        );
        assert_eq!(cache.by_mxc("mxc://hs/one").unwrap(), Some(photo.clone()));

        let replaced = CachedMedia {
            mxc: "mxc://hs/two".into(),
            ..photo
        };
        cache.insert(&replaced).unwrap();
        assert_eq!(
            cache.by_telegram(TelegramFileKind::Photo, 7).unwrap(),
            Some(replaced)
        );
        assert_eq!(cache.by_mxc("mxc://hs/one").unwrap(), None);
        cache.forget_mxc("mxc://hs/two").unwrap();
        assert_eq!(cache.by_telegram(TelegramFileKind::Photo, 7).unwrap(), None);
    }
}
