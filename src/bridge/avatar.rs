//! Avatars: Telegram chat and profile photos mirrored as room and ghost
//! avatars, and room avatars set in Matrix turned into bytes for Telegram.
//!
//! A Telegram photo is downloaded and uploaded to the homeserver's media
//! repository once: the resulting mxc URI is remembered by Telegram photo id
//! in the store's key-value table, so a photo shared by several portals or
//! ghosts, or seen again after a restart, costs no second upload. Deciding
//! which photo a peer has is pure; the transfers go through the grammers
//! client and [`MatrixClient`]. It never sets room state or profiles itself.

use grammers_client::media::Downloadable;
use grammers_client::peer::Peer;
use grammers_client::Client;
use grammers_mtsender::InvocationError;
use grammers_session::types::PeerRef;
use grammers_tl_types as tl;
use ruma::api::client::{authenticated_media, media};
use ruma::{MxcUri, OwnedMxcUri};

use crate::matrix::{MatrixClient, MatrixError};
use crate::store::{Store, StoreError};

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
    Telegram(#[from] InvocationError),
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

/// A Telegram photo to mirror: its id (the cache key) and where to fetch it.
#[derive(Debug, Clone, PartialEq)]
pub struct TelegramPhoto {
    /// Telegram's photo id; a changed photo has a new id.
    pub id: i64,
    location: tl::enums::InputFileLocation,
}

impl TelegramPhoto {
    /// A picture found elsewhere than in a peer's photo (a forum topic's
    /// custom emoji icon): `id` must change whenever the picture does.
    pub fn at(id: i64, location: tl::enums::InputFileLocation) -> Self {
        TelegramPhoto { id, location }
    }
}

impl Downloadable for TelegramPhoto {
    fn to_raw_input_location(&self) -> Option<tl::enums::InputFileLocation> {
        Some(self.location.clone())
    }
}

/// The photo id of a user, group or channel; `None` when it has none.
pub fn photo_id(peer: &Peer) -> Option<i64> {
    match peer {
        Peer::User(user) => user.photo().map(|p| p.photo_id),
        Peer::Group(group) => group.photo().map(|p| p.photo_id),
        Peer::Channel(channel) => channel.photo().map(|p| p.photo_id),
        Peer::Community(community) => community.photo().map(|p| p.photo_id),
    }
}

/// The current photo of `peer` (reachable through `input`), in its big size.
pub fn peer_photo(peer: &Peer, input: PeerRef) -> Option<TelegramPhoto> {
    let id = photo_id(peer)?;
    Some(TelegramPhoto {
        id,
        location: tl::types::InputPeerPhotoFileLocation {
            big: true,
            peer: input.into(),
            photo_id: id,
        }
        .into(),
    })
}

/// The mxc URI of `photo`, downloading and uploading it on first use.
pub async fn mxc_for(
    matrix: &MatrixClient,
    store: &Store,
    telegram: &Client,
    photo: &TelegramPhoto,
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

async fn download(telegram: &Client, photo: &TelegramPhoto) -> Result<Vec<u8>, AvatarError> {
    let mut bytes = Vec::new();
    let mut chunks = telegram.iter_download(photo);
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
