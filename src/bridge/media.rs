//! Moving media between Telegram and Matrix: a Telegram photo or document
//! streamed from `upload.getFile` into the homeserver's media repository
//! (cached by Telegram file id, so a file is uploaded once), other Telegram
//! media turned into locations or readable text, and a Matrix file streamed
//! from the media repository into a Telegram upload and sent with
//! `messages.sendMedia`.
//!
//! Bodies are streamed with their known length and never held whole in
//! memory. What the events look like is decided in
//! [`crate::convert::media`]; what a Telegram message's media is, and the
//! calls that move its bytes, come from [`crate::telegram::media`] through
//! [`TelegramApi`]. This module only paces the transfers and records the
//! cache. It never sends Matrix events and never touches the message
//! map: the callers (the per-chat workers) do, under the chat's send lock.

use futures_util::stream::{self, StreamExt as _};
use ruma::api::client::message::send_message_event;
use ruma::events::MessageLikeEventType;
use ruma::serde::Raw;
use ruma::{OwnedRoomId, OwnedTransactionId};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::OnceCell;
use tracing::{debug, info, warn};

use crate::convert::media::{
    self as convert, MatrixMedia, MediaEventType, OutgoingKind, OutgoingMedia,
};
use crate::convert::{split_for_telegram, MatrixText, TelegramText};
use crate::matrix::{MatrixClient, MatrixError};
use crate::store::{CachedMedia, Store, StoreError};
use crate::telegram::media::{
    Destination, MessageMedia, OutgoingFile, SentMedia, TgDownload, TgFile, TgMedia, UploadedFile,
};
use crate::telegram::{CallError, TelegramApi};

/// Telegram's limit for files of ordinary accounts (2000 MiB).
pub const DEFAULT_MAX_TELEGRAM_UPLOAD: u64 = 2000 * 1024 * 1024;

/// Files of unknown length are read into memory up to this size only; both
/// sides always announce lengths in practice, so this is a safety net.
const UNKNOWN_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

/// Bytes buffered between a Matrix download and the Telegram upload.
const PIPE_BUFFER: usize = 256 * 1024;

/// Why a file could not be moved.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The file is bigger than the receiving side accepts.
    #[error("the file ({}) is larger than the limit ({})", convert::format_size(*size), convert::format_size(*limit))]
    TooLarge {
        /// The file's size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The Matrix event is not media the bridge can send.
    #[error(transparent)]
    Content(#[from] convert::OutgoingMediaError),
    /// The homeserver failed.
    #[error(transparent)]
    Matrix(#[from] MatrixError),
    /// Telegram failed.
    #[error("Telegram refused the file: {0}")]
    Telegram(#[from] CallError),
    /// Moving the bytes failed (a broken stream on either side).
    #[error("the transfer broke off: {0}")]
    Transfer(String),
    /// Telegram answered without the sent message's id.
    #[error("Telegram did not confirm the sent message")]
    NotConfirmed,
    /// The cache could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Per-run media state: the homeserver's upload limit (asked once) and the
/// bridge's limit for files sent to Telegram.
#[derive(Debug)]
pub struct MediaLimits {
    homeserver: OnceCell<Option<u64>>,
    telegram: u64,
}

impl MediaLimits {
    /// Limits with `telegram` bytes as the largest file sent to Telegram.
    pub fn new(telegram: u64) -> Self {
        MediaLimits {
            homeserver: OnceCell::new(),
            telegram,
        }
    }

    /// The largest file sent to Telegram.
    pub fn telegram(&self) -> u64 {
        self.telegram
    }

    /// The homeserver's upload limit, read on first use. A homeserver that
    /// cannot say is taken to have none; its upload answer decides then.
    pub async fn homeserver(&self, matrix: &MatrixClient) -> Option<u64> {
        *self
            .homeserver
            .get_or_init(|| async {
                match matrix.media_upload_limit().await {
                    Ok(limit) => {
                        debug!(?limit, "homeserver upload limit");
                        limit
                    }
                    Err(error) => {
                        warn!(%error, "could not read the homeserver's upload limit");
                        None
                    }
                }
            })
            .await
    }
}

impl Default for MediaLimits {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_TELEGRAM_UPLOAD)
    }
}

/// What the Telegram → Matrix side needs to bridge a message's media.
pub struct TelegramToMatrix<'a> {
    /// The Telegram client.
    pub telegram: TelegramApi,
    /// The homeserver.
    pub matrix: &'a MatrixClient,
    /// The cache.
    pub store: &'a Store,
    /// The limits.
    pub limits: &'a MediaLimits,
}

impl TelegramToMatrix<'_> {
    /// The Matrix event for a Telegram message with media, with the
    /// message's text as caption; `None` when the message has no media the
    /// bridge bridges as such (it is then sent as text). Never fails: a file
    /// that cannot be moved becomes a notice naming it, so nothing is lost
    /// silently.
    pub async fn media_event(
        &self,
        media: MessageMedia,
        caption: &MatrixText,
    ) -> Option<MatrixMedia> {
        let caption = Some(caption).filter(|c| !c.body.trim().is_empty());
        let message_event = |content| MatrixMedia {
            event_type: MediaEventType::Message,
            content,
        };
        let readable = |text: &str| Some(message_event(convert::readable_content(text, caption)));
        let found = match media.media {
            TgMedia::File(file) => *file,
            TgMedia::Geo(point) => {
                return Some(message_event(convert::location_content(point, None, None)));
            }
            TgMedia::GeoLive(point) => {
                let content = convert::location_content(point, Some("Live location"), None);
                return Some(message_event(content));
            }
            TgMedia::Venue {
                point,
                title,
                address,
            } => {
                let content = convert::location_content(point, Some(&title), Some(&address));
                return Some(message_event(content));
            }
            TgMedia::Contact(contact) => return readable(&convert::contact_text(&contact)),
            TgMedia::Poll(poll) => return readable(&convert::poll_text(&poll)),
            TgMedia::Dice { emoticon, value } => {
                return readable(&convert::dice_text(&emoticon, value))
            }
            TgMedia::Game { title, description } => {
                return readable(&convert::game_text(&title, &description))
            }
            TgMedia::Unsupported(kind) => {
                debug!(kind, "media kind shown as text");
                return readable(&format!("[{kind} not supported by the bridge]"));
            }
            // Expired or deleted media: say so rather than drop the caption.
            TgMedia::Unavailable => return readable("[media no longer available]"),
        };
        let mut event = self.file_event(found, caption).await;
        if let Some(album) = media.album {
            convert::mark_album_item(&mut event, album);
        }
        Some(event)
    }

    /// The event for a file: from the cache, uploaded, or a notice.
    async fn file_event(&self, found: TgFile, caption: Option<&MatrixText>) -> MatrixMedia {
        let notice = |content| MatrixMedia {
            event_type: MediaEventType::Message,
            content,
        };
        match self.store.media().by_telegram(found.kind, found.id) {
            Ok(Some(cached)) => {
                debug!(telegram_id = found.id, "media already uploaded");
                return convert::media_content(&found.file, &cached.mxc, caption);
            }
            Ok(None) => {}
            Err(error) => warn!(%error, "could not read the media cache"),
        }
        if let (Some(limit), Some(size)) =
            (self.limits.homeserver(self.matrix).await, found.file.size)
        {
            if size > limit {
                info!(
                    size,
                    limit, "a Telegram file is larger than the homeserver accepts"
                );
                return notice(convert::too_large_content(&found.file, limit, caption));
            }
        }
        match self.upload(&found).await {
            Ok(mxc) => {
                let cached = CachedMedia {
                    kind: found.kind,
                    telegram_id: found.id,
                    mxc: mxc.clone(),
                    size: found.file.size.unwrap_or(0),
                    mime_type: found.file.mime_type.clone(),
                };
                if let Err(error) = self.store.media().insert(&cached) {
                    warn!(%error, "could not remember an uploaded file");
                }
                convert::media_content(&found.file, &mxc, caption)
            }
            Err(MediaError::TooLarge { limit, .. }) => {
                notice(convert::too_large_content(&found.file, limit, caption))
            }
            Err(error) => {
                warn!(%error, "could not bridge a Telegram file");
                notice(convert::failed_content(
                    &found.file,
                    &error.to_string(),
                    caption,
                ))
            }
        }
    }

    /// Streams the file from Telegram into the media repository.
    async fn upload(&self, found: &TgFile) -> Result<String, MediaError> {
        let name = convert::file_name(&found.file);
        let mime = found.file.mime_type.as_str();
        let download = self.telegram.download(&found.location);
        let (body, size) = match found.location.size() {
            Some(size) => (reqwest::Body::wrap_stream(chunks(download, size)), size),
            None => {
                let limit = self
                    .limits
                    .homeserver(self.matrix)
                    .await
                    .unwrap_or(UNKNOWN_SIZE_LIMIT)
                    .min(UNKNOWN_SIZE_LIMIT);
                let bytes = read_whole(download, limit).await?;
                let size = bytes.len() as u64;
                (reqwest::Body::from(bytes), size)
            }
        };
        let started = std::time::Instant::now();
        let mxc = self.matrix.upload_media(body, size, mime, &name).await;
        let mxc = match mxc {
            Ok(mxc) => mxc,
            Err(error) if error.errcode() == Some("M_TOO_LARGE") => {
                return Err(MediaError::TooLarge {
                    size,
                    limit: self.limits.homeserver(self.matrix).await.unwrap_or(size),
                })
            }
            Err(error) => return Err(error.into()),
        };
        debug!(size, elapsed = ?started.elapsed(), "Telegram file uploaded to Matrix");
        Ok(mxc.to_string())
    }
}

/// The chunks of a Telegram download as a byte stream that ends after
/// `size` bytes (Telegram pads nothing, but a stream longer than its
/// announced length would make the upload fail).
fn chunks(
    download: TgDownload,
    size: u64,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    stream::unfold((download, 0u64), move |(mut download, sent)| async move {
        if sent >= size {
            return None;
        }
        match download.next().await {
            Ok(Some(chunk)) => {
                let room = usize::try_from(size - sent).unwrap_or(usize::MAX);
                let chunk = if chunk.len() > room {
                    chunk[..room].to_vec()
                } else {
                    chunk
                };
                let sent = sent + chunk.len() as u64;
                Some((Ok(chunk), (download, sent)))
            }
            Ok(None) => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "Telegram's file ended early",
                )),
                (download, size),
            )),
            Err(error) => Some((Err(std::io::Error::other(error)), (download, size))),
        }
    })
}

/// Reads a download of unknown length, refusing more than `limit` bytes.
async fn read_whole(mut download: TgDownload, limit: u64) -> Result<Vec<u8>, MediaError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = download
        .next()
        .await
        .map_err(|e| MediaError::Transfer(e.to_string()))?
    {
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > limit {
            return Err(MediaError::TooLarge {
                size: bytes.len() as u64,
                limit,
            });
        }
    }
    Ok(bytes)
}

/// The send request for a bridged media event; the caller sets the
/// timestamp and sends it as the message's sender.
pub fn send_request(
    room_id: OwnedRoomId,
    txn_id: OwnedTransactionId,
    media: &MatrixMedia,
) -> Result<send_message_event::v3::Request, serde_json::Error> {
    let event_type = match media.event_type {
        MediaEventType::Message => MessageLikeEventType::RoomMessage,
        MediaEventType::Sticker => MessageLikeEventType::Sticker,
    };
    let body = Raw::from_json(serde_json::value::to_raw_value(&media.content)?);
    Ok(send_message_event::v3::Request::new_raw(
        room_id, txn_id, event_type, body,
    ))
}

/// Where and how a Matrix file is sent to Telegram.
pub struct MatrixToTelegram<'a> {
    /// The Telegram client.
    pub telegram: TelegramApi,
    /// The homeserver.
    pub matrix: &'a MatrixClient,
    /// The cache, told which Telegram file each upload became.
    pub store: &'a Store,
    /// The limits.
    pub limits: &'a MediaLimits,
}

/// A caption for Telegram: the first [`convert::TELEGRAM_CAPTION_LIMIT`]
/// characters go with the file, the rest follow as text messages.
pub fn split_caption(caption: TelegramText) -> (TelegramText, Vec<TelegramText>) {
    let mut parts = split_for_telegram(caption, convert::TELEGRAM_CAPTION_LIMIT).into_iter();
    let first = parts.next().unwrap_or(TelegramText {
        text: String::new(),
        entities: Vec::new(),
    });
    (first, parts.collect())
}

impl MatrixToTelegram<'_> {
    /// Sends a Matrix media event to `to` (the chat and the reply header,
    /// see [`crate::telegram::answer::reply_in`]) with `caption` (already
    /// converted and at most a caption long, see [`split_caption`]), with
    /// `random_id` so the echo is recognised.
    /// The caller holds the chat's send lock and records the message map.
    pub async fn send(
        &self,
        to: Destination,
        media: &OutgoingMedia,
        caption: Option<&TelegramText>,
        random_id: i64,
    ) -> Result<SentMedia, MediaError> {
        // The file is described to Telegram with the MIME type the
        // homeserver served it with when the event named none.
        let mut described = media.clone();
        let file = match (media.kind, media.location, media.url.as_deref()) {
            (OutgoingKind::Location, Some(point), _) => OutgoingFile::Location(point),
            (_, _, Some(url)) => {
                let (file, content_type) = self.upload(media, url).await?;
                if described.mime_type.is_none() {
                    described.mime_type = content_type;
                }
                file
            }
            _ => return Err(convert::OutgoingMediaError::Missing("mxc url").into()),
        };
        let sent = self
            .telegram
            .send_media(to, &described, file, caption, random_id)
            .await?
            .ok_or(MediaError::NotConfirmed)?;
        if let (Some((kind, id)), Some(url)) = (sent.file, media.url.as_deref()) {
            // The file may come back from Telegram (a forward, a re-read
            // history): it then maps to the upload it came from.
            let cached = CachedMedia {
                kind,
                telegram_id: id,
                mxc: url.to_owned(),
                size: media.size.unwrap_or(0),
                mime_type: convert::outgoing_mime(media),
            };
            if let Err(error) = self.store.media().insert(&cached) {
                warn!(%error, "could not remember a sent file");
            }
        }
        Ok(sent)
    }

    /// Streams the Matrix file into a Telegram upload and returns it with
    /// the MIME type the homeserver served it with.
    async fn upload(
        &self,
        media: &OutgoingMedia,
        url: &str,
    ) -> Result<(OutgoingFile, Option<String>), MediaError> {
        let limit = self.limits.telegram;
        if let Some(size) = media.size.filter(|s| *s > limit) {
            return Err(MediaError::TooLarge { size, limit });
        }
        let download = self
            .matrix
            .download_media(url, media.size.unwrap_or(limit))
            .await?;
        let started = std::time::Instant::now();
        let (uploaded, size) = match download.size {
            Some(size) if size > limit => return Err(MediaError::TooLarge { size, limit }),
            // Telegram has no empty files.
            Some(0) => return Err(MediaError::Transfer("the file is empty".into())),
            Some(size) => (
                self.pipe(download.response, size, &media.file_name).await?,
                size,
            ),
            None => {
                let bytes = read_response(download.response, limit.min(UNKNOWN_SIZE_LIMIT)).await?;
                let size = bytes.len() as u64;
                let mut reader = std::io::Cursor::new(bytes);
                let uploaded = self
                    .telegram
                    .upload_stream(&mut reader, size as usize, media.file_name.clone())
                    .await
                    .map_err(|e| MediaError::Transfer(e.to_string()))?;
                (uploaded, size)
            }
        };
        debug!(size, elapsed = ?started.elapsed(), "Matrix file uploaded to Telegram");
        let file = OutgoingFile::Uploaded {
            file: uploaded,
            size,
        };
        Ok((file, download.content_type))
    }

    /// Pipes a download of `size` bytes into a Telegram upload through a
    /// small buffer, so at most a few chunks are in memory at once.
    async fn pipe(
        &self,
        response: reqwest::Response,
        size: u64,
        name: &str,
    ) -> Result<UploadedFile, MediaError> {
        let (mut writer, mut reader) = tokio::io::duplex(PIPE_BUFFER);
        let pump = tokio::spawn(async move {
            let mut body = response.bytes_stream();
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| e.without_url().to_string())?;
                writer.write_all(&chunk).await.map_err(|e| e.to_string())?;
            }
            writer.shutdown().await.map_err(|e| e.to_string())
        });
        let size = usize::try_from(size).map_err(|_| MediaError::TooLarge {
            size,
            limit: self.limits.telegram,
        })?;
        let uploaded = self
            .telegram
            .upload_stream(&mut reader, size, name.to_owned())
            .await;
        drop(reader);
        let pumped = pump
            .await
            .map_err(|e| MediaError::Transfer(e.to_string()))?;
        match (uploaded, pumped) {
            (Ok(uploaded), _) => Ok(uploaded),
            // The download's own error explains an upload that ran dry.
            (Err(_), Err(download)) => Err(MediaError::Transfer(download)),
            (Err(upload), Ok(())) => Err(MediaError::Transfer(upload.to_string())),
        }
    }
}

/// Reads a response of unknown length, refusing more than `limit` bytes.
async fn read_response(response: reqwest::Response, limit: u64) -> Result<Vec<u8>, MediaError> {
    let mut bytes = Vec::new();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| MediaError::Transfer(e.without_url().to_string()))?;
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > limit {
            return Err(MediaError::TooLarge {
                size: bytes.len() as u64,
                limit,
            });
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_captions_are_split_after_the_caption_limit() {
        let text = "word ".repeat(400);
        let (caption, rest) = split_caption(TelegramText {
            text: text.clone(),
            entities: vec![],
        });
        assert!(caption.text.encode_utf16().count() <= convert::TELEGRAM_CAPTION_LIMIT);
        assert!(!rest.is_empty());
        let joined: String = std::iter::once(caption.text.as_str())
            .chain(rest.iter().map(|t| t.text.as_str()))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(joined.split_whitespace().count(), 400);
    }
}
