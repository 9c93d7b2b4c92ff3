//! Moving media between Telegram and Matrix: a Telegram photo or document
//! streamed from `upload.getFile` into the homeserver's media repository
//! (cached by Telegram file id, so a file is uploaded once), other Telegram
//! media turned into locations or readable text, and a Matrix file streamed
//! from the media repository into a Telegram upload and sent with
//! `messages.sendMedia`.
//!
//! Bodies are streamed with their known length and never held whole in
//! memory. What the events look like is decided in
//! [`crate::convert::media`]; this module only transfers bytes and records
//! the cache. It never sends Matrix events and never touches the message
//! map: the callers (the per-chat workers) do, under the chat's send lock.

use futures_util::stream::{self, StreamExt as _};
use grammers_client::media::Downloadable;
use grammers_client::message::Message;
use grammers_client::Client;
use grammers_mtsender::InvocationError;
use grammers_session::types::PeerRef;
use grammers_tl_types as tl;
use ruma::api::client::message::send_message_event;
use ruma::events::MessageLikeEventType;
use ruma::serde::Raw;
use ruma::{OwnedRoomId, OwnedTransactionId};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::OnceCell;
use tracing::{debug, info, warn};

use crate::convert::media::{
    self as convert, document_file, photo_file, GeoPoint, MatrixMedia, MediaEventType,
    OutgoingKind, OutgoingMedia, TelegramFile,
};
use crate::convert::{split_for_telegram, MatrixText, TelegramText};
use crate::matrix::{MatrixClient, MatrixError};
use crate::store::{CachedMedia, Store, StoreError, TelegramFileKind};
use crate::telegram::answer;

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
    Telegram(#[from] InvocationError),
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
    pub telegram: &'a Client,
    /// The homeserver.
    pub matrix: &'a MatrixClient,
    /// The cache.
    pub store: &'a Store,
    /// The limits.
    pub limits: &'a MediaLimits,
}

/// A file Telegram serves, located exactly (the chosen photo size or the
/// document) with its size and datacenter.
struct TelegramLocation {
    location: tl::enums::InputFileLocation,
    size: Option<u64>,
    dc_id: i32,
}

impl Downloadable for TelegramLocation {
    fn to_raw_input_location(&self) -> Option<tl::enums::InputFileLocation> {
        Some(self.location.clone())
    }

    fn size(&self) -> Option<usize> {
        self.size.and_then(|s| usize::try_from(s).ok())
    }

    fn dc_id(&self) -> Option<i32> {
        Some(self.dc_id)
    }
}

/// A Telegram file found in a message: how to fetch it and what it is.
struct FoundFile {
    kind: TelegramFileKind,
    id: i64,
    location: TelegramLocation,
    file: TelegramFile,
}

/// The raw media of a message, if it has any.
fn raw_media(message: &Message) -> Option<&tl::enums::MessageMedia> {
    match &message.raw {
        tl::enums::Message::Message(m) => m.media.as_ref(),
        _ => None,
    }
}

/// Whether a message carries media the bridge turns into its own event
/// (link previews do not: the message stays text).
pub fn has_bridged_media(message: &Message) -> bool {
    use tl::enums::MessageMedia as M;
    !matches!(
        raw_media(message),
        None | Some(M::Empty | M::WebPage(_) | M::Unsupported)
    )
}

impl TelegramToMatrix<'_> {
    /// The Matrix event for a Telegram message with media, with the
    /// message's text as caption; `None` when the message has no media the
    /// bridge bridges as such (it is then sent as text). Never fails: a file
    /// that cannot be moved becomes a notice naming it, so nothing is lost
    /// silently.
    pub async fn media_event(
        &self,
        message: &Message,
        caption: &MatrixText,
    ) -> Option<MatrixMedia> {
        use tl::enums::MessageMedia as M;
        let caption = Some(caption).filter(|c| !c.body.trim().is_empty());
        let message_event = |content| MatrixMedia {
            event_type: MediaEventType::Message,
            content,
        };
        let found = match raw_media(message)? {
            M::Photo(photo) => photo_location(photo),
            M::Document(document) => document_location(document),
            M::Geo(geo) => {
                let point = GeoPoint::from_telegram(&geo.geo)?;
                return Some(message_event(convert::location_content(point, None, None)));
            }
            M::GeoLive(live) => {
                let point = GeoPoint::from_telegram(&live.geo)?;
                let content = convert::location_content(point, Some("Live location"), None);
                return Some(message_event(content));
            }
            M::Venue(venue) => {
                let point = GeoPoint::from_telegram(&venue.geo)?;
                let content =
                    convert::location_content(point, Some(&venue.title), Some(&venue.address));
                return Some(message_event(content));
            }
            M::Contact(contact) => {
                let text = convert::contact_text(contact);
                return Some(message_event(convert::readable_content(&text, caption)));
            }
            M::Poll(poll) => {
                let (tl::enums::Poll::Poll(p), tl::enums::PollResults::Results(r)) =
                    (&poll.poll, &poll.results);
                let text = convert::poll_text(p, r);
                return Some(message_event(convert::readable_content(&text, caption)));
            }
            M::Dice(dice) => {
                let text = convert::dice_text(dice);
                return Some(message_event(convert::readable_content(&text, caption)));
            }
            M::Game(game) => {
                let tl::enums::Game::Game(game) = &game.game;
                let text = convert::game_text(game);
                return Some(message_event(convert::readable_content(&text, caption)));
            }
            M::Empty | M::WebPage(_) | M::Unsupported => return None,
            other => {
                debug!(kind = media_name(other), "media kind shown as text");
                let text = format!("[{} not supported by the bridge]", media_name(other));
                return Some(message_event(convert::readable_content(&text, caption)));
            }
        };
        let Some(found) = found else {
            // Expired or deleted media: say so rather than drop the caption.
            let text = "[media no longer available]";
            return Some(message_event(convert::readable_content(text, caption)));
        };
        let mut media = self.file_event(found, caption).await;
        if let Some(album) = message.grouped_id() {
            convert::mark_album_item(&mut media, album);
        }
        Some(media)
    }

    /// The event for a file: from the cache, uploaded, or a notice.
    async fn file_event(&self, found: FoundFile, caption: Option<&MatrixText>) -> MatrixMedia {
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
    async fn upload(&self, found: &FoundFile) -> Result<String, MediaError> {
        let name = convert::file_name(&found.file);
        let mime = found.file.mime_type.as_str();
        let download = self.telegram.iter_download(&found.location);
        let (body, size) = match found.location.size {
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
    download: grammers_client::client::DownloadIter,
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
async fn read_whole(
    mut download: grammers_client::client::DownloadIter,
    limit: u64,
) -> Result<Vec<u8>, MediaError> {
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

/// The largest size of a photo, located for download.
fn photo_location(photo: &tl::types::MessageMediaPhoto) -> Option<FoundFile> {
    let tl::enums::Photo::Photo(photo) = photo.photo.as_ref()? else {
        return None;
    };
    let chosen = photo_file(photo)?;
    Some(FoundFile {
        kind: TelegramFileKind::Photo,
        id: photo.id,
        location: TelegramLocation {
            location: tl::types::InputPhotoFileLocation {
                id: photo.id,
                access_hash: photo.access_hash,
                file_reference: photo.file_reference.clone(),
                thumb_size: chosen.size_type,
            }
            .into(),
            size: chosen.file.size,
            dc_id: photo.dc_id,
        },
        file: chosen.file,
    })
}

/// A document, located for download.
fn document_location(media: &tl::types::MessageMediaDocument) -> Option<FoundFile> {
    let tl::enums::Document::Document(doc) = media.document.as_ref()? else {
        return None;
    };
    let file = document_file(doc, media.voice, media.round);
    Some(FoundFile {
        kind: TelegramFileKind::Document,
        id: doc.id,
        location: TelegramLocation {
            location: tl::types::InputDocumentFileLocation {
                id: doc.id,
                access_hash: doc.access_hash,
                file_reference: doc.file_reference.clone(),
                thumb_size: String::new(),
            }
            .into(),
            size: u64::try_from(doc.size).ok(),
            dc_id: doc.dc_id,
        },
        file,
    })
}

/// A short name of a media kind for logs and placeholders.
fn media_name(media: &tl::enums::MessageMedia) -> &'static str {
    use tl::enums::MessageMedia as M;
    match media {
        M::Invoice(_) => "invoice",
        M::Story(_) => "story",
        M::Giveaway(_) | M::GiveawayResults(_) => "giveaway",
        M::PaidMedia(_) => "paid media",
        M::ToDo(_) => "checklist",
        M::VideoStream(_) => "video stream",
        _ => "media",
    }
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

/// A Matrix file sent to Telegram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMedia {
    /// The Telegram message id (in the chat's numbering).
    pub message_id: i32,
    /// The Telegram file the upload became, when Telegram said.
    pub file: Option<(TelegramFileKind, i64)>,
}

/// Where and how a Matrix file is sent to Telegram.
pub struct MatrixToTelegram<'a> {
    /// The Telegram client.
    pub telegram: &'a Client,
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
    /// Sends a Matrix media event to `chat` with `caption` (already
    /// converted and at most a caption long, see [`split_caption`]),
    /// with the reply header `reply_to` (see [`answer::reply_in`]), with
    /// `random_id` so the echo is recognised.
    /// The caller holds the chat's send lock and records the message map.
    pub async fn send(
        &self,
        chat: PeerRef,
        media: &OutgoingMedia,
        caption: Option<&TelegramText>,
        reply_to: Option<tl::enums::InputReplyTo>,
        random_id: i64,
    ) -> Result<SentMedia, MediaError> {
        let input = match (media.kind, media.location, media.url.as_deref()) {
            (OutgoingKind::Location, Some(point), _) => tl::types::InputMediaGeoPoint {
                geo_point: tl::types::InputGeoPoint {
                    lat: point.latitude,
                    long: point.longitude,
                    accuracy_radius: point.accuracy_m.and_then(|m| i32::try_from(m).ok()),
                }
                .into(),
            }
            .into(),
            (_, _, Some(url)) => self.upload(media, url).await?,
            _ => return Err(convert::OutgoingMediaError::Missing("mxc url").into()),
        };
        let request = tl::functions::messages::SendMedia {
            silent: false,
            background: false,
            clear_draft: false,
            noforwards: false,
            update_stickersets_order: false,
            invert_media: false,
            allow_paid_floodskip: false,
            peer: (&chat).into(),
            reply_to,
            media: input,
            message: caption.map(|c| c.text.clone()).unwrap_or_default(),
            random_id,
            reply_markup: None,
            entities: caption
                .map(|c| c.entities.clone())
                .filter(|e| !e.is_empty()),
            schedule_date: None,
            schedule_repeat_period: None,
            send_as: None,
            quick_reply_shortcut: None,
            effect: None,
            allow_paid_stars: None,
            suggested_post: None,
        };
        let updates = self.telegram.invoke(&request).await?;
        let sent = sent_media(&updates, random_id).ok_or(MediaError::NotConfirmed)?;
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

    /// Streams the Matrix file into a Telegram upload and returns the input
    /// media to send it as.
    async fn upload(
        &self,
        media: &OutgoingMedia,
        url: &str,
    ) -> Result<tl::enums::InputMedia, MediaError> {
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
        let mut media = media.clone();
        if media.mime_type.is_none() {
            media.mime_type = download.content_type;
        }
        Ok(input_media(&media, uploaded.raw, size))
    }

    /// Pipes a download of `size` bytes into a Telegram upload through a
    /// small buffer, so at most a few chunks are in memory at once.
    async fn pipe(
        &self,
        response: reqwest::Response,
        size: u64,
        name: &str,
    ) -> Result<grammers_client::media::Uploaded, MediaError> {
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

/// The input media for an uploaded file: a photo when Telegram takes it as
/// one, else a document with the attributes that make it a video, voice
/// note or song.
fn input_media(
    media: &OutgoingMedia,
    file: tl::enums::InputFile,
    size: u64,
) -> tl::enums::InputMedia {
    if convert::send_as_photo(media, size) {
        return tl::types::InputMediaUploadedPhoto {
            spoiler: false,
            live_photo: false,
            file,
            stickers: None,
            ttl_seconds: None,
            video: None,
        }
        .into();
    }
    tl::types::InputMediaUploadedDocument {
        nosound_video: false,
        // A plain file stays a file even if Telegram could preview it.
        force_file: media.kind == OutgoingKind::File,
        spoiler: false,
        file,
        thumb: None,
        mime_type: convert::outgoing_mime(media),
        attributes: convert::telegram_attributes(media),
        stickers: None,
        video_cover: None,
        video_timestamp: None,
        ttl_seconds: None,
    }
    .into()
}

/// The sent message's id (found by `random_id`) and its file in the
/// answer to `messages.sendMedia`.
fn sent_media(updates: &tl::enums::Updates, random_id: i64) -> Option<SentMedia> {
    if let tl::enums::Updates::UpdateShortSentMessage(short) = updates {
        return Some(SentMedia {
            message_id: short.id,
            file: short.media.as_ref().and_then(file_of),
        });
    }
    let id = answer::updates_in(updates)
        .iter()
        .find_map(|update| match update {
            tl::enums::Update::MessageId(u) if u.random_id == random_id => Some(u.id),
            _ => None,
        })?;
    let file = answer::new_messages(updates).find_map(|message| match message {
        tl::enums::Message::Message(m) if m.id == id => m.media.as_ref().and_then(file_of),
        _ => None,
    });
    Some(SentMedia {
        message_id: id,
        file,
    })
}

/// The Telegram file of a message's media.
fn file_of(media: &tl::enums::MessageMedia) -> Option<(TelegramFileKind, i64)> {
    match media {
        tl::enums::MessageMedia::Photo(p) => match p.photo.as_ref()? {
            tl::enums::Photo::Photo(photo) => Some((TelegramFileKind::Photo, photo.id)),
            tl::enums::Photo::Empty(_) => None,
        },
        tl::enums::MessageMedia::Document(d) => match d.document.as_ref()? {
            tl::enums::Document::Document(doc) => Some((TelegramFileKind::Document, doc.id)),
            tl::enums::Document::Empty(_) => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sent_message_is_found_by_its_random_id() {
        let updates: tl::enums::Updates = tl::types::Updates {
            updates: vec![
                tl::types::UpdateMessageId {
                    id: 41,
                    random_id: 5,
                }
                .into(),
                tl::types::UpdateMessageId {
                    id: 42,
                    random_id: 6,
                }
                .into(),
            ],
            users: vec![],
            chats: vec![],
            date: 0,
            seq: 0,
        }
        .into();
        assert_eq!(
            sent_media(&updates, 6),
            Some(SentMedia {
                message_id: 42,
                file: None
            })
        );
        assert_eq!(sent_media(&updates, 9), None);
        let short: tl::enums::Updates = tl::types::UpdateShortSentMessage {
            out: true,
            id: 7,
            pts: 1,
            pts_count: 1,
            date: 0,
            media: Some(
                tl::types::MessageMediaPhoto {
                    spoiler: false,
                    live_photo: false,
                    photo: Some(tl::types::PhotoEmpty { id: 3 }.into()),
                    ttl_seconds: None,
                    video: None,
                }
                .into(),
            ),
            entities: None,
            ttl_period: None,
        }
        .into();
        assert_eq!(
            sent_media(&short, 1),
            Some(SentMedia {
                message_id: 7,
                file: None
            })
        );
    }

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
