//! Files: parts uploaded with `upload.saveFilePart`/`saveBigFilePart`, the
//! photos and documents built from them, and the byte ranges
//! `upload.getFile` serves. Owns the bytes; knows nothing of messages.

use std::collections::{BTreeMap, HashMap};

use grammers_tl_types as tl;

use super::peers::{access_hash, Kind};
use super::{UserId, World};
use crate::RpcError;

/// A photo id.
pub type PhotoId = i64;
/// A document id.
pub type DocumentId = i64;
/// Index of media stored in TL form (locations, contacts, polls, …).
pub type OtherMediaId = usize;

/// Largest part `upload.saveFilePart` accepts (512 KiB).
const MAX_PART: usize = 512 * 1024;
/// Largest chunk `upload.getFile` serves (1 MiB).
const MAX_CHUNK: i32 = 1024 * 1024;

/// One size of a photo, with its bytes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PhotoSize {
    /// Telegram's size letter (`s`, `m`, `x`, `y`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Width in pixels.
    pub w: i32,
    /// Height in pixels.
    pub h: i32,
    /// The image bytes.
    pub bytes: Vec<u8>,
}

/// A stored photo.
#[derive(Debug, Clone)]
pub struct Photo {
    /// The photo id.
    pub id: PhotoId,
    /// Upload date.
    pub date: i32,
    /// Sizes, smallest first.
    pub sizes: Vec<PhotoSize>,
}

/// A stored document (file, video, voice note, audio, sticker, animation).
#[derive(Debug, Clone)]
pub struct Document {
    /// The document id.
    pub id: DocumentId,
    /// Upload date.
    pub date: i32,
    /// MIME type as the uploader declared it.
    pub mime_type: String,
    /// What kind of document it is (file name, video, audio, sticker, …).
    pub attributes: Vec<tl::enums::DocumentAttribute>,
    /// The file bytes.
    pub bytes: Vec<u8>,
}

#[derive(Debug, Default)]
struct Upload {
    parts: BTreeMap<i32, Vec<u8>>,
}

/// Every uploaded part, photo and document.
#[derive(Debug, Default)]
pub struct Store {
    uploads: HashMap<(UserId, i64), Upload>,
    photos: BTreeMap<PhotoId, Photo>,
    documents: BTreeMap<DocumentId, Document>,
    others: Vec<tl::enums::MessageMedia>,
    /// Documents that are custom emoji (their id is the emoji's id, as on
    /// Telegram), which `messages.getCustomEmojiDocuments` serves.
    custom_emoji: std::collections::BTreeSet<DocumentId>,
    next_id: i64,
}

impl Store {
    /// Stores one part of an upload.
    pub fn save_part(
        &mut self,
        owner: UserId,
        file_id: i64,
        part: i32,
        bytes: Vec<u8>,
    ) -> Result<(), RpcError> {
        if !(0..=3999).contains(&part) {
            return Err(RpcError::bad_request("FILE_PART_INVALID"));
        }
        if bytes.is_empty() {
            return Err(RpcError::bad_request("FILE_PART_EMPTY"));
        }
        if bytes.len() > MAX_PART {
            return Err(RpcError::bad_request("FILE_PART_TOO_BIG"));
        }
        self.uploads
            .entry((owner, file_id))
            .or_default()
            .parts
            .insert(part, bytes);
        Ok(())
    }

    /// The bytes of a completed upload; every part must be present.
    pub fn assemble(
        &self,
        owner: UserId,
        file: &tl::enums::InputFile,
    ) -> Result<(Vec<u8>, String), RpcError> {
        let (id, parts, name) = match file {
            tl::enums::InputFile::File(f) => (f.id, f.parts, f.name.clone()),
            tl::enums::InputFile::Big(f) => (f.id, f.parts, f.name.clone()),
            tl::enums::InputFile::StoryDocument(_) => {
                return Err(RpcError::bad_request("FILE_ID_INVALID"))
            }
        };
        let upload = self
            .uploads
            .get(&(owner, id))
            .ok_or_else(|| RpcError::bad_request("FILE_PART_0_MISSING"))?;
        let mut bytes = Vec::new();
        for part in 0..parts {
            let chunk = upload
                .parts
                .get(&part)
                .ok_or_else(|| RpcError::bad_request(format!("FILE_PART_{part}_MISSING")))?;
            bytes.extend_from_slice(chunk);
        }
        Ok((bytes, name))
    }

    fn next_id(&mut self) -> i64 {
        self.next_id += 1;
        // Looks like a Telegram file id while staying deterministic.
        5_000_000_000_000 + self.next_id
    }

    /// Stores a photo; `sizes` smallest first.
    pub fn add_photo(&mut self, date: i32, sizes: Vec<PhotoSize>) -> PhotoId {
        let id = self.next_id();
        self.photos.insert(id, Photo { id, date, sizes });
        id
    }

    /// Stores a document.
    pub fn add_document(
        &mut self,
        date: i32,
        mime_type: String,
        attributes: Vec<tl::enums::DocumentAttribute>,
        bytes: Vec<u8>,
    ) -> DocumentId {
        let id = self.next_id();
        self.documents.insert(
            id,
            Document {
                id,
                date,
                mime_type,
                attributes,
                bytes,
            },
        );
        id
    }

    /// A stored photo.
    pub fn photo(&self, id: PhotoId) -> Option<&Photo> {
        self.photos.get(&id)
    }

    /// A stored document.
    pub fn document(&self, id: DocumentId) -> Option<&Document> {
        self.documents.get(&id)
    }

    /// Stores media that has no file (a location, contact, poll, …).
    pub fn add_other(&mut self, media: tl::enums::MessageMedia) -> OtherMediaId {
        self.others.push(media);
        self.others.len() - 1
    }

    /// Media stored with [`Store::add_other`].
    pub fn other(&self, id: OtherMediaId) -> Option<&tl::enums::MessageMedia> {
        self.others.get(id)
    }
}

/// Width and height of a PNG or JPEG image, when the header says so.
pub fn image_size(bytes: &[u8]) -> Option<(i32, i32)> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() >= 24 {
        let w = u32::from_be_bytes(bytes[16..20].try_into().ok()?);
        let h = u32::from_be_bytes(bytes[20..24].try_into().ok()?);
        return Some((i32::try_from(w).ok()?, i32::try_from(h).ok()?));
    }
    if bytes.starts_with(&[0xFF, 0xD8]) {
        return jpeg_size(bytes);
    }
    None
}

/// Walks JPEG segments up to the first start-of-frame marker.
fn jpeg_size(bytes: &[u8]) -> Option<(i32, i32)> {
    let mut i = 2;
    while i + 9 < bytes.len() {
        if bytes[i] != 0xFF {
            return None;
        }
        let marker = bytes[i + 1];
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let h = u16::from_be_bytes([bytes[i + 5], bytes[i + 6]]);
            let w = u16::from_be_bytes([bytes[i + 7], bytes[i + 8]]);
            return Some((i32::from(w), i32::from(h)));
        }
        i += 2 + len;
    }
    None
}

/// Checks `upload.getFile`'s offset and limit the way Telegram does and
/// returns the requested slice.
fn chunk(bytes: &[u8], offset: i64, limit: i32) -> Result<Vec<u8>, RpcError> {
    if limit <= 0 || limit > MAX_CHUNK || limit % 1024 != 0 {
        return Err(RpcError::bad_request("LIMIT_INVALID"));
    }
    if offset < 0 || offset % 1024 != 0 {
        return Err(RpcError::bad_request("OFFSET_INVALID"));
    }
    let start = usize::try_from(offset)
        .map_err(|_| RpcError::bad_request("OFFSET_INVALID"))?
        .min(bytes.len());
    let end = start.saturating_add(limit as usize).min(bytes.len());
    Ok(bytes[start..end].to_vec())
}

impl World {
    /// Stores an uploaded photo from a finished upload.
    pub(crate) fn photo_from_upload(
        &mut self,
        owner: UserId,
        file: &tl::enums::InputFile,
    ) -> Result<PhotoId, RpcError> {
        let (bytes, _) = self.files.assemble(owner, file)?;
        Ok(self.add_photo_bytes(bytes))
    }

    /// Stores a photo from its bytes: one `x` size with the image's own
    /// dimensions (the fake does not resize).
    pub fn add_photo_bytes(&mut self, bytes: Vec<u8>) -> PhotoId {
        let (w, h) = image_size(&bytes).unwrap_or((800, 600));
        let date = self.now();
        self.files.add_photo(
            date,
            vec![PhotoSize {
                kind: "x".into(),
                w,
                h,
                bytes,
            }],
        )
    }

    /// A stored photo.
    pub fn photo(&self, id: PhotoId) -> Option<&Photo> {
        self.files.photo(id)
    }

    /// Stores a custom emoji: a sticker document with the custom emoji
    /// attribute (`mime_type` as Telegram has them: `image/webp` for static
    /// ones, `application/x-tgsticker` or `video/webm` for animated ones).
    /// Returns its id, which is both the emoji's id (a topic's
    /// `icon_emoji_id`) and its document's.
    pub fn add_custom_emoji(&mut self, bytes: Vec<u8>, mime_type: &str, alt: &str) -> DocumentId {
        let date = self.now();
        let attributes = vec![tl::types::DocumentAttributeCustomEmoji {
            free: true,
            text_color: false,
            alt: alt.to_owned(),
            stickerset: tl::enums::InputStickerSet::Empty,
        }
        .into()];
        let id = self
            .files
            .add_document(date, mime_type.to_owned(), attributes, bytes);
        self.files.custom_emoji.insert(id);
        id
    }

    /// `messages.getCustomEmojiDocuments`: the documents of the custom
    /// emoji asked for, in that order; unknown ids are left out.
    pub(crate) fn custom_emoji_documents(
        &self,
        ids: &[i64],
        viewer: UserId,
    ) -> Vec<tl::enums::Document> {
        ids.iter()
            .filter(|id| self.files.custom_emoji.contains(id))
            .map(|&id| self.tl_document(id, viewer))
            .collect()
    }

    /// A stored document.
    pub fn document(&self, id: DocumentId) -> Option<&Document> {
        self.files.document(id)
    }

    /// Media without a file (location, contact, poll, dice, game) in its TL form.
    pub fn other_media(&self, id: OtherMediaId) -> Option<&tl::enums::MessageMedia> {
        self.files.other(id)
    }

    /// Stores a document from a finished upload.
    pub(crate) fn document_from_upload(
        &mut self,
        owner: UserId,
        file: &tl::enums::InputFile,
        mime_type: String,
        mut attributes: Vec<tl::enums::DocumentAttribute>,
    ) -> Result<DocumentId, RpcError> {
        let (bytes, name) = self.files.assemble(owner, file)?;
        let has_name = attributes
            .iter()
            .any(|a| matches!(a, tl::enums::DocumentAttribute::Filename(_)));
        if !has_name && !name.is_empty() {
            attributes.push(tl::types::DocumentAttributeFilename { file_name: name }.into());
        }
        let date = self.now();
        Ok(self.files.add_document(date, mime_type, attributes, bytes))
    }

    /// The TL photo as `viewer` sees it.
    pub fn tl_photo(&self, id: PhotoId, viewer: UserId) -> tl::enums::Photo {
        let Some(photo) = self.files.photo(id) else {
            return tl::types::PhotoEmpty { id }.into();
        };
        tl::types::Photo {
            has_stickers: false,
            id,
            access_hash: access_hash(Kind::Photo, id, viewer),
            file_reference: file_reference(id),
            date: photo.date,
            sizes: photo
                .sizes
                .iter()
                .map(|s| {
                    tl::types::PhotoSize {
                        r#type: s.kind.clone(),
                        w: s.w,
                        h: s.h,
                        size: s.bytes.len() as i32,
                    }
                    .into()
                })
                .collect(),
            video_sizes: None,
            dc_id: self.dc_id,
        }
        .into()
    }

    /// The TL document as `viewer` sees it.
    pub fn tl_document(&self, id: DocumentId, viewer: UserId) -> tl::enums::Document {
        let Some(doc) = self.files.document(id) else {
            return tl::types::DocumentEmpty { id }.into();
        };
        tl::types::Document {
            id,
            access_hash: access_hash(Kind::Document, id, viewer),
            file_reference: file_reference(id),
            date: doc.date,
            mime_type: doc.mime_type.clone(),
            size: doc.bytes.len() as i64,
            thumbs: None,
            video_thumbs: None,
            dc_id: self.dc_id,
            attributes: doc.attributes.clone(),
        }
        .into()
    }

    /// Checks an input photo's access hash.
    pub fn resolve_photo(
        &self,
        viewer: UserId,
        photo: &tl::enums::InputPhoto,
    ) -> Result<PhotoId, RpcError> {
        let invalid = || RpcError::bad_request("PHOTO_INVALID");
        match photo {
            tl::enums::InputPhoto::Photo(p) => {
                let found = self.files.photo(p.id);
                checked(found, Kind::Photo, p.id, p.access_hash, viewer).ok_or_else(invalid)?;
                Ok(p.id)
            }
            tl::enums::InputPhoto::Empty => Err(invalid()),
        }
    }

    /// Checks an input document's access hash.
    pub fn resolve_document(
        &self,
        viewer: UserId,
        doc: &tl::enums::InputDocument,
    ) -> Result<DocumentId, RpcError> {
        let invalid = || RpcError::bad_request("DOCUMENT_INVALID");
        match doc {
            tl::enums::InputDocument::Document(d) => {
                let found = self.files.document(d.id);
                checked(found, Kind::Document, d.id, d.access_hash, viewer).ok_or_else(invalid)?;
                Ok(d.id)
            }
            tl::enums::InputDocument::Empty => Err(invalid()),
        }
    }

    /// Serves `upload.getFile`.
    pub(crate) fn get_file(
        &self,
        viewer: UserId,
        location: &tl::enums::InputFileLocation,
        offset: i64,
        limit: i32,
    ) -> Result<tl::enums::upload::File, RpcError> {
        use tl::enums::InputFileLocation as L;
        let invalid = || RpcError::bad_request("LOCATION_INVALID");
        let (bytes, file_type): (&[u8], tl::enums::storage::FileType) = match location {
            L::InputPhotoFileLocation(loc) => {
                let found = self.files.photo(loc.id);
                let photo = checked(found, Kind::Photo, loc.id, loc.access_hash, viewer)
                    .ok_or_else(invalid)?;
                let size = photo
                    .sizes
                    .iter()
                    .find(|s| s.kind == loc.thumb_size)
                    .ok_or_else(invalid)?;
                (&size.bytes, tl::enums::storage::FileType::FileJpeg)
            }
            L::InputDocumentFileLocation(loc) => {
                let found = self.files.document(loc.id);
                let doc = checked(found, Kind::Document, loc.id, loc.access_hash, viewer)
                    .ok_or_else(invalid)?;
                (&doc.bytes, tl::enums::storage::FileType::FileUnknown)
            }
            L::InputPeerPhotoFileLocation(loc) => {
                self.resolve_peer(viewer, &loc.peer)?;
                let photo = self.files.photo(loc.photo_id).ok_or_else(invalid)?;
                let size = if loc.big {
                    photo.sizes.last()
                } else {
                    photo.sizes.first()
                };
                (
                    &size.ok_or_else(invalid)?.bytes,
                    tl::enums::storage::FileType::FileJpeg,
                )
            }
            _ => return Err(invalid()),
        };
        let bytes = chunk(bytes, offset, limit)?;
        Ok(tl::types::upload::File {
            r#type: file_type,
            mtime: 0,
            bytes,
        }
        .into())
    }

    /// Stores an upload part for `owner`.
    pub(crate) fn save_file_part(
        &mut self,
        owner: UserId,
        file_id: i64,
        part: i32,
        bytes: Vec<u8>,
    ) -> Result<(), RpcError> {
        self.files.save_part(owner, file_id, part, bytes)
    }
}

/// The stored object, if there is one and `viewer` named it with the access
/// hash it was given: one check for every photo and document lookup, whose
/// callers differ only in the error they answer.
fn checked<T>(found: Option<T>, kind: Kind, id: i64, given_hash: i64, viewer: UserId) -> Option<T> {
    found.filter(|_| given_hash == access_hash(kind, id, viewer))
}

/// A stable file reference (clients only echo it back).
fn file_reference(id: i64) -> Vec<u8> {
    id.to_le_bytes().to_vec()
}
