//! Media as Telegram holds it, read into the bridge's plain descriptions
//! ([`TgMedia`], [`crate::convert::media`]'s `DocumentInfo`, `Contact`,
//! `Poll`, …), and the file transfers the core asks for: downloading a file
//! in chunks, uploading a stream, sending an uploaded file or a location.
//!
//! The conversions are pure and unit-tested here; what a description
//! becomes in Matrix is decided in `convert::media` and the transfers'
//! pacing and caching in `bridge::media`. It never touches Matrix or the
//! store.

use grammers_client::client::DownloadIter;
use grammers_client::media::{Downloadable, Uploaded};
use grammers_client::message::Message;
use grammers_session::types::PeerRef;
use grammers_tl_types as tl;

use super::answer;
use super::api::TelegramApi;
use super::CallError;
use crate::convert::media::{
    self as convert, document_file, photo_file, Contact, DocAttribute, DocumentInfo, GeoPoint,
    OutgoingKind, OutgoingMedia, PhotoSizeInfo, Poll, TelegramFile,
};
use crate::convert::TelegramText;
use crate::ids::TgMsgId;
use crate::store::TelegramFileKind;

/// Where a Telegram file is served: the chosen photo size or the document,
/// with its size and datacenter. Opaque to the core.
#[derive(Debug, Clone, PartialEq)]
pub struct TgFileLocation {
    location: tl::enums::InputFileLocation,
    size: Option<u64>,
    dc_id: Option<i32>,
}

impl TgFileLocation {
    /// A file whose size and datacenter Telegram works out itself (a
    /// profile or chat photo).
    pub(super) fn anywhere(location: tl::enums::InputFileLocation) -> Self {
        TgFileLocation {
            location,
            size: None,
            dc_id: None,
        }
    }

    /// The file's size, when Telegram said.
    pub fn size(&self) -> Option<u64> {
        self.size
    }
}

impl Downloadable for TgFileLocation {
    fn to_raw_input_location(&self) -> Option<tl::enums::InputFileLocation> {
        Some(self.location.clone())
    }

    fn size(&self) -> Option<usize> {
        self.size.and_then(|s| usize::try_from(s).ok())
    }

    fn dc_id(&self) -> Option<i32> {
        self.dc_id
    }
}

/// A photo or document in a message: which file it is (the media cache's
/// key), where to fetch it, and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct TgFile {
    /// Photo or document.
    pub kind: TelegramFileKind,
    /// Telegram's id of the photo or document.
    pub id: i64,
    /// Where to download it.
    pub location: TgFileLocation,
    /// What it is, for the Matrix event.
    pub file: TelegramFile,
}

/// The media of a Telegram message, as the bridge handles it.
#[derive(Debug, Clone, PartialEq)]
pub enum TgMedia {
    /// A photo or document to transfer (boxed: it is far larger than the
    /// other kinds).
    File(Box<TgFile>),
    /// A photo or document Telegram no longer serves (expired, deleted).
    Unavailable,
    /// A location.
    Geo(GeoPoint),
    /// A live location.
    GeoLive(GeoPoint),
    /// A place with a name and address.
    Venue {
        /// Where.
        point: GeoPoint,
        /// The place's name.
        title: String,
        /// Its address.
        address: String,
    },
    /// A shared contact.
    Contact(Contact),
    /// A poll or quiz.
    Poll(Poll),
    /// A dice roll.
    Dice {
        /// Which dice (🎲, 🎯, …).
        emoticon: String,
        /// The result.
        value: i32,
    },
    /// A game from a bot.
    Game {
        /// The game's title.
        title: String,
        /// Its description.
        description: String,
    },
    /// A kind the bridge shows only by name.
    Unsupported(&'static str),
}

/// A message's media and the album it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageMedia {
    /// The media.
    pub media: TgMedia,
    /// The album (grouped messages) id, if any.
    pub album: Option<i64>,
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

/// The media of `message` as the bridge handles it; `None` when it has
/// none the bridge bridges as such (the message is then sent as text).
pub fn message_media(message: &Message) -> Option<MessageMedia> {
    let media = media_of(raw_media(message)?)?;
    Some(MessageMedia {
        media,
        album: message.grouped_id(),
    })
}

/// Reads one TL media.
fn media_of(media: &tl::enums::MessageMedia) -> Option<TgMedia> {
    use tl::enums::MessageMedia as M;
    let found = match media {
        M::Photo(photo) => photo_location(photo),
        M::Document(document) => document_location(document),
        M::Geo(geo) => return Some(TgMedia::Geo(geo_point(&geo.geo)?)),
        M::GeoLive(live) => return Some(TgMedia::GeoLive(geo_point(&live.geo)?)),
        M::Venue(venue) => {
            return Some(TgMedia::Venue {
                point: geo_point(&venue.geo)?,
                title: venue.title.clone(),
                address: venue.address.clone(),
            })
        }
        M::Contact(contact) => return Some(TgMedia::Contact(contact_of(contact))),
        M::Poll(poll) => {
            let (tl::enums::Poll::Poll(p), tl::enums::PollResults::Results(r)) =
                (&poll.poll, &poll.results);
            return Some(TgMedia::Poll(poll_of(p, r)));
        }
        M::Dice(dice) => {
            return Some(TgMedia::Dice {
                emoticon: dice.emoticon.clone(),
                value: dice.value,
            })
        }
        M::Game(game) => {
            let tl::enums::Game::Game(game) = &game.game;
            return Some(TgMedia::Game {
                title: game.title.clone(),
                description: game.description.clone(),
            });
        }
        M::Empty | M::WebPage(_) | M::Unsupported => return None,
        other => return Some(TgMedia::Unsupported(media_name(other))),
    };
    Some(found.map_or(TgMedia::Unavailable, |file| TgMedia::File(Box::new(file))))
}

/// A Telegram geo point; `None` for an empty one.
fn geo_point(geo: &tl::enums::GeoPoint) -> Option<GeoPoint> {
    match geo {
        tl::enums::GeoPoint::Point(p) => Some(GeoPoint {
            latitude: p.lat,
            longitude: p.long,
            accuracy_m: p.accuracy_radius.and_then(|r| u32::try_from(r).ok()),
        }),
        tl::enums::GeoPoint::Empty => None,
    }
}

fn contact_of(contact: &tl::types::MessageMediaContact) -> Contact {
    Contact {
        first_name: contact.first_name.clone(),
        last_name: contact.last_name.clone(),
        phone_number: contact.phone_number.clone(),
    }
}

fn poll_of(poll: &tl::types::Poll, results: &tl::types::PollResults) -> Poll {
    let text = |t: &tl::enums::TextWithEntities| match t {
        tl::enums::TextWithEntities::Entities(t) => t.text.clone(),
    };
    Poll {
        question: text(&poll.question),
        quiz: poll.quiz,
        closed: poll.closed,
        answers: poll
            .answers
            .iter()
            .filter_map(|answer| match answer {
                tl::enums::PollAnswer::Answer(a) => Some((text(&a.text), a.option.clone())),
                tl::enums::PollAnswer::InputPollAnswer(_) => None,
            })
            .collect(),
        votes: results
            .results
            .iter()
            .flatten()
            .map(|tl::enums::PollAnswerVoters::Voters(v)| (v.option.clone(), v.voters.unwrap_or(0)))
            .collect(),
    }
}

/// A TL document's metadata.
pub(crate) fn document_info(doc: &tl::types::Document) -> DocumentInfo {
    use tl::enums::DocumentAttribute as A;
    let attributes = doc
        .attributes
        .iter()
        .filter_map(|attribute| match attribute {
            A::Filename(f) => Some(DocAttribute::FileName(f.file_name.clone())),
            A::ImageSize(s) => Some(DocAttribute::ImageSize { w: s.w, h: s.h }),
            A::Animated => Some(DocAttribute::Animated),
            A::Sticker(s) => Some(DocAttribute::Sticker { alt: s.alt.clone() }),
            A::Video(v) => Some(DocAttribute::Video {
                w: v.w,
                h: v.h,
                duration: v.duration,
                round: v.round_message,
                supports_streaming: v.supports_streaming,
            }),
            A::Audio(a) => Some(DocAttribute::Audio {
                voice: a.voice,
                duration: a.duration,
                title: a.title.clone(),
                performer: a.performer.clone(),
                waveform: a.waveform.clone(),
            }),
            _ => None,
        })
        .collect();
    DocumentInfo {
        mime_type: doc.mime_type.clone(),
        size: doc.size,
        attributes,
    }
}

/// The downloadable sizes of a TL photo: a progressive JPEG counts as its
/// largest scan; inline thumbnails are no files.
pub(crate) fn photo_sizes(photo: &tl::types::Photo) -> Vec<PhotoSizeInfo> {
    use tl::enums::PhotoSize as S;
    photo
        .sizes
        .iter()
        .filter_map(|size| match size {
            S::Size(s) => Some(PhotoSizeInfo {
                size_type: s.r#type.clone(),
                w: s.w,
                h: s.h,
                size: i64::from(s.size),
            }),
            S::Progressive(s) => Some(PhotoSizeInfo {
                size_type: s.r#type.clone(),
                w: s.w,
                h: s.h,
                size: i64::from(s.sizes.iter().copied().max().unwrap_or(0)),
            }),
            _ => None,
        })
        .collect()
}

/// The TL form of a document attribute.
fn tl_attribute(attribute: &DocAttribute) -> tl::enums::DocumentAttribute {
    match attribute.clone() {
        DocAttribute::FileName(file_name) => {
            tl::types::DocumentAttributeFilename { file_name }.into()
        }
        DocAttribute::ImageSize { w, h } => tl::types::DocumentAttributeImageSize { w, h }.into(),
        DocAttribute::Animated => tl::enums::DocumentAttribute::Animated,
        DocAttribute::Sticker { alt } => tl::types::DocumentAttributeSticker {
            mask: false,
            alt,
            stickerset: tl::enums::InputStickerSet::Empty,
            mask_coords: None,
        }
        .into(),
        DocAttribute::Video {
            w,
            h,
            duration,
            round,
            supports_streaming,
        } => tl::types::DocumentAttributeVideo {
            round_message: round,
            supports_streaming,
            nosound: false,
            duration,
            w,
            h,
            preload_prefix_size: None,
            video_start_ts: None,
            video_codec: None,
        }
        .into(),
        DocAttribute::Audio {
            voice,
            duration,
            title,
            performer,
            waveform,
        } => tl::types::DocumentAttributeAudio {
            voice,
            duration,
            title,
            performer,
            waveform,
        }
        .into(),
    }
}

/// The largest size of a photo, located for download.
fn photo_location(photo: &tl::types::MessageMediaPhoto) -> Option<TgFile> {
    let tl::enums::Photo::Photo(photo) = photo.photo.as_ref()? else {
        return None;
    };
    let chosen = photo_file(&photo_sizes(photo))?;
    Some(TgFile {
        kind: TelegramFileKind::Photo,
        id: photo.id,
        location: TgFileLocation {
            location: tl::types::InputPhotoFileLocation {
                id: photo.id,
                access_hash: photo.access_hash,
                file_reference: photo.file_reference.clone(),
                thumb_size: chosen.size_type,
            }
            .into(),
            size: chosen.file.size,
            dc_id: Some(photo.dc_id),
        },
        file: chosen.file,
    })
}

/// A document, located for download.
fn document_location(media: &tl::types::MessageMediaDocument) -> Option<TgFile> {
    let tl::enums::Document::Document(doc) = media.document.as_ref()? else {
        return None;
    };
    let file = document_file(&document_info(doc), media.voice, media.round);
    Some(TgFile {
        kind: TelegramFileKind::Document,
        id: doc.id,
        location: TgFileLocation {
            location: tl::types::InputDocumentFileLocation {
                id: doc.id,
                access_hash: doc.access_hash,
                file_reference: doc.file_reference.clone(),
                thumb_size: String::new(),
            }
            .into(),
            size: u64::try_from(doc.size).ok(),
            dc_id: Some(doc.dc_id),
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

/// A download in progress, read chunk by chunk.
pub struct TgDownload(DownloadIter);

impl TgDownload {
    /// The next chunk; `None` at the end.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>, CallError> {
        self.0.next().await.map_err(CallError::from)
    }
}

/// A file uploaded to Telegram, ready to be sent once.
pub struct UploadedFile(Uploaded);

/// Where a file is sent: the chat (with the access the session holds) and
/// the reply header.
pub struct Destination {
    chat: PeerRef,
    reply_to: Option<tl::enums::InputReplyTo>,
}

impl Destination {
    /// A send into `chat` with the reply header `reply_to` (see
    /// [`answer::reply_in`]).
    pub fn new(chat: PeerRef, reply_to: Option<tl::enums::InputReplyTo>) -> Self {
        Destination { chat, reply_to }
    }
}

/// What a media message sends.
pub enum OutgoingFile {
    /// A location.
    Location(GeoPoint),
    /// An uploaded file of `size` bytes.
    Uploaded {
        /// The upload.
        file: UploadedFile,
        /// Its size in bytes.
        size: u64,
    },
}

/// A file sent to Telegram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMedia {
    /// The Telegram message id (in the chat's numbering).
    pub message_id: TgMsgId,
    /// The Telegram file the upload became, when Telegram said.
    pub file: Option<(TelegramFileKind, i64)>,
}

impl TelegramApi {
    /// Starts downloading a file.
    pub fn download(&self, location: &TgFileLocation) -> TgDownload {
        TgDownload(self.client.iter_download(location))
    }

    /// Uploads `size` bytes read from `stream` as a file called `name`.
    pub async fn upload_stream<S: tokio::io::AsyncRead + Unpin>(
        &self,
        stream: &mut S,
        size: usize,
        name: String,
    ) -> Result<UploadedFile, std::io::Error> {
        self.client
            .upload_stream(stream, size, name)
            .await
            .map(UploadedFile)
    }

    /// Sends `file` described by `media` to `to` with `caption`, with
    /// `random_id` so the echo is recognised. `Ok(None)` when Telegram's
    /// answer does not name the sent message.
    pub async fn send_media(
        &self,
        to: Destination,
        media: &OutgoingMedia,
        file: OutgoingFile,
        caption: Option<&TelegramText>,
        random_id: i64,
    ) -> Result<Option<SentMedia>, CallError> {
        let input = match file {
            OutgoingFile::Location(point) => tl::types::InputMediaGeoPoint {
                geo_point: tl::types::InputGeoPoint {
                    lat: point.latitude,
                    long: point.longitude,
                    accuracy_radius: point.accuracy_m.and_then(|m| i32::try_from(m).ok()),
                }
                .into(),
            }
            .into(),
            OutgoingFile::Uploaded { file, size } => input_media(media, file.0.raw, size),
        };
        let request = tl::functions::messages::SendMedia {
            silent: false,
            background: false,
            clear_draft: false,
            noforwards: false,
            update_stickersets_order: false,
            invert_media: false,
            allow_paid_floodskip: false,
            peer: (&to.chat).into(),
            reply_to: to.reply_to,
            media: input,
            message: caption.map(|c| c.text.clone()).unwrap_or_default(),
            random_id,
            reply_markup: None,
            entities: caption
                .map(|c| super::entities::to_tl(&c.entities))
                .filter(|e| !e.is_empty()),
            schedule_date: None,
            schedule_repeat_period: None,
            send_as: None,
            quick_reply_shortcut: None,
            effect: None,
            allow_paid_stars: None,
            suggested_post: None,
        };
        let updates = self.invoke(&request).await?;
        Ok(sent_media(&updates, random_id))
    }
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
        attributes: convert::telegram_attributes(media)
            .iter()
            .map(tl_attribute)
            .collect(),
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
            message_id: TgMsgId(short.id),
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
        message_id: TgMsgId(id),
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
    use crate::convert::media::{contact_text, poll_text, FileKind};

    #[test]
    fn documents_are_read_with_every_attribute_the_bridge_uses() {
        let doc = tl::types::Document {
            id: 1,
            access_hash: 2,
            file_reference: vec![],
            date: 0,
            mime_type: "image/webp".into(),
            size: 12_345,
            thumbs: None,
            video_thumbs: None,
            dc_id: 2,
            attributes: vec![
                tl::types::DocumentAttributeImageSize { w: 512, h: 512 }.into(),
                tl::types::DocumentAttributeSticker {
                    mask: false,
                    alt: "😀".into(),
                    stickerset: tl::enums::InputStickerSet::Empty,
                    mask_coords: None,
                }
                .into(),
            ],
        };
        let info = document_info(&doc);
        assert_eq!(info.size, 12_345);
        assert_eq!(info.attributes.len(), 2);
        let file = document_file(&info, false, false);
        assert_eq!(
            file.kind,
            FileKind::Sticker {
                emoji: "😀".into()
            }
        );
        assert_eq!(file.dimensions, Some((512, 512)));
    }

    #[test]
    fn attributes_survive_the_way_to_telegram_and_back() {
        let attributes = vec![
            DocAttribute::FileName("clip.mp4".into()),
            DocAttribute::Video {
                w: 640,
                h: 480,
                duration: 1.5,
                round: false,
                supports_streaming: true,
            },
            DocAttribute::Audio {
                voice: true,
                duration: 3,
                title: None,
                performer: None,
                waveform: Some(vec![1, 2]),
            },
        ];
        let doc = tl::types::Document {
            id: 1,
            access_hash: 2,
            file_reference: vec![],
            date: 0,
            mime_type: "video/mp4".into(),
            size: 1,
            thumbs: None,
            video_thumbs: None,
            dc_id: 2,
            attributes: attributes.iter().map(tl_attribute).collect(),
        };
        assert_eq!(document_info(&doc).attributes, attributes);
    }

    #[test]
    fn the_largest_photo_size_is_read_as_a_file() {
        let photo = tl::types::Photo {
            has_stickers: false,
            id: 9,
            access_hash: 1,
            file_reference: vec![],
            date: 0,
            sizes: vec![
                tl::types::PhotoStrippedSize {
                    r#type: "i".into(),
                    bytes: vec![1, 2, 3],
                }
                .into(),
                tl::types::PhotoSize {
                    r#type: "m".into(),
                    w: 320,
                    h: 240,
                    size: 10_000,
                }
                .into(),
                tl::types::PhotoSizeProgressive {
                    r#type: "y".into(),
                    w: 1280,
                    h: 960,
                    sizes: vec![5_000, 40_000, 90_000],
                }
                .into(),
            ],
            video_sizes: None,
            dc_id: 2,
        };
        let chosen = photo_file(&photo_sizes(&photo)).unwrap();
        assert_eq!(chosen.size_type, "y");
        assert_eq!(chosen.file.dimensions, Some((1280, 960)));
        assert_eq!(chosen.file.size, Some(90_000));
        let empty = tl::types::Photo {
            sizes: vec![],
            ..photo
        };
        assert_eq!(photo_file(&photo_sizes(&empty)), None);
    }

    #[test]
    fn contacts_and_polls_are_read_as_sent() {
        let contact = tl::types::MessageMediaContact {
            phone_number: "15550001".into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            vcard: String::new(),
            user_id: 0,
        };
        assert_eq!(
            contact_text(&contact_of(&contact)),
            "👤 Shared contact: Ada Lovelace, +15550001"
        );

        let text = |t: &str| -> tl::enums::TextWithEntities {
            tl::types::TextWithEntities {
                text: t.into(),
                entities: vec![],
            }
            .into()
        };
        let answer = |t: &str, o: u8| -> tl::enums::PollAnswer {
            tl::types::PollAnswer {
                text: text(t),
                option: vec![o],
                media: None,
                added_by: None,
                date: None,
            }
            .into()
        };
        let poll = tl::types::Poll {
            id: 1,
            closed: false,
            public_voters: false,
            multiple_choice: false,
            quiz: false,
            open_answers: false,
            revoting_disabled: false,
            shuffle_answers: false,
            hide_results_until_close: false,
            creator: false,
            subscribers_only: false,
            question: text("Lunch?"),
            answers: vec![answer("Pizza", 0), answer("Salad", 1)],
            close_period: None,
            close_date: None,
            countries_iso2: None,
            hash: 0,
        };
        let results = tl::types::PollResults {
            min: false,
            has_unread_votes: false,
            can_view_stats: false,
            results: Some(vec![tl::types::PollAnswerVoters {
                chosen: false,
                correct: false,
                option: vec![0],
                voters: Some(3),
                recent_voters: None,
            }
            .into()]),
            total_voters: Some(3),
            recent_voters: None,
            solution: None,
            solution_entities: None,
            solution_media: None,
        };
        assert_eq!(
            poll_text(&poll_of(&poll, &results)),
            "📊 Poll: Lunch?\n1. Pizza (3 votes)\n2. Salad"
        );
    }

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
                message_id: TgMsgId(42),
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
                message_id: TgMsgId(7),
                file: None
            })
        );
    }
}
