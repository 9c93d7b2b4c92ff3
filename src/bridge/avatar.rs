//! Avatars: Telegram chat and profile photos mirrored as room and ghost
//! avatars, and room avatars set in Matrix turned into bytes for Telegram.
//!
//! A Telegram photo is downloaded and uploaded to the homeserver's media
//! repository once: the resulting mxc URI is remembered by Telegram photo id
//! in the store's key-value table, so a photo shared by several portals or
//! ghosts, or seen again after a restart, costs no second upload. Which
//! photo a user or chat has comes from [`crate::telegram::peers`]; the
//! transfers go through [`TelegramApi`] and [`MatrixClient`]. It never sets
//! room state or profiles itself.

use ruma::api::client::{authenticated_media, media};
use ruma::{MxcUri, OwnedMxcUri};

use crate::matrix::{MatrixClient, MatrixError};
use crate::store::{Store, StoreError};
use crate::telegram::peers::TgPhoto;
use crate::telegram::{CallError, TelegramApi};

/// Photos larger than this are not mirrored (Telegram's profile photos are
/// far smaller; anything bigger is not worth a small homeserver's disk).
pub const MAX_AVATAR_BYTES: usize = 10 * 1024 * 1024;

/// Key prefix of the photo id → mxc cache in the key-value table.
const CACHE_PREFIX: &str = "avatar_mxc:";

/// Why an avatar could not be mirrored.
#[derive(Debug, thiserror::Error)]
pub enum AvatarError {
    /// Telegram refused or failed the download or upload.
    #[error("Telegram: {0}")]
    Telegram(#[from] CallError),
    /// The homeserver refused or failed.
    #[error(transparent)]
    Matrix(#[from] MatrixError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The picture is larger than [`MAX_AVATAR_BYTES`].
    #[error("the picture is larger than {MAX_AVATAR_BYTES} bytes")]
    TooBig,
    /// Uploading to Telegram failed locally.
    #[error("could not upload the picture: {0}")]
    Upload(String),
}

/// The mxc URI of `photo`, downloading and uploading it on first use.
pub async fn mxc_for(
    matrix: &MatrixClient,
    store: &Store,
    telegram: &TelegramApi,
    photo: &TgPhoto,
) -> Result<OwnedMxcUri, AvatarError> {
    let key = format!("{CACHE_PREFIX}{}", photo.id);
    if let Some(cached) = store.kv_get(&key)? {
        let mxc = OwnedMxcUri::from(cached);
        if mxc.is_valid() {
            return Ok(mxc);
        }
    }
    let bytes = download(telegram, photo).await?;
    let mut request = media::create_content::v3::Request::new(bytes);
    request.content_type = Some(image_type(&request.file).to_owned());
    request.filename = Some(format!("{}.{}", photo.id, extension(&request.file)));
    let mxc = matrix.as_bot().send(request).await?.content_uri;
    store.kv_set(&key, mxc.as_str())?;
    Ok(mxc)
}

async fn download(telegram: &TelegramApi, photo: &TgPhoto) -> Result<Vec<u8>, AvatarError> {
    let mut bytes = Vec::new();
    let mut chunks = telegram.download(&photo.location);
    while let Some(chunk) = chunks.next().await? {
        bytes.extend(chunk);
        if bytes.len() > MAX_AVATAR_BYTES {
            return Err(AvatarError::TooBig);
        }
    }
    Ok(bytes)
}

/// Downloads an mxc picture as the bot (to hand it to Telegram).
pub async fn download_mxc(matrix: &MatrixClient, mxc: &MxcUri) -> Result<Vec<u8>, AvatarError> {
    let invalid = |e: ruma::IdParseError| {
        AvatarError::Matrix(MatrixError::Build {
            endpoint: "media::get_content",
            message: e.to_string(),
        })
    };
    let request = authenticated_media::get_content::v1::Request::from_uri(mxc).map_err(invalid)?;
    let file = match matrix.as_bot().send(request).await {
        Ok(response) => response.file,
        // Homeservers older than authenticated media still serve the old path.
        Err(error) if matches!(error.status().map(|s| s.as_u16()), Some(404 | 405)) => {
            #[allow(deprecated)]
            let legacy = media::get_content::v3::Request::from_url(mxc).map_err(invalid)?;
            matrix.as_bot().send(legacy).await?.file
        }
        Err(error) => return Err(error.into()),
    };
    if file.len() > MAX_AVATAR_BYTES {
        return Err(AvatarError::TooBig);
    }
    Ok(file)
}

/// The MIME type of an image from its first bytes (Telegram serves JPEG;
/// pictures set in Matrix may be anything).
pub fn image_type(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if bytes.starts_with(b"GIF8") {
        "image/gif"
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        "image/webp"
    } else {
        "image/jpeg"
    }
}

fn extension(bytes: &[u8]) -> &'static str {
    match image_type(bytes) {
        "image/png" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        _ => "jpg",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_types_are_sniffed_from_magic_bytes() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\n...."), "image/png");
        assert_eq!(image_type(b"GIF89a...."), "image/gif");
        assert_eq!(image_type(b"RIFF\0\0\0\0WEBPVP8 "), "image/webp");
        assert_eq!(image_type(b"\xff\xd8\xff\xe0"), "image/jpeg");
        assert_eq!(extension(b"\x89PNG\r\n\x1a\n"), "png");
        assert_eq!(extension(b""), "jpg");
    }
}
